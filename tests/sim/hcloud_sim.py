#!/usr/bin/env python3
"""hcloud_sim.py - a local Hetzner Cloud API simulator for cargo-burst's tests.

Python 3 standard library only.  See tests/sim/README.md for the contract.

    python3 tests/sim/hcloud_sim.py --state-dir DIR [--listen 127.0.0.1:0]
        [--config FILE.json] [--machines real|none]

With --machines real (the default, needs root) every running server is a real
OpenSSH sshd on its own loopback address inside its own mount namespace, and
every volume is a sparse ext4 image on a loop device.
"""

import argparse
import atexit
import base64
import copy
import hashlib
import heapq
import http.client
import http.server
import json
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
from datetime import datetime, timezone

# --------------------------------------------------------------------------
# static catalogue

LOCATIONS = [
    {"id": 1, "name": "fsn1", "description": "Falkenstein DC Park 1", "country": "DE",
     "city": "Falkenstein", "latitude": 50.47612, "longitude": 12.370071,
     "network_zone": "eu-central"},
    {"id": 2, "name": "nbg1", "description": "Nuremberg DC Park 1", "country": "DE",
     "city": "Nuremberg", "latitude": 49.452102, "longitude": 11.076665,
     "network_zone": "eu-central"},
    {"id": 3, "name": "hel1", "description": "Helsinki DC Park 1", "country": "FI",
     "city": "Helsinki", "latitude": 60.169855, "longitude": 24.938379,
     "network_zone": "eu-central"},
    {"id": 4, "name": "ash", "description": "Ashburn, VA", "country": "US",
     "city": "Ashburn, VA", "latitude": 39.045821, "longitude": -77.487073,
     "network_zone": "us-east"},
    {"id": 5, "name": "hil", "description": "Hillsboro, OR", "country": "US",
     "city": "Hillsboro, OR", "latitude": 45.54222, "longitude": -122.951924,
     "network_zone": "us-west"},
    {"id": 6, "name": "sin", "description": "Singapore", "country": "SG",
     "city": "Singapore", "latitude": 1.283333, "longitude": 103.833333,
     "network_zone": "ap-southeast"},
]

DATACENTERS = [
    {"id": 4, "name": "fsn1-dc14", "description": "Falkenstein 1 virtual DC 14", "location": "fsn1"},
    {"id": 2, "name": "nbg1-dc3", "description": "Nuremberg 1 virtual DC 3", "location": "nbg1"},
    {"id": 3, "name": "hel1-dc2", "description": "Helsinki 1 virtual DC 2", "location": "hel1"},
    {"id": 5, "name": "ash-dc1", "description": "Ashburn virtual DC 1", "location": "ash"},
    {"id": 6, "name": "hil-dc1", "description": "Hillsboro virtual DC 1", "location": "hil"},
    {"id": 7, "name": "sin-dc1", "description": "Singapore virtual DC 1", "location": "sin"},
]

EU = ("fsn1", "nbg1", "hel1")
ALL_LOC = ("fsn1", "nbg1", "hel1", "ash", "hil", "sin")

# name, id, cores, memory GB, disk GB, cpu_type, monthly net EUR (EU), locations
SERVER_TYPES_RAW = [
    ("cx22", 104, 2, 4.0, 40, "shared", 3.79, EU),
    ("cpx11", 22, 2, 2.0, 40, "shared", 4.35, ALL_LOC),
    ("cpx31", 24, 4, 8.0, 160, "shared", 14.86, ALL_LOC),
    ("ccx13", 96, 2, 8.0, 80, "dedicated", 12.49, ALL_LOC),
    ("ccx23", 97, 4, 16.0, 160, "dedicated", 24.49, ALL_LOC),
    ("ccx33", 98, 8, 32.0, 240, "dedicated", 48.49, ALL_LOC),
    ("ccx43", 99, 16, 64.0, 360, "dedicated", 96.49, ALL_LOC),
    ("ccx53", 100, 32, 128.0, 600, "dedicated", 192.49, ALL_LOC),
    ("ccx63", 101, 48, 192.0, 960, "dedicated", 288.49, ALL_LOC),
    # Ampere (arm) types: Hetzner offers them in the EU locations only
    ("cax11", 45, 2, 4.0, 40, "shared", 3.79, EU),
    ("cax21", 93, 4, 8.0, 80, "shared", 6.49, EU),
    ("cax31", 94, 8, 16.0, 160, "shared", 12.49, EU),
    ("cax41", 95, 16, 32.0, 320, "shared", 24.49, EU),
]
LOC_PRICE_FACTOR = {"fsn1": 1.0, "nbg1": 1.0, "hel1": 1.0, "ash": 1.2, "hil": 1.2, "sin": 1.35}
LOC_TRAFFIC_TB = {"fsn1": 20, "nbg1": 20, "hel1": 20, "ash": 1, "hil": 1, "sin": 0.5}
VAT = 0.19


def _money(x, digits=4):
    return "%.*f" % (digits, x)


def _price(net):
    return {"net": _money(net), "gross": _money(net * (1 + VAT))}


def _type_prices(monthly, locs):
    out = []
    for loc in locs:
        m = monthly * LOC_PRICE_FACTOR[loc]
        out.append({
            "location": loc,
            "price_hourly": {"net": _money(m / 630.0), "gross": _money(m / 630.0 * (1 + VAT))},
            "price_monthly": _price(m),
            "included_traffic": int(LOC_TRAFFIC_TB[loc] * (1 << 40)),
            "price_per_tb_traffic": _price(1.0 if loc in EU else 7.4),
        })
    return out


SERVER_TYPES = []
for _n, _id, _c, _m, _d, _cpu, _mon, _locs in SERVER_TYPES_RAW:
    SERVER_TYPES.append({
        "id": _id, "name": _n, "description": _n.upper(), "cores": _c, "memory": _m,
        "disk": _d, "deprecated": False, "deprecation": None,
        "prices": _type_prices(_mon, _locs), "storage_type": "local",
        "cpu_type": _cpu, "architecture": "arm" if _n.startswith("cax") else "x86",
        "category": "cost_optimized" if _n.startswith("cax") else "regular_purpose",
    })

VOLUME_PRICE_GB_MONTH = 0.0440
IMAGE_PRICE_GB_MONTH = 0.0110

DEFAULT_CONFIG = {
    "tokens": ["test-token"],
    "durations": {
        "server_create": 0.5, "server_start": 0.5, "server_stop": 0.3,
        "volume_create": 0.3, "attach": 0.3, "detach": 0.3, "image_create": 1.0,
        "server_delete": 0.3, "bake": 1.0, "reboot": 0.5,
    },
    "rate_limit": {"limit": 3600, "capacity": 3600, "refill_per_sec": 1.0},
    "faults": [],
    "sold_out": [],
    "action_errors": [],
    "default_location": "fsn1",
    "image_size": 2.5,
    "volume_real_cap_gb": 10,
    "legacy_datacenter": False,
    "deprecated_types": [],
    "sshd_refuse": 0,
}

SERVER_BODY = {"name", "server_type", "image", "location", "datacenter", "start_after_create",
               "ssh_keys", "user_data", "labels", "volumes", "automount", "networks",
               "firewalls", "placement_group", "public_net"}
VOLUME_BODY = {"size", "name", "location", "server", "automount", "format", "labels"}
SSHKEY_BODY = {"name", "public_key", "labels"}

STATE_DIR = None
CONTRACT_LOG = None   # $BURST_CONTRACT_LOG_DIR/sim-<pid>-<t>.jsonl: a copy of the request log
CONTRACT_SPEC = None  # openapi_check.Spec when $BURST_CONTRACT_SPEC is set
LOG_FH = None
LOG_LOCK = threading.Lock()


def log(msg, *args):
    if args:
        msg = msg % args
    line = "%s %s\n" % (datetime.now(timezone.utc).strftime("%H:%M:%S.%f")[:-3], msg)
    with LOG_LOCK:
        if LOG_FH:
            LOG_FH.write(line)
            LOG_FH.flush()


def iso(t):
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).replace(microsecond=0).isoformat()


class ApiError(Exception):
    def __init__(self, status, code, message, details=None):
        Exception.__init__(self, message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def invalid(field, msg):
    return ApiError(422, "invalid_input", "invalid input in field '%s': %s" % (field, msg),
                    {"fields": [{"name": field, "messages": [msg]}]})


def not_found(kind="resource"):
    return ApiError(404, "not_found", "%s not found" % kind, {})


# --------------------------------------------------------------------------
# validation helpers

NAME_PART = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
HOST_LABEL = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
VOLUME_NAME = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$")


def valid_label_key(k):
    if not isinstance(k, str) or not k:
        return False
    if "/" in k:
        prefix, name = k.rsplit("/", 1)
        if prefix == "hetzner.cloud":
            return False
        if not prefix or len(prefix) > 253:
            return False
        if not all(DNS_LABEL.match(p) and len(p) <= 63 for p in prefix.split(".")):
            return False
    else:
        name = k
    return len(name) <= 63 and bool(NAME_PART.match(name))


def valid_label_value(v):
    return isinstance(v, str) and len(v) <= 63 and (v == "" or bool(NAME_PART.match(v)))


def check_labels(labels):
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise invalid("labels", "must be an object")
    for k, v in labels.items():
        if k.startswith("hetzner.cloud/"):
            raise invalid("labels", "label key '%s' uses the reserved prefix hetzner.cloud/" % k)
        if not valid_label_key(k):
            raise invalid("labels", "invalid label key '%s'" % k)
        if not valid_label_value(v):
            raise invalid("labels", "invalid label value for key '%s'" % k)
    return dict(labels)


def check_server_name(name):
    if not isinstance(name, str) or not name:
        raise invalid("name", "is required")
    if len(name) > 253 or not all(HOST_LABEL.match(p) and len(p) <= 63 for p in name.split(".")):
        raise invalid("name", "invalid server name (must be a valid RFC 1123 hostname)")


def check_volume_name(name):
    if not isinstance(name, str) or not name:
        raise invalid("name", "is required")
    if len(name) > 64:
        raise invalid("name", "is too long")
    if not VOLUME_NAME.match(name):
        raise invalid("name", "invalid volume name")


def check_fields(body, allowed):
    if not isinstance(body, dict):
        raise ApiError(400, "json_error", "request body must be a JSON object", {})
    for k in body:
        if k not in allowed:
            raise invalid(k, "unknown field")


# label selector -----------------------------------------------------------

def _split_terms(sel):
    terms, depth, cur = [], 0, ""
    for ch in sel:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced parentheses")
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise ValueError("unbalanced parentheses")
    terms.append(cur)
    return terms


def parse_selector(sel):
    """Return a list of predicates over a labels dict; raise ApiError if bad."""
    preds = []
    try:
        for raw in _split_terms(sel):
            t = raw.strip()
            if not t:
                raise ValueError("empty term")
            m = re.match(r"^(\S+)\s+(in|notin)\s*\(([^()]*)\)$", t)
            if m:
                key, op, vals = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
                if not valid_label_key(key) or not all(valid_label_value(v) for v in vals) or vals == [""]:
                    raise ValueError("bad set term")
                if op == "in":
                    preds.append(lambda L, k=key, vs=vals: k in L and L[k] in vs)
                else:
                    preds.append(lambda L, k=key, vs=vals: not (k in L and L[k] in vs))
                continue
            m = re.match(r"^([^=!\s]+)\s*(==|!=|=)\s*([^=!\s]*)$", t)
            if m:
                key, op, val = m.groups()
                if not valid_label_key(key) or not valid_label_value(val):
                    raise ValueError("bad term")
                if op == "!=":
                    preds.append(lambda L, k=key, v=val: L.get(k) != v)
                else:
                    preds.append(lambda L, k=key, v=val: k in L and L[k] == v)
                continue
            m = re.match(r"^!\s*(\S+)$", t)
            if m:
                key = m.group(1)
                if not valid_label_key(key):
                    raise ValueError("bad key")
                preds.append(lambda L, k=key: k not in L)
                continue
            if valid_label_key(t):
                preds.append(lambda L, k=t: k in L)
                continue
            raise ValueError("bad term")
    except ValueError as e:
        raise ApiError(422, "invalid_input", "label_selector: invalid label selector '%s' (%s)" % (sel, e),
                       {"fields": [{"name": "label_selector", "messages": ["invalid label selector"]}]})
    return preds


# --------------------------------------------------------------------------
# machines: loopback addresses, sshd in mount namespaces, loop devices

RUN_DIR = "/run/hcloud-sim"


def run(cmd, check=True, **kw):
    log("exec: %s", " ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd[0], p.returncode, p.stderr.strip()))
    return p


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class IpAllocator:
    def __init__(self, real):
        self.real = real
        self.mine = set()

    def claim(self):
        for _ in range(2000):
            ip = "127.%d.%d.%d" % (random.randint(2, 254), random.randint(0, 255), random.randint(2, 254))
            if ip in self.mine:
                continue
            if not self.real:
                self.mine.add(ip)
                return ip
            os.makedirs(RUN_DIR, exist_ok=True)
            path = os.path.join(RUN_DIR, "ip-" + ip)
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    with open(path) as f:
                        owner = int(f.read().strip() or "0")
                except (OSError, ValueError):
                    owner = 0
                if owner and pid_alive(owner):
                    continue
                try:
                    os.unlink(path)
                except OSError:
                    pass
                continue
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((ip, 22))
            except OSError:
                os.unlink(path)
                continue
            finally:
                s.close()
            self.mine.add(ip)
            return ip
        raise RuntimeError("no free loopback address")

    def release(self, ip):
        if ip in self.mine:
            self.mine.discard(ip)
            if self.real:
                try:
                    os.unlink(os.path.join(RUN_DIR, "ip-" + ip))
                except OSError:
                    pass

    def release_all(self):
        for ip in list(self.mine):
            self.release(ip)


def parse_cloud_config_keys(user_data):
    """Extract ssh_keys.ed25519_private / ed25519_public from cloud-config."""
    if not isinstance(user_data, str):
        return None, None
    lines = user_data.splitlines()
    priv = pub = None
    i = 0
    n = len(lines)
    while i < n:
        if re.match(r"^ssh_keys:\s*$", lines[i]):
            i += 1
            while i < n and (lines[i].strip() == "" or lines[i].startswith((" ", "\t"))):
                line = lines[i]
                m = re.match(r"^(\s+)(ed25519_private|ed25519_public):\s*(.*)$", line)
                if not m:
                    i += 1
                    continue
                ind, key, rest = len(m.group(1)), m.group(2), m.group(3).strip()
                if rest in ("|", "|-", "|+", ">"):
                    block = []
                    i += 1
                    bind = None
                    while i < n:
                        l2 = lines[i]
                        if l2.strip() == "":
                            block.append("")
                            i += 1
                            continue
                        cur = len(l2) - len(l2.lstrip())
                        if cur <= ind:
                            break
                        if bind is None:
                            bind = cur
                        block.append(l2[bind:])
                        i += 1
                    val = "\n".join(block).strip("\n") + "\n"
                else:
                    val = rest.strip("'\"")
                    i += 1
                if key == "ed25519_private":
                    priv = val
                else:
                    pub = val.strip()
            continue
        i += 1
    return priv, pub


def is_bake(user_data):
    if not isinstance(user_data, str):
        return False
    return user_data.startswith("#!") or bool(re.search(r"(?m)^power_state:", user_data))


def mnt_ns(pid):
    try:
        return os.readlink("/proc/%d/ns/mnt" % pid)
    except OSError:
        return None


def loop_backing(dev):
    try:
        with open("/sys/block/%s/loop/backing_file" % os.path.basename(dev)) as f:
            return f.read().strip()
    except OSError:
        return None


def loop_release(dev, timeout=15.0):
    """losetup -d DEV and wait until the kernel has really let go of it: a mount
    of it in a namespace that just died is torn down asynchronously (losetup -d
    then only sets autoclear), and the same image must not be attached again
    while its old filesystem still flushes.  Never detaches DEV twice: once
    freed, another simulator may already own it."""
    backing = loop_backing(dev)
    run(["losetup", "-d", dev], check=False)
    if backing is None:
        return True
    deadline = time.time() + timeout
    while loop_backing(dev) == backing and time.time() < deadline:
        time.sleep(0.02)
    if loop_backing(dev) == backing:
        log("warning: %s still busy after %.0fs", dev, timeout)
        return False
    return True


def automount_cmd(v):
    """What Hetzner's automount does in the guest: mount at /mnt/HC_Volume_<id>."""
    return "mkdir -p /mnt/HC_Volume_%d && mount -o discard,defaults /dev/disk/by-id/scsi-0HC_Volume_%d " \
           "/mnt/HC_Volume_%d" % (v["id"], v["id"], v["id"])


def kill_namespace(ns):
    """SIGKILL every process whose mount namespace is ns; wait until none is left."""
    if not ns or ns == mnt_ns(os.getpid()):
        return
    deadline = time.time() + 10
    while time.time() < deadline:
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            if mnt_ns(pid) == ns:
                found.append(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if not found:
            return
        time.sleep(0.05)
    log("warning: processes in %s survived SIGKILL", ns)


class Machine:
    """A running server: sshd in its own mount namespace."""

    def __init__(self, sim, server):
        self.sim = sim
        self.server = server
        self.dir = os.path.join(STATE_DIR, "servers", str(server["id"]))
        self.proc = None
        self.ns = None
        self.ns_fd = None

    def prepare(self, keys):
        d = self.dir
        os.makedirs(os.path.join(d, "home", ".ssh"), exist_ok=True)
        os.chmod(os.path.join(d, "home"), 0o700)
        os.chmod(os.path.join(d, "home", ".ssh"), 0o700)
        ak = os.path.join(d, "home", ".ssh", "authorized_keys")
        with open(ak, "w") as f:
            for k in keys:
                f.write(k.strip() + "\n")
        os.chmod(ak, 0o600)
        hk = os.path.join(d, "ssh_host_ed25519_key")
        if not os.path.exists(hk):
            priv, pub = parse_cloud_config_keys(self.server["_user_data"])
            if priv and pub:
                with open(hk, "w") as f:
                    f.write(priv)
                os.chmod(hk, 0o600)
                with open(hk + ".pub", "w") as f:
                    f.write(pub + "\n")
            else:
                run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sim-host", "-f", hk])
        ip = self.server["_ip"]
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as f:
            f.write("\n".join([
                "ListenAddress %s:22" % ip,
                "HostKey %s" % hk,
                "PidFile %s" % os.path.join(d, "sshd.pid"),
                "AuthorizedKeysFile /root/.ssh/authorized_keys",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PrintMotd no",
                "PrintLastLog no",
                "LogLevel VERBOSE",
                "MaxStartups 100:30:200",
                "MaxSessions 100",
                "SetEnv PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "Subsystem sftp internal-sftp",
                "",
            ]))
        return cfg

    def start(self, keys):
        cfg = self.prepare(keys)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        os.makedirs("/dev/disk", exist_ok=True)
        home = os.path.join(self.dir, "home")
        q = shlex.quote
        script = ["set -e", "hostname %s" % q(self.server["name"]),
                  "mount -t tmpfs -o mode=755 sim-mnt /mnt",
                  "mount -t tmpfs -o mode=755 sim-disk /dev/disk", "mkdir -p /dev/disk/by-id"]
        for sub in (".cargo", ".rustup"):
            if os.path.isdir("/root/" + sub):
                os.makedirs(os.path.join(home, sub), exist_ok=True)
                script.append("mount --rbind /root/%s %s" % (sub, q(os.path.join(home, sub))))
        if os.path.exists("/root/.cargo/env"):
            # what rustup's installer leaves in a baked image
            for rc in (".profile", ".bashrc"):
                path = os.path.join(home, rc)
                if not os.path.exists(path):
                    with open(path, "w") as f:
                        f.write('. "$HOME/.cargo/env"\n')
        script.append("mount --rbind %s /root" % q(home))
        for vol in self.sim.volumes.values():
            if vol["server"] == self.server["id"] and vol.get("_loop"):
                script.append("ln -sf %s /dev/disk/by-id/scsi-0HC_Volume_%d" % (vol["_loop"], vol["id"]))
                if vol.get("_automount") and vol["format"]:
                    script.append(automount_cmd(vol))
        refuse = self.sim.take_sshd_refuse()
        if refuse:
            # a broken image: the machine runs, its sshd never starts
            script.append("exec sleep 2147483647")
        else:
            script.append("exec /usr/sbin/sshd -D -e -f %s" % q(cfg))
        logf = open(os.path.join(self.dir, "sshd.log"), "a")
        # setpriv --pdeathsig: sshd dies with the simulator's scheduler thread
        # (the thread that runs every machine start) even if it is SIGKILLed.
        pre = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        try:
            self.proc = subprocess.Popen(
                pre + ["unshare", "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c",
                       "\n".join(script)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True,
                cwd="/")
        finally:
            logf.close()
        ip = self.server["_ip"]
        deadline = time.time() + 10
        while refuse and time.time() < deadline and self.ns_fd is None:
            self._pin_ns()
            time.sleep(0.02)
        if refuse:
            log("server %d: sshd refused by config (sshd_refuse), ns %s", self.server["id"], self.ns)
            return
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sshd for server %d exited with %d (see %s)" % (
                    self.server["id"], self.proc.returncode, os.path.join(self.dir, "sshd.log")))
            self._pin_ns()
            s = socket.socket()
            s.settimeout(0.5)
            try:
                s.connect((ip, 22))
                s.close()
                self._pin_ns()
                log("server %d: sshd pid %d on %s:22 ns %s", self.server["id"], self.proc.pid, ip, self.ns)
                return
            except OSError:
                s.close()
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("sshd for server %d did not come up" % self.server["id"])

    def _pin_ns(self):
        """Remember the server's mount namespace and hold it open: while we hold
        an fd, its inode number cannot be reused by another new namespace (the
        kernel hands out the lowest free one), so killing "every process in
        namespace N" can never hit another simulator's server."""
        if self.ns_fd is not None or self.proc is None:
            return
        ns = mnt_ns(self.proc.pid)
        if not ns or ns == mnt_ns(os.getpid()):
            return
        try:
            fd = os.open("/proc/%d/ns/mnt" % self.proc.pid, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        pinned = os.readlink("/proc/self/fd/%d" % fd)
        if pinned != ns:
            os.close(fd)
            return
        self.ns_fd = fd
        self.ns = pinned

    def nsexec(self, shell):
        if not self.proc or self.proc.poll() is not None:
            return None
        return run(["nsenter", "--mount=/proc/%d/ns/mnt" % self.proc.pid, "--", "/bin/sh", "-c", shell],
                   check=False)

    def stop(self):
        if self.proc is None:
            return
        self._pin_ns()
        if self.ns_fd is not None:
            kill_namespace(self.ns)
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log("warning: sshd %d did not exit", self.proc.pid)
        log("server %d: machine stopped", self.server["id"])
        self.proc = None
        self.ns = None
        if self.ns_fd is not None:
            os.close(self.ns_fd)     # now the namespace and its mounts can go
            self.ns_fd = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None


# --------------------------------------------------------------------------
# the simulator state

class Sim:
    def __init__(self, machines, config):
        self.lock = threading.RLock()
        self.real = machines == "real"
        self.config = copy.deepcopy(DEFAULT_CONFIG)
        self.next_id = 1000
        self.servers = {}
        self.volumes = {}
        self.images = {}
        self.ssh_keys = {}
        self.actions = {}
        self.events = []
        self.seq = 0
        self.ips = IpAllocator(self.real)
        self.machines = {}
        self.requests = []
        self.req_lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.stopping = False
        self.bucket = 0.0
        self.bucket_t = time.time()
        self.merge_config(config or {})
        self.bucket = float(self.config["rate_limit"]["capacity"])
        self._add_system_images()

    # config ------------------------------------------------------------
    def merge_config(self, cfg):
        with self.lock:
            for k, v in cfg.items():
                if isinstance(v, dict) and isinstance(self.config.get(k), dict):
                    self.config[k].update(v)
                else:
                    self.config[k] = copy.deepcopy(v)
                if k == "faults":
                    for r in self.config["faults"]:
                        r.setdefault("_left", r.get("times", 1))
                if k == "action_errors":
                    for r in self.config["action_errors"]:
                        r.setdefault("_left", r.get("times", 1))
            rl = self.config["rate_limit"]
            new_rl = cfg.get("rate_limit") or {}
            if "limit" in new_rl:
                # a new limit without capacity/refill implies the API's own model
                if "capacity" not in new_rl:
                    rl["capacity"] = rl["limit"]
                if "refill_per_sec" not in new_rl:
                    rl["refill_per_sec"] = float(rl["limit"]) / 3600.0
            if "rate_limit" in cfg:
                self.bucket = float(rl["capacity"])
                self.bucket_t = time.time()

    def dur(self, name):
        return float(self.config["durations"].get(name, 0.0))

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def _add_system_images(self):
        # as Hetzner: one image per name and architecture (arm ids apart)
        for arch, base in (("x86", 161547269), ("arm", 103908070)):
            for i, (name, flavor, ver, desc) in enumerate([
                    ("ubuntu-24.04", "ubuntu", "24.04", "Ubuntu 24.04"),
                    ("ubuntu-22.04", "ubuntu", "22.04", "Ubuntu 22.04"),
                    ("debian-12", "debian", "12", "Debian 12")]):
                iid = base + i
                self.images[iid] = {
                    "id": iid, "type": "system", "status": "available", "name": name,
                    "description": desc, "image_size": None, "disk_size": 5.0,
                    "created": iso(1700000000 + i), "created_from": None, "bound_to": None,
                    "os_flavor": flavor, "os_version": ver, "rapid_deploy": True,
                    "protection": {"delete": False}, "deprecated": None, "deleted": None,
                    "labels": {}, "architecture": arch, "_created_t": 1700000000 + i}

    # rate limiting -----------------------------------------------------
    def take_token(self):
        with self.lock:
            rl = self.config["rate_limit"]
            cap, refill = float(rl["capacity"]), float(rl["refill_per_sec"])
            now = time.time()
            self.bucket = min(cap, self.bucket + (now - self.bucket_t) * refill)
            self.bucket_t = now
            allowed = self.bucket >= 1.0
            if allowed:
                self.bucket -= 1.0
            missing = cap - self.bucket
            reset = int(now + (missing / refill if refill > 0 else 0) + 0.999)
            headers = {"RateLimit-Limit": str(int(rl["limit"])),
                       "RateLimit-Remaining": str(int(self.bucket)),
                       "RateLimit-Reset": str(reset)}
            return allowed, headers

    # scheduler ---------------------------------------------------------
    def at(self, t, fn):
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, fn))
        self.wake.notify_all()

    def scheduler(self):
        with self.lock:
            while not self.stopping:
                now = time.time()
                if self.events and self.events[0][0] <= now:
                    _, _, fn = heapq.heappop(self.events)
                    try:
                        fn()
                    except Exception:
                        log("scheduler event failed: %s", traceback.format_exc())
                    continue
                timeout = 0.2
                if self.events:
                    timeout = max(0.0, min(timeout, self.events[0][0] - now))
                self.wake.wait(timeout)

    # actions -----------------------------------------------------------
    def action_fails(self, command):
        for r in self.config["action_errors"]:
            if r.get("command") != command:
                continue
            if r.get("times", 1) == 0:
                return True
            if r.get("_left", 0) > 0:
                r["_left"] -= 1
                return True
        return False

    def new_action(self, command, resources, begin, duration, on_begin=None, on_end=None, on_error=None):
        aid = self.new_id()
        a = {"id": aid, "command": command, "status": "running", "progress": 0,
             "started": iso(time.time()), "finished": None,
             "resources": [{"id": rid, "type": rtype} for rtype, rid in resources],
             "error": None,
             "_begin": begin, "_end": begin + duration, "_fail": self.action_fails(command),
             "_forced_error": None}
        self.actions[aid] = a

        def begin_cb():
            if a["status"] != "running":
                return
            if on_begin:
                on_begin(a)

        def end_cb():
            if a["status"] != "running":
                return
            err = None
            if a["_fail"]:
                err = {"code": "action_failed", "message": "Action failed"}
            else:
                try:
                    if on_end:
                        on_end(a)
                except Exception as e:
                    log("action %d (%s) failed: %s", aid, command, traceback.format_exc())
                    err = {"code": "action_failed", "message": "Action failed: %s" % e}
            if err:
                a["status"] = "error"
                a["error"] = err
                if on_error:
                    try:
                        on_error(a)
                    except Exception:
                        log("on_error failed: %s", traceback.format_exc())
            else:
                a["status"] = "success"
            a["progress"] = 100
            a["finished"] = iso(time.time())
            log("action %d %s -> %s", aid, command, a["status"])

        self.at(begin, begin_cb)
        self.at(begin + duration, end_cb)
        return a

    def fail_action(self, a, code="action_failed", message="Action failed"):
        if a["status"] == "running":
            a["status"] = "error"
            a["error"] = {"code": code, "message": message}
            a["progress"] = 100
            a["finished"] = iso(time.time())

    def action_view(self, a):
        out = {k: v for k, v in a.items() if not k.startswith("_")}
        if a["status"] == "running":
            now = time.time()
            span = a["_end"] - a["_begin"]
            if now <= a["_begin"] or span <= 0:
                p = 0
            else:
                p = int(min(99, 100 * (now - a["_begin"]) / span))
            out["progress"] = p
        return out

    def locked(self, rtype, rid):
        for a in self.actions.values():
            if a["status"] == "running" and {"id": rid, "type": rtype} in a["resources"]:
                return True
        return False

    def check_unlocked(self, rtype, rid):
        if self.locked(rtype, rid):
            raise ApiError(423, "locked", "%s %d is locked: an action is already running" % (rtype, rid), {})

    # lookups -----------------------------------------------------------
    def server_type(self, ref):
        for st in SERVER_TYPES:
            if str(ref) == st["name"] or str(ref) == str(st["id"]):
                return st
        return None

    def location(self, ref):
        for loc in LOCATIONS:
            if str(ref) == loc["name"] or str(ref) == str(loc["id"]):
                return loc
        return None

    def datacenter(self, ref):
        for dc in DATACENTERS:
            if str(ref) == dc["name"] or str(ref) == str(dc["id"]):
                return dc
        return None

    def dc_for_location(self, locname):
        for dc in DATACENTERS:
            if dc["location"] == locname:
                return dc
        return None

    def type_deprecation(self, loc, st):
        """The deprecation object of type st in location loc (config
        deprecated_types), or None."""
        for r in self.config["deprecated_types"]:
            if r.get("server_type") in (None, st) and r.get("location") in (None, loc):
                now = time.time()
                return {"announced": r.get("announced") or iso(now - 30 * 86400),
                        "unavailable_after": r.get("unavailable_after") or iso(now - 86400)}
        return None

    def type_listed_anyway(self, loc, st):
        """A deprecated_types entry with "listed": the datacenter still
        lists the type as available there (an answer lagging behind)."""
        return any(r.get("listed") for r in self.config["deprecated_types"]
                   if r.get("server_type") in (None, st) and r.get("location") in (None, loc))

    def type_unavailable(self, loc, st):
        dep = self.type_deprecation(loc, st)
        if not dep:
            return False
        t = dep["unavailable_after"]
        try:
            return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() <= time.time()
        except ValueError:
            return False

    def type_view(self, st):
        """A server type as the API shows it today: locations[] with their
        deprecation; the older shape (legacy_datacenter) has none."""
        out = copy.deepcopy(st)
        if not self.config.get("legacy_datacenter"):
            out["locations"] = []
            for p in st["prices"]:
                loc = self.location(p["location"])
                out["locations"].append({"id": loc["id"], "name": loc["name"],
                                         "deprecation": self.type_deprecation(loc["name"], st["name"])})
        return out

    def sold_out(self, loc, st):
        for r in self.config["sold_out"]:
            if r.get("location") in (None, loc) and r.get("server_type") in (None, st):
                return True
        return False

    def dc_view(self, dc):
        sup, avail = [], []
        for st in SERVER_TYPES:
            if any(p["location"] == dc["location"] for p in st["prices"]):
                sup.append(st["id"])
                if not self.sold_out(dc["location"], st["name"]) and \
                        (not self.type_unavailable(dc["location"], st["name"]) or
                         self.type_listed_anyway(dc["location"], st["name"])):
                    avail.append(st["id"])
        return {"id": dc["id"], "name": dc["name"], "description": dc["description"],
                "location": self.location(dc["location"]),
                "server_types": {"supported": sup, "available": avail, "available_for_migration": avail}}

    def image_ref(self, ref, arch=None):
        """An image by id, or by name: the one of architecture arch when
        given (a name is shared by the x86 and the arm image, as at Hetzner,
        where the server type decides)."""
        named = None
        for img in self.images.values():
            if str(ref) == str(img["id"]):
                return img
            if img["name"] is not None and str(ref) == img["name"]:
                if arch is None or img["architecture"] == arch:
                    return img
                named = named or img
        return named

    def ssh_key_ref(self, ref):
        for k in self.ssh_keys.values():
            if str(ref) == str(k["id"]) or str(ref) == k["name"]:
                return k
        return None

    # views -------------------------------------------------------------
    def server_view(self, s):
        out = {k: v for k, v in s.items() if not k.startswith("_")}
        out["locked"] = self.locked("server", s["id"])
        out["volumes"] = sorted(v["id"] for v in self.volumes.values() if v["server"] == s["id"])
        img = self.images.get(s["_image_id"])
        out["image"] = self.image_view(img) if img else None
        out["server_type"] = self.type_view(s["server_type"])
        # today's shape: a top-level location; `datacenter` is gone after
        # 1 July 2026 (legacy_datacenter: the older shape, datacenter only)
        if self.config.get("legacy_datacenter"):
            out["datacenter"] = self.dc_view(self.datacenter(s["_dc"]))
        else:
            out["location"] = copy.deepcopy(self.location(s["_location"]))
        return out

    def image_view(self, img):
        return {k: v for k, v in img.items() if not k.startswith("_")}

    def volume_view(self, v):
        out = {k: v2 for k, v2 in v.items() if not k.startswith("_")}
        out["location"] = self.location(v["_location"])
        return out

    def ssh_key_view(self, k):
        return {kk: vv for kk, vv in k.items() if not kk.startswith("_")}

    # machine glue ------------------------------------------------------
    def machine_start(self, s):
        if not self.real:
            return
        keys = [self.ssh_keys[k]["public_key"] for k in s["_ssh_key_ids"] if k in self.ssh_keys]
        keys += s.get("_extra_keys", [])
        m = self.machines.get(s["id"])
        if m is None:
            m = Machine(self, s)
            self.machines[s["id"]] = m
        if not m.running():
            m.start(keys)

    def take_sshd_refuse(self):
        """Config sshd_refuse: the next N machine starts get no sshd (-1: all)."""
        with self.lock:
            n = int(self.config.get("sshd_refuse", 0) or 0)
            if n > 0:
                self.config["sshd_refuse"] = n - 1
            return n != 0

    def machine_stop(self, s):
        m = self.machines.get(s["id"])
        if m:
            m.stop()

    def vol_file(self, v):
        return os.path.join(STATE_DIR, "volumes", "%d.img" % v["id"])

    def volume_make(self, v):
        if not self.real:
            return
        os.makedirs(os.path.join(STATE_DIR, "volumes"), exist_ok=True)
        path = self.vol_file(v)
        cap = float(self.config.get("volume_real_cap_gb", 10))
        size = int(min(float(v["size"]), cap) * (1 << 30))
        with open(path, "wb") as f:
            f.truncate(size)
        v["_file"] = path
        if v["format"] == "ext4":
            run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", path])

    def volume_attach_real(self, v, s):
        if not self.real:
            return
        if not v.get("_file"):
            self.volume_make(v)     # its create_volume action had failed
        if not v.get("_loop"):
            p = run(["losetup", "--find", "--show", v["_file"]])
            v["_loop"] = p.stdout.strip()
        m = self.machines.get(s["id"])
        if m and m.running():
            r = m.nsexec("ln -sf %s /dev/disk/by-id/scsi-0HC_Volume_%d" % (v["_loop"], v["id"]))
            if r is None or r.returncode != 0:
                raise RuntimeError("cannot create device link in server %d" % s["id"])
            if v.get("_automount") and v["format"]:
                r = m.nsexec(automount_cmd(v))
                if r is None or r.returncode != 0:
                    raise RuntimeError("automount of volume %d failed in server %d" % (v["id"], s["id"]))

    def volume_detach_real(self, v, sid):
        if not self.real or not v.get("_loop"):
            return
        loop = v["_loop"]
        m = self.machines.get(sid)
        if m and m.running():
            r = m.nsexec("awk -v d=%s '$1==d{print $2}' /proc/self/mounts" % loop)
            mps = (r.stdout.split() if r else [])
            r2 = m.nsexec("awk -v d=/dev/disk/by-id/scsi-0HC_Volume_%d '$1==d{print $2}' /proc/self/mounts"
                          % v["id"])
            mps += (r2.stdout.split() if r2 else [])
            for mp in mps:
                log("volume %d still mounted at %s in server %d: lazy unmount (real Hetzner would yank it)",
                    v["id"], mp, sid)
                m.nsexec("umount -l '%s'" % mp)
            m.nsexec("rm -f /dev/disk/by-id/scsi-0HC_Volume_%d" % v["id"])
        loop_release(loop)
        v["_loop"] = None

    # teardown ----------------------------------------------------------
    def teardown(self):
        with self.lock:
            self.stopping = True
            self.wake.notify_all()
            for sid, m in list(self.machines.items()):
                try:
                    m.stop()
                except Exception:
                    log("teardown: %s", traceback.format_exc())
            for v in self.volumes.values():
                if v.get("_loop"):
                    try:
                        loop_release(v["_loop"])
                    except Exception:
                        log("teardown: %s", traceback.format_exc())
                    v["_loop"] = None
            self.ips.release_all()


# --------------------------------------------------------------------------
# list helpers

def q1(query, name, default=None):
    v = query.get(name)
    return v[-1] if v else default


def paginate(query, items, key, base_path):
    try:
        page = int(q1(query, "page", "1"))
        per_page = int(q1(query, "per_page", "25"))
    except ValueError:
        raise invalid("page", "must be an integer")
    if page < 1:
        raise invalid("page", "must be >= 1")
    if per_page < 1:
        raise invalid("per_page", "must be >= 1")
    per_page = min(per_page, 50)
    total = len(items)
    last = max(1, (total + per_page - 1) // per_page)
    chunk = items[(page - 1) * per_page: page * per_page]
    pag = {"page": page, "per_page": per_page,
           "previous_page": page - 1 if page > 1 else None,
           "next_page": page + 1 if page < last else None,
           "last_page": last, "total_entries": total}
    links = []
    other = [(k, v) for k, vs in query.items() if k not in ("page", "per_page") for v in vs]

    def url(p):
        return "%s?%s" % (base_path, urllib.parse.urlencode(other + [("page", p), ("per_page", per_page)]))
    if pag["previous_page"]:
        links.append('<%s>; rel="prev"' % url(pag["previous_page"]))
    if pag["next_page"]:
        links.append('<%s>; rel="next"' % url(pag["next_page"]))
    links.append('<%s>; rel="last"' % url(last))
    return {key: chunk, "meta": {"pagination": pag}}, ", ".join(links)


def apply_sort(query, items, allowed):
    sorts = query.get("sort", [])
    keys = []
    for s in sorts:
        field, _, direction = s.partition(":")
        if field not in allowed or direction not in ("", "asc", "desc"):
            raise invalid("sort", "invalid sort field '%s'" % s)
        keys.append((field, direction == "desc"))
    if not keys:
        keys = [("id", False)]
    for field, desc in reversed(keys):
        def k(x, f=field):
            v = x.get("_created_t") if f == "created" else x.get(f)
            return (v is None, v if v is not None else 0)
        items.sort(key=k, reverse=desc)
    return items


def filter_common(query, items):
    name = q1(query, "name")
    if name is not None:
        items = [x for x in items if x.get("name") == name]
    sel = q1(query, "label_selector")
    if sel is not None:
        preds = parse_selector(sel)
        items = [x for x in items if all(p(x.get("labels") or {}) for p in preds)]
    return items


# --------------------------------------------------------------------------
# API handlers (called with sim.lock held)

class Api:
    def __init__(self, sim):
        self.sim = sim
        r = []

        def add(method, pattern, fn):
            r.append((method, re.compile("^" + pattern + "$"), fn))
        add("GET", r"/servers", self.list_servers)
        add("POST", r"/servers", self.create_server)
        add("GET", r"/servers/actions", self.list_kind_actions("server"))
        add("GET", r"/servers/actions/(\d+)", self.get_kind_action("server"))
        add("GET", r"/servers/(\d+)", self.get_server)
        add("PUT", r"/servers/(\d+)", self.update_server)
        add("DELETE", r"/servers/(\d+)", self.delete_server)
        add("GET", r"/servers/(\d+)/actions", self.list_res_actions("server"))
        add("GET", r"/servers/(\d+)/actions/(\d+)", self.get_res_action("server"))
        add("POST", r"/servers/(\d+)/actions/(\w+)", self.server_action)
        add("GET", r"/images", self.list_images)
        add("GET", r"/images/actions", self.list_kind_actions("image"))
        add("GET", r"/images/actions/(\d+)", self.get_kind_action("image"))
        add("GET", r"/images/(\d+)", self.get_image)
        add("PUT", r"/images/(\d+)", self.update_image)
        add("DELETE", r"/images/(\d+)", self.delete_image)
        add("GET", r"/images/(\d+)/actions", self.list_res_actions("image"))
        add("GET", r"/images/(\d+)/actions/(\d+)", self.get_res_action("image"))
        add("POST", r"/images/(\d+)/actions/change_protection", self.image_protection)
        add("GET", r"/volumes", self.list_volumes)
        add("POST", r"/volumes", self.create_volume)
        add("GET", r"/volumes/actions", self.list_kind_actions("volume"))
        add("GET", r"/volumes/actions/(\d+)", self.get_kind_action("volume"))
        add("GET", r"/volumes/(\d+)", self.get_volume)
        add("PUT", r"/volumes/(\d+)", self.update_volume)
        add("DELETE", r"/volumes/(\d+)", self.delete_volume)
        add("GET", r"/volumes/(\d+)/actions", self.list_res_actions("volume"))
        add("GET", r"/volumes/(\d+)/actions/(\d+)", self.get_res_action("volume"))
        add("POST", r"/volumes/(\d+)/actions/(\w+)", self.volume_action)
        add("GET", r"/ssh_keys", self.list_ssh_keys)
        add("POST", r"/ssh_keys", self.create_ssh_key)
        add("GET", r"/ssh_keys/(\d+)", self.get_ssh_key)
        add("PUT", r"/ssh_keys/(\d+)", self.update_ssh_key)
        add("DELETE", r"/ssh_keys/(\d+)", self.delete_ssh_key)
        add("GET", r"/actions", self.list_actions)
        add("GET", r"/actions/(\d+)", self.get_action)
        add("GET", r"/locations", self.list_locations)
        add("GET", r"/locations/(\d+)", self.get_location)
        add("GET", r"/datacenters", self.list_datacenters)
        add("GET", r"/datacenters/(\d+)", self.get_datacenter)
        add("GET", r"/server_types", self.list_server_types)
        add("GET", r"/server_types/(\d+)", self.get_server_type)
        add("GET", r"/pricing", self.pricing)
        self.routes = r

    def dispatch(self, method, path, query, body):
        path_known = False
        for m, rx, fn in self.routes:
            mt = rx.match(path)
            if mt:
                path_known = True
                if m == method:
                    return fn(query, body, *mt.groups())
        if path_known:
            raise ApiError(405, "method_not_allowed", "method %s not allowed on %s" % (method, path), {})
        raise ApiError(404, "not_found", "unknown endpoint %s" % path, {})

    # -- servers -------------------------------------------------------
    def _server(self, sid):
        s = self.sim.servers.get(int(sid))
        if not s:
            raise not_found("server")
        return s

    def list_servers(self, query, body):
        items = list(self.sim.servers.values())
        st = query.get("status")
        if st:
            items = [s for s in items if s["status"] in st]
        items = filter_common(query, items)
        items = apply_sort(query, items, ("id", "name", "created"))
        return 200, paginate(query, [self.sim.server_view(s) for s in items], "servers", "/v1/servers")

    def get_server(self, query, body, sid):
        return 200, {"server": self.sim.server_view(self._server(sid))}

    def create_server(self, query, body):
        sim = self.sim
        check_fields(body, SERVER_BODY)
        check_server_name(body.get("name"))
        for f in ("server_type", "image"):
            if body.get(f) in (None, ""):
                raise invalid(f, "is required")
        st = sim.server_type(body["server_type"])
        if not st:
            raise invalid("server_type", "server type '%s' not found" % body["server_type"])
        img = sim.image_ref(body["image"], st["architecture"])
        if not img:
            raise invalid("image", "image '%s' not found" % body["image"])
        if img["status"] != "available":
            raise invalid("image", "image %d is not available" % img["id"])
        if img["architecture"] != st["architecture"]:
            raise invalid("image", "image %d is for architecture %s, server type %s is %s"
                          % (img["id"], img["architecture"], st["name"], st["architecture"]))
        if body.get("location") is not None and body.get("datacenter") is not None:
            raise ApiError(422, "invalid_input", "invalid input: 'location' and 'datacenter' are mutually exclusive",
                           {"fields": [{"name": "location", "messages": ["cannot be combined with datacenter"]},
                                       {"name": "datacenter", "messages": ["cannot be combined with location"]}]})
        if body.get("datacenter") is not None:
            dc = sim.datacenter(body["datacenter"])
            if not dc:
                raise invalid("datacenter", "datacenter '%s' not found" % body["datacenter"])
        else:
            locref = body.get("location", sim.config["default_location"])
            loc = sim.location(locref)
            if not loc:
                raise invalid("location", "location '%s' not found" % locref)
            dc = sim.dc_for_location(loc["name"])
        locname = dc["location"]
        labels = check_labels(body.get("labels"))
        ud = body.get("user_data")
        if ud is not None:
            if not isinstance(ud, str):
                raise invalid("user_data", "must be a string")
            if len(ud.encode()) > 32 * 1024:
                raise invalid("user_data", "is too long (maximum is 32 KiB)")
        key_ids = []
        refs = body.get("ssh_keys") or []
        if not isinstance(refs, list):
            raise invalid("ssh_keys", "must be an array")
        for ref in refs:
            k = sim.ssh_key_ref(ref)
            if not k:
                raise invalid("ssh_keys", "ssh key '%s' not found" % ref)
            key_ids.append(k["id"])
        vols = []
        for vid in body.get("volumes") or []:
            v = sim.volumes.get(vid) if isinstance(vid, int) else None
            if not v:
                raise invalid("volumes", "volume %s not found" % vid)
            if v["_location"] != locname:
                raise invalid("volumes", "volume %d is in a different location" % vid)
            if v["server"] is not None:
                raise invalid("volumes", "volume %d is already attached to a server" % vid)
            sim.check_unlocked("volume", v["id"])
            vols.append(v)
        sas = body.get("start_after_create", True)
        if not isinstance(sas, bool):
            raise invalid("start_after_create", "must be a boolean")
        for s in sim.servers.values():
            if s["name"] == body["name"] and s["status"] != "deleting":
                raise ApiError(409, "uniqueness_error", "server name is already used",
                               {"fields": [{"name": "name"}]})
        if not any(p["location"] == locname for p in st["prices"]):
            raise invalid("server_type", "unsupported location for server type")
        if sim.type_unavailable(locname, st["name"]):
            raise invalid("server_type", "server type %s is deprecated in %s and no longer available"
                          % (st["name"], locname))
        if sim.sold_out(locname, st["name"]):
            raise ApiError(412, "resource_unavailable",
                           "we are unable to provision servers for this location, try with a different "
                           "location or try later (server type %s is sold out in %s)" % (st["name"], locname),
                           {})
        pn = body.get("public_net") or {}
        sid = sim.new_id()
        ip = sim.ips.claim()
        now = time.time()
        s = {
            "id": sid, "name": body["name"], "status": "initializing", "created": iso(now),
            "public_net": {
                "ipv4": ({"id": sid + 500000, "ip": ip, "blocked": False, "dns_ptr": "static.%s.clients.your-server.de" % ip}
                         if pn.get("enable_ipv4", True) else None),
                "ipv6": ({"id": sid + 600000, "ip": "2001:db8:%x::/64" % (sid & 0xffff), "blocked": False,
                          "dns_ptr": []} if pn.get("enable_ipv6", True) else None),
                "floating_ips": [], "firewalls": []},
            "private_net": [], "server_type": st, "iso": None, "rescue_enabled": False,
            "backup_window": None, "outgoing_traffic": 0, "ingoing_traffic": 0,
            "included_traffic": 21990232555520, "protection": {"delete": False, "rebuild": False},
            "labels": labels, "load_balancers": [], "primary_disk_size": st["disk"],
            "placement_group": None,
            "_ip": ip, "_dc": dc["name"], "_location": locname, "_image_id": img["id"],
            "_ssh_key_ids": key_ids, "_user_data": ud, "_bake": is_bake(ud), "_created_t": now,
        }
        sim.servers[sid] = s
        for v in vols:
            v["server"] = sid
        log("server %d '%s' created (%s in %s, ip %s)", sid, s["name"], st["name"], locname, ip)

        def created(a):
            if s["status"] == "initializing":
                s["status"] = "off"
            for v in vols:
                if v["server"] == sid:
                    sim.volume_attach_real(v, s)

        def create_failed(a):
            s["status"] = "off"

        d_create = sim.dur("server_create")
        act = sim.new_action("create_server", [("server", sid)], now, d_create,
                             on_end=created, on_error=create_failed)
        nxt = []
        if sas:
            start = self._start_action(s, now + d_create, parent=act)
            nxt.append(start)
        return 201, {"server": sim.server_view(s), "action": sim.action_view(act),
                     "next_actions": [sim.action_view(a) for a in nxt],
                     "root_password": None if key_ids else secrets.token_urlsafe(15)}

    def _start_action(self, s, begin, parent=None, command="start_server"):
        sim = self.sim

        def on_begin(a):
            if parent is not None and parent["status"] == "error":
                sim.fail_action(a)
                return
            if s["status"] in ("off", "initializing", "running") and s["status"] != "running":
                s["status"] = "starting"

        def on_end(a):
            if s["status"] == "deleting" or s["id"] not in sim.servers:
                raise RuntimeError("server is gone")
            sim.machine_start(s)
            s["status"] = "running"
            if s["_bake"]:
                s["_bake"] = False     # cloud-init's power_state runs on the first boot only

                def bake_done():
                    if s["status"] == "running" and s["id"] in sim.servers:
                        log("server %d: bake finished, powering off", s["id"])
                        sim.machine_stop(s)
                        s["status"] = "off"
                sim.at(time.time() + sim.dur("bake"), bake_done)

        def on_error(a):
            if s["status"] == "starting":
                s["status"] = "off"
        return sim.new_action(command, [("server", s["id"])], begin, sim.dur("server_start"),
                              on_begin=on_begin, on_end=on_end, on_error=on_error)

    def update_server(self, query, body, sid):
        s = self._server(sid)
        check_fields(body, {"name", "labels"})
        if "name" in body:
            check_server_name(body["name"])
            for o in self.sim.servers.values():
                if o is not s and o["name"] == body["name"] and o["status"] != "deleting":
                    raise ApiError(409, "uniqueness_error", "server name is already used",
                                   {"fields": [{"name": "name"}]})
        labels = check_labels(body["labels"]) if "labels" in body else None
        if "name" in body:
            s["name"] = body["name"]
        if labels is not None:
            s["labels"] = labels
        return 200, {"server": self.sim.server_view(s)}

    def delete_server(self, query, body, sid):
        sim = self.sim
        s = self._server(sid)
        if s["status"] == "deleting":
            raise ApiError(423, "locked", "server %d is being deleted" % s["id"], {})
        sim.check_unlocked("server", s["id"])
        if s["protection"]["delete"]:
            raise ApiError(423, "protected", "server %d is delete-protected" % s["id"], {})
        prev = s["status"]
        s["status"] = "deleting"

        def not_gone(a):
            s["status"] = prev

        def gone(a):
            sim.machine_stop(s)
            for v in sim.volumes.values():
                if v["server"] == s["id"]:
                    sim.volume_detach_real(v, s["id"])
                    v["server"] = None
            sim.servers.pop(s["id"], None)
            sim.machines.pop(s["id"], None)
            sim.ips.release(s["_ip"])
            log("server %d deleted", s["id"])
        act = sim.new_action("delete_server", [("server", s["id"])], time.time(), sim.dur("server_delete"),
                             on_end=gone, on_error=not_gone)
        return 200, {"action": sim.action_view(act)}

    def server_action(self, query, body, sid, name):
        sim = self.sim
        s = self._server(sid)
        body = body if body is not None else {}
        if not isinstance(body, dict):
            raise ApiError(400, "json_error", "request body must be a JSON object", {})
        known = {"poweron", "poweroff", "shutdown", "reboot", "reset", "create_image", "change_protection"}
        if name not in known:
            raise ApiError(404, "not_found", "unknown server action '%s'" % name, {})
        if s["status"] == "deleting":
            raise ApiError(423, "locked", "server %d is being deleted" % s["id"], {})
        sim.check_unlocked("server", s["id"])
        now = time.time()
        if name == "poweron":
            check_fields(body, set())
            a = self._start_action(s, now)
            return 201, {"action": sim.action_view(a)}
        if name in ("poweroff", "shutdown"):
            check_fields(body, set())
            cmd = "stop_server" if name == "poweroff" else "shutdown_server"

            def on_begin(a):
                if s["status"] == "running":
                    s["status"] = "stopping"

            def on_end(a):
                sim.machine_stop(s)
                s["status"] = "off"
            a = sim.new_action(cmd, [("server", s["id"])], now, sim.dur("server_stop"),
                               on_begin=on_begin, on_end=on_end)
            return 201, {"action": sim.action_view(a)}
        if name in ("reboot", "reset"):
            check_fields(body, set())

            def on_end(a):
                if s["status"] == "running":
                    sim.machine_stop(s)
                    sim.machine_start(s)
            a = sim.new_action(name + "_server", [("server", s["id"])], now, sim.dur("reboot"), on_end=on_end)
            return 201, {"action": sim.action_view(a)}
        if name == "change_protection":
            check_fields(body, {"delete", "rebuild"})
            for k in ("delete", "rebuild"):
                if k in body:
                    s["protection"][k] = bool(body[k])
            a = sim.new_action("change_protection", [("server", s["id"])], now, 0)
            a["_fail"] = False
            return 201, {"action": sim.action_view(a)}
        # create_image
        check_fields(body, {"description", "type", "labels"})
        typ = body.get("type", "snapshot")
        if typ not in ("snapshot", "backup"):
            raise invalid("type", "must be snapshot or backup")
        labels = check_labels(body.get("labels"))
        desc = body.get("description")
        if desc is not None and not isinstance(desc, str):
            raise invalid("description", "must be a string")
        img = self._new_image(desc if desc else "snapshot of %s" % s["name"], labels, typ,
                              status="creating", created_from={"id": s["id"], "name": s["name"]},
                              disk_size=float(s["server_type"]["disk"]))
        img["architecture"] = s["server_type"]["architecture"]
        src_img = sim.images.get(s["_image_id"])
        img["os_flavor"] = src_img["os_flavor"] if src_img else "ubuntu"
        img["os_version"] = src_img["os_version"] if src_img else None

        def on_end(a):
            img["status"] = "available"
            img["image_size"] = float(sim.config.get("image_size", 2.5))

        def on_error(a):
            img["status"] = "unavailable"
        a = sim.new_action("create_image", [("server", s["id"]), ("image", img["id"])], now,
                           sim.dur("image_create"), on_end=on_end, on_error=on_error)
        return 201, {"image": sim.image_view(img), "action": sim.action_view(a)}

    # -- images --------------------------------------------------------
    def _new_image(self, desc, labels, typ="snapshot", status="available", created_from=None,
                   disk_size=40.0, image_size=None):
        sim = self.sim
        iid = sim.new_id()
        now = time.time()
        img = {"id": iid, "type": typ, "status": status, "name": None, "description": desc,
               "image_size": image_size, "disk_size": disk_size, "created": iso(now),
               "created_from": created_from, "bound_to": None, "os_flavor": "ubuntu",
               "os_version": "24.04", "rapid_deploy": False, "protection": {"delete": False},
               "deprecated": None, "deleted": None, "labels": labels, "architecture": "x86",
               "_created_t": now}
        sim.images[iid] = img
        return img

    def _image(self, iid):
        img = self.sim.images.get(int(iid))
        if not img:
            raise not_found("image")
        return img

    def list_images(self, query, body):
        items = list(self.sim.images.values())
        for f in ("type", "status"):
            vals = query.get(f)
            if vals:
                items = [i for i in items if i[f] in vals]
        bt = query.get("bound_to")
        if bt:
            items = [i for i in items if str(i["bound_to"]) in bt]
        arch = query.get("architecture")
        if arch:
            items = [i for i in items if i["architecture"] in arch]
        items = filter_common(query, items)
        items = apply_sort(query, items, ("id", "name", "created"))
        return 200, paginate(query, [self.sim.image_view(i) for i in items], "images", "/v1/images")

    def get_image(self, query, body, iid):
        return 200, {"image": self.sim.image_view(self._image(iid))}

    def update_image(self, query, body, iid):
        img = self._image(iid)
        check_fields(body, {"description", "type", "labels"})
        if img["type"] not in ("snapshot", "backup"):
            raise ApiError(422, "invalid_input", "only snapshots and backups can be updated", {})
        if "type" in body and body["type"] != "snapshot":
            raise invalid("type", "must be snapshot")
        labels = check_labels(body["labels"]) if "labels" in body else None
        if "description" in body:
            img["description"] = body["description"]
        if "type" in body:
            img["type"] = "snapshot"
            img["bound_to"] = None
        if labels is not None:
            img["labels"] = labels
        return 200, {"image": self.sim.image_view(img)}

    def delete_image(self, query, body, iid):
        img = self._image(iid)
        if img["type"] not in ("snapshot", "backup"):
            raise ApiError(422, "invalid_input", "only snapshots and backups can be deleted", {})
        if img["protection"]["delete"]:
            raise ApiError(423, "protected", "image %d is delete-protected" % img["id"], {})
        self.sim.check_unlocked("image", img["id"])
        del self.sim.images[img["id"]]
        return 204, None

    def image_protection(self, query, body, iid):
        img = self._image(iid)
        check_fields(body or {}, {"delete"})
        if img["type"] != "snapshot":
            raise ApiError(422, "unsupported_error", "only snapshots support protection", {})
        img["protection"]["delete"] = bool((body or {}).get("delete", False))
        a = self.sim.new_action("change_protection", [("image", img["id"])], time.time(), 0)
        a["_fail"] = False
        return 201, {"action": self.sim.action_view(a)}

    # -- volumes -------------------------------------------------------
    def _volume(self, vid):
        v = self.sim.volumes.get(int(vid))
        if not v:
            raise not_found("volume")
        return v

    def list_volumes(self, query, body):
        items = list(self.sim.volumes.values())
        st = query.get("status")
        if st:
            items = [v for v in items if v["status"] in st]
        items = filter_common(query, items)
        items = apply_sort(query, items, ("id", "name", "created"))
        return 200, paginate(query, [self.sim.volume_view(v) for v in items], "volumes", "/v1/volumes")

    def get_volume(self, query, body, vid):
        return 200, {"volume": self.sim.volume_view(self._volume(vid))}

    def create_volume(self, query, body):
        sim = self.sim
        check_fields(body, VOLUME_BODY)
        size = body.get("size")
        if size is None:
            raise invalid("size", "is required")
        if isinstance(size, bool) or not isinstance(size, (int, float)) or int(size) != size:
            raise invalid("size", "must be an integer")
        if size < 10 or size > 10240:
            raise invalid("size", "must be between 10 and 10240")
        check_volume_name(body.get("name"))
        fmt = body.get("format")
        if fmt not in (None, "ext4", "xfs"):
            raise invalid("format", "must be ext4 or xfs")
        labels = check_labels(body.get("labels"))
        server = None
        if body.get("server") is not None:
            server = sim.servers.get(body["server"]) if isinstance(body["server"], int) else None
            if not server or server["status"] == "deleting":
                raise invalid("server", "server %s not found" % body["server"])
        if body.get("automount") and server is None:
            raise invalid("automount", "requires server")
        if body.get("location") is not None:
            loc = sim.location(body["location"])
            if not loc:
                raise invalid("location", "location '%s' not found" % body["location"])
            locname = loc["name"]
            if server and server["_location"] != locname:
                raise invalid("location", "server and volume must be in the same location")
        elif server:
            locname = server["_location"]
        else:
            raise invalid("location", "location or server is required")
        for v in sim.volumes.values():
            if v["name"] == body["name"]:
                raise ApiError(409, "uniqueness_error", "volume name is already used",
                               {"fields": [{"name": "name"}]})
        if server:
            sim.check_unlocked("server", server["id"])
        vid = sim.new_id()
        now = time.time()
        v = {"id": vid, "created": iso(now), "name": body["name"], "server": None,
             "size": int(size), "linux_device": "/dev/disk/by-id/scsi-0HC_Volume_%d" % vid,
             "protection": {"delete": False}, "labels": labels, "status": "creating",
             "format": fmt, "_location": locname, "_created_t": now, "_file": None, "_loop": None}
        sim.volumes[vid] = v

        def made(a):
            sim.volume_make(v)
            v["status"] = "available"

        def failed(a):
            v["status"] = "available"
        d = sim.dur("volume_create")
        act = sim.new_action("create_volume", [("volume", vid)], now, d, on_end=made, on_error=failed)
        nxt = []
        v["_automount"] = bool(body.get("automount"))
        if server:
            v["server"] = server["id"]
            nxt.append(self._attach_action(v, server, now + d, parent=act, preset=True))
        log("volume %d '%s' created (%d GB in %s)", vid, v["name"], v["size"], locname)
        return 201, {"volume": sim.volume_view(v), "action": sim.action_view(act),
                     "next_actions": [sim.action_view(a) for a in nxt]}

    def _attach_action(self, v, s, begin, parent=None, preset=False):
        sim = self.sim
        v["server"] = s["id"]

        def on_begin(a):
            if parent is not None and parent["status"] == "error":
                sim.fail_action(a)
                v["server"] = None

        def on_end(a):
            if s["id"] not in sim.servers or s["status"] == "deleting":
                raise RuntimeError("server is gone")
            sim.volume_attach_real(v, s)

        def on_error(a):
            if v["server"] == s["id"]:
                sim.volume_detach_real(v, s["id"])
                v["server"] = None
        return sim.new_action("attach_volume", [("volume", v["id"]), ("server", s["id"])], begin,
                              sim.dur("attach"), on_begin=on_begin, on_end=on_end, on_error=on_error)

    def update_volume(self, query, body, vid):
        v = self._volume(vid)
        check_fields(body, {"name", "labels"})
        if "name" in body:
            check_volume_name(body["name"])
            for o in self.sim.volumes.values():
                if o is not v and o["name"] == body["name"]:
                    raise ApiError(409, "uniqueness_error", "volume name is already used",
                                   {"fields": [{"name": "name"}]})
        labels = check_labels(body["labels"]) if "labels" in body else None
        if "name" in body:
            v["name"] = body["name"]
        if labels is not None:
            v["labels"] = labels
        return 200, {"volume": self.sim.volume_view(v)}

    def delete_volume(self, query, body, vid):
        sim = self.sim
        v = self._volume(vid)
        sim.check_unlocked("volume", v["id"])
        if v["server"] is not None:
            raise ApiError(422, "invalid_input", "volume %d is attached to server %d, detach it first"
                           % (v["id"], v["server"]), {})
        if v["protection"]["delete"]:
            raise ApiError(423, "protected", "volume %d is delete-protected" % v["id"], {})
        if v.get("_loop"):
            loop_release(v["_loop"])
        if v.get("_file"):
            try:
                os.unlink(v["_file"])
            except OSError:
                pass
        del sim.volumes[v["id"]]
        return 204, None

    def volume_action(self, query, body, vid, name):
        sim = self.sim
        v = self._volume(vid)
        body = body if body is not None else {}
        if not isinstance(body, dict):
            raise ApiError(400, "json_error", "request body must be a JSON object", {})
        now = time.time()
        if name == "attach":
            check_fields(body, {"server", "automount"})
            sid = body.get("server")
            if sid is None:
                raise invalid("server", "is required")
            s = sim.servers.get(sid) if isinstance(sid, int) else None
            if not s or s["status"] == "deleting":
                raise ApiError(404, "not_found", "server %s not found" % sid, {})
            if v["server"] is not None:
                raise ApiError(422, "invalid_input", "volume %d is already attached to server %d, detach it first"
                               % (v["id"], v["server"]),
                               {"fields": [{"name": "server", "messages": ["volume is already attached"]}]})
            if s["_location"] != v["_location"]:
                raise ApiError(422, "invalid_input", "server and volume must be in the same location "
                               "(volume in %s, server in %s)" % (v["_location"], s["_location"]),
                               {"fields": [{"name": "server", "messages": ["is in a different location"]}]})
            sim.check_unlocked("volume", v["id"])
            sim.check_unlocked("server", s["id"])
            v["_automount"] = bool(body.get("automount"))
            a = self._attach_action(v, s, now)
            return 201, {"action": sim.action_view(a)}
        if name == "detach":
            check_fields(body, set())
            if v["server"] is None:
                raise ApiError(422, "invalid_input", "volume %d is not attached" % v["id"], {})
            sim.check_unlocked("volume", v["id"])
            sid = v["server"]
            sim.check_unlocked("server", sid)

            def on_end(a):
                sim.volume_detach_real(v, sid)
                v["server"] = None
            a = sim.new_action("detach_volume", [("volume", v["id"]), ("server", sid)], now,
                               sim.dur("detach"), on_end=on_end)
            return 201, {"action": sim.action_view(a)}
        if name == "resize":
            check_fields(body, {"size"})
            size = body.get("size")
            if not isinstance(size, (int, float)) or size <= v["size"] or size > 10240:
                raise invalid("size", "must be greater than the current size")
            sim.check_unlocked("volume", v["id"])

            def on_end(a):
                v["size"] = int(size)
            a = sim.new_action("resize_volume", [("volume", v["id"])], now, sim.dur("attach"), on_end=on_end)
            return 201, {"action": sim.action_view(a)}
        if name == "change_protection":
            check_fields(body, {"delete"})
            v["protection"]["delete"] = bool(body.get("delete", False))
            a = sim.new_action("change_protection", [("volume", v["id"])], now, 0)
            a["_fail"] = False
            return 201, {"action": sim.action_view(a)}
        raise ApiError(404, "not_found", "unknown volume action '%s'" % name, {})

    # -- ssh keys ------------------------------------------------------
    def _ssh_key(self, kid):
        k = self.sim.ssh_keys.get(int(kid))
        if not k:
            raise not_found("ssh key")
        return k

    def list_ssh_keys(self, query, body):
        items = list(self.sim.ssh_keys.values())
        fp = q1(query, "fingerprint")
        if fp is not None:
            items = [k for k in items if k["fingerprint"] == fp]
        items = filter_common(query, items)
        items = apply_sort(query, items, ("id", "name"))
        return 200, paginate(query, [self.sim.ssh_key_view(k) for k in items], "ssh_keys", "/v1/ssh_keys")

    def get_ssh_key(self, query, body, kid):
        return 200, {"ssh_key": self.sim.ssh_key_view(self._ssh_key(kid))}

    def create_ssh_key(self, query, body):
        sim = self.sim
        check_fields(body, SSHKEY_BODY)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise invalid("name", "is required")
        pk = body.get("public_key")
        if not isinstance(pk, str) or not pk:
            raise invalid("public_key", "is required")
        parts = pk.split()
        try:
            if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
                raise ValueError
            blob = base64.b64decode(parts[1], validate=True)
        except (ValueError, base64.binascii.Error):
            raise invalid("public_key", "invalid public key")
        fp = ":".join("%02x" % b for b in hashlib.md5(blob).digest())
        labels = check_labels(body.get("labels"))
        for k in sim.ssh_keys.values():
            if k["fingerprint"] == fp:
                raise ApiError(409, "uniqueness_error", "SSH key with the same fingerprint already exists",
                               {"fields": [{"name": "public_key"}]})
            if k["name"] == name:
                raise ApiError(409, "uniqueness_error", "SSH key with the same name already exists",
                               {"fields": [{"name": "name"}]})
        kid = sim.new_id()
        now = time.time()
        k = {"id": kid, "name": name, "fingerprint": fp, "public_key": pk.strip(), "labels": labels,
             "created": iso(now), "_created_t": now}
        sim.ssh_keys[kid] = k
        return 201, {"ssh_key": sim.ssh_key_view(k)}

    def update_ssh_key(self, query, body, kid):
        k = self._ssh_key(kid)
        check_fields(body, {"name", "labels"})
        labels = check_labels(body["labels"]) if "labels" in body else None
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"]:
                raise invalid("name", "must be a non-empty string")
            for o in self.sim.ssh_keys.values():
                if o is not k and o["name"] == body["name"]:
                    raise ApiError(409, "uniqueness_error", "SSH key with the same name already exists",
                                   {"fields": [{"name": "name"}]})
            k["name"] = body["name"]
        if labels is not None:
            k["labels"] = labels
        return 200, {"ssh_key": self.sim.ssh_key_view(k)}

    def delete_ssh_key(self, query, body, kid):
        k = self._ssh_key(kid)
        del self.sim.ssh_keys[k["id"]]
        return 204, None

    # -- actions -------------------------------------------------------
    def _action_list(self, query, items, base):
        st = query.get("status")
        if st:
            items = [a for a in items if a["status"] in st]
        ids = query.get("id")
        if ids:
            items = [a for a in items if str(a["id"]) in ids]
        views = [self.sim.action_view(a) for a in items]
        sorts = query.get("sort", [])
        for s in sorts:
            field, _, d = s.partition(":")
            if field not in ("id", "command", "status", "started", "finished") or d not in ("", "asc", "desc"):
                raise invalid("sort", "invalid sort field '%s'" % s)
        if sorts:
            for s in reversed(sorts):
                field, _, d = s.partition(":")
                views.sort(key=lambda x, f=field: (x[f] is None, x[f] if x[f] is not None else ""),
                           reverse=(d == "desc"))
        else:
            views.sort(key=lambda x: x["id"])
        return 200, paginate(query, views, "actions", base)

    def list_actions(self, query, body):
        ids = query.get("id")
        if not ids:
            raise invalid("id", "is required (listing all actions was removed)")
        for i in ids:
            if not i.isdigit():
                raise invalid("id", "must be an integer")
        # the contract's GET /actions answers {"actions"} only: no meta, no Link
        status, (out, _link) = self._action_list(query, list(self.sim.actions.values()), "/v1/actions")
        out.pop("meta", None)
        return status, out

    def get_action(self, query, body, aid):
        a = self.sim.actions.get(int(aid))
        if not a:
            raise not_found("action")
        return 200, {"action": self.sim.action_view(a)}

    def list_kind_actions(self, rtype):
        def fn(query, body):
            items = [a for a in self.sim.actions.values() if any(r["type"] == rtype for r in a["resources"])]
            return self._action_list(query, items, "/v1/%ss/actions" % rtype)
        return fn

    def get_kind_action(self, rtype):
        def fn(query, body, aid):
            a = self.sim.actions.get(int(aid))
            if not a or not any(r["type"] == rtype for r in a["resources"]):
                raise not_found("action")
            return 200, {"action": self.sim.action_view(a)}
        return fn

    def _res_exists(self, rtype, rid):
        coll = {"server": self.sim.servers, "volume": self.sim.volumes, "image": self.sim.images}[rtype]
        if int(rid) not in coll:
            raise not_found(rtype)

    def list_res_actions(self, rtype):
        def fn(query, body, rid):
            self._res_exists(rtype, rid)
            ref = {"id": int(rid), "type": rtype}
            items = [a for a in self.sim.actions.values() if ref in a["resources"]]
            return self._action_list(query, items, "/v1/%ss/%s/actions" % (rtype, rid))
        return fn

    def get_res_action(self, rtype):
        def fn(query, body, rid, aid):
            self._res_exists(rtype, rid)
            a = self.sim.actions.get(int(aid))
            if not a or {"id": int(rid), "type": rtype} not in a["resources"]:
                raise not_found("action")
            return 200, {"action": self.sim.action_view(a)}
        return fn

    # -- catalogue -----------------------------------------------------
    def list_locations(self, query, body):
        items = filter_common(query, [dict(x) for x in LOCATIONS])
        items = apply_sort(query, items, ("id", "name"))
        return 200, paginate(query, items, "locations", "/v1/locations")

    def get_location(self, query, body, lid):
        loc = self.sim.location(lid)
        if not loc or str(loc["id"]) != lid:
            raise not_found("location")
        return 200, {"location": loc}

    def list_datacenters(self, query, body):
        items = filter_common(query, [self.sim.dc_view(d) for d in DATACENTERS])
        items = apply_sort(query, items, ("id", "name"))
        out, link = paginate(query, items, "datacenters", "/v1/datacenters")
        out["recommendation"] = self.sim.dc_for_location(self.sim.config["default_location"])["id"]
        return 200, (out, link)

    def get_datacenter(self, query, body, did):
        for d in DATACENTERS:
            if str(d["id"]) == did:
                return 200, {"datacenter": self.sim.dc_view(d)}
        raise not_found("datacenter")

    def list_server_types(self, query, body):
        items = [self.sim.type_view(x) for x in SERVER_TYPES]
        name = q1(query, "name")
        if name is not None:
            items = [x for x in items if x["name"] == name]
        return 200, paginate(query, items, "server_types", "/v1/server_types")

    def get_server_type(self, query, body, tid):
        for st in SERVER_TYPES:
            if str(st["id"]) == tid:
                return 200, {"server_type": self.sim.type_view(st)}
        raise not_found("server type")

    def pricing(self, query, body):
        return 200, {"pricing": {
            "currency": "EUR", "vat_rate": "%.2f" % (VAT * 100),
            "image": {"price_per_gb_month": _price(IMAGE_PRICE_GB_MONTH)},
            "volume": {"price_per_gb_month": _price(VOLUME_PRICE_GB_MONTH)},
            "server_backup": {"percentage": "20.00"},
            "server_types": [{"id": st["id"], "name": st["name"], "prices": st["prices"]} for st in SERVER_TYPES],
            "floating_ip": {"price_monthly": _price(3.0)}, "floating_ips": [], "primary_ips": [],
            "load_balancer_types": [],
        }}


# --------------------------------------------------------------------------
# HTTP front end

class DropConnection(Exception):
    pass


class RawResponse(Exception):
    def __init__(self, status, body):
        Exception.__init__(self, body)
        self.status = status
        self.body = body


# the Hetzner error code a fault answers with when the rule names none
STATUS_CODE = {400: "json_error", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 410: "deprecated_api_endpoint",
               412: "resource_unavailable", 422: "invalid_input", 423: "locked",
               429: "rate_limit_exceeded", 500: "server_error", 503: "unavailable", 504: "timeout"}


def fault_error(rule):
    """The error a fault rule answers with (without code: the usual code of the status,
    or for statuses without one, e.g. 502, a bare HTML body as a gateway would send)."""
    status = int(rule.get("status", 503))
    code = rule.get("code", STATUS_CODE.get(status))
    if code is None:
        return RawResponse(status, rule.get("body", "<html><body><h1>%d %s</h1></body></html>\n"
                                                   % (status, http.client.responses.get(status, "Error"))))
    return ApiError(status, code, rule.get("message", "injected fault"), rule.get("details", {}))


def fault_patch(obj, patch, page):
    """A fault rule's `patch` deep-merged into the real answer (dicts key by key,
    anything else replaced); the string "$page+N" becomes the requested page + N."""
    if isinstance(patch, str) and patch.startswith("$page+"):
        return page + int(patch[6:] or 0)
    if not isinstance(patch, dict) or not isinstance(obj, dict):
        return patch
    out = dict(obj)
    for k, v in patch.items():
        out[k] = fault_patch(obj.get(k), v, page)
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hcloud-sim/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):
        log("http: " + fmt, *args)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def send_json(self, status, obj, headers=None):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Correlation-Id", secrets.token_hex(8))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def drop(self, partial=False):
        self.close_connection = True
        try:
            if partial:
                # headers promising a body that never comes: the client sees a
                # broken answer (curl: "transfer closed with N bytes remaining
                # to read"), which libcurl never resends on its own
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 4096\r\n\r\n{\"")
                self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        return raw

    def handle_any(self, method):
        sim = self.server.sim
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        raw = self.read_body()
        if path.startswith("/_sim/"):
            return self.control(method, path, query, raw)
        rec = {"time": time.time(), "method": method, "path": path, "query": query, "body": None,
               "status": None, "code": None,
               "auth": "present" if self.headers.get("Authorization") else "missing"}
        if self.headers.get("X-Sim-Harness"):
            rec["by"] = "harness"  # the test's own calls, not the client's
        body = None
        status, obj, link, extra = 500, None, None, {}
        fault_after = None
        delay = 0.0
        try:
            allowed, extra = sim.take_token()
            if raw:
                try:
                    body = json.loads(raw)
                    rec["body"] = body
                except ValueError:
                    rec["body"] = raw.decode("utf-8", "replace")
                    if allowed:
                        raise ApiError(400, "json_error", "invalid JSON in request body", {})
            if not allowed:
                raise ApiError(429, "rate_limit_exceeded", "rate limit exceeded", {})
            auth = self.headers.get("Authorization", "")
            tok = auth[7:] if auth.startswith("Bearer ") else None
            if tok is None or tok not in sim.config["tokens"]:
                raise ApiError(401, "unauthorized", "unable to authenticate", {})
            if not path.startswith("/v1/") and path != "/v1":
                raise ApiError(404, "not_found", "unknown endpoint", {})
            sub = path[3:]
            fault = self.match_fault(method, sub, body)
            if fault is not None:
                rec["fault"] = True
                delay = float(fault.get("delay") or 0)
                if fault.get("apply"):
                    fault_after = fault
                else:
                    if fault.get("drop"):
                        raise DropConnection(fault["drop"])
                    raise fault_error(fault)
            with sim.lock:
                status, res = sim.api.dispatch(method, sub, query, body)
                sim.wake.notify_all()
                if isinstance(res, tuple):
                    obj, link = res
                else:
                    obj = res
                check_contract(sim, rec, method, sub, status, obj)
            if fault_after is not None:
                if fault_after.get("patch") is not None and isinstance(obj, dict):
                    try:
                        page = int(q1(query, "page", "1"))
                    except ValueError:
                        page = 1
                    obj = fault_patch(obj, fault_after["patch"], page)
                if fault_after.get("drop"):
                    raise DropConnection(fault_after["drop"])
                if fault_after.get("status"):
                    raise fault_error(fault_after)
        except RawResponse as e:
            rec["status"] = e.status
            sim.log_request(rec)
            time.sleep(delay)
            data = e.body.encode()
            try:
                self.send_response(e.status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Correlation-Id", secrets.token_hex(8))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass
            return
        except DropConnection as e:
            rec["status"] = None
            rec["code"] = "connection_dropped"
            sim.log_request(rec)
            time.sleep(delay)
            self.drop(partial=(e.args and e.args[0] == "partial"))
            return
        except ApiError as e:
            status = e.status
            obj = {"error": {"code": e.code, "message": e.message, "details": e.details if e.details is not None else {}}}
            rec["code"] = e.code
            check_contract(sim, rec, method, path[3:], status, obj)
        except Exception:
            log("internal error: %s", traceback.format_exc())
            status = 500
            obj = {"error": {"code": "server_error", "message": "simulator internal error", "details": {}}}
            rec["code"] = "server_error"
        rec["status"] = status
        sim.log_request(rec)
        # A fault's delay comes after the request was processed and logged, so
        # the log shows a request whose answer is still on its way.
        time.sleep(delay)
        if link:
            extra = dict(extra)
            base = "<http://%s:%d/v1/" % self.server.server_address[:2]
            extra["Link"] = link.replace("</v1/", base)
        try:
            self.send_json(status, obj, extra)
        except OSError:
            pass

    def match_fault(self, method, sub, body):
        sim = self.server.sim
        with sim.lock:
            for r in sim.config["faults"]:
                if r.get("method") and r["method"].upper() != method:
                    continue
                try:
                    if not re.fullmatch(r.get("path", ".*"), sub):
                        continue
                except re.error:
                    continue
                when = r.get("when") or {}
                if when:
                    if not isinstance(body, dict) or any(body.get(k) != v for k, v in when.items()):
                        continue
                times = r.get("times", 1)
                if times != 0:
                    if r.get("_left", times) <= 0:
                        continue
                    r["_left"] = r.get("_left", times) - 1
                log("fault injected: %s %s -> %s", method, sub, {k: v for k, v in r.items() if k != "_left"})
                return r
        return None

    # control API ---------------------------------------------------------
    def control(self, method, path, query, raw):
        sim = self.server.sim
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self.send_json(400, {"error": {"code": "json_error", "message": "bad json", "details": {}}})
        if method == "POST" and path == "/_sim/config":
            if not isinstance(body, dict):
                return self.send_json(400, {"error": {"code": "json_error", "message": "object expected", "details": {}}})
            sim.merge_config(body)
            with sim.lock:
                return self.send_json(200, {"config": strip_private(sim.config)})
        if method == "GET" and path == "/_sim/config":
            with sim.lock:
                return self.send_json(200, {"config": strip_private(sim.config)})
        if method == "GET" and path == "/_sim/state":
            with sim.lock:
                st = {
                    "servers": [self.internal_server(s) for s in sim.servers.values()],
                    "volumes": [dict(strip_private(sim.volume_view(v)), file=v.get("_file"), loop=v.get("_loop"))
                                for v in sim.volumes.values()],
                    "images": [sim.image_view(i) for i in sim.images.values()],
                    "ssh_keys": [sim.ssh_key_view(k) for k in sim.ssh_keys.values()],
                    "actions": [sim.action_view(a) for a in sim.actions.values()],
                    "machines": sim.real, "state_dir": STATE_DIR, "pid": os.getpid(),
                }
                return self.send_json(200, st)
        if method == "GET" and path == "/_sim/requests":
            with sim.req_lock:
                return self.send_json(200, list(sim.requests))
        if method == "POST" and path == "/_sim/requests/reset":
            sim.reset_requests()
            return self.send_json(200, {"ok": True})
        if method == "POST" and path == "/_sim/images":
            body = body or {}
            with sim.lock:
                try:
                    labels = check_labels(body.get("labels"))
                except ApiError as e:
                    return self.send_json(422, {"error": {"code": e.code, "message": e.message, "details": e.details}})
                img = sim.api._new_image(body.get("description", "seeded snapshot"), labels,
                                         image_size=float(body.get("image_size", sim.config.get("image_size", 2.5))),
                                         disk_size=float(body.get("disk_size", 80.0)))
                if body.get("architecture") in ("x86", "arm"):
                    img["architecture"] = body["architecture"]
                return self.send_json(201, sim.image_view(img))
        if method == "POST" and path == "/_sim/shutdown":
            self.send_json(200, {"ok": True})
            self.close_connection = True
            threading.Thread(target=self.server.sim_stop, daemon=True).start()
            return
        return self.send_json(404, {"error": {"code": "not_found", "message": "unknown control endpoint", "details": {}}})

    def internal_server(self, s):
        sim = self.server.sim
        out = sim.server_view(s)
        m = sim.machines.get(s["id"])
        out["_internal"] = {
            "ip": s["_ip"], "location": s["_location"], "bake": s["_bake"],
            "sshd_pid": m.proc.pid if m and m.running() else None,
            "mnt_ns": m.ns if m and m.running() else None,
            "dir": os.path.join(STATE_DIR, "servers", str(s["id"])),
            "sshd_log": os.path.join(STATE_DIR, "servers", str(s["id"]), "sshd.log"),
            "ssh_key_ids": s["_ssh_key_ids"], "user_data": s["_user_data"],
        }
        return out


def strip_private(o):
    if isinstance(o, dict):
        return {k: strip_private(v) for k, v in o.items() if not k.startswith("_")}
    if isinstance(o, list):
        return [strip_private(x) for x in o]
    return o


def check_contract(sim, rec, method, sub, status, obj):
    """With $BURST_CONTRACT_SPEC: hold the answer to the published contract;
    violations go into the request log record (`contract`) and sim.log.  The
    older shape (legacy_datacenter) is off-contract on purpose: not checked."""
    if CONTRACT_SPEC is None or sim.config.get("legacy_datacenter"):
        return
    try:
        errs = CONTRACT_SPEC.check_response(method, sub, status, obj)
    except Exception:
        errs = ["checker failed: %s" % traceback.format_exc().splitlines()[-1]]
    if errs:
        rec["contract"] = errs[:20]
        log("contract violation: %s %s -> %s: %s", method, sub, status, "; ".join(errs[:5]))


def _sim_log_request(self, rec):
    line = json.dumps(rec)
    with self.req_lock:
        self.requests.append(rec)
        with open(os.path.join(STATE_DIR, "requests.jsonl"), "a") as f:
            f.write(line + "\n")
        if CONTRACT_LOG:
            with open(CONTRACT_LOG, "a") as f:
                f.write(line + "\n")


def _sim_reset_requests(self):
    with self.req_lock:
        self.requests = []
        with open(os.path.join(STATE_DIR, "requests.jsonl"), "w"):
            pass


Sim.log_request = _sim_log_request
Sim.reset_requests = _sim_reset_requests


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def sim_stop(self):
        self.stop_event.set()


# --------------------------------------------------------------------------

def main():
    global STATE_DIR, LOG_FH, CONTRACT_LOG, CONTRACT_SPEC
    ap = argparse.ArgumentParser(description="local Hetzner Cloud API simulator")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--config")
    ap.add_argument("--machines", choices=("real", "none"), default="real")
    ap.add_argument("--watch-pid", type=int, default=0,
                    help="shut down cleanly when this process (e.g. the test) is gone")
    ap.add_argument("--legacy-datacenter", action="store_true",
                    help="answer in the older shape: servers with datacenter, no location")
    args = ap.parse_args()

    if args.machines == "real" and os.geteuid() != 0:
        sys.stderr.write("hcloud_sim: --machines real needs root (namespaces, loop devices, port 22); "
                         "run as root or use --machines none\n")
        return 2
    if args.machines == "real":
        for prog in ("unshare", "nsenter", "losetup", "mkfs.ext4", "ssh-keygen", "/usr/sbin/sshd"):
            if not shutil.which(prog):
                sys.stderr.write("hcloud_sim: required program '%s' not found\n" % prog)
                return 2

    STATE_DIR = os.path.abspath(args.state_dir)
    os.makedirs(STATE_DIR, exist_ok=True)
    LOG_FH = open(os.path.join(STATE_DIR, "sim.log"), "a")
    cfg = {}
    if args.config:
        with open(args.config) as f:
            cfg = json.load(f)
    if args.legacy_datacenter or os.environ.get("HCLOUD_SIM_LEGACY_DATACENTER") == "1":
        cfg["legacy_datacenter"] = True
    if os.environ.get("BURST_CONTRACT_LOG_DIR"):
        d = os.environ["BURST_CONTRACT_LOG_DIR"]
        os.makedirs(d, exist_ok=True)
        CONTRACT_LOG = os.path.join(d, "sim-%d-%d.jsonl" % (os.getpid(), int(time.time() * 1000)))
    if os.environ.get("BURST_CONTRACT_SPEC"):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "contract"))
        import openapi_check
        CONTRACT_SPEC = openapi_check.Spec(os.environ["BURST_CONTRACT_SPEC"])
    host, _, port = args.listen.rpartition(":")
    if not host.startswith("127."):
        sys.stderr.write("hcloud_sim: refusing to listen on a non-loopback address\n")
        return 2

    sim = Sim(args.machines, cfg)
    sim.api = Api(sim)
    open(os.path.join(STATE_DIR, "requests.jsonl"), "a").close()

    done = [False]

    def cleanup():
        if done[0]:
            return
        done[0] = True
        log("tearing down")
        try:
            sim.teardown()
        except Exception:
            log("teardown failed: %s", traceback.format_exc())
        log("teardown complete")
    atexit.register(cleanup)

    httpd = Server((host, int(port)), Handler)
    httpd.sim = sim
    httpd.stop_event = threading.Event()

    def on_signal(signum, frame):
        log("signal %d", signum)
        httpd.stop_event.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    sched = threading.Thread(target=sim.scheduler, daemon=True)
    sched.start()
    srv = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    srv.start()

    endpoint = "http://%s:%d/v1" % httpd.server_address[:2]
    tmp = os.path.join(STATE_DIR, "endpoint.tmp")
    with open(tmp, "w") as f:
        f.write(endpoint + "\n")
    os.rename(tmp, os.path.join(STATE_DIR, "endpoint"))
    log("listening on %s (machines=%s, pid %d)", endpoint, args.machines, os.getpid())

    try:
        while not httpd.stop_event.wait(0.2):
            if args.watch_pid and not pid_alive(args.watch_pid):
                log("watched pid %d is gone", args.watch_pid)
                break
    finally:
        log("shutting down")
        httpd.shutdown()
        httpd.server_close()
        cleanup()
        try:
            os.unlink(os.path.join(STATE_DIR, "endpoint"))
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

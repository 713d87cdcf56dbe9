#!/usr/bin/env python3
"""Self-test of the simulator's real machines: sshd in mount namespaces, loop volumes (root)."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simharness import (Simulator, SimLeak, Tap, _loop_devices_backed_by, _sshd_pids_using,
                        real_machines_unavailable)  # noqa: E402

FAST = {"durations": {"server_create": 0.1, "server_start": 0.1, "server_stop": 0.1,
                      "volume_create": 0.1, "attach": 0.1, "detach": 0.1,
                      "image_create": 0.1, "server_delete": 0.1, "bake": 0.5}}


def cloud_config(priv, pub):
    lines = ["#cloud-config", "ssh_keys:", "  ed25519_private: |"]
    lines += ["    " + ln for ln in priv.strip().splitlines()]
    lines += ["  ed25519_public: " + pub.strip(), ""]
    return "\n".join(lines)


class Ctx:
    def __init__(self, tmp):
        self.tmp = tmp
        self.kh = os.path.join(tmp, "known_hosts")

    def ssh(self, ip, cmd, key="client", timeout=30, known_hosts=None):
        argv = ["ssh", "-i", os.path.join(self.tmp, key), "-o", "StrictHostKeyChecking=yes",
                "-o", "UserKnownHostsFile=" + (known_hosts or self.kh), "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "root@" + ip, cmd]
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
            return r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired:
            return -1, "", "timeout"


def wait_for(fn, timeout=20, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def mounts_mentioning(s):
    with open("/proc/self/mountinfo") as f:
        return [ln for ln in f if s in ln]


def ip_claims(ips):
    return [ip for ip in ips if os.path.exists("/run/hcloud-sim/ip-" + ip)]


def create_server(sim, t, name, **kw):
    body = {"name": name, "server_type": "ccx13", "image": "ubuntu-24.04", "location": "hel1",
            "ssh_keys": ["client"]}
    body.update(kw)
    st, b, _ = sim.api("POST", "/servers", body)
    if st != 201:
        t.diag("create %s -> %s %s" % (name, st, b))
        return None, None
    for a in [b["action"]] + b["next_actions"]:
        sim.wait_action(a["id"])
    return b["server"]["id"], b["server"]["public_net"]["ipv4"]["ip"]


def main():
    t = Tap()
    why = real_machines_unavailable()
    if why:
        t.skip_all(why)

    with tempfile.TemporaryDirectory(prefix="sim-machines-") as tmp:
        c = Ctx(tmp)
        for k in ("client", "other", "host"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", os.path.join(tmp, k)],
                           check=True)
        pub = open(os.path.join(tmp, "client.pub")).read().strip()
        hpriv = open(os.path.join(tmp, "host")).read()
        hpub = open(os.path.join(tmp, "host.pub")).read().strip()
        ud = cloud_config(hpriv, hpub)
        ips = []
        sim = Simulator(machines="real", config=FAST, keep_state=True)
        try:
            sim.start()
            state_dir = sim.state_dir
            st, _, _ = sim.api("POST", "/ssh_keys", {"name": "client", "public_key": pub})
            t.is_(st, 201, "ssh key uploaded")

            # server A: ssh with the pinned host key
            sa, ipa = create_server(sim, t, "srv-a", user_data=ud)
            t.ok(sa is not None, "server A created")
            if sa is None:
                t.bail("cannot continue without server A")
            ips.append(ipa)
            with open(c.kh, "w") as f:
                f.write("%s %s\n" % (ipa, hpub))
            t.is_(sim.api("GET", "/servers/%d" % sa)[1]["server"]["status"], "running", "server A running")
            rc, out, err = c.ssh(ipa, "echo hello-from-$(hostname); id -u; echo $HOME")
            t.ok(rc == 0 and out == "hello-from-srv-a\n0\n/root\n",
                 "ssh into A with the user_data host key and StrictHostKeyChecking=yes")
            if rc != 0:
                t.diag(err)
            rc, _, _ = c.ssh(ipa, "true", key="other")
            t.ok(rc != 0, "a key not in the create request is refused")
            wrong_kh = os.path.join(tmp, "wrong_kh")
            with open(wrong_kh, "w") as f:
                f.write("%s %s\n" % (ipa, open(os.path.join(tmp, "client.pub")).read().strip()))
            rc, _, err = c.ssh(ipa, "true", known_hosts=wrong_kh)
            t.ok(rc != 0, "strict host key checking fails against a different host key")
            sshd_log = os.path.join(state_dir, "servers", str(sa), "sshd.log")
            n_acc = sum(1 for ln in open(sshd_log) if "Accepted publickey for root" in ln)
            t.ok(n_acc >= 1, "sshd log counts 'Accepted publickey for root' (%d)" % n_acc)
            rc, out, _ = c.ssh(ipa, "findmnt -n -o FSTYPE /mnt; findmnt -n -o FSTYPE /dev/disk; "
                                    "test -d /dev/disk/by-id && echo byid; ls -A /root")
            t.ok(rc == 0 and out.startswith("tmpfs\ntmpfs\nbyid\n"), "own tmpfs /mnt and /dev/disk/by-id")
            rc, out, _ = c.ssh(ipa, "bash -lc 'command -v cargo'")
            t.ok(rc == 0 and out.strip().endswith("cargo") if os.path.exists("/root/.cargo/env") else rc == 0,
                 "a login shell finds cargo")
            t.ok(not mounts_mentioning("sim-mnt"), "namespace mounts are not visible on the host")

            # volume on A: mount, write, leave a detached process behind
            st, b, _ = sim.api("POST", "/volumes", {"name": "vol-1", "size": 10, "server": sa, "format": "ext4",
                                                    "labels": {"role": "volume"}})
            t.is_(st, 201, "volume created with server")
            vid = b["volume"]["id"]
            for a in [b["action"]] + b["next_actions"]:
                sim.wait_action(a["id"])
            dev = "/dev/disk/by-id/scsi-0HC_Volume_%d" % vid
            token = os.urandom(8).hex()
            rc, out, err = c.ssh(ipa, "set -e; test -L %s; mkdir -p /mnt/cache; mount %s /mnt/cache; "
                                      "echo %s > /mnt/cache/data; sync; "
                                      "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!" % (dev, dev, token))
            t.ok(rc == 0, "volume link present, mounted and written on A")
            if rc != 0:
                t.diag(err)
            bg = int(out.split()[-1]) if rc == 0 and out.split() else None
            t.ok(bg and os.path.exists("/proc/%d" % bg), "detached process running on A")
            loop = [v for v in sim.state()["volumes"] if v["id"] == vid][0]["loop"]
            t.ok(loop and loop.startswith("/dev/loop"), "volume on loop device %s" % loop)

            # delete A: processes die, volume detached, data intact
            st, b, _ = sim.api("DELETE", "/servers/%d" % sa)
            sim.wait_action(b["action"]["id"])
            t.is_(sim.api("GET", "/servers/%d" % sa)[0], 404, "server A deleted")
            t.ok(wait_for(lambda: not bg or not os.path.exists("/proc/%d/ns/mnt" % bg) or
                          open("/proc/%d/stat" % bg).read().split()[2] == "Z", 5),
                 "process started over ssh died with A's namespace")
            t.ok(not _sshd_pids_using(state_dir), "A's sshd is gone")
            v = [v for v in sim.state()["volumes"] if v["id"] == vid][0]
            t.is_((v["server"], v["loop"]), (None, None), "volume detached, loop device released")
            t.ok(not _loop_devices_backed_by(state_dir), "no loop device of the simulator left")
            rc, _, _ = c.ssh(ipa, "true", timeout=15)
            t.ok(rc != 0, "A's address no longer answers ssh")

            # server B: re-attach, read back
            sb, ipb = create_server(sim, t, "srv-b", user_data=ud)
            t.ok(sb is not None, "server B created")
            ips.append(ipb)
            with open(c.kh, "w") as f:
                f.write("%s %s\n" % (ipb, hpub))
            st, b, _ = sim.api("POST", "/volumes/%d/actions/attach" % vid, {"server": sb})
            t.is_(st, 201, "attach volume to B")
            a = sim.wait_action(b["action"]["id"])
            t.is_(a["status"], "success", "attach action succeeded")
            rc, out, err = c.ssh(ipb, "hostname")
            t.is_((rc, out), (0, "srv-b\n"), "B has its own hostname")
            rc, out, err = c.ssh(ipb, "set -e; mkdir -p /mnt/cache; mount %s /mnt/cache; cat /mnt/cache/data" % dev)
            t.is_((rc, out.strip()), (0, token), "data written on A is readable on B")
            if rc != 0:
                t.diag(err)

            # detach while mounted: lazy unmount inside B
            st, b, _ = sim.api("POST", "/volumes/%d/actions/detach" % vid)
            sim.wait_action(b["action"]["id"])
            rc, out, _ = c.ssh(ipb, "findmnt -n /mnt/cache >/dev/null && echo mounted; "
                                    "test -e %s && echo link; echo end" % dev)
            t.is_((rc, out), (0, "end\n"), "detach removed the link and the mount inside B")
            t.ok(not _loop_devices_backed_by(state_dir), "loop device released after detach")

            # automount: mounted at /mnt/HC_Volume_<id>, also after a reboot of the server
            st, b, _ = sim.api("POST", "/volumes/%d/actions/attach" % vid, {"server": sb, "automount": True})
            sim.wait_action(b["action"]["id"])
            rc, out, _ = c.ssh(ipb, "cat /mnt/HC_Volume_%d/data" % vid)
            t.is_((rc, out.strip()), (0, token), "automount mounts at /mnt/HC_Volume_<id>")
            st, b, _ = sim.api("POST", "/servers/%d/actions/reboot" % sb)
            sim.wait_action(b["action"]["id"])
            rc, out, _ = c.ssh(ipb, "cat /mnt/HC_Volume_%d/data" % vid)
            t.is_((rc, out.strip()), (0, token), "automounted again after reboot")
            st, b, _ = sim.api("POST", "/volumes/%d/actions/detach" % vid)
            sim.wait_action(b["action"]["id"])

            # poweroff / poweron keep address and host key
            st, b, _ = sim.api("POST", "/servers/%d/actions/poweroff" % sb)
            sim.wait_action(b["action"]["id"])
            srv = sim.api("GET", "/servers/%d" % sb)[1]["server"]
            t.is_(srv["status"], "off", "poweroff -> off")
            t.ok(c.ssh(ipb, "true", timeout=15)[0] != 0, "no ssh while off")
            st, b, _ = sim.api("POST", "/servers/%d/actions/poweron" % sb)
            sim.wait_action(b["action"]["id"])
            srv = sim.api("GET", "/servers/%d" % sb)[1]["server"]
            t.is_((srv["status"], srv["public_net"]["ipv4"]["ip"]), ("running", ipb), "poweron -> running, same ip")
            t.is_(c.ssh(ipb, "echo back")[:2], (0, "back\n"), "ssh again with the same host key")

            # a bake server powers itself off; create_image from it
            sc, ipc = create_server(sim, t, "bake-1", user_data="#!/bin/sh\necho baking\n")
            ips.append(ipc)
            t.ok(wait_for(lambda: sim.api("GET", "/servers/%d" % sc)[1]["server"]["status"] == "off", 10),
                 "bake server powers off by itself")
            st, b, _ = sim.api("POST", "/servers/%d/actions/create_image" % sc,
                               {"description": "baked", "labels": {"role": "image"}})
            sim.wait_action(b["action"]["id"])
            img = sim.api("GET", "/images/%d" % b["image"]["id"])[1]["image"]
            t.is_((img["status"], img["type"]), ("available", "snapshot"), "snapshot from the bake server")
            sd, ipd = create_server(sim, t, "from-image", image=str(img["id"]), user_data=ud)
            ips.append(ipd)
            with open(c.kh, "w") as f:
                f.write("%s %s\n" % (ipd, hpub))
            t.is_(c.ssh(ipd, "echo img")[:2], (0, "img\n"), "server from the snapshot answers ssh")
        finally:
            leak = None
            try:
                sim.stop()
            except SimLeak as e:
                leak = str(e)
        t.ok(leak is None, "simulator shutdown left no sshd or loop device" + (": " + leak if leak else ""))
        t.is_(ip_claims(ips), [], "address claims released")
        t.is_(mounts_mentioning(sim.state_dir or "/nonexistent"), [], "no mount of the simulator left")
        if sim.state_dir and not os.environ.get("BURST_KEEP_SIM"):
            shutil.rmtree(sim.state_dir, ignore_errors=True)
        elif sim.state_dir:
            t.diag("state kept in %s" % sim.state_dir)

        # crash path: SIGTERM with a running server and an attached volume
        sim2 = Simulator(machines="real", config=FAST, keep_state=True)
        try:
            sim2.start()
            sim2.api("POST", "/ssh_keys", {"name": "client", "public_key": pub})
            se, ipe = create_server(sim2, t, "term-1", user_data=ud)
            st, b, _ = sim2.api("POST", "/volumes", {"name": "vol-t", "size": 10, "server": se, "format": "ext4"})
            for a in [b["action"]] + b["next_actions"]:
                sim2.wait_action(a["id"])
            with open(c.kh, "w") as f:
                f.write("%s %s\n" % (ipe, hpub))
            rc, _, _ = c.ssh(ipe, "mkdir -p /mnt/x && mount /dev/disk/by-id/scsi-0HC_Volume_%d /mnt/x"
                             % b["volume"]["id"])
            t.is_(rc, 0, "second simulator: volume mounted in a server")
            t.ok(_sshd_pids_using(sim2.state_dir) and _loop_devices_backed_by(sim2.state_dir),
                 "second simulator has an sshd and a loop device")
            sim2.proc.send_signal(signal.SIGTERM)
            try:
                rc = sim2.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                rc = None
            t.is_(rc, 0, "SIGTERM: simulator exits cleanly")
            t.ok(not _sshd_pids_using(sim2.state_dir) and not _loop_devices_backed_by(sim2.state_dir)
                 and not ip_claims([ipe]), "SIGTERM: sshd, loop device and address claim are gone")
        finally:
            try:
                sim2.stop()
            except SimLeak as e:
                t.diag("cleanup after SIGTERM test: %s" % e)
            if sim2.state_dir:
                shutil.rmtree(sim2.state_dir, ignore_errors=True)

        # SIGKILL: nothing can clean up, but sshd dies with it (setpriv --pdeathsig)
        sim3 = Simulator(machines="real", config=FAST, keep_state=True)
        try:
            sim3.start()
            sim3.api("POST", "/ssh_keys", {"name": "client", "public_key": pub})
            sf, ipf = create_server(sim3, t, "kill-1")
            t.ok(_sshd_pids_using(sim3.state_dir), "third simulator runs an sshd")
            sim3.proc.kill()
            sim3.proc.wait(timeout=10)
            t.ok(wait_for(lambda: not _sshd_pids_using(sim3.state_dir), 10),
                 "SIGKILL of the simulator: its sshd dies too")
        finally:
            try:
                sim3.stop()
            except SimLeak as e:
                t.diag("cleanup after SIGKILL test: %s" % e)
            for ip in ip_claims([ipf] if "ipf" in dir() else []):
                os.unlink("/run/hcloud-sim/ip-" + ip)
            if sim3.state_dir:
                shutil.rmtree(sim3.state_dir, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())

"""simharness.py - start the local Hetzner simulator from Python tests.

    import os, sys
    sys.path.insert(0, os.path.join(os.environ["BURST_SOURCE_ROOT"], "tests", "sim"))
    from simharness import Simulator, Tap

    with Simulator(machines="none", config={"durations": {"server_create": 0}}) as sim:
        status, body, headers = sim.api("GET", "/servers")

See tests/sim/README.md for the simulator's contract.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "hcloud_sim.py")


class SimLeak(Exception):
    pass


def _sigterm_to_exit():
    """Turn SIGTERM/SIGHUP (meson's timeout) into SystemExit so `with Simulator()`
    and finally blocks run; only if the test left the default handler."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, on_term)


def real_machines_unavailable():
    """None if --machines real can run here, else the reason (for a TAP skip)."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces, loop devices, port 22 on loopback)"
    for prog in ("/usr/sbin/sshd", "ssh", "ssh-keygen", "unshare", "nsenter", "losetup", "mkfs.ext4"):
        if not shutil.which(prog):
            return "%s not installed" % prog
    if not os.path.exists("/dev/loop-control"):
        return "no loop device support (/dev/loop-control missing)"
    return None


def _loop_devices_backed_by(prefix):
    """Loop devices whose backing file lies under prefix."""
    out = []
    base = "/sys/block"
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for n in names:
        if not n.startswith("loop"):
            continue
        try:
            with open(os.path.join(base, n, "loop", "backing_file")) as f:
                bf = f.read().strip()
        except OSError:
            continue
        if bf.startswith(prefix.rstrip("/") + "/"):
            out.append("/dev/" + n)
    return out


def _sshd_pids_using(prefix):
    """sshd processes whose command line names a config under prefix."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        # sshd rewrites its title ("sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] ..."),
        # so look at the whole command line, not at argv elements.
        line = b" ".join(cmd)
        if cmd and b"sshd" in cmd[0] and (b" " + prefix.rstrip("/").encode() + b"/") in line:
            out.append(int(d))
    return out


class Simulator:
    """Context manager that runs hcloud_sim.py in a fresh state directory."""

    def __init__(self, state_dir=None, machines="real", config=None, token="test-token",
                 start_timeout=20.0, keep_state=False):
        self.machines = machines
        self.config = config
        self.token = token
        self.start_timeout = start_timeout
        self._own_dir = state_dir is None
        self.keep_state = keep_state
        self.state_dir = os.path.abspath(state_dir) if state_dir else None
        self.proc = None
        self.endpoint = None
        self.base = None

    # lifecycle -----------------------------------------------------------
    def start(self):
        if self.state_dir is None:
            self.state_dir = tempfile.mkdtemp(prefix="hcloud-sim-")
        os.makedirs(self.state_dir, exist_ok=True)
        cmd = [sys.executable, SIM, "--state-dir", self.state_dir, "--machines", self.machines,
               "--watch-pid", str(os.getpid())]
        _sigterm_to_exit()
        if self.config:
            cfg_path = os.path.join(self.state_dir, "config.json")
            with open(cfg_path, "w") as f:
                json.dump(self.config, f)
            cmd += ["--config", cfg_path]
        self._stderr = open(os.path.join(self.state_dir, "sim.stderr"), "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._stderr,
                                     stderr=self._stderr)
        ep = os.path.join(self.state_dir, "endpoint")
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if os.path.exists(ep):
                with open(ep) as f:
                    self.endpoint = f.read().strip()
                if self.endpoint:
                    break
            if self.proc.poll() is not None:
                with open(os.path.join(self.state_dir, "sim.stderr")) as f:
                    err = f.read()
                raise RuntimeError("simulator exited with %d: %s" % (self.proc.returncode, err.strip()))
            time.sleep(0.02)
        else:
            self._kill()
            raise RuntimeError("simulator did not write %s within %.0fs" % (ep, self.start_timeout))
        self.base = self.endpoint[:-len("/v1")]
        return self

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self._cleanup_dir()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self, timeout=30.0):
        """Shut the simulator down and raise SimLeak if anything of it survived."""
        if self.proc is None:
            self._cleanup_dir()
            return
        if self.proc.poll() is None:
            try:
                self._control("POST", "/_sim/shutdown", {}, timeout=5)
            except Exception:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._kill()
        self.proc = None
        self._stderr.close()
        leaks = []
        if self.state_dir:
            pids = _sshd_pids_using(self.state_dir)
            loops = _loop_devices_backed_by(self.state_dir)
            if pids:
                leaks.append("sshd still running: %s" % pids)
                for p in pids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
            if loops:
                leaks.append("loop devices still attached: %s" % loops)
                for dev in loops:
                    subprocess.run(["losetup", "-d", dev], check=False)
        self._cleanup_dir()
        if leaks:
            raise SimLeak("; ".join(leaks))

    def _cleanup_dir(self):
        if self._own_dir and not self.keep_state and self.state_dir and not os.environ.get("BURST_KEEP_SIM"):
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # HTTP ----------------------------------------------------------------
    def _request(self, method, url, body=None, headers=None, timeout=30):
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None), dict(r.headers)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                obj = json.loads(raw) if raw else None
            except ValueError:
                obj = raw
            return e.code, obj, dict(e.headers)

    def _control(self, method, path, body=None, timeout=30):
        status, obj, _ = self._request(method, self.base + path, body, timeout=timeout)
        if status >= 300:
            raise RuntimeError("control %s %s -> %d %s" % (method, path, status, obj))
        return obj

    def api(self, method, path, body=None, token=None, timeout=30):
        """Call the API (path relative to /v1); returns (status, json or None, headers)."""
        tok = self.token if token is None else token
        headers = {"Authorization": "Bearer " + tok} if tok else {}
        headers["X-Sim-Harness"] = "1"  # the request log marks it as the test's own call
        return self._request(method, self.endpoint + path, body, headers, timeout)

    def configure(self, cfg):
        return self._control("POST", "/_sim/config", cfg)

    def requests(self):
        return self._control("GET", "/_sim/requests")

    def reset_requests(self):
        self._control("POST", "/_sim/requests/reset", {})

    def state(self):
        return self._control("GET", "/_sim/state")

    def seed_image(self, labels=None, description="cargo-burst image", image_size=2.5,
                   architecture=None):
        body = {"labels": labels or {}, "description": description, "image_size": image_size}
        if architecture:
            body["architecture"] = architecture  # "x86" (the default) or "arm"
        return self._control("POST", "/_sim/images", body)

    def wait_action(self, action_id, timeout=30):
        """Poll an action until it leaves running; return it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, body, _ = self.api("GET", "/actions/%d" % action_id)
            if st == 200 and body["action"]["status"] != "running":
                return body["action"]
            time.sleep(0.05)
        raise TimeoutError("action %d still running after %ss" % (action_id, timeout))

    def env(self):
        """Environment variables that point cargo-burst at this simulator."""
        return {"HCLOUD_ENDPOINT": self.endpoint, "HCLOUD_TOKEN": self.token}


# The one TAP writer of the Python tests (tests/taplib.py); the name Tap
# stays importable from here.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap  # noqa: E402,F401

"""e2elib.py - shared helpers of the end-to-end tests (suite 'e2e').

Every test runs the built binary ($CARGO_BURST) against the local simulator
with real machines (sshd per server, loop-device volumes), in a world of its
own: a temporary HOME with XDG dirs, a fresh user ssh key, a global config
with short durations, and a copy of a fixture crate.

    with World(tap, sim) as w:
        ws = w.fixture("hello")
        r = w.burst(["build"], cwd=ws)

or, for the usual test, world_main(run_all): root and tools (else a skip),
a seeded simulator and one World, handed to run_all(tap, sim, w); and
w.burst_ok() for a run that must succeed (a cold build before the checks);
w.source_tree() for the project's tree on a server's volume, w.traced_check()
and push_kind() for how a run synced; Poller for a thread that samples or
acts while a run goes on.

World.close() kills every process that still carries the world's HOME in
its environment (ssh masters, reapers), so nothing outlives a test.
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

SOURCE_ROOT = os.environ.get("BURST_SOURCE_ROOT",
                             os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "sim"))

import simharness  # noqa: E402
from simharness import Simulator, Tap  # noqa: E402,F401

FIXTURES = os.path.join(SOURCE_ROOT, "tests", "fixtures")
IMAGE_LABELS = {"managed-by": "cargo-burst", "role": "image", "version": "test"}
# A cargo-nextest stand-in for a server's ~/.local/bin (World.fake_nextest):
# it says FAKE-NEXTEST and runs `cargo test --tests` with the run's arguments.
FAKE_NEXTEST = """#!/bin/sh
# cargo-nextest stand-in: `cargo nextest --version` / `cargo nextest run ARGS`
shift
if [ "$1" = "--version" ]; then echo "cargo-nextest 0.0.0-fake"; exit 0; fi
shift
echo "FAKE-NEXTEST run $*" >&2
exec cargo test --tests "$@"
"""


def need_root_and_tools(tap):
    """Skip the whole test unless it can run real machines."""
    why = getattr(simharness, "real_machines_unavailable", lambda: None)()
    if why:
        tap.skip_all(why)
    if os.geteuid() != 0:
        tap.skip_all("needs root (namespaces, loop devices, sshd on port 22)")
    for prog in ("ssh", "rsync", "ssh-keygen", "/usr/sbin/sshd", "unshare", "nsenter", "losetup"):
        if not shutil.which(prog) and not os.path.exists(prog):
            tap.skip_all("%s is not installed" % prog)
    if not os.environ.get("CARGO_BURST") or not os.path.exists(os.environ["CARGO_BURST"]):
        tap.skip_all("CARGO_BURST does not name the built binary")
    if not cargo_path():
        tap.skip_all("cargo is not installed")


def cargo_path():
    for c in (shutil.which("cargo"), "/root/.cargo/bin/cargo"):
        if c and os.path.exists(c):
            return c
    return None


class Result:
    def __init__(self, code, out, err, elapsed):
        self.code = code
        self.out = out
        self.err = err
        self.elapsed = elapsed

    def __repr__(self):
        return "exit %s after %.1fs\n--- stdout\n%s--- stderr\n%s" % (
            self.code, self.elapsed, self.out, self.err)


def kill_env_holders(marker, path=None):
    """Kill every process whose environment contains marker (HOME=...) or
    whose command line mentions path (ssh masters rewrite their environment
    area with the process title, which names the control socket)."""
    needle = marker.encode()
    me = os.getpid()
    victims = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if needle in env or (path and path.encode() in cmd):
            victims.append(int(d))
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return victims


def wait_for(cond, timeout, step=0.2):
    """Poll cond() until it is true or timeout seconds passed; returns its last value."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


def pid_alive(pid):
    """Is pid a running process (not gone, not a zombie)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class World:
    """A temporary user: HOME, XDG dirs, ssh key, config; cleans up on exit."""

    def __init__(self, tap, sim, config=None, project_config=None):
        self.tap = tap
        self.sim = sim
        self.dir = tempfile.mkdtemp(prefix="burst-e2e-")
        self.home = os.path.join(self.dir, "home")
        self.work = os.path.join(self.dir, "work")
        os.makedirs(os.path.join(self.home, ".ssh"), mode=0o700)
        os.makedirs(self.work)
        self.key = os.path.join(self.home, ".ssh", "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", self.key],
                       check=True, timeout=30)
        self.config_dir = os.path.join(self.home, ".config", "cargo-burst")
        os.makedirs(self.config_dir)
        cfg = {
            "regions": ["fsn1", "nbg1"],
            "server_type": "cpx11",
            "keep_alive_secs": 600,
            "volume_keep_alive_secs": 3600,
            "volume_gb": 10,
        }
        cfg.update(config or {})
        self.write_config(cfg)
        self.state_dir = os.path.join(self.home, ".local", "state", "cargo-burst")

    def write_config(self, cfg):
        lines = ['ssh_key_path = "%s"' % self.key]
        for k, v in cfg.items():
            if k in ("regions", "server_type"):
                continue
            lines.append("%s = %s" % (k, json.dumps(v)))
        lines.append("[hetzner]")
        for k in ("regions", "server_type"):
            if k in cfg:
                lines.append("%s = %s" % (k, json.dumps(cfg[k])))
        with open(os.path.join(self.config_dir, "config.toml"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        killed = kill_env_holders("HOME=" + self.home, self.dir)
        if killed:
            self.tap.diag("killed leftover processes of the test: %s" % killed)
        unmount_volumes(self.sim)
        if not os.environ.get("BURST_KEEP_E2E"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def fixture(self, name, dest=None):
        dest = os.path.join(self.work, dest or name)
        shutil.copytree(os.path.join(FIXTURES, name), dest)
        return dest

    def env(self, extra=None):
        env = {
            "PATH": os.path.dirname(cargo_path()) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": self.home,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_STATE_HOME": os.path.join(self.home, ".local", "state"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", "/root/.rustup"),
            "CARGO_HOME": os.environ.get("CARGO_HOME", "/root/.cargo"),
            "CARGO_TERM_COLOR": "never",
            "LANG": "C.UTF-8",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "BURST_TRACE", "BURST_LOG"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(self.sim.env())
        env.update(extra or {})
        return env

    def start(self, args, cwd, env=None, **kw):
        """Start cargo-burst without waiting (for Ctrl-C tests)."""
        return subprocess.Popen([os.environ["CARGO_BURST"], "burst"] + list(args), cwd=cwd,
                                env=self.env(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, **kw)

    def burst(self, args, cwd, env=None, timeout=240, **kw):
        """Run the tool to its end (its process group killed after timeout
        seconds); a Result.  kw goes to start() (e.g. preexec_fn)."""
        t0 = time.time()
        p = self.start(args, cwd, env, **kw)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            err += "\n[test: killed after %ss]\n" % timeout
        r = Result(p.returncode, out, err, time.time() - t0)
        if os.environ.get("BURST_E2E_VERBOSE"):
            self.tap.diag("cargo burst %s: %r" % (" ".join(args), r))
        return r

    def burst_ok(self, args, cwd, desc, env=None, timeout=240):
        """Run the tool; one row: it exits 0 (with its output when not).
        The result; callers stop where nothing after makes sense."""
        r = self.burst(args, cwd, env=env, timeout=timeout)
        if not self.tap.is_(r.code, 0, desc):
            self.tap.diag(repr(r))
        return r

    def cold_build(self, desc, fixture="hello"):
        """A fresh copy of fixture and its first `build` with the simulator's
        request log emptied before it; one row: it succeeds (burst_ok).
        (the workspace, the result)."""
        ws = self.fixture(fixture)
        self.sim.reset_requests()
        return ws, self.burst_ok(["build"], ws, desc)

    # inspection helpers ----------------------------------------------------
    def api_calls(self):
        """The simulator's request log (method, path) without the control API."""
        return [(r["method"], r["path"]) for r in self.sim.requests()]

    def servers(self):
        st, body, _ = self.sim.api("GET", "/servers")
        return body["servers"] if st == 200 else []

    def volumes(self):
        st, body, _ = self.sim.api("GET", "/volumes")
        return body["volumes"] if st == 200 else []

    def server_home(self, server_id):
        """The host directory that is /root on a simulated server."""
        return os.path.join(self.sim.state_dir, "servers", str(server_id), "home")

    def server_path(self, server_id, path):
        """Where path inside a simulated server's mount namespace is (e.g.
        /mnt/cache/<hash>/src on its volume), through its sshd's /proc root;
        None when the server runs no sshd."""
        for s in self.sim.state().get("servers", []):
            pid = (s.get("_internal") or {}).get("sshd_pid")
            if s.get("id") == server_id and pid:
                return "/proc/%d/root%s" % (pid, path)
        return None

    def source_tree(self, package=None):
        """(server id, hash, path) of the project's source tree on its
        volume (/mnt/cache/<hash>/src holding a Cargo.toml) on one of the
        servers, the path as seen from here (server_path); with package,
        only a tree whose Cargo.toml names that package.  (None, None, None)
        when no server holds one."""
        for s in self.servers():
            base = self.server_path(s["id"], "/mnt/cache")
            for h in os.listdir(base) if base and os.path.isdir(base) else []:
                d = os.path.join(base, h, "src")
                try:
                    with open(os.path.join(d, "Cargo.toml")) as f:
                        manifest = f.read()
                except OSError:
                    continue
                if package is None or 'name = "%s"' % package in manifest:
                    return s["id"], h, d
        return None, None, None

    def traced_check(self, ws):
        """`cargo burst check` in ws with BURST_TRACE=1 (push_kind(r.err))."""
        return self.burst(["check"], cwd=ws, env={"BURST_TRACE": "1"})

    def cold_check(self):
        """A fresh copy of hello and its first traced_check(); one row: it
        succeeds with a full push (the tail of its stderr when not).
        (the workspace, whether it did)."""
        ws = self.fixture("hello")
        r = self.traced_check(ws)
        ok = self.tap.ok(r.code == 0 and push_kind(r.err) == "full", "cold check: a full push")
        if not ok:
            self.tap.diag(r.err[-3000:])
        return ws, ok

    def fake_nextest(self, server_id):
        """Put FAKE_NEXTEST as cargo-nextest into the server's ~/.local/bin;
        its path (on this machine)."""
        nbin = os.path.join(self.server_home(server_id), ".local", "bin")
        os.makedirs(nbin, exist_ok=True)
        path = os.path.join(nbin, "cargo-nextest")
        with open(path, "w") as f:
            f.write(FAKE_NEXTEST)
        os.chmod(path, 0o755)
        return path

    def reapers(self):
        """{"__reap-server": [pid, ...], ...}: live reapers of this state directory."""
        out = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            verbs = [a.decode() for a in cmd if a.startswith(b"__reap-")]
            if verbs and any(a.startswith(self.state_dir.encode()) for a in cmd) and \
                    pid_alive(int(d)):
                out.setdefault(verbs[0], []).append(int(d))
        return out

    def delete_server(self, server_id):
        st, body, _ = self.sim.api("DELETE", "/servers/%d" % server_id)
        if st == 200:
            self.sim.wait_action(body["action"]["id"])
        deadline = time.time() + 20
        while time.time() < deadline:
            st, _, _ = self.sim.api("GET", "/servers/%d" % server_id)
            if st == 404:
                return True
            time.sleep(0.1)
        return False



def push_kind(err):
    """The kind of the source push a traced run's stderr names ("full",
    "incremental", "nothing changed"), or None."""
    for line in err.splitlines():
        if line.startswith("trace: remote: push of "):
            return line.rsplit("(", 1)[1].rstrip(")")
    return None


class Poller:
    """A background thread that calls self.poll() every interval seconds
    while a run goes on: a context manager (started on enter, stopped and
    joined on exit).  Subclasses define poll()."""

    interval = 0.1

    def __init__(self):
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def poll(self):
        raise NotImplementedError

    def loop(self):
        while not self.stop_flag.is_set():
            self.poll()
            time.sleep(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(timeout=5)
        return False


class StandinInstaller(Poller):
    """Copy a stand-in program into every simulated server's ~/.local/bin
    as name, as the servers appear (a Poller)."""

    interval = 0.02

    def __init__(self, sim, standin, name):
        super().__init__()
        self.root = os.path.join(sim.state_dir, "servers")
        self.standin = standin
        self.name = name
        self.done = set()

    def poll(self):
        try:
            ids = os.listdir(self.root)
        except OSError:
            ids = []
        for sid in ids:
            home = os.path.join(self.root, sid, "home")
            if sid in self.done or not os.path.isdir(home):
                continue
            dest = os.path.join(home, ".local", "bin")
            try:
                os.makedirs(dest, exist_ok=True)
                shutil.copy2(self.standin, os.path.join(dest, self.name))
                self.done.add(sid)
            except OSError:
                pass


def unmount_volumes(sim):
    """Unmount the project volumes inside every simulated server, so that
    the simulator's teardown can detach their loop devices at once."""
    try:
        servers = sim.state().get("servers", [])
    except Exception:
        return
    for s in servers:
        pid = (s.get("_internal") or {}).get("sshd_pid")
        if not pid:
            continue
        subprocess.run(["nsenter", "--mount=/proc/%d/ns/mnt" % pid, "--", "/bin/sh", "-c",
                        "for m in $(awk '$2 ~ \"^/mnt/cache/\" {print $2}' /proc/self/mounts); "
                        "do umount \"$m\" || umount -l \"$m\"; done"],
                       check=False, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def new_sim(config=None):
    cfg = {"durations": {"server_create": 0.2, "server_start": 0.2, "volume_create": 0.1,
                         "attach": 0.1, "detach": 0.1, "server_delete": 0.1}}
    if config:
        for k, v in config.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
    return Simulator(machines="real", config=cfg)


def seed(sim):
    return sim.seed_image(labels=IMAGE_LABELS, description="cargo-burst test image")


def world_main(run_all, sim_config=None, **world_kw):
    """The main() of an e2e test: skip unless real machines can run, then
    run_all(tap, sim, w) with a seeded simulator (new_sim(sim_config)) and
    one World (World(tap, sim, **world_kw)); the exit status."""
    tap = Tap()
    need_root_and_tools(tap)
    with new_sim(sim_config) as sim:
        seed(sim)
        with World(tap, sim, **world_kw) as w:
            run_all(tap, sim, w)
    return tap.done()


# ---- a plain sshd for the bring-your-own-host tests ------------------------

def byoh_main(run_all, trust=True):
    """The main() of a bring-your-own-host test: skip unless real machines
    can run, then run_all(tap, sim, w, sshd) with a simulator without
    machines (its request log shows any API call), one World and a
    PlainSshd whose host key the world trusts (unless trust is False);
    the exit status."""
    tap = Tap()
    need_root_and_tools(tap)
    with Simulator(machines="none") as sim:
        with World(tap, sim) as w:
            with PlainSshd(w) as sshd:
                if trust:
                    sshd.trust()
                run_all(tap, sim, w, sshd)
    return tap.done()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PlainSshd:
    """A private sshd on 127.0.0.1:<random port> that lets the world's key in
    as root, for `--host root@127.0.0.1:PORT`.  It runs in a mount namespace
    of its own where ~/.cache is a temporary directory (self.cache), so the
    tool's per-project directory never lands in the real /root/.cache.
    stop() kills sshd and every process left in its namespace.

        with PlainSshd(w) as sshd:
            w.trust(sshd)                 # its key into ~/.ssh/known_hosts
            w.burst(["build", "--host", sshd.spec], cwd=ws)
    """

    def __init__(self, world):
        self.world = world
        self.dir = os.path.join(world.dir, "sshd")
        self.cache = os.path.join(self.dir, "cache")
        self.port = free_port()
        self.proc = None
        self.made_cache = False
        self.spec = "root@127.0.0.1:%d" % self.port
        self.home = os.path.expanduser("~root")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        os.makedirs(self.cache)
        os.makedirs("/run/sshd", exist_ok=True)
        hostkey = os.path.join(self.dir, "hostkey")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "byoh", "-f", hostkey],
                       check=True, timeout=30)
        with open(hostkey + ".pub") as f:
            self.host_pub = " ".join(f.read().split()[:2])
        ak = os.path.join(self.dir, "authorized_keys")
        shutil.copy(self.world.key + ".pub", ak)
        cfg = os.path.join(self.dir, "sshd_config")
        with open(cfg, "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\n"
                    "AuthorizedKeysFile %s\nStrictModes no\nUsePAM no\n"
                    "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nLogLevel VERBOSE\n"
                    "AllowTcpForwarding yes\nMaxSessions 50\nMaxStartups 50\n"
                    "AcceptEnv BURST_PROBE HCLOUD_*\n"
                    "Subsystem sftp internal-sftp\n" % (self.port, hostkey, ak))
        self.made_cache = not os.path.isdir(os.path.join(self.home, ".cache"))
        os.makedirs(os.path.join(self.home, ".cache"), exist_ok=True)
        script = 'mount --bind "$1" "$2" && exec /usr/sbin/sshd -D -e -f "$3"'
        self.log = open(os.path.join(self.dir, "sshd.log"), "w")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh",
             self.cache, os.path.join(self.home, ".cache"), cfg],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)
        import socket
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        with open(os.path.join(self.dir, "sshd.log")) as f:
            raise RuntimeError("the plain sshd did not start: %s" % f.read())

    def known_hosts_line(self):
        return "[127.0.0.1]:%d %s\n" % (self.port, self.host_pub)

    def trust(self):
        """Add the host key to the world's ~/.ssh/known_hosts (as a user would)."""
        with open(os.path.join(self.world.home, ".ssh", "known_hosts"), "a") as f:
            f.write(self.known_hosts_line())

    def project_dir(self):
        """The one per-project directory the tool made on this host, or None."""
        base = os.path.join(self.cache, "cargo-burst")
        dirs = sorted(os.listdir(base)) if os.path.isdir(base) else []
        return os.path.join(base, dirs[0]) if len(dirs) == 1 else None

    def stop(self):
        if not self.proc:
            return
        try:
            ns = os.readlink("/proc/%d/ns/mnt" % self.proc.pid)
        except OSError:
            ns = None
        victims = []
        if ns and ns != os.readlink("/proc/self/ns/mnt"):
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        if os.readlink("/proc/%s/ns/mnt" % d) == ns:
                            victims.append(int(d))
                    except OSError:
                        pass
        for pid in victims + [self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()
        self.proc = None
        if self.made_cache:
            try:
                os.rmdir(os.path.join(self.home, ".cache"))  # only when still empty
            except OSError:
                pass

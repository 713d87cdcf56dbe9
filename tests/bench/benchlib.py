"""benchlib.py - shared helpers of the benchmarks (suite 'bench').

A benchmark prints TAP: "ok" when a figure was measured, and the target
verdict in the description.  A missed target is reported as
"not ok N - ... # TODO target not met" (meson counts it as an expected
failure, so noise never fails the run); a measurement that could not be
taken at all is a plain "not ok".  Every figure is also printed on a
machine-readable line

    # BENCH {"bench": ..., "item": ..., "figure": ..., ...}

and all of them are written to $BURST_BUILD_ROOT/bench-results/<bench>.json,
which tests/bench/run-all.py turns into BENCHMARKS.md.
"""

import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("BURST_SOURCE_ROOT", os.path.abspath(os.path.join(HERE, "..", "..")))
os.environ.setdefault("BURST_SOURCE_ROOT", SOURCE_ROOT)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "sim"))

import e2elib  # noqa: E402,F401
from e2elib import (Tap, World, kill_env_holders, need_root_and_tools, new_sim,  # noqa: E402,F401
                    seed)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def median(xs):
    return statistics.median(xs) if xs else None


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


class Report:
    """Collects the figures of one benchmark and prints them as TAP."""

    def __init__(self, bench):
        # meson's timeout sends SIGTERM: unwind through the with/finally
        # blocks so that the simulator, the world and temp dirs are cleaned up.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _exit_on_signal)
        self.bench = bench
        self.tap = Tap()
        self.rows = []
        self.t0 = time.time()

    def diag(self, msg):
        self.tap.diag(msg)

    def measured(self, item, name, value, unit, target=None, met=None, detail=None, **extra):
        """One figure.  target is text ("<= 1.15"); met None = no target."""
        row = {"bench": self.bench, "item": item, "name": name, "value": value, "unit": unit,
               "target": target, "met": met, "detail": detail}
        row.update(extra)
        self.rows.append(row)
        print("# BENCH " + json.dumps(row, sort_keys=True), flush=True)
        if unit == "x" and value is not None:
            shown = "%s: %.2f x" % (name, value)
        else:
            shown = "%s: %s %s" % (name, fmt(value), unit)
        if target is not None:
            shown += " (target %s: %s)" % (target, "met" if met else "NOT met")
        if detail:
            shown += " [%s]" % detail
        if met is False:
            self.tap.todo(False, shown, "target not met")
        else:
            self.tap.ok(value is not None, shown)

    def failed(self, what, info=None):
        """A measurement could not be taken: a real failure."""
        self.rows.append({"bench": self.bench, "item": what, "name": what, "value": None,
                          "unit": "", "target": None, "met": None, "detail": "not measured"})
        self.tap.ok(False, "%s: could not be measured" % what)
        if info is not None:
            self.diag(info)

    def finish(self):
        out_dir = os.path.join(os.environ.get("BURST_BUILD_ROOT", tempfile.gettempdir()),
                               "bench-results")
        os.makedirs(out_dir, exist_ok=True)
        tmp = os.path.join(out_dir, ".%s.json.tmp" % self.bench)
        with open(tmp, "w") as f:
            json.dump({"bench": self.bench, "finished": time.time(),
                       "seconds": round(time.time() - self.t0, 1), "rows": self.rows}, f,
                      indent=1, sort_keys=True)
        os.rename(tmp, os.path.join(out_dir, "%s.json" % self.bench))
        return self.tap.done()


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.3g" % v
    return str(v)


# ---- the tool's own commands, read from its trace ----------------------------

class Plan:
    """What a traced warm run did: ssh options, host, remote dirs, sync rules."""

    def __init__(self, trace):
        self.rsync = None
        self.rules = []
        self.target_dir = None
        self.ssh = None
        self.host = None
        self.local = None
        self.remote = None
        lines = trace.splitlines()
        for i, line in enumerate(lines):
            if (line.startswith("trace: proc: run: rsync ") and self.rsync is None and
                    ("--delete" in line or "--files-from=-" in line)):
                argv = shlex.split(line[len("trace: proc: run: "):])
                self.rsync = argv
                self.ssh = shlex.split(argv[argv.index("-e") + 1])
                self.local = argv[-2]
                self.host, self.remote = argv[-1].split(":", 1)
            elif (line.startswith(("trace: pipeline: sync rules:", "trace: remote: sync rules:"))
                  and not self.rules):
                for r in lines[i + 1:]:
                    if not r.strip():
                        break
                    self.rules.append(r)
            if self.target_dir is None and "CARGO_TARGET_DIR=" in line:
                v = line.split("CARGO_TARGET_DIR=", 1)[1]
                self.target_dir = v.split("'")[0].split(";")[0].strip()
        if self.rsync is None:
            # an indexed push with nothing (or little) to send runs no rsync:
            # the options of an ssh over the master (the command after "--"
            # may span lines) and the push's own trace line (the dirs)
            for line in lines:
                if line.startswith("trace: proc: run: ssh ") and " -T -- " in line:
                    head, rest = line[len("trace: proc: run: "):].split(" -T -- ", 1)
                    self.ssh = shlex.split(head)
                    self.host = rest.split()[0]
                m = re.match(r"trace: remote: push of (.*/) to ([^:]+):(.*/) \(", line)
                if m:
                    self.local, self.remote = m.group(1), m.group(3)
            if self.ssh and self.local:
                self.rsync = []
        self.ok = bool(self.rsync is not None and self.ssh and self.host and self.remote
                       and self.target_dir)

    def rules_file(self, directory):
        path = os.path.join(directory, "sync-rules")
        with open(path, "w") as f:
            f.write("\n".join(self.rules) + "\n")
        return path

    def ssh_argv(self, *remote_cmd, master=True):
        argv = list(self.ssh)
        if not master:
            kept = []
            for a in argv:
                if a.startswith("Control") and kept and kept[-1] == "-o":
                    kept.pop()
                elif not a.startswith("Control"):
                    kept.append(a)
            argv = kept
            argv += ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
        return argv + ["-T", "--", self.host] + list(remote_cmd)

    def raw_rsync_argv(self, rules_path, local=None, remote=None):
        """The minimal hand-written sync: rsync -a --delete, same rules, same master."""
        return ["rsync", "-a", "--delete", "--filter=. " + rules_path, "-e",
                " ".join(shlex.quote(a) for a in self.ssh),
                (local or self.local), "%s:%s" % (self.host, remote or self.remote)]


def timed(argv, env=None, cwd=None, timeout=600):
    t = time.monotonic()
    r = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    return time.monotonic() - t, r


# ---- sshd logins and the tool's own footprint --------------------------------

def ssh_logins(sim):
    """Total 'Accepted publickey' lines over every server's sshd log."""
    n = 0
    for s in sim.state().get("servers", []):
        log = (s.get("_internal") or {}).get("sshd_log")
        if log and os.path.exists(log):
            with open(log, errors="replace") as f:
                n += sum(1 for line in f if "Accepted publickey" in line)
    return n


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def proc_cpu_ticks(pid):
    """utime + stime of pid itself (not its children), in clock ticks."""
    st = _read("/proc/%d/stat" % pid)
    if st is None:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def proc_sched_ns(pid):
    """Sum of the CPU time of pid's threads from schedstat (ns)."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for t in tids:
        s = _read("/proc/%d/task/%s/schedstat" % (pid, t))
        if s:
            total += int(s.split()[0])
    return total


def proc_status_kb(pid, key):
    s = _read("/proc/%d/status" % pid)
    if not s:
        return None
    for line in s.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def run_footprint(argv, env, cwd, timeout=240):
    """Run the tool alone and measure it, not its children: CPU from
    /proc/<pid>/stat (own utime+stime, read while it is a zombie, before it
    is reaped: waitid WNOWAIT) and per-thread schedstat (ns, polled), peak
    RSS from VmHWM polled every 2 ms (the last value before exit)."""
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    err_chunks = []
    import threading
    th = threading.Thread(target=lambda: err_chunks.append(p.stderr.read()), daemon=True)
    th.start()
    hwm = 0
    anon = 0
    thread_ns = {}
    deadline = time.monotonic() + timeout
    threads_max = 0
    while True:
        v = proc_status_kb(p.pid, "VmHWM")
        if v:
            hwm = max(hwm, v)
        v = proc_status_kb(p.pid, "RssAnon")
        if v:
            anon = max(anon, v)
        n = proc_status_kb(p.pid, "Threads")
        if n:
            threads_max = max(threads_max, n)
        try:
            for t in os.listdir("/proc/%d/task" % p.pid):
                s = _read("/proc/%d/task/%s/schedstat" % (p.pid, t))
                if s:
                    thread_ns[t] = max(thread_ns.get(t, 0), int(s.split()[0]))
        except OSError:
            pass
        info = os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        if info is not None:
            break
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
        time.sleep(0.002)
    ticks = proc_cpu_ticks(p.pid)  # zombie: its own times are still there
    zs = _read("/proc/%d/schedstat" % p.pid)
    if zs:
        thread_ns[str(p.pid)] = max(thread_ns.get(str(p.pid), 0), int(zs.split()[0]))
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    th.join(5)
    p.stderr.close()
    return {
        "code": p.returncode,
        "cpu_ms_ticks": None if ticks is None else ticks * 1000.0 / CLK_TCK,
        "cpu_ms_sched": sum(thread_ns.values()) / 1e6,
        "hwm_kb": hwm,
        "anon_kb": anon,
        "threads": threads_max,
        "ru_with_children_ms": (ru.ru_utime + ru.ru_stime) * 1000.0,
        "stderr": b"".join(err_chunks).decode(errors="replace"),
    }


def reaper_pids(home):
    """Reaper processes (cargo-burst __reap-*) of the world with this HOME."""
    out = []
    needle = ("HOME=" + home).encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().split(b"\0")
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.startswith(b"__reap-") for a in cmd) and needle in env:
            out.append((int(d), " ".join(a.decode(errors="replace") for a in cmd if a)))
    return out


# ---- the state DB of a world -------------------------------------------------

def last_run(world):
    import sqlite3
    db = sqlite3.connect(os.path.join(world.state_dir, "state.db"), timeout=10)
    try:
        db.row_factory = sqlite3.Row
        r = db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return dict(r) if r else None
    finally:
        db.close()


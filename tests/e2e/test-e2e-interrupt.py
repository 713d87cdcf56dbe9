#!/usr/bin/env python3
"""End-to-end: Ctrl-C and host key pinning.

SIGINT to the tool while the remote program sleeps stops the remote process
(not just the local ssh), records the run as interrupted and exits 130; the
next run works.  A tampered pinned host key is refused (exit 76) without
touching the API or creating anything.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import kill_env_holders, pid_alive, wait_for, world_main  # noqa: E402


def main():
    return world_main(run_all)


def remote_pid(p, pidfile):
    """The pid a remote program of the run p wrote into pidfile (waited for
    while p runs, up to 120 s), or 0."""
    wait_for(lambda: os.path.exists(pidfile) or p.poll() is not None, 120, step=0.1)
    try:
        with open(pidfile) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def interrupt(p):
    """Ctrl-C (SIGINT) to the tool; its (stdout, stderr) once it ended
    (its process group killed after 30 s)."""
    os.kill(p.pid, signal.SIGINT)
    try:
        return p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return out, err + "[test: killed]"


def ends(pid):
    """Does process pid end within 60 s?"""
    return wait_for(lambda: not pid_alive(pid), 60, step=0.1)


def run_all(tap, sim, w):
    hello = w.fixture("hello")
    w.burst_ok(["build"], hello, "cold build")

    # --- Ctrl-C while the remote program sleeps
    for pid in [p for pids in w.reapers().values() for p in pids]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass  # it ended meanwhile
    pidfile = os.path.join(w.dir, "sleeper.pid")
    p = w.start(["run", "--", "sleep", "120", pidfile], cwd=hello)
    rpid = remote_pid(p, pidfile)
    tap.ok(rpid > 0 and pid_alive(rpid), "the remote program runs (pid %d)" % rpid)
    t0 = time.time()
    out, err = interrupt(p)
    took = time.time() - t0
    if not tap.is_(p.returncode, 130, "the tool exits 130 after Ctrl-C (%.1fs)" % took):
        tap.diag(err)
    tap.ok(rpid and ends(rpid), "the remote program was stopped, not just the local ssh")
    tap.ok("woke up" not in out, "the program did not run to its end")
    tap.ok("interrupted" in err, "the summary says interrupted")
    db = os.path.join(w.state_dir, "state.db")
    row = None
    try:
        con = sqlite3.connect(db, timeout=10)
        row = con.execute("SELECT verb, interrupted, success FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        con.close()
    except sqlite3.Error as e:
        tap.diag("state db: %s" % e)
    tap.is_(row, ("run", 1, 0), "the run is recorded as interrupted")
    deadline = time.time() + 60  # they are started as the run ends: poll for them
    reapers = w.reapers()
    while not ("__reap-server" in reapers and "__reap-volume" in reapers) and \
            time.time() < deadline:
        time.sleep(0.1)
        reapers = w.reapers()
    tap.ok("__reap-server" in reapers and "__reap-volume" in reapers,
           "after Ctrl-C the server and volume reapers are armed (%s)" % reapers)

    r = w.burst(["run", "--", "exit", "0"], cwd=hello)
    tap.is_(r.code, 0, "the next run works")

    # --- Ctrl-C in the middle of a build (its build script sleeps)
    slow = w.fixture("slowbuild")
    pidfile = os.path.join(w.dir, "buildscript.pid")
    p = w.start(["build", "--env", "SLOWBUILD_PIDFILE=" + pidfile], cwd=slow)
    bs_pid = remote_pid(p, pidfile)
    tap.ok(bs_pid > 0 and pid_alive(bs_pid), "the build script runs (pid %d)" % bs_pid)
    interrupt(p)
    tap.is_(p.returncode, 130, "Ctrl-C mid-build exits 130")
    tap.ok(bs_pid and ends(bs_pid), "the remote build was stopped")
    tap.ok(not os.path.exists(os.path.join(slow, "target", "debug", "slowbuild")),
           "nothing was fetched")

    # --- a host key that does not match the pinned one is refused
    kill_env_holders("HOME=" + w.home, w.dir)  # no persisted master may bypass the check
    kh = os.path.join(w.state_dir, "known_hosts")
    other = os.path.join(w.dir, "other_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True,
                   timeout=30)
    with open(other + ".pub") as f:
        fake = f.read().split()
    with open(kh) as f:
        lines = f.read().splitlines()
    tampered = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and not line.startswith("#"):
            tampered.append(" ".join([parts[0], fake[0], fake[1]]))
        else:
            tampered.append(line)
    tap.ok(len(lines) >= 1 and tampered != lines, "pinned key replaced in known_hosts")
    with open(kh, "w") as f:
        f.write("\n".join(tampered) + "\n")
    servers_before = [s["id"] for s in w.servers()]
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello)
    calls = w.api_calls()
    if not tap.is_(r.code, 76, "a host key mismatch is refused with the ssh exit code"):
        tap.diag(repr(r))
    tap.ok("host key" in r.err, "the error names the host key")
    tap.is_(len(calls), 0, "no API call was made")
    tap.is_([s["id"] for s in w.servers()], servers_before, "no server was created or deleted")


if __name__ == "__main__":
    sys.exit(main())

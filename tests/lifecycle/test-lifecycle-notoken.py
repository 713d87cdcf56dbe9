#!/usr/bin/env python3
"""test-lifecycle-notoken.py - without an API token, `status` and `audit`
start no reaper (one would exit at once: "the reaper has no API token", and
the next command would start them all again) and `status` says plainly which
resources have no reaper, why, and how to fix it.  Reapers that are running
are left alone (never replaced, never killed).

No root and no simulator: the state is seeded directly (one server row, three
project volumes, deadlines an hour away); the reapers started with a token
sleep until then and make no API call.  HCLOUD_ENDPOINT points at a closed
loopback port all the same.
"""

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("CARGO_BURST")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap, skip_all  # noqa: E402

TAP = Tap()
ok = TAP.ok


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def reapers(home):
    """pid -> argv of the reaper processes whose HOME is ours."""
    out = {}
    needle = ("HOME=" + home).encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        if any(a.startswith(b"__reap-") for a in argv) and needle in env:
            out[int(d)] = b" ".join(argv).decode(errors="replace")
    return out


def settle(home, want, timeout=10):
    """The reaper set once it has stopped changing (spawns are detached)."""
    deadline = time.time() + timeout
    last, stable = None, 0
    while time.time() < deadline:
        cur = reapers(home)
        if cur == last and (want is None or len(cur) == want):
            stable += 1
            if stable >= 3:
                return cur
        else:
            stable = 0
        last = cur
        time.sleep(0.2)
    return last


def main():
    if not BIN or not os.path.exists(BIN):
        skip_all("CARGO_BURST does not name the built binary")
    tmp = tempfile.mkdtemp(prefix="burst-notoken-")
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HCLOUD_", "BURST_", "XDG_"))}
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_STATE_HOME=os.path.join(home, ".local", "state"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"),
               HCLOUD_ENDPOINT="http://127.0.0.1:%d/v1" % closed_port(),
               NO_COLOR="1", CARGO_TERM_COLOR="never")
    with_token = dict(env, HCLOUD_TOKEN="notoken-test-token-0123456789")

    def burst(args, e=env):
        return subprocess.run([BIN, "burst"] + args, env=e, cwd=home, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)

    try:
        r = burst(["status"])
        ok(r.returncode == 0, "status works on an empty state without a token", r.stderr)
        db_path = os.path.join(home, ".local", "state", "cargo-burst", "state.db")
        ok(os.path.exists(db_path), "it created the state database")
        now = int(time.time())
        db = sqlite3.connect(db_path, timeout=10)
        db.execute("INSERT INTO servers(id, hcloud_id, name, ip, location, server_type, "
                   "created_at, status, last_activity, keep_alive_secs, deadline, billing_start) "
                   "VALUES (1, 4242, 'cargo-burst-notoken', '127.0.9.9', 'fsn1', 'ccx13', ?, "
                   "'ready', ?, 3600, ?, ?)", (now, now, now + 3600, now))
        for i in range(3):
            db.execute("INSERT INTO projects(id, root, name, volume_hcloud_id, volume_name, "
                       "location, size_gb, volume_status, last_used, volume_keep_alive, "
                       "volume_deadline) VALUES (?, ?, ?, ?, ?, 'fsn1', 10, 'ready', ?, 86400, ?)",
                       ("00000000000%d" % i, "/ws/p%d" % i, "p%d" % i, 900 + i,
                        "cargo-burst-vol-%d" % i, now, now + 3600))
        db.commit()
        db.close()

        # ---- no token: nothing is started, and status says why ----------
        r = burst(["status"])
        ok(r.returncode == 0, "status without a token exits 0", r.stderr)
        err = r.stderr
        ok("no reaper is running for 1 server and 3 volumes: " in err,
           "status says the reapers are not running, for what", err)
        ok("no Hetzner Cloud API token" in err, "and why (no API token)", err)
        ok("billed until someone deletes it" in err, "and what that costs", err)
        ok("export HCLOUD_TOKEN=" in err and "[hetzner]" in err,
           "and how to fix it (HCLOUD_TOKEN or the token in the global config)", err)
        ok("then run any cargo burst command" in err, "then run any command", err)
        ok("cargo-burst-notoken" in r.stdout, "the status report itself is printed", r.stdout)
        got = settle(home, None, timeout=3)
        ok(not got, "no reaper was started", got)
        for verb in (["status"], ["status", "--json"], ["audit"], ["status"]):
            r = burst(verb)
            ok(r.returncode == 0, "%s without a token exits 0" % " ".join(verb), r.stderr)
        got = settle(home, None, timeout=3)
        ok(not got, "after status, status --json, audit, status: still no reaper process", got)
        logs = os.path.join(home, ".local", "state", "cargo-burst", "reapers")
        ok(not os.path.isdir(logs) or not [f for f in os.listdir(logs) if f.endswith(".log")],
           "and no reaper log was written")
        db = sqlite3.connect(db_path, timeout=10)
        rows = db.execute("SELECT kind, resource, last_error FROM reapers").fetchall()
        db.close()
        ok(not rows, "no reaper slot was claimed or marked failed", rows)

        # ---- with a token: the reapers start and sleep ---------------------
        r = burst(["status"], with_token)
        ok(r.returncode == 0 and "no reaper is running" not in r.stderr,
           "with a token status arms the reapers and does not warn", r.stderr)
        armed = settle(home, 4, timeout=15)
        ok(armed is not None and len(armed) == 4, "4 reapers run (1 server, 3 volumes)", armed)
        armed = armed or {}

        # ---- no token again: the running reapers are left alone -----------
        r = burst(["status"])
        ok(r.returncode == 0 and "no reaper is running" not in r.stderr,
           "without a token, all reapers running: no warning", r.stderr)
        ok(settle(home, 4, timeout=5) == armed, "the same 4 reapers still run (none replaced)")

        victim = next((p for p, a in armed.items() if "__reap-volume" in a), None)
        if victim:
            os.kill(victim, signal.SIGKILL)
            for _ in range(50):
                if victim not in reapers(home):
                    break
                time.sleep(0.1)
        r = burst(["status"])
        ok("no reaper is running for 1 volume: " in r.stderr,
           "one reaper killed: status without a token names the one missing", r.stderr)
        left = settle(home, 3, timeout=5) or {}
        ok(len(left) == 3 and set(left) <= set(armed),
           "and starts none; the other 3 keep running", left)
    finally:
        for pid in reapers(home):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for _ in range(50):
            if not reapers(home):
                break
            time.sleep(0.1)
        shutil.rmtree(tmp, ignore_errors=True)
    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())

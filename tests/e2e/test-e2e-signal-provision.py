#!/usr/bin/env python3
"""End-to-end: SIGTERM, SIGINT or SIGHUP while the server is being created,
and while waiting for another run's provisioning lock.

The simulator takes two minutes to create a server.  A signal to the tool
while it waits for the create must end the wait at once (exit 130, the
documented code of an interruption), and leave the server it created
recorded in the state with its reaper armed: nothing leaks, nothing waits
out the create.
"""

import fcntl
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Tap, World, need_root_and_tools, new_sim, seed, wait_for  # noqa: E402

CREATE_SECS = 120


def finish(p, what):
    """Wait for the tool (well before the create would end); kill it when
    it does not stop, saying so in its stderr."""
    try:
        return p.communicate(timeout=CREATE_SECS - 30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return out, err + "[test: killed: %s]" % what


def server_rows(w):
    try:
        con = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=10)
        rows = con.execute("SELECT hcloud_id, name FROM servers").fetchall()
        con.close()
        return rows
    except sqlite3.Error:
        return []


NOTE = re.compile(r"note: server '([^']+)' \(still being created\) is kept for the next run "
                  r"until \d\d:\d\d (\w+), then its reaper deletes it")


def check_note(tap, name, err, server, zone):
    """The note on what happens to the server, before the summary."""
    m = NOTE.search(err)
    tap.ok(m and server and m.group(1) == server["name"] and m.group(2) == zone,
           "%s: it says at once the server is kept until HH:MM %s, then reaped" % (name, zone))
    fin = err.find("Finished")
    tap.ok(m and fin > m.start(), "%s: ... before the summary" % name)
    if not m:
        tap.diag(err)


def one_signal(tap, sim, w, hello, sig, twice=False, tz=None):
    name = signal.Signals(sig).name + (" twice" if twice else "")
    zone = "CET" if tz else "UTC"
    before = {s["id"] for s in w.servers()}
    p = w.start(["build"], cwd=hello, env={"TZ": tz} if tz else None)
    # wait until the create was sent and the tool waits for it
    deadline = time.time() + 60
    new = []
    while time.time() < deadline and p.poll() is None:
        new = [s for s in w.servers() if s["id"] not in before]
        if new:
            break
        time.sleep(0.1)
    tap.ok(new and p.poll() is None,
           "%s: the server create was sent and the tool is waiting for it" % name)
    time.sleep(1)  # inside the wait (any later point is as good)
    t0 = time.time()
    os.kill(p.pid, sig)
    if twice:
        os.kill(p.pid, sig)  # a second Ctrl-C while it cleans up: still recorded
    out, err = finish(p, "the wait went on")
    took = time.time() - t0
    if not tap.is_(p.returncode, 130, "%s ends the wait for the create: exit 130 (after %.1fs)"
                   % (name, took)):
        tap.diag(err)
    tap.ok("interrupted" in err, "%s: it says interrupted" % name)
    check_note(tap, name, err, new[0] if new else None, zone)
    ids = {row[0] for row in server_rows(w)}
    tap.ok(new and new[0]["id"] in ids,
           "%s: the server being created is recorded in the state" % name)
    deadline = time.time() + 60
    reapers = w.reapers()
    while "__reap-server" not in reapers and time.time() < deadline:
        time.sleep(0.1)
        reapers = w.reapers()
    tap.ok("__reap-server" in reapers, "%s: its reaper is armed (%s)" % (name, reapers))


def lock_wait(tap, sim, w, hello):
    """SIGTERM while another run holds the provisioning lock (15 min wait)."""
    os.makedirs(w.state_dir, exist_ok=True)
    fd = os.open(os.path.join(w.state_dir, "provision.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())
        p = w.start(["build"], cwd=hello)
        lines = []

        def read():
            for line in p.stderr:
                lines.append(line)
        t = threading.Thread(target=read, daemon=True)
        t.start()
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None and \
                not any("Blocking" in x for x in lines):
            time.sleep(0.1)
        tap.ok(any("Blocking" in x for x in lines), "the run waits for the lock")
        t0 = time.time()
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        t.join(timeout=10)
        took = time.time() - t0
        if not tap.is_(p.returncode, 130, "SIGTERM ends the lock wait: exit 130 (after %.1fs)"
                       % took):
            tap.diag("".join(lines))
        tap.ok(any("interrupted" in x for x in lines), "it says interrupted")
        tap.is_(w.servers(), [], "nothing was created")
    finally:
        os.close(fd)


def interrupt_at(sim, p, request):
    """Ctrl-C (SIGINT) to the run p once the simulator logged a request
    for which request(r) is true (waited for up to 60 s while p runs)."""
    wait_for(lambda: p.poll() is not None or any(request(r) for r in sim.requests()), 60,
             step=0.1)
    os.kill(p.pid, signal.SIGINT)


def before_create(tap, sim, w, hello):
    """Ctrl-C before any server exists (an image lookup slow to answer):
    exit 130 at once, "no server was created", and none is."""
    p = w.start(["build"], cwd=hello)
    interrupt_at(sim, p, lambda r: r.get("path", "").startswith("/v1/images")
                 and r.get("by") != "harness")
    out, err = finish(p, "the run went on")
    if not tap.is_(p.returncode, 130, "SIGINT before the create: exit 130"):
        tap.diag(err)
    tap.ok("note: no server was created" in err, "... it says no server was created")
    tap.is_(w.servers(), [], "... and none was")
    tap.ok(not any(r.get("method") == "POST" and r.get("path", "").startswith("/v1/servers")
                   for r in sim.requests()), "... no create was sent")


def during_create_post(tap, sim, w, hello):
    """Ctrl-C while the create request is on its way (its answer slow): the
    server it made is recorded with its reaper, no volume is created and
    the two-minute create is not waited for."""
    p = w.start(["build"], cwd=hello)
    interrupt_at(sim, p, lambda r: r.get("method") == "POST"
                 and r.get("path", "").startswith("/v1/servers"))
    out, err = finish(p, "the wait went on")
    if not tap.is_(p.returncode, 130, "SIGINT during the create request: exit 130"):
        tap.diag(err)
    servers = w.servers()
    check_note(tap, "SIGINT during the create request", err,
               servers[0] if len(servers) == 1 else None, "UTC")
    ids = {row[0] for row in server_rows(w)}
    tap.ok(len(servers) == 1 and servers[0]["id"] in ids, "... the server is recorded")
    tap.ok(not any(r.get("method") == "POST" and r.get("path", "").startswith("/v1/volumes")
                   for r in sim.requests()), "... no volume create was sent after it")
    deadline = time.time() + 60
    reapers = w.reapers()
    while "__reap-server" not in reapers and time.time() < deadline:
        time.sleep(0.1)
        reapers = w.reapers()
    tap.ok("__reap-server" in reapers, "... its reaper is armed (%s)" % reapers)


def main():
    tap = Tap()
    need_root_and_tools(tap)
    # one simulator each: the server left behind is still being created
    for sig, twice, tz in ((signal.SIGTERM, False, None), (signal.SIGINT, False, None),
                           (signal.SIGHUP, False, "CET-1"), (signal.SIGINT, True, None)):
        with new_sim({"durations": {"server_create": CREATE_SECS}}) as sim:
            seed(sim)
            with World(tap, sim) as w:
                one_signal(tap, sim, w, w.fixture("hello"), sig, twice, tz)
    with new_sim({"faults": [{"method": "GET", "path": "/images.*", "apply": True,
                              "delay": 20, "times": 0}]}) as sim:
        seed(sim)
        with World(tap, sim) as w:
            before_create(tap, sim, w, w.fixture("hello"))
    with new_sim({"durations": {"server_create": CREATE_SECS},
                  "faults": [{"method": "POST", "path": "/servers", "apply": True,
                              "delay": 8, "times": 1}]}) as sim:
        seed(sim)
        with World(tap, sim) as w:
            during_create_post(tap, sim, w, w.fixture("hello"))
    with new_sim() as sim:
        seed(sim)
        with World(tap, sim) as w:
            lock_wait(tap, sim, w, w.fixture("hello"))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end: `cargo burst up` on the simulator (issue 15, part 3).

- `up` returns at once (before the server exists); a second one meanwhile
  starts nothing and a detached
  `up --wait` provisions, mounts the volume and syncs, logging to
  <state>/up/<hash>.log, which `status` shows; the outcome is an `up`
  event in the audit log; the reapers are armed;
- a build started while it provisions waits for the provisioning lock
  and joins the same server (one server in the simulator, "Joined");
- `up` and `up --wait` when everything is up say so and extend nothing
  (the server's deadline is unchanged);
- `up --wait` on a cold project shows the run's progress lines and arms
  the reapers with the --keep-alive given;
- `up` with an own host configured (`host = ...`) speaks of that host
  only: it syncs there in the background, even though a Hetzner server of
  the project is up (a run there would never use it).
"""

import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import PlainSshd, Tap, World, need_root_and_tools, new_sim, seed  # noqa: E402

SCALE = float(os.environ.get("BURST_TEST_TIME_SCALE", "1") or 1)


def db(w, sql, args=()):
    con = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def server_deadline(w):
    rows = db(w, "SELECT deadline FROM servers WHERE status IN ('ready', 'provisioning') "
                 "ORDER BY id DESC LIMIT 1")
    return rows[0][0] if rows else None


def up_logs(w):
    d = os.path.join(w.state_dir, "up")
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".log")) \
        if os.path.isdir(d) else []


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def poll(what, deadline_s):
    end = time.time() + deadline_s * SCALE
    while time.time() < end:
        v = what()
        if v:
            return v
        time.sleep(0.1)
    return what()


def main():
    tap = Tap()
    need_root_and_tools(tap)
    # a slow create: `up` is still provisioning when the build starts
    with new_sim({"durations": {"server_create": 6.0}}) as sim:
        seed(sim)
        with World(tap, sim) as w:
            background_and_join(tap, sim, w)
            already_up(tap, sim, w)
            with PlainSshd(w) as sshd:
                sshd.trust()
                byo_up(tap, sim, w, sshd)
            wait_cold(tap, sim, w)
    return tap.done()


def background_and_join(tap, sim, w):
    ws = w.fixture("hello")
    # --keep-alive has the range of the config key it overrides, as for a run
    r = w.burst(["up", "--keep-alive", "99999999"], cwd=ws)
    tap.ok(r.code == 64 and "from 0 to" in r.err and not w.servers(),
           "up --keep-alive beyond the key's range: a usage error, nothing created", repr(r))
    r = w.burst(["up"], cwd=ws)
    tap.ok(r.code == 0, "up exits 0", repr(r))
    logs = up_logs(w)
    tap.is_(len(logs), 1, "it names one log under the state dir")
    log = logs[0] if logs else "/nonexistent"
    tap.ok(log in r.err and "Starting" in r.err, "and says where the progress goes", repr(r))
    tap.ok("Finished" not in read(log),
           "it returned before the server was up (the create alone takes 6 s)", read(log))

    # a second up meanwhile starts nothing more
    r2 = w.burst(["up"], cwd=ws)
    tap.ok(r2.code == 0 and "is bringing the server up already" in r2.err and
           "Starting" not in r2.err, "a second up while one runs says so, starts nothing",
           repr(r2))

    # a build started now waits for the provisioning lock and joins
    tap.ok(poll(lambda: w.servers(), 60), "the detached up creates the server")
    b = w.burst(["build"], cwd=ws, timeout=300)
    tap.ok(b.code == 0, "a build started meanwhile succeeds", repr(b))
    tap.ok("Blocking" in b.err and "Joined" in b.err,
           "it waited for the provisioning lock and joined the server", repr(b))
    tap.ok("Provisioning" not in b.err, "it provisioned nothing itself", repr(b))
    tap.is_(len(w.servers()), 1, "one server in the simulator")
    tap.is_(len(w.volumes()), 1, "one volume")

    text = poll(lambda: "Finished" in read(log) and read(log), 120)
    tap.ok(text and re.search(r"Finished up in .*cold.*server '[^']+' stays up until "
                              r"\d\d:\d\d", text),
           "the log ends with the outcome", text)
    tap.ok(text and "Provisioning" in text and "Syncing" in text,
           "the log has the run's progress lines (provisioning, the sync)", text)
    ev = db(w, "SELECT reason, details FROM events WHERE kind = 'up'")
    tap.ok(len(ev) == 1 and ev[0][0] == "cold" and "up in" in (ev[0][1] or ""),
           "the outcome is an `up` event of the audit log: %r" % ev)
    tap.ok(poll(lambda: "__reap-server" in w.reapers(), 30),
           "the server's reaper is armed: %r" % w.reapers())

    st = w.burst(["status"], cwd=ws)
    tap.ok(st.code == 0 and log in st.out and "Finished up in" in st.out,
           "status shows the up, its outcome and its log", repr(st))
    js = w.burst(["status", "--json"], cwd=ws)
    import json
    try:
        doc = json.loads(js.out)
    except ValueError:
        doc = {}
    ups = doc.get("up") or []
    tap.ok(len(ups) == 1 and ups[0].get("log") == log and ups[0].get("running") is False,
           "status --json has it under \"up\": %r" % ups)


def already_up(tap, sim, w):
    ws = os.path.join(w.work, "hello")
    # a warm ssh master is what `up` trusts without a request
    r = w.burst(["ssh", "--no-sync", "--", "true"], cwd=ws)
    tap.ok(r.code == 0, "a session leaves the ssh master up", repr(r))
    before = server_deadline(w)
    logs_before = {p: read(p) for p in up_logs(w)}
    sim.reset_requests()
    r = w.burst(["up"], cwd=ws)
    tap.ok(r.code == 0, "up when everything is up exits 0", repr(r))
    tap.ok(re.search(r"Up .*'[^']+' and the project's volume are up already; "
                     r"it stays up until \d\d:\d\d .*\(not extended\)", r.err),
           "and says so", repr(r))
    tap.is_({p: read(p) for p in up_logs(w)}, logs_before, "it starts nothing in the background")
    tap.is_(server_deadline(w), before, "the server's deadline is not extended")
    tap.is_([q for q in sim.requests() if q["method"] != "GET"], [], "no mutating request")

    r = w.burst(["up", "--wait"], cwd=ws)
    tap.ok(r.code == 0, "up --wait when everything is up exits 0", repr(r))
    tap.ok("were up already (nothing extended)" in r.err, "and says so too", repr(r))
    tap.is_(server_deadline(w), before, "--wait extends nothing either")
    tap.is_(len(w.servers()), 1, "still one server")


def byo_up(tap, sim, w, sshd):
    """`host = ...` in the global config while the project's Hetzner server
    is up with a warm ssh master (what `up` alone takes for "up already")."""
    ws = os.path.join(w.work, "hello")
    names = [n for (n,) in db(w, "SELECT name FROM servers WHERE status = 'ready'")]
    tap.ok(names and all(names), "a Hetzner server of the project is up: %r" % names)
    before = server_deadline(w)
    gpath = os.path.join(w.config_dir, "config.toml")
    with open(gpath) as f:
        text = f.read()
    with open(gpath, "w") as f:
        f.write('host = "%s"\n' % sshd.spec + text)
    sim.reset_requests()
    try:
        r = w.burst(["up"], cwd=ws, env={"HCLOUD_TOKEN": ""})
        tap.ok(r.code == 0, "up on an own host exits 0", repr(r))
        tap.ok("up already" not in r.err and not any(n in r.err for n in names),
               "it says nothing of the Hetzner server (%r)" % names, repr(r))
        tap.ok(re.search(r"Starting .*sync of the workspace to '%s'" % re.escape(sshd.spec),
                         r.err), "it starts the sync to the own host", repr(r))
        m = re.search(r"progress in (\S+\.log)", r.err)
        log = m.group(1) if m else None
        text_log = log and poll(lambda: "Finished" in read(log) and read(log), 120)
        tap.ok(text_log and "host '%s'" % sshd.spec in text_log and
               not any(n in text_log for n in names) and "up already" not in text_log,
               "the detached up synced to the own host and names it only", text_log)
        proj = sshd.project_dir()
        tap.ok(proj and os.path.exists(os.path.join(proj, "src", "Cargo.toml")),
               "the workspace is on the own host (%r)" % proj)
        tap.is_([q for q in sim.requests() if q["method"] != "GET"], [], "no mutating request")
        tap.is_(server_deadline(w), before, "the Hetzner server's deadline is not extended")
    finally:
        with open(gpath, "w") as f:
            f.write(text)


def wait_cold(tap, sim, w):
    ws = os.path.join(w.work, "hello")
    r = w.burst(["down"], cwd=ws)
    tap.ok(r.code == 0, "down", repr(r))
    tap.ok(poll(lambda: not w.servers(), 60), "the server is gone")
    t0 = time.time()
    r = w.burst(["up", "--wait", "--keep-alive", "900"], cwd=ws, timeout=300)
    tap.ok(r.code == 0, "up --wait on a cold project exits 0", repr(r))
    tap.ok("Provisioning" in r.err and "Syncing" in r.err and "Finished up in" in r.err,
           "it shows the run's progress lines and the outcome", repr(r))
    tap.is_(len(w.servers()), 1, "one server")
    dl = server_deadline(w)
    tap.ok(dl is not None and dl >= t0 + 900 - 5,
           "the server's deadline follows --keep-alive 900 (%r, start %d)" % (dl, t0))
    tap.ok(poll(lambda: "__reap-server" in w.reapers() and "__reap-volume" in w.reapers(), 30),
           "the reapers are armed: %r" % w.reapers())
    b = w.burst(["build"], cwd=ws)
    tap.ok(b.code == 0 and "Provisioning" not in b.err and "Joined" not in b.err,
           "the next build is warm", repr(b))


if __name__ == "__main__":
    sys.exit(main())

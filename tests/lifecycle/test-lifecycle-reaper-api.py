#!/usr/bin/env python3
"""Reaper processes against the API-only simulator (no root needed), with
server rows written into the state by hand:
- a failed delete (the delete action ends in error) is retried with backoff;
- a delete-protected server: the reaper gives up, says so in its log and in
  the state (`status` shows it), and is not restarted by every invocation;
  `down` deletes it once the protection is lifted;
- one reaper per resource: a second one started by hand exits at once;
- a sleeping reaper uses no CPU, and wakes up early (SIGUSR1 from the next
  invocation) when its deadline moves earlier."""

import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lclib  # noqa: E402
from lclib import Tap, World, wait_for, status_json  # noqa: E402
from simharness import Simulator  # noqa: E402


def create_server(sim, name, labels):
    st, obj, _ = sim.api("POST", "/servers", {"name": name, "server_type": "cpx11",
                                               "image": "ubuntu-24.04", "location": "fsn1",
                                               "labels": labels})
    assert st == 201, (st, obj)
    for act in [obj["action"]] + (obj.get("next_actions") or []):
        sim.wait_action(act["id"])
    return obj["server"]


def insert_row(db, s, deadline):
    now = int(time.time())
    with sqlite3.connect(db, timeout=10) as c:
        cur = c.execute(
            "INSERT INTO servers(hcloud_id, name, ip, location, server_type, created_at, status,"
            " last_activity, keep_alive_secs, no_reap, deadline, billing_start)"
            " VALUES (?,?,?,?,?,?,'ready',?,60,0,?,?)",
            (s["id"], s["name"], s["public_net"]["ipv4"]["ip"], "fsn1", "cpx11", now, now,
             deadline, now))
        return cur.lastrowid


def reaper_row(db, row):
    with sqlite3.connect(db, timeout=10) as c:
        return c.execute("SELECT pid, last_error, needs_human FROM reapers WHERE kind='server'"
                         " AND resource=?", (str(row),)).fetchone()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def server_exists(sim, sid):
    return sim.api("GET", "/servers/%d" % sid)[0] == 200


def main():
    if not os.environ.get("CARGO_BURST") or not os.path.exists(os.environ["CARGO_BURST"]):
        lclib.skip_all("CARGO_BURST does not name the built binary")
    tap = Tap()
    tap.plan(13)
    with Simulator(machines="none", config={"durations": {"server_delete": 0.1}}) as sim:
        with World(tap, sim) as w:
            st, r = status_json(w)
            owner = (st or {}).get("owner")
            if not tap.ok(owner, "status --json creates the state and names the owner"):
                tap.diag(repr(r))
                return tap.done()
            db = os.path.join(w.state_dir, "state.db")
            ours = {"managed-by": "cargo-burst", "owner": owner, "role": "server"}
            a = create_server(sim, "retry-me", ours)
            c = create_server(sim, "sleeper", ours)
            b = create_server(sim, "protected", ours)
            st_, body, _ = sim.api("POST", "/servers/%d/actions/change_protection" % b["id"],
                                   {"delete": True})
            sim.wait_action(body["action"]["id"])
            now = int(time.time())
            row_a = insert_row(db, a, now + 1)
            row_c = insert_row(db, c, now + 600)
            row_b = insert_row(db, b, now + 1)
            sim.configure({"action_errors": [{"command": "delete_server", "times": 1}]})
            r = w.burst(["status"], cwd=w.work)
            tap.ok(r.code == 0, "status arms the reapers")

            gone = wait_for(lambda: not server_exists(sim, a["id"]), 40, 0.3)
            tap.ok(gone, "a failed delete is retried until the server is gone")
            log_path = os.path.join(w.state_dir, "reapers", "server-%d.log" % row_a)
            wait_for(lambda: "deleted" in open(log_path).read(), 15, 0.2)
            log_a = open(log_path).read()
            if not tap.ok("retrying in 5s" in log_a and "deleted" in log_a,
                          "the reaper's log shows the failure, the retry and the delete"):
                tap.diag(log_a)

            human = wait_for(lambda: (reaper_row(db, row_b) or (0, None, 0))[2] == 1, 30, 0.3)
            tap.ok(human and server_exists(sim, b["id"]),
                   "a protected server: the reaper gives up and records that a human must act")
            pid_b = (reaper_row(db, row_b) or (0,))[0]
            tap.ok(wait_for(lambda: not lclib.pid_alive(pid_b), 10), "and exits")
            r = w.burst(["status"], cwd=w.work)
            tap.ok("needs a human" in r.out and "protected" in r.out,
                   "status shows the reaper's error and that a human must act")
            tap.ok(not lclib.pid_alive((reaper_row(db, row_b) or (0,))[0] or 1 << 22) and
                   (reaper_row(db, row_b) or (0, None, 0))[2] == 1,
                   "the next invocation does not restart a reaper that gave up")

            pid_c = (reaper_row(db, row_c) or (0,))[0]
            r2 = subprocess.run([os.environ["CARGO_BURST"], "__reap-server", "--state-dir",
                                 w.state_dir, str(row_c)], env=w.env(), capture_output=True,
                                text=True, timeout=30)
            tap.ok(r2.returncode == 0 and "another reaper is alive" in r2.stderr,
                   "a second reaper of the same server exits at once")
            t0 = cpu_ticks(pid_c)
            time.sleep(3)
            tap.ok(cpu_ticks(pid_c) - t0 <= 2, "a sleeping reaper uses no CPU")
            with sqlite3.connect(db, timeout=10) as con:
                con.execute("UPDATE servers SET deadline=? WHERE id=?", (int(time.time()), row_c))
            t1 = time.time()
            w.burst(["status"], cwd=w.work)
            gone = wait_for(lambda: not server_exists(sim, c["id"]), 30, 0.2)
            tap.ok(gone and time.time() - t1 < 20,
                   "a deadline moved earlier wakes the reaper (%.1fs)" % (time.time() - t1))

            st_, body, _ = sim.api("POST", "/servers/%d/actions/change_protection" % b["id"],
                                   {"delete": False})
            sim.wait_action(body["action"]["id"])
            r = w.burst(["down"], cwd=w.work)
            tap.ok(r.code == 0 and "Deleted server 'protected'" in r.out and
                   not server_exists(sim, b["id"]), "down deletes it once unprotected")
            if r.code != 0:
                tap.diag(repr(r))
            lclib.check_reaper_logs(tap, w)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

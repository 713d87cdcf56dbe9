#!/usr/bin/env python3
"""A reaper survives a state database that is write-locked at its deadline:
another process holds BEGIN EXCLUSIVE for 30 s (three times the busy
timeout) across the server's deadline; the reaper waits and retries
instead of exiting, and deletes the server once the lock is gone."""

import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lclib  # noqa: E402
from lclib import Tap, World, new_sim, seed, wait_for, status_json  # noqa: E402

KEEP = 8
LOCK_SECS = 30


def main():
    lclib.need_real_world()
    tap = Tap()
    tap.plan(7)
    with new_sim() as sim:
        seed(sim)
        cfg = {"keep_alive_secs": KEEP, "billing_hour_hold": False}
        with World(tap, sim, config=cfg) as w:
            ws = w.fixture("hello")
            r = w.burst(["build"], cwd=ws)
            if not tap.ok(r.code == 0, "cold build succeeds"):
                tap.diag(repr(r))
                return tap.done()
            st, _ = status_json(w, ws)
            srv = (st or {}).get("server") or {}
            pid = (srv.get("reaper") or {}).get("pid") or 0
            deadline = srv.get("deadline") or 0
            tap.ok(pid and lclib.pid_alive(pid), "the server has a live reaper (pid %s)" % pid)
            db = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=60,
                                 isolation_level=None)
            try:
                db.execute("BEGIN EXCLUSIVE")
                locked_at = time.time()
                tap.ok(deadline and deadline < locked_at + LOCK_SECS - 12,
                       "the deadline (%s) falls inside the lock (%.0f .. %.0f) with more than "
                       "the busy timeout to spare" % (deadline, locked_at, locked_at + LOCK_SECS))
                wait_for(lambda: time.time() >= locked_at + LOCK_SECS, LOCK_SECS + 5, 0.5)
                tap.ok(lclib.pid_alive(pid), "after %d s of write lock across its deadline the "
                       "reaper is still running" % LOCK_SECS)
                tap.ok(len(w.servers()) == 1, "nothing was deleted while the database was locked")
            finally:
                db.execute("ROLLBACK")
                db.close()
            gone = wait_for(lambda: not w.servers(), 120, 0.5)
            if not tap.ok(gone, "once the lock is gone the reaper deletes the server"):
                tap.diag(lclib.reaper_log_tail(w))
            lclib.check_reaper_logs(tap, w)
            w.burst(["down", "--with-volumes"], cwd=ws)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

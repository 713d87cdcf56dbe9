#!/usr/bin/env python3
"""A paused run keeps its server: a warm run stopped (SIGSTOP, what Ctrl-Z
does) past the server's deadline and past its lease's heartbeat expiry
(both are moved into the past in the database instead of waiting minutes:
a stopped run sends no heartbeat either way) is not deleted under it by
the reaper, which is woken to decide at once; continued (SIGCONT), the
run completes on the same server."""

import os
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lclib  # noqa: E402
from lclib import Tap, World, new_sim, seed, wait_for, status_json  # noqa: E402

KEEP = 3


def sql(w, query, args=()):
    db = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=60, isolation_level=None)
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()


def main():
    lclib.need_real_world()
    tap = Tap()
    tap.plan(9)
    with new_sim() as sim:
        seed(sim)
        cfg = {"keep_alive_secs": KEEP, "billing_hour_hold": False}
        with World(tap, sim, config=cfg) as w:
            ws = w.fixture("hello")
            r = w.burst(["build", "--keep-alive", "600"], cwd=ws)
            if not tap.ok(r.code == 0, "cold build succeeds"):
                tap.diag(repr(r))
                return tap.done()
            sid = (w.servers() or [{}])[0].get("id")
            marks = os.path.join(w.dir, "marks")
            os.makedirs(marks)
            wrap = os.path.join(w.dir, "ssh-mark")
            with open(wrap, "w") as f:
                f.write('#!/bin/sh\ncase "$*" in *cargo\\ *) : > "$LC_MARK_DIR/cargo"; sleep 2;; esac\n'
                        'exec ssh "$@"\n')
            os.chmod(wrap, 0o700)
            p = w.start(["check", "--keep-alive", str(KEEP)], cwd=ws,
                        env={"CARGO_BURST_SSH": wrap, "LC_MARK_DIR": marks})
            stopped = False
            try:
                started = wait_for(lambda: os.path.exists(os.path.join(marks, "cargo")) or
                                   p.poll() is not None, 120, 0.02)
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGSTOP)
                    stopped = True
                tap.ok(started and stopped, "the warm run reached cargo and was stopped")
                # the server's deadline (from the earlier run) and the lease's
                # heartbeat expire while the run is stopped (ten minutes ago:
                # well past the expiry, well within the hold of a live holder)
                sql(w, "UPDATE servers SET deadline = ?", (int(time.time()) - 1,))
                sql(w, "UPDATE leases SET expires_at = ?, heartbeat_at = ?",
                    (int(time.time()) - 600, int(time.time()) - 690))
                rows = sql(w, "SELECT pid FROM reapers WHERE kind = 'server'")
                rpid = rows[0][0] if rows else 0
                tap.ok(rpid and lclib.pid_alive(rpid), "the server's reaper runs (pid %s)" % rpid)
                if rpid:
                    os.kill(rpid, signal.SIGUSR1)  # decide now, not after its recheck pause
                deleting = wait_for(lambda: not w.servers() or any(
                    s.get("status") == "deleting" for s in w.servers()) or
                    sql(w, "SELECT count(*) FROM servers WHERE status != 'ready'")[0][0], 20, 0.5)
                if not tap.ok(not deleting, "a stopped run's server is not deleted, though its "
                              "deadline and heartbeat expired"):
                    tap.diag(lclib.reaper_log_tail(w))
                st, _ = status_json(w, ws)
                tap.ok((st or {}).get("runs_in_progress") == 1,
                       "status counts the stopped run as in progress (%r)" %
                       (st or {}).get("runs_in_progress"))
            finally:
                if stopped:
                    os.killpg(p.pid, signal.SIGCONT)
                out, err = p.communicate(timeout=180)
            if not tap.ok(p.returncode == 0, "continued, the run completes"):
                tap.diag("exit %s\n%s\n%s" % (p.returncode, out[-2000:], err[-2000:]))
            tap.ok([s.get("id") for s in w.servers()] == [sid], "on the same server")
            tap.is_(w.api_calls().count(("POST", "/v1/servers")), 1, "no second server")
            lclib.check_reaper_logs(tap, w)
            w.burst(["down", "--with-volumes"], cwd=ws)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A lost state database leaks nothing.  Deleted (state.db, -wal, -shm)
while a server and a volume are up, with no command run afterwards: the
old reapers do not abandon them but hand them over to a new database and
the server is reaped by its deadline; `status` with a token then shows
the volume and it is reaped by its deadline too.  Corrupt, and seen first
by a command without a token: nothing is lost, a later `status` with a
token shows the server rebuilt from labels, and both are reaped.  Lost
in the moment after a run, before its reapers opened it: the reaper that
finds no row in the new database adopts by label at once."""

import os
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lclib  # noqa: E402
from lclib import Tap, World, new_sim, seed, wait_for, status_json  # noqa: E402

KEEP = 15
VKEEP = 45


def remove(db, suffixes):
    """Delete db's files with these suffixes ("" is state.db itself)."""
    for sfx in suffixes:
        try:
            os.unlink(db + sfx)
        except FileNotFoundError:
            pass


def cold_build(tap, w, ws, desc):
    """One row: a build that makes one server and one volume."""
    r = w.burst(["build"], cwd=ws)
    if not tap.ok(r.code == 0 and len(w.servers()) == 1 and len(w.volumes()) == 1,
                  desc + ": one server, one volume"):
        tap.diag(repr(r))
        return False
    return True


def volumes_of(st):
    return [p for p in (st or {}).get("projects", []) if p.get("volume")]


def main():
    lclib.need_real_world()
    tap = Tap()
    tap.plan(22)
    with new_sim() as sim:
        seed(sim)
        cfg = {"keep_alive_secs": KEEP, "volume_keep_alive_secs": VKEEP,
               "billing_hour_hold": False}
        with World(tap, sim, config=cfg) as w:
            ws = w.fixture("hello")
            db = os.path.join(w.state_dir, "state.db")

            # 1. deleted while up; nobody runs a command
            if not cold_build(tap, w, ws, "cold build"):
                return tap.done()
            if not tap.ok(lclib.wait_reapers_claimed(w),
                          "its reapers have opened the database and claimed their resources"):
                tap.diag("%r\n%s" % (w.reapers(), lclib.reaper_log_tail(w)))
            st, _ = status_json(w, ws)
            deadline = ((st or {}).get("server") or {}).get("deadline") or 0
            remove(db, ("", "-wal", "-shm"))
            gone = wait_for(lambda: not w.servers(), deadline - time.time() + 120, 0.5)
            if not tap.ok(gone, "the old reaper still deletes the server"):
                tap.diag(lclib.reaper_log_tail(w))
            tap.ok(time.time() >= deadline - 1 or not gone, "not before its deadline")
            tap.ok(os.path.exists(db), "it handed the server over to a new database")
            st, r = status_json(w, ws)
            vols = volumes_of(st)
            tap.ok(len(vols) == 1 and vols[0]["volume"]["id"] == (w.volumes() or [{}])[0].get("id"),
                   "status with a token shows the volume")
            if len(vols) != 1:
                tap.diag(repr(r))
            vgone = wait_for(lambda: not w.volumes(), VKEEP + 150, 0.5)
            if not tap.ok(vgone, "and the volume is reaped by its deadline"):
                tap.diag(lclib.reaper_log_tail(w))

            # 2. corrupt, seen first by a command without a token
            if not cold_build(tap, w, ws, "another cold build"):
                return tap.done()
            sid = w.servers()[0]["id"]
            # whoever opens the corrupt file first moves it aside: here that
            # must be the command below, not a reaper still starting up
            if not tap.ok(lclib.wait_reapers_claimed(w),
                          "its reapers have opened the database and claimed their resources"):
                tap.diag("%r\n%s" % (w.reapers(), lclib.reaper_log_tail(w)))
            remove(db, ("-wal", "-shm"))
            with open(db, "wb") as f:
                f.write(b"this is not a database " * 400)
            r = w.burst(["status"], cwd=ws, env={"HCLOUD_TOKEN": ""})
            if not tap.ok("corrupt" in r.err,
                          "a command without a token moves the corrupt one aside"):
                tap.diag("%r\n%s" % (r, lclib.reaper_log_tail(w)))
            st, r = status_json(w, ws)
            srv = (st or {}).get("server") or {}
            if not tap.ok(srv.get("id") == sid, "a later status with a token shows the server"):
                tap.diag(repr(r))
            tap.is_(len(volumes_of(st)), 1, "and the volume")
            gone = wait_for(lambda: not w.servers(), KEEP + 120, 0.5)
            if not tap.ok(gone, "the server is reaped"):
                tap.diag(lclib.reaper_log_tail(w))
            vgone = wait_for(lambda: not w.volumes(), VKEEP + 150, 0.5)
            if not tap.ok(vgone, "the volume is reaped"):
                tap.diag(lclib.reaper_log_tail(w))
            tap.is_(w.api_calls().count(("POST", "/v1/servers")), 2, "two servers made in all")

            # 3. lost in the moment between a run's end and its reapers' start
            if not cold_build(tap, w, ws, "a third cold build"):
                return tap.done()
            sid = w.servers()[0]["id"]
            if not lclib.wait_reapers_claimed(w):
                tap.diag("the run's reapers did not claim: %r" % w.reapers())
            con = sqlite3.connect(db, timeout=30)
            row = con.execute("SELECT id FROM servers WHERE hcloud_id = ?", (sid,)).fetchone()
            con.close()
            pids = [p for v in w.reapers().values() for p in v]
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not any(lclib.pid_alive(p) for p in pids), 30, 0.1)
            remove(db, ("", "-wal", "-shm"))
            # the server reaper the run armed, starting only now
            r = w.burst(["__reap-server", "--state-dir", w.state_dir, str(row[0])], cwd=ws,
                        timeout=120)
            if not tap.ok(r.code == 0 and "adopted 1 server(s) and 1 volume(s)" in r.err,
                          "a reaper whose row is not in the new database adopts by label"):
                tap.diag(repr(r))
            # no command runs (it would adopt them too): only reapers act
            gone = wait_for(lambda: not w.servers(), KEEP + 120, 0.5)
            if not tap.ok(gone, "and the server is reaped with no command run"):
                tap.diag(lclib.reaper_log_tail(w))
            st, r = status_json(w, ws)
            vols = volumes_of(st)
            if not tap.ok(len(vols) == 1 and vols[0]["volume"]["id"] == (w.volumes() or [{}])[0].get("id") and
                          (vols[0].get("reaper") or {}).get("alive"),
                          "the volume is in the state with a live reaper"):
                tap.diag(repr(r))
            r = w.burst(["down", "--with-volumes"], cwd=ws)
            tap.ok(r.code == 0 and not w.volumes(), "down --with-volumes deletes the volume")
            left = wait_for(lambda: not w.reapers(), 60, 0.5)
            tap.ok(left, "no reaper is left behind once they are gone (%r)" % w.reapers())
            lclib.check_reaper_logs(tap, w)
            if w.servers() or w.volumes():
                w.burst(["down", "--with-volumes"], cwd=ws)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Server reaper: reaped after the keep-alive, a run in the meantime
postpones it, a reaper killed with -9 is re-armed by the next invocation,
--no-reap and --keep-alive are persisted across runs; status/audit/down
outputs (human and --json)."""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lclib  # noqa: E402
from lclib import Tap, World, new_sim, seed, wait_for, status_json, live_servers  # noqa: E402

KEEP = 8


def main():
    lclib.need_real_world()
    tap = Tap()
    tap.plan(28)
    with new_sim() as sim:
        seed(sim)
        with World(tap, sim, config={"keep_alive_secs": KEEP, "billing_hour_hold": False}) as w:
            ws = w.fixture("hello")
            r = w.burst(["build"], cwd=ws)
            t1 = time.time()
            if not tap.ok(r.code == 0, "cold build succeeds"):
                tap.diag(repr(r))
                return tap.done()
            st, rs = status_json(w, ws)
            srv = (st or {}).get("server") or {}
            reaper = srv.get("reaper") or {}
            tap.ok(reaper.get("alive") is True and reaper.get("pid"),
                   "status --json: the server has a live reaper")
            p1 = reaper.get("pid") or 0
            svc = (st or {}).get("services")
            tap.ok(isinstance(svc, dict) and set(svc) == {"postgresql", "mysql", "redis"} and
                   set(svc.values()) <= {"up", "down"},
                   "status --json: database services checked over the open ssh master (%r)" % svc)
            d1 = srv.get("deadline") or 0
            tap.ok(abs(d1 - (t1 + KEEP)) < 5, "deadline is last activity + keep-alive (%s vs %.0f)"
                   % (d1, t1 + KEEP))
            # kill -9 the reaper: the next invocation of any verb re-arms it
            if p1:
                os.kill(p1, signal.SIGKILL)
            time.sleep(0.3)
            r = w.burst(["status"], cwd=ws)
            tap.ok(r.code == 0 and "reaper" in r.out, "status prints the server and its reaper")
            st, _ = status_json(w, ws)
            rp = ((st or {}).get("server") or {}).get("reaper") or {}
            p2 = rp.get("pid") or 0
            if p2 == p1 or not rp.get("alive"):
                # the reaper claims its slot a moment after it starts
                time.sleep(1)
                st, _ = status_json(w, ws)
                rp = ((st or {}).get("server") or {}).get("reaper") or {}
                p2 = rp.get("pid") or 0
            tap.ok(p2 and p2 != p1 and rp.get("alive"), "a killed reaper is re-armed (%s -> %s)"
                   % (p1, p2))
            # a run in the meantime postpones the deadline
            time.sleep(4)
            r = w.burst(["build"], cwd=ws)
            t2 = time.time()
            tap.ok(r.code == 0, "warm build succeeds")
            st, _ = status_json(w, ws)
            d2 = ((st or {}).get("server") or {}).get("deadline") or 0
            tap.ok(d2 > d1, "the run moved the deadline (%s -> %s)" % (d1, d2))
            lclib.wait_for(lambda: time.time() > d1 + 1.5, KEEP + 5)
            tap.ok(len(live_servers(w)) == 1 and time.time() < d2,
                   "past the first deadline the server is still there")
            gone = wait_for(lambda: not w.servers(), d2 - time.time() + 40)
            t_gone = time.time()
            if not tap.ok(gone, "the server is reaped after the moved deadline"):
                tap.diag(lclib.reaper_log_tail(w))
            tap.ok(t_gone >= d2 - 1, "not before its deadline (gone at %.0f, deadline %s)"
                   % (t_gone, d2))
            tap.ok(len(w.volumes()) == 1, "the project volume stays")
            # the reaper records the termination once the delete action is over
            wait_for(lambda: (status_json(w, ws)[0] or {}).get("server", 1) is None, 20, 0.5)
            r = w.burst(["audit", "--json", "--rate", "0.5"], cwd=ws)
            try:
                a = json.loads(r.out)
            except ValueError:
                a = None
                tap.diag(repr(r))
            tap.ok(a is not None, "audit --json parses")
            terms = lclib.find_key(a, "terminations") or {}
            tap.ok(terms.get("reap") == 1, "audit counts one termination by reap (%r)" % terms)
            r = w.burst(["audit"], cwd=ws)
            tap.ok(r.code == 0 and "reap 1" in r.out, "audit (human) shows the reap")
            tap.ok("live net prices" in r.out and "for a price" not in r.out and "no server price" not in r.err,
                   "audit without --rate uses live prices from the API")
            tap.ok(("GET", "/v1/pricing") in w.api_calls(), "audit asked the pricing endpoint")
            st, _ = status_json(w, ws)
            tap.ok(st is not None and st.get("server") is None, "status: no server any more")

            # --no-reap is persisted: no reaper, the server stays
            r = w.burst(["build", "--no-reap", "--keep-alive", "1"], cwd=ws)
            tap.ok(r.code == 0, "build --no-reap succeeds")
            st, _ = status_json(w, ws)
            srv = (st or {}).get("server") or {}
            tap.ok(srv.get("no_reap") is True, "status --json shows no_reap")
            r = w.burst(["status"], cwd=ws)
            tap.ok("--no-reap" in r.out, "status shows --no-reap")
            time.sleep(6)
            tap.ok(len(live_servers(w)) == 1, "a --no-reap server outlives its keep-alive")
            # the next run without --no-reap clears it; its --keep-alive is used
            r = w.burst(["check", "--keep-alive", "3"], cwd=ws)
            t3 = time.time()
            tap.ok(r.code == 0, "check --keep-alive 3 succeeds")
            st, _ = status_json(w, ws)
            srv = (st or {}).get("server") or {}
            tap.ok(srv.get("no_reap") is False and abs((srv.get("deadline") or 0) - (t3 + 3)) < 4,
                   "--no-reap cleared, deadline from --keep-alive 3")
            gone = wait_for(lambda: not w.servers(), 40)
            if not tap.ok(gone, "then it is reaped after 3 s"):
                tap.diag(lclib.reaper_log_tail(w))

            # down: the volume; then nothing
            r = w.burst(["down", "--with-volumes"], cwd=ws)
            tap.ok(r.code == 0 and "Deleted volume" in r.out, "down --with-volumes deletes the "
                   "volume and says so")
            if r.code != 0 or "Deleted volume" not in r.out:
                tap.diag(repr(r))
            r = w.burst(["down"], cwd=ws)
            tap.ok(r.code == 0 and "Nothing to delete" in r.out and not w.volumes(),
                   "down with nothing left says so")
            lclib.check_reaper_logs(tap, w)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

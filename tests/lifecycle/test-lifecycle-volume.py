#!/usr/bin/env python3
"""Volume reaper: when the project's volume keep-alive passes while the
server lives, the reaper unmounts it on the server, detaches it, waits for
the detach, deletes it and clears it from the state; the next run gets a
fresh volume.  Billing-hour hold: an idle server is kept until margin
before the end of its billed hour."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lclib  # noqa: E402
from lclib import Tap, World, new_sim, seed, wait_for, status_json, live_servers  # noqa: E402

VKEEP = 5
MARGIN = 3600 - 40


def mounted_in_server(sim, server_id, path):
    for s in sim.state().get("servers", []):
        if s["id"] != server_id:
            continue
        pid = (s.get("_internal") or {}).get("sshd_pid")
        if not pid:
            return False
        r = subprocess.run(["nsenter", "--mount=/proc/%d/ns/mnt" % pid, "--", "cat",
                            "/proc/self/mounts"], capture_output=True, text=True, timeout=20)
        return any(line.split()[1] == path for line in r.stdout.splitlines() if line.split())
    return False


def main():
    lclib.need_real_world()
    tap = Tap()
    tap.plan(18)
    with new_sim() as sim:
        seed(sim)
        cfg = {"keep_alive_secs": 600, "volume_keep_alive_secs": VKEEP,
               "billing_hour_hold": True, "billing_margin_secs": MARGIN}
        with World(tap, sim, config=cfg) as w:
            ws = w.fixture("hello")
            r = w.burst(["build", "--keep-alive", "1"], cwd=ws)
            t1 = time.time()
            if not tap.ok(r.code == 0, "cold build succeeds"):
                tap.diag(repr(r))
                return tap.done()
            st, _ = status_json(w, ws)
            srv = (st or {}).get("server") or {}
            proj = ((st or {}).get("projects") or [{}])[0]
            vol = proj.get("volume") or {}
            v1 = vol.get("id")
            sid = srv.get("id")
            tap.ok(v1 and (proj.get("reaper") or {}).get("alive"),
                   "the project volume %s has a live reaper" % v1)
            # billing-hour hold: keep-alive 1 s, but kept until margin before the hour ends
            want = srv.get("created_at", 0) + 3600 - MARGIN
            tap.is_(srv.get("deadline"), want, "with billing_hour_hold the deadline is the end "
                    "of the billed hour minus the margin")
            mnt = "/mnt/cache/%s" % proj.get("id")
            tap.ok(mounted_in_server(sim, sid, mnt), "the volume is mounted on the server")
            sim.reset_requests()
            gone = wait_for(lambda: not [v for v in w.volumes() if v["id"] == v1],
                            VKEEP + 40)
            t_gone = time.time()
            if not tap.ok(gone, "the volume is reaped after its keep-alive"):
                tap.diag(lclib.reaper_log_tail(w))
            tap.ok(t_gone >= t1 + VKEEP - 1, "not before its deadline")
            tap.ok(len(live_servers(w)) == 1 and t_gone < want,
                   "the held server is still up (keep-alive 1 s passed long ago)")
            tap.ok(not mounted_in_server(sim, sid, mnt), "it was unmounted on the server")
            calls = [(q["method"], q["path"]) for q in sim.requests()]
            det = ("POST", "/v1/volumes/%d/actions/detach" % v1)
            dele = ("DELETE", "/v1/volumes/%d" % v1)
            tap.ok(det in calls and dele in calls and calls.index(det) < calls.index(dele),
                   "detached before it was deleted")
            with open(os.path.join(sim.state_dir, "sim.log"), errors="replace") as f:
                tap.ok("volume %d still mounted" % v1 not in f.read(),
                       "the simulator did not have to unmount it itself")
            wait_for(lambda: ((status_json(w, ws)[0] or {}).get("projects") or [{}])[0]
                     .get("volume") is None, 20, 0.5)
            st, _ = status_json(w, ws)
            proj = ((st or {}).get("projects") or [{}])[0]
            tap.ok(proj.get("volume") is None, "the state forgot the volume")
            # the next run gets a fresh volume (warm server)
            sim.reset_requests()
            r = w.burst(["build", "--keep-alive", "1"], cwd=ws)
            tap.ok(r.code == 0, "the next build succeeds")
            calls = [(q["method"], q["path"]) for q in sim.requests()]
            tap.ok(("POST", "/v1/volumes") in calls and ("POST", "/v1/servers") not in calls,
                   "it created a fresh volume on the same server")
            vols = w.volumes()
            tap.ok(len(vols) == 1 and vols[0]["id"] != v1, "one new volume")
            # the hold ends at created + 40 s: then the server goes
            gone = wait_for(lambda: not w.servers(), want - time.time() + 40)
            t_gone = time.time()
            if not tap.ok(gone, "the held server is reaped at the end of the hold"):
                tap.diag(lclib.reaper_log_tail(w))
            tap.ok(t_gone >= want - 1, "not before (%.0f >= %d)" % (t_gone, want))
            r = w.burst(["audit", "--json"], cwd=ws)
            try:
                terms = lclib.find_key(json.loads(r.out), "terminations") or {}
            except ValueError:
                terms = {}
            tap.ok(terms.get("reap") == 1 or wait_for(
                lambda: (lclib.find_key(json.loads(w.burst(["audit", "--json"], cwd=ws).out),
                                        "terminations") or {}).get("reap") == 1, 15, 1),
                "audit: one server reaped")
            w.burst(["down", "--with-volumes"], cwd=ws)
            lclib.check_reaper_logs(tap, w)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

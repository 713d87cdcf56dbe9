#!/usr/bin/env python3
"""Concurrency, lost database and foreign resources:
8 concurrent runs over 3 projects create exactly one server and three
volumes; with the database deleted the next run adopts the server and the
volumes by label (no new POST); a labelled resource of another owner and
an unlabelled server are never touched (not by the reapers, the sweep or
down); down --with-volumes lists what it deleted."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lclib  # noqa: E402
from lclib import Tap, World, new_sim, seed, wait_for, status_json  # noqa: E402

OTHER = "0123456789ab"


def create(sim, path, body):
    st, obj, _ = sim.api("POST", path, body)
    if st != 201:
        raise RuntimeError("POST %s -> %s %s" % (path, st, obj))
    for a in [obj.get("action")] + (obj.get("next_actions") or []):
        if a:
            sim.wait_action(a["id"])
    return obj.get("server") or obj.get("volume")


def main():
    lclib.need_real_world()
    tap = Tap()
    tap.plan(22)
    with new_sim() as sim:
        seed(sim)
        foreign = [
            ("server", create(sim, "/servers", {
                "name": "other-owner", "server_type": "cpx11", "image": "ubuntu-24.04",
                "location": "fsn1", "labels": {"managed-by": "cargo-burst", "owner": OTHER,
                                               "role": "server"}})["id"]),
            ("server", create(sim, "/servers", {
                "name": "unlabelled", "server_type": "cpx11", "image": "ubuntu-24.04",
                "location": "fsn1"})["id"]),
            ("volume", create(sim, "/volumes", {
                "name": "other-owner-vol", "size": 10, "location": "fsn1", "labels": {
                    "managed-by": "cargo-burst", "owner": OTHER, "role": "volume",
                    "project": "abcdefabcdef"}})["id"]),
        ]
        foreign_ids = {i for _, i in foreign}
        sim.reset_requests()
        cfg = {"keep_alive_secs": 600, "volume_keep_alive_secs": 3600, "billing_hour_hold": False}
        with World(tap, sim, config=cfg) as w:
            projects = [w.fixture("hello", dest="p%d" % i) for i in range(3)]
            results = [None] * 8

            def one(i):
                results[i] = w.burst(["check"], cwd=projects[i % 3], timeout=400)
            threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            bad = [r for r in results if r is None or r.code != 0]
            if not tap.ok(not bad, "8 concurrent runs over 3 projects succeed"):
                for r in bad[:2]:
                    tap.diag(repr(r))
            calls = w.api_calls()
            tap.is_(calls.count(("POST", "/v1/servers")), 1, "exactly one server was created")
            tap.is_(calls.count(("POST", "/v1/volumes")), 3, "exactly three volumes were created")
            st, _ = status_json(w, projects[0])
            owner = (st or {}).get("owner")
            mine_s = lclib.ours(w.servers(), owner)
            mine_v = lclib.ours(w.volumes(), owner)
            tap.ok(len(mine_s) == 1 and len(mine_v) == 3, "one server and three volumes of ours")

            # the database is lost: the next run adopts by label
            for sfx in ("", "-wal", "-shm"):
                try:
                    os.unlink(os.path.join(w.state_dir, "state.db" + sfx))
                except FileNotFoundError:
                    pass
            sim.reset_requests()
            r = w.burst(["check"], cwd=projects[1])
            tap.ok(r.code == 0, "a run after the database was deleted succeeds")
            if r.code != 0:
                tap.diag(repr(r))
            calls = w.api_calls()
            tap.ok(("POST", "/v1/servers") not in calls, "no new server was created")
            tap.ok(("POST", "/v1/volumes") not in calls, "no new volume was created")
            tap.ok(len(lclib.ours(w.servers(), owner)) == 1, "still one server of ours")
            st, _ = status_json(w, projects[1])
            srv = (st or {}).get("server") or {}
            vols = [p for p in (st or {}).get("projects", []) if p.get("volume")]
            tap.ok(srv.get("id") == mine_s[0]["id"] and (srv.get("reaper") or {}).get("alive"),
                   "the adopted server is the current one and has a reaper")
            tap.is_(len(vols), 3, "all three volumes were adopted")
            tap.ok(all((p.get("reaper") or {}).get("alive") for p in vols),
                   "each adopted volume has a reaper")

            # a corrupt database is moved aside; any verb rebuilds the state from labels
            for sfx in ("-wal", "-shm"):
                try:
                    os.unlink(os.path.join(w.state_dir, "state.db" + sfx))
                except FileNotFoundError:
                    pass
            with open(os.path.join(w.state_dir, "state.db"), "wb") as f:
                f.write(b"this is not a database " * 400)
            st, r = status_json(w, projects[2])
            tap.ok("corrupt" in r.err or "moved" in r.err, "status says the database was moved aside")
            srv = (st or {}).get("server") or {}
            tap.ok(srv.get("id") == mine_s[0]["id"], "status shows the server rebuilt from labels")
            tap.is_(len([p for p in (st or {}).get("projects", []) if p.get("volume")]), 3,
                    "and the three volumes")
            if srv.get("id") != mine_s[0]["id"]:
                tap.diag(repr(r))

            # down refuses while a run uses the server
            marks = os.path.join(w.dir, "marks")
            os.makedirs(marks)
            wrap = os.path.join(w.dir, "ssh-slow")
            with open(wrap, "w") as f:
                f.write('#!/bin/sh\ncase "$*" in *cargo\\ *) : > "$LC_MARK_DIR/cargo"; sleep 3;; esac\n'
                        'exec ssh "$@"\n')
            os.chmod(wrap, 0o700)
            p = w.start(["check"], cwd=projects[0], env={"CARGO_BURST_SSH": wrap,
                                                          "LC_MARK_DIR": marks})
            try:
                wait_for(lambda: os.path.exists(os.path.join(marks, "cargo")) or
                         p.poll() is not None, 60, 0.05)
                r = w.burst(["down"], cwd=projects[1])
                tap.ok(r.code == 73 and "in use" in r.err, "down refuses while a run is in progress")
                if r.code != 73:
                    tap.diag(repr(r))
            finally:
                out, err = p.communicate(timeout=120)
            tap.ok(p.returncode == 0 and len(lclib.ours(w.servers(), owner)) == 1,
                   "the run finished undisturbed")

            # down deletes ours, lists them, and nothing else
            r = w.burst(["down", "--with-volumes"], cwd=projects[0])
            tap.ok(r.code == 0, "down --with-volumes succeeds")
            tap.ok(r.out.count("Deleted server") == 1 and r.out.count("Deleted volume") == 3,
                   "down lists one server and three volumes")
            if r.code != 0 or r.out.count("Deleted volume") != 3:
                tap.diag(repr(r))
            left = {s["id"] for s in w.servers()} | {v["id"] for v in w.volumes()}
            tap.is_(left, foreign_ids, "only the other owner's and the unlabelled resources remain")
            deletes = [p for m, p in w.api_calls() if m == "DELETE" or "detach" in p]
            touched = [p for p in deletes if any(("/%d" % i) in p for i in foreign_ids)]
            tap.is_(touched, [], "nothing of theirs was ever detached or deleted")
            r = w.burst(["status"], cwd=projects[0])
            tap.ok(r.code == 0 and "server      none" in r.out, "status: no server after down")
            lclib.check_reaper_logs(tap, w)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end: the cold path's API requests (issue 7, items 2 and 3).

A cold run waits for every action with one GET /actions per poll (several
ids in one request), creates the volume after POST /servers in the
location the server got, and registers the ssh key once (its id is
remembered: no key lookup on later cold runs).  After the server is gone,
the project's volume goes into POST /servers (`volumes`), so there is no
attach request and the target dir is warm.  A remembered key deleted
behind the tool's back is registered again; a remembered volume deleted
behind its back is looked up by label and replaced.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import world_main  # noqa: E402


def calls(sim, method, path_start, path_end=""):
    return [r for r in sim.requests()
            if r["method"] == method and r["path"].startswith(path_start) and
            r["path"].endswith(path_end)]


def main():
    return world_main(run_all, {"durations": {"server_create": 0.6, "server_start": 0.6,
                                             "volume_create": 0.3, "attach": 0.3}})


def run_all(tap, sim, w):
    hello, r = w.cold_build("first cold build succeeds")
    if r.code != 0:
        return
    reqs = sim.requests()
    tap.ok(len(reqs) <= 15, "a cold run makes at most 15 API requests (%d)" % len(reqs))
    polls = calls(sim, "GET", "/v1/actions")
    multi = [p for p in polls if len((p.get("query") or {}).get("id") or []) >= 2]
    tap.ok(len(multi) >= 1, "server and volume actions polled together (%d of %d polls)"
           % (len(multi), len(polls)))
    order = [(q["method"], q["path"]) for q in reqs]
    tap.ok(("POST", "/v1/servers") in order and ("POST", "/v1/volumes") in order and
           order.index(("POST", "/v1/servers")) < order.index(("POST", "/v1/volumes")),
           "POST /servers goes out before POST /volumes")
    tap.is_(len(calls(sim, "GET", "/v1/ssh_keys")), 1, "the key is looked up once")
    tap.is_(len(calls(sim, "POST", "/v1/ssh_keys")), 1, "and registered")
    servers, vols = w.servers(), w.volumes()
    tap.ok(len(servers) == 1 and len(vols) == 1 and vols[0]["server"] == servers[0]["id"],
           "the volume is attached to the server")

    # the server goes away (as after its reaper): the volume goes in with the create
    tap.ok(w.delete_server(servers[0]["id"] if servers else 0), "server deleted")
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "cold build with the project's volume succeeds"):
        tap.diag(repr(r))
    posts = calls(sim, "POST", "/v1/servers")
    tap.ok(len(posts) == 1 and (posts[0].get("body") or {}).get("volumes") == [vols[0]["id"]],
           "the volume is in POST /servers")
    tap.is_(len(calls(sim, "POST", "/v1/volumes/", "/actions/attach")), 0, "no attach request")
    tap.is_(len(calls(sim, "GET", "/v1/ssh_keys")), 0, "no key lookup (its id is remembered)")
    lookups = [q for q in calls(sim, "GET", "/v1/volumes")
               if "project" in " ".join((q.get("query") or {}).get("label_selector") or [])]
    tap.is_(len(lookups), 0, "no lookup of the project's volume (the state knows it)")
    tap.ok("Compiling" not in r.err, "the target dir on the volume is warm")
    tap.is_(len(w.volumes()), 1, "no new volume")

    # the remembered key and volume deleted behind the tool's back
    servers = w.servers()
    tap.ok(w.delete_server(servers[0]["id"] if servers else 0), "server deleted again")
    st, body, _ = sim.api("GET", "/ssh_keys")
    for k in (body or {}).get("ssh_keys", []):
        sim.api("DELETE", "/ssh_keys/%d" % k["id"])
    st, _, _ = sim.api("DELETE", "/volumes/%d" % vols[0]["id"])
    tap.is_(st, 204, "volume deleted behind the tool's back")
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "cold build after both were deleted succeeds"):
        tap.diag(repr(r))
    tap.is_(len(calls(sim, "POST", "/v1/ssh_keys")), 1, "the key is registered again")
    tap.ok("Compiling hello" in r.err, "a new volume: cold build")
    vols2 = w.volumes()
    servers = w.servers()
    tap.ok(len(vols2) == 1 and vols2[0]["id"] != vols[0]["id"] and servers and
           vols2[0]["server"] == servers[0]["id"], "a new volume, attached")
    refused = [q for q in calls(sim, "POST", "/v1/servers") if q["status"] == 422]
    tap.ok(len(refused) >= 1, "the create refused the stale key or volume (%d)" % len(refused))

    r = w.burst(["build"], cwd=hello)
    tap.is_(r.code, 0, "the next build is warm")
    tap.ok("Compiling" not in r.err, "and compiles nothing")

    # the reply to POST /servers lost (the request done): never two servers
    servers = w.servers()
    owner = servers[0]["labels"].get("owner", "") if servers else ""
    tap.ok(w.delete_server(servers[0]["id"] if servers else 0), "server deleted a third time")
    sim.configure({"faults": [{"method": "POST", "path": "/servers", "apply": True,
                               "drop": True, "times": 1}]})
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "a cold run whose POST /servers reply was lost succeeds"):
        tap.diag(repr(r))
    ours = [x for x in w.servers() if x["labels"].get("owner") == owner]
    tap.ok(len(ours) == 1 and ours[0]["status"] == "running",
           "exactly one server of ours, running (%d)" % len(ours))
    sim.configure({"faults": []})

if __name__ == "__main__":
    sys.exit(main())

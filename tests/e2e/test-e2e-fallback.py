#!/usr/bin/env python3
"""End-to-end: the image, locations and the persistent volume.

Without a labelled image the run stops and names `cargo burst image build`.
A sold-out first location falls back to the second; after the server is
deleted, the next run provisions a new one next to the project's volume and
finds the target dir warm (nothing recompiled); when that location is sold
out too, the project moves (a new, cold volume; the old one stays); when
every location is sold out the run stops with the reason.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Tap, World, need_root_and_tools, new_sim, seed  # noqa: E402


def location_of(server):
    # today's shape: location; the older one (legacy_datacenter): datacenter.location
    return (server.get("location") or server["datacenter"]["location"])["name"]


def main():
    tap = Tap()
    need_root_and_tools(tap)
    with new_sim({"sold_out": [{"location": "fsn1"}]}) as sim:
        with World(tap, sim, config={"regions": ["fsn1", "nbg1", "hel1"]}) as w:
            run_all(tap, sim, w)
    return tap.done()


def run_all(tap, sim, w):
    hello = w.fixture("hello")

    # no image yet: say how to make one, create nothing
    r = w.burst(["build"], cwd=hello)
    tap.is_(r.code, 78, "without an image the run stops")
    tap.ok("cargo burst image build" in r.err, "and says to run `cargo burst image build`")
    tap.ok(not w.servers() and not w.volumes(), "nothing was created")
    seed(sim)
    sim.reset_requests()

    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "build succeeds although fsn1 is sold out"):
        tap.diag(repr(r))
    tap.ok("not available in fsn1; trying nbg1" in r.err, "one-line notice about the fallback")
    posts = [c for c in w.api_calls() if c == ("POST", "/v1/servers")]
    tap.is_(len(posts), 2, "tried fsn1, then nbg1")
    servers = w.servers()
    tap.ok(len(servers) == 1 and location_of(servers[0]) == "nbg1", "the server is in nbg1")
    vols = w.volumes()
    tap.ok(len(vols) == 1 and vols[0]["location"]["name"] == "nbg1",
           "the volume followed the server to nbg1")
    tap.ok("Compiling hello" in r.err, "first build compiles")

    # the server goes away (as after its reaper); the volume stays
    first = servers[0]["id"] if servers else 0
    tap.ok(w.delete_server(first), "first server deleted")
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "the next run provisions a new server"):
        tap.diag(repr(r))
    servers = w.servers()
    tap.ok(len(servers) == 1 and servers[0]["id"] != first and location_of(servers[0]) == "nbg1",
           "a new server, next to the volume in nbg1")
    posts = [c for c in w.api_calls() if c == ("POST", "/v1/servers")]
    tap.is_(len(posts), 1, "the volume's location was tried first (no sold-out attempt)")
    tap.ok("Compiling" not in r.err, "the target dir on the volume is warm: nothing recompiled")
    tap.is_(len(w.volumes()), 1, "no new volume")

    # nbg1 sold out as well: the project moves to hel1 with a new volume
    sim.configure({"sold_out": [{"location": "fsn1"}, {"location": "nbg1"}]})
    tap.ok(w.delete_server(servers[0]["id"] if servers else 0), "second server deleted")
    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "build succeeds in hel1"):
        tap.diag(repr(r))
    tap.ok("Moving" in r.err and "cold" in r.err, "says the project moved and the build is cold")
    tap.ok("Compiling hello" in r.err, "a new volume: cold build")
    vols = sorted(w.volumes(), key=lambda v: v["id"])
    tap.ok(len(vols) == 2 and vols[1]["location"]["name"] == "hel1" and
           vols[1]["name"].endswith("-hel1") and vols[0]["location"]["name"] == "nbg1",
           "new volume in hel1, the old one left for its reaper")

    # nothing anywhere
    sim.configure({"sold_out": [{}]})
    servers = w.servers()
    tap.ok(w.delete_server(servers[0]["id"] if servers else 0), "third server deleted")
    r = w.burst(["build"], cwd=hello)
    tap.is_(r.code, 69, "every location sold out: the API exit code")
    tap.ok("sold out" in r.err and "regions" in r.err, "the error says why and what to change")
    tap.is_(len(w.servers()), 0, "no server was created")

    # a server that never starts: the run fails, the next one deletes it
    # and replaces it (never a growing row of servers: max_servers = 1)
    sim.configure({"sold_out": [], "action_errors": [{"command": "start_server", "times": 1}]})
    r = w.burst(["build"], cwd=hello)
    tap.is_(r.code, 69, "a server that fails to start fails the run")
    broken = [s["id"] for s in w.servers()]
    tap.is_(len(broken), 1, "the broken server is left for its reaper")
    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "the next run provisions a working server"):
        tap.diag(repr(r))
    tap.ok(len(w.servers()) == 1 and broken and
           all(s["id"] != broken[0] and s["status"] == "running" for s in w.servers()),
           "the broken server deleted, one new server running")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end: a server whose sshd never answers, and the cost guard (issue 11).

1. The simulator starts the next server without sshd (`sshd_refuse`, a
   broken image).  The cold run gives up after its ssh wait (exit 76) and
   deletes that server, its volume detached first, instead of leaving it
   up for its paid hour.  The second run (sshd works again) creates one
   server and succeeds: never more than one server of ours at once, and no
   "volume is already attached" refusal.
2. The cost guard: with a server row of ours still up in the state
   (max_servers = 1), a run that would create another is refused with
   exit 78, naming the server and `cargo burst down`; after `down` the run
   succeeds.
"""

import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Poller, world_main  # noqa: E402


class MaxServers(Poller):
    """Samples the number of our servers in the API while a run goes on."""

    def __init__(self, w):
        super().__init__()
        self.w = w
        self.most = 0

    def poll(self):
        n = len([s for s in self.w.servers() if s["status"] != "deleting"])
        self.most = max(self.most, n)


def posts(sim, path):
    return [r for r in sim.requests() if r["method"] == "POST" and r["path"] == path and
            (r.get("status") == 201 or r.get("fault"))]


def rows(w):
    con = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=10)
    try:
        return con.execute("SELECT id, name, status FROM servers ORDER BY id").fetchall()
    finally:
        con.close()


def unreachable(tap, sim, w, hello):
    env = {"BURST_SSH_WAIT_SECS": "4"}
    sim.configure({"sshd_refuse": 1})
    sim.reset_requests()
    with MaxServers(w) as m1:
        r1 = w.burst(["build"], cwd=hello, env=env)
    tap.is_(r1.code, 76, "a run against a server whose sshd never answers exits 76")
    tap.ok("never answered ssh" in r1.err and "deleted" in r1.err,
           "it says the server never answered and was deleted")
    tap.ok("stays up until its reaper" not in r1.err, "and does not claim it stays up")
    tap.is_(len(posts(sim, "/v1/servers")), 1, "one server was created")
    tap.is_([s["name"] for s in w.servers() if s["status"] != "deleting"], [],
            "no server of ours is left up")
    tap.ok(all(v["server"] is None for v in w.volumes()), "the volume is detached")
    tap.ok(all(st == "deleted" for _, _, st in rows(w)), "its row is marked deleted")

    sim.reset_requests()
    with MaxServers(w) as m2:
        r2 = w.burst(["build"], cwd=hello, env=env)
    if not tap.is_(r2.code, 0, "the next run (sshd back) succeeds"):
        tap.diag(repr(r2))
    tap.ok("already attached" not in r2.err, "no 'volume already attached' refusal")
    tap.is_(len(posts(sim, "/v1/servers")), 1, "it created one server")
    tap.ok(m1.most <= 1 and m2.most <= 1,
           "never more than one server up at once (%d, %d)" % (m1.most, m2.most))
    tap.is_(len(w.servers()), 1, "one server of ours at the end")


def cost_guard(tap, sim, w, hello):
    # another server of ours that the state says is up (an older row, so
    # not the current server; e.g. one whose delete kept failing)
    servers = w.servers()
    labels = dict(servers[0]["labels"]) if servers else {}
    st, body, _ = sim.api("POST", "/servers", {
        "name": "cargo-burst-leftover", "server_type": "cpx11", "location": "fsn1",
        "image": servers[0]["image"]["id"] if servers and servers[0].get("image") else "debian-12",
        "labels": labels})
    if not tap.is_(st, 201, "a second labelled server of ours exists"):
        return
    left = body["server"]
    sim.wait_action(body["action"]["id"])
    con = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=10)
    first = con.execute("SELECT min(id) FROM servers").fetchone()[0]
    # the current server is being deleted (its reaper at work): the next run is cold
    con.execute("UPDATE servers SET status = 'deleting' WHERE id = "
                "(SELECT max(id) FROM servers)")
    con.execute("UPDATE servers SET status = 'ready', hcloud_id = ?, name = ?, ip = ?, "
                "last_activity = strftime('%s', 'now'), deadline = strftime('%s', 'now') + 3600 "
                "WHERE id = ?",
                (left["id"], left["name"], left["public_net"]["ipv4"]["ip"], first))
    con.commit()
    con.close()
    tap.ok(w.delete_server(servers[0]["id"] if servers else 0), "the current server is deleted")
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello)
    tap.is_(r.code, 78, "a create beyond max_servers is refused with exit 78")
    tap.ok("max_servers" in r.err and "'cargo-burst-leftover'" in r.err,
           "the error names the limit and the server that is up")
    tap.ok("cargo burst down" in r.err, "and says `cargo burst down` removes it")
    tap.is_(len(posts(sim, "/v1/servers")), 0, "no server was created")

    r = w.burst(["down"], cwd=hello)
    tap.is_(r.code, 0, "cargo burst down")
    tap.ok(all(x["id"] != left["id"] for x in w.servers()), "down deleted the leftover server")
    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "after down the run creates its server"):
        tap.diag(repr(r))
    tap.is_(len(w.servers()), 1, "one server of ours")


def run_all(tap, sim, w):
    hello = w.fixture("hello")
    unreachable(tap, sim, w, hello)
    cost_guard(tap, sim, w, hello)


def main():
    return world_main(run_all, {"durations": {"server_create": 0.3, "server_start": 0.3}})


if __name__ == "__main__":
    sys.exit(main())

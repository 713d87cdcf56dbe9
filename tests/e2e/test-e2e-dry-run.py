#!/usr/bin/env python3
"""End-to-end: prices up front (issue 15, part 4).

`--dry-run` (after the verb, or before it) prints the plan (create a
server of which type where, the volume, the first hour's and the volume's
monthly cost) from GET requests only: the simulator's request log holds no
other method, no server or volume exists afterwards and no reaper process
was started.  The cold run's `Provisioning` line names the hourly price of
the type in that location, as the simulator's price list has it.  On a
warm server the plan reuses the server and the volume, again with GET
requests only.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import world_main  # noqa: E402


def sim_prices(sim, type_name, location):
    st, body, _ = sim.api("GET", "/pricing")
    p = (body or {}).get("pricing", {})
    hourly = None
    for t in p.get("server_types", []):
        if t["name"] == type_name:
            for pr in t["prices"]:
                if pr["location"] == location:
                    hourly = float(pr["price_hourly"]["net"])
    vol = float(p["volume"]["price_per_gb_month"]["net"])
    return hourly, vol


def amount(text, pattern):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def processes_of(home):
    """pids of processes whose environment has HOME=home (reapers, watchers)."""
    marker = ("HOME=" + home).encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                if marker in f.read().split(b"\0"):
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def main():
    return world_main(run_all)


def only_gets(tap, sim, what):
    reqs = sim.requests()
    other = [(r["method"], r["path"]) for r in reqs if r["method"] != "GET"]
    tap.ok(reqs and not other, "%s: only GET requests (%d; others: %s)"
           % (what, len(reqs), other))


def run_all(tap, sim, w):
    hello = w.fixture("hello")
    hourly, vol_gb = sim_prices(sim, "cpx11", "fsn1")
    tap.ok(hourly is not None, "the simulator prices cpx11 in fsn1")

    sim.reset_requests()
    r = w.burst(["build", "--release", "--dry-run"], cwd=hello)
    tap.is_(r.code, 0, "build --dry-run exits 0")
    tap.ok("server:  create a cpx11 in fsn1" in r.out, "the plan creates a cpx11 in fsn1", repr(r))
    m = re.search(r"volume:  create '(cargo-burst-hello-[0-9a-f]+)' \(10 GB\) in fsn1", r.out)
    tap.ok(m, "and the project's volume there", repr(r))
    planned = m.group(1) if m else None
    got = amount(r.out, "first hour \u20ac([0-9.]+) \\(billed per started hour\\)")
    tap.ok(got is not None and hourly is not None and abs(got - hourly) < 0.00006,
           "the first hour costs the simulator's price (%s vs %s)" % (got, hourly), repr(r))
    got = amount(r.out, "volume \u20ac([0-9.]+)/month \\(10 GB\\)")
    tap.ok(got is not None and abs(got - vol_gb * 10) < 0.006,
           "the volume's monthly cost (%s vs %s)" % (got, vol_gb * 10), repr(r))
    tap.ok("`cargo build --release`" in r.out, "the plan names the command", repr(r))
    only_gets(tap, sim, "dry run on a cold state")
    tap.ok(not w.servers() and not w.volumes(), "no server, no volume was created")
    tap.ok(not processes_of(w.home), "no reaper or watcher process was started")
    tap.ok("Compiling" not in r.err and "Provisioning" not in r.err, "nothing ran", repr(r))

    sim.reset_requests()
    r = w.burst(["--dry-run", "check"], cwd=hello)
    tap.ok(r.code == 0 and "server:  create a cpx11" in r.out, "--dry-run before the verb", repr(r))
    only_gets(tap, sim, "dry run before the verb")

    # a bring-your-own host: no API request, no connection
    sim.reset_requests()
    r = w.burst(["--host", "root@127.0.0.1:1", "build", "--dry-run"], cwd=hello)
    tap.ok(r.code == 0 and "host:    root@127.0.0.1:1 (bring your own" in r.out,
           "--dry-run with --host names the host", repr(r))
    tap.is_(len(sim.requests()), 0, "and sends no API request")

    # the cold run's status line names the price
    r = w.burst_ok(["build"], hello, "a real cold build succeeds")
    if r.code != 0:
        return
    got = amount(r.err, "Provisioning cpx11 in fsn1 \\(\u20ac([0-9.]+)/h, billed per started hour\\)")
    tap.ok(got is not None and abs(got - hourly) < 0.00006,
           "the Provisioning line names the simulator's hourly price (%s vs %s)" % (got, hourly), repr(r))

    servers, vols = w.servers(), w.volumes()
    tap.ok(vols and vols[0]["name"] == planned,
           "the volume got the name the plan said (%s)" % planned)
    sim.reset_requests()
    r = w.burst(["test", "--dry-run"], cwd=hello, env={"TZ": "CET-1"})
    tap.is_(r.code, 0, "test --dry-run on a warm server exits 0")
    tap.ok(re.search(r"paid through \d\d:\d\d CET", r.out) and "UTC" not in r.out,
           "its times are in local time, like the run summary (TZ=CET-1)", repr(r))
    name = servers[0]["name"] if servers else "?"
    tap.ok("server:  reuse '%s' (cpx11, fsn1," % name in r.out, "the plan reuses the server", repr(r))
    tap.ok(re.search(r"volume:  reuse 'cargo-burst-hello-[0-9a-f]+' \(10 GB, fsn1\)", r.out),
           "and the volume", repr(r))
    tap.ok("paid through" in r.out, "and says until when the hour is paid", repr(r))
    reqs = sim.requests()
    tap.ok(all(q["method"] == "GET" for q in reqs), "warm dry run: no mutating request (%d)"
           % len(reqs))
    tap.ok([s["id"] for s in w.servers()] == [s["id"] for s in servers] and
           [v["id"] for v in w.volumes()] == [v["id"] for v in vols],
           "the same server and volume, nothing new")


if __name__ == "__main__":
    sys.exit(main())

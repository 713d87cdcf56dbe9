#!/usr/bin/env python3
"""bench-cold: items 2 (round trips of a cold run) and 3 (cold critical path).

Simulated durations: server boot 10 s (server_create 5 s + server_start
5 s), volume create 2 s, attach 1 s.  BENCH_COLD_RUNS (default 3) fully
cold `cargo burst build` runs of the `hello` fixture, each followed by
`down --with-volumes`.  For every run:
  - API requests (simulator request log) and new ssh logins (sshd logs);
  - wall time of the tool minus its cargo and fetch phases (state DB), against
    the floor = boot + ssh ready + max(mount, first sync), where on the same
    server right after the run:
      ssh ready  = median of 5 plain ssh logins (no master) running `true`
      mount      = `mount` of the volume over the master (after unmounting it)
      first sync = raw rsync -a of the tree to a fresh remote dir over the master
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Plan, Report, World, last_run, median, need_root_and_tools,  # noqa: E402
                      new_sim, seed, ssh_logins, timed)

RUNS = max(1, int(os.environ.get("BENCH_COLD_RUNS", "3")))
BOOT = {"server_create": 5.0, "server_start": 5.0}
DURATIONS = dict(BOOT, volume_create=2.0, attach=1.0)


def main():
    rep = Report("cold")
    need_root_and_tools(rep.tap)
    with new_sim({"durations": DURATIONS}) as sim:
        seed(sim)
        with World(rep.tap, sim) as w:
            try:
                run(rep, sim, w)
            except Exception as e:
                rep.failed("bench-cold", "exception: %r" % (e,))
    return rep.finish()


def api_shape(path):
    return re.sub(r"/\d+", "/{id}", path)


def floors(rep, sim, w, ws, env):
    """Measure the physical floors on the server the cold run left up."""
    r = w.burst(["check"], cwd=ws, env={"BURST_TRACE": "1"})
    plan = Plan(r.err)
    m = re.search(r"/dev/disk/by-id/scsi-0HC_Volume_\d+", r.err)
    if r.code != 0 or not plan.ok or not m:
        rep.failed("traced warm check after the cold run", r)
        return None
    dev, mnt = m.group(0), os.path.dirname(plan.target_dir.rstrip("/"))
    ready = []
    for _ in range(5):
        t, rr = timed(plan.ssh_argv("true", master=False), env=env)
        if rr.returncode != 0:
            rep.failed("plain ssh login", rr.stderr)
            return None
        ready.append(t)
    timed(plan.ssh_argv("umount %s" % mnt), env=env)
    t_mount, rr = timed(plan.ssh_argv("mount -t ext4 -o noatime %s %s" % (dev, mnt)), env=env)
    if rr.returncode != 0:
        rep.failed("mount floor", rr.stderr)
        return None
    rules = plan.rules_file(w.dir)
    syncs = []
    for i in range(3):
        dest = "/root/bench-floor-sync-%d/" % i
        timed(plan.ssh_argv("rm -rf %s && mkdir -p %s" % (dest, dest)), env=env)
        t, rr = timed(plan.raw_rsync_argv(rules, remote=dest), env=env)
        if rr.returncode != 0:
            rep.failed("first sync floor", rr.stderr)
            return None
        syncs.append(t)
        timed(plan.ssh_argv("rm -rf %s" % dest), env=env)
    return {"ssh_ready": median(ready), "mount": t_mount, "sync": median(syncs)}


def run(rep, sim, w):
    ws = w.fixture("hello")
    env = w.env()
    boot = sum(BOOT.values())
    apis, logins, overs, rows = [], [], [], []
    for i in range(RUNS):
        sim.reset_requests()
        l0 = ssh_logins(sim)
        t0 = time.time()
        r = w.burst(["build"], cwd=ws)
        wall = time.time() - t0
        reqs = sim.requests()
        logins.append(ssh_logins(sim) - l0)
        row = last_run(w)
        if r.code != 0 or not row or not row["cold"]:
            rep.failed("cold build %d" % (i + 1), "%r\nrow %s" % (r, row))
            return
        apis.append(len(reqs))
        shapes = {}
        for q in reqs:
            key = "%s %s" % (q["method"], api_shape(q["path"])[len("/v1"):])
            shapes[key] = shapes.get(key, 0) + 1
        breakdown = ", ".join("%s x%d" % kv for kv in sorted(shapes.items(), key=lambda kv: -kv[1]))
        marks = {}
        for q in reqs:
            shape = api_shape(q["path"])
            if q["method"] == "POST" and shape == "/v1/servers":
                marks.setdefault("POST /servers", q["time"] - t0)
            if q["method"] == "POST" and shape.endswith("/actions/attach"):
                marks.setdefault("attach", q["time"] - t0)
        if reqs:
            marks["last API request"] = reqs[-1]["time"] - t0
        timeline = ", ".join("%s at %.2f s" % kv for kv in marks.items())
        if i == 0:
            rep.diag("API requests of the first cold run (seconds after start):")
            for q in reqs:
                rep.diag("  %6.2f %s %s -> %s" % (q["time"] - t0, q["method"], api_shape(q["path"]),
                                                   q["status"]))
        f = floors(rep, sim, w, ws, env)
        if f is None:
            return
        floor = boot + f["ssh_ready"] + max(f["mount"], f["sync"])
        local = wall - (row["cargo_ms"] + row["fetch_ms"]) / 1000.0
        over = local - floor
        overs.append(over)
        rows.append((wall, row, f, floor, local, breakdown, timeline))
        rep.diag("cold %d: wall %.2f s (provision %.2f, sync+mount %.2f, cargo %.2f, fetch %.2f); "
                 "floor %.2f = boot %.1f + ssh ready %.3f + max(mount %.3f, sync %.3f); "
                 "above floor %.2f s; %d API requests, %d ssh logins" % (
                     i + 1, wall, row["provision_ms"] / 1e3, row["sync_ms"] / 1e3,
                     row["cargo_ms"] / 1e3, row["fetch_ms"] / 1e3, floor, boot, f["ssh_ready"],
                     f["mount"], f["sync"], over, apis[-1], logins[-1]))
        d = w.burst(["down", "--with-volumes", "--yes"], cwd=ws)
        if d.code != 0:
            rep.failed("down between cold runs", d)
            return
        deadline = time.time() + 30
        while time.time() < deadline and (w.servers() or w.volumes()):
            time.sleep(0.2)
    med = median(overs)
    k = overs.index(sorted(overs)[len(overs) // 2]) if len(overs) % 2 else 0
    wall, row, f, floor, local, breakdown, timeline = rows[k]
    rep.measured("2", "API requests per cold run (max)", max(apis), "", "<= 15", max(apis) <= 15,
                 "runs: %s; 10 s boot, default action polling; %s" % (apis, breakdown))
    rep.measured("2", "new ssh connections per cold run (max)", max(logins), "", None, None,
                 "runs: %s" % logins)
    rep.measured("3", "cold build above the floor (median)", round(med, 2), "s", "< 1.5", med < 1.5,
                 "runs: %s; %s" % (", ".join("%.2f" % o for o in overs), timeline),
                 runs=[round(o, 3) for o in overs])
    med_floor = median([x[3] for x in rows])
    med_local = median([x[4] for x in rows])
    rep.measured("3", "cold build wall minus cargo and fetch (median)", round(med_local, 2), "s")
    rep.measured("3", "floor: boot + ssh ready + max(mount, first sync) (median)",
                 round(med_floor, 2), "s",
                 detail="boot %.1f s (simulated), ssh ready %.3f s, mount %.3f s, sync %.3f s" % (
                     boot, f["ssh_ready"], f["mount"], f["sync"]))
    rep.measured("3", "cold provision phase (median)",
                 round(median([x[1]["provision_ms"] for x in rows]) / 1e3, 2), "s",
                 detail="boot %.0f s + volume create 2 s + attach 1 s simulated" % boot)
    rep.measured("3", "cold sync+mount phase (median)",
                 round(median([x[1]["sync_ms"] for x in rows]) / 1e3, 3), "s")


if __name__ == "__main__":
    sys.exit(main())

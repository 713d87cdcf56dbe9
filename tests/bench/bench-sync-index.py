#!/usr/bin/env python3
"""bench-sync-index: item 4b (issue 16), the warm sync of a large tree with the local index.

A generated crate of 100,000 files (bench-sync.py's generator, 200 MB in
all; BENCH_INDEX_FILES / BENCH_INDEX_MB override), in a temporary directory.
Side by side (A B A B ...), BENCH_PAIRS pairs each:
  - no change: the sync phase of a warm `cargo burst check` (sync_ms of the
    state DB: the volume's mount check, which also reads the server's sync
    marker, beside the walk of the workspace; then the indexed push, here
    no command at all) against a raw `rsync -a --delete` of the same tree
    with the same rules over the same master into the tool's remote
    directory;
  - one file changed before each A and before each B (a line appended to a
    different file each time): the same two (the tool sends a small change
    as a tar stream over the master, a larger one by rsync);
  - the tool's own CPU time per no-change warm run (its children, rsync,
    ssh and cargo, excluded: benchlib.run_footprint), median of 5;
  - the first sync on a new server with the volume kept (`cargo burst down`
    deletes the server, the volume stays; the next check is cold): its
    sync_ms (the source tree is on the volume: an incremental push after
    one file changed, the mount waiting for the attached device included),
    reported apart from the fully cold run's first (full) sync.
"""

import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Plan, Report, World, last_run, median, need_root_and_tools,  # noqa: E402
                      new_sim, run_footprint, seed, timed)

FILES = int(os.environ.get("BENCH_INDEX_FILES", "100000"))
TOTAL_MB = float(os.environ.get("BENCH_INDEX_MB", "200"))
PAIRS = max(5, int(os.environ.get("BENCH_PAIRS", "7")))


def generator():
    spec = importlib.util.spec_from_file_location(
        "bench_sync", os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-sync.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.generate


def main():
    rep = Report("sync-index")
    need_root_and_tools(rep.tap)
    with new_sim() as sim:
        seed(sim)
        with World(rep.tap, sim) as w:
            try:
                run(rep, sim, w)
            except Exception as e:
                rep.failed("bench-sync-index", "exception: %r" % (e,))
    return rep.finish()


def warm(rep, w, ws, what):
    r = w.burst(["check"], cwd=ws, timeout=900)
    row = last_run(w)
    if r.code != 0 or not row or row["cold"]:
        rep.failed(what, r)
        return None
    return row


def touch_one(ws, i):
    path = os.path.join(ws, "assets", "g%03d" % ((i * 37) % (FILES // 200)), "f%05d.txt" % (
        ((i * 37) % (FILES // 200)) * 200 + i % 200))
    with open(path, "a") as f:
        f.write("// changed %d\n" % i)


def run(rep, sim, w):
    ws = os.path.join(w.work, "bigtree")
    nbytes = generator()(ws, FILES, TOTAL_MB * 1e6)
    rep.diag("generated %d files, %.0f MB in %s" % (FILES, nbytes / 1e6, ws))
    env = w.env()

    r = w.burst(["check"], cwd=ws, timeout=1800)
    first = last_run(w)
    if r.code != 0 or not first:
        rep.failed("first (cold) check of the large workspace", r)
        return
    r = w.burst(["check"], cwd=ws, env={"BURST_TRACE": "1"}, timeout=900)
    plan = Plan(r.err)
    if r.code != 0 or not plan.ok:
        rep.failed("traced warm check", r)
        return
    rules = plan.rules_file(w.dir)
    rep.diag("%d sync rules, remote %s:%s" % (len(plan.rules), plan.host, plan.remote))

    for label, change in (("no-change", False), ("one-file-changed", True)):
        tool, raw, wall = [], [], []
        for i in range(PAIRS):
            if change:
                touch_one(ws, 2 * i)
            row = warm(rep, w, ws, "warm check, %s %d" % (label, i + 1))
            if row is None:
                return
            if change:
                touch_one(ws, 2 * i + 1)
            t, rr = timed(plan.raw_rsync_argv(rules), env=env, timeout=900)
            if rr.returncode != 0:
                rep.failed("raw rsync, %s" % label, rr.stderr)
                return
            tool.append(row["sync_ms"] / 1e3)
            wall.append(row["wall_ms"] / 1e3)
            raw.append(t)
            rep.diag("%s pair %d: tool sync %.3f s (run wall %.3f s), raw rsync %.3f s" % (
                label, i + 1, tool[-1], wall[-1], t))
        mt, mr = median(tool), median(raw)
        target = 0.3 if change else 0.25
        rep.measured("4b", "%s warm sync of %d files, tool / raw rsync (ratio of medians)" % (
            label, FILES), round(mt / mr, 3), "x", "<= %g" % target, mt / mr <= target,
            "tool %.3f s, raw rsync -a --delete %.3f s, %d pairs, run wall %.3f s" % (
                mt, mr, PAIRS, median(wall)),
            a_median_s=round(mt, 4), b_median_s=round(mr, 4), pairs=PAIRS)

    cmd = [os.environ["CARGO_BURST"], "burst", "check"]
    fps = []
    for i in range(5):
        fp = run_footprint(cmd, env, ws, timeout=900)
        if fp["code"] != 0:
            rep.failed("footprint run", fp["stderr"])
            return
        fps.append(fp)
        rep.diag("footprint %d: tool cpu %.1f ms (schedstat), with children %.0f ms" % (
            i + 1, fp["cpu_ms_sched"], fp["ru_with_children_ms"]))
    rep.measured("4b", "tool's own CPU per no-change warm run of %d files (median of 5)" % FILES,
                 round(median([f["cpu_ms_sched"] for f in fps]), 1), "ms",
                 detail="its children (rsync, ssh, cargo) excluded; with them %.0f ms" % (
                     median([f["ru_with_children_ms"] for f in fps])))

    # the server reaped, the volume kept: the first sync on the new server
    r = w.burst(["down"], cwd=ws, timeout=600)
    if r.code != 0:
        rep.failed("cargo burst down (volume kept)", r)
        return
    touch_one(ws, 2 * PAIRS + 1)
    r = w.burst(["check"], cwd=ws, env={"BURST_TRACE": "1"}, timeout=1800)
    row = last_run(w)
    if r.code != 0 or not row or not row["cold"]:
        rep.failed("cold check with the volume kept", r)
        return
    kind = [ln.rsplit("(", 1)[1].rstrip(")") for ln in r.err.splitlines()
            if ln.startswith("trace: remote: push of ")]
    rep.measured("4b", "first sync on a new server, volume kept, one file changed (%d files)"
                 % FILES, round(row["sync_ms"] / 1e3, 2), "s",
                 detail="the source tree is on the volume: the push %s, the mount included; "
                 "cold run wall %.1f s, provision %.1f s" % (
                     ("'%s'" % kind[-1]) if kind else "unknown", row["wall_ms"] / 1e3,
                     row["provision_ms"] / 1e3))
    rep.measured("4b", "first (full) sync of the first cold run (%d files)" % FILES,
                 round(first["sync_ms"] / 1e3, 2), "s")


if __name__ == "__main__":
    sys.exit(main())

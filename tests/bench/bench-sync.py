#!/usr/bin/env python3
"""bench-sync: item 4, the sync of a large workspace.

A generated crate with 20,000 files of about 200 MB in all (deterministic:
the same bytes on every run; BENCH_SYNC_FILES / BENCH_SYNC_MB override),
in a temporary directory.
  - first (full) sync: the tool's sync phase of the first (cold) run, from
    the state DB (sync_ms: rsync and the volume mount in parallel), against
    a raw `rsync -a` of the same tree with the same rules over the same
    master into a fresh remote directory;
  - no change since the last run, side by side (A B A B ...): the sync
    phase of a warm `cargo burst check` (sync_ms) against a raw
    `rsync -a --delete` of the same tree with the same rules over the same
    master into the tool's own remote directory (nothing to transfer).
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Plan, Report, World, last_run, median, need_root_and_tools,  # noqa: E402
                      new_sim, seed, timed)

FILES = int(os.environ.get("BENCH_SYNC_FILES", "20000"))
TOTAL_MB = float(os.environ.get("BENCH_SYNC_MB", "200"))
PAIRS = max(5, int(os.environ.get("BENCH_PAIRS", "7")))

WORDS = ("fn let mut impl struct enum match self Some None Ok Err return pub use mod "
         "crate where trait for in loop while if else as ref move async await dyn "
         "u8 u16 u32 u64 usize i32 i64 f64 bool String Vec Option Result Box "
         "value index buffer length config state server volume reaper sync").split()


def generate(root, nfiles, total_bytes):
    """Write a crate plus nfiles text files (sizes 1..3 x mean), same bytes every time."""
    rng = random.Random(20000)
    pool = []
    size = 0
    while size < (1 << 20):
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) + ";\n"
        pool.append(line)
        size += len(line)
    pool = "".join(pool).encode()
    os.makedirs(os.path.join(root, "src"))
    with open(os.path.join(root, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "bigtree"\nversion = "0.1.0"\nedition = "2021"\n')
    with open(os.path.join(root, "src", "lib.rs"), "w") as f:
        f.write("pub fn answer() -> u32 { 42 }\n")
    mean = total_bytes / nfiles
    written = 0
    per_dir = 200
    for i in range(nfiles):
        d = os.path.join(root, "assets", "g%03d" % (i // per_dir))
        if i % per_dir == 0:
            os.makedirs(d)
        n = int(mean * (0.25 + 1.5 * rng.random()))
        off = (i * 7919) % (len(pool) - n)
        with open(os.path.join(d, "f%05d.txt" % i), "wb") as f:
            f.write(b"// file %d\n" % i)
            f.write(pool[off:off + n])
        written += n
    return written


def main():
    rep = Report("sync")
    need_root_and_tools(rep.tap)
    with new_sim() as sim:
        seed(sim)
        with World(rep.tap, sim) as w:
            try:
                run(rep, sim, w)
            except Exception as e:
                rep.failed("bench-sync", "exception: %r" % (e,))
    return rep.finish()


def run(rep, sim, w):
    ws = os.path.join(w.work, "bigtree")
    nbytes = generate(ws, FILES, TOTAL_MB * 1e6)
    rep.diag("generated %d files, %.0f MB in %s" % (FILES, nbytes / 1e6, ws))
    env = w.env()

    r = w.burst(["check"], cwd=ws, timeout=600)
    first = last_run(w)
    if r.code != 0 or not first:
        rep.failed("first (cold) check of the large workspace", r)
        return
    r = w.burst(["check"], cwd=ws, env={"BURST_TRACE": "1"}, timeout=600)
    plan = Plan(r.err)
    if r.code != 0 or not plan.ok:
        rep.failed("traced warm check", r)
        return
    rules = plan.rules_file(w.dir)

    dest = "/root/bench-full-sync/"
    timed(plan.ssh_argv("rm -rf %s && mkdir -p %s" % (dest, dest)), env=env)
    t_full, rr = timed(plan.raw_rsync_argv(rules, remote=dest), env=env)
    timed(plan.ssh_argv("rm -rf %s" % dest), env=env)
    if rr.returncode != 0:
        rep.failed("raw full rsync", rr.stderr)
        return

    tool, raw = [], []
    for i in range(PAIRS):
        r = w.burst(["check"], cwd=ws, timeout=600)
        row = last_run(w)
        if r.code != 0 or not row or row["cold"]:
            rep.failed("warm check %d" % (i + 1), r)
            return
        t, rr = timed(plan.raw_rsync_argv(rules), env=env)
        if rr.returncode != 0:
            rep.failed("raw rsync, no change", rr.stderr)
            return
        tool.append(row["sync_ms"] / 1e3)
        raw.append(t)
        rep.diag("pair %d: tool sync %.3f s (run wall %.3f s), raw rsync %.3f s" % (
            i + 1, tool[-1], row["wall_ms"] / 1e3, t))
    mt, mr = median(tool), median(raw)
    ratio = mt / mr
    rep.measured("4", "no-change sync, tool / raw rsync (ratio of medians)", round(ratio, 3), "x",
                 "<= 1.1", ratio <= 1.1,
                 "tool %.3f s, raw rsync %.3f s, %d pairs, %d files, %.0f MB" % (
                     mt, mr, PAIRS, FILES, nbytes / 1e6),
                 a_median_s=round(mt, 4), b_median_s=round(mr, 4), pairs=PAIRS)
    rep.measured("4", "no-change sync, tool (median)", round(mt, 3), "s")
    rep.measured("4", "no-change sync, raw rsync (median)", round(mr, 3), "s")
    rep.measured("4", "first (full) sync, tool", round(first["sync_ms"] / 1e3, 2), "s",
                 detail="cold run wall %.1f s, provision %.1f s" % (
                     first["wall_ms"] / 1e3, first["provision_ms"] / 1e3))
    rep.measured("4", "first (full) sync, raw rsync -a", round(t_full, 2), "s",
                 detail="ratio tool / raw %.2f" % (first["sync_ms"] / 1e3 / t_full))


if __name__ == "__main__":
    sys.exit(main())

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
Then (issue 14) the same tree made a git work tree:
  - the sync rules computed by the .gitignore walker against git's list
    (`git ls-files -o -i --exclude-standard --directory`), BENCH_SYNC_RULES
    (tests/bench/bench-sync-rules.c), median of 9 each;
  - the first sync of its .git (sync_git) and the no-change sync after it,
    with the 20,000 objects loose (as `git add` leaves them) and packed
    (after `git gc`);
  - a small crate with HISTORY commits (git fast-import, a tag every 100):
    the size of its .git, the first sync with and without .git, and the
    sync after one more commit.
"""

import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Plan, Report, World, last_run, median, need_root_and_tools,  # noqa: E402
                      new_sim, seed, timed)

FILES = int(os.environ.get("BENCH_SYNC_FILES", "20000"))
TOTAL_MB = float(os.environ.get("BENCH_SYNC_MB", "200"))
PAIRS = max(5, int(os.environ.get("BENCH_PAIRS", "7")))
HISTORY = int(os.environ.get("BENCH_SYNC_HISTORY", "3000"))

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
    run_git(rep, w, ws)


def git_env(w):
    # no automatic (detached) gc running under the measurements: gc is explicit
    return dict(w.env(), GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
                GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="gc.auto", GIT_CONFIG_VALUE_0="0",
                GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b",
                GIT_COMMITTER_EMAIL="b@b")


def du_bytes(path, skip=("hooks", "logs", "lfs")):
    total = 0
    for d, dirs, files in os.walk(path):
        if d == path:
            dirs[:] = [x for x in dirs if x not in skip]
        total += sum(os.lstat(os.path.join(d, f)).st_size for f in files)
    return total


def warm_sync(rep, w, ws, what):
    r = w.burst(["check"], cwd=ws, timeout=600)
    row = last_run(w)
    if r.code != 0 or not row:
        rep.failed(what, r)
        return None
    return row["sync_ms"] / 1e3


def fast_import_stream(n):
    """n commits on main, each adding a 1 KB file and changing src/lib.rs; a tag every 100."""
    out = []
    lib_base = "pub fn answer() -> u32 { 42 }\n"
    for i in range(1, n + 1):
        body = ("// %d\n" % i + "x" * 1000 + "\n").encode()
        lib = (lib_base + "pub const N: u32 = %d;\n" % i).encode()
        msg = ("commit %d\n" % i).encode()
        out.append(b"commit refs/heads/main\nmark :%d\n" % i)
        out.append(b"committer b <b@b> %d +0000\n" % (1700000000 + i * 60))
        out.append(b"data %d\n%s" % (len(msg), msg))
        if i > 1:
            out.append(b"from :%d\n" % (i - 1))
        if i == 1:
            toml = b'[package]\nname = "history"\nversion = "0.1.0"\nedition = "2021"\n'
            out.append(b"M 100644 inline Cargo.toml\ndata %d\n%s\n" % (len(toml), toml))
            gi = b"/target\n"
            out.append(b"M 100644 inline .gitignore\ndata %d\n%s\n" % (len(gi), gi))
        out.append(b"M 100644 inline src/lib.rs\ndata %d\n%s\n" % (len(lib), lib))
        out.append(b"M 100644 inline data/%05d.txt\ndata %d\n%s\n" % (i, len(body), body))
        if i % 100 == 0:
            out.append(b"reset refs/tags/v%d\nfrom :%d\n\n" % (i // 100, i))
    return b"".join(out)


def run_git(rep, w, ws):
    tool = os.environ.get("BENCH_SYNC_RULES")
    if not shutil.which("git") or not tool or not os.path.exists(tool):
        rep.diag("git or BENCH_SYNC_RULES is missing: the git variants are not measured")
        return
    genv = git_env(w)
    with open(os.path.join(ws, ".gitignore"), "w") as f:
        f.write("/target\n*.tmp\n")
    t, r = timed(["sh", "-c", "git init -q && git add -A && git commit -qm tree"], env=genv, cwd=ws)
    if r.returncode != 0:
        rep.failed("git init of the tree", r.stderr)
        return
    rep.diag("git init + add + commit of the tree: %.1f s" % t)
    for mode, label in (("walk", ".gitignore walker"), ("git", "git ls-files")):
        _, r = timed([tool, ws, mode, "9"], env=genv)
        if r.returncode != 0:
            rep.failed("sync rules, %s" % label, r.stderr)
            return
        ms, lines = r.stdout.split()
        rep.measured("4", "sync rules of the 20,000-file tree, %s (median of 9)" % label,
                     float(ms), "ms", detail="%s rule lines" % lines)
    dotgit = du_bytes(os.path.join(ws, ".git"))
    first = warm_sync(rep, w, ws, "first sync of the tree's .git")
    if first is None:
        return
    rep.measured("4", "first sync of the tree's .git (sync_git), tool", round(first, 2), "s",
                 detail=".git %.0f MB" % (dotgit / 1e6))
    same = []
    for i in range(5):
        s = warm_sync(rep, w, ws, "no-change sync in a git work tree")
        if s is None:
            return
        same.append(s)
    rep.measured("4", "no-change sync in a git work tree (git's list, .git with 20,000 loose "
                 "objects synced), tool (median of 5)", round(median(same), 3), "s")
    t, r = timed(["git", "gc", "-q"], env=genv, cwd=ws)
    if r.returncode != 0:
        rep.failed("git gc of the tree", r.stderr)
        return
    loose = sum(len(f) for d, _, f in os.walk(os.path.join(ws, ".git", "objects"))
                if os.path.basename(d) not in ("pack", "info"))
    rep.diag("after git gc: %d loose objects" % loose)
    packed = []
    for i in range(5):
        s = warm_sync(rep, w, ws, "no-change sync after git gc")
        if s is None:
            return
        packed.append(s)
    rep.measured("4", "no-change sync in the same work tree after `git gc` (objects packed), "
                 "tool (median of 5)", round(median(packed), 3), "s",
                 detail="git gc %.1f s, .git %.0f MB" % (t, du_bytes(os.path.join(ws, ".git")) / 1e6))

    # a crate with history: what syncing .git costs
    hist = os.path.join(w.work, "history")
    os.makedirs(hist)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=hist, env=genv, timeout=60)
    p = subprocess.run(["git", "fast-import", "--quiet"], cwd=hist, env=genv, timeout=600,
                       input=fast_import_stream(HISTORY), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0 or subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=hist,
                                           env=genv, timeout=120).returncode != 0:
        rep.failed("generating a history of %d commits" % HISTORY, p.stderr)
        return
    os.makedirs(os.path.join(hist, "src"), exist_ok=True)
    nogit = os.path.join(w.work, "history-nogit")
    shutil.copytree(hist, nogit, symlinks=True)
    os.makedirs(os.path.join(nogit, ".config"))
    with open(os.path.join(nogit, ".config", "cargo-burst.toml"), "w") as f:
        f.write("sync_git = false\n")
    size = du_bytes(os.path.join(hist, ".git"))
    with_git = warm_sync(rep, w, hist, "first sync of a crate with history")
    without = warm_sync(rep, w, nogit, "first sync of a crate with history, sync_git = false")
    if with_git is None or without is None:
        return
    rep.measured("4", "first sync of a crate with %d commits, .git synced" % HISTORY,
                 round(with_git, 3), "s", detail=".git %.1f MB without hooks/logs" % (size / 1e6))
    rep.measured("4", "first sync of the same crate, sync_git = false", round(without, 3), "s")
    subprocess.run(["sh", "-c", "echo more >> data/00001.txt && git commit -qam more"], cwd=hist,
                   env=genv, timeout=60)
    after = warm_sync(rep, w, hist, "sync after one more commit")
    if after is not None:
        rep.measured("4", "sync after one more commit (.git synced)", round(after, 3), "s")


if __name__ == "__main__":
    sys.exit(main())

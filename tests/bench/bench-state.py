#!/usr/bin/env python3
"""bench-state: item 5, the local state at scale.

bench-state-seed fills a temporary state directory with 1,000,000
synthetic runs (state_debug_synthesize, the same generator as the
library-level benchmark state-audit-1m) plus 200 projects with a volume
each and a server.  Then the real commands, 5 times each (median):
  - `cargo burst audit --rate 0.05` (no token: no pricing request, all local)
  - `cargo burst status` (local only: status makes no API request)
BENCH_STATE_RUNS / BENCH_STATE_PROJECTS override the sizes.  No root needed.
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Report, kill_env_holders, median, timed  # noqa: E402

RUNS = int(os.environ.get("BENCH_STATE_RUNS", "1000000"))
PROJECTS = int(os.environ.get("BENCH_STATE_PROJECTS", "200"))
REPEAT = 5


def main():
    rep = Report("state")
    seed_bin = os.environ.get("BENCH_STATE_SEED")
    binary = os.environ.get("CARGO_BURST")
    if not seed_bin or not os.path.exists(seed_bin) or not binary or not os.path.exists(binary):
        rep.tap.skip_all("BENCH_STATE_SEED or CARGO_BURST does not name a built program")
    top = tempfile.mkdtemp(prefix="burst-bench-state-")
    try:
        run(rep, top, seed_bin, binary)
    except Exception as e:
        rep.failed("bench-state", "exception: %r" % (e,))
    finally:
        kill_env_holders("HOME=" + os.path.join(top, "home"), top)
        shutil.rmtree(top, ignore_errors=True)
    return rep.finish()


def run(rep, top, seed_bin, binary):
    home = os.path.join(top, "home")
    state = os.path.join(home, ".local", "state")
    os.makedirs(os.path.join(home, ".config"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "XDG_CONFIG_HOME": os.path.join(home, ".config"), "XDG_STATE_HOME": state,
           "XDG_CACHE_HOME": os.path.join(home, ".cache"), "LANG": "C.UTF-8"}
    t, r = timed([seed_bin, os.path.join(state, "cargo-burst"), str(RUNS), str(PROJECTS)],
                 timeout=600)
    if r.returncode != 0:
        rep.failed("seeding the state", r.stderr)
        return
    rep.diag(r.stdout.strip())

    # Without a token the reapers that status/audit re-arm exit at once, so
    # every call forks one reaper per resource again: measured, no target.
    notoken = []
    for i in range(3):
        t, r = timed([binary, "burst", "status"], env=env, timeout=120)
        if r.returncode != 0:
            rep.failed("cargo burst status without a token", r.stderr)
            return
        notoken.append(t)
    # With a token (never used: the endpoint is a closed loopback port) the
    # first call arms one reaper per resource; they sleep until their
    # deadlines, and later calls only read the state.
    env = dict(env, HCLOUD_TOKEN="bench-unused-token", HCLOUD_ENDPOINT="http://127.0.0.1:9/v1")
    t_arm, r = timed([binary, "burst", "status"], env=env, timeout=120)
    if r.returncode != 0:
        rep.failed("cargo burst status (arming the reapers)", r.stderr)
        return

    audit, status = [], []
    for i in range(REPEAT):
        ta, ra = timed([binary, "burst", "audit", "--rate", "0.05"], env=env, timeout=120)
        ts, rs = timed([binary, "burst", "status"], env=env, timeout=120)
        if ra.returncode != 0:
            rep.failed("cargo burst audit", "exit %d\n%s" % (ra.returncode, ra.stderr))
            return
        if rs.returncode != 0:
            rep.failed("cargo burst status", "exit %d\n%s" % (rs.returncode, rs.stderr))
            return
        audit.append(ta)
        status.append(ts)
        if i == 0:
            shown = sum(1 for line in rs.stdout.splitlines() if "workspace-" in line)
            rep.diag("status lists %d of %d projects" % (shown, PROJECTS))
            if shown != PROJECTS:
                rep.failed("status shows every project", rs.stdout[-2000:])
                return
            if "%d" % RUNS not in ra.stdout.replace(",", "").replace("\u202f", ""):
                rep.failed("audit counts every run", ra.stdout[-2000:])
                return
    ma, ms = median(audit), median(status)
    rep.measured("5", "audit over %d runs (median wall)" % RUNS, round(ma, 3), "s", "< 2", ma < 2,
                 "runs: %s" % ", ".join("%.3f" % x for x in audit))
    rep.measured("5", "status with %d projects (median wall, local only)" % PROJECTS,
                 round(ms * 1000, 1), "ms", "< 100", ms < 0.1,
                 "runs: %s ms; reapers already armed" % ", ".join("%.0f" % (x * 1000) for x in status))
    rep.measured("5", "first status, arming %d reapers" % (PROJECTS + 1), round(t_arm * 1000), "ms")
    rep.measured("5", "status without a token (median; re-arms %d reapers that exit at once)" % (
        PROJECTS + 1), round(median(notoken) * 1000), "ms",
        detail="runs: %s ms" % ", ".join("%.0f" % (x * 1000) for x in notoken))

if __name__ == "__main__":
    sys.exit(main())

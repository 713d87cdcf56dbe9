#!/usr/bin/env python3
"""bench-warm: items 1 (warm overhead), 2 (round trips of a warm run) and
6 (footprint of the tool and of the sleeping reapers).

One simulator with real machines, the `hello` fixture; one cold build puts
the server up and mounts the volume, one traced warm check shows the exact
ssh options, host, remote directory, target dir and sync rules the tool
uses.  Then, side by side (A B A B ...):
  A = `cargo burst check` (warm, nothing changed)
  B = the minimal hand-written equivalent over the tool's own ssh master:
      rsync -a --delete --filter='. RULES' -e '<same ssh>' ws/ host:src/
      ssh <same ssh> host 'cd src && CARGO_TARGET_DIR=... cargo check'
BENCH_PAIRS overrides the number of pairs (default 9, minimum 5).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Plan, Report, World, last_run, median, need_root_and_tools,  # noqa: E402
                      new_sim, proc_cpu_ticks, proc_sched_ns, proc_status_kb, reaper_pids,
                      run_footprint, seed, ssh_logins, timed)

PAIRS = max(5, int(os.environ.get("BENCH_PAIRS", "9")))
REAPER_WINDOW = float(os.environ.get("BENCH_REAPER_WINDOW", "10"))


def main():
    rep = Report("warm")
    need_root_and_tools(rep.tap)
    with new_sim() as sim:
        seed(sim)
        with World(rep.tap, sim) as w:
            try:
                run(rep, sim, w)
            except Exception as e:  # report, then clean up through the with blocks
                rep.failed("bench-warm", "exception: %r" % (e,))
    return rep.finish()


def run(rep, sim, w):
    ws = w.fixture("hello")
    r = w.burst(["build"], cwd=ws)
    if r.code != 0:
        rep.failed("cold build before the warm runs", r)
        return
    r = w.burst(["check"], cwd=ws, env={"BURST_TRACE": "1"})
    trace = r.err
    plan = Plan(trace)
    if r.code != 0 or not plan.ok:
        rep.failed("traced warm check", r)
        return
    rules = plan.rules_file(w.dir)
    rep.diag("host %s, remote %s, target %s, %d sync rules" % (plan.host, plan.remote,
                                                               plan.target_dir, len(plan.rules)))
    manual_cargo = ("cd %s && CARGO_TARGET_DIR=%s cargo check" % (plan.remote, plan.target_dir))
    env = w.env()

    # ---- 1 + 2 (warm): A B pairs -------------------------------------------
    a_times, b_times, a_api, a_ssh, b_ssh = [], [], [], [], []
    cmd_a = [os.environ["CARGO_BURST"], "burst", "check"]
    for i in range(PAIRS):
        sim.reset_requests()
        l0 = ssh_logins(sim)
        ta, ra = timed(cmd_a, env=env, cwd=ws)
        l1 = ssh_logins(sim)
        a_api.append(len(sim.requests()))
        a_ssh.append(l1 - l0)
        if ra.returncode != 0:
            rep.failed("warm check", "exit %d\n%s" % (ra.returncode, ra.stderr))
            return
        t0 = time.monotonic()
        _, rs = timed(plan.raw_rsync_argv(rules), env=env)
        _, rc = timed(plan.ssh_argv(manual_cargo), env=env)
        tb = time.monotonic() - t0
        b_ssh.append(ssh_logins(sim) - l1)
        if rs.returncode != 0 or rc.returncode != 0:
            rep.failed("hand-written equivalent", "rsync %d: %s\nssh %d: %s" % (
                rs.returncode, rs.stderr, rc.returncode, rc.stderr))
            return
        a_times.append(ta)
        b_times.append(tb)
        rep.diag("pair %d: burst %.3f s, by hand %.3f s" % (i + 1, ta, tb))
    ma, mb = median(a_times), median(b_times)
    ratio = ma / mb
    rep.measured("1", "warm check / hand-written (ratio of medians)", round(ratio, 3), "x",
                 "<= 1.15", ratio <= 1.15,
                 "burst %.3f s, by hand %.3f s, %d pairs" % (ma, mb, PAIRS),
                 a_median_s=round(ma, 4), b_median_s=round(mb, 4), pairs=PAIRS)
    rep.measured("1", "warm check, cargo burst (median)", round(ma, 3), "s")
    rep.measured("1", "warm check, hand-written rsync + ssh (median)", round(mb, 3), "s")

    # Where the difference goes: the tool's own phases of its last run.
    last = last_run(w)
    rep.measured("1", "warm check: cargo burst minus hand-written", round(ma - mb, 3), "s",
                 detail="difference of the medians; the tool's own phases of its last run: "
                 "provision %d ms, sync+mount %d ms, cargo %d ms, run wall %d ms" % (
                     last["provision_ms"], last["sync_ms"], last["cargo_ms"], last["wall_ms"]))

    rep.measured("2", "API requests per warm run (max)", max(a_api), "", "= 0", max(a_api) == 0,
                 "over %d runs" % len(a_api))
    rep.measured("2", "new ssh connections per warm run, master persisted (max)", max(a_ssh), "",
                 "= 0", max(a_ssh) == 0, "over %d runs; hand-written runs: %d" % (
                     len(a_ssh), max(b_ssh)))
    # The master gone (e.g. after ControlPersist): one new connection at most.
    timed(plan.ssh + ["-O", "exit", plan.host], env=env)
    time.sleep(0.3)
    sim.reset_requests()
    l0 = ssh_logins(sim)
    _, r = timed(cmd_a, env=env, cwd=ws)
    n = ssh_logins(sim) - l0
    rep.measured("2", "new ssh connections per warm run, master gone", n, "", "<= 1", n <= 1,
                 "exit %d, %d API requests" % (r.returncode, len(sim.requests())))

    # ---- 6: footprint of the tool itself --------------------------------------
    fps = []
    for i in range(5):
        fp = run_footprint(cmd_a, env, ws)
        if fp["code"] != 0:
            rep.failed("footprint run", fp["stderr"])
            return
        fps.append(fp)
        rep.diag("footprint %d: cpu %.1f ms (schedstat), %.0f ms (stat ticks), VmHWM %d kB, "
                 "%d threads; with children %.0f ms" % (
                     i + 1, fp["cpu_ms_sched"], fp["cpu_ms_ticks"], fp["hwm_kb"], fp["threads"],
                     fp["ru_with_children_ms"]))
    cpu = median([f["cpu_ms_sched"] for f in fps])
    ticks = median([f["cpu_ms_ticks"] for f in fps])
    hwm = median([f["hwm_kb"] for f in fps]) / 1024.0
    anon = median([f["anon_kb"] for f in fps]) / 1024.0
    rep.measured("6", "tool CPU per warm run (median, own threads)", round(cpu, 1), "ms", "< 20",
                 cpu < 20, "stat utime+stime %.0f ms (10 ms ticks); children's CPU excluded" % ticks)
    rep.measured("6", "tool peak RSS per warm run (median VmHWM)", round(hwm, 2), "MB", "< 10",
                 hwm < 10, "of which anonymous (heap, stacks) at most %.1f MB, the rest "
                 "file-backed pages of the binary and its shared libraries" % anon)

    # ---- 6: the sleeping reapers ---------------------------------------------
    reapers = reaper_pids(w.home)
    if not reapers:
        rep.failed("sleeping reapers", "no reaper process found")
        return
    before = {pid: (proc_cpu_ticks(pid), proc_sched_ns(pid)) for pid, _ in reapers}
    time.sleep(REAPER_WINDOW)
    for pid, cmd in reapers:
        t1, n1 = proc_cpu_ticks(pid), proc_sched_ns(pid)
        rss = proc_status_kb(pid, "VmRSS")
        r_anon = proc_status_kb(pid, "RssAnon") or 0
        r_file = proc_status_kb(pid, "RssFile") or 0
        t0, n0 = before[pid]
        if None in (t0, t1, n0, n1, rss):
            rep.failed("reaper %d" % pid, "exited during the window: %s" % cmd)
            continue
        kind = "server" if "__reap-server" in cmd else "volume"
        used_ms = (n1 - n0) / 1e6
        rep.measured("6", "%s reaper CPU over %.0f s asleep" % (kind, REAPER_WINDOW),
                     round(used_ms, 3), "ms", "= 0", n1 == n0,
                     "pid %d, %d ticks, total since start %.1f ms" % (pid, t1 - t0, n1 / 1e6))
        rep.measured("6", "%s reaper RSS asleep" % kind, round(rss / 1024.0, 2), "MB", "< 4",
                     rss < 4096, "anonymous %.1f MB, file-backed %.1f MB (shared libraries, "
                     "shared between processes)" % (r_anon / 1024.0, r_file / 1024.0))


if __name__ == "__main__":
    sys.exit(main())

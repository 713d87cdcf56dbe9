#!/usr/bin/env python3
"""test-warm-path: the warm run has nothing serial before its sync.

Against the simulator with real machines (root; skips otherwise):
  - a warm run makes no API call, starts no `cargo locate-project` (cached
    workspace root), no `ssh -O check` and no separate `test -e <device>`
    round trip, and opens no new ssh connection while the master lives;
  - with the master gone: exactly one new ssh connection, still no API call;
  - the volume detached behind the tool's back: the mount (which runs next
    to the sync) notices, the volume is attached again (API), target/ kept;
    the run after that is warm again;
  - a Cargo.toml changed above the workspace makes cargo decide again.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))

from benchlib import Plan, ssh_logins  # noqa: E402
from e2elib import Tap, World, need_root_and_tools, new_sim, seed  # noqa: E402


def traced(w, ws, verb="check"):
    return w.burst([verb], cwd=ws, env={"BURST_TRACE": "1"})


def cmd_lines(r):
    return [l for l in r.err.splitlines() if l.startswith("trace: proc: run: ")]


def main():
    tap = Tap()
    need_root_and_tools(tap)
    with new_sim() as sim:
        seed(sim)
        with World(tap, sim) as w:
            try:
                run(tap, sim, w)
            except Exception as e:  # report, then clean up through the with blocks
                tap.ok(False, "exception: %r" % (e,))
    return tap.done()


def run(tap, sim, w):
    ws = w.fixture("hello")
    r = w.burst(["build"], cwd=ws)
    if not tap.ok(r.code == 0, "cold build"):
        tap.diag(r.err[-2000:])
        return
    # the fixture's Cargo.toml was just copied: the first runs may ask cargo
    # (a manifest younger than 2 s is never cached); wait that out once
    time.sleep(2.2)
    r = traced(w, ws)
    tap.ok(r.code == 0, "warm check")

    sim.reset_requests()
    l0 = ssh_logins(sim)
    r = traced(w, ws)
    cmds = cmd_lines(r)
    tap.ok(r.code == 0 and "warm" in r.err, "second warm check: ok, warm")
    tap.is_(len(sim.requests()), 0, "no API request")
    tap.is_(ssh_logins(sim) - l0, 0, "no new ssh connection (the master lives)")
    tap.ok("locate-project" not in r.err, "no cargo locate-project (workspace root cached)")
    tap.ok(not any(" -O check " in c for c in cmds), "no ssh -O check")
    tap.ok(not any("test -e" in c for c in cmds), "no separate device test")
    tap.ok("scsi-0HC_Volume_" in r.err, "the mount script looks for the device")
    # nothing changed: the mount command read the server's marker, the sync
    # needs no command of its own (no rsync, no marker check)
    ssh_cmds = [c for c in cmds if c.startswith("trace: proc: run: ssh ")
                and ".cargo-burst-sync" not in c]
    syncs = [c for c in cmds if c.startswith("trace: proc: run: rsync ")
             or (c.startswith("trace: proc: run: ssh ") and ".cargo-burst-sync" in c)]
    tap.is_(len(ssh_cmds), 2, "two ssh commands: the mount and the cargo")
    tap.ok(not syncs and "(nothing changed, marker seen)" in r.err,
           "no sync command of its own (the mount read the marker)", "\n".join(syncs))
    if len(ssh_cmds) != 2:
        tap.diag("\n".join(c[:200] for c in cmds))

    # ---- the master gone: one new connection, no API call ------------------
    plan = Plan(r.err)
    if plan.ok:
        subprocess.run(plan.ssh + ["-O", "exit", plan.host], env=w.env(), timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
    sim.reset_requests()
    l0 = ssh_logins(sim)
    r = traced(w, ws)
    tap.ok(plan.ok and r.code == 0, "warm check after the master exited")
    tap.is_(ssh_logins(sim) - l0, 1, "exactly one new ssh connection")
    tap.is_(len(sim.requests()), 0, "still no API request")

    # ---- the volume detached behind our back -------------------------------
    vols = w.volumes()
    if not tap.ok(len(vols) == 1 and vols[0]["server"], "one volume, attached"):
        return
    vid = vols[0]["id"]
    st, body, _ = sim.api("POST", "/volumes/%d/actions/detach" % vid)
    if st == 201:
        sim.wait_action(body["action"]["id"])
    tap.ok(st == 201 and not w.volumes()[0]["server"], "detached behind the tool's back")
    sim.reset_requests()
    t0 = time.time()
    r = traced(w, ws)
    took = time.time() - t0
    calls = w.api_calls()
    tap.ok(r.code == 0, "the next check succeeds")
    if r.code != 0:
        tap.diag(r.err[-3000:])
    tap.ok(("POST", "/v1/volumes/%d/actions/attach" % vid) in calls,
           "the same volume was attached again")
    tap.ok(("POST", "/v1/volumes") not in calls and ("POST", "/v1/servers") not in calls,
           "no new volume, no new server")
    tap.ok("Checking hello" not in r.err, "target/ on the volume survived (nothing rechecked)")
    tap.ok(took < 30, "without waiting the cold path's 30 s for the device (%.1f s)" % took)
    sim.reset_requests()
    r = traced(w, ws)
    tap.ok(r.code == 0 and len(sim.requests()) == 0, "and the run after that is warm again")

    # ---- a Cargo.toml above the workspace: cargo decides again ------------
    above = os.path.join(os.path.dirname(ws), "Cargo.toml")
    with open(above, "w") as f:
        # a workspace that leaves hello out: cargo's answer stays hello
        f.write('[workspace]\nexclude = ["hello"]\n')
    try:
        r = traced(w, ws)
        tap.ok(r.code == 0 and "locate-project" in r.err,
               "a new Cargo.toml above the workspace: cargo asked again")
        if r.code != 0:
            tap.diag(r.err[-1500:])
    finally:
        os.unlink(above)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""kill -9 of the tool at each step of a cold provisioning (after the
server POST, after the volume POST, during the ssh wait, during rsync,
during cargo): afterwards no resource of ours outlives its deadline,
checked through the simulator's API.

The windows are held open on purpose: delayed API answers (the simulator
performs the create, then holds the answer back) and ssh/rsync wrappers
($CARGO_BURST_SSH, $CARGO_BURST_RSYNC) that leave a marker file and sleep
before running the real program."""

import os
import signal
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lclib  # noqa: E402
from lclib import Tap, World, new_sim, seed, wait_for  # noqa: E402

KEEP = 4
WRAP = """#!/bin/sh
# test wrapper: mark the phase, hold it open, then run the real program
for a in "$@"; do last=$a; done
case "$*" in
%s) : > "$LC_MARK_DIR/%s"; sleep 4;;
esac
exec %s "$@"
"""


def write_wrapper(path, pattern, mark, prog):
    with open(path, "w") as f:
        f.write(WRAP % (pattern, mark, prog))
    os.chmod(path, stat.S_IRWXU)


def main():
    lclib.need_real_world()
    tap = Tap()
    windows = ["after server POST", "after volume POST", "during ssh wait", "during rsync",
               "during cargo"]
    if os.environ.get("LC_WINDOWS"):  # debugging: a subset, e.g. "2,3"
        windows = [windows[int(x)] for x in os.environ["LC_WINDOWS"].split(",")]
    tap.plan(2 * len(windows) + 1)
    with new_sim() as sim:
        seed(sim)
        cfg = {"keep_alive_secs": KEEP, "volume_keep_alive_secs": KEEP,
               "billing_hour_hold": False}
        with World(tap, sim, config=cfg) as w:
            ws = w.fixture("hello")
            marks = os.path.join(w.dir, "marks")
            os.makedirs(marks)
            ssh_wait = os.path.join(w.dir, "ssh-wait")
            ssh_cargo = os.path.join(w.dir, "ssh-cargo")
            rsync = os.path.join(w.dir, "rsync-slow")
            write_wrapper(ssh_wait, '*" true"', "ssh-wait", "ssh")
            write_wrapper(ssh_cargo, "*cargo\\ *", "cargo", "ssh")
            write_wrapper(rsync, "*", "rsync", "rsync")
            for i, win in enumerate(windows):
                for m in os.listdir(marks):
                    os.unlink(os.path.join(marks, m))
                sim.configure({"faults": []})
                sim.reset_requests()
                env = {"LC_MARK_DIR": marks}
                if win == "after server POST":
                    sim.configure({"faults": [{"method": "POST", "path": "/servers", "delay": 5,
                                               "apply": True, "status": 504}]})
                    hit = lambda: ("POST", "/v1/servers") in w.api_calls()  # noqa: E731
                elif win == "after volume POST":
                    sim.configure({"faults": [{"method": "POST", "path": "/volumes", "delay": 5,
                                               "apply": True, "status": 504}]})
                    hit = lambda: ("POST", "/v1/volumes") in w.api_calls()  # noqa: E731
                elif win == "during ssh wait":
                    env["CARGO_BURST_SSH"] = ssh_wait
                    hit = lambda: os.path.exists(os.path.join(marks, "ssh-wait"))  # noqa: E731
                elif win == "during rsync":
                    env["CARGO_BURST_RSYNC"] = rsync
                    hit = lambda: os.path.exists(os.path.join(marks, "rsync"))  # noqa: E731
                else:
                    env["CARGO_BURST_SSH"] = ssh_cargo
                    hit = lambda: os.path.exists(os.path.join(marks, "cargo"))  # noqa: E731
                p = w.start(["build"], cwd=ws, env=env)
                try:
                    reached = wait_for(lambda: hit() or p.poll() is not None, 120, 0.02)
                    reached = reached and p.poll() is None
                    os.kill(p.pid, signal.SIGKILL)
                finally:
                    try:
                        p.kill()
                    except OSError:
                        pass
                    p.communicate(timeout=30)
                if not tap.ok(reached, "killed the tool %s" % win):
                    tap.diag("calls: %s" % w.api_calls())
                # nothing of ours may outlive its deadline (keep-alive %d s from the kill)
                clean = wait_for(lambda: not w.servers() and not w.volumes(), KEEP + 45, 0.5)
                if not tap.ok(clean, "%s: nothing of ours outlives its deadline" % win):
                    tap.diag("servers: %s" % [(s["id"], s["status"]) for s in w.servers()])
                    tap.diag("volumes: %s" % [v["id"] for v in w.volumes()])
                    tap.diag(lclib.reaper_log_tail(w))
                # the next window starts from a state that is settled
                wait_for(lambda: (lclib.status_json(w, ws)[0] or {}).get("server", 1) is None,
                         20, 0.5)
            lclib.check_reaper_logs(tap, w)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

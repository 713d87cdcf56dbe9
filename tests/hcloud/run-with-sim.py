#!/usr/bin/env python3
"""run-with-sim.py PROGRAM [ARGS...] - run a C test program against a fresh
local Hetzner simulator (--machines none).

The program gets HCLOUD_ENDPOINT, HCLOUD_TOKEN and BURST_SIM_BASE (the control
API base URL) in its environment and prints TAP itself; its output is passed
through and its exit status returned.  The simulator is shut down and its
state directory removed on every path (also on SIGTERM from meson's timeout).
"""

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("BURST_SOURCE_ROOT",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "sim"))
from simharness import Simulator  # noqa: E402

TIMEOUT = float(os.environ.get("HCLOUD_TEST_TIMEOUT", "240"))


def on_term(signum, frame):
    raise SystemExit(128 + signum)


def show_sim_logs(sim):
    """On failure, show the end of the simulator's own logs as TAP comments."""
    alive = sim.proc is not None and sim.proc.poll() is None
    print("# simulator pid %s %s" % (sim.proc.pid if sim.proc else "?",
                                      "still running" if alive else
                                      "exited with %s" % (sim.proc.returncode if sim.proc else "?")),
          flush=True)
    for name in ("sim.log", "sim.stderr"):
        try:
            with open(os.path.join(sim.state_dir, name), errors="replace") as f:
                lines = f.read().splitlines()[-25:]
        except OSError:
            continue
        for line in lines:
            print("# %s: %s" % (name, line), flush=True)


def main():
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    if len(sys.argv) < 2:
        print("usage: run-with-sim.py PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    config = {"durations": {"server_create": 0.2, "server_start": 0.2, "server_stop": 0.1,
                            "volume_create": 0.1, "attach": 0.1, "detach": 0.1,
                            "image_create": 0.3, "server_delete": 0.1}}
    proc = None
    try:
        sim = Simulator(machines="none", config=config)
    except Exception as e:  # pragma: no cover
        print("Bail out! cannot set up the simulator: %s" % e, flush=True)
        return 1
    try:
        with sim:
            env = dict(os.environ)
            env.update(sim.env())
            env["BURST_SIM_BASE"] = sim.base
            env["BURST_SIM_DIR"] = sim.state_dir
            proc = subprocess.Popen(sys.argv[1:], env=env)
            try:
                rc = proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                print("Bail out! %s timed out after %.0fs" % (sys.argv[1], TIMEOUT), flush=True)
                rc = 1
            if rc != 0:
                show_sim_logs(sim)
            return rc
    except RuntimeError as e:
        print("Bail out! simulator: %s" % e, flush=True)
        return 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())

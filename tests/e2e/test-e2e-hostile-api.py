#!/usr/bin/env python3
"""End-to-end: a hostile or broken API, and a known_hosts that cannot be
written (issue 11).

- POST /servers answers an "IP" that would plant a wildcard line in the
  tool's known_hosts: the run fails with exit 69 naming the invalid
  address, the line is never written, BURST_TRACE shows the request without
  the private host key, and the user is told that no reaper watches the
  server (none was armed) and how to delete it;
- the known_hosts file cannot be written: exit 73 naming the file, again
  without claiming a reaper;
- an error message with terminal escape sequences reaches stderr without
  them.
`cargo burst down` deletes what the failed runs left.  API only (the runs
fail before any ssh): the simulator runs with --machines none.
"""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Simulator, Tap, World, seed  # noqa: E402

HOSTILE_IP = "127.0.0.9\n* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostileHostileHostileHostileHostile"
REAPER_CLAIM = "stays up until its reaper"


def main():
    tap = Tap()
    if not os.environ.get("CARGO_BURST") or not os.path.exists(os.environ["CARGO_BURST"]):
        tap.skip_all("CARGO_BURST does not name the built binary")
    if not shutil.which("ssh-keygen"):
        tap.skip_all("ssh-keygen is not installed")
    cfg = {"durations": {"server_create": 0.2, "server_start": 0.2, "volume_create": 0.1,
                         "attach": 0.1, "detach": 0.1, "server_delete": 0.1}}
    with Simulator(machines="none", config=cfg) as sim:
        seed(sim)
        with World(tap, sim) as w:
            run_all(tap, sim, w)
    return tap.done()


def down(tap, sim, w, hello, what):
    sim.configure({"faults": []})
    r = w.burst(["down"], cwd=hello, timeout=120)
    if not tap.ok(r.code == 0 and not w.servers(), "`cargo burst down` deletes the server %s"
                  % what):
        tap.diag(repr(r))


def run_all(tap, sim, w):
    hello = w.fixture("hello")
    kh = os.path.join(w.state_dir, "known_hosts")

    # 1. a planted known_hosts line as the server's address
    sim.configure({"faults": [{"method": "POST", "path": "/servers", "times": 0, "apply": True,
                               "status": 0, "patch": {"server": {"public_net": {
                                   "ipv4": {"ip": HOSTILE_IP}}}}}]})
    r = w.burst(["build"], cwd=hello, env={"BURST_TRACE": "1"}, timeout=120)
    tap.is_(r.code, 69, "an invalid address from the API is an API error (69)")
    tap.ok("the API returned an invalid address for server" in r.err,
           "the error says the address is invalid")
    if r.code != 69:
        tap.diag(repr(r))
    text = open(kh).read() if os.path.exists(kh) else ""
    tap.ok("*" not in text and "Hostile" not in text, "nothing of it reached known_hosts")
    tap.ok(REAPER_CLAIM not in r.err and "the server was deleted" in r.err,
           "no reaper is claimed; the unusable server was deleted at once, and it says so")
    tap.ok(not [s for s in w.servers() if s.get("status") != "deleting"],
           "no server of the run is left")
    tap.ok('"user_data":"***"' in r.err, "the trace shows POST /servers with user_data left out")
    tap.ok("PRIVATE KEY" not in r.err, "the private host key is not in the trace")
    down(tap, sim, w, hello, "with the invalid address")

    # 2. a known_hosts that cannot be written
    if os.path.exists(kh):
        os.unlink(kh)
    os.makedirs(kh)
    r = w.burst(["build"], cwd=hello, timeout=120)
    tap.is_(r.code, 73, "a known_hosts that cannot be written is a local state error (73)")
    tap.ok(kh in r.err, "the error names the file")
    # the row is recorded before the pin: a reaper may watch it, but only
    # a reaper that runs may be claimed
    deadline = time.time() + 30
    while REAPER_CLAIM in r.err and "__reap-server" not in w.reapers() and \
            time.time() < deadline:
        time.sleep(0.1)
    if not tap.ok("cargo burst down" in r.err and
                  (REAPER_CLAIM not in r.err or "__reap-server" in w.reapers()),
                  "a reaper is claimed only when one runs; `cargo burst down` is named"):
        tap.diag(r.err)
    if r.code != 73:
        tap.diag(repr(r))
    os.rmdir(kh)
    down(tap, sim, w, hello, "whose host key could not be pinned")

    # 3. escape sequences in an API error message
    sim.configure({"faults": [{"method": "POST", "path": "/servers", "times": 0,
                               "status": 403, "code": "weird_error",
                               "message": "denied\u001b[2J\u001b]0;owned\u0007 \u009b31mnow"}]})
    r = w.burst(["build"], cwd=hello, timeout=120)
    tap.is_(r.code, 69, "the refused create is an API error (69)")
    tap.ok("denied" in r.err, "the API's message is shown")
    tap.ok("\x1b" not in r.err and "\x07" not in r.err and "\u009b" not in r.err,
           "without its escape sequences")
    if "denied" not in r.err:
        tap.diag(repr(r))
    sim.configure({"faults": []})


if __name__ == "__main__":
    sys.exit(main())

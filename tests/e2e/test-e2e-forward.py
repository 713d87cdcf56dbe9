#!/usr/bin/env python3
"""End-to-end: `cargo burst -L LOCAL:REMOTE run` forwards a local port to a
program listening on the build server while it runs (over the run's ssh
master; against a plain sshd as a bring-your-own host), the forward is gone
afterwards, and a local port that is taken is a clear error naming the port
and the process holding it.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Result, byoh_main, free_port  # noqa: E402


def main():
    return byoh_main(run_all)


def fetch_line(port, deadline):
    """Connect to localhost:port until the remote program answers a line."""
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.settimeout(5)
                data = s.recv(200)
                if data:
                    return data.decode(errors="replace")
        except OSError:
            pass
        time.sleep(0.3)
    return None


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def run_all(tap, sim, w, sshd):
    ws = w.fixture("listener")
    local, remote = free_port(), free_port()
    while remote == local:
        remote = free_port()

    # -L is a tool option before the verb (after it, it would be cargo's)
    p = w.start(["-L", "%d:%d" % (local, remote), "run", "--host", sshd.spec, "--", str(remote)],
                cwd=ws)
    try:
        line = fetch_line(local, time.time() + 200)
        tap.is_(line, "hello from the build server\n",
                "localhost:%d reaches the program listening on the server's port" % local)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, 9)
            out, err = p.communicate()
    r = Result(p.returncode, out, err, 0)
    if not tap.is_(r.code, 0, "the run ends with the program's status"):
        tap.diag(repr(r))
    tap.ok("Forwarding" in r.err and "localhost:%d" % local in r.err, "the forward is announced")
    tap.ok("answered one connection" in r.out, "the program saw the connection")
    tap.ok(not listening(local), "the forward is cancelled after the run")

    # a local port that is taken
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        r = w.burst(["run", "--host", sshd.spec, "--forward", str(port), "--", "1"], cwd=ws,
                    timeout=200)
    finally:
        taken.close()
    tap.is_(r.code, 64, "a taken local port is refused")
    tap.ok("cannot forward local port %d" % port in r.err and "already in use" in r.err,
           "the error names the port")
    tap.ok("python" in r.err and "pid %d" % os.getpid() in r.err,
           "the error names the process holding it")
    tap.ok("Syncing" not in r.err, "... before anything is synced")
    if r.code != 64:
        tap.diag(repr(r))

    # usage errors
    r = w.burst(["-L", "0", "run", "--host", sshd.spec], cwd=ws)
    tap.is_(r.code, 64, "-L 0 is a usage error")
    r = w.burst(["build", "--host", sshd.spec, "--forward", "8080"], cwd=ws)
    tap.ok(r.code == 64 and "is an option of cargo-burst run" in r.err,
           "--forward belongs to run only")
    tap.is_(sim.requests(), [], "no API call")


if __name__ == "__main__":
    sys.exit(main())

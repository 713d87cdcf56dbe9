#!/usr/bin/env python3
"""End-to-end: `cargo burst ssh`.  On the simulator: provisions (cold),
syncs first, runs the command in the project's synced source dir with the
runs' environment (CARGO_TARGET_DIR on the volume), passes its exit status
through, holds a lease while the session is open and leaves the server with
its reaper; --no-sync; a warm session makes no API call.  The same against a
plain sshd as a bring-your-own host.
"""

import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (PlainSshd, Simulator, Tap, World, need_root_and_tools,  # noqa: E402
                    new_sim, seed)

PROBE = ["--", "sh", "-c", 'echo "$CARGO_TARGET_DIR"; pwd; echo "FWD=$BURST_SSH_VAR"; exit 7']


def main():
    tap = Tap()
    need_root_and_tools(tap)
    with new_sim() as sim:
        seed(sim)
        with World(tap, sim, config={"forward_env": ["BURST_SSH_VAR"]}) as w:
            hetzner(tap, sim, w)
    with Simulator(machines="none") as sim:
        with World(tap, sim) as w:
            with PlainSshd(w) as sshd:
                sshd.trust()
                byoh(tap, sim, w, sshd)
    return tap.done()


def leases(w):
    db = os.path.join(w.state_dir, "state.db")
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute("SELECT count(*) FROM leases").fetchone()[0]
    finally:
        con.close()


def hetzner(tap, sim, w):
    ws = w.fixture("hello")
    env = {"BURST_SSH_VAR": "forwarded-value"}
    r = w.burst(["ssh"] + PROBE, cwd=ws, env=env)
    if not tap.is_(r.code, 7, "the remote command's exit status (7) is passed through"):
        tap.diag(repr(r))
    lines = r.out.splitlines()
    m = re.match(r"^/mnt/cache/([0-9a-f]+)/target$", lines[0] if lines else "")
    tap.ok(m, "CARGO_TARGET_DIR is the project's dir on the volume")
    tap.is_(lines[1] if len(lines) > 1 else None,
            "/mnt/cache/%s/src" % (m.group(1) if m else "?"),
            "the command runs in the project's synced source dir")
    tap.ok("FWD=forwarded-value" in lines, "forward_env reaches the session")
    tap.ok("Provisioned" in r.err or "Provisioning" in r.err, "it provisions a server when needed")
    tap.ok("Syncing" in r.err, "it syncs first and says so")
    servers = w.servers()
    tap.is_(len(servers), 1, "the server stays up after the session")
    tap.ok(os.path.exists((servers and w.server_path(servers[0]["id"], "/mnt/cache/%s/src/Cargo.toml"
                                                    % (m.group(1) if m else "?"))) or "/nonexistent"),
           "the workspace was synced to the server")

    # a lease while the session is open
    sim.reset_requests()
    p = w.start(["ssh", "--", "sleep 4"], cwd=ws)
    seen = 0
    deadline = time.time() + 60
    while p.poll() is None and time.time() < deadline:
        try:
            seen = max(seen, leases(w))
        except sqlite3.Error:
            pass
        time.sleep(0.2)
    out, err = p.communicate(timeout=60)
    tap.is_(p.returncode, 0, "a one-word command line runs through the remote shell")
    tap.ok(seen >= 1, "a lease is held while the session is open")
    tap.is_(leases(w), 0, "the lease is released afterwards")
    tap.is_([c for c in w.api_calls()], [], "a warm session makes no API call")

    # --no-sync: the server keeps what the last sync left
    with open(os.path.join(ws, "marker.txt"), "w") as f:
        f.write("new\n")
    r = w.burst(["ssh", "--no-sync", "--", "test", "-e", "marker.txt"], cwd=ws)
    tap.is_(r.code, 1, "--no-sync does not sync (the new file is not there)")
    tap.ok("Syncing" not in r.err, "--no-sync says no Syncing")
    r = w.burst(["ssh", "--", "cat", "marker.txt"], cwd=ws)
    tap.ok(r.code == 0 and r.out.strip() == "new", "without it the file is synced")
    r = w.burst(["ssh", "--no-fetch"], cwd=ws)
    tap.is_(r.code, 64, "a flag of another verb is a usage error")


def byoh(tap, sim, w, sshd):
    ws = w.fixture("hello")
    r = w.burst(["ssh", "--host", sshd.spec] + PROBE, cwd=ws)
    if not tap.is_(r.code, 7, "BYO host: the exit status is passed through"):
        tap.diag(repr(r))
    lines = r.out.splitlines()
    proj = sshd.project_dir()
    h = os.path.basename(proj) if proj else "?"
    tap.is_(lines[:2], ["/root/.cache/cargo-burst/%s/target" % h, "/root/.cache/cargo-burst/%s/src" % h],
            "BYO host: CARGO_TARGET_DIR and the source dir under ~/.cache/cargo-burst/<hash>")
    tap.ok(proj and os.path.exists(os.path.join(proj, "src", "Cargo.toml")), "BYO host: synced first")
    interactive(tap, w, sshd, ws, h)
    tap.is_(sim.requests(), [], "BYO host: no API call")


def interactive(tap, w, sshd, ws, h):
    """No command on a terminal: an interactive shell (ssh -tt) in the source dir."""
    import pty
    import select
    import signal
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ws)
        env = w.env()
        os.execve(os.environ["CARGO_BURST"], [os.environ["CARGO_BURST"], "burst", "ssh", "--host",
                                              sshd.spec], env)
    out = b""
    sent = False
    deadline = time.time() + 60
    status = None
    try:
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                out += chunk
            if not sent and b"Opening" in out:
                time.sleep(1.0)
                os.write(fd, b'echo "T=$CARGO_TARGET_DIR"; echo "P=$(pwd)"; exit 5\n')
                sent = True
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode(errors="replace").replace("\r", "")
    tap.ok(status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 5,
           "interactive shell: its exit status (5) is passed through")
    tap.ok(("T=/root/.cache/cargo-burst/%s/target" % h) in text and
           ("P=/root/.cache/cargo-burst/%s/src" % h) in text,
           "interactive shell: the runs' environment, in the source dir")
    if status is None or "P=/root" not in text:
        tap.diag(text[-2000:])


if __name__ == "__main__":
    sys.exit(main())

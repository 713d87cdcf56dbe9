"""lclib.py - helpers of the lifecycle tests (suite 'lifecycle').

Builds on tests/e2e/e2elib.py (World: a temporary HOME/XDG world, the built
binary, a fixture crate) and tests/sim/simharness.py (the simulator with
real machines).  Adds: skipping the TAP way meson expects (exit 0), reading
`status --json`, and listing the simulator's resources; e2elib's wait_for
(a condition polled with a bound) and pid_alive are here too.
"""

import json
import os
import shutil
import sqlite3
import sys

SOURCE_ROOT = os.environ.get("BURST_SOURCE_ROOT",
                             os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "sim"))

import e2elib  # noqa: E402
from e2elib import World, new_sim, seed, kill_env_holders, pid_alive, wait_for  # noqa: E402,F401
from simharness import Tap  # noqa: E402,F401
from taplib import skip_all  # noqa: E402,F401


def need_real_world():
    """Skip (exit 0) unless real machines, cargo and the binary are there."""
    if os.geteuid() != 0:
        skip_all("needs root (namespaces, loop devices, sshd on port 22)")
    for prog in ("ssh", "rsync", "ssh-keygen", "/usr/sbin/sshd", "unshare", "losetup", "nsenter"):
        if not shutil.which(prog) and not os.path.exists(prog):
            skip_all("%s is not installed" % prog)
    if not os.environ.get("CARGO_BURST") or not os.path.exists(os.environ["CARGO_BURST"]):
        skip_all("CARGO_BURST does not name the built binary")
    if not e2elib.cargo_path():
        skip_all("cargo is not installed")


def wait_reapers_claimed(w, kinds=("__reap-server", "__reap-volume"), timeout=60):
    """Wait until a live reaper of each kind has opened state.db and claimed
    its resource (its pid is in the reapers table).

    A run arms its reapers as it ends and returns without waiting for them:
    a detached reaper opens the database a moment later (much later under a
    sanitizer and load).  A test that then deletes or corrupts the database
    waits here first, so it knows which process sees the change first.
    """
    db = os.path.join(w.state_dir, "state.db")

    def claimed():
        live = w.reapers()
        if not all(live.get(k) for k in kinds):
            return False
        try:
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
            try:
                pids = {r[0] for r in con.execute("SELECT pid FROM reapers")}
            finally:
                con.close()
        except sqlite3.Error:
            return False
        return all(pid in pids for k in kinds for pid in live[k])
    return wait_for(claimed, timeout, 0.1)


def status_json(w, cwd=None):
    r = w.burst(["status", "--json"], cwd=cwd or w.work, timeout=60)
    try:
        return json.loads(r.out), r
    except ValueError:
        return None, r


def ours(resources, owner=None):
    """Resources labelled managed-by=cargo-burst (and owner when given)."""
    out = []
    for x in resources:
        lab = x.get("labels") or {}
        if lab.get("managed-by") != "cargo-burst":
            continue
        if owner and lab.get("owner") != owner:
            continue
        out.append(x)
    return out


def live_servers(w):
    return [s for s in w.servers() if s.get("status") != "deleting"]


def count_calls(w, method, path):
    return sum(1 for m, p in w.api_calls() if m == method and p == "/v1" + path)


def reaper_log_tail(w, n=30):
    d = os.path.join(w.state_dir, "reapers")
    out = []
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), errors="replace") as f:
                lines = f.read().splitlines()[-n:]
            out.append("== %s\n%s" % (name, "\n".join(lines)))
    return "\n".join(out)


def find_key(doc, key):
    """The first value of key anywhere in a JSON document, or None."""
    if isinstance(doc, dict):
        if key in doc:
            return doc[key]
        for v in doc.values():
            r = find_key(v, key)
            if r is not None:
                return r
    elif isinstance(doc, list):
        for v in doc:
            r = find_key(v, key)
            if r is not None:
                return r
    return None


SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")


def check_reaper_logs(tap, w):
    """One TAP line: the reapers' logs hold no sanitizer report and no crash."""
    bad = []
    d = os.path.join(w.state_dir, "reapers")
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), errors="replace") as f:
                text = f.read()
            if any(m in text for m in SANITIZER_MARKS):
                bad.append(name)
                tap.diag(text[-3000:])
    return tap.ok(not bad, "reaper logs are clean (no sanitizer report): %s" % (bad or "ok"))

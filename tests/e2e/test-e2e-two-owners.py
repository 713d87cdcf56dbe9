#!/usr/bin/env python3
"""End-to-end: two machines of one Hetzner account, same workspace path.

Two users (two state directories, so two owner ids, as on two laptops)
build a workspace that sits at the same absolute path on both machines,
against one account.  Hetzner volume names are unique per account, so the
volume names must differ by owner; each gets its own server and volume,
and neither run touches the other's resources.
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import FIXTURES, Tap, World, need_root_and_tools, new_sim, seed  # noqa: E402


def main():
    tap = Tap()
    need_root_and_tools(tap)
    shared = tempfile.mkdtemp(prefix="burst-samepath-")
    try:
        with new_sim() as sim:
            seed(sim)
            with World(tap, sim) as a, World(tap, sim) as b:
                run_all(tap, sim, a, b, shared)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    return tap.done()


def run_all(tap, sim, a, b, shared):
    ws = os.path.join(shared, "hello")
    shutil.copytree(os.path.join(FIXTURES, "hello"), ws)

    ra = a.burst(["build", "--no-fetch"], cwd=ws)
    if not tap.is_(ra.code, 0, "first machine builds"):
        tap.diag(repr(ra))
    rb = b.burst(["build", "--no-fetch"], cwd=ws)
    if not tap.is_(rb.code, 0, "second machine builds the same path"):
        tap.diag(repr(rb))

    vols = a.volumes()
    names = sorted(v["name"] for v in vols)
    tap.is_(len(vols), 2, "one volume per machine")
    tap.ok(len(set(names)) == 2, "volume names differ: %s" % names)
    owners = sorted(v["labels"].get("owner", "") for v in vols)
    tap.ok(len(set(owners)) == 2 and all(owners), "each volume carries its own owner")
    projects = set(v["labels"].get("project") for v in vols)
    tap.is_(len(projects), 1, "both carry the same project label (hash of the path)")
    tap.is_(len(a.servers()), 2, "one server per machine")


if __name__ == "__main__":
    sys.exit(main())

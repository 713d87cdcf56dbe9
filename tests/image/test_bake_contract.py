#!/usr/bin/env python3
"""cargo burst image build and build against today's API contract (issue 12).

The bake's server type is deprecated in fsn1 (unavailable_after passed):
the bake goes to nbg1 without a failed create there; deprecated everywhere,
the bake stops before creating anything and says why.  Every user_data the
tool sent (the bake's image/ cloud-config, the build server's host-key
cloud-config) passes Debian's real validator, `cloud-init schema`, and the
bake's stays under Hetzner's 32 KiB; a broken cloud-config fails it (the
check can fail).
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imagetest import bake_prereqs, skip_all, write_bake_config  # noqa: E402
from e2elib import Tap, World, new_sim  # noqa: E402

LIMIT = 32 * 1024


def check_prereqs():
    bake_prereqs()
    if not shutil.which("cloud-init"):
        skip_all("cloud-init is not installed (apt-get install cloud-init; .ci/run does)")


def creates(sim):
    return [r.get("body") or {} for r in sim.requests()
            if r["method"] == "POST" and r["path"] == "/v1/servers" and r.get("by") != "harness"]


def cloud_init_schema(text):
    """(ok, output) of `cloud-init schema` on text; warnings are not errors."""
    d = tempfile.mkdtemp(prefix="burst-cloud-init-")
    try:
        path = os.path.join(d, "user-data")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run(["cloud-init", "schema", "--config-file", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        return p.returncode == 0, p.stdout.decode(errors="replace").strip()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def validate(tap, what, ud):
    ok, out = cloud_init_schema(ud or "")
    if not tap.ok(ud and ok, "%s passes `cloud-init schema`" % what):
        tap.diag(out[-2000:])


def main():
    check_prereqs()
    tap = Tap()
    ok, out = cloud_init_schema("#cloud-config\nssh_keys: 5\nruncmd: 7\n")
    tap.ok(not ok and "ssh_keys" in out, "a broken cloud-config fails `cloud-init schema`")
    cfg = {"durations": {"bake": 1.0, "image_create": 0.3},
           "deprecated_types": [{"server_type": "cx22", "location": "fsn1"}]}
    with new_sim(cfg) as sim:
        with World(tap, sim) as w:
            write_bake_config(w)
            run_all(tap, sim, w)
    return tap.done()


def run_all(tap, sim, w):
    sim.reset_requests()
    r = w.burst(["image", "build", "--description", "contract"], cwd=w.work,
                env={"CARGO_BURST_BAKE_POLL_MS": "100"}, timeout=180)
    if not tap.is_(r.code, 0, "the bake succeeds with cx22 deprecated in fsn1"):
        tap.diag(repr(r))
    bodies = creates(sim)
    tap.is_([b.get("location") for b in bodies], ["nbg1"],
            "no create was tried in fsn1: the one POST /servers went to nbg1")
    tap.ok("fsn1" in r.err and "deprecated" in r.err, "says fsn1 was skipped (deprecated)")
    ud = bodies[0].get("user_data") if bodies else None
    tap.ok(ud and len(ud.encode()) <= LIMIT,
           "the bake's user_data is at most 32 KiB (%d bytes)" % len((ud or "").encode()))
    validate(tap, "the bake's user_data (image/ cloud-config)", ud)

    hello = w.fixture("hello")
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello, timeout=240)
    if not tap.is_(r.code, 0, "a build from the new image succeeds"):
        tap.diag(repr(r))
    bodies = creates(sim)
    tap.is_(len(bodies), 1, "one build server was created")
    ud = bodies[0].get("user_data") if bodies else None
    tap.ok(ud and ud.startswith("#cloud-config") and "ed25519_private" in ud,
           "the build server's user_data is the host-key cloud-config")
    validate(tap, "the build server's host-key cloud-config", ud)
    r = w.burst(["down", "--with-volumes"], cwd=hello)
    tap.is_(r.code, 0, "down removes the build server and its volume")

    # deprecated everywhere: nothing is created, the reason is given
    sim.configure({"deprecated_types": [{"server_type": "cx22"}]})
    sim.reset_requests()
    r = w.burst(["image", "build"], cwd=w.work, env={"CARGO_BURST_BAKE_POLL_MS": "100"}, timeout=120)
    tap.ok(r.code == 69 and "cannot be ordered in any configured location" in r.err,
           "cx22 deprecated in every region: the bake stops with the reason (exit %s)" % r.code)
    tap.is_(creates(sim), [], "and creates nothing")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end: cache visibility (issue 15, part 6) on the simulator.

- the run summary names sccache's hits and misses of the run (the sccache
  stand-in of tests/fixtures/sccache-standin on the servers): misses on the
  first build, hits after a `cargo clean`;
- an untrusted server's stats (garbage, 1 MB, a stats call that hangs)
  give "sccache unknown", never a failure, and the hanging one delays the
  run by a bounded time only; no sccache on the server: no stats, no error;
- `status` shows the volume's used/total space (live over the ssh master,
  and the last value with its age when no server is up), in --json too;
  above 90% a warning with the command that clears it, and that command
  works.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (SOURCE_ROOT, StandinInstaller, Tap, World, need_root_and_tools,  # noqa: E402
                    new_sim, seed)

STANDIN = os.path.join(SOURCE_ROOT, "tests", "fixtures", "sccache-standin", "sccache")
SCALE = min(float(os.environ.get("BURST_TEST_TIME_SCALE", "1") or 1), 3.0)



def finished(r):
    """The tool's summary line (not cargo's own Finished line)."""
    return [ln for ln in r.err.splitlines() if "Finished" in ln and "(provision" in ln]


def set_mode(w, mode):
    for s in w.servers():
        path = os.path.join(w.server_home(s["id"]), ".sccache-standin-mode")
        if mode:
            with open(path, "w") as f:
                f.write(mode + "\n")
        elif os.path.exists(path):
            os.unlink(path)


def main():
    tap = Tap()
    need_root_and_tools(tap)
    # 1 GB volumes: filling one above 90% is cheap
    with new_sim({"volume_real_cap_gb": 1}) as sim:
        seed(sim)
        with World(tap, sim) as w, StandinInstaller(sim, STANDIN, "sccache"):
            ws = w.fixture("hello")
            sccache(tap, sim, w, ws)
            usage(tap, sim, w, ws)
    return tap.done()


def sccache(tap, sim, w, ws):
    env = {"COLUMNS": "400"}
    r = w.burst(["build"], cwd=ws, env=env)
    tap.ok(r.code == 0, "a cold build with sccache on the server", repr(r))
    fin = finished(r)
    m = re.search(r"sccache 0 hits, ([0-9]+) miss", fin[0] if fin else "")
    tap.ok(m and int(m.group(1)) > 0, "the summary names its misses and no hit: %r" % fin)
    # the markers with their ": " (a server's name may begin "cargo-burst-df")
    tap.ok(not any(m in ln for ln in (r.err + r.out).splitlines()
                   for m in ("cargo-burst-sccache-before: ", "cargo-burst-sccache-after: ",
                             "cargo-burst-df: ")),
           "the marker lines never reach the terminal", repr(r))

    r = w.burst(["ssh", "--", "cargo", "clean"], cwd=ws)
    tap.ok(r.code == 0, "cargo clean on the server", repr(r))
    r = w.burst(["build"], cwd=ws, env=env)
    fin = finished(r)
    m = re.search(r"sccache ([0-9]+) hits?, 0 misses", fin[0] if fin else "")
    tap.ok(r.code == 0 and m and int(m.group(1)) > 0,
           "after a clean the crates come from the cache: hits, no miss: %r" % fin)

    for mode in ("garbage", "huge"):
        set_mode(w, mode)
        r = w.burst(["build"], cwd=ws, env=env)
        fin = finished(r)
        tap.ok(r.code == 0 and fin and "sccache unknown" in fin[0],
               "stats that are %s: \"sccache unknown\", the run unharmed: %r" % (mode, fin),
               repr(r))

    # a stats call that hangs (120 s): bounded (5 s before, in the background,
    # and 5 s after), so the run ends long before it would
    set_mode(w, "slow")
    r = w.burst(["build"], cwd=ws, env=env, timeout=200)
    fin = finished(r)
    tap.ok(r.code == 0 and fin and "sccache unknown" in fin[0],
           "a hanging stats call: \"sccache unknown\"", repr(r))
    tap.ok(r.elapsed < 40 * SCALE, "...and the run is delayed a bounded time only "
           "(%.1fs, the stand-in sleeps 120 s)" % r.elapsed)
    set_mode(w, None)

    # no sccache on the server: no stats phrase, no error
    for s in w.servers():
        os.unlink(os.path.join(w.server_home(s["id"]), ".local", "bin", "sccache"))
    r = w.burst(["build"], cwd=ws, env=env)
    fin = finished(r)
    tap.ok(r.code == 0 and fin and "sccache" not in fin[0] and "warning" not in r.err,
           "no sccache on the server: no stats in the summary, no error: %r" % fin, repr(r))


def project(doc):
    ps = doc.get("projects") or []
    return ps[0] if len(ps) == 1 else {}


def status_json(w, ws):
    r = w.burst(["status", "--json"], cwd=ws)
    try:
        return json.loads(r.out)
    except ValueError:
        return {}


def usage(tap, sim, w, ws):
    r = w.burst(["status"], cwd=ws)
    m = re.search(r"volume usage +hello: ([0-9.]+ [MG]B) of ([0-9.]+ [MG]B) used \(([0-9]+)%\)\n",
                  r.out)
    tap.ok(r.code == 0 and m and int(m.group(3)) < 90,
           "status shows the volume's used and total space, measured now", repr(r))
    tap.ok("full" not in r.err, "no warning below 90%", repr(r))
    u = project(status_json(w, ws)).get("volume_usage") or {}
    tap.ok(u.get("live") is True and 0 < u.get("used_bytes", 0) < u.get("total_bytes", 0),
           "status --json: projects[].volume_usage (live): %r" % u)

    # fill it above 90%, on the server
    total = u.get("total_bytes", 1 << 30)
    fill = int(total * 0.93) - u.get("used_bytes", 0)
    r = w.burst(["ssh", "--no-sync", "--", "sh", "-c",
                 'fallocate -l %d "$CARGO_TARGET_DIR/filler"' % fill], cwd=ws)
    tap.ok(r.code == 0, "a large file fills the volume", repr(r))
    r = w.burst(["status"], cwd=ws)
    m = re.search(r"warning: the volume of 'hello' is ([0-9]+)% full", r.err)
    hint = re.search(r"clear its target/ with `([^`]+)`", r.err)
    tap.ok(m and int(m.group(1)) > 90, "above 90%: a warning", repr(r))
    tap.ok(hint and hint.group(1) == "cd '%s' && cargo burst ssh -- cargo clean" % ws,
           "with the command that clears it", repr(r))

    # the command works (run as a shell would, from anywhere)
    if hint:
        p = subprocess.run(["sh", "-c", hint.group(1).replace("cargo burst", "%s burst" %
                                                               os.environ["CARGO_BURST"])],
                           cwd=w.work, env=w.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=240)
        tap.ok(p.returncode == 0, "the command runs", p.stdout + p.stderr)
    r = w.burst(["status"], cwd=ws)
    m = re.search(r"volume usage +hello: .* used \(([0-9]+)%\)", r.out)
    tap.ok(m and int(m.group(1)) < 90 and "full" not in r.err,
           "after it the volume is below 90%, no warning", repr(r))

    # no server up: the last value measured, with its age
    r = w.burst(["down"], cwd=ws)
    tap.ok(r.code == 0 and not w.servers(), "down", repr(r))
    r = w.burst(["status"], cwd=ws)
    tap.ok(re.search(r"volume usage +hello: [0-9.]+ [MG]B of [0-9.]+ [MG]B used \([0-9]+%\), "
                     r"measured [0-9.]+s ago \(no ssh connection is open\)", r.out),
           "no server up: the last value with its age", repr(r))
    u = project(status_json(w, ws)).get("volume_usage") or {}
    tap.ok(u.get("live") is False and u.get("measured_at", 0) > 0,
           "--json: live false, measured_at: %r" % u)


if __name__ == "__main__":
    sys.exit(main())

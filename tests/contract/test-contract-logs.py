#!/usr/bin/env python3
"""The client's requests and the simulator's answers against Hetzner's
published API contract (issue 12).

Every simulator the suites start copies its request log into
$BURST_CONTRACT_LOG_DIR (tests/meson.build), and with $BURST_CONTRACT_SPEC
it records in each log record the violations of its own answer.  This test
runs after the others (meson priority, not parallel) and checks every record:
the request (path and method exist, query parameters are the operation's own
plus page/per_page, the body validates against the request schema) unless it
is the test's own set-up call (`by: harness`), and the recorded answer
violations.  It fails on any violation, listing operation and field.

An empty log directory is never a pass: run alone (no other suite wrote
logs), it first drives the client itself through the hcloud-api test
program (argv[1], with tests/hcloud/run-with-sim.py) to produce logs.
Checked logs (pass or fail) move to $BURST_CONTRACT_LOG_DIR.checked, so
the next run of the suites starts afresh.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "sim"))
from openapi_check import Spec, check_log_record  # noqa: E402
from simharness import Tap  # noqa: E402


def log_files(d):
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return []
    return [os.path.join(d, n) for n in names if n.endswith(".jsonl")]


def records(path):
    with open(path, errors="replace") as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield i, json.loads(line)
            except ValueError:
                yield i, {"_bad": line[:200]}


def produce_logs(tap, d):
    """Run the client's API test against a simulator to fill an empty dir."""
    if len(sys.argv) < 2:
        return
    runner = os.path.join(HERE, "..", "hcloud", "run-with-sim.py")
    tap.diag("no request logs in %s: driving the client (%s) to make some" % (d, sys.argv[1]))
    env = dict(os.environ, BURST_CONTRACT_LOG_DIR=d)
    p = subprocess.run([sys.executable, runner, sys.argv[1]], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=280)
    if p.returncode != 0:
        tap.diag("the client's API test failed (%d); its logs are checked anyway" % p.returncode)


def main():
    tap = Tap()
    d = os.environ.get("BURST_CONTRACT_LOG_DIR")
    if not d:
        tap.plan(1)
        tap.ok(False, "BURST_CONTRACT_LOG_DIR is set (tests/meson.build sets it)")
        return tap.done()
    if not log_files(d):
        produce_logs(tap, d)
    files = log_files(d)
    spec = Spec()
    tap.plan(3)
    nreq = nclient = 0
    violations = []
    ops = set()
    for path in files:
        for line, rec in records(path):
            nreq += 1
            if "_bad" in rec:
                violations.append("%s:%d: unreadable log line %r" % (os.path.basename(path), line, rec["_bad"]))
                continue
            if rec.get("by") != "harness":
                nclient += 1
                name = spec.op_name(rec.get("method", "?"), rec.get("path", "?"))
                if name:
                    ops.add(name)
            for v in check_log_record(spec, rec):
                violations.append("%s:%d: %s %s: %s" % (os.path.basename(path), line, rec.get("method"),
                                                        rec.get("path"), v))
    tap.ok(files and nreq > 0, "request logs to check (%d files, %d requests, %d by the client)"
           % (len(files), nreq, nclient))
    tap.ok(nclient > 0, "the client's requests are among them (%d operations: %s)"
           % (len(ops), ", ".join(sorted(ops))))
    if not tap.ok(not violations, "every request and answer keeps the contract (%d violations)"
                  % len(violations)):
        seen = set()
        for v in violations:
            key = v.split(": ", 1)[1]
            if key in seen:
                continue
            seen.add(key)
            tap.diag(v)
            if len(seen) >= 40:
                tap.diag("... (more left out)")
                break
    if files:
        done = d.rstrip("/") + ".checked"
        shutil.rmtree(done, ignore_errors=True)
        os.rename(d, done)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run the official toml-test corpus (TOML 1.0.0 list) against our decoder.

Usage: run-toml-test.py DECODER

Reads the vendored corpus, tests/toml/toml-test/files-toml-1.0.0 (see its
README.md; $BURST_TOML_TEST_DIR names another copy).  Every valid case
must decode to JSON equal (as values) to the expected .json; every invalid
case must be rejected with exit status 1 and a "line:col: reason" message
(a signal, a sanitizer report or any other status is a failure).  Prints TAP.
"""

import json
import math
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap, bail  # noqa: E402

CASE_TIMEOUT = 10  # seconds per case

DT_RE = re.compile(
    r"^(?:(\d{4})-(\d{2})-(\d{2}))?"
    r"(?:T?(\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d+))?)?"
    r"(Z|[+-]\d{2}:\d{2})?$"
)


def norm_datetime(s):
    """Normalise a date/time string to a comparable tuple (ms precision)."""
    t = s.strip().upper().replace(" ", "T")
    m = DT_RE.match(t)
    if not m or t == "":
        return ("unparsable", s)
    y, mo, d, h, mi, sec, frac, off = m.groups()
    ms = int((frac or "0")[:3].ljust(3, "0"))
    if off == "Z":
        off = "+00:00"
    if off in ("-00:00",):
        off = "+00:00"
    return (y, mo, d, h, mi, sec or "00", ms, off)


def norm_float(s):
    t = s.strip().lower()
    if t in ("nan", "+nan", "-nan"):
        return "nan"
    if t in ("inf", "+inf"):
        return math.inf
    if t == "-inf":
        return -math.inf
    return float(t.replace("_", ""))


def is_leaf(x):
    return (isinstance(x, dict) and set(x.keys()) == {"type", "value"}
            and isinstance(x["type"], str) and isinstance(x["value"], str))


def compare(want, got, path="$"):
    """Return None when equal, else a description of the first difference."""
    if is_leaf(want):
        if not is_leaf(got):
            return f"{path}: want leaf {want}, got {json.dumps(got)[:80]}"
        if want["type"] != got["type"]:
            return f"{path}: want type {want['type']}, got {got['type']}"
        ty, w, g = want["type"], want["value"], got["value"]
        try:
            if ty == "integer":
                same = int(w) == int(g)
            elif ty == "float":
                same = norm_float(w) == norm_float(g)
            elif ty in ("datetime", "datetime-local", "date-local", "time-local"):
                same = norm_datetime(w) == norm_datetime(g)
            else:
                same = w == g
        except ValueError as e:
            return f"{path}: cannot compare {w!r} and {g!r}: {e}"
        return None if same else f"{path}: want {ty} {w!r}, got {g!r}"
    if isinstance(want, list):
        if not isinstance(got, list):
            return f"{path}: want array, got {type(got).__name__}"
        if len(want) != len(got):
            return f"{path}: want {len(want)} elements, got {len(got)}"
        for i, (w, g) in enumerate(zip(want, got)):
            r = compare(w, g, f"{path}[{i}]")
            if r:
                return r
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict) or is_leaf(got):
            return f"{path}: want table, got {json.dumps(got)[:80]}"
        if set(want) != set(got):
            missing = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            return f"{path}: keys differ: missing {missing}, extra {extra}"
        for k in want:
            r = compare(want[k], got[k], f"{path}.{k}")
            if r:
                return r
        return None
    return f"{path}: unexpected expected value {want!r}"


def sanitizer_report(stderr):
    return ("Sanitizer" in stderr or "runtime error:" in stderr)


def run(decoder, data):
    return subprocess.run([decoder], input=data, capture_output=True,
                          timeout=CASE_TIMEOUT)


def check_valid(decoder, base, case):
    with open(os.path.join(base, case), "rb") as f:
        data = f.read()
    with open(os.path.join(base, case[:-len(".toml")] + ".json"), "rb") as f:
        want = json.loads(f.read().decode("utf-8"))
    try:
        p = run(decoder, data)
    except subprocess.TimeoutExpired:
        return f"timed out after {CASE_TIMEOUT}s"
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != 0:
        return f"exit status {p.returncode}: {err.strip()[:300]}"
    if sanitizer_report(err):
        return "sanitizer report: " + err.strip()[:300]
    try:
        got = json.loads(p.stdout.decode("utf-8"))
    except ValueError as e:
        return f"decoder printed invalid JSON: {e}"
    return compare(want, got)


def check_invalid(decoder, base, case):
    with open(os.path.join(base, case), "rb") as f:
        data = f.read()
    try:
        p = run(decoder, data)
    except subprocess.TimeoutExpired:
        return f"timed out after {CASE_TIMEOUT}s"
    err = p.stderr.decode("utf-8", "replace")
    if sanitizer_report(err):
        return "sanitizer report: " + err.strip()[:300]
    if p.returncode == 0:
        return "accepted invalid input: " + p.stdout.decode("utf-8", "replace")[:200]
    if p.returncode != 1:
        return f"exit status {p.returncode} (want 1): {err.strip()[:300]}"
    if not re.match(r"^\d+:\d+: \S", err):
        return f"no 'line:col: reason' message on stderr: {err.strip()[:200]!r}"
    return None


def main():
    if len(sys.argv) != 2:
        print("usage: run-toml-test.py DECODER", file=sys.stderr)
        return 2
    decoder = sys.argv[1]
    base = os.environ.get("BURST_TOML_TEST_DIR") or \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "toml-test")
    listing = os.path.join(base, "files-toml-1.0.0")
    if not os.path.isfile(listing):
        # vendored with the sources: missing means a broken checkout, not a skip
        bail(f"toml-test corpus not found ({listing})")
    with open(listing, encoding="utf-8") as f:
        names = [l.strip() for l in f if l.strip()]
    valid = [n for n in names if n.startswith("valid/") and n.endswith(".toml")]
    invalid = [n for n in names if n.startswith("invalid/") and n.endswith(".toml")]
    if not valid or not invalid:
        bail("the toml-test list names no valid or no invalid cases")

    tap = Tap()
    tap.plan(len(valid) + len(invalid))
    passed = {"valid": 0, "invalid": 0}
    for kind, cases, check in (("valid", valid, check_valid),
                               ("invalid", invalid, check_invalid)):
        for case in cases:
            try:
                why = check(decoder, base, case)
            except OSError as e:
                why = f"cannot run case: {e}"
            if tap.ok(why is None, case, diag=why):
                passed[kind] += 1
    tap.diag(f"toml-test 1.0.0: {passed['valid']}/{len(valid)} valid, "
             f"{passed['invalid']}/{len(invalid)} invalid")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""check-registered.py - every test file under tests/ is registered, and
none skips with exit status 77 (the skip rule is in tests/meson.build).

A test file is one named test-*.{c,py,sh}, test_*.{c,py,sh} or
bench-*.{c,py,sh} (helpers such as e2elib.py or remote-script.c are named
otherwise).  It is registered when some tests/**/meson.build names it in a
quoted string, relative to that meson.build's directory (files('x.c'),
'x.py' in a table, ...).  The vendored data (toml-test corpus, fixtures)
is not searched.

Usage: check-registered.py [--tap] [TESTS_DIR]
Without --tap (meson setup): lists the unregistered files on stderr and
exits 1.  With --tap (the test 'tests-registered'): one TAP row per file.
"""

import os
import re
import sys

TEST_NAME = re.compile(r"^(test[-_]|bench-).*\.(c|py|sh)$")
QUOTED = re.compile(r"'((?:[^'\\\n]|\\.)*)'")
EXIT_77 = re.compile(r"\b(return|exit|_exit|sys\.exit)\s*\(?\s*77\b")
NOT_SEARCHED = {os.path.join("toml", "toml-test"), "fixtures"}


def scan(tests_dir):
    """(test files, registered files), both as paths relative to tests_dir."""
    found, registered = [], set()
    for dirpath, dirnames, filenames in os.walk(tests_dir):
        rel = os.path.relpath(dirpath, tests_dir)
        dirnames[:] = sorted(d for d in dirnames
                             if os.path.normpath(os.path.join(rel, d)) not in NOT_SEARCHED
                             and not d.startswith(".") and d != "__pycache__")
        for name in sorted(filenames):
            if TEST_NAME.match(name):
                found.append(os.path.normpath(os.path.join(rel, name)))
            if name == "meson.build":
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    for s in QUOTED.findall(f.read()):
                        registered.add(os.path.normpath(os.path.join(rel, s)))
    return found, registered


def exits_77(tests_dir, found):
    """"file:line" of each test file line that exits or returns 77."""
    hits = []
    for f in found:
        with open(os.path.join(tests_dir, f), encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh, 1):
                if EXIT_77.search(line):
                    hits.append("%s:%d" % (f, i))
    return hits


def main():
    args = sys.argv[1:]
    tap = "--tap" in args
    args = [a for a in args if a != "--tap"]
    tests_dir = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    found, registered = scan(tests_dir)
    missing = [f for f in found if f not in registered]
    skips77 = exits_77(tests_dir, found)
    if tap:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from taplib import Tap
        t = Tap()
        t.ok(len(found) > 0, "test files found under %s (%d)" % (tests_dir, len(found)))
        for f in found:
            t.ok(f not in missing, "%s is registered in a tests/**/meson.build" % f)
        t.ok(not skips77, "no test skips with exit status 77 (meson's TAP protocol: an error)",
             diag="\n".join(skips77))
        return t.done()
    for f in missing:
        print("tests/%s is not registered in any tests/**/meson.build "
              "(add it to its directory's meson.build)" % f, file=sys.stderr)
    for hit in skips77:
        print("tests/%s: a skip exits 0 after \"1..0 # SKIP reason\" (77 is an error "
              "under meson's TAP protocol)" % hit, file=sys.stderr)
    return 1 if missing or skips77 or not found else 0


if __name__ == "__main__":
    sys.exit(main())

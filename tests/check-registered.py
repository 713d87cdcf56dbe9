#!/usr/bin/env python3
"""check-registered.py - every test file under tests/ is registered.

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


def main():
    args = sys.argv[1:]
    tap = "--tap" in args
    args = [a for a in args if a != "--tap"]
    tests_dir = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    found, registered = scan(tests_dir)
    missing = [f for f in found if f not in registered]
    if tap:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from taplib import Tap
        t = Tap()
        t.ok(len(found) > 0, "test files found under %s (%d)" % (tests_dir, len(found)))
        for f in found:
            t.ok(f not in missing, "%s is registered in a tests/**/meson.build" % f)
        return t.done()
    for f in missing:
        print("tests/%s is not registered in any tests/**/meson.build "
              "(add it to its directory's meson.build)" % f, file=sys.stderr)
    return 1 if missing or not found else 0


if __name__ == "__main__":
    sys.exit(main())

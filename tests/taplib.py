"""taplib.py - the TAP writer of the Python tests (tests/tap.h for C,
tests/tap.sh for shell; the rules are in tests/meson.build).

    sys.path.insert(0, <the tests/ directory>)
    from taplib import Tap
    tap = Tap()
    tap.ok(x == 1, "x is one", diag="shown on a failure")
    tap.is_(got, want, "count")
    tap.skip("nightly build", "no nightly toolchain")   # one skipped row
    return tap.done()                                   # the exit status

skip_all(reason) prints "1..0 # SKIP reason" and exits 0 (meson's TAP
protocol counts any other exit status, 77 included, as an error).

Time bounds: poll with a generous deadline for "eventually"; where an upper
bound on a duration is what is tested, scale its slack with scaled().
"""

import os
import sys


def time_scale():
    """BURST_TEST_TIME_SCALE: a number from 1 to 100 (anything else counts as 1)."""
    try:
        f = float(os.environ.get("BURST_TEST_TIME_SCALE", "1"))
    except ValueError:
        return 1.0
    return f if 1.0 <= f <= 100.0 else 1.0


def scaled(seconds):
    """seconds of slack, multiplied by BURST_TEST_TIME_SCALE."""
    return seconds * time_scale()


def _emit(line):
    print(line, flush=True)


def diag(msg):
    """Print msg as TAP comment lines."""
    for line in str(msg).splitlines() or [""]:
        _emit("# " + line)


def skip_all(reason):
    """Skip the whole test: a "1..0 # SKIP" plan and exit 0."""
    _emit("1..0 # SKIP %s" % reason)
    sys.exit(0)


def bail(reason):
    """Stop the whole test: "Bail out!" and exit 1."""
    _emit("Bail out! %s" % reason)
    sys.exit(1)


class Tap:
    """A TAP producer: plan/ok/is_/skip/diag/skip_all/bail/done."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.planned = None

    def plan(self, n):
        self.planned = n
        _emit("1..%d" % n)

    def ok(self, cond, desc, diag=None):
        """One row; diag (text) is printed as comments when cond is false."""
        self.n += 1
        if not cond:
            self.failed += 1
        # one TAP line, whatever the description holds
        desc = " ".join(str(desc).split("\n"))
        _emit("%sok %d - %s" % ("" if cond else "not ", self.n, desc))
        if not cond and diag:
            self.diag(diag)
        return bool(cond)

    def is_(self, got, want, desc):
        r = self.ok(got == want, desc)
        if not r:
            self.diag("got:  %r" % (got,))
            self.diag("want: %r" % (want,))
        return r

    def skip(self, desc, reason):
        """A row that did not run, with the reason."""
        self.n += 1
        _emit("ok %d - %s # SKIP %s" % (self.n, " ".join(str(desc).split("\n")), reason))

    def todo(self, cond, desc, reason):
        """A row whose failure is expected (meson: expected fail, not a failure)."""
        self.n += 1
        desc = " ".join(str(desc).split("\n"))
        _emit("%sok %d - %s # TODO %s" % ("" if cond else "not ", self.n, desc, reason))
        return bool(cond)

    def diag(self, msg):
        diag(msg)

    def skip_all(self, reason):
        skip_all(reason)

    def bail(self, reason):
        bail(reason)

    def done(self):
        """Print the plan (unless given first); the exit status: 1 if a row failed."""
        if self.planned is None:
            _emit("1..%d" % self.n)
        elif self.planned != self.n:
            self.diag("planned %d tests but ran %d" % (self.planned, self.n))
            self.failed += 1
        if self.n == 0:
            self.diag("no test ran")
            return 1
        return 1 if self.failed else 0

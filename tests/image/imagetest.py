"""Shared helpers of the image/ tests: TAP output and paths."""
import os
import sys

SOURCE_ROOT = os.environ.get(
    "BURST_SOURCE_ROOT",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
IMAGE_DIR = os.path.join(SOURCE_ROOT, "image")
SCRIPTS = ["provision.sh", "seal.sh", "db-memory.sh", "wait-db.sh",
           "mount.sh", "assemble.sh"]


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            if diag:
                for line in str(diag).splitlines():
                    print("# " + line)
        sys.stdout.flush()
        return cond

    def skip(self, name, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, reason))

    def done(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


def skip_all(reason):
    print("1..0 # SKIP %s" % reason)
    sys.exit(0)


def image_path(name):
    return os.path.join(IMAGE_DIR, name)

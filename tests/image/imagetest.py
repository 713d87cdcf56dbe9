"""Shared helpers of the image/ tests: TAP output (tests/taplib.py) and paths."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import taplib  # noqa: E402
from taplib import skip_all  # noqa: E402,F401

SOURCE_ROOT = os.environ.get(
    "BURST_SOURCE_ROOT",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
IMAGE_DIR = os.path.join(SOURCE_ROOT, "image")
SCRIPTS = ["provision.sh", "seal.sh", "db-memory.sh", "wait-db.sh",
           "mount.sh", "assemble.sh"]


class Tap(taplib.Tap):
    """taplib's writer whose done() exits with the status."""

    def done(self):
        sys.exit(super().done())


def image_path(name):
    return os.path.join(IMAGE_DIR, name)

"""Shared helpers of the image/ tests: TAP output (tests/taplib.py), paths,
and for the bakes against the simulator (test_bake*.py) their prerequisites
and config (tests/e2e/e2elib.py is importable after this module)."""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import taplib  # noqa: E402
from taplib import skip_all  # noqa: E402,F401
from e2elib import cargo_path  # noqa: E402
from simharness import real_machines_unavailable  # noqa: E402

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


def bake_prereqs():
    """Skip the whole test (exit 0) unless a bake against the simulator
    with real machines can run: root and its tools, ssh, rsync, the built
    binary, cargo (for the build from the new image)."""
    why = real_machines_unavailable()
    if why:
        skip_all(why)
    for prog in ("ssh", "rsync", "ssh-keygen"):
        if not shutil.which(prog):
            skip_all("%s is not installed" % prog)
    if not os.environ.get("CARGO_BURST") or not os.path.exists(os.environ["CARGO_BURST"]):
        skip_all("CARGO_BURST does not name the built binary")
    if not cargo_path():
        skip_all("cargo is not installed")


def write_bake_config(w, extra=""):
    """The world's global config for the bakes: cx22 bakes, cpx11 builds, in
    fsn1 then nbg1; extra (TOML lines) goes into [hetzner]."""
    with open(os.path.join(w.config_dir, "config.toml"), "w") as f:
        f.write('ssh_key_path = "%s"\n' % w.key)
        f.write("keep_alive_secs = 600\nvolume_keep_alive_secs = 3600\nvolume_gb = 10\n")
        f.write("[hetzner]\n")
        f.write('regions = ["fsn1", "nbg1"]\n')
        f.write('server_type = "cpx11"\n')
        f.write('image_server_type = "cx22"\n')
        f.write(extra)

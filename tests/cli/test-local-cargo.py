#!/usr/bin/env python3
"""test-local-cargo.py - when local cargo itself cannot run (rustup without a
default toolchain for this HOME), the run verbs say so with cargo's own
message instead of "not inside a cargo project", and `config` warns that the
project file is not read.  A stand-in `cargo` on PATH plays rustup's part.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap, skip_all  # noqa: E402

BIN = os.environ.get("CARGO_BURST")
CONFIG = 78
RUSTUP_MSG = ("error: rustup could not choose a version of cargo to run, because one "
              "wasn't specified explicitly, and no default is configured.")
NO_DEFAULT = """#!/bin/sh
echo "%s" >&2
echo "help: run 'rustup default stable' to download the latest stable release of Rust" >&2
exit 1
""" % RUSTUP_MSG
NOT_FOUND = """#!/bin/sh
echo "error: could not find \\`Cargo.toml\\` in \\`$PWD\\` or any parent directory" >&2
exit 101
"""


def main():
    tap = Tap()
    if not BIN or not os.access(BIN, os.X_OK):
        skip_all("CARGO_BURST is not set to the built binary")
    tmp = tempfile.mkdtemp(prefix="burst-localcargo-")
    try:
        run_all(tap, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


def stand_in(tmp, name, text):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    with open(os.path.join(d, "cargo"), "w") as f:
        f.write(text)
    os.chmod(os.path.join(d, "cargo"), 0o755)
    return d


def run(tmp, bindir, args, cwd):
    home = os.path.join(tmp, "home")
    env = {
        "PATH": bindir + ":/usr/bin:/bin",
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "HCLOUD_TOKEN": "x" * 64,
        "HCLOUD_ENDPOINT": "http://127.0.0.1:9/v1",
        "LANG": "C.UTF-8",
    }
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    p = subprocess.run([BIN, "burst"] + args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def run_all(tap, tmp):
    proj = os.path.join(tmp, "proj")
    os.makedirs(os.path.join(proj, "src"))
    os.makedirs(os.path.join(proj, ".config"))
    with open(os.path.join(proj, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "proj"\nversion = "0.1.0"\nedition = "2021"\n')
    with open(os.path.join(proj, "src", "main.rs"), "w") as f:
        f.write("fn main() {}\n")
    with open(os.path.join(proj, ".config", "cargo-burst.toml"), "w") as f:
        f.write("volume_gb = 33\n")
    no_default = stand_in(tmp, "nodefault", NO_DEFAULT)
    not_found = stand_in(tmp, "notfound", NOT_FOUND)

    for verb in ("build", "test"):
        rc, so, se = run(tmp, no_default, [verb], proj)
        info = "rc=%d\nstdout: %s\nstderr: %s" % (rc, so, se)
        tap.is_(rc, CONFIG, "%s without a working local cargo: exit %d" % (verb, CONFIG))
        tap.ok(RUSTUP_MSG in se, "%s: cargo's own message is shown" % verb, info)
        tap.ok("not inside a cargo project" not in se,
               "%s: not mistaken for a missing Cargo.toml" % verb, info)
        tap.ok("rustup default stable" in se, "%s: says what to do next" % verb, info)

    rc, so, se = run(tmp, no_default, ["config"], proj)
    info = "rc=%d\nstdout: %s\nstderr: %s" % (rc, so, se)
    tap.is_(rc, 0, "config still prints the configuration")
    tap.ok(RUSTUP_MSG in se and "cargo-burst.toml is not read" in se,
           "config warns that the project file is not read, and why", info)

    # a directory without a Cargo.toml is still "not inside a cargo project"
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    rc, so, se = run(tmp, not_found, ["build"], empty)
    info = "rc=%d\nstdout: %s\nstderr: %s" % (rc, so, se)
    tap.is_(rc, CONFIG, "outside a project: exit %d" % CONFIG)
    tap.ok("not inside a cargo project" in se, "outside a project: says so", info)
    rc, so, se = run(tmp, not_found, ["config"], empty)
    tap.ok(rc == 0 and "not read" not in se, "config outside a project: no warning",
           "rc=%d\nstderr: %s" % (rc, se))


if __name__ == "__main__":
    sys.exit(main())

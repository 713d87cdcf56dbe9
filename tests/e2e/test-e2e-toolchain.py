#!/usr/bin/env python3
"""End-to-end: the pinned toolchain.  rust-toolchain.toml / rust-toolchain
in the workspace root is honoured on the build server and the remote
`rustc -V` is in the run summary; +TOOLCHAIN on the command line wins over
the file; a pinned toolchain that is not on the server gets the
"Installing toolchain" line and rustup's own error (exit code passed
through).  Only toolchains installed here are used (no download): against a
plain sshd on this machine as a bring-your-own host.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import PlainSshd, Simulator, Tap, World, cargo_path, need_root_and_tools  # noqa: E402


def rustc_version(toolchain):
    rustc = os.path.join(os.path.dirname(cargo_path()), "rustc")
    p = subprocess.run([rustc, "+" + toolchain, "-V"], capture_output=True, text=True, timeout=60,
                       cwd="/")
    return p.stdout.strip() if p.returncode == 0 else None


def main():
    tap = Tap()
    need_root_and_tools(tap)
    stable = rustc_version("stable")
    if not stable:
        tap.skip_all("the stable toolchain is not installed through rustup")
    nightly = rustc_version("nightly")
    with Simulator(machines="none") as sim:
        with World(tap, sim) as w:
            with PlainSshd(w) as sshd:
                sshd.trust()
                run_all(tap, sim, w, sshd, stable, nightly)
    return tap.done()


def pin(ws, text, name="rust-toolchain.toml"):
    for n in ("rust-toolchain.toml", "rust-toolchain"):
        if os.path.exists(os.path.join(ws, n)):
            os.unlink(os.path.join(ws, n))
    with open(os.path.join(ws, name), "w") as f:
        f.write(text)


def finished_line(err):
    return "\n".join(l for l in err.splitlines() if "Finished" in l)


def run_all(tap, sim, w, sshd, stable, nightly):
    ws = w.fixture("binonly")
    host = ["--host", sshd.spec]

    # no file: the default toolchain is still reported
    r = w.burst(["check"] + host, cwd=ws)
    tap.ok(r.code == 0 and "rustc " in finished_line(r.err),
           "the summary reports the remote rustc without a toolchain file")
    tap.ok("cargo-burst-rustc" not in r.err + r.out, "the marker line is not shown")

    pin(ws, '[toolchain]\nchannel = "stable"\n')
    r = w.burst(["build"] + host, cwd=ws)
    if not tap.is_(r.code, 0, "a build with rust-toolchain.toml = stable succeeds"):
        tap.diag(repr(r))
    tap.ok(stable in finished_line(r.err), "the summary shows '%s'" % stable)
    tap.ok("Installing" not in r.err, "an installed toolchain is not installed again")

    if nightly and nightly != stable:
        pin(ws, "nightly\n", name="rust-toolchain")
        r = w.burst(["build"] + host, cwd=ws)
        tap.ok(r.code == 0 and nightly in finished_line(r.err),
               "a plain rust-toolchain file naming nightly gives '%s'" % nightly)
        r = w.burst(["+stable", "build"] + host, cwd=ws)
        tap.ok(r.code == 0 and stable in finished_line(r.err),
               "+stable on the command line wins over the file")
    else:
        tap.ok(True, "# SKIP nightly is not installed")
        tap.ok(True, "# SKIP nightly is not installed")

    pin(ws, '[toolchain]\nchannel = "no-such-toolchain"\n')
    r = w.burst(["build"] + host, cwd=ws)
    tap.is_(r.code, 1, "an unknown pinned toolchain: rustup's exit code is passed through")
    tap.ok("Installing toolchain no-such-toolchain on the server" in r.err,
           "the install is announced")
    tap.ok("no-such-toolchain" in r.err and "error" in r.err,
           "rustup's error reaches the terminal")
    if r.code != 1:
        tap.diag(repr(r))
    tap.is_(sim.requests(), [], "no API call")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`cargo burst image` argument handling (no simulator, no root needed).

Usage errors exit 64 before anything is contacted; --help needs no token;
a bake without a token is a configuration error (78).  The endpoint is a
closed loopback port: nothing here may reach an API.
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap, skip_all  # noqa: E402

TAP = Tap()
ok = TAP.ok


def main():
    exe = os.environ.get("CARGO_BURST")
    if not exe or not os.path.exists(exe):
        skip_all("CARGO_BURST does not name the built binary")
    exe = os.path.abspath(exe)
    home = tempfile.mkdtemp(prefix="burst-image-cli-")
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
               "XDG_CONFIG_HOME": os.path.join(home, ".config"),
               "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
               "HCLOUD_ENDPOINT": "http://127.0.0.1:9/v1", "LANG": "C.UTF-8"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]

        def run(args, token=True):
            e = dict(env)
            if token:
                e["HCLOUD_TOKEN"] = "test-token"
            return subprocess.run([exe, "burst", "image"] + args, cwd=home, env=e,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=30)

        cases = [
            ([], "no image subcommand"),
            (["frob"], "no such image subcommand"),
            (["build", "--timeout", "0"], "invalid value '0' for '--timeout'"),
            (["build", "--timeout=abc"], "invalid value 'abc' for '--timeout'"),
            (["build", "--snapshot-timeout", "-5"], "for '--snapshot-timeout'"),
            (["build", "--server-type"], "'--server-type' needs a value"),
            (["build", "--bogus"], "unexpected argument '--bogus'"),
            (["build", "extra"], "unexpected argument 'extra'"),
            (["sweep", "--timeout", "5"], "takes no options"),
            (["__watch-bake"], "needs a bake server name"),
            (["__watch-bake", "1234"], "unexpected argument '1234'"),
        ]
        for args, want in cases:
            r = run(args)
            if not ok(r.returncode == 64 and want in r.stderr,
                      "image %s: usage error 64 (%s)" % (" ".join(args), want)):
                print("# exit %d, stderr: %s" % (r.returncode, r.stderr.strip()))

        r = run(["--help"], token=False)
        ok(r.returncode == 0 and "cargo burst image build" in r.stdout and
           "--keep-on-failure" in r.stdout, "image --help works without a token")
        r = run(["build"], token=False)
        if not ok(r.returncode == 78 and "token" in r.stderr.lower(),
                  "a bake without a token is a configuration error (78)"):
            print("# exit %d, stderr: %s" % (r.returncode, r.stderr.strip()))
        ok(not os.path.exists(os.path.join(home, ".local", "state", "cargo-burst", "state.db")),
           "nothing was written before the token check")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())

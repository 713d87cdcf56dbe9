#!/usr/bin/env python3
"""End-to-end: `cargo burst X ARGS` behaves like `cargo X ARGS` (issue 14,
"Arguments"): everything after the verb reaches the remote cargo verbatim,
`--` included.  Each remote run is compared with the same command run
locally, side by side, on a copy of the same fixture crate: exit code and
stdout (timings normalised).

  cargo burst test -- --nocapture     the test binary gets --nocapture
  cargo burst run -- --help           the program gets --help
  cargo burst clippy -- -D warnings   clippy gets -D warnings
  cargo burst --keep-alive 900 test --release -- --nocapture
                                      tool options before the verb
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Tap, World, cargo_path, need_root_and_tools, new_sim, seed  # noqa: E402

# an integration test that prints: its line shows only with --nocapture
NOISY_TEST = """#[test]
fn noisy() {
    println!("NOISY-TEST-OUTPUT");
}
"""


def main():
    tap = Tap()
    need_root_and_tools(tap)
    with new_sim() as sim:
        seed(sim)
        with World(tap, sim) as w:
            run_all(tap, w)
    return tap.done()


def normalise(out):
    """cargo's stdout without what differs between two runs."""
    return re.sub(r"finished in \d+(\.\d+)?s", "finished in Ns", out)


def local(w, ws, args):
    """`cargo ARGS` run here, in the local copy of the fixture."""
    p = subprocess.run([cargo_path()] + args, cwd=ws, env=w.env(),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=240)
    return p.returncode, p.stdout, p.stderr


def same(tap, w, remote_ws, local_ws, burst_args, cargo_args, what, must=None):
    r = w.burst(burst_args, cwd=remote_ws)
    code, out, err = local(w, local_ws, cargo_args)
    name = "`cargo burst %s` = `cargo %s`" % (" ".join(burst_args), " ".join(cargo_args))
    if not tap.is_(r.code, code, name + ": exit code"):
        tap.diag(repr(r))
        tap.diag("local stderr:\n" + err)
    if not tap.is_(normalise(r.out), normalise(out), name + ": stdout"):
        tap.diag("remote stderr:\n" + r.err)
    if must:
        tap.ok(must in r.out, "%s: %s" % (name, what))
    return r


def run_all(tap, w):
    remote_ws = w.fixture("hello")
    local_ws = w.fixture("hello", "hello-local")
    for ws in (remote_ws, local_ws):
        with open(os.path.join(ws, "tests", "noisy.rs"), "w") as f:
            f.write(NOISY_TEST)

    # the cold run provisions; it also checks the --nocapture rule
    same(tap, w, remote_ws, local_ws, ["test", "--", "--nocapture"],
         ["test", "--", "--nocapture"], "the test binary got --nocapture",
         must="NOISY-TEST-OUTPUT")
    same(tap, w, remote_ws, local_ws, ["run", "--", "--help"],
         ["run", "--", "--help"], "the program got --help",
         must="hello from cargo-burst")
    r = same(tap, w, remote_ws, local_ws, ["run", "--", "exit", "3"],
             ["run", "--", "exit", "3"], "the program got its arguments",
             must="exiting with 3")
    same(tap, w, remote_ws, local_ws, ["clippy", "--", "-D", "warnings"],
         ["clippy", "--", "-D", "warnings"], "clippy got -D warnings")
    # tool options between burst and the verb, and a long one after it
    r = same(tap, w, remote_ws, local_ws,
             ["--keep-alive", "900", "test", "--release", "--no-reap", "--",
              "--nocapture", "noisy"],
             ["test", "--release", "--", "--nocapture", "noisy"],
             "options before the verb are the tool's", must="NOISY-TEST-OUTPUT")
    tap.ok("unexpected argument" not in r.err,
           "the tool's options did not reach cargo")


if __name__ == "__main__":
    sys.exit(main())

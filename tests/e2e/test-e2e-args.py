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
  cargo burst check --locked          with a Cargo.lock git ignores
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import cargo_path, world_main  # noqa: E402

# an integration test that prints: its line shows only with --nocapture
NOISY_TEST = """#[test]
fn noisy() {
    println!("NOISY-TEST-OUTPUT");
}
"""


def main():
    return world_main(lambda tap, sim, w: run_all(tap, w))


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

    # -v shows the exact remote cargo command line
    r = w.burst(["-v", "run", "--", "exit", "0"], cwd=remote_ws)
    tap.ok(r.code == 0 and "Running `cargo run -v -- exit 0` on '" in r.err,
           "-v shows `cargo run -v -- exit 0`")
    if r.code != 0:
        tap.diag(repr(r))
    r = w.burst(["test", "-v", "--lib"], cwd=remote_ws)
    tap.ok(r.code == 0 and "`cargo nextest run -v --lib` (without nextest: "
           "`cargo test -v --lib`)" in r.err, "-v after the verb shows test's lines")

    # --no-doctests is honoured by the cargo test fallback (no nextest here)
    for args in (["test", "--no-doctests"], ["test", "--cargo-test", "--no-doctests"]):
        r = w.burst(args, cwd=remote_ws)
        both = r.out + r.err
        tap.ok(r.code == 0 and "Doc-tests" not in both and "NOISY-TEST-OUTPUT" not in both
               and "test result: ok" in both, "`cargo burst %s`: tests, no doctests"
               % " ".join(args))
    r = w.burst(["test"], cwd=remote_ws)
    tap.ok(r.code == 0 and "Doc-tests hello" in r.out + r.err,
           "... and without it the doctests run")

    # --junit and --shards need nextest: a clear error, never 70
    for args in (["test", "--junit", "report.xml"], ["test", "--shards", "1"]):
        r = w.burst(args, cwd=remote_ws)
        tap.ok(r.code == 76 and "needs cargo-nextest" in r.err and
               "without saying why" not in r.err,
               "`cargo burst %s` without nextest: a clear error (76)" % " ".join(args))
        if r.code != 76:
            tap.diag(repr(r))
    r = w.burst(["test", "--cargo-test", "--junit", "report.xml"], cwd=remote_ws)
    tap.ok(r.code == 64 and "needs nextest" in r.err, "--junit with --cargo-test: usage error")

    # a Cargo.lock that git ignores (libraries used to) is still the one
    # cargo reads: after a version bump only the local lock file is up to
    # date, and --locked fails with any other (the server's own, kept from
    # the runs above, is not)
    for ws in (remote_ws, local_ws):
        with open(os.path.join(ws, ".gitignore"), "a") as f:
            f.write("/Cargo.lock\n")
        toml = os.path.join(ws, "Cargo.toml")
        with open(toml) as f:
            text = f.read()
        with open(toml, "w") as f:
            f.write(text.replace('version = "0.1.0"', 'version = "0.1.1"', 1))
        code, _, err = local(w, ws, ["generate-lockfile", "--offline"])
        if not tap.is_(code, 0, "a local lock file for version 0.1.1"):
            tap.diag(err)
    same(tap, w, remote_ws, local_ws, ["check", "--locked"], ["check", "--locked"],
         "the ignored lock file")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end: cold then warm runs of every run verb on one shared server.

cold build (API used) -> warm build (zero API calls, nothing recompiled),
artifacts fetched and runnable, .gitignore and target/ not synced, run with
streaming output and exit codes 0/1/101, --env and forward_env, the
missing-env-var hint, test with the doctest rules (nextest fallback and a
fake nextest), bench fetching target/criterion.
"""

import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import world_main  # noqa: E402


def main():
    return world_main(run_all)


def run_all(tap, sim, w):
    hello = w.fixture("hello")
    # things the sync must leave out
    with open(os.path.join(hello, "ignored.txt"), "w") as f:
        f.write("not for the server\n")
    os.makedirs(os.path.join(hello, "scratch"))
    with open(os.path.join(hello, "scratch", "x"), "w") as f:
        f.write("x\n")
    os.makedirs(os.path.join(hello, "target", "junk"))

    # --- cold build
    r = w.burst_ok(["build"], hello, "cold build succeeds")
    calls = w.api_calls()
    tap.ok(("POST", "/v1/servers") in calls and ("POST", "/v1/volumes") in calls,
           "cold build created a server and a volume through the API")
    tap.ok("Provisioned" in r.err and "cold" in r.err, "cold run says so")
    servers = w.servers()
    tap.is_(len(servers), 1, "one server exists")
    tap.is_(servers[0]["labels"].get("managed-by") if servers else None, "cargo-burst",
            "the server carries our labels")
    vols = w.volumes()
    tap.ok(len(vols) == 1 and vols[0]["labels"].get("role") == "volume" and
           vols[0]["labels"].get("project") and vols[0]["server"] == servers[0]["id"],
           "the project's volume is labelled and attached")

    exe = os.path.join(hello, "target", "debug", "hello")
    tap.ok(os.path.exists(exe) and os.stat(exe).st_mode & stat.S_IXUSR,
           "the binary was fetched and is executable")
    out = subprocess.run([exe], capture_output=True, text=True, timeout=30).stdout \
        if os.path.exists(exe) else ""
    tap.ok("hello from cargo-burst" in out, "the fetched binary runs here")
    tap.ok(os.path.exists(os.path.join(hello, "target", "debug", "libhello.rlib")),
           "the library was fetched")
    tap.ok(not os.path.exists(os.path.join(hello, "target", "debug", "deps", "hello.d")) and
           not os.path.exists(os.path.join(hello, "target", "debug", "hello.d")),
           "only top-level artifacts, no dep-info")

    src = w.source_tree(os.path.basename(hello))[2]
    tap.ok(src is not None, "the source was synced to /mnt/cache/<hash>/src")
    if src:
        tap.ok(os.path.exists(os.path.join(src, "src", "lib.rs")), "sources are there")
        tap.ok(not os.path.exists(os.path.join(src, "ignored.txt")), ".gitignore'd file not synced")
        tap.ok(not os.path.exists(os.path.join(src, "scratch")), ".gitignore'd dir not synced")
        tap.ok(not os.path.exists(os.path.join(src, "target")), "target/ not synced")
    else:
        for _ in range(4):
            tap.ok(False, "source dir missing")

    # --- warm build: no API call at all, nothing recompiled
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello)
    tap.is_(r.code, 0, "warm build succeeds")
    calls = w.api_calls()
    if not tap.is_(len(calls), 0, "warm build makes zero API calls"):
        tap.diag(calls)
    tap.ok("Compiling" not in r.err, "warm build recompiles nothing")
    tap.ok("warm" in r.err, "warm run says so")
    fin = [l for l in r.err.splitlines() if "Finished" in l and "stays up until" in l]
    tap.ok(len(fin) == 1 and re.search(r"stays up until \d\d:\d\d UTC", fin[0]),
           "the summary is one line, its times in local time (TZ unset: UTC): %r" % fin)
    # a narrow terminal in Berlin: local times, wrapped at phrases, cargo's indent
    r = w.burst(["build"], cwd=hello, env={"TZ": "CET-1", "COLUMNS": "60"})
    lines = r.err.splitlines()
    at = [i for i, l in enumerate(lines) if l.startswith("    Finished ")]
    tail = lines[at[-1]:] if at else []  # the last: cargo has its own
    cont = []
    for l in tail[1:]:
        if not l.startswith(" " * 13) or l[13] == " ":
            break
        cont.append(l)
    text = " ".join([tail[0][13:]] + [l[13:] for l in cont]) if tail else ""
    tap.ok(r.code == 0 and cont and all(len(l) <= 60 for l in [tail[0]] + cont),
           "COLUMNS=60: the summary wraps, every line fits, continuations indented by 13")
    tap.ok(re.search(r"stays up until \d\d:\d\d CET, volume until \d\d:\d\d CET", text),
           "TZ=CET-1: the summary's times are local (%r)" % text)
    # with the API down, a warm run does not notice
    sim.configure({"faults": [{"path": ".*", "times": 0, "status": 503}]})
    r = w.burst(["build"], cwd=hello)
    sim.configure({"faults": []})
    tap.is_(r.code, 0, "a warm build works while the API answers 503 to everything")

    # --- profiles and --no-fetch
    rel = os.path.join(hello, "target", "release", "hello")
    r = w.burst(["build", "--no-fetch", "--release"], cwd=hello)
    tap.ok(r.code == 0 and not os.path.exists(rel), "--no-fetch fetches nothing")
    r = w.burst(["build", "--release"], cwd=hello)
    tap.ok(r.code == 0 and os.path.exists(rel) and "Compiling" not in r.err,
           "--release fetches target/release (built by the run before)")

    # --- clippy with an inner -- (cargo's arguments verbatim)
    r = w.burst(["clippy", "--all-targets", "--", "-D", "warnings"], cwd=hello)
    tap.ok(r.code == 0 and "Checking hello" in r.err, "clippy --all-targets -- -D warnings")

    # --- +toolchain selects the server's rustup toolchain
    if os.path.isdir(os.path.join(os.environ.get("RUSTUP_HOME", "/root/.rustup"), "toolchains")) and \
            any(t.startswith("nightly") for t in os.listdir(
                os.path.join(os.environ.get("RUSTUP_HOME", "/root/.rustup"), "toolchains"))):
        r = w.burst(["+nightly", "run", "-q", "--", "env", "RUSTUP_TOOLCHAIN"], cwd=hello)
        tap.ok(r.code == 0 and "RUSTUP_TOOLCHAIN=nightly" in r.out, "+nightly runs the nightly cargo")
    else:
        tap.ok(True, "# SKIP no nightly toolchain installed")

    # --- run: exit codes pass through, stdout/stderr separate
    r = w.burst(["run", "--", "exit", "0"], cwd=hello)
    tap.is_(r.code, 0, "run exit 0")
    tap.ok("exiting with 0" in r.out and "this goes to stderr" in r.err and
           "this goes to stderr" not in r.out, "stdout to stdout, stderr to stderr")
    r = w.burst(["run", "--", "exit", "1"], cwd=hello)
    tap.is_(r.code, 1, "run exit 1 passes through")
    r = w.burst(["run", "--", "panic"], cwd=hello)
    tap.is_(r.code, 101, "a panic's 101 passes through unchanged")

    # --- streaming: the first line arrives long before the end
    p = w.start(["run", "-q", "--", "lines", "6"], cwd=hello)
    t0 = time.time()
    first = p.stdout.readline()
    t_first = time.time() - t0
    rest, _ = p.communicate(timeout=120)
    t_end = time.time() - t0
    tap.ok(first.startswith("line 0") and t_end - t_first >= 1.0,
           "output streams live (first line %.1fs before the end)" % (t_end - t_first))
    tap.ok("line 5" in rest and "\r" not in rest, "all lines, no \\r artifacts")

    # --- --env and forward_env
    r = w.burst(["run", "--env", "BURST_A=inline value", "--", "env", "BURST_A"], cwd=hello)
    tap.ok(r.code == 0 and "BURST_A=inline value" in r.out, "--env NAME=VALUE")
    r = w.burst(["run", "--env", "BURST_B", "--", "env", "BURST_B"], cwd=hello,
                env={"BURST_B": "from here"})
    tap.ok(r.code == 0 and "BURST_B=from here" in r.out, "--env NAME takes the local value")
    os.makedirs(os.path.join(hello, ".config"), exist_ok=True)
    with open(os.path.join(hello, ".config", "cargo-burst.toml"), "w") as f:
        f.write('forward_env = ["BURST_C"]\n')
    r = w.burst(["run", "--", "env", "BURST_C"], cwd=hello, env={"BURST_C": "forwarded"})
    tap.ok(r.code == 0 and "BURST_C=forwarded" in r.out, "forward_env in the project config")
    r = w.burst(["run", "--", "env", "DATABASE_URL"], cwd=hello)
    tap.is_(r.code, 3, "a missing variable fails the program")
    tap.ok("--env DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres" in r.err,
           "the hint names the exact fix with the image's postgres")

    needenv = w.fixture("needenv")
    r = w.burst(["build"], cwd=needenv)
    tap.ok(r.code == 101 and "--env BURST_FIXTURE_KEY" in r.err and
           'forward_env = ["BURST_FIXTURE_KEY"]' in r.err,
           "env! failure: hint with --env and forward_env")
    r = w.burst(["build", "--env", "BURST_FIXTURE_KEY=xyz"], cwd=needenv)
    tap.is_(r.code, 0, "builds with --env")
    exe = os.path.join(needenv, "target", "debug", "needenv")
    out = subprocess.run([exe], capture_output=True, text=True, timeout=30).stdout \
        if os.path.exists(exe) else ""
    tap.ok("key is xyz" in out, "the value reached the remote compiler")

    # --- test: no nextest on the server -> one note, plain cargo test
    r = w.burst(["test"], cwd=hello)
    tap.is_(r.code, 0, "test succeeds")
    tap.ok(r.err.count("nextest is not installed") == 1, "says once that nextest is missing")
    tap.ok("Doc-tests hello" in r.out + r.err, "plain cargo test runs the doctests")

    # a fake nextest in the server's ~/.local/bin
    w.fake_nextest(w.servers()[0]["id"])
    r = w.burst(["test"], cwd=hello)
    both = r.out + r.err
    tap.ok(r.code == 0 and "FAKE-NEXTEST" in both and "Doc-tests hello" in both,
           "nextest, then doctests")
    r = w.burst(["test", "--test", "it"], cwd=hello)
    both = r.out + r.err
    tap.ok(r.code == 0 and "FAKE-NEXTEST run --test it" in both and "Doc-tests" not in both,
           "--test selects: no doctests")
    r = w.burst(["test", "--no-doctests"], cwd=hello)
    both = r.out + r.err
    tap.ok(r.code == 0 and "FAKE-NEXTEST" in both and "Doc-tests" not in both, "--no-doctests")
    r = w.burst(["test", "--cargo-test"], cwd=hello)
    both = r.out + r.err
    tap.ok(r.code == 0 and "FAKE-NEXTEST" not in both and "Doc-tests hello" in both,
           "--cargo-test runs plain cargo test")
    binonly = w.fixture("binonly")
    r = w.burst(["test"], cwd=binonly)
    both = r.out + r.err
    tap.ok(r.code == 0 and "FAKE-NEXTEST" in both and "Doc-tests" not in both,
           "no library: no doctests")

    # --- bench: criterion-like reports come back
    benchy = w.fixture("benchy")
    r = w.burst(["bench"], cwd=benchy)
    tap.is_(r.code, 0, "bench succeeds")
    est = os.path.join(benchy, "target", "criterion", "sum_1000", "new", "estimates.json")
    tap.ok(os.path.exists(est) and
           os.path.exists(os.path.join(benchy, "target", "criterion", "report", "index.html")),
           "target/criterion fetched recursively")
    r = w.burst(["bench", "--no-fetch"], cwd=benchy)
    tap.is_(r.code, 0, "bench --no-fetch")

    tap.is_(len(w.servers()), 1, "all projects shared one server")
    tap.is_(len(w.volumes()), 5 - 1, "one volume per project (hello, needenv, binonly, benchy)")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end: `cargo burst test --shards 3` (issue 8, item 3).

A generated crate with 12 quick tests (8 unit tests, 4 in a second
integration test binary) runs on three servers: the main one (cold, with the
volume) builds the nextest archive, two extra servers (role=shard) run their
partitions.  nextest itself cannot be installed here, so the test double in
tests/fixtures/nextest-standin/ is put on every simulated server's PATH
(~/.local/bin) as soon as the server's home directory appears.

Checked: three server creates; every test ran exactly once across the
shards (from the "[K/3]" prefixed output); the combined summary; exit 0;
the merged JUnit file parses and holds every test once; the extra servers
are deleted after the run; a failing test gives exit 100 and its name in the
summary; Ctrl-C mid-run exits 130 and leaves no extra server behind.
"""

import collections
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (SOURCE_ROOT, StandinInstaller, Tap, World, need_root_and_tools,  # noqa: E402
                    new_sim, seed)

STANDIN = os.path.join(SOURCE_ROOT, "tests", "fixtures", "nextest-standin", "cargo-nextest")
UNIT = ["tests::unit_%d" % i for i in range(8)]
EXTRA = ["extra_%d" % i for i in range(4)]
EXPECTED = {("sharded", n) for n in UNIT} | {("sharded::extra", n) for n in EXTRA}
PASS_RE = re.compile(r"^\[(\d+)/(\d+)\] +(PASS|FAIL) \[ *[0-9.]+s\] (\S+) (\S+)$")
SHARD_PREFIX = "cargo-burst-shard-"



def write_crate(path):
    os.makedirs(os.path.join(path, "src"))
    os.makedirs(os.path.join(path, "tests"))
    with open(os.path.join(path, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "sharded"\nversion = "0.1.0"\nedition = "2021"\n'
                'publish = false\n\n[dependencies]\n')
    check = ("fn check(name: &str) {\n"
             "    if let Ok(s) = std::env::var(\"SHARD_SLEEP\") {\n"
             "        std::thread::sleep(std::time::Duration::from_secs(s.parse().unwrap_or(0)));\n"
             "    }\n"
             "    if std::env::var(\"SHARD_FAIL\").map(|v| v == name).unwrap_or(false) {\n"
             "        panic!(\"asked to fail: {}\", name);\n"
             "    }\n"
             "}\n")
    lib = ["pub fn add(a: u32, b: u32) -> u32 { a + b }", "", "#[cfg(test)]", check,
           "#[cfg(test)]", "mod tests {", "    use super::*;"]
    for i in range(8):
        lib.append("    #[test]\n    fn unit_%d() { check(\"unit_%d\"); assert_eq!(add(%d, 1), %d); }"
                   % (i, i, i, i + 1))
    lib.append("}")
    with open(os.path.join(path, "src", "lib.rs"), "w") as f:
        f.write("\n".join(lib) + "\n")
    it = [check]
    for i in range(4):
        it.append("#[test]\nfn extra_%d() { check(\"extra_%d\"); assert_eq!(sharded::add(%d, 2), %d); }"
                  % (i, i, i, i + 2))
    with open(os.path.join(path, "tests", "extra.rs"), "w") as f:
        f.write("\n".join(it) + "\n")


def results_of(text):
    """(shard, status, binary id, test) of every prefixed PASS/FAIL line."""
    out = []
    for line in text.splitlines():
        m = PASS_RE.match(line.strip())
        if m:
            out.append((int(m.group(1)), m.group(3), m.group(4), m.group(5)))
    return out


def server_creates(sim):
    return sum(1 for r in sim.requests()
               if r["method"] == "POST" and r["path"].endswith("/servers") and r.get("status") == 201)


def shard_servers(w):
    return [s["name"] for s in w.servers() if s["name"].startswith(SHARD_PREFIX)]


def wait_no_shards(w, secs):
    deadline = time.time() + secs
    while time.time() < deadline:
        if not shard_servers(w):
            return True
        time.sleep(0.5)
    return not shard_servers(w)


def shard_rows(w):
    """(name, status) of the extra servers' rows in the state."""
    try:
        con = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=10)
        rows = con.execute("SELECT name, status FROM servers WHERE name LIKE ?",
                           (SHARD_PREFIX + "%",)).fetchall()
        con.close()
        return rows
    except sqlite3.Error:
        return None


def wait_rows_deleted(w, secs):
    deadline = time.time() + secs
    while time.time() < deadline:
        rows = shard_rows(w)
        if rows and all(st == "deleted" for _, st in rows):
            return True
        time.sleep(0.2)
    return False


def start_sleeping_shards(w, ws):
    """Start a run on three shards whose tests sleep, its output read into
    lines by threads; wait (up to 300 s, while it runs) until all three
    shards started their tests.  (the process, the lines, the threads,
    whether all three started)."""
    p = w.start(["test", "--shards", "3", "--env", "SHARD_SLEEP=60"], cwd=ws)
    lines = []

    def reader(stream):
        for line in stream:
            lines.append(line)

    threads = [threading.Thread(target=reader, args=(s,), daemon=True) for s in (p.stdout, p.stderr)]
    for t in threads:
        t.start()
    deadline = time.time() + 300
    started = False
    while time.time() < deadline and p.poll() is None:
        if sum(1 for line in list(lines) if re.match(r"^\[\d/3\] +Starting", line)) >= 3:
            started = True
            break
        time.sleep(0.2)
    return p, lines, threads, started


def kill9_mid_run(tap, w, ws):
    """Start a sharded run whose tests sleep and SIGKILL the tool mid-run."""
    p, _, threads, _ = start_sleeping_shards(w, ws)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    for t in threads:
        t.join(timeout=5)
    tap.is_(len(shard_servers(w)), 2, "after kill -9 the two extra servers are still up")


def main():
    tap = Tap()
    need_root_and_tools(tap)
    with new_sim() as sim:
        seed(sim)
        with World(tap, sim) as w, StandinInstaller(sim, STANDIN, "cargo-nextest"):
            run_all(tap, sim, w)
    return tap.done()


def run_all(tap, sim, w):
    ws = os.path.join(w.work, "sharded")
    write_crate(ws)
    junit = os.path.join(w.dir, "junit.xml")

    # --- a passing run on three servers (cold main server)
    sim.reset_requests()
    r = w.burst(["test", "--shards", "3", "--junit", junit], cwd=ws, timeout=480)
    if not tap.is_(r.code, 0, "--shards 3 passes"):
        tap.diag(repr(r))
    if not tap.is_(server_creates(sim), 3, "three servers were created (main + 2 shards)"):
        for q in sim.requests():
            if q["method"] == "POST" and q["path"].endswith("/servers"):
                tap.diag("POST %s -> %s %s %s" % ((q.get("body") or {}).get("name"), q.get("status"),
                                                 q.get("code"), (q.get("body") or {}).get("location")))
    arches = sorted(((q.get("body") or {}).get("labels") or {}).get("arch", "-")
                    for q in sim.requests() if q["method"] == "POST" and q["path"].endswith("/servers")
                    and q.get("status") == 201)
    tap.is_(arches, ["x86", "x86", "x86"], "every server, extras included, is labelled with its arch")
    res = results_of(r.out + r.err)
    seen = collections.Counter((b, t) for _, _, b, t in res)
    tap.is_(set(seen), EXPECTED, "every test ran")
    tap.ok(all(c == 1 for c in seen.values()) and len(res) == 12,
           "each test ran exactly once across the shards (%d results)" % len(res))
    tap.is_(sorted({k for k, _, _, _ in res}), [1, 2, 3], "all three shards ran tests")
    tap.ok(re.search(r"Summary +12 tests run on 3 servers: 12 passed, 0 failed, 0 skipped", r.err),
           "one combined summary with the right numbers")
    try:
        root = ET.parse(junit).getroot()
        cases = collections.Counter((c.get("classname"), c.get("name")) for c in root.iter("testcase"))
        tap.ok(root.tag == "testsuites" and set(cases) == EXPECTED and
               all(v == 1 for v in cases.values()),
               "the merged JUnit file parses and holds every test once (%d cases)" % sum(cases.values()))
    except (OSError, ET.ParseError) as e:
        tap.ok(False, "the merged JUnit file parses: %s" % e)
    tap.ok(wait_no_shards(w, 60), "no extra server remains after the run (%s)" % shard_servers(w))
    tap.is_(len(w.servers()), 1, "the main server stays for the next run")
    rows = shard_rows(w)
    tap.ok(wait_rows_deleted(w, 60) and len(shard_rows(w)) == 2,
           "the two extra servers were recorded in the state and are marked deleted (%s)" % rows)
    time.sleep(0.5)  # their reapers exit after recording

    # --- --junit alone: the archive path on the main server only, warm
    sim.reset_requests()
    junit1 = os.path.join(w.dir, "junit-one.xml")
    r = w.burst(["test", "--junit", junit1], cwd=ws, timeout=480)
    if not tap.is_(r.code, 0, "--junit without --shards passes"):
        tap.diag(repr(r))
    if not tap.is_(len(w.api_calls()), 0, "a warm --junit run makes no API call"):
        tap.diag("calls: %s" % w.api_calls())
    res = results_of(r.out + r.err)
    tap.ok(len(res) == 12 and {k for k, _, _, _ in res} == {1}, "all 12 tests ran on one server")
    try:
        root = ET.parse(junit1).getroot()
        tap.is_(len(list(root.iter("testcase"))), 12, "its JUnit report holds the 12 tests")
    except (OSError, ET.ParseError) as e:
        tap.ok(False, "its JUnit report parses: %s" % e)

    # --- the options --shards sets itself are refused, before any server is made
    sim.reset_requests()
    r = w.burst(["test", "--shards", "2", "--partition", "hash:1/2"], cwd=ws, timeout=240)
    tap.ok(r.code == 64 and "'--partition' is set by --shards" in r.err,
           "a user --partition is refused with a usage error (exit %s)" % r.code)
    tap.is_(server_creates(sim), 0, "no server was created for it")

    # --- location fallback: the main server's location is sold out for the extras
    sim.configure({"sold_out": [{"location": "fsn1"}]})
    sim.reset_requests()
    r = w.burst(["test", "--shards", "3"], cwd=ws, timeout=480)
    creates = [((q.get("body") or {}).get("location"), q.get("status")) for q in sim.requests()
               if q["method"] == "POST" and q["path"].endswith("/servers")]
    if not tap.is_(r.code, 0, "sold out where the main server is: the run passes"):
        tap.diag(repr(r))
    tap.is_(sorted(creates), [("fsn1", 412), ("fsn1", 412), ("nbg1", 201), ("nbg1", 201)],
            "each extra server fell back from fsn1 to nbg1")
    tap.is_(len(results_of(r.out + r.err)), 12, "all 12 tests ran")
    tap.ok(wait_no_shards(w, 60), "the fallback extras are deleted after the run")

    # --- no extra server can be had at all: the run goes on with the main one
    sim.configure({"sold_out": [{}]})
    r = w.burst(["test", "--shards", "3"], cwd=ws, timeout=480)
    res = results_of(r.out + r.err)
    tap.ok(r.code == 0 and "running on 1 server instead of 3" in r.err and len(res) == 12 and
           {k for k, _, _, _ in res} == {1}, "everything sold out: all 12 tests on the main server")
    sim.configure({"sold_out": []})

    # --- the reply to the extra server's create lost and the request resent (the
    # create took effect; the resend gets 409 for the name): adopted, never two
    sim.configure({"faults": [{"method": "POST", "path": "/servers", "apply": True,
                               "status": 409, "code": "uniqueness_error", "times": 1}]})
    sim.reset_requests()
    r = w.burst(["test", "--shards", "2"], cwd=ws, timeout=480)
    sim.configure({"faults": []})
    done = [q for q in sim.requests() if q["method"] == "POST" and q["path"].endswith("/servers")
            and (q.get("status") == 201 or q.get("fault"))]
    res = results_of(r.out + r.err)
    if not tap.is_(r.code, 0, "an extra server's create reply lost: the run passes"):
        tap.diag(repr(r))
    tap.is_(len(done), 1, "one extra server was created (%d)" % len(done))
    tap.ok(len(res) == 12 and {k for k, _, _, _ in res} == {1, 2},
           "all 12 tests ran, on both servers")
    tap.ok(wait_no_shards(w, 60), "the adopted extra server is deleted after the run")

    # --- a failing test in one shard (warm main server)
    sim.reset_requests()
    junit2 = os.path.join(w.dir, "junit-fail.xml")
    r = w.burst(["test", "--shards", "3", "--junit", junit2, "--env", "SHARD_FAIL=extra_2"],
                cwd=ws, timeout=480)
    if not tap.is_(r.code, 100, "a failing test gives nextest's status 100"):
        tap.diag(repr(r))
    tap.is_(server_creates(sim), 2, "a warm run creates only the two extra servers")
    tap.ok(re.search(r"Summary +12 tests run on 3 servers: 11 passed, 1 failed, 0 skipped", r.err),
           "the combined summary counts the failure")
    tap.ok(re.search(r"FAIL +sharded::extra extra_2 \[shard \d/3\]", r.err),
           "the summary names the failing test")
    try:
        root = ET.parse(junit2).getroot()
        failed = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")
                  if c.find("failure") is not None]
        tap.is_(failed, [("sharded::extra", "extra_2")],
                "the JUnit report of a failed run marks exactly the failing test")
        tap.is_(root.get("failures"), "1", "the merged root counts one failure")
    except (OSError, ET.ParseError) as e:
        tap.ok(False, "the JUnit report of a failed run parses: %s" % e)
        tap.ok(False, "the merged root counts one failure")
    tap.ok(wait_no_shards(w, 60), "no extra server remains after a failed run")

    # --- Ctrl-C while the shards run
    p, lines, threads, started = start_sleeping_shards(w, ws)
    tap.ok(started, "all three shards started their tests")
    time.sleep(1)
    os.kill(p.pid, signal.SIGINT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    for t in threads:
        t.join(timeout=5)
    if not tap.is_(p.returncode, 130, "Ctrl-C exits 130"):
        tap.diag("".join(lines[-40:]))
    tap.ok(not any(PASS_RE.match(line.strip()) for line in lines), "no test ran to its end")
    tap.ok(wait_no_shards(w, 90), "no extra server remains after Ctrl-C (%s)" % shard_servers(w))

    # --- kill -9 mid-run: the extra servers are in the state, never used as
    # the run server, and `down` deletes them
    kill9_mid_run(tap, w, ws)
    sim.reset_requests()
    r = w.burst(["check"], cwd=ws, timeout=240)
    tap.is_(r.code, 0, "the next run works")
    tap.ok(server_creates(sim) == 0 and "cargo-burst-shard-" not in r.err,
           "it uses the main server, never an extra one")
    r = w.burst(["down"], cwd=ws, timeout=240)
    if not tap.is_(r.code, 0, "down works"):
        tap.diag(repr(r))
    tap.is_(w.servers(), [], "down deleted the main and the extra servers")

    # --- kill -9 and a lost database: `down` finds the extras by their labels
    kill9_mid_run(tap, w, ws)
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(os.path.join(w.state_dir, "state.db" + suffix))
        except OSError:
            pass
    r = w.burst(["down"], cwd=ws, timeout=240)
    if not tap.is_(r.code, 0, "down with a lost database works"):
        tap.diag(repr(r))
    tap.is_(w.servers(), [], "the extra servers were found by label (role=shard) and deleted")

    # the reapers that deleted the extra servers ran cleanly (sanitizer builds)
    bad = []
    logs = os.path.join(w.state_dir, "reapers")
    for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
        with open(os.path.join(logs, name), errors="replace") as f:
            text = f.read()
        if "Sanitizer" in text or "runtime error:" in text:
            bad.append(name)
    tap.is_(bad, [], "no sanitizer report in the reapers' logs")


if __name__ == "__main__":
    sys.exit(main())

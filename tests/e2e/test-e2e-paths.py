#!/usr/bin/env python3
"""End-to-end, differential: paths and the current directory.

The same command with local cargo and with `cargo burst` (on the simulator)
must agree, on a two-member workspace generated here (member `a`: a library
with a unit test and an integration test that prints; member `b`: a binary
with a test):

- `test --cargo-test` from `a/` runs the tests local `cargo test` runs
  there (the test names cargo reports; --cargo-test so that both sides are
  plain cargo test, nextest is not on the simulated servers anyway);
- `build --manifest-path ../b/Cargo.toml` from `a/`, and with an absolute
  path from the root, builds `b` and fetches it where local cargo puts it;
- `run --config ../FILE` from `a/` reads the workspace's file;
- `build --target-dir <dir in the workspace>` puts the artifacts there, and
  `+nightly build -Z unstable-options --artifact-dir DIR` fills DIR;
- `test` from `b/` (a binary) with nextest runs no doctests;
- `--target-dir /tmp/...` (outside the workspace) and CARGO_TARGET_DIR
  outside it are usage errors before any server is made;
- `check --message-format=json` (rust-analyzer's check.overrideCommand):
  every stdout line is JSON, the paths in manifest_path, src_path and the
  spans' file_name are local and exist, filenames and out_dir lie in the
  local target dir, and the messages match local `cargo check`'s.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import cargo_path, world_main  # noqa: E402

FILES = {
    "Cargo.toml": '[workspace]\nmembers = ["a", "b"]\nresolver = "2"\n',
    "a/Cargo.toml": '[package]\nname = "a"\nversion = "0.1.0"\nedition = "2021"\n',
    "a/src/lib.rs": (
        "pub fn answer() -> u32 { 42 }\n"
        "fn unused_in_a() {}\n"
        "#[cfg(test)]\nmod tests {\n"
        "    #[test]\n    fn a_unit() { assert_eq!(super::answer(), 42); }\n}\n"),
    "a/tests/talk.rs": (
        "#[test]\nfn a_prints() { println!(\"hello from a\"); assert_eq!(a::answer(), 42); }\n"),
    "b/Cargo.toml": '[package]\nname = "b"\nversion = "0.1.0"\nedition = "2021"\n',
    "b/src/main.rs": (
        "fn main() {\n"
        "    let unused_in_b = 1;\n"
        "    if std::env::args().nth(1).as_deref() == Some(\"json\") {\n"
        "        // JSON lines naming the cwd: one long (joined from pieces), one\n"
        "        // beyond the bound (passed as it is), one short, one without newline\n"
        "        let d = std::env::current_dir().unwrap();\n"
        "        let d = d.display();\n"
        "        println!(\"{{\\\"file_name\\\":\\\"{}/x.rs\\\",\\\"pad\\\":\\\"{}\\\"}}\", d, \"a\".repeat(200000));\n"
        "        println!(\"{{\\\"file_name\\\":\\\"{}/big.rs\\\",\\\"pad\\\":\\\"{}\\\"}}\", d, \"b\".repeat(5 << 20));\n"
        "        println!(\"{{\\\"file_name\\\":\\\"{}/y.rs\\\"}}\", d);\n"
        "        print!(\"{{\\\"file_name\\\":\\\"{}/z.rs\\\"}}\", d);\n"
        "        return;\n"
        "    }\n"
        "    println!(\"b runs\");\n"
        "}\n"
        "#[cfg(test)]\nmod tests {\n    #[test]\n    fn b_only() {}\n}\n"),
}


def make_workspace(w):
    ws = os.path.join(w.work, "ws")
    for rel, text in FILES.items():
        path = os.path.join(ws, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return ws


def local_cargo(w, args, cwd, target_dir):
    """Local cargo with the world's environment and its own target dir."""
    env = w.env({"CARGO_TARGET_DIR": target_dir})
    p = subprocess.run([cargo_path()] + args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_names(out):
    """The tests cargo test reports ("test NAME ... ok")."""
    names = set()
    for line in out.splitlines():
        if line.startswith("test ") and " ... " in line:
            names.add(line[5:line.index(" ... ")])
    return names


def main():
    return world_main(run_all)


def run_all(tap, sim, w):
    ws = make_workspace(w)
    a = os.path.join(ws, "a")
    local_target = os.path.join(w.dir, "local-target")

    # --- outside the workspace: clear errors, before any server is made
    elsewhere = os.path.join("/tmp", "burst-elsewhere-%d" % os.getpid())
    r = w.burst(["build", "--target-dir", elsewhere], cwd=ws)
    tap.ok(r.code in (64, 78), "--target-dir outside the workspace fails (64/78): %s" % r.code)
    tap.ok("--target-dir '%s' is outside the workspace" % elsewhere in r.err,
           "...naming the option and the path")
    if r.code not in (64, 78):
        tap.diag(repr(r))
    r2 = w.burst(["build"], cwd=ws, env={"CARGO_TARGET_DIR": elsewhere})
    tap.ok(r2.code in (64, 78) and "CARGO_TARGET_DIR" in r2.err,
           "CARGO_TARGET_DIR outside the workspace fails too")
    tap.ok(not w.servers() and ("POST", "/v1/servers") not in w.api_calls(),
           "...before any server was made")
    tap.ok(not os.path.exists(elsewhere), "...and nothing was written there")

    # --- test from member a: the same tests as local cargo test there
    rc, out, err = local_cargo(w, ["test"], a, local_target)
    want = test_names(out)
    tap.ok(rc == 0 and {"tests::a_unit", "a_prints"} <= want and "b_only" not in want,
           "local cargo test in a/ runs a's tests only: %s" % sorted(want))
    r = w.burst(["test", "--cargo-test"], cwd=a)
    got = test_names(r.out)
    tap.is_(r.code, 0, "cargo burst test from a/ succeeds")
    if not tap.is_(sorted(got), sorted(want), "cargo burst test from a/ runs the same tests"):
        tap.diag(repr(r))

    # --- test from member b (a binary) where nextest runs: no doctests for
    # a package without a library (`cargo test --doc` would fail there)
    b = os.path.join(ws, "b")
    servers = w.servers()
    if servers:
        nextest = w.fake_nextest(servers[0]["id"])
    rc, out, err = local_cargo(w, ["test"], b, local_target)
    want = test_names(out)
    r = w.burst(["test"], cwd=b)
    tap.ok(r.code == 0 and "FAKE-NEXTEST" in r.err, "test from b/ with nextest succeeds")
    tap.ok("no library targets" not in r.err and "Doc-tests" not in r.out + r.err,
           "...without doctests for a package that has no library")
    if not tap.is_(sorted(test_names(r.out)), sorted(want), "...running b's tests only"):
        tap.diag(repr(r))
    if servers:
        os.unlink(nextest)

    # --- build --manifest-path, relative from a/ and absolute from the root
    b_bin = os.path.join(ws, "target", "debug", "b")
    r = w.burst(["build", "--manifest-path", "../b/Cargo.toml"], cwd=a)
    tap.is_(r.code, 0, "build --manifest-path ../b/Cargo.toml from a/ succeeds")
    if r.code != 0:
        tap.diag(repr(r))
    ok = os.path.exists(b_bin) and subprocess.run(
        [b_bin], capture_output=True, text=True, timeout=30).stdout == "b runs\n"
    tap.ok(ok, "b is fetched into <ws>/target/debug and runs")
    if os.path.exists(b_bin):
        os.unlink(b_bin)
    r = w.burst(["build", "--manifest-path=%s" % os.path.join(ws, "b", "Cargo.toml")], cwd=ws)
    tap.ok(r.code == 0 and os.path.exists(b_bin),
           "build --manifest-path=<absolute path> from the root fetches b")
    if r.code != 0:
        tap.diag(repr(r))

    # --- --config FILE relative to a/: the file cargo reads is the workspace's
    with open(os.path.join(ws, "burst-cfg.toml"), "w") as f:
        f.write('[env]\nBURST_FROM_CONFIG = "yes"\n')
    rc, out, err = local_cargo(w, ["run", "-q", "-p", "b", "--config", "../burst-cfg.toml"], a,
                               local_target)
    r = w.burst(["run", "-q", "-p", "b", "--config", "../burst-cfg.toml"], cwd=a)
    tap.ok(rc == 0 and r.code == 0 and r.out == out,
           "run --config ../burst-cfg.toml from a/ works as locally")
    if r.code != 0:
        tap.diag(repr(r))

    # --- the JSON filter on long lines: `run --message-format=json` from b/
    b = os.path.join(ws, "b")
    r = w.burst(["run", "-q", "--message-format=json", "--", "json"], cwd=b, timeout=300)
    lines = r.out.split("\n")
    docs = []
    for line in lines:
        try:
            docs.append(json.loads(line))
        except ValueError:
            docs.append(None)
    prog = [d for d in docs if isinstance(d, dict) and "pad" in d or
            isinstance(d, dict) and d.get("file_name", "").endswith(("y.rs", "z.rs"))]
    names = [d["file_name"] for d in prog]
    tap.ok(r.code == 0 and None not in docs and len(prog) == 4,
           "run --message-format=json: every line arrives whole and is JSON (%d program lines)"
           % len(prog))
    tap.ok(len(names) == 4 and names[0] == os.path.join(b, "x.rs") and
           names[2] == os.path.join(b, "y.rs") and names[3] == os.path.join(b, "z.rs"),
           "a 200 kB line (longer than one read) and a last line without newline are mapped: %r"
           % [n[-40:] for n in names])
    tap.ok(len(prog) == 4 and len(prog[1]["pad"]) == 5 << 20 and
           not names[1].startswith(ws) and names[1].endswith("/b/big.rs"),
           "a line beyond the 4 MiB bound passes through whole, unmapped")
    tap.ok(r.out.endswith('z.rs"}'), "the last line keeps its missing newline")
    if r.code != 0:
        tap.diag(repr(r)[:2000])

    # --- build --target-dir inside the workspace: artifacts where local cargo puts them
    tdir = os.path.join(ws, "mytarget")
    rc, out, err = local_cargo(w, ["build", "--target-dir", tdir], ws, local_target)
    local_files = sorted(f for f in os.listdir(os.path.join(tdir, "debug"))
                         if os.path.isfile(os.path.join(tdir, "debug", f)) and
                         not f.endswith(".d") and not f.startswith(".")) if rc == 0 else []
    subprocess.run(["rm", "-rf", tdir], check=False)
    r = w.burst(["build", "--target-dir", "mytarget"], cwd=ws)
    tap.is_(r.code, 0, "build --target-dir mytarget succeeds")
    ddir = os.path.join(tdir, "debug")
    got_files = sorted(f for f in os.listdir(ddir)) if os.path.isdir(ddir) else []
    tap.ok(local_files and got_files == local_files,
           "artifacts land in <ws>/mytarget/debug as with local cargo: %s vs %s" %
           (got_files, local_files))
    if r.code != 0:
        tap.diag(repr(r))

    # --- build --artifact-dir (unstable: nightly): copies where local cargo makes them
    rustup_home = os.environ.get("RUSTUP_HOME", "/root/.rustup")
    tc = os.path.join(rustup_home, "toolchains")
    if os.path.isdir(tc) and any(t.startswith("nightly") for t in os.listdir(tc)):
        zargs = ["build", "-Z", "unstable-options", "--artifact-dir"]
        rc, out, err = local_cargo(w, ["+nightly"] + zargs + ["local-out"], a, local_target)
        lout = os.path.join(a, "local-out")
        want = sorted(os.listdir(lout)) if rc == 0 and os.path.isdir(lout) else []
        subprocess.run(["rm", "-rf", lout], check=False)
        r = w.burst(["+nightly"] + zargs + ["art"], cwd=a)
        art = os.path.join(a, "art")
        got = sorted(os.listdir(art)) if os.path.isdir(art) else []
        tap.ok(r.code == 0 and want and got == want,
               "build --artifact-dir art from a/ fills a/art as local cargo does: %s vs %s" %
               (got, want))
        if r.code != 0:
            tap.diag(repr(r))
    else:
        tap.skip("build --artifact-dir", "no nightly toolchain installed")

    # --- check --message-format=json: what rust-analyzer needs
    # (the arguments doc/json.md gives for check.overrideCommand)
    ra = ["check", "--workspace", "--all-targets", "--message-format=json"]
    rc, lout, lerr = local_cargo(w, ra, ws, os.path.join(ws, "target"))
    r = w.burst(ra, cwd=ws)
    tap.is_(r.code, 0, "check --workspace --all-targets --message-format=json succeeds")
    msgs, bad = [], []
    for line in r.out.splitlines():
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            msgs.append(doc)
        except ValueError:
            bad.append(line)
    tap.ok(msgs and not bad, "every stdout line is a JSON object (%d lines, bad: %r)" %
           (len(msgs), bad[:3]))
    tap.ok("/root/burst/" not in r.out and "/mnt/cache/" not in r.out,
           "no remote source or target path is left in the messages")
    check_paths(tap, ws, msgs)
    local_msgs = [json.loads(x) for x in lout.splitlines() if x.startswith("{")]
    tap.is_(summary(msgs), summary(local_msgs),
            "the messages match local cargo check's (modulo the target dir's hashes)")

    # the same from member a: paths still local
    r = w.burst(["check", "--message-format=json-diagnostic-rendered-ansi"], cwd=a)
    msgs = [json.loads(x) for x in r.out.splitlines() if x.startswith("{")]
    tap.ok(r.code == 0 and msgs and all(m.get("manifest_path", a).startswith(ws) for m in msgs),
           "from a/, the manifest paths are local too")
    tap.ok(any(m.get("reason") == "compiler-artifact" and m["target"]["name"] == "a"
               for m in msgs) and
           not any(m.get("reason") == "compiler-artifact" and m["target"]["name"] == "b"
                   for m in msgs),
           "check from a/ checks a only, like local cargo")


def walk_spans(spans, out):
    for s in spans or []:
        out.append(s.get("file_name"))
        if s.get("expansion"):
            walk_spans([s["expansion"].get("span")], out)


def message_files(m):
    files = []
    msg = m.get("message") or {}
    walk_spans(msg.get("spans"), files)
    for c in msg.get("children") or []:
        walk_spans(c.get("spans"), files)
    return files


def check_paths(tap, ws, msgs):
    target = os.path.join(ws, "target")
    missing, outside = [], []
    for m in msgs:
        for p in [m.get("manifest_path"), (m.get("target") or {}).get("src_path")]:
            if p and not os.path.exists(p):
                missing.append(p)
        for f in message_files(m):
            p = f if os.path.isabs(f) else os.path.join(ws, f)
            if not os.path.exists(p):
                missing.append(f)
        for p in (m.get("filenames") or []) + [m.get("out_dir"), m.get("executable")]:
            if p and not p.startswith(target + "/"):
                outside.append(p)
    tap.ok(not missing, "manifest_path, src_path and spans' file_name exist locally: %r" %
           missing[:3])
    tap.ok(not outside, "filenames, out_dir, executable lie in the local target dir: %r" %
           outside[:3])
    tap.ok(any(m.get("reason") == "compiler-message" and message_files(m) for m in msgs),
           "the warnings come with their spans")


def summary(msgs):
    """What must agree with local cargo: per message, the reason, package,
    manifest, target source and the diagnostics with their files."""
    out = []
    for m in msgs:
        if m.get("reason") == "build-finished":
            out.append(("build-finished", m.get("success")))
            continue
        out.append((m.get("reason"), m.get("package_id"), m.get("manifest_path"),
                    (m.get("target") or {}).get("src_path"),
                    (m.get("message") or {}).get("message"), tuple(message_files(m))))
    return sorted(out, key=repr)


if __name__ == "__main__":
    sys.exit(main())

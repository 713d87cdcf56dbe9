#!/usr/bin/env python3
"""End-to-end: bring your own host.  The whole pipeline (build with artifact
fetch, run with exit codes, test) against a plain sshd through --host and
through `host = ...` in the global config (refused in the project file),
with zero API calls (the simulator's request log stays empty), no token, no
reapers; the project's directory on the host; an unknown host key is
refused with the way to add it.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import byoh_main  # noqa: E402


def main():
    return byoh_main(run_all, trust=False)  # run_all trusts the host key itself


def run_all(tap, sim, w, sshd):
    hello = w.fixture("hello")
    spec = sshd.spec

    # an unknown host key: refused, with the way to add it -- even when the
    # tool's own known_hosts holds a planted wildcard line with that very key
    os.makedirs(w.state_dir, mode=0o700, exist_ok=True)
    with open(os.path.join(w.state_dir, "known_hosts"), "a") as f:
        f.write("* %s\n" % sshd.host_pub)
    r = w.burst(["build", "--host", spec], cwd=hello, timeout=120)
    tap.is_(r.code, 76, "an unknown host key is an ssh error (76)")
    tap.ok("ssh-keyscan -p %d 127.0.0.1" % sshd.port in r.err and "known_hosts" in r.err,
           "the error tells how to add the host key")
    if r.code != 76:
        tap.diag(repr(r))

    sshd.trust()
    # build: the pipeline through the user's known_hosts and key, no token
    env = {"HCLOUD_TOKEN": ""}
    r = w.burst(["build", "--host", spec], cwd=hello, env=env, timeout=240)
    if not tap.is_(r.code, 0, "build --host succeeds without a token"):
        tap.diag(repr(r))
    tap.ok("Syncing" in r.err and spec in r.err, "it syncs to the given host")
    tap.ok("on " + spec in r.err, "the summary names the host")
    exe = os.path.join(hello, "target", "debug", "hello")
    tap.ok(os.access(exe, os.X_OK), "the artifact was fetched")
    if os.access(exe, os.X_OK):
        out = subprocess.run([exe, "exit", "0"], capture_output=True, text=True, timeout=30)
        tap.is_(out.stdout.strip(), "exiting with 0", "the fetched binary runs here")
    else:
        tap.ok(False, "the fetched binary runs here")
    proj = sshd.project_dir()
    tap.ok(proj and os.path.exists(os.path.join(proj, "src", "Cargo.toml")),
           "the source lives in ~/.cache/cargo-burst/<hash>/src on the host")
    tap.ok(proj and os.path.isdir(os.path.join(proj, "target", "debug")),
           "CARGO_TARGET_DIR is ~/.cache/cargo-burst/<hash>/target on the host")
    tap.ok(not os.path.exists(os.path.join(proj or "/nonexistent", "src", "target")),
           "the local target/ is not synced")

    # run: output streamed, exit code passed through
    r = w.burst(["run", "--host", spec, "--", "exit", "3"], cwd=hello, env=env)
    tap.is_(r.code, 3, "run --host passes the exit code through")
    tap.ok("exiting with 3" in r.out, "the program's output is streamed")

    # test
    r = w.burst(["test", "--host", spec, "--cargo-test"], cwd=hello, env=env)
    if not tap.is_(r.code, 0, "test --host passes"):
        tap.diag(repr(r))

    # check --message-format=json: the host's home-relative paths mapped back
    r = w.burst(["check", "--host", spec, "--message-format=json"], cwd=hello, env=env)
    msgs, bad = [], []
    for line in r.out.splitlines():
        try:
            msgs.append(json.loads(line))
        except ValueError:
            bad.append(line)
    tap.ok(r.code == 0 and msgs and not bad,
           "check --host --message-format=json: every stdout line is JSON")
    paths = [m["manifest_path"] for m in msgs if "manifest_path" in m]
    tap.ok(paths and all(p == os.path.join(hello, "Cargo.toml") for p in paths),
           "...with the local manifest path: %r" % paths[:2])
    tap.ok(".cache/cargo-burst" not in r.out, "...and no path on the host left")

    # host = ... in the project config: a cloned repository must not choose
    # the machine, so it is refused (global file or --host only)
    os.makedirs(os.path.join(hello, ".config"), exist_ok=True)
    pfile = os.path.join(hello, ".config", "cargo-burst.toml")
    with open(pfile, "w") as f:
        f.write('host = "%s"\n' % spec)
    r = w.burst(["run", "--", "exit", "0"], cwd=hello, env=env)
    if not tap.is_(r.code, 78, "host = ... in the project config is refused"):
        tap.diag(repr(r))
    tap.ok("%s:1:1: `host` is not allowed in the project config" % pfile in r.err,
           "... with file:line:col")
    tap.ok("on " + spec not in r.err, "... and nothing ran on that host")

    # a bad --host is a usage error
    r = w.burst(["build", "--host", "root@:22"], cwd=hello, env=env)
    tap.is_(r.code, 64, "a malformed --host is a usage error")

    # status shows the host of the global config and its last run
    os.unlink(os.path.join(hello, ".config", "cargo-burst.toml"))
    gpath = os.path.join(w.config_dir, "config.toml")
    with open(gpath) as f:
        text = f.read()
    with open(gpath, "w") as f:
        f.write('host = "%s"\n' % spec + text)
    r = w.burst(["run", "--", "exit", "4"], cwd=hello, env=env)
    tap.is_(r.code, 4, "host = ... in the global config is used")
    r = w.burst(["config"], cwd=hello, env=env)
    tap.ok('host = "%s" (global)' % spec in r.out, "`cargo burst config` shows the host")
    r = w.burst(["status"], cwd=w.work, env=env)
    tap.ok(r.code == 0 and ("host              %s" % spec) in r.out and
           "last run: run failed (exit code 4)" in r.out,
           "status shows the host and its last run")
    if r.code != 0 or spec not in r.out:
        tap.diag(repr(r))

    os.unlink(gpath)
    with open(gpath, "w") as f:
        f.write(text)
    ssh_config_alias(tap, w, sshd, hello, env)

    tap.is_(sim.requests(), [], "no API call at all")
    tap.is_(w.servers(), [], "no server was created")
    tap.is_(w.reapers(), {}, "no reaper or watcher is left running")


def ssh_config_alias(tap, w, sshd, hello, env):
    """--host ALIAS: the user's ~/.ssh/config gives the machine, port, user
    and key (ProxyJump would go through the same config); the sshd takes
    only the alias's key, and no ssh_key_path is configured."""
    akey = os.path.join(w.dir, "alias_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alias", "-f", akey],
                   check=True, timeout=30)
    with open(os.path.join(sshd.dir, "authorized_keys"), "w") as f:
        with open(akey + ".pub") as k:
            f.write(k.read())
    with open(os.path.join(w.home, ".ssh", "config"), "w") as f:
        f.write("Host myalias otheralias\n  HostName 127.0.0.1\n  Port %d\n  User root\n"
                "  IdentityFile %s\n  SendEnv BURST_PROBE HCLOUD_*\n" % (sshd.port, akey))
    gpath = os.path.join(w.config_dir, "config.toml")
    with open(gpath) as f:
        text = f.read()
    with open(gpath, "w") as f:
        f.write("".join(line + "\n" for line in text.splitlines()
                        if not line.startswith("ssh_key_path")))
    r = w.burst(["build", "--host", "myalias"], cwd=hello, env=env, timeout=240)
    if not tap.is_(r.code, 0, "build --host ALIAS of ~/.ssh/config succeeds"):
        tap.diag(repr(r))
    tap.ok("Syncing" in r.err and "myalias" in r.err,
           "... it syncs (rsync -e) through the same ssh to the alias")
    tap.ok("on myalias" in r.err, "... and the summary names the alias")
    r = w.burst(["run", "--host", "myalias", "--", "exit", "5"], cwd=hello, env=env)
    tap.is_(r.code, 5, "run --host ALIAS passes the exit code through")
    # the config's SendEnv applies (BURST_PROBE arrives), but never to the token
    secret = {"HCLOUD_TOKEN": "tok-secret-7f3a9", "BURST_PROBE": "probe-ok"}
    r = w.burst(["run", "-q", "--host", "myalias", "--", "env", "BURST_PROBE"], cwd=hello,
                env=secret)
    tap.ok(r.code == 0 and "BURST_PROBE=probe-ok" in r.out,
           "the config's SendEnv reaches the host (%d, %r)" % (r.code, r.out))
    r = w.burst(["run", "-q", "--host", "myalias", "--", "env", "HCLOUD_TOKEN"], cwd=hello,
                env=secret)
    tap.ok(r.code == 3 and "tok-secret-7f3a9" not in r.out + r.err,
           "... but the API token never reaches it (%d)" % r.code)
    # the alias's host key must be in ~/.ssh/known_hosts: strict checking
    # stays (another alias: no connection of the tool's to reuse)
    kh = os.path.join(w.home, ".ssh", "known_hosts")
    os.rename(kh, kh + ".saved")
    try:
        r = w.burst(["build", "--host", "otheralias"], cwd=hello, env=env, timeout=120)
        if not tap.is_(r.code, 76, "an alias whose host key is unknown is refused (76)"):
            tap.diag(repr(r))
        tap.ok("ssh otheralias" in r.err, "... with the way to add the key")
    finally:
        os.rename(kh + ".saved", kh)
    with open(gpath, "w") as f:
        f.write(text)
    os.unlink(os.path.join(w.home, ".ssh", "config"))


if __name__ == "__main__":
    sys.exit(main())

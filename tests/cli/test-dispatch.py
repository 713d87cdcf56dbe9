#!/usr/bin/env python3
"""test-dispatch.py - the dispatcher through the built binary ($CARGO_BURST):
help, version, unknown commands with suggestions, global flags, exit codes,
run-verb routing errors.  Runs in a throw-away HOME outside any cargo project.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

BIN = os.environ.get("CARGO_BURST")
USAGE, CONFIG = 64, 78
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap, skip_all  # noqa: E402

TAP = Tap()
ok = TAP.ok


def run(args, env_extra=None, cwd=None):
    env = dict(BASE_ENV)
    env.update(env_extra or {})
    p = subprocess.run([BIN] + args, cwd=cwd or WORK, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def expect(args, code, out=(), err=(), name=None, not_err=(), **kw):
    rc, so, se = run(args, **kw)
    name = name or " ".join(args) or "(no args)"
    info = "rc=%d\nstdout: %s\nstderr: %s" % (rc, so, se)
    ok(rc == code, "%s: exit %d" % (name, code), info)
    for s in out:
        ok(s in so, "%s: stdout has %r" % (name, s), info)
    for s in err:
        ok(s in se, "%s: stderr has %r" % (name, s), info)
    for s in not_err:
        ok(s not in se, "%s: stderr lacks %r" % (name, s), info)
    return rc, so, se


def long_names(text):
    """The --names of the option lines of a help text."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"^\s+(?:-\w, )?--([a-z][a-z0-9-]*)", line)
        if m:
            names.add(m.group(1))
    return names


def short_names(text):
    """The -x letters of the option lines of a help text."""
    return set(re.findall(r"^\s+-(\w)(?:,|\s|$)", text, re.M))


def cargo_names_untaken():
    """Issue 14: no long option the tool takes after a verb is one of the
    installed cargo's own options for that verb (`cargo <verb> --help`)."""
    cargo = shutil.which("cargo", path=os.environ.get("PATH", "") +
                         ":" + os.path.join(BASE_ENV["CARGO_HOME"], "bin"))
    for verb in ("build", "test", "check", "clippy", "bench", "run"):
        name = "%s: no option taken after the verb is cargo's" % verb
        if not cargo:
            print("ok %d - %s # SKIP cargo is not installed" % (count + 1, name))
            globals()["count"] += 1
            continue
        p = subprocess.run([cargo, verb, "--help"], env=BASE_ENV,
                           capture_output=True, text=True, timeout=60,
                           cwd=WORK, stdin=subprocess.DEVNULL)
        theirs = long_names(p.stdout)
        _, ours_help, _ = run(["help", verb])
        # all long options listed are taken after the verb, but the ones the
        # tool shares with cargo on purpose: -q/-v (passed on) and --help
        ours = long_names(ours_help) - {"quiet", "verbose", "help"}
        ok(p.returncode == 0 and len(theirs) >= 5 and len(ours) >= 5 and
           not (ours & theirs), name,
           "cargo rc=%d, cargo's: %s\nours: %s\nboth: %s" %
           (p.returncode, sorted(theirs), sorted(ours), sorted(ours & theirs)))
        # the short ones the router refuses after the verb (-y, -L): cargo
        # must have none of them, or the refusal would hide a cargo option
        theirs_s = short_names(p.stdout)
        ours_s = short_names(ours_help) - {"q", "v", "h"}
        ok("h" in theirs_s and "y" in ours_s and not (ours_s & theirs_s),
           "%s: cargo has none of the short options refused after it" % verb,
           "cargo's: %s\nours: %s" % (sorted(theirs_s), sorted(ours_s)))


def byo_up_without_token(proj):
    """`up` with a BYO host in the global config needs no token and makes no
    API request (an endpoint on a local listener counts the connections);
    without the host, the missing token is still the clear error."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    endpoint = "http://127.0.0.1:%d/v1" % lst.getsockname()[1]
    cfg_dir = os.path.join(BASE_ENV["XDG_CONFIG_HOME"], "cargo-burst")
    cfg = os.path.join(cfg_dir, "config.toml")
    os.makedirs(cfg_dir, exist_ok=True)
    try:
        with open(cfg, "w") as f:
            f.write('host = "nobody@127.0.0.1:1"\n')
        env = {"HCLOUD_ENDPOINT": endpoint}
        expect(["up", "--wait"], 76, err=["cannot connect to '127.0.0.1' port 1"],
               not_err=["API token"], cwd=proj, env_extra=env,
               name="up --wait with a BYO host in the config, without a token")
        os.unlink(cfg)
        expect(["up", "--wait"], CONFIG,
               err=["error: no Hetzner Cloud API token", "help: export HCLOUD_TOKEN=<token>",
                    cfg], cwd=proj, env_extra=env, name="up without a BYO host nor a token")
        lst.setblocking(False)
        made = 0
        while True:
            try:
                conn, _ = lst.accept()
            except (BlockingIOError, OSError):
                break
            conn.close()
            made += 1
        ok(made == 0, "up with a BYO host (and without a token) made no API request",
           "%d connection(s) to the API endpoint" % made)
    finally:
        lst.close()
        if os.path.exists(cfg):
            os.unlink(cfg)


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        skip_all("CARGO_BURST is not set to the built binary")
    version = None
    with open(os.path.join(os.environ["BURST_SOURCE_ROOT"], "meson.build")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("version:"):
                version = line.split("'")[1]
                break

    # version, three ways, with and without cargo's "burst" argument
    for args in (["--version"], ["-V"], ["burst", "--version"], ["version"],
                 ["burst", "version"]):
        expect(args, 0, out=["cargo-burst %s\n" % version])
    expect(["version", "extra"], USAGE, err=["version takes no arguments"])

    # up (issue 15 part 3): its options from its table, help without a project
    expect(["up", "--help"], 0, out=["cargo burst up [--wait]", "--keep-alive SECONDS",
                                     "cargo burst -q up"])
    expect(["up", "--bogus"], USAGE, err=["--bogus"])
    expect(["up", "--keep-alive"], USAGE, err=["--keep-alive"])

    # help
    for args in (["--help"], ["-h"], ["burst", "--help"], ["help"],
                 ["burst", "help"]):
        rc, so, _ = expect(args, 0, out=["Usage: cargo burst", "Commands:",
                                         "config", "Exit codes:"])
    ok("    help " in so and "    version " in so,
       "help lists the help and version commands", so)
    for args in (["help", "config"], ["config", "--help"], ["--help", "config"],
                 ["burst", "help", "config"]):
        expect(args, 0, out=["Usage: cargo burst config", "--json"])
    expect(["help", "version"], 0, out=["Usage: cargo burst version"])
    expect(["help", "cnofig"], USAGE, err=["no such command: `cnofig`",
                                           "`config`"])
    expect(["help", "a", "b"], USAGE, err=["help takes one command"])

    # no command, unknown commands
    expect([], USAGE, err=["error: no command given", "cargo burst --help"])
    expect(["burst"], USAGE, err=["no command given"])
    expect(["cofnig"], USAGE, err=["error: no such command: `cofnig`",
                                   "help: a command with a similar name "
                                   "exists: `config`"])
    expect(["burst", "verison"], USAGE, err=["`version`"])
    expect(["zzzzzzzz"], USAGE, err=["no such command: `zzzzzzzz`",
                                     "see 'cargo burst --help'"],
           not_err=["similar name"])
    expect(["biuld"], USAGE, err=["`build`"])
    expect(["tset"], USAGE, err=["`test`"])
    rc, so, se = expect(["--help"], 0, out=["    build ", "    test ",
                                            "    check ", "    clippy ",
                                            "    bench ", "    run "])

    # global flags
    expect(["--bogus", "config"], USAGE, err=["unknown option '--bogus'"])
    expect(["--color", "purple", "config"], USAGE,
           err=["invalid value 'purple' for '--color'"])
    expect(["--color"], USAGE, err=["'--color' needs a value"])
    expect(["+nightly", "config"], USAGE,
           err=["a toolchain only applies to the run verbs"])
    expect(["+", "build"], USAGE, err=["empty toolchain"])
    expect(["+bad/name", "build"], USAGE, err=["invalid toolchain name"])

    # colour: errors are red only when asked for
    ESC = "\x1b["
    expect(["--color", "always", "nosuch"], USAGE, err=[ESC],
           name="--color always colours the error")
    expect(["--color=never", "nosuch"], USAGE, not_err=[ESC],
           env_extra={"CARGO_TERM_COLOR": "always"},
           name="--color=never beats CARGO_TERM_COLOR")
    expect(["nosuch"], USAGE, err=[ESC], env_extra={"CARGO_TERM_COLOR": "always"},
           name="CARGO_TERM_COLOR=always colours")
    expect(["nosuch"], USAGE, not_err=[ESC], name="no colour on a pipe")
    expect(["-q", "nosuch"], USAGE, err=["error: no such command"],
           name="-q does not silence errors")

    # config works outside a project; reference table comes from the key table
    expect(["config"], 0, out=["keep_alive_secs = 300 (default)",
                               "# project config: none"])
    expect(["config", "--reference"], 0,
           out=["| `hetzner.regions` (alias `region`)", "| `volume_gb` |"])
    expect(["config", "--bogus"], USAGE,
           err=["unexpected argument '--bogus' for config"])
    expect(["config", "--keep-alive", "abc"], USAGE,
           err=["invalid value 'abc' for '--keep-alive'"])

    # run verbs: routing errors are usage errors before anything else
    # happens; outside a project, a config error
    expect(["build", "--keep-alive", "abc"], USAGE,
           err=["invalid value 'abc' for '--keep-alive'"])
    expect(["test", "--env", "1BAD"], USAGE,
           err=["invalid value '1BAD' for '--env'"])
    expect(["check", "--no-fetch"], USAGE,
           err=["'--no-fetch' is an option of cargo-burst build, bench, "
                "not of check"])
    expect(["build", "--help"], 0, out=["Usage: cargo burst [OPTIONS] "
                                        "[+TOOLCHAIN] build", "--no-fetch"])
    expect(["test", "-h"], 0, out=["--no-doctests", "--cargo-test"])
    # issue 14: after the verb everything is cargo's, --help aside (the
    # tool's help for the verb, pointing at cargo's own, no server for it)
    expect(["test", "--release", "--help"], 0,
           out=["Usage: cargo burst [OPTIONS] [+TOOLCHAIN] test",
                "`cargo test --help`"], name="test --release --help")
    rc, so, se = expect(["run", "--", "--help"], CONFIG,
                        err=["not inside a cargo project"],
                        name="run -- --help is the program's")
    ok("Usage:" not in so, "run -- --help prints no help of ours", so)
    expect(["--keep-alive", "600", "--no-reap", "check", "--bogus"], CONFIG,
           err=["not inside a cargo project"],
           name="run options before the verb are taken")
    expect(["--keep-alive", "abc", "check"], USAGE,
           err=["invalid value 'abc' for '--keep-alive'"])
    expect(["--keep-alive", "600", "status"], USAGE,
           err=["'--keep-alive' only applies to the run verbs"])
    expect(["--no-fetch", "test"], USAGE,
           err=["'--no-fetch' is an option of cargo-burst build, bench, "
                "not of test"])
    expect(["down", "--help"], 0, out=["--with-volumes"],
           name="down --help needs no token")
    expect(["status", "--json", "--json"], USAGE, err=["'--json' given twice"])
    expect(["audit", "--rate"], USAGE, err=["'--rate' needs a value"])
    expect(["audit", "--rate", "1", "--rate=2"], USAGE,
           err=["'--rate=2' given twice"])
    expect(["audit", "--rate", "1", "--rate", "2"], USAGE,
           err=["'--rate' given twice"])
    expect(["build"], CONFIG, err=["not inside a cargo project"])
    expect(["+nightly", "build", "+beta"], USAGE,
           err=["toolchain given twice"])
    proj = os.path.join(WORK, "proj")
    os.makedirs(os.path.join(proj, "src"))
    with open(os.path.join(proj, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "p"\nversion = "0.1.0"\n'
                'edition = "2021"\n')
    with open(os.path.join(proj, "src", "main.rs"), "w") as f:
        f.write("fn main() {}\n")
    expect(["build", "--release"], CONFIG,
           err=["error: no Hetzner Cloud API token",
                "help: export HCLOUD_TOKEN=<token>",
                os.path.join(BASE_ENV["XDG_CONFIG_HOME"], "cargo-burst",
                             "config.toml")],
           cwd=os.path.join(proj, "src"), name="build without a token")
    # a bring-your-own host needs no token (issue 8): the ssh error instead
    expect(["build", "--host", "root@127.0.0.1:1"], 76,
           err=["cannot connect to '127.0.0.1' port 1"], not_err=["API token"],
           cwd=proj, name="build --host without a token")
    expect(["ssh", "--host", "nobody@127.0.0.1:1", "--", "true"], 76,
           not_err=["API token"], cwd=proj, name="ssh --host without a token")
    byo_up_without_token(proj)
    expect(["-L", "abc", "run"], USAGE, err=["invalid value 'abc' for '--forward'"],
           cwd=proj)
    expect(["run", "--forward", "abc"], USAGE,
           err=["invalid value 'abc' for '--forward'"], cwd=proj)
    expect(["ssh", "--no-fetch"], USAGE,
           err=["'--no-fetch' is an option of cargo-burst build, bench"],
           cwd=proj)
    expect(["help", "ssh"], 0, out=["Usage: cargo burst [OPTIONS] ssh",
                                    "--no-sync"])
    cargo_names_untaken()
    os.makedirs(os.path.join(proj, ".config"))
    with open(os.path.join(proj, ".config", "cargo-burst.toml"), "w") as f:
        f.write("volume_gb = 1\n")
    expect(["test"], CONFIG, err=["cargo-burst.toml:1:1: `volume_gb` = 1 "
                                  "is out of range"],
           cwd=proj, env_extra={"HCLOUD_TOKEN": "tok-abcdef"},
           name="bad project config stops a run verb")

    return TAP.done()


if __name__ == "__main__":
    WORK = tempfile.mkdtemp(prefix="burst-cli-")
    home = os.path.join(WORK, "home")
    os.makedirs(home)
    BASE_ENV = {k: v for k, v in os.environ.items()
                if not k.startswith(("HCLOUD_", "CARGO_TERM_", "NO_COLOR",
                                     "XDG_", "BURST_LOG", "BURST_TRACE"))}
    real_home = os.environ.get("HOME", "/root")
    BASE_ENV.setdefault("RUSTUP_HOME", os.path.join(real_home, ".rustup"))
    BASE_ENV.setdefault("CARGO_HOME", os.path.join(real_home, ".cargo"))
    BASE_ENV.update({"HOME": home, "XDG_CONFIG_HOME": os.path.join(home, "cfg"),
                     "XDG_STATE_HOME": os.path.join(home, "state"),
                     "XDG_CACHE_HOME": os.path.join(home, "cache")})
    try:
        rc = main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(rc)

#!/usr/bin/env python3
"""End-to-end, differential: `cargo burst X` against local `cargo X` on the
same crate (against a plain sshd as a bring-your-own host, so no server
creation is timed).

  - RUSTFLAGS="-D warnings" on a crate with a warning: both exit 101 (the
    environment that changes cargo's behaviour is forwarded), both 0
    without it;
  - what git ignores is not synced: .gitignore, .git/info/exclude and the
    global core.excludesFile (through a temporary GIT_CONFIG_GLOBAL);
  - a build script reading `git rev-parse HEAD` gives the local value
    remotely (.git is synced);
  - the first sync of a large file draws a byte-based progress line when
    CARGO_TERM_PROGRESS_WHEN=always forces it.
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import PlainSshd, Simulator, Tap, World, cargo_path, need_root_and_tools  # noqa: E402

MAIN_RS = """fn main() {
    let unused = 1;
    println!("head={}", env!("GIT_HEAD"));
}
"""

BUILD_RS = """use std::process::Command;

fn main() {
    let out = Command::new("git").args(["rev-parse", "HEAD"]).output();
    let head = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!("git-failed:{}", String::from_utf8_lossy(&o.stderr).trim()),
        Err(e) => format!("no-git:{}", e),
    };
    println!("cargo:rustc-env=GIT_HEAD={}", head);
}
"""


def main():
    tap = Tap()
    need_root_and_tools(tap)
    if not shutil.which("git"):
        tap.skip_all("git is not installed (the sync asks git what it ignores)")
    with Simulator(machines="none") as sim:
        with World(tap, sim) as w:
            with PlainSshd(w) as sshd:
                sshd.trust()
                run_all(tap, w, sshd)
    return tap.done()


def git(ws, *args, env=None):
    return subprocess.run(["git", "-C", ws] + list(args), env=env, check=True, timeout=60,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout


def local_cargo(w, ws, args, extra):
    env = w.env(extra)
    env["CARGO_TARGET_DIR"] = os.path.join(w.dir, "local-target")
    p = subprocess.run([cargo_path()] + args, cwd=ws, env=env, timeout=240,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p


def remote_src(sshd):
    """The host's copy of the crate: <cache>/cargo-burst/<hash>/src."""
    base = os.path.join(sshd.cache, "cargo-burst")
    for h in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        src = os.path.join(base, h, "src")
        try:
            with open(os.path.join(src, "Cargo.toml")) as f:
                if 'name = "dropin"' in f.read():
                    return src
        except OSError:
            pass
    return "/nonexistent"


def run_all(tap, w, sshd):
    ws = os.path.join(w.work, "dropin")
    os.makedirs(os.path.join(ws, "src"))
    with open(os.path.join(ws, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "dropin"\nversion = "0.1.0"\nedition = "2021"\n'
                'publish = false\nbuild = "build.rs"\n\n[dependencies]\n')
    with open(os.path.join(ws, "src", "main.rs"), "w") as f:
        f.write(MAIN_RS)
    with open(os.path.join(ws, "build.rs"), "w") as f:
        f.write(BUILD_RS)
    with open(os.path.join(ws, ".gitignore"), "w") as f:
        f.write("/target\nignored.txt\n")
    globalignore = os.path.join(w.dir, "global-gitignore")
    with open(globalignore, "w") as f:
        f.write("secret.env\n")
    gitconfig = os.path.join(w.dir, "gitconfig")
    genv = dict(w.env(), GIT_CONFIG_GLOBAL=gitconfig, GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "config", "--global", "core.excludesFile", globalignore], env=genv,
                   check=True, timeout=30)
    git(ws, "init", "-q", env=genv)
    git(ws, "add", ".", env=genv)
    git(ws, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one", env=genv)
    head = git(ws, "rev-parse", "HEAD", env=genv).strip()
    with open(os.path.join(ws, ".git", "info", "exclude"), "a") as f:
        f.write("local-only.txt\n")
    for name in ("secret.env", "local-only.txt", "ignored.txt", "notes.txt"):
        with open(os.path.join(ws, name), "w") as f:
            f.write("%s\n" % name)
    with open(os.path.join(ws, "big.bin"), "wb") as f:
        f.write(os.urandom(24 << 20))
    benv = {"GIT_CONFIG_GLOBAL": gitconfig, "GIT_CONFIG_NOSYSTEM": "1"}

    # --- the first sync: a progress line, forced as cargo would be
    forced = dict(benv, CARGO_TERM_PROGRESS_WHEN="always", CARGO_TERM_PROGRESS_WIDTH="80",
                  CARGO_TERM_COLOR="always")
    r = w.burst(["check", "--host", sshd.spec], cwd=ws, env=forced)
    tap.is_(r.code, 0, "first check on the host succeeds")
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", r.err)
    bars = re.findall(r"Syncing \[[=> ]{25}\] +(\d+)% ([0-9.]+ (?:B|KiB|MiB|GiB))", plain)
    tap.ok(bars and any(int(p) == 100 for p, _ in bars) and
           any(b.endswith("MiB") and float(b.split()[0]) >= 24 for _, b in bars),
           "the first sync draws a byte-based progress line up to 100%% (%d drawn)" % len(bars))
    if r.code != 0 or not bars:
        tap.diag(repr(r))

    # --- what git ignores stays here
    src = remote_src(sshd)
    tap.ok(os.path.exists(os.path.join(src, "Cargo.toml")) and
           os.path.exists(os.path.join(src, "notes.txt")), "the tree is synced (untracked files too)")
    tap.ok(not os.path.exists(os.path.join(src, "secret.env")),
           "a file ignored by the global core.excludesFile is not synced")
    tap.ok(not os.path.exists(os.path.join(src, "local-only.txt")),
           "a file ignored by .git/info/exclude is not synced")
    tap.ok(not os.path.exists(os.path.join(src, "ignored.txt")),
           "a file ignored by .gitignore is not synced")
    tap.ok(os.path.exists(os.path.join(src, ".git", "HEAD")) and
           not os.path.exists(os.path.join(src, ".git", "hooks")),
           ".git is synced without its hooks")

    # --- RUSTFLAGS="-D warnings": the same exit status as local cargo
    deny = dict(benv, RUSTFLAGS="-D warnings")
    lc = local_cargo(w, ws, ["check"], deny)
    r = w.burst(["check", "--host", sshd.spec], cwd=ws, env=deny)
    tap.is_(lc.returncode, 101, "local: RUSTFLAGS=-Dwarnings cargo check fails (101)")
    tap.is_(r.code, lc.returncode, "cargo burst check with RUSTFLAGS=-Dwarnings: the same status")
    tap.ok("unused" in r.err and "error" in r.err, "the remote rustc reports the denied warning")
    if r.code != lc.returncode:
        tap.diag(repr(r))
    lc = local_cargo(w, ws, ["check"], benv)
    r = w.burst(["check", "--host", sshd.spec], cwd=ws, env=benv)
    tap.ok(lc.returncode == 0 and r.code == 0, "without RUSTFLAGS both succeed (local %d, burst %d)"
           % (lc.returncode, r.code))

    # --- a build script asking git: the local answer
    lc = local_cargo(w, ws, ["run", "-q"], benv)
    r = w.burst(["run", "--host", sshd.spec], cwd=ws, env=benv)
    tap.is_(lc.stdout.strip(), "head=" + head, "local: the build script sees HEAD")
    tap.is_(r.out.strip(), lc.stdout.strip(), "remote: the build script sees the same HEAD")
    if r.out.strip() != lc.stdout.strip():
        tap.diag(repr(r))


if __name__ == "__main__":
    sys.exit(main())

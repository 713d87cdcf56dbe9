#!/usr/bin/env python3
"""test-control-dir.py - the ssh control-socket directory under /tmp (used
when the state path is too long for a unix socket path) through the built
binary: a fresh one is created 0700 and ours; one another user planted
there (owned by uid 65534, mode 0777), one open to others, a symbolic link
or a file is refused with exit 76 and left alone.  The run is a BYO-host
build against a closed loopback port, so nothing but the directory is
touched; HOME and XDG_STATE_HOME point into a throw-away directory.
"""
import hashlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

BIN = os.environ.get("CARGO_BURST")
REMOTE = 76
count = failed = 0


def ok(cond, name, diag=None):
    global count, failed
    count += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (count, name))
    if not cond:
        failed += 1
        for line in str(diag or "").splitlines():
            print("#   " + line)
    sys.stdout.flush()
    return cond


def skip(name, why):
    global count
    count += 1
    print("ok %d - %s # SKIP %s" % (count, name, why))


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def build(env):
    p = subprocess.run([BIN, "build", "--host", "root@127.0.0.1:%d" % closed_port()],
                       cwd=PROJ, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def refused(env, cdir, why, name):
    rc, so, se = build(env)
    info = "rc=%d\nstderr:\n%s" % (rc, se)
    ok(rc == REMOTE, "%s: exit 76" % name, info)
    ok("error: ssh control directory '%s' is not safe to use: %s" % (cdir, why)
       in se, "%s: the error names the directory and why" % name, info)
    ok("help: " in se, "%s: with a hint" % name, info)


def main(env, state_dir):
    cdir = "/tmp/cargo-burst-%d-%s" % (
        os.getuid(), hashlib.sha256(state_dir.encode()).hexdigest()[:12])
    CREATED.append(cdir)
    remove(cdir)

    # fresh: created 0700 and ours (the connection itself then fails)
    rc, so, se = build(env)
    info = "rc=%d\nstderr:\n%s" % (rc, se)
    st = os.lstat(cdir) if os.path.lexists(cdir) else None
    ok(st is not None and stat.S_ISDIR(st.st_mode), "a fresh control dir is created",
       info)
    ok(st is not None and stat.S_IMODE(st.st_mode) == 0o700 and
       st.st_uid == os.geteuid(), "... 0700 and ours", st and oct(st.st_mode))
    ok("not safe" not in se, "... and not refused", info)
    ok(rc == REMOTE and "127.0.0.1" in se,
       "the run went on to the connection (refused: nothing listens)", info)

    # planted by another user: refused, left as it is, nothing put in it
    if os.geteuid() == 0:
        remove(cdir)
        os.mkdir(cdir)
        os.chmod(cdir, 0o777)
        os.chown(cdir, 65534, 65534)
        refused(env, cdir, "it is owned by uid 65534, not by uid 0", "planted 0777 dir")
        st = os.lstat(cdir)
        ok(st.st_uid == 65534 and stat.S_IMODE(st.st_mode) == 0o777 and
           os.listdir(cdir) == [], "the planted dir is left alone and unused",
           "%o %d %r" % (st.st_mode, st.st_uid, os.listdir(cdir)))
    else:
        for i in range(4):
            skip("planted 0777 dir %d" % i, "chown to uid 65534 needs root")

    # ours but open to others
    remove(cdir)
    os.mkdir(cdir)
    os.chmod(cdir, 0o755)
    refused(env, cdir, "it has group or other permissions (mode 755)", "0755 dir")

    # a symbolic link (to a fine directory of ours): lstat, not followed
    remove(cdir)
    target = os.path.join(WORK, "elsewhere")
    os.mkdir(target, 0o700)
    os.symlink(target, cdir)
    refused(env, cdir, "it is a symbolic link", "symlink")
    ok(os.listdir(target) == [], "nothing was put behind the link", os.listdir(target))

    # a file
    remove(cdir)
    with open(cdir, "w") as f:
        f.write("x")
    refused(env, cdir, "it is not a directory", "file")

    # removed: the next run creates it again, 0700
    remove(cdir)
    build(env)
    st = os.lstat(cdir) if os.path.lexists(cdir) else None
    ok(st is not None and stat.S_ISDIR(st.st_mode) and
       stat.S_IMODE(st.st_mode) == 0o700, "once removed, it is created again 0700",
       st and oct(st.st_mode))

    print("1..%d" % count)
    return 1 if failed else 0


if __name__ == "__main__":
    if not BIN or not os.access(BIN, os.X_OK):
        print("1..0 # SKIP CARGO_BURST is not set to the built binary")
        sys.exit(0)
    CREATED = []
    WORK = tempfile.mkdtemp(prefix="burst-control-dir-")
    rc = 1
    try:
        HOME = os.path.join(WORK, "home")
        # long enough that <state>/cm/<socket> would not fit in sun_path
        XDG_STATE = os.path.join(WORK, "state-" + "s" * 90)
        PROJ = os.path.join(WORK, "proj")
        os.makedirs(os.path.join(HOME, ".ssh"), 0o700)
        os.makedirs(os.path.join(PROJ, "src"))
        with open(os.path.join(PROJ, "Cargo.toml"), "w") as f:
            f.write('[package]\nname = "p"\nversion = "0.1.0"\nedition = "2021"\n')
        with open(os.path.join(PROJ, "src", "main.rs"), "w") as f:
            f.write("fn main() {}\n")
        real_home = os.environ.get("HOME", "/root")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HCLOUD_", "XDG_", "BURST_", "CARGO_TERM", "NO_COLOR"))}
        env.setdefault("RUSTUP_HOME", os.path.join(real_home, ".rustup"))
        env.setdefault("CARGO_HOME", os.path.join(real_home, ".cargo"))
        env["PATH"] = env.get("PATH", "/usr/bin:/bin") + ":" + \
            os.path.join(real_home, ".cargo", "bin")
        env.update({"HOME": HOME, "XDG_STATE_HOME": XDG_STATE,
                    "XDG_CONFIG_HOME": os.path.join(HOME, "xdg"), "HCLOUD_TOKEN": ""})
        if not shutil.which("cargo", path=env["PATH"]):
            print("1..0 # SKIP cargo is not installed")
            rc = 77
        else:
            rc = main(env, os.path.join(XDG_STATE, "cargo-burst"))
    finally:
        for d in CREATED:
            remove(d)
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(rc)

#!/usr/bin/env python3
"""End-to-end: a compromised build server.

After a normal cold build, the server's ~/.bashrc is replaced by a hostile
one (the remote shell sources it for every command the tool runs): its
`find` lies in the artifact listing and plants in target/debug a FIFO, a
/dev/zero device (an endless file), a setuid file and a symlink to a canary
file of this test; another mode lists a name with `../`; another makes the
remote checksum hang.  The tool must:

- leave only regular files without setuid bits in the local target/, never
  read or write the canary through the link;
- exit 76 (ssh/remote failure) within a bounded time, never hang, never
  abort (a bad name is an ordinary error), never write a core file; the
  tool and its reapers run with core dumps off;
- end promptly with 130 on SIGTERM while the fetch hangs;
- keep the server's reaper armed, which then deletes the server.
"""

import os
import resource
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Tap, World, need_root_and_tools, new_sim, seed, wait_for  # noqa: E402

DEADLINE = 120  # generous: a hung fetch used to never end

HOSTILE_BASHRC = r'''
# --- hostile server (test-e2e-hostile.py) ---
H=%(dir)s
find() {
  if [ -f "$H/mode" ] && [ "$1" = . ] && [ "$2" = -maxdepth ]; then
    case "$(cat "$H/mode")" in
    specials)
      rm -f hello-fifo hello-zero hello-suid hello-link
      mkfifo hello-fifo
      mknod hello-zero c 1 5
      printf 'suid\n' > hello-suid && chmod 4755 hello-suid
      ln -s "$H/canary" hello-link
      printf '%%s\n' hello hello-fifo hello-zero hello-suid hello-link
      return 0;;
    badname)
      printf '%%s\n' hello 'x/../../escape' '/etc/hostname'
      return 0;;
    suid)
      rm -f hello-suid
      printf 'suid\n' > hello-suid && chmod 6755 hello-suid
      printf '%%s\n' hello hello-suid
      return 0;;
    esac
  fi
  command find "$@"
}
sha256sum() {
  if [ -f "$H/mode" ] && [ "$(cat "$H/mode")" = hang ]; then
    : > "$H/checksum-started"
    i=0
    while [ $i -lt 900 ] && [ ! -e "$H/release" ]; do sleep 0.2; i=$((i+1)); done
  fi
  command sha256sum "$@"
}
'''


def core_unlimited():
    # the tool must turn core dumps off itself, whatever it inherits
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def core_limit(pid):
    """The 'Max core file size' soft limit of a process, as text."""
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max core file size"):
                    return line.split()[4]
    except OSError:
        pass
    return None


def run(w, args, cwd, timeout=DEADLINE):
    return w.burst(args, cwd, timeout=timeout, preexec_fn=core_unlimited)


def unsafe_entries(root):
    """Entries under root that are not plain directories or regular files
    without setuid/setgid bits."""
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                bad.append("%s (%o)" % (os.path.relpath(p, root), st.st_mode))
    return bad


def files_containing(root, needle):
    hits = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            try:
                if stat.S_ISREG(os.lstat(p).st_mode):
                    with open(p, "rb") as f:
                        if needle in f.read(1 << 20):
                            hits.append(p)
            except OSError:
                pass
    return hits


def cores(ws):
    return [n for n in os.listdir(ws) if n == "core" or n.startswith("core.")]


def main():
    tap = Tap()
    need_root_and_tools(tap)
    with new_sim() as sim:
        seed(sim)
        with World(tap, sim, config={"billing_hour_hold": False}) as w:
            hostile = os.path.join(w.dir, "hostile")
            try:
                run_all(tap, sim, w, hostile)
            finally:
                # let a hanging hostile checksum end by itself
                os.makedirs(hostile, exist_ok=True)
                open(os.path.join(hostile, "release"), "w").close()
    return tap.done()


def check_safe(tap, w, ws, what):
    target = os.path.join(ws, "target")
    bad = unsafe_entries(target) if os.path.isdir(target) else []
    tap.ok(not bad, "%s: target/ holds only regular files without setuid bits %s" % (what, bad))
    left = [d for d, _, _ in os.walk(target) if ".cargo-burst-fetch-" in d]
    tap.is_(left, [], "%s: no private fetch directory is left behind" % what)
    with open(os.path.join(w.dir, "hostile", "canary"), "rb") as f:
        tap.is_(f.read(), b"canary-secret\n", "%s: the canary is unchanged" % what)
    tap.is_(files_containing(target, b"canary-secret"), [],
            "%s: the canary was not read into target/" % what)
    tap.is_(cores(ws), [], "%s: no core file" % what)
    reapers = wait_for(lambda: "__reap-server" in w.reapers() and w.reapers(), 20)
    tap.ok(reapers and "__reap-server" in reapers, "%s: the server's reaper is armed (%s)"
           % (what, reapers))
    limits = sorted(set(core_limit(pid) for pids in (reapers or {}).values() for pid in pids))
    tap.is_(limits, ["0"], "%s: the reapers run with core dumps off" % what)


def run_all(tap, sim, w, hostile):
    ws = w.fixture("hello")
    r = run(w, ["build"], ws)  # starts the reapers: with core dumps allowed
    if not tap.is_(r.code, 0, "cold build on an honest server"):
        tap.diag(repr(r))
        return
    servers = w.servers()
    sid = servers[0]["id"]
    os.makedirs(hostile)
    with open(os.path.join(hostile, "canary"), "w") as f:
        f.write("canary-secret\n")
    bashrc = os.path.join(w.server_home(sid), ".bashrc")
    old = ""
    if os.path.exists(bashrc):
        with open(bashrc) as f:
            old = f.read()
    with open(bashrc, "w") as f:
        f.write(HOSTILE_BASHRC % {"dir": hostile} + old)
    mode = os.path.join(hostile, "mode")

    def set_mode(m):
        with open(mode, "w") as f:
            f.write(m + "\n")

    # --- specials: FIFO, endless device, setuid file, symlink to the canary
    set_mode("specials")
    r = run(w, ["build"], ws)
    if not tap.is_(r.code, 76, "a FIFO, a device, a link from the server: exit 76 (%.1fs)"
                   % r.elapsed):
        tap.diag(repr(r))
    tap.ok("not arrive as a regular file" in r.err or "not a regular file" in r.err,
           "the error says a file did not arrive as a regular file")
    check_safe(tap, w, ws, "specials")

    # --- a name with ../ and an absolute one: an ordinary error, not an abort
    set_mode("badname")
    r = run(w, ["build"], ws)
    if not tap.is_(r.code, 76, "a '../' name in the listing: exit 76, no abort (%.1fs)"
                   % r.elapsed):
        tap.diag(repr(r))
    tap.ok("not a plain file name" in r.err, "the error names the bad name")
    tap.ok(not os.path.exists(os.path.join(w.work, "escape")) and
           not os.path.exists(os.path.join(ws, "escape")), "nothing escaped target/")
    check_safe(tap, w, ws, "bad name")

    # --- a setuid file is fetched without its setuid/setgid bits
    set_mode("suid")
    r = run(w, ["build"], ws)
    if not tap.is_(r.code, 0, "a setuid file from the server: the build succeeds"):
        tap.diag(repr(r))
    p = os.path.join(ws, "target", "debug", "hello-suid")
    m = os.lstat(p).st_mode if os.path.lexists(p) else 0
    tap.ok(stat.S_ISREG(m) and not m & (stat.S_ISUID | stat.S_ISGID),
           "it arrives as a regular file without setuid/setgid (%o)" % m)

    # --- SIGTERM while the fetch hangs (the server never answers the checksum)
    set_mode("hang")
    started = os.path.join(hostile, "checksum-started")
    p = w.start(["build", "--keep-alive", "3"], ws, preexec_fn=core_unlimited)
    hung = wait_for(lambda: os.path.exists(started) or p.poll() is not None, DEADLINE)
    tap.ok(hung and p.poll() is None and os.path.exists(started),
           "the tool waits on the hanging checksum")
    tap.is_(core_limit(p.pid), "0", "the tool runs with core dumps off")
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        err += "[test: killed]"
    if not tap.is_(p.returncode, 130, "SIGTERM ends the hung fetch with 130 (%.1fs)"
                   % (time.time() - t0)):
        tap.diag(err)
    open(os.path.join(hostile, "release"), "w").close()
    check_safe(tap, w, ws, "SIGTERM")

    # --- and the reaper deletes the server after the (short) keep-alive
    gone = wait_for(lambda: not w.servers(), DEADLINE, 1)
    tap.ok(gone, "the server's reaper deleted the server")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end: the large-directory question.

A top-level dist/ of >= 50 MiB is asked about once on a terminal; the
answer (exclude) keeps it off the server and is remembered for the project,
so the next runs (with or without a terminal) do not ask again.  Without a
terminal and without an answer the run only prints a note.
"""

import os
import pty
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import world_main  # noqa: E402


def run_on_pty(w, args, cwd, answer, timeout=180):
    """Run with stdin and stderr on a pty; answer the first [y/N] question."""
    master, slave = pty.openpty()
    p = subprocess.Popen([os.environ["CARGO_BURST"], "burst"] + args, cwd=cwd, env=w.env(),
                         stdin=slave, stdout=subprocess.PIPE, stderr=slave, start_new_session=True)
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:
                data = b""
            if not data:
                if p.poll() is not None:
                    break
                continue
            seen += data
            if not answered and b"[y/N]" in seen:
                os.write(master, answer)
                answered = True
        elif p.poll() is not None:
            break
    try:
        p.wait(timeout=max(1, deadline - time.time()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    p.stdout.close()
    os.close(master)
    return p.returncode, seen.decode(errors="replace"), answered


def run_all(tap, sim, w):
    hello = w.fixture("hello")
    os.makedirs(os.path.join(hello, "dist"))
    with open(os.path.join(hello, "dist", "bundle.bin"), "wb") as f:
        f.truncate(52 << 20)  # sparse: only its size counts for the question
    os.makedirs(os.path.join(hello, "out"))
    with open(os.path.join(hello, "out", "small.txt"), "w") as f:
        f.write("small\n")

    code, text, asked = run_on_pty(w, ["check"], hello, b"y\n")
    if not tap.is_(code, 0, "check succeeds on a terminal"):
        tap.diag(text)
    tap.ok(asked and "dist/ holds 52 MiB" in text, "asked once about dist/")
    tap.ok("out/ holds" not in text and text.count("[y/N]") == 1, "small out/ not asked about")
    src = w.source_tree()[2]
    tap.ok(src and os.path.isdir(os.path.join(src, "src")), "workspace synced")
    tap.ok(src and not os.path.exists(os.path.join(src, "dist")), "dist/ left out after yes")
    tap.ok(src and os.path.exists(os.path.join(src, "out", "small.txt")), "out/ synced")

    code, text, asked = run_on_pty(w, ["check"], hello, b"n\n")
    tap.ok(code == 0 and not asked, "the answer is remembered: no second question")

    r = w.burst(["check"], cwd=hello)
    tap.ok(r.code == 0 and "dist/" not in r.err, "without a terminal: remembered, no note")
    tap.ok(src and not os.path.exists(os.path.join(src, "dist")), "dist/ still left out")

    other = w.fixture("hello", dest="other")
    os.makedirs(os.path.join(other, "build"))
    with open(os.path.join(other, "build", "big.bin"), "wb") as f:
        f.truncate(51 << 20)
    r = w.burst(["check", "--yes"], cwd=other)
    tap.ok(r.code == 0 and "build/ holds 51 MiB and is synced" in r.err,
           "--yes: no question, a note instead")


def main():
    return world_main(run_all)


if __name__ == "__main__":
    sys.exit(main())

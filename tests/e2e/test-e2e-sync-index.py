#!/usr/bin/env python3
"""End-to-end: the warm sync with the local index (issue 16).

After a cold check, a warm check with an edited, a new and a deleted file
sends only those (an incremental push) and the server's tree is what a
full rsync would give; a warm check with nothing changed runs no rsync; a
source tree changed on the server behind the tool's back (its marker no
longer the one the index names) gets a full sync that removes the stray
file; a new server (the old one deleted, the volume kept) needs no rsync.
"""

import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import push_kind, world_main  # noqa: E402


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def run_all(tap, sim, w):
    ws, ok = w.cold_check()
    if not ok:
        return
    src = w.source_tree()[2]
    tap.ok(src and len(read(os.path.join(src, ".cargo-burst-sync")) or "") == 33,
           "the server holds the generation marker")
    idx = glob.glob(os.path.join(w.state_dir, "sync", "*.idx"))
    tap.is_(len(idx), 1, "one index file under the state dir")

    with open(os.path.join(ws, "src", "main.rs"), "a") as f:
        f.write("// edited\n")
    with open(os.path.join(ws, "notes.txt"), "w") as f:
        f.write("new\n")
    r = w.traced_check(ws)
    tap.ok(r.code == 0 and push_kind(r.err) == "incremental, tar"
           and "trace: proc: run: rsync " not in r.err,
           "edit + create: incremental, a small change as a tar stream (no rsync)")
    tap.ok(src and "// edited" in (read(os.path.join(src, "src", "main.rs")) or "")
           and read(os.path.join(src, "notes.txt")) == "new\n", "the edit and the new file arrived")
    os.unlink(os.path.join(ws, "notes.txt"))
    r = w.traced_check(ws)
    tap.ok(r.code == 0 and push_kind(r.err) == "incremental, tar" and src
           and not os.path.exists(os.path.join(src, "notes.txt")), "delete: incremental, gone")
    # more than a small change: rsync, of the listed files only
    with open(os.path.join(ws, "big.bin"), "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024))
    r = w.traced_check(ws)
    runs = [ln for ln in r.err.splitlines() if ln.startswith("trace: proc: run: rsync ")]
    tap.ok(r.code == 0 and push_kind(r.err) == "incremental" and len(runs) == 1
           and "--files-from=-" in runs[0] and " --delete " not in runs[0],
           "3 MB changed: an incremental rsync of the listed files")
    tap.ok(src and os.path.getsize(os.path.join(src, "big.bin")) == 3 * 1024 * 1024,
           "the big file arrived")

    # past the racily clean window, nothing changed: no rsync at all
    time.sleep(2.2)
    w.traced_check(ws)
    r = w.traced_check(ws)
    # the mount command read the server's marker: no command of the push's own
    tap.ok(r.code == 0 and push_kind(r.err) == "nothing changed, marker seen"
           and "trace: proc: run: rsync " not in r.err
           and ".cargo-burst-sync" not in "".join(
               ln for ln in r.err.splitlines() if ln.startswith("trace: proc: run: ")
               and "mount the project volume" not in ln),
           "nothing changed: no rsync, no round trip of the push's own")

    # behind the tool's back
    with open(os.path.join(src, "stray.rs"), "w") as f:
        f.write("stray\n")
    with open(os.path.join(src, ".cargo-burst-sync"), "w") as f:
        f.write("0" * 32 + "\n")
    r = w.traced_check(ws)
    full = [ln for ln in r.err.splitlines()
            if ln.startswith("trace: proc: run: rsync ") and " --delete " in ln]
    tap.ok(r.code == 0 and push_kind(r.err) == "full" and len(full) == 1,
           "nothing changed here, but the marker the mount read does not match: "
           "one full rsync ran")
    tap.ok(not os.path.exists(os.path.join(src, "stray.rs")), "the full sync removed the stray file")
    r = w.traced_check(ws)
    tap.ok(r.code == 0 and push_kind(r.err) in ("incremental", "incremental, tar",
                                                "nothing changed",
                                                "nothing changed, marker seen"),
           "the next one trusts the rebuilt index")

    # a new server, the volume kept: the tree is on the volume, nothing to send
    # (tests/e2e/test-e2e-sync-volume.py: an edit, a new volume, a failed mount)
    r = w.burst(["down"], cwd=ws)
    tap.is_(r.code, 0, "down (volume kept)")
    r = w.traced_check(ws)
    tap.ok(r.code == 0 and push_kind(r.err) == "nothing changed, marker seen"
           and "trace: proc: run: rsync " not in r.err, "new server, same volume: no rsync")
    tap.is_(len(glob.glob(os.path.join(w.state_dir, "sync", "*.idx"))), 1,
            "still one index file")


def main():
    return world_main(run_all)


if __name__ == "__main__":
    sys.exit(main())

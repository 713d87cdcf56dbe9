#!/usr/bin/env python3
"""End-to-end: the source tree on the project's volume (issue 16).

The server's source tree is /mnt/cache/<hash>/src, on the volume.  After
the server is deleted and the volume kept, a run on a new server syncs
incrementally (the index's key is the volume, its marker is on the volume)
and leaves a tree a full rsync would not change; a new volume gets a full
sync; a volume whose mount fails gets no sync at all (nothing is written
into the bare mount point on the root disk).
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import push_kind, world_main  # noqa: E402


def rsync_runs(err):
    return [ln for ln in err.splitlines() if ln.startswith("trace: proc: run: rsync ")]


def differences(w, sid, h, ws):
    """What a full rsync of ws would still change in the server's tree
    (rsync -n -i, run in the server's mount namespace)."""
    root = w.server_path(sid, "") if sid else None
    if not root:
        return "no server"
    p = subprocess.run(["nsenter", "--mount=%s/ns/mnt" % root[:-len("/root")], "--",
                        # Cargo.lock: the remote cargo wrote it (and the top dir's time)
                        "rsync", "-n", "-i", "-rlptcO", "--delete", "--exclude=/target/",
                        "--exclude=/Cargo.lock",
                        "--exclude=/ignored.txt", "--exclude=/.cargo-burst-sync",
                        ws + "/", "/mnt/cache/%s/src/" % h],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    return p.stdout.strip() if p.returncode == 0 else "rsync failed: " + p.stdout


def run_all(tap, sim, w):
    ws, ok = w.cold_check()
    if not ok:
        return
    sid, _, src = w.source_tree()
    tap.ok(src is not None, "the source tree is on the volume (/mnt/cache/<hash>/src)")
    old_home = os.path.join(w.server_home(sid), "burst") if sid else None
    tap.ok(sid and not any(os.path.exists(os.path.join(old_home, h, "src"))
                           for h in (os.listdir(old_home) if os.path.isdir(old_home) else [])),
           "nothing under /root/burst/<hash>/src")

    # the server goes, the volume stays: the next server syncs only what changed
    r = w.burst(["down"], cwd=ws)
    tap.is_(r.code, 0, "down (the volume kept)")
    vols = w.volumes()
    tap.is_(len(vols), 1, "the volume is kept")
    with open(os.path.join(ws, "src", "main.rs"), "a") as f:
        f.write("// edited while no server ran\n")
    r = w.traced_check(ws)
    runs = rsync_runs(r.err)
    if not tap.ok(r.code == 0 and push_kind(r.err) == "incremental, tar",
                  "new server, volume kept: an incremental push (one file: a tar stream)"):
        tap.diag(r.err[-3000:])
    tap.ok(not runs, "no rsync at all", "\n".join(r[-1500:] for r in runs))
    sid2, h, _ = w.source_tree()
    tap.ok(sid2 is not None and sid2 != sid, "on another server")
    tap.is_(differences(w, sid2, h, ws), "",
            "the tree on the volume is what a full rsync gives (rsync -n -i: nothing)")

    # a new volume: a full sync
    r = w.burst(["down", "--with-volumes"], cwd=ws)
    tap.is_(r.code, 0, "down --with-volumes")
    r = w.traced_check(ws)
    runs = rsync_runs(r.err)
    tap.ok(r.code == 0 and push_kind(r.err) == "full" and len(runs) == 1
           and " --delete " in runs[0], "new volume: a full push")
    sid3, h, _ = w.source_tree()
    tap.is_(differences(w, sid3, h, ws), "", "the new volume's tree is right")

    # a mount that fails: no sync, nothing in the bare mount point
    r = w.burst(["down"], cwd=ws)
    tap.is_(r.code, 0, "down (the volume kept) again")
    vols = [v for v in sim.state().get("volumes", []) if v.get("file")]
    tap.is_(len(vols), 1, "one volume image")
    if vols:
        # the ext4 superblock (1 KiB at offset 1024) zeroed: mount(8) refuses it
        with open(vols[0]["file"], "r+b") as f:
            f.seek(1024)
            f.write(b"\0" * 1024)
    with open(os.path.join(ws, "src", "main.rs"), "a") as f:
        f.write("// edited again\n")
    r = w.traced_check(ws)
    tap.ok(r.code != 0 and "mounting volume" in r.err, "the failed mount is an error",
           repr(r.err[-1500:]))
    tap.is_(rsync_runs(r.err), [], "no rsync ran")
    servers = w.servers()
    bare = None
    if servers:
        base = w.server_path(servers[0]["id"], "/mnt/cache")
        bare = [h for h in (os.listdir(base) if base and os.path.isdir(base) else [])
                if os.path.exists(os.path.join(base, h, "src"))]
    tap.is_(bare, [], "no source tree in the bare mount point")


def main():
    return world_main(run_all)


if __name__ == "__main__":
    sys.exit(main())

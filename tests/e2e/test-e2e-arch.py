#!/usr/bin/env python3
"""End-to-end: native arm64 builds on CAX servers (issue 15, part 1).

`image build --arch arm64` bakes on a CAX type from the arm64 system image
(skipping a configured location that does not offer the type) and labels
the snapshot arch=arm64.  An x86 build makes the x86 server and volume;
then `arch = "arm64"` in the project config builds on a new cax41 server
(in fsn1: ash, first in the regions, is never tried), created from the
arm64 snapshot (not from a newer x86 one), with a volume of its own
(name ending -arm64, labels arch=arm64, its own project id); the x86 server
is not reused and the x86 volume is untouched.  `--arch x86` reuses the x86
server and volume without touching the arm64 ones; `--arch arm64` the arm64
server.  status shows the architecture and lists both servers, --dry-run names it; the cost guard
counts servers of both architectures (max_servers = 1 with the x86 server
up refuses an arm64 create); a project config that sets arch = "arm64"
with an x86 server_type is a config error.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import world_main  # noqa: E402


def write_project(ws, text):
    d = os.path.join(ws, ".config")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "cargo-burst.toml")
    if text is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    with open(path, "w") as f:
        f.write(text)


def posts(sim, path_re):
    return [r for r in sim.requests()
            if r["method"] == "POST" and re.fullmatch(path_re, r["path"]) and r.get("by") != "harness"]


def touched(sim, kind, rid):
    """Requests that name resource rid (a path /v1/<kind>/<rid>...)."""
    return [(r["method"], r["path"]) for r in sim.requests()
            if re.match(r"/v1/%s/%d(/|$)" % (kind, rid), r["path"])]


def by_id(items, rid):
    for i in items:
        if i["id"] == rid:
            return i
    return None


def main():
    # one server per architecture may be up at once (the cost guard counts both)
    return world_main(run_all, config={"regions": ["ash", "fsn1"], "max_servers": 2})


def bake_arm(tap, sim, w):
    sim.reset_requests()
    r = w.burst(["image", "build", "--arch", "arm64", "--description", "arm bake"], cwd=w.work,
                env={"CARGO_BURST_BAKE_POLL_MS": "100"}, timeout=180)
    if not tap.is_(r.code, 0, "image build --arch arm64 succeeds"):
        tap.diag(repr(r))
        return None
    creates = posts(sim, r"/v1/servers")
    body = creates[0]["body"] if creates else {}
    tap.ok(len(creates) == 1 and body.get("server_type") == "cax11" and
           body.get("image") == "ubuntu-24.04" and body.get("location") == "fsn1",
           "one bake server: cax11 (arm_image_server_type) from ubuntu-24.04 in fsn1, "
           "ash not tried: %r" % [(c["body"].get("server_type"), c["body"].get("location"))
                                  for c in creates])
    tap.is_((body.get("labels") or {}).get("arch"), "arm64", "the bake server is labelled arch=arm64")
    snaps = posts(sim, r"/v1/servers/\d+/actions/create_image")
    sl = (snaps[0]["body"].get("labels") or {}) if snaps else {}
    tap.ok(sl.get("arch") == "arm64" and sl.get("role") == "image",
           "the snapshot is labelled role=image, arch=arm64: %r" % sl)
    st, body, _ = sim.api("GET", "/images?type=snapshot&per_page=50")
    arm = [i for i in body.get("images", []) if i["description"] == "arm bake"] if st == 200 else []
    tap.ok(len(arm) == 1 and arm[0]["architecture"] == "arm",
           "the simulator made an arm snapshot (the bake server ran the arm64 system image)")
    # the retention of the arm64 bake leaves the x86 image alone
    x86 = [i for i in body.get("images", []) if i["description"] == "cargo-burst test image"]
    tap.is_(len(x86), 1, "the x86 image is not counted by the arm64 retention")
    return arm[0]["id"] if arm else None


def run_all(tap, sim, w):
    hello = w.fixture("hello")

    arm_image = bake_arm(tap, sim, w)
    if not arm_image:
        return
    # a newer x86 image: an arm64 server must still start from the arm64 one
    newer_x86 = sim.seed_image(labels={"managed-by": "cargo-burst", "role": "image",
                                       "version": "newer"},
                               description="newer x86 image")["id"]

    # x86 first: the project's x86 server and volume
    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "x86 build succeeds"):
        tap.diag(repr(r))
        return
    servers = w.servers()
    x86_srv = servers[0] if len(servers) == 1 else {}
    tap.ok(x86_srv.get("server_type", {}).get("name") == "cpx11" and
           x86_srv.get("image", {}).get("id") == newer_x86 and
           x86_srv.get("labels", {}).get("arch") == "x86",
           "the x86 server: cpx11 from the newest x86 image, labelled arch=x86")
    vols = w.volumes()
    x86_vol = vols[0] if len(vols) == 1 else {}
    tap.ok(x86_vol and "arch" not in x86_vol.get("labels", {}) and
           not x86_vol.get("name", "").endswith("-arm64"),
           "the x86 volume keeps the names and labels of before: %s" % x86_vol.get("name"))

    # arm64 from the project config
    write_project(hello, '[hetzner]\narch = "arm64"\n')
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello)
    if not tap.is_(r.code, 0, "arm64 build (arch = \"arm64\" in the project config) succeeds"):
        tap.diag(repr(r))
        return
    creates = posts(sim, r"/v1/servers")
    tap.is_([(c["body"].get("server_type"), c["body"].get("location")) for c in creates],
            [("cax41", "fsn1")], "one create: cax41 (arm_server_type) in fsn1, never in ash")
    tap.ok("ash" in r.err, "says ash was skipped for cax41")
    tap.ok(re.search(r"Provisioning cax41 in fsn1 \(€0\.\d+/h", r.err) is not None,
           "the cold run names cax41's live hourly price")
    servers = w.servers()
    arm_srv = [s for s in servers if s["id"] != x86_srv.get("id")]
    arm_srv = arm_srv[0] if len(arm_srv) == 1 else {}
    tap.ok(arm_srv.get("server_type", {}).get("name", "").startswith("cax") and
           arm_srv["server_type"].get("architecture") == "arm",
           "the arm64 server is a CAX type (architecture arm)")
    tap.is_(arm_srv.get("image", {}).get("id"), arm_image,
            "it was created from the arm64 snapshot, not the newer x86 one")
    tap.is_(arm_srv.get("labels", {}).get("arch"), "arm64", "the server is labelled arch=arm64")
    tap.ok(by_id(servers, x86_srv.get("id")) is not None, "the x86 server is still up (not reused, not deleted)")
    vols = w.volumes()
    arm_vol = [v for v in vols if v["id"] != x86_vol.get("id")]
    arm_vol = arm_vol[0] if len(arm_vol) == 1 else {}
    tap.ok(arm_vol.get("name", "").endswith("-arm64") and
           arm_vol.get("labels", {}).get("arch") == "arm64" and
           arm_vol.get("labels", {}).get("project") != x86_vol.get("labels", {}).get("project"),
           "the arm64 volume has its own name, arch label and project id: %s %r"
           % (arm_vol.get("name"), arm_vol.get("labels")))
    tap.ok(arm_vol.get("server") == arm_srv.get("id") and
           arm_vol.get("location", {}).get("name") == "fsn1",
           "the arm64 volume is attached to the arm64 server, in fsn1")
    tap.is_(touched(sim, "volumes", x86_vol.get("id", 0)), [], "the x86 volume was not touched")
    x86_now = by_id(vols, x86_vol.get("id"))
    tap.is_((x86_now or {}).get("server"), x86_srv.get("id"), "it is still attached to the x86 server")

    r = w.burst(["status", "--json"], cwd=hello, timeout=60)
    try:
        st = json.loads(r.out)
    except ValueError:
        st = {}
    srv = st.get("server") or {}
    tap.ok(srv.get("arch") == "arm64" and srv.get("type") == "cax41",
           "status --json: the server's arch is arm64: %r" % {k: srv.get(k) for k in ("type", "arch")})
    listed = sorted((x.get("name"), x.get("arch")) for x in st.get("servers") or [])
    tap.is_(listed, sorted([(x86_srv.get("name"), "x86"), (arm_srv.get("name"), "arm64")]),
            "status --json lists both servers (\"servers\"), each with its architecture")
    r = w.burst(["status"], cwd=hello, timeout=60)
    tap.ok(r.code == 0 and "(cax41, arm64)" in r.out, "status names the architecture")
    tap.ok(re.search(r"^server +%s \d+ \(cpx11, x86\)" % re.escape(x86_srv.get("name", "?")),
                     r.out, re.M) is not None and
           re.search(r"^server +%s \d+ \(cax41, arm64\)" % re.escape(arm_srv.get("name", "?")),
                     r.out, re.M) is not None,
           "status lists both servers, the x86 one too")

    # --arch x86 wins over the project file: the x86 server and volume, warm
    sim.reset_requests()
    r = w.burst(["build", "--arch", "x86"], cwd=hello)
    if not tap.is_(r.code, 0, "build --arch x86 succeeds"):
        tap.diag(repr(r))
    tap.is_(posts(sim, r"/v1/servers"), [], "no server created: the x86 one is reused")
    tap.is_(touched(sim, "volumes", arm_vol.get("id", 0)), [], "the arm64 volume was not touched")
    tap.is_(touched(sim, "servers", arm_srv.get("id", 0)), [], "nor the arm64 server")
    arm_now = by_id(w.volumes(), arm_vol.get("id"))
    tap.is_((arm_now or {}).get("server"), arm_srv.get("id"), "the arm64 volume stays on the arm64 server")

    # --arch arm64 without the project file: the arm64 server again
    write_project(hello, None)
    sim.reset_requests()
    r = w.burst(["--arch", "arm64", "build"], cwd=hello)
    if not tap.is_(r.code, 0, "--arch arm64 build succeeds"):
        tap.diag(repr(r))
    tap.is_(posts(sim, r"/v1/servers"), [], "no server created: the arm64 one is reused")
    tap.is_(touched(sim, "volumes", x86_vol.get("id", 0)), [], "the x86 volume was not touched")

    r = w.burst(["--dry-run", "--arch", "arm64", "build"], cwd=hello, timeout=60)
    tap.ok(r.code == 0 and "(arm64)" in r.out and arm_srv.get("name", "?") in r.out,
           "--dry-run names the architecture and the arm64 server it would reuse")
    if "(arm64)" not in r.out:
        tap.diag(repr(r))

    # the cost guard counts servers of both architectures: with max_servers = 1
    # and the x86 server up, an arm64 run that needs a server is refused
    tap.ok(w.delete_server(arm_srv.get("id", 0)), "the arm64 server is deleted behind the tool's back")
    with open(os.path.join(w.config_dir, "config.toml")) as f:
        text = f.read()
    with open(os.path.join(w.config_dir, "config.toml"), "w") as f:
        f.write(text.replace("max_servers = 2", "max_servers = 1"))
    sim.reset_requests()
    r = w.burst(["--arch", "arm64", "build"], cwd=hello, timeout=120)
    tap.ok(r.code == 78 and "max_servers" in r.err and x86_srv.get("name", "?") in r.err,
           "max_servers = 1: an arm64 run with the x86 server up is refused (78), naming it")
    if r.code != 78:
        tap.diag(repr(r))
    tap.is_(posts(sim, r"/v1/servers"), [], "and no server was created")
    with open(os.path.join(w.config_dir, "config.toml"), "w") as f:
        f.write(text)

    # arch and a server type of the other architecture in one file: a config error
    write_project(hello, '[hetzner]\narch = "arm64"\nserver_type = "ccx63"\n')
    sim.reset_requests()
    r = w.burst(["build"], cwd=hello, timeout=60)
    tap.ok(r.code == 78 and "ccx63" in r.err and "arm64" in r.err,
           "arch = \"arm64\" with server_type = \"ccx63\" is a config error (78) naming both")
    if r.code != 78:
        tap.diag(repr(r))
    tap.is_(w.api_calls(), [], "and nothing was asked of the API")
    write_project(hello, None)

    r = w.burst(["down", "--with-volumes"], cwd=hello)
    tap.is_(r.code, 0, "down removes everything")
    tap.is_([s["name"] for s in w.servers()], [], "no server is left")


if __name__ == "__main__":
    sys.exit(main())

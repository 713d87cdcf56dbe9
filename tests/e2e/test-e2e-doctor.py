#!/usr/bin/env python3
"""End-to-end: `cargo burst doctor` (issue 15, part 2).

On a healthy setup (simulator, baked image of this tool's format, a 0600
key) every line is ok or warn and the exit status is 0, with GET requests
only; --json parses and has a schema version.  A refused token, a missing
image, an image of another format, a group-readable ssh key, a deprecated
server type and a clock far from the API's Date header each make the exit
status 1 with a `fail` line that names the fix.  The deprecated type and
the skewed clock come from a small loopback stub of the API (the
simulator has neither).  The reapers check counts every live server row
(an older one of the other architecture too), a --no-reap one excepted.
"""

import http.server
import json
import os
import re
import sys
import sqlite3
import threading
import time
from email.utils import formatdate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (IMAGE_LABELS, SOURCE_ROOT, Tap, World, kill_env_holders,  # noqa: E402
                    need_root_and_tools, new_sim)
from taplib import scaled  # noqa: E402


def server_reaper_pid(w):
    db = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=30)
    try:
        row = db.execute("SELECT pid FROM reapers WHERE kind = 'server'").fetchone()
    finally:
        db.close()
    return row[0] if row else None


def add_older_server(w, no_reap):
    """A second server row, older than the build's (a lower id: not the
    current server), of the other architecture, whose reaper record names
    a process that is not the reaper (this one, with another start time):
    its reaper is dead."""
    db = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=30)
    try:
        cur = db.execute("SELECT * FROM servers WHERE status != 'deleted' ORDER BY id")
        cols = [d[0] for d in cur.description]
        row = dict(zip(cols, cur.fetchone()))
        row.update(id=row["id"] - 1000, hcloud_id=row["hcloud_id"] + 1000,
                   name="%s-older" % row["name"], created_at=row["created_at"] - 60,
                   arch="arm64", no_reap=1 if no_reap else 0)
        with db:
            db.execute("INSERT INTO servers(%s) VALUES (%s)" %
                       (", ".join(row), ", ".join("?" * len(row))), list(row.values()))
            db.execute("INSERT INTO reapers(kind, resource, pid, pid_start, deadline,"
                       " updated_at) VALUES ('server', ?, ?, 1, ?, ?)",
                       (str(row["id"]), os.getpid(), row["deadline"], row["created_at"]))
        return row["id"]
    finally:
        db.close()


def drop_server(w, row_id):
    db = sqlite3.connect(os.path.join(w.state_dir, "state.db"), timeout=30)
    try:
        with db:
            db.execute("DELETE FROM reapers WHERE kind = 'server' AND resource = ?",
                       (str(row_id),))
            db.execute("DELETE FROM servers WHERE id = ?", (row_id,))
    finally:
        db.close()


def check_older_server(tap, w, hello):
    """The reaper of a server that is not the current one counts too (an
    x86 and an arm64 server, or a --shards extra one); a --no-reap one,
    which no reaper watches, does not."""
    row_id = add_older_server(w, no_reap=False)
    try:
        r = w.burst(["doctor"], cwd=hello)
        expect_fail(tap, r, "reapers", "1 of 3 resources", "cargo burst status")
    finally:
        drop_server(w, row_id)
    row_id = add_older_server(w, no_reap=True)
    try:
        r = w.burst(["doctor"], cwd=hello)
        got = lines(r.out).get("reapers", ["", ""])
        tap.ok(r.code == 0 and got[0] == "ok" and "each of 3 resources" in got[1],
               "an older --no-reap server without a reaper is not a dead reaper (%r)" % got,
               repr(r))
    finally:
        drop_server(w, row_id)


def image_format():
    with open(os.path.join(SOURCE_ROOT, "image", "user-data.yaml")) as f:
        m = re.search(r"^# cargo-burst-image-format: ([0-9]+)$", f.read(), re.M)
    return m.group(1)


def lines(out):
    """{check name: (status, detail, fix)} from the text output."""
    res, last = {}, None
    for ln in out.splitlines():
        m = re.match(r"^(ok|warn|fail)\s+(\S+(?: \S+)?)\s{2,}(.*)$", ln)
        if m:
            last = m.group(2)
            res[last] = [m.group(1), m.group(3), None]
        elif last and ln.strip().startswith("fix: "):
            res[last][2] = ln.strip()[5:]
    return res


class Stub:
    """A loopback API stub: a deprecated server type, and a Date header
    `skew` seconds away from now."""

    def __init__(self, deprecated, skew=0):
        stub = self
        self.deprecated, self.skew, self.methods = deprecated, skew, []
        loc = {"id": 1, "name": "fsn1", "description": "Falkenstein", "country": "DE",
               "city": "Falkenstein", "network_zone": "eu-central",
               "latitude": 50.47, "longitude": 12.37}
        price = {"location": "fsn1", "price_hourly": {"net": "0.0100", "gross": "0.0119"},
                 "price_monthly": {"net": "6.0000", "gross": "7.1400"}}
        stype = {"id": 22, "name": "cpx11", "description": "CPX11", "cores": 2, "memory": 2.0,
                 "disk": 40, "cpu_type": "shared", "architecture": "x86",
                 "deprecated": bool(deprecated),
                 "deprecation": ({"announced": "2026-01-01T00:00:00+00:00",
                                  "unavailable_after": "2026-04-01T00:00:00+00:00"}
                                 if deprecated else None),
                 "prices": [price]}
        self.bodies = {
            "/v1/locations": {"locations": [loc]},
            "/v1/server_types": {"server_types": [stype]},
            "/v1/datacenters": {"datacenters": [{"id": 2, "name": "fsn1-dc14", "location": loc,
                                                 "server_types": {"supported": [22],
                                                                  "available": [22]}}]},
            "/v1/images": {"images": []},
            "/v1/pricing": {"pricing": {"currency": "EUR", "vat_rate": "19.00",
                                        "volume": {"price_per_gb_month": {"net": "0.0440",
                                                                          "gross": "0.0524"}},
                                        "server_types": [{"id": 22, "name": "cpx11",
                                                          "prices": [price]}]}},
        }

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                stub.methods.append(self.command)
                path = self.path.split("?")[0]
                body = dict(stub.bodies.get(path, {}))
                status = 200 if path in stub.bodies else 404
                if status == 200:
                    body["meta"] = {"pagination": {"page": 1, "per_page": 50, "previous_page": None,
                                                   "next_page": None, "last_page": 1,
                                                   "total_entries": 1}}
                else:
                    body = {"error": {"code": "not_found", "message": "not found"}}
                data = json.dumps(body).encode()
                self.send_response_only(status)
                self.send_header("Date", formatdate(time.time() + stub.skew, usegmt=True))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_DELETE = do_PUT = do_GET

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = "http://127.0.0.1:%d/v1" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def main():
    tap = Tap()
    need_root_and_tools(tap)
    with new_sim() as sim:
        labels = dict(IMAGE_LABELS, format=image_format())
        img = sim.seed_image(labels=labels, description="cargo-burst test image")
        with World(tap, sim) as w:
            run_all(tap, sim, w, img)
    return tap.done()


def expect_fail(tap, r, name, detail_part, fix_part):
    got = lines(r.out).get(name)
    tap.is_(r.code, 1, "%s: exit 1" % name)
    tap.ok(got and got[0] == "fail" and detail_part in got[1] and got[2] and
           fix_part in got[2], "%s: a fail line with the fix (%r)" % (name, got), repr(r))


def run_all(tap, sim, w, img):
    hello = w.fixture("hello")

    sim.reset_requests()
    r = w.burst(["doctor"], cwd=hello)
    got = lines(r.out)
    tap.is_(r.code, 0, "healthy: doctor exits 0")
    want = ["token", "token write", "ssh key", "state", "reapers", "server type", "image",
            "prices", "clock", "ssh", "rsync"]
    tap.ok(all(k in got for k in want), "every check has a line (%s)" % sorted(got), repr(r))
    tap.ok(got and all(v[0] in ("ok", "warn") for v in got.values()),
           "every line is ok or warn", repr(r))
    tap.ok(got.get("image", [""])[0] == "ok" and "format %s" % image_format() in got["image"][1],
           "the image has this tool's format", repr(r))
    tap.ok(got.get("server type", [""])[0] == "ok" and "fsn1, nbg1" in got["server type"][1],
           "the type is available in both configured locations", repr(r))

    # today's API: the type deprecated in one configured location only
    sim.configure({"deprecated_types": [{"server_type": "cpx11", "location": "fsn1"}]})
    r2 = w.burst(["doctor"], cwd=hello)
    st = lines(r2.out).get("server type", ["", ""])
    tap.ok(st[0] == "warn" and "available now in nbg1; not in fsn1" in st[1],
           "a type deprecated in one location: a warn line naming it", repr(r2))
    # ...and still listed in that datacenter's `available` list: only the
    # per-location deprecation of the type tells (the list alone would not)
    sim.configure({"deprecated_types": [{"server_type": "cpx11", "location": "fsn1",
                                         "listed": True}]})
    _, types, _ = sim.api("GET", "/server_types?name=cpx11")
    type_id = [t["id"] for t in types.get("server_types") or []]
    _, body, _ = sim.api("GET", "/datacenters")
    listed = [d["name"] for d in body.get("datacenters") or []
              if d["location"]["name"] == "fsn1" and type_id and
              type_id[0] in d["server_types"]["available"]]
    tap.ok(listed, "the simulator still lists cpx11 as available in fsn1 (%r)" % listed)
    r3 = w.burst(["doctor"], cwd=hello)
    st3 = lines(r3.out).get("server type", ["", ""])
    tap.ok(listed and st3[0] == "warn" and "available now in nbg1; not in fsn1" in st3[1],
           "deprecated in fsn1 but still listed as available there: the per-location "
           "deprecation makes it a warn line", repr(r3))
    sim.configure({"deprecated_types": []})
    tap.ok(re.search(r"cpx11 in fsn1: \u20ac[0-9.]+/h", got.get("prices", ["", ""])[1]),
           "the price of the type", repr(r))
    tap.ok(got.get("token write", [""])[0] == "warn" and
           "cannot tell without creating" in got["token write"][1],
           "whether the token can write: says it cannot tell", repr(r))
    tap.ok(got.get("clock", [""])[0] == "ok", "the clock agrees with the Date header", repr(r))
    tap.ok("PRAGMA quick_check ok" in got.get("state", ["", ""])[1], "the state's quick_check",
           repr(r))
    reqs = sim.requests()
    tap.ok(reqs and all(q["method"] == "GET" for q in reqs),
           "doctor sends GET requests only (%d)" % len(reqs))
    tap.ok(not w.servers() and not w.volumes(), "and creates nothing")
    tap.ok("no server or volume to watch" in got.get("reapers", ["", ""])[1],
           "no resource: no reaper needed", repr(r))

    r = w.burst(["doctor", "--json"], cwd=hello)
    try:
        doc = json.loads(r.out)
    except ValueError:
        doc = {}
    tap.ok(doc.get("schema") == 1 and doc.get("ok") is True and
           {c["name"] for c in doc.get("checks", [])} >= set(want) and
           all(c["status"] in ("ok", "warn") for c in doc.get("checks", [])),
           "--json parses, has schema 1 and the same checks", repr(r))
    tap.is_(r.code, 0, "--json: exit 0")

    # a run leaves a server and a volume, each with a live reaper
    r = w.burst(["build"], cwd=hello)
    if tap.is_(r.code, 0, "a build leaves a server, a volume and their reapers"):
        r = w.burst(["doctor"], cwd=hello)
        got = lines(r.out).get("reapers", ["", ""])
        tap.ok(r.code == 0 and got[0] == "ok" and "each of 2 resources" in got[1],
               "doctor: a live reaper for the server and the volume (%r)" % got, repr(r))
        check_older_server(tap, w, hello)
        pid = server_reaper_pid(w)
        tap.ok(pid, "the server's reaper is recorded (pid %s)" % pid)
        # every process of this user's tool (reapers, watchers, ssh
        # masters): nothing is left that could re-arm a reaper
        victims = kill_env_holders("HOME=" + w.home, w.dir)
        deadline = time.time() + scaled(30)
        while any(os.path.exists("/proc/%d" % v) for v in victims) and time.time() < deadline:
            time.sleep(0.1)
        tap.ok(pid in victims, "the reapers were stopped (%s)" % victims)
        r = w.burst(["doctor"], cwd=hello)
        expect_fail(tap, r, "reapers", "2 of 2 resources", "cargo burst status")
        r = w.burst(["doctor"], cwd=hello)
        got = lines(r.out).get("reapers", [""])
        tap.ok(got[0] == "fail", "doctor itself re-arms nothing (still fail)", repr(r))

    r = w.burst(["doctor"], cwd=hello, env={"HCLOUD_TOKEN": "not-the-token"})
    expect_fail(tap, r, "token", "the API refused the token", "read+write token")
    tap.ok("not-the-token" not in r.out + r.err, "the refused token is not printed")

    os.chmod(w.key, 0o640)
    r = w.burst(["doctor"], cwd=hello)
    expect_fail(tap, r, "ssh key", "readable by other users (mode 640)", "chmod 600 %s" % w.key)
    os.chmod(w.key, 0o600)

    # an image of another format only
    sim.api("DELETE", "/images/%d" % img["id"])
    r = w.burst(["doctor"], cwd=hello)
    expect_fail(tap, r, "image", "no cargo-burst image", "cargo burst image build")
    sim.seed_image(labels=dict(IMAGE_LABELS, format="999"), description="old format")
    r = w.burst(["doctor"], cwd=hello)
    expect_fail(tap, r, "image", "image format 999", "cargo burst image build")

    # arch = "arm64": only an arm64 image counts (issue 15)
    os.makedirs(os.path.join(hello, ".config"), exist_ok=True)
    with open(os.path.join(hello, ".config", "cargo-burst.toml"), "w") as f:
        f.write('[hetzner]\narch = "arm64"\n')
    r = w.burst(["doctor"], cwd=hello)
    expect_fail(tap, r, "image", "no arm64 cargo-burst image", "image build --arch arm64")
    arm = sim.seed_image(labels=dict(IMAGE_LABELS, format=image_format(), arch="arm64"),
                         description="arm64", architecture="arm")
    r = w.burst(["doctor"], cwd=hello)
    got = lines(r.out).get("image") or ["", ""]
    tap.ok(got[0] == "ok" and "image %d " % arm["id"] in got[1] and "arm" in got[1],
           "arch = \"arm64\": the arm64 image is the one checked (%r)" % got, repr(r))
    st = lines(r.out).get("server type") or ["", ""]
    tap.ok("cax41" in st[1] and "arm" in st[1], "and the server type is cax41, arm (%r)" % st)
    os.unlink(os.path.join(hello, ".config", "cargo-burst.toml"))

    stub = Stub(deprecated=True)
    try:
        r = w.burst(["doctor"], cwd=hello, env={"HCLOUD_ENDPOINT": stub.endpoint})
    finally:
        stub.close()
    expect_fail(tap, r, "server type", "'cpx11' is deprecated", "server_type")
    tap.ok(stub.methods and set(stub.methods) == {"GET"}, "the stub saw GET requests only")

    stub = Stub(deprecated=False, skew=-3600)
    try:
        r = w.burst(["doctor", "--json"], cwd=hello, env={"HCLOUD_ENDPOINT": stub.endpoint})
    finally:
        stub.close()
    try:
        checks = {c["name"]: c for c in json.loads(r.out)["checks"]}
    except (ValueError, KeyError):
        checks = {}
    clock = checks.get("clock", {})
    tap.ok(r.code == 1 and clock.get("status") == "fail" and "ahead of" in clock.get("detail", "")
           and "timedatectl" in (clock.get("fix") or ""),
           "a clock an hour off the Date header fails, with the fix", repr(r))
    st = checks.get("server type", {})
    tap.ok(st.get("status") == "warn" and "available now in fsn1; not in nbg1" in st.get("detail", ""),
           "a current type: where it can be ordered and where not", repr(r))


if __name__ == "__main__":
    sys.exit(main())

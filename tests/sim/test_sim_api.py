#!/usr/bin/env python3
"""Self-test of the simulator's HTTP API (--machines none, no root needed)."""

import http.client
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simharness import Simulator, Tap  # noqa: E402

FAST = {"durations": {"server_create": 0.05, "server_start": 0.05, "server_stop": 0.05,
                      "volume_create": 0.05, "attach": 0.05, "detach": 0.05,
                      "image_create": 0.1, "server_delete": 0.05, "bake": 0.2}}
PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDzv7b0U2uv+6pXfHh5d3vNbx3yr9xK8XpE0dXzjTBjB test"


def server_body(name, **kw):
    b = {"name": name, "server_type": "cpx11", "image": "ubuntu-24.04", "location": "fsn1"}
    b.update(kw)
    return b


def raw_post(sim, path, body):
    """POST with http.client; returns (status, body) or None if the connection dropped."""
    u = urllib.parse.urlsplit(sim.endpoint)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request("POST", u.path + path, json.dumps(body),
                  {"Authorization": "Bearer " + sim.token, "Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine):
        return None
    finally:
        c.close()


def main():
    t = Tap()
    with Simulator(machines="none", config=FAST) as sim:
        # auth, correlation id, rate headers
        st, body, h = sim.api("GET", "/servers", token="wrong")
        t.is_((st, body["error"]["code"]), (401, "unauthorized"), "bad token -> 401 unauthorized")
        t.ok(re.fullmatch(r"[0-9a-f]{16}", h.get("X-Correlation-Id", "")), "X-Correlation-Id on errors")
        t.ok(all(k in h for k in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")),
             "RateLimit headers on errors")
        st, body, h = sim.api("GET", "/servers")
        t.is_(body["meta"]["pagination"]["total_entries"], 0, "empty server list")
        t.ok(h.get("X-Correlation-Id") and h.get("RateLimit-Limit") == "3600", "headers on success")

        # ssh keys
        st, body, _ = sim.api("POST", "/ssh_keys", {"name": "k1", "public_key": PUB})
        t.is_(st, 201, "ssh key created")
        t.ok(re.fullmatch(r"([0-9a-f]{2}:){15}[0-9a-f]{2}", body["ssh_key"]["fingerprint"]), "MD5 fingerprint")
        fp = body["ssh_key"]["fingerprint"]
        st, body, _ = sim.api("POST", "/ssh_keys", {"name": "k2", "public_key": PUB})
        t.is_((st, body["error"]["code"], body["error"]["details"]["fields"][0]["name"]),
              (409, "uniqueness_error", "public_key"), "duplicate fingerprint -> uniqueness_error")
        st, body, _ = sim.api("GET", "/ssh_keys?fingerprint=" + urllib.parse.quote(fp))
        t.is_(len(body["ssh_keys"]), 1, "ssh key found by fingerprint")

        # create validation
        st, body, _ = sim.api("POST", "/servers", server_body("x", bogus=1))
        t.is_((st, body["error"]["code"]), (422, "invalid_input"), "unknown field -> invalid_input")
        st, body, _ = sim.api("POST", "/servers", server_body("x", datacenter="fsn1-dc14"))
        t.is_((st, body["error"]["code"]), (422, "invalid_input"), "location + datacenter -> invalid_input")
        st, body, _ = sim.api("POST", "/servers", server_body("bad_name!"))
        t.is_(st, 422, "non RFC 1123 name rejected")
        st, body, _ = sim.api("POST", "/servers", server_body("x", labels={"hetzner.cloud/x": "y"}))
        t.is_(st, 422, "reserved label prefix rejected")
        st, body, _ = sim.api("POST", "/servers", server_body("x", user_data="a" * 40000))
        t.is_(st, 422, "user_data > 32 KiB rejected")

        # create + actions + next_actions
        st, body, _ = sim.api("POST", "/servers", server_body("srv1", ssh_keys=["k1"], labels={"role": "server"}))
        t.is_(st, 201, "server created")
        t.is_((body["action"]["command"], [a["command"] for a in body["next_actions"]],
               body["server"]["status"], body["root_password"]),
              ("create_server", ["start_server"], "initializing", None), "create response shape")
        sid = body["server"]["id"]
        ip = body["server"]["public_net"]["ipv4"]["ip"]
        t.ok(ip.startswith("127."), "fake loopback ip %s" % ip)
        st, body2, _ = sim.api("POST", "/servers/%d/actions/poweroff" % sid)
        t.is_((st, body2["error"]["code"]), (423, "locked"), "action while create runs -> locked")
        t.ok(sim.api("GET", "/servers/%d" % sid)[1]["server"]["locked"], "server.locked while running actions")
        st, body2, _ = sim.api("POST", "/servers", server_body("srv1"))
        t.is_((st, body2["error"]["code"]), (409, "uniqueness_error"), "duplicate server name")
        a = sim.wait_action(body["next_actions"][0]["id"])
        t.is_((a["status"], a["progress"], a["error"]), ("success", 100, None), "start_server succeeded")
        srv = sim.api("GET", "/servers/%d" % sid)[1]["server"]
        t.is_((srv["status"], srv["locked"]), ("running", False), "server running and unlocked")
        st, body, _ = sim.api("GET", "/actions?id=%d&id=%d" % (body["action"]["id"], body["next_actions"][0]["id"]))
        t.is_([x["status"] for x in body["actions"]], ["success", "success"], "GET /actions?id=&id=")

        # sold out
        sim.configure({"sold_out": [{"location": "hel1", "server_type": "ccx63"}]})
        st, body, _ = sim.api("POST", "/servers", server_body("so", server_type="ccx63", location="hel1"))
        t.is_((st, body["error"]["code"]), (412, "resource_unavailable"), "sold out -> 412 resource_unavailable")
        dcs = sim.api("GET", "/datacenters?name=hel1-dc2")[1]["datacenters"][0]
        t.ok(101 not in dcs["server_types"]["available"] and 101 in dcs["server_types"]["supported"],
             "sold-out type missing from datacenter available list")
        st, _, _ = sim.api("POST", "/servers", server_body("so2", server_type="ccx63", location="nbg1",
                                                           start_after_create=False))
        t.is_(st, 201, "same type elsewhere still works")

        # volumes: location mismatch, attach twice, delete attached, locked, action error
        st, body, _ = sim.api("POST", "/volumes", {"name": "v1", "size": 10, "location": "nbg1", "format": "ext4"})
        t.is_(st, 201, "volume created")
        vid = body["volume"]["id"]
        t.is_(body["volume"]["linux_device"], "/dev/disk/by-id/scsi-0HC_Volume_%d" % vid, "linux_device")
        st, body, _ = sim.api("POST", "/volumes", {"name": "v" * 65, "size": 10, "location": "fsn1"})
        t.is_(st, 422, "volume name > 64 chars rejected")
        sim.wait_action(sim.api("GET", "/volumes/%d/actions" % vid)[1]["actions"][0]["id"])
        st, body, _ = sim.api("POST", "/volumes/%d/actions/attach" % vid, {"server": sid})
        t.is_((st, body["error"]["code"]), (422, "invalid_input"), "volume/server location mismatch")
        st, body, _ = sim.api("POST", "/volumes", {"name": "v2", "size": 10, "server": sid, "format": "ext4"})
        t.is_((st, [a["command"] for a in body["next_actions"]]), (201, ["attach_volume"]),
              "volume create with server -> attach_volume in next_actions")
        v2 = body["volume"]["id"]
        st, body2, _ = sim.api("DELETE", "/volumes/%d" % v2)
        t.is_((st, body2["error"]["code"]), (423, "locked"), "delete during create -> locked")
        sim.wait_action(body["next_actions"][0]["id"])
        st, body2, _ = sim.api("POST", "/volumes/%d/actions/attach" % v2, {"server": sid})
        t.is_((st, body2["error"]["code"]), (422, "invalid_input"), "attach already attached -> invalid_input")
        st, body2, _ = sim.api("DELETE", "/volumes/%d" % v2)
        t.is_((st, body2["error"]["code"]), (422, "invalid_input"), "delete attached volume refused")
        st, body2, _ = sim.api("POST", "/volumes/%d/actions/detach" % v2)
        t.is_(st, 201, "detach")
        sim.wait_action(body2["action"]["id"])
        sim.configure({"action_errors": [{"command": "attach_volume", "times": 1}]})
        st, body2, _ = sim.api("POST", "/volumes/%d/actions/attach" % v2, {"server": sid})
        a = sim.wait_action(body2["action"]["id"])
        t.is_((st, a["status"], a["error"] and a["error"]["code"]), (201, "error", "action_failed"),
              "action_errors: attach ends in error")
        t.is_(sim.api("GET", "/volumes/%d" % v2)[1]["volume"]["server"], None, "failed attach left it detached")
        st, body2, _ = sim.api("POST", "/volumes/%d/actions/attach" % v2, {"server": sid})
        a = sim.wait_action(body2["action"]["id"])
        t.is_(a["status"], "success", "next attach succeeds (times: 1)")

        # a failed delete_server leaves the server
        sim.configure({"action_errors": [{"command": "delete_server"}]})
        st, body, _ = sim.api("DELETE", "/servers/%d" % sid)
        a = sim.wait_action(body["action"]["id"])
        t.is_((a["status"], sim.api("GET", "/servers/%d" % sid)[1]["server"]["status"]), ("error", "running"),
              "failed delete_server leaves the server running")

        # delete returns action vs 204
        st, body, _ = sim.api("DELETE", "/volumes/%d" % vid)
        t.is_((st, body), (204, None), "DELETE volume -> 204 no body")
        st, body, _ = sim.api("DELETE", "/servers/%d" % sid)
        t.is_((st, sorted(body.keys())), (200, ["action"]), "DELETE server -> 200 {action}")
        sim.wait_action(body["action"]["id"])
        t.is_(sim.api("GET", "/servers/%d" % sid)[0], 404, "deleted server -> 404")
        t.is_(sim.api("GET", "/volumes/%d" % v2)[1]["volume"]["server"], None, "server delete detached its volume")

        # images
        img = sim.seed_image(labels={"managed-by": "cargo-burst", "role": "image"}, description="seed")
        st, body, _ = sim.api("GET", "/images?type=snapshot&label_selector=role%3Dimage")
        t.is_([i["id"] for i in body["images"]], [img["id"]], "seeded image found by type + label")
        st, body, _ = sim.api("GET", "/images?name=ubuntu-24.04&type=system")
        t.is_(sorted(i["architecture"] for i in body["images"]), ["arm", "x86"],
              "system image ubuntu-24.04, one per architecture")
        st, body, _ = sim.api("GET", "/images?name=ubuntu-24.04&type=system&architecture=arm")
        t.ok(len(body["images"]) == 1 and body["images"][0]["architecture"] == "arm",
             "the architecture filter: the arm one")
        arm_sys = body["images"][0]["id"] if body["images"] else 0
        # CAX (Ampere) types: arm, in the EU locations only
        st, body, _ = sim.api("GET", "/server_types?name=cax41")
        cax = body["server_types"][0] if body.get("server_types") else {}
        t.ok(cax.get("architecture") == "arm" and cax.get("cores") == 16 and
             sorted(l["name"] for l in cax.get("locations", [])) == ["fsn1", "hel1", "nbg1"],
             "cax41: arm, 16 cores, offered in fsn1, nbg1, hel1 only")
        st, body, _ = sim.api("POST", "/servers", server_body("caxash", server_type="cax11",
                                                             location="ash", start_after_create=False))
        t.is_((st, body.get("error", {}).get("code")), (422, "invalid_input"), "cax11 in ash is refused")
        st, body, _ = sim.api("POST", "/servers", server_body("caxsnap", server_type="cax11",
                                                             image=str(img["id"]), start_after_create=False))
        t.is_((st, body.get("error", {}).get("code")), (422, "invalid_input"),
              "cax11 from an x86 snapshot is refused")
        st, body, _ = sim.api("POST", "/servers", server_body("caxok", server_type="cax11",
                                                             start_after_create=False))
        t.ok(st == 201 and body["server"]["image"]["id"] == arm_sys,
             "cax11 from ubuntu-24.04 gets the arm system image")
        if st == 201:
            sim.wait_action(body["action"]["id"])
            sa = body["server"]["id"]
            # the client reads a server's architecture from its server_type
            st2, got, _ = sim.api("GET", "/servers/%d" % sa)
            t.is_((st2, got.get("server", {}).get("server_type", {}).get("architecture")),
                  (200, "arm"), "a cax11 server's server_type.architecture is arm")
            st, body, _ = sim.api("POST", "/servers/%d/actions/create_image" % sa,
                                  {"description": "arm snap", "labels": {"role": "image"}})
            t.is_(body.get("image", {}).get("architecture"), "arm", "a snapshot of it is arm")
            sim.wait_action(body["action"]["id"])
            sim.api("DELETE", "/images/%d" % body["image"]["id"])
            sim.wait_action(sim.api("DELETE", "/servers/%d" % sa)[1]["action"]["id"])
        st, body, _ = sim.api("POST", "/servers", server_body("fromimg", image=str(img["id"]),
                                                             start_after_create=False))
        t.is_(st, 201, "server from snapshot id")
        s2 = body["server"]["id"]
        sim.wait_action(body["action"]["id"])
        st, body, _ = sim.api("POST", "/servers/%d/actions/create_image" % s2,
                              {"description": "d", "labels": {"role": "image"}})
        t.is_((st, body["image"]["status"], body["action"]["command"]), (201, "creating", "create_image"),
              "create_image")
        sim.wait_action(body["action"]["id"])
        im = sim.api("GET", "/images/%d" % body["image"]["id"])[1]["image"]
        t.is_((im["status"], im["created_from"]["id"]), ("available", s2), "image available after image_create")
        st, body, _ = sim.api("DELETE", "/images/%d" % im["id"])
        t.is_(st, 204, "DELETE image -> 204")

        # pagination over > 50 items, sort
        sim.configure({"durations": {"server_create": 100}})
        for i in range(57):
            st, _, _ = sim.api("POST", "/servers", server_body("p%02d" % i, start_after_create=False,
                                                               labels={"n": str(i % 3), **({"odd": ""} if i % 2 else {})}))
            if st != 201:
                break
        t.is_(st, 201, "57 servers created")
        seen, page, pages, per = [], 1, 0, None
        while page is not None and pages < 20:
            st, body, h = sim.api("GET", "/servers?label_selector=n&per_page=100&page=%d&sort=name:desc" % page)
            per = body["meta"]["pagination"]["per_page"]
            seen += [s["name"] for s in body["servers"]]
            page = body["meta"]["pagination"]["next_page"]
            pages += 1
        t.is_((per, pages, len(seen)), (50, 2, 57), "per_page clamped to 50, two pages, all items")
        t.is_(seen, sorted(seen, reverse=True), "sort=name:desc")
        st, body, h = sim.api("GET", "/servers?label_selector=n&page=1")
        t.ok('rel="next"' in h.get("Link", "") and 'rel="last"' in h.get("Link", ""), "Link header")
        t.ok(("<%s/servers?" % sim.endpoint) in h.get("Link", "") and "page=2" in h.get("Link", ""),
             "Link header has absolute URLs")
        t.is_(body["meta"]["pagination"]["per_page"], 25, "per_page default 25")

        def names(sel):
            st, body, _ = sim.api("GET", "/servers?per_page=50&label_selector=" + urllib.parse.quote(sel))
            return st, sorted(s["name"] for s in body.get("servers", []))
        want = sorted("p%02d" % i for i in range(57) if i % 3 != 1)
        t.is_(names("n,n notin (1)"), (200, want), "label selector notin")
        t.ok({"fromimg", "so2"} <= set(names("n notin (1)")[1]), "notin matches resources without the key")
        want = sorted("p%02d" % i for i in range(57) if i % 3 in (0, 2) and i % 2 == 0)
        t.is_(names("n in (0,2),!odd"), (200, want), "label selector in + !key")
        want = sorted("p%02d" % i for i in range(57) if i % 3 != 0 and i % 2 == 1)[:50]
        t.is_(names("n!=0,odd")[1][:50], want, "label selector != and presence")
        t.is_(names("n==1")[1], sorted("p%02d" % i for i in range(57) if i % 3 == 1), "label selector ==")
        t.is_(sim.api("GET", "/servers?label_selector=" + urllib.parse.quote("n in (1"))[1]["error"]["code"],
              "invalid_input", "bad selector -> invalid_input")

        # faults: status, drop, apply
        sim.configure({"durations": FAST["durations"]})
        sim.configure({"faults": [{"method": "POST", "path": "/volumes", "when": {"location": "hel1"},
                                   "times": 2, "status": 503, "code": "unavailable", "message": "try later"}]})
        codes = [sim.api("POST", "/volumes", {"name": "fv%d" % i, "size": 10, "location": "hel1"})[0]
                 for i in range(3)]
        t.is_(codes, [503, 503, 201], "fault rule applies 'times' times, with body match")
        t.is_(sim.api("POST", "/volumes", {"name": "fx", "size": 10, "location": "fsn1"})[0], 201,
              "fault rule 'when' does not match other bodies")
        sim.configure({"faults": [{"method": "GET", "path": "/locations", "status": 504},
                                  {"method": "GET", "path": "/locations", "status": 502}]})
        st, body, h = sim.api("GET", "/locations")
        t.is_((st, body["error"]["code"]), (504, "timeout"), "fault without code: the status's usual code")
        st, body, h = sim.api("GET", "/locations")
        t.ok(st == 502 and b"502" in body and h.get("Content-Type") == "text/html" and "RateLimit-Remaining" in h,
             "fault 502 without code: bare gateway page with headers")
        t.is_(sim.api("GET", "/locations")[0], 200, "rules exhausted")
        sim.configure({"faults": [{"method": "POST", "path": "/servers", "drop": True}]})
        r = raw_post(sim, "/servers", server_body("dropped"))
        t.is_(r, None, "drop: connection closed without a response")
        t.is_(sim.api("GET", "/servers?name=dropped")[1]["servers"], [], "drop without apply: nothing created")
        sim.configure({"faults": [{"method": "POST", "path": "/servers", "drop": True, "apply": True,
                                   "delay": 0.1}]})
        r = raw_post(sim, "/servers", server_body("lost"))
        t.is_(r, None, "apply+drop: no response")
        t.is_(len(sim.api("GET", "/servers?name=lost")[1]["servers"]), 1, "apply+drop: server was created")
        st, body, _ = sim.api("POST", "/servers", server_body("lost"))
        t.is_((st, body["error"]["code"]), (409, "uniqueness_error"), "blind retry -> uniqueness_error")
        sim.configure({"faults": [{"method": "POST", "path": "/servers", "drop": "partial", "apply": True}]})
        try:
            r = raw_post(sim, "/servers", server_body("partial"))
        except http.client.IncompleteRead as e:
            r = type(e).__name__
        t.is_(r, "IncompleteRead", "drop partial: broken answer")
        t.is_(len(sim.api("GET", "/servers?name=partial")[1]["servers"]), 1, "drop partial + apply: created")

        # request log
        reqs = sim.requests()
        t.ok(all(r["auth"] in ("present", "missing") for r in reqs) and
             not any(sim.token in json.dumps(r) for r in reqs), "request log has no token")
        drops = [r for r in reqs if r["code"] == "connection_dropped"]
        t.is_(len(drops), 3, "dropped requests logged")
        with open(os.path.join(sim.state_dir, "requests.jsonl")) as f:
            lines = [json.loads(x) for x in f]
        t.is_(len(lines), len(reqs), "requests.jsonl matches /_sim/requests")
        sim.reset_requests()
        sim.api("GET", "/servers?name=a&name=b")
        reqs = sim.requests()
        t.is_([(r["method"], r["path"], r["query"], r["status"]) for r in reqs],
              [("GET", "/v1/servers", {"name": ["a", "b"]}, 200)], "request log entry after reset")

        # rate limit
        sim.configure({"rate_limit": {"limit": 3600, "capacity": 5, "refill_per_sec": 0.5}})
        got = [sim.api("GET", "/locations") for _ in range(7)]
        sts = [g[0] for g in got]
        t.is_(sts, [200] * 5 + [429] * 2, "token bucket: 5 then 429")
        t.is_(got[5][1]["error"]["code"], "rate_limit_exceeded", "429 code rate_limit_exceeded")
        t.is_([g[2]["RateLimit-Remaining"] for g in got[:5]], ["4", "3", "2", "1", "0"], "RateLimit-Remaining")
        reset = int(got[6][2]["RateLimit-Reset"])
        t.ok(time.time() + 5 <= reset <= time.time() + 13, "RateLimit-Reset is when the bucket is full")
        time.sleep(2.1)
        t.is_(sim.api("GET", "/locations")[0], 200, "bucket refills")
        sim.configure({"rate_limit": {"capacity": 3600, "refill_per_sec": 1}})
        st, body, _ = sim.api("GET", "/pricing")
        t.is_((body["pricing"]["currency"], body["pricing"]["vat_rate"]), ("EUR", "19.00"), "pricing")

    # --watch-pid: the simulator shuts down when the watched process is gone
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory(prefix="sim-watch-") as d:
        sleeper = subprocess.Popen(["sleep", "60"])
        simp = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                              "hcloud_sim.py"),
                                 "--state-dir", d, "--machines", "none", "--watch-pid", str(sleeper.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 20
            while not os.path.exists(os.path.join(d, "endpoint")) and time.time() < deadline:
                time.sleep(0.02)
            t.ok(os.path.exists(os.path.join(d, "endpoint")), "--watch-pid: simulator started")
            sleeper.kill()
            sleeper.wait()
            try:
                rc = simp.wait(timeout=10)
            except subprocess.TimeoutExpired:
                rc = None
            t.is_(rc, 0, "--watch-pid: clean exit once the watched process is gone")
        finally:
            for p in (sleeper, simp):
                if p.poll() is None:
                    p.kill()
                    p.wait()
    return t.done()


if __name__ == "__main__":
    sys.exit(main())

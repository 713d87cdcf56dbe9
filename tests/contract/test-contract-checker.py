#!/usr/bin/env python3
"""The contract checker itself (issue 12): deliberately wrong requests and
answers fail, naming operation and field; right ones pass; the log test
fails on a log with one wrong request; the simulator answers in today's
shape (location, no datacenter; server types with locations[], no
included_traffic), in the older shape with legacy_datacenter, and records a
wrong answer of its own as a violation.  No root needed (--machines none).
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "sim"))
from openapi_check import Spec, check_log_record  # noqa: E402
from simharness import Simulator, Tap  # noqa: E402

LOC = {"id": 1, "name": "fsn1", "description": "Falkenstein DC Park 1", "country": "DE",
       "city": "Falkenstein", "latitude": 50.47612, "longitude": 12.370071,
       "network_zone": "eu-central"}


def has(errs, *needles):
    return any(all(n in e for n in needles) for e in errs)


def check_requests(tap, spec):
    good = {"name": "cargo-burst-x", "server_type": "cpx31", "image": "161547269",
            "location": "fsn1", "ssh_keys": ["1001"], "user_data": "#cloud-config\n",
            "labels": {"managed-by": "cargo-burst"}, "start_after_create": True, "volumes": [7]}
    e = spec.check_request("POST", "/v1/servers", {}, good)
    tap.ok(e == [], "a right create_server request passes (%s)" % e[:2])
    e = spec.check_request("POST", "/v1/servers", {}, dict(good, colour="red"))
    tap.ok(has(e, "create_server request", "body.colour", "unknown property"),
           "an unknown body field fails, naming operation and field (%s)" % e[:1])
    bad = dict(good)
    del bad["name"]
    e = spec.check_request("POST", "/v1/servers", {}, bad)
    tap.ok(has(e, "create_server request", "body.name", "required"), "a missing required field fails")
    e = spec.check_request("POST", "/v1/servers", {}, dict(good, start_after_create="yes"))
    tap.ok(has(e, "body.start_after_create", "boolean"), "a wrong type fails (%s)" % e[:1])
    bad = dict(good, datacenter="fsn1-dc14")
    del bad["location"]
    e = spec.check_request("POST", "/v1/servers", {}, bad)
    tap.ok(has(e, "body.datacenter", "deprecated"), "a deprecated field fails (%s)" % e[:1])
    e = spec.check_request("POST", "/v1/volumes", {}, {"name": "v", "size": 10, "location": "fsn1",
                                                       "automount": "no"})
    tap.ok(has(e, "create_volume request", "body.automount", "boolean"),
           "create_volume: a wrong type fails (%s)" % e[:1])
    e = spec.check_request("GET", "/v1/servers", {"name": ["x"], "label_selector": ["a==b"],
                                                  "page": ["1"], "per_page": ["50"]}, None)
    tap.ok(e == [], "list_servers with its own query and pagination passes (%s)" % e[:2])
    e = spec.check_request("GET", "/v1/servers", {"colour": ["red"]}, None)
    tap.ok(has(e, "list_servers request", "query.colour"), "a foreign query parameter fails")
    e = spec.check_request("GET", "/v1/servers", {"sort": ["colour:asc"]}, None)
    tap.ok(has(e, "query.sort"), "a query value outside its enum fails (%s)" % e[:1])
    e = spec.check_request("GET", "/v1/servers/abc", {}, None)
    tap.ok(has(e, "get_server request", "path.id", "integer"), "a non-integer path id fails (%s)" % e[:1])
    e = spec.check_request("PATCH", "/v1/servers/1", {}, {})
    tap.ok(has(e, "no such operation"), "an undocumented method fails")
    e = spec.check_request("GET", "/v1/teleport", {}, None)
    tap.ok(has(e, "no such operation"), "an undocumented path fails")
    e = spec.check_request("GET", "/v1/servers/actions", {}, None)
    tap.ok(e == [], "a literal path wins over a template (/servers/actions) (%s)" % e[:1])
    e = spec.check_request("POST", "/v1/volumes/5/actions/attach", {}, {"server": 42, "automount": False})
    tap.ok(e == [], "attach_volume_to_server request passes (%s)" % e[:1])


def server_obj(**over):
    s = {"id": 42, "name": "x", "status": "running", "created": "2026-09-01T10:00:00+00:00",
         "public_net": {"ipv4": {"id": 1, "ip": "127.0.0.2", "blocked": False, "dns_ptr": "a"},
                        "ipv6": None, "floating_ips": [], "firewalls": []},
         "private_net": [], "server_type": None, "image": None, "iso": None,
         "labels": {}, "location": LOC, "locked": False, "backup_window": None,
         "outgoing_traffic": 0, "ingoing_traffic": 0, "included_traffic": 0,
         "primary_disk_size": 40, "protection": {"delete": False, "rebuild": False},
         "rescue_enabled": False, "load_balancers": [], "volumes": [], "placement_group": None}
    s.update(over)
    return s


def check_responses(tap, spec):
    st = {"id": 22, "name": "cpx11", "description": "CPX11", "cores": 2, "memory": 2.0, "disk": 40,
          "deprecated": False, "deprecation": None, "cpu_type": "shared", "architecture": "x86",
          "storage_type": "local", "category": "regular_purpose",
          "prices": [{"location": "fsn1", "included_traffic": 1,
                      "price_hourly": {"net": "1", "gross": "1"},
                      "price_monthly": {"net": "1", "gross": "1"},
                      "price_per_tb_traffic": {"net": "1", "gross": "1"}}],
          "locations": [{"id": 1, "name": "fsn1", "deprecation": None}]}
    ok_server = server_obj(server_type=st)
    e = spec.check_response("GET", "/v1/servers/42", 200, {"server": ok_server})
    tap.ok(e == [], "a server in today's shape (location, no datacenter) passes (%s)" % e[:2])
    bad = dict(ok_server)
    del bad["location"]
    e = spec.check_response("GET", "/v1/servers/42", 200, {"server": bad})
    tap.ok(has(e, "get_server response 200", "body.server.location", "required"),
           "a server without location fails (%s)" % e[:1])
    e = spec.check_response("GET", "/v1/servers/42", 200,
                            {"server": server_obj(server_type=dict(st, included_traffic=5))})
    tap.ok(has(e, "body.server.server_type.included_traffic", "unknown property"),
           "server_type.included_traffic (gone) fails (%s)" % e[:1])
    no_locs = dict(st)
    del no_locs["locations"]
    e = spec.check_response("GET", "/v1/server_types", 200,
                            {"server_types": [no_locs], "meta": {"pagination": {
                                "page": 1, "per_page": 25, "previous_page": None, "next_page": None,
                                "last_page": 1, "total_entries": 1}}})
    tap.ok(has(e, "list_server_types response 200", "locations", "required"),
           "a server type without locations[] fails (%s)" % e[:1])
    e = spec.check_response("GET", "/v1/servers/42", 200, {"server": server_obj(server_type=st, status="asleep")})
    tap.ok(has(e, "body.server.status", "asleep"), "a status outside the enum fails")
    e = spec.check_response("GET", "/v1/servers/42", 200, {"server": server_obj(server_type=st, id="42")})
    tap.ok(has(e, "body.server.id", "integer"), "a string id fails")
    e = spec.check_response("GET", "/v1/servers/42", 200, {"server": server_obj(server_type=st, created="yesterday")})
    tap.ok(has(e, "body.server.created", "date-time"), "a bad timestamp fails")
    e = spec.check_response("GET", "/v1/servers/42", 404,
                            {"error": {"code": "not_found", "message": "no", "details": {}}})
    tap.ok(e == [], "an error in the documented envelope passes (%s)" % e[:1])
    e = spec.check_response("GET", "/v1/servers/42", 404, {"code": "not_found"})
    tap.ok(has(e, "body.error", "required") or has(e, "body.code", "unknown"),
           "an error outside the envelope fails (%s)" % e[:1])
    e = spec.check_response("DELETE", "/v1/volumes/5", 204, None)
    tap.ok(e == [], "DELETE /volumes/{id} 204 without a body passes (%s)" % e[:1])
    e = spec.check_response("GET", "/v1/servers/42", 302, None)
    tap.ok(has(e, "status 302 is not documented"), "an undocumented status fails")


def check_log_test(tap):
    d = tempfile.mkdtemp(prefix="contract-log-")
    try:
        with open(os.path.join(d, "sim-1-1.jsonl"), "w") as f:
            f.write(json.dumps({"method": "GET", "path": "/v1/servers", "query": {}, "body": None,
                                "status": 200, "auth": "present"}) + "\n")
            f.write(json.dumps({"method": "POST", "path": "/v1/volumes", "query": {},
                                "body": {"name": "v", "size": "10", "location": "fsn1"},
                                "status": 201, "auth": "present"}) + "\n")
        p = subprocess.run([sys.executable, os.path.join(HERE, "test-contract-logs.py")],
                           env=dict(os.environ, BURST_CONTRACT_LOG_DIR=d),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        tap.ok(p.returncode != 0 and "create_volume request" in out and "body.size" in out,
               "the log test fails on a logged wrong request, naming operation and field")
        if p.returncode == 0:
            tap.diag(out)
        # a harness call is not the client's: only its answer counts
        rec = {"method": "POST", "path": "/v1/volumes", "body": {"bogus": 1}, "by": "harness"}
        tap.ok(check_log_record(Spec(), rec) == [], "the test's own set-up calls are not judged as the client's")
        rec = {"method": "GET", "path": "/v1/servers", "query": {}, "contract": ["list_servers response 200: x"]}
        tap.ok(check_log_record(Spec(), rec) == ["list_servers response 200: x"],
               "violations the simulator recorded in its log count")
        tap.ok(not os.path.exists(d) and os.path.isdir(d + ".checked"),
               "checked logs move aside, so the next run starts afresh")
        empty = d
        os.mkdir(empty)
        p = subprocess.run([sys.executable, os.path.join(HERE, "test-contract-logs.py")],
                           env=dict(os.environ, BURST_CONTRACT_LOG_DIR=empty),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        tap.ok(p.returncode != 0, "an empty log directory (and nothing to drive) is a failure, not a pass")
    finally:
        subprocess.run(["rm", "-rf", d, d + ".checked"])


def check_simulator(tap):
    env_dir = tempfile.mkdtemp(prefix="contract-sim-log-")
    old = os.environ.get("BURST_CONTRACT_LOG_DIR")
    os.environ["BURST_CONTRACT_LOG_DIR"] = env_dir
    os.environ.setdefault("BURST_CONTRACT_SPEC", os.path.join(HERE, "hcloud-openapi.json"))
    try:
        with Simulator(machines="none", config={"deprecated_types": [
                {"server_type": "cpx31", "location": "fsn1"}]}) as sim:
            st, body, _ = sim.api("POST", "/servers", {"name": "a", "server_type": "cpx11",
                                                       "image": "ubuntu-24.04", "location": "nbg1"})
            srv = (body or {}).get("server") or {}
            tap.ok(st == 201 and srv.get("location", {}).get("name") == "nbg1" and "datacenter" not in srv,
                   "today's shape: server.location, no datacenter")
            st, body, _ = sim.api("GET", "/server_types?name=cpx31")
            t = ((body or {}).get("server_types") or [{}])[0]
            locs = {x["name"]: x["deprecation"] for x in t.get("locations", [])}
            tap.ok("included_traffic" not in t and locs.get("nbg1", 1) is None and
                   (locs.get("fsn1") or {}).get("unavailable_after"),
                   "server types: locations[] with a per-location deprecation, no included_traffic")
            st, body, _ = sim.api("POST", "/servers", {"name": "b", "server_type": "cpx31",
                                                       "image": "ubuntu-24.04", "location": "fsn1"})
            tap.ok(st == 422 and "server_type" in json.dumps(body),
                   "a type past its unavailable_after in a location cannot be created there")
            sim.configure({"faults": [{"method": "GET", "path": "/servers", "status": 200, "code": "bogus"}]})
            sim.api("GET", "/servers")
            recs = [r for r in sim.requests() if r["method"] == "GET" and r["path"] == "/v1/servers"]
            tap.ok(recs and any("list_servers response 200" in v for v in recs[-1].get("contract", [])),
                   "the simulator records a wrong answer of its own as a violation")
            ok_recs = [r for r in sim.requests() if r["path"] != "/v1/servers" or r["method"] != "GET"]
            tap.ok(ok_recs and not any(r.get("contract") for r in ok_recs),
                   "its other answers keep the contract (%s)"
                   % [r.get("contract") for r in ok_recs if r.get("contract")][:1])
            sim.configure({"legacy_datacenter": True})
            st, body, _ = sim.api("GET", "/servers/%d" % srv.get("id", 0))
            srv = (body or {}).get("server") or {}
            tap.ok(srv.get("datacenter", {}).get("location", {}).get("name") == "nbg1" and
                   "location" not in srv, "legacy_datacenter: the older shape (datacenter, no location)")
        logs = os.listdir(env_dir)
        tap.ok(len(logs) == 1, "the simulator copied its request log to BURST_CONTRACT_LOG_DIR (%s)" % logs)
    finally:
        if old is None:
            del os.environ["BURST_CONTRACT_LOG_DIR"]
        else:
            os.environ["BURST_CONTRACT_LOG_DIR"] = old
        subprocess.run(["rm", "-rf", env_dir])


def main():
    tap = Tap()
    tap.plan(14 + 11 + 5 + 7)
    spec = Spec()
    check_requests(tap, spec)
    check_responses(tap, spec)
    check_log_test(tap)
    check_simulator(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

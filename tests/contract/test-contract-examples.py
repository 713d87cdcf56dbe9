#!/usr/bin/env python3
"""The client's decoders against the contract's own examples (issue 12).

For every operation the client uses, the answer example of the vendored
contract (the documented example; where the operation documents none, the
one assembled from its schema's property examples) goes through the
client's decoders (hcloud-decode, argv[1]), and every field the tool relies
on must come out as the example says: ids, names, statuses, the server's
IPv4 and location, volume attachment, image and action fields, server type
locations and prices.  Each server is also decoded without its deprecated
`datacenter` (the shape after 1 July 2026): the location must not change.
"""

import copy
import json
import os
import subprocess
import sys
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "sim"))
from openapi_check import Spec  # noqa: E402
from simharness import Tap  # noqa: E402

# operation: (method, path, status, [(kind, key in the answer, list?)])
OPS = [
    ("list_servers", "GET", "/servers", 200, [("server", "servers", True)]),
    ("get_server", "GET", "/servers/42", 200, [("server", "server", False)]),
    ("create_server", "POST", "/servers", 201, [("server", "server", False), ("action", "action", False),
                                                ("action", "next_actions", True)]),
    ("replace_server", "PUT", "/servers/42", 200, [("server", "server", False)]),
    ("delete_server", "DELETE", "/servers/42", 200, [("action", "action", False)]),
    ("power_on_server", "POST", "/servers/42/actions/poweron", 201, [("action", "action", False)]),
    ("power_off_server", "POST", "/servers/42/actions/poweroff", 201, [("action", "action", False)]),
    ("shutdown_server", "POST", "/servers/42/actions/shutdown", 201, [("action", "action", False)]),
    ("create_image_from_server", "POST", "/servers/42/actions/create_image", 201,
     [("image", "image", False), ("action", "action", False)]),
    ("list_actions_for_server", "GET", "/servers/42/actions", 200, [("action", "actions", True)]),
    ("list_images", "GET", "/images", 200, [("image", "images", True)]),
    ("get_image", "GET", "/images/42", 200, [("image", "image", False)]),
    ("replace_image", "PUT", "/images/42", 200, [("image", "image", False)]),
    ("list_volumes", "GET", "/volumes", 200, [("volume", "volumes", True)]),
    ("get_volume", "GET", "/volumes/42", 200, [("volume", "volume", False)]),
    ("create_volume", "POST", "/volumes", 201, [("volume", "volume", False), ("action", "action", False),
                                                ("action", "next_actions", True)]),
    ("replace_volume", "PUT", "/volumes/42", 200, [("volume", "volume", False)]),
    ("attach_volume_to_server", "POST", "/volumes/42/actions/attach", 201, [("action", "action", False)]),
    ("detach_volume", "POST", "/volumes/42/actions/detach", 201, [("action", "action", False)]),
    ("list_actions_for_volume", "GET", "/volumes/42/actions", 200, [("action", "actions", True)]),
    ("list_ssh_keys", "GET", "/ssh_keys", 200, [("ssh_key", "ssh_keys", True)]),
    ("create_ssh_key", "POST", "/ssh_keys", 201, [("ssh_key", "ssh_key", False)]),
    ("get_multiple_actions", "GET", "/actions", 200, [("action", "actions", True)]),
    ("get_action", "GET", "/actions/42", 200, [("action", "action", False)]),
    ("list_locations", "GET", "/locations", 200, [("location", "locations", True)]),
    ("list_data_centers", "GET", "/datacenters", 200, [("datacenter", "datacenters", True)]),
    ("list_server_types", "GET", "/server_types", 200, [("server_type", "server_types", True)]),
    ("list_prices", "GET", "/pricing", 200, [("pricing", "pricing", False)]),
]


def synth(spec, schema, depth=0):
    """An example value from the schema: its own example, else one built
    from the property examples (every property), else a typed placeholder."""
    s = spec.flat(schema)
    if "example" in s:
        return copy.deepcopy(s["example"])
    if depth > 12:
        return None
    for key in ("oneOf", "anyOf"):
        if key in s:
            return synth(spec, s[key][0], depth + 1)
    t = s.get("type")
    if t == "object" or "properties" in s:
        return {k: synth(spec, v, depth + 1) for k, v in (s.get("properties") or {}).items()}
    if t == "array":
        return [synth(spec, s.get("items") or {}, depth + 1)]
    if "enum" in s:
        return s["enum"][0]
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": False}.get(t)


def example(spec, method, path, status):
    ex = spec.examples(method, path, str(status))
    if ex:
        name = sorted(ex)[0]
        return ex[name], "documented example '%s'" % name
    found = spec.operation(method, path)
    resp = spec.resolve(found[1]["responses"][str(status)])
    schema = resp["content"]["application/json"]["schema"]
    return synth(spec, schema), "assembled from the schema's property examples"


def epoch(s):
    if not isinstance(s, str):
        return 0
    try:
        return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def name_of(o):
    return o.get("name") if isinstance(o, dict) else None


def labels(o):
    lab = o.get("labels")
    return {k: (v if isinstance(v, str) else "") for k, v in lab.items()} if isinstance(lab, dict) else {}


def ids(lst):
    out = []
    for x in lst or []:
        if isinstance(x, dict):
            x = x.get("id")
        if isinstance(x, int) and not isinstance(x, bool) and x:
            out.append(x)
    return out


def arch_of(st):
    """server_type.architecture as the client keeps it: "x86" or "arm",
    "unknown" for any other value, None when absent or null."""
    a = st.get("architecture") if isinstance(st, dict) else None
    if a is None:
        return None
    return a if a in ("x86", "arm") else "unknown"


def want_server(o):
    ipv4 = (o.get("public_net") or {}).get("ipv4")
    loc = name_of(o.get("location")) or name_of((o.get("datacenter") or {}).get("location"))
    img = o.get("image")
    return {"id": o.get("id"), "name": o.get("name"), "status": o.get("status"),
            "ipv4": ipv4.get("ip") if isinstance(ipv4, dict) else None,
            "location": loc, "datacenter": name_of(o.get("datacenter")),
            "server_type": name_of(o.get("server_type")),
            "architecture": arch_of(o.get("server_type")),
            "image_id": img.get("id") if isinstance(img, dict) else 0,
            "labels": labels(o), "volumes": ids(o.get("volumes")),
            "created": epoch(o.get("created")), "locked": o.get("locked") is True}


def want_volume(o):
    srv = o.get("server")
    return {"id": o.get("id"), "name": o.get("name"), "status": o.get("status"),
            "server": (srv.get("id") if isinstance(srv, dict) else srv) or 0,
            "location": name_of(o.get("location")), "size": o.get("size"),
            "linux_device": o.get("linux_device"), "format": o.get("format"),
            "labels": labels(o), "created": epoch(o.get("created"))}


def want_image(o):
    cf = o.get("created_from")
    return {"id": o.get("id"), "type": o.get("type"), "status": o.get("status"),
            "name": o.get("name"), "description": o.get("description"), "labels": labels(o),
            "created": epoch(o.get("created")), "image_size": o.get("image_size") or 0,
            "disk_size": o.get("disk_size") or 0,
            "created_from": (cf.get("id") if isinstance(cf, dict) else 0) or 0,
            "architecture": o.get("architecture")}


def want_ssh_key(o):
    return {k: o.get(k) for k in ("id", "name", "fingerprint", "public_key")} | {"labels": labels(o)}


def want_action(o):
    err = o.get("error") if o.get("status") == "error" else None
    return {"id": o.get("id"), "command": o.get("command"), "status": o.get("status"),
            "progress": o.get("progress"), "error_code": (err or {}).get("code"),
            "started": epoch(o.get("started")), "finished": epoch(o.get("finished")),
            "resources": [{"id": r.get("id"), "type": r.get("type")} for r in o.get("resources") or []]}


def want_prices(lst):
    out = []
    for p in lst or []:
        h, m = p.get("price_hourly") or {}, p.get("price_monthly") or {}
        out.append({"location": p.get("location"), "hourly_net": h.get("net"),
                    "hourly_gross": h.get("gross"), "monthly_net": m.get("net"),
                    "monthly_gross": m.get("gross")})
    return out


def want_server_type(o):
    locs = []
    for loc in o.get("locations") or []:
        dep = loc.get("deprecation")
        locs.append({"id": loc.get("id"), "name": loc.get("name"), "deprecated": isinstance(dep, dict),
                     "unavailable_after": epoch((dep or {}).get("unavailable_after"))})
    return {"id": o.get("id"), "name": o.get("name"), "cores": o.get("cores"),
            "memory": o.get("memory"), "disk": o.get("disk"), "cpu_type": o.get("cpu_type"),
            "architecture": o.get("architecture"), "prices": want_prices(o.get("prices")),
            "locations": locs}


def want_location(o):
    return {k: o.get(k) for k in ("id", "name", "country", "city", "network_zone")}


def want_datacenter(o):
    return {"id": o.get("id"), "name": o.get("name"), "location": name_of(o.get("location")),
            "available": ids((o.get("server_types") or {}).get("available"))}


def want_pricing(o):
    return {"currency": o.get("currency"), "vat_rate": o.get("vat_rate"),
            "volume_monthly_net": ((o.get("volume") or {}).get("price_per_gb_month") or {}).get("net"),
            "image_monthly_net": ((o.get("image") or {}).get("price_per_gb_month") or {}).get("net"),
            "server_types": [{"name": t.get("name"), "prices": want_prices(t.get("prices"))}
                             for t in o.get("server_types") or []]}


WANT = {"server": want_server, "volume": want_volume, "image": want_image, "ssh_key": want_ssh_key,
        "action": want_action, "server_type": want_server_type, "location": want_location,
        "datacenter": want_datacenter, "pricing": want_pricing}


def decode(tool, kind, obj):
    p = subprocess.run([tool, kind], input=json.dumps(obj).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        return None, p.stderr.decode(errors="replace").strip()
    return json.loads(p.stdout), None


def same(got, want):
    """Fields of want in got; numbers compared as numbers."""
    diffs = []
    for k, w in want.items():
        g = got.get(k)
        if isinstance(w, float) or isinstance(g, float):
            if w is None or g is None or abs(float(g) - float(w)) > 1e-9:
                diffs.append("%s: got %r, want %r" % (k, g, w))
        elif isinstance(w, list) and w and isinstance(w[0], dict):
            if not isinstance(g, list) or len(g) != len(w):
                diffs.append("%s: got %r, want %r" % (k, g, w))
            else:
                for i, (gi, wi) in enumerate(zip(g, w)):
                    diffs += ["%s[%d].%s" % (k, i, d) for d in same(gi, wi)]
        elif g != w:
            diffs.append("%s: got %r, want %r" % (k, g, w))
    return diffs


def main():
    tap = Tap()
    if len(sys.argv) < 2:
        tap.plan(1)
        tap.ok(False, "usage: test-contract-examples.py HCLOUD-DECODE")
        return tap.done()
    tool = sys.argv[1]
    spec = Spec()
    tap.plan(len(OPS) + 2)
    servers = 0
    for name, method, path, status, parts in OPS:
        found = spec.operation(method, path)
        if not found or found[1].get("operationId") != name:
            tap.ok(False, "%s is %s %s in the contract" % (name, method, path))
            continue
        body, origin = example(spec, method, path, status)
        diffs, n = [], 0
        for kind, key, many in parts:
            objs = (body or {}).get(key)
            objs = objs if many else [objs]
            for i, o in enumerate(objs or []):
                if not isinstance(o, dict):
                    continue
                variants = [("", o)]
                if kind == "server":
                    servers += 1
                    if "datacenter" in o:
                        today = dict(o)
                        del today["datacenter"]
                        variants.append((" (without datacenter)", today))
                for label, v in variants:
                    got, err = decode(tool, kind, v)
                    n += 1
                    if got is None:
                        diffs.append("%s[%d]%s: decoder refused it: %s" % (key, i, label, err))
                        continue
                    diffs += ["%s[%d]%s.%s" % (key, i, label, d) for d in same(got, WANT[kind](v))]
        if not tap.ok(n > 0 and not diffs, "%s (%s): %d objects decode as the example says"
                      % (name, origin, n)):
            for d in diffs[:10]:
                tap.diag(d)
    tap.ok(servers > 0, "server examples were among them (%d)" % servers)
    # the documented create_server example names its location in both places
    body, _ = example(spec, "POST", "/servers", 201)
    srv = dict(body["server"])
    srv.pop("datacenter", None)
    got, _ = decode(tool, "server", srv)
    tap.ok(got and got["location"] == srv["location"]["name"] and got["datacenter"] is None,
           "the documented server without datacenter keeps its location (%s)" % (got or {}).get("location"))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

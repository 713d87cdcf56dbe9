"""openapi_check.py - hold requests and responses to Hetzner's published API
contract (tests/contract/hcloud-openapi.json, OpenAPI 3.0).  Python 3 stdlib.

    spec = Spec()                                   # the vendored file
    spec.check_request("POST", "/servers", {"name": ["x"]}, body)   -> [violation]
    spec.check_response("GET", "/servers/42", 200, obj)             -> [violation]

Paths are relative to /v1 (a leading /v1 is dropped).  A violation is a
string "OPERATION: where: what", e.g.
"create_server request: body.datacenter: deprecated property".

The OpenAPI subset: $ref, type, nullable, required, properties,
additionalProperties, items, enum, allOf/oneOf/anyOf (oneOf like anyOf: at
least one branch), format date-time, pattern.  Strictness beyond the file:

- unknown properties are violations in requests and in responses (the file
  never says additionalProperties: false; Hetzner may add fields, but the
  client must not send what is not documented and the simulator must not
  invent fields the client could come to rely on);
- a property marked `deprecated` is never required (the API may drop it:
  `server.datacenter` is gone after 1 July 2026), and sending one in a
  request is a violation;
- error answers (4xx/5xx) must be the documented envelope
  {"error": {"code", "message", "details"}}.
"""

import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SPEC = os.path.join(HERE, "hcloud-openapi.json")

# always accepted on list operations (documented under "Pagination")
PAGINATION = ("page", "per_page")

_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$")


def _kind(v):
    if v is None:
        return "null"
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](v):
            return name
    return type(v).__name__


class Spec:
    def __init__(self, path=None):
        path = path or os.environ.get("BURST_CONTRACT_SPEC") or DEFAULT_SPEC
        with open(path) as f:
            self.doc = json.load(f)
        self.schemas = self.doc.get("components", {}).get("schemas", {})
        self._routes = []
        for tmpl, item in self.doc.get("paths", {}).items():
            names = re.findall(r"{([^}]+)}", tmpl)
            rx = "^" + re.sub(r"\\{[^}]+\\}", "([^/]+)", re.escape(tmpl)) + "$"
            self._routes.append((len(names), tmpl, re.compile(rx), names, item))
        # literal segments win over templates (/servers/actions vs /servers/{id})
        self._routes.sort(key=lambda r: r[0])
        self._flat = {}

    # -- operations ----------------------------------------------------------
    def operation(self, method, path):
        """(template, operation dict, path params) or None."""
        path = _strip_v1(path)
        for _, tmpl, rx, names, item in self._routes:
            m = rx.match(path)
            if not m:
                continue
            op = item.get(method.lower())
            if op is None:
                continue
            return tmpl, op, dict(zip(names, m.groups())), item
        return None

    def op_name(self, method, path):
        found = self.operation(method, path)
        return found[1].get("operationId", "%s %s" % (method, found[0])) if found else None

    def parameters(self, item, op):
        out = {}
        for p in (item.get("parameters") or []) + (op.get("parameters") or []):
            p = self.resolve(p)
            out[(p.get("in"), p.get("name"))] = p
        return out

    # -- requests ------------------------------------------------------------
    def check_request(self, method, path, query=None, body=None):
        found = self.operation(method, path)
        if not found:
            return ["%s %s: no such operation in the contract" % (method, _strip_v1(path))]
        tmpl, op, pparams, item = found
        name = op.get("operationId", tmpl) + " request"
        errs = []
        params = self.parameters(item, op)
        for pname, value in pparams.items():
            p = params.get(("path", pname))
            if p:
                errs += self._check_param(name, "path." + pname, p, [value])
        for qname, values in (query or {}).items():
            if not isinstance(values, list):
                values = [values]
            p = params.get(("query", qname))
            if p is None:
                if qname in PAGINATION:
                    if not all(re.fullmatch(r"[0-9]+", str(v)) for v in values):
                        errs.append("%s: query.%s: not an integer" % (name, qname))
                    continue
                errs.append("%s: query.%s: not a parameter of this operation" % (name, qname))
                continue
            errs += self._check_param(name, "query." + qname, p, values)
        for (where, pname), p in params.items():
            if where == "query" and p.get("required") and pname not in (query or {}):
                errs.append("%s: query.%s: required parameter missing" % (name, pname))
        rb = op.get("requestBody")
        schema = None
        if rb:
            rb = self.resolve(rb)
            schema = (rb.get("content", {}).get("application/json") or {}).get("schema")
        if body is None:
            if rb and rb.get("required"):
                errs.append("%s: body: required request body missing" % name)
        elif schema is None:
            errs.append("%s: body: the operation takes no request body" % name)
        elif isinstance(body, str):
            errs.append("%s: body: not JSON" % name)
        else:
            errs += self.validate(schema, body, name + ": body", request=True)
        return errs

    def _check_param(self, name, where, p, values):
        schema = self.resolve(p.get("schema") or {})
        flat = self.flat(schema)
        errs = []
        item = self.flat(flat.get("items") or {}) if flat.get("type") == "array" else flat
        if flat.get("type") != "array" and len(values) > 1:
            errs.append("%s: %s: given %d times" % (name, where, len(values)))
        for v in values:
            t = item.get("type")
            if t == "integer" and not re.fullmatch(r"-?[0-9]+", str(v)):
                errs.append("%s: %s: %r is not an integer" % (name, where, v))
            elif t == "boolean" and str(v) not in ("true", "false"):
                errs.append("%s: %s: %r is not a boolean" % (name, where, v))
            elif item.get("enum") and v not in item["enum"]:
                errs.append("%s: %s: %r not one of %s" % (name, where, v, item["enum"]))
        return errs

    # -- responses -----------------------------------------------------------
    def check_response(self, method, path, status, body):
        found = self.operation(method, path)
        if not found:
            return ["%s %s: no such operation in the contract" % (method, _strip_v1(path))]
        tmpl, op, _, _ = found
        name = "%s response %s" % (op.get("operationId", tmpl), status)
        responses = op.get("responses") or {}
        resp = responses.get(str(status)) or responses.get("%dxx" % (int(status) // 100))
        if resp is None:
            return ["%s: status %s is not documented for this operation" % (name, status)]
        resp = self.resolve(resp)
        content = (resp.get("content") or {}).get("application/json")
        if content is None:
            if body not in (None, b"", ""):
                return ["%s: body: the contract documents no body" % name]
            return []
        if body is None:
            return ["%s: body: missing" % name]
        return self.validate(content.get("schema") or {}, body, name + ": body")

    def examples(self, method, path, status="200"):
        """The documented example answers of an operation: {name: value}."""
        found = self.operation(method, path)
        if not found:
            return {}
        resp = self.resolve((found[1].get("responses") or {}).get(str(status)) or {})
        content = (resp.get("content") or {}).get("application/json") or {}
        out = {k: self.resolve(v).get("value") for k, v in (content.get("examples") or {}).items()}
        if "example" in content:
            out["example"] = content["example"]
        return out

    # -- schemas -------------------------------------------------------------
    def resolve(self, s):
        seen = 0
        while isinstance(s, dict) and "$ref" in s:
            ref = s["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("external $ref %s" % ref)
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            s = node
            seen += 1
            if seen > 64:
                raise ValueError("$ref loop at %s" % ref)
        return s

    def flat(self, s):
        """s with $ref resolved and allOf merged (properties, required, type...)."""
        s = self.resolve(s)
        if not isinstance(s, dict) or "allOf" not in s:
            return s if isinstance(s, dict) else {}
        key = id(s)
        if key in self._flat:
            return self._flat[key]
        out = {k: v for k, v in s.items() if k != "allOf"}
        props = dict(out.get("properties") or {})
        req = list(out.get("required") or [])
        for part in s["allOf"]:
            part = self.flat(part)
            for k, v in part.items():
                if k == "properties":
                    props.update(v)
                elif k == "required":
                    req += [r for r in v if r not in req]
                elif k in ("nullable", "description", "deprecated"):
                    if k not in out:
                        out[k] = v
                else:
                    out.setdefault(k, v)
        if props:
            out["properties"] = props
        if req:
            out["required"] = req
        self._flat[key] = out
        return out

    def validate(self, schema, value, where, request=False):
        s = self.flat(schema)
        if value is None:
            if s.get("nullable") or not s:
                return []
            return ["%s: null where %s is expected" % (where, s.get("type", "a value"))]
        for key in ("oneOf", "anyOf"):
            if key in s:
                branch_errs = []
                for b in s[key]:
                    e = self.validate(b, value, where, request)
                    if not e:
                        branch_errs = None
                        break
                    branch_errs.append(e)
                if branch_errs is not None:
                    best = min(branch_errs, key=len)
                    return ["%s: matches no branch of %s (closest: %s)" % (where, key, best[0])]
        t = s.get("type")
        if t and t in _TYPES and not _TYPES[t](value):
            return ["%s: %s where %s is expected" % (where, _kind(value), t)]
        errs = []
        if "enum" in s and value not in s["enum"]:
            errs.append("%s: %r not one of %s" % (where, value, s["enum"]))
        if isinstance(value, str):
            if s.get("format") == "date-time" and not _DATE_TIME.match(value):
                errs.append("%s: %r is not an RFC 3339 date-time" % (where, value))
            pat = s.get("pattern")
            if pat:
                try:
                    if not re.search(pat, value):
                        errs.append("%s: %r does not match %s" % (where, value, pat))
                except re.error:
                    pass
        if isinstance(value, list) and "items" in s:
            for i, v in enumerate(value):
                errs += self.validate(s["items"], v, "%s[%d]" % (where, i), request)
        if isinstance(value, dict) and (t == "object" or "properties" in s):
            props = s.get("properties") or {}
            for r in s.get("required") or []:
                if r in value:
                    continue
                if self.flat(props.get(r) or {}).get("deprecated") or (props.get(r) or {}).get("deprecated"):
                    continue
                errs.append("%s.%s: required property missing" % (where, r))
            addl = s.get("additionalProperties")
            for k, v in value.items():
                if k in props:
                    p = props[k]
                    if request and (p.get("deprecated") or self.flat(p).get("deprecated")):
                        errs.append("%s.%s: deprecated property" % (where, k))
                    errs += self.validate(p, v, "%s.%s" % (where, k), request)
                elif isinstance(addl, dict):
                    errs += self.validate(addl, v, "%s.%s" % (where, k), request)
                elif addl is True or (addl is None and not props and t == "object"
                                      and "properties" not in s):
                    continue  # a free-form object
                else:
                    errs.append("%s.%s: unknown property" % (where, k))
        return errs


def _strip_v1(path):
    path = path.split("?", 1)[0]
    if path.startswith("/v1/") or path == "/v1":
        path = path[3:] or "/"
    return path


def check_log_record(spec, rec):
    """Violations of one simulator request-log record (its request, and the
    response violations the simulator recorded in it)."""
    errs = list(rec.get("contract") or [])
    if rec.get("by") == "harness":
        return errs  # the test's own set-up calls, not the client's
    body = rec.get("body")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            pass
    errs += spec.check_request(rec.get("method", "?"), rec.get("path", "?"),
                               rec.get("query") or {}, body)
    return errs


#!/usr/bin/env python3
"""test-config-cli.py - `cargo burst config` through the built binary: the
layers seen from a real cargo project, sources, --json, redaction of the
token (also in traces), the permission warnings, the endpoint rule, the
bad-input messages with file:line:col and suggestions, and a hostile
project file (a cloned repository's) that tries to send the token or the
sources elsewhere: refused before any connection.  Everything happens in a
throw-away HOME with its own XDG_CONFIG_HOME; the recording stubs listen on
127.0.0.1 only.
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

BIN = os.environ.get("CARGO_BURST")
USAGE, CONFIG = 64, 78
TOKEN = "s3cr3t-T0KEN-abcdefghijklmnop"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap, skip_all  # noqa: E402

TAP = Tap()
ok = TAP.ok


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def run(args, env=None, cwd=None):
    e = dict(BASE_ENV)
    e.update(env or {})
    p = subprocess.run([BIN] + args, cwd=cwd or PROJ, env=e,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def expect(name, args, code, out=(), err=(), not_out=(), not_err=(), **kw):
    rc, so, se = run(args, **kw)
    info = "rc=%d\nstdout:\n%s\nstderr:\n%s" % (rc, so, se)
    ok(rc == code, "%s: exit %d" % (name, code), info)
    for s in out:
        ok(s in so, "%s: stdout has %r" % (name, s), info)
    for s in err:
        ok(s in se, "%s: stderr has %r" % (name, s), info)
    for s in not_out:
        ok(s not in so, "%s: stdout lacks %r" % (name, s), info)
    for s in not_err:
        ok(s not in se, "%s: stderr lacks %r" % (name, s), info)
    return rc, so, se


class Recorder:
    """A loopback HTTP server that records every request (and answers 401),
    or with raw=True a TCP listener that records every connection."""

    def __init__(self, raw=False):
        self.hits = []
        rec = self
        if raw:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.listen(8)
            self.sock.settimeout(0.2)
            self.port = self.sock.getsockname()[1]
            self.stop = False
            self.thread = threading.Thread(target=self._accept, daemon=True)
        else:
            class Handler(http.server.BaseHTTPRequestHandler):
                def _any(self):
                    rec.hits.append((self.command, self.path,
                                     self.headers.get("Authorization")))
                    body = b'{"error":{"code":"unauthorized","message":"no"}}'
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                do_GET = do_POST = do_PUT = do_DELETE = _any

                def log_message(self, *a):
                    pass
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                         Handler)
            self.port = self.httpd.server_address[1]
            self.thread = threading.Thread(target=self.httpd.serve_forever,
                                           daemon=True)
        self.raw = raw
        self.thread.start()

    def _accept(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits.append("connection")
            conn.close()

    def close(self):
        if self.raw:
            self.stop = True
            self.thread.join(10)
            self.sock.close()
        else:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(10)


def hostile_project(glob, proj):
    """A project file that would send the token or the sources elsewhere is
    refused with file:line:col before any connection; the same keys in the
    global file are used."""
    good, evil, evil_ssh = Recorder(), Recorder(), Recorder(raw=True)
    try:
        write(glob, '[hetzner]\ntoken = "%s"\nendpoint = '
              '"http://127.0.0.1:%d/v1"\n' % (TOKEN, good.port), 0o600)
        write(proj, 'volume_gb = 20\n[hetzner]\nendpoint = '
              '"http://127.0.0.1:%d/v1"\n' % evil.port)
        expect("hostile endpoint, build", ["build"], CONFIG,
               err=["error: %s:3:1: `hetzner.endpoint` is not allowed in the "
                    "project config: it decides where the API token is sent"
                    % proj, "help: ", "HCLOUD_ENDPOINT"],
               not_err=[TOKEN])
        ok(evil.hits == [], "hostile endpoint: no request reached it",
           evil.hits)
        ok(good.hits == [], "hostile endpoint: the run stopped before any "
           "request", good.hits)
        write(proj, 'host = "root@127.0.0.1:%d"\n' % evil_ssh.port)
        expect("hostile host, build", ["build"], CONFIG,
               err=["error: %s:1:1: `host` is not allowed in the project "
                    "config: it decides which machine gets your sources"
                    % proj, "--host"],
               env={"HCLOUD_TOKEN": ""})
        ok(evil_ssh.hits == [], "hostile host: no connection reached it",
           evil_ssh.hits)
        # the same host in the global file is the user's choice: used
        write(glob, 'host = "root@127.0.0.1:%d"\n' % evil_ssh.port, 0o600)
        os.unlink(proj)
        rc, so, se = run(["build"], env={"HCLOUD_TOKEN": ""})
        ok(rc != CONFIG and evil_ssh.hits,
           "host in the global file is connected to", "rc=%d\n%s" % (rc, se))
    finally:
        good.close()
        evil.close()
        evil_ssh.close()
        if os.path.exists(proj):
            os.unlink(proj)
        os.unlink(glob)


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        skip_all("CARGO_BURST is not set to the built binary")
    if not shutil.which("cargo", path=BASE_ENV["PATH"]):
        skip_all("cargo is not installed")
    glob = os.path.join(XDG, "cargo-burst", "config.toml")
    proj = os.path.join(PROJ, ".config", "cargo-burst.toml")

    # defaults, in a project without config files
    expect("defaults", ["config"], 0,
           out=["# global config: %s (not found)" % glob,
                "# project config: %s (not found)" % proj,
                "hetzner.token = not set\n",
                'hetzner.regions = ["hel1", "fsn1", "nbg1"] (default)\n',
                "volume_gb = 200 (default)\n"])
    # from a subdirectory, the workspace root is found
    expect("from a subdirectory", ["config"], 0,
           out=["# project config: %s (not found)" % proj],
           cwd=os.path.join(PROJ, "src"))

    # every layer
    write(glob, '# global\nkeep_alive_secs = 100\nforward_env = ["RUST_LOG", "FOO"]\n'
          'extra_excludes = ["*.log"]\n[hetzner]\ntoken = "%s"\n'
          'server_type = "cpx41"\nregions = ["fsn1", "nbg1"]\n' % TOKEN, 0o600)
    write(proj, 'volume_gb = 64\nforward_env = ["FOO", "BAR", "HOME"]\n'
          'extra_excludes = ["data/", "*.log"]\n[hetzner]\nregion = "hel1"\n')
    rc, so, se = expect(
        "layers", ["config", "--keep-alive", "900", "--env", "FOO=x",
                   "--env=NEW"], 0,
        out=["# global config: %s\n" % glob,
             "# project config: %s\n" % proj,
             "hetzner.token = set (from global config %s)\n" % glob,
             'hetzner.server_type = "cpx41" (global)\n',
             'hetzner.regions = ["hel1"] (project)\n',
             "keep_alive_secs = 900 (cli)\n",
             "volume_gb = 64 (project)\n",
             'forward_env = ["RUST_LOG", "FOO=x", "BAR", "NEW"] '
             '(global, project, cli)\n',
             'extra_excludes = ["*.log", "data/"] (global, project)\n',
             "ssh_port = 22 (default)\n"],
        err=["warning: not forwarding `HOME` (%s:2:30)" % proj],
        not_out=[TOKEN], not_err=[TOKEN])

    # what a run would forward now, and why
    fwd_env = {"RUSTFLAGS": "-D warnings", "NEXTEST_PROFILE": "ci", "CARGO_HOME": "/x",
               "CARGO_TERM_COLOR": "never", "HCLOUD_ENDPOINT": "http://127.0.0.1:9999/v1",
               "RUST_LOG": "info", "FOO": "1"}
    expect("forwarded_env", ["config"], 0,
           out=['forwarded_env = ["RUST_LOG" (global), "FOO" (global), '
                '"BAR" (project, not set here), '],
           env=fwd_env)
    rc, so, se = run(["config"], env=fwd_env)
    line = ([x for x in so.splitlines() if x.startswith("forwarded_env = ")] or [""])[0]
    ok('"RUSTFLAGS" (default)' in line and '"NEXTEST_PROFILE" (default)' in line,
       "forwarded_env: RUSTFLAGS and NEXTEST_PROFILE by default", line)
    ok("CARGO_HOME" not in line and "CARGO_TERM_COLOR" not in line and "HCLOUD" not in line,
       "forwarded_env: not CARGO_HOME, CARGO_TERM_COLOR, HCLOUD_*", line)
    rc, so, se = run(["config", "--json"], env=fwd_env)
    try:
        names = [e["name"] for e in json.loads(so)["forwarded_env"]
                 if e["source"] == "default"]
    except (ValueError, KeyError) as e:
        names = repr(e)
    ok(isinstance(names, list) and "RUSTFLAGS" in names and "CARGO_HOME" not in names,
       "--json: forwarded_env", names)

    # env layer: token and endpoint
    expect("env token", ["config"], 0,
           out=["hetzner.token = set (from env HCLOUD_TOKEN)\n",
                'hetzner.endpoint = "http://127.0.0.1:9999/v1" (env)\n'],
           not_out=["other-token-zz", TOKEN],
           env={"HCLOUD_TOKEN": "other-token-zz",
                "HCLOUD_ENDPOINT": "http://127.0.0.1:9999/v1/"})
    tokfile = os.path.join(HOME, "tok")
    write(tokfile, "file-token-qq\n", 0o600)
    expect("token file", ["config"], 0,
           out=["hetzner.token = set (from env HCLOUD_TOKEN_FILE (%s))" %
                tokfile], not_out=["file-token-qq"],
           env={"HCLOUD_TOKEN_FILE": tokfile})
    os.chmod(tokfile, 0o604)
    expect("token file readable by others", ["config"], 0,
           err=["warning: %s holds the API token and is readable by other "
                "users (mode 604); fix it with `chmod 600 %s`" % (tokfile,
                                                                   tokfile)],
           not_err=["file-token-qq"], env={"HCLOUD_TOKEN_FILE": tokfile})
    os.chmod(tokfile, 0o600)

    # JSON
    rc, so, se = run(["config", "--json"])
    try:
        doc = json.loads(so)
    except ValueError as e:
        doc = None
        ok(False, "--json parses", "%s\n%s" % (e, so))
    if doc is not None:
        keys = doc["keys"]
        ok(rc == 0, "--json: exit 0", se)
        ok(keys["volume_gb"] == {"value": 64, "source": "project"},
           "--json: volume_gb", keys.get("volume_gb"))
        ok(keys["hetzner.token"]["set"] is True and
           "value" not in keys["hetzner.token"], "--json: token not shown")
        ok(keys["forward_env"]["value"][0] == {"name": "RUST_LOG",
                                               "value": None},
           "--json: forward_env entries", keys["forward_env"])
        ok(doc["files"]["project"] == {"path": proj, "found": True},
           "--json: project file", doc["files"])
        ok(TOKEN not in so, "--json: token value absent")
        ok(doc.get("schema") == 1, "--json: schema 1", doc.get("schema"))

    # the token never shows up, not even in traces
    rc, so, se = run(["-vvv", "config"], env={"BURST_TRACE": "1"})
    ok(rc == 0 and TOKEN not in so + se, "trace output does not leak the token",
       se)

    # permission warning, with the exact fix
    os.chmod(glob, 0o644)
    expect("readable token file", ["config"], 0,
           err=["warning: %s holds the API token and is readable by other "
                "users (mode 644); fix it with `chmod 600 %s`" % (glob, glob)])
    os.chmod(glob, 0o600)
    expect("0600 token file", ["config"], 0, not_err=["chmod"])

    # endpoint rule
    expect("http endpoint to a remote host", ["config"], CONFIG,
           err=["error: HCLOUD_ENDPOINT 'http://api.example.com/v1' uses "
                "plain http for a host that is not loopback", "help: "],
           env={"HCLOUD_ENDPOINT": "http://api.example.com/v1"})
    expect("http endpoint on loopback", ["config"], 0,
           env={"HCLOUD_ENDPOINT": "http://localhost:8080"})

    # bad input, each with file:line:col
    cases = [
        ("unknown key", "volume_gb = 20\nkeep_alive = 5\n",
         ["error: %s:2:1: unknown key `keep_alive`" % proj,
          "help: did you mean `keep_alive_secs`?"]),
        ("unknown key in [hetzner]", "[hetzner]\nsever_type = \"x\"\n",
         ["error: %s:2:1: unknown key `hetzner.sever_type`" % proj,
          "help: did you mean `server_type`?"]),
        ("syntax error", "volume_gb = \n",
         ["error: %s:1:13: " % proj]),
        ("wrong type", "[hetzner]\nregions = 3\n",
         ["error: %s:2:1: wrong type for `hetzner.regions`: expected a string "
          "or an array of strings, found integer" % proj]),
        ("out of range", "volume_gb = 9\n",
         ["error: %s:1:1: `volume_gb` = 9 is out of range: expected 10 to "
          "10240" % proj]),
        ("token in the project", "[hetzner]\ntoken = \"abc-def-ghi\"\n",
         ["error: %s:2:1: the API token is not allowed in the project "
          "config" % proj, "HCLOUD_TOKEN", "global config"]),
        ("bad env name", "forward_env = [\"9LIVES\"]\n",
         ["error: %s:1:16: `9LIVES` in forward_env is not an environment "
          "variable name" % proj]),
        ("endpoint in the project", "[hetzner]\nendpoint = "
         "\"https://evil.example/v1\"\n",
         ["error: %s:2:1: `hetzner.endpoint` is not allowed in the project "
          "config: it decides where the API token is sent" % proj,
          "set `endpoint` under [hetzner] in the global config %s" % glob]),
        ("host in the project", "\n\nhost = \"me@build.example\"\n",
         ["error: %s:3:1: `host` is not allowed in the project config" % proj,
          "set `host` in the global config %s or --host" % glob]),
        ("ssh_user in the project", "ssh_user = \"git\"\n",
         ["error: %s:1:1: `ssh_user` is not allowed in the project config: "
          "it decides which ssh account" % proj]),
        ("ssh_port in the project", "volume_gb = 30\nssh_port = 2222\n",
         ["error: %s:2:1: `ssh_port` is not allowed in the project config"
          % proj]),
        ("ssh_key_path in the project", "ssh_key_path = \"~/.ssh/other\"\n",
         ["error: %s:1:1: `ssh_key_path` is not allowed in the project "
          "config: it decides which of your private keys is used" % proj]),
        ("newline in extra_excludes", "extra_excludes = [\"a\\n+ /x\"]\n",
         ["error: %s:1:19: an element of `extra_excludes` contains a control "
          "character (U+000A)" % proj]),
        ("CR in unexclude", "unexclude = [\"a\\r\"]\n",
         ["error: %s:1:14: an element of `unexclude` contains a control "
          "character (U+000D)" % proj]),
    ]
    for name, text, err in cases:
        write(proj, text)
        expect(name, ["config"], CONFIG, err=err, not_err=["abc-def-ghi"])
    os.unlink(proj)

    # a cloned repository's project file cannot redirect the token or the
    # sources (the global file is rewritten, so this comes last but one)
    hostile_project(glob, proj)

    # --env on the command line: bad names are usage errors
    expect("--env bad name", ["config", "--env", "1BAD"], USAGE,
           err=["invalid value '1BAD' for '--env'"])

    # outside a project: no project layer, still works
    expect("outside a project", ["config"], 0,
           out=["# project config: none"], cwd=OUTSIDE)

    return TAP.done()


if __name__ == "__main__":
    WORK = tempfile.mkdtemp(prefix="burst-config-cli-")
    HOME = os.path.join(WORK, "home")
    XDG = os.path.join(HOME, "xdg")
    PROJ = os.path.join(WORK, "proj")
    OUTSIDE = os.path.join(WORK, "outside")
    try:
        os.makedirs(HOME)
        os.makedirs(OUTSIDE)
        write(os.path.join(PROJ, "Cargo.toml"),
              '[package]\nname = "p"\nversion = "0.1.0"\nedition = "2021"\n')
        write(os.path.join(PROJ, "src", "main.rs"), "fn main() {}\n")
        real_home = os.environ.get("HOME", "/root")
        BASE_ENV = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HCLOUD_", "XDG_", "BURST_",
                                         "CARGO_TERM", "NO_COLOR"))}
        BASE_ENV.setdefault("RUSTUP_HOME", os.path.join(real_home, ".rustup"))
        BASE_ENV.setdefault("CARGO_HOME", os.path.join(real_home, ".cargo"))
        BASE_ENV["PATH"] = BASE_ENV.get("PATH", "/usr/bin:/bin") + ":" + \
            os.path.join(real_home, ".cargo", "bin")
        BASE_ENV.update({"HOME": HOME, "XDG_CONFIG_HOME": XDG})
        rc = main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(rc)

#!/usr/bin/env python3
"""test-hcloud-context.py - with no token of our own, the token of the
official hcloud CLI's active context (~/.config/hcloud/cli.toml, or
$HCLOUD_CONFIG; HCLOUD_CONTEXT selects another) is used (issue 15, part 5):
`config` names the context and the file as the source, a group-readable
cli.toml is warned about, HCLOUD_TOKEN and our global file still win, a
missing context or a malformed file is a warning, and an API verb says
which context it uses and sends that token (to a loopback stub that
records the Authorization header).  Everything happens in a throw-away
HOME.
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

BIN = os.environ.get("CARGO_BURST")
PROD, STAGING = "prod-T0KEN-aaaaaaaaaaaaaaaa", "staging-T0KEN-bbbbbbbbbbbbbb"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap, skip_all  # noqa: E402

TAP = Tap()
ok = TAP.ok

CLI_TOML = '''# written by hcloud
active_context = "prod"

[preferences]
  poll_interval = "500ms"

[[contexts]]
  name = "prod"
  token = "%s"

[[contexts]]
  name = "staging"
  token = "%s"
  [contexts.preferences]
    endpoint = "https://example.invalid/v1"
''' % (PROD, STAGING)


def write(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def run(args, env=None):
    e = dict(BASE_ENV)
    e.update(env or {})
    p = subprocess.run([BIN] + args, cwd=PROJ, env=e, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def secret_free(name, so, se):
    ok(PROD not in so + se and STAGING not in so + se,
       "%s: no token in the output" % name, so + se)


class AuthRecorder:
    """A loopback HTTP stub that records the Authorization header (401)."""

    def __init__(self):
        self.auth = []
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                rec.auth.append(self.headers.get("Authorization", ""))
                body = json.dumps({"error": {"code": "unauthorized",
                                             "message": "unable to authenticate"}}).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_DELETE = do_PUT = do_GET

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        skip_all("CARGO_BURST is not set to the built binary")
    if not shutil.which("cargo", path=BASE_ENV["PATH"]):
        skip_all("cargo is not installed")
    cli = os.path.join(HOME, ".config", "hcloud", "cli.toml")

    rc, so, se = run(["config"])
    ok(rc == 0 and "hetzner.token = not set\n" in so, "no cli.toml: no token", so + se)

    write(cli, CLI_TOML, 0o600)
    rc, so, se = run(["config"])
    ok(rc == 0 and "hetzner.token = set (from hcloud CLI context 'prod' in %s)\n" % cli in so,
       "the active context's token, named as the source", so + se)
    ok("warning" not in se, "a 0600 cli.toml: no warning", se)
    secret_free("active context", so, se)
    rc, so, se = run(["config", "--json"])
    try:
        tok = json.loads(so)["keys"]["hetzner.token"]
    except (ValueError, KeyError):
        tok = {}
    ok(tok.get("set") is True and tok.get("source") == "hcloud-cli" and
       "context 'prod'" in tok.get("origin", ""), "--json: source hcloud-cli", so)
    secret_free("--json", so, se)

    rc, so, se = run(["config"], {"HCLOUD_CONTEXT": "staging"})
    ok("hetzner.token = set (from hcloud CLI context 'staging' in %s)\n" % cli in so,
       "HCLOUD_CONTEXT selects another context", so + se)
    ok('hetzner.endpoint = "https://api.hetzner.cloud/v1" (default)' in so,
       "a context's endpoint preference is not taken", so)

    rc, so, se = run(["config"], {"HCLOUD_CONTEXT": "nope"})
    ok(rc == 0 and "hetzner.token = not set\n" in so and
       "the hcloud CLI context 'nope' (HCLOUD_CONTEXT) is not in %s" % cli in se,
       "a missing context: a warning, no token", so + se)

    os.chmod(cli, 0o640)
    rc, so, se = run(["config"])
    ok("warning: %s holds the API token and is readable by other users (mode 640); "
       "fix it with `chmod 600 %s`" % (cli, cli) in se, "a group-readable cli.toml warns", se)
    os.chmod(cli, 0o600)

    rc, so, se = run(["config"], {"HCLOUD_TOKEN": "env-token-zzzzzzzz"})
    ok("hetzner.token = set (from env HCLOUD_TOKEN)\n" in so, "HCLOUD_TOKEN still wins", so)
    glob = os.path.join(HOME, ".config", "cargo-burst", "config.toml")
    write(glob, '[hetzner]\ntoken = "global-token-yyyyyyy"\n')
    rc, so, se = run(["config"])
    ok("hetzner.token = set (from global config %s)\n" % glob in so,
       "our global file still wins", so)
    os.unlink(glob)

    other = os.path.join(WORK, "other-cli.toml")
    write(other, 'active_context = "x"\n[[contexts]]\nname = "x"\ntoken = "%s"\n' % STAGING)
    rc, so, se = run(["config"], {"HCLOUD_CONFIG": other})
    ok("hetzner.token = set (from hcloud CLI context 'x' in %s)\n" % other in so,
       "HCLOUD_CONFIG names another file", so + se)

    write(other, 'active_context = "x"\n[[contexts]\nname = \n')
    rc, so, se = run(["config"], {"HCLOUD_CONFIG": other})
    ok(rc == 0 and "hetzner.token = not set\n" in so and
       "not using the hcloud CLI's contexts: %s:" % other in se,
       "a malformed cli.toml: a warning with file:line:col", so + se)
    write(other, 'active_context = "x"\n[[contexts]]\nname = "x"\ntoken = "a b"\n')
    rc, so, se = run(["config"], {"HCLOUD_CONFIG": other})
    ok(rc == 78 and "the API token of the hcloud CLI context 'x'" in se,
       "a token with white space is a config error (78)", so + se)

    # an API verb says which context it uses and sends that token
    rec = AuthRecorder()
    try:
        rc, so, se = run(["down"], {"HCLOUD_ENDPOINT": "http://127.0.0.1:%d/v1" % rec.port})
    finally:
        rec.close()
    ok("Using the API token of the hcloud CLI context 'prod' in %s" % cli in se,
       "down says which context it uses", se)
    ok(rec.auth and all(a == "Bearer " + PROD for a in rec.auth),
       "the context's token is the one sent (%d requests)" % len(rec.auth))
    secret_free("down", so, se)
    return TAP.done()


if __name__ == "__main__":
    WORK = tempfile.mkdtemp(prefix="burst-hcloud-ctx-")
    HOME = os.path.join(WORK, "home")
    PROJ = os.path.join(WORK, "proj")
    try:
        os.makedirs(HOME)
        write(os.path.join(PROJ, "Cargo.toml"),
              '[package]\nname = "p"\nversion = "0.1.0"\nedition = "2021"\n', 0o644)
        write(os.path.join(PROJ, "src", "main.rs"), "fn main() {}\n", 0o644)
        real_home = os.environ.get("HOME", "/root")
        BASE_ENV = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HCLOUD_", "XDG_", "BURST_",
                                         "CARGO_TERM", "NO_COLOR"))}
        BASE_ENV.setdefault("RUSTUP_HOME", os.path.join(real_home, ".rustup"))
        BASE_ENV.setdefault("CARGO_HOME", os.path.join(real_home, ".cargo"))
        BASE_ENV["PATH"] = BASE_ENV.get("PATH", "/usr/bin:/bin") + ":" + \
            os.path.join(real_home, ".cargo", "bin")
        BASE_ENV.update({"HOME": HOME, "CARGO_TERM_COLOR": "never"})
        rc = main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(rc)

#!/usr/bin/env python3
"""The reaper uses the endpoint its server was created on: a server made
on simulator A, then the configured endpoint changed to B (a stub that
records every request and answers 404, as a wrong API would, or empty
lists): the reaper armed afterwards still deletes the server on A, and B
gets no request; `down` deletes on A too."""

import http.server
import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lclib  # noqa: E402
from lclib import Tap, World, new_sim, seed, wait_for, status_json  # noqa: E402

KEEP = 10


class Stub(http.server.BaseHTTPRequestHandler):
    seen = []

    def answer(self):
        Stub.seen.append((self.command, self.path))
        path = self.path.split("?")[0]
        if self.command == "GET" and path in ("/v1/servers", "/v1/volumes"):
            # an empty list: `down`'s sweep by label asks the configured endpoint
            body = json.dumps({path[4:]: [], "meta": {"pagination": {
                "page": 1, "per_page": 50, "previous_page": None, "next_page": None,
                "last_page": 1, "total_entries": 0}}}).encode()
            self.send_response(200)
        else:
            body = b'{"error": {"code": "not_found", "message": "not found"}}'
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = answer

    def log_message(self, *a):
        pass


def main():
    lclib.need_real_world()
    tap = Tap()
    tap.plan(9)
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    t = threading.Thread(target=stub.serve_forever, daemon=True)
    t.start()
    b_endpoint = "http://127.0.0.1:%d/v1" % stub.server_address[1]
    try:
        with new_sim() as sim:
            seed(sim)
            cfg = {"keep_alive_secs": KEEP, "billing_hour_hold": False}
            with World(tap, sim, config=cfg) as w:
                ws = w.fixture("hello")
                r = w.burst(["build", "--keep-alive", "600"], cwd=ws)
                if not tap.ok(r.code == 0, "cold build on A succeeds"):
                    tap.diag(repr(r))
                    return tap.done()
                # the server is due soon; its reaper dies, and the config now names B
                r = w.burst(["check", "--keep-alive", str(KEEP)], cwd=ws)
                tap.ok(r.code == 0, "a warm run sets a short keep-alive")

                def reaper_pid():
                    st, _ = status_json(w, ws)
                    rp = ((st or {}).get("server") or {}).get("reaper") or {}
                    return rp.get("alive") and rp.get("pid")
                # a reaper claims its slot a moment after it starts
                pid = wait_for(reaper_pid, 30, 0.2)
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    wait_for(lambda: not lclib.pid_alive(pid), 10, 0.1)
                Stub.seen.clear()
                r = w.burst(["status"], cwd=ws, env={"HCLOUD_ENDPOINT": b_endpoint})
                tap.ok(pid and r.code == 0, "its reaper (pid %s) killed, status with the endpoint "
                       "changed to B re-arms it" % pid)
                gone = wait_for(lambda: not w.servers(), KEEP + 90, 0.5)
                if not tap.ok(gone, "the reaper deleted the server on A, where it was created"):
                    tap.diag(lclib.reaper_log_tail(w))
                tap.is_(Stub.seen, [], "B got no request")

                # `down` too deletes on the endpoint the server was created on
                r = w.burst(["build", "--keep-alive", "600"], cwd=ws)
                tap.ok(r.code == 0 and len(w.servers()) == 1, "another cold build on A")
                sid = (w.servers() or [{}])[0].get("id")
                Stub.seen.clear()
                r = w.burst(["down"], cwd=ws, env={"HCLOUD_ENDPOINT": b_endpoint})
                if not tap.ok(r.code == 0 and not w.servers(),
                              "down with the endpoint changed to B deletes the server on A"):
                    tap.diag(repr(r))
                about = [c for c in Stub.seen if str(sid) in c[1] or c[0] != "GET"]
                tap.is_(about, [], "B was never asked about that server (only its own lists)")
                lclib.check_reaper_logs(tap, w)
                w.burst(["down", "--with-volumes"], cwd=ws)
    finally:
        stub.shutdown()
        stub.server_close()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""cargo-burst-wait-db: bounded wait, success with loopback listeners."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imagetest import Tap, image_path  # noqa: E402
from taplib import scaled  # noqa: E402

SCRIPT = image_path("wait-db.sh")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listener(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    return s


def run(args, env, limit=30):
    """Run the script in its own process group; kill the group on overrun."""
    start = time.monotonic()
    p = subprocess.Popen([SCRIPT] + args, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return -1, out.decode(), err.decode(), time.monotonic() - start
    return p.returncode, out.decode(), err.decode(), time.monotonic() - start


def main():
    t = Tap()
    tmp = tempfile.mkdtemp(prefix="burst-waitdb-")
    socks = []
    try:
        log = os.path.join(tmp, "bake.log")
        ports = {"postgres": free_port(), "mysql": free_port(), "redis": free_port()}
        env = dict(os.environ, CARGO_BURST_LOG=log, CARGO_BURST_DB_HOST="127.0.0.1",
                   CARGO_BURST_PG_PORT=str(ports["postgres"]),
                   CARGO_BURST_MYSQL_PORT=str(ports["mysql"]),
                   CARGO_BURST_REDIS_PORT=str(ports["redis"]))

        rc, out, err, took = run(["2"], env)
        t.ok(rc == 1, "nothing listening: exits 1 on timeout", "rc=%d\n%s%s" % (rc, out, err))
        t.ok(1.9 <= took < 2 + scaled(8),
             "nothing listening: gives up after about the 2 s bound (%.1fs)" % took)
        for name in ports:
            t.ok("down %s 127.0.0.1:%d" % (name, ports[name]) in out, "timeout reports %s down" % name, out)

        rc, out, err, took = run(["0"], env)
        t.ok(rc == 1 and took < scaled(5), "timeout 0 checks once and fails fast (%.1fs)" % took,
             out + err)

        socks.append(listener(ports["postgres"]))
        rc, out, err, took = run(["1"], env)
        t.ok(rc == 1, "only postgres listening: still a timeout", out + err)
        t.ok("up postgres 127.0.0.1:%d" % ports["postgres"] in out, "postgres reported up", out)
        t.ok("down mysql 127.0.0.1:%d" % ports["mysql"] in out, "mysql reported down", out)

        rc, out, err, took = run(["5", "postgres"], env)
        t.ok(rc == 0 and out.strip() == "up postgres 127.0.0.1:%d" % ports["postgres"],
             "waiting for postgres alone succeeds", out + err)

        socks.append(listener(ports["mysql"]))
        socks.append(listener(ports["redis"]))
        rc, out, err, took = run(["10"], env)
        t.ok(rc == 0, "all three listening: exits 0", "rc=%d\n%s%s" % (rc, out, err))
        t.ok(took < scaled(5), "all three listening: returns at once (%.1fs)" % took)
        t.ok(sorted(out.split()[::3]) == ["up", "up", "up"], "all three reported up", out)

        # A database that comes up while we wait.
        socks.pop().close()
        late = {}

        def start_late():
            time.sleep(1.5)
            late["sock"] = listener(ports["redis"])
        th = threading.Thread(target=start_late)
        th.start()
        rc, out, err, took = run(["15"], env)
        th.join()
        if "sock" in late:
            socks.append(late["sock"])
        t.ok(rc == 0 and took >= 1.0, "a late redis is waited for (%.1fs)" % took, out + err)

        rc, out, err, took = run(["5", "oracle"], env)
        t.ok(rc == 2 and "usage" in err, "unknown database name: usage error (exit 2)", err)
        rc, out, err, took = run(["5"], dict(env, CARGO_BURST_PG_PORT="x"))
        t.ok(rc == 2, "bad port variable: usage error (exit 2)", err)

        with open(log) as f:
            lines = f.read().splitlines()
        t.ok(any("wait-db.sh: waiting up to" in l for l in lines), "steps are logged to CARGO_BURST_LOG")
        t.ok(all(len(l) > 20 and l[4] == "-" and l[10] == "T" and l[19] == "Z" for l in lines),
             "every log line starts with a UTC timestamp", "\n".join(lines[:5]))
    finally:
        for s in socks:
            s.close()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()

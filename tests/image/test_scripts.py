#!/usr/bin/env python3
"""image/ scripts: shellcheck, conventions, pinned downloads."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imagetest import IMAGE_DIR, SCRIPTS, Tap, image_path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PIN_RE = r"^%s=([^\s]*)$"


def prelude(text):
    """The shared logging block, from log() to the ERR trap."""
    m = re.search(r"^log\(\) \{\n.*?^\}\n", text, re.M | re.S)
    return m.group(0) if m else None


def main():
    t = Tap()
    texts = {}
    for name in SCRIPTS:
        with open(image_path(name)) as f:
            texts[name] = f.read()

    shellcheck = shutil.which("shellcheck")
    targets = [image_path(s) for s in SCRIPTS] + sorted(glob.glob(os.path.join(HERE, "*.sh"))) + \
        [os.path.join(os.path.dirname(HERE), "tap.sh")]
    if shellcheck is None:
        t.skip("shellcheck", "shellcheck is not installed")
    else:
        for path in targets:
            r = subprocess.run([shellcheck, "--shell=bash", "--severity=style", path], timeout=120,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            t.ok(r.returncode == 0, "shellcheck clean: %s" % os.path.relpath(path, os.path.dirname(IMAGE_DIR)),
                 r.stdout.decode(errors="replace"))

    ref = prelude(texts["provision.sh"])
    for name, text in texts.items():
        lines = text.splitlines()
        t.ok(lines and lines[0] == "#!/usr/bin/env bash", "%s: #!/usr/bin/env bash" % name)
        t.ok("set -euo pipefail" in lines, "%s: set -euo pipefail" % name)
        t.ok("set -o errtrace" in lines, "%s: errtrace, so the ERR trap also fires in functions" % name)
        t.ok("trap 'on_error \"$LINENO\" \"$?\" \"$BASH_COMMAND\"' ERR" in lines,
             "%s: an ERR trap logs the failing line" % name)
        t.ok(ref is not None and prelude(text) == ref, "%s: the same timestamped log() as provision.sh" % name)
        t.ok(os.access(image_path(name), os.X_OK), "%s is executable" % name)
        if name != "assemble.sh":
            t.ok('CARGO_BURST_LOG="${CARGO_BURST_LOG-/var/log/cargo-burst-bake.log}"' in lines,
                 "%s: logs to /var/log/cargo-burst-bake.log by default" % name)

    prov = texts["provision.sh"]
    head = prov[:prov.index("# ----------------------------------------------------------------")] \
        if "# ----------------------------------------------------------------" in prov else ""
    for tool in ("RUSTUP", "SCCACHE", "NEXTEST"):
        v = re.search(PIN_RE % (tool + "_VERSION"), head, re.M)
        s = re.search(PIN_RE % (tool + "_SHA256"), head, re.M)
        t.ok(v is not None and re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", v.group(1) or ""),
             "%s version pinned at the top of provision.sh" % tool.lower())
        t.ok(s is not None and re.fullmatch(r"[0-9a-f]{64}", s.group(1) or ""),
             "%s SHA-256 pinned at the top of provision.sh" % tool.lower())
        t.ok(len(re.findall(r"^%s_SHA256=" % tool, prov, re.M)) == 1,
             "%s checksum defined in one place only" % tool.lower())
    t.ok("sh.rustup.rs" not in prov and "| sh" not in prov and "| bash" not in prov,
         "nothing is piped from the network into a shell")
    t.ok(re.search(r"verify_sha256 \"\$tmp/s\.tar\.gz\" \"\$SCCACHE_SHA256\"", prov) is not None and
         re.search(r"verify_sha256 \"\$tmp/n\.tar\.gz\" \"\$NEXTEST_SHA256\"", prov) is not None,
         "sccache and nextest tarballs are verified before they are unpacked")
    t.ok(all(p in prov for p in ("build-essential", "clang", "lld", "mold", "pkg-config", "libssl-dev",
                                 "git", "rsync", "curl", "ca-certificates", "postgresql",
                                 "mysql-server", "redis-server")),
         "provision.sh installs the required packages")
    t.ok("--profile minimal" in prov and "--component clippy" in prov and "--component rustfmt" in prov,
         "rustup: minimal profile with clippy and rustfmt")
    t.ok('rustc-wrapper = "/usr/local/bin/sccache"' in prov and "link-arg=-fuse-ld=mold" in prov and
         "[target.x86_64-unknown-linux-gnu]" in prov,
         "cargo config: sccache wrapper, clang + mold for x86_64-unknown-linux-gnu")

    with open(image_path("cargo-burst-seal.service")) as f:
        seal = f.read()
    t.ok("ExecStop=/usr/local/sbin/cargo-burst-seal" in seal and "\n[Install]" not in seal,
         "seal runs at stop and is never enabled")
    t.ok(not re.search(r"^After=.*cloud-final", seal, re.M),
         "seal is not ordered after cloud-final (provision starts it from inside cloud-final)")
    t.ok(re.search(r"^\s*systemctl start cargo-burst-seal\.service$", prov, re.M) is not None,
         "provision starts the seal unit")
    with open(image_path("cargo-burst-db-memory.service")) as f:
        dbm = f.read()
    t.ok(all(u in dbm for u in ("postgresql.service", "mysql.service", "redis-server.service")) and
         re.search(r"^Before=", dbm, re.M) and "WantedBy=multi-user.target" in dbm,
         "db memory unit runs at boot before the databases")

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        t.skip("systemd-analyze verify of the units", "systemd-analyze is not installed")
    else:
        units = [image_path("cargo-burst-seal.service"), image_path("cargo-burst-db-memory.service")]
        r = subprocess.run([analyze, "verify"] + units, timeout=60,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # The scripts live in the image, not on this machine: that complaint is expected.
        bad = [l for l in r.stdout.decode(errors="replace").splitlines()
               if l.strip() and "is not executable" not in l]
        t.ok(not bad, "systemd-analyze verify finds nothing wrong with the units", "\n".join(bad))

    # verify_sha256 itself: refuses an empty pin and a wrong checksum.
    tmp = tempfile.mkdtemp(prefix="burst-prov-")
    try:
        blob = os.path.join(tmp, "blob")
        with open(blob, "wb") as f:
            f.write(b"cargo-burst\n")
        r = subprocess.run(["sha256sum", blob], stdout=subprocess.PIPE, timeout=30)
        good = r.stdout.split()[0].decode()
        body = prov.rsplit('\nmain "$@"', 1)[0]
        lib = os.path.join(tmp, "provision-lib.sh")
        with open(lib, "w") as f:
            f.write(body + "\n")

        def verify(expected):
            script = 'source "$1"; STATUS_DIR="$2"; verify_sha256 "$3" "$4" blob'
            return subprocess.run(["bash", "-c", script, "t", lib, tmp, blob, expected], timeout=30,
                                  env=dict(os.environ, CARGO_BURST_LOG=os.path.join(tmp, "log")),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        r = verify("")
        t.ok(r.returncode != 0 and b"refusing to install blob: no pinned SHA-256" in r.stdout,
             "an empty checksum makes the install refuse", r.stdout.decode(errors="replace"))
        r = verify("0" * 64)
        t.ok(r.returncode != 0 and b"checksum mismatch for blob" in r.stdout,
             "a wrong checksum makes the install refuse", r.stdout.decode(errors="replace"))
        r = verify(good)
        t.ok(r.returncode == 0, "the right checksum passes", r.stdout.decode(errors="replace"))
        with open(os.path.join(tmp, "bake-status")) as f:
            status = f.read()
        t.ok("failed" in status, "a refusal is recorded in bake-status", status)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()

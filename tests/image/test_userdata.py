#!/usr/bin/env python3
"""image/user-data.yaml: size, structure, content, freshness, C embedding."""
import base64
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imagetest import IMAGE_DIR, Tap, image_path  # noqa: E402

LIMIT = 32 * 1024
# The tool may append a host key etc. to the user data: keep room for that.
HEADROOM = 4096
MANIFEST = {
    "/usr/local/sbin/cargo-burst-provision": ("provision.sh", "0755"),
    "/usr/local/sbin/cargo-burst-seal": ("seal.sh", "0755"),
    "/usr/local/sbin/cargo-burst-db-memory": ("db-memory.sh", "0755"),
    "/usr/local/bin/cargo-burst-wait-db": ("wait-db.sh", "0755"),
    "/usr/local/bin/cargo-burst-mount": ("mount.sh", "0755"),
    "/etc/systemd/system/cargo-burst-db-memory.service":
        ("cargo-burst-db-memory.service", "0644"),
    "/etc/systemd/system/cargo-burst-seal.service":
        ("cargo-burst-seal.service", "0644"),
}


def parse(text):
    """Parse the subset of YAML assemble.sh writes: top-level mappings,
    write_files entries of scalar keys, runcmd items, power_state scalars."""
    top = {}
    key = None
    for raw in text.splitlines():
        if not raw or raw.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z_]+):\s*(.*)$", raw)
        if m:
            key = m.group(1)
            if key in top:
                raise ValueError("duplicate top-level key %s" % key)
            top[key] = m.group(2) if m.group(2) else []
            continue
        if key is None:
            raise ValueError("content before the first key: %r" % raw)
        if key == "write_files":
            m = re.match(r"^- ([a-z_]+): (.*)$", raw)
            if m:
                top[key].append({m.group(1): m.group(2)})
                continue
            m = re.match(r"^  ([a-z_]+): (.*)$", raw)
            if not m or not top[key]:
                raise ValueError("bad write_files line: %r" % raw)
            top[key][-1][m.group(1)] = m.group(2)
        elif key == "runcmd":
            if not raw.startswith("- "):
                raise ValueError("bad runcmd line: %r" % raw)
            top[key].append(raw[2:])
        else:
            m = re.match(r"^  ([a-z_]+): (.*)$", raw)
            if not m:
                raise ValueError("bad %s line: %r" % (key, raw))
            if isinstance(top[key], list):
                top[key] = {}
            top[key][m.group(1)] = m.group(2)
    return top


def decoded_files(doc):
    out = {}
    for entry in doc["write_files"]:
        content = entry.get("content", "")
        if entry.get("encoding") == "gz+b64":
            data = gzip.decompress(base64.b64decode(content, validate=True))
        else:
            data = content.encode()
        out[entry["path"]] = (data, entry.get("permissions", "").strip("'"))
    return out


def semantic(text):
    """The file with the base64 blobs replaced by what they decode to, so
    two gzip builds that differ only in compressed bytes compare equal."""
    def dec(m):
        data = gzip.decompress(base64.b64decode(m.group(2)))
        return m.group(1) + repr(data)
    return re.sub(r"^(  content: )(\S+)$", dec, text, flags=re.M)


def main():
    t = Tap()
    path = image_path("user-data.yaml")
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("ascii", errors="replace")

    t.ok(len(raw) < LIMIT, "user-data.yaml is under Hetzner's 32 KiB user_data limit (%d bytes)" % len(raw))
    t.ok(len(raw) < LIMIT - HEADROOM, "user-data.yaml leaves %d bytes for what the tool appends" % HEADROOM,
         "size %d" % len(raw))
    t.ok(all(b in (9, 10) or 32 <= b < 127 for b in raw), "user-data.yaml is plain ASCII")
    t.ok(text.startswith("#cloud-config\n"), "first line is #cloud-config")
    t.ok(text.endswith("\n"), "ends with a newline, so the tool can append keys")

    try:
        doc = parse(text)
        parsed = True
    except ValueError as e:
        doc, parsed = {}, False
        t.ok(False, "cloud-config parses", e)
    if parsed:
        t.ok(True, "cloud-config parses")
    for key in ("write_files", "runcmd", "power_state"):
        t.ok(key in doc, "top-level key %s present" % key)
    for key in ("ssh_keys", "users", "ssh_deletekeys", "disable_root", "bootcmd"):
        t.ok(key not in doc, "no top-level %s (left to the tool / cloud-init defaults)" % key)

    ps = doc.get("power_state", {}) if isinstance(doc.get("power_state"), dict) else {}
    t.ok(ps.get("mode") == "poweroff", "power_state powers off", ps)
    t.ok("/run/cargo-burst-bake-ok" in ps.get("condition", ""),
         "power_state only after a successful provision", ps)
    t.ok(doc.get("runcmd") == ["[/usr/local/sbin/cargo-burst-provision]"],
         "runcmd runs the provisioning script", doc.get("runcmd"))

    files = {}
    try:
        files = decoded_files(doc) if parsed else {}
        t.ok(parsed, "write_files contents decode")
    except Exception as e:  # noqa: BLE001 - any decoding error is a failure
        t.ok(False, "write_files contents decode", e)
    t.ok(sorted(files) == sorted(MANIFEST), "write_files installs exactly the expected paths",
         sorted(files))
    for dst, (src, mode) in sorted(MANIFEST.items()):
        with open(image_path(src), "rb") as f:
            want = f.read()
        got, got_mode = files.get(dst, (None, None))
        t.ok(got == want, "%s is image/%s byte for byte" % (dst, src))
        t.ok(got_mode == mode, "%s has mode %s" % (dst, mode), got_mode)

    m = re.search(r"^# cargo-burst-image-format: ([0-9]+)$", text, re.M)
    with open(image_path("provision.sh")) as f:
        pm = re.search(r"^CARGO_BURST_IMAGE_FORMAT=([0-9]+)$", f.read(), re.M)
    t.ok(m is not None and pm is not None and m.group(1) == pm.group(1),
         "header format version matches provision.sh")

    try:
        import yaml  # not in the stdlib: used when present
    except ImportError:
        t.skip("PyYAML loads the cloud-config", "PyYAML not installed")
    else:
        try:
            y = yaml.safe_load(raw)
            t.ok(isinstance(y, dict) and sorted(y) == sorted(doc),
                 "PyYAML loads the cloud-config with the same top-level keys", sorted(y or {}))
        except yaml.YAMLError as e:
            t.ok(False, "PyYAML loads the cloud-config", e)

    tmp = tempfile.mkdtemp(prefix="burst-image-")
    try:
        # Up to date: assemble from the sources in a scratch dir and compare.
        fresh = os.path.join(tmp, "user-data.yaml")
        env = dict(os.environ, CARGO_BURST_LOG="")
        r = subprocess.run([image_path("assemble.sh"), fresh], env=env, timeout=60,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        t.ok(r.returncode == 0, "assemble.sh runs", r.stdout.decode(errors="replace"))
        if r.returncode == 0:
            with open(fresh, "rb") as f:
                new = f.read().decode("ascii", errors="replace")
            same = semantic(new) == semantic(text)
            t.ok(same, "checked-in user-data.yaml is up to date (run image/assemble.sh)")
            if same and new != text:
                print("# note: only the compressed bytes differ (another gzip build)")

        # Embedding: generate the C file and compile it with the project's flags.
        cdir = os.path.join(tmp, "c")
        os.mkdir(cdir)
        out_c = os.path.join(cdir, "image-user-data.c")
        out_h = os.path.join(cdir, "image-user-data.h")
        r = subprocess.run([sys.executable, image_path("embed.py"), path, out_c, out_h],
                           timeout=60, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        t.ok(r.returncode == 0, "embed.py generates C", r.stdout.decode(errors="replace"))
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if cc is None:
            t.skip("embedded bytes compile and match", "no C compiler")
        elif r.returncode == 0:
            main_c = os.path.join(cdir, "main.c")
            with open(main_c, "w") as f:
                f.write(CHECK_MAIN)
            exe = os.path.join(cdir, "check")
            r = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                                "-I", cdir, "-o", exe, out_c, main_c], timeout=120,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            t.ok(r.returncode == 0, "generated C compiles with -std=c11 -Wpedantic -Werror",
                 r.stdout.decode(errors="replace"))
            if r.returncode == 0:
                r = subprocess.run([exe, path, m.group(1) if m else "-1"], timeout=30,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                t.ok(r.returncode == 0, "embedded bytes, length and format match the file",
                     r.stdout.decode(errors="replace"))

        # embed.py refuses what Hetzner would refuse.
        big = os.path.join(tmp, "big.yaml")
        with open(big, "w") as f:
            f.write("#cloud-config\n# cargo-burst-image-format: 1\n" + "#" * LIMIT + "\n")
        r = subprocess.run([sys.executable, image_path("embed.py"), big, out_c, out_h],
                           timeout=60, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        t.ok(r.returncode != 0 and b"32 KiB" in r.stdout, "embed.py rejects user data over 32 KiB",
             r.stdout.decode(errors="replace"))

        t.ok(os.path.exists(image_path("meson.build")), "image/meson.build exists")
        meson = shutil.which("meson")
        ninja = shutil.which("ninja")
        if meson is None or ninja is None or cc is None:
            t.skip("image/meson.build builds the embedded object", "meson, ninja or cc missing")
        else:
            proj = os.path.join(tmp, "proj")
            os.makedirs(os.path.join(proj, "image"))
            for name in ("meson.build", "embed.py", "user-data.yaml"):
                shutil.copy(image_path(name), os.path.join(proj, "image", name))
            with open(os.path.join(proj, "meson.build"), "w") as f:
                f.write("project('embedcheck', 'c', default_options: ['c_std=c11', "
                        "'warning_level=3', 'werror=true'])\n"
                        "subdir('image')\n"
                        "executable('check', 'main.c', image_user_data_src,\n"
                        "  include_directories: include_directories('.'))\n")
            with open(os.path.join(proj, "main.c"), "w") as f:
                f.write(CHECK_MAIN.replace('"image-user-data.h"', '"image/image-user-data.h"'))
            bdir = os.path.join(tmp, "build")
            r = subprocess.run([meson, "setup", bdir, proj], timeout=180,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode == 0:
                r = subprocess.run([ninja, "-C", bdir], timeout=180,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            ok = r.returncode == 0
            if ok:
                r = subprocess.run([os.path.join(bdir, "check"), path, m.group(1) if m else "-1"],
                                   timeout=30, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                ok = r.returncode == 0
            t.ok(ok, "image/meson.build builds the embedded object", r.stdout.decode(errors="replace"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


CHECK_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "image-user-data.h"

int main(int argc, char **argv)
{
	static char buf[65536];
	size_t n;
	FILE *f;

	if (argc != 3 || !(f = fopen(argv[1], "rb")))
		return 2;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n != burst_image_user_data_len || strlen(burst_image_user_data) != n) {
		printf("length %zu, embedded %zu\n", n, burst_image_user_data_len);
		return 1;
	}
	if (memcmp(buf, burst_image_user_data, n) != 0) {
		printf("bytes differ\n");
		return 1;
	}
	if (burst_image_format_version != (int)strtol(argv[2], NULL, 10)) {
		printf("format %d\n", burst_image_format_version);
		return 1;
	}
	return 0;
}
"""

if __name__ == "__main__":
    main()

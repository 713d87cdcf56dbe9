#!/usr/bin/env python3
"""demo.py - run cargo-burst's main job against the bundled simulator.

Called by tests/demo.sh with the path of the built binary.  Runs in a
throw-away HOME (config, state and ssh key of its own) so it never touches
the real user's cargo-burst configuration or state.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "sim"))

from simharness import Simulator  # noqa: E402


def main():
    binary = sys.argv[1]
    cargo = shutil.which("cargo") or "/root/.cargo/bin/cargo"
    top = tempfile.mkdtemp(prefix="cargo-burst-demo-")
    home = os.path.join(top, "home")
    os.makedirs(os.path.join(home, ".ssh"), mode=0o700)
    key = os.path.join(home, ".ssh", "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "demo", "-f", key],
                   check=True)
    cfgdir = os.path.join(home, ".config", "cargo-burst")
    os.makedirs(cfgdir)
    with open(os.path.join(cfgdir, "config.toml"), "w") as f:
        f.write('ssh_key_path = "%s"\nvolume_gb = 10\nkeep_alive_secs = 120\n'
                '[hetzner]\nregions = ["fsn1", "nbg1"]\nserver_type = "ccx13"\n' % key)
    crate = os.path.join(top, "hello")
    shutil.copytree(os.path.join(HERE, "fixtures", "hello"), crate)

    # Simulated durations kept short so the demo takes seconds, not minutes.
    sim_cfg = {"durations": {"server_create": 1.0, "server_start": 1.0, "volume_create": 0.5,
                             "attach": 0.3, "detach": 0.3, "server_delete": 0.3,
                             "image_create": 1.0, "bake": 2.0}}
    code = 0
    with Simulator(machines="real", config=sim_cfg) as sim:
        env = {
            "PATH": os.path.dirname(cargo) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
            "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", "/root/.rustup"),
            "CARGO_HOME": os.environ.get("CARGO_HOME", "/root/.cargo"),
            "TERM": os.environ.get("TERM", "dumb"),
        }
        env.update(sim.env())
        print("demo: simulator at %s (token %s); working in %s\n" % (sim.endpoint, sim.token, top),
              flush=True)
        steps = [
            ("bake the build image (cloud-init runs on the simulated server)",
             ["image", "build"]),
            ("first build: cold (server, volume, sync, cargo, fetch)", ["build", "--release"]),
            ("second build: warm (no API call, persisted ssh master)", ["build", "--release"]),
            ("what is up and until when", ["status"]),
            ("delete everything", ["down", "--with-volumes", "--yes"]),
        ]
        for what, args in steps:
            print("\n$ cargo burst %s      # %s" % (" ".join(args), what), flush=True)
            before = len(sim.requests())
            r = subprocess.run([binary, "burst"] + args, cwd=crate, env=env)
            print("demo: %d API requests" % (len(sim.requests()) - before), flush=True)
            if r.returncode != 0:
                print("demo: `cargo burst %s` exited %d" % (" ".join(args), r.returncode),
                      file=sys.stderr)
                code = r.returncode
                subprocess.run([binary, "burst", "down", "--with-volumes", "--yes"], cwd=crate,
                               env=env)
                break
            if args[0] == "build":
                exe = os.path.join(crate, "target", "release", "hello")
                if os.path.exists(exe):
                    out = subprocess.run([exe], capture_output=True, text=True).stdout.strip()
                    print("demo: the fetched binary says: %s" % out, flush=True)
        print("\ndemo: %d API requests in all" % len(sim.requests()), flush=True)
    # Reapers and ssh masters of the demo's HOME must not outlive it.
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                if ("HOME=" + home).encode() in f.read().split(b"\0"):
                    os.kill(int(d), 9)
        except OSError:
            pass
    shutil.rmtree(top, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# tests/demo.sh - the quick start's first command: cargo-burst's main job on
# the bundled local Hetzner simulator, no account needed.
#
# Installs the Debian packages it needs when they are missing (as root),
# builds into ./build, then runs tests/demo.py: start the simulator with
# real machines (an sshd per server, loop-device volumes), bake the image,
# a cold `cargo burst build` of a sample crate, a warm one, `status`, and
# `down --with-volumes`.  Everything it starts is torn down on exit.
#
# Needs root: simulated servers live in mount namespaces on 127.x.y.z:22.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) != 0 ]]; then
	echo "demo: needs root (simulated servers use mount namespaces, loop devices and port 22 on 127.x.y.z); try: sudo $0" >&2
	exit 1
fi

# (the last line: what the test command after it needs besides)
pkgs=(meson ninja-build pkg-config gcc libcurl4-openssl-dev libcjson-dev
      libsqlite3-dev libuv1-dev openssh-server openssh-client rsync sqlite3
      python3 e2fsprogs util-linux mount
      git cloud-init shellcheck bash-completion zsh fish)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ -x /root/.cargo/bin/cargo ]] && export PATH="/root/.cargo/bin:$PATH"
command -v cargo >/dev/null 2>&1 || missing+=(cargo)
if ((${#missing[@]})); then
	echo "demo: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[[ -d build ]] || meson setup build >/dev/null
ninja -C build src/cargo-burst >/dev/null
exec python3 tests/demo.py "$PWD/build/src/cargo-burst"

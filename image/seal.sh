#!/usr/bin/env bash
# cargo-burst-seal: make a baked server fit to be snapshotted. Runs as the
# ExecStop of cargo-burst-seal.service while the bake server powers off, i.e.
# after cloud-init has finished writing its own state. Removes SSH host keys,
# machine-id content, apt lists, cloud-init state, logs, shell history and
# the bake's authorized_keys. Cloud-init itself stays enabled: every server
# created from the snapshot needs it for its ssh keys and pinned host key.
#
# CARGO_BURST_ROOT=<dir> works on a copy of a file tree instead of / (tests);
# commands that act on the running system are skipped then.
set -euo pipefail
set -o errtrace

CARGO_BURST_LOG="${CARGO_BURST_LOG-/var/log/cargo-burst-bake.log}"
log() {
	local line
	line="$(date -u +%Y-%m-%dT%H:%M:%SZ) ${0##*/}: $*"
	printf '%s\n' "$line" >&2
	if [[ -n "$CARGO_BURST_LOG" ]]; then
		{ printf '%s\n' "$line" >>"$CARGO_BURST_LOG"; } 2>/dev/null || true
	fi
}
on_error() { log "FAILED at line $1 (exit $2): $3"; }
trap 'on_error "$LINENO" "$?" "$BASH_COMMAND"' ERR

ROOT="${CARGO_BURST_ROOT:-}"
ROOT="${ROOT%/}"
live=1
[[ -z "$ROOT" ]] || live=0

# rm_glob PATTERN...: remove what the patterns (relative to ROOT) match.
rm_glob() {
	local pattern path
	for pattern in "$@"; do
		for path in "$ROOT"$pattern; do
			if [[ -e "$path" || -L "$path" ]]; then
				rm -rf -- "$path"
			fi
		done
	done
}

[[ "$live" == 0 || "$(id -u)" == 0 ]] || { log "error: must run as root"; exit 1; }
log "sealing ${ROOT:-/}"

log "ssh host keys"
rm_glob '/etc/ssh/ssh_host_*'

log "authorized_keys of the bake"
rm_glob '/root/.ssh/authorized_keys' '/home/*/.ssh/authorized_keys'

log "machine-id (emptied, kept: an empty file means first boot)"
if [[ -f "$ROOT/etc/machine-id" ]]; then
	: >"$ROOT/etc/machine-id"
fi
if [[ -f "$ROOT/var/lib/dbus/machine-id" && ! -L "$ROOT/var/lib/dbus/machine-id" ]]; then
	rm -f -- "$ROOT/var/lib/dbus/machine-id"
fi

log "apt lists and caches"
if [[ "$live" == 1 ]]; then
	apt-get clean || true
fi
rm_glob '/var/lib/apt/lists/*' '/var/cache/apt/*.bin' '/var/cache/apt/archives/*.deb'

log "cloud-init state"
if [[ "$live" == 1 ]] && command -v cloud-init >/dev/null 2>&1; then
	cloud-init clean --logs --seed
fi
rm_glob '/var/lib/cloud/*' '/var/log/cloud-init*.log'

log "shell history and temporary files"
rm_glob '/root/.bash_history' '/home/*/.bash_history' '/root/.lesshst' '/home/*/.lesshst' \
	'/root/.viminfo' '/home/*/.viminfo' '/root/.python_history' '/home/*/.python_history' \
	'/root/.rustup/downloads/*' '/root/.rustup/tmp/*' '/home/*/.rustup/downloads/*' \
	'/home/*/.rustup/tmp/*' '/tmp/*' '/var/tmp/*' '/var/lib/cargo-burst/bake-status'

log "logs"
if [[ "$live" == 1 ]] && command -v journalctl >/dev/null 2>&1; then
	journalctl --rotate || true
	journalctl --vacuum-time=1s || true
fi
if [[ -d "$ROOT/var/log" ]]; then
	# Rotated logs go; live ones are emptied so their owners and modes stay.
	find "$ROOT/var/log" -type f \( -name '*.gz' -o -name '*.[0-9]' -o -name '*.old' \) -delete
	find "$ROOT/var/log" -type f ! -path '*/journal/*' -exec truncate -s 0 {} +
fi
log "sealed"

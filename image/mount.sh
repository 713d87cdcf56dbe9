#!/usr/bin/env bash
# cargo-burst-mount: mount a project volume. Idempotent: a second call with
# the same device and mountpoint changes nothing and succeeds.
#
# Usage: cargo-burst-mount <device> <mountpoint> [owner]
#   Waits for the device node (CARGO_BURST_MOUNT_TIMEOUT seconds, default
#   60), mounts it as ext4 with noatime and, with an owner, makes the mounted
#   tree belong to that user (recursively only when the top is not theirs).
#   A device without any filesystem is formatted only when
#   CARGO_BURST_MOUNT_MKFS=1. On failure it prints the block device listing.
# Exit 0 mounted (or already mounted), 1 failure, 2 bad usage.
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
on_error() {
	log "FAILED at line $1 (exit $2): $3"
	listing
}
trap 'on_error "$LINENO" "$?" "$BASH_COMMAND"' ERR

listing() {
	{
		printf -- '--- block devices ---\n'
		lsblk -o NAME,SIZE,TYPE,FSTYPE,MOUNTPOINT 2>&1 || true
		printf -- '--- /dev/disk/by-id ---\n'
		ls -l /dev/disk/by-id/ 2>&1 || true
	} >&2
}

die() {
	log "error: $*"
	listing
	exit 1
}

if [[ $# -lt 2 || $# -gt 3 || -z "$1" || -z "$2" ]]; then
	printf 'usage: %s <device> <mountpoint> [owner]\n' "${0##*/}" >&2
	exit 2
fi
dev="$1"
mp="$2"
owner="${3:-}"
timeout="${CARGO_BURST_MOUNT_TIMEOUT:-60}"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "CARGO_BURST_MOUNT_TIMEOUT is not a number: $timeout"
if [[ -n "$owner" ]]; then
	id "$owner" >/dev/null 2>&1 || die "no such user: $owner"
fi

# The volume is attached by the API moments before: give udev time.
deadline=$((SECONDS + timeout))
until [[ -b "$dev" ]]; do
	((SECONDS < deadline)) || die "device $dev did not appear within ${timeout}s"
	sleep 0.2
done
real="$(readlink -f -- "$dev")"
devnum="$(stat -L -c '%t:%T' -- "$real")"

mkdir -p -- "$mp"
current="$(findmnt -n -r -o SOURCE --mountpoint "$mp" | tail -n 1 || true)"
if [[ -n "$current" ]]; then
	if [[ -b "$current" && "$(stat -L -c '%t:%T' -- "$current")" == "$devnum" ]]; then
		log "$dev already mounted at $mp"
	else
		die "$mp is already a mountpoint of $current, not of $dev"
	fi
else
	fstype="$(blkid -p -o value -s TYPE -- "$real" || true)"
	if [[ -z "$fstype" ]]; then
		[[ "${CARGO_BURST_MOUNT_MKFS:-0}" == 1 ]] ||
			die "no filesystem on $dev (create the volume with format ext4, or set CARGO_BURST_MOUNT_MKFS=1)"
		log "formatting $dev as ext4"
		mkfs.ext4 -q -F -- "$real"
		fstype=ext4
	fi
	[[ "$fstype" == ext4 ]] || die "$dev holds $fstype, expected ext4"
	mount -t ext4 -o noatime -- "$real" "$mp"
	log "mounted $dev at $mp"
fi

if [[ -n "$owner" ]]; then
	group="$(id -gn "$owner")"
	if [[ "$(stat -c '%U:%G' -- "$mp")" != "$owner:$group" ]]; then
		log "giving $mp to $owner:$group"
		chown -R -- "$owner:$group" "$mp"
		if [[ -d "$mp/lost+found" ]]; then
			chown -- root:root "$mp/lost+found"
		fi
	fi
fi

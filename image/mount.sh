#!/usr/bin/env bash
# cargo-burst-mount: mount a project volume. Idempotent: a second call with
# the same device and mountpoint changes nothing and succeeds.
#
# Usage: cargo-burst-mount <device> <mountpoint> [owner[:group]]
#   Waits for the device node (CARGO_BURST_MOUNT_TIMEOUT seconds, default
#   30), mounts it as ext4 with noatime and, with an owner, makes the mounted
#   tree belong to them (recursively only when the top is not theirs yet).
#   Another device (or a vanished one) mounted at the mountpoint is a stale
#   mount: it is unmounted first, as the tool's own mount script does.
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
	printf 'usage: %s <device> <mountpoint> [owner[:group]]\n' "${0##*/}" >&2
	exit 2
fi
dev="$1"
mp="$2"
owner="${3:-}"
timeout="${CARGO_BURST_MOUNT_TIMEOUT:-30}"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "CARGO_BURST_MOUNT_TIMEOUT is not a number: $timeout"
user="${owner%%:*}"
group=""
if [[ -n "$owner" ]]; then
	id "$user" >/dev/null 2>&1 || die "no such user: $user"
	group="$(id -gn "$user")"
	if [[ "$owner" == *:* && -n "${owner#*:}" ]]; then
		group="${owner#*:}"
		getent group "$group" >/dev/null 2>&1 || die "no such group: $group"
	fi
fi

# The volume is attached by the API moments before: give udev time.
deadline=$((SECONDS + timeout))
until [[ -b "$dev" ]]; do
	((SECONDS < deadline)) || die "device $dev did not appear within ${timeout}s"
	sleep 0.2
done
real="$(readlink -f -- "$dev")"
read -r major minor < <(stat -L -c '%t %T' -- "$real")
want="$((16#$major)):$((16#$minor))"

# mounted_dev: major:minor of the topmost mount at $mp, or nothing.
mounted_dev() {
	findmnt -n -r -o MAJ:MIN --mountpoint "$mp" | tail -n 1 || true
}

mkdir -p -- "$mp"
tries=0
current="$(mounted_dev)"
while [[ -n "$current" && "$current" != "$want" ]]; do
	((tries < 8)) || die "$mp stays mounted from another device ($current, want $want)"
	tries=$((tries + 1))
	log "$mp is mounted from another device ($current, want $want): unmounting it"
	umount -- "$mp" 2>/dev/null || umount -l -- "$mp" || die "cannot unmount the stale mount at $mp"
	current="$(mounted_dev)"
done
if [[ -n "$current" ]]; then
	log "$dev already mounted at $mp"
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

if [[ -n "$owner" && "$(stat -c '%U:%G' -- "$mp")" != "$user:$group" ]]; then
	log "giving $mp to $user:$group"
	chown -R -- "$user:$group" "$mp"
	if [[ -d "$mp/lost+found" ]]; then
		chown -- root:root "$mp/lost+found"
	fi
fi

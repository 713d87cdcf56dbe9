#!/bin/sh
# test-mount.sh - the volume mount/umount scripts on loop devices inside a
# private mount namespace (the host's mounts are never touched).
# TAP through tests/tap.sh (skips: "1..0 # SKIP reason", exit 0).
#   test-mount.sh <remote-script binary>
set -u
gen=$1
# shellcheck disable=SC1091 # tests/tap.sh, checked on its own (image-scripts)
. "$(dirname "$0")/../tap.sh"

if [ "${2-}" = inner ]; then
	# Runs inside `unshare --mount`: $3 tmp dir, $4 $5 $6 loop devices.
	tmp=$3 la=$4 lb=$5
	mnt=$tmp/mnt
	# shellcheck disable=SC2046
	majmin() { set -- $(stat -L -c '%t %T' "$1"); printf '%d:%d' "0x$1" "0x$2"; }
	mounted() { awk -v m="$mnt" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo; }
	count() { awk -v m="$mnt" '$5 == m' /proc/self/mountinfo | wc -l; }

	sh "$tmp/mount-a.sh" 2>"$tmp/err"; ok $? "mount script mounts a fresh volume"
	[ "$(mounted)" = "$(majmin "$la")" ]; ok $? "mounted from the right device"
	grep -q " $mnt .*noatime" /proc/self/mountinfo; ok $? "mounted with noatime"
	[ "$(stat -c %U "$mnt")" = nobody ]; ok $? "ownership fixed"
	echo data > "$mnt/file"
	sh "$tmp/mount-a.sh" 2>"$tmp/err"; ok $? "second run succeeds (idempotent)"
	[ "$(count)" = 1 ] && [ -f "$mnt/file" ]; ok $? "still mounted once, data there"
	sh "$tmp/mount-b.sh" 2>"$tmp/err"; ok $? "mounted from another device: remounted"
	[ "$(mounted)" = "$(majmin "$lb")" ] && [ "$(count)" = 1 ] && [ ! -f "$mnt/file" ]
	ok $? "now the other device, mounted once"
	grep -q "mounted from another device" "$tmp/err"; ok $? "the remount is explained"
	sh "$tmp/umount.sh"; ok $? "umount script"
	[ -z "$(mounted)" ]; ok $? "unmounted"
	sh "$tmp/umount.sh"; ok $? "umount when not mounted is fine"
	sh "$tmp/mount-a.sh" 2>"$tmp/err" && [ -f "$mnt/file" ]; ok $? "mount again, the data survived"
	( cd "$mnt" && exec sleep 60 ) &
	busy=$!
	sleep 0.3
	sh "$tmp/umount.sh" 2>"$tmp/err"; ok $? "umount of a busy volume stops its users"
	[ -z "$(mounted)" ] && ! kill -0 "$busy" 2>/dev/null; ok $? "unmounted, user gone"
	wait "$busy" 2>/dev/null
	if sh "$tmp/mount-raw.sh" 2>"$tmp/err"; then r=1; else r=0; fi
	ok $r "an unformatted device fails"
	grep -q "cargo-burst: cannot mount" "$tmp/err" && grep -q "lsblk:" "$tmp/err" &&
		grep -q "ls -l /dev/disk/by-id:" "$tmp/err"
	ok $? "with a clear error and the device listing"
	done_testing
	exit
fi

if [ "$(id -u)" != 0 ]; then
	skip_all "needs root (loop devices, mount namespace)"
fi
for p in unshare losetup mkfs.ext4 truncate awk; do
	if ! command -v "$p" >/dev/null 2>&1; then
		skip_all "needs $p"
	fi
done
if ! unshare --mount --propagation private true 2>/dev/null; then
	skip_all "cannot create a mount namespace here"
fi

tmp=$(mktemp -d /tmp/burst-mount-XXXXXX)
loops=""
cleanup() {
	for l in $loops; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

truncate -s 16M "$tmp/a.img" "$tmp/b.img" "$tmp/raw.img"
if ! mkfs.ext4 -q -F "$tmp/a.img" || ! mkfs.ext4 -q -F "$tmp/b.img"; then
	bail_out "mkfs.ext4 failed"
fi
attach() {
	l=$(losetup -f --show "$1") || { skip_all "no free loop device"; }
	loops="$loops $l"
}
attach "$tmp/a.img"; l_a=$l
attach "$tmp/b.img"; l_b=$l
attach "$tmp/raw.img"; l_raw=$l
"$gen" mount "$l_a" "$tmp/mnt" nobody >"$tmp/mount-a.sh"
"$gen" mount "$l_b" "$tmp/mnt" nobody >"$tmp/mount-b.sh"
"$gen" mount "$l_raw" "$tmp/mnt" "" >"$tmp/mount-raw.sh"
"$gen" umount "$tmp/mnt" >"$tmp/umount.sh"
timeout 120 unshare --mount --propagation private sh "$0" "$gen" inner "$tmp" "$l_a" "$l_b" "$l_raw"

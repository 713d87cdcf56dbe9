#!/usr/bin/env bash
# cargo-burst-mount: waits, mounts ext4 noatime, is idempotent, fixes
# ownership, refuses the wrong device, prints the device listing on failure.
# The loop device part runs in a private mount namespace (needs root).
set -euo pipefail

root="${BURST_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
script="$root/image/mount.sh"
tmp="$(mktemp -d)"
loops=()
cleanup() {
	local l
	for l in "${loops[@]}"; do
		for _ in 1 2 3 4 5; do
			losetup -d "$l" 2>/dev/null && break
			sleep 0.2
		done
	done
	rm -rf -- "$tmp"
}
trap cleanup EXIT
export CARGO_BURST_LOG="$tmp/bake.log"

# shellcheck disable=SC1091 # tests/tap.sh, checked on its own (image-scripts)
. "$(dirname "$0")/../tap.sh"
# run <args...>: sets rc and out (stdout+stderr) without tripping set -e.
run() {
	if out="$("$@" 2>&1)"; then rc=0; else rc=$?; fi
}

# --- without root: argument handling and the missing-device path ---
run "$script"
ok $((rc != 2)) "no arguments: usage error (exit $rc)" "$out"
run "$script" /dev/x /mnt/x nobody extra
ok $((rc != 2)) "too many arguments: usage error (exit $rc)" "$out"
run env CARGO_BURST_MOUNT_TIMEOUT=1 "$script" "$tmp/no-such-device" "$tmp/m0"
ok $((rc != 1)) "missing device: fails (exit $rc)" "$out"
check "missing device: says it did not appear within the bound" grep -qF "did not appear within 1s" <<<"$out"
check "missing device: prints the block device listing" grep -qF -- "--- block devices ---" <<<"$out"
check "missing device: prints /dev/disk/by-id" grep -qF -- "--- /dev/disk/by-id ---" <<<"$out"
run env CARGO_BURST_MOUNT_TIMEOUT=1 "$script" "$tmp/no-such-device" "$tmp/m0" no-such-user-xyz
ok $((rc != 1)) "unknown owner: fails (exit $rc)" "$out"
check "failures are logged with a UTC timestamp" \
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z mount.sh: error: device .* did not appear' "$CARGO_BURST_LOG"

# --- with root: a real ext4 volume on a loop device ---
skip_rest() {
	skip "loop device tests" "$1"
	done_testing
	exit
}
[[ "$(id -u)" == 0 ]] || skip_rest "needs root (loop devices, mount namespace)"
for prog in losetup unshare mkfs.ext4 findmnt blkid; do
	command -v "$prog" >/dev/null || skip_rest "$prog is missing"
done
[[ -e /dev/loop-control ]] || skip_rest "no /dev/loop-control"
id nobody >/dev/null 2>&1 || skip_rest "no user nobody"

# new_loop <name> <format>: a 64 MiB image on a loop device; prints the device.
new_loop() {
	truncate -s 64M "$tmp/$1.img"
	if [[ "$2" == ext4 ]]; then mkfs.ext4 -q -F "$tmp/$1.img"; fi
	losetup -f --show "$tmp/$1.img"
}
vol="$(new_loop vol ext4)" && loops+=("$vol")
other="$(new_loop other ext4)" && loops+=("$other")
blank="$(new_loop blank none)" && loops+=("$blank")
mkdir -p "$tmp/by-id"
ln -s "$vol" "$tmp/by-id/scsi-0HC_Volume_4242"

# The inner script reports "PASS name" / "FAIL name" lines; this one numbers them.
cat >"$tmp/inner.sh" <<'INNER'
set -uo pipefail
script="$1" tmp="$2" vol="$3" other="$4" blank="$5"
res() { if [[ "$1" == 0 ]]; then echo "PASS $2"; else echo "FAIL $2"; printf '%s\n' "${3:-}" | sed 's/^/DIAG /'; fi; }
link="$tmp/by-id/scsi-0HC_Volume_4242"
mp="$tmp/mnt/project"

out="$("$script" "$link" "$mp" nobody 2>&1)"; res $? "mounts the volume (through its by-id link)" "$out"
res "$([[ "$(findmnt -n -o FSTYPE --mountpoint "$mp")" == ext4 ]]; echo $?)" "mounted as ext4"
opts="$(findmnt -n -o OPTIONS --mountpoint "$mp")"
res "$([[ ",$opts," == *,noatime,* ]]; echo $?)" "mounted noatime ($opts)"
res "$([[ "$(stat -c %U "$mp")" == nobody ]]; echo $?)" "mountpoint belongs to the owner"
res "$([[ "$(stat -c %U "$mp/lost+found")" == root ]]; echo $?)" "lost+found stays root's"
echo data >"$mp/keep"
chown nobody "$mp/keep"
out="$("$script" "$link" "$mp" nobody 2>&1)"; res $? "second call succeeds" "$out"
res "$([[ "$out" == *"already mounted"* ]]; echo $?)" "second call says already mounted" "$out"
res "$([[ "$(findmnt -n -o TARGET --mountpoint "$mp" | wc -l)" == 1 ]]; echo $?)" "still exactly one mount there"
res "$([[ "$(cat "$mp/keep")" == data ]]; echo $?)" "contents untouched"
out="$("$script" "$vol" "$mp" 2>&1)"; res $? "same device by its /dev name is also already mounted" "$out"
out="$("$script" "$link" "$mp" root:root 2>&1)"; res $? "owner change to root:root" "$out"
res "$([[ "$(stat -c %U:%G "$mp" "$mp/keep" | sort -u)" == root:root ]]; echo $?)" "owner change is recursive" "$(ls -la "$mp")"
out="$("$script" "$other" "$mp" 2>&1)"; res $? "another device on the mountpoint: the stale mount is replaced" "$out"
res "$([[ "$(findmnt -n -o SOURCE --mountpoint "$mp")" == "$other" ]]; echo $?)" "the requested device is mounted now" "$(findmnt -n --mountpoint "$mp")"
res "$([[ "$(findmnt -n -o TARGET --mountpoint "$mp" | wc -l)" == 1 ]]; echo $?)" "not stacked on the stale mount"
res "$([[ "$out" == *"mounted from another device"* ]]; echo $?)" "the replacement is logged" "$out"
out="$("$script" "$link" "$mp" no-such-user-xyz 2>&1)"; rc=$?
res "$((rc != 1))" "unknown owner with a real device fails (exit $rc)" "$out"
res "$([[ "$out" == *"--- block devices ---"* ]]; echo $?)" "the failure lists the block devices" "$out"
out="$("$script" "$blank" "$tmp/mnt/blank" 2>&1)"; rc=$?
res "$((rc != 1))" "device without a filesystem is not formatted by default (exit $rc)" "$out"
res "$([[ -z "$(findmnt -n --mountpoint "$tmp/mnt/blank")" ]]; echo $?)" "and is not mounted"
out="$(CARGO_BURST_MOUNT_MKFS=1 "$script" "$blank" "$tmp/mnt/blank" 2>&1)"; res $? "CARGO_BURST_MOUNT_MKFS=1 formats and mounts it" "$out"
res "$([[ "$(findmnt -n -o FSTYPE --mountpoint "$tmp/mnt/blank")" == ext4 ]]; echo $?)" "formatted device is ext4"
umount "$mp" "$tmp/mnt/blank"
out="$("$script" "$link" "$mp" 2>&1)"; res $? "remount after unmount" "$out"
res "$([[ "$(cat "$mp/keep" 2>/dev/null)" == data ]]; echo $?)" "data survives a remount"
umount "$mp"
INNER

if inner="$(timeout 120 unshare --mount --propagation private bash "$tmp/inner.sh" "$script" "$tmp" "$vol" "$other" "$blank" 2>&1)"; then rc=0; else rc=$?; fi
ok "$rc" "namespace run finished (exit $rc)" "$inner"
while IFS= read -r line; do
	case "$line" in
	"PASS "*) ok 0 "${line#PASS }" ;;
	"FAIL "*) ok 1 "${line#FAIL }" ;;
	"DIAG "*) printf '# %s\n' "${line#DIAG }" ;;
	esac
done <<<"$inner"
check "every namespace check ran" grep -qE '^(PASS|FAIL) data survives a remount$' <<<"$inner"
if [[ -z "$(findmnt -rn -o TARGET | grep -F "$tmp" || true)" ]]; then rc=0; else rc=1; fi
ok "$rc" "nothing stays mounted outside the namespace"

done_testing

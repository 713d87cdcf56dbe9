#!/usr/bin/env bash
# cargo-burst-seal on a scratch file tree (CARGO_BURST_ROOT): what must go
# before the snapshot goes, what must stay stays.
set -euo pipefail

root="${BURST_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
script="$root/image/seal.sh"
tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT
export CARGO_BURST_LOG="$tmp/seal.log"

# shellcheck disable=SC1091 # tests/tap.sh, checked on its own (image-scripts)
. "$(dirname "$0")/../tap.sh"
gone() { if [[ ! -e "$r$1" && ! -L "$r$1" ]]; then ok 0 "removed: $1"; else ok 1 "removed: $1"; fi; }
kept() { if [[ -e "$r$1" ]]; then ok 0 "kept: $1"; else ok 1 "kept: $1"; fi; }

r="$tmp/root"
mkdir -p "$r"/etc/ssh "$r"/etc/cloud "$r"/etc/cargo-burst "$r"/var/lib/dbus "$r"/var/lib/apt/lists/partial \
	"$r"/var/lib/cloud/instances/42 "$r"/var/lib/cloud/seed/nocloud "$r"/var/log/journal/abc "$r"/var/log/postgresql \
	"$r"/root/.ssh "$r"/home/work/.ssh "$r"/root/.rustup/downloads "$r"/tmp "$r"/var/tmp \
	"$r"/var/lib/cargo-burst "$r"/var/cache/apt/archives
for f in ssh_host_ed25519_key ssh_host_ed25519_key.pub ssh_host_rsa_key; do echo key >"$r/etc/ssh/$f"; done
echo 'Port 22' >"$r/etc/ssh/sshd_config"
echo 0123456789abcdef0123456789abcdef >"$r/etc/machine-id"
ln -s /etc/machine-id "$r/var/lib/dbus/machine-id"
echo list >"$r/var/lib/apt/lists/archive.ubuntu.com_dists_noble_InRelease"
echo deb >"$r/var/cache/apt/archives/x.deb"
echo state >"$r/var/lib/cloud/instances/42/obj.pkl"
echo seed >"$r/var/lib/cloud/seed/nocloud/user-data"
echo 'datasource_list: [Hetzner]' >"$r/etc/cloud/cloud.cfg"
echo log >"$r/var/log/cloud-init.log"
echo log >"$r/var/log/cloud-init-output.log"
echo log >"$r/var/log/syslog"
echo old >"$r/var/log/syslog.1"
echo old >"$r/var/log/dpkg.log.2.gz"
echo pg >"$r/var/log/postgresql/postgresql-16-main.log"
echo journal >"$r/var/log/journal/abc/system.journal"
chmod 0640 "$r/var/log/syslog"
echo 'ls' >"$r/root/.bash_history"
echo 'ls' >"$r/home/work/.bash_history"
echo 'ssh-ed25519 AAAA bake' >"$r/root/.ssh/authorized_keys"
echo 'ssh-ed25519 AAAA bake' >"$r/home/work/.ssh/authorized_keys"
echo 'id_ed25519' >"$r/root/.ssh/known_hosts"
echo x >"$r/root/.rustup/downloads/partial"
echo x >"$r/tmp/scratch"
echo x >"$r/var/tmp/scratch"
echo ok >"$r/var/lib/cargo-burst/bake-status"
echo '{"format": 1}' >"$r/etc/cargo-burst/image.json"

if out="$(CARGO_BURST_ROOT="$r" timeout 60 "$script" 2>&1)"; then rc=0; else rc=$?; fi
ok "$rc" "seal runs on a scratch tree (exit $rc)" "$out"

gone /etc/ssh/ssh_host_ed25519_key
gone /etc/ssh/ssh_host_ed25519_key.pub
gone /etc/ssh/ssh_host_rsa_key
kept /etc/ssh/sshd_config
kept /etc/machine-id
if [[ -f "$r/etc/machine-id" && ! -s "$r/etc/machine-id" ]]; then rc=0; else rc=1; fi
ok "$rc" "/etc/machine-id is empty (first boot on the next server)"
if [[ -L "$r/var/lib/dbus/machine-id" ]]; then rc=0; else rc=1; fi
ok "$rc" "/var/lib/dbus/machine-id symlink stays"
gone /var/lib/apt/lists/archive.ubuntu.com_dists_noble_InRelease
gone /var/lib/apt/lists/partial
gone /var/cache/apt/archives/x.deb
gone /var/lib/cloud/instances
gone /var/lib/cloud/seed
kept /var/lib/cloud
kept /etc/cloud/cloud.cfg
gone /var/log/cloud-init.log
gone /var/log/cloud-init-output.log
gone /var/log/syslog.1
gone /var/log/dpkg.log.2.gz
kept /var/log/syslog
if [[ ! -s "$r/var/log/syslog" && ! -s "$r/var/log/postgresql/postgresql-16-main.log" ]]; then rc=0; else rc=1; fi
ok "$rc" "live logs are emptied"
if [[ "$(stat -c %a "$r/var/log/syslog")" == 640 ]]; then rc=0; else rc=1; fi
ok "$rc" "emptied logs keep their mode"
gone /root/.bash_history
gone /home/work/.bash_history
gone /root/.ssh/authorized_keys
gone /home/work/.ssh/authorized_keys
kept /root/.ssh/known_hosts
gone /root/.rustup/downloads/partial
gone /tmp/scratch
gone /var/tmp/scratch
gone /var/lib/cargo-burst/bake-status
kept /etc/cargo-burst/image.json

if out="$(CARGO_BURST_ROOT="$r" timeout 60 "$script" 2>&1)"; then rc=0; else rc=$?; fi
ok "$rc" "sealing twice is fine (exit $rc)" "$out"
check "steps are logged with a UTC timestamp" \
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z seal.sh: ssh host keys$' "$CARGO_BURST_LOG"

done_testing

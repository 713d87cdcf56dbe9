#!/usr/bin/env bash
# cargo-burst-provision's local steps (work user, cargo config, shell PATH,
# mysql and redis config), run twice for idempotence against a throw-away
# copy of /etc, /root and /home in a private mount namespace (needs root).
# The network steps (apt, downloads) are covered by test_scripts.py's checks.
set -euo pipefail

root="${BURST_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
script="$root/image/provision.sh"
tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT

# shellcheck disable=SC1091 # tests/tap.sh, checked on its own (image-scripts)
. "$(dirname "$0")/../tap.sh"
if [[ "$(id -u)" != 0 ]]; then
	skip_all "needs root (private mount namespace over /etc, /root, /home)"
fi
for prog in unshare useradd runuser getent python3; do
	if ! command -v "$prog" >/dev/null; then
		skip_all "$prog is missing"
	fi
done

# provision.sh without its final `main "$@"`, to call single steps.
sed '$d' "$script" >"$tmp/provision-lib.sh"
tail -n 1 "$script" | grep -qx 'main "\$@"' || { ok 1 'provision.sh ends with main "$@"'; done_testing; exit 1; }
mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/status"
# sudo (and so visudo) is installed by the apt step; stand in for its check.
# shellcheck disable=SC2016 # the stub's own arguments
printf '#!/bin/sh\n[ "$1" = -c ] && grep -q "NOPASSWD:ALL" "$4"\n' >"$tmp/bin/visudo"
chmod 0755 "$tmp/bin/visudo"

cat >"$tmp/inner.sh" <<'INNER'
set -uo pipefail
tmp="$1"
res() { if [[ "$1" == 0 ]]; then echo "PASS $2"; else echo "FAIL $2"; fi; }
t() { local name="$1"; shift; if "$@"; then res 0 "$name"; else res 1 "$name"; fi; }

mount -t tmpfs tmpfs "$tmp/etc" && cp -a /etc/. "$tmp/etc/" && mount --bind "$tmp/etc" /etc || { res 1 "private /etc"; exit 1; }
mount -t tmpfs tmpfs /root && mount -t tmpfs tmpfs /home || { res 1 "private /root and /home"; exit 1; }
# Start from a host without a work user whatever the real one has: the copy
# of /etc would keep the host's user while /home is fresh.
for f in passwd shadow group gshadow subuid subgid; do
	[[ -f "/etc/$f" ]] || continue
	grep -v '^work:' "/etc/$f" >"$tmp/$f.new"
	cat "$tmp/$f.new" >"/etc/$f" && rm -f "$tmp/$f.new" || { res 1 "private /etc without a work user"; exit 1; }
done
t "no work user before the first round" test -z "$(getent passwd work)"
mkdir -p /etc/profile.d /etc/redis /etc/mysql/mysql.conf.d
printf '[ -z "$PS1" ] && return\nalias ll="ls -l"\n' >/root/.bashrc
printf 'bind 127.0.0.1 -::1\nport 6379\n' >/etc/redis/redis.conf
export PATH="$tmp/bin:$PATH" CARGO_BURST_LOG="$tmp/bake.log"
# shellcheck disable=SC1091
source "$tmp/provision-lib.sh"
STATUS_DIR="$tmp/status"
export PATH="$tmp/bin:$PATH" # after the library, which sets its own PATH
trap - ERR
set +e # the library turned on -e; each step below runs in its own set -e subshell

for round in 1 2; do
	( set -e; setup_work_user ) >"$tmp/step.log" 2>&1; res $? "round $round: work user set up"
	( set -e; write_cargo_config root /root; write_cargo_config work /home/work ) 2>/dev/null; res $? "round $round: cargo configs written"
	( set -e; write_shell_env root /root; write_shell_env work /home/work ) 2>/dev/null; res $? "round $round: shell PATH set up"
	( set -e; configure_mysql; configure_redis ) >/dev/null 2>&1; res $? "round $round: mysql and redis configured"
done

t "work exists with home /home/work" test "$(getent passwd work | cut -d: -f6)" = /home/work
t "work's login shell is bash" test "$(getent passwd work | cut -d: -f7)" = /bin/bash
t "sudoers drop-in gives work passwordless sudo" grep -qx 'work ALL=(ALL) NOPASSWD:ALL' /etc/sudoers.d/90-cargo-burst-work
t "sudoers drop-in is 0440 root" test "$(stat -c %a:%U /etc/sudoers.d/90-cargo-burst-work)" = 440:root
for home in /root /home/work; do
	cfg="$home/.cargo/config.toml"
	t "$cfg parses as TOML with sccache and mold" python3 -c '
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
assert c["build"]["rustc-wrapper"] == "/usr/local/bin/sccache"
t = c["target"]["x86_64-unknown-linux-gnu"]
assert t["linker"] == "clang"
assert t["rustflags"] == ["-C", "link-arg=-fuse-ld=mold"]
' "$cfg"
	t "$home/.bashrc starts with the cargo env line" \
		test "$(head -n 1 "$home/.bashrc")" = '[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env" # cargo-burst'
	t "$home/.bashrc has it once after two rounds" test "$(grep -c '# cargo-burst' "$home/.bashrc")" = 1
	t "$home/.my.cnf is 0600 and holds root/root" \
		test "$(stat -c %a "$home/.my.cnf")" = 600 -a "$(grep -c '^user=root$\|^password=root$' "$home/.my.cnf")" = 2
done
t "work owns its cargo config, bashrc and .my.cnf" \
	test "$(stat -c %U /home/work/.cargo/config.toml /home/work/.bashrc /home/work/.my.cnf | sort -u)" = work
t "root's old .bashrc content is kept after the line" grep -qx 'alias ll="ls -l"' /root/.bashrc
t "/etc/profile.d/cargo-burst.sh sources ~/.cargo/env" grep -qF '. "$HOME/.cargo/env"' /etc/profile.d/cargo-burst.sh
t "mysql binds to 127.0.0.1 (classic and X protocol)" \
	test "$(grep -c '^bind-address = 127.0.0.1$\|^mysqlx-bind-address = 127.0.0.1$' /etc/mysql/mysql.conf.d/50-cargo-burst.cnf)" = 2
t "redis.conf includes our files once, at the end" \
	test "$(tail -n 2 /etc/redis/redis.conf | tr '\n' ' ')" = "include /etc/redis/cargo-burst.conf include /etc/redis/cargo-burst-memory.conf " -a \
	"$(grep -c '^include ' /etc/redis/redis.conf)" = 2
t "redis binds to 127.0.0.1 only" grep -qx 'bind 127.0.0.1' /etc/redis/cargo-burst.conf
t "steps are logged" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z [^ ]+: ==> user work$' "$tmp/bake.log"
echo "DONE"
INNER

passwd_before="$(sha256sum /etc/passwd)"
if inner="$(timeout 120 unshare --mount --propagation private bash "$tmp/inner.sh" "$tmp" 2>&1)"; then rc=0; else rc=$?; fi
ok "$rc" "namespace run finished (exit $rc)"
while IFS= read -r line; do
	case "$line" in
	"PASS "*) ok 0 "${line#PASS }" ;;
	"FAIL "*) ok 1 "${line#FAIL }" ;;
	*) printf '# %s\n' "$line" ;;
	esac
done <<<"$inner"
if grep -qx DONE <<<"$inner"; then ok 0 "every check ran"; else ok 1 "every check ran"; fi
if [[ "$(sha256sum /etc/passwd)" == "$passwd_before" ]]; then ok 0 "the host's /etc/passwd is untouched"; else ok 1 "the host's /etc/passwd is untouched"; fi
done_testing

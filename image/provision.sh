#!/usr/bin/env bash
# cargo-burst-provision: turn a fresh Ubuntu 24.04 server into a cargo-burst
# build image. Run once by cloud-init (runcmd) on the bake server; safe to
# re-run. On success it arms cargo-burst-seal (which cleans the server when
# it powers off) and creates /run/cargo-burst-bake-ok, the condition of the
# cloud-config's power_state. On failure the server stays up so the log can
# be fetched: /var/log/cargo-burst-bake.log, /var/lib/cargo-burst/bake-status.
set -euo pipefail
set -o errtrace

# ---- pinned versions and checksums: change them here and nowhere else ----
# Bump the format whenever the tool needs to tell this image from older ones.
CARGO_BURST_IMAGE_FORMAT=1
RUSTUP_VERSION=1.28.2
RUSTUP_SHA256=20a06e644b0d9bd2fbdbfd52d42540bdde820ea7df86e92e533c073da0cdd43c
SCCACHE_VERSION=0.12.0
SCCACHE_SHA256=b0e89ead6899224a4ba2b90e9073bf1ce036d95bab30f3dc33c1e1468bc4ad44
NEXTEST_VERSION=0.9.148
NEXTEST_SHA256=223ba936714cc861a9cdedad5a8eb664dfdd69d6fbdf6cea6aa8184f523290dc
# --------------------------------------------------------------------------

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
	mark_status "failed line $1: $3"
}
trap 'on_error "$LINENO" "$?" "$BASH_COMMAND"' ERR

# cloud-init's runcmd environment is sparse (HOME may be unset).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME="${HOME:-/root}"
STATUS_DIR=/var/lib/cargo-burst
APT_PACKAGES=(
	build-essential clang lld mold pkg-config cmake libssl-dev
	libpq-dev libmysqlclient-dev libsqlite3-dev
	git rsync curl ca-certificates python3 sudo
	postgresql mysql-server redis-server
)
DB_UNITS=(postgresql@.service mysql.service redis-server.service)
RUST_TRIPLE=x86_64-unknown-linux-gnu
WORK_USER=work

mark_status() {
	{ mkdir -p "$STATUS_DIR" && printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" >"$STATUS_DIR/bake-status"; } 2>/dev/null || true
}

die() {
	log "error: $*"
	mark_status "failed: $*"
	exit 1
}

step() {
	log "==> $*"
	mark_status "running: $*"
}

# download URL FILE: fetch over https only, with retries.
download() {
	curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 \
		--retry 5 --retry-delay 3 --connect-timeout 20 --max-time 600 \
		--output "$2" "$1"
}

# verify_sha256 FILE EXPECTED NAME: refuse anything not pinned or not matching.
verify_sha256() {
	local actual
	[[ -n "$2" ]] || die "refusing to install $3: no pinned SHA-256 in ${0##*/}"
	actual="$(sha256sum "$1")"
	actual="${actual%% *}"
	[[ "$actual" == "$2" ]] || die "checksum mismatch for $3: expected $2, got $actual"
	log "verified $3 (sha256 $actual)"
}

preflight() {
	step "preflight"
	[[ "$(id -u)" == 0 ]] || die "must run as root"
	[[ "$(uname -m)" == x86_64 ]] || die "only x86_64 is supported (pinned checksums are for $RUST_TRIPLE); got $(uname -m)"
	local id="" version=""
	if [[ -r /etc/os-release ]]; then
		# shellcheck disable=SC1091
		id="$(. /etc/os-release && printf '%s' "${ID:-}")"
		# shellcheck disable=SC1091
		version="$(. /etc/os-release && printf '%s' "${VERSION_ID:-}")"
	fi
	[[ "$id" == ubuntu && "$version" == 24.04 ]] || log "warning: built for Ubuntu 24.04, this is ${id:-unknown} ${version:-unknown}"
	mkdir -p "$STATUS_DIR" /etc/cargo-burst
}

install_packages() {
	step "apt packages"
	export DEBIAN_FRONTEND=noninteractive
	# Short-lived build servers must not spend their first minutes upgrading
	# packages (and holding the dpkg lock); the image is re-baked instead.
	systemctl disable --now apt-daily.timer apt-daily-upgrade.timer unattended-upgrades.service 2>/dev/null || true
	local apt=(apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold)
	"${apt[@]}" update
	"${apt[@]}" install --no-install-recommends "${APT_PACKAGES[@]}"
}

setup_work_user() {
	step "user $WORK_USER"
	if ! id "$WORK_USER" >/dev/null 2>&1; then
		useradd --create-home --shell /bin/bash "$WORK_USER"
	fi
	local sudoers=/etc/sudoers.d/90-cargo-burst-work tmp
	tmp="$(mktemp)"
	printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$WORK_USER" >"$tmp"
	visudo -c -q -f "$tmp"
	install -d -m 0755 /etc/sudoers.d
	install -m 0440 -o root -g root "$tmp" "$sudoers"
	rm -f "$tmp"
}

install_sccache() {
	step "sccache $SCCACHE_VERSION"
	if /usr/local/bin/sccache --version 2>/dev/null | grep -qxF "sccache $SCCACHE_VERSION"; then
		log "sccache $SCCACHE_VERSION already installed"
		return 0
	fi
	local name="sccache-v${SCCACHE_VERSION}-x86_64-unknown-linux-musl" tmp
	tmp="$(mktemp -d)"
	download "https://github.com/mozilla/sccache/releases/download/v${SCCACHE_VERSION}/${name}.tar.gz" "$tmp/s.tar.gz"
	verify_sha256 "$tmp/s.tar.gz" "$SCCACHE_SHA256" "$name.tar.gz"
	tar -xzf "$tmp/s.tar.gz" -C "$tmp"
	install -m 0755 "$tmp/$name/sccache" /usr/local/bin/sccache
	rm -rf "$tmp"
	log "installed $(/usr/local/bin/sccache --version)"
}

install_nextest() {
	step "cargo-nextest $NEXTEST_VERSION"
	if /usr/local/bin/cargo-nextest nextest --version 2>/dev/null | grep -qE "^cargo-nextest ${NEXTEST_VERSION//./\\.}( |$)"; then
		log "cargo-nextest $NEXTEST_VERSION already installed"
		return 0
	fi
	local name="cargo-nextest-${NEXTEST_VERSION}-${RUST_TRIPLE}" tmp
	tmp="$(mktemp -d)"
	download "https://github.com/nextest-rs/nextest/releases/download/cargo-nextest-${NEXTEST_VERSION}/${name}.tar.gz" "$tmp/n.tar.gz"
	verify_sha256 "$tmp/n.tar.gz" "$NEXTEST_SHA256" "$name.tar.gz"
	tar -xzf "$tmp/n.tar.gz" -C "$tmp"
	install -m 0755 "$tmp/cargo-nextest" /usr/local/bin/cargo-nextest
	rm -rf "$tmp"
	log "installed $(/usr/local/bin/cargo-nextest nextest --version | head -n 1)"
}

# install_rust USER: rustup (pinned rustup-init), stable, minimal + clippy, rustfmt.
install_rust() {
	local user="$1" home
	home="$(getent passwd "$user" | cut -d: -f6)"
	step "rust for $user ($home)"
	if [[ ! -x "$home/.cargo/bin/rustup" ]]; then
		local tmp
		tmp="$(mktemp -d)"
		chmod 0755 "$tmp" # the user runs rustup-init from here
		download "https://static.rust-lang.org/rustup/archive/${RUSTUP_VERSION}/${RUST_TRIPLE}/rustup-init" "$tmp/rustup-init"
		verify_sha256 "$tmp/rustup-init" "$RUSTUP_SHA256" "rustup-init $RUSTUP_VERSION"
		chmod 0755 "$tmp/rustup-init"
		runuser -u "$user" -- env HOME="$home" "$tmp/rustup-init" -y --no-modify-path \
			--profile minimal --default-toolchain stable \
			--component clippy --component rustfmt
		rm -rf "$tmp"
	fi
	runuser -u "$user" -- env HOME="$home" "$home/.cargo/bin/rustup" toolchain install stable \
		--profile minimal --component clippy --component rustfmt
	runuser -u "$user" -- env HOME="$home" "$home/.cargo/bin/rustup" default stable
	write_cargo_config "$user" "$home"
	write_shell_env "$user" "$home"
	log "$user: $(runuser -u "$user" -- env HOME="$home" "$home/.cargo/bin/rustc" --version)"
}

write_cargo_config() {
	local user="$1" home="$2"
	install -d -m 0755 -o "$user" -g "$(id -gn "$user")" "$home/.cargo"
	cat >"$home/.cargo/config.toml" <<-'EOF'
	# Written by the cargo-burst image (cargo-burst-provision).
	# sccache caches rustc outputs; cargo-burst points SCCACHE_DIR at the
	# project volume so the cache outlives the server.
	[build]
	rustc-wrapper = "/usr/local/bin/sccache"

	# Link with mold through clang. A RUSTFLAGS variable replaces these flags.
	[target.x86_64-unknown-linux-gnu]
	linker = "clang"
	rustflags = ["-C", "link-arg=-fuse-ld=mold"]
	EOF
	chown "$user:$(id -gn "$user")" "$home/.cargo/config.toml"
}

# Put ~/.cargo/bin on PATH for login shells and for `ssh host command`
# (Ubuntu's bash reads ~/.bashrc for ssh commands, but its interactive guard
# returns early, so the line must come before it).
write_shell_env() {
	# shellcheck disable=SC2016 # $HOME must expand in the user's shell, not here
	local user="$1" home="$2" line='[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env" # cargo-burst'
	if [[ ! -f "$home/.bashrc" ]] || ! grep -qF '# cargo-burst' "$home/.bashrc"; then
		local tmp
		tmp="$(mktemp)"
		printf '%s\n' "$line" >"$tmp"
		if [[ -f "$home/.bashrc" ]]; then cat "$home/.bashrc" >>"$tmp"; fi
		install -m 0644 -o "$user" -g "$(id -gn "$user")" "$tmp" "$home/.bashrc"
		rm -f "$tmp"
	fi
	printf '%s\n' "$line" >/etc/profile.d/cargo-burst.sh
}

configure_postgres() {
	step "postgres"
	local dir found=0
	for dir in /etc/postgresql/*/main; do
		[[ -d "$dir" ]] || continue
		found=1
		install -d -m 0755 -o postgres -g postgres "$dir/conf.d"
		cat >"$dir/conf.d/50-cargo-burst.conf" <<-'EOF'
		# Written by cargo-burst: loopback only; memory is sized at boot in
		# 60-cargo-burst-memory.conf by cargo-burst-db-memory.service.
		listen_addresses = '127.0.0.1'
		port = 5432
		max_connections = 200
		EOF
		cat >"$dir/pg_hba.conf" <<-'EOF'
		# Written by cargo-burst: trust on the local socket and loopback only.
		local   all          all                 trust
		local   replication  all                 trust
		host    all          all   127.0.0.1/32  trust
		host    replication  all   127.0.0.1/32  trust
		host    all          all   ::1/128       trust
		EOF
		chown postgres:postgres "$dir/conf.d/50-cargo-burst.conf" "$dir/pg_hba.conf"
		chmod 0640 "$dir/pg_hba.conf"
	done
	[[ "$found" == 1 ]] || die "no postgres cluster under /etc/postgresql"
}

configure_mysql() {
	step "mysql"
	install -d -m 0755 /etc/mysql/mysql.conf.d
	cat >/etc/mysql/mysql.conf.d/50-cargo-burst.cnf <<-'EOF'
	# Written by cargo-burst: loopback only; memory is sized at boot in
	# 60-cargo-burst-memory.cnf by cargo-burst-db-memory.service.
	[mysqld]
	bind-address = 127.0.0.1
	mysqlx-bind-address = 127.0.0.1
	EOF
	local home
	for home in /root "/home/$WORK_USER"; do
		[[ -d "$home" ]] || continue
		printf '[client]\nuser=root\npassword=root\n' >"$home/.my.cnf"
		chmod 0600 "$home/.my.cnf"
		chown "$(stat -c %U:%G "$home")" "$home/.my.cnf"
	done
}

# Set root/root once mysqld runs (idempotent: skipped when it already works).
set_mysql_root_password() {
	if MYSQL_PWD=root mysql --no-defaults -uroot -h 127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1; then
		log "mysql root password already set"
		return 0
	fi
	mysql --no-defaults -uroot <<-'EOF'
	ALTER USER 'root'@'localhost' IDENTIFIED WITH caching_sha2_password BY 'root';
	CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED WITH caching_sha2_password BY 'root';
	GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
	FLUSH PRIVILEGES;
	EOF
	log "mysql root password set"
}

create_postgres_roles() {
	local user
	for user in root "$WORK_USER"; do
		runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -d postgres -c \
			"DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user') THEN CREATE ROLE \"$user\" LOGIN SUPERUSER; END IF; END \$\$;"
		runuser -u postgres -- psql -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$user'" | grep -qx 1 ||
			runuser -u postgres -- createdb -O "$user" "$user"
	done
}

configure_redis() {
	step "redis"
	cat >/etc/redis/cargo-burst.conf <<-'EOF'
	# Written by cargo-burst: loopback only; maxmemory is sized at boot in
	# cargo-burst-memory.conf by cargo-burst-db-memory.service.
	bind 127.0.0.1
	protected-mode yes
	port 6379
	EOF
	# Later directives win in redis.conf, so the includes go last.
	local f
	for f in cargo-burst.conf cargo-burst-memory.conf; do
		touch "/etc/redis/$f"
		chmod 0644 "/etc/redis/$f"
		grep -qxF "include /etc/redis/$f" /etc/redis/redis.conf ||
			printf 'include /etc/redis/%s\n' "$f" >>/etc/redis/redis.conf
	done
}

# Every database waits for the boot-time memory sizing.
wire_db_memory_unit() {
	step "database memory sizing at boot"
	local unit
	for unit in "${DB_UNITS[@]}"; do
		install -d -m 0755 "/etc/systemd/system/$unit.d"
		printf '[Unit]\nWants=cargo-burst-db-memory.service\nAfter=cargo-burst-db-memory.service\n' \
			>"/etc/systemd/system/$unit.d/50-cargo-burst.conf"
	done
	systemctl daemon-reload
	systemctl enable cargo-burst-db-memory.service
	/usr/local/sbin/cargo-burst-db-memory
}

start_databases() {
	step "start databases"
	systemctl enable postgresql.service mysql.service redis-server.service
	systemctl restart postgresql.service mysql.service redis-server.service
	/usr/local/bin/cargo-burst-wait-db 180
	set_mysql_root_password
	create_postgres_roles
}

write_stamp() {
	step "version stamp"
	local rustc sccache nextest
	rustc="$(/root/.cargo/bin/rustc --version)"
	sccache="$(/usr/local/bin/sccache --version)"
	nextest="$(/usr/local/bin/cargo-nextest nextest --version | head -n 1)"
	python3 - "$CARGO_BURST_IMAGE_FORMAT" "$rustc" "$sccache" "$nextest" >/etc/cargo-burst/image.json.tmp <<-'EOF'
	import json, platform, sys, time
	fmt, rustc, sccache, nextest = sys.argv[1:5]
	stamp = {
	    "format": int(fmt),
	    "baked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
	    "os": "ubuntu-24.04",
	    "arch": platform.machine(),
	    "ssh_user": "root",
	    "tools": {"rustc": rustc, "sccache": sccache, "nextest": nextest},
	}
	print(json.dumps(stamp, indent=2, sort_keys=True))
	EOF
	chmod 0644 /etc/cargo-burst/image.json.tmp
	mv /etc/cargo-burst/image.json.tmp /etc/cargo-burst/image.json
	log "stamp: $(tr -d '\n' </etc/cargo-burst/image.json)"
}

arm_seal() {
	step "arm seal"
	systemctl daemon-reload
	# Started, not enabled: it cleans this server when it powers off, once.
	systemctl start cargo-burst-seal.service
	mark_status "ok"
	touch /run/cargo-burst-bake-ok
}

main() {
	cd / # cloud-init's runcmd may start anywhere; runuser'd tools must not trip on it
	log "cargo-burst image format $CARGO_BURST_IMAGE_FORMAT: provisioning"
	preflight
	install_packages
	setup_work_user
	install_sccache
	install_nextest
	install_rust root
	install_rust "$WORK_USER"
	configure_postgres
	configure_mysql
	configure_redis
	wire_db_memory_unit
	start_databases
	write_stamp
	arm_seal
	log "provisioning done; power_state powers the server off next"
}

main "$@"

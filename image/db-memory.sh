#!/usr/bin/env bash
# cargo-burst-db-memory: size the databases' memory from this server's RAM.
# Run at every boot by cargo-burst-db-memory.service before postgres, mysql
# and redis start (one snapshot serves 2 GB and 192 GB server types alike).
#
# Usage: cargo-burst-db-memory [--print]
#   --print  print the computed values as KEY=VALUE lines, write nothing.
# Environment (for tests): CARGO_BURST_MEMINFO (default /proc/meminfo),
# CARGO_BURST_ROOT (prefix of the /etc tree written to, default /).
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

MEMINFO="${CARGO_BURST_MEMINFO:-/proc/meminfo}"
ROOT="${CARGO_BURST_ROOT:-}"
ROOT="${ROOT%/}"

# clamp VALUE MIN MAX
clamp() {
	local v="$1"
	((v < $2)) && v="$2"
	((v > $3)) && v="$3"
	printf '%s' "$v"
}

# write_file PATH: atomically replace PATH with stdin.
write_file() {
	local tmp="$1.tmp.$$"
	cat >"$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$1"
	log "wrote $1"
}

mode="write"
case "${1:-}" in
"") ;;
--print) mode=print ;;
*)
	printf 'usage: %s [--print]\n' "${0##*/}" >&2
	exit 2
	;;
esac

kib="$(awk '$1 == "MemTotal:" { print $2; exit }' "$MEMINFO")"
if [[ ! "$kib" =~ ^[0-9]+$ ]] || ((kib < 65536)); then
	log "error: no usable MemTotal in $MEMINFO (got '${kib}')"
	exit 1
fi
total=$((kib / 1024)) # MiB

# Builds need the RAM far more than the test databases do, so the databases
# share about a sixth of it, with floors for tiny servers and caps for big
# ones (nothing near the 192 GB the original hard-coded).
pg_shared=$(clamp $((total / 16)) 64 8192)
pg_cache=$(clamp $((total / 2)) 256 98304)
pg_maint=$(clamp $((total / 32)) 64 2048)
pg_work=$(clamp $((total / 512)) 4 64)
mysql_pool=$(clamp $((total / 16)) 128 8192)
mysql_pool=$((mysql_pool / 128 * 128)) # whole 128 MiB chunks
mysql_perf=OFF
((total >= 8192)) && mysql_perf=ON
redis_max=$(clamp $((total / 32)) 64 4096)

if [[ "$mode" == print ]]; then
	printf 'TOTAL_MIB=%s\n' "$total"
	printf 'PG_SHARED_BUFFERS_MIB=%s\nPG_EFFECTIVE_CACHE_SIZE_MIB=%s\n' "$pg_shared" "$pg_cache"
	printf 'PG_MAINTENANCE_WORK_MEM_MIB=%s\nPG_WORK_MEM_MIB=%s\n' "$pg_maint" "$pg_work"
	printf 'MYSQL_INNODB_BUFFER_POOL_MIB=%s\nMYSQL_PERFORMANCE_SCHEMA=%s\n' "$mysql_pool" "$mysql_perf"
	printf 'REDIS_MAXMEMORY_MIB=%s\n' "$redis_max"
	exit 0
fi

log "RAM ${total} MiB: postgres shared_buffers ${pg_shared}MB, mysql buffer pool ${mysql_pool}M, redis maxmemory ${redis_max}mb"
header="# Written at boot by cargo-burst-db-memory for ${total} MiB of RAM: do not edit."

found=0
for dir in "$ROOT"/etc/postgresql/*/main/conf.d; do
	[[ -d "$dir" ]] || continue
	found=1
	write_file "$dir/60-cargo-burst-memory.conf" <<-EOF
	$header
	shared_buffers = ${pg_shared}MB
	effective_cache_size = ${pg_cache}MB
	maintenance_work_mem = ${pg_maint}MB
	work_mem = ${pg_work}MB
	EOF
done
[[ "$found" == 1 ]] || log "no postgres conf.d under $ROOT/etc/postgresql: skipped"

if [[ -d "$ROOT/etc/mysql/mysql.conf.d" ]]; then
	write_file "$ROOT/etc/mysql/mysql.conf.d/60-cargo-burst-memory.cnf" <<-EOF
	$header
	[mysqld]
	innodb_buffer_pool_size = ${mysql_pool}M
	performance_schema = ${mysql_perf}
	EOF
else
	log "no $ROOT/etc/mysql/mysql.conf.d: skipped"
fi

if [[ -d "$ROOT/etc/redis" ]]; then
	write_file "$ROOT/etc/redis/cargo-burst-memory.conf" <<-EOF
	$header
	maxmemory ${redis_max}mb
	maxmemory-policy noeviction
	EOF
else
	log "no $ROOT/etc/redis: skipped"
fi

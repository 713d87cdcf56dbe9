#!/usr/bin/env bash
# cargo-burst-db-memory: sane database memory for 2, 16 and 192 GB servers.
set -euo pipefail

root="${BURST_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
script="$root/image/db-memory.sh"
tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT
export CARGO_BURST_LOG="$tmp/bake.log"

# shellcheck disable=SC1091 # tests/tap.sh, checked on its own (image-scripts)
. "$(dirname "$0")/../tap.sh"

# meminfo <GB>: a /proc/meminfo as the kernel reports it for a server sold
# as <GB> (MemTotal is a little under the nominal size).
meminfo() {
	local kib=$(($1 * 1024 * 1024 * 97 / 100))
	printf 'MemTotal:       %d kB\nMemFree:        %d kB\nMemAvailable:   %d kB\n' "$kib" $((kib / 2)) $((kib / 2)) >"$tmp/meminfo-$1"
}

declare -A shared pool redis
for gb in 2 16 192; do
	meminfo "$gb"
	out="$(CARGO_BURST_MEMINFO="$tmp/meminfo-$gb" "$script" --print)" || { ok 1 "$gb GB: --print runs" "$out"; continue; }
	ok 0 "$gb GB: --print runs"
	declare -A v=()
	while IFS='=' read -r key value; do v[$key]="$value"; done <<<"$out"
	total="${v[TOTAL_MIB]:-0}"
	shared[$gb]="${v[PG_SHARED_BUFFERS_MIB]:-0}"
	pool[$gb]="${v[MYSQL_INNODB_BUFFER_POOL_MIB]:-0}"
	redis[$gb]="${v[REDIS_MAXMEMORY_MIB]:-0}"
	check "$gb GB: total is read from MemTotal ($total MiB)" \
		test "$total" -eq $((gb * 1024 * 97 / 100))
	check "$gb GB: postgres shared_buffers ${shared[$gb]} MiB within [64, 8192] and <= RAM/8" \
		test "${shared[$gb]}" -ge 64 -a "${shared[$gb]}" -le 8192 -a "${shared[$gb]}" -le $((total / 8))
	check "$gb GB: effective_cache_size ${v[PG_EFFECTIVE_CACHE_SIZE_MIB]:-0} MiB between shared_buffers and RAM" \
		test "${v[PG_EFFECTIVE_CACHE_SIZE_MIB]:-0}" -ge "${shared[$gb]}" -a "${v[PG_EFFECTIVE_CACHE_SIZE_MIB]:-0}" -lt "$total"
	check "$gb GB: innodb_buffer_pool ${pool[$gb]} MiB is whole 128 MiB chunks within [128, 8192]" \
		test $((pool[$gb] % 128)) -eq 0 -a "${pool[$gb]}" -ge 128 -a "${pool[$gb]}" -le 8192
	check "$gb GB: redis maxmemory ${redis[$gb]} MiB within [64, 4096]" \
		test "${redis[$gb]}" -ge 64 -a "${redis[$gb]}" -le 4096
	sum=$((shared[$gb] + pool[$gb] + redis[$gb] + v[PG_MAINTENANCE_WORK_MEM_MIB]))
	check "$gb GB: the databases reserve $sum MiB, under a quarter of RAM" test "$sum" -lt $((total / 4))
done
check "shared_buffers grows with RAM (${shared[2]:-?} < ${shared[16]:-?} < ${shared[192]:-?})" \
	test "${shared[2]:-0}" -lt "${shared[16]:-0}" -a "${shared[16]:-0}" -lt "${shared[192]:-0}"
check "buffer pool grows with RAM (${pool[2]:-?} < ${pool[16]:-?} <= ${pool[192]:-?})" \
	test "${pool[2]:-0}" -lt "${pool[16]:-0}" -a "${pool[16]:-0}" -le "${pool[192]:-0}"
check "192 GB is capped, not the original's 192 GB settings" \
	test "${shared[192]:-0}" -eq 8192 -a "${pool[192]:-0}" -eq 8192 -a "${redis[192]:-0}" -eq 4096

# Writing mode: the files the databases read, under a scratch /etc.
etc="$tmp/root"
mkdir -p "$etc/etc/postgresql/16/main/conf.d" "$etc/etc/mysql/mysql.conf.d" "$etc/etc/redis"
if out="$(CARGO_BURST_MEMINFO="$tmp/meminfo-16" CARGO_BURST_ROOT="$etc" "$script" 2>&1)"; then rc=0; else rc=$?; fi
ok "$rc" "16 GB: writes the config files" "$out"
check "postgres conf.d file has shared_buffers = ${shared[16]}MB" \
	grep -qx "shared_buffers = ${shared[16]}MB" "$etc/etc/postgresql/16/main/conf.d/60-cargo-burst-memory.conf"
check "mysql file has innodb_buffer_pool_size = ${pool[16]}M under [mysqld]" \
	grep -qx "innodb_buffer_pool_size = ${pool[16]}M" "$etc/etc/mysql/mysql.conf.d/60-cargo-burst-memory.cnf"
check "mysql file has a [mysqld] section" grep -qx '\[mysqld\]' "$etc/etc/mysql/mysql.conf.d/60-cargo-burst-memory.cnf"
check "redis file has maxmemory ${redis[16]}mb" grep -qx "maxmemory ${redis[16]}mb" "$etc/etc/redis/cargo-burst-memory.conf"
check "no temporary files are left behind" test -z "$(find "$etc" -name '*.tmp.*')"
# Booting the same snapshot on a smaller type rewrites the values.
CARGO_BURST_MEMINFO="$tmp/meminfo-2" CARGO_BURST_ROOT="$etc" "$script" 2>/dev/null || true
check "a 2 GB boot rewrites shared_buffers to ${shared[2]}MB" \
	grep -qx "shared_buffers = ${shared[2]}MB" "$etc/etc/postgresql/16/main/conf.d/60-cargo-burst-memory.conf"

printf 'MemFree: 100 kB\n' >"$tmp/meminfo-bad"
if CARGO_BURST_MEMINFO="$tmp/meminfo-bad" "$script" --print >/dev/null 2>&1; then rc=0; else rc=$?; fi
check "no MemTotal: refuses (exit $rc)" test "$rc" -ne 0
if "$script" --bogus >/dev/null 2>&1; then rc=0; else rc=$?; fi
check "bad usage exits 2 (exit $rc)" test "$rc" -eq 2
check "steps are logged with a UTC timestamp" \
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z db-memory.sh: wrote ' "$CARGO_BURST_LOG"
check "the failure is logged" grep -q 'no usable MemTotal' "$CARGO_BURST_LOG"

done_testing

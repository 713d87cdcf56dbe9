#!/usr/bin/env bash
# cargo-burst-wait-db: wait until the image's databases accept connections.
#
# Usage: cargo-burst-wait-db [timeout-seconds] [postgres|mysql|redis ...]
#   timeout  total bound in seconds (default 60); 0 checks once.
#   names    which databases to wait for (default: all three).
# Prints one line per database (up/down). Exit 0 when all are up, 1 on
# timeout, 2 on bad usage.
# Environment: CARGO_BURST_DB_HOST (default 127.0.0.1), CARGO_BURST_PG_PORT
# (5432), CARGO_BURST_MYSQL_PORT (3306), CARGO_BURST_REDIS_PORT (6379).
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
# shellcheck disable=SC2317 # called from the ERR trap
on_error() { log "FAILED at line $1 (exit $2): $3"; }
trap 'on_error "$LINENO" "$?" "$BASH_COMMAND"' ERR

usage() {
	printf 'usage: %s [timeout-seconds] [postgres|mysql|redis ...]\n' "${0##*/}" >&2
	exit 2
}

host="${CARGO_BURST_DB_HOST:-127.0.0.1}"
timeout=60
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
	timeout="$1"
	shift
fi
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(postgres mysql redis)

declare -A port
for name in "${names[@]}"; do
	case "$name" in
	postgres) port[$name]="${CARGO_BURST_PG_PORT:-5432}" ;;
	mysql) port[$name]="${CARGO_BURST_MYSQL_PORT:-3306}" ;;
	redis) port[$name]="${CARGO_BURST_REDIS_PORT:-6379}" ;;
	*) usage ;;
	esac
	[[ "${port[$name]}" =~ ^[0-9]+$ ]] || usage
done

# probe HOST PORT: does something accept TCP connections there? Bounded so a
# filtered port cannot stall the loop.
probe() {
	# shellcheck disable=SC2016 # $1 and $2 are the inner bash's arguments
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' probe "$1" "$2" 2>/dev/null
}

# now_ms: milliseconds since the epoch (SECONDS is too coarse for a bound).
now_ms() {
	local t="${EPOCHREALTIME/[.,]/}"
	printf '%s' $((t / 1000))
}

declare -A up
start=$(now_ms)
deadline=$((start + timeout * 1000))
log "waiting up to ${timeout}s for ${names[*]} on $host"
while :; do
	pending=0
	for name in "${names[@]}"; do
		[[ -z "${up[$name]:-}" ]] || continue
		if probe "$host" "${port[$name]}"; then
			up[$name]=1
			log "$name is up ($host:${port[$name]}) after $(($(now_ms) - start)) ms"
		else
			pending=$((pending + 1))
		fi
	done
	if ((pending == 0)) || (($(now_ms) >= deadline)); then
		break
	fi
	sleep 0.5
done

status=0
for name in "${names[@]}"; do
	if [[ -n "${up[$name]:-}" ]]; then
		printf 'up %s %s:%s\n' "$name" "$host" "${port[$name]}"
	else
		printf 'down %s %s:%s\n' "$name" "$host" "${port[$name]}"
		status=1
	fi
done
if ((status != 0)); then
	log "timed out after ${timeout}s waiting for databases"
fi
exit "$status"

# shellcheck shell=sh
# tap.sh - the TAP writer of the shell tests (POSIX sh; bash sources it too).
# The C tests have tests/tap.h, the Python tests tests/taplib.py; all three
# follow the rules in tests/meson.build.
#
#   . "$(dirname "$0")/../tap.sh"
#   ok <status> <name> [diagnostic]   status 0 passes; the diagnostic is
#                                     printed as "# " lines on a failure
#   check <name> <command...>         ok with the command's status
#   skip <name> <reason>              a skipped row ("ok N - name # SKIP")
#   diag <text>                       "# " lines
#   skip_all <reason>                 "1..0 # SKIP reason", exits 0
#   bail_out <reason>                 "Bail out! reason", exits 1
#   done_testing                      prints the plan; returns 1 if a row failed
#                                     (the script's last command)
tap_n=0
tap_failed=0

ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" = 0 ]; then
		printf 'ok %d - %s\n' "$tap_n" "$2"
	else
		tap_failed=$((tap_failed + 1))
		printf 'not ok %d - %s\n' "$tap_n" "$2"
		if [ -n "${3:-}" ]; then
			printf '%s\n' "$3" | sed 's/^/# /'
		fi
	fi
}

check() {
	tap_name=$1
	shift
	if "$@"; then ok 0 "$tap_name"; else ok 1 "$tap_name"; fi
}

skip() {
	tap_n=$((tap_n + 1))
	printf 'ok %d - %s # SKIP %s\n' "$tap_n" "$1" "$2"
}

diag() {
	printf '%s\n' "$1" | sed 's/^/# /'
}

skip_all() {
	printf '1..0 # SKIP %s\n' "$1"
	exit 0
}

bail_out() {
	printf 'Bail out! %s\n' "$1"
	exit 1
}

done_testing() {
	printf '1..%d\n' "$tap_n"
	if [ "$tap_n" = 0 ]; then
		echo "# no test ran"
		return 1
	fi
	[ "$tap_failed" = 0 ]
}

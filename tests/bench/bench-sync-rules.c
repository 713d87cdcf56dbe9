/*
 * bench-sync-rules - time remote_sync_rules() on a tree, with the
 * .gitignore walker or with git's list, for bench-sync.py:
 *
 *   bench-sync-rules DIR walk|git N
 *
 * prints "<median ms> <rules lines>".  "git" falls back to the walker
 * unless DIR is the top of a git work tree and git is installed: the
 * caller makes sure it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "burst/remote.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct sync_filters f = { 0 };
	struct strbuf rules = STRBUF_INIT;
	double *t;
	long n;
	size_t lines = 0;
	char *end;

	if (argc != 4 || (strcmp(argv[2], "walk") && strcmp(argv[2], "git"))) {
		fprintf(stderr, "usage: bench-sync-rules DIR walk|git N\n");
		return 64;
	}
	n = strtol(argv[3], &end, 10);
	if (*end || n < 1 || n > 1000) {
		fprintf(stderr, "bench-sync-rules: N must be 1..1000\n");
		return 64;
	}
	f.no_git = !strcmp(argv[2], "walk");
	t = xcalloc((size_t)n, sizeof(*t));
	for (long i = 0; i < n; i++) {
		struct burst_error err = BURST_ERROR_INIT;
		double t0 = now_ms();

		strbuf_reset(&rules);
		if (remote_sync_rules(argv[1], &f, &rules, &err) < 0) {
			fprintf(stderr, "bench-sync-rules: %s\n", err.message);
			return 1;
		}
		t[i] = now_ms() - t0;
		burst_error_release(&err);
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	for (size_t i = 0; i < rules.len; i++)
		lines += rules.buf[i] == '\n';
	printf("%.3f %zu\n", t[n / 2], lines);
	free(t);
	strbuf_release(&rules);
	return 0;
}

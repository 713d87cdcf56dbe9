/*
 * bench-sync-rules - time remote_sync_rules() on a tree, with the
 * .gitignore walker or with git's list, for bench-sync.py:
 *
 *   bench-sync-rules DIR walk|git N
 *   bench-sync-rules DIR index N
 *
 * prints "<median ms> <rules lines>"; "index": the phases of a warm
 * indexed push with nothing changed (issue 16), the median ms of each:
 * "rules parse walk load diff save".  "git" falls back to the walker
 * unless DIR is the top of a git work tree and git is installed: the
 * caller makes sure it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "burst/remote.h"
#include "../../src/remote/remote-int.h"

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

static void index_phases(const char *dir, long n)
{
	const char *names[] = { "rules", "parse", "walk", "load", "diff", "save" };
	double *t = xcalloc((size_t)n * 6, sizeof(*t));
	char *path = xstrfmt("/tmp/bench-sync-index-%ld.idx", (long)getpid());

	for (long i = 0; i < n; i++) {
		struct burst_error err = BURST_ERROR_INIT;
		struct strbuf rules = STRBUF_INIT, send = STRBUF_INIT;
		struct strvec dels = STRVEC_INIT;
		struct sync_filters f = { .no_git = true };
		struct sync_rules *sr;
		struct sync_index *cur, *old;
		const char *why = NULL;
		double t0 = now_ms();

		if (remote_sync_rules(dir, &f, &rules, &err) < 0)
			exit(1);
		t[0 * n + i] = now_ms() - t0;
		t0 = now_ms();
		sr = sync_rules_parse(rules.buf, rules.len);
		t[1 * n + i] = now_ms() - t0;
		t0 = now_ms();
		cur = sr ? sync_index_walk(dir, sr, &why) : NULL;
		t[2 * n + i] = now_ms() - t0;
		if (!cur) {
			fprintf(stderr, "bench-sync-rules: no index: %s\n", why ? why : "parse");
			exit(1);
		}
		if (!i && sync_index_save(cur, path, &err) < 0)
			exit(1);
		t0 = now_ms();
		old = sync_index_load(path, &why);
		t[3 * n + i] = now_ms() - t0;
		if (!old)
			exit(1);
		t0 = now_ms();
		sync_index_diff(old, cur, &send, &dels, NULL);
		t[4 * n + i] = now_ms() - t0;
		t0 = now_ms();
		if (sync_index_save(cur, path, &err) < 0)
			exit(1);
		t[5 * n + i] = now_ms() - t0;
		if (!i)
			fprintf(stderr, "%zu entries, %zu bytes to send\n", cur->nr, send.len);
		sync_index_free(cur);
		sync_index_free(old);
		sync_rules_free(sr);
		strbuf_release(&rules);
		strbuf_release(&send);
		strvec_clear(&dels);
	}
	for (int k = 0; k < 6; k++) {
		qsort(t + k * n, (size_t)n, sizeof(*t), cmp_double);
		printf("%s%s %.1f", k ? " " : "", names[k], t[k * n + n / 2]);
	}
	printf("\n");
	unlink(path);
	free(path);
	free(t);
}

int main(int argc, char **argv)
{
	struct sync_filters f = { 0 };
	struct strbuf rules = STRBUF_INIT;
	double *t;
	long n;
	size_t lines = 0;
	char *end;

	if (argc != 4 || (strcmp(argv[2], "walk") && strcmp(argv[2], "git") &&
			  strcmp(argv[2], "index"))) {
		fprintf(stderr, "usage: bench-sync-rules DIR walk|git|index N\n");
		return 64;
	}
	n = strtol(argv[3], &end, 10);
	if (*end || n < 1 || n > 1000) {
		fprintf(stderr, "bench-sync-rules: N must be 1..1000\n");
		return 64;
	}
	if (!strcmp(argv[2], "index")) {
		index_phases(argv[1], n);
		return 0;
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

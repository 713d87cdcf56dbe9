/*
 * test-state-audit-1m.c - audit over 1,000,000 synthetic runs (and the
 * server sessions they imply) must stay fast.  BURST_STATE_BENCH_RUNS
 * overrides the count.
 */
#include <cJSON.h>
#include <time.h>

#include "state-test.h"
#include "burst/report.h"

int main(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_audit a;
	struct burst_state *st;
	int64_t n = 1000000;
	const char *env = getenv("BURST_STATE_BENCH_RUNS");
	uint64_t t0, t_synth, t_audit;
	char *buf = NULL;
	size_t len = 0;
	clock_t c0;
	FILE *f;

	if (env && parse_int64(env, 1, INT64_C(100000000), &n) < 0)
		bail_out("bad BURST_STATE_BENCH_RUNS");
	test_tmpdir();
	st = test_open(NULL);
	t0 = burst_now_ms();
	ok(state_debug_synthesize(st, n, 42, &err) == 0, "synthesized %lld runs", (long long)n);
	t_synth = burst_now_ms() - t0;
	diag("synthesize: %.2f s", (double)t_synth / 1000.0);

	t0 = burst_now_ms();
	c0 = clock();
	ok(state_audit_query(st, 0.25, &a, &err) == 0, "audit query");
	t_audit = burst_now_ms() - t0;
	diag("audit over %lld runs: %.3f s wall, %.3f s cpu", (long long)n,
	     (double)t_audit / 1000.0, (double)(clock() - c0) / CLOCKS_PER_SEC);
	ok(t_audit < 10000, "audit in under 10 s (%.3f s)", (double)t_audit / 1000.0);
	is_int(a.runs_total, n, "every run counted");
	is_int(a.cold.n + a.warm.n, n, "cold + warm = all runs");
	ok(a.sessions > 0 && a.sessions == a.cold.n, "one session per cold run");
	is_int(a.sessions_open, 0, "all synthetic sessions terminated");
	is_int(a.term_reap + a.term_down, a.sessions, "terminations are reap or down");
	ok(a.whatif[2].provisions == a.sessions,
	   "what-if at the synthetic keep-alive (15 min) reproduces the provisions");
	ok(a.whatif[0].provisions >= a.whatif[1].provisions &&
	   a.whatif[1].provisions >= a.whatif[2].provisions &&
	   a.whatif[2].provisions >= a.whatif[3].provisions &&
	   a.whatif[3].provisions >= a.whatif[4].provisions,
	   "longer keep-alive never provisions more");
	ok(a.cold.provision.p50_ms >= 25000 && a.cold.provision.p95_ms <= 60000 &&
	   a.cold.provision.p50_ms <= a.cold.provision.p95_ms, "cold provision percentiles in range");
	ok(a.warm.provision.p95_ms == 0, "warm runs do not provision");
	is_int(a.nverbs, 6, "six verbs");
	state_audit_release(&a);

	f = open_memstream(&buf, &len);
	t0 = burst_now_ms();
	ok(f && report_print_audit(st, f, &(struct state_prices){ -1, -1, NULL }, true, &err) == 0, "print audit --json");
	if (f)
		fclose(f);
	diag("audit --json: %.3f s", (double)(burst_now_ms() - t0) / 1000.0);
	{
		cJSON *j = cJSON_Parse(buf);

		ok(j != NULL, "json parses");
		cJSON_Delete(j);
	}
	free(buf);
	state_close(st);
	burst_error_release(&err);
	return done_testing();
}

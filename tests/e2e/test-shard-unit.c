/* test-shard-unit.c - the pure part of `test --shards` (shard.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burst/shard.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "tap.h"

static void summary_case(const char *line, bool want_ok, long long run, long long passed,
			 long long failed, long long skipped)
{
	struct shard_summary s = { 0 };
	bool got = shard_parse_summary(line, &s);

	is_int(got, want_ok, "summary line? '%s'", line);
	if (!got || !want_ok)
		return;
	ok(s.seen && s.run == run && s.passed == passed && s.failed == failed &&
	   s.skipped == skipped, "counts of '%s': %lld run %lld passed %lld failed %lld skipped",
	   line, (long long)s.run, (long long)s.passed, (long long)s.failed,
	   (long long)s.skipped);
}

static void test_summary(void)
{
	summary_case("     Summary [   0.010s] 5 tests run: 5 passed, 0 skipped", true, 5, 5, 0, 0);
	summary_case("     Summary [   0.012s] 12 tests run: 11 passed, 1 failed, 3 skipped", true,
		     12, 11, 1, 3);
	summary_case("Summary [  12.001s] 1 test run: 1 passed, 40 skipped", true, 1, 1, 0, 40);
	summary_case("     Summary [   1.000s] 4 tests run: 2 passed (1 flaky), 1 failed, "
		     "1 timed out, 0 skipped", true, 4, 2, 2, 0);
	summary_case("\033[1;32m     Summary\033[0m [   0.010s] \033[1m7\033[0m tests run: "
		     "\033[1m7\033[0m \033[1;32mpassed\033[0m, \033[1m2\033[0m skipped",
		     true, 7, 7, 0, 2);
	summary_case("     Summary [   0.000s] 0 tests run: 0 passed, 9 skipped", true, 0, 0, 0, 9);
	summary_case("        PASS [   0.003s] crate tests::a", false, 0, 0, 0, 0);
	summary_case("test result: ok. 5 passed; 0 failed", false, 0, 0, 0, 0);
	summary_case("Summary of things", false, 0, 0, 0, 0);
}

static void failure_case(const char *line, const char *want)
{
	char *got = shard_parse_failure(line);

	is_str(got ? got : "(none)", want ? want : "(none)", "failure name of '%s'", line);
	free(got);
}

static void test_failures(void)
{
	failure_case("        FAIL [   0.003s] sharded::extra extra_2", "sharded::extra extra_2");
	failure_case("     TIMEOUT [  60.001s] crate tests::slow", "crate tests::slow");
	failure_case("     SIGSEGV [   0.100s] crate tests::boom", "crate tests::boom");
	failure_case("\033[31m        FAIL\033[0m [   0.003s] crate \033[1mt\033[0m", "crate t");
	failure_case("        PASS [   0.003s] crate tests::a", NULL);
	failure_case("FAILED to do things", NULL);
	failure_case("--- STDOUT: crate tests::a ---", NULL);
}

static void split_case(const char *const *args, size_t n, const char *want_archive,
		       const char *want_run)
{
	struct strvec a = STRVEC_INIT, r = STRVEC_INIT;
	struct strbuf ga = STRBUF_INIT, gr = STRBUF_INIT;

	shard_split_args(args, n, &a, &r);
	for (size_t i = 0; i < a.nr; i++)
		strbuf_addf(&ga, "%s%s", i ? " " : "", a.v[i]);
	for (size_t i = 0; i < r.nr; i++)
		strbuf_addf(&gr, "%s%s", i ? " " : "", r.v[i]);
	is_str(ga.buf, want_archive, "archive args");
	is_str(gr.buf, want_run, "run args");
	strvec_clear(&a);
	strvec_clear(&r);
	strbuf_release(&ga);
	strbuf_release(&gr);
}

static void test_split(void)
{
	static const char *const a1[] = { "-p", "foo", "--release", "my_filter", "-E",
					  "test(x)", "--no-fail-fast" };
	static const char *const a2[] = { "--features=a,b", "-pbar", "--test", "it", "--",
					  "--ignored", "-p", "x" };
	static const char *const a3[] = { "-v", "--workspace", "--target",
					  "x86_64-unknown-linux-gnu", "--retries", "2" };
	static const char *const a4[] = { "--tests", "--profile", "ci" };

	split_case(a1, 7, "-p foo --release", "my_filter -E test(x) --no-fail-fast");
	split_case(a2, 8, "--features=a,b -pbar --test it", "-- --ignored -p x");
	split_case(a3, 6, "--workspace --target x86_64-unknown-linux-gnu", "-v --retries 2");
	split_case(a4, 3, "--tests", "--profile ci");
	split_case(NULL, 0, "", "");
}

static void test_junit(void)
{
	const char *doc1 =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"nextest-run\" tests=\"2\">\n"
		"  <testsuite name=\"a\" tests=\"2\">\n"
		"    <testcase name=\"t1\" classname=\"a\"/>\n"
		"    <testcase name=\"t2\" classname=\"a\"><failure>x &lt; y</failure></testcase>\n"
		"  </testsuite>\n"
		"  <testsuite name=\"empty\" tests=\"0\"/>\n"
		"</testsuites>\n";
	const char *doc2 = "<testsuites><testsuite\nname=\"b\"><testcase name=\"t3\"/>"
			   "</testsuite></testsuites>";
	struct strbuf suites = STRBUF_INIT, out = STRBUF_INIT;
	struct shard_summary total = { true, 3, 2, 1, 0 };
	size_t n1, n2;

	n1 = shard_junit_suites(doc1, strlen(doc1), &suites);
	n2 = shard_junit_suites(doc2, strlen(doc2), &suites);
	is_int(n1, 2, "two suites in the first report (one self-closing)");
	is_int(n2, 1, "one suite in the second");
	is_int(shard_junit_suites("", 0, &suites), 0, "none in an empty report");
	is_int(shard_junit_suites("<testsuite name=\"x\">", 20, &suites), 0,
	       "none in a truncated report");
	shard_junit_merge(&suites, &total, &out);
	ok(!strncmp(out.buf, "<?xml", 5) && strstr(out.buf, "<testsuites name=\"cargo-burst-shards\" "
						   "tests=\"3\" failures=\"1\"") &&
	   strstr(out.buf, "x &lt; y") && strstr(out.buf, "name=\"t3\"") &&
	   strstr(out.buf, "<testsuite name=\"empty\" tests=\"0\"/>") &&
	   !strcmp(out.buf + out.len - 14, "</testsuites>\n"), "merged document");
	ok(!strstr(out.buf, "nextest-run"), "the shards' roots are not copied");
	strbuf_release(&suites);
	strbuf_release(&out);
}

static void test_merge(void)
{
	struct shard_summary v[3] = {
		{ true, 3, 3, 0, 9 }, { true, 4, 3, 1, 8 }, { true, 5, 5, 0, 7 },
	};
	struct shard_summary t, none[2] = { { 0 }, { 0 } };

	shard_summary_merge(v, 3, &t);
	ok(t.seen && t.run == 12 && t.passed == 11 && t.failed == 1 && t.skipped == 0,
	   "merged: 12 run, 11 passed, 1 failed, 0 skipped (got %lld/%lld/%lld/%lld)",
	   (long long)t.run, (long long)t.passed, (long long)t.failed, (long long)t.skipped);
	v[0].skipped = 11; /* 2 tests filtered out for everyone: 3+11 = 14 = 12 run + 2 */
	shard_summary_merge(v, 3, &t);
	is_int(t.skipped, 2, "tests skipped by filters are counted once");
	shard_summary_merge(none, 2, &t);
	ok(!t.seen && t.run == 0, "no summary seen");
}

static void test_names(void)
{
	char *a = shard_server_name("0123456789ab", 1700000000, 4242, 2);
	char *b = shard_server_name("0123456789ab", 1700000000, 4242, 3);

	ok(!strncmp(a, STATE_SHARD_NAME_PREFIX, strlen(STATE_SHARD_NAME_PREFIX)),
	   "name has the shard prefix");
	ok(strcmp(a, b) != 0, "names of two shards differ");
	ok(strlen(a) <= 63, "name fits a hostname label (%zu)", strlen(a));
	ok(strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(a),
	   "only [a-z0-9-] in the name");
	free(a);
	free(b);
}

int main(void)
{
	char s[] = "\033[1;31mred\033[0m plain";

	is_str(shard_strip_ansi(s), "red plain", "ANSI sequences stripped");
	test_summary();
	test_failures();
	test_split();
	test_junit();
	test_merge();
	test_names();
	return done_testing();
}

/*
 * tap.h - a minimal TAP producer for the C test programs (meson protocol
 * 'tap').  Header-only so every test binary gets its own copy.
 *
 *   plan_lazy();                  // or plan(N)
 *   ok(x == 1, "x is one");
 *   is_int(got, want, "count");
 *   is_str(got, want, "name");
 *   return done_testing();
 *
 * skip_all("reason") prints "1..0 # SKIP reason" and exits 0: under meson's
 * TAP protocol that plan is what marks the test skipped (an exit status of
 * 77 would count as an error there).  See tests/meson.build for the rule.
 *
 * Time bounds: assert that something eventually happens by polling with a
 * generous deadline; where an upper bound on a duration is itself what is
 * tested, give its slack through tap_scaled_ms(), which multiplies by
 * BURST_TEST_TIME_SCALE (default 1) for a loaded or sanitized machine.
 */
#ifndef BURST_TAP_H
#define BURST_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count_, tap_failed_, tap_planned_ = -1;

static inline void plan(int n)
{
	tap_planned_ = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline void plan_lazy(void)
{
	tap_planned_ = -1;
}

static inline __attribute__((format(printf, 2, 3))) int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	char *desc = NULL;

	tap_count_++;
	va_start(ap, fmt);
	if (vasprintf(&desc, fmt, ap) < 0)
		desc = NULL;
	va_end(ap);
	/* a description is one line: a line break would end it mid-way */
	for (char *p = desc; p && *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_count_, desc ? desc : "?");
	free(desc);
	fflush(stdout);
	if (!cond)
		tap_failed_++;
	return cond;
}

/* A diagnostic: every line of it a "# " line (TAP has no other kind). */
static inline __attribute__((format(printf, 1, 2))) void diag(const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0 || !text) {
		printf("# (diagnostic lost)\n");
	} else {
		for (char *line = text, *nl;; line = nl + 1) {
			nl = strchr(line, '\n');
			printf("# %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
			if (!nl || !nl[1])
				break;
		}
	}
	free(text);
	fflush(stdout);
}

#define is_int(got, want, ...)                                             \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);           \
		if (!ok(g_ == w_, __VA_ARGS__))                                    \
			diag("  got %lld, want %lld (%s:%d)", g_, w_, __FILE__,        \
			     __LINE__);                                            \
	} while (0)

#define is_str(got, want, ...)                                             \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                              \
		int same_ = (g_ && w_) ? !strcmp(g_, w_) : g_ == w_;              \
		if (!ok(same_, __VA_ARGS__))                                       \
			diag("  got '%s', want '%s' (%s:%d)", g_ ? g_ : "(null)",      \
			     w_ ? w_ : "(null)", __FILE__, __LINE__);              \
	} while (0)

/* BURST_TEST_TIME_SCALE: a number from 1 to 100 (anything else counts as 1). */
static inline double tap_time_scale(void)
{
	const char *s = getenv("BURST_TEST_TIME_SCALE");
	char *end = NULL;
	double f;

	if (!s || !*s)
		return 1.0;
	f = strtod(s, &end);
	if (*end || !(f >= 1.0 && f <= 100.0))
		return 1.0;
	return f;
}

/* ms milliseconds of slack, scaled by BURST_TEST_TIME_SCALE. */
static inline uint64_t tap_scaled_ms(uint64_t ms)
{
	return (uint64_t)((double)ms * tap_time_scale());
}

static inline __attribute__((noreturn)) void skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	fflush(stdout);
	exit(0);
}

static inline __attribute__((noreturn)) void bail_out(const char *reason)
{
	printf("Bail out! %s\n", reason);
	fflush(stdout);
	exit(1);
}

static inline int done_testing(void)
{
	if (tap_planned_ < 0)
		printf("1..%d\n", tap_count_);
	else if (tap_planned_ != tap_count_) {
		printf("# planned %d tests but ran %d\n", tap_planned_, tap_count_);
		return 1;
	}
	if (!tap_count_) {
		printf("# no test ran\n");
		return 1;
	}
	fflush(stdout);
	return tap_failed_ ? 1 : 0;
}

#endif

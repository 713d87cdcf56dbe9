/*
 * test-price.c - provision_price_format() and the remembered price list of
 * provision_prices_get(): a fresh list answers without an API client, a
 * stale, oversized or malformed one is not used, and hostile amounts
 * (negative, not a number) are never shown as a price.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "burst/provision.h"
#include "../tap.h"

static char dir[] = "/tmp/burst-test-price-XXXXXX";

static void put(const char *text, time_t mtime)
{
	char path[128];
	struct utimbuf t = { mtime, mtime };
	FILE *f;

	snprintf(path, sizeof(path), "%s/pricing.json", dir);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	utime(path, &t);
}

static void test_format(void)
{
	struct { double v; const char *cur, *want; } cases[] = {
		{ 0.0069, "EUR", "\u20ac0.0069" },
		{ 0.095, "EUR", "\u20ac0.095" },
		{ 0.5, "EUR", "\u20ac0.50" },
		{ 0, "EUR", "\u20ac0.00" },
		{ 1.2, "EUR", "\u20ac1.20" },
		{ 288.49, "EUR", "\u20ac288.49" },
		{ 0.44, "USD", "USD 0.44" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = provision_price_format(cases[i].v, cases[i].cur);

		is_str(got, cases[i].want, "format %g %s", cases[i].v, cases[i].cur);
		free(got);
	}
}

static const char good[] =
	"{\"currency\":\"EUR\",\"volume\":{\"price_per_gb_month\":{\"net\":\"0.0440\"}},"
	"\"server_types\":[{\"name\":\"cpx11\",\"prices\":[{\"location\":\"fsn1\","
	"\"price_hourly\":{\"net\":\"0.0069\"}}]}]}";

static void test_cache(void)
{
	struct provision_prices pr;
	struct burst_error e = BURST_ERROR_INIT;
	time_t now = time(NULL);

	put(good, now);
	ok(provision_prices_get(NULL, dir, "cpx11", "fsn1", &pr, &e) == 0 && pr.cached,
	   "a fresh remembered list answers without a client");
	ok(pr.server_hourly > 0.00689 && pr.server_hourly < 0.00691, "hourly price");
	ok(pr.volume_gb_month > 0.0439 && pr.volume_gb_month < 0.0441, "volume price");
	is_str(pr.currency, "EUR", "currency");
	ok(provision_prices_get(NULL, dir, "ccx63", "fsn1", &pr, &e) == 0 &&
	   pr.server_hourly < 0, "a type not in the list has no price");
	ok(provision_prices_get(NULL, dir, "cpx11", "sin", &pr, &e) == 0 &&
	   pr.server_hourly < 0, "nor a location not in the list");

	put(good, now - 2 * 86400);
	ok(provision_prices_get(NULL, dir, "cpx11", "fsn1", &pr, &e) < 0,
	   "a list older than a day is not used (and no client: an error)");
	burst_error_release(&e);

	put("{not json", now);
	ok(provision_prices_get(NULL, dir, "cpx11", "fsn1", &pr, &e) < 0,
	   "a malformed list is not used");
	burst_error_release(&e);

	put("{\"currency\":\"eu ro\",\"volume\":{\"price_per_gb_month\":"
	    "{\"net\":\"-5\"}},\"server_types\":[{\"name\":\"cpx11\",\"prices\":"
	    "[{\"location\":\"fsn1\",\"price_hourly\":{\"net\":\"nan\"}}]}]}", now);
	ok(provision_prices_get(NULL, dir, "cpx11", "fsn1", &pr, &e) == 0, "hostile amounts parse");
	ok(pr.server_hourly < 0 && pr.volume_gb_month < 0, "but are no price");
	is_str(pr.currency, "EUR", "an odd currency code falls back to EUR");
	burst_error_release(&e);
}

int main(void)
{
	char path[128];

	plan_lazy();
	if (!mkdtemp(dir))
		bail_out("mkdtemp");
	test_format();
	test_cache();
	snprintf(path, sizeof(path), "%s/pricing.json", dir);
	unlink(path);
	rmdir(dir);
	return done_testing();
}

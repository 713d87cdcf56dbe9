/*
 * price.c - live prices of a server type and of volumes, for the cold
 * path's status line, `--dry-run` and `doctor`; see provision_prices_get()
 * in include/burst/provision.h.
 *
 * GET /pricing is remembered in <state dir>/pricing.json for a day, so
 * that the status line of a cold run adds no API request once a day's
 * prices are known (prices change rarely; a day-old price on a status line
 * is harmless, and `audit` keeps asking live).
 */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/provision.h"
#include "burst/state.h"
#include "burst/strbuf.h"

#define MOD "provision"
/* How long a remembered price list is used. */
#define PRICE_CACHE_SECS (24 * 3600)
/* A remembered price list larger than this is not ours. */
#define PRICE_CACHE_MAX (1024 * 1024)

static char *cache_path(const char *state_dir)
{
	return xstrfmt("%s/pricing.json", state_dir);
}

/* A sane amount: finite, not negative, below a million per unit. */
static bool amount_ok(double d)
{
	return isfinite(d) && d >= 0 && d < 1e6;
}

static void pick(const struct hcloud_pricing *p, const char *type, const char *location,
		 struct provision_prices *out)
{
	snprintf(out->currency, sizeof(out->currency), "%s",
		 p->currency && strlen(p->currency) < sizeof(out->currency) ?
		 p->currency : "EUR");
	for (const char *c = out->currency; *c; c++)
		if (*c < 'A' || *c > 'Z') {
			snprintf(out->currency, sizeof(out->currency), "EUR");
			break;
		}
	out->server_hourly = out->volume_gb_month = -1;
	for (size_t i = 0; type && i < p->server_types.nr; i++) {
		const struct hcloud_server_type *t = &p->server_types.v[i];
		const struct hcloud_price *pr;

		if (!t->name || strcmp(t->name, type))
			continue;
		pr = hcloud_server_type_price(t, location);
		if (pr && pr->hourly_net && amount_ok(pr->hourly_net_d))
			out->server_hourly = pr->hourly_net_d;
	}
	if (p->volume_gb_month.monthly_net &&
	    amount_ok(p->volume_gb_month.monthly_net_d))
		out->volume_gb_month = p->volume_gb_month.monthly_net_d;
}

/* The price list as the API's "pricing" object (what the cache holds). */
static char *pricing_json(const struct hcloud_pricing *p)
{
	cJSON *root = cJSON_CreateObject(), *types, *vol;
	char *text, *ret;

	cJSON_AddStringToObject(root, "currency", p->currency ? p->currency : "EUR");
	vol = cJSON_AddObjectToObject(cJSON_AddObjectToObject(root, "volume"),
				      "price_per_gb_month");
	cJSON_AddStringToObject(vol, "net", p->volume_gb_month.monthly_net ?
				p->volume_gb_month.monthly_net : "");
	types = cJSON_AddArrayToObject(root, "server_types");
	for (size_t i = 0; i < p->server_types.nr; i++) {
		const struct hcloud_server_type *t = &p->server_types.v[i];
		cJSON *jt = cJSON_CreateObject(), *prices;

		cJSON_AddStringToObject(jt, "name", t->name ? t->name : "");
		prices = cJSON_AddArrayToObject(jt, "prices");
		for (size_t k = 0; k < t->nr_prices; k++) {
			cJSON *jp = cJSON_CreateObject();

			cJSON_AddStringToObject(jp, "location", t->prices[k].location ?
						t->prices[k].location : "");
			cJSON_AddStringToObject(cJSON_AddObjectToObject(jp, "price_hourly"),
						"net", t->prices[k].hourly_net ?
						t->prices[k].hourly_net : "");
			cJSON_AddItemToArray(prices, jp);
		}
		cJSON_AddItemToArray(types, jt);
	}
	text = cJSON_PrintUnformatted(root);
	ret = text ? xstrdup(text) : NULL;
	cJSON_free(text);
	cJSON_Delete(root);
	return ret;
}

/* The remembered price list when it is younger than a day: 0, else -1. */
static int cache_read(const char *state_dir, struct hcloud_pricing *p)
{
	struct strbuf sb = STRBUF_INIT;
	struct burst_error e = BURST_ERROR_INIT;
	char *path = cache_path(state_dir);
	struct stat st;
	time_t now = time(NULL);
	int ret = -1;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_mtime > now ||
	    now - st.st_mtime > PRICE_CACHE_SECS)
		goto out;
	strbuf_set_max(&sb, PRICE_CACHE_MAX);
	if (strbuf_read_file(&sb, path) < 0 ||
	    hcloud_pricing_decode(sb.buf, sb.len, p, &e) < 0) {
		hcloud_pricing_release(p);
		memset(p, 0, sizeof(*p));
		goto out;
	}
	ret = 0;
out:
	burst_error_release(&e);
	strbuf_release(&sb);
	free(path);
	return ret;
}

static void cache_write(const char *state_dir, const struct hcloud_pricing *p)
{
	char *path = cache_path(state_dir);
	char *tmp = xstrfmt("%s.%ld.tmp", path, (long)getpid());
	char *text = pricing_json(p);
	int fd = text ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (!ok || rename(tmp, path) < 0) {
		log_debug(MOD, "cannot remember the prices in %s", path);
		unlink(tmp);
	}
	free(path);
	free(tmp);
	free(text);
}

/* The prices of a type in a location: the remembered list, else GET /pricing. */
int provision_prices_get(struct hcloud *api, const char *state_dir, const char *type,
			 const char *location, struct provision_prices *out,
			 struct burst_error *err)
{
	struct hcloud_pricing p = { 0 };

	memset(out, 0, sizeof(*out));
	out->server_hourly = out->volume_gb_month = -1;
	if (state_dir && cache_read(state_dir, &p) == 0) {
		out->cached = true;
	} else {
		if (!api || hcloud_pricing_get(api, &p, err) < 0) {
			hcloud_pricing_release(&p);
			if (!api)
				burst_error_set(err, BURST_EXIT_INTERNAL, "no API client for the prices");
			return -1;
		}
		if (state_dir)
			cache_write(state_dir, &p);
	}
	pick(&p, type, location, out);
	hcloud_pricing_release(&p);
	return 0;
}

/* An amount with its currency sign, for people. */
char *provision_price_format(double amount, const char *currency)
{
	struct strbuf sb = STRBUF_INIT;
	size_t keep;

	if (!currency || !strcmp(currency, "EUR"))
		strbuf_addstr(&sb, "\u20ac");
	else
		strbuf_addf(&sb, "%s ", currency);
	keep = sb.len;
	strbuf_addf(&sb, amount >= 1 ? "%.2f" : "%.4f", amount);
	/* 0.0950 -> 0.095, never fewer than two decimals */
	while (sb.len > keep && sb.buf[sb.len - 1] == '0' &&
	       sb.len - (size_t)(strchr(sb.buf + keep, '.') - sb.buf) > 3)
		strbuf_setlen(&sb, sb.len - 1);
	return strbuf_detach(&sb, NULL);
}

/* The hourly price for the Provisioning line, or "". */
char *provision_price_note(const struct provision_opts *o, const char *location)
{
	struct provision_prices pr;
	struct burst_error e = BURST_ERROR_INIT;
	char *amount, *ret;
	const char *dir = o->state ? state_dir(o->state) : NULL;
	struct hcloud *quick = NULL;
	int rc;

	/*
	 * The remembered list, else one GET /pricing on a client of its own
	 * that neither retries nor waits long: a status line must never hold
	 * up (or fail) the create.
	 */
	rc = provision_prices_get(NULL, dir, o->server_type, location, &pr, &e);
	if (rc < 0 && o->endpoint && o->token) {
		struct hcloud_retry_policy once = { 1, 0, 0, 0, 0 };

		burst_error_release(&e);
		quick = hcloud_new(o->endpoint, o->token, &e);
		if (quick) {
			hcloud_set_retry(quick, &once);
			hcloud_set_timeouts(quick, 3000, 5000);
			rc = provision_prices_get(quick, dir, o->server_type, location, &pr, &e);
		}
		hcloud_free(quick);
	}
	if (rc < 0 || pr.server_hourly < 0) {
		log_debug(MOD, "no price of %s in %s: %s", o->server_type, location,
			  e.message ? e.message : "not in the price list");
		burst_error_release(&e);
		return xstrdup("");
	}
	amount = provision_price_format(pr.server_hourly, pr.currency);
	ret = xstrfmt(" (%s/h, billed per started hour)", amount);
	free(amount);
	return ret;
}

/*
 * audit.c - `cargo burst audit [--rate EUR_PER_HOUR] [--json]`: the state's
 * audit report; without --rate the hourly price of the server type comes
 * from the API's pricing endpoint when a token is configured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/report.h"
#include "burst/state.h"
#include "burst/ui.h"

/*
 * Live net prices from GET /pricing: the hourly price of the server type in
 * use (or configured) in its location, the volume GB-month price and the
 * currency (copied into cur).  Returns false when nothing could be had.
 */
static bool live_prices(struct burst_ctx *ctx, struct state_prices *out, char cur[8])
{
	struct burst_error e = BURST_ERROR_INIT;
	struct hcloud_pricing p = { 0 };
	struct state_server s = { 0 };
	struct hcloud *api = NULL;
	const char *type = ctx->config->server_type, *loc = NULL;
	double rate = -1;
	bool ok = false;

	if (state_server_current(ctx->state, &s, &e) == 1) {
		if (s.server_type)
			type = s.server_type;
		loc = s.location;
	}
	if (!loc && ctx->config->regions.nr)
		loc = ctx->config->regions.v[0];
	api = hcloud_new(ctx->config->endpoint, ctx->config->token, &e);
	if (!api || hcloud_pricing_get(api, &p, &e) < 0) {
		ui_warn("cannot get live prices: %s", e.message ? e.message : "unknown error");
		goto out;
	}
	for (size_t i = 0; type && i < p.server_types.nr; i++) {
		const struct hcloud_server_type *t = &p.server_types.v[i];
		const struct hcloud_price *pr;

		if (!t->name || strcmp(t->name, type))
			continue;
		pr = hcloud_server_type_price(t, loc);
		if (!pr && t->nr_prices)
			pr = &t->prices[0];
		if (pr)
			rate = pr->hourly_net_d;
	}
	if (rate < 0)
		ui_warn("no live price for server type '%s'", type ? type : "?");
	else
		log_debug("audit", "live price of %s in %s: %.4f/h net", type, loc ? loc : "?", rate);
	out->server_per_hour = rate;
	out->volume_per_gb_month = p.volume_gb_month.monthly_net_d > 0 ?
		p.volume_gb_month.monthly_net_d : -1;
	snprintf(cur, 8, "%s", p.currency ? p.currency : "EUR");
	out->currency = cur;
	ok = rate >= 0;
out:
	hcloud_pricing_release(&p);
	hcloud_free(api);
	state_server_release(&s);
	burst_error_release(&e);
	return ok;
}

enum { AUDIT_OPT_RATE = 1, AUDIT_OPT_JSON };

static int exec_audit(struct burst_ctx *ctx)
{
	struct state_prices prices = { -1, -1, NULL };
	char cur[8];
	double rate = -1;
	bool json = false, have_rate = false, live = false;
	const char *v = cli_args_get(&ctx->args, AUDIT_OPT_RATE);

	if (ctx->args.positional.nr)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "unexpected argument '%s' for audit",
				       ctx->args.positional.v[0]);
	json = cli_args_has(&ctx->args, AUDIT_OPT_JSON);
	if (v) {
		char *end;

		rate = strtod(v, &end);
		if (end == v || *end || rate < 0 || rate > 1000)
			return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
					       "invalid value '%s' for '--rate': expected "
					       "EUR per hour, e.g. 0.5", v);
		have_rate = true;
	}
	if (!have_rate && ctx->config->token)
		live = live_prices(ctx, &prices, cur);
	if (live) {
		if (report_print_audit(ctx->state, stdout, &prices, json, &ctx->err) < 0)
			return -1;
		if (!json)
			printf("(live net prices from the API; pass --rate to use your own)\n");
		return 0;
	}
	prices = (struct state_prices){ rate, -1, NULL };
	if (report_print_audit(ctx->state, stdout, &prices, json, &ctx->err) < 0)
		return -1;
	fflush(stdout);
	if (rate < 0 && !json)
		ui_note("no server price: pass --rate EUR_PER_HOUR, or configure an API token "
			"(HCLOUD_TOKEN) for live prices");
	return 0;
}

static const struct burst_option audit_options[] = {
	{ AUDIT_OPT_RATE, 0, "rate", "EUR_PER_HOUR",
	  "Server price per hour (default: live prices from the API)", OPT_VALUE },
	{ AUDIT_OPT_JSON, 0, "json", NULL, "Machine-readable output", 0 },
	OPT_HELP, OPT_END,
};

const struct burst_cmd cmd_audit = {
	"audit", "Sessions, churn, costs and where the time went",
	"cargo burst audit [--rate EUR_PER_HOUR] [--json]",
	"Without --rate, the prices are the live ones of the API when a token is\n"
	"configured.\n",
	CMD_CONFIG | CMD_STATE, exec_audit, audit_options,
};

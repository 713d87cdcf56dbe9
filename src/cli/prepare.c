/*
 * prepare.c - the dispatcher's prepare hooks (the hook table is in
 * commands.c): the API client, and the state with what every invocation
 * does to it first (rebuild from labels, reconcile intents, re-arm the
 * reapers, or say why they cannot run); see "When things happen" in
 * include/burst/reaper.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/provision.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

/* the hooks log as the reapers' side of an invocation, as before */
#define MOD "reaper"

/*
 * No API token: a reaper started now could delete nothing and would exit
 * at once ("the reaper has no API token"), only to be started again by the
 * next command.  Start none; say plainly which resources have no reaper
 * and how to fix it.  Reapers that are running are left alone.
 */
static void warn_unreaped(struct burst_ctx *ctx, const struct burst_error *why)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct strbuf what = STRBUF_INIT;
	int n_servers = 0, n_volumes = 0;

	if (reaper_count_unreaped(ctx->state, &n_servers, &n_volumes, &e) < 0) {
		log_warn(MOD, "looking for resources without a reaper: %s", e.message);
		goto out;
	}
	log_debug(MOD, "no API token: not arming the reapers of %d server(s), %d volume(s)",
		  n_servers, n_volumes);
	if (!n_servers && !n_volumes)
		goto out;
	if (n_servers)
		strbuf_addf(&what, "%d server%s", n_servers, n_servers == 1 ? "" : "s");
	if (n_volumes)
		strbuf_addf(&what, "%s%d volume%s", n_servers ? " and " : "", n_volumes,
			    n_volumes == 1 ? "" : "s");
	ui_warn("no reaper is running for %s: %s, and a reaper cannot delete anything "
		"without one", what.buf, why->message ? why->message : "no Hetzner Cloud API token");
	ui_note("a server or volume without a reaper is billed until someone deletes it");
	ui_help("%s; then run any cargo burst command (e.g. `cargo burst status`) to start "
		"the reapers", why->hint ? why->hint : "export HCLOUD_TOKEN=<token>, or put the "
		"token in the global config");
out:
	strbuf_release(&what);
	burst_error_release(&e);
}

/* ---- the prepare hooks ------------------------------------------------- */

/* A bring-your-own host instead of a Hetzner server (cli.h). */
bool cli_byo_host(const struct burst_ctx *ctx)
{
	if (ctx->cmd->flags & CMD_RUN)
		return ctx->req.host != NULL;
	return (ctx->cmd->flags & CMD_PROVISION) && ctx->config && ctx->config->host &&
		*ctx->config->host;
}

static struct burst_state *own_state;
static struct hcloud *own_api;

/* Is there a server row a run (of arch) could use without provisioning? */
static bool have_usable_server(struct burst_state *st, const char *arch)
{
	struct state_server s = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	bool ok = provision_current_server(st, arch, &s, &e) == 1 &&
		s.status == STATE_SERVER_READY && s.ip && s.hcloud_id;

	state_server_release(&s);
	burst_error_release(&e);
	return ok;
}

/*
 * Before a cold run: start a watcher that outlives a kill -9 of this
 * process, reconcile leftover intents and adopt labelled resources a lost
 * database forgot (so no second server is created).
 */
static void before_cold_run(struct burst_ctx *ctx)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct reaper_sweep_result res;

	if (reaper_start_watcher(ctx->state, getpid(), &e) < 0)
		log_warn(MOD, "cannot start the run watcher: %s", e.message);
	burst_error_release(&e);
	if (!ctx->api)
		return;
	if (reaper_reconcile_intents(ctx->api, ctx->state, ctx->config, &e) < 0)
		log_warn(MOD, "reconciling unfinished creates: %s", e.message);
	burst_error_release(&e);
	memset(&res, 0, sizeof(res));
	if (reaper_sweep(ctx->api, ctx->state, ctx->config, REAPER_SWEEP_ADOPT, &res, NULL,
			 &e) < 0)
		log_warn(MOD, "looking for resources of ours by label: %s", e.message);
	burst_error_release(&e);
}

/*
 * A new database (the old one deleted, or moved aside as corrupt) does not
 * know our resources yet: rebuild the live state from their labels (any
 * verb, when a token is configured; until then the state stays marked and
 * the old reapers keep their resources), so that status shows them and
 * their reapers are armed.
 */
static void rebuild_from_labels(struct burst_ctx *ctx)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct reaper_sweep_result res;
	struct hcloud *api = ctx->api;

	if (!api && ctx->config && ctx->config->token)
		api = hcloud_new(ctx->config->endpoint, ctx->config->token, &e);
	if (!api) {
		log_debug(MOD, "state reset: no API client to rebuild it from labels");
		goto out;
	}
	memset(&res, 0, sizeof(res));
	if (reaper_sweep(api, ctx->state, ctx->config, REAPER_SWEEP_ADOPT, &res, NULL, &e) < 0)
		log_warn(MOD, "rebuilding the state from labels: %s", e.message);
	else if (res.servers_adopted || res.volumes_adopted)
		ui_note("rebuilt the state from the labels of %d server(s) and %d volume(s) of ours",
			res.servers_adopted, res.volumes_adopted);
out:
	if (api != ctx->api)
		hcloud_free(api);
	burst_error_release(&e);
}

/* The CMD_STATE prepare hook (cli.h): open the state, rebuild, reconcile, re-arm. */
int cli_prepare_state(struct burst_ctx *ctx, struct burst_error *err)
{
	struct burst_error e = BURST_ERROR_INIT;
	int started = 0;
	bool cold;

	if (ctx->state)
		return 0;
	if (state_open(NULL, &own_state, err) < 0)
		return -1;
	ctx->state = own_state;
	/* a BYO host's run records its runs only: no API, no reapers */
	if (cli_byo_host(ctx))
		return 0;
	/* what this invocation records lives on the configured endpoint */
	state_set_endpoint(ctx->state, reaper_config_endpoint(ctx->config));
	/* --dry-run reads the state and changes nothing: no sweep, no reaper */
	if ((ctx->cmd->flags & CMD_RUN) && ctx->run.dry_run)
		return 0;
	cold = (ctx->cmd->flags & (CMD_RUN | CMD_PROVISION)) &&
		!have_usable_server(ctx->state, ctx->config ? ctx->config->arch : NULL);
	/* a cold run sweeps with adoption below anyway */
	if (state_needs_adoption(ctx->state) && !(cold && ctx->api))
		rebuild_from_labels(ctx);
	if (cold) {
		before_cold_run(ctx);
	} else if ((ctx->cmd->flags & (CMD_RUN | CMD_PROVISION)) && ctx->api &&
		   reaper_reconcile_intents(ctx->api, ctx->state, ctx->config, &e) < 0) {
		/* warm: an API call only when a create was left unfinished */
		log_warn(MOD, "reconciling unfinished creates: %s", e.message);
		burst_error_release(&e);
	}
	/* `down` deletes instead; everything else re-arms what is missing */
	if (ctx->cmd->flags & CMD_NO_REARM)
		return 0;
	/* only reapers that can work: no token, no reaper (and no churn) */
	if (ctx->config && config_require_token(ctx->config, &e) < 0) {
		warn_unreaped(ctx, &e);
		burst_error_release(&e);
		return 0;
	}
	if (reaper_arm_all(ctx->state, &started, &e) < 0)
		log_warn(MOD, "re-arming the reapers: %s", e.message);
	if (started)
		log_debug(MOD, "re-armed %d reaper(s)", started);
	burst_error_release(&e);
	return 0;
}

/* Release hook: close what cli_prepare_state() opened. */
void cli_release_state(struct burst_ctx *ctx)
{
	if (own_state && ctx->state == own_state)
		ctx->state = NULL;
	state_close(own_state);
	own_state = NULL;
}

/* The CMD_API prepare hook (cli.h): an API client from the config. */
int cli_prepare_api(struct burst_ctx *ctx, struct burst_error *err)
{
	if (ctx->api)
		return 0;
	if (!ctx->config)
		return burst_error_set(err, BURST_EXIT_INTERNAL, "the API client needs the config");
	own_api = hcloud_new(ctx->config->endpoint, ctx->config->token, err);
	if (!own_api)
		return -1;
	ctx->api = own_api;
	return 0;
}

/* Release hook: free what cli_prepare_api() created. */
void cli_release_api(struct burst_ctx *ctx)
{
	if (own_api && ctx->api == own_api)
		ctx->api = NULL;
	hcloud_free(own_api);
	own_api = NULL;
}

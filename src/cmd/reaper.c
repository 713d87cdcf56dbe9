/*
 * reaper.c - the hidden verbs the reapers run as (started detached by
 * reaper_arm_*(), never by a user):
 *
 *   cargo-burst __reap-server --state-dir DIR <server row id>
 *   cargo-burst __reap-volume --state-dir DIR <project id>
 *   cargo-burst __reap-watch  --state-dir DIR <pid>:<start time>
 *
 * Their output goes to a log file under DIR/reapers/.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/reaper.h"
#include "burst/state.h"

enum reap_kind { REAP_SERVER, REAP_VOLUME, REAP_WATCH };

enum { REAP_OPT_STATE_DIR = 1 };

static const struct burst_option reap_options[] = {
	{ REAP_OPT_STATE_DIR, 0, "state-dir", "DIR", "The state directory",
	  OPT_VALUE },
	OPT_END,
};

static int reap_main(struct burst_ctx *ctx, enum reap_kind kind)
{
	struct burst_state *st = NULL;
	struct hcloud *api = NULL;
	const char *dir = cli_args_get(&ctx->args, REAP_OPT_STATE_DIR);
	const char *arg = ctx->args.positional.nr == 1 ?
		ctx->args.positional.v[0] : NULL;
	int ret = -1;

	if (!dir || !arg)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "usage: %s --state-dir DIR <resource>", ctx->cmd->name);
	if (!getenv("BURST_LOG"))
		burst_log_set_level(BURST_LOG_INFO);
	if (state_open(dir, &st, &ctx->err) < 0)
		goto out;
	/* what it records lives on the configured endpoint (each reaper uses its resource's) */
	state_set_endpoint(st, ctx->config && ctx->config->endpoint ? ctx->config->endpoint :
			   HCLOUD_DEFAULT_ENDPOINT);
	if (ctx->config && ctx->config->token) {
		api = hcloud_new(ctx->config->endpoint, ctx->config->token, &ctx->err);
		if (!api)
			goto out;
	}
	if (kind == REAP_WATCH) {
		long pid = 0;
		unsigned long long start = 0;
		char *end;

		pid = strtol(arg, &end, 10);
		if (*end == ':')
			start = strtoull(end + 1, NULL, 10);
		ret = reaper_run_watch(st, api, ctx->config, (pid_t)pid, start, &ctx->err);
		goto out;
	}
	if (!api) {
		const char *k = kind == REAP_SERVER ? "server" : "volume";
		struct burst_error e = BURST_ERROR_INIT;

		state_reaper_set_error(st, k, arg, "no API token configured", true, &e);
		burst_error_release(&e);
		burst_error_set(&ctx->err, BURST_EXIT_CONFIG, "the reaper has no API token");
		burst_error_hint(&ctx->err, "set HCLOUD_TOKEN or hetzner.token in the global config");
		goto out;
	}
	if (kind == REAP_SERVER) {
		int64_t row;

		if (parse_int64(arg, 1, INT64_MAX, &row) < 0) {
			burst_error_set(&ctx->err, BURST_EXIT_USAGE, "bad server row '%s'", arg);
			goto out;
		}
		ret = reaper_run_server(st, api, ctx->config, row, &ctx->err);
	} else {
		ret = reaper_run_volume(st, api, ctx->config, arg, &ctx->err);
	}
out:
	if (ret < 0 && ctx->err.message)
		log_error("reaper", "%s%s%s", ctx->err.message, ctx->err.hint ? "; " : "",
			  ctx->err.hint ? ctx->err.hint : "");
	hcloud_free(api);
	state_close(st);
	return ret;
}

static int exec_reap_server(struct burst_ctx *ctx)
{
	return reap_main(ctx, REAP_SERVER);
}

static int exec_reap_volume(struct burst_ctx *ctx)
{
	return reap_main(ctx, REAP_VOLUME);
}

static int exec_reap_watch(struct burst_ctx *ctx)
{
	return reap_main(ctx, REAP_WATCH);
}

const struct burst_cmd cmd_reap_server = {
	"__reap-server", "Reaper of a server (internal)",
	"cargo-burst __reap-server --state-dir DIR ROW", NULL,
	CMD_CONFIG | CMD_HIDDEN, exec_reap_server, reap_options,
};

const struct burst_cmd cmd_reap_volume = {
	"__reap-volume", "Reaper of a project volume (internal)",
	"cargo-burst __reap-volume --state-dir DIR PROJECT", NULL,
	CMD_CONFIG | CMD_HIDDEN, exec_reap_volume, reap_options,
};

const struct burst_cmd cmd_reap_watch = {
	"__reap-watch", "Watcher of a cold run (internal)",
	"cargo-burst __reap-watch --state-dir DIR PID:START", NULL,
	CMD_CONFIG | CMD_HIDDEN, exec_reap_watch, reap_options,
};

/*
 * config.c - `cargo burst config`: print the effective configuration with
 * the source of every value (the token redacted).
 *
 * It loads the config itself rather than through CMD_CONFIG so that it
 * works outside a cargo project (no project layer then) and can preview
 * the run verbs' --keep-alive and --env.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/log.h"
#include "burst/ui.h"

/* ids apart from the run options' (enum run_opt_id) */
enum { CONFIG_OPT_JSON = 100, CONFIG_OPT_REFERENCE };

/* --keep-alive and --env preview a run's: run_args_apply() takes them. */
static const struct burst_option config_options[] = {
	{ CONFIG_OPT_JSON, 0, "json", NULL, "Print the configuration as JSON", 0 },
	{ CONFIG_OPT_REFERENCE, 0, "reference", NULL,
	  "Print the table of keys (Markdown)", 0 },
	{ RUN_OPT_KEEP_ALIVE, 0, "keep-alive", "SECONDS",
	  "Preview a run's --keep-alive", OPT_VALUE },
	{ RUN_OPT_ENV, 0, "env", "VAR[=VALUE]",
	  "Preview a run's --env (repeatable)", OPT_VALUE | OPT_REPEAT },
	OPT_HELP, OPT_END,
};

static const char config_help[] =
	"Layers, later ones win: default, global "
	"($XDG_CONFIG_HOME/cargo-burst/config.toml),\n"
	"project (<workspace>/.config/cargo-burst.toml), cli, env "
	"(HCLOUD_TOKEN,\n"
	"HCLOUD_TOKEN_FILE, HCLOUD_ENDPOINT).  forward_env, extra_excludes and "
	"unexclude\n"
	"add up across layers.  With no token in any layer, the token of the\n"
	"official hcloud CLI's active context (~/.config/hcloud/cli.toml;\n"
	"HCLOUD_CONTEXT selects another) is used, shown as source hcloud-cli.\n";

struct config_opts {
	bool json, reference;
	struct run_args run; /* --keep-alive and --env, as a run verb's */
};

static int parse_opts(struct burst_ctx *ctx, struct config_opts *o)
{
	const struct cli_args *a = &ctx->args;

	if (a->positional.nr) {
		burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				"unexpected argument for config: '%s'",
				a->positional.v[0]);
		burst_error_hint(&ctx->err, "see 'cargo burst help config'");
		return -1;
	}
	for (size_t i = 0; i < a->nr; i++) {
		const struct burst_option *opt = a->hits[i].opt;

		if (opt->id == CONFIG_OPT_JSON)
			o->json = true;
		else if (opt->id == CONFIG_OPT_REFERENCE)
			o->reference = true;
		else if (run_args_apply(&o->run, opt, a->hits[i].value, 1,
					&ctx->err) < 0)
			return -1;
	}
	return 0;
}

/* Is there a Cargo.toml in dir or a parent? */
static bool manifest_above(const char *dir)
{
	char *d = xstrdup(dir), *slash;
	bool found = false;

	for (;;) {
		char *path = xstrfmt("%s/Cargo.toml", strcmp(d, "/") ? d : "");

		found = access(path, F_OK) == 0;
		free(path);
		slash = strrchr(d, '/');
		if (found || !slash || !strcmp(d, "/"))
			break;
		slash[slash == d ? 1 : 0] = '\0';
	}
	free(d);
	return found;
}

static int config_exec(struct burst_ctx *ctx)
{
	struct config_opts o = { false, false, { 0 } };
	struct config_load_opts lo = { NULL, NULL, { -1, NULL, NULL } };
	struct burst_error ws_err = BURST_ERROR_INIT;
	struct burst_config cfg;
	struct strbuf out = STRBUF_INIT;
	int ret = -1;

	run_args_init(&o.run);
	config_init(&cfg);
	if (parse_opts(ctx, &o) < 0)
		goto out;
	if (o.reference) {
		config_format_reference(&out);
		fputs(out.buf, stdout);
		ret = 0;
		goto out;
	}
	if (workspace_locate(ctx->cwd, &ctx->workspace_root, &ws_err) < 0) {
		log_debug("config", "no project layer: %s", ws_err.message);
		/* next to a Cargo.toml, cargo failed: the project file is not read */
		if (ctx->cwd && manifest_above(ctx->cwd))
			ui_warn("%s\nthe project's .config/cargo-burst.toml is not read: %s",
				ws_err.message, ws_err.hint ? ws_err.hint : "fix local cargo");
	}
	lo.workspace_root = ctx->workspace_root;
	lo.cli.keep_alive_secs = o.run.keep_alive_secs;
	lo.cli.env = &o.run.env;
	if (config_load(&cfg, &lo, &ctx->err) < 0)
		goto out;
	for (size_t i = 0; i < cfg.warnings.nr; i++)
		ui_warn("%s", cfg.warnings.v[i]);
	if (o.json)
		config_format_json(&cfg, &out);
	else
		config_format(&cfg, &out);
	/* Belt and braces: the token never reaches the terminal. */
	{
		char *clean = burst_redact(out.buf);

		fputs(clean, stdout);
		free(clean);
	}
	ret = 0;
out:
	strbuf_release(&out);
	config_release(&cfg);
	run_args_release(&o.run);
	burst_error_release(&ws_err);
	return ret;
}

const struct burst_cmd cmd_config = {
	"config",
	"Show the effective configuration and where each value comes from",
	"cargo burst config [--json] [--reference] [--keep-alive SECONDS] "
	"[--env VAR[=VALUE]]...",
	config_help,
	0,
	config_exec,
	config_options,
};

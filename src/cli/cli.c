/* cli.c - global flags and the dispatcher; see include/burst/cli.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst-version.h"
#include "burst/cli.h"
#include "burst/config.h"
#include "burst/log.h"
#include "burst/pipeline.h"
#include "burst/ui.h"

const struct burst_cmd *cli_find_command(const char *name)
{
	for (size_t i = 0; burst_commands[i]; i++)
		if (!strcmp(burst_commands[i]->name, name))
			return burst_commands[i];
	return NULL;
}

const char *cli_suggest_command(const char *name)
{
	const char *names[64];
	size_t n = 0;

	for (size_t i = 0; burst_commands[i] && n < ARRAY_SIZE(names); i++)
		if (!(burst_commands[i]->flags & CMD_HIDDEN))
			names[n++] = burst_commands[i]->name;
	return burst_closest(name, names, n);
}

const struct burst_option cli_global_options[] = {
	{ CLI_OPT_QUIET, 'q', "quiet", NULL,
	  "No status output (also passed to cargo)", OPT_REPEAT },
	{ CLI_OPT_VERBOSE, 'v', "verbose", NULL,
	  "More output; -vv also shows debug logs", OPT_REPEAT },
	{ CLI_OPT_COLOR, 0, "color", "<WHEN>", "Colouring: auto, always, never",
	  OPT_VALUE },
	OPT_HELP,
	{ CLI_OPT_VERSION, 'V', "version", NULL, "Print version", 0 },
	OPT_END,
};

void cli_print_help(void)
{
	struct strbuf opts = STRBUF_INIT;

	cli_format_options(&opts, cli_global_options);
	printf("cargo-burst %s\n"
	       "Run cargo on a short-lived Hetzner Cloud server.\n\n"
	       "Usage: cargo burst [OPTIONS] [+TOOLCHAIN] <COMMAND> [ARGS]...\n\n"
	       "Commands:\n", BURST_VERSION);
	for (size_t i = 0; burst_commands[i]; i++) {
		const struct burst_cmd *c = burst_commands[i];

		if (!(c->flags & CMD_HIDDEN))
			printf("    %-10s %s\n", c->name, c->summary);
	}
	printf("\nOptions:\n%s\n"
	       "The options of a run verb (--keep-alive, --no-reap, --env, ...) go "
	       "here too,\nbefore the verb: everything after the verb is "
	       "cargo's.\n\n"
	       "Configuration: ~/.config/cargo-burst/config.toml (global), "
	       "<workspace>/.config/cargo-burst.toml\n"
	       "(project), HCLOUD_TOKEN, HCLOUD_TOKEN_FILE, HCLOUD_ENDPOINT; "
	       "see 'cargo burst config'.\n\n"
	       "Exit codes: the remote cargo's status unchanged; 64 usage, "
	       "69 cloud API, 70 internal,\n"
	       "73 local state, 76 ssh/sync, 78 configuration, 130 "
	       "interrupted.\n\n"
	       "See 'cargo burst help <command>' for more information on a "
	       "command.\n", opts.buf);
	strbuf_release(&opts);
}

void cli_print_command_help(const struct burst_cmd *cmd)
{
	struct strbuf opts = STRBUF_INIT;

	printf("%s\n\nUsage: %s\n", cmd->summary, cmd->usage);
	cli_format_options(&opts, cmd->options);
	if (opts.len)
		printf("\nOptions:\n%s", opts.buf);
	if (cmd->help && *cmd->help)
		printf("\n%s", cmd->help);
	strbuf_release(&opts);
}

/* The run verbs' flags in the cli layer of the config. */
static void cli_overrides(const struct burst_ctx *ctx,
			  struct config_overrides *o)
{
	o->keep_alive_secs = -1;
	o->env = NULL;
	o->arch = NULL;
	if (ctx->cmd->flags & CMD_RUN) {
		o->keep_alive_secs = ctx->run.keep_alive_secs;
		o->env = &ctx->run.env;
		o->arch = ctx->run.arch;
	}
}

static int prepare_config(struct burst_ctx *ctx)
{
	struct config_load_opts opts = { ctx->workspace_root, NULL,
					 { -1, NULL, NULL } };

	cli_overrides(ctx, &opts.cli);
	ctx->config = config_new();
	if (config_load(ctx->config, &opts, &ctx->err) < 0)
		return -1;
	for (size_t i = 0; i < ctx->config->warnings.nr; i++)
		ui_warn("%s", ctx->config->warnings.v[i]);
	/* say so when the token is another tool's */
	if ((ctx->cmd->flags & CMD_API) &&
	    ctx->config->source[CONFIG_TOKEN] == CONFIG_SRC_HCLOUD_CLI)
		ui_info("Using", "the API token of the %s", ctx->config->token_origin);
	return 0;
}

/* Prepare what the command's flags ask for, run it, release. */
static int dispatch(struct burst_ctx *ctx)
{
	const struct burst_cmd *cmd = ctx->cmd;
	unsigned flags = cmd->flags;
	size_t prepared = 0;
	int ret = -1;

	if (cmd->flags & CMD_RUN) {
		ctx->run.toolchain = xstrdup(ctx->toolchain);
		ctx->run.quiet = ctx->quiet;
		ctx->run.verbose = ctx->verbose;
		if (run_args_route(&ctx->run, cmd, (int)ctx->pre.nr, ctx->pre.v,
				   ctx->argc, ctx->argv, &ctx->err) < 0)
			return -1;
		if (ctx->run.help) {
			cli_print_command_help(cmd);
			return 0;
		}
		ui_init(ctx->run.quiet, ctx->run.verbose);
	} else if (ctx->toolchain) {
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "'+%s': a toolchain only applies to the "
				       "run verbs (build, test, ...), not to %s",
				       ctx->toolchain, cmd->name);
	} else if (cmd->options &&
		   cli_args_parse(&ctx->args, cmd, ctx->argc, ctx->argv,
				  &ctx->err) < 0) {
		return -1;
	} else if (cmd->options && cli_args_has(&ctx->args, CLI_OPT_HELP)) {
		cli_print_command_help(cmd);
		return 0;
	} else if (ctx->pre.nr) {
		burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				"'%s' only applies to the run verbs (build, "
				"test, ...), not to %s", ctx->pre.v[0], cmd->name);
		burst_error_hint(&ctx->err, "see 'cargo burst help %s'",
				 cmd->name);
		return -1;
	}
	if ((cmd->flags & CMD_WORKSPACE) &&
	    workspace_locate(ctx->cwd, &ctx->workspace_root, &ctx->err) < 0)
		return -1;
	if ((cmd->flags & CMD_WORKSPACE_OPT) && !ctx->workspace_root &&
	    workspace_locate(ctx->cwd, &ctx->workspace_root, &ctx->err) < 0) {
		log_debug("cli", "no workspace: %s", ctx->err.message);
		burst_error_release(&ctx->err);
	}
	if ((cmd->flags & (CMD_CONFIG | CMD_API)) && prepare_config(ctx) < 0)
		return -1;
	if ((flags & CMD_RUN) && run_request_build(&ctx->req, &ctx->run, ctx->config,
						   &ctx->err) < 0)
		return -1;
	/*
	 * a bring-your-own host (pipeline.h): no API, no token, no reapers;
	 * the state only to record the run (its dry run reads nothing)
	 */
	if (cli_byo_host(ctx))
		flags &= ~(unsigned)(CMD_API | ((flags & CMD_RUN) && ctx->run.dry_run ?
						CMD_STATE : 0));
	if ((flags & CMD_API) &&
	    config_require_token(ctx->config, &ctx->err) < 0)
		return -1;
	for (; burst_prepare_hooks[prepared].flag; prepared++) {
		const struct burst_prepare_hook *h = &burst_prepare_hooks[prepared];

		if ((flags & h->flag) && h->prepare(ctx, &ctx->err) < 0)
			goto out;
	}
	if (((flags & CMD_API) && !ctx->api) ||
	    ((flags & CMD_STATE) && !ctx->state)) {
		burst_error_set(&ctx->err, BURST_EXIT_INTERNAL,
				"%s needs %s, but no prepare hook provides it",
				cmd->name, !ctx->api && (flags & CMD_API) ?
				"the API client" : "the state database");
		goto out;
	}
	ret = cmd->exec(ctx);
	if (ret < 0 && !burst_error_isset(&ctx->err))
		burst_error_set(&ctx->err, BURST_EXIT_INTERNAL,
				"%s failed without saying why", cmd->name);
out:
	while (prepared-- > 0) {
		const struct burst_prepare_hook *h = &burst_prepare_hooks[prepared];

		if ((flags & h->flag) && h->release)
			h->release(ctx);
	}
	return ret;
}

static void ctx_release(struct burst_ctx *ctx)
{
	free(ctx->cwd);
	free(ctx->toolchain);
	strvec_clear(&ctx->pre);
	cli_args_release(&ctx->args);
	free(ctx->workspace_root);
	config_free(ctx->config);
	run_request_release(&ctx->req);
	run_args_release(&ctx->run);
	burst_error_release(&ctx->err);
}

static int parse_color(const char *v, struct burst_error *err)
{
	if (!strcmp(v, "auto"))
		ui_set_color(UI_COLOR_AUTO);
	else if (!strcmp(v, "always"))
		ui_set_color(UI_COLOR_ALWAYS);
	else if (!strcmp(v, "never"))
		ui_set_color(UI_COLOR_NEVER);
	else
		return burst_error_set(err, BURST_EXIT_USAGE,
				       "invalid value '%s' for '--color': "
				       "expected auto, always or never", v);
	return 0;
}

/*
 * The options before the verb: the global ones, +toolchain, and the run
 * verbs' options (kept in ctx->pre for run_args_route()).  Returns the
 * index of the verb (argc when there is none), or -1 with a usage error.
 */
static int parse_global(struct burst_ctx *ctx, int argc, char **argv, int i,
			bool *help, bool *version)
{
	for (; i < argc; i++) {
		const struct burst_option *o = NULL;
		const char *arg = argv[i], *v;
		struct run_args tmp;
		int m, count, at = i;

		m = cli_opt_match(cli_global_options, false, argc, argv, &i, &o,
				  &v, &count, &ctx->err);
		if (m < 0)
			return -1;
		if (m > 0) {
			switch (o->id) {
			case CLI_OPT_QUIET:
				ctx->quiet += count;
				break;
			case CLI_OPT_VERBOSE:
				ctx->verbose += count;
				break;
			case CLI_OPT_HELP:
				*help = true;
				break;
			case CLI_OPT_VERSION:
				*version = true;
				break;
			case CLI_OPT_COLOR:
				if (parse_color(v, &ctx->err) < 0)
					return -1;
				break;
			}
		} else if ((o = run_option_find(arg)) != NULL) {
			strvec_push(&ctx->pre, arg);
			/* a separate value goes with it */
			if ((o->flags & OPT_VALUE) && !strchr(arg, '=') &&
			    (arg[1] == '-' || !arg[2]) && i + 1 < argc)
				strvec_push(&ctx->pre, argv[++i]);
		} else if (arg[0] == '+') {
			run_args_init(&tmp);
			tmp.toolchain = ctx->toolchain;
			if (run_args_toolchain(&tmp, arg, &ctx->err) < 0)
				return -1;
			ctx->toolchain = tmp.toolchain;
		} else if (arg[0] == '-') {
			burst_error_set(&ctx->err, BURST_EXIT_USAGE,
					"unknown option '%s'", argv[at]);
			burst_error_hint(&ctx->err, "see 'cargo burst --help'");
			return -1;
		} else {
			break;
		}
	}
	return i;
}

static int unknown_command(struct burst_ctx *ctx, const char *name)
{
	const char *best = cli_suggest_command(name);

	burst_error_set(&ctx->err, BURST_EXIT_USAGE, "no such command: `%s`",
			name);
	if (best)
		burst_error_hint(&ctx->err, "a command with a similar name "
				 "exists: `%s`", best);
	else
		burst_error_hint(&ctx->err, "see 'cargo burst --help' for the "
				 "list of commands");
	return -1;
}

/* Route a whole run-verb command line, as burst_cli_main() does. */
int cli_route_run(int argc, char **argv, struct run_args *ra,
		  const struct burst_cmd **cmd, struct burst_error *err)
{
	struct burst_ctx ctx;
	bool help = false, version = false;
	int i = 1, ret = -1;

	memset(&ctx, 0, sizeof(ctx));
	strvec_init(&ctx.pre);
	burst_error_init(&ctx.err);
	*cmd = NULL;
	if (argc > 1 && !strcmp(argv[1], "burst"))
		i = 2;
	i = parse_global(&ctx, argc, argv, i, &help, &version);
	if (i < 0)
		goto out;
	if (i >= argc || !(*cmd = cli_find_command(argv[i])) ||
	    !((*cmd)->flags & CMD_RUN)) {
		burst_error_set(&ctx.err, BURST_EXIT_USAGE, "no run verb given");
		goto out;
	}
	ra->toolchain = ctx.toolchain;
	ctx.toolchain = NULL;
	ra->quiet = ctx.quiet;
	ra->verbose = ctx.verbose;
	ra->help = help;
	ret = run_args_route(ra, *cmd, (int)ctx.pre.nr, ctx.pre.v,
			     argc - i - 1, argv + i + 1, &ctx.err);
out:
	if (ret < 0) {
		burst_error_set(err, ctx.err.exit_code, "%s", ctx.err.message ?
				ctx.err.message : "?");
		if (ctx.err.hint)
			burst_error_hint(err, "%s", ctx.err.hint);
	}
	free(ctx.toolchain);
	strvec_clear(&ctx.pre);
	burst_error_release(&ctx.err);
	return ret;
}

int burst_cli_main(int argc, char **argv)
{
	struct burst_ctx ctx;
	bool help = false, version = false;
	int i = 1, ret;

	memset(&ctx, 0, sizeof(ctx));
	strvec_init(&ctx.pre);
	strvec_init(&ctx.args.positional);
	burst_error_init(&ctx.err);
	run_args_init(&ctx.run);
	burst_log_init_from_env();
	if (argc > 1 && !strcmp(argv[1], "burst"))
		i = 2;
	i = parse_global(&ctx, argc, argv, i, &help, &version);
	ui_init(ctx.quiet, ctx.verbose);
	if (ctx.verbose >= 2 && !getenv("BURST_LOG"))
		burst_log_set_level(ctx.verbose >= 3 ? BURST_LOG_TRACE :
				    BURST_LOG_DEBUG);
	if (i < 0) {
		ret = -1;
		goto out;
	}
	if (version) {
		printf("cargo-burst %s\n", BURST_VERSION);
		ret = 0;
		goto out;
	}
	if (i >= argc) {
		if (help) {
			cli_print_help();
			ret = 0;
			goto out;
		}
		burst_error_set(&ctx.err, BURST_EXIT_USAGE, "no command given");
		burst_error_hint(&ctx.err, "usage: cargo burst <COMMAND> "
				 "[ARGS]...; see 'cargo burst --help'");
		ret = -1;
		goto out;
	}
	ctx.cmd = cli_find_command(argv[i]);
	if (!ctx.cmd) {
		ret = unknown_command(&ctx, argv[i]);
		goto out;
	}
	if (help) {
		cli_print_command_help(ctx.cmd);
		ret = 0;
		goto out;
	}
	ctx.argc = argc - i - 1;
	ctx.argv = argv + i + 1;
	ctx.cwd = getcwd(NULL, 0);
	if (!ctx.cwd) {
		ret = burst_error_set(&ctx.err, BURST_EXIT_INTERNAL,
				      "cannot get the current directory");
		goto out;
	}
	ret = dispatch(&ctx);
out:
	fflush(stdout);
	if (ret < 0) {
		burst_error_print(&ctx.err);
		ret = ctx.err.exit_code ? (int)ctx.err.exit_code :
			BURST_EXIT_INTERNAL;
	}
	ctx_release(&ctx);
	return ret;
}

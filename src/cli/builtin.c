/* builtin.c - the `help` and `version` commands. */
#include <stdio.h>

#include "burst-version.h"
#include "burst/cli.h"

static const struct burst_option help_options[] = { OPT_HELP, OPT_END };

static int help_exec(struct burst_ctx *ctx)
{
	const struct strvec *args = &ctx->args.positional;
	const struct burst_cmd *cmd;
	const char *best;

	if (args->nr == 0) {
		cli_print_help();
		return 0;
	}
	if (args->nr > 1)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "help takes one command, got %zu "
				       "arguments", args->nr);
	cmd = cli_find_command(args->v[0]);
	if (cmd) {
		cli_print_command_help(cmd);
		return 0;
	}
	burst_error_set(&ctx->err, BURST_EXIT_USAGE, "no such command: `%s`",
			args->v[0]);
	best = cli_suggest_command(args->v[0]);
	if (best)
		burst_error_hint(&ctx->err, "a command with a similar name "
				 "exists: `%s`", best);
	else
		burst_error_hint(&ctx->err, "see 'cargo burst --help' for the "
				 "list of commands");
	return -1;
}

const struct burst_cmd cmd_help = {
	"help", "Show help for cargo-burst or one of its commands",
	"cargo burst help [COMMAND]", "", 0, help_exec, help_options,
};

static int version_exec(struct burst_ctx *ctx)
{
	if (ctx->args.positional.nr > 0)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "version takes no arguments");
	printf("cargo-burst %s\n", BURST_VERSION);
	return 0;
}

const struct burst_cmd cmd_version = {
	"version", "Print the version", "cargo burst version", "", 0,
	version_exec, help_options,
};

/* builtin.c - the `help` and `version` commands. */
#include <stdio.h>

#include "burst-version.h"
#include "burst/cli.h"

static int help_exec(struct burst_ctx *ctx)
{
	const struct burst_cmd *cmd;
	const char *best;

	if (ctx->argc == 0) {
		cli_print_help();
		return 0;
	}
	if (ctx->argc > 1)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "help takes one command, got %d "
				       "arguments", ctx->argc);
	cmd = cli_find_command(ctx->argv[0]);
	if (cmd) {
		cli_print_command_help(cmd);
		return 0;
	}
	burst_error_set(&ctx->err, BURST_EXIT_USAGE, "no such command: `%s`",
			ctx->argv[0]);
	best = cli_suggest_command(ctx->argv[0]);
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
	"cargo burst help [COMMAND]", "", 0, help_exec, NULL,
};

static int version_exec(struct burst_ctx *ctx)
{
	if (ctx->argc > 0)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "version takes no arguments");
	printf("cargo-burst %s\n", BURST_VERSION);
	return 0;
}

const struct burst_cmd cmd_version = {
	"version", "Print the version", "cargo burst version", "", 0,
	version_exec, NULL,
};

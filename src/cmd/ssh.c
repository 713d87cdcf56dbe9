/*
 * ssh.c - `cargo burst ssh [OPTIONS] [-- COMMAND...]`: a shell or a command
 * on the build server, in the project's synced source directory with the
 * environment the runs get (pipeline_shell() in pipeline.h).
 */
#include "burst/cli.h"
#include "burst/pipeline.h"

/* The exec of ssh: the pipeline's shell with the request ctx holds. */
static int ssh_exec(struct burst_ctx *ctx)
{
	struct pipeline_job job;

	cli_pipeline_job(&job, ctx);
	return pipeline_shell(&job, &ctx->err);
}

static const struct burst_option ssh_options[] = {
	{ RUN_OPT_NO_SYNC, 0, "no-sync", NULL,
	  "Do not sync the workspace first", OPT_AFTER_VERB },
	{ RUN_OPT_HOST, 0, "host", "USER@MACHINE[:PORT]",
	  "Use this ssh machine, not a Hetzner server",
	  OPT_VALUE | OPT_AFTER_VERB },
	{ RUN_OPT_KEEP_ALIVE, 0, "keep-alive", "SECONDS",
	  "Idle time before the server is deleted",
	  OPT_VALUE | OPT_AFTER_VERB },
	{ RUN_OPT_NO_REAP, 0, "no-reap", NULL,
	  "Leave no reaper: the server stays up", OPT_AFTER_VERB },
	{ RUN_OPT_YES, 'y', "yes", NULL, "Do not ask before costly steps",
	  OPT_AFTER_VERB },
	{ RUN_OPT_ENV, 0, "env", "VAR[=VALUE]",
	  "Forward VAR (with a value: set it; repeatable)",
	  OPT_VALUE | OPT_REPEAT | OPT_AFTER_VERB },
	{ RUN_OPT_QUIET, 'q', "quiet", NULL, "Less output", OPT_REPEAT },
	{ RUN_OPT_VERBOSE, 'v', "verbose", NULL, "More output", OPT_REPEAT },
	OPT_HELP, OPT_END,
};

const struct burst_cmd cmd_ssh = {
	"ssh", "Open a shell (or run a command) on the build server",
	"cargo burst [OPTIONS] ssh [OPTIONS] [--] [COMMAND]...",
	"The options come before the command; a -- before it is optional.\n"
	"Without a command: an interactive shell (with a terminal).  One word is\n"
	"run as a shell command line (like ssh); several words are run as they\n"
	"are.  The server is provisioned when needed and the workspace synced\n"
	"first; the shell starts in the synced source directory with\n"
	"CARGO_TARGET_DIR, SCCACHE_DIR, PATH and the forwarded variables of a\n"
	"run.  +TOOLCHAIN sets RUSTUP_TOOLCHAIN.  The exit status is the remote\n"
	"command's.\n",
	CMD_RUN_VERB | CMD_RUN_SHELL, ssh_exec, ssh_options,
};

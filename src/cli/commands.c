/*
 * commands.c - the command table and the prepare hooks.
 *
 * TO ADD A COMMAND: write src/cmd/<verb>.c exporting
 *     const struct burst_cmd cmd_<verb> = { "<verb>", "summary", "usage",
 *                                           "notes", CMD_..., exec,
 *                                           <verb>_options };
 * declare it in include/burst/cli.h ("the commands"), add the file to
 * src/cmd/meson.build, and add one `&cmd_<verb>,` line below.  The order
 * here is the order of `cargo burst --help`.
 *
 * TO FILL A CONTEXT FIELD (ctx->api, ctx->state): add one line to
 * burst_prepare_hooks[] below with the CMD_* flag, a prepare function and
 * a release function (see struct burst_prepare_hook in cli.h); the hooks
 * live in src/cli/prepare.c.
 */
#include "burst/cli.h"

const struct burst_cmd *const burst_commands[] = {
	/* run verbs (cargo on the server), src/cli/run_verbs.c */
	&cmd_build,
	&cmd_test,
	&cmd_check,
	&cmd_clippy,
	&cmd_bench,
	&cmd_run,
	&cmd_ssh,
	/* lifecycle and bookkeeping */
	&cmd_up,
	&cmd_image,
	&cmd_status,
	&cmd_audit,
	&cmd_down,
	&cmd_config,
	&cmd_doctor,
	&cmd_completions,
	&cmd_help,
	&cmd_version,
	/* hidden: the reapers (src/cmd/reaper.c) */
	&cmd_reap_server,
	&cmd_reap_volume,
	&cmd_reap_watch,
	/* hidden: the manual page for the build (src/cmd/completions.c) */
	&cmd_man,
	NULL
};

const struct burst_prepare_hook burst_prepare_hooks[] = {
	/* the API client first: the state hook uses it before cold runs */
	{ CMD_API, cli_prepare_api, cli_release_api },
	/* opens the state and re-arms missing reapers (src/cli/prepare.c) */
	{ CMD_STATE, cli_prepare_state, cli_release_state },
	{ 0, NULL, NULL }
};

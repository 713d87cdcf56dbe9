/*
 * down.c - `cargo burst down [--with-volumes] [--force] [--yes]`: delete our
 * server now (volumes unmounted and detached first), with --with-volumes
 * every project volume too, and whatever labelled resource of ours the
 * state forgot.
 */
#include <stdio.h>
#include <string.h>

#include "burst/cli.h"
#include "burst/image.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

enum { DOWN_OPT_VOLUMES = 1, DOWN_OPT_FORCE, DOWN_OPT_YES };

static int exec_down(struct burst_ctx *ctx)
{
	struct strbuf report = STRBUF_INIT;
	unsigned flags = 0;
	int deleted = 0, ret = -1;

	if (ctx->args.positional.nr)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "unexpected argument '%s' for down",
				       ctx->args.positional.v[0]);
	if (cli_args_has(&ctx->args, DOWN_OPT_VOLUMES))
		flags |= REAPER_DOWN_VOLUMES;
	if (cli_args_has(&ctx->args, DOWN_OPT_FORCE))
		flags |= REAPER_DOWN_FORCE;
	/* --yes: nothing asks, down is what the user asked for */
	ret = reaper_down(ctx->state, ctx->api, ctx->config, flags, &report, &deleted,
			  &ctx->err);
	/*
	 * Bake servers whose `image build` is gone (killed, crashed) go now
	 * rather than at their deadline; a bake still running is left alone.
	 */
	if (ret == 0) {
		size_t bakes = 0;

		ret = image_bake_sweep(ctx->api, ctx->state, state_owner_id(ctx->state),
				       INT64_MAX, &bakes, &ctx->err);
		if (bakes) {
			strbuf_addf(&report, "Deleted %zu abandoned bake server%s\n", bakes,
				    bakes == 1 ? "" : "s");
			deleted += (int)bakes;
		}
	}
	/* what was deleted before a failure is still worth saying */
	if (report.len)
		fputs(report.buf, stdout);
	fflush(stdout);
	if (ret == 0 && !deleted && !report.len)
		printf("Nothing to delete: no server%s of ours exists\n",
		       flags & REAPER_DOWN_VOLUMES ? " or volume" : "");
	else if (ret == 0 && !(flags & REAPER_DOWN_VOLUMES))
		ui_note("project volumes are kept (their reapers delete them when idle); "
			"`cargo burst down --with-volumes` deletes them now");
	strbuf_release(&report);
	return ret;
}

static const struct burst_option down_options[] = {
	{ DOWN_OPT_VOLUMES, 0, "with-volumes", NULL,
	  "Also delete every project volume (caches are lost)", 0 },
	{ DOWN_OPT_FORCE, 0, "force", NULL, "Even while runs are in progress", 0 },
	{ DOWN_OPT_YES, 'y', "yes", NULL, "Do not ask (down never asks)", 0 },
	OPT_HELP, OPT_END,
};

const struct burst_cmd cmd_down = {
	"down", "Delete the server now (and with --with-volumes the volumes)",
	"cargo burst down [--with-volumes] [--force] [--yes]",
	"Volumes are unmounted on the server and detached before anything is\n"
	"deleted.  Labelled resources of ours that the local state forgot are\n"
	"deleted too; nothing without our labels is ever touched.\n",
	CMD_CONFIG | CMD_API | CMD_STATE | CMD_NO_REARM, exec_down, down_options,
};

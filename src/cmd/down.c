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

static int exec_down(struct burst_ctx *ctx)
{
	struct strbuf report = STRBUF_INIT;
	unsigned flags = 0;
	int deleted = 0, ret = -1;

	for (int i = 0; i < ctx->argc; i++) {
		const char *a = ctx->argv[i];

		if (!strcmp(a, "--with-volumes"))
			flags |= REAPER_DOWN_VOLUMES;
		else if (!strcmp(a, "--force"))
			flags |= REAPER_DOWN_FORCE;
		else if (!strcmp(a, "-y") || !strcmp(a, "--yes"))
			continue; /* nothing asks: down is what the user asked for */
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			cli_print_command_help(ctx->cmd);
			return 0;
		} else
			return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
					       "unexpected argument '%s' for down", a);
	}
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

const struct burst_cmd cmd_down = {
	"down", "Delete the server now (and with --with-volumes the volumes)",
	"cargo burst down [--with-volumes] [--force] [--yes]",
	"Options:\n"
	"        --with-volumes   Also delete every project volume (caches are lost)\n"
	"        --force          Even while runs are in progress\n"
	"    -y, --yes            Do not ask (down never asks)\n\n"
	"Volumes are unmounted on the server and detached before anything is\n"
	"deleted.  Labelled resources of ours that the local state forgot are\n"
	"deleted too; nothing without our labels is ever touched.\n",
	CMD_CONFIG | CMD_API | CMD_STATE, exec_down,
};

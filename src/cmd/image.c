/*
 * image.c - `cargo burst image build|sweep`: bake the build image on a
 * short-lived server and snapshot it (image.h), or delete abandoned bake
 * servers.
 *
 * It opens the state and the API client itself (after parsing, so that
 * --help needs no token) unless a prepare hook did, re-arms missing reapers
 * like every invocation, and works outside a cargo project (the project
 * layer of the config is read when there is one).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/image.h"
#include "burst/log.h"
#include "burst/proc.h"
#include "burst/provision.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/ui.h"

static const char image_help[] =
	"Subcommands:\n"
	"    build    Bake a new image: create a bake server from " IMAGE_BASE ",\n"
	"             let it provision itself, snapshot it, delete it, and keep\n"
	"             the newest [hetzner] snapshot_keep images of this machine\n"
	"             (per architecture: --arch arm64 bakes the arm64 image on a\n"
	"             cax server from the arm64 " IMAGE_BASE ")\n"
	"    sweep    Delete bake servers of this machine whose deadline passed\n"
	"             (bakes that were killed)\n\n"
	"The options above are those of build.\n\n"
	"Ctrl-C deletes the bake server before exiting (130).  A bake whose\n"
	"process was killed is deleted after its deadline by the next `cargo\n"
	"burst image` or reaper sweep.\n";

struct image_args {
	const char *sub;
	const char *server_type;
	const char *arch;
	const char *description;
	int64_t timeout_secs;
	int64_t snapshot_secs;
	const char *watch_name; /* __watch-bake: the bake server's name */
	bool keep_on_failure;
};

enum { IMAGE_OPT_SERVER_TYPE = 1, IMAGE_OPT_DESCRIPTION, IMAGE_OPT_TIMEOUT,
       IMAGE_OPT_SNAPSHOT_TIMEOUT, IMAGE_OPT_KEEP_ON_FAILURE, IMAGE_OPT_ARCH };

static const struct burst_option image_options[] = {
	{ IMAGE_OPT_SERVER_TYPE, 0, "server-type", "TYPE",
	  "The bake server's type (default: [hetzner] image_server_type)",
	  OPT_VALUE },
	{ IMAGE_OPT_ARCH, 0, "arch", "x86|arm64",
	  "Bake the x86 or the arm64 image (default: [hetzner] arch; arm64 on "
	  "arm_image_server_type)", OPT_VALUE },
	{ IMAGE_OPT_DESCRIPTION, 0, "description", "TEXT",
	  "The snapshot's description", OPT_VALUE },
	{ IMAGE_OPT_TIMEOUT, 0, "timeout", "SECONDS",
	  "How long the bake may take (default 1800)", OPT_VALUE },
	{ IMAGE_OPT_SNAPSHOT_TIMEOUT, 0, "snapshot-timeout", "SECONDS",
	  "How long the snapshot may take (default 1800)", OPT_VALUE },
	{ IMAGE_OPT_KEEP_ON_FAILURE, 0, "keep-on-failure", NULL,
	  "Keep the bake server when the bake fails (for a look at "
	  IMAGE_BAKE_LOG ")", 0 },
	OPT_HELP, OPT_END,
};

static int seconds_value(struct burst_ctx *ctx, int id, const char *name,
			 int64_t *dst)
{
	const char *v = cli_args_get(&ctx->args, id);

	if (v && parse_int64(v, 1, 24 * 3600, dst) < 0)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "invalid value '%s' for '%s': "
				       "expected seconds (1..86400)", v, name);
	return 0;
}

static int parse_args(struct burst_ctx *ctx, struct image_args *a)
{
	const struct strvec *pos = &ctx->args.positional;
	const char *v;

	a->timeout_secs = IMAGE_BAKE_TIMEOUT_SECS;
	a->snapshot_secs = IMAGE_SNAPSHOT_SECS;
	a->server_type = cli_args_get(&ctx->args, IMAGE_OPT_SERVER_TYPE);
	a->arch = cli_args_get(&ctx->args, IMAGE_OPT_ARCH);
	if (a->arch && !config_arch_valid(a->arch)) {
		burst_error_set(&ctx->err, BURST_EXIT_USAGE, "invalid value '%s' for '--arch': "
				"expected x86 or arm64", a->arch);
		burst_error_hint(&ctx->err, "arm64 bakes on Hetzner's Ampere (cax) types");
		return -1;
	}
	a->description = cli_args_get(&ctx->args, IMAGE_OPT_DESCRIPTION);
	a->keep_on_failure = cli_args_has(&ctx->args, IMAGE_OPT_KEEP_ON_FAILURE);
	if (seconds_value(ctx, IMAGE_OPT_TIMEOUT, "--timeout", &a->timeout_secs) < 0 ||
	    seconds_value(ctx, IMAGE_OPT_SNAPSHOT_TIMEOUT, "--snapshot-timeout",
			  &a->snapshot_secs) < 0)
		return -1;
	if (pos->nr > 0)
		a->sub = pos->v[0];
	if (pos->nr > 1 && !strcmp(a->sub, "__watch-bake") &&
	    skip_prefix(pos->v[1], "cargo-burst-bake-", &v))
		a->watch_name = pos->v[1];
	if (pos->nr > (a->watch_name ? 2u : 1u)) {
		burst_error_set(&ctx->err, BURST_EXIT_USAGE, "unexpected argument '%s'",
				pos->v[a->watch_name ? 2 : 1]);
		burst_error_hint(&ctx->err, "see 'cargo burst image --help'");
		return -1;
	}
	if (!a->sub) {
		burst_error_set(&ctx->err, BURST_EXIT_USAGE, "no image subcommand given");
		burst_error_hint(&ctx->err, "usage: cargo burst image build [OPTIONS]");
		return -1;
	}
	if (!strcmp(a->sub, "__watch-bake")) {
		if (!a->watch_name)
			return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
					       "__watch-bake needs a bake server name");
		return 0;
	}
	if (strcmp(a->sub, "build") && strcmp(a->sub, "sweep")) {
		burst_error_set(&ctx->err, BURST_EXIT_USAGE, "no such image subcommand: `%s`",
				a->sub);
		burst_error_hint(&ctx->err, "the subcommands are `build` and `sweep`");
		return -1;
	}
	if (!strcmp(a->sub, "sweep") && (a->server_type || a->arch || a->description ||
					 a->keep_on_failure ||
					 a->timeout_secs != IMAGE_BAKE_TIMEOUT_SECS ||
					 a->snapshot_secs != IMAGE_SNAPSHOT_SECS))
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "`image sweep` takes no options");
	return 0;
}

/* Poll interval of the bake (tests shorten it). */
static uint64_t poll_ms(void)
{
	const char *v = getenv("CARGO_BURST_BAKE_POLL_MS");
	int64_t ms;

	if (v && parse_int64(v, 10, 60000, &ms) == 0)
		return (uint64_t)ms;
	return 2000;
}

static void print_log_tail(const char *tail, const char *server)
{
	const char *p = tail, *nl;

	ui_note("the last lines of %s on '%s':", IMAGE_BAKE_LOG, server);
	while (p && *p) {
		nl = strchr(p, '\n');
		fprintf(stderr, "    | %.*s\n", (int)(nl ? nl - p : (long)strlen(p)), p);
		p = nl ? nl + 1 : NULL;
	}
}

static int do_build(struct burst_ctx *ctx, const struct image_args *a, struct hcloud *api,
		    struct burst_state *st)
{
	const struct burst_config *cfg = ctx->config;
	struct image_bake_opts o = { 0 };
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct image_bake_result r = { 0 };
	char dur[32];
	uint64_t t0 = burst_now_ms();
	bool intr;
	int ret;

	if (n <= 0)
		return burst_error_set(&ctx->err, BURST_EXIT_INTERNAL, "cannot find the running "
				       "executable (/proc/self/exe)");
	exe[n] = '\0';

	o.api = api;
	o.state = st;
	/*
	 * The architecture: --arch, else --server-type's, else the config's;
	 * the type: --server-type, else the configured bake type of the arch.
	 */
	o.arch = a->arch ? a->arch : a->server_type ? config_type_arch(a->server_type) :
		cfg->arch;
	o.server_type = a->server_type ? a->server_type : config_image_server_type(cfg, o.arch);
	if (o.server_type && strcmp(config_type_arch(o.server_type), o.arch)) {
		burst_error_set(&ctx->err, BURST_EXIT_USAGE, "the bake server type '%s' is %s, "
				"not %s", o.server_type, config_type_arch(o.server_type), o.arch);
		burst_error_hint(&ctx->err, "an arm64 image bakes on a cax type, an x86 one on "
				 "cx, cpx or ccx: pass a --server-type of the architecture, or "
				 "set [hetzner] %s", provision_arch_is_arm(o.arch) ?
				 "arm_image_server_type" : "image_server_type");
		return -1;
	}
	o.regions = &cfg->regions;
	o.description = a->description;
	o.keep_on_failure = a->keep_on_failure;
	o.timeout_secs = a->timeout_secs;
	o.snapshot_secs = a->snapshot_secs;
	o.watcher_exe = exe;
	o.snapshot_keep = cfg->snapshot_keep;
	o.poll_ms = poll_ms();
	o.ssh_key_path = cfg->ssh_key_path;
	o.ssh_pub_key_path = cfg->ssh_pub_key_path;
	o.ssh_user = cfg->ssh_user;
	o.ssh_port = (int)cfg->ssh_port;
	if (!o.server_type || !*o.server_type)
		return burst_error_set(&ctx->err, BURST_EXIT_CONFIG, "no server type for the "
				       "bake: set [hetzner] image_server_type or pass "
				       "--server-type");
	proc_catch_signals(true);
	ret = image_bake(&o, &r, &ctx->err);
	proc_catch_signals(false);
	intr = ret < 0 && (ctx->err.exit_code == BURST_EXIT_INTERRUPTED || proc_interrupted());
	if (ret == 0) {
		ui_status("Finished", "image %lld '%s' in %s%s", (long long)r.image_id,
			  r.description, ui_duration(dur, sizeof(dur), burst_now_ms() - t0),
			  r.snapshots_deleted ? " (older images deleted)" : "");
	} else {
		if (r.log_tail && *r.log_tail)
			print_log_tail(r.log_tail, r.server_name);
		else if (r.server_id && !intr)
			ui_note("the bake log (%s) could not be read", IMAGE_BAKE_LOG);
		if (r.server_kept)
			ui_note("bake server '%s' is kept for a look: ssh %s@%s (it is "
				"deleted by a sweep in a few hours)", r.server_name,
				cfg->ssh_user ? cfg->ssh_user : "root", r.server_ip);
		if (intr) {
			burst_error_release(&ctx->err);
			ui_warn("interrupted: the bake was stopped%s",
				r.server_id ? " and its server deleted" : "");
			ret = BURST_EXIT_INTERRUPTED;
		}
	}
	proc_clear_interrupted();
	image_bake_result_release(&r);
	return ret;
}

static int do_sweep(struct burst_ctx *ctx, struct hcloud *api, struct burst_state *st)
{
	size_t n = 0;

	if (image_bake_sweep(api, st, state_owner_id(st), state_now(), &n, &ctx->err) < 0)
		return -1;
	ui_status("Swept", "%zu abandoned bake server%s", n, n == 1 ? "" : "s");
	return 0;
}

static int image_exec(struct burst_ctx *ctx)
{
	struct image_args a = { 0 };
	struct burst_state *own_state = NULL;
	struct hcloud *own_api = NULL;
	struct burst_state *st = ctx->state;
	struct hcloud *api = ctx->api;
	struct burst_error e = BURST_ERROR_INIT;
	int ret = -1;

	if (parse_args(ctx, &a) < 0)
		return -1;
	if (!api) {
		if (config_require_token(ctx->config, &ctx->err) < 0)
			goto out;
		own_api = hcloud_new(ctx->config->endpoint, ctx->config->token, &ctx->err);
		if (!own_api)
			goto out;
		api = own_api;
	}
	if (!st) {
		if (state_open(NULL, &own_state, &ctx->err) < 0)
			goto out;
		st = own_state;
		if (a.watch_name)
			goto run;
		/* like every invocation: re-arm reapers that are missing (no API call) */
		if (reaper_arm_all(st, NULL, &e) < 0)
			log_warn("image", "re-arming the reapers: %s", e.message);
		burst_error_release(&e);
	}
run:
	if (!strcmp(a.sub, "build"))
		ret = do_build(ctx, &a, api, st);
	else if (!strcmp(a.sub, "sweep"))
		ret = do_sweep(ctx, api, st);
	else
		ret = image_bake_watch(api, st, a.watch_name, &ctx->err);
out:
	hcloud_free(own_api);
	state_close(own_state);
	return ret;
}

const struct burst_cmd cmd_image = {
	"image", "Bake the build image the servers start from",
	"cargo burst image build [--server-type TYPE] [--arch x86|arm64] [--description TEXT] "
	"[--timeout SECONDS] [--snapshot-timeout SECONDS] [--keep-on-failure]\n"
	"       cargo burst image sweep",
	image_help, CMD_CONFIG | CMD_WORKSPACE_OPT, image_exec, image_options,
};

/*
 * arm.c - starting reapers (cheap: reads the state, no API call) and the
 * dispatcher's prepare hooks that open the state and the API client.
 */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/proc.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/ui.h"

#include "reaper-int.h"

/* A reaper this process started recently is not started again. */
#define RESPAWN_QUIET_MS 30000

struct spawned {
	char key[80];
	uint64_t at_ms;
};
static struct spawned spawned[16];

static bool recently_spawned(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(spawned); i++)
		if (spawned[i].at_ms && !strcmp(spawned[i].key, key) &&
		    burst_now_ms() - spawned[i].at_ms < RESPAWN_QUIET_MS)
			return true;
	return false;
}

static void remember_spawned(const char *key)
{
	size_t oldest = 0;

	for (size_t i = 0; i < ARRAY_SIZE(spawned); i++) {
		if (!strcmp(spawned[i].key, key) || !spawned[i].at_ms) {
			oldest = i;
			break;
		}
		if (spawned[i].at_ms < spawned[oldest].at_ms)
			oldest = i;
	}
	snprintf(spawned[oldest].key, sizeof(spawned[oldest].key), "%s", key);
	spawned[oldest].at_ms = burst_now_ms();
}

char *reaper_log_path(struct burst_state *st, const char *kind, const char *resource)
{
	return xstrfmt("%s/reapers/%s-%s.log", state_dir(st), kind, resource);
}

/* The running executable, for re-executing ourselves. */
static char *self_exe(struct burst_error *err)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot find the running executable "
				"(/proc/self/exe)");
		return NULL;
	}
	buf[n] = '\0';
	return xstrdup(buf);
}

/* Start `cargo-burst <verb> --state-dir DIR <arg>` detached, logging to log. */
static int spawn(struct burst_state *st, const char *verb, const char *arg, const char *log,
		 struct burst_error *err)
{
	const char *argv[7];
	char *exe = self_exe(err), *dir;
	pid_t pid = 0;
	int ret = -1;

	if (!exe)
		return -1;
	dir = xstrfmt("%s/reapers", state_dir(st));
	if (mkdir(dir, 0700) < 0 && access(dir, W_OK) < 0) {
		burst_error_set(err, BURST_EXIT_STATE, "cannot create '%s'", dir);
		goto out;
	}
	argv[0] = exe;
	argv[1] = verb;
	argv[2] = "--state-dir";
	argv[3] = state_dir(st);
	argv[4] = arg;
	argv[5] = NULL;
	if (proc_spawn_detached(argv, NULL, log, &pid, err) < 0)
		goto out;
	log_debug(MOD, "started %s %s (pid %d, log %s)", verb, arg, (int)pid, log);
	ret = 0;
out:
	free(exe);
	free(dir);
	return ret;
}

/*
 * Start the reaper of (kind, resource) unless a live one holds the slot;
 * deadline is the resource's current deadline (a live reaper that sleeps
 * longer is woken up).  *started (may be NULL) is incremented.
 */
static int arm_one(struct burst_state *st, const char *kind, const char *resource,
		   int64_t deadline, int *started, struct burst_error *err)
{
	struct state_reaper r = { 0 };
	char key[80], *log = NULL;
	int found, ret = -1;

	snprintf(key, sizeof(key), "%s-%s", kind, resource);
	found = state_reaper_get(st, kind, resource, &r, err);
	if (found < 0)
		goto out;
	if (found && state_pid_alive(r.pid, r.pid_start)) {
		if (deadline && r.deadline > deadline)
			reaper_wake(r.pid);
		ret = 0;
		goto out;
	}
	/* a reaper that gave up waits for a human (or an hour) */
	if (found && r.needs_human && state_now() - r.updated_at < 3600) {
		ret = 0;
		goto out;
	}
	if (recently_spawned(key)) {
		ret = 0;
		goto out;
	}
	log = reaper_log_path(st, kind, resource);
	if (spawn(st, !strcmp(kind, "server") ? "__reap-server" : "__reap-volume", resource, log,
		  err) < 0)
		goto out;
	remember_spawned(key);
	if (started)
		(*started)++;
	ret = 0;
out:
	free(log);
	state_reaper_release(&r);
	return ret;
}

static int arm_server_row(struct burst_state *st, const struct state_server *s, int *started,
			  struct burst_error *err)
{
	char res[32];

	if (s->status == STATE_SERVER_DELETED)
		return 0;
	/* --no-reap: nobody deletes it, so no reaper waits for it */
	if (s->no_reap && s->status != STATE_SERVER_DELETING)
		return 0;
	snprintf(res, sizeof(res), "%lld", (long long)s->id);
	return arm_one(st, "server", res, s->deadline, started, err);
}

int reaper_arm_server(struct burst_state *st, int64_t row_id, struct burst_error *err)
{
	struct state_server s = { 0 };
	int found, ret;

	found = state_server_get(st, row_id, &s, err);
	if (found <= 0)
		return found;
	ret = arm_server_row(st, &s, NULL, err);
	state_server_release(&s);
	return ret;
}

static int arm_project(struct burst_state *st, const struct state_project *p, int *started,
		       struct burst_error *err)
{
	if (p->volume_status == STATE_VOLUME_NONE || !p->volume_hcloud_id)
		return 0;
	return arm_one(st, "volume", p->id, p->volume_deadline, started, err);
}

int reaper_arm_volume(struct burst_state *st, const char *project, struct burst_error *err)
{
	struct state_project p = { 0 };
	int found, ret;

	found = state_project_get(st, project, &p, err);
	if (found <= 0)
		return found;
	ret = arm_project(st, &p, NULL, err);
	state_project_release(&p);
	return ret;
}

int reaper_arm_all(struct burst_state *st, int *started, struct burst_error *err)
{
	struct state_server *servers = NULL;
	struct state_project *projects = NULL;
	size_t ns = 0, np = 0;
	int ret = -1;

	if (state_server_list_live(st, &servers, &ns, err) < 0)
		goto out;
	for (size_t i = 0; i < ns; i++)
		if (arm_server_row(st, &servers[i], started, err) < 0)
			goto out;
	if (state_project_list(st, &projects, &np, err) < 0)
		goto out;
	for (size_t i = 0; i < np; i++)
		if (arm_project(st, &projects[i], started, err) < 0)
			goto out;
	ret = 0;
out:
	state_servers_free(servers, ns);
	state_projects_free(projects, np);
	return ret;
}

/*
 * Would arm_server_row() / arm_project() start a reaper here: a live
 * resource whose reaper is not running?  (No spawn, no API call.)
 */
static bool server_unreaped(struct burst_state *st, const struct state_server *s)
{
	char res[32];

	if (s->status == STATE_SERVER_DELETED || (s->no_reap && s->status != STATE_SERVER_DELETING))
		return false;
	snprintf(res, sizeof(res), "%lld", (long long)s->id);
	return !state_reaper_alive(st, "server", res);
}

static bool volume_unreaped(struct burst_state *st, const struct state_project *p)
{
	if (p->volume_status == STATE_VOLUME_NONE || !p->volume_hcloud_id)
		return false;
	return !state_reaper_alive(st, "volume", p->id);
}

/*
 * No API token: a reaper started now could delete nothing and would exit
 * at once ("the reaper has no API token"), only to be started again by the
 * next command.  Start none; say plainly which resources have no reaper
 * and how to fix it.  Reapers that are running are left alone.
 */
static void warn_unreaped(struct burst_ctx *ctx, const struct burst_error *why)
{
	struct state_server *servers = NULL;
	struct state_project *projects = NULL;
	struct burst_error e = BURST_ERROR_INIT;
	struct strbuf what = STRBUF_INIT;
	size_t ns = 0, np = 0;
	int n_servers = 0, n_volumes = 0;

	if (state_server_list_live(ctx->state, &servers, &ns, &e) < 0 ||
	    state_project_list(ctx->state, &projects, &np, &e) < 0) {
		log_warn(MOD, "looking for resources without a reaper: %s", e.message);
		goto out;
	}
	for (size_t i = 0; i < ns; i++)
		n_servers += server_unreaped(ctx->state, &servers[i]);
	for (size_t i = 0; i < np; i++)
		n_volumes += volume_unreaped(ctx->state, &projects[i]);
	log_debug(MOD, "no API token: not arming the reapers of %d server(s), %d volume(s)",
		  n_servers, n_volumes);
	if (!n_servers && !n_volumes)
		goto out;
	if (n_servers)
		strbuf_addf(&what, "%d server%s", n_servers, n_servers == 1 ? "" : "s");
	if (n_volumes)
		strbuf_addf(&what, "%s%d volume%s", n_servers ? " and " : "", n_volumes,
			    n_volumes == 1 ? "" : "s");
	ui_warn("no reaper is running for %s: %s, and a reaper cannot delete anything "
		"without one", what.buf, why->message ? why->message : "no Hetzner Cloud API token");
	ui_note("a server or volume without a reaper is billed until someone deletes it");
	ui_help("%s; then run any cargo burst command (e.g. `cargo burst status`) to start "
		"the reapers", why->hint ? why->hint : "export HCLOUD_TOKEN=<token>, or put the "
		"token in the global config");
out:
	strbuf_release(&what);
	burst_error_release(&e);
	state_servers_free(servers, ns);
	state_projects_free(projects, np);
}

/* ---- the prepare hooks ------------------------------------------------- */

static struct burst_state *own_state;
static struct hcloud *own_api;

/* Is there a server row a run could use without provisioning? */
static bool have_usable_server(struct burst_state *st)
{
	struct state_server s = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	bool ok = state_server_current(st, &s, &e) == 1 && s.status == STATE_SERVER_READY &&
		s.ip && s.hcloud_id;

	state_server_release(&s);
	burst_error_release(&e);
	return ok;
}

/*
 * Before a cold run: start a watcher that outlives a kill -9 of this
 * process, reconcile leftover intents and adopt labelled resources a lost
 * database forgot (so no second server is created).
 */
static void before_cold_run(struct burst_ctx *ctx)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct reaper_sweep_result res;
	char arg[48], *log;

	snprintf(arg, sizeof(arg), "%ld:%llu", (long)getpid(),
		 (unsigned long long)state_pid_start_time(getpid()));
	log = xstrfmt("%s/reapers/watch.log", state_dir(ctx->state));
	if (spawn(ctx->state, "__reap-watch", arg, log, &e) < 0)
		log_warn(MOD, "cannot start the run watcher: %s", e.message);
	burst_error_release(&e);
	free(log);
	if (!ctx->api)
		return;
	if (reaper_reconcile_intents(ctx->api, ctx->state, ctx->config, &e) < 0)
		log_warn(MOD, "reconciling unfinished creates: %s", e.message);
	burst_error_release(&e);
	memset(&res, 0, sizeof(res));
	if (reaper_sweep(ctx->api, ctx->state, ctx->config, REAPER_SWEEP_ADOPT, &res, NULL,
			 &e) < 0)
		log_warn(MOD, "looking for resources of ours by label: %s", e.message);
	burst_error_release(&e);
}

/*
 * A new database (the old one deleted, or moved aside as corrupt) does not
 * know our resources yet: rebuild the live state from their labels (any
 * verb, when a token is configured; until then the state stays marked and
 * the old reapers keep their resources), so that status shows them and
 * their reapers are armed.
 */
static void rebuild_from_labels(struct burst_ctx *ctx)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct reaper_sweep_result res;
	struct hcloud *api = ctx->api;

	if (!api && ctx->config && ctx->config->token)
		api = hcloud_new(ctx->config->endpoint, ctx->config->token, &e);
	if (!api) {
		log_debug(MOD, "state reset: no API client to rebuild it from labels");
		goto out;
	}
	memset(&res, 0, sizeof(res));
	if (reaper_sweep(api, ctx->state, ctx->config, REAPER_SWEEP_ADOPT, &res, NULL, &e) < 0)
		log_warn(MOD, "rebuilding the state from labels: %s", e.message);
	else if (res.servers_adopted || res.volumes_adopted)
		ui_note("rebuilt the state from the labels of %d server(s) and %d volume(s) of ours",
			res.servers_adopted, res.volumes_adopted);
out:
	if (api != ctx->api)
		hcloud_free(api);
	burst_error_release(&e);
}

int reaper_prepare_state(struct burst_ctx *ctx, struct burst_error *err)
{
	struct burst_error e = BURST_ERROR_INIT;
	int started = 0;
	bool cold;

	if (ctx->state)
		return 0;
	if (state_open(NULL, &own_state, err) < 0)
		return -1;
	ctx->state = own_state;
	/* what this invocation records lives on the configured endpoint */
	state_set_endpoint(ctx->state, reaper_config_endpoint(ctx->config));
	/* --dry-run reads the state and changes nothing: no sweep, no reaper */
	if ((ctx->cmd->flags & CMD_RUN) && ctx->run.dry_run)
		return 0;
	cold = (ctx->cmd->flags & (CMD_RUN | CMD_PROVISION)) && !have_usable_server(ctx->state);
	/* a cold run sweeps with adoption below anyway */
	if (state_needs_adoption(ctx->state) && !(cold && ctx->api))
		rebuild_from_labels(ctx);
	if (cold) {
		before_cold_run(ctx);
	} else if ((ctx->cmd->flags & (CMD_RUN | CMD_PROVISION)) && ctx->api &&
		   reaper_reconcile_intents(ctx->api, ctx->state, ctx->config, &e) < 0) {
		/* warm: an API call only when a create was left unfinished */
		log_warn(MOD, "reconciling unfinished creates: %s", e.message);
		burst_error_release(&e);
	}
	/* `down` deletes instead; everything else re-arms what is missing */
	if (!strcmp(ctx->cmd->name, "down"))
		return 0;
	/* only reapers that can work: no token, no reaper (and no churn) */
	if (ctx->config && config_require_token(ctx->config, &e) < 0) {
		warn_unreaped(ctx, &e);
		burst_error_release(&e);
		return 0;
	}
	if (reaper_arm_all(ctx->state, &started, &e) < 0)
		log_warn(MOD, "re-arming the reapers: %s", e.message);
	if (started)
		log_debug(MOD, "re-armed %d reaper(s)", started);
	burst_error_release(&e);
	return 0;
}

void reaper_release_state(struct burst_ctx *ctx)
{
	if (own_state && ctx->state == own_state)
		ctx->state = NULL;
	state_close(own_state);
	own_state = NULL;
}

int reaper_prepare_api(struct burst_ctx *ctx, struct burst_error *err)
{
	if (ctx->api)
		return 0;
	if (!ctx->config)
		return burst_error_set(err, BURST_EXIT_INTERNAL, "the API client needs the config");
	own_api = hcloud_new(ctx->config->endpoint, ctx->config->token, err);
	if (!own_api)
		return -1;
	ctx->api = own_api;
	return 0;
}

void reaper_release_api(struct burst_ctx *ctx)
{
	if (own_api && ctx->api == own_api)
		ctx->api = NULL;
	hcloud_free(own_api);
	own_api = NULL;
}

/*
 * arm.c - starting reapers (cheap: reads the state, no API call); the
 * dispatcher's prepare hooks that use them are in src/cli/prepare.c.
 */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Count the live resources whose reaper is not running (reaper.h). */
int reaper_count_unreaped(struct burst_state *st, int *servers, int *volumes,
			  struct burst_error *err)
{
	struct state_server *sv = NULL;
	struct state_project *pv = NULL;
	size_t ns = 0, np = 0;
	int ret = -1;

	*servers = *volumes = 0;
	if (state_server_list_live(st, &sv, &ns, err) < 0 ||
	    state_project_list(st, &pv, &np, err) < 0)
		goto out;
	for (size_t i = 0; i < ns; i++)
		*servers += server_unreaped(st, &sv[i]);
	for (size_t i = 0; i < np; i++)
		*volumes += volume_unreaped(st, &pv[i]);
	ret = 0;
out:
	state_servers_free(sv, ns);
	state_projects_free(pv, np);
	return ret;
}

/* Start the watcher of the run pid (reaper.h). */
int reaper_start_watcher(struct burst_state *st, pid_t pid, struct burst_error *err)
{
	char arg[48], *log;
	int ret;

	snprintf(arg, sizeof(arg), "%ld:%llu", (long)pid,
		 (unsigned long long)state_pid_start_time(pid));
	log = xstrfmt("%s/reapers/watch.log", state_dir(st));
	ret = spawn(st, "__reap-watch", arg, log, err);
	free(log);
	return ret;
}

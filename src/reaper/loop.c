/*
 * loop.c - the reapers' main loops: claim the slot, sleep on the wall
 * clock until the deadline in the database (re-reading it at least every
 * REAPER_MAX_SLEEP_SECS, or at once on SIGUSR1), decide in one transaction,
 * delete, retry with backoff, give up only when a human must act.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/reaper.h"
#include "burst/state.h"

#include "reaper-int.h"

/* While a run holds a lease, look again this often. */
#define LEASED_RECHECK_SECS 15
/* First pause after a failed delete. */
#define RETRY_FIRST_SECS 5

static volatile sig_atomic_t woken;

static void on_wake(int sig)
{
	(void)sig;
	woken = 1;
}

/* SIGUSR1 interrupts the sleep (the deadline moved earlier). */
static void install_wake_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/*
 * A reaper sleeps for hours and there is one per resource: before each
 * sleep it gives back what it can.  The state's connection stops mapping
 * the database file (mmap pages would stay resident, counted against the
 * reaper) and drops its page cache, and malloc returns the freed heap to
 * the kernel.  libcurl is not loaded until a delete is due (hcloud loads
 * it at the first request).
 */
static void rest(struct burst_state *st)
{
	static bool unmapped;
	sqlite3 *db = state_sqlite(st);

	if (db && !unmapped) {
		/* reads at a wake are few: pread() is as good as a mapping */
		if (sqlite3_exec(db, "PRAGMA mmap_size=0", NULL, NULL, NULL) == SQLITE_OK)
			unmapped = true;
	}
	if (db)
		sqlite3_db_release_memory(db);
	malloc_trim(0);
}

/*
 * Sleep secs seconds of wall-clock time (an absolute CLOCK_REALTIME
 * target, so a machine that was suspended wakes up as soon as it resumes
 * past it), holding as little memory as possible (rest()); returns early
 * on SIGUSR1.  No CPU is used meanwhile.
 */
static void sleep_wall(struct burst_state *st, int64_t secs)
{
	struct timespec target;

	if (secs < 1)
		secs = 1;
	if (secs > REAPER_MAX_SLEEP_SECS)
		secs = REAPER_MAX_SLEEP_SECS;
	rest(st);
	clock_gettime(CLOCK_REALTIME, &target);
	target.tv_sec += (time_t)secs;
	woken = 0;
	while (!woken) {
		int rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &target, NULL);

		if (rc != EINTR)
			break;
	}
	woken = 0;
}

/*
 * The identity of the database file this reaper works on.  When state.db
 * was deleted or moved aside (corrupt) and a new one created, the new
 * state has its own reapers; an old one must not act on stale deadlines
 * and leases (a run in the new state holds no lease in the old one).
 */
struct db_id {
	dev_t dev;
	ino_t ino;
};

static void db_id_get(struct burst_state *st, struct db_id *id)
{
	struct stat sb;

	memset(id, 0, sizeof(*id));
	if (stat(state_db_path(st), &sb) == 0) {
		id->dev = sb.st_dev;
		id->ino = sb.st_ino;
	}
}

static bool db_replaced(struct burst_state *st, const struct db_id *at_start)
{
	struct db_id now;

	db_id_get(st, &now);
	if (now.dev == at_start->dev && now.ino == at_start->ino)
		return false;
	log_info(MOD, "the state database %s was replaced; its own reapers take over",
		 state_db_path(st));
	return true;
}

static void ops_init(struct reaper_ops *o, struct burst_state *st, struct hcloud *api,
		     const struct burst_config *cfg, const char *reason)
{
	memset(o, 0, sizeof(*o));
	o->st = st;
	o->api = api;
	o->cfg = cfg;
	o->owner = state_owner_id(st);
	o->reason = reason;
}

/* After a failed delete: record it; 1 = retry later, -1 = a human must act. */
static int delete_failed(struct burst_state *st, const char *kind, const char *res,
			 struct burst_error *e, int64_t *backoff)
{
	struct burst_error e2 = BURST_ERROR_INIT;
	bool human = reaper_error_needs_human(e);
	struct state_event ev = { 0 };

	log_error(MOD, "deleting the %s of %s %s failed: %s", kind,
		  !strcmp(kind, "server") ? "row" : "project", res, e->message);
	if (e->api_code)
		log_error(MOD, "  Hetzner says: %s: %s", e->api_code,
			  e->api_message ? e->api_message : "");
	state_reaper_set_error(st, kind, res, e->message, human, &e2);
	burst_error_release(&e2);
	ev.kind = "delete_failed";
	ev.resource_kind = kind;
	ev.details = e->message;
	state_event_add(st, &ev, &e2);
	burst_error_release(&e2);
	if (human) {
		log_error(MOD, "giving up: a human must act (see `cargo burst status`), then "
			  "run `cargo burst down` or any command to start the reaper again");
		return -1;
	}
	log_info(MOD, "retrying in %llds", (long long)*backoff);
	sleep_wall(st, *backoff);
	*backoff = *backoff * 2 > REAPER_RETRY_CAP_SECS ? REAPER_RETRY_CAP_SECS : *backoff * 2;
	return 1;
}

/* A server row without a Hetzner id: look it up by its name (crash after POST). */
static int resolve_server_id(struct reaper_ops *o, struct state_server *row,
			     struct burst_error *err)
{
	struct hcloud_servers l = { 0 };
	int ret = -1;

	if (!row->name) {
		ret = 0;
		goto out;
	}
	if (hcloud_servers_list(o->api, row->name, NULL, &l, err) < 0)
		goto out;
	if (l.nr == 1 && reaper_labels_ours(&l.v[0].labels, o->owner)) {
		row->hcloud_id = l.v[0].id;
		if (state_server_update(o->st, row, err) < 0)
			goto out;
	}
	ret = 0;
out:
	hcloud_servers_release(&l);
	return ret;
}

int reaper_run_server(struct burst_state *st, struct hcloud *api,
		      const struct burst_config *cfg, int64_t row_id, struct burst_error *err)
{
	struct reaper_ops o;
	struct state_server row = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	char res[32], *log;
	int64_t backoff = RETRY_FIRST_SECS;
	bool claimed = false, said_leased = false;
	struct db_id dbid;
	int found, ret = -1;

	ops_init(&o, st, api, cfg, "reap");
	db_id_get(st, &dbid);
	snprintf(res, sizeof(res), "%lld", (long long)row_id);
	log = reaper_log_path(st, "server", res);
	found = state_server_get(st, row_id, &row, err);
	if (found <= 0) {
		ret = found;
		goto out;
	}
	if (state_reaper_claim(st, "server", res, row.deadline, log, &claimed, err) < 0)
		goto out;
	if (!claimed) {
		log_info(MOD, "server row %s: another reaper is alive; nothing to do", res);
		ret = 0;
		goto out;
	}
	install_wake_handler();
	log_info(MOD, "reaper of server '%s' (%lld, row %s) started", row.name ? row.name : "?",
		 (long long)row.hcloud_id, res);
	if (reaper_reconcile_intents(api, st, cfg, &e) < 0)
		log_warn(MOD, "reconciling unfinished creates: %s", e.message);
	burst_error_release(&e);
	for (;;) {
		struct state_delete_decision d;
		bool gone = false, locked;
		unsigned dflags;
		int64_t now;
		int rc;

		if (db_replaced(st, &dbid)) {
			ret = 0;
			goto out;
		}
		state_server_release(&row);
		found = state_server_get(st, row_id, &row, err);
		if (found < 0)
			goto out;
		if (!found || row.status == STATE_SERVER_DELETED) {
			log_info(MOD, "server row %s is gone from the state; done", res);
			break;
		}
		if (row.status != STATE_SERVER_DELETING) {
			if (row.no_reap) {
				log_info(MOD, "server '%s' is kept (--no-reap); done", row.name);
				break;
			}
			now = state_now();
			if (row.deadline > now) {
				state_reaper_set_deadline(st, "server", res, row.deadline, &e);
				burst_error_release(&e);
				log_debug(MOD, "sleeping until %lld (%llds)", (long long)row.deadline,
					  (long long)(row.deadline - now));
				sleep_wall(st, row.deadline - now);
				continue;
			}
			/*
			 * A row still `provisioning` is protected by a grace period in
			 * the state, for the run that is creating it.  Provisioning
			 * holds the provisioning lock throughout: when we get the lock,
			 * no such run exists (it crashed or was killed), and the row's
			 * own deadline is the one that counts.
			 */
			dflags = 0;
			locked = false;
			if (row.status == STATE_SERVER_PROVISIONING) {
				if (state_lock_provision(st, 0, &e) != 0) {
					burst_error_release(&e);
					if (!said_leased)
						log_info(MOD, "server '%s' is being provisioned; waiting",
							 row.name ? row.name : res);
					said_leased = true;
					sleep_wall(st, LEASED_RECHECK_SECS);
					continue;
				}
				locked = true;
				dflags = STATE_DELETE_IGNORE_DEADLINE;
				log_info(MOD, "server '%s' was left `provisioning` by a run that is "
					 "gone", row.name ? row.name : res);
			}
			rc = state_server_try_begin_delete(st, row_id, now, dflags, &d, err);
			if (locked)
				state_unlock_provision(st);
			if (rc < 0)
				goto out;
			if (d.reason == STATE_KEEP_LEASED) {
				if (!said_leased)
					log_info(MOD, "deadline passed but %lld run(s) use the server; "
						 "waiting", (long long)d.live_leases);
				said_leased = true;
				sleep_wall(st, LEASED_RECHECK_SECS);
				continue;
			}
			said_leased = false;
			if (d.reason == STATE_KEEP_NOT_DUE)
				sleep_wall(st, d.deadline - now); /* the state knows a later deadline */
			if (d.reason != STATE_DELETE_NOW)
				continue; /* re-read: moved, no_reap or gone */
			log_info(MOD, "deadline passed: deleting server '%s' (%lld)", row.name,
				 (long long)row.hcloud_id);
			continue; /* re-read: the row is `deleting` now */
		}
		/* deleting: ours to finish (also after a crashed reaper or down) */
		if (!row.hcloud_id && resolve_server_id(&o, &row, &e) < 0) {
			rc = delete_failed(st, "server", res, &e, &backoff);
			burst_error_release(&e);
			if (rc < 0) {
				burst_error_set(err, BURST_EXIT_API, "server row %s: giving up", res);
				goto out;
			}
			continue;
		}
		if (row.hcloud_id && reaper_delete_server(&o, row.hcloud_id, &gone, &e) < 0) {
			rc = delete_failed(st, "server", res, &e, &backoff);
			burst_error_release(&e);
			if (rc < 0) {
				burst_error_set(err, BURST_EXIT_API, "server '%s': giving up",
						row.name ? row.name : res);
				goto out;
			}
			continue;
		}
		o.reason = gone || !row.hcloud_id ? "stale" : "reap";
		reaper_record_server_gone(&o, row.id, row.hcloud_id, row.name, row.ip);
		log_info(MOD, "server '%s' (%lld) %s", row.name ? row.name : "?",
			 (long long)row.hcloud_id, gone ? "was already gone" : "deleted");
		break;
	}
	state_reaper_remove(st, "server", res, false, &e);
	burst_error_release(&e);
	ret = 0;
out:
	burst_error_release(&e);
	state_server_release(&row);
	free(log);
	return ret;
}

int reaper_run_volume(struct burst_state *st, struct hcloud *api,
		      const struct burst_config *cfg, const char *project,
		      struct burst_error *err)
{
	struct reaper_ops o;
	struct state_project p = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	char *log;
	int64_t backoff = RETRY_FIRST_SECS;
	bool claimed = false, said_leased = false;
	struct db_id dbid;
	int found, ret = -1;

	ops_init(&o, st, api, cfg, "reap");
	db_id_get(st, &dbid);
	log = reaper_log_path(st, "volume", project);
	found = state_project_get(st, project, &p, err);
	if (found <= 0) {
		ret = found;
		goto out;
	}
	if (state_reaper_claim(st, "volume", project, p.volume_deadline, log, &claimed, err) < 0)
		goto out;
	if (!claimed) {
		log_info(MOD, "volume of %s: another reaper is alive; nothing to do", project);
		ret = 0;
		goto out;
	}
	install_wake_handler();
	log_info(MOD, "reaper of the volume of project %s (%s, %lld) started", project,
		 p.name ? p.name : "?", (long long)p.volume_hcloud_id);
	if (reaper_reconcile_intents(api, st, cfg, &e) < 0)
		log_warn(MOD, "reconciling unfinished creates: %s", e.message);
	burst_error_release(&e);
	for (;;) {
		struct state_delete_decision d;
		bool gone = false;
		int64_t now;
		int rc;

		if (db_replaced(st, &dbid)) {
			ret = 0;
			goto out;
		}
		state_project_release(&p);
		found = state_project_get(st, project, &p, err);
		if (found < 0)
			goto out;
		if (!found || p.volume_status == STATE_VOLUME_NONE || !p.volume_hcloud_id) {
			log_info(MOD, "project %s has no volume any more; done", project);
			break;
		}
		if (p.volume_status != STATE_VOLUME_DELETING) {
			now = state_now();
			if (p.volume_deadline > now) {
				state_reaper_set_deadline(st, "volume", project, p.volume_deadline, &e);
				burst_error_release(&e);
				sleep_wall(st, p.volume_deadline - now);
				continue;
			}
			if (state_volume_try_begin_delete(st, project, now, 0, &d, err) < 0)
				goto out;
			if (d.reason == STATE_KEEP_LEASED) {
				if (!said_leased)
					log_info(MOD, "deadline passed but a run uses the project; waiting");
				said_leased = true;
				sleep_wall(st, LEASED_RECHECK_SECS);
				continue;
			}
			said_leased = false;
			if (d.reason == STATE_KEEP_NOT_DUE)
				sleep_wall(st, d.deadline - now);
			if (d.reason == STATE_DELETE_NOW)
				log_info(MOD, "deadline passed: deleting volume '%s' (%lld)",
					 p.volume_name ? p.volume_name : "?",
					 (long long)p.volume_hcloud_id);
			continue;
		}
		if (reaper_delete_volume(&o, p.volume_hcloud_id, &gone, &e) < 0) {
			rc = delete_failed(st, "volume", project, &e, &backoff);
			burst_error_release(&e);
			if (rc < 0) {
				burst_error_set(err, BURST_EXIT_API, "volume '%s': giving up",
						p.volume_name ? p.volume_name : project);
				goto out;
			}
			continue;
		}
		o.reason = gone ? "stale" : "reap";
		reaper_record_volume_gone(&o, p.volume_hcloud_id, p.volume_name, p.size_gb);
		if (state_project_clear_volume(st, project, &e) < 0)
			log_warn(MOD, "forgetting the volume: %s", e.message);
		burst_error_release(&e);
		log_info(MOD, "volume '%s' (%lld) %s", p.volume_name ? p.volume_name : "?",
			 (long long)p.volume_hcloud_id, gone ? "was already gone" : "deleted");
		break;
	}
	state_reaper_remove(st, "volume", project, false, &e);
	burst_error_release(&e);
	ret = 0;
out:
	burst_error_release(&e);
	state_project_release(&p);
	free(log);
	return ret;
}

int reaper_run_watch(struct burst_state *st, struct hcloud *api,
		     const struct burst_config *cfg, pid_t pid, uint64_t start,
		     struct burst_error *err)
{
	uint64_t give_up = burst_now_ms() + 24ull * 3600 * 1000;
	int started = 0;

	if (pid <= 0)
		return burst_error_set(err, BURST_EXIT_USAGE, "the watcher needs PID:START");

	/* a run lasts as long as cargo does; poll its pid (no CPU to speak of) */
	rest(st);
	while (state_pid_alive(pid, start) && burst_now_ms() < give_up) {
		struct timespec ts = { 1, 0 };

		nanosleep(&ts, NULL);
	}
	log_info(MOD, "run %d ended; reconciling and re-arming", (int)pid);
	for (int i = 0; i < 4; i++) {
		struct state_intent *v = NULL;
		size_t n = 0;
		bool pending = false;

		if (api && reaper_reconcile_intents(api, st, cfg, err) < 0) {
			log_warn(MOD, "reconciling unfinished creates: %s", err->message);
			burst_error_release(err);
		}
		if (state_intents_pending(st, &v, &n, err) < 0)
			return -1;
		for (size_t k = 0; k < n; k++)
			if (v[k].kind == STATE_INTENT_SERVER || v[k].kind == STATE_INTENT_VOLUME)
				pending = true;
		state_intents_free(v, n);
		if (!pending || !api)
			break;
		/* a create that may still be in flight: look again after the grace */
		sleep_wall(st, REAPER_INTENT_GRACE_SECS / 2 + 1);
	}
	if (!api) {
		/* a reaper without a token exits at once: start none */
		log_warn(MOD, "no API token: not arming the reapers (`cargo burst status` "
			 "says how to fix it)");
		return 0;
	}
	if (reaper_arm_all(st, &started, err) < 0)
		return -1;
	log_info(MOD, "armed %d reaper(s)", started);
	return 0;
}

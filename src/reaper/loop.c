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
/* First and longest pause when the state database is busy or unreadable. */
#define DB_RETRY_FIRST_SECS 2
#define DB_RETRY_CAP_SECS 60

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
 * sleep it gives back what it can.  The state's connection drops its page
 * cache (it never maps the file: see state_open()), and malloc returns the
 * freed heap to the kernel.  libcurl is not loaded until a delete is due
 * (hcloud loads it at the first request).
 */
static void rest(struct burst_state *st)
{
	sqlite3 *db = state_sqlite(st);

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
 * was deleted or moved aside (corrupt), an old reaper must not act on
 * stale leases (a run in the new state holds no lease in the old one), nor
 * abandon its resource: it hands it over to the new state (creating it if
 * need be) with the deadline it knew, and goes on as its reaper there.
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
	log_info(MOD, "the state database %s was replaced; handing the resource over to the "
		 "new one", state_db_path(st));
	return true;
}

/*
 * The state database could not be read or written (SQLITE_BUSY past the
 * busy timeout, an I/O error): the resource may still exist, so that is
 * never the end of a reaper.  Log, wait with a capped backoff, try again.
 */
static void db_retry(struct burst_state *st, struct burst_error *e, int64_t *backoff)
{
	log_warn(MOD, "the state database: %s; retrying in %llds",
		 e->message ? e->message : "unknown error", (long long)*backoff);
	burst_error_release(e);
	sleep_wall(st, *backoff);
	*backoff = *backoff * 2 > DB_RETRY_CAP_SECS ? DB_RETRY_CAP_SECS : *backoff * 2;
}

/*
 * Open the database that replaced ours (created when it is missing, so it
 * is marked as needing adoption) and take the provisioning lock there, so
 * a hand-over never races a sweep adopting the same resource.  1 = open
 * and locked, 0 = the lock is busy (try later), -1 = error.
 */
static int open_successor(struct burst_state *old, struct burst_state **out,
			  struct burst_error *err)
{
	struct burst_state *nst = NULL;
	int rc;

	*out = NULL;
	if (state_open(state_dir(old), &nst, err) < 0)
		return -1;
	state_set_endpoint(nst, state_endpoint(old));
	rc = state_lock_provision(nst, 0, err);
	if (rc != 0) {
		state_close(nst);
		if (rc == STATE_LOCK_TIMEOUT) {
			burst_error_release(err);
			return 0;
		}
		return -1;
	}
	*out = nst;
	return 1;
}

/* Results of a hand-over. */
enum {
	HANDOVER_LATER = 0,   /* not now (a run of the old state, lock busy) */
	HANDOVER_SWITCHED,    /* we are the reaper of the resource in the new state */
	HANDOVER_TAKEN,       /* the new state knows it and has its own reaper */
	HANDOVER_KEEP,        /* the new state has another one: keep ours ourselves */
};

/*
 * What one reaper reaps: a server row, or the volume of a project.  The
 * loop (reap()) is the same for both; the few steps that differ ask
 * t->server.
 */
struct target {
	bool server;
	const char *kind;         /* "server" or "volume": the reaper slot's kind */
	char *res;                /* the slot's name: the row id, or the project id */
	int64_t row_id;           /* server */
	struct state_server row;  /* server: as last read */
	struct state_project p;   /* volume: as last read */
	bool on_own;              /* volume: no state knows it any more (handover) */
};

static const char *target_name(const struct target *t)
{
	const char *name = t->server ? t->row.name : t->p.volume_name;

	return name ? name : "?";
}

static int64_t target_deadline(const struct target *t)
{
	return t->server ? t->row.deadline : t->p.volume_deadline;
}

static int64_t target_hcloud_id(const struct target *t)
{
	return t->server ? t->row.hcloud_id : t->p.volume_hcloud_id;
}

/* Read the target's row again: 1 found, 0 gone, -1 error. */
static int target_read(struct burst_state *st, struct target *t, struct burst_error *err)
{
	if (t->server) {
		state_server_release(&t->row);
		return state_server_get(st, t->row_id, &t->row, err);
	}
	state_project_release(&t->p);
	return state_project_get(st, t->res, &t->p, err);
}

/* Is the target read gone from the state (found is target_read's answer)? */
static bool target_gone(const struct target *t, int found)
{
	if (t->server) {
		if (found && t->row.status != STATE_SERVER_DELETED)
			return false;
		log_info(MOD, "server row %s is gone from the state; done", t->res);
		return true;
	}
	if (found && t->p.volume_status != STATE_VOLUME_NONE && t->p.volume_hcloud_id)
		return false;
	log_info(MOD, "project %s has no volume any more; done", t->res);
	return true;
}

static bool target_deleting(const struct target *t)
{
	return t->server ? t->row.status == STATE_SERVER_DELETING
			 : t->p.volume_status == STATE_VOLUME_DELETING;
}

/*
 * The deadline passed: decide in one transaction (d).  0 decided, 1 wait
 * (a server row still `provisioning` while its run holds the provisioning
 * lock), -1 error.
 */
static int target_begin_delete(struct burst_state *st, struct target *t, int64_t now,
			       bool *said_leased, struct state_delete_decision *d,
			       struct burst_error *err)
{
	unsigned dflags = 0;
	bool locked = false;
	int rc;

	if (!t->server)
		return state_volume_try_begin_delete(st, t->res, now, 0, d, err);
	/*
	 * A row still `provisioning` is protected by a grace period in the
	 * state, for the run that is creating it.  Provisioning holds the
	 * provisioning lock throughout: when we get the lock, no such run
	 * exists (it crashed or was killed), and the row's own deadline is
	 * the one that counts.
	 */
	if (t->row.status == STATE_SERVER_PROVISIONING) {
		if (state_lock_provision(st, 0, err) != 0) {
			burst_error_release(err);
			if (!*said_leased)
				log_info(MOD, "server '%s' is being provisioned; waiting",
					 t->row.name ? t->row.name : t->res);
			*said_leased = true;
			return 1;
		}
		locked = true;
		dflags = STATE_DELETE_IGNORE_DEADLINE;
		log_info(MOD, "server '%s' was left `provisioning` by a run that is gone",
			 t->row.name ? t->row.name : t->res);
	}
	rc = state_server_try_begin_delete(st, t->row_id, now, dflags, d, err);
	if (locked)
		state_unlock_provision(st);
	return rc < 0 ? -1 : 0;
}

/*
 * A reaper's state was replaced: give its resource to the new state with
 * the deadline the old one allowed (see state_server_handover() and
 * state_volume_handover()).
 */
static int handover(struct target *t, struct burst_state **stp, struct burst_state **own,
		    struct db_id *dbid, const char *log, struct burst_error *err)
{
	struct burst_state *nst = NULL;
	int64_t leases = 0, nid = 0;
	bool taken = false, claimed = false;
	char *nres;
	int rc;

	/*
	 * A run that still works with the old database holds its lease there;
	 * an old database that cannot be read any more (it was corrupt) has
	 * no run either.
	 */
	if (state_lease_count_live(*stp, t->server ? t->row_id : 0, t->server ? NULL : t->res,
				   &leases, err) < 0) {
		log_info(MOD, "the old state database cannot be read (%s): no run uses it",
			 err->message);
		burst_error_release(err);
		leases = 0;
	}
	if (leases > 0)
		return HANDOVER_LATER;
	rc = open_successor(*stp, &nst, err);
	if (rc <= 0)
		return rc < 0 ? -1 : HANDOVER_LATER;
	if (t->server)
		rc = state_server_handover(nst, &t->row, &nid, &taken, err) < 0 ? -1 : 1;
	else
		rc = state_volume_handover(nst, &t->p, &taken, err);
	if (rc < 0)
		goto fail;
	state_unlock_provision(nst);
	if (rc == 0) {
		log_info(MOD, "the new state has another volume for project %s: this reaper "
			 "keeps volume '%s' and its deadline", t->res, target_name(t));
		state_close(nst);
		return HANDOVER_KEEP;
	}
	if (taken) {
		if (t->server)
			log_info(MOD, "the new state knows server '%s' (row %lld); its reaper "
				 "takes over", target_name(t), (long long)nid);
		else
			log_info(MOD, "the new state knows volume '%s'; its reaper takes over",
				 target_name(t));
		if ((t->server ? reaper_arm_server(nst, nid, err)
			       : reaper_arm_volume(nst, t->res, err)) < 0) {
			log_warn(MOD, "arming its reaper: %s", err->message);
			burst_error_release(err);
		}
		state_close(nst);
		return HANDOVER_TAKEN;
	}
	nres = t->server ? xstrfmt("%lld", (long long)nid) : xstrdup(t->res);
	if (state_reaper_claim(nst, t->kind, nres, target_deadline(t), log, &claimed, err) < 0) {
		free(nres);
		goto fail;
	}
	if (!claimed) {
		free(nres);
		state_close(nst);
		return HANDOVER_TAKEN;
	}
	if (t->server)
		log_info(MOD, "handed server '%s' over to the new state (row %lld), deadline kept",
			 target_name(t), (long long)nid);
	else
		log_info(MOD, "handed volume '%s' over to the new state, deadline kept",
			 target_name(t));
	state_close(*own);
	*own = *stp = nst;
	if (t->server)
		t->row_id = nid;
	free(t->res);
	t->res = nres;
	db_id_get(nst, dbid);
	return HANDOVER_SWITCHED;
fail:
	state_close(nst);
	return -1;
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

/*
 * Delete the target now and record it: 1 deleted (or already gone), 0
 * failed but to be retried (backoff advanced), -1 given up (err).
 */
static int target_delete_now(struct burst_state *st, struct reaper_ops *o, struct target *t,
			     int64_t *backoff, struct burst_error *err)
{
	struct burst_error e = BURST_ERROR_INIT;
	int64_t id = target_hcloud_id(t);
	bool gone = false;
	int rc;

	if (t->server && !id && resolve_server_id(o, &t->row, &e) < 0) {
		rc = delete_failed(st, t->kind, t->res, &e, backoff);
		burst_error_release(&e);
		if (rc < 0)
			return burst_error_set(err, BURST_EXIT_API, "server row %s: giving up",
					       t->res);
		return 0;
	}
	id = target_hcloud_id(t);
	if (id && (t->server ? reaper_delete_server(o, id, &gone, &e)
			     : reaper_delete_volume(o, id, &gone, &e)) < 0) {
		rc = delete_failed(st, t->kind, t->res, &e, backoff);
		burst_error_release(&e);
		if (rc < 0)
			return burst_error_set(err, BURST_EXIT_API, "%s '%s': giving up", t->kind,
					       t->server ? (t->row.name ? t->row.name : t->res)
							 : (t->p.volume_name ? t->p.volume_name
									     : t->res));
		return 0;
	}
	o->reason = gone || !id ? "stale" : "reap";
	if (t->server)
		reaper_record_server_gone(o, t->row.id, id, t->row.name, t->row.ip);
	else
		reaper_record_volume_gone(o, id, t->p.volume_name, t->p.size_gb);
	log_info(MOD, "%s '%s' (%lld) %s", t->kind, target_name(t), (long long)id,
		 gone ? "was already gone" : "deleted");
	if (!t->server && !t->on_own &&
	    state_project_clear_volume(st, t->res, &e) < 0)
		log_warn(MOD, "forgetting the volume: %s", e.message);
	burst_error_release(&e);
	return 1;
}

/*
 * Our resource is not in the state and the state is new: the database was
 * deleted or moved aside (corrupt) after the run that armed us ended and
 * before we opened it, so there was nothing to hand over.  The resource
 * still exists: adopt by label now (the sweep records it with a deadline
 * and arms its reaper), as the next command with a token would, rather
 * than leave it running until one comes.
 */
static void adopt_new_state(struct burst_state *st, struct hcloud *api,
			    const struct burst_config *cfg, const struct target *t)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct reaper_sweep_result res;
	int rc;

	log_info(MOD, "%s %s is not in the state, which is new (the old database was lost): "
		 "adopting our resources by label", t->server ? "server row" : "the volume of",
		 t->res);
	rc = reaper_sweep(api, st, cfg, REAPER_SWEEP_ADOPT, &res, NULL, &e);
	if (rc < 0)
		log_warn(MOD, "adopting by label: %s; the next command with a token does it",
			 e.message);
	else if (rc == 0 && state_needs_adoption(st))
		log_info(MOD, "a command holds the provisioning lock; it adopts them");
	else
		log_info(MOD, "adopted %d server(s) and %d volume(s)", res.servers_adopted,
			 res.volumes_adopted);
	burst_error_release(&e);
}

/*
 * The reaper of one target: claim the slot, sleep until the deadline,
 * decide in one transaction, delete, retry; hand over to a state that
 * replaced ours.  0 when done (or another reaper has it), -1 given up.
 */
static int reap(struct burst_state *st, struct hcloud *api, const struct burst_config *cfg,
		struct target *t, struct burst_error *err)
{
	struct reaper_ops o;
	struct burst_error e = BURST_ERROR_INIT;
	struct burst_state *own_st = NULL;
	struct hcloud *own_api = NULL;
	const char *endpoint;
	char *log;
	int64_t backoff = RETRY_FIRST_SECS, db_backoff = DB_RETRY_FIRST_SECS;
	bool claimed = false, said_leased = false, replaced = false;
	struct db_id dbid;
	char owner[STATE_OWNER_ID_LEN + 1];
	int found, ret = -1;

	snprintf(owner, sizeof(owner), "%s", state_owner_id(st));
	db_id_get(st, &dbid);
	log = reaper_log_path(st, t->kind, t->res);
	/* read the row and claim the slot; a busy database is waited for */
	for (;;) {
		found = target_read(st, t, &e);
		if (!found) {
			if (api && state_needs_adoption(st))
				adopt_new_state(st, api, cfg, t);
			ret = 0;
			goto out;
		}
		if (found > 0 && !state_reaper_claim(st, t->kind, t->res, target_deadline(t), log,
						     &claimed, &e))
			break;
		db_retry(st, &e, &db_backoff);
	}
	if (!claimed) {
		if (t->server)
			log_info(MOD, "server row %s: another reaper is alive; nothing to do",
				 t->res);
		else
			log_info(MOD, "volume of %s: another reaper is alive; nothing to do",
				 t->res);
		ret = 0;
		goto out;
	}
	/* the endpoint the resource was created on, whatever the config says now */
	endpoint = t->server ? t->row.endpoint : t->p.volume_endpoint;
	state_set_endpoint(st, endpoint ? endpoint : reaper_config_endpoint(cfg));
	api = reaper_api_for(api, cfg, endpoint, &own_api, err);
	if (!api) {
		state_reaper_set_error(st, t->kind, t->res, err->message, true, &e);
		goto out;
	}
	ops_init(&o, st, api, cfg, "reap");
	install_wake_handler();
	if (t->server)
		log_info(MOD, "reaper of server '%s' (%lld, row %s) started", target_name(t),
			 (long long)t->row.hcloud_id, t->res);
	else
		log_info(MOD, "reaper of the volume of project %s (%s, %lld) started", t->res,
			 t->p.name ? t->p.name : "?", (long long)t->p.volume_hcloud_id);
	if (reaper_reconcile_intents(api, st, cfg, &e) < 0)
		log_warn(MOD, "reconciling unfinished creates: %s", e.message);
	burst_error_release(&e);
	for (;;) {
		struct state_delete_decision d;
		int64_t now;
		int rc;

		/*
		 * on_own: the new state has another volume for the project; this
		 * one stays with us and the old database, deadline and all.
		 */
		if (!t->on_own && (replaced || db_replaced(st, &dbid))) {
			replaced = true;
			rc = handover(t, &st, &own_st, &dbid, log, &e);
			if (rc < 0) {
				db_retry(st, &e, &db_backoff);
				continue;
			}
			if (rc == HANDOVER_TAKEN) {
				ret = 0;
				goto out;
			}
			if (rc == HANDOVER_LATER) {
				sleep_wall(st, LEASED_RECHECK_SECS);
				continue;
			}
			t->on_own = rc == HANDOVER_KEEP;
			replaced = false;
			ops_init(&o, st, api, cfg, "reap");
			o.owner = owner; /* the resource's labels name the old state's owner */
		}
		if (t->on_own) {
			/*
			 * No state knows this volume any more (the project has
			 * another one, so no run can use it): delete it at the
			 * deadline we know, without the old database, which may
			 * be unreadable.
			 */
			now = state_now();
			if (t->p.volume_deadline > now) {
				sleep_wall(st, t->p.volume_deadline - now);
				continue;
			}
			goto delete;
		}
		found = target_read(st, t, &e);
		if (found < 0) {
			db_retry(st, &e, &db_backoff);
			continue;
		}
		if (target_gone(t, found))
			break;
		if (!target_deleting(t)) {
			if (t->server && t->row.no_reap) {
				log_info(MOD, "server '%s' is kept (--no-reap); done", t->row.name);
				break;
			}
			now = state_now();
			if (target_deadline(t) > now) {
				state_reaper_set_deadline(st, t->kind, t->res, target_deadline(t), &e);
				burst_error_release(&e);
				log_debug(MOD, "sleeping until %lld (%llds)",
					  (long long)target_deadline(t),
					  (long long)(target_deadline(t) - now));
				sleep_wall(st, target_deadline(t) - now);
				continue;
			}
			rc = target_begin_delete(st, t, now, &said_leased, &d, &e);
			if (rc > 0) {
				sleep_wall(st, LEASED_RECHECK_SECS);
				continue;
			}
			if (rc < 0) {
				db_retry(st, &e, &db_backoff);
				continue;
			}
			db_backoff = DB_RETRY_FIRST_SECS;
			if (d.reason == STATE_KEEP_LEASED) {
				if (!said_leased && t->server)
					log_info(MOD, "deadline passed but %lld run(s) use the server; "
						 "waiting", (long long)d.live_leases);
				else if (!said_leased)
					log_info(MOD, "deadline passed but a run uses the project; waiting");
				said_leased = true;
				sleep_wall(st, LEASED_RECHECK_SECS);
				continue;
			}
			said_leased = false;
			if (d.reason == STATE_KEEP_NOT_DUE)
				sleep_wall(st, d.deadline - now); /* the state knows a later deadline */
			if (d.reason == STATE_DELETE_NOW)
				log_info(MOD, "deadline passed: deleting %s '%s' (%lld)", t->kind,
					 target_name(t), (long long)target_hcloud_id(t));
			continue; /* re-read: `deleting` now, or moved, no_reap or gone */
		}
		/* deleting: ours to finish (also after a crashed reaper or down) */
delete:
		rc = target_delete_now(st, &o, t, &backoff, err);
		if (rc < 0)
			goto out;
		if (!rc)
			continue;
		break;
	}
	state_reaper_remove(st, t->kind, t->res, false, &e);
	burst_error_release(&e);
	ret = 0;
out:
	burst_error_release(&e);
	hcloud_free(own_api);
	state_close(own_st);
	free(log);
	return ret;
}

int reaper_run_server(struct burst_state *st, struct hcloud *api,
		      const struct burst_config *cfg, int64_t row_id, struct burst_error *err)
{
	struct target t = { .server = true, .kind = "server", .row_id = row_id };
	int ret;

	t.res = xstrfmt("%lld", (long long)row_id);
	ret = reap(st, api, cfg, &t, err);
	state_server_release(&t.row);
	free(t.res);
	return ret;
}

int reaper_run_volume(struct burst_state *st, struct hcloud *api,
		      const struct burst_config *cfg, const char *project,
		      struct burst_error *err)
{
	struct target t = { .server = false, .kind = "volume" };
	int ret;

	t.res = xstrdup(project);
	ret = reap(st, api, cfg, &t, err);
	state_project_release(&t.p);
	free(t.res);
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

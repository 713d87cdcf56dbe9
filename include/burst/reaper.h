/*
 * reaper.h - the lifecycle of what cargo-burst creates: detached reapers,
 * re-arming, intent reconciliation, orphan sweeps by label and `down`.
 *
 * A reaper is the tool itself, re-executed from /proc/self/exe with a hidden
 * verb (`cargo-burst __reap-server <row id>`, `cargo-burst __reap-volume
 * <project>`, both with `--state-dir DIR`), started detached with
 * proc_spawn_detached() (fork, setsid, fork; output appended to
 * <state dir>/reapers/<kind>-<resource>.log).  There is one reaper per
 * resource: it claims the slot with state_reaper_claim() (pid + start time),
 * so a second one sees the live first one and exits at once.
 *
 * The deadline lives in the database (state_server_touch() and
 * state_project_touch() move it); a reaper sleeps until
 * min(deadline, now + REAPER_MAX_SLEEP_SECS) on the wall clock, re-reads the
 * row and either sleeps again or deletes, via state_server_try_begin_delete()
 * / state_volume_try_begin_delete() (the lease check and the decision in one
 * transaction).  Deleting a server: unmount each attached volume on the
 * server over ssh (best effort, short timeout), detach and await, DELETE and
 * await, event `terminated` reason `reap`, row `deleted`.  Deleting a volume:
 * unmount + detach (if attached), delete, event, project volume cleared.
 * Failed deletes are retried with capped backoff; a reaper exits only when
 * the resource is gone (404 counts) or a human must act (protection,
 * unauthorized...), which it writes to its log and to the state
 * (state_reaper_set_error(needs_human)), so `status` shows it.
 *
 * Only resources labelled managed-by=cargo-burst and owner=<our owner id>
 * are ever touched; everything else is left alone (reapers, sweeps, down).
 *
 * When things happen (all through the dispatcher's CMD_STATE prepare hook,
 * cli_prepare_state() in src/cli/prepare.c, unless noted):
 *  - every invocation with CMD_STATE re-arms missing reapers (no API call);
 *  - a run verb without a usable server (a cold run) first starts a
 *    detached watcher (`__reap-watch PID:START`) that outlives a kill -9 of
 *    the run: when the run is gone it reconciles the run's unfinished
 *    intents and arms every reaper; then it reconciles leftover intents and
 *    sweeps by label, adopting what a lost database forgot, so no second
 *    server is created;
 *  - a warm run reconciles intents only when one is pending (else no call);
 *  - while the state is new (the first one, or after the old one was
 *    deleted or moved aside as corrupt: state_needs_adoption()), any verb
 *    with a token rebuilds the live state from labels;
 *  - `down` reconciles, deletes, and sweeps with REAPER_SWEEP_DELETE_NOW;
 *  - the pipeline calls reaper_arm_all() after every run.
 * A reaper whose database file was replaced (deleted, moved aside) never
 * abandons its resource: it hands it over to the new database (created if
 * need be) with the deadline it knew, and either goes on as its reaper
 * there or, when the new state already knows it, lowers an adopted row's
 * guessed deadline to its own and leaves it to that state's reaper.  A
 * reaper that finds no row of its resource in a new database (it was
 * lost before the reaper opened it) adopts by label at once.  A
 * busy or failing database is retried, never the end of a reaper.  Each
 * reaper (and `down`) talks to the endpoint recorded with its resource.
 *
 * Return convention: 0 on success, -1 with err filled.
 */
#ifndef BURST_REAPER_H
#define BURST_REAPER_H

#include "burst/error.h"
#include "burst/util.h"

#include <sys/types.h>

struct burst_config;
struct burst_state;
struct hcloud;
struct strbuf;

/* A reaper re-reads the database at least this often while it sleeps. */
#define REAPER_MAX_SLEEP_SECS 60
/* A labelled resource the state does not know is deleted after this long. */
#define REAPER_ORPHAN_GRACE_SECS 600
/* Longest pause between two tries of a failed delete. */
#define REAPER_RETRY_CAP_SECS 300

/* ---- arming (cheap: no API call) -------------------------------------- */

/*
 * Make sure every live resource in the state has a live reaper: each
 * server row that is not `deleted` (except --no-reap ones that are not
 * deleting) and each project with a volume.  Missing or dead reapers
 * (pid + start time) are started; live ones are left alone.  Call after
 * every run (success, failure, Ctrl-C) and from every invocation.
 * Never makes an API call.  *started (may be NULL) counts the new ones.
 */
int reaper_arm_all(struct burst_state *st, int *started, struct burst_error *err);
/* Start the reaper of server row row_id unless a live one exists. */
int reaper_arm_server(struct burst_state *st, int64_t row_id, struct burst_error *err);
/* Start the reaper of the project's volume unless a live one exists. */
int reaper_arm_volume(struct burst_state *st, const char *project, struct burst_error *err);
/* The log file of the reaper of (kind, resource) (allocated). */
char *reaper_log_path(struct burst_state *st, const char *kind, const char *resource);

/*
 * Count the live resources that have no running reaper (those
 * reaper_arm_all() would start one for) into *servers and *volumes;
 * no spawn, no API call.
 */
int reaper_count_unreaped(struct burst_state *st, int *servers, int *volumes,
			  struct burst_error *err);
/*
 * Start the detached watcher of the run pid (`__reap-watch PID:START`):
 * when that run is gone (even after a kill -9) it reconciles the run's
 * unfinished intents and arms every reaper.
 */
int reaper_start_watcher(struct burst_state *st, pid_t pid, struct burst_error *err);
/* The endpoint the config names (HCLOUD_DEFAULT_ENDPOINT when none). */
const char *reaper_config_endpoint(const struct burst_config *cfg);

/* ---- talking to the API ----------------------------------------------- */

/*
 * Reconcile unfinished intents (server and volume) with the API by name:
 * found -> intent done and the resource adopted into the state when the
 * state does not know it; not found and older than a grace period ->
 * intent failed.  Runs only when the provisioning lock can be taken at
 * once (a live provisioner's intents are its own).  Cheap when nothing is
 * pending (no API call).
 */
int reaper_reconcile_intents(struct hcloud *api, struct burst_state *st,
			     const struct burst_config *cfg, struct burst_error *err);

/* What a sweep found and did (counts). */
struct reaper_sweep_result {
	int servers_adopted, volumes_adopted;
	int servers_deleted, volumes_deleted;
	int skipped; /* ours but within the grace period or in use */
};

/* Flags of reaper_sweep(). */
#define REAPER_SWEEP_ADOPT 0x1      /* adopt unknown ones (with a deadline) */
#define REAPER_SWEEP_DELETE_NOW 0x2 /* delete unknown ones (down), no grace */

/*
 * Find servers and volumes labelled managed-by=cargo-burst,owner=<ours>
 * that the state does not know.  With REAPER_SWEEP_ADOPT a server is
 * recorded as the current server (when there is none) and a volume as its
 * project's volume (when the project has none), with a deadline, and
 * their reapers armed; others are deleted once older than
 * REAPER_ORPHAN_GRACE_SECS (DELETE_NOW: at once).  Never touches a resource
 * without our labels.  Deletions print one line each through `report`
 * (may be NULL).
 */
int reaper_sweep(struct hcloud *api, struct burst_state *st, const struct burst_config *cfg,
		 unsigned flags, struct reaper_sweep_result *res, struct strbuf *report,
		 struct burst_error *err);

/* ---- the reapers' main loops (hidden verbs) --------------------------- */

/*
 * Run the reaper of server row row_id until the server is gone, or a human
 * must act.  Returns 0 when there is nothing left to do (including: another
 * live reaper holds the slot, --no-reap is set), -1 + err otherwise.
 */
int reaper_run_server(struct burst_state *st, struct hcloud *api,
		      const struct burst_config *cfg, int64_t row_id, struct burst_error *err);
/* Run the reaper of the project's volume (see reaper_run_server). */
int reaper_run_volume(struct burst_state *st, struct hcloud *api,
		      const struct burst_config *cfg, const char *project,
		      struct burst_error *err);

/*
 * The run watcher (`__reap-watch PID:START`, started before a cold run):
 * wait until that process is gone (normal end or kill -9), then reconcile
 * its unfinished intents and arm every missing reaper.
 */
int reaper_run_watch(struct burst_state *st, struct hcloud *api,
		     const struct burst_config *cfg, pid_t pid, uint64_t start,
		     struct burst_error *err);

/* ---- deleting now ------------------------------------------------------ */

/*
 * Delete one server of ours now (the reapers' own routine: our volumes on
 * it unmounted when it answers, detached and awaited, then DELETE and
 * await).  Refuses a server without our labels; a server already gone is
 * done.  cfg may be NULL (ssh defaults).  Records nothing: the caller
 * records the termination its own way.
 */
int reaper_delete_server_now(struct burst_state *st, struct hcloud *api,
			     const struct burst_config *cfg, const char *reason,
			     int64_t hcloud_id, struct burst_error *err);

/* Flags of reaper_down(). */
#define REAPER_DOWN_VOLUMES 0x1 /* also delete every project volume */
#define REAPER_DOWN_FORCE 0x2   /* ignore live leases (runs in progress) */

/*
 * `cargo burst down`: delete our server (volumes unmounted and detached
 * first) and with REAPER_DOWN_VOLUMES every volume of ours, awaiting the
 * actions, recording reason `down`; then delete labelled resources of ours
 * that the state forgot.  One line per deleted resource is appended to
 * report; *deleted counts them.  Refuses (-1) while runs hold leases unless
 * REAPER_DOWN_FORCE.
 */
int reaper_down(struct burst_state *st, struct hcloud *api, const struct burst_config *cfg,
		unsigned flags, struct strbuf *report, int *deleted, struct burst_error *err);

#endif

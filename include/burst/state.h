/*
 * state.h - the local state of cargo-burst in SQLite.
 *
 * One database at $XDG_STATE_HOME/cargo-burst/state.db (default
 * ~/.local/state/cargo-burst/, directory 0700) holds the live state (image,
 * server, per-project volumes), intents, leases, reaper records, lifecycle
 * events and the run log.  WAL, busy_timeout 10 s, foreign keys, PRAGMA
 * user_version migrations.  A connection (struct burst_state) belongs to one
 * process and one thread at a time (SQLite "multi-thread" mode): never use
 * it across fork() or from two threads at once; open another one instead.
 *
 * Return convention: 0 on success, -1 with err filled (BURST_EXIT_STATE,
 * unless noted).  Lookup functions return 1 = found, 0 = not found, -1 =
 * error.  All times are UNIX seconds (wall clock) unless the name says ms.
 * Strings in the structs below are heap copies owned by the struct; release
 * them with the matching *_release() (safe on a zeroed struct, and twice).
 *
 * The delete/lease protocol (why a reaper never deletes a server in use):
 *   run:    state_lease_acquire() -> 0 (server usable) or STATE_SERVER_GOING
 *           (a reaper decided to delete it: provision a new one instead)
 *   reaper: state_server_try_begin_delete() -> decision.delete; when true the
 *           row is already `deleting`, so every later lease_acquire fails.
 * Both run in one BEGIN IMMEDIATE transaction, so they serialise.
 */
#ifndef BURST_STATE_H
#define BURST_STATE_H

#include <stdio.h>
#include <sys/types.h>

#include "burst/error.h"
#include "burst/util.h"

struct burst_state;

/* Schema version this build writes (PRAGMA user_version). */
#define STATE_SCHEMA_VERSION 3
/*
 * A lease without a heartbeat for this long is dead, unless its holder is
 * alive with the start time it recorded (a stopped run keeps its lease).
 */
#define STATE_LEASE_TTL_SECS 90
/*
 * ... but for at most this long after its last heartbeat: a run stopped
 * with Ctrl-Z and never continued cannot keep its server (and the bill)
 * forever.  (A running run that makes no progress stops renewing and
 * releases its lease sooner: pipeline's HEARTBEAT_STALL_SECS.)
 */
#define STATE_LEASE_HOLD_SECS 14400
/*
 * A server row still `provisioning` is not reaped before created_at + this,
 * whatever its deadline says (the provisioning run may not hold a lease on
 * the row yet); `down` (STATE_DELETE_IGNORE_DEADLINE) ignores it.
 */
#define STATE_PROVISION_GRACE_SECS 1800
/* Length of the owner id (hex digits). */
#define STATE_OWNER_ID_LEN 12

/* Extra return codes (> 0, not errors; err stays empty). */
enum {
	STATE_SERVER_GOING = 1, /* server is deleting/deleted/unknown */
	STATE_VOLUME_GOING = 2, /* the project's volume is being deleted */
	STATE_LOCK_TIMEOUT = 3, /* provisioning lock not taken in time */
};

/* ---- opening ---------------------------------------------------------- */

/*
 * Open (create, migrate) the database in dir, or in the default directory
 * when dir is NULL.  A newer schema is refused; a corrupt database is moved
 * aside to state.db.corrupt-<UTC timestamp> (with -wal/-shm), a warning is
 * printed with ui_warn() and a fresh database is created: check
 * state_was_reset() and rebuild the live state from labels.
 */
int state_open(const char *dir, struct burst_state **out, struct burst_error *err);
/* Close the database and release the provisioning lock if held; NULL ok. */
void state_close(struct burst_state *st);
/* The state directory of an open database. */
const char *state_dir(const struct burst_state *st);
/* The full path of state.db. */
const char *state_db_path(const struct burst_state *st);
/* PRAGMA quick_check now (`doctor`): 0 ok, 1 corrupt, -1 could not check. */
int state_quick_check(struct burst_state *st);
/* Was a corrupt database moved aside when this one was opened? */
bool state_was_reset(const struct burst_state *st);
/* Where the corrupt database went (NULL unless state_was_reset()). */
const char *state_reset_path(const struct burst_state *st);
/*
 * Does the state still have to adopt our resources by label?  Set when a
 * database is created (the first one, or after the old one was deleted or
 * moved aside as corrupt) and kept until state_adoption_done(), so the
 * first command that has a token rebuilds the state from labels.
 */
bool state_needs_adoption(struct burst_state *st);
/* A sweep with a token adopted what the labels say: clear the mark. */
int state_adoption_done(struct burst_state *st, struct burst_error *err);
/*
 * The API endpoint recorded with every server row and project volume
 * written through this connection that names none itself (NULL: none).
 * The token is never recorded.
 */
void state_set_endpoint(struct burst_state *st, const char *endpoint);
/* The endpoint set with state_set_endpoint(), or NULL. */
const char *state_endpoint(const struct burst_state *st);
/*
 * The owner id put in the `owner=<id>` label of every resource: 12 hex of
 * SHA-256(machine-id or hostname, uid, state dir).  Deterministic, so it
 * survives the loss of the database file.
 */
const char *state_owner_id(const struct burst_state *st);
/* Compute the owner id for a state directory without opening it (out: 13 bytes). */
void state_compute_owner_id(const char *dir, char out[STATE_OWNER_ID_LEN + 1]);
/* Short project id: 12 hex of SHA-256 of the (absolute) workspace root. */
void state_project_id(const char *root, char out[STATE_OWNER_ID_LEN + 1]);
/* Clock used for all "now" values; tests may set BURST_STATE_NOW (UNIX s). */
int64_t state_now(void);

/* ---- process identity ------------------------------------------------- */

/* Start time of pid (field 22 of /proc/<pid>/stat, clock ticks); 0 if gone. */
uint64_t state_pid_start_time(pid_t pid);
/* Is pid alive and (when start != 0) still the same process? */
bool state_pid_alive(pid_t pid, uint64_t start);

/* ---- provisioning lock ------------------------------------------------ */

/*
 * Take the provisioning lock (flock on <dir>/provision.lock; the kernel
 * drops it when the holder dies).  While waiting, prints once
 * "Blocking waiting for another cargo-burst (pid N) that is provisioning".
 * Returns 0 when held, STATE_LOCK_TIMEOUT after timeout_ms (err filled,
 * BURST_EXIT_STATE), -1 on error (BURST_EXIT_INTERRUPTED when a signal was
 * caught while waiting: proc_signals_caught()).  Re-entrant within one
 * connection.
 */
int state_lock_provision(struct burst_state *st, int timeout_ms, struct burst_error *err);
/* Release one level of the provisioning lock. */
void state_unlock_provision(struct burst_state *st);
/* Pid recorded by the current holder of the provisioning lock (0 if none). */
pid_t state_provision_lock_holder(struct burst_state *st);

/* ---- image ------------------------------------------------------------ */

struct state_image {
	int64_t hcloud_id;
	int64_t created_at;
	char *version;     /* our image version label, or NULL */
	char *labels_json; /* labels as a JSON object, or NULL */
};
/* Free the strings of an image record. */
void state_image_release(struct state_image *img);
/* The known image: 1 found, 0 none, -1 error. */
int state_image_get(struct burst_state *st, struct state_image *out, struct burst_error *err);
/* Record the image (replaces the previous one). */
int state_image_set(struct burst_state *st, const struct state_image *img, struct burst_error *err);
/* Forget the image. */
int state_image_clear(struct burst_state *st, struct burst_error *err);

/* ---- server ----------------------------------------------------------- */

enum state_server_status {
	STATE_SERVER_PROVISIONING = 0,
	STATE_SERVER_READY,
	STATE_SERVER_DELETING,
	STATE_SERVER_DELETED,
};
/* "provisioning", "ready", "deleting", "deleted". */
const char *state_server_status_name(enum state_server_status s);

struct state_server {
	int64_t id;        /* row id (stable key for leases and reapers) */
	int64_t hcloud_id; /* 0 until known */
	char *name, *ip, *location, *server_type;
	int64_t image_id;
	char *host_key_pub;  /* pinned host public key line */
	char *host_key_path; /* known_hosts file we wrote, or NULL */
	int64_t created_at;
	enum state_server_status status;
	int64_t last_activity;
	int64_t keep_alive_secs;
	bool no_reap;
	int64_t deadline;      /* stored reap deadline (state_server_touch) */
	int64_t billing_start; /* start of billing (usually created_at) */
	char *endpoint;        /* API endpoint it lives on; NULL: state_endpoint() */
	bool adopted;          /* adopted by label, no run since (deadline is a guess) */
	char *arch;            /* the API's (config_server_arch()): "x86", "arm64" or
				  "unknown"; NULL when not recorded (state_server_arch()) */
};
/* Free the strings of a server record. */
void state_server_release(struct state_server *srv);
/*
 * The architecture of a server row: "x86", "arm64" or "unknown" (used by
 * no run) as recorded from the API; a row without one (from before it was
 * recorded) has its type name's (config_type_arch()).
 */
const char *state_server_arch(const struct state_server *srv);
/*
 * Insert a server row (srv->id is set).  created_at/last_activity/
 * billing_start default to now when 0; deadline defaults to
 * last_activity + keep_alive_secs.
 */
int state_server_insert(struct burst_state *st, struct state_server *srv, struct burst_error *err);
/* Rewrite every column of the row srv->id from srv. */
int state_server_update(struct burst_state *st, const struct state_server *srv, struct burst_error *err);
/* Set only the status of row id. */
int state_server_set_status(struct burst_state *st, int64_t id, enum state_server_status status,
			    struct burst_error *err);
/*
 * The extra servers of `cargo burst test --shards` carry this name prefix:
 * they are reaped like any server row but are never the current server.
 */
#define STATE_SHARD_NAME_PREFIX "cargo-burst-shard-"
/* The newest server not `deleted` (any other status), shards excepted: 1, 0 none, -1. */
int state_server_current(struct burst_state *st, struct state_server *out, struct burst_error *err);
/* Look a server row up by row id: 1, 0, -1. */
int state_server_get(struct burst_state *st, int64_t id, struct state_server *out, struct burst_error *err);
/* Look the newest row with this Hetzner id up: 1, 0, -1. */
int state_server_by_hcloud_id(struct burst_state *st, int64_t hcloud_id, struct state_server *out,
			      struct burst_error *err);
/* All rows not `deleted` (for reapers and sweeps); free with state_servers_free. */
int state_server_list_live(struct burst_state *st, struct state_server **out, size_t *n,
			   struct burst_error *err);
/* Free an array from state_server_list_live. */
void state_servers_free(struct state_server *v, size_t n);
/*
 * A run used the server: last_activity = now, persist keep_alive and
 * no_reap, and store the new deadline computed by state_server_deadline().
 * Returns STATE_SERVER_GOING (nothing changed) when it is deleting/deleted.
 */
int state_server_touch(struct burst_state *st, int64_t id, int64_t now, int64_t keep_alive_secs,
		       bool no_reap, bool billing_hour_hold, int64_t margin_secs, struct burst_error *err);
/*
 * Pure: the reap deadline d = last_activity + keep_alive.  With hold, moved
 * to margin before the end of the billed hour in which d falls
 * (created_at + k*3600 - margin, k >= 1 the first with created_at + k*3600
 * >= d), but never earlier than d: when d is already inside the margin it
 * stands, since holding would only buy another hour.
 */
int64_t state_server_deadline(int64_t created_at, int64_t last_activity, int64_t keep_alive,
			      bool hold, int64_t margin);
/* Paid through: created_at + ceil(max(uptime,1s)/3600)*3600. */
int64_t state_server_paid_through(int64_t created_at, int64_t now);

/* ---- projects and volumes --------------------------------------------- */

enum state_volume_status {
	STATE_VOLUME_NONE = 0, /* no volume recorded */
	STATE_VOLUME_READY,
	STATE_VOLUME_DELETING,
};

struct state_project {
	char *id;   /* state_project_id(root) */
	char *root; /* absolute workspace root */
	char *name;
	int64_t volume_hcloud_id; /* 0 = none */
	char *volume_name;
	char *location;
	int64_t size_gb;
	enum state_volume_status volume_status;
	int64_t last_used;
	int64_t volume_keep_alive;
	int64_t volume_deadline; /* last_used + volume_keep_alive */
	char *excludes;          /* excludes answers, free text */
	char *volume_endpoint;   /* API endpoint of the volume; NULL: state_endpoint() */
	bool volume_adopted;     /* adopted by label, no run since */
};
/* Free the strings of a project record. */
void state_project_release(struct state_project *p);
/* Look a project up by id: 1, 0, -1. */
int state_project_get(struct burst_state *st, const char *id, struct state_project *out,
		      struct burst_error *err);
/* Insert or replace the project row p->id with every field of p. */
int state_project_put(struct burst_state *st, const struct state_project *p, struct burst_error *err);
/* All projects, ordered by id; free with state_projects_free. */
int state_project_list(struct burst_state *st, struct state_project **out, size_t *n,
		       struct burst_error *err);
/* Free an array from state_project_list. */
void state_projects_free(struct state_project *v, size_t n);
/*
 * Record the project's volume (status ready).  Creates the project row
 * (with root = name = NULL) when missing.
 */
int state_project_set_volume(struct burst_state *st, const char *id, int64_t volume_hcloud_id,
			     const char *volume_name, const char *location, int64_t size_gb,
			     struct burst_error *err);
/* Forget the project's volume (after it was deleted). */
int state_project_clear_volume(struct burst_state *st, const char *id, struct burst_error *err);
/*
 * A run used the project: last_used = now, volume_deadline = now + keep.
 * Returns STATE_VOLUME_GOING (nothing changed) when the volume is deleting.
 */
int state_project_touch(struct burst_state *st, const char *id, int64_t now,
			int64_t volume_keep_alive, struct burst_error *err);
/* Mark the project's volume as adopted by label (until the next touch). */
int state_volume_mark_adopted(struct burst_state *st, const char *id, struct burst_error *err);

/* ---- handing over to a new database ------------------------------------ */

/*
 * A reaper whose database was replaced (deleted, moved aside) hands its
 * resource over to the new one, in one transaction.  A server row: when
 * the new state knows the server (same Hetzner id, not deleted) it is
 * *taken = true, *row_id its row, and an adopted row's deadline is lowered
 * to old->deadline (adoption never extends a life the old state had
 * bounded); otherwise a copy of old (deadline, endpoint and all) is
 * inserted, *taken = false, *row_id the new row.
 */
int state_server_handover(struct burst_state *st, const struct state_server *old,
			  int64_t *row_id, bool *taken, struct burst_error *err);
/*
 * The same for a project's volume: 1 = the new state knows it (*taken,
 * deadline lowered if adopted) or now records it (!*taken); 0 = the new
 * state has another volume for the project (nothing changed: the old
 * reaper keeps its resource and deadline itself).
 */
int state_volume_handover(struct burst_state *st, const struct state_project *old, bool *taken,
			  struct burst_error *err);

/* ---- intents ---------------------------------------------------------- */

enum state_intent_kind {
	STATE_INTENT_SERVER = 0,
	STATE_INTENT_VOLUME,
	STATE_INTENT_SSH_KEY,
	STATE_INTENT_IMAGE,
};
enum state_intent_state { STATE_INTENT_PENDING = 0, STATE_INTENT_DONE, STATE_INTENT_FAILED };
/* "server", "volume", "ssh_key", "image". */
const char *state_intent_kind_name(enum state_intent_kind k);

struct state_intent {
	int64_t id;
	enum state_intent_kind kind;
	char *name;        /* the resource name sent in the create call */
	char *labels_json; /* the labels sent, JSON object */
	int64_t created_at, done_at;
	int64_t hcloud_id; /* 0 unless done */
	enum state_intent_state state;
	char *error; /* failure message, or NULL */
};
/* Free the strings of an intent. */
void state_intent_release(struct state_intent *in);
/* Record the intent to create a resource, before the create call. */
int state_intent_begin(struct burst_state *st, enum state_intent_kind kind, const char *name,
		       const char *labels_json, int64_t *intent_id, struct burst_error *err);
/* The create call succeeded (or the resource was found by name). */
int state_intent_done(struct burst_state *st, int64_t intent_id, int64_t hcloud_id,
		      struct burst_error *err);
/* The create call failed for sure (nothing was created); message may be NULL. */
int state_intent_failed(struct burst_state *st, int64_t intent_id, const char *message,
			struct burst_error *err);
/* Pending intents, oldest first, to reconcile with the API by name. */
int state_intents_pending(struct burst_state *st, struct state_intent **out, size_t *n,
			  struct burst_error *err);
/* Free an array of intents. */
void state_intents_free(struct state_intent *v, size_t n);

/* ---- leases ----------------------------------------------------------- */

/*
 * Take a lease for this process on the project (may be NULL) and server row
 * server_id (0 = no server yet).  One BEGIN IMMEDIATE transaction: returns
 * STATE_SERVER_GOING when the server row is deleting/deleted/missing and
 * STATE_VOLUME_GOING when the project's volume is deleting (no lease taken).
 */
int state_lease_acquire(struct burst_state *st, const char *project, int64_t server_id,
			int64_t *lease_id, struct burst_error *err);
/* Attach a lease to a server row (after provisioning); same checks as acquire. */
int state_lease_set_server(struct burst_state *st, int64_t lease_id, int64_t server_id,
			   struct burst_error *err);
/* Keep the lease alive (expires_at = now + STATE_LEASE_TTL_SECS). */
int state_lease_heartbeat(struct burst_state *st, int64_t lease_id, struct burst_error *err);
/* Drop the lease. */
int state_lease_release(struct burst_state *st, int64_t lease_id, struct burst_error *err);
/*
 * Count live leases (pid alive with the same start time and a heartbeat
 * within STATE_LEASE_HOLD_SECS, or the heartbeat not expired when that
 * start time is unknown) on server row server_id
 * (0 = any) and project (NULL = any).
 */
int state_lease_count_live(struct burst_state *st, int64_t server_id, const char *project,
			   int64_t *count, struct burst_error *err);
/* Delete lease rows that are no longer live. */
int state_lease_prune(struct burst_state *st, struct burst_error *err);

/* ---- delete decisions (reaper, down) ---------------------------------- */

enum state_keep_reason {
	STATE_DELETE_NOW = 0,  /* delete: row is now `deleting` */
	STATE_KEEP_LEASED,     /* a live lease uses it */
	STATE_KEEP_NO_REAP,    /* --no-reap is set */
	STATE_KEEP_NOT_DUE,    /* deadline not reached (see decision.deadline) */
	STATE_KEEP_GONE,       /* already deleting/deleted/no volume */
};
struct state_delete_decision {
	bool do_delete;
	enum state_keep_reason reason;
	int64_t deadline;    /* the deadline re-read in the transaction */
	int64_t live_leases;
};
/* Flags for the try_begin_delete functions. */
#define STATE_DELETE_IGNORE_DEADLINE 0x1 /* down: ignore deadline and no_reap */
#define STATE_DELETE_IGNORE_LEASES 0x2   /* down --force: ignore leases too */
/*
 * Decide, in one BEGIN IMMEDIATE transaction, whether to delete server row
 * server_id: no live lease, no_reap unset, deadline <= now (re-read here;
 * for a `provisioning` row at least created_at + STATE_PROVISION_GRACE_SECS).
 * On yes the row becomes `deleting` before the commit.
 */
int state_server_try_begin_delete(struct burst_state *st, int64_t server_id, int64_t now,
				  unsigned flags, struct state_delete_decision *d,
				  struct burst_error *err);
/* Same for the volume of a project (no live lease on the project). */
int state_volume_try_begin_delete(struct burst_state *st, const char *project, int64_t now,
				  unsigned flags, struct state_delete_decision *d,
				  struct burst_error *err);

/* ---- reaper records --------------------------------------------------- */

struct state_reaper {
	char *kind;     /* "server" or "volume" */
	char *resource; /* server row id as text, or project id */
	pid_t pid;
	uint64_t pid_start;
	int64_t deadline;
	char *log_path;
	char *last_error;  /* last failure, or NULL */
	bool needs_human;  /* the reaper gave up: a human must act */
	int64_t updated_at;
};
/* Free the strings of a reaper record. */
void state_reaper_release(struct state_reaper *r);
/*
 * Claim the reaper slot for (kind, resource) for this process, in one
 * transaction: *claimed = false when another live process holds it.
 */
int state_reaper_claim(struct burst_state *st, const char *kind, const char *resource,
		       int64_t deadline, const char *log_path, bool *claimed, struct burst_error *err);
/* Look the reaper of (kind, resource) up: 1, 0, -1. */
int state_reaper_get(struct burst_state *st, const char *kind, const char *resource,
		     struct state_reaper *out, struct burst_error *err);
/* Is a live process the reaper of (kind, resource)? */
bool state_reaper_alive(struct burst_state *st, const char *kind, const char *resource);
/* Update the deadline the reaper sleeps until. */
int state_reaper_set_deadline(struct burst_state *st, const char *kind, const char *resource,
			      int64_t deadline, struct burst_error *err);
/* Record a failure (message may be NULL to clear) and whether a human must act. */
int state_reaper_set_error(struct burst_state *st, const char *kind, const char *resource,
			   const char *message, bool needs_human, struct burst_error *err);
/* Remove the record (only when held by this process, or by anyone if any). */
int state_reaper_remove(struct burst_state *st, const char *kind, const char *resource, bool any,
			struct burst_error *err);

/* ---- events and runs -------------------------------------------------- */

/*
 * Event kinds: "provisioned", "terminated", "adopted", "attached",
 * "detached", "reaper_armed", "delete_failed" (free text is allowed).
 * Reasons for terminated: "reap", "down", "stale", "orphaned", "failed".
 * For servers resource_id is the Hetzner id; audit pairs provisioned and
 * terminated events of resource_kind "server"/"volume" by resource_id.
 */
struct state_event {
	int64_t ts;                /* 0 = now */
	const char *kind;
	const char *resource_kind; /* "server", "volume", "image", "ssh_key" */
	int64_t resource_id;       /* Hetzner id */
	const char *resource_name; /* may be NULL */
	const char *reason;        /* may be NULL */
	int64_t size_gb;           /* volumes: size, for GB-months; else 0 */
	const char *details;       /* free text or JSON, may be NULL */
};
/* Append an event. */
int state_event_add(struct burst_state *st, const struct state_event *ev, struct burst_error *err);
/*
 * Append an event of these fields, best effort: a failure is only logged
 * (the one event writer of provision, the reapers and the bake).
 */
void state_event_note(struct burst_state *st, const char *kind, const char *rkind,
		      int64_t id, const char *name, const char *reason, const char *details);

struct state_run_result {
	bool cold; /* this run provisioned the server */
	bool success;
	int exit_code;
	bool interrupted;
	int64_t provision_ms, sync_ms, cargo_ms, fetch_ms, wall_ms;
	int64_t server_hcloud_id;
};
/* Record the start of a run (started_at = now); project may be NULL. */
int state_run_begin(struct burst_state *st, const char *verb, const char *project, int64_t *run_id,
		    struct burst_error *err);
/* Record the end of a run (finished_at = now) with its phases. */
int state_run_finish(struct burst_state *st, int64_t run_id, const struct state_run_result *res,
		     struct burst_error *err);

/* ---- status ----------------------------------------------------------- */

struct state_status_project {
	struct state_project project;
	bool has_reaper;
	struct state_reaper reaper;
	bool reaper_alive;
	int64_t live_leases;
};
struct state_lease_info {
	int64_t id;
	pid_t pid;
	char *project; /* or NULL */
	int64_t server_id; /* row id, 0 = none yet */
	int64_t heartbeat_at, expires_at;
};
struct state_status_server {
	struct state_server server;
	int64_t paid_through;
	bool has_reaper;
	struct state_reaper reaper;
	bool reaper_alive;
};
struct state_status {
	int64_t now;
	bool has_image;
	struct state_image image;
	/* the current server (state_server_current()): a run's default */
	bool has_server;
	struct state_server server;
	int64_t server_paid_through;
	bool has_server_reaper;
	struct state_reaper server_reaper;
	bool server_reaper_alive;
	/* every server not deleted, oldest first (both architectures, shards) */
	struct state_status_server *servers;
	size_t nservers;
	struct state_status_project *projects;
	size_t nprojects;
	int64_t runs_in_progress; /* live leases */
	int64_t pending_intents;
	struct state_lease_info *leases; /* the live leases, oldest first */
	size_t nleases;
};
/* Gather everything `status` shows. */
int state_status_query(struct burst_state *st, struct state_status *out, struct burst_error *err);
/* Free a state_status. */
void state_status_release(struct state_status *s);
/*
 * The version of `status --json` and `audit --json` (their "schema" field):
 * raised when a field changes meaning or goes away, not when one is added.
 */
#define STATE_STATUS_JSON_SCHEMA 1
#define STATE_AUDIT_JSON_SCHEMA 1

/* ---- audit ------------------------------------------------------------ */

struct state_phase_stats {
	int64_t n;
	double mean_ms, p50_ms, p95_ms;
};
struct state_run_class { /* cold or warm runs */
	int64_t n;
	struct state_phase_stats provision, sync, cargo, fetch, wall;
};
struct state_verb_stats {
	char *verb;
	int64_t n, failures;
	double mean_wall_ms, mean_cargo_ms;
};
#define STATE_WHATIF_N 5 /* keep-alive 0, 5, 15, 30, 60 min */
struct state_whatif {
	int64_t keep_alive_secs;
	int64_t provisions;
	double server_hours; /* exact */
	int64_t billed_hours; /* each lifetime rounded up to whole hours */
};
struct state_audit {
	int64_t now;
	int64_t runs_total, runs_finished, runs_failed, runs_interrupted;
	/* sessions: server lifetimes (provisioned .. terminated or now) */
	int64_t sessions, sessions_open;
	double lifetime_mean_s, lifetime_median_s;
	double commands_per_session;
	int64_t term_reap, term_down, term_stale, term_orphaned, term_failed, term_other;
	/* churn: provisions that followed a termination within 10/30/60 min */
	int64_t churn_10m, churn_30m, churn_60m;
	struct state_whatif whatif[STATE_WHATIF_N];
	/* cost */
	int64_t billed_server_hours; /* sum of ceil(lifetime hours) */
	double server_hours;
	double volume_gb_months;      /* GB * lifetime / 730 h */
	bool has_rate;
	double rate_eur_per_hour;
	double volume_eur_per_gb_month;
	double server_cost_eur, volume_cost_eur;
	/* cold vs warm */
	struct state_run_class cold, warm;
	/* where the wall time went (shares of total wall time, 0..1) */
	double share_provision, share_sync, share_cargo, share_fetch, share_other;
	struct state_verb_stats *verbs;
	size_t nverbs;
	char currency[8]; /* of the prices: "EUR" unless set */
};
/* Hetzner volume price used by the cost model (EUR per GB-month, net). */
#define STATE_VOLUME_EUR_PER_GB_MONTH 0.044
/* Compute the audit; rate < 0 means no hourly server rate known. */
int state_audit_query(struct burst_state *st, double rate_eur_per_hour, struct state_audit *out,
		      struct burst_error *err);
/* Free a state_audit. */
void state_audit_release(struct state_audit *a);

/*
 * Prices for the cost model, e.g. from GET /pricing (net): the hourly
 * price of the server type (< 0: unknown), the volume price per GB-month
 * (< 0: STATE_VOLUME_EUR_PER_GB_MONTH) and the currency (NULL: "EUR").
 * The model bills every started hour (it ignores the monthly cap).
 */
struct state_prices {
	double server_per_hour;
	double volume_per_gb_month;
	const char *currency;
};
/* Apply prices to a computed audit (recomputes the costs). */
void state_audit_set_prices(struct state_audit *a, const struct state_prices *p);

/* ---- tests and benchmarks --------------------------------------------- */

/*
 * Insert n_runs synthetic runs plus the server sessions (provisioned /
 * terminated events) they imply, deterministically from seed.
 */
int state_debug_synthesize(struct burst_state *st, int64_t n_runs, uint64_t seed,
			   struct burst_error *err);
/* The raw SQLite handle (sqlite3 *), for tests and one-off queries. */
void *state_sqlite(struct burst_state *st);

#endif

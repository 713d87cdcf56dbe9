/*
 * events.c - the append-only rows: lifecycle events and runs.
 */
#include <stdlib.h>
#include <string.h>

#include "burst/log.h"
#include "state-int.h"

#define MOD "state"

/* ---- events and runs -------------------------------------------------- */

int state_event_add(struct burst_state *st, const struct state_event *ev, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (!ev->kind)
		return burst_error_set(err, BURST_EXIT_INTERNAL, "event without a kind");
	if (st_prepare(st, "INSERT INTO events(ts, kind, resource_kind, resource_id,"
			   " resource_name, reason, size_gb, details) VALUES (?,?,?,?,?,?,?,?)",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, ev->ts ? ev->ts : state_now());
	st_bind_text(s, 2, ev->kind);
	st_bind_text(s, 3, ev->resource_kind);
	sqlite3_bind_int64(s, 4, ev->resource_id);
	st_bind_text(s, 5, ev->resource_name);
	st_bind_text(s, 6, ev->reason);
	if (ev->size_gb)
		sqlite3_bind_int64(s, 7, ev->size_gb);
	st_bind_text(s, 8, ev->details);
	return st_step_done(st, s, "recording an event", err);
}

void state_event_note(struct burst_state *st, const char *kind, const char *rkind,
		      int64_t id, const char *name, const char *reason, const char *details)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct state_event ev = { 0 };

	ev.kind = kind;
	ev.resource_kind = rkind;
	ev.resource_id = id;
	ev.resource_name = name;
	ev.reason = reason;
	ev.details = details;
	if (state_event_add(st, &ev, &e) < 0)
		log_warn(MOD, "recording a %s event: %s", kind, e.message ? e.message : "");
	burst_error_release(&e);
}

int state_run_begin(struct burst_state *st, const char *verb, const char *project, int64_t *run_id,
		    struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "INSERT INTO runs(started_at, verb, project) VALUES (?,?,?)", &s,
		       err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, state_now());
	st_bind_text(s, 2, verb ? verb : "?");
	st_bind_text(s, 3, project);
	if (st_step_done(st, s, "recording the run", err) < 0)
		return -1;
	*run_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int state_run_finish(struct burst_state *st, int64_t run_id, const struct state_run_result *r,
		     struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE runs SET finished_at=?, cold=?, success=?, exit_code=?,"
			   " interrupted=?, provision_ms=?, sync_ms=?, cargo_ms=?, fetch_ms=?,"
			   " wall_ms=?, server_hcloud_id=? WHERE id=?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, state_now());
	sqlite3_bind_int(s, 2, r->cold);
	sqlite3_bind_int(s, 3, r->success);
	sqlite3_bind_int(s, 4, r->exit_code);
	sqlite3_bind_int(s, 5, r->interrupted);
	sqlite3_bind_int64(s, 6, r->provision_ms);
	sqlite3_bind_int64(s, 7, r->sync_ms);
	sqlite3_bind_int64(s, 8, r->cargo_ms);
	sqlite3_bind_int64(s, 9, r->fetch_ms);
	sqlite3_bind_int64(s, 10, r->wall_ms);
	if (r->server_hcloud_id)
		sqlite3_bind_int64(s, 11, r->server_hcloud_id);
	sqlite3_bind_int64(s, 12, run_id);
	if (st_step_done(st, s, "recording the run result", err) < 0)
		return -1;
	if (!sqlite3_changes(st->db))
		return burst_error_set(err, BURST_EXIT_STATE, "no run with id %lld",
				       (long long)run_id);
	return 0;
}

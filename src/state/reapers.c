/*
 * reapers.c - the reaper rows: one slot per resource, its pid, deadline
 * and last error.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/log.h"
#include "state-int.h"

/* ---- reapers ---------------------------------------------------------- */

void state_reaper_release(struct state_reaper *r)
{
	FREE_AND_NULL(r->kind);
	FREE_AND_NULL(r->resource);
	FREE_AND_NULL(r->log_path);
	FREE_AND_NULL(r->last_error);
}

int state_reaper_claim(struct burst_state *st, const char *kind, const char *resource,
		       int64_t deadline, const char *log_path, bool *claimed,
		       struct burst_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*claimed = false;
	if (st_begin(st, err) < 0)
		return -1;
	if (st_prepare(st, "SELECT pid, pid_start FROM reapers WHERE kind=? AND resource=?", &s,
		       err) < 0)
		goto fail;
	st_bind_text(s, 1, kind);
	st_bind_text(s, 2, resource);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		pid_t pid = (pid_t)sqlite3_column_int64(s, 0);
		uint64_t start = (uint64_t)sqlite3_column_int64(s, 1);

		if (!(pid == st->pid && start == st->pid_start) && state_pid_alive(pid, start)) {
			sqlite3_finalize(s);
			st_rollback(st);
			return 0;
		}
	} else if (rc != SQLITE_DONE) {
		st_dberr(st, err, "reading the reaper record");
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (st_prepare(st, "INSERT OR REPLACE INTO reapers(kind, resource, pid, pid_start,"
			   " deadline, log_path, last_error, needs_human, updated_at)"
			   " VALUES (?,?,?,?,?,?,NULL,0,?)", &s, err) < 0)
		goto fail;
	st_bind_text(s, 1, kind);
	st_bind_text(s, 2, resource);
	sqlite3_bind_int64(s, 3, st->pid);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)st->pid_start);
	sqlite3_bind_int64(s, 5, deadline);
	st_bind_text(s, 6, log_path);
	sqlite3_bind_int64(s, 7, state_now());
	if (sqlite3_step(s) != SQLITE_DONE) {
		st_dberr(st, err, "recording the reaper");
		goto fail;
	}
	sqlite3_finalize(s);
	if (st_commit(st, err) < 0)
		return -1;
	*claimed = true;
	return 0;
fail:
	sqlite3_finalize(s);
	st_rollback(st);
	return -1;
}

static void reaper_from_row(sqlite3_stmt *s, void *o)
{
	struct state_reaper *out = o;

	out->kind = st_col_str(s, 0);
	out->resource = st_col_str(s, 1);
	out->pid = (pid_t)sqlite3_column_int64(s, 2);
	out->pid_start = (uint64_t)sqlite3_column_int64(s, 3);
	out->deadline = sqlite3_column_int64(s, 4);
	out->log_path = st_col_str(s, 5);
	out->last_error = st_col_str(s, 6);
	out->needs_human = sqlite3_column_int(s, 7) != 0;
	out->updated_at = sqlite3_column_int64(s, 8);
}

int state_reaper_get(struct burst_state *st, const char *kind, const char *resource,
		     struct state_reaper *out, struct burst_error *err)
{
	sqlite3_stmt *s;

	memset(out, 0, sizeof(*out));
	if (st_prepare(st, "SELECT kind, resource, pid, pid_start, deadline, log_path,"
			   " last_error, needs_human, updated_at FROM reapers"
			   " WHERE kind=? AND resource=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, kind);
	st_bind_text(s, 2, resource);
	return st_get_one(st, s, reaper_from_row, out, "reading the reaper record", err);
}

bool state_reaper_alive(struct burst_state *st, const char *kind, const char *resource)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_reaper r;
	bool alive = false;

	if (state_reaper_get(st, kind, resource, &r, &err) == 1)
		alive = state_pid_alive(r.pid, r.pid_start);
	state_reaper_release(&r);
	burst_error_release(&err);
	return alive;
}

int state_reaper_set_deadline(struct burst_state *st, const char *kind, const char *resource,
			      int64_t deadline, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE reapers SET deadline=?, updated_at=? WHERE kind=? AND resource=?",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, deadline);
	sqlite3_bind_int64(s, 2, state_now());
	st_bind_text(s, 3, kind);
	st_bind_text(s, 4, resource);
	return st_step_done(st, s, "updating the reaper record", err);
}

int state_reaper_set_error(struct burst_state *st, const char *kind, const char *resource,
			   const char *message, bool needs_human, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE reapers SET last_error=?, needs_human=?, updated_at=?"
			   " WHERE kind=? AND resource=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, message);
	sqlite3_bind_int(s, 2, needs_human);
	sqlite3_bind_int64(s, 3, state_now());
	st_bind_text(s, 4, kind);
	st_bind_text(s, 5, resource);
	return st_step_done(st, s, "updating the reaper record", err);
}

int state_reaper_remove(struct burst_state *st, const char *kind, const char *resource, bool any,
			struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "DELETE FROM reapers WHERE kind=?1 AND resource=?2"
			   " AND (?3 OR (pid=?4 AND pid_start=?5))", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, kind);
	st_bind_text(s, 2, resource);
	sqlite3_bind_int(s, 3, any);
	sqlite3_bind_int64(s, 4, st->pid);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)st->pid_start);
	return st_step_done(st, s, "removing the reaper record", err);
}

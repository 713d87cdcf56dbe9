/*
 * leases.c - the lease rows of runs and the delete decisions they guard
 * (lease and decision in one transaction).
 */
#include <stdlib.h>
#include <string.h>

#include "burst/log.h"
#include "state-int.h"

#define MOD "state"

/* ---- leases ----------------------------------------------------------- */

/*
 * Inside a transaction: may a lease use server_id / project?  0 yes,
 * STATE_SERVER_GOING / STATE_VOLUME_GOING, -1 error.
 */
static int lease_check(struct burst_state *st, const char *project, int64_t server_id,
		       struct burst_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc, ret = -1;

	if (server_id) {
		if (st_prepare(st, "SELECT status FROM servers WHERE id=?", &s, err) < 0)
			goto out;
		sqlite3_bind_int64(s, 1, server_id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			ret = STATE_SERVER_GOING;
			goto out;
		}
		if (rc != SQLITE_ROW) {
			st_dberr(st, err, "reading the server");
			goto out;
		}
		{
			const char *v = (const char *)sqlite3_column_text(s, 0);

			if (!v || !strcmp(v, "deleting") || !strcmp(v, "deleted")) {
				ret = STATE_SERVER_GOING;
				goto out;
			}
		}
		sqlite3_finalize(s);
		s = NULL;
	}
	if (project) {
		if (st_prepare(st, "SELECT volume_status FROM projects WHERE id=?", &s, err) < 0)
			goto out;
		st_bind_text(s, 1, project);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			const char *v = (const char *)sqlite3_column_text(s, 0);

			if (v && !strcmp(v, "deleting")) {
				ret = STATE_VOLUME_GOING;
				goto out;
			}
		} else if (rc != SQLITE_DONE) {
			st_dberr(st, err, "reading the project");
			goto out;
		}
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

int state_lease_acquire(struct burst_state *st, const char *project, int64_t server_id,
			int64_t *lease_id, struct burst_error *err)
{
	sqlite3_stmt *s = NULL;
	int64_t now = state_now();
	int ret;

	*lease_id = 0;
	if (st_begin(st, err) < 0)
		return -1;
	ret = lease_check(st, project, server_id, err);
	if (ret)
		goto out;
	ret = -1;
	if (st_prepare(st, "INSERT INTO leases(pid, pid_start, project, server_id,"
			   " heartbeat_at, expires_at) VALUES (?,?,?,?,?,?)", &s, err) < 0)
		goto out;
	sqlite3_bind_int64(s, 1, st->pid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)st->pid_start);
	st_bind_text(s, 3, project);
	if (server_id)
		sqlite3_bind_int64(s, 4, server_id);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_int64(s, 6, now + STATE_LEASE_TTL_SECS);
	if (sqlite3_step(s) != SQLITE_DONE) {
		st_dberr(st, err, "taking a lease");
		goto out;
	}
	*lease_id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	s = NULL;
	if (st_commit(st, err) < 0) {
		*lease_id = 0;
		return -1;
	}
	log_debug(MOD, "lease %lld taken (server %lld, project %s)", (long long)*lease_id,
		  (long long)server_id, project ? project : "-");
	return 0;
out:
	sqlite3_finalize(s);
	st_rollback(st);
	return ret;
}

int state_lease_set_server(struct burst_state *st, int64_t lease_id, int64_t server_id,
			   struct burst_error *err)
{
	sqlite3_stmt *s = NULL;
	char *project = NULL;
	int rc, ret;

	if (st_begin(st, err) < 0)
		return -1;
	ret = -1;
	if (st_prepare(st, "SELECT project FROM leases WHERE id=?", &s, err) < 0)
		goto out;
	sqlite3_bind_int64(s, 1, lease_id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		burst_error_set(err, BURST_EXIT_STATE, "no lease with id %lld", (long long)lease_id);
		goto out;
	}
	project = st_col_str(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	ret = lease_check(st, NULL, server_id, err);
	if (ret)
		goto out;
	ret = -1;
	if (st_prepare(st, "UPDATE leases SET server_id=? WHERE id=?", &s, err) < 0)
		goto out;
	sqlite3_bind_int64(s, 1, server_id);
	sqlite3_bind_int64(s, 2, lease_id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		st_dberr(st, err, "updating a lease");
		goto out;
	}
	sqlite3_finalize(s);
	free(project);
	return st_commit(st, err);
out:
	free(project);
	sqlite3_finalize(s);
	st_rollback(st);
	return ret;
}

int state_lease_heartbeat(struct burst_state *st, int64_t lease_id, struct burst_error *err)
{
	sqlite3_stmt *s;
	int64_t now = state_now();

	if (st_prepare(st, "UPDATE leases SET heartbeat_at=?, expires_at=? WHERE id=?", &s,
		       err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, now + STATE_LEASE_TTL_SECS);
	sqlite3_bind_int64(s, 3, lease_id);
	if (st_step_done(st, s, "renewing a lease", err) < 0)
		return -1;
	if (!sqlite3_changes(st->db))
		return burst_error_set(err, BURST_EXIT_STATE, "lease %lld is gone",
				       (long long)lease_id);
	return 0;
}

int state_lease_release(struct burst_state *st, int64_t lease_id, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "DELETE FROM leases WHERE id=?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, lease_id);
	return st_step_done(st, s, "releasing a lease", err);
}

static int count_live(struct burst_state *st, int64_t server_id, const char *project,
		      int64_t *count, struct burst_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (st_prepare(st, "SELECT count(*) FROM leases l WHERE " ST_LEASE_LIVE
			   " AND (?1 = 0 OR l.server_id = ?1) AND (?2 IS NULL OR l.project = ?2)",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, server_id);
	st_bind_text(s, 2, project);
	rc = sqlite3_step(s);
	*count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return st_dberr(st, err, "counting leases");
	return 0;
}

int state_lease_count_live(struct burst_state *st, int64_t server_id, const char *project,
			   int64_t *count, struct burst_error *err)
{
	return count_live(st, server_id, project, count, err);
}

int state_lease_prune(struct burst_state *st, struct burst_error *err)
{
	return st_exec(st, "DELETE FROM leases AS l WHERE NOT " ST_LEASE_LIVE, err);
}

/* ---- delete decisions ------------------------------------------------- */

/*
 * The rest of a delete decision, in the transaction that read the row
 * (d->deadline set): keep it while a live lease uses it (server_id, or
 * the project; unless STATE_DELETE_IGNORE_LEASES), while no_reap or
 * before the deadline (unless STATE_DELETE_IGNORE_DEADLINE), else mark it
 * `deleting` with mark_sql (bound to server_id or project) and commit.
 * 0 decided (the transaction is over), -1 error (rolled back).
 */
static int decide_delete(struct burst_state *st, int64_t server_id, const char *project,
			 bool no_reap, int64_t now, unsigned flags, const char *mark_sql,
			 const char *what, struct state_delete_decision *d,
			 struct burst_error *err)
{
	sqlite3_stmt *s = NULL;

	if (count_live(st, server_id, project, &d->live_leases, err) < 0)
		goto fail;
	if (d->live_leases > 0 && !(flags & STATE_DELETE_IGNORE_LEASES)) {
		d->reason = STATE_KEEP_LEASED;
		goto keep;
	}
	if (!(flags & STATE_DELETE_IGNORE_DEADLINE)) {
		if (no_reap) {
			d->reason = STATE_KEEP_NO_REAP;
			goto keep;
		}
		if (d->deadline > now) {
			d->reason = STATE_KEEP_NOT_DUE;
			goto keep;
		}
	}
	if (st_prepare(st, mark_sql, &s, err) < 0)
		goto fail;
	if (project)
		st_bind_text(s, 1, project);
	else
		sqlite3_bind_int64(s, 1, server_id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		st_dberr(st, err, what);
		goto fail;
	}
	sqlite3_finalize(s);
	if (st_commit(st, err) < 0)
		return -1;
	d->do_delete = true;
	d->reason = STATE_DELETE_NOW;
	return 0;
keep:
	st_rollback(st);
	return 0;
fail:
	sqlite3_finalize(s);
	st_rollback(st);
	return -1;
}

/*
 * Begin a delete decision: open the transaction and read the row of sql
 * (bound to server_id or project).  1 = a row in *s (to finalize), 0 =
 * none (kept: rolled back), -1 = error (rolled back).
 */
static int begin_decision(struct burst_state *st, const char *sql, int64_t server_id,
			  const char *project, const char *what, sqlite3_stmt **s,
			  struct burst_error *err)
{
	int rc;

	*s = NULL;
	if (st_begin(st, err) < 0)
		return -1;
	if (st_prepare(st, sql, s, err) < 0) {
		st_rollback(st);
		return -1;
	}
	if (project)
		st_bind_text(*s, 1, project);
	else
		sqlite3_bind_int64(*s, 1, server_id);
	rc = sqlite3_step(*s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		st_dberr(st, err, what);
	sqlite3_finalize(*s);
	*s = NULL;
	st_rollback(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The row's status keeps it (the decision is over: s finalized, rolled back). */
static int keep_row(struct burst_state *st, sqlite3_stmt *s)
{
	sqlite3_finalize(s);
	st_rollback(st);
	return 0;
}

int state_server_try_begin_delete(struct burst_state *st, int64_t server_id, int64_t now,
				  unsigned flags, struct state_delete_decision *d,
				  struct burst_error *err)
{
	sqlite3_stmt *s;
	const char *status;
	bool no_reap;
	int rc;

	memset(d, 0, sizeof(*d));
	d->reason = STATE_KEEP_GONE;
	rc = begin_decision(st, "SELECT status, no_reap, deadline, created_at FROM servers"
			    " WHERE id=?", server_id, NULL, "reading the server", &s, err);
	if (rc <= 0)
		return rc;
	status = (const char *)sqlite3_column_text(s, 0);
	no_reap = sqlite3_column_int(s, 1) != 0;
	d->deadline = sqlite3_column_int64(s, 2);
	if (!status || !strcmp(status, "deleting") || !strcmp(status, "deleted"))
		return keep_row(st, s);
	/* a server still being provisioned gets a grace period from creation */
	if (!strcmp(status, "provisioning") &&
	    d->deadline < sqlite3_column_int64(s, 3) + STATE_PROVISION_GRACE_SECS)
		d->deadline = sqlite3_column_int64(s, 3) + STATE_PROVISION_GRACE_SECS;
	sqlite3_finalize(s);
	if (decide_delete(st, server_id, NULL, no_reap, now, flags,
			  "UPDATE servers SET status='deleting' WHERE id=?",
			  "marking the server deleting", d, err) < 0)
		return -1;
	if (d->do_delete)
		log_debug(MOD, "server row %lld: decided to delete", (long long)server_id);
	return 0;
}

int state_volume_try_begin_delete(struct burst_state *st, const char *project, int64_t now,
				  unsigned flags, struct state_delete_decision *d,
				  struct burst_error *err)
{
	sqlite3_stmt *s;
	const char *status;
	int rc;

	memset(d, 0, sizeof(*d));
	d->reason = STATE_KEEP_GONE;
	rc = begin_decision(st, "SELECT volume_status, volume_deadline FROM projects WHERE id=?",
			    0, project, "reading the project", &s, err);
	if (rc <= 0)
		return rc;
	status = (const char *)sqlite3_column_text(s, 0);
	d->deadline = sqlite3_column_int64(s, 1);
	if (!status || strcmp(status, "ready"))
		return keep_row(st, s);
	sqlite3_finalize(s);
	return decide_delete(st, 0, project, false, now, flags,
			     "UPDATE projects SET volume_status='deleting' WHERE id=?",
			     "marking the volume deleting", d, err);
}


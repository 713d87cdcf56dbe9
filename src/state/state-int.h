/* state-int.h - internals shared by the files of src/state (not public). */
#ifndef BURST_STATE_INT_H
#define BURST_STATE_INT_H

#include <sqlite3.h>

#include "burst/state.h"

struct burst_state {
	sqlite3 *db;
	char *dir;
	char *path;
	char *reset_path; /* where a corrupt database went, or NULL */
	char owner[STATE_OWNER_ID_LEN + 1];
	pid_t pid;            /* the process that opened it */
	uint64_t pid_start;   /* its start time */
	int lock_fd;          /* provision.lock while held, else -1 */
	int lock_depth;
	char *endpoint;       /* recorded with rows that name none, or NULL */
	bool fresh;           /* the database file was created by this open */
};

/* Fill err from the connection's last error: "<what>: <sqlite message>". */
int st_dberr(struct burst_state *st, struct burst_error *err, const char *what);
/* Run SQL without results. */
int st_exec(struct burst_state *st, const char *sql, struct burst_error *err);
/* Prepare one statement. */
int st_prepare(struct burst_state *st, const char *sql, sqlite3_stmt **out, struct burst_error *err);
/* BEGIN IMMEDIATE: take the write lock now (waits up to the busy timeout). */
int st_begin(struct burst_state *st, struct burst_error *err);
/* COMMIT; on failure rolls back and fills err. */
int st_commit(struct burst_state *st, struct burst_error *err);
/* ROLLBACK if a transaction is open; never fails loudly. */
void st_rollback(struct burst_state *st);
/* Run a prepared statement to completion; finalizes it.  0, or -1 with err. */
int st_step_done(struct burst_state *st, sqlite3_stmt *s, const char *what,
		 struct burst_error *err);
/*
 * The row decoder of every table: step a prepared, bound statement once
 * and decode its row into out with decode (the table's from_row, which
 * knows its columns); finalizes it.  1 = a row, 0 = none, -1 = err
 * ("<what>: <sqlite message>").
 */
int st_get_one(struct burst_state *st, sqlite3_stmt *s,
	       void (*decode)(sqlite3_stmt *s, void *out), void *out, const char *what,
	       struct burst_error *err);
/*
 * The same for every row: a new array of size-byte elements in *v, *n
 * (also on error: the rows decoded so far, for the caller to free).
 */
int st_get_all(struct burst_state *st, sqlite3_stmt *s,
	       void (*decode)(sqlite3_stmt *s, void *out), size_t size, void **v, size_t *n,
	       const char *what, struct burst_error *err);
/* Bind text or NULL. */
int st_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Column as a heap string (NULL for SQL NULL). */
char *st_col_str(sqlite3_stmt *s, int i);
/* SQL condition for a live lease row aliased l (burst_now(), burst_pid_alive()). */
/*
 * A holder that is alive with the start time it recorded keeps its lease
 * even when its heartbeat expired (a run stopped with Ctrl-Z or SIGSTOP
 * sends none); the expiry only counts when the start time is unknown (0).
 */
#define ST_STR_(x) #x
#define ST_STR(x) ST_STR_(x)
#define ST_LEASE_LIVE                                                             \
	"(burst_pid_alive(l.pid, l.pid_start) AND ((l.pid_start != 0 AND"          \
	" l.heartbeat_at > burst_now() - " ST_STR(STATE_LEASE_HOLD_SECS) ") OR"    \
	" l.expires_at > burst_now()))"

#endif

/*
 * servers.c - the server rows: one per server created, its status,
 * activity and deadline.
 */
#include <stdlib.h>
#include <string.h>

#include "burst/config.h"

#include "state-int.h"

/* ---- servers ---------------------------------------------------------- */

static const char *const server_status_names[] = {
	"provisioning", "ready", "deleting", "deleted",
};

const char *state_server_status_name(enum state_server_status s)
{
	if ((size_t)s < ARRAY_SIZE(server_status_names))
		return server_status_names[s];
	return "unknown";
}

static enum state_server_status server_status_parse(const char *s)
{
	size_t i;

	for (i = 0; s && i < ARRAY_SIZE(server_status_names); i++)
		if (!strcmp(s, server_status_names[i]))
			return (enum state_server_status)i;
	return STATE_SERVER_DELETED;
}

void state_server_release(struct state_server *srv)
{
	FREE_AND_NULL(srv->name);
	FREE_AND_NULL(srv->ip);
	FREE_AND_NULL(srv->location);
	FREE_AND_NULL(srv->server_type);
	FREE_AND_NULL(srv->host_key_pub);
	FREE_AND_NULL(srv->host_key_path);
	FREE_AND_NULL(srv->endpoint);
	FREE_AND_NULL(srv->arch);
}

const char *state_server_arch(const struct state_server *srv)
{
	if (!srv->arch)
		return config_type_arch(srv->server_type);
	if (!strcmp(srv->arch, "x86") || !strcmp(srv->arch, "arm64"))
		return srv->arch;
	return "unknown";
}

void state_servers_free(struct state_server *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		state_server_release(&v[i]);
	free(v);
}

#define SERVER_COLS                                                          \
	"id, hcloud_id, name, ip, location, server_type, image_id, host_key_pub," \
	" host_key_path, created_at, status, last_activity, keep_alive_secs,"     \
	" no_reap, deadline, billing_start, endpoint, adopted, arch"

static void server_from_row(sqlite3_stmt *s, void *out)
{
	struct state_server *o = out;
	const unsigned char *status;

	memset(o, 0, sizeof(*o));
	o->id = sqlite3_column_int64(s, 0);
	o->hcloud_id = sqlite3_column_int64(s, 1);
	o->name = st_col_str(s, 2);
	o->ip = st_col_str(s, 3);
	o->location = st_col_str(s, 4);
	o->server_type = st_col_str(s, 5);
	o->image_id = sqlite3_column_int64(s, 6);
	o->host_key_pub = st_col_str(s, 7);
	o->host_key_path = st_col_str(s, 8);
	o->created_at = sqlite3_column_int64(s, 9);
	status = sqlite3_column_text(s, 10);
	o->status = server_status_parse((const char *)status);
	o->last_activity = sqlite3_column_int64(s, 11);
	o->keep_alive_secs = sqlite3_column_int64(s, 12);
	o->no_reap = sqlite3_column_int(s, 13) != 0;
	o->deadline = sqlite3_column_int64(s, 14);
	o->billing_start = sqlite3_column_int64(s, 15);
	o->endpoint = st_col_str(s, 16);
	o->adopted = sqlite3_column_int(s, 17) != 0;
	o->arch = st_col_str(s, 18);
}

/* Binds 1..18 (endpoint: the row's, else the connection's). */
static void server_bind(struct burst_state *st, sqlite3_stmt *s, const struct state_server *v)
{
	sqlite3_bind_int64(s, 1, v->hcloud_id);
	st_bind_text(s, 2, v->name);
	st_bind_text(s, 3, v->ip);
	st_bind_text(s, 4, v->location);
	st_bind_text(s, 5, v->server_type);
	sqlite3_bind_int64(s, 6, v->image_id);
	st_bind_text(s, 7, v->host_key_pub);
	st_bind_text(s, 8, v->host_key_path);
	sqlite3_bind_int64(s, 9, v->created_at);
	st_bind_text(s, 10, state_server_status_name(v->status));
	sqlite3_bind_int64(s, 11, v->last_activity);
	sqlite3_bind_int64(s, 12, v->keep_alive_secs);
	sqlite3_bind_int(s, 13, v->no_reap);
	sqlite3_bind_int64(s, 14, v->deadline);
	sqlite3_bind_int64(s, 15, v->billing_start);
	st_bind_text(s, 16, v->endpoint ? v->endpoint : st->endpoint);
	sqlite3_bind_int(s, 17, v->adopted);
	st_bind_text(s, 18, v->arch);
}

int state_server_insert(struct burst_state *st, struct state_server *srv, struct burst_error *err)
{
	sqlite3_stmt *s;
	int64_t now = state_now();

	if (!srv->created_at)
		srv->created_at = now;
	if (!srv->last_activity)
		srv->last_activity = now;
	if (!srv->billing_start)
		srv->billing_start = srv->created_at;
	if (!srv->deadline)
		srv->deadline = srv->last_activity + srv->keep_alive_secs;
	if (st_prepare(st, "INSERT INTO servers(hcloud_id, name, ip, location, server_type,"
			   " image_id, host_key_pub, host_key_path, created_at, status,"
			   " last_activity, keep_alive_secs, no_reap, deadline, billing_start,"
			   " endpoint, adopted, arch)"
			   " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &s, err) < 0)
		return -1;
	server_bind(st, s, srv);
	if (st_step_done(st, s, "recording the server", err) < 0)
		return -1;
	srv->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int state_server_update(struct burst_state *st, const struct state_server *srv,
			struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE servers SET hcloud_id=?, name=?, ip=?, location=?,"
			   " server_type=?, image_id=?, host_key_pub=?, host_key_path=?,"
			   " created_at=?, status=?, last_activity=?, keep_alive_secs=?,"
			   " no_reap=?, deadline=?, billing_start=?, endpoint=COALESCE(endpoint, ?),"
			   " adopted=?, arch=? WHERE id=?", &s, err) < 0)
		return -1;
	server_bind(st, s, srv);
	sqlite3_bind_int64(s, 19, srv->id);
	return st_step_done(st, s, "updating the server", err);
}

int state_server_set_status(struct burst_state *st, int64_t id, enum state_server_status status,
			    struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE servers SET status=? WHERE id=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, state_server_status_name(status));
	sqlite3_bind_int64(s, 2, id);
	return st_step_done(st, s, "updating the server status", err);
}

static int server_query_one(struct burst_state *st, const char *where, int64_t arg,
			    struct state_server *out, struct burst_error *err)
{
	char *sql = xstrfmt("SELECT " SERVER_COLS " FROM servers %s", where);
	sqlite3_stmt *s;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (st_prepare(st, sql, &s, err) < 0)
		goto out;
	if (sqlite3_bind_parameter_count(s) > 0)
		sqlite3_bind_int64(s, 1, arg);
	ret = st_get_one(st, s, server_from_row, out, "reading the server", err);
out:
	free(sql);
	return ret;
}

int state_server_current(struct burst_state *st, struct state_server *out, struct burst_error *err)
{
	return server_query_one(st, "WHERE status != 'deleted' AND (name IS NULL OR name NOT "
				"LIKE '" STATE_SHARD_NAME_PREFIX "%') ORDER BY id DESC LIMIT 1", 0,
				out, err);
}

int state_server_get(struct burst_state *st, int64_t id, struct state_server *out,
		     struct burst_error *err)
{
	return server_query_one(st, "WHERE id = ?", id, out, err);
}

int state_server_by_hcloud_id(struct burst_state *st, int64_t hcloud_id,
			      struct state_server *out, struct burst_error *err)
{
	return server_query_one(st, "WHERE hcloud_id = ? ORDER BY id DESC LIMIT 1", hcloud_id,
				out, err);
}

int state_server_list_live(struct burst_state *st, struct state_server **out, size_t *n,
			   struct burst_error *err)
{
	sqlite3_stmt *s;
	void *v = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (st_prepare(st, "SELECT " SERVER_COLS " FROM servers WHERE status != 'deleted'"
			   " ORDER BY id", &s, err) < 0)
		return -1;
	rc = st_get_all(st, s, server_from_row, sizeof(**out), &v, n, "listing servers", err);
	*out = v;
	if (rc < 0) {
		state_servers_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int64_t state_server_deadline(int64_t created_at, int64_t last_activity, int64_t keep_alive,
			      bool hold, int64_t margin)
{
	int64_t d = last_activity + (keep_alive > 0 ? keep_alive : 0);
	int64_t k, point;

	if (!hold)
		return d;
	if (margin < 0)
		margin = 0;
	if (margin > 3600)
		margin = 3600;
	/*
	 * The billed hour in which d falls ends at created_at + k*3600 (the
	 * first such end >= d, k >= 1).  Keeping the server until margin
	 * before that end costs nothing extra; when d is already inside the
	 * margin, holding would only buy the next hour, so d stands.
	 */
	if (d <= created_at)
		k = 1;
	else
		k = (d - created_at + 3599) / 3600;
	point = created_at + k * 3600 - margin;
	return point > d ? point : d;
}

int64_t state_server_paid_through(int64_t created_at, int64_t now)
{
	int64_t up = now - created_at;
	int64_t hours;

	if (up < 1)
		up = 1;
	hours = (up + 3599) / 3600;
	return created_at + hours * 3600;
}

int state_server_touch(struct burst_state *st, int64_t id, int64_t now, int64_t keep_alive_secs,
		       bool no_reap, bool billing_hour_hold, int64_t margin_secs,
		       struct burst_error *err)
{
	sqlite3_stmt *s = NULL;
	int64_t created, deadline;
	const unsigned char *status;
	int rc, ret = -1;

	if (st_begin(st, err) < 0)
		return -1;
	if (st_prepare(st, "SELECT status, created_at FROM servers WHERE id=?", &s, err) < 0)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE) {
			st_dberr(st, err, "reading the server");
			goto out;
		}
		ret = STATE_SERVER_GOING;
		goto out;
	}
	status = sqlite3_column_text(s, 0);
	if (!status || !strcmp((const char *)status, "deleting") ||
	    !strcmp((const char *)status, "deleted")) {
		ret = STATE_SERVER_GOING;
		goto out;
	}
	created = sqlite3_column_int64(s, 1);
	sqlite3_finalize(s);
	s = NULL;
	deadline = state_server_deadline(created, now, keep_alive_secs, billing_hour_hold,
					 margin_secs);
	if (st_prepare(st, "UPDATE servers SET last_activity=?, keep_alive_secs=?, no_reap=?,"
			   " deadline=?, adopted=0 WHERE id=?", &s, err) < 0)
		goto out;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, keep_alive_secs);
	sqlite3_bind_int(s, 3, no_reap);
	sqlite3_bind_int64(s, 4, deadline);
	sqlite3_bind_int64(s, 5, id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		st_dberr(st, err, "updating the server");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (st_commit(st, err) < 0)
		return -1;
	return 0;
out:
	sqlite3_finalize(s);
	st_rollback(st);
	return ret;
}

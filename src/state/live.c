/*
 * live.c - live state rows: image, servers, projects and volumes, intents,
 * leases, delete decisions, reaper records, events and runs.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/log.h"
#include "burst/strbuf.h"
#include "state-int.h"

#define MOD "state"

/* Run a prepared statement to completion; finalizes it. */
static int step_done(struct burst_state *st, sqlite3_stmt *s, const char *what,
		     struct burst_error *err)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return st_dberr(st, err, what);
	return 0;
}

/* ---- image ------------------------------------------------------------ */

void state_image_release(struct state_image *img)
{
	FREE_AND_NULL(img->version);
	FREE_AND_NULL(img->labels_json);
}

int state_image_get(struct burst_state *st, struct state_image *out, struct burst_error *err)
{
	sqlite3_stmt *s;
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	if (st_prepare(st, "SELECT hcloud_id, created_at, version, labels FROM image", &s, err) < 0)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->hcloud_id = sqlite3_column_int64(s, 0);
		out->created_at = sqlite3_column_int64(s, 1);
		out->version = st_col_str(s, 2);
		out->labels_json = st_col_str(s, 3);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		st_dberr(st, err, "reading the image");
	}
	sqlite3_finalize(s);
	return ret;
}

int state_image_set(struct burst_state *st, const struct state_image *img, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "INSERT OR REPLACE INTO image VALUES (1, ?, ?, ?, ?)", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, img->hcloud_id);
	sqlite3_bind_int64(s, 2, img->created_at ? img->created_at : state_now());
	st_bind_text(s, 3, img->version);
	st_bind_text(s, 4, img->labels_json);
	return step_done(st, s, "recording the image", err);
}

int state_image_clear(struct burst_state *st, struct burst_error *err)
{
	return st_exec(st, "DELETE FROM image", err);
}

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
	" no_reap, deadline, billing_start, endpoint, adopted"

static void server_from_row(sqlite3_stmt *s, struct state_server *o)
{
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
}

/* Binds 1..17 (endpoint: the row's, else the connection's). */
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
			   " endpoint, adopted)"
			   " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &s, err) < 0)
		return -1;
	server_bind(st, s, srv);
	if (step_done(st, s, "recording the server", err) < 0)
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
			   " adopted=? WHERE id=?", &s, err) < 0)
		return -1;
	server_bind(st, s, srv);
	sqlite3_bind_int64(s, 18, srv->id);
	return step_done(st, s, "updating the server", err);
}

int state_server_set_status(struct burst_state *st, int64_t id, enum state_server_status status,
			    struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE servers SET status=? WHERE id=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, state_server_status_name(status));
	sqlite3_bind_int64(s, 2, id);
	return step_done(st, s, "updating the server status", err);
}

static int server_query_one(struct burst_state *st, const char *where, int64_t arg,
			    struct state_server *out, struct burst_error *err)
{
	char *sql = xstrfmt("SELECT " SERVER_COLS " FROM servers %s", where);
	sqlite3_stmt *s;
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	if (st_prepare(st, sql, &s, err) < 0)
		goto out;
	if (sqlite3_bind_parameter_count(s) > 0)
		sqlite3_bind_int64(s, 1, arg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		server_from_row(s, out);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		st_dberr(st, err, "reading the server");
	}
	sqlite3_finalize(s);
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
	size_t alloc = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st_prepare(st, "SELECT " SERVER_COLS " FROM servers WHERE status != 'deleted'"
			   " ORDER BY id", &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(*out, *n + 1, alloc);
		server_from_row(s, &(*out)[(*n)++]);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		state_servers_free(*out, *n);
		*out = NULL;
		*n = 0;
		return st_dberr(st, err, "listing servers");
	}
	return 0;
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

/* ---- projects --------------------------------------------------------- */

static const char *const volume_status_names[] = { "none", "ready", "deleting" };

static enum state_volume_status volume_status_parse(const char *s)
{
	size_t i;

	for (i = 0; s && i < ARRAY_SIZE(volume_status_names); i++)
		if (!strcmp(s, volume_status_names[i]))
			return (enum state_volume_status)i;
	return STATE_VOLUME_NONE;
}

void state_project_release(struct state_project *p)
{
	FREE_AND_NULL(p->id);
	FREE_AND_NULL(p->root);
	FREE_AND_NULL(p->name);
	FREE_AND_NULL(p->volume_name);
	FREE_AND_NULL(p->location);
	FREE_AND_NULL(p->excludes);
	FREE_AND_NULL(p->volume_endpoint);
}

void state_projects_free(struct state_project *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		state_project_release(&v[i]);
	free(v);
}

#define PROJECT_COLS                                                        \
	"id, root, name, volume_hcloud_id, volume_name, location, size_gb,"      \
	" volume_status, last_used, volume_keep_alive, volume_deadline, excludes,"  \
	" volume_endpoint, volume_adopted"

static void project_from_row(sqlite3_stmt *s, struct state_project *p)
{
	memset(p, 0, sizeof(*p));
	p->id = st_col_str(s, 0);
	p->root = st_col_str(s, 1);
	p->name = st_col_str(s, 2);
	p->volume_hcloud_id = sqlite3_column_int64(s, 3);
	p->volume_name = st_col_str(s, 4);
	p->location = st_col_str(s, 5);
	p->size_gb = sqlite3_column_int64(s, 6);
	p->volume_status = volume_status_parse((const char *)sqlite3_column_text(s, 7));
	p->last_used = sqlite3_column_int64(s, 8);
	p->volume_keep_alive = sqlite3_column_int64(s, 9);
	p->volume_deadline = sqlite3_column_int64(s, 10);
	p->excludes = st_col_str(s, 11);
	p->volume_endpoint = st_col_str(s, 12);
	p->volume_adopted = sqlite3_column_int(s, 13) != 0;
}

int state_project_get(struct burst_state *st, const char *id, struct state_project *out,
		      struct burst_error *err)
{
	sqlite3_stmt *s;
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	if (st_prepare(st, "SELECT " PROJECT_COLS " FROM projects WHERE id=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		project_from_row(s, out);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		st_dberr(st, err, "reading the project");
	}
	sqlite3_finalize(s);
	return ret;
}

int state_project_put(struct burst_state *st, const struct state_project *p,
		      struct burst_error *err)
{
	sqlite3_stmt *s;

	if (!p->id)
		return burst_error_set(err, BURST_EXIT_INTERNAL, "project without an id");
	/* a volume keeps the endpoint it was recorded with */
	if (st_prepare(st, "INSERT OR REPLACE INTO projects(" PROJECT_COLS ")"
			   " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,"
			   " CASE WHEN ?4 THEN COALESCE(?13, (SELECT volume_endpoint FROM"
			   " projects WHERE id=?1 AND volume_hcloud_id=?4), ?15) END, ?14)",
			   &s, err) < 0)
		return -1;
	st_bind_text(s, 1, p->id);
	st_bind_text(s, 2, p->root);
	st_bind_text(s, 3, p->name);
	sqlite3_bind_int64(s, 4, p->volume_hcloud_id);
	st_bind_text(s, 5, p->volume_name);
	st_bind_text(s, 6, p->location);
	sqlite3_bind_int64(s, 7, p->size_gb);
	st_bind_text(s, 8, volume_status_names[p->volume_status <= STATE_VOLUME_DELETING ?
					       p->volume_status : 0]);
	sqlite3_bind_int64(s, 9, p->last_used);
	sqlite3_bind_int64(s, 10, p->volume_keep_alive);
	sqlite3_bind_int64(s, 11, p->volume_deadline);
	st_bind_text(s, 12, p->excludes);
	st_bind_text(s, 13, p->volume_endpoint);
	sqlite3_bind_int(s, 14, p->volume_adopted);
	st_bind_text(s, 15, st->endpoint);
	return step_done(st, s, "recording the project", err);
}

int state_project_list(struct burst_state *st, struct state_project **out, size_t *n,
		       struct burst_error *err)
{
	sqlite3_stmt *s;
	size_t alloc = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st_prepare(st, "SELECT " PROJECT_COLS " FROM projects ORDER BY id", &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(*out, *n + 1, alloc);
		project_from_row(s, &(*out)[(*n)++]);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		state_projects_free(*out, *n);
		*out = NULL;
		*n = 0;
		return st_dberr(st, err, "listing projects");
	}
	return 0;
}

int state_project_set_volume(struct burst_state *st, const char *id, int64_t volume_hcloud_id,
			     const char *volume_name, const char *location, int64_t size_gb,
			     struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "INSERT INTO projects(id, volume_hcloud_id, volume_name, location,"
			   " size_gb, volume_status, volume_endpoint, volume_adopted)"
			   " VALUES (?1,?2,?3,?4,?5,'ready',?6,0)"
			   " ON CONFLICT(id) DO UPDATE SET volume_hcloud_id=?2, volume_name=?3,"
			   " location=?4, size_gb=?5, volume_status='ready', volume_endpoint=?6,"
			   " volume_adopted=0", &s, err) < 0)
		return -1;
	st_bind_text(s, 6, st->endpoint);
	st_bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, volume_hcloud_id);
	st_bind_text(s, 3, volume_name);
	st_bind_text(s, 4, location);
	sqlite3_bind_int64(s, 5, size_gb);
	return step_done(st, s, "recording the volume", err);
}

int state_project_clear_volume(struct burst_state *st, const char *id, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE projects SET volume_hcloud_id=NULL, volume_name=NULL,"
			   " volume_status='none', volume_deadline=NULL, volume_endpoint=NULL,"
			   " volume_adopted=0 WHERE id=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, id);
	return step_done(st, s, "forgetting the volume", err);
}

int state_project_touch(struct burst_state *st, const char *id, int64_t now,
			int64_t volume_keep_alive, struct burst_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc, ret = -1;

	if (st_begin(st, err) < 0)
		return -1;
	if (st_prepare(st, "SELECT volume_status FROM projects WHERE id=?", &s, err) < 0)
		goto out;
	st_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		if (v && !strcmp((const char *)v, "deleting")) {
			ret = STATE_VOLUME_GOING;
			goto out;
		}
	} else if (rc != SQLITE_DONE) {
		st_dberr(st, err, "reading the project");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (st_prepare(st, "INSERT INTO projects(id, last_used, volume_keep_alive,"
			   " volume_deadline) VALUES (?1,?2,?3,?2+?3) ON CONFLICT(id) DO UPDATE"
			   " SET last_used=?2, volume_keep_alive=?3, volume_deadline=?2+?3,"
			   " volume_adopted=0",
			   &s, err) < 0)
		goto out;
	st_bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, volume_keep_alive);
	if (sqlite3_step(s) != SQLITE_DONE) {
		st_dberr(st, err, "updating the project");
		goto out;
	}
	sqlite3_finalize(s);
	return st_commit(st, err);
out:
	sqlite3_finalize(s);
	st_rollback(st);
	return ret;
}

int state_volume_mark_adopted(struct burst_state *st, const char *id, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE projects SET volume_adopted=1 WHERE id=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, id);
	return step_done(st, s, "marking the volume adopted", err);
}

/* ---- handing over to a new database ------------------------------------ */

int state_server_handover(struct burst_state *st, const struct state_server *old,
			  int64_t *row_id, bool *taken, struct burst_error *err)
{
	struct state_server known = { 0 }, copy;
	int found, ret = -1;

	*row_id = 0;
	*taken = false;
	if (st_begin(st, err) < 0)
		return -1;
	found = old->hcloud_id ? state_server_by_hcloud_id(st, old->hcloud_id, &known, err) : 0;
	if (found < 0)
		goto out;
	if (found && known.status != STATE_SERVER_DELETED) {
		*taken = true;
		*row_id = known.id;
		if (known.adopted && old->deadline < known.deadline &&
		    known.status != STATE_SERVER_DELETING) {
			known.deadline = old->deadline;
			known.last_activity = old->last_activity;
			known.keep_alive_secs = old->keep_alive_secs;
			known.no_reap = old->no_reap;
			if (state_server_update(st, &known, err) < 0)
				goto out;
		}
	} else {
		copy = *old;
		copy.id = 0;
		if (state_server_insert(st, &copy, err) < 0)
			goto out;
		*row_id = copy.id;
	}
	if (st_commit(st, err) < 0)
		goto out_norollback;
	ret = 0;
	goto out_norollback;
out:
	st_rollback(st);
out_norollback:
	state_server_release(&known);
	return ret;
}

int state_volume_handover(struct burst_state *st, const struct state_project *old, bool *taken,
			  struct burst_error *err)
{
	struct state_project known = { 0 }, copy;
	int found, ret = -1;

	*taken = false;
	if (st_begin(st, err) < 0)
		return -1;
	found = state_project_get(st, old->id, &known, err);
	if (found < 0)
		goto out;
	if (found && known.volume_status != STATE_VOLUME_NONE && known.volume_hcloud_id) {
		if (known.volume_hcloud_id != old->volume_hcloud_id) {
			ret = 0; /* the project has another volume now */
			goto out;
		}
		*taken = true;
		if (known.volume_adopted && old->volume_deadline < known.volume_deadline &&
		    known.volume_status != STATE_VOLUME_DELETING) {
			known.last_used = old->last_used;
			known.volume_keep_alive = old->volume_keep_alive;
			known.volume_deadline = old->volume_deadline;
			if (state_project_put(st, &known, err) < 0)
				goto out;
		}
	} else {
		copy = *old;
		/* what the new state learnt about the project itself wins */
		if (found) {
			copy.root = known.root ? known.root : old->root;
			copy.name = known.name ? known.name : old->name;
			copy.excludes = known.excludes ? known.excludes : old->excludes;
		}
		copy.volume_adopted = false;
		if (state_project_put(st, &copy, err) < 0)
			goto out;
	}
	if (st_commit(st, err) < 0)
		goto out_norollback;
	ret = 1;
	goto out_norollback;
out:
	st_rollback(st);
out_norollback:
	state_project_release(&known);
	return ret;
}

/* ---- intents ---------------------------------------------------------- */

static const char *const intent_kind_names[] = { "server", "volume", "ssh_key", "image" };
static const char *const intent_state_names[] = { "pending", "done", "failed" };

const char *state_intent_kind_name(enum state_intent_kind k)
{
	if ((size_t)k < ARRAY_SIZE(intent_kind_names))
		return intent_kind_names[k];
	return "unknown";
}

void state_intent_release(struct state_intent *in)
{
	FREE_AND_NULL(in->name);
	FREE_AND_NULL(in->labels_json);
	FREE_AND_NULL(in->error);
}

void state_intents_free(struct state_intent *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		state_intent_release(&v[i]);
	free(v);
}

int state_intent_begin(struct burst_state *st, enum state_intent_kind kind, const char *name,
		       const char *labels_json, int64_t *intent_id, struct burst_error *err)
{
	sqlite3_stmt *s;

	if ((size_t)kind >= ARRAY_SIZE(intent_kind_names) || !name)
		return burst_error_set(err, BURST_EXIT_INTERNAL, "bad intent");
	if (st_prepare(st, "INSERT INTO intents(kind, name, labels, created_at)"
			   " VALUES (?,?,?,?)", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, intent_kind_names[kind]);
	st_bind_text(s, 2, name);
	st_bind_text(s, 3, labels_json);
	sqlite3_bind_int64(s, 4, state_now());
	if (step_done(st, s, "recording an intent", err) < 0)
		return -1;
	*intent_id = sqlite3_last_insert_rowid(st->db);
	log_debug(MOD, "intent %lld: create %s '%s'", (long long)*intent_id,
		  intent_kind_names[kind], name);
	return 0;
}

static int intent_finish(struct burst_state *st, int64_t id, const char *state, int64_t hcloud,
			 const char *message, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE intents SET state=?, done_at=?, hcloud_id=?, error=?"
			   " WHERE id=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, state);
	sqlite3_bind_int64(s, 2, state_now());
	if (hcloud)
		sqlite3_bind_int64(s, 3, hcloud);
	st_bind_text(s, 4, message);
	sqlite3_bind_int64(s, 5, id);
	if (step_done(st, s, "completing an intent", err) < 0)
		return -1;
	if (!sqlite3_changes(st->db))
		return burst_error_set(err, BURST_EXIT_STATE, "no intent with id %lld",
				       (long long)id);
	return 0;
}

int state_intent_done(struct burst_state *st, int64_t intent_id, int64_t hcloud_id,
		      struct burst_error *err)
{
	return intent_finish(st, intent_id, "done", hcloud_id, NULL, err);
}

int state_intent_failed(struct burst_state *st, int64_t intent_id, const char *message,
			struct burst_error *err)
{
	return intent_finish(st, intent_id, "failed", 0, message, err);
}

int state_intents_pending(struct burst_state *st, struct state_intent **out, size_t *n,
			  struct burst_error *err)
{
	sqlite3_stmt *s;
	size_t alloc = 0, i;
	int rc;

	*out = NULL;
	*n = 0;
	if (st_prepare(st, "SELECT id, kind, name, labels, created_at, done_at, hcloud_id,"
			   " state, error FROM intents WHERE state='pending'"
			   " ORDER BY created_at, id", &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct state_intent *in;
		const char *k = (const char *)sqlite3_column_text(s, 1);
		const char *state = (const char *)sqlite3_column_text(s, 7);

		ALLOC_GROW(*out, *n + 1, alloc);
		in = &(*out)[(*n)++];
		memset(in, 0, sizeof(*in));
		in->id = sqlite3_column_int64(s, 0);
		for (i = 0; k && i < ARRAY_SIZE(intent_kind_names); i++)
			if (!strcmp(k, intent_kind_names[i]))
				in->kind = (enum state_intent_kind)i;
		in->name = st_col_str(s, 2);
		in->labels_json = st_col_str(s, 3);
		in->created_at = sqlite3_column_int64(s, 4);
		in->done_at = sqlite3_column_int64(s, 5);
		in->hcloud_id = sqlite3_column_int64(s, 6);
		for (i = 0; state && i < ARRAY_SIZE(intent_state_names); i++)
			if (!strcmp(state, intent_state_names[i]))
				in->state = (enum state_intent_state)i;
		in->error = st_col_str(s, 8);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		state_intents_free(*out, *n);
		*out = NULL;
		*n = 0;
		return st_dberr(st, err, "listing intents");
	}
	return 0;
}

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
	if (step_done(st, s, "renewing a lease", err) < 0)
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
	return step_done(st, s, "releasing a lease", err);
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

int state_server_try_begin_delete(struct burst_state *st, int64_t server_id, int64_t now,
				  unsigned flags, struct state_delete_decision *d,
				  struct burst_error *err)
{
	sqlite3_stmt *s = NULL;
	const char *status;
	bool no_reap;
	int rc;

	memset(d, 0, sizeof(*d));
	d->reason = STATE_KEEP_GONE;
	if (st_begin(st, err) < 0)
		return -1;
	if (st_prepare(st, "SELECT status, no_reap, deadline, created_at FROM servers WHERE id=?", &s, err) < 0)
		goto fail;
	sqlite3_bind_int64(s, 1, server_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		goto keep;
	if (rc != SQLITE_ROW) {
		st_dberr(st, err, "reading the server");
		goto fail;
	}
	status = (const char *)sqlite3_column_text(s, 0);
	no_reap = sqlite3_column_int(s, 1) != 0;
	d->deadline = sqlite3_column_int64(s, 2);
	if (!status || !strcmp(status, "deleting") || !strcmp(status, "deleted"))
		goto keep;
	/* a server still being provisioned gets a grace period from creation */
	if (!strcmp(status, "provisioning") &&
	    d->deadline < sqlite3_column_int64(s, 3) + STATE_PROVISION_GRACE_SECS)
		d->deadline = sqlite3_column_int64(s, 3) + STATE_PROVISION_GRACE_SECS;
	sqlite3_finalize(s);
	s = NULL;
	if (count_live(st, server_id, NULL, &d->live_leases, err) < 0)
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
	if (st_prepare(st, "UPDATE servers SET status='deleting' WHERE id=?", &s, err) < 0)
		goto fail;
	sqlite3_bind_int64(s, 1, server_id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		st_dberr(st, err, "marking the server deleting");
		goto fail;
	}
	sqlite3_finalize(s);
	if (st_commit(st, err) < 0)
		return -1;
	d->do_delete = true;
	d->reason = STATE_DELETE_NOW;
	log_debug(MOD, "server row %lld: decided to delete", (long long)server_id);
	return 0;
keep:
	sqlite3_finalize(s);
	st_rollback(st);
	return 0;
fail:
	sqlite3_finalize(s);
	st_rollback(st);
	return -1;
}

int state_volume_try_begin_delete(struct burst_state *st, const char *project, int64_t now,
				  unsigned flags, struct state_delete_decision *d,
				  struct burst_error *err)
{
	sqlite3_stmt *s = NULL;
	const char *status;
	int rc;

	memset(d, 0, sizeof(*d));
	d->reason = STATE_KEEP_GONE;
	if (st_begin(st, err) < 0)
		return -1;
	if (st_prepare(st, "SELECT volume_status, volume_deadline FROM projects WHERE id=?", &s,
		       err) < 0)
		goto fail;
	st_bind_text(s, 1, project);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		goto keep;
	if (rc != SQLITE_ROW) {
		st_dberr(st, err, "reading the project");
		goto fail;
	}
	status = (const char *)sqlite3_column_text(s, 0);
	d->deadline = sqlite3_column_int64(s, 1);
	if (!status || strcmp(status, "ready"))
		goto keep;
	sqlite3_finalize(s);
	s = NULL;
	if (count_live(st, 0, project, &d->live_leases, err) < 0)
		goto fail;
	if (d->live_leases > 0 && !(flags & STATE_DELETE_IGNORE_LEASES)) {
		d->reason = STATE_KEEP_LEASED;
		goto keep;
	}
	if (!(flags & STATE_DELETE_IGNORE_DEADLINE) && d->deadline > now) {
		d->reason = STATE_KEEP_NOT_DUE;
		goto keep;
	}
	if (st_prepare(st, "UPDATE projects SET volume_status='deleting' WHERE id=?", &s, err) < 0)
		goto fail;
	st_bind_text(s, 1, project);
	if (sqlite3_step(s) != SQLITE_DONE) {
		st_dberr(st, err, "marking the volume deleting");
		goto fail;
	}
	sqlite3_finalize(s);
	if (st_commit(st, err) < 0)
		return -1;
	d->do_delete = true;
	d->reason = STATE_DELETE_NOW;
	return 0;
keep:
	sqlite3_finalize(s);
	st_rollback(st);
	return 0;
fail:
	sqlite3_finalize(s);
	st_rollback(st);
	return -1;
}

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

int state_reaper_get(struct burst_state *st, const char *kind, const char *resource,
		     struct state_reaper *out, struct burst_error *err)
{
	sqlite3_stmt *s;
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	if (st_prepare(st, "SELECT kind, resource, pid, pid_start, deadline, log_path,"
			   " last_error, needs_human, updated_at FROM reapers"
			   " WHERE kind=? AND resource=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, kind);
	st_bind_text(s, 2, resource);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->kind = st_col_str(s, 0);
		out->resource = st_col_str(s, 1);
		out->pid = (pid_t)sqlite3_column_int64(s, 2);
		out->pid_start = (uint64_t)sqlite3_column_int64(s, 3);
		out->deadline = sqlite3_column_int64(s, 4);
		out->log_path = st_col_str(s, 5);
		out->last_error = st_col_str(s, 6);
		out->needs_human = sqlite3_column_int(s, 7) != 0;
		out->updated_at = sqlite3_column_int64(s, 8);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		st_dberr(st, err, "reading the reaper record");
	}
	sqlite3_finalize(s);
	return ret;
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
	return step_done(st, s, "updating the reaper record", err);
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
	return step_done(st, s, "updating the reaper record", err);
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
	return step_done(st, s, "removing the reaper record", err);
}

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
	return step_done(st, s, "recording an event", err);
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
	if (step_done(st, s, "recording the run", err) < 0)
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
	if (step_done(st, s, "recording the run result", err) < 0)
		return -1;
	if (!sqlite3_changes(st->db))
		return burst_error_set(err, BURST_EXIT_STATE, "no run with id %lld",
				       (long long)run_id);
	return 0;
}

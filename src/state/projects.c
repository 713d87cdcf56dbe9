/*
 * projects.c - the project rows and their volumes.
 */
#include <stdlib.h>
#include <string.h>

#include "state-int.h"

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

static void project_from_row(sqlite3_stmt *s, void *out)
{
	struct state_project *p = out;

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

	memset(out, 0, sizeof(*out));
	if (st_prepare(st, "SELECT " PROJECT_COLS " FROM projects WHERE id=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, id);
	return st_get_one(st, s, project_from_row, out, "reading the project", err);
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
	return st_step_done(st, s, "recording the project", err);
}

int state_project_list(struct burst_state *st, struct state_project **out, size_t *n,
		       struct burst_error *err)
{
	sqlite3_stmt *s;
	void *v = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (st_prepare(st, "SELECT " PROJECT_COLS " FROM projects ORDER BY id", &s, err) < 0)
		return -1;
	rc = st_get_all(st, s, project_from_row, sizeof(**out), &v, n, "listing projects", err);
	*out = v;
	if (rc < 0) {
		state_projects_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
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
	return st_step_done(st, s, "recording the volume", err);
}

int state_project_clear_volume(struct burst_state *st, const char *id, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE projects SET volume_hcloud_id=NULL, volume_name=NULL,"
			   " volume_status='none', volume_deadline=NULL, volume_endpoint=NULL,"
			   " volume_adopted=0 WHERE id=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, id);
	return st_step_done(st, s, "forgetting the volume", err);
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
	return st_step_done(st, s, "marking the volume adopted", err);
}

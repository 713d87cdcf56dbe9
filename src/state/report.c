/*
 * report.c - the queries behind `status` and `audit`, their human and JSON
 * output, and synthetic data for tests and benchmarks.
 *
 * The audit reads each large table once: server events through the index
 * events_kind_ts (sessions, churn), then runs in storage order, which feed
 * the keep-alive what-if, cold/warm phase statistics, wall-time shares,
 * per-verb means and commands per session in a single pass; percentiles
 * use quickselect on the collected values (nearest rank), never a sort in
 * SQL.
 */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "burst/strbuf.h"
#include "burst/ui.h"
#include "state-int.h"

/* ---- status ----------------------------------------------------------- */

void state_status_release(struct state_status *s)
{
	size_t i;

	state_image_release(&s->image);
	state_server_release(&s->server);
	state_reaper_release(&s->server_reaper);
	for (i = 0; i < s->nprojects; i++) {
		state_project_release(&s->projects[i].project);
		state_reaper_release(&s->projects[i].reaper);
	}
	FREE_AND_NULL(s->projects);
	s->nprojects = 0;
	for (i = 0; i < s->nleases; i++)
		free(s->leases[i].project);
	FREE_AND_NULL(s->leases);
	s->nleases = 0;
}

static int query_leases(struct burst_state *st, struct state_status *out, struct burst_error *err)
{
	sqlite3_stmt *s;
	size_t alloc = 0;
	int rc;

	if (st_prepare(st, "SELECT l.id, l.pid, l.project, l.server_id, l.heartbeat_at,"
			   " l.expires_at FROM leases l WHERE " ST_LEASE_LIVE " ORDER BY l.id",
		       &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct state_lease_info *l;

		ALLOC_GROW(out->leases, out->nleases + 1, alloc);
		l = &out->leases[out->nleases++];
		l->id = sqlite3_column_int64(s, 0);
		l->pid = (pid_t)sqlite3_column_int64(s, 1);
		l->project = st_col_str(s, 2);
		l->server_id = sqlite3_column_int64(s, 3);
		l->heartbeat_at = sqlite3_column_int64(s, 4);
		l->expires_at = sqlite3_column_int64(s, 5);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return st_dberr(st, err, "listing leases");
	out->runs_in_progress = (int64_t)out->nleases;
	return 0;
}

static int count_query(struct burst_state *st, const char *sql, int64_t *out,
		       struct burst_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (st_prepare(st, sql, &s, err) < 0)
		return -1;
	rc = sqlite3_step(s);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return st_dberr(st, err, "querying the state");
	return 0;
}

int state_status_query(struct burst_state *st, struct state_status *out, struct burst_error *err)
{
	struct state_project *projects = NULL;
	size_t n = 0, i;
	int r;

	memset(out, 0, sizeof(*out));
	out->now = state_now();
	r = state_image_get(st, &out->image, err);
	if (r < 0)
		goto fail;
	out->has_image = r == 1;
	r = state_server_current(st, &out->server, err);
	if (r < 0)
		goto fail;
	out->has_server = r == 1;
	if (out->has_server) {
		char key[32];

		out->server_paid_through =
			state_server_paid_through(out->server.created_at, out->now);
		snprintf(key, sizeof(key), "%lld", (long long)out->server.id);
		r = state_reaper_get(st, "server", key, &out->server_reaper, err);
		if (r < 0)
			goto fail;
		out->has_server_reaper = r == 1;
		out->server_reaper_alive = r == 1 && state_pid_alive(out->server_reaper.pid,
								      out->server_reaper.pid_start);
	}
	if (state_project_list(st, &projects, &n, err) < 0)
		goto fail;
	out->projects = xcalloc(n ? n : 1, sizeof(*out->projects));
	out->nprojects = n;
	for (i = 0; i < n; i++) {
		struct state_status_project *sp = &out->projects[i];

		sp->project = projects[i];
		r = state_reaper_get(st, "volume", sp->project.id, &sp->reaper, err);
		if (r < 0)
			goto fail_p;
		sp->has_reaper = r == 1;
		sp->reaper_alive = r == 1 && state_pid_alive(sp->reaper.pid, sp->reaper.pid_start);
		if (state_lease_count_live(st, 0, sp->project.id, &sp->live_leases, err) < 0)
			goto fail_p;
	}
	free(projects);
	projects = NULL;
	if (query_leases(st, out, err) < 0)
		goto fail;
	if (count_query(st, "SELECT count(*) FROM intents WHERE state='pending'",
			&out->pending_intents, err) < 0)
		goto fail;
	return 0;
fail_p:
	free(projects);
fail:
	state_status_release(out);
	return -1;
}

static cJSON *json_str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *reaper_json(bool has, const struct state_reaper *r, bool alive)
{
	cJSON *o;

	if (!has)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "pid", (double)r->pid);
	cJSON_AddBoolToObject(o, "alive", alive);
	cJSON_AddNumberToObject(o, "deadline", (double)r->deadline);
	cJSON_AddItemToObject(o, "log", json_str_or_null(r->log_path));
	cJSON_AddItemToObject(o, "last_error", json_str_or_null(r->last_error));
	cJSON_AddBoolToObject(o, "needs_human", r->needs_human);
	return o;
}

static cJSON *status_json(struct burst_state *st, const struct state_status *s)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	size_t i;

	cJSON_AddNumberToObject(root, "schema", STATE_STATUS_JSON_SCHEMA);
	cJSON_AddStringToObject(root, "owner", state_owner_id(st));
	cJSON_AddStringToObject(root, "state_dir", state_dir(st));
	cJSON_AddBoolToObject(root, "state_reset", state_was_reset(st));
	cJSON_AddNumberToObject(root, "now", (double)s->now);
	if (s->has_image) {
		cJSON *o = cJSON_AddObjectToObject(root, "image");

		cJSON_AddNumberToObject(o, "id", (double)s->image.hcloud_id);
		cJSON_AddNumberToObject(o, "created_at", (double)s->image.created_at);
		cJSON_AddItemToObject(o, "version", json_str_or_null(s->image.version));
	} else {
		cJSON_AddNullToObject(root, "image");
	}
	if (s->has_server) {
		const struct state_server *v = &s->server;
		cJSON *o = cJSON_AddObjectToObject(root, "server");

		cJSON_AddNumberToObject(o, "id", (double)v->hcloud_id);
		cJSON_AddNumberToObject(o, "row", (double)v->id);
		cJSON_AddItemToObject(o, "name", json_str_or_null(v->name));
		cJSON_AddItemToObject(o, "type", json_str_or_null(v->server_type));
		cJSON_AddItemToObject(o, "location", json_str_or_null(v->location));
		cJSON_AddItemToObject(o, "ip", json_str_or_null(v->ip));
		cJSON_AddStringToObject(o, "status", state_server_status_name(v->status));
		cJSON_AddNumberToObject(o, "created_at", (double)v->created_at);
		cJSON_AddNumberToObject(o, "up_secs", (double)(s->now - v->created_at));
		cJSON_AddNumberToObject(o, "paid_through", (double)s->server_paid_through);
		cJSON_AddNumberToObject(o, "last_activity", (double)v->last_activity);
		cJSON_AddNumberToObject(o, "keep_alive_secs", (double)v->keep_alive_secs);
		cJSON_AddNumberToObject(o, "deadline", (double)v->deadline);
		cJSON_AddBoolToObject(o, "no_reap", v->no_reap);
		cJSON_AddItemToObject(o, "reaper", reaper_json(s->has_server_reaper,
							       &s->server_reaper,
							       s->server_reaper_alive));
	} else {
		cJSON_AddNullToObject(root, "server");
	}
	arr = cJSON_AddArrayToObject(root, "projects");
	for (i = 0; i < s->nprojects; i++) {
		const struct state_status_project *sp = &s->projects[i];
		const struct state_project *p = &sp->project;
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "id", p->id);
		cJSON_AddItemToObject(o, "root", json_str_or_null(p->root));
		cJSON_AddItemToObject(o, "name", json_str_or_null(p->name));
		if (p->volume_status != STATE_VOLUME_NONE) {
			cJSON *vo = cJSON_AddObjectToObject(o, "volume");

			cJSON_AddNumberToObject(vo, "id", (double)p->volume_hcloud_id);
			cJSON_AddItemToObject(vo, "name", json_str_or_null(p->volume_name));
			cJSON_AddItemToObject(vo, "location", json_str_or_null(p->location));
			cJSON_AddNumberToObject(vo, "size_gb", (double)p->size_gb);
			cJSON_AddStringToObject(vo, "status", p->volume_status == STATE_VOLUME_READY ?
						"ready" : "deleting");
			cJSON_AddNumberToObject(vo, "deadline", (double)p->volume_deadline);
		} else {
			cJSON_AddNullToObject(o, "volume");
		}
		cJSON_AddNumberToObject(o, "last_used", (double)p->last_used);
		cJSON_AddItemToObject(o, "reaper", reaper_json(sp->has_reaper, &sp->reaper,
							       sp->reaper_alive));
		cJSON_AddNumberToObject(o, "runs_in_progress", (double)sp->live_leases);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(root, "runs_in_progress", (double)s->runs_in_progress);
	arr = cJSON_AddArrayToObject(root, "leases");
	for (i = 0; i < s->nleases; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "pid", (double)s->leases[i].pid);
		cJSON_AddItemToObject(o, "project", json_str_or_null(s->leases[i].project));
		cJSON_AddNumberToObject(o, "server_row", (double)s->leases[i].server_id);
		cJSON_AddNumberToObject(o, "heartbeat_at", (double)s->leases[i].heartbeat_at);
		cJSON_AddNumberToObject(o, "expires_at", (double)s->leases[i].expires_at);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(root, "pending_intents", (double)s->pending_intents);
	return root;
}

static const char *fmt_time(char *buf, size_t size, int64_t t)
{
	if (!t) {
		snprintf(buf, size, "-");
		return buf;
	}
	return ui_local_time(buf, size, t, true);
}

/* "in 4m 00s" / "4m 00s ago" relative to now. */
static const char *fmt_rel(char *buf, size_t size, int64_t t, int64_t now)
{
	char d[32];

	if (t > now) {
		ui_duration(d, sizeof(d), (uint64_t)(t - now) * 1000);
		snprintf(buf, size, "in %s", d);
	} else {
		ui_duration(d, sizeof(d), (uint64_t)(now - t) * 1000);
		snprintf(buf, size, "%s ago", d);
	}
	return buf;
}

static void print_reaper(FILE *f, const char *indent, bool has, const struct state_reaper *r,
			 bool alive)
{
	if (!has) {
		fprintf(f, "%sreaper        none\n", indent);
		return;
	}
	fprintf(f, "%sreaper        pid %d (%s)\n", indent, (int)r->pid, alive ? "alive" : "not running");
	if (r->last_error)
		fprintf(f, "%slast error    %s%s\n", indent, r->last_error,
			r->needs_human ? " (needs a human; see the log)" : "");
	if (r->log_path)
		fprintf(f, "%slog           %s\n", indent, r->log_path);
}

static void status_human(struct burst_state *st, FILE *f, const struct state_status *s)
{
	char a[64], b[64];
	size_t i;

	fprintf(f, "state       %s (owner %s)\n", state_db_path(st), state_owner_id(st));
	if (s->has_image)
		fprintf(f, "image       %lld%s%s, created %s\n", (long long)s->image.hcloud_id,
			s->image.version ? " version " : "",
			s->image.version ? s->image.version : "",
			fmt_time(a, sizeof(a), s->image.created_at));
	else
		fprintf(f, "image       none\n");
	if (s->has_server) {
		const struct state_server *v = &s->server;
		char up[32];

		ui_duration(up, sizeof(up), (uint64_t)(s->now > v->created_at ?
						       s->now - v->created_at : 0) * 1000);
		fprintf(f, "server      %s %lld (%s) in %s, %s\n", v->name ? v->name : "-",
			(long long)v->hcloud_id, v->server_type ? v->server_type : "?",
			v->location ? v->location : "?", state_server_status_name(v->status));
		fprintf(f, "  ip            %s\n", v->ip ? v->ip : "-");
		fprintf(f, "  up since      %s (%s)\n", fmt_time(a, sizeof(a), v->created_at), up);
		fprintf(f, "  paid through  %s (%s)\n", fmt_time(a, sizeof(a), s->server_paid_through),
			fmt_rel(b, sizeof(b), s->server_paid_through, s->now));
		if (v->no_reap)
			fprintf(f, "  deadline      none (--no-reap)\n");
		else
			fprintf(f, "  deadline      %s (%s)\n", fmt_time(a, sizeof(a), v->deadline),
				fmt_rel(b, sizeof(b), v->deadline, s->now));
		print_reaper(f, "  ", s->has_server_reaper, &s->server_reaper,
			     s->server_reaper_alive);
	} else {
		fprintf(f, "server      none\n");
	}
	if (!s->nprojects) {
		fprintf(f, "projects    none\n");
	} else {
		int wname = 7;

		for (i = 0; i < s->nprojects; i++) {
			const char *n = s->projects[i].project.name ? s->projects[i].project.name :
				s->projects[i].project.id;
			if ((int)strlen(n) > wname)
				wname = (int)strlen(n);
		}
		fprintf(f, "\n%-*s  %-12s  %5s  %-8s  %-20s  %-20s  %s\n", wname, "PROJECT", "VOLUME",
			"SIZE", "LOCATION", "LAST USED", "DEADLINE", "REAPER");
		for (i = 0; i < s->nprojects; i++) {
			const struct state_status_project *sp = &s->projects[i];
			const struct state_project *p = &sp->project;
			char vol[32], size[16], reaper[32];

			if (p->volume_status == STATE_VOLUME_NONE) {
				snprintf(vol, sizeof(vol), "none");
				snprintf(size, sizeof(size), "-");
			} else {
				snprintf(vol, sizeof(vol), "%lld%s", (long long)p->volume_hcloud_id,
					 p->volume_status == STATE_VOLUME_DELETING ? "*" : "");
				snprintf(size, sizeof(size), "%lldG", (long long)p->size_gb);
			}
			if (sp->has_reaper)
				snprintf(reaper, sizeof(reaper), "pid %d%s", (int)sp->reaper.pid,
					 sp->reaper_alive ? "" : " (dead)");
			else
				snprintf(reaper, sizeof(reaper), "-");
			fprintf(f, "%-*s  %-12s  %5s  %-8s  %-20s  %-20s  %s\n", wname,
				p->name ? p->name : p->id, vol, size,
				p->location ? p->location : "-",
				fmt_time(a, sizeof(a), p->last_used),
				p->volume_status == STATE_VOLUME_NONE ? "-" :
				fmt_time(b, sizeof(b), p->volume_deadline), reaper);
			if (sp->has_reaper && sp->reaper.last_error)
				fprintf(f, "  last error: %s%s\n", sp->reaper.last_error,
					sp->reaper.needs_human ? " (needs a human)" : "");
		}
		fprintf(f, "\n");
	}
	fprintf(f, "runs in progress  %lld\n", (long long)s->runs_in_progress);
	for (i = 0; i < s->nleases; i++) {
		const struct state_lease_info *l = &s->leases[i];
		const char *pname = l->project;
		size_t k;

		for (k = 0; k < s->nprojects; k++)
			if (l->project && !strcmp(s->projects[k].project.id, l->project) &&
			    s->projects[k].project.name)
				pname = s->projects[k].project.name;
		fprintf(f, "  pid %d, project %s, heartbeat %s\n", (int)l->pid,
			pname ? pname : "-", fmt_rel(a, sizeof(a), l->heartbeat_at, s->now));
	}
	if (s->pending_intents)
		fprintf(f, "pending creates   %lld (reconciled on the next run)\n",
			(long long)s->pending_intents);
}

int state_print_status(struct burst_state *st, FILE *out, bool json, struct burst_error *err)
{
	struct state_status s;

	if (state_status_query(st, &s, err) < 0)
		return -1;
	if (json) {
		cJSON *j = status_json(st, &s);
		char *text = cJSON_Print(j);

		fprintf(out, "%s\n", text);
		cJSON_free(text);
		cJSON_Delete(j);
	} else {
		status_human(st, out, &s);
	}
	state_status_release(&s);
	return 0;
}

/* ---- audit ------------------------------------------------------------ */

struct i64vec {
	int64_t *v;
	size_t n, alloc;
};

static void vec_push(struct i64vec *a, int64_t x)
{
	ALLOC_GROW(a->v, a->n + 1, a->alloc);
	a->v[a->n++] = x;
}

/* k-th smallest (0-based) by quickselect; reorders a. */
static int64_t select_kth(int64_t *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		int64_t pivot = a[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;

		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				int64_t t = a[i];

				a[i] = a[j];
				a[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return a[k];
}

/* Nearest-rank percentile q (0..1) of a (reordered). */
static double percentile(struct i64vec *a, double q)
{
	size_t k;

	if (!a->n)
		return 0;
	k = (size_t)ceil(q * (double)a->n);
	if (k < 1)
		k = 1;
	return (double)select_kth(a->v, a->n, k - 1);
}

static void phase_stats(struct i64vec *a, struct state_phase_stats *ps)
{
	double sum = 0;
	size_t i;

	ps->n = (int64_t)a->n;
	for (i = 0; i < a->n; i++)
		sum += (double)a->v[i];
	ps->mean_ms = a->n ? sum / (double)a->n : 0;
	ps->p50_ms = percentile(a, 0.50);
	ps->p95_ms = percentile(a, 0.95);
}

void state_audit_release(struct state_audit *a)
{
	size_t i;

	for (i = 0; i < a->nverbs; i++)
		free(a->verbs[i].verb);
	FREE_AND_NULL(a->verbs);
	a->nverbs = 0;
}

static const int64_t whatif_secs[STATE_WHATIF_N] = { 0, 300, 900, 1800, 3600 };

static int64_t billed(int64_t secs)
{
	if (secs < 1)
		secs = 1;
	return (secs + 3599) / 3600;
}

#define NPHASE 5
enum { PH_PROVISION, PH_SYNC, PH_CARGO, PH_FETCH, PH_WALL };

struct span {
	int64_t start, end;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static bool i64_contains(const struct i64vec *sorted, int64_t x)
{
	size_t lo = 0, hi = sorted->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sorted->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sorted->n && sorted->v[lo] == x;
}

/* Keep-alive what-if over runs sorted by start. */
static void whatif(struct state_audit *a, const struct span *sp, size_t n)
{
	int k;
	size_t i;

	for (k = 0; k < STATE_WHATIF_N && n; k++) {
		int64_t K = whatif_secs[k], sess = sp[0].start, busy = sp[0].end, len;

		a->whatif[k].provisions = 1;
		for (i = 1; i < n; i++) {
			if (sp[i].start > busy + K) {
				len = busy + K - sess;
				a->whatif[k].server_hours += (double)len / 3600.0;
				a->whatif[k].billed_hours += billed(len);
				a->whatif[k].provisions++;
				sess = sp[i].start;
				busy = sp[i].end;
			} else if (sp[i].end > busy) {
				busy = sp[i].end;
			}
		}
		len = busy + K - sess;
		a->whatif[k].server_hours += (double)len / 3600.0;
		a->whatif[k].billed_hours += billed(len);
	}
}

/*
 * One pass over runs in storage order (rowid ~ start order; the spans are
 * sorted afterwards only when they are not already).
 */
static int audit_runs(struct burst_state *st, struct state_audit *a,
		      const struct i64vec *prov_ids, struct burst_error *err)
{
	struct i64vec ph[2][NPHASE];
	double sum[NPHASE] = { 0 };
	struct span *spans = NULL;
	size_t nspans = 0, aspans = 0, valloc = 0;
	bool sorted = true;
	int64_t attributed = 0;
	sqlite3_stmt *s = NULL;
	int rc, ret = -1, c, p;
	size_t i;

	memset(ph, 0, sizeof(ph));
	if (st_prepare(st, "SELECT started_at, finished_at, cold, success, interrupted,"
			   " provision_ms, sync_ms, cargo_ms, fetch_ms, wall_ms, verb,"
			   " server_hcloud_id FROM runs", &s, err) < 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t start = sqlite3_column_int64(s, 0);
		bool finished = sqlite3_column_type(s, 1) != SQLITE_NULL;
		int64_t end = finished ? sqlite3_column_int64(s, 1) : start;
		int64_t server = sqlite3_column_int64(s, 11);
		const char *verb;
		int64_t v[NPHASE];
		struct state_verb_stats *vs = NULL;

		a->runs_total++;
		ALLOC_GROW(spans, nspans + 1, aspans);
		if (nspans && start < spans[nspans - 1].start)
			sorted = false;
		spans[nspans].start = start;
		spans[nspans].end = end < start ? start : end;
		nspans++;
		if (server && i64_contains(prov_ids, server))
			attributed++;
		if (!finished)
			continue;
		a->runs_finished++;
		if (!sqlite3_column_int(s, 3))
			a->runs_failed++;
		if (sqlite3_column_int(s, 4))
			a->runs_interrupted++;
		c = sqlite3_column_int(s, 2) ? 0 : 1;
		for (p = 0; p < NPHASE; p++) {
			v[p] = sqlite3_column_int64(s, 5 + p);
			vec_push(&ph[c][p], v[p]);
			sum[p] += (double)v[p];
		}
		verb = (const char *)sqlite3_column_text(s, 10);
		if (!verb)
			verb = "?";
		for (i = 0; i < a->nverbs; i++)
			if (!strcmp(a->verbs[i].verb, verb)) {
				vs = &a->verbs[i];
				break;
			}
		if (!vs) {
			ALLOC_GROW(a->verbs, a->nverbs + 1, valloc);
			vs = &a->verbs[a->nverbs++];
			memset(vs, 0, sizeof(*vs));
			vs->verb = xstrdup(verb);
		}
		vs->n++;
		if (!sqlite3_column_int(s, 3))
			vs->failures++;
		/* running sums; divided below */
		vs->mean_wall_ms += (double)v[PH_WALL];
		vs->mean_cargo_ms += (double)v[PH_CARGO];
	}
	if (rc != SQLITE_DONE) {
		st_dberr(st, err, "reading runs");
		goto out;
	}
	if (!sorted)
		qsort(spans, nspans, sizeof(*spans), span_cmp);
	whatif(a, spans, nspans);
	if (a->sessions)
		a->commands_per_session = (double)attributed / (double)a->sessions;
	for (c = 0; c < 2; c++) {
		struct state_run_class *rc_ = c ? &a->warm : &a->cold;

		rc_->n = (int64_t)ph[c][0].n;
		phase_stats(&ph[c][PH_PROVISION], &rc_->provision);
		phase_stats(&ph[c][PH_SYNC], &rc_->sync);
		phase_stats(&ph[c][PH_CARGO], &rc_->cargo);
		phase_stats(&ph[c][PH_FETCH], &rc_->fetch);
		phase_stats(&ph[c][PH_WALL], &rc_->wall);
	}
	if (sum[PH_WALL] > 0) {
		a->share_provision = sum[PH_PROVISION] / sum[PH_WALL];
		a->share_sync = sum[PH_SYNC] / sum[PH_WALL];
		a->share_cargo = sum[PH_CARGO] / sum[PH_WALL];
		a->share_fetch = sum[PH_FETCH] / sum[PH_WALL];
		a->share_other = 1.0 - a->share_provision - a->share_sync - a->share_cargo -
				 a->share_fetch;
		if (a->share_other < 0)
			a->share_other = 0;
	}
	for (i = 0; i < a->nverbs; i++) {
		a->verbs[i].mean_wall_ms /= (double)a->verbs[i].n;
		a->verbs[i].mean_cargo_ms /= (double)a->verbs[i].n;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	free(spans);
	for (c = 0; c < 2; c++)
		for (p = 0; p < NPHASE; p++)
			free(ph[c][p].v);
	return ret;
}

enum { R_REAP, R_DOWN, R_STALE, R_ORPHANED, R_FAILED, R_OTHER };

struct term {
	int64_t id, ts;
	int reason;
};

static int term_cmp(const void *a, const void *b)
{
	const struct term *x = a, *y = b;

	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	return (x->ts > y->ts) - (x->ts < y->ts);
}

static int reason_code(const char *r)
{
	static const char *const names[] = { "reap", "down", "stale", "orphaned", "failed" };
	int i;

	for (i = 0; r && i < (int)ARRAY_SIZE(names); i++)
		if (!strcmp(r, names[i]))
			return i;
	return R_OTHER;
}

/* The earliest termination of server id (terms sorted by id, ts), or NULL. */
static const struct term *term_find(const struct term *t, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && t[lo].id == id ? &t[lo] : NULL;
}

/*
 * Server sessions (provisioned .. terminated or now), churn, and volume
 * GB-months.  Fills prov_ids (sorted) for commands per session.
 */
static int audit_sessions(struct burst_state *st, struct state_audit *a, struct i64vec *prov_ids,
			  struct burst_error *err)
{
	struct i64vec life = { 0 }, term_ts = { 0 };
	struct term *terms = NULL;
	size_t nterms = 0, aterms = 0, ti = 0;
	int64_t *counts[] = { &a->term_reap, &a->term_down, &a->term_stale, &a->term_orphaned,
			      &a->term_failed, &a->term_other };
	sqlite3_stmt *s = NULL;
	double life_sum = 0;
	int rc, ret = -1;

	/* terminations in time order (index events_kind_ts) */
	if (st_prepare(st, "SELECT resource_id, ts, reason FROM events"
			   " WHERE resource_kind='server' AND kind='terminated' ORDER BY ts", &s,
		       err) < 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(terms, nterms + 1, aterms);
		terms[nterms].id = sqlite3_column_int64(s, 0);
		terms[nterms].ts = sqlite3_column_int64(s, 1);
		terms[nterms].reason = reason_code((const char *)sqlite3_column_text(s, 2));
		vec_push(&term_ts, terms[nterms].ts);
		nterms++;
	}
	if (rc != SQLITE_DONE) {
		st_dberr(st, err, "reading events");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (nterms)
		qsort(terms, nterms, sizeof(*terms), term_cmp);

	if (st_prepare(st, "SELECT resource_id, ts FROM events"
			   " WHERE resource_kind='server' AND kind='provisioned' ORDER BY ts", &s,
		       err) < 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		int64_t pts = sqlite3_column_int64(s, 1);
		const struct term *t = term_find(terms, nterms, id);
		int64_t tts = t ? t->ts : a->now;
		int64_t len = tts > pts ? tts - pts : 0;

		vec_push(prov_ids, id);
		a->sessions++;
		a->billed_server_hours += billed(len);
		a->server_hours += (double)len / 3600.0;
		/* churn: the last termination at or before this provision */
		while (ti < term_ts.n && term_ts.v[ti] <= pts)
			ti++;
		if (ti > 0) {
			int64_t gap = pts - term_ts.v[ti - 1];

			a->churn_10m += gap <= 600;
			a->churn_30m += gap <= 1800;
			a->churn_60m += gap <= 3600;
		}
		if (!t) {
			a->sessions_open++;
			continue;
		}
		vec_push(&life, len);
		life_sum += (double)len;
		(*counts[t->reason])++;
	}
	if (rc != SQLITE_DONE) {
		st_dberr(st, err, "reading events");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (prov_ids->n)
		qsort(prov_ids->v, prov_ids->n, sizeof(*prov_ids->v), i64_cmp);
	if (life.n) {
		a->lifetime_mean_s = life_sum / (double)life.n;
		a->lifetime_median_s = percentile(&life, 0.5);
	}

	/* volumes: GB-months (few rows) */
	if (st_prepare(st, "SELECT p.ts, (SELECT min(t.ts) FROM events t"
			   "  WHERE t.resource_kind='volume' AND t.resource_id=p.resource_id"
			   "  AND t.kind='terminated'), p.size_gb FROM events p"
			   " WHERE p.resource_kind='volume' AND p.kind='provisioned'", &s, err) < 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t pts = sqlite3_column_int64(s, 0);
		int64_t tts = sqlite3_column_type(s, 1) == SQLITE_NULL ? a->now :
			sqlite3_column_int64(s, 1);
		int64_t gb = sqlite3_column_int64(s, 2);

		if (tts > pts)
			a->volume_gb_months += (double)gb * (double)(tts - pts) / (730.0 * 3600.0);
	}
	if (rc != SQLITE_DONE) {
		st_dberr(st, err, "reading events");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	free(life.v);
	free(term_ts.v);
	free(terms);
	return ret;
}

int state_audit_query(struct burst_state *st, double rate_eur_per_hour, struct state_audit *out,
		      struct burst_error *err)
{
	struct i64vec prov_ids = { 0 };
	int k;

	memset(out, 0, sizeof(*out));
	out->now = state_now();
	for (k = 0; k < STATE_WHATIF_N; k++)
		out->whatif[k].keep_alive_secs = whatif_secs[k];
	if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return st_dberr(st, err, "reading the audit log");
	if (audit_sessions(st, out, &prov_ids, err) < 0 ||
	    audit_runs(st, out, &prov_ids, err) < 0) {
		st_rollback(st);
		free(prov_ids.v);
		state_audit_release(out);
		return -1;
	}
	st_rollback(st); /* read-only snapshot */
	free(prov_ids.v);
	out->has_rate = rate_eur_per_hour >= 0;
	out->rate_eur_per_hour = out->has_rate ? rate_eur_per_hour : 0;
	out->volume_eur_per_gb_month = STATE_VOLUME_EUR_PER_GB_MONTH;
	snprintf(out->currency, sizeof(out->currency), "EUR");
	out->server_cost_eur = (double)out->billed_server_hours * out->rate_eur_per_hour;
	out->volume_cost_eur = out->volume_gb_months * out->volume_eur_per_gb_month;
	return 0;
}

static cJSON *phase_json(const struct state_phase_stats *ps)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "mean_ms", ps->mean_ms);
	cJSON_AddNumberToObject(o, "p50_ms", ps->p50_ms);
	cJSON_AddNumberToObject(o, "p95_ms", ps->p95_ms);
	return o;
}

static cJSON *class_json(const struct state_run_class *c)
{
	cJSON *o = cJSON_CreateObject(), *p;

	cJSON_AddNumberToObject(o, "count", (double)c->n);
	p = cJSON_AddObjectToObject(o, "phases");
	cJSON_AddItemToObject(p, "provision", phase_json(&c->provision));
	cJSON_AddItemToObject(p, "sync", phase_json(&c->sync));
	cJSON_AddItemToObject(p, "cargo", phase_json(&c->cargo));
	cJSON_AddItemToObject(p, "fetch", phase_json(&c->fetch));
	cJSON_AddItemToObject(p, "wall", phase_json(&c->wall));
	return o;
}

static cJSON *audit_json(const struct state_audit *a)
{
	cJSON *root = cJSON_CreateObject(), *o, *t, *arr;
	size_t i;
	int k;

	cJSON_AddNumberToObject(root, "schema", STATE_AUDIT_JSON_SCHEMA);
	o = cJSON_AddObjectToObject(root, "runs");
	cJSON_AddNumberToObject(o, "total", (double)a->runs_total);
	cJSON_AddNumberToObject(o, "finished", (double)a->runs_finished);
	cJSON_AddNumberToObject(o, "failed", (double)a->runs_failed);
	cJSON_AddNumberToObject(o, "interrupted", (double)a->runs_interrupted);

	o = cJSON_AddObjectToObject(root, "sessions");
	cJSON_AddNumberToObject(o, "count", (double)a->sessions);
	cJSON_AddNumberToObject(o, "open", (double)a->sessions_open);
	cJSON_AddNumberToObject(o, "lifetime_mean_secs", a->lifetime_mean_s);
	cJSON_AddNumberToObject(o, "lifetime_median_secs", a->lifetime_median_s);
	cJSON_AddNumberToObject(o, "commands_per_session", a->commands_per_session);
	t = cJSON_AddObjectToObject(o, "terminations");
	cJSON_AddNumberToObject(t, "reap", (double)a->term_reap);
	cJSON_AddNumberToObject(t, "down", (double)a->term_down);
	cJSON_AddNumberToObject(t, "stale", (double)a->term_stale);
	cJSON_AddNumberToObject(t, "orphaned", (double)a->term_orphaned);
	cJSON_AddNumberToObject(t, "failed", (double)a->term_failed);
	cJSON_AddNumberToObject(t, "other", (double)a->term_other);

	o = cJSON_AddObjectToObject(root, "churn");
	cJSON_AddNumberToObject(o, "within_10m", (double)a->churn_10m);
	cJSON_AddNumberToObject(o, "within_30m", (double)a->churn_30m);
	cJSON_AddNumberToObject(o, "within_60m", (double)a->churn_60m);

	arr = cJSON_AddArrayToObject(root, "keep_alive_what_if");
	for (k = 0; k < STATE_WHATIF_N; k++) {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "keep_alive_secs", (double)a->whatif[k].keep_alive_secs);
		cJSON_AddNumberToObject(o, "provisions", (double)a->whatif[k].provisions);
		cJSON_AddNumberToObject(o, "server_hours", a->whatif[k].server_hours);
		cJSON_AddNumberToObject(o, "billed_hours", (double)a->whatif[k].billed_hours);
		if (a->has_rate)
			cJSON_AddNumberToObject(o, "cost_eur",
						(double)a->whatif[k].billed_hours * a->rate_eur_per_hour);
		cJSON_AddItemToArray(arr, o);
	}

	o = cJSON_AddObjectToObject(root, "cost");
	cJSON_AddStringToObject(o, "currency", a->currency);
	if (a->has_rate)
		cJSON_AddNumberToObject(o, "rate_per_hour", a->rate_eur_per_hour);
	else
		cJSON_AddNullToObject(o, "rate_per_hour");
	cJSON_AddNumberToObject(o, "billed_server_hours", (double)a->billed_server_hours);
	cJSON_AddNumberToObject(o, "server_hours", a->server_hours);
	if (a->has_rate)
		cJSON_AddNumberToObject(o, "server_eur", a->server_cost_eur);
	else
		cJSON_AddNullToObject(o, "server_eur");
	cJSON_AddNumberToObject(o, "volume_gb_months", a->volume_gb_months);
	cJSON_AddNumberToObject(o, "volume_eur_per_gb_month", a->volume_eur_per_gb_month);
	cJSON_AddNumberToObject(o, "volume_eur", a->volume_cost_eur);
	if (a->has_rate)
		cJSON_AddNumberToObject(o, "total_eur", a->server_cost_eur + a->volume_cost_eur);
	else
		cJSON_AddNullToObject(o, "total_eur");

	cJSON_AddItemToObject(root, "cold", class_json(&a->cold));
	cJSON_AddItemToObject(root, "warm", class_json(&a->warm));

	o = cJSON_AddObjectToObject(root, "wall_time_share");
	cJSON_AddNumberToObject(o, "provision", a->share_provision);
	cJSON_AddNumberToObject(o, "sync", a->share_sync);
	cJSON_AddNumberToObject(o, "cargo", a->share_cargo);
	cJSON_AddNumberToObject(o, "fetch", a->share_fetch);
	cJSON_AddNumberToObject(o, "other", a->share_other);

	arr = cJSON_AddArrayToObject(root, "verbs");
	for (i = 0; i < a->nverbs; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "verb", a->verbs[i].verb);
		cJSON_AddNumberToObject(o, "runs", (double)a->verbs[i].n);
		cJSON_AddNumberToObject(o, "failures", (double)a->verbs[i].failures);
		cJSON_AddNumberToObject(o, "mean_wall_ms", a->verbs[i].mean_wall_ms);
		cJSON_AddNumberToObject(o, "mean_cargo_ms", a->verbs[i].mean_cargo_ms);
		cJSON_AddItemToArray(arr, o);
	}
	return root;
}

static const char *dur(char *buf, size_t size, double ms)
{
	return ui_duration(buf, size, ms > 0 ? (uint64_t)(ms + 0.5) : 0);
}

static void print_class(FILE *f, const char *name, const struct state_run_class *c)
{
	static const char *const names[] = { "provision", "sync", "cargo", "fetch", "wall" };
	const struct state_phase_stats *ps[] = { &c->provision, &c->sync, &c->cargo, &c->fetch,
						 &c->wall };
	size_t i;

	fprintf(f, "  %s runs: %lld\n", name, (long long)c->n);
	if (!c->n)
		return;
	fprintf(f, "    %-10s %10s %10s %10s\n", "PHASE", "MEAN", "P50", "P95");
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		char a[32], b[32], d[32];

		fprintf(f, "    %-10s %10s %10s %10s\n", names[i],
			dur(a, sizeof(a), ps[i]->mean_ms), dur(b, sizeof(b), ps[i]->p50_ms),
			dur(d, sizeof(d), ps[i]->p95_ms));
	}
}

static void audit_human(FILE *f, const struct state_audit *a)
{
	char b1[32], b2[32];
	size_t i;
	int k;

	fprintf(f, "Runs\n  %lld recorded, %lld finished, %lld failed, %lld interrupted\n\n",
		(long long)a->runs_total, (long long)a->runs_finished, (long long)a->runs_failed,
		(long long)a->runs_interrupted);

	fprintf(f, "Sessions (server lifetimes)\n");
	fprintf(f, "  %-22s %lld (%lld still running)\n", "servers provisioned",
		(long long)a->sessions, (long long)a->sessions_open);
	fprintf(f, "  %-22s mean %s, median %s\n", "lifetime",
		dur(b1, sizeof(b1), a->lifetime_mean_s * 1000.0),
		dur(b2, sizeof(b2), a->lifetime_median_s * 1000.0));
	fprintf(f, "  %-22s %.1f\n", "commands per session", a->commands_per_session);
	fprintf(f, "  %-22s reap %lld, down %lld, stale %lld, orphaned %lld, failed %lld, "
		"other %lld\n\n", "terminated by", (long long)a->term_reap, (long long)a->term_down,
		(long long)a->term_stale, (long long)a->term_orphaned, (long long)a->term_failed,
		(long long)a->term_other);

	fprintf(f, "Server churn (re-provisioned after a termination)\n");
	fprintf(f, "  within 10m: %lld, within 30m: %lld, within 60m: %lld\n\n",
		(long long)a->churn_10m, (long long)a->churn_30m, (long long)a->churn_60m);

	fprintf(f, "Keep-alive what-if (from the run history)\n");
	fprintf(f, "  %-10s %10s %13s %13s%s\n", "KEEP-ALIVE", "PROVISIONS", "SERVER-HOURS",
		"BILLED HOURS", a->has_rate ? "        COST" : "");
	for (k = 0; k < STATE_WHATIF_N; k++) {
		char ka[32];

		snprintf(ka, sizeof(ka), "%lldm", (long long)(a->whatif[k].keep_alive_secs / 60));
		fprintf(f, "  %-10s %10lld %13.1f %13lld", ka, (long long)a->whatif[k].provisions,
			a->whatif[k].server_hours, (long long)a->whatif[k].billed_hours);
		if (a->has_rate)
			fprintf(f, " %11.2f %s",
				(double)a->whatif[k].billed_hours * a->rate_eur_per_hour, a->currency);
		fprintf(f, "\n");
	}
	fprintf(f, "\n");

	fprintf(f, "Cost (hourly rounding)\n");
	if (a->has_rate)
		fprintf(f, "  %-8s %lld billed hours (%.1f used) x %.2f %s = %.2f %s\n", "servers",
			(long long)a->billed_server_hours, a->server_hours, a->rate_eur_per_hour,
			a->currency, a->server_cost_eur, a->currency);
	else
		fprintf(f, "  %-8s %lld billed hours (%.1f used); pass --rate EUR_PER_HOUR for a "
			"price\n", "servers", (long long)a->billed_server_hours, a->server_hours);
	fprintf(f, "  %-8s %.2f GB-months x %.3f %s = %.2f %s\n", "volumes", a->volume_gb_months,
		a->volume_eur_per_gb_month, a->currency, a->volume_cost_eur, a->currency);
	if (a->has_rate)
		fprintf(f, "  %-8s %.2f %s\n", "total", a->server_cost_eur + a->volume_cost_eur,
			a->currency);
	fprintf(f, "\n");

	fprintf(f, "Commands, cold vs warm\n");
	print_class(f, "cold", &a->cold);
	print_class(f, "warm", &a->warm);
	fprintf(f, "\n");

	fprintf(f, "Where the wall time went\n");
	fprintf(f, "  provision %.1f%%, sync %.1f%%, cargo %.1f%%, fetch %.1f%%, other %.1f%%\n\n",
		a->share_provision * 100, a->share_sync * 100, a->share_cargo * 100,
		a->share_fetch * 100, a->share_other * 100);

	fprintf(f, "Per verb\n");
	fprintf(f, "  %-10s %8s %8s %10s %10s\n", "VERB", "RUNS", "FAILED", "MEAN WALL",
		"MEAN CARGO");
	for (i = 0; i < a->nverbs; i++)
		fprintf(f, "  %-10s %8lld %8lld %10s %10s\n", a->verbs[i].verb,
			(long long)a->verbs[i].n, (long long)a->verbs[i].failures,
			dur(b1, sizeof(b1), a->verbs[i].mean_wall_ms),
			dur(b2, sizeof(b2), a->verbs[i].mean_cargo_ms));
}

void state_audit_set_prices(struct state_audit *a, const struct state_prices *p)
{
	if (!p)
		return;
	a->has_rate = p->server_per_hour >= 0;
	a->rate_eur_per_hour = a->has_rate ? p->server_per_hour : 0;
	if (p->volume_per_gb_month >= 0)
		a->volume_eur_per_gb_month = p->volume_per_gb_month;
	if (p->currency && *p->currency)
		snprintf(a->currency, sizeof(a->currency), "%s", p->currency);
	a->server_cost_eur = (double)a->billed_server_hours * a->rate_eur_per_hour;
	a->volume_cost_eur = a->volume_gb_months * a->volume_eur_per_gb_month;
}

int state_print_audit(struct burst_state *st, FILE *out, double rate_eur_per_hour, bool json,
		      struct burst_error *err)
{
	struct state_prices p = { rate_eur_per_hour, -1, NULL };

	return state_print_audit_priced(st, out, &p, json, err);
}

int state_print_audit_priced(struct burst_state *st, FILE *out, const struct state_prices *prices,
			     bool json, struct burst_error *err)
{
	struct state_audit a;

	if (state_audit_query(st, prices ? prices->server_per_hour : -1, &a, err) < 0)
		return -1;
	state_audit_set_prices(&a, prices);
	if (json) {
		cJSON *j = audit_json(&a);
		char *text = cJSON_Print(j);

		fprintf(out, "%s\n", text);
		cJSON_free(text);
		cJSON_Delete(j);
	} else {
		audit_human(out, &a);
	}
	state_audit_release(&a);
	return 0;
}

/* ---- synthetic data --------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static int64_t rng_range(uint64_t *s, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

int state_debug_synthesize(struct burst_state *st, int64_t n_runs, uint64_t seed,
			   struct burst_error *err)
{
	static const char *const verbs[] = { "build", "test", "check", "run", "bench", "clippy" };
	static const char *const projects[] = { "synthetic0000", "synthetic0001",
						"synthetic0002" };
	sqlite3_stmt *run = NULL, *ev = NULL;
	uint64_t rs = seed * 0x9E3779B97F4A7C15ULL + 1;
	int64_t t = 1700000000, last_end = 0, server = 0, i;
	bool have = false;
	int ret = -1;
	size_t p;

	if (st_begin(st, err) < 0)
		return -1;
	if (st_prepare(st, "INSERT INTO runs(started_at, finished_at, verb, project, cold,"
			   " success, exit_code, interrupted, provision_ms, sync_ms, cargo_ms,"
			   " fetch_ms, wall_ms, server_hcloud_id)"
			   " VALUES (?,?,?,?,?,?,?,0,?,?,?,?,?,?)", &run, err) < 0 ||
	    st_prepare(st, "INSERT INTO events(ts, kind, resource_kind, resource_id,"
			   " resource_name, reason, size_gb) VALUES (?,?,?,?,?,?,?)", &ev, err) < 0)
		goto out;

#define EVENT(ts_, kind_, rk_, id_, reason_, gb_)                              \
	do {                                                                   \
		sqlite3_reset(ev);                                             \
		sqlite3_bind_int64(ev, 1, (ts_));                              \
		sqlite3_bind_text(ev, 2, (kind_), -1, SQLITE_STATIC);          \
		sqlite3_bind_text(ev, 3, (rk_), -1, SQLITE_STATIC);            \
		sqlite3_bind_int64(ev, 4, (id_));                              \
		sqlite3_bind_null(ev, 5);                                      \
		if (reason_)                                                   \
			sqlite3_bind_text(ev, 6, (reason_), -1, SQLITE_STATIC); \
		else                                                           \
			sqlite3_bind_null(ev, 6);                              \
		sqlite3_bind_int64(ev, 7, (gb_));                              \
		if (sqlite3_step(ev) != SQLITE_DONE) {                         \
			st_dberr(st, err, "synthesizing events");              \
			goto out;                                              \
		}                                                              \
	} while (0)

	for (p = 0; p < ARRAY_SIZE(projects); p++)
		EVENT(t, "provisioned", "volume", (int64_t)(9000000 + p), (const char *)NULL,
		      (int64_t)50);
	for (i = 0; i < n_runs; i++) {
		const char *verb = verbs[rng_next(&rs) % ARRAY_SIZE(verbs)];
		int64_t gap = rng_next(&rs) % 10 < 7 ? rng_range(&rs, 30, 600) :
			rng_range(&rs, 1800, 6 * 3600);
		int64_t start = have ? last_end + gap : t;
		bool cold = !have || start > last_end + 900;
		int64_t prov = cold ? rng_range(&rs, 25000, 60000) : 0;
		int64_t sync = rng_range(&rs, 200, 3000);
		int64_t cargo = rng_range(&rs, 1000, 120000);
		int64_t fetch = strcmp(verb, "build") && strcmp(verb, "bench") ? 0 :
			rng_range(&rs, 100, 2000);
		int64_t wall = prov + sync + cargo + fetch + rng_range(&rs, 100, 600);
		bool ok = rng_next(&rs) % 10 != 0;

		if (cold && have)
			EVENT(last_end + 900, "terminated", "server", server,
			      rng_next(&rs) % 20 ? "reap" : "down", (int64_t)0);
		if (cold) {
			server = 1000000 + i;
			EVENT(start, "provisioned", "server", server, (const char *)NULL, (int64_t)0);
		}
		sqlite3_reset(run);
		sqlite3_bind_int64(run, 1, start);
		sqlite3_bind_int64(run, 2, start + (wall + 999) / 1000);
		sqlite3_bind_text(run, 3, verb, -1, SQLITE_STATIC);
		sqlite3_bind_text(run, 4, projects[rng_next(&rs) % ARRAY_SIZE(projects)], -1,
				  SQLITE_STATIC);
		sqlite3_bind_int(run, 5, cold);
		sqlite3_bind_int(run, 6, ok);
		sqlite3_bind_int(run, 7, ok ? 0 : 101);
		sqlite3_bind_int64(run, 8, prov);
		sqlite3_bind_int64(run, 9, sync);
		sqlite3_bind_int64(run, 10, cargo);
		sqlite3_bind_int64(run, 11, fetch);
		sqlite3_bind_int64(run, 12, wall);
		sqlite3_bind_int64(run, 13, server);
		if (sqlite3_step(run) != SQLITE_DONE) {
			st_dberr(st, err, "synthesizing runs");
			goto out;
		}
		last_end = start + (wall + 999) / 1000;
		have = true;
	}
	if (have)
		EVENT(last_end + 900, "terminated", "server", server, "reap", (int64_t)0);
#undef EVENT
	sqlite3_finalize(run);
	sqlite3_finalize(ev);
	return st_commit(st, err);
out:
	sqlite3_finalize(run);
	sqlite3_finalize(ev);
	st_rollback(st);
	return ret;
}

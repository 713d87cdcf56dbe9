/*
 * report.c - the queries behind `status` and `audit` (their text and JSON
 * are src/cmd/report.c's), and synthetic data for tests and benchmarks.
 *
 * The audit reads each large table once: server events through the index
 * events_kind_ts (sessions, churn), then runs in storage order, which feed
 * the keep-alive what-if, cold/warm phase statistics, wall-time shares,
 * per-verb means and commands per session in a single pass; percentiles
 * use quickselect on the collected values (nearest rank), never a sort in
 * SQL.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "state-int.h"

/* ---- status ----------------------------------------------------------- */

void state_status_release(struct state_status *s)
{
	size_t i;

	state_image_release(&s->image);
	state_server_release(&s->server);
	state_reaper_release(&s->server_reaper);
	for (i = 0; i < s->nservers; i++) {
		state_server_release(&s->servers[i].server);
		state_reaper_release(&s->servers[i].reaper);
	}
	FREE_AND_NULL(s->servers);
	s->nservers = 0;
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

/* Every live server with its billed hour and its reaper. */
static int query_servers(struct burst_state *st, struct state_status *out,
			 struct burst_error *err)
{
	struct state_server *v = NULL;
	size_t n = 0;

	if (state_server_list_live(st, &v, &n, err) < 0)
		return -1;
	out->servers = xcalloc(n ? n : 1, sizeof(*out->servers));
	for (size_t i = 0; i < n; i++) {
		struct state_status_server *ss = &out->servers[out->nservers++];
		char key[32];
		int r;

		ss->server = v[i];
		memset(&v[i], 0, sizeof(v[i]));
		ss->paid_through = state_server_paid_through(ss->server.created_at, out->now);
		snprintf(key, sizeof(key), "%lld", (long long)ss->server.id);
		r = state_reaper_get(st, "server", key, &ss->reaper, err);
		if (r < 0) {
			state_servers_free(v, n);
			return -1;
		}
		ss->has_reaper = r == 1;
		ss->reaper_alive = r == 1 && state_pid_alive(ss->reaper.pid, ss->reaper.pid_start);
	}
	state_servers_free(v, n);
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
	if (query_servers(st, out, err) < 0)
		goto fail;
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
	int k, ret = 0;

	memset(out, 0, sizeof(*out));
	out->now = state_now();
	for (k = 0; k < STATE_WHATIF_N; k++)
		out->whatif[k].keep_alive_secs = whatif_secs[k];
	/* the one long scan: mapped for it (and only for it, see state_open) */
	sqlite3_exec(st->db, "PRAGMA mmap_size=268435456", NULL, NULL, NULL);
	if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		ret = st_dberr(st, err, "reading the audit log");
	else if (audit_sessions(st, out, &prov_ids, err) < 0 ||
		 audit_runs(st, out, &prov_ids, err) < 0)
		ret = -1;
	if (!sqlite3_get_autocommit(st->db))
		st_rollback(st); /* a read-only snapshot */
	sqlite3_exec(st->db, "PRAGMA mmap_size=0", NULL, NULL, NULL);
	free(prov_ids.v);
	if (ret < 0) {
		state_audit_release(out);
		return -1;
	}
	out->has_rate = rate_eur_per_hour >= 0;
	out->rate_eur_per_hour = out->has_rate ? rate_eur_per_hour : 0;
	out->volume_eur_per_gb_month = STATE_VOLUME_EUR_PER_GB_MONTH;
	snprintf(out->currency, sizeof(out->currency), "EUR");
	out->server_cost_eur = (double)out->billed_server_hours * out->rate_eur_per_hour;
	out->volume_cost_eur = out->volume_gb_months * out->volume_eur_per_gb_month;
	return 0;
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

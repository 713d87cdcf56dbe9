/* test-state-report.c - status and audit on hand-made data, JSON parsed back. */
#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <sqlite3.h>
#include <time.h>

#include "state-test.h"
#include "burst/report.h"
#include "burst/strbuf.h"

#define T 1000000LL

static void set_now(int64_t t)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)t);
	setenv("BURST_STATE_NOW", buf, 1);
}

static char *capture(struct burst_state *st, bool audit, bool json, double rate)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		bail_out("open_memstream");
	r = audit ? report_print_audit(st, f, &(struct state_prices){ rate, -1, NULL }, json, &err)
		  : report_print_status(st, f, json, &err);
	fclose(f);
	if (r < 0)
		diag("print failed: %s", err.message);
	burst_error_release(&err);
	return buf;
}

static double num(const cJSON *root, const char *path)
{
	char *p = xstrdup(path), *save = NULL, *tok;
	const cJSON *cur = root;
	double v = (double)NAN;

	for (tok = strtok_r(p, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(cur)) {
			int64_t i;

			cur = parse_int64(tok, 0, 1000, &i) ? NULL : cJSON_GetArrayItem(cur, (int)i);
		} else {
			cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
		}
	}
	if (cur && cJSON_IsNumber(cur))
		v = cur->valuedouble;
	else if (cur && cJSON_IsBool(cur))
		v = cJSON_IsTrue(cur);
	free(p);
	return v;
}

static const char *str(const cJSON *root, const char *a, const char *b)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, a);

	o = b ? cJSON_GetObjectItemCaseSensitive(o, b) : o;
	return cJSON_IsString(o) ? o->valuestring : NULL;
}

#define is_num(root, path, want)                                             \
	do {                                                                   \
		double got_ = num((root), (path)), want_ = (want);             \
		if (!ok(fabs(got_ - want_) < 1e-6, "%s = %g", (path), want_))   \
			diag("  got %g", got_);                                \
	} while (0)

static void add_event(struct burst_state *st, int64_t ts, const char *kind, const char *rk,
		      int64_t id, const char *reason, int64_t gb)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_event ev = { ts, kind, rk, id, NULL, reason, gb, NULL };

	if (state_event_add(st, &ev, &err) < 0)
		bail_out("event_add");
}

static void add_run(struct burst_state *st, int64_t start, int64_t end, const char *verb,
		    bool cold, bool success, int64_t prov, int64_t sync, int64_t cargo,
		    int64_t fetch, int64_t wall, int64_t server)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_run_result r = { cold, success, success ? 0 : 101, false, prov, sync,
				      cargo, fetch, wall, server };
	int64_t id;

	set_now(start);
	if (state_run_begin(st, verb, "p1", &id, &err) < 0)
		bail_out("run_begin");
	if (end) {
		set_now(end);
		if (state_run_finish(st, id, &r, &err) < 0)
			bail_out("run_finish");
	}
}

static void fill(struct burst_state *st)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_image img = { 42, T, (char *)"v3", NULL };
	struct state_server srv = { 0 }, arm = { 0 };
	struct state_project p = { 0 };
	int64_t lease, intent;
	bool claimed;
	char key[32];

	/* sessions: A 5400 s (reap), B 1800 s (down) 300 s after A, C open */
	add_event(st, T, "provisioned", "server", 11, NULL, 0);
	add_event(st, T + 5400, "terminated", "server", 11, "reap", 0);
	add_event(st, T + 5700, "provisioned", "server", 12, NULL, 0);
	add_event(st, T + 7500, "terminated", "server", 12, "down", 0);
	add_event(st, T + 9900, "provisioned", "server", 13, NULL, 0);
	/* one volume of 360 GB for 7300 s = exactly 1 GB-month (730 h) */
	add_event(st, T, "provisioned", "volume", 900, NULL, 360);
	add_event(st, T + 7300, "terminated", "volume", 900, "reap", 0);

	add_run(st, T + 10, T + 70, "build", true, true, 30000, 1000, 20000, 2000, 60000, 11);
	add_run(st, T + 100, T + 130, "test", false, true, 0, 500, 25000, 0, 30000, 11);
	add_run(st, T + 5700, T + 5760, "build", true, false, 40000, 2000, 15000, 0, 60000, 12);
	add_run(st, T + 9900, 0, "check", false, false, 0, 0, 0, 0, 0, 0); /* in progress */

	set_now(T + 17200);
	if (state_image_set(st, &img, &err) < 0)
		bail_out("image");
	/* an older arm64 server beside the x86 one: status lists both */
	arm.hcloud_id = 76;
	arm.name = (char *)"burst-arm";
	arm.ip = (char *)"127.0.9.8";
	arm.location = (char *)"fsn1";
	arm.server_type = (char *)"cax41";
	arm.status = STATE_SERVER_READY;
	arm.created_at = T + 3600;
	arm.keep_alive_secs = 300;
	arm.last_activity = T + 16000;
	if (state_server_insert(st, &arm, &err) < 0)
		bail_out("arm server");
	srv.hcloud_id = 77;
	srv.name = (char *)"burst-x";
	srv.ip = (char *)"127.0.9.9";
	srv.location = (char *)"hel1";
	srv.server_type = (char *)"ccx13";
	srv.status = STATE_SERVER_READY;
	srv.created_at = T;
	srv.keep_alive_secs = 600;
	srv.last_activity = T + 17000;
	if (state_server_insert(st, &srv, &err) < 0)
		bail_out("server");
	snprintf(key, sizeof(key), "%lld", (long long)srv.id);
	if (state_reaper_claim(st, "server", key, srv.deadline, "/tmp/reaper.log", &claimed,
			       &err) < 0 || !claimed)
		bail_out("reaper");
	p.id = (char *)"p1";
	p.root = (char *)"/src/demo";
	p.name = (char *)"demo";
	p.volume_hcloud_id = 555;
	p.volume_name = (char *)"burst-vol-p1";
	p.location = (char *)"fsn1";
	p.size_gb = 10;
	p.volume_status = STATE_VOLUME_READY;
	p.last_used = T + 17000;
	p.volume_keep_alive = 86400;
	p.volume_deadline = T + 17000 + 86400;
	if (state_project_put(st, &p, &err) < 0)
		bail_out("project");
	if (state_lease_acquire(st, "p1", srv.id, &lease, &err) != 0)
		bail_out("lease");
	if (state_intent_begin(st, STATE_INTENT_VOLUME, "burst-vol-p2", NULL, &intent, &err) < 0)
		bail_out("intent");
}

static void test_status(struct burst_state *st)
{
	char *text = capture(st, false, true, -1);
	cJSON *j = cJSON_Parse(text);
	const cJSON *projects;

	ok(j != NULL, "status --json parses");
	is_num(j, "schema", 1);
	is_str(str(j, "owner", NULL), state_owner_id(st), "status: owner");
	is_num(j, "image.id", 42);
	is_str(str(j, "image", "version"), "v3", "status: image version");
	is_num(j, "server.id", 77);
	is_str(str(j, "server", "location"), "hel1", "status: server location");
	is_str(str(j, "server", "status"), "ready", "status: server status");
	is_num(j, "server.up_secs", 17200);
	is_num(j, "server.paid_through", T + 5 * 3600);
	is_num(j, "server.deadline", T + 17600);
	is_num(j, "server.no_reap", 0);
	is_num(j, "server.reaper.pid", getpid());
	is_num(j, "server.reaper.alive", 1);
	/* every server, oldest first: the arm64 one too */
	is_int(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "servers")), 2,
	       "status: both servers listed");
	is_num(j, "servers.0.id", 76);
	is_str(str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "servers"), 0), "arch", NULL),
	       "arm64", "status: the first server is the arm64 one");
	is_num(j, "servers.0.deadline", T + 16300);
	is_num(j, "servers.0.paid_through", T + 3600 + 4 * 3600);
	ok(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "servers"),
								 0), "reaper")),
	   "status: the arm64 server has no reaper");
	is_num(j, "servers.1.id", 77);
	is_str(str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "servers"), 1), "arch", NULL),
	       "x86", "status: the second server is the x86 one");
	is_num(j, "servers.1.reaper.pid", getpid());
	projects = cJSON_GetObjectItemCaseSensitive(j, "projects");
	is_int(cJSON_GetArraySize(projects), 1, "status: one project");
	is_num(j, "projects.0.volume.id", 555);
	is_num(j, "projects.0.volume.size_gb", 10);
	is_num(j, "projects.0.volume.deadline", T + 17000 + 86400);
	is_num(j, "projects.0.last_used", T + 17000);
	is_num(j, "projects.0.runs_in_progress", 1);
	is_num(j, "runs_in_progress", 1);
	is_num(j, "leases.0.pid", getpid());
	is_num(j, "leases.0.heartbeat_at", T + 17200);
	is_str(str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "leases"), 0), "project", NULL), "p1",
	       "status: lease project");
	is_num(j, "pending_intents", 1);
	cJSON_Delete(j);
	free(text);

	text = capture(st, false, false, -1);
	ok(text && strstr(text, "paid through") && strstr(text, "burst-x") &&
	   strstr(text, "demo") && strstr(text, "fsn1"), "status: human output");
	ok(text && strstr(text, "server      burst-arm 76 (cax41, arm64) in fsn1, ready") &&
	   strstr(text, "server      burst-x 77 (ccx13, x86) in hel1, ready"),
	   "status: both servers in the human output");
	if (text && getenv("STATE_TEST_VERBOSE"))
		printf("%s", text);
	free(text);

	/* times in local time, like the run summary (the server was created at T) */
	setenv("TZ", "CET-1", 1);
	tzset();
	text = capture(st, false, false, -1);
	ok(text && strstr(text, "up since      1970-01-12 14:46 CET"),
	   "status: times in local time (TZ=CET-1)");
	ok(text && !strstr(text, "UTC"), "status: no time left in UTC");
	free(text);
	setenv("TZ", "UTC0", 1);
	tzset();
	text = capture(st, false, false, -1);
	ok(text && strstr(text, "up since      1970-01-12 13:46 UTC"), "status: TZ=UTC0 says UTC");
	free(text);
	unsetenv("TZ");
	tzset();
}

static void test_audit(struct burst_state *st)
{
	char *text = capture(st, true, true, 0.5);
	cJSON *j = cJSON_Parse(text);

	ok(j != NULL, "audit --json parses");
	is_num(j, "schema", 1);
	is_num(j, "runs.total", 4);
	is_num(j, "runs.finished", 3);
	is_num(j, "runs.failed", 1);
	is_num(j, "sessions.count", 3);
	is_num(j, "sessions.open", 1);
	is_num(j, "sessions.lifetime_mean_secs", 3600);
	is_num(j, "sessions.lifetime_median_secs", 1800);
	is_num(j, "sessions.commands_per_session", 1.0);
	is_num(j, "sessions.terminations.reap", 1);
	is_num(j, "sessions.terminations.down", 1);
	is_num(j, "churn.within_10m", 1);
	is_num(j, "churn.within_30m", 1);
	is_num(j, "churn.within_60m", 2);
	/* keep-alive what-if: 0, 5, 15, 30, 60 min */
	is_num(j, "keep_alive_what_if.0.provisions", 4);
	is_num(j, "keep_alive_what_if.0.billed_hours", 4);
	is_num(j, "keep_alive_what_if.0.server_hours", 150.0 / 3600);
	is_num(j, "keep_alive_what_if.1.provisions", 3);
	is_num(j, "keep_alive_what_if.1.server_hours", 1080.0 / 3600);
	is_num(j, "keep_alive_what_if.2.server_hours", 2880.0 / 3600);
	is_num(j, "keep_alive_what_if.3.server_hours", 5580.0 / 3600);
	is_num(j, "keep_alive_what_if.4.provisions", 3);
	is_num(j, "keep_alive_what_if.4.billed_hours", 5);
	is_num(j, "keep_alive_what_if.4.server_hours", 10980.0 / 3600);
	/* cost: 2 + 1 + 3 (open until now) billed hours at 0.50 */
	is_num(j, "cost.billed_server_hours", 6);
	is_num(j, "cost.server_eur", 3.0);
	is_num(j, "cost.volume_gb_months", 1.0);
	is_num(j, "cost.volume_eur", STATE_VOLUME_EUR_PER_GB_MONTH);
	is_num(j, "cost.total_eur", 3.0 + STATE_VOLUME_EUR_PER_GB_MONTH);
	is_num(j, "cold.count", 2);
	is_num(j, "cold.phases.provision.mean_ms", 35000);
	is_num(j, "cold.phases.provision.p50_ms", 30000);
	is_num(j, "cold.phases.provision.p95_ms", 40000);
	is_num(j, "cold.phases.cargo.mean_ms", 17500);
	is_num(j, "warm.count", 1);
	is_num(j, "warm.phases.cargo.p95_ms", 25000);
	is_num(j, "wall_time_share.provision", 70000.0 / 150000);
	is_num(j, "wall_time_share.cargo", 60000.0 / 150000);
	is_num(j, "wall_time_share.other", 1.0 - (70000.0 + 3500 + 60000 + 2000) / 150000);
	is_str(str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "verbs"), 0), "verb", NULL), "build",
	       "audit: first verb");
	is_num(j, "verbs.0.runs", 2);
	is_num(j, "verbs.0.failures", 1);
	is_num(j, "verbs.0.mean_wall_ms", 60000);
	is_num(j, "verbs.0.mean_cargo_ms", 17500);
	is_num(j, "verbs.1.mean_wall_ms", 30000);
	cJSON_Delete(j);
	free(text);

	text = capture(st, true, true, -1);
	j = cJSON_Parse(text);
	ok(j && cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "cost"), "server_eur")),
	   "audit without a rate: server cost is null");
	cJSON_Delete(j);
	free(text);

	{
		struct state_prices pr = { 1.25, 0.1, "USD" };
		struct burst_error err = BURST_ERROR_INIT;
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		ok(f && report_print_audit(st, f, &pr, true, &err) == 0, "audit with prices");
		if (f)
			fclose(f);
		j = buf ? cJSON_Parse(buf) : NULL;
		is_str(str(j, "cost", "currency"), "USD", "priced: currency");
		is_num(j, "cost.server_eur", 6 * 1.25);
		is_num(j, "cost.volume_eur", 0.1);
		is_num(j, "cost.total_eur", 7.6);
		cJSON_Delete(j);
		free(buf);
	}

	text = capture(st, true, false, 0.5);
	ok(text && strstr(text, "6 billed hours") && strstr(text, "3.00 EUR") &&
	   strstr(text, "Per verb") && strstr(text, "within 60m: 2"), "audit: human output");
	if (text && getenv("STATE_TEST_VERBOSE"))
		printf("%s", text);
	free(text);
}

/* The audit's event queries must use the covering index, never a table scan. */
static void test_query_plans(struct burst_state *st)
{
	static const char *const q[] = {
		"SELECT resource_id, ts, reason FROM events"
		" WHERE resource_kind='server' AND kind='terminated' ORDER BY ts",
		"SELECT resource_id, ts FROM events"
		" WHERE resource_kind='server' AND kind='provisioned' ORDER BY ts",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(q); i++) {
		char *sql = xstrfmt("EXPLAIN QUERY PLAN %s", q[i]);
		struct strbuf plan = STRBUF_INIT;
		sqlite3_stmt *s;

		if (sqlite3_prepare_v2(state_sqlite(st), sql, -1, &s, NULL) == SQLITE_OK)
			while (sqlite3_step(s) == SQLITE_ROW)
				strbuf_addf(&plan, "%s; ", (const char *)sqlite3_column_text(s, 3));
		sqlite3_finalize(s);
		ok(strstr(plan.buf, "COVERING INDEX events_kind_ts") && !strstr(plan.buf, "TEMP B-TREE"),
		   "query plan %zu uses the covering index without a sort", i);
		if (!strstr(plan.buf, "COVERING INDEX"))
			diag("plan: %s", plan.buf);
		strbuf_release(&plan);
		free(sql);
	}
}

/* Replace every whole-word occurrence of from in *text by to. */
static void replace_word(char **text, const char *from, const char *to)
{
	struct strbuf out = STRBUF_INIT;
	size_t n = strlen(from);
	const char *p = *text, *hit;

	if (!n)
		return;
	while ((hit = strstr(p, from))) {
		bool left = hit == *text || !isalnum((unsigned char)hit[-1]);
		bool right = !isalnum((unsigned char)hit[n]);

		strbuf_add(&out, p, (size_t)(hit - p));
		strbuf_addstr(&out, left && right ? to : from);
		p = hit + n;
	}
	strbuf_addstr(&out, p);
	free(*text);
	*text = strbuf_detach(&out, NULL);
}

/*
 * status and audit, text and JSON, byte for byte as in tests/state/golden/
 * (TZ=UTC; the state dir, the owner id and this pid replaced).  BURST_UPDATE_GOLDEN=1
 * writes the files instead.
 */
static void test_golden(struct burst_state *st)
{
	static const struct {
		const char *file;
		bool audit, json;
		double rate;
	} outs[] = {
		{ "status.txt", false, false, -1 },
		{ "status.json", false, true, -1 },
		{ "audit.txt", true, false, 0.5 },
		{ "audit.json", true, true, 0.5 },
	};
	const char *src = getenv("BURST_SOURCE_ROOT");
	bool update = getenv("BURST_UPDATE_GOLDEN") != NULL;
	char pid[32];

	if (!src) {
		ok(0, "golden output: BURST_SOURCE_ROOT is not set (run through meson test)");
		return;
	}
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	for (size_t i = 0; i < ARRAY_SIZE(outs); i++) {
		char *path = xstrfmt("%s/tests/state/golden/%s", src, outs[i].file);
		char *got = capture(st, outs[i].audit, outs[i].json, outs[i].rate);
		struct strbuf want = STRBUF_INIT;

		replace_word(&got, state_dir(st), "STATE_DIR");
		replace_word(&got, state_owner_id(st), "OWNER");
		replace_word(&got, pid, "PID");
		if (update) {
			FILE *f = fopen(path, "w");

			ok(f && fputs(got, f) >= 0 && fclose(f) == 0, "golden %s written",
			   outs[i].file);
		} else if (strbuf_read_file(&want, path) < 0) {
			ok(0, "golden %s: cannot read %s", outs[i].file, path);
		} else if (!ok(!strcmp(got, want.buf), "%s as in the golden file", outs[i].file)) {
			diag("got:\n%s", got);
		}
		strbuf_release(&want);
		free(got);
		free(path);
	}
}

int main(void)
{
	struct burst_state *st;

	test_tmpdir();
	st = test_open(NULL);
	fill(st);
	set_now(T + 17200);
	test_status(st);
	test_audit(st);
	test_query_plans(st);
	setenv("TZ", "UTC", 1);
	tzset();
	test_golden(st);
	{
		struct burst_state *empty;
		char *text, *dir = xstrfmt("%s/empty", state_dir(st));

		empty = test_open(dir);
		text = capture(empty, true, true, -1);
		{
			cJSON *j = text ? cJSON_Parse(text) : NULL;

			ok(j != NULL, "audit of an empty database");
			is_num(j, "runs.total", 0);
			is_num(j, "sessions.count", 0);
			cJSON_Delete(j);
		}
		free(text);
		text = capture(empty, false, false, -1);
		ok(text && strstr(text, "server      none"), "status of an empty database");
		free(text);
		state_close(empty);
		free(dir);
	}
	state_close(st);
	return done_testing();
}

/*
 * test-state-handover.c - what lets a resource outlive its state database:
 * the endpoint recorded with each server and volume (migration 1 -> 2 for
 * old rows), the "needs adoption" mark of a new database, and the
 * hand-over of a server or volume from a replaced database to the new one
 * without extending its deadline.
 */
#include <sqlite3.h>

#include "state-test.h"

#define EP_A "http://127.0.0.1:1/v1"
#define EP_B "http://127.0.0.2:2/v1"

static int64_t sql_int(struct burst_state *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(state_sqlite(st), sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void test_endpoint_recorded(const char *dir)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = test_open(dir);
	struct state_server srv = { 0 }, got = { 0 };
	struct state_project p = { 0 };

	state_set_endpoint(st, EP_A);
	srv.name = "s1";
	srv.hcloud_id = 11;
	srv.keep_alive_secs = 60;
	ok(state_server_insert(st, &srv, &err) == 0, "server inserted without an endpoint");
	ok(state_server_get(st, srv.id, &got, &err) == 1, "read back");
	is_str(got.endpoint, EP_A, "the connection's endpoint is recorded with the row");
	ok(!got.adopted, "not adopted");
	/* the config now names another endpoint: rewriting the row keeps its own */
	state_set_endpoint(st, EP_B);
	got.ip = NULL;
	FREE_AND_NULL(got.endpoint);
	ok(state_server_update(st, &got, &err) == 0, "row rewritten");
	state_server_release(&got);
	ok(state_server_get(st, srv.id, &got, &err) == 1 && got.endpoint &&
	   !strcmp(got.endpoint, EP_A), "an update keeps the recorded endpoint (%s)",
	   got.endpoint ? got.endpoint : "NULL");
	state_server_release(&got);
	ok(state_project_set_volume(st, "projA", 21, "vol", "fsn1", 10, &err) == 0,
	   "volume recorded");
	ok(state_project_get(st, "projA", &p, &err) == 1, "project read back");
	is_str(p.volume_endpoint, EP_B, "the volume records the endpoint of its connection");
	state_set_endpoint(st, EP_A);
	FREE_AND_NULL(p.volume_endpoint);
	ok(state_project_put(st, &p, &err) == 0, "project rewritten (run.c does get + put)");
	state_project_release(&p);
	ok(state_project_get(st, "projA", &p, &err) == 1 && p.volume_endpoint &&
	   !strcmp(p.volume_endpoint, EP_B), "a put keeps the volume's endpoint");
	state_project_release(&p);
	is_int(sql_int(st, "SELECT count(*) FROM meta WHERE value LIKE '%token%'"), 0,
	       "no token anywhere in meta");
	state_close(st);
	burst_error_release(&err);
}

static void test_migration(const char *base)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *dir = xstrfmt("%s/v1", base), *db;
	struct burst_state *st;
	struct state_server got = { 0 };
	sqlite3 *raw = NULL;

	st = test_open(dir);
	state_close(st);
	db = xstrfmt("%s/state.db", dir);
	/* make it a schema 1 database with a server row, as an older build left it */
	ok(sqlite3_open(db, &raw) == SQLITE_OK, "open raw");
	ok(sqlite3_exec(raw, "DELETE FROM meta WHERE key = 'needs_adoption';"
			"ALTER TABLE servers DROP COLUMN endpoint;"
			"ALTER TABLE servers DROP COLUMN adopted;"
			"ALTER TABLE servers DROP COLUMN arch;"
			"ALTER TABLE projects DROP COLUMN volume_endpoint;"
			"ALTER TABLE projects DROP COLUMN volume_adopted;"
			"INSERT INTO servers(hcloud_id, name, created_at, status, last_activity,"
			" deadline, billing_start) VALUES (5, 'old', 1, 'ready', 1, 2, 1);"
			"PRAGMA user_version = 1", NULL, NULL, NULL) == SQLITE_OK,
	   "downgrade to schema 1 with an old row");
	sqlite3_close(raw);
	st = test_open(dir);
	is_int(sql_int(st, "PRAGMA user_version"), STATE_SCHEMA_VERSION, "migrated to schema %d",
	       STATE_SCHEMA_VERSION);
	ok(state_server_by_hcloud_id(st, 5, &got, &err) == 1, "old row still there");
	ok(got.endpoint == NULL, "an old row has no endpoint (its reaper uses the config's)");
	ok(!state_needs_adoption(st), "a migrated database does not need adoption");
	state_server_release(&got);
	state_close(st);
	free(db);
	free(dir);
	burst_error_release(&err);
}

static void test_needs_adoption(const char *base)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *dir = xstrfmt("%s/adopt", base), *db = xstrfmt("%s/adopt/state.db", base);
	struct burst_state *st = test_open(dir);

	ok(state_needs_adoption(st), "a new database needs adoption");
	state_close(st);
	st = test_open(dir);
	ok(state_needs_adoption(st), "still, until a sweep adopted (a command without a token)");
	ok(state_adoption_done(st, &err) == 0, "adoption done");
	ok(!state_needs_adoption(st), "mark cleared");
	state_close(st);
	st = test_open(dir);
	ok(!state_needs_adoption(st), "and stays cleared");
	state_close(st);
	unlink(db);
	st = test_open(dir);
	ok(state_needs_adoption(st), "a deleted database comes back needing adoption");
	state_close(st);
	{
		FILE *f = fopen(db, "w");

		for (int i = 0; f && i < 400; i++)
			fputs("this is not a database ", f);
		if (f)
			fclose(f);
	}
	st = test_open(dir);
	ok(state_was_reset(st) && state_needs_adoption(st),
	   "a corrupt one moved aside: the new one needs adoption");
	state_close(st);
	free(db);
	free(dir);
	burst_error_release(&err);
}

static void test_server_handover(const char *base)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *dir = xstrfmt("%s/ho", base);
	struct burst_state *st = test_open(dir);
	struct state_server old = { 0 }, got = { 0 }, adopted = { 0 };
	int64_t row = 0;
	bool taken = true;

	old.hcloud_id = 77;
	old.name = "srv77";
	old.ip = "127.1.2.3";
	old.status = STATE_SERVER_READY;
	old.created_at = 1000;
	old.last_activity = 2000;
	old.keep_alive_secs = 30;
	old.deadline = 2030;
	old.endpoint = EP_A;
	state_set_endpoint(st, EP_B);
	ok(state_server_handover(st, &old, &row, &taken, &err) == 0, "handover to an empty state");
	ok(!taken && row > 0, "the new state did not know it: a row was inserted");
	ok(state_server_get(st, row, &got, &err) == 1, "read the new row");
	ok(got.deadline == 2030 && got.last_activity == 2000 && got.hcloud_id == 77 &&
	   got.status == STATE_SERVER_READY && got.ip && !strcmp(got.ip, "127.1.2.3"),
	   "a copy with the old deadline, address and status");
	is_str(got.endpoint, EP_A, "and the old endpoint (not the connection's)");
	state_server_release(&got);
	ok(state_server_handover(st, &old, &row, &taken, &err) == 0 && taken,
	   "a second handover finds it taken");
	is_int(sql_int(st, "SELECT count(*) FROM servers"), 1, "no duplicate row");

	/* adopted by label meanwhile, with a later (guessed) deadline: lowered */
	adopted.hcloud_id = 78;
	adopted.name = "srv78";
	adopted.status = STATE_SERVER_READY;
	adopted.last_activity = 5000;
	adopted.deadline = 5030;
	adopted.adopted = true;
	ok(state_server_insert(st, &adopted, &err) == 0, "adopted row");
	old.hcloud_id = 78;
	ok(state_server_handover(st, &old, &row, &taken, &err) == 0 && taken && row == adopted.id,
	   "handover of an adopted server: taken");
	ok(state_server_get(st, row, &got, &err) == 1 && got.deadline == 2030,
	   "its deadline lowered to the old state's (%lld)", (long long)got.deadline);
	state_server_release(&got);

	/* used by a run since adoption: its deadline stands */
	ok(state_server_touch(st, row, 9000, 30, false, false, 0, &err) == 0, "a run used it");
	ok(state_server_handover(st, &old, &row, &taken, &err) == 0 && taken, "handover again");
	ok(state_server_get(st, row, &got, &err) == 1 && got.deadline == 9030,
	   "a run's deadline is never lowered (%lld)", (long long)got.deadline);
	state_server_release(&got);
	state_close(st);
	free(dir);
	burst_error_release(&err);
}

static void test_volume_handover(const char *base)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *dir = xstrfmt("%s/hov", base);
	struct burst_state *st = test_open(dir);
	struct state_project old = { 0 }, got = { 0 };
	bool taken = true;

	old.id = "projV";
	old.name = "myapp";
	old.volume_hcloud_id = 91;
	old.volume_name = "vol91";
	old.volume_status = STATE_VOLUME_READY;
	old.last_used = 100;
	old.volume_keep_alive = 50;
	old.volume_deadline = 150;
	old.volume_endpoint = EP_A;
	state_set_endpoint(st, EP_B);
	is_int(state_volume_handover(st, &old, &taken, &err), 1, "handover to an empty state");
	ok(!taken, "recorded by the handover");
	ok(state_project_get(st, "projV", &got, &err) == 1 && got.volume_hcloud_id == 91 &&
	   got.volume_deadline == 150, "volume and deadline kept");
	is_str(got.volume_endpoint, EP_A, "and its endpoint");
	state_project_release(&got);
	is_int(state_volume_handover(st, &old, &taken, &err), 1, "again");
	ok(taken, "now taken");
	/* adopted with a later deadline: lowered */
	ok(state_project_touch(st, "projV", 1000, 50, &err) == 0 &&
	   state_volume_mark_adopted(st, "projV", &err) == 0, "adopted with a later deadline");
	is_int(state_volume_handover(st, &old, &taken, &err), 1, "handover of an adopted volume");
	ok(state_project_get(st, "projV", &got, &err) == 1 && got.volume_deadline == 150,
	   "deadline lowered to the old one (%lld)", (long long)got.volume_deadline);
	state_project_release(&got);
	/* the project has another volume now: nothing changes */
	ok(state_project_set_volume(st, "projV", 92, "vol92", "fsn1", 10, &err) == 0,
	   "another volume for the project");
	is_int(state_volume_handover(st, &old, &taken, &err), 0,
	   "handover refused: the old reaper keeps its volume");
	ok(state_project_get(st, "projV", &got, &err) == 1 && got.volume_hcloud_id == 92,
	   "the new volume stays recorded");
	state_project_release(&got);
	state_close(st);
	free(dir);
	burst_error_release(&err);
}

int main(void)
{
	const char *base = test_tmpdir();
	char *dir = xstrfmt("%s/ep", base);

	test_endpoint_recorded(dir);
	test_migration(base);
	test_needs_adoption(base);
	test_server_handover(base);
	test_volume_handover(base);
	free(dir);
	return done_testing();
}

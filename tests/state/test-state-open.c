/* test-state-open.c - opening, migrations, newer schema, corruption, owner id. */
#include <dirent.h>
#include <sqlite3.h>

#include "state-test.h"
#include "burst/config.h"
#include "burst/sha256.h"

static int64_t user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static int set_user_version(const char *path, int v)
{
	sqlite3 *db;
	char sql[64];
	int rc;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static int count_corrupt(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "state.db.corrupt-", 17) && !strchr(e->d_name + 17, '-'))
			n++;
	closedir(d);
	return n;
}

/* Overwrite path in place (truncated, the same file) with 16 KiB of text. */
static int write_garbage(const char *path)
{
	FILE *f = fopen(path, "w"); /* O_TRUNC: the same inode, not a new file */

	if (!f)
		return -1;
	for (int i = 0; i < 512; i++)
		fputs("this is not an sqlite database\n", f);
	return fclose(f) == 0 ? 0 : -1;
}

/*
 * n processes released at once (EOF on a pipe), each opening the state in
 * dir and recording an intent there; how many failed (each says why).
 */
static int open_at_once(const char *dir, int n)
{
	pid_t kids[16];
	int gate[2], bad = 0;

	if (n > 16 || pipe(gate) < 0)
		bail_out("open_at_once: pipe");
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			bail_out("open_at_once: fork");
		if (kids[i] == 0) {
			struct burst_error e = BURST_ERROR_INIT;
			struct burst_state *c = NULL;
			int64_t id;
			char b;

			close(gate[1]);
			if (read(gate[0], &b, 1) < 0)
				_exit(3);
			if (state_open(dir, &c, &e) < 0) {
				fprintf(stderr, "# open: %s\n", e.message);
				_exit(1);
			}
			if (state_intent_begin(c, STATE_INTENT_SERVER, "x", NULL, &id, &e) < 0) {
				fprintf(stderr, "# intent: %s\n", e.message);
				_exit(2);
			}
			state_close(c);
			_exit(0);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < n; i++)
		if (test_wait(kids[i], 60000) != 0)
			bad++;
	return bad;
}

static void test_sha256(void)
{
	char hex[65];

	is_str(sha256_hex("", 0, hex, 64),
	       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256('')");
	is_str(sha256_hex("abc", 3, hex, 64),
	       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256('abc')");
	{
		const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

		is_str(sha256_hex(m, strlen(m), hex, 64),
		       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
		       "sha256 of the 448-bit FIPS vector");
	}
	is_str(sha256_hex("abc", 3, hex, 12), "ba7816bf8f01", "12 hex digits");
}

int main(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = NULL;
	const char *tmp = test_tmpdir();
	char *dir = xstrfmt("%s/cargo-burst", tmp);
	char *db = xstrfmt("%s/state.db", dir);
	char owner[STATE_OWNER_ID_LEN + 1], owner2[STATE_OWNER_ID_LEN + 1];
	struct stat sb;
	char *def;

	test_sha256();

	def = config_state_dir();
	is_str(def, dir, "default dir follows XDG_STATE_HOME");
	free(def);

	/* from empty */
	ok(state_open(NULL, &st, &err) == 0, "open creates a fresh database");
	ok(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700, "state dir is 0700");
	is_str(state_db_path(st), db, "database path");
	ok(!state_was_reset(st), "fresh database is not a reset");
	is_int(user_version(db), STATE_SCHEMA_VERSION, "migrated to the current schema");
	snprintf(owner, sizeof(owner), "%s", state_owner_id(st));
	is_int(strlen(owner), STATE_OWNER_ID_LEN, "owner id has 12 hex digits");
	ok(strspn(owner, "0123456789abcdef") == STATE_OWNER_ID_LEN, "owner id is hex");
	{
		struct state_image img = { 42, 1000, (char *)"v1", NULL }, got;

		ok(state_image_set(st, &img, &err) == 0, "write a row");
		state_close(st);
		st = NULL;
		ok(state_open(dir, &st, &err) == 0, "reopen is idempotent");
		is_int(user_version(db), STATE_SCHEMA_VERSION, "schema unchanged by reopen");
		is_int(state_image_get(st, &got, &err), 1, "data survives reopen");
		is_int(got.hcloud_id, 42, "image id survives");
		state_image_release(&got);
	}
	is_str(state_owner_id(st), owner, "owner id stable across reopen");
	{
		sqlite3 *h = state_sqlite(st);
		sqlite3_stmt *s;
		char mode[16] = "";

		if (sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
			snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
		is_str(mode, "wal", "journal mode is WAL");
	}
	state_close(st);
	st = NULL;

	/* 2 -> 3: a server row of before gets no architecture (its type's) */
	{
		sqlite3 *h = NULL;
		struct state_server got = { 0 };
		int rc = sqlite3_open(db, &h);

		rc = rc == SQLITE_OK ? sqlite3_exec(h, "ALTER TABLE servers DROP COLUMN arch;"
				"INSERT INTO servers(hcloud_id, server_type, created_at, status,"
				" last_activity, deadline, billing_start)"
				" VALUES (31, 'cax41', 1, 'ready', 1, 1, 1);"
				"PRAGMA user_version = 2;", NULL, NULL, NULL) : rc;
		sqlite3_close(h);
		ok(rc == SQLITE_OK, "a schema 2 database with a server row");
		ok(state_open(dir, &st, &err) == 0, "opens");
		is_int(user_version(db), STATE_SCHEMA_VERSION, "migrated to the current schema");
		is_int(state_server_by_hcloud_id(st, 31, &got, &err), 1, "the row survives");
		ok(!got.arch, "with no architecture recorded");
		is_str(state_server_arch(&got), "arm64", "so its type's (cax41: arm64)");
		state_server_release(&got);
		state_close(st);
		st = NULL;
	}

	/* owner id survives loss of the database */
	unlink(db);
	{
		char *w = xstrfmt("%s-wal", db), *sh = xstrfmt("%s-shm", db);

		unlink(w);
		unlink(sh);
		free(w);
		free(sh);
	}
	ok(state_open(dir, &st, &err) == 0, "open after deleting the database");
	is_str(state_owner_id(st), owner, "owner id survives deletion of the database");
	state_compute_owner_id(dir, owner2);
	is_str(owner2, owner, "state_compute_owner_id agrees");
	{
		char *other = xstrfmt("%s/other", tmp);
		char o3[STATE_OWNER_ID_LEN + 1];

		mkdir(other, 0700);
		state_compute_owner_id(other, o3);
		ok(strcmp(o3, owner) != 0, "another state dir gets another owner id");
		rmdir(other);
		free(other);
	}
	state_close(st);
	st = NULL;

	/* newer schema is refused, never downgraded */
	ok(set_user_version(db, STATE_SCHEMA_VERSION + 5) == 0, "pretend a newer tool wrote it");
	ok(state_open(dir, &st, &err) < 0, "newer schema refused");
	is_int(err.exit_code, BURST_EXIT_STATE, "refusal is a state error");
	{
		char *want = xstrfmt("state database was written by a newer cargo-burst "
				     "(schema %d > %d); upgrade cargo-burst or move %s aside",
				     STATE_SCHEMA_VERSION + 5, STATE_SCHEMA_VERSION, db);

		is_str(err.message, want, "refusal message");
		free(want);
	}
	is_int(user_version(db), STATE_SCHEMA_VERSION + 5, "version not downgraded");
	ok(st == NULL, "no handle on refusal");
	burst_error_release(&err);
	ok(set_user_version(db, STATE_SCHEMA_VERSION) == 0, "restore version");

	/* corrupt database: moved aside, fresh one created */
	{
		if (write_garbage(db) < 0)
			bail_out("cannot write the corrupt file");
	}
	is_int(count_corrupt(dir), 0, "no corrupt copy yet");
	ok(state_open(dir, &st, &err) == 0, "corrupt database: open still succeeds");
	if (!st)
		diag("error: %s", err.message);
	ok(st && state_was_reset(st), "reset flag set");
	is_int(count_corrupt(dir), 1, "corrupt database moved aside");
	ok(st && state_reset_path(st) && stat(state_reset_path(st), &sb) == 0,
	   "the reported path exists");
	ok(st && !strncmp(state_reset_path(st), db, strlen(db)), "moved next to state.db");
	is_int(user_version(db), STATE_SCHEMA_VERSION, "fresh database has the schema");
	is_str(st ? state_owner_id(st) : NULL, owner, "owner id survives corruption");
	state_close(st);
	st = NULL;
	ok(state_open(dir, &st, &err) == 0 && !state_was_reset(st), "next open is clean");

	/* a damaged page inside a valid file: found by the daily quick_check */
	{
		struct state_event ev = { 1, "provisioned", "server", 1, "some-name", NULL, 0,
					  "padding padding padding padding padding padding" };
		char now[32];
		FILE *f;
		int i, okw = 1;

		for (i = 0; i < 2000 && okw; i++) {
			ev.resource_id = i;
			okw = state_event_add(st, &ev, &err) == 0;
		}
		ok(okw, "filled the database");
		state_close(st);
		st = NULL;
		f = fopen(db, "r+b");
		ok(f && stat(db, &sb) == 0 && sb.st_size > 40 * 4096, "the file has many pages");
		/* overwrite two whole pages in the middle, headers included */
		ok(f && fseek(f, (sb.st_size / 2) / 4096 * 4096, SEEK_SET) == 0,
		   "open the file for damage");
		for (i = 0; f && i < 2 * 4096; i++)
			fputc(0xA5, f);
		if (f)
			fclose(f);
		snprintf(now, sizeof(now), "%lld", (long long)(burst_wall_time() + 2 * 86400));
		setenv("BURST_STATE_NOW", now, 1);
		ok(state_open(dir, &st, &err) == 0, "damaged database: open succeeds");
		ok(st && state_was_reset(st), "quick_check found the damage");
		is_int(count_corrupt(dir), 2, "damaged database moved aside too");
		/* corrupt again within the same second: the earlier copy is kept */
		state_close(st);
		st = NULL;
		f = fopen(db, "w");
		if (f) {
			fputs("garbage garbage garbage garbage garbage garbage garbage", f);
			fclose(f);
		}
		ok(state_open(dir, &st, &err) == 0 && state_was_reset(st), "third corruption");
		is_int(count_corrupt(dir), 3, "copies moved aside in the same second do not collide");
		unsetenv("BURST_STATE_NOW");
	}
	state_close(st);

	/* several processes creating the same fresh database at once */
	{
		char *fresh = xstrfmt("%s/fresh", tmp);
		is_int(open_at_once(fresh, 6), 0, "concurrent first opens all succeed");
		{
			char *p = xstrfmt("%s/state.db", fresh);

			is_int(user_version(p), STATE_SCHEMA_VERSION, "and migrate once");
			free(p);
		}
		free(fresh);
	}

	/*
	 * Several processes opening the same corrupt file at once (a command
	 * and the reapers it re-arms): one moves it aside, the others open the
	 * new database instead of moving that one aside as well (their writes
	 * would land in a file nobody reads).
	 */
	{
		char *d3 = xstrfmt("%s/corrupt-race", dir), *p = xstrfmt("%s/state.db", d3);
		int bad = 0, round, copies_ok = 1, rows_ok = 1;

		for (round = 0; round < 5; round++) {
			char *cmd = xstrfmt("rm -rf '%s' && mkdir -p '%s'", d3, d3);

			if (system(cmd) != 0)
				bail_out("cannot make the corrupt-race directory");
			free(cmd);
			if (write_garbage(p) < 0)
				bail_out("cannot write the corrupt file");
			bad += open_at_once(d3, 8);
			if (count_corrupt(d3) != 1)
				copies_ok = 0;
			{
				sqlite3 *h = NULL;
				sqlite3_stmt *q = NULL;

				if (sqlite3_open(p, &h) != SQLITE_OK ||
				    sqlite3_prepare_v2(h, "SELECT count(*) FROM intents", -1, &q,
						       NULL) != SQLITE_OK ||
				    sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int(q, 0) != 8)
					rows_ok = 0;
				sqlite3_finalize(q);
				sqlite3_close(h);
			}
		}
		is_int(bad, 0, "8 processes opening one corrupt database at once all succeed (5 rounds)");
		ok(copies_ok, "each round: the corrupt file moved aside once");
		ok(rows_ok, "each round: all 8 wrote to the one new database");
		free(d3);
		free(p);
	}

	/*
	 * Overwritten in place (truncated, garbage written) under an open
	 * handle, as a user or a broken disk might: the reads that follow get
	 * errors; a mapped file would be a SIGBUS (a reaper starting up died
	 * of it).  In a child, so a crash is seen, not suffered.
	 */
	{
		char *d2 = xstrfmt("%s/overwritten", dir);
		pid_t kid = fork();

		if (kid == 0) {
			struct burst_error e = BURST_ERROR_INIT;
			struct state_event ev = { 1, "provisioned", "server", 1, "n", NULL, 0,
						  "padding padding padding padding padding padding" };
			struct burst_state *o = NULL;
			char *p = xstrfmt("%s/state.db", d2);
			int i;

			if (state_open(d2, &o, &e) < 0)
				_exit(10);
			for (i = 0; i < 2000; i++) {
				ev.resource_id = i;
				if (state_event_add(o, &ev, &e) < 0)
					_exit(11);
			}
			state_close(o); /* checkpointed: the rows are in state.db */
			if (state_open(d2, &o, &e) < 0 ||
			    sqlite3_exec(state_sqlite(o), "SELECT count(*) FROM events", NULL, NULL,
					 NULL) != SQLITE_OK)
				_exit(12);
			if (write_garbage(p) < 0) /* in place: the same file, shorter */
				_exit(13);
			/* whatever this returns, it returns */
			sqlite3_exec(state_sqlite(o), "SELECT sum(length(details)) FROM events",
				     NULL, NULL, NULL);
			state_close(o);
			free(p);
			_exit(0);
		}
		is_int(test_wait(kid, 60000), 0,
		       "a database overwritten under an open handle: errors, no SIGBUS");
		free(d2);
	}

	burst_error_release(&err);
	free(dir);
	free(db);
	return done_testing();
}

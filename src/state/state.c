/*
 * state.c - opening the state database: directory, migrations, corruption
 * handling, owner id, process identity and the provisioning lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "burst/layout.h"
#include "burst/config.h"
#include "burst/log.h"
#include "burst/proc.h"
#include "burst/sha256.h"
#include "burst/strbuf.h"
#include "burst/ui.h"
#include "state-int.h"

#define MOD "state"
#define BUSY_TIMEOUT_MS 10000
#define QUICK_CHECK_EVERY_SECS 86400

/*
 * Migrations: migrations[i] brings user_version i to i + 1, each in its own
 * transaction.  Append only; never edit a step that has shipped.
 */
static const char *const migrations[] = {
	/* 0 -> 1: initial schema */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
	"CREATE TABLE image(id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  hcloud_id INTEGER NOT NULL, created_at INTEGER NOT NULL,"
	"  version TEXT, labels TEXT);"
	"CREATE TABLE servers(id INTEGER PRIMARY KEY, hcloud_id INTEGER,"
	"  name TEXT, ip TEXT, location TEXT, server_type TEXT, image_id INTEGER,"
	"  host_key_pub TEXT, host_key_path TEXT, created_at INTEGER NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('provisioning','ready','deleting','deleted')),"
	"  last_activity INTEGER NOT NULL, keep_alive_secs INTEGER NOT NULL DEFAULT 0,"
	"  no_reap INTEGER NOT NULL DEFAULT 0, deadline INTEGER NOT NULL,"
	"  billing_start INTEGER NOT NULL);"
	"CREATE INDEX servers_status ON servers(status);"
	"CREATE INDEX servers_hcloud ON servers(hcloud_id);"
	"CREATE TABLE projects(id TEXT PRIMARY KEY, root TEXT, name TEXT,"
	"  volume_hcloud_id INTEGER, volume_name TEXT, location TEXT,"
	"  size_gb INTEGER, volume_status TEXT NOT NULL DEFAULT 'none'"
	"    CHECK (volume_status IN ('none','ready','deleting')),"
	"  last_used INTEGER, volume_keep_alive INTEGER, volume_deadline INTEGER,"
	"  excludes TEXT) WITHOUT ROWID;"
	"CREATE TABLE reapers(kind TEXT NOT NULL, resource TEXT NOT NULL,"
	"  pid INTEGER, pid_start INTEGER, deadline INTEGER, log_path TEXT,"
	"  last_error TEXT, needs_human INTEGER NOT NULL DEFAULT 0,"
	"  updated_at INTEGER, PRIMARY KEY (kind, resource)) WITHOUT ROWID;"
	"CREATE TABLE intents(id INTEGER PRIMARY KEY, kind TEXT NOT NULL"
	"    CHECK (kind IN ('server','volume','ssh_key','image')),"
	"  name TEXT NOT NULL, labels TEXT, created_at INTEGER NOT NULL,"
	"  done_at INTEGER, hcloud_id INTEGER, state TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK (state IN ('pending','done','failed')), error TEXT);"
	"CREATE INDEX intents_state ON intents(state, created_at);"
	"CREATE TABLE leases(id INTEGER PRIMARY KEY, pid INTEGER NOT NULL,"
	"  pid_start INTEGER NOT NULL, project TEXT,"
	"  server_id INTEGER REFERENCES servers(id),"
	"  heartbeat_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
	"CREATE INDEX leases_server ON leases(server_id);"
	"CREATE INDEX leases_project ON leases(project);"
	"CREATE TABLE events(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, resource_kind TEXT, resource_id INTEGER,"
	"  resource_name TEXT, reason TEXT, size_gb INTEGER, details TEXT);"
	"CREATE INDEX events_kind_ts ON events(resource_kind, kind, ts, resource_id, reason);"
	"CREATE INDEX events_resource ON events(resource_kind, resource_id, kind);"
	"CREATE TABLE runs(id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL,"
	"  finished_at INTEGER, verb TEXT NOT NULL, project TEXT, cold INTEGER,"
	"  success INTEGER, exit_code INTEGER, interrupted INTEGER NOT NULL DEFAULT 0,"
	"  provision_ms INTEGER, sync_ms INTEGER, cargo_ms INTEGER,"
	"  fetch_ms INTEGER, wall_ms INTEGER, server_hcloud_id INTEGER);"
	"CREATE INDEX runs_started ON runs(started_at);"
	"CREATE INDEX runs_server ON runs(server_hcloud_id);",
	/*
	 * 1 -> 2: the API endpoint a resource lives on (its reaper uses that
	 * one, whatever the config says later; never the token), and whether
	 * the row was adopted by label (its deadline is a guess a reaper of a
	 * replaced database may lower to the one it knew).
	 */
	"ALTER TABLE servers ADD COLUMN endpoint TEXT;"
	"ALTER TABLE servers ADD COLUMN adopted INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE projects ADD COLUMN volume_endpoint TEXT;"
	"ALTER TABLE projects ADD COLUMN volume_adopted INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 2 -> 3: a server's architecture as the API states it ("x86",
	 * "arm64", "unknown"); NULL in older rows: their type name's.
	 */
	"ALTER TABLE servers ADD COLUMN arch TEXT;",
};

_Static_assert(ARRAY_SIZE(migrations) == STATE_SCHEMA_VERSION,
	       "one migration step per schema version");

/* ---- small helpers ---------------------------------------------------- */

int st_dberr(struct burst_state *st, struct burst_error *err, const char *what)
{
	return burst_error_set(err, BURST_EXIT_STATE, "%s: %s", what,
			       st->db ? sqlite3_errmsg(st->db) : "no database");
}

int st_step_done(struct burst_state *st, sqlite3_stmt *s, const char *what,
		 struct burst_error *err)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return st_dberr(st, err, what);
	return 0;
}

int st_get_one(struct burst_state *st, sqlite3_stmt *s,
	       void (*decode)(sqlite3_stmt *s, void *out), void *out, const char *what,
	       struct burst_error *err)
{
	int rc = sqlite3_step(s), ret = -1;

	if (rc == SQLITE_ROW) {
		decode(s, out);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		st_dberr(st, err, what);
	}
	sqlite3_finalize(s);
	return ret;
}

int st_get_all(struct burst_state *st, sqlite3_stmt *s,
	       void (*decode)(sqlite3_stmt *s, void *out), size_t size, void **v, size_t *n,
	       const char *what, struct burst_error *err)
{
	unsigned char *arr = NULL;
	size_t alloc = 0;
	int rc;

	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(arr, (*n + 1) * size, alloc);
		decode(s, arr + *n * size);
		(*n)++;
	}
	sqlite3_finalize(s);
	*v = arr;
	if (rc != SQLITE_DONE)
		return st_dberr(st, err, what);
	return 0;
}

int st_exec(struct burst_state *st, const char *sql, struct burst_error *err)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		burst_error_set(err, BURST_EXIT_STATE, "state database '%s': %s",
				st->path, msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int st_prepare(struct burst_state *st, const char *sql, sqlite3_stmt **out,
	       struct burst_error *err)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
		*out = NULL;
		return st_dberr(st, err, "preparing a state query");
	}
	return 0;
}

int st_begin(struct burst_state *st, struct burst_error *err)
{
	return st_exec(st, "BEGIN IMMEDIATE", err);
}

int st_commit(struct burst_state *st, struct burst_error *err)
{
	if (st_exec(st, "COMMIT", err) < 0) {
		st_rollback(st);
		return -1;
	}
	return 0;
}

void st_rollback(struct burst_state *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int st_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (!v)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

char *st_col_str(sqlite3_stmt *s, int i)
{
	const unsigned char *t;

	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return NULL;
	t = sqlite3_column_text(s, i);
	return xstrdup(t ? (const char *)t : "");
}

int64_t state_now(void)
{
	const char *v = getenv("BURST_STATE_NOW");
	int64_t t;

	if (v && *v && !parse_int64(v, 0, INT64_MAX, &t))
		return t;
	return burst_wall_time();
}

/* ---- process identity ------------------------------------------------- */

uint64_t state_pid_start_time(pid_t pid)
{
	struct strbuf sb = STRBUF_INIT;
	char path[64];
	const char *p;
	uint64_t start = 0;
	int field;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	strbuf_set_max(&sb, 8192);
	if (strbuf_read_file(&sb, path) < 0)
		goto out;
	/* comm (field 2) may contain spaces and ')': skip to the last ')'. */
	p = strrchr(sb.buf, ')');
	if (!p)
		goto out;
	p++;
	/* after ')' comes field 3; field 22 is 19 fields further */
	for (field = 3; field < 22 && *p; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	{
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(p, &end, 10);
		if (!errno && end != p)
			start = v;
	}
out:
	strbuf_release(&sb);
	return start;
}

bool state_pid_alive(pid_t pid, uint64_t start)
{
	uint64_t now_start;
	struct strbuf sb = STRBUF_INIT;
	char path[64];
	bool zombie = false;
	const char *p;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	now_start = state_pid_start_time(pid);
	if (!now_start) /* without /proc, kill(0) is all we can know */
		return access("/proc/self/stat", R_OK) != 0;
	if (start && now_start != start)
		return false;
	/* a zombie (state Z) is dead for our purposes */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	strbuf_set_max(&sb, 8192);
	if (!strbuf_read_file(&sb, path) && (p = strrchr(sb.buf, ')')) &&
	    p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
		zombie = true;
	strbuf_release(&sb);
	return !zombie;
}

/* SQL: burst_pid_alive(pid, start) -> 0/1 */
static void sql_pid_alive(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	pid_t pid = (pid_t)sqlite3_value_int64(argv[0]);
	uint64_t start = (uint64_t)sqlite3_value_int64(argv[1]);

	(void)argc;
	sqlite3_result_int(ctx, state_pid_alive(pid, start));
}

/* SQL: burst_now() -> state_now() */
static void sql_now(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	sqlite3_result_int64(ctx, state_now());
}

/* ---- directory, owner id ---------------------------------------------- */

/* mkdir -p with mode 0700 for every directory we create. */
static int mkdir_p(const char *dir, struct burst_error *err)
{
	char *tmp = xstrdup(dir);
	char *p;
	int ret = -1;

	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
			burst_error_set(err, BURST_EXIT_STATE,
					"cannot create state directory '%s': %s", tmp,
					strerror(errno));
			goto out;
		}
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
		burst_error_set(err, BURST_EXIT_STATE,
				"cannot create state directory '%s': %s", tmp, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	return ret;
}

void state_compute_owner_id(const char *dir, char out[STATE_OWNER_ID_LEN + 1])
{
	struct strbuf in = STRBUF_INIT, mid = STRBUF_INIT;
	char *real = realpath(dir, NULL);

	strbuf_set_max(&mid, 4096);
	if (strbuf_read_file(&mid, "/etc/machine-id") < 0 || !mid.len) {
		char host[256] = "";

		strbuf_reset(&mid);
		gethostname(host, sizeof(host) - 1);
		strbuf_addstr(&mid, host);
	}
	strbuf_trim(&mid);
	strbuf_addf(&in, "cargo-burst owner\n%s\n%u\n%s\n", mid.buf, (unsigned)getuid(),
		    real ? real : dir);
	sha256_hex(in.buf, in.len, out, STATE_OWNER_ID_LEN);
	free(real);
	strbuf_release(&in);
	strbuf_release(&mid);
}

void state_project_id(const char *root, char out[STATE_OWNER_ID_LEN + 1])
{
	project_hash(root, out);
}

/* ---- open ------------------------------------------------------------- */

static bool is_corrupt_code(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

static int get_int(struct burst_state *st, const char *sql, int64_t *out, int *rc_out)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(s, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			*out = 0;
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(s);
	*rc_out = rc;
	return rc == SQLITE_OK ? 0 : -1;
}

/* Returns "ok" check result: 0 ok, 1 corrupt, -1 other error. */
static int quick_check(struct burst_state *st)
{
	sqlite3_stmt *s = NULL;
	int rc, ret = 1;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check(1)", -1, &s, NULL);
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);

		if (t && !strcmp((const char *)t, "ok"))
			ret = 0;
	} else if (!is_corrupt_code(sqlite3_errcode(st->db)) &&
		   (sqlite3_errcode(st->db) & 0xff) != SQLITE_OK) {
		ret = -1;
	}
	sqlite3_finalize(s);
	return ret;
}

/*
 * Open and migrate st->path.  0 ok, 1 corrupt (caller moves it aside), -1
 * error in err.
 */
static int open_db(struct burst_state *st, struct burst_error *err)
{
	int64_t ver = 0, last_check = 0;
	int rc;
	size_t i;

	rc = sqlite3_open_v2(st->path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		if (is_corrupt_code(rc))
			return 1;
		return st_dberr(st, err, "opening the state database");
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	sqlite3_create_function(st->db, "burst_pid_alive", 2, SQLITE_UTF8, NULL,
				sql_pid_alive, NULL, NULL);
	sqlite3_create_function(st->db, "burst_now", 0, SQLITE_UTF8, NULL, sql_now, NULL,
				NULL);

	if (get_int(st, "PRAGMA user_version", &ver, &rc) < 0)
		goto fail;
	st->fresh = ver == 0;
	if (ver > STATE_SCHEMA_VERSION) {
		burst_error_set(err, BURST_EXIT_STATE,
				"state database was written by a newer cargo-burst "
				"(schema %lld > %d); upgrade cargo-burst or move %s aside",
				(long long)ver, STATE_SCHEMA_VERSION, st->path);
		return -1;
	}
	/*
	 * Switching a new database to WAL needs an exclusive lock, and SQLite
	 * may answer SQLITE_BUSY without calling the busy handler when several
	 * processes create the database at once: retry within the timeout.
	 */
	for (uint64_t until = burst_now_ms() + BUSY_TIMEOUT_MS;;) {
		sqlite3_stmt *s = NULL;

		rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			break;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			goto fail;
		if (burst_now_ms() >= until)
			goto fail;
		sqlite3_sleep(10);
	}
	/*
	 * No mmap here: a mapped database file that something outside SQLite
	 * truncates (a corrupted or overwritten state.db) is a SIGBUS in every
	 * process that reads it, a reaper among them; read() gets an error the
	 * caller handles.  Only the audit's long scan maps (state_audit_query).
	 */
	if (sqlite3_exec(st->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto fail;

	/* a full check is a table scan: do it at most once a day */
	if (ver > 0) {
		if (get_int(st, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_quick_check'",
			    &last_check, &rc) < 0)
			goto fail;
		if (state_now() - last_check >= QUICK_CHECK_EVERY_SECS) {
			int q = quick_check(st);

			if (q == 1)
				return 1;
			if (q < 0)
				goto fail;
			if (sqlite3_exec(st->db,
					 "INSERT OR REPLACE INTO meta VALUES ('last_quick_check',"
					 " CAST(burst_now() AS TEXT))",
					 NULL, NULL, NULL) != SQLITE_OK)
				goto fail;
		}
	}

	for (i = (size_t)ver; i < ARRAY_SIZE(migrations); i++) {
		char *bump;
		int64_t cur;

		if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		/* another process may have migrated while we waited */
		if (get_int(st, "PRAGMA user_version", &cur, &rc) < 0) {
			st_rollback(st);
			goto fail;
		}
		if (cur > (int64_t)i) {
			st_rollback(st);
			i = (size_t)cur - 1;
			continue;
		}
		log_debug(MOD, "migrating %s to schema %zu", st->path, i + 1);
		bump = xstrfmt("PRAGMA user_version = %zu", i + 1);
		if (sqlite3_exec(st->db, migrations[i], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(st->db, bump, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			free(bump);
			rc = sqlite3_errcode(st->db);
			if (is_corrupt_code(rc))
				return 1;
			burst_error_set(err, BURST_EXIT_STATE,
					"migrating state database '%s' to schema %zu: %s",
					st->path, i + 1, sqlite3_errmsg(st->db));
			st_rollback(st);
			return -1;
		}
		free(bump);
	}
	return 0;

fail:
	rc = sqlite3_errcode(st->db);
	if (is_corrupt_code(rc))
		return 1;
	return burst_error_set(err, BURST_EXIT_STATE, "state database '%s': %s", st->path,
			       sqlite3_errmsg(st->db));
}

static void unlink_db_files(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };

	for (size_t i = 0; i < ARRAY_SIZE(sfx); i++) {
		char *p = xstrfmt("%s%s", path, sfx[i]);

		unlink(p);
		free(p);
	}
}

/*
 * Create st->path when there is none, whole: made and migrated under a
 * name of this process's own, marked as needing adoption, then link()ed
 * into place (never over a file another process put there first).  A new
 * database is never seen half made, and its rollback journal (used until
 * the switch to WAL) never bears the name "state.db-journal": a process
 * that still reads an old state.db moved aside (corrupt: it never got to
 * WAL) would take that journal for a hot one of its own file, roll it
 * back and delete it (SQLITE_IOERR_DELETE_NOENT in the creator).
 */
static int create_db(struct burst_state *st, struct burst_error *err)
{
	char *real = st->path, *tmp = xstrfmt("%s.new-%ld", real, (long)getpid());
	int r;

	unlink_db_files(tmp); /* a leftover of a crashed process with our pid */
	st->path = tmp;
	r = open_db(st, err);
	if (r == 0 && st_exec(st, "INSERT OR REPLACE INTO meta VALUES ('needs_adoption', '1')",
			      err) < 0)
		r = -1;
	if (st->db)
		sqlite3_close_v2(st->db); /* checkpointed: no -wal, no -shm left */
	st->db = NULL;
	st->path = real;
	if (r > 0)
		r = burst_error_set(err, BURST_EXIT_STATE, "a new state database '%s' reads as "
				    "corrupt", tmp);
	if (r == 0 && link(tmp, real) < 0 && errno != EEXIST) {
		struct stat sb;

		/* a file system without hard links: a rename, checked first */
		if (stat(real, &sb) < 0 && rename(tmp, real) < 0)
			r = burst_error_set(err, BURST_EXIT_STATE, "cannot create '%s': %s",
					    real, strerror(errno));
	}
	if (r < 0)
		burst_error_hint(err, "check that '%s' is writable and its file system healthy "
				 "(df, dmesg); XDG_STATE_HOME moves it elsewhere", st->dir);
	unlink_db_files(tmp);
	free(tmp);
	return r;
}

/* Is path (still) the file sb describes? */
static bool same_file(const char *path, const struct stat *sb)
{
	struct stat now;

	return stat(path, &now) == 0 && now.st_dev == sb->st_dev && now.st_ino == sb->st_ino;
}

/*
 * Move the corrupt database (and its -wal, -shm) aside, if it is still the
 * file `opened` describes (NULL: whatever is there).  Several processes
 * find one corrupt file at once (a command and the reapers it re-arms):
 * under a lock on the state directory only the first moves it; the others
 * find another file there (the new database the first may have started
 * already, which they must not take away from it) and return false.
 */
static bool move_aside(struct burst_state *st, const struct stat *opened)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char stamp[32];
	struct tm tm;
	time_t t = (time_t)state_now();
	size_t i;
	int lock = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (lock >= 0 && flock(lock, LOCK_EX) < 0)
		log_debug(MOD, "locking %s: %s", st->dir, strerror(errno));
	if (opened && !same_file(st->path, opened)) {
		if (lock >= 0)
			close(lock);
		return false;
	}
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	free(st->reset_path);
	st->reset_path = xstrfmt("%s.corrupt-%s", st->path, stamp);
	/* never overwrite an earlier copy moved aside in the same second */
	for (i = 1; access(st->reset_path, F_OK) == 0 && i < 1000; i++) {
		free(st->reset_path);
		st->reset_path = xstrfmt("%s.corrupt-%s.%zu", st->path, stamp, i);
	}
	for (i = 0; i < ARRAY_SIZE(sfx); i++) {
		char *from = xstrfmt("%s%s", st->path, sfx[i]);
		char *to = xstrfmt("%s%s", st->reset_path, sfx[i]);

		if (rename(from, to) < 0 && errno != ENOENT)
			log_warn(MOD, "cannot move '%s' aside: %s", from, strerror(errno));
		free(from);
		free(to);
	}
	if (lock >= 0)
		close(lock);
	return true;
}

static int load_owner(struct burst_state *st, struct burst_error *err)
{
	sqlite3_stmt *s = NULL;
	int ret = -1, rc;

	state_compute_owner_id(st->dir, st->owner);
	if (st_prepare(st, "SELECT value FROM meta WHERE key = 'owner_id'", &s, err) < 0)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		/* resources carry the stored id: keep it even if the dir moved */
		if (v && strlen((const char *)v) == STATE_OWNER_ID_LEN)
			memcpy(st->owner, v, STATE_OWNER_ID_LEN + 1);
	} else if (rc != SQLITE_DONE) {
		st_dberr(st, err, "reading the owner id");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (st_prepare(st, "INSERT OR IGNORE INTO meta VALUES ('owner_id', ?)", &s, err) < 0)
		goto out;
	st_bind_text(s, 1, st->owner);
	if (sqlite3_step(s) != SQLITE_DONE) {
		st_dberr(st, err, "storing the owner id");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

int state_open(const char *dir, struct burst_state **out, struct burst_error *err)
{
	struct burst_state *st = xcalloc(1, sizeof(*st));
	int r, attempt;

	*out = NULL;
	st->lock_fd = -1;
	st->pid = getpid();
	st->pid_start = state_pid_start_time(st->pid);
	st->dir = dir ? xstrdup(dir) : config_state_dir();
	if (mkdir_p(st->dir, err) < 0)
		goto fail;
	chmod(st->dir, 0700);
	st->path = xstrfmt("%s/state.db", st->dir);

	for (attempt = 0;; attempt++) {
		struct stat opened;
		bool had = stat(st->path, &opened) == 0;

		if (!had) {
			if (create_db(st, err) < 0)
				goto fail;
			had = stat(st->path, &opened) == 0;
		}
		r = open_db(st, err);
		if (r <= 0)
			break;
		sqlite3_close_v2(st->db);
		st->db = NULL;
		if (st->reset_path || attempt >= 5) {
			burst_error_set(err, BURST_EXIT_STATE,
					"state database '%s' is still unreadable after %s",
					st->path, st->reset_path ? "moving the corrupt one aside" :
					"other processes moved corrupt ones aside");
			burst_error_hint(err, "check the file system of '%s' (df, dmesg); "
					 "moving the directory aside starts a new state, "
					 "rebuilt from labels", st->dir);
			goto fail;
		}
		if (!move_aside(st, had ? &opened : NULL)) {
			log_debug(MOD, "%s was replaced while it was read; opening it again",
				  st->path);
			continue;
		}
		ui_warn("the state database '%s' was corrupt; moved it to '%s' and "
			"started a new one (resources are re-adopted by label)",
			st->path, st->reset_path);
	}
	if (r < 0)
		goto fail;
	if (load_owner(st, err) < 0)
		goto fail;
	/*
	 * A new database (the old one was deleted, or moved aside as corrupt)
	 * knows none of our resources yet: remember that until a sweep with a
	 * token has adopted them by label, whichever command comes first.
	 * create_db() marks the ones it makes; this is for an empty file
	 * someone else left at the path (migrated here from schema 0).
	 */
	if (st->fresh &&
	    st_exec(st, "INSERT OR REPLACE INTO meta VALUES ('needs_adoption', '1')", err) < 0)
		goto fail;
	log_debug(MOD, "opened %s (owner %s)", st->path, st->owner);
	*out = st;
	return 0;
fail:
	state_close(st);
	return -1;
}

void state_close(struct burst_state *st)
{
	if (!st)
		return;
	if (st->lock_fd >= 0) {
		st->lock_depth = 1;
		state_unlock_provision(st);
	}
	if (st->db)
		sqlite3_close_v2(st->db);
	free(st->dir);
	free(st->path);
	free(st->reset_path);
	free(st->endpoint);
	free(st);
}

const char *state_dir(const struct burst_state *st)
{
	return st->dir;
}

const char *state_db_path(const struct burst_state *st)
{
	return st->path;
}

/* PRAGMA quick_check on demand (doctor). */
int state_quick_check(struct burst_state *st)
{
	return quick_check(st);
}

bool state_was_reset(const struct burst_state *st)
{
	return st->reset_path != NULL;
}

const char *state_reset_path(const struct burst_state *st)
{
	return st->reset_path;
}

bool state_needs_adoption(struct burst_state *st)
{
	sqlite3_stmt *s = NULL;
	bool needs = false;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'needs_adoption'",
			       -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		needs = v && !strcmp((const char *)v, "1");
	}
	sqlite3_finalize(s);
	return needs;
}

int state_adoption_done(struct burst_state *st, struct burst_error *err)
{
	return st_exec(st, "DELETE FROM meta WHERE key = 'needs_adoption'", err);
}

void state_set_endpoint(struct burst_state *st, const char *endpoint)
{
	free(st->endpoint);
	st->endpoint = endpoint && *endpoint ? xstrdup(endpoint) : NULL;
}

const char *state_endpoint(const struct burst_state *st)
{
	return st->endpoint;
}

const char *state_owner_id(const struct burst_state *st)
{
	return st->owner;
}

void *state_sqlite(struct burst_state *st)
{
	return st->db;
}

/* ---- provisioning lock ------------------------------------------------ */

static pid_t read_holder(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	int64_t pid = 0;

	strbuf_set_max(&sb, 64);
	if (!strbuf_read_file(&sb, path)) {
		strbuf_trim(&sb);
		if (parse_int64(sb.buf, 1, INT_MAX, &pid) < 0)
			pid = 0;
	}
	strbuf_release(&sb);
	return (pid_t)pid;
}

int state_lock_provision(struct burst_state *st, int timeout_ms, struct burst_error *err)
{
	char *path = xstrfmt("%s/provision.lock", st->dir);
	uint64_t deadline = burst_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	unsigned sleep_ms = 20;
	bool told = false;
	int fd = -1, ret = -1, mark = proc_signals_caught();

	if (st->lock_fd >= 0) {
		st->lock_depth++;
		ret = 0;
		goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		burst_error_set(err, BURST_EXIT_STATE, "cannot open '%s': %s", path,
				strerror(errno));
		goto out;
	}
	for (;;) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			burst_error_set(err, BURST_EXIT_STATE, "cannot lock '%s': %s", path,
					strerror(errno));
			goto out;
		}
		/* a signal caught while waiting ends the wait (the caller cleans up) */
		if (proc_signals_caught() != mark) {
			burst_error_set(err, BURST_EXIT_INTERRUPTED, "interrupted while waiting "
					"for another cargo-burst that is provisioning");
			goto out;
		}
		if (burst_now_ms() >= deadline) {
			pid_t h = read_holder(path);

			burst_error_set(err, BURST_EXIT_STATE,
					"timed out waiting for another cargo-burst (pid %d) "
					"that is provisioning", (int)h);
			burst_error_hint(err, "wait for it to finish, or stop it");
			ret = STATE_LOCK_TIMEOUT;
			goto out;
		}
		if (!told) {
			pid_t h = read_holder(path);

			if (h)
				ui_status("Blocking", "waiting for another cargo-burst (pid %d) "
					  "that is provisioning", (int)h);
			else
				ui_status("Blocking", "waiting for another cargo-burst "
					  "that is provisioning");
			told = true;
		}
		{
			uint64_t left = deadline - burst_now_ms();
			struct timespec ts;
			unsigned ms = sleep_ms;

			if (left < ms)
				ms = (unsigned)left + 1;
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (long)(ms % 1000) * 1000000L;
			nanosleep(&ts, NULL);
			if (sleep_ms < 200)
				sleep_ms *= 2;
		}
	}
	{
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

		if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
			log_debug(MOD, "cannot record lock holder in '%s'", path);
	}
	st->lock_fd = fd;
	st->lock_depth = 1;
	fd = -1;
	log_debug(MOD, "provisioning lock taken");
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return ret;
}

void state_unlock_provision(struct burst_state *st)
{
	if (st->lock_fd < 0 || --st->lock_depth > 0)
		return;
	if (ftruncate(st->lock_fd, 0) < 0)
		log_debug(MOD, "cannot clear the lock holder");
	flock(st->lock_fd, LOCK_UN);
	close(st->lock_fd);
	st->lock_fd = -1;
	st->lock_depth = 0;
	log_debug(MOD, "provisioning lock released");
}

pid_t state_provision_lock_holder(struct burst_state *st)
{
	char *path = xstrfmt("%s/provision.lock", st->dir);
	pid_t pid = read_holder(path);

	free(path);
	return pid && state_pid_alive(pid, 0) ? pid : 0;
}

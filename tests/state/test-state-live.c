/* test-state-live.c - deadlines, intents, servers, projects, leases, reapers. */
#include <sqlite3.h>

#include "state-test.h"

static void test_deadline(void)
{
	const int64_t c = 1000000; /* created_at */

	/* hold off: plain last_activity + keep_alive */
	is_int(state_server_deadline(c, c + 100, 600, false, 300), c + 700, "no hold: la + ka");
	is_int(state_server_deadline(c, c + 100, 0, false, 300), c + 100, "no hold, ka 0");
	is_int(state_server_deadline(c, c + 100, -5, false, 300), c + 100, "negative ka is 0");
	/* hold on: extend to margin before the end of the billed hour */
	is_int(state_server_deadline(c, c + 100, 600, true, 300), c + 3300,
	       "hold: first hour, moved to 3600 - margin");
	is_int(state_server_deadline(c, c + 3000, 300, true, 300), c + 3300,
	       "hold: d exactly at the hold point");
	is_int(state_server_deadline(c, c + 3000, 250, true, 300), c + 3300,
	       "hold: d just before the hold point");
	is_int(state_server_deadline(c, c + 3000, 301, true, 300), c + 3301,
	       "hold: d inside the margin stays (no extra hour)");
	is_int(state_server_deadline(c, c + 3000, 600, true, 300), c + 3600,
	       "hold: d exactly on the hour boundary stays");
	is_int(state_server_deadline(c, c + 3000, 601, true, 300), c + 7200 - 300,
	       "hold: d one second into hour 2 -> end of hour 2 - margin");
	is_int(state_server_deadline(c, c + 5 * 3600 + 10, 60, true, 120), c + 6 * 3600 - 120,
	       "hold: sixth hour");
	is_int(state_server_deadline(c, c - 50, 10, true, 300), c + 3300,
	       "hold: clock skew before creation -> first hour");
	is_int(state_server_deadline(c, c + 100, 600, true, 0), c + 3600, "hold: margin 0");
	is_int(state_server_paid_through(c, c), c + 3600, "paid through at creation");
	is_int(state_server_paid_through(c, c + 3600), c + 3600, "paid through at exactly 1h");
	is_int(state_server_paid_through(c, c + 3601), c + 7200, "paid through after 1h");
}

static void test_intents(struct burst_state *st)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_intent *v = NULL;
	int64_t a = 0, b = 0, c = 0;
	size_t n = 0;

	ok(state_intent_begin(st, STATE_INTENT_SERVER, "burst-abc", "{\"owner\":\"x\"}", &a, &err) == 0,
	   "intent server begun");
	ok(state_intent_begin(st, STATE_INTENT_VOLUME, "burst-vol", NULL, &b, &err) == 0,
	   "intent volume begun");
	ok(state_intent_begin(st, STATE_INTENT_SSH_KEY, "burst-key", NULL, &c, &err) == 0,
	   "intent key begun");
	ok(a && b && c && a != b && b != c, "distinct intent ids");
	ok(state_intents_pending(st, &v, &n, &err) == 0, "list pending");
	is_int(n, 3, "three pending");
	if (n == 3) {
		is_str(v[0].name, "burst-abc", "oldest first");
		is_int(v[0].kind, STATE_INTENT_SERVER, "kind round-trips");
		is_str(v[0].labels_json, "{\"owner\":\"x\"}", "labels round-trip");
		is_int(v[1].kind, STATE_INTENT_VOLUME, "volume kind");
		is_int(v[2].kind, STATE_INTENT_SSH_KEY, "ssh key kind");
	}
	state_intents_free(v, n);
	ok(state_intent_done(st, a, 4711, &err) == 0, "server intent done");
	ok(state_intent_failed(st, b, "resource_unavailable", &err) == 0, "volume intent failed");
	ok(state_intent_done(st, 999999, 1, &err) < 0, "unknown intent id is an error");
	burst_error_release(&err);
	ok(state_intents_pending(st, &v, &n, &err) == 0, "list pending again");
	is_int(n, 1, "one pending left");
	if (n == 1)
		is_str(v[0].name, "burst-key", "the ssh key is still pending");
	state_intents_free(v, n);
	{
		sqlite3_stmt *s;
		int64_t hid = 0;
		sqlite3 *db = state_sqlite(st);

		if (sqlite3_prepare_v2(db, "SELECT hcloud_id FROM intents WHERE id=?", -1, &s,
				       NULL) == SQLITE_OK) {
			sqlite3_bind_int64(s, 1, a);
			if (sqlite3_step(s) == SQLITE_ROW)
				hid = sqlite3_column_int64(s, 0);
		}
		sqlite3_finalize(s);
		is_int(hid, 4711, "done intent records the hcloud id");
	}
	burst_error_release(&err);
}

static void test_server_project(struct burst_state *st)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_server srv = { 0 }, got;
	struct state_project p;
	int64_t now = state_now();

	srv.hcloud_id = 555;
	srv.name = (char *)"burst-1";
	srv.ip = (char *)"127.0.3.4";
	srv.location = (char *)"hel1";
	srv.server_type = (char *)"ccx13";
	srv.host_key_pub = (char *)"ssh-ed25519 AAAA";
	srv.keep_alive_secs = 600;
	srv.status = STATE_SERVER_PROVISIONING;
	ok(state_server_insert(st, &srv, &err) == 0 && srv.id > 0, "server inserted");
	is_int(srv.deadline, srv.last_activity + 600, "default deadline");
	is_int(state_server_current(st, &got, &err), 1, "current server found");
	is_str(got.ip, "127.0.3.4", "ip round-trips");
	is_int(got.status, STATE_SERVER_PROVISIONING, "status provisioning");
	state_server_release(&got);
	ok(state_server_set_status(st, srv.id, STATE_SERVER_READY, &err) == 0, "set ready");
	is_int(state_server_touch(st, srv.id, now + 100, 900, true, true, 300, &err), 0, "touch");
	is_int(state_server_get(st, srv.id, &got, &err), 1, "get by row id");
	is_int(got.last_activity, now + 100, "last_activity moved");
	is_int(got.keep_alive_secs, 900, "keep_alive persisted");
	ok(got.no_reap, "no_reap persisted");
	is_int(got.deadline, state_server_deadline(got.created_at, now + 100, 900, true, 300),
	       "deadline computed with hold");
	state_server_release(&got);
	is_int(state_server_by_hcloud_id(st, 555, &got, &err), 1, "by hcloud id");
	ok(!got.arch, "no architecture recorded");
	is_str(state_server_arch(&got), "x86", "without one: the type's (ccx13: x86)");
	/* the API's architecture is kept and wins over the type's name */
	got.arch = xstrdup("arm64");
	ok(state_server_update(st, &got, &err) == 0, "update with an architecture");
	state_server_release(&got);
	is_int(state_server_get(st, srv.id, &got, &err), 1, "read back");
	is_str(got.arch, "arm64", "architecture round-trips");
	is_str(state_server_arch(&got), "arm64", "the recorded one wins over the type's");
	free(got.arch);
	got.arch = xstrdup("mips");
	is_str(state_server_arch(&got), "unknown", "anything else recorded is unknown");
	state_server_release(&got);
	{
		struct state_server u = { 0 }, back;

		u.hcloud_id = 558;
		u.server_type = (char *)"cax21";
		u.arch = (char *)"unknown";
		u.status = STATE_SERVER_DELETING;
		ok(state_server_insert(st, &u, &err) == 0, "insert with an unknown architecture");
		is_int(state_server_get(st, u.id, &back, &err), 1, "read it back");
		is_str(state_server_arch(&back), "unknown", "unknown stays unknown (not the cax name's)");
		state_server_release(&back);
		ok(state_server_set_status(st, u.id, STATE_SERVER_DELETED, &err) == 0, "forget it");
	}
	is_int(state_server_by_hcloud_id(st, 556, &got, &err), 0, "unknown hcloud id");

	ok(state_project_set_volume(st, "proj1", 777, "burst-vol-proj1", "fsn1", 20, &err) == 0,
	   "volume recorded");
	is_int(state_project_touch(st, "proj1", now, 86400, &err), 0, "project touched");
	is_int(state_project_get(st, "proj1", &p, &err), 1, "project found");
	is_int(p.volume_hcloud_id, 777, "volume id");
	is_int(p.volume_status, STATE_VOLUME_READY, "volume ready");
	is_int(p.volume_deadline, now + 86400, "volume deadline = last_used + keep");
	state_project_release(&p);
	burst_error_release(&err);
}

static void test_leases(struct burst_state *st)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_server srv = { 0 };
	struct state_delete_decision d;
	int64_t lease = 0, n = -1, now = state_now();
	char nowbuf[32];
	pid_t child;
	int fds[2];

	srv.status = STATE_SERVER_READY;
	srv.keep_alive_secs = 0;
	srv.last_activity = now - 1000;
	ok(state_server_insert(st, &srv, &err) == 0, "second server row");

	/* a dead process's lease does not count */
	if (pipe(fds) < 0)
		bail_out("pipe");
	child = fork();
	if (child == 0) {
		struct burst_error e = BURST_ERROR_INIT;
		struct burst_state *cst = NULL;
		int64_t l = 0;
		char c = 'x';

		close(fds[0]);
		if (state_open(state_dir(st), &cst, &e) < 0 ||
		    state_lease_acquire(cst, "proj1", srv.id, &l, &e) != 0)
			c = 'f';
		if (write(fds[1], &c, 1) != 1)
			_exit(2);
		_exit(0); /* dies holding the lease */
	}
	close(fds[1]);
	{
		char c = 0;

		ok(read(fds[0], &c, 1) == 1 && c == 'x', "child took a lease");
		close(fds[0]);
	}
	is_int(test_wait(child, 10000), 0, "child exited");
	{
		sqlite3_stmt *s;
		int64_t rows = 0;

		if (sqlite3_prepare_v2(state_sqlite(st), "SELECT count(*) FROM leases", -1, &s,
				       NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
			rows = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		is_int(rows, 1, "the dead child's lease row is still there");
	}
	ok(state_lease_count_live(st, srv.id, NULL, &n, &err) == 0, "count live");
	is_int(n, 0, "lease of a dead pid is not live");

	/* our own lease is live, blocks deletion, expires without heartbeat */
	is_int(state_lease_acquire(st, "proj1", srv.id, &lease, &err), 0, "lease acquired");
	state_lease_count_live(st, srv.id, NULL, &n, &err);
	is_int(n, 1, "own lease is live");
	state_lease_count_live(st, 0, "proj1", &n, &err);
	is_int(n, 1, "live by project");
	ok(state_server_try_begin_delete(st, srv.id, now, 0, &d, &err) == 0, "try delete");
	ok(!d.do_delete && d.reason == STATE_KEEP_LEASED, "leased server is kept");
	ok(state_volume_try_begin_delete(st, "proj1", now + 10 * 86400, 0, &d, &err) == 0 &&
	   !d.do_delete && d.reason == STATE_KEEP_LEASED, "leased volume is kept");
	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)(now + STATE_LEASE_TTL_SECS + 1));
	setenv("BURST_STATE_NOW", nowbuf, 1);
	state_lease_count_live(st, srv.id, NULL, &n, &err);
	is_int(n, 1, "a live holder with its start time keeps the lease past the expiry "
	       "(a stopped run sends no heartbeat)");
	ok(state_server_try_begin_delete(st, srv.id, now + STATE_LEASE_TTL_SECS + 1, 0, &d,
					 &err) == 0 && d.reason == STATE_KEEP_LEASED,
	   "and its server is kept");
	/* but not for ever: a run stopped and never continued */
	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)(now + STATE_LEASE_HOLD_SECS + 1));
	setenv("BURST_STATE_NOW", nowbuf, 1);
	state_lease_count_live(st, srv.id, NULL, &n, &err);
	is_int(n, 0, "a live holder keeps it no longer than STATE_LEASE_HOLD_SECS after its "
	       "last heartbeat");
	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)(now + STATE_LEASE_TTL_SECS + 1));
	setenv("BURST_STATE_NOW", nowbuf, 1);
	/* without a recorded start time only the heartbeat counts */
	ok(sqlite3_exec(state_sqlite(st), "UPDATE leases SET pid_start = 0", NULL, NULL,
			NULL) == SQLITE_OK, "forget the holder's start time");
	state_lease_count_live(st, srv.id, NULL, &n, &err);
	is_int(n, 0, "lease without heartbeat expires when the start time is unknown");
	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now);
	setenv("BURST_STATE_NOW", nowbuf, 1);
	ok(state_lease_heartbeat(st, lease, &err) == 0, "heartbeat");
	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)(now + STATE_LEASE_TTL_SECS - 1));
	setenv("BURST_STATE_NOW", nowbuf, 1);
	state_lease_count_live(st, srv.id, NULL, &n, &err);
	is_int(n, 1, "heartbeat keeps it live");
	unsetenv("BURST_STATE_NOW");
	ok(state_lease_release(st, lease, &err) == 0, "lease released");
	ok(state_lease_prune(st, &err) == 0, "prune dead leases");
	{
		sqlite3_stmt *s;
		int64_t rows = -1;

		if (sqlite3_prepare_v2(state_sqlite(st), "SELECT count(*) FROM leases", -1, &s,
				       NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
			rows = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		is_int(rows, 0, "prune removed the dead child's lease");
	}

	/* no_reap and deadline */
	ok(state_server_touch(st, srv.id, now, 600, true, false, 0, &err) == 0, "set no_reap");
	state_server_try_begin_delete(st, srv.id, now + 10000, 0, &d, &err);
	ok(!d.do_delete && d.reason == STATE_KEEP_NO_REAP, "no_reap keeps it");
	ok(state_server_touch(st, srv.id, now, 600, false, false, 0, &err) == 0, "clear no_reap");
	state_server_try_begin_delete(st, srv.id, now + 599, 0, &d, &err);
	ok(!d.do_delete && d.reason == STATE_KEEP_NOT_DUE && d.deadline == now + 600,
	   "not due before the deadline");
	state_server_try_begin_delete(st, srv.id, now + 600, 0, &d, &err);
	ok(d.do_delete && d.reason == STATE_DELETE_NOW, "due at the deadline: delete");
	is_int(state_lease_acquire(st, "proj1", srv.id, &lease, &err), STATE_SERVER_GOING,
	       "lease on a deleting server refused");
	is_int(lease, 0, "no lease id");
	is_int(state_server_touch(st, srv.id, now, 600, false, false, 0, &err), STATE_SERVER_GOING,
	       "touch of a deleting server refused");
	state_server_try_begin_delete(st, srv.id, now + 600, 0, &d, &err);
	ok(!d.do_delete && d.reason == STATE_KEEP_GONE, "second decision: already going");
	ok(state_server_set_status(st, srv.id, STATE_SERVER_DELETED, &err) == 0, "mark deleted");

	/* a provisioning row gets a grace period even when its deadline passed */
	{
		struct state_server pv = { 0 };

		pv.status = STATE_SERVER_PROVISIONING;
		pv.created_at = now;
		pv.last_activity = now;
		ok(state_server_insert(st, &pv, &err) == 0, "provisioning row");
		state_server_try_begin_delete(st, pv.id, now + 10, 0, &d, &err);
		ok(!d.do_delete && d.reason == STATE_KEEP_NOT_DUE &&
		   d.deadline == now + STATE_PROVISION_GRACE_SECS, "provisioning: grace period");
		state_server_try_begin_delete(st, pv.id, now + 10, STATE_DELETE_IGNORE_DEADLINE, &d,
					      &err);
		ok(d.do_delete, "down ignores the grace period");
		state_server_set_status(st, pv.id, STATE_SERVER_DELETED, &err);
	}
	{
		struct state_server pv = { 0 };

		pv.status = STATE_SERVER_PROVISIONING;
		pv.created_at = now - STATE_PROVISION_GRACE_SECS;
		pv.last_activity = now - STATE_PROVISION_GRACE_SECS;
		ok(state_server_insert(st, &pv, &err) == 0, "stale provisioning row");
		state_server_try_begin_delete(st, pv.id, now, 0, &d, &err);
		ok(d.do_delete, "provisioning row past the grace period is reaped");
		state_server_set_status(st, pv.id, STATE_SERVER_DELETED, &err);
	}

	/* volume: deadline, then going */
	state_volume_try_begin_delete(st, "proj1", now + 86399, 0, &d, &err);
	ok(!d.do_delete && d.reason == STATE_KEEP_NOT_DUE, "volume not due");
	state_volume_try_begin_delete(st, "proj1", now + 86400, 0, &d, &err);
	ok(d.do_delete, "volume due: delete");
	is_int(state_lease_acquire(st, "proj1", 0, &lease, &err), STATE_VOLUME_GOING,
	       "lease on a project whose volume is going refused");
	is_int(state_project_touch(st, "proj1", now, 10, &err), STATE_VOLUME_GOING,
	       "touch of a going volume refused");
	ok(state_project_clear_volume(st, "proj1", &err) == 0, "volume forgotten");
	is_int(state_lease_acquire(st, "proj1", 0, &lease, &err), 0, "lease ok after the volume went");
	state_lease_release(st, lease, &err);
	burst_error_release(&err);
}

static void test_reapers(struct burst_state *st)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_reaper r;
	bool claimed = false;
	pid_t child;
	int fds[2], status;

	ok(state_reaper_claim(st, "server", "1", 1234, "/tmp/r.log", &claimed, &err) == 0 && claimed,
	   "claim a free reaper slot");
	ok(state_reaper_alive(st, "server", "1"), "own reaper is alive");
	ok(state_reaper_claim(st, "server", "1", 1300, NULL, &claimed, &err) == 0 && claimed,
	   "re-claim by the same process");
	ok(state_reaper_set_error(st, "server", "1", "delete failed: locked", true, &err) == 0,
	   "record an error");
	is_int(state_reaper_get(st, "server", "1", &r, &err), 1, "get reaper");
	is_str(r.last_error, "delete failed: locked", "error stored");
	ok(r.needs_human, "needs_human stored");
	is_int(r.pid, getpid(), "pid stored");
	state_reaper_release(&r);

	/* another live process cannot claim it */
	if (pipe(fds) < 0)
		bail_out("pipe");
	child = fork();
	if (child == 0) {
		struct burst_error e = BURST_ERROR_INIT;
		struct burst_state *cst = NULL;
		bool c = true;
		char res;

		close(fds[0]);
		if (state_open(state_dir(st), &cst, &e) < 0 ||
		    state_reaper_claim(cst, "server", "1", 1, NULL, &c, &e) < 0)
			res = 'e';
		else
			res = c ? 'y' : 'n';
		if (write(fds[1], &res, 1) != 1)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	{
		char c = 0;

		ok(read(fds[0], &c, 1) == 1 && c == 'n', "a second reaper is refused");
		close(fds[0]);
	}
	(void)status;
	is_int(test_wait(child, 10000), 0, "child done");

	/* a dead holder's slot is taken over */
	ok(state_reaper_claim(st, "volume", "proj9", 1, NULL, &claimed, &err) == 0, "claim volume");
	{
		sqlite3 *db = state_sqlite(st);

		ok(sqlite3_exec(db, "UPDATE reapers SET pid=999999999 WHERE kind='volume'", NULL,
				NULL, NULL) == SQLITE_OK, "pretend the holder died");
	}
	ok(!state_reaper_alive(st, "volume", "proj9"), "dead reaper is not alive");
	ok(state_reaper_claim(st, "volume", "proj9", 1, NULL, &claimed, &err) == 0 && claimed,
	   "dead holder's slot is taken over");
	ok(state_reaper_remove(st, "volume", "proj9", false, &err) == 0, "remove own record");
	is_int(state_reaper_get(st, "volume", "proj9", &r, &err), 0, "record gone");
	burst_error_release(&err);
}

static void test_pid(void)
{
	pid_t child;
	uint64_t start;

	ok(state_pid_start_time(getpid()) > 0, "own start time");
	ok(state_pid_alive(getpid(), state_pid_start_time(getpid())), "self is alive");
	ok(!state_pid_alive(getpid(), state_pid_start_time(getpid()) + 1),
	   "same pid with another start time is not the same process");
	child = fork();
	if (child == 0)
		_exit(0);
	start = state_pid_start_time(child);
	test_wait(child, 10000);
	ok(!state_pid_alive(child, start), "reaped child is dead");
	ok(!state_pid_alive(0, 0), "pid 0 is not alive");
}

int main(void)
{
	struct burst_state *st;

	test_tmpdir();
	st = test_open(NULL);
	test_deadline();
	test_pid();
	test_intents(st);
	test_server_project(st);
	test_leases(st);
	test_reapers(st);
	state_close(st);
	return done_testing();
}

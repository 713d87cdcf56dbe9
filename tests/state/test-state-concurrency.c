/*
 * test-state-concurrency.c - the provisioning lock across processes and the
 * lease-versus-delete race.
 */
#include <sqlite3.h>
#include <time.h>

#include "state-test.h"

#define N_RUNNERS 6

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Child: take the lock, report, then either wait for a byte and unlock, or die. */
static pid_t lock_holder(const char *dir, int rep[2], int rel[2], bool die_holding)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct burst_error e = BURST_ERROR_INIT;
		struct burst_state *st = NULL;
		int report_fd = rep[1], release_fd = rel[0];
		char c = 'L';

		/* only the parent keeps the write end: if it dies, read() sees EOF */
		close(rep[0]);
		close(rel[1]);
		alarm(60);

		if (state_open(dir, &st, &e) < 0 || state_lock_provision(st, 5000, &e) != 0)
			c = 'E';
		if (write(report_fd, &c, 1) != 1)
			_exit(2);
		if (die_holding) {
			sleep_ms(500);
			raise(SIGKILL); /* no unlock, no close: the kernel drops the lock */
		}
		if (read(release_fd, &c, 1) != 1)
			_exit(3);
		state_unlock_provision(st);
		state_close(st);
		_exit(0);
	}
	return pid;
}

static void test_lock(const char *dir)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = test_open(dir);
	int rep[2], rel[2];
	pid_t child;
	char c = 0;
	uint64_t t0;
	int r;

	if (pipe(rep) < 0 || pipe(rel) < 0)
		bail_out("pipe");
	child = lock_holder(dir, rep, rel, false);
	ok(read(rep[0], &c, 1) == 1 && c == 'L', "child holds the provisioning lock");
	is_int(state_provision_lock_holder(st), child, "holder pid recorded");
	t0 = burst_now_ms();
	r = state_lock_provision(st, 300, &err);
	is_int(r, STATE_LOCK_TIMEOUT, "lock times out while another process holds it");
	ok(burst_now_ms() - t0 >= 290, "waited for the timeout");
	ok(err.message && strstr(err.message, "pid") != NULL, "timeout message names the pid");
	burst_error_release(&err);
	c = 'r';
	ok(write(rel[1], &c, 1) == 1, "tell the child to release");
	is_int(test_wait(child, 10000), 0, "child released and exited");
	is_int(state_lock_provision(st, 2000, &err), 0, "lock taken after release");
	is_int(state_lock_provision(st, 0, &err), 0, "re-entrant");
	state_unlock_provision(st);
	is_int(state_provision_lock_holder(st), getpid(), "we are the holder");
	state_unlock_provision(st);
	is_int(state_provision_lock_holder(st), 0, "no holder after unlock");

	/* a holder that dies: the lock is taken over */
	child = lock_holder(dir, rep, rel, true);
	ok(read(rep[0], &c, 1) == 1 && c == 'L', "second child holds the lock");
	t0 = burst_now_ms();
	is_int(state_lock_provision(st, 10000, &err), 0, "lock taken over from a dead holder");
	ok(burst_now_ms() - t0 >= 300, "had to wait for the holder to die");
	is_int(test_wait(child, 10000), 128 + SIGKILL, "holder died by SIGKILL");
	state_unlock_provision(st);
	close(rep[0]);
	close(rep[1]);
	close(rel[0]);
	close(rel[1]);
	state_close(st);
	burst_error_release(&err);
}

/*
 * Runner: repeatedly take a lease on the server, check while holding it
 * that the server was not marked for deletion, release, pause.  Stops when
 * the lease is refused.  Exit 0 ok, 10 + n on violations, 5 on errors.
 */
static void runner(const char *dir, int64_t server_id, unsigned seed, int count_fd)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct burst_state *st = NULL;
	int violations = 0, leases = 0, i;

	if (state_open(dir, &st, &e) < 0)
		_exit(5);
	for (i = 0; i < 2000; i++) {
		struct state_server srv;
		int64_t lease = 0;
		int r = state_lease_acquire(st, "proj", server_id, &lease, &e);

		if (r == STATE_SERVER_GOING)
			break;
		if (r != 0)
			_exit(5);
		leases++;
		sleep_ms((int)(rand_r(&seed) % 5));
		if (state_server_get(st, server_id, &srv, &e) != 1)
			_exit(5);
		if (srv.status == STATE_SERVER_DELETING || srv.status == STATE_SERVER_DELETED)
			violations++;
		state_server_release(&srv);
		if (state_lease_release(st, lease, &e) < 0)
			_exit(5);
		sleep_ms((int)(rand_r(&seed) % 4));
	}
	state_close(st);
	if (write(count_fd, &leases, sizeof(leases)) != sizeof(leases))
		_exit(5);
	_exit(violations ? 10 + (violations > 100 ? 100 : violations) : 0);
}

static void test_race(const char *dir, int round)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = test_open(dir);
	struct state_server srv = { 0 };
	struct state_delete_decision d;
	pid_t kids[N_RUNNERS];
	int fds[2], i, attempts = 0, kept_leased = 0, deletes = 0, bad = 0, total = 0;
	int64_t now = state_now();

	srv.status = STATE_SERVER_READY;
	srv.last_activity = now - 10000;
	srv.keep_alive_secs = 60; /* overdue: only leases keep it alive */
	if (state_server_insert(st, &srv, &err) < 0)
		bail_out("insert server");
	if (pipe(fds) < 0)
		bail_out("pipe");
	for (i = 0; i < N_RUNNERS; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			close(fds[0]);
			alarm(60);
			runner(dir, srv.id, (unsigned)(round * 100 + i + 1), fds[1]);
		}
	}
	close(fds[1]);
	/* let the runners get going: wait until one holds a lease */
	for (i = 0; i < 2000; i++) {
		int64_t live = 0;

		if (state_lease_count_live(st, srv.id, NULL, &live, &err) == 0 && live > 0)
			break;
		sleep_ms(5);
	}
	while (attempts < 20000) {
		attempts++;
		if (state_server_try_begin_delete(st, srv.id, state_now(), 0, &d, &err) < 0) {
			diag("try_begin_delete: %s", err.message);
			break;
		}
		if (d.do_delete) {
			deletes++;
			break;
		}
		if (d.reason == STATE_KEEP_LEASED)
			kept_leased++;
		sleep_ms(1);
	}
	is_int(deletes, 1, "round %d: the reaper decided to delete exactly once", round);
	for (i = 0; i < N_RUNNERS; i++) {
		int rc = test_wait(kids[i], 60000);

		if (rc != 0) {
			diag("runner %d exited with %d", i, rc);
			bad++;
		}
	}
	for (;;) {
		int n;

		if (read(fds[0], &n, sizeof(n)) != sizeof(n))
			break;
		total += n;
	}
	close(fds[0]);
	is_int(bad, 0, "round %d: no runner ever held a lease on a server marked deleting",
	       round);
	ok(total > 0, "round %d: runners took %d leases", round, total);
	diag("round %d: the reaper was held off by leases %d times", round, kept_leased);
	state_server_try_begin_delete(st, srv.id, state_now(), 0, &d, &err);
	ok(!d.do_delete && d.reason == STATE_KEEP_GONE, "round %d: no second decision", round);
	{
		int64_t lease = 0;

		is_int(state_lease_acquire(st, "proj", srv.id, &lease, &err), STATE_SERVER_GOING,
		       "round %d: leases after the decision are refused", round);
	}
	state_close(st);
	burst_error_release(&err);
}

int main(void)
{
	const char *tmp = test_tmpdir();
	char *dir = xstrfmt("%s/cargo-burst", tmp);
	int round;

	test_lock(dir);
	for (round = 1; round <= 3; round++)
		test_race(dir, round);
	free(dir);
	return done_testing();
}

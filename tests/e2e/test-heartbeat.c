/*
 * test-heartbeat.c - the run's lease heartbeat renews while the tool makes
 * progress (including a long silent child: proc's loop notes it, and a
 * bounded section such as provisioning), and gives the lease up for good
 * once the tool made none for stall_ms.  The same thread renews the leases
 * added to it (--shards' extra servers) until they are dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/pipeline/pipeline-int.h"
#include "burst/proc.h"
#include "burst/state.h"
#include "tap.h"

#include <sqlite3.h>

static char tmp[] = "/tmp/burst-hb-XXXXXX";

static void cleanup(void)
{
	char *cmd = xstrfmt("rm -rf '%s'", tmp);

	if (system(cmd) != 0)
		fprintf(stderr, "# cleanup failed\n");
	free(cmd);
}

static unsigned renewals(struct heartbeat *hb, bool *stalled)
{
	unsigned n;

	pthread_mutex_lock(&hb->mu);
	n = hb->renewals;
	if (stalled)
		*stalled = hb->stalled;
	pthread_mutex_unlock(&hb->mu);
	return n;
}

/* A lease's heartbeat_at (-1 when it has none), straight from the database. */
static int64_t beat_of(struct burst_state *st, int64_t lease)
{
	sqlite3_stmt *s = NULL;
	int64_t at = -1;

	if (sqlite3_prepare_v2(state_sqlite(st), "SELECT heartbeat_at FROM leases WHERE id=?",
			       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, lease);
		if (sqlite3_step(s) == SQLITE_ROW)
			at = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	return at;
}

static void set_beat(struct burst_state *st, int64_t lease, int64_t at)
{
	char *sql = xstrfmt("UPDATE leases SET heartbeat_at=%lld WHERE id=%lld", (long long)at,
			    (long long)lease);

	if (sqlite3_exec(state_sqlite(st), sql, NULL, NULL, NULL) != SQLITE_OK)
		bail_out("cannot set a lease's heartbeat");
	free(sql);
}

/* An added lease is renewed by the same thread; a dropped one no more. */
static void test_extra_lease(struct burst_state *st)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct heartbeat hb;
	int64_t lease = 0, extra = 0;
	uint64_t deadline;
	unsigned n;

	/* two new leases (the main one was released above: its id may come again) */
	if (state_lease_acquire(st, "p", 0, &lease, &err) != 0 ||
	    state_lease_acquire(st, "q", 0, &extra, &err) != 0 || lease == extra)
		bail_out(err.message ? err.message : "state");
	set_beat(st, extra, 1);
	memset(&hb, 0, sizeof(hb));
	hb.interval_ms = 100;
	hb.stall_ms = 60000;
	pipeline_heartbeat_start(&hb, tmp, lease);
	pipeline_heartbeat_add(&hb, extra);
	deadline = burst_now_ms() + 30000;
	while (beat_of(st, extra) == 1 && burst_now_ms() < deadline)
		usleep(50000);
	ok(beat_of(st, extra) > 1, "an added lease is renewed by the run's heartbeat");
	pipeline_heartbeat_drop(&hb, extra);
	/* a beat that took its leases before the drop ends before n + 1 */
	n = renewals(&hb, NULL) + 1;
	deadline = burst_now_ms() + 30000;
	while (renewals(&hb, NULL) < n && burst_now_ms() < deadline)
		usleep(50000);
	set_beat(st, extra, 1);
	/* three beats that all began after the drop */
	deadline = burst_now_ms() + 30000;
	while (renewals(&hb, NULL) < n + 3 && burst_now_ms() < deadline)
		usleep(50000);
	ok(renewals(&hb, NULL) >= n + 3, "the heartbeat beat on");
	is_int(beat_of(st, extra), 1, "a dropped lease is renewed no more");
	pipeline_heartbeat_stop(&hb);
	state_lease_release(st, extra, &err);
	burst_error_release(&err);
	state_lease_release(st, lease, &err);
	burst_error_release(&err);
}

int main(void)
{
	struct burst_state *st = NULL;
	struct burst_error err = BURST_ERROR_INIT;
	struct heartbeat hb;
	int64_t lease = 0;
	uint64_t deadline;
	bool stalled = false;
	unsigned n;

	if (!mkdtemp(tmp))
		bail_out("mkdtemp");
	atexit(cleanup);
	alarm(120);
	plan_lazy();
	if (state_open(tmp, &st, &err) < 0 || state_lease_acquire(st, "p", 0, &lease, &err) != 0)
		bail_out(err.message ? err.message : "state");

	/* progress noted all along: renewed */
	memset(&hb, 0, sizeof(hb));
	hb.interval_ms = 100;
	hb.stall_ms = 1500;
	pipeline_heartbeat_start(&hb, tmp, lease);
	ok(hb.running, "the heartbeat thread runs");
	deadline = burst_now_ms() + 30000;
	while (renewals(&hb, &stalled) < 5 && burst_now_ms() < deadline) {
		proc_note_activity();
		usleep(50000);
	}
	n = renewals(&hb, &stalled);
	ok(n >= 5 && !stalled, "renewed while the run makes progress (%u)", n);

	/* none noted: given up, and for good */
	deadline = burst_now_ms() + 30000;
	do {
		usleep(50000);
		renewals(&hb, &stalled);
	} while (!stalled && burst_now_ms() < deadline);
	ok(stalled, "the lease is given up once the run made no progress for stall_ms");
	{
		int64_t live = -1;

		/* a live holder would keep even an expired lease: it is released */
		deadline = burst_now_ms() + 30000;
		do {
			usleep(50000);
			state_lease_count_live(st, 0, "p", &live, &err);
		} while (live != 0 && burst_now_ms() < deadline);
		is_int(live, 0, "and released, though its holder is alive");
	}
	n = renewals(&hb, NULL);
	proc_note_activity();
	usleep(500000);
	is_int(renewals(&hb, NULL), n, "and never renewed again, even when the run moves");
	pipeline_heartbeat_stop(&hb);

	/* a bounded section (provisioning) is never a stall; after it, as before */
	memset(&hb, 0, sizeof(hb));
	hb.interval_ms = 100;
	hb.stall_ms = 1000;
	pipeline_bounded_begin();
	pipeline_heartbeat_start(&hb, tmp, lease);
	deadline = burst_now_ms() + 2500;
	while (burst_now_ms() < deadline)
		usleep(50000);
	n = renewals(&hb, &stalled);
	ok(!stalled && n >= 5, "inside a bounded section, 2.5 s without activity is no stall (%u)",
	   n);
	pipeline_bounded_end();
	deadline = burst_now_ms() + 30000;
	do {
		usleep(50000);
		renewals(&hb, &stalled);
	} while (!stalled && burst_now_ms() < deadline);
	ok(stalled, "after the section, no activity is a stall again");
	pipeline_heartbeat_stop(&hb);

	/* a silent child (longer than stall_ms) is progress: proc's loop ticks */
	{
		struct child_process cp = CHILD_PROCESS_INIT;

		memset(&hb, 0, sizeof(hb));
		hb.interval_ms = 200;
		hb.stall_ms = 7000;
		pipeline_heartbeat_start(&hb, tmp, lease);
		strvec_push(&cp.args, "sleep");
		strvec_push(&cp.args, "11");
		cp.in = PROC_IO_NULL;
		ok(proc_run(&cp, &err) == 0 && cp.exit_code == 0, "a silent child ran 11 s");
		n = renewals(&hb, &stalled);
		ok(!stalled && n > 20, "a child quiet for longer than stall_ms is not a stall (%u renewals)", n);
		pipeline_heartbeat_stop(&hb);
		child_process_release(&cp);
	}
	test_extra_lease(st);
	state_lease_release(st, lease, &err);
	burst_error_release(&err);
	state_close(st);
	return done_testing();
}

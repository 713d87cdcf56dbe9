/*
 * test-heartbeat.c - the run's lease heartbeat renews while the tool makes
 * progress (including a long silent child: proc's loop notes it, and a
 * bounded section such as provisioning), and gives the lease up for good
 * once the tool made none for stall_ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/pipeline/pipeline-int.h"
#include "burst/proc.h"
#include "burst/state.h"
#include "tap.h"

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
	state_lease_release(st, lease, &err);
	burst_error_release(&err);
	state_close(st);
	return done_testing();
}

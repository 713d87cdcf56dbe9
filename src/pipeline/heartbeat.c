/*
 * heartbeat.c - the thread that keeps a run's lease alive while the run
 * makes progress, and stops renewing it when the run is stuck.
 *
 * "Progress" is proc's activity clock (proc.h): it moves while the tool
 * waits in proc_run*() on children that are all bounded (a timeout, or
 * ssh's keepalive for the remote cargo, which may be silent for as long
 * as a link step takes), and on every output line or exit.  A tool
 * wedged anywhere else (a blocking call, a bug) stops moving it, except
 * inside a bounded section (provisioning: the lock and every API wait
 * have deadlines of their own, which may add up to more than the bound);
 * after
 * HEARTBEAT_STALL_SECS the lease is released (a live holder would keep
 * even an expired one: state.h), and the server's reaper may delete the
 * server: a stuck run cannot keep a server, and its bill, forever.
 *
 * One thread renews every lease of the run: the main server's, and those
 * of the extra servers of --shards (pipeline_heartbeat_add()).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "burst/log.h"
#include "burst/proc.h"
#include "burst/state.h"

#include "pipeline-int.h"

#define MOD "pipeline"

/* Sections in progress whose every wait has a deadline of its own. */
static atomic_int bounded_depth;

void pipeline_bounded_begin(void)
{
	proc_note_activity();
	atomic_fetch_add(&bounded_depth, 1);
}

void pipeline_bounded_end(void)
{
	atomic_fetch_sub(&bounded_depth, 1);
	proc_note_activity();
}

bool pipeline_run_stalled(uint64_t stall_ms)
{
	uint64_t last = proc_last_activity_ms(), now = burst_now_ms();

	if (atomic_load(&bounded_depth) > 0)
		return false;
	return last && now > last && now - last > stall_ms;
}

static void *heartbeat_main(void *arg)
{
	struct heartbeat *hb = arg;
	struct burst_state *st = NULL;
	struct burst_error err = BURST_ERROR_INIT;
	int64_t *ids = NULL;
	size_t nr, alloc = 0;

	/* a connection belongs to one thread: open our own */
	if (state_open(hb->dir, &st, &err) < 0) {
		log_warn(MOD, "lease heartbeat: %s", err.message ? err.message : "");
		burst_error_release(&err);
		return NULL;
	}
	pthread_mutex_lock(&hb->mu);
	while (!hb->stop && !hb->stalled) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(hb->interval_ms / 1000);
		ts.tv_nsec += (long)(hb->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&hb->cv, &hb->mu, &ts);
		if (hb->stop)
			break;
		if (pipeline_run_stalled(hb->stall_ms)) {
			/* for good: the lease may be gone by the time the run moves again */
			hb->stalled = true;
			log_warn(MOD, "the run made no progress for %llu s: its lease is "
				 "released, so the server's reaper may delete the server",
				 (unsigned long long)(hb->stall_ms / 1000));
			if (hb->nr_extra)
				log_warn(MOD, "the run made no progress: the extra servers' "
					 "leases are no longer renewed");
			/*
			 * A live holder keeps even an expired lease (a stopped run
			 * must not lose its server), so a stuck one gives it up.
			 */
			pthread_mutex_unlock(&hb->mu);
			if (state_lease_release(st, hb->lease_id, &err) < 0) {
				log_warn(MOD, "releasing the lease: %s",
					 err.message ? err.message : "");
				burst_error_release(&err);
			}
			pthread_mutex_lock(&hb->mu);
			break;
		}
		/* the leases of this beat: added later ones wait for the next */
		nr = hb->nr_extra + 1;
		ALLOC_GROW(ids, nr, alloc);
		ids[0] = hb->lease_id;
		for (size_t i = 0; i < hb->nr_extra; i++)
			ids[i + 1] = hb->extra[i];
		pthread_mutex_unlock(&hb->mu);
		for (size_t i = 0; i < nr; i++) {
			if (state_lease_heartbeat(st, ids[i], &err) < 0)
				log_warn(MOD, "lease heartbeat: %s", err.message ? err.message : "");
			burst_error_release(&err);
		}
		pthread_mutex_lock(&hb->mu);
		hb->renewals++;
	}
	pthread_mutex_unlock(&hb->mu);
	free(ids);
	state_close(st);
	return NULL;
}

void pipeline_heartbeat_start(struct heartbeat *hb, const char *dir, int64_t lease_id)
{
	pthread_mutex_init(&hb->mu, NULL);
	pthread_cond_init(&hb->cv, NULL);
	hb->dir = xstrdup(dir);
	hb->lease_id = lease_id;
	hb->stop = false;
	hb->stalled = false;
	hb->renewals = 0;
	hb->extra = NULL;
	hb->nr_extra = hb->alloc_extra = 0;
	if (!hb->interval_ms)
		hb->interval_ms = HEARTBEAT_SECS * 1000ULL;
	if (!hb->stall_ms)
		hb->stall_ms = HEARTBEAT_STALL_SECS * 1000ULL;
	/* the run starts now, whatever ran in this process before */
	proc_note_activity();
	hb->running = pthread_create(&hb->tid, NULL, heartbeat_main, hb) == 0;
	if (!hb->running)
		log_warn(MOD, "cannot start the lease heartbeat thread");
}

void pipeline_heartbeat_stop(struct heartbeat *hb)
{
	if (!hb->dir)
		return;
	if (hb->running) {
		pthread_mutex_lock(&hb->mu);
		hb->stop = true;
		pthread_cond_signal(&hb->cv);
		pthread_mutex_unlock(&hb->mu);
		pthread_join(hb->tid, NULL);
		hb->running = false;
	}
	pthread_mutex_destroy(&hb->mu);
	pthread_cond_destroy(&hb->cv);
	FREE_AND_NULL(hb->dir);
	FREE_AND_NULL(hb->extra);
	hb->nr_extra = hb->alloc_extra = 0;
}

void pipeline_heartbeat_add(struct heartbeat *hb, int64_t lease_id)
{
	if (!hb->dir || !lease_id)
		return;
	pthread_mutex_lock(&hb->mu);
	ALLOC_GROW(hb->extra, hb->nr_extra + 1, hb->alloc_extra);
	hb->extra[hb->nr_extra++] = lease_id;
	pthread_mutex_unlock(&hb->mu);
}

void pipeline_heartbeat_drop(struct heartbeat *hb, int64_t lease_id)
{
	if (!hb->dir)
		return;
	pthread_mutex_lock(&hb->mu);
	for (size_t i = 0; i < hb->nr_extra; i++) {
		if (hb->extra[i] == lease_id) {
			hb->extra[i] = hb->extra[--hb->nr_extra];
			break;
		}
	}
	pthread_mutex_unlock(&hb->mu);
}

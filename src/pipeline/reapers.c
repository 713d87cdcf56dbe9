/* reapers.c - leave reapers behind after every run (see reaper.h). */
#include "burst/log.h"
#include "burst/reaper.h"

#include "pipeline-int.h"

void pipeline_arm_reapers(struct run *r)
{
	struct burst_error err = BURST_ERROR_INIT;
	int started = 0;

	/*
	 * The deadlines were moved in the state just before; a live reaper
	 * re-reads them, a missing one (first run, kill -9, reboot) is started.
	 * Also after failures and Ctrl-C: whatever exists must not outlive its
	 * deadline.  No API call.
	 */
	r->reapers_armed = reaper_arm_all(r->st, &started, &err) == 0;
	if (!r->reapers_armed)
		log_warn("pipeline", "arming the reapers: %s", err.message);
	else if (started)
		log_debug("pipeline", "armed %d reaper(s)", started);
	burst_error_release(&err);
}

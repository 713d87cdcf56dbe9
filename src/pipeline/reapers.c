/* reapers.c - leave reapers behind after every run (see reaper.h). */
#include "burst/log.h"

#include "pipeline-int.h"

void pipeline_arm_reapers(struct run *r)
{
	/* TODO: call the lifecycle module's re-arm function once it exists. */
	log_debug("pipeline", "reapers: server row %lld, project %s",
		  (long long)r->srv.row_id, r->hash);
}

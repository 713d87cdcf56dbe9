/*
 * handover.c - handing a server or volume over to a database that
 * replaced ours (a reaper whose state.db was deleted or moved aside).
 */
#include <stdlib.h>
#include <string.h>

#include "state-int.h"

/* ---- handing over to a new database ------------------------------------ */

int state_server_handover(struct burst_state *st, const struct state_server *old,
			  int64_t *row_id, bool *taken, struct burst_error *err)
{
	struct state_server known = { 0 }, copy;
	int found, ret = -1;

	*row_id = 0;
	*taken = false;
	if (st_begin(st, err) < 0)
		return -1;
	found = old->hcloud_id ? state_server_by_hcloud_id(st, old->hcloud_id, &known, err) : 0;
	if (found < 0)
		goto out;
	if (found && known.status != STATE_SERVER_DELETED) {
		*taken = true;
		*row_id = known.id;
		if (known.adopted && old->deadline < known.deadline &&
		    known.status != STATE_SERVER_DELETING) {
			known.deadline = old->deadline;
			known.last_activity = old->last_activity;
			known.keep_alive_secs = old->keep_alive_secs;
			known.no_reap = old->no_reap;
			if (state_server_update(st, &known, err) < 0)
				goto out;
		}
	} else {
		copy = *old;
		copy.id = 0;
		if (state_server_insert(st, &copy, err) < 0)
			goto out;
		*row_id = copy.id;
	}
	if (st_commit(st, err) < 0)
		goto out_norollback;
	ret = 0;
	goto out_norollback;
out:
	st_rollback(st);
out_norollback:
	state_server_release(&known);
	return ret;
}

int state_volume_handover(struct burst_state *st, const struct state_project *old, bool *taken,
			  struct burst_error *err)
{
	struct state_project known = { 0 }, copy;
	int found, ret = -1;

	*taken = false;
	if (st_begin(st, err) < 0)
		return -1;
	found = state_project_get(st, old->id, &known, err);
	if (found < 0)
		goto out;
	if (found && known.volume_status != STATE_VOLUME_NONE && known.volume_hcloud_id) {
		if (known.volume_hcloud_id != old->volume_hcloud_id) {
			ret = 0; /* the project has another volume now */
			goto out;
		}
		*taken = true;
		if (known.volume_adopted && old->volume_deadline < known.volume_deadline &&
		    known.volume_status != STATE_VOLUME_DELETING) {
			known.last_used = old->last_used;
			known.volume_keep_alive = old->volume_keep_alive;
			known.volume_deadline = old->volume_deadline;
			if (state_project_put(st, &known, err) < 0)
				goto out;
		}
	} else {
		copy = *old;
		/* what the new state learnt about the project itself wins */
		if (found) {
			copy.root = known.root ? known.root : old->root;
			copy.name = known.name ? known.name : old->name;
			copy.excludes = known.excludes ? known.excludes : old->excludes;
		}
		copy.volume_adopted = false;
		if (state_project_put(st, &copy, err) < 0)
			goto out;
	}
	if (st_commit(st, err) < 0)
		goto out_norollback;
	ret = 1;
	goto out_norollback;
out:
	st_rollback(st);
out_norollback:
	state_project_release(&known);
	return ret;
}

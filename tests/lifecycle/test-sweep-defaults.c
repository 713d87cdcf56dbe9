/*
 * test-sweep-defaults.c - a sweep without a config (a library caller that
 * has none) adopts with the config key table's defaults: the adopted
 * volume's keep-alive and the adopted server's billing margin are the
 * defaults `cargo burst config --reference` shows (they used to be 7 days
 * and 300 s in the sweep, against 3600 s and 120 s in the table).  Runs
 * against a fresh simulator (run-with-sim.py, no machines); the reapers
 * the adoption arms are this binary re-executed, which exits at once.
 */
#include <stdlib.h>

#include "burst/config.h"
#include "burst/error.h"
#include "burst/hcloud.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "lctest.h"
#include "tap.h"

#define PROJECT "0123456789ab"

int main(int argc, char **argv)
{
	struct lctest t;
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_config def;
	struct hcloud_volume_created vc = { 0 };
	struct hcloud_server_created sc = { 0 };
	struct reaper_sweep_result res = { 0 };
	struct state_project p = { 0 };
	struct state_server row = { 0 };

	if (lctest_is_reaper(argc, argv))
		return 0; /* an armed reaper: nothing to do here */
	lctest_open(&t, "sweep-defaults");
	plan(7);
	config_init(&def);

	lctest_volume_create(&t, "cargo-burst-p-" PROJECT, state_owner_id(t.st), PROJECT, &vc);
	lctest_server_create(&t, "cargo-burst-adopt-me", state_owner_id(t.st), &sc);

	lctest_check(reaper_sweep(t.api, t.st, NULL, REAPER_SWEEP_ADOPT, &res, NULL, &err), &err,
		     "sweep");
	is_int(res.volumes_adopted, 1, "the volume was adopted");
	is_int(res.servers_adopted, 1, "the server was adopted");

	lctest_check(state_project_get(t.st, PROJECT, &p, &err), &err, "project get");
	is_int(p.volume_keep_alive, def.volume_keep_alive_secs,
	       "adopted volume: the default volume_keep_alive_secs (%lld)",
	       (long long)def.volume_keep_alive_secs);
	is_int(p.volume_deadline - p.last_used, def.volume_keep_alive_secs,
	       "... its deadline that long after its last use");

	lctest_check(state_server_by_hcloud_id(t.st, sc.server.id, &row, &err) == 1 ? 0 : -1,
		     &err, "server row");
	is_int(row.keep_alive_secs, def.keep_alive_secs,
	       "adopted server: the default keep_alive_secs (%lld)", (long long)def.keep_alive_secs);
	is_int(row.deadline, state_server_deadline(row.created_at, row.last_activity,
						   def.keep_alive_secs, def.billing_hour_hold,
						   def.billing_margin_secs),
	       "... the deadline with the default billing hold and margin");
	is_int(row.created_at + 3600 - row.deadline, def.billing_margin_secs,
	       "... %lld s before its first billed hour ends", (long long)def.billing_margin_secs);

	state_server_release(&row);
	state_project_release(&p);
	hcloud_server_created_release(&sc);
	hcloud_volume_created_release(&vc);
	config_release(&def);
	burst_error_release(&err);
	lctest_close(&t);
	return done_testing();
}

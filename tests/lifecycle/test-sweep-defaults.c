/*
 * test-sweep-defaults.c - a sweep without a config (a library caller that
 * has none) adopts with the config key table's defaults: the adopted
 * volume's keep-alive and the adopted server's billing margin are the
 * defaults `cargo burst config --reference` shows (they used to be 7 days
 * and 300 s in the sweep, against 3600 s and 120 s in the table).  Runs
 * against a fresh simulator (run-with-sim.py, no machines); the reapers
 * the adoption arms are this binary re-executed, which exits at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burst/config.h"
#include "burst/error.h"
#include "burst/hcloud.h"
#include "burst/provision.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "tap.h"

#define PROJECT "0123456789ab"

static void check_err(int rc, struct burst_error *err, const char *what)
{
	if (rc < 0) {
		diag("%s: %s", what, err->message ? err->message : "?");
		bail_out(what);
	}
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/sweep-defaults-XXXXXX";
	const char *endpoint = getenv("HCLOUD_ENDPOINT"), *token = getenv("HCLOUD_TOKEN");
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_config def;
	struct burst_state *st = NULL;
	struct hcloud *api;
	struct hcloud_labels vl, sl;
	struct hcloud_volume_created vc = { 0 };
	struct hcloud_server_created sc = { 0 };
	struct hcloud_volume_opts vo = { .name = "cargo-burst-p-" PROJECT, .size = 10,
					 .location = "fsn1" };
	struct hcloud_server_opts so = { .name = "cargo-burst-adopt-me", .server_type = "cpx11",
					 .image = "ubuntu-24.04", .location = "fsn1" };
	struct reaper_sweep_result res = { 0 };
	struct state_project p = { 0 };
	struct state_server row = { 0 };
	char *dir, *cmd;

	if (argc > 1 && !strncmp(argv[1], "__reap-", 7))
		return 0; /* an armed reaper: nothing to do here */
	if (!endpoint || !token)
		skip_all("no simulator (run through run-with-sim.py)");
	dir = mkdtemp(tmpl);
	if (!dir)
		bail_out("mkdtemp");
	plan(7);
	config_init(&def);
	check_err(state_open(dir, &st, &err), &err, "state_open");
	state_set_endpoint(st, endpoint);
	api = hcloud_new(endpoint, token, &err);
	if (!api)
		bail_out(err.message);

	hcloud_labels_init(&vl);
	provision_labels(&vl, "volume", state_owner_id(st), PROJECT);
	vo.labels = &vl;
	check_err(hcloud_volume_create(api, &vo, &vc, &err), &err, "volume create");
	hcloud_labels_init(&sl);
	provision_labels(&sl, "server", state_owner_id(st), NULL);
	so.labels = &sl;
	check_err(hcloud_server_create(api, &so, &sc, &err), &err, "server create");

	check_err(reaper_sweep(api, st, NULL, REAPER_SWEEP_ADOPT, &res, NULL, &err), &err,
		  "sweep");
	is_int(res.volumes_adopted, 1, "the volume was adopted");
	is_int(res.servers_adopted, 1, "the server was adopted");

	check_err(state_project_get(st, PROJECT, &p, &err), &err, "project get");
	is_int(p.volume_keep_alive, def.volume_keep_alive_secs,
	       "adopted volume: the default volume_keep_alive_secs (%lld)",
	       (long long)def.volume_keep_alive_secs);
	is_int(p.volume_deadline - p.last_used, def.volume_keep_alive_secs,
	       "... its deadline that long after its last use");

	check_err(state_server_by_hcloud_id(st, sc.server.id, &row, &err) == 1 ? 0 : -1, &err,
		  "server row");
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
	hcloud_labels_release(&sl);
	hcloud_labels_release(&vl);
	hcloud_free(api);
	state_close(st);
	config_release(&def);
	burst_error_release(&err);
	cmd = xstrfmt("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	free(cmd);
	return done_testing();
}

/*
 * bench-state-seed.c - fill a state directory for the state-at-scale
 * benchmark (tests/bench/bench-state.py):
 *
 *     bench-state-seed STATE_DIR RUNS PROJECTS
 *
 * RUNS synthetic runs with their server sessions (state_debug_synthesize),
 * PROJECTS projects with a ready volume each, and one ready server, so that
 * `cargo burst audit` and `cargo burst status` have something real to read.
 */
#include <stdio.h>
#include <stdlib.h>

#include "burst/util.h"
#include "burst/error.h"
#include "burst/state.h"

static int seed_projects(struct burst_state *st, int64_t n, struct burst_error *err)
{
	int64_t now = state_now();

	for (int64_t i = 0; i < n; i++) {
		char id[STATE_OWNER_ID_LEN + 1];
		char *root = xstrfmt("/bench/workspace-%04lld", (long long)i);
		char *name = xstrfmt("workspace-%04lld", (long long)i);
		char *vol = xstrfmt("cargo-burst-bench-%04lld", (long long)i);
		struct state_project p = { 0 };
		int rc;

		state_project_id(root, id);
		p.id = id;
		p.root = root;
		p.name = name;
		p.volume_hcloud_id = 500000 + i;
		p.volume_name = vol;
		p.location = (char *)(i % 2 ? "fsn1" : "nbg1");
		p.size_gb = 10 + i % 40;
		p.volume_status = STATE_VOLUME_READY;
		p.last_used = now - i * 600;
		p.volume_keep_alive = 7 * 86400;
		p.volume_deadline = p.last_used + p.volume_keep_alive;
		rc = state_project_put(st, &p, err);
		free(root);
		free(name);
		free(vol);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int seed_server(struct burst_state *st, struct burst_error *err)
{
	struct state_server srv = { 0 };

	srv.hcloud_id = 499999;
	srv.name = (char *)"cargo-burst-bench-server";
	srv.ip = (char *)"127.0.0.2";
	srv.location = (char *)"fsn1";
	srv.server_type = (char *)"ccx13";
	srv.status = STATE_SERVER_READY;
	srv.keep_alive_secs = 600;
	return state_server_insert(st, &srv, err);
}

int main(int argc, char **argv)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = NULL;
	int64_t runs, projects;
	uint64_t t0;
	int ret = 1;

	if (argc != 4 || parse_int64(argv[2], 0, INT64_C(100000000), &runs) < 0 ||
	    parse_int64(argv[3], 0, INT64_C(100000), &projects) < 0) {
		fprintf(stderr, "usage: bench-state-seed STATE_DIR RUNS PROJECTS\n");
		return 64;
	}
	if (state_open(argv[1], &st, &err) < 0)
		goto out;
	t0 = burst_now_ms();
	if (runs > 0 && state_debug_synthesize(st, runs, 42, &err) < 0)
		goto out;
	if (seed_projects(st, projects, &err) < 0 || seed_server(st, &err) < 0)
		goto out;
	printf("seeded %lld runs and %lld projects in %.2f s\n", (long long)runs,
	       (long long)projects, (double)(burst_now_ms() - t0) / 1000.0);
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "bench-state-seed: %s\n", err.message ? err.message : "failed");
	state_close(st);
	burst_error_release(&err);
	return ret;
}

/*
 * test-sweep-arch.c - after a lost state database the sweep adopts one
 * usable server per architecture (an x86 server does not make the arm64
 * one be deleted, nor the other way round; a second x86 one still is),
 * and a server's architecture is the API's (server_type.architecture):
 * a cpx11 the API calls arm is adopted as arm64, one it calls something
 * else as unknown (used by no run: deleted), the type name only counts
 * when the API says nothing; a server created records the architecture of
 * the create's answer.  Runs against a fresh simulator
 * (run-with-sim.py, no machines; set up with lctest.h, one state and so
 * one owner a section); the host keys are pinned by hand, the
 * architecture is changed in the list answer with the simulator's `patch`
 * fault (simreq.h), and the reapers the adoption arms are this binary
 * re-executed, which exits at once.
 */
#include <stdlib.h>

#include <cJSON.h>

#include "burst/config.h"
#include "burst/error.h"
#include "burst/hcloud.h"
#include "burst/provision.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "lctest.h"
#include "simreq.h"
#include "tap.h"

/* A server of t's owner (role=server) in fsn1; pinned in t's known_hosts. */
static int64_t make_server(struct lctest *t, const char *name, const char *type)
{
	struct hcloud_server_created sc = { 0 };
	int64_t id;

	lctest_server_create_type(t, name, type, state_owner_id(t->st), &sc);
	lctest_pin_host_key(t, sc.server.ipv4, name);
	id = sc.server.id;
	hcloud_server_created_release(&sc);
	return id;
}

/* One usable server per architecture, the API's architecture aside. */
static void test_per_arch(void)
{
	struct lctest t;
	struct burst_error err = BURST_ERROR_INIT;
	struct reaper_sweep_result res = { 0 };
	struct state_server a = { 0 }, b = { 0 }, c = { 0 }, cur = { 0 };
	int64_t x1, arm, x2;

	lctest_open(&t, "sweep-arch");
	x1 = make_server(&t, "cargo-burst-x86-one", "cpx11");
	arm = make_server(&t, "cargo-burst-arm-one", "cax11");
	x2 = make_server(&t, "cargo-burst-x86-two", "cpx11");

	lctest_check(reaper_sweep(t.api, t.st, NULL, REAPER_SWEEP_ADOPT, &res, NULL, &err), &err,
		     "sweep");
	is_int(res.servers_adopted, 3, "the three servers of ours were adopted");
	lctest_server_row(&t, x1, &a);
	lctest_server_row(&t, arm, &b);
	lctest_server_row(&t, x2, &c);
	is_str(state_server_arch(&b), "arm64", "the cax11 server is arm64 (the API's arm)");
	is_int(b.status, STATE_SERVER_READY,
	       "the arm64 server is adopted usable although an x86 one is usable");
	ok(b.ip && b.host_key_pub, "... with its address and pinned host key");
	is_int((a.status == STATE_SERVER_READY) + (c.status == STATE_SERVER_READY), 1,
	       "one of the two x86 servers is adopted usable");
	is_int((a.status == STATE_SERVER_DELETING) + (c.status == STATE_SERVER_DELETING), 1,
	       "the other x86 one is being deleted");
	is_int(provision_current_server(t.st, "arm64", &cur, &err), 1,
	       "an arm64 run finds a server");
	is_int(cur.hcloud_id, arm, "... the arm64 one");
	state_server_release(&cur);
	state_server_release(&a);
	state_server_release(&b);
	state_server_release(&c);
	burst_error_release(&err);
	lctest_close(&t);
}

/*
 * The list answer with the architecture of server ids[i] replaced by
 * archs[i], as a one-time `patch` of GET /servers.
 */
static void patch_archs(const char *owner, const int64_t *ids, const char *const *archs,
			size_t n)
{
	char *path = xstrfmt("/servers?label_selector=owner%%3D%%3D%s", owner);
	char *text = sim_api("GET", path, NULL), *cfg;
	cJSON *doc = cJSON_Parse(text), *servers, *s, *rule, *faults, *root;

	servers = cJSON_DetachItemFromObject(doc, "servers");
	if (cJSON_GetArraySize(servers) != (int)n)
		bail_out("unexpected server list");
	cJSON_ArrayForEach(s, servers) {
		cJSON *st = cJSON_GetObjectItem(s, "server_type");
		int64_t id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(s, "id"));

		for (size_t i = 0; i < n; i++)
			if (ids[i] == id)
				cJSON_ReplaceItemInObject(st, "architecture",
							  cJSON_CreateString(archs[i]));
	}
	root = cJSON_CreateObject();
	faults = cJSON_AddArrayToObject(root, "faults");
	rule = cJSON_CreateObject();
	cJSON_AddStringToObject(rule, "method", "GET");
	cJSON_AddStringToObject(rule, "path", "/servers");
	cJSON_AddBoolToObject(rule, "apply", true);
	cJSON_AddNumberToObject(rule, "times", 1);
	cJSON_AddItemToObject(cJSON_AddObjectToObject(rule, "patch"), "servers", servers);
	cJSON_AddItemToArray(faults, rule);
	cfg = cJSON_PrintUnformatted(root);
	sim_config(cfg);
	free(cfg);
	cJSON_Delete(root);
	cJSON_Delete(doc);
	free(text);
	free(path);
}

/* The API's architecture wins over the type's name; an unknown one is used by no run. */
static void test_api_arch(void)
{
	struct lctest t;
	struct burst_error err = BURST_ERROR_INIT;
	struct reaper_sweep_result res = { 0 };
	struct state_server d = { 0 }, e = { 0 }, cur = { 0 };
	int64_t ids[2];
	static const char *const archs[2] = { "arm", "riscv" };

	lctest_open(&t, "sweep-arch");
	ids[0] = make_server(&t, "cargo-burst-api-arm", "cpx11");
	ids[1] = make_server(&t, "cargo-burst-api-other", "cpx11");
	patch_archs(state_owner_id(t.st), ids, archs, 2);

	lctest_check(reaper_sweep(t.api, t.st, NULL, REAPER_SWEEP_ADOPT, &res, NULL, &err), &err,
		     "sweep");
	is_int(res.servers_adopted, 2, "both servers were adopted");
	lctest_server_row(&t, ids[0], &d);
	lctest_server_row(&t, ids[1], &e);
	is_str(d.arch, "arm64", "a cpx11 the API calls arm is recorded arm64");
	is_str(state_server_arch(&d), "arm64", "... and is arm64, whatever its name says");
	is_int(d.status, STATE_SERVER_READY, "... adopted usable");
	is_int(provision_current_server(t.st, "arm64", &cur, &err), 1, "an arm64 run finds it");
	is_int(cur.hcloud_id, ids[0], "... that one");
	state_server_release(&cur);
	is_int(provision_current_server(t.st, "x86", &cur, &err), 0,
	       "an x86 run finds none (neither cpx11 is x86 by the API)");
	state_server_release(&cur);
	is_str(state_server_arch(&e), "unknown", "an architecture the tool does not know: unknown");
	is_int(e.status, STATE_SERVER_DELETING, "... used by no run: it is deleted");
	state_server_release(&d);
	state_server_release(&e);
	burst_error_release(&err);
	lctest_close(&t);
}

/* A server made through provision_server_create(): its row of t's state. */
static void create(struct lctest *t, const char *name, const char *type,
		   struct state_server *got)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_labels l;
	struct hcloud_server_opts so = { .name = name, .server_type = type,
					 .image = "ubuntu-24.04" };
	struct provision_create pc = { 0 };
	struct provision_created made = { 0 };
	struct state_server row = { 0 };
	struct strvec locs = STRVEC_INIT;

	hcloud_labels_init(&l);
	provision_labels(&l, "server", state_owner_id(t->st), NULL);
	so.labels = &l;
	strvec_push(&locs, "fsn1");
	row.status = STATE_SERVER_PROVISIONING;
	pc.api = t->api;
	pc.state = t->st;
	pc.owner_id = state_owner_id(t->st);
	pc.role = "server";
	pc.so = &so;
	pc.locations = &locs;
	pc.quiet = true;
	pc.row = &row;
	lctest_check(provision_server_create(&pc, &made, &err), &err, "provision_server_create");
	if (!made.row_id || state_server_get(t->st, made.row_id, got, &err) != 1)
		bail_out("no row for a created server");
	provision_created_release(&made);
	strvec_clear(&locs);
	hcloud_labels_release(&l);
}

/* A server created records the architecture of the create's answer. */
static void test_create_arch(void)
{
	struct lctest t;
	struct burst_error err = BURST_ERROR_INIT;
	struct state_server x = { 0 }, a = { 0 }, p = { 0 }, cur = { 0 };

	lctest_open(&t, "sweep-arch");
	create(&t, "cargo-burst-made-x86", "cpx11", &x);
	is_str(x.arch, "x86", "a cpx11 created: x86 recorded from the answer");
	create(&t, "cargo-burst-made-arm", "cax11", &a);
	is_str(a.arch, "arm64", "a cax11 created: arm64 recorded");
	/* the answer to the next create says arm for a cpx11 */
	sim_config("{\"faults\": [{\"method\": \"POST\", \"path\": \"/servers\", \"apply\": true,"
		   " \"times\": 1, \"patch\":"
		   " {\"server\": {\"server_type\": {\"architecture\": \"arm\"}}}}]}");
	create(&t, "cargo-burst-made-api", "cpx11", &p);
	is_str(p.arch, "arm64", "a cpx11 the answer calls arm: arm64 recorded");
	is_int(provision_current_server(t.st, "arm64", &cur, &err), 1,
	       "an arm64 run finds a server");
	is_int(cur.hcloud_id, p.hcloud_id, "... the newest arm64 one, that cpx11");
	state_server_release(&cur);
	is_int(provision_current_server(t.st, "x86", &cur, &err), 1, "an x86 run finds one");
	is_int(cur.hcloud_id, x.hcloud_id, "... the first cpx11");
	state_server_release(&cur);
	state_server_release(&x);
	state_server_release(&a);
	state_server_release(&p);
	burst_error_release(&err);
	lctest_close(&t);
}

int main(int argc, char **argv)
{
	if (lctest_is_reaper(argc, argv))
		return 0; /* an armed reaper: nothing to do here */
	sim_open();
	/* each section its own state database: its own owner, its own servers */
	test_per_arch();
	test_api_arch();
	test_create_arch();
	sim_close();
	return done_testing();
}

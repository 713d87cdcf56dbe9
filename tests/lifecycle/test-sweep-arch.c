/*
 * test-sweep-arch.c - after a lost state database the sweep adopts one
 * usable server per architecture (an x86 server does not make the arm64
 * one be deleted, nor the other way round; a second x86 one still is),
 * and a server's architecture is the API's (server_type.architecture):
 * a cpx11 the API calls arm is adopted as arm64, one it calls something
 * else as unknown (used by no run: deleted), the type name only counts
 * when the API says nothing; a server created records the architecture of
 * the create's answer.  Runs against a fresh simulator
 * (run-with-sim.py, no machines); the host keys are pinned by hand, the
 * architecture is changed in the list answer with the simulator's `patch`
 * fault, and the reapers the adoption arms are this binary re-executed,
 * which exits at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "burst/config.h"
#include "burst/error.h"
#include "burst/hcloud.h"
#include "burst/layout.h"
#include "burst/provision.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "tap.h"

static const char *endpoint, *token, *sim_base;

static void check_err(int rc, struct burst_error *err, const char *what)
{
	if (rc < 0) {
		diag("%s: %s", what, err->message ? err->message : "?");
		bail_out(what);
	}
}

static size_t collect(char *p, size_t size, size_t n, void *data)
{
	strbuf_add(data, p, size * n);
	return size * n;
}

/* A request to the simulator: its control API (api false) or /v1. */
static char *http(bool api, const char *method, const char *path, const char *body)
{
	struct strbuf sb = STRBUF_INIT;
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	char *auth = xstrfmt("Authorization: Bearer %s", token);
	char *url = xstrfmt("%s%s", api ? endpoint : sim_base, path);
	long status = 0;

	if (api)
		hdr = curl_slist_append(hdr, auth);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sb);
	if (curl_easy_perform(h) != CURLE_OK)
		bail_out("simulator request failed");
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300) {
		diag("%s %s -> %ld: %s", method, path, status, sb.buf);
		bail_out("simulator request refused");
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(url);
	free(auth);
	return strbuf_detach(&sb, NULL);
}

/* A server of owner st (role=server) in fsn1; pinned in st's known_hosts. */
static int64_t make_server(struct hcloud *api, struct burst_state *st, const char *name,
			   const char *type)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_labels l;
	struct hcloud_server_created sc = { 0 };
	struct hcloud_server_opts so = { .name = name, .server_type = type,
					 .image = "ubuntu-24.04", .location = "fsn1" };
	char *kh = layout_known_hosts(state_dir(st));
	FILE *f;
	int64_t id;

	hcloud_labels_init(&l);
	provision_labels(&l, "server", state_owner_id(st), NULL);
	so.labels = &l;
	check_err(hcloud_server_create(api, &so, &sc, &err), &err, "server create");
	if (!sc.server.ipv4)
		bail_out("a server without an address");
	/* as a run pins the host key it made before anything connects */
	f = fopen(kh, "a");
	if (!f || fprintf(f, "%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%s\n", sc.server.ipv4,
			  name) < 0 || fclose(f) != 0)
		bail_out("cannot pin a host key");
	id = sc.server.id;
	hcloud_server_created_release(&sc);
	hcloud_labels_release(&l);
	free(kh);
	return id;
}

/* The row of Hetzner id in st (bails out when there is none). */
static void row_of(struct burst_state *st, int64_t id, struct state_server *out)
{
	struct burst_error err = BURST_ERROR_INIT;

	if (state_server_by_hcloud_id(st, id, out, &err) != 1)
		bail_out("no row for an adopted server");
}

static void open_state(const char *dir, struct burst_state **st)
{
	struct burst_error err = BURST_ERROR_INIT;

	check_err(state_open(dir, st, &err), &err, "state_open");
	state_set_endpoint(*st, endpoint);
}

/* One usable server per architecture, the API's architecture aside. */
static void test_per_arch(struct hcloud *api, const char *dir)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = NULL;
	struct reaper_sweep_result res = { 0 };
	struct state_server a = { 0 }, b = { 0 }, c = { 0 }, cur = { 0 };
	int64_t x1, arm, x2;

	open_state(dir, &st);
	x1 = make_server(api, st, "cargo-burst-x86-one", "cpx11");
	arm = make_server(api, st, "cargo-burst-arm-one", "cax11");
	x2 = make_server(api, st, "cargo-burst-x86-two", "cpx11");

	check_err(reaper_sweep(api, st, NULL, REAPER_SWEEP_ADOPT, &res, NULL, &err), &err,
		  "sweep");
	is_int(res.servers_adopted, 3, "the three servers of ours were adopted");
	row_of(st, x1, &a);
	row_of(st, arm, &b);
	row_of(st, x2, &c);
	is_str(state_server_arch(&b), "arm64", "the cax11 server is arm64 (the API's arm)");
	is_int(b.status, STATE_SERVER_READY,
	       "the arm64 server is adopted usable although an x86 one is usable");
	ok(b.ip && b.host_key_pub, "... with its address and pinned host key");
	is_int((a.status == STATE_SERVER_READY) + (c.status == STATE_SERVER_READY), 1,
	       "one of the two x86 servers is adopted usable");
	is_int((a.status == STATE_SERVER_DELETING) + (c.status == STATE_SERVER_DELETING), 1,
	       "the other x86 one is being deleted");
	is_int(provision_current_server(st, "arm64", &cur, &err), 1,
	       "an arm64 run finds a server");
	is_int(cur.hcloud_id, arm, "... the arm64 one");
	state_server_release(&cur);
	state_server_release(&a);
	state_server_release(&b);
	state_server_release(&c);
	state_close(st);
}

/*
 * The list answer with the architecture of server ids[i] replaced by
 * archs[i], as a one-time `patch` of GET /servers.
 */
static void patch_archs(const char *owner, const int64_t *ids, const char *const *archs,
			size_t n)
{
	char *path = xstrfmt("/servers?label_selector=owner%%3D%%3D%s", owner);
	char *text = http(true, "GET", path, NULL), *out, *cfg;
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
	out = http(false, "POST", "/_sim/config", cfg);
	free(out);
	free(cfg);
	cJSON_Delete(root);
	cJSON_Delete(doc);
	free(text);
	free(path);
}

/* The API's architecture wins over the type's name; an unknown one is used by no run. */
static void test_api_arch(struct hcloud *api, const char *dir)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = NULL;
	struct reaper_sweep_result res = { 0 };
	struct state_server d = { 0 }, e = { 0 }, cur = { 0 };
	int64_t ids[2];
	static const char *const archs[2] = { "arm", "riscv" };

	open_state(dir, &st);
	ids[0] = make_server(api, st, "cargo-burst-api-arm", "cpx11");
	ids[1] = make_server(api, st, "cargo-burst-api-other", "cpx11");
	patch_archs(state_owner_id(st), ids, archs, 2);

	check_err(reaper_sweep(api, st, NULL, REAPER_SWEEP_ADOPT, &res, NULL, &err), &err,
		  "sweep");
	is_int(res.servers_adopted, 2, "both servers were adopted");
	row_of(st, ids[0], &d);
	row_of(st, ids[1], &e);
	is_str(d.arch, "arm64", "a cpx11 the API calls arm is recorded arm64");
	is_str(state_server_arch(&d), "arm64", "... and is arm64, whatever its name says");
	is_int(d.status, STATE_SERVER_READY, "... adopted usable");
	is_int(provision_current_server(st, "arm64", &cur, &err), 1, "an arm64 run finds it");
	is_int(cur.hcloud_id, ids[0], "... that one");
	state_server_release(&cur);
	is_int(provision_current_server(st, "x86", &cur, &err), 0,
	       "an x86 run finds none (neither cpx11 is x86 by the API)");
	state_server_release(&cur);
	is_str(state_server_arch(&e), "unknown", "an architecture the tool does not know: unknown");
	is_int(e.status, STATE_SERVER_DELETING, "... used by no run: it is deleted");
	state_server_release(&d);
	state_server_release(&e);
	state_close(st);
}

/* A server made through provision_server_create(): its row of st. */
static void create(struct hcloud *api, struct burst_state *st, const char *name,
		   const char *type, struct state_server *got)
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
	provision_labels(&l, "server", state_owner_id(st), NULL);
	so.labels = &l;
	strvec_push(&locs, "fsn1");
	row.status = STATE_SERVER_PROVISIONING;
	pc.api = api;
	pc.state = st;
	pc.owner_id = state_owner_id(st);
	pc.role = "server";
	pc.so = &so;
	pc.locations = &locs;
	pc.quiet = true;
	pc.row = &row;
	check_err(provision_server_create(&pc, &made, &err), &err, "provision_server_create");
	if (!made.row_id || state_server_get(st, made.row_id, got, &err) != 1)
		bail_out("no row for a created server");
	provision_created_release(&made);
	strvec_clear(&locs);
	hcloud_labels_release(&l);
}

/* A server created records the architecture of the create's answer. */
static void test_create_arch(struct hcloud *api, const char *dir)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = NULL;
	struct state_server x = { 0 }, a = { 0 }, p = { 0 }, cur = { 0 };
	char *out;

	open_state(dir, &st);
	create(api, st, "cargo-burst-made-x86", "cpx11", &x);
	is_str(x.arch, "x86", "a cpx11 created: x86 recorded from the answer");
	create(api, st, "cargo-burst-made-arm", "cax11", &a);
	is_str(a.arch, "arm64", "a cax11 created: arm64 recorded");
	/* the answer to the next create says arm for a cpx11 */
	out = http(false, "POST", "/_sim/config", "{\"faults\": [{\"method\": \"POST\","
		   " \"path\": \"/servers\", \"apply\": true, \"times\": 1, \"patch\":"
		   " {\"server\": {\"server_type\": {\"architecture\": \"arm\"}}}}]}");
	free(out);
	create(api, st, "cargo-burst-made-api", "cpx11", &p);
	is_str(p.arch, "arm64", "a cpx11 the answer calls arm: arm64 recorded");
	is_int(provision_current_server(st, "arm64", &cur, &err), 1, "an arm64 run finds a server");
	is_int(cur.hcloud_id, p.hcloud_id, "... the newest arm64 one, that cpx11");
	state_server_release(&cur);
	is_int(provision_current_server(st, "x86", &cur, &err), 1, "an x86 run finds one");
	is_int(cur.hcloud_id, x.hcloud_id, "... the first cpx11");
	state_server_release(&cur);
	state_server_release(&x);
	state_server_release(&a);
	state_server_release(&p);
	state_close(st);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/sweep-arch-XXXXXX";
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *api;
	char *base, *one, *two, *three, *cmd;

	if (argc > 1 && !strncmp(argv[1], "__reap-", 7))
		return 0; /* an armed reaper: nothing to do here */
	endpoint = getenv("HCLOUD_ENDPOINT");
	token = getenv("HCLOUD_TOKEN");
	sim_base = getenv("BURST_SIM_BASE");
	if (!endpoint || !token || !sim_base)
		skip_all("no simulator (run through run-with-sim.py)");
	base = mkdtemp(tmpl);
	if (!base)
		bail_out("mkdtemp");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	api = hcloud_new(endpoint, token, &err);
	if (!api)
		bail_out(err.message);
	/* two state databases: two owners, each with its own servers */
	one = xstrfmt("%s/one", base);
	two = xstrfmt("%s/two", base);
	test_per_arch(api, one);
	test_api_arch(api, two);
	three = xstrfmt("%s/three", base);
	test_create_arch(api, three);
	free(three);
	hcloud_free(api);
	curl_global_cleanup();
	cmd = xstrfmt("rm -rf '%s'", base);
	if (system(cmd) != 0)
		diag("could not remove %s", base);
	free(cmd);
	free(one);
	free(two);
	burst_error_release(&err);
	return done_testing();
}

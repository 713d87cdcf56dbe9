/*
 * test-hcloud-waiter.c - the action waiter against the API-only simulator
 * (run through run-with-sim.py): polls timed from the actions' progress,
 * one GET /actions for several actions, a chained next_action, an action
 * added later, errors and the deadline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tests/simreq.h"
#include "tests/tap.h"

#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/strbuf.h"

/* GET /v1/actions requests in the log since the last reset; *multi: with 2+ ids. */
static int count_polls(int *multi)
{
	cJSON *log = sim_log(), *e;
	int n = 0;

	*multi = 0;
	cJSON_ArrayForEach(e, log) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "method");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "query");
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(q, "id");

		if (!cJSON_IsString(m) || strcmp(m->valuestring, "GET") || !cJSON_IsString(p) ||
		    strcmp(p->valuestring, "/v1/actions"))
			continue;
		n++;
		if (cJSON_IsArray(ids) && cJSON_GetArraySize(ids) >= 2)
			(*multi)++;
	}
	cJSON_Delete(log);
	return n;
}

static struct hcloud *client(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = hcloud_new(sim_endpoint(), sim_token(), &err);

	if (!c) {
		diag("%s", err.message);
		bail_out("hcloud_new failed");
	}
	hcloud_set_timeouts(c, 2000, 10000);
	return c; /* default poll policy: 500 ms first, 5 s cap */
}

static int create_server(struct hcloud *c, const char *name, struct hcloud_server_created *out,
			 uint64_t *posted)
{
	struct hcloud_server_opts so = { 0 };
	struct burst_error err = BURST_ERROR_INIT;
	int rc;

	so.name = name;
	so.server_type = "cpx11";
	so.image = "ubuntu-24.04";
	so.location = "fsn1";
	rc = hcloud_server_create(c, &so, out, &err);
	*posted = burst_now_ms();
	if (rc < 0)
		diag("create server: %s", err.message);
	burst_error_release(&err);
	return rc;
}

static int create_volume(struct hcloud *c, const char *name, struct hcloud_volume_created *out,
			 uint64_t *posted)
{
	struct hcloud_volume_opts vo = { 0 };
	struct burst_error err = BURST_ERROR_INIT;
	int rc;

	vo.name = name;
	vo.size = 10;
	vo.location = "fsn1";
	rc = hcloud_volume_create(c, &vo, out, &err);
	*posted = burst_now_ms();
	if (rc < 0)
		diag("create volume: %s", err.message);
	burst_error_release(&err);
	return rc;
}

/* A server (1.5 s create + 1.5 s start) and a volume (0.8 s), one waiter. */
static void test_create_and_attach(void)
{
	struct hcloud *c = client();
	struct hcloud_server_created sc = { 0 };
	struct hcloud_volume_created vc = { 0 };
	struct hcloud_action at = { 0 };
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_waiter *w;
	uint64_t sp = 0, vp = 0, ap = 0, t;
	int64_t ids[3];
	int polls, multi, rc;

	sim_config("{\"durations\": {\"server_create\": 1.5, "
		   "\"server_start\": 1.5, \"volume_create\": 0.8, \"attach\": 1.0}}");
	if (create_server(c, "waiter-a", &sc, &sp) < 0 ||
	    create_volume(c, "waiter-a", &vc, &vp) < 0)
		bail_out("creates failed");
	sim_reset_log();
	w = hcloud_waiter_new(c);
	hcloud_waiter_add(w, sc.action.id, sp);
	hcloud_waiter_add(w, vc.action.id, vp);
	ids[0] = sc.action.id;
	ids[1] = sc.next_actions.nr ? sc.next_actions.v[0].id : 0;
	ids[2] = vc.action.id;
	ok(ids[1] != 0, "the create has a start_server next action");
	rc = hcloud_waiter_wait(w, ids, 3, burst_now_ms() + 20000, NULL, NULL, &err);
	t = burst_now_ms();
	ok(rc == 0, "server and volume created (%s)", err.message ? err.message : "ok");
	ok(t - sp >= 3000, "not done before the 3 s boot (%llu ms)",
	   (unsigned long long)(t - sp));
	ok(t - sp <= 3000 + tap_scaled_ms(700),
	   "the end of the boot is noticed within 0.7 s x BURST_TEST_TIME_SCALE (%llu ms)",
	   (unsigned long long)(t - sp));
	polls = count_polls(&multi);
	ok(polls >= 2 && polls <= 4, "2..4 polls for a chained 3 s boot and a volume (%d)", polls);
	ok(multi >= 1, "several actions in one GET /actions (%d of %d polls)", multi, polls);
	is_int((int)hcloud_waiter_polls(w), polls, "the waiter counts its polls");
	ok(hcloud_waiter_action(w, sc.action.id) &&
	   !strcmp(hcloud_waiter_action(w, sc.action.id)->status, "success"),
	   "the create_server action is kept, status success");

	/* an attach added to the same waiter */
	sim_reset_log();
	if (hcloud_volume_attach(c, vc.volume.id, sc.server.id, &at, &err) < 0)
		bail_out("attach failed");
	ap = burst_now_ms();
	hcloud_waiter_add(w, at.id, ap);
	rc = hcloud_waiter_wait(w, &at.id, 1, burst_now_ms() + 20000, NULL, NULL, &err);
	t = burst_now_ms();
	ok(rc == 0, "attach done");
	ok(t - ap >= 1000 && t - ap <= 1000 + tap_scaled_ms(500),
	   "attach noticed within 0.5 s x BURST_TEST_TIME_SCALE of its end (%llu ms)",
	   (unsigned long long)(t - ap));
	polls = count_polls(&multi);
	ok(polls >= 1 && polls <= 2, "1..2 polls for a 1 s attach (%d)", polls);
	hcloud_waiter_free(w);
	hcloud_action_release(&at);
	hcloud_server_created_release(&sc);
	hcloud_volume_created_release(&vc);
	burst_error_release(&err);
	hcloud_free(c);
}

/* hcloud_actions_wait (no start known) still works, polling at once first. */
static void test_plain_wait(void)
{
	struct hcloud *c = client();
	struct hcloud_server_created sc = { 0 };
	struct burst_error err = BURST_ERROR_INIT;
	uint64_t sp = 0;
	int64_t ids[2];
	int polls, multi;

	sim_config("{\"durations\": {\"server_create\": 0.6, "
		   "\"server_start\": 0.6}}");
	if (create_server(c, "waiter-b", &sc, &sp) < 0)
		bail_out("create failed");
	sim_reset_log();
	ids[0] = sc.action.id;
	ids[1] = sc.next_actions.nr ? sc.next_actions.v[0].id : 0;
	ok(hcloud_actions_wait(c, ids, 2, burst_now_ms() + 20000, NULL, NULL, &err) == 0,
	   "hcloud_actions_wait: create and start done");
	polls = count_polls(&multi);
	ok(polls >= 2 && polls <= 6, "a bounded number of polls (%d)", polls);
	hcloud_server_created_release(&sc);
	burst_error_release(&err);
	hcloud_free(c);
}

/* A failing action and a deadline. */
static void test_errors(void)
{
	struct hcloud *c = client();
	struct hcloud_server_created sc = { 0 };
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_waiter *w;
	uint64_t sp = 0, t0;
	int64_t ids[2];

	sim_config("{\"durations\": {\"server_create\": 0.3, "
		   "\"server_start\": 0.3}, \"action_errors\": [{\"command\": "
		   "\"start_server\", \"times\": 1}]}");
	if (create_server(c, "waiter-c", &sc, &sp) < 0)
		bail_out("create failed");
	w = hcloud_waiter_new(c);
	hcloud_waiter_add(w, sc.action.id, sp);
	ids[0] = sc.action.id;
	ids[1] = sc.next_actions.nr ? sc.next_actions.v[0].id : 0;
	ok(hcloud_waiter_wait(w, ids, 2, burst_now_ms() + 20000, NULL, NULL, &err) < 0,
	   "a failed start_server fails the wait");
	is_str(err.api_code, "action_failed", "with the action's error code");
	ok(err.message && strstr(err.message, "start_server"), "naming the command: %s",
	   err.message ? err.message : "");
	ok(hcloud_waiter_action(w, ids[1]) &&
	   !strcmp(hcloud_waiter_action(w, ids[1])->status, "error"),
	   "the failed action is visible");
	hcloud_waiter_free(w);
	hcloud_server_created_release(&sc);
	burst_error_release(&err);

	sim_config("{\"durations\": {\"server_create\": 5.0, "
		   "\"server_start\": 0.3}, \"action_errors\": []}");
	if (create_server(c, "waiter-d", &sc, &sp) < 0)
		bail_out("create failed");
	w = hcloud_waiter_new(c);
	hcloud_waiter_add(w, sc.action.id, sp);
	t0 = burst_now_ms();
	ok(hcloud_waiter_wait(w, &sc.action.id, 1, t0 + 700, NULL, NULL, &err) < 0,
	   "the deadline ends the wait");
	is_str(err.api_code, "timeout", "as a timeout");
	ok(burst_now_ms() - t0 < 700 + tap_scaled_ms(800),
	   "soon after the deadline (within 0.8 s x BURST_TEST_TIME_SCALE: %llu ms)",
	   (unsigned long long)(burst_now_ms() - t0));
	hcloud_waiter_free(w);
	hcloud_server_created_release(&sc);
	burst_error_release(&err);
	hcloud_free(c);
}

int main(void)
{
	sim_open();
	test_create_and_attach();
	test_plain_wait();
	test_errors();
	burst_redact_clear();
	sim_close();
	return done_testing();
}

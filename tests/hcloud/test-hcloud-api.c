/*
 * test-hcloud-api.c - the hcloud client against the local simulator.
 *
 * Run through run-with-sim.py, which starts a fresh simulator (--machines
 * none) and sets HCLOUD_ENDPOINT, HCLOUD_TOKEN and BURST_SIM_BASE.  Asserts
 * on what was sent (the simulator's request log), not only on what came back.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tests/simreq.h"
#include "tests/tap.h"

#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

static const char *endpoint, *token;

/* ---- the simulator's request log (tests/simreq.h) --------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* First value of query parameter k of a log entry, or NULL. */
static const char *query1(const cJSON *e, const char *k)
{
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "query");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(q, k);

	if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0)
		return cJSON_IsString(cJSON_GetArrayItem(v, 0))
			? cJSON_GetArrayItem(v, 0)->valuestring : NULL;
	return NULL;
}

/* Count log entries with method and path (status 0 = any). */
static int count_log(const cJSON *log, const char *method, const char *path, long status)
{
	const cJSON *e;
	int n = 0;

	cJSON_ArrayForEach(e, log) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");

		if (method && (!jstr(e, "method") || strcmp(jstr(e, "method"), method)))
			continue;
		if (path && (!jstr(e, "path") || strcmp(jstr(e, "path"), path)))
			continue;
		if (status && (!cJSON_IsNumber(st) || (long)st->valuedouble != status))
			continue;
		n++;
	}
	return n;
}

static struct hcloud *client(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = hcloud_new(endpoint, token, &err);
	struct hcloud_retry_policy p = { 5, 10, 50, 20000, 3000 };

	if (!c) {
		diag("%s", err.message);
		bail_out("hcloud_new failed");
	}
	hcloud_set_retry(c, &p);
	hcloud_set_poll(c, 50, 200);
	hcloud_set_timeouts(c, 2000, 10000);
	return c;
}

#define OK_CALL(expr, ...)                                                 \
	do {                                                                   \
		int rc_ = (expr);                                                  \
		if (!ok(rc_ == 0, __VA_ARGS__))                                    \
			diag("  error: %s", err.message ? err.message : "(none)");   \
		burst_error_release(&err);                                         \
	} while (0)

static char *pubkey(int i)
{
	return xstrfmt("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA%04d test@burst", i);
}

/* ---- sections --------------------------------------------------------- */

static void test_pagination(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();
	struct hcloud_ssh_keys keys = { 0 };
	struct hcloud_ssh_key k = { 0 };
	cJSON *log;
	int created = 0;
	const cJSON *e;
	bool per_page_50 = true;
	char *fp = NULL;

	for (int i = 0; i < 60; i++) {
		char *name = xstrfmt("key-%02d", i), *pk = pubkey(i);

		if (!hcloud_ssh_key_create(c, name, pk, NULL, &k, &err) && k.id)
			created++;
		else
			diag("key %d: %s", i, err.message);
		if (i == 17)
			fp = xstrdup(k.fingerprint);
		burst_error_release(&err);
		hcloud_ssh_key_release(&k);
		free(name);
		free(pk);
	}
	is_int(created, 60, "60 ssh keys created");
	sim_reset_log();
	OK_CALL(hcloud_ssh_keys_list(c, NULL, NULL, &keys, &err), "list all ssh keys");
	is_int(keys.nr, 60, "pagination returned all 60 keys");
	is_str(keys.nr == 60 ? keys.v[59].name : NULL, "key-59", "last key on page 2");
	log = sim_log();
	is_int(count_log(log, "GET", "/v1/ssh_keys", 200), 2, "two pages fetched");
	cJSON_ArrayForEach(e, log) {
		const char *pp = query1(e, "per_page");

		if (!pp || strcmp(pp, "50"))
			per_page_50 = false;
	}
	ok(per_page_50, "every page asked per_page=50");
	cJSON_Delete(log);
	hcloud_ssh_keys_release(&keys);

	OK_CALL(hcloud_ssh_keys_list(c, fp, NULL, &keys, &err), "list by fingerprint");
	is_int(keys.nr, 1, "one key for that fingerprint");
	is_str(keys.nr ? keys.v[0].name : NULL, "key-17", "the right key");
	hcloud_ssh_keys_release(&keys);
	OK_CALL(hcloud_ssh_keys_list(c, NULL, "key-42", &keys, &err), "list by name");
	is_int(keys.nr, 1, "one key by name");
	hcloud_ssh_keys_release(&keys);
	free(fp);
	hcloud_free(c);
}

static void test_retryable(void)
{
	static const struct {
		int status;
		const char *code;
		const char *extra;
	} cases[] = {
		{ 409, "conflict", "" },
		{ 504, "timeout", "" },
		{ 423, "locked", "" },
		{ 500, "server_error", "" },
		{ 503, "unavailable", "" },
		{ 502, NULL, "" },
		{ 429, "rate_limit_exceeded", "" },
		{ 0, NULL, ", \"drop\": true" },
	};
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct hcloud_locations l = { 0 };
		struct strbuf cfg = STRBUF_INIT;
		struct hcloud_stats st;
		uint64_t retries_before;
		cJSON *log;
		const char *label = cases[i].code ? cases[i].code
			: cases[i].status ? "HTTP 502 without a code" : "dropped connection";

		strbuf_addf(&cfg, "{\"faults\": [{\"method\": \"GET\", \"path\": \"/locations\","
			    " \"times\": 2");
		if (cases[i].status)
			strbuf_addf(&cfg, ", \"status\": %d", cases[i].status);
		if (cases[i].code)
			strbuf_addf(&cfg, ", \"code\": \"%s\"", cases[i].code);
		strbuf_addf(&cfg, "%s}]}", cases[i].extra);
		sim_config(cfg.buf);
		strbuf_release(&cfg);
		sim_reset_log();
		hcloud_get_stats(c, &st);
		retries_before = st.retries;
		OK_CALL(hcloud_locations_list(c, &l, &err), "%s retried until it succeeds", label);
		is_int(l.nr, 6, "%s: six locations", label);
		log = sim_log();
		is_int(count_log(log, "GET", "/v1/locations", 0), 3, "%s: 2 failures + 1 success",
		       label);
		cJSON_Delete(log);
		hcloud_locations_release(&l);
		hcloud_get_stats(c, &st);
		/* libcurl itself resends a GET whose reused connection was dropped. */
		if (cases[i].status)
			is_int(st.retries - retries_before, 2, "%s: retries counted", label);
		else
			ok(st.retries > retries_before, "%s: retries counted", label);
	}

	/* A POST action that is locked is resent. */
	{
		struct hcloud_server_opts o = { .name = "retry-srv", .server_type = "cpx11",
						.image = "ubuntu-24.04", .location = "fsn1" };
		struct hcloud_server_created cr = { 0 };
		struct hcloud_action a = { 0 };
		cJSON *log;

		sim_config("{\"faults\": []}");
		OK_CALL(hcloud_server_create(c, &o, &cr, &err), "create retry-srv");
		OK_CALL(hcloud_server_wait_created(c, &cr, burst_now_ms() + 10000, NULL, NULL, &err),
			"retry-srv running");
		sim_config("{\"faults\": [{\"method\": \"POST\", \"path\": \"/servers/\\\\d+/actions/shutdown\","
			   " \"times\": 1, \"status\": 423, \"code\": \"locked\"}]}");
		sim_reset_log();
		OK_CALL(hcloud_server_shutdown(c, cr.server.id, &a, &err), "locked shutdown resent");
		is_str(a.command, "shutdown_server", "shutdown action decoded");
		log = sim_log();
		is_int(count_log(log, "POST", NULL, 0), 2, "two POSTs for one locked action");
		cJSON_Delete(log);
		hcloud_action_release(&a);
		hcloud_server_created_release(&cr);
	}
	sim_config("{\"faults\": []}");
	hcloud_free(c);
}

static void expect_error(struct hcloud *c, const char *code, int status, const char *fault)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_images l = { 0 };
	char *cfg = xstrfmt("{\"faults\": [{\"method\": \"GET\", \"path\": \"/images\","
			    " \"times\": 1, \"status\": %d, \"code\": \"%s\", \"message\": \"%s\"%s}]}",
			    status, code, "simulated", fault);
	cJSON *log;
	int rc;

	sim_config(cfg);
	sim_reset_log();
	rc = hcloud_images_list(c, "snapshot", NULL, NULL, &l, &err);
	ok(rc < 0, "%s surfaces", code);
	is_str(err.api_code, code, "%s: api_code", code);
	is_int(err.http_status, status, "%s: http status", code);
	is_str(err.api_message, "simulated", "%s: api message", code);
	ok(err.correlation_id && *err.correlation_id, "%s: correlation id kept", code);
	ok(err.message && !strncmp(err.message, "listing images: ", 16),
	   "%s: message says what failed", code);
	ok(err.hint != NULL, "%s: has a hint", code);
	is_int(err.exit_code, BURST_EXIT_API, "%s: exit code", code);
	log = sim_log();
	is_int(count_log(log, "GET", "/v1/images", 0), 1, "%s: not retried", code);
	cJSON_Delete(log);
	burst_error_release(&err);
	hcloud_images_release(&l);
	free(cfg);
}

static void test_non_retryable(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client(), *bad;
	struct hcloud_servers sl = { 0 };
	struct hcloud_server s = { 0 };
	struct hcloud_ssh_key k = { 0 };
	struct hcloud_volume_created vc = { 0 };
	struct hcloud_volume_opts vo = { .name = "too-small", .size = 5, .location = "fsn1" };
	struct hcloud_server_opts so = { .name = "sold-out-1", .server_type = "cpx11",
					 .image = "ubuntu-24.04", .location = "hel1" };
	struct hcloud_server_created cr = { 0 };
	cJSON *log;
	char *pk;

	expect_error(c, "forbidden", 403, "");
	expect_error(c, "token_readonly", 401, "");
	expect_error(c, "resource_limit_exceeded", 403, ", \"details\": {\"limits\": [{\"name\": \"project_limit\"}]}");
	expect_error(c, "protected", 423, "");
	expect_error(c, "maintenance", 403, "");
	expect_error(c, "resource_unavailable", 412, "");
	sim_config("{\"faults\": []}");

	bad = hcloud_new(endpoint, "wrong-token", &err);
	sim_reset_log();
	ok(hcloud_servers_list(bad, NULL, NULL, &sl, &err) < 0, "wrong token fails");
	is_str(err.api_code, "unauthorized", "unauthorized code");
	is_int(err.http_status, 401, "unauthorized is 401");
	ok(err.correlation_id && *err.correlation_id, "unauthorized has a correlation id");
	ok(err.hint && strstr(err.hint, "HCLOUD_TOKEN"), "unauthorized hint");
	log = sim_log();
	is_int(count_log(log, NULL, NULL, 0), 1, "unauthorized not retried");
	cJSON_Delete(log);
	burst_error_release(&err);
	hcloud_servers_release(&sl);
	hcloud_free(bad);

	ok(hcloud_server_get(c, 999999, &s, &err) < 0, "unknown server fails");
	is_str(err.api_code, "not_found", "not_found code");
	is_int(err.http_status, 404, "not_found is 404");
	ok(err.message && strstr(err.message, "getting server 999999"), "not_found message");
	burst_error_release(&err);

	ok(hcloud_volume_create(c, &vo, &vc, &err) < 0, "volume of 5 GB refused");
	is_str(err.api_code, "invalid_input", "invalid_input code");
	ok(err.message && strstr(err.message, "creating volume 'too-small'") &&
	   strstr(err.message, "size"), "invalid_input message names the field");
	ok(err.api_details && strstr(err.api_details, "\"fields\""), "details kept as JSON");
	burst_error_release(&err);
	hcloud_volume_created_release(&vc);

	sim_config("{\"sold_out\": [{\"location\": \"hel1\", \"server_type\": \"cpx11\"}]}");
	sim_reset_log();
	ok(hcloud_server_create(c, &so, &cr, &err) < 0, "sold-out create fails");
	is_str(err.api_code, "resource_unavailable", "resource_unavailable code");
	is_int(err.http_status, 412, "resource_unavailable is 412");
	ok(err.message && strstr(err.message, "creating server 'sold-out-1'"),
	   "message names the server");
	ok(err.hint && strstr(err.hint, "next location"), "hint says what happens next");
	log = sim_log();
	is_int(count_log(log, "POST", "/v1/servers", 0), 1, "sold-out create sent once");
	cJSON_Delete(log);
	burst_error_release(&err);
	hcloud_server_created_release(&cr);
	sim_config("{\"sold_out\": []}");

	pk = pubkey(0);
	ok(hcloud_ssh_key_create(c, "another-name", pk, NULL, &k, &err) < 0,
	   "duplicate public key refused");
	is_str(err.api_code, "uniqueness_error", "uniqueness_error code");
	is_int(err.http_status, 409, "uniqueness_error is 409");
	burst_error_release(&err);
	hcloud_ssh_key_release(&k);
	free(pk);

	/* Retries run out. */
	sim_config("{\"faults\": [{\"method\": \"GET\", \"path\": \"/servers\", \"times\": 0,"
		   " \"status\": 409, \"code\": \"conflict\"}]}");
	sim_reset_log();
	ok(hcloud_servers_list(c, NULL, NULL, &sl, &err) < 0, "endless conflict gives up");
	is_str(err.api_code, "conflict", "last error kept");
	log = sim_log();
	is_int(count_log(log, "GET", "/v1/servers", 0), 5, "bounded by max_attempts");
	cJSON_Delete(log);
	burst_error_release(&err);
	hcloud_servers_release(&sl);
	sim_config("{\"faults\": []}");
	hcloud_free(c);
}

static void test_rate_limit(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();
	struct hcloud_stats st;
	cJSON *log;
	const cJSON *e;
	int good = 0, run = 0, max_run = 0;

	/* 429 handling: pacing off, a bucket of 5 refilled at 5/s. */
	hcloud_set_pace_threshold(c, -1);
	sim_config("{\"rate_limit\": {\"limit\": 5, \"capacity\": 5, \"refill_per_sec\": 5}}");
	sim_reset_log();
	for (int i = 0; i < 15; i++) {
		struct hcloud_locations l = { 0 };

		if (!hcloud_locations_list(c, &l, &err))
			good++;
		else
			diag("%s", err.message);
		burst_error_release(&err);
		hcloud_locations_release(&l);
	}
	is_int(good, 15, "all 15 requests succeed despite a bucket of 5");
	hcloud_get_stats(c, &st);
	ok(st.rate_limited > 0, "429s were seen (%llu)", (unsigned long long)st.rate_limited);
	is_int(st.rl_limit, 5, "RateLimit-Limit kept");
	ok(st.rl_remaining >= 0 && st.rl_remaining <= 5, "RateLimit-Remaining kept");
	ok(st.rl_reset > 0, "RateLimit-Reset kept");
	log = sim_log();
	is_int(count_log(log, NULL, NULL, 429), (long long)st.rate_limited,
	       "every 429 in the log was counted");
	cJSON_ArrayForEach(e, log) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "status");

		run = cJSON_IsNumber(s) && s->valuedouble == 429 ? run + 1 : 0;
		if (run > max_run)
			max_run = run;
	}
	ok(max_run == 1, "after a 429 the client waited for the refill (longest run %d)",
	   max_run);
	cJSON_Delete(log);
	hcloud_free(c);

	/* Pacing: default threshold, a bucket of 20 refilled at 10/s. */
	c = client();
	sim_config("{\"rate_limit\": {\"limit\": 20, \"capacity\": 20, \"refill_per_sec\": 10}}");
	sim_reset_log();
	good = 0;
	for (int i = 0; i < 40; i++) {
		struct hcloud_locations l = { 0 };

		if (!hcloud_locations_list(c, &l, &err))
			good++;
		burst_error_release(&err);
		hcloud_locations_release(&l);
	}
	is_int(good, 40, "40 paced requests succeed");
	hcloud_get_stats(c, &st);
	is_int(st.rate_limited, 0, "pacing avoided every 429");
	ok(st.paced > 0, "requests were paced (%llu, %llu ms)", (unsigned long long)st.paced,
	   (unsigned long long)st.paced_ms);
	is_int(st.requests, 40, "request counter");
	log = sim_log();
	is_int(count_log(log, NULL, NULL, 429), 0, "no 429 in the log");
	cJSON_Delete(log);
	hcloud_free(c);
	sim_config("{\"rate_limit\": {\"limit\": 3600, \"capacity\": 3600, \"refill_per_sec\": 1000}}");
}

static int count_named(struct hcloud *c, const char *name)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_servers l = { 0 };
	int n = -1;

	if (!hcloud_servers_list(c, name, NULL, &l, &err))
		n = (int)l.nr;
	burst_error_release(&err);
	hcloud_servers_release(&l);
	return n;
}

static void create_case(struct hcloud *c, const char *name, const char *fault, bool want_recovered,
			int want_posts, unsigned log_delay_ms)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_server_opts o = { .name = name, .server_type = "cpx11",
					.image = "ubuntu-24.04", .location = "fsn1" };
	struct hcloud_server_created cr = { 0 };
	char *cfg = xstrfmt("{\"faults\": [{\"method\": \"POST\", \"path\": \"/servers\", "
			    "\"times\": 1, %s}]}", fault);
	cJSON *log;

	sim_config(cfg);
	sim_reset_log();
	OK_CALL(hcloud_server_create(c, &o, &cr, &err), "%s: create succeeds", name);
	ok(cr.recovered == want_recovered, "%s: recovered is %d", name, want_recovered);
	is_str(cr.server.name, name, "%s: the server is returned", name);
	is_int(count_named(c, name), 1, "%s: exactly one server", name);
	/* A delayed reply is logged only when the simulator finally sends it. */
	if (log_delay_ms)
		usleep(log_delay_ms * 1000);
	log = sim_log();
	is_int(count_log(log, "POST", "/v1/servers", 0), want_posts, "%s: POSTs sent", name);
	ok(count_log(log, "GET", "/v1/servers", 0) >= 2, "%s: looked up by name", name);
	cJSON_Delete(log);
	sim_config("{\"faults\": []}");
	OK_CALL(hcloud_server_wait_created(c, &cr, burst_now_ms() + 10000, NULL, NULL, &err),
		"%s: waited until running", name);
	is_str(cr.server.status, "running", "%s: running", name);
	hcloud_server_created_release(&cr);
	free(cfg);
}

static void test_no_duplicate(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();

	create_case(c, "dup-1", "\"apply\": true, \"drop\": true", true, 1, 0);
	create_case(c, "dup-2", "\"apply\": true, \"status\": 504, \"code\": \"timeout\"", true, 1, 0);
	create_case(c, "dup-3", "\"drop\": true", false, 2, 0);
	create_case(c, "dup-4", "\"apply\": true, \"status\": 502", true, 1, 0);
	/* The reply takes longer than the client's request timeout. */
	hcloud_set_timeouts(c, 1000, 700);
	create_case(c, "dup-5", "\"apply\": true, \"delay\": 2", true, 1, 2500);
	hcloud_set_timeouts(c, 2000, 10000);

	{
		struct hcloud_volume_opts vo = { .name = "dup-vol", .size = 10, .location = "fsn1",
						 .format = "ext4" };
		struct hcloud_volume_created vc = { 0 };
		struct hcloud_volumes vl = { 0 };
		cJSON *log;

		sim_config("{\"faults\": [{\"method\": \"POST\", \"path\": \"/volumes\", \"times\": 1,"
			   " \"apply\": true, \"drop\": true}]}");
		sim_reset_log();
		OK_CALL(hcloud_volume_create(c, &vo, &vc, &err), "volume create after a lost reply");
		ok(vc.recovered && vc.volume.id, "volume recovered by name");
		log = sim_log();
		is_int(count_log(log, "POST", "/v1/volumes", 0), 1, "volume POSTed once");
		cJSON_Delete(log);
		sim_config("{\"faults\": []}");
		OK_CALL(hcloud_volume_wait_created(c, &vc, burst_now_ms() + 10000, NULL, NULL, &err),
			"recovered volume waited");
		is_str(vc.volume.status, "available", "volume available");
		OK_CALL(hcloud_volumes_list(c, "dup-vol", NULL, &vl, &err), "list volume by name");
		is_int(vl.nr, 1, "one volume");
		hcloud_volumes_release(&vl);
		/* Attach and create_image whose replies are lost are not resent blindly. */
		{
			struct hcloud_server_opts o = { .name = "dup-img", .server_type = "cpx11",
							.image = "ubuntu-24.04", .location = "fsn1" };
			struct hcloud_server_created cr = { 0 };
			struct hcloud_action a = { 0 };
			struct hcloud_image img = { 0 };
			struct hcloud_images il = { 0 };
			struct hcloud_volume v = { 0 };
			int n_made = 0;

			OK_CALL(hcloud_server_create(c, &o, &cr, &err), "create dup-img");
			OK_CALL(hcloud_server_wait_created(c, &cr, burst_now_ms() + 10000, NULL, NULL,
							   &err), "dup-img running");
			sim_config("{\"faults\": [{\"method\": \"POST\", \"path\": \"/volumes/\\\\d+/actions/attach\","
				   " \"times\": 1, \"apply\": true, \"drop\": true}]}");
			sim_reset_log();
			OK_CALL(hcloud_volume_attach(c, vc.volume.id, cr.server.id, &a, &err),
				"attach after a lost reply");
			log = sim_log();
			is_int(count_log(log, "POST", NULL, 0), 1, "attach POSTed once");
			cJSON_Delete(log);
			if (a.id)
				OK_CALL(hcloud_actions_wait(c, &a.id, 1, burst_now_ms() + 10000, NULL, NULL,
							    &err), "recovered attach action done");
			OK_CALL(hcloud_volume_get(c, vc.volume.id, &v, &err), "get attached volume");
			is_int(v.server, cr.server.id, "volume attached");
			hcloud_volume_release(&v);
			hcloud_action_release(&a);

			sim_config("{\"faults\": [{\"method\": \"POST\", \"path\": \"/servers/\\\\d+/actions/create_image\","
				   " \"times\": 1, \"apply\": true, \"status\": 504, \"code\": \"timeout\"}]}");
			sim_reset_log();
			OK_CALL(hcloud_server_create_image(c, cr.server.id, "dup", NULL, &img, &a, &err),
				"create_image after a lost reply");
			ok(img.id > 0, "the image it made is returned");
			log = sim_log();
			is_int(count_log(log, "POST", NULL, 0), 1, "create_image POSTed once");
			cJSON_Delete(log);
			OK_CALL(hcloud_images_list(c, "snapshot", NULL, NULL, &il, &err), "list snapshots");
			for (size_t i = 0; i < il.nr; i++)
				n_made += il.v[i].created_from == cr.server.id;
			is_int(n_made, 1, "exactly one snapshot of dup-img");
			hcloud_images_release(&il);
			sim_config("{\"faults\": []}");
			OK_CALL(hcloud_image_wait_available(c, img.id, burst_now_ms() + 10000, &err),
				"recovered image becomes available");
			OK_CALL(hcloud_image_delete(c, img.id, &err), "delete the image");
			hcloud_image_release(&img);
			hcloud_action_release(&a);
			OK_CALL(hcloud_server_delete(c, cr.server.id, &a, &err), "delete dup-img");
			OK_CALL(hcloud_actions_wait(c, &a.id, 1, burst_now_ms() + 10000, NULL, NULL, &err),
				"dup-img gone, volume detached");
			hcloud_action_release(&a);
			hcloud_server_created_release(&cr);
		}
		OK_CALL(hcloud_volume_delete(c, vc.volume.id, &err), "delete volume");
		hcloud_volume_created_release(&vc);
	}
	hcloud_free(c);
}

struct progress_count {
	int calls;
	size_t max_n;
};

static void on_progress(const struct hcloud_actions *a, void *data)
{
	struct progress_count *p = data;

	p->calls++;
	if (a->nr > p->max_n)
		p->max_n = a->nr;
}

static void test_waiter(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();
	struct hcloud_server_created cr[3];
	int64_t ids[6];
	size_t n = 0;
	struct progress_count pc = { 0, 0 };
	cJSON *log;
	const cJSON *e;
	int polls = 0, multi = 0;
	uint64_t t0;

	memset(cr, 0, sizeof(cr));

	/* Several actions at once, all succeed. */
	for (int i = 0; i < 3; i++) {
		char *name = xstrfmt("wait-ok-%d", i);
		struct hcloud_server_opts o = { .name = name, .server_type = "cpx11",
						.image = "ubuntu-24.04", .location = "nbg1" };

		OK_CALL(hcloud_server_create(c, &o, &cr[i], &err), "create %s", name);
		ids[n++] = cr[i].action.id;
		if (cr[i].next_actions.nr)
			ids[n++] = cr[i].next_actions.v[0].id;
		free(name);
	}
	is_int(n, 6, "3 create_server + 3 start_server actions");
	sim_reset_log();
	OK_CALL(hcloud_actions_wait(c, ids, n, burst_now_ms() + 15000, on_progress, &pc, &err),
		"waited for 6 actions");
	ok(pc.calls >= 1 && pc.max_n == 6, "progress saw all 6 actions (%d calls)", pc.calls);
	log = sim_log();
	cJSON_ArrayForEach(e, log) {
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(e, "query"), "id");

		if (!jstr(e, "path") || strcmp(jstr(e, "path"), "/v1/actions"))
			continue;
		polls++;
		if (cJSON_GetArraySize(q) > 1)
			multi++;
	}
	is_int(count_log(log, NULL, NULL, 0), polls, "only GET /actions while waiting");
	ok(polls >= 1 && multi >= 1, "one request per poll for several ids (%d polls)", polls);
	cJSON_Delete(log);
	for (int i = 0; i < 3; i++) {
		struct hcloud_action a = { 0 };

		OK_CALL(hcloud_server_wait_created(c, &cr[i], burst_now_ms() + 5000, NULL, NULL,
						   &err), "server %d created", i);
		is_str(cr[i].server.status, "running", "server %d running", i);
		OK_CALL(hcloud_server_delete(c, cr[i].server.id, &a, &err), "delete server %d", i);
		ok(a.id > 0, "delete returns an action");
		hcloud_action_release(&a);
		hcloud_server_created_release(&cr[i]);
	}

	/* One of them fails. */
	sim_config("{\"action_errors\": [{\"command\": \"start_server\", \"times\": 1}]}");
	n = 0;
	for (int i = 0; i < 3; i++) {
		char *name = xstrfmt("wait-err-%d", i);
		struct hcloud_server_opts o = { .name = name, .server_type = "cpx11",
						.image = "ubuntu-24.04", .location = "nbg1" };

		OK_CALL(hcloud_server_create(c, &o, &cr[i], &err), "create %s", name);
		ids[n++] = cr[i].action.id;
		if (cr[i].next_actions.nr)
			ids[n++] = cr[i].next_actions.v[0].id;
		free(name);
	}
	ok(hcloud_actions_wait(c, ids, n, burst_now_ms() + 15000, NULL, NULL, &err) < 0,
	   "a failed action fails the wait");
	is_str(err.api_code, "action_failed", "action error code");
	ok(err.message && strstr(err.message, "start_server"), "message names the command: %s",
	   err.message ? err.message : "");
	burst_error_release(&err);
	sim_config("{\"action_errors\": []}");
	for (int i = 0; i < 3; i++)
		hcloud_server_created_release(&cr[i]);

	/* The deadline passes. */
	sim_config("{\"durations\": {\"server_create\": 5}}");
	{
		struct hcloud_server_opts o = { .name = "wait-slow", .server_type = "cpx11",
						.image = "ubuntu-24.04", .location = "nbg1" };

		OK_CALL(hcloud_server_create(c, &o, &cr[0], &err), "create wait-slow");
		t0 = burst_now_ms();
		ok(hcloud_server_wait_created(c, &cr[0], t0 + 300, NULL, NULL, &err) < 0,
		   "deadline expiry fails the wait");
		ok(burst_now_ms() - t0 < 2000, "the deadline is honoured (%llu ms)",
		   (unsigned long long)(burst_now_ms() - t0));
		ok(err.message && strstr(err.message, "timed out") &&
		   strstr(err.message, "create_server"),
		   "message names the running action: %s", err.message ? err.message : "");
		burst_error_release(&err);
		hcloud_server_created_release(&cr[0]);
	}
	sim_config("{\"durations\": {\"server_create\": 0.2}}");
	hcloud_free(c);
}

static void test_labels_and_more(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();
	struct hcloud_labels l1 = HCLOUD_LABELS_INIT, l2 = HCLOUD_LABELS_INIT;
	struct hcloud_server_created a = { 0 }, b = { 0 };
	struct hcloud_servers sl = { 0 };
	struct hcloud_images il = { 0 };
	struct hcloud_image img = { 0 };
	struct hcloud_action act = { 0 };
	struct hcloud_volume_created vc = { 0 };
	struct hcloud_volume vol = { 0 };
	struct hcloud_server_types types = { 0 };
	struct hcloud_pricing pr = { 0 };
	const char *sel = "managed-by==cargo-burst,role in (server,bake)";
	char *built;
	cJSON *log;
	bool avail = false;

	hcloud_labels_set(&l1, "managed-by", "cargo-burst");
	hcloud_labels_set(&l1, "role", "server");
	hcloud_labels_set(&l2, "managed-by", "cargo-burst");
	hcloud_labels_set(&l2, "role", "volume");
	{
		struct hcloud_server_opts o1 = { .name = "lab-1", .server_type = "cpx11",
						 .image = "ubuntu-24.04", .location = "fsn1",
						 .labels = &l1 };
		struct hcloud_server_opts o2 = { .name = "lab-2", .server_type = "cpx11",
						 .image = "ubuntu-24.04", .location = "fsn1",
						 .labels = &l2 };

		OK_CALL(hcloud_server_create(c, &o1, &a, &err), "create lab-1");
		OK_CALL(hcloud_server_create(c, &o2, &b, &err), "create lab-2");
	}
	sim_reset_log();
	OK_CALL(hcloud_servers_list(c, NULL, sel, &sl, &err), "list by selector");
	is_int(sl.nr, 1, "selector matches one server");
	is_str(sl.nr ? sl.v[0].name : NULL, "lab-1", "the right one");
	log = sim_log();
	is_str(cJSON_GetArraySize(log) ? query1(cJSON_GetArrayItem(log, 0), "label_selector") : NULL,
	       sel, "selector arrived intact (URL-encoded on the wire)");
	cJSON_Delete(log);
	hcloud_servers_release(&sl);
	built = hcloud_labels_selector(&l2);
	OK_CALL(hcloud_servers_list(c, NULL, built, &sl, &err), "list by built selector");
	is_int(sl.nr, 1, "built selector matches one server");
	ok(sl.nr && hcloud_labels_match(&sl.v[0].labels, &l2), "labels decoded and matched");
	hcloud_servers_release(&sl);
	free(built);

	/* Labels update, image, volume, types, pricing. */
	OK_CALL(hcloud_server_wait_created(c, &a, burst_now_ms() + 10000, NULL, NULL, &err),
		"lab-1 running");
	hcloud_labels_set(&l1, "extra", "yes");
	OK_CALL(hcloud_server_set_labels(c, a.server.id, &l1, &err), "update labels");
	OK_CALL(hcloud_server_get(c, a.server.id, &a.server, &err), "get lab-1");
	is_str(hcloud_labels_get(&a.server.labels, "extra"), "yes", "label updated");

	OK_CALL(hcloud_server_create_image(c, a.server.id, "burst test", &l1, &img, &act, &err),
		"create_image");
	is_str(act.command, "create_image", "create_image action");
	OK_CALL(hcloud_actions_wait(c, &act.id, 1, burst_now_ms() + 10000, NULL, NULL, &err),
		"create_image action done");
	OK_CALL(hcloud_image_wait_available(c, img.id, burst_now_ms() + 10000, &err),
		"image available");
	OK_CALL(hcloud_images_list(c, "snapshot", "extra==yes", "created:desc", &il, &err),
		"list snapshots by label");
	is_int(il.nr, 1, "one snapshot");
	ok(il.nr && il.v[0].created_from == a.server.id, "created_from is lab-1");
	hcloud_images_release(&il);
	OK_CALL(hcloud_image_set_labels(c, img.id, &l2, &err), "image labels");
	OK_CALL(hcloud_image_delete(c, img.id, &err), "image delete");
	hcloud_image_release(&img);
	hcloud_action_release(&act);

	{
		struct hcloud_volume_opts vo = { .name = "vol-a", .size = 10, .format = "ext4",
						 .server = a.server.id, .labels = &l2 };

		OK_CALL(hcloud_volume_create(c, &vo, &vc, &err), "volume create with server");
		is_int(vc.next_actions.nr, 1, "attach_volume in next_actions");
		OK_CALL(hcloud_volume_wait_created(c, &vc, burst_now_ms() + 10000, NULL, NULL, &err),
			"volume created and attached");
		is_int(vc.volume.server, a.server.id, "attached to lab-1");
		is_str(vc.volume.location, "fsn1", "volume in the server's location");
		OK_CALL(hcloud_volume_detach(c, vc.volume.id, &act, &err), "detach");
		OK_CALL(hcloud_actions_wait(c, &act.id, 1, burst_now_ms() + 10000, NULL, NULL, &err),
			"detach done");
		hcloud_action_release(&act);
		OK_CALL(hcloud_volume_get(c, vc.volume.id, &vol, &err), "get volume");
		is_int(vol.server, 0, "detached");
		OK_CALL(hcloud_volume_attach(c, vc.volume.id, b.server.id, &act, &err),
			"attach to lab-2");
		OK_CALL(hcloud_actions_wait(c, &act.id, 1, burst_now_ms() + 10000, NULL, NULL, &err),
			"attach done");
		hcloud_action_release(&act);
		OK_CALL(hcloud_volume_detach(c, vc.volume.id, &act, &err), "detach again");
		OK_CALL(hcloud_actions_wait(c, &act.id, 1, burst_now_ms() + 10000, NULL, NULL, &err),
			"detach done again");
		hcloud_action_release(&act);
		OK_CALL(hcloud_volume_set_labels(c, vc.volume.id, &l1, &err), "volume labels");
		OK_CALL(hcloud_volume_delete(c, vc.volume.id, &err), "volume delete");
		hcloud_volume_release(&vol);
		hcloud_volume_created_release(&vc);
	}

	OK_CALL(hcloud_server_poweroff(c, a.server.id, &act, &err), "poweroff");
	OK_CALL(hcloud_server_wait_status(c, a.server.id, "off", burst_now_ms() + 10000, &err),
		"server off");
	hcloud_action_release(&act);
	OK_CALL(hcloud_server_poweron(c, a.server.id, &act, &err), "poweron");
	is_str(act.command, "start_server", "poweron action");
	hcloud_action_release(&act);

	OK_CALL(hcloud_server_types_list(c, NULL, &types, &err), "server types");
	ok(types.nr >= 5, "several server types");
	hcloud_server_types_release(&types);
	OK_CALL(hcloud_type_available(c, "cpx11", "fsn1", &avail, &err), "type available?");
	ok(avail, "cpx11 is available in fsn1");
	sim_config("{\"sold_out\": [{\"location\": \"fsn1\", \"server_type\": \"cpx11\"}]}");
	OK_CALL(hcloud_type_available(c, "cpx11", "fsn1", &avail, &err), "type available again?");
	ok(!avail, "sold-out cpx11 is not available in fsn1");
	sim_config("{\"sold_out\": []}");
	ok(hcloud_type_available(c, "nope99", "fsn1", &avail, &err) < 0, "unknown type fails");
	is_str(err.api_code, "not_found", "unknown type is not_found");
	burst_error_release(&err);
	OK_CALL(hcloud_pricing_get(c, &pr, &err), "pricing");
	is_str(pr.currency, "EUR", "currency");
	ok(pr.server_types.nr >= 5 && pr.volume_gb_month.monthly_gross_d > 0, "prices decoded");
	hcloud_pricing_release(&pr);

	OK_CALL(hcloud_server_delete(c, a.server.id, NULL, &err), "delete lab-1");
	OK_CALL(hcloud_server_delete(c, b.server.id, NULL, &err), "delete lab-2");
	hcloud_server_created_release(&a);
	hcloud_server_created_release(&b);
	hcloud_labels_release(&l1);
	hcloud_labels_release(&l2);
	hcloud_free(c);
}

struct vol_job {
	struct hcloud_volume_created vc;
	struct burst_error err;
	int rc;
};

static void *create_volume_thread(void *data)
{
	struct vol_job *job = data;
	struct hcloud *c = client();
	struct hcloud_volume_opts vo = { .name = "thread-vol", .size = 10, .location = "hel1",
					 .format = "ext4" };

	job->rc = hcloud_volume_create(c, &vo, &job->vc, &job->err);
	if (!job->rc)
		job->rc = hcloud_volume_wait_created(c, &job->vc, burst_now_ms() + 10000, NULL,
						     NULL, &job->err);
	hcloud_free(c);
	return NULL;
}

/* The pipeline creates the volume on a second thread with its own client. */
static void test_two_threads(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();
	struct vol_job job;
	struct hcloud_server_opts o = { .name = "thread-srv", .server_type = "cpx11",
					.image = "ubuntu-24.04", .location = "hel1" };
	struct hcloud_server_created cr = { 0 };
	struct hcloud_action a = { 0 };
	pthread_t t;

	memset(&job, 0, sizeof(job));
	burst_error_init(&job.err);
	if (pthread_create(&t, NULL, create_volume_thread, &job))
		bail_out("pthread_create failed");
	OK_CALL(hcloud_server_create(c, &o, &cr, &err), "server create on the main thread");
	OK_CALL(hcloud_server_wait_created(c, &cr, burst_now_ms() + 10000, NULL, NULL, &err),
		"server running");
	pthread_join(t, NULL);
	if (!ok(job.rc == 0, "volume created on a second thread"))
		diag("  error: %s", job.err.message ? job.err.message : "(none)");
	OK_CALL(hcloud_volume_attach(c, job.vc.volume.id, cr.server.id, &a, &err),
		"attach the thread's volume to the server");
	OK_CALL(hcloud_actions_wait(c, &a.id, 1, burst_now_ms() + 10000, NULL, NULL, &err),
		"attach done");
	hcloud_action_release(&a);
	OK_CALL(hcloud_server_delete(c, cr.server.id, &a, &err), "delete thread-srv");
	OK_CALL(hcloud_actions_wait(c, &a.id, 1, burst_now_ms() + 10000, NULL, NULL, &err),
		"server delete done (volume detached)");
	OK_CALL(hcloud_volume_delete(c, job.vc.volume.id, &err), "delete thread-vol");
	hcloud_action_release(&a);
	hcloud_server_created_release(&cr);
	hcloud_volume_created_release(&job.vc);
	burst_error_release(&job.err);
	hcloud_free(c);
}


/* Has s a byte a terminal would act on (ESC, other C0 but none, DEL, C1)? */
static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return true;
	return false;
}

/* Run burst_error_print() with stderr captured into out. */
static void print_captured(const struct burst_error *err, struct strbuf *out)
{
	char path[] = "/tmp/hcloud-err-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);

	if (fd < 0 || saved < 0)
		bail_out("cannot capture stderr");
	fflush(stderr);
	dup2(fd, 2);
	burst_error_print(err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	strbuf_read_file(out, path);
	unlink(path);
}

static void test_hostile_errors(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();
	struct hcloud_images l = { 0 };
	struct hcloud_volume_created vc = { 0 };
	struct hcloud_volume_opts vo = { .name = "hostile", .size = 10, .location = "fsn1" };
	struct strbuf printed = STRBUF_INIT;

	/* an unknown code: the API's own message is shown, escape sequences and all */
	sim_config("{\"faults\": [{\"method\": \"GET\", \"path\": \"/images\", \"times\": 1,"
		   " \"status\": 403, \"code\": \"weird\\u001b[31m_code\","
		   " \"message\": \"boom\\u001b[2J\\u001b]0;owned\\u0007 \\u001b]8;;http://x\\u001b\\\\link"
		   "\\u009b31m\\r\\nfake: line\\u007f\","
		   " \"details\": {\"x\": \"\\u009b\\u001b[5m\"}}]}");
	ok(hcloud_images_list(c, NULL, NULL, NULL, &l, &err) < 0, "hostile error answer fails");
	ok(err.message && strstr(err.message, "boom"), "the API's message is shown: %s",
	   err.message ? err.message : "(none)");
	ok(err.message && !has_control(err.message), "no control characters in the message");
	ok(err.api_message && !has_control(err.api_message), "nor in the API message");
	ok(err.api_code && !has_control(err.api_code), "nor in the API code");
	ok(err.api_details && !has_control(err.api_details), "nor in the details");
	ok(!err.correlation_id || !has_control(err.correlation_id), "nor in the correlation id");
	print_captured(&err, &printed);
	ok(printed.len && !strchr(printed.buf, '\x1b') && !strchr(printed.buf, '\x07') &&
	   !strchr(printed.buf, '\r') && !strstr(printed.buf, "\xc2\x9b"),
	   "no escape sequence reaches stderr raw");
	burst_error_release(&err);
	hcloud_images_release(&l);
	strbuf_reset(&printed);

	/* invalid_input: the field names and messages are shown too */
	sim_config("{\"faults\": [{\"method\": \"POST\", \"path\": \"/volumes\", \"times\": 1,"
		   " \"status\": 422, \"code\": \"invalid_input\", \"message\": \"bad\","
		   " \"details\": {\"fields\": [{\"name\": \"na\\u001b[8mme\","
		   " \"messages\": [\"is \\u001b]52;c;ZXZpbA==\\u0007wrong\"]}]}}]}");
	ok(hcloud_volume_create(c, &vo, &vc, &err) < 0, "hostile invalid_input fails");
	ok(err.message && strstr(err.message, "name: is wrong"),
	   "field name and message shown without their escapes: %s",
	   err.message ? err.message : "(none)");
	ok(err.message && !has_control(err.message), "no control characters in field messages");
	print_captured(&err, &printed);
	ok(!strchr(printed.buf, '\x1b') && !strchr(printed.buf, '\x07'),
	   "no escape sequence of a field reaches stderr raw");
	burst_error_release(&err);
	hcloud_volume_created_release(&vc);
	strbuf_release(&printed);
	sim_config("{\"faults\": []}");
	hcloud_free(c);
}

/* List the ssh keys under a pagination patch; returns the GETs it cost. */
static int list_patched(struct hcloud *c, const char *pagination, struct burst_error *err,
			int *rc)
{
	struct hcloud_ssh_keys keys = { 0 };
	char *cfg = xstrfmt("{\"faults\": [{\"method\": \"GET\", \"path\": \"/ssh_keys\","
			    " \"times\": 0, \"apply\": true, \"status\": 0,"
			    " \"patch\": {\"meta\": {\"pagination\": %s}}}]}", pagination);
	cJSON *log;
	int n;

	sim_config(cfg);
	sim_reset_log();
	*rc = hcloud_ssh_keys_list(c, NULL, NULL, &keys, err);
	log = sim_log();
	n = count_log(log, "GET", "/v1/ssh_keys", 0);
	cJSON_Delete(log);
	hcloud_ssh_keys_release(&keys);
	sim_config("{\"faults\": []}");
	free(cfg);
	return n;
}

static void test_pagination_bounds(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();
	int rc, n;

	/* 60 keys (test_pagination): 2 pages */
	n = list_patched(c, "{\"next_page\": \"$page+1\", \"last_page\": null,"
			 " \"total_entries\": null}", &err, &rc);
	ok(rc < 0, "a next_page that always grows fails");
	is_int(err.exit_code, BURST_EXIT_API, "  as an API error (69)");
	ok(err.message && strstr(err.message, "'/ssh_keys'") && strstr(err.message, "200 pages"),
	   "  naming the endpoint and the bound: %s", err.message ? err.message : "(none)");
	ok(n == 200, "  after at most 200 pages (%d requests)", n);
	burst_error_release(&err);

	n = list_patched(c, "{\"next_page\": \"$page+1\"}", &err, &rc);
	ok(rc < 0 && err.exit_code == BURST_EXIT_API, "pages past the announced last_page fail");
	ok(n <= 3, "  within one page of what was announced (%d requests)", n);
	ok(err.message && strstr(err.message, "'/ssh_keys'"), "  naming the endpoint: %s",
	   err.message ? err.message : "(none)");
	burst_error_release(&err);

	n = list_patched(c, "{\"next_page\": \"$page+1\", \"last_page\": null}", &err, &rc);
	ok(rc < 0 && n <= 3, "total_entries bounds the pages too (%d requests)", n);
	burst_error_release(&err);

	n = list_patched(c, "{\"next_page\": \"$page+2\"}", &err, &rc);
	ok(rc < 0 && err.exit_code == BURST_EXIT_API && n == 1,
	   "a next_page that skips a page fails at once (%d requests)", n);
	burst_error_release(&err);

	n = list_patched(c, "{\"next_page\": 1}", &err, &rc);
	ok(rc < 0 && n == 1, "a next_page that goes back fails (not a silently short list)");
	burst_error_release(&err);

	n = list_patched(c, "{\"next_page\": \"two\"}", &err, &rc);
	ok(rc < 0 && n == 1, "a next_page that is not a number fails");
	burst_error_release(&err);

	n = list_patched(c, "{\"last_page\": 100000}", &err, &rc);
	ok(rc < 0 && n == 1 && err.message && strstr(err.message, "100000 pages announced"),
	   "100000 announced pages fail at the first: %s", err.message ? err.message : "(none)");
	burst_error_release(&err);

	n = list_patched(c, "{}", &err, &rc);
	ok(rc == 0 && n == 2, "an untouched list still reads its 2 pages");
	burst_error_release(&err);
	hcloud_free(c);
}

static void test_hostile_address(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c = client();
	struct hcloud_server_opts o = { .name = "addr-srv", .server_type = "cpx11",
					.image = "ubuntu-24.04", .location = "fsn1" };
	struct hcloud_server_created cr = { 0 };
	struct hcloud_server s = { 0 };

	sim_config("{\"faults\": [{\"method\": \"POST\", \"path\": \"/servers\", \"times\": 1,"
		   " \"apply\": true, \"status\": 0, \"patch\": {\"server\": {\"public_net\":"
		   " {\"ipv4\": {\"ip\": \"127.0.0.9\\n* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostile\"}}}}},"
		   " {\"method\": \"GET\", \"path\": \"/servers/\\\\d+\", \"times\": 1, \"apply\": true,"
		   " \"status\": 0, \"patch\": {\"server\": {\"public_net\": {\"ipv4\": {\"ip\": \"*\"}}}}}]}");
	OK_CALL(hcloud_server_create(c, &o, &cr, &err), "create with a hostile address answered");
	ok(!cr.server.ipv4 && cr.server.ipv4_invalid,
	   "the planted known_hosts line is no address: absent, marked invalid");
	OK_CALL(hcloud_server_get(c, cr.server.id, &s, &err), "get with a wildcard address");
	ok(!s.ipv4 && s.ipv4_invalid, "a wildcard is no address either");
	hcloud_server_release(&s);
	OK_CALL(hcloud_server_get(c, cr.server.id, &s, &err), "get again, untouched");
	ok(s.ipv4 && !s.ipv4_invalid, "the real address is kept (%s)", s.ipv4 ? s.ipv4 : "none");
	hcloud_server_release(&s);
	sim_config("{\"faults\": []}");
	OK_CALL(hcloud_server_wait_created(c, &cr, burst_now_ms() + 10000, NULL, NULL, &err),
		"addr-srv running");
	OK_CALL(hcloud_server_delete(c, cr.server.id, NULL, &err), "delete addr-srv");
	hcloud_server_created_release(&cr);
	hcloud_free(c);
}

static void test_trace(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c, *bad;
	struct hcloud_servers sl = { 0 };
	struct hcloud_ssh_key k = { 0 };
	char path[] = "/tmp/hcloud-trace-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	struct strbuf sb = STRBUF_INIT;
	char *pk = pubkey(999);
	int failed_before = tap_failed_;

	if (fd < 0 || saved < 0)
		bail_out("cannot capture stderr");
	setenv("BURST_TRACE", "1", 1);
	burst_log_init_from_env();
	c = client();
	/* Prove the client never prints the token, not only that it is redacted. */
	burst_redact_clear();
	fflush(stderr);
	dup2(fd, 2);
	OK_CALL(hcloud_servers_list(c, NULL, "managed-by==cargo-burst", &sl, &err), "traced list");
	OK_CALL(hcloud_ssh_key_create(c, "traced-key", pk, NULL, &k, &err), "traced create");
	{
		/* the user_data carries the server's private host key */
		struct hcloud_server_opts o = { .name = "traced-srv", .server_type = "cpx11",
						.image = "ubuntu-24.04", .location = "fsn1",
						.user_data = "#cloud-config\nssh_keys:\n  ed25519_private: |\n"
							     "    -----BEGIN OPENSSH PRIVATE KEY-----\n"
							     "    b3BlbnNzaC1rZXktdjEAAAAASECRETKEYBODY\n"
							     "    -----END OPENSSH PRIVATE KEY-----\n"
							     "  ed25519_public: ssh-ed25519 AAAApub\n" };
		struct hcloud_server_created cr = { 0 };

		OK_CALL(hcloud_server_create(c, &o, &cr, &err), "traced server create");
		OK_CALL(hcloud_server_wait_created(c, &cr, burst_now_ms() + 10000, NULL, NULL,
						   &err), "traced server running");
		OK_CALL(hcloud_server_delete(c, cr.server.id, NULL, &err), "traced delete");
		hcloud_server_created_release(&cr);
		/* and a key block anywhere else in a trace line */
		log_trace("test", "stray -----BEGIN RSA PRIVATE KEY-----\\nMIIstraySECRET\\n"
			  "-----END RSA PRIVATE KEY----- tail");
	}
	bad = hcloud_new(endpoint, "wrong-token-abc", &err);
	burst_redact_clear();
	ok(hcloud_servers_list(bad, NULL, NULL, &sl, &err) < 0, "traced failure");
	ok(err.message && !strstr(err.message, "wrong-token-abc"), "token not in the error");
	burst_error_release(&err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	strbuf_read_file(&sb, path);
	unlink(path);
	ok(strstr(sb.buf, "hcloud: GET http://127.0.0.1:") != NULL, "trace has method and URL");
	ok(strstr(sb.buf, "-> 200") && strstr(sb.buf, "-> 201") && strstr(sb.buf, "-> 401"),
	   "trace has statuses");
	ok(strstr(sb.buf, " ms)") != NULL, "trace has latency");
	ok(strstr(sb.buf, "request: {\"name\":\"traced-key\"") != NULL, "trace has request body");
	ok(strstr(sb.buf, "response: {") != NULL, "trace has response body");
	ok(strstr(sb.buf, token) == NULL, "token absent from every trace line");
	ok(strstr(sb.buf, "\"name\":\"traced-srv\"") && strstr(sb.buf, "\"user_data\":\"***\""),
	   "the POST /servers body is traced with its user_data redacted");
	ok(!strstr(sb.buf, "SECRETKEYBODY") && !strstr(sb.buf, "OPENSSH PRIVATE KEY"),
	   "the private host key is absent from the trace");
	ok(strstr(sb.buf, "stray *** tail") && !strstr(sb.buf, "straySECRET"),
	   "a private key block anywhere in a trace line is redacted");
	ok(strstr(sb.buf, "wrong-token-abc") == NULL, "bad token absent too");
	ok(strstr(sb.buf, "Bearer") == NULL && strstr(sb.buf, "Authorization") == NULL,
	   "no Authorization header in the trace");
	if (tap_failed_ > failed_before) {
		struct strbuf line = STRBUF_INIT;

		for (const char *p = sb.buf; *p;) {
			size_t n = strcspn(p, "\n");

			strbuf_reset(&line);
			strbuf_add(&line, p, n);
			diag("trace: %s", line.buf);
			p += n + (p[n] == '\n');
		}
		strbuf_release(&line);
	}
	strbuf_release(&sb);
	hcloud_servers_release(&sl);
	hcloud_ssh_key_release(&k);
	free(pk);
	hcloud_free(bad);
	hcloud_free(c);
}

/*
 * The words and paths of the generic get and delete of every kind (calls.c's
 * resource table): an unknown id names the kind and the id as before.
 */
static void test_resource_words(void)
{
	struct hcloud *c = client();
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_volume v = { 0 };
	struct hcloud_image im = { 0 };
	struct hcloud_action a = { 0 };

	ok(hcloud_volume_get(c, 999999, &v, &err) < 0 && err.message &&
	   strstr(err.message, "getting volume 999999"), "get volume: its words");
	burst_error_release(&err);
	ok(hcloud_image_get(c, 999999, &im, &err) < 0 && err.message &&
	   strstr(err.message, "getting image 999999"), "get image: its words");
	burst_error_release(&err);
	ok(hcloud_action_get(c, 999999, &a, &err) < 0 && err.message &&
	   strstr(err.message, "getting action 999999"), "get action: its words");
	burst_error_release(&err);
	ok(hcloud_ssh_key_delete(c, 999999, &err) < 0 && err.message &&
	   strstr(err.message, "deleting ssh key 999999"), "delete ssh key: its words");
	burst_error_release(&err);
	ok(hcloud_image_delete(c, 999999, &err) < 0 && err.message &&
	   strstr(err.message, "deleting image 999999"), "delete image: its words");
	burst_error_release(&err);
	ok(hcloud_volume_delete(c, 999999, &err) < 0 && err.message &&
	   strstr(err.message, "deleting volume 999999"), "delete volume: its words");
	burst_error_release(&err);
	ok(hcloud_server_delete(c, 999999, &a, &err) < 0 && err.message &&
	   strstr(err.message, "deleting server 999999"), "delete server: its words");
	burst_error_release(&err);
	hcloud_volume_release(&v);
	hcloud_image_release(&im);
	hcloud_action_release(&a);
	hcloud_free(c);
}

int main(void)
{
	sim_open();
	endpoint = sim_endpoint();
	token = sim_token();
	test_pagination();
	test_pagination_bounds();
	test_retryable();
	test_non_retryable();
	test_rate_limit();
	test_no_duplicate();
	test_waiter();
	test_labels_and_more();
	test_two_threads();
	test_hostile_errors();
	test_hostile_address();
	test_trace();
	test_resource_words();
	burst_redact_clear();
	sim_close();
	return done_testing();
}

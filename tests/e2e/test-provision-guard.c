/*
 * test-provision-guard.c - the server lifecycle's pure parts: the cost
 * guard over the state (what counts, the error), the one label check, the
 * one sold-out predicate, and a create refused before any API call.
 */
#include "../state/state-test.h"
#include "burst/hcloud.h"
#include "burst/provision.h"

static int64_t add_row(struct burst_state *st, const char *name, const char *loc,
		       enum state_server_status status)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct state_server row = { 0 };
	static int64_t hid = 5000;

	row.hcloud_id = ++hid;
	row.name = (char *)name;
	row.ip = (char *)"127.0.0.9";
	row.location = (char *)loc;
	row.server_type = (char *)"cpx11";
	row.status = status;
	row.created_at = 1790000000; /* 2026-09-21 13:33 UTC */
	if (state_server_insert(st, &row, &err) < 0)
		bail_out("state_server_insert failed");
	return row.id;
}

static void test_guard(struct burst_state *st)
{
	struct burst_error err = BURST_ERROR_INIT;
	int64_t a;

	ok(provision_server_guard(st, 1, false, &err) == 0, "no server up: a create may go");
	a = add_row(st, "cargo-burst-aaa", "fsn1", STATE_SERVER_READY);
	ok(provision_server_guard(st, 0, false, &err) == 0, "limit 0: no guard");
	ok(provision_server_guard(st, 1, false, &err) < 0, "one up, max 1: refused");
	is_int(err.exit_code, BURST_EXIT_CONFIG, "exit 78");
	ok(err.message && strstr(err.message, "'cargo-burst-aaa' (fsn1, up since 2026-09-21 "),
	   "the error names the server, its location and since when: %s",
	   err.message ? err.message : "(none)");
	ok(err.message && strstr(err.message, "max_servers"), "and the limit");
	ok(err.hint && strstr(err.hint, "cargo burst down"), "the hint says `cargo burst down`");
	burst_error_release(&err);
	ok(provision_server_guard(st, 2, false, &err) == 0, "max 2: a second may go");

	add_row(st, STATE_SHARD_NAME_PREFIX "x-1-2", "nbg1", STATE_SERVER_PROVISIONING);
	ok(provision_server_guard(st, 2, false, &err) == 0,
	   "an extra server of --shards does not count against the main create");
	ok(provision_server_guard(st, 2, true, &err) < 0, "but counts for the next extra one");
	ok(err.message && strstr(err.message, "2 servers of ours are up"), "both are counted: %s",
	   err.message ? err.message : "(none)");
	burst_error_release(&err);

	if (state_server_set_status(st, a, STATE_SERVER_DELETING, &err) < 0)
		bail_out("state_server_set_status failed");
	ok(provision_server_guard(st, 1, false, &err) == 0, "a server being deleted does not count");
	if (state_server_set_status(st, a, STATE_SERVER_DELETED, &err) < 0)
		bail_out("state_server_set_status failed");
	ok(provision_server_guard(st, 1, false, &err) == 0, "nor a deleted one");
	burst_error_release(&err);
}

/* A create over the limit is refused before any intent or API call. */
static void test_create_refused(struct burst_state *st)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_labels l = HCLOUD_LABELS_INIT;
	struct hcloud_server_opts so = { 0 };
	struct provision_create pc = { 0 };
	struct provision_created made = { 0 };
	struct strvec locs = STRVEC_INIT;
	struct state_intent *pending = NULL;
	size_t n = 0;

	add_row(st, "cargo-burst-bbb", "hel1", STATE_SERVER_READY);
	strvec_push(&locs, "fsn1");
	provision_labels(&l, "server", state_owner_id(st), NULL);
	so.name = "cargo-burst-new";
	so.server_type = "cpx11";
	so.image = "1";
	so.labels = &l;
	pc.api = NULL; /* any API call would crash: there must be none */
	pc.state = st;
	pc.owner_id = state_owner_id(st);
	pc.role = "server";
	pc.so = &so;
	pc.locations = &locs;
	pc.limit = 1;
	ok(provision_server_create(&pc, &made, &err) < 0, "a create beyond max_servers fails");
	is_int(err.exit_code, BURST_EXIT_CONFIG, "with the cost guard's exit 78");
	ok(err.message && strstr(err.message, "cargo-burst-bbb"), "naming the server that is up");
	if (state_intents_pending(st, &pending, &n, &err) < 0)
		bail_out("state_intents_pending failed");
	is_int(n, 0, "no intent row was written");
	is_int(made.sc.server.id, 0, "nothing was created");
	state_intents_free(pending, n);
	provision_created_release(&made);
	burst_error_release(&err);
	hcloud_labels_release(&l);
	strvec_clear(&locs);
}

static void test_labels(void)
{
	struct hcloud_labels l = HCLOUD_LABELS_INIT;

	provision_labels(&l, "shard", "abc123", NULL);
	ok(provision_is_ours(&l, "abc123", NULL), "ours, any role");
	ok(provision_is_ours(&l, "abc123", "shard"), "ours, role shard");
	ok(!provision_is_ours(&l, "abc123", "server"), "not for another role");
	ok(!provision_is_ours(&l, "other", NULL), "not another owner's");
	ok(!provision_is_ours(&l, NULL, NULL), "not without an owner to compare");
	hcloud_labels_set(&l, "managed-by", "someone-else");
	ok(!provision_is_ours(&l, "abc123", NULL), "not without managed-by=cargo-burst");
	hcloud_labels_release(&l);
}

static void test_sold_out(void)
{
	const char *yes[] = { "resource_unavailable", "placement_error",
			      "no_space_left_in_location" };
	const char *no[] = { "invalid_input", "uniqueness_error", "locked" };
	struct burst_error err = BURST_ERROR_INIT;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		err.api_code = (char *)yes[i];
		ok(provision_sold_out(&err), "%s: try the next location", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		err.api_code = (char *)no[i];
		ok(!provision_sold_out(&err), "%s: not sold out", no[i]);
	}
	err.api_code = NULL;
	ok(!provision_sold_out(&err), "no code: not sold out");
}

int main(void)
{
	const char *dir = test_tmpdir();
	struct burst_state *st = test_open(dir);

	test_guard(st);
	test_create_refused(st);
	test_labels();
	test_sold_out();
	state_close(st);
	return done_testing();
}

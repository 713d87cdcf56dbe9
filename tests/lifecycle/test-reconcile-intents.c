/*
 * test-reconcile-intents.c - reaper_reconcile_intents() against a fresh
 * simulator (run-with-sim.py, no machines): the unfinished creates that
 * did happen are found by name and their intents marked done with the id;
 * a server and a volume of ours are adopted (a server row, the project's
 * volume); a resource of that name with another owner's labels is not
 * adopted and its intent stays pending; a create never seen is marked
 * failed once the grace period is over, not before.  The reapers the
 * adoption arms are this binary re-executed, which exits at once.
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
#define OTHER_OWNER "ba9876543210"
/* A valid ed25519 public key for the simulator's check. */
#define PUBKEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGg2cy0X8aJ1dBrUBcLFJ+Sh2rJvcFmO9f2xOtrESE8n t"

static void check_err(int rc, struct burst_error *err, const char *what)
{
	if (rc < 0) {
		diag("%s: %s", what, err->message ? err->message : "?");
		bail_out(what);
	}
}

/* The intent row id (from state_intent_begin) in the pending list, or NULL. */
static const struct state_intent *find(const struct state_intent *v, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			return &v[i];
	return NULL;
}

static int64_t intent(struct burst_state *st, enum state_intent_kind kind, const char *name)
{
	struct burst_error err = BURST_ERROR_INIT;
	int64_t id = 0;

	check_err(state_intent_begin(st, kind, name, "{}", &id, &err), &err, "intent");
	return id;
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/reconcile-intents-XXXXXX";
	const char *endpoint = getenv("HCLOUD_ENDPOINT"), *token = getenv("HCLOUD_TOKEN");
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = NULL;
	struct hcloud *api;
	struct hcloud_labels vl, sl, fl;
	struct hcloud_volume_created vc = { 0 };
	struct hcloud_server_created sc = { 0 }, fc = { 0 };
	struct hcloud_ssh_key key = { 0 };
	struct hcloud_volume_opts vo = { .name = "cargo-burst-p-" PROJECT, .size = 10,
					 .location = "fsn1" };
	struct hcloud_server_opts so = { .name = "cargo-burst-unfinished", .server_type = "cpx11",
					 .image = "ubuntu-24.04", .location = "fsn1" };
	struct hcloud_server_opts fo = { .name = "cargo-burst-foreign", .server_type = "cpx11",
					 .image = "ubuntu-24.04", .location = "fsn1" };
	struct state_intent *v = NULL;
	struct state_project p = { 0 };
	struct state_server row = { 0 };
	int64_t i_srv, i_vol, i_key, i_foreign, i_missing;
	size_t n = 0;
	char *dir, *cmd, *later;

	if (argc > 1 && !strncmp(argv[1], "__reap-", 7))
		return 0; /* an armed reaper: nothing to do here */
	if (!endpoint || !token)
		skip_all("no simulator (run through run-with-sim.py)");
	dir = mkdtemp(tmpl);
	if (!dir)
		bail_out("mkdtemp");
	plan(15);
	check_err(state_open(dir, &st, &err), &err, "state_open");
	state_set_endpoint(st, endpoint);
	api = hcloud_new(endpoint, token, &err);
	if (!api)
		bail_out(err.message);

	/* the intents, as a create records them before it is sent */
	i_srv = intent(st, STATE_INTENT_SERVER, so.name);
	i_vol = intent(st, STATE_INTENT_VOLUME, vo.name);
	i_key = intent(st, STATE_INTENT_SSH_KEY, "cargo-burst-key-unfinished");
	i_foreign = intent(st, STATE_INTENT_SERVER, fo.name);
	i_missing = intent(st, STATE_INTENT_VOLUME, "cargo-burst-p-never-created");

	/* ...and the creates that did happen (their replies lost) */
	hcloud_labels_init(&sl);
	provision_labels(&sl, "server", state_owner_id(st), NULL);
	so.labels = &sl;
	check_err(hcloud_server_create(api, &so, &sc, &err), &err, "server create");
	hcloud_labels_init(&vl);
	provision_labels(&vl, "volume", state_owner_id(st), PROJECT);
	vo.labels = &vl;
	check_err(hcloud_volume_create(api, &vo, &vc, &err), &err, "volume create");
	check_err(hcloud_ssh_key_create(api, "cargo-burst-key-unfinished", PUBKEY, NULL, &key,
					&err), &err, "ssh key create");
	hcloud_labels_init(&fl);
	provision_labels(&fl, "server", OTHER_OWNER, NULL);
	fo.labels = &fl;
	check_err(hcloud_server_create(api, &fo, &fc, &err), &err, "foreign server create");

	check_err(reaper_reconcile_intents(api, st, NULL, &err), &err, "reconcile");
	check_err(state_intents_pending(st, &v, &n, &err), &err, "pending");
	ok(!find(v, n, i_srv) && !find(v, n, i_vol) && !find(v, n, i_key),
	   "the server's, the volume's and the key's intents are no longer pending");
	ok(find(v, n, i_foreign) != NULL, "the intent of another owner's server stays pending");
	ok(find(v, n, i_missing) != NULL, "a create not seen stays pending within the grace period");
	is_int((long long)n, 2, "two pending intents left");
	state_intents_free(v, n);

	is_int(state_server_by_hcloud_id(st, sc.server.id, &row, &err), 1,
	       "the server of ours was adopted (a row)");
	ok(row.adopted, "... marked adopted");
	is_str(row.name ? row.name : "(null)", so.name, "... its name");
	state_server_release(&row);
	memset(&row, 0, sizeof(row));
	is_int(state_server_by_hcloud_id(st, fc.server.id, &row, &err), 0,
	       "another owner's server was not adopted");
	state_server_release(&row);

	is_int(state_project_get(st, PROJECT, &p, &err), 1, "the volume's project is known");
	is_int(p.volume_hcloud_id, vc.volume.id, "... with the adopted volume");
	ok(p.volume_status != STATE_VOLUME_NONE, "... which is live");
	state_project_release(&p);

	/* after the grace period, the create never seen has failed */
	later = xstrfmt("%lld", (long long)(state_now() + 3600));
	setenv("BURST_STATE_NOW", later, 1);
	free(later);
	check_err(reaper_reconcile_intents(api, st, NULL, &err), &err, "reconcile later");
	unsetenv("BURST_STATE_NOW");
	check_err(state_intents_pending(st, &v, &n, &err), &err, "pending later");
	ok(!find(v, n, i_missing), "past the grace period the create never seen is failed");
	ok(find(v, n, i_foreign) == NULL,
	   "... and so is the other owner's (no create of ours by that name)");
	is_int((long long)n, 0, "no pending intent left");
	state_intents_free(v, n);
	ok(err.message == NULL, "no error left behind");

	hcloud_ssh_key_release(&key);
	hcloud_server_created_release(&sc);
	hcloud_server_created_release(&fc);
	hcloud_volume_created_release(&vc);
	hcloud_labels_release(&sl);
	hcloud_labels_release(&vl);
	hcloud_labels_release(&fl);
	hcloud_free(api);
	state_close(st);
	burst_error_release(&err);
	cmd = xstrfmt("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	free(cmd);
	return done_testing();
}

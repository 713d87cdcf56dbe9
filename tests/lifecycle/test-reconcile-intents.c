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
#include <stdlib.h>
#include <string.h>

#include "burst/error.h"
#include "burst/hcloud.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "lctest.h"
#include "tap.h"

#define PROJECT "0123456789ab"
#define OTHER_OWNER "ba9876543210"
#define SERVER "cargo-burst-unfinished"
#define VOLUME "cargo-burst-p-" PROJECT
#define FOREIGN "cargo-burst-foreign"
/* A valid ed25519 public key for the simulator's check. */
#define PUBKEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGg2cy0X8aJ1dBrUBcLFJ+Sh2rJvcFmO9f2xOtrESE8n t"

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

	lctest_check(state_intent_begin(st, kind, name, "{}", &id, &err), &err, "intent");
	return id;
}

int main(int argc, char **argv)
{
	struct lctest t;
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_volume_created vc = { 0 };
	struct hcloud_server_created sc = { 0 }, fc = { 0 };
	struct hcloud_ssh_key key = { 0 };
	struct state_intent *v = NULL;
	struct state_project p = { 0 };
	struct state_server row = { 0 };
	int64_t i_srv, i_vol, i_key, i_foreign, i_missing;
	size_t n = 0;
	char *later;

	if (lctest_is_reaper(argc, argv))
		return 0; /* an armed reaper: nothing to do here */
	lctest_open(&t, "reconcile-intents");
	plan(15);

	/* the intents, as a create records them before it is sent */
	i_srv = intent(t.st, STATE_INTENT_SERVER, SERVER);
	i_vol = intent(t.st, STATE_INTENT_VOLUME, VOLUME);
	i_key = intent(t.st, STATE_INTENT_SSH_KEY, "cargo-burst-key-unfinished");
	i_foreign = intent(t.st, STATE_INTENT_SERVER, FOREIGN);
	i_missing = intent(t.st, STATE_INTENT_VOLUME, "cargo-burst-p-never-created");

	/* ...and the creates that did happen (their replies lost) */
	lctest_server_create(&t, SERVER, state_owner_id(t.st), &sc);
	lctest_volume_create(&t, VOLUME, state_owner_id(t.st), PROJECT, &vc);
	lctest_check(hcloud_ssh_key_create(t.api, "cargo-burst-key-unfinished", PUBKEY, NULL, &key,
					   &err), &err, "ssh key create");
	lctest_server_create(&t, FOREIGN, OTHER_OWNER, &fc);

	lctest_check(reaper_reconcile_intents(t.api, t.st, NULL, &err), &err, "reconcile");
	lctest_check(state_intents_pending(t.st, &v, &n, &err), &err, "pending");
	ok(!find(v, n, i_srv) && !find(v, n, i_vol) && !find(v, n, i_key),
	   "the server's, the volume's and the key's intents are no longer pending");
	ok(find(v, n, i_foreign) != NULL, "the intent of another owner's server stays pending");
	ok(find(v, n, i_missing) != NULL, "a create not seen stays pending within the grace period");
	is_int((long long)n, 2, "two pending intents left");
	state_intents_free(v, n);

	is_int(state_server_by_hcloud_id(t.st, sc.server.id, &row, &err), 1,
	       "the server of ours was adopted (a row)");
	ok(row.adopted, "... marked adopted");
	is_str(row.name ? row.name : "(null)", SERVER, "... its name");
	state_server_release(&row);
	memset(&row, 0, sizeof(row));
	is_int(state_server_by_hcloud_id(t.st, fc.server.id, &row, &err), 0,
	       "another owner's server was not adopted");
	state_server_release(&row);

	is_int(state_project_get(t.st, PROJECT, &p, &err), 1, "the volume's project is known");
	is_int(p.volume_hcloud_id, vc.volume.id, "... with the adopted volume");
	ok(p.volume_status != STATE_VOLUME_NONE, "... which is live");
	state_project_release(&p);

	/* after the grace period, the create never seen has failed */
	later = xstrfmt("%lld", (long long)(state_now() + 3600));
	setenv("BURST_STATE_NOW", later, 1);
	free(later);
	lctest_check(reaper_reconcile_intents(t.api, t.st, NULL, &err), &err, "reconcile later");
	unsetenv("BURST_STATE_NOW");
	lctest_check(state_intents_pending(t.st, &v, &n, &err), &err, "pending later");
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
	burst_error_release(&err);
	lctest_close(&t);
	return done_testing();
}

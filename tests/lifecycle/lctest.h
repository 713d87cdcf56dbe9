/*
 * lctest.h - the set-up the C lifecycle tests share: a fresh state
 * directory, the simulator's API (run through tests/hcloud/run-with-sim.py,
 * no machines) and labelled resources created as the tool would.
 *
 *   int main(int argc, char **argv)
 *   {
 *           struct lctest t;
 *
 *           if (lctest_is_reaper(argc, argv))
 *                   return 0;
 *           lctest_open(&t, "my-test");   // skips without a simulator
 *           plan(N);
 *           ...
 *           lctest_close(&t);
 *           return done_testing();
 *   }
 *
 * Every function bails out (TAP "Bail out!") on a failure of the set-up
 * itself, so the rows a test prints are only about what it tests.
 */
#ifndef BURST_LCTEST_H
#define BURST_LCTEST_H

#include "burst/error.h"
#include "burst/hcloud.h"
#include "burst/state.h"

struct lctest {
	char dir[64];             /* the state directory, removed by lctest_close or at exit */
	struct burst_state *st;   /* the state opened there, on the simulator's endpoint */
	struct hcloud *api;       /* the simulator's API */
};

/* Is this run the test binary re-executed as an armed reaper (argv[1]
 * "__reap-...")?  Such a run has nothing to do: the caller returns 0. */
int lctest_is_reaper(int argc, char **argv);

/* Skip the test unless HCLOUD_ENDPOINT and HCLOUD_TOKEN name a simulator;
 * then a temporary state directory /tmp/<prefix>-XXXXXX, the state opened
 * in it with the endpoint set (a new owner), and the API client.  One
 * struct lctest at a time: another may be opened after lctest_close. */
void lctest_open(struct lctest *t, const char *prefix);

/* Bail out, with err's message as a diagnostic, when rc < 0. */
void lctest_check(int rc, struct burst_error *err, const char *what);

/* Create a server named name (cpx11, ubuntu-24.04, fsn1) labelled as
 * owner's (provision_labels role "server"); out is the caller's to release. */
void lctest_server_create(struct lctest *t, const char *name, const char *owner,
			  struct hcloud_server_created *out);

/* As lctest_server_create, of server type type (e.g. cax11, an arm64 one). */
void lctest_server_create_type(struct lctest *t, const char *name, const char *type,
			       const char *owner, struct hcloud_server_created *out);

/* Pin a made-up ed25519 host key (its text ends in tag) for the address ip
 * in the known_hosts of t's state directory, as a run pins the host key it
 * made before anything connects; bails out when ip is NULL. */
void lctest_pin_host_key(struct lctest *t, const char *ip, const char *tag);

/* The row of t's state for the server of Hetzner id hcloud_id (bails out
 * when there is none); out is the caller's to release. */
void lctest_server_row(struct lctest *t, int64_t hcloud_id, struct state_server *out);

/* Create the 10 GB volume name in fsn1 labelled as owner's for project
 * (provision_labels role "volume"); out is the caller's to release. */
void lctest_volume_create(struct lctest *t, const char *name, const char *owner,
			  const char *project, struct hcloud_volume_created *out);

/* Free the API client, close the state, remove the state directory (a
 * test that bails out has it removed at exit). */
void lctest_close(struct lctest *t);

#endif

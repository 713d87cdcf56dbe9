/*
 * lctest.c - the set-up the C lifecycle tests share (see lctest.h).  It
 * prints no TAP rows (each test binary counts its own, tests/tap.h), only
 * diagnostics and "Bail out!".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/layout.h"
#include "burst/provision.h"
#include "burst/strbuf.h"
#include "lctest.h"
#include "tap.h"

/* The state directory while it exists: removed at exit too, so that a
 * "Bail out!" (which exits) leaves nothing behind; by its maker only (not
 * by a forked child that exits). */
static char lctest_dir_[64];
static pid_t lctest_owner_;

static void lctest_remove_dir(void)
{
	char *cmd;

	if (!lctest_dir_[0] || getpid() != lctest_owner_)
		return;
	cmd = xstrfmt("rm -rf '%s'", lctest_dir_);
	if (system(cmd) != 0)
		diag("could not remove %s", lctest_dir_);
	free(cmd);
	lctest_dir_[0] = '\0';
}

/* Is this run an armed reaper re-executing the test binary? */
int lctest_is_reaper(int argc, char **argv)
{
	return argc > 1 && !strncmp(argv[1], "__reap-", 7);
}

/* Bail out with err's message when rc < 0. */
void lctest_check(int rc, struct burst_error *err, const char *what)
{
	if (rc < 0) {
		diag("%s: %s", what, err->message ? err->message : "?");
		bail_out(what);
	}
}

/* A fresh state directory and the simulator's API, or a skip. */
void lctest_open(struct lctest *t, const char *prefix)
{
	const char *endpoint = getenv("HCLOUD_ENDPOINT"), *token = getenv("HCLOUD_TOKEN");
	struct burst_error err = BURST_ERROR_INIT;
	static bool registered;

	memset(t, 0, sizeof(*t));
	if (!endpoint || !token)
		skip_all("no simulator (run through run-with-sim.py)");
	if (lctest_dir_[0])
		bail_out("lctest_open: the last one is not closed (one at a time)");
	if (snprintf(t->dir, sizeof(t->dir), "/tmp/%s-XXXXXX", prefix) >= (int)sizeof(t->dir))
		bail_out("the temporary directory's prefix is too long");
	if (!mkdtemp(t->dir))
		bail_out("mkdtemp");
	memcpy(lctest_dir_, t->dir, sizeof(lctest_dir_));
	lctest_owner_ = getpid();
	if (!registered)
		atexit(lctest_remove_dir);
	registered = true;
	lctest_check(state_open(t->dir, &t->st, &err), &err, "state_open");
	state_set_endpoint(t->st, endpoint);
	t->api = hcloud_new(endpoint, token, &err);
	if (!t->api) {
		diag("hcloud_new: %s", err.message ? err.message : "?");
		bail_out("hcloud_new");
	}
	burst_error_release(&err);
}

/* A labelled cpx11 server of owner's in the simulator. */
void lctest_server_create(struct lctest *t, const char *name, const char *owner,
			  struct hcloud_server_created *out)
{
	lctest_server_create_type(t, name, "cpx11", owner, out);
}

/* A labelled server of owner's of that type in the simulator. */
void lctest_server_create_type(struct lctest *t, const char *name, const char *type,
			       const char *owner, struct hcloud_server_created *out)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_labels l;
	struct hcloud_server_opts o = { .name = name, .server_type = type,
					.image = "ubuntu-24.04", .location = "fsn1",
					.labels = &l };

	hcloud_labels_init(&l);
	provision_labels(&l, "server", owner, NULL);
	lctest_check(hcloud_server_create(t->api, &o, out, &err), &err, "server create");
	hcloud_labels_release(&l);
	burst_error_release(&err);
}

/* A made-up host key for ip pinned in t's known_hosts. */
void lctest_pin_host_key(struct lctest *t, const char *ip, const char *tag)
{
	char *kh = layout_known_hosts(state_dir(t->st));
	FILE *f;

	if (!ip)
		bail_out("a server without an address");
	f = fopen(kh, "a");
	if (!f || fprintf(f, "%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%s\n", ip, tag) < 0 ||
	    fclose(f) != 0) {
		diag("cannot append to %s", kh);
		bail_out("cannot pin a host key");
	}
	free(kh);
}

/* The state row of a server by its Hetzner id, or bail out. */
void lctest_server_row(struct lctest *t, int64_t hcloud_id, struct state_server *out)
{
	struct burst_error err = BURST_ERROR_INIT;
	int rc = state_server_by_hcloud_id(t->st, hcloud_id, out, &err);

	if (rc != 1) {
		diag("server %lld: %s", (long long)hcloud_id,
		     rc < 0 && err.message ? err.message : "no row in the state");
		bail_out("no row for a server");
	}
	burst_error_release(&err);
}

/* A labelled project volume of owner's in the simulator. */
void lctest_volume_create(struct lctest *t, const char *name, const char *owner,
			  const char *project, struct hcloud_volume_created *out)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_labels l;
	struct hcloud_volume_opts o = { .name = name, .size = 10, .location = "fsn1",
					.labels = &l };

	hcloud_labels_init(&l);
	provision_labels(&l, "volume", owner, project);
	lctest_check(hcloud_volume_create(t->api, &o, out, &err), &err, "volume create");
	hcloud_labels_release(&l);
	burst_error_release(&err);
}

/* Release what lctest_open made and remove the state directory. */
void lctest_close(struct lctest *t)
{
	hcloud_free(t->api);
	state_close(t->st);
	lctest_remove_dir();
}

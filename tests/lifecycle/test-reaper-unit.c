/*
 * test-reaper-unit.c - the reaper module without an API: which rows get a
 * reaper (arming), one start per resource, label ownership, which errors
 * need a human, the pinned key lookup.  The reapers this test "starts" are
 * this test binary re-executed (/proc/self/exe) with the hidden verb as
 * argv[1]; it records that it ran and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/error.h"
#include "burst/hcloud.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "tap.h"

#include "../../src/reaper/reaper-int.h"

/* Re-executed as a fake reaper: append "<verb> <resource>" to the marker. */
static int fake_reaper(int argc, char **argv)
{
	const char *dir = argc > 3 ? argv[3] : ".";
	char *path = xstrfmt("%s/spawned", dir);
	FILE *f = fopen(path, "a");

	if (f) {
		fprintf(f, "%s %s\n", argv[1], argc > 4 ? argv[4] : "?");
		fclose(f);
	}
	free(path);
	return 0;
}

static int count_lines(const char *dir)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = xstrfmt("%s/spawned", dir);
	int n = 0;

	if (strbuf_read_file(&sb, path) >= 0)
		for (size_t i = 0; i < sb.len; i++)
			n += sb.buf[i] == '\n';
	strbuf_release(&sb);
	free(path);
	return n;
}

/* Wait (bounded) until the fake reapers wrote want lines. */
static int wait_lines(const char *dir, int want)
{
	for (int i = 0; i < 100 && count_lines(dir) < want; i++)
		usleep(50 * 1000);
	usleep(100 * 1000);
	return count_lines(dir);
}

static int64_t add_server(struct burst_state *st, const char *name, enum state_server_status s,
			  bool no_reap)
{
	struct state_server row = { 0 };
	struct burst_error err = BURST_ERROR_INIT;

	row.hcloud_id = 4242;
	row.name = (char *)name;
	row.ip = (char *)"127.0.0.9";
	row.status = s;
	row.keep_alive_secs = 60;
	row.no_reap = no_reap;
	if (state_server_insert(st, &row, &err) < 0)
		bail_out(err.message);
	return row.id;
}

static void test_arming(const char *dir)
{
	struct burst_state *st = NULL;
	struct burst_error err = BURST_ERROR_INIT;
	int started = 0;
	bool claimed = false;
	int64_t live, noreap, gone, going;
	char res[32];

	if (state_open(dir, &st, &err) < 0)
		bail_out(err.message);
	is_int(reaper_arm_all(st, &started, &err), 0, "arm_all on an empty state");
	is_int(started, 0, "nothing to arm");

	live = add_server(st, "live", STATE_SERVER_READY, false);
	noreap = add_server(st, "noreap", STATE_SERVER_READY, true);
	gone = add_server(st, "gone", STATE_SERVER_DELETED, false);
	going = add_server(st, "going", STATE_SERVER_DELETING, true);
	(void)noreap;
	(void)gone;
	if (state_project_set_volume(st, "aaaaaaaaaaaa", 77, "vol", "fsn1", 10, &err) < 0 ||
	    state_project_touch(st, "aaaaaaaaaaaa", state_now(), 60, &err) < 0)
		bail_out(err.message);
	/* a project without a volume gets no reaper */
	if (state_project_touch(st, "bbbbbbbbbbbb", state_now(), 60, &err) < 0)
		bail_out(err.message);

	started = 0;
	is_int(reaper_arm_all(st, &started, &err), 0, "arm_all");
	is_int(started, 3, "a reaper for the live server, the deleting one and the volume");
	is_int(wait_lines(dir, 3), 3, "three reapers ran");
	{
		struct strbuf sb = STRBUF_INIT;
		char *p = xstrfmt("%s/spawned", dir);
		char *a = xstrfmt("__reap-server %lld\n", (long long)live);
		char *b = xstrfmt("__reap-server %lld\n", (long long)going);

		strbuf_read_file(&sb, p);
		ok(strstr(sb.buf, a) && strstr(sb.buf, b) &&
		   strstr(sb.buf, "__reap-volume aaaaaaaaaaaa\n") &&
		   !strstr(sb.buf, "bbbbbbbbbbbb"), "the right verbs and resources");
		strbuf_release(&sb);
		free(p);
		free(a);
		free(b);
	}
	started = 0;
	reaper_arm_all(st, &started, &err);
	is_int(started, 0, "not started again right away by the same process");

	/* a live reaper record (this process) means: nothing to start */
	snprintf(res, sizeof(res), "%lld", (long long)live);
	state_reaper_claim(st, "server", res, 0, NULL, &claimed, &err);
	ok(claimed, "claimed the slot of the live server");
	ok(state_reaper_alive(st, "server", res), "the slot's holder is alive");
	state_close(st);
}

static void test_labels(void)
{
	struct hcloud_labels l = HCLOUD_LABELS_INIT;
	struct burst_error e = BURST_ERROR_INIT;

	ok(!reaper_labels_ours(&l, "abc"), "no labels: not ours");
	hcloud_labels_set(&l, "managed-by", "cargo-burst");
	ok(!reaper_labels_ours(&l, "abc"), "no owner: not ours");
	hcloud_labels_set(&l, "owner", "xyz");
	ok(!reaper_labels_ours(&l, "abc"), "another owner: not ours");
	hcloud_labels_set(&l, "owner", "abc");
	ok(reaper_labels_ours(&l, "abc"), "managed-by and our owner: ours");
	hcloud_labels_set(&l, "managed-by", "terraform");
	ok(!reaper_labels_ours(&l, "abc"), "managed by something else: not ours");
	hcloud_labels_release(&l);

	burst_error_set(&e, BURST_EXIT_API, "x");
	e.http_status = 503;
	ok(!reaper_error_needs_human(&e), "503: retry");
	e.http_status = 401;
	ok(reaper_error_needs_human(&e), "401: a human must act");
	e.http_status = 423;
	e.api_code = xstrdup("protected");
	ok(reaper_error_needs_human(&e), "protected: a human must act");
	free(e.api_code);
	e.api_code = xstrdup("locked");
	ok(!reaper_error_needs_human(&e), "locked: retry");
	free(e.api_code);
	e.api_code = xstrdup("not_found");
	e.http_status = 404;
	ok(reaper_error_not_found(&e), "404 is not_found");
	burst_error_release(&e);
}

static void test_pinned(const char *dir)
{
	struct burst_state *st = NULL;
	struct burst_error err = BURST_ERROR_INIT;
	char *kh = xstrfmt("%s/known_hosts", dir), *k;
	FILE *f;

	if (state_open(dir, &st, &err) < 0)
		bail_out(err.message);
	f = fopen(kh, "w");
	fprintf(f, "10.0.0.1 ssh-ed25519 AAAAone\n[10.0.0.2]:2222 ssh-ed25519 AAAAtwo\n"
		"10.0.0.22 ssh-ed25519 AAAAthree\n");
	fclose(f);
	k = reaper_pinned_key(st, "10.0.0.1", 22);
	is_str(k, "ssh-ed25519 AAAAone", "pinned key of a host on port 22");
	free(k);
	k = reaper_pinned_key(st, "10.0.0.2", 2222);
	is_str(k, "ssh-ed25519 AAAAtwo", "pinned key of host:port");
	free(k);
	k = reaper_pinned_key(st, "10.0.0.2", 22);
	ok(!k, "no entry for another port");
	free(k);
	k = reaper_pinned_key(st, "10.0.0.3", 22);
	ok(!k, "no entry: NULL");
	free(k);
	free(kh);
	state_close(st);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/reaper-unit-XXXXXX";
	char *dir, *cmd;

	if (argc > 1 && !strncmp(argv[1], "__reap-", 7))
		return fake_reaper(argc, argv);
	dir = mkdtemp(tmpl);
	if (!dir)
		bail_out("mkdtemp");
	plan(23);
	test_arming(dir);
	test_labels();
	test_pinned(dir);
	cmd = xstrfmt("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	free(cmd);
	return done_testing();
}

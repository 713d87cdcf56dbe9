/*
 * bake.c - `cargo burst image build`: the bake server, its wait, the
 * snapshot, retention and the sweep of abandoned bakes (see image.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "burst-version.h"
#include "burst/hcloud.h"
#include "burst/image.h"
#include "burst/log.h"
#include "burst/proc.h"
#include "burst/provision.h"
#include "burst/remote.h"
#include "burst/state.h"
#include "burst/ui.h"
#include "image/image-user-data.h"

#define MOD "image"
/* Hetzner's limit on user_data. */
#define USER_DATA_MAX (32 * 1024)
/* How long creates and deletes may take. */
#define ACTION_DEADLINE_MS (10 * 60 * 1000)
/* How often the bake's own status file is read over ssh. */
#define STATUS_CHECK_MS (30 * 1000)
/* Consecutive failed status polls before the bake gives up. */
#define POLL_ERRORS_MAX 10
/* A kept (failed) bake server is swept this long after the failure. */
#define KEEP_SECS (6 * 3600)
/* How long a watcher looks for the server of a baker that died in its create. */
#define WATCH_CREATE_GRACE_SECS 120
/* Output of the remote commands. */
#define REMOTE_OUTPUT_MAX (64 * 1024)
/* Where the bake's progress is (written by the image's provision script). */
#define BAKE_STATUS_FILE "/var/lib/cargo-burst/bake-status"

/* ---- names and labels ---------------------------------------------------- */

static void utc(int64_t t, struct tm *tm)
{
	time_t tt = (time_t)t;

	gmtime_r(&tt, tm);
}

char *image_bake_name(int64_t now)
{
	struct tm tm;

	utc(now, &tm);
	return xstrfmt("cargo-burst-bake-%04d%02d%02d-%02d%02d%02d", tm.tm_year + 1900,
		       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void image_bake_labels(struct hcloud_labels *l, const char *owner_id, int64_t deadline)
{
	char buf[64];

	provision_labels(l, "bake", owner_id, NULL);
	snprintf(buf, sizeof(buf), "%lld", (long long)deadline);
	hcloud_labels_set(l, "deadline", buf);
}

void image_snapshot_labels(struct hcloud_labels *l, const char *owner_id,
			   const char *version, int64_t baked_at)
{
	struct tm tm;
	char buf[64];

	provision_labels(l, "image", owner_id, NULL);
	hcloud_labels_set(l, "version", version);
	snprintf(buf, sizeof(buf), "%d", burst_image_format_version);
	hcloud_labels_set(l, "format", buf);
	utc(baked_at, &tm);
	snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	hcloud_labels_set(l, "baked", buf);
}

char *image_default_description(const char *version, int64_t baked_at)
{
	struct tm tm;

	utc(baked_at, &tm);
	return xstrfmt("cargo-burst build image (tool %s, format %d), baked "
		       "%04d-%02d-%02d %02d:%02d UTC", version, burst_image_format_version,
		       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
}

int image_user_data(const char *host_priv, const char *host_pub, struct strbuf *out)
{
	struct strbuf keys = STRBUF_INIT;
	size_t start = out->len;
	const char *rest;
	int ret = -1;

	strbuf_add(out, burst_image_user_data, burst_image_user_data_len);
	if (out->len > start && out->buf[out->len - 1] != '\n')
		strbuf_addch(out, '\n');
	if (remote_cloud_config(host_priv, host_pub, &keys) < 0)
		goto out;
	/* the embedded text already starts with "#cloud-config" */
	rest = strchr(keys.buf, '\n');
	strbuf_addstr(out, rest ? rest + 1 : keys.buf);
	if (out->len - start > USER_DATA_MAX)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		strbuf_setlen(out, start);
	strbuf_release(&keys);
	return ret;
}

/* ---- retention ------------------------------------------------------------ */

static bool is_ours(const struct hcloud_image *im, const char *owner_id)
{
	return im->type && !strcmp(im->type, "snapshot") &&
	       provision_is_ours(&im->labels, owner_id, "image");
}

/* Newer first: created, then id. */
static bool newer(const struct hcloud_image *a, const struct hcloud_image *b)
{
	if (a->created != b->created)
		return a->created > b->created;
	return a->id > b->id;
}

size_t image_retention_plan(const struct hcloud_images *imgs, const char *owner_id,
			    const char *arch, int64_t keep, int64_t protect_id,
			    int64_t **doomed, size_t *n)
{
	const char *want = provision_arch_is_arm(arch) ? "arm64" : "x86";
	const struct hcloud_image **ours;
	size_t nr = 0, kept = 0, before = *n;

	if (keep < 1)
		keep = 1;
	ours = xcalloc(imgs->nr + 1, sizeof(*ours));
	for (size_t i = 0; i < imgs->nr; i++) {
		const struct hcloud_image *im = &imgs->v[i];
		size_t j;

		if (!is_ours(im, owner_id) || strcmp(provision_image_arch(im), want))
			continue;
		/* insertion sort, newest first (a handful of snapshots) */
		for (j = nr; j > 0 && newer(im, ours[j - 1]); j--)
			ours[j] = ours[j - 1];
		ours[j] = im;
		nr++;
	}
	/* the protected one is kept first, then the newest others */
	for (size_t i = 0; i < nr; i++)
		if (ours[i]->id == protect_id)
			kept++;
	for (size_t i = 0; i < nr; i++) {
		if (ours[i]->id == protect_id)
			continue;
		if ((int64_t)kept < keep) {
			kept++;
			continue;
		}
		*doomed = xreallocarray(*doomed, *n + 1, sizeof(**doomed));
		(*doomed)[(*n)++] = ours[i]->id;
	}
	free(ours);
	return *n - before;
}

int image_retention_apply(struct hcloud *api, struct burst_state *st, const char *owner_id,
			  const char *arch, int64_t keep, int64_t protect_id, size_t *deleted,
			  struct burst_error *err)
{
	struct hcloud_images imgs = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	int64_t *doomed = NULL;
	size_t n = 0, done = 0;
	char *sel = xstrfmt("managed-by==cargo-burst,role==image,owner==%s", owner_id);
	int ret = -1;

	if (hcloud_images_list(api, "snapshot", sel, NULL, &imgs, err) < 0) {
		burst_error_prefix(err, "listing the cargo-burst snapshots");
		goto out;
	}
	image_retention_plan(&imgs, owner_id, arch, keep, protect_id, &doomed, &n);
	ret = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hcloud_image *im = NULL;

		for (size_t j = 0; j < imgs.nr; j++)
			if (imgs.v[j].id == doomed[i])
				im = &imgs.v[j];
		if (hcloud_image_delete(api, doomed[i], &e) < 0) {
			if (e.api_code && !strcmp(e.api_code, "not_found")) {
				burst_error_release(&e);
				continue;
			}
			burst_error_prefix(&e, "deleting old snapshot %lld", (long long)doomed[i]);
			burst_error_move(err, &e);
			ret = -1;
			continue;
		}
		done++;
		ui_status("Deleted", "old image %lld (%s)", (long long)doomed[i],
			  im && im->description ? im->description : "no description");
		state_event_note(st, "terminated", "image", doomed[i],
				 im ? im->description : NULL, "retention", NULL);
	}
out:
	if (deleted)
		*deleted = done;
	hcloud_images_release(&imgs);
	burst_error_release(&e);
	free(doomed);
	free(sel);
	return ret;
}

/* ---- deleting a bake server ----------------------------------------------- */

/*
 * Delete a bake server and wait (bounded) until it is gone; forget its
 * reaper record (keyed by the server's name) and record the termination.
 * Already gone counts as done.
 */
static int delete_bake_server(struct hcloud *api, struct burst_state *st, int64_t id,
			      const char *name, const char *reason, struct burst_error *err)
{
	struct burst_error e = BURST_ERROR_INIT;

	if (provision_server_discard(api, st, 0, id, name, "bake", reason, err) < 0)
		return -1;
	state_reaper_remove(st, IMAGE_REAPER_KIND, name, true, &e);
	burst_error_release(&e);
	return 0;
}

int image_bake_sweep(struct hcloud *api, struct burst_state *st, const char *owner_id,
		     int64_t now, size_t *deleted, struct burst_error *err)
{
	struct hcloud_servers srvs = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	char *sel = xstrfmt("managed-by==cargo-burst,role==bake,owner==%s", owner_id);
	size_t done = 0;
	int ret = -1;

	if (hcloud_servers_list(api, NULL, sel, &srvs, err) < 0) {
		burst_error_prefix(err, "looking for abandoned bake servers");
		goto out;
	}
	ret = 0;
	for (size_t i = 0; i < srvs.nr; i++) {
		const struct hcloud_server *s = &srvs.v[i];
		const char *d = hcloud_labels_get(&s->labels, "deadline");
		int64_t deadline;
		bool alive;

		/* the selector said so; never trust it for a delete */
		if (!provision_is_ours(&s->labels, owner_id, "bake"))
			continue;
		if (s->status && !strcmp(s->status, "deleting"))
			continue;
		if (!d || parse_int64(d, 0, INT64_MAX, &deadline) < 0) {
			log_debug(MOD, "bake server %s has no valid deadline label", s->name);
			continue;
		}
		if (deadline > now)
			continue;
		alive = s->name && state_reaper_alive(st, IMAGE_REAPER_KIND, s->name);
		if (alive)
			continue;
		ui_status("Deleting", "abandoned bake server '%s' (%s)", s->name,
			  now == INT64_MAX ? "no bake is running on it" : "its deadline passed");
		if (delete_bake_server(api, st, s->id, s->name, "reap", &e) < 0) {
			burst_error_move(err, &e);
			ret = -1;
			continue;
		}
		done++;
	}
out:
	if (deleted)
		*deleted = done;
	hcloud_servers_release(&srvs);
	burst_error_release(&e);
	free(sel);
	return ret;
}

/* ---- the bake --------------------------------------------------------------- */

void image_bake_result_release(struct image_bake_result *r)
{
	if (!r)
		return;
	free(r->description);
	free(r->server_name);
	free(r->server_ip);
	free(r->log_tail);
	memset(r, 0, sizeof(*r));
}

struct bake {
	const struct image_bake_opts *o;
	struct image_bake_result *r;
	const char *owner;
	char *known_hosts;
	struct remote_host host;
	int64_t deadline;      /* reap deadline (label and reaper record) */
	uint64_t t0;
	char *name;            /* the bake server's name (key of the reaper record) */
	bool claimed;          /* this process holds the reaper record */
	bool server_up;        /* the bake server exists (ours to delete) */
	int64_t creating_image; /* a snapshot still being created */
};

static int64_t snapshot_secs(const struct image_bake_opts *o)
{
	return o->snapshot_secs > 0 ? o->snapshot_secs : IMAGE_SNAPSHOT_SECS;
}

static int interrupted(struct burst_error *err)
{
	return burst_error_set(err, BURST_EXIT_INTERRUPTED, "interrupted");
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !proc_interrupted())
		;
}

static unsigned elapsed_s(const struct bake *b)
{
	return (unsigned)((burst_now_ms() - b->t0) / 1000);
}

/* Run a short command on the bake server; its output (capped) or NULL. */
static char *remote_output(struct bake *b, const char *cmd)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error e = BURST_ERROR_INIT;
	char *ret = NULL;

	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = REMOTE_OUTPUT_MAX;
	cp.timeout_ms = 30000;
	if (remote_run(&b->host, cmd, &cp, &e) < 0) {
		log_debug(MOD, "ssh to the bake server: %s", e.message ? e.message : "");
	} else if (cp.exit_code != 0) {
		strbuf_trim(&cp.err_buf);
		log_debug(MOD, "`%s` on the bake server: status %d: %s", cmd, cp.exit_code,
			  cp.err_buf.buf);
		if (cp.exit_code != 255 && cp.out_buf.len)
			ret = strbuf_detach(&cp.out_buf, NULL);
	} else {
		ret = strbuf_detach(&cp.out_buf, NULL);
	}
	burst_error_release(&e);
	child_process_release(&cp);
	return ret;
}

/* Keep the last lines of the bake log in r->log_tail (while the server is up). */
static void fetch_log_tail(struct bake *b)
{
	char *cmd = xstrfmt("tail -n %d %s", IMAGE_LOG_TAIL_LINES, IMAGE_BAKE_LOG);

	free(b->r->log_tail);
	b->r->log_tail = remote_output(b, cmd);
	free(cmd);
}

/* The server's bake status file says the provisioning failed? */
static bool bake_reports_failure(struct bake *b, struct strbuf *why)
{
	char *s = remote_output(b, "cat " BAKE_STATUS_FILE " 2>/dev/null || true");
	bool failed = s && !strncmp(s, "failed", 6);

	if (failed) {
		strbuf_addstr(why, s);
		strbuf_trim(why);
	}
	free(s);
	return failed;
}

static void create_progress(const struct hcloud_actions *actions, void *data)
{
	struct bake *b = data;

	(void)actions;
	ui_progress("Baking", "server '%s' starting (%us)", b->r->server_name, elapsed_s(b));
}

/* The bake's line before each attempt. */
static void bake_announce(void *data, const char *location)
{
	struct bake *b = data;

	ui_status("Creating", "bake server '%s' (%s from %s, %s) in %s", b->name,
		  b->o->server_type, IMAGE_BASE,
		  provision_arch_is_arm(b->o->arch) ? "arm64" : "x86", location);
}

/* Create the bake server in the first location that has the type. */
static int create_server(struct bake *b, const char *user_data, int64_t key_id,
			 struct provision_created *made, struct burst_error *err)
{
	const struct image_bake_opts *o = b->o;
	struct hcloud_labels labels = HCLOUD_LABELS_INIT;
	struct hcloud_server_opts so = { 0 };
	struct provision_create pc = { 0 };
	char *key_ref, *hint;
	const char *key_refs[1];
	int ret;

	if (proc_interrupted())
		return interrupted(err);
	image_bake_labels(&labels, b->owner, b->deadline);
	hcloud_labels_set(&labels, "arch", provision_arch_is_arm(o->arch) ? "arm64" : "x86");
	key_ref = xstrfmt("%lld", (long long)key_id);
	key_refs[0] = key_ref;
	so.name = b->name;
	so.server_type = o->server_type;
	so.image = IMAGE_BASE;
	so.ssh_keys = key_refs;
	so.nr_ssh_keys = 1;
	so.user_data = user_data;
	so.labels = &labels;
	hint = xstrfmt("every configured location is sold out for %s: add regions or "
		       "pass --server-type", o->server_type);
	pc.api = o->api;
	pc.state = o->state;
	pc.owner_id = b->owner;
	pc.role = "bake";
	pc.so = &so;
	pc.locations = o->regions;
	pc.announce = bake_announce;
	pc.data = b;
	pc.sold_out_hint = hint;
	ret = provision_server_create(&pc, made, err);
	if (ret < 0)
		burst_error_prefix(err, "creating bake server '%s'", b->name);
	hcloud_labels_release(&labels);
	free(key_ref);
	free(hint);
	return ret;
}

/* Record the new bake server: result, reaper record, event, pinned host key. */
static int adopt_server(struct bake *b, const struct hcloud_server *s, const char *host_pub,
			struct burst_error *err)
{
	const struct image_bake_opts *o = b->o;
	char *details;

	b->server_up = true;
	b->r->server_id = s->id;
	free(b->r->server_name);
	b->r->server_name = xstrdup(s->name ? s->name : b->name);
	b->r->server_ip = xstrdup(s->ipv4);
	details = xstrfmt("{\"location\":\"%s\",\"server_type\":\"%s\",\"deadline\":%lld}",
			  s->location ? s->location : "", o->server_type, (long long)b->deadline);
	state_event_note(o->state, "provisioned", "bake", s->id, s->name, NULL, details);
	free(details);
	if (!s->ipv4)
		return burst_error_set(err, BURST_EXIT_API, s->ipv4_invalid
				       ? "the API returned an invalid address for bake server '%s'"
				       : "bake server '%s' has no public IPv4 address", s->name);
	b->host.host = xstrdup(s->ipv4);
	return remote_known_hosts_pin(b->known_hosts, s->ipv4, b->host.port ? b->host.port : 22,
				      host_pub, err);
}

/*
 * Wait until the bake server is off.  Returns 0 when off, -1 with err on
 * timeout, failure or interrupt (the log tail is fetched first when the
 * server can still be reached).
 */
static int wait_powered_off(struct bake *b, struct burst_error *err)
{
	const struct image_bake_opts *o = b->o;
	uint64_t poll = o->poll_ms ? o->poll_ms : 2000;
	uint64_t start = burst_now_ms(), end = start + (uint64_t)o->timeout_secs * 1000;
	uint64_t next_poll = start, next_check = start + STATUS_CHECK_MS;
	char *status = xstrdup("starting");
	struct strbuf why = STRBUF_INIT;
	char dur[32];
	int errors = 0, ret = -1;

	for (;;) {
		uint64_t now = burst_now_ms();

		if (proc_interrupted()) {
			interrupted(err);
			goto out;
		}
		if (now >= next_poll) {
			struct hcloud_server s = { 0 };
			struct burst_error e = BURST_ERROR_INIT;

			next_poll = now + poll;
			if (hcloud_server_get(o->api, b->r->server_id, &s, &e) < 0) {
				if ((e.api_code && !strcmp(e.api_code, "not_found")) ||
				    ++errors >= POLL_ERRORS_MAX) {
					b->server_up = !(e.api_code &&
							 !strcmp(e.api_code, "not_found"));
					burst_error_move(err, &e);
					burst_error_prefix(err, "watching bake server '%s'",
							   b->r->server_name);
					goto out;
				}
				log_debug(MOD, "status poll: %s", e.message);
				burst_error_release(&e);
			} else {
				errors = 0;
				free(status);
				status = xstrdup(s.status ? s.status : "unknown");
			}
			hcloud_server_release(&s);
			if (!strcmp(status, "off")) {
				ui_progress_done("Baked", "on '%s' in %s", b->r->server_name,
						 ui_duration(dur, sizeof(dur),
							     burst_now_ms() - b->t0));
				ret = 0;
				goto out;
			}
		}
		ui_progress("Baking", "server '%s' %s (%s)", b->r->server_name, status,
			    ui_duration(dur, sizeof(dur), now - b->t0));
		if (now >= end) {
			burst_error_set(err, BURST_EXIT_REMOTE, "bake server '%s' did not power "
					"off within %s (it is %s)", b->r->server_name,
					ui_duration(dur, sizeof(dur), end - start), status);
			burst_error_hint(err, "raise --timeout, or keep the server with "
					 "--keep-on-failure and look at %s", IMAGE_BAKE_LOG);
			break;
		}
		if (now >= next_check && !strcmp(status, "running")) {
			next_check = now + STATUS_CHECK_MS;
			if (bake_reports_failure(b, &why)) {
				burst_error_set(err, BURST_EXIT_REMOTE, "the bake on '%s' failed: %s",
						b->r->server_name, why.buf);
				break;
			}
		}
		sleep_ms(100);
	}
	/* failed or timed out: the log, while the server is still up */
	if (!strcmp(status, "running"))
		fetch_log_tail(b);
out:
	free(status);
	strbuf_release(&why);
	return ret;
}

/* Snapshot the powered-off bake server and wait until it is available. */
static int snapshot(struct bake *b, struct burst_error *err)
{
	const struct image_bake_opts *o = b->o;
	struct hcloud_labels labels = HCLOUD_LABELS_INIT;
	struct hcloud_image im = { 0 };
	struct burst_error ignore = BURST_ERROR_INIT;
	struct state_image rec = { 0 };
	uint64_t t0 = burst_now_ms(), end = t0 + (uint64_t)snapshot_secs(o) * 1000;
	uint64_t poll = o->poll_ms ? o->poll_ms : 2000, next_poll = t0;
	int64_t now = state_now(), intent = 0;
	char *labels_json = NULL;
	char dur[32];
	int ret = -1;

	image_snapshot_labels(&labels, b->owner, BURST_VERSION, now);
	/* what runs find it by (with the API's architecture); none means x86 */
	hcloud_labels_set(&labels, "arch", provision_arch_is_arm(o->arch) ? "arm64" : "x86");
	labels_json = provision_labels_json(&labels);
	b->r->description = o->description ? xstrdup(o->description)
					   : image_default_description(BURST_VERSION,
								       now);
	if (state_intent_begin(o->state, STATE_INTENT_IMAGE, b->r->description, labels_json,
			       &intent, err) < 0)
		goto out;
	ui_status("Snapshotting", "'%s'", b->r->server_name);
	if (hcloud_server_create_image(o->api, b->r->server_id, b->r->description, &labels, &im,
				       NULL, err) < 0) {
		state_intent_failed(o->state, intent, err->message, &ignore);
		burst_error_release(&ignore);
		burst_error_prefix(err, "snapshotting bake server '%s'", b->r->server_name);
		goto out;
	}
	state_intent_done(o->state, intent, im.id, &ignore);
	burst_error_release(&ignore);
	b->creating_image = im.id;
	for (;;) {
		uint64_t t = burst_now_ms();

		if (proc_interrupted()) {
			interrupted(err);
			goto out;
		}
		if (t >= next_poll) {
			next_poll = t + poll;
			hcloud_image_release(&im);
			if (hcloud_image_get(o->api, b->creating_image, &im, err) < 0) {
				burst_error_prefix(err, "waiting for snapshot %lld",
						   (long long)b->creating_image);
				goto out;
			}
			if (im.status && !strcmp(im.status, "available"))
				break;
			if (im.status && !strcmp(im.status, "unavailable")) {
				burst_error_set(err, BURST_EXIT_API, "snapshot %lld of '%s' "
						"became unavailable", (long long)im.id,
						b->r->server_name);
				goto out;
			}
		}
		if (t >= end) {
			burst_error_set(err, BURST_EXIT_API, "snapshot %lld was not available "
					"within %s", (long long)b->creating_image,
					ui_duration(dur, sizeof(dur), end - t0));
			goto out;
		}
		ui_progress("Snapshotting", "'%s' %s (%s)", b->r->server_name,
			    im.status ? im.status : "creating", ui_duration(dur, sizeof(dur), t - t0));
		sleep_ms(100);
	}
	b->creating_image = 0;
	b->r->image_id = im.id;
	ui_progress_done("Snapshotted", "image %lld in %s", (long long)im.id,
			 ui_duration(dur, sizeof(dur), burst_now_ms() - t0));
	state_event_note(o->state, "provisioned", "image", im.id, b->r->description, NULL, labels_json);
	rec.hcloud_id = im.id;
	rec.created_at = im.created ? (int64_t)im.created : now;
	rec.version = (char *)BURST_VERSION;
	rec.labels_json = labels_json;
	if (state_image_set(o->state, &rec, err) < 0)
		goto out;
	ret = 0;
out:
	hcloud_labels_release(&labels);
	hcloud_image_release(&im);
	free(labels_json);
	return ret;
}

/* After an interrupt: drop the snapshot that is still being created. */
static void drop_creating_image(struct bake *b)
{
	struct burst_error e = BURST_ERROR_INIT;
	uint64_t end = burst_now_ms() + 60000;

	if (!b->creating_image)
		return;
	/* a snapshot being created is locked: retry briefly */
	while (hcloud_image_delete(b->o->api, b->creating_image, &e) < 0) {
		if ((e.api_code && !strcmp(e.api_code, "not_found")) || burst_now_ms() > end) {
			if (!e.api_code || strcmp(e.api_code, "not_found"))
				ui_warn("could not delete the unfinished snapshot %lld: %s",
					(long long)b->creating_image, e.message);
			burst_error_release(&e);
			return;
		}
		burst_error_release(&e);
		sleep_ms(500);
	}
	state_event_note(b->o->state, "terminated", "image", b->creating_image, NULL, "interrupted",
			 NULL);
	b->creating_image = 0;
}

/* The bake server after a failure or an interrupt: delete it, or keep it. */
static void settle_failed_server(struct bake *b, bool interrupted_now)
{
	const struct image_bake_opts *o = b->o;
	struct burst_error e = BURST_ERROR_INIT;

	if (!b->server_up)
		return;
	if (o->keep_on_failure && !interrupted_now) {
		struct hcloud_labels l = HCLOUD_LABELS_INIT;
		int64_t until = state_now() + KEEP_SECS;
		/* a later sweep may delete it, but not before someone could look */
		image_bake_labels(&l, b->owner, until);
		if (hcloud_server_set_labels(o->api, b->r->server_id, &l, &e) < 0) {
			log_warn(MOD, "extending the bake server's deadline: %s", e.message);
			burst_error_release(&e);
		}
		/* no process bakes it any more: the label's deadline is the word */
		state_reaper_remove(o->state, IMAGE_REAPER_KIND, b->name, true, &e);
		burst_error_release(&e);
		b->claimed = false;
		hcloud_labels_release(&l);
		b->r->server_kept = true;
		return;
	}
	if (interrupted_now)
		ui_status("Deleting", "bake server '%s' (interrupted)", b->r->server_name);
	else
		ui_status("Deleting", "bake server '%s'", b->r->server_name);
	if (delete_bake_server(o->api, o->state, b->r->server_id, b->r->server_name,
			       interrupted_now ? "interrupted" : "failed", &e) < 0) {
		ui_warn("%s; it is labelled role=bake with a deadline and will be swept "
			"after it", e.message);
		burst_error_release(&e);
		return;
	}
	b->server_up = false;
}

/*
 * Start the detached watcher of this bake (before the create, so that even
 * a kill -9 during the create call is covered): it outlives this process
 * and deletes the server after its deadline (best effort).
 */
static void start_watcher(struct bake *b)
{
	struct burst_error e = BURST_ERROR_INIT;
	char *dir = xstrfmt("%s/reapers", state_dir(b->o->state));
	char *log = xstrfmt("%s/%s.log", dir, b->name);
	const char *argv[] = { b->o->watcher_exe, "burst", "image", "__watch-bake", b->name,
			       NULL };
	pid_t pid = 0;

	if (!b->o->watcher_exe)
		goto out;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_warn(MOD, "cannot create '%s': %s", dir, strerror(errno));
		goto out;
	}
	if (proc_spawn_detached(argv, NULL, log, &pid, &e) < 0)
		log_warn(MOD, "cannot start the bake watcher: %s", e.message);
	else
		log_debug(MOD, "bake watcher pid %d, log %s", (int)pid, log);
out:
	burst_error_release(&e);
	free(dir);
	free(log);
}

/* Sleep secs seconds, at least 1 and at most 60 (then look again). */
static void watch_sleep(int64_t secs)
{
	if (secs < 1)
		secs = 1;
	if (secs > 60)
		secs = 60;
	sleep_ms((uint64_t)secs * 1000);
}

/*
 * Settle the pending server intent of the bake `name` for a baker that
 * died: done with hcloud_id, or failed when hcloud_id is 0.  (A pending
 * intent would otherwise be reconciled by the lifecycle module, which
 * knows nothing about bakes.)
 */
static void settle_dead_intent(struct burst_state *st, const char *name, int64_t hcloud_id)
{
	struct state_intent *v = NULL;
	struct burst_error e = BURST_ERROR_INIT;
	size_t n = 0;

	if (state_intents_pending(st, &v, &n, &e) < 0)
		log_warn(MOD, "reading the intents: %s", e.message);
	burst_error_release(&e);
	for (size_t i = 0; i < n; i++) {
		if (v[i].kind != STATE_INTENT_SERVER || !v[i].name || strcmp(v[i].name, name))
			continue;
		if (hcloud_id)
			state_intent_done(st, v[i].id, hcloud_id, &e);
		else
			state_intent_failed(st, v[i].id, "the bake died; never created", &e);
		burst_error_release(&e);
	}
	state_intents_free(v, n);
}

int image_bake_watch(struct hcloud *api, struct burst_state *st, const char *name,
		     struct burst_error *err)
{
	const char *owner = state_owner_id(st);
	struct state_reaper rec = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	int64_t grace_end = 0;
	int failures = 0, ret = -1;

	for (;;) {
		struct hcloud_servers sl = { 0 };
		const struct hcloud_server *s;
		const char *d;
		int64_t deadline, now;

		/* cheap while the bake runs: the database only */
		if (state_reaper_alive(st, IMAGE_REAPER_KIND, name)) {
			sleep_ms(1000);
			continue;
		}
		if (hcloud_servers_list(api, name, NULL, &sl, err) < 0) {
			if (++failures >= 100)
				goto out;
			log_warn(MOD, "looking for bake server '%s': %s", name, err->message);
			burst_error_release(err);
			watch_sleep(30);
			continue;
		}
		failures = 0;
		if (!sl.nr) {
			hcloud_servers_release(&sl);
			/*
			 * The baker removes its record when it ends normally.  A
			 * record left by a dead baker: a create it sent may still
			 * land, so look again for a while.
			 */
			state_reaper_release(&rec);
			if (state_reaper_get(st, IMAGE_REAPER_KIND, name, &rec, &e) == 1) {
				now = state_now();
				if (!grace_end)
					grace_end = now + WATCH_CREATE_GRACE_SECS;
				if (now < grace_end) {
					watch_sleep(5);
					continue;
				}
				settle_dead_intent(st, name, 0);
				state_reaper_remove(st, IMAGE_REAPER_KIND, name, true, &e);
			}
			burst_error_release(&e);
			log_info(MOD, "bake server '%s' is gone (or was never created)", name);
			ret = 0;
			goto out;
		}
		s = &sl.v[0];
		settle_dead_intent(st, name, s->id);
		d = hcloud_labels_get(&s->labels, "deadline");
		if (!provision_is_ours(&s->labels, owner, "bake") || !d ||
		    parse_int64(d, 0, INT64_MAX, &deadline) < 0) {
			log_warn(MOD, "server '%s' is not a bake server of ours: leaving it alone",
				 name);
			hcloud_servers_release(&sl);
			ret = 0;
			goto out;
		}
		now = state_now();
		if (now < deadline || (s->status && !strcmp(s->status, "deleting"))) {
			hcloud_servers_release(&sl);
			watch_sleep(deadline - now);
			continue;
		}
		log_info(MOD, "bake server '%s' outlived its bake and its deadline: deleting it",
			 name);
		ret = delete_bake_server(api, st, s->id, name, "reap", err);
		hcloud_servers_release(&sl);
		if (ret == 0 || ++failures >= 100)
			goto out;
		log_warn(MOD, "%s", err->message);
		burst_error_release(err);
		watch_sleep(30);
	}
out:
	state_reaper_release(&rec);
	burst_error_release(&e);
	return ret;
}

int image_bake(const struct image_bake_opts *o, struct image_bake_result *r,
	       struct burst_error *err)
{
	struct bake b;
	struct provision_created made = { 0 };
	struct strbuf user_data = STRBUF_INIT;
	struct burst_error e = BURST_ERROR_INIT;
	char *host_priv = NULL, *host_pub = NULL, *scratch = NULL, *keyfile = NULL;
	int64_t key_id = 0;
	size_t swept = 0;
	int ret = -1;

	memset(&b, 0, sizeof(b));
	memset(r, 0, sizeof(*r));
	b.o = o;
	b.r = r;
	b.t0 = burst_now_ms();
	b.owner = state_owner_id(o->state);
	remote_host_server(&b.host, o->ssh_user, o->ssh_port, o->ssh_key_path,
			   state_dir(o->state), NULL);
	b.known_hosts = xstrdup(b.host.known_hosts);

	if (!o->regions || !o->regions->nr) {
		burst_error_set(err, BURST_EXIT_CONFIG, "no location to create the bake server in");
		burst_error_hint(err, "set [hetzner] regions in the config");
		goto out;
	}
	/* bakes that died with their process: their deadline is our word */
	if (image_bake_sweep(o->api, o->state, b.owner, state_now(), &swept, &e) < 0) {
		ui_warn("%s", e.message);
		burst_error_release(&e);
	}
	if (provision_ensure_ssh_key(o->api, o->state, b.owner, o->ssh_pub_key_path, &key_id,
				     err) < 0)
		goto out;
	scratch = xstrfmt("%s/keys", state_dir(o->state));
	keyfile = xstrfmt("bakekey-%ld", (long)getpid());
	if (remote_hostkey_generate(scratch, keyfile, &host_priv, &host_pub, err) < 0)
		goto out;
	if (image_user_data(host_priv, host_pub, &user_data) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "the bake's user_data exceeds 32 KiB");
		goto out;
	}
	b.deadline = state_now() + o->timeout_secs + snapshot_secs(o);
	b.name = image_bake_name(state_now());
	r->server_name = xstrdup(b.name);

	/* the bake's record (and its watcher) exist before the server does */
	if (state_reaper_claim(o->state, IMAGE_REAPER_KIND, b.name, b.deadline, NULL, &b.claimed,
			       err) < 0)
		goto out;
	start_watcher(&b);
	if (create_server(&b, user_data.buf, key_id, &made, err) < 0) {
		if (!made.sc.server.id)
			goto out;
		/* it exists (e.g. without an address): ours to delete */
		adopt_server(&b, &made.sc.server, host_pub, &e);
		burst_error_release(&e);
		goto fail;
	}
	if (adopt_server(&b, &made.sc.server, host_pub, err) < 0)
		goto fail;
	if (hcloud_server_wait_created(o->api, &made.sc, burst_now_ms() + ACTION_DEADLINE_MS,
				       create_progress, &b, err) < 0) {
		burst_error_prefix(err, "starting bake server '%s'", r->server_name);
		goto fail;
	}
	if (proc_interrupted()) {
		interrupted(err);
		goto fail;
	}
	if (wait_powered_off(&b, err) < 0)
		goto fail;
	if (snapshot(&b, err) < 0)
		goto fail;

	ui_status("Deleting", "bake server '%s'", r->server_name);
	if (delete_bake_server(o->api, o->state, r->server_id, r->server_name, "done", &e) < 0) {
		ui_warn("%s; it is labelled role=bake with a deadline and will be swept after it",
			e.message);
		burst_error_release(&e);
	} else {
		b.server_up = false;
	}
	if (image_retention_apply(o->api, o->state, b.owner, o->arch, o->snapshot_keep, r->image_id,
				  &r->snapshots_deleted, &e) < 0) {
		ui_warn("snapshot retention: %s", e.message);
		burst_error_release(&e);
	}
	ret = 0;
	goto out;
fail:
	{
		bool intr = err->exit_code == BURST_EXIT_INTERRUPTED || proc_interrupted();

		if (intr)
			drop_creating_image(&b);
		settle_failed_server(&b, intr);
	}
out:
	/* no server (never created, or deleted): the watcher may go */
	if (b.claimed && !b.server_up && !r->server_kept) {
		state_reaper_remove(o->state, IMAGE_REAPER_KIND, b.name, true, &e);
		burst_error_release(&e);
	}
	if (r->server_ip && !b.server_up) {
		remote_known_hosts_forget(b.known_hosts, r->server_ip,
					  b.host.port ? b.host.port : 22, &e);
		burst_error_release(&e);
	}
	provision_created_release(&made);
	strbuf_release(&user_data);
	remote_host_release(&b.host);
	burst_error_release(&e);
	free(b.known_hosts);
	free(b.name);
	free(host_priv);
	free(host_pub);
	free(scratch);
	free(keyfile);
	return ret;
}

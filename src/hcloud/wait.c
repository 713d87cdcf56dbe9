/*
 * wait.c - waiting for actions and resource statuses, with one request per
 * poll and an interval that starts short and backs off to a cap.
 */
#include <stdlib.h>
#include <string.h>

#include "burst/log.h"
#include "hcloud-internal.h"

struct poller {
	uint64_t interval, cap, deadline;
};

static void poller_init(struct poller *p, struct hcloud *c, uint64_t deadline)
{
	p->interval = c->poll_first_ms;
	p->cap = c->poll_cap_ms;
	p->deadline = deadline;
}

/*
 * Sleep until the next poll.  Returns false when the deadline has passed;
 * the last sleep is cut short so that one final poll happens at the deadline.
 */
static bool poller_sleep(struct poller *p)
{
	uint64_t now = burst_now_ms(), ms = p->interval;

	if (p->deadline && now >= p->deadline)
		return false;
	if (p->deadline && now + ms > p->deadline)
		ms = p->deadline - now;
	hc_sleep_ms(ms);
	p->interval = p->interval * 3 / 2;
	if (p->interval > p->cap)
		p->interval = p->cap;
	return true;
}

static struct hcloud_action *find_action(struct hcloud_actions *l, int64_t id)
{
	for (size_t i = 0; i < l->nr; i++)
		if (l->v[i].id == id)
			return &l->v[i];
	return NULL;
}

/* A pending id is always in the list. */
static struct hcloud_action *must_find(struct hcloud_actions *l, int64_t id)
{
	struct hcloud_action *a = find_action(l, id);

	if (!a)
		BUG("action %lld not tracked", (long long)id);
	return a;
}

static void describe(struct strbuf *sb, const struct hcloud_action *a)
{
	strbuf_addf(sb, "%s (action %lld", a->command ? a->command : "action",
		    (long long)a->id);
	if (hcloud_action_running(a))
		strbuf_addf(sb, ", %d%%", a->progress);
	strbuf_addch(sb, ')');
}

int hcloud_actions_wait(struct hcloud *c, const int64_t *ids, size_t n,
			uint64_t deadline_ms, hcloud_progress_fn progress, void *data,
			struct burst_error *err)
{
	struct hcloud_actions all = { 0 };
	int64_t *pending = NULL;
	size_t nr_pending = 0, alloc_pending = 0;
	struct poller p;
	int ret = -1;

	poller_init(&p, c, deadline_ms);
	for (size_t i = 0; i < n; i++) {
		if (!ids[i] || find_action(&all, ids[i]))
			continue;
		ALLOC_GROW(all.v, all.nr + 1, all.alloc);
		memset(&all.v[all.nr], 0, sizeof(all.v[all.nr]));
		all.v[all.nr++].id = ids[i];
		ALLOC_GROW(pending, nr_pending + 1, alloc_pending);
		pending[nr_pending++] = ids[i];
	}
	while (nr_pending) {
		struct hcloud_actions got = { 0 };
		size_t keep = 0;

		if (hcloud_actions_get(c, pending, nr_pending, &got, err) < 0)
			goto out;
		for (size_t i = 0; i < got.nr; i++) {
			struct hcloud_action *a = find_action(&all, got.v[i].id);

			if (!a)
				continue;
			hcloud_action_release(a);
			*a = got.v[i];
			memset(&got.v[i], 0, sizeof(got.v[i]));
		}
		hcloud_actions_release(&got);
		if (progress)
			progress(&all, data);
		for (size_t i = 0; i < nr_pending; i++) {
			struct hcloud_action *a = must_find(&all, pending[i]);

			if (!a->status) {
				burst_error_set(err, BURST_EXIT_API,
						"waiting for action %lld: the API does not know it",
						(long long)pending[i]);
				if (err)
					err->api_code = xstrdup("not_found");
				goto out;
			}
			if (!strcmp(a->status, "error")) {
				burst_error_set(err, BURST_EXIT_API,
						"action %s (%lld) failed: %s%s%s",
						a->command ? a->command : "?", (long long)a->id,
						a->error_code ? a->error_code : "error",
						a->error_message ? ": " : "",
						a->error_message ? a->error_message : "");
				if (err) {
					err->api_code = xstrdup(a->error_code);
					err->api_message = xstrdup(a->error_message);
				}
				burst_error_hint(err, "the resource may be left half-done; "
						 "cargo-burst cleans it up on the next run");
				goto out;
			}
			if (hcloud_action_running(a))
				pending[keep++] = pending[i];
		}
		nr_pending = keep;
		if (!nr_pending)
			break;
		if (!poller_sleep(&p)) {
			struct strbuf sb = STRBUF_INIT;

			for (size_t i = 0; i < nr_pending; i++) {
				if (i)
					strbuf_addstr(&sb, ", ");
				describe(&sb, must_find(&all, pending[i]));
			}
			burst_error_set(err, BURST_EXIT_API,
					"timed out waiting for the cloud: still running: %s",
					sb.buf);
			if (err)
				err->api_code = xstrdup("timeout");
			burst_error_hint(err, "Hetzner is slow right now; try again later");
			strbuf_release(&sb);
			goto out;
		}
	}
	ret = 0;
out:
	free(pending);
	hcloud_actions_release(&all);
	return ret;
}

static int wait_create_actions(struct hcloud *c, const struct hcloud_action *action,
			       const struct hcloud_actions *next, uint64_t deadline_ms,
			       hcloud_progress_fn progress, void *data,
			       struct burst_error *err)
{
	int64_t *ids = xcalloc(next->nr + 1, sizeof(*ids));
	size_t n = 0;
	int ret;

	if (action->id)
		ids[n++] = action->id;
	for (size_t i = 0; i < next->nr; i++)
		ids[n++] = next->v[i].id;
	ret = hcloud_actions_wait(c, ids, n, deadline_ms, progress, data, err);
	free(ids);
	return ret;
}

static int timed_out(const char *what, const char *status, struct burst_error *err)
{
	burst_error_set(err, BURST_EXIT_API, "timed out waiting for %s (still '%s')", what,
			status ? status : "unknown");
	if (err)
		err->api_code = xstrdup("timeout");
	burst_error_hint(err, "Hetzner is slow right now; try again later");
	return -1;
}

int hcloud_server_wait_status(struct hcloud *c, int64_t id, const char *status,
			      uint64_t deadline_ms, struct burst_error *err)
{
	struct hcloud_server s = { 0 };
	struct poller p;
	char *what = xstrfmt("server %lld to be %s", (long long)id, status);
	int ret = -1;

	poller_init(&p, c, deadline_ms);
	for (;;) {
		if (hcloud_server_get(c, id, &s, err) < 0)
			break;
		if (s.status && !strcmp(s.status, status)) {
			ret = 0;
			break;
		}
		if (!poller_sleep(&p)) {
			timed_out(what, s.status, err);
			break;
		}
	}
	hcloud_server_release(&s);
	free(what);
	return ret;
}

int hcloud_image_wait_available(struct hcloud *c, int64_t id, uint64_t deadline_ms,
				struct burst_error *err)
{
	struct hcloud_image img = { 0 };
	struct poller p;
	char *what = xstrfmt("image %lld to be available", (long long)id);
	int ret = -1;

	poller_init(&p, c, deadline_ms);
	for (;;) {
		if (hcloud_image_get(c, id, &img, err) < 0)
			break;
		if (img.status && !strcmp(img.status, "available")) {
			ret = 0;
			break;
		}
		if (img.status && !strcmp(img.status, "unavailable")) {
			burst_error_set(err, BURST_EXIT_API,
					"image %lld became unavailable while it was being created",
					(long long)id);
			burst_error_hint(err, "delete it and bake the image again");
			break;
		}
		if (!poller_sleep(&p)) {
			timed_out(what, img.status, err);
			break;
		}
	}
	hcloud_image_release(&img);
	free(what);
	return ret;
}

int hcloud_server_wait_created(struct hcloud *c, struct hcloud_server_created *r,
			       uint64_t deadline_ms, hcloud_progress_fn progress,
			       void *data, struct burst_error *err)
{
	if (!r->recovered) {
		if (wait_create_actions(c, &r->action, &r->next_actions, deadline_ms,
					progress, data, err) < 0)
			return -1;
		return hcloud_server_get(c, r->server.id, &r->server, err);
	}
	/* The create's actions are unknown: wait on the status instead. */
	if (hcloud_server_wait_status(c, r->server.id, r->start ? "running" : "off",
				      deadline_ms, err) < 0)
		return -1;
	return hcloud_server_get(c, r->server.id, &r->server, err);
}

int hcloud_volume_wait_created(struct hcloud *c, struct hcloud_volume_created *r,
			       uint64_t deadline_ms, hcloud_progress_fn progress,
			       void *data, struct burst_error *err)
{
	struct poller p;
	char *what;
	int ret = -1;

	if (!r->recovered) {
		if (wait_create_actions(c, &r->action, &r->next_actions, deadline_ms,
					progress, data, err) < 0)
			return -1;
		return hcloud_volume_get(c, r->volume.id, &r->volume, err);
	}
	what = xstrfmt("volume %lld to be available", (long long)r->volume.id);
	poller_init(&p, c, deadline_ms);
	for (;;) {
		if (hcloud_volume_get(c, r->volume.id, &r->volume, err) < 0)
			break;
		if (r->volume.status && !strcmp(r->volume.status, "available") &&
		    (!r->server || r->volume.server == r->server)) {
			ret = 0;
			break;
		}
		if (!poller_sleep(&p)) {
			timed_out(what, r->volume.status, err);
			break;
		}
	}
	free(what);
	return ret;
}

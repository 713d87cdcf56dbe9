/*
 * wait.c - waiting for actions and resource statuses, with one request per
 * poll and an interval that starts short and backs off to a cap.
 */
#include <stdlib.h>
#include <string.h>

#include "burst/log.h"
#include "burst/text.h"
#include "hcloud-internal.h"

struct poller {
	uint64_t interval, cap, deadline;
	int mark; /* signals caught before the wait began */
};

static void poller_init(struct poller *p, struct hcloud *c, uint64_t deadline)
{
	p->interval = c->poll_first_ms;
	p->cap = c->poll_cap_ms;
	p->deadline = deadline;
	p->mark = hc_signal_mark();
}

/*
 * Sleep until the next poll.  Returns false when the deadline has passed
 * or the process was interrupted (the caller's timed_out() tells which);
 * the last sleep is cut short so that one final poll happens at the deadline.
 */
static bool poller_sleep(struct poller *p)
{
	uint64_t now = burst_now_ms(), ms = p->interval;

	if (p->deadline && now >= p->deadline)
		return false;
	if (p->deadline && now + ms > p->deadline)
		ms = p->deadline - now;
	if (!hc_sleep_ms(ms, p->mark))
		return false;
	p->interval = p->interval * 3 / 2;
	if (p->interval > p->cap)
		p->interval = p->cap;
	return true;
}

/* ---- the waiter: several actions, one request per poll ------------------- */

/* How long after an action's expected end to poll (ms). */
#define ETA_MARGIN_MS 60
/* Shortest sleep when an expected end is near. */
#define MIN_SLEEP_MS 50
/* Gap between two samples of an action whose start we did not see. */
#define SECOND_SAMPLE_MS 1000

struct tracked {
	struct hcloud_action a;
	uint64_t anchor; /* when it was at progress 0 (created by us), or 0 */
	uint64_t t1, t2; /* first and latest sample with progress >= 1 */
	int p1, p2;
	uint64_t t_zero; /* last poll that saw it running at progress 0 */
	uint64_t eta;    /* expected end as of the last poll, or 0 */
	uint64_t ended;  /* when it ended (estimated), once finished */
	bool asked;      /* requested in at least one poll */
	bool fresh_sample; /* updated by the poll being processed */
	bool polled;     /* seen in at least one poll */
};

struct hcloud_waiter {
	struct hcloud *c;
	struct tracked *v;
	size_t nr, alloc;
	uint64_t interval; /* backoff for polls with no expected end */
	uint64_t last_poll;
	unsigned polls;
};

struct hcloud_waiter *hcloud_waiter_new(struct hcloud *c)
{
	struct hcloud_waiter *w = xcalloc(1, sizeof(*w));

	w->c = c;
	w->interval = c->poll_first_ms;
	return w;
}

void hcloud_waiter_free(struct hcloud_waiter *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nr; i++)
		hcloud_action_release(&w->v[i].a);
	free(w->v);
	free(w);
}

static struct tracked *tracked_find(const struct hcloud_waiter *w, int64_t id)
{
	for (size_t i = 0; i < w->nr; i++)
		if (w->v[i].a.id == id)
			return &w->v[i];
	return NULL;
}

void hcloud_waiter_add(struct hcloud_waiter *w, int64_t id, uint64_t started_ms)
{
	struct tracked *t;

	if (!id || tracked_find(w, id))
		return;
	ALLOC_GROW(w->v, w->nr + 1, w->alloc);
	t = &w->v[w->nr++];
	memset(t, 0, sizeof(*t));
	t->a.id = id;
	t->anchor = started_ms;
}

const struct hcloud_action *hcloud_waiter_action(const struct hcloud_waiter *w, int64_t id)
{
	const struct tracked *t = tracked_find(w, id);

	return t && t->a.status ? &t->a : NULL;
}

unsigned hcloud_waiter_polls(const struct hcloud_waiter *w)
{
	return w->polls;
}

static bool tracked_pending(const struct tracked *t)
{
	return !t->a.status || hcloud_action_running(&t->a);
}

/*
 * When the action should end, from its progress (the API's progress grows
 * about linearly with time): from its start when we saw it (created by us),
 * else from two samples.  0 when it cannot be told yet.
 */
static uint64_t tracked_eta(const struct tracked *t)
{
	if (t->p2 < 1)
		return 0;
	/*
	 * Progress is rounded down, so from the start this is the latest end
	 * that fits (a poll too early costs a request, one too late only its
	 * lateness, which shrinks as the progress grows).
	 */
	if (t->anchor && t->t2 > t->anchor)
		return t->anchor + (t->t2 - t->anchor) * 100 / (uint64_t)t->p2;
	if (t->p2 > t->p1 && t->t2 > t->t1)
		return t->t2 + (t->t2 - t->t1) * (uint64_t)(t->p2 >= 100 ? 0 : 100 - t->p2) /
			       (uint64_t)(t->p2 - t->p1);
	return 0;
}

/*
 * The time of the next poll: right after the latest expected end when every
 * pending action has one; a second sample of an action whose start we did
 * not see; else the backoff (first interval, x1.5, capped).  Never later
 * than the cap from now.
 */
static uint64_t next_poll(struct hcloud_waiter *w, const int64_t *ids, size_t n,
			  uint64_t now)
{
	uint64_t latest = 0, target, cap = w->c->poll_cap_ms;
	bool unknown_moving = false, unknown_still = false, backoff = false;

	for (size_t i = 0; i < w->nr; i++) {
		const struct tracked *t = &w->v[i];
		bool wanted = false;
		uint64_t eta;

		for (size_t k = 0; k < n && !wanted; k++)
			wanted = ids[k] == t->a.id;
		if (!wanted || !tracked_pending(t))
			continue;
		eta = tracked_eta(t);
		if (eta) {
			if (eta > latest)
				latest = eta;
		} else if (t->p2 >= 1) {
			unknown_moving = true;
		} else {
			unknown_still = true;
		}
	}
	if (unknown_moving) {
		target = now + (w->interval > SECOND_SAMPLE_MS ? w->interval : SECOND_SAMPLE_MS);
	} else if (unknown_still && latest + ETA_MARGIN_MS > now + MIN_SLEEP_MS) {
		/*
		 * An action not begun yet most likely follows the one expected
		 * to end last (start_server after create_server): look when it
		 * has made some progress, its start then being that end.
		 */
		target = latest + w->c->poll_first_ms;
	} else if (latest + ETA_MARGIN_MS > now + MIN_SLEEP_MS) {
		target = latest + ETA_MARGIN_MS;
	} else if (!unknown_still && latest) {
		/* expected to be done by now: poll soon, then back off */
		target = now + MIN_SLEEP_MS;
		if (latest + ETA_MARGIN_MS + MIN_SLEEP_MS < now)
			backoff = true;
	} else {
		backoff = true;
	}
	if (backoff)
		target = now + w->interval;
	if (target > now + cap)
		target = now + cap;
	if (backoff) {
		w->interval = w->interval * 3 / 2;
		if (w->interval > cap)
			w->interval = cap;
	}
	return target;
}

/*
 * The start of an action first seen moving at t that we did not see begin:
 * the latest end of another tracked action since it was last seen at
 * progress 0 (a next_action starts when the one before it ends), or 0.
 */
static uint64_t predecessor_end(const struct hcloud_waiter *w, const struct tracked *tr,
				uint64_t t)
{
	uint64_t best = 0;

	for (size_t i = 0; i < w->nr; i++) {
		const struct tracked *o = &w->v[i];

		if (o == tr || !o->ended)
			continue;
		if (o->ended + MIN_SLEEP_MS >= tr->t_zero && o->ended < t && o->ended > best)
			best = o->ended;
	}
	return best;
}

/* One GET /actions for every pending action; updates the samples. */
static int waiter_poll(struct hcloud_waiter *w, struct burst_error *err)
{
	struct hcloud_actions got = { 0 };
	int64_t *ids = xcalloc(w->nr ? w->nr : 1, sizeof(*ids));
	size_t n = 0;
	uint64_t t0, t;
	int ret = -1;

	for (size_t i = 0; i < w->nr; i++)
		if (tracked_pending(&w->v[i])) {
			ids[n++] = w->v[i].a.id;
			w->v[i].asked = true;
		}
	if (!n) {
		ret = 0;
		goto out;
	}
	t0 = burst_now_ms();
	if (hcloud_actions_get(w->c, ids, n, &got, err) < 0)
		goto out;
	t = burst_now_ms();
	t = t0 + (t - t0) / 2; /* the API read the progress about then */
	w->polls++;
	for (size_t i = 0; i < got.nr; i++) {
		struct tracked *tr = tracked_find(w, got.v[i].id);

		if (!tr)
			continue;
		hcloud_action_release(&tr->a);
		tr->a = got.v[i];
		memset(&got.v[i], 0, sizeof(got.v[i]));
		tr->fresh_sample = true;
	}
	/* the ends first: a successor's start is taken from them */
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < w->nr; i++) {
			struct tracked *tr = &w->v[i];

			if (!tr->fresh_sample || hcloud_action_running(&tr->a) != (pass == 1))
				continue;
			tr->fresh_sample = false;
			if (!hcloud_action_running(&tr->a)) {
				/* ended since the last poll: at its expected end if that fits */
				tr->ended = t;
				if (tr->eta && tr->eta < t)
					tr->ended = tr->eta > w->last_poll ? tr->eta : w->last_poll;
			} else if (tr->a.progress < 1) {
				tr->t_zero = t;
			} else {
				if (!tr->t1) {
					tr->t1 = t;
					tr->p1 = tr->a.progress;
					if (!tr->anchor && tr->t_zero)
						tr->anchor = predecessor_end(w, tr, t);
				}
				tr->t2 = t;
				tr->p2 = tr->a.progress;
			}
			tr->polled = true;
		}
	}
	for (size_t i = 0; i < w->nr; i++)
		w->v[i].eta = tracked_pending(&w->v[i]) ? tracked_eta(&w->v[i]) : 0;
	w->last_poll = t;
	ret = 0;
out:
	hcloud_actions_release(&got);
	free(ids);
	return ret;
}

static void describe(struct strbuf *sb, const struct hcloud_action *a)
{
	strbuf_addf(sb, "%s (action %lld", a->command ? a->command : "action",
		    (long long)a->id);
	if (hcloud_action_running(a))
		strbuf_addf(sb, ", %d%%", a->progress);
	strbuf_addch(sb, ')');
}

/* The progress callback's view: every tracked action. */
static void waiter_report(struct hcloud_waiter *w, hcloud_progress_fn progress, void *data)
{
	struct hcloud_actions view = { 0 };

	if (!progress)
		return;
	view.v = xcalloc(w->nr ? w->nr : 1, sizeof(*view.v));
	for (size_t i = 0; i < w->nr; i++)
		view.v[view.nr++] = w->v[i].a; /* shallow: not released here */
	progress(&view, data);
	free(view.v);
}

int hcloud_waiter_wait(struct hcloud_waiter *w, const int64_t *ids, size_t n,
		       uint64_t deadline_ms, hcloud_progress_fn progress, void *data,
		       struct burst_error *err)
{
	bool first = true;
	unsigned polls = 0;
	int mark = hc_signal_mark();

	for (size_t k = 0; k < n; k++)
		hcloud_waiter_add(w, ids[k], 0);
	for (;;) {
		size_t pending = 0;
		bool fresh = true, anchored = false;
		uint64_t now, at;

		for (size_t k = 0; k < n; k++) {
			struct tracked *t = tracked_find(w, ids[k]);

			if (!t)
				continue;
			if (t->a.status && !strcmp(t->a.status, "error")) {
				const struct hcloud_action *a = &t->a;
				/* the API's words reach the terminal: made safe (text.h) */
				char *cmd = burst_text_sanitize(a->command, 64);
				char *code = burst_text_sanitize(a->error_code, 64);
				char *msg = burst_text_sanitize(a->error_message, 1024);

				burst_error_set(err, BURST_EXIT_API,
						"action %s (%lld) failed: %s%s%s",
						cmd ? cmd : "?", (long long)a->id,
						code ? code : "error", msg ? ": " : "",
						msg ? msg : "");
				free(cmd);
				if (err) {
					err->api_code = code;
					err->api_message = msg;
				} else {
					free(code);
					free(msg);
				}
				burst_error_hint(err, "the resource may be left half-done; "
						 "cargo-burst cleans it up on the next run");
				return -1;
			}
			if (t->asked && !t->a.status) {
				burst_error_set(err, BURST_EXIT_API,
						"waiting for action %lld: the API does not know it",
						(long long)t->a.id);
				if (err)
					err->api_code = xstrdup("not_found");
				return -1;
			}
			if (tracked_pending(t)) {
				pending++;
				/* just created by us: nothing to learn from an immediate poll */
				if (t->polled)
					fresh = false;
				if (t->anchor)
					anchored = true;
			}
		}
		if (!pending)
			return 0;
		now = burst_now_ms();
		fresh = fresh && anchored;
		if (first && !fresh) {
			at = now;
		} else if (first) {
			/* the first poll of fresh actions: their first interval */
			at = 0;
			for (size_t k = 0; k < n; k++) {
				struct tracked *t = tracked_find(w, ids[k]);

				if (t && t->anchor && tracked_pending(t) &&
				    (!at || t->anchor + w->c->poll_first_ms < at))
					at = t->anchor + w->c->poll_first_ms;
			}
		} else {
			at = next_poll(w, ids, n, now);
		}
		first = false;
		if (deadline_ms && at > deadline_ms)
			at = deadline_ms;
		if (deadline_ms && now >= deadline_ms && polls) {
			struct strbuf sb = STRBUF_INIT;
			size_t k2 = 0;

			for (size_t k = 0; k < n; k++) {
				struct tracked *t = tracked_find(w, ids[k]);

				if (!t || !tracked_pending(t))
					continue;
				if (k2++)
					strbuf_addstr(&sb, ", ");
				describe(&sb, &t->a);
			}
			burst_error_set(err, BURST_EXIT_API,
					"timed out waiting for the cloud: still running: %s",
					sb.buf);
			if (err)
				err->api_code = xstrdup("timeout");
			burst_error_hint(err, "Hetzner is slow right now; try again later");
			strbuf_release(&sb);
			return -1;
		}
		if (at > now && !hc_sleep_ms(at - now, mark))
			return hc_error_interrupted("waiting for the cloud", err);
		if (waiter_poll(w, err) < 0)
			return -1;
		polls++;
		waiter_report(w, progress, data);
	}
}

int hcloud_actions_wait(struct hcloud *c, const int64_t *ids, size_t n,
			uint64_t deadline_ms, hcloud_progress_fn progress, void *data,
			struct burst_error *err)
{
	struct hcloud_waiter *w = hcloud_waiter_new(c);
	int ret;

	ret = hcloud_waiter_wait(w, ids, n, deadline_ms, progress, data, err);
	hcloud_waiter_free(w);
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

static int timed_out(const struct poller *p, const char *what, const char *status,
		     struct burst_error *err)
{
	if (hc_interrupted_since(p->mark)) {
		burst_error_set(err, BURST_EXIT_INTERRUPTED,
				"interrupted while waiting for %s", what);
		return -1;
	}
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
			timed_out(&p, what, s.status, err);
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
			timed_out(&p, what, img.status, err);
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
			timed_out(&p, what, r->volume.status, err);
			break;
		}
	}
	free(what);
	return ret;
}

/*
 * sweep.c - reconciling unfinished intents by name, finding labelled
 * resources of ours that the state forgot (adopt or delete), and `down`.
 *
 * Everything here runs under the provisioning lock: provisioning records a
 * resource before it lets the lock go, so a labelled resource of ours that
 * the state does not know while we hold the lock is truly forgotten (a
 * crash, a lost database), never a create in flight.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/strbuf.h"

#include "reaper-int.h"

/* How long `down` waits for a run that is provisioning. */
#define DOWN_LOCK_TIMEOUT_MS (120 * 1000)

/*
 * Is there a server row a run of arch could use (the newest of that
 * architecture, shards excepted, is ready with an address)?  A run only
 * ever uses a server of its own architecture, so the other's does not
 * count; on an error, say yes (adopting one more as usable is the risk).
 */
static bool usable_current(struct burst_state *st, const char *arch)
{
	struct state_server *v = NULL;
	struct burst_error e = BURST_ERROR_INIT;
	size_t n = 0, pick = SIZE_MAX;
	bool ok;

	if (state_server_list_live(st, &v, &n, &e) < 0) {
		burst_error_release(&e);
		return true;
	}
	/* ordered by id: the last match is the newest, as a run picks it */
	for (size_t i = 0; i < n; i++)
		if (!(v[i].name && !strncmp(v[i].name, STATE_SHARD_NAME_PREFIX,
					    strlen(STATE_SHARD_NAME_PREFIX))) &&
		    !strcmp(state_server_arch(&v[i]), arch))
			pick = i;
	ok = pick != SIZE_MAX && v[pick].status == STATE_SERVER_READY && v[pick].ip &&
		v[pick].hcloud_id;
	state_servers_free(v, n);
	return ok;
}

/*
 * Take a server of ours that the state does not know into the state: as
 * the current server of its architecture when it can be used (its host key
 * is pinned in our known_hosts, its architecture is one a run uses and no
 * other server of that architecture is usable), otherwise as a row that is
 * already `deleting`, so its reaper deletes it at once.
 */
static int adopt_server(struct burst_state *st, const struct burst_config *cfg,
			const struct hcloud_server *s, const char *why, struct burst_error *err)
{
	struct state_server row = { 0 }, known = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	int port = cfg && cfg->ssh_port ? (int)cfg->ssh_port : 22;
	char *pinned = NULL, *kh = NULL;
	const char *arch;
	int64_t now = state_now(), keep = cfg ? cfg->keep_alive_secs :
		config_key_default_int(CONFIG_KEEP_ALIVE_SECS);
	bool alive, usable;
	int found, ret = -1;

	found = state_server_by_hcloud_id(st, s->id, &known, err);
	if (found < 0)
		goto out;
	if (found && known.status != STATE_SERVER_DELETED) {
		ret = 0;
		goto out;
	}
	alive = s->status && (!strcmp(s->status, "running") || !strcmp(s->status, "starting") ||
			      !strcmp(s->status, "initializing"));
	arch = config_server_arch(s->architecture, s->server_type);
	pinned = s->ipv4 ? reaper_pinned_key(st, s->ipv4, port) : NULL;
	usable = alive && pinned && strcmp(arch, "unknown") && !usable_current(st, arch);
	kh = reaper_known_hosts_path(st);
	row.hcloud_id = s->id;
	row.name = s->name;
	row.ip = usable ? s->ipv4 : NULL;
	row.location = s->location;
	row.server_type = s->server_type;
	row.arch = (char *)arch;
	row.image_id = s->image_id;
	row.host_key_pub = usable ? pinned : NULL;
	row.host_key_path = usable ? kh : NULL;
	row.created_at = s->created ? (int64_t)s->created : now;
	row.billing_start = row.created_at;
	row.last_activity = now;
	row.keep_alive_secs = keep;
	row.status = usable ? STATE_SERVER_READY : STATE_SERVER_DELETING;
	/* the deadline is a guess: a reaper of a replaced state may lower it */
	row.adopted = true;
	row.deadline = state_server_deadline(row.created_at, now, keep,
					     cfg ? cfg->billing_hour_hold :
					     config_key_default_int(CONFIG_BILLING_HOUR_HOLD),
					     cfg ? cfg->billing_margin_secs :
					     config_key_default_int(CONFIG_BILLING_MARGIN_SECS));
	if (state_server_insert(st, &row, err) < 0)
		goto out;
	state_event_note(st, "adopted", "server", s->id, s->name, usable ? NULL : "orphaned", why);
	log_info(MOD, "adopted server '%s' (%lld) %s: %s", s->name ? s->name : "?",
		 (long long)s->id, why, usable ? "usable, reaped after its keep-alive" :
		 "not usable (no pinned host key, an unknown architecture or another server "
		 "of its architecture is current): deleting it");
	if (reaper_arm_server(st, row.id, &e) < 0)
		log_warn(MOD, "arming the reaper: %s", e.message);
	burst_error_release(&e);
	ret = 1;
out:
	state_server_release(&known);
	free(pinned);
	free(kh);
	return ret;
}

/*
 * Take a volume of ours into the state as its project's volume when the
 * project has none: 1 adopted, 0 not (known, or the project has another).
 */
static int adopt_volume(struct burst_state *st, const struct burst_config *cfg,
			const struct hcloud_volume *v, const char *why, struct burst_error *err)
{
	struct state_project p = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	const char *project = hcloud_labels_get(&v->labels, "project");
	int found, ret = -1;

	if (!project || !*project) {
		ret = 0;
		goto out;
	}
	found = state_project_get(st, project, &p, err);
	if (found < 0)
		goto out;
	if (found && p.volume_status != STATE_VOLUME_NONE && p.volume_hcloud_id) {
		ret = 0;
		goto out;
	}
	if (state_project_set_volume(st, project, v->id, v->name, v->location, v->size, err) < 0)
		goto out;
	if (state_project_touch(st, project, state_now(),
				cfg ? cfg->volume_keep_alive_secs :
				config_key_default_int(CONFIG_VOLUME_KEEP_ALIVE_SECS), err) < 0)
		goto out;
	if (state_volume_mark_adopted(st, project, err) < 0)
		goto out;
	state_event_note(st, "adopted", "volume", v->id, v->name, NULL, why);
	log_info(MOD, "adopted volume '%s' (%lld) of project %s %s", v->name ? v->name : "?",
		 (long long)v->id, project, why);
	if (reaper_arm_volume(st, project, &e) < 0)
		log_warn(MOD, "arming the reaper: %s", e.message);
	burst_error_release(&e);
	ret = 1;
out:
	state_project_release(&p);
	return ret;
}

/*
 * What the unfinished create of intent in (a server, volume or ssh key)
 * made, looked up by its name: *id is its id, or 0 when there is none (or
 * more than one, or a server or volume that is not ours).  A server or
 * volume found is adopted (its reaper armed).  0, or -1 with err.
 */
static int intent_created(struct hcloud *api, struct burst_state *st,
			  const struct burst_config *cfg, const struct state_intent *in,
			  int64_t *id, struct burst_error *err)
{
	static const char why[] = "from an unfinished create";
	struct hcloud_servers sl = { 0 };
	struct hcloud_volumes vl = { 0 };
	struct hcloud_ssh_keys kl = { 0 };
	const struct hcloud_labels *labels = NULL; /* a server's or a volume's */
	int lrc;

	*id = 0;
	if (in->kind == STATE_INTENT_SERVER) {
		lrc = hcloud_servers_list(api, in->name, NULL, &sl, err);
		if (lrc == 0 && sl.nr == 1)
			labels = &sl.v[0].labels;
	} else if (in->kind == STATE_INTENT_VOLUME) {
		lrc = hcloud_volumes_list(api, in->name, NULL, &vl, err);
		if (lrc == 0 && vl.nr == 1)
			labels = &vl.v[0].labels;
	} else {
		lrc = hcloud_ssh_keys_list(api, NULL, in->name, &kl, err);
		if (lrc == 0 && kl.nr == 1)
			*id = kl.v[0].id;
	}
	/* one adoption for both kinds, of ours only */
	if (labels && reaper_labels_ours(labels, state_owner_id(st))) {
		bool server = in->kind == STATE_INTENT_SERVER;

		*id = server ? sl.v[0].id : vl.v[0].id;
		if ((server ? adopt_server(st, cfg, &sl.v[0], why, err) :
			      adopt_volume(st, cfg, &vl.v[0], why, err)) < 0)
			lrc = -1;
	}
	hcloud_servers_release(&sl);
	hcloud_volumes_release(&vl);
	hcloud_ssh_keys_release(&kl);
	return lrc < 0 ? -1 : 0;
}

/* Lock for a sweep; 1 held, 0 busy (skip), -1 error. */
static int lock_quick(struct burst_state *st, int timeout_ms, struct burst_error *err)
{
	int rc = state_lock_provision(st, timeout_ms, err);

	if (rc == STATE_LOCK_TIMEOUT) {
		burst_error_release(err);
		return 0;
	}
	return rc < 0 ? -1 : 1;
}

int reaper_reconcile_intents(struct hcloud *api, struct burst_state *st,
			     const struct burst_config *cfg, struct burst_error *err)
{
	struct state_intent *v = NULL;
	size_t n = 0;
	int64_t now = state_now();
	bool any = false, locked = false;
	int ret = -1, rc;

	if (state_intents_pending(st, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (v[i].kind != STATE_INTENT_IMAGE)
			any = true;
	if (!any || !api) {
		ret = 0;
		goto out;
	}
	rc = lock_quick(st, 0, err);
	if (rc <= 0) {
		ret = rc;
		goto out;
	}
	locked = true;
	for (size_t i = 0; i < n; i++) {
		struct state_intent *in = &v[i];
		int64_t id = 0;

		if (in->kind == STATE_INTENT_IMAGE)
			continue; /* images belong to `image build` */
		if (intent_created(api, st, cfg, in, &id, err) < 0)
			goto out;
		if (id) {
			log_info(MOD, "unfinished create of %s '%s' did happen (%lld)",
				 state_intent_kind_name(in->kind), in->name, (long long)id);
			if (state_intent_done(st, in->id, id, err) < 0)
				goto out;
		} else if (now - in->created_at >= REAPER_INTENT_GRACE_SECS) {
			log_info(MOD, "unfinished create of %s '%s' never happened",
				 state_intent_kind_name(in->kind), in->name);
			if (state_intent_failed(st, in->id, "not found in the API", err) < 0)
				goto out;
		}
	}
	ret = 0;
out:
	if (locked)
		state_unlock_provision(st);
	state_intents_free(v, n);
	return ret;
}

static char *selector(struct burst_state *st, const char *role)
{
	return xstrfmt("managed-by==cargo-burst,owner==%s,role==%s", state_owner_id(st), role);
}

/*
 * Is s a server of ours, not being deleted, that the state does not know
 * (or knows as deleted)?  1 yes, 0 no, -1 error.
 */
static int forgotten_server(struct burst_state *st, const struct hcloud_server *s,
			    struct burst_error *err)
{
	struct state_server known = { 0 };
	int found;

	/* the selector asked for ours; check again, never trust a filter */
	if (!reaper_labels_ours(&s->labels, state_owner_id(st)))
		return 0;
	if (s->status && !strcmp(s->status, "deleting"))
		return 0;
	found = state_server_by_hcloud_id(st, s->id, &known, err);
	state_server_release(&known);
	if (found < 0)
		return -1;
	return !found || known.status == STATE_SERVER_DELETED;
}

/* Internal: a sweep that leaves forgotten volumes alone (`down` without the flag). */
#define SWEEP_NO_VOLUMES 0x100

static int sweep(struct hcloud *api, struct burst_state *st, const struct burst_config *cfg,
		 unsigned flags, struct reaper_sweep_result *res, struct strbuf *report,
		 struct burst_error *err)
{
	struct reaper_ops o;
	struct hcloud_servers sl = { 0 };
	struct hcloud_volumes vl = { 0 };
	char *sel = NULL;
	int64_t now = state_now();
	int ret = -1;

	memset(&o, 0, sizeof(o));
	o.st = st;
	o.api = api;
	o.cfg = cfg;
	o.owner = state_owner_id(st);
	o.reason = "orphaned";
	o.report = report;
	sel = selector(st, "server");
	if (hcloud_servers_list(api, NULL, sel, &sl, err) < 0)
		goto out;
	for (size_t i = 0; i < sl.nr; i++) {
		const struct hcloud_server *s = &sl.v[i];
		bool gone;
		int rc = forgotten_server(st, s, err);

		if (rc < 0)
			goto out;
		if (!rc)
			continue;
		if (flags & REAPER_SWEEP_DELETE_NOW) {
			if (reaper_delete_server(&o, s->id, &gone, err) < 0)
				goto out;
			reaper_record_server_gone(&o, 0, s->id, s->name, s->ipv4);
			res->servers_deleted++;
		} else if (flags & REAPER_SWEEP_ADOPT) {
			if (adopt_server(st, cfg, s, "found by label", err) < 0)
				goto out;
			res->servers_adopted++;
		} else {
			res->skipped++;
		}
	}
	/*
	 * Extra servers of `test --shards` (role=shard) that the state does
	 * not know are never adopted: deleted once past the grace period
	 * (their run may still be recording them), at once by `down`.
	 */
	free(sel);
	sel = selector(st, "shard");
	hcloud_servers_release(&sl);
	memset(&sl, 0, sizeof(sl));
	if (hcloud_servers_list(api, NULL, sel, &sl, err) < 0)
		goto out;
	for (size_t i = 0; i < sl.nr; i++) {
		const struct hcloud_server *s = &sl.v[i];
		bool gone;
		int rc = forgotten_server(st, s, err);

		if (rc < 0)
			goto out;
		if (!rc)
			continue;
		if (!(flags & REAPER_SWEEP_DELETE_NOW) &&
		    !(s->created && now - (int64_t)s->created >= REAPER_ORPHAN_GRACE_SECS)) {
			res->skipped++;
			continue;
		}
		if (reaper_delete_server(&o, s->id, &gone, err) < 0)
			goto out;
		reaper_record_server_gone(&o, 0, s->id, s->name, s->ipv4);
		res->servers_deleted++;
	}
	free(sel);
	sel = selector(st, "volume");
	if (hcloud_volumes_list(api, NULL, sel, &vl, err) < 0)
		goto out;
	for (size_t i = 0; i < vl.nr; i++) {
		const struct hcloud_volume *v = &vl.v[i];
		const char *project = hcloud_labels_get(&v->labels, "project");
		struct state_project p = { 0 };
		bool gone, known;
		int found, rc;

		if (!reaper_labels_ours(&v->labels, o.owner))
			continue;
		found = project ? state_project_get(st, project, &p, err) : 0;
		known = found == 1 && p.volume_hcloud_id == v->id &&
			p.volume_status != STATE_VOLUME_NONE;
		state_project_release(&p);
		if (found < 0)
			goto out;
		if (known || (flags & SWEEP_NO_VOLUMES))
			continue;
		if (flags & REAPER_SWEEP_ADOPT) {
			rc = adopt_volume(st, cfg, v, "found by label", err);
			if (rc < 0)
				goto out;
			if (rc > 0) {
				res->volumes_adopted++;
				continue;
			}
		}
		if ((flags & REAPER_SWEEP_DELETE_NOW) ||
		    (!v->server && v->created && now - (int64_t)v->created >=
		     REAPER_ORPHAN_GRACE_SECS)) {
			if (reaper_delete_volume(&o, v->id, &gone, err) < 0)
				goto out;
			reaper_record_volume_gone(&o, v->id, v->name, v->size);
			res->volumes_deleted++;
		} else {
			res->skipped++;
		}
	}
	ret = 0;
out:
	free(sel);
	hcloud_servers_release(&sl);
	hcloud_volumes_release(&vl);
	return ret;
}

int reaper_sweep(struct hcloud *api, struct burst_state *st, const struct burst_config *cfg,
		 unsigned flags, struct reaper_sweep_result *res, struct strbuf *report,
		 struct burst_error *err)
{
	struct reaper_sweep_result dummy;
	int rc, ret;

	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	rc = lock_quick(st, flags & REAPER_SWEEP_DELETE_NOW ? DOWN_LOCK_TIMEOUT_MS : 0, err);
	if (rc <= 0)
		return rc;
	ret = sweep(api, st, cfg, flags, res, report, err);
	/* everything the labels say is ours is in the state now */
	if (!ret && (flags & REAPER_SWEEP_ADOPT) && state_needs_adoption(st))
		ret = state_adoption_done(st, err);
	state_unlock_provision(st);
	return ret;
}

/* ---- down -------------------------------------------------------------- */

/*
 * Hold the reaper slot of (kind, resource) for this process: a live reaper
 * is stopped first (SIGTERM, then up to 5 s), so it cannot race the delete.
 */
static void take_slot(struct burst_state *st, const char *kind, const char *res)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct state_reaper r = { 0 };
	bool claimed = false;

	if (state_reaper_claim(st, kind, res, 0, NULL, &claimed, &e) == 0 && !claimed &&
	    state_reaper_get(st, kind, res, &r, &e) == 1) {
		kill(r.pid, SIGTERM);
		for (int i = 0; i < 50 && state_pid_alive(r.pid, r.pid_start); i++) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		state_reaper_claim(st, kind, res, 0, NULL, &claimed, &e);
	}
	burst_error_release(&e);
	state_reaper_release(&r);
}

/* Delete a server or volume on the endpoint it was recorded with. */
static int delete_on(struct reaper_ops *o, const char *endpoint, int64_t id, bool server,
		     bool *gone, struct burst_error *err)
{
	struct reaper_ops on = *o;
	struct hcloud *own = NULL;
	int ret;

	on.api = reaper_api_for(o->api, o->cfg, endpoint, &own, err);
	if (!on.api)
		return -1;
	ret = server ? reaper_delete_server(&on, id, gone, err) :
		reaper_delete_volume(&on, id, gone, err);
	hcloud_free(own);
	return ret;
}

static int down_server(struct reaper_ops *o, const struct state_server *row, unsigned flags,
		       int *deleted, struct burst_error *err)
{
	struct state_delete_decision d;
	char res[32];
	bool gone = false;
	unsigned dflags = STATE_DELETE_IGNORE_DEADLINE;

	if (flags & REAPER_DOWN_FORCE)
		dflags |= STATE_DELETE_IGNORE_LEASES;
	snprintf(res, sizeof(res), "%lld", (long long)row->id);
	if (state_server_try_begin_delete(o->st, row->id, state_now(), dflags, &d, err) < 0)
		return -1;
	if (d.reason == STATE_KEEP_LEASED) {
		burst_error_set(err, BURST_EXIT_STATE, "server '%s' is in use by %lld run(s)",
				row->name ? row->name : res, (long long)d.live_leases);
		burst_error_hint(err, "wait for them to finish, or use `cargo burst down --force`");
		return -1;
	}
	if (d.reason != STATE_DELETE_NOW && row->status != STATE_SERVER_DELETING)
		return 0;
	take_slot(o->st, "server", res);
	if (row->hcloud_id && delete_on(o, row->endpoint, row->hcloud_id, true, &gone, err) < 0)
		return -1;
	if (gone || !row->hcloud_id) {
		o->reason = "stale";
		if (o->report)
			strbuf_addf(o->report, "Forgot server '%s' (%lld): it no longer existed\n",
				    row->name ? row->name : "?", (long long)row->hcloud_id);
	} else {
		(*deleted)++;
	}
	reaper_record_server_gone(o, row->id, row->hcloud_id, row->name, row->ip);
	o->reason = "down";
	state_reaper_remove(o->st, "server", res, true, err);
	burst_error_release(err);
	return 0;
}

static int down_volume(struct reaper_ops *o, const struct state_project *p, unsigned flags,
		       int *deleted, struct burst_error *err)
{
	struct state_delete_decision d;
	bool gone = false;
	unsigned dflags = STATE_DELETE_IGNORE_DEADLINE;

	if (p->volume_status == STATE_VOLUME_NONE || !p->volume_hcloud_id)
		return 0;
	if (flags & REAPER_DOWN_FORCE)
		dflags |= STATE_DELETE_IGNORE_LEASES;
	if (state_volume_try_begin_delete(o->st, p->id, state_now(), dflags, &d, err) < 0)
		return -1;
	if (d.reason == STATE_KEEP_LEASED) {
		burst_error_set(err, BURST_EXIT_STATE, "the volume of '%s' is in use by a run",
				p->name ? p->name : p->id);
		burst_error_hint(err, "wait for it to finish, or use `cargo burst down --force`");
		return -1;
	}
	if (d.reason != STATE_DELETE_NOW && p->volume_status != STATE_VOLUME_DELETING)
		return 0;
	take_slot(o->st, "volume", p->id);
	if (delete_on(o, p->volume_endpoint, p->volume_hcloud_id, false, &gone, err) < 0)
		return -1;
	if (gone) {
		o->reason = "stale";
		if (o->report)
			strbuf_addf(o->report, "Forgot volume '%s' (%lld): it no longer existed\n",
				    p->volume_name ? p->volume_name : "?",
				    (long long)p->volume_hcloud_id);
	} else {
		(*deleted)++;
	}
	reaper_record_volume_gone(o, p->volume_hcloud_id, p->volume_name, p->size_gb);
	o->reason = "down";
	if (state_project_clear_volume(o->st, p->id, err) < 0)
		return -1;
	state_reaper_remove(o->st, "volume", p->id, true, err);
	burst_error_release(err);
	return 0;
}

int reaper_down(struct burst_state *st, struct hcloud *api, const struct burst_config *cfg,
		unsigned flags, struct strbuf *report, int *deleted, struct burst_error *err)
{
	struct reaper_ops o;
	struct reaper_sweep_result res;
	struct state_server *servers = NULL;
	struct state_project *projects = NULL;
	size_t ns = 0, np = 0;
	int rc, ret = -1;
	bool locked = false;

	*deleted = 0;
	memset(&o, 0, sizeof(o));
	o.st = st;
	o.api = api;
	o.cfg = cfg;
	o.owner = state_owner_id(st);
	o.reason = "down";
	o.report = report;
	rc = state_lock_provision(st, DOWN_LOCK_TIMEOUT_MS, err);
	if (rc != 0)
		return -1;
	locked = true;
	if (reaper_reconcile_intents(api, st, cfg, err) < 0)
		goto out;
	if (state_server_list_live(st, &servers, &ns, err) < 0)
		goto out;
	for (size_t i = 0; i < ns; i++)
		if (down_server(&o, &servers[i], flags, deleted, err) < 0)
			goto out;
	if (flags & REAPER_DOWN_VOLUMES) {
		if (state_project_list(st, &projects, &np, err) < 0)
			goto out;
		for (size_t i = 0; i < np; i++)
			if (down_volume(&o, &projects[i], flags, deleted, err) < 0)
				goto out;
	}
	memset(&res, 0, sizeof(res));
	if (sweep(api, st, cfg, REAPER_SWEEP_DELETE_NOW |
		  (flags & REAPER_DOWN_VOLUMES ? 0 : SWEEP_NO_VOLUMES), &res, report, err) < 0)
		goto out;
	*deleted += res.servers_deleted + res.volumes_deleted;
	ret = 0;
out:
	if (locked)
		state_unlock_provision(st);
	state_servers_free(servers, ns);
	state_projects_free(projects, np);
	return ret;
}

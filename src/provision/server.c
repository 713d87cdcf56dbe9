/*
 * server.c - one server lifecycle for every create (the cold path, the
 * extra servers of --shards, the bake): cost guard, intent row, POST with
 * location fallback, recovery of a lost reply or a taken name, the state
 * row, the wait until running; and one way to delete a server now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/proc.h"
#include "burst/provision.h"
#include "burst/reaper.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

#define MOD "provision"
/* How long a create may wait for another process that is provisioning. */
#define GUARD_LOCK_TIMEOUT_MS (15 * 60 * 1000)
/* How often a taken name is replaced by another before giving up. */
#define MAX_RENAMES 3

bool provision_sold_out(const struct burst_error *err)
{
	return err->api_code && (!strcmp(err->api_code, "resource_unavailable") ||
				 !strcmp(err->api_code, "placement_error") ||
				 !strcmp(err->api_code, "no_space_left_in_location"));
}

/*
 * Does this create error say "not here: try the next location"?  The one
 * place that decides the location fallback (sold out today; a server type
 * deprecated in a location plugs in here).
 */
static bool location_unusable(const struct burst_error *err)
{
	return provision_sold_out(err);
}

bool provision_is_ours(const struct hcloud_labels *l, const char *owner_id,
		       const char *role)
{
	const char *managed = hcloud_labels_get(l, "managed-by");
	const char *owner = hcloud_labels_get(l, "owner");
	const char *r = hcloud_labels_get(l, "role");

	if (!managed || strcmp(managed, "cargo-burst") || !owner || !owner_id ||
	    strcmp(owner, owner_id))
		return false;
	return !role || (r && !strcmp(r, role));
}

void provision_created_release(struct provision_created *c)
{
	if (!c)
		return;
	hcloud_server_created_release(&c->sc);
	free(c->name);
	free(c->location);
	memset(c, 0, sizeof(*c));
}

/* ---- the cost guard ------------------------------------------------------ */

static bool is_shard(const struct state_server *s)
{
	return s->name && !strncmp(s->name, STATE_SHARD_NAME_PREFIX,
				   strlen(STATE_SHARD_NAME_PREFIX));
}

int provision_server_guard(struct burst_state *st, int64_t limit, bool count_shards,
			   struct burst_error *err)
{
	struct state_server *v = NULL;
	struct strbuf list = STRBUF_INIT;
	size_t n = 0;
	int64_t up = 0;
	int ret = -1;

	if (limit <= 0)
		return 0;
	if (state_server_list_live(st, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct state_server *s = &v[i];
		char since[48];

		if (s->status != STATE_SERVER_PROVISIONING && s->status != STATE_SERVER_READY)
			continue;
		if (!count_shards && is_shard(s))
			continue;
		up++;
		ui_local_time(since, sizeof(since), s->created_at, true);
		strbuf_addf(&list, "%s'%s' (%s, up since %s)", list.len ? ", " : "",
			    s->name ? s->name : "?", s->location ? s->location : "?", since);
	}
	if (up < limit) {
		ret = 0;
		goto out;
	}
	burst_error_set(err, BURST_EXIT_CONFIG,
			"refusing to create another server: %lld server%s of ours %s up "
			"and max_servers allows %lld: %s", (long long)up, up == 1 ? "" : "s",
			up == 1 ? "is" : "are", (long long)limit, list.buf);
	burst_error_hint(err, "`cargo burst down` deletes %s (or wait for %s reaper); "
			 "raise max_servers in the config to allow more at once",
			 up == 1 ? "it" : "them", up == 1 ? "its" : "their");
out:
	state_servers_free(v, n);
	strbuf_release(&list);
	return ret;
}

/* ---- the create ----------------------------------------------------------- */

/*
 * A create refused because the name is taken: by our own labelled server
 * that the state does not know, which is this create whose reply was lost
 * and whose resend was refused (0: sc filled as a recovered create), or by
 * anything else (1; also when the lookup fails).
 */
static int adopt_by_name(const struct provision_create *c, const char *name,
			 struct hcloud_server_created *sc)
{
	struct hcloud_servers l = { 0 };
	struct state_server known = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	int ret = 1;

	if (hcloud_servers_list(c->api, name, NULL, &l, &e) < 0) {
		log_debug(MOD, "looking up server '%s': %s", name, e.message);
		goto out;
	}
	if (!l.nr || !l.v[0].name || strcmp(l.v[0].name, name) ||
	    !provision_is_ours(&l.v[0].labels, c->owner_id, c->role))
		goto out;
	if (state_server_by_hcloud_id(c->state, l.v[0].id, &known, &e) != 0)
		goto out;
	hcloud_server_created_release(sc);
	sc->server = l.v[0];
	memset(&l.v[0], 0, sizeof(l.v[0]));
	sc->recovered = true;
	sc->start = !c->so->no_start;
	ret = 0;
out:
	hcloud_servers_release(&l);
	state_server_release(&known);
	burst_error_release(&e);
	return ret;
}

static void announce(const struct provision_create *c, const char *location)
{
	if (c->announce)
		c->announce(c->data, location);
	else if (c->quiet)
		log_debug(MOD, "creating server '%s' (%s) in %s", c->so->name,
			  c->so->server_type, location);
	else
		ui_status("Provisioning", "%s in %s", c->so->server_type, location);
}

int provision_server_create(const struct provision_create *c, struct provision_created *out,
			    struct burst_error *err)
{
	struct strvec usable = STRVEC_INIT;
	const struct strvec *order = &usable;
	struct burst_error ignore = BURST_ERROR_INIT;
	char *labels_json = NULL, *name = xstrdup(c->so->name);
	int64_t intent = 0;
	bool locked = false, made = false;
	int renames = 0, ret = -1;

	memset(out, 0, sizeof(*out));
	if (!c->locations || !c->locations->nr) {
		burst_error_set(err, BURST_EXIT_CONFIG, "no location to create the server in");
		burst_error_hint(err, "set [hetzner] regions in the config");
		goto out;
	}
	if (c->limit > 0) {
		if (state_lock_provision(c->state, GUARD_LOCK_TIMEOUT_MS, err) != 0)
			goto out;
		locked = true;
		if (provision_server_guard(c->state, c->limit, c->count_shards, err) < 0)
			goto out;
	}
	/* locations where the type is deprecated or not offered are skipped */
	strvec_pushn(&usable, c->locations->v, c->locations->nr);
	if (provision_usable_locations(c->api, c->so->server_type, &usable, err) < 0)
		goto out;
	labels_json = provision_labels_json(c->so->labels);
	for (size_t i = 0; i < order->nr;) {
		/* a Ctrl-C during the lookups before: create nothing */
		if (proc_interrupted()) {
			burst_error_set(err, BURST_EXIT_INTERRUPTED,
					"interrupted before creating server '%s'", name);
			goto out;
		}
		c->so->name = name;
		c->so->location = order->v[i];
		if (c->prepare)
			c->prepare(c->data, c->so);
		announce(c, order->v[i]);
		if (state_intent_begin(c->state, STATE_INTENT_SERVER, name, labels_json,
				       &intent, err) < 0)
			goto out;
		if (hcloud_server_create(c->api, c->so, &out->sc, err) == 0) {
			state_intent_done(c->state, intent, out->sc.server.id, &ignore);
			burst_error_release(&ignore);
			made = true;
			break;
		}
		state_intent_failed(c->state, intent, err->message, &ignore);
		burst_error_release(&ignore);
		hcloud_server_created_release(&out->sc);
		if (c->refused) {
			int r = c->refused(c->data, c->so, err);

			if (r < 0)
				goto out;
			if (r > 0) {
				burst_error_release(err);
				continue;
			}
		}
		if (err->api_code && !strcmp(err->api_code, "uniqueness_error") &&
		    renames < MAX_RENAMES) {
			if (!adopt_by_name(c, name, &out->sc)) {
				/* ours after all (a reply lost, the request resent) */
				log_debug(MOD, "server '%s' adopted: %s", name, err->message);
				burst_error_release(err);
				state_intent_done(c->state, intent, out->sc.server.id, &ignore);
				burst_error_release(&ignore);
				made = true;
				break;
			}
			if (!c->rename)
				goto out;
			/* a server of a run in the same second has this name */
			log_debug(MOD, "server name '%s' taken: %s", name, err->message);
			burst_error_release(err);
			renames++;
			{
				char *base = provision_server_name(c->owner_id, state_now());

				free(name);
				name = xstrfmt("%s-%d", base, renames + 1);
				free(base);
			}
			continue;
		}
		if (!location_unusable(err) || i + 1 == order->nr) {
			if (location_unusable(err) && c->sold_out_hint)
				burst_error_hint(err, "%s", c->sold_out_hint);
			goto out;
		}
		if (c->quiet)
			log_debug(MOD, "%s: sold out in %s, trying %s", name, order->v[i],
				  order->v[i + 1]);
		else
			ui_info("Sold out", "%s is not available in %s; trying %s",
				c->so->server_type, order->v[i], order->v[i + 1]);
		burst_error_release(err);
		i++;
	}
	if (!made)
		goto out;
	out->posted_ms = burst_now_ms();
	out->name = xstrdup(out->sc.server.name ? out->sc.server.name : name);
	out->location = xstrdup(out->sc.server.location ? out->sc.server.location
							 : c->so->location);
	if (!out->sc.server.ipv4) {
		burst_error_set(err, BURST_EXIT_API, out->sc.server.ipv4_invalid
				? "the API returned an invalid address for server '%s'"
				: "server '%s' has no public IPv4 address", out->name);
		/* unreachable for good: delete it now rather than leave it unwatched */
		if (provision_server_discard(c->api, c->state, 0, out->sc.server.id, out->name,
					     strcmp(c->role, "bake") ? "server" : "bake",
					     "no usable address", &ignore) < 0) {
			burst_error_hint(err, "it could not be deleted (%s): delete it with "
					 "`cargo burst down`", ignore.message);
			burst_error_release(&ignore);
		} else {
			burst_error_hint(err, "the server was deleted; if this repeats, the "
					 "API is misbehaving: try again later");
			out->sc.server.id = 0;
		}
		goto out;
	}
	if (c->row) {
		c->row->hcloud_id = out->sc.server.id;
		c->row->name = out->name;
		c->row->ip = out->sc.server.ipv4;
		c->row->location = out->location;
		if (!c->row->server_type)
			c->row->server_type = (char *)c->so->server_type;
		/* the API's word on the architecture; the type's only without one */
		c->row->arch = (char *)config_server_arch(out->sc.server.architecture,
							  c->row->server_type);
		if (state_server_insert(c->state, c->row, err) < 0)
			goto out;
		out->row_id = c->row->id;
	}
	if (locked) {
		state_unlock_provision(c->state);
		locked = false;
	}
	if (c->wait_ms &&
	    hcloud_server_wait_created(c->api, &out->sc, burst_now_ms() + c->wait_ms,
				       c->progress, c->progress_data, err) < 0) {
		burst_error_prefix(err, "starting server '%s'", out->name);
		goto out;
	}
	ret = 0;
out:
	if (locked)
		state_unlock_provision(c->state);
	c->so->name = NULL;
	c->so->location = NULL;
	burst_error_release(&ignore);
	strvec_clear(&usable);
	free(labels_json);
	free(name);
	return ret;
}

/* ---- deleting now ---------------------------------------------------------- */

int provision_server_discard(struct hcloud *api, struct burst_state *st, int64_t row_id,
			     int64_t hcloud_id, const char *name, const char *rkind,
			     const char *reason, struct burst_error *err)
{
	struct burst_error e = BURST_ERROR_INIT;

	if (reaper_delete_server_now(st, api, NULL, reason, hcloud_id, err) < 0) {
		burst_error_prefix(err, "deleting server '%s'", name ? name : "?");
		return -1;
	}
	if (row_id && state_server_set_status(st, row_id, STATE_SERVER_DELETED, &e) < 0)
		log_warn(MOD, "marking server '%s' deleted: %s", name ? name : "?", e.message);
	burst_error_release(&e);
	state_event_note(st, "terminated", rkind, hcloud_id, name, reason, NULL);
	return 0;
}

/*
 * calls.c - the endpoints of the Hetzner Cloud API that cargo-burst uses.
 */
#include <stdlib.h>
#include <string.h>

#include "burst/log.h"
#include "hcloud-internal.h"

/* ---- small helpers ---------------------------------------------------- */

/* Append "&key=<encoded value>" (or "?" first) to a query being built. */
static void add_query(struct strbuf *path, const char *key, const char *value)
{
	char *enc;

	if (!value)
		return;
	enc = hcloud_url_encode(value);
	strbuf_addf(path, "%c%s=%s", strchr(path->buf, '?') ? '&' : '?', key, enc);
	free(enc);
}

/* ---- the resources: one descriptor a kind -------------------------------- */

/*
 * The decoders of one kind, for the table: decode_K() releases and decodes
 * one K, collect_K() appends one to a struct hcloud_Ks (hc_list's callback).
 */
#define RESOURCE_FNS(name)                                                 \
	static void decode_##name(const cJSON *j, void *out)                   \
	{                                                                      \
		hcloud_##name##_release(out);                                      \
		hc_decode_##name(j, out);                                          \
	}                                                                      \
	static int collect_##name(const cJSON *item, void *data)               \
	{                                                                      \
		struct hcloud_##name##s *l = data;                                 \
                                                                               \
		ALLOC_GROW(l->v, l->nr + 1, l->alloc);                             \
		memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));                     \
		hc_decode_##name(item, &l->v[l->nr++]);                            \
		return 0;                                                          \
	}

RESOURCE_FNS(server)
RESOURCE_FNS(volume)
RESOURCE_FNS(image)
RESOURCE_FNS(ssh_key)
RESOURCE_FNS(action)
RESOURCE_FNS(server_type)
RESOURCE_FNS(location)
RESOURCE_FNS(datacenter)

enum resource_kind {
	RES_SERVER,
	RES_VOLUME,
	RES_IMAGE,
	RES_SSH_KEY,
	RES_ACTION,
	RES_SERVER_TYPE,
	RES_LOCATION,
	RES_DATACENTER,
};

/* Where a kind lives, its JSON keys, its words in messages, its decoders. */
struct resource {
	const char *path;     /* "/ssh_keys"; one is at "<path>/<id>" */
	const char *key;      /* the object of a get or create: "ssh_key" */
	const char *list_key; /* the array of a list: "ssh_keys" */
	const char *noun;     /* "ssh key" ("getting ssh key 7") */
	const char *nouns;    /* "ssh keys" ("listing ssh keys") */
	void (*decode)(const cJSON *j, void *out);
	int (*collect)(const cJSON *item, void *list);
};

#define RESOURCE(kind, name, key, noun)                                        \
	[kind] = { "/" key "s", key, key "s", noun, noun "s", decode_##name, collect_##name }

static const struct resource resources[] = {
	RESOURCE(RES_SERVER, server, "server", "server"),
	RESOURCE(RES_VOLUME, volume, "volume", "volume"),
	RESOURCE(RES_IMAGE, image, "image", "image"),
	RESOURCE(RES_SSH_KEY, ssh_key, "ssh_key", "ssh key"),
	RESOURCE(RES_ACTION, action, "action", "action"),
	RESOURCE(RES_SERVER_TYPE, server_type, "server_type", "server type"),
	RESOURCE(RES_LOCATION, location, "location", "location"),
	RESOURCE(RES_DATACENTER, datacenter, "datacenter", "datacenter"),
};

/* GET/PUT/POST returning {"<key>": {...}}; *obj points into resp->json. */
static int request_object(struct hcloud *c, const char *method, const char *path,
			  const char *body, const char *key, const char *what,
			  struct hc_response *resp, const cJSON **obj,
			  struct burst_error *err)
{
	if (hc_request(c, method, path, body, 0, what, resp, NULL, err) < 0)
		return -1;
	*obj = cJSON_GetObjectItemCaseSensitive(resp->json, key);
	if (!cJSON_IsObject(*obj)) {
		hc_response_release(resp);
		return burst_error_set(err, BURST_EXIT_API,
				       "%s: the API response has no '%s' object", what, key);
	}
	return 0;
}

/* POST an action endpoint and decode {"action": {...}} into action (may be NULL). */
static int post_action(struct hcloud *c, const char *path, const char *body,
		       const char *what, struct hcloud_action *action,
		       struct burst_error *err)
{
	struct hc_response r;
	const cJSON *obj;

	if (request_object(c, "POST", path, body, "action", what, &r, &obj, err) < 0)
		return -1;
	if (action) {
		hcloud_action_release(action);
		hc_decode_action(obj, action);
	}
	hc_response_release(&r);
	return 0;
}

struct find_action {
	const char *command;
	struct hcloud_action *out;
	bool found;
};

static int match_action(const cJSON *item, void *data)
{
	struct find_action *f = data;
	const char *cmd = hc_str(item, "command");

	if (!f->found && cmd && !strcmp(cmd, f->command)) {
		hc_decode_action(item, f->out);
		f->found = true;
	}
	return 0;
}

/*
 * After an ambiguous POST of an action: is an action `command` running on
 * /<kind>s/<id>?  1 = yes (in *out), 0 = no, -1 = error.
 */
static int running_action(struct hcloud *c, const char *kind, int64_t id,
			  const char *command, struct hcloud_action *out,
			  struct burst_error *err)
{
	char *path = xstrfmt("/%ss/%lld/actions?status=running", kind, (long long)id);
	char *what = xstrfmt("checking the actions of %s %lld", kind, (long long)id);
	struct find_action f = { command, out, false };
	int ret = hc_list(c, path, "actions", match_action, &f, what, err);

	free(what);
	free(path);
	return ret < 0 ? -1 : f.found;
}

/*
 * POST a volume action that must not be sent twice blindly: after a lost
 * reply, return the running action if there is one, success (action id 0)
 * if the volume already is where we want it, and only otherwise resend.
 */
static int volume_action_once(struct hcloud *c, int64_t id, const char *name,
			      const char *command, const char *body, int64_t want_server,
			      const char *what, struct hcloud_action *action,
			      struct burst_error *err)
{
	char *path = xstrfmt("/volumes/%lld/actions/%s", (long long)id, name);
	struct hcloud_action tmp_action = { 0 };
	struct hcloud_action *a = action ? action : &tmp_action;
	int ret = -1;

	for (unsigned n = 0; n < 3; n++) {
		struct hc_response r;
		struct hcloud_volume v = { 0 };
		bool ambiguous = false;
		const cJSON *obj;
		int found;

		if (hc_request(c, "POST", path, body, HC_NO_RETRY_AMBIGUOUS, what, &r,
			       &ambiguous, err) == 0) {
			obj = cJSON_GetObjectItemCaseSensitive(r.json, "action");
			hcloud_action_release(a);
			hc_decode_action(obj, a);
			hc_response_release(&r);
			ret = 0;
			break;
		}
		if (!ambiguous)
			break;
		log_debug("hcloud", "%s: %s; checking before resending", what,
			  err && err->message ? err->message : "no reply");
		hcloud_action_release(a);
		found = running_action(c, "volume", id, command, a, err);
		if (found) {
			ret = found > 0 ? 0 : -1;
			break;
		}
		if (hcloud_volume_get(c, id, &v, err) < 0)
			break;
		if (v.server == want_server) {
			hcloud_volume_release(&v);
			ret = 0; /* done already: a->id stays 0 */
			break;
		}
		hcloud_volume_release(&v);
	}
	if (!ret)
		burst_error_release(err);
	hcloud_action_release(&tmp_action);
	free(path);
	return ret;
}

/*
 * POST a create without ever making two: after an ambiguous failure (lost
 * reply, timeout, 5xx) or a uniqueness_error on a resend, look the resource
 * up by name.  On success either *created holds the response JSON or *found
 * a copy of the existing object.
 */
static int create_once(struct hcloud *c, const char *path, const char *list_key,
		       const char *name, const char *body, const char *what,
		       cJSON **created, cJSON **found, struct burst_error *err)
{
	struct burst_error tmp = BURST_ERROR_INIT;
	uint64_t start = burst_now_ms(), backoff = c->retry.base_ms;
	bool sent_before = false;
	int ret = -1;

	*created = *found = NULL;
	for (unsigned n = 0; n < c->retry.max_attempts; n++) {
		struct hc_response r;
		struct hc_response lr;
		struct strbuf q = STRBUF_INIT;
		bool ambiguous = false, lookup;
		const cJSON *arr, *it;
		char *lwhat;

		if (hc_request(c, "POST", path, body, HC_NO_RETRY_AMBIGUOUS, what, &r,
			       &ambiguous, &tmp) == 0) {
			*created = r.json;
			ret = 0;
			goto out;
		}
		lookup = ambiguous || (sent_before && tmp.api_code &&
				       !strcmp(tmp.api_code, "uniqueness_error"));
		if (!lookup)
			goto out;
		sent_before = true;
		log_debug("hcloud", "%s: %s; looking it up by name before resending", what,
			  tmp.message);
		strbuf_addstr(&q, path);
		add_query(&q, "name", name);
		lwhat = xstrfmt("%s: looking it up after a failed create", what);
		if (hc_request(c, "GET", q.buf, NULL, 0, lwhat, &lr, NULL, err) < 0) {
			free(lwhat);
			strbuf_release(&q);
			burst_error_release(&tmp);
			return -1;
		}
		free(lwhat);
		strbuf_release(&q);
		arr = cJSON_GetObjectItemCaseSensitive(lr.json, list_key);
		cJSON_ArrayForEach(it, arr) {
			const char *nm = hc_str(it, "name");

			if (nm && !strcmp(nm, name)) {
				*found = cJSON_Duplicate(it, 1);
				break;
			}
		}
		hc_response_release(&lr);
		if (*found) {
			log_debug("hcloud", "%s: it was created after all (id %lld)", what,
				  (long long)hc_int(*found, "id"));
			ret = 0;
			goto out;
		}
		if (tmp.api_code && !strcmp(tmp.api_code, "uniqueness_error"))
			goto out; /* not ours by that name: a real conflict */
		if (burst_now_ms() + backoff > start + c->retry.total_ms)
			goto out;
		/* not cut short by a signal: whether it was created must be known */
		hc_sleep_ms(backoff, HC_UNINTERRUPTED);
		backoff = backoff * 2 > c->retry.cap_ms ? c->retry.cap_ms : backoff * 2;
	}
out:
	if (ret < 0)
		burst_error_move(err, &tmp);
	burst_error_release(&tmp);
	return ret;
}

/*
 * List every K into out (a struct hcloud_Ks); query holds key, value
 * pairs ending in a NULL key, a NULL value is left out.
 */
static int res_list(struct hcloud *c, enum resource_kind k, const char *const *query,
		    void *out, struct burst_error *err)
{
	const struct resource *res = &resources[k];
	struct strbuf path = STRBUF_INIT;
	char *what = xstrfmt("listing %s", res->nouns);
	int ret;

	strbuf_addstr(&path, res->path);
	for (; query && query[0]; query += 2)
		add_query(&path, query[0], query[1]);
	ret = hc_list(c, path.buf, res->list_key, res->collect, out, what, err);
	free(what);
	strbuf_release(&path);
	return ret;
}

/* GET one K by id into out (released first). */
static int res_get(struct hcloud *c, enum resource_kind k, int64_t id, void *out,
		   struct burst_error *err)
{
	const struct resource *res = &resources[k];
	char *path = xstrfmt("%s/%lld", res->path, (long long)id);
	char *what = xstrfmt("getting %s %lld", res->noun, (long long)id);
	struct hc_response r;
	const cJSON *obj;
	int ret = request_object(c, "GET", path, NULL, res->key, what, &r, &obj, err);

	if (!ret) {
		res->decode(obj, out);
		hc_response_release(&r);
	}
	free(what);
	free(path);
	return ret;
}

/* DELETE one K (gone already is done); its action into action if not NULL. */
static int res_delete(struct hcloud *c, enum resource_kind k, int64_t id,
		      struct hcloud_action *action, struct burst_error *err)
{
	const struct resource *res = &resources[k];
	char *path = xstrfmt("%s/%lld", res->path, (long long)id);
	char *what = xstrfmt("deleting %s %lld", res->noun, (long long)id);
	struct hc_response r;
	int ret = hc_request(c, "DELETE", path, NULL, HC_DELETE_GONE_OK, what, &r, NULL, err);

	if (!ret && action) {
		hcloud_action_release(action);
		hc_decode_action(cJSON_GetObjectItemCaseSensitive(r.json, "action"), action);
	}
	if (!ret)
		hc_response_release(&r);
	free(what);
	free(path);
	return ret;
}

/* PUT the labels of one K. */
static int res_set_labels(struct hcloud *c, enum resource_kind k, int64_t id,
			  const struct hcloud_labels *l, struct burst_error *err)
{
	const struct resource *res = &resources[k];
	char *path = xstrfmt("%s/%lld", res->path, (long long)id);
	char *what = xstrfmt("updating the labels of %s %lld", res->noun, (long long)id);
	cJSON *o = cJSON_CreateObject();
	char *body;
	struct hc_response r;
	const cJSON *obj;
	int ret;

	hc_labels_to_json(o, l);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	ret = request_object(c, "PUT", path, body, res->key, what, &r, &obj, err);
	if (!ret)
		hc_response_release(&r);
	free(body);
	free(what);
	free(path);
	return ret;
}

/*
 * Create one K from the JSON body b (freed) without ever making two
 * (create_once) and decode it into out (released first); its action and
 * next actions into action and next when not NULL.  A K found by name
 * after a failed create sets *recovered and has no actions.
 */
static int res_create(struct hcloud *c, enum resource_kind k, const char *name, cJSON *b,
		      const char *what, void *out, struct hcloud_action *action,
		      struct hcloud_actions *next, bool *recovered, struct burst_error *err)
{
	const struct resource *res = &resources[k];
	char *body = cJSON_PrintUnformatted(b);
	cJSON *created = NULL, *found = NULL;
	const cJSON *obj;
	int ret;

	cJSON_Delete(b);
	ret = create_once(c, res->path, res->list_key, name, body, what, &created, &found,
			  err);
	obj = found ? found : cJSON_GetObjectItemCaseSensitive(created, res->key);
	if (!ret && !cJSON_IsObject(obj)) {
		ret = burst_error_set(err, BURST_EXIT_API,
				      "%s: the API response has no '%s' object", what, res->key);
	} else if (!ret) {
		res->decode(obj, out);
		if (found && recovered)
			*recovered = true;
		if (!found && action)
			hc_decode_action(cJSON_GetObjectItemCaseSensitive(created, "action"),
					 action);
		if (!found && next)
			hc_decode_actions(cJSON_GetObjectItemCaseSensitive(created, "next_actions"),
					  next);
	}
	cJSON_Delete(created);
	cJSON_Delete(found);
	free(body);
	return ret;
}

/* ---- servers ---------------------------------------------------------- */

int hcloud_servers_list(struct hcloud *c, const char *name, const char *label_selector,
			struct hcloud_servers *out, struct burst_error *err)
{
	return res_list(c, RES_SERVER, (const char *[]){ "name", name, "label_selector",
				label_selector, NULL }, out, err);
}

int hcloud_server_get(struct hcloud *c, int64_t id, struct hcloud_server *out,
		      struct burst_error *err)
{
	return res_get(c, RES_SERVER, id, out, err);
}

static cJSON *server_body(const struct hcloud_server_opts *o)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "name", o->name);
	cJSON_AddStringToObject(b, "server_type", o->server_type);
	cJSON_AddStringToObject(b, "image", o->image);
	if (o->location)
		cJSON_AddStringToObject(b, "location", o->location);
	cJSON_AddBoolToObject(b, "start_after_create", !o->no_start);
	if (o->nr_ssh_keys) {
		cJSON *keys = cJSON_AddArrayToObject(b, "ssh_keys");

		for (size_t i = 0; i < o->nr_ssh_keys; i++)
			cJSON_AddItemToArray(keys, cJSON_CreateString(o->ssh_keys[i]));
	}
	if (o->user_data)
		cJSON_AddStringToObject(b, "user_data", o->user_data);
	if (o->nr_volumes) {
		cJSON *vols = cJSON_AddArrayToObject(b, "volumes");

		for (size_t i = 0; i < o->nr_volumes; i++)
			cJSON_AddItemToArray(vols, cJSON_CreateNumber((double)o->volumes[i]));
		cJSON_AddBoolToObject(b, "automount", 0);
	}
	if (o->labels)
		hc_labels_to_json(b, o->labels);
	return b;
}

int hcloud_server_create(struct hcloud *c, const struct hcloud_server_opts *o,
			 struct hcloud_server_created *out, struct burst_error *err)
{
	char *what;
	int ret;

	if (!o->name || !o->server_type || !o->image)
		BUG("hcloud_server_create without name, server_type or image");
	what = xstrfmt("creating server '%s'", o->name);
	hcloud_server_created_release(out);
	out->start = !o->no_start;
	ret = res_create(c, RES_SERVER, o->name, server_body(o), what, &out->server,
			 &out->action, &out->next_actions, &out->recovered, err);
	free(what);
	return ret;
}

int hcloud_server_delete(struct hcloud *c, int64_t id, struct hcloud_action *action,
			 struct burst_error *err)
{
	return res_delete(c, RES_SERVER, id, action, err);
}

int hcloud_server_set_labels(struct hcloud *c, int64_t id, const struct hcloud_labels *l,
			     struct burst_error *err)
{
	return res_set_labels(c, RES_SERVER, id, l, err);
}

static int server_action(struct hcloud *c, int64_t id, const char *name,
			 const char *verb, struct hcloud_action *action,
			 struct burst_error *err)
{
	char *path = xstrfmt("/servers/%lld/actions/%s", (long long)id, name);
	char *what = xstrfmt("%s server %lld", verb, (long long)id);
	int ret = post_action(c, path, NULL, what, action, err);

	free(what);
	free(path);
	return ret;
}

int hcloud_server_poweroff(struct hcloud *c, int64_t id, struct hcloud_action *action,
			   struct burst_error *err)
{
	return server_action(c, id, "poweroff", "powering off", action, err);
}

int hcloud_server_shutdown(struct hcloud *c, int64_t id, struct hcloud_action *action,
			   struct burst_error *err)
{
	return server_action(c, id, "shutdown", "shutting down", action, err);
}

int hcloud_server_poweron(struct hcloud *c, int64_t id, struct hcloud_action *action,
			  struct burst_error *err)
{
	return server_action(c, id, "poweron", "powering on", action, err);
}

/*
 * After an ambiguous create_image: the image it made, if any.  1 = found
 * (image and, when still running, action filled), 0 = not made, -1 = error.
 */
static int find_made_image(struct hcloud *c, int64_t server, time_t since,
			   struct hcloud_image *image, struct hcloud_action *action,
			   struct burst_error *err)
{
	struct hcloud_images imgs = { 0 };
	int found = running_action(c, "server", server, "create_image", action, err);

	if (found < 0)
		return -1;
	if (found) {
		for (size_t i = 0; i < action->nr_resources; i++)
			if (action->resources[i].type &&
			    !strcmp(action->resources[i].type, "image"))
				return hcloud_image_get(c, action->resources[i].id, image, err) < 0
					? -1 : 1;
	}
	if (hcloud_images_list(c, "snapshot", NULL, "created:desc", &imgs, err) < 0)
		return -1;
	found = 0;
	for (size_t i = 0; i < imgs.nr && !found; i++) {
		struct hcloud_image *im = &imgs.v[i];

		if (im->created_from == server && im->created >= since &&
		    (!im->status || strcmp(im->status, "unavailable"))) {
			hcloud_image_release(image);
			*image = *im;
			memset(im, 0, sizeof(*im));
			found = 1;
		}
	}
	hcloud_images_release(&imgs);
	return found;
}

int hcloud_server_create_image(struct hcloud *c, int64_t id, const char *description,
			       const struct hcloud_labels *labels,
			       struct hcloud_image *image, struct hcloud_action *action,
			       struct burst_error *err)
{
	char *path = xstrfmt("/servers/%lld/actions/create_image", (long long)id);
	char *what = xstrfmt("creating an image of server %lld", (long long)id);
	cJSON *b = cJSON_CreateObject();
	struct hcloud_image tmp_image = { 0 };
	struct hcloud_action tmp_action = { 0 };
	struct hcloud_image *img = image ? image : &tmp_image;
	struct hcloud_action *act = action ? action : &tmp_action;
	/* Allow for clock skew between us and the API when matching "created". */
	time_t since = (time_t)burst_wall_time() - 300;
	char *body;
	int ret = -1;

	cJSON_AddStringToObject(b, "type", "snapshot");
	if (description)
		cJSON_AddStringToObject(b, "description", description);
	if (labels)
		hc_labels_to_json(b, labels);
	body = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	hcloud_image_release(img);
	hcloud_action_release(act);
	/* Never two snapshots: after a lost reply, look for the one it made. */
	for (unsigned n = 0; n < 3; n++) {
		struct hc_response r;
		const cJSON *obj;
		bool ambiguous = false;
		int found;

		if (hc_request(c, "POST", path, body, HC_NO_RETRY_AMBIGUOUS, what, &r,
			       &ambiguous, err) == 0) {
			obj = cJSON_GetObjectItemCaseSensitive(r.json, "image");
			if (!cJSON_IsObject(obj)) {
				hc_response_release(&r);
				burst_error_set(err, BURST_EXIT_API,
						"%s: the API response has no 'image' object", what);
				break;
			}
			hc_decode_image(obj, img);
			hc_decode_action(cJSON_GetObjectItemCaseSensitive(r.json, "action"), act);
			hc_response_release(&r);
			ret = 0;
			break;
		}
		if (!ambiguous)
			break;
		found = find_made_image(c, id, since, img, act, err);
		if (found) {
			ret = found > 0 ? 0 : -1;
			break;
		}
	}
	if (!ret)
		burst_error_release(err);
	hcloud_image_release(&tmp_image);
	hcloud_action_release(&tmp_action);
	free(body);
	free(what);
	free(path);
	return ret;
}

/* ---- images ----------------------------------------------------------- */

int hcloud_images_list(struct hcloud *c, const char *type, const char *label_selector,
		       const char *sort, struct hcloud_images *out,
		       struct burst_error *err)
{
	return res_list(c, RES_IMAGE, (const char *[]){ "type", type, "label_selector",
				label_selector, "sort", sort, NULL }, out, err);
}

int hcloud_image_get(struct hcloud *c, int64_t id, struct hcloud_image *out,
		     struct burst_error *err)
{
	return res_get(c, RES_IMAGE, id, out, err);
}

int hcloud_image_delete(struct hcloud *c, int64_t id, struct burst_error *err)
{
	return res_delete(c, RES_IMAGE, id, NULL, err);
}

int hcloud_image_set_labels(struct hcloud *c, int64_t id, const struct hcloud_labels *l,
			    struct burst_error *err)
{
	return res_set_labels(c, RES_IMAGE, id, l, err);
}

/* ---- volumes ---------------------------------------------------------- */

int hcloud_volumes_list(struct hcloud *c, const char *name, const char *label_selector,
			struct hcloud_volumes *out, struct burst_error *err)
{
	return res_list(c, RES_VOLUME, (const char *[]){ "name", name, "label_selector",
				label_selector, NULL }, out, err);
}

int hcloud_volume_get(struct hcloud *c, int64_t id, struct hcloud_volume *out,
		      struct burst_error *err)
{
	return res_get(c, RES_VOLUME, id, out, err);
}

int hcloud_volume_create(struct hcloud *c, const struct hcloud_volume_opts *o,
			 struct hcloud_volume_created *out, struct burst_error *err)
{
	cJSON *b = cJSON_CreateObject();
	char *what;
	int ret;

	if (!o->name)
		BUG("hcloud_volume_create without a name");
	what = xstrfmt("creating volume '%s'", o->name);
	cJSON_AddStringToObject(b, "name", o->name);
	cJSON_AddNumberToObject(b, "size", (double)o->size);
	if (o->location)
		cJSON_AddStringToObject(b, "location", o->location);
	if (o->format)
		cJSON_AddStringToObject(b, "format", o->format);
	if (o->server) {
		cJSON_AddNumberToObject(b, "server", (double)o->server);
		cJSON_AddBoolToObject(b, "automount", 0);
	}
	if (o->labels)
		hc_labels_to_json(b, o->labels);
	hcloud_volume_created_release(out);
	out->server = o->server;
	ret = res_create(c, RES_VOLUME, o->name, b, what, &out->volume, &out->action,
			 &out->next_actions, &out->recovered, err);
	free(what);
	return ret;
}

int hcloud_volume_delete(struct hcloud *c, int64_t id, struct burst_error *err)
{
	return res_delete(c, RES_VOLUME, id, NULL, err);
}

int hcloud_volume_attach(struct hcloud *c, int64_t id, int64_t server,
			 struct hcloud_action *action, struct burst_error *err)
{
	char *what = xstrfmt("attaching volume %lld to server %lld", (long long)id,
			     (long long)server);
	char *body = xstrfmt("{\"server\":%lld,\"automount\":false}", (long long)server);
	int ret = volume_action_once(c, id, "attach", "attach_volume", body, server, what,
				     action, err);

	free(body);
	free(what);
	return ret;
}

int hcloud_volume_detach(struct hcloud *c, int64_t id, struct hcloud_action *action,
			 struct burst_error *err)
{
	char *what = xstrfmt("detaching volume %lld", (long long)id);
	int ret = volume_action_once(c, id, "detach", "detach_volume", NULL, 0, what,
				     action, err);

	free(what);
	return ret;
}

int hcloud_volume_set_labels(struct hcloud *c, int64_t id, const struct hcloud_labels *l,
			     struct burst_error *err)
{
	return res_set_labels(c, RES_VOLUME, id, l, err);
}

/* ---- ssh keys --------------------------------------------------------- */

int hcloud_ssh_keys_list(struct hcloud *c, const char *fingerprint, const char *name,
			 struct hcloud_ssh_keys *out, struct burst_error *err)
{
	return res_list(c, RES_SSH_KEY, (const char *[]){ "fingerprint", fingerprint,
				"name", name, NULL }, out, err);
}

int hcloud_ssh_key_create(struct hcloud *c, const char *name, const char *public_key,
			  const struct hcloud_labels *labels, struct hcloud_ssh_key *out,
			  struct burst_error *err)
{
	cJSON *b = cJSON_CreateObject();
	char *what = xstrfmt("uploading ssh key '%s'", name);
	int ret;

	cJSON_AddStringToObject(b, "name", name);
	cJSON_AddStringToObject(b, "public_key", public_key);
	if (labels)
		hc_labels_to_json(b, labels);
	ret = res_create(c, RES_SSH_KEY, name, b, what, out, NULL, NULL, NULL, err);
	free(what);
	return ret;
}

int hcloud_ssh_key_delete(struct hcloud *c, int64_t id, struct burst_error *err)
{
	return res_delete(c, RES_SSH_KEY, id, NULL, err);
}

/* ---- actions ---------------------------------------------------------- */

int hcloud_action_get(struct hcloud *c, int64_t id, struct hcloud_action *out,
		      struct burst_error *err)
{
	return res_get(c, RES_ACTION, id, out, err);
}

int hcloud_actions_get(struct hcloud *c, const int64_t *ids, size_t n,
		       struct hcloud_actions *out, struct burst_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret = 0;

	/* per_page is 50, so ask for at most 50 ids per request. */
	for (size_t start = 0; start < n && !ret; start += 50) {
		strbuf_reset(&path);
		strbuf_addstr(&path, "/actions");
		for (size_t i = start; i < n && i < start + 50; i++)
			strbuf_addf(&path, "%cid=%lld", i == start ? '?' : '&',
				    (long long)ids[i]);
		ret = hc_list(c, path.buf, "actions", resources[RES_ACTION].collect, out,
			      "getting the status of actions", err);
	}
	strbuf_release(&path);
	return ret;
}

/* ---- locations, types, pricing ---------------------------------------- */

int hcloud_locations_list(struct hcloud *c, struct hcloud_locations *out,
			  struct burst_error *err)
{
	return res_list(c, RES_LOCATION, NULL, out, err);
}

int hcloud_datacenters_list(struct hcloud *c, struct hcloud_datacenters *out,
			    struct burst_error *err)
{
	return res_list(c, RES_DATACENTER, NULL, out, err);
}

int hcloud_server_types_list(struct hcloud *c, const char *name,
			     struct hcloud_server_types *out, struct burst_error *err)
{
	return res_list(c, RES_SERVER_TYPE, (const char *[]){ "name", name, NULL }, out, err);
}

int hcloud_type_available(struct hcloud *c, const char *type, const char *location,
			  bool *out, struct burst_error *err)
{
	struct hcloud_server_types types = { 0 };
	struct hcloud_datacenters dcs = { 0 };
	const struct hcloud_server_type *t = NULL;
	int ret = -1;

	*out = false;
	if (hcloud_server_types_list(c, type, &types, err) < 0)
		goto out;
	for (size_t i = 0; i < types.nr; i++)
		if (types.v[i].name && !strcmp(types.v[i].name, type))
			t = &types.v[i];
	if (!t) {
		burst_error_set(err, BURST_EXIT_API, "server type '%s' does not exist", type);
		if (err)
			err->api_code = xstrdup("not_found");
		burst_error_hint(err, "see the server types at https://www.hetzner.com/cloud");
		goto out;
	}
	if (hcloud_datacenters_list(c, &dcs, err) < 0)
		goto out;
	ret = 0;
	if (!hcloud_server_type_usable_in(t, location, time(NULL)) ||
	    !hcloud_server_type_price(t, location))
		goto out;
	for (size_t i = 0; i < dcs.nr && !*out; i++) {
		if (!dcs.v[i].location || strcmp(dcs.v[i].location, location))
			continue;
		for (size_t k = 0; k < dcs.v[i].nr_available; k++)
			if (dcs.v[i].available[k] == t->id)
				*out = true;
	}
out:
	hcloud_datacenters_release(&dcs);
	hcloud_server_types_release(&types);
	return ret;
}

int hcloud_pricing_get(struct hcloud *c, struct hcloud_pricing *out,
		       struct burst_error *err)
{
	struct hc_response r;
	const cJSON *obj;

	if (request_object(c, "GET", "/pricing", NULL, "pricing", "getting prices", &r,
			   &obj, err) < 0)
		return -1;
	hcloud_pricing_release(out);
	hc_decode_pricing(obj, out);
	hc_response_release(&r);
	return 0;
}

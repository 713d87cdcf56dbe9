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

static char *labels_body(const struct hcloud_labels *l)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	hc_labels_to_json(o, l);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int put_labels(struct hcloud *c, const char *kind, const char *key, int64_t id,
		      const struct hcloud_labels *l, struct burst_error *err)
{
	char *path = xstrfmt("/%ss/%lld", kind, (long long)id);
	char *what = xstrfmt("updating the labels of %s %lld", kind, (long long)id);
	char *body = labels_body(l);
	struct hc_response r;
	const cJSON *obj;
	int ret = request_object(c, "PUT", path, body, key, what, &r, &obj, err);

	if (!ret)
		hc_response_release(&r);
	free(body);
	free(what);
	free(path);
	return ret;
}

static int delete_plain(struct hcloud *c, const char *path, const char *what,
			struct burst_error *err)
{
	struct hc_response r;

	if (hc_request(c, "DELETE", path, NULL, HC_DELETE_GONE_OK, what, &r, NULL, err) < 0)
		return -1;
	hc_response_release(&r);
	return 0;
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

/* ---- servers ---------------------------------------------------------- */

static int collect_server(const cJSON *item, void *data)
{
	struct hcloud_servers *l = data;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));
	hc_decode_server(item, &l->v[l->nr++]);
	return 0;
}

int hcloud_servers_list(struct hcloud *c, const char *name, const char *label_selector,
			struct hcloud_servers *out, struct burst_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret;

	strbuf_addstr(&path, "/servers");
	add_query(&path, "name", name);
	add_query(&path, "label_selector", label_selector);
	ret = hc_list(c, path.buf, "servers", collect_server, out, "listing servers", err);
	strbuf_release(&path);
	return ret;
}

int hcloud_server_get(struct hcloud *c, int64_t id, struct hcloud_server *out,
		      struct burst_error *err)
{
	char *path = xstrfmt("/servers/%lld", (long long)id);
	char *what = xstrfmt("getting server %lld", (long long)id);
	struct hc_response r;
	const cJSON *obj;
	int ret = request_object(c, "GET", path, NULL, "server", what, &r, &obj, err);

	if (!ret) {
		hcloud_server_release(out);
		hc_decode_server(obj, out);
		hc_response_release(&r);
	}
	free(what);
	free(path);
	return ret;
}

static char *server_body(const struct hcloud_server_opts *o)
{
	cJSON *b = cJSON_CreateObject();
	char *s;

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
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return s;
}

int hcloud_server_create(struct hcloud *c, const struct hcloud_server_opts *o,
			 struct hcloud_server_created *out, struct burst_error *err)
{
	char *what, *body;
	cJSON *created = NULL, *found = NULL;
	int ret;

	if (!o->name || !o->server_type || !o->image)
		BUG("hcloud_server_create without name, server_type or image");
	what = xstrfmt("creating server '%s'", o->name);
	body = server_body(o);
	hcloud_server_created_release(out);
	out->start = !o->no_start;
	ret = create_once(c, "/servers", "servers", o->name, body, what, &created, &found,
			  err);
	if (!ret && found) {
		hc_decode_server(found, &out->server);
		out->recovered = true;
	} else if (!ret) {
		const cJSON *srv = cJSON_GetObjectItemCaseSensitive(created, "server");

		if (!cJSON_IsObject(srv)) {
			ret = burst_error_set(err, BURST_EXIT_API,
					      "%s: the API response has no 'server' object", what);
		} else {
			hc_decode_server(srv, &out->server);
			hc_decode_action(cJSON_GetObjectItemCaseSensitive(created, "action"),
					 &out->action);
			hc_decode_actions(cJSON_GetObjectItemCaseSensitive(created, "next_actions"),
					  &out->next_actions);
		}
	}
	cJSON_Delete(created);
	cJSON_Delete(found);
	free(body);
	free(what);
	return ret;
}

int hcloud_server_delete(struct hcloud *c, int64_t id, struct hcloud_action *action,
			 struct burst_error *err)
{
	char *path = xstrfmt("/servers/%lld", (long long)id);
	char *what = xstrfmt("deleting server %lld", (long long)id);
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

int hcloud_server_set_labels(struct hcloud *c, int64_t id, const struct hcloud_labels *l,
			     struct burst_error *err)
{
	return put_labels(c, "server", "server", id, l, err);
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

static int collect_image(const cJSON *item, void *data)
{
	struct hcloud_images *l = data;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));
	hc_decode_image(item, &l->v[l->nr++]);
	return 0;
}

int hcloud_images_list(struct hcloud *c, const char *type, const char *label_selector,
		       const char *sort, struct hcloud_images *out,
		       struct burst_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret;

	strbuf_addstr(&path, "/images");
	add_query(&path, "type", type);
	add_query(&path, "label_selector", label_selector);
	add_query(&path, "sort", sort);
	ret = hc_list(c, path.buf, "images", collect_image, out, "listing images", err);
	strbuf_release(&path);
	return ret;
}

int hcloud_image_get(struct hcloud *c, int64_t id, struct hcloud_image *out,
		     struct burst_error *err)
{
	char *path = xstrfmt("/images/%lld", (long long)id);
	char *what = xstrfmt("getting image %lld", (long long)id);
	struct hc_response r;
	const cJSON *obj;
	int ret = request_object(c, "GET", path, NULL, "image", what, &r, &obj, err);

	if (!ret) {
		hcloud_image_release(out);
		hc_decode_image(obj, out);
		hc_response_release(&r);
	}
	free(what);
	free(path);
	return ret;
}

int hcloud_image_delete(struct hcloud *c, int64_t id, struct burst_error *err)
{
	char *path = xstrfmt("/images/%lld", (long long)id);
	char *what = xstrfmt("deleting image %lld", (long long)id);
	int ret = delete_plain(c, path, what, err);

	free(what);
	free(path);
	return ret;
}

int hcloud_image_set_labels(struct hcloud *c, int64_t id, const struct hcloud_labels *l,
			    struct burst_error *err)
{
	return put_labels(c, "image", "image", id, l, err);
}

/* ---- volumes ---------------------------------------------------------- */

static int collect_volume(const cJSON *item, void *data)
{
	struct hcloud_volumes *l = data;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));
	hc_decode_volume(item, &l->v[l->nr++]);
	return 0;
}

int hcloud_volumes_list(struct hcloud *c, const char *name, const char *label_selector,
			struct hcloud_volumes *out, struct burst_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret;

	strbuf_addstr(&path, "/volumes");
	add_query(&path, "name", name);
	add_query(&path, "label_selector", label_selector);
	ret = hc_list(c, path.buf, "volumes", collect_volume, out, "listing volumes", err);
	strbuf_release(&path);
	return ret;
}

int hcloud_volume_get(struct hcloud *c, int64_t id, struct hcloud_volume *out,
		      struct burst_error *err)
{
	char *path = xstrfmt("/volumes/%lld", (long long)id);
	char *what = xstrfmt("getting volume %lld", (long long)id);
	struct hc_response r;
	const cJSON *obj;
	int ret = request_object(c, "GET", path, NULL, "volume", what, &r, &obj, err);

	if (!ret) {
		hcloud_volume_release(out);
		hc_decode_volume(obj, out);
		hc_response_release(&r);
	}
	free(what);
	free(path);
	return ret;
}

int hcloud_volume_create(struct hcloud *c, const struct hcloud_volume_opts *o,
			 struct hcloud_volume_created *out, struct burst_error *err)
{
	cJSON *b = cJSON_CreateObject(), *created = NULL, *found = NULL;
	char *what, *body;
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
	body = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	hcloud_volume_created_release(out);
	out->server = o->server;
	ret = create_once(c, "/volumes", "volumes", o->name, body, what, &created, &found,
			  err);
	if (!ret && found) {
		hc_decode_volume(found, &out->volume);
		out->recovered = true;
	} else if (!ret) {
		const cJSON *vol = cJSON_GetObjectItemCaseSensitive(created, "volume");

		if (!cJSON_IsObject(vol)) {
			ret = burst_error_set(err, BURST_EXIT_API,
					      "%s: the API response has no 'volume' object", what);
		} else {
			hc_decode_volume(vol, &out->volume);
			hc_decode_action(cJSON_GetObjectItemCaseSensitive(created, "action"),
					 &out->action);
			hc_decode_actions(cJSON_GetObjectItemCaseSensitive(created, "next_actions"),
					  &out->next_actions);
		}
	}
	cJSON_Delete(created);
	cJSON_Delete(found);
	free(body);
	free(what);
	return ret;
}

int hcloud_volume_delete(struct hcloud *c, int64_t id, struct burst_error *err)
{
	char *path = xstrfmt("/volumes/%lld", (long long)id);
	char *what = xstrfmt("deleting volume %lld", (long long)id);
	int ret = delete_plain(c, path, what, err);

	free(what);
	free(path);
	return ret;
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
	return put_labels(c, "volume", "volume", id, l, err);
}

/* ---- ssh keys --------------------------------------------------------- */

static int collect_ssh_key(const cJSON *item, void *data)
{
	struct hcloud_ssh_keys *l = data;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));
	hc_decode_ssh_key(item, &l->v[l->nr++]);
	return 0;
}

int hcloud_ssh_keys_list(struct hcloud *c, const char *fingerprint, const char *name,
			 struct hcloud_ssh_keys *out, struct burst_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret;

	strbuf_addstr(&path, "/ssh_keys");
	add_query(&path, "fingerprint", fingerprint);
	add_query(&path, "name", name);
	ret = hc_list(c, path.buf, "ssh_keys", collect_ssh_key, out, "listing ssh keys", err);
	strbuf_release(&path);
	return ret;
}

int hcloud_ssh_key_create(struct hcloud *c, const char *name, const char *public_key,
			  const struct hcloud_labels *labels, struct hcloud_ssh_key *out,
			  struct burst_error *err)
{
	cJSON *b = cJSON_CreateObject(), *created = NULL, *found = NULL;
	char *what = xstrfmt("uploading ssh key '%s'", name);
	char *body;
	int ret;

	cJSON_AddStringToObject(b, "name", name);
	cJSON_AddStringToObject(b, "public_key", public_key);
	if (labels)
		hc_labels_to_json(b, labels);
	body = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	hcloud_ssh_key_release(out);
	ret = create_once(c, "/ssh_keys", "ssh_keys", name, body, what, &created, &found,
			  err);
	if (!ret) {
		const cJSON *k = found ? found
			: cJSON_GetObjectItemCaseSensitive(created, "ssh_key");

		if (!cJSON_IsObject(k))
			ret = burst_error_set(err, BURST_EXIT_API,
					      "%s: the API response has no 'ssh_key' object", what);
		else
			hc_decode_ssh_key(k, out);
	}
	cJSON_Delete(created);
	cJSON_Delete(found);
	free(body);
	free(what);
	return ret;
}

int hcloud_ssh_key_delete(struct hcloud *c, int64_t id, struct burst_error *err)
{
	char *path = xstrfmt("/ssh_keys/%lld", (long long)id);
	char *what = xstrfmt("deleting ssh key %lld", (long long)id);
	int ret = delete_plain(c, path, what, err);

	free(what);
	free(path);
	return ret;
}

/* ---- actions ---------------------------------------------------------- */

int hcloud_action_get(struct hcloud *c, int64_t id, struct hcloud_action *out,
		      struct burst_error *err)
{
	char *path = xstrfmt("/actions/%lld", (long long)id);
	char *what = xstrfmt("getting action %lld", (long long)id);
	struct hc_response r;
	const cJSON *obj;
	int ret = request_object(c, "GET", path, NULL, "action", what, &r, &obj, err);

	if (!ret) {
		hcloud_action_release(out);
		hc_decode_action(obj, out);
		hc_response_release(&r);
	}
	free(what);
	free(path);
	return ret;
}

static int collect_action(const cJSON *item, void *data)
{
	struct hcloud_actions *l = data;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));
	hc_decode_action(item, &l->v[l->nr++]);
	return 0;
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
		ret = hc_list(c, path.buf, "actions", collect_action, out,
			      "getting the status of actions", err);
	}
	strbuf_release(&path);
	return ret;
}

/* ---- locations, types, pricing ---------------------------------------- */

static int collect_location(const cJSON *item, void *data)
{
	struct hcloud_locations *l = data;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));
	hc_decode_location(item, &l->v[l->nr++]);
	return 0;
}

int hcloud_locations_list(struct hcloud *c, struct hcloud_locations *out,
			  struct burst_error *err)
{
	return hc_list(c, "/locations", "locations", collect_location, out,
		       "listing locations", err);
}

static int collect_datacenter(const cJSON *item, void *data)
{
	struct hcloud_datacenters *l = data;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));
	hc_decode_datacenter(item, &l->v[l->nr++]);
	return 0;
}

int hcloud_datacenters_list(struct hcloud *c, struct hcloud_datacenters *out,
			    struct burst_error *err)
{
	return hc_list(c, "/datacenters", "datacenters", collect_datacenter, out,
		       "listing datacenters", err);
}

static int collect_server_type(const cJSON *item, void *data)
{
	struct hcloud_server_types *l = data;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));
	hc_decode_server_type(item, &l->v[l->nr++]);
	return 0;
}

int hcloud_server_types_list(struct hcloud *c, const char *name,
			     struct hcloud_server_types *out, struct burst_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret;

	strbuf_addstr(&path, "/server_types");
	add_query(&path, "name", name);
	ret = hc_list(c, path.buf, "server_types", collect_server_type, out,
		      "listing server types", err);
	strbuf_release(&path);
	return ret;
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

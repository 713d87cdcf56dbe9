/*
 * provision.c - the cold path: image by label, ssh key, host key pinning,
 * the shared server with location fallback, the project's volume created
 * and attached on a thread of its own, and the wait for ssh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/proc.h"
#include "burst/provision.h"
#include "burst/sha256.h"
#include "burst/remote.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

#define MOD "provision"
/* How long creates, attaches and deletes may take before we give up. */
#define ACTION_DEADLINE_MS (10 * 60 * 1000)

char *provision_device_path(int64_t volume_id)
{
	return xstrfmt("/dev/disk/by-id/scsi-0HC_Volume_%lld", (long long)volume_id);
}

void provision_location_order(const char *volume_location,
			      const struct strvec *regions, struct strvec *out)
{
	if (volume_location && *volume_location)
		strvec_push(out, volume_location);
	for (size_t i = 0; regions && i < regions->nr; i++)
		if (strvec_find(out, regions->v[i]) < 0)
			strvec_push(out, regions->v[i]);
}

void provision_server_release(struct provision_server *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->ip);
	free(s->location);
	free(s->host_key_pub);
	memset(s, 0, sizeof(*s));
}

void provision_volume_release(struct provision_volume *v)
{
	if (!v)
		return;
	free(v->name);
	free(v->location);
	memset(v, 0, sizeof(*v));
}

/* ---- image ------------------------------------------------------------- */

/* Is a newer than b (creation time, then id)? */
static bool image_newer(const struct hcloud_image *a, const struct hcloud_image *b)
{
	return !b || a->created > b->created || (a->created == b->created && a->id > b->id);
}

const char *provision_image_arch(const struct hcloud_image *im)
{
	const char *label = hcloud_labels_get(&im->labels, "arch");

	/* the API's word first: a label can be wrong, the architecture cannot */
	if (im->architecture)
		return !strcmp(im->architecture, "arm") ? "arm64" :
			!strcmp(im->architecture, "x86") ? "x86" : "other";
	return label && !strcmp(label, "arm64") ? "arm64" : "x86";
}

int provision_current_server(struct burst_state *st, const char *arch,
			     struct state_server *out, struct burst_error *err)
{
	struct state_server *v = NULL;
	size_t n = 0, pick = SIZE_MAX;
	const char *want = provision_arch_is_arm(arch) ? "arm64" : "x86";

	memset(out, 0, sizeof(*out));
	if (state_server_list_live(st, &v, &n, err) < 0)
		return -1;
	/* ordered by id: the last match is the newest */
	for (size_t i = 0; i < n; i++) {
		if (v[i].name && !strncmp(v[i].name, STATE_SHARD_NAME_PREFIX,
					  strlen(STATE_SHARD_NAME_PREFIX)))
			continue;
		if (!strcmp(state_server_arch(&v[i]), want))
			pick = i;
	}
	if (pick != SIZE_MAX) {
		*out = v[pick];
		memset(&v[pick], 0, sizeof(v[pick]));
	}
	state_servers_free(v, n);
	return pick != SIZE_MAX;
}

int provision_find_image(struct hcloud *api, const char *owner_id, const char *arch,
			 int64_t *image_id, struct burst_error *err)
{
	struct hcloud_images imgs = { 0 };
	const struct hcloud_image *mine = NULL, *any = NULL, *best;
	const char *want = provision_arch_is_arm(arch) ? "arm64" : "x86";

	if (hcloud_images_list(api, "snapshot", "managed-by==cargo-burst,role==image",
			       NULL, &imgs, err) < 0) {
		burst_error_prefix(err, "looking for the cargo-burst image");
		return -1;
	}
	for (size_t i = 0; i < imgs.nr; i++) {
		const struct hcloud_image *im = &imgs.v[i];
		const char *owner = hcloud_labels_get(&im->labels, "owner");

		if (im->status && strcmp(im->status, "available"))
			continue;
		/* a server is only ever created from an image of its architecture */
		if (strcmp(provision_image_arch(im), want))
			continue;
		if (image_newer(im, any))
			any = im;
		/* our own bakes first: another owner's retention may delete theirs */
		if (owner_id && owner && !strcmp(owner, owner_id) && image_newer(im, mine))
			mine = im;
	}
	best = mine ? mine : any;
	if (!best) {
		hcloud_images_release(&imgs);
		burst_error_set(err, BURST_EXIT_CONFIG,
				"no %scargo-burst image (a snapshot labelled "
				"managed-by=cargo-burst, role=image) in this project",
				provision_arch_is_arm(arch) ? "arm64 " : "");
		burst_error_hint(err, "run `cargo burst image build%s` once to bake it",
				 provision_arch_is_arm(arch) ? " --arch arm64" : "");
		return -1;
	}
	*image_id = best->id;
	log_debug(MOD, "image %lld (%s)", (long long)best->id,
		  best->description ? best->description : "");
	hcloud_images_release(&imgs);
	return 0;
}

/* ---- the user's ssh key ------------------------------------------------ */

char *provision_key_fingerprint(const char *pub_path, struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	char *ret = NULL;
	const char *p, *end;

	strvec_push(&cp.args, "ssh-keygen");
	strvec_push(&cp.args, "-l");
	strvec_push(&cp.args, "-E");
	strvec_push(&cp.args, "md5");
	strvec_push(&cp.args, "-f");
	strvec_push(&cp.args, pub_path);
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 64 * 1024;
	cp.timeout_ms = 20000;
	if (proc_run(&cp, err) < 0)
		goto out;
	/* "256 MD5:aa:bb:... comment (ED25519)" */
	p = strstr(cp.out_buf.buf, "MD5:");
	if (cp.exit_code != 0 || !p) {
		strbuf_trim(&cp.err_buf);
		burst_error_set(err, BURST_EXIT_CONFIG,
				"cannot read the ssh public key '%s': %s", pub_path,
				cp.err_buf.len ? cp.err_buf.buf : "not a public key");
		burst_error_hint(err, "set ssh_key_path in the config, or create a key "
				 "with `ssh-keygen -t ed25519`");
		goto out;
	}
	p += 4;
	end = p;
	while (*end && *end != ' ' && *end != '\n')
		end++;
	ret = xstrndup(p, (size_t)(end - p));
out:
	child_process_release(&cp);
	return ret;
}

/* The "type base64" part of a public key line, for comparisons. */
static char *key_blob(const char *line)
{
	const char *p = line, *end;

	while (*p == ' ')
		p++;
	end = strchr(p, ' ');
	if (!end)
		return xstrdup(p);
	end++;
	while (*end && *end != ' ' && *end != '\n')
		end++;
	return xstrndup(p, (size_t)(end - p));
}

int provision_ensure_ssh_key(struct hcloud *api, struct burst_state *st,
			     const char *owner_id, const char *pub_path,
			     int64_t *key_id, struct burst_error *err)
{
	struct hcloud_ssh_keys keys = { 0 };
	struct hcloud_ssh_key created = { 0 };
	struct hcloud_labels labels = HCLOUD_LABELS_INIT;
	struct strbuf pub = STRBUF_INIT;
	char *fp = NULL, *name = NULL, *labels_json = NULL, *blob = NULL;
	int64_t intent = 0;
	int ret = -1;

	strbuf_set_max(&pub, 64 * 1024);
	if (strbuf_read_file(&pub, pub_path) < 0) {
		burst_error_set(err, BURST_EXIT_CONFIG, "cannot read the ssh public key '%s'",
				pub_path);
		burst_error_hint(err, "set ssh_key_path in the config, or create a key "
				 "with `ssh-keygen -t ed25519`");
		goto out;
	}
	strbuf_trim(&pub);
	fp = provision_key_fingerprint(pub_path, err);
	if (!fp)
		goto out;
	if (hcloud_ssh_keys_list(api, fp, NULL, &keys, err) < 0)
		goto out;
	if (keys.nr) {
		*key_id = keys.v[0].id;
		ret = 0;
		goto out;
	}
	name = provision_ssh_key_name(owner_id, fp);
	provision_labels(&labels, "ssh_key", owner_id, NULL);
	labels_json = provision_labels_json(&labels);
	if (state_intent_begin(st, STATE_INTENT_SSH_KEY, name, labels_json, &intent, err) < 0)
		goto out;
	if (hcloud_ssh_key_create(api, name, pub.buf, &labels, &created, err) < 0) {
		struct burst_error ignore = BURST_ERROR_INIT;

		/* another run registered it meanwhile: look again by key */
		if (err->api_code && !strcmp(err->api_code, "uniqueness_error")) {
			hcloud_ssh_keys_release(&keys);
			blob = key_blob(pub.buf);
			if (hcloud_ssh_keys_list(api, NULL, NULL, &keys, &ignore) == 0) {
				for (size_t i = 0; i < keys.nr; i++) {
					char *b = key_blob(keys.v[i].public_key ?
							   keys.v[i].public_key : "");
					bool same = !strcmp(b, blob) ||
						    (keys.v[i].fingerprint &&
						     !strcmp(keys.v[i].fingerprint, fp));

					free(b);
					if (same) {
						*key_id = keys.v[i].id;
						burst_error_release(err);
						state_intent_failed(st, intent, "already registered",
								    &ignore);
						burst_error_release(&ignore);
						ret = 0;
						goto out;
					}
				}
			}
			burst_error_release(&ignore);
		}
		state_intent_failed(st, intent, err->message, &ignore);
		burst_error_release(&ignore);
		burst_error_prefix(err, "registering your ssh key");
		goto out;
	}
	state_intent_done(st, intent, created.id, err);
	burst_error_release(err);
	*key_id = created.id;
	ui_verbose("Registered", "ssh key '%s' (%s)", name, fp);
	ret = 0;
out:
	hcloud_ssh_keys_release(&keys);
	hcloud_ssh_key_release(&created);
	hcloud_labels_release(&labels);
	strbuf_release(&pub);
	free(fp);
	free(name);
	free(labels_json);
	free(blob);
	return ret;
}

/* ---- the project's volume --------------------------------------------- */

static void volume_labels(const struct provision_opts *o, struct hcloud_labels *l)
{
	provision_labels(l, "volume", o->owner_id, o->project_hash);
	if (provision_arch_is_arm(o->arch))
		hcloud_labels_set(l, "arch", "arm64");
}

/*
 * The project's volumes of ours, by label; prefers the one the state
 * remembers, else the newest.  1 found (out filled), 0 none, -1 error.
 * names gets every volume name of the project (to avoid collisions).
 */
static int find_project_volume(struct hcloud *api, const struct provision_opts *o,
			       struct hcloud_volume *out, struct strvec *names,
			       struct burst_error *err)
{
	struct hcloud_labels want = HCLOUD_LABELS_INIT;
	struct hcloud_volumes vols = { 0 };
	struct state_project proj = { 0 };
	struct burst_error ignore = BURST_ERROR_INIT;
	char *sel;
	size_t best = SIZE_MAX;
	int ret = -1;
	int64_t remembered = 0;

	volume_labels(o, &want);
	hcloud_labels_set(&want, "role", "volume");
	sel = hcloud_labels_selector(&want);
	if (hcloud_volumes_list(api, NULL, sel, &vols, err) < 0) {
		burst_error_prefix(err, "looking for the project's volume");
		goto out;
	}
	if (state_project_get(o->state, o->project_hash, &proj, &ignore) == 1)
		remembered = proj.volume_hcloud_id;
	for (size_t i = 0; i < vols.nr; i++) {
		if (names)
			strvec_push(names, vols.v[i].name);
		if (vols.v[i].id == remembered) {
			best = i;
			break;
		}
		if (best == SIZE_MAX || vols.v[i].created > vols.v[best].created)
			best = i;
	}
	/* names must hold every name even after an early break */
	for (size_t i = 0; names && i < vols.nr; i++)
		if (strvec_find(names, vols.v[i].name) < 0)
			strvec_push(names, vols.v[i].name);
	ret = 0;
	if (best != SIZE_MAX) {
		*out = vols.v[best];
		/* moved out of the list: zero the slot so release skips it */
		memset(&vols.v[best], 0, sizeof(vols.v[best]));
		ret = 1;
	}
out:
	hcloud_volumes_release(&vols);
	hcloud_labels_release(&want);
	state_project_release(&proj);
	burst_error_release(&ignore);
	free(sel);
	return ret;
}

/*
 * A name for a new volume of the project that no volume of it uses yet.
 * Volume names are unique per Hetzner project (account), and two machines
 * of one user can have a workspace at the same path: the hash in the name
 * covers the owner too, while the `project` label stays the path's hash.
 */
static char *new_volume_name(const struct provision_opts *o, const char *location,
			     const struct strvec *taken)
{
	char hash[PROVISION_HASH_LEN + 1];
	char *name;

	project_volume_hash(o->owner_id, o->project_hash, hash);
	name = provision_volume_name(o->workspace_root, hash, NULL, o->arch);
	if (strvec_find(taken, name) >= 0) {
		free(name);
		name = provision_volume_name(o->workspace_root, hash, location, o->arch);
	}
	return name;
}

static int attach_volume(struct hcloud *api, const struct hcloud_volume *v,
			 int64_t server_id, struct burst_error *err)
{
	struct hcloud_action act = { 0 };
	int ret = -1;

	if (v->server == server_id)
		return 0;
	if (v->server) {
		/* still attached to a server that is going away */
		if (hcloud_volume_detach(api, v->id, &act, err) < 0)
			goto out;
		if (act.id && hcloud_actions_wait(api, &act.id, 1,
						  burst_now_ms() + ACTION_DEADLINE_MS,
						  NULL, NULL, err) < 0)
			goto out;
		hcloud_action_release(&act);
	}
	if (hcloud_volume_attach(api, v->id, server_id, &act, err) < 0)
		goto out;
	if (act.id && hcloud_actions_wait(api, &act.id, 1,
					  burst_now_ms() + ACTION_DEADLINE_MS,
					  NULL, NULL, err) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		burst_error_prefix(err, "attaching volume '%s'", v->name);
	hcloud_action_release(&act);
	return ret;
}

/* Record a volume that exists now as the project's (and say what happened). */
static int record_volume(const struct provision_opts *o, const struct hcloud_volume *v,
			 bool created, struct burst_error *err)
{
	struct burst_error ignore = BURST_ERROR_INIT;

	if (created) {
		struct state_event ev = { 0 };

		ev.kind = "provisioned";
		ev.resource_kind = "volume";
		ev.resource_id = v->id;
		ev.resource_name = v->name;
		ev.size_gb = v->size;
		ev.details = v->location;
		state_event_add(o->state, &ev, &ignore);
		burst_error_release(&ignore);
	}
	if (state_project_set_volume(o->state, o->project_hash, v->id, v->name,
				     v->location, v->size, err) < 0)
		return -1;
	return 0;
}

/*
 * Create a volume in location attached to server_id (one POST with
 * `server`), with an intent row; synchronous.  Used when the server landed
 * away from the volume.
 */
static int create_attached_volume(const struct provision_opts *o, const char *name,
				  const char *location, int64_t server_id,
				  struct hcloud_volume *out, struct burst_error *err)
{
	struct hcloud_labels labels = HCLOUD_LABELS_INIT;
	struct hcloud_volume_opts vo = { 0 };
	struct hcloud_volume_created vc = { 0 };
	struct burst_error ignore = BURST_ERROR_INIT;
	char *lj;
	int64_t intent = 0;
	int ret = -1;

	volume_labels(o, &labels);
	lj = provision_labels_json(&labels);
	if (state_intent_begin(o->state, STATE_INTENT_VOLUME, name, lj, &intent, err) < 0)
		goto out;
	vo.name = name;
	vo.size = o->volume_gb;
	vo.location = location;
	vo.format = "ext4";
	vo.labels = &labels;
	vo.server = server_id;
	if (hcloud_volume_create(o->api, &vo, &vc, err) < 0) {
		state_intent_failed(o->state, intent, err->message, &ignore);
		goto out;
	}
	state_intent_done(o->state, intent, vc.volume.id, &ignore);
	if (hcloud_volume_wait_created(o->api, &vc, burst_now_ms() + ACTION_DEADLINE_MS,
				       NULL, NULL, err) < 0)
		goto out;
	*out = vc.volume;
	memset(&vc.volume, 0, sizeof(vc.volume));
	if (!out->server)
		out->server = server_id;
	ret = 0;
out:
	if (ret < 0)
		burst_error_prefix(err, "creating volume '%s' in %s", name, location);
	hcloud_volume_created_release(&vc);
	hcloud_labels_release(&labels);
	burst_error_release(&ignore);
	free(lj);
	return ret;
}

int provision_project_volume(const struct provision_opts *o,
			     const struct provision_server *srv,
			     struct provision_volume *vol, struct burst_error *err)
{
	struct hcloud_volume v = { 0 };
	struct strvec names = STRVEC_INIT;
	int found, ret = -1;
	bool created = false, moved = false;

	found = find_project_volume(o->api, o, &v, &names, err);
	if (found < 0)
		goto out;
	if (found && strcmp(v.location ? v.location : "", srv->location)) {
		ui_info("Moving", "project to %s (its volume is in %s): the first "
			"build there is cold; the old volume stays until its reaper "
			"deletes it", srv->location, v.location ? v.location : "?");
		hcloud_volume_release(&v);
		found = 0;
		moved = true;
	}
	if (!found) {
		char *name = new_volume_name(o, srv->location, &names);

		ui_status("Creating", "volume '%s' (%lld GB) in %s", name,
			  (long long)o->volume_gb, srv->location);
		ret = create_attached_volume(o, name, srv->location, srv->hcloud_id, &v, err);
		free(name);
		if (ret < 0)
			goto out;
		ret = -1;
		created = true;
	} else if (attach_volume(o->api, &v, srv->hcloud_id, err) < 0) {
		goto out;
	}
	if (record_volume(o, &v, created, err) < 0)
		goto out;
	vol->hcloud_id = v.id;
	vol->name = xstrdup(v.name);
	vol->location = xstrdup(v.location);
	vol->created = created;
	vol->moved = moved;
	ret = 0;
out:
	hcloud_volume_release(&v);
	strvec_clear(&names);
	return ret;
}

/* ---- the server ---------------------------------------------------------- */

struct wait_progress {
	const char *what;
	uint64_t t0;
};

static void server_progress(const struct hcloud_actions *actions, void *data)
{
	struct wait_progress *wp = data;
	int progress = 0;

	for (size_t i = 0; i < actions->nr; i++)
		progress += actions->v[i].progress;
	if (actions->nr)
		progress /= (int)actions->nr;
	ui_progress("Provisioning", "%s (%llus, %d%%)", wp->what,
		    (unsigned long long)((burst_now_ms() - wp->t0) / 1000), progress);
}

static void ssh_progress(unsigned elapsed, void *data)
{
	const char *ip = data;

	ui_progress("Waiting", "for ssh on %s (%us)", ip, elapsed);
}

/*
 * Does a server create error refuse what a field names (an invalid_input
 * or not_found naming the field, or the word in the message)?
 */
static bool create_refused(const struct burst_error *err, const char *field,
			   const char *word)
{
	char *quoted;
	bool named;

	if (!err->api_code || (strcmp(err->api_code, "invalid_input") &&
			       strcmp(err->api_code, "not_found")))
		return false;
	quoted = xstrfmt("\"%s\"", field);
	named = (err->api_details && strstr(err->api_details, quoted)) ||
		(err->api_message && strstr(err->api_message, word));
	free(quoted);
	return named;
}

/* Create the project's volume in the server's location (intent first). */
static int create_volume(const struct provision_opts *o, const char *name,
			 const char *location, struct hcloud_volume_created *vc,
			 uint64_t *posted_ms, struct burst_error *err)
{
	struct hcloud_labels labels = HCLOUD_LABELS_INIT;
	struct hcloud_volume_opts vo = { 0 };
	struct burst_error ignore = BURST_ERROR_INIT;
	char *lj;
	int64_t intent = 0;
	int ret = -1;

	volume_labels(o, &labels);
	lj = provision_labels_json(&labels);
	if (state_intent_begin(o->state, STATE_INTENT_VOLUME, name, lj, &intent, err) < 0)
		goto out;
	vo.name = name;
	vo.size = o->volume_gb;
	vo.location = location;
	vo.format = "ext4";
	vo.labels = &labels;
	if (hcloud_volume_create(o->api, &vo, vc, err) < 0) {
		state_intent_failed(o->state, intent, err->message, &ignore);
		burst_error_prefix(err, "creating volume '%s' in %s", name, location);
		goto out;
	}
	*posted_ms = burst_now_ms();
	state_intent_done(o->state, intent, vc->volume.id, &ignore);
	ret = 0;
out:
	hcloud_labels_release(&labels);
	burst_error_release(&ignore);
	free(lj);
	return ret;
}

/*
 * A volume just created is the project's at once (before its actions
 * end): a run killed from here on leaves it to the volume reaper, and a
 * run that fails keeps it for the next one.
 */
static void record_created(const struct provision_opts *o,
			   const struct hcloud_volume_created *vc)
{
	struct burst_error e = BURST_ERROR_INIT;

	if (record_volume(o, &vc->volume, true, &e) < 0)
		log_warn(MOD, "recording volume %lld: %s", (long long)vc->volume.id, e.message);
	burst_error_release(&e);
}

/* The ids of a create's action and next actions, appended to ids. */
static void create_ids(const struct hcloud_action *action,
		       const struct hcloud_actions *next, int64_t **ids, size_t *n,
		       size_t *alloc)
{
	if (action->id) {
		ALLOC_GROW(*ids, *n + 1, *alloc);
		(*ids)[(*n)++] = action->id;
	}
	for (size_t i = 0; i < next->nr; i++) {
		if (!next->v[i].id)
			continue;
		ALLOC_GROW(*ids, *n + 1, *alloc);
		(*ids)[(*n)++] = next->v[i].id;
	}
}

/* Did one of a volume create's actions end in error? */
static bool volume_action_failed(const struct hcloud_waiter *w,
				 const struct hcloud_volume_created *vc)
{
	const struct hcloud_action *a = hcloud_waiter_action(w, vc->action.id);

	if (a && a->status && !strcmp(a->status, "error"))
		return true;
	for (size_t i = 0; i < vc->next_actions.nr; i++) {
		a = hcloud_waiter_action(w, vc->next_actions.v[i].id);
		if (a && a->status && !strcmp(a->status, "error"))
			return true;
	}
	return false;
}

/*
 * The id of the user's key in the API, remembered in the state directory
 * by endpoint and fingerprint (a file "ssh-key-<hash>" holding the id), so
 * a cold run needs no key lookup; a key deleted meanwhile is refused by
 * the create, which then registers it again.
 */
static char *key_cache_path(const struct provision_opts *o, const char *fp)
{
	char hash[PROVISION_HASH_LEN + 1];
	char *key = xstrfmt("%s\n%s", o->endpoint ? o->endpoint : "", fp);

	sha256_hex(key, strlen(key), hash, PROVISION_HASH_LEN);
	free(key);
	return xstrfmt("%s/ssh-key-%s", state_dir(o->state), hash);
}

static int64_t key_cache_get(const struct provision_opts *o, const char *fp)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = key_cache_path(o, fp), *end;
	long long id = 0;

	strbuf_set_max(&sb, 64);
	if (strbuf_read_file(&sb, path) >= 0) {
		errno = 0;
		id = strtoll(sb.buf, &end, 10);
		if (errno || end == sb.buf || id < 0)
			id = 0;
	}
	strbuf_release(&sb);
	free(path);
	return (int64_t)id;
}

static void key_cache_set(const struct provision_opts *o, const char *fp, int64_t id)
{
	char *path = key_cache_path(o, fp);
	char *tmp = xstrfmt("%s.%ld.tmp", path, (long)getpid());
	char *text = xstrfmt("%lld\n", (long long)id);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (!ok || rename(tmp, path) < 0) {
		log_debug(MOD, "cannot remember the ssh key id in %s", path);
		unlink(tmp);
	}
	free(path);
	free(tmp);
	free(text);
}

/*
 * The project's volume as the state knows it (id, name, location; assumed
 * detached): 1 known, 0 none, -1 error.  names gets its name.
 */
static int state_volume(const struct provision_opts *o, struct hcloud_volume *out,
			struct strvec *names, struct burst_error *err)
{
	struct state_project proj = { 0 };
	int found, ret = 0;

	found = state_project_get(o->state, o->project_hash, &proj, err);
	if (found < 0)
		return -1;
	if (found && proj.volume_hcloud_id && proj.volume_status == STATE_VOLUME_READY &&
	    proj.location && proj.volume_name) {
		out->id = proj.volume_hcloud_id;
		out->name = xstrdup(proj.volume_name);
		out->location = xstrdup(proj.location);
		out->size = proj.size_gb;
		strvec_push(names, proj.volume_name);
		ret = 1;
	}
	state_project_release(&proj);
	return ret;
}

/*
 * How long the cold path waits for ssh: o->ssh_deadline_ms, else
 * BURST_SSH_WAIT_SECS (1..3600; for tests), else 180 s.
 */
static uint64_t ssh_wait_ms(const struct provision_opts *o)
{
	const char *env = getenv("BURST_SSH_WAIT_SECS");
	int64_t secs;

	if (o->ssh_deadline_ms)
		return o->ssh_deadline_ms;
	if (env && parse_int64(env, 1, 3600, &secs) == 0)
		return (uint64_t)secs * 1000;
	return 180000;
}

/*
 * A new server whose sshd never answered (a broken image, a host
 * problem): delete it now, its volume detached first, rather than keep it
 * for its paid hour beside the one the next run would create.  On success
 * srv is emptied (nothing left to reap) and err gets the hint.
 */
static void discard_unreachable(const struct provision_opts *o, struct remote_host *host,
				struct provision_server *srv, struct hcloud_waiter *w,
				int64_t attach_id, struct burst_error *err)
{
	struct burst_error e = BURST_ERROR_INIT;

	/* an attach still running locks the volume: let it end first */
	if (attach_id && hcloud_waiter_wait(w, &attach_id, 1, burst_now_ms() + 60000,
					    NULL, NULL, &e) < 0)
		log_debug(MOD, "waiting for the attach: %s", e.message);
	burst_error_release(&e);
	ui_status("Deleting", "server '%s': it never answered ssh", srv->name);
	if (provision_server_discard(o->api, o->state, srv->row_id, srv->hcloud_id, srv->name,
				     "server", "unreachable", &e) < 0) {
		ui_warn("%s; its reaper will delete it", e.message);
		burst_error_release(&e);
		return;
	}
	remote_known_hosts_forget(host->known_hosts, srv->ip, host->port ? host->port : 22, &e);
	burst_error_release(&e);
	burst_error_hint(err, "server '%s' never answered ssh (a broken image or a host "
			 "problem), so it was deleted; run again, and if it repeats, bake "
			 "the image again with `cargo burst image build`", srv->name);
	provision_server_release(srv);
}

int provision_recover_half_done(const struct provision_opts *o, struct remote_host *host,
				int64_t row_id, int64_t hcloud_id, const char *name,
				struct burst_error *err)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct hcloud_server hs = { 0 };
	bool running;

	/* one look: a server that is not running (its start failed) goes at once */
	if (hcloud_server_get(o->api, hcloud_id, &hs, err) < 0) {
		if (!err->api_code || strcmp(err->api_code, "not_found"))
			return -1;
		burst_error_release(err);
	}
	running = hs.status && !strcmp(hs.status, "running");
	hcloud_server_release(&hs);
	if (running) {
		ui_status("Waiting", "for ssh on server '%s' (a run left it unfinished)", name);
		if (remote_wait_ready(host, burst_now_ms() + ssh_wait_ms(o), ssh_progress,
				      host->host, &e) == 0)
			return 1;
		if (e.exit_code == BURST_EXIT_INTERRUPTED || proc_interrupted()) {
			burst_error_move(err, &e);
			return -1;
		}
		log_debug(MOD, "server '%s': %s", name, e.message);
		burst_error_release(&e);
	}
	ui_status("Deleting", "server '%s': it never became ready", name);
	if (provision_server_discard(o->api, o->state, row_id, hcloud_id, name, "server",
				     "unreachable", err) < 0)
		return -1;
	return 0;
}

/* What the cold path's create hooks share. */
struct cold_create {
	const struct provision_opts *o;
	int found;                     /* the project's volume is known */
	struct hcloud_volume *found_vol;
	struct strvec *names;
	bool try_vol;                  /* false once `volumes` was refused */
	bool with_vol;                 /* this attempt has the volume in it */
	int64_t key_id;                /* registered by this run (0: remembered) */
	char **key_ref;
	const char **key_refs;
	const char *fp;
};

/* A free volume in this location goes in with the create. */
static void cold_prepare(void *data, struct hcloud_server_opts *so)
{
	struct cold_create *cc = data;
	const struct hcloud_volume *v = cc->found_vol;

	cc->with_vol = cc->try_vol && cc->found && !v->server && v->location &&
		       !strcmp(v->location, so->location);
	so->volumes = cc->with_vol ? &v->id : NULL;
	so->nr_volumes = cc->with_vol ? 1 : 0;
}

/* "Provisioning <type> in <location> (<price>/h, billed per started hour)" */
static void cold_announce(void *data, const char *location)
{
	struct cold_create *cc = data;
	char *price = provision_price_note(cc->o, location);

	ui_status("Provisioning", "%s in %s%s", cc->o->server_type, location, price);
	free(price);
}

/*
 * The cold path's own recoveries: a remembered ssh key id that is gone
 * (register the key again) and a volume that cannot go in with the create
 * (busy or gone: ask the API, create without it, attach later).
 */
static int cold_refused(void *data, struct hcloud_server_opts *so, struct burst_error *err)
{
	struct cold_create *cc = data;
	const struct provision_opts *o = cc->o;

	if (!cc->key_id && create_refused(err, "ssh_keys", "ssh key")) {
		log_debug(MOD, "ssh key '%s' refused at create: %s", *cc->key_ref, err->message);
		burst_error_release(err);
		if (provision_ensure_ssh_key(o->api, o->state, o->owner_id,
					     o->ssh_pub_key_path, &cc->key_id, err) < 0)
			return -1;
		key_cache_set(o, cc->fp, cc->key_id);
		free(*cc->key_ref);
		*cc->key_ref = xstrfmt("%lld", (long long)cc->key_id);
		cc->key_refs[0] = *cc->key_ref;
		(void)so;
		return 1;
	}
	if (cc->with_vol && create_refused(err, "volumes", "volume")) {
		log_debug(MOD, "volume %lld refused at create: %s", (long long)cc->found_vol->id,
			  err->message);
		burst_error_release(err);
		cc->try_vol = false;
		hcloud_volume_release(cc->found_vol);
		strvec_clear(cc->names);
		cc->found = find_project_volume(o->api, o, cc->found_vol, cc->names, err);
		return cc->found < 0 ? -1 : 1;
	}
	return 0;
}

/*
 * The cold path, timed for its critical path: the lookups, then POST
 * /servers at once (with the project's volume in `volumes` when it is free
 * in that location: attached at create, no attach step), the volume created
 * (when needed) right after in the location the server got, every action of
 * both awaited by one waiter (one GET /actions per poll, timed from their
 * progress), the attach sent the moment the server is unlocked, and the ssh
 * wait while the attach runs.
 */
int provision_cold(const struct provision_opts *o, struct remote_host *host,
		   struct provision_server *srv, struct provision_volume *vol,
		   struct burst_error *err)
{
	struct strvec order = STRVEC_INIT, names = STRVEC_INIT;
	struct hcloud_labels slabels = HCLOUD_LABELS_INIT;
	struct hcloud_volume_created vc = { 0 };
	struct hcloud_server_opts so = { 0 };
	struct hcloud_action attach = { 0 };
	struct hcloud_waiter *w = NULL;
	struct strbuf user_data = STRBUF_INIT;
	struct state_server row = { 0 };
	struct hcloud_volume found_vol = { 0 }, v = { 0 };
	struct provision_create pc = { 0 };
	struct provision_created made = { 0 };
	struct cold_create cc = { 0 };
	struct wait_progress wp;
	char *host_priv = NULL, *host_pub = NULL, *sold_hint = NULL;
	char *key_ref = NULL, *image_ref = NULL, *name = NULL, *keyfile = NULL;
	char *vname = NULL, *fp = NULL;
	const char *key_refs[1];
	int64_t image_id = 0, key_id = 0;
	int64_t *ids = NULL;
	size_t nr_ids = 0, alloc_ids = 0;
	bool created = false, moved = false, vol_at_create = false;
	uint64_t t0 = burst_now_ms(), posted = 0, vol_posted = 0, deadline;
	char dur[32];
	int found, rc, ret = -1;

	if (provision_find_image(o->api, o->owner_id, o->arch, &image_id, err) < 0)
		goto out;

	/*
	 * The project's volume decides where to go first.  The state knows it
	 * (before a cold run, the sweep adopts labelled resources the state
	 * forgot; a lost database is rebuilt from labels), so no lookup here:
	 * the creates check what the state says (`volumes` refused, or the
	 * volume name taken: look it up by label then).
	 */
	found = state_volume(o, &found_vol, &names, err);
	if (found < 0)
		goto out;
	provision_location_order(found ? found_vol.location : NULL, o->regions, &order);
	if (!order.nr) {
		burst_error_set(err, BURST_EXIT_CONFIG, "no location to create the server in");
		burst_error_hint(err, "set [hetzner] regions in the config");
		goto out;
	}

	/*
	 * The user's key by the id remembered from its registration: no lookup
	 * (the create refuses a key deleted meanwhile: register it again).
	 */
	fp = provision_key_fingerprint(o->ssh_pub_key_path, err);
	if (!fp)
		goto out;
	if (!key_cache_get(o, fp)) {
		if (provision_ensure_ssh_key(o->api, o->state, o->owner_id,
					     o->ssh_pub_key_path, &key_id, err) < 0)
			goto out;
		key_cache_set(o, fp, key_id);
	}
	key_ref = xstrfmt("%lld", (long long)(key_id ? key_id : key_cache_get(o, fp)));
	keyfile = xstrfmt("hostkey-%ld", (long)getpid());
	if (remote_hostkey_generate(o->scratch_dir, keyfile, &host_priv, &host_pub, err) < 0)
		goto out;
	if (remote_cloud_config(host_priv, host_pub, &user_data) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "the cloud-config user_data is too large");
		goto out;
	}

	provision_labels(&slabels, "server", o->owner_id, NULL);
	hcloud_labels_set(&slabels, "arch", provision_arch_is_arm(o->arch) ? "arm64" : "x86");
	name = provision_server_name(o->owner_id, state_now());
	image_ref = xstrfmt("%lld", (long long)image_id);
	key_refs[0] = key_ref;
	so.name = name;
	so.server_type = o->server_type;
	so.image = image_ref;
	so.ssh_keys = key_refs;
	so.nr_ssh_keys = 1;
	so.user_data = user_data.buf;
	so.labels = &slabels;
	cc.o = o;
	cc.found = found;
	cc.found_vol = &found_vol;
	cc.names = &names;
	cc.try_vol = true;
	cc.key_id = key_id;
	cc.key_ref = &key_ref;
	cc.key_refs = key_refs;
	cc.fp = fp;
	sold_hint = xstrfmt("every configured location is sold out for %s: add regions "
			    "or pick another server_type", o->server_type);
	row.image_id = image_id;
	row.host_key_pub = host_pub;
	row.host_key_path = host->known_hosts;
	row.status = STATE_SERVER_PROVISIONING;
	row.keep_alive_secs = o->keep_alive_secs;
	row.no_reap = o->no_reap;
	pc.api = o->api;
	pc.state = o->state;
	pc.owner_id = o->owner_id;
	pc.role = "server";
	pc.so = &so;
	pc.locations = &order;
	pc.limit = o->max_servers;
	pc.rename = true;
	pc.announce = cold_announce;
	pc.prepare = cold_prepare;
	pc.refused = cold_refused;
	pc.data = &cc;
	pc.sold_out_hint = sold_hint;
	pc.row = &row;
	rc = provision_server_create(&pc, &made, err);
	found = cc.found;
	if (made.row_id)
		srv->row_id = made.row_id;
	if (rc < 0) {
		/* one that exists still: the caller tells the user about it */
		if (made.sc.server.id) {
			srv->hcloud_id = made.sc.server.id;
			srv->name = xstrdup(made.name ? made.name : name);
		}
		goto out;
	}
	posted = made.posted_ms;
	vol_at_create = cc.with_vol;
	if (vol_at_create && made.sc.recovered) {
		vol_at_create = false;
		for (size_t k = 0; k < made.sc.server.nr_volumes; k++)
			if (made.sc.server.volumes[k] == found_vol.id)
				vol_at_create = true;
	}
	srv->hcloud_id = made.sc.server.id;
	srv->name = xstrdup(made.name);
	srv->ip = xstrdup(made.sc.server.ipv4);
	srv->location = xstrdup(made.location);
	srv->host_key_pub = xstrdup(host_pub);
	state_event_note(o->state, "provisioned", "server", srv->hcloud_id, srv->name, NULL,
			 srv->location);

	/* pin the host key before anything connects */
	if (remote_known_hosts_pin(host->known_hosts, srv->ip, host->port ? host->port : 22,
				   host_pub, err) < 0)
		goto out;
	/*
	 * A Ctrl-C while the create was sent: the server is recorded (its
	 * reaper takes it, or the next run); no volume, no wait for it.
	 */
	if (proc_interrupted()) {
		burst_error_set(err, BURST_EXIT_INTERRUPTED, "interrupted while creating server '%s'",
				srv->name);
		goto out;
	}

	/* the project's volume in the location the server got: create it now */
	if (!found || strcmp(found_vol.location ? found_vol.location : "", srv->location)) {
		if (found) {
			moved = true;
			ui_info("Moving", "project to %s (its volume is in %s): the first "
				"build there is cold; the old volume stays until its reaper "
				"deletes it", srv->location,
				found_vol.location ? found_vol.location : "?");
			if (strvec_find(&names, found_vol.name) < 0)
				strvec_push(&names, found_vol.name);
		}
		vname = new_volume_name(o, srv->location, &names);
		ui_status("Creating", "volume '%s' (%lld GB) in %s", vname,
			  (long long)o->volume_gb, srv->location);
		if (create_volume(o, vname, srv->location, &vc, &vol_posted, err) < 0) {
			/* a volume of the project the state did not know: look */
			if (!err->api_code || strcmp(err->api_code, "uniqueness_error"))
				goto out;
			log_debug(MOD, "volume name '%s' taken: %s", vname, err->message);
			burst_error_release(err);
			hcloud_volume_release(&found_vol);
			strvec_clear(&names);
			found = find_project_volume(o->api, o, &found_vol, &names, err);
			if (found < 0)
				goto out;
			free(vname);
			vname = NULL;
			if (!found || strcmp(found_vol.location ? found_vol.location : "",
					     srv->location)) {
				if (found && strvec_find(&names, found_vol.name) < 0)
					strvec_push(&names, found_vol.name);
				vname = new_volume_name(o, srv->location, &names);
				if (create_volume(o, vname, srv->location, &vc, &vol_posted,
						  err) < 0)
					goto out;
				created = true;
				record_created(o, &vc);
			} else {
				moved = false;
			}
		} else {
			created = true;
			record_created(o, &vc);
		}
	}

	/* both creates' actions, one poll for all (none after a Ctrl-C meanwhile) */
	if (proc_interrupted()) {
		burst_error_set(err, BURST_EXIT_INTERRUPTED, "interrupted while creating server '%s'",
				srv->name);
		goto out;
	}
	w = hcloud_waiter_new(o->api);
	hcloud_waiter_add(w, made.sc.action.id, posted);
	if (created)
		hcloud_waiter_add(w, vc.action.id, vol_posted);
	create_ids(&made.sc.action, &made.sc.next_actions, &ids, &nr_ids, &alloc_ids);
	if (created)
		create_ids(&vc.action, &vc.next_actions, &ids, &nr_ids, &alloc_ids);
	wp.what = srv->name;
	wp.t0 = t0;
	if (hcloud_waiter_wait(w, ids, nr_ids, burst_now_ms() + ACTION_DEADLINE_MS,
			       server_progress, &wp, err) < 0) {
		if (created && volume_action_failed(w, &vc))
			burst_error_prefix(err, "creating volume '%s'", vc.volume.name);
		else
			burst_error_prefix(err, "starting server '%s'", srv->name);
		goto out;
	}
	if (made.sc.recovered &&
	    hcloud_server_wait_created(o->api, &made.sc, burst_now_ms() + ACTION_DEADLINE_MS,
				       server_progress, &wp, err) < 0) {
		burst_error_prefix(err, "starting server '%s'", srv->name);
		goto out;
	}
	if (created && vc.recovered &&
	    hcloud_volume_wait_created(o->api, &vc, burst_now_ms() + ACTION_DEADLINE_MS,
				       NULL, NULL, err) < 0) {
		burst_error_prefix(err, "creating volume '%s'", vc.volume.name);
		goto out;
	}
	if (created) {
		v = vc.volume;
		memset(&vc.volume, 0, sizeof(vc.volume));
		free(v.status);
		v.status = xstrdup("available");
	} else {
		v = found_vol;
		memset(&found_vol, 0, sizeof(found_vol));
	}

	/* the server is unlocked now: attach at once (unless it went in with the create) */
	if (vol_at_create) {
		v.server = srv->hcloud_id;
	} else if (v.server && v.server != srv->hcloud_id) {
		if (attach_volume(o->api, &v, srv->hcloud_id, err) < 0)
			goto out;
		v.server = srv->hcloud_id;
	} else if (v.server != srv->hcloud_id) {
		if (hcloud_volume_attach(o->api, v.id, srv->hcloud_id, &attach, err) < 0) {
			burst_error_prefix(err, "attaching volume '%s'", v.name);
			goto out;
		}
		hcloud_waiter_add(w, attach.id, burst_now_ms());
	}

	/* ssh while the attach runs */
	free(host->host);
	host->host = xstrdup(srv->ip);
	if (o->control_dir && remote_host_set_control_dir(host, o->control_dir, err) < 0)
		goto out;
	deadline = burst_now_ms() + ssh_wait_ms(o);
	if (remote_wait_ready(host, deadline, ssh_progress, srv->ip, err) < 0) {
		if (err->exit_code == BURST_EXIT_REMOTE && !proc_interrupted())
			discard_unreachable(o, host, srv, w, attach.id, err);
		goto out;
	}
	if (attach.id) {
		if (hcloud_waiter_wait(w, &attach.id, 1, burst_now_ms() + ACTION_DEADLINE_MS,
				       NULL, NULL, err) < 0) {
			burst_error_prefix(err, "attaching volume '%s'", v.name);
			goto out;
		}
		v.server = srv->hcloud_id;
	}
	log_debug(MOD, "cold provisioning: %u action polls, %llu ms",
		  hcloud_waiter_polls(w), (unsigned long long)(burst_now_ms() - t0));

	if (record_volume(o, &v, false, err) < 0)
		goto out;
	vol->hcloud_id = v.id;
	vol->name = xstrdup(v.name);
	vol->location = xstrdup(v.location);
	vol->created = created;
	vol->moved = moved;

	if (state_server_set_status(o->state, srv->row_id, STATE_SERVER_READY, err) < 0)
		goto out;
	ui_progress_done("Provisioned", "server '%s' (%s, %s) in %s", srv->name,
			 o->server_type, srv->location,
			 ui_duration(dur, sizeof(dur), burst_now_ms() - t0));
	ret = 0;
out:
	hcloud_waiter_free(w);
	free(ids);
	strvec_clear(&order);
	strvec_clear(&names);
	hcloud_labels_release(&slabels);
	provision_created_release(&made);
	hcloud_volume_created_release(&vc);
	hcloud_action_release(&attach);
	hcloud_volume_release(&found_vol);
	hcloud_volume_release(&v);
	strbuf_release(&user_data);
	free(host_priv);
	free(host_pub);
	free(sold_hint);
	free(key_ref);
	free(image_ref);
	free(name);
	free(keyfile);
	free(vname);
	free(fp);
	return ret;
}

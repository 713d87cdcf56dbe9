/*
 * ops.c - deleting one server or one volume through the API, the way the
 * reapers, the sweep and `down` all do it: our labels checked first,
 * volumes unmounted on the server before they are detached, detach awaited
 * before delete, every action awaited.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/layout.h"
#include "burst/log.h"
#include "burst/proc.h"
#include "burst/reaper.h"
#include "burst/remote.h"
#include "burst/state.h"
#include "burst/strbuf.h"

#include "reaper-int.h"

bool reaper_labels_ours(const struct hcloud_labels *l, const char *owner)
{
	const char *m = hcloud_labels_get(l, "managed-by");
	const char *o = hcloud_labels_get(l, "owner");

	return m && o && owner && !strcmp(m, "cargo-burst") && !strcmp(o, owner);
}

bool reaper_error_not_found(const struct burst_error *err)
{
	return err->http_status == 404 || (err->api_code && !strcmp(err->api_code, "not_found"));
}

bool reaper_error_needs_human(const struct burst_error *err)
{
	static const char *const codes[] = { "unauthorized", "forbidden", "protected",
					     "token_readonly", "maintenance", "not_ours" };

	if (err->exit_code == BURST_EXIT_CONFIG)
		return true;
	if (err->http_status == 401 || err->http_status == 403)
		return true;
	for (size_t i = 0; err->api_code && i < ARRAY_SIZE(codes); i++)
		if (!strcmp(err->api_code, codes[i]))
			return true;
	return false;
}

const char *reaper_config_endpoint(const struct burst_config *cfg)
{
	return cfg && cfg->endpoint && *cfg->endpoint ? cfg->endpoint : HCLOUD_DEFAULT_ENDPOINT;
}

struct hcloud *reaper_api_for(struct hcloud *api, const struct burst_config *cfg,
			      const char *endpoint, struct hcloud **own, struct burst_error *err)
{
	*own = NULL;
	if (!endpoint || !*endpoint || !strcmp(endpoint, reaper_config_endpoint(cfg)))
		return api;
	if (!cfg || !cfg->token) {
		burst_error_set(err, BURST_EXIT_CONFIG, "no API token for the endpoint '%s' the "
				"resource was created on", endpoint);
		burst_error_hint(err, "set HCLOUD_TOKEN or hetzner.token in the global config");
		return NULL;
	}
	log_debug(MOD, "using the recorded endpoint %s (the config says %s)", endpoint,
		  reaper_config_endpoint(cfg));
	*own = hcloud_new(endpoint, cfg->token, err);
	return *own;
}

void reaper_wake(pid_t pid)
{
	if (pid > 0)
		kill(pid, SIGUSR1);
}

char *reaper_known_hosts_path(struct burst_state *st)
{
	return layout_known_hosts(state_dir(st));
}

char *reaper_pinned_key(struct burst_state *st, const char *ip, int port)
{
	struct strbuf text = STRBUF_INIT;
	char *path = reaper_known_hosts_path(st), *host, *ret = NULL;
	const char *p;

	if (!ip)
		goto out;
	host = port && port != 22 ? xstrfmt("[%s]:%d ", ip, port) : xstrfmt("%s ", ip);
	if (strbuf_read_file(&text, path) >= 0) {
		for (p = text.buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			const char *end = strchr(p, '\n');

			if (!strncmp(p, host, strlen(host))) {
				size_t n = end ? (size_t)(end - p) : strlen(p);

				ret = xstrndup(p + strlen(host), n - strlen(host));
				break;
			}
		}
	}
	free(host);
out:
	strbuf_release(&text);
	free(path);
	return ret;
}

/* Unmount a project's volume on the server at ip (best effort). */
static void remote_unmount(struct reaper_ops *o, const char *ip, const char *project)
{
	struct remote_host h = REMOTE_HOST_INIT;
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf script = STRBUF_INIT, cmd = STRBUF_INIT;
	char *mnt = layout_cache_dir(project, false);

	remote_host_server(&h, o->cfg ? o->cfg->ssh_user : NULL, o->cfg ? (int)o->cfg->ssh_port : 0,
			   o->cfg ? o->cfg->ssh_key_path : NULL, state_dir(o->st), ip);
	h.connect_timeout_secs = 5;
	remote_umount_script(mnt, &script);
	strbuf_addstr(&cmd, "sh -c ");
	remote_shell_quote(&cmd, script.buf);
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_NULL;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 16 * 1024;
	cp.timeout_ms = REAPER_UMOUNT_TIMEOUT_MS;
	if (remote_run(&h, cmd.buf, &cp, &err) < 0)
		log_warn(MOD, "unmounting %s on %s: %s", mnt, ip, err.message);
	else if (cp.exit_code != 0)
		log_warn(MOD, "unmounting %s on %s failed (status %d): %s", mnt, ip,
			 cp.exit_code, cp.err_buf.buf);
	else
		log_info(MOD, "unmounted %s on %s", mnt, ip);
	burst_error_release(&err);
	child_process_release(&cp);
	remote_host_release(&h);
	strbuf_release(&script);
	strbuf_release(&cmd);
	free(mnt);
}

/* Detach volume v (attached to a server) and await the action. */
static int detach_volume(struct reaper_ops *o, const struct hcloud_volume *v,
			 struct burst_error *err)
{
	struct hcloud_action a = { 0 };
	struct hcloud_volume again = { 0 };
	int ret = -1;

	if (hcloud_volume_detach(o->api, v->id, &a, err) < 0)
		goto check;
	if (a.id && hcloud_actions_wait(o->api, &a.id, 1, burst_now_ms() +
					REAPER_ACTION_DEADLINE_MS, NULL, NULL, err) < 0)
		goto check;
	log_info(MOD, "detached volume %lld from server %lld", (long long)v->id,
		 (long long)v->server);
	ret = 0;
	goto out;
check:
	/* detached meanwhile (the server went away, or someone else did it)? */
	{
		struct burst_error e2 = BURST_ERROR_INIT;

		if (hcloud_volume_get(o->api, v->id, &again, &e2) == 0 && !again.server) {
			burst_error_release(err);
			ret = 0;
		} else if (reaper_error_not_found(&e2)) {
			burst_error_release(err);
			ret = 0;
		}
		burst_error_release(&e2);
	}
out:
	hcloud_action_release(&a);
	hcloud_volume_release(&again);
	return ret;
}

int reaper_delete_volume(struct reaper_ops *o, int64_t hcloud_id, bool *gone_before,
			 struct burst_error *err)
{
	struct hcloud_volume v = { 0 };
	struct hcloud_server s = { 0 };
	int ret = -1;

	*gone_before = false;
	if (hcloud_volume_get(o->api, hcloud_id, &v, err) < 0) {
		if (reaper_error_not_found(err)) {
			burst_error_release(err);
			*gone_before = true;
			ret = 0;
		}
		goto out;
	}
	if (!reaper_labels_ours(&v.labels, o->owner)) {
		burst_error_set(err, BURST_EXIT_API, "volume %lld ('%s') does not carry our "
				"labels (managed-by=cargo-burst, owner=%s): not deleting it",
				(long long)hcloud_id, v.name ? v.name : "?", o->owner);
		free(err->api_code);
		err->api_code = xstrdup("not_ours"); /* a human must look */
		goto out;
	}
	if (v.server) {
		struct burst_error e2 = BURST_ERROR_INIT;
		const char *project = hcloud_labels_get(&v.labels, "project");

		if (project && hcloud_server_get(o->api, v.server, &s, &e2) == 0 && s.ipv4 &&
		    s.status && !strcmp(s.status, "running"))
			remote_unmount(o, s.ipv4, project);
		burst_error_release(&e2);
		if (detach_volume(o, &v, err) < 0)
			goto out;
	}
	if (hcloud_volume_delete(o->api, hcloud_id, err) < 0) {
		if (!reaper_error_not_found(err))
			goto out;
		burst_error_release(err);
	}
	log_info(MOD, "deleted volume %lld ('%s')", (long long)hcloud_id, v.name ? v.name : "?");
	if (o->report)
		strbuf_addf(o->report, "Deleted volume '%s' (%lld, %lld GB, %s)\n",
			    v.name ? v.name : "?", (long long)hcloud_id, (long long)v.size,
			    v.location ? v.location : "?");
	ret = 0;
out:
	hcloud_volume_release(&v);
	hcloud_server_release(&s);
	return ret;
}

int reaper_delete_server(struct reaper_ops *o, int64_t hcloud_id, bool *gone_before,
			 struct burst_error *err)
{
	struct hcloud_server s = { 0 };
	struct hcloud_action a = { 0 };
	bool running;
	int ret = -1;

	*gone_before = false;
	if (hcloud_server_get(o->api, hcloud_id, &s, err) < 0) {
		if (reaper_error_not_found(err)) {
			burst_error_release(err);
			*gone_before = true;
			ret = 0;
		}
		goto out;
	}
	if (!reaper_labels_ours(&s.labels, o->owner)) {
		burst_error_set(err, BURST_EXIT_API, "server %lld ('%s') does not carry our "
				"labels (managed-by=cargo-burst, owner=%s): not deleting it",
				(long long)hcloud_id, s.name ? s.name : "?", o->owner);
		free(err->api_code);
		err->api_code = xstrdup("not_ours"); /* a human must look */
		goto out;
	}
	running = s.status && !strcmp(s.status, "running") && s.ipv4;
	for (size_t i = 0; i < s.nr_volumes; i++) {
		struct hcloud_volume v = { 0 };
		struct burst_error e2 = BURST_ERROR_INIT;

		if (hcloud_volume_get(o->api, s.volumes[i], &v, &e2) < 0) {
			if (!reaper_error_not_found(&e2)) {
				burst_error_move(err, &e2);
				hcloud_volume_release(&v);
				goto out;
			}
		} else if (reaper_labels_ours(&v.labels, o->owner) && v.server == hcloud_id) {
			const char *project = hcloud_labels_get(&v.labels, "project");

			if (running && project)
				remote_unmount(o, s.ipv4, project);
			if (detach_volume(o, &v, &e2) < 0) {
				burst_error_move(err, &e2);
				hcloud_volume_release(&v);
				goto out;
			}
		}
		burst_error_release(&e2);
		hcloud_volume_release(&v);
	}
	if (hcloud_server_delete(o->api, hcloud_id, &a, err) < 0) {
		if (!reaper_error_not_found(err))
			goto out;
		burst_error_release(err);
	} else if (a.id && hcloud_actions_wait(o->api, &a.id, 1, burst_now_ms() +
					       REAPER_ACTION_DEADLINE_MS, NULL, NULL, err) < 0) {
		goto out;
	}
	log_info(MOD, "deleted server %lld ('%s')", (long long)hcloud_id, s.name ? s.name : "?");
	if (o->report)
		strbuf_addf(o->report, "Deleted server '%s' (%lld, %s, %s)\n",
			    s.name ? s.name : "?", (long long)hcloud_id,
			    s.server_type ? s.server_type : "?", s.location ? s.location : "?");
	ret = 0;
out:
	hcloud_server_release(&s);
	hcloud_action_release(&a);
	return ret;
}

int reaper_delete_server_now(struct burst_state *st, struct hcloud *api,
			     const struct burst_config *cfg, const char *reason,
			     int64_t hcloud_id, struct burst_error *err)
{
	struct reaper_ops o = { 0 };
	bool gone = false;

	o.st = st;
	o.api = api;
	o.cfg = cfg;
	o.owner = state_owner_id(st);
	o.reason = reason;
	return reaper_delete_server(&o, hcloud_id, &gone, err);
}

void reaper_record_server_gone(struct reaper_ops *o, int64_t row_id, int64_t hcloud_id,
			       const char *name, const char *ip)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct state_event ev = { 0 };
	char *kh;

	if (row_id && state_server_set_status(o->st, row_id, STATE_SERVER_DELETED, &e) < 0)
		log_warn(MOD, "marking server row %lld deleted: %s", (long long)row_id, e.message);
	burst_error_release(&e);
	ev.kind = "terminated";
	ev.resource_kind = "server";
	ev.resource_id = hcloud_id;
	ev.resource_name = name;
	ev.reason = o->reason;
	if (state_event_add(o->st, &ev, &e) < 0)
		log_warn(MOD, "recording the termination: %s", e.message);
	burst_error_release(&e);
	if (ip) {
		kh = reaper_known_hosts_path(o->st);
		remote_known_hosts_forget(kh, ip, o->cfg && o->cfg->ssh_port ?
					  (int)o->cfg->ssh_port : 22, &e);
		burst_error_release(&e);
		free(kh);
	}
}

void reaper_record_volume_gone(struct reaper_ops *o, int64_t hcloud_id, const char *name,
			       int64_t size_gb)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct state_event ev = { 0 };

	ev.kind = "terminated";
	ev.resource_kind = "volume";
	ev.resource_id = hcloud_id;
	ev.resource_name = name;
	ev.reason = o->reason;
	ev.size_gb = size_gb;
	if (state_event_add(o->st, &ev, &e) < 0)
		log_warn(MOD, "recording the termination: %s", e.message);
	burst_error_release(&e);
}

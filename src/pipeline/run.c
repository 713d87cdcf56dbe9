/*
 * run.c - one run of a run verb: identity, lease, warm server or cold
 * provisioning, mount || sync, the remote cargo, fetch, records.
 */
#include <cjson/cJSON.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/pipeline.h"
#include "burst/proc.h"
#include "burst/provision.h"
#include "burst/remote.h"
#include "burst/state.h"
#include "burst/ui.h"

#include "pipeline-int.h"

#define MOD "pipeline"
/* How long a run waits for another one that is provisioning. */
#define LOCK_TIMEOUT_MS (15 * 60 * 1000)
/* How long a warm server may take to answer ssh once the API says running. */
#define WARM_SSH_DEADLINE_MS (60 * 1000)
/* How long the master may take to greet a new client on its socket. */
#define MASTER_HELLO_MS 1000

/* ---- local facts ------------------------------------------------------- */

/*
 * The package cargo selects by the cwd (the one whose directory holds it,
 * the deepest), or NULL when the arguments select packages themselves or
 * the cwd is in no package's directory.
 */
static const cJSON *package_of_cwd(const struct run *r, const cJSON *pkgs)
{
	static const char *const selectors[] = {
		"-p", "--package", "--workspace", "--all", "--manifest-path",
	};
	const struct strvec *a = r->req->cargo_args;
	const cJSON *pkg, *best = NULL;
	size_t best_len = 0;

	if (!r->job->cwd)
		return NULL;
	for (size_t i = 0; i < a->nr && strcmp(a->v[i], "--"); i++) {
		const char *rest;

		if (skip_prefix(a->v[i], "-p", &rest) && (!*rest || rest[0] != '-'))
			return NULL; /* -p NAME, -pNAME */
		for (size_t j = 1; j < ARRAY_SIZE(selectors); j++)
			if (skip_prefix(a->v[i], selectors[j], &rest) && (!*rest || *rest == '='))
				return NULL;
	}
	cJSON_ArrayForEach(pkg, pkgs) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(pkg, "manifest_path");
		char *dir, *slash, *in;

		if (!cJSON_IsString(m) || !(slash = strrchr(m->valuestring, '/')))
			continue;
		dir = xstrndup(m->valuestring, (size_t)(slash - m->valuestring));
		in = pipeline_path_in(*dir ? dir : "/", r->job->cwd);
		if (in && strlen(dir) >= best_len) {
			best = pkg;
			best_len = strlen(dir);
		}
		free(in);
		free(dir);
	}
	return best;
}

/*
 * `cargo metadata --no-deps` (local, no network): is there a library target
 * (for the doctest rule) and where is the local target directory?
 */
static void local_metadata(struct run *r)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	const char *cargo = getenv("CARGO");
	cJSON *doc = NULL;
	const cJSON *pkgs, *pkg, *t, *cwd_pkg;

	r->has_lib = true;
	r->local_target_dir = xstrfmt("%s/target", r->project.root);
	strvec_push(&cp.args, cargo && *cargo ? cargo : "cargo");
	strvec_push(&cp.args, "metadata");
	strvec_push(&cp.args, "--no-deps");
	strvec_push(&cp.args, "--format-version");
	strvec_push(&cp.args, "1");
	cp.dir = r->project.root;
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 16 * 1024 * 1024;
	cp.timeout_ms = 60000;
	if (proc_run(&cp, &err) < 0 || cp.exit_code != 0) {
		log_debug(MOD, "cargo metadata failed: %s", err.message ? err.message : cp.err_buf.buf);
		goto out;
	}
	doc = cJSON_ParseWithLength(cp.out_buf.buf, cp.out_buf.len);
	if (!doc)
		goto out;
	t = cJSON_GetObjectItemCaseSensitive(doc, "target_directory");
	if (cJSON_IsString(t) && t->valuestring[0]) {
		free(r->local_target_dir);
		r->local_target_dir = xstrdup(t->valuestring);
	}
	r->has_lib = false;
	pkgs = cJSON_GetObjectItemCaseSensitive(doc, "packages");
	cwd_pkg = package_of_cwd(r, pkgs);
	cJSON_ArrayForEach(pkg, pkgs) {
		const cJSON *targets = cJSON_GetObjectItemCaseSensitive(pkg, "targets"), *tg;

		/* in a member's directory, cargo selects that member */
		if (cwd_pkg && pkg != cwd_pkg)
			continue;

		cJSON_ArrayForEach(tg, targets) {
			const cJSON *kinds = cJSON_GetObjectItemCaseSensitive(tg, "kind"), *k;

			cJSON_ArrayForEach(k, kinds) {
				if (cJSON_IsString(k) &&
				    (!strcmp(k->valuestring, "lib") || !strcmp(k->valuestring, "rlib") ||
				     !strcmp(k->valuestring, "dylib") ||
				     !strcmp(k->valuestring, "proc-macro")))
					r->has_lib = true;
			}
		}
	}
out:
	cJSON_Delete(doc);
	burst_error_release(&err);
	child_process_release(&cp);
}

/* The forwarded environment: config forward_env + --env, resolved here. */
static void resolve_env(struct run *r)
{
	struct strvec missing = STRVEC_INIT;

	config_env_resolve(r->cfg, &r->env, &missing);
	/* the fetch looks for the target dir the remote build uses */
	if (getenv("CARGO_BUILD_TARGET") && *getenv("CARGO_BUILD_TARGET")) {
		bool have = false;

		for (size_t i = 0; i < r->env.nr; i++)
			if (!strncmp(r->env.v[i], "CARGO_BUILD_TARGET=", 19))
				have = true;
		if (!have)
			strvec_pushf(&r->env, "CARGO_BUILD_TARGET=%s", getenv("CARGO_BUILD_TARGET"));
	}
	for (size_t i = 0; i < missing.nr; i++)
		ui_warn("`%s` is not set here, so it is not forwarded (use --env %s=VALUE "
			"to give it a value)", missing.v[i], missing.v[i]);
	strvec_clear(&missing);
}

/* ---- the large-directory question -------------------------------------- */

/* The answer remembered for dir in the project's excludes text: 1 yes, 0 no, -1 none. */
static int remembered_answer(const char *text, const char *dir)
{
	char *yes = xstrfmt("exclude %s\n", dir), *no = xstrfmt("keep %s\n", dir);
	int ret = -1;

	if (text && strstr(text, yes))
		ret = 1;
	else if (text && strstr(text, no))
		ret = 0;
	free(yes);
	free(no);
	return ret;
}

static bool ask_yes_no(const char *question)
{
	char line[64];

	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/*
 * Large top-level build-output directories: ask once per project whether
 * to leave them out of the sync (not with --yes or without a terminal);
 * excluded ones are appended to r->excludes.
 */
static void large_dirs_question(struct run *r)
{
	struct strvec dirs = STRVEC_INIT, pats = STRVEC_INIT;
	struct state_project proj = { 0 };
	struct burst_error err = BURST_ERROR_INIT;
	uint64_t sizes[8];
	size_t n;
	bool interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO) && !r->req->yes;
	bool changed = false;
	struct strbuf text = STRBUF_INIT;

	for (size_t i = 0; remote_default_excludes[i]; i++)
		strvec_push(&pats, remote_default_excludes[i]);
	for (size_t i = 0; i < r->cfg->extra_excludes.items.nr; i++)
		strvec_push(&pats, r->cfg->extra_excludes.items.v[i]);
	n = pipeline_large_dirs(r->project.root, &pats, PIPELINE_LARGE_DIR_BYTES, &dirs, sizes);
	if (!n)
		goto out;
	if (state_project_get(r->st, r->project.hash, &proj, &err) < 0)
		goto out;
	strbuf_addstr(&text, proj.excludes ? proj.excludes : "");
	for (size_t i = 0; i < n; i++) {
		int answer = remembered_answer(text.buf, dirs.v[i]);
		char *q;

		if (answer < 0 && interactive) {
			q = xstrfmt("%s/ holds %llu MiB; leave it out of the sync to the "
				    "server?", dirs.v[i], (unsigned long long)(sizes[i] >> 20));
			answer = ask_yes_no(q) ? 1 : 0;
			free(q);
			strbuf_addf(&text, "%s %s\n", answer ? "exclude" : "keep", dirs.v[i]);
			changed = true;
		} else if (answer < 0) {
			ui_note("%s/ holds %llu MiB and is synced (add \"/%s/\" to "
				"extra_excludes to leave it out)", dirs.v[i],
				(unsigned long long)(sizes[i] >> 20), dirs.v[i]);
		}
		if (answer == 1)
			strvec_pushf(&r->excludes, "/%s/", dirs.v[i]);
	}
	if (changed) {
		free(proj.excludes);
		proj.excludes = strbuf_detach(&text, NULL);
		if (!proj.id)
			proj.id = xstrdup(r->project.hash);
		if (!proj.root)
			proj.root = xstrdup(r->project.root);
		if (state_project_put(r->st, &proj, &err) < 0)
			log_warn(MOD, "cannot remember the answer: %s", err.message);
	}
out:
	burst_error_release(&err);
	state_project_release(&proj);
	strvec_clear(&dirs);
	strvec_clear(&pats);
	strbuf_release(&text);
}

/* ---- server and volume ------------------------------------------------- */

static void provision_opts_fill(struct run *r, struct provision_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->api = r->api;
	o->endpoint = r->cfg->endpoint;
	o->token = r->cfg->token;
	o->state = r->st;
	o->owner_id = state_owner_id(r->st);
	o->project_hash = r->project.hash;
	o->workspace_root = r->project.root;
	o->server_type = r->cfg->server_type;
	o->arch = r->cfg->arch;
	o->regions = &r->cfg->regions;
	o->volume_gb = r->cfg->volume_gb;
	o->ssh_pub_key_path = r->cfg->ssh_pub_key_path;
	o->scratch_dir = r->scratch_dir;
	o->control_dir = r->control_dir;
	o->keep_alive_secs = r->req->keep_alive_secs;
	o->no_reap = r->req->no_reap;
	o->max_servers = r->cfg->max_servers;
}

/* Fill the ssh host of a known server row. */
static int host_for_row(struct run *r, const struct state_server *row, struct burst_error *err)
{
	free(r->host.host);
	r->host.host = xstrdup(row->ip);
	return remote_host_set_control_dir(&r->host, r->control_dir, err);
}

static void mark_server_gone(struct run *r, const struct state_server *row, const char *why)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct state_event ev = { 0 };

	state_server_set_status(r->st, row->id, STATE_SERVER_DELETED, &e);
	burst_error_release(&e);
	ev.kind = "terminated";
	ev.resource_kind = "server";
	ev.resource_id = row->hcloud_id;
	ev.resource_name = row->name;
	ev.reason = "stale";
	ev.details = why;
	state_event_add(r->st, &ev, &e);
	burst_error_release(&e);
	if (row->ip)
		remote_known_hosts_forget(r->known_hosts, row->ip,
					  r->host.port ? r->host.port : 22, &e);
	burst_error_release(&e);
}

/*
 * Is the ssh master at path alive?  What `ssh -O check` asks, without
 * starting ssh (~5 ms on the warm path): connect to the master's socket and
 * read the hello it sends every new client first (PROTOCOL.mux: uint32
 * length, uint32 MUX_MSG_HELLO = 1, ...).  A stale socket refuses the
 * connection; a master that does not greet in time counts as gone (ssh then
 * decides, with ControlMaster=auto).
 */
static bool master_alive(const char *path)
{
	struct sockaddr_un sa;
	unsigned char hello[8];
	size_t got = 0;
	uint64_t deadline = burst_now_ms() + MASTER_HELLO_MS;
	bool ret = false;
	int fd;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	while (got < sizeof(hello)) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		uint64_t now = burst_now_ms();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			goto out;
		n = read(fd, hello + got, sizeof(hello) - got);
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	ret = !hello[4] && !hello[5] && !hello[6] && hello[7] == 1;
out:
	close(fd);
	log_debug(MOD, "ssh master at %s: %s", path, ret ? "alive" : "not running");
	return ret;
}

/*
 * Try the server the state knows: 1 usable (r->srv filled, lease moved to
 * it), 0 not usable (provision anew), -1 error.  Makes no API call unless
 * ssh fails.
 */
static int try_warm(struct run *r, bool under_lock, struct burst_error *err)
{
	struct state_server row = { 0 };
	struct hcloud_server hs = { 0 };
	bool half_done;
	int found, rc, ret = -1;

	/* only a server of the run's architecture (a live x86 one is no arm64 server) */
	found = provision_current_server(r->st, r->cfg->arch, &row, err);
	if (found < 0)
		goto out;
	/*
	 * A row still `provisioning` while we hold the lock was left by a run
	 * that failed or died after the create: use it if it answers, else
	 * leave it to its reaper.
	 */
	half_done = found && row.status == STATE_SERVER_PROVISIONING && under_lock;
	if (!found || (row.status != STATE_SERVER_READY && !half_done) || !row.ip ||
	    !row.hcloud_id) {
		ret = 0;
		goto out;
	}
	rc = state_lease_set_server(r->st, r->lease_id, row.id, err);
	if (rc < 0)
		goto out;
	if (rc == STATE_SERVER_GOING) {
		ui_verbose("Replacing", "server '%s': it is being deleted", row.name);
		ret = 0;
		goto out;
	}
	if (host_for_row(r, &row, err) < 0)
		goto out;
	if (!master_alive(r->host.control_path) && remote_master_start(&r->host, err) < 0) {
		bool host_key_bad = err->message && strstr(err->message, "host key");

		if (host_key_bad)
			goto out; /* never retried, never replaced: a human must look */
		log_debug(MOD, "warm connection failed: %s", err->message);
		burst_error_release(err);
		if (half_done) {
			/* retried once, else deleted: never a row of servers */
			struct provision_opts o;

			provision_opts_fill(r, &o);
			ret = provision_recover_half_done(&o, &r->host, row.id, row.hcloud_id,
							  row.name, err);
			if (ret <= 0)
				goto out;
			ret = -1;
			goto answered;
		}
		/* only now ask the API what happened to the server */
		if (hcloud_server_get(r->api, row.hcloud_id, &hs, err) < 0) {
			if (err->api_code && !strcmp(err->api_code, "not_found")) {
				burst_error_release(err);
				ui_info("Gone", "server '%s' no longer exists; provisioning a new one",
					row.name);
				mark_server_gone(r, &row, "not found in the API");
				ret = 0;
			}
			goto out;
		}
		if (!hs.status || strcmp(hs.status, "running")) {
			ui_info("Gone", "server '%s' is %s; provisioning a new one", row.name,
				hs.status ? hs.status : "unknown");
			mark_server_gone(r, &row, hs.status);
			ret = 0;
			goto out;
		}
		if (remote_wait_ready(&r->host, burst_now_ms() + WARM_SSH_DEADLINE_MS, NULL, NULL,
				      err) < 0)
			goto out;
	}
answered:
	if (half_done && state_server_set_status(r->st, row.id, STATE_SERVER_READY, err) < 0)
		goto out;
	r->srv.row_id = row.id;
	r->srv.hcloud_id = row.hcloud_id;
	r->srv.name = xstrdup(row.name);
	r->srv.ip = xstrdup(row.ip);
	r->srv.location = xstrdup(row.location);
	r->srv.host_key_pub = xstrdup(row.host_key_pub);
	ret = 1;
out:
	state_server_release(&row);
	hcloud_server_release(&hs);
	return ret;
}

/*
 * A server the state knows without its location (taken from an answer that
 * had none): ask the API once; the volume goes where the server is.
 */
static int learn_location(struct run *r, struct burst_error *err)
{
	struct hcloud_server hs = { 0 };
	int ret = -1;

	if (r->srv.location)
		return 0;
	if (!r->api) {
		burst_error_set(err, BURST_EXIT_API, "server '%s' has no known location",
				r->srv.name ? r->srv.name : "?");
		burst_error_hint(err, "run `cargo burst down` and try again");
		return -1;
	}
	if (hcloud_server_get(r->api, r->srv.hcloud_id, &hs, err) < 0)
		goto out;
	r->used_api = true;
	if (!hs.location) {
		burst_error_set(err, BURST_EXIT_API, "server '%s' has no location in the API's answer",
				r->srv.name ? r->srv.name : "?");
		burst_error_hint(err, "run `cargo burst down` and try again");
		goto out;
	}
	r->srv.location = xstrdup(hs.location);
	ret = 0;
out:
	hcloud_server_release(&hs);
	return ret;
}

/* Find or create the project's volume and attach it here (API, under the lock). */
static int provision_volume(struct run *r, struct burst_error *err)
{
	struct provision_opts o;
	int ret;

	pipeline_bounded_begin(); /* the lock and the API waits have deadlines */
	if (state_lock_provision(r->st, LOCK_TIMEOUT_MS, err) != 0) {
		pipeline_bounded_end();
		return -1;
	}
	provision_opts_fill(r, &o);
	ret = provision_project_volume(&o, &r->srv, &r->vol, err);
	state_unlock_provision(r->st);
	pipeline_bounded_end();
	if (ret == 0)
		r->used_api = true;
	return ret;
}

/*
 * The project's volume on a warm server: when the state says it is here,
 * no API call and no round trip (the mount script, which runs next to the
 * sync anyway, finds out when its device is gone: r->volume_unverified);
 * otherwise find or create and attach it.
 */
static int ensure_volume(struct run *r, struct burst_error *err)
{
	struct state_project proj = { 0 };
	int found, ret = -1;

	if (learn_location(r, err) < 0)
		goto out;
	found = state_project_get(r->st, r->project.hash, &proj, err);
	if (found < 0)
		goto out;
	if (found && proj.volume_hcloud_id && proj.volume_status == STATE_VOLUME_READY &&
	    proj.location && !strcmp(proj.location, r->srv.location)) {
		r->vol.hcloud_id = proj.volume_hcloud_id;
		r->vol.name = xstrdup(proj.volume_name);
		r->vol.location = xstrdup(proj.location);
		r->volume_unverified = true;
		ret = 0;
		goto out;
	}
	ret = provision_volume(r, err);
out:
	state_project_release(&proj);
	return ret;
}

/*
 * Mount || sync.  When the mount found the device of a volume the state
 * thought attached gone (detached behind our back), attach it and again.
 */
static int sync_and_mount(struct run *r, struct burst_error *err)
{
	if (pipeline_sync_and_mount(r, err) == 0)
		return 0;
	if (!r->device_gone || proc_interrupted())
		return -1;
	log_debug(MOD, "%s", err->message ? err->message : "");
	burst_error_release(err);
	ui_info("Attaching", "volume '%s': its device is gone from '%s'",
		r->vol.name ? r->vol.name : "?", r->srv.name);
	r->device_gone = false;
	r->volume_unverified = false;
	provision_volume_release(&r->vol);
	memset(&r->vol, 0, sizeof(r->vol));
	if (provision_volume(r, err) < 0)
		return -1;
	return pipeline_sync_and_mount(r, err);
}

/* Get a server and the project's volume on it: warm, or cold under the lock. */
static int acquire_server(struct run *r, struct burst_error *err)
{
	struct provision_opts o;
	int rc, warm;

	warm = try_warm(r, false, err);
	if (warm < 0)
		return -1;
	if (warm) {
		r->was_up = true;
		return ensure_volume(r, err);
	}

	rc = state_lock_provision(r->st, LOCK_TIMEOUT_MS, err);
	if (rc != 0)
		return -1;
	/* someone may have provisioned while we waited for the lock */
	warm = try_warm(r, true, err);
	if (warm != 0) {
		state_unlock_provision(r->st);
		if (warm > 0) {
			r->joined = true;
			ui_status("Joined", "server '%s' (provisioned by another cargo-burst "
				  "while this one waited)", r->srv.name);
		}
		return warm < 0 ? -1 : ensure_volume(r, err);
	}
	r->cold = true;
	r->used_api = true;
	provision_opts_fill(r, &o);
	rc = provision_cold(&o, &r->host, &r->srv, &r->vol, err);
	state_unlock_provision(r->st);
	if (rc < 0)
		return -1;
	rc = state_lease_set_server(r->st, r->lease_id, r->srv.row_id, err);
	if (rc < 0)
		return -1;
	return 0;
}

/* ---- the run ------------------------------------------------------------ */

static void run_init(struct run *r, const struct pipeline_job *job)
{
	memset(r, 0, sizeof(*r));
	r->job = job;
	r->cfg = job->config;
	r->st = job->state;
	r->api = job->api;
	r->req = job->req;
	r->verb = job->req->verb;
	if (job->workspace_root)
		/* arm64 is a project of its own; a BYO host is what it is */
		project_init(&r->project, job->workspace_root,
			     job->req->host || !job->config ? NULL : job->config->arch, NULL);
	strvec_init(&r->env);
	strvec_init(&r->excludes);
	strbuf_init(&r->tail, 0);
	strbuf_init(&r->json_pending, 0);
	remote_host_init(&r->host);
	r->exit_code = -1;
}

static void run_release(struct run *r)
{
	remote_sync_push_free(r->push); /* waits for the sync index to be written */
	pipeline_heartbeat_stop(&r->hb);
	strvec_clear(&r->env);
	strvec_clear(&r->excludes);
	strbuf_release(&r->tail);
	remote_host_release(&r->host);
	provision_server_release(&r->srv);
	provision_volume_release(&r->vol);
	free(r->local_target_dir);
	free(r->control_dir);
	free(r->scratch_dir);
	free(r->known_hosts);
	free(r->pid_file);
	project_release(&r->project);
	free(r->display);
	free(r->rustc);
	free(r->cache_json[0]);
	free(r->cache_json[1]);
	free(r->df_line);
	pipeline_paths_release(&r->paths);
	for (size_t i = 0; i < ARRAY_SIZE(r->remote_paths); i++)
		free(r->remote_paths[i]);
	strbuf_release(&r->json_pending);
}

/* Leave the records: run, server and volume deadlines, lease, reapers. */
static void run_records(struct run *r)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct state_run_result res = { 0 };
	int64_t now = state_now();

	if (r->run_id) {
		res.cold = r->cold;
		res.success = r->exit_code == 0 && !r->interrupted;
		res.exit_code = r->exit_code < 0 ? BURST_EXIT_INTERNAL : r->exit_code;
		res.interrupted = r->interrupted;
		res.provision_ms = (int64_t)r->provision_ms;
		res.sync_ms = (int64_t)r->sync_ms;
		res.cargo_ms = (int64_t)r->cargo_ms;
		res.fetch_ms = (int64_t)r->fetch_ms;
		res.wall_ms = (int64_t)(burst_now_ms() - r->t0);
		res.server_hcloud_id = r->srv.hcloud_id;
		if (state_run_finish(r->st, r->run_id, &res, &e) < 0)
			log_warn(MOD, "recording the run: %s", e.message);
		burst_error_release(&e);
	}
	/* `up` on a server and volume that were up already extends nothing */
	if (r->up && r->was_up && !r->interrupted)
		goto reapers;
	if (r->srv.row_id) {
		if (state_server_touch(r->st, r->srv.row_id, now, r->req->keep_alive_secs,
				       r->req->no_reap, r->req->billing_hour_hold,
				       r->req->billing_margin_secs, &e) < 0)
			log_warn(MOD, "recording the server's deadline: %s", e.message);
		burst_error_release(&e);
	}
	if (r->vol.hcloud_id) {
		if (state_project_touch(r->st, r->project.hash, now,
					r->req->volume_keep_alive_secs, &e) < 0)
			log_warn(MOD, "recording the volume's deadline: %s", e.message);
		burst_error_release(&e);
	}
reapers:
	if (r->df_line) {
		/* the volume's use as the run left it, for `status` */
		struct pipeline_volume_usage u;
		char *mount = layout_cache_dir(r->project.hash, false);

		if (pipeline_df_parse(r->df_line, mount, &u) == 0)
			pipeline_volume_usage_record(state_dir(r->st), r->project.hash, &u, now);
		free(mount);
	}
	if (!r->byo)
		pipeline_arm_reapers(r);
	else if (r->run_id)
		pipeline_byo_record(state_dir(r->st), r->req->host, r->verb,
				    r->interrupted ? BURST_EXIT_INTERRUPTED : res.exit_code,
				    burst_now_ms() - r->t0);
	pipeline_heartbeat_stop(&r->hb);
	if (r->lease_id) {
		state_lease_release(r->st, r->lease_id, &e);
		burst_error_release(&e);
		r->lease_id = 0;
	}
}

/* The terminal's width (stderr's, else $COLUMNS), 0 = unknown: no wrapping. */
static size_t term_columns(void)
{
	struct winsize ws;
	const char *v = getenv("COLUMNS");
	int64_t n;

	if (isatty(STDERR_FILENO) && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
		return ws.ws_col;
	if (v && parse_int64(v, 20, 100000, &n) == 0)
		return (size_t)n;
	return 0;
}

static void print_summary(struct run *r)
{
	struct pipeline_summary s = { 0 };
	struct state_server row = { 0 };
	struct state_project proj = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	struct strbuf line = STRBUF_INIT, wrapped = STRBUF_INIT, cache = STRBUF_INIT;

	s.verb = r->verb;
	s.success = r->exit_code == 0 && !r->interrupted;
	s.interrupted = r->interrupted;
	s.exit_code = r->exit_code;
	s.cold = r->cold;
	s.provision_ms = r->provision_ms;
	s.sync_ms = r->sync_ms;
	s.cargo_ms = r->cargo_ms;
	s.fetch_ms = r->fetch_ms;
	s.total_ms = burst_now_ms() - r->t0;
	if (r->srv.row_id && state_server_get(r->st, r->srv.row_id, &row, &e) == 1) {
		s.server_name = row.name;
		s.server_deadline = row.deadline;
		s.no_reap = row.no_reap;
	}
	burst_error_release(&e);
	if (r->vol.hcloud_id && state_project_get(r->st, r->project.hash, &proj, &e) == 1) {
		s.volume_name = proj.volume_name;
		s.volume_deadline = proj.volume_deadline;
	}
	burst_error_release(&e);
	s.host = r->byo ? r->display : NULL;
	s.rustc = r->rustc;
	if (r->cache_json[1]) {
		/* sccache answered after cargo: this run's hits and misses */
		struct pipeline_sccache_stats before, after;

		pipeline_sccache_parse(r->cache_json[0], r->cache_json[0] ?
				       strlen(r->cache_json[0]) : 0, &before);
		pipeline_sccache_parse(r->cache_json[1], strlen(r->cache_json[1]), &after);
		pipeline_sccache_phrase(&cache, &before, &after);
		s.cache = cache.buf;
	}
	pipeline_summary_format(&line, &s);
	/* 13: the status verb's column and its space */
	pipeline_summary_wrap(&wrapped, line.buf, term_columns(), 13);
	if (s.success)
		ui_status("Finished", "%s", wrapped.buf);
	else
		ui_info("Finished", "%s", wrapped.buf);
	strbuf_release(&line);
	strbuf_release(&wrapped);
	strbuf_release(&cache);
	state_server_release(&row);
	state_project_release(&proj);
}

/*
 * Interrupted while provisioning: say what happens to the server being
 * made, from what the state has once the records are left.
 */
static void interrupt_note(struct run *r)
{
	struct state_server row = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	struct strbuf sb = STRBUF_INIT;
	bool known = r->srv.row_id && state_server_get(r->st, r->srv.row_id, &row, &e) == 1;
	const char *name = known && row.name ? row.name : r->srv.name;

	burst_error_release(&e);
	pipeline_interrupt_fate(&sb, name, known && row.status == STATE_SERVER_READY,
				known && r->reapers_armed, known && row.no_reap,
				known ? row.deadline : 0);
	ui_note("%s", sb.buf);
	strbuf_release(&sb);
	state_server_release(&row);
}

/* After a failure: name the missing environment variables and the fix. */
static void env_hints(struct run *r)
{
	struct strvec names = STRVEC_INIT;

	pipeline_scan_missing_env(r->tail.buf, r->tail.len, &names);
	for (size_t i = 0; i < names.nr; i++) {
		bool forwarded = false;
		char *h;

		for (size_t j = 0; j < r->env.nr; j++) {
			size_t n = strlen(names.v[i]);

			if (!strncmp(r->env.v[j], names.v[i], n) && r->env.v[j][n] == '=')
				forwarded = true;
		}
		if (forwarded)
			continue;
		h = pipeline_env_hint(names.v[i]);
		ui_help("%s", h);
		free(h);
	}
	strvec_clear(&names);
}

/* Take the lease on the project (waiting while its volume is being deleted). */
static int take_lease(struct run *r, struct burst_error *err)
{
	uint64_t deadline = burst_now_ms() + LOCK_TIMEOUT_MS;
	bool said = false;

	for (;;) {
		int rc = state_lease_acquire(r->st, r->project.hash, 0, &r->lease_id, err);

		if (rc < 0)
			return -1;
		if (rc == 0)
			return 0;
		if (rc != STATE_VOLUME_GOING || burst_now_ms() > deadline) {
			burst_error_set(err, BURST_EXIT_STATE,
					"the project's volume is being deleted and did not go away");
			burst_error_hint(err, "check `cargo burst status` and try again");
			return -1;
		}
		if (!said)
			ui_status("Blocking", "waiting for the project's old volume to be deleted");
		said = true;
		if (proc_interrupted())
			return burst_error_set(err, BURST_EXIT_INTERRUPTED, "interrupted");
		sleep(1);
	}
}

/* Make sure the project row knows its root and name. */
static void project_register(struct run *r)
{
	struct state_project proj = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	int found = state_project_get(r->st, r->project.hash, &proj, &e);

	if (found == 0 || (found == 1 && !proj.root)) {
		const char *leaf = strrchr(r->project.root, '/');

		if (!proj.id)
			proj.id = xstrdup(r->project.hash);
		free(proj.root);
		proj.root = xstrdup(r->project.root);
		free(proj.name);
		proj.name = xstrdup(leaf && leaf[1] ? leaf + 1 : r->project.root);
		if (!proj.volume_keep_alive)
			proj.volume_keep_alive = r->req->volume_keep_alive_secs;
		state_project_put(r->st, &proj, &e);
	}
	burst_error_release(&e);
	state_project_release(&proj);
}

static int run_pipeline(struct run *r, struct burst_error *err)
{
	uint64_t t;
	int ret = -1;

	r->control_dir = layout_control_dir(state_dir(r->st));
	if (pipeline_control_dir_prepare(r->control_dir, true, err) < 0)
		goto out;
	r->scratch_dir = xstrfmt("%s/keys", state_dir(r->st));
	r->pid_file = layout_pid_file(r->project.hash, r->byo, (long)getpid());
	remote_host_server(&r->host, r->cfg->ssh_user, (int)r->cfg->ssh_port,
			   r->cfg->ssh_key_path, state_dir(r->st), NULL);
	if (r->byo) {
		/* the BYO host's user and port come from its spec (byoh.c) */
		FREE_AND_NULL(r->host.user);
		r->host.port = 0;
	}
	r->known_hosts = xstrdup(r->host.known_hosts);
	r->host.persist_secs = MASTER_PERSIST_SECS;

	project_register(r);
	resolve_env(r);
	/* cargo's paths and the cwd; a path off the workspace fails here */
	if (!r->shell) {
		const struct strvec *a = r->req->cargo_args;

		if (pipeline_map_paths(r->project.root, r->job->cwd ? r->job->cwd : r->project.root,
				       (const char *const *)a->v, a->nr,
				       getenv("CARGO_TARGET_DIR"), &r->paths, err) < 0)
			goto out;
		r->paths_mapped = true;
		r->json_map = pipeline_json_output((const char *const *)a->v, a->nr);
	}
	if (!strcmp(r->verb, "test") || !strcmp(r->verb, "build") || !strcmp(r->verb, "bench") ||
	    r->json_map)
		local_metadata(r);
	if (r->paths.target_dir) {
		free(r->local_target_dir);
		r->local_target_dir = xstrdup(r->paths.target_dir);
	}
	large_dirs_question(r);

	/* a taken local port for -L fails before any server is touched */
	for (size_t i = 0; i < r->req->nforwards; i++)
		if (pipeline_check_local_port(r->req->forwards[i].local, err) < 0)
			goto out;
	/* `up` is no run: its outcome is an event of the audit log */
	if (!r->up && state_run_begin(r->st, r->verb, r->project.hash, &r->run_id, err) < 0)
		goto out;
	/* a BYO host has no server or volume a reaper could take away */
	if (!r->byo) {
		if (take_lease(r, err) < 0)
			goto out;
		pipeline_heartbeat_start(&r->hb, state_dir(r->st), r->lease_id);
	}

	t = burst_now_ms();
	if (r->byo) {
		ui_status("Connecting", "to %s", r->req->host);
		if (pipeline_byo_connect(r, r->req->host, err) < 0) {
			r->provision_ms = burst_now_ms() - t;
			goto out;
		}
	} else {
		int rc;

		pipeline_bounded_begin(); /* the lock and the API waits have deadlines */
		rc = acquire_server(r, err);
		pipeline_bounded_end();
		if (rc < 0) {
			r->provision_ms = burst_now_ms() - t;
			goto out;
		}
	}
	r->provision_ms = burst_now_ms() - t;
	r->provisioned = true;
	if (proc_interrupted()) {
		r->interrupted = true;
		goto out;
	}
	if (r->vol.created && !r->cold)
		ui_note("the project's volume is new: this first build is cold");

	t = burst_now_ms();
	if (sync_and_mount(r, err) < 0) {
		r->sync_ms = burst_now_ms() - t;
		goto out;
	}
	r->sync_ms = burst_now_ms() - t;
	if (proc_interrupted()) {
		r->interrupted = true;
		goto out;
	}
	if (r->up) {
		/* the mount script found the state's volume where it said */
		r->was_up = r->was_up && r->volume_unverified;
		ret = 0;
		goto out;
	}

	t = burst_now_ms();
	r->cargo_started = true;
	if ((r->shell ? pipeline_remote_shell(r, err)
	     : r->req->sharded ? pipeline_shard_test(r, err)
	     : pipeline_remote_cargo(r, err)) < 0) {
		r->cargo_ms = burst_now_ms() - t;
		goto out;
	}
	r->cargo_ms = burst_now_ms() - t;

	if (r->exit_code == 0 && !r->interrupted && !r->shell) {
		t = burst_now_ms();
		if (pipeline_fetch(r, err) < 0) {
			r->fetch_ms = burst_now_ms() - t;
			goto out;
		}
		r->fetch_ms = burst_now_ms() - t;
	}
	ret = 0;
out:
	if (proc_interrupted())
		r->interrupted = true;
	return ret;
}

/*
 * The outcome of `cargo burst up`: one event in the audit log and, when it
 * succeeded, one line on stderr (the terminal, or the log of a detached up).
 */
static void up_outcome(struct run *r, int ret, const struct burst_error *err)
{
	struct state_server row = { 0 };
	struct state_event ev = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	struct strbuf line = STRBUF_INIT;
	char dur[32], prov[32], sync[32], clock[48];
	bool known = r->srv.row_id && state_server_get(r->st, r->srv.row_id, &row, &e) == 1;

	burst_error_release(&e);
	if (r->interrupted) {
		strbuf_addstr(&line, "up interrupted");
		ev.reason = "interrupted";
	} else if (ret < 0) {
		strbuf_addf(&line, "up failed: %s", err->message ? err->message : "?");
		ev.reason = "failed";
	} else {
		if (r->was_up)
			strbuf_addf(&line, "server '%s' and the project's volume were up already "
				    "(nothing extended)", r->srv.name);
		else if (r->byo) /* no server, no volume: the connection and the sync */
			strbuf_addf(&line, "up in %s (connect %s, sync %s); host '%s'",
				    ui_duration(dur, sizeof(dur), burst_now_ms() - r->t0),
				    ui_duration(prov, sizeof(prov), r->provision_ms),
				    ui_duration(sync, sizeof(sync), r->sync_ms), r->srv.name);
		else
			strbuf_addf(&line, "up in %s (provision %s %s%s, sync and mount %s); "
				    "server '%s'", ui_duration(dur, sizeof(dur), burst_now_ms() - r->t0),
				    ui_duration(prov, sizeof(prov), r->provision_ms),
				    r->cold ? "cold" : "warm", r->joined ? ", joined" : "",
				    ui_duration(sync, sizeof(sync), r->sync_ms),
				    r->srv.name);
		if (known && row.no_reap)
			strbuf_addstr(&line, " stays up (--no-reap: run `cargo burst down`)");
		else if (known && row.deadline > 0)
			strbuf_addf(&line, "%s stays up until %s", r->was_up ? ";" : "",
				    ui_local_time(clock, sizeof(clock), row.deadline, false));
		ev.reason = r->was_up ? "already up" : r->cold ? "cold" : "warm";
	}
	/* a failure or a signal is said by the caller (once) */
	if (ret == 0 && !r->interrupted)
		ui_status(r->was_up ? "Up" : "Finished", "%s", line.buf);
	ev.kind = "up";
	ev.resource_kind = "project";
	ev.resource_id = r->srv.hcloud_id;
	ev.resource_name = r->project.hash;
	ev.details = line.buf;
	if (state_event_add(r->st, &ev, &e) < 0)
		log_warn(MOD, "recording the outcome of up: %s", e.message);
	burst_error_release(&e);
	state_server_release(&row);
	strbuf_release(&line);
}

static int run_or_shell(const struct pipeline_job *job, bool shell, bool up,
			struct burst_error *err)
{
	struct run r;
	int ret;

	if (job->req->dry_run && !shell && !up)
		return pipeline_dry_run(job, err);
	run_init(&r, job);
	r.shell = shell;
	r.up = up;
	if (up)
		r.verb = "up";
	r.byo = job->req->host != NULL;
	r.t0 = burst_now_ms();
	/* the dispatcher's prepare hooks hand over the state and the API client */
	if (!r.cfg || !r.project.root || !r.st || (!r.api && !r.byo)) {
		run_release(&r);
		return burst_error_set(err, BURST_EXIT_INTERNAL, "pipeline_run without "
				       "configuration, workspace, state or API client");
	}
	proc_catch_signals(true);
	ret = run_pipeline(&r, err);
	if (ret < 0 && r.exit_code < 0)
		r.exit_code = err->exit_code;
	run_records(&r);
	if (r.up)
		up_outcome(&r, ret, err);
	if (r.interrupted) {
		burst_error_release(err);
		ui_warn(r.cargo_started ? "interrupted: the remote cargo was stopped"
					: "interrupted");
		if (!r.byo && !r.provisioned)
			interrupt_note(&r);
		if (!r.up)
			print_summary(&r);
		ret = BURST_EXIT_INTERRUPTED;
	} else if (ret < 0) {
		/* a reaper watches the server only once the state has its row */
		if (r.srv.name && !r.byo && r.srv.row_id && r.reapers_armed)
			ui_note("server '%s' stays up until its reaper deletes it (or run "
				"`cargo burst down`)", r.srv.name);
		else if (r.srv.name && !r.byo)
			ui_note("server '%s' may still be running and no reaper watches it: "
				"delete it with `cargo burst down`", r.srv.name);
	} else if (r.shell) {
		ret = r.exit_code;
	} else if (r.up) {
		ret = 0;
	} else {
		if (r.exit_code != 0)
			env_hints(&r);
		print_summary(&r);
		ret = r.exit_code;
	}
	proc_catch_signals(false);
	proc_clear_interrupted();
	run_release(&r);
	return ret;
}

/* A run verb (pipeline.h). */
int pipeline_run(const struct pipeline_job *job, struct burst_error *err)
{
	return run_or_shell(job, false, false, err);
}

/* `cargo burst ssh` (pipeline.h). */
int pipeline_shell(const struct pipeline_job *job, struct burst_error *err)
{
	return run_or_shell(job, true, false, err);
}

/* `cargo burst up --wait` (pipeline.h). */
int pipeline_up(const struct pipeline_job *job, struct burst_error *err)
{
	return run_or_shell(job, false, true, err);
}

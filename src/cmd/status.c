/*
 * status.c - `cargo burst status [--json]`: the state's status report
 * (image, server, deadlines, reapers, projects, runs in progress) plus the
 * database services on the server, checked over the persisted ssh master
 * only when one is up (no new connection, no API call).
 */
#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/layout.h"
#include "burst/pipeline.h"
#include "burst/proc.h"
#include "burst/remote.h"
#include "burst/report.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

/* The services of the image and their local ports. */
static const char *const services[][2] = {
	{ "postgresql", "5432" }, { "mysql", "3306" }, { "redis", "6379" },
};

/* A project's volume use: measured now over the master, or remembered. */
struct usage {
	char *id, *name, *root;
	bool has_volume;
	struct pipeline_volume_usage u;
	bool live;
	int64_t when; /* of a remembered one */
};

struct usages {
	struct usage *v;
	size_t nr;
};

static void usages_load(struct burst_ctx *ctx, struct usages *us)
{
	struct state_project *ps = NULL;
	struct burst_error e = BURST_ERROR_INIT;
	size_t n = 0;

	if (state_project_list(ctx->state, &ps, &n, &e) < 0) {
		burst_error_release(&e);
		return;
	}
	us->v = xcalloc(n ? n : 1, sizeof(*us->v));
	for (size_t i = 0; i < n; i++) {
		struct usage *u = &us->v[us->nr++];

		u->id = xstrdup(ps[i].id);
		u->name = xstrdup(ps[i].name ? ps[i].name : ps[i].id);
		u->root = ps[i].root ? xstrdup(ps[i].root) : NULL;
		u->has_volume = ps[i].volume_status != STATE_VOLUME_NONE && ps[i].volume_hcloud_id;
		if (u->has_volume)
			pipeline_volume_usage_load(state_dir(ctx->state), u->id, &u->u, &u->when);
	}
	state_projects_free(ps, n);
}

static void usages_release(struct usages *us)
{
	for (size_t i = 0; i < us->nr; i++) {
		free(us->v[i].id);
		free(us->v[i].name);
		free(us->v[i].root);
	}
	free(us->v);
}

/* Take the "df " lines of the probe: a mounted volume's use, measured now. */
static void usages_take(struct burst_ctx *ctx, struct usages *us, const char *out)
{
	for (size_t i = 0; i < us->nr; i++) {
		char *mount = layout_cache_dir(us->v[i].id, false);
		const char *p = out;

		while (us->v[i].has_volume && p && (p = strstr(p, "\ndf ")) != NULL) {
			const char *nl = strchr(p + 4, '\n');
			char *line = xstrndup(p + 4, nl ? (size_t)(nl - p - 4) : strlen(p + 4));
			struct pipeline_volume_usage u;

			if (pipeline_df_parse(line, mount, &u) == 0) {
				us->v[i].u = u;
				us->v[i].live = true;
				pipeline_volume_usage_record(state_dir(ctx->state), us->v[i].id, &u,
							     state_now());
			}
			free(line);
			p = nl;
		}
		free(mount);
	}
}

/*
 * Probe the services on the current server over a running master, and in
 * the same command the use of the project volumes mounted there: fills
 * up[] (and the live usages) and returns 1, or 0 when no master is up
 * (nothing is known).
 */
static int probe_services(struct burst_ctx *ctx, bool up[], char **server_name,
			  struct usages *us)
{
	struct state_server s = { 0 };
	struct remote_host h = REMOTE_HOST_INIT;
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error e = BURST_ERROR_INIT;
	struct strbuf cmd = STRBUF_INIT, script = STRBUF_INIT;
	char *dir = NULL;
	int ret = 0;

	if (state_server_current(ctx->state, &s, &e) != 1 || !s.ip ||
	    s.status != STATE_SERVER_READY)
		goto out;
	remote_host_server(&h, ctx->config ? ctx->config->ssh_user : NULL,
			   ctx->config ? (int)ctx->config->ssh_port : 0,
			   ctx->config ? ctx->config->ssh_key_path : NULL,
			   state_dir(ctx->state), s.ip);
	dir = layout_control_dir(state_dir(ctx->state));
	/* a missing directory has no master; an unsafe one is never used */
	if (pipeline_control_dir_prepare(dir, false, &e) != 0) {
		if (e.message)
			ui_warn("not checking the services: %s", e.message);
		goto out;
	}
	if (remote_host_set_control_dir(&h, dir, &e) < 0 || !remote_master_check(&h))
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(services); i++)
		strbuf_addf(&script, "if (exec 3<>/dev/tcp/127.0.0.1/%s) 2>/dev/null; then "
			    "echo '%s up'; else echo '%s down'; fi; ", services[i][1],
			    services[i][0], services[i][0]);
	/* the volumes' use: `df -Pk` of each mount point (bounded) */
	strbuf_addstr(&script, "echo; ");
	for (size_t i = 0; i < us->nr; i++) {
		char *mount = layout_cache_dir(us->v[i].id, false);

		if (us->v[i].has_volume) {
			strbuf_addstr(&script, "timeout 5 df -Pk ");
			remote_shell_quote(&script, mount);
			strbuf_addstr(&script, " 2>/dev/null | sed 1d | sed 's/^/df /'; ");
		}
		free(mount);
	}
	strbuf_addstr(&script, "true");
	strbuf_addstr(&cmd, "bash -c ");
	remote_shell_quote(&cmd, script.buf);
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_NULL;
	cp.capture_max = 64 * 1024;
	cp.timeout_ms = 10000;
	if (remote_run(&h, cmd.buf, &cp, &e) < 0 || cp.exit_code != 0)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
		char *want = xstrfmt("%s up\n", services[i][0]);

		up[i] = strstr(cp.out_buf.buf, want) != NULL;
		free(want);
	}
	usages_take(ctx, us, cp.out_buf.buf);
	*server_name = xstrdup(s.name ? s.name : s.ip);
	ret = 1;
out:
	state_server_release(&s);
	remote_host_release(&h);
	child_process_release(&cp);
	burst_error_release(&e);
	strbuf_release(&cmd);
	strbuf_release(&script);
	free(dir);
	return ret;
}

/*
 * The latest `cargo burst up` of each project (<state dir>/up/<hash>.log):
 * running (its pid) or its last line, and the log; as text to stdout or
 * as the array "up" of json.
 */
static void up_section(struct burst_ctx *ctx, cJSON *json)
{
	char *dirname = xstrfmt("%s/up", state_dir(ctx->state));
	DIR *d = opendir(dirname);
	struct dirent *de;
	cJSON *arr = json ? cJSON_AddArrayToObject(json, "up") : NULL;
	size_t seen = 0;

	while (d && (de = readdir(d)) && seen < 1000) {
		struct state_project p = { 0 };
		struct burst_error e = BURST_ERROR_INIT;
		char hash[64], *log, *last;
		size_t n = strlen(de->d_name);
		int pid;

		if (n < 5 || n - 4 >= sizeof(hash) || strcmp(de->d_name + n - 4, ".log"))
			continue;
		seen++;
		memcpy(hash, de->d_name, n - 4);
		hash[n - 4] = '\0';
		log = xstrfmt("%s/%s", dirname, de->d_name);
		pid = up_running(state_dir(ctx->state), hash);
		last = up_last_line(log);
		state_project_get(ctx->state, hash, &p, &e);
		burst_error_release(&e);
		if (arr) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "project", hash);
			cJSON_AddBoolToObject(o, "running", pid > 0);
			if (pid > 0)
				cJSON_AddNumberToObject(o, "pid", pid);
			if (last)
				cJSON_AddStringToObject(o, "last_line", last);
			else
				cJSON_AddNullToObject(o, "last_line");
			cJSON_AddStringToObject(o, "log", log);
			cJSON_AddItemToArray(arr, o);
		} else if (pid > 0) {
			printf("up of %s  running (pid %d): %s\n  log             %s\n",
			       p.name ? p.name : hash, pid, last ? last : "starting", log);
		} else {
			printf("up of %s  %s\n  log             %s\n", p.name ? p.name : hash,
			       last ? last : "(no output)", log);
		}
		state_project_release(&p);
		free(last);
		free(log);
	}
	if (d)
		closedir(d);
	free(dirname);
}

/* Above PIPELINE_VOLUME_FULL_PERCENT: the warning and the command that clears it. */
static void warn_full(const struct usage *u)
{
	char *hint;

	if (!u->u.known || pipeline_volume_percent(&u->u) <= PIPELINE_VOLUME_FULL_PERCENT)
		return;
	hint = pipeline_volume_clean_hint(u->root);
	ui_warn("the volume of '%s' is %u%% full: builds fail when it is full", u->name,
		pipeline_volume_percent(&u->u));
	ui_help("clear its target/ with `%s`", hint);
	free(hint);
}

/* The volume use of each project, as text. */
static void usages_print(const struct usages *us)
{
	bool first = true;

	for (size_t i = 0; i < us->nr; i++) {
		const struct usage *u = &us->v[i];
		struct strbuf sb = STRBUF_INIT;
		char age[32];

		if (!u->has_volume)
			continue;
		pipeline_volume_usage_format(&sb, &u->u);
		if (u->u.known && !u->live)
			strbuf_addf(&sb, ", measured %s ago (no ssh connection is open)",
				    ui_duration(age, sizeof(age), (uint64_t)(state_now() > u->when ?
									  state_now() - u->when : 0) * 1000));
		printf("%-17s %s: %s\n", first ? "volume usage" : "", u->name, sb.buf);
		first = false;
		strbuf_release(&sb);
	}
	for (size_t i = 0; i < us->nr; i++)
		if (us->v[i].has_volume)
			warn_full(&us->v[i]);
}

/* Add "volume_usage" to each object of the JSON's "projects". */
static void usages_json(const struct usages *us, cJSON *doc)
{
	cJSON *projects = cJSON_GetObjectItemCaseSensitive(doc, "projects"), *p;

	cJSON_ArrayForEach(p, projects) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "id");
		const struct usage *u = NULL;
		cJSON *o;

		for (size_t i = 0; cJSON_IsString(id) && i < us->nr; i++)
			if (!strcmp(us->v[i].id, id->valuestring))
				u = &us->v[i];
		if (!u || !u->has_volume || !u->u.known) {
			cJSON_AddNullToObject(p, "volume_usage");
			continue;
		}
		o = cJSON_AddObjectToObject(p, "volume_usage");
		cJSON_AddNumberToObject(o, "used_bytes", (double)u->u.used_bytes);
		cJSON_AddNumberToObject(o, "total_bytes", (double)u->u.total_bytes);
		cJSON_AddNumberToObject(o, "percent", pipeline_volume_percent(&u->u));
		cJSON_AddBoolToObject(o, "live", u->live);
		cJSON_AddNumberToObject(o, "measured_at", (double)(u->live ? state_now() : u->when));
	}
}

static int print_json(struct burst_ctx *ctx, int known, const bool up[],
		      const struct usages *us)
{
	struct state_status s;
	char *text;
	cJSON *doc, *svc;
	int ret = -1;

	if (state_status_query(ctx->state, &s, &ctx->err) < 0)
		return -1;
	doc = report_status_json(ctx->state, &s);
	state_status_release(&s);
	up_section(ctx, doc);
	usages_json(us, doc);
	if (known) {
		svc = cJSON_AddObjectToObject(doc, "services");
		for (size_t i = 0; i < ARRAY_SIZE(services); i++)
			cJSON_AddStringToObject(svc, services[i][0], up[i] ? "up" : "down");
	} else {
		cJSON_AddNullToObject(doc, "services");
	}
	if (ctx->config && ctx->config->host) {
		cJSON *byo = cJSON_AddObjectToObject(doc, "host");
		char *last = pipeline_byo_last_run(state_dir(ctx->state), ctx->config->host);

		cJSON_AddStringToObject(byo, "name", ctx->config->host);
		if (last)
			cJSON_AddStringToObject(byo, "last_run", last);
		else
			cJSON_AddNullToObject(byo, "last_run");
		free(last);
	}
	text = cJSON_Print(doc);
	if (text) {
		printf("%s\n", text);
		ret = 0;
	}
	cJSON_free(text);
	cJSON_Delete(doc);
	return ret;
}

enum { STATUS_OPT_JSON = 1 };

static int exec_status(struct burst_ctx *ctx)
{
	bool json = false, up[ARRAY_SIZE(services)] = { false };
	struct usages us = { NULL, 0 };
	char *name = NULL;
	int known, ret;

	if (ctx->args.positional.nr)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "unexpected argument '%s' for status",
				       ctx->args.positional.v[0]);
	json = cli_args_has(&ctx->args, STATUS_OPT_JSON);
	usages_load(ctx, &us);
	known = probe_services(ctx, up, &name, &us);
	if (json) {
		ret = print_json(ctx, known, up, &us);
	} else {
		ret = report_print_status(ctx->state, stdout, false, &ctx->err);
		if (ret == 0 && known) {
			printf("services on %s:", name);
			for (size_t i = 0; i < ARRAY_SIZE(services); i++)
				printf(" %s %s", services[i][0], up[i] ? "up" : "down");
			printf("\n");
		} else if (ret == 0) {
			printf("services          unknown (no ssh connection is open; no new one "
			       "is made)\n");
		}
		if (ret == 0)
			usages_print(&us);
		if (ret == 0)
			up_section(ctx, NULL);
		if (ret == 0 && ctx->config && ctx->config->host) {
			/* a bring-your-own host (pipeline.h): its last run */
			char *last = pipeline_byo_last_run(state_dir(ctx->state),
							   ctx->config->host);

			printf("host              %s (bring your own: no API, no reapers); "
			       "last run: %s\n", ctx->config->host, last ? last : "none");
			free(last);
		}
	}
	free(name);
	usages_release(&us);
	return ret;
}

static const struct burst_option status_options[] = {
	{ STATUS_OPT_JSON, 0, "json", NULL, "Machine-readable output", 0 },
	OPT_HELP, OPT_END,
};

const struct burst_cmd cmd_status = {
	"status", "Show the server, volumes, deadlines and reapers",
	"cargo burst status [--json]",
	"Shows the image, the server (type, location, IP, up since, paid through,\n"
	"reaper deadline and pid, --no-reap), per project its volume, last use and\n"
	"deadline, its used/total space (a warning above 90% with the command that\n"
	"clears it), runs in progress and the database services on the server (when an\n"
	"ssh connection is open), and the bring-your-own host of the global config\n"
	"with its last run.  Re-arms any reaper that is missing.\n",
	CMD_CONFIG | CMD_STATE, exec_status, status_options,
};

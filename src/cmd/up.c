/*
 * up.c - `cargo burst up [--wait] [--keep-alive SECONDS] [--no-reap]`:
 * provision (or adopt) the server, attach and mount the project's volume
 * and sync the workspace, so that the next run starts warm.
 *
 * Without --wait the work is done by a detached `cargo burst up --wait`
 * (src/proc/detach.c, like the reapers) started in the workspace, whose
 * output goes to <state dir>/up/<project hash>.log; the terminal returns
 * at once.  The detached one is an ordinary invocation: it takes the
 * project's lease and the provisioning lock like a run, so a run started
 * meanwhile waits for the lock and then joins its server (never a second
 * one).  The workspace is synced too: the first run's sync is then a
 * no-change rsync, and cargo starts sooner.  With an own host configured
 * (`host = ...`) up is the connection and the sync there only: it never
 * speaks of (or checks) a Hetzner server the state may still list.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/layout.h"
#include "burst/pipeline.h"
#include "burst/proc.h"
#include "burst/provision.h"
#include "burst/remote.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "burst/text.h"
#include "burst/ui.h"
#include "burst/util.h"

enum { UP_OPT_WAIT = 1, UP_OPT_KEEP_ALIVE, UP_OPT_NO_REAP };

char *up_log_path(const char *state_dir, const char *project_hash)
{
	return xstrfmt("%s/up/%s.log", state_dir, project_hash);
}

/* The pid file of a detached up: "pid start-time". */
static char *up_pid_path(const char *state_dir, const char *project_hash)
{
	return xstrfmt("%s/up/%s.pid", state_dir, project_hash);
}

int up_running(const char *state_dir, const char *project_hash)
{
	char *path = up_pid_path(state_dir, project_hash);
	struct strbuf sb = STRBUF_INIT;
	long long pid = 0;
	unsigned long long start = 0;
	int ret = 0;

	strbuf_set_max(&sb, 128);
	if (strbuf_read_file(&sb, path) == 0 &&
	    sscanf(sb.buf, "%lld %llu", &pid, &start) == 2 && pid > 1 && pid < INT_MAX &&
	    start && state_pid_alive((pid_t)pid, (uint64_t)start))
		ret = (int)pid;
	strbuf_release(&sb);
	free(path);
	return ret;
}

char *up_last_line(const char *log)
{
	char buf[4096], *end, *start;
	struct stat sb;
	ssize_t n;
	off_t off;
	int fd = open(log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return NULL;
	}
	off = sb.st_size > (off_t)sizeof(buf) - 1 ? sb.st_size - (off_t)sizeof(buf) + 1 : 0;
	n = pread(fd, buf, sizeof(buf) - 1, off);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	end = buf + n;
	while (end > buf && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r'))
		*--end = '\0';
	start = strrchr(buf, '\n');
	start = start ? start + 1 : buf;
	while (*start == ' ')
		start++;
	return *start ? burst_text_sanitize(start, 300) : NULL;
}

/*
 * Are the server and the project's volume up, as far as this machine can
 * tell without a request: a ready server row with a live ssh master, and
 * the project's volume ready in its location.  Fills *name and *deadline.
 */
static bool already_up(struct burst_ctx *ctx, const char *hash, char **name,
		       int64_t *deadline, bool *no_reap)
{
	struct state_server s = { 0 };
	struct state_project p = { 0 };
	struct remote_host h = REMOTE_HOST_INIT;
	struct burst_error e = BURST_ERROR_INIT;
	char *dir = NULL;
	bool ret = false;

	if (provision_current_server(ctx->state, ctx->config->arch, &s, &e) != 1 ||
	    s.status != STATE_SERVER_READY ||
	    !s.ip || !s.location)
		goto out;
	if (state_project_get(ctx->state, hash, &p, &e) != 1 || !p.volume_hcloud_id ||
	    p.volume_status != STATE_VOLUME_READY || !p.location || strcmp(p.location, s.location))
		goto out;
	remote_host_server(&h, ctx->config->ssh_user, (int)ctx->config->ssh_port,
			   ctx->config->ssh_key_path, state_dir(ctx->state), s.ip);
	dir = layout_control_dir(state_dir(ctx->state));
	if (pipeline_control_dir_prepare(dir, false, &e) != 0 ||
	    remote_host_set_control_dir(&h, dir, &e) < 0 || !remote_master_check(&h))
		goto out;
	*name = xstrdup(s.name ? s.name : s.ip);
	*deadline = s.deadline;
	*no_reap = s.no_reap;
	ret = true;
out:
	state_server_release(&s);
	state_project_release(&p);
	remote_host_release(&h);
	burst_error_release(&e);
	free(dir);
	return ret;
}

/* Replace path with text (a temporary file renamed over it); 0 or -1. */
static int write_small_file(const char *path, const char *text)
{
	char *tmp = xstrfmt("%s.%ld.tmp", path, (long)getpid());
	size_t len = strlen(text);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int ret = -1;

	if (fd >= 0) {
		bool ok = write(fd, text, len) == (ssize_t)len;

		ok = !close(fd) && ok;
		ret = ok && !rename(tmp, path) ? 0 : -1;
		if (ret < 0)
			unlink(tmp);
	}
	free(tmp);
	return ret;
}

/*
 * Start `cargo burst up --wait ...` detached in the workspace; byo is the
 * configured own host it connects to and syncs to (or NULL: Hetzner).
 */
static int spawn_up(struct burst_ctx *ctx, const char *hash, const char *log,
		    const char *byo)
{
	struct strvec argv = STRVEC_INIT;
	char exe[PATH_MAX], *pidfile = up_pid_path(state_dir(ctx->state), hash);
	char *dir = xstrfmt("%s/up", state_dir(ctx->state));
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *ka = cli_args_get(&ctx->args, UP_OPT_KEEP_ALIVE);
	pid_t pid = 0;
	int fd, ret = -1;

	if (n <= 0) {
		burst_error_set(&ctx->err, BURST_EXIT_INTERNAL, "cannot find the running "
				"executable (/proc/self/exe)");
		goto out;
	}
	exe[n] = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		burst_error_set(&ctx->err, BURST_EXIT_STATE, "cannot create '%s': %s", dir,
				strerror(errno));
		goto out;
	}
	/* the log holds the latest up of the project only */
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		burst_error_set(&ctx->err, BURST_EXIT_STATE, "cannot create '%s': %s", log,
				strerror(errno));
		goto out;
	}
	close(fd);
	/* the detached worker starts in "/": it changes to the workspace first */
	{
		static const char *const head[] = {
			"/bin/sh", "-c", "cd -- \"$1\" || exit 1; shift; exec \"$@\"", "sh", NULL,
		};

		strvec_pushv(&argv, head);
	}
	strvec_push(&argv, ctx->workspace_root);
	strvec_push(&argv, exe);
	strvec_push(&argv, "burst");
	strvec_push(&argv, "up");
	strvec_push(&argv, "--wait");
	if (ka) {
		strvec_push(&argv, "--keep-alive");
		strvec_push(&argv, ka);
	}
	if (cli_args_has(&ctx->args, UP_OPT_NO_REAP))
		strvec_push(&argv, "--no-reap");
	if (proc_spawn_detached((const char *const *)argv.v, NULL, log, &pid, &ctx->err) < 0)
		goto out;
	{
		/* sh exec()s the tool: the pid stays; its start time tells a reuse */
		uint64_t start = state_pid_start_time(pid);
		char *line = xstrfmt("%d %llu\n", (int)pid, (unsigned long long)start);

		/* no start time: it has ended already (its log says how) */
		if (!start)
			unlink(pidfile);
		else if (write_small_file(pidfile, line) < 0)
			ui_warn("cannot write '%s': `status` will not see this up running", pidfile);
		free(line);
	}
	if (byo) {
		/* no server, no volume, no lock a run waits for: the sync only */
		ui_status("Starting", "the sync of the workspace to '%s' in the background "
			  "(pid %d)", byo, (int)pid);
		ui_note("progress in %s (`cargo burst status` points to it)", log);
	} else {
		ui_status("Starting", "the server and the project's volume in the background "
			  "(pid %d)", (int)pid);
		ui_note("progress in %s (`cargo burst status` points to it); a run started now "
			"waits for it and uses the same server", log);
	}
	ret = 0;
out:
	strvec_clear(&argv);
	free(pidfile);
	free(dir);
	return ret;
}

static int exec_up(struct burst_ctx *ctx)
{
	char hash[PROVISION_HASH_LEN + 1], *log = NULL, *name = NULL, clock[48];
	const char *ka = cli_args_get(&ctx->args, UP_OPT_KEEP_ALIVE);
	/* the configured own host: what up does is a sync there, never a server */
	const char *byo = cli_byo_host(ctx) ? ctx->config->host : NULL;
	int64_t deadline = 0, secs;
	bool no_reap = false;
	int running;
	int ret = -1;

	if (ctx->args.positional.nr)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "unexpected argument '%s' for up",
				       ctx->args.positional.v[0]);
	/* the range of the config key it overrides, as for a run verb */
	if (ka && parse_int64(ka, config_keys[CONFIG_KEEP_ALIVE_SECS].min,
			      config_keys[CONFIG_KEEP_ALIVE_SECS].max, &secs) < 0) {
		burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				"invalid value '%s' for '--keep-alive': expected a number of "
				"seconds from %lld to %lld", ka,
				(long long)config_keys[CONFIG_KEEP_ALIVE_SECS].min,
				(long long)config_keys[CONFIG_KEEP_ALIVE_SECS].max);
		return -1;
	}
	ctx->run.verb = "up";
	ctx->run.keep_alive_secs = ka ? secs : -1;
	ctx->run.no_reap = cli_args_has(&ctx->args, UP_OPT_NO_REAP) > 0;
	if (cli_args_has(&ctx->args, UP_OPT_WAIT)) {
		/* the run request a run verb gets from the dispatcher */
		struct config_overrides o = { ctx->run.keep_alive_secs, NULL, NULL };
		struct pipeline_job job;

		if (config_apply_cli(ctx->config, &o, &ctx->err) < 0 ||
		    run_request_build(&ctx->req, &ctx->run, ctx->config, &ctx->err) < 0)
			return -1;
		cli_pipeline_job(&job, ctx);
		return pipeline_up(&job, &ctx->err);
	}

	project_hash_arch(ctx->workspace_root, ctx->config->arch, hash);
	log = up_log_path(state_dir(ctx->state), hash);
	running = up_running(state_dir(ctx->state), hash);
	if (running && byo) {
		ui_info("Running", "`cargo burst up` (pid %d) is syncing the workspace to "
			"'%s' already; progress in %s", running, byo, log);
		ret = 0;
	} else if (running) {
		ui_info("Running", "`cargo burst up` (pid %d) is bringing the server up "
			"already; progress in %s", running, log);
		ret = 0;
	} else if (!byo && already_up(ctx, hash, &name, &deadline, &no_reap)) {
		if (no_reap)
			ui_status("Up", "server '%s' and the project's volume are up already "
				  "(--no-reap: it stays up until `cargo burst down`)", name);
		else
			ui_status("Up", "server '%s' and the project's volume are up already; "
				  "it stays up until %s (not extended)", name,
				  ui_local_time(clock, sizeof(clock), deadline, false));
		ret = 0;
	} else {
		ret = spawn_up(ctx, hash, log, byo);
	}
	free(name);
	free(log);
	return ret;
}

static const struct burst_option up_options[] = {
	{ UP_OPT_WAIT, 0, "wait", NULL,
	  "Wait until the server is up, showing the progress", 0 },
	{ UP_OPT_KEEP_ALIVE, 0, "keep-alive", "SECONDS",
	  "Idle time before the server is deleted", OPT_VALUE },
	{ UP_OPT_NO_REAP, 0, "no-reap", NULL, "Leave no reaper: the server stays up", 0 },
	OPT_HELP, OPT_END,
};

const struct burst_cmd cmd_up = {
	"up", "Bring the server and the project's volume up in the background",
	"cargo burst up [--wait] [--keep-alive SECONDS] [--no-reap]",
	"Does what a run does before cargo: the server (adopted, or created under\n"
	"the provisioning lock), the project's volume attached and mounted, the\n"
	"workspace synced, the reapers armed with the keep-alive; so the first\n"
	"build of the day starts warm.  It returns at once: a detached\n"
	"`cargo burst up --wait` does the work and logs to\n"
	"<state dir>/up/<project>.log (`cargo burst status` shows it).  A run\n"
	"started meanwhile waits for it and uses the same server, never a second\n"
	"one.  When everything is up already it says so and extends nothing.\n"
	"An editor or shell hook, e.g. in ~/.bashrc:\n"
	"  cd() { builtin cd \"$@\" || return; [ -f Cargo.toml ] && cargo burst -q up;\n"
	"         return 0; }\n"
	"(in VS Code: a task with \"runOptions\": {\"runOn\": \"folderOpen\"}).\n",
	CMD_CONFIG | CMD_WORKSPACE | CMD_API | CMD_STATE | CMD_PROVISION, exec_up,
	up_options,
};

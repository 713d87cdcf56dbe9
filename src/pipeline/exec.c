/*
 * exec.c - the remote part of a run: mount, then sync, the remote cargo with
 * live output and Ctrl-C, and the fetch of artifacts.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/config.h"
#include "burst/log.h"
#include "burst/pipeline.h"
#include "burst/proc.h"
#include "burst/provision.h"
#include "burst/remote.h"
#include "burst/state.h"
#include "burst/ui.h"

#include "pipeline-int.h"

#define MOD "pipeline"
#define OUTPUT_TAIL_MAX (256 * 1024)
/* How long a warm run's mount waits for the device the state says is attached. */
#define WARM_DEVICE_WAIT_SECS 1

/* ---- mount, then sync --------------------------------------------------- */

/*
 * Begin the push (run once the volume is mounted) of the workspace into
 * remote_dir: the configured excludes plus the answered large
 * directories, and the local index of the last sync to this volume's
 * (BYO: host's) remote_dir (a file under the state dir).  The index is
 * loaded and the walk started here, so that it runs beside the mount.
 */
static struct sync_push *begin_push(struct run *r, const char *remote_dir)
{
	struct sync_filters f = { 0 };
	struct strvec extra = STRVEC_INIT;
	struct sync_push *sp;
	/*
	 * What the remote tree lives on: a server's is on the project's
	 * volume, so a new server with the kept volume syncs incrementally
	 * (the marker on the volume still has to match).
	 */
	char *target = r->byo ? xstrfmt("byo %s", r->display ? r->display : r->host.host)
			      : xstrfmt("volume %lld", (long long)r->vol.hcloud_id);
	/* one index per project and remote dir: another server's replaces it */
	char *index = layout_sync_index(state_dir(r->st), remote_dir, r->project.root);

	for (size_t i = 0; i < r->cfg->extra_excludes.items.nr; i++)
		strvec_push(&extra, r->cfg->extra_excludes.items.v[i]);
	for (size_t i = 0; i < r->excludes.nr; i++)
		strvec_push(&extra, r->excludes.v[i]);
	f.extra_excludes = (const char *const *)extra.v;
	f.unexclude = (const char *const *)r->cfg->unexclude.items.v;
	f.sync_git = r->cfg->sync_git;
	f.progress = remote_sync_progress_wanted();
	f.index_path = index;
	f.index_target = target;
	f.verify_secs = r->cfg->sync_verify_secs;
	/* a host of the user's may have another tar than the image's GNU tar */
	f.no_small = r->byo;
	sp = remote_sync_push_begin(&r->host, r->project.root, remote_dir, &f);
	strvec_clear(&extra);
	free(index);
	free(target);
	return sp;
}

/*
 * Plan and run the push begun by begin_push().  On success it is kept in
 * r->push: its index is written beside the remote cargo, and the run's end
 * waits for it.  -1 + err on failure (sp is then the caller's to free).
 */
static int push_tree(struct run *r, struct sync_push *sp, const char *remote_dir,
		     struct burst_error *err)
{
	struct sync_stats stats = { 0 };
	struct child_process *cp;

	if (remote_sync_push_plan(sp, err) < 0)
		return -1;
	ui_status("Syncing", "%s to %s:%s", r->project.root, r->srv.name, remote_dir);
	cp = remote_sync_push_child(sp);
	if (cp && proc_run(cp, err) < 0)
		return -1;
	if (proc_interrupted()) {
		r->interrupted = true;
		return 0;
	}
	if (remote_sync_push_end(sp, &stats, err) < 0)
		return -1;
	ui_verbose("Synced", "%llu files, %llu bytes sent",
		   (unsigned long long)stats.files, (unsigned long long)stats.bytes_sent);
	remote_sync_push_free(r->push);
	r->push = sp;
	return 0;
}

/* The last non-empty line of captured output (allocated), or "". */
static char *last_line(const struct strbuf *sb)
{
	const char *end = sb->buf + sb->len, *start;

	while (end > sb->buf && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	start = end;
	while (start > sb->buf && start[-1] != '\n')
		start--;
	return xstrndup(start, (size_t)(end - start));
}

/*
 * Runs of the same project on this machine sync into the same directory and
 * mount the same volume: one at a time (a flock on a file in the state
 * dir; the kernel drops it if we die).  Returns the descriptor, or -1 with
 * err (only when interrupted while waiting; a lock file that cannot be
 * made just means no lock).
 */
static int project_lock(struct run *r, struct burst_error *err)
{
	char *dir = xstrfmt("%s/locks", state_dir(r->st));
	char *path = xstrfmt("%s/%s.sync", dir, r->project.hash);
	bool said = false;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_debug(MOD, "cannot create %s: %s", dir, strerror(errno));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(dir);
	free(path);
	if (fd < 0)
		return -2;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return -2;
		}
		if (!said)
			ui_status("Blocking", "waiting for another run of this project to sync");
		said = true;
		/* the other run's sync is bounded: waiting for it is progress */
		proc_note_activity();
		if (proc_interrupted()) {
			close(fd);
			return burst_error_set(err, BURST_EXIT_INTERRUPTED, "interrupted");
		}
		usleep(100 * 1000);
	}
	return fd;
}

/* BYO host or --no-sync: the rsync alone, or nothing. */
static int sync_only(struct run *r, struct burst_error *err)
{
	struct sync_push *sp = NULL;
	char *src = layout_src_dir(r->project.hash, r->byo);
	int ret = -1, lock;

	if (r->req->no_sync) {
		ui_verbose("Skipping", "the sync (--no-sync): %s:%s is as the last run left it",
			   r->srv.name, src);
		ret = 0;
		goto out;
	}
	lock = project_lock(r, err);
	if (lock == -1)
		goto out;
	sp = begin_push(r, src);
	/* the lock is let go once the push is done with the tree */
	remote_sync_push_hold(sp, lock);
	if (push_tree(r, sp, src, err) < 0)
		goto out;
	if (r->push == sp)
		sp = NULL;
	ret = 0;
out:
	remote_sync_push_free(sp);
	free(src);
	return ret;
}

/*
 * Mount, then sync: the source tree is on the volume, so it is synced only
 * once the volume is mounted (never into the bare mount point on the root
 * disk, where it would fill the disk and later be hidden under the mount).
 * The workspace is walked while the mount runs, and the mount command also
 * reads the server's sync marker: a warm run with nothing to send needs
 * no second round trip.
 */
static int mount_and_sync(struct run *r, struct burst_error *err)
{
	struct child_process mount = CHILD_PROCESS_INIT;
	struct sync_push *sp = NULL;
	struct strbuf script = STRBUF_INIT, cmd = STRBUF_INIT;
	char *src = layout_src_dir(r->project.hash, false);
	char *mnt = layout_cache_dir(r->project.hash, false);
	char *dev = provision_device_path(r->vol.hcloud_id);
	int ret = -1, lock;

	lock = project_lock(r, err);
	if (lock == -1)
		goto out;
	if (!r->req->no_sync) {
		sp = begin_push(r, src);
		/* the lock is let go once the push is done with the tree */
		remote_sync_push_hold(sp, lock);
		lock = -2;
	}
	/* a warm run did not look for the device: do not wait for one that is gone */
	remote_mount_script_wait(dev, mnt, r->cfg->ssh_user,
				 r->volume_unverified ? WARM_DEVICE_WAIT_SECS : 30, &script);
	strbuf_addstr(&cmd, "sh -c ");
	remote_shell_quote(&cmd, script.buf);
	if (sp)
		remote_sync_push_probe(sp, &cmd);
	remote_command_prepare(&r->host, cmd.buf, 0, &mount);
	mount.in = PROC_IO_NULL;
	mount.out = PROC_IO_CAPTURE;
	mount.err = PROC_IO_CAPTURE;
	mount.capture_max = 256 * 1024;
	mount.timeout_ms = 120000;
	if (r->req->no_sync)
		/* the volume still holds target/ and src/: mount it, sync nothing */
		ui_status("Mounting", "the project's volume (--no-sync: no sync)");
	if (proc_run(&mount, err) < 0)
		goto out;
	if (proc_interrupted()) {
		r->interrupted = true;
		ret = 0;
		goto out;
	}
	if (mount.exit_code == REMOTE_MOUNT_NO_DEVICE && r->volume_unverified) {
		r->device_gone = true;
		burst_error_set(err, BURST_EXIT_REMOTE, "the device of volume '%s' is gone from '%s'",
				r->vol.name ? r->vol.name : "?", r->srv.name);
		goto out;
	}
	if (mount.exit_code != 0) {
		struct strbuf why = STRBUF_INIT;

		proc_describe_status(&mount, &why);
		strbuf_trim(&mount.err_buf);
		burst_error_set(err, BURST_EXIT_REMOTE,
				"mounting volume '%s' at %s on '%s' failed (%s)%s%s",
				r->vol.name ? r->vol.name : "?", mnt, r->srv.name, why.buf,
				mount.err_buf.len ? ":\n" : "", mount.err_buf.buf);
		burst_error_hint(err, "run `cargo burst status`; `cargo burst down` "
				 "replaces the server on the next run");
		strbuf_release(&why);
		goto out;
	}
	if (sp) {
		remote_sync_push_probed(sp, mount.out_buf.buf, mount.out_buf.len);
		if (push_tree(r, sp, src, err) < 0)
			goto out;
		if (r->push == sp)
			sp = NULL;
	}
	ret = 0;
out:
	if (lock >= 0)
		close(lock); /* releases the flock */
	child_process_release(&mount);
	remote_sync_push_free(sp);
	strbuf_release(&script);
	strbuf_release(&cmd);
	free(src);
	free(mnt);
	free(dev);
	return ret;
}

int pipeline_sync_and_mount(struct run *r, struct burst_error *err)
{
	return r->byo ? sync_only(r, err) : mount_and_sync(r, err);
}

/* ---- the remote cargo ---------------------------------------------------- */

static void keep_tail(struct run *r, const char *line, size_t len)
{
	if (r->tail.len + len + 1 > OUTPUT_TAIL_MAX) {
		size_t drop = r->tail.len / 2;

		memmove(r->tail.buf, r->tail.buf + drop, r->tail.len - drop);
		strbuf_setlen(&r->tail, r->tail.len - drop);
	}
	if (len + 1 < OUTPUT_TAIL_MAX) {
		strbuf_add(&r->tail, line, len);
		strbuf_addch(&r->tail, '\n');
	}
}

static void emit_line(FILE *f, struct run *r, const char *line, size_t len, unsigned flags)
{
	fwrite(line, 1, len, f);
	if (!(flags & PROC_LINE_PARTIAL))
		fputc('\n', f);
	fflush(f);
	keep_tail(r, line, len);
}

/* Take the marker line of the remote paths; false when line is not one. */
static bool take_paths_line(struct run *r, const char *line, size_t len)
{
	const char *p;
	size_t ml = strlen(PIPELINE_PATHS_MARKER);

	if (len <= ml || memcmp(line, PIPELINE_PATHS_MARKER, ml) || memchr(line, '\n', len))
		return false;
	p = line + ml;
	for (size_t i = 0; i < ARRAY_SIZE(r->remote_paths); i++) {
		size_t n;

		if (*p != '\t')
			break;
		p++;
		n = strcspn(p, "\t");
		/* only absolute paths: anything else maps nothing */
		if (n > 1 && p[0] == '/' && n < 4096)
			r->remote_paths[i] = xstrndup(p, n);
		p += n;
	}
	return true;
}

static int longer_first(const void *a, const void *b)
{
	const struct pipeline_path_map *x = a, *y = b;
	size_t lx = x->from ? strlen(x->from) : 0, ly = y->from ? strlen(y->from) : 0;

	return lx < ly ? 1 : lx > ly ? -1 : 0;
}

/* Emit one whole stdout line with the remote paths mapped back. */
static void emit_mapped(struct run *r, const char *line, size_t len, unsigned flags)
{
	const char *home = getenv("CARGO_HOME");
	char *local_home, *mapped;
	struct pipeline_path_map maps[3];

	if (home && *home)
		local_home = pipeline_abs_path(r->job->cwd ? r->job->cwd : r->project.root, home);
	else
		local_home = xstrfmt("%s/.cargo", getenv("HOME") ? getenv("HOME") : "");
	maps[0].from = r->remote_paths[0];
	maps[0].to = r->project.root;
	maps[1].from = r->remote_paths[1];
	maps[1].to = r->local_target_dir;
	maps[2].from = r->remote_paths[2];
	maps[2].to = local_home;
	qsort(maps, ARRAY_SIZE(maps), sizeof(maps[0]), longer_first);
	mapped = pipeline_json_map_line(line, len, maps, ARRAY_SIZE(maps));
	if (mapped)
		emit_line(stdout, r, mapped, strlen(mapped), flags);
	else
		emit_line(stdout, r, line, len, flags);
	free(mapped);
	free(local_home);
}

/*
 * --message-format=json*: whole lines (up to PIPELINE_JSON_LINE_MAX, pieces
 * joined) are mapped back; a longer one passes through as it comes.
 */
static void json_stdout(struct run *r, const char *line, size_t len, unsigned flags)
{
	if (!r->json_first_seen) {
		r->json_first_seen = true;
		if (!(flags & PROC_LINE_PARTIAL) && take_paths_line(r, line, len))
			return;
	}
	if (r->json_long) {
		emit_line(stdout, r, line, len, flags);
		r->json_long = (flags & PROC_LINE_PARTIAL) != 0;
		return;
	}
	if (flags & PROC_LINE_PARTIAL) {
		if (r->json_pending.len + len <= PIPELINE_JSON_LINE_MAX) {
			strbuf_add(&r->json_pending, line, len);
			return;
		}
		emit_line(stdout, r, r->json_pending.buf, r->json_pending.len, PROC_LINE_PARTIAL);
		strbuf_reset(&r->json_pending);
		emit_line(stdout, r, line, len, flags);
		r->json_long = true;
		return;
	}
	if (r->json_pending.len) {
		strbuf_add(&r->json_pending, line, len);
		emit_mapped(r, r->json_pending.buf, r->json_pending.len, flags);
		strbuf_reset(&r->json_pending);
		return;
	}
	emit_mapped(r, line, len, flags);
}

static void cargo_stdout(const char *line, size_t len, unsigned flags, void *data)
{
	struct run *r = data;

	if (r->json_map)
		json_stdout(r, line, len, flags);
	else
		emit_line(stdout, r, line, len, flags);
}

/* Keep a marker line of the remote command's end (once each); true if it was one. */
static bool cache_line(struct run *r, const char *line, size_t len)
{
	static const char *const markers[] = {
		PIPELINE_SCCACHE_BEFORE_MARKER, PIPELINE_SCCACHE_AFTER_MARKER, PIPELINE_DF_MARKER,
	};
	char **slots[] = { &r->cache_json[0], &r->cache_json[1], &r->df_line };

	for (size_t i = 0; i < ARRAY_SIZE(markers); i++) {
		size_t ml = strlen(markers[i]);

		if (len < ml || memcmp(line, markers[i], ml))
			continue;
		if (!*slots[i] && len - ml <= PIPELINE_SCCACHE_JSON_MAX)
			*slots[i] = xstrndup(line + ml, len - ml);
		return true;
	}
	return false;
}

static void cargo_stderr(const char *line, size_t len, unsigned flags, void *data)
{
	struct run *r = data;
	size_t ml = strlen(PIPELINE_RUSTC_MARKER);

	/* the wrapper's `rustc -V` line is for the summary, not the terminal */
	if (!r->rustc && !(flags & PROC_LINE_PARTIAL) && len > ml && len < 512 &&
	    !memcmp(line, PIPELINE_RUSTC_MARKER, ml)) {
		r->rustc = xstrndup(line + ml, len - ml);
		return;
	}
	/* ...and so are sccache's counters and the volume's df (cachestats.c) */
	if (!(flags & PROC_LINE_PARTIAL) && cache_line(r, line, len))
		return;
	emit_line(stderr, data, line, len, flags);
}

/* ---- port forwarding (run -L) ---------------------------------------------- */

/* ssh -O forward|cancel -L 127.0.0.1:LOCAL:127.0.0.1:REMOTE over the master. */
static int forward_ctl(struct run *r, const char *op, int local, int remote,
		       struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	int ret = -1;

	remote_ssh_base_argv(&r->host, &cp.args);
	strvec_push(&cp.args, "-O");
	strvec_push(&cp.args, op);
	strvec_push(&cp.args, "-L");
	strvec_pushf(&cp.args, "127.0.0.1:%d:127.0.0.1:%d", local, remote);
	strvec_push(&cp.args, "--");
	strvec_push(&cp.args, r->host.host);
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 64 * 1024;
	cp.timeout_ms = 15000;
	if (proc_run(&cp, err) < 0)
		goto out;
	if (cp.exit_code != 0) {
		char *why = last_line(&cp.err_buf);

		burst_error_set(err, BURST_EXIT_REMOTE,
				"forwarding local port %d to port %d on '%s' failed%s%s", local,
				remote, r->srv.name, *why ? ": " : "", why);
		free(why);
		goto out;
	}
	ret = 0;
out:
	child_process_release(&cp);
	return ret;
}

/* Cancel the forwards set up so far (the first nr of the request's). */
static void stop_forwards(struct run *r, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		struct burst_error e = BURST_ERROR_INIT;
		int local = r->req->forwards[i].local, remote = r->req->forwards[i].remote;

		if (forward_ctl(r, "cancel", local, remote, &e) < 0)
			log_debug(MOD, "cancelling the forward of port %d: %s", local, e.message);
		burst_error_release(&e);
	}
}

/* Set up every -L; on failure the ones already set up are cancelled. */
static int start_forwards(struct run *r, struct burst_error *err)
{
	for (size_t i = 0; i < r->req->nforwards; i++) {
		int local = r->req->forwards[i].local, remote = r->req->forwards[i].remote;

		if (pipeline_check_local_port(local, err) < 0 ||
		    forward_ctl(r, "forward", local, remote, err) < 0) {
			stop_forwards(r, i);
			return -1;
		}
		ui_status("Forwarding", "localhost:%d to port %d on '%s'", local, remote,
			  r->srv.name);
	}
	return 0;
}

/* Ctrl-C: stop the remote cargo's whole process group, harder each time. */
static void cargo_interrupt(struct child_process *cp, int signo, int count, void *data)
{
	struct run *r = data;
	struct burst_error e = BURST_ERROR_INIT;

	r->interrupted = true;
	if (count == 1) {
		ui_warn("stopping the remote cargo (Ctrl-C again to force)");
		if (remote_kill(&r->host, r->pid_file, SIGINT, &e) == 0)
			goto out;
		log_debug(MOD, "remote kill: %s", e.message);
	} else if (count == 2) {
		if (remote_kill(&r->host, r->pid_file, SIGKILL, &e) == 0)
			goto out;
	}
	/* the remote side cannot be reached: at least let go of ssh */
	kill(-cp->pid, SIGKILL);
out:
	burst_error_release(&e);
}

int pipeline_remote_cargo(struct run *r, struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct pipeline_cmd c = { 0 };
	struct strbuf wrapped = STRBUF_INIT;
	char *line;
	int ret = -1, rc;

	c.verb = r->verb;
	c.toolchain = r->req->toolchain;
	c.args = (const char *const *)r->req->cargo_args->v;
	c.nargs = r->req->cargo_args->nr;
	if (r->paths_mapped) {
		c.args = (const char *const *)r->paths.args.v;
		c.nargs = r->paths.args.nr;
		c.cwd_rel = r->paths.cwd_rel;
	}
	c.paths_line = r->json_map;
	c.cache_stats = true;
	c.env = &r->env;
	c.project_hash = r->project.hash;
	c.no_doctests = r->req->no_doctests;
	c.cargo_test = r->req->cargo_test;
	c.has_lib = r->has_lib;
	c.color = ui_color();
	c.byo = r->byo;
	pipeline_check_toolchain(r);
	c.install_toolchain = r->install_toolchain;
	line = pipeline_remote_command(&c);
	remote_wrap_pidfile(&wrapped, r->pid_file, line);
	free(line);
	log_debug(MOD, "remote command: %s", wrapped.buf);

	remote_command_prepare(&r->host, wrapped.buf, 0, &cp);
	/* stdin only for `run`, whose program may read it */
	cp.in = strcmp(r->verb, "run") ? PROC_IO_NULL : PROC_IO_INHERIT;
	cp.out = PROC_IO_LINES;
	cp.err = PROC_IO_LINES;
	cp.out_line = cargo_stdout;
	cp.err_line = cargo_stderr;
	cp.cb_data = r;
	/* the terminal's Ctrl-C must not kill ssh before the remote cargo */
	cp.own_session = true;
	cp.on_interrupt = cargo_interrupt;
	if (start_forwards(r, err) < 0)
		goto out;
	if (ui_verbosity() > 0) {
		/* -v: the exact cargo command line */
		line = pipeline_display_command(&c);
		ui_status("Running", "%s on '%s'", line, r->srv.name);
		free(line);
	} else {
		ui_status("Running", "`cargo %s` on '%s'", r->verb, r->srv.name);
	}
	rc = proc_run(&cp, err);
	if (r->json_pending.len) { /* the last line had no newline */
		emit_mapped(r, r->json_pending.buf, r->json_pending.len, PROC_LINE_PARTIAL);
		strbuf_reset(&r->json_pending);
	}
	stop_forwards(r, r->req->nforwards);
	if (rc < 0)
		goto out;
	if (proc_interrupted())
		r->interrupted = true;
	r->exit_code = proc_status_code(&cp);
	if (!r->interrupted && cp.exit_code == 255) {
		burst_error_set(err, BURST_EXIT_REMOTE,
				"the ssh connection to '%s' (%s) failed during the run",
				r->srv.name, r->srv.ip);
		burst_error_hint(err, "run the command again; if it keeps failing, "
				 "`cargo burst down` replaces the server");
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&wrapped);
	child_process_release(&cp);
	return ret;
}

/* ---- cargo burst ssh ------------------------------------------------------- */

int pipeline_remote_shell(struct run *r, struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct pipeline_cmd c = { 0 };
	struct strbuf wrapped = STRBUF_INIT;
	const struct strvec *words = r->req->cargo_args;
	bool tty = !words->nr && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	char *line, *src = layout_src_dir(r->project.hash, r->byo);
	int ret = -1;

	c.verb = "ssh";
	c.toolchain = r->req->toolchain;
	c.env = &r->env;
	c.project_hash = r->project.hash;
	c.color = ui_color();
	c.byo = r->byo;
	c.shell = (const char *const *)(words->nr ? words->v : NULL);
	c.nshell = words->nr;
	if (!c.shell) {
		static const char *const none[] = { NULL };

		c.shell = none; /* a shell, not a command */
	}
	line = pipeline_remote_command(&c);
	remote_wrap_pidfile(&wrapped, r->pid_file, line);
	free(line);
	log_debug(MOD, "remote shell command: %s", wrapped.buf);
	remote_command_prepare(&r->host, wrapped.buf, tty ? REMOTE_TTY : 0, &cp);
	cp.in = PROC_IO_INHERIT;
	cp.out = PROC_IO_INHERIT;
	cp.err = PROC_IO_INHERIT;
	if (words->nr)
		ui_status("Running", "`%s` on '%s' in %s", words->v[0], r->srv.name, src);
	else
		ui_status("Opening", "a shell on '%s' in %s (exit to leave)", r->srv.name, src);
	if (proc_run(&cp, err) < 0)
		goto out;
	if (proc_interrupted())
		r->interrupted = true;
	r->exit_code = proc_status_code(&cp);
	if (!r->interrupted && cp.exit_code == 255 && !words->nr) {
		burst_error_set(err, BURST_EXIT_REMOTE, "the ssh connection to '%s' failed",
				r->srv.name);
		goto out;
	}
	ret = 0;
out:
	free(src);
	strbuf_release(&wrapped);
	child_process_release(&cp);
	return ret;
}

/* ---- fetch ---------------------------------------------------------------- */

static int fetch_build(struct run *r, struct burst_error *err)
{
	const char *const *args = (const char *const *)r->req->cargo_args->v;
	size_t nargs = r->req->cargo_args->nr;
	const char *env_target = NULL;
	struct strbuf cmd = STRBUF_INIT, list = STRBUF_INIT;
	struct strvec names = STRVEC_INIT;
	char *triple, *adir, *target, *remote_dir = NULL, *local_dir = NULL, *p, *nl;
	const char *profile;
	int ret = -1;

	for (size_t i = 0; i < r->env.nr; i++)
		skip_prefix(r->env.v[i], "CARGO_BUILD_TARGET=", &env_target);
	triple = pipeline_target_triple(args, nargs, env_target, r->project.root);
	profile = pipeline_profile_dir(r->verb, args, nargs);
	adir = pipeline_artifact_dir(triple, profile);
	target = layout_target_dir(r->project.hash, r->byo);
#if !(defined(__linux__) && defined(__x86_64__))
	if (!triple)
		ui_warn("the server builds for x86_64 Linux and this machine is not one: "
			"the fetched artifacts will not run here (pass --target to choose)");
#endif
	remote_dir = xstrfmt("%s/%s", target, adir);
	local_dir = xstrfmt("%s/%s", r->local_target_dir, adir);
	strbuf_addstr(&cmd, "cd ");
	remote_shell_quote(&cmd, remote_dir);
	strbuf_addstr(&cmd, " 2>/dev/null || exit 0; find . -maxdepth 1 -type f -printf '%f\\n'");
	if (remote_capture(&r->host, cmd.buf, 4 * 1024 * 1024, 60000, &list, err) < 0) {
		burst_error_prefix(err, "listing the artifacts on '%s'", r->srv.name);
		goto out;
	}
	/* the listing comes from the server: every name must be a plain one */
	for (p = list.buf; p < list.buf + list.len; p = nl) {
		nl = memchr(p, '\n', (size_t)(list.buf + list.len - p));
		if (!nl)
			break;
		*nl++ = '\0';
		if (remote_check_file_name(p, (size_t)(nl - 1 - p), err) < 0) {
			burst_error_prefix(err, "listing the artifacts on '%s'", r->srv.name);
			goto out;
		}
		if (pipeline_artifact_wanted(p))
			strvec_push(&names, p);
	}
	if (!names.nr) {
		ui_verbose("Fetching", "nothing to fetch from %s", remote_dir);
		ret = 0;
		goto out;
	}
	ui_status("Fetching", "%zu file%s into %s", names.nr, names.nr == 1 ? "" : "s",
		  local_dir);
	if (remote_fetch_files(&r->host, remote_dir, (const char *const *)names.v, local_dir,
			       err) < 0)
		goto out;
	ret = 0;
out:
	strbuf_release(&cmd);
	strbuf_release(&list);
	strvec_clear(&names);
	free(triple);
	free(adir);
	free(target);
	free(remote_dir);
	free(local_dir);
	return ret;
}

static int fetch_criterion(struct run *r, struct burst_error *err)
{
	struct strbuf cmd = STRBUF_INIT, out = STRBUF_INIT;
	char *target = layout_target_dir(r->project.hash, r->byo);
	char *dir = xstrfmt("%s/criterion", target);
	const char *paths[2] = { dir, NULL };
	int ret = -1;

	strbuf_addstr(&cmd, "test -d ");
	remote_shell_quote(&cmd, dir);
	strbuf_addstr(&cmd, " && echo yes || true");
	if (remote_capture(&r->host, cmd.buf, 4096, 60000, &out, err) < 0) {
		burst_error_prefix(err, "looking for criterion reports on '%s'", r->srv.name);
		goto out;
	}
	if (strncmp(out.buf, "yes", 3)) {
		ret = 0;
		goto out;
	}
	ui_status("Fetching", "criterion reports into %s/criterion", r->local_target_dir);
	if (remote_rsync_pull(&r->host, paths, r->local_target_dir, NULL, err) < 0)
		goto out;
	ret = 0;
out:
	strbuf_release(&cmd);
	strbuf_release(&out);
	free(target);
	free(dir);
	return ret;
}

/* --artifact-dir/--out-dir: the remote counterpart's files into the local dir. */
static int fetch_artifact_dir(struct run *r, struct burst_error *err)
{
	char *src = layout_src_dir(r->project.hash, r->byo);
	char *dir = *r->paths.artifact_rel ? xstrfmt("%s/%s", src, r->paths.artifact_rel)
					   : xstrdup(src);
	char *local = xstrdup(r->paths.artifact_dir), *slash = strrchr(local, '/');
	const char *paths[2] = { dir, NULL };
	int ret;

	/* rsync puts the remote dir into the local one's parent */
	if (slash)
		*(slash == local ? slash + 1 : slash) = '\0';
	ui_status("Fetching", "%s", r->paths.artifact_dir);
	ret = remote_rsync_pull(&r->host, paths, local, NULL, err);
	free(src);
	free(dir);
	free(local);
	return ret;
}

int pipeline_fetch(struct run *r, struct burst_error *err)
{
	/* whether: the verb's table flag; what: bench's reports, else the build's */
	if (!pipeline_job_fetches(r->job))
		return 0;
	if (!strcmp(r->verb, "bench"))
		return fetch_criterion(r, err);
	if (r->paths_mapped && r->paths.artifact_dir && fetch_artifact_dir(r, err) < 0)
		return -1;
	return fetch_build(r, err);
}

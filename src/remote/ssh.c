/*
 * ssh.c - the ssh command line, the master connection, readiness, remote
 * commands and remote kill; see include/burst/remote.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "burst/layout.h"
#include "burst/log.h"
#include "burst/sha256.h"
#include "remote-int.h"

#define SUN_PATH_MAX 100 /* sun_path is 108; ssh appends ".XXXXXXXXXXXXXXXX" while binding */
/* How long output is read on after a mux client exited (proc.h drain_ms). */
#define REMOTE_DRAIN_MS 3000

void remote_host_init(struct remote_host *h)
{
	struct remote_host blank = REMOTE_HOST_INIT;

	*h = blank;
}

/* The ssh host of a build server (remote.h). */
void remote_host_server(struct remote_host *h, const char *user, int port,
			const char *identity_file, const char *state_dir, const char *ip)
{
	remote_host_init(h);
	h->user = xstrdup(user ? user : "root");
	h->port = port;
	h->identity_file = identity_file ? xstrdup(identity_file) : NULL;
	h->known_hosts = layout_known_hosts(state_dir);
	h->host = ip ? xstrdup(ip) : NULL;
}

void remote_host_release(struct remote_host *h)
{
	if (!h)
		return;
	FREE_AND_NULL(h->user);
	FREE_AND_NULL(h->host);
	FREE_AND_NULL(h->identity_file);
	FREE_AND_NULL(h->known_hosts);
	FREE_AND_NULL(h->control_path);
	FREE_AND_NULL(h->user_known_hosts);
	FREE_AND_NULL(h->user_ssh_config);
}

int remote_mkdir_p(const char *dir, unsigned mode)
{
	char *p = xstrdup(dir);
	int ret = -1;

	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char saved = *s;

			*s = '\0';
			if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
				goto out;
			*s = saved;
			if (!saved)
				break;
		}
	}
	ret = 0;
out:
	free(p);
	return ret;
}

char *remote_last_line(const struct strbuf *sb)
{
	const char *end = sb->buf + sb->len, *start;

	while (end > sb->buf && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	if (end == sb->buf)
		return NULL;
	start = end;
	while (start > sb->buf && start[-1] != '\n' && start[-1] != '\r')
		start--;
	return xstrndup(start, (size_t)(end - start));
}

const char *remote_dest(const struct remote_host *h)
{
	if (!h->host || !*h->host)
		BUG("remote: host without an address");
	return h->host;
}

static int host_port(const struct remote_host *h)
{
	return h->port ? h->port : 22;
}

int remote_host_set_control_dir(struct remote_host *h, const char *dir,
				struct burst_error *err)
{
	char *id, hex[9];

	if (remote_mkdir_p(dir, 0700) < 0)
		return burst_error_set(err, BURST_EXIT_INTERNAL,
				       "cannot create directory '%s': %s", dir, strerror(errno));
	id = xstrfmt("%s@%s:%d", h->user ? h->user : "", remote_dest(h), host_port(h));
	{
		/*
		 * With the pinned key in the hash, a new server that reuses an
		 * IP never talks to a master left over from the old one.
		 */
		struct strbuf sb = STRBUF_INIT, kh = STRBUF_INIT;
		char *token = host_port(h) == 22 ? xstrdup(remote_dest(h))
						 : xstrfmt("[%s]:%d", remote_dest(h), host_port(h));

		strbuf_addstr(&sb, id);
		strbuf_set_max(&kh, 16 * 1024 * 1024);
		if (h->known_hosts && strbuf_read_file(&kh, h->known_hosts) == 0) {
			for (const char *p = kh.buf; *p;) {
				const char *nl = strchr(p, '\n');
				size_t len = nl ? (size_t)(nl - p) : strlen(p);
				size_t tl = strlen(token);

				if (len > tl && !strncmp(p, token, tl) && p[tl] == ' ') {
					strbuf_addch(&sb, '\n');
					strbuf_add(&sb, p, len);
				}
				p += len + (nl ? 1 : 0);
			}
		}
		sha256_hex(sb.buf, sb.len, hex, 8);
		free(token);
		strbuf_release(&sb);
		strbuf_release(&kh);
	}
	free(id);
	free(h->control_path);
	h->control_path = xstrfmt("%s/%s", dir, hex);
	if (strlen(h->control_path) > SUN_PATH_MAX) {
		burst_error_set(err, BURST_EXIT_CONFIG,
				"ssh control socket path '%s' is too long for a unix socket",
				h->control_path);
		burst_error_hint(err, "set XDG_STATE_HOME to a shorter directory");
		FREE_AND_NULL(h->control_path);
		return -1;
	}
	return 0;
}

/* "-o Name=value", with value double-quoted when it has white space. */
static void push_opt(struct strvec *argv, const char *name, const char *value)
{
	strvec_push(argv, "-o");
	if (strpbrk(value, " \t"))
		strvec_pushf(argv, "%s=\"%s\"", name, value);
	else
		strvec_pushf(argv, "%s=%s", name, value);
}

/*
 * ssh's first value of an option wins, so per-call overrides (extra, "-o"
 * pairs already split) go right after the program name.
 */
static void ssh_base(const struct remote_host *h, const char *const *extra,
		     struct strvec *argv)
{
	char num[32];
	bool byo = h->user_known_hosts != NULL;

	if (!h->known_hosts)
		BUG("remote: no known_hosts file for %s", remote_dest(h));
	strvec_push(argv, proc_ssh_program());
	for (size_t i = 0; extra && extra[i]; i++)
		strvec_push(argv, extra[i]);
	/*
	 * A machine of the user's: their ~/.ssh/config applies (aliases,
	 * ProxyJump, User, Port, IdentityFile), so only what they gave is
	 * passed.  A server the tool created gets no config but ours.
	 */
	if (!byo || h->user_ssh_config) {
		strvec_push(argv, "-F");
		strvec_push(argv, byo ? h->user_ssh_config : "/dev/null");
	}
	if (h->user) {
		strvec_push(argv, "-l");
		strvec_push(argv, h->user);
	}
	if (!byo || h->port) {
		snprintf(num, sizeof(num), "%d", host_port(h));
		strvec_push(argv, "-p");
		strvec_push(argv, num);
	}
	if (h->identity_file) {
		strvec_push(argv, "-i");
		strvec_push(argv, h->identity_file);
		push_opt(argv, "IdentitiesOnly", "yes");
	}
	push_opt(argv, "BatchMode", "yes");
	push_opt(argv, "StrictHostKeyChecking", "yes");
	if (h->user_known_hosts) {
		/*
		 * A machine of the user's: only their file.  The tool's own
		 * file holds the cloud servers' pins; a line there must never
		 * vouch for a host the user brought (a wildcard would).
		 */
		push_opt(argv, "UserKnownHostsFile", h->user_known_hosts);
	} else {
		push_opt(argv, "UserKnownHostsFile", h->known_hosts);
	}
	push_opt(argv, "GlobalKnownHostsFile", "/dev/null");
	push_opt(argv, "UpdateHostKeys", "no");
	push_opt(argv, "CheckHostIP", "no");
	push_opt(argv, "PasswordAuthentication", "no");
	push_opt(argv, "KbdInteractiveAuthentication", "no");
	push_opt(argv, "ForwardAgent", "no");
	push_opt(argv, "ForwardX11", "no");
	if (byo)
		push_opt(argv, "RemoteCommand", "none"); /* ours is the command */
	if (h->control_path) {
		push_opt(argv, "ControlMaster", "auto");
		push_opt(argv, "ControlPath", h->control_path);
		snprintf(num, sizeof(num), "%d", h->persist_secs > 0 ? h->persist_secs : 60);
		push_opt(argv, "ControlPersist", num);
	}
	push_opt(argv, "ServerAliveInterval", "15");
	push_opt(argv, "ServerAliveCountMax", "4");
	snprintf(num, sizeof(num), "%d",
		 h->connect_timeout_secs > 0 ? h->connect_timeout_secs : 10);
	push_opt(argv, "ConnectTimeout", num);
	push_opt(argv, "LogLevel", "ERROR");
}

void remote_ssh_base_argv(const struct remote_host *h, struct strvec *argv)
{
	ssh_base(h, NULL, argv);
}

void remote_ssh_argv(const struct remote_host *h, struct strvec *argv)
{
	ssh_base(h, NULL, argv);
	strvec_push(argv, "-T");
	strvec_push(argv, "--");
	strvec_push(argv, remote_dest(h));
}

static bool is_hostkey_failure(const struct strbuf *sb)
{
	return strstr(sb->buf, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
	       strstr(sb->buf, "Host key verification failed") ||
	       strstr(sb->buf, "host key is known for") ||
	       strstr(sb->buf, "No matching host key");
}

static int hostkey_error(const struct remote_host *h, struct burst_error *err)
{
	burst_error_set(err, BURST_EXIT_REMOTE,
			"the host key of '%s' port %d did not match the pinned key in '%s'",
			remote_dest(h), host_port(h), h->known_hosts);
	burst_error_hint(err, "this is not the server cargo-burst created, or it was "
			 "replaced; refusing to connect (run `cargo burst down` and retry)");
	return -1;
}

/* One `ssh ... true`: 0 ok, 1 retryable failure, -1 fatal (err set). */
static int try_true(const struct remote_host *h, const char *const *extra,
		    uint64_t timeout_ms, char **why, struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error e = BURST_ERROR_INIT;
	int ret;

	ssh_base(h, extra, &cp.args);
	strvec_push(&cp.args, "-T");
	strvec_push(&cp.args, "--");
	strvec_push(&cp.args, remote_dest(h));
	strvec_push(&cp.args, "true");
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_NULL;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 64 * 1024;
	cp.timeout_ms = timeout_ms;
	cp.kill_grace_ms = 500;
	if (proc_run(&cp, &e) < 0) {
		burst_error_move(err, &e);
		ret = -1;
		goto out;
	}
	if (cp.exit_code == 0) {
		ret = 0;
		goto out;
	}
	if (is_hostkey_failure(&cp.err_buf)) {
		log_debug("remote", "ssh: %s", cp.err_buf.buf);
		ret = hostkey_error(h, err);
		goto out;
	}
	if (why) {
		free(*why);
		*why = remote_last_line(&cp.err_buf);
		if (!*why) {
			struct strbuf sb = STRBUF_INIT;

			proc_describe_status(&cp, &sb);
			*why = strbuf_detach(&sb, NULL);
		}
	}
	ret = 1;
out:
	burst_error_release(&e);
	child_process_release(&cp);
	return ret;
}

int remote_master_start(const struct remote_host *h, struct burst_error *err)
{
	char *why = NULL;
	int r;

	if (h->control_path && remote_master_check(h))
		return 0;
	r = try_true(h, NULL, 60000, &why, err);
	if (r > 0 && h->user_known_hosts && !h->port) {
		/* the user's ssh config chooses the port */
		burst_error_set(err, BURST_EXIT_REMOTE, "cannot connect to '%s': %s",
				remote_dest(h), why ? why : "ssh failed");
		r = -1;
	} else if (r > 0) {
		burst_error_set(err, BURST_EXIT_REMOTE, "cannot connect to '%s' port %d: %s",
				remote_dest(h), host_port(h), why ? why : "ssh failed");
		r = -1;
	}
	free(why);
	return r;
}

static int master_ctl(const struct remote_host *h, const char *op)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error e = BURST_ERROR_INIT;
	int ret = -1;

	if (!h->control_path)
		return -1;
	ssh_base(h, NULL, &cp.args);
	strvec_push(&cp.args, "-O");
	strvec_push(&cp.args, op);
	strvec_push(&cp.args, "--");
	strvec_push(&cp.args, remote_dest(h));
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_NULL;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 16 * 1024;
	cp.timeout_ms = 10000;
	if (proc_run(&cp, &e) == 0 && cp.exit_code == 0)
		ret = 0;
	burst_error_release(&e);
	child_process_release(&cp);
	return ret;
}

bool remote_master_check(const struct remote_host *h)
{
	return master_ctl(h, "check") == 0;
}

void remote_master_stop(const struct remote_host *h)
{
	if (master_ctl(h, "exit") == 0)
		log_debug("remote", "stopped the ssh master for %s", remote_dest(h));
}

int remote_wait_ready(const struct remote_host *h, uint64_t deadline_ms,
		      remote_wait_fn progress, void *data, struct burst_error *err)
{
	static const char *const fast[] = { "-o", "ConnectTimeout=2", NULL };
	uint64_t start = burst_now_ms();
	char *why = NULL;
	unsigned tries = 0;
	int ret = -1;

	while (1) {
		uint64_t now = burst_now_ms();
		int r;

		if (progress)
			progress((unsigned)((now - start) / 1000), data);
		r = try_true(h, fast, 8000, &why, err);
		tries++;
		if (r == 0) {
			log_debug("remote", "ssh to %s ready after %u tries, %llu ms",
				  remote_dest(h), tries, (unsigned long long)(burst_now_ms() - start));
			ret = 0;
			break;
		}
		if (r < 0)
			break;
		if (proc_interrupted()) {
			burst_error_set(err, BURST_EXIT_INTERRUPTED,
					"interrupted while waiting for ssh on '%s'", remote_dest(h));
			break;
		}
		log_debug("remote", "ssh to %s not ready: %s", remote_dest(h), why ? why : "");
		if (burst_now_ms() + 400 >= deadline_ms) {
			burst_error_set(err, BURST_EXIT_REMOTE,
					"ssh on '%s' port %d not ready after %llu s: %s",
					remote_dest(h), host_port(h),
					(unsigned long long)((burst_now_ms() - start) / 1000),
					why ? why : "no answer");
			break;
		}
		{
			struct timespec ts = { 0, 400 * 1000 * 1000 };

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !proc_interrupted())
				;
		}
	}
	free(why);
	return ret;
}

void remote_command_prepare(const struct remote_host *h, const char *command_line,
			    unsigned flags, struct child_process *cp)
{
	ssh_base(h, NULL, &cp->args);
	/*
	 * A mux client exits on the exit status while its master may still be
	 * writing the last output into the descriptors it was passed: under
	 * load that took more than proc's 100 ms and a last line was lost.
	 * EOF ends the wait as soon as the master closes them.
	 */
	cp->drain_ms = REMOTE_DRAIN_MS;
	strvec_push(&cp->args, (flags & REMOTE_TTY) ? "-tt" : "-T");
	strvec_push(&cp->args, "--");
	strvec_push(&cp->args, remote_dest(h));
	strvec_push(&cp->args, command_line);
}

int remote_run(const struct remote_host *h, const char *command_line,
	       struct child_process *cp, struct burst_error *err)
{
	remote_command_prepare(h, command_line, 0, cp);
	return proc_run(cp, err);
}

int remote_capture(const struct remote_host *h, const char *command_line, size_t max,
		   int timeout_ms, struct strbuf *out, struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	int ret = -1;

	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = max;
	cp.timeout_ms = timeout_ms;
	if (remote_run(h, command_line, &cp, err) < 0)
		goto out;
	if (cp.exit_code != 0) {
		struct strbuf status = STRBUF_INIT;
		const char *end = cp.err_buf.buf + cp.err_buf.len, *start;

		/* the last non-empty line of stderr says why */
		while (end > cp.err_buf.buf && (end[-1] == '\n' || end[-1] == '\r' ||
						end[-1] == ' '))
			end--;
		start = end;
		while (start > cp.err_buf.buf && start[-1] != '\n')
			start--;
		proc_describe_status(&cp, &status);
		burst_error_set(err, BURST_EXIT_REMOTE, "a remote command failed on %s (%s)%s%.*s",
				h->host, status.buf, end > start ? ": " : "",
				(int)(end - start), start);
		strbuf_release(&status);
		goto out;
	}
	strbuf_addbuf(out, &cp.out_buf);
	ret = 0;
out:
	child_process_release(&cp);
	return ret;
}

void remote_shell_quote(struct strbuf *out, const char *arg)
{
	proc_quote_arg(out, arg);
}

void remote_shell_quote_argv(struct strbuf *out, const char *const *argv)
{
	proc_quote_argv(out, argv);
}

void remote_wrap_pidfile(struct strbuf *out, const char *pid_file,
			 const char *command_line)
{
	/*
	 * sshd starts the session's shell as a session and process group
	 * leader, so $$ names the whole group.  The command runs in a
	 * subshell so that an `exit` in it still reaches the cleanup.
	 */
	const char *slash = strrchr(pid_file, '/');

	strbuf_addstr(out, "echo $$ 2>/dev/null >");
	remote_shell_quote(out, pid_file);
	if (slash && slash != pid_file) {
		/* its dir is made on the first run only (the sync no longer does) */
		char *dir = xstrndup(pid_file, (size_t)(slash - pid_file));

		strbuf_addstr(out, " || { mkdir -p ");
		remote_shell_quote(out, dir);
		strbuf_addstr(out, " && echo $$ >");
		remote_shell_quote(out, pid_file);
		strbuf_addstr(out, "; }");
		free(dir);
	}
	strbuf_addstr(out, " || exit 125\n(\n");
	strbuf_addstr(out, command_line);
	strbuf_addstr(out, "\n)\nrc=$?\nrm -f ");
	remote_shell_quote(out, pid_file);
	strbuf_addstr(out, "\nexit $rc\n");
}

static const char *signal_name(int signo)
{
	switch (signo) {
	case SIGINT: return "INT";
	case SIGTERM: return "TERM";
	case SIGKILL: return "KILL";
	case SIGHUP: return "HUP";
	case SIGQUIT: return "QUIT";
	default: return NULL;
	}
}

int remote_kill(const struct remote_host *h, const char *pid_file, int signo,
		struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct strbuf cmd = STRBUF_INIT;
	const char *name = signal_name(signo);
	int ret = -1;

	if (!name)
		BUG("remote_kill: unsupported signal %d", signo);
	strbuf_addstr(&cmd, "pg=$(cat ");
	remote_shell_quote(&cmd, pid_file);
	strbuf_addf(&cmd, " 2>/dev/null) && [ -n \"$pg\" ] && kill -s %s -- -\"$pg\"", name);
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_NULL;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 16 * 1024;
	cp.timeout_ms = 10000;
	cp.kill_grace_ms = 500;
	if (remote_run(h, cmd.buf, &cp, err) < 0)
		goto out;
	if (cp.exit_code != 0) {
		char *why = remote_last_line(&cp.err_buf);

		burst_error_set(err, BURST_EXIT_REMOTE,
				"cannot signal the remote command on '%s' (pid file '%s'): %s",
				remote_dest(h), pid_file, why ? why : "no such process");
		free(why);
		goto out;
	}
	log_debug("remote", "sent SIG%s to the remote group in %s", name, pid_file);
	ret = 0;
out:
	strbuf_release(&cmd);
	child_process_release(&cp);
	return ret;
}

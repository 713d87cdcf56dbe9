/*
 * test-remote.c - the remote module against a private sshd on 127.0.0.1:
 * pinned host keys, master reuse, quoting round trips (locally and over
 * ssh), streaming, exit codes, Ctrl-C reaching the remote command, rsync
 * with excludes and .gitignore (compared with git itself), checksummed
 * fetch, and a fetch from a hostile server (FIFO, device, symlink,
 * directory, setuid file).  Needs root (sshd); skips otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "burst/proc.h"
#include "burst/remote.h"
#include "../../src/remote/remote-int.h"
#include "tap.h"

static char tmp[] = "/tmp/burst-rt-XXXXXX";
static pid_t sshd_pid;
static int port;
static struct remote_host H = REMOTE_HOST_INIT;
static char *host_pub;
/* the remote sleep the Ctrl-C test stops: this test's own (pid in it) */
static char sleep_arg[32], sleep_pattern[40];

static void kill_session_of(pid_t pid)
{
	pid_t sid = getsid(pid);
	char cmd[256];

	if (sid <= 1 || sid == getsid(0))
		return;
	snprintf(cmd, sizeof(cmd),
		 "ps -eo pid=,sid= | awk '$2 == %d { print $1 }' | xargs -r kill -%s 2>/dev/null",
		 (int)sid, "TERM");
	if (system(cmd) != 0)
		fprintf(stderr, "# cleanup of session %d failed\n", (int)sid);
}

static void cleanup(void)
{
	char cmd[256];

	if (H.control_path)
		remote_master_stop(&H);
	if (sshd_pid > 0) {
		kill_session_of(sshd_pid);
		kill(sshd_pid, SIGTERM);
		for (int i = 0; i < 40 && pid_alive(sshd_pid, 0); i++)
			usleep(50000);
		if (pid_alive(sshd_pid, 0))
			kill(sshd_pid, SIGKILL);
		sshd_pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "pkill -f 'sleep %s([^0-9]|$)' 2>/dev/null; true",
		 sleep_pattern);
	if (system(cmd) != 0)
		fprintf(stderr, "# pkill failed\n");
	/* A dying sshd may still write its log: retry once. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' || { sleep 1; rm -rf '%s'; }", tmp, tmp);
	if (tmp[strlen(tmp) - 1] != 'X' && system(cmd) != 0)
		fprintf(stderr, "# cleanup of %s failed\n", tmp);
}

/*
 * A SIGKILL (meson's timeout after its SIGTERM, which the proc module under
 * test may catch for a child) skips cleanup(): a sentinel forked once the
 * sshd is up waits for this process to die (EOF on a pipe only we hold),
 * then stops what the test left (the sshd's session, any process naming
 * the temporary directory, e.g. an ssh master) and removes the directory.
 * After a normal exit it finds nothing left to do.
 */
static void start_sentinel(void)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		bail_out("pipe2");
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		char c, cmd[256];
		int null = open("/dev/null", O_RDWR);

		/* out of the test's process group and off meson's pipes */
		setsid();
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		close(fds[1]);
		signal(SIGALRM, SIG_IGN);
		alarm(0);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		if (access(tmp, F_OK) < 0)
			_exit(0); /* cleanup() ran */
		/* "[/]tmp/..." matches the processes, not the shell running pkill */
		snprintf(cmd, sizeof(cmd), "pkill -TERM -f '[%c]%s/' 2>/dev/null; true",
			 tmp[0], tmp + 1);
		if (system(cmd) != 0)
			fprintf(stderr, "pkill failed\n");
		cleanup();
		_exit(0);
	}
	close(fds[0]);
}

static void on_fatal(int sig)
{
	printf("Bail out! signal %d (timeout?)\n", sig);
	fflush(stdout);
	cleanup();
	_exit(1);
}

static char *path_in(const char *name)
{
	return xstrfmt("%s/%s", tmp, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	char *cmd;

	*slash = '\0';
	cmd = xstrfmt("mkdir -p '%s'", dir);
	if (system(cmd) != 0)
		bail_out("mkdir");
	free(cmd);
	free(dir);
	f = fopen(path, "w");
	if (!f)
		bail_out("fopen");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static int run_capture(const char *script, struct strbuf *out)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	int code;

	strvec_push(&cp.args, "/bin/sh");
	strvec_push(&cp.args, "-c");
	strvec_push(&cp.args, script);
	cp.out = PROC_IO_CAPTURE;
	cp.in = PROC_IO_NULL;
	if (proc_run(&cp, &err) < 0)
		bail_out(err.message);
	strbuf_reset(out);
	strbuf_addbuf(out, &cp.out_buf);
	code = cp.exit_code;
	child_process_release(&cp);
	burst_error_release(&err);
	return code;
}

static int pick_port(void)
{
	srand((unsigned)(time(NULL) ^ getpid()));
	for (int i = 0; i < 50; i++) {
		int p = 20000 + rand() % 40000;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a;

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)p);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(fd);
			return p;
		}
		close(fd);
	}
	bail_out("no free port");
}

static bool port_open(int p)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	bool okay;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)p);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	okay = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return okay;
}

static int count_accepted(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *log = path_in("sshd.log");
	int n = 0;

	strbuf_read_file(&sb, log);
	for (const char *p = sb.buf; (p = strstr(p, "Accepted publickey")); p++)
		n++;
	strbuf_release(&sb);
	free(log);
	return n;
}

static void start_sshd(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *priv = NULL, *keys = path_in("keys"), *cfg = path_in("sshd_config");
	char *hostkey = path_in("hostkey"), *log = path_in("sshd.log");
	char *id = path_in("id"), *cmd, *ak = path_in("authorized_keys"), *text;
	const char *argv[] = { "/usr/sbin/sshd", "-D", "-e", "-f", cfg, NULL };
	struct strbuf sb = STRBUF_INIT;

	mkdir("/run/sshd", 0755);
	if (remote_hostkey_generate(keys, "host", &priv, &host_pub, &err) < 0)
		bail_out(err.message);
	write_file(hostkey, priv, 0600);
	ok(has_suffix(host_pub, " cargo-burst") && !strncmp(host_pub, "ssh-ed25519 AAAA", 16) &&
	   strstr(priv, "BEGIN OPENSSH PRIVATE KEY"), "host key generated");
	{
		struct stat st;
		char *left = xstrfmt("%s/host", keys);

		ok(stat(left, &st) < 0, "no key files left behind in the scratch dir");
		free(left);
	}
	{
		struct strbuf cc = STRBUF_INIT, want = STRBUF_INIT;
		const char *p = priv;

		ok(remote_cloud_config(priv, host_pub, &cc) == 0, "cloud-config made");
		strbuf_addstr(&want, "#cloud-config\nssh_keys:\n  ed25519_private: |\n");
		while (*p) {
			const char *nl = strchr(p, '\n');

			strbuf_addstr(&want, "    ");
			strbuf_add(&want, p, (size_t)(nl - p + 1));
			p = nl + 1;
		}
		strbuf_addf(&want, "  ed25519_public: %s\n", host_pub);
		is_str(cc.buf, want.buf, "cloud-config has exactly the expected format");
		strbuf_release(&cc);
		strbuf_release(&want);
	}

	cmd = xstrfmt("ssh-keygen -q -t ed25519 -N '' -f '%s' && cp '%s.pub' '%s'", id, id, ak);
	if (system(cmd) != 0)
		bail_out("ssh-keygen");
	free(cmd);
	port = pick_port();
	text = xstrfmt("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\n"
		       "AuthorizedKeysFile %s\nStrictModes no\nUsePAM no\n"
		       "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
		       "KbdInteractiveAuthentication no\nLogLevel VERBOSE\n"
		       "MaxSessions 50\nMaxStartups 50\nSubsystem sftp internal-sftp\n",
		       port, hostkey, ak);
	write_file(cfg, text, 0600);
	free(text);
	if (proc_spawn_detached(argv, NULL, log, &sshd_pid, &err) < 0)
		bail_out(err.message);
	for (int i = 0; i < 100 && !port_open(port); i++)
		usleep(50000);
	if (!port_open(port)) {
		strbuf_read_file(&sb, log);
		diag("sshd log: %s", sb.buf);
		bail_out("sshd did not start");
	}

	H.user = xstrdup("root");
	H.host = xstrdup("127.0.0.1");
	H.port = port;
	H.identity_file = xstrdup(id);
	H.known_hosts = xstrfmt("%s/state/known_hosts", tmp);
	H.persist_secs = 60;
	{
		char *cdir = path_in("c");

		if (remote_host_set_control_dir(&H, cdir, &err) < 0)
			bail_out(err.message);
		free(cdir);
	}
	free(priv);
	free(keys);
	free(cfg);
	free(hostkey);
	free(log);
	free(id);
	free(ak);
	strbuf_release(&sb);
}

static void test_known_hosts(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	char *want, *dir = xstrfmt("%s/state", tmp);

	ok(remote_known_hosts_pin(H.known_hosts, "10.9.9.9", 22, "ssh-ed25519 AAAAother x", &err) == 0,
	   "pin another host");
	ok(remote_known_hosts_pin(H.known_hosts, "127.0.0.1", port, "ssh-ed25519 AAAAold c", &err) == 0,
	   "pin an old key");
	ok(remote_known_hosts_pin(H.known_hosts, "127.0.0.1", port, host_pub, &err) == 0,
	   "pin the real key");
	strbuf_read_file(&sb, H.known_hosts);
	want = xstrfmt("10.9.9.9 ssh-ed25519 AAAAother\n[127.0.0.1]:%d %.*s\n", port,
		       (int)(strlen(host_pub) - strlen(" cargo-burst")), host_pub);
	is_str(sb.buf, want, "known_hosts: replaced entry, [ip]:port form, comment dropped");
	ok(stat(H.known_hosts, &st) == 0 && (st.st_mode & 0777) == 0600, "known_hosts is 0600");
	ok(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "its directory is 0700");
	ok(remote_known_hosts_forget(H.known_hosts, "10.9.9.9", 22, &err) == 0, "forget a host");
	strbuf_reset(&sb);
	strbuf_read_file(&sb, H.known_hosts);
	ok(!strstr(sb.buf, "10.9.9.9") && strstr(sb.buf, "[127.0.0.1]"), "only that entry removed");
	free(want);
	free(dir);
	strbuf_release(&sb);
	burst_error_release(&err);
}

static unsigned progress_calls;

static void on_progress(unsigned secs, void *data)
{
	(void)secs;
	(void)data;
	progress_calls++;
}

static int remote_status(const char *cmdline, struct strbuf *out)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	int code;

	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.timeout_ms = 30000;
	if (remote_run(&H, cmdline, &cp, &err) < 0)
		bail_out(err.message);
	if (out) {
		strbuf_reset(out);
		strbuf_addbuf(out, &cp.out_buf);
	}
	code = cp.exit_code;
	if (code == 255 && cp.err_buf.len)
		diag("ssh stderr: %s", cp.err_buf.buf);
	child_process_release(&cp);
	burst_error_release(&err);
	return code;
}

static void test_connect_and_master(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf out = STRBUF_INIT;
	int r;

	ok(!remote_master_check(&H), "no master before the first connection");
	r = remote_wait_ready(&H, 20000, on_progress, NULL, &err);
	ok(r == 0, "ssh ready (%s)", err.message ? err.message : "ok");
	ok(progress_calls >= 1, "progress reported");
	ok(remote_master_check(&H), "a persistent master runs after the first connection");
	ok(remote_master_start(&H, &err) == 0, "master_start with a master running is fine");
	for (int i = 0; i < 6; i++)
		remote_status("echo hi", &out);
	is_str(out.buf, "hi\n", "remote output captured");
	is_int(count_accepted(), 1, "one authentication for many commands (master reused)");

	is_int(remote_status("exit 0", NULL), 0, "remote exit 0");
	is_int(remote_status("exit 1", NULL), 1, "remote exit 1");
	is_int(remote_status("exit 101", NULL), 101, "remote exit 101");
	is_int(remote_status("kill -TERM $$", NULL), 255, "remote death by signal: ssh reports 255");
	strbuf_release(&out);
	burst_error_release(&err);
}

static void test_wrong_key(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct remote_host bad = REMOTE_HOST_INIT;
	char *priv = NULL, *pub = NULL, *keys = path_in("keys2"), *cdir = path_in("c2");
	int before = count_accepted();
	uint64_t t0;
	int r;

	if (remote_hostkey_generate(keys, "other", &priv, &pub, &err) < 0)
		bail_out(err.message);
	bad.user = xstrdup("root");
	bad.host = xstrdup("127.0.0.1");
	bad.port = port;
	bad.identity_file = xstrdup(H.identity_file);
	bad.known_hosts = path_in("state/known_hosts.bad");
	remote_known_hosts_pin(bad.known_hosts, "127.0.0.1", port, pub, &err);
	remote_host_set_control_dir(&bad, cdir, &err);
	{
		struct remote_host same = REMOTE_HOST_INIT;

		same.user = xstrdup("root");
		same.host = xstrdup("127.0.0.1");
		same.port = port;
		same.known_hosts = xstrdup(H.known_hosts);
		remote_host_set_control_dir(&same, cdir, &err);
		ok(same.control_path && bad.control_path &&
		   strcmp(same.control_path, bad.control_path) &&
		   strlen(bad.control_path) < 100,
		   "another pinned key for the same address gets another control path");
		remote_host_release(&same);
	}
	t0 = burst_now_ms();
	r = remote_wait_ready(&bad, 20000, NULL, NULL, &err);
	ok(r < 0 && err.exit_code == BURST_EXIT_REMOTE, "a host key that does not match is refused");
	ok(err.message && strstr(err.message, "did not match the pinned key"),
	   "with a clear message: %s", err.message ? err.message : "");
	ok(burst_now_ms() - t0 < 5000, "at once, no retry loop (%llu ms)",
	   (unsigned long long)(burst_now_ms() - t0));
	is_int(count_accepted(), before, "no authentication happened");
	{
		struct strbuf sb = STRBUF_INIT;

		strbuf_read_file(&sb, bad.known_hosts);
		char *mine = xstrndup(pub + 12, 40), *theirs = xstrndup(host_pub + 12, 40);

		ok(strstr(sb.buf, mine) && !strstr(sb.buf, theirs),
		   "the pinned file was not changed to accept the server's key");
		free(mine);
		free(theirs);
		strbuf_release(&sb);
	}
	remote_host_release(&bad);
	free(priv);
	free(pub);
	free(keys);
	free(cdir);
	burst_error_release(&err);
}

static void random_word(struct strbuf *w)
{
	static const char special[] = "'\"\\$`!*?[]{}()<>|&;#~ \t\n=%^";
	int len = rand() % 24;

	strbuf_reset(w);
	for (int i = 0; i < len; i++) {
		int kind = rand() % 4;
		int c;

		if (kind == 0)
			c = special[rand() % (int)(sizeof(special) - 1)];
		else if (kind == 1)
			c = 128 + rand() % 128; /* non-UTF-8 bytes */
		else
			c = 1 + rand() % 127;
		strbuf_addch(w, c);
	}
}

static void test_quoting(void)
{
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct strbuf cmd = STRBUF_INIT, want = STRBUF_INIT, word = STRBUF_INIT,
		      got = STRBUF_INIT;
	int local_bad = 0, remote_bad = 0;

	if (getenv("BURST_QUOTE_SEED"))
		seed = (unsigned)strtoul(getenv("BURST_QUOTE_SEED"), NULL, 10);
	srand(seed);
	for (int batch = 0; batch < 50; batch++) {
		strbuf_reset(&cmd);
		strbuf_reset(&want);
		strbuf_addstr(&cmd, "printf '%s\\0'");
		for (int i = 0; i < 20; i++) {
			random_word(&word);
			strbuf_addch(&cmd, ' ');
			remote_shell_quote(&cmd, word.buf);
			strbuf_add(&want, word.buf, word.len);
			strbuf_addch(&want, '\0');
		}
		run_capture(cmd.buf, &got);
		if (got.len != want.len || memcmp(got.buf, want.buf, want.len))
			local_bad++;
		remote_status(cmd.buf, &got);
		if (got.len != want.len || memcmp(got.buf, want.buf, want.len))
			remote_bad++;
	}
	ok(!local_bad, "1000 random byte strings round-trip through /bin/sh -c (seed %u)", seed);
	ok(!remote_bad, "and through ssh to the remote shell (seed %u)", seed);
	strbuf_reset(&cmd);
	remote_shell_quote(&cmd, "");
	strbuf_addch(&cmd, ' ');
	remote_shell_quote(&cmd, "it's");
	strbuf_addch(&cmd, ' ');
	remote_shell_quote(&cmd, "plain-word_1.2/x");
	is_str(cmd.buf, "'' 'it'\\''s' plain-word_1.2/x", "quote forms");
	strbuf_release(&cmd);
	strbuf_release(&want);
	strbuf_release(&word);
	strbuf_release(&got);
}

struct seen {
	struct strbuf text;
};

static void on_line(const char *line, size_t len, unsigned flags, void *data)
{
	struct seen *s = data;

	(void)len;
	strbuf_addf(&s->text, "%u:%s\n", flags, line);
}

static void test_streaming(void)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	struct seen out = { STRBUF_INIT }, errs = { STRBUF_INIT };
	struct strbuf want = STRBUF_INIT;

	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_LINES;
	cp.out_line = on_line;
	cp.cb_data = &out;
	ok(remote_run(&H, "printf 'Compiling a\\r\\nprog 1\\rprog 2\\rdone\\n'; "
			  "i=0; while [ $i -lt 500 ]; do echo $i; i=$((i+1)); done; printf end",
		      &cp, &err) == 0 && cp.exit_code == 0, "streamed remote command ran");
	strbuf_addstr(&want, "0:Compiling a\n1:prog 1\n1:prog 2\n0:done\n");
	for (int i = 0; i < 500; i++)
		strbuf_addf(&want, "0:%d\n", i);
	strbuf_addstr(&want, "2:end\n");
	ok(!strcmp(out.text.buf, want.buf), "lines in order, progress lines without \\r artifacts");
	child_process_release(&cp);

	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_LINES;
	cp.err = PROC_IO_LINES;
	cp.out_line = on_line;
	cp.err_line = on_line;
	strbuf_reset(&out.text);
	cp.cb_data = &errs;
	remote_run(&H, "echo to-err >&2; exit 7", &cp, &err);
	ok(cp.exit_code == 7 && strstr(errs.text.buf, "0:to-err\n"), "stderr streamed separately, status kept");
	child_process_release(&cp);
	strbuf_release(&out.text);
	strbuf_release(&errs.text);
	strbuf_release(&want);
	burst_error_release(&err);
}

static int kill_calls;
static char *remote_pidfile;

static void on_interrupt(struct child_process *cp, int signo, int count, void *data)
{
	struct burst_error err = BURST_ERROR_INIT;

	(void)cp;
	(void)count;
	(void)data;
	kill_calls++;
	if (remote_kill(&H, remote_pidfile, signo, &err) < 0)
		diag("remote_kill: %s", err.message);
	burst_error_release(&err);
}

static void test_interrupt(void)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf cmd = STRBUF_INIT, out = STRBUF_INIT;
	uint64_t t0;
	pid_t kid;

	remote_pidfile = path_in("remote.pid");
	strbuf_addf(&out, "sleep %s; echo not-killed", sleep_arg);
	remote_wrap_pidfile(&cmd, remote_pidfile, out.buf);
	strbuf_reset(&out);
	proc_clear_interrupted();
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.own_session = true;
	cp.on_interrupt = on_interrupt;
	cp.timeout_ms = 30000;
	kid = fork();
	if (kid == 0) {
		usleep(1500000);
		kill(getppid(), SIGINT);
		_exit(0);
	}
	t0 = burst_now_ms();
	remote_run(&H, cmd.buf, &cp, &err);
	/* a run that ended before the Ctrl-C must not get it afterwards */
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	ok(proc_interrupted() == SIGINT && kill_calls == 1, "Ctrl-C recorded, remote kill requested");
	ok(burst_now_ms() - t0 < 10000 && !cp.timed_out, "the remote command ended quickly (%llu ms, status %d)",
	   (unsigned long long)(burst_now_ms() - t0), proc_status_code(&cp));
	ok(!strstr(cp.out_buf.buf, "not-killed"), "the remote command was stopped, not finished");
	strbuf_reset(&cmd);
	strbuf_addf(&cmd, "pgrep -f 'sleep %s([^0-9]|$)' >/dev/null", sleep_pattern);
	is_int(run_capture(cmd.buf, &out), 1,
	       "no remote sleep left (pgrep)");
	proc_clear_interrupted();
	child_process_release(&cp);
	strbuf_release(&cmd);
	strbuf_release(&out);
	free(remote_pidfile);
	burst_error_release(&err);
}

/* The pid file's directory is made when missing (a new server's first run). */
static void test_pidfile_dir(void)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf cmd = STRBUF_INIT, line = STRBUF_INIT;
	char *dir = path_in("pid-dir/a"), *pid = xstrfmt("%s/cargo-1.pid", dir);
	struct stat st;

	strbuf_addstr(&line, "test -s ");
	remote_shell_quote(&line, pid);
	strbuf_addstr(&line, " && echo pid-file-there");
	remote_wrap_pidfile(&cmd, pid, line.buf);
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.timeout_ms = 30000;
	if (remote_run(&H, cmd.buf, &cp, &err) < 0)
		diag("remote_run: %s", err.message);
	is_int(cp.exit_code, 0, "a pid file in a missing dir: the command runs (%s)",
	       cp.err_buf.buf ? cp.err_buf.buf : "");
	ok(cp.out_buf.buf && strstr(cp.out_buf.buf, "pid-file-there"),
	   "the pid file was written in the new dir");
	ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(pid, F_OK) < 0,
	   "the dir stays, the pid file is removed at the end");
	child_process_release(&cp);
	burst_error_release(&err);
	strbuf_release(&cmd);
	strbuf_release(&line);
	free(pid);
	free(dir);
}

static bool filtered_out(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(path, "target/", 7) || strstr(path, "/target/") ||
	       has_suffix(path, ".bin") || !strcmp(base, ".DS_Store");
}

static void test_rsync(void)
{
	static const char *const files[] = {
		"main.rs", "a.log", "keep.log", "build/out.txt", "sub/build/out.txt",
		"secret.txt", "sub/secret.txt", "doc/x.tmp", "doc/y.txt", "doc/inner/z.tmp",
		"sub/gen/g.txt", "gen/h.txt", "sub/local/l.txt", "sub/a.out", "sub/special.out",
		"sub/deeper/special.out", "sub/deeper/b.out", "target/debug/x", "sub/target/y",
		"node_modules/m.js", "x/.DS_Store", "big.bin", "name with space.txt", "sub/x.log",
		"n\xe4me.rs", NULL,
	};
	static const char *const unexclude[] = { "node_modules/", NULL };
	static const char *const extra[] = { "*.bin", NULL };
	struct sync_filters f = { .unexclude = unexclude, .extra_excludes = extra };
	struct sync_stats st;
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf got = STRBUF_INIT, expect = STRBUF_INIT, gitlist = STRBUF_INIT;
	char *proj = path_in("proj"), *dst = path_in("dst/src"), *cmd;
	int nexpect = 0;

	for (size_t i = 0; files[i]; i++) {
		char *p = xstrfmt("%s/%s", proj, files[i]);

		write_file(p, files[i], 0644);
		free(p);
	}
	{
		char *p = xstrfmt("%s/.gitignore", proj);

		write_file(p, "*.log\n!keep.log\n/build/\nsecret.txt\ndoc/*.tmp\n**/gen/\n# comment\n\n", 0644);
		free(p);
		p = xstrfmt("%s/sub/.gitignore", proj);
		write_file(p, "!secret.txt\nlocal/\n*.out\n!special.out\n", 0644);
		free(p);
		p = xstrfmt("%s/sub/deeper/.gitignore", proj);
		write_file(p, "special.out\n", 0644);
		free(p);
	}
	/* What git itself considers not ignored, minus our own excludes. */
	cmd = xstrfmt("cd '%s' && HOME=/nonexistent GIT_CONFIG_NOSYSTEM=1 git init -q && "
		      "HOME=/nonexistent GIT_CONFIG_NOSYSTEM=1 git -c core.quotepath=off "
		      "ls-files --others --exclude-standard | LC_ALL=C sort", proj);
	if (run_capture(cmd, &gitlist) != 0)
		bail_out("git ls-files");
	free(cmd);
	for (const char *p = gitlist.buf; *p;) {
		const char *nl = strchr(p, '\n');
		char *line = xstrndup(p, (size_t)(nl - p));

		if (!filtered_out(line)) {
			strbuf_addf(&expect, "%s\n", line);
			nexpect++;
		}
		free(line);
		p = nl + 1;
	}

	memset(&st, 0, sizeof(st));
	ok(remote_rsync_push(&H, proj, dst, &f, &st, &err) == 0, "rsync push (%s)",
	   err.message ? err.message : "ok");
	cmd = xstrfmt("cd '%s' && find . -type f | sed 's|^\\./||' | LC_ALL=C sort", dst);
	run_capture(cmd, &got);
	free(cmd);
	is_str(got.buf, expect.buf, "the synced files are exactly git's non-ignored files minus excludes");
	ok(strstr(got.buf, "sub/secret.txt\n") && !strstr(got.buf, "\nsecret.txt\n") &&
	   strstr(got.buf, "keep.log\n") && !strstr(got.buf, "a.log") &&
	   strstr(got.buf, "sub/build/out.txt") && strstr(got.buf, "node_modules/m.js") &&
	   !strstr(got.buf, "sub/deeper/special.out") && strstr(got.buf, "sub/special.out"),
	   "negations, nested files, anchoring and unexclude behave");
	is_int(st.files_transferred, nexpect, "stats: files transferred");
	ok(st.bytes_sent > 0 && st.total_size > 0, "stats: bytes");

	/* Deletions propagate; excluded remote files stay. */
	cmd = xstrfmt("rm '%s/main.rs' && mkdir -p '%s/target' && echo keep > '%s/target/keep'",
		      proj, dst, dst);
	run_capture(cmd, &got);
	free(cmd);
	memset(&st, 0, sizeof(st));
	ok(remote_rsync_push(&H, proj, dst, &f, &st, &err) == 0, "second push");
	cmd = xstrfmt("test ! -e '%s/main.rs' && test -f '%s/target/keep'", dst, dst);
	is_int(run_capture(cmd, &got), 0, "deleted file removed remotely, excluded remote target/ kept");
	free(cmd);
	is_int(st.files_transferred, 0, "nothing transferred when nothing changed");

	/* The pipeline's way: push and a remote command at the same time. */
	{
		struct child_process sync = CHILD_PROCESS_INIT, other = CHILD_PROCESS_INIT;
		struct child_process *both[] = { &other, &sync };
		struct strbuf rules = STRBUF_INIT;
		char *p = xstrfmt("%s/new.rs", proj);
		uint64_t t0;
		int r;

		write_file(p, "new", 0644);
		free(p);
		remote_command_prepare(&H, "sleep 1; echo mounted", 0, &other);
		other.in = PROC_IO_NULL;
		other.out = PROC_IO_CAPTURE;
		r = remote_rsync_push_prepare(&H, proj, dst, &f, &rules, &sync, &err);
		t0 = burst_now_ms();
		ok(r == 0 && proc_run_all(both, 2, &err) == 0, "push and remote command run together");
		memset(&st, 0, sizeof(st));
		ok(remote_rsync_push_finish(&H, proj, dst, &sync, &st, &err) == 0 &&
		   st.files_transferred == 1 && !strcmp(other.out_buf.buf, "mounted\n"),
		   "both results (%llu ms)", (unsigned long long)(burst_now_ms() - t0));
		child_process_release(&sync);
		child_process_release(&other);
		strbuf_release(&rules);
	}

	strbuf_release(&got);
	strbuf_release(&expect);
	strbuf_release(&gitlist);
	free(proj);
	free(dst);
	burst_error_release(&err);
}

static void test_fetch(void)
{
	static const char *const names[] = { "app", "lib.rlib", "it's here", NULL };
	struct burst_error err = BURST_ERROR_INIT;
	char *rdir = path_in("rtarget/release"), *ldir = path_in("local/release");
	char *p, *wrapper = path_in("rsync-corrupt");
	struct stat st;
	struct strbuf sb = STRBUF_INIT;
	int r;

	p = xstrfmt("%s/app", rdir);
	write_file(p, "#!/bin/sh\necho app\n", 0755);
	free(p);
	p = xstrfmt("%s/lib.rlib", rdir);
	write_file(p, "rlib", 0644);
	free(p);
	p = xstrfmt("%s/it's here", rdir);
	write_file(p, "quote", 0600);
	free(p);
	r = remote_fetch_files(&H, rdir, names, ldir, &err);
	ok(r == 0, "fetch with checksums (%s)", err.message ? err.message : "ok");
	p = xstrfmt("%s/app", ldir);
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0755, "executable keeps its mode");
	strbuf_read_file(&sb, p);
	is_str(sb.buf, "#!/bin/sh\necho app\n", "content fetched");
	free(p);
	p = xstrfmt("%s/lib.rlib", ldir);
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644, "data file keeps its mode");
	free(p);

	write_file(wrapper, "#!/bin/sh\nrsync \"$@\"; rc=$?\nfor last; do :; done\n"
			    "printf x >> \"$last/lib.rlib\"\nexit $rc\n", 0755);
	setenv("CARGO_BURST_RSYNC", wrapper, 1);
	r = remote_fetch_files(&H, rdir, names, ldir, &err);
	unsetenv("CARGO_BURST_RSYNC");
	ok(r < 0 && err.exit_code == BURST_EXIT_REMOTE && err.message &&
	   strstr(err.message, "checksum mismatch") && strstr(err.message, "lib.rlib"),
	   "a corrupted transfer fails naming the file: %s", err.message ? err.message : "");
	burst_error_release(&err);
	strbuf_release(&sb);
	free(rdir);
	free(ldir);
	free(wrapper);
}

/* Kill the processes whose working directory is dir (remote commands left behind). */
static void kill_cwd_in(const char *dir)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char link[300], target[4096];
		ssize_t n;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(link, sizeof(link), "/proc/%s/cwd", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, dir))
			kill((pid_t)strtol(de->d_name, NULL, 10), SIGKILL);
	}
	if (d)
		closedir(d);
}

/* Is every entry of dir a regular file without setuid/setgid bits? */
static bool only_plain_files(const char *dir, struct strbuf *why)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool ret = true;

	while (d && (de = readdir(d))) {
		char *p;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = xstrfmt("%s/%s", dir, de->d_name);
		if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07000)) {
			strbuf_addf(why, " %s(0%o)", de->d_name, (unsigned)st.st_mode);
			ret = false;
		}
		free(p);
	}
	if (d)
		closedir(d);
	return ret;
}

/*
 * Fetch names in a child with a generous deadline: 76 when it failed with
 * BURST_EXIT_REMOTE, 0 on success, -1 when it hung (killed) or crashed.
 */
static int fetch_in_child(const char *rdir, const char *const *names, const char *ldir,
			  struct strbuf *msg)
{
	int pfd[2], status = 0;
	uint64_t deadline = burst_now_ms() + 60000;
	pid_t pid;
	char buf[1024];
	ssize_t n;

	if (pipe(pfd) < 0)
		bail_out("pipe");
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		struct burst_error e = BURST_ERROR_INIT;
		int r;

		close(pfd[0]);
		setpgid(0, 0);
		alarm(0);
		r = remote_fetch_files(&H, rdir, names, ldir, &e);
		if (e.message && write(pfd[1], e.message, strlen(e.message)) < 0)
			_exit(3);
		_exit(r == 0 ? 0 : e.exit_code == BURST_EXIT_REMOTE ? 76 : 1);
	}
	close(pfd[1]);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (burst_now_ms() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			kill_cwd_in(rdir);
			close(pfd[0]);
			strbuf_addstr(msg, "(hung: killed after 60 s)");
			return -1;
		}
		usleep(50000);
	}
	while ((n = read(pfd[0], buf, sizeof(buf))) > 0)
		strbuf_add(msg, buf, (size_t)n);
	close(pfd[0]);
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) == 76 ? 76 : WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * A server that serves what it should not: a FIFO, a device that never
 * ends, a symlink to a file of ours, a directory, a setuid file.  Only
 * regular files without setuid bits land in the local directory; the
 * fetch never hangs; the canary the link points at is neither read nor
 * written.
 */
static void test_fetch_hostile(void)
{
	static const char *const specials[] = { "fifo", "zero", "link", "dir", NULL };
	struct burst_error err = BURST_ERROR_INIT;
	char *rdir = path_in("hostile/release"), *ldir = path_in("hlocal/release");
	char *canary = path_in("canary"), *p;
	struct strbuf sb = STRBUF_INIT, why = STRBUF_INIT;
	struct stat st;
	int r;

	write_file(canary, "canary\n", 0644);
	p = xstrfmt("%s/app", rdir);
	write_file(p, "#!/bin/sh\necho app\n", 0755);
	free(p);
	p = xstrfmt("%s/suid", rdir);
	write_file(p, "setuid\n", 0755);
	if (chmod(p, 06755) < 0)
		bail_out("chmod");
	free(p);
	p = xstrfmt("%s/app2", rdir);
	write_file(p, "new\n", 0755);
	free(p);
	p = xstrfmt("%s/fifo", rdir);
	if (mkfifo(p, 0644) < 0)
		bail_out("mkfifo");
	free(p);
	p = xstrfmt("%s/zero", rdir);
	if (mknod(p, S_IFCHR | 0644, makedev(1, 5)) < 0)
		bail_out("mknod");
	free(p);
	p = xstrfmt("%s/link", rdir);
	if (symlink(canary, p) < 0)
		bail_out("symlink");
	free(p);
	p = xstrfmt("%s/dir", rdir);
	if (mkdir(p, 0755) < 0)
		bail_out("mkdir");
	free(p);

	{
		static const char *const names[] = { "app", "suid", NULL };

		r = remote_fetch_files(&H, rdir, names, ldir, &err);
		ok(r == 0, "regular files are fetched (%s)", err.message ? err.message : "ok");
		burst_error_release(&err);
		p = xstrfmt("%s/suid", ldir);
		memset(&st, 0, sizeof(st));
		r = lstat(p, &st);
		ok(r == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0755,
		   "a setuid/setgid file arrives without those bits (mode 0%o)",
		   (unsigned)st.st_mode & 07777);
		free(p);
	}
	{
		/* a link at the destination is replaced, never written through */
		static const char *const names[] = { "app2", NULL };

		p = xstrfmt("%s/app2", ldir);
		if (symlink(canary, p) < 0)
			bail_out("symlink");
		r = remote_fetch_files(&H, rdir, names, ldir, &err);
		strbuf_reset(&sb);
		strbuf_read_file(&sb, canary);
		ok(r == 0 && lstat(p, &st) == 0 && S_ISREG(st.st_mode) && !strcmp(sb.buf, "canary\n"),
		   "a symlink in the local directory is replaced, the file it points at untouched");
		burst_error_release(&err);
		free(p);
	}
	{
		/* what the pull asks rsync for (its receiver enforces it) */
		static const char *const names[] = { "app", NULL };
		char *argv_file = path_in("rsync-argv"), *wrapper = path_in("rsync-record");
		char *script = xstrfmt("#!/bin/sh\nprintf '%%s\\n' \"$@\" > '%s'\n"
				       "exec rsync \"$@\"\n", argv_file);
		static const char *const want[] = {
			"--no-recursive", "--no-links", "--no-D", "--chmod=ugo-st",
			"--max-size=17179869184", "--timeout=120", NULL,
		};
		bool all = true;

		write_file(wrapper, script, 0755);
		setenv("CARGO_BURST_RSYNC", wrapper, 1);
		r = remote_fetch_files(&H, rdir, names, ldir, &err);
		unsetenv("CARGO_BURST_RSYNC");
		strbuf_reset(&sb);
		strbuf_read_file(&sb, argv_file);
		for (size_t i = 0; want[i]; i++) {
			char *line = xstrfmt("\n%s\n", want[i]);

			if (!strstr(sb.buf, line)) {
				diag("rsync was not given %s", want[i]);
				all = false;
			}
			free(line);
		}
		ok(r == 0 && all, "the pull asks rsync for no recursion, links, devices, "
		   "FIFOs or setuid bits, a size cap and a timeout");
		burst_error_release(&err);
		free(script);
		free(wrapper);
		free(argv_file);
	}
	for (size_t i = 0; specials[i]; i++) {
		const char *names[] = { "app", specials[i], NULL };
		struct strbuf msg = STRBUF_INIT;
		DIR *d;
		struct dirent *de;
		bool leftover = false;

		r = fetch_in_child(rdir, names, ldir, &msg);
		ok(r == 76 && strstr(msg.buf, specials[i]),
		   "a '%s' from the server is an ordinary error, not a hang: %s", specials[i],
		   msg.buf);
		bool plain;

		strbuf_reset(&why);
		plain = only_plain_files(ldir, &why);
		ok(plain, "only regular files without setuid bits in the local directory%s",
		   why.buf);
		strbuf_reset(&sb);
		strbuf_read_file(&sb, canary);
		is_str(sb.buf, "canary\n", "the canary is unchanged");
		d = opendir(ldir);
		while (d && (de = readdir(d)))
			if (!strncmp(de->d_name, ".cargo-burst-fetch-", 19))
				leftover = true;
		if (d)
			closedir(d);
		ok(!leftover, "the private fetch directory is gone");
		strbuf_release(&msg);
	}
	p = xstrfmt("%s/fifo", rdir);
	{
		/* release a remote reader of the FIFO, if any (the test failed) */
		int fd = open(p, O_WRONLY | O_NONBLOCK);

		if (fd >= 0)
			close(fd);
	}
	free(p);
	kill_cwd_in(rdir);
	strbuf_release(&sb);
	strbuf_release(&why);
	free(rdir);
	free(ldir);
	free(canary);
}

/* ---- the indexed sync (issue 16) ---------------------------------------- */

static char *six_proj, *six_dst, *six_index, *six_rules;
/* the matrix runs twice: small changes by tar, then every change by rsync */
static bool six_no_small;
static unsigned six_tar_pushes;

static void sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh_ok(const char *fmt, ...)
{
	struct strbuf cmd = STRBUF_INIT, out = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	if (run_capture(cmd.buf, &out) != 0)
		bail_out(cmd.buf);
	strbuf_release(&cmd);
	strbuf_release(&out);
}

/* One indexed push; *incr: was it (still) incremental at its end? */
static int six_push(int64_t verify_secs, bool *planned, bool *incr, struct sync_stats *st)
{
	struct sync_filters f = { .index_path = six_index, .index_target = "server 1",
				  .verify_secs = verify_secs, .no_small = six_no_small };
	struct burst_error err = BURST_ERROR_INIT;
	struct sync_push *sp = remote_sync_push_start(&H, six_proj, six_dst, &f, &err);
	int ret = -1;

	if (!sp)
		goto out;
	*planned = remote_sync_push_incremental(sp);
	six_tar_pushes += !strcmp(remote_sync_push_kind(sp), "incremental, tar");
	if (proc_run(remote_sync_push_child(sp), &err) < 0)
		goto out;
	memset(st, 0, sizeof(*st));
	ret = remote_sync_push_end(sp, st, &err);
	*incr = remote_sync_push_incremental(sp);
out:
	if (ret < 0)
		diag("push: %s", err.message ? err.message : "?");
	remote_sync_push_free(sp);
	burst_error_release(&err);
	return ret;
}

/*
 * One indexed push in two steps, the marker probe added to a command of
 * our own ("true", run over ssh) or, with fake, its output made up.
 * *planned: incremental after the plan; *ran: did the push need a child?
 */
/* Set by six_probed_push(): the push let go of its hold before it was freed. */
static bool six_released;

static int six_probed_push(const char *fake, size_t fake_len, bool *planned, bool *ran)
{
	struct sync_filters f = { .index_path = six_index, .index_target = "server 1",
				  .no_small = six_no_small };
	struct burst_error err = BURST_ERROR_INIT;
	struct sync_push *sp = remote_sync_push_begin(&H, six_proj, six_dst, &f);
	struct child_process probe = CHILD_PROCESS_INIT, *c;
	struct strbuf cmd = STRBUF_INIT;
	struct sync_stats st;
	int ret = -1, hold[2] = { -1, -1 };

	six_released = false;
	/* the hold: the write end of a pipe, so its close shows as EOF */
	if (pipe2(hold, O_CLOEXEC) < 0)
		bail_out("pipe2");
	remote_sync_push_hold(sp, hold[1]);
	strbuf_addstr(&cmd, "true");
	remote_sync_push_probe(sp, &cmd);
	if (fake) {
		remote_sync_push_probed(sp, fake, fake_len);
	} else {
		remote_command_prepare(&H, cmd.buf, 0, &probe);
		probe.in = PROC_IO_NULL;
		probe.out = PROC_IO_CAPTURE;
		probe.capture_max = 4096;
		if (proc_run(&probe, &err) < 0 || probe.exit_code != 0)
			goto out;
		remote_sync_push_probed(sp, probe.out_buf.buf, probe.out_buf.len);
	}
	if (remote_sync_push_plan(sp, &err) < 0)
		goto out;
	*planned = remote_sync_push_incremental(sp);
	c = remote_sync_push_child(sp);
	*ran = c != NULL;
	if (c && proc_run(c, &err) < 0)
		goto out;
	ret = remote_sync_push_end(sp, &st, &err);
	if (ret == 0) {
		struct pollfd pf = { .fd = hold[0], .events = POLLIN };
		char byte;

		six_released = poll(&pf, 1, 10000) == 1 && read(hold[0], &byte, 1) == 0;
	}
out:
	close(hold[0]);
	if (ret < 0)
		diag("probed push: %s", err.message ? err.message : "?");
	remote_sync_push_free(sp);
	child_process_release(&probe);
	strbuf_release(&cmd);
	burst_error_release(&err);
	return ret;
}

/* What a full rsync would still change (dry run; -c: by content): "" when equal. */
static void six_diff(bool checksum, struct strbuf *out)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf rules = STRBUF_INIT;
	char *cmd;

	strbuf_addstr(&rules, "- /.cargo-burst-sync\n");
	if (remote_sync_rules(six_proj, NULL, &rules, &err) < 0)
		bail_out("sync rules");
	write_file(six_rules, rules.buf, 0644);
	/* the marker is the one excluded file the server holds */
	cmd = xstrfmt("out=$(rsync -a --no-owner --no-group --delete --dry-run -i %s "
		      "--filter='. %s' '%s/' '%s/') || exit 1; printf '%%s' \"$out\" | "
		      "grep -vx '[*]deleting   [.]cargo-burst-sync' || true",
		      checksum ? "-c --delete-excluded" : "", six_rules, six_proj, six_dst);
	if (run_capture(cmd, out) != 0)
		strbuf_addstr(out, "(rsync failed)");
	free(cmd);
	strbuf_release(&rules);
	burst_error_release(&err);
}

/* One step of the matrix: change, push, compare with a full rsync. */
static void six_step(const char *what, bool want_incr)
{
	struct strbuf d = STRBUF_INIT, c = STRBUF_INIT;
	struct sync_stats st;
	bool planned = false, incr = false;
	int r = six_push(0, &planned, &incr, &st);

	ok(r == 0, "%s: push", what);
	is_int(incr, want_incr, "%s: %s push", what, want_incr ? "an incremental" : "a full");
	six_diff(false, &d);
	is_str(d.buf, "", "%s: a full rsync --dry-run -i finds nothing to do", what);
	six_diff(true, &c);
	is_str(c.buf, "", "%s: ...nor with --checksum (or --delete-excluded: nothing excluded "
	       "was sent)", what);
	strbuf_release(&d);
	strbuf_release(&c);
}

static char *read_marker(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *p = xstrfmt("%s/.cargo-burst-sync", six_dst);

	if (strbuf_read_file(&sb, p) < 0)
		strbuf_addstr(&sb, "(none)");
	free(p);
	strbuf_trim(&sb);
	return strbuf_detach(&sb, NULL);
}

/*
 * Rewrite the index as if its walk had seen another clock offset (a clock
 * step since, 60 s) and, unless boot is NULL, another boot id.
 */
static void six_shift_index(const char *boot)
{
	struct burst_error err = BURST_ERROR_INIT;
	const char *why = NULL;
	struct sync_index *ix = sync_index_load(six_index, &why);

	if (!ix)
		bail_out(why ? why : "loading the index");
	ix->offset_ns -= 60 * 1000000000LL;
	if (boot)
		memcpy(ix->boot, boot, sizeof(ix->boot));
	if (sync_index_save(ix, six_index, &err) < 0)
		bail_out(err.message ? err.message : "saving the index");
	sync_index_free(ix);
}

/* The index records this boot's id; a clock step within it means a full sync. */
static void six_clock_step(void)
{
	struct strbuf boot = STRBUF_INIT;
	struct sync_stats st;
	const char *why = NULL;
	struct sync_index *ix = sync_index_load(six_index, &why);
	bool planned = true, incr = true;

	if (strbuf_read_file(&boot, "/proc/sys/kernel/random/boot_id") < 0 || boot.len < 36)
		bail_out("reading /proc/sys/kernel/random/boot_id");
	ok(ix && !memcmp(ix->boot, boot.buf, 36), "the index records the boot id (%.36s)",
	   boot.buf);
	sync_index_free(ix);
	six_shift_index(NULL);
	ok(six_push(0, &planned, &incr, &st) == 0 && !planned && !incr,
	   "the clock stepped since the last walk, same boot: a full sync");
	six_shift_index("00000000-0000-4000-8000-000000000000");
	ok(six_push(0, &planned, &incr, &st) == 0 && planned && incr,
	   "another boot (its clock offset is another one anyway): still incremental");
	six_step("after the clock step", true);
	strbuf_release(&boot);
}

static void test_sync_index(bool no_small)
{
	struct sync_stats st;
	struct stat sb;
	bool planned, incr;
	char *m1, *m2;
	const char *pass = no_small ? "six-rsync" : "six";

	six_no_small = no_small;
	six_tar_pushes = 0;
	free(six_proj);
	free(six_dst);
	free(six_index);
	free(six_rules);
	six_proj = path_in(pass);
	six_dst = xstrfmt("%s-dst/src", six_proj);
	six_index = xstrfmt("%s-state/sync/x.idx", six_proj);
	six_rules = xstrfmt("%s-rules", six_proj);
	diag("the sync index matrix, %s", no_small ? "every change by rsync" :
	     "small changes as a tar stream");
	sh_ok("mkdir -p '%s' && cd '%s' && mkdir -p src d/e empty build && echo a > a.txt && "
	      "echo 'fn main() {}' > src/main.rs && echo f > d/e/f.txt && ln -s a.txt link && "
	      "printf '#!/bin/sh\\n' > run.sh && chmod 755 run.sh && echo x > x.log && "
	      "echo o > build/out && printf '*.log\\n/build/\\n' > .gitignore && "
	      "echo mine > .cargo-burst-sync && touch -m -d '2020-01-02 03:04:05' .",
	      six_proj, six_proj);
	/*
	 * The top directory's time is an old one: an edit sent by rsync (a
	 * temporary file renamed into place) must not leave the server's at
	 * the time of the push, whatever the time the test takes.
	 */

	six_step("first sync", false);
	ok(stat(six_index, &sb) == 0 && S_ISREG(sb.st_mode), "the index is written");
	m1 = read_marker();
	is_int((int)strlen(m1), 32, "the server holds a generation marker");
	six_step("no change", true);
	m2 = read_marker();
	ok(strcmp(m1, m2) != 0, "each sync writes a new generation");
	free(m1);
	free(m2);
	six_clock_step();

	sh_ok("cd '%s' && echo more >> a.txt", six_proj);
	six_step("edit", true);
	sh_ok("cd '%s' && echo new > d/new.txt && mkdir -p n/m && echo k > n/m/k.txt", six_proj);
	six_step("create", true);
	sh_ok("cd '%s' && rm d/e/f.txt && rm -r n", six_proj);
	six_step("delete", true);
	sh_ok("cd '%s' && mv src/main.rs src/lib.rs && mv d dd", six_proj);
	six_step("rename", true);
	sh_ok("cd '%s' && chmod 600 a.txt && chmod 700 dd && chmod 644 run.sh", six_proj);
	six_step("chmod", true);
	/* same size, mtime put back: only the ctime and the racy rule tell */
	sh_ok("cd '%s' && t=$(stat -c %%y a.txt) && printf 'b\\nmore\\n' > a.txt && "
	      "touch -d \"$t\" a.txt", six_proj);
	six_step("an edit in the same second, mtime restored", true);
	sh_ok("cd '%s' && rm -r dd && echo now-a-file > dd && rm a.txt && mkdir a.txt && "
	      "echo in > a.txt/in", six_proj);
	six_step("a directory replaced by a file and a file by a directory", true);
	sh_ok("cd '%s' && ln -sfn run.sh link && echo plain > link2 && ln -s dd link3 && "
	      "rm link2 && ln -s nowhere link2", six_proj);
	six_step("symlinks retargeted, created, replacing a file", true);
	sh_ok("cd '%s' && rm link && echo file > link", six_proj);
	six_step("a symlink replaced by a file", true);
	sh_ok("cd '%s' && echo y > y.log && mkdir -p build/more && echo b > build/more/b", six_proj);
	six_step("ignored files created", true);
	sh_ok("cd '%s' && printf '*.log\\n' > .gitignore", six_proj);
	six_step("the ignore rules changed", false);
	{
		const char *why = NULL;
		struct sync_index *ix = sync_index_load(six_index, &why);
		bool has = false;

		for (size_t i = 0; ix && i < ix->nr; i++)
			has |= !strcmp(ix->v[i].path, "build/more/b");
		ok(has, "the index was walked with the new rules, not the last sync's (%s)",
		   why ? why : "loaded");
		sync_index_free(ix);
	}
	/* the index holds what the new rules include (not the old rules' walk) */
	sh_ok("cd '%s' && echo changed >> build/more/b", six_proj);
	six_step("a file only the new rules include, changed", true);

	/* behind the tool's back: the marker no longer matches */
	sh_ok("cd '%s' && echo stray > stray.txt && echo 0123 > .cargo-burst-sync", six_dst);
	ok(six_push(0, &planned, &incr, &st) == 0 && planned && !incr,
	   "a marker mismatch: planned incremental, ended as a full sync");
	six_step("after the marker mismatch", true);

	/* a torn index: checksum mismatch */
	sh_ok("truncate -s -3 '%s'", six_index);
	six_step("a damaged index", false);

	/* periodic verification */
	usleep(1100 * 1000);
	ok(six_push(1, &planned, &incr, &st) == 0 && !planned && !incr,
	   "verify_secs elapsed: a full sync");

	/* killed half-way: the marker is gone, the next sync is a full one */
	sh_ok("head -c 64000000 /dev/urandom > '%s/big.bin'", six_proj);
	{
		pid_t pid = fork();
		char *marker = xstrfmt("%s/.cargo-burst-sync", six_dst);
		uint64_t deadline = burst_now_ms() + 120000;
		int status;

		if (pid < 0)
			bail_out("fork");
		if (pid == 0) {
			setpgid(0, 0);
			alarm(0);
			_exit(six_push(0, &planned, &incr, &st) == 0 ? 0 : 1);
		}
		setpgid(pid, pid);
		/* the transfer began when the marker was emptied */
		while ((stat(marker, &sb) < 0 || sb.st_size > 0) && burst_now_ms() < deadline)
			usleep(5000);
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		m1 = read_marker();
		is_str(m1, "", "killed half-way: the server's marker holds no generation");
		free(m1);
		free(marker);
	}
	ok(six_push(0, &planned, &incr, &st) == 0 && planned && !incr,
	   "after the killed sync: the server said so and a full sync ran");
	six_step("after the killed sync", true);
	sh_ok("rm -f '%s/big.bin'", six_proj);
	six_step("the big file deleted", true);

	/* past the racy window: nothing to send, the server is only asked */
	usleep((useconds_t)(SYNC_RACY_NS / 1000) + 100 * 1000);
	six_step("the recent files sent once more", true);
	m1 = read_marker();
	six_step("nothing changed at all", true);
	m2 = read_marker();
	is_str(m2, m1, "nothing changed: the server's marker kept");
	free(m1);
	free(m2);
	sh_ok("echo 0123 > '%s/.cargo-burst-sync' && echo stray > '%s/stray2'", six_dst, six_dst);
	ok(six_push(0, &planned, &incr, &st) == 0 && planned && !incr,
	   "nothing changed but the marker does not match: a full sync");
	six_step("after that", true);

	/* the marker probe in the caller's own command (the volume's mount) */
	usleep((useconds_t)(SYNC_RACY_NS / 1000) + 100 * 1000);
	six_step("the recent files sent once more, again", true);
	{
		bool ran = true;
		static const char nul_line[] = "cargo-burst-sync-gen \0abc\n";
		static const struct { const char *out; size_t len; const char *what; } bad[] = {
			{ "", 0, "nothing printed" },
			{ "cargo-burst-sync-gen \n", 22, "an empty marker" },
			{ "cargo-burst-sync-gen 0123\n", 26, "another generation" },
			{ nul_line, sizeof(nul_line) - 1, "a NUL in the line" },
			{ "garbage\ncargo-burst-sync", 24, "a cut tag" },
		};

		m1 = read_marker();
		ok(six_probed_push(NULL, 0, &planned, &ran) == 0 && planned && !ran,
		   "the probe saw the marker: nothing changed, no command of the push's own");
		ok(six_released, "...and the push let go of its hold (the project's lock) at its end");
		m2 = read_marker();
		is_str(m2, m1, "...and the server's marker kept");
		free(m2);
		{
			/* the right generation with more after it is another one */
			char *longer = xstrfmt("cargo-burst-sync-gen %sX\n", m1);

			ran = false;
			ok(six_probed_push(longer, strlen(longer), &planned, &ran) == 0 && !planned &&
			   ran, "a probe line longer than the generation: a full sync");
			free(longer);
		}
		free(m1);
		six_step("after the long probe line", true);
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			/* nothing printed: no probe answer, the push asks itself */
			bool want_full = bad[i].len > 0 && strstr(bad[i].out, "gen ");

			ran = false;
			ok(six_probed_push(bad[i].out, bad[i].len, &planned, &ran) == 0 &&
			   planned == !want_full && (ran || !want_full),
			   "probe output, %s: %s", bad[i].what,
			   want_full ? "a full sync" : "the push asks the server itself");
			six_step(bad[i].what, true);
		}
		sh_ok("echo 0123 > '%s/.cargo-burst-sync' && echo stray > '%s/stray3'", six_dst,
		      six_dst);
		ran = false;
		ok(six_probed_push(NULL, 0, &planned, &ran) == 0 && !planned && ran,
		   "the probe saw another marker: planned as a full sync at once");
		ok(six_released, "a full push lets go of its hold once its index is written");
		six_step("after the probed mismatch", true);
	}
	if (!no_small) {
		/* the server's tar fails (a directory in the file's way): rsync, in full */
		sh_ok("cd '%s' && echo v1 > clash.txt", six_proj);
		six_step("a file to clash with", true);
		sh_ok("rm '%s/clash.txt' && mkdir -p '%s/clash.txt/sub' && echo x > "
		      "'%s/clash.txt/sub/f' && echo v2 >> '%s/clash.txt'", six_dst, six_dst, six_dst,
		      six_proj);
		ok(six_push(0, &planned, &incr, &st) == 0 && planned && !incr,
		   "the server's tar failed: planned incremental, ended as a full sync");
		six_step("after the failed tar", true);
	}
	if (no_small)
		is_int((int)six_tar_pushes, 0, "every incremental push went by rsync");
	else
		ok(six_tar_pushes >= 12, "the small changes went as tar streams (%u pushes)",
		   six_tar_pushes);
}

int main(void)
{
	if (geteuid() != 0)
		skip_all("needs root to run a private sshd");
	if (access("/usr/sbin/sshd", X_OK) || system("command -v ssh rsync ssh-keygen git >/dev/null 2>&1"))
		skip_all("needs /usr/sbin/sshd, ssh, ssh-keygen, rsync and git");
	if (!mkdtemp(tmp))
		bail_out("mkdtemp");
	snprintf(sleep_arg, sizeof(sleep_arg), "100.%d", (int)getpid());
	snprintf(sleep_pattern, sizeof(sleep_pattern), "100[.]%d", (int)getpid());
	atexit(cleanup);
	signal(SIGALRM, on_fatal);
	signal(SIGSEGV, on_fatal);
	signal(SIGABRT, on_fatal);
	signal(SIGTERM, on_fatal); /* meson's timeout, a Ctrl-C of the suite */
	signal(SIGINT, on_fatal);
	alarm(280);
	plan_lazy();
	start_sshd();
	start_sentinel();
	test_known_hosts();
	test_connect_and_master();
	test_wrong_key();
	test_streaming();
	test_quoting();
	test_interrupt();
	test_pidfile_dir();
	test_rsync();
	test_fetch();
	test_fetch_hostile();
	test_sync_index(false);
	test_sync_index(true);
	remote_master_stop(&H);
	ok(!remote_master_check(&H), "master stopped");
	remote_host_release(&H);
	free(host_pub);
	return done_testing();
}

/*
 * detach.c - proc_spawn_detached(): detached workers (the reapers).
 *
 * Everything is prepared before the first fork (program path, environment,
 * descriptors), so the children only make async-signal-safe calls until
 * execve().  Progress comes back over a CLOEXEC pipe as fixed-size records:
 * the grandchild's pid, then either EOF (execve succeeded and closed the
 * pipe) or the errno of the step that failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/log.h"
#include "burst/proc.h"

extern char **environ;

enum detach_step {
	DETACH_PID = 1,
	DETACH_SETSID,
	DETACH_FORK,
	DETACH_STDIO,
	DETACH_EXEC,
};

struct detach_msg {
	int step;
	int value;
};

static const char *step_name(int step)
{
	switch (step) {
	case DETACH_SETSID: return "setsid";
	case DETACH_FORK: return "fork";
	case DETACH_STDIO: return "redirecting stdio";
	case DETACH_EXEC: return "exec";
	default: return "starting";
	}
}

static void report(int fd, int step, int value)
{
	struct detach_msg m = { step, value };
	ssize_t r = write(fd, &m, sizeof(m));

	(void)r;
}

/* Move fd above stderr (so dup2 onto 0..2 cannot clobber it); CLOEXEC. */
static int fd_above_stdio(int fd)
{
	int nfd;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* Find prog in PATH like execvp would; allocated, or NULL. */
static char *find_program(const char *prog, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";

	if (strchr(prog, '/'))
		return xstrdup(prog);
	while (1) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		struct stat st;

		strbuf_reset(&sb);
		if (n)
			strbuf_add(&sb, p, n);
		else
			strbuf_addch(&sb, '.');
		strbuf_addf(&sb, "/%s", prog);
		if (!stat(sb.buf, &st) && S_ISREG(st.st_mode) && !access(sb.buf, X_OK))
			return strbuf_detach(&sb, NULL);
		if (!colon)
			break;
		p = colon + 1;
	}
	strbuf_release(&sb);
	return NULL;
}

static void close_other_fds(int keep, long max_fd)
{
	if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) < 0)
		for (long fd = 3; fd < keep; fd++)
			close((int)fd);
	if (close_range((unsigned)keep + 1, ~0U, 0) < 0)
		for (long fd = keep + 1; fd < max_fd; fd++)
			close((int)fd);
}

BURST_NORETURN static void grandchild(int errfd, int nullfd, int logfd, const char *path,
				      char *const *argv, char *const *envp,
				      const sigset_t *oldmask, long max_fd)
{
	sigset_t empty;

	(void)oldmask;
	report(errfd, DETACH_PID, (int)getpid());
	if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
	    chdir("/") < 0) {
		report(errfd, DETACH_STDIO, errno);
		_exit(127);
	}
	close_other_fds(errfd, max_fd);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	execve(path, argv, envp);
	report(errfd, DETACH_EXEC, errno);
	_exit(127);
}

int proc_spawn_detached(const char *const *argv, const char *const *env,
			const char *log_path, pid_t *pid_out, struct burst_error *err)
{
	struct strvec envp = STRVEC_INIT, args = STRVEC_INIT;
	char *path = NULL;
	const char *path_env = getenv("PATH");
	int nullfd = -1, logfd = -1, pfd[2] = { -1, -1 };
	long max_fd = sysconf(_SC_OPEN_MAX);
	sigset_t all, old;
	pid_t mid;
	pid_t worker = 0;
	int ret = -1;

	if (!argv || !argv[0])
		BUG("proc_spawn_detached without argv");
	if (max_fd < 0 || max_fd > 65536)
		max_fd = 65536;

	/* Environment and program path, built completely before forking. */
	for (char **e = environ; e && *e; e++)
		strvec_push(&envp, *e);
	for (size_t i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');

		if (eq) {
			char *name = xstrndup(env[i], (size_t)(eq - env[i]));

			strvec_setenv(&envp, name, eq + 1);
			if (!strcmp(name, "PATH"))
				path_env = eq + 1;
			free(name);
		} else {
			strvec_setenv(&envp, env[i], NULL);
		}
	}
	strvec_pushv(&args, (const char **)argv);
	path = find_program(argv[0], path_env);
	if (!path) {
		burst_error_set(err, BURST_EXIT_INTERNAL,
				"cannot start '%s': command not found (PATH=%s)", argv[0],
				path_env ? path_env : "");
		goto out;
	}
	if (burst_trace_enabled()) {
		struct strbuf sb = STRBUF_INIT;

		proc_quote_argv(&sb, argv);
		log_trace("proc", "detach: %s (log %s)", sb.buf, log_path);
		strbuf_release(&sb);
	}

	nullfd = fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (nullfd < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot open '/dev/null': %s",
				strerror(errno));
		goto out;
	}
	logfd = fd_above_stdio(open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
	if (logfd < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot open log file '%s': %s",
				log_path, strerror(errno));
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0 || (pfd[0] = fd_above_stdio(pfd[0])) < 0 ||
	    (pfd[1] = fd_above_stdio(pfd[1])) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot create a pipe: %s",
				strerror(errno));
		goto out;
	}

	/* No handler of ours may run in the children before they reset them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	mid = fork();
	if (mid == 0) {
		pid_t gc;

		close(pfd[0]);
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		if (setsid() < 0) {
			report(pfd[1], DETACH_SETSID, errno);
			_exit(127);
		}
		gc = fork();
		if (gc < 0) {
			report(pfd[1], DETACH_FORK, errno);
			_exit(127);
		}
		if (gc == 0)
			grandchild(pfd[1], nullfd, logfd, path, args.v, envp.v, &old, max_fd);
		_exit(0);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (mid < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot fork: %s", strerror(errno));
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;

	/* Records until EOF: the pid, then maybe a failure. */
	while (1) {
		struct detach_msg m;
		ssize_t n = read(pfd[0], &m, sizeof(m));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(m))
			break;
		if (m.step == DETACH_PID) {
			worker = (pid_t)m.value;
			continue;
		}
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot start '%s': %s: %s",
				argv[0], step_name(m.step), strerror(m.value));
		goto out;
	}
	if (!worker) {
		burst_error_set(err, BURST_EXIT_INTERNAL,
				"cannot start '%s': the worker did not report back", argv[0]);
		goto out;
	}
	log_debug("proc", "detached '%s' as pid %d", argv[0], (int)worker);
	if (pid_out)
		*pid_out = worker;
	ret = 0;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	free(path);
	strvec_clear(&args);
	strvec_clear(&envp);
	return ret;
}

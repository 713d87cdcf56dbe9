/*
 * workspace.c - find the cargo workspace root with `cargo locate-project`.
 *
 * A minimal fork/exec with one pipe and a size cap, private to this module
 * (the proc module is for the long-lived children of a run).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/config.h"
#include "burst/log.h"

#define LOCATE_OUTPUT_MAX 65536
#define LOCATE_TIMEOUT_MS 60000

static bool is_executable(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK);
}

/* $CARGO (set by cargo for subcommands), cargo on PATH, ~/.cargo/bin/cargo. */
static char *find_cargo(void)
{
	const char *env = getenv("CARGO"), *path = getenv("PATH"), *home;

	if (env && *env && is_executable(env))
		return xstrdup(env);
	while (path && *path) {
		size_t len = strcspn(path, ":");
		char *cand = xstrfmt("%.*s/cargo", (int)len,
				     len ? path : ".");

		if (is_executable(cand))
			return cand;
		free(cand);
		path += len;
		if (*path == ':')
			path++;
	}
	home = getenv("HOME");
	if (home && *home) {
		char *cand = xstrfmt("%s/.cargo/bin/cargo", home);

		if (is_executable(cand))
			return cand;
		free(cand);
	}
	return NULL;
}

/*
 * Run argv in dir with stdout and stderr into one capped buffer (stdin
 * from /dev/null).  Returns the wait status, or -1 with errno.
 */
static int run_capture(const char *const *argv, const char *dir,
		       struct strbuf *out)
{
	int pipefd[2], status = -1, devnull;
	uint64_t deadline = burst_now_ms() + LOCATE_TIMEOUT_MS;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(pipefd[0]);
		close(pipefd[1]);
		close(devnull);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		/* No allocation from here to exec. */
		if (dup2(devnull, 0) < 0 || dup2(pipefd[1], 1) < 0 ||
		    dup2(pipefd[1], 2) < 0 || chdir(dir) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	close(devnull);
	for (;;) {
		struct pollfd pfd = { pipefd[0], POLLIN, 0 };
		uint64_t now = burst_now_ms();
		char buf[4096];
		ssize_t n;
		int r;

		if (now >= deadline) {
			log_debug("workspace", "cargo locate-project timed out");
			kill(pid, SIGKILL);
			break;
		}
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (strbuf_add(out, buf, (size_t)n) < 0) {
			kill(pid, SIGKILL);
			break;
		}
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

int workspace_locate(const char *cwd, char **root, struct burst_error *err)
{
	struct strbuf out = STRBUF_INIT;
	char *cargo = find_cargo();
	const char *argv[] = { NULL, "locate-project", "--workspace",
			       "--message-format", "plain", NULL };
	char *slash;
	int status, ret = -1;

	*root = NULL;
	if (!cargo) {
		burst_error_set(err, BURST_EXIT_CONFIG,
				"cannot find cargo (not on PATH, not in "
				"~/.cargo/bin)");
		burst_error_hint(err, "install Rust with rustup "
				 "(https://rustup.rs) or add cargo to PATH");
		goto out;
	}
	argv[0] = cargo;
	strbuf_set_max(&out, LOCATE_OUTPUT_MAX);
	log_trace("workspace", "running %s locate-project --workspace "
		  "--message-format plain in %s", cargo, cwd);
	status = run_capture(argv, cwd, &out);
	if (status < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL,
				"cannot run '%s locate-project': %s", cargo,
				strerror(errno));
		goto out;
	}
	strbuf_trim(&out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.overflow ||
	    out.buf[0] != '/' || !has_suffix(out.buf, "/Cargo.toml") ||
	    memchr(out.buf, '\n', out.len)) {
		log_debug("workspace", "cargo locate-project said: %s", out.buf);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
			burst_error_set(err, BURST_EXIT_CONFIG,
					"cannot run '%s'", cargo);
			goto out;
		}
		burst_error_set(err, BURST_EXIT_CONFIG,
				"not inside a cargo project: no Cargo.toml in "
				"'%s' or any parent directory", cwd);
		burst_error_hint(err, "run cargo burst from a directory of a "
				 "cargo workspace (where `cargo build` works)");
		goto out;
	}
	slash = strrchr(out.buf, '/');
	strbuf_setlen(&out, slash == out.buf ? 1 : (size_t)(slash - out.buf));
	*root = strbuf_detach(&out, NULL);
	log_debug("workspace", "workspace root %s", *root);
	ret = 0;
out:
	free(cargo);
	strbuf_release(&out);
	return ret;
}

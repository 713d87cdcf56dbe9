/*
 * workspace.c - find the cargo workspace root with `cargo locate-project`.
 *
 * A minimal fork/exec with one pipe and a size cap, private to this module
 * (the proc module is for the long-lived children of a run).
 *
 * Cargo's answer is cached per directory (the warm run's overhead: starting
 * cargo costs ~20 ms), in <state dir>/workspace/<hash of the cwd>.  The
 * answer depends only on the Cargo.toml files from the cwd up to / (and on
 * the found root's, which `package.workspace` may put elsewhere), so the
 * cache records their stat (device, inode, size, mode, mtime, ctime, in ns)
 * or their absence and is used only while every one is unchanged.  Files
 * changed within the last 2 s (RACY_NS) are never recorded: a second change in
 * the same timestamp tick would look unchanged (git's "racy" problem).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "burst/config.h"
#include "burst/log.h"
#include "burst/sha256.h"

#define LOCATE_OUTPUT_MAX 65536
#define LOCATE_TIMEOUT_MS 60000
#define CACHE_MAGIC "cargo-burst workspace cache 1\n"
#define CACHE_FILE_MAX (256 * 1024)
#define RACY_NS (2 * (int64_t)1000000000)

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

/* ---- the cache ----------------------------------------------------------- */

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* One line "<path>\t<stat or absent>\n" for path; -1 when it cannot be told. */
static int fingerprint_file(const char *path, int64_t now, struct strbuf *out)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return -1;
		strbuf_addf(out, "%s\tabsent\n", path);
		return 0;
	}
	/* changed just now: another change in the same tick would look the same */
	if (ts_ns(&st.st_mtim) > now - RACY_NS || ts_ns(&st.st_ctim) > now - RACY_NS)
		return -1;
	strbuf_addf(out, "%s\t%llu %llu %llu %o %lld.%09ld %lld.%09ld\n", path,
		    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		    (unsigned long long)st.st_size, (unsigned)st.st_mode,
		    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		    (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	return 0;
}

/*
 * The stat of every Cargo.toml that decides cargo's answer: cwd/Cargo.toml
 * and each parent's up to /, then root/Cargo.toml when root (may be NULL)
 * is not one of them.  -1 when one cannot be told or was changed too
 * recently to be trusted.
 */
static int fingerprint(const char *cwd, const char *root, struct strbuf *out)
{
	struct strbuf dir = STRBUF_INIT;
	struct timespec ts;
	int64_t now;
	bool root_seen = !root;
	int ret = -1;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = ts_ns(&ts);
	strbuf_addstr(&dir, cwd);
	while (dir.len > 1 && dir.buf[dir.len - 1] == '/')
		strbuf_setlen(&dir, dir.len - 1);
	for (;;) {
		char *path = xstrfmt("%s/Cargo.toml", dir.len == 1 ? "" : dir.buf);
		char *slash;
		int r = fingerprint_file(path, now, out);

		free(path);
		if (r < 0)
			goto out;
		if (root && !strcmp(root, dir.buf))
			root_seen = true;
		if (dir.len <= 1)
			break;
		slash = strrchr(dir.buf, '/');
		strbuf_setlen(&dir, slash == dir.buf ? 1 : (size_t)(slash - dir.buf));
	}
	if (!root_seen) {
		char *path = xstrfmt("%s/Cargo.toml", root);
		int r = fingerprint_file(path, now, out);

		free(path);
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	strbuf_release(&dir);
	return ret;
}

/* <state dir>/workspace/<32 hex digits of SHA-256(cwd)>, and its directory. */
static char *cache_path(const char *cwd, char **dir_out)
{
	char *state = config_state_dir(), *dir, *path, hex[33];

	sha256_hex(cwd, strlen(cwd), hex, 32);
	dir = xstrfmt("%s/workspace", state);
	path = xstrfmt("%s/%s", dir, hex);
	free(state);
	if (dir_out)
		*dir_out = dir;
	else
		free(dir);
	return path;
}

/*
 * The cached root for cwd when every recorded Cargo.toml is unchanged
 * (allocated), else NULL.  Cache file: magic line, "cwd\t<cwd>",
 * "root\t<root>", then the fingerprint lines.
 */
static char *cache_lookup(const char *cwd)
{
	struct strbuf file = STRBUF_INIT, now = STRBUF_INIT;
	char *path = cache_path(cwd, NULL), *root = NULL;
	const char *p, *nl, *rest;

	strbuf_set_max(&file, CACHE_FILE_MAX);
	if (strbuf_read_file(&file, path) < 0 || file.overflow ||
	    !skip_prefix(file.buf, CACHE_MAGIC, &p) || !skip_prefix(p, "cwd\t", &p) ||
	    strncmp(p, cwd, strlen(cwd)) || p[strlen(cwd)] != '\n')
		goto out;
	p += strlen(cwd) + 1;
	if (!skip_prefix(p, "root\t", &p) || *p != '/' || !(nl = strchr(p, '\n')))
		goto out;
	rest = nl + 1;
	root = xstrndup(p, (size_t)(nl - p));
	if (fingerprint(cwd, root, &now) < 0 || strcmp(now.buf, rest)) {
		log_debug("workspace", "cached workspace root of %s is stale", cwd);
		FREE_AND_NULL(root);
	}
out:
	free(path);
	strbuf_release(&file);
	strbuf_release(&now);
	return root;
}

static int mkdir_parents(const char *dir)
{
	char *tmp = xstrdup(dir);
	int ret = 0;

	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			ret = -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		ret = -1;
	free(tmp);
	return ret;
}

/*
 * Remember root for cwd, with the fingerprint taken before cargo ran
 * (before): only when it still holds now, so that a Cargo.toml changed
 * while cargo read it is never recorded as what cargo saw.
 */
static void cache_store(const char *cwd, const char *root, const struct strbuf *before)
{
	struct strbuf fp = STRBUF_INIT, text = STRBUF_INIT;
	char *dir = NULL, *path = NULL, *tmp = NULL;
	bool ok = false;
	int fd;

	if (strchr(cwd, '\n') || strchr(root, '\n'))
		goto out;
	if (fingerprint(cwd, root, &fp) < 0 || strncmp(fp.buf, before->buf, before->len))
		goto out;
	path = cache_path(cwd, &dir);
	if (mkdir_parents(dir) < 0)
		goto out;
	strbuf_addf(&text, CACHE_MAGIC "cwd\t%s\nroot\t%s\n", cwd, root);
	strbuf_addbuf(&text, &fp);
	tmp = xstrfmt("%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	ok = write(fd, text.buf, text.len) == (ssize_t)text.len;
	ok = !close(fd) && ok && !rename(tmp, path);
	if (!ok)
		unlink(tmp);
out:
	if (path)
		log_debug("workspace", ok ? "cached the workspace root of %s"
				      : "cannot cache the workspace root of %s", cwd);
	free(dir);
	free(path);
	free(tmp);
	strbuf_release(&fp);
	strbuf_release(&text);
}

/* ---- cargo locate-project ------------------------------------------------- */

int workspace_locate(const char *cwd, char **root, struct burst_error *err)
{
	struct strbuf out = STRBUF_INIT, before = STRBUF_INIT;
	char *cargo = NULL;
	const char *argv[] = { NULL, "locate-project", "--workspace",
			       "--message-format", "plain", NULL };
	char *slash;
	int status, ret = -1;
	bool cacheable;

	*root = cache_lookup(cwd);
	if (*root) {
		log_debug("workspace", "workspace root %s (cached)", *root);
		return 0;
	}
	cacheable = fingerprint(cwd, NULL, &before) == 0;
	cargo = find_cargo();
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
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && !out.overflow &&
		    !strstr(out.buf, "could not find `Cargo.toml`")) {
			/* cargo itself failed (no toolchain, a broken manifest...): say why */
			burst_error_set(err, BURST_EXIT_CONFIG,
					"local cargo failed in '%s' (`cargo locate-project` "
					"exited with %d)%s%.*s", cwd, WEXITSTATUS(status),
					out.len ? ":\n" : "", out.len > 4096 ? 4096 : (int)out.len,
					out.buf);
			burst_error_hint(err, "cargo burst needs a working local cargo to find "
					 "the workspace: make `cargo locate-project` work here "
					 "first (with rustup: `rustup default stable`)");
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
	if (cacheable)
		cache_store(cwd, *root, &before);
	ret = 0;
out:
	free(cargo);
	strbuf_release(&out);
	strbuf_release(&before);
	return ret;
}

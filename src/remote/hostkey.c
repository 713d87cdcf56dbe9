/*
 * hostkey.c - host key generation, the known_hosts file the tool owns and
 * the cloud-config user_data; see include/burst/remote.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/log.h"
#include "burst/text.h"
#include "remote-int.h"

#define CLOUD_CONFIG_MAX (32 * 1024)

int remote_hostkey_generate(const char *dir, const char *name, char **private_text,
			    char **public_line, struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct strbuf priv = STRBUF_INIT, pub = STRBUF_INIT;
	char *path = NULL, *pubpath = NULL;
	int ret = -1;

	*private_text = *public_line = NULL;
	if (strchr(name, '/') || !*name)
		BUG("remote_hostkey_generate: bad name '%s'", name);
	if (remote_mkdir_p(dir, 0700) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot create directory '%s': %s",
				dir, strerror(errno));
		goto out;
	}
	path = xstrfmt("%s/%s", dir, name);
	pubpath = xstrfmt("%s.pub", path);
	unlink(path);
	unlink(pubpath);
	strvec_push(&cp.args, "ssh-keygen");
	strvec_push(&cp.args, "-t");
	strvec_push(&cp.args, "ed25519");
	strvec_push(&cp.args, "-N");
	strvec_push(&cp.args, "");
	strvec_push(&cp.args, "-q");
	strvec_push(&cp.args, "-C");
	strvec_push(&cp.args, "cargo-burst");
	strvec_push(&cp.args, "-f");
	strvec_push(&cp.args, path);
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 16 * 1024;
	cp.timeout_ms = 30000;
	if (proc_run(&cp, err) < 0)
		goto out;
	if (cp.exit_code != 0) {
		char *why = remote_last_line(&cp.err_buf);

		burst_error_set(err, BURST_EXIT_INTERNAL, "ssh-keygen failed for '%s': %s",
				path, why ? why : "no output");
		free(why);
		goto out;
	}
	strbuf_set_max(&priv, 16 * 1024);
	strbuf_set_max(&pub, 16 * 1024);
	if (strbuf_read_file(&priv, path) < 0 || strbuf_read_file(&pub, pubpath) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot read the new host key '%s': %s",
				path, strerror(errno));
		goto out;
	}
	strbuf_trim(&pub);
	if (!has_suffix(priv.buf, "\n"))
		strbuf_addch(&priv, '\n');
	*private_text = strbuf_detach(&priv, NULL);
	*public_line = strbuf_detach(&pub, NULL);
	ret = 0;
out:
	if (path)
		unlink(path);
	if (pubpath)
		unlink(pubpath);
	free(path);
	free(pubpath);
	strbuf_release(&priv);
	strbuf_release(&pub);
	child_process_release(&cp);
	return ret;
}

#define KNOWN_HOSTS_LOCK_MS 30000

static char *host_token(const char *host, int port)
{
	if (!port || port == 22)
		return xstrdup(host);
	return xstrfmt("[%s]:%d", host, port);
}

/*
 * Is the pattern an address the tool pins ("ip" or "[ip]:port")?  Anything
 * else (a wildcard, a negation, a hashed name, a planted host list) never
 * belongs in the tool's own file.
 */
static bool address_pattern(const char *p, size_t len)
{
	char ip[BURST_IP_MAX + 1];
	const char *close;
	size_t n = len;

	if (len && *p == '[') {
		close = memchr(p, ']', len);
		if (!close || close + 1 == p + len || close[1] != ':')
			return false;
		for (const char *d = close + 2; d < p + len; d++)
			if (*d < '0' || *d > '9')
				return false;
		if (close + 2 == p + len)
			return false;
		p++;
		n = (size_t)(close - p);
	}
	if (!n || n > BURST_IP_MAX)
		return false;
	memcpy(ip, p, n);
	ip[n] = '\0';
	return burst_ip_valid(ip, BURST_IP_ANY);
}

/* Does every host pattern of a known_hosts line name one address? */
static bool line_is_pinned_address(const char *line, size_t len)
{
	const char *p = line, *end = line + len;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#')
		return true; /* blank or comment: harmless */
	if (*p == '@')
		return false; /* @cert-authority / @revoked */
	while (p < end && *p != ' ' && *p != '\t') {
		const char *q = p;

		while (q < end && *q != ',' && *q != ' ' && *q != '\t')
			q++;
		if (!address_pattern(p, (size_t)(q - p)))
			return false;
		p = q < end && *q == ',' ? q + 1 : q;
	}
	return true;
}

/* Does the host pattern list of a known_hosts line name token exactly? */
static bool line_names(const char *line, size_t len, const char *token)
{
	const char *p = line, *end = line + len;
	size_t tlen = strlen(token);

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '@') /* @cert-authority / @revoked markers */
		return false;
	while (p < end && *p != ' ' && *p != '\t') {
		const char *q = p;

		while (q < end && *q != ',' && *q != ' ' && *q != '\t')
			q++;
		if ((size_t)(q - p) == tlen && !memcmp(p, token, tlen))
			return true;
		p = q < end && *q == ',' ? q + 1 : q;
	}
	return false;
}

static int file_error(struct burst_error *err, const char *path, const char *what,
		      const char *file)
{
	int e = errno;
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');

	if (slash && slash != dir)
		*slash = '\0';
	burst_error_set(err, BURST_EXIT_STATE, "cannot update the known_hosts file '%s': "
			"%s '%s': %s", path, what, file, strerror(e));
	burst_error_hint(err, "make room on the file system of '%s' or fix its permissions, "
			 "then run the command again", slash ? dir : ".");
	free(dir);
	return -1;
}

/*
 * Take the lock file next to path (flock; polled up to KNOWN_HOSTS_LOCK_MS):
 * two processes pinning at once would otherwise each rename their own copy
 * over the file and lose the other's line.  Returns the locked fd or -1.
 */
static int lock_known_hosts(const char *path, struct burst_error *err)
{
	char *lock = xstrfmt("%s.lock", path);
	uint64_t deadline = burst_now_ms() + KNOWN_HOSTS_LOCK_MS;
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		file_error(err, path, "cannot open the lock file", lock);
		free(lock);
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct timespec ts = { 0, 20 * 1000000L };

		if (errno != EWOULDBLOCK && errno != EINTR) {
			file_error(err, path, "cannot lock", lock);
			goto fail;
		}
		if (burst_now_ms() > deadline) {
			burst_error_set(err, BURST_EXIT_STATE, "the known_hosts file '%s' stayed "
					"locked for %d s ('%s')", path, KNOWN_HOSTS_LOCK_MS / 1000,
					lock);
			burst_error_hint(err, "another cargo-burst seems stuck; stop it and run "
					 "the command again");
			goto fail;
		}
		nanosleep(&ts, NULL);
	}
	free(lock);
	return fd;
fail:
	close(fd);
	free(lock);
	return -1;
}

/*
 * Rewrite path without the entries of token, plus new_line when not NULL,
 * under the lock.  Lines that do not name plain addresses are dropped: the
 * tool never writes them, so one is planted.
 */
static int rewrite_known_hosts(const char *path, const char *token, const char *new_line,
			       struct burst_error *err)
{
	struct strbuf old = STRBUF_INIT, out = STRBUF_INIT;
	char *dir = NULL, *tmp = NULL, *slash;
	int fd = -1, lock_fd = -1, ret = -1;

	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (remote_mkdir_p(dir, 0700) < 0) {
			file_error(err, path, "cannot create the directory", dir);
			goto out;
		}
	}
	lock_fd = lock_known_hosts(path, err);
	if (lock_fd < 0)
		goto out;
	strbuf_set_max(&old, 16 * 1024 * 1024);
	if (strbuf_read_file(&old, path) < 0 && errno != ENOENT) {
		file_error(err, path, "cannot read", path);
		goto out;
	}
	for (const char *p = old.buf; p < old.buf + old.len;) {
		const char *nl = memchr(p, '\n', (size_t)(old.buf + old.len - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(old.buf + old.len - p);

		if (len && !line_is_pinned_address(p, len)) {
			log_warn("remote", "dropping a line that names no plain address from '%s'",
				 path);
		} else if (len && !line_names(p, len, token)) {
			strbuf_add(&out, p, len);
			strbuf_addch(&out, '\n');
		}
		p += len + (nl ? 1 : 0);
	}
	if (new_line)
		strbuf_addf(&out, "%s\n", new_line);

	tmp = xstrfmt("%s.tmp.%d", path, (int)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		file_error(err, path, "cannot create", tmp);
		goto out;
	}
	for (size_t off = 0; off < out.len;) {
		ssize_t n = write(fd, out.buf + off, out.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = ENOSPC;
			file_error(err, path, "cannot write", tmp);
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		file_error(err, path, "cannot write", tmp);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		file_error(err, path, "cannot write", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		file_error(err, path, "cannot rename to it", tmp);
		goto out;
	}
	FREE_AND_NULL(tmp);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	if (lock_fd >= 0)
		close(lock_fd); /* releases the flock */
	free(dir);
	strbuf_release(&old);
	strbuf_release(&out);
	return ret;
}

/* Refuse a host that is not one address: it becomes a known_hosts line. */
static int check_host(const char *host, int port, struct burst_error *err)
{
	char *shown;

	if (burst_ip_valid(host, BURST_IP_ANY) && port >= 0 && port <= 65535)
		return 0;
	shown = burst_text_sanitize(host ? host : "", 64);
	burst_error_set(err, BURST_EXIT_INTERNAL, "refusing to pin a host key for '%s' "
			"(port %d): not an IP address", shown, port);
	free(shown);
	return -1;
}

/* Is c allowed in the key type or base64 field of a public key line? */
static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=' || c == '-' || c == '.' || c == '@';
}

int remote_known_hosts_pin(const char *path, const char *host, int port,
			   const char *public_line, struct burst_error *err)
{
	char *token = NULL, *line = NULL;
	const char *sp1, *end;
	int ret = -1;

	if (check_host(host, port, err) < 0)
		return -1;
	token = host_token(host, port);
	/* "type base64 [comment]": keep the first two fields. */
	while (*public_line == ' ')
		public_line++;
	sp1 = public_line;
	while (key_char(*sp1))
		sp1++;
	end = *sp1 == ' ' ? sp1 + 1 : sp1;
	while (key_char(*end))
		end++;
	if (sp1 == public_line || *sp1 != ' ' || end == sp1 + 1 ||
	    (*end && *end != ' ') || strpbrk(public_line, "\r\n")) {
		char *shown = burst_text_sanitize(public_line, 80);

		burst_error_set(err, BURST_EXIT_INTERNAL, "malformed public key line '%s'",
				shown);
		free(shown);
		goto out;
	}
	line = xstrfmt("%s %.*s", token, (int)(end - public_line), public_line);
	ret = rewrite_known_hosts(path, token, line, err);
	if (!ret)
		log_debug("remote", "pinned host key of %s in %s", token, path);
out:
	free(line);
	free(token);
	return ret;
}

int remote_known_hosts_forget(const char *path, const char *host, int port,
			      struct burst_error *err)
{
	char *token;
	struct stat st;
	int ret = 0;

	if (check_host(host, port, err) < 0)
		return -1;
	token = host_token(host, port);
	if (stat(path, &st) == 0)
		ret = rewrite_known_hosts(path, token, NULL, err);
	free(token);
	return ret;
}

int remote_cloud_config(const char *private_text, const char *public_line,
			struct strbuf *out)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = private_text;
	int ret = -1;

	strbuf_addstr(&sb, "#cloud-config\nssh_keys:\n  ed25519_private: |\n");
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len && p[len - 1] == '\r')
			len--;
		strbuf_addstr(&sb, "    ");
		strbuf_add(&sb, p, len);
		strbuf_addch(&sb, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	strbuf_addf(&sb, "  ed25519_public: %s\n", public_line);
	if (sb.len > CLOUD_CONFIG_MAX)
		goto out;
	strbuf_addbuf(out, &sb);
	ret = 0;
out:
	strbuf_release(&sb);
	return ret;
}

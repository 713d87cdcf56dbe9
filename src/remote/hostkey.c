/*
 * hostkey.c - host key generation, the known_hosts file the tool owns and
 * the cloud-config user_data; see include/burst/remote.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/log.h"
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

static char *host_token(const char *host, int port)
{
	if (!port || port == 22)
		return xstrdup(host);
	return xstrfmt("[%s]:%d", host, port);
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

/* Rewrite path without the entries of token, plus new_line when not NULL. */
static int rewrite_known_hosts(const char *path, const char *token, const char *new_line,
			       struct burst_error *err)
{
	struct strbuf old = STRBUF_INIT, out = STRBUF_INIT;
	char *dir = NULL, *tmp = NULL, *slash;
	int fd = -1, ret = -1;

	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (remote_mkdir_p(dir, 0700) < 0) {
			burst_error_set(err, BURST_EXIT_INTERNAL,
					"cannot create directory '%s': %s", dir, strerror(errno));
			goto out;
		}
	}
	strbuf_set_max(&old, 16 * 1024 * 1024);
	if (strbuf_read_file(&old, path) < 0 && errno != ENOENT) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot read '%s': %s", path,
				strerror(errno));
		goto out;
	}
	for (const char *p = old.buf; p < old.buf + old.len;) {
		const char *nl = memchr(p, '\n', (size_t)(old.buf + old.len - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(old.buf + old.len - p);

		if (len && !line_names(p, len, token)) {
			strbuf_add(&out, p, len);
			strbuf_addch(&out, '\n');
		}
		p += len + (nl ? 1 : 0);
	}
	if (new_line)
		strbuf_addf(&out, "%s\n", new_line);

	tmp = xstrfmt("%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot create '%s': %s", tmp,
				strerror(errno));
		goto out;
	}
	for (size_t off = 0; off < out.len;) {
		ssize_t n = write(fd, out.buf + off, out.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			burst_error_set(err, BURST_EXIT_INTERNAL, "cannot write '%s': %s", tmp,
					strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot write '%s': %s", tmp,
				strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot rename '%s' to '%s': %s", tmp,
				path, strerror(errno));
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
	free(dir);
	strbuf_release(&old);
	strbuf_release(&out);
	return ret;
}

int remote_known_hosts_pin(const char *path, const char *host, int port,
			   const char *public_line, struct burst_error *err)
{
	char *token = host_token(host, port), *line = NULL;
	const char *sp1, *sp2;
	int ret = -1;

	/* "type base64 [comment]": keep the first two fields. */
	while (*public_line == ' ')
		public_line++;
	sp1 = strchr(public_line, ' ');
	if (!sp1 || sp1 == public_line || !sp1[1] || strchr(public_line, '\n')) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "malformed public key line '%s'",
				public_line);
		goto out;
	}
	sp2 = strchr(sp1 + 1, ' ');
	line = xstrfmt("%s %.*s", token,
		       (int)(sp2 ? (size_t)(sp2 - public_line) : strlen(public_line)),
		       public_line);
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
	char *token = host_token(host, port);
	struct stat st;
	int ret = 0;

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

/*
 * byoh.c - the extras of a run: bring-your-own host parsing, port
 * forwarding checks and the pinned toolchain file.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "burst/config.h"
#include "burst/log.h"
#include "burst/pipeline.h"
#include "burst/proc.h"
#include "burst/remote.h"
#include "burst/sha256.h"
#include "burst/toml.h"
#include "burst/ui.h"

#include "pipeline-int.h"

static int bad_host(const char *spec, const char *why, struct burst_error *err)
{
	burst_error_set(err, BURST_EXIT_USAGE, "invalid host '%s': %s", spec, why);
	burst_error_hint(err, "use USER@MACHINE[:PORT], e.g. root@build.example.com:2222");
	return -1;
}

int pipeline_parse_host(const char *spec, struct remote_host *h,
			struct burst_error *err)
{
	const char *at = strchr(spec, '@'), *name = at ? at + 1 : spec, *end, *colon;
	int64_t port = 0;

	if (at && at == spec)
		return bad_host(spec, "empty user name", err);
	if (at && strchr(name, '@'))
		return bad_host(spec, "more than one '@'", err);
	if (*name == '[') {
		end = strchr(name, ']');
		if (!end || end == name + 1)
			return bad_host(spec, "unterminated '[' address", err);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return bad_host(spec, "text after ']'", err);
		name++;
	} else {
		colon = strchr(name, ':');
		if (colon && strchr(colon + 1, ':'))
			return bad_host(spec, "write an IPv6 address as [ADDRESS]:PORT", err);
		end = colon ? colon : name + strlen(name);
	}
	if (end == name)
		return bad_host(spec, "empty machine name", err);
	for (const char *p = name; p < end; p++)
		if (*p <= ' ' || *p == '/' || *p == '\'' || *p == '"' || *p == '\\')
			return bad_host(spec, "unexpected character in the machine name", err);
	if (spec[0] == '-')
		return bad_host(spec, "it must not start with '-'", err);
	if (colon && parse_int64(colon + 1, 1, 65535, &port) < 0)
		return bad_host(spec, "the port must be a number from 1 to 65535", err);
	free(h->host);
	h->host = xstrndup(name, (size_t)(end - name));
	if (at) {
		free(h->user);
		h->user = xstrndup(spec, (size_t)(at - spec));
	}
	h->port = (int)port;
	return 0;
}

int pipeline_parse_forward(const char *spec, int *local, int *remote,
			   struct burst_error *err)
{
	const char *colon = strchr(spec, ':');
	char *left = xstrndup(spec, colon ? (size_t)(colon - spec) : strlen(spec));
	int64_t l = 0, r = 0;
	int ret = 0;

	if (parse_int64(left, 1, 65535, &l) < 0 ||
	    (colon && parse_int64(colon + 1, 1, 65535, &r) < 0)) {
		burst_error_set(err, BURST_EXIT_USAGE,
				"invalid value '%s' for '--forward': expected LOCAL[:REMOTE] "
				"ports from 1 to 65535", spec);
		burst_error_hint(err, "-L 8080 forwards localhost:8080 to port 8080 on the "
				 "server; -L 9000:8080 forwards localhost:9000 to it");
		ret = -1;
	}
	*local = (int)l;
	*remote = colon ? (int)r : (int)l;
	free(left);
	return ret;
}

/* The socket inode listening on 127.0.0.1/0.0.0.0:port, from /proc/net/tcp. */
static unsigned long listening_inode(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	unsigned long found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned addr, lport, state;
		unsigned long inode;

		if (sscanf(line, " %*d: %8X:%4X %*8X:%*4X %2X %*s %*s %*s %*s %*s %lu",
			   &addr, &lport, &state, &inode) != 4)
			continue;
		if ((int)lport == port && state == 0x0A) /* LISTEN */
			found = inode;
	}
	fclose(f);
	return found;
}

/* "name (pid N)" of a process holding the socket inode (allocated), or NULL. */
static char *socket_owner(unsigned long inode)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	char want[64], *ret = NULL;

	if (!proc)
		return NULL;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while (!ret && (de = readdir(proc))) {
		char path[600], link[128];
		DIR *fds;
		struct dirent *fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!ret && (fd = readdir(fds))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", de->d_name, fd->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (!strcmp(link, want)) {
				struct strbuf comm = STRBUF_INIT;

				snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
				strbuf_set_max(&comm, 256);
				if (strbuf_read_file(&comm, path) < 0)
					strbuf_addstr(&comm, "?");
				strbuf_trim(&comm);
				ret = xstrfmt("'%s' (pid %s)", comm.buf, de->d_name);
				strbuf_release(&comm);
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return ret;
}

int pipeline_check_local_port(int port, struct burst_error *err)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e;
	unsigned long inode;
	char *owner = NULL;

	if (fd < 0)
		return burst_error_set(err, BURST_EXIT_INTERNAL, "socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return 0;
	}
	e = errno;
	close(fd);
	inode = e == EADDRINUSE ? listening_inode(port) : 0;
	if (inode)
		owner = socket_owner(inode);
	burst_error_set(err, BURST_EXIT_USAGE,
			"cannot forward local port %d: %s%s%s", port,
			e == EADDRINUSE ? "it is already in use" : strerror(e),
			owner ? " by " : "", owner ? owner : "");
	burst_error_hint(err, "stop that program or pick another local port: "
			 "-L OTHER:%d", port);
	free(owner);
	return -1;
}

/* A toolchain name as rustup accepts it (no path, no shell meta). */
static bool toolchain_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* The channel of a TOML toolchain file, or NULL (allocated). */
static char *toml_channel(const struct strbuf *text)
{
	struct toml_value *root = toml_parse(text->buf, text->len, NULL);
	const struct toml_value *tc, *ch;
	char *ret = NULL;

	if (!root)
		return NULL;
	tc = toml_table_get(root, "toolchain");
	ch = tc && toml_value_type(tc) == TOML_TABLE ? toml_table_get(tc, "channel") : NULL;
	if (ch && toml_value_type(ch) == TOML_STRING)
		ret = xstrdup(toml_string(ch, NULL));
	toml_free(root);
	return ret;
}

char *pipeline_toolchain_file(const char *root)
{
	static const char *const names[] = { "rust-toolchain.toml", "rust-toolchain" };
	struct strbuf text = STRBUF_INIT;
	char *ret = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(names) && !ret; i++) {
		char *path = xstrfmt("%s/%s", root, names[i]);

		strbuf_reset(&text);
		strbuf_set_max(&text, 64 * 1024);
		if (strbuf_read_file(&text, path) == 0) {
			if (strstr(text.buf, "[toolchain]")) {
				ret = toml_channel(&text);
			} else {
				strbuf_trim(&text);
				if (!strchr(text.buf, '\n'))
					ret = xstrdup(text.buf);
			}
			if (ret && !toolchain_name_ok(ret))
				FREE_AND_NULL(ret);
		}
		free(path);
	}
	strbuf_release(&text);
	return ret;
}

bool pipeline_toolchain_listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *nl = strchr(p, '\n'), *end = p;

		while (*end && *end != ' ' && *end != '\n')
			end++;
		if ((size_t)(end - p) == n && !strncmp(p, name, n))
			return true;
		/* "<name>-<arch>-<vendor>-<os>...": the rest is a host triple */
		if ((size_t)(end - p) > n + 1 && !strncmp(p, name, n) && p[n] == '-') {
			const char *rest = p + n + 1;
			int dashes = 0;

			for (const char *q = rest; q < end; q++)
				dashes += *q == '-';
			if (dashes >= 2 && !(rest[0] >= '0' && rest[0] <= '9'))
				return true;
		}
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

/* ---- the run's side --------------------------------------------------- */

/*
 * The ssh config of a BYO host when ssh would not find it by itself: ssh
 * reads the passwd entry's ~/.ssh/config, the tool follows $HOME (as for
 * known_hosts), so a $HOME elsewhere gets its own file (or none).  NULL:
 * ssh's own lookup is the right one.
 */
static char *byo_ssh_config(const char *home)
{
	struct passwd *pw = getpwuid(getuid());
	char *a, *b, *path;
	bool same;

	if (!home || !*home || !pw || !pw->pw_dir)
		return NULL;
	a = realpath(home, NULL);
	b = realpath(pw->pw_dir, NULL);
	same = a && b ? !strcmp(a, b) : !strcmp(home, pw->pw_dir);
	free(a);
	free(b);
	if (same)
		return NULL;
	path = xstrfmt("%s/.ssh/config", home);
	if (access(path, R_OK) == 0)
		return path;
	free(path);
	return xstrdup("/dev/null");
}

int pipeline_byo_connect(struct run *r, const char *spec, struct burst_error *err)
{
	struct remote_host *h = &r->host;
	const char *home = getenv("HOME");
	int port;

	free(h->user);
	h->user = NULL;
	if (pipeline_parse_host(spec, h, err) < 0)
		return -1;
	/*
	 * The user's ssh config may SendEnv anything: the token (a host of
	 * the user's needs no API) leaves the environment every ssh inherits.
	 */
	unsetenv("HCLOUD_TOKEN");
	/*
	 * What the spec leaves out: ssh_user / ssh_port / ssh_key_path when
	 * configured, else whatever the user's ~/.ssh/config (or ssh's
	 * defaults) says for that name -- it may be an alias there.
	 */
	if (!h->user && r->cfg->source[CONFIG_SSH_USER] != CONFIG_SRC_DEFAULT && r->cfg->ssh_user)
		h->user = xstrdup(r->cfg->ssh_user);
	if (!h->port && r->cfg->source[CONFIG_SSH_PORT] != CONFIG_SRC_DEFAULT)
		h->port = (int)r->cfg->ssh_port;
	if (r->cfg->source[CONFIG_SSH_KEY_PATH] == CONFIG_SRC_DEFAULT)
		FREE_AND_NULL(h->identity_file);
	port = h->port;
	/* never the tool's own file (ssh.c): without a home, no file vouches */
	h->user_known_hosts = home && *home ? xstrfmt("%s/.ssh/known_hosts", home)
					    : xstrdup("/dev/null");
	free(h->user_ssh_config);
	h->user_ssh_config = byo_ssh_config(home);
	r->display = port ? xstrfmt("%s%s%s:%d", h->user ? h->user : "", h->user ? "@" : "",
				    h->host, port)
			  : xstrfmt("%s%s%s", h->user ? h->user : "", h->user ? "@" : "", h->host);
	r->srv.name = xstrdup(r->display);
	r->srv.ip = xstrdup(h->host);
	if (remote_host_set_control_dir(h, r->control_dir, err) < 0)
		return -1;
	if (remote_master_check(h))
		return 0;
	if (remote_master_start(h, err) == 0)
		return 0;
	if (err->message && strstr(err->message, "host key")) {
		char *p = !port || port == 22 ? xstrdup("") : xstrfmt("-p %d ", port);

		burst_error_release(err);
		burst_error_set(err, BURST_EXIT_REMOTE,
				"the host key of '%s' is not in ~/.ssh/known_hosts, "
				"or it does not match the one there", r->display);
		burst_error_hint(err, "check the key and add it once: `ssh-keyscan %s%s >> "
				 "~/.ssh/known_hosts`, or connect once with `ssh %s%s%s%s`",
				 p, h->host, p, h->user ? h->user : "", h->user ? "@" : "",
				 h->host);
		free(p);
	}
	return -1;
}

void pipeline_check_toolchain(struct run *r)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	const char *cli_tc = r->req->toolchain;
	char *file_tc = cli_tc ? NULL : pipeline_toolchain_file(r->project.root);
	const char *tc = cli_tc ? cli_tc : file_tc;

	if (!tc)
		goto out;
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 256 * 1024;
	cp.timeout_ms = 30000;
	if (remote_run(&r->host,
		       "PATH=\"$HOME/.cargo/bin:/usr/local/cargo/bin:$PATH\" rustup toolchain list",
		       &cp, &err) < 0 || cp.exit_code != 0) {
		log_debug("pipeline", "rustup toolchain list: %s",
			  err.message ? err.message : cp.err_buf.buf);
		goto out;
	}
	if (pipeline_toolchain_listed(cp.out_buf.buf, tc))
		goto out;
	ui_status("Installing", "toolchain %s on the server%s", tc,
		  file_tc ? " (pinned by rust-toolchain)" : "");
	r->install_toolchain = true;
out:
	burst_error_release(&err);
	child_process_release(&cp);
	free(file_tc);
}

/* ---- the last run on a BYO host (for status) ------------------------------ */

static char *byo_record_path(const char *state_dir, const char *host)
{
	char hex[17];

	sha256_hex(host, strlen(host), hex, 16);
	return xstrfmt("%s/byo/%s", state_dir, hex);
}

void pipeline_byo_record(const char *state_dir, const char *host, const char *verb,
			 int exit_code, uint64_t ms)
{
	char *dir = xstrfmt("%s/byo", state_dir), *path = byo_record_path(state_dir, host);
	char *tmp = xstrfmt("%s.%ld", path, (long)getpid());
	FILE *f;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto out;
	f = fopen(tmp, "w");
	if (!f)
		goto out;
	fprintf(f, "%lld %s %d %llu\n", (long long)time(NULL), verb, exit_code,
		(unsigned long long)ms);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		unlink(tmp);
out:
	free(dir);
	free(path);
	free(tmp);
}

char *pipeline_byo_last_run(const char *state_dir, const char *host)
{
	char *path = byo_record_path(state_dir, host), *ret = NULL;
	struct strbuf sb = STRBUF_INIT;
	long long when;
	char verb[32];
	int code;
	unsigned long long ms;

	strbuf_set_max(&sb, 4096);
	if (strbuf_read_file(&sb, path) == 0 &&
	    sscanf(sb.buf, "%lld %31s %d %llu", &when, verb, &code, &ms) == 4) {
		char stamp[48], dur[32];

		ui_local_time(stamp, sizeof(stamp), (int64_t)when, true);
		ret = code ? xstrfmt("%s failed (exit code %d) %s in %s", verb, code, stamp,
				     ui_duration(dur, sizeof(dur), ms))
			   : xstrfmt("%s ok %s in %s", verb, stamp, ui_duration(dur, sizeof(dur), ms));
	}
	strbuf_release(&sb);
	free(path);
	return ret;
}

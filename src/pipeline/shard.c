/*
 * shard.c - `cargo burst test --shards N` (see include/burst/shard.h): one
 * nextest archive built on the main server, N-1 extra servers from the same
 * snapshot, `nextest run --partition hash:K/N` on all of them at once, the
 * results merged.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/log.h"
#include "burst/pipeline.h"
#include "burst/proc.h"
#include "burst/provision.h"
#include "burst/reaper.h"
#include "burst/remote.h"
#include "burst/shard.h"
#include "burst/state.h"
#include "burst/ui.h"

#include "pipeline-int.h"

#define MOD "shard"
/* An extra server outlives a run that died (kill -9) by this much. */
#define SHARD_SAFETY_SECS 120
/* How long an extra server may take to be created and to answer ssh. */
#define SHARD_ACTION_DEADLINE_MS (10 * 60 * 1000)
#define SHARD_SSH_DEADLINE_MS (180 * 1000)
/* The most JUnit text read from one shard. */
#define SHARD_JUNIT_MAX (64 * 1024 * 1024)

/* ---- the pure part --------------------------------------------------------- */

char *shard_strip_ansi(char *s)
{
	char *w = s;

	for (const char *p = s; *p;) {
		if (*p == '\033' && p[1] == '[') {
			p += 2;
			while (*p && !(*p >= '@' && *p <= '~'))
				p++;
			if (*p)
				p++;
			continue;
		}
		*w++ = *p++;
	}
	*w = '\0';
	return s;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Parse "<number> " at *p; advances past the number and spaces. */
static bool take_number(const char **p, int64_t *out)
{
	const char *s = *p;
	int64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s)) {
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*s++ - '0');
	}
	while (*s == ' ')
		s++;
	*p = s;
	*out = v;
	return true;
}

bool shard_parse_summary(const char *line, struct shard_summary *s)
{
	char *copy = shard_strip_ansi(xstrdup(line));
	const char *p = copy, *q;
	struct shard_summary r = { 0 };
	bool ok = false;

	while (*p == ' ')
		p++;
	if (!skip_prefix(p, "Summary [", &p))
		goto out;
	q = strchr(p, ']');
	if (!q)
		goto out;
	p = q + 1;
	while (*p == ' ')
		p++;
	if (!take_number(&p, &r.run))
		goto out;
	if (!skip_prefix(p, "tests run", &q) && !skip_prefix(p, "test run", &q))
		goto out;
	p = q;
	r.seen = true;
	if (*p == ':')
		p++;
	while (*p) {
		int64_t n;

		while (*p == ' ' || *p == ',')
			p++;
		if (!take_number(&p, &n))
			break;
		if (starts_with(p, "passed"))
			r.passed += n;
		else if (starts_with(p, "failed") || starts_with(p, "timed out") ||
			 starts_with(p, "exec fail"))
			r.failed += n;
		else if (starts_with(p, "skipped"))
			r.skipped += n;
		/* "(1 flaky)", "1 leaky", ...: informative only */
		while (*p && *p != ',')
			p++;
	}
	*s = r;
	ok = true;
out:
	free(copy);
	return ok;
}

char *shard_parse_failure(const char *line)
{
	static const char *const kinds[] = { "FAIL", "TIMEOUT", "SIGSEGV", "SIGABRT",
					     "SIGBUS", "SIGILL", "ABORT", "SIGKILL" };
	char *copy = shard_strip_ansi(xstrdup(line));
	const char *p = copy, *q = NULL;
	char *ret = NULL;
	size_t end;

	while (*p == ' ')
		p++;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		const char *rest;

		if (skip_prefix(p, kinds[i], &rest) && rest[0] == ' ') {
			while (*rest == ' ')
				rest++;
			if (*rest == '[')
				q = rest;
			break;
		}
	}
	if (!q || !(q = strchr(q, ']')))
		goto out;
	q++;
	while (*q == ' ')
		q++;
	end = strlen(q);
	while (end && (q[end - 1] == ' ' || q[end - 1] == '\r'))
		end--;
	if (end)
		ret = xstrndup(q, end);
out:
	free(copy);
	return ret;
}

/* Is arg the option name, alone or as "name=value"? */
static bool is_opt(const char *arg, const char *name)
{
	const char *rest;

	return skip_prefix(arg, name, &rest) && (!*rest || *rest == '=');
}

/* Does the run's argument list hold this option (before `--`)? */
static bool has_option(const struct strvec *args, const char *name)
{
	for (size_t i = 0; i < args->nr; i++) {
		if (!strcmp(args->v[i], "--"))
			break;
		if (is_opt(args->v[i], name))
			return true;
	}
	return false;
}

void shard_split_args(const char *const *args, size_t nargs, struct strvec *archive,
		      struct strvec *run)
{
	/* cargo's build selection that `nextest archive` takes (value or not) */
	static const char *const valued[] = {
		"-p", "--package", "--exclude", "-F", "--features", "--target",
		"--target-dir", "--cargo-profile", "--manifest-path", "-j", "--jobs",
		"--test", "--bin", "--example", "--bench", "--config", "-Z",
		"--cargo-message-format", "--timings",
	};
	static const char *const flags[] = {
		"--workspace", "--all", "--all-features", "--no-default-features",
		"--release", "-r", "--lib", "--bins", "--tests", "--examples",
		"--benches", "--all-targets", "--locked", "--offline", "--frozen",
		"--ignore-rust-version", "--unit-graph", "--build-jobs",
	};
	size_t i;

	for (i = 0; i < nargs; i++) {
		const char *a = args[i];
		bool taken = false;

		if (!strcmp(a, "--"))
			break;
		for (size_t k = 0; k < ARRAY_SIZE(flags) && !taken; k++) {
			if (!strcmp(a, flags[k])) {
				taken = true;
				strvec_push(archive, a);
			}
		}
		for (size_t k = 0; k < ARRAY_SIZE(valued) && !taken; k++) {
			size_t n = strlen(valued[k]);
			bool glued = valued[k][1] != '-' && !strncmp(a, valued[k], n) && a[n];

			if (!is_opt(a, valued[k]) && !glued)
				continue;
			taken = true;
			strvec_push(archive, a);
			if (!strcmp(a, valued[k]) && i + 1 < nargs)
				strvec_push(archive, args[++i]);
		}
		if (!taken)
			strvec_push(run, a);
	}
	for (; i < nargs; i++)
		strvec_push(run, args[i]);
}

size_t shard_junit_suites(const char *xml, size_t len, struct strbuf *out)
{
	const char *p = xml, *end = xml + len;
	size_t n = 0;

	for (;;) {
		const char *start = NULL, *close;

		for (const char *s = p; s + 11 <= end; s++) {
			if (!strncmp(s, "<testsuite", 10) && (s[10] == ' ' || s[10] == '>' ||
							      s[10] == '/' || s[10] == '\n' ||
							      s[10] == '\t')) {
				start = s;
				break;
			}
		}
		if (!start)
			break;
		/* a self-closing suite: <testsuite .../> */
		close = memchr(start, '>', (size_t)(end - start));
		if (!close)
			break;
		if (close[-1] == '/') {
			close++;
		} else {
			const char *c = NULL;

			for (const char *s = close; s + 12 <= end; s++)
				if (!strncmp(s, "</testsuite>", 12)) {
					c = s;
					break;
				}
			if (!c)
				break;
			close = c + 12;
		}
		strbuf_addstr(out, "  ");
		strbuf_add(out, start, (size_t)(close - start));
		strbuf_addch(out, '\n');
		n++;
		p = close;
	}
	return n;
}

void shard_junit_merge(const struct strbuf *suites, const struct shard_summary *total,
		       struct strbuf *out)
{
	strbuf_addstr(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	strbuf_addf(out, "<testsuites name=\"cargo-burst-shards\" tests=\"%lld\" "
		    "failures=\"%lld\" errors=\"0\">\n", (long long)total->run,
		    (long long)total->failed);
	strbuf_addbuf(out, suites);
	strbuf_addstr(out, "</testsuites>\n");
}

void shard_summary_merge(const struct shard_summary *v, size_t n, struct shard_summary *out)
{
	int64_t all = -1;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		if (!v[i].seen)
			continue;
		out->seen = true;
		out->run += v[i].run;
		out->passed += v[i].passed;
		out->failed += v[i].failed;
		/* every shard sees every test: run + skipped is the whole set */
		if (all < 0)
			all = v[i].run + v[i].skipped;
	}
	if (all >= out->run)
		out->skipped = all - out->run;
}

char *shard_server_name(const char *owner_id, int64_t now, long pid, int k)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	char stamp[16];
	size_t n = 0;
	uint64_t v = now > 0 ? (uint64_t)now : 0;

	do {
		stamp[n++] = digits[v % 36];
		v /= 36;
	} while (v && n < sizeof(stamp) - 1);
	stamp[n] = '\0';
	for (size_t i = 0; i < n / 2; i++) {
		char c = stamp[i];

		stamp[i] = stamp[n - 1 - i];
		stamp[n - 1 - i] = c;
	}
	return xstrfmt("%s%s-%s-%ld-%d", STATE_SHARD_NAME_PREFIX, owner_id, stamp, pid, k);
}

/* ---- one shard ----------------------------------------------------------- */

struct shard_ctx;

struct shard {
	struct run *r;
	struct shard_ctx *sc;
	int k;                    /* 1-based; 1 is the main server */
	int n;                    /* shards in the run */
	struct remote_host own;   /* extra servers */
	struct remote_host *host; /* &r->host for the main server */
	const char *name;

	/* provisioning (a thread: API and state only, no child process) */
	pthread_t tid;
	bool thread;
	char *server_name, *host_priv, *host_pub;
	struct provision_server srv;
	int64_t lease_id;
	int rc;
	struct burst_error err;
	bool ready;

	/* the run */
	char prefix[40];
	struct child_process cp;
	struct shard_summary sum;
	struct strvec failed;
	int exit_code;
};

/* What the provisioning threads share (read-only while they run). */
struct shard_plan {
	const char *endpoint, *token, *state_dir, *owner, *server_type, *known_hosts;
	struct strvec order;
	int64_t image_id, key_id;
	int64_t max_servers;
};

struct shard_ctx {
	struct run *r;
	struct shard_plan plan;
	struct shard *v;
	int n;
	char *archive;     /* on the main server's volume */
	char *dir;         /* /root/burst/<hash>/shard-<pid> on every server */
	char *local_dir;   /* local copy of the archive */
	struct strvec archive_args, run_args;
	/* one create at a time in this process (the flock is per process) */
	pthread_mutex_t create_mu;
};

/* Create one extra server, record it and take a lease on it (a thread). */
static void *provision_main(void *arg)
{
	struct shard *s = arg;
	struct shard_ctx *sc = s->sc;
	const struct shard_plan *p = &sc->plan;
	struct hcloud *api = NULL;
	struct burst_state *st = NULL;
	struct hcloud_labels labels = HCLOUD_LABELS_INIT;
	struct hcloud_server_opts so = { 0 };
	struct provision_create pc = { 0 };
	struct provision_created made = { 0 };
	struct strbuf user_data = STRBUF_INIT;
	struct state_server row = { 0 };
	char *key_ref = NULL, *image_ref = NULL;
	const char *key_refs[1];
	int64_t lease = 0;
	int rc;

	s->rc = -1;
	api = hcloud_new(p->endpoint, p->token, &s->err);
	if (!api)
		goto out;
	if (state_open(p->state_dir, &st, &s->err) < 0)
		goto out;
	provision_labels(&labels, "shard", p->owner, NULL);
	hcloud_labels_set(&labels, "arch", config_type_arch(p->server_type));
	if (remote_cloud_config(s->host_priv, s->host_pub, &user_data) < 0) {
		burst_error_set(&s->err, BURST_EXIT_INTERNAL, "the cloud-config is too large");
		goto out;
	}
	key_ref = xstrfmt("%lld", (long long)p->key_id);
	image_ref = xstrfmt("%lld", (long long)p->image_id);
	key_refs[0] = key_ref;
	so.name = s->server_name;
	so.server_type = p->server_type;
	so.image = image_ref;
	so.ssh_keys = key_refs;
	so.nr_ssh_keys = 1;
	so.user_data = user_data.buf;
	so.labels = &labels;
	row.server_type = (char *)p->server_type;
	row.image_id = p->image_id;
	row.host_key_pub = s->host_pub;
	row.host_key_path = (char *)p->known_hosts;
	row.status = STATE_SERVER_PROVISIONING;
	row.keep_alive_secs = SHARD_SAFETY_SECS;
	pc.api = api;
	pc.state = st;
	pc.owner_id = p->owner;
	pc.role = "shard";
	pc.so = &so;
	pc.locations = &p->order;
	/* the cost guard: max_servers, plus the extra servers of this run */
	pc.limit = p->max_servers + sc->n - 1;
	pc.count_shards = true;
	pc.quiet = true;
	pc.row = &row;
	pthread_mutex_lock(&sc->create_mu);
	rc = provision_server_create(&pc, &made, &s->err);
	pthread_mutex_unlock(&sc->create_mu);
	if (rc < 0)
		goto out;
	s->srv.hcloud_id = made.sc.server.id;
	s->srv.name = xstrdup(made.name);
	s->srv.ip = xstrdup(made.sc.server.ipv4);
	s->srv.location = xstrdup(made.location);
	s->srv.host_key_pub = xstrdup(s->host_pub);
	s->srv.row_id = made.row_id;
	if (state_lease_acquire(st, NULL, made.row_id, &lease, &s->err) != 0) {
		if (!s->err.message)
			burst_error_set(&s->err, BURST_EXIT_STATE, "server '%s' went away",
					s->srv.name);
		goto out;
	}
	s->lease_id = lease;
	/* the run's heartbeat renews it too */
	pipeline_heartbeat_add(&sc->r->hb, lease);
	if (hcloud_server_wait_created(api, &made.sc, burst_now_ms() + SHARD_ACTION_DEADLINE_MS,
				       NULL, NULL, &s->err) < 0) {
		burst_error_prefix(&s->err, "starting server '%s'", s->srv.name);
		goto out;
	}
	if (state_server_set_status(st, made.row_id, STATE_SERVER_READY, &s->err) < 0)
		goto out;
	s->rc = 0;
out:
	if (!s->srv.row_id && made.row_id)
		s->srv.row_id = made.row_id; /* created, then failed: still reaped */
	hcloud_labels_release(&labels);
	provision_created_release(&made);
	strbuf_release(&user_data);
	free(key_ref);
	free(image_ref);
	state_close(st);
	hcloud_free(api);
	return NULL;
}

/* ---- output ---------------------------------------------------------------- */

static void shard_line(struct shard *s, FILE *f, const char *line, size_t len, unsigned flags)
{
	struct shard_summary sum;
	char *name;

	if (flags & PROC_LINE_PROGRESS)
		return;
	fprintf(f, "%s", s->prefix);
	fwrite(line, 1, len, f);
	fputc('\n', f);
	fflush(f);
	if (shard_parse_summary(line, &sum)) {
		s->sum = sum;
		return;
	}
	name = shard_parse_failure(line);
	if (name) {
		bool have = false;

		for (size_t i = 0; i < s->failed.nr; i++)
			if (!strcmp(s->failed.v[i], name))
				have = true;
		if (!have)
			strvec_push(&s->failed, name);
		free(name);
	}
}

static void shard_stdout(const char *line, size_t len, unsigned flags, void *data)
{
	shard_line(data, stdout, line, len, flags);
}

static void shard_stderr(const char *line, size_t len, unsigned flags, void *data)
{
	shard_line(data, stderr, line, len, flags);
}

static void plain_stdout(const char *line, size_t len, unsigned flags, void *data)
{
	(void)data;
	fwrite(line, 1, len, stdout);
	if (!(flags & PROC_LINE_PARTIAL))
		fputc('\n', stdout);
	fflush(stdout);
}

static void plain_stderr(const char *line, size_t len, unsigned flags, void *data)
{
	(void)data;
	fwrite(line, 1, len, stderr);
	if (!(flags & PROC_LINE_PARTIAL))
		fputc('\n', stderr);
	fflush(stderr);
}

/* Ctrl-C: stop the remote nextest of this shard, harder each time. */
static void shard_interrupt(struct child_process *cp, int signo, int count, void *data)
{
	struct shard *s = data;
	struct burst_error e = BURST_ERROR_INIT;

	(void)signo;
	s->r->interrupted = true;
	if (count == 1 && s->k == 1)
		ui_warn("stopping the tests on every server (Ctrl-C again to force)");
	if (count <= 2 && remote_kill(s->host, s->r->pid_file, count == 1 ? SIGINT : SIGKILL,
				      &e) == 0)
		goto out;
	kill(-cp->pid, SIGKILL);
out:
	burst_error_release(&e);
}

/* ---- remote commands ------------------------------------------------------ */

/* The remote shell line of `cargo <verb-args...>` with the run's environment. */
static char *cargo_line(struct run *r, const struct strvec *args)
{
	struct pipeline_cmd c = { 0 };

	c.verb = "nextest";
	c.toolchain = r->req->toolchain;
	c.args = (const char *const *)args->v;
	c.nargs = args->nr;
	c.env = &r->env;
	c.project_hash = r->project.hash;
	c.has_lib = r->has_lib;
	c.color = ui_color();
	return pipeline_remote_command(&c);
}

/*
 * `cargo nextest archive` failed (its status is in r->exit_code): without
 * nextest on the server that is a clear error, else cargo's status (a
 * compile error, ...) passes through as the run's (0).
 */
static int archive_failed(struct shard_ctx *sc, struct burst_error *err)
{
	struct run *r = sc->r;
	struct strvec args = STRVEC_INIT;
	struct strbuf out = STRBUF_INIT;
	struct burst_error e = BURST_ERROR_INIT;
	char *cmd;
	int ret = 0;

	strvec_push(&args, "--version");
	cmd = cargo_line(r, &args);
	if (remote_capture(&r->host, cmd, 4096, 60000, &out, &e) < 0) {
		burst_error_set(err, BURST_EXIT_REMOTE,
				"cannot run `cargo nextest` on '%s': %s needs "
				"cargo-nextest (%s)", r->srv.name,
				r->req->shards > 0 ? "--shards" : "--junit",
				e.message ? e.message : "no reason given");
		burst_error_hint(err, "bake a current image with `cargo burst "
				 "image build`, or run the tests without %s",
				 r->req->shards > 0 ? "--shards" : "--junit");
		ret = -1;
	}
	free(cmd);
	strvec_clear(&args);
	strbuf_release(&out);
	burst_error_release(&e);
	return ret;
}

static int run_archive(struct shard_ctx *sc, struct burst_error *err)
{
	struct run *r = sc->r;
	struct child_process cp = CHILD_PROCESS_INIT;
	struct strvec args = STRVEC_INIT;
	struct strbuf line = STRBUF_INIT, wrapped = STRBUF_INIT;
	char *dir = xstrdup(sc->archive), *slash = strrchr(dir, '/'), *cargo;
	int ret = -1;

	*slash = '\0';
	strvec_push(&args, "archive");
	strvec_push(&args, "--archive-file");
	strvec_push(&args, sc->archive);
	strvec_pushv(&args, (const char *const *)sc->archive_args.v);
	cargo = cargo_line(r, &args);
	strbuf_addstr(&line, "mkdir -p ");
	remote_shell_quote(&line, dir);
	strbuf_addstr(&line, " && { ");
	strbuf_addstr(&line, cargo);
	strbuf_addstr(&line, "; }");
	remote_wrap_pidfile(&wrapped, r->pid_file, line.buf);
	log_debug(MOD, "archive command: %s", wrapped.buf);
	remote_command_prepare(&r->host, wrapped.buf, 0, &cp);
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_LINES;
	cp.err = PROC_IO_LINES;
	cp.out_line = plain_stdout;
	cp.err_line = plain_stderr;
	cp.own_session = true;
	cp.on_interrupt = shard_interrupt;
	cp.cb_data = &sc->v[0];
	ui_status("Archiving", "tests with `cargo nextest archive` on '%s'", r->srv.name);
	if (proc_run(&cp, err) < 0)
		goto out;
	if (proc_interrupted())
		r->interrupted = true;
	r->exit_code = proc_status_code(&cp);
	if (!r->interrupted && cp.exit_code == 255) {
		burst_error_set(err, BURST_EXIT_REMOTE,
				"the ssh connection to '%s' failed during the build", r->srv.name);
		goto out;
	}
	ret = 0;
out:
	free(cargo);
	free(dir);
	strvec_clear(&args);
	strbuf_release(&line);
	strbuf_release(&wrapped);
	child_process_release(&cp);
	return ret;
}

/*
 * A `find` over the places nextest may write the JUnit file of our profile
 * when it runs from an archive: the extraction dir, the remapped workspace's
 * target dir, the volume's target dir.
 */
static void junit_find(struct shard_ctx *sc, struct strbuf *sb)
{
	char *extract = xstrfmt("%s/x", sc->dir);
	char *src = layout_src_dir(sc->r->project.hash, false);
	char *target = layout_target_dir(sc->r->project.hash, false);
	char *t1 = xstrfmt("%s/target", src), *t2 = xstrfmt("%s/nextest", target);

	strbuf_addstr(sb, "find ");
	remote_shell_quote(sb, extract);
	strbuf_addch(sb, ' ');
	remote_shell_quote(sb, t1);
	strbuf_addch(sb, ' ');
	remote_shell_quote(sb, t2);
	strbuf_addstr(sb, " -path '*/nextest/" SHARD_JUNIT_PROFILE "/junit.xml' 2>/dev/null");
	free(extract);
	free(src);
	free(target);
	free(t1);
	free(t2);
}

/* The nextest tool config that defines the JUnit profile (one line of sh). */
static void junit_config_cmd(struct strbuf *sb, const char *path)
{
	strbuf_addstr(sb, "printf '%s\\n' '[profile." SHARD_JUNIT_PROFILE "]' '[profile."
		      SHARD_JUNIT_PROFILE ".junit]' 'path = \"junit.xml\"' > ");
	remote_shell_quote(sb, path);
	strbuf_addstr(sb, " && ");
}

static void prepare_run(struct shard_ctx *sc, struct shard *s, const char *archive)
{
	struct run *r = sc->r;
	struct strvec args = STRVEC_INIT;
	struct strbuf line = STRBUF_INIT, wrapped = STRBUF_INIT;
	char *src = layout_src_dir(r->project.hash, false);
	char *extract = xstrfmt("%s/x", sc->dir);
	char *cfg = xstrfmt("%s/nextest-tool.toml", sc->dir);
	char *part = xstrfmt("hash:%d/%d", s->k, s->n);
	char *cargo;

	strvec_push(&args, "run");
	strvec_push(&args, "--archive-file");
	strvec_push(&args, archive);
	strvec_push(&args, "--workspace-remap");
	strvec_push(&args, src);
	strvec_push(&args, "--extract-to");
	strvec_push(&args, extract);
	strvec_push(&args, "--extract-overwrite");
	strvec_push(&args, "--partition");
	strvec_push(&args, part);
	/* a shard may get no test at all; the user's own choice wins */
	if (!has_option(&sc->run_args, "--no-tests"))
		strvec_push(&args, "--no-tests=pass");
	if (r->req->junit) {
		strvec_pushf(&args, "--tool-config-file=cargo-burst:%s", cfg);
		strvec_push(&args, "--profile");
		strvec_push(&args, SHARD_JUNIT_PROFILE);
	}
	strvec_pushv(&args, (const char *const *)sc->run_args.v);
	cargo = cargo_line(r, &args);
	strbuf_addstr(&line, "mkdir -p ");
	remote_shell_quote(&line, extract);
	strbuf_addstr(&line, " && ");
	if (r->req->junit) {
		/* no stale report of an earlier run may be taken for this one's */
		strbuf_addstr(&line, "{ ");
		junit_find(sc, &line);
		strbuf_addstr(&line, " -delete; true; } && ");
		junit_config_cmd(&line, cfg);
	}
	strbuf_addstr(&line, "{ if [ -x /usr/local/bin/cargo-burst-wait-db ]; then "
		      "timeout 35 /usr/local/bin/cargo-burst-wait-db 30 >&2 || "
		      "echo 'warning: database services not ready after 30s' >&2; fi; ");
	strbuf_addstr(&line, cargo);
	strbuf_addstr(&line, "; }");
	remote_wrap_pidfile(&wrapped, r->pid_file, line.buf);
	log_debug(MOD, "shard %d command: %s", s->k, wrapped.buf);
	remote_command_prepare(s->host, wrapped.buf, 0, &s->cp);
	s->cp.in = PROC_IO_NULL;
	s->cp.out = PROC_IO_LINES;
	s->cp.err = PROC_IO_LINES;
	s->cp.out_line = shard_stdout;
	s->cp.err_line = shard_stderr;
	s->cp.cb_data = s;
	s->cp.own_session = true;
	s->cp.on_interrupt = shard_interrupt;
	free(cargo);
	free(src);
	free(extract);
	free(cfg);
	free(part);
	strvec_clear(&args);
	strbuf_release(&line);
	strbuf_release(&wrapped);
}

/* ---- the steps ------------------------------------------------------------ */

static int plan_servers(struct shard_ctx *sc, struct burst_error *err)
{
	struct run *r = sc->r;
	struct shard_plan *p = &sc->plan;
	int64_t now = state_now();

	p->endpoint = r->cfg->endpoint;
	p->token = r->cfg->token;
	p->state_dir = state_dir(r->st);
	p->owner = state_owner_id(r->st);
	p->server_type = r->cfg->server_type;
	p->known_hosts = r->known_hosts;
	p->max_servers = r->cfg->max_servers;
	provision_location_order(r->srv.location, &r->cfg->regions, &p->order);
	if (provision_find_image(r->api, p->owner, r->cfg->arch, &p->image_id, err) < 0)
		return -1;
	if (provision_ensure_ssh_key(r->api, r->st, p->owner, r->cfg->ssh_pub_key_path,
				     &p->key_id, err) < 0)
		return -1;
	for (int i = 1; i < sc->n; i++) {
		struct shard *s = &sc->v[i];
		char *file = xstrfmt("shardkey-%ld-%d", (long)getpid(), s->k);
		int rc = remote_hostkey_generate(r->scratch_dir, file, &s->host_priv,
						 &s->host_pub, err);

		free(file);
		if (rc < 0)
			return -1;
		s->server_name = shard_server_name(p->owner, now, (long)getpid(), s->k);
	}
	return 0;
}

static int start_provisioning(struct shard_ctx *sc, struct burst_error *err)
{
	ui_status("Provisioning", "%d more server%s (%s) for the shards", sc->n - 1,
		  sc->n == 2 ? "" : "s", sc->plan.server_type);
	for (int i = 1; i < sc->n; i++) {
		struct shard *s = &sc->v[i];

		if (pthread_create(&s->tid, NULL, provision_main, s) != 0)
			return burst_error_set(err, BURST_EXIT_INTERNAL, "cannot start a thread");
		s->thread = true;
	}
	return 0;
}

static void join_provisioning(struct shard_ctx *sc)
{
	struct burst_error e = BURST_ERROR_INIT;

	for (int i = 1; i < sc->n; i++) {
		struct shard *s = &sc->v[i];

		if (!s->thread)
			continue;
		pthread_join(s->tid, NULL);
		s->thread = false;
		/* whatever exists gets a reaper at once (kill -9 safety) */
		if (s->srv.row_id && reaper_arm_server(sc->r->st, s->srv.row_id, &e) < 0)
			log_warn(MOD, "arming the reaper of '%s': %s", s->srv.name, e.message);
		burst_error_release(&e);
	}
}

/* Pin host keys and wait for ssh on every extra server that was created. */
static int connect_servers(struct shard_ctx *sc, struct burst_error *err)
{
	struct run *r = sc->r;

	for (int i = 1; i < sc->n; i++) {
		struct shard *s = &sc->v[i];

		if (s->rc < 0) {
			ui_warn("extra server %d could not be created: %s", s->k,
				s->err.message ? s->err.message : "unknown error");
			continue;
		}
		remote_host_server(&s->own, r->host.user, r->host.port, r->host.identity_file,
				   state_dir(r->st), s->srv.ip);
		s->own.persist_secs = 30;
		if (remote_known_hosts_pin(r->known_hosts, s->srv.ip,
					   s->own.port ? s->own.port : 22, s->host_pub, err) < 0)
			return -1;
		if (remote_host_set_control_dir(&s->own, r->control_dir, err) < 0)
			return -1;
		if (remote_wait_ready(&s->own, burst_now_ms() + SHARD_SSH_DEADLINE_MS, NULL, NULL,
				      err) < 0) {
			if (err->exit_code == BURST_EXIT_INTERRUPTED)
				return -1;
			ui_warn("extra server '%s' did not answer ssh: %s", s->srv.name,
				err->message);
			burst_error_release(err);
			continue;
		}
		s->ready = true;
	}
	return 0;
}

/* Fetch the archive once, then push it and the source to every extra server. */
static int distribute(struct shard_ctx *sc, struct burst_error *err)
{
	struct run *r = sc->r;
	const char *paths[2] = { sc->archive, NULL };
	struct child_process *cps[2 * SHARD_MAX];
	struct strbuf rules[2 * SHARD_MAX];
	struct sync_filters f = { 0 };
	struct strvec extra = STRVEC_INIT;
	char *src = layout_src_dir(r->project.hash, false);
	size_t n = 0;
	int ret = -1;
	uint64_t t0 = burst_now_ms();
	char dur[32];

	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		strbuf_init(&rules[i], 0);
	ui_status("Fetching", "the test archive from '%s'", r->srv.name);
	if (remote_rsync_pull(&r->host, paths, sc->local_dir, NULL, err) < 0)
		goto out;
	for (size_t i = 0; i < r->cfg->extra_excludes.items.nr; i++)
		strvec_push(&extra, r->cfg->extra_excludes.items.v[i]);
	for (size_t i = 0; i < r->excludes.nr; i++)
		strvec_push(&extra, r->excludes.v[i]);
	f.extra_excludes = (const char *const *)extra.v;
	f.unexclude = (const char *const *)r->cfg->unexclude.items.v;
	f.sync_git = r->cfg->sync_git;
	for (int i = 1; i < sc->n; i++) {
		struct shard *s = &sc->v[i];
		struct child_process *a = xcalloc(1, sizeof(*a)), *b = xcalloc(1, sizeof(*b));

		child_process_init(a);
		child_process_init(b);
		cps[n++] = a;
		cps[n++] = b;
		if (!s->ready)
			continue;
		if (remote_rsync_push_prepare(s->host, sc->local_dir, sc->dir, NULL, &rules[n - 2],
					      a, err) < 0)
			goto out;
		if (remote_rsync_push_prepare(s->host, r->project.root, src, &f, &rules[n - 1], b,
					      err) < 0)
			goto out;
	}
	{
		/* only the prepared ones (a skipped shard left empty argv) */
		struct child_process *run[2 * SHARD_MAX];
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			if (cps[i]->args.nr)
				run[m++] = cps[i];
		ui_status("Pushing", "the archive and the source to %zu server%s", m / 2,
			  m / 2 == 1 ? "" : "s");
		if (m && proc_run_all(run, m, err) < 0)
			goto out;
	}
	if (proc_interrupted()) {
		r->interrupted = true;
		ret = 0;
		goto out;
	}
	for (int i = 1; i < sc->n; i++) {
		struct shard *s = &sc->v[i];
		size_t a = (size_t)(i - 1) * 2;

		if (!s->ready)
			continue;
		if (remote_rsync_push_finish(s->host, sc->local_dir, sc->dir, cps[a], NULL,
					     err) < 0 ||
		    remote_rsync_push_finish(s->host, r->project.root, src, cps[a + 1], NULL, err) < 0) {
			ui_warn("pushing to '%s' failed: %s", s->srv.name, err->message);
			burst_error_release(err);
			s->ready = false;
		}
	}
	ui_verbose("Pushed", "in %s", ui_duration(dur, sizeof(dur), burst_now_ms() - t0));
	ret = 0;
out:
	for (size_t i = 0; i < n; i++) {
		child_process_release(cps[i]);
		free(cps[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		strbuf_release(&rules[i]);
	strvec_clear(&extra);
	free(src);
	return ret;
}

/* Renumber the usable shards 1..m (the main server is always shard 1). */
static int usable_shards(struct shard_ctx *sc, struct shard **use)
{
	int m = 0;

	for (int i = 0; i < sc->n; i++)
		if (i == 0 || sc->v[i].ready)
			use[m++] = &sc->v[i];
	for (int i = 0; i < m; i++) {
		use[i]->k = i + 1;
		use[i]->n = m;
		snprintf(use[i]->prefix, sizeof(use[i]->prefix), "[%d/%d] ", i + 1, m);
	}
	return m;
}

static int run_shards(struct shard_ctx *sc, struct shard **use, int m, struct burst_error *err)
{
	struct run *r = sc->r;
	struct child_process *cps[SHARD_MAX];
	char *remote_copy;
	const char *leaf = strrchr(sc->archive, '/') + 1;
	int ret;

	remote_copy = xstrfmt("%s/%s", sc->dir, leaf);
	for (int i = 0; i < m; i++) {
		prepare_run(sc, use[i], i == 0 ? sc->archive : remote_copy);
		cps[i] = &use[i]->cp;
	}
	if (m > 1)
		ui_status("Running", "`cargo nextest run` on %d servers (--partition hash:K/%d)",
			  m, m);
	else
		ui_status("Running", "`cargo nextest run` from the archive on '%s'",
			  r->srv.name);
	ret = proc_run_all(cps, (size_t)m, err);
	if (proc_interrupted())
		r->interrupted = true;
	for (int i = 0; i < m; i++)
		use[i]->exit_code = proc_status_code(&use[i]->cp);
	free(remote_copy);
	return ret;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_junit(struct shard_ctx *sc, struct shard **use, int m,
		       const struct shard_summary *total, struct burst_error *err)
{
	struct run *r = sc->r;
	struct strbuf suites = STRBUF_INIT, doc = STRBUF_INIT, cmd = STRBUF_INIT;
	char *path = NULL, *tmp = NULL;
	const char *junit = r->req->junit;
	int ret = -1, fd = -1;

	strbuf_addstr(&cmd, "f=$(");
	junit_find(sc, &cmd);
	strbuf_addstr(&cmd, " | head -n 1); if [ -n \"$f\" ]; then cat \"$f\"; fi");
	for (int i = 0; i < m; i++) {
		struct strbuf xml = STRBUF_INIT;

		if (remote_capture(use[i]->host, cmd.buf, SHARD_JUNIT_MAX, 120000, &xml, err) < 0) {
			strbuf_release(&xml);
			goto out;
		}
		if (!shard_junit_suites(xml.buf, xml.len, &suites))
			ui_warn("shard %d wrote no JUnit report", use[i]->k);
		strbuf_release(&xml);
	}
	shard_junit_merge(&suites, total, &doc);
	path = junit[0] == '/' ? xstrdup(junit) : xstrfmt("%s/%s", r->job->cwd, junit);
	tmp = xstrfmt("%s.tmp-%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, doc.buf, doc.len) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot write %s: %s", tmp,
				strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot write %s: %s", tmp,
				strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot write %s: %s", path,
				strerror(errno));
		goto out;
	}
	ui_status("Wrote", "the merged JUnit report to %s", path);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0 && tmp)
		unlink(tmp);
	strbuf_release(&suites);
	strbuf_release(&doc);
	strbuf_release(&cmd);
	free(path);
	free(tmp);
	return ret;
}

static void print_summary(struct shard **use, int m, const struct shard_summary *t)
{
	size_t nfail = 0;

	for (int i = 0; i < m; i++) {
		if (!use[i]->sum.seen)
			ui_warn("shard %d/%d printed no nextest summary (%s)", use[i]->k, m,
				use[i]->exit_code == 0 ? "exit 0" : "failed");
		nfail += use[i]->failed.nr;
	}
	if (t->failed || nfail)
		ui_info("Summary", "%lld tests run on %d server%s: %lld passed, %lld failed, "
			"%lld skipped", (long long)t->run, m, m == 1 ? "" : "s",
			(long long)t->passed, (long long)t->failed, (long long)t->skipped);
	else
		ui_status("Summary", "%lld tests run on %d server%s: %lld passed, %lld failed, "
			  "%lld skipped", (long long)t->run, m, m == 1 ? "" : "s",
			  (long long)t->passed, (long long)t->failed, (long long)t->skipped);
	for (int i = 0; i < m; i++)
		for (size_t j = 0; j < use[i]->failed.nr; j++)
			ui_info("FAIL", "%s [shard %d/%d]", use[i]->failed.v[j], use[i]->k, m);
}

/* Leave the extra servers to their reapers, due now (or at the keep-alive). */
static void release_servers(struct shard_ctx *sc)
{
	struct run *r = sc->r;
	struct burst_error e = BURST_ERROR_INIT;
	int64_t now = state_now();
	int n = 0;

	for (int i = 1; i < sc->n; i++) {
		struct shard *s = &sc->v[i];

		if (s->ready)
			remote_master_stop(&s->own);
		if (!s->srv.row_id)
			continue;
		if (state_server_touch(r->st, s->srv.row_id, now, 0, false, false, 0, &e) < 0)
			log_warn(MOD, "moving the deadline of '%s': %s", s->srv.name, e.message);
		burst_error_release(&e);
		pipeline_heartbeat_drop(&r->hb, s->lease_id);
		if (s->lease_id && state_lease_release(r->st, s->lease_id, &e) < 0)
			log_warn(MOD, "releasing the lease: %s", e.message);
		burst_error_release(&e);
		s->lease_id = 0;
		if (reaper_arm_server(r->st, s->srv.row_id, &e) < 0)
			log_warn(MOD, "arming the reaper of '%s': %s", s->srv.name, e.message);
		burst_error_release(&e);
		n++;
	}
	if (n)
		ui_verbose("Releasing", "%d extra server%s (deleted by their reapers now)", n,
			   n == 1 ? "" : "s");
}

/* Remove the archive and the extraction from the main server (best effort). */
static void clean_main(struct shard_ctx *sc)
{
	struct strbuf cmd = STRBUF_INIT, out = STRBUF_INIT;
	struct burst_error e = BURST_ERROR_INIT;

	strbuf_addstr(&cmd, "rm -rf ");
	remote_shell_quote(&cmd, sc->archive);
	strbuf_addch(&cmd, ' ');
	remote_shell_quote(&cmd, sc->dir);
	if (remote_capture(&sc->r->host, cmd.buf, 64 * 1024, 120000, &out, &e) < 0)
		log_debug(MOD, "cleaning up: %s", e.message);
	burst_error_release(&e);
	strbuf_release(&cmd);
	strbuf_release(&out);
}

static void remove_local(const char *dir, const char *archive)
{
	const char *leaf = strrchr(archive, '/');
	char *f = xstrfmt("%s/%s", dir, leaf ? leaf + 1 : archive);

	unlink(f);
	rmdir(dir);
	free(f);
}

int pipeline_shard_test(struct run *r, struct burst_error *err)
{
	struct shard_ctx sc;
	struct shard *use[SHARD_MAX];
	struct shard_summary sums[SHARD_MAX], total;
	int m = 0, ret = -1;
	bool provisioning = false;

	memset(&sc, 0, sizeof(sc));
	sc.r = r;
	sc.n = r->req->shards > 0 ? r->req->shards : 1;
	strvec_init(&sc.plan.order);
	strvec_init(&sc.archive_args);
	strvec_init(&sc.run_args);
	pthread_mutex_init(&sc.create_mu, NULL);
	sc.v = xcalloc((size_t)sc.n, sizeof(*sc.v));
	for (int i = 0; i < sc.n; i++) {
		struct shard *s = &sc.v[i];

		s->r = r;
		s->sc = &sc;
		s->k = i + 1;
		s->n = sc.n;
		remote_host_init(&s->own);
		s->host = i == 0 ? &r->host : &s->own;
		s->cp = (struct child_process)CHILD_PROCESS_INIT;
		strvec_init(&s->failed);
		s->exit_code = -1;
		burst_error_init(&s->err);
	}
	sc.archive = layout_nextest_archive(r->project.hash, (long)getpid());
	sc.dir = layout_shard_dir(r->project.hash, (long)getpid());
	sc.local_dir = xstrfmt("%s/shards-%ld", state_dir(r->st), (long)getpid());
	shard_split_args((const char *const *)r->req->cargo_args->v, r->req->cargo_args->nr,
			 &sc.archive_args, &sc.run_args);
	if (r->byo) {
		burst_error_set(err, BURST_EXIT_USAGE, "--shards needs servers from the API: it "
				"does not go with --host");
		goto out;
	}
	if (r->req->cargo_test) {
		burst_error_set(err, BURST_EXIT_USAGE, "--shards needs nextest: it does not go "
				"with --cargo-test");
		goto out;
	}
	{
		static const char *const ours[] = { "--partition", "--archive-file",
						     "--workspace-remap", "--extract-to" };

		for (size_t i = 0; i < ARRAY_SIZE(ours); i++) {
			if (has_option(&sc.run_args, ours[i])) {
				burst_error_set(err, BURST_EXIT_USAGE, "'%s' is set by --shards "
						"itself", ours[i]);
				burst_error_hint(err, "leave it out; put test binary arguments "
						 "after '--'");
				goto out;
			}
		}
	}
	if (!r->req->no_doctests)
		ui_note("doctests are not run with --shards (nextest does not run them)");

	/* the extra servers are created while the main server builds */
	if (sc.n > 1) {
		if (plan_servers(&sc, err) < 0)
			goto out;
		provisioning = true;
		if (start_provisioning(&sc, err) < 0)
			goto out;
	}

	if (run_archive(&sc, err) < 0 || r->interrupted)
		goto out;
	if (r->exit_code != 0) {
		ret = archive_failed(&sc, err);
		goto out;
	}
	join_provisioning(&sc);
	provisioning = false;
	if (proc_interrupted()) {
		r->interrupted = true;
		goto out;
	}
	if (sc.n > 1 && connect_servers(&sc, err) < 0)
		goto out;
	if (sc.n > 1 && (distribute(&sc, err) < 0 || r->interrupted))
		goto out;
	m = usable_shards(&sc, use);
	if (m < sc.n)
		ui_warn("running on %d server%s instead of %d", m, m == 1 ? "" : "s", sc.n);
	if (run_shards(&sc, use, m, err) < 0)
		goto out;
	for (int i = 0; i < m; i++)
		sums[i] = use[i]->sum;
	shard_summary_merge(sums, (size_t)m, &total);
	r->exit_code = 0;
	for (int i = 0; i < m; i++) {
		if (use[i]->exit_code != 0) {
			r->exit_code = use[i]->exit_code;
			break;
		}
	}
	if (r->interrupted) {
		ret = 0;
		goto out;
	}
	print_summary(use, m, &total);
	if (r->req->junit && write_junit(&sc, use, m, &total, err) < 0)
		goto out;
	ret = 0;
out:
	if (provisioning)
		join_provisioning(&sc);
	release_servers(&sc);
	clean_main(&sc);
	remove_local(sc.local_dir, sc.archive);
	for (int i = 0; i < sc.n; i++) {
		struct shard *s = &sc.v[i];

		remote_host_release(&s->own);
		provision_server_release(&s->srv);
		child_process_release(&s->cp);
		strvec_clear(&s->failed);
		burst_error_release(&s->err);
		free(s->server_name);
		free(s->host_priv);
		free(s->host_pub);
	}
	free(sc.v);
	strvec_clear(&sc.plan.order);
	strvec_clear(&sc.archive_args);
	strvec_clear(&sc.run_args);
	pthread_mutex_destroy(&sc.create_mu);
	free(sc.archive);
	free(sc.dir);
	free(sc.local_dir);
	return ret;
}

/*
 * plan.c - the pure planning part of a run: the remote command line, the
 * doctest rule, artifact selection and the missing-env-var hint.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "burst/pipeline.h"
#include "burst/remote.h"
#include "burst/sha256.h"
#include "burst/toml.h"
#include "burst/ui.h"

static int unsafe_control_dir(const char *dir, const char *why, struct burst_error *err)
{
	burst_error_set(err, BURST_EXIT_REMOTE,
			"ssh control directory '%s' is not safe to use: %s", dir, why);
	burst_error_hint(err, "another user could reach your ssh connections through it; "
			 "check who made it, remove it (as root if need be) and run again");
	return -1;
}

/* Create the control directory 0700, or refuse one that is not safely ours. */
int pipeline_control_dir_prepare(const char *dir, bool create, struct burst_error *err)
{
	struct stat st;
	char why[128];

	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT)
			return burst_error_set(err, BURST_EXIT_REMOTE,
					       "cannot use ssh control directory '%s': %s",
					       dir, strerror(errno));
		if (!create)
			return 1;
		/* one planted since the lstat() makes mkdir fail and is checked below */
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return burst_error_set(err, BURST_EXIT_REMOTE,
					       "cannot create ssh control directory '%s': %s",
					       dir, strerror(errno));
		if (lstat(dir, &st) < 0)
			return burst_error_set(err, BURST_EXIT_REMOTE,
					       "cannot use ssh control directory '%s': %s",
					       dir, strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return unsafe_control_dir(dir, "it is a symbolic link", err);
	if (!S_ISDIR(st.st_mode))
		return unsafe_control_dir(dir, "it is not a directory", err);
	if (st.st_uid != geteuid()) {
		snprintf(why, sizeof(why), "it is owned by uid %u, not by uid %u",
			 (unsigned)st.st_uid, (unsigned)geteuid());
		return unsafe_control_dir(dir, why, err);
	}
	if (st.st_mode & 077) {
		snprintf(why, sizeof(why), "it has group or other permissions (mode %03o)",
			 (unsigned)(st.st_mode & 0777));
		return unsafe_control_dir(dir, why, err);
	}
	return 0;
}

/* Append one shell word, quoted by the remote module's rules. */
static void add_word(struct strbuf *sb, const char *word)
{
	if (sb->len && sb->buf[sb->len - 1] != ' ' && sb->buf[sb->len - 1] != '\n')
		strbuf_addch(sb, ' ');
	remote_shell_quote(sb, word);
}

/* The cargo invocation prefix: "cargo [+toolchain]". */
static void add_cargo(struct strbuf *sb, const struct pipeline_cmd *cmd)
{
	add_word(sb, "cargo");
	if (cmd->toolchain && *cmd->toolchain) {
		char *tc = xstrfmt("+%s", cmd->toolchain);
		add_word(sb, tc);
		free(tc);
	}
}

static void add_args(struct strbuf *sb, const struct pipeline_cmd *cmd)
{
	for (size_t i = 0; i < cmd->nargs; i++)
		add_word(sb, cmd->args[i]);
}

/*
 * Plain `cargo test` with --no-doctests: --tests selects every test target
 * but the doctests (only when nothing else selects targets already).
 */
static void add_no_doctests(struct strbuf *sb, const struct pipeline_cmd *cmd)
{
	if (cmd->no_doctests &&
	    pipeline_wants_doctests(cmd->args, cmd->nargs, false, cmd->has_lib))
		add_word(sb, "--tests");
}

/* A 16-bit value from the project hash, to give each project its own port. */
static unsigned hash_bits(const char *hash)
{
	unsigned v = 0;

	for (int i = 0; i < 4 && hash[i]; i++) {
		int c = tolower((unsigned char)hash[i]);
		v = v * 16 + (unsigned)(isdigit(c) ? c - '0' : c - 'a' + 10);
	}
	return v & 0xffff;
}

/*
 * Append " NAME=<dir>" (NAME may be NULL for a bare dir word): an absolute
 * dir quoted, a home-relative one (BYO host) as "$HOME"/<quoted>.
 */
/* A macro's value as a string literal. */
#define BURST_STR_(x) #x
#define BURST_STR(x) BURST_STR_(x)

static void add_dir_word(struct strbuf *sb, const char *name, const char *dir)
{
	if (sb->len && sb->buf[sb->len - 1] != ' ' && sb->buf[sb->len - 1] != '\n')
		strbuf_addch(sb, ' ');
	if (name)
		strbuf_addf(sb, "%s=", name);
	if (dir[0] != '/')
		strbuf_addstr(sb, "\"$HOME\"/");
	remote_shell_quote(sb, dir);
}

char *pipeline_remote_command(const struct pipeline_cmd *cmd)
{
	struct strbuf sb = STRBUF_INIT;
	char *src = layout_src_dir(cmd->project_hash, cmd->byo), *v;
	bool is_test = !strcmp(cmd->verb, "test");
	bool is_bench = !strcmp(cmd->verb, "bench");

	strbuf_addstr(&sb, "export PATH=\"$HOME/.cargo/bin:$HOME/.local/bin:/usr/local/cargo/bin:$PATH\"; ");
	strbuf_addstr(&sb, "export");
	v = layout_target_dir(cmd->project_hash, cmd->byo);
	add_dir_word(&sb, "CARGO_TARGET_DIR", v);
	free(v);
	strbuf_addstr(&sb, "; export");
	v = layout_sccache_dir(cmd->project_hash, cmd->byo);
	add_dir_word(&sb, "SCCACHE_DIR", v);
	free(v);
	/* One sccache server per project: SCCACHE_DIR is read at its start. */
	strbuf_addf(&sb, "; export SCCACHE_SERVER_PORT=%u",
		    20000 + hash_bits(cmd->project_hash) % 20000);
	strbuf_addf(&sb, "; export CARGO_TERM_COLOR=%s",
		    cmd->color ? "always" : "never");
	for (size_t i = 0; cmd->env && i < cmd->env->nr; i++) {
		strbuf_addstr(&sb, "; export");
		add_word(&sb, cmd->env->v[i]);
	}
	if (cmd->shell && cmd->toolchain && *cmd->toolchain) {
		strbuf_addstr(&sb, "; export");
		v = xstrfmt("RUSTUP_TOOLCHAIN=%s", cmd->toolchain);
		add_word(&sb, v);
		free(v);
	}
	strbuf_addstr(&sb, "; cd");
	add_dir_word(&sb, NULL, src);
	strbuf_addstr(&sb, " || exit 76; ");
	/* the remote paths, for mapping cargo's JSON messages back */
	if (cmd->paths_line)
		strbuf_addstr(&sb, "printf '" PIPELINE_PATHS_MARKER "\\t%s\\t%s\\t%s\\n' "
			      "\"$(pwd -P)\" \"$CARGO_TARGET_DIR\" "
			      "\"${CARGO_HOME:-$HOME/.cargo}\"; ");
	/* the counterpart of the local current directory */
	if (cmd->cwd_rel && *cmd->cwd_rel) {
		strbuf_addstr(&sb, "cd");
		add_word(&sb, cmd->cwd_rel);
		strbuf_addstr(&sb, " || exit 76; ");
	}
	/*
	 * sccache forks a server that would keep the ssh session open through
	 * inherited descriptors: close its stdio and give it its own session
	 * so a Ctrl-C aimed at the run's process group leaves it alone.
	 */
	strbuf_addstr(&sb,
		      "if command -v sccache >/dev/null 2>&1; then "
		      "export RUSTC_WRAPPER=sccache; "
		      "setsid sccache --start-server </dev/null >/dev/null 2>&1 || "
		      "unset RUSTC_WRAPPER; fi; ");
	/* a pinned toolchain that is not on the server yet (rustup >= 1.28
	   no longer installs it on first use by itself) */
	if (cmd->install_toolchain) {
		strbuf_addstr(&sb, "rustup toolchain install");
		if (cmd->toolchain && *cmd->toolchain)
			add_word(&sb, cmd->toolchain);
		strbuf_addstr(&sb, " >&2 || exit $?; ");
	}
	if (cmd->shell) {
		if (!cmd->nshell)
			strbuf_addstr(&sb, "exec \"${SHELL:-/bin/sh}\" -i");
		else if (cmd->nshell == 1)
			strbuf_addstr(&sb, cmd->shell[0]); /* a command line, as ssh runs it */
		else
			for (size_t i = 0; i < cmd->nshell; i++)
				add_word(&sb, cmd->shell[i]);
		goto out;
	}
	/*
	 * The toolchain for the summary, in the same round trip and in the
	 * background, so the rustup proxy's start-up is not added to the run
	 * (its stderr keeps the session open until it has printed).
	 */
	strbuf_addstr(&sb, "{ v=$(rustc");
	if (cmd->toolchain && *cmd->toolchain) {
		v = xstrfmt("+%s", cmd->toolchain);
		add_word(&sb, v);
		free(v);
	}
	strbuf_addstr(&sb, " -V 2>/dev/null) && echo \"" PIPELINE_RUSTC_MARKER "$v\" >&2; } & "
		      "burst_rv=$!; ");
	/*
	 * sccache's counters before the run, in the background too (cargo does
	 * not wait for them), into a file of this shell; bounded in time and
	 * size.
	 */
	strbuf_addstr(&sb, "burst_sv=; ");
	if (cmd->cache_stats)
		strbuf_addstr(&sb,
			      "if [ \"${RUSTC_WRAPPER:-}\" = sccache ]; then "
			      "burst_sb=\"${TMPDIR:-/tmp}/cargo-burst-sccache.$$\"; "
			      "{ timeout 5 sccache --show-stats --stats-format=json 2>/dev/null | "
			      "head -c " BURST_STR(PIPELINE_SCCACHE_JSON_MAX) " >\"$burst_sb\"; } "
			      "</dev/null >/dev/null 2>&1 & burst_sv=$!; fi; ");
	if (is_test || is_bench)
		strbuf_addstr(&sb,
			      "if [ -x /usr/local/bin/cargo-burst-wait-db ]; then "
			      "timeout 35 /usr/local/bin/cargo-burst-wait-db 30 >&2 || "
			      "echo 'warning: database services not ready after 30s' >&2; fi; ");

	if (is_test && !cmd->cargo_test) {
		bool doc = pipeline_wants_doctests(cmd->args, cmd->nargs,
						   cmd->no_doctests, cmd->has_lib);

		strbuf_addstr(&sb, "if");
		add_cargo(&sb, cmd);
		strbuf_addstr(&sb, " nextest --version >/dev/null 2>&1; then");
		add_cargo(&sb, cmd);
		strbuf_addstr(&sb, " nextest run");
		add_args(&sb, cmd);
		if (doc) {
			strbuf_addstr(&sb, " || exit $?;");
			add_cargo(&sb, cmd);
			strbuf_addstr(&sb, " test --doc");
			add_args(&sb, cmd);
		}
		strbuf_addstr(&sb, "; else echo 'note: cargo-nextest is not installed "
				   "on the server; running cargo test instead' >&2;");
		add_cargo(&sb, cmd);
		strbuf_addstr(&sb, " test");
		add_no_doctests(&sb, cmd);
		add_args(&sb, cmd);
		strbuf_addstr(&sb, "; fi");
	} else {
		add_cargo(&sb, cmd);
		add_word(&sb, cmd->verb);
		if (is_test)
			add_no_doctests(&sb, cmd);
		add_args(&sb, cmd);
	}
	/*
	 * The rustc -V above may end after a quick cargo (rustup's start-up
	 * under load): wait for it, so its line is read before the session
	 * ends, and keep cargo's status.
	 */
	strbuf_addstr(&sb, "; burst_rc=$?; wait $burst_rv 2>/dev/null; ");
	/* ...and after it (at most 5 s), both on stderr for the summary */
	if (cmd->cache_stats)
		strbuf_addstr(&sb,
			      "if [ -n \"$burst_sv\" ]; then wait $burst_sv 2>/dev/null; "
			      "printf '%s%s\\n' '" PIPELINE_SCCACHE_BEFORE_MARKER "' "
			      "\"$(tr -d '\\n\\r' <\"$burst_sb\" 2>/dev/null)\" >&2; "
			      "printf '%s%s\\n' '" PIPELINE_SCCACHE_AFTER_MARKER "' "
			      "\"$(timeout 5 sccache --show-stats --stats-format=json "
			      "</dev/null 2>/dev/null | head -c " BURST_STR(PIPELINE_SCCACHE_JSON_MAX)
			      " | tr -d '\\n\\r')\" >&2; rm -f \"$burst_sb\"; fi; ");
	/* the volume's use, for `status` (a BYO host has no volume) */
	if (cmd->cache_stats && !cmd->byo) {
		char *cache = layout_cache_dir(cmd->project_hash, false);

		strbuf_addstr(&sb, "printf '%s%s\\n' '" PIPELINE_DF_MARKER "' \"$(timeout 3 df -Pk");
		add_dir_word(&sb, NULL, cache);
		free(cache);
		strbuf_addstr(&sb, " 2>/dev/null | tail -n 1)\" >&2; ");
	}
	strbuf_addstr(&sb, "exit $burst_rc");
out:
	free(src);
	return strbuf_detach(&sb, NULL);
}

/* Append "`cargo [+tc] WORDS [--tests] ARGS`" for pipeline_display_command(). */
static void display_one(struct strbuf *out, const struct pipeline_cmd *cmd,
			const char *words, bool no_doctests)
{
	struct strbuf sb = STRBUF_INIT;

	add_cargo(&sb, cmd);
	strbuf_addf(&sb, " %s", words);
	if (no_doctests)
		add_no_doctests(&sb, cmd);
	add_args(&sb, cmd);
	strbuf_addf(out, "`%s`", sb.buf);
	strbuf_release(&sb);
}

/* The cargo command line(s) -v shows. */
char *pipeline_display_command(const struct pipeline_cmd *cmd)
{
	struct strbuf sb = STRBUF_INIT;
	bool is_test = !strcmp(cmd->verb, "test");

	if (is_test && !cmd->cargo_test) {
		display_one(&sb, cmd, "nextest run", false);
		if (pipeline_wants_doctests(cmd->args, cmd->nargs,
					    cmd->no_doctests, cmd->has_lib)) {
			strbuf_addstr(&sb, " and ");
			display_one(&sb, cmd, "test --doc", false);
		}
		strbuf_addstr(&sb, " (without nextest: ");
		display_one(&sb, cmd, "test", true);
		strbuf_addch(&sb, ')');
		return strbuf_detach(&sb, NULL);
	}
	display_one(&sb, cmd, cmd->verb, is_test); /* a verb of the table */
	return strbuf_detach(&sb, NULL);
}

/* Is arg the flag name (alone or in "name=value" form)? */
static bool is_flag(const char *arg, const char *name)
{
	const char *rest;

	return skip_prefix(arg, name, &rest) && (!*rest || *rest == '=');
}

bool pipeline_wants_doctests(const char *const *args, size_t nargs,
			     bool no_doctests, bool has_lib)
{
	static const char *const selectors[] = {
		"--test", "--tests", "--bin", "--bins", "--example",
		"--examples", "--bench", "--benches", "--lib", "--doc",
	};

	if (no_doctests || !has_lib)
		return false;
	for (size_t i = 0; i < nargs; i++) {
		if (!strcmp(args[i], "--"))
			break;
		for (size_t j = 0; j < ARRAY_SIZE(selectors); j++)
			if (is_flag(args[i], selectors[j]))
				return false;
	}
	return true;
}

/*
 * The value of an option given as "--name value" or "--name=value" before
 * "--"; the last one wins, as with cargo.  NULL when absent.
 */
static const char *option_value(const char *const *args, size_t nargs,
				const char *name)
{
	const char *found = NULL, *rest;

	for (size_t i = 0; i < nargs; i++) {
		if (!strcmp(args[i], "--"))
			break;
		if (!skip_prefix(args[i], name, &rest))
			continue;
		if (*rest == '=')
			found = rest + 1;
		else if (!*rest && i + 1 < nargs)
			found = args[++i];
	}
	return found;
}

const char *pipeline_profile_dir(const char *verb, const char *const *args,
				 size_t nargs)
{
	const char *profile = option_value(args, nargs, "--profile");
	bool release = !strcmp(verb, "bench");

	for (size_t i = 0; i < nargs; i++) {
		if (!strcmp(args[i], "--"))
			break;
		if (!strcmp(args[i], "--release") || !strcmp(args[i], "-r"))
			release = true;
	}
	if (profile) {
		if (!strcmp(profile, "dev") || !strcmp(profile, "test"))
			return "debug";
		if (!strcmp(profile, "bench"))
			return "release";
		return profile;
	}
	return release ? "release" : "debug";
}

/* "x86_64-unknown-linux-gnu" from "specs/x86_64-unknown-linux-gnu.json". */
static char *triple_of(const char *target)
{
	const char *base = strrchr(target, '/');
	size_t len;

	base = base ? base + 1 : target;
	len = strlen(base);
	if (has_suffix(base, ".json"))
		len -= 5;
	return len ? xstrndup(base, len) : NULL;
}

/* [build] target of <root>/.cargo/config.toml (or config), or NULL. */
static char *config_target(const char *root)
{
	static const char *const names[] = { "config.toml", "config" };
	char *ret = NULL;

	for (size_t i = 0; !ret && i < ARRAY_SIZE(names); i++) {
		struct strbuf sb = STRBUF_INIT;
		char *path = xstrfmt("%s/.cargo/%s", root, names[i]);
		struct toml_value *doc = NULL;
		const struct toml_value *t;

		strbuf_set_max(&sb, 1 << 20);
		if (strbuf_read_file(&sb, path) < 0)
			goto next;
		doc = toml_parse(sb.buf, sb.len, NULL);
		t = toml_table_get(toml_table_get(doc, "build"), "target");
		if (t && toml_value_type(t) == TOML_STRING)
			ret = triple_of(toml_string(t, NULL));
		else if (t && toml_value_type(t) == TOML_ARRAY &&
			 toml_array_count(t) &&
			 toml_value_type(toml_array_at(t, 0)) == TOML_STRING)
			ret = triple_of(toml_string(toml_array_at(t, 0), NULL));
	next:
		toml_free(doc);
		free(path);
		strbuf_release(&sb);
	}
	return ret;
}

char *pipeline_target_triple(const char *const *args, size_t nargs,
			     const char *env_target, const char *workspace_root)
{
	const char *t = option_value(args, nargs, "--target");

	if (t && *t)
		return triple_of(t);
	if (env_target && *env_target)
		return triple_of(env_target);
	if (workspace_root)
		return config_target(workspace_root);
	return NULL;
}

char *pipeline_artifact_dir(const char *triple, const char *profile)
{
	if (triple && *triple)
		return xstrfmt("%s/%s", triple, profile);
	return xstrdup(profile);
}

bool pipeline_artifact_wanted(const char *name)
{
	if (!*name || *name == '.')
		return false;
	if (has_suffix(name, ".d"))
		return false;
	return true;
}

bool pipeline_job_fetches(const struct pipeline_job *job)
{
	return job->fetch_verb && !(job->req && job->req->no_fetch);
}

/* ---- the missing-env-var hint ---- */

static bool env_name_char(int c, bool first)
{
	if (first)
		return (c >= 'A' && c <= 'Z') || c == '_';
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Length of the variable name starting at p (upper case), 0 if none. */
static size_t name_len(const char *p, const char *end)
{
	size_t n = 0;

	while (p + n < end && env_name_char((unsigned char)p[n], n == 0))
		n++;
	return n;
}

static void add_name(struct strvec *names, const char *p, size_t n)
{
	char *name;

	if (n < 2 || n > 128)
		return;
	name = xstrndup(p, n);
	if (strvec_find(names, name) < 0)
		strvec_push(names, name);
	free(name);
}

/* Does the name end right before pos (at a word boundary)?  Returns start. */
static const char *name_before(const char *start, const char *pos)
{
	const char *p = pos;

	while (p > start && env_name_char((unsigned char)p[-1], false))
		p--;
	if (p > start && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
		return NULL; /* part of a lower-case word */
	if (p == pos || !env_name_char((unsigned char)*p, true))
		return NULL;
	return p;
}

void pipeline_scan_missing_env(const char *output, size_t len,
			       struct strvec *names)
{
	/* Patterns with the name after them, in backticks or plain. */
	static const char *const before[] = {
		"environment variable `", "env var `", "environment variable '",
		"environment variable \"", "set `", "missing environment variable ",
	};
	/* Patterns with the name right before them. */
	static const char *const after[] = {
		" must be set", "` must be set", " is not set", "` is not set",
		" not set", " is not defined", " environment variable not set",
	};
	const char *end = output + len;

	for (size_t i = 0; i < ARRAY_SIZE(before); i++) {
		size_t plen = strlen(before[i]);
		const char *p = output;

		while (p < end && (p = memmem(p, (size_t)(end - p), before[i], plen))) {
			const char *q = p + plen;
			size_t n = name_len(q, end);

			/* "set `X` to ..." only counts when followed by a closing tick. */
			if (n && (before[i][plen - 1] != '`' ||
				  (q + n < end && q[n] == '`')))
				add_name(names, q, n);
			p = q;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(after); i++) {
		size_t plen = strlen(after[i]);
		const char *p = output;

		while (p < end && (p = memmem(p, (size_t)(end - p), after[i], plen))) {
			const char *stop = p, *s;

			if (after[i][0] == '`') {
				s = name_before(output, stop);
				if (s && s > output && s[-1] == '`')
					add_name(names, s, (size_t)(stop - s));
			} else {
				if (stop > output && stop[-1] == '`')
					stop--;
				s = name_before(output, stop);
				if (s)
					add_name(names, s, (size_t)(stop - s));
			}
			p += plen;
		}
	}
}

const char *pipeline_local_service_url(const char *name)
{
	if (!strcmp(name, "DATABASE_URL"))
		return "postgres://postgres@127.0.0.1:5432/postgres";
	if (!strcmp(name, "REDIS_URL"))
		return "redis://127.0.0.1:6379";
	if (!strcmp(name, "MYSQL_URL"))
		return "mysql://root:root@127.0.0.1:3306";
	return NULL;
}

char *pipeline_env_hint(const char *name)
{
	const char *url = pipeline_local_service_url(name);

	if (url)
		return xstrfmt("the build needs `%s`: the server runs it locally, pass "
			       "`--env %s=%s`, or add `forward_env = [\"%s\"]` to "
			       ".config/cargo-burst.toml and set it in your shell",
			       name, name, url, name);
	return xstrfmt("the build needs `%s`: pass `--env %s` to forward your "
		       "value (or `--env %s=VALUE`), or add `forward_env = "
		       "[\"%s\"]` to .config/cargo-burst.toml",
		       name, name, name, name);
}

/* ---- the summary line ---- */

static void add_clock(struct strbuf *out, int64_t when)
{
	time_t t = (time_t)when;
	struct tm tm;
	char buf[32];

	/* local time, with the zone's abbreviation ("15:58 CET") */
	if (!localtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%H:%M %Z", &tm))
		return;
	strbuf_addstr(out, buf);
}

void pipeline_interrupt_fate(struct strbuf *out, const char *server_name, bool ready,
			     bool watched, bool no_reap, int64_t deadline)
{
	if (!server_name) {
		strbuf_addstr(out, "no server was created");
		return;
	}
	if (!watched) {
		strbuf_addf(out, "server '%s' may still be running and no reaper watches it: "
			    "delete it with `cargo burst down`", server_name);
		return;
	}
	strbuf_addf(out, "server '%s'%s ", server_name, ready ? "" : " (still being created)");
	if (no_reap) {
		strbuf_addstr(out, "stays up (--no-reap): delete it with `cargo burst down`");
	} else if (deadline > 0) {
		strbuf_addstr(out, "is kept for the next run until ");
		add_clock(out, deadline);
		strbuf_addstr(out, ", then its reaper deletes it");
	} else {
		strbuf_addstr(out, "stays up until its reaper deletes it (or run "
			      "`cargo burst down`)");
	}
}

/* The length of the phrase at p: up to and with the next "; " or ", ". */
static size_t phrase_len(const char *p)
{
	const char *q = p;

	while (*q && !((q[0] == ';' || q[0] == ',') && q[1] == ' '))
		q++;
	return (size_t)(q - p) + (*q ? 1 : 0);
}

/* The length of the word at p: up to the next space. */
static size_t word_len(const char *p, size_t max)
{
	size_t n = 0;

	while (n < max && p[n] != ' ')
		n++;
	return n;
}

void pipeline_summary_wrap(struct strbuf *out, const char *line, size_t width,
			   size_t indent)
{
	size_t col = indent;
	bool first = true;

	while (*line) {
		size_t n = phrase_len(line);

		/* a phrase too long for any line goes word by word */
		if (width && indent + n > width)
			n = word_len(line, n);
		if (!first && width && col + 1 + n > width) {
			strbuf_addch(out, '\n');
			for (size_t i = 0; i < indent; i++)
				strbuf_addch(out, ' ');
			col = indent;
		} else if (!first) {
			strbuf_addch(out, ' ');
			col++;
		}
		strbuf_add(out, line, n);
		col += n;
		line += n;
		if (*line == ' ')
			line++;
		first = false;
	}
}

void pipeline_summary_format(struct strbuf *out, const struct pipeline_summary *s)
{
	char a[32], b[32], c[32], d[32], t[32];

	strbuf_addf(out, "%s %s in %s (provision %s %s, sync %s, cargo %s",
		    s->verb,
		    s->interrupted ? "interrupted" :
		    s->success ? "ok" : "failed",
		    ui_duration(t, sizeof(t), s->total_ms),
		    ui_duration(a, sizeof(a), s->provision_ms),
		    s->cold ? "cold" : "warm",
		    ui_duration(b, sizeof(b), s->sync_ms),
		    ui_duration(c, sizeof(c), s->cargo_ms));
	if (s->fetch_ms)
		strbuf_addf(out, ", fetch %s", ui_duration(d, sizeof(d), s->fetch_ms));
	strbuf_addch(out, ')');
	if (!s->success && !s->interrupted && s->exit_code)
		strbuf_addf(out, ", exit code %d", s->exit_code);
	if (s->host)
		strbuf_addf(out, "; on %s", s->host);
	if (s->rustc)
		strbuf_addf(out, "; %s", s->rustc);
	if (s->cache)
		strbuf_addf(out, "; %s", s->cache);
	if (s->server_name) {
		strbuf_addf(out, "; server '%s' ", s->server_name);
		if (s->no_reap)
			strbuf_addstr(out, "stays up (--no-reap: run `cargo burst down`)");
		else if (s->server_deadline > 0) {
			strbuf_addstr(out, "stays up until ");
			add_clock(out, s->server_deadline);
		} else
			strbuf_addstr(out, "stays up");
	}
	if (s->volume_name && s->volume_deadline > 0) {
		strbuf_addf(out, ", volume until ");
		add_clock(out, s->volume_deadline);
	}
}

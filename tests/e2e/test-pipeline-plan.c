/* test-pipeline-plan.c - the pure planning part of a run (pipeline.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/pipeline.h"
#include "burst/strbuf.h"
#include "tap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[] = "/tmp/burst-plan-XXXXXX";

static void write_file(const char *rel, const char *text)
{
	char *path = xstrfmt("%s/%s", tmpdir, rel);
	FILE *f = fopen(path, "w");

	if (!f)
		bail_out("cannot write test file");
	fputs(text, f);
	fclose(f);
	free(path);
}

static void write_big(const char *rel, off_t size)
{
	char *path = xstrfmt("%s/%s", tmpdir, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	/* sparse is fine: st_size is what counts */
	if (fd < 0 || ftruncate(fd, size) < 0)
		bail_out("cannot create big file");
	close(fd);
	free(path);
}

static void mkdir_rel(const char *rel)
{
	char *path = xstrfmt("%s/%s", tmpdir, rel);

	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		bail_out("mkdir");
	free(path);
}

static void cleanup(void)
{
	char *cmd = xstrfmt("rm -rf '%s'", tmpdir);

	if (system(cmd) != 0)
		diag("cleanup of %s failed", tmpdir);
	free(cmd);
}

/* diag() of a text of several lines: each line a "# " line of its own (a
 * line after an embedded newline would be output that is not TAP). */
static __attribute__((format(printf, 1, 2))) void diag_lines(const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p, *nl;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	for (p = sb.buf; (nl = strchr(p, '\n')); p = nl + 1)
		diag("%.*s", (int)(nl - p), p);
	diag("%s", p);
	strbuf_release(&sb);
}

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

/* Run the command with sh -n (syntax check only). */
static bool shell_syntax_ok(const char *cmd)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		execl("/bin/sh", "sh", "-n", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_doctests(void)
{
	const char *none[] = { "--release" };
	const char *test[] = { "--test", "foo" };
	const char *test_eq[] = { "--test=foo" };
	const char *bins[] = { "--bins" };
	const char *lib[] = { "--lib" };
	const char *after[] = { "--", "--test" };
	const char *examples[] = { "-p", "x", "--examples" };
	const char *similar[] = { "--tests-are-fun" };

	ok(pipeline_wants_doctests(none, N(none), false, true), "doctests by default");
	ok(!pipeline_wants_doctests(none, N(none), true, true), "--no-doctests");
	ok(!pipeline_wants_doctests(none, N(none), false, false), "no library target");
	ok(!pipeline_wants_doctests(test, N(test), false, true), "--test X");
	ok(!pipeline_wants_doctests(test_eq, N(test_eq), false, true), "--test=X");
	ok(!pipeline_wants_doctests(bins, N(bins), false, true), "--bins");
	ok(!pipeline_wants_doctests(lib, N(lib), false, true), "--lib");
	ok(!pipeline_wants_doctests(examples, N(examples), false, true), "--examples");
	ok(pipeline_wants_doctests(after, N(after), false, true),
	   "--test after -- is the test binary's argument");
	ok(pipeline_wants_doctests(similar, N(similar), false, true),
	   "a longer flag is not --tests");
	ok(pipeline_wants_doctests(NULL, 0, false, true), "no arguments");
}

static void test_profile_and_target(void)
{
	const char *rel[] = { "--release" };
	const char *r[] = { "-r" };
	const char *prof[] = { "--profile", "dist" };
	const char *prof_eq[] = { "--profile=release-lto" };
	const char *prof_dev[] = { "--profile=dev" };
	const char *after[] = { "--", "--release" };
	const char *tgt[] = { "--target", "aarch64-unknown-linux-gnu", "--release" };
	const char *tgt_eq[] = { "--target=specs/my-target.json" };
	char *t;

	t = layout_control_dir("/home/me/.local/state/cargo-burst");
	is_str(t, "/home/me/.local/state/cargo-burst/cm", "control dir under the state dir");
	free(t);
	{
		char longdir[200];

		memset(longdir, 'x', sizeof(longdir) - 1);
		longdir[0] = '/';
		longdir[sizeof(longdir) - 1] = '\0';
		t = layout_control_dir(longdir);
		ok(t && strlen(t) < 60 && !strncmp(t, "/tmp/cargo-burst-", 17),
		   "a short control dir for a long state dir: %s", t ? t : "(null)");
		free(t);
	}
	is_str(pipeline_profile_dir("build", NULL, 0), "debug", "default debug");
	is_str(pipeline_profile_dir("build", rel, 1), "release", "--release");
	is_str(pipeline_profile_dir("build", r, 1), "release", "-r");
	is_str(pipeline_profile_dir("build", prof, 2), "dist", "--profile NAME");
	is_str(pipeline_profile_dir("build", prof_eq, 1), "release-lto", "--profile=NAME");
	is_str(pipeline_profile_dir("build", prof_dev, 1), "debug", "dev profile is debug/");
	is_str(pipeline_profile_dir("bench", NULL, 0), "release", "bench is release");
	is_str(pipeline_profile_dir("build", after, 2), "debug", "after -- does not count");

	t = pipeline_target_triple(tgt, N(tgt), "x86_64-unknown-linux-musl", tmpdir);
	is_str(t, "aarch64-unknown-linux-gnu", "--target wins over the environment");
	free(t);
	t = pipeline_target_triple(tgt_eq, N(tgt_eq), NULL, NULL);
	is_str(t, "my-target", "a .json target spec gives its stem");
	free(t);
	t = pipeline_target_triple(NULL, 0, "x86_64-unknown-linux-musl", tmpdir);
	is_str(t, "x86_64-unknown-linux-musl", "CARGO_BUILD_TARGET");
	free(t);
	t = pipeline_target_triple(NULL, 0, NULL, tmpdir);
	is_str(t, NULL, "no target: host");
	free(t);
	mkdir_rel(".cargo");
	write_file(".cargo/config.toml",
		   "[alias]\nb = \"build\"\n\n[build]\ntarget = \"wasm32-unknown-unknown\"\n");
	t = pipeline_target_triple(NULL, 0, NULL, tmpdir);
	is_str(t, "wasm32-unknown-unknown", "[build] target of .cargo/config.toml");
	free(t);
	write_file(".cargo/config.toml", "[build]\ntarget = [\"riscv64gc-unknown-linux-gnu\"]\n");
	t = pipeline_target_triple(NULL, 0, NULL, tmpdir);
	is_str(t, "riscv64gc-unknown-linux-gnu", "[build] target as a list");
	free(t);
	write_file(".cargo/config.toml", "[build\ntarget = 3\n");
	t = pipeline_target_triple(NULL, 0, NULL, tmpdir);
	is_str(t, NULL, "a broken config.toml is ignored");
	free(t);

	t = pipeline_artifact_dir("aarch64-unknown-linux-gnu", "release");
	is_str(t, "aarch64-unknown-linux-gnu/release", "artifact dir with triple");
	free(t);
	t = pipeline_artifact_dir(NULL, "debug");
	is_str(t, "debug", "artifact dir without triple");
	free(t);

	ok(pipeline_artifact_wanted("hello"), "executable wanted");
	ok(pipeline_artifact_wanted("libfoo.rlib"), "rlib wanted");
	ok(pipeline_artifact_wanted("libfoo.so"), "cdylib wanted");
	ok(!pipeline_artifact_wanted(".cargo-lock"), ".cargo-lock not wanted");
	ok(!pipeline_artifact_wanted("hello.d"), "dep-info not wanted");
}

static void test_remote_command(void)
{
	struct strvec env = STRVEC_INIT;
	const char *args[] = { "--release", "it's", "", "$(touch /tmp/pwned)", "--", "-x y" };
	const char *targs[] = { "--test", "api" };
	struct pipeline_cmd c = { 0 };
	char *s;

	strvec_push(&env, "FOO=bar baz");
	strvec_push(&env, "DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres");
	c.verb = "build";
	c.args = args;
	c.nargs = N(args);
	c.env = &env;
	c.project_hash = "0123456789ab";
	s = pipeline_remote_command(&c);
	diag_lines("build: %s", s);
	ok(contains(s, "CARGO_TARGET_DIR=/mnt/cache/0123456789ab/target"), "target dir on volume");
	ok(contains(s, "SCCACHE_DIR=/mnt/cache/0123456789ab/sccache"), "sccache dir on volume");
	ok(contains(s, "$HOME/.cargo/bin"), "PATH has ~/.cargo/bin");
	ok(contains(s, "/mnt/cache/0123456789ab/src"), "runs in the project's source dir on the volume");
	ok(contains(s, "'FOO=bar baz'"), "forwarded env quoted");
	ok(contains(s, "sccache --start-server </dev/null >/dev/null 2>&1"),
	   "sccache started with its stdio closed");
	ok(contains(s, "command -v sccache"), "sccache only when installed");
	ok(contains(s, "cargo build --release"), "the verb");
	ok(!contains(s, "cargo-burst-wait-db"), "build does not wait for databases");
	ok(contains(s, "'$(touch /tmp/pwned)'"), "substitution quoted");
	ok(contains(s, " '' "), "empty argument survives");
	ok(contains(s, "CARGO_TERM_COLOR=never"), "colour off without a terminal");
	ok(shell_syntax_ok(s), "valid shell syntax");
	free(s);

	c.toolchain = "nightly";
	c.color = true;
	c.verb = "clippy";
	s = pipeline_remote_command(&c);
	ok(contains(s, "cargo +nightly clippy"), "+toolchain");
	ok(contains(s, "CARGO_TERM_COLOR=always"), "colour follows the terminal");
	free(s);
	c.toolchain = NULL;

	c.verb = "test";
	c.args = NULL;
	c.nargs = 0;
	c.has_lib = true;
	s = pipeline_remote_command(&c);
	diag_lines("test: %s", s);
	ok(contains(s, "cargo nextest run"), "test uses nextest");
	ok(contains(s, "cargo test --doc"), "then doctests");
	ok(contains(s, "nextest is not installed"), "falls back when nextest is missing");
	ok(contains(s, "/usr/local/bin/cargo-burst-wait-db"), "test waits for databases");
	ok(shell_syntax_ok(s), "test command: valid shell syntax");
	free(s);

	c.args = targs;
	c.nargs = N(targs);
	s = pipeline_remote_command(&c);
	ok(contains(s, "cargo nextest run --test api") && !contains(s, "--doc"),
	   "--test selects: no doctests");
	free(s);

	c.args = NULL;
	c.nargs = 0;
	c.has_lib = false;
	s = pipeline_remote_command(&c);
	ok(!contains(s, "--doc"), "no library: no doctests");
	free(s);

	c.cargo_test = true;
	c.has_lib = true;
	s = pipeline_remote_command(&c);
	ok(contains(s, "cargo test") && !contains(s, "nextest"), "--cargo-test: plain cargo test");
	ok(!contains(s, "--tests"), "--cargo-test: all targets, doctests included");
	free(s);

	/* --no-doctests is honoured by plain cargo test too (issue 14) */
	c.no_doctests = true;
	s = pipeline_remote_command(&c);
	ok(contains(s, "cargo test --tests"), "--cargo-test --no-doctests: cargo test --tests");
	free(s);
	c.cargo_test = false;
	s = pipeline_remote_command(&c);
	ok(contains(s, "running cargo test instead' >&2; cargo test --tests") &&
	   !contains(s, "--doc"), "--no-doctests: the fallback without nextest runs no doctests");
	ok(shell_syntax_ok(s), "--no-doctests command: valid shell syntax");
	free(s);
	c.args = targs;
	c.nargs = N(targs);
	s = pipeline_remote_command(&c);
	ok(contains(s, "cargo test --test api") && !contains(s, "--tests"),
	   "--no-doctests with a target selection: nothing added");
	free(s);
	c.args = NULL;
	c.nargs = 0;
	c.no_doctests = false;
	c.cargo_test = true;

	/* what -v shows: the exact cargo command lines */
	{
		static const char *const dargs[] = { "--release", "--", "--nocapture", "a b" };

		c.args = dargs;
		c.nargs = N(dargs);
		c.toolchain = "nightly";
		s = pipeline_display_command(&c);
		is_str(s, "`cargo +nightly test --release -- --nocapture 'a b'`",
		       "-v: cargo test's line, quoted");
		free(s);
		c.cargo_test = false;
		s = pipeline_display_command(&c);
		is_str(s, "`cargo +nightly nextest run --release -- --nocapture 'a b'` and "
		       "`cargo +nightly test --doc --release -- --nocapture 'a b'` "
		       "(without nextest: `cargo +nightly test --release -- --nocapture 'a b'`)",
		       "-v: nextest, doctests and the fallback");
		free(s);
		c.verb = "build";
		c.toolchain = NULL;
		c.nargs = 1;
		s = pipeline_display_command(&c);
		is_str(s, "`cargo build --release`", "-v: cargo build's line");
		free(s);
		c.verb = "test";
		c.args = NULL;
		c.nargs = 0;
		c.cargo_test = true;
	}

	c.cargo_test = false;
	c.verb = "bench";
	s = pipeline_remote_command(&c);
	ok(contains(s, "cargo bench") && contains(s, "cargo-burst-wait-db"),
	   "bench runs cargo bench after the database wait");
	free(s);
	strvec_clear(&env);
}

/* Run the remote command for real with a fake cargo and check argv. */
static void test_remote_roundtrip(void)
{
	struct strvec env = STRVEC_INIT;
	struct pipeline_cmd c = { 0 };
	char *home = xstrfmt("%s/home", tmpdir);
	char *bin = xstrfmt("%s/home/.cargo/bin", tmpdir);
	char *src = xstrfmt("%s/home/src", tmpdir);
	char *outp = xstrfmt("%s/argv.out", tmpdir);
	char args_store[40][24];
	const char *args[40];
	size_t nargs = 0;
	unsigned seed = 12345;
	char *cmd, *script;
	int rounds_ok = 0, rounds = 25;

	mkdir_rel("home");
	mkdir_rel("home/.cargo");
	mkdir_rel("home/.cargo/bin");
	mkdir_rel("home/src");
	script = xstrfmt("#!/bin/sh\nfor a in \"$@\"; do printf '%%s\\0' \"$a\"; done > '%s'\n"
			 "printf 'FOO=%%s\\0' \"$FOO\" >> '%s'\n", outp, outp);
	{
		char *p = xstrfmt("home/.cargo/bin/cargo");
		write_file(p, script);
		free(p);
	}
	{
		char *p = xstrfmt("%s/cargo", bin);
		chmod(p, 0755);
		free(p);
	}
	free(script);

	for (int round = 0; round < rounds; round++) {
		struct strbuf got = STRBUF_INIT, want = STRBUF_INIT;
		struct strbuf full = STRBUF_INIT;
		char val[32];
		int status;
		pid_t pid;

		nargs = 1 + (size_t)(rand_r(&seed) % 30);
		for (size_t i = 0; i < nargs; i++) {
			size_t len = (size_t)(rand_r(&seed) % 20);
			for (size_t j = 0; j < len; j++) {
				int ch;
				do
					ch = rand_r(&seed) % 256;
				while (ch == 0);
				args_store[i][j] = (char)ch;
			}
			args_store[i][len] = '\0';
			args[i] = args_store[i];
		}
		for (size_t j = 0; j < sizeof(val) - 1; j++) {
			int ch;
			do
				ch = rand_r(&seed) % 256;
			while (ch == 0);
			val[j] = (char)ch;
		}
		val[sizeof(val) - 1] = '\0';
		strvec_clear(&env);
		strvec_pushf(&env, "FOO=%s", val);
		c.verb = "check";
		c.args = args;
		c.nargs = nargs;
		c.env = &env;
		c.project_hash = "feedfeedfeed";
		cmd = pipeline_remote_command(&c);
		/* the real paths are /root/burst/...: point the test at tmp */
		strbuf_addstr(&full, cmd);
		{
			char *from = layout_src_dir("feedfeedfeed", false);
			strbuf_replace_all(&full, from, src);
			free(from);
		}
		free(cmd);
		unlink(outp);
		pid = fork();
		if (pid == 0) {
			setenv("HOME", home, 1);
			setenv("PATH", "/usr/bin:/bin", 1);
			execl("/bin/sh", "sh", "-c", full.buf, (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		strbuf_add(&want, "check", 6);
		for (size_t i = 0; i < nargs; i++)
			strbuf_add(&want, args[i], strlen(args[i]) + 1);
		strbuf_addf(&want, "FOO=%s", val);
		strbuf_addch(&want, '\0');
		if (strbuf_read_file(&got, outp) == 0 && got.len == want.len &&
		    !memcmp(got.buf, want.buf, got.len) && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			rounds_ok++;
		else
			diag("round %d differs (exit %d, got %zu bytes, want %zu)",
			     round, WEXITSTATUS(status), got.len, want.len);
		strbuf_release(&got);
		strbuf_release(&want);
		strbuf_release(&full);
	}
	is_int(rounds_ok, rounds, "random argv and env round-trip through the remote shell");
	strvec_clear(&env);
	free(home);
	free(bin);
	free(src);
	free(outp);
}

static void test_env_hint(void)
{
	struct strvec names = STRVEC_INIT;
	const char *out =
		"   Compiling app v0.1.0\n"
		"error: environment variable `API_KEY` not defined at compile time\n"
		"  --> src/main.rs:2:15\n"
		"thread 'main' panicked at src/main.rs:5:30:\n"
		"DATABASE_URL must be set: NotPresent\n"
		"error: set `REDIS_URL` to use query macros online\n"
		"Error: the HOME_DIR is not set\n"
		"the value must be set\n"
		"error: environment variable `API_KEY` not defined at compile time\n";
	char *h;

	pipeline_scan_missing_env(out, strlen(out), &names);
	is_int(names.nr, 4, "four distinct names found");
	ok(strvec_find(&names, "API_KEY") >= 0, "env! macro");
	ok(strvec_find(&names, "DATABASE_URL") >= 0, "X must be set");
	ok(strvec_find(&names, "REDIS_URL") >= 0, "sqlx's set `X`");
	ok(strvec_find(&names, "HOME_DIR") >= 0, "X is not set");
	ok(strvec_find(&names, "value") < 0, "lower-case words are not names");
	strvec_clear(&names);
	pipeline_scan_missing_env("all good\n", 9, &names);
	is_int(names.nr, 0, "nothing in clean output");
	strvec_clear(&names);

	h = pipeline_env_hint("API_KEY");
	ok(contains(h, "--env API_KEY") && contains(h, "forward_env = [\"API_KEY\"]"),
	   "hint gives the exact fixes");
	free(h);
	h = pipeline_env_hint("DATABASE_URL");
	ok(contains(h, "--env DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"),
	   "DATABASE_URL gets the image's postgres");
	free(h);
	is_str(pipeline_local_service_url("REDIS_URL"), "redis://127.0.0.1:6379", "REDIS_URL");
	is_str(pipeline_local_service_url("MYSQL_URL"), "mysql://root:root@127.0.0.1:3306",
	       "MYSQL_URL");
	is_str(pipeline_local_service_url("OTHER"), NULL, "other names have no default");
}

static void test_large_dirs(void)
{
	struct strvec dirs = STRVEC_INIT, excludes = STRVEC_INIT;
	uint64_t sizes[8];
	size_t n;
	char *root = xstrfmt("%s/ws", tmpdir);

	mkdir_rel("ws");
	mkdir_rel("ws/dist");
	mkdir_rel("ws/dist/sub");
	mkdir_rel("ws/build");
	mkdir_rel("ws/out");
	mkdir_rel("ws/.next");
	mkdir_rel("ws/src");
	write_big("ws/dist/a.bin", 30 << 20);
	write_big("ws/dist/sub/b.bin", 30 << 20);
	write_big("ws/build/c.bin", 10 << 20);
	write_big("ws/out/d.bin", 60 << 20);
	write_big("ws/.next/e.bin", 70 << 20);
	write_big("ws/src/huge.bin", 100 << 20);

	n = pipeline_large_dirs(root, NULL, PIPELINE_LARGE_DIR_BYTES, &dirs, sizes);
	is_int(n, 3, "dist, .next and out are large");
	ok(strvec_find(&dirs, "dist") >= 0, "dist counted recursively");
	ok(strvec_find(&dirs, "build") < 0, "small build/ is not");
	ok(strvec_find(&dirs, "src") < 0, "src/ is never asked about");
	strvec_clear(&dirs);

	strvec_push(&excludes, "/out/");
	write_file("ws/.gitignore", "# build output\n/.next\n*.log\n");
	n = pipeline_large_dirs(root, &excludes, PIPELINE_LARGE_DIR_BYTES, &dirs, sizes);
	is_int(n, 1, "excludes and .gitignore remove out/ and .next/");
	is_str(dirs.nr ? dirs.v[0] : NULL, "dist", "dist remains");
	ok(sizes[0] >= 60ull << 20, "its size is reported");
	strvec_clear(&dirs);
	strvec_clear(&excludes);
	free(root);
}

static void test_summary(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct pipeline_summary s = { 0 };

	s.verb = "build";
	s.success = true;
	s.cold = false;
	s.provision_ms = 20;
	s.sync_ms = 400;
	s.cargo_ms = 11600;
	s.fetch_ms = 300;
	s.total_ms = 12320;
	s.server_name = "cargo-burst-abc";
	s.server_deadline = 1700000000; /* 22:13 UTC */
	setenv("TZ", "UTC0", 1);
	tzset();
	pipeline_summary_format(&sb, &s);
	diag_lines("%s", sb.buf);
	ok(contains(sb.buf, "build ok in 12.3s"), "verb, outcome, wall time");
	ok(contains(sb.buf, "provision") && contains(sb.buf, "warm"), "provision warm");
	ok(contains(sb.buf, "sync 0.4s") && contains(sb.buf, "cargo 11.6s") &&
	   contains(sb.buf, "fetch 0.3s"), "phases");
	ok(contains(sb.buf, "'cargo-burst-abc' stays up until 22:13 UTC"), "what stays up");
	strbuf_reset(&sb);
	s.success = false;
	s.exit_code = 101;
	s.no_reap = true;
	s.fetch_ms = 0;
	pipeline_summary_format(&sb, &s);
	ok(contains(sb.buf, "failed") && contains(sb.buf, "exit code 101"), "failure and code");
	ok(contains(sb.buf, "--no-reap"), "no-reap shown");
	ok(!contains(sb.buf, "fetch"), "no fetch phase when nothing fetched");
	strbuf_release(&sb);
}

/* The times in local time, with the zone's abbreviation. */
static void test_summary_local_time(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct pipeline_summary s = { 0 };
	const char *zones[][2] = {
		{ "Europe/Berlin", "23:13 CET" }, /* tzdata */
		{ "CET-1", "23:13 CET" },         /* POSIX: without tzdata too */
		{ "EST5", "17:13 EST" },
	};

	s.verb = "build";
	s.success = true;
	s.server_name = "cargo-burst-abc";
	s.server_deadline = 1700000000; /* 2023-11-14 22:13:20 UTC */
	s.volume_name = "cargo-burst-vol";
	s.volume_deadline = 1700000000 + 3600;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		strbuf_reset(&sb);
		setenv("TZ", zones[i][0], 1);
		tzset();
		pipeline_summary_format(&sb, &s);
		ok(contains(sb.buf, zones[i][1]) && !contains(sb.buf, "UTC"),
		   "TZ=%s: the server's time is %s (%s)", zones[i][0], zones[i][1], sb.buf);
	}
	setenv("TZ", "CET-1", 1);
	tzset();
	strbuf_reset(&sb);
	pipeline_summary_format(&sb, &s);
	ok(contains(sb.buf, "stays up until 23:13 CET, volume until 00:13 CET"),
	   "the volume's time too (%s)", sb.buf);
	setenv("TZ", "UTC0", 1);
	tzset();
	strbuf_release(&sb);
}

/* Each line of s fits width (when its phrase does); count the lines. */
static bool lines_fit(const char *s, size_t width, size_t first_col, size_t *lines)
{
	size_t col = first_col;

	*lines = 1;
	for (; *s; s++) {
		if (*s == '\n') {
			(*lines)++;
			col = 0;
			continue;
		}
		if (++col > width)
			return false;
	}
	return true;
}

/* The summary wraps at phrase boundaries, continuation indented like cargo. */
static void test_summary_wrap(void)
{
	const char *line = "build ok in 12.3s (provision 0.0s warm, sync 0.4s, cargo 11.6s, "
			   "fetch 0.3s); server 'cargo-burst-abc' stays up until 23:13 CET, "
			   "volume until 00:13 CET";
	struct strbuf sb = STRBUF_INIT, flat = STRBUF_INIT;
	size_t lines = 0;
	bool fit;

	pipeline_summary_wrap(&sb, line, 0, 13);
	is_str(sb.buf, line, "width 0: one line, unchanged");
	strbuf_reset(&sb);
	pipeline_summary_wrap(&sb, line, 200, 13);
	is_str(sb.buf, line, "a wide terminal: one line, unchanged");

	strbuf_reset(&sb);
	pipeline_summary_wrap(&sb, line, 80, 13);
	diag_lines("80 columns:\n    Finished %s", sb.buf);
	fit = lines_fit(sb.buf, 80, 13, &lines);
	ok(fit && lines >= 2, "80 columns: more than one line, each fits (%zu lines)", lines);
	ok(contains(sb.buf, ",\n             ") || contains(sb.buf, ";\n             "),
	   "the break is after ';' or ',' and the next line is indented by 13");
	ok(!contains(sb.buf, " \n") && !contains(sb.buf, "\n              "),
	   "no trailing space, no extra indent");
	ok(contains(sb.buf, "'cargo-burst-abc' stays up until 23:13 CET"),
	   "a phrase is never split");

	/* removing the breaks gives the line back */
	strbuf_reset(&flat);
	for (const char *p = sb.buf; *p; p++) {
		if (*p == '\n') {
			strbuf_addch(&flat, ' ');
			p += 13;
			continue;
		}
		strbuf_addch(&flat, *p);
	}
	is_str(flat.buf, line, "nothing lost or added by wrapping");

	strbuf_reset(&sb);
	pipeline_summary_wrap(&sb, line, 64, 13);
	diag_lines("64 columns:\n    Finished %s", sb.buf);
	fit = lines_fit(sb.buf, 64, 13, &lines);
	ok(fit && lines >= 3, "64 columns: every line fits (%zu lines)", lines);

	strbuf_reset(&sb);
	pipeline_summary_wrap(&sb, line, 60, 13);
	diag_lines("60 columns:\n    Finished %s", sb.buf);
	fit = lines_fit(sb.buf, 60, 13, &lines);
	ok(fit && contains(sb.buf, "'cargo-burst-abc' stays up until 23:13 CET,\n"),
	   "60 columns: a phrase longer than a line breaks at its spaces, every line fits");
	strbuf_reset(&sb);
	pipeline_summary_wrap(&sb, "averyveryverylongwordwithoutanyboundary; short", 20, 13);
	is_str(sb.buf, "averyveryverylongwordwithoutanyboundary;\n             short",
	       "a word never splits, the rest goes on the next line");
	strbuf_release(&sb);
	strbuf_release(&flat);
}

/* What the note after an interrupted provisioning says, per case. */
static void test_interrupt_fate(void)
{
	struct strbuf sb = STRBUF_INIT;

	setenv("TZ", "CET-1", 1);
	tzset();
	pipeline_interrupt_fate(&sb, NULL, false, false, false, 0);
	is_str(sb.buf, "no server was created", "nothing made");
	strbuf_reset(&sb);
	pipeline_interrupt_fate(&sb, "cb-1", false, true, false, 1700000000);
	is_str(sb.buf, "server 'cb-1' (still being created) is kept for the next run until "
	       "23:13 CET, then its reaper deletes it", "being created, recorded, reaper armed");
	strbuf_reset(&sb);
	pipeline_interrupt_fate(&sb, "cb-1", true, true, false, 1700000000);
	is_str(sb.buf, "server 'cb-1' is kept for the next run until 23:13 CET, then its "
	       "reaper deletes it", "ready");
	strbuf_reset(&sb);
	pipeline_interrupt_fate(&sb, "cb-1", true, true, true, 1700000000);
	ok(contains(sb.buf, "--no-reap") && contains(sb.buf, "cargo burst down") &&
	   !contains(sb.buf, "reaper deletes"), "--no-reap: stays up, no reaper claim");
	strbuf_reset(&sb);
	pipeline_interrupt_fate(&sb, "cb-1", false, false, false, 0);
	ok(contains(sb.buf, "no reaper watches it") && contains(sb.buf, "cargo burst down"),
	   "not recorded or no reaper: says so, with what to do");
	setenv("TZ", "UTC0", 1);
	tzset();
	strbuf_release(&sb);
}

/*
 * Whether a run fetches: the verb's table flag (fetch_verb), never its
 * name, and --no-fetch; the fetch and --dry-run both ask this.
 */
static void test_job_fetches(void)
{
	struct run_request req = { 0 };
	struct pipeline_job job = { 0 };

	job.req = &req;
	req.verb = "build";
	job.fetch_verb = true;
	ok(pipeline_job_fetches(&job), "a verb flagged to fetch fetches");
	req.no_fetch = true;
	ok(!pipeline_job_fetches(&job), "...not with --no-fetch");
	req.no_fetch = false;
	job.fetch_verb = false;
	ok(!pipeline_job_fetches(&job), "\"build\" without the table flag does not fetch");
	req.verb = "check";
	job.fetch_verb = true;
	ok(pipeline_job_fetches(&job), "any verb with the table flag fetches");
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		bail_out("mkdtemp");
	atexit(cleanup);
	test_doctests();
	test_profile_and_target();
	test_remote_command();
	test_remote_roundtrip();
	test_env_hint();
	test_large_dirs();
	test_summary();
	test_summary_local_time();
	test_summary_wrap();
	test_interrupt_fate();
	test_job_fetches();
	return done_testing();
}

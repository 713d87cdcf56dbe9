/* test-runargs.c - routing of the run verbs' arguments (run_args_parse). */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "burst/cli.h"
#include "burst/strbuf.h"

#define MAXARGS 16

static const struct burst_cmd v_build = { "build", "", "", "",
					  CMD_RUN | CMD_RUN_FETCH, NULL };
static const struct burst_cmd v_test = { "test", "", "", "",
					 CMD_RUN | CMD_RUN_TEST, NULL };
static const struct burst_cmd v_clippy = { "clippy", "", "", "", CMD_RUN,
					   NULL };
static const struct burst_cmd v_run = { "run", "", "", "", CMD_RUN, NULL };
static const struct burst_cmd v_bench = { "bench", "", "", "",
					  CMD_RUN | CMD_RUN_FETCH, NULL };

struct route_case {
	const char *name;
	const struct burst_cmd *cmd;
	const char *argv[MAXARGS];       /* after the verb, NULL-terminated */
	const char *global_toolchain;    /* +x before the verb, or NULL */
	int global_quiet, global_verbose;
	/* expectations */
	const char *error;               /* substring of the usage error, or NULL */
	const char *cargo[MAXARGS];      /* expected cargo args */
	const char *env[MAXARGS];        /* expected --env values */
	const char *toolchain;
	long long keep_alive;
	const char *bools;               /* letters: r no_reap, f no_fetch, y yes,
					    d no_doctests, c cargo_test, h help */
	int quiet, verbose;
};

static const struct route_case cases[] = {
	{ "no arguments", &v_build, { NULL }, NULL, 0, 0, NULL, { NULL },
	  { NULL }, NULL, -1, "", 0, 0 },
	{ "plain cargo args", &v_build, { "--release", "-p", "foo", NULL },
	  NULL, 0, 0, NULL, { "--release", "-p", "foo", NULL }, { NULL }, NULL,
	  -1, "", 0, 0 },
	{ "leading -- consumed", &v_build, { "--", "--release", NULL }, NULL,
	  0, 0, NULL, { "--release", NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "tool flags then --", &v_build,
	  { "--no-reap", "--yes", "--", "--no-reap", NULL }, NULL, 0, 0, NULL,
	  { "--no-reap", NULL }, { NULL }, NULL, -1, "ry", 0, 0 },
	{ "inner -- kept (clippy)", &v_clippy,
	  { "--all-targets", "--", "-D", "warnings", NULL }, NULL, 0, 0, NULL,
	  { "--all-targets", "--", "-D", "warnings", NULL }, { NULL }, NULL, -1,
	  "", 0, 0 },
	{ "leading -- then inner --", &v_run,
	  { "--", "--bin", "x", "--", "--flag", NULL }, NULL, 0, 0, NULL,
	  { "--bin", "x", "--", "--flag", NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "only the first -- is consumed", &v_run, { "--", "--", NULL }, NULL,
	  0, 0, NULL, { "--", NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "empty arguments survive", &v_run,
	  { "--", "", "a", "", NULL }, NULL, 0, 0, NULL, { "", "a", "", NULL },
	  { NULL }, NULL, -1, "", 0, 0 },
	{ "empty argument starts cargo args", &v_run, { "", "--yes", NULL },
	  NULL, 0, 0, NULL, { "", "--yes", NULL }, { NULL }, NULL, -1, "", 0,
	  0 },
	{ "tool flags after cargo args go to cargo", &v_build,
	  { "--release", "--no-reap", "-y", NULL }, NULL, 0, 0, NULL,
	  { "--release", "--no-reap", "-y", NULL }, { NULL }, NULL, -1, "", 0,
	  0 },
	{ "keep-alive separate", &v_build, { "--keep-alive", "600", NULL },
	  NULL, 0, 0, NULL, { NULL }, { NULL }, NULL, 600, "", 0, 0 },
	{ "keep-alive with =", &v_build, { "--keep-alive=0", "-r", NULL },
	  NULL, 0, 0, NULL, { "-r", NULL }, { NULL }, NULL, 0, "", 0, 0 },
	{ "keep-alive bad value", &v_build, { "--keep-alive", "abc", NULL },
	  NULL, 0, 0, "invalid value 'abc' for '--keep-alive'", { NULL },
	  { NULL }, NULL, -1, "", 0, 0 },
	{ "keep-alive negative", &v_build, { "--keep-alive=-5", NULL }, NULL,
	  0, 0, "'--keep-alive'", { NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "keep-alive missing value", &v_build, { "--keep-alive", NULL }, NULL,
	  0, 0, "'--keep-alive' needs a value", { NULL }, { NULL }, NULL, -1,
	  "", 0, 0 },
	{ "env forms", &v_test,
	  { "--env", "RUST_LOG", "--env=FOO=bar", "--env", "E=", "--env=X",
	    NULL }, NULL, 0, 0, NULL, { NULL },
	  { "RUST_LOG", "FOO=bar", "E=", "X", NULL }, NULL, -1, "", 0, 0 },
	{ "env value keeps later =", &v_test, { "--env", "A=b=c", NULL },
	  NULL, 0, 0, NULL, { NULL }, { "A=b=c", NULL }, NULL, -1, "", 0, 0 },
	{ "env bad name", &v_test, { "--env", "1BAD", NULL }, NULL, 0, 0,
	  "invalid value '1BAD' for '--env'", { NULL }, { NULL }, NULL, -1, "",
	  0, 0 },
	{ "env bad name with value", &v_test, { "--env=A-B=1", NULL }, NULL, 0,
	  0, "'--env'", { NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "env empty", &v_test, { "--env=", NULL }, NULL, 0, 0, "'--env'",
	  { NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "env missing value", &v_test, { "--env", NULL }, NULL, 0, 0,
	  "'--env' needs a value", { NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "no-fetch for build", &v_build, { "--no-fetch", NULL }, NULL, 0, 0,
	  NULL, { NULL }, { NULL }, NULL, -1, "f", 0, 0 },
	{ "no-fetch for bench", &v_bench, { "--no-fetch", "--bench", "b", NULL },
	  NULL, 0, 0, NULL, { "--bench", "b", NULL }, { NULL }, NULL, -1, "f", 0,
	  0 },
	{ "no-fetch refused for test", &v_test, { "--no-fetch", NULL }, NULL,
	  0, 0, "'--no-fetch' is only accepted by build and bench", { NULL },
	  { NULL }, NULL, -1, "", 0, 0 },
	{ "no-fetch after -- goes to cargo", &v_test, { "--", "--no-fetch", NULL },
	  NULL, 0, 0, NULL, { "--no-fetch", NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "test flags", &v_test, { "--no-doctests", "--cargo-test", "it", NULL },
	  NULL, 0, 0, NULL, { "it", NULL }, { NULL }, NULL, -1, "dc", 0, 0 },
	{ "test flags refused for build", &v_build, { "--cargo-test", NULL },
	  NULL, 0, 0, "'--cargo-test' is only accepted by test", { NULL },
	  { NULL }, NULL, -1, "", 0, 0 },
	{ "-q forwarded", &v_build, { "-q", "--release", NULL }, NULL, 0, 0,
	  NULL, { "-q", "--release", NULL }, { NULL }, NULL, -1, "", 1, 0 },
	{ "-v and -vv forwarded in order", &v_build,
	  { "-v", "--no-reap", "-vv", "--", "x", NULL }, NULL, 0, 0, NULL,
	  { "-v", "-vv", "x", NULL }, { NULL }, NULL, -1, "r", 0, 3 },
	{ "--quiet/--verbose forwarded", &v_build,
	  { "--quiet", "--verbose", "--release", NULL }, NULL, 0, 0, NULL,
	  { "--quiet", "--verbose", "--release", NULL }, { NULL }, NULL, -1, "",
	  1, 1 },
	{ "global -q/-v forwarded first", &v_build, { "-v", "-r", NULL }, NULL,
	  1, 2, NULL, { "-q", "-v", "-v", "-v", "-r", NULL }, { NULL }, NULL,
	  -1, "", 1, 3 },
	{ "-vq is not a tool flag", &v_build, { "-vq", NULL }, NULL, 0, 0, NULL,
	  { "-vq", NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "toolchain after the verb", &v_build, { "+nightly", "--release", NULL },
	  NULL, 0, 0, NULL, { "--release", NULL }, { NULL }, "nightly", -1, "",
	  0, 0 },
	{ "toolchain before the verb", &v_build, { "--release", NULL },
	  "nightly-2024-05-01", 0, 0, NULL, { "--release", NULL }, { NULL },
	  "nightly-2024-05-01", -1, "", 0, 0 },
	{ "toolchain twice", &v_build, { "+stable", NULL }, "nightly", 0, 0,
	  "toolchain given twice", { NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "toolchain later is a cargo arg", &v_build, { "-y", "+nightly", NULL },
	  NULL, 0, 0, NULL, { "+nightly", NULL }, { NULL }, NULL, -1, "y", 0, 0 },
	{ "empty toolchain", &v_build, { "+", NULL }, NULL, 0, 0,
	  "empty toolchain", { NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "toolchain with a space", &v_build, { "+night ly", NULL }, NULL, 0, 0,
	  "invalid toolchain name", { NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "help in tool position", &v_build, { "--help", NULL }, NULL, 0, 0,
	  NULL, { NULL }, { NULL }, NULL, -1, "h", 0, 0 },
	{ "help after cargo args goes to cargo", &v_build,
	  { "--release", "--help", NULL }, NULL, 0, 0, NULL,
	  { "--release", "--help", NULL }, { NULL }, NULL, -1, "", 0, 0 },
	{ "everything at once", &v_test,
	  { "+beta", "--keep-alive", "90", "--no-reap", "-y", "--env", "A",
	    "--no-doctests", "-q", "--", "--workspace", "--", "--nocapture",
	    "", NULL }, NULL, 0, 0, NULL,
	  { "-q", "--workspace", "--", "--nocapture", "", NULL }, { "A", NULL },
	  "beta", 90, "ryd", 1, 0 },
};

static size_t count(const char *const *v)
{
	size_t n = 0;

	while (v[n])
		n++;
	return n;
}

static void join(struct strbuf *sb, char *const *v, size_t n)
{
	strbuf_reset(sb);
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "%s[%s]", i ? " " : "", v[i]);
}

static void check_vec(const char *what, const char *name,
		      const struct strvec *got, const char *const *want)
{
	struct strbuf g = STRBUF_INIT, w = STRBUF_INIT;

	join(&g, got->v, got->nr);
	join(&w, (char *const *)want, count(want));
	is_str(g.buf, w.buf, "%s: %s", name, what);
	strbuf_release(&g);
	strbuf_release(&w);
}

static void run_case(const struct route_case *c)
{
	struct run_args ra;
	struct burst_error err = BURST_ERROR_INIT;
	char *argv[MAXARGS];
	int argc = (int)count(c->argv), r;

	for (int i = 0; i <= argc; i++)
		argv[i] = (char *)c->argv[i];
	run_args_init(&ra);
	ra.toolchain = xstrdup(c->global_toolchain);
	ra.quiet = c->global_quiet;
	ra.verbose = c->global_verbose;
	r = run_args_parse(&ra, c->cmd, argc, argv, &err);
	if (c->error) {
		ok(r == -1 && err.exit_code == BURST_EXIT_USAGE,
		   "%s: usage error", c->name);
		ok(err.message && strstr(err.message, c->error),
		   "%s: message names it", c->name);
		if (err.message && !strstr(err.message, c->error))
			diag("  got '%s', want '%s'", err.message, c->error);
		goto out;
	}
	if (!ok(r == 0, "%s: accepted", c->name))
		diag("  error: %s", err.message ? err.message : "?");
	is_str(ra.verb, c->cmd->name, "%s: verb", c->name);
	check_vec("cargo args", c->name, &ra.cargo_args, c->cargo);
	check_vec("env", c->name, &ra.env, c->env);
	is_str(ra.toolchain, c->toolchain, "%s: toolchain", c->name);
	is_int(ra.keep_alive_secs, c->keep_alive, "%s: keep-alive", c->name);
	ok(ra.no_reap == !!strchr(c->bools, 'r') &&
	   ra.no_fetch == !!strchr(c->bools, 'f') &&
	   ra.yes == !!strchr(c->bools, 'y') &&
	   ra.no_doctests == !!strchr(c->bools, 'd') &&
	   ra.cargo_test == !!strchr(c->bools, 'c') &&
	   ra.help == !!strchr(c->bools, 'h'), "%s: flags [%s]", c->name,
	   c->bools);
	is_int(ra.quiet, c->quiet, "%s: quiet count", c->name);
	is_int(ra.verbose, c->verbose, "%s: verbose count", c->name);
out:
	run_args_release(&ra);
	burst_error_release(&err);
}

static void test_release_reuse(void)
{
	struct run_args ra;
	struct burst_error err = BURST_ERROR_INIT;
	char *argv[] = { "--env", "A=1", "x", NULL };

	run_args_init(&ra);
	ok(run_args_parse(&ra, &v_build, 3, argv, &err) == 0, "parse once");
	run_args_release(&ra);
	ok(ra.env.nr == 0 && ra.cargo_args.nr == 0 && !ra.toolchain &&
	   ra.keep_alive_secs == -1, "release empties and re-inits");
	run_args_release(&ra);
	ok(ra.env.nr == 0 && ra.cargo_args.nr == 0 && !ra.toolchain &&
	   ra.keep_alive_secs == -1, "release twice is safe and leaves it empty");
}

/* test --shards N and --junit PATH (issue 8, item 3). */
static void route_shards(const struct burst_cmd *cmd, const char *const *argv, int want_shards,
			 const char *want_junit, const char *want_error, const char *want_first)
{
	struct run_args ra;
	struct burst_error err = BURST_ERROR_INIT;
	int argc = (int)count(argv), rc;
	char *copy[MAXARGS];
	struct strbuf name = STRBUF_INIT;

	for (int i = 0; i < argc; i++)
		copy[i] = (char *)argv[i];
	join(&name, copy, (size_t)argc);
	run_args_init(&ra);
	rc = run_args_parse(&ra, cmd, argc, copy, &err);
	if (want_error) {
		ok(rc < 0 && err.message && strstr(err.message, want_error),
		   "%s [%s]: refused with '%s' (got '%s')", cmd->name, name.buf, want_error,
		   err.message ? err.message : "no error");
	} else {
		ok(rc == 0, "%s [%s]: parsed", cmd->name, name.buf);
		is_int(ra.shards, want_shards, "%s [%s]: shards", cmd->name, name.buf);
		is_str(ra.junit ? ra.junit : "(null)", want_junit ? want_junit : "(null)",
		       "%s [%s]: junit", cmd->name, name.buf);
		is_str(ra.cargo_args.nr ? ra.cargo_args.v[0] : "(none)",
		       want_first ? want_first : "(none)", "%s [%s]: first cargo arg",
		       cmd->name, name.buf);
	}
	burst_error_release(&err);
	run_args_release(&ra);
	strbuf_release(&name);
}

static void test_shards(void)
{
	static const char *const a1[] = { "--shards", "3", NULL };
	static const char *const a2[] = { "--shards=4", "--junit", "out.xml", "-p", "x", NULL };
	static const char *const a3[] = { "--junit=j.xml", "--shards", "2", "--", "--shards",
					  "9", NULL };
	static const char *const a4[] = { "--shards", "0", NULL };
	static const char *const a5[] = { "--shards", "abc", NULL };
	static const char *const a6[] = { "--shards", NULL };
	static const char *const a7[] = { "--shards=33", NULL };
	static const char *const a8[] = { "--junit", NULL };
	static const char *const a9[] = { "-p", "x", "--shards", "2", NULL };
	static const char *const a10[] = { "--junit", "x.xml", NULL };

	route_shards(&v_test, a1, 3, NULL, NULL, NULL);
	route_shards(&v_test, a2, 4, "out.xml", NULL, "-p");
	route_shards(&v_test, a3, 2, "j.xml", NULL, "--shards");
	route_shards(&v_test, a4, 0, NULL, "invalid value '0' for '--shards'", NULL);
	route_shards(&v_test, a5, 0, NULL, "invalid value 'abc' for '--shards'", NULL);
	route_shards(&v_test, a6, 0, NULL, "'--shards' needs a value", NULL);
	route_shards(&v_test, a7, 0, NULL, "from 1 to 32", NULL);
	route_shards(&v_test, a8, 0, NULL, "'--junit' needs a value", NULL);
	route_shards(&v_test, a9, 0, NULL, NULL, "-p");
	route_shards(&v_test, a10, 0, "x.xml", NULL, NULL);
	route_shards(&v_build, a1, 0, NULL, "'--shards' is only accepted by test", NULL);
	route_shards(&v_clippy, a8, 0, NULL, "'--junit' is only accepted by test", NULL);
}

/* --host, -L/--forward (run) and --no-sync (ssh) (issue 8, items 1-3). */
static const struct burst_cmd v_run_fw = { "run", "", "", "",
					   CMD_RUN | CMD_RUN_FORWARD, NULL };
static const struct burst_cmd v_ssh = { "ssh", "", "", "",
					CMD_RUN | CMD_RUN_SHELL, NULL };

static void route_extra(const struct burst_cmd *cmd, const char *const *argv,
			const char *want_error, const char *want_host,
			const char *want_fwd, bool want_no_sync, const char *want_first)
{
	struct run_args ra;
	struct burst_error err = BURST_ERROR_INIT;
	int argc = (int)count(argv), rc;
	char *copy[MAXARGS];
	struct strbuf name = STRBUF_INIT, fw = STRBUF_INIT;

	for (int i = 0; i < argc; i++)
		copy[i] = (char *)argv[i];
	join(&name, copy, (size_t)argc);
	run_args_init(&ra);
	ra.quiet = 1; /* a global -q: forwarded to cargo, never to ssh's command */
	rc = run_args_parse(&ra, cmd, argc, copy, &err);
	if (want_error) {
		ok(rc < 0 && err.exit_code == BURST_EXIT_USAGE && err.message &&
		   strstr(err.message, want_error),
		   "%s [%s]: refused with '%s' (got '%s')", cmd->name, name.buf, want_error,
		   err.message ? err.message : "no error");
	} else {
		ok(rc == 0, "%s [%s]: parsed", cmd->name, name.buf);
		is_str(ra.host ? ra.host : "(null)", want_host ? want_host : "(null)",
		       "%s [%s]: host", cmd->name, name.buf);
		join(&fw, ra.forwards.v, ra.forwards.nr);
		is_str(fw.buf, want_fwd ? want_fwd : "", "%s [%s]: forwards", cmd->name,
		       name.buf);
		ok(ra.no_sync == want_no_sync, "%s [%s]: no_sync", cmd->name, name.buf);
		is_str(ra.cargo_args.nr ? ra.cargo_args.v[0] : "(none)",
		       want_first ? want_first : "(none)", "%s [%s]: first remote arg",
		       cmd->name, name.buf);
	}
	burst_error_release(&err);
	run_args_release(&ra);
	strbuf_release(&name);
	strbuf_release(&fw);
}

static void test_extras(void)
{
	static const char *const h1[] = { "--host", "me@box:2222", "--release", NULL };
	static const char *const h2[] = { "--host=box", NULL };
	static const char *const h3[] = { "--host", "[::1]:22", NULL };
	static const char *const h4[] = { "--host", "me@", NULL };
	static const char *const h5[] = { "--host", "box:99999", NULL };
	static const char *const h6[] = { "--host", NULL };
	static const char *const h7[] = { "--host", "a", "--host", "b", NULL };
	static const char *const h8[] = { "--host", "-oProxyCommand=x", NULL };
	static const char *const f1[] = { "-L", "8080", "-L9000:80", "--forward", "1:2",
					  "--forward=3", "--", "x", NULL };
	static const char *const f2[] = { "-L", "0", NULL };
	static const char *const f3[] = { "-L", "8080:", NULL };
	static const char *const f4[] = { "-L", NULL };
	static const char *const f5[] = { "--bin", "x", "-L", "80", NULL };
	static const char *const s1[] = { "--no-sync", "--", "sh", "-c", "exit 7", NULL };
	static const char *const s2[] = { "--host", "box", "cat", "--no-sync", NULL };
	static const char *const s3[] = { "--no-sync", NULL };

	route_extra(&v_build, h1, NULL, "me@box:2222", NULL, false, "-q");
	route_extra(&v_build, h2, NULL, "box", NULL, false, "-q");
	route_extra(&v_build, h3, NULL, "[::1]:22", NULL, false, "-q");
	route_extra(&v_build, h4, "invalid host 'me@'", NULL, NULL, false, NULL);
	route_extra(&v_build, h5, "from 1 to 65535", NULL, NULL, false, NULL);
	route_extra(&v_build, h6, "'--host' needs a value", NULL, NULL, false, NULL);
	route_extra(&v_build, h7, "'--host' given twice", NULL, NULL, false, NULL);
	route_extra(&v_build, h8, "must not start with '-'", NULL, NULL, false, NULL);
	route_extra(&v_run_fw, f1, NULL, NULL, "[8080] [9000:80] [1:2] [3]", false, "-q");
	route_extra(&v_run_fw, f2, "invalid value '0' for '--forward'", NULL, NULL, false, NULL);
	route_extra(&v_run_fw, f3, "invalid value '8080:' for '--forward'", NULL, NULL, false,
		    NULL);
	route_extra(&v_run_fw, f4, "'--forward' needs a value", NULL, NULL, false, NULL);
	route_extra(&v_run_fw, f5, NULL, NULL, NULL, false, "-q");
	route_extra(&v_build, f1, "'-L' is only accepted by run", NULL, NULL, false, NULL);
	route_extra(&v_ssh, s1, NULL, NULL, NULL, true, "sh");
	route_extra(&v_ssh, s2, NULL, "box", NULL, false, "cat");
	route_extra(&v_build, s3, "'--no-sync' is only accepted by ssh", NULL, NULL, false,
		    NULL);
	route_extra(&v_ssh, f1, "'-L' is only accepted by run", NULL, NULL, false, NULL);
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(&cases[i]);
	test_release_reuse();
	test_shards();
	test_extras();
	return done_testing();
}

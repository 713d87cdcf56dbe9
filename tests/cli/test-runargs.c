/*
 * test-runargs.c - routing of the run verbs' command lines (issue 14,
 * "Arguments"): a table of argv -> (tool options, cargo argv), through
 * cli_route_run(), which burst_cli_main() routes the same way, and the
 * real command table.  Every example of the issue is a row.
 */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "burst/cli.h"
#include "burst/config.h"
#include "burst/strbuf.h"

#define MAXARGS 20

struct route_case {
	const char *name;
	const char *argv[MAXARGS];  /* after "cargo-burst", NULL-terminated */
	/* expectations */
	const char *error;          /* substring of the usage error, or NULL */
	const char *cargo[MAXARGS]; /* cargo's (or ssh's command) arguments */
	const char *env[MAXARGS];   /* --env values */
	const char *toolchain;
	long long keep_alive;
	const char *bools;          /* r no_reap, f no_fetch, y yes, d no_doctests,
				       c cargo_test, h help, s no_sync */
	int quiet, verbose;
};

#define NONE { NULL }

static const struct route_case cases[] = {
	/* the examples of the issue */
	{ "test -- --nocapture reaches the test binary",
	  { "burst", "test", "--", "--nocapture", NULL }, NULL,
	  { "--", "--nocapture", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "clippy -- -D warnings reaches clippy",
	  { "burst", "clippy", "--", "-D", "warnings", NULL }, NULL,
	  { "--", "-D", "warnings", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "run -- --help is the program's",
	  { "burst", "run", "--", "--help", NULL }, NULL,
	  { "--", "--help", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "tool options between burst and the verb",
	  { "burst", "--keep-alive", "600", "test", "--", "--nocapture", NULL },
	  NULL, { "--", "--nocapture", NULL }, NONE, NULL, 600, "", 0, 0 },
	{ "--keep-alive after --release is the tool's",
	  { "burst", "build", "--release", "--keep-alive", "600", NULL }, NULL,
	  { "--release", NULL }, NONE, NULL, 600, "", 0, 0 },
	{ "clippy --all-targets -- -D warnings",
	  { "burst", "clippy", "--all-targets", "--", "-D", "warnings", NULL },
	  NULL, { "--all-targets", "--", "-D", "warnings", NULL }, NONE, NULL,
	  -1, "", 0, 0 },
	/* the rule: after a --, everything is cargo's */
	{ "tool names after -- are cargo's",
	  { "burst", "run", "--bin", "x", "--", "--keep-alive", "5", "--no-reap",
	    "--help", "-q", NULL }, NULL,
	  { "--bin", "x", "--", "--keep-alive", "5", "--no-reap", "--help",
	    "-q", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "a lone -- is kept", { "burst", "build", "--", NULL }, NULL,
	  { "--", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "every -- is kept", { "burst", "run", "--", "--", NULL }, NULL,
	  { "--", "--", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "empty arguments survive",
	  { "burst", "run", "--", "", "a", "", NULL }, NULL,
	  { "--", "", "a", "", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "order is kept around taken options",
	  { "burst", "test", "-p", "a", "--no-reap", "--lib", "--yes", "it",
	    NULL }, NULL, { "-p", "a", "--lib", "it", NULL }, NONE, NULL, -1,
	  "ry", 0, 0 },
	/* names cargo uses are never taken */
	{ "cargo's options stay cargo's",
	  { "burst", "build", "-j", "4", "--config", "a=b", "--target-dir", "t",
	    "--message-format", "json", "-r", "--timings", "-F", "x", NULL },
	  NULL, { "-j", "4", "--config", "a=b", "--target-dir", "t",
		  "--message-format", "json", "-r", "--timings", "-F", "x",
		  NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "-v after the verb: cargo's, counted too",
	  { "burst", "build", "-v", "--release", "-vv", NULL }, NULL,
	  { "-v", "--release", "-vv", NULL }, NONE, NULL, -1, "", 0, 3 },
	{ "global -q/-v go first, after-verb ones stay in place",
	  { "burst", "-q", "-vv", "build", "--release", "--verbose", NULL },
	  NULL, { "-q", "-v", "-v", "--release", "--verbose", NULL }, NONE,
	  NULL, -1, "", 1, 3 },
	{ "-vq is cargo's alone", { "burst", "build", "-vq", NULL }, NULL,
	  { "-vq", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "-q after -- is the program's",
	  { "burst", "test", "--", "-q", NULL }, NULL, { "--", "-q", NULL },
	  NONE, NULL, -1, "", 0, 0 },
	{ "a short tool option after the verb is refused (cargo has none)",
	  { "burst", "build", "--release", "-y", NULL },
	  "'-y' after the verb would go to cargo", NONE, NONE, NULL, -1, "", 0,
	  0 },
	{ "-L after the verb too", { "burst", "run", "-L8080", NULL },
	  "'-L' after the verb would go to cargo", NONE, NONE, NULL, -1, "", 0,
	  0 },
	{ "-L without a value after the verb", { "burst", "run", "-L", NULL },
	  "'-L' after the verb would go to cargo", NONE, NONE, NULL, -1, "", 0,
	  0 },
	{ "-L after another verb", { "burst", "build", "-L", "80", NULL },
	  "'-L' is an option of cargo-burst run, not of build", NONE, NONE, NULL,
	  -1, "", 0, 0 },
	{ "... but after -- they are the program's",
	  { "burst", "run", "--", "-y", "-L", "80", NULL }, NULL,
	  { "--", "-y", "-L", "80", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "a longer name is not ours",
	  { "burst", "build", "--keep-alive-x", "--no-reaper", "--yes=1", NULL },
	  NULL, { "--keep-alive-x", "--no-reaper", "--yes=1", NULL }, NONE, NULL,
	  -1, "", 0, 0 },
	/* short and long forms before the verb */
	{ "-y before the verb", { "burst", "-y", "build", NULL }, NULL, NONE,
	  NONE, NULL, -1, "y", 0, 0 },
	{ "all kinds before the verb",
	  { "burst", "--no-reap", "--env=A", "--keep-alive=0", "-y", "test",
	    "--no-doctests", "--cargo-test", "it", NULL }, NULL, { "it", NULL },
	  { "A", NULL }, NULL, 0, "rydc", 0, 0 },
	{ "an option of another verb before the verb",
	  { "burst", "--no-fetch", "test", NULL },
	  "'--no-fetch' is an option of cargo-burst build, bench, not of test",
	  NONE, NONE, NULL, -1, "", 0, 0 },
	{ "an option of another verb after the verb",
	  { "burst", "test", "--no-fetch", NULL },
	  "'--no-fetch' is an option of cargo-burst build, bench, not of test",
	  NONE, NONE, NULL, -1, "", 0, 0 },
	{ "... which -- passes on",
	  { "burst", "test", "--", "--no-fetch", NULL }, NULL,
	  { "--", "--no-fetch", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "--cargo-test is test's", { "burst", "build", "--cargo-test", NULL },
	  "not of build", NONE, NONE, NULL, -1, "", 0, 0 },
	{ "--no-sync is ssh's", { "burst", "build", "--no-sync", NULL },
	  "'--no-sync' is an option of cargo-burst ssh, not of build", NONE,
	  NONE, NULL, -1, "", 0, 0 },
	{ "--no-fetch for build and bench",
	  { "burst", "bench", "--no-fetch", "--bench", "b", NULL }, NULL,
	  { "--bench", "b", NULL }, NONE, NULL, -1, "f", 0, 0 },
	/* --help */
	{ "--help after the verb is the tool's",
	  { "burst", "build", "--release", "--help", NULL }, NULL,
	  { "--release", NULL }, NONE, NULL, -1, "h", 0, 0 },
	{ "-h after the verb", { "burst", "test", "-h", NULL }, NULL, NONE,
	  NONE, NULL, -1, "h", 0, 0 },
	/* values */
	{ "keep-alive bad value", { "burst", "build", "--keep-alive", "abc", NULL },
	  "invalid value 'abc' for '--keep-alive'", NONE, NONE, NULL, -1, "", 0,
	  0 },
	{ "keep-alive negative", { "burst", "--keep-alive=-5", "build", NULL },
	  "'--keep-alive'", NONE, NONE, NULL, -1, "", 0, 0 },
	{ "keep-alive missing value", { "burst", "build", "--keep-alive", NULL },
	  "'--keep-alive' needs a value", NONE, NONE, NULL, -1, "", 0, 0 },
	{ "env forms",
	  { "burst", "--env", "RUST_LOG", "test", "--env=FOO=bar", "--env", "E=",
	    "--env=X", "--env", "A=b=c", NULL }, NULL, NONE,
	  { "RUST_LOG", "FOO=bar", "E=", "X", "A=b=c", NULL }, NULL, -1, "", 0,
	  0 },
	{ "env bad name", { "burst", "test", "--env", "1BAD", NULL },
	  "invalid value '1BAD' for '--env'", NONE, NONE, NULL, -1, "", 0, 0 },
	{ "env empty", { "burst", "test", "--env=", NULL }, "'--env'", NONE,
	  NONE, NULL, -1, "", 0, 0 },
	/* +toolchain */
	{ "toolchain after the verb",
	  { "burst", "build", "+nightly", "--release", NULL }, NULL,
	  { "--release", NULL }, NONE, "nightly", -1, "", 0, 0 },
	{ "toolchain before the verb",
	  { "burst", "+nightly-2024-05-01", "build", "--release", NULL }, NULL,
	  { "--release", NULL }, NONE, "nightly-2024-05-01", -1, "", 0, 0 },
	{ "toolchain twice", { "burst", "+nightly", "build", "+stable", NULL },
	  "toolchain given twice", NONE, NONE, NULL, -1, "", 0, 0 },
	{ "a later +x is cargo's",
	  { "burst", "build", "--release", "+nightly", NULL }, NULL,
	  { "--release", "+nightly", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "empty toolchain", { "burst", "build", "+", NULL }, "empty toolchain",
	  NONE, NONE, NULL, -1, "", 0, 0 },
	/* ssh: its command is not cargo's, a leading -- is optional */
	{ "ssh --no-sync -- command",
	  { "burst", "-q", "ssh", "--no-sync", "--", "sh", "-c", "exit 7", NULL },
	  NULL, { "sh", "-c", "exit 7", NULL }, NONE, NULL, -1, "s", 1, 0 },
	{ "ssh command keeps its options",
	  { "burst", "ssh", "--host", "box", "cat", "--no-sync", NULL }, NULL,
	  { "cat", "--no-sync", NULL }, NONE, NULL, -1, "", 0, 0 },
	{ "ssh -L is run's", { "burst", "ssh", "-L", "80", NULL },
	  "'-L' is an option of cargo-burst run, not of ssh", NONE, NONE, NULL,
	  -1, "", 0, 0 },
	{ "everything at once",
	  { "burst", "-q", "+beta", "--keep-alive", "90", "-y", "test",
	    "--no-reap", "--workspace", "--env", "A", "--no-doctests", "--",
	    "--nocapture", "", NULL }, NULL,
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

/* Route "cargo-burst ARGV..."; returns what cli_route_run() returned. */
static int route(const char *const *args, struct run_args *ra,
		 const struct burst_cmd **cmd, struct burst_error *err)
{
	char *argv[MAXARGS + 1];
	int argc = (int)count(args) + 1;

	argv[0] = "cargo-burst";
	for (int i = 1; i <= argc; i++)
		argv[i] = (char *)args[i - 1];
	run_args_init(ra);
	return cli_route_run(argc, argv, ra, cmd, err);
}

static void run_case(const struct route_case *c)
{
	struct run_args ra;
	struct burst_error err = BURST_ERROR_INIT;
	const struct burst_cmd *cmd;
	int r = route(c->argv, &ra, &cmd, &err);

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
	is_str(ra.verb, c->argv[1][0] == '-' || c->argv[1][0] == '+' ?
	       ra.verb : c->argv[1], "%s: verb", c->name);
	check_vec("cargo args", c->name, &ra.cargo_args, c->cargo);
	check_vec("env", c->name, &ra.env, c->env);
	is_str(ra.toolchain, c->toolchain, "%s: toolchain", c->name);
	is_int(ra.keep_alive_secs, c->keep_alive, "%s: keep-alive", c->name);
	ok(ra.no_reap == !!strchr(c->bools, 'r') &&
	   ra.no_fetch == !!strchr(c->bools, 'f') &&
	   ra.yes == !!strchr(c->bools, 'y') &&
	   ra.no_doctests == !!strchr(c->bools, 'd') &&
	   ra.cargo_test == !!strchr(c->bools, 'c') &&
	   ra.no_sync == !!strchr(c->bools, 's') &&
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
	const struct burst_cmd *cmd;
	static const char *const argv[] = { "burst", "build", "--env", "A=1", "x",
					    NULL };

	ok(route(argv, &ra, &cmd, &err) == 0 && cmd == &cmd_build, "route once");
	run_args_release(&ra);
	ok(ra.env.nr == 0 && ra.cargo_args.nr == 0 && !ra.toolchain &&
	   ra.keep_alive_secs == -1, "release empties and re-inits");
	run_args_release(&ra);
	ok(ra.env.nr == 0 && ra.cargo_args.nr == 0 && !ra.toolchain &&
	   ra.keep_alive_secs == -1, "release twice is safe and leaves it empty");
}

/* A case with one expected string field: shards, junit, host, forwards. */
static void route_value(const char *const *argv, const char *want_error,
			const char *what, const char *want)
{
	struct run_args ra;
	struct burst_error err = BURST_ERROR_INIT;
	const struct burst_cmd *cmd;
	struct strbuf name = STRBUF_INIT, got = STRBUF_INIT;
	int rc;

	join(&name, (char *const *)argv, count(argv));
	rc = route(argv, &ra, &cmd, &err);
	if (want_error) {
		ok(rc < 0 && err.exit_code == BURST_EXIT_USAGE && err.message &&
		   strstr(err.message, want_error),
		   "%s: refused with '%s' (got '%s')", name.buf, want_error,
		   err.message ? err.message : "no error");
	} else {
		ok(rc == 0, "%s: routed (%s)", name.buf,
		   err.message ? err.message : "ok");
		if (!strcmp(what, "shards"))
			strbuf_addf(&got, "%d", ra.shards);
		else if (!strcmp(what, "junit"))
			strbuf_addstr(&got, ra.junit ? ra.junit : "(null)");
		else if (!strcmp(what, "host"))
			strbuf_addstr(&got, ra.host ? ra.host : "(null)");
		else
			join(&got, ra.forwards.v, ra.forwards.nr);
		is_str(got.buf, want, "%s: %s", name.buf, what);
	}
	burst_error_release(&err);
	run_args_release(&ra);
	strbuf_release(&name);
	strbuf_release(&got);
}

static void test_values(void)
{
#define V(...) ((const char *const[]){ "burst", __VA_ARGS__, NULL })
	route_value(V("test", "--shards", "3"), NULL, "shards", "3");
	route_value(V("test", "--shards=4", "--junit", "out.xml", "-p", "x"),
		    NULL, "junit", "out.xml");
	route_value(V("test", "-p", "x", "--shards", "2"), NULL, "shards", "2");
	route_value(V("test", "--shards", "2", "--", "--shards", "9"), NULL,
		    "shards", "2");
	route_value(V("test", "--shards", "0"),
		    "invalid value '0' for '--shards'", NULL, NULL);
	route_value(V("test", "--shards=33"), "from 1 to 32", NULL, NULL);
	route_value(V("test", "--shards"), "'--shards' needs a value", NULL, NULL);
	route_value(V("test", "--junit"), "'--junit' needs a value", NULL, NULL);
	route_value(V("test", "--junit="), "'--junit' needs a value", NULL, NULL);
	route_value(V("build", "--shards", "3"), "not of build", NULL, NULL);
	route_value(V("test", "--cargo-test", "--junit", "j.xml"),
		    "'--junit' needs nextest: it does not go with '--cargo-test'",
		    NULL, NULL);
	route_value(V("--shards", "2", "test", "--cargo-test"),
		    "'--shards' needs nextest", NULL, NULL);
	route_value(V("build", "--host", "me@box:2222", "--release"), NULL,
		    "host", "me@box:2222");
	route_value(V("--host=[::1]:22", "check"), NULL, "host", "[::1]:22");
	route_value(V("build", "--host", "me@"), "invalid host 'me@'", NULL, NULL);
	route_value(V("build", "--host", "box:99999"), "from 1 to 65535", NULL,
		    NULL);
	route_value(V("build", "--host", "a", "--host", "b"),
		    "'--host' given twice", NULL, NULL);
	route_value(V("build", "--host", "-oProxyCommand=x"),
		    "must not start with '-'", NULL, NULL);
	route_value(V("-L", "8080", "-L9000:80", "run", "--forward", "1:2",
		      "--forward=3", "--", "x"), NULL, "forwards",
		    "[8080] [9000:80] [1:2] [3]");
	route_value(V("-L", "0", "run"), "invalid value '0' for '--forward'",
		    NULL, NULL);
	route_value(V("run", "--forward", "8080:"),
		    "invalid value '8080:' for '--forward'", NULL, NULL);
	route_value(V("run", "--forward"), "'--forward' needs a value", NULL, NULL);
	route_value(V("-L", "80", "build"), "'-L' is an option of cargo-burst run",
		    NULL, NULL);
	route_value(V("--keep-alive", "60", "status"), "no run verb", NULL, NULL);
#undef V
}

/*
 * "A name that cargo also uses is never taken": the long options the tool
 * takes after the verb against cargo's own (cargo 1.95, `cargo <verb>
 * --help` for build, test, check, clippy, bench, run, and `cargo nextest
 * run --help`, which test runs).  tests/cli/test-dispatch.py compares with
 * the installed cargo too.
 */
static const char *const cargo_names[] = {
	"future-incompat-report", "message-format", "verbose", "quiet", "color",
	"config", "help", "package", "workspace", "exclude", "all", "lib",
	"bins", "bin", "examples", "example", "tests", "test", "benches",
	"bench", "all-targets", "features", "all-features",
	"no-default-features", "release", "profile", "jobs", "keep-going",
	"target", "target-dir", "artifact-dir", "unit-graph", "timings",
	"manifest-path", "ignore-rust-version", "locked", "offline", "frozen",
	"no-run", "no-fail-fast", "doc", "no-deps", "fix", "version", "explain",
	/* nextest run */
	"cargo-profile", "build-jobs", "cargo-quiet", "cargo-verbose",
	"filterset", "ignore-default-filter", "run-ignored", "partition",
	"fail-fast", "max-fail", "test-threads", "retries", "no-capture",
	"nocapture", "no-tests", "hide-progress-bar", "status-level",
	"final-status-level", "failure-output", "success-output",
	"archive-file", "archive-format", "extract-to", "workspace-remap",
	"target-dir-remap", "tool-config-file", "config-file", "user-config-file",
	"cargo-message-format", "cargo-message-format", "binaries-metadata",
	"cargo-metadata", "show-progress", "no-output-indent", "debugger",
	"tracer", "stress-count", "stress-duration", "bench",
};

static void test_no_cargo_name_taken(void)
{
	size_t checked = 0;

	for (size_t c = 0; burst_commands[c]; c++) {
		const struct burst_cmd *cmd = burst_commands[c];

		if (!(cmd->flags & CMD_RUN))
			continue;
		for (const struct burst_option *o = cmd->options; o->id; o++) {
			bool clash = false;

			if (!(o->flags & OPT_AFTER_VERB))
				continue;
			for (size_t k = 0; k < ARRAY_SIZE(cargo_names); k++)
				clash |= !strcmp(o->long_name, cargo_names[k]);
			ok(!clash, "%s --%s: not a cargo name", cmd->name,
			   o->long_name);
			checked++;
		}
	}
	ok(checked >= 35, "checked the after-verb options of every run verb (%zu)",
	   checked);
}

/*
 * The request of a routed command line and a config: --keep-alive applied
 * to the config (as the dispatcher does) is the request's, the policy
 * keys come from the config, --host wins over the config's host, the
 * forwards are parsed, --junit alone takes the sharded path.
 */
static int request(const char *const *argv, const char *cfg_host, struct run_request *req,
		   struct burst_config *cfg, struct burst_error *err)
{
	struct run_args ra;
	const struct burst_cmd *cmd;
	struct config_overrides o = { -1, NULL, NULL };
	int rc;

	config_init(cfg);
	cfg->billing_margin_secs = 60;
	cfg->volume_keep_alive_secs = 7200;
	cfg->host = cfg_host ? xstrdup(cfg_host) : NULL;
	if (route(argv, &ra, &cmd, err) < 0) {
		run_args_release(&ra);
		return -1;
	}
	o.keep_alive_secs = ra.keep_alive_secs;
	rc = config_apply_cli(cfg, &o, err);
	if (!rc)
		rc = run_request_build(req, &ra, cfg, err);
	/* the request points into ra: check it before releasing */
	if (!rc) {
		ok(req->env == &ra.env, "the request's env is the routed --env");
		is_str(req->toolchain ? req->toolchain : "(null)",
		       ra.toolchain ? ra.toolchain : "(null)", "the routed +toolchain");
		is_str(req->host ? req->host : "(null)", ra.host ? ra.host :
		       cfg_host ? cfg_host : "(null)", "host: --host, else the config's");
		/* what the pipeline reads of the run (it includes no cli.h) */
		ok(req->cargo_args == &ra.cargo_args, "the request's cargo args are the routed ones");
		is_str(req->verb, ra.verb, "the routed verb");
		ok(req->no_fetch == ra.no_fetch && req->yes == ra.yes &&
		   req->no_doctests == ra.no_doctests && req->cargo_test == ra.cargo_test &&
		   req->no_sync == ra.no_sync && req->dry_run == ra.dry_run,
		   "the routed switches");
		ok(req->junit == ra.junit, "the routed --junit");
	}
	run_args_release(&ra);
	return rc;
}

#define V(...) ((const char *const[]){ "burst", __VA_ARGS__, NULL })
static void test_request(void)
{
	struct run_request req;
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;

	ok(request(V("build"), NULL, &req, &cfg, &err) == 0, "plain build: a request");
	is_int(req.keep_alive_secs, cfg.keep_alive_secs, "keep-alive: the config's");
	is_int(req.keep_alive_secs, 300, "... its default");
	is_int(req.billing_margin_secs, 60, "billing margin: the config's");
	is_int(req.volume_keep_alive_secs, 7200, "volume keep-alive: the config's");
	ok(req.billing_hour_hold && !req.no_reap && !req.sharded && !req.nforwards,
	   "hold, reap, no shards, no forwards");
	run_request_release(&req);
	config_release(&cfg);

	ok(request(V("--keep-alive", "900", "--no-reap", "-L", "8080", "+nightly", "run",
		     "--forward", "5433:5432"), "me@cfg-host", &req, &cfg, &err) == 0,
	   "run with options: a request (%s)", err.message ? err.message : "ok");
	is_int(req.keep_alive_secs, 900, "--keep-alive wins over the config");
	ok(req.no_reap, "--no-reap");
	is_int((long long)req.nforwards, 2, "two forwards");
	ok(req.nforwards == 2 && req.forwards[0].local == 8080 && req.forwards[0].remote == 8080 &&
	   req.forwards[1].local == 5433 && req.forwards[1].remote == 5432,
	   "... parsed: 8080->8080, 5433->5432");
	run_request_release(&req);
	config_release(&cfg);

	ok(request(V("--host", "root@cli-host", "test", "--junit", "j.xml"), "me@cfg-host", &req,
		   &cfg, &err) == 0, "test --junit --host: a request");
	ok(req.sharded && req.shards == 0, "--junit alone: the sharded path with no --shards");
	run_request_release(&req);
	config_release(&cfg);

	ok(request(V("-y", "--dry-run", "build", "--no-fetch", "--release"), NULL, &req, &cfg,
		   &err) == 0, "build -y --dry-run --no-fetch: a request");
	/* (its vectors pointed into the routed arguments, released by now) */
	ok(req.yes && req.dry_run && req.no_fetch && !req.no_sync, "... its switches");
	is_str(req.verb, "build", "... the verb");
	run_request_release(&req);
	config_release(&cfg);

	ok(request(V("--no-sync", "ssh", "--", "ls"), NULL, &req, &cfg, &err) == 0,
	   "ssh --no-sync: a request");
	ok(req.no_sync && !req.yes, "... --no-sync");
	run_request_release(&req);
	config_release(&cfg);

	ok(request(V("test", "--shards", "3"), NULL, &req, &cfg, &err) == 0, "--shards 3");
	ok(req.sharded && req.shards == 3, "... sharded, 3");
	run_request_release(&req);
	config_release(&cfg);
	burst_error_release(&err);
}
#undef V

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(&cases[i]);
	test_release_reuse();
	test_values();
	test_no_cargo_name_taken();
	test_request();
	return done_testing();
}

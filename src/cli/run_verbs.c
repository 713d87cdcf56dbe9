/*
 * run_verbs.c - the run verbs' table entries and option tables: build,
 * test, check, clippy, bench, run.  Their arguments are routed by
 * run_args_route() into ctx->run, and the request built from them (ctx->req)
 * is handed to pipeline_run() (pipeline.h), which runs them remotely.
 */
#include "burst/cli.h"
#include "burst/pipeline.h"

/* The exec of the run verbs: the pipeline with the request ctx holds. */
static int run_verb(struct burst_ctx *ctx)
{
	struct pipeline_job job;

	cli_pipeline_job(&job, ctx);
	return pipeline_run(&job, &ctx->err);
}

#define RUN_USAGE(verb) \
	"cargo burst [OPTIONS] [+TOOLCHAIN] " verb " [CARGO ARGS]..."

/* The options every run verb takes, and the ones of some of them. */
#define OPT_KEEP_ALIVE { RUN_OPT_KEEP_ALIVE, 0, "keep-alive", "SECONDS", \
	"Idle time before the server is deleted", OPT_VALUE | OPT_AFTER_VERB }
#define OPT_NO_REAP { RUN_OPT_NO_REAP, 0, "no-reap", NULL, \
	"Leave no reaper: the server stays up", OPT_AFTER_VERB }
#define OPT_DRY_RUN { RUN_OPT_DRY_RUN, 0, "dry-run", NULL, \
	"Print what would happen and its cost; create nothing", OPT_AFTER_VERB }
#define OPT_NO_FETCH { RUN_OPT_NO_FETCH, 0, "no-fetch", NULL, \
	"Do not fetch the built artifacts", OPT_AFTER_VERB }
#define OPT_TEST \
	{ RUN_OPT_NO_DOCTESTS, 0, "no-doctests", NULL, \
	  "Do not run doctests after the tests", OPT_AFTER_VERB }, \
	{ RUN_OPT_CARGO_TEST, 0, "cargo-test", NULL, \
	  "Use cargo test instead of nextest", OPT_AFTER_VERB }, \
	{ RUN_OPT_SHARDS, 0, "shards", "N", \
	  "Spread the tests over N servers (nextest)", \
	  OPT_VALUE | OPT_AFTER_VERB }, \
	{ RUN_OPT_JUNIT, 0, "junit", "PATH", \
	  "Write a JUnit report (nextest; merged with --shards)", \
	  OPT_VALUE | OPT_AFTER_VERB }
#define OPT_FORWARD { RUN_OPT_FORWARD, 'L', "forward", "LOCAL[:REMOTE]", \
	"Forward localhost:LOCAL to the server's port (repeatable)", \
	OPT_VALUE | OPT_REPEAT | OPT_AFTER_VERB }
#define OPT_HOST { RUN_OPT_HOST, 0, "host", "USER@MACHINE[:PORT]", \
	"Use this ssh machine, not a Hetzner server", OPT_VALUE | OPT_AFTER_VERB }
#define OPT_ARCH { RUN_OPT_ARCH, 0, "arch", "x86|arm64", \
	"Build on an x86 or arm64 server (Ampere, cax types)", OPT_VALUE | OPT_AFTER_VERB }
#define OPT_YES { RUN_OPT_YES, 'y', "yes", NULL, \
	"Do not ask before costly steps", OPT_AFTER_VERB }
#define OPT_ENV { RUN_OPT_ENV, 0, "env", "VAR[=VALUE]", \
	"Forward VAR (with a value: set it; repeatable)", \
	OPT_VALUE | OPT_REPEAT | OPT_AFTER_VERB }
#define OPT_QUIET { RUN_OPT_QUIET, 'q', "quiet", NULL, \
	"Less output (cargo's option too: passed on)", OPT_REPEAT | OPT_CARGO }
#define OPT_VERBOSE { RUN_OPT_VERBOSE, 'v', "verbose", NULL, \
	"More output, the remote command line (cargo's too: passed on)", \
	OPT_REPEAT | OPT_CARGO }
#define OPT_RUN_HELP { CLI_OPT_HELP, 'h', "help", NULL, \
	"Print this help (also after the verb, before a --)", 0 }
#define OPT_RUN_TAIL OPT_DRY_RUN, OPT_ARCH, OPT_HOST, OPT_YES, OPT_ENV, OPT_QUIET, OPT_VERBOSE, \
	OPT_RUN_HELP, OPT_END

#define RUN_NOTES(verb) \
	"Everything after the verb is cargo's, verbatim and in order, -- included:\n" \
	"`cargo burst " verb " ARGS` runs `cargo " verb " ARGS` on the server.  The\n" \
	"options above go between `burst` and the verb; for convenience their long\n" \
	"forms are also taken after the verb, up to the first -- (cargo has none\n" \
	"of these names); their short forms only go before the verb.  -h/--help\n" \
	"after the verb prints this help, not cargo's:\n" \
	"cargo's own options are in `cargo " verb " --help`, locally.  +TOOLCHAIN\n" \
	"selects a rustup toolchain on the server.  The exit status is the remote\n" \
	"cargo's.\n"

static const struct burst_option build_options[] = {
	OPT_KEEP_ALIVE, OPT_NO_REAP, OPT_NO_FETCH, OPT_RUN_TAIL,
};

static const struct burst_option test_options[] = {
	OPT_KEEP_ALIVE, OPT_NO_REAP, OPT_TEST, OPT_RUN_TAIL,
};

static const struct burst_option plain_options[] = {
	OPT_KEEP_ALIVE, OPT_NO_REAP, OPT_RUN_TAIL,
};

static const struct burst_option run_options[] = {
	OPT_KEEP_ALIVE, OPT_NO_REAP, OPT_FORWARD, OPT_RUN_TAIL,
};

const struct burst_cmd cmd_build = {
	"build", "Compile the workspace on the server and fetch the artifacts",
	RUN_USAGE("build"), RUN_NOTES("build"),
	CMD_RUN_VERB | CMD_RUN_FETCH, run_verb, build_options,
};

const struct burst_cmd cmd_test = {
	"test", "Run the tests on the server (nextest, then doctests)",
	RUN_USAGE("test"), RUN_NOTES("test"),
	CMD_RUN_VERB | CMD_RUN_TEST, run_verb, test_options,
};

const struct burst_cmd cmd_check = {
	"check", "Check the workspace on the server", RUN_USAGE("check"),
	RUN_NOTES("check"), CMD_RUN_VERB, run_verb, plain_options,
};

const struct burst_cmd cmd_clippy = {
	"clippy", "Run clippy on the server", RUN_USAGE("clippy"),
	RUN_NOTES("clippy"), CMD_RUN_VERB, run_verb, plain_options,
};

const struct burst_cmd cmd_bench = {
	"bench", "Run the benchmarks on the server", RUN_USAGE("bench"),
	RUN_NOTES("bench"), CMD_RUN_VERB | CMD_RUN_FETCH, run_verb,
	build_options,
};

const struct burst_cmd cmd_run = {
	"run", "Build and run a binary on the server", RUN_USAGE("run"),
	RUN_NOTES("run"), CMD_RUN_VERB | CMD_RUN_FORWARD, run_verb,
	run_options,
};

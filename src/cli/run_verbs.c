/*
 * run_verbs.c - the run verbs' table entries: build, test, check, clippy,
 * bench, run.  Their arguments are routed by run_args_parse() into
 * ctx->run before pipeline_run() (pipeline.h) runs them remotely.
 */
#include "burst/cli.h"
#include "burst/pipeline.h"

#define RUN_USAGE(verb) \
	"cargo burst [+TOOLCHAIN] " verb " [OPTIONS] [--] [CARGO ARGS]..."

#define RUN_OPTIONS_HEAD \
	"Options (before cargo's arguments):\n" \
	"        --keep-alive SECONDS   Idle time before the server is deleted\n" \
	"        --no-reap              Leave no reaper: the server stays up\n"

#define RUN_OPTIONS_FETCH \
	"        --no-fetch             Do not fetch the built artifacts\n"

#define RUN_OPTIONS_TEST \
	"        --no-doctests          Do not run doctests after nextest\n" \
	"        --cargo-test           Use cargo test instead of nextest\n" \
	"        --shards N             Spread the tests over N servers (nextest)\n" \
	"        --junit PATH           Write a JUnit report (merged with --shards)\n"

#define RUN_OPTIONS_HOST \
	"        --host USER@MACHINE[:PORT]   Use this ssh machine, not a Hetzner server\n"

#define RUN_OPTIONS_FORWARD \
	"    -L, --forward LOCAL[:REMOTE]   Forward localhost:LOCAL to the server's port\n"

#define RUN_OPTIONS_TAIL \
	RUN_OPTIONS_HOST \
	"    -y, --yes                  Do not ask before costly steps\n" \
	"        --env VAR[=VALUE]      Forward VAR (with a value: set it)\n" \
	"    -q, --quiet                Less output (also passed to cargo)\n" \
	"    -v, --verbose              More output (also passed to cargo)\n" \
	"    -h, --help                 Print help\n\n" \
	"The first argument that is not one of these starts cargo's arguments;\n" \
	"everything from there goes to cargo unchanged (a leading -- is\n" \
	"optional, an inner -- is kept).  +TOOLCHAIN selects a rustup toolchain\n" \
	"on the server.  The exit status is the remote cargo's.\n"

const struct burst_cmd cmd_build = {
	"build", "Compile the workspace on the server and fetch the artifacts",
	RUN_USAGE("build"),
	RUN_OPTIONS_HEAD RUN_OPTIONS_FETCH RUN_OPTIONS_TAIL,
	CMD_RUN_VERB | CMD_RUN_FETCH, pipeline_run,
};

const struct burst_cmd cmd_test = {
	"test", "Run the tests on the server (nextest, then doctests)",
	RUN_USAGE("test"),
	RUN_OPTIONS_HEAD RUN_OPTIONS_TEST RUN_OPTIONS_TAIL,
	CMD_RUN_VERB | CMD_RUN_TEST, pipeline_run,
};

const struct burst_cmd cmd_check = {
	"check", "Check the workspace on the server", RUN_USAGE("check"),
	RUN_OPTIONS_HEAD RUN_OPTIONS_TAIL, CMD_RUN_VERB, pipeline_run,
};

const struct burst_cmd cmd_clippy = {
	"clippy", "Run clippy on the server", RUN_USAGE("clippy"),
	RUN_OPTIONS_HEAD RUN_OPTIONS_TAIL, CMD_RUN_VERB, pipeline_run,
};

const struct burst_cmd cmd_bench = {
	"bench", "Run the benchmarks on the server", RUN_USAGE("bench"),
	RUN_OPTIONS_HEAD RUN_OPTIONS_FETCH RUN_OPTIONS_TAIL,
	CMD_RUN_VERB | CMD_RUN_FETCH, pipeline_run,
};

const struct burst_cmd cmd_run = {
	"run", "Build and run a binary on the server", RUN_USAGE("run"),
	RUN_OPTIONS_HEAD RUN_OPTIONS_FORWARD RUN_OPTIONS_TAIL,
	CMD_RUN_VERB | CMD_RUN_FORWARD, pipeline_run,
};

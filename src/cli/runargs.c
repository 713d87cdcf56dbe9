/* runargs.c - routing of a run verb's arguments; see include/burst/cli.h. */
#include <stdlib.h>
#include <string.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/pipeline.h"
#include "burst/remote.h"
#include "burst/shard.h"

void run_args_init(struct run_args *ra)
{
	memset(ra, 0, sizeof(*ra));
	ra->keep_alive_secs = -1;
	strvec_init(&ra->env);
	strvec_init(&ra->cargo_args);
	strvec_init(&ra->forwards);
}

void run_args_release(struct run_args *ra)
{
	free(ra->toolchain);
	strvec_clear(&ra->env);
	strvec_clear(&ra->cargo_args);
	free(ra->host);
	free(ra->arch);
	strvec_clear(&ra->forwards);
	free(ra->junit);
	run_args_init(ra);
}

int run_args_toolchain(struct run_args *ra, const char *arg,
		       struct burst_error *err)
{
	const char *name = arg + 1;

	if (!*name)
		return burst_error_set(err, BURST_EXIT_USAGE,
				       "empty toolchain name in '+'");
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		      *p == '_')) {
			burst_error_set(err, BURST_EXIT_USAGE,
					"invalid toolchain name '%s'", name);
			burst_error_hint(err, "a rustup toolchain looks like "
					 "+nightly, +1.80.0 or +nightly-2024-05-01");
			return -1;
		}
	}
	if (ra->toolchain) {
		burst_error_set(err, BURST_EXIT_USAGE,
				"toolchain given twice ('+%s' and '%s')",
				ra->toolchain, arg);
		return -1;
	}
	ra->toolchain = xstrdup(name);
	return 0;
}

static int env_value(struct run_args *ra, const char *value,
		     struct burst_error *err)
{
	const char *eq = strchr(value, '=');
	size_t len = eq ? (size_t)(eq - value) : strlen(value);
	char *name = xstrndup(value, len);
	int ret = 0;

	if (!config_env_name_valid(name)) {
		burst_error_set(err, BURST_EXIT_USAGE,
				"invalid value '%s' for '--env': '%s' is not an "
				"environment variable name", value, name);
		burst_error_hint(err, "use --env VAR or --env VAR=VALUE, where "
				 "VAR matches [A-Za-z_][A-Za-z0-9_]*");
		ret = -1;
		goto out;
	}
	strvec_push(&ra->env, value);
out:
	free(name);
	return ret;
}

static int keep_alive_value(struct run_args *ra, const char *value,
			    struct burst_error *err)
{
	/* the range of the config key it overrides (config_apply_cli()) */
	const struct config_key *k = &config_keys[CONFIG_KEEP_ALIVE_SECS];

	if (parse_int64(value, k->min, k->max, &ra->keep_alive_secs) < 0) {
		burst_error_set(err, BURST_EXIT_USAGE,
				"invalid value '%s' for '--keep-alive': expected "
				"a number of seconds from %lld to %lld", value,
				(long long)k->min, (long long)k->max);
		return -1;
	}
	return 0;
}

static int host_value(struct run_args *ra, const char *value,
		      struct burst_error *err)
{
	struct remote_host h = REMOTE_HOST_INIT;
	int ret;

	if (ra->host)
		return burst_error_set(err, BURST_EXIT_USAGE,
				       "'--host' given twice ('%s' and '%s')",
				       ra->host, value);
	ret = pipeline_parse_host(value, &h, err);
	remote_host_release(&h);
	if (ret < 0)
		return -1;
	ra->host = xstrdup(value);
	return 0;
}

static int forward_value(struct run_args *ra, const char *value,
			 struct burst_error *err)
{
	int local, remote;

	if (pipeline_parse_forward(value, &local, &remote, err) < 0)
		return -1;
	strvec_push(&ra->forwards, value);
	return 0;
}

/* test --shards N: 1 to SHARD_MAX servers. */
static int shards_value(struct run_args *ra, const char *value,
			struct burst_error *err)
{
	int64_t n;

	if (parse_int64(value, 1, SHARD_MAX, &n) < 0) {
		burst_error_set(err, BURST_EXIT_USAGE,
				"invalid value '%s' for '--shards': expected a "
				"number of servers from 1 to %d", value, SHARD_MAX);
		return -1;
	}
	ra->shards = (int)n;
	return 0;
}

/* Store one run option, validated. */
int run_args_apply(struct run_args *ra, const struct burst_option *opt,
		   const char *value, int count, struct burst_error *err)
{
	switch (opt->id) {
	case RUN_OPT_KEEP_ALIVE:
		return keep_alive_value(ra, value, err);
	case RUN_OPT_DRY_RUN:
		ra->dry_run = true;
		return 0;
	case RUN_OPT_NO_REAP:
		ra->no_reap = true;
		return 0;
	case RUN_OPT_NO_FETCH:
		ra->no_fetch = true;
		return 0;
	case RUN_OPT_YES:
		ra->yes = true;
		return 0;
	case RUN_OPT_ENV:
		return env_value(ra, value, err);
	case RUN_OPT_HOST:
		return host_value(ra, value, err);
	case RUN_OPT_FORWARD:
		return forward_value(ra, value, err);
	case RUN_OPT_ARCH:
		if (!config_arch_valid(value)) {
			burst_error_set(err, BURST_EXIT_USAGE, "invalid value '%s' for "
					"'--arch': expected x86 or arm64", value);
			burst_error_hint(err, "arm64 runs on Hetzner's Ampere (cax) types");
			return -1;
		}
		free(ra->arch);
		ra->arch = xstrdup(value);
		return 0;
	case RUN_OPT_NO_DOCTESTS:
		ra->no_doctests = true;
		return 0;
	case RUN_OPT_CARGO_TEST:
		ra->cargo_test = true;
		return 0;
	case RUN_OPT_SHARDS:
		return shards_value(ra, value, err);
	case RUN_OPT_JUNIT:
		if (!*value) {
			burst_error_set(err, BURST_EXIT_USAGE,
					"'--junit' needs a value");
			burst_error_hint(err, "use --junit PATH (the JUnit file)");
			return -1;
		}
		free(ra->junit);
		ra->junit = xstrdup(value);
		return 0;
	case RUN_OPT_NO_SYNC:
		ra->no_sync = true;
		return 0;
	case RUN_OPT_QUIET:
		ra->quiet += count;
		return 0;
	case RUN_OPT_VERBOSE:
		ra->verbose += count;
		return 0;
	case CLI_OPT_HELP:
		ra->help = true;
		return 0;
	}
	return burst_error_set(err, BURST_EXIT_INTERNAL,
			       "run option '--%s' has no handler", opt->long_name);
}

/* The run option an argument names, in any run verb. */
const struct burst_option *run_option_find(const char *arg)
{
	for (size_t c = 0; burst_commands[c]; c++) {
		const struct burst_cmd *cmd = burst_commands[c];
		const struct burst_option *o = NULL;
		char *argv[2] = { (char *)arg, (char *)"x" };
		const char *value;
		int i = 0, count;

		if (!(cmd->flags & CMD_RUN))
			continue;
		/* "x" stands in for a separate value: only the name counts */
		if (cli_opt_match(cmd->options, false, 2, argv, &i, &o, &value,
				  &count, NULL) > 0 && o->id != CLI_OPT_HELP &&
		    o->id != RUN_OPT_QUIET && o->id != RUN_OPT_VERBOSE)
			return o;
	}
	return NULL;
}

/*
 * A tool option that this verb does not take: say which verbs do, instead
 * of passing it on (long_only: after the verb).
 */
static int foreign_option(const struct burst_cmd *cmd, bool long_only,
			  int argc, char **argv, int i, struct burst_error *err)
{
	struct strbuf owners = STRBUF_INIT;
	size_t n = 0;

	for (size_t c = 0; burst_commands[c]; c++) {
		const struct burst_cmd *other = burst_commands[c];
		const struct burst_option *o = NULL;
		const char *value;
		int j = i, count;

		if (!(other->flags & CMD_RUN) || other == cmd ||
		    cli_opt_match(other->options, long_only, argc, argv, &j, &o,
				  &value, &count, NULL) == 0)
			continue;
		strbuf_addf(&owners, "%s%s", n++ ? ", " : "", other->name);
	}
	if (!n)
		return 0;
	burst_error_set(err, BURST_EXIT_USAGE,
			"'%s' is an option of cargo-burst %s, not of %s", argv[i],
			owners.buf, cmd->name);
	if (long_only)
		burst_error_hint(err, "to pass it to cargo anyway, write it "
				 "after '--'");
	else
		burst_error_hint(err, "see 'cargo burst help %s'", cmd->name);
	strbuf_release(&owners);
	return -1;
}

/*
 * A short tool option after the verb (-y, -L) would go to cargo, which has
 * no such option (tests/cli check that): a usage error that says where it
 * goes, before a server is started for a command cargo refuses.
 */
static int short_after_verb(const struct burst_cmd *cmd, int argc, char **argv,
			    int i, struct burst_error *err)
{
	const struct burst_option *o = NULL;
	const char *value;
	char *args[2] = { argv[i], (char *)"x" };
	int count, at = 0;

	/* "x" stands in for a value that may be missing: only the name counts */
	if (cli_opt_match(cmd->options, false, 2, args, &at, &o, &value,
			  &count, NULL) <= 0 || !o->short_name)
		return foreign_option(cmd, false, argc, argv, i, err);
	burst_error_set(err, BURST_EXIT_USAGE,
			"'-%c' after the verb would go to cargo, which has no "
			"such option", o->short_name);
	burst_error_hint(err, "put it before the verb (cargo burst -%c%s %s "
			 "...) or write --%s", o->short_name,
			 o->arg ? " VALUE" : "", cmd->name, o->long_name);
	return -1;
}

/* The tool options given before the verb: all of them must be this verb's. */
static int route_pre(struct run_args *ra, const struct burst_cmd *cmd,
		     int npre, char **pre, struct burst_error *err)
{
	for (int i = 0; i < npre; i++) {
		const struct burst_option *o = NULL;
		const char *value;
		int count, m, at = i;

		m = cli_opt_match(cmd->options, false, npre, pre, &i, &o, &value,
				  &count, err);
		if (m < 0)
			return -1;
		if (!m) {
			if (foreign_option(cmd, false, npre, pre, at, err) < 0)
				return -1;
			return burst_error_set(err, BURST_EXIT_USAGE,
					       "unknown option '%s'", pre[at]);
		}
		if (run_args_apply(ra, o, value, count, err) < 0)
			return -1;
	}
	return 0;
}

/* ssh: its options, an optional --, then the command (not cargo's). */
static int route_shell(struct run_args *ra, const struct burst_cmd *cmd,
		       int i, int argc, char **argv, struct burst_error *err)
{
	for (; i < argc; i++) {
		const struct burst_option *o = NULL;
		const char *value;
		int count, m, at = i;

		m = cli_opt_match(cmd->options, false, argc, argv, &i, &o, &value,
				  &count, err);
		if (m < 0)
			return -1;
		if (!m) {
			if (foreign_option(cmd, false, argc, argv, at, err) < 0)
				return -1;
			break;
		}
		if (run_args_apply(ra, o, value, count, err) < 0)
			return -1;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	for (; i < argc; i++)
		strvec_push(&ra->cargo_args, argv[i]);
	return 0;
}

/* Route a run verb's options and cargo's arguments. */
int run_args_route(struct run_args *ra, const struct burst_cmd *cmd,
		   int npre, char **pre, int argc, char **argv,
		   struct burst_error *err)
{
	bool dashdash = false;
	int i = 0;

	ra->verb = cmd->name;
	if (route_pre(ra, cmd, npre, pre, err) < 0)
		return -1;
	if (argc > 0 && argv[0][0] == '+') {
		if (run_args_toolchain(ra, argv[0], err) < 0)
			return -1;
		i++;
	}
	if (cmd->flags & CMD_RUN_SHELL)
		return route_shell(ra, cmd, i, argc, argv, err);
	/* the -q/-v given before the verb are cargo's too: they go first */
	for (int k = 0; k < ra->quiet; k++)
		strvec_push(&ra->cargo_args, "-q");
	for (int k = 0; k < ra->verbose; k++)
		strvec_push(&ra->cargo_args, "-v");
	for (; i < argc; i++) {
		const struct burst_option *o = NULL;
		const char *arg = argv[i], *value;
		int count, m, at = i;

		if (dashdash) {
			strvec_push(&ra->cargo_args, arg);
			continue;
		}
		if (!strcmp(arg, "--")) {
			dashdash = true;
			strvec_push(&ra->cargo_args, arg);
			continue;
		}
		/* -h/--help and cargo's -q/-v (read, and passed on) */
		m = cli_opt_match(cmd->options, false, argc, argv, &i, &o,
				  &value, &count, NULL);
		if (m > 0 && (o->id == CLI_OPT_HELP || (o->flags & OPT_CARGO))) {
			if (run_args_apply(ra, o, value, count, err) < 0)
				return -1;
			if (o->flags & OPT_CARGO)
				strvec_push(&ra->cargo_args, arg);
			continue;
		}
		i = at;
		m = cli_opt_match(cmd->options, true, argc, argv, &i, &o, &value,
				  &count, err);
		if (m < 0)
			return -1;
		if (m > 0) {
			if (run_args_apply(ra, o, value, count, err) < 0)
				return -1;
			continue;
		}
		if (arg[0] == '-' && arg[1] == '-' &&
		    foreign_option(cmd, true, argc, argv, at, err) < 0)
			return -1;
		if (arg[0] == '-' && arg[1] != '-' &&
		    short_after_verb(cmd, argc, argv, at, err) < 0)
			return -1;
		strvec_push(&ra->cargo_args, arg);
	}
	if (ra->cargo_test && (ra->shards || ra->junit)) {
		burst_error_set(err, BURST_EXIT_USAGE,
				"'%s' needs nextest: it does not go with "
				"'--cargo-test'", ra->shards ? "--shards" : "--junit");
		burst_error_hint(err, "leave out --cargo-test");
		return -1;
	}
	return 0;
}

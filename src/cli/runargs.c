/* runargs.c - routing of a run verb's arguments; see include/burst/cli.h. */
#include <stdlib.h>
#include <string.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/pipeline.h"
#include "burst/remote.h"
#include "burst/shard.h"

/* The widest --keep-alive accepted (a week); config has the same bound. */
#define KEEP_ALIVE_MAX (7 * 24 * 3600)

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
	strvec_clear(&ra->forwards);
	free(ra->junit);
	run_args_init(ra);
}

/* Is s "-v", "-vv", ... (c = 'v') or "-q", "-qq", ...? */
static bool is_repeated_short(const char *s, char c)
{
	if (s[0] != '-' || s[1] != c)
		return false;
	for (s += 2; *s; s++)
		if (*s != c)
			return false;
	return true;
}

/*
 * Match "--name", "--name=value" or (with a value following) "--name value".
 * Returns 0 when arg is not this flag, 1 when it is (value set), -1 when the
 * value is missing.
 */
static int match_valued(const char *name, int argc, char **argv, int *i,
			const char **value)
{
	const char *rest;

	if (!skip_prefix(argv[*i], name, &rest))
		return 0;
	if (*rest == '=') {
		*value = rest + 1;
		return 1;
	}
	if (*rest)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
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
	if (parse_int64(value, 0, KEEP_ALIVE_MAX, &ra->keep_alive_secs) < 0) {
		burst_error_set(err, BURST_EXIT_USAGE,
				"invalid value '%s' for '--keep-alive': expected "
				"a number of seconds from 0 to %d", value,
				KEEP_ALIVE_MAX);
		return -1;
	}
	return 0;
}

/* "-L VALUE" or "-LVALUE": like match_valued() for a short flag. */
static int match_short_valued(char c, int argc, char **argv, int *i,
			      const char **value)
{
	const char *arg = argv[*i];

	if (arg[0] != '-' || arg[1] != c)
		return 0;
	if (arg[2]) {
		*value = arg + 2;
		return 1;
	}
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
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

static int missing_value(const char *flag, struct burst_error *err)
{
	burst_error_set(err, BURST_EXIT_USAGE, "'%s' needs a value", flag);
	if (!strcmp(flag, "--env"))
		burst_error_hint(err, "use --env VAR or --env VAR=VALUE");
	else if (!strcmp(flag, "--host"))
		burst_error_hint(err, "use --host USER@MACHINE[:PORT]");
	else if (!strcmp(flag, "--shards"))
		burst_error_hint(err, "use --shards N (the number of servers)");
	else if (!strcmp(flag, "--junit"))
		burst_error_hint(err, "use --junit PATH (the merged JUnit file)");
	else if (!strcmp(flag, "--forward"))
		burst_error_hint(err, "use --forward LOCAL[:REMOTE] (or -L LOCAL[:REMOTE])");
	else
		burst_error_hint(err, "use --keep-alive SECONDS");
	return -1;
}

/* A burst flag that this verb does not take: say so instead of passing it. */
static int foreign_flag(const struct burst_cmd *cmd, const char *arg,
			struct burst_error *err)
{
	const char *owners = NULL;

	if (!strcmp(arg, "--no-fetch") && !(cmd->flags & CMD_RUN_FETCH))
		owners = "build and bench";
	else if ((!strcmp(arg, "--no-doctests") ||
		  !strcmp(arg, "--cargo-test") || !strncmp(arg, "--shards", 8) ||
		  !strncmp(arg, "--junit", 7)) && !(cmd->flags & CMD_RUN_TEST))
		owners = "test";
	else if ((!strcmp(arg, "-L") || !strncmp(arg, "--forward", 9)) &&
		 !(cmd->flags & CMD_RUN_FORWARD))
		owners = "run";
	else if (!strcmp(arg, "--no-sync") && !(cmd->flags & CMD_RUN_SHELL))
		owners = "ssh";
	if (!owners)
		return 0;
	burst_error_set(err, BURST_EXIT_USAGE,
			"'%s' is only accepted by %s, not by %s", arg, owners,
			cmd->name);
	burst_error_hint(err, "to pass it to cargo anyway, put it after '--'");
	return -1;
}

int run_args_parse(struct run_args *ra, const struct burst_cmd *cmd,
		   int argc, char **argv, struct burst_error *err)
{
	struct strvec forwarded = STRVEC_INIT;
	int i = 0, ret = -1;

	ra->verb = cmd->name;
	for (int k = 0; k < ra->quiet; k++)
		strvec_push(&forwarded, "-q");
	for (int k = 0; k < ra->verbose; k++)
		strvec_push(&forwarded, "-v");

	if (argc > 0 && argv[0][0] == '+') {
		if (run_args_toolchain(ra, argv[0], err) < 0)
			goto out;
		i++;
	}
	for (; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		int m;

		if (!strcmp(arg, "--no-reap")) {
			ra->no_reap = true;
		} else if (!strcmp(arg, "--no-fetch") &&
			   (cmd->flags & CMD_RUN_FETCH)) {
			ra->no_fetch = true;
		} else if (!strcmp(arg, "--no-doctests") &&
			   (cmd->flags & CMD_RUN_TEST)) {
			ra->no_doctests = true;
		} else if (!strcmp(arg, "--cargo-test") &&
			   (cmd->flags & CMD_RUN_TEST)) {
			ra->cargo_test = true;
		} else if (!strcmp(arg, "-y") || !strcmp(arg, "--yes")) {
			ra->yes = true;
		} else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			ra->help = true;
		} else if (!strcmp(arg, "--quiet") || is_repeated_short(arg, 'q')) {
			ra->quiet += arg[1] == '-' ? 1 : (int)strlen(arg) - 1;
			strvec_push(&forwarded, arg);
		} else if (!strcmp(arg, "--verbose") ||
			   is_repeated_short(arg, 'v')) {
			ra->verbose += arg[1] == '-' ? 1 : (int)strlen(arg) - 1;
			strvec_push(&forwarded, arg);
		} else if ((m = match_valued("--keep-alive", argc, argv, &i,
					     &value)) != 0) {
			if (m < 0) {
				missing_value("--keep-alive", err);
				goto out;
			}
			if (keep_alive_value(ra, value, err) < 0)
				goto out;
		} else if ((m = match_valued("--env", argc, argv, &i, &value)) != 0) {
			if (m < 0) {
				missing_value("--env", err);
				goto out;
			}
			if (env_value(ra, value, err) < 0)
				goto out;
		} else if ((m = match_valued("--host", argc, argv, &i, &value)) != 0) {
			if (m < 0) {
				missing_value("--host", err);
				goto out;
			}
			if (host_value(ra, value, err) < 0)
				goto out;
		} else if ((cmd->flags & CMD_RUN_FORWARD) &&
			   ((m = match_valued("--forward", argc, argv, &i, &value)) != 0 ||
			    (m = match_short_valued('L', argc, argv, &i, &value)) != 0)) {
			if (m < 0) {
				missing_value("--forward", err);
				goto out;
			}
			if (forward_value(ra, value, err) < 0)
				goto out;
		} else if ((cmd->flags & CMD_RUN_TEST) &&
			   (m = match_valued("--shards", argc, argv, &i, &value)) != 0) {
			if (m < 0) {
				missing_value("--shards", err);
				goto out;
			}
			if (shards_value(ra, value, err) < 0)
				goto out;
		} else if ((cmd->flags & CMD_RUN_TEST) &&
			   (m = match_valued("--junit", argc, argv, &i, &value)) != 0) {
			if (m < 0 || !*value) {
				missing_value("--junit", err);
				goto out;
			}
			free(ra->junit);
			ra->junit = xstrdup(value);
		} else if (!strcmp(arg, "--no-sync") && (cmd->flags & CMD_RUN_SHELL)) {
			ra->no_sync = true;
		} else if (foreign_flag(cmd, arg, err) < 0) {
			goto out;
		} else {
			break;
		}
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	/* ssh runs a command, not cargo: -q/-v are ours alone */
	if (!(cmd->flags & CMD_RUN_SHELL))
		strvec_pushv(&ra->cargo_args, (const char *const *)forwarded.v);
	for (; i < argc; i++)
		strvec_push(&ra->cargo_args, argv[i]);
	ret = 0;
out:
	strvec_clear(&forwarded);
	return ret;
}

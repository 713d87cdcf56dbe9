/*
 * test-config.c - the layered configuration: defaults, layering and
 * sources, additive lists, --env conflicts, refused names, aliases, every
 * bad-input message, the token rules, the endpoint rule, formatting and
 * the workspace lookup.  Files live in a throw-away directory; HOME and
 * XDG_CONFIG_HOME point into it.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tap.h"
#include "burst/config.h"
#include "burst/log.h"
#include "burst/strbuf.h"
#include "burst/toml.h"

static char tmpdir[] = "/tmp/burst-config-XXXXXX";
static char *real_home;

static const char *const env_vars[] = {
	"HCLOUD_TOKEN", "HCLOUD_TOKEN_FILE", "HCLOUD_ENDPOINT",
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd;

	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		char *parent = xstrdup(dir);

		*strrchr(parent, '/') = '\0';
		mkdir(parent, 0755);
		mkdir(dir, 0755);
		free(parent);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		bail_out("cannot write a test file");
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		bail_out("short write");
	fchmod(fd, mode);
	close(fd);
	free(dir);
}

static char *tpath(const char *rel)
{
	return xstrfmt("%s/%s", tmpdir, rel);
}

extern char **environ;

/* The token's variables, and what is forwarded by default (RUST_BACKTRACE, ...). */
static void clear_env(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(env_vars); i++)
		unsetenv(env_vars[i]);
	for (size_t i = 0; environ[i];) {
		const char *eq = strchr(environ[i], '=');
		char *name = eq ? xstrndup(environ[i], (size_t)(eq - environ[i])) : NULL;

		if (name && config_env_default_forwarded(name)) {
			unsetenv(name);
			i = 0;
		} else {
			i++;
		}
		free(name);
	}
}

/* Apply one TOML text as layer src to a fresh or given config. */
static int apply(struct burst_config *cfg, const char *text,
		 enum config_source src, struct burst_error *err)
{
	return config_apply_toml(cfg, text, strlen(text),
				 src == CONFIG_SRC_PROJECT ? "proj.toml" :
				 "glob.toml", src, err);
}

/* Expect text (as the global layer) to fail with message and hint. */
static void bad(const char *text, const char *message, const char *hint,
		const char *name)
{
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;

	config_init(&cfg);
	ok(apply(&cfg, text, CONFIG_SRC_GLOBAL, &err) == -1 &&
	   err.exit_code == BURST_EXIT_CONFIG, "%s: refused", name);
	is_str(err.message, message, "%s: message", name);
	if (hint)
		is_str(err.hint, hint, "%s: hint", name);
	config_release(&cfg);
	burst_error_release(&err);
}

static void test_defaults(void)
{
	struct burst_config cfg;

	config_init(&cfg);
	is_str(cfg.endpoint, "https://api.hetzner.cloud/v1", "default endpoint");
	is_int(cfg.regions.nr, 3, "three default regions");
	ok(cfg.regions.nr == 3 && !strcmp(cfg.regions.v[0], "hel1") &&
	   !strcmp(cfg.regions.v[1], "fsn1") && !strcmp(cfg.regions.v[2], "nbg1"),
	   "regions hel1, fsn1, nbg1");
	is_str(cfg.server_type, "ccx63", "server_type");
	is_str(cfg.image_server_type, "cx22", "image_server_type");
	is_int(cfg.snapshot_keep, 2, "snapshot_keep");
	is_int(cfg.keep_alive_secs, 300, "keep_alive_secs");
	is_int(cfg.volume_keep_alive_secs, 3600, "volume_keep_alive_secs");
	is_int(cfg.volume_gb, 200, "volume_gb");
	ok(cfg.billing_hour_hold, "billing_hour_hold");
	is_int(cfg.billing_margin_secs, 120, "billing_margin_secs");
	is_int(cfg.sync_verify_secs, 86400, "sync_verify_secs");
	is_str(cfg.ssh_user, "root", "ssh_user");
	is_int(cfg.ssh_port, 22, "ssh_port");
	ok(cfg.token == NULL, "no token by default");
	is_int(cfg.forward_env_nr, 0, "no forward_env");
	is_int(cfg.extra_excludes.items.nr + cfg.unexclude.items.nr, 0,
	       "no excludes");
	{
		int bad = 0;

		for (int i = 0; i < CONFIG_KEY_COUNT; i++)
			if (cfg.source[i] != CONFIG_SRC_DEFAULT) {
				diag("key %d has a non-default source", i);
				bad++;
			}
		is_int(bad, 0, "every source is default");
		bad = 0;
		for (int i = 0; i < CONFIG_KEY_COUNT; i++)
			if (config_keys[i].id != (enum config_key_id)i || !config_keys[i].doc) {
				diag("key table row %d out of order or undocumented", i);
				bad++;
			}
		is_int(bad, 0, "key table rows are indexed by id and documented");
	}
	config_release(&cfg);
}

static void test_layering(void)
{
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;
	struct strvec cli_env = STRVEC_INIT;
	struct config_overrides o = { 900, &cli_env, NULL };

	config_init(&cfg);
	ok(apply(&cfg,
		 "keep_alive_secs = 600\n"
		 "volume_gb = 50\n"
		 "forward_env = [\"RUST_LOG\", \"FOO\"]\n"
		 "extra_excludes = [\"a\", \"b\"]\n"
		 "unexclude = [\"u1\"]\n"
		 "[hetzner]\n"
		 "token = \"global-token-1234\"\n"
		 "server_type = \"cpx51\"\n"
		 "regions = [\"fsn1\", \"hel1\"]\n",
		 CONFIG_SRC_GLOBAL, &err) == 0, "global layer applies");
	ok(apply(&cfg,
		 "volume_gb = 80\n"
		 "billing_hour_hold = false\n"
		 "forward_env = [\"FOO\", \"BAR\"]\n"
		 "extra_excludes = [\"b\", \"c\"]\n"
		 "hetzner.region = \"nbg1\"\n",
		 CONFIG_SRC_PROJECT, &err) == 0, "project layer applies");
	strvec_push(&cli_env, "FOO=from-cli");
	strvec_push(&cli_env, "NEW");
	strvec_push(&cli_env, "RUST_LOG");
	ok(config_apply_cli(&cfg, &o, &err) == 0, "cli layer applies");

	is_int(cfg.keep_alive_secs, 900, "cli --keep-alive wins");
	is_str(config_source_name(cfg.source[CONFIG_KEEP_ALIVE_SECS]), "cli",
	       "keep_alive_secs source cli");
	is_int(cfg.volume_gb, 80, "project replaces a scalar");
	is_str(config_source_name(cfg.source[CONFIG_VOLUME_GB]), "project",
	       "volume_gb source project");
	ok(!cfg.billing_hour_hold, "project sets a bool");
	is_str(cfg.server_type, "cpx51", "global scalar kept");
	is_str(config_source_name(cfg.source[CONFIG_SERVER_TYPE]), "global",
	       "server_type source global");
	ok(cfg.regions.nr == 1 && !strcmp(cfg.regions.v[0], "nbg1"),
	   "alias `region` (a string) replaces regions");
	is_str(config_source_name(cfg.source[CONFIG_REGIONS]), "project",
	       "regions source project");
	is_str(config_source_name(cfg.source[CONFIG_SSH_PORT]), "default",
	       "untouched key stays default");
	is_str(cfg.token, "global-token-1234", "token from the global file");
	is_str(cfg.token_origin, "global config glob.toml", "token origin");

	/* additive lists keep order, drop duplicates, record sources */
	ok(cfg.extra_excludes.items.nr == 3 &&
	   !strcmp(cfg.extra_excludes.items.v[0], "a") &&
	   !strcmp(cfg.extra_excludes.items.v[1], "b") &&
	   !strcmp(cfg.extra_excludes.items.v[2], "c"),
	   "extra_excludes are additive and de-duplicated: a b c");
	ok(cfg.extra_excludes.sources[0] == CONFIG_SRC_GLOBAL &&
	   cfg.extra_excludes.sources[1] == CONFIG_SRC_GLOBAL &&
	   cfg.extra_excludes.sources[2] == CONFIG_SRC_PROJECT,
	   "each exclude records its source");
	ok(cfg.unexclude.items.nr == 1, "unexclude from global kept");

	is_int(cfg.forward_env_nr, 4, "forward_env: RUST_LOG FOO BAR NEW");
	if (cfg.forward_env_nr == 4) {
		is_str(cfg.forward_env[0].name, "RUST_LOG", "first stays first");
		ok(cfg.forward_env[0].value == NULL &&
		   cfg.forward_env[0].source == CONFIG_SRC_GLOBAL,
		   "a bare --env of a known name changes nothing");
		is_str(cfg.forward_env[1].name, "FOO", "FOO keeps its position");
		is_str(cfg.forward_env[1].value, "from-cli",
		       "--env FOO=VALUE wins the name conflict");
		ok(cfg.forward_env[1].source == CONFIG_SRC_CLI, "FOO source cli");
		is_str(cfg.forward_env[2].name, "BAR", "project adds BAR");
		ok(cfg.forward_env[2].source == CONFIG_SRC_PROJECT,
		   "BAR source project");
		is_str(cfg.forward_env[3].name, "NEW", "cli adds NEW");
	}
	{
		struct strvec out = STRVEC_INIT, missing = STRVEC_INIT;

		setenv("RUST_LOG", "debug", 1);
		unsetenv("BAR");
		unsetenv("NEW");
		config_env_resolve(&cfg, &out, &missing);
		ok(out.nr == 2 && !strcmp(out.v[0], "RUST_LOG=debug") &&
		   !strcmp(out.v[1], "FOO=from-cli"),
		   "resolve: local value and explicit value");
		ok(missing.nr == 2 && !strcmp(missing.v[0], "BAR") &&
		   !strcmp(missing.v[1], "NEW"), "resolve: unset names reported");
		unsetenv("RUST_LOG");
		strvec_clear(&out);
		strvec_clear(&missing);
	}
	config_release(&cfg);
	strvec_clear(&cli_env);
	burst_error_release(&err);
}

static void test_lists_and_refused(void)
{
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;
	struct strvec cli_env = STRVEC_INIT;
	struct config_overrides o = { -1, &cli_env, NULL };

	config_init(&cfg);
	ok(apply(&cfg, "forward_env = [\"PATH\", \"OK_1\", \"CARGO_TARGET_DIR\"]\n",
		 CONFIG_SRC_GLOBAL, &err) == 0, "refused names are not errors");
	is_int(cfg.forward_env_nr, 1, "refused names are dropped");
	is_int(cfg.warnings.nr, 2, "one warning per refused name");
	is_str(cfg.warnings.nr ? cfg.warnings.v[0] : NULL,
	       "not forwarding `PATH` (glob.toml:1:16): cargo-burst sets it on "
	       "the server itself", "warning names the variable and position");
	strvec_push(&cli_env, "HOME=/x");
	ok(config_apply_cli(&cfg, &o, &err) == 0, "refused --env is dropped");
	is_int(cfg.forward_env_nr, 1, "HOME not added");
	is_str(cfg.warnings.nr == 3 ? cfg.warnings.v[2] : NULL,
	       "not forwarding `HOME` (--env): cargo-burst sets it on the "
	       "server itself", "--env warning");
	strvec_clear(&cli_env);
	strvec_push(&cli_env, "9X=1");
	ok(config_apply_cli(&cfg, &o, &err) == -1 &&
	   err.exit_code == BURST_EXIT_USAGE, "invalid --env name is a usage error");
	config_release(&cfg);
	strvec_clear(&cli_env);
	burst_error_release(&err);

	for (size_t i = 0; i < 9; i++) {
		static const char *const names[] = {
			"PATH", "HOME", "USER", "LOGNAME", "PWD", "OLDPWD",
			"SHELL", "CARGO_TARGET_DIR", "SCCACHE_DIR" };

		ok(config_env_name_refused(names[i]), "%s is refused", names[i]);
	}
	ok(!config_env_name_refused("RUST_LOG"), "RUST_LOG is not refused");
	ok(config_env_name_secret("HCLOUD_TOKEN") &&
	   config_env_name_secret("HCLOUD_TOKEN_FILE") &&
	   !config_env_name_secret("HCLOUD_ENDPOINT"),
	   "the token's variables are secret names");

	/* The token never leaves the machine, under its name or another. */
	config_init(&cfg);
	strvec_clear(&cli_env);
	strvec_push(&cli_env, "HCLOUD_TOKEN");
	strvec_push(&cli_env, "SMUGGLED=prefix-tok3n-s3cret-suffix");
	strvec_push(&cli_env, "HARMLESS=1");
	ok(config_apply_cli(&cfg, &o, &err) == 0, "--env with the token's name");
	ok(cfg.warnings.nr >= 1 &&
	   strstr(cfg.warnings.v[cfg.warnings.nr - 1], "`HCLOUD_TOKEN`") &&
	   strstr(cfg.warnings.v[cfg.warnings.nr - 1], "never leaves"),
	   "HCLOUD_TOKEN is refused with a warning");
	cfg.token = xstrdup("tok3n-s3cret");
	{
		struct strvec env = STRVEC_INIT;

		config_env_resolve(&cfg, &env, NULL);
		ok(env.nr == 1 && !strcmp(env.v[0], "HARMLESS=1"),
		   "a value containing the token is withheld (%zu forwarded)",
		   env.nr);
		strvec_clear(&env);
	}
	config_release(&cfg);
	strvec_clear(&cli_env);
	burst_error_release(&err);
	ok(config_env_name_valid("_a1") && config_env_name_valid("A"),
	   "valid env names");
	ok(!config_env_name_valid("") && !config_env_name_valid("1A") &&
	   !config_env_name_valid("A-B") && !config_env_name_valid("A=B") &&
	   !config_env_name_valid("Ä"), "invalid env names");

	/* regions: string, array, duplicates */
	config_init(&cfg);
	ok(apply(&cfg, "[hetzner]\nregions = \"ash\"\n", CONFIG_SRC_GLOBAL,
		 &err) == 0 && cfg.regions.nr == 1 &&
	   !strcmp(cfg.regions.v[0], "ash"), "regions as a string");
	ok(apply(&cfg, "[hetzner]\nregions = [\"hel1\", \"hel1\", \"fsn1\"]\n",
		 CONFIG_SRC_PROJECT, &err) == 0 && cfg.regions.nr == 2,
	   "regions array de-duplicated");
	config_release(&cfg);
	burst_error_release(&err);
}

/* What is forwarded without forward_env: the default set and its exclusions. */
static void test_env_forwarding(void)
{
	static const struct { const char *name; bool fwd; } table[] = {
		{ "RUSTFLAGS", true }, { "RUSTDOCFLAGS", true },
		{ "CARGO_ENCODED_RUSTFLAGS", true },
		{ "CARGO_ENCODED_RUSTDOCFLAGS", true },
		{ "CARGO_INCREMENTAL", true }, { "CARGO_BUILD_TARGET", true },
		{ "CARGO_BUILD_JOBS", true }, { "CARGO_PROFILE_RELEASE_LTO", true },
		{ "CARGO_TERM_VERBOSE", true }, { "CARGO_TERM_PROGRESS_WHEN", true },
		{ "CARGO_UNSTABLE_SPARSE", true }, { "CARGO_FEATURE_FOO", true },
		{ "RUSTC_BOOTSTRAP", true }, { "RUST_BACKTRACE", true },
		{ "RUST_LIB_BACKTRACE", true }, { "RUST_LOG", true },
		{ "RUST_MIN_STACK", true }, { "RUST_TEST_THREADS", true },
		{ "RUST_TEST_NOCAPTURE", true }, { "NEXTEST_PROFILE", true },
		/* about this machine, or set by cargo-burst */
		{ "CARGO_HOME", false }, { "RUSTUP_HOME", false },
		{ "CARGO_TARGET_DIR", false }, { "CARGO_BUILD_TARGET_DIR", false },
		{ "CARGO_BUILD_BUILD_DIR", false },
		{ "CARGO_BUILD_DEP_INFO_BASEDIR", false },
		{ "CARGO_BUILD_RUSTC", false }, { "CARGO_BUILD_RUSTDOC", false },
		{ "CARGO_BUILD_RUSTC_WRAPPER", false },
		{ "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER", false },
		{ "CARGO_TERM_COLOR", false }, { "RUSTC_WRAPPER", false },
		{ "SCCACHE_DIR", false }, { "PATH", false }, { "HOME", false },
		/* never the API's */
		{ "HCLOUD_TOKEN", false }, { "HCLOUD_TOKEN_FILE", false },
		{ "HCLOUD_ENDPOINT", false }, { "HCLOUD_CONTEXT", false },
		/* near misses */
		{ "RUSTFLAGSX", false }, { "XRUSTFLAGS", false }, { "CARGO", false },
		{ "CARGO_BUILD", false }, { "RUST_TEST", false }, { "rustflags", false },
		{ "DATABASE_URL", false }, { "", false },
	};
	static char *envp[] = {
		"PATH=/usr/bin", "RUSTFLAGS=-D warnings", "CARGO_HOME=/home/me/.cargo",
		"CARGO_TERM_COLOR=always", "NEXTEST_PROFILE=ci", "RUST_LOG=info",
		"HCLOUD_TOKEN=tok3n-s3cret", "CARGO_PROFILE_DEV_DEBUG=0",
		"RUST_BACKTRACE=prefix-tok3n-s3cret", "CARGO_BUILD_TARGET_DIR=/tmp/t",
		"=odd", "NOEQUALS", "FOO=explicit-local", NULL,
	};
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;
	struct strvec out = STRVEC_INIT, missing = STRVEC_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		ok(config_env_default_forwarded(table[i].name) == table[i].fwd,
		   "%s is %sforwarded by default", table[i].name,
		   table[i].fwd ? "" : "not ");

	config_init(&cfg);
	cfg.token = xstrdup("tok3n-s3cret");
	ok(apply(&cfg, "forward_env = [\"FOO\", \"RUST_LOG\"]\n",
		 CONFIG_SRC_PROJECT, &err) == 0, "forward_env FOO, RUST_LOG");
	config_env_resolve_from(&cfg, envp, &out, &missing);
	is_int(out.nr, 5, "forwarded: 2 listed + 3 by default");
	if (out.nr == 5) {
		is_str(out.v[0], "FOO=explicit-local", "listed first, in order");
		is_str(out.v[1], "RUST_LOG=info", "a listed default is not doubled");
		is_str(out.v[2], "RUSTFLAGS=-D warnings", "RUSTFLAGS by default");
		is_str(out.v[3], "NEXTEST_PROFILE=ci", "NEXTEST_* by default");
		is_str(out.v[4], "CARGO_PROFILE_DEV_DEBUG=0",
		       "CARGO_PROFILE_* by default");
	}
	strvec_clear(&out);

	ok(apply(&cfg, "forward_env_exclude = [\"NEXTEST_*\", \"RUSTFLAGS\", "
		 "\"RUST_LOG\"]\n", CONFIG_SRC_GLOBAL, &err) == 0,
	   "forward_env_exclude with a name and a prefix");
	ok(config_env_excluded(&cfg, "NEXTEST_RETRIES") &&
	   config_env_excluded(&cfg, "RUSTFLAGS") &&
	   !config_env_excluded(&cfg, "RUSTDOCFLAGS"), "exclusion matching");
	config_env_resolve_from(&cfg, envp, &out, NULL);
	ok(out.nr == 3 && !strcmp(out.v[0], "FOO=explicit-local") &&
	   !strcmp(out.v[1], "RUST_LOG=info") &&
	   !strcmp(out.v[2], "CARGO_PROFILE_DEV_DEBUG=0"),
	   "excluded defaults are dropped, forward_env still wins (%zu)", out.nr);
	strvec_clear(&out);
	ok(apply(&cfg, "forward_env_exclude = [\"*\"]\n", CONFIG_SRC_PROJECT,
		 &err) == 0, "forward_env_exclude = [\"*\"]");
	config_env_resolve_from(&cfg, envp, &out, NULL);
	ok(out.nr == 2, "\"*\" leaves only forward_env (%zu)", out.nr);
	strvec_clear(&out);
	strvec_clear(&missing);
	config_release(&cfg);

	/* forward_env "PREFIX*": every local variable starting with PREFIX */
	{
		static char *penv[] = {
			"MYAPP_A=1", "MYAPP=no", "MYAPPX=no", "MYAPP_B=tok3n-s3cret",
			"HCLOUD_TOKEN=tok3n-s3cret", "MYAPP_C=3", NULL,
		};

		config_init(&cfg);
		cfg.token = xstrdup("tok3n-s3cret");
		ok(apply(&cfg, "forward_env = [\"MYAPP_*\", \"HCLOUD*\"]\n",
			 CONFIG_SRC_PROJECT, &err) == 0, "forward_env with PREFIX*");
		ok(cfg.warnings.nr == 1 && strstr(cfg.warnings.v[0], "`HCLOUD*`") &&
		   strstr(cfg.warnings.v[0], "never leaves"), "HCLOUD* is refused");
		config_env_resolve_from(&cfg, penv, &out, &missing);
		ok(out.nr == 2 && !strcmp(out.v[0], "MYAPP_A=1") &&
		   !strcmp(out.v[1], "MYAPP_C=3") && !missing.nr,
		   "MYAPP_* forwards MYAPP_A and MYAPP_C (not the token's value), "
		   "nothing missing (%zu)", out.nr);
		strvec_clear(&out);
		strvec_clear(&missing);
		config_release(&cfg);
	}
	bad("forward_env = [\"*\"]\n",
	    "glob.toml:1:16: `*` in forward_env is not an environment variable name",
	    "names match [A-Za-z_][A-Za-z0-9_]*, or PREFIX* for every name "
	    "starting with PREFIX", "forward_env * alone");
	bad("forward_env_exclude = [\"A-B*\"]\n",
	    "glob.toml:1:24: `A-B*` in forward_env_exclude is not an environment "
	    "variable name", "write NAME, or PREFIX* for every name starting "
	    "with PREFIX", "forward_env_exclude bad name");
	bad("forward_env_exclude = [\"*A\"]\n",
	    "glob.toml:1:24: `*A` in forward_env_exclude is not an environment "
	    "variable name", NULL, "forward_env_exclude * not at the end");
	burst_error_release(&err);
}

static void test_bad_input(void)
{
	struct toml_error terr;
	char *want;
	const char *syntax = "x = 1\n[hetzner\n";

	/* syntax: path:line:col: reason, as the parser reports it */
	toml_free(toml_parse(syntax, strlen(syntax), &terr));
	want = xstrfmt("glob.toml:2:%d: %s", terr.col, terr.msg);
	bad(syntax, want, "fix the TOML syntax of glob.toml", "syntax error");
	ok(terr.line == 2, "syntax error is on line 2");
	free(want);
	bad("a = 1\na = 2\n", "glob.toml:2:1: duplicate key 'a'", NULL,
	    "duplicate key");

	/* unknown keys with suggestions */
	bad("volume_gb = 20\nkeep_alive = 5\n",
	    "glob.toml:2:1: unknown key `keep_alive`",
	    "did you mean `keep_alive_secs`?", "unknown key, close match");
	bad("[hetzner]\n  server_typ = \"x\"\n",
	    "glob.toml:2:3: unknown key `hetzner.server_typ`",
	    "did you mean `server_type`?", "unknown key in [hetzner]");
	bad("server_type = \"x\"\n", "glob.toml:1:1: unknown key `server_type`",
	    "did you mean `server_type` in the [hetzner] table?",
	    "hetzner key at top level");
	bad("[hetzner]\nvolume_gb = 20\n",
	    "glob.toml:2:1: unknown key `hetzner.volume_gb`",
	    "did you mean `volume_gb`? it is a top-level key, not in [hetzner]",
	    "top-level key in [hetzner]");
	bad("[hetzne]\ntoken = \"x\"\n", "glob.toml:1:2: unknown key `hetzne`",
	    "did you mean `[hetzner]`?", "misspelt table");
	bad("zzqqxx = 1\n", "glob.toml:1:1: unknown key `zzqqxx`",
	    "`cargo burst config --reference` lists the valid keys",
	    "unknown key, nothing close");
	bad("[hetzner]\nregions = [\"a\"]\nregion = \"b\"\n",
	    "glob.toml:3:1: `hetzner.region` and `hetzner.regions` both set; "
	    "keep one", NULL, "region and regions");

	/* wrong types */
	bad("volume_gb = \"big\"\n",
	    "glob.toml:1:1: wrong type for `volume_gb`: expected an integer, "
	    "found string", NULL, "string for integer");
	bad("billing_hour_hold = 1\n",
	    "glob.toml:1:1: wrong type for `billing_hour_hold`: expected a "
	    "boolean (true or false), found integer", NULL, "integer for bool");
	bad("[hetzner]\nregions = 5\n",
	    "glob.toml:2:1: wrong type for `hetzner.regions`: expected a string "
	    "or an array of strings, found integer", NULL, "integer for regions");
	bad("[hetzner]\nregions = [\"hel1\", 7]\n",
	    "glob.toml:2:20: wrong type for an element of `hetzner.regions`: "
	    "expected a string, found integer", NULL, "integer in regions array");
	bad("forward_env = \"RUST_LOG\"\n",
	    "glob.toml:1:1: wrong type for `forward_env`: expected an array of "
	    "environment variable names, found string", NULL,
	    "string for forward_env");
	bad("extra_excludes = [[\"x\"]]\n",
	    "glob.toml:1:19: wrong type for an element of `extra_excludes`: "
	    "expected a string, found array", NULL, "nested array");
	bad("hetzner = 5\n",
	    "glob.toml:1:1: wrong type for `hetzner`: expected a table, found "
	    "integer", NULL, "hetzner not a table");
	bad("ssh_port = 1.5\n",
	    "glob.toml:1:1: wrong type for `ssh_port`: expected an integer, "
	    "found float", NULL, "float for integer");
	bad("[hetzner]\nserver_type = 1979-05-27\n",
	    "glob.toml:2:1: wrong type for `hetzner.server_type`: expected a "
	    "string, found local date", NULL, "date for string");

	/* values */
	bad("volume_gb = 5\n",
	    "glob.toml:1:1: `volume_gb` = 5 is out of range: expected 10 to "
	    "10240", NULL, "volume_gb below range");
	bad("volume_gb = 10241\n",
	    "glob.toml:1:1: `volume_gb` = 10241 is out of range: expected 10 to "
	    "10240", NULL, "volume_gb above range");
	bad("ssh_port = 0\n", "glob.toml:1:1: `ssh_port` = 0 is out of range: "
	    "expected 1 to 65535", NULL, "port 0");
	bad("keep_alive_secs = -1\n", "glob.toml:1:1: `keep_alive_secs` = -1 "
	    "is out of range: expected 0 to 604800", NULL, "negative keep-alive");
	bad("[hetzner]\nregions = []\n",
	    "glob.toml:2:1: `hetzner.regions` must name at least one location",
	    NULL, "empty regions");
	bad("ssh_user = \"\"\n", "glob.toml:1:1: `ssh_user` must not be empty",
	    NULL, "empty string");
	bad("ssh_user = \"a\\u0000b\"\n",
	    "glob.toml:1:1: `ssh_user` contains a NUL character", NULL,
	    "NUL in a string");
	bad("forward_env = [\"OK\", \"1BAD\"]\n",
	    "glob.toml:1:22: `1BAD` in forward_env is not an environment "
	    "variable name", "names match [A-Za-z_][A-Za-z0-9_]*, or PREFIX* "
	    "for every name starting with PREFIX", "bad env name in a file");
	bad("forward_env = [\"A=1\"]\n",
	    "glob.toml:1:16: `A=1` in forward_env is not an environment "
	    "variable name", NULL, "NAME=VALUE is not allowed in a file");
}

static void test_token(void)
{
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;
	char *tokfile = tpath("token.txt"), *redacted;

	/* token in the project file */
	config_init(&cfg);
	ok(apply(&cfg, "[hetzner]\ntoken = \"proj-token-9876\"\n",
		 CONFIG_SRC_PROJECT, &err) == -1, "token in project refused");
	is_str(err.message, "proj.toml:2:1: the API token is not allowed in "
	       "the project config", "project token message");
	ok(err.hint && strstr(err.hint, "global config") &&
	   strstr(err.hint, "HCLOUD_TOKEN"), "hint says where it belongs");
	config_release(&cfg);

	/* env beats file; HCLOUD_TOKEN beats HCLOUD_TOKEN_FILE */
	config_init(&cfg);
	clear_env();
	apply(&cfg, "[hetzner]\ntoken = \"file-token-1111\"\n",
	      CONFIG_SRC_GLOBAL, &err);
	write_file(tokfile, "  filetok-2222\n\n", 0600);
	setenv("HCLOUD_TOKEN_FILE", tokfile, 1);
	ok(config_apply_env(&cfg, &err) == 0, "HCLOUD_TOKEN_FILE read");
	is_str(cfg.token, "filetok-2222", "token file trimmed");
	{
		char *w = xstrfmt("env HCLOUD_TOKEN_FILE (%s)", tokfile);

		is_str(cfg.token_origin, w, "origin names the token file");
		free(w);
	}
	setenv("HCLOUD_TOKEN", "envtok-3333", 1);
	ok(config_apply_env(&cfg, &err) == 0, "HCLOUD_TOKEN read");
	is_str(cfg.token, "envtok-3333", "HCLOUD_TOKEN wins over the file");
	is_str(cfg.token_origin, "env HCLOUD_TOKEN", "origin env HCLOUD_TOKEN");
	is_str(config_source_name(cfg.source[CONFIG_TOKEN]), "env",
	       "token source env");
	redacted = burst_redact("a file-token-1111 b filetok-2222 c envtok-3333");
	is_str(redacted, "a *** b *** c ***",
	       "every token read is registered for redaction");
	free(redacted);
	config_release(&cfg);

	config_init(&cfg);
	setenv("HCLOUD_TOKEN", "bad token", 1);
	ok(config_apply_env(&cfg, &err) == -1, "token with a space refused");
	ok(err.message && !strstr(err.message, "bad token"),
	   "the message does not show the token");
	config_release(&cfg);

	config_init(&cfg);
	unsetenv("HCLOUD_TOKEN");
	write_file(tokfile, " \n", 0600);
	ok(config_apply_env(&cfg, &err) == -1, "empty token file refused");
	ok(err.message && strstr(err.message, "is empty"), "says empty");
	setenv("HCLOUD_TOKEN_FILE", "/nonexistent/burst-token", 1);
	ok(config_apply_env(&cfg, &err) == -1 &&
	   err.exit_code == BURST_EXIT_CONFIG, "missing token file refused");
	clear_env();

	/* missing token */
	ok(config_require_token(&cfg, &err) == -1 &&
	   err.exit_code == BURST_EXIT_CONFIG, "require_token without one");
	is_str(err.message, "no Hetzner Cloud API token", "missing token message");
	ok(err.hint && strstr(err.hint, "HCLOUD_TOKEN") &&
	   strstr(err.hint, "[hetzner]") && strstr(err.hint, "config.toml"),
	   "hint names HCLOUD_TOKEN and the global file");
	config_release(&cfg);
	free(tokfile);
	burst_error_release(&err);
}

/*
 * A cloned repository's project file must not decide where the token goes,
 * which machine is trusted or which of the user's keys is used: those keys
 * are refused there with file:line:col, the reason and where they belong,
 * and accepted in the global file.
 */
static void test_global_only(void)
{
	static const struct {
		enum config_key_id id;
		const char *text, *message, *where;
	} cases[] = {
		{ CONFIG_ENDPOINT,
		  "volume_gb = 20\n[hetzner]\nendpoint = \"https://evil.example/v1\"\n",
		  "proj.toml:3:1: `hetzner.endpoint` is not allowed in the project "
		  "config: it decides where the API token is sent",
		  "set `endpoint` under [hetzner] in the global config" },
		{ CONFIG_HOST, "host = \"root@evil.example\"\n",
		  "proj.toml:1:1: `host` is not allowed in the project config: it "
		  "decides which machine gets your sources and your ssh login",
		  "set `host` in the global config" },
		{ CONFIG_SSH_USER, "keep_alive_secs = 5\n  ssh_user = \"git\"\n",
		  "proj.toml:2:3: `ssh_user` is not allowed in the project config: "
		  "it decides which ssh account and server your key logs in to",
		  "set `ssh_user` in the global config" },
		{ CONFIG_SSH_PORT, "ssh_port = 2222\n",
		  "proj.toml:1:1: `ssh_port` is not allowed in the project config: "
		  "it decides which ssh account and server your key logs in to",
		  "set `ssh_port` in the global config" },
		{ CONFIG_SSH_KEY_PATH, "ssh_key_path = \"~/.ssh/work_key\"\n",
		  "proj.toml:1:1: `ssh_key_path` is not allowed in the project "
		  "config: it decides which of your private keys is used",
		  "set `ssh_key_path` in the global config" },
		{ CONFIG_MAX_SERVERS, "max_servers = 50\n",
		  "proj.toml:1:1: `max_servers` is not allowed in the project "
		  "config: it is the cost guard, which a repository must not lift",
		  "set `max_servers` in the global config" },
		{ CONFIG_MAX_KEEP_ALIVE_SECS, "max_keep_alive_secs = 604800\n",
		  "proj.toml:1:1: `max_keep_alive_secs` is not allowed in the project "
		  "config: it is a cost ceiling, which a repository must not lift",
		  "set `max_keep_alive_secs` in the global config" },
		{ CONFIG_MAX_VOLUME_KEEP_ALIVE_SECS, "max_volume_keep_alive_secs = 7776000\n",
		  "proj.toml:1:1: `max_volume_keep_alive_secs` is not allowed in the "
		  "project config: it is a cost ceiling, which a repository must not lift",
		  "set `max_volume_keep_alive_secs` in the global config" },
		{ CONFIG_MAX_VOLUME_GB, "max_volume_gb = 10240\n",
		  "proj.toml:1:1: `max_volume_gb` is not allowed in the project "
		  "config: it is a cost ceiling, which a repository must not lift",
		  "set `max_volume_gb` in the global config" },
	};
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf ref = STRBUF_INIT;
	unsigned want = 1u << CONFIG_TOKEN, got = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char name[128];

		config_key_fullname(cases[i].id, name, sizeof(name));
		want |= 1u << cases[i].id;
		config_init(&cfg);
		ok(apply(&cfg, cases[i].text, CONFIG_SRC_PROJECT, &err) == -1 &&
		   err.exit_code == BURST_EXIT_CONFIG, "%s in the project file "
		   "is refused", name);
		is_str(err.message, cases[i].message, "%s: file:line:col and why",
		       name);
		ok(err.hint && strstr(err.hint, cases[i].where),
		   "%s: the hint says where it belongs (%s)", name,
		   err.hint ? err.hint : "no hint");
		burst_error_release(&err);
		config_release(&cfg);
		config_init(&cfg);
		ok(apply(&cfg, cases[i].text, CONFIG_SRC_GLOBAL, &err) == 0 &&
		   cfg.source[cases[i].id] == CONFIG_SRC_GLOBAL,
		   "%s in the global file is used", name);
		burst_error_release(&err);
		config_release(&cfg);
	}
	/* exactly these keys, so a new one is decided on purpose */
	for (int id = 0; id < CONFIG_KEY_COUNT; id++)
		if (config_keys[id].flags & CONFIG_KEY_GLOBAL_ONLY)
			got |= 1u << id;
	ok(got == want, "the global-only keys are the token, endpoint, host, "
	   "the ssh login and the cost guard (%#x, want %#x)", got, want);

	/* the reference (README table) says so, for those keys only */
	config_format_reference(&ref);
	for (int id = 0; id < CONFIG_KEY_COUNT; id++) {
		char name[128], *row;
		const char *line, *eol;
		bool says;

		row = xstrfmt("\n| `%s`", config_key_fullname(
			(enum config_key_id)id, name, sizeof(name)));
		line = strstr(ref.buf, row);
		eol = line ? strchr(line + 1, '\n') : NULL;
		says = line && eol && memmem(line, (size_t)(eol - line),
					     "Global file only", 16);
		ok(line && says == !!(want & (1u << id)), "reference: %s %s "
		   "global file only", name, want & (1u << id) ? "is" : "is not");
		free(row);
	}
	strbuf_release(&ref);
}

/*
 * extra_excludes and unexclude become rsync filter lines ("- PATTERN"):
 * a newline or any other control character would add rules of its own.
 */
static void test_pattern_control_chars(void)
{
	static const struct {
		const char *text, *message;
	} cases[] = {
		{ "extra_excludes = [\"ok/\", \"x\\n+ /secret\"]\n",
		  "proj.toml:1:26: an element of `extra_excludes` contains a "
		  "control character (U+000A)" },
		{ "extra_excludes = [\"a\\rb\"]\n",
		  "proj.toml:1:19: an element of `extra_excludes` contains a "
		  "control character (U+000D)" },
		{ "unexclude = [\"a\\tb\"]\n",
		  "proj.toml:1:14: an element of `unexclude` contains a control "
		  "character (U+0009)" },
		{ "unexclude = [\"\\u001b[31m\"]\n",
		  "proj.toml:1:14: an element of `unexclude` contains a control "
		  "character (U+001B)" },
		{ "unexclude = [\"a\\u007f\"]\n",
		  "proj.toml:1:14: an element of `unexclude` contains a control "
		  "character (U+007F)" },
		{ "forward_env = [\"A\\nB\"]\n",
		  "proj.toml:1:16: `A\nB` in forward_env is not an environment "
		  "variable name" },
	};
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		config_init(&cfg);
		ok(apply(&cfg, cases[i].text, CONFIG_SRC_PROJECT, &err) == -1 &&
		   err.exit_code == BURST_EXIT_CONFIG, "control character %zu "
		   "refused", i);
		is_str(err.message, cases[i].message, "control character %zu: "
		       "message with file:line:col", i);
		burst_error_release(&err);
		config_release(&cfg);
	}
	config_init(&cfg);
	ok(apply(&cfg, "extra_excludes = [\"dir with space/\", \"caf\\u00e9\"]\n",
		 CONFIG_SRC_PROJECT, &err) == 0 && cfg.extra_excludes.items.nr == 2,
	   "spaces and non-ASCII letters are fine");
	config_release(&cfg);
	burst_error_release(&err);
}

/* HCLOUD_TOKEN_FILE open to group or others: the global file's warning. */
static void test_token_file_mode(void)
{
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;
	char *tokfile = tpath("modetoken.txt"), *want;

	clear_env();
	setenv("HCLOUD_TOKEN_FILE", tokfile, 1);
	write_file(tokfile, "mode-token-4242\n", 0640);
	config_init(&cfg);
	ok(config_apply_env(&cfg, &err) == 0, "0640 token file is read");
	want = xstrfmt("%s holds the API token and is readable by other users "
		       "(mode 640); fix it with `chmod 600 %s`", tokfile, tokfile);
	is_int(cfg.warnings.nr, 1, "0640 token file: one warning");
	is_str(cfg.warnings.nr ? cfg.warnings.v[0] : NULL, want,
	       "the same warning as the global file, with the fix");
	config_release(&cfg);
	free(want);
	chmod(tokfile, 0600);
	config_init(&cfg);
	ok(config_apply_env(&cfg, &err) == 0 && cfg.warnings.nr == 0,
	   "0600 token file: no warning");
	config_release(&cfg);
	/* HCLOUD_TOKEN wins: the file is not read, so not judged */
	chmod(tokfile, 0666);
	setenv("HCLOUD_TOKEN", "env-token-4343", 1);
	config_init(&cfg);
	ok(config_apply_env(&cfg, &err) == 0 && cfg.warnings.nr == 0,
	   "a token file shadowed by HCLOUD_TOKEN is not warned about");
	config_release(&cfg);
	clear_env();
	burst_error_release(&err);
	free(tokfile);
}

static int endpoint(const char *url, struct burst_error *err)
{
	struct burst_config cfg;
	int r;

	config_init(&cfg);
	setenv("HCLOUD_ENDPOINT", url, 1);
	r = config_apply_env(&cfg, err);
	if (!r)
		r = config_validate(&cfg, err);
	config_release(&cfg);
	unsetenv("HCLOUD_ENDPOINT");
	return r;
}

static void test_endpoint(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	static const char *const good[] = {
		"https://api.hetzner.cloud/v1", "https://example.com",
		"http://127.0.0.1:8080/v1", "http://127.3.4.5/", "http://localhost:1",
		"http://[::1]:9000/v1", "https://10.0.0.1:443/api",
	};
	static const char *const badurls[] = {
		"http://example.com/v1", "http://127.0.0.1.evil.com/",
		"http://user@127.0.0.1/", "http://128.0.0.1/", "http://127.0.0/",
		"http://127.0.0.256/", "http://localhost.evil/", "ftp://127.0.0.1/",
		"api.hetzner.cloud", "https://", "http://:80/", "http://[::2]/",
		"https://a b/",
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ok(endpoint(good[i], &err) == 0, "endpoint %s accepted", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(badurls); i++)
		ok(endpoint(badurls[i], &err) == -1 &&
		   err.exit_code == BURST_EXIT_CONFIG, "endpoint %s refused",
		   badurls[i]);
	endpoint("http://example.com/v1", &err);
	is_str(err.message, "HCLOUD_ENDPOINT 'http://example.com/v1' uses plain "
	       "http for a host that is not loopback", "http rule message");
	ok(err.hint && strstr(err.hint, "https://"), "hint suggests https");

	{
		struct burst_config cfg;

		config_init(&cfg);
		ok(apply(&cfg, "[hetzner]\nendpoint = \"http://evil.example/\"\n",
			 CONFIG_SRC_GLOBAL, &err) == 0, "file endpoint parsed");
		ok(config_validate(&cfg, &err) == -1 && err.message &&
		   !strncmp(err.message, "hetzner.endpoint ", 17),
		   "file endpoint checked too, named by its key");
		config_release(&cfg);
	}
	burst_error_release(&err);
}

/* Full config_load with files on disk, HOME and XDG in the temp dir. */
static void test_load(void)
{
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;
	char *home = tpath("home"), *xdg = tpath("home/xdg");
	char *global = tpath("home/xdg/cargo-burst/config.toml");
	char *ws = tpath("ws"), *project = tpath("ws/.config/cargo-burst.toml");
	char *sshdir = tpath("home/.ssh"), *rsa = tpath("home/.ssh/id_rsa");
	char *ed = tpath("home/.ssh/id_ed25519"), *p;
	struct strvec cli_env = STRVEC_INIT;
	struct config_load_opts opts = { NULL, NULL, { -1, NULL, NULL } };
	struct strbuf out = STRBUF_INIT;
	cJSON *json, *item;

	mkdir(home, 0755);
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	clear_env();

	p = config_global_path();
	is_str(p, global, "global path under XDG_CONFIG_HOME");
	free(p);
	unsetenv("XDG_CONFIG_HOME");
	p = config_global_path();
	ok(p && !strcmp(p + strlen(home), "/.config/cargo-burst/config.toml") &&
	   !strncmp(p, home, strlen(home)), "global path defaults to ~/.config");
	free(p);
	setenv("XDG_CONFIG_HOME", xdg, 1);

	/* nothing on disk */
	config_init(&cfg);
	ok(config_load(&cfg, &opts, &err) == 0, "load without any file");
	ok(!cfg.global_found && !cfg.project_path, "no files found");
	p = xstrfmt("%s/.ssh/id_ed25519", home);
	is_str(cfg.ssh_key_path, p, "ssh key defaults to ~/.ssh/id_ed25519");
	free(p);
	config_release(&cfg);

	/* only id_rsa exists: fall back to it */
	mkdir(sshdir, 0700);
	write_file(rsa, "k", 0600);
	config_init(&cfg);
	config_load(&cfg, &opts, &err);
	is_str(cfg.ssh_key_path, rsa, "falls back to id_rsa");
	p = xstrfmt("%s.pub", rsa);
	is_str(cfg.ssh_pub_key_path, p, "public key path follows");
	free(p);
	config_release(&cfg);
	write_file(ed, "k", 0600);
	config_init(&cfg);
	config_load(&cfg, &opts, &err);
	is_str(cfg.ssh_key_path, ed, "id_ed25519 preferred when both exist");
	config_release(&cfg);

	/* both files, cli and env */
	write_file(global,
		   "keep_alive_secs = 100\nvolume_gb = 40\nssh_key_path = \"~/k\"\n"
		   "forward_env = [\"A\"]\n[hetzner]\ntoken = \"tok-global-5555\"\n",
		   0644);
	write_file(project, "volume_gb = 60\nforward_env = [\"B\", \"PWD\"]\n",
		   0644);
	strvec_push(&cli_env, "A=1");
	opts.workspace_root = ws;
	opts.cli.keep_alive_secs = 42;
	opts.cli.env = &cli_env;
	setenv("HCLOUD_ENDPOINT", "http://127.0.0.1:4000/v1/", 1);
	config_init(&cfg);
	ok(config_load(&cfg, &opts, &err) == 0, "load all layers");
	if (err.message)
		diag("error: %s", err.message);
	ok(cfg.global_found && cfg.project_found, "both files found");
	is_str(cfg.project_path, project, "project path");
	is_int(cfg.keep_alive_secs, 42, "cli keep-alive");
	is_int(cfg.volume_gb, 60, "project volume_gb");
	p = xstrfmt("%s/k", home);
	is_str(cfg.ssh_key_path, p, "~ expanded in ssh_key_path");
	free(p);
	is_str(cfg.endpoint, "http://127.0.0.1:4000/v1",
	       "endpoint from env, trailing slash dropped");
	is_int(cfg.warnings.nr, 2, "two warnings: refused PWD, readable token");
	ok(cfg.warnings.nr == 2 && strstr(cfg.warnings.v[1], "`PWD`"),
	   "PWD warning");
	p = xstrfmt("%s holds the API token and is readable by other users "
		    "(mode 644); fix it with `chmod 600 %s`", global, global);
	is_str(cfg.warnings.nr == 2 ? cfg.warnings.v[0] : NULL, p,
	       "permission warning with the exact chmod");
	free(p);

	/* text format */
	config_format(&cfg, &out);
	p = xstrfmt("hetzner.token = set (from global config %s)\n", global);
	ok(strstr(out.buf, p) != NULL, "text: token shown as set with origin");
	free(p);
	ok(!strstr(out.buf, "tok-global-5555"), "text: token value not shown");
	ok(strstr(out.buf, "\nkeep_alive_secs = 42 (cli)\n") != NULL,
	   "text: cli source");
	ok(strstr(out.buf, "\nvolume_gb = 60 (project)\n") != NULL,
	   "text: project source");
	ok(strstr(out.buf, "\nhetzner.endpoint = \"http://127.0.0.1:4000/v1\" "
		  "(env)\n") != NULL, "text: env source");
	ok(strstr(out.buf, "\nforward_env = [\"A=1\", \"B\"] (project, cli)\n") !=
	   NULL, "text: additive list with its sources");
	ok(strstr(out.buf, "\nssh_port = 22 (default)\n") != NULL,
	   "text: default source");
	if (!strstr(out.buf, "\nforward_env = [\"A=1\", \"B\"] (project, cli)\n"))
		diag("%s", out.buf);

	/* JSON */
	strbuf_reset(&out);
	config_format_json(&cfg, &out);
	json = cJSON_Parse(out.buf);
	ok(json != NULL, "json parses");
	item = cJSON_GetObjectItem(cJSON_GetObjectItem(json, "keys"), "volume_gb");
	ok(cJSON_GetNumberValue(cJSON_GetObjectItem(item, "value")) == 60.0 &&
	   !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(item, "source")),
		   "project"), "json: volume_gb 60 from project");
	item = cJSON_GetObjectItem(cJSON_GetObjectItem(json, "keys"),
				   "hetzner.token");
	ok(cJSON_IsTrue(cJSON_GetObjectItem(item, "set")) &&
	   !cJSON_GetObjectItem(item, "value"), "json: token set, no value");
	ok(!strstr(out.buf, "tok-global-5555"), "json: token value not shown");
	cJSON_Delete(json);
	config_release(&cfg);

	/* 0600 global: no permission warning */
	chmod(global, 0600);
	config_init(&cfg);
	config_load(&cfg, &opts, &err);
	is_int(cfg.warnings.nr, 1, "0600 token file: no permission warning");
	config_release(&cfg);
	/* readable global file without a token: no warning either */
	write_file(global, "volume_gb = 40\n", 0644);
	config_init(&cfg);
	config_load(&cfg, &opts, &err);
	is_int(cfg.warnings.nr, 1, "readable file without token: no warning");
	config_release(&cfg);

	/* a token in the project file stops the load */
	write_file(project, "[hetzner]\ntoken = \"x-proj-7777\"\n", 0600);
	config_init(&cfg);
	ok(config_load(&cfg, &opts, &err) == -1 && err.message &&
	   !strncmp(err.message, project, strlen(project)),
	   "project token error names the project file");
	config_release(&cfg);
	/* an unreadable path (a directory) */
	unlink(project);
	mkdir(project, 0755);
	config_init(&cfg);
	ok(config_load(&cfg, &opts, &err) == -1 &&
	   err.exit_code == BURST_EXIT_CONFIG, "a directory as config is an error");
	config_release(&cfg);
	rmdir(project);

	unsetenv("HCLOUD_ENDPOINT");
	setenv("HOME", real_home, 1);
	unsetenv("XDG_CONFIG_HOME");
	strvec_clear(&cli_env);
	strbuf_release(&out);
	burst_error_release(&err);
	free(home); free(xdg); free(global); free(ws); free(project);
	free(sshdir); free(rsa); free(ed);
}

static void test_closest(void)
{
	static const char *const c[] = { "build", "test", "check", "clippy",
					 "bench", "run", "config" };

	is_str(burst_closest("biuld", c, 7), "build", "transposition");
	is_str(burst_closest("tset", c, 7), "test", "tset -> test");
	is_str(burst_closest("rn", c, 7), "run", "rn -> run");
	is_str(burst_closest("clipy", c, 7), "clippy", "deletion");
	is_str(burst_closest("xyz", c, 7), NULL, "nothing close");
	is_str(burst_closest("", c, 7), NULL, "empty word");
	is_str(burst_closest("ab", c, 7), NULL, "short unrelated word");
}

static void test_workspace(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *ws = tpath("cargo-ws"), *sub = tpath("cargo-ws/src/deep");
	char *manifest = tpath("cargo-ws/Cargo.toml");
	char *outside = tpath("outside"), *root = NULL;

	if (access("/root/.cargo/bin/cargo", X_OK) && system("command -v cargo "
							     ">/dev/null 2>&1")) {
		ok(1, "# SKIP cargo not installed");
		return;
	}
	write_file(manifest, "[package]\nname = \"w\"\nversion = \"0.1.0\"\n"
		   "edition = \"2021\"\n", 0644);
	mkdir(sub, 0755);
	{
		char *srcdir = tpath("cargo-ws/src");

		mkdir(srcdir, 0755);
		free(srcdir);
		mkdir(sub, 0755);
	}
	{
		char *main_rs = tpath("cargo-ws/src/main.rs");

		write_file(main_rs, "fn main() {}\n", 0644);
		free(main_rs);
	}
	mkdir(outside, 0755);
	ok(workspace_locate(ws, &root, &err) == 0, "workspace found");
	if (err.message)
		diag("%s", err.message);
	is_str(root, ws, "root is the manifest's directory");
	free(root);
	ok(workspace_locate(sub, &root, &err) == 0, "found from a subdirectory");
	is_str(root, ws, "root from a subdirectory");
	free(root);
	ok(workspace_locate(outside, &root, &err) == -1 && root == NULL,
	   "outside a project: error");
	is_int(err.exit_code, BURST_EXIT_CONFIG, "outside: config exit code");
	ok(err.message && strstr(err.message, "not inside a cargo project"),
	   "outside: clear message");
	ok(err.hint != NULL, "outside: hint");
	burst_error_release(&err);
	free(ws); free(sub); free(manifest); free(outside);
}

static void cleanup(void)
{
	char *cmd = xstrfmt("rm -rf '%s'", tmpdir);

	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	free(cmd);
}

/*
 * The cost keys a project file may set are bounded by global ceilings: a
 * value above one is refused with file:line:col, why and where to raise
 * it; up to the ceiling, a raised ceiling, the global file and the CLI are
 * not bounded.
 */
static void test_ceilings(void)
{
	static const struct {
		const char *text, *message, *hint;
	} over[] = {
		{ "volume_gb = 50\nkeep_alive_secs = 10801\n",
		  "proj.toml:2:1: `keep_alive_secs = 10801` is above `max_keep_alive_secs` "
		  "(10800) in the project config: a cloned repository must not run up the bill",
		  "raise `max_keep_alive_secs` in the global config" },
		{ "  volume_keep_alive_secs = 604801\n",
		  "proj.toml:1:3: `volume_keep_alive_secs = 604801` is above "
		  "`max_volume_keep_alive_secs` (604800) in the project config: a cloned "
		  "repository must not run up the bill",
		  "raise `max_volume_keep_alive_secs` in the global config" },
		{ "volume_gb = 501\n",
		  "proj.toml:1:1: `volume_gb = 501` is above `max_volume_gb` (500) in the "
		  "project config: a cloned repository must not run up the bill",
		  "raise `max_volume_gb` in the global config" },
	};
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;

	config_init(&cfg);
	is_int(cfg.max_keep_alive_secs, 3 * 3600, "max_keep_alive_secs: 3 hours by default");
	is_int(cfg.max_volume_keep_alive_secs, 7 * 24 * 3600,
	       "max_volume_keep_alive_secs: 7 days by default");
	is_int(cfg.max_volume_gb, 500, "max_volume_gb: 500 GB by default");
	config_release(&cfg);
	for (size_t i = 0; i < ARRAY_SIZE(over); i++) {
		config_init(&cfg);
		ok(apply(&cfg, over[i].text, CONFIG_SRC_PROJECT, &err) == -1 &&
		   err.exit_code == BURST_EXIT_CONFIG, "over its ceiling in the project file: "
		   "refused (%s)", over[i].text);
		is_str(err.message, over[i].message, "... with file:line:col and why");
		ok(err.hint && strstr(err.hint, over[i].hint), "... and where to raise it (%s)",
		   err.hint ? err.hint : "no hint");
		burst_error_release(&err);
		config_release(&cfg);
		config_init(&cfg);
		ok(apply(&cfg, over[i].text, CONFIG_SRC_GLOBAL, &err) == 0,
		   "... the same in the global file is the user's own choice");
		burst_error_release(&err);
		config_release(&cfg);
	}
	config_init(&cfg);
	ok(apply(&cfg, "keep_alive_secs = 10800\nvolume_keep_alive_secs = 604800\n"
		 "volume_gb = 500\n", CONFIG_SRC_PROJECT, &err) == 0 &&
	   cfg.keep_alive_secs == 10800 && cfg.volume_gb == 500,
	   "at the ceilings: taken from the project file");
	burst_error_release(&err);
	config_release(&cfg);
	config_init(&cfg);
	ok(apply(&cfg, "max_keep_alive_secs = 86400\nmax_volume_gb = 1000\n",
		 CONFIG_SRC_GLOBAL, &err) == 0 &&
	   apply(&cfg, "keep_alive_secs = 86400\nvolume_gb = 1000\n", CONFIG_SRC_PROJECT,
		 &err) == 0 && cfg.keep_alive_secs == 86400 && cfg.volume_gb == 1000,
	   "ceilings raised in the global file: the project's values are taken");
	burst_error_release(&err);
	config_release(&cfg);
	config_init(&cfg);
	{
		struct config_overrides o = { 86400, NULL, NULL };

		ok(config_apply_cli(&cfg, &o, &err) == 0 && cfg.keep_alive_secs == 86400,
		   "--keep-alive is the user's own: not bounded by the ceiling");
	}
	burst_error_release(&err);
	config_release(&cfg);
}

/*
 * arch (issue 15): a cax server_type alone is arm64; arch picks
 * arm_server_type over a server_type of a lower layer; both in one layer
 * and not matching is a config error; --arch beats the files.
 */
static int load_arch(const char *global_text, const char *project_text, const char *cli_arch,
		     struct burst_config *cfg, struct burst_error *err)
{
	char *home = tpath("ahome"), *xdg = tpath("ahome/xdg");
	char *global = tpath("ahome/xdg/cargo-burst/config.toml");
	char *ws = tpath("aws"), *project = tpath("aws/.config/cargo-burst.toml");
	struct config_load_opts opts = { NULL, NULL, { -1, NULL, NULL } };
	int rc;

	mkdir(home, 0755);
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	write_file(global, global_text, 0600);
	write_file(project, project_text, 0644);
	opts.workspace_root = ws;
	opts.cli.arch = cli_arch;
	config_init(cfg);
	burst_error_release(err);
	rc = config_load(cfg, &opts, err);
	setenv("HOME", real_home, 1);
	unsetenv("XDG_CONFIG_HOME");
	free(home); free(xdg); free(global); free(ws); free(project);
	return rc;
}

static void test_arch(void)
{
	struct burst_config cfg;
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf out = STRBUF_INIT;

	ok(load_arch("", "", NULL, &cfg, &err) == 0, "defaults load");
	is_str(cfg.arch, "x86", "x86 by default");
	is_str(cfg.server_type, "ccx63", "the x86 type");
	is_str(cfg.arm_server_type, "cax41", "arm_server_type defaults to cax41");
	is_str(config_image_server_type(&cfg, "arm64"), "cax11", "the arm64 bake type: cax11");
	is_str(config_image_server_type(&cfg, "x86"), "cx22", "the x86 bake type: cx22");
	config_release(&cfg);

	ok(load_arch("[hetzner]\nserver_type = \"cax31\"\n", "", NULL, &cfg, &err) == 0,
	   "a cax server_type alone loads");
	is_str(cfg.arch, "arm64", "and means arm64");
	is_str(cfg.server_type, "cax31", "on that type");
	config_release(&cfg);

	ok(load_arch("[hetzner]\nserver_type = \"ccx33\"\n", "[hetzner]\narch = \"arm64\"\n", NULL,
		     &cfg, &err) == 0, "global x86 server_type, project arch = arm64");
	is_str(cfg.server_type, "cax41", "the project's arch picks arm_server_type");
	config_format(&cfg, &out);
	ok(strstr(out.buf, "\nhetzner.arch = \"arm64\" (project)\n") != NULL,
	   "config shows arch with its source");
	if (!strstr(out.buf, "\nhetzner.arch = \"arm64\" (project)\n"))
		diag("%s", out.buf);
	strbuf_reset(&out);
	config_release(&cfg);

	ok(load_arch("[hetzner]\narm_server_type = \"cax21\"\n", "", "arm64", &cfg, &err) == 0,
	   "--arch arm64");
	is_str(cfg.server_type, "cax21", "--arch arm64 takes the configured arm type");
	is_str(config_source_name(cfg.source[CONFIG_ARCH]), "cli", "arch source cli");
	config_release(&cfg);

	ok(load_arch("", "[hetzner]\narch = \"arm64\"\n", "x86", &cfg, &err) == 0,
	   "--arch x86 over a project's arm64");
	is_str(cfg.arch, "x86", "--arch wins");
	is_str(cfg.server_type, "ccx63", "on the x86 type");
	config_release(&cfg);

	ok(load_arch("", "[hetzner]\narch = \"arm64\"\nserver_type = \"ccx63\"\n", NULL, &cfg,
		     &err) == -1, "arch = arm64 with server_type = ccx63 in one file: refused");
	ok(err.exit_code == BURST_EXIT_CONFIG && err.message &&
	   strstr(err.message, "server_type = \"ccx63\"") && strstr(err.message, "arm64") &&
	   err.hint && strstr(err.hint, "arm_server_type"),
	   "a config error naming the type, the arch and the fix: %s / %s",
	   err.message ? err.message : "", err.hint ? err.hint : "");
	config_release(&cfg);

	ok(load_arch("[hetzner]\narch = \"arm64\"\n", "[hetzner]\nserver_type = \"cpx31\"\n", NULL,
		     &cfg, &err) == -1, "a later layer's x86 server_type against arch arm64: refused");
	config_release(&cfg);

	ok(load_arch("[hetzner]\narch = \"aarch64\"\n", "", NULL, &cfg, &err) == -1,
	   "an unknown arch is refused");
	ok(err.exit_code == BURST_EXIT_CONFIG && err.message && strstr(err.message, "aarch64"),
	   "a config error naming it: %s", err.message ? err.message : "");
	config_release(&cfg);

	ok(load_arch("[hetzner]\narm_server_type = \"ccx63\"\n", "", NULL, &cfg, &err) == -1 &&
	   strstr(err.message, "arm_server_type"), "an x86 arm_server_type is refused");
	config_release(&cfg);

	ok(load_arch("", "", "sparc", &cfg, &err) == -1 && err.exit_code == BURST_EXIT_USAGE,
	   "--arch sparc is a usage error");
	config_release(&cfg);

	is_str(config_type_arch("cax11"), "arm64", "cax11 is arm64");
	is_str(config_type_arch("ccx63"), "x86", "ccx63 is x86");
	is_str(config_type_arch(NULL), "x86", "no type: x86");
	/* a server's architecture: the API's word, the name only without one */
	is_str(config_server_arch("arm", "cx22"), "arm64", "API arm on a cx name: arm64");
	is_str(config_server_arch("x86", "cax11"), "x86", "API x86 on a cax name: x86");
	is_str(config_server_arch("unknown", "cax11"), "unknown", "an unknown API value stays unknown");
	is_str(config_server_arch("sparc", "ccx63"), "unknown", "any other API value: unknown");
	is_str(config_server_arch(NULL, "cax11"), "arm64", "no API value: the cax name's arm64");
	is_str(config_server_arch(NULL, "ccx63"), "x86", "no API value: the name's x86");
	strbuf_release(&out);
	burst_error_release(&err);
}

int main(void)
{
	int rc;

	if (!mkdtemp(tmpdir))
		bail_out("mkdtemp failed");
	atexit(cleanup);
	real_home = xstrdup(getenv("HOME") ? getenv("HOME") : "/root");
	clear_env();
	test_defaults();
	test_layering();
	test_lists_and_refused();
	test_env_forwarding();
	test_bad_input();
	test_token();
	test_global_only();
	test_ceilings();
	test_pattern_control_chars();
	test_token_file_mode();
	test_endpoint();
	test_load();
	test_arch();
	test_closest();
	test_workspace();
	rc = done_testing();
	free(real_home);
	burst_redact_clear();
	return rc;
}

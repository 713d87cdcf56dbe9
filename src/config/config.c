/* config.c - the key table and the layers; see include/burst/config.h. */
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/config.h"
#include "burst/log.h"
#include "burst/ui.h"
#include "burst/toml.h"

extern char **environ;

/* Config files and token files larger than this are refused. */
#define CONFIG_FILE_MAX (1024 * 1024)
#define TOKEN_FILE_MAX 4096

#define DAY (24 * 3600)

/*
 * The key table.  Loading, validation, suggestions, `cargo burst config`
 * and the README reference all read it; defaults are TOML text, parsed by
 * config_init() with the same code as the files.
 */
const struct config_key config_keys[CONFIG_KEY_COUNT] = {
	{ CONFIG_TOKEN, "hetzner", "token", NULL, CONFIG_T_STRING, 0, 0, NULL,
	  "Hetzner Cloud API token (read+write); HCLOUD_TOKEN or "
	  "HCLOUD_TOKEN_FILE override it.",
	  CONFIG_KEY_SECRET | CONFIG_KEY_GLOBAL_ONLY },
	{ CONFIG_ENDPOINT, "hetzner", "endpoint", NULL, CONFIG_T_STRING, 0, 0,
	  "\"" CONFIG_DEFAULT_ENDPOINT "\"",
	  "API base URL; HCLOUD_ENDPOINT overrides it. http:// only for a "
	  "loopback host (the local simulator).", CONFIG_KEY_GLOBAL_ONLY },
	{ CONFIG_REGIONS, "hetzner", "regions", "region", CONFIG_T_STRINGS, 0, 0,
	  "[\"hel1\", \"fsn1\", \"nbg1\"]",
	  "Locations to try, in order (a string or an array).", 0 },
	{ CONFIG_SERVER_TYPE, "hetzner", "server_type", NULL, CONFIG_T_STRING,
	  0, 0, "\"ccx63\"", "Server type of the build server.", 0 },
	{ CONFIG_IMAGE_SERVER_TYPE, "hetzner", "image_server_type", NULL,
	  CONFIG_T_STRING, 0, 0, "\"cx22\"",
	  "Server type used by `cargo burst image build`.", 0 },
	{ CONFIG_ARCH, "hetzner", "arch", NULL, CONFIG_T_STRING, 0, 0,
	  "\"x86\"",
	  "Architecture of the build server: \"x86\" or \"arm64\" (Ampere, "
	  "server_type then defaults to arm_server_type; --arch).", 0 },
	{ CONFIG_ARM_SERVER_TYPE, "hetzner", "arm_server_type", NULL,
	  CONFIG_T_STRING, 0, 0, "\"cax41\"",
	  "Server type of the build server when arch is \"arm64\".", 0 },
	{ CONFIG_ARM_IMAGE_SERVER_TYPE, "hetzner", "arm_image_server_type",
	  NULL, CONFIG_T_STRING, 0, 0, "\"cax11\"",
	  "Server type used by `cargo burst image build --arch arm64`.", 0 },
	{ CONFIG_SNAPSHOT_KEEP, "hetzner", "snapshot_keep", NULL, CONFIG_T_INT,
	  1, 100, "2", "Baked image snapshots to keep (per architecture).", 0 },
	{ CONFIG_KEEP_ALIVE_SECS, NULL, "keep_alive_secs", NULL, CONFIG_T_INT,
	  0, 7 * DAY, "300",
	  "Idle seconds before the server is deleted (--keep-alive).", 0 },
	{ CONFIG_VOLUME_KEEP_ALIVE_SECS, NULL, "volume_keep_alive_secs", NULL,
	  CONFIG_T_INT, 0, 90 * DAY, "3600",
	  "Idle seconds before a project's volume is deleted.", 0 },
	{ CONFIG_VOLUME_GB, NULL, "volume_gb", NULL, CONFIG_T_INT, 10, 10240,
	  "200", "Size of a project's volume in GB.", 0 },
	{ CONFIG_BILLING_HOUR_HOLD, NULL, "billing_hour_hold", NULL,
	  CONFIG_T_BOOL, 0, 0, "true",
	  "Keep an idle server until just before its started billing hour "
	  "ends.", 0 },
	{ CONFIG_BILLING_MARGIN_SECS, NULL, "billing_margin_secs", NULL,
	  CONFIG_T_INT, 0, 3599, "120",
	  "Delete this many seconds before the billing hour ends.", 0 },
	{ CONFIG_MAX_SERVERS, NULL, "max_servers", NULL, CONFIG_T_INT, 1, 100,
	  "1",
	  "Build servers of ours up at once (a cost guard; the extra servers "
	  "of a running `test --shards N` come on top).", CONFIG_KEY_GLOBAL_ONLY },
	{ CONFIG_MAX_KEEP_ALIVE_SECS, NULL, "max_keep_alive_secs", NULL, CONFIG_T_INT,
	  0, 7 * DAY, "10800",
	  "Highest keep_alive_secs a project file may set (a cost ceiling; a "
	  "higher one is refused).", CONFIG_KEY_GLOBAL_ONLY },
	{ CONFIG_MAX_VOLUME_KEEP_ALIVE_SECS, NULL, "max_volume_keep_alive_secs",
	  NULL, CONFIG_T_INT, 0, 90 * DAY, "604800",
	  "Highest volume_keep_alive_secs a project file may set (a cost "
	  "ceiling; a higher one is refused).", CONFIG_KEY_GLOBAL_ONLY },
	{ CONFIG_MAX_VOLUME_GB, NULL, "max_volume_gb", NULL, CONFIG_T_INT, 10,
	  10240, "500",
	  "Highest volume_gb a project file may set (a cost ceiling; a higher "
	  "one is refused).", CONFIG_KEY_GLOBAL_ONLY },
	{ CONFIG_SSH_KEY_PATH, NULL, "ssh_key_path", NULL, CONFIG_T_PATH, 0, 0,
	  "\"~/.ssh/id_ed25519\"",
	  "Private ssh key (falls back to ~/.ssh/id_rsa when only that "
	  "exists); the public key is this path + \".pub\".",
	  CONFIG_KEY_GLOBAL_ONLY },
	{ CONFIG_SSH_USER, NULL, "ssh_user", NULL, CONFIG_T_STRING, 0, 0,
	  "\"root\"", "Remote user.", CONFIG_KEY_GLOBAL_ONLY },
	{ CONFIG_SSH_PORT, NULL, "ssh_port", NULL, CONFIG_T_INT, 1, 65535, "22",
	  "Remote ssh port.", CONFIG_KEY_GLOBAL_ONLY },
	{ CONFIG_FORWARD_ENV, NULL, "forward_env", NULL, CONFIG_T_ENVLIST, 0, 0,
	  "[]",
	  "Local environment variables to forward to the remote cargo, or "
	  "PREFIX* for all that start with PREFIX (additive; --env "
	  "VAR[=VALUE] adds more).", 0 },
	{ CONFIG_FORWARD_ENV_EXCLUDE, NULL, "forward_env_exclude", NULL,
	  CONFIG_T_LIST, 0, 0, "[]",
	  "Names (or PREFIX* patterns; \"*\" for all) not to forward by default "
	  "(RUSTFLAGS, CARGO_BUILD_*, CARGO_PROFILE_*, RUST_TEST_*, NEXTEST_*, "
	  "... are forwarded when set; see Environment).", 0 },
	{ CONFIG_EXTRA_EXCLUDES, NULL, "extra_excludes", NULL, CONFIG_T_LIST, 0,
	  0, "[]", "More rsync exclude patterns for the sync (additive).", 0 },
	{ CONFIG_UNEXCLUDE, NULL, "unexclude", NULL, CONFIG_T_LIST, 0, 0, "[]",
	  "Patterns to sync even though they are excluded (additive).", 0 },
	{ CONFIG_SYNC_GIT, NULL, "sync_git", NULL, CONFIG_T_BOOL, 0, 0, "true",
	  "Sync the workspace's .git directory (without config, hooks, logs and locks), "
	  "so that build scripts asking git (rev-parse, describe) get the local "
	  "answers.", 0 },
	{ CONFIG_SYNC_VERIFY_SECS, NULL, "sync_verify_secs", NULL, CONFIG_T_INT, 0,
	  365 * DAY, "86400",
	  "A warm sync sends only what the local index says changed; at least this "
	  "often it is a full rsync that verifies the whole tree (0: never).", 0 },
	{ CONFIG_HOST, NULL, "host", NULL, CONFIG_T_STRING, 0, 0, NULL,
	  "Run on this existing ssh machine (\"user@machine[:port]\"; "
	  "--host overrides it) instead of a Hetzner server.",
	  CONFIG_KEY_GLOBAL_ONLY },
};

static const size_t field_offset[CONFIG_KEY_COUNT] = {
	[CONFIG_TOKEN] = offsetof(struct burst_config, token),
	[CONFIG_ENDPOINT] = offsetof(struct burst_config, endpoint),
	[CONFIG_REGIONS] = offsetof(struct burst_config, regions),
	[CONFIG_SERVER_TYPE] = offsetof(struct burst_config, server_type),
	[CONFIG_IMAGE_SERVER_TYPE] =
		offsetof(struct burst_config, image_server_type),
	[CONFIG_ARCH] = offsetof(struct burst_config, arch),
	[CONFIG_ARM_SERVER_TYPE] = offsetof(struct burst_config, arm_server_type),
	[CONFIG_ARM_IMAGE_SERVER_TYPE] =
		offsetof(struct burst_config, arm_image_server_type),
	[CONFIG_SNAPSHOT_KEEP] = offsetof(struct burst_config, snapshot_keep),
	[CONFIG_KEEP_ALIVE_SECS] =
		offsetof(struct burst_config, keep_alive_secs),
	[CONFIG_VOLUME_KEEP_ALIVE_SECS] =
		offsetof(struct burst_config, volume_keep_alive_secs),
	[CONFIG_VOLUME_GB] = offsetof(struct burst_config, volume_gb),
	[CONFIG_BILLING_HOUR_HOLD] =
		offsetof(struct burst_config, billing_hour_hold),
	[CONFIG_BILLING_MARGIN_SECS] =
		offsetof(struct burst_config, billing_margin_secs),
	[CONFIG_MAX_SERVERS] = offsetof(struct burst_config, max_servers),
	[CONFIG_MAX_KEEP_ALIVE_SECS] =
		offsetof(struct burst_config, max_keep_alive_secs),
	[CONFIG_MAX_VOLUME_KEEP_ALIVE_SECS] =
		offsetof(struct burst_config, max_volume_keep_alive_secs),
	[CONFIG_MAX_VOLUME_GB] = offsetof(struct burst_config, max_volume_gb),
	[CONFIG_SSH_KEY_PATH] = offsetof(struct burst_config, ssh_key_path),
	[CONFIG_SSH_USER] = offsetof(struct burst_config, ssh_user),
	[CONFIG_SSH_PORT] = offsetof(struct burst_config, ssh_port),
	[CONFIG_FORWARD_ENV] = offsetof(struct burst_config, forward_env),
	[CONFIG_FORWARD_ENV_EXCLUDE] =
		offsetof(struct burst_config, forward_env_exclude),
	[CONFIG_EXTRA_EXCLUDES] = offsetof(struct burst_config, extra_excludes),
	[CONFIG_UNEXCLUDE] = offsetof(struct burst_config, unexclude),
	[CONFIG_SYNC_GIT] = offsetof(struct burst_config, sync_git),
	[CONFIG_SYNC_VERIFY_SECS] = offsetof(struct burst_config, sync_verify_secs),
	[CONFIG_HOST] = offsetof(struct burst_config, host),
};

#define FIELD(cfg, id, type) ((type *)((char *)(cfg) + field_offset[id]))

static const char *const refused_env[] = {
	"PATH", "HOME", "USER", "LOGNAME", "PWD", "OLDPWD", "SHELL",
	"CARGO_TARGET_DIR", "SCCACHE_DIR",
};

/* Where one value being applied came from, for messages. */
struct origin {
	enum config_source src;
	const char *path; /* file, or a flag/variable name */
	int line, col;    /* 0 when not from a file */
};

static const char *where(const struct origin *o, char *buf, size_t size)
{
	if (o->line > 0)
		snprintf(buf, size, "%s:%d:%d", o->path, o->line, o->col);
	else
		snprintf(buf, size, "%s", o->path ? o->path : "?");
	return buf;
}

const char *config_source_name(enum config_source src)
{
	switch (src) {
	case CONFIG_SRC_DEFAULT: return "default";
	case CONFIG_SRC_GLOBAL: return "global";
	case CONFIG_SRC_PROJECT: return "project";
	case CONFIG_SRC_CLI: return "cli";
	case CONFIG_SRC_ENV: return "env";
	case CONFIG_SRC_HCLOUD_CLI: return "hcloud-cli";
	}
	return "?";
}

const char *config_key_fullname(enum config_key_id id, char *buf, size_t size)
{
	const struct config_key *k = &config_keys[id];

	if (k->section)
		snprintf(buf, size, "%s.%s", k->section, k->name);
	else
		snprintf(buf, size, "%s", k->name);
	return buf;
}

bool config_env_name_valid(const char *name)
{
	if (!name || !*name || (*name >= '0' && *name <= '9'))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

bool config_env_name_secret(const char *name)
{
	return !strcmp(name, "HCLOUD_TOKEN") || !strcmp(name, "HCLOUD_TOKEN_FILE");
}

/*
 * Forwarded by default when set: what changes what cargo builds or how the
 * tests run.  "X*" is a prefix.  The first match in either list decides, the
 * local-only list first.
 */
static const char *const default_forward_env[] = {
	"RUSTFLAGS", "RUSTDOCFLAGS", "CARGO_ENCODED_RUSTFLAGS",
	"CARGO_ENCODED_RUSTDOCFLAGS", "CARGO_INCREMENTAL", "CARGO_BUILD_*",
	"CARGO_PROFILE_*", "CARGO_TERM_*", "CARGO_UNSTABLE_*", "CARGO_FEATURE_*",
	"RUSTC_BOOTSTRAP", "RUST_BACKTRACE", "RUST_LIB_BACKTRACE", "RUST_LOG",
	"RUST_MIN_STACK", "RUST_TEST_*", "NEXTEST_*",
};

/*
 * Never forwarded by default although a pattern above matches: they name
 * paths or programs of this machine, or cargo-burst sets them remotely.
 */
static const char *const local_only_env[] = {
	"CARGO_BUILD_TARGET_DIR",	/* a local path; the server's is set */
	"CARGO_BUILD_BUILD_DIR",	/* a local path */
	"CARGO_BUILD_DEP_INFO_BASEDIR",	/* a local path */
	"CARGO_BUILD_RUSTC",		/* local programs */
	"CARGO_BUILD_RUSTDOC",
	"CARGO_BUILD_RUSTC_WRAPPER",	/* the server picks sccache itself */
	"CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
	"CARGO_TERM_COLOR",		/* decided from this terminal */
};

static bool env_pattern_match(const char *pat, const char *name)
{
	size_t n = strlen(pat);

	if (n && pat[n - 1] == '*')
		return !strncmp(pat, name, n - 1);
	return !strcmp(pat, name);
}

bool config_env_default_forwarded(const char *name)
{
	if (!config_env_name_valid(name) || !strncmp(name, "HCLOUD_", 7) ||
	    config_env_name_secret(name) || config_env_name_refused(name))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(local_only_env); i++)
		if (!strcmp(name, local_only_env[i]))
			return false;
	for (size_t i = 0; i < ARRAY_SIZE(default_forward_env); i++)
		if (env_pattern_match(default_forward_env[i], name))
			return true;
	return false;
}

bool config_env_excluded(const struct burst_config *cfg, const char *name)
{
	const struct strvec *l = &cfg->forward_env_exclude.items;

	for (size_t i = 0; i < l->nr; i++)
		if (env_pattern_match(l->v[i], name))
			return true;
	return false;
}

bool config_env_name_refused(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(refused_env); i++)
		if (!strcmp(name, refused_env[i]))
			return true;
	return false;
}

static char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return xstrdup(h);
	pw = getpwuid(getuid());
	return xstrdup(pw && pw->pw_dir ? pw->pw_dir : "/");
}

/* Expand a leading "~/" (or a lone "~"). */
static char *expand_home(const char *path)
{
	char *home, *ret;

	if (path[0] != '~' || (path[1] && path[1] != '/'))
		return xstrdup(path);
	home = home_dir();
	ret = xstrfmt("%s%s", home, path + 1);
	free(home);
	return ret;
}

/* $<xdg>/<leaf> when that variable is an absolute path, else ~/<dflt>/<leaf>. */
static char *xdg_path(const char *xdg, const char *dflt, const char *leaf)
{
	const char *dir = getenv(xdg);
	char *home, *ret;

	if (dir && dir[0] == '/')
		return xstrfmt("%s/%s", dir, leaf);
	home = home_dir();
	ret = xstrfmt("%s/%s/%s", home, dflt, leaf);
	free(home);
	return ret;
}

char *config_global_path(void)
{
	return xdg_path("XDG_CONFIG_HOME", ".config", "cargo-burst/config.toml");
}

char *config_project_path(const char *workspace_root)
{
	return xstrfmt("%s/.config/cargo-burst.toml", workspace_root);
}

char *config_state_dir(void)
{
	return xdg_path("XDG_STATE_HOME", ".local/state", "cargo-burst");
}

/* ---- lists ------------------------------------------------------------ */

static void list_clear(struct config_list *l)
{
	strvec_clear(&l->items);
	free(l->sources);
	l->sources = NULL;
	l->alloc = 0;
}

static void list_add(struct config_list *l, const char *s,
		     enum config_source src)
{
	if (strvec_find(&l->items, s) >= 0)
		return;
	ALLOC_GROW(l->sources, l->items.nr + 1, l->alloc);
	l->sources[l->items.nr] = src;
	strvec_push(&l->items, s);
}

static void env_clear(struct burst_config *cfg)
{
	for (size_t i = 0; i < cfg->forward_env_nr; i++) {
		free(cfg->forward_env[i].name);
		free(cfg->forward_env[i].value);
	}
	free(cfg->forward_env);
	cfg->forward_env = NULL;
	cfg->forward_env_nr = cfg->forward_env_alloc = 0;
}

/*
 * Add one forward_env entry: de-duplicated by name, first position kept;
 * --env VAR=VALUE replaces the entry's value (and source) on a conflict.
 */
static void env_add(struct burst_config *cfg, const char *name,
		    const char *value, enum config_source src)
{
	struct config_env *e;

	for (size_t i = 0; i < cfg->forward_env_nr; i++) {
		e = &cfg->forward_env[i];
		if (strcmp(e->name, name))
			continue;
		if (src == CONFIG_SRC_CLI && value) {
			free(e->value);
			e->value = xstrdup(value);
			e->source = src;
		}
		return;
	}
	ALLOC_GROW(cfg->forward_env, cfg->forward_env_nr + 1,
		   cfg->forward_env_alloc);
	e = &cfg->forward_env[cfg->forward_env_nr++];
	e->name = xstrdup(name);
	e->value = xstrdup(value);
	e->source = src;
}

/*
 * Validate and add "NAME" or "NAME=VALUE" (with_value) to forward_env.
 * Refused names are dropped with a warning.
 */
static int env_entry(struct burst_config *cfg, const char *entry,
		     bool with_value, const struct origin *o,
		     struct burst_error *err)
{
	const char *eq = with_value ? strchr(entry, '=') : NULL;
	char *name = eq ? xstrndup(entry, (size_t)(eq - entry)) : xstrdup(entry);
	size_t n = strlen(name);
	/* the file's "PREFIX*": every local variable starting with PREFIX */
	bool prefix = !with_value && n > 1 && name[n - 1] == '*';
	char buf[4096];
	int ret = 0;

	if (prefix)
		name[n - 1] = '\0';
	if (!config_env_name_valid(name)) {
		burst_error_set(err, BURST_EXIT_CONFIG,
				"%s: `%s` in forward_env is not an environment "
				"variable name", where(o, buf, sizeof(buf)),
				entry);
		burst_error_hint(err, "names match [A-Za-z_][A-Za-z0-9_]*%s",
				 with_value ? "; use VAR or VAR=VALUE" :
				 ", or PREFIX* for every name starting with PREFIX");
		ret = -1;
		goto out;
	}
	if (prefix && !strncmp(name, "HCLOUD", 6)) {
		strvec_pushf(&cfg->warnings,
			     "not forwarding `%s*` (%s): the Hetzner API token "
			     "never leaves this machine", name,
			     where(o, buf, sizeof(buf)));
		goto out;
	}
	if (prefix)
		name[n - 1] = '*';
	else if (config_env_name_secret(name)) {
		strvec_pushf(&cfg->warnings,
			     "not forwarding `%s` (%s): the Hetzner API token "
			     "never leaves this machine", name,
			     where(o, buf, sizeof(buf)));
		goto out;
	}
	if (!prefix && config_env_name_refused(name)) {
		strvec_pushf(&cfg->warnings,
			     "not forwarding `%s` (%s): cargo-burst sets it on "
			     "the server itself", name, where(o, buf, sizeof(buf)));
		goto out;
	}
	env_add(cfg, name, eq ? eq + 1 : NULL, o->src);
	if (o->src > cfg->source[CONFIG_FORWARD_ENV])
		cfg->source[CONFIG_FORWARD_ENV] = o->src;
out:
	free(name);
	return ret;
}

/* ---- init / release --------------------------------------------------- */

static void set_pub_path(struct burst_config *cfg)
{
	free(cfg->ssh_pub_key_path);
	cfg->ssh_pub_key_path = xstrfmt("%s.pub", cfg->ssh_key_path);
}

static int apply_key(struct burst_config *cfg, const struct config_key *k,
		     const struct toml_value *v, const struct origin *o,
		     struct burst_error *err);

void config_init(struct burst_config *cfg)
{
	struct burst_error err = BURST_ERROR_INIT;

	memset(cfg, 0, sizeof(*cfg));
	strvec_init(&cfg->regions);
	strvec_init(&cfg->forward_env_exclude.items);
	strvec_init(&cfg->extra_excludes.items);
	strvec_init(&cfg->unexclude.items);
	strvec_init(&cfg->warnings);
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *k = &config_keys[i];
		struct origin o = { CONFIG_SRC_DEFAULT, "default", 0, 0 };
		struct toml_value *root;
		char *text;

		if (!k->def)
			continue;
		text = xstrfmt("v = %s", k->def);
		root = toml_parse(text, strlen(text), NULL);
		if (!root || apply_key(cfg, k, toml_table_get(root, "v"), &o,
				       &err) < 0)
			BUG("bad default for %s: %s", k->name,
			    err.message ? err.message : "syntax");
		toml_free(root);
		free(text);
	}
	set_pub_path(cfg);
}

/* The key table's default of an integer or boolean key (config.h). */
int64_t config_key_default_int(enum config_key_id id)
{
	struct burst_config def;
	int64_t ret;

	if (config_keys[id].type != CONFIG_T_INT && config_keys[id].type != CONFIG_T_BOOL)
		BUG("config key '%s' is not an integer", config_keys[id].name);
	config_init(&def);
	ret = config_keys[id].type == CONFIG_T_BOOL ? *FIELD(&def, id, bool)
						    : *FIELD(&def, id, int64_t);
	config_release(&def);
	return ret;
}

void config_release(struct burst_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->token);
	free(cfg->token_origin);
	free(cfg->endpoint);
	strvec_clear(&cfg->regions);
	free(cfg->server_type);
	free(cfg->image_server_type);
	free(cfg->arch);
	free(cfg->arm_server_type);
	free(cfg->arm_image_server_type);
	free(cfg->ssh_key_path);
	free(cfg->ssh_pub_key_path);
	free(cfg->ssh_user);
	free(cfg->host);
	env_clear(cfg);
	list_clear(&cfg->forward_env_exclude);
	list_clear(&cfg->extra_excludes);
	list_clear(&cfg->unexclude);
	free(cfg->global_path);
	free(cfg->project_path);
	strvec_clear(&cfg->warnings);
	memset(cfg, 0, sizeof(*cfg));
	strvec_init(&cfg->regions);
	strvec_init(&cfg->forward_env_exclude.items);
	strvec_init(&cfg->extra_excludes.items);
	strvec_init(&cfg->unexclude.items);
	strvec_init(&cfg->warnings);
}

struct burst_config *config_new(void)
{
	struct burst_config *cfg = xmalloc(sizeof(*cfg));

	config_init(cfg);
	return cfg;
}

void config_free(struct burst_config *cfg)
{
	if (!cfg)
		return;
	config_release(cfg);
	free(cfg);
}

/* ---- applying TOML values --------------------------------------------- */

static const char *type_expected(enum config_type t)
{
	switch (t) {
	case CONFIG_T_STRING:
	case CONFIG_T_PATH: return "a string";
	case CONFIG_T_INT: return "an integer";
	case CONFIG_T_BOOL: return "a boolean (true or false)";
	case CONFIG_T_STRINGS: return "a string or an array of strings";
	case CONFIG_T_LIST: return "an array of strings";
	case CONFIG_T_ENVLIST: return "an array of environment variable names";
	}
	return "?";
}

static int wrong_type(const struct config_key *k, const struct toml_value *v,
		      const struct origin *o, struct burst_error *err)
{
	char buf[4096], name[128];

	return burst_error_set(err, BURST_EXIT_CONFIG,
			       "%s: wrong type for `%s`: expected %s, found %s",
			       where(o, buf, sizeof(buf)),
			       config_key_fullname(k->id, name, sizeof(name)),
			       type_expected(k->type),
			       toml_type_name(toml_value_type(v)));
}

/*
 * A string value with no NUL byte, not empty; also the elements of arrays
 * (what names the element in messages).
 */
static const char *get_string(const struct config_key *k,
			      const struct toml_value *v, const char *what,
			      const struct origin *o, struct burst_error *err)
{
	char buf[4096], name[128];
	const char *s;
	size_t len;

	config_key_fullname(k->id, name, sizeof(name));
	if (toml_value_type(v) != TOML_STRING) {
		burst_error_set(err, BURST_EXIT_CONFIG,
				"%s: wrong type for %s`%s`: expected %s, found %s",
				where(o, buf, sizeof(buf)), what, name,
				what[0] ? "a string" : type_expected(k->type),
				toml_type_name(toml_value_type(v)));
		return NULL;
	}
	s = toml_string(v, &len);
	if (len != strlen(s)) {
		burst_error_set(err, BURST_EXIT_CONFIG,
				"%s: %s`%s` contains a NUL character",
				where(o, buf, sizeof(buf)), what, name);
		return NULL;
	}
	if (!len) {
		burst_error_set(err, BURST_EXIT_CONFIG,
				"%s: %s`%s` must not be empty",
				where(o, buf, sizeof(buf)), what, name);
		return NULL;
	}
	return s;
}

/* Apply to each string element of an array (positions per element). */
static int each_string(struct burst_config *cfg, const struct config_key *k,
		       const struct toml_value *v, const struct origin *o,
		       struct burst_error *err,
		       int (*fn)(struct burst_config *, const struct config_key *,
				 const char *, const struct origin *,
				 struct burst_error *))
{
	size_t n = toml_array_count(v);

	for (size_t i = 0; i < n; i++) {
		const struct toml_value *e = toml_array_at(v, i);
		struct origin eo = *o;
		const char *s;

		if (o->line > 0) {
			eo.line = toml_value_line(e);
			eo.col = toml_value_col(e);
		}
		s = get_string(k, e, "an element of ", &eo, err);
		if (!s || fn(cfg, k, s, &eo, err) < 0)
			return -1;
	}
	return 0;
}

static int add_region(struct burst_config *cfg, const struct config_key *k,
		      const char *s, const struct origin *o,
		      struct burst_error *err)
{
	if (strvec_find(&cfg->regions, s) < 0)
		strvec_push(&cfg->regions, s);
	return 0;
}

/*
 * A pattern becomes one line of rsync filter rules ("- PATTERN"): a
 * newline or any other control character would add rules of its own.
 */
static int add_list_item(struct burst_config *cfg, const struct config_key *k,
			 const char *s, const struct origin *o,
			 struct burst_error *err)
{
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char buf[4096], name[128];

		if (c >= 0x20 && c != 0x7f)
			continue;
		burst_error_set(err, BURST_EXIT_CONFIG,
				"%s: an element of `%s` contains a control "
				"character (U+%04X)", where(o, buf, sizeof(buf)),
				config_key_fullname(k->id, name, sizeof(name)),
				(unsigned)c);
		burst_error_hint(err, "each element is one rsync pattern: "
				 "write one pattern per element, without "
				 "newlines, tabs or other control characters");
		return -1;
	}
	if (k->id == CONFIG_FORWARD_ENV_EXCLUDE) {
		size_t n = strlen(s);
		char *name = xstrndup(s, n && s[n - 1] == '*' ? n - 1 : n);
		bool ok = !*name || config_env_name_valid(name);
		char buf[4096];

		free(name);
		if (!ok) {
			burst_error_set(err, BURST_EXIT_CONFIG,
					"%s: `%s` in forward_env_exclude is not an "
					"environment variable name",
					where(o, buf, sizeof(buf)), s);
			burst_error_hint(err, "write NAME, or PREFIX* for every "
					 "name starting with PREFIX");
			return -1;
		}
	}
	list_add(FIELD(cfg, k->id, struct config_list), s, o->src);
	return 0;
}

static int add_env_item(struct burst_config *cfg, const struct config_key *k,
			const char *s, const struct origin *o,
			struct burst_error *err)
{
	return env_entry(cfg, s, false, o, err);
}

static int apply_key(struct burst_config *cfg, const struct config_key *k,
		     const struct toml_value *v, const struct origin *o,
		     struct burst_error *err)
{
	enum toml_type t = toml_value_type(v);
	char buf[4096], name[128];
	const char *s;

	switch (k->type) {
	case CONFIG_T_STRING:
	case CONFIG_T_PATH: {
		char **field = FIELD(cfg, k->id, char *);

		if (!(s = get_string(k, v, "", o, err)))
			return -1;
		free(*field);
		*field = k->type == CONFIG_T_PATH ? expand_home(s) : xstrdup(s);
		break;
	}
	case CONFIG_T_INT: {
		int64_t n;

		if (t != TOML_INTEGER)
			return wrong_type(k, v, o, err);
		n = toml_int(v);
		if (n < k->min || n > k->max)
			return burst_error_set(
				err, BURST_EXIT_CONFIG,
				"%s: `%s` = %lld is out of range: expected %lld "
				"to %lld", where(o, buf, sizeof(buf)),
				config_key_fullname(k->id, name, sizeof(name)),
				(long long)n, (long long)k->min,
				(long long)k->max);
		*FIELD(cfg, k->id, int64_t) = n;
		break;
	}
	case CONFIG_T_BOOL:
		if (t != TOML_BOOL)
			return wrong_type(k, v, o, err);
		*FIELD(cfg, k->id, bool) = toml_bool(v);
		break;
	case CONFIG_T_STRINGS:
		if (t == TOML_STRING) {
			if (!(s = get_string(k, v, "", o, err)))
				return -1;
			strvec_clear(&cfg->regions);
			strvec_push(&cfg->regions, s);
			break;
		}
		if (t != TOML_ARRAY)
			return wrong_type(k, v, o, err);
		if (!toml_array_count(v))
			return burst_error_set(
				err, BURST_EXIT_CONFIG,
				"%s: `%s` must name at least one location",
				where(o, buf, sizeof(buf)),
				config_key_fullname(k->id, name, sizeof(name)));
		strvec_clear(&cfg->regions);
		if (each_string(cfg, k, v, o, err, add_region) < 0)
			return -1;
		break;
	case CONFIG_T_LIST:
		if (t != TOML_ARRAY)
			return wrong_type(k, v, o, err);
		if (each_string(cfg, k, v, o, err, add_list_item) < 0)
			return -1;
		if (toml_array_count(v) && o->src > cfg->source[k->id])
			cfg->source[k->id] = o->src;
		return 0;
	case CONFIG_T_ENVLIST:
		if (t != TOML_ARRAY)
			return wrong_type(k, v, o, err);
		return each_string(cfg, k, v, o, err, add_env_item);
	}
	cfg->source[k->id] = o->src;
	return 0;
}

/* ---- files ------------------------------------------------------------ */

static const struct config_key *find_key(const char *section, const char *name,
					 bool *via_alias)
{
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *k = &config_keys[i];

		if ((section == NULL) != (k->section == NULL))
			continue;
		if (section && strcmp(section, k->section))
			continue;
		if (!strcmp(name, k->name)) {
			*via_alias = false;
			return k;
		}
		if (k->alias && !strcmp(name, k->alias)) {
			*via_alias = true;
			return k;
		}
	}
	return NULL;
}

/* The error for an unknown key, with the closest valid key as the hint. */
static int unknown_key(const char *section, const char *key,
		       const struct origin *o, struct burst_error *err)
{
	const char *names[CONFIG_KEY_COUNT * 2 + 1];
	const struct config_key *owner[CONFIG_KEY_COUNT * 2 + 1];
	const char *best;
	char buf[4096];
	size_t n = 0;

	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		owner[n] = &config_keys[i];
		names[n++] = config_keys[i].name;
		if (config_keys[i].alias) {
			owner[n] = &config_keys[i];
			names[n++] = config_keys[i].alias;
		}
	}
	if (!section) { /* a misspelt table name */
		owner[n] = NULL;
		names[n++] = "hetzner";
	}
	burst_error_set(err, BURST_EXIT_CONFIG, "%s: unknown key `%s%s%s`",
			where(o, buf, sizeof(buf)), section ? section : "",
			section ? "." : "", key);
	best = burst_closest(key, names, n);
	for (size_t i = 0; best && i < n; i++) {
		const struct config_key *k = owner[i];

		if (names[i] != best)
			continue;
		if (!k)
			burst_error_hint(err, "did you mean `[hetzner]`?");
		else if ((section == NULL) == (k->section == NULL))
			burst_error_hint(err, "did you mean `%s`?", best);
		else if (k->section)
			burst_error_hint(err, "did you mean `%s` in the [%s] "
					 "table?", best, k->section);
		else
			burst_error_hint(err, "did you mean `%s`? it is a "
					 "top-level key, not in [%s]", best,
					 section);
		return -1;
	}
	burst_error_hint(err, "`cargo burst config --reference` lists the "
			 "valid keys");
	return -1;
}

/*
 * The error for a global-only key in the project file.  The project file
 * comes with a cloned repository, so it must not decide where the token
 * goes, which machine is trusted or which of the user's keys is used.
 */
static int refuse_global_only(const struct burst_config *cfg,
			      const struct config_key *k,
			      const struct origin *o, struct burst_error *err)
{
	const char *global = cfg->global_path ? cfg->global_path :
		"~/.config/cargo-burst/config.toml";
	const char *why, *instead = "";
	char buf[4096], name[128];

	if (k->id == CONFIG_TOKEN) {
		burst_error_set(err, BURST_EXIT_CONFIG,
				"%s: the API token is not allowed in the "
				"project config", where(o, buf, sizeof(buf)));
		burst_error_hint(err,
				 "the project file is synced and often "
				 "committed; put the token in the global "
				 "config (`token` under [hetzner] in "
				 "~/.config/cargo-burst/config.toml, "
				 "chmod 600) or in HCLOUD_TOKEN");
		return -1;
	}
	switch (k->id) {
	case CONFIG_ENDPOINT:
		why = "it decides where the API token is sent";
		instead = " or HCLOUD_ENDPOINT";
		break;
	case CONFIG_HOST:
		why = "it decides which machine gets your sources and your "
			"ssh login";
		instead = " or --host USER@MACHINE[:PORT]";
		break;
	case CONFIG_SSH_USER:
	case CONFIG_SSH_PORT:
		why = "it decides which ssh account and server your key logs "
			"in to";
		break;
	case CONFIG_SSH_KEY_PATH:
		why = "it decides which of your private keys is used";
		break;
	case CONFIG_MAX_SERVERS:
		why = "it is the cost guard, which a repository must not lift";
		break;
	case CONFIG_MAX_KEEP_ALIVE_SECS:
	case CONFIG_MAX_VOLUME_KEEP_ALIVE_SECS:
	case CONFIG_MAX_VOLUME_GB:
		why = "it is a cost ceiling, which a repository must not lift";
		break;
	default:
		why = "it is a setting of this machine, not of the project";
		break;
	}
	config_key_fullname(k->id, name, sizeof(name));
	burst_error_set(err, BURST_EXIT_CONFIG,
			"%s: `%s` is not allowed in the project config: %s",
			where(o, buf, sizeof(buf)), name, why);
	burst_error_hint(err, "the project file comes with the repository; "
			 "delete the line and set `%s`%s%s%s in the global "
			 "config %s%s", k->name, k->section ? " under [" : "",
			 k->section ? k->section : "", k->section ? "]" : "",
			 global, instead);
	return -1;
}

/*
 * A cost key the project file set above its ceiling from the global
 * config (applied before it): refused with file:line:col, why and where
 * the ceiling is raised.  A cloned repository must not run up the bill.
 */
static int over_ceiling(const struct burst_config *cfg, const struct config_key *k,
			const struct origin *o, struct burst_error *err)
{
	const char *global = cfg->global_path ? cfg->global_path :
		"~/.config/cargo-burst/config.toml";
	enum config_key_id ceiling;
	int64_t v, max;
	char buf[4096], name[128];

	switch (k->id) {
	case CONFIG_KEEP_ALIVE_SECS:
		v = cfg->keep_alive_secs;
		max = cfg->max_keep_alive_secs;
		ceiling = CONFIG_MAX_KEEP_ALIVE_SECS;
		break;
	case CONFIG_VOLUME_KEEP_ALIVE_SECS:
		v = cfg->volume_keep_alive_secs;
		max = cfg->max_volume_keep_alive_secs;
		ceiling = CONFIG_MAX_VOLUME_KEEP_ALIVE_SECS;
		break;
	case CONFIG_VOLUME_GB:
		v = cfg->volume_gb;
		max = cfg->max_volume_gb;
		ceiling = CONFIG_MAX_VOLUME_GB;
		break;
	default:
		return 0;
	}
	if (v <= max)
		return 0;
	config_key_fullname(k->id, name, sizeof(name));
	burst_error_set(err, BURST_EXIT_CONFIG,
			"%s: `%s = %lld` is above `%s` (%lld) in the project config: "
			"a cloned repository must not run up the bill",
			where(o, buf, sizeof(buf)), name, (long long)v,
			config_keys[ceiling].name, (long long)max);
	burst_error_hint(err, "lower it in the project file, or raise `%s` in the global "
			 "config %s if this project needs it", config_keys[ceiling].name,
			 global);
	return -1;
}

static int apply_table(struct burst_config *cfg, const char *section,
		       const struct toml_value *table, const char *path,
		       enum config_source src, struct burst_error *err)
{
	size_t n = toml_table_count(table);
	bool seen_regions = false;

	for (size_t i = 0; i < n; i++) {
		const struct toml_entry *e = toml_table_entry(table, i);
		struct origin o = { src, path, e->line, e->col };
		const struct config_key *k;
		char buf[4096];
		bool alias;

		if (!section && !strcmp(e->key, "hetzner") &&
		    e->key_len == strlen(e->key)) {
			if (toml_value_type(e->value) != TOML_TABLE)
				return burst_error_set(
					err, BURST_EXIT_CONFIG,
					"%s: wrong type for `hetzner`: expected "
					"a table, found %s",
					where(&o, buf, sizeof(buf)),
					toml_type_name(toml_value_type(e->value)));
			if (apply_table(cfg, "hetzner", e->value, path, src,
					err) < 0)
				return -1;
			continue;
		}
		k = e->key_len == strlen(e->key) ?
			find_key(section, e->key, &alias) : NULL;
		if (!k)
			return unknown_key(section, e->key, &o, err);
		if (k->id == CONFIG_REGIONS) {
			if (seen_regions)
				return burst_error_set(
					err, BURST_EXIT_CONFIG,
					"%s: `hetzner.region` and "
					"`hetzner.regions` both set; keep one",
					where(&o, buf, sizeof(buf)));
			seen_regions = true;
		}
		if ((k->flags & CONFIG_KEY_GLOBAL_ONLY) &&
		    src == CONFIG_SRC_PROJECT)
			return refuse_global_only(cfg, k, &o, err);
		if (apply_key(cfg, k, e->value, &o, err) < 0)
			return -1;
		if (src == CONFIG_SRC_PROJECT && over_ceiling(cfg, k, &o, err) < 0)
			return -1;
		if (k->id == CONFIG_TOKEN) {
			burst_redact_register(cfg->token);
			free(cfg->token_origin);
			cfg->token_origin = xstrfmt("global config %s", path);
		}
	}
	return 0;
}

int config_apply_toml(struct burst_config *cfg, const char *text, size_t len,
		      const char *path, enum config_source src,
		      struct burst_error *err)
{
	struct toml_error terr;
	struct toml_value *root = toml_parse(text, len, &terr);
	int ret;

	if (!root) {
		burst_error_set(err, BURST_EXIT_CONFIG, "%s:%d:%d: %s", path,
				terr.line, terr.col, terr.msg);
		burst_error_hint(err, "fix the TOML syntax of %s", path);
		return -1;
	}
	ret = apply_table(cfg, NULL, root, path, src, err);
	toml_free(root);
	return ret;
}

/*
 * A warning when a file holding the token (the global file, or
 * HCLOUD_TOKEN_FILE) has any group or other permission.
 */
static void check_token_file_mode(struct burst_config *cfg, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || !(st.st_mode & 077))
		return;
	strvec_pushf(&cfg->warnings,
		     "%s holds the API token and is readable by other users "
		     "(mode %03o); fix it with `chmod 600 %s`", path,
		     (unsigned)(st.st_mode & 0777), path);
}

int config_apply_file(struct burst_config *cfg, const char *path,
		      enum config_source src, struct burst_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	int ret = -1;

	strbuf_set_max(&sb, CONFIG_FILE_MAX);
	if (strbuf_read_file(&sb, path) < 0) {
		if (errno == ENOENT) {
			log_debug("config", "no %s config at %s",
				  config_source_name(src), path);
			ret = 1;
			goto out;
		}
		burst_error_set(err, BURST_EXIT_CONFIG, "cannot read %s: %s",
				path, errno == EFBIG ? "file too large" :
				strerror(errno));
		goto out;
	}
	log_debug("config", "reading %s config %s", config_source_name(src),
		  path);
	if (config_apply_toml(cfg, sb.buf, sb.len, path, src, err) < 0)
		goto out;
	if (src == CONFIG_SRC_GLOBAL && cfg->token &&
	    cfg->source[CONFIG_TOKEN] == CONFIG_SRC_GLOBAL)
		check_token_file_mode(cfg, path);
	ret = 0;
out:
	strbuf_release(&sb);
	return ret;
}

/* ---- cli and env ------------------------------------------------------ */

int config_apply_cli(struct burst_config *cfg, const struct config_overrides *o,
		     struct burst_error *err)
{
	struct origin orig = { CONFIG_SRC_CLI, "--env", 0, 0 };
	const struct config_key *k = &config_keys[CONFIG_KEEP_ALIVE_SECS];

	if (o->keep_alive_secs >= 0) {
		if (o->keep_alive_secs < k->min || o->keep_alive_secs > k->max)
			return burst_error_set(
				err, BURST_EXIT_USAGE,
				"--keep-alive %lld is out of range: expected %lld "
				"to %lld", (long long)o->keep_alive_secs,
				(long long)k->min, (long long)k->max);
		cfg->keep_alive_secs = o->keep_alive_secs;
		cfg->source[CONFIG_KEEP_ALIVE_SECS] = CONFIG_SRC_CLI;
	}
	if (o->arch) {
		if (!config_arch_valid(o->arch)) {
			burst_error_set(err, BURST_EXIT_USAGE, "--arch '%s' is not an "
					"architecture", o->arch);
			burst_error_hint(err, "use --arch x86 or --arch arm64");
			return -1;
		}
		free(cfg->arch);
		cfg->arch = xstrdup(o->arch);
		cfg->source[CONFIG_ARCH] = CONFIG_SRC_CLI;
	}
	for (size_t i = 0; o->env && i < o->env->nr; i++) {
		if (env_entry(cfg, o->env->v[i], true, &orig, err) < 0) {
			err->exit_code = BURST_EXIT_USAGE;
			return -1;
		}
	}
	return 0;
}

static int set_token(struct burst_config *cfg, char *token, char *origin,
		     struct burst_error *err)
{
	burst_redact_register(token);
	free(cfg->token);
	free(cfg->token_origin);
	cfg->token = token;
	cfg->token_origin = origin;
	cfg->source[CONFIG_TOKEN] = CONFIG_SRC_ENV;
	for (const char *p = token; *p; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f) {
			burst_error_set(err, BURST_EXIT_CONFIG,
					"the API token from %s contains white "
					"space or control characters", origin);
			burst_error_hint(err, "copy the token again from the "
					 "Hetzner Cloud console (Security > API "
					 "tokens)");
			return -1;
		}
	}
	return 0;
}

int config_apply_env(struct burst_config *cfg, struct burst_error *err)
{
	const char *token = getenv("HCLOUD_TOKEN");
	const char *file = getenv("HCLOUD_TOKEN_FILE");
	const char *endpoint = getenv("HCLOUD_ENDPOINT");

	if (token && *token) {
		if (set_token(cfg, xstrdup(token), xstrdup("env HCLOUD_TOKEN"),
			      err) < 0)
			return -1;
	} else if (file && *file) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_set_max(&sb, TOKEN_FILE_MAX);
		if (strbuf_read_file(&sb, file) < 0) {
			burst_error_set(err, BURST_EXIT_CONFIG,
					"cannot read HCLOUD_TOKEN_FILE %s: %s",
					file, errno == EFBIG ? "file too large" :
					strerror(errno));
			strbuf_release(&sb);
			return -1;
		}
		strbuf_trim(&sb);
		if (!sb.len) {
			strbuf_release(&sb);
			return burst_error_set(err, BURST_EXIT_CONFIG,
					       "HCLOUD_TOKEN_FILE %s is empty",
					       file);
		}
		if (set_token(cfg, strbuf_detach(&sb, NULL),
			      xstrfmt("env HCLOUD_TOKEN_FILE (%s)", file),
			      err) < 0)
			return -1;
		check_token_file_mode(cfg, file);
	}
	if (endpoint && *endpoint) {
		free(cfg->endpoint);
		cfg->endpoint = xstrdup(endpoint);
		cfg->source[CONFIG_ENDPOINT] = CONFIG_SRC_ENV;
	}
	return 0;
}

/* ---- validation ------------------------------------------------------- */

static bool is_loopback_host(const char *host, size_t len)
{
	char buf[64], *seg, *p;
	int64_t part;
	int dots = 0;

	if ((len == 9 && !strncmp(host, "localhost", 9)) ||
	    (len == 5 && !strncmp(host, "[::1]", 5)))
		return true;
	if (len < 9 || len >= sizeof(buf) || strncmp(host, "127.", 4))
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	for (seg = p = buf;; p++) {
		char c = *p;

		if (c != '.' && c)
			continue;
		*p = '\0';
		if (!*seg || strlen(seg) > 3 ||
		    parse_int64(seg, 0, 255, &part) < 0)
			return false;
		if (!c)
			break;
		dots++;
		seg = p + 1;
	}
	return dots == 3;
}

static int endpoint_error(const struct burst_config *cfg, const char *why,
			  struct burst_error *err)
{
	const char *from = cfg->source[CONFIG_ENDPOINT] == CONFIG_SRC_ENV ?
		"HCLOUD_ENDPOINT" : "hetzner.endpoint";

	burst_error_set(err, BURST_EXIT_CONFIG, "%s '%s' %s", from,
			cfg->endpoint, why);
	burst_error_hint(err, "use an https:// URL such as %s; plain http:// "
			 "is accepted only for a loopback host (127.0.0.1, "
			 "localhost, [::1])", CONFIG_DEFAULT_ENDPOINT);
	return -1;
}

int config_validate(const struct burst_config *cfg, struct burst_error *err)
{
	const char *rest, *end;
	bool http;

	if (skip_prefix(cfg->endpoint, "https://", &rest))
		http = false;
	else if (skip_prefix(cfg->endpoint, "http://", &rest))
		http = true;
	else
		return endpoint_error(cfg, "is not an http(s) URL", err);
	if (*rest == '[')
		end = strchr(rest, ']') ? strchr(rest, ']') + 1 : rest;
	else
		end = rest + strcspn(rest, ":/?#");
	if (end == rest || strchr("/:?#", *end) == NULL ||
	    memchr(rest, '@', (size_t)(end - rest)) ||
	    strcspn(cfg->endpoint, " \t\r\n") != strlen(cfg->endpoint))
		return endpoint_error(cfg, "is not a valid URL", err);
	if (http && !is_loopback_host(rest, (size_t)(end - rest)))
		return endpoint_error(cfg, "uses plain http for a host that is "
				      "not loopback", err);
	return 0;
}

const char *config_type_arch(const char *type)
{
	return type && !strncmp(type, "cax", 3) ? "arm64" : "x86";
}

const char *config_server_arch(const char *api_arch, const char *type)
{
	if (!api_arch)
		return config_type_arch(type);
	if (!strcmp(api_arch, "x86"))
		return "x86";
	return !strcmp(api_arch, "arm") ? "arm64" : "unknown";
}

bool config_arch_valid(const char *arch)
{
	return arch && (!strcmp(arch, "x86") || !strcmp(arch, "arm64"));
}

const char *config_image_server_type(const struct burst_config *cfg, const char *arch)
{
	return arch && !strcmp(arch, "arm64") ? cfg->arm_image_server_type :
		cfg->image_server_type;
}

static int arch_error(const char *key, const char *value, enum config_source src,
		      const char *what, struct burst_error *err)
{
	burst_error_set(err, BURST_EXIT_CONFIG, "[hetzner] %s = \"%s\" (%s): %s", key, value,
			config_source_name(src), what);
	burst_error_hint(err, "x86 types are cx*, cpx*, ccx*; arm64 ones cax*: set "
			 "server_type for arch = \"x86\" and arm_server_type for "
			 "arch = \"arm64\" (or pass --arch)");
	return -1;
}

/*
 * The build server's architecture and type: a cax* server_type alone means
 * arm64; arch (of the same or a later layer than server_type) picks
 * arm_server_type, or server_type's default for x86; both set in one layer
 * and not matching is an error.
 */
static int resolve_arch(struct burst_config *cfg, struct burst_error *err)
{
	enum config_source as = cfg->source[CONFIG_ARCH];
	enum config_source ts = cfg->source[CONFIG_SERVER_TYPE];
	const char *def = config_keys[CONFIG_SERVER_TYPE].def;

	if (!config_arch_valid(cfg->arch)) {
		arch_error("arch", cfg->arch, as, "not an architecture", err);
		burst_error_hint(err, "set arch = \"x86\" or arch = \"arm64\" under [hetzner]");
		return -1;
	}
	if (strcmp(config_type_arch(cfg->arm_server_type), "arm64"))
		return arch_error("arm_server_type", cfg->arm_server_type,
				  cfg->source[CONFIG_ARM_SERVER_TYPE], "not an arm64 type", err);
	if (!strcmp(config_type_arch(cfg->server_type), cfg->arch))
		return 0;
	if (ts != CONFIG_SRC_DEFAULT && ts >= as) {
		char what[128];

		if (as == CONFIG_SRC_DEFAULT) {
			free(cfg->arch);
			cfg->arch = xstrdup(config_type_arch(cfg->server_type));
			cfg->source[CONFIG_ARCH] = ts;
			return 0;
		}
		snprintf(what, sizeof(what), "an %s type, but arch is \"%s\"",
			 config_type_arch(cfg->server_type), cfg->arch);
		return arch_error("server_type", cfg->server_type, ts, what, err);
	}
	free(cfg->server_type);
	if (!strcmp(cfg->arch, "arm64")) {
		cfg->server_type = xstrdup(cfg->arm_server_type);
		cfg->source[CONFIG_SERVER_TYPE] = cfg->source[CONFIG_ARM_SERVER_TYPE];
	} else {
		cfg->server_type = xstrndup(def + 1, strlen(def) - 2);
		cfg->source[CONFIG_SERVER_TYPE] = CONFIG_SRC_DEFAULT;
	}
	return 0;
}

/* Defaults that depend on the machine, and derived values. */
static void finish(struct burst_config *cfg)
{
	size_t len = strlen(cfg->endpoint);

	while (len > 0 && cfg->endpoint[len - 1] == '/')
		cfg->endpoint[--len] = '\0';
	if (cfg->source[CONFIG_SSH_KEY_PATH] == CONFIG_SRC_DEFAULT &&
	    access(cfg->ssh_key_path, F_OK) < 0) {
		char *rsa = expand_home("~/.ssh/id_rsa");

		if (!access(rsa, F_OK)) {
			free(cfg->ssh_key_path);
			cfg->ssh_key_path = rsa;
			rsa = NULL;
		}
		free(rsa);
	}
	set_pub_path(cfg);
}

int config_load(struct burst_config *cfg, const struct config_load_opts *opts,
		struct burst_error *err)
{
	int r;

	free(cfg->global_path);
	cfg->global_path = opts->global_path ? xstrdup(opts->global_path) :
		config_global_path();
	r = config_apply_file(cfg, cfg->global_path, CONFIG_SRC_GLOBAL, err);
	if (r < 0)
		return -1;
	cfg->global_found = r == 0;
	if (opts->workspace_root) {
		free(cfg->project_path);
		cfg->project_path = config_project_path(opts->workspace_root);
		r = config_apply_file(cfg, cfg->project_path,
				      CONFIG_SRC_PROJECT, err);
		if (r < 0)
			return -1;
		cfg->project_found = r == 0;
	}
	if (config_apply_cli(cfg, &opts->cli, err) < 0 ||
	    config_apply_env(cfg, err) < 0 ||
	    (!cfg->token && config_apply_hcloud_cli(cfg, err) < 0))
		return -1;
	finish(cfg);
	if (resolve_arch(cfg, err) < 0)
		return -1;
	return config_validate(cfg, err);
}

int config_require_token(const struct burst_config *cfg, struct burst_error *err)
{
	char *path;

	if (cfg->token)
		return 0;
	path = cfg->global_path ? xstrdup(cfg->global_path) :
		config_global_path();
	burst_error_set(err, BURST_EXIT_CONFIG, "no Hetzner Cloud API token");
	burst_error_hint(err, "export HCLOUD_TOKEN=<token>, or put `token = "
			 "\"<token>\"` under [hetzner] in %s (then `chmod 600 "
			 "%s`); create a read+write token in the Hetzner Cloud "
			 "console under Security > API tokens", path, path);
	free(path);
	return -1;
}

/* The token must never reach the server, under any name. */
static bool holds_token(const struct burst_config *cfg, const char *name,
			const char *v)
{
	if (!v || !cfg->token || !*cfg->token || !strstr(v, cfg->token))
		return false;
	ui_warn("not forwarding `%s`: its value contains the Hetzner API token, "
		"which never leaves this machine", name);
	return true;
}

static const char *env_lookup(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; envp && envp[i]; i++)
		if (!strncmp(envp[i], name, n) && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

/* forward_env's "PREFIX*": the local variables starting with PREFIX. */
static void forward_prefix(const struct burst_config *cfg, char *const *envp,
			   const char *prefix, size_t len, struct strvec *out)
{
	for (size_t i = 0; envp && envp[i]; i++) {
		const char *eq = strchr(envp[i], '=');
		char *name;

		if (!eq || (size_t)(eq - envp[i]) < len || strncmp(envp[i], prefix, len))
			continue;
		name = xstrndup(envp[i], (size_t)(eq - envp[i]));
		if (config_env_name_valid(name) && !config_env_name_secret(name) &&
		    strncmp(name, "HCLOUD_", 7) && !config_env_name_refused(name) &&
		    !holds_token(cfg, name, eq + 1))
			strvec_setenv(out, name, eq + 1);
		free(name);
	}
}

void config_env_resolve_from(const struct burst_config *cfg, char *const *envp,
			     struct strvec *out, struct strvec *missing)
{
	for (size_t i = 0; i < cfg->forward_env_nr; i++) {
		const struct config_env *e = &cfg->forward_env[i];
		const char *v = e->value ? e->value : env_lookup(envp, e->name);
		size_t n = strlen(e->name);

		if (n && e->name[n - 1] == '*') {
			forward_prefix(cfg, envp, e->name, n - 1, out);
			continue;
		}
		if (holds_token(cfg, e->name, v))
			continue;
		if (v)
			strvec_setenv(out, e->name, v);
		else if (missing)
			strvec_push(missing, e->name);
	}
	for (size_t i = 0; envp && envp[i]; i++) {
		const char *eq = strchr(envp[i], '=');
		char *name;
		bool listed = false;

		if (!eq || eq == envp[i])
			continue;
		name = xstrndup(envp[i], (size_t)(eq - envp[i]));
		for (size_t k = 0; k < cfg->forward_env_nr && !listed; k++)
			listed = env_pattern_match(cfg->forward_env[k].name, name);
		if (!listed && config_env_default_forwarded(name) &&
		    !config_env_excluded(cfg, name) &&
		    !holds_token(cfg, name, eq + 1))
			strvec_setenv(out, name, eq + 1);
		free(name);
	}
}

void config_env_resolve(const struct burst_config *cfg, struct strvec *out,
			struct strvec *missing)
{
	config_env_resolve_from(cfg, environ, out, missing);
}

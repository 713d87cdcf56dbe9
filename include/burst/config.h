/*
 * config.h - the layered configuration of cargo-burst.
 *
 * Layers, each overriding the previous one:
 *   default
 *   global   $XDG_CONFIG_HOME/cargo-burst/config.toml (~/.config/...)
 *   project  <workspace>/.config/cargo-burst.toml (comes with a cloned
 *            repository: refuses the CONFIG_KEY_GLOBAL_ONLY keys, which
 *            decide where the token goes, which machine is trusted or which
 *            of the user's keys is used, or lift the cost guard:
 *            token, endpoint, host, ssh_*, max_*; and a cost key above
 *            its ceiling: keep_alive_secs > max_keep_alive_secs,
 *            volume_keep_alive_secs > max_volume_keep_alive_secs,
 *            volume_gb > max_volume_gb)
 *   cli      --keep-alive, --env of the run verbs
 *   env      HCLOUD_TOKEN, HCLOUD_TOKEN_FILE (a file holding the token;
 *            HCLOUD_TOKEN wins when both are set), HCLOUD_ENDPOINT
 * When no layer set the token, the active context of the official hcloud
 * CLI provides it (source CONFIG_SRC_HCLOUD_CLI; see
 * config_apply_hcloud_cli()).
 * Scalars are replaced by a later layer; forward_env, forward_env_exclude,
 * extra_excludes and unexclude are additive (global -> project -> cli, de-duplicated, first
 * position kept) and a --env VAR=VALUE wins over a file entry of the same
 * name.
 *
 * The file layout (one table, config_keys[], drives loading, validation,
 * unknown-key suggestions, `cargo burst config` and the README table):
 *
 *   [hetzner]                       # the cloud account and machine shapes
 *   token = "..."                   # global file only (or HCLOUD_TOKEN)
 *   endpoint = "https://api.hetzner.cloud/v1"   # global file only
 *   regions = ["hel1", "fsn1", "nbg1"]   # or a string; alias `region`
 *   server_type = "ccx63"
 *   image_server_type = "cx22"
 *   snapshot_keep = 2
 *
 *   keep_alive_secs = 300           # every other key is top-level
 *   volume_keep_alive_secs = 3600
 *   ...
 *
 * Every value records its source.  Problems with the input are errors
 * (BURST_EXIT_CONFIG) that say "path:line:col: ..." and suggest the fix;
 * things that are only suspicious (a refused forward name, the global
 * file or HCLOUD_TOKEN_FILE holding the token with group/other
 * permissions) are appended to cfg->warnings for the caller to print with
 * ui_warn().  The token is registered for redaction the moment
 * it is read.
 */
#ifndef BURST_CONFIG_H
#define BURST_CONFIG_H

#include "burst/error.h"
#include "burst/strbuf.h"
#include "burst/strvec.h"
#include "burst/util.h"

#define CONFIG_DEFAULT_ENDPOINT "https://api.hetzner.cloud/v1"

/* Where a value came from, in layering order. */
enum config_source {
	CONFIG_SRC_DEFAULT = 0,
	CONFIG_SRC_GLOBAL,
	CONFIG_SRC_PROJECT,
	CONFIG_SRC_CLI,
	CONFIG_SRC_ENV,
	/*
	 * The token only, and only when no layer above set one: the active
	 * context of the official hcloud CLI (config_apply_hcloud_cli()).
	 */
	CONFIG_SRC_HCLOUD_CLI,
};

/* The keys, in the order of config_keys[] and of `cargo burst config`. */
enum config_key_id {
	CONFIG_TOKEN = 0,
	CONFIG_ENDPOINT,
	CONFIG_REGIONS,
	CONFIG_SERVER_TYPE,
	CONFIG_IMAGE_SERVER_TYPE,
	CONFIG_ARCH,
	CONFIG_ARM_SERVER_TYPE,
	CONFIG_ARM_IMAGE_SERVER_TYPE,
	CONFIG_SNAPSHOT_KEEP,
	CONFIG_KEEP_ALIVE_SECS,
	CONFIG_VOLUME_KEEP_ALIVE_SECS,
	CONFIG_VOLUME_GB,
	CONFIG_BILLING_HOUR_HOLD,
	CONFIG_BILLING_MARGIN_SECS,
	CONFIG_MAX_SERVERS,
	CONFIG_MAX_KEEP_ALIVE_SECS,
	CONFIG_MAX_VOLUME_KEEP_ALIVE_SECS,
	CONFIG_MAX_VOLUME_GB,
	CONFIG_SSH_KEY_PATH,
	CONFIG_SSH_USER,
	CONFIG_SSH_PORT,
	CONFIG_FORWARD_ENV,
	CONFIG_FORWARD_ENV_EXCLUDE,
	CONFIG_EXTRA_EXCLUDES,
	CONFIG_UNEXCLUDE,
	CONFIG_SYNC_GIT,
	CONFIG_SYNC_VERIFY_SECS,
	CONFIG_HOST,
	CONFIG_KEY_COUNT
};

/* Value types of the key table. */
enum config_type {
	CONFIG_T_STRING,  /* a string */
	CONFIG_T_PATH,    /* a string; a leading ~/ is expanded */
	CONFIG_T_INT,     /* an integer in [min, max] */
	CONFIG_T_BOOL,    /* true or false */
	CONFIG_T_STRINGS, /* a string or an array of strings; replaced */
	CONFIG_T_LIST,    /* an array of strings; additive */
	CONFIG_T_ENVLIST, /* an array of environment names; additive */
};

/* Flags of a key. */
enum config_key_flags {
	CONFIG_KEY_SECRET = 1 << 0,      /* never printed (the token) */
	CONFIG_KEY_GLOBAL_ONLY = 1 << 1, /* refused in the project file, with
					  * file:line:col, why and where */
};

/* One row of the key table. */
struct config_key {
	enum config_key_id id;
	const char *section; /* "hetzner", or NULL for a top-level key */
	const char *name;    /* "regions" */
	const char *alias;   /* "region", or NULL */
	enum config_type type;
	int64_t min, max;    /* CONFIG_T_INT range */
	const char *def;     /* default as TOML text, NULL = unset */
	const char *doc;     /* one sentence for `config --reference`/README */
	unsigned flags;      /* enum config_key_flags */
};

/* The key table, CONFIG_KEY_COUNT rows indexed by enum config_key_id. */
extern const struct config_key config_keys[CONFIG_KEY_COUNT];

/* An additive list of strings; sources[i] is where items.v[i] came from. */
struct config_list {
	struct strvec items;
	enum config_source *sources;
	size_t alloc;
};

/* One forwarded environment variable. */
struct config_env {
	char *name;
	char *value; /* from --env NAME=VALUE, or NULL: forward the local value */
	enum config_source source;
};

/* The effective configuration. */
struct burst_config {
	/* [hetzner] */
	char *token;              /* NULL when not set; never print it */
	char *token_origin;       /* "env HCLOUD_TOKEN", "global config <path>", ... */
	char *endpoint;           /* API base URL without trailing '/' */
	struct strvec regions;    /* location names, in preference order */
	char *server_type;        /* the build server's type, for `arch` (see finish) */
	char *image_server_type;
	char *arch;               /* "x86" or "arm64": of the build server */
	char *arm_server_type;    /* the build server's type when arch is arm64 */
	char *arm_image_server_type; /* the bake's type for `image build --arch arm64` */
	int64_t snapshot_keep;
	/* top level */
	int64_t keep_alive_secs;
	int64_t volume_keep_alive_secs;
	int64_t volume_gb;
	bool billing_hour_hold;
	int64_t billing_margin_secs;
	int64_t max_servers;      /* cost guard: build servers of ours at once */
	/* ceilings of the project file's cost keys (global file only) */
	int64_t max_keep_alive_secs;
	int64_t max_volume_keep_alive_secs;
	int64_t max_volume_gb;
	char *ssh_key_path;       /* private key, ~ expanded */
	char *ssh_pub_key_path;   /* ssh_key_path + ".pub" (derived) */
	char *ssh_user;
	int64_t ssh_port;
	struct config_env *forward_env;
	size_t forward_env_nr, forward_env_alloc;
	struct config_list forward_env_exclude; /* names or "PREFIX*" */
	struct config_list extra_excludes;
	struct config_list unexclude;
	bool sync_git;            /* sync the workspace's .git for build scripts */
	int64_t sync_verify_secs; /* a full sync when the last is older; 0 = never */
	char *host;               /* bring your own host "user@machine[:port]", or NULL */

	enum config_source source[CONFIG_KEY_COUNT]; /* of scalar keys */
	char *global_path;        /* the global file looked at */
	bool global_found;        /* ... and it existed */
	char *project_path;       /* the project file looked at, or NULL */
	bool project_found;
	struct strvec warnings;   /* for the caller to print with ui_warn() */
};

/* Initialise to the defaults (sources CONFIG_SRC_DEFAULT). */
void config_init(struct burst_config *cfg);
/* Free everything; cfg must be config_init()ed again before reuse. */
void config_release(struct burst_config *cfg);
/*
 * The default of an integer or boolean key (CONFIG_T_INT, CONFIG_T_BOOL:
 * 1/0) as the key table states it: for code that runs without a loaded
 * config, so it never keeps defaults of its own.
 */
int64_t config_key_default_int(enum config_key_id id);
/* Allocate an initialised config. */
struct burst_config *config_new(void);
/* Release and free; NULL is fine. */
void config_free(struct burst_config *cfg);

/* CLI flags that override the files (the cli layer). */
struct config_overrides {
	int64_t keep_alive_secs;  /* --keep-alive, or -1 */
	const struct strvec *env; /* --env values "VAR" or "VAR=VALUE", or NULL */
	const char *arch;         /* --arch, or NULL */
};

/* What config_load() reads. */
struct config_load_opts {
	const char *workspace_root; /* NULL: no project layer */
	const char *global_path;    /* NULL: the XDG default */
	struct config_overrides cli;
};

/*
 * Load every layer into cfg (config_init()ed) and validate the result.
 * Returns 0, or -1 with err filled (BURST_EXIT_CONFIG).
 */
int config_load(struct burst_config *cfg, const struct config_load_opts *opts,
		struct burst_error *err);

/* The default global file path (allocated): $XDG_CONFIG_HOME or ~/.config. */
char *config_global_path(void);
/* The project file of a workspace (allocated). */
char *config_project_path(const char *workspace_root);
/*
 * The default state directory (allocated): $XDG_STATE_HOME/cargo-burst or
 * ~/.local/state/cargo-burst (state.db, reaper logs, the workspace cache).
 */
char *config_state_dir(void);

/*
 * Apply one TOML document as layer src (CONFIG_SRC_GLOBAL or _PROJECT);
 * path is used in messages.  Returns 0 or -1 with err filled.
 */
int config_apply_toml(struct burst_config *cfg, const char *text, size_t len,
		      const char *path, enum config_source src,
		      struct burst_error *err);
/* Read and apply a file; a missing file is not an error (returns 1). */
int config_apply_file(struct burst_config *cfg, const char *path,
		      enum config_source src, struct burst_error *err);
/* Apply the cli layer.  Returns 0 or -1 with err filled. */
int config_apply_cli(struct burst_config *cfg, const struct config_overrides *o,
		     struct burst_error *err);
/* Apply the env layer (HCLOUD_TOKEN, _FILE, HCLOUD_ENDPOINT). */
int config_apply_env(struct burst_config *cfg, struct burst_error *err);
/*
 * When cfg has no token: take the one of the official hcloud CLI's context
 * ($HCLOUD_CONFIG, default ~/.config/hcloud/cli.toml; the context named by
 * HCLOUD_CONTEXT, else active_context; `[[contexts]]` entries with `name`
 * and `token`).  token_origin names the context and the file; the file's
 * group/other permissions are warned about as for the global file.  A
 * missing file is not an error; an unreadable or malformed one, or a
 * context that is not there, is a warning (the file is another tool's).
 * Returns 0, or -1 with err (BURST_EXIT_CONFIG) when the token is unusable.
 */
int config_apply_hcloud_cli(struct burst_config *cfg, struct burst_error *err);
/*
 * The architecture of a server type, by its name: "arm64" for Hetzner's
 * Ampere types (cax*), else "x86".  Offline; the API's answer
 * (server_type.architecture) is checked where it is fetched.
 */
const char *config_type_arch(const char *type);
/*
 * A server's architecture as the tool names it, from the API's
 * server_type.architecture (hcloud.h): "x86" is "x86", "arm" is "arm64",
 * any other value "unknown" (used by no run); only when the API sent none
 * (NULL) the type name's rule, config_type_arch(type).
 */
const char *config_server_arch(const char *api_arch, const char *type);
/* Is arch one of the names the tool takes ("x86", "arm64")? */
bool config_arch_valid(const char *arch);
/*
 * The server type `image build` bakes on for arch: image_server_type for
 * x86, arm_image_server_type for arm64.
 */
const char *config_image_server_type(const struct burst_config *cfg, const char *arch);
/* Check values that depend on each other (endpoint scheme).  0 or -1. */
int config_validate(const struct burst_config *cfg, struct burst_error *err);

/*
 * For the API verbs: -1 with an error saying where to put the token
 * (HCLOUD_TOKEN, or token in the global file) when none is set.
 */
int config_require_token(const struct burst_config *cfg, struct burst_error *err);

/* Is name a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)? */
bool config_env_name_valid(const char *name);
/* Is name one that is never forwarded (PATH, HOME, CARGO_TARGET_DIR, ...)? */
bool config_env_name_refused(const char *name);
/* Is name one that holds the API token (HCLOUD_TOKEN, HCLOUD_TOKEN_FILE)? */
bool config_env_name_secret(const char *name);
/*
 * Is name forwarded by default when it is set locally?  The names that
 * change what cargo builds or how the tests run (RUSTFLAGS, CARGO_BUILD_*,
 * CARGO_PROFILE_*, RUST_TEST_*, NEXTEST_*, ...), minus the ones about this
 * machine (paths, local programs: CARGO_HOME, CARGO_BUILD_TARGET_DIR,
 * CARGO_BUILD_RUSTC_WRAPPER, ...), the ones cargo-burst sets itself
 * (CARGO_TERM_COLOR) and never HCLOUD_*.  The list is in config.c.
 */
bool config_env_default_forwarded(const char *name);
/*
 * Is name matched by one of the patterns of forward_env_exclude ("NAME",
 * or "PREFIX*" for every name starting with PREFIX; "*" matches all)?
 */
bool config_env_excluded(const struct burst_config *cfg, const char *name);
/*
 * The NAME=value entries to set remotely, appended to out: explicit values
 * as given, other names with their local value; names unset locally are
 * appended to missing (may be NULL).  Then every variable of envp (the
 * local environment when NULL) that config_env_default_forwarded() and
 * not config_env_excluded(), in envp order.  A value that contains the API
 * token is never forwarded (warned about instead): the token stays local.
 */
void config_env_resolve(const struct burst_config *cfg, struct strvec *out,
			struct strvec *missing);
/* The same with the local environment given (for tests). */
void config_env_resolve_from(const struct burst_config *cfg, char *const *envp,
			     struct strvec *out, struct strvec *missing);

/* The name of a source: "default", "global", "project", "cli", "env". */
const char *config_source_name(enum config_source src);
/* The dotted name of a key: "hetzner.regions", "keep_alive_secs". */
const char *config_key_fullname(enum config_key_id id, char *buf, size_t size);

/* Append the effective config, one key per line with its source. */
void config_format(const struct burst_config *cfg, struct strbuf *out);
/* The version of `config --json` (its "schema" field); see STATE_STATUS_JSON_SCHEMA. */
#define CONFIG_JSON_SCHEMA 1
/* Append the effective config as a JSON object. */
void config_format_json(const struct burst_config *cfg, struct strbuf *out);
/* Append the key reference as a Markdown table (for the README). */
void config_format_reference(struct strbuf *out);

/*
 * The candidate closest to word by edit distance (transpositions count
 * one), or NULL when none is close enough to be a plausible typo.
 */
const char *burst_closest(const char *word, const char *const *candidates,
			  size_t n);

/*
 * Locate the cargo workspace containing cwd: runs `cargo locate-project
 * --workspace --message-format plain` ($CARGO, cargo on PATH, then
 * ~/.cargo/bin/cargo) and sets *root to the directory of the workspace
 * manifest (allocated).  Outside a cargo project: -1 with a
 * BURST_EXIT_CONFIG error and a hint; when cargo itself fails (no default
 * toolchain, a broken manifest), the same with cargo's own message.  The answer is cached per cwd in
 * <state dir>/workspace/ and reused (without starting cargo) while every
 * Cargo.toml from cwd up to / and the root's own is unchanged (stat) and
 * older than 2 s.
 */
int workspace_locate(const char *cwd, char **root, struct burst_error *err);

#endif

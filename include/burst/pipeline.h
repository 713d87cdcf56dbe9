/*
 * pipeline.h - the run pipeline: `cargo burst build|test|check|clippy|bench|run`.
 *
 * One run: workspace identity -> warm server (no API call) or cold
 * provisioning -> mount the project volume || rsync the workspace -> the
 * remote cargo command, streamed -> fetch artifacts -> records and reapers.
 *
 * pipeline_run() is the entry point the CLI calls with a struct
 * pipeline_job it fills (the pipeline includes no CLI header: the CLI
 * parses and builds the request, the pipeline consumes it).  The rest of
 * this header is the pure planning part of a run (no I/O besides reading
 * local files), exposed so it can be unit-tested: the remote command line,
 * the doctest rule, artifact selection, the missing-env-var hint, the
 * large-directory scan and the closing summary line.
 */
#ifndef BURST_PIPELINE_H
#define BURST_PIPELINE_H

#include "burst/error.h"
#include "burst/layout.h"
#include "burst/strbuf.h"
#include "burst/strvec.h"
#include "burst/util.h"

struct burst_config;
struct burst_state;
struct hcloud;
struct remote_host;

/* One port forward of `run -L LOCAL[:REMOTE]`. */
struct run_forward {
	int local, remote;
};

/*
 * A run verb's request, worked out once at the CLI edge from the routed
 * arguments and the loaded config (run_request_build() in cli.h, in the
 * dispatcher for CMD_RUN commands) and validated there; the pipeline only
 * reads it.  The pipeline takes a run's policy from here, never from the
 * command line or the config's keys again: the config is the one source of
 * defaults and --keep-alive is applied to it (config_apply_cli()), so each
 * value below is resolved in one place.  Strings and vectors point into the
 * routed arguments and the config it was built from.
 */
struct run_request {
	/* what runs */
	const char *verb;               /* "build", "test", ..., "ssh", "up" */
	const struct strvec *cargo_args; /* what follows `cargo <verb>` remotely
					   (ssh: the command) */
	const char *toolchain;          /* +toolchain (before or after the verb), or
					   NULL: rust-toolchain file or the default */
	const struct strvec *env;       /* --env as given (VAR or VAR=VALUE) */
	bool no_fetch;                  /* --no-fetch: do not fetch artifacts */
	bool yes;                       /* -y/--yes: do not ask before costly steps */
	bool no_doctests;               /* test: --no-doctests */
	bool cargo_test;                /* test: --cargo-test (not nextest) */
	bool no_sync;                   /* ssh: --no-sync */
	bool dry_run;                   /* --dry-run: print the plan and its cost */
	const char *junit;              /* test: --junit PATH, or NULL */
	/* keep-alive and reap policy */
	int64_t keep_alive_secs;        /* server: --keep-alive, else the config's */
	int64_t volume_keep_alive_secs; /* the project's volume */
	bool no_reap;                   /* --no-reap */
	bool billing_hour_hold;         /* keep an idle server to its billed hour */
	int64_t billing_margin_secs;    /* ...deleting this long before it ends */
	const char *host;               /* BYO host: --host, else the config's
					   `host`, else NULL (a Hetzner server) */
	struct run_forward *forwards;   /* run -L/--forward, parsed */
	size_t nforwards;
	int shards;                     /* test --shards N, 0 when not given */
	bool sharded;                   /* --shards or --junit: the sharded test path */
};

/*
 * What the pipeline's entry points take: the request and what the CLI
 * prepared for it (the prepare hooks of src/cli/prepare.c).  The pipeline
 * includes no CLI header; the CLI fills this (cli_pipeline_job(), cli.h).
 */
struct pipeline_job {
	const struct run_request *req;     /* the run's request */
	const struct burst_config *config; /* loaded, --keep-alive applied */
	struct hcloud *api;                /* the API client (NULL for a BYO host) */
	struct burst_state *state;         /* the state DB */
	const char *cwd;                   /* the directory the tool runs in */
	const char *workspace_root;        /* the cargo workspace */
	bool fetch_verb;                   /* the verb fetches artifacts (build, bench) */
};

/*
 * Run one of the run verbs described by job.  Returns the process exit
 * code: the remote cargo's status unchanged (0, 1, 101, ...), or 130 after
 * Ctrl-C (the remote cargo is stopped, the run recorded as interrupted,
 * the reapers armed); or -1 with err filled when the tool itself failed
 * (API, ssh, state...), which main prints and turns into the error's
 * reserved exit code.  Uses job->api only for a Hetzner server.
 */
int pipeline_run(const struct pipeline_job *job, struct burst_error *err);
/*
 * --dry-run of a run verb (pipeline_run() calls it): print the plan (reuse
 * or create a server of which type where, the volume, the first hour's
 * and the volume's monthly cost, the command) to stdout from the state and
 * GET requests only; creates nothing, starts no reaper, writes no state.
 * Returns 0, or -1 with err filled.
 */
int pipeline_dry_run(const struct pipeline_job *job, struct burst_error *err);
/*
 * Does the job fetch artifacts after a successful cargo?  The verb's
 * command-table flag (job->fetch_verb, CMD_RUN_FETCH) unless --no-fetch:
 * the one answer for the fetch itself and for --dry-run's plan.
 */
bool pipeline_job_fetches(const struct pipeline_job *job);

/*
 * `cargo burst up --wait` (src/cmd/up.c detaches it without --wait): what a
 * run does before cargo -- the lease, the warm server or the cold path
 * under the provisioning lock, the project's volume attached and mounted,
 * the workspace synced, the reapers armed with the request's keep-alive
 * -- then one outcome line and an `up` event in the audit log.  A server
 * and volume that were up already are said so and their deadlines are not
 * extended.  Returns 0, 130 after a signal, or -1 with err filled.
 */
int pipeline_up(const struct pipeline_job *job, struct burst_error *err);

/*
 * Where a project lives on the server and on a BYO host, and the ssh
 * control dir: layout.h.
 *
 * Make dir (a layout_control_dir()) safe to hold the sockets: create it
 * 0700 when it is missing and create is set, and refuse one that is not a
 * directory (lstat: a symlink is refused), is not owned by us or has any
 * group or other permission -- another user could have planted it in
 * /tmp to reach our ssh masters.  Returns 0; 1 when it is missing and
 * create is not set; -1 with err filled (BURST_EXIT_REMOTE).
 */
int pipeline_control_dir_prepare(const char *dir, bool create,
				 struct burst_error *err);

/*
 * ---- bring your own host ----
 * `--host USER@MACHINE[:PORT]` (run verbs, ssh) or `host = "..."` in the
 * global config runs the same pipeline on an existing ssh machine: no API
 * call, no token, no reapers, no volume.  The project lives in
 * ~/.cache/cargo-burst/<hash>/{src,target,sccache} on that machine; ssh
 * checks its host key against the user's ~/.ssh/known_hosts and the tool's
 * file (strictly), with the user's key.  The host of a run is its
 * run_request's.
 */

/*
 * Parse "[user@]machine[:port]" ("[v6addr]:port" too) into h->user (only
 * when given), h->host and h->port (0 when not given).  -1 with a usage
 * error naming spec when it is malformed.
 */
int pipeline_parse_host(const char *spec, struct remote_host *h,
			struct burst_error *err);

/*
 * Remember the last run on a BYO host (there is no server row for it):
 * <state_dir>/byo/<hash of host>, one line "time verb exit_code ms".
 */
void pipeline_byo_record(const char *state_dir, const char *host, const char *verb,
			 int exit_code, uint64_t ms);
/*
 * The last run on a BYO host for `status` (allocated), e.g.
 * "build ok 2026-11-22 03:55 UTC in 1.2s", or NULL when none is known.
 */
char *pipeline_byo_last_run(const char *state_dir, const char *host);

/*
 * Parse a --forward value "LOCAL[:REMOTE]" (ports 1..65535; REMOTE defaults
 * to LOCAL); -1 with a usage error otherwise.
 */
int pipeline_parse_forward(const char *spec, int *local, int *remote,
			   struct burst_error *err);
/*
 * Is 127.0.0.1:port free to listen on?  0 when it is; -1 with an error
 * naming the port (and the process holding it, when /proc tells) when not.
 */
int pipeline_check_local_port(int port, struct burst_error *err);

/*
 * The toolchain pinned by <root>/rust-toolchain.toml or <root>/rust-toolchain
 * ([toolchain] channel = "...", or a plain first line), or NULL (allocated).
 */
char *pipeline_toolchain_file(const char *root);
/*
 * Does `rustup toolchain list` output list the toolchain name ("stable"
 * matches "stable-x86_64-unknown-linux-gnu (default)")?
 */
bool pipeline_toolchain_listed(const char *list, const char *name);
/* The marker line the remote wrapper prints `rustc -V` after (stderr). */
#define PIPELINE_RUSTC_MARKER "cargo-burst-rustc: "

/*
 * `cargo burst ssh` (the exec of its table entry): a shell or a command on
 * the build server in the project's synced source dir, with the runs'
 * environment; provisions and syncs first like a run.  Returns the remote
 * command's exit status, or -1 with err filled.
 */
int pipeline_shell(const struct pipeline_job *job, struct burst_error *err);

/* Everything the remote command line is built from. */
struct pipeline_cmd {
	const char *verb;         /* build, test, check, clippy, bench, run */
	const char *toolchain;    /* "nightly" for +nightly, or NULL */
	const char *const *args;  /* cargo's arguments, verbatim */
	size_t nargs;
	const struct strvec *env; /* forwarded NAME=value entries */
	const char *project_hash;
	bool no_doctests;         /* test: --no-doctests */
	bool cargo_test;          /* test: --cargo-test (plain cargo test) */
	bool has_lib;             /* the workspace has a library target */
	bool color;               /* the local terminal shows colour */
	bool byo;                 /* a BYO host: home-relative paths (layout.h) */
	bool install_toolchain;   /* `rustup toolchain install` first */
	const char *const *shell; /* ssh: the command words (NULL = a shell) */
	size_t nshell;
	const char *cwd_rel;      /* run in this dir of the source root, or NULL */
	bool paths_line;          /* print the PIPELINE_PATHS_MARKER line first */
	bool cache_stats;         /* sccache's stats and the volume's df on stderr
				     (the PIPELINE_*_MARKER lines of cachestats) */
};

/*
 * Build the one remote shell command of a run (allocated): environment
 * (CARGO_TARGET_DIR, SCCACHE_DIR on the volume, PATH, forwarded variables),
 * sccache started detached when installed, the database wait for test and
 * bench, then the verb.  Every word is quoted for a POSIX shell.
 */
char *pipeline_remote_command(const struct pipeline_cmd *cmd);
/*
 * The cargo command line(s) of cmd as the user would type them, each word
 * quoted for a shell, in backquotes ("`cargo build --release`"; for test
 * nextest's, then the fallback without it): what -v shows.
 */
char *pipeline_display_command(const struct pipeline_cmd *cmd);

/*
 * Should `cargo burst test` run `cargo test --doc` after nextest?  No with
 * --no-doctests, with a target selection flag (--test, --bin, --example,
 * --bench, their plurals, --lib, also in `=` form) or without a library.
 */
bool pipeline_wants_doctests(const char *const *args, size_t nargs,
			     bool no_doctests, bool has_lib);

/*
 * The profile directory selected by cargo's arguments for a verb: "debug",
 * "release" or a custom profile's name (--release, -r, --profile NAME).
 */
const char *pipeline_profile_dir(const char *verb, const char *const *args,
				 size_t nargs);

/*
 * The target triple a build uses, or NULL for the host (allocated): --target
 * on the command line, then CARGO_BUILD_TARGET (env_target), then [build]
 * target in <workspace>/.cargo/config.toml.  A .json target spec yields its
 * file stem.
 */
char *pipeline_target_triple(const char *const *args, size_t nargs,
			     const char *env_target, const char *workspace_root);

/*
 * The target-relative directory whose top-level files a build fetches:
 * "<triple>/<profile>" or "<profile>" (allocated).
 */
char *pipeline_artifact_dir(const char *triple, const char *profile);

/*
 * Is a top-level file name of the artifact dir worth fetching?  Regular
 * non-hidden files only; cargo's own bookkeeping (.cargo-lock, *.d) is not.
 */
bool pipeline_artifact_wanted(const char *name);

/*
 * Scan a failing run's output for missing environment variables
 * ("environment variable `X` not defined", "X must be set", ...); appends
 * each new name once to names.
 */
void pipeline_scan_missing_env(const char *output, size_t len,
			       struct strvec *names);

/*
 * The hint for a missing variable (allocated, one or two lines): the exact
 * `--env` and forward_env fix; DATABASE_URL, REDIS_URL and MYSQL_URL get
 * the image's local connection strings.
 */
char *pipeline_env_hint(const char *name);

/* The image's local connection string for a well-known variable, or NULL. */
const char *pipeline_local_service_url(const char *name);

/* The directories the large-directory question is about. */
extern const char *const pipeline_large_dir_names[];
/* The size from which they count as large: 50 MiB. */
#define PIPELINE_LARGE_DIR_BYTES (50ull * 1024 * 1024)

/*
 * Find top-level dist/, .next/, build/, out/, tmp/ of root that are not
 * excluded (by the patterns in excludes or the root .gitignore) and hold at
 * least threshold bytes; appends "name" to dirs and its size to sizes (an
 * array of at least 5 entries).  Returns the number found.
 */
size_t pipeline_large_dirs(const char *root, const struct strvec *excludes,
			   uint64_t threshold, struct strvec *dirs,
			   uint64_t *sizes);

/*
 * ---- the caches on the build server (cachestats.c) ----
 * sccache's hits and misses of a run: the remote command reads
 * `sccache --show-stats --stats-format=json` in the background as cargo
 * starts and again after it (bounded: `timeout`, at most
 * PIPELINE_SCCACHE_JSON_MAX bytes each) and prints both on stderr after
 * these markers; the volume's `df -Pk` line after PIPELINE_DF_MARKER.
 * Without sccache on the server there are no markers and no stats.
 */
#define PIPELINE_SCCACHE_BEFORE_MARKER "cargo-burst-sccache-before: "
#define PIPELINE_SCCACHE_AFTER_MARKER "cargo-burst-sccache-after: "
#define PIPELINE_DF_MARKER "cargo-burst-df: "
#define PIPELINE_SCCACHE_JSON_MAX 32768 /* bytes (a plain number: it goes into a command) */
/* Above this share of its space used, a volume is called nearly full. */
#define PIPELINE_VOLUME_FULL_PERCENT 90

struct pipeline_sccache_stats {
	bool known;
	uint64_t hits, misses; /* over all languages (the "counts" maps) */
};
/*
 * Parse sccache's stats JSON ({"stats": {"cache_hits": {"counts": {"Rust":
 * N, ...}}, "cache_misses": {...}, ...}, ...}): 0, or -1 with out->known
 * false when it is too long, not JSON or lacks those fields.
 */
int pipeline_sccache_parse(const char *json, size_t len, struct pipeline_sccache_stats *out);
/*
 * The summary's phrase for the run: "sccache 12 hits, 3 misses", or
 * "sccache unknown" when either side is unknown or the counters went
 * backwards (a restarted sccache server).
 */
void pipeline_sccache_phrase(struct strbuf *out, const struct pipeline_sccache_stats *before,
			     const struct pipeline_sccache_stats *after);

struct pipeline_volume_usage {
	bool known;
	uint64_t used_bytes, total_bytes;
};
/*
 * Parse one data line of `df -Pk` (1024-byte blocks) whose mount point
 * must be mount (NULL: any): 0, or -1 (out->known false).
 */
int pipeline_df_parse(const char *line, const char *mount, struct pipeline_volume_usage *out);
/* The used share in percent, rounded up (0 when unknown). */
unsigned pipeline_volume_percent(const struct pipeline_volume_usage *u);
/* "3.1 GB of 10 GB used (31%)", or "unknown". */
void pipeline_volume_usage_format(struct strbuf *out, const struct pipeline_volume_usage *u);
/* Remember a measurement at when: <state_dir>/usage/<project hash>. */
void pipeline_volume_usage_record(const char *state_dir, const char *project_hash,
				  const struct pipeline_volume_usage *u, int64_t when);
/* The last measurement remembered (0, *when set), or -1 when none. */
int pipeline_volume_usage_load(const char *state_dir, const char *project_hash,
			       struct pipeline_volume_usage *u, int64_t *when);
/*
 * The command that clears a project's volume (its target/), for the
 * "nearly full" warning (allocated): "cd 'ROOT' && cargo burst ssh -- cargo clean".
 */
char *pipeline_volume_clean_hint(const char *root);

/* Timings and outcome of a run, for the closing line. */
struct pipeline_summary {
	const char *verb;
	bool success;
	bool interrupted;
	int exit_code;
	bool cold;
	uint64_t provision_ms, sync_ms, cargo_ms, fetch_ms, total_ms;
	const char *server_name;   /* what stays up, or NULL */
	int64_t server_deadline;   /* UNIX time it goes away, 0 = unknown */
	bool no_reap;
	const char *volume_name;   /* the project's volume, or NULL */
	int64_t volume_deadline;   /* UNIX time, 0 = unknown */
	const char *host;          /* BYO host shown as "on HOST", or NULL */
	const char *rustc;         /* the remote `rustc -V`, or NULL */
	const char *cache;         /* "sccache 12 hits, 3 misses", or NULL */
};

/*
 * Format the closing line (without the status verb), e.g.
 * "build in 12.3s (provision 0.0s warm, sync 0.4s, cargo 11.6s, fetch 0.3s);
 *  server 'x' stays up until 15:05 CET" (times in local time).
 */
void pipeline_summary_format(struct strbuf *out,
			     const struct pipeline_summary *s);
/*
 * What happens to the server of a run interrupted before cargo started,
 * for the note printed at once: "no server was created" (server_name
 * NULL); one no reaper watches (not watched); else kept for the next run
 * until deadline (local time), then deleted by its reaper -- "(still being
 * created)" when not ready.
 */
void pipeline_interrupt_fate(struct strbuf *out, const char *server_name, bool ready,
			     bool watched, bool no_reap, int64_t deadline);
/*
 * Append line wrapped to width columns at its phrase boundaries (after
 * "; " or ", "; a phrase longer than a whole line at its spaces, a word
 * never split): the first line starts at column indent (after the status
 * verb), each further line is indented by indent spaces, as cargo does.
 * width 0 = one line.
 */
void pipeline_summary_wrap(struct strbuf *out, const char *line, size_t width,
			   size_t indent);

/*
 * ---- paths and the current directory (paths.c) ----
 * The remote cargo runs in the counterpart of the local cwd inside the
 * synced workspace.  Cargo's path options before "--" (--manifest-path,
 * --config FILE, --artifact-dir/--out-dir) are rewritten relative to that
 * remote cwd; --target-dir and CARGO_TARGET_DIR only say where the
 * artifacts are fetched to (the server builds on the project's volume).
 * A path outside the workspace is a usage error: the server has only the
 * workspace.  With --message-format=json*, the remote paths in cargo's
 * messages are mapped back to local ones.
 */

/*
 * The absolute form of path (relative to cwd), lexically normalised, with
 * the symbolic links of its existing part (or of its parent) resolved
 * (allocated).
 */
char *pipeline_abs_path(const char *cwd, const char *path);
/* path relative to root ("" for root itself), or NULL when outside it. */
char *pipeline_path_in(const char *root, const char *path);
/* The relative path from directory from to to, both absolute ("." if equal). */
char *pipeline_rel_path(const char *from, const char *to);

/* The result of pipeline_map_paths(); release with pipeline_paths_release(). */
struct pipeline_paths {
	char *cwd_rel;        /* remote cwd relative to the source root ("" = root) */
	struct strvec args;   /* cargo's arguments for the remote command */
	char *target_dir;     /* local --target-dir or CARGO_TARGET_DIR, or NULL */
	char *artifact_dir;   /* local --artifact-dir/--out-dir, or NULL */
	char *artifact_rel;   /* ...relative to the workspace root */
};

/*
 * Map cargo's arguments (as handed to the pipeline) for a run in cwd of the
 * workspace at root; env_target_dir is the local CARGO_TARGET_DIR or NULL.
 * -1 with a usage error naming the option when a path is outside root.
 */
int pipeline_map_paths(const char *root, const char *cwd, const char *const *args,
		       size_t nargs, const char *env_target_dir,
		       struct pipeline_paths *out, struct burst_error *err);
void pipeline_paths_release(struct pipeline_paths *p);

/* Does --message-format (the last one, before "--") ask for JSON? */
bool pipeline_json_output(const char *const *args, size_t nargs);

/* One prefix mapping: a remote directory and its local counterpart. */
struct pipeline_path_map {
	const char *from;
	const char *to;
};

/* Longer lines are passed through as they are. */
#define PIPELINE_JSON_LINE_MAX (4 * 1024 * 1024)
/*
 * One line of cargo's stdout with the remote paths mapped back: when it is
 * a JSON object, in the fields manifest_path, src_path, filenames,
 * executable, file_name and out_dir at any depth (and the file:// URL of
 * package_id), the first map whose from is a whole-component prefix is
 * replaced by its to (list the longer from first).  The rewritten line
 * (allocated), or NULL when the line is not JSON or nothing changed.
 */
char *pipeline_json_map_line(const char *line, size_t len,
			     const struct pipeline_path_map *maps, size_t nmaps);
/*
 * The line the remote command prints first on stdout when paths_line is
 * set: the marker, then tab-separated the physical source root,
 * CARGO_TARGET_DIR and cargo's home on the server.
 */
#define PIPELINE_PATHS_MARKER "cargo-burst-paths:"

#endif

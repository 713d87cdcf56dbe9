/*
 * cli.h - argv routing, the command table and the context every command
 * starts from (after git's builtin table and tmux's cmd_entry).
 *
 * Cargo runs us as `cargo-burst burst <verb> ...` (argv[1] == "burst" is
 * skipped); `cargo-burst <verb> ...` works too.  The command line is
 *
 *   cargo burst [GLOBAL FLAGS] [RUN OPTIONS] [+TOOLCHAIN] <verb> [VERB ARGS]
 *
 * GLOBAL FLAGS: -q/--quiet, -v/--verbose (repeatable), --color WHEN,
 * -h/--help, -V/--version (cli_global_options[]).  RUN OPTIONS: those of
 * the run verbs' option tables, checked against the verb's own (see
 * struct run_args).
 *
 * ADDING A COMMAND (two lines, nothing else):
 *   1. write src/cmd/<verb>.c exporting `const struct burst_cmd cmd_<verb>`
 *      with its option table (struct burst_option; the dispatcher parses
 *      argv by it into ctx->args and answers -h/--help) (declare it with
 *      the others below, in "the commands"), and add the file to
 *      src/cmd/meson.build;
 *   2. add `&cmd_<verb>,` to the table in src/cli/commands.c.
 * The flags of the entry say what the dispatcher prepares before exec runs
 * (CMD_CONFIG, CMD_WORKSPACE, CMD_API, CMD_STATE) and how (CMD_NO_REARM);
 * the prepare hooks of src/cli/prepare.c, listed in the hook table of
 * src/cli/commands.c, fill the ctx fields (API client, state DB).
 *
 * Exit codes: an exec returns the process exit status (>= 0; a run verb
 * returns the remote cargo's status unchanged), or -1 after filling
 * ctx->err, which main prints with burst_error_print() before exiting with
 * ctx->err.exit_code.
 */
#ifndef BURST_CLI_H
#define BURST_CLI_H

#include "burst/error.h"
#include "burst/pipeline.h"
#include "burst/strbuf.h"
#include "burst/strvec.h"
#include "burst/util.h"

struct burst_config;
struct burst_ctx;
/* Opaque resources filled by prepare hooks of other modules (NULL now). */
struct hcloud;       /* hcloud.h */
struct burst_state;  /* state.h */

/* What the dispatcher prepares before exec (struct burst_cmd.flags). */
enum burst_cmd_flags {
	CMD_CONFIG = 1 << 0,    /* load the layered config into ctx->config */
	CMD_WORKSPACE = 1 << 1, /* locate the cargo workspace: ctx->workspace_root */
	CMD_API = 1 << 2,       /* implies CMD_CONFIG; require the token;
				   fill ctx->api (hook) */
	CMD_STATE = 1 << 3,     /* open the state DB: ctx->state (hook) */
	CMD_RUN = 1 << 5,       /* a run verb: route argv into ctx->run */
	CMD_RUN_FETCH = 1 << 6, /* run verb that accepts --no-fetch */
	CMD_RUN_TEST = 1 << 7,  /* run verb that accepts --no-doctests, --cargo-test */
	CMD_HIDDEN = 1 << 8,    /* not listed by --help (reaper entry points) */
	CMD_WORKSPACE_OPT = 1 << 9, /* like CMD_WORKSPACE, but outside a
				       project workspace_root stays NULL */
	CMD_RUN_FORWARD = 1 << 12, /* run verb that accepts -L/--forward (run) */
	CMD_RUN_SHELL = 1 << 13,   /* `ssh`: --no-sync; the rest is a command,
				      -q/-v are not forwarded to it */
	CMD_NO_REARM = 1 << 14,    /* CMD_STATE without re-arming the reapers
				      (`down` deletes instead) */
	CMD_PROVISION = 1 << 15,   /* provisions like a run verb without being
				      one (`up`): the state hook prepares the
				      cold path as for a run */
};

/* The run verbs need everything. */
#define CMD_RUN_VERB (CMD_RUN | CMD_CONFIG | CMD_WORKSPACE | CMD_API | \
		      CMD_STATE)

/* How an option is taken (struct burst_option.flags). */
enum burst_opt_flags {
	OPT_VALUE = 1 << 0,      /* takes a value: --name V, --name=V, -xV, -x V */
	OPT_REPEAT = 1 << 1,     /* may be given more than once */
	OPT_AFTER_VERB = 1 << 2, /* run verbs: the long name is also taken after
				    the verb, up to a `--`; cargo (and nextest)
				    have no option of this name (tests/cli
				    compare with `cargo <verb> --help`) */
	OPT_CARGO = 1 << 3,      /* a cargo option too (-q, -v): the tool reads
				    it and passes it on to cargo */
	OPT_HIDDEN = 1 << 4,     /* taken, but not listed in help, man, completions */
};

/*
 * One option of a command, an entry of its declarative option table (after
 * tmux's args templates and git's OPT_*): the parsers (cli_opt_match(),
 * cli_args_parse(), run_args_route()), `--help`, the man page and the shell
 * completions are all driven by these tables, so they cannot disagree.  A
 * table ends with OPT_END.
 */
struct burst_option {
	int id;               /* what it sets (> 0): an enum of its file */
	char short_name;      /* 'y' for -y, or 0 */
	const char *long_name; /* "yes" for --yes (no dashes), or NULL */
	const char *arg;      /* value placeholder ("SECONDS"), NULL for a switch;
				 doc.h says how a placeholder completes */
	const char *help;     /* one line for --help, the man page, completions */
	unsigned flags;       /* enum burst_opt_flags */
};

#define OPT_END { 0, 0, NULL, NULL, NULL, 0 }
/* The -h/--help entry every command's table has (id CLI_OPT_HELP). */
#define CLI_OPT_HELP 1000
#define OPT_HELP { CLI_OPT_HELP, 'h', "help", NULL, "Print help", 0 }

/* One entry of the command table. */
struct burst_cmd {
	const char *name;    /* the verb: "build" */
	const char *summary; /* one line for `cargo burst --help` */
	const char *usage;   /* "cargo burst build [OPTIONS] [--] [CARGO ARGS]..." */
	const char *help;    /* notes for `cargo burst help <verb>`, printed
				after the options of the table */
	unsigned flags;      /* enum burst_cmd_flags */
	/* Returns the exit status, or -1 with ctx->err filled. */
	int (*exec)(struct burst_ctx *ctx);
	const struct burst_option *options; /* its option table (NULL: none) */
};

/*
 * Match argv[*i] against table: "--name", "--name=V", "--name V", "-x",
 * "-xV", "-x V", and "-xx..." for a repeatable switch (*count is the number
 * of letters, else 1).  With long_only, only the long names of
 * OPT_AFTER_VERB options match.  Returns 1 with *opt (and *value for
 * OPT_VALUE; *i moved past it), 0 when argv[*i] is none of them, -1 with a
 * usage error when the value is missing (err may be NULL).
 */
int cli_opt_match(const struct burst_option *table, bool long_only, int argc,
		  char **argv, int *i, const struct burst_option **opt,
		  const char **value, int *count, struct burst_error *err);

/* The parsed arguments of a command that is not a run verb. */
struct cli_args {
	struct cli_hit {
		const struct burst_option *opt;
		const char *value;  /* OPT_VALUE: the value (points into argv) */
	} *hits;                    /* every option given, in order */
	size_t nr, alloc;
	struct strvec positional;   /* the other arguments, in order */
};

#define CLI_ARGS_INIT { NULL, 0, 0, STRVEC_INIT }
/* Free everything; a is empty and reusable. */
void cli_args_release(struct cli_args *a);
/*
 * Parse argv by cmd->options: options anywhere, `--` ends them, anything
 * else is positional.  An unknown option or a repeated one without
 * OPT_REPEAT is a usage error naming it (-1).
 */
int cli_args_parse(struct cli_args *a, const struct burst_cmd *cmd, int argc,
		   char **argv, struct burst_error *err);
/* How many times the option id was given. */
int cli_args_has(const struct cli_args *a, int id);
/* The last value of the option id, or NULL. */
const char *cli_args_get(const struct cli_args *a, int id);
/* Append an option table in help layout ("    -y, --yes   Do not ask"). */
void cli_format_options(struct strbuf *out, const struct burst_option *table);

/*
 * The arguments of a run verb (build, test, check, clippy, bench, run, and
 * ssh), routed by run_args_route() by the verb's option table:
 *
 *  - everything after the verb is cargo's, verbatim and in order, `--`
 *    included: `cargo burst test -- --nocapture` runs
 *    `cargo test -- --nocapture`;
 *  - the tool's own options go between `burst` and the verb (short and
 *    long forms): `cargo burst --keep-alive 600 -y test`;
 *  - for convenience the long options marked OPT_AFTER_VERB (--keep-alive,
 *    --no-reap, --env, ...; names cargo does not have) are also taken
 *    after the verb, anywhere before the first `--`; a tool option of
 *    another verb there, or a short one (-y, -L: cargo has no such
 *    option), is a usage error, before any server is started;
 *  - -q/-v (cargo's too) are counted by the tool wherever they are before a
 *    `--`; the ones given before the verb are put first in cargo_args, the
 *    ones after it stay where they are;
 *  - -h/--help after the verb (before a `--`) is the one cargo name that is
 *    taken: it prints this tool's help for the verb, which points to the
 *    local `cargo <verb> --help` (no server starts for a help text);
 *  - `+toolchain` right after the verb (or before the verb) selects a
 *    rustup toolchain;
 *  - ssh (CMD_RUN_SHELL) runs a command, not cargo: its options come
 *    first, then an optional `--`, then the command.
 */
enum run_opt_id {
	RUN_OPT_KEEP_ALIVE = 1, RUN_OPT_NO_REAP, RUN_OPT_NO_FETCH, RUN_OPT_YES,
	RUN_OPT_ENV, RUN_OPT_HOST, RUN_OPT_FORWARD, RUN_OPT_NO_DOCTESTS,
	RUN_OPT_CARGO_TEST, RUN_OPT_SHARDS, RUN_OPT_JUNIT, RUN_OPT_NO_SYNC,
	RUN_OPT_QUIET, RUN_OPT_VERBOSE, RUN_OPT_DRY_RUN, RUN_OPT_ARCH,
};

struct run_args {
	const char *verb;         /* "build", "test", ... (static string) */
	char *toolchain;          /* "nightly" from +nightly, or NULL */
	int64_t keep_alive_secs;  /* --keep-alive, or -1 when not given */
	bool no_reap;             /* --no-reap: leave no reaper behind */
	bool no_fetch;            /* --no-fetch: do not fetch artifacts */
	bool yes;                 /* -y/--yes: do not ask before costly steps */
	bool no_doctests;         /* test: --no-doctests */
	bool cargo_test;          /* test: --cargo-test (not nextest) */
	bool help;                /* -h/--help in tool-flag position */
	int quiet;                /* number of -q (global ones included) */
	int verbose;              /* number of -v (global ones included) */
	struct strvec env;        /* --env values as given: VAR or VAR=VALUE */
	struct strvec cargo_args; /* what follows `cargo <verb>` remotely */
	char *host;               /* --host user@machine[:port], or NULL */
	char *arch;               /* --arch x86|arm64, or NULL */
	struct strvec forwards;   /* run: -L/--forward LOCAL[:REMOTE] as given */
	bool no_sync;             /* ssh: --no-sync */
	int shards;               /* test: --shards N (0 = not given) */
	char *junit;              /* test: --junit PATH (JUnit report; implies the
				     sharded path with 1 server), or NULL */
	bool dry_run;             /* --dry-run: print the plan and its cost;
				     create nothing, start no reaper */
};

/* Initialise empty run arguments (keep_alive_secs = -1). */
void run_args_init(struct run_args *ra);
/* Free everything; ra is empty and reusable. */
void run_args_release(struct run_args *ra);
/*
 * Route a run verb's arguments into ra, which holds the global
 * -q/-v/+toolchain already: pre[0..npre) are the tool options given before
 * the verb (short and long forms), argv[0..argc) the arguments after it
 * (argc may be 0).  Returns 0, or -1 with a usage error (BURST_EXIT_USAGE)
 * that names the option.
 */
int run_args_route(struct run_args *ra, const struct burst_cmd *cmd,
		   int npre, char **pre, int argc, char **argv,
		   struct burst_error *err);
/*
 * Store the run option opt (an entry of a run verb's table) with value in
 * ra, validated; -1 with a usage error.  `cargo burst config` previews
 * --keep-alive and --env with it.
 */
int run_args_apply(struct run_args *ra, const struct burst_option *opt,
		   const char *value, int count, struct burst_error *err);
/*
 * The run option that arg (with "=value" or not) names in any run verb's
 * table, or NULL: the global parser uses it to take run options before the
 * verb.
 */
const struct burst_option *run_option_find(const char *arg);
/*
 * Validate and store a "+toolchain" argument (arg includes the '+') in
 * ra->toolchain; -1 with a usage error when invalid or given twice.
 */
int run_args_toolchain(struct run_args *ra, const char *arg,
		       struct burst_error *err);

/*
 * Work out req from the routed arguments ra and the loaded config cfg (which
 * has --keep-alive applied).  Returns 0, or -1 with a usage error when a
 * value does not hold (a forward that does not parse).
 */
int run_request_build(struct run_request *req, const struct run_args *ra,
		      const struct burst_config *cfg, struct burst_error *err);
/* Free what run_request_build() allocated; req is empty afterwards. */
void run_request_release(struct run_request *req);
/*
 * The pipeline's job for a run verb's ctx: its request (ctx->req) and what
 * the prepare hooks filled (config, API client, state, cwd, workspace).
 */
void cli_pipeline_job(struct pipeline_job *job, const struct burst_ctx *ctx);

/*
 * The context handed to every exec.  Fields are filled according to the
 * command's flags; a field whose flag is not set stays NULL/empty.
 */
struct burst_ctx {
	const struct burst_cmd *cmd; /* the command being run */
	int argc;                    /* arguments after the verb */
	char **argv;                 /* argv[0] is the first one (not the verb) */
	char *cwd;                   /* the directory the tool runs in */
	char *toolchain;             /* global `+toolchain`, or NULL */
	int quiet;                   /* global -q count */
	int verbose;                 /* global -v count */
	struct strvec pre;           /* run-verb options given before the verb */
	/* CMD_RUN: the routed run-verb arguments. */
	struct run_args run;
	/* CMD_RUN: the request worked out from run and config (after CMD_CONFIG). */
	struct run_request req;
	/*
	 * Other commands with an option table: argv parsed by it (-h/--help
	 * is answered by the dispatcher before anything is prepared).
	 */
	struct cli_args args;
	/* CMD_WORKSPACE(_OPT): the directory holding the workspace Cargo.toml. */
	char *workspace_root;
	/* CMD_CONFIG or CMD_API: the effective layered config (config.h). */
	struct burst_config *config;
	/*
	 * CMD_API: the Hetzner client; CMD_STATE: the state database; both
	 * filled by prepare hooks (the dispatcher fails with an internal
	 * error rather than run an exec with these still NULL).
	 */
	struct hcloud *api;
	struct burst_state *state;
	/* Error of a failed exec (return -1); printed by main. */
	struct burst_error err;
};

/*
 * A prepare hook: a module that owns a ctx resource registers one line in
 * the hook table of src/cli/commands.c.  prepare runs when the command has
 * `flag` (in table order, after config and workspace) and returns 0 or -1
 * with err filled; release (may be NULL) runs after exec in reverse order,
 * also when a later prepare or exec failed.
 */
struct burst_prepare_hook {
	unsigned flag;
	int (*prepare)(struct burst_ctx *ctx, struct burst_error *err);
	void (*release)(struct burst_ctx *ctx);
};

/* The command table (src/cli/commands.c), NULL-terminated. */
extern const struct burst_cmd *const burst_commands[];
/* The prepare hooks (src/cli/commands.c), terminated by flag 0. */
extern const struct burst_prepare_hook burst_prepare_hooks[];
/*
 * The CMD_STATE prepare hook (src/cli/prepare.c): opens the state into
 * ctx->state (the default directory); a BYO host (cli_byo_host()) needs
 * no more.
 * Else it sets the configured endpoint and, unless it is a dry run,
 * rebuilds a new state from labels, reconciles unfinished creates (a cold run also sweeps by label
 * and starts its watcher) and re-arms missing reapers (not with
 * CMD_NO_REARM; without a token it says which resources have none).  Does
 * nothing when ctx->state is already set.
 */
int cli_prepare_state(struct burst_ctx *ctx, struct burst_error *err);
/* Release hook: closes what cli_prepare_state() opened. */
void cli_release_state(struct burst_ctx *ctx);
/* The CMD_API prepare hook: an API client from the config into ctx->api. */
int cli_prepare_api(struct burst_ctx *ctx, struct burst_error *err);
/* Release hook: frees what cli_prepare_api() created. */
void cli_release_api(struct burst_ctx *ctx);
/*
 * Does this invocation work on a bring-your-own host (no API, no token, no
 * reapers)?  A run verb with a host in its request (--host or the config's
 * `host`), or `up` (CMD_PROVISION) with the config's `host`.
 */
bool cli_byo_host(const struct burst_ctx *ctx);

/* Find a command by name (hidden ones too), or NULL. */
const struct burst_cmd *cli_find_command(const char *name);
/* The visible command closest to name (edit distance), or NULL. */
const char *cli_suggest_command(const char *name);
/* Print the tool's help (command list) to stdout. */
void cli_print_help(void);
/* Print a command's usage, options (from its table) and notes to stdout. */
void cli_print_command_help(const struct burst_cmd *cmd);
/* The options before any verb (-q, -v, --color, -h, -V), OPT_END-terminated. */
extern const struct burst_option cli_global_options[];
/* The ids of cli_global_options[] (CLI_OPT_HELP for -h). */
enum cli_global_id { CLI_OPT_QUIET = 1, CLI_OPT_VERBOSE, CLI_OPT_COLOR,
		     CLI_OPT_VERSION };

/*
 * Route the whole command line of a run verb (argv[0] is the program, a
 * "burst" after it is skipped) as burst_cli_main() does: the options
 * before the verb, the verb, the arguments after it, into ra (initialised
 * by the caller); *cmd is the verb.  Returns 0, or -1 with a usage error
 * (also when the command is not a run verb).
 */
int cli_route_run(int argc, char **argv, struct run_args *ra,
		  const struct burst_cmd **cmd, struct burst_error *err);

/* Run the tool: route argv to a command, return the process exit code. */
int burst_cli_main(int argc, char **argv);

/* The commands (src/cli/run_verbs.c, src/cli/builtin.c, src/cmd/<verb>.c). */
extern const struct burst_cmd cmd_build;
extern const struct burst_cmd cmd_test;
extern const struct burst_cmd cmd_check;
extern const struct burst_cmd cmd_clippy;
extern const struct burst_cmd cmd_bench;
extern const struct burst_cmd cmd_run;
extern const struct burst_cmd cmd_help;
extern const struct burst_cmd cmd_version;
extern const struct burst_cmd cmd_config;
extern const struct burst_cmd cmd_status;
extern const struct burst_cmd cmd_audit;
extern const struct burst_cmd cmd_down;
extern const struct burst_cmd cmd_reap_server;
extern const struct burst_cmd cmd_reap_volume;
extern const struct burst_cmd cmd_reap_watch;
extern const struct burst_cmd cmd_image;
extern const struct burst_cmd cmd_completions;
extern const struct burst_cmd cmd_man;
extern const struct burst_cmd cmd_ssh;
extern const struct burst_cmd cmd_doctor;
extern const struct burst_cmd cmd_up;

/* The log of the latest `cargo burst up` of a project (allocated). */
char *up_log_path(const char *state_dir, const char *project_hash);
/* The pid of a detached `cargo burst up` of the project still running, or 0. */
int up_running(const char *state_dir, const char *project_hash);
/*
 * The last line of an up log (its outcome, or the step in progress), from
 * its last 4 KiB, without colour codes (allocated), or NULL.
 */
char *up_last_line(const char *log);

#endif

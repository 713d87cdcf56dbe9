/*
 * cli.h - argv routing, the command table and the context every command
 * starts from (after git's builtin table and tmux's cmd_entry).
 *
 * Cargo runs us as `cargo-burst burst <verb> ...` (argv[1] == "burst" is
 * skipped); `cargo-burst <verb> ...` works too.  The command line is
 *
 *   cargo burst [GLOBAL FLAGS] [+TOOLCHAIN] <verb> [VERB ARGS]
 *
 * GLOBAL FLAGS: -q/--quiet, -v/--verbose (repeatable), --color WHEN,
 * -h/--help, -V/--version.
 *
 * ADDING A COMMAND (two lines, nothing else):
 *   1. write src/cmd/<verb>.c exporting `const struct burst_cmd cmd_<verb>`
 *      (declare it with the others below, in "the commands"), and add the
 *      file to src/cmd/meson.build;
 *   2. add `&cmd_<verb>,` to the table in src/cli/commands.c.
 * The flags of the entry say what the dispatcher prepares before exec runs
 * (CMD_CONFIG, CMD_WORKSPACE, CMD_API, CMD_STATE, CMD_LOOP); modules that
 * own a resource (API client, state DB, event loop) register one prepare
 * hook in the hook table of src/cli/commands.c to fill the ctx field.
 *
 * Exit codes: an exec returns the process exit status (>= 0; a run verb
 * returns the remote cargo's status unchanged), or -1 after filling
 * ctx->err, which main prints with burst_error_print() before exiting with
 * ctx->err.exit_code.
 */
#ifndef BURST_CLI_H
#define BURST_CLI_H

#include "burst/error.h"
#include "burst/strvec.h"
#include "burst/util.h"

struct burst_config;
struct burst_ctx;
/* Opaque resources filled by prepare hooks of other modules (NULL now). */
struct hcloud;       /* hcloud.h */
struct burst_state;  /* state.h */
struct uv_loop_s;    /* uv.h: uv_loop_t */

/* What the dispatcher prepares before exec (struct burst_cmd.flags). */
enum burst_cmd_flags {
	CMD_CONFIG = 1 << 0,    /* load the layered config into ctx->config */
	CMD_WORKSPACE = 1 << 1, /* locate the cargo workspace: ctx->workspace_root */
	CMD_API = 1 << 2,       /* implies CMD_CONFIG; require the token;
				   fill ctx->api (hook) */
	CMD_STATE = 1 << 3,     /* open the state DB: ctx->state (hook) */
	CMD_LOOP = 1 << 4,      /* create the libuv loop: ctx->loop (hook) */
	CMD_RUN = 1 << 5,       /* a run verb: route argv into ctx->run */
	CMD_RUN_FETCH = 1 << 6, /* run verb that accepts --no-fetch */
	CMD_RUN_TEST = 1 << 7,  /* run verb that accepts --no-doctests, --cargo-test */
	CMD_HIDDEN = 1 << 8,    /* not listed by --help (reaper entry points) */
	CMD_WORKSPACE_OPT = 1 << 9, /* like CMD_WORKSPACE, but outside a
				       project workspace_root stays NULL */
	CMD_RUN_FORWARD = 1 << 12, /* run verb that accepts -L/--forward (run) */
	CMD_RUN_SHELL = 1 << 13,   /* `ssh`: --no-sync; the rest is a command,
				      -q/-v are not forwarded to it */
};

/* The run verbs need everything. */
#define CMD_RUN_VERB (CMD_RUN | CMD_CONFIG | CMD_WORKSPACE | CMD_API | \
		      CMD_STATE | CMD_LOOP)

/* One entry of the command table. */
struct burst_cmd {
	const char *name;    /* the verb: "build" */
	const char *summary; /* one line for `cargo burst --help` */
	const char *usage;   /* "cargo burst build [OPTIONS] [--] [CARGO ARGS]..." */
	const char *help;    /* options and notes for `cargo burst help <verb>` */
	unsigned flags;      /* enum burst_cmd_flags */
	/* Returns the exit status, or -1 with ctx->err filled. */
	int (*exec)(struct burst_ctx *ctx);
};

/*
 * The arguments of a run verb (build, test, check, clippy, bench, run),
 * routed by run_args_parse():
 *
 *  - tool flags come first: --keep-alive SECONDS, --no-reap, --no-fetch
 *    (build, bench), -y/--yes, --env VAR[=VALUE] (repeatable, also
 *    --env=VAR), for test --no-doctests, --cargo-test, --shards N and
 *    --junit PATH, -h/--help,
 *    --host USER@MACHINE[:PORT], for run -L/--forward LOCAL[:REMOTE]
 *    (repeatable), for ssh --no-sync;
 *  - -q/--quiet and -v/--verbose (also -vv) are tool flags that are also
 *    forwarded to cargo: they are put first in cargo_args, in order, after
 *    the ones given before the verb;
 *  - `+toolchain` right after the verb (or before the verb) selects a
 *    rustup toolchain;
 *  - the first token that is not a tool flag starts cargo's arguments; a
 *    `--` in that position is consumed; everything after goes to cargo
 *    verbatim, inner `--` and empty arguments included.
 */
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
	struct strvec forwards;   /* run: -L/--forward LOCAL[:REMOTE] as given */
	bool no_sync;             /* ssh: --no-sync */
	int shards;               /* test: --shards N (0 = not given) */
	char *junit;              /* test: --junit PATH (JUnit report; implies the
				     sharded path with 1 server), or NULL */
};

/* Initialise empty run arguments (keep_alive_secs = -1). */
void run_args_init(struct run_args *ra);
/* Free everything; ra is empty and reusable. */
void run_args_release(struct run_args *ra);
/*
 * Route the arguments that follow the verb (argv[0] is the first argument
 * after the verb, argc may be 0) of the run verb cmd into ra, which holds
 * the global -q/-v/+toolchain already.  Returns 0, or -1 with a usage error
 * (BURST_EXIT_USAGE) that names the flag.
 */
int run_args_parse(struct run_args *ra, const struct burst_cmd *cmd,
		   int argc, char **argv, struct burst_error *err);
/*
 * Validate and store a "+toolchain" argument (arg includes the '+') in
 * ra->toolchain; -1 with a usage error when invalid or given twice.
 */
int run_args_toolchain(struct run_args *ra, const char *arg,
		       struct burst_error *err);

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
	/* CMD_RUN: the routed run-verb arguments. */
	struct run_args run;
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
	/* CMD_LOOP: the libuv loop; filled by the loop prepare hook. */
	struct uv_loop_s *loop;
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

/* Find a command by name (hidden ones too), or NULL. */
const struct burst_cmd *cli_find_command(const char *name);
/* The visible command closest to name (edit distance), or NULL. */
const char *cli_suggest_command(const char *name);
/* Print the tool's help (command list) to stdout. */
void cli_print_help(void);
/* Print a command's usage and help to stdout. */
void cli_print_command_help(const struct burst_cmd *cmd);
/* The global options in help layout (doc.h reads them for completions). */
extern const char cli_global_options_help[];

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

#endif

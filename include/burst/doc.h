/*
 * doc.h - shell completions and the manual page, generated from the command
 * table at run time, so they never drift from the code.
 *
 * Nothing here keeps a list of verbs or flags.  Everything is read from the
 * table (burst_commands[], cli.h) and the config key table (config_keys[],
 * config.h):
 *
 *  - the verbs: every entry without CMD_HIDDEN, in table order;
 *  - a verb's options: its option table (struct burst_option, cli.h),
 *    which also drives its parser and its --help.  A placeholder written
 *    <a|b|c> lists its values; WHEN means auto, always, never; a
 *    placeholder naming a FILE, PATH or DIR completes file names, one
 *    starting with VAR environment variable names; OPT_REPEAT marks an
 *    option that may be given more than once;
 *  - a verb's first argument: from its usage line(s), the literal word after
 *    the verb ("cargo burst image build ..." gives "build"), or the
 *    alternatives of <a|b|c>; a single [COMMAND] means the verbs (not after
 *    -- nor repeated: `ssh [--] [COMMAND]...` takes a command line);
 *  - the global options: cli_global_options[] (cli.h).
 *
 * So a new verb gets completion and a man page section by being in the
 * table with its option table, and by nothing else.
 */
#ifndef BURST_DOC_H
#define BURST_DOC_H

#include "burst/cli.h"
#include "burst/error.h"
#include "burst/strbuf.h"
#include "burst/strvec.h"
#include "burst/util.h"

/* How the value of an option completes. */
enum doc_value {
	DOC_VALUE_NONE = 0, /* a switch: no value */
	DOC_VALUE_ANY,      /* free text: nothing to complete */
	DOC_VALUE_CHOICE,   /* one of doc_opt.choices */
	DOC_VALUE_FILE,     /* a file name */
	DOC_VALUE_DIR,      /* a directory name */
	DOC_VALUE_ENV,      /* an environment variable name (VAR...) */
};

/* One option of a table, as the completions and the man page use it. */
struct doc_opt {
	char short_name;      /* 'y' for -y, or 0 */
	char *long_name;      /* "--yes", or NULL */
	char *arg;            /* "SECONDS" (<> removed), or NULL for a switch */
	char *help;           /* the description, continuation lines joined */
	enum doc_value value; /* how the value completes */
	struct strvec choices; /* DOC_VALUE_CHOICE: the values */
	bool repeatable;      /* may be given more than once */
};

/* The options of one table, in order. */
struct doc_opts {
	struct doc_opt *v;
	size_t nr, alloc;
};

/* Initialise an empty option list. */
void doc_opts_init(struct doc_opts *opts);
/* Free everything; opts is empty and reusable. */
void doc_opts_release(struct doc_opts *opts);
/* Append the listed options of table (NULL adds none). */
void doc_opts_from_table(struct doc_opts *opts,
			 const struct burst_option *table);
/*
 * Append the options cmd takes after its verb: all of its table, but for a
 * run verb (cargo's arguments follow it) only the long forms of its
 * OPT_AFTER_VERB options, -h/--help and the ones cargo shares (-q, -v).
 */
void doc_opts_after_verb(struct doc_opts *opts, const struct burst_cmd *cmd);
/*
 * Append the options taken before any verb: cli_global_options[] and every
 * run verb's options (each flag once).
 */
void doc_opts_before_verb(struct doc_opts *opts);
/* Free the strings of one option. */
void doc_opt_release(struct doc_opt *o);

/*
 * The arguments of a verb, from its usage lines (option groups such as
 * [--timeout SECONDS] and [OPTIONS] skipped): literal sub-verbs and <a|b>
 * alternatives in first position are appended to words; *verbs is set when
 * the first argument is a COMMAND (complete the verbs); *free_args when any
 * other argument appears ([CARGO ARGS]..., FILE): complete file names.
 */
void doc_cmd_positionals(const struct burst_cmd *cmd, struct strvec *words,
			 bool *verbs, bool *free_args);

/* Is the verb listed (not CMD_HIDDEN)? */
bool doc_cmd_visible(const struct burst_cmd *cmd);

/* Append the bash completion script (completes cargo-burst and cargo burst). */
void doc_completion_bash(struct strbuf *out);
/* Append the zsh completion script (#compdef cargo-burst; _cargo-burst). */
void doc_completion_zsh(struct strbuf *out);
/* Append the fish completion script (cargo-burst, and cargo burst). */
void doc_completion_fish(struct strbuf *out);
/*
 * Append the completion script for shell ("bash", "zsh", "fish"); -1 with
 * a usage error naming the shells when it is none of them.
 */
int doc_completion(const char *shell, struct strbuf *out,
		   struct burst_error *err);

/* Append the manual page cargo-burst(1) in roff (man macros). */
void doc_man_page(struct strbuf *out);

#endif

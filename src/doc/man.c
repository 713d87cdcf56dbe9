/*
 * man.c - the manual page cargo-burst(1), generated from the command table
 * (COMMANDS, OPTIONS), the config key table (CONFIGURATION) and the exit
 * codes of error.h (EXIT STATUS).  doc/meson.build runs `cargo-burst __man`
 * at build time and installs the result.
 *
 * A verb's options come from its option table (cli.h) as tagged
 * paragraphs (.TP); its notes are turned into roff line by line:
 * "  word   description" lines become tagged paragraphs, unindented lines
 * are filled prose, other indented lines are kept as they are (.nf).
 */
#include <string.h>

#include "burst-version.h"
#include "burst/config.h"
#include "burst/doc.h"

/* Append s[0..len) escaped for roff: \ and - (a real minus for flags). */
static void roff_escape(struct strbuf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\')
			strbuf_addstr(out, "\\e");
		else if (s[i] == '-')
			strbuf_addstr(out, "\\-");
		else
			strbuf_addch(out, s[i]);
	}
}

static void roff_str(struct strbuf *out, const char *s)
{
	roff_escape(out, s, strlen(s));
}

/* A text line: a leading . or ' would be a request, \& disarms it. */
static void roff_line(struct strbuf *out, const char *s, size_t len)
{
	while (len && *s == ' ') {
		s++;
		len--;
	}
	while (len && s[len - 1] == ' ')
		len--;
	if (!len)
		return;
	if (*s == '.' || *s == '\'')
		strbuf_addstr(out, "\\&");
	roff_escape(out, s, len);
	strbuf_addch(out, '\n');
}

static void roff_text(struct strbuf *out, const char *s)
{
	roff_line(out, s, strlen(s));
}

/* A summary line as a sentence: with a final period. */
static void roff_sentence(struct strbuf *out, const char *s)
{
	size_t len = strlen(s);

	if (!len)
		return;
	if (strchr(".!?", s[len - 1])) {
		roff_line(out, s, len);
		return;
	}
	if (*s == '.' || *s == '\'')
		strbuf_addstr(out, "\\&");
	roff_escape(out, s, len);
	strbuf_addstr(out, ".\n");
}

/* The tag of an option: \fB\-y\fR, \fB\-\-yes\fR \fIVALUE\fR */
static void roff_opt_tag(struct strbuf *out, const struct doc_opt *o)
{
	if (o->short_name)
		strbuf_addf(out, "\\fB\\-%c\\fR", o->short_name);
	if (o->short_name && o->long_name)
		strbuf_addstr(out, ", ");
	if (o->long_name) {
		strbuf_addstr(out, "\\fB");
		roff_str(out, o->long_name);
		strbuf_addstr(out, "\\fR");
	}
	if (o->arg) {
		strbuf_addstr(out, " \\fI");
		roff_str(out, o->arg);
		strbuf_addstr(out, "\\fR");
	}
	strbuf_addch(out, '\n');
}

/*
 * "  word   description": a sub-verb or value list entry.  Returns the
 * length of word (the description starts after the spaces), or 0.
 */
static size_t item_line(const char *line, size_t len, size_t *desc)
{
	size_t i = 0, w;

	while (i < len && line[i] == ' ')
		i++;
	if (i < 2 || i >= len || line[i] < 'a' || line[i] > 'z')
		return 0;
	w = i;
	while (w < len && ((line[w] >= 'a' && line[w] <= 'z') ||
			   (line[w] >= '0' && line[w] <= '9') ||
			   line[w] == '-' || line[w] == '_'))
		w++;
	if (w + 2 >= len || line[w] != ' ' || line[w + 1] != ' ')
		return 0;
	*desc = w;
	while (*desc < len && line[*desc] == ' ')
		(*desc)++;
	return w - i;
}

enum help_mode { MODE_NONE, MODE_TEXT, MODE_ITEM, MODE_PRE };

static void leave_pre(struct strbuf *out, enum help_mode *mode)
{
	if (*mode == MODE_PRE)
		strbuf_addstr(out, ".fi\n.RE\n");
	*mode = MODE_NONE;
}

/* Render an option table as tagged paragraphs. */
static void roff_options(struct strbuf *out, const struct burst_option *table)
{
	struct doc_opts opts;

	doc_opts_init(&opts);
	doc_opts_from_table(&opts, table);
	for (size_t i = 0; i < opts.nr; i++) {
		strbuf_addstr(out, ".TP\n");
		roff_opt_tag(out, &opts.v[i]);
		roff_text(out, opts.v[i].help);
	}
	doc_opts_release(&opts);
}

/* Render the notes of a help text (cargo's layout) as roff. */
static void roff_help(struct strbuf *out, const char *help)
{
	enum help_mode mode = MODE_NONE;
	size_t item_indent = 0;
	const char *p = help;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		size_t ind = 0, desc = 0, wlen;

		while (ind < len && p[ind] == ' ')
			ind++;
		if (ind == len) {
			leave_pre(out, &mode);
		} else if ((wlen = item_line(p, len, &desc)) != 0) {
			leave_pre(out, &mode);
			strbuf_addstr(out, ".TP\n\\fB");
			roff_escape(out, p + ind, wlen);
			strbuf_addstr(out, "\\fR\n");
			roff_line(out, p + desc, len - desc);
			mode = MODE_ITEM;
			item_indent = ind;
		} else if (mode == MODE_ITEM && ind > item_indent) {
			roff_line(out, p, len);
		} else if (ind >= 2) {
			if (mode != MODE_PRE) {
				leave_pre(out, &mode);
				strbuf_addstr(out, ".PP\n.RS 4\n.nf\n");
				mode = MODE_PRE;
			}
			if (p[ind] == '.' || p[ind] == '\'')
				strbuf_addstr(out, "\\&");
			roff_escape(out, p + ind, len - ind);
			strbuf_addch(out, '\n');
		} else {
			if (mode != MODE_TEXT) {
				leave_pre(out, &mode);
				strbuf_addstr(out, ".PP\n");
				mode = MODE_TEXT;
			}
			roff_line(out, p, len);
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	leave_pre(out, &mode);
}

static const char *type_name(enum config_type t)
{
	switch (t) {
	case CONFIG_T_STRING: return "string";
	case CONFIG_T_PATH: return "path";
	case CONFIG_T_INT: return "integer";
	case CONFIG_T_BOOL: return "boolean";
	case CONFIG_T_STRINGS: return "string or array of strings";
	case CONFIG_T_LIST: return "array of strings, additive across layers";
	case CONFIG_T_ENVLIST: return "array of variable names, additive across layers";
	}
	return "value";
}

static void man_commands(struct strbuf *out)
{
	strbuf_addstr(out, ".SH COMMANDS\n");
	for (size_t i = 0; burst_commands[i]; i++) {
		const struct burst_cmd *c = burst_commands[i];
		const char *p = c->usage;

		if (!doc_cmd_visible(c))
			continue;
		strbuf_addstr(out, ".SS ");
		roff_str(out, c->name);
		strbuf_addch(out, '\n');
		roff_sentence(out, c->summary);
		/* the usage lines, each on its own line, filled when too long */
		strbuf_addstr(out, ".PP\n.RS 4\n");
		while (p && *p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);

			while (len && *p == ' ') {
				p++;
				len--;
			}
			if (len) {
				strbuf_addstr(out, "\\fB");
				roff_escape(out, p, len);
				strbuf_addstr(out, "\\fR\n.br\n");
			}
			p += len;
			if (*p == '\n')
				p++;
		}
		strbuf_addstr(out, ".RE\n");
		roff_options(out, c->options);
		roff_help(out, c->help);
	}
}

static void man_configuration(struct strbuf *out)
{
	strbuf_addstr(out,
".SH CONFIGURATION\n"
"The configuration is TOML in two files, read in this order, each later\n"
"layer overriding the earlier ones: the defaults, the global file\n"
"\\fI$XDG_CONFIG_HOME/cargo\\-burst/config.toml\\fR, the project file\n"
"\\fI<workspace>/.config/cargo\\-burst.toml\\fR, the flags of the run verbs\n"
"(\\fB\\-\\-keep\\-alive\\fR, \\fB\\-\\-env\\fR) and the environment\n"
"(\\fBHCLOUD_TOKEN\\fR, \\fBHCLOUD_TOKEN_FILE\\fR, \\fBHCLOUD_ENDPOINT\\fR).\n"
"Keys named \\fBhetzner.\\fR\\fIname\\fR go in the \\fB[hetzner]\\fR table,\n"
"the others at the top level.  Lists marked additive add up across the\n"
"layers instead of replacing each other.\n"
"\\fBcargo burst config\\fR shows the effective values and where each comes\n"
"from.  The keys:\n");
	for (int id = 0; id < CONFIG_KEY_COUNT; id++) {
		const struct config_key *k = &config_keys[id];
		char name[128];

		strbuf_addstr(out, ".TP\n\\fB");
		roff_str(out, config_key_fullname(k->id, name, sizeof(name)));
		strbuf_addstr(out, "\\fR");
		if (k->alias) {
			strbuf_addstr(out, " (alias \\fB");
			roff_str(out, k->alias);
			strbuf_addstr(out, "\\fR)");
		}
		strbuf_addstr(out, "\n\\fI");
		roff_str(out, type_name(k->type));
		strbuf_addstr(out, "\\fR");
		if (k->type == CONFIG_T_INT)
			strbuf_addf(out, " from %lld to %lld", (long long)k->min,
				    (long long)k->max);
		if (k->def) {
			strbuf_addstr(out, ", default \\fB");
			roff_str(out, k->def);
			strbuf_addstr(out, "\\fR");
		} else {
			strbuf_addstr(out, ", unset by default");
		}
		if (k->flags & CONFIG_KEY_GLOBAL_ONLY)
			strbuf_addstr(out, "; global file only");
		if (k->flags & CONFIG_KEY_SECRET)
			strbuf_addstr(out, "; never printed");
		strbuf_addstr(out, ".\n");
		roff_text(out, k->doc);
	}
}

/* The environment: what the modules read with getenv(). */
static const struct {
	const char *name, *doc;
} man_env[] = {
	{ "HCLOUD_TOKEN", "The Hetzner Cloud API token (read and write).  "
	  "Wins over HCLOUD_TOKEN_FILE and the token of the global file.  It "
	  "is never printed, logged or traced." },
	{ "HCLOUD_TOKEN_FILE", "A file holding the token, read when "
	  "HCLOUD_TOKEN is not set." },
	{ "HCLOUD_ENDPOINT", "The API base URL (default "
	  CONFIG_DEFAULT_ENDPOINT "), as for the hcloud CLI." },
	{ "HCLOUD_CONTEXT", "With no token of our own: the context of the "
	  "official hcloud CLI whose token is used (default: its "
	  "active_context).  `cargo burst config` names it as the source." },
	{ "HCLOUD_CONFIG", "The hcloud CLI's configuration file (default "
	  "~/.config/hcloud/cli.toml), read for its contexts." },
	{ "BURST_LOG", "The level of diagnostics on stderr: error, warn, info, "
	  "debug or trace (-vv gives debug, -vvv trace)." },
	{ "BURST_TRACE", "When set and not 0: trace every command line and "
	  "API request, secrets redacted." },
	{ "CARGO_BURST_SSH", "The ssh program to run instead of ssh (like "
	  "GIT_SSH)." },
	{ "CARGO_BURST_RSYNC", "The rsync program to run instead of rsync." },
	{ "CARGO_TERM_COLOR", "always or never: colour on or off, as for cargo "
	  "(--color wins)." },
	{ "NO_COLOR", "When set and not empty: no colour, unless "
	  "CARGO_TERM_COLOR or --color ask for it." },
	{ "CARGO", "The cargo that runs the tool; it locates the workspace." },
	{ "CARGO_BUILD_TARGET", "Forwarded to the remote cargo (unless --env "
	  "or forward_env set it), so the artifacts are fetched from the "
	  "target's directory." },
	{ "CARGO_TERM_PROGRESS_WHEN", "always or never: the sync's progress line "
	  "(default: when stderr is a terminal); forwarded to the remote cargo "
	  "too." },
	{ "RUSTFLAGS", "Forwarded to the remote cargo when set, like the other "
	  "variables that change what cargo builds or how the tests run "
	  "(RUSTDOCFLAGS, CARGO_ENCODED_RUSTFLAGS, CARGO_BUILD_*, CARGO_PROFILE_*, "
	  "CARGO_INCREMENTAL, CARGO_TERM_*, RUST_BACKTRACE, RUST_LOG, RUST_TEST_*, "
	  "NEXTEST_*, ...) but not the ones naming local paths or programs; "
	  "forward_env_exclude takes names out." },
	{ "XDG_CONFIG_HOME", "Where the global configuration file is "
	  "(default ~/.config)." },
	{ "XDG_STATE_HOME", "Where the state database and the reaper logs are "
	  "(default ~/.local/state)." },
};

static void man_environment(struct strbuf *out)
{
	strbuf_addstr(out, ".SH ENVIRONMENT\n");
	for (size_t i = 0; i < ARRAY_SIZE(man_env); i++) {
		strbuf_addstr(out, ".TP\n\\fB");
		roff_str(out, man_env[i].name);
		strbuf_addstr(out, "\\fR\n");
		roff_text(out, man_env[i].doc);
	}
}

static const struct {
	enum burst_exit code;
	const char *doc;
} man_exit[] = {
	{ BURST_EXIT_USAGE, "A bad command line." },
	{ BURST_EXIT_API, "The cloud API refused or failed." },
	{ BURST_EXIT_INTERNAL, "A bug or an unexpected local failure." },
	{ BURST_EXIT_STATE, "The local state database cannot be used." },
	{ BURST_EXIT_REMOTE, "ssh, rsync or the remote machine failed." },
	{ BURST_EXIT_CONFIG, "A bad configuration, a missing token, or not in a "
	  "cargo project." },
	{ BURST_EXIT_INTERRUPTED, "Interrupted (Ctrl-C)." },
};

static void man_exit_status(struct strbuf *out)
{
	strbuf_addstr(out,
".SH EXIT STATUS\n"
"A run verb exits with the status of the remote cargo, unchanged (0 on\n"
"success, 101 for a failed build or test, ...).  The tool's own failures\n"
"use these codes, which cargo does not use:\n");
	for (size_t i = 0; i < ARRAY_SIZE(man_exit); i++) {
		strbuf_addf(out, ".TP\n\\fB%d\\fR\n", (int)man_exit[i].code);
		roff_text(out, man_exit[i].doc);
	}
}

void doc_man_page(struct strbuf *out)
{
	const char *sep = "";

	strbuf_addf(out,
".\\\" cargo-burst(1), generated by `cargo-burst __man` (cargo-burst %s)\n"
".\\\" from the command table and the config key table; do not edit.\n"
".TH CARGO\\-BURST 1 \"\" \"cargo\\-burst %s\" \"User Commands\"\n"
".nh\n"
".ad l\n"
".SH NAME\n"
"cargo\\-burst \\- run cargo on a short\\-lived Hetzner Cloud server\n"
".SH SYNOPSIS\n"
".nf\n"
"\\fBcargo burst\\fR [\\fIOPTIONS\\fR] [\\fB+\\fR\\fITOOLCHAIN\\fR] "
"\\fICOMMAND\\fR [\\fIARGS\\fR]...\n"
"\\fBcargo\\-burst\\fR [\\fIOPTIONS\\fR] [\\fB+\\fR\\fITOOLCHAIN\\fR] "
"\\fICOMMAND\\fR [\\fIARGS\\fR]...\n"
".fi\n"
".SH DESCRIPTION\n"
"\\fBcargo burst\\fR runs cargo on a Hetzner Cloud server that exists only\n"
"while it is needed.  The run verbs (", BURST_VERSION, BURST_VERSION);
	for (size_t i = 0; burst_commands[i]; i++) {
		const struct burst_cmd *c = burst_commands[i];

		if (!(c->flags & CMD_RUN) || !doc_cmd_visible(c))
			continue;
		strbuf_addf(out, "%s\\fB", sep);
		roff_str(out, c->name);
		strbuf_addstr(out, "\\fR");
		sep = ", ";
	}
	strbuf_addstr(out,
")\n"
"start a server from a prepared image or reuse the running one, attach\n"
"the project's volume that keeps \\fItarget/\\fR and the compiler cache warm,\n"
"sync the workspace with rsync over ssh, run cargo there with its output\n"
"streamed back, fetch the artifacts, and pass cargo's exit status through.\n"
"A detached reaper deletes the server after it was idle for\n"
"\\fBkeep_alive_secs\\fR, and an idle volume much later.  Everything the tool\n"
"creates carries labels, and only labelled resources of this machine are\n"
"ever deleted.  Every step is recorded in a local SQLite database.\n"
".PP\n"
"With \\fB\\-\\-arch arm64\\fR (or \\fBarch = \"arm64\"\\fR under\n"
"\\fB[hetzner]\\fR, or a \\fBcax\\fR \\fBserver_type\\fR) the build runs\n"
"natively on an Ampere (aarch64) server of type \\fBarm_server_type\\fR,\n"
"created from the arm64 image (\\fBcargo burst image build \\-\\-arch arm64\\fR)\n"
"and with a volume of its own: a \\fItarget/\\fR of one architecture is\n"
"never used by the other, and a server only ever runs builds of its own.\n"
".PP\n"
"Cargo runs the tool as \\fBcargo\\-burst burst\\fR \\fICOMMAND\\fR;\n"
"\\fBcargo\\-burst\\fR \\fICOMMAND\\fR works too.\n"
".PP\n"
"\\fBcargo burst\\fR \\fIVERB ARGS\\fR runs \\fBcargo\\fR \\fIVERB ARGS\\fR on\n"
"the server: everything after a run verb is cargo's, verbatim and in order,\n"
"\\fB\\-\\-\\fR included (\\fBcargo burst test \\-\\- \\-\\-nocapture\\fR).\n"
"The tool's own options go between \\fBburst\\fR and the verb\n"
"(\\fBcargo burst \\-\\-keep\\-alive 600 test\\fR); their long forms, names\n"
"cargo does not have, are also taken after the verb up to the first\n"
"\\fB\\-\\-\\fR.  \\fB\\-h\\fR, \\fB\\-\\-help\\fR after the verb prints the\n"
"tool's help for it; cargo's own is \\fBcargo\\fR \\fIVERB\\fR \\fB\\-\\-help\\fR.\n");
	man_commands(out);
	strbuf_addstr(out, ".SH OPTIONS\nBefore the command (and the options of "
		      "the run verbs, listed under COMMANDS):\n");
	roff_options(out, cli_global_options);
	strbuf_addstr(out,
".TP\n"
"\\fB+\\fR\\fITOOLCHAIN\\fR\n"
"A rustup toolchain for the run verbs (\\fB+nightly\\fR, \\fB+1.80.0\\fR),\n"
"installed on the server; also accepted right after the verb.\n");
	man_configuration(out);
	man_environment(out);
	strbuf_addstr(out,
".SH FILES\n"
".TP\n"
"\\fI$XDG_CONFIG_HOME/cargo\\-burst/config.toml\\fR\n"
"The global configuration (default \\fI~/.config/cargo\\-burst/config.toml\\fR);\n"
"the only file that may hold the token.\n"
".TP\n"
"\\fI~/.config/hcloud/cli.toml\\fR\n"
"The official hcloud CLI's contexts: with no token of our own, the token of\n"
"its active context (or of HCLOUD_CONTEXT) is used.\n"
".TP\n"
"\\fI<workspace>/.config/cargo\\-burst.toml\\fR\n"
"The project configuration, next to the workspace's Cargo.toml.\n"
".TP\n"
"\\fI$XDG_STATE_HOME/cargo\\-burst/state.db\\fR\n"
"The state database (default \\fI~/.local/state/cargo\\-burst/\\fR, mode\n"
"0700): servers, volumes, leases, reapers, events and the run log.\n"
".TP\n"
"\\fI$XDG_STATE_HOME/cargo\\-burst/reapers/\\fR\n"
"The logs of the detached reapers, one per server or volume.\n");
	man_exit_status(out);
	strbuf_addstr(out,
".SH SEE ALSO\n"
"\\fBcargo\\fR(1), \\fBssh\\fR(1), \\fBrsync\\fR(1);\n"
"\\fBcargo burst help\\fR \\fICOMMAND\\fR;\n"
"\\fBcargo burst completions\\fR for bash, zsh and fish.\n");
}

/*
 * test-completions-unit.c - the help-text and usage readers behind the
 * completions and the man page (include/burst/doc.h): table-driven cases,
 * then the real command table, cross-checked against the usage lines and
 * run_args_parse() so that a flag missing from a help text fails here.
 */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "burst/cli.h"
#include "burst/doc.h"

struct line_case {
	const char *line;
	bool is_opt;
	char short_name;
	const char *long_name, *arg, *help;
	enum doc_value value;
	const char *choices; /* space separated, or NULL */
};

static const struct line_case line_cases[] = {
	{ "    -y, --yes                  Do not ask", true, 'y', "--yes", NULL,
	  "Do not ask", DOC_VALUE_NONE, NULL },
	{ "        --keep-alive SECONDS   Idle time", true, 0, "--keep-alive",
	  "SECONDS", "Idle time", DOC_VALUE_ANY, NULL },
	{ "        --color <WHEN>   Colouring: auto", true, 0, "--color", "WHEN",
	  "Colouring: auto", DOC_VALUE_CHOICE, "auto always never" },
	{ "        --env VAR[=VALUE]      Forward VAR", true, 0, "--env",
	  "VAR[=VALUE]", "Forward VAR", DOC_VALUE_ENV, NULL },
	{ "    -o, --output=<json|text>  Format", true, 'o', "--output",
	  "json|text", "Format", DOC_VALUE_CHOICE, "json text" },
	{ "    -L LOCAL[:REMOTE]  Forward a port", true, 'L', NULL,
	  "LOCAL[:REMOTE]", "Forward a port", DOC_VALUE_ANY, NULL },
	{ "        --key-file FILE   The key", true, 0, "--key-file", "FILE",
	  "The key", DOC_VALUE_FILE, NULL },
	{ "        --into DIR   Where", true, 0, "--into", "DIR", "Where",
	  DOC_VALUE_DIR, NULL },
	{ "    --json    Machine-readable output", true, 0, "--json", NULL,
	  "Machine-readable output", DOC_VALUE_NONE, NULL },
	{ "    --json Machine-readable output", true, 0, "--json", NULL,
	  "Machine-readable output", DOC_VALUE_NONE, NULL },
	{ "    -V", true, 'V', NULL, NULL, "", DOC_VALUE_NONE, NULL },
	/* not option lines */
	{ "--yes   Do not ask (no indent)", false, 0, NULL, NULL, NULL,
	  DOC_VALUE_NONE, NULL },
	{ "    -vv also shows debug logs", false, 0, NULL, NULL, NULL,
	  DOC_VALUE_NONE, NULL },
	{ "    --no-reap, the server stays", false, 0, NULL, NULL, NULL,
	  DOC_VALUE_NONE, NULL },
	{ "    build    Bake a new image", false, 0, NULL, NULL, NULL,
	  DOC_VALUE_NONE, NULL },
	{ "    --   end of options", false, 0, NULL, NULL, NULL,
	  DOC_VALUE_NONE, NULL },
	{ "    -", false, 0, NULL, NULL, NULL, DOC_VALUE_NONE, NULL },
	{ "", false, 0, NULL, NULL, NULL, DOC_VALUE_NONE, NULL },
};

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void test_lines(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(line_cases); i++) {
		const struct line_case *c = &line_cases[i];
		struct doc_opt o;
		size_t col;

		memset(&o, 0, sizeof(o));
		col = doc_opt_parse_line(&o, c->line, strlen(c->line));
		if (!ok((col > 0) == c->is_opt, "line %zu %s an option line: %s",
			i, c->is_opt ? "is" : "is not", c->line))
			continue;
		if (!c->is_opt)
			continue;
		ok(o.short_name == c->short_name, "line %zu: short -%c", i,
		   c->short_name ? c->short_name : '0');
		ok(str_eq(o.long_name, c->long_name), "line %zu: long %s (got %s)",
		   i, c->long_name ? c->long_name : "none",
		   o.long_name ? o.long_name : "none");
		ok(str_eq(o.arg, c->arg), "line %zu: arg %s (got %s)", i,
		   c->arg ? c->arg : "none", o.arg ? o.arg : "none");
		ok(str_eq(o.help, c->help), "line %zu: help '%s' (got '%s')", i,
		   c->help, o.help);
		ok(o.value == c->value, "line %zu: value kind %d (got %d)", i,
		   (int)c->value, (int)o.value);
		if (c->choices) {
			struct strbuf sb = STRBUF_INIT;

			for (size_t k = 0; k < o.choices.nr; k++)
				strbuf_addf(&sb, "%s%s", k ? " " : "",
					    o.choices.v[k]);
			is_str(sb.buf, c->choices, "line %zu: choices", i);
			strbuf_release(&sb);
		}
		doc_opt_release(&o);
	}
}

static void test_help_text(void)
{
	static const char help[] =
		"Subcommands:\n"
		"    build    Bake a new image: create a bake server,\n"
		"             let it provision itself\n\n"
		"Options of build:\n"
		"        --server-type TYPE     The bake server's type (default:\n"
		"                               image_server_type)\n"
		"        --env VAR              Forward VAR (repeatable)\n"
		"    -h, --help                 Print help\n"
		"        --server-type TYPE     Listed twice\n"
		"  indented prose that is not a continuation\n\n"
		"The end; --yes here is prose.\n";
	struct doc_opts opts;

	doc_opts_init(&opts);
	doc_opts_parse(&opts, help);
	if (ok(opts.nr == 3, "help text: three options (duplicate dropped, "
	       "items and prose skipped), got %zu", opts.nr)) {
		is_str(opts.v[0].long_name, "--server-type", "first is --server-type");
		is_str(opts.v[0].help, "The bake server's type (default: "
		       "image_server_type)", "continuation line joined");
		ok(!opts.v[0].repeatable, "--server-type is not repeatable");
		ok(opts.v[1].repeatable, "--env says repeatable");
		ok(opts.v[2].short_name == 'h', "-h, --help");
	}
	doc_opts_release(&opts);
	doc_opts_parse(&opts, NULL);
	doc_opts_parse(&opts, "");
	is_int((long long)opts.nr, 0, "NULL and empty help: no options");
	doc_opts_release(&opts);
}

struct usage_case {
	const char *name, *usage;
	const char *words; /* space separated */
	bool verbs, free_args;
};

static const struct usage_case usage_cases[] = {
	{ "image", "cargo burst image build [--server-type TYPE] [--timeout "
	  "SECONDS]\n       cargo burst image sweep", "build sweep", false,
	  false },
	{ "completions", "cargo burst completions <bash|zsh|fish>",
	  "bash zsh fish", false, false },
	{ "help", "cargo burst help [COMMAND]", "", true, false },
	{ "build", "cargo burst [+TOOLCHAIN] build [OPTIONS] [--] [CARGO ARGS]...",
	  "", false, true },
	{ "status", "cargo burst status [--json]", "", false, false },
	{ "config", "cargo burst config [--json] [--env VAR[=VALUE]]...", "",
	  false, false },
	{ "ssh", "cargo burst ssh [--] [COMMAND]...", "", false, true },
	{ "exec", "cargo burst exec [COMMAND]...", "", false, true },
	{ "get", "cargo burst get <FILE>", "", false, true },
	{ "version", "cargo burst version", "", false, false },
};

static void test_usage(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(usage_cases); i++) {
		const struct usage_case *c = &usage_cases[i];
		struct burst_cmd cmd = { c->name, "", c->usage, NULL, 0, NULL };
		struct strvec words = STRVEC_INIT;
		struct strbuf sb = STRBUF_INIT;
		bool verbs, free_args;

		doc_cmd_positionals(&cmd, &words, &verbs, &free_args);
		for (size_t k = 0; k < words.nr; k++)
			strbuf_addf(&sb, "%s%s", k ? " " : "", words.v[k]);
		is_str(sb.buf, c->words, "usage of %s: first words", c->name);
		ok(verbs == c->verbs, "usage of %s: takes a command: %d", c->name,
		   c->verbs);
		ok(free_args == c->free_args, "usage of %s: free arguments: %d",
		   c->name, c->free_args);
		strbuf_release(&sb);
		strvec_clear(&words);
	}
}

static bool has_flag(const struct doc_opts *opts, const char *flag)
{
	for (size_t i = 0; i < opts->nr; i++) {
		const struct doc_opt *o = &opts->v[i];

		if (o->long_name && !strcmp(o->long_name, flag))
			return true;
		if (o->short_name && flag[0] == '-' && flag[1] == o->short_name &&
		    !flag[2])
			return true;
	}
	return false;
}

/* Every --flag of a usage line is described in the help text. */
static void test_table_usage_flags(const struct burst_cmd *cmd,
				   const struct doc_opts *opts)
{
	const char *p = cmd->usage;

	while ((p = strstr(p, "--"))) {
		size_t len = 2;
		char *flag;

		while (p[len] && (p[len] == '-' || p[len] == '_' ||
				  (p[len] >= 'a' && p[len] <= 'z') ||
				  (p[len] >= '0' && p[len] <= '9')))
			len++;
		if (len == 2) { /* a bare -- */
			p += 2;
			continue;
		}
		flag = xstrndup(p, len);
		ok(has_flag(opts, flag), "%s: usage flag %s is in the help text",
		   cmd->name, flag);
		free(flag);
		p += len;
	}
}

/* Every flag the help of a run verb lists is taken by run_args_parse(). */
static void test_table_run_flags(const struct burst_cmd *cmd,
				 const struct doc_opts *opts)
{
	for (size_t i = 0; i < opts->nr; i++) {
		const struct doc_opt *o = &opts->v[i];
		char *argv[4];
		int argc = 0;
		struct run_args ra;
		struct burst_error err = BURST_ERROR_INIT;
		char shortf[3] = { '-', o->short_name, 0 };
		const char *flag = o->long_name ? o->long_name : shortf;
		int rc;

		argv[argc++] = (char *)flag;
		if (o->arg)
			argv[argc++] = (char *)(strstr(o->arg, "SECONDS") ? "30" :
						!strcmp(o->arg, "N") ? "2" :
						strstr(o->arg, "LOCAL") ? "8080" :
						"FOO");
		argv[argc++] = (char *)"CARGO_ARG";
		argv[argc] = NULL;
		run_args_init(&ra);
		rc = run_args_parse(&ra, cmd, argc, argv, &err);
		/* taken: only CARGO_ARG (and a forwarded -q/-v) reach cargo */
		ok(rc == 0 && ra.cargo_args.nr >= 1 &&
		   !strcmp(ra.cargo_args.v[ra.cargo_args.nr - 1], "CARGO_ARG") &&
		   (ra.cargo_args.nr == 1 || ra.quiet + ra.verbose > 0),
		   "%s: run_args_parse takes %s from the help text", cmd->name,
		   flag);
		run_args_release(&ra);
		burst_error_release(&err);
	}
}

static void test_table(void)
{
	size_t visible = 0;
	struct doc_opts global;

	for (size_t i = 0; burst_commands[i]; i++) {
		const struct burst_cmd *cmd = burst_commands[i];
		struct doc_opts opts;

		if (!doc_cmd_visible(cmd))
			continue;
		visible++;
		doc_opts_init(&opts);
		doc_opts_parse(&opts, cmd->help);
		test_table_usage_flags(cmd, &opts);
		if (cmd->flags & CMD_RUN) {
			ok(opts.nr > 0, "run verb %s has options in its help",
			   cmd->name);
			test_table_run_flags(cmd, &opts);
		}
		doc_opts_release(&opts);
	}
	ok(visible > 0, "the table has visible verbs (%zu)", visible);
	ok(cli_find_command("__man") && !doc_cmd_visible(cli_find_command("__man")),
	   "__man is in the table and hidden");
	ok(cli_find_command("completions") &&
	   doc_cmd_visible(cli_find_command("completions")),
	   "completions is in the table and visible");

	doc_opts_init(&global);
	doc_opts_parse(&global, cli_global_options_help);
	ok(has_flag(&global, "--color") && has_flag(&global, "-V") &&
	   has_flag(&global, "--quiet") && has_flag(&global, "-v"),
	   "global options: --color, -V, --quiet, -v");
	for (size_t i = 0; i < global.nr; i++)
		if (global.v[i].long_name &&
		    !strcmp(global.v[i].long_name, "--color"))
			ok(global.v[i].value == DOC_VALUE_CHOICE &&
			   global.v[i].choices.nr == 3, "--color has 3 values");
	doc_opts_release(&global);
}

static void test_generators(void)
{
	struct strbuf out = STRBUF_INIT;
	struct burst_error err = BURST_ERROR_INIT;

	ok(doc_completion("tcsh", &out, &err) < 0 &&
	   err.exit_code == BURST_EXIT_USAGE && out.len == 0,
	   "unknown shell: usage error, nothing written");
	burst_error_release(&err);
	ok(doc_completion("bash", &out, &err) == 0 &&
	   strstr(out.buf, "complete -F _cargo_burst cargo-burst"),
	   "bash script registers _cargo_burst");
	strbuf_reset(&out);
	ok(doc_completion("zsh", &out, &err) == 0 &&
	   !strncmp(out.buf, "#compdef cargo-burst\n", 21),
	   "zsh script starts with #compdef");
	strbuf_reset(&out);
	ok(doc_completion("fish", &out, &err) == 0 &&
	   strstr(out.buf, "complete -c cargo-burst "), "fish script");
	strbuf_reset(&out);
	doc_man_page(&out);
	ok(strstr(out.buf, "\n.TH CARGO\\-BURST 1 ") != NULL, "man page .TH");
	ok(strstr(out.buf, "__man") == NULL || strstr(out.buf, ".SS __man") == NULL,
	   "man page has no section for the hidden __man");
	strbuf_release(&out);
}

int main(void)
{
	plan_lazy();
	test_lines();
	test_help_text();
	test_usage();
	test_table();
	test_generators();
	return done_testing();
}

/*
 * test-completions-unit.c - what the completions and the man page read
 * (include/burst/doc.h): option tables and usage lines, table-driven cases,
 * then the real command table, cross-checked against the usage lines and
 * the run verbs' router, so that an option the router does not take, or a
 * usage line naming an option that is not in the table, fails here.
 */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "burst/cli.h"
#include "burst/doc.h"

struct table_case {
	struct burst_option opt;
	const char *long_name, *arg;
	enum doc_value value;
	const char *choices; /* space separated, or NULL */
};

static const struct table_case table_cases[] = {
	{ { 1, 'y', "yes", NULL, "Do not ask", 0 }, "--yes", NULL,
	  DOC_VALUE_NONE, NULL },
	{ { 2, 0, "keep-alive", "SECONDS", "Idle time", OPT_VALUE },
	  "--keep-alive", "SECONDS", DOC_VALUE_ANY, NULL },
	{ { 3, 0, "color", "<WHEN>", "Colouring: auto", OPT_VALUE }, "--color",
	  "WHEN", DOC_VALUE_CHOICE, "auto always never" },
	{ { 4, 0, "env", "VAR[=VALUE]", "Forward VAR", OPT_VALUE | OPT_REPEAT },
	  "--env", "VAR[=VALUE]", DOC_VALUE_ENV, NULL },
	{ { 5, 'o', "output", "<json|text>", "Format", OPT_VALUE }, "--output",
	  "json|text", DOC_VALUE_CHOICE, "json text" },
	{ { 6, 'L', NULL, "LOCAL[:REMOTE]", "Forward a port", OPT_VALUE }, NULL,
	  "LOCAL[:REMOTE]", DOC_VALUE_ANY, NULL },
	{ { 7, 0, "key-file", "FILE", "The key", OPT_VALUE }, "--key-file",
	  "FILE", DOC_VALUE_FILE, NULL },
	{ { 8, 0, "into", "DIR", "Where", OPT_VALUE }, "--into", "DIR",
	  DOC_VALUE_DIR, NULL },
	{ { 9, 'V', NULL, NULL, "", 0 }, NULL, NULL, DOC_VALUE_NONE, NULL },
};

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Each entry of an option table becomes the option the generators use. */
static void test_from_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(table_cases); i++) {
		const struct table_case *c = &table_cases[i];
		struct burst_option table[2] = { c->opt, OPT_END };
		struct doc_opts opts;
		const struct doc_opt *o;

		doc_opts_init(&opts);
		doc_opts_from_table(&opts, table);
		if (!ok(opts.nr == 1, "entry %zu: one option", i)) {
			doc_opts_release(&opts);
			continue;
		}
		o = &opts.v[0];
		ok(o->short_name == c->opt.short_name, "entry %zu: short -%c", i,
		   c->opt.short_name ? c->opt.short_name : '0');
		ok(str_eq(o->long_name, c->long_name), "entry %zu: long %s (got %s)",
		   i, c->long_name ? c->long_name : "none",
		   o->long_name ? o->long_name : "none");
		ok(str_eq(o->arg, c->arg), "entry %zu: arg %s (got %s)", i,
		   c->arg ? c->arg : "none", o->arg ? o->arg : "none");
		ok(str_eq(o->help, c->opt.help), "entry %zu: help", i);
		ok(o->value == c->value, "entry %zu: value kind %d (got %d)", i,
		   (int)c->value, (int)o->value);
		ok(o->repeatable == !!(c->opt.flags & OPT_REPEAT),
		   "entry %zu: repeatable from OPT_REPEAT", i);
		if (c->choices) {
			struct strbuf sb = STRBUF_INIT;

			for (size_t k = 0; k < o->choices.nr; k++)
				strbuf_addf(&sb, "%s%s", k ? " " : "",
					    o->choices.v[k]);
			is_str(sb.buf, c->choices, "entry %zu: choices", i);
			strbuf_release(&sb);
		}
		doc_opts_release(&opts);
	}
}

static void test_hidden_and_empty(void)
{
	static const struct burst_option table[] = {
		{ 1, 0, "shown", NULL, "Shown", 0 },
		{ 2, 0, "internal", NULL, "Hidden", OPT_HIDDEN },
		OPT_HELP, OPT_END,
	};
	struct doc_opts opts;

	doc_opts_init(&opts);
	doc_opts_from_table(&opts, table);
	if (ok(opts.nr == 2, "hidden entries are not listed (got %zu)", opts.nr)) {
		is_str(opts.v[0].long_name, "--shown", "first is --shown");
		ok(opts.v[1].short_name == 'h', "then -h, --help");
	}
	doc_opts_release(&opts);
	doc_opts_from_table(&opts, NULL);
	is_int((long long)opts.nr, 0, "a NULL table: no options");
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
		struct burst_cmd cmd = { c->name, "", c->usage, NULL, 0, NULL,
					 NULL };
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
		ok(has_flag(opts, flag), "%s: usage flag %s is in the option table",
		   cmd->name, flag);
		free(flag);
		p += len;
	}
}

/*
 * Every option a run verb lists is taken by its router: before the verb
 * (short or long form) and, for OPT_AFTER_VERB, after it.
 */
static void route_one(const struct burst_cmd *cmd, const struct doc_opt *o,
		      bool after)
{
	char *argv[8];
	int argc = 0, rc;
	struct run_args ra;
	struct burst_error err = BURST_ERROR_INIT;
	const struct burst_cmd *got = NULL;
	char shortf[3] = { '-', o->short_name, 0 };
	const char *flag = o->long_name ? o->long_name : shortf;

	argv[argc++] = (char *)"cargo-burst";
	argv[argc++] = (char *)"burst";
	if (after)
		argv[argc++] = (char *)cmd->name;
	argv[argc++] = (char *)flag;
	if (o->arg)
		argv[argc++] = (char *)(strstr(o->arg, "SECONDS") ? "30" :
					!strcmp(o->arg, "N") ? "2" :
					strstr(o->arg, "LOCAL") ? "8080" :
					strstr(o->arg, "MACHINE") ? "box" :
					strchr(o->arg, '|') ? strrchr(o->arg, '|') + 1 : "FOO");
	if (!after)
		argv[argc++] = (char *)cmd->name;
	argv[argc++] = (char *)"CARGO_ARG";
	argv[argc] = NULL;
	run_args_init(&ra);
	rc = cli_route_run(argc, argv, &ra, &got, &err);
	/* taken: only CARGO_ARG (and a -q/-v, cargo's too) reach cargo */
	ok(rc == 0 && got == cmd && ra.cargo_args.nr >= 1 &&
	   !strcmp(ra.cargo_args.v[ra.cargo_args.nr - 1], "CARGO_ARG") &&
	   (ra.cargo_args.nr == 1 || ra.quiet + ra.verbose > 0),
	   "%s: the router takes %s %s the verb (%s)", cmd->name, flag,
	   after ? "after" : "before", err.message ? err.message : "ok");
	run_args_release(&ra);
	burst_error_release(&err);
}

static void test_table_run_flags(const struct burst_cmd *cmd,
				 const struct doc_opts *opts)
{
	for (size_t i = 0; i < opts->nr; i++) {
		const struct doc_opt *o = &opts->v[i];

		if (o->long_name && !strcmp(o->long_name, "--help"))
			continue; /* prints the help instead */
		route_one(cmd, o, false);
		for (const struct burst_option *t = cmd->options; t->id; t++)
			if (o->long_name && t->long_name &&
			    !strcmp(o->long_name + 2, t->long_name) &&
			    (t->flags & (OPT_AFTER_VERB | OPT_CARGO)))
				route_one(cmd, o, true);
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
		doc_opts_from_table(&opts, cmd->options);
		test_table_usage_flags(cmd, &opts);
		if (cmd->flags & CMD_RUN) {
			ok(opts.nr > 0, "run verb %s has an option table",
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
	doc_opts_from_table(&global, cli_global_options);
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
	test_from_table();
	test_hidden_and_empty();
	test_usage();
	test_table();
	test_generators();
	return done_testing();
}

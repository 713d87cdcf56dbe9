/*
 * options.c - the option tables of the commands: matching one argument,
 * parsing a plain command's arguments, and the help layout; see
 * include/burst/cli.h.
 */
#include <stdlib.h>
#include <string.h>

#include "burst/cli.h"

/* "-x" "-xx"...: all letters c; returns how many, or 0. */
static int repeated_letters(const char *s, char c)
{
	int n = 0;

	for (s++; *s; s++, n++)
		if (*s != c)
			return 0;
	return n;
}

static int missing_value(const struct burst_option *o, struct burst_error *err)
{
	if (o->long_name) {
		burst_error_set(err, BURST_EXIT_USAGE, "'--%s' needs a value",
				o->long_name);
		burst_error_hint(err, "use --%s %s", o->long_name, o->arg);
	} else {
		burst_error_set(err, BURST_EXIT_USAGE, "'-%c' needs a value",
				o->short_name);
		burst_error_hint(err, "use -%c %s", o->short_name, o->arg);
	}
	return -1;
}

/* Match one argument against an option table (cli.h). */
int cli_opt_match(const struct burst_option *table, bool long_only, int argc,
		  char **argv, int *i, const struct burst_option **opt,
		  const char **value, int *count, struct burst_error *err)
{
	const char *arg = argv[*i], *rest;

	*value = NULL;
	*count = 1;
	if (arg[0] != '-' || !arg[1] || !strcmp(arg, "--"))
		return 0;
	for (const struct burst_option *o = table; o && o->id; o++) {
		if (arg[1] == '-') {
			if (!o->long_name || (long_only && !(o->flags & OPT_AFTER_VERB)) ||
			    !skip_prefix(arg + 2, o->long_name, &rest))
				continue;
			if (*rest == '=' && (o->flags & OPT_VALUE)) {
				*value = rest + 1;
			} else if (*rest) {
				continue;
			} else if (o->flags & OPT_VALUE) {
				if (*i + 1 >= argc)
					return missing_value(o, err);
				*value = argv[++*i];
			}
		} else {
			if (long_only || !o->short_name || arg[1] != o->short_name)
				continue;
			if (o->flags & OPT_VALUE) {
				if (arg[2]) {
					*value = arg + 2;
				} else {
					if (*i + 1 >= argc)
						return missing_value(o, err);
					*value = argv[++*i];
				}
			} else if (arg[2]) {
				if (!(o->flags & OPT_REPEAT) ||
				    !(*count = repeated_letters(arg, o->short_name)))
					continue;
			}
		}
		*opt = o;
		return 1;
	}
	return 0;
}

/* Free parsed arguments. */
void cli_args_release(struct cli_args *a)
{
	free(a->hits);
	a->hits = NULL;
	a->nr = a->alloc = 0;
	strvec_clear(&a->positional);
}

/* Count the occurrences of an option. */
int cli_args_has(const struct cli_args *a, int id)
{
	int n = 0;

	for (size_t i = 0; i < a->nr; i++)
		n += a->hits[i].opt->id == id;
	return n;
}

/* The last value of an option. */
const char *cli_args_get(const struct cli_args *a, int id)
{
	for (size_t i = a->nr; i-- > 0;)
		if (a->hits[i].opt->id == id)
			return a->hits[i].value;
	return NULL;
}

/* Parse a plain command's argv by its option table. */
int cli_args_parse(struct cli_args *a, const struct burst_cmd *cmd, int argc,
		   char **argv, struct burst_error *err)
{
	bool dashdash = false;

	for (int i = 0; i < argc; i++) {
		const struct burst_option *o = NULL;
		const char *value;
		int m, count, at = i;

		if (dashdash) {
			strvec_push(&a->positional, argv[i]);
			continue;
		}
		if (!strcmp(argv[i], "--")) {
			dashdash = true;
			continue;
		}
		m = cli_opt_match(cmd->options, false, argc, argv, &i, &o, &value,
				  &count, err);
		if (m < 0)
			return -1;
		if (!m && argv[i][0] == '-' && argv[i][1]) {
			burst_error_set(err, BURST_EXIT_USAGE,
					"unexpected argument '%s' for %s", argv[i],
					cmd->name);
			burst_error_hint(err, "see 'cargo burst help %s'", cmd->name);
			return -1;
		}
		if (!m) {
			strvec_push(&a->positional, argv[i]);
			continue;
		}
		if (!(o->flags & OPT_REPEAT) && o->id != CLI_OPT_HELP &&
		    cli_args_has(a, o->id)) {
			burst_error_set(err, BURST_EXIT_USAGE,
					"'%s' given twice", argv[at]);
			burst_error_hint(err, "give it once");
			return -1;
		}
		if (a->nr == a->alloc) {
			a->alloc = a->alloc ? 2 * a->alloc : 8;
			a->hits = xreallocarray(a->hits, a->alloc, sizeof(*a->hits));
		}
		a->hits[a->nr].opt = o;
		a->hits[a->nr].value = value;
		a->nr++;
	}
	return 0;
}

/* The column where descriptions start, as in cargo's help. */
#define HELP_COLUMN 31

/* Format an option table for --help. */
void cli_format_options(struct strbuf *out, const struct burst_option *table)
{
	for (const struct burst_option *o = table; o && o->id; o++) {
		size_t start = out->len;

		if (o->flags & OPT_HIDDEN)
			continue;
		if (o->short_name)
			strbuf_addf(out, "    -%c%s", o->short_name,
				    o->long_name ? ", " : "");
		else
			strbuf_addstr(out, "        ");
		if (o->long_name)
			strbuf_addf(out, "--%s", o->long_name);
		if (o->arg)
			strbuf_addf(out, " %s", o->arg);
		if (out->len - start + 2 > HELP_COLUMN)
			strbuf_addstr(out, "  ");
		else
			while (out->len - start < HELP_COLUMN)
				strbuf_addch(out, ' ');
		strbuf_addf(out, "%s\n", o->help);
	}
}

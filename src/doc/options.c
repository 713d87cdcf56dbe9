/*
 * options.c - a verb's options from its option table (cli.h) and its first
 * argument from its usage; see include/burst/doc.h.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "burst/doc.h"

void doc_opts_init(struct doc_opts *opts)
{
	opts->v = NULL;
	opts->nr = opts->alloc = 0;
}

void doc_opt_release(struct doc_opt *o)
{
	free(o->long_name);
	free(o->arg);
	free(o->help);
	strvec_clear(&o->choices);
	o->long_name = o->arg = o->help = NULL;
}

void doc_opts_release(struct doc_opts *opts)
{
	for (size_t i = 0; i < opts->nr; i++)
		doc_opt_release(&opts->v[i]);
	free(opts->v);
	doc_opts_init(opts);
}

bool doc_cmd_visible(const struct burst_cmd *cmd)
{
	return !(cmd->flags & CMD_HIDDEN);
}

/* A lower-case word: a sub-verb or a value ("build", "zsh", "auto"). */
static bool is_word(const char *s, size_t len)
{
	if (!len || !islower((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* Split "a|b|c" into words; false (nothing added) unless all are words. */
static bool split_choices(const char *s, size_t len, struct strvec *out)
{
	struct strvec tmp = STRVEC_INIT;
	size_t start = 0;
	bool ok = true;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '|')
			continue;
		if (!is_word(s + start, i - start)) {
			ok = false;
			break;
		}
		strvec_pushf(&tmp, "%.*s", (int)(i - start), s + start);
		start = i + 1;
	}
	if (ok && tmp.nr > 1)
		for (size_t i = 0; i < tmp.nr; i++)
			if (strvec_find(out, tmp.v[i]) < 0)
				strvec_push(out, tmp.v[i]);
	strvec_clear(&tmp);
	return ok;
}

/* Strip one pair of enclosing <> [] () {} from s[0..*len). */
static const char *unbracket(const char *s, size_t *len)
{
	static const char pairs[] = "<>[](){}";

	for (size_t p = 0; p < sizeof(pairs) - 1; p += 2)
		if (*len >= 2 && s[0] == pairs[p] && s[*len - 1] == pairs[p + 1]) {
			*len -= 2;
			return s + 1;
		}
	return s;
}

/* How the value of an option with placeholder arg completes. */
static void classify_value(struct doc_opt *o)
{
	const char *a = o->arg;

	if (split_choices(a, strlen(a), &o->choices) && o->choices.nr) {
		o->value = DOC_VALUE_CHOICE;
	} else if (!strcmp(a, "WHEN")) {
		/* cargo's --color values, which cli.c's parse_color accepts */
		strvec_push(&o->choices, "auto");
		strvec_push(&o->choices, "always");
		strvec_push(&o->choices, "never");
		o->value = DOC_VALUE_CHOICE;
	} else if (!strncmp(a, "VAR", 3)) {
		o->value = DOC_VALUE_ENV;
	} else if (strstr(a, "DIR")) {
		o->value = DOC_VALUE_DIR;
	} else if (strstr(a, "FILE") || strstr(a, "PATH")) {
		o->value = DOC_VALUE_FILE;
	} else {
		o->value = DOC_VALUE_ANY;
	}
}

/* The options of a table, for the generators. */
void doc_opts_from_table(struct doc_opts *opts,
			 const struct burst_option *table)
{
	for (const struct burst_option *t = table; t && t->id; t++) {
		struct doc_opt *o;
		size_t alen;
		const char *a;

		if (t->flags & OPT_HIDDEN)
			continue;
		if (opts->nr == opts->alloc) {
			opts->alloc = opts->alloc ? 2 * opts->alloc : 8;
			opts->v = xreallocarray(opts->v, opts->alloc,
						sizeof(*opts->v));
		}
		o = &opts->v[opts->nr++];
		memset(o, 0, sizeof(*o));
		strvec_init(&o->choices);
		o->short_name = t->short_name;
		o->long_name = t->long_name ? xstrfmt("--%s", t->long_name) : NULL;
		o->help = xstrdup(t->help);
		o->repeatable = (t->flags & OPT_REPEAT) != 0;
		if (t->arg) {
			alen = strlen(t->arg);
			a = unbracket(t->arg, &alen);
			o->arg = xstrndup(a, alen);
			classify_value(o);
		}
	}
}

/* The options completed after a verb. */
void doc_opts_after_verb(struct doc_opts *opts, const struct burst_cmd *cmd)
{
	struct burst_option *copy;
	size_t n = 0, k = 0;

	if (!cmd->options)
		return;
	if (!(cmd->flags & CMD_RUN) || (cmd->flags & CMD_RUN_SHELL)) {
		doc_opts_from_table(opts, cmd->options);
		return;
	}
	while (cmd->options[n].id)
		n++;
	copy = xcalloc(n + 1, sizeof(*copy));
	for (size_t i = 0; i < n; i++) {
		const struct burst_option *o = &cmd->options[i];

		if (o->id == CLI_OPT_HELP || (o->flags & OPT_CARGO)) {
			copy[k++] = *o;
		} else if (o->flags & OPT_AFTER_VERB) {
			copy[k] = *o;
			copy[k++].short_name = 0; /* after the verb, -x is cargo's */
		}
	}
	doc_opts_from_table(opts, copy);
	free(copy);
}

static bool has_opt(const struct doc_opts *opts, const struct doc_opt *o)
{
	for (size_t i = 0; i < opts->nr; i++)
		if ((o->long_name && opts->v[i].long_name &&
		     !strcmp(o->long_name, opts->v[i].long_name)) ||
		    (o->short_name && o->short_name == opts->v[i].short_name))
			return true;
	return false;
}

/* The options completed before the verb. */
void doc_opts_before_verb(struct doc_opts *opts)
{
	doc_opts_from_table(opts, cli_global_options);
	for (size_t c = 0; burst_commands[c]; c++) {
		struct doc_opts run;

		if (!(burst_commands[c]->flags & CMD_RUN))
			continue;
		doc_opts_init(&run);
		doc_opts_from_table(&run, burst_commands[c]->options);
		for (size_t i = 0; i < run.nr; i++) {
			if (has_opt(opts, &run.v[i])) {
				doc_opt_release(&run.v[i]);
				continue;
			}
			if (opts->nr == opts->alloc) {
				opts->alloc = opts->alloc ? 2 * opts->alloc : 8;
				opts->v = xreallocarray(opts->v, opts->alloc,
							sizeof(*opts->v));
			}
			opts->v[opts->nr++] = run.v[i];
		}
		free(run.v);
	}
}

static size_t count_char(const char *s, size_t len, char c)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

/* One token of a usage line after the verb; see doc_cmd_positionals(). */
static void usage_token(const char *t, size_t tlen, bool *first, long *depth,
			struct strvec *words, bool *verbs, bool *free_args)
{
	const char *u;
	size_t ulen;

	if (*depth > 0) {
		/* inside an option group: [--timeout SECONDS] */
		*depth += (long)count_char(t, tlen, '[') -
			(long)count_char(t, tlen, ']');
		return;
	}
	if ((tlen == 2 && !memcmp(t, "--", 2)) ||
	    (tlen == 4 && !memcmp(t, "[--]", 4))) {
		/* what follows -- is a free command line: ssh [--] [COMMAND]... */
		*first = false;
		return;
	}
	if (t[0] == '-')
		return;
	if (tlen >= 2 && t[0] == '[' && t[1] == '-') {
		*depth = (long)count_char(t, tlen, '[') -
			(long)count_char(t, tlen, ']');
		return;
	}
	if (tlen > 3 && !memcmp(t + tlen - 3, "...", 3)) {
		/* repeated: a free list, never a single verb */
		tlen -= 3;
		if (*first && !memchr(t, '|', tlen) && !is_word(t, tlen))
			*first = false;
	}
	ulen = tlen;
	u = unbracket(t, &ulen);
	if (ulen == 7 && !memcmp(u, "OPTIONS", 7))
		return;
	if (*first && is_word(t, tlen)) {
		char *w = xstrndup(t, tlen);

		if (strvec_find(words, w) < 0)
			strvec_push(words, w);
		free(w);
	} else if (*first && memchr(u, '|', ulen) &&
		   split_choices(u, ulen, words)) {
		/* <bash|zsh|fish> */
	} else if (*first && ((ulen == 7 && !memcmp(u, "COMMAND", 7)) ||
			      (ulen == 4 && !memcmp(u, "VERB", 4)))) {
		*verbs = true;
	} else {
		*free_args = true;
	}
	*first = false;
}

void doc_cmd_positionals(const struct burst_cmd *cmd, struct strvec *words,
			 bool *verbs, bool *free_args)
{
	const char *p = cmd->usage;

	*verbs = *free_args = false;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *end = p + len, *t = p;
		bool after_verb = false, first = true;
		long depth = 0;

		while (t < end) {
			const char *te;
			size_t tlen;

			while (t < end && *t == ' ')
				t++;
			te = t;
			while (te < end && *te != ' ')
				te++;
			tlen = (size_t)(te - t);
			if (!tlen)
				break;
			if (after_verb)
				usage_token(t, tlen, &first, &depth, words,
					    verbs, free_args);
			else
				after_verb = tlen == strlen(cmd->name) &&
					!memcmp(t, cmd->name, tlen);
			t = te;
		}
		p = nl ? nl + 1 : end;
	}
}

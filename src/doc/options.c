/*
 * options.c - read a verb's options from its help text and its first
 * argument from its usage; see include/burst/doc.h for the layout.
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

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_';
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

size_t doc_opt_parse_line(struct doc_opt *o, const char *line, size_t len)
{
	size_t i = 0, name_start, arg_start, arg_end;
	char short_name = 0;
	char *long_name = NULL, *arg = NULL;

	while (i < len && line[i] == ' ')
		i++;
	if (i < 2 || i + 1 >= len || line[i] != '-')
		return 0;
	/* -y, then ", " when a long name follows */
	if (isalnum((unsigned char)line[i + 1]) &&
	    (i + 2 == len || line[i + 2] == ',' || line[i + 2] == ' ')) {
		short_name = line[i + 1];
		i += 2;
		if (i < len && line[i] == ',') {
			i++;
			while (i < len && line[i] == ' ')
				i++;
			if (i + 2 >= len || line[i] != '-' || line[i + 1] != '-')
				return 0;
		}
	}
	/* --long-name */
	if (i + 2 < len && line[i] == '-' && line[i + 1] == '-' &&
	    isalnum((unsigned char)line[i + 2])) {
		name_start = i;
		i += 2;
		while (i < len && is_name_char(line[i]))
			i++;
		long_name = xstrndup(line + name_start, i - name_start);
	}
	if (!short_name && !long_name)
		return 0;
	/* a value placeholder: "=ARG", " ARG" or " <ARG>", up to two spaces */
	if (i < len && (line[i] == '=' || (line[i] == ' ' && i + 1 < len &&
					   line[i + 1] != ' '))) {
		arg_start = i + 1;
		arg_end = arg_start;
		while (arg_end < len && !(line[arg_end] == ' ' &&
					  (arg_end + 1 == len ||
					   line[arg_end + 1] == ' ')))
			arg_end++;
		if (memchr(line + arg_start, ' ', arg_end - arg_start)) {
			/* one space and prose: no placeholder after all */
			arg_end = arg_start = i;
		} else {
			size_t alen = arg_end - arg_start;
			const char *a = unbracket(line + arg_start, &alen);

			if (alen)
				arg = xstrndup(a, alen);
			i = arg_end;
		}
	} else if (i < len && line[i] != ' ') {
		free(long_name);
		return 0; /* "--foo," or "-vv": prose, not an option line */
	}
	while (i < len && line[i] == ' ')
		i++;
	memset(o, 0, sizeof(*o));
	strvec_init(&o->choices);
	o->short_name = short_name;
	o->long_name = long_name;
	o->arg = arg;
	o->help = xstrndup(line + i, len - i);
	if (arg)
		classify_value(o);
	return i;
}

static size_t indent_of(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] == ' ')
		i++;
	return i;
}

static bool same_flag(const struct doc_opt *a, const struct doc_opt *b)
{
	if (a->long_name && b->long_name)
		return !strcmp(a->long_name, b->long_name);
	return a->short_name && a->short_name == b->short_name;
}

/* Keep o (taking its strings) unless its flag is already there. */
static void add_opt(struct doc_opts *opts, struct doc_opt *o)
{
	o->repeatable = strstr(o->help, "repeatable") != NULL;
	for (size_t i = 0; i < opts->nr; i++) {
		if (same_flag(&opts->v[i], o)) {
			doc_opt_release(o);
			return;
		}
	}
	if (opts->nr == opts->alloc) {
		opts->alloc = opts->alloc ? 2 * opts->alloc : 8;
		opts->v = xreallocarray(opts->v, opts->alloc, sizeof(*opts->v));
	}
	opts->v[opts->nr++] = *o;
}

void doc_opts_parse(struct doc_opts *opts, const char *help)
{
	struct doc_opt cur;
	size_t cur_indent = 0;
	bool open = false;
	const char *p = help;

	if (!help)
		return;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		size_t ind = indent_of(p, len);
		struct doc_opt o;

		if (doc_opt_parse_line(&o, p, len)) {
			if (open)
				add_opt(opts, &cur);
			cur = o;
			cur_indent = ind;
			open = true;
		} else if (open && ind < len && ind > cur_indent) {
			/* a continuation line of the description */
			char *joined = xstrfmt("%s%s%.*s", cur.help,
					       *cur.help ? " " : "",
					       (int)(len - ind), p + ind);

			free(cur.help);
			cur.help = joined;
		} else if (open) {
			add_opt(opts, &cur);
			open = false;
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	if (open)
		add_opt(opts, &cur);
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

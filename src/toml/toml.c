/*
 * toml.c - a TOML 1.0.0 parser: a recursive-descent reader straight over
 * the bytes (no token stream) that builds the DOM of toml.h.
 *
 * Table definition rules (the subtle part of TOML) are enforced with a few
 * flags on each table:
 *   defined  opened by its own [header]; a second [header] is an error
 *   dotted   created by a dotted key (a.b = 1); dotted keys may extend it
 *            later, a [header] naming it may not
 *   frozen   an inline table or an array literal; nothing may extend it
 *   aot      an array created by [[header]]; [[header]] appends to it and
 *            headers below it address its last element
 * A table created implicitly by a header path ([a.b] creates a) is none of
 * these and may be opened once later with its own [header].
 *
 * Every value records its depth below the root; creating anything deeper
 * than TOML_MAX_DEPTH is an error, which bounds the parser's recursion and
 * that of every consumer walking the tree.
 */
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burst/strbuf.h"
#include "burst/toml.h"

struct toml_value {
	enum toml_type type;
	int line, col;
	int depth;
	bool defined, dotted, frozen, aot;
	union {
		struct {
			char *s;
			size_t len;
		} str;
		int64_t i;
		double f;
		bool b;
		struct toml_datetime dt;
		struct {
			struct toml_value **v;
			size_t n, alloc;
		} arr;
		struct {
			struct toml_entry *e;
			size_t n, alloc;
			size_t *idx; /* open addressing: entry index + 1, 0 = free */
			size_t idx_cap;
		} tab;
	} u;
};

/* One component of a key: its bytes and where it starts. */
struct key_part {
	char *s;
	size_t len;
	size_t pos;
};

struct key_path {
	struct key_part *parts;
	size_t n, alloc;
};

struct parser {
	const char *p;
	size_t len, pos;
	struct toml_error *err;
	struct toml_value *root, *cur;
	/* cache for offset -> line/col, advanced monotonically */
	size_t lc_pos, lc_line_start;
	int lc_line;
};

/* ---------------------------------------------------------------- values */

static struct toml_value *value_new(enum toml_type type, int depth)
{
	struct toml_value *v = xcalloc(1, sizeof(*v));

	v->type = type;
	v->depth = depth;
	return v;
}

static struct toml_value *entry_value(const struct toml_entry *e)
{
	return (struct toml_value *)e->value;
}

static void value_free(struct toml_value *v)
{
	size_t i;

	if (!v)
		return;
	switch (v->type) {
	case TOML_STRING:
		free(v->u.str.s);
		break;
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL:
		free((char *)v->u.dt.text);
		break;
	case TOML_ARRAY:
		for (i = 0; i < v->u.arr.n; i++)
			value_free(v->u.arr.v[i]);
		free(v->u.arr.v);
		break;
	case TOML_TABLE:
		for (i = 0; i < v->u.tab.n; i++) {
			free((char *)v->u.tab.e[i].key);
			value_free(entry_value(&v->u.tab.e[i]));
		}
		free(v->u.tab.e);
		free(v->u.tab.idx);
		break;
	default:
		break;
	}
	free(v);
}

void toml_free(struct toml_value *root)
{
	value_free(root);
}

static size_t key_hash(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static void table_index_insert(struct toml_value *t, size_t entry)
{
	const struct toml_entry *e = &t->u.tab.e[entry];
	size_t mask = t->u.tab.idx_cap - 1;
	size_t slot = key_hash(e->key, e->key_len) & mask;

	while (t->u.tab.idx[slot])
		slot = (slot + 1) & mask;
	t->u.tab.idx[slot] = entry + 1;
}

static void table_reindex(struct toml_value *t)
{
	size_t i, cap = 16;

	while (cap < t->u.tab.n * 2)
		cap *= 2;
	free(t->u.tab.idx);
	t->u.tab.idx = xcalloc(cap, sizeof(*t->u.tab.idx));
	t->u.tab.idx_cap = cap;
	for (i = 0; i < t->u.tab.n; i++)
		table_index_insert(t, i);
}

static struct toml_entry *table_find(const struct toml_value *t,
				     const char *key, size_t len)
{
	size_t i;

	if (!t || t->type != TOML_TABLE)
		return NULL;
	if (!t->u.tab.idx) {
		for (i = 0; i < t->u.tab.n; i++) {
			struct toml_entry *e = &t->u.tab.e[i];
			if (e->key_len == len && !memcmp(e->key, key, len))
				return e;
		}
		return NULL;
	}
	{
		size_t mask = t->u.tab.idx_cap - 1;
		size_t slot = key_hash(key, len) & mask;

		while (t->u.tab.idx[slot]) {
			struct toml_entry *e = &t->u.tab.e[t->u.tab.idx[slot] - 1];
			if (e->key_len == len && !memcmp(e->key, key, len))
				return e;
			slot = (slot + 1) & mask;
		}
	}
	return NULL;
}

/* Append key -> v (the key must be absent); the table takes v over. */
static struct toml_entry *table_add(struct toml_value *t, const char *key,
				    size_t len, struct toml_value *v,
				    int line, int col)
{
	struct toml_entry *e;
	char *k;

	ALLOC_GROW(t->u.tab.e, t->u.tab.n + 1, t->u.tab.alloc);
	e = &t->u.tab.e[t->u.tab.n++];
	k = xmalloc(len + 1); /* not xstrndup: keys may hold NUL bytes */
	memcpy(k, key, len);
	k[len] = '\0';
	e->key = k;
	e->key_len = len;
	e->line = line;
	e->col = col;
	e->value = v;
	v->line = line;
	v->col = col;
	if (t->u.tab.idx && t->u.tab.n * 2 <= t->u.tab.idx_cap)
		table_index_insert(t, t->u.tab.n - 1);
	else if (t->u.tab.n >= 8)
		table_reindex(t);
	return e;
}

static void array_add(struct toml_value *a, struct toml_value *v)
{
	ALLOC_GROW(a->u.arr.v, a->u.arr.n + 1, a->u.arr.alloc);
	a->u.arr.v[a->u.arr.n++] = v;
}

/* ------------------------------------------------------- error reporting */

static void offset_to_linecol(struct parser *ps, size_t at, int *line, int *col)
{
	if (at > ps->len)
		at = ps->len;
	if (at < ps->lc_line_start) {
		/* moving back (rare: errors about an earlier token) */
		size_t q;

		for (q = at; q < ps->lc_line_start; q++)
			if (ps->p[q] == '\n')
				ps->lc_line--;
		q = at;
		while (q > 0 && ps->p[q - 1] != '\n')
			q--;
		ps->lc_line_start = q;
	}
	if (at < ps->lc_pos)
		ps->lc_pos = at;
	while (ps->lc_pos < at) {
		const char *nl = memchr(ps->p + ps->lc_pos, '\n', at - ps->lc_pos);
		if (!nl) {
			ps->lc_pos = at;
			break;
		}
		ps->lc_pos = (size_t)(nl - ps->p) + 1;
		ps->lc_line_start = ps->lc_pos;
		if (ps->lc_line < INT_MAX)
			ps->lc_line++;
	}
	*line = ps->lc_line;
	*col = at - ps->lc_line_start >= INT_MAX ? INT_MAX
						 : (int)(at - ps->lc_line_start) + 1;
}

static int fail_at(struct parser *ps, size_t at, const char *fmt, ...)
	BURST_PRINTF(3, 4);

/* Record the first error at byte offset at; returns -1. */
static int fail_at(struct parser *ps, size_t at, const char *fmt, ...)
{
	va_list ap;

	if (ps->err->msg[0])
		return -1; /* keep the first, innermost error */
	offset_to_linecol(ps, at, &ps->err->line, &ps->err->col);
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	if (!ps->err->msg[0])
		snprintf(ps->err->msg, sizeof(ps->err->msg), "syntax error");
	return -1;
}

/* Describe the byte at pos for "found ..." messages. */
static const char *describe(struct parser *ps, size_t at, char *buf, size_t n)
{
	unsigned char c;

	if (at >= ps->len)
		return "end of file";
	c = (unsigned char)ps->p[at];
	if (c == '\n' || (c == '\r' && at + 1 < ps->len && ps->p[at + 1] == '\n'))
		return "end of line";
	if (c < 0x20 || c == 0x7f)
		snprintf(buf, n, "control character U+%04X", c);
	else if (c < 0x80)
		snprintf(buf, n, "'%c'", c);
	else {
		size_t k = 1;
		while (k < 4 && at + k < ps->len &&
		       ((unsigned char)ps->p[at + k] & 0xc0) == 0x80)
			k++;
		snprintf(buf, n, "'%.*s'", (int)k, ps->p + at);
	}
	return buf;
}

/* Append a key for messages, quoting and escaping where needed. */
static void add_key_display(struct strbuf *sb, const char *s, size_t len)
{
	size_t i;
	bool bare = len > 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			bare = false;
	}
	if (bare) {
		strbuf_add(sb, s, len);
		return;
	}
	strbuf_addch(sb, '"');
	for (i = 0; i < len && sb->len < 120; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			strbuf_addf(sb, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			strbuf_addf(sb, "\\u%04X", c);
		else
			strbuf_addch(sb, c);
	}
	if (i < len)
		strbuf_addstr(sb, "...");
	strbuf_addch(sb, '"');
}

/* "a.b.c" for the first n parts of a key path (caller frees). */
static char *key_display(const struct key_path *kp, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			strbuf_addch(&sb, '.');
		if (sb.len > 120) {
			strbuf_addstr(&sb, "...");
			break;
		}
		add_key_display(&sb, kp->parts[i].s, kp->parts[i].len);
	}
	return strbuf_detach(&sb, NULL);
}

/* ---------------------------------------------------------------- UTF-8 */

/* Check the whole input; returns the offset of the first bad byte or len. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return i;
		}
		if (len - i < n)
			return i;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n;
	}
	return len;
}

static void utf8_encode(struct strbuf *sb, uint32_t cp)
{
	char b[4];

	if (cp < 0x80) {
		strbuf_addch(sb, (int)cp);
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(sb, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(sb, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(sb, b, 4);
	}
}

/* --------------------------------------------------------------- lexing */

static int peek(const struct parser *ps)
{
	return ps->pos < ps->len ? (unsigned char)ps->p[ps->pos] : -1;
}

static int peek_at(const struct parser *ps, size_t k)
{
	return ps->pos + k < ps->len ? (unsigned char)ps->p[ps->pos + k] : -1;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
	       c == '_' || c == '-';
}

/* Control characters TOML forbids in strings and comments (tab is fine). */
static bool is_bad_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static void skip_ws(struct parser *ps)
{
	while (ps->pos < ps->len && (ps->p[ps->pos] == ' ' || ps->p[ps->pos] == '\t'))
		ps->pos++;
}

/* At a newline (LF or CRLF)?  Returns its length or 0. */
static size_t at_newline(const struct parser *ps)
{
	int c = peek(ps);

	if (c == '\n')
		return 1;
	if (c == '\r' && peek_at(ps, 1) == '\n')
		return 2;
	return 0;
}

/* Skip a comment if there is one (up to, not including, the newline). */
static int skip_comment(struct parser *ps)
{
	if (peek(ps) != '#')
		return 0;
	ps->pos++;
	while (ps->pos < ps->len) {
		int c = (unsigned char)ps->p[ps->pos];
		if (c == '\n' || at_newline(ps))
			break;
		if (is_bad_control(c))
			return fail_at(ps, ps->pos,
				       "control character U+%04X in comment", c);
		ps->pos++;
	}
	return 0;
}

/* Skip white space, newlines and comments (inside arrays). */
static int skip_ws_nl(struct parser *ps)
{
	for (;;) {
		size_t nl;

		skip_ws(ps);
		if (skip_comment(ps) < 0)
			return -1;
		nl = at_newline(ps);
		if (!nl)
			return 0;
		ps->pos += nl;
	}
}

/* After a key/value pair or header: white space, a comment, end of line. */
static int expect_eol(struct parser *ps, const char *after)
{
	char buf[32];
	size_t nl;

	skip_ws(ps);
	if (skip_comment(ps) < 0)
		return -1;
	if (ps->pos >= ps->len)
		return 0;
	nl = at_newline(ps);
	if (nl) {
		ps->pos += nl;
		return 0;
	}
	return fail_at(ps, ps->pos, "expected end of line after %s, found %s",
		       after, describe(ps, ps->pos, buf, sizeof(buf)));
}

/* ------------------------------------------------------------- strings */

static int parse_hex_escape(struct parser *ps, struct strbuf *sb, int digits,
			    size_t esc_pos)
{
	uint32_t cp = 0;
	int i;

	for (i = 0; i < digits; i++) {
		int c = peek(ps);
		if (!is_hex(c))
			return fail_at(ps, esc_pos,
				       "invalid unicode escape: \\%c needs %d hex digits",
				       digits == 4 ? 'u' : 'U', digits);
		cp = cp * 16 + (uint32_t)(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
		ps->pos++;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail_at(ps, esc_pos,
			       "invalid unicode escape: U+%04X is not a unicode scalar value",
			       (unsigned)cp);
	utf8_encode(sb, cp);
	return 0;
}

/* At a backslash inside a basic string: decode one escape into sb. */
static int parse_escape(struct parser *ps, struct strbuf *sb)
{
	size_t esc_pos = ps->pos;
	int c;
	char buf[32];

	ps->pos++; /* the backslash */
	c = peek(ps);
	switch (c) {
	case 'b': strbuf_addch(sb, '\b'); break;
	case 't': strbuf_addch(sb, '\t'); break;
	case 'n': strbuf_addch(sb, '\n'); break;
	case 'f': strbuf_addch(sb, '\f'); break;
	case 'r': strbuf_addch(sb, '\r'); break;
	case '"': strbuf_addch(sb, '"'); break;
	case '\\': strbuf_addch(sb, '\\'); break;
	case 'u':
		ps->pos++;
		return parse_hex_escape(ps, sb, 4, esc_pos);
	case 'U':
		ps->pos++;
		return parse_hex_escape(ps, sb, 8, esc_pos);
	default:
		if (c > 0x20 && c < 0x7f)
			return fail_at(ps, esc_pos, "invalid escape '\\%c'", c);
		return fail_at(ps, esc_pos, "invalid escape: backslash followed by %s",
			       describe(ps, ps->pos, buf, sizeof(buf)));
	}
	ps->pos++;
	return 0;
}

/* A single-line basic ("...") or literal ('...') string. */
static int parse_string_line(struct parser *ps, struct strbuf *sb)
{
	size_t start = ps->pos;
	int q = peek(ps);

	ps->pos++;
	for (;;) {
		int c = peek(ps);

		if (c < 0 || c == '\n' || c == '\r') {
			if (c == '\r' && !at_newline(ps))
				return fail_at(ps, ps->pos,
					       "control character U+000D in string");
			return fail_at(ps, start, "unterminated string");
		}
		if (c == q) {
			ps->pos++;
			return 0;
		}
		if (c == '\\' && q == '"') {
			if (parse_escape(ps, sb) < 0)
				return -1;
			continue;
		}
		if (is_bad_control(c))
			return fail_at(ps, ps->pos, "control character U+%04X in string", c);
		strbuf_addch(sb, c);
		ps->pos++;
	}
}

/* A multi-line basic (""") or literal (''') string. */
static int parse_string_multi(struct parser *ps, struct strbuf *sb)
{
	size_t start = ps->pos, nl;
	int q = peek(ps);

	ps->pos += 3;
	/* a newline right after the opening delimiter is trimmed */
	nl = at_newline(ps);
	ps->pos += nl;
	for (;;) {
		int c = peek(ps);

		if (c < 0)
			return fail_at(ps, start, "unterminated multi-line string");
		if (c == q) {
			size_t run = 0;
			while (peek_at(ps, run) == q)
				run++;
			if (run < 3) {
				strbuf_add(sb, ps->p + ps->pos, run);
				ps->pos += run;
				continue;
			}
			if (run > 5)
				return fail_at(ps, ps->pos + 5,
					       "too many quotes at the end of a multi-line string");
			strbuf_add(sb, ps->p + ps->pos, run - 3);
			ps->pos += run;
			return 0;
		}
		if (c == '\\' && q == '"') {
			size_t k = 1;
			int d;

			/* line-ending backslash: \, optional blanks, newline */
			while ((d = peek_at(ps, k)) == ' ' || d == '\t')
				k++;
			if (d == '\n' || (d == '\r' && peek_at(ps, k + 1) == '\n')) {
				ps->pos += k;
				for (;;) {
					skip_ws(ps);
					nl = at_newline(ps);
					if (!nl)
						break;
					ps->pos += nl;
				}
				continue;
			}
			if (parse_escape(ps, sb) < 0)
				return -1;
			continue;
		}
		nl = at_newline(ps);
		if (nl) {
			strbuf_addch(sb, '\n');
			ps->pos += nl;
			continue;
		}
		if (is_bad_control(c))
			return fail_at(ps, ps->pos, "control character U+%04X in string", c);
		strbuf_addch(sb, c);
		ps->pos++;
	}
}

/* --------------------------------------------------------------- keys */

static void key_path_release(struct key_path *kp)
{
	size_t i;

	for (i = 0; i < kp->n; i++)
		free(kp->parts[i].s);
	free(kp->parts);
	kp->parts = NULL;
	kp->n = kp->alloc = 0;
}

/* Parse a (possibly dotted) key at pos into kp. */
static int parse_key(struct parser *ps, struct key_path *kp)
{
	char buf[32];

	for (;;) {
		struct strbuf sb = STRBUF_INIT;
		size_t start = ps->pos;
		int c = peek(ps);
		struct key_part *part;

		if (c == '"' || c == '\'') {
			if (peek_at(ps, 1) == c && peek_at(ps, 2) == c) {
				return fail_at(ps, start,
					       "multi-line strings cannot be keys");
			}
			if (parse_string_line(ps, &sb) < 0) {
				strbuf_release(&sb);
				return -1;
			}
		} else if (is_bare_key_char(c)) {
			while (is_bare_key_char(peek(ps)))
				ps->pos++;
			strbuf_add(&sb, ps->p + start, ps->pos - start);
		} else {
			return fail_at(ps, start, "expected a key, found %s",
				       describe(ps, start, buf, sizeof(buf)));
		}
		if (kp->n >= TOML_MAX_DEPTH) {
			strbuf_release(&sb);
			return fail_at(ps, start, "key has more than %d parts",
				       TOML_MAX_DEPTH);
		}
		ALLOC_GROW(kp->parts, kp->n + 1, kp->alloc);
		part = &kp->parts[kp->n++];
		part->pos = start;
		part->s = strbuf_detach(&sb, &part->len);
		skip_ws(ps);
		if (peek(ps) != '.')
			return 0;
		ps->pos++;
		skip_ws(ps);
	}
}

/* ------------------------------------------------------- numbers, dates */

static bool digits_at(const struct parser *ps, size_t k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_digit(peek_at(ps, k + i)))
			return false;
	return true;
}

static int read_digits(struct parser *ps, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (ps->p[ps->pos + i] - '0');
	ps->pos += n;
	return v;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_date(struct parser *ps, struct toml_datetime *dt)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t start = ps->pos;
	int dim;

	if (!digits_at(ps, 0, 4) || peek_at(ps, 4) != '-' || !digits_at(ps, 5, 2) ||
	    peek_at(ps, 7) != '-' || !digits_at(ps, 8, 2))
		return fail_at(ps, start, "invalid date: expected YYYY-MM-DD");
	dt->year = read_digits(ps, 4);
	ps->pos++;
	dt->month = read_digits(ps, 2);
	ps->pos++;
	dt->day = read_digits(ps, 2);
	if (dt->month < 1 || dt->month > 12)
		return fail_at(ps, start, "invalid date: month %02d out of range",
			       dt->month);
	dim = mdays[dt->month - 1];
	if (dt->month == 2 && is_leap(dt->year))
		dim = 29;
	if (dt->day < 1 || dt->day > dim)
		return fail_at(ps, start, "invalid date: day %02d out of range",
			       dt->day);
	dt->has_date = true;
	return 0;
}

static int parse_time(struct parser *ps, struct toml_datetime *dt)
{
	size_t start = ps->pos;

	if (!digits_at(ps, 0, 2) || peek_at(ps, 2) != ':' || !digits_at(ps, 3, 2) ||
	    peek_at(ps, 5) != ':' || !digits_at(ps, 6, 2))
		return fail_at(ps, start, "invalid time: expected HH:MM:SS");
	dt->hour = read_digits(ps, 2);
	ps->pos++;
	dt->minute = read_digits(ps, 2);
	ps->pos++;
	dt->second = read_digits(ps, 2);
	if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
		return fail_at(ps, start, "invalid time: out of range");
	if (peek(ps) == '.') {
		int k = 0;

		ps->pos++;
		if (!is_digit(peek(ps)))
			return fail_at(ps, ps->pos,
				       "invalid time: expected digits after '.'");
		while (is_digit(peek(ps))) {
			if (k < 9) {
				dt->nanosecond = dt->nanosecond * 10 + (peek(ps) - '0');
				k++;
			}
			ps->pos++;
		}
		for (; k < 9; k++)
			dt->nanosecond *= 10;
	}
	dt->has_time = true;
	return 0;
}

static int parse_offset(struct parser *ps, struct toml_datetime *dt)
{
	int c = peek(ps), h, m;
	size_t start = ps->pos;

	if (c == 'Z' || c == 'z') {
		ps->pos++;
		dt->has_offset = true;
		return 0;
	}
	if (c != '+' && c != '-')
		return 0;
	if (!digits_at(ps, 1, 2) || peek_at(ps, 3) != ':' || !digits_at(ps, 4, 2))
		return fail_at(ps, start, "invalid time offset: expected +HH:MM");
	ps->pos++;
	h = read_digits(ps, 2);
	ps->pos++;
	m = read_digits(ps, 2);
	if (h > 23 || m > 59)
		return fail_at(ps, start, "invalid time offset: out of range");
	dt->offset_minutes = (c == '-' ? -1 : 1) * (h * 60 + m);
	dt->has_offset = true;
	return 0;
}

static struct toml_value *parse_datetime(struct parser *ps, int depth)
{
	struct toml_datetime dt;
	struct toml_value *v;
	size_t start = ps->pos;
	enum toml_type type;

	memset(&dt, 0, sizeof(dt));
	if (peek_at(ps, 2) == ':') {
		if (parse_time(ps, &dt) < 0)
			return NULL;
		type = TOML_TIME_LOCAL;
	} else {
		int c;

		if (parse_date(ps, &dt) < 0)
			return NULL;
		c = peek(ps);
		if (c == 'T' || c == 't' || (c == ' ' && digits_at(ps, 1, 2))) {
			ps->pos++;
			if (parse_time(ps, &dt) < 0 || parse_offset(ps, &dt) < 0)
				return NULL;
			type = dt.has_offset ? TOML_DATETIME : TOML_DATETIME_LOCAL;
		} else {
			type = TOML_DATE_LOCAL;
		}
	}
	dt.text = xstrndup(ps->p + start, ps->pos - start);
	v = value_new(type, depth);
	v->u.dt = dt;
	return v;
}

/* Digits with single underscores between them; returns the count or -1. */
static int scan_digits(const char *s, size_t len, size_t *i, bool (*ok)(int))
{
	int n = 0;

	if (*i >= len || !ok((unsigned char)s[*i]))
		return -1;
	while (*i < len) {
		if (ok((unsigned char)s[*i])) {
			n++;
			(*i)++;
		} else if (s[*i] == '_' && *i + 1 < len && ok((unsigned char)s[*i + 1])) {
			(*i)++;
		} else {
			break;
		}
	}
	return n;
}

static bool is_oct(int c)
{
	return c >= '0' && c <= '7';
}

static bool is_bin(int c)
{
	return c == '0' || c == '1';
}

static bool is_digit_fn(int c)
{
	return is_digit(c);
}

static bool is_number_char(int c)
{
	return is_bare_key_char(c) || c == '.' || c == '+';
}

/* strtod that ignores the process locale's decimal point. */
static double c_strtod(const char *s)
{
	const struct lconv *lc = localeconv();
	const char *dp = lc && lc->decimal_point && *lc->decimal_point
				 ? lc->decimal_point : ".";
	struct strbuf sb = STRBUF_INIT;
	double d;

	for (; *s; s++) {
		if (*s == '.')
			strbuf_addstr(&sb, dp);
		else
			strbuf_addch(&sb, *s);
	}
	d = strtod(sb.buf, NULL);
	strbuf_release(&sb);
	return d;
}

static struct toml_value *parse_number(struct parser *ps, int depth)
{
	size_t start = ps->pos, i = 0, len;
	const char *s = ps->p + start;
	bool neg = false, is_float = false;
	struct toml_value *v;

	while (ps->pos < ps->len && is_number_char(peek(ps)))
		ps->pos++;
	/* '-' is a key char, and '+' only appears after a sign or an 'e' */
	len = ps->pos - start;
	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (len - i == 3 && (!memcmp(s + i, "inf", 3) || !memcmp(s + i, "nan", 3))) {
		v = value_new(TOML_FLOAT, depth);
		if (s[i] == 'i')
			v->u.f = neg ? -HUGE_VAL : HUGE_VAL;
		else
			v->u.f = neg ? -(double)NAN : (double)NAN;
		return v;
	}
	if (len - i >= 2 && s[i] == '0' &&
	    (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
		int base = s[i + 1] == 'x' ? 16 : s[i + 1] == 'o' ? 8 : 2;
		bool (*ok)(int) = base == 16 ? is_hex : base == 8 ? is_oct : is_bin;
		uint64_t acc = 0;

		if (i)
			return fail_at(ps, start, "%s integers cannot have a sign",
				       base == 16 ? "hexadecimal" :
				       base == 8 ? "octal" : "binary"), NULL;
		i += 2;
		if (scan_digits(s, len, &i, ok) < 0 || i != len)
			return fail_at(ps, start, "invalid %s integer",
				       base == 16 ? "hexadecimal" :
				       base == 8 ? "octal" : "binary"), NULL;
		for (size_t k = 2; k < len; k++) {
			int c = (unsigned char)s[k], d;
			if (c == '_')
				continue;
			d = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
			if (acc > ((uint64_t)INT64_MAX - (uint64_t)d) / (uint64_t)base)
				return fail_at(ps, start, "integer out of range"), NULL;
			acc = acc * (uint64_t)base + (uint64_t)d;
		}
		v = value_new(TOML_INTEGER, depth);
		v->u.i = (int64_t)acc;
		return v;
	}
	{
		size_t int_start = i;
		int n = scan_digits(s, len, &i, is_digit_fn);

		if (n < 0)
			return fail_at(ps, start, "invalid number"), NULL;
		if (s[int_start] == '0' && n > 1)
			return fail_at(ps, start, "leading zeros are not allowed in numbers"),
			       NULL;
		if (i < len && s[i] == '.') {
			i++;
			if (scan_digits(s, len, &i, is_digit_fn) < 0)
				return fail_at(ps, start,
					       "invalid float: expected digits after '.'"),
				       NULL;
			is_float = true;
		}
		if (i < len && (s[i] == 'e' || s[i] == 'E')) {
			i++;
			if (i < len && (s[i] == '+' || s[i] == '-'))
				i++;
			if (scan_digits(s, len, &i, is_digit_fn) < 0)
				return fail_at(ps, start,
					       "invalid float: expected digits in the exponent"),
				       NULL;
			is_float = true;
		}
		if (i != len)
			return fail_at(ps, start, "invalid number '%.*s'",
				       (int)(len > 40 ? 40 : len), s), NULL;
	}
	if (is_float) {
		struct strbuf sb = STRBUF_INIT;
		double d;

		for (i = 0; i < len; i++)
			if (s[i] != '_')
				strbuf_addch(&sb, s[i]);
		d = c_strtod(sb.buf);
		strbuf_release(&sb);
		if (isinf(d))
			return fail_at(ps, start, "float out of range"), NULL;
		v = value_new(TOML_FLOAT, depth);
		v->u.f = d;
		return v;
	}
	{
		uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

		for (i = neg || s[0] == '+' ? 1 : 0; i < len; i++) {
			int d;
			if (s[i] == '_')
				continue;
			d = s[i] - '0';
			if (acc > (limit - (uint64_t)d) / 10)
				return fail_at(ps, start, "integer out of range"), NULL;
			acc = acc * 10 + (uint64_t)d;
		}
		v = value_new(TOML_INTEGER, depth);
		if (neg)
			v->u.i = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
		else
			v->u.i = (int64_t)acc;
		return v;
	}
}

/* --------------------------------------------------------------- values */

static struct toml_value *parse_value(struct parser *ps, int depth);
static int parse_keyval(struct parser *ps, struct toml_value *table);

static int check_depth(struct parser *ps, size_t at, int depth)
{
	if (depth > TOML_MAX_DEPTH)
		return fail_at(ps, at, "nesting deeper than %d levels", TOML_MAX_DEPTH);
	return 0;
}

static struct toml_value *parse_array(struct parser *ps, int depth)
{
	struct toml_value *a = value_new(TOML_ARRAY, depth);
	char buf[32];

	a->frozen = true;
	ps->pos++; /* [ */
	for (;;) {
		struct toml_value *v;
		int line, col;

		if (skip_ws_nl(ps) < 0)
			goto fail;
		if (peek(ps) == ']')
			break;
		offset_to_linecol(ps, ps->pos, &line, &col);
		v = parse_value(ps, depth + 1);
		if (!v)
			goto fail;
		v->line = line;
		v->col = col;
		array_add(a, v);
		if (skip_ws_nl(ps) < 0)
			goto fail;
		if (peek(ps) == ',') {
			ps->pos++;
			continue;
		}
		if (peek(ps) == ']')
			break;
		fail_at(ps, ps->pos, "expected ',' or ']' in array, found %s",
			describe(ps, ps->pos, buf, sizeof(buf)));
		goto fail;
	}
	ps->pos++; /* ] */
	return a;
fail:
	value_free(a);
	return NULL;
}

static struct toml_value *parse_inline_table(struct parser *ps, int depth)
{
	struct toml_value *t = value_new(TOML_TABLE, depth);
	char buf[32];

	ps->pos++; /* { */
	skip_ws(ps);
	if (peek(ps) == '}') {
		ps->pos++;
		t->frozen = true;
		return t;
	}
	for (;;) {
		int c;

		skip_ws(ps);
		if (at_newline(ps) || peek(ps) == '#') {
			fail_at(ps, ps->pos, "newlines are not allowed in inline tables");
			goto fail;
		}
		if (peek(ps) == '}') {
			fail_at(ps, ps->pos, "trailing comma in inline table");
			goto fail;
		}
		if (parse_keyval(ps, t) < 0)
			goto fail;
		skip_ws(ps);
		c = peek(ps);
		if (c == ',') {
			ps->pos++;
			continue;
		}
		if (c == '}') {
			ps->pos++;
			break;
		}
		if (at_newline(ps) || c == '#')
			fail_at(ps, ps->pos, "newlines are not allowed in inline tables");
		else
			fail_at(ps, ps->pos, "expected ',' or '}' in inline table, found %s",
				describe(ps, ps->pos, buf, sizeof(buf)));
		goto fail;
	}
	t->frozen = true;
	return t;
fail:
	value_free(t);
	return NULL;
}

static bool match_word(const struct parser *ps, const char *w)
{
	size_t n = strlen(w);

	return ps->len - ps->pos >= n && !memcmp(ps->p + ps->pos, w, n);
}

static struct toml_value *parse_value(struct parser *ps, int depth)
{
	struct strbuf sb = STRBUF_INIT;
	struct toml_value *v = NULL;
	int c = peek(ps);
	char buf[32];

	if (check_depth(ps, ps->pos, depth) < 0)
		return NULL;
	switch (c) {
	case '"':
	case '\'':
		if (peek_at(ps, 1) == c && peek_at(ps, 2) == c) {
			if (parse_string_multi(ps, &sb) < 0)
				goto out;
		} else if (parse_string_line(ps, &sb) < 0) {
			goto out;
		}
		v = value_new(TOML_STRING, depth);
		v->u.str.s = strbuf_detach(&sb, &v->u.str.len);
		goto out;
	case '[':
		v = parse_array(ps, depth);
		goto out;
	case '{':
		v = parse_inline_table(ps, depth);
		goto out;
	case 't':
	case 'f':
		if (match_word(ps, c == 't' ? "true" : "false")) {
			ps->pos += c == 't' ? 4 : 5;
			v = value_new(TOML_BOOL, depth);
			v->u.b = c == 't';
			goto out;
		}
		break;
	case 'i':
	case 'n':
		if (match_word(ps, c == 'i' ? "inf" : "nan")) {
			v = parse_number(ps, depth);
			goto out;
		}
		break;
	case '+':
	case '-':
		v = parse_number(ps, depth);
		goto out;
	default:
		if (!is_digit(c))
			break;
		if ((digits_at(ps, 0, 4) && peek_at(ps, 4) == '-') ||
		    (digits_at(ps, 0, 2) && peek_at(ps, 2) == ':'))
			v = parse_datetime(ps, depth);
		else
			v = parse_number(ps, depth);
		goto out;
	}
	if (c == '\n' || c == '\r' || c == '#' || c < 0)
		fail_at(ps, ps->pos, "expected a value, found %s",
			describe(ps, ps->pos, buf, sizeof(buf)));
	else
		fail_at(ps, ps->pos, "invalid value starting with %s",
			describe(ps, ps->pos, buf, sizeof(buf)));
out:
	strbuf_release(&sb);
	return v;
}

/* ----------------------------------------------------- tables and keys */

static struct toml_value *new_child_table(struct parser *ps, struct toml_value *parent,
					  const struct key_part *kp)
{
	struct toml_value *t;
	int line, col;

	if (check_depth(ps, kp->pos, parent->depth + 1) < 0)
		return NULL;
	t = value_new(TOML_TABLE, parent->depth + 1);
	offset_to_linecol(ps, kp->pos, &line, &col);
	table_add(parent, kp->s, kp->len, t, line, col);
	return t;
}

/* "key 'a.b' ..." error about the first n parts of kp. */
static int fail_key(struct parser *ps, const struct key_path *kp, size_t n,
		    const char *what)
{
	char *name = key_display(kp, n);

	fail_at(ps, kp->parts[n - 1].pos, what, name);
	free(name);
	return -1;
}

/* key = value into table (the current table or an inline table). */
static int parse_keyval(struct parser *ps, struct toml_value *table)
{
	struct key_path kp = { NULL, 0, 0 };
	struct toml_value *t = table, *v;
	const struct key_part *last;
	char buf[32];
	int line, col, ret = -1;
	size_t i;

	if (parse_key(ps, &kp) < 0)
		goto out;
	if (peek(ps) != '=') {
		fail_at(ps, ps->pos, "expected '=' after key, found %s",
			describe(ps, ps->pos, buf, sizeof(buf)));
		goto out;
	}
	ps->pos++;
	skip_ws(ps);
	for (i = 0; i + 1 < kp.n; i++) {
		struct toml_entry *e = table_find(t, kp.parts[i].s, kp.parts[i].len);
		struct toml_value *child;

		if (!e) {
			child = new_child_table(ps, t, &kp.parts[i]);
			if (!child)
				goto out;
			child->dotted = true;
			t = child;
			continue;
		}
		child = entry_value(e);
		if (child->type != TOML_TABLE) {
			fail_key(ps, &kp, i + 1, "key '%s' is already defined and is not a table");
			goto out;
		}
		if (child->frozen) {
			fail_key(ps, &kp, i + 1, "cannot add keys to inline table '%s'");
			goto out;
		}
		if (!child->dotted) {
			fail_key(ps, &kp, i + 1,
				 "cannot add keys to table '%s' with dotted keys "
				 "outside its [header]");
			goto out;
		}
		t = child;
	}
	last = &kp.parts[kp.n - 1];
	if (table_find(t, last->s, last->len)) {
		fail_key(ps, &kp, kp.n, "duplicate key '%s'");
		goto out;
	}
	/* the key's position first: the cache only moves forward cheaply */
	offset_to_linecol(ps, last->pos, &line, &col);
	v = parse_value(ps, t->depth + 1);
	if (!v)
		goto out;
	table_add(t, last->s, last->len, v, line, col);
	ret = 0;
out:
	key_path_release(&kp);
	return ret;
}

/* [table] or [[array of tables]]: makes ps->cur the table it names. */
static int parse_header(struct parser *ps)
{
	struct key_path kp = { NULL, 0, 0 };
	struct toml_value *t = ps->root, *v;
	struct toml_entry *e;
	const struct key_part *last;
	bool aot = peek_at(ps, 1) == '[';
	char buf[32];
	int line, col, ret = -1;
	size_t i;

	ps->pos += aot ? 2 : 1;
	skip_ws(ps);
	if (parse_key(ps, &kp) < 0)
		goto out;
	if (peek(ps) != ']' || (aot && peek_at(ps, 1) != ']')) {
		fail_at(ps, ps->pos, "expected '%s' after table name, found %s",
			aot ? "]]" : "]", describe(ps, ps->pos, buf, sizeof(buf)));
		goto out;
	}
	ps->pos += aot ? 2 : 1;
	for (i = 0; i + 1 < kp.n; i++) {
		struct toml_value *child;

		e = table_find(t, kp.parts[i].s, kp.parts[i].len);
		if (!e) {
			child = new_child_table(ps, t, &kp.parts[i]);
			if (!child)
				goto out;
			t = child;
			continue;
		}
		child = entry_value(e);
		if (child->type == TOML_ARRAY && child->aot) {
			t = child->u.arr.v[child->u.arr.n - 1];
			continue;
		}
		if (child->type == TOML_ARRAY) {
			fail_key(ps, &kp, i + 1, "cannot add tables to array '%s'");
			goto out;
		}
		if (child->type != TOML_TABLE) {
			fail_key(ps, &kp, i + 1, "key '%s' is already defined and is not a table");
			goto out;
		}
		if (child->frozen) {
			fail_key(ps, &kp, i + 1, "cannot add tables to inline table '%s'");
			goto out;
		}
		t = child;
	}
	last = &kp.parts[kp.n - 1];
	e = table_find(t, last->s, last->len);
	offset_to_linecol(ps, last->pos, &line, &col);
	if (aot) {
		struct toml_value *arr;

		if (!e) {
			if (check_depth(ps, last->pos, t->depth + 2) < 0)
				goto out;
			arr = value_new(TOML_ARRAY, t->depth + 1);
			arr->aot = true;
			table_add(t, last->s, last->len, arr, line, col);
		} else {
			arr = entry_value(e);
			if (arr->type != TOML_ARRAY || !arr->aot) {
				fail_key(ps, &kp, kp.n, arr->type == TOML_ARRAY
					 ? "cannot append tables to array '%s'"
					 : "key '%s' is already defined and is not an array of tables");
				goto out;
			}
		}
		v = value_new(TOML_TABLE, arr->depth + 1);
		v->defined = true;
		v->line = line;
		v->col = col;
		array_add(arr, v);
		ps->cur = v;
		ret = 0;
		goto out;
	}
	if (!e) {
		if (check_depth(ps, last->pos, t->depth + 1) < 0)
			goto out;
		v = value_new(TOML_TABLE, t->depth + 1);
		table_add(t, last->s, last->len, v, line, col);
	} else {
		v = entry_value(e);
		if (v->type != TOML_TABLE) {
			fail_key(ps, &kp, kp.n, "key '%s' is already defined and is not a table");
			goto out;
		}
		if (v->defined || v->dotted || v->frozen) {
			fail_key(ps, &kp, kp.n, "table '%s' is defined twice");
			goto out;
		}
		/* an implicitly created table is now defined here */
		e->line = v->line = line;
		e->col = v->col = col;
	}
	v->defined = true;
	ps->cur = v;
	ret = 0;
out:
	key_path_release(&kp);
	return ret;
}

struct toml_value *toml_parse(const char *text, size_t len, struct toml_error *err)
{
	struct toml_error dummy;
	struct parser ps;
	size_t bad;

	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	memset(&ps, 0, sizeof(ps));
	ps.p = text ? text : "";
	ps.len = text ? len : 0;
	ps.err = err;
	ps.lc_line = 1;

	bad = utf8_check((const unsigned char *)ps.p, ps.len);
	if (bad < ps.len) {
		fail_at(&ps, bad, "invalid UTF-8 (byte 0x%02x)", (unsigned char)ps.p[bad]);
		return NULL;
	}
	/* a byte order mark is tolerated at the very start */
	if (ps.len >= 3 && !memcmp(ps.p, "\xef\xbb\xbf", 3))
		ps.pos = 3;

	ps.root = value_new(TOML_TABLE, 0);
	ps.root->defined = true;
	ps.root->line = ps.root->col = 1;
	ps.cur = ps.root;
	while (ps.pos < ps.len) {
		size_t nl;
		int c;

		skip_ws(&ps);
		if (skip_comment(&ps) < 0)
			goto fail;
		nl = at_newline(&ps);
		if (nl) {
			ps.pos += nl;
			continue;
		}
		c = peek(&ps);
		if (c < 0)
			break;
		if (c == '[') {
			if (parse_header(&ps) < 0 || expect_eol(&ps, "table header") < 0)
				goto fail;
		} else {
			if (parse_keyval(&ps, ps.cur) < 0 || expect_eol(&ps, "value") < 0)
				goto fail;
		}
	}
	return ps.root;
fail:
	value_free(ps.root);
	return NULL;
}

/* ------------------------------------------------------------ accessors */

enum toml_type toml_value_type(const struct toml_value *v)
{
	return v ? v->type : TOML_TABLE;
}

const char *toml_type_name(enum toml_type type)
{
	switch (type) {
	case TOML_STRING: return "string";
	case TOML_INTEGER: return "integer";
	case TOML_FLOAT: return "float";
	case TOML_BOOL: return "boolean";
	case TOML_DATETIME: return "offset date-time";
	case TOML_DATETIME_LOCAL: return "local date-time";
	case TOML_DATE_LOCAL: return "local date";
	case TOML_TIME_LOCAL: return "local time";
	case TOML_ARRAY: return "array";
	case TOML_TABLE: return "table";
	}
	return "unknown";
}

int toml_value_line(const struct toml_value *v)
{
	return v ? v->line : 0;
}

int toml_value_col(const struct toml_value *v)
{
	return v ? v->col : 0;
}

const char *toml_string(const struct toml_value *v, size_t *len)
{
	if (!v || v->type != TOML_STRING) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = v->u.str.len;
	return v->u.str.s;
}

int64_t toml_int(const struct toml_value *v)
{
	return v && v->type == TOML_INTEGER ? v->u.i : 0;
}

double toml_float(const struct toml_value *v)
{
	return v && v->type == TOML_FLOAT ? v->u.f : 0.0;
}

bool toml_bool(const struct toml_value *v)
{
	return v && v->type == TOML_BOOL ? v->u.b : false;
}

const struct toml_datetime *toml_datetime(const struct toml_value *v)
{
	if (!v)
		return NULL;
	switch (v->type) {
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL:
		return &v->u.dt;
	default:
		return NULL;
	}
}

size_t toml_array_count(const struct toml_value *v)
{
	return v && v->type == TOML_ARRAY ? v->u.arr.n : 0;
}

const struct toml_value *toml_array_at(const struct toml_value *v, size_t i)
{
	return i < toml_array_count(v) ? v->u.arr.v[i] : NULL;
}

size_t toml_table_count(const struct toml_value *v)
{
	return v && v->type == TOML_TABLE ? v->u.tab.n : 0;
}

const struct toml_entry *toml_table_entry(const struct toml_value *v, size_t i)
{
	return i < toml_table_count(v) ? &v->u.tab.e[i] : NULL;
}

const struct toml_value *toml_table_getn(const struct toml_value *t,
					 const char *key, size_t key_len)
{
	const struct toml_entry *e = key ? table_find(t, key, key_len) : NULL;

	return e ? e->value : NULL;
}

const struct toml_value *toml_table_get(const struct toml_value *t, const char *key)
{
	return key ? toml_table_getn(t, key, strlen(key)) : NULL;
}

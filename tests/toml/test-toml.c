/*
 * test-toml.c - the TOML parser API as the config module uses it: values,
 * lookup, insertion order, key positions, error positions and messages,
 * and cleanup of partial results (run under ASan for leaks).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/strbuf.h"
#include "burst/toml.h"
#include "../tap.h"

static struct toml_value *parse(const char *text, struct toml_error *err)
{
	return toml_parse(text, strlen(text), err);
}

/* Walk a dotted path of bare keys: get(root, "a.b.c"). */
static const struct toml_value *get(const struct toml_value *t, const char *path)
{
	char *copy = xstrdup(path), *s = copy, *dot;
	const struct toml_value *v = t;

	for (;;) {
		dot = strchr(s, '.');
		if (dot)
			*dot = '\0';
		v = toml_table_get(v, s);
		if (!dot || !v)
			break;
		s = dot + 1;
	}
	free(copy);
	return v;
}

static void is_pos(const struct toml_value *v, int line, int col, const char *what)
{
	if (!ok(v && toml_value_line(v) == line && toml_value_col(v) == col,
		"%s defined at %d:%d", what, line, col))
		diag("  got %d:%d", toml_value_line(v), toml_value_col(v));
}

/* Parse must fail at line:col with a message containing msg. */
static void is_error(const char *text, int line, int col, const char *msg)
{
	struct toml_error err;
	struct toml_value *root = parse(text, &err);

	if (!ok(!root && err.line == line && err.col == col && strstr(err.msg, msg),
		"error %d:%d '%s'", line, col, msg))
		diag("  got %s %d:%d '%s'", root ? "success" : "error", err.line,
		     err.col, err.msg);
	toml_free(root);
}

static void test_config_shape(void)
{
	static const char doc[] =
		"# cargo-burst config\n"
		"keep_alive_secs = 300\n"
		"forward_env = [\"RUST_LOG\", 'CC']\n"
		"\n"
		"[hetzner]\n"
		"token = \"abc\"   # secret\n"
		"  regions = [\n"
		"    \"hel1\",\n"
		"    \"fsn1\",  # trailing comma\n"
		"  ]\n"
		"server_type = 'ccx63'\n";
	struct toml_error err;
	struct toml_value *root = parse(doc, &err);
	const struct toml_value *h, *regions, *v;
	const struct toml_entry *e;

	if (!ok(root != NULL, "config-like document parses"))
		diag("  %d:%d: %s", err.line, err.col, err.msg);
	if (!root)
		return;
	is_int(toml_value_type(root), TOML_TABLE, "root is a table");
	is_int(toml_table_count(root), 3, "root has three entries");
	e = toml_table_entry(root, 0);
	is_str(e ? e->key : NULL, "keep_alive_secs", "first key in order");
	e = toml_table_entry(root, 1);
	is_str(e ? e->key : NULL, "forward_env", "second key in order");
	e = toml_table_entry(root, 2);
	is_str(e ? e->key : NULL, "hetzner", "third key in order");
	ok(e && e->line == 5 && e->col == 2, "entry position of [hetzner]");
	ok(toml_table_entry(root, 3) == NULL, "entry out of range is NULL");

	is_int(toml_int(toml_table_get(root, "keep_alive_secs")), 300, "integer value");
	is_pos(toml_table_get(root, "keep_alive_secs"), 2, 1, "keep_alive_secs");
	v = toml_table_get(root, "forward_env");
	is_int(toml_array_count(v), 2, "array count");
	is_str(toml_string(toml_array_at(v, 1), NULL), "CC", "literal string element");
	is_pos(toml_array_at(v, 1), 3, 28, "array element");
	ok(toml_array_at(v, 2) == NULL, "array index out of range is NULL");

	h = toml_table_get(root, "hetzner");
	is_int(toml_value_type(h), TOML_TABLE, "[hetzner] is a table");
	is_pos(h, 5, 2, "[hetzner]");
	is_str(toml_string(toml_table_get(h, "token"), NULL), "abc", "token");
	is_pos(toml_table_get(h, "token"), 6, 1, "hetzner.token");
	regions = toml_table_get(h, "regions");
	is_pos(regions, 7, 3, "indented key hetzner.regions");
	is_int(toml_array_count(regions), 2, "multi-line array with trailing comma");
	is_pos(toml_array_at(regions, 1), 9, 5, "element on its own line");
	is_str(toml_string(get(root, "hetzner.server_type"), NULL), "ccx63",
	       "server_type");
	e = toml_table_entry(h, 2);
	is_str(e ? e->key : NULL, "server_type", "entries of [hetzner] in order");

	ok(toml_table_get(root, "missing") == NULL, "absent key is NULL");
	ok(toml_table_get(v, "x") == NULL, "lookup in an array is NULL");
	ok(toml_table_get(NULL, "x") == NULL, "lookup in NULL is NULL");
	toml_free(root);
}

static void test_positions(void)
{
	static const char doc[] =
		"a.b.c = 1\n"           /* 1 */
		"x . \"y z\" . w = 2\n" /* 2 */
		"[t.u]\n"               /* 3 */
		"  k = { p.q = 3, r = 4 }\n" /* 4 */
		"[t]\n"                 /* 5 */
		"[[arr]]\n"             /* 6 */
		"n = 1\n"               /* 7 */
		"[[arr]]\n"             /* 8 */
		"\tn = 2\r\n"           /* 9: CRLF */
		"[arr.sub]\n"           /* 10 */
		"m = 5\n"               /* 11 */
		"nest = [ \n"           /* 12 */
		"  [\n"                 /* 13 */
		"    1,\n"              /* 14 */
		"    \"\"\"x\n\n\"\"\"\n" /* 15-17 */
		"  ], 3 ]\n";           /* 18 */
	struct toml_error err;
	struct toml_value *root = parse(doc, &err);
	const struct toml_value *arr;

	if (!ok(root != NULL, "positions document parses"))
		diag("  %d:%d: %s", err.line, err.col, err.msg);
	if (!root)
		return;
	is_pos(get(root, "a"), 1, 1, "dotted key part a");
	is_pos(get(root, "a.b"), 1, 3, "dotted key part b");
	is_pos(get(root, "a.b.c"), 1, 5, "dotted key leaf c");
	is_pos(get(root, "x"), 2, 1, "spaced dotted key x");
	is_pos(toml_table_get(get(root, "x"), "y z"), 2, 5, "quoted key part");
	is_pos(toml_table_get(toml_table_get(get(root, "x"), "y z"), "w"), 2, 13,
	       "leaf after quoted key part");
	is_pos(get(root, "t.u"), 3, 4, "header table t.u");
	is_pos(get(root, "t.u.k"), 4, 3, "key under [t.u]");
	is_pos(get(root, "t.u.k.p.q"), 4, 11, "dotted key in inline table");
	is_pos(get(root, "t.u.k.r"), 4, 18, "key in inline table");
	is_pos(get(root, "t"), 5, 2, "implicit table moves to its own [t]");
	arr = get(root, "arr");
	is_int(toml_value_type(arr), TOML_ARRAY, "[[arr]] is an array");
	is_int(toml_array_count(arr), 2, "two [[arr]] elements");
	is_pos(arr, 6, 3, "array of tables at first header");
	is_pos(toml_array_at(arr, 0), 6, 3, "first [[arr]] element");
	is_pos(toml_array_at(arr, 1), 8, 3, "second [[arr]] element");
	is_int(toml_int(toml_table_get(toml_array_at(arr, 1), "n")), 2,
	       "value in second element");
	is_pos(toml_table_get(toml_array_at(arr, 1), "n"), 9, 2, "key after tab");
	is_pos(toml_table_get(toml_array_at(arr, 1), "sub"), 10, 6,
	       "[arr.sub] goes to the last element");
	is_pos(get(toml_array_at(arr, 1), "sub.m"), 11, 1, "line count after CRLF");
	ok(toml_table_get(toml_array_at(arr, 0), "sub") == NULL,
	   "first element has no sub");
	arr = get(toml_array_at(get(root, "arr"), 1), "sub.nest");
	is_pos(arr, 12, 1, "nested array key");
	is_pos(toml_array_at(arr, 0), 13, 3, "inner array start");
	is_pos(toml_array_at(toml_array_at(arr, 0), 1), 15, 5, "multi-line string element");
	is_pos(toml_array_at(arr, 1), 18, 6, "element after a nested multi-line array");
	is_pos(root, 1, 1, "root");
	toml_free(root);
}

static void test_values(void)
{
	static const char doc[] =
		"s = \"tab\\there \\u00e9 \\U0001F600 nul\\u0000end\"\n"
		"ml = \"\"\"\n  one \\\n    two\r\n\"\"\"\n"
		"lit = '''C:\\path\\'''\n"
		"min = -9_223_372_036_854_775_808\n"
		"max = 0x7fffffffffffffff\n"
		"oct = 0o755\n"
		"bin = 0b1010\n"
		"f = -1.5e-3\n"
		"pinf = +inf\n"
		"nnan = -nan\n"
		"yes = true\n"
		"odt = 1979-05-27T07:32:00.999999999-07:30\n"
		"ldt = 1979-05-27 07:32:00\n"
		"ld = 2000-02-29\n"
		"lt = 23:59:60.5\n"
		"\"\\u0000k\" = 1\n";
	struct toml_error err;
	struct toml_value *root = parse(doc, &err);
	const struct toml_datetime *dt;
	const char *s;
	size_t len;

	if (!ok(root != NULL, "values document parses"))
		diag("  %d:%d: %s", err.line, err.col, err.msg);
	if (!root)
		return;
	s = toml_string(toml_table_get(root, "s"), &len);
	ok(s && len == 24 && !memcmp(s, "tab\there \xc3\xa9 \xf0\x9f\x98\x80 nul\0end", 24),
	   "escapes decoded, NUL kept with length");
	is_str(toml_string(toml_table_get(root, "ml"), NULL), "  one two\n",
	       "multi-line: first newline trimmed, line-ending backslash, CRLF -> LF");
	is_str(toml_string(toml_table_get(root, "lit"), NULL), "C:\\path\\",
	       "multi-line literal keeps backslashes");
	ok(toml_int(toml_table_get(root, "min")) == INT64_MIN, "INT64_MIN");
	ok(toml_int(toml_table_get(root, "max")) == INT64_MAX, "hex INT64_MAX");
	is_int(toml_int(toml_table_get(root, "oct")), 0755, "octal");
	is_int(toml_int(toml_table_get(root, "bin")), 10, "binary");
	ok(toml_float(toml_table_get(root, "f")) == -1.5e-3, "float with exponent");
	ok(isinf(toml_float(toml_table_get(root, "pinf"))), "+inf");
	ok(isnan(toml_float(toml_table_get(root, "nnan"))), "-nan");
	ok(toml_bool(toml_table_get(root, "yes")), "true");
	is_int(toml_value_type(toml_table_get(root, "odt")), TOML_DATETIME, "offset date-time");
	dt = toml_datetime(toml_table_get(root, "odt"));
	ok(dt && dt->year == 1979 && dt->month == 5 && dt->day == 27 && dt->hour == 7 &&
	   dt->minute == 32 && dt->second == 0 && dt->nanosecond == 999999999 &&
	   dt->has_offset && dt->offset_minutes == -450 && dt->has_date && dt->has_time,
	   "offset date-time fields");
	is_str(dt ? dt->text : NULL, "1979-05-27T07:32:00.999999999-07:30", "original text");
	is_int(toml_value_type(toml_table_get(root, "ldt")), TOML_DATETIME_LOCAL,
	       "local date-time with space");
	dt = toml_datetime(toml_table_get(root, "ld"));
	ok(toml_value_type(toml_table_get(root, "ld")) == TOML_DATE_LOCAL && dt &&
	   dt->has_date && !dt->has_time && dt->day == 29, "local date on a leap day");
	dt = toml_datetime(toml_table_get(root, "lt"));
	ok(toml_value_type(toml_table_get(root, "lt")) == TOML_TIME_LOCAL && dt &&
	   !dt->has_date && dt->second == 60 && dt->nanosecond == 500000000,
	   "local time with leap second and fraction");
	ok(toml_table_getn(root, "\0k", 2) != NULL, "key with a NUL byte via getn");
	ok(toml_table_get(root, "") == NULL, "empty key absent");

	/* accessors on the wrong type return zero values */
	ok(toml_string(toml_table_get(root, "min"), &len) == NULL && len == 0,
	   "toml_string on an integer");
	ok(toml_int(toml_table_get(root, "s")) == 0, "toml_int on a string");
	ok(toml_datetime(toml_table_get(root, "s")) == NULL, "toml_datetime on a string");
	ok(toml_array_count(root) == 0, "array count of a table");
	ok(toml_table_count(NULL) == 0 && toml_value_line(NULL) == 0,
	   "NULL-safe accessors");
	is_str(toml_type_name(TOML_INTEGER), "integer", "type name integer");
	is_str(toml_type_name(TOML_TABLE), "table", "type name table");
	is_str(toml_type_name(TOML_DATE_LOCAL), "local date", "type name local date");
	toml_free(root);
}

static void test_errors(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct toml_value *root;
	int i;

	is_error("a = 1\nb 2\n", 2, 3, "expected '=' after key");
	is_error("a = 1\na = 2\n", 2, 1, "duplicate key 'a'");
	is_error("[x]\nk.l = 1\n[x.k]\n", 3, 4, "table 'x.k' is defined twice");
	is_error("[a]\n[b]\n[a]\n", 3, 2, "table 'a' is defined twice");
	is_error("s = \"ok\"\nt = \"bad \\q\"\n", 2, 10, "invalid escape '\\q'");
	is_error("s = \"\\uD800\"", 1, 6, "not a unicode scalar value");
	is_error("s = \"open\nx = 1\n", 1, 5, "unterminated string");
	is_error("n = 0123\n", 1, 5, "leading zeros");
	is_error("n = 9223372036854775808\n", 1, 5, "integer out of range");
	is_error("n = 1__0\n", 1, 5, "invalid number");
	is_error("d = 2023-02-29\n", 1, 5, "day 29 out of range");
	is_error("t = {a = 1}\nt.b = 2\n", 2, 1, "cannot add keys to inline table 't'");
	is_error("t = {a = 1,}\n", 1, 12, "trailing comma");
	is_error("t = {a = 1,\n b = 2}\n", 1, 12, "newlines are not allowed");
	is_error("a = [1 2]\n", 1, 8, "expected ',' or ']'");
	is_error("a = 1 b = 2\n", 1, 7, "expected end of line after value");
	is_error("a = \n", 1, 5, "expected a value");
	is_error("[[a]]\n[a]\n", 2, 2, "not a table");
	is_error("a = []\n[[a]]\n", 2, 3, "cannot append tables to array 'a'");
	is_error("# bad \x01 comment\n", 1, 7, "control character U+0001 in comment");
	is_error("ok = 1\r\nbad = \"\xc3\x28\"\r\n", 2, 8, "invalid UTF-8");
	is_error("x = 1\r\n\"a\tb\" = 2\r\n\"a\\tb\" = 3\r\n", 3, 1,
		 "duplicate key '\"a\\u0009b\"'");
	is_error("a = true\na.b = 1\n", 2, 1, "key 'a' is already defined and is not a table");

	/* nesting: 256 levels are fine, 257 are refused */
	strbuf_addstr(&sb, "a = ");
	for (i = 0; i < TOML_MAX_DEPTH; i++)
		strbuf_addch(&sb, '[');
	for (i = 0; i < TOML_MAX_DEPTH; i++)
		strbuf_addch(&sb, ']');
	root = toml_parse(sb.buf, sb.len, NULL);
	ok(root != NULL, "%d nested arrays parse", TOML_MAX_DEPTH);
	toml_free(root);
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "a = ");
	for (i = 0; i < TOML_MAX_DEPTH + 1; i++)
		strbuf_addstr(&sb, "{b=");
	strbuf_addch(&sb, '1');
	for (i = 0; i < TOML_MAX_DEPTH + 1; i++)
		strbuf_addch(&sb, '}');
	is_error(sb.buf, 1, 5 + 3 * TOML_MAX_DEPTH, "nesting deeper than");
	strbuf_reset(&sb);
	for (i = 0; i < 100000; i++)
		strbuf_addstr(&sb, "[");
	root = toml_parse(sb.buf, sb.len, NULL);
	ok(root == NULL, "100000 '[' fail without crashing");
	toml_free(root);
	strbuf_reset(&sb);
	for (i = 0; i < 300; i++)
		strbuf_addstr(&sb, i ? ".k" : "[k");
	strbuf_addstr(&sb, "]\n");
	root = toml_parse(sb.buf, sb.len, NULL);
	ok(root == NULL, "a 300-part table name is refused");
	toml_free(root);
	strbuf_release(&sb);

	/* a late error frees everything built so far (ASan checks leaks) */
	is_error("[a.b.c]\nx = [1, 2, {y = \"s\"}]\n[[d]]\n[[d]]\ne.f = 'g'\n"
		 "t = 1979-05-27\n[a.b.c]\n", 7, 6, "defined twice");
	is_error("a = [[1, 2], [\"x\", {b = [3, \"\\x\"]}]]\n", 1, 30, "invalid escape '\\x'");
	ok(toml_parse("x =", 3, NULL) == NULL, "a NULL error pointer is allowed");
	root = toml_parse(NULL, 0, NULL);
	ok(root && toml_table_count(root) == 0, "NULL text parses as empty");
	toml_free(root);
	root = toml_parse("\xef\xbb\xbfk = 1", 8, NULL);
	ok(root && toml_int(toml_table_get(root, "k")) == 1, "byte order mark skipped");
	toml_free(root);
	root = toml_parse("k = 1\nj = 2", 5, NULL);
	ok(root && toml_table_count(root) == 1, "parse stops at len");
	toml_free(root);
	{
		/* in a child, so that a crash is a failed row, not a lost test */
		pid_t pid = fork();
		int status = -1;

		if (pid == 0) {
			toml_free(NULL);
			_exit(0);
		}
		ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 0, "toml_free(NULL) is a no-op");
	}
}

static void test_many_keys(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct toml_value *root;
	const struct toml_entry *e;
	int i, in_order = 1, found = 1;
	char key[32];

	for (i = 0; i < 5000; i++)
		strbuf_addf(&sb, "k%d = %d\n", (i * 7919) % 5000, i);
	root = toml_parse(sb.buf, sb.len, NULL);
	ok(root && toml_table_count(root) == 5000, "5000 keys");
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", (i * 7919) % 5000);
		e = toml_table_entry(root, (size_t)i);
		if (!e || strcmp(e->key, key) || toml_int(e->value) != i)
			in_order = 0;
		if (toml_int(toml_table_get(root, key)) != i)
			found = 0;
	}
	ok(in_order, "iteration keeps insertion order");
	ok(found, "lookup finds every key");
	toml_free(root);
	strbuf_addstr(&sb, "k4999 = 1\n");
	is_error(sb.buf, 5001, 1, "duplicate key 'k4999'");
	strbuf_release(&sb);
}

int main(void)
{
	plan_lazy();
	test_config_shape();
	test_positions();
	test_values();
	test_errors();
	test_many_keys();
	return done_testing();
}

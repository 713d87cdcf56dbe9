/* test-strbuf.c - strbuf, strvec, parse_int64 and redaction. */
#include <errno.h>
#include <stdlib.h>

#include "../tap.h"
#include "burst/log.h"
#include "burst/strbuf.h"
#include "burst/strvec.h"

static void test_strbuf(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *s;
	size_t len;

	is_str(sb.buf, "", "fresh strbuf is an empty string");
	strbuf_addstr(&sb, "hello");
	strbuf_addch(&sb, ' ');
	strbuf_addf(&sb, "%s %d", "world", 42);
	is_str(sb.buf, "hello world 42", "appends compose");
	is_int(sb.len, 14, "length tracks appends");
	strbuf_add(&sb, "\0x", 2);
	is_int(sb.len, 16, "binary data with NUL is kept");
	strbuf_setlen(&sb, 5);
	is_str(sb.buf, "hello", "setlen truncates");
	s = strbuf_detach(&sb, &len);
	is_str(s, "hello", "detach hands over the string");
	is_int(len, 5, "detach reports the length");
	is_str(sb.buf, "", "detached strbuf is empty again");
	free(s);

	strbuf_set_max(&sb, 8);
	ok(strbuf_addstr(&sb, "12345678") == 0, "append up to max succeeds");
	ok(strbuf_addch(&sb, '9') == -1, "append beyond max is refused");
	ok(sb.overflow, "overflow is flagged");
	is_str(sb.buf, "12345678", "refused append leaves the contents alone");
	strbuf_release(&sb);
	is_int(sb.max, 8, "release keeps max");

	strbuf_set_max(&sb, 0);
	strbuf_addstr(&sb, "  \t trim me \n");
	strbuf_trim(&sb);
	is_str(sb.buf, "trim me", "trim strips both ends");
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "a-token-b-token");
	strbuf_replace_all(&sb, "token", "***");
	is_str(sb.buf, "a-***-b-***", "replace_all replaces every match");
	strbuf_release(&sb);
	strbuf_release(&sb);
	ok(sb.len == 0 && sb.alloc == 0 && sb.buf && !*sb.buf,
	   "double release is safe and leaves an empty strbuf");
}

static void test_strvec(void)
{
	struct strvec sv = STRVEC_INIT;

	ok(sv.v[0] == NULL, "empty strvec is NULL-terminated");
	strvec_push(&sv, "ssh");
	strvec_pushf(&sv, "-p%d", 22);
	is_int(sv.nr, 2, "two elements");
	is_str(sv.v[1], "-p22", "pushf formats");
	ok(sv.v[2] == NULL, "still NULL-terminated");
	is_int(strvec_find(&sv, "ssh"), 0, "find");
	strvec_clear(&sv);

	strvec_setenv(&sv, "A", "1");
	strvec_setenv(&sv, "B", "2");
	strvec_setenv(&sv, "A", "3");
	is_int(sv.nr, 2, "setenv replaces existing names");
	is_str(sv.v[0], "A=3", "replaced value");
	strvec_setenv(&sv, "A", NULL);
	is_int(sv.nr, 1, "setenv NULL removes");
	is_str(sv.v[0], "B=2", "remaining entry");
	ok(sv.v[1] == NULL, "NULL-terminated after removal");
	strvec_clear(&sv);
}

static void test_parse_int(void)
{
	int64_t v = 0;

	ok(parse_int64("300", 0, 1000, &v) == 0 && v == 300, "parses a number");
	ok(parse_int64("-5", -10, 10, &v) == 0 && v == -5, "parses negatives");
	ok(parse_int64("", 0, 10, &v) == -1, "rejects empty");
	ok(parse_int64("12x", 0, 100, &v) == -1, "rejects trailing junk");
	ok(parse_int64(" 1", 0, 100, &v) == -1, "rejects leading space");
	ok(parse_int64("+1", 0, 100, &v) == -1, "rejects plus sign");
	ok(parse_int64("101", 0, 100, &v) == -1, "rejects out of range");
	ok(parse_int64("99999999999999999999", 0, INT64_MAX, &v) == -1,
	   "rejects overflow");
}

static void test_redact(void)
{
	char *s;

	burst_redact_register("s3cr3t-token");
	s = burst_redact("Authorization: Bearer s3cr3t-token and s3cr3t-token");
	is_str(s, "Authorization: Bearer *** and ***", "token is redacted");
	free(s);
	burst_redact_clear();
}

int main(void)
{
	test_strbuf();
	test_strvec();
	test_parse_int();
	test_redact();
	return done_testing();
}

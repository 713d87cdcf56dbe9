/*
 * test-text.c - the IP address validator, the control-character stripper
 * and the redaction of private keys.
 */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "burst/log.h"
#include "burst/text.h"

static void test_ip(void)
{
	static const char *good4[] = { "127.0.0.9", "10.1.2.3", "255.255.255.255", "0.0.0.0" };
	static const char *good6[] = { "::1", "2a01:4f8:c17:1234::1", "fe80::1:2:3:4",
				       "::ffff:127.0.0.1" };
	static const char *bad[] = {
		"", " 127.0.0.9", "127.0.0.9 ", "127.0.0.9\n* ssh-ed25519 AAAA",
		"127.0.0.9\n", "127.0.0.9,*", "*", "127.0.0.*", "[::1]", "[::1]:22",
		"127.0.0.9:22", "fe80::1%eth0", "localhost", "example.com", "1.2.3",
		"256.1.1.1", "1.2.3.4.5", "::1 ", "01.2.3.4x", "|1|abc=|def=",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb",
	};
	char longv6[80];

	for (size_t i = 0; i < ARRAY_SIZE(good4); i++) {
		ok(burst_ip_valid(good4[i], BURST_IP_ANY), "'%s' is an address", good4[i]);
		ok(burst_ip_valid(good4[i], BURST_IP_V4), "'%s' is an IPv4 address", good4[i]);
		ok(!burst_ip_valid(good4[i], BURST_IP_V6), "'%s' is not IPv6", good4[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(good6); i++) {
		ok(burst_ip_valid(good6[i], BURST_IP_ANY), "'%s' is an address", good6[i]);
		ok(burst_ip_valid(good6[i], BURST_IP_V6), "'%s' is an IPv6 address", good6[i]);
		ok(!burst_ip_valid(good6[i], BURST_IP_V4), "'%s' is not IPv4", good6[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *shown = burst_text_sanitize(bad[i], 0);

		ok(!burst_ip_valid(bad[i], BURST_IP_ANY), "'%s' is refused", shown);
		free(shown);
	}
	ok(!burst_ip_valid(NULL, BURST_IP_ANY), "NULL is refused");
	/* a valid address padded past the bound: refused without reading it all */
	memset(longv6, '0', sizeof(longv6));
	memcpy(longv6 + sizeof(longv6) - 4, "::1", 4);
	ok(!burst_ip_valid(longv6, BURST_IP_ANY), "an over-long address is refused");
}

static void check(const char *in, const char *want, const char *what)
{
	char *got = burst_text_sanitize(in, 0);

	is_str(got, want, "%s", what);
	free(got);
}

static void test_sanitize(void)
{
	char *s;

	ok(burst_text_sanitize(NULL, 0) == NULL, "NULL stays NULL");
	check("server 'x' is gone", "server 'x' is gone", "plain text is kept");
	check("gr\xc3\xbc\xc3\x9f \xe2\x9c\x93 \xf0\x9f\x98\x80", "gr\xc3\xbc\xc3\x9f \xe2\x9c\x93 \xf0\x9f\x98\x80",
	      "printable UTF-8 is kept");
	check("a\x1b[31mred\x1b[0m b", "ared b", "CSI colour sequences are removed");
	check("x\x1b[2J\x1b[1;1Hy", "xy", "CSI clear screen / cursor moves are removed");
	check("t\x1b]0;owned\x07z", "tz", "OSC title (BEL) is removed");
	check("t\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\z", "tlinkz",
	      "OSC 8 hyperlinks (ST) are removed");
	check("a\x1bPq#0;2;0;0;0\x1b\\b", "ab", "DCS strings are removed");
	check("a\x1b" "cb", "ab", "two-byte ESC sequences are removed");
	check("a\x1b(Bb", "ab", "charset designation is removed");
	check("a\x1b", "a", "a trailing ESC is removed");
	check("a\x1b[", "a", "a cut CSI is removed");
	check("a\x1b]0;never ends", "a", "an unterminated OSC eats the rest");
	check("a\x01\x02\x07\x08\x7f" "b", "ab", "C0 controls and DEL are removed");
	check("one\ntwo\tthree\rfour", "one two three four", "line breaks and tabs become spaces");
	check("a\xc2\x9b" "31mb\xc2\x85" "c", "a31mbc", "UTF-8 C1 controls (CSI, NEL) are removed");
	check("a\x9b" "31mb", "a31mb", "raw C1 bytes are removed");
	check("a\xff\xfe" "b", "a??b", "invalid UTF-8 becomes '?'");
	check("a\xc0\xaf" "b", "a??b", "overlong UTF-8 becomes '?'");
	check("a\xed\xa0\x80" "b", "a??b", "UTF-16 surrogates become '?' (the 0x80 byte is a raw C1)");
	check("a\xe2\xa9", "a??", "a cut UTF-8 sequence becomes '?'");
	s = burst_text_sanitize("0123456789abcdef", 10);
	is_str(s, "0123456789...", "the length is bounded and the cut marked");
	free(s);
	s = burst_text_sanitize("012345678\xc3\xbc", 10);
	is_str(s, "012345678...", "a cut never splits a UTF-8 sequence");
	free(s);
}

static void redacts(const char *in, const char *want, const char *what)
{
	char *got = burst_redact(in);

	is_str(got, want, "%s", what);
	free(got);
}

static void test_redact_keys(void)
{
	redacts("a -----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\nc2g=\n-----END OPENSSH PRIVATE KEY-----\n z",
		"a ***\n z", "an OpenSSH private key block is redacted");
	redacts("{\"user_data\":\"    -----BEGIN OPENSSH PRIVATE KEY-----\\n    b3Bl\\n"
		"    -----END OPENSSH PRIVATE KEY-----\\n\"}",
		"{\"user_data\":\"    ***\\n\"}", "so is one inside JSON (escaped line breaks)");
	redacts("x -----BEGIN RSA PRIVATE KEY-----\\nMIIE (cut", "x ***",
		"a block cut by a truncated trace is redacted to the end");
	redacts("-----BEGIN PRIVATE KEY-----a-----END PRIVATE KEY----- and "
		"-----BEGIN EC PRIVATE KEY-----b-----END EC PRIVATE KEY-----", "*** and ***",
		"every block is redacted");
	redacts("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
		"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
		"a certificate is no secret and stays");
	redacts("-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY----- PRIVATE KEY-----",
		"-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY----- PRIVATE KEY-----",
		"a public key stays (the marker must be on its BEGIN line)");
}

int main(void)
{
	test_ip();
	test_sanitize();
	test_redact_keys();
	return done_testing();
}

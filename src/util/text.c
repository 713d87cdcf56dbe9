/* text.c - untrusted text and addresses; see include/burst/text.h. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "burst/strbuf.h"
#include "burst/text.h"

bool burst_ip_valid(const char *s, enum burst_ip_family family)
{
	unsigned char buf[16];
	size_t len;

	if (!s)
		return false;
	len = strnlen(s, BURST_IP_MAX + 1);
	if (!len || len > BURST_IP_MAX)
		return false;
	/* inet_pton never accepts whitespace, brackets, ports or zone ids */
	if (family != BURST_IP_V6 && inet_pton(AF_INET, s, buf) == 1)
		return true;
	if (family != BURST_IP_V4 && strchr(s, ':') && inet_pton(AF_INET6, s, buf) == 1)
		return true;
	return false;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates and code points past U+10FFFF */
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/* Skip the escape sequence that starts at p (p[0] == ESC); returns its end. */
static const unsigned char *skip_escape(const unsigned char *p)
{
	const unsigned char *q = p + 1;

	switch (*q) {
	case '\0':
		return q;
	case '[': /* CSI: parameter and intermediate bytes, one final byte */
		for (q++; *q >= 0x20 && *q <= 0x3f; q++)
			;
		for (; *q >= 0x20 && *q <= 0x2f; q++)
			;
		return *q >= 0x40 && *q <= 0x7e ? q + 1 : q;
	case ']': case 'P': case '_': case '^': case 'X':
		/* OSC, DCS, APC, PM, SOS: a string up to BEL or ESC \ */
		for (q++; *q; q++) {
			if (*q == 0x07)
				return q + 1;
			if (*q == 0x1b && q[1] == '\\')
				return q + 2;
		}
		return q;
	default: /* a two-byte sequence, with its intermediate bytes */
		for (; *q >= 0x20 && *q <= 0x2f; q++)
			;
		return *q >= 0x30 && *q <= 0x7e ? q + 1 : q;
	}
}

char *burst_text_sanitize(const char *s, size_t max)
{
	struct strbuf sb = STRBUF_INIT;
	const unsigned char *p = (const unsigned char *)s;

	if (!s)
		return NULL;
	while (*p) {
		size_t n;

		if (max && sb.len >= max) {
			strbuf_addstr(&sb, "...");
			break;
		}
		if (*p == 0x1b) {
			p = skip_escape(p);
			continue;
		}
		if (*p == '\t' || *p == '\n' || *p == '\r') {
			strbuf_addch(&sb, ' ');
			p++;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			p++;
			continue;
		}
		n = utf8_len(p);
		if (!n) {
			/* a raw C1 byte is a control on some terminals: drop it */
			if (*p > 0x9f)
				strbuf_addch(&sb, '?');
			p++;
			continue;
		}
		if (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f) { /* U+0080-U+009F */
			p += 2;
			continue;
		}
		if (max && sb.len + n > max) {
			strbuf_addstr(&sb, "...");
			break;
		}
		strbuf_add(&sb, (const char *)p, n);
		p += n;
	}
	return strbuf_detach(&sb, NULL);
}

/*
 * text.h - text and addresses from outside the process (the cloud API, a
 * remote machine): made safe for a terminal or a log, or validated before
 * they are used as a host.
 */
#ifndef BURST_TEXT_H
#define BURST_TEXT_H

#include "burst/util.h"

/* Longest textual IPv6 address (INET6_ADDRSTRLEN - 1). */
#define BURST_IP_MAX 45

/* Which address families burst_ip_valid() accepts. */
enum burst_ip_family {
	BURST_IP_ANY = 0, /* IPv4 or IPv6 */
	BURST_IP_V4,
	BURST_IP_V6,
};

/*
 * Is s exactly one numeric IP address of the family (inet_pton): no
 * whitespace, no port, no brackets, no zone id, at most BURST_IP_MAX bytes?
 * NULL is not valid.
 */
bool burst_ip_valid(const char *s, enum burst_ip_family family);

/*
 * A terminal-safe copy of untrusted text, at most max bytes of it (0 = no
 * limit; a cut is marked "..."): escape sequences (ESC [ ... final, ESC ]
 * ... BEL or ST, other ESC x), C0 controls, DEL and C1 controls (raw bytes
 * 0x80-0x9f and their UTF-8 forms U+0080-U+009F) are removed; tab, CR and
 * LF become a space; bytes that are not valid UTF-8 become '?'.  Valid
 * printable UTF-8 is kept as it is.  NULL gives NULL.
 */
char *burst_text_sanitize(const char *s, size_t max);

#endif

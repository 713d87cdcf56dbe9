/*
 * strbuf.h - the one growable string of the code base (after git's strbuf).
 *
 * Invariants:
 *  - buf is never NULL and always NUL-terminated, so it can be passed to any
 *    C string function; buf[len] == '\0'.
 *  - len < alloc whenever alloc != 0; with alloc == 0, buf points to a shared
 *    empty string that must not be written.
 *  - The buffer may hold NUL bytes before len (binary data).
 *  - max, when non-zero, is the largest len the buffer may reach.  Set it on
 *    every buffer that collects data from the network or a child process.  An
 *    append that would exceed it appends nothing, sets `overflow` and returns
 *    -1; everything else returns 0.
 *
 * Lifetime: STRBUF_INIT or strbuf_init(), then strbuf_release() (safe to call
 * twice; leaves an empty, reusable buffer).
 */
#ifndef BURST_STRBUF_H
#define BURST_STRBUF_H

#include "burst/util.h"

extern char strbuf_empty_[];

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t max;    /* 0 = unbounded */
	bool overflow; /* an append was refused because of max */
};

#define STRBUF_INIT { strbuf_empty_, 0, 0, 0, false }

/* Initialise with room for hint bytes (0 allocates nothing). */
void strbuf_init(struct strbuf *sb, size_t hint);
/* Free the memory; the buffer is empty and usable afterwards. */
void strbuf_release(struct strbuf *sb);
/* Hand the heap string to the caller (never NULL); sb becomes empty. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
/* Set the maximum length (0 = unbounded). */
void strbuf_set_max(struct strbuf *sb, size_t max);
/* Make room for extra more bytes (ignores max). */
void strbuf_grow(struct strbuf *sb, size_t extra);
/* Truncate or mark len bytes as used (len must be < alloc or 0). */
void strbuf_setlen(struct strbuf *sb, size_t len);
/* Empty the buffer, keeping its memory. */
#define strbuf_reset(sb) strbuf_setlen((sb), 0)

/* Append len bytes of data. */
int strbuf_add(struct strbuf *sb, const void *data, size_t len);
/* Append a C string. */
int strbuf_addstr(struct strbuf *sb, const char *s);
/* Append one byte. */
int strbuf_addch(struct strbuf *sb, int c);
/* Append formatted text. */
int strbuf_addf(struct strbuf *sb, const char *fmt, ...) BURST_PRINTF(2, 3);
/* Append formatted text from a va_list. */
int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) BURST_PRINTF(2, 0);
/* Append another strbuf. */
int strbuf_addbuf(struct strbuf *sb, const struct strbuf *other);

/* Strip leading and trailing ASCII white space. */
void strbuf_trim(struct strbuf *sb);
/* Strip trailing ASCII white space. */
void strbuf_rtrim(struct strbuf *sb);
/* Replace every occurrence of needle (non-empty) with repl. */
void strbuf_replace_all(struct strbuf *sb, const char *needle, const char *repl);

/*
 * Read the whole file at path into sb (appending); returns 0 or -1 with errno
 * set.  Respects max: a longer file fails with errno = EFBIG.
 */
int strbuf_read_file(struct strbuf *sb, const char *path);
/* Read from fd until EOF (appending); -1 with errno on error or EFBIG. */
int strbuf_read_fd(struct strbuf *sb, int fd);

#endif

/*
 * util.h - allocation helpers and small utilities used everywhere.
 *
 * The x-allocators never return NULL: on out-of-memory they print a message
 * and abort, so callers never check.  Include this header (directly or via
 * another burst header) in every .c file; it also bans the unsafe string
 * functions listed in banned.h.
 */
#ifndef BURST_UTIL_H
#define BURST_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define BURST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define BURST_NORETURN __attribute__((noreturn))
#define BURST_UNUSED __attribute__((unused))
#else
#define BURST_PRINTF(f, a)
#define BURST_NORETURN
#define BURST_UNUSED
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocate n bytes; aborts on out-of-memory. */
void *xmalloc(size_t n);
/* Allocate and zero nmemb * size bytes (overflow-checked); aborts on OOM. */
void *xcalloc(size_t nmemb, size_t size);
/* Resize p to n bytes; aborts on out-of-memory. */
void *xrealloc(void *p, size_t n);
/* Resize an array of nmemb elements of size bytes (overflow-checked). */
void *xreallocarray(void *p, size_t nmemb, size_t size);
/* Duplicate a string; xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
/* Duplicate at most n bytes of s, always NUL-terminated. */
char *xstrndup(const char *s, size_t n);
/* printf into a newly allocated string. */
char *xstrfmt(const char *fmt, ...) BURST_PRINTF(1, 2);
/* vprintf into a newly allocated string. */
char *xstrvfmt(const char *fmt, va_list ap) BURST_PRINTF(1, 0);
/* Print "fatal: ..." and abort; for broken invariants only, never for input. */
BURST_NORETURN void burst_bug(const char *file, int line, const char *fmt, ...)
	BURST_PRINTF(3, 4);
#define BUG(...) burst_bug(__FILE__, __LINE__, __VA_ARGS__)

/*
 * Grow an array so that it holds at least n elements; alloc is the current
 * capacity, updated in place (git's ALLOC_GROW).
 */
#define ALLOC_GROW(x, n, alloc)                                            \
	do {                                                                   \
		if ((n) > (alloc)) {                                               \
			size_t alloc_grow_new_ = (alloc) < 8 ? 8 : (alloc) * 2;        \
			while (alloc_grow_new_ < (n))                                  \
				alloc_grow_new_ *= 2;                                      \
			(x) = xreallocarray((x), alloc_grow_new_, sizeof(*(x)));       \
			(alloc) = alloc_grow_new_;                                     \
		}                                                                  \
	} while (0)

/* free() and set the pointer to NULL. */
#define FREE_AND_NULL(p)                                                   \
	do {                                                                   \
		free(p);                                                           \
		(p) = NULL;                                                        \
	} while (0)

/* Does s start with prefix?  If so and rest is not NULL, point it past it. */
bool skip_prefix(const char *s, const char *prefix, const char **rest);
/* Does s end with suffix? */
bool has_suffix(const char *s, const char *suffix);

/*
 * Parse a whole decimal integer in [min, max]; returns 0 on success, -1 on
 * anything else (empty, trailing junk, overflow).  Use instead of atoi.
 */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Monotonic clock in milliseconds. */
uint64_t burst_now_ms(void);
/* Wall clock as UNIX seconds. */
int64_t burst_wall_time(void);

#include "burst/banned.h"

#endif

/*
 * strvec.h - a NULL-terminated, growable array of owned strings (argv/envp).
 *
 * v is never NULL (an empty strvec points to a shared empty array) and
 * v[nr] is always NULL, so it can be passed to execve() as is.
 */
#ifndef BURST_STRVEC_H
#define BURST_STRVEC_H

#include "burst/util.h"

extern const char *strvec_empty_[];

struct strvec {
	char **v;
	size_t nr;
	size_t alloc;
};

#define STRVEC_INIT { (char **)strvec_empty_, 0, 0 }

/* Initialise an empty vector. */
void strvec_init(struct strvec *sv);
/* Free every string and the array; the vector is empty and usable after. */
void strvec_clear(struct strvec *sv);
/* Append a copy of s. */
void strvec_push(struct strvec *sv, const char *s);
/* Append a formatted string. */
void strvec_pushf(struct strvec *sv, const char *fmt, ...) BURST_PRINTF(2, 3);
/* Append copies of every string of a NULL-terminated array. */
void strvec_pushv(struct strvec *sv, const char *const *v);
/* Append copies of n strings. */
void strvec_pushn(struct strvec *sv, char *const *v, size_t n);
/* Remove the last element. */
void strvec_pop(struct strvec *sv);
/* Index of the first element equal to s, or -1. */
long strvec_find(const struct strvec *sv, const char *s);
/*
 * Set NAME=value in an environment vector, replacing an existing NAME;
 * value NULL removes NAME.
 */
void strvec_setenv(struct strvec *env, const char *name, const char *value);

#endif

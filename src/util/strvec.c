/* strvec.c - NULL-terminated string arrays; rules in include/burst/strvec.h. */
#include <stdlib.h>
#include <string.h>

#include "burst/strvec.h"

const char *strvec_empty_[1];

void strvec_init(struct strvec *sv)
{
	sv->v = (char **)strvec_empty_;
	sv->nr = 0;
	sv->alloc = 0;
}

void strvec_clear(struct strvec *sv)
{
	if (sv->alloc) {
		for (size_t i = 0; i < sv->nr; i++)
			free(sv->v[i]);
		free(sv->v);
	}
	strvec_init(sv);
}

static void push_owned(struct strvec *sv, char *s)
{
	if (!sv->alloc)
		sv->v = NULL;
	ALLOC_GROW(sv->v, sv->nr + 2, sv->alloc);
	sv->v[sv->nr++] = s;
	sv->v[sv->nr] = NULL;
}

void strvec_push(struct strvec *sv, const char *s)
{
	push_owned(sv, xstrdup(s));
}

void strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	push_owned(sv, xstrvfmt(fmt, ap));
	va_end(ap);
}

void strvec_pushv(struct strvec *sv, const char *const *v)
{
	for (; v && *v; v++)
		strvec_push(sv, *v);
}

void strvec_pushn(struct strvec *sv, char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strvec_push(sv, v[i]);
}

void strvec_pop(struct strvec *sv)
{
	if (!sv->nr)
		return;
	free(sv->v[--sv->nr]);
	sv->v[sv->nr] = NULL;
}

long strvec_find(const struct strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->nr; i++)
		if (!strcmp(sv->v[i], s))
			return (long)i;
	return -1;
}

void strvec_setenv(struct strvec *env, const char *name, const char *value)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < env->nr; i++) {
		if (!strncmp(env->v[i], name, nlen) && env->v[i][nlen] == '=') {
			free(env->v[i]);
			if (value) {
				env->v[i] = xstrfmt("%s=%s", name, value);
			} else {
				memmove(env->v + i, env->v + i + 1,
					(env->nr - i) * sizeof(*env->v));
				env->nr--;
			}
			return;
		}
	}
	if (value)
		push_owned(env, xstrfmt("%s=%s", name, value));
}

/* strbuf.c - growable strings; the rules are in include/burst/strbuf.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/strbuf.h"

char strbuf_empty_[1];

void strbuf_init(struct strbuf *sb, size_t hint)
{
	sb->buf = strbuf_empty_;
	sb->len = 0;
	sb->alloc = 0;
	sb->max = 0;
	sb->overflow = false;
	if (hint)
		strbuf_grow(sb, hint);
}

void strbuf_release(struct strbuf *sb)
{
	size_t max = sb->max;

	if (sb->alloc)
		free(sb->buf);
	strbuf_init(sb, 0);
	sb->max = max;
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *res;

	strbuf_grow(sb, 0);
	res = sb->buf;
	if (len)
		*len = sb->len;
	sb->buf = strbuf_empty_;
	sb->len = 0;
	sb->alloc = 0;
	sb->overflow = false;
	return res;
}

void strbuf_set_max(struct strbuf *sb, size_t max)
{
	sb->max = max;
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	bool fresh = !sb->alloc;

	if (sb->len + extra + 1 <= sb->len)
		BUG("strbuf_grow: size overflow");
	if (fresh)
		sb->buf = NULL;
	ALLOC_GROW(sb->buf, sb->len + extra + 1, sb->alloc);
	if (fresh)
		sb->buf[0] = '\0';
}

void strbuf_setlen(struct strbuf *sb, size_t len)
{
	if (len > (sb->alloc ? sb->alloc - 1 : 0))
		BUG("strbuf_setlen: %zu beyond allocation", len);
	sb->len = len;
	if (sb->alloc)
		sb->buf[len] = '\0';
}

static int room(struct strbuf *sb, size_t n)
{
	if (sb->max && (n > sb->max || sb->len > sb->max - n)) {
		sb->overflow = true;
		return -1;
	}
	strbuf_grow(sb, n);
	return 0;
}

int strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (room(sb, len))
		return -1;
	if (len)
		memcpy(sb->buf + sb->len, data, len);
	strbuf_setlen(sb, sb->len + len);
	return 0;
}

int strbuf_addstr(struct strbuf *sb, const char *s)
{
	return strbuf_add(sb, s, strlen(s));
}

int strbuf_addch(struct strbuf *sb, int c)
{
	char ch = (char)c;

	return strbuf_add(sb, &ch, 1);
}

int strbuf_addbuf(struct strbuf *sb, const struct strbuf *other)
{
	return strbuf_add(sb, other->buf, other->len);
}

int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		BUG("vsnprintf failed for format '%s'", fmt);
	if (room(sb, (size_t)n))
		return -1;
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	strbuf_setlen(sb, sb->len + (size_t)n);
	return 0;
}

int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
	return r;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

void strbuf_rtrim(struct strbuf *sb)
{
	size_t n = sb->len;

	while (n && is_space(sb->buf[n - 1]))
		n--;
	if (sb->alloc)
		strbuf_setlen(sb, n);
}

void strbuf_trim(struct strbuf *sb)
{
	size_t skip = 0;

	strbuf_rtrim(sb);
	while (skip < sb->len && is_space(sb->buf[skip]))
		skip++;
	if (skip) {
		memmove(sb->buf, sb->buf + skip, sb->len - skip);
		strbuf_setlen(sb, sb->len - skip);
	}
}

void strbuf_replace_all(struct strbuf *sb, const char *needle, const char *repl)
{
	struct strbuf out = STRBUF_INIT;
	size_t nlen = strlen(needle);
	const char *p, *hit;

	if (!nlen || !sb->len)
		return;
	p = sb->buf;
	while ((hit = memmem(p, sb->len - (size_t)(p - sb->buf), needle, nlen))) {
		strbuf_add(&out, p, (size_t)(hit - p));
		strbuf_addstr(&out, repl);
		p = hit + nlen;
	}
	if (p == sb->buf) {
		strbuf_release(&out);
		return;
	}
	strbuf_add(&out, p, sb->len - (size_t)(p - sb->buf));
	out.max = sb->max;
	strbuf_release(sb);
	*sb = out;
}

int strbuf_read_fd(struct strbuf *sb, int fd)
{
	char tmp[8192];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!n)
			return 0;
		if (strbuf_add(sb, tmp, (size_t)n)) {
			errno = EFBIG;
			return -1;
		}
	}
}

int strbuf_read_file(struct strbuf *sb, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r, saved;

	if (fd < 0)
		return -1;
	r = strbuf_read_fd(sb, fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* log.c - diagnostics and secret redaction; see include/burst/log.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "burst/log.h"
#include "burst/strbuf.h"

static enum burst_log_level level = BURST_LOG_WARN;
static bool trace_on;
static FILE *log_file;

static char **secrets;
static size_t nr_secrets, alloc_secrets;

void burst_log_init_from_env(void)
{
	const char *v = getenv("BURST_LOG");
	const char *t = getenv("BURST_TRACE");
	static const char *names[] = { "error", "warn", "info", "debug", "trace" };

	if (v) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			if (!strcmp(v, names[i]))
				level = (enum burst_log_level)i;
	}
	if (t && *t && strcmp(t, "0"))
		trace_on = true;
	if (level >= BURST_LOG_TRACE)
		trace_on = true;
}

void burst_log_set_level(enum burst_log_level l)
{
	level = l;
	if (l >= BURST_LOG_TRACE)
		trace_on = true;
}

enum burst_log_level burst_log_level(void)
{
	return level;
}

bool burst_trace_enabled(void)
{
	return trace_on;
}

int burst_log_to_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	FILE *f;

	if (fd < 0)
		return -1;
	f = fdopen(fd, "a");
	if (!f) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	if (log_file)
		fclose(log_file);
	log_file = f;
	if (level < BURST_LOG_INFO)
		level = BURST_LOG_INFO;
	return 0;
}

void burst_redact_register(const char *secret)
{
	if (!secret || strlen(secret) < 4)
		return;
	for (size_t i = 0; i < nr_secrets; i++)
		if (!strcmp(secrets[i], secret))
			return;
	ALLOC_GROW(secrets, nr_secrets + 1, alloc_secrets);
	secrets[nr_secrets++] = xstrdup(secret);
}

void burst_redact_clear(void)
{
	for (size_t i = 0; i < nr_secrets; i++)
		free(secrets[i]);
	free(secrets);
	secrets = NULL;
	nr_secrets = alloc_secrets = 0;
}

/*
 * Replace every "-----BEGIN <x> PRIVATE KEY-----" block (through its END
 * line, or to the end when it was cut) by "***": a private key is a secret
 * whether or not anyone registered it (a host key in a traced user_data).
 */
static void redact_private_keys(struct strbuf *sb)
{
	static const char begin[] = "-----BEGIN ", tail[] = "PRIVATE KEY-----";
	size_t from = 0;

	for (;;) {
		char *b = strstr(sb->buf + from, begin), *nl, *t, *end;
		size_t start, stop;

		if (!b)
			return;
		start = (size_t)(b - sb->buf);
		t = strstr(b + sizeof(begin) - 1, tail);
		nl = strpbrk(b, "\\\n"); /* a line break, raw or JSON-escaped */
		if (!t || (nl && nl < t)) {
			from = start + 1; /* a certificate or a public key: keep */
			continue;
		}
		end = strstr(t + sizeof(tail) - 1, "-----END ");
		end = end ? strstr(end, tail) : NULL;
		stop = end ? (size_t)(end - sb->buf) + sizeof(tail) - 1 : sb->len;
		{
			struct strbuf out = STRBUF_INIT;

			strbuf_add(&out, sb->buf, start);
			strbuf_addstr(&out, "***");
			strbuf_add(&out, sb->buf + stop, sb->len - stop);
			strbuf_setlen(sb, 0);
			strbuf_addbuf(sb, &out);
			strbuf_release(&out);
		}
		from = start + 3;
	}
}

char *burst_redact(const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, s ? s : "");
	for (size_t i = 0; i < nr_secrets; i++)
		strbuf_replace_all(&sb, secrets[i], "***");
	redact_private_keys(&sb);
	return strbuf_detach(&sb, NULL);
}

static const char *level_name(enum burst_log_level l)
{
	switch (l) {
	case BURST_LOG_ERROR: return "error";
	case BURST_LOG_WARN: return "warn";
	case BURST_LOG_INFO: return "info";
	case BURST_LOG_DEBUG: return "debug";
	case BURST_LOG_TRACE: return "trace";
	}
	return "?";
}

void burst_log(enum burst_log_level l, const char *module, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	FILE *out = log_file ? log_file : stderr;
	char *clean;
	va_list ap;

	if (l > level && !(l == BURST_LOG_TRACE && trace_on))
		return;
	if (log_file) {
		char ts[32];
		struct tm tm;
		time_t now = time(NULL);

		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		strbuf_addf(&sb, "%s [%d] ", ts, (int)getpid());
	}
	strbuf_addf(&sb, "%s: %s: ", level_name(l), module);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	clean = burst_redact(sb.buf);
	fprintf(out, "%s\n", clean);
	free(clean);
	strbuf_release(&sb);
}

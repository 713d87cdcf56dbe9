/* ui.c - cargo-style status output; see include/burst/ui.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "burst/log.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

#define BOLD_GREEN "\033[1;32m"
#define BOLD_CYAN "\033[1;36m"
#define BOLD_YELLOW "\033[1;33m"
#define BOLD_RED "\033[1;31m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

static int color = -1; /* -1: not decided yet */
static bool quiet;
static int verbosity;
static bool progress_open; /* a progress line is on screen without newline */

static bool decide_color(void)
{
	const char *v = getenv("CARGO_TERM_COLOR");

	if (v && !strcmp(v, "always"))
		return true;
	if (v && !strcmp(v, "never"))
		return false;
	if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
		return false;
	if (!isatty(STDERR_FILENO))
		return false;
	v = getenv("TERM");
	return !(v && !strcmp(v, "dumb"));
}

void ui_init(int q, int v)
{
	quiet = q > 0;
	verbosity = v;
	if (color < 0)
		color = decide_color();
}

void ui_set_color(enum ui_color_mode mode)
{
	switch (mode) {
	case UI_COLOR_ALWAYS: color = 1; break;
	case UI_COLOR_NEVER: color = 0; break;
	case UI_COLOR_AUTO: color = decide_color(); break;
	}
}

bool ui_color(void)
{
	if (color < 0)
		color = decide_color();
	return color > 0;
}

bool ui_quiet(void)
{
	return quiet;
}

int ui_verbosity(void)
{
	return verbosity;
}

static void end_progress(void)
{
	if (progress_open) {
		fputs(ui_color() ? "\r\033[K" : "\n", stderr);
		progress_open = false;
	}
}

static void emit(const char *pre, const char *label, bool align,
		 const char *fmt, va_list ap, const char *end)
{
	struct strbuf sb = STRBUF_INIT;
	char *clean;

	strbuf_vaddf(&sb, fmt, ap);
	clean = burst_redact(sb.buf);
	end_progress();
	if (align)
		fprintf(stderr, "%s%12s%s %s%s", ui_color() ? pre : "", label,
			ui_color() ? RESET : "", clean, end);
	else
		fprintf(stderr, "%s%s%s%s %s%s", ui_color() ? pre : "", label,
			ui_color() ? RESET BOLD ":" RESET : ":", "", clean, end);
	fflush(stderr);
	free(clean);
	strbuf_release(&sb);
}

#define EMIT(pre, label, align, end)                                       \
	do {                                                                   \
		va_list ap;                                                        \
		va_start(ap, fmt);                                                 \
		emit(pre, label, align, fmt, ap, end);                             \
		va_end(ap);                                                        \
	} while (0)

void ui_status(const char *verb, const char *fmt, ...)
{
	if (quiet)
		return;
	EMIT(BOLD_GREEN, verb, true, "\n");
}

void ui_info(const char *verb, const char *fmt, ...)
{
	if (quiet)
		return;
	EMIT(BOLD_CYAN, verb, true, "\n");
}

void ui_verbose(const char *verb, const char *fmt, ...)
{
	if (quiet || verbosity < 1)
		return;
	EMIT(BOLD_CYAN, verb, true, "\n");
}

void ui_warn(const char *fmt, ...)
{
	EMIT(BOLD_YELLOW, "warning", false, "\n");
}

void ui_error(const char *fmt, ...)
{
	EMIT(BOLD_RED, "error", false, "\n");
}

void ui_help(const char *fmt, ...)
{
	EMIT(BOLD_CYAN, "help", false, "\n");
}

void ui_note(const char *fmt, ...)
{
	EMIT(BOLD_CYAN, "note", false, "\n");
}

void ui_progress(const char *verb, const char *fmt, ...)
{
	if (quiet || !ui_color())
		return;
	EMIT(BOLD_CYAN, verb, true, "");
	progress_open = true;
}

void ui_progress_done(const char *verb, const char *fmt, ...)
{
	if (quiet)
		return;
	EMIT(BOLD_GREEN, verb, true, "\n");
}

const char *ui_local_time(char *buf, size_t size, int64_t t, bool with_date)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!size)
		return buf;
	if (!localtime_r(&tt, &tm) ||
	    !strftime(buf, size, with_date ? "%Y-%m-%d %H:%M %Z" : "%H:%M %Z", &tm))
		snprintf(buf, size, "?");
	return buf;
}

const char *ui_duration(char *buf, size_t size, uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (ms < 60000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
	else if (s < 3600)
		snprintf(buf, size, "%um %02us", (unsigned)(s / 60),
			 (unsigned)(s % 60));
	else
		snprintf(buf, size, "%uh %02um", (unsigned)(s / 3600),
			 (unsigned)(s / 60 % 60));
	return buf;
}

/* An error's lines on stderr (error:, Hetzner's answer as note:, help:). */
void burst_error_print(const struct burst_error *err)
{
	struct strbuf sb = STRBUF_INIT;

	if (!err || !burst_error_isset(err))
		return;
	ui_error("%s", err->message ? err->message : "unknown error");
	if (err->api_code || err->http_status) {
		strbuf_addstr(&sb, "Hetzner says: ");
		if (err->api_code)
			strbuf_addf(&sb, "%s", err->api_code);
		if (err->api_message)
			strbuf_addf(&sb, "%s%s", err->api_code ? ": " : "",
				    err->api_message);
		strbuf_addf(&sb, " (HTTP %ld", err->http_status);
		if (err->correlation_id)
			strbuf_addf(&sb, ", correlation id %s",
				    err->correlation_id);
		strbuf_addch(&sb, ')');
		if (err->api_details)
			strbuf_addf(&sb, "\n  details: %s", err->api_details);
		ui_note("%s", sb.buf);
		strbuf_release(&sb);
	}
	if (err->hint)
		ui_help("%s", err->hint);
}

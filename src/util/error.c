/* error.c - error values and their printing; see include/burst/error.h. */
#include <stdio.h>
#include <stdlib.h>

#include "burst/error.h"
#include "burst/log.h"
#include "burst/strbuf.h"

void burst_error_init(struct burst_error *err)
{
	struct burst_error blank = BURST_ERROR_INIT;

	*err = blank;
}

void burst_error_release(struct burst_error *err)
{
	if (!err)
		return;
	free(err->message);
	free(err->hint);
	free(err->api_code);
	free(err->api_message);
	free(err->api_details);
	free(err->correlation_id);
	burst_error_init(err);
}

int burst_error_set(struct burst_error *err, enum burst_exit code,
		    const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	burst_error_release(err);
	err->exit_code = code == BURST_EXIT_OK ? BURST_EXIT_INTERNAL : code;
	va_start(ap, fmt);
	err->message = xstrvfmt(fmt, ap);
	va_end(ap);
	return -1;
}

void burst_error_hint(struct burst_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	free(err->hint);
	va_start(ap, fmt);
	err->hint = xstrvfmt(fmt, ap);
	va_end(ap);
}

void burst_error_prefix(struct burst_error *err, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (!err || !burst_error_isset(err))
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_addf(&sb, ": %s", err->message ? err->message : "unknown error");
	free(err->message);
	err->message = strbuf_detach(&sb, NULL);
}

void burst_error_move(struct burst_error *dst, struct burst_error *src)
{
	if (dst == src)
		return;
	burst_error_release(dst);
	*dst = *src;
	burst_error_init(src);
}

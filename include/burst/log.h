/*
 * log.h - diagnostics (not user output) and secret redaction.
 *
 * Diagnostics go to stderr, or to a log file for detached workers
 * (burst_log_to_file).  The level comes from BURST_LOG (error, warn, info,
 * debug, trace) or from -v; BURST_TRACE=1 turns on trace lines, which
 * record every command line and every API request.
 *
 * Redaction: every registered secret (the API token) is replaced by "***"
 * in everything that passes through this module, ui.h and error printing.
 * Register the token the moment it is read.
 */
#ifndef BURST_LOG_H
#define BURST_LOG_H

#include "burst/util.h"

enum burst_log_level {
	BURST_LOG_ERROR = 0,
	BURST_LOG_WARN,
	BURST_LOG_INFO,
	BURST_LOG_DEBUG,
	BURST_LOG_TRACE,
};

/* Read BURST_LOG and BURST_TRACE from the environment. */
void burst_log_init_from_env(void);
/* Set the level explicitly (e.g. from -v). */
void burst_log_set_level(enum burst_log_level level);
/* The current level. */
enum burst_log_level burst_log_level(void);
/* Is trace output on (BURST_TRACE=1 or level trace)? */
bool burst_trace_enabled(void);
/*
 * Send diagnostics to a file (append, created 0600) with timestamps, for
 * detached workers; returns 0 or -1 with errno.
 */
int burst_log_to_file(const char *path);

/* Log one line: "<module>: <message>", redacted. */
void burst_log(enum burst_log_level level, const char *module,
	       const char *fmt, ...) BURST_PRINTF(3, 4);

#define log_error(mod, ...) burst_log(BURST_LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) burst_log(BURST_LOG_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) burst_log(BURST_LOG_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...)                                                \
	do {                                                                   \
		if (burst_log_level() >= BURST_LOG_DEBUG)                          \
			burst_log(BURST_LOG_DEBUG, mod, __VA_ARGS__);                  \
	} while (0)
/* Trace line, printed when BURST_TRACE=1. */
#define log_trace(mod, ...)                                                \
	do {                                                                   \
		if (burst_trace_enabled())                                         \
			burst_log(BURST_LOG_TRACE, mod, __VA_ARGS__);                  \
	} while (0)

/* Register a secret to be redacted from all output (copied; >= 4 bytes). */
void burst_redact_register(const char *secret);
/* Forget all registered secrets (tests). */
void burst_redact_clear(void);
/* Return a newly allocated copy of s with every secret replaced by "***". */
char *burst_redact(const char *s);

#endif

/*
 * error.h - errors as values, and the tool's reserved exit codes.
 *
 * Library code never exits and never prints errors itself: it returns -1 (or
 * NULL) and fills a caller-owned struct burst_error.  Only the top level
 * (main) prints it with burst_error_print() (ui.h) and exits with
 * err.exit_code.
 *
 * Messages follow git/curl: lower case, what failed first, the subject
 * quoted, no trailing period; `hint` is the next step for the user.
 * Every string that reaches the user passes the secret redaction of log.h.
 */
#ifndef BURST_ERROR_H
#define BURST_ERROR_H

#include "burst/util.h"

/*
 * Exit codes.  The remote cargo's status passes through unchanged (0, 1,
 * 101, ...); the tool's own failures use these reserved codes (sysexits.h
 * numbers, which cargo never uses).  Documented in README.md.
 */
enum burst_exit {
	BURST_EXIT_OK = 0,
	BURST_EXIT_USAGE = 64,       /* bad command line */
	BURST_EXIT_CONFIG = 78,      /* bad configuration, missing token, no project */
	BURST_EXIT_API = 69,         /* the cloud API refused or failed */
	BURST_EXIT_INTERNAL = 70,    /* a bug or an unexpected local failure */
	BURST_EXIT_STATE = 73,       /* the local state database cannot be used */
	BURST_EXIT_REMOTE = 76,      /* ssh, rsync or the remote machine failed */
	BURST_EXIT_INTERRUPTED = 130 /* Ctrl-C / SIGINT */
};

struct burst_error {
	enum burst_exit exit_code; /* 0 while no error is set */
	char *message;             /* what failed, lower case, no period */
	char *hint;                /* the next step, or NULL */
	/* Cloud API details (exit_code == BURST_EXIT_API); zero/NULL otherwise. */
	long http_status;
	char *api_code;       /* Hetzner error.code, e.g. "resource_unavailable" */
	char *api_message;    /* Hetzner error.message */
	char *api_details;    /* error.details as compact JSON, or NULL */
	char *correlation_id; /* X-Correlation-Id response header, or NULL */
};

#define BURST_ERROR_INIT { BURST_EXIT_OK, NULL, NULL, 0, NULL, NULL, NULL, NULL }

/* Initialise an empty error. */
void burst_error_init(struct burst_error *err);
/* Free the strings; the error is empty and reusable. */
void burst_error_release(struct burst_error *err);
/* Is an error set? */
static inline bool burst_error_isset(const struct burst_error *err)
{
	return err && err->exit_code != BURST_EXIT_OK;
}

/*
 * Set the error (replacing any previous one) and return -1, so that
 * `return burst_error_set(err, ...)` reads naturally.  err may be NULL.
 */
int burst_error_set(struct burst_error *err, enum burst_exit code,
		    const char *fmt, ...) BURST_PRINTF(3, 4);
/* Set or replace the hint of an error that is set. */
void burst_error_hint(struct burst_error *err, const char *fmt, ...)
	BURST_PRINTF(2, 3);
/* Prefix the message with context: "creating volume 'x': <old message>". */
void burst_error_prefix(struct burst_error *err, const char *fmt, ...)
	BURST_PRINTF(2, 3);
/* Move src into dst (dst released first); src becomes empty. */
void burst_error_move(struct burst_error *dst, struct burst_error *src);

#endif

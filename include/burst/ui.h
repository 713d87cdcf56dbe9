/*
 * ui.h - user-facing output in cargo's style.
 *
 * Status lines go to stderr, like cargo's: a bold green verb right-aligned to
 * 12 columns, then the message:
 *
 *   Provisioning ccx63 in hel1
 *        Syncing 1,204 files
 *       Finished build in 42.1s (provision 30.2s, sync 1.1s, cargo 9.8s)
 *
 * Colour only when stderr is a terminal, overridden by CARGO_TERM_COLOR
 * (auto, always, never) and NO_COLOR.  -q silences status lines (errors and
 * warnings still print); -v turns on ui_verbose() lines.
 * All text passes the secret redaction of log.h.
 */
#ifndef BURST_UI_H
#define BURST_UI_H

#include "burst/error.h"
#include "burst/util.h"

enum ui_color_mode { UI_COLOR_AUTO, UI_COLOR_ALWAYS, UI_COLOR_NEVER };

/* Decide colour from the environment and the terminal; set verbosity. */
void ui_init(int quiet, int verbose);
/* Force the colour mode (from --color). */
void ui_set_color(enum ui_color_mode mode);
/* Is colour on for stderr? */
bool ui_color(void);
/* Quiet mode (-q)? */
bool ui_quiet(void);
/* Verbosity level (number of -v). */
int ui_verbosity(void);

/* "   <Verb> <message>" in green bold; suppressed by -q. */
void ui_status(const char *verb, const char *fmt, ...) BURST_PRINTF(2, 3);
/* Same, in cyan, for informational notes that are not progress. */
void ui_info(const char *verb, const char *fmt, ...) BURST_PRINTF(2, 3);
/* "warning: <message>" in yellow bold; never suppressed. */
void ui_warn(const char *fmt, ...) BURST_PRINTF(1, 2);
/* "error: <message>" in red bold; never suppressed. */
void ui_error(const char *fmt, ...) BURST_PRINTF(1, 2);
/* "help: <message>" / "note: <message>" (cyan bold label). */
void ui_help(const char *fmt, ...) BURST_PRINTF(1, 2);
void ui_note(const char *fmt, ...) BURST_PRINTF(1, 2);
/* A status line only with -v. */
void ui_verbose(const char *verb, const char *fmt, ...) BURST_PRINTF(2, 3);

/*
 * Progress that updates in place on a terminal ("\r" + clear to end of
 * line) and prints nothing on a pipe except the final ui_progress_done().
 */
void ui_progress(const char *verb, const char *fmt, ...) BURST_PRINTF(2, 3);
/* Finish a progress line with a normal status line. */
void ui_progress_done(const char *verb, const char *fmt, ...) BURST_PRINTF(2, 3);

/* Format a duration in ms as "1.2s", "3m 04s", "2h 01m" into buf. */
const char *ui_duration(char *buf, size_t size, uint64_t ms);
/*
 * Format the UNIX time t in local time with the zone's abbreviation, as
 * the run summary does: "15:58 CET", with date "2026-11-22 15:58 CET"
 * (JSON output stays in RFC 3339 UTC).  "?" when t cannot be converted.
 */
const char *ui_local_time(char *buf, size_t size, int64_t t, bool with_date);

/*
 * Print an error (error.h) to stderr in cargo's style:
 *   error: <message>
 *     Hetzner says: <api_code>: <api_message> (HTTP <status>, correlation id <id>)
 *   help: <hint>
 */
void burst_error_print(const struct burst_error *err);

#endif

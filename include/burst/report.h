/*
 * report.h - the text and JSON of `status` and `audit` (src/cmd/report.c).
 *
 * The state layer gathers what they show (state_status_query(),
 * state_audit_query()); these render it.  The JSON documents are returned
 * as cJSON objects, so a command adds its own fields to the same document
 * (status: the services and the BYO host) before printing it.
 */
#ifndef BURST_REPORT_H
#define BURST_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <cJSON.h>

#include "burst/error.h"
#include "burst/state.h"

/* `status --json`'s document for s (the caller prints and frees it). */
cJSON *report_status_json(struct burst_state *st, const struct state_status *s);
/* `status`'s human table for s, to f. */
void report_status_text(struct burst_state *st, FILE *f, const struct state_status *s);
/* Gather and print `status` (human table, or JSON with json) to out. */
int report_print_status(struct burst_state *st, FILE *out, bool json, struct burst_error *err);

/* `audit --json`'s document for a (the caller prints and frees it). */
cJSON *report_audit_json(const struct state_audit *a);
/* `audit`'s human tables for a, to f. */
void report_audit_text(FILE *f, const struct state_audit *a);
/*
 * Gather and print `audit` (human tables, or JSON with json) to out, at
 * prices (NULL: none known; see struct state_prices).
 */
int report_print_audit(struct burst_state *st, FILE *out, const struct state_prices *prices,
		       bool json, struct burst_error *err);

#endif

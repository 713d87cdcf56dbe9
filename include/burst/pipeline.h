/*
 * pipeline.h - the run pipeline: `cargo burst build|test|check|clippy|bench|run`.
 *
 * One run: workspace identity -> warm server (no API call) or cold
 * provisioning -> mount the project volume || rsync the workspace -> the
 * remote cargo command, streamed -> fetch artifacts -> records and reapers.
 */
#ifndef BURST_PIPELINE_H
#define BURST_PIPELINE_H

#include "burst/util.h"

struct burst_ctx;

/*
 * Run one of the run verbs described by ctx; returns the process exit code:
 * the remote cargo's status unchanged, 130 after Ctrl-C, or one of the
 * reserved codes of error.h after printing the error.
 */
int pipeline_run(struct burst_ctx *ctx);

#endif

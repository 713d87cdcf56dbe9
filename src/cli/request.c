/*
 * request.c - a run verb's request, worked out once from the routed
 * arguments and the loaded config (struct run_request in
 * include/burst/pipeline.h), and the pipeline's job for a run verb.
 */
#include <stdlib.h>
#include <string.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/pipeline.h"

/* Resolve and validate a run's request (cli.h). */
int run_request_build(struct run_request *req, const struct run_args *ra,
		      const struct burst_config *cfg, struct burst_error *err)
{
	memset(req, 0, sizeof(*req));
	req->verb = ra->verb;
	req->cargo_args = &ra->cargo_args;
	req->no_fetch = ra->no_fetch;
	req->yes = ra->yes;
	req->no_doctests = ra->no_doctests;
	req->cargo_test = ra->cargo_test;
	req->no_sync = ra->no_sync;
	req->dry_run = ra->dry_run;
	req->junit = ra->junit;
	req->keep_alive_secs = cfg->keep_alive_secs;
	req->volume_keep_alive_secs = cfg->volume_keep_alive_secs;
	req->no_reap = ra->no_reap;
	req->billing_hour_hold = cfg->billing_hour_hold;
	req->billing_margin_secs = cfg->billing_margin_secs;
	req->toolchain = ra->toolchain && *ra->toolchain ? ra->toolchain : NULL;
	req->env = &ra->env;
	if (ra->host && *ra->host)
		req->host = ra->host;
	else if (cfg->host && *cfg->host)
		req->host = cfg->host;
	req->shards = ra->shards;
	req->sharded = ra->shards > 0 || ra->junit;
	if (ra->forwards.nr)
		req->forwards = xcalloc(ra->forwards.nr, sizeof(*req->forwards));
	for (size_t i = 0; i < ra->forwards.nr; i++) {
		struct run_forward *f = &req->forwards[i];

		if (pipeline_parse_forward(ra->forwards.v[i], &f->local, &f->remote, err) < 0) {
			run_request_release(req);
			return -1;
		}
		req->nforwards++;
	}
	return 0;
}

/* Free a run request (cli.h). */
void run_request_release(struct run_request *req)
{
	if (!req)
		return;
	free(req->forwards);
	memset(req, 0, sizeof(*req));
}

/* The pipeline's job for a run verb (cli.h). */
void cli_pipeline_job(struct pipeline_job *job, const struct burst_ctx *ctx)
{
	memset(job, 0, sizeof(*job));
	job->req = &ctx->req;
	job->config = ctx->config;
	job->api = ctx->api;
	job->state = ctx->state;
	job->cwd = ctx->cwd;
	job->workspace_root = ctx->workspace_root;
	job->fetch_verb = ctx->cmd && (ctx->cmd->flags & CMD_RUN_FETCH);
}

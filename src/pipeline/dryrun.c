/*
 * dryrun.c - `cargo burst <run verb> --dry-run`: the plan of a run and its
 * cost, from the same facts a run decides by (the state: is there a live
 * server, does the project have a volume; the API: the image, the type's
 * availability and the live prices), with GET requests only: nothing is
 * created, no reaper is started, the state is not written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/pipeline.h"
#include "burst/provision.h"
#include "burst/remote.h"
#include "burst/sha256.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

/* Append the command line the run would start, quoted as for a shell. */
static void add_command(struct strbuf *out, const struct run_request *req)
{
	strbuf_addstr(out, "cargo");
	if (req->toolchain)
		strbuf_addf(out, " +%s", req->toolchain);
	strbuf_addf(out, " %s", req->verb);
	for (size_t i = 0; i < req->cargo_args->nr; i++) {
		strbuf_addch(out, ' ');
		remote_shell_quote(out, req->cargo_args->v[i]);
	}
}

static void clock_text(char *buf, size_t size, int64_t t)
{
	ui_local_time(buf, size, t, false);
}

/* The plan for a bring-your-own host: no API, no cost. */
static int byo_plan(const struct pipeline_job *job)
{
	struct strbuf cmd = STRBUF_INIT;

	add_command(&cmd, job->req);
	printf("Dry run: nothing is started.\n");
	printf("host:    %s (bring your own: no API request, no reaper, no cost)\n",
	       job->req->host);
	printf("then:    sync %s and run `%s` there\n", job->workspace_root, cmd.buf);
	strbuf_release(&cmd);
	return 0;
}

/* Print the plan of a run and its cost; change nothing. */
int pipeline_dry_run(const struct pipeline_job *job, struct burst_error *err)
{
	const struct burst_config *cfg = job->config;
	struct state_server srv = { 0 };
	struct state_project proj = { 0 };
	struct provision_prices pr;
	struct strvec order = STRVEC_INIT;
	struct strbuf cmd = STRBUF_INIT, where = STRBUF_INIT;
	struct hcloud_image img = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	char hash[PROVISION_HASH_LEN + 1], when[32];
	char *vname = NULL, *amount = NULL, *vol_amount = NULL;
	const char *loc, *type = cfg->server_type;
	bool reuse, have_vol;
	int64_t image_id = 0;
	int extra = job->req->shards > 1 ? job->req->shards - 1 : 0;
	int ret = -1;

	if (job->req->host)
		return byo_plan(job);
	if (!job->state || !job->api)
		return burst_error_set(err, BURST_EXIT_INTERNAL,
				       "--dry-run without the state or the API client");
	project_hash_arch(job->workspace_root, cfg->arch, hash);
	if (provision_current_server(job->state, cfg->arch, &srv, err) < 0 ||
	    state_project_get(job->state, hash, &proj, err) < 0)
		goto out;
	reuse = srv.status == STATE_SERVER_READY && srv.ip && srv.hcloud_id;
	have_vol = proj.volume_hcloud_id && proj.volume_status == STATE_VOLUME_READY &&
		proj.location && proj.volume_name;
	add_command(&cmd, job->req);

	printf("Dry run of `cargo burst %s` (%s): nothing is created, no reaper is started.\n",
	       job->req->verb, cfg->arch);
	if (reuse) {
		loc = srv.location;
		type = srv.server_type ? srv.server_type : type;
		printf("server:  reuse '%s' (%s, %s, %s)\n", srv.name ? srv.name : "?",
		       type, loc ? loc : "?", srv.ip);
	} else {
		if (provision_find_image(job->api, state_owner_id(job->state), cfg->arch,
					 &image_id, err) < 0)
			goto out;
		if (hcloud_image_get(job->api, image_id, &img, &e) < 0)
			burst_error_release(&e);
		provision_location_order(have_vol ? proj.location : NULL, &cfg->regions, &order);
		loc = NULL;
		for (size_t i = 0; i < order.nr; i++) {
			bool avail = false;

			if (hcloud_type_available(job->api, type, order.v[i], &avail, err) < 0)
				goto out;
			strbuf_addf(&where, "%s%s%s", where.len ? ", " : "", order.v[i],
				    avail ? "" : " (not available now)");
			if (avail && !loc)
				loc = order.v[i];
		}
		if (!loc) {
			burst_error_set(err, BURST_EXIT_API, "server type '%s' cannot be "
					"ordered in any configured location (%s)", type, where.buf);
			burst_error_hint(err, "set another [hetzner] server_type or add "
					 "locations to [hetzner] regions; `cargo burst doctor` "
					 "shows where it is available");
			goto out;
		}
		printf("server:  create a %s in %s (locations in order: %s) from image %lld",
		       type, loc, where.buf, (long long)image_id);
		if (img.description)
			printf(" ('%s')", img.description);
		printf("\n");
	}
	if (have_vol && loc && !strcmp(proj.location, loc)) {
		printf("volume:  reuse '%s' (%lld GB, %s)\n", proj.volume_name,
		       (long long)proj.size_gb, proj.location);
	} else {
		/* named as the cold path names it: the hash covers the owner too */
		char vhash[PROVISION_HASH_LEN + 1];

		project_volume_hash(state_owner_id(job->state), hash, vhash);
		vname = provision_volume_name(job->workspace_root, vhash,
					      have_vol ? loc : NULL, cfg->arch);
		printf("volume:  create '%s' (%lld GB) in %s\n", vname,
		       (long long)cfg->volume_gb, loc ? loc : "?");
	}

	if (provision_prices_get(job->api, state_dir(job->state), type, loc, &pr,
				 err) < 0)
		goto out;
	printf("cost:    ");
	if (pr.server_hourly < 0) {
		printf("no live price for %s in %s", type, loc ? loc : "?");
	} else if (reuse) {
		int64_t now = (int64_t)time(NULL), start = srv.billing_start ?
			srv.billing_start : srv.created_at;
		int64_t paid = start + ((now - start) / 3600 + 1) * 3600;

		amount = provision_price_format(pr.server_hourly, pr.currency);
		clock_text(when, sizeof(when), paid);
		printf("the server's hour is paid through %s; each hour after it %s",
		       when, amount);
	} else {
		amount = provision_price_format(pr.server_hourly, pr.currency);
		printf("first hour %s (billed per started hour)", amount);
	}
	if (extra && pr.server_hourly >= 0) {
		free(amount);
		amount = provision_price_format(pr.server_hourly * extra, pr.currency);
		printf("; %d more server%s for the shards: %s for their first hour", extra,
		       extra == 1 ? "" : "s", amount);
	}
	if (pr.volume_gb_month >= 0) {
		int64_t gb = have_vol && proj.size_gb ? proj.size_gb : cfg->volume_gb;

		vol_amount = provision_price_format(pr.volume_gb_month * (double)gb,
						    pr.currency);
		printf("; volume %s/month (%lld GB)", vol_amount, (long long)gb);
	}
	printf(" (prices without VAT%s)\n", pr.cached ? ", as of today" : ", live");
	printf("then:    sync %s, run `%s` on the server%s\n", job->workspace_root, cmd.buf,
	       pipeline_job_fetches(job) ?
	       ", fetch the artifacts" : "");
	if (job->req->no_reap)
		printf("after:   no reaper (--no-reap): the server stays up until `cargo burst down`\n");
	else
		printf("after:   the server is deleted after %lld s idle, the volume after %lld s\n",
		       (long long)job->req->keep_alive_secs,
		       (long long)job->req->volume_keep_alive_secs);
	ret = 0;
out:
	state_server_release(&srv);
	state_project_release(&proj);
	hcloud_image_release(&img);
	strvec_clear(&order);
	strbuf_release(&cmd);
	strbuf_release(&where);
	burst_error_release(&e);
	free(vname);
	free(amount);
	free(vol_amount);
	return ret;
}

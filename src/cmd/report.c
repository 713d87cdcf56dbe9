/*
 * report.c - the text and JSON of `status` and `audit`: the state layer
 * gathers (state_status_query(), state_audit_query()), this renders, and
 * the commands add what only they know (status: the services, the BYO
 * host) to the same document.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "burst/config.h"
#include "burst/report.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

/* ---- status ----------------------------------------------------------- */

static cJSON *json_str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *reaper_json(bool has, const struct state_reaper *r, bool alive)
{
	cJSON *o;

	if (!has)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "pid", (double)r->pid);
	cJSON_AddBoolToObject(o, "alive", alive);
	cJSON_AddNumberToObject(o, "deadline", (double)r->deadline);
	cJSON_AddItemToObject(o, "log", json_str_or_null(r->log_path));
	cJSON_AddItemToObject(o, "last_error", json_str_or_null(r->last_error));
	cJSON_AddBoolToObject(o, "needs_human", r->needs_human);
	return o;
}

/* One server's object of `status --json` ("server" and each of "servers"). */
static cJSON *server_json(const struct state_status *s, const struct state_server *v,
			  int64_t paid_through, bool has_reaper, const struct state_reaper *r,
			  bool reaper_alive)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)v->hcloud_id);
	cJSON_AddNumberToObject(o, "row", (double)v->id);
	cJSON_AddItemToObject(o, "name", json_str_or_null(v->name));
	cJSON_AddItemToObject(o, "type", json_str_or_null(v->server_type));
	cJSON_AddStringToObject(o, "arch", state_server_arch(v));
	cJSON_AddItemToObject(o, "location", json_str_or_null(v->location));
	cJSON_AddItemToObject(o, "ip", json_str_or_null(v->ip));
	cJSON_AddStringToObject(o, "status", state_server_status_name(v->status));
	cJSON_AddNumberToObject(o, "created_at", (double)v->created_at);
	cJSON_AddNumberToObject(o, "up_secs", (double)(s->now - v->created_at));
	cJSON_AddNumberToObject(o, "paid_through", (double)paid_through);
	cJSON_AddNumberToObject(o, "last_activity", (double)v->last_activity);
	cJSON_AddNumberToObject(o, "keep_alive_secs", (double)v->keep_alive_secs);
	cJSON_AddNumberToObject(o, "deadline", (double)v->deadline);
	cJSON_AddBoolToObject(o, "no_reap", v->no_reap);
	cJSON_AddItemToObject(o, "reaper", reaper_json(has_reaper, r, reaper_alive));
	return o;
}

cJSON *report_status_json(struct burst_state *st, const struct state_status *s)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	size_t i;

	cJSON_AddNumberToObject(root, "schema", STATE_STATUS_JSON_SCHEMA);
	cJSON_AddStringToObject(root, "owner", state_owner_id(st));
	cJSON_AddStringToObject(root, "state_dir", state_dir(st));
	cJSON_AddBoolToObject(root, "state_reset", state_was_reset(st));
	cJSON_AddNumberToObject(root, "now", (double)s->now);
	if (s->has_image) {
		cJSON *o = cJSON_AddObjectToObject(root, "image");

		cJSON_AddNumberToObject(o, "id", (double)s->image.hcloud_id);
		cJSON_AddNumberToObject(o, "created_at", (double)s->image.created_at);
		cJSON_AddItemToObject(o, "version", json_str_or_null(s->image.version));
	} else {
		cJSON_AddNullToObject(root, "image");
	}
	if (s->has_server)
		cJSON_AddItemToObject(root, "server",
				      server_json(s, &s->server, s->server_paid_through,
						  s->has_server_reaper, &s->server_reaper,
						  s->server_reaper_alive));
	else
		cJSON_AddNullToObject(root, "server");
	arr = cJSON_AddArrayToObject(root, "servers");
	for (i = 0; i < s->nservers; i++) {
		const struct state_status_server *ss = &s->servers[i];

		cJSON_AddItemToArray(arr, server_json(s, &ss->server, ss->paid_through,
						      ss->has_reaper, &ss->reaper,
						      ss->reaper_alive));
	}
	arr = cJSON_AddArrayToObject(root, "projects");
	for (i = 0; i < s->nprojects; i++) {
		const struct state_status_project *sp = &s->projects[i];
		const struct state_project *p = &sp->project;
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "id", p->id);
		cJSON_AddItemToObject(o, "root", json_str_or_null(p->root));
		cJSON_AddItemToObject(o, "name", json_str_or_null(p->name));
		if (p->volume_status != STATE_VOLUME_NONE) {
			cJSON *vo = cJSON_AddObjectToObject(o, "volume");

			cJSON_AddNumberToObject(vo, "id", (double)p->volume_hcloud_id);
			cJSON_AddItemToObject(vo, "name", json_str_or_null(p->volume_name));
			cJSON_AddItemToObject(vo, "location", json_str_or_null(p->location));
			cJSON_AddNumberToObject(vo, "size_gb", (double)p->size_gb);
			cJSON_AddStringToObject(vo, "status", p->volume_status == STATE_VOLUME_READY ?
						"ready" : "deleting");
			cJSON_AddNumberToObject(vo, "deadline", (double)p->volume_deadline);
		} else {
			cJSON_AddNullToObject(o, "volume");
		}
		cJSON_AddNumberToObject(o, "last_used", (double)p->last_used);
		cJSON_AddItemToObject(o, "reaper", reaper_json(sp->has_reaper, &sp->reaper,
							       sp->reaper_alive));
		cJSON_AddNumberToObject(o, "runs_in_progress", (double)sp->live_leases);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(root, "runs_in_progress", (double)s->runs_in_progress);
	arr = cJSON_AddArrayToObject(root, "leases");
	for (i = 0; i < s->nleases; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "pid", (double)s->leases[i].pid);
		cJSON_AddItemToObject(o, "project", json_str_or_null(s->leases[i].project));
		cJSON_AddNumberToObject(o, "server_row", (double)s->leases[i].server_id);
		cJSON_AddNumberToObject(o, "heartbeat_at", (double)s->leases[i].heartbeat_at);
		cJSON_AddNumberToObject(o, "expires_at", (double)s->leases[i].expires_at);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(root, "pending_intents", (double)s->pending_intents);
	return root;
}

static const char *fmt_time(char *buf, size_t size, int64_t t)
{
	if (!t) {
		snprintf(buf, size, "-");
		return buf;
	}
	return ui_local_time(buf, size, t, true);
}

/* "in 4m 00s" / "4m 00s ago" relative to now. */
static const char *fmt_rel(char *buf, size_t size, int64_t t, int64_t now)
{
	char d[32];

	if (t > now) {
		ui_duration(d, sizeof(d), (uint64_t)(t - now) * 1000);
		snprintf(buf, size, "in %s", d);
	} else {
		ui_duration(d, sizeof(d), (uint64_t)(now - t) * 1000);
		snprintf(buf, size, "%s ago", d);
	}
	return buf;
}

static void print_reaper(FILE *f, const char *indent, bool has, const struct state_reaper *r,
			 bool alive)
{
	if (!has) {
		fprintf(f, "%sreaper        none\n", indent);
		return;
	}
	fprintf(f, "%sreaper        pid %d (%s)\n", indent, (int)r->pid, alive ? "alive" : "not running");
	if (r->last_error)
		fprintf(f, "%slast error    %s%s\n", indent, r->last_error,
			r->needs_human ? " (needs a human; see the log)" : "");
	if (r->log_path)
		fprintf(f, "%slog           %s\n", indent, r->log_path);
}

/* One server's block of `status` (every live server has one). */
static void print_server(FILE *f, const struct state_status *s,
			 const struct state_status_server *ss)
{
	const struct state_server *v = &ss->server;
	char a[64], b[64], up[32];

	ui_duration(up, sizeof(up), (uint64_t)(s->now > v->created_at ?
					       s->now - v->created_at : 0) * 1000);
	fprintf(f, "server      %s %lld (%s, %s) in %s, %s\n", v->name ? v->name : "-",
		(long long)v->hcloud_id, v->server_type ? v->server_type : "?",
		state_server_arch(v), v->location ? v->location : "?",
		state_server_status_name(v->status));
	fprintf(f, "  ip            %s\n", v->ip ? v->ip : "-");
	fprintf(f, "  up since      %s (%s)\n", fmt_time(a, sizeof(a), v->created_at), up);
	fprintf(f, "  paid through  %s (%s)\n", fmt_time(a, sizeof(a), ss->paid_through),
		fmt_rel(b, sizeof(b), ss->paid_through, s->now));
	if (v->no_reap)
		fprintf(f, "  deadline      none (--no-reap)\n");
	else
		fprintf(f, "  deadline      %s (%s)\n", fmt_time(a, sizeof(a), v->deadline),
			fmt_rel(b, sizeof(b), v->deadline, s->now));
	print_reaper(f, "  ", ss->has_reaper, &ss->reaper, ss->reaper_alive);
}

void report_status_text(struct burst_state *st, FILE *f, const struct state_status *s)
{
	char a[64], b[64];
	size_t i;

	fprintf(f, "state       %s (owner %s)\n", state_db_path(st), state_owner_id(st));
	if (s->has_image)
		fprintf(f, "image       %lld%s%s, created %s\n", (long long)s->image.hcloud_id,
			s->image.version ? " version " : "",
			s->image.version ? s->image.version : "",
			fmt_time(a, sizeof(a), s->image.created_at));
	else
		fprintf(f, "image       none\n");
	for (i = 0; i < s->nservers; i++)
		print_server(f, s, &s->servers[i]);
	if (!s->nservers)
		fprintf(f, "server      none\n");
	if (!s->nprojects) {
		fprintf(f, "projects    none\n");
	} else {
		int wname = 7;

		for (i = 0; i < s->nprojects; i++) {
			const char *n = s->projects[i].project.name ? s->projects[i].project.name :
				s->projects[i].project.id;
			if ((int)strlen(n) > wname)
				wname = (int)strlen(n);
		}
		fprintf(f, "\n%-*s  %-12s  %5s  %-8s  %-20s  %-20s  %s\n", wname, "PROJECT", "VOLUME",
			"SIZE", "LOCATION", "LAST USED", "DEADLINE", "REAPER");
		for (i = 0; i < s->nprojects; i++) {
			const struct state_status_project *sp = &s->projects[i];
			const struct state_project *p = &sp->project;
			char vol[32], size[16], reaper[32];

			if (p->volume_status == STATE_VOLUME_NONE) {
				snprintf(vol, sizeof(vol), "none");
				snprintf(size, sizeof(size), "-");
			} else {
				snprintf(vol, sizeof(vol), "%lld%s", (long long)p->volume_hcloud_id,
					 p->volume_status == STATE_VOLUME_DELETING ? "*" : "");
				snprintf(size, sizeof(size), "%lldG", (long long)p->size_gb);
			}
			if (sp->has_reaper)
				snprintf(reaper, sizeof(reaper), "pid %d%s", (int)sp->reaper.pid,
					 sp->reaper_alive ? "" : " (dead)");
			else
				snprintf(reaper, sizeof(reaper), "-");
			fprintf(f, "%-*s  %-12s  %5s  %-8s  %-20s  %-20s  %s\n", wname,
				p->name ? p->name : p->id, vol, size,
				p->location ? p->location : "-",
				fmt_time(a, sizeof(a), p->last_used),
				p->volume_status == STATE_VOLUME_NONE ? "-" :
				fmt_time(b, sizeof(b), p->volume_deadline), reaper);
			if (sp->has_reaper && sp->reaper.last_error)
				fprintf(f, "  last error: %s%s\n", sp->reaper.last_error,
					sp->reaper.needs_human ? " (needs a human)" : "");
		}
		fprintf(f, "\n");
	}
	fprintf(f, "runs in progress  %lld\n", (long long)s->runs_in_progress);
	for (i = 0; i < s->nleases; i++) {
		const struct state_lease_info *l = &s->leases[i];
		const char *pname = l->project;
		size_t k;

		for (k = 0; k < s->nprojects; k++)
			if (l->project && !strcmp(s->projects[k].project.id, l->project) &&
			    s->projects[k].project.name)
				pname = s->projects[k].project.name;
		fprintf(f, "  pid %d, project %s, heartbeat %s\n", (int)l->pid,
			pname ? pname : "-", fmt_rel(a, sizeof(a), l->heartbeat_at, s->now));
	}
	if (s->pending_intents)
		fprintf(f, "pending creates   %lld (reconciled on the next run)\n",
			(long long)s->pending_intents);
}

int report_print_status(struct burst_state *st, FILE *out, bool json, struct burst_error *err)
{
	struct state_status s;

	if (state_status_query(st, &s, err) < 0)
		return -1;
	if (json) {
		cJSON *j = report_status_json(st, &s);
		char *text = cJSON_Print(j);

		fprintf(out, "%s\n", text);
		cJSON_free(text);
		cJSON_Delete(j);
	} else {
		report_status_text(st, out, &s);
	}
	state_status_release(&s);
	return 0;
}

/* ---- audit ------------------------------------------------------------ */

static cJSON *phase_json(const struct state_phase_stats *ps)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "mean_ms", ps->mean_ms);
	cJSON_AddNumberToObject(o, "p50_ms", ps->p50_ms);
	cJSON_AddNumberToObject(o, "p95_ms", ps->p95_ms);
	return o;
}

static cJSON *class_json(const struct state_run_class *c)
{
	cJSON *o = cJSON_CreateObject(), *p;

	cJSON_AddNumberToObject(o, "count", (double)c->n);
	p = cJSON_AddObjectToObject(o, "phases");
	cJSON_AddItemToObject(p, "provision", phase_json(&c->provision));
	cJSON_AddItemToObject(p, "sync", phase_json(&c->sync));
	cJSON_AddItemToObject(p, "cargo", phase_json(&c->cargo));
	cJSON_AddItemToObject(p, "fetch", phase_json(&c->fetch));
	cJSON_AddItemToObject(p, "wall", phase_json(&c->wall));
	return o;
}

cJSON *report_audit_json(const struct state_audit *a)
{
	cJSON *root = cJSON_CreateObject(), *o, *t, *arr;
	size_t i;
	int k;

	cJSON_AddNumberToObject(root, "schema", STATE_AUDIT_JSON_SCHEMA);
	o = cJSON_AddObjectToObject(root, "runs");
	cJSON_AddNumberToObject(o, "total", (double)a->runs_total);
	cJSON_AddNumberToObject(o, "finished", (double)a->runs_finished);
	cJSON_AddNumberToObject(o, "failed", (double)a->runs_failed);
	cJSON_AddNumberToObject(o, "interrupted", (double)a->runs_interrupted);

	o = cJSON_AddObjectToObject(root, "sessions");
	cJSON_AddNumberToObject(o, "count", (double)a->sessions);
	cJSON_AddNumberToObject(o, "open", (double)a->sessions_open);
	cJSON_AddNumberToObject(o, "lifetime_mean_secs", a->lifetime_mean_s);
	cJSON_AddNumberToObject(o, "lifetime_median_secs", a->lifetime_median_s);
	cJSON_AddNumberToObject(o, "commands_per_session", a->commands_per_session);
	t = cJSON_AddObjectToObject(o, "terminations");
	cJSON_AddNumberToObject(t, "reap", (double)a->term_reap);
	cJSON_AddNumberToObject(t, "down", (double)a->term_down);
	cJSON_AddNumberToObject(t, "stale", (double)a->term_stale);
	cJSON_AddNumberToObject(t, "orphaned", (double)a->term_orphaned);
	cJSON_AddNumberToObject(t, "failed", (double)a->term_failed);
	cJSON_AddNumberToObject(t, "other", (double)a->term_other);

	o = cJSON_AddObjectToObject(root, "churn");
	cJSON_AddNumberToObject(o, "within_10m", (double)a->churn_10m);
	cJSON_AddNumberToObject(o, "within_30m", (double)a->churn_30m);
	cJSON_AddNumberToObject(o, "within_60m", (double)a->churn_60m);

	arr = cJSON_AddArrayToObject(root, "keep_alive_what_if");
	for (k = 0; k < STATE_WHATIF_N; k++) {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "keep_alive_secs", (double)a->whatif[k].keep_alive_secs);
		cJSON_AddNumberToObject(o, "provisions", (double)a->whatif[k].provisions);
		cJSON_AddNumberToObject(o, "server_hours", a->whatif[k].server_hours);
		cJSON_AddNumberToObject(o, "billed_hours", (double)a->whatif[k].billed_hours);
		if (a->has_rate)
			cJSON_AddNumberToObject(o, "cost_eur",
						(double)a->whatif[k].billed_hours * a->rate_eur_per_hour);
		cJSON_AddItemToArray(arr, o);
	}

	o = cJSON_AddObjectToObject(root, "cost");
	cJSON_AddStringToObject(o, "currency", a->currency);
	if (a->has_rate)
		cJSON_AddNumberToObject(o, "rate_per_hour", a->rate_eur_per_hour);
	else
		cJSON_AddNullToObject(o, "rate_per_hour");
	cJSON_AddNumberToObject(o, "billed_server_hours", (double)a->billed_server_hours);
	cJSON_AddNumberToObject(o, "server_hours", a->server_hours);
	if (a->has_rate)
		cJSON_AddNumberToObject(o, "server_eur", a->server_cost_eur);
	else
		cJSON_AddNullToObject(o, "server_eur");
	cJSON_AddNumberToObject(o, "volume_gb_months", a->volume_gb_months);
	cJSON_AddNumberToObject(o, "volume_eur_per_gb_month", a->volume_eur_per_gb_month);
	cJSON_AddNumberToObject(o, "volume_eur", a->volume_cost_eur);
	if (a->has_rate)
		cJSON_AddNumberToObject(o, "total_eur", a->server_cost_eur + a->volume_cost_eur);
	else
		cJSON_AddNullToObject(o, "total_eur");

	cJSON_AddItemToObject(root, "cold", class_json(&a->cold));
	cJSON_AddItemToObject(root, "warm", class_json(&a->warm));

	o = cJSON_AddObjectToObject(root, "wall_time_share");
	cJSON_AddNumberToObject(o, "provision", a->share_provision);
	cJSON_AddNumberToObject(o, "sync", a->share_sync);
	cJSON_AddNumberToObject(o, "cargo", a->share_cargo);
	cJSON_AddNumberToObject(o, "fetch", a->share_fetch);
	cJSON_AddNumberToObject(o, "other", a->share_other);

	arr = cJSON_AddArrayToObject(root, "verbs");
	for (i = 0; i < a->nverbs; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "verb", a->verbs[i].verb);
		cJSON_AddNumberToObject(o, "runs", (double)a->verbs[i].n);
		cJSON_AddNumberToObject(o, "failures", (double)a->verbs[i].failures);
		cJSON_AddNumberToObject(o, "mean_wall_ms", a->verbs[i].mean_wall_ms);
		cJSON_AddNumberToObject(o, "mean_cargo_ms", a->verbs[i].mean_cargo_ms);
		cJSON_AddItemToArray(arr, o);
	}
	return root;
}

static const char *dur(char *buf, size_t size, double ms)
{
	return ui_duration(buf, size, ms > 0 ? (uint64_t)(ms + 0.5) : 0);
}

static void print_class(FILE *f, const char *name, const struct state_run_class *c)
{
	static const char *const names[] = { "provision", "sync", "cargo", "fetch", "wall" };
	const struct state_phase_stats *ps[] = { &c->provision, &c->sync, &c->cargo, &c->fetch,
						 &c->wall };
	size_t i;

	fprintf(f, "  %s runs: %lld\n", name, (long long)c->n);
	if (!c->n)
		return;
	fprintf(f, "    %-10s %10s %10s %10s\n", "PHASE", "MEAN", "P50", "P95");
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		char a[32], b[32], d[32];

		fprintf(f, "    %-10s %10s %10s %10s\n", names[i],
			dur(a, sizeof(a), ps[i]->mean_ms), dur(b, sizeof(b), ps[i]->p50_ms),
			dur(d, sizeof(d), ps[i]->p95_ms));
	}
}

void report_audit_text(FILE *f, const struct state_audit *a)
{
	char b1[32], b2[32];
	size_t i;
	int k;

	fprintf(f, "Runs\n  %lld recorded, %lld finished, %lld failed, %lld interrupted\n\n",
		(long long)a->runs_total, (long long)a->runs_finished, (long long)a->runs_failed,
		(long long)a->runs_interrupted);

	fprintf(f, "Sessions (server lifetimes)\n");
	fprintf(f, "  %-22s %lld (%lld still running)\n", "servers provisioned",
		(long long)a->sessions, (long long)a->sessions_open);
	fprintf(f, "  %-22s mean %s, median %s\n", "lifetime",
		dur(b1, sizeof(b1), a->lifetime_mean_s * 1000.0),
		dur(b2, sizeof(b2), a->lifetime_median_s * 1000.0));
	fprintf(f, "  %-22s %.1f\n", "commands per session", a->commands_per_session);
	fprintf(f, "  %-22s reap %lld, down %lld, stale %lld, orphaned %lld, failed %lld, "
		"other %lld\n\n", "terminated by", (long long)a->term_reap, (long long)a->term_down,
		(long long)a->term_stale, (long long)a->term_orphaned, (long long)a->term_failed,
		(long long)a->term_other);

	fprintf(f, "Server churn (re-provisioned after a termination)\n");
	fprintf(f, "  within 10m: %lld, within 30m: %lld, within 60m: %lld\n\n",
		(long long)a->churn_10m, (long long)a->churn_30m, (long long)a->churn_60m);

	fprintf(f, "Keep-alive what-if (from the run history)\n");
	fprintf(f, "  %-10s %10s %13s %13s%s\n", "KEEP-ALIVE", "PROVISIONS", "SERVER-HOURS",
		"BILLED HOURS", a->has_rate ? "        COST" : "");
	for (k = 0; k < STATE_WHATIF_N; k++) {
		char ka[32];

		snprintf(ka, sizeof(ka), "%lldm", (long long)(a->whatif[k].keep_alive_secs / 60));
		fprintf(f, "  %-10s %10lld %13.1f %13lld", ka, (long long)a->whatif[k].provisions,
			a->whatif[k].server_hours, (long long)a->whatif[k].billed_hours);
		if (a->has_rate)
			fprintf(f, " %11.2f %s",
				(double)a->whatif[k].billed_hours * a->rate_eur_per_hour, a->currency);
		fprintf(f, "\n");
	}
	fprintf(f, "\n");

	fprintf(f, "Cost (hourly rounding)\n");
	if (a->has_rate)
		fprintf(f, "  %-8s %lld billed hours (%.1f used) x %.2f %s = %.2f %s\n", "servers",
			(long long)a->billed_server_hours, a->server_hours, a->rate_eur_per_hour,
			a->currency, a->server_cost_eur, a->currency);
	else
		fprintf(f, "  %-8s %lld billed hours (%.1f used); pass --rate EUR_PER_HOUR for a "
			"price\n", "servers", (long long)a->billed_server_hours, a->server_hours);
	fprintf(f, "  %-8s %.2f GB-months x %.3f %s = %.2f %s\n", "volumes", a->volume_gb_months,
		a->volume_eur_per_gb_month, a->currency, a->volume_cost_eur, a->currency);
	if (a->has_rate)
		fprintf(f, "  %-8s %.2f %s\n", "total", a->server_cost_eur + a->volume_cost_eur,
			a->currency);
	fprintf(f, "\n");

	fprintf(f, "Commands, cold vs warm\n");
	print_class(f, "cold", &a->cold);
	print_class(f, "warm", &a->warm);
	fprintf(f, "\n");

	fprintf(f, "Where the wall time went\n");
	fprintf(f, "  provision %.1f%%, sync %.1f%%, cargo %.1f%%, fetch %.1f%%, other %.1f%%\n\n",
		a->share_provision * 100, a->share_sync * 100, a->share_cargo * 100,
		a->share_fetch * 100, a->share_other * 100);

	fprintf(f, "Per verb\n");
	fprintf(f, "  %-10s %8s %8s %10s %10s\n", "VERB", "RUNS", "FAILED", "MEAN WALL",
		"MEAN CARGO");
	for (i = 0; i < a->nverbs; i++)
		fprintf(f, "  %-10s %8lld %8lld %10s %10s\n", a->verbs[i].verb,
			(long long)a->verbs[i].n, (long long)a->verbs[i].failures,
			dur(b1, sizeof(b1), a->verbs[i].mean_wall_ms),
			dur(b2, sizeof(b2), a->verbs[i].mean_cargo_ms));
}

int report_print_audit(struct burst_state *st, FILE *out, const struct state_prices *prices,
		       bool json, struct burst_error *err)
{
	struct state_audit a;

	if (state_audit_query(st, prices ? prices->server_per_hour : -1, &a, err) < 0)
		return -1;
	state_audit_set_prices(&a, prices);
	if (json) {
		cJSON *j = report_audit_json(&a);
		char *text = cJSON_Print(j);

		fprintf(out, "%s\n", text);
		cJSON_free(text);
		cJSON_Delete(j);
	} else {
		report_audit_text(out, &a);
	}
	state_audit_release(&a);
	return 0;
}

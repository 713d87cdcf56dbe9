/*
 * doctor.c - `cargo burst doctor [--json]`: whether everything a run needs
 * works, one line per check (ok, warn or fail) with the fix.
 *
 * It changes nothing: the API gets GET requests only, the state is opened
 * but no reaper is (re-)armed (so a dead reaper shows), no sweep runs.
 * The exit status is 0 when no check failed, 1 otherwise.
 */
#include <cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "burst/cli.h"
#include "burst/config.h"
#include "burst/hcloud.h"
#include "burst/proc.h"
#include "burst/provision.h"
#include "burst/state.h"
#include "burst/strbuf.h"
#include "burst/text.h"
#include "burst/ui.h"
#include "image/image-user-data.h"

/* The version of the --json document. */
#define DOCTOR_JSON_SCHEMA 1
/* An image older than this is worth rebaking (toolchain, security fixes). */
#define IMAGE_OLD_DAYS 30

enum check_status { CHECK_OK, CHECK_WARN, CHECK_FAIL };

static char *vfmt(const char *fmt, va_list ap) BURST_PRINTF(1, 0);
static char *vfmt(const char *fmt, va_list ap)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_vaddf(&sb, fmt, ap);
	return strbuf_detach(&sb, NULL);
}

struct check {
	const char *name;
	enum check_status status;
	char *detail;
	char *fix; /* NULL when there is nothing to do */
};

struct doctor {
	struct burst_ctx *ctx;
	const struct burst_config *cfg;
	struct hcloud *api;          /* NULL when the token is missing or refused */
	struct burst_state *st;
	struct check *v;
	size_t nr, alloc;
	/* facts shared by the checks */
	struct hcloud_server_type type; /* the configured type, when it exists */
	bool have_type;
	struct strvec usable;           /* configured locations it can be ordered in */
};

static struct check *add(struct doctor *d, const char *name, enum check_status status,
			 const char *fmt, ...) BURST_PRINTF(4, 5);
static struct check *add(struct doctor *d, const char *name, enum check_status status,
			 const char *fmt, ...)
{
	struct check *c;
	va_list ap;

	ALLOC_GROW(d->v, d->nr + 1, d->alloc);
	c = &d->v[d->nr++];
	c->name = name;
	c->status = status;
	va_start(ap, fmt);
	c->detail = vfmt(fmt, ap);
	va_end(ap);
	c->fix = NULL;
	return c;
}

static void fix(struct check *c, const char *fmt, ...) BURST_PRINTF(2, 3);
static void fix(struct check *c, const char *fmt, ...)
{
	va_list ap;

	free(c->fix);
	va_start(ap, fmt);
	c->fix = vfmt(fmt, ap);
	va_end(ap);
}

/* ---- local checks ----------------------------------------------------- */

static void check_ssh_key(struct doctor *d)
{
	const char *key = d->cfg->ssh_key_path, *pub = d->cfg->ssh_pub_key_path;
	struct stat st;
	struct check *c;

	if (!key || stat(key, &st) < 0) {
		c = add(d, "ssh key", CHECK_FAIL, "no private key at %s: %s", key ? key : "?",
			strerror(errno));
		fix(c, "create one with `ssh-keygen -t ed25519 -f %s`, or set ssh_key_path "
		    "in the global config", key ? key : "~/.ssh/id_ed25519");
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		c = add(d, "ssh key", CHECK_FAIL, "%s is not a regular file", key);
		fix(c, "point ssh_key_path in the global config at a private key file");
		return;
	}
	if (st.st_mode & 077) {
		c = add(d, "ssh key", CHECK_FAIL, "%s is readable by other users (mode %03o): "
			"ssh refuses to use it", key, (unsigned)(st.st_mode & 0777));
		fix(c, "chmod 600 %s", key);
		return;
	}
	if (st.st_uid != geteuid()) {
		c = add(d, "ssh key", CHECK_FAIL, "%s belongs to uid %u, not to you (uid %u)",
			key, (unsigned)st.st_uid, (unsigned)geteuid());
		fix(c, "chown %u %s", (unsigned)geteuid(), key);
		return;
	}
	if (!pub || access(pub, R_OK) < 0) {
		c = add(d, "ssh key", CHECK_FAIL, "no public key %s next to %s",
			pub ? pub : "?", key);
		fix(c, "write it with `ssh-keygen -y -f %s > %s`", key, pub ? pub : "KEY.pub");
		return;
	}
	add(d, "ssh key", CHECK_OK, "%s (mode %03o) and %s", key,
	    (unsigned)(st.st_mode & 0777), pub);
}

/* The first line of a program's version output, or NULL (allocated). */
static char *program_version(const char *prog, const char *arg, bool on_stderr)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error e = BURST_ERROR_INIT;
	const struct strbuf *sb;
	char *ret = NULL;
	size_t n;

	strvec_push(&cp.args, prog);
	strvec_push(&cp.args, arg);
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 4096;
	cp.timeout_ms = 10000;
	if (proc_run(&cp, &e) == 0 && cp.exit_code == 0) {
		sb = on_stderr && cp.err_buf.len ? &cp.err_buf : &cp.out_buf;
		n = strcspn(sb->buf, "\r\n");
		if (n) {
			char *line = xstrndup(sb->buf, n);

			ret = burst_text_sanitize(line, 200);
			free(line);
		}
	}
	burst_error_release(&e);
	child_process_release(&cp);
	return ret;
}

static void check_programs(struct doctor *d)
{
	const char *ssh = proc_ssh_program(), *rsync = proc_rsync_program();
	char *v;
	struct check *c;

	v = program_version(ssh, "-V", true);
	if (v) {
		add(d, "ssh", CHECK_OK, "%s: %s", ssh, v);
	} else {
		c = add(d, "ssh", CHECK_FAIL, "`%s -V` did not run", ssh);
		fix(c, "install OpenSSH's client (Debian: apt-get install openssh-client), or "
		    "point CARGO_BURST_SSH at it");
	}
	free(v);
	v = program_version(rsync, "--version", false);
	if (v) {
		add(d, "rsync", CHECK_OK, "%s: %s", rsync, v);
	} else {
		c = add(d, "rsync", CHECK_FAIL, "`%s --version` did not run", rsync);
		fix(c, "install rsync (Debian: apt-get install rsync), or point "
		    "CARGO_BURST_RSYNC at it");
	}
	free(v);
}

static void check_state(struct doctor *d)
{
	struct burst_error e = BURST_ERROR_INIT;
	struct state_status s;
	struct check *c;
	int q, dead = 0, watched = 0;

	if (state_open(NULL, &d->st, &e) < 0) {
		c = add(d, "state", CHECK_FAIL, "%s", e.message ? e.message : "cannot open");
		fix(c, "%s", e.hint ? e.hint : "check the permissions of "
		    "$XDG_STATE_HOME/cargo-burst (default ~/.local/state/cargo-burst)");
		burst_error_release(&e);
		return;
	}
	if (state_was_reset(d->st)) {
		c = add(d, "state", CHECK_WARN, "%s was corrupt and was moved aside to %s; "
			"a fresh database was created", state_db_path(d->st),
			state_reset_path(d->st));
		fix(c, "run any cargo burst command with a token (e.g. `cargo burst status`) to "
		    "rebuild it from the labels of your resources");
	} else if ((q = state_quick_check(d->st)) != 0) {
		c = add(d, "state", CHECK_FAIL, "PRAGMA quick_check of %s: %s",
			state_db_path(d->st), q > 0 ? "corrupt" : "could not run");
		fix(c, "move %s aside; the next command rebuilds the state from labels",
		    state_db_path(d->st));
	} else {
		add(d, "state", CHECK_OK, "%s: PRAGMA quick_check ok", state_db_path(d->st));
	}

	memset(&s, 0, sizeof(s));
	if (state_status_query(d->st, &s, &e) < 0) {
		c = add(d, "reapers", CHECK_FAIL, "cannot read the reaper records: %s",
			e.message ? e.message : "?");
		burst_error_release(&e);
		return;
	}
	/* every live server (both architectures, shards), not just the current one */
	for (size_t i = 0; i < s.nservers; i++) {
		const struct state_status_server *ss = &s.servers[i];

		watched++;
		dead += !ss->reaper_alive && !ss->server.no_reap;
	}
	for (size_t i = 0; i < s.nprojects; i++) {
		const struct state_status_project *p = &s.projects[i];

		if (!p->project.volume_hcloud_id ||
		    p->project.volume_status == STATE_VOLUME_NONE)
			continue;
		watched++;
		dead += !p->reaper_alive;
	}
	if (dead) {
		c = add(d, "reapers", CHECK_FAIL, "%d of %d resource%s (server, volumes) ha%s no "
			"live reaper: nothing deletes %s when idle", dead, watched,
			watched == 1 ? "" : "s", dead == 1 ? "s" : "ve",
			dead == 1 ? "it" : "them");
		fix(c, "run any cargo burst command (e.g. `cargo burst status`) to re-arm them; "
		    "`cargo burst status` shows each reaper");
	} else if (watched) {
		add(d, "reapers", CHECK_OK, "a live reaper for each of %d resource%s", watched,
		    watched == 1 ? "" : "s");
	} else {
		add(d, "reapers", CHECK_OK, "no server or volume to watch");
	}
	state_status_release(&s);
}

/* ---- API checks ------------------------------------------------------- */

static bool api_refused_token(const struct burst_error *e)
{
	return e->http_status == 401 || e->http_status == 403 ||
		(e->api_code && (!strcmp(e->api_code, "unauthorized") ||
				 !strcmp(e->api_code, "forbidden")));
}

static void check_token(struct doctor *d)
{
	struct hcloud_locations locs = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	struct hcloud_stats stats;
	struct check *c;

	if (d->cfg->host && !d->cfg->token) {
		add(d, "token", CHECK_OK, "not needed: runs go to your own host %s", d->cfg->host);
		return;
	}
	if (config_require_token(d->cfg, &e) < 0) {
		c = add(d, "token", CHECK_FAIL, "%s", e.message);
		fix(c, "%s", e.hint ? e.hint : "export HCLOUD_TOKEN=<token>");
		burst_error_release(&e);
		return;
	}
	d->api = hcloud_new(d->cfg->endpoint, d->cfg->token, &e);
	if (!d->api) {
		c = add(d, "token", CHECK_FAIL, "%s", e.message);
		if (e.hint)
			fix(c, "%s", e.hint);
		burst_error_release(&e);
		return;
	}
	/* one cheap read: the locations (a handful of small objects) */
	if (hcloud_locations_list(d->api, &locs, &e) < 0) {
		if (api_refused_token(&e)) {
			c = add(d, "token", CHECK_FAIL, "the API refused the token (from %s): %s",
				d->cfg->token_origin, e.message);
			fix(c, "create a read+write token in the Hetzner Cloud console (Security > "
			    "API tokens) and put it in HCLOUD_TOKEN or the global config");
		} else {
			c = add(d, "token", CHECK_FAIL, "cannot ask the API at %s: %s",
				d->cfg->endpoint, e.message);
			fix(c, "%s", e.hint ? e.hint : "check the network and HCLOUD_ENDPOINT");
		}
		hcloud_free(d->api);
		d->api = NULL;
		burst_error_release(&e);
		return;
	}
	hcloud_locations_release(&locs);
	add(d, "token", CHECK_OK, "set (from %s); the API accepted it (GET /locations)",
	    d->cfg->token_origin);
	c = add(d, "token write", CHECK_WARN, "cannot tell without creating something: the "
		"API has no request that says whether a token may write, and doctor sends "
		"none that changes anything");
	fix(c, "make sure the token was created as Read & Write (a read-only one fails at "
	    "the first create with `forbidden`)");
	hcloud_get_stats(d->api, &stats);
	if (stats.date > 0) {
		int64_t skew = (int64_t)time(NULL) - stats.date;
		int64_t abs_skew = skew < 0 ? -skew : skew;
		int64_t margin = d->cfg->billing_margin_secs;

		if (abs_skew <= 30) {
			add(d, "clock", CHECK_OK, "within %llds of the API's Date header",
			    (long long)abs_skew);
		} else {
			c = add(d, "clock", abs_skew > margin ? CHECK_FAIL : CHECK_WARN,
				"%lld s %s the API's Date header: reapers time the billed hour "
				"by this clock (billing_margin_secs = %lld)", (long long)abs_skew,
				skew > 0 ? "ahead of" : "behind", (long long)margin);
			fix(c, "synchronise the clock (e.g. `timedatectl set-ntp true`)");
		}
	} else {
		add(d, "clock", CHECK_WARN, "the API sent no usable Date header to compare with");
	}
}

/* The newest available image of ours, as the cold path picks it. */
static void check_image(struct doctor *d)
{
	struct hcloud_images imgs = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	const struct hcloud_image *best = NULL, *mine = NULL;
	const char *owner_id = d->st ? state_owner_id(d->st) : NULL;
	const char *fmt, *arch = d->have_type ? d->type.architecture : NULL;
	char want[16];
	struct check *c;
	int64_t days;

	if (hcloud_images_list(d->api, "snapshot", "managed-by==cargo-burst,role==image",
			       NULL, &imgs, &e) < 0) {
		c = add(d, "image", CHECK_FAIL, "cannot list the images: %s", e.message);
		burst_error_release(&e);
		return;
	}
	for (size_t i = 0; i < imgs.nr; i++) {
		const struct hcloud_image *im = &imgs.v[i];
		const char *owner = hcloud_labels_get(&im->labels, "owner");

		if (im->status && strcmp(im->status, "available"))
			continue;
		/* the image of the configured architecture, as a run picks it */
		if (strcmp(provision_image_arch(im), d->cfg->arch))
			continue;
		if (!best || im->created > best->created)
			best = im;
		if (owner_id && owner && !strcmp(owner, owner_id) &&
		    (!mine || im->created > mine->created))
			mine = im;
	}
	best = mine ? mine : best;
	if (!best) {
		c = add(d, "image", CHECK_FAIL, "no %scargo-burst image (a snapshot labelled "
			"managed-by=cargo-burst, role=image) in this project",
			provision_arch_is_arm(d->cfg->arch) ? "arm64 " : "");
		fix(c, "bake it once: `cargo burst image build%s` (about 10 minutes)",
		    provision_arch_is_arm(d->cfg->arch) ? " --arch arm64" : "");
		goto out;
	}
	snprintf(want, sizeof(want), "%d", burst_image_format_version);
	fmt = hcloud_labels_get(&best->labels, "format");
	days = best->created ? ((int64_t)time(NULL) - best->created) / 86400 : -1;
	if (fmt && strcmp(fmt, want)) {
		char *shown = burst_text_sanitize(fmt, 32);

		c = add(d, "image", CHECK_FAIL, "image %lld has image format %s; this tool needs "
			"format %s", (long long)best->id, shown, want);
		free(shown);
		fix(c, "bake a new one: `cargo burst image build`");
	} else if (arch && best->architecture && strcmp(arch, best->architecture)) {
		c = add(d, "image", CHECK_FAIL, "image %lld is for %s, server type '%s' is %s",
			(long long)best->id, best->architecture, d->cfg->server_type, arch);
		fix(c, "bake the image on a server type of the same architecture "
		    "(`cargo burst image build --server-type ...`), or choose another "
		    "[hetzner] server_type");
	} else if (!fmt) {
		c = add(d, "image", CHECK_WARN, "image %lld (%s, %lld days old) has no format "
			"label: baked by another version of the tool?", (long long)best->id,
			best->architecture ? best->architecture : "?", (long long)days);
		fix(c, "bake a new one: `cargo burst image build`");
	} else if (days > IMAGE_OLD_DAYS) {
		c = add(d, "image", CHECK_WARN, "image %lld (format %s, %s) is %lld days old",
			(long long)best->id, fmt, best->architecture ? best->architecture : "?",
			(long long)days);
		fix(c, "bake a fresh one for current toolchains: `cargo burst image build`");
	} else {
		add(d, "image", CHECK_OK, "image %lld (format %s, %s), %lld day%s old",
		    (long long)best->id, fmt, best->architecture ? best->architecture : "?",
		    (long long)days, days == 1 ? "" : "s");
	}
out:
	hcloud_images_release(&imgs);
}

/* Does a datacenter of location list type id as available now? */
static bool available_in(const struct hcloud_datacenters *dcs, int64_t id, const char *loc)
{
	for (size_t i = 0; i < dcs->nr; i++) {
		const struct hcloud_datacenter *dc = &dcs->v[i];

		if (!dc->location || strcmp(dc->location, loc))
			continue;
		for (size_t k = 0; k < dc->nr_available; k++)
			if (dc->available[k] == id)
				return true;
	}
	return false;
}

static void check_server_type(struct doctor *d)
{
	struct hcloud_server_types types = { 0 };
	struct hcloud_datacenters dcs = { 0 };
	struct burst_error e = BURST_ERROR_INIT;
	struct strbuf no = STRBUF_INIT, yes = STRBUF_INIT;
	const char *name = d->cfg->server_type;
	struct check *c;

	if (hcloud_server_types_list(d->api, name, &types, &e) < 0 ||
	    hcloud_datacenters_list(d->api, &dcs, &e) < 0) {
		add(d, "server type", CHECK_FAIL, "cannot ask for server type '%s': %s", name,
		    e.message);
		goto out;
	}
	for (size_t i = 0; i < types.nr; i++) {
		if (types.v[i].name && !strcmp(types.v[i].name, name)) {
			d->type = types.v[i];
			memset(&types.v[i], 0, sizeof(types.v[i]));
			d->have_type = true;
		}
	}
	if (!d->have_type) {
		c = add(d, "server type", CHECK_FAIL, "server type '%s' does not exist", name);
		fix(c, "set [hetzner] server_type in the global config to one of "
		    "https://www.hetzner.com/cloud (e.g. \"ccx63\")");
		goto out;
	}
	/*
	 * An older answer (no locations[]) has only the top-level
	 * `deprecated`; today's is per location (hcloud_server_type_usable_in
	 * below).
	 */
	if (!d->type.nr_locations && d->type.deprecated) {
		c = add(d, "server type", CHECK_FAIL, "server type '%s' is deprecated: it can no "
			"longer be ordered (or soon not)", name);
		fix(c, "set [hetzner] server_type to a current type");
		goto out;
	}
	for (size_t i = 0; i < d->cfg->regions.nr; i++) {
		const char *loc = d->cfg->regions.v[i];
		bool ok = available_in(&dcs, d->type.id, loc) &&
			hcloud_server_type_price(&d->type, loc) &&
			hcloud_server_type_usable_in(&d->type, loc, time(NULL));

		strbuf_addf(ok ? &yes : &no, "%s%s", (ok ? yes.len : no.len) ? ", " : "", loc);
		if (ok)
			strvec_push(&d->usable, loc);
	}
	if (!yes.len) {
		c = add(d, "server type", CHECK_FAIL, "server type '%s' (%d cores, %s) cannot be "
			"ordered now in any configured location (%s)", name, d->type.cores,
			d->type.architecture ? d->type.architecture : "?", no.buf);
		fix(c, "add locations to [hetzner] regions, or choose another server_type");
	} else if (no.len) {
		c = add(d, "server type", CHECK_WARN, "server type '%s' (%d cores, %s) is "
			"available now in %s; not in %s", name, d->type.cores,
			d->type.architecture ? d->type.architecture : "?", yes.buf, no.buf);
		fix(c, "runs fall back to the next location; drop %s from [hetzner] regions "
		    "to skip them", no.buf);
	} else {
		add(d, "server type", CHECK_OK, "server type '%s' (%d cores, %s) is available "
		    "now in %s", name, d->type.cores,
		    d->type.architecture ? d->type.architecture : "?", yes.buf);
	}
out:
	burst_error_release(&e);
	hcloud_server_types_release(&types);
	hcloud_datacenters_release(&dcs);
	strbuf_release(&no);
	strbuf_release(&yes);
}

static void check_prices(struct doctor *d)
{
	struct provision_prices pr;
	struct burst_error e = BURST_ERROR_INIT;
	const char *loc = d->usable.nr ? d->usable.v[0] :
		d->cfg->regions.nr ? d->cfg->regions.v[0] : NULL;
	char *hour = NULL, *vol = NULL;
	struct check *c;

	/* live: no remembered list */
	if (provision_prices_get(d->api, NULL, d->cfg->server_type, loc, &pr, &e) < 0) {
		add(d, "prices", CHECK_WARN, "cannot get the price list: %s", e.message);
		burst_error_release(&e);
		return;
	}
	if (pr.server_hourly >= 0)
		hour = provision_price_format(pr.server_hourly, pr.currency);
	if (pr.volume_gb_month >= 0)
		vol = provision_price_format(pr.volume_gb_month * (double)d->cfg->volume_gb,
					     pr.currency);
	if (!hour || !vol) {
		c = add(d, "prices", CHECK_WARN, "the price list has no price for %s%s%s",
			!hour ? d->cfg->server_type : "", !hour && !vol ? " or " : "",
			!vol ? "volumes" : "");
		fix(c, "check [hetzner] server_type and regions");
	} else {
		add(d, "prices", CHECK_OK, "%s in %s: %s/h (billed per started hour); a %lld GB "
		    "volume: %s/month (without VAT)", d->cfg->server_type, loc ? loc : "?",
		    hour, (long long)d->cfg->volume_gb, vol);
	}
	free(hour);
	free(vol);
}

/* ---- output ----------------------------------------------------------- */

static const char *status_name(enum check_status s)
{
	return s == CHECK_OK ? "ok" : s == CHECK_WARN ? "warn" : "fail";
}

static void print_text(const struct doctor *d)
{
	for (size_t i = 0; i < d->nr; i++) {
		const struct check *c = &d->v[i];

		printf("%-5s %-12s %s\n", status_name(c->status), c->name, c->detail);
		if (c->fix && c->status != CHECK_OK)
			printf("%-5s %-12s fix: %s\n", "", "", c->fix);
	}
}

static int print_json(const struct doctor *d, bool failed)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *text;

	cJSON_AddNumberToObject(root, "schema", DOCTOR_JSON_SCHEMA);
	cJSON_AddBoolToObject(root, "ok", !failed);
	arr = cJSON_AddArrayToObject(root, "checks");
	for (size_t i = 0; i < d->nr; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", d->v[i].name);
		cJSON_AddStringToObject(o, "status", status_name(d->v[i].status));
		cJSON_AddStringToObject(o, "detail", d->v[i].detail);
		if (d->v[i].fix && d->v[i].status != CHECK_OK)
			cJSON_AddStringToObject(o, "fix", d->v[i].fix);
		else
			cJSON_AddNullToObject(o, "fix");
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_Print(root);
	if (text)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
	return text ? 0 : -1;
}

enum { DOCTOR_OPT_JSON = 1 };

static int exec_doctor(struct burst_ctx *ctx)
{
	struct doctor d;
	bool failed = false;
	int ret;

	if (ctx->args.positional.nr)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "unexpected argument '%s' for doctor",
				       ctx->args.positional.v[0]);
	memset(&d, 0, sizeof(d));
	d.ctx = ctx;
	d.cfg = ctx->config;
	strvec_init(&d.usable);

	check_token(&d);
	check_ssh_key(&d);
	check_state(&d);
	if (d.api) {
		check_server_type(&d);
		check_image(&d);
		check_prices(&d);
	}
	check_programs(&d);

	for (size_t i = 0; i < d.nr; i++)
		failed |= d.v[i].status == CHECK_FAIL;
	if (cli_args_has(&ctx->args, DOCTOR_OPT_JSON)) {
		if (print_json(&d, failed) < 0)
			burst_error_set(&ctx->err, BURST_EXIT_INTERNAL, "out of memory");
	} else {
		print_text(&d);
	}
	ret = burst_error_isset(&ctx->err) ? -1 : failed ? 1 : 0;

	for (size_t i = 0; i < d.nr; i++) {
		free(d.v[i].detail);
		free(d.v[i].fix);
	}
	free(d.v);
	hcloud_server_type_release(&d.type);
	strvec_clear(&d.usable);
	hcloud_free(d.api);
	state_close(d.st);
	return ret;
}

static const struct burst_option doctor_options[] = {
	{ DOCTOR_OPT_JSON, 0, "json", NULL, "Machine-readable output", 0 },
	OPT_HELP, OPT_END,
};

const struct burst_cmd cmd_doctor = {
	"doctor", "Check that everything a run needs works, with the fixes",
	"cargo burst doctor [--json]",
	"One line per check, ok, warn or fail, with the fix: the token (one read:\n"
	"GET /locations; whether it may write cannot be told without creating\n"
	"something), the ssh key and its permissions, the image (format,\n"
	"architecture, age), the server type (exists, not deprecated, where it can\n"
	"be ordered now), the prices of the type and the volume, a live reaper for\n"
	"every server and volume, the state database (PRAGMA quick_check), the\n"
	"local clock against the API's Date header, ssh and rsync.  Only GET\n"
	"requests; nothing is created and no reaper is started.  Exits 0 when no\n"
	"check fails, 1 otherwise.  --json has a \"schema\" version.\n",
	CMD_CONFIG | CMD_WORKSPACE_OPT, exec_doctor, doctor_options,
};

/*
 * cachestats.c - what the build server says about its caches: sccache's
 * hits and misses of one run (`sccache --show-stats --stats-format=json`
 * before and after it) and the use of the project's volume (`df -Pk`).
 *
 * Everything here comes from the build server and is untrusted: sizes are
 * bounded, every field is checked, and what does not parse is "unknown".
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/pipeline.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

/* The largest count taken (exactly representable as a JSON number). */
#define COUNT_MAX 9007199254740992.0

/* Sum the numbers of a PerLanguageCount's "counts" map; -1 when malformed. */
static int sum_counts(const cJSON *plc, uint64_t *out)
{
	const cJSON *counts = cJSON_GetObjectItemCaseSensitive(plc, "counts"), *c;
	double sum = 0;
	int n = 0;

	if (!cJSON_IsObject(counts))
		return -1;
	cJSON_ArrayForEach(c, counts) {
		if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || c->valuedouble < 0 ||
		    c->valuedouble > COUNT_MAX || ++n > 1000)
			return -1;
		sum += floor(c->valuedouble);
	}
	if (sum > COUNT_MAX)
		return -1;
	*out = (uint64_t)sum;
	return 0;
}

int pipeline_sccache_parse(const char *json, size_t len, struct pipeline_sccache_stats *out)
{
	cJSON *doc;
	const cJSON *stats;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (!json || !len || len > PIPELINE_SCCACHE_JSON_MAX)
		return -1;
	doc = cJSON_ParseWithLength(json, len);
	if (!doc)
		return -1;
	stats = cJSON_GetObjectItemCaseSensitive(doc, "stats");
	if (cJSON_IsObject(stats) &&
	    sum_counts(cJSON_GetObjectItemCaseSensitive(stats, "cache_hits"), &out->hits) == 0 &&
	    sum_counts(cJSON_GetObjectItemCaseSensitive(stats, "cache_misses"),
		       &out->misses) == 0) {
		out->known = true;
		ret = 0;
	}
	cJSON_Delete(doc);
	return ret;
}

void pipeline_sccache_phrase(struct strbuf *out, const struct pipeline_sccache_stats *before,
			     const struct pipeline_sccache_stats *after)
{
	uint64_t hits, misses;

	/* a restarted sccache server counts from zero again: unknown */
	if (!before->known || !after->known || after->hits < before->hits ||
	    after->misses < before->misses) {
		strbuf_addstr(out, "sccache unknown");
		return;
	}
	hits = after->hits - before->hits;
	misses = after->misses - before->misses;
	strbuf_addf(out, "sccache %" PRIu64 " hit%s, %" PRIu64 " miss%s", hits,
		    hits == 1 ? "" : "s", misses, misses == 1 ? "" : "es");
}

int pipeline_df_parse(const char *line, const char *mount, struct pipeline_volume_usage *out)
{
	char fs[256], pct[16], on[512];
	unsigned long long total, used, avail;
	size_t n = line ? strnlen(line, 1024) : 0;

	memset(out, 0, sizeof(*out));
	if (!n || n >= 1024)
		return -1;
	/* Filesystem 1024-blocks Used Available Capacity Mounted-on */
	if (sscanf(line, "%255s %llu %llu %llu %15s %511s", fs, &total, &used, &avail, pct,
		   on) != 6)
		return -1;
	if (!total || used > total || total > (1ull << 50) || (mount && strcmp(on, mount)))
		return -1;
	out->known = true;
	out->used_bytes = (uint64_t)used * 1024;
	out->total_bytes = (uint64_t)total * 1024;
	return 0;
}

/* Bytes as "3.1 GB" (decimal, like the volume sizes of the API). */
static void add_size(struct strbuf *out, uint64_t bytes)
{
	double gb = (double)bytes / 1e9;

	if (gb >= 100)
		strbuf_addf(out, "%.0f GB", gb);
	else if (gb >= 0.1)
		strbuf_addf(out, "%.1f GB", gb);
	else
		strbuf_addf(out, "%.0f MB", (double)bytes / 1e6);
}

unsigned pipeline_volume_percent(const struct pipeline_volume_usage *u)
{
	if (!u->known || !u->total_bytes)
		return 0;
	return (unsigned)((u->used_bytes * 100 + u->total_bytes - 1) / u->total_bytes);
}

void pipeline_volume_usage_format(struct strbuf *out, const struct pipeline_volume_usage *u)
{
	if (!u->known) {
		strbuf_addstr(out, "unknown");
		return;
	}
	add_size(out, u->used_bytes);
	strbuf_addstr(out, " of ");
	add_size(out, u->total_bytes);
	strbuf_addf(out, " used (%u%%)", pipeline_volume_percent(u));
}

/* <state dir>/usage/<project hash> */
static char *usage_path(const char *state_dir, const char *project_hash)
{
	return xstrfmt("%s/usage/%s", state_dir, project_hash);
}

void pipeline_volume_usage_record(const char *state_dir, const char *project_hash,
				  const struct pipeline_volume_usage *u, int64_t when)
{
	char *dir = xstrfmt("%s/usage", state_dir), *path = usage_path(state_dir, project_hash);
	char *tmp = xstrfmt("%s.%ld.tmp", path, (long)getpid());
	char *line = NULL;
	int fd;

	if (!u->known || (mkdir(dir, 0700) < 0 && errno != EEXIST))
		goto out;
	line = xstrfmt("%lld %" PRIu64 " %" PRIu64 "\n", (long long)when, u->used_bytes,
		       u->total_bytes);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto out;
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) || close(fd) < 0 ||
	    rename(tmp, path) < 0)
		unlink(tmp);
out:
	free(line);
	free(tmp);
	free(path);
	free(dir);
}

int pipeline_volume_usage_load(const char *state_dir, const char *project_hash,
			       struct pipeline_volume_usage *u, int64_t *when)
{
	char *path = usage_path(state_dir, project_hash);
	struct strbuf sb = STRBUF_INIT;
	long long t;
	unsigned long long used, total;
	int ret = -1;

	memset(u, 0, sizeof(*u));
	strbuf_set_max(&sb, 256);
	if (strbuf_read_file(&sb, path) == 0 &&
	    sscanf(sb.buf, "%lld %llu %llu", &t, &used, &total) == 3 && t > 0 && total &&
	    used <= total) {
		u->known = true;
		u->used_bytes = used;
		u->total_bytes = total;
		*when = (int64_t)t;
		ret = 0;
	}
	strbuf_release(&sb);
	free(path);
	return ret;
}

char *pipeline_volume_clean_hint(const char *root)
{
	struct strbuf sb = STRBUF_INIT;

	/* the same quoting a shell needs for the directory */
	strbuf_addstr(&sb, "cd '");
	for (const char *p = root ? root : "."; *p; p++) {
		if (*p == '\'')
			strbuf_addstr(&sb, "'\\''");
		else
			strbuf_addch(&sb, *p);
	}
	strbuf_addstr(&sb, "' && cargo burst ssh -- cargo clean");
	return strbuf_detach(&sb, NULL);
}

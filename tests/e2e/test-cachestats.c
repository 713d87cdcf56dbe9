/*
 * test-cachestats.c - sccache's stats JSON and the volume's df line, as an
 * untrusted build server may send them (src/pipeline/cachestats.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "burst/pipeline.h"
#include "burst/strbuf.h"

/* The shape of `sccache --show-stats --stats-format=json` (sccache 0.8). */
static const char real_json[] =
	"{\"stats\":{\"compile_requests\":14,\"requests_unsupported_compiler\":0,"
	"\"requests_not_compile\":3,\"requests_not_cacheable\":1,\"requests_executed\":10,"
	"\"cache_errors\":{\"counts\":{},\"adv_counts\":{}},"
	"\"cache_hits\":{\"counts\":{\"Rust\":7,\"C/C++\":1},\"adv_counts\":{\"rust\":7}},"
	"\"cache_misses\":{\"counts\":{\"Rust\":3},\"adv_counts\":{\"rust\":3}},"
	"\"cache_timeouts\":0,\"cache_read_errors\":0,\"non_cacheable_compilations\":0,"
	"\"forced_recaches\":0,\"cache_write_errors\":0,\"cache_writes\":3,"
	"\"cache_write_duration\":{\"secs\":0,\"nanos\":1000},"
	"\"cache_read_hit_duration\":{\"secs\":0,\"nanos\":2000},"
	"\"compiler_write_duration\":{\"secs\":1,\"nanos\":0},"
	"\"dist_compiles\":{},\"dist_errors\":0},"
	"\"cache_location\":\"Local disk: \\\"/mnt/cache/x/sccache\\\"\","
	"\"cache_size\":1234,\"max_cache_size\":10737418240,"
	"\"use_preprocessor_cache_mode\":false,\"version\":\"0.8.2\"}";

static void parse_is(const char *json, bool known, uint64_t hits, uint64_t misses,
		     const char *name)
{
	struct pipeline_sccache_stats s;
	int rc = pipeline_sccache_parse(json, json ? strlen(json) : 0, &s);

	ok(rc == (known ? 0 : -1) && s.known == known && (!known || (s.hits == hits &&
								       s.misses == misses)),
	   "%s: known %d hits %llu misses %llu", name, s.known, (unsigned long long)s.hits,
	   (unsigned long long)s.misses);
}

static void test_sccache(void)
{
	struct pipeline_sccache_stats a, b;
	struct strbuf sb = STRBUF_INIT;
	char *huge;

	parse_is(real_json, true, 8, 3, "the real shape: hits summed over languages");
	parse_is("{\"stats\":{\"cache_hits\":{\"counts\":{}},\"cache_misses\":{\"counts\":{}}}}",
		 true, 0, 0, "no compiles yet");
	parse_is(NULL, false, 0, 0, "nothing");
	parse_is("", false, 0, 0, "empty");
	parse_is("garbage {", false, 0, 0, "not JSON");
	parse_is("[1,2]", false, 0, 0, "not an object");
	parse_is("{\"stats\":{}}", false, 0, 0, "fields missing");
	parse_is("{\"stats\":{\"cache_hits\":{\"counts\":{\"Rust\":\"7\"}},"
		 "\"cache_misses\":{\"counts\":{}}}}", false, 0, 0, "a count that is a string");
	parse_is("{\"stats\":{\"cache_hits\":{\"counts\":{\"Rust\":-1}},"
		 "\"cache_misses\":{\"counts\":{}}}}", false, 0, 0, "a negative count");
	parse_is("{\"stats\":{\"cache_hits\":{\"counts\":{\"Rust\":1e300}},"
		 "\"cache_misses\":{\"counts\":{}}}}", false, 0, 0, "a count too large");
	parse_is("{\"stats\":{\"cache_hits\":{\"counts\":[1]},"
		 "\"cache_misses\":{\"counts\":{}}}}", false, 0, 0, "counts not a map");
	huge = malloc(PIPELINE_SCCACHE_JSON_MAX + 2);
	memset(huge, ' ', PIPELINE_SCCACHE_JSON_MAX + 1);
	huge[PIPELINE_SCCACHE_JSON_MAX + 1] = '\0';
	memcpy(huge, real_json, strlen(real_json));
	parse_is(huge, false, 0, 0, "longer than the bound");
	free(huge);

	pipeline_sccache_parse(real_json, strlen(real_json), &a);
	pipeline_sccache_parse("{\"stats\":{\"cache_hits\":{\"counts\":{\"Rust\":20}},"
			       "\"cache_misses\":{\"counts\":{\"Rust\":4}}}}", 90, &b);
	b.known = true;
	b.hits = 20;
	b.misses = 4;
	pipeline_sccache_phrase(&sb, &a, &b);
	is_str(sb.buf, "sccache 12 hits, 1 miss", "the run's difference");
	strbuf_reset(&sb);
	pipeline_sccache_phrase(&sb, &b, &a);
	is_str(sb.buf, "sccache unknown", "counters that went backwards: unknown");
	strbuf_reset(&sb);
	a.known = false;
	pipeline_sccache_phrase(&sb, &a, &b);
	is_str(sb.buf, "sccache unknown", "an unknown side: unknown");
	strbuf_release(&sb);
}

static void test_df(void)
{
	struct pipeline_volume_usage u;
	struct strbuf sb = STRBUF_INIT;
	const char *line = "/dev/loop3 10218772 9300000 392100 96% /mnt/cache/abc";

	ok(pipeline_df_parse(line, "/mnt/cache/abc", &u) == 0 && u.known &&
	   u.used_bytes == 9300000ull * 1024 && u.total_bytes == 10218772ull * 1024,
	   "a df -Pk line");
	is_int(pipeline_volume_percent(&u), 92, "its share, rounded up");
	pipeline_volume_usage_format(&sb, &u);
	is_str(sb.buf, "9.5 GB of 10.5 GB used (92%)", "as text");
	strbuf_release(&sb);
	ok(pipeline_df_parse(line, "/mnt/cache/other", &u) < 0 && !u.known,
	   "another mount point (the volume is not mounted there): unknown");
	ok(pipeline_df_parse("/dev/vda1 100 200 0 100% /mnt/cache/abc", "/mnt/cache/abc", &u) < 0,
	   "used above total: unknown");
	ok(pipeline_df_parse("", NULL, &u) < 0, "empty: unknown");
	ok(pipeline_df_parse("garbage", NULL, &u) < 0, "garbage: unknown");
	ok(pipeline_df_parse("/dev/x 0 0 0 0% /m", NULL, &u) < 0, "a zero size: unknown");
}

static void test_record(void)
{
	char tmpl[] = "/tmp/burst-usage-XXXXXX";
	char *dir = mkdtemp(tmpl), *cmd, *hint;
	struct pipeline_volume_usage u = { true, 5, 10 }, got;
	int64_t when = 0;

	if (!dir) {
		ok(0, "mkdtemp");
		return;
	}
	ok(pipeline_volume_usage_load(dir, "p1", &got, &when) < 0 && !got.known,
	   "nothing recorded: unknown");
	pipeline_volume_usage_record(dir, "p1", &u, 1234);
	ok(pipeline_volume_usage_load(dir, "p1", &got, &when) == 0 && got.known &&
	   got.used_bytes == 5 && got.total_bytes == 10 && when == 1234,
	   "recorded and read back with its time");
	hint = pipeline_volume_clean_hint("/src/it's");
	is_str(hint, "cd '/src/it'\\''s' && cargo burst ssh -- cargo clean",
	       "the command that clears the volume, quoted for a shell");
	free(hint);
	cmd = xstrfmt("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	free(cmd);
}

int main(void)
{
	test_sccache();
	test_df();
	test_record();
	return done_testing();
}

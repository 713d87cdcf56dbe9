/*
 * shard.h - `cargo burst test --shards N`: tests spread over N servers with
 * nextest's own archive and partitioning.
 *
 * The main server (warm volume) builds once: `cargo nextest archive
 * --archive-file <volume>/nextest/<pid>.tar.zst <build args>`.  Meanwhile
 * N-1 extra servers are created from the same snapshot (no volume;
 * labelled role=shard, named STATE_SHARD_NAME_PREFIX..., registered in the
 * state with a lease, so their reapers and `down` delete them like any
 * other server).  The archive is fetched once to this machine and pushed to
 * every extra server in parallel, together with the workspace source; then
 * `cargo nextest run --archive-file A --workspace-remap <src>
 * --partition hash:K/N --no-tests=pass <run args>` runs on all N at once,
 * output prefixed "[K/N] ".  Each shard's final nextest "Summary" line is
 * parsed and merged; the exit status is 0 only when every shard passed,
 * else the first failing shard's.  The extra servers are deleted right
 * after the run (their deadline is set to now and their reapers woken).
 *
 * This header is the pure part (argument split, summary parsing, JUnit
 * merge, names), exposed for unit tests.
 */
#ifndef BURST_SHARD_H
#define BURST_SHARD_H

#include "burst/strbuf.h"
#include "burst/strvec.h"
#include "burst/util.h"

/* The most shards a run may ask for. */
#define SHARD_MAX 32
/* The nextest profile the tool defines (in a tool config file) for JUnit. */
#define SHARD_JUNIT_PROFILE "cargo-burst-junit"

/* The counts of one nextest "Summary" line (or of several, merged). */
struct shard_summary {
	bool seen;        /* a Summary line was found */
	int64_t run;      /* "N tests run" */
	int64_t passed;
	int64_t failed;   /* failed + timed out + exec fail */
	int64_t skipped;  /* includes the tests of other partitions */
};

/*
 * Parse a nextest final summary line, e.g.
 * "     Summary [   0.010s] 5 tests run: 4 passed, 1 failed, 2 skipped"
 * (ANSI colour sequences are ignored).  Returns true and fills s when line
 * is one.
 */
bool shard_parse_summary(const char *line, struct shard_summary *s);

/*
 * A nextest per-test failure line ("        FAIL [   0.003s] bin test",
 * also TIMEOUT, SIGSEGV, SIGABRT, ABORT): the test's name "bin test"
 * (allocated), or NULL.
 */
char *shard_parse_failure(const char *line);

/* Remove ANSI escape sequences from s in place; returns s. */
char *shard_strip_ansi(char *s);

/*
 * Split `cargo burst test` arguments between the build (`nextest archive`:
 * cargo's package, feature, profile and target selection) and the run
 * (`nextest run --archive-file`: filters, -E, runner options, and
 * everything after `--`).  Appended to archive and run.
 */
void shard_split_args(const char *const *args, size_t nargs, struct strvec *archive,
		      struct strvec *run);

/*
 * Append the <testsuite> elements of a JUnit document (text between the
 * root's tags) to out; returns how many.
 */
size_t shard_junit_suites(const char *xml, size_t len, struct strbuf *out);

/*
 * The merged JUnit document of several shards: an XML declaration and one
 * <testsuites> root holding every suite, with the merged counts.
 */
void shard_junit_merge(const struct strbuf *suites, const struct shard_summary *total,
		       struct strbuf *out);

/* Merge the summaries of all shards (skipped counted once). */
void shard_summary_merge(const struct shard_summary *v, size_t n, struct shard_summary *out);

/* The name of extra server k of a run: "cargo-burst-shard-<owner>-<b36 time>-<pid>-<k>". */
char *shard_server_name(const char *owner_id, int64_t now, long pid, int k);

#endif

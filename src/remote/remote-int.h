/* remote-int.h - helpers shared by the files of the remote module. */
#ifndef BURST_REMOTE_INT_H
#define BURST_REMOTE_INT_H

#include <time.h>

#include "burst/remote.h"

/* Create dir and its missing parents with the given mode; 0 or -1 + errno. */
int remote_mkdir_p(const char *dir, unsigned mode);
/* The last non-empty line of a child's captured stderr (allocated), or NULL. */
char *remote_last_line(const struct strbuf *sb);
/* Push "user@host" style destination of h (just the host; user goes via -l). */
const char *remote_dest(const struct remote_host *h);

/* ---- the sync index (syncindex.c) ---- */

/*
 * An entry of the last sync whose mtime or ctime is not older than the
 * index's walk minus this is sent again (git's "racily clean" rule: it may
 * have changed within the granule of its timestamps after it was looked at).
 */
#define SYNC_RACY_NS (2 * 1000000000LL)

struct si_entry {
	char *path; /* relative to the workspace, no leading or trailing '/' */
	uint32_t mode;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint64_t ino;
};

/*
 * What one sync sent: its entries (sorted by path (strcmp) when loaded or
 * written; a walk leaves them in walk order), and its keys.
 */
struct sync_index {
	unsigned char key[32];   /* SHA-256 of the remote target, remote and local dirs */
	unsigned char rules[32]; /* SHA-256 of the filter rules */
	char gen[32];            /* the generation written to the remote marker */
	char boot[36];           /* the boot id of the walk (a walk leaves it '-': the
				    sync stamps the one it read) */
	int64_t walk_ns;         /* CLOCK_REALTIME_COARSE when the walk began */
	int64_t offset_ns;       /* CLOCK_REALTIME - CLOCK_BOOTTIME then */
	int64_t full_ns;         /* when the last full sync began */
	char *rules_text;        /* the rules the walk evaluated (NUL-free) */
	size_t rules_len;
	char *cache;             /* the rules' own record (sync.c), bytes */
	size_t cache_len;
	struct si_entry *v;
	size_t nr, alloc;
	char *arena; /* a loaded index's paths, all in one block (else one each) */
};

struct sync_rules;

/* Parse filter rules ("- pat" / "+ pat" lines); NULL when a line is another kind. */
struct sync_rules *sync_rules_parse(const char *text, size_t len);
/* Free parsed rules (NULL is fine). */
void sync_rules_free(struct sync_rules *r);
/* Is path excluded by the rules text as rsync decides it?  1, 0, -1: cannot tell. */
int sync_rules_test(const char *rules, const char *path, bool is_dir);
/*
 * lstat-only walk of root honouring rules as rsync would (an excluded
 * directory is not entered); NULL with *why when the walk cannot be
 * trusted (unreadable directory, a rule it cannot evaluate, too many files).
 */
struct sync_index *sync_index_walk(const char *root, const struct sync_rules *rules,
				   const char **why);
/*
 * The same walk in two steps, so that the caller can work meanwhile:
 * start begins it in threads (rules must live until finish), finish walks
 * along in the calling thread, joins and returns as sync_index_walk().
 */
struct sync_walk;
struct sync_walk *sync_index_walk_start(const char *root, const struct sync_rules *rules);
struct sync_index *sync_index_walk_finish(struct sync_walk *sw, const char **why);
/* Free an index (NULL is fine). */
void sync_index_free(struct sync_index *idx);
/*
 * remote_sync_rules() that can skip its walk of the workspace's .gitignore
 * files: rec_in is the record of the last walk (from the index; NULL:
 * none); when nothing it names changed (each directory read and each
 * .gitignore: inode, times, size) and the configuration's rules are the
 * same, the walk's rules are taken from it.  rec_out (NULL: not wanted)
 * gets the record of this computation (empty when none can be kept: git
 * answered, or something changed within the racily clean granule).
 */
int sync_rules_compute(const char *local_dir, const struct sync_filters *f,
		       const char *rec_in, size_t rec_in_len, struct strbuf *rec_out,
		       struct strbuf *out, struct burst_error *err);
/* Read and check an index file; NULL with *why when missing or damaged. */
struct sync_index *sync_index_load(const char *path, const char **why);
/*
 * The same in steps, so that a walk can start with the last sync's rules
 * before the rest is checked: read the file whole (-1 with *why), peek at
 * its rules text (unchecked: only good for a walk whose result stands when
 * the rules come out the same; NULL when there is none), then parse it
 * (NULL with *why when damaged).
 */
int sync_index_read(const char *path, struct strbuf *sb, const char **why);
const char *sync_index_peek_rules(const struct strbuf *sb, size_t *len);
struct sync_index *sync_index_parse(const struct strbuf *sb, const char **why);
/* Sort the entries by path. */
void sync_index_sort(struct sync_index *idx);
/* Write the index, sorted first: temp file, rename (no fsync: see syncindex.c). */
int sync_index_save(struct sync_index *idx, const char *path, struct burst_error *err);
/*
 * What changed from old to cur (either in any order): the paths to send
 * (NUL-terminated each, appended to send in cur's order: new, changed or
 * racily clean) and the topmost paths to delete on the remote (gone, or
 * their type changed), appended to dels sorted; info (may be NULL) says
 * what the paths to send are.
 */
struct sync_send_info {
	size_t nr;      /* paths to send */
	uint64_t bytes; /* their sizes */
	bool plain;     /* every one a regular file, a directory or a symlink */
};
void sync_index_diff(const struct sync_index *old, const struct sync_index *cur,
		     struct strbuf *send, struct strvec *dels, struct sync_send_info *info);
/* Append v little-endian (8 bytes); read one back. */
void sync_put_u64(struct strbuf *sb, uint64_t v);
uint64_t sync_get_u64(const unsigned char *p);
/* A fresh random generation id (32 hex digits, not terminated). */
void sync_new_gen(char gen[32]);
/* The kernel's boot id (36 characters, not terminated; '-' when unknown). */
void sync_boot_id(char out[36]);
/* clock_gettime(id) in nanoseconds. */
int64_t sync_clock_ns(clockid_t id);

#endif

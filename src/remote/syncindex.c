/*
 * syncindex.c - the local index of what the last sync sent (see
 * remote-int.h): rsync's filter rules evaluated here, an lstat-only walk
 * of the workspace, the index file and the difference that a warm sync
 * sends instead of letting rsync walk both trees.
 */
#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "burst/log.h"
#include "burst/sha256.h"
#include "remote-int.h"

#define SI_MAGIC "BURSTSI4"
/* The rules walk's record (see sync.c): beyond this, none is kept. */
#define SI_CACHE_MAX (64u * 1024 * 1024)
#define SI_MAX_ENTRIES 4000000u
#define SI_MAX_FILE (1024u * 1024 * 1024)
#define SI_PATH_MAX 4096
/* Wildcard matching steps per rule and path: beyond, the index is not used. */
#define WILD_BUDGET 100000

/* ---- rsync's filter rules ------------------------------------------------ */

struct si_rule {
	char *pat;      /* as rsync keeps it: trailing '/' removed */
	bool include;
	bool dir_only;  /* the pattern ended with '/' */
	bool wild;      /* has one of * ? [ */
	bool wild2;     /* has ** */
	bool wild2_prefix;
	bool wild3_suffix;
	unsigned slashes;
};

struct sync_rules {
	struct si_rule *v;
	size_t nr, alloc;
};

/* Free parsed rules. */
void sync_rules_free(struct sync_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nr; i++)
		free(r->v[i].pat);
	free(r->v);
	free(r);
}

/* Parse "- pat" / "+ pat" lines as rsync reads a merge file (NULL: unsupported). */
struct sync_rules *sync_rules_parse(const char *text, size_t len)
{
	struct sync_rules *r = xcalloc(1, sizeof(*r));
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = p;
		struct si_rule *ru;
		size_t n;

		while (eol < end && *eol != '\n' && *eol != '\r')
			eol++;
		n = (size_t)(eol - p);
		if (!n || *p == ';' || *p == '#')
			goto next;
		if (n < 3 || (p[0] != '-' && p[0] != '+') || p[1] != ' ' ||
		    memchr(p, '\0', n) || n - 2 >= SI_PATH_MAX) {
			sync_rules_free(r);
			return NULL;
		}
		ALLOC_GROW(r->v, r->nr + 1, r->alloc);
		ru = &r->v[r->nr++];
		memset(ru, 0, sizeof(*ru));
		ru->include = p[0] == '+';
		n -= 2;
		if (n > 1 && p[2 + n - 1] == '/') {
			n--;
			ru->dir_only = true;
		}
		ru->pat = xstrndup(p + 2, n);
		for (size_t i = 0; i < n; i++)
			ru->slashes += ru->pat[i] == '/';
		if (strpbrk(ru->pat, "*[?")) {
			const char *dd = strstr(ru->pat, "**");

			ru->wild = true;
			if (dd) {
				ru->wild2 = true;
				ru->wild2_prefix = dd == ru->pat;
				ru->wild3_suffix = n >= 3 && !strcmp(ru->pat + n - 3, "***");
			}
		}
next:
		p = eol < end ? eol + 1 : end;
	}
	return r;
}

/* rsync's wildmatch on one string: 1, 0, or -1 when the budget ran out. */
static int wild(const char *p, const char *t, unsigned *budget)
{
	for (; *p; p++, t++) {
		if (!--*budget)
			return -1;
		switch (*p) {
		case '\\':
			if (p[1])
				p++;
			if (*t != *p)
				return 0;
			break;
		case '?':
			if (!*t || *t == '/')
				return 0;
			break;
		case '*': {
			bool any = p[1] == '*';

			while (*p == '*')
				p++;
			for (;; t++) {
				int m = wild(p, t, budget);

				if (m)
					return m;
				if (!*t || (!any && *t == '/'))
					return 0;
			}
		}
		case '[': {
			const char *q = p + 1;
			bool neg = false, hit = false;
			unsigned char c = (unsigned char)*t;

			if (!c || c == '/')
				return 0;
			if (*q == '!' || *q == '^') {
				neg = true;
				q++;
			}
			do {
				unsigned char lo, hi;

				if (!*q)
					return 0; /* no ']': rsync never matches */
				if (*q == '[' && q[1] == ':')
					return -1; /* a character class: not evaluated here */
				if (*q == '\\' && q[1])
					q++;
				lo = hi = (unsigned char)*q;
				if (q[1] == '-' && q[2] && q[2] != ']') {
					q += 2;
					if (*q == '\\' && q[1])
						q++;
					hi = (unsigned char)*q;
				}
				if (c >= lo && c <= hi)
					hit = true;
				q++;
			} while (*q != ']');
			if (hit == neg)
				return 0;
			p = q;
			break;
		}
		default:
			if (*t != *p)
				return 0;
		}
	}
	return !*t;
}

/*
 * Does rule ru match path (relative to the transfer root, no leading or
 * trailing '/')?  As rsync's rule_matches(): 1, 0, -1 when it cannot tell.
 */
static int rule_matches(const struct si_rule *ru, const char *path, bool is_dir,
			struct strbuf *scratch)
{
	const char *name = path, *pat = ru->pat;
	bool anchored = false;
	int where;
	unsigned budget = WILD_BUDGET;

	if (ru->dir_only && !is_dir)
		return 0;
	if (!ru->slashes && !ru->wild2) {
		const char *s = strrchr(path, '/');

		if (s)
			name = s + 1;
	}
	if (*pat == '/') {
		anchored = true;
		pat++;
	}
	if (!ru->wild) {
		size_t l1 = strlen(name), l2 = strlen(pat);

		if (anchored)
			return !strcmp(name, pat);
		return l2 <= l1 && !strcmp(name + l1 - l2, pat) &&
		       (l1 == l2 || name[l1 - l2 - 1] == '/');
	}
	strbuf_reset(scratch);
	if (ru->wild2_prefix)
		strbuf_addch(scratch, '/');
	strbuf_addstr(scratch, name);
	if (is_dir && ru->wild3_suffix)
		strbuf_addch(scratch, '/');
	if (!anchored && ru->slashes && !ru->wild2)
		where = (int)ru->slashes + 1;
	else if (!anchored && !ru->wild2_prefix && ru->wild2)
		where = -1;
	else
		where = 0;
	if (where > 0) {
		/* the last `where` elements */
		const char *s = scratch->buf + scratch->len;
		int count = where;

		while (s > scratch->buf) {
			s--;
			if (*s == '/' && !--count)
				return wild(pat, s + 1, &budget);
		}
		return count == 1 ? wild(pat, scratch->buf, &budget) : 0;
	}
	{
		const char *t = scratch->buf;
		int m = wild(pat, t, &budget);

		while (m == 0 && where < 0) {
			t = strchr(t, '/');
			if (!t)
				break;
			t++;
			m = wild(pat, t, &budget);
		}
		return m;
	}
}

/* Is path excluded (first matching rule wins)?  1, 0, -1: cannot tell. */
static int rules_exclude(const struct sync_rules *r, const char *path, bool is_dir,
			 struct strbuf *scratch)
{
	for (size_t i = 0; i < r->nr; i++) {
		int m = rule_matches(&r->v[i], path, is_dir, scratch);

		if (m < 0)
			return -1;
		if (m)
			return !r->v[i].include;
	}
	return 0;
}

/* Exposed for the unit tests: is path excluded by the rules text? */
int sync_rules_test(const char *rules, const char *path, bool is_dir)
{
	struct sync_rules *r = sync_rules_parse(rules, strlen(rules));
	struct strbuf scratch = STRBUF_INIT;
	int ret;

	if (!r)
		return -1;
	ret = rules_exclude(r, path, is_dir, &scratch);
	strbuf_release(&scratch);
	sync_rules_free(r);
	return ret;
}

/* ---- the walk ------------------------------------------------------------ */

/*
 * The walk is lstat-bound (100,000 files: ~0.2 s of kernel time on one
 * core), so a few threads share it: a queue of directories to read, each
 * thread with its own entries, merged at the end (in walk order: the diff
 * needs no order, and the sort is left to the index's writer).
 */
#define WALK_THREADS_MAX 4

struct walk_shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct strvec queue; /* directories still to read, relative ("" = top) */
	int busy;            /* threads reading a directory */
	int rootfd;
	const struct sync_rules *rules;
	bool failed;
	const char *why;
};

struct walker {
	struct walk_shared *sh;
	struct sync_index part;
	struct strbuf path, scratch;
	struct strvec subdirs;
};

static void add_entry(struct sync_index *idx, const char *path, const struct stat *st)
{
	struct si_entry *e;

	ALLOC_GROW(idx->v, idx->nr + 1, idx->alloc);
	e = &idx->v[idx->nr++];
	e->path = xstrdup(path);
	e->mode = (uint32_t)st->st_mode;
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	e->ino = (uint64_t)st->st_ino;
}

/* Read one directory (rel); its subdirectories go to w->subdirs.  NULL or why not. */
static const char *walk_dir_entries(struct walker *w, const char *rel)
{
	int dfd = openat(w->sh->rootfd, *rel ? rel : ".",
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *de;
	size_t base = strlen(rel);
	const char *why = NULL;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return "a directory cannot be read";
	}
	strbuf_reset(&w->path);
	strbuf_addstr(&w->path, rel);
	while (!why && (de = readdir(d))) {
		struct stat st;
		bool is_dir;
		int m;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile: as if never seen */
			why = "a file cannot be looked at";
			break;
		}
		strbuf_setlen(&w->path, base);
		if (base)
			strbuf_addch(&w->path, '/');
		strbuf_addstr(&w->path, de->d_name);
		if (w->path.len >= SI_PATH_MAX) {
			why = "a path is too long";
			break;
		}
		is_dir = S_ISDIR(st.st_mode);
		m = rules_exclude(w->sh->rules, w->path.buf, is_dir, &w->scratch);
		if (m < 0)
			why = "a filter rule is not one the index evaluates";
		else if (!m && w->part.nr >= SI_MAX_ENTRIES)
			why = "too many files";
		if (m)
			continue;
		add_entry(&w->part, w->path.buf, &st);
		if (is_dir)
			strvec_push(&w->subdirs, w->path.buf);
	}
	closedir(d);
	return why;
}

static void *walk_thread(void *data)
{
	struct walker *w = data;
	struct walk_shared *sh = w->sh;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		char *rel;
		const char *why;

		while (!sh->queue.nr && sh->busy && !sh->failed)
			pthread_cond_wait(&sh->cv, &sh->mu);
		if (sh->failed || !sh->queue.nr)
			break;
		rel = xstrdup(sh->queue.v[sh->queue.nr - 1]);
		strvec_pop(&sh->queue);
		sh->busy++;
		pthread_mutex_unlock(&sh->mu);

		why = walk_dir_entries(w, rel);
		free(rel);

		pthread_mutex_lock(&sh->mu);
		sh->busy--;
		if (why && !sh->failed) {
			sh->failed = true;
			sh->why = why;
		}
		for (size_t i = 0; i < w->subdirs.nr; i++)
			strvec_push(&sh->queue, w->subdirs.v[i]);
		strvec_clear(&w->subdirs);
		pthread_cond_broadcast(&sh->cv);
	}
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	return NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct si_entry *)a)->path, ((const struct si_entry *)b)->path);
}

/* Sort the entries by path (strcmp), as the file keeps them. */
void sync_index_sort(struct sync_index *idx)
{
	if (idx->nr > 1)
		qsort(idx->v, idx->nr, sizeof(*idx->v), cmp_entry);
}

/* A clock in nanoseconds. */
int64_t sync_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct sync_walk {
	struct walk_shared sh;
	/* n threads from the start; the caller joins in as w[n] at the finish */
	struct walker w[WALK_THREADS_MAX + 1];
	pthread_t tid[WALK_THREADS_MAX];
	int n, started;
	struct sync_index *idx;
};

/* Begin the walk of root in threads (see remote-int.h). */
struct sync_walk *sync_index_walk_start(const char *root, const struct sync_rules *rules)
{
	struct sync_walk *sw = xcalloc(1, sizeof(*sw));
	struct walk_shared *sh = &sw->sh;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct stat st;

	sw->n = cpus < 1 ? 1 : cpus > WALK_THREADS_MAX ? WALK_THREADS_MAX : (int)cpus;
	sw->idx = xcalloc(1, sizeof(*sw->idx));
	pthread_mutex_init(&sh->mu, NULL);
	pthread_cond_init(&sh->cv, NULL);
	strvec_init(&sh->queue);
	sh->rules = rules;
	/* the granule of file times: the coarse clock the kernel stamps them with */
	sw->idx->walk_ns = sync_clock_ns(CLOCK_REALTIME_COARSE);
	sw->idx->offset_ns = sync_clock_ns(CLOCK_REALTIME) - sync_clock_ns(CLOCK_BOOTTIME);
	/* the boot id is the sync's, which read it once (sync.c stamps it) */
	memset(sw->idx->boot, '-', sizeof(sw->idx->boot));
	sh->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sh->rootfd < 0 || fstat(sh->rootfd, &st) < 0) {
		sh->failed = true;
		sh->why = "the workspace cannot be opened";
	} else {
		/* the top directory's own times and mode are synced too: "." */
		add_entry(sw->idx, ".", &st);
		strvec_push(&sh->queue, "");
	}
	for (int i = 0; i <= sw->n; i++) {
		sw->w[i].sh = sh;
		strbuf_init(&sw->w[i].path, 256);
		strbuf_init(&sw->w[i].scratch, 256);
		strvec_init(&sw->w[i].subdirs);
	}
	/*
	 * One walker per core starts now, with every signal blocked (signals
	 * stay the main thread's), so that the cores walk while the caller
	 * waits for the server; the thread that finishes the walk joins in.
	 */
	{
		sigset_t all, saved;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &saved);
		for (int i = 0; i < sw->n && !sh->failed; i++) {
			if (pthread_create(&sw->tid[i], NULL, walk_thread, &sw->w[i]))
				break;
			sw->started = i + 1;
		}
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	}
	return sw;
}

/* Join the walk in this thread and collect it (see remote-int.h). */
struct sync_index *sync_index_walk_finish(struct sync_walk *sw, const char **why)
{
	struct walk_shared *sh = &sw->sh;
	struct sync_index *idx = sw->idx;
	size_t total = 0;

	walk_thread(&sw->w[sw->n]);
	for (int i = 0; i < sw->started; i++)
		pthread_join(sw->tid[i], NULL);
	for (int i = 0; i <= sw->n; i++) {
		total += sw->w[i].part.nr;
		strbuf_release(&sw->w[i].path);
		strbuf_release(&sw->w[i].scratch);
		strvec_clear(&sw->w[i].subdirs);
	}
	if (!sh->failed && total >= SI_MAX_ENTRIES) {
		sh->failed = true;
		sh->why = "too many files";
	}
	ALLOC_GROW(idx->v, idx->nr + total, idx->alloc);
	for (int i = 0; i <= sw->n; i++) {
		if (sw->w[i].part.nr)
			memcpy(idx->v + idx->nr, sw->w[i].part.v,
			       sw->w[i].part.nr * sizeof(*idx->v));
		idx->nr += sw->w[i].part.nr;
		free(sw->w[i].part.v);
	}
	if (sh->rootfd >= 0)
		close(sh->rootfd);
	strvec_clear(&sh->queue);
	pthread_cond_destroy(&sh->cv);
	pthread_mutex_destroy(&sh->mu);
	if (sh->failed) {
		*why = sh->why;
		sync_index_free(idx);
		idx = NULL;
	}
	free(sw);
	return idx;
}

/* Walk root as rsync would send it (see remote-int.h). */
struct sync_index *sync_index_walk(const char *root, const struct sync_rules *rules,
				   const char **why)
{
	return sync_index_walk_finish(sync_index_walk_start(root, rules), why);
}

/* Free an index and its entries. */
void sync_index_free(struct sync_index *idx)
{
	if (!idx)
		return;
	if (idx->arena)
		free(idx->arena);
	else
		for (size_t i = 0; i < idx->nr; i++)
			free(idx->v[i].path);
	free(idx->v);
	free(idx->rules_text);
	free(idx->cache);
	free(idx);
}

/* ---- the file --------------------------------------------------------------
 * "BURSTSI4", then little-endian: key[32] rules[32] gen[32] boot[36]
 * walk_ns offset_ns full_ns (i64), the rules' length (u64) and text, the
 * rules record's length (u64) and bytes, count (u64), count x { u16 path
 * length, path, u64 mode, u64 size, i64 mtime_ns, i64 ctime_ns, u64 ino }, and a
 * 64-bit checksum of everything before it (sum64): a torn or damaged file
 * is detected; the file is the user's own (0600 in the state dir), so the
 * checksum need not resist a forger, and SHA-256 was a third of a warm
 * sync's CPU on 100,000 files.
 */

/* A fast 64-bit checksum, 8 bytes at a time. */
static uint64_t sum64(const unsigned char *p, size_t len)
{
	uint64_t h = 0x243f6a8885a308d3ULL ^ len;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 31;
	}
	for (; len; p++, len--)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

/* Little-endian u64 in and out of the index file and sync.c's record. */
void sync_put_u64(struct strbuf *sb, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	strbuf_add(sb, b, 8);
}

uint64_t sync_get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The kernel's boot id, to tell a clock step from a reboot. */
void sync_boot_id(char out[36])
{
	struct strbuf sb = STRBUF_INIT;

	memset(out, '-', 36);
	strbuf_set_max(&sb, 64);
	if (strbuf_read_file(&sb, "/proc/sys/kernel/random/boot_id") == 0 && sb.len >= 36)
		memcpy(out, sb.buf, 36);
	strbuf_release(&sb);
}

/*
 * Write the index file atomically (temp, rename).  Not fsynced: after a
 * crash the file is the old index (its generation no longer the server's
 * marker: a full sync), the new one, or one whose checksum fails (no
 * index: a full sync), so durability buys nothing here, and the two
 * fsyncs were most of a one-file-changed sync's index write.
 */
int sync_index_save(struct sync_index *idx, const char *path, struct burst_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	char *tmp = xstrfmt("%s.tmp", path);
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd = -1, ret = -1;

	sync_index_sort(idx); /* a walk leaves them in walk order */

	strbuf_add(&sb, SI_MAGIC, 8);
	strbuf_add(&sb, idx->key, 32);
	strbuf_add(&sb, idx->rules, 32);
	strbuf_add(&sb, idx->gen, 32);
	strbuf_add(&sb, idx->boot, 36);
	sync_put_u64(&sb, (uint64_t)idx->walk_ns);
	sync_put_u64(&sb, (uint64_t)idx->offset_ns);
	sync_put_u64(&sb, (uint64_t)idx->full_ns);
	sync_put_u64(&sb, idx->rules_len);
	strbuf_add(&sb, idx->rules_text ? idx->rules_text : "", idx->rules_len);
	sync_put_u64(&sb, idx->cache_len <= SI_CACHE_MAX ? idx->cache_len : 0);
	if (idx->cache_len <= SI_CACHE_MAX)
		strbuf_add(&sb, idx->cache ? idx->cache : "", idx->cache_len);
	sync_put_u64(&sb, idx->nr);
	for (size_t i = 0; i < idx->nr; i++) {
		const struct si_entry *e = &idx->v[i];
		size_t n = strlen(e->path);
		unsigned char l[2] = { (unsigned char)n, (unsigned char)(n >> 8) };

		strbuf_add(&sb, l, 2);
		strbuf_add(&sb, e->path, n);
		sync_put_u64(&sb, e->mode);
		sync_put_u64(&sb, e->size);
		sync_put_u64(&sb, (uint64_t)e->mtime_ns);
		sync_put_u64(&sb, (uint64_t)e->ctime_ns);
		sync_put_u64(&sb, e->ino);
	}
	sync_put_u64(&sb, sum64((const unsigned char *)sb.buf, sb.len));
	if (slash) {
		*slash = '\0';
		if (remote_mkdir_p(dir, 0700) < 0)
			goto fail;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	for (size_t off = 0; off < sb.len;) {
		ssize_t w = write(fd, sb.buf + off, sb.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	ret = 0;
	goto out;
fail:
	burst_error_set(err, BURST_EXIT_STATE, "cannot write the sync index '%s': %s", path,
			strerror(errno));
	burst_error_hint(err, "check the free space and permissions of the state directory");
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(dir);
	free(tmp);
	strbuf_release(&sb);
	return ret;
}

/*
 * Is the n bytes long p "." (the top directory's own entry) or a relative
 * path without "." or ".." components?
 */
static bool path_is_inside(const char *p, size_t n)
{
	const char *end = p + n;

	if (n == 1 && *p == '.')
		return true;
	if (*p == '/')
		return false;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t len = (size_t)((slash ? slash : end) - p);

		if (!len || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len + (slash ? 1 : 0);
	}
	return true;
}

/* Read and check an index file. */
/* Read an index file whole (bounded); -1 with *why. */
int sync_index_read(const char *path, struct strbuf *sb, const char **why)
{
	strbuf_set_max(sb, SI_MAX_FILE);
	if (strbuf_read_file(sb, path) < 0) {
		*why = errno == ENOENT ? "no index yet" : "the index cannot be read";
		return -1;
	}
	return 0;
}

#define SI_HEADER (8 + 32 * 3 + 36 + 32)

/* The rules text of a read index, unchecked (see remote-int.h); NULL if none. */
const char *sync_index_peek_rules(const struct strbuf *sb, size_t *len)
{
	const unsigned char *p = (const unsigned char *)sb->buf;
	uint64_t n;

	if (sb->len < SI_HEADER + 24 || memcmp(sb->buf, SI_MAGIC, 8))
		return NULL;
	n = sync_get_u64(p + SI_HEADER - 8);
	if (n > sb->len - SI_HEADER - 24)
		return NULL;
	*len = (size_t)n;
	return sb->buf + SI_HEADER;
}

/* Check and decode a read index (see remote-int.h). */
struct sync_index *sync_index_parse(const struct strbuf *sb, const char **why)
{
	struct sync_index *idx = NULL;
	const unsigned char *p, *end;
	uint64_t count;
	char *names;

	*why = "the index is damaged";
	if (sb->len < SI_HEADER + 24 || memcmp(sb->buf, SI_MAGIC, 8))
		return NULL;
	if (sum64((const unsigned char *)sb->buf, sb->len - 8) !=
	    sync_get_u64((const unsigned char *)sb->buf + sb->len - 8))
		return NULL;
	p = (const unsigned char *)sb->buf + 8;
	end = (const unsigned char *)sb->buf + sb->len - 8;
	idx = xcalloc(1, sizeof(*idx));
	memcpy(idx->key, p, 32);
	memcpy(idx->rules, p + 32, 32);
	memcpy(idx->gen, p + 64, 32);
	memcpy(idx->boot, p + 96, 36);
	/* the generation goes into a remote shell command: hex only */
	for (size_t i = 0; i < sizeof(idx->gen); i++)
		if (!isxdigit((unsigned char)idx->gen[i]))
			goto bad;
	p += 132;
	idx->walk_ns = (int64_t)sync_get_u64(p);
	idx->offset_ns = (int64_t)sync_get_u64(p + 8);
	idx->full_ns = (int64_t)sync_get_u64(p + 16);
	idx->rules_len = (size_t)sync_get_u64(p + 24);
	p += 32;
	if (idx->rules_len > (size_t)(end - p) || (size_t)(end - p) - idx->rules_len < 16 ||
	    memchr(p, '\0', idx->rules_len))
		goto bad;
	idx->rules_text = xstrndup((const char *)p, idx->rules_len);
	p += idx->rules_len;
	idx->cache_len = (size_t)sync_get_u64(p);
	p += 8;
	if (idx->cache_len > SI_CACHE_MAX || idx->cache_len > (size_t)(end - p) ||
	    (size_t)(end - p) - idx->cache_len < 8)
		goto bad;
	idx->cache = xmalloc(idx->cache_len + 1);
	memcpy(idx->cache, p, idx->cache_len);
	p += idx->cache_len;
	count = sync_get_u64(p);
	p += 8;
	/* each entry takes 42 bytes and more: a count the file cannot hold is damage */
	if (count > SI_MAX_ENTRIES || count > (uint64_t)(end - p) / 42)
		goto bad;
	/* every path in one block (one allocation, not one per entry) */
	idx->arena = names = xmalloc((size_t)(end - p) + 1);
	idx->v = xcalloc(count ? count : 1, sizeof(*idx->v));
	idx->alloc = count;
	for (uint64_t i = 0; i < count; i++) {
		struct si_entry *e;
		size_t n;

		if (end - p < 2)
			goto bad;
		n = (size_t)p[0] | (size_t)p[1] << 8;
		p += 2;
		if (!n || n >= SI_PATH_MAX || (size_t)(end - p) < n + 40 || memchr(p, '\0', n))
			goto bad;
		/* a deleted entry's path becomes a remote `rm -rf ./PATH`: relative, no ".." */
		if (!path_is_inside((const char *)p, n))
			goto bad;
		e = &idx->v[idx->nr++];
		memcpy(names, p, n);
		names[n] = '\0';
		e->path = names;
		names += n + 1;
		p += n;
		e->mode = (uint32_t)sync_get_u64(p);
		e->size = sync_get_u64(p + 8);
		e->mtime_ns = (int64_t)sync_get_u64(p + 16);
		e->ctime_ns = (int64_t)sync_get_u64(p + 24);
		e->ino = sync_get_u64(p + 32);
		p += 40;
		if (i && strcmp(idx->v[i - 1].path, e->path) >= 0)
			goto bad; /* sorted and unique, as written */
	}
	if (p != end)
		goto bad;
	*why = NULL;
	return idx;
bad:
	sync_index_free(idx);
	return NULL;
}

/* Read and check an index file (see remote-int.h). */
struct sync_index *sync_index_load(const char *path, const char **why)
{
	struct strbuf sb = STRBUF_INIT;
	struct sync_index *idx = NULL;

	if (sync_index_read(path, &sb, why) == 0)
		idx = sync_index_parse(&sb, why);
	strbuf_release(&sb);
	return idx;
}

/* ---- the difference ------------------------------------------------------ */

static bool same_stat(const struct si_entry *a, const struct si_entry *b)
{
	return a->mode == b->mode && a->size == b->size && a->mtime_ns == b->mtime_ns &&
	       a->ctime_ns == b->ctime_ns && a->ino == b->ino;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Has one of path's parent directories been deleted already? */
static bool parent_deleted(const struct strvec *dels, const char *path)
{
	char *copy = xstrdup(path);
	bool hit = false;

	for (char *s = strrchr(copy, '/'); s && !hit; s = strrchr(copy, '/')) {
		char *key = copy;

		*s = '\0';
		hit = dels->nr && bsearch(&key, dels->v, dels->nr, sizeof(*dels->v), cmp_str);
	}
	free(copy);
	return hit;
}

/* FNV-1a: the paths are the tool's own, no adversary picks them to collide. */
static uint64_t path_hash(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return h;
}

/*
 * What to send and delete to bring the last sync's tree to cur.  Neither
 * needs an order: old's paths go into an open-addressing table, cur's are
 * looked up in it (no sort of the walk on the way to the push).
 */
void sync_index_diff(const struct sync_index *old, const struct sync_index *cur,
		     struct strbuf *send, struct strvec *dels, struct sync_send_info *info)
{
	struct sync_send_info none;
	int64_t racy = old->walk_ns - SYNC_RACY_NS;
	struct strvec gone = STRVEC_INIT;
	size_t cap = 16, mask;
	/* old's entry + 1 (0 = empty) and the path's hash: few paths are looked at */
	struct { uint32_t entry, hash; } *slot;
	bool *seen = xcalloc(old->nr ? old->nr : 1, sizeof(*seen));

	if (!info)
		info = &none;
	memset(info, 0, sizeof(*info));
	info->plain = true;
	while (cap < 2 * old->nr)
		cap *= 2;
	mask = cap - 1;
	slot = xcalloc(cap, sizeof(*slot));
	for (size_t i = 0; i < old->nr; i++) {
		uint64_t hv = path_hash(old->v[i].path);
		size_t h = (size_t)hv & mask;

		while (slot[h].entry)
			h = (h + 1) & mask;
		slot[h].entry = (uint32_t)i + 1;
		slot[h].hash = (uint32_t)(hv >> 32);
	}
	for (size_t k = 0; k < cur->nr; k++) {
		const struct si_entry *c = &cur->v[k], *o = NULL;
		uint64_t hv = path_hash(c->path);
		size_t h = (size_t)hv & mask;

		for (; slot[h].entry; h = (h + 1) & mask) {
			if (slot[h].hash == (uint32_t)(hv >> 32) &&
			    !strcmp(old->v[slot[h].entry - 1].path, c->path)) {
				o = &old->v[slot[h].entry - 1];
				seen[slot[h].entry - 1] = true;
				break;
			}
		}
		if (o && (o->mode & S_IFMT) != (c->mode & S_IFMT))
			strvec_push(&gone, o->path);
		if (o && same_stat(o, c) && o->mtime_ns < racy && o->ctime_ns < racy)
			continue;
		strbuf_add(send, c->path, strlen(c->path) + 1);
		info->nr++;
		info->bytes += S_ISREG(c->mode) ? c->size : 0;
		info->plain &= S_ISREG(c->mode) || S_ISDIR(c->mode) || S_ISLNK(c->mode);
	}
	for (size_t i = 0; i < old->nr; i++)
		if (!seen[i])
			strvec_push(&gone, old->v[i].path);
	/* keep only the topmost (a deleted directory's files go with it) */
	if (gone.nr > 1)
		qsort(gone.v, gone.nr, sizeof(*gone.v), cmp_str);
	for (size_t g = 0; g < gone.nr; g++)
		if (!parent_deleted(&gone, gone.v[g]))
			strvec_push(dels, gone.v[g]);
	strvec_clear(&gone);
	free(slot);
	free(seen);
}

/* A random generation id for the server's marker. */
void sync_new_gen(char gen[32])
{
	unsigned char rnd[16];
	size_t got = 0;

	while (got < sizeof(rnd)) {
		ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);

		if (r < 0) {
			/* no entropy source: time and pid still make a fresh id */
			int64_t t = sync_clock_ns(CLOCK_REALTIME) ^ ((int64_t)getpid() << 32);

			memcpy(rnd, &t, sizeof(t));
			got = sizeof(rnd);
			break;
		}
		got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		static const char hex[] = "0123456789abcdef";

		gen[2 * i] = hex[rnd[i] >> 4];
		gen[2 * i + 1] = hex[rnd[i] & 15];
	}
}

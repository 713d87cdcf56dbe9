/*
 * sync.c - rsync both ways over the master, the filter rules (built-in
 * excludes and .gitignore files), and checksummed fetch; see remote.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/log.h"
#include "burst/sha256.h"
#include "burst/ui.h"
#include "remote-int.h"

/* Synced even when git ignores it (see sync_rules_compute()). */
#define SYNC_ALWAYS "Cargo.lock"

const char *const remote_default_excludes[] = {
	"target/", ".git/", "node_modules/", ".direnv/", ".vscode/", ".idea/",
	"*.swp", ".DS_Store", NULL,
};

#define GITIGNORE_MAX (1024 * 1024)
/* Bounds of a fetch (see rsync_pull): per file, idle and total time. */
#define FETCH_FILE_MAX (16ULL << 30)
#define FETCH_IDLE_SECS 120
#define FETCH_TIMEOUT_MS (60 * 60 * 1000)
/* The server's checksums of the fetched files must come within this. */
#define FETCH_CHECKSUM_TIMEOUT_MS (10 * 60 * 1000)
#define FETCH_NAME_MAX 255
#define WALK_MAX_DIRS 200000
/* git's list of ignored paths: more than this, and the walker decides. */
#define GIT_LIST_MAX (32 * 1024 * 1024)
#define GIT_LIST_TIMEOUT_MS 120000

/*
 * What of the workspace's .git is not synced (sync_git): what builds do not
 * ask (hooks, reflogs, LFS objects, locks of a running git), and what may
 * hold credentials (config, with remote URLs and helpers, and FETCH_HEAD):
 * git answers rev-parse, describe and status without them.
 */
static const char *const git_dir_rules[] = {
	"- /.git/hooks/", "- /.git/logs/", "- /.git/lfs/", "- /.git/fsmonitor--daemon/",
	"- /.git/**.lock", "- /.git/config", "- /.git/FETCH_HEAD",
	"- /.git/modules/*/config", "- /.git/modules/*/modules/*/config",
	"+ /.git/***", NULL,
};

static bool in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; list && list[i]; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

/* One .gitignore file's rules, already translated, in rsync order. */
struct rule_block {
	unsigned depth;
	char *rules;
};

struct walk {
	struct strvec skip; /* simple name patterns of excluded directories */
	struct rule_block *blocks;
	size_t nr, alloc;
	unsigned dirs;
	/*
	 * Plain names ignored by the .gitignore files of the current directory
	 * and its ancestors ("<dir>\t<name>" anchored at dir, or "*\t<name>" at
	 * any depth), so that big ignored trees are not walked; only used while
	 * no "!" rule is in scope (a negation could re-include a directory).
	 */
	struct strvec ignored;
	size_t negations;
	const char *const *unexclude;
	/*
	 * The record of what the walk's rules depend on (NULL: none kept):
	 * each directory read and each .gitignore, with their stat, so that
	 * the next sync can tell without a walk that the rules are the same.
	 * no_rec: something cannot be vouched for (changed too recently,
	 * unreadable, a symlinked .gitignore): no record this time.
	 */
	struct strbuf *rec;
	int64_t racy_ns;
	bool no_rec;
};

static int64_t st_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int64_t st_ctime_ns(const struct stat *st)
{
	return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* One record entry: kind 'D' (a directory read) or 'G' (its .gitignore). */
static void rec_entry(struct walk *w, char kind, const char *rel, const struct stat *st)
{
	size_t n = strlen(rel);
	unsigned char l[2] = { (unsigned char)n, (unsigned char)(n >> 8) };

	if (!w->rec || w->no_rec)
		return;
	/* changed within the granule: a later change may keep these times */
	if (n >= 0xffff || st_mtime_ns(st) >= w->racy_ns || st_ctime_ns(st) >= w->racy_ns) {
		w->no_rec = true;
		return;
	}
	strbuf_addch(w->rec, kind);
	strbuf_add(w->rec, l, 2);
	strbuf_add(w->rec, rel, n);
	sync_put_u64(w->rec, (uint64_t)st->st_ino);
	sync_put_u64(w->rec, (uint64_t)st_mtime_ns(st));
	sync_put_u64(w->rec, (uint64_t)st_ctime_ns(st));
	sync_put_u64(w->rec, (uint64_t)st->st_size);
}

/*
 * Does every entry of a record still hold (root's directories and
 * .gitignore files as they were when it was made)?  A malformed record
 * does not.
 */
static bool rec_holds(const char *root, const unsigned char *p, const unsigned char *end)
{
	struct strbuf path = STRBUF_INIT;
	bool holds = true;

	while (holds && p < end) {
		char kind = (char)*p;
		size_t n;
		struct stat st;

		if (end - p < 3 || (kind != 'D' && kind != 'G')) {
			holds = false;
			break;
		}
		n = (size_t)p[1] | (size_t)p[2] << 8;
		p += 3;
		if ((size_t)(end - p) < n + 32 || memchr(p, '\0', n)) {
			holds = false;
			break;
		}
		strbuf_reset(&path);
		strbuf_addstr(&path, root);
		if (n) {
			strbuf_addch(&path, '/');
			strbuf_add(&path, p, n);
		}
		if (kind == 'G')
			strbuf_addstr(&path, "/.gitignore");
		p += n;
		holds = !lstat(path.buf, &st) &&
			(kind == 'D' ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) &&
			(uint64_t)st.st_ino == sync_get_u64(p) &&
			st_mtime_ns(&st) == (int64_t)sync_get_u64(p + 8) &&
			st_ctime_ns(&st) == (int64_t)sync_get_u64(p + 16) &&
			(uint64_t)st.st_size == sync_get_u64(p + 24);
		p += 32;
	}
	strbuf_release(&path);
	return holds;
}

/*
 * Emit the rsync rule(s) for one gitignore pattern found in directory dir
 * ("" at the root, else "a/b/").  Git: a pattern with a slash other than a
 * trailing one is relative to dir; else it matches at any depth below dir.
 * rsync's "**" never matches zero directories, so the zero case is emitted
 * as a second rule.
 */
static void translate_pattern(struct strbuf *out, const char *dir, const char *pat,
			      bool include)
{
	const char *sign = include ? "+ " : "- ";
	size_t len = strlen(pat);
	bool dir_only = len && pat[len - 1] == '/';
	char *core = xstrndup(pat, dir_only ? len - 1 : len);
	const char *c = core;
	bool anchored;

	if (*c == '/') {
		anchored = true;
		c++;
	} else {
		anchored = strchr(c, '/') != NULL;
	}
	if (!*c)
		goto out;
	if (anchored) {
		const char *dstar;

		strbuf_addf(out, "%s/%s%s%s\n", sign, dir, c, dir_only ? "/" : "");
		if (skip_prefix(c, "**/", &dstar))
			strbuf_addf(out, "%s/%s%s%s\n", sign, dir, dstar, dir_only ? "/" : "");
		else if ((dstar = strstr(c, "/**/")))
			strbuf_addf(out, "%s/%s%.*s%s%s\n", sign, dir, (int)(dstar - c), c,
				    dstar + 3, dir_only ? "/" : "");
	} else if (!*dir) {
		strbuf_addf(out, "%s%s%s\n", sign, c, dir_only ? "/" : "");
	} else {
		strbuf_addf(out, "%s/%s%s%s\n", sign, dir, c, dir_only ? "/" : "");
		strbuf_addf(out, "%s/%s**/%s%s\n", sign, dir, c, dir_only ? "/" : "");
	}
out:
	free(core);
}

/* Translate one .gitignore: last line first (git: last match wins). */
static void translate_gitignore(const char *dir, const struct strbuf *text,
				struct strbuf *out)
{
	struct strvec lines = STRVEC_INIT;
	const char *p = text->buf, *end = text->buf + text->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = xstrndup(p, len);
		size_t n = strlen(line);

		p += len + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		/* Trailing spaces are dropped unless escaped with a backslash. */
		while (n && line[n - 1] == ' ' && !(n >= 2 && line[n - 2] == '\\'))
			line[--n] = '\0';
		if (!n || line[0] == '#') {
			free(line);
			continue;
		}
		strvec_push(&lines, line);
		free(line);
	}
	for (size_t i = lines.nr; i-- > 0;) {
		const char *l = lines.v[i];
		bool include = false;

		if (*l == '!') {
			include = true;
			l++;
		} else if (l[0] == '\\' && (l[1] == '!' || l[1] == '#')) {
			l++;
		}
		if (*l)
			translate_pattern(out, dir, l, include);
	}
	strvec_clear(&lines);
}

static bool skip_dir(const struct walk *w, const char *dir, const char *name)
{
	for (size_t i = 0; i < w->skip.nr; i++)
		if (!fnmatch(w->skip.v[i], name, FNM_PERIOD))
			return true;
	if (w->negations)
		return false;
	for (size_t i = 0; w->unexclude && w->unexclude[i]; i++) {
		char *u = xstrdup(w->unexclude[i]);
		size_t n = strlen(u);
		bool hit;

		if (n && u[n - 1] == '/')
			u[n - 1] = '\0';
		hit = !fnmatch(u, name, FNM_PERIOD) || strchr(u, '/');
		free(u);
		if (hit)
			return false;
	}
	for (size_t i = 0; i < w->ignored.nr; i++) {
		const char *e = w->ignored.v[i], *tab = strchr(e, '\t');

		if (strcmp(tab + 1, name))
			continue;
		if (!strncmp(e, "*\t", 2) ||
		    ((size_t)(tab - e) == strlen(dir) && !strncmp(e, dir, strlen(dir))))
			return true;
	}
	return false;
}

/* Record the plain names a .gitignore in dir ignores (see struct walk). */
static void note_ignored(struct walk *w, const char *dir, const struct strbuf *text)
{
	const char *p = text->buf, *end = text->buf + text->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = xstrndup(p, len);
		size_t n = strlen(line);
		char *name = line;
		bool anchored = false;

		p += len + (nl ? 1 : 0);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (!n || line[0] == '#' || strpbrk(line, "*?[\\")) {
			if (n && line[0] == '!')
				w->negations++;
			free(line);
			continue;
		}
		if (line[0] == '!') {
			w->negations++;
			free(line);
			continue;
		}
		if (n && name[n - 1] == '/')
			name[--n] = '\0';
		if (*name == '/') {
			anchored = true;
			name++;
		}
		if (*name && !strchr(name, '/'))
			strvec_pushf(&w->ignored, "%s\t%s", anchored ? dir : "*", name);
		free(line);
	}
}

static int walk_dir(struct walk *w, const char *root, const char *rel, unsigned depth,
		    struct burst_error *err)
{
	char *path = *rel ? xstrfmt("%s/%s", root, rel) : xstrdup(root);
	char *gi = xstrfmt("%s/.gitignore", path);
	char *reldir = *rel ? xstrfmt("%s/", rel) : xstrdup("");
	size_t saved_ignored = w->ignored.nr, saved_negations = w->negations;
	struct strbuf text = STRBUF_INIT;
	DIR *d = NULL;
	struct dirent *de;
	int ret = -1;

	if (++w->dirs > WALK_MAX_DIRS) {
		burst_error_set(err, BURST_EXIT_CONFIG,
				"'%s' has more than %d directories to sync", root, WALK_MAX_DIRS);
		burst_error_hint(err, "exclude large directories with extra_excludes");
		goto out;
	}
	if (w->rec && !w->no_rec) {
		/* stat before reading: a change in between shows next time */
		struct stat st;

		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			w->no_rec = true;
		else
			rec_entry(w, 'D', rel, &st);
		if (!lstat(gi, &st)) {
			if (S_ISREG(st.st_mode))
				rec_entry(w, 'G', rel, &st);
			else
				w->no_rec = true;
		}
	}
	strbuf_set_max(&text, GITIGNORE_MAX);
	if (strbuf_read_file(&text, gi) == 0) {
		struct strbuf rules = STRBUF_INIT;

		translate_gitignore(reldir, &text, &rules);
		note_ignored(w, reldir, &text);
		ALLOC_GROW(w->blocks, w->nr + 1, w->alloc);
		w->blocks[w->nr].depth = depth;
		w->blocks[w->nr].rules = strbuf_detach(&rules, NULL);
		w->nr++;
	} else if (errno != ENOENT && errno != ENOTDIR) {
		log_warn("remote", "cannot read '%s': %s", gi, strerror(errno));
		w->no_rec = true;
	}

	d = opendir(path);
	if (!d) {
		/* Unreadable directories are rsync's to report. */
		w->no_rec = true;
		ret = 0;
		goto out;
	}
	while ((de = readdir(d))) {
		bool is_dir = de->d_type == DT_DIR;
		char *sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			char *full = xstrfmt("%s/%s", path, de->d_name);

			is_dir = !lstat(full, &st) && S_ISDIR(st.st_mode);
			free(full);
		}
		if (!is_dir || skip_dir(w, reldir, de->d_name))
			continue;
		sub = *rel ? xstrfmt("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (walk_dir(w, root, sub, depth + 1, err) < 0) {
			free(sub);
			goto out;
		}
		free(sub);
	}
	ret = 0;
out:
	while (w->ignored.nr > saved_ignored)
		strvec_pop(&w->ignored);
	w->negations = saved_negations;
	free(reldir);
	if (d)
		closedir(d);
	strbuf_release(&text);
	free(gi);
	free(path);
	return ret;
}

static int cmp_depth_desc(const void *a, const void *b)
{
	const struct rule_block *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	return 0;
}

/* A plain "name/" or "name" pattern usable to skip directories while walking. */
static void add_skip(struct walk *w, const char *pat)
{
	size_t n = strlen(pat);
	char *name;

	if (n && pat[n - 1] == '/')
		n--;
	name = xstrndup(pat, n);
	if (*name && !strchr(name, '/'))
		strvec_push(&w->skip, name);
	free(name);
}

/* An anchored rsync exclude for one path git lists ("dir/" for a directory). */
static void add_literal_exclude(struct strbuf *out, const char *path)
{
	strbuf_addstr(out, "- /");
	if (!strpbrk(path, "*?[")) {
		/* no wildcard: rsync takes the pattern (backslashes too) literally */
		strbuf_addstr(out, path);
	} else {
		for (const char *p = path; *p; p++) {
			if (strchr("*?[\\", *p))
				strbuf_addch(out, '\\');
			strbuf_addch(out, *p);
		}
	}
	strbuf_addch(out, '\n');
}

/* Is there a .git in dir or one of its parents (no git process for that)? */
static bool in_git_work_tree(const char *dir)
{
	char *d = xstrdup(dir);
	bool found = false;

	for (;;) {
		char *dotgit = xstrfmt("%s/.git", *d ? d : "");
		struct stat st;
		char *slash;

		found = lstat(dotgit, &st) == 0;
		free(dotgit);
		slash = strrchr(d, '/');
		if (found || !slash)
			break;
		*slash = '\0';
	}
	free(d);
	return found;
}

/*
 * Run a local helper (git, tar) whose argv is in cp, stdin as set (NULL:
 * none), stdout captured up to max: true when it ran, exited 0 and its
 * output fit; else false, and why in the debug log (the caller has a way
 * without it).
 */
static bool run_local(struct child_process *cp, size_t max, int timeout_ms, const char *what)
{
	struct burst_error e = BURST_ERROR_INIT;
	bool ok = false;

	if (cp->in != PROC_IO_BUFFER)
		cp->in = PROC_IO_NULL;
	cp->out = PROC_IO_CAPTURE;
	cp->err = PROC_IO_CAPTURE;
	cp->capture_max = max;
	cp->timeout_ms = timeout_ms;
	if (proc_run(cp, &e) < 0) {
		log_debug("remote", "%s did not run: %s", what, e.message);
	} else if (cp->exit_code != 0 || cp->out_buf.overflow) {
		char *why = remote_last_line(&cp->err_buf);

		log_debug("remote", "%s failed (%d%s)%s%s", what, cp->exit_code,
			  cp->out_buf.overflow ? ", too much output" : "", why ? ": " : "",
			  why ? why : "");
		free(why);
	} else {
		ok = true;
	}
	burst_error_release(&e);
	return ok;
}

/*
 * Let git say what it ignores below local_dir (its .gitignore files, the
 * parents' too, .git/info/exclude and core.excludesFile): one anchored
 * exclude per ignored path, whole directories as one.  Returns 1 with the
 * rules appended, 0 when git cannot answer (not installed, not a work
 * tree, a path rsync rules cannot express...) or when the workspace itself
 * is ignored by the enclosing repository (a home directory under git that
 * ignores "*" is not the project's): then the walker translates the
 * workspace's .gitignore files itself.
 */
static int git_ignored_rules(const char *local_dir, struct strbuf *out)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct strbuf rules = STRBUF_INIT;
	const char *p, *end;
	int ret = 0;

	if (!in_git_work_tree(local_dir))
		goto out;
	{
		static const char *const argv[] = {
			"git", "-C", NULL, "-c", "core.fsmonitor=false", "ls-files", "-z",
			"--others", "--ignored", "--exclude-standard", "--directory",
		};

		for (size_t i = 0; i < ARRAY_SIZE(argv); i++)
			strvec_push(&cp.args, argv[i] ? argv[i] : local_dir);
	}
	if (!run_local(&cp, GIT_LIST_MAX, GIT_LIST_TIMEOUT_MS, "git ls-files of the ignored files"))
		goto out;
	p = cp.out_buf.buf;
	end = p + cp.out_buf.len;
	while (p < end) {
		size_t len = strnlen(p, (size_t)(end - p));

		if (p + len == end || strpbrk(p, "\n\r")) {
			log_debug("remote", "git listed a path rsync rules cannot hold");
			goto out;
		}
		if (!strcmp(p, "./") || !strcmp(p, "Cargo.toml")) {
			log_debug("remote", "'%s' is ignored by its git repository", local_dir);
			goto out;
		}
		if (len)
			add_literal_exclude(&rules, p);
		p += len + 1;
	}
	strbuf_addbuf(out, &rules);
	ret = 1;
out:
	strbuf_release(&rules);
	child_process_release(&cp);
	return ret;
}

int remote_sync_rules(const char *local_dir, const struct sync_filters *f,
		      struct strbuf *out, struct burst_error *err)
{
	return sync_rules_compute(local_dir, f, NULL, 0, NULL, out, err);
}

/*
 * The record of a walk's rules: the SHA-256 of the rules before the walk's
 * (the configuration's), the walk's rules (u64 length, text), then the
 * entries of struct walk's rec (u64 length, entries).
 */
#define REC_HEAD (32 + 8)

/* The rules, with the record of the last walk's (see remote-int.h). */
int sync_rules_compute(const char *local_dir, const struct sync_filters *f,
		       const char *rec_in, size_t rec_in_len, struct strbuf *rec_out,
		       struct strbuf *out, struct burst_error *err)
{
	static const struct sync_filters none = { 0 };
	struct strbuf rec = STRBUF_INIT;
	unsigned char head[32];
	size_t start = out->len, walked;
	struct walk w;
	int ret = -1;

	memset(&w, 0, sizeof(w));
	strvec_init(&w.skip);
	strvec_init(&w.ignored);
	if (!f)
		f = &none;
	w.unexclude = f->unexclude;
	for (size_t i = 0; f->extra_excludes && f->extra_excludes[i]; i++) {
		strbuf_addf(out, "- %s\n", f->extra_excludes[i]);
		add_skip(&w, f->extra_excludes[i]);
	}
	add_skip(&w, ".git/"); /* no .gitignore in there */
	{
		char *dotgit = xstrfmt("%s/.git", local_dir);
		struct stat st;

		/* a worktree's or submodule's .git file names a local path */
		if (!lstat(dotgit, &st) && !S_ISDIR(st.st_mode))
			strbuf_addstr(out, "- /.git\n");
		else if (!lstat(dotgit, &st) && f->sync_git)
			for (size_t i = 0; git_dir_rules[i]; i++)
				strbuf_addf(out, "%s\n", git_dir_rules[i]);
		free(dotgit);
	}
	for (size_t i = 0; remote_default_excludes[i]; i++) {
		if (in_list(f->unexclude, remote_default_excludes[i]))
			continue;
		strbuf_addf(out, "- %s\n", remote_default_excludes[i]);
		add_skip(&w, remote_default_excludes[i]);
	}
	for (size_t i = 0; f->unexclude && f->unexclude[i]; i++)
		strbuf_addf(out, "+ %s\n", f->unexclude[i]);
	/*
	 * cargo reads Cargo.lock whether or not git ignores it (libraries used
	 * to): the remote cargo must resolve what the local one would, not
	 * keep a lock file of its own.  (An extra_excludes entry still wins.)
	 */
	strbuf_addstr(out, "+ " SYNC_ALWAYS "\n");
	if (!f->no_gitignore && !f->no_git && git_ignored_rules(local_dir, out)) {
		ret = 0;
		goto out;
	}
	sha256_buf(out->buf + start, out->len - start, head);
	walked = out->len;
	if (!f->no_gitignore && rec_in && rec_in_len >= REC_HEAD + 8 && !memcmp(rec_in, head, 32)) {
		const unsigned char *p = (const unsigned char *)rec_in;
		uint64_t tl = sync_get_u64(p + 32);

		/* nothing the walk read has changed: its rules are the same */
		if (tl <= rec_in_len - REC_HEAD - 8 && !memchr(p + REC_HEAD, '\0', (size_t)tl) &&
		    sync_get_u64(p + REC_HEAD + tl) == rec_in_len - REC_HEAD - tl - 8 &&
		    rec_holds(local_dir, p + REC_HEAD + tl + 8, p + rec_in_len)) {
			strbuf_add(out, rec_in + REC_HEAD, (size_t)tl);
			if (rec_out)
				strbuf_add(rec_out, rec_in, rec_in_len);
			ret = 0;
			goto out;
		}
	}
	if (!f->no_gitignore) {
		if (rec_out) {
			w.rec = &rec;
			w.racy_ns = sync_clock_ns(CLOCK_REALTIME_COARSE) - SYNC_RACY_NS;
		}
		if (walk_dir(&w, local_dir, "", 0, err) < 0)
			goto out;
		/* Deeper .gitignore files take precedence (stable for equal depth). */
		for (size_t i = 1; i < w.nr; i++) {
			for (size_t k = i; k > 0 && cmp_depth_desc(&w.blocks[k - 1], &w.blocks[k]) > 0; k--) {
				struct rule_block t = w.blocks[k];

				w.blocks[k] = w.blocks[k - 1];
				w.blocks[k - 1] = t;
			}
		}
		for (size_t i = 0; i < w.nr; i++)
			strbuf_addstr(out, w.blocks[i].rules);
		if (rec_out && !w.no_rec) {
			strbuf_add(rec_out, head, 32);
			sync_put_u64(rec_out, out->len - walked);
			strbuf_add(rec_out, out->buf + walked, out->len - walked);
			sync_put_u64(rec_out, rec.len);
			strbuf_addbuf(rec_out, &rec);
		}
	}
	ret = 0;
out:
	strbuf_release(&rec);
	for (size_t i = 0; i < w.nr; i++)
		free(w.blocks[i].rules);
	free(w.blocks);
	strvec_clear(&w.skip);
	strvec_clear(&w.ignored);
	return ret;
}

/* Quote one word for rsync's -e splitting: '...' with ' doubled. */
static void rsync_quote(struct strbuf *out, const char *arg)
{
	if (*arg && !strpbrk(arg, " \t'\"")) {
		strbuf_addstr(out, arg);
		return;
	}
	strbuf_addch(out, '\'');
	for (const char *p = arg; *p; p++) {
		if (*p == '\'')
			strbuf_addch(out, '\'');
		strbuf_addch(out, *p);
	}
	strbuf_addch(out, '\'');
}

static void rsync_common(const struct remote_host *h, struct child_process *cp)
{
	struct strvec ssh = STRVEC_INIT;
	struct strbuf e = STRBUF_INIT;

	remote_ssh_base_argv(h, &ssh);
	for (size_t i = 0; i < ssh.nr; i++) {
		if (i)
			strbuf_addch(&e, ' ');
		rsync_quote(&e, ssh.v[i]);
	}
	strvec_push(&cp->args, proc_rsync_program());
	strvec_push(&cp->args, "-a");
	strvec_push(&cp->args, "-z");
	strvec_push(&cp->args, "--no-owner");
	strvec_push(&cp->args, "--no-group");
	strvec_push(&cp->args, "--stats");
	strvec_push(&cp->args, "--no-human-readable");
	strvec_push(&cp->args, "-e");
	strvec_push(&cp->args, e.buf);
	cp->in = PROC_IO_NULL;
	cp->out = PROC_IO_CAPTURE;
	cp->err = PROC_IO_CAPTURE;
	cp->capture_max = 1024 * 1024;
	strbuf_release(&e);
	strvec_clear(&ssh);
}

static uint64_t stat_number(const char *text, const char *label)
{
	const char *p = strstr(text, label);
	uint64_t v = 0;

	if (!p)
		return 0;
	p += strlen(label);
	while (*p == ' ')
		p++;
	for (; (*p >= '0' && *p <= '9') || *p == ','; p++)
		if (*p != ',')
			v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

static void parse_stats(const struct child_process *cp, struct sync_stats *st)
{
	const char *t = cp->out_buf.buf;

	if (!st)
		return;
	st->files = stat_number(t, "Number of files:");
	st->files_transferred = stat_number(t, "Number of regular files transferred:");
	st->total_size = stat_number(t, "Total file size:");
	st->bytes_sent = stat_number(t, "Total bytes sent:");
	st->bytes_received = stat_number(t, "Total bytes received:");
	st->elapsed_ms = cp->elapsed_ms;
}

static int rsync_failed(const struct child_process *cp, const char *what,
			struct burst_error *err)
{
	char *why = remote_last_line(&cp->err_buf);
	struct strbuf st = STRBUF_INIT;

	proc_describe_status(cp, &st);
	burst_error_set(err, BURST_EXIT_REMOTE, "%s failed: rsync %s%s%s", what, st.buf,
			why ? ": " : "", why ? why : "");
	free(why);
	strbuf_release(&st);
	return -1;
}

bool remote_sync_progress_wanted(void)
{
	const char *when = getenv("CARGO_TERM_PROGRESS_WHEN");

	if (ui_quiet() || (when && !strcmp(when, "never")))
		return false;
	if (when && !strcmp(when, "always"))
		return true;
	return isatty(STDERR_FILENO);
}

int remote_parse_progress(const char *line, uint64_t *bytes, unsigned *percent,
			  char *rate, size_t rate_size)
{
	const char *p = line;
	uint64_t b = 0;
	unsigned pct = 0;
	int digits = 0;
	size_t n = 0;

	while (*p == ' ')
		p++;
	for (; (*p >= '0' && *p <= '9') || *p == ','; p++) {
		if (*p == ',')
			continue;
		if (b > (UINT64_MAX - 9) / 10)
			return -1;
		b = b * 10 + (uint64_t)(*p - '0');
		digits++;
	}
	if (!digits || *p != ' ')
		return -1;
	while (*p == ' ')
		p++;
	for (digits = 0; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
		pct = pct * 10 + (unsigned)(*p - '0');
	if (!digits || *p != '%' || pct > 100)
		return -1;
	p++;
	while (*p == ' ')
		p++;
	/* the rate: printable, up to the next space ("18.94MB/s") */
	while (p[n] && p[n] != ' ' && (unsigned char)p[n] > 0x20 &&
	       (unsigned char)p[n] < 0x7f)
		n++;
	if (rate && rate_size) {
		if (n >= rate_size)
			n = rate_size - 1;
		memcpy(rate, p, n);
		rate[n] = '\0';
	}
	*bytes = b;
	*percent = pct;
	return 0;
}

void remote_format_progress(struct strbuf *out, uint64_t bytes, unsigned percent,
			    const char *rate)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	const unsigned width = 25;
	unsigned fill = (percent > 100 ? 100 : percent) * width / 100, u = 0;
	double v = (double)bytes;

	strbuf_addch(out, '[');
	for (unsigned i = 0; i < width; i++)
		strbuf_addch(out, i < fill ? '=' : i == fill ? '>' : ' ');
	while (v >= 1024 && u + 1 < ARRAY_SIZE(unit)) {
		v /= 1024;
		u++;
	}
	strbuf_addf(out, "] %3u%% ", percent);
	if (u)
		strbuf_addf(out, "%.1f %s", v, unit[u]);
	else
		strbuf_addf(out, "%llu B", (unsigned long long)bytes);
	if (rate && *rate)
		strbuf_addf(out, ", %s", rate);
}

/*
 * rsync's stdout with --info=progress2: progress lines drawn (when the
 * bar or the size changed: rsync repeats itself), the rest kept.
 */
static void push_output_line(const char *line, size_t len, unsigned flags, void *data)
{
	static uint64_t last_bytes = UINT64_MAX;
	static unsigned last_pct;
	struct child_process *cp = data;
	uint64_t bytes;
	unsigned pct;
	char rate[32];

	if (remote_parse_progress(line, &bytes, &pct, rate, sizeof(rate)) == 0) {
		struct strbuf text = STRBUF_INIT;

		if (pct == last_pct && bytes / 65536 == last_bytes / 65536)
			return;
		last_pct = pct;
		last_bytes = bytes;
		remote_format_progress(&text, bytes, pct, rate);
		ui_progress("Syncing", "%s", text.buf);
		strbuf_release(&text);
		return;
	}
	if (cp->out_buf.len + len + 1 < 1024 * 1024) {
		strbuf_add(&cp->out_buf, line, len);
		strbuf_addch(&cp->out_buf, '\n');
	}
}

int remote_rsync_push_prepare(const struct remote_host *h, const char *local_dir,
			      const char *remote_dir, const struct sync_filters *f,
			      struct strbuf *rules, struct child_process *cp,
			      struct burst_error *err)
{
	struct strbuf rpath = STRBUF_INIT;

	if (remote_sync_rules(local_dir, f, rules, err) < 0)
		return -1;
	log_trace("remote", "sync rules:\n%s", rules->buf);
	rsync_common(h, cp);
	strvec_push(&cp->args, "--delete");
	/* a server that stops answering ends the sync (rsync sends keepalives) */
	strvec_pushf(&cp->args, "--timeout=%d", FETCH_IDLE_SECS);
	strvec_push(&cp->args, "--filter=. -");
	if (f && f->progress) {
		strvec_push(&cp->args, "--info=progress2");
		cp->out = PROC_IO_LINES;
		cp->out_line = push_output_line;
		cp->cb_data = cp;
	}
	/* Create the destination first, with any rsync version on the server. */
	strbuf_addstr(&rpath, "mkdir -p ");
	remote_shell_quote(&rpath, remote_dir);
	strbuf_addstr(&rpath, " && rsync");
	strvec_pushf(&cp->args, "--rsync-path=%s", rpath.buf);
	strvec_pushf(&cp->args, "%s/", local_dir);
	strvec_pushf(&cp->args, "%s:%s/", remote_dest(h), remote_dir);
	cp->in = PROC_IO_BUFFER;
	cp->in_buf = rules->buf;
	cp->in_len = rules->len;
	strbuf_release(&rpath);
	return 0;
}

int remote_rsync_push_finish(const struct remote_host *h, const char *local_dir,
			     const char *remote_dir, const struct child_process *cp,
			     struct sync_stats *stats, struct burst_error *err)
{
	if (cp->exit_code == 24) {
		log_warn("remote", "some files vanished while syncing '%s'", local_dir);
	} else if (cp->exit_code != 0) {
		char *what = xstrfmt("syncing '%s' to '%s:%s'", local_dir, remote_dest(h),
				     remote_dir);

		rsync_failed(cp, what, err);
		free(what);
		return -1;
	}
	parse_stats(cp, stats);
	return 0;
}

int remote_rsync_push(const struct remote_host *h, const char *local_dir,
		      const char *remote_dir, const struct sync_filters *f,
		      struct sync_stats *stats, struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct strbuf rules = STRBUF_INIT;
	int ret = -1;

	if (remote_rsync_push_prepare(h, local_dir, remote_dir, f, &rules, &cp, err) < 0)
		goto out;
	if (proc_run(&cp, err) < 0) {
		burst_error_prefix(err, "syncing '%s'", local_dir);
		goto out;
	}
	ret = remote_rsync_push_finish(h, local_dir, remote_dir, &cp, stats, err);
out:
	strbuf_release(&rules);
	child_process_release(&cp);
	return ret;
}

/* ---- the indexed push ---------------------------------------------------- */

#define SYNC_MARKER ".cargo-burst-sync"
/* The line the marker probe prints: this, then the marker's content. */
#define SYNC_PROBE_TAG "cargo-burst-sync-gen "
#define SYNC_MISMATCH "cargo-burst: the remote source tree is not the one last synced"
/* Deletions beyond this many bytes of command line: a full sync instead. */
#define SYNC_DELS_MAX (64 * 1024)
/* A clock step: the wall clock moved against the boot clock by more than this. */
#define SYNC_STEP_NS (2 * 1000000000LL)
/*
 * A small change (this many paths, this many bytes at most, only files,
 * directories and symlinks) goes as a tar stream over the master instead
 * of rsync: rsync's own start and end cost ~50 ms (its processes wait for
 * each other in 20 ms sleeps), more than sending a few files takes.
 */
#define SYNC_SMALL_PATHS 256
#define SYNC_SMALL_BYTES (1024 * 1024)
/* The tar stream of a small push: the files, a header per path, the end. */
#define SYNC_SMALL_TAR_MAX (SYNC_SMALL_BYTES + SYNC_SMALL_PATHS * 3 * 512 + 64 * 1024)
#define SYNC_SMALL_TAR_TIMEOUT_MS 30000

/*
 * The early walk: while the rules are computed (and the caller mounts the
 * volume), the workspace is already walked with the rules of the last sync
 * (the index keeps their text); it stands only when the rules came out the
 * same.
 */
struct early_walk {
	struct sync_index *old;  /* the index of the last sync, or NULL */
	struct sync_rules *rules; /* old's rules, parsed */
	struct sync_walk *walk;
};

/* What the marker probe (remote_sync_push_probe) found on the server. */
enum sync_probe { PROBE_NONE, PROBE_MATCH, PROBE_MISMATCH };

struct sync_push {
	const struct remote_host *h;
	char *local_dir, *remote_dir;
	struct sync_filters f;
	struct strbuf rules; /* rsync's stdin of a full push */
	struct strbuf list;  /* rsync's stdin of an incremental push (--files-from) */
	struct strbuf rules_rec; /* the record of the rules' walk, for the index */
	struct strvec dels;
	struct strvec unexclude, extra_excludes; /* f's lists, copied */
	struct child_process cp;
	struct sync_index *cur; /* this walk; NULL: no index this time */
	struct sync_index *old; /* the index of the last sync (incremental only) */
	char *index_path, *index_target;
	char *rules_file; /* the rules of an incremental push (stdin is the list) */
	bool incremental;
	bool small;     /* incremental, sent as a tar stream (tarball) */
	struct strbuf tarball;
	bool unchanged; /* incremental with nothing to send or delete */
	bool skip;      /* ...and the probe found the marker: no child at all */
	size_t changed;
	struct early_walk ew; /* between begin and plan */
	enum sync_probe probe;
	char boot[36]; /* the kernel's boot id, read once per sync with an index */
	/* the index is written by a thread; hold_fd is closed after it */
	pthread_t saver;
	bool saving;
	int hold_fd;
};

static void marker_path(struct strbuf *out, const char *remote_dir)
{
	char *m = xstrfmt("%s/" SYNC_MARKER, remote_dir);

	remote_shell_quote(out, m);
	free(m);
}

/*
 * The remote end of a push with an index: the marker is emptied before the
 * transfer and gets the new generation only after the transfer (rsync, or
 * tar for a small push) succeeded (an interrupted sync leaves none: the
 * next one is full).  The file is truncated and rewritten, never created
 * or removed after the transfer ran, so the directory's mtime stays the
 * one the transfer gave it.
 */
static void indexed_remote_command(struct sync_push *sp, struct strbuf *out)
{
	struct strbuf tail = STRBUF_INIT;

	if (sp->incremental) {
		strbuf_addstr(out, "test \"$(cat ");
		marker_path(out, sp->remote_dir);
		strbuf_addstr(out, " 2>/dev/null)\" = ");
		strbuf_add(out, sp->old->gen, sizeof(sp->old->gen));
		strbuf_addstr(out, " || { echo '" SYNC_MISMATCH "' >&2; exit 97; }; : >");
		marker_path(out, sp->remote_dir);
		if (sp->dels.nr) {
			strbuf_addstr(out, " && (cd ");
			remote_shell_quote(out, sp->remote_dir);
			strbuf_addstr(out, " && rm -rf --");
			for (size_t i = 0; i < sp->dels.nr; i++) {
				strbuf_addstr(out, " ./");
				remote_shell_quote(out, sp->dels.v[i]);
			}
			strbuf_addch(out, ')');
		}
	} else {
		strbuf_addstr(out, "mkdir -p ");
		remote_shell_quote(out, sp->remote_dir);
		strbuf_addstr(out, " && : >");
		marker_path(out, sp->remote_dir);
	}
	if (sp->small) {
		/*
		 * As rsync -a --no-owner --no-group leaves it: modes (-p),
		 * times to the nanosecond (the stream is pax), symlinks as
		 * they are, owned by the one who runs it; the directories'
		 * times set after their files were written.
		 */
		strbuf_addstr(&tail, "tar -C ");
		remote_shell_quote(&tail, sp->remote_dir);
		strbuf_addstr(&tail, " -x -p --no-same-owner --delay-directory-restore -f - "
			      "&& echo ");
	} else {
		strbuf_addstr(&tail, "rsync \"$@\" && echo ");
	}
	strbuf_add(&tail, sp->cur->gen, sizeof(sp->cur->gen));
	strbuf_addstr(&tail, " >");
	marker_path(&tail, sp->remote_dir);
	strbuf_addstr(out, " && sh -c ");
	remote_shell_quote(out, tail.buf);
	strbuf_addstr(out, " sh");
	strbuf_release(&tail);
}

/* The push's child as a remote shell command (no rsync), with stdin in. */
static void shell_child(struct sync_push *sp, const char *cmd, const void *in, size_t in_len)
{
	struct child_process *cp = &sp->cp;

	remote_command_prepare(sp->h, cmd, 0, cp);
	cp->in = in ? PROC_IO_BUFFER : PROC_IO_NULL;
	cp->in_buf = in;
	cp->in_len = in_len;
	cp->out = PROC_IO_CAPTURE;
	cp->err = PROC_IO_CAPTURE;
	cp->capture_max = 64 * 1024;
	cp->timeout_ms = FETCH_IDLE_SECS * 1000;
}

static void push_child(struct sync_push *sp)
{
	struct child_process *cp = &sp->cp;
	struct strbuf rpath = STRBUF_INIT;

	child_process_release(cp);
	child_process_init(cp);
	if (sp->skip)
		return;
	if (sp->unchanged) {
		/* nothing to send: only ask whether the server's tree is still ours */
		strbuf_addstr(&rpath, "test \"$(cat ");
		marker_path(&rpath, sp->remote_dir);
		strbuf_addstr(&rpath, " 2>/dev/null)\" = ");
		strbuf_add(&rpath, sp->old->gen, sizeof(sp->old->gen));
		strbuf_addstr(&rpath, " || { echo '" SYNC_MISMATCH "' >&2; exit 97; }");
		shell_child(sp, rpath.buf, NULL, 0);
		strbuf_release(&rpath);
		return;
	}
	if (sp->small) {
		indexed_remote_command(sp, &rpath);
		shell_child(sp, rpath.buf, sp->tarball.buf, sp->tarball.len);
		strbuf_release(&rpath);
		return;
	}
	rsync_common(sp->h, cp);
	if (sp->incremental) {
		strvec_push(&cp->args, "--files-from=-");
		strvec_push(&cp->args, "--from0");
		/*
		 * Only what the index says changed is listed: its content is
		 * compared even when size and mtime agree (an edit within the
		 * same timestamp granule; rsync's quick check would skip it).
		 */
		strvec_push(&cp->args, "--ignore-times");
		/*
		 * The same rules: a listed "." (the top directory's own times
		 * and mode) makes rsync look at the top level's entries too.
		 */
		strvec_pushf(&cp->args, "--filter=. %s", sp->rules_file);
	} else {
		strvec_push(&cp->args, "--delete");
		strvec_push(&cp->args, "--filter=. -");
	}
	strvec_pushf(&cp->args, "--timeout=%d", FETCH_IDLE_SECS);
	if (sp->f.progress) {
		strvec_push(&cp->args, "--info=progress2");
		cp->out = PROC_IO_LINES;
		cp->out_line = push_output_line;
		cp->cb_data = cp;
	}
	if (sp->cur) {
		indexed_remote_command(sp, &rpath);
	} else {
		strbuf_addstr(&rpath, "mkdir -p ");
		remote_shell_quote(&rpath, sp->remote_dir);
	}
	if (!sp->cur)
		strbuf_addstr(&rpath, " && rsync");
	strvec_pushf(&cp->args, "--rsync-path=%s", rpath.buf);
	strvec_pushf(&cp->args, "%s/", sp->local_dir);
	strvec_pushf(&cp->args, "%s:%s/", remote_dest(sp->h), sp->remote_dir);
	cp->in = PROC_IO_BUFFER;
	cp->in_buf = sp->incremental ? sp->list.buf : sp->rules.buf;
	cp->in_len = sp->incremental ? sp->list.len : sp->rules.len;
	strbuf_release(&rpath);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The tar stream of a small push: the listed paths (NUL-separated, as the
 * walk saw them) as the local tar reads them now, pax (times to the
 * nanosecond), hard links as files, no atime/ctime records.  false when
 * tar cannot make it (not installed, a path gone meanwhile, too big): the
 * push is then rsync's.
 */
static bool make_tarball(struct sync_push *sp)
{
	static const char *const argv[] = {
		"tar", "-C", NULL, "--null", "--verbatim-files-from", "--no-recursion",
		"--format=posix", "--pax-option=delete=atime,delete=ctime",
		"--hard-dereference", "--blocking-factor=1", "-T", "-", "-cf", "-",
	};
	struct child_process cp = CHILD_PROCESS_INIT;
	struct strvec names = STRVEC_INIT;
	struct strbuf list = STRBUF_INIT;
	bool ok = false;

	/*
	 * Each path with its parent directories, "." included: writing a
	 * file into a directory changes the directory's times, which the
	 * stream then sets back (rsync's implied directories do the same).
	 */
	for (const char *p = sp->list.buf; p < sp->list.buf + sp->list.len; p += strlen(p) + 1) {
		const char *slash;

		strvec_push(&names, p);
		strvec_push(&names, ".");
		for (slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/'))
			strvec_pushf(&names, "%.*s", (int)(slash - p), p);
	}
	qsort(names.v, names.nr, sizeof(*names.v), cmp_name);
	for (size_t i = 0; i < names.nr; i++)
		if (!i || strcmp(names.v[i], names.v[i - 1]))
			strbuf_add(&list, names.v[i], strlen(names.v[i]) + 1);
	for (size_t i = 0; i < ARRAY_SIZE(argv); i++)
		strvec_push(&cp.args, argv[i] ? argv[i] : sp->local_dir);
	cp.in = PROC_IO_BUFFER;
	cp.in_buf = list.buf;
	cp.in_len = list.len;
	ok = run_local(&cp, SYNC_SMALL_TAR_MAX, SYNC_SMALL_TAR_TIMEOUT_MS, "tar of a small push");
	if (ok)
		strbuf_addbuf(&sp->tarball, &cp.out_buf);
	child_process_release(&cp);
	strvec_clear(&names);
	strbuf_release(&list);
	return ok;
}

/*
 * Did the clock go back or step since old's walk?  NULL, or what it did.
 * boot: this boot's id, as the push read it.
 */
static const char *clock_untrusted(const struct sync_index *old, const char boot[36])
{
	int64_t now = sync_clock_ns(CLOCK_REALTIME);
	int64_t offset = now - sync_clock_ns(CLOCK_BOOTTIME);

	if (now < old->walk_ns)
		return "the clock went back";
	if (!memcmp(old->boot, boot, sizeof(old->boot))) {
		int64_t d = offset - old->offset_ns;

		/* NTP slews at most 500 ppm: more than that is a step */
		if (d < 0)
			d = -d;
		if (d > SYNC_STEP_NS + (now - old->walk_ns) / 1000)
			return "the clock was stepped";
	}
	return NULL;
}

/* Is a full sync that verifies the tree due (verify_secs)? */
static bool verify_due(const struct sync_push *sp, const struct sync_index *old)
{
	int64_t now = sync_clock_ns(CLOCK_REALTIME);

	return sp->f.verify_secs > 0 && (now - old->full_ns) / 1000000000 >= sp->f.verify_secs;
}

/* Can the old index be trusted for this push?  NULL, or why not. */
static const char *index_untrusted(const struct sync_push *sp, const struct sync_index *old)
{
	const char *why;

	if (memcmp(old->key, sp->cur->key, sizeof(old->key)))
		return "another server or directory";
	if (sp->probe == PROBE_MISMATCH)
		return "the server's tree is not the one last synced (its marker differs)";
	if (memcmp(old->rules, sp->cur->rules, sizeof(old->rules)))
		return "the filter rules changed";
	if ((why = clock_untrusted(old, sp->boot)))
		return why;
	if (verify_due(sp, old))
		return "a full sync verifies the tree (verify_secs)";
	return NULL;
}

/* The rules into a file beside the index, for rsync --filter=". FILE". */
static int write_rules_file(struct sync_push *sp)
{
	/* one name: a killed run leaves no litter (runs of a project take turns) */
	char *path = xstrfmt("%s.rules", sp->index_path);
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct strbuf nul = STRBUF_INIT;
	int fd = -1, ret = -1;

	if (slash) {
		*slash = '\0';
		if (remote_mkdir_p(dir, 0700) < 0)
			goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto out;
	/* --from0 makes rsync read merge files NUL-separated too */
	for (size_t i = 0; i < sp->rules.len; i++)
		if (sp->rules.buf[i] == '\n')
			strbuf_addch(&nul, '\0');
		else
			strbuf_addch(&nul, sp->rules.buf[i]);
	for (size_t off = 0; off < nul.len;) {
		ssize_t w = write(fd, nul.buf + off, nul.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		off += (size_t)w;
	}
	sp->rules_file = path;
	path = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (path)
		unlink(path);
	strbuf_release(&nul);
	free(path);
	free(dir);
	return ret;
}

static void early_walk_start(struct sync_push *sp, struct early_walk *ew)
{
	struct strbuf sb = STRBUF_INIT;
	const char *why = NULL, *rules;
	size_t len;

	memset(ew, 0, sizeof(*ew));
	if (sync_index_read(sp->f.index_path, &sb, &why) < 0) {
		log_debug("remote", "sync index of '%s': %s", sp->local_dir, why);
		goto out;
	}
	/* the walk begins before the rest of the index is checked and decoded */
	rules = sync_index_peek_rules(&sb, &len);
	ew->rules = rules ? sync_rules_parse(rules, len) : NULL;
	if (ew->rules)
		ew->walk = sync_index_walk_start(sp->local_dir, ew->rules);
	ew->old = sync_index_parse(&sb, &why);
	if (!ew->old)
		log_debug("remote", "sync index of '%s': %s", sp->local_dir, why);
out:
	strbuf_release(&sb);
}

static void early_walk_release(struct early_walk *ew)
{
	const char *why;

	if (ew->walk)
		sync_index_free(sync_index_walk_finish(ew->walk, &why));
	sync_rules_free(ew->rules);
	sync_index_free(ew->old);
	memset(ew, 0, sizeof(*ew));
}

/* Walk (or take the early walk), compare with the index, choose the push. */
static void plan_indexed(struct sync_push *sp, struct early_walk *ew)
{
	struct sha256_ctx c;
	const char *why = NULL;
	struct sync_index *old = ew->old;
	const char *target;
	size_t dlen = 0;

	if (ew->walk && ew->old && ew->old->rules_len == sp->rules.len &&
	    !memcmp(ew->old->rules_text, sp->rules.buf, sp->rules.len)) {
		sp->cur = sync_index_walk_finish(ew->walk, &why);
		ew->walk = NULL;
	} else {
		struct sync_rules *rules = sync_rules_parse(sp->rules.buf, sp->rules.len);

		if (ew->walk) {
			/* the rules changed: that walk is not this push's */
			sync_index_free(sync_index_walk_finish(ew->walk, &why));
			ew->walk = NULL;
		}
		why = "a filter rule is not one it evaluates";
		if (rules)
			sp->cur = sync_index_walk(sp->local_dir, rules, &why);
		sync_rules_free(rules);
	}
	/*
	 * Without an index this time, the old one must go: the full push
	 * changes the server's tree without a new marker.
	 */
	if (!sp->cur) {
		log_debug("remote", "no sync index for '%s': %s", sp->local_dir, why);
		unlink(sp->f.index_path);
		return;
	}
	why = NULL;
	sp->cur->rules_text = xstrndup(sp->rules.buf, sp->rules.len);
	sp->cur->rules_len = sp->rules.len;
	sp->cur->cache = strbuf_detach(&sp->rules_rec, &sp->cur->cache_len);
	sha256_init(&c);
	target = sp->f.index_target ? sp->f.index_target : "";
	sha256_update(&c, target, strlen(target) + 1);
	sha256_update(&c, sp->remote_dir, strlen(sp->remote_dir) + 1);
	sha256_update(&c, sp->local_dir, strlen(sp->local_dir) + 1);
	sha256_final(&c, sp->cur->key);
	sha256_buf(sp->rules.buf, sp->rules.len, sp->cur->rules);
	memcpy(sp->cur->boot, sp->boot, sizeof(sp->cur->boot));
	sync_new_gen(sp->cur->gen);
	sp->cur->full_ns = sp->cur->walk_ns;

	if (old && !(why = index_untrusted(sp, old))) {
		struct sync_send_info info;

		sync_index_diff(old, sp->cur, &sp->list, &sp->dels, &info);
		for (size_t i = 0; i < sp->dels.nr; i++)
			dlen += strlen(sp->dels.v[i]) + 8;
		if (dlen > SYNC_DELS_MAX) {
			why = "too many deletions";
			strbuf_reset(&sp->list);
			strvec_clear(&sp->dels);
		} else {
			sp->incremental = true;
			sp->cur->full_ns = old->full_ns;
			for (size_t i = 0; i < sp->list.len; i++)
				sp->changed += !sp->list.buf[i];
			sp->old = old;
			ew->old = NULL;
			/*
			 * Nothing changed and nothing was racily clean: the old
			 * index stays as it is, the server's marker too.
			 */
			sp->unchanged = !sp->changed && !sp->dels.nr;
			/* ...and the probe already saw the server's marker: done */
			sp->skip = sp->unchanged && sp->probe == PROBE_MATCH;
			sp->small = !sp->unchanged && !sp->f.no_small && info.plain &&
				    info.nr <= SYNC_SMALL_PATHS &&
				    info.bytes <= SYNC_SMALL_BYTES && make_tarball(sp);
			if (!sp->unchanged && !sp->small && write_rules_file(sp) < 0) {
				why = "the rules cannot be written for rsync";
				sp->incremental = false;
				strbuf_reset(&sp->list);
				strvec_clear(&sp->dels);
			}
		}
	} else if (!old) {
		why = "no usable index";
	}
	if (why)
		log_debug("remote", "full sync of '%s': %s", sp->local_dir, why);
}

/* Load the index and begin the walk (see remote.h). */
struct sync_push *remote_sync_push_begin(const struct remote_host *h, const char *local_dir,
					 const char *remote_dir, const struct sync_filters *f)
{
	struct sync_push *sp = xcalloc(1, sizeof(*sp));

	sp->h = h;
	sp->local_dir = xstrdup(local_dir);
	sp->remote_dir = xstrdup(remote_dir);
	sp->hold_fd = -1;
	strvec_init(&sp->unexclude);
	strvec_init(&sp->extra_excludes);
	if (f) {
		sp->f = *f;
		for (size_t i = 0; f->unexclude && f->unexclude[i]; i++)
			strvec_push(&sp->unexclude, f->unexclude[i]);
		for (size_t i = 0; f->extra_excludes && f->extra_excludes[i]; i++)
			strvec_push(&sp->extra_excludes, f->extra_excludes[i]);
	}
	/* f is only read here: the push keeps copies of its lists and names */
	sp->f.unexclude = f && f->unexclude ? (const char *const *)sp->unexclude.v : NULL;
	sp->f.extra_excludes = f && f->extra_excludes ?
			       (const char *const *)sp->extra_excludes.v : NULL;
	sp->index_path = f && f->index_path ? xstrdup(f->index_path) : NULL;
	sp->index_target = f && f->index_target ? xstrdup(f->index_target) : NULL;
	sp->f.index_path = sp->index_path;
	sp->f.index_target = sp->index_target;
	strbuf_init(&sp->rules, 0);
	strbuf_init(&sp->list, 0);
	strbuf_init(&sp->rules_rec, 0);
	strbuf_init(&sp->tarball, 0);
	strvec_init(&sp->dels);
	child_process_init(&sp->cp);
	/* the marker is the tool's, never the workspace's, on either side */
	if (sp->f.index_path) {
		strbuf_addstr(&sp->rules, "- /" SYNC_MARKER "\n");
		/* one read: the new index records it, the old one is checked against it */
		sync_boot_id(sp->boot);
		early_walk_start(sp, &sp->ew);
	}
	return sp;
}

/* The marker probe for the caller's remote command (see remote.h). */
void remote_sync_push_probe(const struct sync_push *sp, struct strbuf *cmd)
{
	if (!sp->ew.old)
		return;
	strbuf_addstr(cmd, " && { printf '%s' '" SYNC_PROBE_TAG "'; cat ");
	marker_path(cmd, sp->remote_dir);
	strbuf_addstr(cmd, " 2>/dev/null; echo; }");
}

/* What the probe printed (see remote.h). */
void remote_sync_push_probed(struct sync_push *sp, const char *out, size_t len)
{
	const char *p = out, *end = out + len;
	size_t tl = strlen(SYNC_PROBE_TAG);

	if (!sp->ew.old || !out)
		return;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);

		if (n >= tl && !memcmp(p, SYNC_PROBE_TAG, tl)) {
			sp->probe = n - tl == sizeof(sp->ew.old->gen) &&
				    !memcmp(p + tl, sp->ew.old->gen, sizeof(sp->ew.old->gen))
				    ? PROBE_MATCH : PROBE_MISMATCH;
			return;
		}
		p += n + 1;
	}
}

/* Compute the rules, finish the walk and choose the push (see remote.h). */
int remote_sync_push_plan(struct sync_push *sp, struct burst_error *err)
{
	const struct sync_index *old = sp->ew.old;
	/* the last walk's record of the rules, when the index may vouch for it */
	bool rec = old && !clock_untrusted(old, sp->boot) && !verify_due(sp, old);

	if (sync_rules_compute(sp->local_dir, &sp->f, rec ? old->cache : NULL,
			       rec ? old->cache_len : 0, sp->f.index_path ? &sp->rules_rec : NULL,
			       &sp->rules, err) < 0) {
		early_walk_release(&sp->ew);
		return -1;
	}
	log_trace("remote", "sync rules:\n%s", sp->rules.buf);
	if (sp->f.index_path)
		plan_indexed(sp, &sp->ew);
	early_walk_release(&sp->ew);
	log_trace("remote", "push of %s/ to %s:%s/ (%s)", sp->local_dir, remote_dest(sp->h),
		  sp->remote_dir, remote_sync_push_kind(sp));
	push_child(sp);
	return 0;
}

/* Walk, compare with the index and prepare the push (see remote.h). */
struct sync_push *remote_sync_push_start(const struct remote_host *h, const char *local_dir,
					 const char *remote_dir, const struct sync_filters *f,
					 struct burst_error *err)
{
	struct sync_push *sp = remote_sync_push_begin(h, local_dir, remote_dir, f);

	if (remote_sync_push_plan(sp, err) < 0) {
		remote_sync_push_free(sp);
		return NULL;
	}
	return sp;
}

/* Close fd once the push is done with the remote tree (see remote.h). */
void remote_sync_push_hold(struct sync_push *sp, int fd)
{
	if (sp->hold_fd >= 0)
		close(sp->hold_fd);
	sp->hold_fd = fd;
}

/* The child to run, or NULL: nothing to run. */
struct child_process *remote_sync_push_child(struct sync_push *sp)
{
	return sp->skip ? NULL : &sp->cp;
}

/* Only what changed? */
bool remote_sync_push_incremental(const struct sync_push *sp)
{
	return sp->incremental;
}

/* What the push is (see remote.h). */
const char *remote_sync_push_kind(const struct sync_push *sp)
{
	return sp->skip ? "nothing changed, marker seen" : sp->unchanged ? "nothing changed" :
	       sp->small ? "incremental, tar" : sp->incremental ? "incremental" : "full";
}

/* Write the index of a push that succeeded, then let go of the hold. */
static void *save_thread(void *data)
{
	struct sync_push *sp = data;
	struct burst_error e = BURST_ERROR_INIT;

	if (sync_index_save(sp->cur, sp->f.index_path, &e) < 0) {
		/* the server's marker no longer matches the old index: next is full */
		log_warn("remote", "%s", e.message);
		unlink(sp->f.index_path);
	}
	burst_error_release(&e);
	remote_sync_push_hold(sp, -1);
	return NULL;
}

/* Check the push, fall back to a full one on a marker mismatch, write the index. */
int remote_sync_push_end(struct sync_push *sp, struct sync_stats *stats,
			 struct burst_error *err)
{
	bool mismatch = sp->cp.err_buf.buf && strstr(sp->cp.err_buf.buf, SYNC_MISMATCH);

	if (sp->incremental && sp->cp.exit_code != 0 && (mismatch || sp->small)) {
		int timeout = sp->cp.timeout_ms;

		if (mismatch) {
			log_info("remote", "the source tree on the server changed since the "
				 "last sync: a full sync");
		} else {
			char *why = remote_last_line(&sp->cp.err_buf);

			/* a server without GNU tar, say: rsync knows the way */
			log_info("remote", "sending the change with tar failed (%d)%s%s: a full sync",
				 sp->cp.exit_code, why ? ": " : "", why ? why : "");
			free(why);
		}
		sp->incremental = false;
		sp->small = false;
		sp->unchanged = false;
		sp->cur->full_ns = sync_clock_ns(CLOCK_REALTIME_COARSE);
		push_child(sp);
		sp->cp.timeout_ms = timeout;
		if (proc_run(&sp->cp, err) < 0) {
			burst_error_prefix(err, "syncing '%s'", sp->local_dir);
			return -1;
		}
		if (proc_interrupted())
			return 0;
	}
	if (sp->skip || sp->unchanged)
		remote_sync_push_hold(sp, -1); /* nothing to write: done with the tree */
	if (sp->skip) {
		if (stats)
			memset(stats, 0, sizeof(*stats));
		return 0;
	}
	if (sp->unchanged) {
		if (sp->cp.exit_code != 0) {
			char *what = xstrfmt("syncing '%s' to '%s:%s'", sp->local_dir,
					     remote_dest(sp->h), sp->remote_dir);
			char *why = remote_last_line(&sp->cp.err_buf);
			struct strbuf st = STRBUF_INIT;

			proc_describe_status(&sp->cp, &st);
			burst_error_set(err, BURST_EXIT_REMOTE, "%s failed: ssh %s%s%s", what,
					st.buf, why ? ": " : "", why ? why : "");
			strbuf_release(&st);
			free(why);
			free(what);
			return -1;
		}
		if (stats) {
			memset(stats, 0, sizeof(*stats));
			stats->elapsed_ms = sp->cp.elapsed_ms;
		}
		return 0;
	}
	if (sp->small) {
		if (stats) {
			memset(stats, 0, sizeof(*stats));
			stats->files_transferred = sp->changed;
			stats->bytes_sent = sp->tarball.len;
			stats->elapsed_ms = sp->cp.elapsed_ms;
		}
	} else if (remote_rsync_push_finish(sp->h, sp->local_dir, sp->remote_dir, &sp->cp,
					    stats, err) < 0) {
		return -1;
	}
	if (stats && sp->incremental)
		stats->files = sp->changed;
	if (sp->cur) {
		sigset_t all, saved;

		/*
		 * The index is written beside what comes next (the remote
		 * cargo): a thread with every signal blocked, joined by
		 * remote_sync_push_free().  Until it is written, the old one
		 * names a generation the server no longer has: a run that
		 * dies meanwhile leaves a full sync for the next one.
		 */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &saved);
		sp->saving = !pthread_create(&sp->saver, NULL, save_thread, sp);
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
		if (!sp->saving)
			save_thread(sp);
	} else {
		remote_sync_push_hold(sp, -1);
	}
	return 0;
}

/* Free the push and remove its rules file. */
void remote_sync_push_free(struct sync_push *sp)
{
	if (!sp)
		return;
	if (sp->saving)
		pthread_join(sp->saver, NULL);
	remote_sync_push_hold(sp, -1);
	early_walk_release(&sp->ew);
	child_process_release(&sp->cp);
	strbuf_release(&sp->rules);
	strbuf_release(&sp->list);
	strbuf_release(&sp->rules_rec);
	strbuf_release(&sp->tarball);
	strvec_clear(&sp->dels);
	strvec_clear(&sp->unexclude);
	strvec_clear(&sp->extra_excludes);
	sync_index_free(sp->cur);
	sync_index_free(sp->old);
	if (sp->rules_file)
		unlink(sp->rules_file);
	free(sp->rules_file);
	free(sp->index_path);
	free(sp->index_target);
	free(sp->local_dir);
	free(sp->remote_dir);
	free(sp);
}

/*
 * rsync from the server into local_dir.  Whatever the server sends, only
 * regular files and directories land here: no devices, FIFOs, sockets or
 * symlinks (--no-D --no-links), no setuid, setgid or sticky bit
 * (--chmod), no file over FETCH_FILE_MAX; a stalled transfer ends after
 * FETCH_IDLE_SECS without data, any transfer after FETCH_TIMEOUT_MS.
 * files_only: only the named files, no directory (--no-recursive).
 */
static int rsync_pull(const struct remote_host *h, const char *const *remote_paths,
		      const char *local_dir, bool files_only, struct sync_stats *stats,
		      struct burst_error *err)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	char *what = xstrfmt("fetching from '%s' into '%s'", remote_dest(h), local_dir);
	int ret = -1;

	if (!remote_paths || !remote_paths[0]) {
		ret = 0;
		goto out;
	}
	if (remote_mkdir_p(local_dir, 0755) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot create directory '%s': %s",
				local_dir, strerror(errno));
		goto out;
	}
	rsync_common(h, &cp);
	if (files_only)
		strvec_push(&cp.args, "--no-recursive");
	strvec_push(&cp.args, "--no-links");
	strvec_push(&cp.args, "--no-D");
	strvec_push(&cp.args, "--chmod=ugo-st");
	strvec_pushf(&cp.args, "--max-size=%llu", (unsigned long long)FETCH_FILE_MAX);
	strvec_pushf(&cp.args, "--timeout=%d", FETCH_IDLE_SECS);
	cp.timeout_ms = FETCH_TIMEOUT_MS;
	for (size_t i = 0; remote_paths[i]; i++)
		strvec_pushf(&cp.args, "%s:%s", i ? "" : remote_dest(h), remote_paths[i]);
	strvec_pushf(&cp.args, "%s/", local_dir);
	if (proc_run(&cp, err) < 0) {
		burst_error_prefix(err, "%s", what);
		goto out;
	}
	if (cp.exit_code != 0) {
		rsync_failed(&cp, what, err);
		goto out;
	}
	parse_stats(&cp, stats);
	ret = 0;
out:
	free(what);
	child_process_release(&cp);
	return ret;
}

/* Pull files or directories, recursively (criterion reports). */
int remote_rsync_pull(const struct remote_host *h, const char *const *remote_paths,
		      const char *local_dir, struct sync_stats *stats,
		      struct burst_error *err)
{
	return rsync_pull(h, remote_paths, local_dir, false, stats, err);
}

/* A name the server listed must be a plain file name (see remote.h). */
int remote_check_file_name(const char *name, size_t len, struct burst_error *err)
{
	const char *why = NULL;

	if (!len)
		why = "an empty name";
	else if (memchr(name, '\0', len))
		why = "a NUL byte";
	else if (memchr(name, '/', len))
		why = *name == '/' ? "an absolute path" : "a path with '/'";
	else if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2)))
		why = "a '.' or '..' name";
	else if (len > FETCH_NAME_MAX)
		why = "a name too long";
	for (size_t i = 0; !why && i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			why = "a control character";
	if (!why)
		return 0;
	{
		/* never echo what the server sent raw: it may hold escapes */
		struct strbuf shown = STRBUF_INIT;

		for (size_t i = 0; i < len && i < 80; i++)
			strbuf_addch(&shown, (unsigned char)name[i] < 0x20 || name[i] == 0x7f
					     ? '?' : name[i]);
		burst_error_set(err, BURST_EXIT_REMOTE,
				"refusing to fetch '%s%s': %s, not a plain file name",
				shown.buf, len > 80 ? "..." : "", why);
		burst_error_hint(err, "the build server sent it; if you did not build such a "
				 "file, run `cargo burst down` to replace the server");
		strbuf_release(&shown);
	}
	return -1;
}

/* SHA-256 of what fd holds from its start; -1 + errno. */
static int sha256_fd_hex(int fd, char hex[65])
{
	struct sha256_ctx c;
	unsigned char buf[65536], dig[SHA256_DIGEST_LEN];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	sha256_init(&c);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR && !proc_interrupted())
				continue;
			return -1;
		}
		sha256_update(&c, buf, (size_t)n);
	}
	sha256_final(&c, dig);
	for (size_t i = 0; i < SHA256_DIGEST_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", dig[i]);
	return 0;
}

/* Remove the fetch's private directory and whatever is left in it. */
static void remove_fetch_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) < 0 &&
			    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
				log_debug("remote", "cannot remove '%s/%s': %s", dir, de->d_name,
					  strerror(errno));
		}
		closedir(d);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("remote", "cannot remove '%s': %s", dir, strerror(errno));
}

/*
 * Open a file the server sent (in the private directory dirfd) without
 * following a link or blocking on a FIFO or device; it must be a regular
 * file.  Its mode loses any setuid/setgid/sticky bit.  fd, or -1 + err.
 */
static int open_fetched(int dirfd, const char *dir, const char *name,
			struct burst_error *err)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		burst_error_set(err, BURST_EXIT_REMOTE,
				"'%s' did not arrive as a regular file from the server: %s", name,
				errno == ENOENT ? "it was not sent (a link, device, FIFO, directory "
						  "or too large a file is never fetched)"
						: strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		burst_error_set(err, BURST_EXIT_REMOTE,
				"'%s' from the server is not a regular file", name);
		goto fail;
	}
	if ((uint64_t)st.st_size > FETCH_FILE_MAX) {
		burst_error_set(err, BURST_EXIT_REMOTE,
				"'%s' from the server is larger than %llu bytes", name,
				(unsigned long long)FETCH_FILE_MAX);
		goto fail;
	}
	if ((st.st_mode & 07000) && fchmod(fd, st.st_mode & 0777) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot clear the mode bits of '%s/%s': %s",
				dir, name, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	if (err->message && err->exit_code == BURST_EXIT_REMOTE)
		burst_error_hint(err, "the build server sent it; if this keeps happening, run "
				 "`cargo burst down` to replace the server");
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Fetch checked, checksummed artifacts into local_dir (see remote.h). */
int remote_fetch_files(const struct remote_host *h, const char *remote_dir,
		       const char *const *names, const char *local_dir,
		       struct burst_error *err)
{
	struct strvec paths = STRVEC_INIT;
	struct strbuf cmd = STRBUF_INIT;
	struct child_process cp = CHILD_PROCESS_INIT;
	char *tmp = NULL;
	int tmpfd = -1, localfd = -1;
	const char *p;
	size_t count = 0;
	int ret = -1;

	for (size_t i = 0; names && names[i]; i++) {
		if (remote_check_file_name(names[i], strlen(names[i]), err) < 0)
			goto out;
		strvec_pushf(&paths, "%s/%s", remote_dir, names[i]);
		count++;
	}
	if (!count)
		return 0;
	/*
	 * Into a private directory beside the destination first: nothing the
	 * server sends is opened by path or lands in target/ before it was
	 * checked (a regular file, its checksum), then renamed into place.
	 */
	if (remote_mkdir_p(local_dir, 0755) < 0 ||
	    (localfd = open(local_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot create directory '%s': %s",
				local_dir, strerror(errno));
		goto out;
	}
	tmp = xstrfmt("%s/.cargo-burst-fetch-XXXXXX", local_dir);
	if (!mkdtemp(tmp) ||
	    (tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "cannot create a directory in '%s': %s",
				local_dir, strerror(errno));
		FREE_AND_NULL(tmp);
		goto out;
	}
	if (rsync_pull(h, (const char *const *)paths.v, tmp, true, NULL, err) < 0)
		goto out;
	/* every file arrived as a regular file: before asking for checksums */
	for (size_t i = 0; i < count; i++) {
		int fd = open_fetched(tmpfd, tmp, names[i], err);

		if (fd < 0)
			goto out;
		close(fd);
	}

	/* One "<hex>  -" line per file, in order (no file name escaping). */
	strbuf_addstr(&cmd, "cd ");
	remote_shell_quote(&cmd, remote_dir);
	strbuf_addstr(&cmd, " && for f in");
	for (size_t i = 0; i < count; i++) {
		strbuf_addch(&cmd, ' ');
		remote_shell_quote(&cmd, names[i]);
	}
	strbuf_addstr(&cmd, "; do sha256sum <\"$f\" || exit 1; done");
	cp.in = PROC_IO_NULL;
	cp.out = PROC_IO_CAPTURE;
	cp.err = PROC_IO_CAPTURE;
	cp.capture_max = 1024 * 1024;
	cp.timeout_ms = FETCH_CHECKSUM_TIMEOUT_MS;
	if (remote_run(h, cmd.buf, &cp, err) < 0)
		goto out;
	if (cp.exit_code != 0) {
		char *why = remote_last_line(&cp.err_buf);
		struct strbuf st = STRBUF_INIT;

		proc_describe_status(&cp, &st);
		burst_error_set(err, BURST_EXIT_REMOTE,
				"cannot checksum the fetched files on '%s': %s",
				remote_dest(h), why ? why : st.buf);
		strbuf_release(&st);
		free(why);
		goto out;
	}
	p = cp.out_buf.buf;
	for (size_t i = 0; i < count; i++) {
		char want[65], got[65];
		size_t k;
		int fd, rc;

		for (k = 0; k < 64 && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f')); k++)
			;
		if (k != 64) {
			burst_error_set(err, BURST_EXIT_REMOTE,
					"unexpected sha256sum output from '%s' for '%s'",
					remote_dest(h), names[i]);
			goto out;
		}
		memcpy(want, p, 64);
		want[64] = '\0';
		p = strchr(p, '\n');
		p = p ? p + 1 : cp.out_buf.buf + cp.out_buf.len;
		fd = open_fetched(tmpfd, tmp, names[i], err);
		if (fd < 0)
			goto out;
		rc = sha256_fd_hex(fd, got);
		close(fd);
		if (rc < 0) {
			burst_error_set(err, BURST_EXIT_REMOTE, "cannot read fetched file '%s/%s': %s",
					local_dir, names[i], strerror(errno));
			goto out;
		}
		if (strcmp(want, got)) {
			burst_error_set(err, BURST_EXIT_REMOTE,
					"checksum mismatch for fetched file '%s/%s' (server %.12s, local %.12s)",
					local_dir, names[i], want, got);
			burst_error_hint(err, "run the command again; the file may have changed during the fetch");
			goto out;
		}
		log_debug("remote", "fetched '%s/%s' (sha256 %.12s)", local_dir, names[i], got);
	}
	/* rename() replaces a link at the destination, it never follows it */
	for (size_t i = 0; i < count; i++) {
		if (renameat(tmpfd, names[i], localfd, names[i]) < 0) {
			burst_error_set(err, BURST_EXIT_INTERNAL, "cannot move '%s' into '%s': %s",
					names[i], local_dir, strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	if (tmpfd >= 0)
		close(tmpfd);
	if (localfd >= 0)
		close(localfd);
	if (tmp)
		remove_fetch_dir(tmp);
	free(tmp);
	child_process_release(&cp);
	strbuf_release(&cmd);
	strvec_clear(&paths);
	return ret;
}

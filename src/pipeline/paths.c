/*
 * paths.c - paths and the current directory of a run: the remote
 * counterpart of the local cwd, cargo's path options mapped into the
 * synced workspace, and the JSON messages mapped back to local paths.
 * Pure (no I/O besides realpath()), so it can be unit-tested.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "burst/pipeline.h"

/* Append one component to a normalised absolute path, handling . and .. */
static void push_component(struct strbuf *sb, const char *c, size_t len)
{
	if (!len || (len == 1 && c[0] == '.'))
		return;
	if (len == 2 && c[0] == '.' && c[1] == '.') {
		char *slash = strrchr(sb->buf, '/');

		strbuf_setlen(sb, slash && slash != sb->buf ? (size_t)(slash - sb->buf) : 1);
		return;
	}
	if (sb->len > 1)
		strbuf_addch(sb, '/');
	strbuf_add(sb, c, len);
}

static void add_components(struct strbuf *sb, const char *path)
{
	while (*path) {
		size_t len = strcspn(path, "/");

		push_component(sb, path, len);
		path += len;
		while (*path == '/')
			path++;
	}
}

/* Lexically normalised absolute path (allocated). */
static char *lexical_abs(const char *cwd, const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addch(&sb, '/');
	if (path[0] != '/')
		add_components(&sb, cwd);
	add_components(&sb, path);
	return strbuf_detach(&sb, NULL);
}

/* path made absolute against cwd, normalised, links resolved (pipeline.h). */
char *pipeline_abs_path(const char *cwd, const char *path)
{
	char *lex = lexical_abs(cwd, path), *real, *slash;

	real = realpath(lex, NULL);
	if (real) {
		free(lex);
		return real;
	}
	/* a directory cargo will create: resolve its parent */
	slash = strrchr(lex, '/');
	if (slash && slash != lex) {
		*slash = '\0';
		real = realpath(lex, NULL);
		*slash = '/';
		if (real) {
			char *ret = xstrfmt("%s%s", strcmp(real, "/") ? real : "", slash);

			free(real);
			free(lex);
			return ret;
		}
	}
	return lex;
}

/* path relative to root, or NULL outside it. */
char *pipeline_path_in(const char *root, const char *path)
{
	const char *rest;

	if (!strcmp(root, "/"))
		return xstrdup(path + 1);
	if (!skip_prefix(path, root, &rest) || (*rest && *rest != '/'))
		return NULL;
	return xstrdup(*rest ? rest + 1 : "");
}

/* The relative path from one directory to another path. */
char *pipeline_rel_path(const char *from, const char *to)
{
	struct strbuf sb = STRBUF_INIT;
	size_t f = 0, t = 0;

	/* skip the common components */
	for (;;) {
		size_t fl, tl;

		while (from[f] == '/')
			f++;
		while (to[t] == '/')
			t++;
		fl = strcspn(from + f, "/");
		tl = strcspn(to + t, "/");
		if (!fl || fl != tl || memcmp(from + f, to + t, fl))
			break;
		f += fl;
		t += tl;
	}
	/* up from what is left of from, down into what is left of to */
	while (from[f]) {
		size_t fl = strcspn(from + f, "/");

		if (fl)
			strbuf_addstr(&sb, sb.len ? "/.." : "..");
		f += fl;
		while (from[f] == '/')
			f++;
	}
	if (to[t]) {
		if (sb.len)
			strbuf_addch(&sb, '/');
		strbuf_addstr(&sb, to + t);
	}
	if (!sb.len)
		strbuf_addch(&sb, '.');
	return strbuf_detach(&sb, NULL);
}

/* ---- cargo's path options ------------------------------------------------- */

enum path_kind { PATH_MAP, PATH_TARGET_DIR, PATH_ARTIFACT_DIR, PATH_CONFIG };

static const struct path_option {
	const char *name;
	enum path_kind kind;
} path_options[] = {
	{ "--manifest-path", PATH_MAP },
	{ "--target-dir", PATH_TARGET_DIR },
	{ "--artifact-dir", PATH_ARTIFACT_DIR },
	{ "--out-dir", PATH_ARTIFACT_DIR },
	{ "--config", PATH_CONFIG },
};

/*
 * Does a --config value name a file (rather than KEY=VALUE)?  Cargo's own
 * rule: a value that parses as a TOML dotted key = value is one; a path
 * ending in .toml is a file.
 */
static bool config_is_path(const char *value)
{
	return has_suffix(value, ".toml") || !strchr(value, '=');
}

static int outside(const char *opt, const char *value, const char *root,
		   struct burst_error *err)
{
	burst_error_set(err, BURST_EXIT_USAGE,
			"%s '%s' is outside the workspace '%s'", opt, value, root);
	burst_error_hint(err, "the build server has only the workspace: use a path "
			 "inside it%s", !strcmp(opt, "--target-dir") ||
			 !strcmp(opt, "CARGO_TARGET_DIR") ?
			 " (the artifacts are fetched there) or leave it out" : "");
	return -1;
}

/* Map cargo's path options for the remote cwd; refuse paths off the workspace. */
int pipeline_map_paths(const char *root, const char *cwd, const char *const *args,
		       size_t nargs, const char *env_target_dir,
		       struct pipeline_paths *out, struct burst_error *err)
{
	char *real_root = realpath(root, NULL), *base = NULL, *rel;
	const char *r;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	strvec_init(&out->args);
	r = real_root ? real_root : root;
	rel = pipeline_path_in(r, cwd);
	if (!rel && strcmp(r, root))
		rel = pipeline_path_in(root, cwd);
	/* a cwd outside the workspace (package.workspace elsewhere): its root */
	out->cwd_rel = rel ? rel : xstrdup("");
	base = *out->cwd_rel ? xstrfmt("%s/%s", r, out->cwd_rel) : xstrdup(r);

	if (env_target_dir && *env_target_dir) {
		char *abs = pipeline_abs_path(cwd, env_target_dir), *in = pipeline_path_in(r, abs);

		free(in);
		if (!in) {
			free(abs);
			outside("CARGO_TARGET_DIR", env_target_dir, r, err);
			goto out;
		}
		out->target_dir = abs;
	}
	for (size_t i = 0; i < nargs; i++) {
		const struct path_option *opt = NULL;
		const char *value = NULL, *rest;
		char *abs, *in, *mapped;
		bool joined = false;

		if (!strcmp(args[i], "--")) {
			strvec_pushn(&out->args, (char *const *)args + i, nargs - i);
			break;
		}
		for (size_t j = 0; j < ARRAY_SIZE(path_options); j++) {
			if (!skip_prefix(args[i], path_options[j].name, &rest))
				continue;
			if (*rest == '=') {
				value = rest + 1;
				joined = true;
			} else if (!*rest && i + 1 < nargs) {
				value = args[i + 1];
			} else {
				continue;
			}
			opt = &path_options[j];
			break;
		}
		if (!opt || (opt->kind == PATH_CONFIG && !config_is_path(value)) || !*value) {
			strvec_push(&out->args, args[i]);
			continue;
		}
		if (!joined)
			i++;
		abs = pipeline_abs_path(cwd, value);
		in = pipeline_path_in(r, abs);
		if (!in) {
			free(abs);
			outside(opt->name, value, r, err);
			goto out;
		}
		free(in);
		if (opt->kind == PATH_TARGET_DIR) {
			/* the remote builds in the volume's target dir; fetched here */
			free(out->target_dir);
			out->target_dir = abs;
			continue;
		}
		if (opt->kind == PATH_ARTIFACT_DIR && !strcmp(abs, r)) {
			free(abs);
			burst_error_set(err, BURST_EXIT_USAGE, "%s '%s' is the workspace root",
					opt->name, value);
			burst_error_hint(err, "name a directory inside the workspace");
			goto out;
		}
		mapped = pipeline_rel_path(base, abs);
		if (opt->kind == PATH_ARTIFACT_DIR) {
			free(out->artifact_dir);
			out->artifact_dir = abs;
			free(out->artifact_rel);
			out->artifact_rel = pipeline_path_in(r, abs);
		} else {
			free(abs);
		}
		strvec_pushf(&out->args, "%s=%s", opt->name, mapped);
		free(mapped);
	}
	ret = 0;
out:
	free(real_root);
	free(base);
	return ret;
}

/* Free what pipeline_map_paths() filled. */
void pipeline_paths_release(struct pipeline_paths *p)
{
	strvec_clear(&p->args);
	FREE_AND_NULL(p->cwd_rel);
	FREE_AND_NULL(p->target_dir);
	FREE_AND_NULL(p->artifact_dir);
	FREE_AND_NULL(p->artifact_rel);
}

/* ---- JSON messages -------------------------------------------------------- */

/* Does cargo print JSON messages with these arguments? */
bool pipeline_json_output(const char *const *args, size_t nargs)
{
	bool json = false;

	for (size_t i = 0; i < nargs; i++) {
		const char *v = NULL, *rest;

		if (!strcmp(args[i], "--"))
			break;
		if (!skip_prefix(args[i], "--message-format", &rest))
			continue;
		if (*rest == '=')
			v = rest + 1;
		else if (!*rest && i + 1 < nargs)
			v = args[++i];
		if (v)
			json = strstr(v, "json") != NULL; /* the last one wins */
	}
	return json;
}

/* The fields of cargo's and rustc's messages that hold local paths. */
static const char *const path_fields[] = {
	"manifest_path", "src_path", "filenames", "executable", "file_name", "out_dir",
};

/* s with the first matching map's prefix replaced (allocated), or NULL. */
static char *map_string(const char *s, const struct pipeline_path_map *maps, size_t nmaps,
			bool package_id)
{
	const char *prefix = "", *p = s;

	if (package_id) {
		const char *f = strstr(s, "file://");

		if (!f)
			return NULL;
		p = f + strlen("file://");
		prefix = s;
	}
	for (size_t i = 0; i < nmaps; i++) {
		const char *rest;

		if (!maps[i].from || !*maps[i].from || !maps[i].to ||
		    !skip_prefix(p, maps[i].from, &rest))
			continue;
		if (*rest && *rest != '/' && !(package_id && *rest == '#'))
			continue;
		return xstrfmt("%.*s%s%s", (int)(p - prefix), prefix, maps[i].to, rest);
	}
	return NULL;
}

/* Replace item (a string child of parent) when it maps; true when changed. */
static bool map_item(cJSON *parent, cJSON *item, const struct pipeline_path_map *maps,
		     size_t nmaps, bool package_id)
{
	char *m;
	cJSON *repl;

	if (!cJSON_IsString(item) || !item->valuestring)
		return false;
	m = map_string(item->valuestring, maps, nmaps, package_id);
	if (!m)
		return false;
	repl = cJSON_CreateString(m);
	free(m);
	if (!repl)
		return false;
	/* the member's key moves to the replacement (freed with it) */
	repl->string = item->string;
	repl->type |= item->type & cJSON_StringIsConst;
	item->string = NULL;
	return cJSON_ReplaceItemViaPointer(parent, item, repl) != 0;
}

static bool map_tree(cJSON *node, const struct pipeline_path_map *maps, size_t nmaps)
{
	bool changed = false;
	cJSON *child, *next;

	for (child = node ? node->child : NULL; child; child = next) {
		bool named = false;

		next = child->next;
		if (cJSON_IsObject(node) && child->string) {
			for (size_t i = 0; i < ARRAY_SIZE(path_fields); i++)
				if (!strcmp(child->string, path_fields[i]))
					named = true;
			if (!strcmp(child->string, "package_id")) {
				changed |= map_item(node, child, maps, nmaps, true);
				continue;
			}
		}
		if (named && cJSON_IsString(child)) {
			changed |= map_item(node, child, maps, nmaps, false);
		} else if (named && cJSON_IsArray(child)) {
			cJSON *e, *enext;

			for (e = child->child; e; e = enext) {
				enext = e->next;
				changed |= map_item(child, e, maps, nmaps, false);
			}
		} else if (cJSON_IsObject(child) || cJSON_IsArray(child)) {
			changed |= map_tree(child, maps, nmaps);
		}
	}
	return changed;
}

/* One stdout line with the remote paths mapped back, or NULL. */
char *pipeline_json_map_line(const char *line, size_t len,
			     const struct pipeline_path_map *maps, size_t nmaps)
{
	cJSON *doc;
	char *text, *ret = NULL;

	if (!len || len > PIPELINE_JSON_LINE_MAX || line[0] != '{')
		return NULL;
	doc = cJSON_ParseWithLength(line, len);
	if (!doc)
		return NULL;
	if (cJSON_IsObject(doc) && map_tree(doc, maps, nmaps)) {
		text = cJSON_PrintUnformatted(doc);
		if (text) {
			ret = xstrdup(text);
			cJSON_free(text);
		}
	}
	cJSON_Delete(doc);
	return ret;
}

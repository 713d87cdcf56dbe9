/*
 * largedir.c - find large top-level build-output directories (dist/, .next/,
 * ...) that the sync would upload, so the user can be asked once whether to
 * exclude them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/pipeline.h"

const char *const pipeline_large_dir_names[] = {
	"dist", ".next", "build", "out", "tmp", NULL,
};

/*
 * Does an exclude pattern (rsync/gitignore style, from the config or the
 * root .gitignore) exclude the top-level directory name?  Only the simple
 * forms that name it: the name alone, with a leading and/or trailing
 * slash, or followed by a slash and one or two stars.
 */
static bool pattern_excludes(const char *pat, const char *name)
{
	const char *rest;
	size_t len;

	while (*pat == ' ' || *pat == '\t')
		pat++;
	if (*pat == '#' || *pat == '!' || !*pat)
		return false;
	if (*pat == '/')
		pat++;
	if (!skip_prefix(pat, name, &rest))
		return false;
	len = strlen(rest);
	while (len && (rest[len - 1] == ' ' || rest[len - 1] == '\t' ||
		       rest[len - 1] == '\r'))
		len--;
	if (!len)
		return true;
	return (len == 1 && rest[0] == '/') ||
	       (len == 3 && !strncmp(rest, "/**", 3)) ||
	       (len == 2 && !strncmp(rest, "/*", 2));
}

/* Is name excluded by the configured patterns or the root .gitignore? */
static bool excluded(const char *root, const struct strvec *excludes,
		     const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	char *path, *line, *next;
	bool ret = false;

	for (size_t i = 0; excludes && i < excludes->nr; i++)
		if (pattern_excludes(excludes->v[i], name))
			return true;
	path = xstrfmt("%s/.gitignore", root);
	strbuf_set_max(&sb, 4 << 20);
	if (strbuf_read_file(&sb, path) < 0)
		goto out;
	for (line = sb.buf; line && *line && !ret; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		ret = pattern_excludes(line, name);
	}
out:
	free(path);
	strbuf_release(&sb);
	return ret;
}

/* Sum the sizes of the regular files below dirfd, stopping at limit. */
static uint64_t tree_size(int dirfd, uint64_t limit, int depth)
{
	DIR *d;
	struct dirent *de;
	uint64_t total = 0;

	if (depth > 64)
		return 0;
	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return 0;
	}
	while (total < limit && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			total += (uint64_t)st.st_size;
		} else if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd, de->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd >= 0)
				total += tree_size(fd, limit - total, depth + 1);
		}
	}
	closedir(d);
	return total;
}

size_t pipeline_large_dirs(const char *root, const struct strvec *excludes,
			   uint64_t threshold, struct strvec *dirs,
			   uint64_t *sizes)
{
	size_t found = 0;

	for (size_t i = 0; pipeline_large_dir_names[i]; i++) {
		const char *name = pipeline_large_dir_names[i];
		char *path = xstrfmt("%s/%s", root, name);
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		uint64_t size;

		free(path);
		if (fd < 0)
			continue;
		if (excluded(root, excludes, name)) {
			close(fd);
			continue;
		}
		/* tree_size() takes over fd; stop counting a bit past the line */
		size = tree_size(fd, threshold ? threshold : UINT64_MAX, 0);
		if (size >= threshold) {
			strvec_push(dirs, name);
			sizes[found++] = size;
		}
	}
	return found;
}

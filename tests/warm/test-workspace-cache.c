/*
 * test-workspace-cache.c - workspace_locate() caches cargo's answer per
 * directory and asks cargo again when a Cargo.toml that decides it changes.
 *
 * $CARGO is a fake cargo (a shell script) that counts its calls and prints
 * the answer the test chose; XDG_STATE_HOME is a temporary directory.
 * A Cargo.toml changed less than 2 s ago is never trusted (racy), so the
 * test sleeps a little past that before each "cached" step.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burst/config.h"
#include "burst/error.h"
#include "burst/strbuf.h"
#include "burst/util.h"
#include "tap.h"

static char tmp[64] = "/tmp/burst-ws-cache-XXXXXX";
static char *count_file, *answer_file, *fake_cargo;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (tmp[0])
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
		bail_out("cannot write a test file");
}

static void append_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
		bail_out("cannot append to a test file");
}

/* How often the fake cargo ran. */
static int calls(void)
{
	struct stat st;

	return stat(count_file, &st) < 0 ? 0 : (int)st.st_size;
}

/* What the fake cargo answers: "<dir>/Cargo.toml", or "" = not a project. */
static void answer(const char *dir)
{
	char *text = dir ? xstrfmt("%s/Cargo.toml\n", dir) : xstrdup("");

	write_file(answer_file, text, 0644);
	free(text);
}

/* workspace_locate(cwd): the root, or NULL (error kept in *code). */
static char *locate(const char *cwd, int *code)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *root = NULL;

	*code = 0;
	if (workspace_locate(cwd, &root, &err) < 0) {
		*code = err.exit_code;
		free(root);
		root = NULL;
	}
	burst_error_release(&err);
	return root;
}

static void past_racy(void)
{
	/* the cache ignores Cargo.toml files changed in the last 2 s */
	usleep(2200 * 1000);
}

/* Overwrite every cache file with text. */
static int spoil_cache(const char *text)
{
	char *pat = xstrfmt("%s/state/cargo-burst/workspace/*", tmp);
	glob_t g;
	int n = 0;

	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++, n++)
			write_file(g.gl_pathv[i], text, 0600);
		globfree(&g);
	}
	free(pat);
	return n;
}

int main(void)
{
	char *ws, *a, *cwd, *other, *pkg, *above, *state, *root;
	char *script;
	int code, n;

	if (!mkdtemp(tmp))
		bail_out("mkdtemp failed");
	atexit(cleanup);
	alarm(60);

	count_file = xstrfmt("%s/calls", tmp);
	answer_file = xstrfmt("%s/answer", tmp);
	fake_cargo = xstrfmt("%s/cargo", tmp);
	script = xstrfmt("#!/bin/sh\n"
			 "printf x >> '%s'\n"
			 "if [ -s '%s' ]; then cat '%s'; exit 0; fi\n"
			 "echo 'error: could not find `Cargo.toml`' >&2\n"
			 "exit 101\n", count_file, answer_file, answer_file);
	write_file(fake_cargo, script, 0755);
	free(script);
	state = xstrfmt("%s/state", tmp);
	setenv("XDG_STATE_HOME", state, 1);
	setenv("CARGO", fake_cargo, 1);

	/* tmp/ws (workspace) > a (member) > src (the cwd); tmp/pkg -> tmp/other */
	ws = xstrfmt("%s/ws", tmp);
	a = xstrfmt("%s/a", ws);
	cwd = xstrfmt("%s/src", a);
	other = xstrfmt("%s/other", tmp);
	pkg = xstrfmt("%s/pkg", tmp);
	above = xstrfmt("%s/Cargo.toml", tmp);
	if (mkdir(ws, 0755) || mkdir(a, 0755) || mkdir(cwd, 0755) || mkdir(other, 0755) ||
	    mkdir(pkg, 0755))
		bail_out("mkdir failed");
	{
		char *p1 = xstrfmt("%s/Cargo.toml", ws), *p2 = xstrfmt("%s/Cargo.toml", a);
		char *p3 = xstrfmt("%s/Cargo.toml", other), *p4 = xstrfmt("%s/Cargo.toml", pkg);

		write_file(p1, "[workspace]\nmembers = [\"a\"]\n", 0644);
		write_file(p2, "[package]\nname = \"a\"\n", 0644);
		write_file(p3, "[workspace]\nmembers = [\"../pkg\"]\n", 0644);
		write_file(p4, "[package]\nname = \"pkg\"\nworkspace = \"../other\"\n", 0644);
		free(p1);
		free(p2);
		free(p3);
		free(p4);
	}
	answer(ws);
	past_racy();

	/* 1: the first run asks cargo, the next ones do not */
	root = locate(cwd, &code);
	is_str(root, ws, "first locate: cargo's answer");
	is_int(calls(), 1, "cargo ran once");
	free(root);
	root = locate(cwd, &code);
	is_str(root, ws, "second locate: same root");
	is_int(calls(), 1, "cargo did not run again (cached)");
	free(root);
	setenv("CARGO", "/bin/false", 1);
	root = locate(cwd, &code);
	is_str(root, ws, "with CARGO=/bin/false the cached root still comes back");
	free(root);
	setenv("CARGO", fake_cargo, 1);

	/* 2: each directory has its own entry */
	root = locate(ws, &code);
	is_str(root, ws, "locate from the workspace root");
	is_int(calls(), 2, "another directory asks cargo");
	free(root);

	/* 3: a changed member manifest: ask again; too fresh to be cached */
	{
		char *p2 = xstrfmt("%s/Cargo.toml", a);

		append_file(p2, "version = \"0.1.0\"\n");
		free(p2);
	}
	root = locate(cwd, &code);
	is_str(root, ws, "after the member's Cargo.toml changed: the root");
	is_int(calls(), 3, "cargo asked again after the change");
	free(root);
	root = locate(cwd, &code);
	is_int(calls(), 4, "a Cargo.toml changed just now is not trusted (racy)");
	free(root);
	past_racy();
	root = locate(cwd, &code);
	is_int(calls(), 5, "once it is old enough, cargo is asked and...");
	free(root);
	root = locate(cwd, &code);
	is_str(root, ws, "...the answer is cached again");
	is_int(calls(), 5, "cargo did not run");
	free(root);

	/* 4: a Cargo.toml appears above the workspace: cargo decides anew */
	write_file(above, "[workspace]\nmembers = [\"ws/a\"]\n", 0644);
	answer(tmp);
	root = locate(cwd, &code);
	is_str(root, tmp, "a new Cargo.toml above: cargo's new answer");
	is_int(calls(), 6, "cargo ran for it");
	free(root);
	/* ...and disappears again: the entry of before it came is valid again */
	unlink(above);
	answer(ws);
	root = locate(cwd, &code);
	is_str(root, ws, "the Cargo.toml above is gone: the old root again");
	is_int(calls(), 6, "from the cache (every manifest as when it was recorded)");
	free(root);

	/* 5: a root that is not a parent (package.workspace): its manifest counts too */
	answer(other);
	root = locate(pkg, &code);
	is_str(root, other, "package.workspace: the root elsewhere");
	is_int(calls(), 7, "cargo ran");
	free(root);
	root = locate(pkg, &code);
	is_int(calls(), 7, "cached");
	free(root);
	{
		char *p3 = xstrfmt("%s/Cargo.toml", other), *p3b = xstrfmt("%s/Cargo.toml.new", other);

		/* replaced by rename (as editors do): same size, new inode */
		write_file(p3b, "[workspace]\nmembers = [\"../pkG\"]\n", 0644);
		if (rename(p3b, p3) < 0)
			bail_out("rename failed");
		free(p3);
		free(p3b);
	}
	root = locate(pkg, &code);
	is_int(calls(), 8, "the root's manifest replaced: cargo asked again");
	free(root);

	/* 6: outside a project: an error every time, never cached */
	answer(NULL);
	n = calls();
	root = locate(tmp, &code);
	ok(!root && code == BURST_EXIT_CONFIG, "not a project: a config error");
	root = locate(tmp, &code);
	ok(!root && code == BURST_EXIT_CONFIG, "still an error");
	is_int(calls(), n + 2, "a failure is not cached");

	/* 7: a damaged cache file is ignored, never trusted */
	answer(ws);
	past_racy();
	root = locate(cwd, &code); /* cached after test 4 */
	n = calls();
	free(root);
	ok(spoil_cache("cargo-burst workspace cache 1\ncwd\t/elsewhere\nroot\t/\n") > 0,
	   "cache files exist under XDG_STATE_HOME");
	root = locate(cwd, &code);
	is_str(root, ws, "a cache file of another directory: cargo's answer");
	is_int(calls(), n + 1, "cargo was asked");
	free(root);
	spoil_cache("garbage");
	root = locate(cwd, &code);
	is_str(root, ws, "a garbage cache file: cargo's answer");
	is_int(calls(), n + 2, "cargo was asked");
	free(root);
	root = locate(cwd, &code);
	is_int(calls(), n + 2, "and the cache was rewritten");
	free(root);

	free(ws);
	free(a);
	free(cwd);
	free(other);
	free(pkg);
	free(above);
	free(state);
	free(count_file);
	free(answer_file);
	free(fake_cargo);
	return done_testing();
}

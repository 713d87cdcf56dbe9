/* test-pipeline-paths.c - the remote cwd, cargo's path options, JSON messages (paths.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/pipeline.h"
#include "burst/strbuf.h"
#include "tap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[] = "/tmp/burst-paths-XXXXXX";
static char *root; /* tmpdir/ws, its physical path */
static char *real_tmp; /* tmpdir's physical path */

static void mkdir_rel(const char *rel)
{
	char *path = xstrfmt("%s/%s", tmpdir, rel);

	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		bail_out("mkdir");
	free(path);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f)
		bail_out("cannot write test file");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void cleanup(void)
{
	char *cmd = xstrfmt("rm -rf '%s'", tmpdir);

	if (system(cmd) != 0)
		diag("cleanup of %s failed", tmpdir);
	free(cmd);
}

static void check_rel(const char *from, const char *to, const char *want)
{
	char *got = pipeline_rel_path(from, to);

	is_str(got, want, "rel_path %s -> %s", from, to);
	free(got);
}

static void test_rel_and_in(void)
{
	char *s;

	check_rel("/w/a", "/w/b/Cargo.toml", "../b/Cargo.toml");
	check_rel("/w", "/w/b/Cargo.toml", "b/Cargo.toml");
	check_rel("/w/a/x", "/w", "../..");
	check_rel("/w/a", "/w/a", ".");
	check_rel("/w/ab", "/w/a/c", "../a/c");
	check_rel("/", "/w/c", "w/c");

	s = pipeline_path_in("/w", "/w/a/b");
	is_str(s, "a/b", "path_in: inside");
	free(s);
	s = pipeline_path_in("/w", "/w");
	is_str(s, "", "path_in: the root itself");
	free(s);
	s = pipeline_path_in("/w", "/wx/a");
	ok(!s, "path_in: a sibling sharing the prefix is outside");
	free(s);
	s = pipeline_path_in("/w", "/tmp/x");
	ok(!s, "path_in: elsewhere is outside");
	free(s);

	s = pipeline_abs_path("/nonexistent-burst/a", "../b/./c//d/..");
	is_str(s, "/nonexistent-burst/b/c", "abs_path: lexical . and .. of a missing path");
	free(s);
	s = pipeline_abs_path("/nonexistent-burst", "/x/../../y");
	is_str(s, "/y", "abs_path: .. stops at /");
	free(s);
}

static void test_map_paths(void)
{
	struct pipeline_paths p;
	struct burst_error err = BURST_ERROR_INIT;
	char *cwd = xstrfmt("%s/a", root), *link = xstrfmt("%s/link", tmpdir);
	char *abs_manifest = xstrfmt("--manifest-path=%s/b/Cargo.toml", root);
	char *target = xstrfmt("%s/mytarget", root);
	char *via_link = xstrfmt("%s/b/Cargo.toml", link);
	const char *args[] = {
		"--manifest-path", "../b/Cargo.toml", "--target-dir", "../mytarget",
		"--config", "../cfg.toml", "--config", "build.jobs=2", "-p", "b",
		"--", "--target-dir", "/tmp/x",
	};
	const char *args2[] = { abs_manifest, "--artifact-dir=out" };
	const char *args3[] = { "--manifest-path", via_link };
	const char *bad[] = { "--target-dir", "/tmp/elsewhere-burst" };
	const char *bad2[] = { "--manifest-path=../../Cargo.toml" };
	const char *bad3[] = { "--config", "/etc/cargo.toml" };

	if (symlink(root, link) < 0)
		bail_out("symlink");

	is_int(pipeline_map_paths(root, cwd, args, N(args), NULL, &p, &err), 0, "map: ok");
	is_str(p.cwd_rel, "a", "the remote cwd is the member's counterpart");
	is_int((int)p.args.nr, 9, "map: --target-dir and its value left out, the rest kept");
	if (p.args.nr == 9) {
		is_str(p.args.v[0], "--manifest-path=../b/Cargo.toml", "relative manifest path kept");
		is_str(p.args.v[1], "--config=../cfg.toml", "config file mapped");
		is_str(p.args.v[2], "--config", "config KEY=VALUE untouched (option)");
		is_str(p.args.v[3], "build.jobs=2", "config KEY=VALUE untouched (value)");
		is_str(p.args.v[6], "--", "after --: untouched");
		is_str(p.args.v[7], "--target-dir", "after --: a program's own option");
	}
	is_str(p.target_dir, target, "--target-dir is where the artifacts go locally");
	ok(!p.artifact_dir, "no artifact dir");
	pipeline_paths_release(&p);

	is_int(pipeline_map_paths(root, root, args2, N(args2), NULL, &p, &err), 0,
	       "map from the root: ok");
	is_str(p.cwd_rel, "", "the root runs at the root");
	if (p.args.nr == 2) {
		is_str(p.args.v[0], "--manifest-path=b/Cargo.toml", "absolute manifest path mapped");
		is_str(p.args.v[1], "--artifact-dir=out", "artifact dir mapped");
	} else {
		ok(0, "two args: got %zu", p.args.nr);
		ok(0, "(skipped)");
	}
	is_str(p.artifact_rel, "out", "artifact dir relative to the root");
	pipeline_paths_release(&p);

	is_int(pipeline_map_paths(root, cwd, args3, N(args3), NULL, &p, &err), 0,
	       "a path through a symbolic link to the workspace: ok");
	if (p.args.nr == 1)
		is_str(p.args.v[0], "--manifest-path=../b/Cargo.toml", "...mapped by its real path");
	else
		ok(0, "one arg");
	pipeline_paths_release(&p);

	is_int(pipeline_map_paths(root, cwd, bad, N(bad), NULL, &p, &err), -1,
	       "--target-dir outside the workspace fails");
	is_int(err.exit_code, BURST_EXIT_USAGE, "...as a usage error");
	ok(err.message && strstr(err.message, "--target-dir '/tmp/elsewhere-burst' is outside "
				 "the workspace"), "...naming the option and the path: %s",
	   err.message ? err.message : "");
	ok(err.hint != NULL, "...with a hint");
	pipeline_paths_release(&p);
	burst_error_release(&err);

	is_int(pipeline_map_paths(root, cwd, bad2, N(bad2), NULL, &p, &err), -1,
	       "--manifest-path above the workspace fails");
	pipeline_paths_release(&p);
	burst_error_release(&err);
	is_int(pipeline_map_paths(root, cwd, bad3, N(bad3), NULL, &p, &err), -1,
	       "--config FILE outside the workspace fails");
	pipeline_paths_release(&p);
	burst_error_release(&err);
	{
		const char *rootart[] = { "--artifact-dir", ".." };

		is_int(pipeline_map_paths(root, cwd, rootart, N(rootart), NULL, &p, &err), -1,
		       "--artifact-dir naming the workspace root fails");
		pipeline_paths_release(&p);
		burst_error_release(&err);
	}
	is_int(pipeline_map_paths(root, cwd, NULL, 0, "/tmp/elsewhere-burst", &p, &err), -1,
	       "CARGO_TARGET_DIR outside the workspace fails");
	ok(err.message && strstr(err.message, "CARGO_TARGET_DIR"), "...naming it");
	pipeline_paths_release(&p);
	burst_error_release(&err);
	is_int(pipeline_map_paths(root, cwd, NULL, 0, "../t2", &p, &err), 0,
	       "a relative CARGO_TARGET_DIR inside the workspace: ok");
	{
		char *want = xstrfmt("%s/t2", root);

		is_str(p.target_dir, want, "...resolved against the cwd");
		free(want);
	}
	pipeline_paths_release(&p);

	is_int(pipeline_map_paths(root, "/", NULL, 0, NULL, &p, &err), 0,
	       "a cwd outside the workspace: ok");
	is_str(p.cwd_rel, "", "...runs at the root");
	pipeline_paths_release(&p);
	free(cwd);
	free(link);
	free(abs_manifest);
	free(target);
	free(via_link);
}

static void test_json_output(void)
{
	const char *a1[] = { "--message-format=json-diagnostic-rendered-ansi" };
	const char *a2[] = { "--message-format", "short,json" };
	const char *a3[] = { "--message-format=json", "--message-format", "human" };
	const char *a4[] = { "--", "--message-format=json" };

	ok(pipeline_json_output(a1, N(a1)), "json-diagnostic-rendered-ansi is JSON");
	ok(pipeline_json_output(a2, N(a2)), "a list with json is JSON");
	ok(!pipeline_json_output(a3, N(a3)), "the last --message-format wins");
	ok(!pipeline_json_output(a4, N(a4)), "after --: not cargo's");
	ok(!pipeline_json_output(NULL, 0), "no option: not JSON");
}

static void test_json_map(void)
{
	static const struct pipeline_path_map maps[] = {
		{ "/mnt/cache/h/target", "/home/u/ws/target" },
		{ "/root/burst/h/src", "/home/u/ws" },
		{ "/root/.cargo", "/home/u/.cargo" },
	};
	const char *in =
		"{\"reason\":\"compiler-message\",\"package_id\":\"path+file:///root/burst/h/src/a#0.1.0\","
		"\"manifest_path\":\"/root/burst/h/src/a/Cargo.toml\","
		"\"target\":{\"src_path\":\"/root/burst/h/src/a/src/lib.rs\",\"name\":\"a\"},"
		"\"message\":{\"rendered\":\"/root/burst/h/src stays\",\"spans\":[{\"file_name\":"
		"\"/root/.cargo/registry/src/x/lib.rs\",\"line_start\":3}],\"children\":[{\"spans\":"
		"[{\"file_name\":\"src/lib.rs\",\"expansion\":{\"span\":{\"file_name\":"
		"\"/root/burst/h/src/b/src/m.rs\"}}}]}]},"
		"\"filenames\":[\"/mnt/cache/h/target/debug/liba.rlib\",\"/root/burst/h/srcx/no\"],"
		"\"executable\":null,\"out_dir\":\"/mnt/cache/h/target/debug/build/a-1/out\","
		"\"other\":\"/root/burst/h/src/a\"}";
	char *got = pipeline_json_map_line(in, strlen(in), maps, N(maps));

	ok(got != NULL, "a message with remote paths is rewritten");
	if (!got)
		got = xstrdup("");
	diag("%s", got);
	ok(strstr(got, "\"package_id\":\"path+file:///home/u/ws/a#0.1.0\"") != NULL,
	   "package_id's file URL");
	ok(strstr(got, "\"manifest_path\":\"/home/u/ws/a/Cargo.toml\"") != NULL, "manifest_path");
	ok(strstr(got, "\"src_path\":\"/home/u/ws/a/src/lib.rs\"") != NULL, "nested src_path");
	ok(strstr(got, "\"file_name\":\"/home/u/.cargo/registry/src/x/lib.rs\"") != NULL,
	   "span file_name under cargo home");
	ok(strstr(got, "\"file_name\":\"/home/u/ws/b/src/m.rs\"") != NULL,
	   "file_name deep in children and expansions");
	ok(strstr(got, "\"file_name\":\"src/lib.rs\"") != NULL, "a relative file_name stays");
	ok(strstr(got, "\"/home/u/ws/target/debug/liba.rlib\"") != NULL,
	   "filenames: the target dir, not the source root");
	ok(strstr(got, "\"/root/burst/h/srcx/no\"") != NULL, "a prefix that is not a whole component stays");
	ok(strstr(got, "\"out_dir\":\"/home/u/ws/target/debug/build/a-1/out\"") != NULL, "out_dir");
	ok(strstr(got, "\"rendered\":\"/root/burst/h/src stays\"") != NULL &&
	   strstr(got, "\"other\":\"/root/burst/h/src/a\"") != NULL, "other fields stay");
	ok(strstr(got, "\"executable\":null") != NULL && strstr(got, "\"line_start\":3") != NULL,
	   "null and numbers survive");
	free(got);

	got = pipeline_json_map_line("not json /root/burst/h/src", 26, maps, N(maps));
	ok(!got, "a non-JSON line is left alone");
	free(got);
	got = pipeline_json_map_line("{\"reason\":\"build-finished\",\"success\":true}", 42, maps,
				     N(maps));
	ok(!got, "a message without remote paths is left as it came");
	free(got);
	got = pipeline_json_map_line("{\"manifest_path\":\"/root/burst/h/src/a\"", 38, maps,
				     N(maps));
	ok(!got, "a truncated object is left alone");
	free(got);
	got = pipeline_json_map_line("[\"/root/burst/h/src\"]", 21, maps, N(maps));
	ok(!got, "a JSON array is left alone");
	free(got);
	{
		struct strbuf deep = STRBUF_INIT;

		strbuf_addstr(&deep, "{\"a\":");
		for (int i = 0; i < 100000; i++)
			strbuf_addch(&deep, '[');
		got = pipeline_json_map_line(deep.buf, deep.len, maps, N(maps));
		ok(!got, "deeply nested garbage is left alone (no crash)");
		free(got);
		strbuf_release(&deep);
	}
}

static void test_remote_cwd(void)
{
	struct pipeline_cmd c = { 0 };
	struct strbuf out = STRBUF_INIT;
	char *home = xstrfmt("%s/home", tmpdir), *cmd, *path, *want;
	char *outp = xstrfmt("%s/cargo.out", tmpdir);
	const char *args[] = { "--manifest-path=../b/Cargo.toml" };
	int status;
	pid_t pid;

	mkdir_rel("home");
	mkdir_rel("home/.cargo");
	mkdir_rel("home/.cargo/bin");
	mkdir_rel("home/.cache");
	mkdir_rel("home/.cache/cargo-burst");
	mkdir_rel("home/.cache/cargo-burst/feedfeedfeed");
	mkdir_rel("home/.cache/cargo-burst/feedfeedfeed/src");
	mkdir_rel("home/.cache/cargo-burst/feedfeedfeed/src/my dir");
	path = xstrfmt("%s/.cargo/bin/cargo", home);
	cmd = xstrfmt("#!/bin/sh\n{ pwd -P; echo \"$@\"; } > '%s'\n", outp);
	write_file(path, cmd, 0755);
	free(path);
	free(cmd);

	c.verb = "check";
	c.args = args;
	c.nargs = N(args);
	c.project_hash = "feedfeedfeed";
	c.byo = true;
	c.cwd_rel = "my dir";
	c.paths_line = true;
	cmd = pipeline_remote_command(&c);
	diag("%s", cmd);
	{
		int fds[2];

		if (pipe(fds) < 0)
			bail_out("pipe");
		pid = fork();
		if (pid == 0) {
			dup2(fds[1], 1);
			close(fds[0]);
			close(fds[1]);
			setenv("HOME", home, 1);
			unsetenv("CARGO_HOME");
			setenv("PATH", "/usr/bin:/bin", 1);
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		close(fds[1]);
		for (;;) {
			char buf[4096];
			ssize_t n = read(fds[0], buf, sizeof(buf));

			if (n <= 0)
				break;
			strbuf_add(&out, buf, (size_t)n);
		}
		close(fds[0]);
		waitpid(pid, &status, 0);
	}
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0, "the command ran");
	want = xstrfmt(PIPELINE_PATHS_MARKER "\t%s/home/.cache/cargo-burst/feedfeedfeed/src\t"
		       "%s/home/.cache/cargo-burst/feedfeedfeed/target\t%s/home/.cargo\n",
		       real_tmp, real_tmp, real_tmp);
	is_str(out.buf, want, "stdout: only the paths line, with the physical remote paths");
	free(want);
	strbuf_reset(&out);
	if (strbuf_read_file(&out, outp) < 0)
		strbuf_addstr(&out, "(no output)");
	want = xstrfmt("%s/home/.cache/cargo-burst/feedfeedfeed/src/my dir\ncheck --manifest-path=../b/Cargo.toml\n", real_tmp);
	is_str(out.buf, want, "cargo ran in the counterpart of the cwd, with the mapped args");
	free(want);
	free(cmd);

	c.paths_line = false;
	c.cwd_rel = NULL;
	cmd = pipeline_remote_command(&c);
	ok(!strstr(cmd, PIPELINE_PATHS_MARKER), "no paths line unless asked for");
	free(cmd);
	strbuf_release(&out);
	free(home);
	free(outp);
}

int main(void)
{
	char *ws;

	if (!mkdtemp(tmpdir))
		bail_out("mkdtemp");
	real_tmp = realpath(tmpdir, NULL);
	if (!real_tmp)
		bail_out("realpath");
	mkdir_rel("ws");
	mkdir_rel("ws/a");
	mkdir_rel("ws/b");
	ws = xstrfmt("%s/ws", tmpdir);
	root = realpath(ws, NULL);
	free(ws);
	if (!root)
		bail_out("realpath");
	test_rel_and_in();
	test_map_paths();
	test_json_output();
	test_json_map();
	test_remote_cwd();
	free(root);
	free(real_tmp);
	cleanup();
	return done_testing();
}

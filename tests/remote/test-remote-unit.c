/*
 * test-remote-unit.c - the parts of the remote module that need no sshd
 * and no root: the ssh command line, the sync rules, cloud-config, quoting
 * (property test through the local /bin/sh), control path limits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "burst/remote.h"
#include "tap.h"

static char tmp[] = "/tmp/burst-ru-XXXXXX";

static void cleanup(void)
{
	char *cmd = xstrfmt("rm -rf '%s'", tmp);

	if (system(cmd) != 0)
		fprintf(stderr, "# cleanup failed\n");
	free(cmd);
}

static void write_file(const char *rel, const char *text)
{
	char *path = xstrfmt("%s/%s", tmp, rel), *dir = xstrdup(path), *cmd;
	FILE *f;

	*strrchr(dir, '/') = '\0';
	cmd = xstrfmt("mkdir -p '%s'", dir);
	if (system(cmd) != 0)
		bail_out("mkdir");
	f = fopen(path, "w");
	if (!f)
		bail_out("fopen");
	fputs(text, f);
	fclose(f);
	free(cmd);
	free(dir);
	free(path);
}

static void test_ssh_argv(void)
{
	struct remote_host h = REMOTE_HOST_INIT;
	struct strvec argv = STRVEC_INIT;
	struct strbuf joined = STRBUF_INIT;

	h.user = xstrdup("root");
	h.host = xstrdup("10.0.0.7");
	h.port = 2222;
	h.identity_file = xstrdup("/home/u/.ssh/id_ed25519");
	h.known_hosts = xstrdup("/state dir/known_hosts");
	h.control_path = xstrdup("/s/ssh/abcd1234");
	h.persist_secs = 300;
	unsetenv("CARGO_BURST_SSH");
	remote_ssh_argv(&h, &argv);
	for (size_t i = 0; i < argv.nr; i++)
		strbuf_addf(&joined, "%s|", argv.v[i]);
	ok(!strncmp(joined.buf, "ssh|", 4), "program is ssh by default");
	ok(strstr(joined.buf, "|-F|/dev/null|") != NULL, "user config ignored (-F /dev/null)");
	ok(strstr(joined.buf, "|StrictHostKeyChecking=yes|") &&
	   !strstr(joined.buf, "StrictHostKeyChecking=no") && !strstr(joined.buf, "accept-new"),
	   "strict host key checking, never no/accept-new");
	ok(strstr(joined.buf, "|UserKnownHostsFile=\"/state dir/known_hosts\"|") &&
	   strstr(joined.buf, "|GlobalKnownHostsFile=/dev/null|") &&
	   strstr(joined.buf, "|UpdateHostKeys=no|"), "only the tool's known_hosts, quoted");
	ok(strstr(joined.buf, "|BatchMode=yes|") && strstr(joined.buf, "|IdentitiesOnly=yes|") &&
	   strstr(joined.buf, "|-i|/home/u/.ssh/id_ed25519|") && strstr(joined.buf, "|-p|2222|") &&
	   strstr(joined.buf, "|-l|root|"), "batch mode, identity, port, user");
	ok(strstr(joined.buf, "|ControlMaster=auto|") && strstr(joined.buf, "|ControlPath=/s/ssh/abcd1234|") &&
	   strstr(joined.buf, "|ControlPersist=300|"), "master options");
	ok(strstr(joined.buf, "|LogLevel=ERROR|") && strstr(joined.buf, "|ConnectTimeout=10|") &&
	   strstr(joined.buf, "|ServerAliveInterval=15|"), "log level, timeouts");
	ok(has_suffix(joined.buf, "|-T|--|10.0.0.7|"), "ends with -T -- host: %s", joined.buf);

	strvec_clear(&argv);
	setenv("CARGO_BURST_SSH", "/opt/my-ssh", 1);
	remote_ssh_base_argv(&h, &argv);
	is_str(argv.v[0], "/opt/my-ssh", "CARGO_BURST_SSH overrides the program");
	ok(strcmp(argv.v[argv.nr - 1], "10.0.0.7") != 0, "base argv has no destination");
	unsetenv("CARGO_BURST_SSH");
	setenv("CARGO_BURST_RSYNC", "/opt/my-rsync", 1);
	is_str(proc_rsync_program(), "/opt/my-rsync", "CARGO_BURST_RSYNC overrides rsync");
	unsetenv("CARGO_BURST_RSYNC");
	is_str(proc_rsync_program(), "rsync", "rsync by default");

	{
		struct burst_error err = BURST_ERROR_INIT;
		char *dir = xstrfmt("%s/%0100d", tmp, 0);

		ok(remote_host_set_control_dir(&h, dir, &err) < 0 && err.message &&
		   strstr(err.message, "too long"), "an over-long control path is refused");
		burst_error_release(&err);
		free(dir);
		dir = xstrfmt("%s/ssh", tmp);
		ok(remote_host_set_control_dir(&h, dir, &err) == 0 &&
		   strlen(h.control_path) == strlen(dir) + 9, "control path <dir>/<8 hex>");
		free(dir);
	}
	strvec_clear(&argv);
	strbuf_release(&joined);
	remote_host_release(&h);
}

static void test_rules(void)
{
	static const char *const unexclude[] = { ".git/", NULL };
	static const char *const extra[] = { "data/", NULL };
	struct sync_filters f = { .unexclude = unexclude, .extra_excludes = extra };
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf rules = STRBUF_INIT;
	char *root = xstrfmt("%s/proj", tmp);
	const char *want =
		"- data/\n"
		"- target/\n- node_modules/\n- .direnv/\n- .vscode/\n- .idea/\n- *.swp\n- .DS_Store\n"
		"+ .git/\n"
		/* a/b/.gitignore first (deepest), last line first */
		"+ /a/b/x.log\n+ /a/b/**/x.log\n"
		/* a/.gitignore */
		"- /a/c/*.o\n- /a/gen/\n- /a/**/gen/\n"
		/* root .gitignore, last line first */
		"- /z/**/q\n- /z/q\n- /**/deep\n- /deep\n+ keep.log\n- /build/\n- *.log\n";

	write_file("proj/.gitignore", "# comment\n*.log\n/build/\n!keep.log\n\n**/deep\nz/**/q   \n");
	write_file("proj/a/.gitignore", "gen/\nc/*.o\n");
	write_file("proj/a/b/.gitignore", "!x.log\r\n");
	write_file("proj/target/.gitignore", "never-read\n");
	write_file("proj/data/.gitignore", "never-read-either\n");
	ok(remote_sync_rules(root, &f, &rules, &err) == 0, "rules computed");
	is_str(rules.buf, want, "defaults minus unexclude, extras, .gitignore translated in git's precedence");
	strbuf_reset(&rules);
	f.no_gitignore = true;
	remote_sync_rules(root, &f, &rules, &err);
	ok(!strstr(rules.buf, "/build/"), "no_gitignore leaves .gitignore out");

	/* Ignored trees are not walked (no negation in scope), others are. */
	write_file("p2/.gitignore", "bigdata/\n/out\n");
	write_file("p2/bigdata/.gitignore", "inner-rule\n");
	write_file("p2/out/.gitignore", "inner2\n");
	write_file("p2/sub/out/.gitignore", "walked\n");
	write_file("p2/sub/bigdata/x/.gitignore", "inner3\n");
	free(root);
	root = xstrfmt("%s/p2", tmp);
	strbuf_reset(&rules);
	ok(remote_sync_rules(root, NULL, &rules, &err) == 0, "rules of p2");
	ok(strstr(rules.buf, "- /sub/out/walked\n") && !strstr(rules.buf, "inner"),
	   "ignored directories are not searched for .gitignore files");
	write_file("p2/sub/.gitignore", "!keep\n");
	strbuf_reset(&rules);
	remote_sync_rules(root, NULL, &rules, &err);
	ok(strstr(rules.buf, "inner3") && !strstr(rules.buf, "inner-rule"),
	   "below a negation they are (git could re-include there)");
	strbuf_release(&rules);
	free(root);
	burst_error_release(&err);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	struct strbuf cmd = STRBUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	strbuf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	rc = system(cmd.buf);
	strbuf_release(&cmd);
	return rc;
}

static bool exists(const char *dir, const char *rel)
{
	char *p = xstrfmt("%s/%s/%s", tmp, dir, rel);
	bool ret = access(p, F_OK) == 0;

	free(p);
	return ret;
}

/* The rules of f for tmp/src, applied by a local rsync into tmp/dest. */
static void sync_dir(const char *src, const struct sync_filters *f, const char *dest)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf rules = STRBUF_INIT;
	char *root = xstrfmt("%s/%s", tmp, src), *file = xstrfmt("%s/rules", tmp);
	FILE *out;

	if (remote_sync_rules(root, f, &rules, &err) < 0)
		diag("rules: %s", err.message);
	out = fopen(file, "w");
	if (!out)
		bail_out("fopen rules");
	fputs(rules.buf, out);
	fclose(out);
	if (sh("rsync -a '--filter=. %s' '%s/' '%s/%s/'", file, root, tmp, dest) != 0)
		diag("rsync failed, rules:\n%s", rules.buf);
	strbuf_release(&rules);
	burst_error_release(&err);
	free(root);
	free(file);
}

static void sync_locally(const struct sync_filters *f, const char *dest)
{
	sync_dir("gitproj", f, dest);
}

/* In a git work tree, git says what is ignored: info/exclude and core.excludesFile too. */
static void test_git_rules(void)
{
	struct sync_filters f = { 0 };
	char *cmd;

	if (sh("git --version >/dev/null 2>&1") != 0 ||
	    sh("rsync --version >/dev/null 2>&1") != 0) {
		diag("git or rsync is not installed: the git listing is not tested");
		return;
	}
	/* a HOME and global config of our own: the user's cannot interfere */
	cmd = xstrfmt("%s/gitconfig", tmp);
	setenv("GIT_CONFIG_GLOBAL", cmd, 1);
	free(cmd);
	setenv("HOME", tmp, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	write_file("globalignore", "secret.env\n");
	if (sh("git config --global core.excludesFile '%s/globalignore'", tmp) != 0)
		bail_out("git config");
	write_file("gitproj/.gitignore", "build/\n*.log\n");
	write_file("gitproj/Cargo.toml", "[package]\n");
	write_file("gitproj/src/main.rs", "fn main() {}\n");
	write_file("gitproj/keep.log", "tracked although ignored\n");
	write_file("gitproj/build/out.o", "o\n");
	write_file("gitproj/secret.env", "TOKEN=1\n");
	write_file("gitproj/local.txt", "mine\n");
	write_file("gitproj/weird[1].log", "w\n");
	write_file("gitproj/notes.txt", "untracked, not ignored\n");
	write_file("gitproj/target/x", "x\n");
	write_file("gitproj/sub/deep/x.log", "x\n");
	if (sh("cd '%s/gitproj' && git init -q && echo local.txt >> .git/info/exclude && "
	       "git add . && git add -f keep.log && git -c user.name=t -c user.email=t@t "
	       "commit -qm one && : > .git/index.lock", tmp) != 0)
		bail_out("git init");

	f.no_git = true;
	sync_locally(&f, "walked");
	ok(exists("walked", "secret.env") && exists("walked", "local.txt"),
	   "the .gitignore translation alone misses info/exclude and core.excludesFile");
	f.no_git = false;
	sync_locally(&f, "listed");
	ok(!exists("listed", "secret.env"), "core.excludesFile is honoured");
	ok(!exists("listed", "local.txt"), ".git/info/exclude is honoured");
	ok(!exists("listed", "build") && !exists("listed", "weird[1].log") &&
	   !exists("listed", "sub/deep/x.log"), ".gitignore is honoured (wildcards in names too)");
	ok(exists("listed", "keep.log"), "a tracked file is synced although it matches");
	ok(exists("listed", "notes.txt") && exists("listed", "src/main.rs") &&
	   exists("listed", "Cargo.toml"), "untracked and tracked files are synced");
	ok(!exists("listed", "target") && !exists("listed", ".git"),
	   "the default excludes still apply (target/, .git/)");

	{
		static const char *const unexclude[] = { "secret.env", NULL };
		static const char *const extra[] = { "notes.txt", NULL };

		f.unexclude = unexclude;
		f.extra_excludes = extra;
		sync_locally(&f, "lists");
		ok(exists("lists", "secret.env") && !exists("lists", "notes.txt") &&
		   !exists("lists", "local.txt"),
		   "unexclude and extra_excludes still win over git's list");
		f.unexclude = NULL;
		f.extra_excludes = NULL;
	}
	f.sync_git = true;
	sync_locally(&f, "withgit");
	ok(exists("withgit", ".git/HEAD") && exists("withgit", ".git/objects") &&
	   !exists("withgit", ".git/hooks") && !exists("withgit", ".git/logs") &&
	   !exists("withgit", ".git/index.lock"),
	   "sync_git: .git without hooks, logs and locks");
	ok(exists("gitproj", ".git/config") && !exists("withgit", ".git/config"),
	   "sync_git: not .git/config (remote URLs may hold credentials)");
	{
		struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
		FILE *p;
		char line[128];

		cmd = xstrfmt("git -C '%s/gitproj' rev-parse HEAD 2>&1", tmp);
		if ((p = popen(cmd, "r")) && fgets(line, sizeof(line), p))
			strbuf_addstr(&a, line);
		if (p)
			pclose(p);
		free(cmd);
		cmd = xstrfmt("git -C '%s/withgit' describe --always --dirty 2>&1; "
			      "git -C '%s/withgit' rev-parse HEAD 2>&1", tmp, tmp);
		if ((p = popen(cmd, "r")))
			while (fgets(line, sizeof(line), p))
				strbuf_addstr(&b, line);
		if (p)
			pclose(p);
		free(cmd);
		ok(a.len == 41 && strstr(b.buf, a.buf) && !strstr(b.buf, "fatal"),
		   "git rev-parse HEAD and describe work in the copy");
		if (!(a.len == 41 && strstr(b.buf, a.buf)))
			diag("local %s, copy %s", a.buf, b.buf);
		strbuf_release(&a);
		strbuf_release(&b);
	}
	sh("rm -f '%s/gitproj/.git' 2>/dev/null; mv '%s/gitproj/.git' '%s/realgit' && "
	   "echo 'gitdir: %s/realgit' > '%s/gitproj/.git'", tmp, tmp, tmp, tmp, tmp);
	sync_locally(&f, "gitfile");
	ok(!exists("gitfile", ".git") && !exists("gitfile", "secret.env"),
	   "a .git file (a worktree's) is not synced; git still lists");

	/* a crate in a subdirectory of a repository: the repository's rules */
	write_file("mono/.gitignore", "/crates/a/out/\n");
	write_file("mono/crates/a/Cargo.toml", "[package]\n");
	write_file("mono/crates/a/secret.env", "s\n");
	write_file("mono/crates/a/out/x", "x\n");
	write_file("mono/crates/a/kept.txt", "k\n");
	write_file("mono/crates/a/private.txt", "p\n");
	if (sh("cd '%s/mono' && git init -q && printf '/kept.txt\\ncrates/a/private.txt\\n' "
	       "> .git/info/exclude", tmp) != 0)
		bail_out("git init mono");
	sync_dir("mono/crates/a", &f, "mono-a");
	ok(exists("mono-a", "Cargo.toml") && !exists("mono-a", "secret.env") &&
	   !exists("mono-a", "out"), "a crate below the top: the repository's rules, "
	   "core.excludesFile too");
	ok(exists("mono-a", "kept.txt") && !exists("mono-a", "private.txt"),
	   "info/exclude patterns are relative to the top");
	/* a repository that ignores the workspace (a home directory ignoring "*") */
	write_file("home/.gitignore", "*\n");
	write_file("home/ws/Cargo.toml", "[package]\n");
	write_file("home/ws/.gitignore", "junk\n");
	write_file("home/ws/junk", "j\n");
	write_file("home/ws/secret.env", "s\n");
	if (sh("cd '%s/home' && git init -q", tmp) != 0)
		bail_out("git init home");
	sync_dir("home/ws", &f, "home-ws");
	ok(exists("home-ws", "Cargo.toml") && exists("home-ws", "secret.env") &&
	   !exists("home-ws", "junk"),
	   "a workspace its enclosing repository ignores: the walker decides");
	unsetenv("GIT_CONFIG_GLOBAL");
	unsetenv("GIT_CONFIG_NOSYSTEM");
}

/* rsync --info=progress2 lines, and the cargo-style line drawn from them. */
static void test_progress(void)
{
	static const struct {
		const char *line;
		int ret;
		uint64_t bytes;
		unsigned pct;
		const char *rate;
	} cases[] = {
		{ "     21495808  71%   18.94MB/s    0:00:00  ", 0, 21495808, 71, "18.94MB/s" },
		{ "  1,234,567 100%  1.00kB/s 0:00:01 (xfr#1, to-chk=0/2)", 0, 1234567, 100,
		  "1.00kB/s" },
		{ "         32768   0%    0.00kB/s    0:00:00", 0, 32768, 0, "0.00kB/s" },
		{ "Number of files: 2 (reg: 1, dir: 1)", -1, 0, 0, NULL },
		{ "", -1, 0, 0, NULL },
		{ "   12 345%", -1, 0, 0, NULL },
		{ "   12 50", -1, 0, 0, NULL },
		{ "99999999999999999999999 10%", -1, 0, 0, NULL },
		{ "sending incremental file list", -1, 0, 0, NULL },
	};
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t b = 0;
		unsigned pct = 0;
		char rate[32] = "";
		int ret = remote_parse_progress(cases[i].line, &b, &pct, rate, sizeof(rate));

		ok(ret == cases[i].ret && (ret < 0 || (b == cases[i].bytes &&
		   pct == cases[i].pct && !strcmp(rate, cases[i].rate))),
		   "progress line %zu: '%s'", i, cases[i].line);
	}
	remote_format_progress(&sb, 21495808, 71, "18.94MB/s");
	is_str(sb.buf, "[=================>       ]  71% 20.5 MiB, 18.94MB/s",
	       "drawn like cargo's progress bar");
	strbuf_reset(&sb);
	remote_format_progress(&sb, 512, 0, "");
	is_str(sb.buf, "[>                        ]   0% 512 B", "start, bytes");
	strbuf_reset(&sb);
	remote_format_progress(&sb, 3ULL << 40, 100, NULL);
	is_str(sb.buf, "[=========================] 100% 3.0 TiB", "end, no rate");
	strbuf_release(&sb);
	setenv("CARGO_TERM_PROGRESS_WHEN", "always", 1);
	ok(remote_sync_progress_wanted(), "CARGO_TERM_PROGRESS_WHEN=always forces it");
	setenv("CARGO_TERM_PROGRESS_WHEN", "never", 1);
	ok(!remote_sync_progress_wanted(), "CARGO_TERM_PROGRESS_WHEN=never turns it off");
	unsetenv("CARGO_TERM_PROGRESS_WHEN");
	ok(remote_sync_progress_wanted() == (bool)isatty(STDERR_FILENO),
	   "else: when stderr is a terminal");
}

static void test_quoting_local(void)
{
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct strbuf cmd = STRBUF_INIT, want = STRBUF_INIT, word = STRBUF_INIT;
	int bad = 0;

	if (getenv("BURST_QUOTE_SEED"))
		seed = (unsigned)strtoul(getenv("BURST_QUOTE_SEED"), NULL, 10);
	srand(seed);
	for (int batch = 0; batch < 50 && !bad; batch++) {
		struct child_process cp = CHILD_PROCESS_INIT;
		struct burst_error err = BURST_ERROR_INIT;

		strbuf_reset(&cmd);
		strbuf_reset(&want);
		strbuf_addstr(&cmd, "printf '%s\\0'");
		for (int i = 0; i < 20; i++) {
			int len = rand() % 24;

			strbuf_reset(&word);
			for (int k = 0; k < len; k++)
				strbuf_addch(&word, 1 + rand() % 255);
			strbuf_addch(&cmd, ' ');
			remote_shell_quote(&cmd, word.buf);
			strbuf_add(&want, word.buf, word.len);
			strbuf_addch(&want, '\0');
		}
		strvec_push(&cp.args, "/bin/sh");
		strvec_push(&cp.args, "-c");
		strvec_push(&cp.args, cmd.buf);
		cp.out = PROC_IO_CAPTURE;
		proc_run(&cp, &err);
		if (cp.out_buf.len != want.len || memcmp(cp.out_buf.buf, want.buf, want.len))
			bad++;
		child_process_release(&cp);
		burst_error_release(&err);
	}
	ok(!bad, "1000 random byte strings round-trip through /bin/sh -c (seed %u)", seed);
	strbuf_release(&cmd);
	strbuf_release(&want);
	strbuf_release(&word);
}

static void test_cloud_config(void)
{
	struct strbuf out = STRBUF_INIT;
	char *big = xcalloc(40000, 1);

	ok(remote_cloud_config("-----BEGIN OPENSSH PRIVATE KEY-----\nAAA\nBBB\n-----END OPENSSH PRIVATE KEY-----\n",
			       "ssh-ed25519 AAAAC3 cargo-burst", &out) == 0, "cloud-config");
	is_str(out.buf,
	       "#cloud-config\nssh_keys:\n  ed25519_private: |\n"
	       "    -----BEGIN OPENSSH PRIVATE KEY-----\n    AAA\n    BBB\n"
	       "    -----END OPENSSH PRIVATE KEY-----\n"
	       "  ed25519_public: ssh-ed25519 AAAAC3 cargo-burst\n", "exact format");
	memset(big, 'A', 39999);
	strbuf_reset(&out);
	ok(remote_cloud_config(big, "x y", &out) < 0 && out.len == 0, "over 32 KiB refused");
	free(big);
	strbuf_release(&out);
}

int main(void)
{
	if (!mkdtemp(tmp))
		bail_out("mkdtemp");
	atexit(cleanup);
	alarm(120);
	plan_lazy();
	test_ssh_argv();
	test_rules();
	test_git_rules();
	test_progress();
	test_quoting_local();
	test_cloud_config();
	return done_testing();
}

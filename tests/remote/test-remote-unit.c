/*
 * test-remote-unit.c - the parts of the remote module that need no sshd
 * and no root: the ssh command line, the sync rules, cloud-config, quoting
 * (property test through the local /bin/sh), control path limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "burst/remote.h"
#include "../../src/remote/remote-int.h"
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

	/* a host the user brought: their known_hosts only, never the tool's */
	strvec_clear(&argv);
	strbuf_reset(&joined);
	h.user_known_hosts = xstrdup("/home/u/.ssh/known_hosts");
	remote_ssh_argv(&h, &argv);
	for (size_t i = 0; i < argv.nr; i++)
		strbuf_addf(&joined, "%s|", argv.v[i]);
	ok(strstr(joined.buf, "|UserKnownHostsFile=/home/u/.ssh/known_hosts|") &&
	   !strstr(joined.buf, "/state dir/known_hosts"),
	   "BYO host: only the user's known_hosts, not the tool's (wildcards there vouch for nothing)");
	ok(!strstr(joined.buf, "|-F|") && strstr(joined.buf, "|StrictHostKeyChecking=yes|") &&
	   strstr(joined.buf, "|RemoteCommand=none|"),
	   "BYO host: the user's ssh config applies (no -F), strict checking stays");

	/* an alias of ~/.ssh/config: only what the user gave, the config does the rest */
	strvec_clear(&argv);
	strbuf_reset(&joined);
	FREE_AND_NULL(h.user);
	FREE_AND_NULL(h.identity_file);
	h.port = 0;
	free(h.host);
	h.host = xstrdup("myalias");
	h.user_ssh_config = xstrdup("/home/u/.ssh/config");
	remote_ssh_base_argv(&h, &argv);
	for (size_t i = 0; i < argv.nr; i++)
		strbuf_addf(&joined, "%s|", argv.v[i]);
	ok(!strstr(joined.buf, "|-l|") && !strstr(joined.buf, "|-p|") &&
	   !strstr(joined.buf, "|-i|") && !strstr(joined.buf, "IdentitiesOnly"),
	   "BYO alias: no user, port or key passed over the config's: %s", joined.buf);
	ok(strstr(joined.buf, "|-F|/home/u/.ssh/config|") != NULL,
	   "BYO host: the config of $HOME when ssh would read another");
	FREE_AND_NULL(h.user_known_hosts);
	FREE_AND_NULL(h.user_ssh_config);

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
		"+ Cargo.lock\n" /* whatever git says */
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
/* The rules again, from the record of the last walk when nothing it read changed. */
static void rec_rules(const char *root, const struct sync_filters *f, const struct strbuf *in,
		      struct strbuf *rules, struct strbuf *out)
{
	struct burst_error err = BURST_ERROR_INIT;

	strbuf_reset(rules);
	if (out)
		strbuf_reset(out);
	if (sync_rules_compute(root, f, in ? in->buf : NULL, in ? in->len : 0, out, rules,
			       &err) < 0)
		strbuf_addstr(rules, "(failed)");
	burst_error_release(&err);
}

static void test_rules_record(void)
{
	static const char *const extra[] = { "big/", NULL };
	struct sync_filters f = { .no_git = true }, f2 = { .no_git = true, .extra_excludes = extra };
	char *root = xstrfmt("%s/rec", tmp);
	struct strbuf rules = STRBUF_INIT, fresh = STRBUF_INIT, rec = STRBUF_INIT,
		      rec2 = STRBUF_INIT, fake = STRBUF_INIT;
	bool all = true;

	write_file("rec/.gitignore", "*.log\n");
	write_file("rec/a/.gitignore", "gen/\n");
	write_file("rec/a/b/c.rs", "x\n");
	rec_rules(root, &f, NULL, &fresh, &rec);
	is_int((int)rec.len, 0, "a tree changed within the granule: no record");
	usleep((useconds_t)(SYNC_RACY_NS / 1000) + 100 * 1000);
	rec_rules(root, &f, NULL, &fresh, &rec);
	ok(rec.len > 0 && strstr(fresh.buf, "- /a/gen/"), "a settled tree: a record");
	rec_rules(root, &f, &rec, &rules, &rec2);
	is_str(rules.buf, fresh.buf, "nothing changed: the same rules");
	ok(rec2.len == rec.len && !memcmp(rec2.buf, rec.buf, rec.len), "...and the same record");
	{
		/* a record with other rules whose entries hold: its rules are taken */
		uint64_t tl = 0;
		static const char other[] = "- /FROM-THE-RECORD\n";

		for (int i = 7; i >= 0; i--)
			tl = tl << 8 | (unsigned char)rec.buf[32 + i];
		strbuf_add(&fake, rec.buf, 32);
		for (int i = 0; i < 8; i++)
			strbuf_addch(&fake, (char)((sizeof(other) - 1) >> (8 * i)));
		strbuf_addstr(&fake, other);
		strbuf_add(&fake, rec.buf + 40 + tl, rec.len - 40 - tl);
		rec_rules(root, &f, &fake, &rules, NULL);
		ok(strstr(rules.buf, "FROM-THE-RECORD") && !strstr(rules.buf, "/a/gen/"),
		   "the walk is skipped: the rules come from the record");
		rec_rules(root, &f2, &fake, &rules, NULL);
		ok(!strstr(rules.buf, "FROM-THE-RECORD") && strstr(rules.buf, "- /a/gen/"),
		   "another configuration: the record is not used");
		/* every cut record: never a crash, never the record's rules */
		for (size_t i = 0; i < fake.len; i++) {
			struct strbuf bad = STRBUF_INIT;

			strbuf_add(&bad, fake.buf, i);
			rec_rules(root, &f, &bad, &rules, NULL);
			all &= !strstr(rules.buf, "FROM-THE-RECORD") || i < 40;
			strbuf_release(&bad);
		}
		ok(all, "a cut record is not used");
	}
	/* what the walk read changes: the rules follow */
	write_file("rec/a/.gitignore", "gen/\nmore/\n");
	rec_rules(root, &f, &fake, &rules, NULL);
	ok(strstr(rules.buf, "- /a/more/") && !strstr(rules.buf, "FROM-THE-RECORD"),
	   "a .gitignore edited: walked again");
	rec_rules(root, &f, NULL, &fresh, &rec);
	usleep((useconds_t)(SYNC_RACY_NS / 1000) + 100 * 1000);
	rec_rules(root, &f, NULL, &fresh, &rec);
	write_file("rec/a/b/.gitignore", "*.tmp\n");
	rec_rules(root, &f, &rec, &rules, NULL);
	ok(strstr(rules.buf, "- /a/b/*.tmp") || strstr(rules.buf, "/a/b/**/*.tmp"),
	   "a .gitignore created in a directory read: walked again");
	strbuf_release(&rules);
	strbuf_release(&fresh);
	strbuf_release(&rec);
	strbuf_release(&rec2);
	strbuf_release(&fake);
	free(root);
}

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


static void skip_n(const char *why, int n)
{
	for (int i = 0; i < n; i++)
		printf("ok %d # SKIP %s\n", ++tap_count_, why);
}

static char *read_all(const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_read_file(&sb, path);
	return strbuf_detach(&sb, NULL);
}

static void test_known_hosts_hostile(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *kh = xstrfmt("%s/kh-hostile/known_hosts", tmp), *text;
	static const char *bad_hosts[] = {
		"127.0.0.9\n* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostile", "*", "127.0.0.*",
		"127.0.0.9,*", "!127.0.0.9", "|1|aGFzaA==|aGFzaA==", "127.0.0.9 ", "", "example.com",
	};
	static const char *bad_keys[] = {
		"ssh-ed25519 AAAA\n* ssh-ed25519 BBBB", "ssh-ed25519 AAAA,* x", "ssh-ed25519",
		"ssh-ed25519 ", "* ssh-ed25519 AAAA", "ssh-ed25519 AA\x1b[2JAA x",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad_hosts); i++) {
		char *shown = xstrdup(bad_hosts[i]);

		for (char *p = shown; *p; p++)
			if (*p == '\n')
				*p = '~';
		ok(remote_known_hosts_pin(kh, bad_hosts[i], 22, "ssh-ed25519 AAAAgood x", &err) < 0 &&
		   err.exit_code == BURST_EXIT_INTERNAL, "pinning for host '%s' is refused", shown);
		ok(!err.message || !strchr(err.message, '\n'), "  and the error has no line break");
		burst_error_release(&err);
		ok(remote_known_hosts_forget(kh, bad_hosts[i], 22, &err) < 0,
		   "forgetting host '%s' is refused", shown);
		burst_error_release(&err);
		free(shown);
	}
	ok(access(kh, F_OK) < 0, "nothing was written");
	for (size_t i = 0; i < ARRAY_SIZE(bad_keys); i++) {
		ok(remote_known_hosts_pin(kh, "10.0.0.2", 22, bad_keys[i], &err) < 0,
		   "malformed key line %zu is refused", i);
		ok(err.message && !strchr(err.message, '\n') && !strchr(err.message, '\x1b'),
		   "  and the error shows it sanitised");
		burst_error_release(&err);
	}
	ok(remote_known_hosts_pin(kh, "2a01:4f8::1", 2222, "ssh-ed25519 AAAAsix c", &err) == 0,
	   "an IPv6 address with a port is pinned");
	burst_error_release(&err);

	/* a file planted with lines the tool never writes: they go at the next pin */
	write_file("kh-hostile/known_hosts",
		   "* ssh-ed25519 AAAAplanted\n"
		   "10.0.0.1 ssh-ed25519 AAAAgood\n"
		   "10.0.0.3,10.0.0.* ssh-ed25519 AAAAplanted2\n"
		   "|1|aGFzaA==|aGFzaA== ssh-ed25519 AAAAplanted3\n"
		   "@cert-authority * ssh-ed25519 AAAAplanted4\n"
		   "[10.0.0.5]:2222 ssh-ed25519 AAAAport\n");
	ok(remote_known_hosts_pin(kh, "10.0.0.2", 22, "ssh-ed25519 AAAAnew c", &err) == 0,
	   "pin into a planted file");
	burst_error_release(&err);
	text = read_all(kh);
	is_str(text, "10.0.0.1 ssh-ed25519 AAAAgood\n[10.0.0.5]:2222 ssh-ed25519 AAAAport\n"
		     "10.0.0.2 ssh-ed25519 AAAAnew\n",
	       "planted wildcard/hashed/marker lines dropped, address lines kept");
	free(text);
	free(kh);
}

#define PINNERS 4
#define PINS_EACH 40

static void test_known_hosts_concurrent(void)
{
	char *kh = xstrfmt("%s/kh-many/known_hosts", tmp), *text;
	pid_t pids[PINNERS];
	int failed_children = 0, present = 0, lines = 0;

	fflush(stdout);
	for (int c = 0; c < PINNERS; c++) {
		pids[c] = fork();
		if (pids[c] < 0)
			bail_out("fork");
		if (!pids[c]) {
			struct burst_error err = BURST_ERROR_INIT;
			int bad = 0;

			for (int i = 0; i < PINS_EACH; i++) {
				char ip[32];

				snprintf(ip, sizeof(ip), "10.%d.0.%d", c + 1, i + 1);
				if (remote_known_hosts_pin(kh, ip, 22, "ssh-ed25519 AAAAkey x",
							   &err) < 0) {
					fprintf(stderr, "# pin %s: %s\n", ip, err.message);
					bad = 1;
				}
				burst_error_release(&err);
			}
			_exit(bad);
		}
	}
	for (int c = 0; c < PINNERS; c++) {
		int status;

		if (waitpid(pids[c], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			failed_children++;
	}
	is_int(failed_children, 0, "%d processes pinned %d hosts each", PINNERS, PINS_EACH);
	text = read_all(kh);
	for (int c = 0; c < PINNERS; c++) {
		for (int i = 0; i < PINS_EACH; i++) {
			char *line = xstrfmt("\n10.%d.0.%d ssh-ed25519 AAAAkey\n", c + 1, i + 1);

			/* the file starts with a line: look for "\n<line>" or a prefix match */
			if (strstr(text, line) || !strncmp(text, line + 1, strlen(line) - 1))
				present++;
			free(line);
		}
	}
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	is_int(present, PINNERS * PINS_EACH, "every pinned line is present (none lost)");
	is_int(lines, PINNERS * PINS_EACH, "each exactly once");
	free(text);
	free(kh);
}

/*
 * A full disk while pinning: a 2-page tmpfs, filled, in a private mount
 * namespace of a child (the mount dies with it).  The error is the local
 * state's (73) and names the file and errno.
 */
static void test_known_hosts_full(void)
{
	char *dir = xstrfmt("%s/kh-full", tmp), *kh = xstrfmt("%s/known_hosts", dir);
	char msg[1024];
	int fds[2], status = 0;
	ssize_t n;
	pid_t pid;

	if (geteuid() != 0) {
		skip_n("a private mount namespace with a tiny tmpfs needs root", 3);
		goto out;
	}
	if (mkdir(dir, 0700) < 0 || pipe(fds) < 0)
		bail_out("mkdir/pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (!pid) {
		struct burst_error err = BURST_ERROR_INIT;
		char *fill = xstrfmt("%s/fill", dir);
		static char block[4096];
		int fd, code;

		close(fds[0]);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", dir, "tmpfs", 0, "size=8k,mode=0700") < 0)
			_exit(2);
		fd = open(fill, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		while (fd >= 0 && write(fd, block, sizeof(block)) > 0)
			;
		if (fd >= 0)
			close(fd);
		code = remote_known_hosts_pin(kh, "10.0.0.1", 22, "ssh-ed25519 AAAAkey x", &err)
			       < 0 ? (int)err.exit_code : 0;
		if (err.message && write(fds[1], err.message, strlen(err.message)) < 0)
			_exit(3);
		_exit(code);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
		skip_n("cannot mount a tmpfs in a private mount namespace here", 3);
		goto out;
	}
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, BURST_EXIT_STATE,
	       "a full disk while pinning is a local state problem (73), not 70");
	ok(strstr(msg, kh) != NULL, "the message names the known_hosts file: %s", msg);
	ok(strstr(msg, strerror(ENOSPC)) != NULL, "and the errno (%s)", strerror(ENOSPC));
out:
	rmdir(dir);
	free(kh);
	free(dir);
}

static bool printable(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Names from the server's artifact listing: anything but a plain name fails. */
static void test_fetch_names(void)
{
	static const char *const good[] = { "app", "libapp.so", "it's here", ".hidden", "a..b",
					    "-rf", NULL };
	static const struct { const char *name; size_t len; } bad[] = {
		{ "", 0 }, { ".", 1 }, { "..", 2 }, { "../escape", 9 }, { "/etc/shadow", 11 },
		{ "a/b", 3 }, { "a\0b", 3 }, { "a\nb", 3 }, { "esc\x1b[2J", 7 }, { "del\x7f", 4 },
	};
	struct burst_error err = BURST_ERROR_INIT;
	char longname[300];

	for (size_t i = 0; good[i]; i++) {
		ok(remote_check_file_name(good[i], strlen(good[i]), &err) == 0 && !err.message,
		   "'%s' is a plain name", good[i]);
		burst_error_release(&err);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = remote_check_file_name(bad[i].name, bad[i].len, &err);

		ok(r < 0 && err.exit_code == BURST_EXIT_REMOTE && err.message &&
		   printable(err.message) && strstr(err.message, "not a plain file name"),
		   "bad name %zu refused with the remote exit code: %s", i,
		   err.message ? err.message : "(no error)");
		burst_error_release(&err);
	}
	memset(longname, 'x', sizeof(longname));
	ok(remote_check_file_name(longname, 256, &err) < 0 && err.exit_code == BURST_EXIT_REMOTE,
	   "a name over 255 bytes is refused");
	burst_error_release(&err);
	ok(remote_check_file_name(longname, 255, &err) == 0, "255 bytes are fine");
	burst_error_release(&err);

	/*
	 * remote_fetch_files() with such a name: an ordinary error, no abort
	 * (in a child, so that an abort fails this test instead of ending it),
	 * and nothing is run or created.
	 */
	{
		static const char *const cases[][3] = {
			{ "app", "../escape", NULL }, { "/etc/shadow", NULL, NULL },
			{ "", NULL, NULL }, { "..", NULL, NULL },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char *ldir = xstrfmt("%s/fetch-%zu", tmp, i);
			pid_t pid = fork();
			int status = 0;

			if (pid < 0)
				bail_out("fork");
			if (pid == 0) {
				struct remote_host h = REMOTE_HOST_INIT;
				struct burst_error e = BURST_ERROR_INIT;
				struct rlimit rl = { 0, 0 };

				setrlimit(RLIMIT_CORE, &rl);
				/* nothing may run: a "ssh" or "rsync" would fail the test */
				setenv("CARGO_BURST_SSH", "/nonexistent/ssh", 1);
				setenv("CARGO_BURST_RSYNC", "/nonexistent/rsync", 1);
				h.host = xstrdup("127.0.0.1");
				h.known_hosts = xstrdup("/dev/null");
				if (remote_fetch_files(&h, "/remote/target/release", cases[i], ldir,
						       &e) == 0)
					_exit(0);
				_exit(e.exit_code == BURST_EXIT_REMOTE && e.message &&
				      strstr(e.message, "not a plain file name") ? 76 : 1);
			}
			waitpid(pid, &status, 0);
			ok(WIFEXITED(status) && WEXITSTATUS(status) == 76,
			   "remote_fetch_files refuses bad name list %zu with exit 76 (status 0x%x)",
			   i, (unsigned)status);
			ok(access(ldir, F_OK) < 0, "...and creates nothing locally");
			free(ldir);
		}
	}
}

static bool has_arg(const struct strvec *v, const char *arg)
{
	for (size_t i = 0; i < v->nr; i++)
		if (!strcmp(v->v[i], arg))
			return true;
	return false;
}

/* A server that stops answering cannot hold the sync forever. */
static void test_push_bounded(void)
{
	struct remote_host h = REMOTE_HOST_INIT;
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf rules = STRBUF_INIT;
	char *root = xstrfmt("%s/pushproj", tmp);

	write_file("pushproj/a", "a\n");
	h.host = xstrdup("127.0.0.1");
	h.known_hosts = xstrdup("/dev/null");
	ok(remote_rsync_push_prepare(&h, root, "/r/src", NULL, &rules, &cp, &err) == 0 &&
	   has_arg(&cp.args, "--timeout=120"), "the push has an rsync I/O timeout");
	child_process_release(&cp);
	strbuf_release(&rules);
	burst_error_release(&err);
	remote_host_release(&h);
	free(root);
}

/*
 * The index's walk evaluates rsync's filter rules itself: for each rule
 * set, the paths it keeps must be exactly those `rsync --list-only` keeps.
 */
static void test_index_rules_vs_rsync(void)
{
	static const char *const files[] = {
		"a.txt", "b.log", "k/keep.log", "src/x.rs", "src/gen/y.rs", "deep/a/b/c.txt",
		"deep/a/gen/z", "target/t", "foo/bar/baz", "x/foo/bar", ".git/HEAD",
		".git/hooks/h", ".git/x.lock", ".git/refs/main.lock", "[lit].txt", "we*ird.txt",
		"build/o", "sub/build/o", "dir.tmp/f", "c", "s/t/u", "gen", NULL,
	};
	static const char *const rules[] = {
		"+ k/keep.log\n- *.log\n- build/\n- target/\n",
		"- /build/\n- foo/bar\n- deep/**/gen/\n- *.tmp/\n# comment\n; also\n",
		"- /.git/hooks/\n- /.git/**.lock\n+ /.git/***\n- .git/\n- src/***\n",
		"- **/gen\n- /deep/a/b/c.txt\n- [lit].txt\n- we\\*ird.txt\n- ?.txt\n- ?\n",
		"- [a-c]*\n- [!s]*/\n",
		"- deep/*/gen\n- */bar\n- x/**\n- **/b/\n",
		"- /*/o\n- src/*\n+ */\n- *\n",
		"- *\n",
		"",
		NULL,
	};
	char *root = xstrfmt("%s/rules-tree", tmp), *rfile = xstrfmt("%s/rules-file", tmp);

	for (size_t i = 0; files[i]; i++) {
		char *rel = xstrfmt("rules-tree/%s", files[i]);

		write_file(rel, files[i]);
		free(rel);
	}
	for (size_t r = 0; rules[r]; r++) {
		struct sync_rules *sr = sync_rules_parse(rules[r], strlen(rules[r]));
		struct sync_index *idx = NULL;
		struct strbuf mine = STRBUF_INIT, theirs = STRBUF_INIT;
		const char *why = "?";
		char *cmd;
		FILE *f = fopen(rfile, "w");

		if (!f)
			bail_out("fopen");
		fputs(rules[r], f);
		fclose(f);
		if (sr)
			idx = sync_index_walk(root, sr, &why);
		if (!idx) {
			ok(0, "rule set %zu: the walk evaluates it (%s)", r, sr ? why : "parse");
			sync_rules_free(sr);
			continue;
		}
		sync_index_sort(idx); /* the walk's own order is its threads' */
		for (size_t i = 0; i < idx->nr; i++)
			if (strcmp(idx->v[i].path, "."))
				strbuf_addf(&mine, "%s\n", idx->v[i].path);
		cmd = xstrfmt("rsync -r -l --list-only --filter='. %s' '%s/' | "
			      "awk '{ print $NF }' | grep -vx '[.]' | LC_ALL=C sort", rfile, root);
		{
			FILE *p = popen(cmd, "r");
			char line[4096];

			while (p && fgets(line, sizeof(line), p))
				strbuf_addstr(&theirs, line);
			if (!p || pclose(p) != 0)
				bail_out("rsync --list-only");
		}
		is_str(mine.buf, theirs.buf, "rule set %zu: the walk keeps what rsync keeps", r);
		free(cmd);
		strbuf_release(&mine);
		strbuf_release(&theirs);
		sync_index_free(idx);
		sync_rules_free(sr);
	}
	ok(!sync_rules_parse("P /x\n", 5), "a rule of another kind: no index");
	is_int(sync_rules_test("- [[:alpha:]]x\n", "ax", false), -1,
	       "a character class: the index cannot tell (full sync)");
	free(root);
	free(rfile);
}

/* The racily clean rule and the deletions the index computes. */
static void test_index_diff(void)
{
	struct sync_index old = { 0 }, cur = { 0 };
	struct si_entry o[] = {
		{ "a", 040755, 0, 1, 1, 1 }, { "a/x", 0100644, 3, 5, 5, 2 },
		{ "a/y", 0100644, 3, 5, 5, 3 }, { "b", 0100644, 1, 5, 5, 4 },
		{ "c", 0100644, 1, 100, 100, 5 }, { "d", 0100644, 1, 5, 5, 6 },
	};
	struct si_entry c[] = {
		{ "a", 0100644, 0, 9, 9, 7 }, { "b", 0100644, 1, 5, 5, 4 },
		{ "c", 0100644, 1, 100, 100, 5 }, { "e", 0100644, 1, 5, 5, 8 },
	};
	struct strbuf send = STRBUF_INIT;
	struct strvec dels = STRVEC_INIT;

	old.v = o;
	old.nr = ARRAY_SIZE(o);
	cur.v = c;
	cur.nr = ARRAY_SIZE(c);
	/* the old walk at 100 + 2 s: "c" (mtime 100) is racily clean */
	old.walk_ns = 100 + SYNC_RACY_NS;
	sync_index_diff(&old, &cur, &send, &dels, NULL);
	for (size_t i = 0; i < send.len; i++)
		if (!send.buf[i])
			send.buf[i] = ',';
	is_str(send.buf, "a,c,e,", "sent: the type change, the racily clean file, the new one");
	is_int((int)dels.nr, 2, "two deletions");
	ok(dels.nr == 2 && !strcmp(dels.v[0], "a") && !strcmp(dels.v[1], "d"),
	   "the directory replaced by a file once (not its files), the vanished file");
	strbuf_reset(&send);
	strvec_clear(&dels);
	old.walk_ns = 100 + SYNC_RACY_NS + 1;
	sync_index_diff(&old, &cur, &send, &dels, NULL);
	for (size_t i = 0; i < send.len; i++)
		if (!send.buf[i])
			send.buf[i] = ',';
	is_str(send.buf, "a,e,", "older than the granule before the walk: not sent again");
	strbuf_reset(&send);
	strvec_clear(&dels);
	{
		/* a walk's order is its threads': the same answer in any order */
		struct si_entry rc[ARRAY_SIZE(c)], ro[ARRAY_SIZE(o)];

		for (size_t i = 0; i < ARRAY_SIZE(c); i++)
			rc[i] = c[ARRAY_SIZE(c) - 1 - i];
		for (size_t i = 0; i < ARRAY_SIZE(o); i++)
			ro[i] = o[(i + 3) % ARRAY_SIZE(o)];
		cur.v = rc;
		old.v = ro;
		old.walk_ns = 100 + SYNC_RACY_NS;
		sync_index_diff(&old, &cur, &send, &dels, NULL);
		for (size_t i = 0; i < send.len; i++)
			if (!send.buf[i])
				send.buf[i] = ',';
		is_str(send.buf, "e,c,a,", "in any order: the same paths sent (in cur's order)");
		ok(dels.nr == 2 && !strcmp(dels.v[0], "a") && !strcmp(dels.v[1], "d"),
		   "in any order: the same topmost deletions, sorted");
	}
	strbuf_release(&send);
	strvec_clear(&dels);
}

/*
 * The index is the tool's own file, but its generation and the paths of
 * deleted entries go into a remote shell command: a generation that is not
 * hex or a path that leaves the tree makes the index damaged (a full sync).
 */
static void test_index_load_hostile(void)
{
	static const char *const bad_paths[] = { "../etc", "a/../../b", "/abs", "a//b", "./a", ".." };
	struct si_entry e[] = { { ".", 040755, 0, 5, 5, 1 }, { "src/main.rs", 0100644, 1, 5, 5, 2 } };
	struct sync_index idx = { 0 };
	struct burst_error err = BURST_ERROR_INIT;
	char *path = xstrfmt("%s/hostile.idx", tmp);
	struct sync_index *got;
	const char *why = NULL;

	idx.v = e;
	idx.nr = ARRAY_SIZE(e);
	sync_new_gen(idx.gen);
	got = sync_index_save(&idx, path, &err) == 0 ? sync_index_load(path, &why) : NULL;
	ok(got != NULL, "an index as written loads, \".\" (the top directory) included (%s)", why ? why : "ok");
	sync_index_free(got);
	{
		/* the rules a walk may begin with before the rest is checked */
		struct strbuf sb = STRBUF_INIT;
		const char *r = NULL;
		size_t len = 0;

		idx.rules_text = (char *)"- /target/\n";
		idx.rules_len = strlen(idx.rules_text);
		if (sync_index_save(&idx, path, &err) == 0 && sync_index_read(path, &sb, &why) == 0)
			r = sync_index_peek_rules(&sb, &len);
		ok(r && len == idx.rules_len && !memcmp(r, idx.rules_text, len),
		   "the rules text is there to peek at");
		{
			size_t bad_at = 0, cuts = 0;

			for (size_t cut = 0; cut < sb.len && !bad_at; cut += 7, cuts++) {
				struct strbuf part = STRBUF_INIT;

				strbuf_add(&part, sb.buf, cut);
				r = sync_index_peek_rules(&part, &len);
				if (r && (r < part.buf || r + len > part.buf + part.len))
					bad_at = cut ? cut : 1;
				got = sync_index_parse(&part, &why);
				if (got)
					bad_at = cut ? cut : 1;
				sync_index_free(got);
				strbuf_release(&part);
			}
			ok(cuts > 10 && !bad_at, "%zu cut indexes: the peeked rules stay inside, "
			   "none parses as whole (first bad cut: %zu)", cuts, bad_at);
		}
		strbuf_release(&sb);
		idx.rules_text = NULL;
		idx.rules_len = 0;
	}
	memcpy(idx.gen, "$(touch /tmp/pwned)aaaaaaaaaaaaa", 32);
	got = sync_index_save(&idx, path, &err) == 0 ? sync_index_load(path, &why) : NULL;
	ok(!got, "a generation that is not hex: damaged (%s)", why ? why : "loaded");
	sync_index_free(got);
	sync_new_gen(idx.gen);
	for (size_t i = 0; i < ARRAY_SIZE(bad_paths); i++) {
		e[1].path = (char *)bad_paths[i];
		got = sync_index_save(&idx, path, &err) == 0 ? sync_index_load(path, &why) : NULL;
		ok(!got, "an entry '%s': damaged (%s)", bad_paths[i], why ? why : "loaded");
		sync_index_free(got);
	}
	burst_error_release(&err);
	free(path);
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
	test_rules_record();
	test_progress();
	test_quoting_local();
	test_cloud_config();
	test_known_hosts_hostile();
	test_known_hosts_concurrent();
	test_known_hosts_full();
	test_fetch_names();
	test_push_bounded();
	test_index_rules_vs_rsync();
	test_index_diff();
	test_index_load_hostile();
	return done_testing();
}

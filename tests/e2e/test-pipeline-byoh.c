/*
 * test-pipeline-byoh.c - the pure parts of issue 8's extras: BYO host and
 * --forward parsing, the toolchain file and rustup's list, the remote
 * command of a BYO host / a pinned toolchain / `cargo burst ssh`, the
 * summary's host and rustc, the local port check.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "burst/pipeline.h"
#include "burst/remote.h"

static void host_case(const char *spec, const char *user, const char *host, int port)
{
	struct remote_host h = REMOTE_HOST_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	int rc = pipeline_parse_host(spec, &h, &err);

	if (!host) {
		ok(rc < 0 && err.exit_code == BURST_EXIT_USAGE && err.message &&
		   strstr(err.message, spec), "host '%s' refused", spec);
	} else {
		ok(rc == 0, "host '%s' parsed", spec);
		is_str(h.user ? h.user : "(none)", user ? user : "(none)", "'%s': user", spec);
		is_str(h.host ? h.host : "(none)", host, "'%s': machine", spec);
		is_int(h.port, port, "'%s': port", spec);
	}
	remote_host_release(&h);
	burst_error_release(&err);
}

static void test_hosts(void)
{
	host_case("box", NULL, "box", 0);
	host_case("me@box", "me", "box", 0);
	host_case("me@10.0.0.2:2222", "me", "10.0.0.2", 2222);
	host_case("[::1]", NULL, "::1", 0);
	host_case("u@[fe80::1]:22", "u", "fe80::1", 22);
	host_case("", NULL, NULL, 0);
	host_case("@box", NULL, NULL, 0);
	host_case("a@b@c", NULL, NULL, 0);
	host_case("box:0", NULL, NULL, 0);
	host_case("box:x", NULL, NULL, 0);
	host_case("::1", NULL, NULL, 0);
	host_case("[::1", NULL, NULL, 0);
	host_case("[::1]x", NULL, NULL, 0);
	host_case("-oProxyCommand=sh", NULL, NULL, 0);
	host_case("bo x", NULL, NULL, 0);
}

static void test_forwards(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	int l = -1, r = -1;

	ok(pipeline_parse_forward("8080", &l, &r, &err) == 0 && l == 8080 && r == 8080,
	   "-L 8080: the same port remotely");
	ok(pipeline_parse_forward("9000:80", &l, &r, &err) == 0 && l == 9000 && r == 80,
	   "-L 9000:80");
	ok(pipeline_parse_forward("65536", &l, &r, &err) < 0 &&
	   strstr(err.message, "'65536'"), "65536 refused");
	burst_error_release(&err);
	ok(pipeline_parse_forward("80:0", &l, &r, &err) < 0, "remote 0 refused");
	burst_error_release(&err);
	ok(pipeline_parse_forward("a:b", &l, &r, &err) < 0, "names refused");
	burst_error_release(&err);
}

static void test_port_check(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	char pid[32];

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		ok(0, "cannot make a listening socket");
		return;
	}
	port = ntohs(sa.sin_port);
	snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
	ok(pipeline_check_local_port(port, &err) < 0 && err.message &&
	   strstr(err.message, "already in use"), "a port we listen on is taken");
	ok(err.message && strstr(err.message, pid), "... and we are named as its holder (%s)",
	   err.message ? err.message : "");
	burst_error_release(&err);
	close(fd);
	ok(pipeline_check_local_port(port, &err) == 0, "once closed it is free");
	burst_error_release(&err);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = xstrfmt("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	free(path);
}

static void toolchain_file_case(const char *dir, const char *name, const char *text,
				const char *want)
{
	char *a = xstrfmt("%s/rust-toolchain.toml", dir), *b = xstrfmt("%s/rust-toolchain", dir);
	char *got;

	unlink(a);
	unlink(b);
	if (name)
		write_file(dir, name, text);
	got = pipeline_toolchain_file(dir);
	is_str(got ? got : "(none)", want ? want : "(none)", "toolchain of %s (%s)",
	       name ? name : "no file", want ? want : "none");
	free(got);
	unlink(a);
	unlink(b);
	free(a);
	free(b);
}

static void test_toolchain(void)
{
	char tmpl[] = "/tmp/burst-tc-XXXXXX";
	char *dir = mkdtemp(tmpl);
	const char *list = "stable-x86_64-unknown-linux-gnu (active, default)\n"
			   "nightly-2024-05-01-x86_64-unknown-linux-gnu\n"
			   "1.80.0-x86_64-unknown-linux-gnu\nmylocal\n";

	if (!dir) {
		ok(0, "mkdtemp");
		return;
	}
	toolchain_file_case(dir, NULL, NULL, NULL);
	toolchain_file_case(dir, "rust-toolchain.toml",
			    "[toolchain]\nchannel = \"1.80.0\"\ncomponents = [\"clippy\"]\n",
			    "1.80.0");
	toolchain_file_case(dir, "rust-toolchain", "nightly-2024-05-01\n", "nightly-2024-05-01");
	toolchain_file_case(dir, "rust-toolchain", "[toolchain]\nchannel = \"beta\"\n", "beta");
	toolchain_file_case(dir, "rust-toolchain.toml", "[toolchain]\npath = \"/opt/rust\"\n",
			    NULL);
	toolchain_file_case(dir, "rust-toolchain.toml", "[toolchain]\nchannel = \"x; rm\"\n",
			    NULL);
	toolchain_file_case(dir, "rust-toolchain", "a\nb\n", NULL);
	rmdir(dir);

	ok(pipeline_toolchain_listed(list, "stable"), "stable is listed");
	ok(pipeline_toolchain_listed(list, "stable-x86_64-unknown-linux-gnu"), "full name listed");
	ok(pipeline_toolchain_listed(list, "1.80.0"), "1.80.0 is listed");
	ok(pipeline_toolchain_listed(list, "nightly-2024-05-01"), "a dated nightly is listed");
	ok(!pipeline_toolchain_listed(list, "nightly"), "plain nightly is not (only a dated one)");
	ok(!pipeline_toolchain_listed(list, "1.80"), "1.80 is not 1.80.0");
	ok(!pipeline_toolchain_listed(list, "beta"), "beta is not listed");
	ok(pipeline_toolchain_listed(list, "mylocal"), "a custom toolchain is listed");
	ok(!pipeline_toolchain_listed("", "stable"), "an empty list lists nothing");
}

static void test_commands(void)
{
	const char *args[] = { "--release" };
	const char *words[] = { "sh", "-c", "echo $X; exit 7" };
	const char *line1[] = { "ls | wc -l" };
	const char *none[] = { NULL };
	struct pipeline_cmd c = { 0 };
	char *cmd;

	c.verb = "build";
	c.args = args;
	c.nargs = 1;
	c.project_hash = "abcdef0123456789";
	c.byo = true;
	cmd = pipeline_remote_command(&c);
	ok(strstr(cmd, "export CARGO_TARGET_DIR=\"$HOME\"/.cache/cargo-burst/abcdef0123456789/target;") != NULL,
	   "BYO: CARGO_TARGET_DIR under $HOME");
	ok(strstr(cmd, "cd \"$HOME\"/.cache/cargo-burst/abcdef0123456789/src || exit 76") != NULL,
	   "BYO: cd into the home-relative source dir");
	ok(!strstr(cmd, "/mnt/cache") && !strstr(cmd, "/root/burst"), "BYO: no volume paths");
	ok(strstr(cmd, "v=$(rustc -V 2>/dev/null) && echo \"" PIPELINE_RUSTC_MARKER "$v\" >&2;") != NULL,
	   "the wrapper reports rustc -V on stderr");
	ok(strstr(cmd, "} & burst_rv=$!; ") != NULL &&
	   strstr(cmd, "; burst_rc=$?; wait $burst_rv 2>/dev/null; ") &&
	   has_suffix(cmd, "; exit $burst_rc"),
	   "... in the background, waited for before the session ends, cargo's status kept");
	ok(!strstr(cmd, "rustup toolchain install"), "no install unless asked");
	ok(!strstr(cmd, PIPELINE_DF_MARKER), "BYO: no volume, no df");
	free(cmd);

	c.byo = false;
	c.toolchain = "nightly";
	c.install_toolchain = true;
	c.cache_stats = true;
	cmd = pipeline_remote_command(&c);
	ok(strstr(cmd, "export CARGO_TARGET_DIR=/mnt/cache/abcdef0123456789/target;") != NULL,
	   "Hetzner: CARGO_TARGET_DIR on the volume");
	ok(strstr(cmd, "rustup toolchain install nightly >&2 || exit $?; ") != NULL,
	   "a missing toolchain is installed first");
	ok(strstr(cmd, "rustc +nightly -V") != NULL, "rustc -V of the selected toolchain");
	ok(strstr(cmd, "install nightly") < strstr(cmd, "cargo +nightly build"),
	   "... before cargo");
	{
		const char *before = strstr(cmd, "timeout 5 sccache --show-stats --stats-format=json");
		const char *cargo = strstr(cmd, "cargo +nightly build");
		const char *after = cargo ? strstr(cargo, PIPELINE_SCCACHE_AFTER_MARKER) : NULL;

		ok(before && cargo && before < cargo && strstr(before, "& burst_sv=$!") &&
		   strstr(before, "& burst_sv=$!") < cargo,
		   "sccache's stats before cargo, in the background (bounded)");
		ok(after && strstr(after, "timeout 5 sccache --show-stats --stats-format=json") &&
		   strstr(after, "head -c 32768"), "and after it, bounded in time and size");
		ok(strstr(cmd, PIPELINE_DF_MARKER "' \"$(timeout 3 df -Pk /mnt/cache/abcdef0123456789 ") &&
		   has_suffix(cmd, "; exit $burst_rc"), "the volume's df, then cargo's status");
	}
	free(cmd);
	c.cache_stats = false;
	cmd = pipeline_remote_command(&c);
	ok(!strstr(cmd, "sccache --show-stats") && !strstr(cmd, PIPELINE_DF_MARKER),
	   "only the commands that read them ask for the stats and the df");
	free(cmd);

	c.toolchain = NULL;
	c.install_toolchain = false;
	c.verb = "ssh";
	c.shell = words;
	c.nshell = 3;
	cmd = pipeline_remote_command(&c);
	ok(has_suffix(cmd, "sh -c 'echo $X; exit 7'"), "ssh: the words quoted, at the end");
	ok(!strstr(cmd, "cargo ssh") && !strstr(cmd, "rustc -V"), "ssh: no cargo, no rustc -V");
	free(cmd);
	c.shell = line1;
	c.nshell = 1;
	c.toolchain = "beta";
	cmd = pipeline_remote_command(&c);
	ok(has_suffix(cmd, "; ls | wc -l"), "ssh: one word is a command line");
	ok(strstr(cmd, "export 'RUSTUP_TOOLCHAIN=beta'") != NULL, "ssh: +TOOLCHAIN as RUSTUP_TOOLCHAIN");
	free(cmd);
	c.shell = none;
	c.nshell = 0;
	cmd = pipeline_remote_command(&c);
	ok(has_suffix(cmd, "exec \"${SHELL:-/bin/sh}\" -i"), "ssh: no command is a shell");
	free(cmd);
}

static void test_summary(void)
{
	struct pipeline_summary s = { 0 };
	struct strbuf sb = STRBUF_INIT;

	s.verb = "build";
	s.success = true;
	s.host = "me@box:2222";
	s.rustc = "rustc 1.80.0 (051478957 2024-07-21)";
	pipeline_summary_format(&sb, &s);
	ok(strstr(sb.buf, "; on me@box:2222; rustc 1.80.0 (051478957 2024-07-21)") != NULL,
	   "the summary names the host and the remote rustc (%s)", sb.buf);
	strbuf_reset(&sb);
	s.host = NULL;
	s.rustc = NULL;
	pipeline_summary_format(&sb, &s);
	ok(!strstr(sb.buf, " on ") && !strstr(sb.buf, "rustc"), "and not when unknown");
	strbuf_release(&sb);
}

/* status's last BYO run: local time, like the run summary */
static void test_last_run_local_time(void)
{
	char tmpl[] = "/tmp/burst-byo-XXXXXX";
	char *dir = mkdtemp(tmpl), *cet, *utc;

	if (!dir) {
		ok(0, "mkdtemp");
		return;
	}
	pipeline_byo_record(dir, "me@box", "build", 0, 1200);
	setenv("TZ", "CET-1", 1);
	tzset();
	cet = pipeline_byo_last_run(dir, "me@box");
	setenv("TZ", "UTC0", 1);
	tzset();
	utc = pipeline_byo_last_run(dir, "me@box");
	unsetenv("TZ");
	tzset();
	ok(cet && strstr(cet, "build ok ") && strstr(cet, " CET in 1.2s"),
	   "the last BYO run in local time (TZ=CET-1): %s", cet ? cet : "(null)");
	ok(utc && strstr(utc, " UTC in 1.2s"), "TZ=UTC0: in UTC (%s)", utc ? utc : "(null)");
	free(cet);
	free(utc);
	{
		char *cmd = xstrfmt("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			diag("cannot remove %s", dir);
		free(cmd);
	}
}

int main(void)
{
	test_last_run_local_time();
	test_hosts();
	test_forwards();
	test_port_check();
	test_toolchain();
	test_commands();
	test_summary();
	return done_testing();
}

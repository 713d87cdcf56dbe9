/*
 * test-hcloud-lazy.c - libcurl is loaded by the first API request, not by
 * linking or by creating a client (src/hcloud/curl-load.c): a process that
 * never sends a request never maps libcurl.  Also the error when libcurl
 * cannot be loaded.  No server needed: the requests go to a closed
 * loopback port.  (That requests work is the hcloud-api suite's job.)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/error.h"
#include "burst/hcloud.h"
#include "burst/strbuf.h"
#include "tap.h"

#include "../../src/hcloud/hcloud-internal.h"

/* Is a file whose name contains "libcurl" mapped into this process? */
static int curl_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "libcurl"))
			found = 1;
	fclose(f);
	return found;
}

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static struct hcloud *client(int port, struct burst_error *err)
{
	struct hcloud_retry_policy once = { 1, 0, 0, 0, 0 };
	char *url = xstrfmt("http://127.0.0.1:%d/v1", port);
	struct hcloud *c = hcloud_new(url, "lazy-test-token-1234", err);

	free(url);
	if (c) {
		hcloud_set_retry(c, &once);
		hcloud_set_timeouts(c, 2000, 5000);
	}
	return c;
}

/*
 * In a child (before anything loaded libcurl): with a library name that
 * does not exist, the first request fails with a clear error.  Exit status
 * 0 when everything held, else the number of the check that failed.
 */
static int child_missing_library(int port)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_servers l = { 0 };
	struct hcloud *c;
	int rc;

	hc_curl_set_library("libcurl-burst-test-missing.so.4");
	c = client(port, &err);
	if (!c)
		return 1;
	rc = hcloud_servers_list(c, NULL, NULL, &l, &err);
	if (rc != -1)
		return 2;
	if (err.exit_code != BURST_EXIT_INTERNAL)
		return 3;
	if (!err.message ||
	    !strstr(err.message, "cannot load libcurl (libcurl-burst-test-missing.so.4): "))
		return 4;
	if (!err.hint || !strstr(err.hint, "libcurl4"))
		return 5;
	printf("# child: %s (hint: %s)\n", err.message, err.hint);
	fflush(stdout);
	/* the failure is final and every later request says the same */
	burst_error_release(&err);
	if (hcloud_servers_list(c, NULL, NULL, &l, &err) != -1 || !err.message ||
	    !strstr(err.message, "cannot load libcurl"))
		return 6;
	if (curl_mapped() != 0)
		return 7;
	burst_error_release(&err);
	hcloud_servers_release(&l);
	hcloud_free(c);
	return 0;
}

/*
 * The DT_NEEDED entries of an ELF file (readelf -d): 1 when one names
 * libcurl, 0 when none does (and libc is there, so the listing was read),
 * -1 when it could not be read.
 */
static int needs_libcurl(const char *path)
{
	char *cmd = xstrfmt("readelf -d '%s' 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	char line[1024];
	int curl = 0, libc = 0;

	free(cmd);
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		if (!strstr(line, "(NEEDED)"))
			continue;
		if (strstr(line, "libcurl"))
			curl = 1;
		if (strstr(line, "[libc.so"))
			libc = 1;
	}
	if (pclose(p) != 0 || !libc)
		return -1;
	return curl;
}

int main(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_servers l = { 0 };
	struct hcloud_stats stats;
	struct hcloud *c;
	int port = closed_port(), status = 0;
	pid_t pid;

	plan_lazy();
	if (port <= 0)
		bail_out("no loopback port");

	if (getenv("CARGO_BURST"))
		is_int(needs_libcurl(getenv("CARGO_BURST")), 0,
		       "cargo-burst is not linked against libcurl (readelf -d: no NEEDED libcurl)");
	else
		ok(1, "# SKIP CARGO_BURST is not set (run through meson)");
	is_int(needs_libcurl("/proc/self/exe"), 0,
	       "neither is a program linking libburst");
	is_int(curl_mapped(), 0, "libcurl is not mapped at start");

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(child_missing_library(port));
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status),
	   "the missing-library child ran");
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
	       "a libcurl that cannot be loaded fails the request with BURST_EXIT_INTERNAL, "
	       "\"cannot load libcurl (<name>): <dlerror>\" and a libcurl4 hint");

	c = client(port, &err);
	ok(c != NULL, "hcloud_new works without libcurl");
	is_int(curl_mapped(), 0, "creating a client does not load libcurl");
	ok(!hc_curl_loaded(), "hc_curl_loaded() agrees");
	if (!c)
		return done_testing();

	is_int(hcloud_servers_list(c, NULL, NULL, &l, &err), -1,
	       "a request to a closed port fails");
	ok(err.message && strstr(err.message, "cannot talk to 127.0.0.1"),
	   "with libcurl's connect error: %s", err.message ? err.message : "(none)");
	is_int(err.exit_code, BURST_EXIT_API, "as an API error");
	ok(!err.message || !strstr(err.message, "lazy-test-token"), "the token is not in it");
	hcloud_get_stats(c, &stats);
	is_int((int)stats.requests, 1, "one request was sent");
	is_int(curl_mapped(), 1, "the first request loaded libcurl");
	ok(hc_curl_loaded(), "hc_curl_loaded() agrees");
	burst_error_release(&err);

	/* a second client shares the loaded library */
	hcloud_free(c);
	c = client(port, &err);
	ok(c && hcloud_servers_list(c, NULL, NULL, &l, &err) == -1 && err.message &&
	   strstr(err.message, "cannot talk to"), "a second client works the same");
	burst_error_release(&err);
	hcloud_servers_release(&l);
	hcloud_free(c);
	/* freeing a client that never sent anything */
	c = client(port, &err);
	ok(c != NULL, "a client that never sent a request is made");
	hcloud_free(c); /* and freed: the sanitized build checks that this leaks nothing */
	return done_testing();
}

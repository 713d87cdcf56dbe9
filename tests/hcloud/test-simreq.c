/*
 * test-simreq.c - the C tests' requests to the simulator (tests/simreq.h)
 * stay on a loopback address, bound the size of an answer, say why a
 * request failed and never print the token.  Each case is a child process
 * with its own environment, its TAP output read back by the parent; the
 * "simulator" is a small HTTP server of this test on 127.0.0.1 with canned
 * answers (no simulator needed, no root).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/strbuf.h"
#include "simreq.h"
#include "tap.h"

#define TOKEN "tok-secret-4711"

static int port;

/* One connection: .../big answers more than SIMREQ_MAX_ANSWER bytes,
 * .../refuse a 400, anything else 200 with the request's head as the body. */
static void serve_one(int c)
{
	char head[8192];
	size_t len = 0;
	FILE *f;

	while (len < sizeof(head) - 1) {
		ssize_t n = read(c, head + len, sizeof(head) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		head[len] = '\0';
		if (strstr(head, "\r\n\r\n"))
			break;
	}
	head[len] = '\0';
	f = fdopen(c, "w");
	if (!f) {
		close(c);
		return;
	}
	if (strstr(head, "/big ")) {
		static char chunk[65536];
		size_t total = SIMREQ_MAX_ANSWER + 2 * sizeof(chunk);

		memset(chunk, 'x', sizeof(chunk));
		fprintf(f, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			total);
		for (size_t sent = 0; sent < total; sent += sizeof(chunk))
			if (fwrite(chunk, 1, sizeof(chunk), f) != sizeof(chunk))
				break; /* the client gave up */
	} else if (strstr(head, "/refuse ")) {
		fprintf(f, "HTTP/1.1 400 Bad Request\r\nContent-Length: 13\r\n"
			"Connection: close\r\n\r\nno such fault");
	} else {
		fprintf(f, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			len, head);
	}
	fclose(f);
}

/* The server on 127.0.0.1:port, a child that dies with this process. */
static pid_t start_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 8) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &alen) < 0)
		bail_out("cannot listen on 127.0.0.1");
	port = ntohs(a.sin_port);
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_IGN);
		for (;;) {
			int c = accept(s, NULL, NULL);

			if (c >= 0)
				serve_one(c);
		}
	}
	close(s);
	return pid;
}

/* A port on 127.0.0.1 nothing listens on (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), p;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &alen) < 0)
		bail_out("cannot bind on 127.0.0.1");
	p = ntohs(a.sin_port);
	close(s);
	return p;
}

enum what { OPEN_ONLY, CALL, API };

/*
 * Run sim_open() and then (unless OPEN_ONLY) one GET of path in a child
 * with that environment (NULL: unset); its stdout into *out, its exit
 * status returned (-1: did not exit, e.g. killed by its alarm after a
 * generous minute).  The child prints "answer: ..." a line of the answer
 * and "done" when nothing bailed out.
 */
static int run(const char *endpoint, const char *base, enum what what, const char *path,
	       struct strbuf *out)
{
	int fds[2], status = 0;
	pid_t pid;
	char buf[4096];
	size_t n;
	FILE *f;

	strbuf_reset(out);
	strbuf_set_max(out, 1 << 20);
	fflush(stdout);
	if (pipe(fds) < 0 || (pid = fork()) < 0)
		bail_out("pipe/fork");
	if (pid == 0) {
		char *answer, *save = NULL;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm((unsigned)(tap_scaled_ms(60000) / 1000));
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (endpoint)
			setenv("HCLOUD_ENDPOINT", endpoint, 1);
		else
			unsetenv("HCLOUD_ENDPOINT");
		setenv("HCLOUD_TOKEN", TOKEN, 1);
		if (base)
			setenv("BURST_SIM_BASE", base, 1);
		else
			unsetenv("BURST_SIM_BASE");
		sim_open();
		if (what != OPEN_ONLY) {
			answer = what == API ? sim_api("GET", path, NULL)
					     : sim_call("GET", path, NULL);
			for (char *l = strtok_r(answer, "\r\n", &save); l;
			     l = strtok_r(NULL, "\r\n", &save))
				printf("answer: %s\n", l);
			free(answer);
		}
		sim_close();
		printf("done\n");
		fflush(stdout);
		_exit(0);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f)
		bail_out("fdopen");
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(out, buf, n); /* beyond its max: dropped */
	fclose(f);
	if (waitpid(pid, &status, 0) < 0)
		bail_out("waitpid");
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Does out hold s?  If not, show (the start of) out. */
static int has(const struct strbuf *out, const char *s)
{
	if (strstr(out->buf, s))
		return 1;
	diag("no '%s' in:\n%.2000s%s", s, out->buf, out->len > 2000 ? "..." : "");
	return 0;
}

int main(void)
{
	struct strbuf out = STRBUF_INIT;
	pid_t server = start_server();
	char *base = xstrfmt("http://127.0.0.1:%d", port);
	char *endpoint = xstrfmt("http://127.0.0.1:%d/v1", port);
	char *closed = xstrfmt("http://127.0.0.1:%d", closed_port());
	int rc;

	plan(21);

	rc = run(endpoint, NULL, OPEN_ONLY, NULL, &out);
	is_int(rc, 0, "no BURST_SIM_BASE: the test is skipped (exit 0)");
	ok(has(&out, "1..0 # SKIP ") && !strstr(out.buf, "done"), "... with a skip plan");

	/* never contacted: sim_open refuses before any request */
	rc = run(endpoint, "http://10.1.2.3:9", OPEN_ONLY, NULL, &out);
	is_int(rc, 1, "BURST_SIM_BASE on 10.1.2.3: bails out");
	ok(has(&out, "Bail out!") && has(&out, "BURST_SIM_BASE 'http://10.1.2.3:9'") &&
	   has(&out, "not on a 127.0.0.0/8 address"), "... naming the variable, its URL and why");
	rc = run("http://localhost:1/v1", base, OPEN_ONLY, NULL, &out);
	is_int(rc, 1, "HCLOUD_ENDPOINT on a host name: bails out");
	ok(has(&out, "HCLOUD_ENDPOINT") && has(&out, "not on a 127.0.0.0/8 address"),
	   "... an address is needed");
	rc = run("https://127.0.0.1:1/v1", base, OPEN_ONLY, NULL, &out);
	is_int(rc, 1, "an https:// endpoint: bails out");
	ok(has(&out, "not http://"), "... not http://");
	rc = run(endpoint, "127.0.0.1", OPEN_ONLY, NULL, &out);
	is_int(rc, 1, "a base that is no URL: bails out");

	rc = run(endpoint, base, CALL, "/_sim/requests", &out);
	is_int(rc, 0, "a control request answered");
	ok(has(&out, "answer: GET /_sim/requests HTTP/1.1") && has(&out, "done"),
	   "... to the control API, the answer returned");
	ok(!strstr(out.buf, TOKEN), "... without the token");
	rc = run(endpoint, base, API, "/servers", &out);
	is_int(rc, 0, "a /v1 request answered");
	ok(has(&out, "answer: GET /v1/servers HTTP/1.1") &&
	   has(&out, "answer: Authorization: Bearer " TOKEN), "... to /v1 with the token");

	rc = run(endpoint, base, API, "/refuse", &out);
	is_int(rc, 1, "a 400: bails out");
	ok(has(&out, "# simulator: GET /refuse -> 400: no such fault") &&
	   has(&out, "Bail out! simulator request refused"),
	   "... with the method, the path, the status and the answer");
	ok(!strstr(out.buf, TOKEN), "... never the token");

	rc = run(endpoint, base, CALL, "/big", &out);
	is_int(rc, 1, "an answer larger than SIMREQ_MAX_ANSWER: bails out");
	ok(has(&out, "GET /big: the answer is larger than") &&
	   has(&out, "Bail out! simulator answer too large"), "... saying so");

	rc = run(endpoint, closed, CALL, "/_sim/requests", &out);
	is_int(rc, 1, "nothing listening: bails out");
	ok(has(&out, closed) && has(&out, "/_sim/requests") && has(&out, "(curl error 7)") &&
	   has(&out, "Bail out! simulator request failed"),
	   "... with the URL and curl's reason");

	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	strbuf_release(&out);
	free(base);
	free(endpoint);
	free(closed);
	return done_testing();
}

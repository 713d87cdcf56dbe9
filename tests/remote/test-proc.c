/*
 * test-proc.c - the proc module: streams, line splitting, capture caps,
 * exit statuses and signals, concurrency, timeouts, exec errors, interrupt
 * forwarding, detached workers and pid liveness.  No root needed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/log.h"
#include "burst/proc.h"
#include "burst/strbuf.h"
#include "tap.h"

static char tmpdir[] = "/tmp/burst-proc-XXXXXX";

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
}

static void on_alarm(int sig)
{
	(void)sig;
	printf("Bail out! timeout\n");
	fflush(stdout);
	cleanup();
	_exit(1);
}

struct lines {
	struct strbuf all; /* "flags:line\n" per line */
	int n;
};

static void collect(const char *line, size_t len, unsigned flags, void *data)
{
	struct lines *l = data;

	if (line[len] != '\0')
		strbuf_addstr(&l->all, "NOT-NUL-TERMINATED");
	strbuf_addf(&l->all, "%u:%s\n", flags, line);
	l->n++;
}

static void sh(struct child_process *cp, const char *script)
{
	strvec_push(&cp->args, "/bin/sh");
	strvec_push(&cp->args, "-c");
	strvec_push(&cp->args, script);
}

struct two_streams {
	struct lines out, err;
};

static void collect_out(const char *line, size_t len, unsigned flags, void *data)
{
	collect(line, len, flags, &((struct two_streams *)data)->out);
}

static void collect_err(const char *line, size_t len, unsigned flags, void *data)
{
	collect(line, len, flags, &((struct two_streams *)data)->err);
}

static void test_lines(void)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	struct two_streams ts = { { STRBUF_INIT, 0 }, { STRBUF_INIT, 0 } };

	sh(&cp, "printf 'a\\nb\\r\\nc\\rd\\r\\re\\n\\nf\\r'; sleep 0.1; printf '\\nh\\r\\r\\nj\\r\\n\\ng'; "
		"printf 'err1\\nerr2' >&2");
	cp.out = PROC_IO_LINES;
	cp.err = PROC_IO_LINES;
	cp.out_line = collect_out;
	cp.err_line = collect_err;
	cp.cb_data = &ts;
	ok(proc_run(&cp, &err) == 0, "line child ran");
	child_process_release(&cp);
	/*
	 * a\n -> a; b\r\n -> b; c\r -> c (progress); d\r\r -> d (progress), the
	 * empty segment dropped; e\n; \n -> empty line; f\r then (later chunk)
	 * \n is swallowed; g without terminator is partial.  Each stream is
	 * collected on its own: how stdout and stderr lines interleave depends
	 * on the scheduler, only the order within a stream is guaranteed.
	 */
	{
		const char *want_out[] = { "0:a", "0:b", "1:c", "1:d", "0:e", "0:", "1:f", "1:h", "0:j", "0:", "2:g" };
		struct strbuf w = STRBUF_INIT;

		for (size_t i = 0; i < ARRAY_SIZE(want_out); i++)
			strbuf_addf(&w, "%s\n", want_out[i]);
		is_str(ts.out.all.buf, w.buf, "stdout lines split on \\n, \\r\\n and \\r without artifacts");
		strbuf_release(&w);
	}
	is_str(ts.err.all.buf, "0:err1\n2:err2\n", "stderr lines and final partial line");
	strbuf_release(&ts.out.all);
	strbuf_release(&ts.err.all);

	/* Order over many lines. */
	{
		struct lines l = { STRBUF_INIT, 0 };
		struct strbuf want = STRBUF_INIT;

		sh(&cp, "i=1; while [ $i -le 3000 ]; do echo $i; i=$((i+1)); done");
		cp.out = PROC_IO_LINES;
		cp.out_line = collect;
		cp.cb_data = &l;
		proc_run(&cp, &err);
		for (int i = 1; i <= 3000; i++)
			strbuf_addf(&want, "0:%d\n", i);
		ok(l.n == 3000 && !strcmp(l.all.buf, want.buf), "3000 lines arrive complete and in order");
		strbuf_release(&want);
		strbuf_release(&l.all);
		child_process_release(&cp);
	}
	burst_error_release(&err);
}

static void test_capture_and_stdin(void)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	static const char input[] = "hello\0world";

	strvec_push(&cp.args, "cat");
	cp.in = PROC_IO_BUFFER;
	cp.in_buf = input;
	cp.in_len = sizeof(input) - 1;
	cp.out = PROC_IO_CAPTURE;
	ok(proc_run(&cp, &err) == 0 && cp.exit_code == 0, "cat ran");
	ok(cp.out_buf.len == sizeof(input) - 1 && !memcmp(cp.out_buf.buf, input, cp.out_buf.len),
	   "stdin buffer (with a NUL) captured back byte for byte");
	child_process_release(&cp);

	sh(&cp, "head -c 100000 /dev/zero");
	cp.out = PROC_IO_CAPTURE;
	cp.capture_max = 1000;
	ok(proc_run(&cp, &err) == 0 && cp.exit_code == 0, "big output ran to the end");
	ok(cp.out_buf.len == 1000 && cp.out_buf.overflow, "capture capped at 1000 bytes, overflow set (len %zu)", cp.out_buf.len);
	child_process_release(&cp);

	sh(&cp, "printf '%s|%s|%s' \"$BURST_T1\" \"${BURST_T2-unset}\" \"$PWD\"");
	strvec_push(&cp.env, "BURST_T1=one two");
	strvec_push(&cp.env, "BURST_T2");
	cp.dir = "/";
	cp.out = PROC_IO_CAPTURE;
	setenv("BURST_T2", "inherited", 1);
	proc_run(&cp, &err);
	is_str(cp.out_buf.buf, "one two|unset|/", "env override, unset and dir");
	child_process_release(&cp);
	burst_error_release(&err);
}

static void test_status(void)
{
	static const int codes[] = { 0, 1, 101 };
	struct burst_error err = BURST_ERROR_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		struct child_process cp = CHILD_PROCESS_INIT;
		char s[32];

		snprintf(s, sizeof(s), "exit %d", codes[i]);
		sh(&cp, s);
		proc_run(&cp, &err);
		ok(cp.exit_code == codes[i] && cp.term_signal == 0 && proc_status_code(&cp) == codes[i],
		   "exit status %d passes through", codes[i]);
		child_process_release(&cp);
	}
	{
		struct child_process cp = CHILD_PROCESS_INIT;

		sh(&cp, "kill -TERM $$");
		proc_run(&cp, &err);
		ok(cp.exit_code == -1 && cp.term_signal == SIGTERM &&
		   proc_status_code(&cp) == 128 + SIGTERM, "killed by SIGTERM recorded separately");
		child_process_release(&cp);
	}
	{
		struct child_process cp = CHILD_PROCESS_INIT;
		uint64_t t0 = burst_now_ms();

		sh(&cp, "sleep 30; exit 0");
		cp.own_session = true; /* the timeout then kills sleep too */
		cp.timeout_ms = 300;
		proc_run(&cp, &err);
		ok(cp.timed_out && cp.term_signal == SIGTERM && burst_now_ms() - t0 < 30000,
		   "timeout kills with SIGTERM (before the child's own end)");
		child_process_release(&cp);
	}
	{
		struct child_process cp = CHILD_PROCESS_INIT;
		uint64_t t0 = burst_now_ms();

		sh(&cp, "trap '' TERM; sleep 30; exit 0");
		cp.own_session = true;
		cp.timeout_ms = 200;
		cp.kill_grace_ms = 300;
		proc_run(&cp, &err);
		ok(cp.timed_out && cp.term_signal == SIGKILL && burst_now_ms() - t0 < 30000,
		   "a child ignoring SIGTERM gets SIGKILL after the grace period");
		child_process_release(&cp);
	}
	{
		struct child_process cp = CHILD_PROCESS_INIT;

		strvec_push(&cp.args, "no-such-program-burst");
		setenv("PATH", "/usr/bin:/bin", 1);
		ok(proc_run(&cp, &err) < 0, "missing program fails to start");
		ok(err.message && strstr(err.message, "no-such-program-burst") &&
		   strstr(err.message, "not found") && strstr(err.message, "PATH=/usr/bin:/bin"),
		   "error names the program and PATH: %s", err.message ? err.message : "");
		burst_error_release(&err);
		child_process_release(&cp);
	}
	burst_error_release(&err);
}

static void test_concurrency(void)
{
	struct child_process a = CHILD_PROCESS_INIT, b = CHILD_PROCESS_INIT, c = CHILD_PROCESS_INIT;
	struct child_process *all[] = { &a, &b };
	struct child_process *bad[] = { &a, &c };
	struct burst_error err = BURST_ERROR_INIT;
	uint64_t t0;
	char *script;

	/*
	 * A rendezvous instead of a stopwatch: each child announces itself and
	 * waits (30 s at most, then exits 9) for the other, so only children
	 * that run at the same time both finish normally.
	 */
	script = xstrfmt("touch '%s/a'; i=0; while [ ! -e '%s/b' ]; do i=$((i+1)); "
			 "[ $i -gt 3000 ] && exit 9; sleep 0.01; done; echo a", tmpdir, tmpdir);
	sh(&a, script);
	free(script);
	script = xstrfmt("touch '%s/b'; i=0; while [ ! -e '%s/a' ]; do i=$((i+1)); "
			 "[ $i -gt 3000 ] && exit 9; sleep 0.01; done; exit 3", tmpdir, tmpdir);
	sh(&b, script);
	free(script);
	a.out = PROC_IO_CAPTURE;
	ok(proc_run_all(all, 2, &err) == 0, "two children ran");
	ok(a.exit_code == 0 && b.exit_code == 3, "they ran at the same time (each saw the other: %d, %d)",
	   a.exit_code, b.exit_code);
	ok(!strcmp(a.out_buf.buf, "a\n") && b.exit_code == 3, "each child's result recorded");
	child_process_release(&a);
	child_process_release(&b);

	sh(&a, "exec sleep 30");
	a.out = PROC_IO_NULL;
	a.err = PROC_IO_NULL;
	strvec_push(&c.args, "/nonexistent/prog");
	t0 = burst_now_ms();
	ok(proc_run_all(bad, 2, &err) < 0 && burst_now_ms() - t0 < 30000,
	   "a group with an unstartable child fails and kills the others (before their own end)");
	child_process_release(&a);
	child_process_release(&c);
	burst_error_release(&err);
}

static int interrupt_calls;

static void on_int(struct child_process *cp, int signo, int count, void *data)
{
	(void)data;
	(void)count;
	interrupt_calls++;
	kill(cp->pid, SIGUSR1);
	(void)signo;
}

static void test_interrupt(void)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	struct sigaction old, now;

	proc_clear_interrupted();
	/* The child asks us to be interrupted; we forward SIGINT to it. */
	sh(&cp, "trap 'exit 42' INT; kill -INT $PPID; i=0; while [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; exit 1");
	proc_run(&cp, &err);
	ok(proc_interrupted() == SIGINT, "SIGINT to the tool is recorded");
	is_int(cp.exit_code, 42, "and forwarded to the child");
	child_process_release(&cp);
	sigaction(SIGINT, NULL, &now);
	ok(now.sa_handler == SIG_DFL, "previous SIGINT disposition restored after the run");

	proc_clear_interrupted();
	sh(&cp, "trap 'exit 43' USR1; trap 'exit 44' INT; kill -TERM $PPID; i=0; while [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; exit 1");
	cp.on_interrupt = on_int;
	cp.own_session = true;
	proc_run(&cp, &err);
	ok(proc_interrupted() == SIGTERM && interrupt_calls == 1 && cp.exit_code == 43,
	   "on_interrupt replaces forwarding (calls %d, status %d)", interrupt_calls, cp.exit_code);
	child_process_release(&cp);
	proc_clear_interrupted();

	/* Between runs with proc_catch_signals(true): recorded, not fatal, not forwarded later. */
	proc_catch_signals(true);
	raise(SIGINT);
	ok(proc_interrupted() == SIGINT, "SIGINT between runs recorded while catching");
	interrupt_calls = 0;
	sh(&cp, "exit 5");
	cp.on_interrupt = on_int;
	proc_run(&cp, &err);
	ok(cp.exit_code == 5 && interrupt_calls == 0, "an old interrupt is not replayed to a new child");
	child_process_release(&cp);
	proc_catch_signals(false);
	sigaction(SIGINT, NULL, &now);
	ok(now.sa_handler == SIG_DFL, "catching off restores the disposition");
	proc_clear_interrupted();
	sigaction(SIGPIPE, NULL, &old);
	ok(old.sa_handler == SIG_IGN, "SIGPIPE ignored");
	burst_error_release(&err);
}

static void test_detached(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	char *log = NULL, *out = NULL;
	const char *argv[] = { "sh", "-c",
		"echo \"sid=$(ps -o sid= -p $$ | tr -d ' ') pid=$$ ppid=$PPID v=$BURST_DETACH_V\"; "
		"ls -l /proc/$$/fd; sleep 1", NULL };
	const char *env[] = { "BURST_DETACH_V=42", NULL };
	pid_t pid = 0;
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	uint64_t st0;

	log = xstrfmt("%s/worker.log", tmpdir);
	{
		int r = proc_spawn_detached(argv, env, log, &pid, &err);

		ok(r == 0 && pid > 0, "detached worker started (pid %d)", (int)pid);
	}
	st0 = pid_start_time(pid);
	ok(st0 > 0 && pid_alive(pid, st0), "worker alive with a start time");
	ok(!pid_alive(pid, st0 + 1), "a different start time counts as dead");
	for (int i = 0; i < 600 && pid_alive(pid, 0); i++) /* 30 s at most */
		usleep(50000);
	ok(!pid_alive(pid, st0), "worker gone after it exits");
	strbuf_read_file(&sb, log);
	out = xstrfmt("sid=%d pid=%d ", (int)getsid(0), (int)pid);
	ok(strstr(sb.buf, "sid=") && !strstr(sb.buf, out) && strstr(sb.buf, "sid=0 ") == NULL,
	   "worker runs in another session, stdout in the log");
	free(out);
	out = xstrfmt(" pid=%d ", (int)pid);
	ok(strstr(sb.buf, out) != NULL, "the pid returned is the worker's");
	free(out);
	out = xstrfmt("ppid=%d ", (int)getpid());
	ok(!strstr(sb.buf, out), "worker's parent is not us");
	ok(strstr(sb.buf, "v=42\n") != NULL, "env override reached the worker");
	/* stdin, stdout, stderr and the fd listing's own descriptor */
	{
		int links = 0;

		for (const char *q = sb.buf; (q = strstr(q, " -> ")); q++)
			links++;
		if (!ok(links == 3 && strstr(sb.buf, " 0 -> /dev/null\n") &&
			strstr(sb.buf, " 1 -> /tmp/") && strstr(sb.buf, " 2 -> /tmp/"),
			"only stdin (/dev/null), stdout and stderr (the log) are open in the worker"))
			diag("%s", sb.buf);
	}
	ok(stat(log, &st) == 0 && (st.st_mode & 0777) == 0600, "log file is 0600");
	free(out);
	strbuf_release(&sb);

	{
		const char *bad[] = { "/nonexistent/burst-worker", NULL };

		int r = proc_spawn_detached(bad, NULL, log, &pid, &err);

		ok(r < 0 && err.message &&
		   strstr(err.message, "/nonexistent/burst-worker"), "exec error reported: %s",
		   err.message ? err.message : "");
		burst_error_release(&err);
	}
	{
		const char *notexec[] = { "/etc/hostname", NULL };

		int r = proc_spawn_detached(notexec, NULL, log, &pid, &err);

		ok(r < 0 && err.message &&
		   strstr(err.message, "exec"), "exec failure in the worker comes back over the pipe: %s",
		   err.message ? err.message : "");
		burst_error_release(&err);
	}
	ok(!pid_alive(999999, 0) && pid_start_time(999999) == 0, "no such pid");
	ok(pid_alive(getpid(), pid_start_time(getpid())), "we are alive");
	free(log);
}

/*
 * Output that arrives after the exit, from a process still holding the
 * pipe (as an ssh ControlMaster writes what its mux client was sent after
 * the client exited): read while drain_ms lasts.
 */
static void test_drain(void)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;

	strvec_push(&cp.args, "sh");
	strvec_push(&cp.args, "-c");
	strvec_push(&cp.args, "(sleep 0.3; echo late) & echo early");
	cp.out = PROC_IO_CAPTURE;
	cp.drain_ms = 3000;
	ok(proc_run(&cp, &err) == 0 && cp.exit_code == 0, "a child that leaves a writer behind");
	ok(strstr(cp.out_buf.buf, "early") && strstr(cp.out_buf.buf, "late"),
	   "drain_ms: the line written 300 ms after the exit is read (got '%s')", cp.out_buf.buf);
	child_process_release(&cp);
	burst_error_release(&err);
}

static void test_trace(void)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf sb = STRBUF_INIT;
	char *log = xstrfmt("%s/trace.log", tmpdir);

	burst_log_to_file(log);
	burst_log_set_level(BURST_LOG_TRACE);
	burst_redact_register("hunter2-secret-token");
	strvec_push(&cp.args, "echo");
	strvec_push(&cp.args, "Bearer hunter2-secret-token");
	strvec_push(&cp.args, "it's");
	strvec_push(&cp.env, "HCLOUD_TOKEN=hunter2-secret-token");
	cp.out = PROC_IO_NULL;
	proc_run(&cp, &err);
	strbuf_read_file(&sb, log);
	ok(strstr(sb.buf, "run: 'HCLOUD_TOKEN=***' echo 'Bearer ***' 'it'\\''s'") != NULL,
	   "BURST_TRACE logs the quoted command line with the secret redacted");
	ok(!strstr(sb.buf, "hunter2"), "the secret never reaches the trace");
	child_process_release(&cp);
	strbuf_release(&sb);
	burst_error_release(&err);
	free(log);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		bail_out("mkdtemp");
	atexit(cleanup);
	signal(SIGALRM, on_alarm);
	alarm(120);
	plan_lazy();
	test_lines();
	test_capture_and_stdin();
	test_status();
	test_concurrency();
	test_interrupt();
	test_detached();
	test_drain();
	test_trace();
	return done_testing();
}

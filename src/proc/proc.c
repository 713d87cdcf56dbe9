/* proc.c - child processes on libuv; see include/burst/proc.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "burst/log.h"
#include "burst/proc.h"

extern char **environ;

/*
 * After a child exited, its pipes may stay open in other processes (an ssh
 * ControlMaster holds the descriptors passed by its mux clients for a while,
 * daemonised grandchildren keep them forever): keep reading until EOF or
 * until nothing arrived for this long.
 */
#define PROC_DRAIN_MS 100

static uint64_t drain_ms(const struct child_process *cp)
{
	return cp->drain_ms ? cp->drain_ms : PROC_DRAIN_MS;
}

/* While children run, the loop notes that the tool is alive this often. */
#define PROC_TICK_MS 5000

/* ---- activity --------------------------------------------------------- */

static atomic_uint_fast64_t last_activity_ms;

void proc_note_activity(void)
{
	atomic_store(&last_activity_ms, (uint_fast64_t)burst_now_ms());
}

uint64_t proc_last_activity_ms(void)
{
	return (uint64_t)atomic_load(&last_activity_ms);
}

void proc_no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	/* the process holds the API token: no core file, no ptrace by others */
	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* ---- signals ---------------------------------------------------------- */

static const int caught_signals[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction saved_actions[ARRAY_SIZE(caught_signals)];
static volatile sig_atomic_t interrupted_sig;
static int interrupt_count;
static int sig_pipe[2] = { -1, -1 };
static int install_depth;
static volatile sig_atomic_t signals_caught;
static bool catch_always;
static bool sigpipe_ignored;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	unsigned char b = (unsigned char)(sig & 0x7f);

	(void)uc;
	if (!interrupted_sig)
		interrupted_sig = sig;
	signals_caught++;
	if (si && si->si_code == SI_KERNEL)
		b |= 0x80;
	if (sig_pipe[1] >= 0) {
		ssize_t r = write(sig_pipe[1], &b, 1);
		(void)r;
	}
	errno = saved;
}

static void proc_setup_once(void)
{
	if (!sigpipe_ignored) {
		signal(SIGPIPE, SIG_IGN);
		sigpipe_ignored = true;
	}
	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		BUG("cannot create the signal pipe: %s", strerror(errno));
}

static void signals_install(void)
{
	struct sigaction sa;

	proc_setup_once();
	if (install_depth++ > 0 || catch_always)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	/*
	 * No SA_RESTART: a blocking call outside the child loop (open, read,
	 * a sleep) returns EINTR so the caller sees proc_interrupted() and
	 * ends; the loop itself (libuv) retries on EINTR.
	 */
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(caught_signals); i++)
		sigaction(caught_signals[i], &sa, &saved_actions[i]);
}

static void signals_restore(void)
{
	if (--install_depth > 0 || catch_always)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(caught_signals); i++)
		sigaction(caught_signals[i], &saved_actions[i], NULL);
}

void proc_catch_signals(bool on)
{
	if (on == catch_always)
		return;
	if (on) {
		signals_install();
		install_depth--;
		catch_always = true;
	} else {
		catch_always = false;
		install_depth++;
		signals_restore();
	}
}

int proc_interrupted(void)
{
	return interrupted_sig;
}

int proc_signals_caught(void)
{
	return signals_caught;
}

void proc_clear_interrupted(void)
{
	interrupted_sig = 0;
	interrupt_count = 0;
}

/* ---- small helpers ---------------------------------------------------- */

void child_process_init(struct child_process *cp)
{
	struct child_process blank = CHILD_PROCESS_INIT;

	*cp = blank;
}

void child_process_release(struct child_process *cp)
{
	if (!cp)
		return;
	strvec_clear(&cp->args);
	strvec_clear(&cp->env);
	strbuf_release(&cp->out_buf);
	strbuf_release(&cp->err_buf);
}

static bool shell_safe_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("_./:@%+,-", c) != NULL;
}

void proc_quote_arg(struct strbuf *out, const char *arg)
{
	const char *p;
	bool safe = *arg != '\0';

	for (p = arg; *p && safe; p++)
		if (!shell_safe_char((unsigned char)*p))
			safe = false;
	if (safe) {
		strbuf_addstr(out, arg);
		return;
	}
	strbuf_addch(out, '\'');
	for (p = arg; *p; p++) {
		if (*p == '\'')
			strbuf_addstr(out, "'\\''");
		else
			strbuf_addch(out, *p);
	}
	strbuf_addch(out, '\'');
}

void proc_quote_argv(struct strbuf *out, const char *const *argv)
{
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strbuf_addch(out, ' ');
		proc_quote_arg(out, argv[i]);
	}
}

const char *proc_ssh_program(void)
{
	const char *p = getenv("CARGO_BURST_SSH");

	return p && *p ? p : "ssh";
}

const char *proc_rsync_program(void)
{
	const char *p = getenv("CARGO_BURST_RSYNC");

	return p && *p ? p : "rsync";
}

int proc_status_code(const struct child_process *cp)
{
	if (cp->term_signal)
		return 128 + cp->term_signal;
	return cp->exit_code;
}

void proc_describe_status(const struct child_process *cp, struct strbuf *out)
{
	if (cp->timed_out)
		strbuf_addf(out, "timed out after %.1fs and was killed (%s)",
			    (double)cp->timeout_ms / 1000.0,
			    cp->term_signal ? strsignal(cp->term_signal) : "exited");
	else if (cp->term_signal)
		strbuf_addf(out, "killed by signal %d (%s)", cp->term_signal,
			    strsignal(cp->term_signal));
	else
		strbuf_addf(out, "exited with status %d", cp->exit_code);
}

/* Build the child's environment: environ (or nothing) plus the overrides. */
static void build_env(const struct child_process *cp, struct strvec *env)
{
	if (!cp->clean_env)
		for (char **e = environ; e && *e; e++)
			strvec_push(env, *e);
	for (size_t i = 0; i < cp->env.nr; i++) {
		const char *kv = cp->env.v[i];
		const char *eq = strchr(kv, '=');

		if (eq) {
			char *name = xstrndup(kv, (size_t)(eq - kv));

			strvec_setenv(env, name, eq + 1);
			free(name);
		} else {
			strvec_setenv(env, kv, NULL);
		}
	}
}

static const char *env_lookup(const struct strvec *env, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < env->nr; i++)
		if (!strncmp(env->v[i], name, n) && env->v[i][n] == '=')
			return env->v[i] + n + 1;
	return NULL;
}

static void trace_command(const struct child_process *cp)
{
	struct strbuf sb = STRBUF_INIT;

	if (!burst_trace_enabled())
		return;
	for (size_t i = 0; i < cp->env.nr; i++) {
		proc_quote_arg(&sb, cp->env.v[i]);
		strbuf_addch(&sb, ' ');
	}
	proc_quote_argv(&sb, (const char *const *)cp->args.v);
	if (cp->dir)
		strbuf_addf(&sb, " (in %s)", cp->dir);
	log_trace("proc", "run: %s", sb.buf);
	strbuf_release(&sb);
}

/* ---- the group runner ------------------------------------------------- */

struct proc_group;
struct proc_child;

struct proc_stream {
	struct proc_child *c;
	uv_pipe_t pipe;
	bool used;   /* the pipe was created */
	bool closed; /* uv_close was called */
	int fd;      /* 1 or 2 */
	enum proc_io mode;
	struct strbuf partial;
	bool pending_cr; /* the partial line ended with '\r' */
	bool after_progress; /* the last line delivered was a '\r' line */
	char readbuf[65536];
};

struct proc_child {
	struct child_process *cp;
	struct proc_group *g;
	uv_process_t proc;
	bool proc_started, proc_closed;
	uv_pipe_t in;
	bool in_used, in_closed;
	uv_write_t wreq;
	struct proc_stream out, err;
	uv_timer_t timer;
	bool timer_closed;
	int kill_stage; /* 0 none, 1 SIGTERM sent, 2 SIGKILL sent */
	bool exited;
	bool finished;
	uint64_t start_ms;
	struct strvec envp;
};

struct proc_group {
	uv_loop_t loop;
	uv_poll_t sigpoll;
	bool sigpoll_closed;
	uv_timer_t tick;
	struct proc_child **children;
	size_t n;
	size_t unfinished;
};

static void maybe_finished(struct proc_child *c);
static void on_timer(uv_timer_t *t);

static void deliver(struct proc_stream *s, const char *line, size_t len, unsigned flags)
{
	struct child_process *cp = s->c->cp;
	proc_line_fn fn = s->fd == 1 ? cp->out_line : cp->err_line;
	char *copy;

	if (!fn)
		return;
	/* line[len] must be NUL; partial.buf is, a raw chunk may not be. */
	copy = xstrndup(line, len);
	fn(copy, len, flags, cp->cb_data);
	free(copy);
}

/*
 * Deliver the pending line.  Empty '\r' segments are dropped, and so is the
 * empty line that a "\n" or "\r\n" right after a progress line would make
 * ("x\r\n" split across reads, "x\r\r\n"): no blank-line artifacts.
 */
static void flush_partial(struct proc_stream *s, unsigned flags)
{
	bool empty = s->partial.len == 0;

	if (empty && (flags & (PROC_LINE_PROGRESS | PROC_LINE_PARTIAL)))
		return;
	if (empty && s->after_progress) {
		s->after_progress = false;
		return;
	}
	deliver(s, s->partial.buf, s->partial.len, flags);
	s->after_progress = (flags & PROC_LINE_PROGRESS) != 0;
	strbuf_reset(&s->partial);
}

static void split_lines(struct proc_stream *s, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = buf[i];

		if (s->pending_cr) {
			s->pending_cr = false;
			if (ch == '\n') {
				flush_partial(s, 0);
				continue;
			}
			flush_partial(s, PROC_LINE_PROGRESS);
		}
		if (ch == '\n') {
			flush_partial(s, 0);
		} else if (ch == '\r') {
			s->pending_cr = true;
		} else {
			strbuf_addch(&s->partial, ch);
			if (s->partial.len >= PROC_LINE_MAX)
				flush_partial(s, PROC_LINE_PARTIAL);
		}
	}
	/* Show progress now instead of waiting for the next chunk. */
	if (s->pending_cr) {
		s->pending_cr = false;
		flush_partial(s, PROC_LINE_PROGRESS);
	}
}

static void capture(struct proc_stream *s, const char *buf, size_t n)
{
	struct strbuf *sb = s->fd == 1 ? &s->c->cp->out_buf : &s->c->cp->err_buf;
	size_t room = sb->max > sb->len ? sb->max - sb->len : 0;

	if (n > room) {
		n = room;
		sb->overflow = true;
	}
	if (n)
		strbuf_add(sb, buf, n);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct proc_stream *s = h->data;

	(void)suggested;
	buf->base = s->readbuf;
	buf->len = sizeof(s->readbuf);
}

static void on_stream_closed(uv_handle_t *h)
{
	struct proc_stream *s = h->data;

	maybe_finished(s->c);
}

static void stream_close(struct proc_stream *s)
{
	if (!s->used || s->closed)
		return;
	s->closed = true;
	if (s->mode == PROC_IO_LINES) {
		if (s->pending_cr)
			flush_partial(s, PROC_LINE_PROGRESS);
		else if (s->partial.len)
			flush_partial(s, PROC_LINE_PARTIAL);
		s->pending_cr = false;
	}
	uv_close((uv_handle_t *)&s->pipe, on_stream_closed);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct proc_stream *s = st->data;

	if (nread > 0) {
		proc_note_activity();
		if (s->c->exited)
			uv_timer_start(&s->c->timer, on_timer, drain_ms(s->c->cp), 0);
		if (s->mode == PROC_IO_LINES)
			split_lines(s, buf->base, (size_t)nread);
		else
			capture(s, buf->base, (size_t)nread);
	} else if (nread < 0) {
		if (nread != UV_EOF)
			log_debug("proc", "read from '%s' fd %d: %s", s->c->cp->args.v[0],
				  s->fd, uv_strerror((int)nread));
		stream_close(s);
	}
}

static void on_in_closed(uv_handle_t *h)
{
	maybe_finished(h->data);
}

static void in_close(struct proc_child *c)
{
	if (!c->in_used || c->in_closed)
		return;
	c->in_closed = true;
	uv_close((uv_handle_t *)&c->in, on_in_closed);
}

static void on_written(uv_write_t *req, int status)
{
	struct proc_child *c = req->data;

	if (status < 0 && status != UV_ECANCELED)
		log_debug("proc", "writing stdin of '%s': %s", c->cp->args.v[0],
			  uv_strerror(status));
	in_close(c);
}

static void on_timer_closed(uv_handle_t *h)
{
	maybe_finished(h->data);
}

static void on_proc_closed(uv_handle_t *h)
{
	maybe_finished(h->data);
}

static void on_timer(uv_timer_t *t)
{
	struct proc_child *c = t->data;
	struct child_process *cp = c->cp;

	if (c->exited) {
		/* Drain period over: something else holds the pipes open. */
		stream_close(&c->out);
		stream_close(&c->err);
		in_close(c);
		return;
	}
	if (c->kill_stage == 0) {
		log_debug("proc", "'%s' (pid %d) timed out, sending SIGTERM",
			  cp->args.v[0], (int)cp->pid);
		cp->timed_out = true;
		c->kill_stage = 1;
		kill(cp->own_session ? -cp->pid : cp->pid, SIGTERM);
		uv_timer_start(&c->timer, on_timer,
			       cp->kill_grace_ms ? cp->kill_grace_ms : 2000, 0);
	} else if (c->kill_stage == 1) {
		c->kill_stage = 2;
		kill(cp->own_session ? -cp->pid : cp->pid, SIGKILL);
	}
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
	struct proc_child *c = p->data;
	struct child_process *cp = c->cp;

	cp->term_signal = term_signal;
	cp->exit_code = term_signal ? -1 : (int)status;
	cp->elapsed_ms = burst_now_ms() - c->start_ms;
	c->exited = true;
	proc_note_activity();
	log_trace("proc", "'%s' (pid %d) done: status %d, signal %d, %llu ms",
		  cp->args.v[0], (int)cp->pid, cp->exit_code, term_signal,
		  (unsigned long long)cp->elapsed_ms);
	c->proc_closed = true;
	uv_close((uv_handle_t *)p, on_proc_closed);
	/* Give the pipes a short while to reach EOF, then stop waiting. */
	uv_timer_stop(&c->timer);
	uv_timer_start(&c->timer, on_timer, drain_ms(cp), 0);
}

static void maybe_finished(struct proc_child *c)
{
	struct proc_group *g = c->g;

	if (c->finished)
		return;
	if (c->proc_started && !c->proc_closed)
		return;
	if (c->proc_started && !uv_is_closing((uv_handle_t *)&c->proc))
		return;
	if ((c->out.used && !c->out.closed) || (c->err.used && !c->err.closed) ||
	    (c->in_used && !c->in_closed))
		return;
	if (!c->timer_closed) {
		c->timer_closed = true;
		uv_close((uv_handle_t *)&c->timer, on_timer_closed);
		return;
	}
	c->finished = true;
	if (--g->unfinished == 0 && !g->sigpoll_closed) {
		g->sigpoll_closed = true;
		uv_close((uv_handle_t *)&g->sigpoll, NULL);
		uv_close((uv_handle_t *)&g->tick, NULL);
	}
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
	proc_note_activity();
}

static void on_sigpoll(uv_poll_t *h, int status, int events)
{
	struct proc_group *g = h->data;
	unsigned char bytes[64];
	ssize_t n;

	(void)status;
	(void)events;
	while ((n = read(sig_pipe[0], bytes, sizeof(bytes))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			int sig = bytes[i] & 0x7f;
			bool from_tty = bytes[i] & 0x80;

			interrupt_count++;
			log_debug("proc", "caught signal %d (%s)", sig, from_tty ? "terminal" : "kill");
			for (size_t k = 0; k < g->n; k++) {
				struct proc_child *c = g->children[k];
				struct child_process *cp;

				if (!c || !c->proc_started || c->exited)
					continue;
				cp = c->cp;
				if (cp->on_interrupt)
					cp->on_interrupt(cp, sig, interrupt_count, cp->cb_data);
				else if (!from_tty || cp->own_session)
					kill(cp->pid, sig);
			}
		}
	}
}

static void stream_setup(struct proc_child *c, struct proc_stream *s, int fd,
			 enum proc_io mode, uv_stdio_container_t *sc)
{
	s->c = c;
	s->fd = fd;
	s->mode = mode;
	switch (mode) {
	case PROC_IO_INHERIT:
		sc->flags = UV_INHERIT_FD;
		sc->data.fd = fd;
		break;
	case PROC_IO_LINES:
	case PROC_IO_CAPTURE:
		uv_pipe_init(&c->g->loop, &s->pipe, 0);
		s->pipe.data = s;
		s->used = true;
		sc->flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
		sc->data.stream = (uv_stream_t *)&s->pipe;
		break;
	case PROC_IO_NULL:
	case PROC_IO_BUFFER:
	default:
		sc->flags = UV_IGNORE;
		break;
	}
}

static int spawn_one(struct proc_child *c, struct burst_error *err)
{
	struct child_process *cp = c->cp;
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	bool spawn_called = false;
	int r;

	if (!cp->args.nr)
		BUG("proc: child without argv");
	memset(&opt, 0, sizeof(opt));
	memset(stdio, 0, sizeof(stdio));
	trace_command(cp);

	if (cp->out == PROC_IO_CAPTURE)
		strbuf_set_max(&cp->out_buf, cp->capture_max ? cp->capture_max : PROC_CAPTURE_DEFAULT_MAX);
	if (cp->err == PROC_IO_CAPTURE)
		strbuf_set_max(&cp->err_buf, cp->capture_max ? cp->capture_max : PROC_CAPTURE_DEFAULT_MAX);

	switch (cp->in) {
	case PROC_IO_INHERIT:
		stdio[0].flags = UV_INHERIT_FD;
		stdio[0].data.fd = 0;
		break;
	case PROC_IO_BUFFER:
		uv_pipe_init(&c->g->loop, &c->in, 0);
		c->in.data = c;
		c->in_used = true;
		stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
		stdio[0].data.stream = (uv_stream_t *)&c->in;
		break;
	default:
		stdio[0].flags = UV_IGNORE;
		break;
	}
	stream_setup(c, &c->out, 1, cp->out, &stdio[1]);
	stream_setup(c, &c->err, 2, cp->err, &stdio[2]);
	uv_timer_init(&c->g->loop, &c->timer);
	c->timer.data = c;

	build_env(cp, &c->envp);
	opt.exit_cb = on_exit_cb;
	opt.file = cp->args.v[0];
	opt.args = cp->args.v;
	opt.env = c->envp.v;
	opt.cwd = cp->dir;
	opt.flags = cp->own_session ? UV_PROCESS_DETACHED : 0;
	opt.stdio_count = 3;
	opt.stdio = stdio;
	c->proc.data = c;

	if (cp->dir) {
		struct stat st;

		if (stat(cp->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			burst_error_set(err, BURST_EXIT_INTERNAL,
					"cannot run '%s': directory '%s' does not exist",
					cp->args.v[0], cp->dir);
			goto fail;
		}
	}
	c->start_ms = burst_now_ms();
	spawn_called = true;
	r = uv_spawn(&c->g->loop, &c->proc, &opt);
	if (r < 0) {
		const char *path = env_lookup(&c->envp, "PATH");

		if (r == UV_ENOENT)
			burst_error_set(err, BURST_EXIT_INTERNAL,
					"cannot run '%s': command not found%s%s%s",
					cp->args.v[0], strchr(cp->args.v[0], '/') ? "" : " (PATH=",
					strchr(cp->args.v[0], '/') ? "" : (path ? path : ""),
					strchr(cp->args.v[0], '/') ? "" : ")");
		else
			burst_error_set(err, BURST_EXIT_INTERNAL, "cannot run '%s': %s",
					cp->args.v[0], uv_strerror(r));
		goto fail;
	}
	c->proc_started = true;
	cp->pid = c->proc.pid;
	if (cp->timeout_ms)
		uv_timer_start(&c->timer, on_timer, cp->timeout_ms, 0);
	if (c->in_used) {
		uv_buf_t b = uv_buf_init((char *)cp->in_buf, (unsigned)cp->in_len);

		c->wreq.data = c;
		if (cp->in_len == 0 ||
		    uv_write(&c->wreq, (uv_stream_t *)&c->in, &b, 1, on_written) < 0)
			in_close(c);
	}
	if (c->out.used)
		uv_read_start((uv_stream_t *)&c->out.pipe, on_alloc, on_read);
	if (c->err.used)
		uv_read_start((uv_stream_t *)&c->err.pipe, on_alloc, on_read);
	return 0;

fail:
	/* After uv_spawn failed the handle must still be closed. */
	if (spawn_called) {
		c->proc_started = true;
		c->proc_closed = true;
		uv_close((uv_handle_t *)&c->proc, on_proc_closed);
	}
	cp->exit_code = -1;
	c->exited = true;
	stream_close(&c->out);
	stream_close(&c->err);
	in_close(c);
	return -1;
}

int proc_run_all(struct child_process **cps, size_t n, struct burst_error *err)
{
	struct proc_group g;
	int ret = 0;

	memset(&g, 0, sizeof(g));
	if (!n)
		return 0;
	signals_install();
	{
		/* Signals caught between runs are recorded already; not forwarded. */
		unsigned char junk[64];

		while (read(sig_pipe[0], junk, sizeof(junk)) > 0)
			;
	}
	uv_loop_init(&g.loop);
	g.children = xcalloc(n, sizeof(*g.children));
	g.n = n;
	g.unfinished = n;
	uv_poll_init(&g.loop, &g.sigpoll, sig_pipe[0]);
	g.sigpoll.data = &g;
	uv_poll_start(&g.sigpoll, UV_READABLE, on_sigpoll);
	/* every child is bounded (timeout, ssh keepalive): waiting is progress */
	proc_note_activity();
	uv_timer_init(&g.loop, &g.tick);
	uv_timer_start(&g.tick, on_tick, PROC_TICK_MS, PROC_TICK_MS);

	for (size_t i = 0; i < n; i++) {
		struct proc_child *c = xcalloc(1, sizeof(*c));

		c->cp = cps[i];
		c->g = &g;
		strvec_init(&c->envp);
		strbuf_init(&c->out.partial, 0);
		strbuf_init(&c->err.partial, 0);
		cps[i]->exit_code = -1;
		cps[i]->term_signal = 0;
		cps[i]->timed_out = false;
		cps[i]->pid = 0;
		cps[i]->priv_ = c;
		g.children[i] = c;
	}
	for (size_t i = 0; i < n; i++) {
		if (ret < 0) {
			/* An earlier child failed to start: do not start the rest. */
			struct proc_child *c = g.children[i];

			uv_timer_init(&g.loop, &c->timer);
			c->timer.data = c;
			c->exited = true;
			maybe_finished(c);
			continue;
		}
		if (spawn_one(g.children[i], err) < 0) {
			ret = -1;
			for (size_t k = 0; k < i; k++) {
				struct proc_child *c = g.children[k];

				if (c->proc_started && !c->exited)
					kill(c->cp->own_session ? -c->cp->pid : c->cp->pid, SIGKILL);
			}
			maybe_finished(g.children[i]);
		}
	}
	uv_run(&g.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&g.loop) != 0)
		BUG("proc: handles left open on the loop");
	for (size_t i = 0; i < n; i++) {
		struct proc_child *c = g.children[i];

		strbuf_release(&c->out.partial);
		strbuf_release(&c->err.partial);
		strvec_clear(&c->envp);
		cps[i]->priv_ = NULL;
		free(c);
	}
	free(g.children);
	proc_note_activity();
	signals_restore();
	return ret;
}

int proc_run(struct child_process *cp, struct burst_error *err)
{
	return proc_run_all(&cp, 1, err);
}

/* ---- pids --------------------------------------------------------------- */

static int read_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64];
	struct strbuf sb = STRBUF_INIT;
	const char *p;
	int field = 3, ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	strbuf_set_max(&sb, 8192);
	if (strbuf_read_file(&sb, path) < 0)
		goto out;
	p = strrchr(sb.buf, ')');
	if (!p || p[1] != ' ')
		goto out;
	p += 2;
	*state = *p;
	while (*p && field < 22) {
		p = strchr(p, ' ');
		if (!p)
			goto out;
		p++;
		field++;
	}
	if (field != 22)
		goto out;
	{
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno || end == p)
			goto out;
		*start = v;
	}
	ret = 0;
out:
	strbuf_release(&sb);
	return ret;
}

uint64_t pid_start_time(pid_t pid)
{
	char state;
	uint64_t start;

	if (pid <= 0 || read_stat(pid, &state, &start) < 0)
		return 0;
	return start;
}

bool pid_alive(pid_t pid, uint64_t start_time)
{
	char state;
	uint64_t start;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno != EPERM)
		return false;
	if (read_stat(pid, &state, &start) < 0)
		return false;
	if (state == 'Z' || state == 'X')
		return false;
	return !start_time || start == start_time;
}

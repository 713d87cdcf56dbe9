/*
 * proc.h - child processes on libuv (after git's run-command and foot's
 * spawn).
 *
 * One descriptor, struct child_process, says everything about a child before
 * it starts: argv, environment overrides, working directory, the mode of
 * each standard stream and an optional deadline.  proc_run() runs one child
 * and waits; proc_run_all() runs several CONCURRENTLY on one private libuv
 * loop and waits for all of them.
 *
 *   struct child_process cp = CHILD_PROCESS_INIT;
 *   strvec_push(&cp.args, "rsync"); ...
 *   cp.out = PROC_IO_CAPTURE;                        (cp.out_buf, capped)
 *   cp.err = PROC_IO_LINES; cp.err_line = fn; cp.cb_data = me;
 *   if (proc_run(&cp, &err) < 0)                     (could not start it)
 *           ...
 *   if (cp.exit_code != 0) ...                       (-1 and term_signal when killed)
 *   child_process_release(&cp);
 *
 * Return values: proc_run*() return 0 when every child was started and
 * reaped, whatever its exit status; -1 with err filled when a child could
 * not be started (command not found names the program and PATH; then no
 * child of the group is left running).  The status is in exit_code /
 * term_signal / timed_out of each child.
 *
 * Signals: while proc_run*() waits, SIGINT, SIGTERM and SIGHUP received by
 * the tool are caught (without SA_RESTART: a blocking call elsewhere fails
 * with EINTR, and the caller checks proc_interrupted()) and recorded
 * (proc_interrupted() returns the first one, sticky until
 * proc_clear_interrupted()).  For each running child the
 * signal is either handed to cp->on_interrupt (called from the loop, not
 * from the signal handler, so it may run other processes with proc_run(),
 * e.g. remote_kill() to stop the remote cargo), or forwarded to the child
 * with kill().  A terminal's Ctrl-C already reaches children in our process
 * group, so it is not forwarded a second time to them; children started with
 * own_session do not see the terminal's Ctrl-C at all and only get what the
 * tool forwards.  After the run the previous dispositions are restored
 * (proc_catch_signals(true) keeps the handlers installed between runs; the
 * caller then polls proc_interrupted()).
 * How a caller exits 130: after proc_run*() returns, `if (proc_interrupted())`
 * -> clean up, arm the reapers, exit BURST_EXIT_INTERRUPTED (130).
 * SIGPIPE is ignored in the tool from the first use of this module on
 * (writes to a dead child's stdin fail with EPIPE instead); children start
 * with default dispositions and an empty signal mask.
 *
 * Tracing: with BURST_TRACE=1 every command line is logged shell-quoted via
 * log_trace("proc", ...), with secrets redacted.
 */
#ifndef BURST_PROC_H
#define BURST_PROC_H

#include <sys/types.h>

#include "burst/error.h"
#include "burst/strbuf.h"
#include "burst/strvec.h"
#include "burst/util.h"

enum proc_io {
	PROC_IO_INHERIT = 0, /* share the tool's stream (default) */
	PROC_IO_NULL,        /* /dev/null */
	PROC_IO_LINES,       /* stdout/stderr: line callback (out_line/err_line) */
	PROC_IO_CAPTURE,     /* stdout/stderr: into out_buf/err_buf, capped */
	PROC_IO_BUFFER,      /* stdin: write in_buf/in_len, then close */
};

/* Flags passed to a line callback. */
#define PROC_LINE_PROGRESS 0x1 /* the line ended with a bare '\r' (progress) */
#define PROC_LINE_PARTIAL 0x2  /* the final line at EOF had no terminator */

/*
 * A line of a child's output: line[len] == '\0', without its terminator
 * ("\n", "\r\n" or a bare "\r", which gives PROC_LINE_PROGRESS).  No
 * artifacts: empty segments between two '\r' are not delivered, nor is the
 * empty line a "\n" right after a progress line would make.  A line longer
 * than PROC_LINE_MAX is delivered in pieces.  Valid only during the call.
 */
typedef void (*proc_line_fn)(const char *line, size_t len, unsigned flags,
			     void *data);

#define PROC_LINE_MAX (64 * 1024)
/* Default cap of out_buf/err_buf when capture_max is 0. */
#define PROC_CAPTURE_DEFAULT_MAX (4 * 1024 * 1024)

struct child_process;

/*
 * Called from the loop when the tool receives SIGINT/SIGTERM/SIGHUP while
 * this child runs; count is 1 for the first interrupt, 2 for the second...
 * Replaces forwarding the signal to this child.
 */
typedef void (*proc_interrupt_fn)(struct child_process *cp, int signo,
				  int count, void *data);

struct child_process {
	/* Set up by the caller. */
	struct strvec args;   /* argv; args.v[0] is looked up in PATH */
	struct strvec env;    /* NAME=VALUE overrides, "NAME" alone unsets */
	bool clean_env;       /* start from an empty environment, not environ */
	const char *dir;      /* working directory, or NULL */
	enum proc_io in, out, err;
	const void *in_buf;   /* PROC_IO_BUFFER: bytes written to stdin */
	size_t in_len;
	proc_line_fn out_line; /* PROC_IO_LINES on stdout */
	proc_line_fn err_line; /* PROC_IO_LINES on stderr */
	void *cb_data;         /* passed to out_line, err_line, on_interrupt */
	size_t capture_max;    /* PROC_IO_CAPTURE cap; 0 = PROC_CAPTURE_DEFAULT_MAX */
	uint64_t timeout_ms;   /* 0 = none; then SIGTERM, SIGKILL after kill_grace_ms */
	uint64_t kill_grace_ms; /* 0 = 2000 */
	uint64_t drain_ms;     /* after the exit, how long a quiet pipe that is
				  still open is read on (0 = 100 ms): ssh mux
				  clients exit before their master wrote all */
	bool own_session;      /* setsid(): no terminal Ctrl-C, no controlling tty */
	proc_interrupt_fn on_interrupt; /* NULL = forward the signal to the child */

	/* Results. */
	struct strbuf out_buf; /* PROC_IO_CAPTURE on stdout (overflow set when capped) */
	struct strbuf err_buf; /* PROC_IO_CAPTURE on stderr */
	pid_t pid;             /* while running and after */
	int exit_code;         /* exit status 0..255, or -1 when killed by a signal */
	int term_signal;       /* the signal that killed it, or 0 */
	bool timed_out;        /* killed because of timeout_ms */
	uint64_t elapsed_ms;   /* wall time from start to exit */

	void *priv_;           /* internal */
};

#define CHILD_PROCESS_INIT                                                 \
	{ .args = STRVEC_INIT, .env = STRVEC_INIT, .out_buf = STRBUF_INIT,     \
	  .err_buf = STRBUF_INIT, .exit_code = -1 }

/* Initialise a child (same as CHILD_PROCESS_INIT). */
void child_process_init(struct child_process *cp);
/* Free argv, env and the captured output; the child must not be running. */
void child_process_release(struct child_process *cp);

/* Run one child and wait for it; 0 when it ran (see exit_code), -1 + err. */
int proc_run(struct child_process *cp, struct burst_error *err);
/*
 * Run n children concurrently on one loop and wait for all; 0 when all ran,
 * -1 + err when one could not be started (the others are killed and reaped).
 */
int proc_run_all(struct child_process **cps, size_t n, struct burst_error *err);

/*
 * The status as a shell reports it: exit_code, or 128 + signal when killed
 * (for passing a child's status through as the tool's exit code).
 */
int proc_status_code(const struct child_process *cp);
/* Append "exited with status N" / "killed by signal SIGX" / "timed out ...". */
void proc_describe_status(const struct child_process *cp, struct strbuf *out);

/* The first SIGINT/SIGTERM/SIGHUP caught while children ran, or 0. */
int proc_interrupted(void);
/*
 * How many interrupting signals (SIGINT, SIGTERM, SIGHUP) were caught so
 * far; never reset, so a wait can tell whether one came while it ran.
 */
int proc_signals_caught(void);
/* Forget a recorded interrupt (tests, or after handling it). */
void proc_clear_interrupted(void);
/*
 * Keep the signal handlers installed between runs (true), so an interrupt
 * outside proc_run*() is recorded rather than killing the tool; the caller
 * then polls proc_interrupted().  false restores the previous dispositions.
 */
void proc_catch_signals(bool on);

/*
 * Activity: the time (burst_now_ms) the tool last showed it is alive and
 * waiting on something bounded.  proc_run*() note it when they start and
 * end, on every chunk of output, every exit, and every 5 s while children
 * run (each child is bounded by its timeout or, for ssh, by the
 * keepalive).  A thread that renews a lease reads it: a tool stuck
 * elsewhere stops counting as alive.  Callers may note it themselves in
 * long waits of their own.
 */
void proc_note_activity(void);
/* The last activity noted (0 before the first). */
uint64_t proc_last_activity_ms(void);

/*
 * No core dumps of this process: RLIMIT_CORE 0 (inherited by children)
 * and PR_SET_DUMPABLE 0 (no core, no ptrace by other users).  The tool
 * and its reapers hold the API token; call it first thing in main().
 */
void proc_no_core_dumps(void);

/*
 * Start a detached worker (a reaper): fork, setsid, fork again; stdin from
 * /dev/null, stdout and stderr appended to log_path (created 0600); signal
 * mask and dispositions reset; every other descriptor closed; cwd "/".
 * env: NULL-terminated NAME=VALUE overrides on top of environ ("NAME"
 * unsets), or NULL.  argv[0] is looked up in PATH before forking.  Exec
 * errors come back through a CLOEXEC pipe.  *pid is the worker's pid (its
 * parent is init or the subreaper, not us).  Never uses a libuv loop.
 */
int proc_spawn_detached(const char *const *argv, const char *const *env,
			const char *log_path, pid_t *pid, struct burst_error *err);

/* The ssh program: $CARGO_BURST_SSH or "ssh" (like GIT_SSH). */
const char *proc_ssh_program(void);
/* The rsync program: $CARGO_BURST_RSYNC or "rsync". */
const char *proc_rsync_program(void);

/* Append one word quoted for a POSIX shell (remote_shell_quote's rule). */
void proc_quote_arg(struct strbuf *out, const char *arg);
/* Append argv shell-quoted and space-separated (for traces and messages). */
void proc_quote_argv(struct strbuf *out, const char *const *argv);

/*
 * Start time of a process in clock ticks since boot (field 22 of
 * /proc/<pid>/stat), or 0 when there is no such process.  With the pid it
 * identifies a process across pid reuse.
 */
uint64_t pid_start_time(pid_t pid);
/*
 * Is the process alive (and not a zombie)?  With start_time != 0 it must
 * also have that start time (so a reused pid counts as dead).
 */
bool pid_alive(pid_t pid, uint64_t start_time);

#endif

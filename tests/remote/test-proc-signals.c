/*
 * test-proc-signals.c - signals end a blocking wait outside the child loop
 * (the handlers do not use SA_RESTART), core dumps are off after
 * proc_no_core_dumps(), and proc_run*() note the tool's activity.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/proc.h"
#include "tap.h"

static char tmp[] = "/tmp/burst-ps-XXXXXX";

static void cleanup(void)
{
	char *cmd = xstrfmt("rm -rf '%s'", tmp);

	if (system(cmd) != 0)
		fprintf(stderr, "# cleanup failed\n");
	free(cmd);
}

/*
 * A tool blocked in open() of a FIFO nobody writes (what a hostile
 * server's artifact once did): SIGTERM, SIGINT and SIGHUP must end the
 * wait, with proc_interrupted() telling which.
 */
static void test_signal_ends_blocking_open(int sig)
{
	char *fifo = xstrfmt("%s/fifo-%d", tmp, sig);
	uint64_t deadline;
	int ready[2], status = 0;
	bool ended = false;
	pid_t pid;
	char c;

	if (mkfifo(fifo, 0600) < 0 || pipe(ready) < 0)
		bail_out("mkfifo/pipe");
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		int fd;

		close(ready[0]);
		proc_catch_signals(true);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		fd = open(fifo, O_RDONLY);
		if (fd < 0 && errno == EINTR && proc_interrupted() == sig)
			_exit(130);
		_exit(1);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		bail_out("child did not start");
	close(ready[0]);
	/* repeat the signal: one sent before open() blocked is only recorded */
	deadline = burst_now_ms() + 20000;
	while (burst_now_ms() < deadline) {
		kill(pid, sig);
		usleep(100000);
		if (waitpid(pid, &status, WNOHANG) == pid) {
			ended = true;
			break;
		}
	}
	if (!ended) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ok(ended && WIFEXITED(status) && WEXITSTATUS(status) == 130,
	   "signal %d ends a blocking open() with EINTR and is recorded (status 0x%x%s)", sig,
	   (unsigned)status, ended ? "" : ", hung: killed");
	unlink(fifo);
	free(fifo);
}

static void test_no_core_dumps(void)
{
	pid_t pid = fork();
	int status = 0;

	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		struct rlimit rl;

		proc_no_core_dumps();
		if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
			_exit(1);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			_exit(2);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "proc_no_core_dumps: RLIMIT_CORE 0 and not dumpable (status 0x%x)", (unsigned)status);
}

static void test_activity(void)
{
	struct child_process cp = CHILD_PROCESS_INIT;
	struct burst_error err = BURST_ERROR_INIT;
	uint64_t before;

	before = burst_now_ms();
	usleep(20000);
	strvec_push(&cp.args, "true");
	cp.in = PROC_IO_NULL;
	ok(proc_run(&cp, &err) == 0 && proc_last_activity_ms() >= before + 20,
	   "proc_run notes activity");
	child_process_release(&cp);
	burst_error_release(&err);
}

int main(void)
{
	if (!mkdtemp(tmp))
		bail_out("mkdtemp");
	atexit(cleanup);
	alarm(120);
	plan_lazy();
	test_signal_ends_blocking_open(SIGTERM);
	test_signal_ends_blocking_open(SIGINT);
	test_signal_ends_blocking_open(SIGHUP);
	test_no_core_dumps();
	test_activity();
	return done_testing();
}

/* state-test.h - helpers shared by the state tests: temp dirs, children. */
#ifndef BURST_STATE_TEST_H
#define BURST_STATE_TEST_H

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst/error.h"
#include "burst/state.h"
#include "burst/util.h"
#include "../tap.h"

static char test_tmpdir_[256];
static pid_t test_owner_pid_;

static int rm_one_(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void test_cleanup_(void)
{
	if (test_tmpdir_[0] && getpid() == test_owner_pid_)
		nftw(test_tmpdir_, rm_one_, 16, FTW_DEPTH | FTW_PHYS);
}

/* meson's timeout (SIGTERM) or a Ctrl-C of the suite: still remove it */
static void test_on_signal_(int sig)
{
	test_cleanup_();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Make a temp dir, point XDG_STATE_HOME at it, remove it at exit. */
static inline const char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(test_tmpdir_, sizeof(test_tmpdir_), "%s/burst-state-XXXXXX", base);
	if (!mkdtemp(test_tmpdir_))
		bail_out("mkdtemp failed");
	test_owner_pid_ = getpid();
	setenv("XDG_STATE_HOME", test_tmpdir_, 1);
	atexit(test_cleanup_);
	signal(SIGTERM, test_on_signal_);
	signal(SIGINT, test_on_signal_);
	signal(SIGHUP, test_on_signal_);
	return test_tmpdir_;
}

/* Open the state in dir or bail out. */
static inline struct burst_state *test_open(const char *dir)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct burst_state *st = NULL;

	if (state_open(dir, &st, &err) < 0) {
		diag("state_open: %s", err.message);
		bail_out("cannot open the state database");
	}
	burst_error_release(&err);
	return st;
}

/* Wait for a child at most timeout_ms; kill it if it overstays.  Exit status or -1. */
static inline int test_wait(pid_t pid, int timeout_ms)
{
	int status, waited = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r < 0)
			return -1;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(10000);
		waited += 10;
	}
}

#endif

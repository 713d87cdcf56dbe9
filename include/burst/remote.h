/*
 * remote.h - talking to the server: one ssh master connection with a pinned
 * host key, remote shell quoting, rsync both ways, the volume mount script
 * and checksummed artifact fetch.
 *
 * ssh is always run as  <ssh> -F /dev/null <options> -- <host> [command]:
 *  - -F /dev/null: the user's ~/.ssh/config is ignored on purpose, so no
 *    ProxyJump, ControlMaster, User or SendEnv setting of theirs changes
 *    what the tool does (their key is passed with -i instead);
 *  - StrictHostKeyChecking=yes against a known_hosts file the tool owns
 *    (GlobalKnownHostsFile=/dev/null, UpdateHostKeys=no): the server's host
 *    key is generated here, handed over in cloud-config user_data and
 *    pinned before the first connection.  Never "no" nor "accept-new";
 *  - BatchMode=yes (never a prompt), IdentitiesOnly=yes, LogLevel=ERROR;
 *  - ControlMaster=auto + ControlPath + ControlPersist: the first connection
 *    becomes a background master that every later ssh and rsync of the run
 *    (and of the next run within persist_secs) reuses.
 * The ssh program is $CARGO_BURST_SSH or "ssh", rsync is $CARGO_BURST_RSYNC.
 *
 * Stopping the remote cargo on Ctrl-C: the remote command is run WITHOUT a
 * tty (-T; stdout and stderr stay separate).  remote_wrap_pidfile() makes the
 * remote shell record its pid, which is also its process group id (sshd
 * starts every session in a new session/process group), and
 * remote_kill() sends a signal to that whole group over the master.  Use it
 * from the child's on_interrupt callback (proc.h), with the ssh child
 * started with own_session so the terminal's Ctrl-C does not kill the local
 * ssh first.
 */
#ifndef BURST_REMOTE_H
#define BURST_REMOTE_H

#include "burst/error.h"
#include "burst/proc.h"
#include "burst/strbuf.h"
#include "burst/strvec.h"
#include "burst/util.h"

struct remote_host {
	char *user;          /* remote user, e.g. "root" */
	char *host;          /* IP address (or name) */
	int port;            /* 0 = 22 */
	char *identity_file; /* the user's private key, or NULL (ssh's default) */
	char *known_hosts;   /* known_hosts file the tool owns (required) */
	char *control_path;  /* ControlMaster socket (< 100 bytes), or NULL = no master */
	int persist_secs;    /* ControlPersist; 0 = 60 */
	int connect_timeout_secs; /* ConnectTimeout; 0 = 10 */
	char *user_known_hosts; /* a machine of the user's (BYO host): their
				   known_hosts, checked instead of ours, and
				   their ~/.ssh/config applies; NULL = only
				   ours, no config */
	char *user_ssh_config; /* BYO host: the ssh config to read (-F) when it
				  is not the one ssh finds itself, or NULL */
};

#define REMOTE_HOST_INIT { NULL, NULL, 0, NULL, NULL, NULL, 0, 0, NULL, NULL }

/* Initialise an empty host (same as REMOTE_HOST_INIT). */
void remote_host_init(struct remote_host *h);
/*
 * Initialise h as the ssh host of one of our build servers at ip (NULL:
 * set h->host later): user (NULL = "root"), port (0 = 22), the user's key
 * (NULL = ssh's default), and the known_hosts file the tool owns under
 * state_dir (layout_known_hosts()).  The one place a server's host is made.
 */
void remote_host_server(struct remote_host *h, const char *user, int port,
			const char *identity_file, const char *state_dir, const char *ip);
/* Free the strings. */
void remote_host_release(struct remote_host *h);
/*
 * Set control_path to <dir>/<8 hex digits of a hash of user@host:port and
 * the key pinned for it in h->known_hosts>, short enough for sun_path (108
 * bytes); dir is created 0700.  Call it after pinning: a new server that
 * reuses an IP then never reaches a master left over from the old one.
 * -1 + err when dir cannot be created or the path would be too long.
 */
int remote_host_set_control_dir(struct remote_host *h, const char *dir,
				struct burst_error *err);

/*
 * Append ssh and its options, WITHOUT the destination (for rsync -e):
 * program, -F /dev/null, -l, -p, -i and every -o of the list above.  A
 * BYO host (user_known_hosts set) gets no -F /dev/null, so the user's
 * ~/.ssh/config applies (-F user_ssh_config when set), and -p only when
 * port is set.
 */
void remote_ssh_base_argv(const struct remote_host *h, struct strvec *argv);
/* Append the base argv plus "-T -- <host>"; the caller may add a command. */
void remote_ssh_argv(const struct remote_host *h, struct strvec *argv);

/*
 * Generate an ed25519 host key pair (ssh-keygen -t ed25519 -N '' -q
 * -C cargo-burst) in the scratch directory dir (created 0700) under the
 * file name `name`; the files are removed afterwards.  Returns the private
 * key in OpenSSH format and the public line ("ssh-ed25519 AAAA... cargo-burst")
 * as allocated strings.
 */
int remote_hostkey_generate(const char *dir, const char *name, char **private_text,
			    char **public_line, struct burst_error *err);
/*
 * Write or replace the known_hosts entry of host:port ("host" for port 22,
 * "[host]:port" otherwise) with the key of public_line (its comment is
 * dropped); other entries are kept.  Atomic (temp file + rename), file 0600,
 * missing directories created 0700, serialised between processes by an
 * flock on "<path>.lock", so concurrent pins never lose a line.  host must
 * be one IP address (anything else: -1, BURST_EXIT_INTERNAL); lines of the
 * file that name anything but addresses (wildcards, negations, hashed
 * names: never written by the tool) are dropped.  A file that cannot be
 * written (full disk, permissions) is BURST_EXIT_STATE, naming the file.
 */
int remote_known_hosts_pin(const char *path, const char *host, int port,
			   const char *public_line, struct burst_error *err);
/*
 * Remove the entry of host:port (a deleted server's IP may be reused), under
 * the same lock and rules as remote_known_hosts_pin().
 */
int remote_known_hosts_forget(const char *path, const char *host, int port,
			      struct burst_error *err);

/*
 * The user_data that installs the pinned host key, exactly:
 *   #cloud-config
 *   ssh_keys:
 *     ed25519_private: |
 *       <each line of the private key, indented 4 spaces>
 *     ed25519_public: <public line>
 * Appended to out; -1 when it would exceed 32 KiB (Hetzner's limit).
 */
int remote_cloud_config(const char *private_text, const char *public_line,
			struct strbuf *out);

/*
 * Start the master connection (a persistent ControlMaster in the
 * background) unless one is already running; fails fast, no retry.
 */
int remote_master_start(const struct remote_host *h, struct burst_error *err);
/* Is a master running for h (ssh -O check)? */
bool remote_master_check(const struct remote_host *h);
/* Stop the master (ssh -O exit); fine when none runs. */
void remote_master_stop(const struct remote_host *h);

/* Progress while waiting for ssh: seconds since the wait began. */
typedef void (*remote_wait_fn)(unsigned elapsed_secs, void *data);
/*
 * Try `ssh ... true` (short ConnectTimeout, ~400 ms between tries) until it
 * succeeds, which also leaves the master running, or deadline_ms passed.
 * A host key that does not match the pinned one (or no pinned key) fails
 * at once with BURST_EXIT_REMOTE ("the server's host key did not match the
 * pinned key"), never retried.  An interrupt (proc_interrupted()) stops the
 * wait with BURST_EXIT_INTERRUPTED.  progress may be NULL.
 */
int remote_wait_ready(const struct remote_host *h, uint64_t deadline_ms,
		      remote_wait_fn progress, void *data, struct burst_error *err);

/* Flags of remote_command_prepare(). */
#define REMOTE_TTY 0x1 /* ssh -tt: a remote tty (merges stderr into stdout) */

/*
 * Fill cp->args with the ssh command that runs one remote shell command
 * line over the master (the line is passed as is: quote its words with
 * remote_shell_quote()).  Other fields of cp (streams, callbacks, timeout,
 * own_session, on_interrupt) are the caller's.  Use with proc_run_all() to
 * run it concurrently with other children.
 */
void remote_command_prepare(const struct remote_host *h, const char *command_line,
			    unsigned flags, struct child_process *cp);
/*
 * remote_command_prepare() + proc_run(); returns 0 when ssh ran (the remote
 * status is cp->exit_code; 255 means ssh itself failed, see cp->err_buf when
 * captured), -1 + err when ssh could not be started.
 */
int remote_run(const struct remote_host *h, const char *command_line,
	       struct child_process *cp, struct burst_error *err);
/*
 * Run a short remote command with stdin closed, capturing its stdout (at
 * most max bytes) into out.  Fails (BURST_EXIT_REMOTE, naming the host and
 * the last line of the command's stderr) when ssh cannot run it, or it does
 * not exit 0 within timeout_ms; callers add what they were doing with
 * burst_error_prefix().
 */
int remote_capture(const struct remote_host *h, const char *command_line, size_t max,
		   int timeout_ms, struct strbuf *out, struct burst_error *err);
/*
 * Wrap a remote command line so that the remote shell writes its pid (its
 * process group) to pid_file first (making its directory when missing) and
 * removes it at the end; the exit status of command_line is kept.
 * Appended to out.
 */
void remote_wrap_pidfile(struct strbuf *out, const char *pid_file,
			 const char *command_line);
/*
 * Send signo to the process group recorded in pid_file on the server
 * (over the master; bounded to a few seconds).  0 when the signal was sent,
 * -1 + err otherwise (no pid file means nothing is running: also -1).
 */
int remote_kill(const struct remote_host *h, const char *pid_file, int signo,
		struct burst_error *err);

/*
 * POSIX sh quoting of one word: 'arg' with each ' written as '\''; words
 * made only of [A-Za-z0-9_./:@%+,-] (non-empty) are left as they are.
 * Round-trips every byte string without NUL (newlines, non-UTF-8 bytes,
 * "" -> '').  Appended to out.
 */
void remote_shell_quote(struct strbuf *out, const char *arg);
/* Quote each word and join with single spaces. */
void remote_shell_quote_argv(struct strbuf *out, const char *const *argv);

/* What to leave out of the sync (NULL-terminated lists; any may be NULL). */
struct sync_filters {
	const char *const *unexclude;      /* removed from the built-in defaults, and forced in */
	const char *const *extra_excludes; /* excluded in addition */
	bool no_gitignore;                 /* do not read .gitignore files */
	bool no_git;                       /* translate .gitignore files even in a
					    * git work tree (tests, benchmarks) */
	bool sync_git;                     /* sync local_dir/.git (see below) */
	bool progress;                     /* a push draws a byte-based progress
					    * line (ui_progress) from rsync's
					    * --info=progress2 */
	/* remote_sync_push_start(): the local index (NULL: none, every push full) */
	const char *index_path;
	const char *index_target; /* what the remote side is (server id, host) */
	int64_t verify_secs;      /* a full sync when the last one is older; 0 = never */
	bool no_small;            /* every incremental push by rsync, none by tar (tests) */
};

/*
 * Should a push show its progress line?  CARGO_TERM_PROGRESS_WHEN as cargo
 * reads it: "always", "never", else when stderr is a terminal; never with -q.
 * (ui_progress() draws only when colour is on.)
 */
bool remote_sync_progress_wanted(void);
/*
 * Parse one line of rsync --info=progress2 ("  21,495,808  71%  18.94MB/s
 * 0:00:00 ..."): the bytes so far, the percentage and the rate text (cut to
 * rate_size, may be NULL).  0, or -1 when the line is not one.
 */
int remote_parse_progress(const char *line, uint64_t *bytes, unsigned *percent,
			  char *rate, size_t rate_size);
/* Append cargo's progress style: "[=====>    ]  71% 20.5 MiB, 18.94MB/s". */
void remote_format_progress(struct strbuf *out, uint64_t bytes, unsigned percent,
			    const char *rate);

/* The built-in excludes (NULL-terminated): target/, .git/, node_modules/, ... */
extern const char *const remote_default_excludes[];

struct sync_stats {
	uint64_t files;             /* files considered (rsync "Number of files") */
	uint64_t files_transferred; /* regular files sent */
	uint64_t bytes_sent;        /* bytes on the wire, sender to receiver */
	uint64_t bytes_received;
	uint64_t total_size;        /* size of all files considered */
	uint64_t elapsed_ms;
};

/*
 * The rsync filter rules of a push (one per line, "- pattern" or
 * "+ pattern"), appended to out: extra_excludes, with sync_git the rules
 * that sync local_dir/.git when it is a directory (without hooks/, logs/,
 * lfs/, *.lock, and config and FETCH_HEAD which may hold credentials:
 * what rev-parse, describe and status need), and the
 * defaults minus unexclude first (they always win), then "+ " for each
 * unexclude, then what git ignores.  When local_dir is in a git work tree
 * (that does not ignore local_dir itself) and git answers, that is git's
 * own list (`git ls-files -o -i --exclude-standard --directory`:
 * .gitignore files, .git/info/exclude, core.excludesFile), one anchored
 * rule per ignored path.  Otherwise (or
 * with no_git) the .gitignore files of local_dir translated to rules
 * anchored at their directory (deepest file first, last line first, "!" as
 * "+"), so that rsync's first-match-wins gives git's answer for the common
 * cases.  Exposed for tests and `--dry-run` style output.
 */
int remote_sync_rules(const char *local_dir, const struct sync_filters *f,
		      struct strbuf *out, struct burst_error *err);

/*
 * Push local_dir's contents into remote_dir (created when missing):
 * rsync -a --delete -z --no-owner --no-group over the master, with the
 * rules of remote_sync_rules().  Excluded files on the server are NOT
 * deleted (no --delete-excluded): what the user excludes stays where it is
 * there.  stats may be NULL.
 */
int remote_rsync_push(const struct remote_host *h, const char *local_dir,
		      const char *remote_dir, const struct sync_filters *f,
		      struct sync_stats *stats, struct burst_error *err);
/*
 * The two halves of remote_rsync_push(), to run the push concurrently with
 * other children (proc_run_all): prepare computes the rules into *rules
 * (which must live until the child has run: it is rsync's stdin) and fills
 * cp (argv, stdin, captured output; the caller may add a timeout); finish
 * checks cp's status (0 and 24 "vanished files" are success) and fills stats.
 */
int remote_rsync_push_prepare(const struct remote_host *h, const char *local_dir,
			      const char *remote_dir, const struct sync_filters *f,
			      struct strbuf *rules, struct child_process *cp,
			      struct burst_error *err);
/* Check the status of a prepared push after it ran; -1 + err on failure. */
int remote_rsync_push_finish(const struct remote_host *h, const char *local_dir,
			     const char *remote_dir, const struct child_process *cp,
			     struct sync_stats *stats, struct burst_error *err);
/*
 * A push that keeps a local index of what it sent (f->index_path): the
 * workspace is walked here (lstat only, the filter rules evaluated as rsync
 * does) and compared with the index of the last sync; a warm push then sends
 * only the new and changed paths (rsync --files-from, no walk of either
 * tree by rsync) after deleting the vanished ones on the server.  The
 * index is trusted only while the server's marker
 * (<remote_dir>/.cargo-burst-sync, a random generation written by the
 * command that ends each sync, removed when one begins) holds the
 * generation the index names, the index key (index_target, both
 * directories) and the rules' hash are the same, the clock did not step
 * and the last full sync is younger than verify_secs; anything else is a
 * full rsync (as remote_rsync_push()) that rebuilds the index, also when
 * the server reports a marker mismatch.  The index file is replaced
 * (temp + rename; not fsynced: a lost or torn file is a full sync) only
 * after a push succeeded, by a thread beside what the caller does next.  Without index_path this is remote_rsync_push()
 * in three steps.
 *
 * start computes everything and returns the push with its child ready
 * (remote_sync_push_child(): run it, e.g. with proc_run_all(), as it is
 * or with a timeout added), or NULL + err.  f is only read by start.
 *
 * The same in two steps, so that the caller's own remote command (the
 * volume's mount) runs while the workspace is walked: begin loads the
 * index and starts the walk in threads (f is only read here); the caller
 * may add the marker probe to that command and hand its output back; plan
 * computes the rules, finishes the walk and prepares the child (-1 + err).
 */
struct sync_push;
struct sync_push *remote_sync_push_start(const struct remote_host *h, const char *local_dir,
					 const char *remote_dir, const struct sync_filters *f,
					 struct burst_error *err);
struct sync_push *remote_sync_push_begin(const struct remote_host *h, const char *local_dir,
					 const char *remote_dir, const struct sync_filters *f);
/*
 * Append to a remote shell command ("... && probe") what prints the
 * server's marker (one line) when the push has an index to trust; nothing
 * otherwise.  remote_sync_push_probed() takes that command's stdout: a
 * marker that matches lets a push with nothing to send skip its own
 * round trip (no child at all); one that differs makes the push full.
 */
void remote_sync_push_probe(const struct sync_push *sp, struct strbuf *cmd);
void remote_sync_push_probed(struct sync_push *sp, const char *out, size_t len);
int remote_sync_push_plan(struct sync_push *sp, struct burst_error *err);
/*
 * Give the push a descriptor to close once it is done with the remote
 * tree (the caller's lock on it): after the index is written, which
 * remote_sync_push_end() leaves to a thread, or at remote_sync_push_free().
 */
void remote_sync_push_hold(struct sync_push *sp, int fd);
/* The rsync child of a started push; NULL when there is nothing to run. */
struct child_process *remote_sync_push_child(struct sync_push *sp);
/* Is the push an incremental one (only what changed)? */
bool remote_sync_push_incremental(const struct sync_push *sp);
/*
 * What the push is, for traces and tests: "full", "incremental",
 * "incremental, tar" (a small change as a tar stream), "nothing changed"
 * (only the marker asked), "nothing changed, marker seen" (no child).
 */
const char *remote_sync_push_kind(const struct sync_push *sp);
/*
 * After the child ran: check it (0 and 24 "vanished files" are success),
 * run the full push when the server said its tree is not the one the
 * index describes, fill stats and start writing the index.  -1 + err on failure.
 */
int remote_sync_push_end(struct sync_push *sp, struct sync_stats *stats,
			 struct burst_error *err);
/* Free a push (NULL is fine); waits for the index to be written. */
void remote_sync_push_free(struct sync_push *sp);

/*
 * Pull remote_paths (NULL-terminated; files or directories, directories
 * recursively) into local_dir (created when missing), keeping modes and
 * times.  Whatever the server sends, only regular files and directories
 * are written: no symlink, device, FIFO or socket, no setuid/setgid/sticky
 * bit, no file over 16 GiB; the transfer is killed after 120 s without
 * data or an hour in all.  stats may be NULL.
 */
int remote_rsync_pull(const struct remote_host *h, const char *const *remote_paths,
		      const char *local_dir, struct sync_stats *stats,
		      struct burst_error *err);

/*
 * Is name (len bytes, from the server) a plain file name: not empty, no
 * NUL, no '/', not "." or "..", no control character, at most 255 bytes?
 * 0, or -1 with err (BURST_EXIT_REMOTE, the name shown sanitised).
 */
int remote_check_file_name(const char *name, size_t len, struct burst_error *err);

/*
 * Pull remote_dir/<name> for each name (NULL-terminated plain file names;
 * any other name fails with BURST_EXIT_REMOTE, see remote_check_file_name)
 * into a private directory in local_dir, as remote_rsync_pull() does but
 * never recursively; check that each arrived as a regular file (opened
 * with O_NOFOLLOW | O_NONBLOCK, never by a path the server could make a
 * link or FIFO); compare its SHA-256 with the server's (sha256sum over the
 * master, bounded to 10 min); only then rename each into local_dir.  -1
 * naming the file when one is missing, not regular or mismatched (nothing
 * is moved then).  Executables keep their mode (without setuid bits).
 */
int remote_fetch_files(const struct remote_host *h, const char *remote_dir,
		       const char *const *names, const char *local_dir,
		       struct burst_error *err);

/*
 * A POSIX sh script (run with `sh -s` or `sh -c`) that waits up to 30 s for
 * device_path (exit REMOTE_MOUNT_NO_DEVICE when it does not appear),
 * mounts it (ext4, noatime) at mount_point, idempotently:
 * already mounted from the same device -> ok; mounted from another or a
 * vanished device -> unmount and remount.  Creates mount_point and chowns
 * the mounted root to owner ("user" or "user:group"; NULL = leave).  On
 * failure it prints "cargo-burst: ..." plus `ls -l /dev/disk/by-id` and
 * `lsblk` to stderr and exits non-zero.  Appended to out.
 */
void remote_mount_script(const char *device_path, const char *mount_point,
			 const char *owner, struct strbuf *out);
/* The mount script's exit status when the device did not appear in time. */
#define REMOTE_MOUNT_NO_DEVICE 3
/*
 * remote_mount_script() waiting at most wait_secs (0: not at all) for the
 * device, and exiting REMOTE_MOUNT_NO_DEVICE when it does not appear (a
 * warm run that did not check the device first then attaches the volume).
 */
void remote_mount_script_wait(const char *device_path, const char *mount_point,
			      const char *owner, int wait_secs, struct strbuf *out);
/* A POSIX sh script that unmounts mount_point; exit 0 when it is not mounted. */
void remote_umount_script(const char *mount_point, struct strbuf *out);

#endif

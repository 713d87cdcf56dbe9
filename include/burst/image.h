/*
 * image.h - baking the cargo-burst build image (`cargo burst image build`).
 *
 * A bake: a short-lived server (name cargo-burst-bake-<UTC timestamp>,
 * labels managed-by=cargo-burst, owner=<id>, role=bake, deadline=<UNIX s>)
 * is created from ubuntu-24.04 in the first configured location that is
 * not sold out, with the embedded cloud-config (image/user-data.yaml) plus
 * a generated, pinned ssh host key as user_data and the user's ssh key
 * registered.  It provisions itself and powers off; the tool waits for
 * `off` (bounded), snapshots it with our labels (managed-by, owner,
 * role=image, version=<tool version>, format=<image format>, baked=<UTC
 * date>), waits until the snapshot is available, deletes the bake server
 * and applies the retention rule: keep the newest snapshot_keep snapshots
 * labelled managed-by=cargo-burst, role=image and owner=<this owner>, delete
 * older ones of ours, never touch anything else.
 *
 * Crash safety: before the create this process claims the state reaper
 * record ("bake", <server name>) with the bake's deadline, starts a
 * detached watcher (`cargo-burst burst image __watch-bake <name>`,
 * image_bake_watch()) and writes an intent row.  The watcher waits for the
 * bake process to end: when it ended without deleting the server (kill -9,
 * a crash, even during the create call), the watcher deletes the server
 * once its deadline label has passed.
 * image_bake_sweep() does the same for every abandoned bake of ours (each
 * `cargo burst image build` and `cargo burst image sweep` runs it).
 *
 * Interrupts: the bake polls proc_interrupted() (proc_catch_signals(true)
 * must be on); after SIGINT/SIGTERM it deletes the bake server (and a
 * snapshot still being created) and fails with BURST_EXIT_INTERRUPTED.
 */
#ifndef BURST_IMAGE_H
#define BURST_IMAGE_H

#include <time.h>

#include "burst/error.h"
#include "burst/strbuf.h"
#include "burst/strvec.h"
#include "burst/util.h"

struct hcloud;
struct hcloud_images;
struct hcloud_labels;
struct burst_state;

/* The system image a bake starts from. */
#define IMAGE_BASE "ubuntu-24.04"
/* Where the bake logs, on the bake server. */
#define IMAGE_BAKE_LOG "/var/log/cargo-burst-bake.log"
/* Default bound on the wait for the bake server to power off (seconds). */
#define IMAGE_BAKE_TIMEOUT_SECS (30 * 60)
/* Time allowed after the bake for the snapshot (seconds). */
#define IMAGE_SNAPSHOT_SECS (30 * 60)
/* Lines of the bake log shown after a failure. */
#define IMAGE_LOG_TAIL_LINES 40
/* The kind of the state reaper record of a running bake. */
#define IMAGE_REAPER_KIND "bake"

/* The bake server's name: "cargo-burst-bake-YYYYMMDD-HHMMSS" (UTC; allocated). */
char *image_bake_name(int64_t now);
/* Set the labels of a bake server on l: ours, role=bake, deadline. */
void image_bake_labels(struct hcloud_labels *l, const char *owner_id, int64_t deadline);
/*
 * Set the labels of a baked snapshot on l: ours, role=image, version,
 * format (burst_image_format_version) and baked=YYYYMMDDTHHMMSSZ.
 */
void image_snapshot_labels(struct hcloud_labels *l, const char *owner_id,
			   const char *version, int64_t baked_at);
/* The default snapshot description (allocated). */
char *image_default_description(const char *version, int64_t baked_at);
/*
 * The bake's user_data: the embedded cloud-config followed by the ssh_keys
 * block that installs the pinned host key (appended to out).  -1 when the
 * result would exceed Hetzner's 32 KiB.
 */
int image_user_data(const char *host_priv, const char *host_pub, struct strbuf *out);

/*
 * The retention rule, pure: among imgs, the snapshots that are ours
 * (type snapshot, labels managed-by=cargo-burst, role=image, owner ==
 * owner_id) and of architecture arch ("x86" or NULL, "arm64":
 * provision_image_arch(); each architecture keeps its own), newest first
 * (created, then id); the ones after the first `keep` (at least 1) get
 * their ids appended to doomed.  protect_id (0 = none) is never doomed and
 * counts as kept.  Returns the number doomed.
 */
size_t image_retention_plan(const struct hcloud_images *imgs, const char *owner_id,
			    const char *arch, int64_t keep, int64_t protect_id,
			    int64_t **doomed, size_t *n);

/*
 * List our snapshots and delete the ones image_retention_plan() dooms,
 * recording a "terminated" event (reason "retention") for each; *deleted
 * counts them (may be NULL).  A failed delete is reported in err after the
 * others were tried.
 */
int image_retention_apply(struct hcloud *api, struct burst_state *st, const char *owner_id,
			  const char *arch, int64_t keep, int64_t protect_id, size_t *deleted,
			  struct burst_error *err);

/*
 * Delete the bake servers of owner_id whose deadline label is at or before
 * now (INT64_MAX: whatever their deadline, as `down` does) and that no live
 * process is baking (state reaper record), recording
 * "terminated" (reason "reap") events.  *deleted counts them (may be NULL).
 */
int image_bake_sweep(struct hcloud *api, struct burst_state *st, const char *owner_id,
		     int64_t now, size_t *deleted, struct burst_error *err);

/*
 * The bake watcher: wait until no live process holds the reaper record of
 * the bake server `name` (checked every second, no API call), then look
 * the server up by name: none -> done; ours (role=bake, owner) -> wait for
 * its deadline label and delete it (reason "reap").  Returns 0 when
 * nothing is left to do, -1 with err when the server could not be deleted.
 */
int image_bake_watch(struct hcloud *api, struct burst_state *st, const char *name,
		     struct burst_error *err);

/* What a bake needs (all borrowed). */
struct image_bake_opts {
	struct hcloud *api;
	struct burst_state *state;
	const char *server_type;        /* the bake server's type */
	const char *arch;               /* "x86" (or NULL) or "arm64": of server_type;
					 * labels the snapshot, retention per arch */
	const struct strvec *regions;   /* locations, in order of preference */
	const char *description;        /* NULL = image_default_description() */
	bool keep_on_failure;           /* keep the bake server after a failure */
	int64_t timeout_secs;           /* bound on the wait for power-off */
	int64_t snapshot_secs;          /* bound on the snapshot (0 = IMAGE_SNAPSHOT_SECS) */
	const char *watcher_exe;        /* cargo-burst, to start the bake watcher; NULL = none */
	int64_t snapshot_keep;          /* retention: newest N of ours (>= 1) */
	uint64_t poll_ms;               /* status poll interval (0 = 2000) */
	const char *ssh_key_path;       /* the user's private key */
	const char *ssh_pub_key_path;   /* ... and its public key */
	const char *ssh_user;           /* NULL = root */
	int ssh_port;                   /* 0 = 22 */
};

/* What a bake produced. */
struct image_bake_result {
	int64_t image_id;         /* the new snapshot, 0 when none */
	char *description;
	int64_t server_id;        /* the bake server (deleted unless kept) */
	char *server_name;
	char *server_ip;
	bool server_kept;         /* left up (--keep-on-failure) */
	size_t snapshots_deleted; /* by retention */
	char *log_tail;           /* last lines of the bake log after a failure */
};

/* Free the strings of a result. */
void image_bake_result_release(struct image_bake_result *r);

/*
 * Run one bake (see the header comment): 0 with r filled, or -1 with err
 * (BURST_EXIT_INTERRUPTED after an interrupt).  The bake server is gone on
 * return unless r->server_kept.
 */
int image_bake(const struct image_bake_opts *o, struct image_bake_result *r,
	       struct burst_error *err);

#endif

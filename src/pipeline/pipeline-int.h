/* pipeline-int.h - the state of one run, shared by the files of src/pipeline. */
#ifndef BURST_PIPELINE_INT_H
#define BURST_PIPELINE_INT_H

#include <pthread.h>

#include "burst/error.h"
#include "burst/pipeline.h"
#include "burst/provision.h"
#include "burst/remote.h"
#include "burst/strbuf.h"
#include "burst/strvec.h"

struct burst_config;
struct burst_state;
struct hcloud;

/* The lease heartbeat runs on its own thread with its own DB connection. */
#define HEARTBEAT_SECS 20
/*
 * ...and stops renewing the lease when the tool made no progress (see
 * proc_last_activity_ms()) for this long outside provisioning (a bounded
 * section): longer than any other bounded wait of the tool outside its
 * child loop (the shards' servers, 10 min), so only a wedged run loses its
 * lease (heartbeat.c).
 */
#define HEARTBEAT_STALL_SECS (20 * 60)
/* How long the ssh master outlives a run (the next run reuses it). */
#define MASTER_PERSIST_SECS 120

struct heartbeat {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, running;
	char *dir;
	int64_t lease_id;
	uint64_t interval_ms; /* 0 = HEARTBEAT_SECS */
	uint64_t stall_ms;    /* 0 = HEARTBEAT_STALL_SECS */
	bool stalled;         /* gave the lease up (under mu) */
	unsigned renewals;    /* leases renewed (under mu) */
	/* more leases, renewed but never released here (--shards' servers; under mu) */
	int64_t *extra;
	size_t nr_extra, alloc_extra;
};

/*
 * Renew lease_id every interval until pipeline_heartbeat_stop(), unless
 * the run stalls (pipeline_run_stalled(stall_ms)): then never again.
 */
void pipeline_heartbeat_start(struct heartbeat *hb, const char *dir, int64_t lease_id);
/* Stop the thread and free; fine when never started. */
void pipeline_heartbeat_stop(struct heartbeat *hb);
/*
 * Renew lease_id too, from the next beat on (the extra servers of
 * --shards); a stall stops renewing it but leaves it to its owner.  Only
 * on a started heartbeat.
 */
void pipeline_heartbeat_add(struct heartbeat *hb, int64_t lease_id);
/* Renew lease_id no more (before its owner releases it). */
void pipeline_heartbeat_drop(struct heartbeat *hb, int64_t lease_id);
/*
 * Has the tool shown no activity (proc.h) for longer than stall_ms, outside
 * a bounded section?
 */
bool pipeline_run_stalled(uint64_t stall_ms);
/*
 * Enter / leave a section whose waits all have deadlines of their own
 * (provisioning): it never counts as a stall, however long it takes.
 */
void pipeline_bounded_begin(void);
void pipeline_bounded_end(void);

struct run {
	const struct pipeline_job *job; /* what the CLI handed over (pipeline.h) */
	const struct burst_config *cfg;
	struct burst_state *st;
	struct hcloud *api;
	const struct run_request *req; /* job->req: worked out at the CLI edge */
	const char *verb;
	struct burst_project project; /* the workspace: root, hash */

	/* local facts */
	bool has_lib;
	char *local_target_dir;
	struct strvec env;      /* NAME=value to export remotely */
	struct strvec excludes; /* answered large directories */

	/* paths of the tool */
	char *known_hosts;
	char *control_dir;
	char *scratch_dir;
	char *pid_file; /* remote */

	/* the server */
	struct remote_host host;
	struct provision_server srv;
	struct provision_volume vol;
	bool cold, used_api;
	bool provisioned;   /* a server (warm or cold) is ready for this run */
	bool reapers_armed; /* pipeline_arm_reapers() succeeded */
	/* warm: the device was not looked for; the mount script tells */
	bool volume_unverified;
	bool device_gone; /* ...and it told: REMOTE_MOUNT_NO_DEVICE */
	/* the last push: its index is written beside the remote cargo */
	struct sync_push *push;

	/* records */
	int64_t run_id, lease_id;
	struct heartbeat hb;
	uint64_t t0, provision_ms, sync_ms, cargo_ms, fetch_ms;
	int exit_code; /* the remote cargo's, -1 until known */
	bool interrupted;
	bool cargo_started;
	struct strbuf tail; /* the end of the remote output */

	/* extras (pipeline.h) */
	bool byo;           /* a bring-your-own host: no API, volume, reapers */
	char *display;      /* "user@machine:port" for messages (BYO) */
	bool shell;         /* `cargo burst ssh` */
	char *rustc;        /* the remote `rustc -V` for the summary */
	bool install_toolchain;
	char *cache_json[2]; /* sccache's stats JSON before and after cargo */
	char *df_line;      /* the volume's `df -Pk` line after cargo */
	bool up;            /* `cargo burst up`: provision, mount, sync; no cargo */
	bool was_up;        /* ...the server and the volume were up already */
	bool joined;        /* took the server another invocation provisioned
			       while this one waited for the lock */

	/* paths and the current directory (paths.c) */
	struct pipeline_paths paths; /* mapped cargo args, remote cwd */
	bool paths_mapped;           /* paths is filled */
	bool json_map;               /* --message-format=json*: map stdout back */
	bool json_first_seen;        /* the first stdout line has been looked at */
	char *remote_paths[3];       /* source root, target dir, cargo home */
	struct strbuf json_pending;  /* a long stdout line arriving in pieces */
	bool json_long;              /* ...too long: passing through as it comes */
};

/* Connect to the BYO host (r->host filled from the spec). */
int pipeline_byo_connect(struct run *r, const char *spec, struct burst_error *err);
/* Run the remote shell or command of `cargo burst ssh`; sets r->exit_code. */
int pipeline_remote_shell(struct run *r, struct burst_error *err);
/* Before the remote cargo: is the pinned toolchain on the server? */
void pipeline_check_toolchain(struct run *r);

/* test --shards N: archive, extra servers, partitioned runs (shard.c). */
int pipeline_shard_test(struct run *r, struct burst_error *err);
/* Mount the volume and rsync the workspace, concurrently. */
int pipeline_sync_and_mount(struct run *r, struct burst_error *err);
/* Run the remote cargo, streaming; sets r->exit_code / r->interrupted. */
int pipeline_remote_cargo(struct run *r, struct burst_error *err);
/* Fetch the artifacts of a build or the criterion reports of a bench. */
int pipeline_fetch(struct run *r, struct burst_error *err);
/* Make sure the server's and the volume's reapers are armed. */
void pipeline_arm_reapers(struct run *r);

#endif

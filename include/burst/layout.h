/*
 * layout.h - the project's identity and where things live: one `project`
 * value (workspace root, its hash, the hash of its volume names) and one
 * function per path of the remote layout (source tree, cache/volume,
 * target, sccache, pid files, shard dirs) and of the tool's own ssh files
 * (known_hosts, the ControlMaster dir).  Every other module asks here
 * instead of formatting a path itself, so a path changes in one place.
 *
 * The remote layout of a project with hash H:
 *   build server: /mnt/cache/H               the volume's mount point (cache)
 *                 /mnt/cache/H/src           the synced source tree (on the
 *                                            volume: a new server keeps it)
 *                 /root/burst/H/cargo-P.pid  the pid of run P's remote shell
 *                 /root/burst/H/shard-P      test --shards scratch of run P
 *   BYO host:     ~/.cache/cargo-burst/H/src, .../cargo-P.pid; the cache is
 *                 ~/.cache/cargo-burst/H itself (home-relative paths)
 *   cache:        <cache>/target, <cache>/sccache, <cache>/nextest/...
 * These are fixed, so ssh fingerprints, sccache's and cargo's caches stay
 * valid from run to run.
 */
#ifndef BURST_LAYOUT_H
#define BURST_LAYOUT_H

#include "burst/util.h"

/* Length of a project hash (hex digits). */
#define PROJECT_HASH_LEN 12

/* Where projects live on a build server and on a BYO host (home-relative). */
#define LAYOUT_REMOTE_BASE "/root/burst"
#define LAYOUT_CACHE_BASE "/mnt/cache"
#define LAYOUT_BYO_BASE ".cache/cargo-burst"

/* A workspace's identity; project_init() / project_release(). */
struct burst_project {
	char *root;                             /* absolute workspace root */
	char hash[PROJECT_HASH_LEN + 1];        /* sha256(root): label, state key */
	char volume_hash[PROJECT_HASH_LEN + 1]; /* sha256(owner/hash): volume names */
};

/*
 * Fill p for the workspace at root (absolute) built for arch (NULL or "x86":
 * the plain hash; "arm64": project_hash_arch()); owner_id (this machine's
 * state owner id, or NULL when not known yet) goes into volume_hash:
 * volume names are unique per account, and two machines of one user can
 * have a workspace at the same path.
 */
void project_init(struct burst_project *p, const char *root, const char *arch,
		  const char *owner_id);
/* Free p's strings (NULL-safe; p can be initialised again). */
void project_release(struct burst_project *p);
/* The project hash of root: 12 hex digits of sha256(root). */
void project_hash(const char *root, char out[PROJECT_HASH_LEN + 1]);
/*
 * The project hash of root built for arch ("x86" or NULL: project_hash();
 * "arm64": another hash, so the arm64 build has its own volume, state row,
 * leases, `project` label and remote dirs: a target/ of one architecture is
 * never used by the other).
 */
void project_hash_arch(const char *root, const char *arch,
		       char out[PROJECT_HASH_LEN + 1]);
/* The hash in a project's volume names: 12 hex digits of sha256(owner/hash). */
void project_volume_hash(const char *owner_id, const char *hash,
			 char out[PROJECT_HASH_LEN + 1]);

/*
 * ---- the remote layout (all allocated) ----
 * byo: a bring-your-own host (home-relative paths) instead of a build
 * server.
 */
/* The project's own dir: /root/burst/H, or .cache/cargo-burst/H. */
char *layout_project_dir(const char *hash, bool byo);
/*
 * The synced source tree: <cache>/src, i.e. on the project's volume
 * (/mnt/cache/H/src; synced only once the volume is mounted), or
 * ~/.cache/cargo-burst/H/src on a BYO host.  A --shards extra server (no
 * volume) uses the same path on its root disk.
 */
char *layout_src_dir(const char *hash, bool byo);
/* The cache: the volume's mount point /mnt/cache/H, or the BYO project dir. */
char *layout_cache_dir(const char *hash, bool byo);
/* CARGO_TARGET_DIR: <cache>/target. */
char *layout_target_dir(const char *hash, bool byo);
/* SCCACHE_DIR: <cache>/sccache. */
char *layout_sccache_dir(const char *hash, bool byo);
/* The pid file of run pid's remote shell: <project dir>/cargo-<pid>.pid. */
char *layout_pid_file(const char *hash, bool byo, long pid);
/* test --shards: run pid's scratch dir on each server, /root/burst/H/shard-<pid>. */
char *layout_shard_dir(const char *hash, long pid);
/* test --shards: run pid's nextest archive, <cache>/nextest/archive-<pid>.tar.zst. */
char *layout_nextest_archive(const char *hash, long pid);

/*
 * ---- the tool's ssh files (local, allocated) ----
 */
/* The known_hosts file the tool owns: <state dir>/known_hosts. */
char *layout_known_hosts(const char *state_dir);
/*
 * Where runs keep their ssh ControlMaster sockets, so other commands can
 * reach a master a run left: <state dir>/cm, or a short /tmp path when
 * that would not fit in sun_path.
 */
char *layout_control_dir(const char *state_dir);
/*
 * The local index of the last sync of the workspace at root to remote_dir
 * (remote/syncindex.c): <state dir>/sync/<16 hex of sha256(remote_dir\nroot)>.idx;
 * one per project and remote dir, so another server's sync replaces it.
 */
char *layout_sync_index(const char *state_dir, const char *remote_dir, const char *root);

#endif

/* reaper-int.h - shared by the files of src/reaper (see reaper.h). */
#ifndef BURST_REAPER_INT_H
#define BURST_REAPER_INT_H

#include "burst/error.h"
#include "burst/strbuf.h"
#include "burst/util.h"

struct burst_config;
struct burst_state;
struct hcloud;
struct hcloud_labels;

#define MOD "reaper"
/* How long an action (detach, delete) may take. */
#define REAPER_ACTION_DEADLINE_MS (5 * 60 * 1000)
/* How long the remote unmount may take. */
#define REAPER_UMOUNT_TIMEOUT_MS 30000
/* A pending intent younger than this may still be in flight. */
#define REAPER_INTENT_GRACE_SECS 60

/* What every operation needs. */
struct reaper_ops {
	struct burst_state *st;
	struct hcloud *api;
	const struct burst_config *cfg;
	const char *owner; /* our owner id */
	const char *reason; /* "reap", "down", "orphaned" */
	struct strbuf *report; /* one line per deleted resource, or NULL */
};

/* Do the labels say managed-by=cargo-burst and owner=<owner>? */
bool reaper_labels_ours(const struct hcloud_labels *l, const char *owner);
/* Is this API failure one that retrying will not fix (a human must act)? */
bool reaper_error_needs_human(const struct burst_error *err);
/* Is this a 404 not_found? */
bool reaper_error_not_found(const struct burst_error *err);

/*
 * Delete the server hcloud_id: unmount our volumes on it (best effort),
 * detach and await them, DELETE and await.  *gone_before is set when it
 * did not exist any more.  Refuses a server without our labels.
 */
int reaper_delete_server(struct reaper_ops *o, int64_t hcloud_id, bool *gone_before,
			 struct burst_error *err);
/*
 * Delete the volume hcloud_id: unmount on its server (best effort), detach
 * and await, DELETE.  Refuses a volume without our labels.
 */
int reaper_delete_volume(struct reaper_ops *o, int64_t hcloud_id, bool *gone_before,
			 struct burst_error *err);

/* Record a server as terminated (event, row deleted, known_hosts entry). */
void reaper_record_server_gone(struct reaper_ops *o, int64_t row_id, int64_t hcloud_id,
			       const char *name, const char *ip);
/* Record a volume as terminated (event). */
void reaper_record_volume_gone(struct reaper_ops *o, int64_t hcloud_id, const char *name,
			       int64_t size_gb);

/* The known_hosts file the tool owns (allocated). */
char *reaper_known_hosts_path(struct burst_state *st);
/* The pinned key line for ip in our known_hosts, or NULL (allocated). */
char *reaper_pinned_key(struct burst_state *st, const char *ip, int port);

/*
 * The API client for a resource recorded on endpoint: api when endpoint is
 * NULL (an old row) or the config's own, else a new client for endpoint
 * with the config's token, returned in *own too (free it).  NULL + err.
 */
struct hcloud *reaper_api_for(struct hcloud *api, const struct burst_config *cfg,
			      const char *endpoint, struct hcloud **own, struct burst_error *err);

/* Wake a reaper early (its deadline moved earlier). */
void reaper_wake(pid_t pid);

#endif

/*
 * provision.h - getting a server and the project's volume: names and labels
 * of everything we create, the image by label, the shared server with
 * location fallback, the project volume (created concurrently with the
 * server), attach, host key pinning and the wait for ssh.
 *
 * Everything we create carries the labels managed-by=cargo-burst,
 * owner=<state owner id>, role=server|volume and, on volumes,
 * project=<project hash>; the reapers and `down` find resources by them.
 */
#ifndef BURST_PROVISION_H
#define BURST_PROVISION_H

#include "burst/error.h"
#include "burst/hcloud.h"
#include "burst/layout.h"
#include "burst/strvec.h"
#include "burst/util.h"

struct hcloud;
struct hcloud_labels;
struct burst_state;
struct state_server;
struct remote_host;

/* Length of a project hash (hex digits; the project value is in layout.h). */
#define PROVISION_HASH_LEN PROJECT_HASH_LEN
/* Hetzner's longest volume name. */
#define PROVISION_NAME_MAX 64

/* Is arch (the config's name: "x86", "arm64") arm64? */
bool provision_arch_is_arm(const char *arch);
/* The API's name of arch: "x86" or "arm" (server types' and images' `architecture`). */
const char *provision_arch_api(const char *arch);
/*
 * The project's volume name: "cargo-burst-<sanitised leaf>-<hash>", plus
 * "-arm64" for arch "arm64" (x86 or NULL: nothing, the names of old
 * volumes), plus "-<location>" when location is not NULL (a project that
 * moved to another location while its old volume still exists).  At most
 * 64 characters of [a-z0-9-], alphanumeric at both ends (allocated).
 */
char *provision_volume_name(const char *root, const char *hash,
			    const char *location, const char *arch);
/* The shared server's name: "cargo-burst-<owner>-<base36 time>" (allocated). */
char *provision_server_name(const char *owner_id, int64_t now);
/* The name of the user's ssh key in the API (allocated). */
char *provision_ssh_key_name(const char *owner_id, const char *fingerprint);
/*
 * Set our labels on l: managed-by, owner, role ("server", "volume") and,
 * when project_hash is not NULL, project.  (Servers, volumes and images
 * also get `arch` = "x86" | "arm64" from their creator; none means x86.)
 */
void provision_labels(struct hcloud_labels *l, const char *role,
		      const char *owner_id, const char *project_hash);
/* The labels as a JSON object, for intent rows (allocated). */
char *provision_labels_json(const struct hcloud_labels *l);
/* The device a volume appears as on the server (allocated). */
char *provision_device_path(int64_t volume_id);
/*
 * The order in which locations are tried: the project's volume location
 * first (keeps its cache warm), then the configured regions, without
 * duplicates; appended to out.  volume_location may be NULL.
 */
void provision_location_order(const char *volume_location,
			      const struct strvec *regions, struct strvec *out);
/*
 * Keep only the locations (in order) where server type `type` can be
 * ordered now (hcloud_server_type_usable_in: offered and not deprecated
 * there); one GET /server_types.  Each dropped location is named on the
 * terminal.  An unknown type keeps every location (the create refuses it).
 * -1 with err when the lookup fails or no location is left.
 */
int provision_usable_locations(struct hcloud *api, const char *type,
			       struct strvec *locations, struct burst_error *err);

/* ---- one server lifecycle (server.c) ---------------------------------- */

/* Is this create error "sold out here, try elsewhere"? */
bool provision_sold_out(const struct burst_error *err);
/*
 * Do the labels say managed-by=cargo-burst and owner=owner_id (and, when
 * role is not NULL, role=role)?  The one test before adopting or deleting.
 */
bool provision_is_ours(const struct hcloud_labels *l, const char *owner_id,
		       const char *role);

/*
 * One server create, for every caller (the cold path, the extra servers
 * of --shards, the bake).  All pointers are borrowed.
 */
struct provision_create {
	struct hcloud *api;
	struct burst_state *state;
	const char *owner_id;
	const char *role;                   /* our role label: server, shard, bake */
	struct hcloud_server_opts *so;      /* name, type, image, keys, user_data, labels;
					     * location (and name) are set here */
	const struct strvec *locations;     /* tried in order */
	/*
	 * The cost guard: refused (BURST_EXIT_CONFIG) when `limit` servers of
	 * ours are up in the state (rows provisioning or ready; extra servers
	 * of --shards only when count_shards).  0: no guard.  Checked under
	 * the provisioning lock, held until the new row is recorded.
	 */
	int64_t limit;
	bool count_shards;
	bool rename;         /* a name taken by a server we cannot adopt: "<name>-N" */
	bool quiet;          /* no terminal lines (threads): debug log only */
	/* before each attempt (NULL: "Provisioning <type> in <location>") */
	void (*announce)(void *data, const char *location);
	/* before each POST: adjust so (e.g. volumes for this location) */
	void (*prepare)(void *data, struct hcloud_server_opts *so);
	/*
	 * A refusal the caller can fix (e.g. a stale ssh key id): 1 retry the
	 * same location (err released here), 0 not the caller's, -1 fail (err).
	 */
	int (*refused)(void *data, struct hcloud_server_opts *so, struct burst_error *err);
	void *data;
	const char *sold_out_hint; /* hint when every location is sold out */
	/* the state row (NULL: none); hcloud_id, name, ip, location are set here */
	struct state_server *row;
	/* > 0: wait (bounded) until the server runs */
	uint64_t wait_ms;
	hcloud_progress_fn progress;
	void *progress_data;
};

/* What provision_server_create() made. */
struct provision_created {
	struct hcloud_server_created sc; /* the server (recovered: adopted by name) */
	char *name;                      /* the name it got */
	char *location;
	int64_t row_id;                  /* state row, 0 when none */
	uint64_t posted_ms;              /* when the create was accepted */
};

/* Free what a create made (not the server). */
void provision_created_release(struct provision_created *c);

/*
 * The lifecycle of a new server: cost guard -> intent row -> POST in the
 * first usable location (where the type is deprecated or not offered:
 * skipped up front; sold-out ones skipped, one notice each) ->
 * recovery when the name is taken or the reply was lost (our own labelled
 * server that the state does not know is adopted; else another name) ->
 * the row recorded (status provisioning) and a `provisioned` event -> the
 * wait until running (c->wait_ms).  On failure after the create,
 * out->row_id / out->sc.server.id say what exists.
 */
int provision_server_create(const struct provision_create *c, struct provision_created *out,
			    struct burst_error *err);

/*
 * The cost guard alone: -1 (BURST_EXIT_CONFIG, naming every server that is
 * up and how to remove it) when `limit` servers of ours are up.
 */
int provision_server_guard(struct burst_state *st, int64_t limit, bool count_shards,
			   struct burst_error *err);

/*
 * Delete a server of ours now, through the reapers' routine (volumes
 * detached first), and record it: row `deleted` (row_id may be 0) and a
 * `terminated` event with reason.
 */
int provision_server_discard(struct hcloud *api, struct burst_state *st, int64_t row_id,
			     int64_t hcloud_id, const char *name, const char *rkind,
			     const char *reason, struct burst_error *err);

/* ---- talking to the API ---------------------------------------------- */

/*
 * The newest available snapshot labelled managed-by=cargo-burst,role=image
 * (found by label, never by a remembered id) of architecture arch ("x86"
 * or NULL, "arm64": the image's `architecture`, else its `arch` label,
 * else x86), preferring those with our owner label.  None: -1 with an
 * error that says to run `cargo burst image build [--arch arm64]`.
 */
int provision_find_image(struct hcloud *api, const char *owner_id, const char *arch,
			 int64_t *image_id, struct burst_error *err);
/*
 * The architecture of an image as provision_find_image() reads it: "x86" or
 * "arm64" from the API's `architecture` ("other" for a value it does not
 * know, used by no run), else from the `arch` label, else "x86" (snapshots
 * baked before architectures were told apart).
 */
const char *provision_image_arch(const struct hcloud_image *im);
/*
 * The newest server row of arch (not deleted, shards excepted), as
 * state_server_current() for one architecture (a row's arch is the API's,
 * else its type's: state_server_arch()): 1, 0 none, -1.
 */
int provision_current_server(struct burst_state *st, const char *arch,
			     struct state_server *out, struct burst_error *err);
/*
 * The MD5 fingerprint ("aa:bb:...") of a public key file, as the API shows
 * it, computed with ssh-keygen -l -E md5 (allocated).  NULL + err.
 */
char *provision_key_fingerprint(const char *pub_path, struct burst_error *err);
/*
 * Make sure the user's public key is registered in the API (looked up by
 * fingerprint, created when absent, with an intent row); *key_id is its id.
 */
int provision_ensure_ssh_key(struct hcloud *api, struct burst_state *st,
			     const char *owner_id, const char *pub_path,
			     int64_t *key_id, struct burst_error *err);

/* What provisioning needs (all borrowed). */
struct provision_opts {
	struct hcloud *api;         /* this thread's client */
	const char *endpoint;       /* the API endpoint (keys the remembered ssh key id) */
	const char *token;
	struct burst_state *state;
	const char *owner_id;
	const char *project_hash;
	const char *workspace_root;
	const char *server_type;
	const char *arch;             /* "x86" (or NULL) or "arm64": image, labels */
	const struct strvec *regions;
	int64_t volume_gb;
	const char *ssh_pub_key_path; /* the user's key, registered via the API */
	const char *scratch_dir;      /* for generating host keys (0700) */
	const char *control_dir;      /* ssh ControlMaster sockets */
	int64_t keep_alive_secs;
	bool no_reap;
	uint64_t ssh_deadline_ms;     /* how long to wait for ssh (0 = 180 s) */
	int64_t max_servers;          /* cost guard (0 = none) */
};

/* The server a run uses. */
struct provision_server {
	int64_t row_id;     /* state row */
	int64_t hcloud_id;
	char *name;
	char *ip;
	char *location;
	char *host_key_pub;
};

/* Free the strings of a server. */
void provision_server_release(struct provision_server *s);

/* The project's volume on that server. */
struct provision_volume {
	int64_t hcloud_id;
	char *name;
	char *location;
	bool created;   /* created by this run: the first build is cold */
	bool moved;     /* created because the project changed location */
};

/* Free the strings of a volume. */
void provision_volume_release(struct provision_volume *v);

/*
 * The cold path (call with the provisioning lock held): image by label,
 * the user's ssh key (its id remembered in the state directory after the
 * first registration), a host key pair pinned in host->known_hosts and
 * sent in user_data, the server created in the first location that is not
 * sold out (intents before every create, a one-line notice per fallback),
 * with the project's volume (known from the state) in the create when it
 * is free there; otherwise the volume is created right after the server in
 * the server's location.  One waiter polls every action of both (one GET
 * /actions per poll); an attach, when needed, is sent the moment the
 * server is unlocked and runs during the wait for ssh (with progress).  host must carry user, port, identity and known_hosts; its
 * host and control_path are set here.  Everything is recorded in the
 * state (server row `ready`, project volume, events).  The create goes
 * through provision_server_create() (cost guard: o->max_servers).  A server
 * whose ssh never answers is deleted here (volume detached first; srv is
 * then empty).  On failure after the server exists otherwise,
 * srv->row_id is set so the caller can still arm its reaper.
 */
int provision_cold(const struct provision_opts *o, struct remote_host *host,
		   struct provision_server *srv, struct provision_volume *vol,
		   struct burst_error *err);

/*
 * A server that a run left half provisioned (its start failed, or the run
 * was killed during the wait for ssh) and that does not answer now (call
 * with the provisioning lock held; host->host is its address): when the
 * API says it runs, wait for its ssh once more, as long as the cold path
 * would; when it is not running or still does not answer, delete it (its
 * volume detached first) rather than create another beside it.  1 it
 * answers now, 0 deleted or gone (provision anew), -1 with err (not
 * deleted: its reaper will, and the cost guard refuses another create
 * meanwhile).
 */
int provision_recover_half_done(const struct provision_opts *o, struct remote_host *host,
				int64_t row_id, int64_t hcloud_id, const char *name,
				struct burst_error *err);

/*
 * A live server that does not have this project's volume attached: find
 * the project's volume (state, then labels) or create one in the server's
 * location, and attach it (API calls).
 */
int provision_project_volume(const struct provision_opts *o,
			     const struct provision_server *srv,
			     struct provision_volume *vol, struct burst_error *err);

/* ---- prices ------------------------------------------------------------ */

/* Live prices (net, per the API's price list); -1 when not in the list. */
struct provision_prices {
	char currency[8];        /* "EUR" */
	double server_hourly;    /* the server type in the location, per hour */
	double volume_gb_month;  /* a volume, per GB and month */
	bool cached;             /* from the price list remembered today */
};

/*
 * The prices of server type `type` in location (either may be NULL) from
 * GET /pricing, remembered for a day in <state_dir>/pricing.json (NULL:
 * not remembered) and read from there while it is younger.  Amounts from
 * the API are validated (finite, >= 0).  0, or -1 with err.
 */
int provision_prices_get(struct hcloud *api, const char *state_dir, const char *type,
			 const char *location, struct provision_prices *out,
			 struct burst_error *err);
/* An amount for people: "€0.0095", "€1.20", "USD 0.50" (allocated). */
char *provision_price_format(double amount, const char *currency);
/*
 * " (€0.0095/h, billed per started hour)" for o's server type in location,
 * or "" when no price is known (allocated): the cold path's status line.
 * Adds no API request while the remembered price list is fresh.
 */
char *provision_price_note(const struct provision_opts *o, const char *location);

#endif

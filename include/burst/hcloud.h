/*
 * hcloud.h - Hetzner Cloud REST API client (libcurl + cJSON).
 *
 * One `struct hcloud` per thread: it owns one CURL easy handle (keep-alive)
 * and is synchronous.  Two clients may be used from two threads at once; the
 * module keeps no global mutable state besides curl_global_init (done once).
 *
 * Every call returns 0 (or a pointer) on success and -1 (or NULL) on failure,
 * filling the caller's struct burst_error with exit_code BURST_EXIT_API, the
 * HTTP status, Hetzner's error code/message/details, the X-Correlation-Id, a
 * message saying what failed ("creating server 'x': ...") and a hint.
 *
 * Retries: network errors, HTTP 500/502/503/504, `conflict`, `timeout`,
 * `locked`, `server_error`, `unavailable` and `rate_limit_exceeded` (waits
 * until RateLimit-Reset) are retried with capped exponential backoff and
 * jitter, bounded in count and total time.  Creates are never retried blindly:
 * after an ambiguous failure the resource is looked up by name first and, if
 * it exists, returned with `recovered` set (the action id is then unknown:
 * wait on the resource status instead; the *_wait_created helpers do that).
 *
 * Lists follow meta.pagination.next_page with per_page=50.  Structs are
 * embedded values: S_release() frees what they own (and accepts zeroed
 * structs); zero-initialise them before use ({0} is fine).
 *
 * BURST_TRACE=1 logs every request (method, URL, status, latency, bodies
 * truncated at 4 KiB); the Authorization header is never logged and the token
 * is registered for redaction.
 */
#ifndef BURST_HCLOUD_H
#define BURST_HCLOUD_H

#include <time.h>

#include "burst/error.h"
#include "burst/util.h"

#define HCLOUD_DEFAULT_ENDPOINT "https://api.hetzner.cloud/v1"

struct hcloud;

/* ---- labels ----------------------------------------------------------- */

struct hcloud_label {
	char *key;
	char *value; /* never NULL; "" for a key-only label */
};

/* An ordered key/value list (keys unique). */
struct hcloud_labels {
	struct hcloud_label *v;
	size_t nr, alloc;
};

#define HCLOUD_LABELS_INIT { NULL, 0, 0 }

/* Initialise an empty label list. */
void hcloud_labels_init(struct hcloud_labels *l);
/* Free every label; the list is empty and reusable. */
void hcloud_labels_release(struct hcloud_labels *l);
/* Set key to value (NULL = ""), replacing an existing key in place. */
void hcloud_labels_set(struct hcloud_labels *l, const char *key, const char *value);
/* The value of key, or NULL when absent. */
const char *hcloud_labels_get(const struct hcloud_labels *l, const char *key);
/* Copy src into dst (dst released first). */
void hcloud_labels_copy(struct hcloud_labels *dst, const struct hcloud_labels *src);
/* Does `have` carry every key of `want` with the same value? */
bool hcloud_labels_match(const struct hcloud_labels *have, const struct hcloud_labels *want);
/* Is key a valid label key and value a valid value (Hetzner's rules)? */
bool hcloud_label_valid(const char *key, const char *value);
/*
 * Build a label selector "k1==v1,k2==v2" (key-only labels become a presence
 * term "k") from labels; not URL-encoded.  Caller frees.
 */
char *hcloud_labels_selector(const struct hcloud_labels *l);
/* Percent-encode s for a URL query value (RFC 3986 unreserved kept). */
char *hcloud_url_encode(const char *s);

/* ---- typed resources --------------------------------------------------- */

struct hcloud_resource_ref {
	int64_t id;
	char *type; /* "server", "volume", "image", ... */
};

struct hcloud_action {
	int64_t id;
	char *command;       /* "create_server", "start_server", ... */
	char *status;        /* "running", "success", "error" */
	int progress;        /* 0..100 */
	char *error_code;    /* only when status is "error" */
	char *error_message; /* only when status is "error" */
	time_t started, finished; /* 0 when unknown / still running */
	struct hcloud_resource_ref *resources;
	size_t nr_resources;
};

struct hcloud_actions {
	struct hcloud_action *v;
	size_t nr, alloc;
};

struct hcloud_server {
	int64_t id;
	char *name;
	char *status;      /* initializing, starting, running, stopping, off, ... */
	char *ipv4;        /* public_net.ipv4.ip, or NULL (also when invalid) */
	bool ipv4_invalid; /* the API sent an ipv4.ip that is not an IPv4 address */
	char *location;    /* location.name, else datacenter.location.name; may be NULL */
	char *datacenter;  /* datacenter.name (deprecated by the API; may be NULL) */
	char *server_type; /* server_type.name */
	/*
	 * server_type.architecture: "x86" or "arm"; "unknown" for any other
	 * value; NULL when the API sent none (older answers)
	 */
	char *architecture;
	int64_t image_id;  /* 0 when none */
	struct hcloud_labels labels;
	int64_t *volumes;
	size_t nr_volumes;
	time_t created;
	bool locked;
};

struct hcloud_servers {
	struct hcloud_server *v;
	size_t nr, alloc;
};

struct hcloud_volume {
	int64_t id;
	char *name;
	char *status;    /* creating, available */
	int64_t server;  /* attached server id, or 0 */
	char *location;
	int64_t size;    /* GB */
	char *linux_device;
	char *format;    /* ext4, xfs or NULL */
	struct hcloud_labels labels;
	time_t created;
};

struct hcloud_volumes {
	struct hcloud_volume *v;
	size_t nr, alloc;
};

struct hcloud_image {
	int64_t id;
	char *type;   /* system, snapshot, backup, app */
	char *status; /* creating, available, unavailable */
	char *name;   /* system images only */
	char *description;
	struct hcloud_labels labels;
	time_t created;
	double image_size; /* GB; 0 while creating */
	double disk_size;  /* GB */
	int64_t created_from; /* source server id, or 0 */
	char *architecture;
};

struct hcloud_images {
	struct hcloud_image *v;
	size_t nr, alloc;
};

struct hcloud_ssh_key {
	int64_t id;
	char *name;
	char *fingerprint;
	char *public_key;
	struct hcloud_labels labels;
};

struct hcloud_ssh_keys {
	struct hcloud_ssh_key *v;
	size_t nr, alloc;
};

/* Prices are decimal strings in the API; both forms are kept. */
struct hcloud_price {
	char *location; /* NULL for location-independent prices */
	char *hourly_net, *hourly_gross;
	char *monthly_net, *monthly_gross;
	double hourly_net_d, hourly_gross_d;
	double monthly_net_d, monthly_gross_d;
};

/* A location a server type is offered in (server_type.locations[]). */
struct hcloud_server_type_location {
	int64_t id;
	char *name;
	bool deprecated;          /* a deprecation object is present there */
	time_t unavailable_after; /* its unavailable_after, 0 when none/unknown */
};

struct hcloud_server_type {
	int64_t id;
	char *name;
	char *description;
	int cores;
	double memory; /* GB */
	double disk;   /* GB */
	char *cpu_type;     /* shared, dedicated */
	char *architecture; /* x86, arm */
	bool deprecated;    /* top-level flag or object (deprecated by the API) */
	time_t unavailable_after; /* top-level deprecation's, 0 when none/unknown */
	struct hcloud_price *prices;
	size_t nr_prices;
	struct hcloud_server_type_location *locations; /* empty in older answers */
	size_t nr_locations;
};

struct hcloud_server_types {
	struct hcloud_server_type *v;
	size_t nr, alloc;
};

struct hcloud_location {
	int64_t id;
	char *name;
	char *description;
	char *country;
	char *city;
	char *network_zone;
	double latitude, longitude;
};

struct hcloud_locations {
	struct hcloud_location *v;
	size_t nr, alloc;
};

struct hcloud_datacenter {
	int64_t id;
	char *name;
	char *location; /* location name */
	int64_t *supported, *available; /* server type ids */
	size_t nr_supported, nr_available;
};

struct hcloud_datacenters {
	struct hcloud_datacenter *v;
	size_t nr, alloc;
};

struct hcloud_pricing {
	char *currency;
	char *vat_rate;
	double vat_rate_d;
	struct hcloud_server_types server_types; /* id, name, prices only */
	struct hcloud_price volume_gb_month;     /* monthly_* are filled */
	struct hcloud_price image_gb_month;      /* monthly_* are filled */
};

/* Free what an action owns and zero it (NULL and zeroed structs are fine). */
void hcloud_action_release(struct hcloud_action *a);
/* Free what an action list owns and zero it (NULL and zeroed structs are fine). */
void hcloud_actions_release(struct hcloud_actions *l);
/* Free what a server owns and zero it (NULL and zeroed structs are fine). */
void hcloud_server_release(struct hcloud_server *s);
/* Free what a server list owns and zero it (NULL and zeroed structs are fine). */
void hcloud_servers_release(struct hcloud_servers *l);
/* Free what a volume owns and zero it (NULL and zeroed structs are fine). */
void hcloud_volume_release(struct hcloud_volume *v);
/* Free what a volume list owns and zero it (NULL and zeroed structs are fine). */
void hcloud_volumes_release(struct hcloud_volumes *l);
/* Free what an image owns and zero it (NULL and zeroed structs are fine). */
void hcloud_image_release(struct hcloud_image *i);
/* Free what an image list owns and zero it (NULL and zeroed structs are fine). */
void hcloud_images_release(struct hcloud_images *l);
/* Free what an ssh key owns and zero it (NULL and zeroed structs are fine). */
void hcloud_ssh_key_release(struct hcloud_ssh_key *k);
/* Free what an ssh key list owns and zero it (NULL and zeroed structs are fine). */
void hcloud_ssh_keys_release(struct hcloud_ssh_keys *l);
/* Free what a server type owns and zero it (NULL and zeroed structs are fine). */
void hcloud_server_type_release(struct hcloud_server_type *t);
/* Free what a server type list owns and zero it (NULL and zeroed structs are fine). */
void hcloud_server_types_release(struct hcloud_server_types *l);
/* Free what a location owns and zero it (NULL and zeroed structs are fine). */
void hcloud_location_release(struct hcloud_location *l);
/* Free what a location list owns and zero it (NULL and zeroed structs are fine). */
void hcloud_locations_release(struct hcloud_locations *l);
/* Free what a datacenter owns and zero it (NULL and zeroed structs are fine). */
void hcloud_datacenter_release(struct hcloud_datacenter *d);
/* Free what a datacenter list owns and zero it (NULL and zeroed structs are fine). */
void hcloud_datacenters_release(struct hcloud_datacenters *l);
/* Free what a price list owns and zero it (NULL and zeroed structs are fine). */
void hcloud_pricing_release(struct hcloud_pricing *p);

/* The price entry of location in t, or NULL. */
const struct hcloud_price *hcloud_server_type_price(const struct hcloud_server_type *t,
						    const char *location);
/*
 * Can a server of type t be ordered in location at time now?  With
 * t->locations (today's API): the location is listed and its deprecation,
 * if any, has no unavailable_after at or before now.  Without (older
 * answers): t is not deprecated (or only announced: unavailable_after still
 * ahead) and, when t has prices, one is for location.  NULL t or location:
 * false.
 */
bool hcloud_server_type_usable_in(const struct hcloud_server_type *t, const char *location,
				  time_t now);
/* Is the action still running? */
bool hcloud_action_running(const struct hcloud_action *a);

/*
 * Decoders from JSON text of one bare object (as in the API's samples),
 * tolerant of missing and null fields.  0 on success; -1 with err when the
 * text is not JSON or not an object.  Used by the client, tests and fuzzers.
 */
int hcloud_server_decode(const char *json, size_t len, struct hcloud_server *out,
			 struct burst_error *err);
/* Decode a volume object (see hcloud_server_decode). */
int hcloud_volume_decode(const char *json, size_t len, struct hcloud_volume *out,
			 struct burst_error *err);
/* Decode an image object. */
int hcloud_image_decode(const char *json, size_t len, struct hcloud_image *out,
			struct burst_error *err);
/* Decode an ssh_key object. */
int hcloud_ssh_key_decode(const char *json, size_t len, struct hcloud_ssh_key *out,
			  struct burst_error *err);
/* Decode an action object. */
int hcloud_action_decode(const char *json, size_t len, struct hcloud_action *out,
			 struct burst_error *err);
/* Decode a server_type object. */
int hcloud_server_type_decode(const char *json, size_t len,
			      struct hcloud_server_type *out, struct burst_error *err);
/* Decode a location object. */
int hcloud_location_decode(const char *json, size_t len, struct hcloud_location *out,
			   struct burst_error *err);
/* Decode a datacenter object. */
int hcloud_datacenter_decode(const char *json, size_t len,
			     struct hcloud_datacenter *out, struct burst_error *err);
/* Decode the object under "pricing". */
int hcloud_pricing_decode(const char *json, size_t len, struct hcloud_pricing *out,
			  struct burst_error *err);
/*
 * Turn an error response (status, body, correlation id) into err as the
 * client does, with `what` as the message prefix; always returns -1.
 */
int hcloud_error_from_response(long http_status, const char *body, size_t len,
			       const char *correlation_id, const char *what,
			       struct burst_error *err);
/* Parse an ISO-8601 timestamp ("...+00:00", "...Z", fractions); 0 if bad. */
time_t hcloud_parse_time(const char *s);

/* ---- the client -------------------------------------------------------- */

/*
 * The count of interrupting signals caught so far (the CLI sets
 * proc_signals_caught; NULL, the default, never interrupts).  A signal
 * caught while a wait, a retry backoff or a create's recovery runs ends it
 * at once with BURST_EXIT_INTERRUPTED, so SIGINT/SIGTERM/SIGHUP end a wait
 * promptly.  A wait that starts afterwards (the cleanup after an
 * interruption: deleting what was made) runs to its own deadline unless
 * another signal comes.  A request already sent is never cut short (its
 * reply may be a create).
 */
void hcloud_set_signal_count(int (*count)(void));

/*
 * Create a client for endpoint (NULL = HCLOUD_DEFAULT_ENDPOINT) and token.
 * Only https, or plain http to a loopback host, is accepted.  The token is
 * registered for redaction.  NULL with err (BURST_EXIT_CONFIG) on bad input.
 */
struct hcloud *hcloud_new(const char *endpoint, const char *token,
			  struct burst_error *err);
/* Free the client (NULL is fine). */
void hcloud_free(struct hcloud *c);

/* Set the connect and whole-request timeouts in ms (defaults 10 s / 60 s). */
void hcloud_set_timeouts(struct hcloud *c, long connect_ms, long request_ms);

struct hcloud_retry_policy {
	unsigned max_attempts;     /* tries per request incl. the first (6) */
	uint64_t base_ms;          /* first backoff (250) */
	uint64_t cap_ms;           /* backoff cap (8000) */
	uint64_t total_ms;         /* give up after this much time (120000) */
	uint64_t rate_limit_cap_ms; /* longest single wait for a refill (60000) */
};

/* Replace the retry policy (fields of 0 keep their default). */
void hcloud_set_retry(struct hcloud *c, const struct hcloud_retry_policy *p);
/* Set the action poll interval: first poll delay and cap (500 / 5000 ms). */
void hcloud_set_poll(struct hcloud *c, uint64_t first_ms, uint64_t cap_ms);
/*
 * Pace requests once RateLimit-Remaining drops below threshold (default:
 * max(10, limit/20), never more than half the limit); 0 restores the default,
 * -1 turns pacing off (tests of the 429 path).
 */
void hcloud_set_pace_threshold(struct hcloud *c, long threshold);

struct hcloud_stats {
	uint64_t requests;      /* HTTP requests sent (including retries) */
	uint64_t retries;       /* requests that were retries */
	uint64_t rate_limited;  /* 429 responses seen */
	uint64_t paced;         /* requests delayed by pacing */
	uint64_t paced_ms;      /* total time spent pacing */
	long rl_limit;          /* last RateLimit-Limit, -1 if never seen */
	long rl_remaining;      /* last RateLimit-Remaining, -1 if never seen */
	int64_t rl_reset;       /* last RateLimit-Reset (UNIX s), 0 if unseen */
	int64_t date;           /* last response's Date header (UNIX s), 0 if
				   unseen or not an HTTP date: the API's clock */
};

/* Copy the counters. */
void hcloud_get_stats(const struct hcloud *c, struct hcloud_stats *out);

/* ---- servers ----------------------------------------------------------- */

/* List servers, filtered by exact name and/or label selector (NULL = none). */
int hcloud_servers_list(struct hcloud *c, const char *name, const char *label_selector,
			struct hcloud_servers *out, struct burst_error *err);
/* Get one server; a 404 fails with api_code "not_found". */
int hcloud_server_get(struct hcloud *c, int64_t id, struct hcloud_server *out,
		      struct burst_error *err);

struct hcloud_server_opts {
	const char *name;        /* required */
	const char *server_type; /* required, id or name */
	const char *image;       /* required, id or name */
	const char *location;    /* optional */
	const char *const *ssh_keys; /* ids or names */
	size_t nr_ssh_keys;
	const char *user_data;   /* optional cloud-init */
	const struct hcloud_labels *labels;
	bool no_start;           /* start_after_create = false */
	const int64_t *volumes;  /* attach at create */
	size_t nr_volumes;
};

struct hcloud_server_created {
	struct hcloud_server server;
	struct hcloud_action action;        /* id 0 when recovered */
	struct hcloud_actions next_actions; /* empty when recovered */
	bool recovered; /* found by name after an ambiguous create failure */
	bool start;     /* start_after_create was requested (wait target) */
};

/* Release a create result. */
void hcloud_server_created_release(struct hcloud_server_created *r);

/* Create a server (never twice: see the header comment). */
int hcloud_server_create(struct hcloud *c, const struct hcloud_server_opts *o,
			 struct hcloud_server_created *out, struct burst_error *err);
/* Delete a server; action may be NULL (its id is 0 if already gone on retry). */
int hcloud_server_delete(struct hcloud *c, int64_t id, struct hcloud_action *action,
			 struct burst_error *err);
/* Replace a server's labels. */
int hcloud_server_set_labels(struct hcloud *c, int64_t id, const struct hcloud_labels *l,
			     struct burst_error *err);
/* Hard power off (action stop_server); action may be NULL. */
int hcloud_server_poweroff(struct hcloud *c, int64_t id, struct hcloud_action *action,
			   struct burst_error *err);
/* ACPI shutdown request (action shutdown_server); action may be NULL. */
int hcloud_server_shutdown(struct hcloud *c, int64_t id, struct hcloud_action *action,
			   struct burst_error *err);
/* Power on (action start_server); action may be NULL. */
int hcloud_server_poweron(struct hcloud *c, int64_t id, struct hcloud_action *action,
			  struct burst_error *err);
/*
 * Snapshot a server (type snapshot) with description and labels (either may
 * be NULL); fills image and action (action may be NULL).
 */
int hcloud_server_create_image(struct hcloud *c, int64_t id, const char *description,
			       const struct hcloud_labels *labels,
			       struct hcloud_image *image, struct hcloud_action *action,
			       struct burst_error *err);

/* ---- images ------------------------------------------------------------ */

/*
 * List images: type ("snapshot", ...), label selector and sort ("created:desc")
 * are optional filters.
 */
int hcloud_images_list(struct hcloud *c, const char *type, const char *label_selector,
		       const char *sort, struct hcloud_images *out,
		       struct burst_error *err);
/* Get one image. */
int hcloud_image_get(struct hcloud *c, int64_t id, struct hcloud_image *out,
		     struct burst_error *err);
/* Delete an image (snapshot/backup). */
int hcloud_image_delete(struct hcloud *c, int64_t id, struct burst_error *err);
/* Replace an image's labels. */
int hcloud_image_set_labels(struct hcloud *c, int64_t id, const struct hcloud_labels *l,
			    struct burst_error *err);

/* ---- volumes ----------------------------------------------------------- */

/* List volumes, filtered by exact name and/or label selector. */
int hcloud_volumes_list(struct hcloud *c, const char *name, const char *label_selector,
			struct hcloud_volumes *out, struct burst_error *err);
/* Get one volume. */
int hcloud_volume_get(struct hcloud *c, int64_t id, struct hcloud_volume *out,
		      struct burst_error *err);

struct hcloud_volume_opts {
	const char *name;     /* required */
	int64_t size;         /* GB, required (10..10240) */
	const char *location; /* required unless server is set */
	const char *format;   /* "ext4", "xfs" or NULL */
	const struct hcloud_labels *labels;
	int64_t server;       /* attach to this server after create, or 0 */
};

struct hcloud_volume_created {
	struct hcloud_volume volume;
	struct hcloud_action action;        /* id 0 when recovered */
	struct hcloud_actions next_actions; /* attach_volume when server set */
	bool recovered;
	int64_t server; /* the server it was asked to attach to, or 0 */
};

/* Release a create result. */
void hcloud_volume_created_release(struct hcloud_volume_created *r);

/* Create a volume (never twice). */
int hcloud_volume_create(struct hcloud *c, const struct hcloud_volume_opts *o,
			 struct hcloud_volume_created *out, struct burst_error *err);
/* Delete a volume (must be detached); success if already gone on retry. */
int hcloud_volume_delete(struct hcloud *c, int64_t id, struct burst_error *err);
/* Attach a volume to a server (automount off); action may be NULL. */
int hcloud_volume_attach(struct hcloud *c, int64_t id, int64_t server,
			 struct hcloud_action *action, struct burst_error *err);
/* Detach a volume; action may be NULL. */
int hcloud_volume_detach(struct hcloud *c, int64_t id, struct hcloud_action *action,
			 struct burst_error *err);
/* Replace a volume's labels. */
int hcloud_volume_set_labels(struct hcloud *c, int64_t id, const struct hcloud_labels *l,
			     struct burst_error *err);

/* ---- ssh keys ---------------------------------------------------------- */

/* List ssh keys by fingerprint and/or name (NULL = all). */
int hcloud_ssh_keys_list(struct hcloud *c, const char *fingerprint, const char *name,
			 struct hcloud_ssh_keys *out, struct burst_error *err);
/* Upload a public key (never twice: looks up by name after ambiguity). */
int hcloud_ssh_key_create(struct hcloud *c, const char *name, const char *public_key,
			  const struct hcloud_labels *labels, struct hcloud_ssh_key *out,
			  struct burst_error *err);
/* Delete an ssh key. */
int hcloud_ssh_key_delete(struct hcloud *c, int64_t id, struct burst_error *err);

/* ---- actions ----------------------------------------------------------- */

/* Get one action. */
int hcloud_action_get(struct hcloud *c, int64_t id, struct hcloud_action *out,
		      struct burst_error *err);
/* Get several actions with GET /actions?id=..&id=.. (order of the reply). */
int hcloud_actions_get(struct hcloud *c, const int64_t *ids, size_t n,
		       struct hcloud_actions *out, struct burst_error *err);

/* Called after every poll with the current state of all waited actions. */
typedef void (*hcloud_progress_fn)(const struct hcloud_actions *actions, void *data);

/*
 * Wait until every action in ids has finished, polling all still-running ones
 * with one request per poll (timed as for a waiter, below; the first poll
 * at once).  deadline_ms is an absolute burst_now_ms() time, 0 = none.  Fails if
 * an action ends in error (naming its command; api_code is the action's error
 * code, e.g. "action_failed") or when the deadline passes (naming the actions
 * still running; api_code "timeout", set locally).  progress may be NULL.
 */
int hcloud_actions_wait(struct hcloud *c, const int64_t *ids, size_t n,
			uint64_t deadline_ms, hcloud_progress_fn progress, void *data,
			struct burst_error *err);
/*
 * A waiter: actions waited for together, one GET /actions?id=..&id=.. per
 * poll for every tracked action still running, more added as they appear
 * (an attach after a create).  Polls are timed from the actions' progress
 * (it grows about linearly with time): right after the latest expected end
 * of the awaited actions, a second sample when an action's start was not
 * seen, else the backoff of hcloud_set_poll (first interval, x1.5, cap);
 * never more than the cap apart.  Uses the client c (same thread only).
 */
struct hcloud_waiter;

/* A waiter polling through client c (freed with hcloud_waiter_free). */
struct hcloud_waiter *hcloud_waiter_new(struct hcloud *c);
/* Free a waiter (NULL is fine). */
void hcloud_waiter_free(struct hcloud_waiter *w);
/*
 * Track action id (0 and known ids are ignored).  started_ms: the
 * burst_now_ms() time the action was created at progress 0 (right after the
 * POST that made it), which lets its first poll wait for useful progress
 * and its end be predicted; 0 when unknown (a next_action not begun yet).
 */
void hcloud_waiter_add(struct hcloud_waiter *w, int64_t id, uint64_t started_ms);
/*
 * Wait until every action in ids (added if not tracked yet) has finished;
 * errors as hcloud_actions_wait (an action of ids ending in error, the
 * deadline).  Other tracked actions are polled in the same requests.
 */
int hcloud_waiter_wait(struct hcloud_waiter *w, const int64_t *ids, size_t n,
		       uint64_t deadline_ms, hcloud_progress_fn progress, void *data,
		       struct burst_error *err);
/* The last polled state of a tracked action, or NULL before its first poll. */
const struct hcloud_action *hcloud_waiter_action(const struct hcloud_waiter *w, int64_t id);
/* How many GET /actions this waiter has sent. */
unsigned hcloud_waiter_polls(const struct hcloud_waiter *w);

/*
 * Wait for a server create: its action and every next_action, or, when
 * recovered, for the server to leave initializing/starting.  Refreshes
 * r->server afterwards.
 */
int hcloud_server_wait_created(struct hcloud *c, struct hcloud_server_created *r,
			       uint64_t deadline_ms, hcloud_progress_fn progress,
			       void *data, struct burst_error *err);
/* Same for a volume create (recovered: status available). Refreshes r->volume. */
int hcloud_volume_wait_created(struct hcloud *c, struct hcloud_volume_created *r,
			       uint64_t deadline_ms, hcloud_progress_fn progress,
			       void *data, struct burst_error *err);
/* Poll GET /servers/{id} until its status is `status` (e.g. "off"). */
int hcloud_server_wait_status(struct hcloud *c, int64_t id, const char *status,
			      uint64_t deadline_ms, struct burst_error *err);
/* Poll GET /images/{id} until available; fails if it becomes unavailable. */
int hcloud_image_wait_available(struct hcloud *c, int64_t id, uint64_t deadline_ms,
				struct burst_error *err);

/* ---- locations, types, pricing ----------------------------------------- */

/* List all locations. */
int hcloud_locations_list(struct hcloud *c, struct hcloud_locations *out,
			  struct burst_error *err);
/* List all datacenters. */
int hcloud_datacenters_list(struct hcloud *c, struct hcloud_datacenters *out,
			    struct burst_error *err);
/* List server types (name NULL = all). */
int hcloud_server_types_list(struct hcloud *c, const char *name,
			     struct hcloud_server_types *out, struct burst_error *err);
/*
 * Can server type `type` (name) be ordered in `location` now?  True when a
 * datacenter of that location lists it as available, it has a price there and
 * it is usable there (hcloud_server_type_usable_in).  An unknown type fails
 * with api_code "not_found".
 */
int hcloud_type_available(struct hcloud *c, const char *type, const char *location,
			  bool *out, struct burst_error *err);
/* Get the price list. */
int hcloud_pricing_get(struct hcloud *c, struct hcloud_pricing *out,
		       struct burst_error *err);

#endif

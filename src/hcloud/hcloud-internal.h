/*
 * hcloud-internal.h - shared between the files of src/hcloud only.
 */
#ifndef BURST_HCLOUD_INTERNAL_H
#define BURST_HCLOUD_INTERNAL_H

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "burst/hcloud.h"
#include "burst/strbuf.h"

#define HC_MAX_BODY (32u << 20) /* largest response body accepted */

/* ---- libcurl, loaded at the first request (curl-load.c) ----------------- */

/*
 * The libcurl functions the client uses.  Nothing links libcurl (meson uses
 * its headers only): hc_curl_load() dlopen()s libcurl.so.4 and resolves
 * them, so a process that never sends a request (a warm run, a sleeping
 * reaper) never maps libcurl and its thirty dependencies.
 */
struct hc_curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *h);
	void (*easy_reset)(CURL *h);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

/*
 * Load libcurl and run curl_global_init once per process (thread-safe);
 * the table, or NULL with err set (BURST_EXIT_INTERNAL, "cannot load
 * libcurl (libcurl.so.4): <dlerror>").  A failure is final for the process.
 */
const struct hc_curl_api *hc_curl_load(struct burst_error *err);
/* Has this process loaded libcurl (for tests)? */
bool hc_curl_loaded(void);
/* Load this file name instead of libcurl.so.4 (tests; before the first load). */
void hc_curl_set_library(const char *name);

struct hcloud {
	const struct hc_curl_api *fn; /* NULL until the first request */
	CURL *curl;                   /* NULL until the first request */
	char *base;       /* endpoint without trailing '/' */
	char *auth;       /* "Authorization: Bearer <token>" */
	char *host;       /* for error messages */
	long connect_ms, request_ms;
	struct hcloud_retry_policy retry;
	uint64_t poll_first_ms, poll_cap_ms;
	long pace_threshold; /* 0 = default */
	struct hcloud_stats stats;
	uint64_t rng; /* xorshift state for jitter */
};

/* One HTTP exchange after retries. */
struct hc_response {
	long status;
	cJSON *json;  /* parsed body, or NULL (204 or empty) */
	size_t bytes; /* size of the body as received */
};

/* Options of one request. */
enum hc_flags {
	HC_NO_RETRY_AMBIGUOUS = 1 << 0, /* POST create: don't resend after a lost reply */
	HC_DELETE_GONE_OK = 1 << 1,     /* a 404 on a retried DELETE means done */
};

/* Result classes of one attempt. */
enum hc_outcome {
	HC_OK,
	HC_FAIL,      /* definite failure, err set */
	HC_RETRY,     /* failed, not applied: safe to resend */
	HC_AMBIGUOUS, /* failed, may have been applied (lost reply, 5xx, timeout) */
};

/*
 * Run one request with retries.  path includes the query.  body is JSON or
 * NULL.  On HC_AMBIGUOUS with HC_NO_RETRY_AMBIGUOUS, returns -1 with
 * *ambiguous = true and err set, so the caller can look the resource up.
 */
int hc_request(struct hcloud *c, const char *method, const char *path,
	       const char *body, unsigned flags, const char *what,
	       struct hc_response *resp, bool *ambiguous, struct burst_error *err);
/* Free a response. */
void hc_response_release(struct hc_response *r);

/* Bounds of one hc_list(): no list of ours comes near them. */
#define HC_LIST_MAX_PAGES 200       /* of HC_LIST_PER_PAGE entries */
#define HC_LIST_MAX_BYTES (64u << 20) /* all pages together */
#define HC_LIST_PER_PAGE 50

/*
 * GET every page of path (may hold a query) and call fn for each element of
 * the array under key.  The pages must follow each other (next_page is
 * page + 1, or null at the end) and stay within what the first page
 * announced (last_page, total_entries; one page more for entries added
 * meanwhile), HC_LIST_MAX_PAGES and HC_LIST_MAX_BYTES; otherwise -1 with
 * BURST_EXIT_API naming path, never a silently shortened list.
 */
int hc_list(struct hcloud *c, const char *path, const char *key,
	    int (*fn)(const cJSON *item, void *data), void *data,
	    const char *what, struct burst_error *err);

/*
 * A wait takes a mark of the signals caught so far when it starts
 * (hc_signal_mark); hc_interrupted_since(mark) is true once another one
 * was caught (hcloud_set_signal_count).  hc_sleep_ms() sleeps ms
 * milliseconds, restarting after other signals, but returns false at once
 * when one was caught since mark.
 */
#define HC_UNINTERRUPTED (-1) /* a mark no signal ends */
int hc_signal_mark(void);
bool hc_interrupted_since(int mark);
bool hc_sleep_ms(uint64_t ms, int mark);
/* Fill err with BURST_EXIT_INTERRUPTED ("interrupted while WHAT"); -1. */
int hc_error_interrupted(const char *what, struct burst_error *err);

/* Decoders from cJSON (json.c). */
void hc_decode_server(const cJSON *j, struct hcloud_server *s);
void hc_decode_volume(const cJSON *j, struct hcloud_volume *v);
void hc_decode_image(const cJSON *j, struct hcloud_image *i);
void hc_decode_ssh_key(const cJSON *j, struct hcloud_ssh_key *k);
void hc_decode_action(const cJSON *j, struct hcloud_action *a);
void hc_decode_actions(const cJSON *arr, struct hcloud_actions *l);
void hc_decode_server_type(const cJSON *j, struct hcloud_server_type *t);
void hc_decode_location(const cJSON *j, struct hcloud_location *l);
void hc_decode_datacenter(const cJSON *j, struct hcloud_datacenter *d);
void hc_decode_pricing(const cJSON *j, struct hcloud_pricing *p);
/* Add labels to a cJSON object as "labels": {...}. */
void hc_labels_to_json(cJSON *obj, const struct hcloud_labels *l);

/* Helpers for tolerant access. */
const char *hc_str(const cJSON *obj, const char *key);
int64_t hc_int(const cJSON *obj, const char *key);

#endif

/*
 * client.c - transport of the Hetzner Cloud client: one CURL easy handle
 * (made at the first request, when libcurl is loaded: curl-load.c),
 * retries with backoff, rate-limit pacing, error values, pagination, trace.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "burst-version.h"
#include "burst/log.h"
#include "burst/text.h"
#include "hcloud-internal.h"

#define TRACE_MAX 4096
#define API_TEXT_MAX 1024 /* longest API text shown */

static int (*signal_count)(void);

/* Set the count of interrupting signals the waits watch (NULL: none). */
void hcloud_set_signal_count(int (*count)(void))
{
	signal_count = count;
}

int hc_signal_mark(void)
{
	return signal_count ? signal_count() : 0;
}

bool hc_interrupted_since(int mark)
{
	return signal_count && mark != HC_UNINTERRUPTED && signal_count() != mark;
}

bool hc_sleep_ms(uint64_t ms, int mark)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	if (hc_interrupted_since(mark))
		return false;
	/* a caught signal interrupts the sleep (no SA_RESTART): ask again */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		if (hc_interrupted_since(mark))
			return false;
	return true;
}

int hc_error_interrupted(const char *what, struct burst_error *err)
{
	burst_error_set(err, BURST_EXIT_INTERRUPTED, "interrupted while %s", what);
	return -1;
}

/* ---- construction ----------------------------------------------------- */

static const struct hcloud_retry_policy default_retry = {
	6, 250, 8000, 120000, 60000,
};

static bool loopback_host(const char *host, size_t len)
{
	if (len == 9 && !strncasecmp(host, "localhost", 9))
		return true;
	if (len == 5 && !strncmp(host, "[::1]", 5))
		return true;
	if (len >= 4 && !strncmp(host, "127.", 4)) {
		for (size_t i = 4; i < len; i++)
			if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
				return false;
		return true;
	}
	return false;
}

/* Split "scheme://host[:port]/..." and return the host span. */
static const char *url_host(const char *url, size_t *len)
{
	const char *p = strstr(url, "://"), *end;

	if (!p)
		return NULL;
	p += 3;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return NULL;
		end++;
	} else {
		end = p + strcspn(p, ":/?#");
	}
	*len = (size_t)(end - p);
	return *len ? p : NULL;
}

struct hcloud *hcloud_new(const char *endpoint, const char *token,
			  struct burst_error *err)
{
	struct hcloud *c = NULL;
	const char *host;
	size_t host_len = 0, len;

	if (!endpoint || !*endpoint)
		endpoint = HCLOUD_DEFAULT_ENDPOINT;
	if (!token || !*token) {
		burst_error_set(err, BURST_EXIT_CONFIG, "no Hetzner Cloud API token");
		burst_error_hint(err, "set HCLOUD_TOKEN or `token` in the global config");
		return NULL;
	}
	if (strpbrk(token, "\r\n")) {
		burst_error_set(err, BURST_EXIT_CONFIG,
				"the Hetzner Cloud API token contains a line break");
		return NULL;
	}
	burst_redact_register(token);
	host = url_host(endpoint, &host_len);
	if (!host || strpbrk(endpoint, " \t\r\n")) {
		burst_error_set(err, BURST_EXIT_CONFIG, "invalid API endpoint '%s'", endpoint);
		burst_error_hint(err, "HCLOUD_ENDPOINT must look like %s",
				 HCLOUD_DEFAULT_ENDPOINT);
		return NULL;
	}
	if (!skip_prefix(endpoint, "https://", NULL)) {
		if (!skip_prefix(endpoint, "http://", NULL) || !loopback_host(host, host_len)) {
			burst_error_set(err, BURST_EXIT_CONFIG,
					"refusing API endpoint '%s': only https, or plain http to a loopback address",
					endpoint);
			burst_error_hint(err, "use an https:// URL in HCLOUD_ENDPOINT");
			return NULL;
		}
	}
	/* libcurl itself is loaded by the first request (curl_ready()). */
	c = xcalloc(1, sizeof(*c));
	len = strlen(endpoint);
	while (len && endpoint[len - 1] == '/')
		len--;
	c->base = xstrndup(endpoint, len);
	c->host = xstrndup(host, host_len);
	c->auth = xstrfmt("Authorization: Bearer %s", token);
	c->connect_ms = 10000;
	c->request_ms = 60000;
	c->retry = default_retry;
	c->poll_first_ms = 500;
	c->poll_cap_ms = 5000;
	c->stats.rl_limit = c->stats.rl_remaining = -1;
	c->rng = (burst_now_ms() ^ (uint64_t)(uintptr_t)c) | 1;
	return c;
}

void hcloud_free(struct hcloud *c)
{
	if (!c)
		return;
	if (c->curl)
		c->fn->easy_cleanup(c->curl);
	free(c->base);
	free(c->host);
	if (c->auth) {
		/* The token should not linger in freed memory. */
		memset(c->auth, 0, strlen(c->auth));
		free(c->auth);
	}
	free(c);
}

void hcloud_set_timeouts(struct hcloud *c, long connect_ms, long request_ms)
{
	if (connect_ms > 0)
		c->connect_ms = connect_ms;
	if (request_ms > 0)
		c->request_ms = request_ms;
}

void hcloud_set_retry(struct hcloud *c, const struct hcloud_retry_policy *p)
{
	c->retry.max_attempts = p->max_attempts ? p->max_attempts : default_retry.max_attempts;
	c->retry.base_ms = p->base_ms ? p->base_ms : default_retry.base_ms;
	c->retry.cap_ms = p->cap_ms ? p->cap_ms : default_retry.cap_ms;
	c->retry.total_ms = p->total_ms ? p->total_ms : default_retry.total_ms;
	c->retry.rate_limit_cap_ms =
		p->rate_limit_cap_ms ? p->rate_limit_cap_ms : default_retry.rate_limit_cap_ms;
}

void hcloud_set_poll(struct hcloud *c, uint64_t first_ms, uint64_t cap_ms)
{
	c->poll_first_ms = first_ms ? first_ms : 500;
	c->poll_cap_ms = cap_ms ? cap_ms : 5000;
	if (c->poll_cap_ms < c->poll_first_ms)
		c->poll_cap_ms = c->poll_first_ms;
}

void hcloud_set_pace_threshold(struct hcloud *c, long threshold)
{
	c->pace_threshold = threshold < 0 ? -1 : threshold;
}

void hcloud_get_stats(const struct hcloud *c, struct hcloud_stats *out)
{
	*out = c->stats;
}

/* ---- errors ----------------------------------------------------------- */

struct code_info {
	const char *code;
	const char *plain;
	const char *hint;
};

static const struct code_info codes[] = {
	{ "resource_unavailable",
	  "that server type is sold out or not available in that location",
	  "the tool tries the next location by itself; otherwise try again later or pick another server type" },
	{ "resource_limit_exceeded", "the project's resource limit is reached",
	  "delete servers, volumes or snapshots you no longer need, or ask Hetzner to raise the limit" },
	{ "unauthorized", "the API token was rejected",
	  "check the token: HCLOUD_TOKEN or `token` in the global config" },
	{ "token_readonly", "the API token is read-only",
	  "create a token with read & write permission in the Hetzner console" },
	{ "forbidden", "the API token may not do this",
	  "use a token with read & write permission for this project" },
	{ "invalid_input", "the API rejected the request as invalid", NULL },
	{ "json_error", "the API could not parse the request",
	  "this is a bug in cargo-burst; please report it" },
	{ "uniqueness_error", "a resource with that name or key already exists",
	  "remove the existing resource or let cargo-burst adopt it" },
	{ "not_found", "it does not exist (any more)", NULL },
	{ "protected", "the resource is protected",
	  "turn off its delete/rebuild protection in the Hetzner console first" },
	{ "maintenance", "Hetzner is doing maintenance", "try again later" },
	{ "rate_limit_exceeded", "the API rate limit is exhausted (retries ran out)",
	  "wait a few minutes; other tools using the same project share the limit" },
	{ "conflict", "the resource changed during the request (retries ran out)",
	  "try again" },
	{ "locked", "another action is still running on the resource (retries ran out)",
	  "wait until it finishes and try again" },
	{ "server_error", "the API failed internally (retries ran out)",
	  "try again later; see https://status.hetzner.com" },
	{ "unavailable", "the service is unavailable (retries ran out)",
	  "try again later; see https://status.hetzner.com" },
	{ "timeout", "the API timed out (retries ran out)",
	  "try again later; see https://status.hetzner.com" },
	{ "placement_error", "the server could not be placed",
	  "try another location or server type, or try again later" },
	{ "no_space_left_in_location", "no volume space is left in that location",
	  "try another location" },
	{ "unsupported_error", "the resource does not support this action", NULL },
	{ "service_error", "a Hetzner service failed", "try again later" },
	{ "deprecated_api_endpoint", "the API endpoint was removed",
	  "upgrade cargo-burst" },
};

static const struct code_info *code_info(const char *code)
{
	for (size_t i = 0; code && i < ARRAY_SIZE(codes); i++)
		if (!strcmp(codes[i].code, code))
			return &codes[i];
	return NULL;
}

/* The field messages of an invalid_input: "name: is too long; size: ...". */
static void add_field_messages(struct strbuf *sb, const cJSON *details)
{
	const cJSON *fields = cJSON_GetObjectItemCaseSensitive(details, "fields");
	const cJSON *f, *m;
	bool first = true;

	if (!cJSON_IsArray(fields))
		return;
	cJSON_ArrayForEach(f, fields) {
		const char *name = hc_str(f, "name");
		const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(f, "messages");

		char *clean;

		if (!name)
			continue;
		if (sb->len > 4 * API_TEXT_MAX) {
			strbuf_addstr(sb, "; ...");
			break;
		}
		strbuf_addstr(sb, first ? " (" : "; ");
		first = false;
		clean = burst_text_sanitize(name, 128);
		strbuf_addstr(sb, clean);
		free(clean);
		if (cJSON_IsArray(msgs)) {
			bool first_msg = true;

			cJSON_ArrayForEach(m, msgs) {
				if (!cJSON_IsString(m))
					continue;
				clean = burst_text_sanitize(m->valuestring, 256);
				strbuf_addf(sb, "%s%s", first_msg ? ": " : ", ", clean);
				free(clean);
				first_msg = false;
			}
		}
	}
	if (!first)
		strbuf_addch(sb, ')');
}

static const char *status_code(long status)
{
	switch (status) {
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 409: return "conflict";
	case 412: return "resource_unavailable";
	case 423: return "locked";
	case 429: return "rate_limit_exceeded";
	case 500: return "server_error";
	case 502: return "unavailable";
	case 503: return "unavailable";
	case 504: return "timeout";
	default: return NULL;
	}
}

/*
 * Everything of an error body reaches the terminal: the API's strings are
 * made terminal-safe and bounded here, at the edge (text.h).
 */
static int error_from_json(long status, const cJSON *body, const char *correlation_id,
			   const char *what, struct burst_error *err)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
	const cJSON *details = cJSON_GetObjectItemCaseSensitive(e, "details");
	char *code = burst_text_sanitize(hc_str(e, "code"), 64);
	char *message = burst_text_sanitize(hc_str(e, "message"), API_TEXT_MAX);
	const struct code_info *info;
	struct strbuf sb = STRBUF_INIT;

	info = code_info(code ? code : status_code(status));
	strbuf_addf(&sb, "%s: ", what);
	if (info)
		strbuf_addstr(&sb, info->plain);
	else if (message)
		strbuf_addstr(&sb, message);
	else
		strbuf_addf(&sb, "the API answered HTTP %ld", status);
	if (code && !strcmp(code, "invalid_input"))
		add_field_messages(&sb, details);
	burst_error_set(err, BURST_EXIT_API, "%s", sb.buf);
	strbuf_release(&sb);
	if (!err) {
		free(code);
		free(message);
		return -1;
	}
	err->http_status = status;
	err->api_code = code;
	err->api_message = message;
	if (details && !cJSON_IsNull(details)) {
		char *raw = cJSON_PrintUnformatted(details);

		err->api_details = burst_text_sanitize(raw, 4 * API_TEXT_MAX);
		cJSON_free(raw);
	}
	err->correlation_id = burst_text_sanitize(correlation_id, 128);
	if (info && info->hint)
		burst_error_hint(err, "%s", info->hint);
	return -1;
}

int hcloud_error_from_response(long http_status, const char *body, size_t len,
			       const char *correlation_id, const char *what,
			       struct burst_error *err)
{
	cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;

	error_from_json(http_status, j, correlation_id, what, err);
	cJSON_Delete(j);
	return -1;
}

/* ---- one attempt ------------------------------------------------------ */

struct attempt {
	struct strbuf body;
	char *correlation_id;
	long rl_limit, rl_remaining;
	int64_t rl_reset;
	int64_t date;
};

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct attempt *a = data;

	if (strbuf_add(&a->body, ptr, size * nmemb) < 0)
		return 0; /* too big: abort the transfer */
	return size * nmemb;
}

static long header_long(const char *v, size_t len)
{
	char tmp[32];
	int64_t out;
	size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;

	memcpy(tmp, v, n);
	tmp[n] = '\0';
	while (n && (tmp[n - 1] == ' ' || tmp[n - 1] == '\t'))
		tmp[--n] = '\0';
	if (parse_int64(tmp, 0, INT64_MAX / 2, &out) < 0)
		return -1;
	return (long)out;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *data)
{
	struct attempt *a = data;
	size_t len = size * nitems, name_len, vlen;
	const char *colon = memchr(buf, ':', len), *v;

	if (!colon)
		return len;
	name_len = (size_t)(colon - buf);
	v = colon + 1;
	vlen = len - name_len - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
		vlen--;
#define HDR(name) (name_len == strlen(name) && !strncasecmp(buf, name, name_len))
	if (HDR("RateLimit-Limit"))
		a->rl_limit = header_long(v, vlen);
	else if (HDR("RateLimit-Remaining"))
		a->rl_remaining = header_long(v, vlen);
	else if (HDR("RateLimit-Reset"))
		a->rl_reset = header_long(v, vlen);
	else if (HDR("Date") && vlen && vlen < 64) {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		char tmp[64], *end;
		struct tm tm;

		memcpy(tmp, v, vlen);
		tmp[vlen] = '\0';
		memset(&tm, 0, sizeof(tm));
		end = strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		a->date = end && !*end ? (int64_t)timegm(&tm) : 0;
	} else if (HDR("X-Correlation-Id") && vlen && vlen < 256) {
		char *raw = xstrndup(v, vlen);

		free(a->correlation_id);
		a->correlation_id = burst_text_sanitize(raw, 128);
		free(raw);
	}
#undef HDR
	return len;
}

static void trace_body(const char *label, const char *body, size_t len)
{
	if (!body || !len)
		return;
	if (len > TRACE_MAX)
		log_trace("hcloud", "  %s (%zu bytes, first %d): %.*s", label, len,
			  TRACE_MAX, TRACE_MAX, body);
	else
		log_trace("hcloud", "  %s: %.*s", label, (int)len, body);
}

/*
 * A request body as traced: the user_data of POST /servers carries the
 * server's private host key, so it is left out ("***") like the token.
 */
static void trace_request(const char *body)
{
	cJSON *j = cJSON_Parse(body);
	char *shown = NULL;

	if (cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "user_data")) {
		cJSON_ReplaceItemInObjectCaseSensitive(j, "user_data", cJSON_CreateString("***"));
		shown = cJSON_PrintUnformatted(j);
	}
	trace_body("request", shown ? shown : body, strlen(shown ? shown : body));
	cJSON_free(shown);
	cJSON_Delete(j);
}

static uint64_t jitter(struct hcloud *c, uint64_t ms)
{
	/* xorshift64: per-client state, so threads never share it. */
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	if (ms < 2)
		return ms;
	return ms / 2 + c->rng % (ms / 2 + 1);
}

/* Sleep before a request when the bucket is nearly empty. */
static void pace(struct hcloud *c)
{
	long limit = c->stats.rl_limit, rem = c->stats.rl_remaining, threshold;
	int64_t now, until;
	uint64_t ms;

	if (limit <= 0 || rem < 0)
		return;
	threshold = c->pace_threshold;
	if (threshold < 0)
		return;
	if (!threshold) {
		threshold = limit / 20;
		if (threshold < 10)
			threshold = 10;
		if (threshold > limit / 2)
			threshold = limit / 2;
	}
	if (rem >= threshold)
		return;
	now = burst_wall_time();
	until = c->stats.rl_reset - now;
	/* Past the reset the bucket is full again. */
	if (until < 0)
		return;
	/* Reset is in whole seconds: "now" may still be up to a second short. */
	if (until == 0)
		until = 1;
	if (limit <= rem)
		return;
	/*
	 * The bucket refills (limit - rem) tokens by the reset: sleeping one
	 * refill interval per request keeps Remaining from falling further
	 * (about 1 s at Hetzner's default of 3600/h).
	 */
	ms = (uint64_t)until * 1000 / (uint64_t)(limit - rem);
	if (ms > c->retry.rate_limit_cap_ms)
		ms = c->retry.rate_limit_cap_ms;
	if (!ms)
		return;
	log_debug("hcloud", "rate limit: %ld of %ld left, pacing %llu ms", rem, limit,
		  (unsigned long long)ms);
	c->stats.paced++;
	c->stats.paced_ms += ms;
	/* interrupted: the request goes out at once and the caller stops after it */
	(void)hc_sleep_ms(ms, hc_signal_mark());
	/* Assume the refill we waited for; the next response corrects it. */
	c->stats.rl_remaining = rem + 1;
}

/*
 * Send one request.  Returns the outcome; on failure err is set.  *wait_ms is
 * a server-suggested delay (rate limit) or 0.
 */
static enum hc_outcome attempt(struct hcloud *c, const char *method, const char *url,
			       const char *body, const char *what,
			       struct hc_response *resp, uint64_t *wait_ms,
			       struct burst_error *err)
{
	const struct hc_curl_api *fn = c->fn;
	struct attempt a = { STRBUF_INIT, NULL, -1, -1, 0, 0 };
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE];
	char *ua = xstrfmt("User-Agent: cargo-burst/%s", BURST_VERSION);
	enum hc_outcome out = HC_FAIL;
	uint64_t t0;
	long status = 0;
	CURLcode rc;
	cJSON *json = NULL;
	const char *code;

	*wait_ms = 0;
	strbuf_set_max(&a.body, HC_MAX_BODY);
	errbuf[0] = '\0';
	headers = fn->slist_append(headers, c->auth);
	headers = fn->slist_append(headers, ua);
	headers = fn->slist_append(headers, "Accept: application/json");
	if (body)
		headers = fn->slist_append(headers, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip on larger bodies. */
	headers = fn->slist_append(headers, "Expect:");

	fn->easy_reset(c->curl);
	fn->easy_setopt(c->curl, CURLOPT_URL, url);
	fn->easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	fn->easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		fn->easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		fn->easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (!strcmp(method, "POST")) {
		fn->easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		fn->easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, 0L);
	}
	fn->easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
	fn->easy_setopt(c->curl, CURLOPT_WRITEDATA, &a);
	fn->easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb);
	fn->easy_setopt(c->curl, CURLOPT_HEADERDATA, &a);
	fn->easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	fn->easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	fn->easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->request_ms);
	fn->easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	fn->easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	fn->easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	fn->easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	fn->easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	fn->easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
	/*
	 * libcurl silently resends a request whose reused connection died
	 * before any reply byte; for a POST that may already have been applied
	 * that is a blind retry.  POSTs therefore get a fresh connection.
	 */
	if (!strcmp(method, "POST"))
		fn->easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 1L);

	c->stats.requests++;
	t0 = burst_now_ms();
	rc = fn->easy_perform(c->curl);
	if (rc == CURLE_OK)
		fn->easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	log_trace("hcloud", "%s %s -> %ld%s%s (%llu ms)", method, url, status,
		  rc != CURLE_OK ? " " : "", rc != CURLE_OK ? fn->easy_strerror(rc) : "",
		  (unsigned long long)(burst_now_ms() - t0));
	if (body && burst_trace_enabled())
		trace_request(body);
	trace_body("response", a.body.buf, a.body.len);

	if (a.rl_limit >= 0)
		c->stats.rl_limit = a.rl_limit;
	if (a.rl_remaining >= 0)
		c->stats.rl_remaining = a.rl_remaining;
	if (a.rl_reset > 0)
		c->stats.rl_reset = a.rl_reset;
	if (a.date > 0)
		c->stats.date = a.date;

	if (rc != CURLE_OK) {
		if (a.body.overflow) {
			burst_error_set(err, BURST_EXIT_API,
					"%s: the API response from %s is larger than %u bytes",
					what, c->host, HC_MAX_BODY);
			out = HC_FAIL;
			goto out;
		}
		burst_error_set(err, BURST_EXIT_API, "%s: cannot talk to %s: %s", what,
				c->host, errbuf[0] ? errbuf : fn->easy_strerror(rc));
		burst_error_hint(err, "check the network connection and HCLOUD_ENDPOINT (%s)",
				 c->base);
		/* A connect failure never reached the server. */
		out = (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
			? HC_RETRY : HC_AMBIGUOUS;
		goto out;
	}
	if (a.body.len) {
		json = cJSON_ParseWithLength(a.body.buf, a.body.len);
		if (!json && status < 400) {
			burst_error_set(err, BURST_EXIT_API,
					"%s: the API sent a response that is not JSON (HTTP %ld)",
					what, status);
			if (err) {
				err->http_status = status;
				err->correlation_id = xstrdup(a.correlation_id);
			}
			out = HC_FAIL;
			goto out;
		}
	}
	if (status >= 200 && status < 300) {
		resp->status = status;
		resp->bytes = a.body.len;
		resp->json = json;
		json = NULL;
		out = HC_OK;
		goto out;
	}
	error_from_json(status, json, a.correlation_id, what, err);
	code = err && err->api_code ? err->api_code : NULL;
	if (status == 429 || (code && !strcmp(code, "rate_limit_exceeded"))) {
		int64_t until = c->stats.rl_reset - burst_wall_time();

		c->stats.rate_limited++;
		/* Without a usable reset time, fall back to the backoff. */
		*wait_ms = until > 0 ? (uint64_t)until * 1000 : 0;
		if (*wait_ms > c->retry.rate_limit_cap_ms)
			*wait_ms = c->retry.rate_limit_cap_ms;
		out = HC_RETRY;
	} else if (code && (!strcmp(code, "conflict") || !strcmp(code, "locked"))) {
		out = HC_RETRY;
	} else if ((code && (!strcmp(code, "timeout") || !strcmp(code, "server_error") ||
			     !strcmp(code, "unavailable"))) ||
		   (!code && (status == 500 || status == 502 || status == 503 ||
			      status == 504))) {
		out = HC_AMBIGUOUS;
	} else {
		out = HC_FAIL;
	}
out:
	cJSON_Delete(json);
	fn->slist_free_all(headers);
	free(ua);
	free(a.correlation_id);
	strbuf_release(&a.body);
	return out;
}

void hc_response_release(struct hc_response *r)
{
	if (!r)
		return;
	cJSON_Delete(r->json);
	r->json = NULL;
	r->status = 0;
	r->bytes = 0;
}

/*
 * Load libcurl and make the client's easy handle, at the first request:
 * a client that never sends anything (a warm run) costs no libcurl.
 */
static int curl_ready(struct hcloud *c, const char *what, struct burst_error *err)
{
	struct burst_error e = BURST_ERROR_INIT;

	if (c->curl)
		return 0;
	if (!c->fn)
		c->fn = hc_curl_load(&e);
	if (c->fn)
		c->curl = c->fn->easy_init();
	if (!c->curl && c->fn)
		burst_error_set(&e, BURST_EXIT_INTERNAL, "initialising libcurl failed");
	if (c->curl)
		return 0;
	burst_error_set(err, e.exit_code, "%s: %s", what, e.message);
	if (e.hint)
		burst_error_hint(err, "%s", e.hint);
	burst_error_release(&e);
	return -1;
}

int hc_request(struct hcloud *c, const char *method, const char *path,
	       const char *body, unsigned flags, const char *what,
	       struct hc_response *resp, bool *ambiguous, struct burst_error *err)
{
	struct burst_error tmp = BURST_ERROR_INIT;
	char *url = xstrfmt("%s%s", c->base, path);
	uint64_t start = burst_now_ms(), wait_ms = 0, backoff = c->retry.base_ms;
	enum hc_outcome o = HC_FAIL;
	int ret = -1, mark = hc_signal_mark();

	if (ambiguous)
		*ambiguous = false;
	resp->status = 0;
	resp->json = NULL;
	resp->bytes = 0;
	if (curl_ready(c, what, err) < 0) {
		free(url);
		return -1;
	}
	for (unsigned n = 0;; n++) {
		uint64_t delay;

		pace(c);
		if (n)
			c->stats.retries++;
		o = attempt(c, method, url, body, what, resp, &wait_ms, &tmp);
		if (o == HC_OK) {
			ret = 0;
			break;
		}
		if ((flags & HC_DELETE_GONE_OK) && n && tmp.http_status == 404) {
			/* A retried delete whose first try went through. */
			log_debug("hcloud", "%s: already gone on retry", what);
			ret = 0;
			break;
		}
		if (o == HC_FAIL)
			break;
		if (o == HC_AMBIGUOUS && (flags & HC_NO_RETRY_AMBIGUOUS)) {
			if (ambiguous)
				*ambiguous = true;
			break;
		}
		if (n + 1 >= c->retry.max_attempts)
			break;
		delay = wait_ms ? wait_ms : jitter(c, backoff);
		if (burst_now_ms() + delay > start + c->retry.total_ms)
			break;
		log_debug("hcloud", "%s: %s; retrying in %llu ms", what,
			  tmp.api_code ? tmp.api_code : tmp.message,
			  (unsigned long long)delay);
		if (!hc_sleep_ms(delay, mark)) {
			burst_error_release(&tmp);
			hc_error_interrupted(what, &tmp);
			break;
		}
		backoff = backoff * 2 > c->retry.cap_ms ? c->retry.cap_ms : backoff * 2;
	}
	if (ret < 0)
		burst_error_move(err, &tmp);
	burst_error_release(&tmp);
	free(url);
	return ret;
}

/* ---- pagination ------------------------------------------------------- */

static int list_error(struct burst_error *err, const char *what, const char *path,
		      const char *fmt, ...) BURST_PRINTF(4, 5);

static int list_error(struct burst_error *err, const char *what, const char *path,
		      const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	burst_error_set(err, BURST_EXIT_API, "%s: the pages of '%s' do not add up: %s", what,
			path, sb.buf);
	burst_error_hint(err, "the API (HCLOUD_ENDPOINT) sent a broken list; try again later, "
			 "and report it if it persists");
	strbuf_release(&sb);
	return -1;
}

/* A pagination number: -1 when absent or null, -2 when not a sane integer. */
static int64_t page_number(const cJSON *pg, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(pg, key);

	if (!v || cJSON_IsNull(v))
		return -1;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e12 ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return -2;
	return (int64_t)v->valuedouble;
}

int hc_list(struct hcloud *c, const char *path, const char *key,
	    int (*fn)(const cJSON *item, void *data), void *data,
	    const char *what, struct burst_error *err)
{
	int64_t page = 1, allowed = HC_LIST_MAX_PAGES;
	uint64_t bytes = 0;
	const char *sep = strchr(path, '?') ? "&" : "?";

	for (;;) {
		struct hc_response r;
		char *p = xstrfmt("%s%spage=%lld&per_page=%d", path, sep, (long long)page,
				  HC_LIST_PER_PAGE);
		const cJSON *arr, *it, *pg;
		int64_t next_page, last_page, total, per_page;
		int rc = hc_request(c, "GET", p, NULL, 0, what, &r, NULL, err);

		free(p);
		if (rc < 0)
			return -1;
		bytes += r.bytes;
		arr = cJSON_GetObjectItemCaseSensitive(r.json, key);
		if (arr && !cJSON_IsArray(arr)) {
			hc_response_release(&r);
			return burst_error_set(err, BURST_EXIT_API,
					       "%s: the API sent '%s' that is not a list",
					       what, key);
		}
		cJSON_ArrayForEach(it, arr) {
			if (cJSON_IsObject(it) && fn(it, data) < 0) {
				hc_response_release(&r);
				return -1;
			}
		}
		pg = cJSON_GetObjectItemCaseSensitive(r.json, "meta");
		pg = cJSON_GetObjectItemCaseSensitive(pg, "pagination");
		next_page = page_number(pg, "next_page");
		last_page = page_number(pg, "last_page");
		total = page_number(pg, "total_entries");
		per_page = page_number(pg, "per_page");
		hc_response_release(&r);
		/* null (or no pagination at all): this was the last page */
		if (next_page == -1)
			return 0;
		if (next_page != page + 1)
			return list_error(err, what, path, "page %lld names %s as the next one",
					  (long long)page, next_page == -2 ? "nonsense"
					  : next_page <= page ? "an earlier page" : "a later page");
		if (page == 1) {
			/* what the first page announces bounds the rest */
			if (last_page > HC_LIST_MAX_PAGES)
				return list_error(err, what, path, "%lld pages announced, more "
						  "than the %d the tool reads", (long long)last_page,
						  HC_LIST_MAX_PAGES);
			if (last_page > 0 && last_page < allowed)
				allowed = last_page + 1;
			if (total >= 0 && per_page > 0 && total / per_page + 2 < allowed)
				allowed = total / per_page + 2;
		}
		if (next_page > allowed)
			return list_error(err, what, path, allowed == HC_LIST_MAX_PAGES
					  ? "more than %lld pages"
					  : "more pages than the first one announced (%lld)",
					  (long long)(allowed == HC_LIST_MAX_PAGES ? allowed
						      : allowed - 1));
		if (bytes > HC_LIST_MAX_BYTES)
			return list_error(err, what, path, "more than %u MiB in %lld pages",
					  HC_LIST_MAX_BYTES >> 20, (long long)page);
		page = next_page;
	}
}

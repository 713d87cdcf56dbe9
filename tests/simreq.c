/*
 * simreq.c - the C tests' requests to the local simulator (see simreq.h).
 * It prints no TAP rows (each test binary counts its own, tests/tap.h),
 * only diagnostics, "Bail out!" and the skip.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "burst/strbuf.h"
#include "simreq.h"
#include "tap.h"

/* How much of a refused request's answer a diagnostic shows. */
#define SIMREQ_SHOWN 2000

static const char *simreq_endpoint_, *simreq_token_, *simreq_base_;

/* Is url an http:// URL on a 127.0.0.0/8 address?  *why says what is not. */
static int simreq_loopback(const char *url, const char **why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	struct in_addr a;
	int ok_ = 0;

	*why = "not a URL";
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	*why = "not http://";
	if (strcmp(scheme, "http"))
		goto out;
	*why = "not on a 127.0.0.0/8 address";
	if (inet_pton(AF_INET, host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
		goto out;
	ok_ = 1;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok_;
}

/* The simulator named by the environment, or a skip. */
void sim_open(void)
{
	const char *urls[2], *names[2] = { "HCLOUD_ENDPOINT", "BURST_SIM_BASE" }, *why;

	simreq_endpoint_ = getenv("HCLOUD_ENDPOINT");
	simreq_token_ = getenv("HCLOUD_TOKEN");
	simreq_base_ = getenv("BURST_SIM_BASE");
	if (!simreq_endpoint_ || !simreq_token_ || !simreq_base_)
		skip_all("no simulator (run through run-with-sim.py: no HCLOUD_ENDPOINT, "
			 "HCLOUD_TOKEN or BURST_SIM_BASE)");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		bail_out("curl_global_init failed");
	urls[0] = simreq_endpoint_;
	urls[1] = simreq_base_;
	for (int i = 0; i < 2; i++)
		if (!simreq_loopback(urls[i], &why)) {
			diag("%s '%s' is %s: the tests speak to the local simulator only",
			     names[i], urls[i], why);
			bail_out("the simulator is not on a loopback address");
		}
}

/* HCLOUD_ENDPOINT. */
const char *sim_endpoint(void)
{
	return simreq_endpoint_;
}

/* HCLOUD_TOKEN. */
const char *sim_token(void)
{
	return simreq_token_;
}

static size_t simreq_collect(char *p, size_t size, size_t n, void *data)
{
	/* a short count (refused by the strbuf's max) ends the transfer */
	return strbuf_add(data, p, size * n) < 0 ? 0 : size * n;
}

/* One request to base + path, bounded; bails out unless answered < 300. */
static char *simreq_request(const char *base, bool authorised, const char *method,
			    const char *path, const char *body)
{
	struct strbuf sb = STRBUF_INIT;
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	char *url, *auth = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (!base)
		bail_out("sim_open() was not called");
	if (!h || !hdr)
		bail_out("curl_easy_init failed");
	url = xstrfmt("%s%s", base, path);
	strbuf_set_max(&sb, SIMREQ_MAX_ANSWER);
	if (authorised) {
		auth = xstrfmt("Authorization: Bearer %s", simreq_token_);
		hdr = curl_slist_append(hdr, auth);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_PROXY, "");       /* no proxy from the environment */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)tap_scaled_ms(10000));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)tap_scaled_ms(SIMREQ_TIMEOUT_MS));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, simreq_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sb);
	rc = curl_easy_perform(h);
	if (sb.overflow) {
		diag("simulator: %s %s: the answer is larger than %u bytes", method, path,
		     SIMREQ_MAX_ANSWER);
		bail_out("simulator answer too large");
	}
	if (rc != CURLE_OK) {
		diag("simulator: %s %s%s: %s (curl error %d)", method, base, path,
		     errbuf[0] ? errbuf : curl_easy_strerror(rc), (int)rc);
		bail_out("simulator request failed");
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300) {
		diag("simulator: %s %s -> %ld: %.*s%s", method, path, status, SIMREQ_SHOWN,
		     sb.buf, sb.len > SIMREQ_SHOWN ? "..." : "");
		bail_out("simulator request refused");
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(auth);
	free(url);
	return strbuf_detach(&sb, NULL);
}

/* A control API request. */
char *sim_call(const char *method, const char *path, const char *body)
{
	return simreq_request(simreq_base_, false, method, path, body);
}

/* A /v1 API request with the token. */
char *sim_api(const char *method, const char *path, const char *body)
{
	return simreq_request(simreq_endpoint_, true, method, path, body);
}

/* POST /_sim/config. */
void sim_config(const char *json)
{
	free(sim_call("POST", "/_sim/config", json));
}

/* POST /_sim/requests/reset. */
void sim_reset_log(void)
{
	free(sim_call("POST", "/_sim/requests/reset", "{}"));
}

/* GET /_sim/requests as a JSON array. */
cJSON *sim_log(void)
{
	char *s = sim_call("GET", "/_sim/requests", NULL);
	cJSON *j = cJSON_Parse(s);

	free(s);
	if (!cJSON_IsArray(j))
		bail_out("the simulator's request log is not a JSON array");
	return j;
}

/* curl_global_cleanup. */
void sim_close(void)
{
	curl_global_cleanup();
}

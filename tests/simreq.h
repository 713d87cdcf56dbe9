/*
 * simreq.h - the C tests' own requests to the local Hetzner simulator
 * (tests/sim/hcloud_sim.py) that tests/hcloud/run-with-sim.py starts: its
 * control API (/_sim/config, /_sim/requests, ...) and, with the token, its
 * /v1 API (to read an answer as the simulator gives it, bypassing the
 * client under test).  Its functions are named sim_*.  libcurl is linked
 * here, not dlopen()ed as by the library.
 *
 *   int main(void)
 *   {
 *           sim_open();               // skips without a simulator
 *           sim_config("{\"faults\": []}");
 *           sim_reset_log();
 *           ...                       // the client under test, on sim_endpoint()
 *           log = sim_log();          // what the client sent
 *           ...
 *           sim_close();
 *           return done_testing();
 *   }
 *
 * Every request goes to a loopback address only (the URLs are checked at
 * sim_open, no proxy is used, no redirect followed), is bounded in time
 * (SIMREQ_TIMEOUT_MS, scaled by BURST_TEST_TIME_SCALE) and in the size of
 * its answer (SIMREQ_MAX_ANSWER).  A request that fails, times out, is
 * answered with a status of 300 or more or too large an answer bails out
 * (TAP "Bail out!") after a diagnostic naming the method, the path and
 * why, so the rows a test prints are only about what it tests.  The token
 * is never printed.
 */
#ifndef BURST_TESTS_SIMREQ_H
#define BURST_TESTS_SIMREQ_H

#include <cjson/cJSON.h>

/* The longest a request may take (ms, before BURST_TEST_TIME_SCALE). */
#define SIMREQ_TIMEOUT_MS 30000
/* The largest answer a request accepts (bytes). */
#define SIMREQ_MAX_ANSWER (16u << 20)

/* Skip the test unless HCLOUD_ENDPOINT, HCLOUD_TOKEN and BURST_SIM_BASE
 * name a simulator (as run-with-sim.py sets them); bail out unless both
 * URLs are http:// on a 127.0.0.0/8 address; then initialise libcurl. */
void sim_open(void);

/* The simulator's /v1 API URL (HCLOUD_ENDPOINT), for the client under test. */
const char *sim_endpoint(void);

/* The simulator's API token (HCLOUD_TOKEN), for the client under test. */
const char *sim_token(void);

/* A request to the control API: BURST_SIM_BASE + path (e.g.
 * "/_sim/config"), with body (JSON, or NULL for none).  Returns the answer,
 * the caller's to free; bails out on any failure (see above). */
char *sim_call(const char *method, const char *path, const char *body);

/* As sim_call, to the /v1 API: HCLOUD_ENDPOINT + path (e.g.
 * "/servers"), authorised with the token. */
char *sim_api(const char *method, const char *path, const char *body);

/* Change the simulator's configuration (POST /_sim/config of json). */
void sim_config(const char *json);

/* Empty the simulator's request log. */
void sim_reset_log(void);

/* The simulator's request log since the last reset: a JSON array, the
 * caller's to cJSON_Delete (bails out on anything else). */
cJSON *sim_log(void);

/* Release libcurl (sim_open's). */
void sim_close(void);

#endif

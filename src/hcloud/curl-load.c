/*
 * curl-load.c - libcurl, loaded at run time by the first API request.
 *
 * libcurl pulls in about thirty libraries (OpenSSL, Kerberos, LDAP, ...)
 * that cost some 6 MB of resident memory in every process that maps them,
 * although a warm run and a sleeping reaper never make a request.  The
 * binary is therefore compiled against libcurl's headers only and opens
 * libcurl.so.4 (the soname of libcurl 7.16 and later) with dlopen() the
 * first time a client sends something.  Every libcurl function the client
 * uses goes through the one table here.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "burst/log.h"
#include "hcloud-internal.h"

#define HC_CURL_SONAME "libcurl.so.4"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const char *soname = HC_CURL_SONAME;
static struct hc_curl_api api;
static bool loaded;
/* Why loading failed (dlerror() or curl_global_init), for every caller. */
static char load_error[512];
static bool load_error_init; /* the failure was curl_global_init's */

/* dlsym one symbol into *slot; false (and load_error set) when missing. */
static bool sym(void *lib, const char *name, void *slot)
{
	void *p;

	dlerror();
	p = dlsym(lib, name);
	if (!p) {
		const char *e = dlerror();

		snprintf(load_error, sizeof(load_error), "%s", e ? e : name);
		return false;
	}
	/* POSIX guarantees that object and function pointers convert. */
	memcpy(slot, &p, sizeof(p));
	return true;
}

static void load(void)
{
	struct hc_curl_api t;
	void *lib;
	CURLcode rc;

	memset(&t, 0, sizeof(t));
	lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *e = dlerror();

		snprintf(load_error, sizeof(load_error), "%s", e ? e : "dlopen failed");
		return;
	}
	if (!sym(lib, "curl_global_init", &t.global_init) ||
	    !sym(lib, "curl_easy_init", &t.easy_init) ||
	    !sym(lib, "curl_easy_cleanup", &t.easy_cleanup) ||
	    !sym(lib, "curl_easy_reset", &t.easy_reset) ||
	    !sym(lib, "curl_easy_setopt", &t.easy_setopt) ||
	    !sym(lib, "curl_easy_perform", &t.easy_perform) ||
	    !sym(lib, "curl_easy_getinfo", &t.easy_getinfo) ||
	    !sym(lib, "curl_easy_strerror", &t.easy_strerror) ||
	    !sym(lib, "curl_slist_append", &t.slist_append) ||
	    !sym(lib, "curl_slist_free_all", &t.slist_free_all)) {
		/* Never unloaded: libcurl may have started threads of its own. */
		return;
	}
	rc = t.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(load_error, sizeof(load_error), "%s", t.easy_strerror(rc));
		load_error_init = true;
		return;
	}
	api = t;
	loaded = true;
	log_debug("hcloud", "loaded %s", soname);
}

const struct hc_curl_api *hc_curl_load(struct burst_error *err)
{
	pthread_once(&load_once, load);
	if (loaded)
		return &api;
	if (load_error_init) {
		burst_error_set(err, BURST_EXIT_INTERNAL, "initialising libcurl: %s", load_error);
		return NULL;
	}
	burst_error_set(err, BURST_EXIT_INTERNAL, "cannot load libcurl (%s): %s", soname,
			load_error);
	burst_error_hint(err, "install the libcurl4 package (e.g. `apt-get install libcurl4`)");
	return NULL;
}

bool hc_curl_loaded(void)
{
	return loaded;
}

void hc_curl_set_library(const char *name)
{
	soname = name ? name : HC_CURL_SONAME;
}

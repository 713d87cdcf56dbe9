/*
 * types.c - which of the configured locations a server type can be ordered
 * in now (server_type.locations[] and their deprecation), so the location
 * fallback skips a location where the type is deprecated instead of
 * finding out by a failed create.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "burst/hcloud.h"
#include "burst/provision.h"
#include "burst/strbuf.h"
#include "burst/ui.h"

/* Why t cannot be ordered in loc: listed there (or flagged) = deprecated. */
static const char *why_not(const struct hcloud_server_type *t, const char *loc)
{
	for (size_t i = 0; i < t->nr_locations; i++)
		if (t->locations[i].name && !strcmp(t->locations[i].name, loc))
			return "deprecated";
	if (!t->nr_locations && t->deprecated)
		return "deprecated";
	return "not offered";
}

int provision_usable_locations(struct hcloud *api, const char *type,
			       struct strvec *locations, struct burst_error *err)
{
	struct hcloud_server_types types = { 0 };
	const struct hcloud_server_type *t = NULL;
	struct strvec keep = STRVEC_INIT;
	struct strbuf skipped = STRBUF_INIT;
	time_t now = time(NULL);
	int ret = -1;

	if (!locations->nr)
		return 0;
	if (hcloud_server_types_list(api, type, &types, err) < 0) {
		burst_error_prefix(err, "looking up server type '%s'", type);
		goto out;
	}
	for (size_t i = 0; i < types.nr && !t; i++)
		if (types.v[i].name && !strcmp(types.v[i].name, type))
			t = &types.v[i];
	if (!t) {
		/* an unknown type: the create refuses it with the API's words */
		ret = 0;
		goto out;
	}
	for (size_t i = 0; i < locations->nr; i++) {
		const char *loc = locations->v[i];

		if (hcloud_server_type_usable_in(t, loc, now)) {
			strvec_push(&keep, loc);
			continue;
		}
		ui_info("Skipping", "%s: server type '%s' is %s there", loc, type,
			why_not(t, loc));
		strbuf_addf(&skipped, "%s%s", skipped.len ? ", " : "", loc);
	}
	if (!keep.nr) {
		burst_error_set(err, BURST_EXIT_API,
				"server type '%s' cannot be ordered in any configured location (%s)",
				type, skipped.buf);
		burst_error_hint(err, "add regions where it is offered or pick another server_type");
		goto out;
	}
	strvec_clear(locations);
	strvec_pushn(locations, keep.v, keep.nr);
	ret = 0;
out:
	strvec_clear(&keep);
	strbuf_release(&skipped);
	hcloud_server_types_release(&types);
	return ret;
}

/* naming.c - project identity, resource names and labels (pure). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "burst/hcloud.h"
#include "burst/provision.h"
#include "burst/state.h"
#include "burst/strbuf.h"

bool provision_arch_is_arm(const char *arch)
{
	return arch && !strcmp(arch, "arm64");
}

const char *provision_arch_api(const char *arch)
{
	return provision_arch_is_arm(arch) ? "arm" : "x86";
}

/*
 * Lower-case the leaf and keep [a-z0-9], turning every other run of bytes
 * into one '-'; no '-' at either end.  Empty when nothing is left.
 */
static void sanitise(struct strbuf *sb, const char *leaf, size_t max)
{
	bool dash = false;

	for (const char *p = leaf; *p && sb->len < max; p++) {
		int c = tolower((unsigned char)*p);

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (dash && sb->len) {
				if (sb->len + 2 > max)
					break;
				strbuf_addch(sb, '-');
			}
			strbuf_addch(sb, c);
			dash = false;
		} else {
			dash = true;
		}
	}
	while (sb->len && sb->buf[sb->len - 1] == '-')
		strbuf_setlen(sb, sb->len - 1);
}

/* The last path component of root ("" for "/"). */
static const char *leaf_of(const char *root, size_t *len)
{
	const char *end = root + strlen(root), *p;

	while (end > root && end[-1] == '/')
		end--;
	p = end;
	while (p > root && p[-1] != '/')
		p--;
	*len = (size_t)(end - p);
	return p;
}

char *provision_volume_name(const char *root, const char *hash,
			    const char *location, const char *arch)
{
	struct strbuf sb = STRBUF_INIT, leaf = STRBUF_INIT;
	size_t llen, fixed;
	const char *l = leaf_of(root, &llen);
	char *tmp = xstrndup(l, llen);

	/* "cargo-burst-" + leaf + "-" + hash [+ "-" + location] <= 64 */
	fixed = strlen("cargo-burst-") + 1 + strlen(hash);
	if (provision_arch_is_arm(arch))
		fixed += strlen("-arm64");
	if (location)
		fixed += 1 + strlen(location);
	sanitise(&leaf, tmp, fixed < PROVISION_NAME_MAX ?
		 PROVISION_NAME_MAX - fixed : 0);
	while (leaf.len && leaf.buf[leaf.len - 1] == '-')
		strbuf_setlen(&leaf, leaf.len - 1);
	strbuf_addstr(&sb, "cargo-burst-");
	if (leaf.len)
		strbuf_addf(&sb, "%s-", leaf.buf);
	strbuf_addstr(&sb, hash);
	if (provision_arch_is_arm(arch))
		strbuf_addstr(&sb, "-arm64");
	if (location) {
		struct strbuf loc = STRBUF_INIT;

		sanitise(&loc, location, 16);
		if (loc.len)
			strbuf_addf(&sb, "-%s", loc.buf);
		strbuf_release(&loc);
	}
	if (sb.len > PROVISION_NAME_MAX)
		strbuf_setlen(&sb, PROVISION_NAME_MAX);
	free(tmp);
	strbuf_release(&leaf);
	return strbuf_detach(&sb, NULL);
}

char *provision_server_name(const char *owner_id, int64_t now)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	char stamp[16];
	size_t n = 0;
	uint64_t v = now > 0 ? (uint64_t)now : 0;

	/* base36 of the creation time keeps names unique across re-provisions */
	do {
		stamp[n++] = digits[v % 36];
		v /= 36;
	} while (v && n < sizeof(stamp) - 1);
	stamp[n] = '\0';
	for (size_t i = 0; i < n / 2; i++) {
		char c = stamp[i];
		stamp[i] = stamp[n - 1 - i];
		stamp[n - 1 - i] = c;
	}
	/*
	 * Plus four random base36 digits: a run that re-provisions within the
	 * same second (a server that never started) must not collide with the
	 * name of the one it gives up on (names are unique per project).
	 */
	{
		unsigned char rnd[4] = { 0 };
		char tail[5];
		size_t got = 0;

		while (got < sizeof(rnd)) {
			ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		if (got < sizeof(rnd)) {
			/* no entropy source: still differ between processes and calls */
			static unsigned calls;
			uint32_t x = (uint32_t)getpid() * 2654435761u ^ (uint32_t)burst_now_ms() ^
				     (++calls * 40503u);
			memcpy(rnd, &x, sizeof(rnd));
		}
		for (size_t i = 0; i < 4; i++)
			tail[i] = digits[rnd[i] % 36];
		tail[4] = '\0';
		return xstrfmt("cargo-burst-%s-%s-%s", owner_id, stamp, tail);
	}
}

char *provision_ssh_key_name(const char *owner_id, const char *fingerprint)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "cargo-burst-%s-", owner_id);
	for (const char *p = fingerprint; *p && sb.len < 60; p++)
		if (isxdigit((unsigned char)*p))
			strbuf_addch(&sb, tolower((unsigned char)*p));
	return strbuf_detach(&sb, NULL);
}

void provision_labels(struct hcloud_labels *l, const char *role,
		      const char *owner_id, const char *project_hash)
{
	hcloud_labels_set(l, "managed-by", "cargo-burst");
	hcloud_labels_set(l, "owner", owner_id);
	hcloud_labels_set(l, "role", role);
	if (project_hash)
		hcloud_labels_set(l, "project", project_hash);
}

char *provision_labels_json(const struct hcloud_labels *l)
{
	struct strbuf sb = STRBUF_INIT;

	/* label keys and values are [A-Za-z0-9._/-]: nothing to escape */
	strbuf_addch(&sb, '{');
	for (size_t i = 0; i < l->nr; i++)
		strbuf_addf(&sb, "%s\"%s\":\"%s\"", i ? "," : "", l->v[i].key,
			    l->v[i].value);
	strbuf_addch(&sb, '}');
	return strbuf_detach(&sb, NULL);
}

/*
 * test_bake_unit.c - the pure parts of the bake: names, labels, the user
 * data sent to the bake server and the snapshot retention rule.
 */
#include <stdlib.h>
#include <string.h>

#include "burst/hcloud.h"
#include "burst/image.h"
#include "burst/strbuf.h"
#include "image/image-user-data.h"
#include "tap.h"

/* RFC 1123 host name label: [a-z0-9-], alnum at both ends, <= 63. */
static bool valid_hostname(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static bool labels_valid(const struct hcloud_labels *l)
{
	for (size_t i = 0; i < l->nr; i++)
		if (!hcloud_label_valid(l->v[i].key, l->v[i].value))
			return false;
	return l->nr > 0;
}

static void add_image(struct hcloud_images *imgs, int64_t id, const char *type, time_t created,
		      const char *managed, const char *role, const char *owner)
{
	struct hcloud_image *im;

	imgs->v = xreallocarray(imgs->v, imgs->nr + 1, sizeof(*imgs->v));
	im = &imgs->v[imgs->nr++];
	memset(im, 0, sizeof(*im));
	im->id = id;
	im->type = xstrdup(type);
	im->created = created;
	hcloud_labels_init(&im->labels);
	if (managed)
		hcloud_labels_set(&im->labels, "managed-by", managed);
	if (role)
		hcloud_labels_set(&im->labels, "role", role);
	if (owner)
		hcloud_labels_set(&im->labels, "owner", owner);
}

static bool has_id(const int64_t *v, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

static void test_names_and_labels(void)
{
	struct hcloud_labels l = HCLOUD_LABELS_INIT;
	char *name, *desc;
	const char *fmt;
	int64_t format;

	/* 2026-11-22 02:53:44 UTC */
	name = image_bake_name(1795316024);
	is_str(name, "cargo-burst-bake-20261122-025344", "bake name carries the UTC time");
	ok(valid_hostname(name), "bake name is a valid server name");
	free(name);

	image_bake_labels(&l, "0123456789ab", 1795317824);
	ok(labels_valid(&l), "bake labels are valid Hetzner labels");
	is_str(hcloud_labels_get(&l, "managed-by"), "cargo-burst", "bake: managed-by");
	is_str(hcloud_labels_get(&l, "owner"), "0123456789ab", "bake: owner");
	is_str(hcloud_labels_get(&l, "role"), "bake", "bake: role=bake");
	is_str(hcloud_labels_get(&l, "deadline"), "1795317824", "bake: deadline label");
	hcloud_labels_release(&l);

	image_snapshot_labels(&l, "0123456789ab", "0.1.0", 1795316024);
	ok(labels_valid(&l), "snapshot labels are valid Hetzner labels");
	is_str(hcloud_labels_get(&l, "role"), "image", "snapshot: role=image");
	is_str(hcloud_labels_get(&l, "owner"), "0123456789ab", "snapshot: owner");
	is_str(hcloud_labels_get(&l, "version"), "0.1.0", "snapshot: tool version");
	is_str(hcloud_labels_get(&l, "baked"), "20261122T025344Z", "snapshot: bake date");
	fmt = hcloud_labels_get(&l, "format");
	if (!fmt || parse_int64(fmt, 0, 1000000, &format) < 0)
		format = -1;
	is_int(format, burst_image_format_version, "snapshot: image format");
	hcloud_labels_release(&l);

	desc = image_default_description("0.1.0", 1795316024);
	ok(strstr(desc, "0.1.0") && strstr(desc, "2026-11-22 02:53 UTC"),
	   "default description names the version and date: %s", desc);
	free(desc);
}

static void test_user_data(void)
{
	struct strbuf ud = STRBUF_INIT;
	const char *priv = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAsecret\n"
			   "-----END OPENSSH PRIVATE KEY-----\n";
	const char *pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIXYZ cargo-burst";
	char *big;

	strbuf_addstr(&ud, "prefix:");
	is_int(image_user_data(priv, pub, &ud), 0, "user data builds");
	ok(!strncmp(ud.buf, "prefix:", 7), "user data is appended to the buffer");
	ok(!strncmp(ud.buf + 7, burst_image_user_data, burst_image_user_data_len),
	   "user data starts with the embedded cloud-config");
	ok(strstr(ud.buf, "\nssh_keys:\n") != NULL, "a top-level ssh_keys block follows");
	ok(strstr(ud.buf, "    AAAAsecret\n") != NULL, "the private host key is indented");
	ok(strstr(ud.buf, "ed25519_public: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIXYZ") != NULL,
	   "the public host key is there");
	ok(strstr(ud.buf + 7 + 1, "#cloud-config") == NULL,
	   "only one #cloud-config header");
	ok(strstr(ud.buf, "\npower_state:") != NULL, "the power_state of the bake is kept");
	ok(ud.len - 7 <= 32 * 1024, "user data fits Hetzner's 32 KiB (%zu bytes)", ud.len - 7);
	strbuf_release(&ud);

	/* a host key that would push it over the limit is refused */
	big = xmalloc(20000);
	memset(big, 'A', 19999);
	big[19999] = '\0';
	strbuf_addstr(&ud, "x");
	is_int(image_user_data(big, pub, &ud), -1, "oversized user data is refused");
	is_int(ud.len, 1, "and the buffer is left as it was");
	free(big);
	strbuf_release(&ud);
}

static void test_retention(void)
{
	struct hcloud_images imgs = { 0 };
	int64_t *doomed = NULL;
	size_t n = 0;
	const char *me = "aaaaaaaaaaaa";

	add_image(&imgs, 1, "snapshot", 100, "cargo-burst", "image", me);
	add_image(&imgs, 2, "snapshot", 300, "cargo-burst", "image", me);
	add_image(&imgs, 3, "snapshot", 200, "cargo-burst", "image", me);
	add_image(&imgs, 4, "snapshot", 50, NULL, NULL, NULL);              /* unlabelled */
	add_image(&imgs, 5, "snapshot", 10, "cargo-burst", "image", "bbbbbbbbbbbb"); /* other owner */
	add_image(&imgs, 6, "snapshot", 20, "cargo-burst", "image", NULL);  /* no owner */
	add_image(&imgs, 7, "snapshot", 30, "cargo-burst", "bake", me);     /* not an image */
	add_image(&imgs, 8, "backup", 40, "cargo-burst", "image", me);      /* not a snapshot */
	add_image(&imgs, 9, "snapshot", 300, "cargo-burst", "image", me);   /* same time as 2 */

	is_int(image_retention_plan(&imgs, me, NULL, 2, 0, &doomed, &n), 2, "keep 2 of 4: two doomed");
	ok(has_id(doomed, n, 1) && has_id(doomed, n, 3), "the two oldest of ours are doomed");
	ok(!has_id(doomed, n, 2) && !has_id(doomed, n, 9), "the newest two are kept (id breaks ties)");
	ok(!has_id(doomed, n, 4) && !has_id(doomed, n, 5) && !has_id(doomed, n, 6) &&
	   !has_id(doomed, n, 7) && !has_id(doomed, n, 8),
	   "unlabelled, other owners', role!=image and non-snapshots are never doomed");
	free(doomed);
	doomed = NULL;
	n = 0;

	is_int(image_retention_plan(&imgs, me, NULL, 1, 0, &doomed, &n), 3, "keep 1: three doomed");
	ok(!has_id(doomed, n, 9), "keep 1 keeps the newest (highest id at equal time)");
	free(doomed);
	doomed = NULL;
	n = 0;

	is_int(image_retention_plan(&imgs, me, NULL, 0, 0, &doomed, &n), 3,
	       "keep 0 is treated as 1 (never delete every image)");
	free(doomed);
	doomed = NULL;
	n = 0;

	is_int(image_retention_plan(&imgs, me, NULL, 2, 1, &doomed, &n), 2,
	       "a protected old image counts as kept");
	ok(!has_id(doomed, n, 1) && !has_id(doomed, n, 9) && has_id(doomed, n, 2) &&
	   has_id(doomed, n, 3), "protected 1 and newest 9 stay");
	free(doomed);
	doomed = NULL;
	n = 0;

	is_int(image_retention_plan(&imgs, me, NULL, 10, 0, &doomed, &n), 0, "keep 10: nothing doomed");
	is_int(image_retention_plan(&imgs, "cccccccccccc", NULL, 1, 0, &doomed, &n), 0,
	       "a stranger owns nothing here");
	is_int(image_retention_plan(&imgs, "bbbbbbbbbbbb", NULL, 1, 0, &doomed, &n), 0,
	       "the other owner keeps its only image");
	free(doomed);
	hcloud_images_release(&imgs);
}

/* Each architecture keeps its own newest images. */
static void test_retention_per_arch(void)
{
	struct hcloud_images imgs = { 0 };
	int64_t *doomed = NULL;
	size_t n = 0;
	const char *me = "aaaaaaaaaaaa";

	add_image(&imgs, 1, "snapshot", 100, "cargo-burst", "image", me); /* unlabelled: x86 */
	add_image(&imgs, 2, "snapshot", 200, "cargo-burst", "image", me);
	imgs.v[1].architecture = xstrdup("x86");
	add_image(&imgs, 3, "snapshot", 300, "cargo-burst", "image", me);
	imgs.v[2].architecture = xstrdup("arm");
	add_image(&imgs, 4, "snapshot", 400, "cargo-burst", "image", me);
	imgs.v[3].architecture = xstrdup("arm");
	add_image(&imgs, 5, "snapshot", 500, "cargo-burst", "image", me);  /* label only */
	hcloud_labels_set(&imgs.v[4].labels, "arch", "arm64");

	is_int(image_retention_plan(&imgs, me, "x86", 1, 2, &doomed, &n), 1,
	       "x86, keep 1: one doomed");
	ok(has_id(doomed, n, 1), "the older x86 image, not an arm64 one newer than both");
	free(doomed);
	doomed = NULL;
	n = 0;
	is_int(image_retention_plan(&imgs, me, "arm64", 1, 5, &doomed, &n), 2,
	       "arm64, keep 1: the two older arm64 ones doomed");
	ok(has_id(doomed, n, 3) && has_id(doomed, n, 4) && !has_id(doomed, n, 1) &&
	   !has_id(doomed, n, 2), "x86 images are not counted nor doomed by an arm64 bake");
	free(doomed);
	hcloud_images_release(&imgs);
}

int main(void)
{
	test_names_and_labels();
	test_user_data();
	test_retention();
	test_retention_per_arch();
	return done_testing();
}

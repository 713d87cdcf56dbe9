/* test-provision-naming.c - project identity, names and labels. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "burst/hcloud.h"
#include "burst/provision.h"
#include "burst/strvec.h"
#include "tap.h"

/* Hetzner's volume name rule: [A-Za-z0-9._-], alnum at both ends, <= 64. */
static bool valid_volume_name(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > 64 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return false;
	return true;
}

int main(void)
{
	char h1[PROVISION_HASH_LEN + 1], h2[PROVISION_HASH_LEN + 1];
	struct hcloud_labels l = HCLOUD_LABELS_INIT;
	char *n, *j;
	const char *weird[] = {
		"/home/me/My Project!!", "/", "/srv/-__-", "/x/ÄÖÜ-ünïcødé",
		"/a/very-long-project-name-that-goes-on-and-on-and-on-and-on-forever-and-ever",
		"/tmp/ends-with-dash-/",
	};

	project_hash("/home/me/proj", h1);
	project_hash("/home/me/proj", h2);
	is_str(h1, h2, "project hash is deterministic");
	is_int(strlen(h1), PROVISION_HASH_LEN, "12 hex digits");
	project_hash("/home/me/proj2", h2);
	ok(strcmp(h1, h2) != 0, "another root, another hash");

	n = provision_volume_name("/home/me/proj", h1, NULL, NULL);
	j = xstrfmt("cargo-burst-proj-%s", h1);
	is_str(n, j, "volume name");
	free(n);
	free(j);
	n = provision_volume_name("/home/me/My_Cool.Project", "0123456789ab", NULL, "x86");
	is_str(n, "cargo-burst-my-cool-project-0123456789ab", "leaf sanitised");
	free(n);
	n = provision_volume_name("/home/me/proj", "0123456789ab", "fsn1", NULL);
	is_str(n, "cargo-burst-proj-0123456789ab-fsn1", "moved volume carries its location");
	free(n);
	/* arm64: a name of its own; x86 keeps the names existing volumes have */
	n = provision_volume_name("/home/me/proj", "0123456789ab", NULL, "arm64");
	is_str(n, "cargo-burst-proj-0123456789ab-arm64", "an arm64 volume says so");
	free(n);
	n = provision_volume_name("/home/me/proj", "0123456789ab", "fsn1", "arm64");
	is_str(n, "cargo-burst-proj-0123456789ab-arm64-fsn1", "arm64, moved");
	free(n);
	n = provision_volume_name(weird[4], "0123456789ab", "hel1", "arm64");
	ok(valid_volume_name(n) && strstr(n, "0123456789ab-arm64-hel1"),
	   "long leaf, arm64, moved: still valid: %s", n);
	free(n);
	project_hash_arch("/home/me/proj", "x86", h2);
	is_str(h2, h1, "x86 keeps the project's hash (existing volumes keep working)");
	project_hash_arch("/home/me/proj", NULL, h2);
	is_str(h2, h1, "no arch is x86");
	project_hash_arch("/home/me/proj", "arm64", h2);
	ok(strcmp(h1, h2) != 0 && strlen(h2) == PROVISION_HASH_LEN,
	   "arm64 is another project (its own volume and leases): %s", h2);
	{
		struct hcloud_image im = { 0 };

		hcloud_labels_init(&im.labels);
		is_str(provision_image_arch(&im), "x86", "an image without architecture or label is x86");
		hcloud_labels_set(&im.labels, "arch", "arm64");
		is_str(provision_image_arch(&im), "arm64", "else its arch label tells");
		im.architecture = xstrdup("x86");
		is_str(provision_image_arch(&im), "x86", "the API's architecture wins over a label");
		free(im.architecture);
		im.architecture = xstrdup("arm");
		is_str(provision_image_arch(&im), "arm64", "architecture arm is arm64");
		free(im.architecture);
		im.architecture = xstrdup("riscv");
		is_str(provision_image_arch(&im), "other", "an unknown architecture is neither");
		free(im.architecture);
		hcloud_labels_release(&im.labels);
	}
	is_str(provision_arch_api("arm64"), "arm", "the API calls arm64 arm");
	is_str(provision_arch_api(NULL), "x86", "and the default x86");
	for (size_t i = 0; i < sizeof(weird) / sizeof(weird[0]); i++) {
		n = provision_volume_name(weird[i], "0123456789ab", i % 2 ? "hel1" : NULL, NULL);
		ok(valid_volume_name(n) && strstr(n, "0123456789ab"),
		   "valid volume name for '%s': %s", weird[i], n);
		free(n);
	}

	n = provision_server_name("abcdef012345", 1700000000);
	ok(n && !strncmp(n, "cargo-burst-abcdef012345-", 25), "server name carries the owner: %s",
	   n ? n : "(null)");
	j = provision_server_name("abcdef012345", 1700000001);
	ok(n && j && strcmp(n, j) != 0, "server names differ over time");
	free(j);
	j = provision_server_name("abcdef012345", 1700000000);
	ok(n && j && strcmp(n, j) != 0, "and within the same second: %s, %s",
	   n ? n : "(null)", j ? j : "(null)");
	ok(strlen(j) <= 63, "a valid hostname label length (%zu)", strlen(j));
	free(n);
	free(j);
	n = provision_ssh_key_name("abcdef012345", "b7:2f:30:a0:2f:6c:58:6c:21:04:58:61:ba:06:3b:2f");
	is_str(n, "cargo-burst-abcdef012345-b72f30a02f6c586c21045861ba063b2f", "ssh key name");
	free(n);

	provision_labels(&l, "volume", "abcdef012345", h1);
	is_str(hcloud_labels_get(&l, "managed-by"), "cargo-burst", "managed-by label");
	is_str(hcloud_labels_get(&l, "owner"), "abcdef012345", "owner label");
	is_str(hcloud_labels_get(&l, "role"), "volume", "role label");
	is_str(hcloud_labels_get(&l, "project"), h1, "project label");
	for (size_t i = 0; i < l.nr; i++)
		ok(hcloud_label_valid(l.v[i].key, l.v[i].value), "label %s valid", l.v[i].key);
	j = provision_labels_json(&l);
	ok(strstr(j, "\"managed-by\":\"cargo-burst\"") && j[0] == '{', "labels as JSON: %s", j);
	free(j);
	hcloud_labels_release(&l);
	provision_labels(&l, "server", "abcdef012345", NULL);
	is_str(hcloud_labels_get(&l, "project"), NULL, "no project label on the server");
	hcloud_labels_release(&l);

	{
		struct strvec regions = STRVEC_INIT, order = STRVEC_INIT;

		strvec_push(&regions, "hel1");
		strvec_push(&regions, "fsn1");
		strvec_push(&regions, "nbg1");
		provision_location_order("fsn1", &regions, &order);
		is_int(order.nr, 3, "no duplicates in the location order");
		is_str(order.v[0], "fsn1", "the volume's location first");
		is_str(order.v[1], "hel1", "then the configured regions in order");
		is_str(order.v[2], "nbg1", "...");
		strvec_clear(&order);
		provision_location_order(NULL, &regions, &order);
		is_str(order.v[0], "hel1", "without a volume: the regions");
		strvec_clear(&order);
		strvec_clear(&regions);
	}
	n = provision_device_path(4711);
	is_str(n, "/dev/disk/by-id/scsi-0HC_Volume_4711", "the volume's device path");
	free(n);
	return done_testing();
}

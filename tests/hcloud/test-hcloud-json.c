/*
 * test-hcloud-json.c - pure unit tests of the hcloud decoders, labels,
 * selectors, error values and endpoint checks (no server).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"

#include "burst/hcloud.h"
#include "burst/log.h"

#define DECODE(fn, json, out) fn(json, strlen(json), out, &err)

static void test_server(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_server s = { 0 };
	const char *full =
		"{\"id\": 42, \"name\": \"my-resource\", \"status\": \"running\","
		" \"created\": \"2016-01-30T23:55:00+00:00\","
		" \"public_net\": {\"ipv4\": {\"id\": 42, \"ip\": \"1.2.3.4\", \"blocked\": false},"
		"  \"ipv6\": {\"ip\": \"2001:db8::/64\"}, \"floating_ips\": [478]},"
		" \"server_type\": {\"id\": 1, \"name\": \"cpx11\", \"cores\": 2},"
		" \"datacenter\": {\"id\": 42, \"name\": \"fsn1-dc8\","
		"  \"location\": {\"id\": 42, \"name\": \"fsn1\"}},"
		" \"image\": {\"id\": 4711, \"type\": \"snapshot\"}, \"iso\": null,"
		" \"locked\": true, \"labels\": {\"managed-by\": \"cargo-burst\", \"k\": \"\"},"
		" \"volumes\": [7, 8], \"placement_group\": null}";
	const char *sparse =
		"{\"id\": 7, \"name\": null, \"public_net\": {\"ipv4\": null},"
		" \"image\": null, \"datacenter\": null, \"labels\": null, \"volumes\": null,"
		" \"created\": \"junk\", \"locked\": \"yes\"}";

	ok(!DECODE(hcloud_server_decode, full, &s), "server sample decodes");
	is_int(s.id, 42, "server id");
	is_str(s.name, "my-resource", "server name");
	is_str(s.status, "running", "server status");
	is_str(s.ipv4, "1.2.3.4", "server ipv4 from public_net.ipv4.ip");
	is_str(s.location, "fsn1", "server location from datacenter.location.name");
	is_str(s.datacenter, "fsn1-dc8", "server datacenter");
	is_str(s.server_type, "cpx11", "server type name");
	is_int(s.image_id, 4711, "server image id");
	is_int(s.created, 1454198100, "server created parsed as UTC");
	ok(s.locked, "server locked");
	is_int(s.nr_volumes, 2, "two volume ids");
	is_int(s.nr_volumes == 2 ? s.volumes[1] : 0, 8, "second volume id");
	is_str(hcloud_labels_get(&s.labels, "managed-by"), "cargo-burst", "label value");
	is_str(hcloud_labels_get(&s.labels, "k"), "", "key-only label");
	hcloud_server_release(&s);

	{
		/* server_type.architecture: only "x86"/"arm"; anything else unknown */
		static const struct {
			const char *type, *want;
		} arch[] = {
			{ "{\"name\": \"cx22\", \"architecture\": \"x86\"}", "x86" },
			{ "{\"name\": \"cax11\", \"architecture\": \"arm\"}", "arm" },
			{ "{\"name\": \"cx22\", \"architecture\": \"arm\"}", "arm" },
			{ "{\"name\": \"cax11\", \"architecture\": \"x86\"}", "x86" },
			{ "{\"name\": \"cax11\", \"architecture\": \"riscv\"}", "unknown" },
			{ "{\"name\": \"cx22\", \"architecture\": \"ARM\"}", "unknown" },
			{ "{\"name\": \"cx22\", \"architecture\": \"\"}", "unknown" },
			{ "{\"name\": \"cx22\", \"architecture\": 64}", "unknown" },
			{ "{\"name\": \"cx22\", \"architecture\": {\"x\": 1}}", "unknown" },
			{ "{\"name\": \"cx22\", \"architecture\": null}", NULL },
			{ "{\"name\": \"cax11\"}", NULL },
			{ "\"cax11\"", NULL },
			{ "null", NULL },
		};

		for (size_t i = 0; i < ARRAY_SIZE(arch); i++) {
			char *j = xstrfmt("{\"id\": 5, \"name\": \"a\", \"server_type\": %s}",
					  arch[i].type);

			ok(!DECODE(hcloud_server_decode, j, &s), "server with type %s decodes",
			   arch[i].type);
			if (arch[i].want)
				is_str(s.architecture, arch[i].want, "architecture of %s",
				       arch[i].type);
			else
				ok(!s.architecture, "no architecture from %s (absent)", arch[i].type);
			hcloud_server_release(&s);
			free(j);
		}
	}

	ok(!DECODE(hcloud_server_decode, sparse, &s), "server with nulls decodes");
	is_int(s.id, 7, "sparse id");
	ok(!s.name && !s.ipv4 && !s.location && !s.status, "null fields stay NULL");
	ok(!s.image_id && !s.nr_volumes && !s.created && !s.locked,
	   "null/bad scalars stay zero");
	hcloud_server_release(&s);

	{
		/* the address becomes a host and a known_hosts line: only a real IPv4 */
		static const char *bad[] = {
			"127.0.0.9\\n* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostile",
			"127.0.0.9 ", "*", "127.0.0.9,*", "[127.0.0.9]:22", "::1",
			"localhost", "127.0.0.9/32", "",
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			char *j = xstrfmt("{\"id\": 9, \"name\": \"x\", \"public_net\":"
					  " {\"ipv4\": {\"ip\": \"%s\"}}}", bad[i]);

			ok(!DECODE(hcloud_server_decode, j, &s), "server with ip '%s' decodes",
			   bad[i]);
			ok(!s.ipv4 && s.ipv4_invalid, "ip '%s' is refused (absent, marked invalid)",
			   bad[i]);
			hcloud_server_release(&s);
			free(j);
		}
		ok(!DECODE(hcloud_server_decode,
			   "{\"id\": 9, \"name\": \"evil\\u001b]0;owned\\u0007\\u001b[2Jname\","
			   " \"datacenter\": {\"name\": \"dc\\u009b1m\\n\", \"location\":"
			   " {\"name\": \"fsn1\\u001b[5m\"}}}", &s) &&
		   s.name && !strcmp(s.name, "evilname") && s.location && !strcmp(s.location, "fsn1") &&
		   s.datacenter && !strcmp(s.datacenter, "dc1m "),
		   "names from the API are terminal-safe (status prints them)");
		hcloud_server_release(&s);
		ok(!DECODE(hcloud_server_decode, full, &s) && !s.ipv4_invalid,
		   "a valid ip is not marked invalid");
		hcloud_server_release(&s);
		ok(!DECODE(hcloud_server_decode, sparse, &s) && !s.ipv4_invalid,
		   "a missing ip is absent, not invalid");
		hcloud_server_release(&s);
	}

	ok(DECODE(hcloud_server_decode, "[1,2]", &s) < 0, "array is not a server");
	is_int(err.exit_code, BURST_EXIT_API, "decode error is an API error");
	burst_error_release(&err);
	ok(DECODE(hcloud_server_decode, "{\"id\": ", &s) < 0, "truncated JSON fails");
	burst_error_release(&err);
	hcloud_server_release(&s);
}

static void test_volume_image_key(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_volume v = { 0 };
	struct hcloud_image i = { 0 };
	struct hcloud_ssh_key k = { 0 };

	ok(!DECODE(hcloud_volume_decode,
		   "{\"id\": 4711, \"created\": \"2016-01-30T23:50:11+00:00\","
		   " \"name\": \"database-storage\", \"server\": 12,"
		   " \"location\": {\"id\": 1, \"name\": \"fsn1\"}, \"size\": 42,"
		   " \"linux_device\": \"/dev/disk/by-id/scsi-0HC_Volume_4711\","
		   " \"protection\": {\"delete\": false}, \"labels\": {\"key\": \"value\"},"
		   " \"status\": \"available\", \"format\": \"xfs\"}", &v),
	   "volume sample decodes");
	is_int(v.id, 4711, "volume id");
	is_int(v.server, 12, "volume server");
	is_str(v.location, "fsn1", "volume location");
	is_int(v.size, 42, "volume size");
	is_str(v.linux_device, "/dev/disk/by-id/scsi-0HC_Volume_4711", "linux_device");
	is_str(v.format, "xfs", "volume format");
	is_int(v.created, 1454197811, "volume created");
	hcloud_volume_release(&v);
	ok(!DECODE(hcloud_volume_decode, "{\"id\": 1, \"server\": null, \"format\": null}", &v),
	   "detached unformatted volume decodes");
	ok(v.server == 0 && v.format == NULL, "server null -> 0, format null -> NULL");
	hcloud_volume_release(&v);

	ok(!DECODE(hcloud_image_decode,
		   "{\"id\": 42, \"type\": \"snapshot\", \"status\": \"available\", \"name\": null,"
		   " \"description\": \"Ubuntu 20.04 Standard 64 bit\", \"image_size\": 2.3,"
		   " \"disk_size\": 10, \"created\": \"2016-01-30T23:55:00Z\","
		   " \"created_from\": {\"id\": 1, \"name\": \"Server\"}, \"bound_to\": null,"
		   " \"labels\": {\"env\": \"ci\"}, \"architecture\": \"x86\"}", &i),
	   "image sample decodes");
	is_str(i.type, "snapshot", "image type");
	ok(!i.name, "snapshot has no name");
	ok(i.image_size > 2.29 && i.image_size < 2.31, "image_size float");
	is_int(i.created_from, 1, "created_from id");
	is_int(i.created, 1454198100, "Z timestamp");
	is_str(hcloud_labels_get(&i.labels, "env"), "ci", "image label");
	is_str(i.architecture, "x86", "image architecture x86");
	hcloud_image_release(&i);
	ok(!DECODE(hcloud_image_decode, "{\"id\": 43, \"type\": \"system\", \"name\": "
		   "\"ubuntu-24.04\", \"architecture\": \"arm\"}", &i), "arm image decodes");
	is_str(i.architecture, "arm", "image architecture arm");
	hcloud_image_release(&i);
	ok(!DECODE(hcloud_image_decode, "{\"id\": 44, \"architecture\": null}", &i),
	   "image with a null architecture decodes");
	ok(i.architecture == NULL, "null architecture -> NULL (unknown)");
	hcloud_image_release(&i);
	ok(!DECODE(hcloud_image_decode, "{\"id\": 45, \"architecture\": 7}", &i),
	   "image with a non-string architecture decodes");
	ok(i.architecture == NULL, "a non-string architecture is ignored");
	hcloud_image_release(&i);
	ok(!DECODE(hcloud_image_decode, "{\"id\": 5, \"image_size\": null, \"created_from\": null}",
		   &i), "creating image decodes");
	ok(i.image_size == 0.0 && !i.created_from, "null image_size and created_from");
	hcloud_image_release(&i);

	ok(!DECODE(hcloud_ssh_key_decode,
		   "{\"id\": 42, \"name\": \"my-resource\","
		   " \"fingerprint\": \"b7:2f:30:a0:2f:6c:58:6c:21:04:58:61:ba:06:3b:2f\","
		   " \"public_key\": \"ssh-rsa AAAjjk76kgf...Xt\", \"labels\": {}}", &k),
	   "ssh key decodes");
	is_str(k.fingerprint, "b7:2f:30:a0:2f:6c:58:6c:21:04:58:61:ba:06:3b:2f", "fingerprint");
	hcloud_ssh_key_release(&k);
}

static void test_action(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_action a = { 0 };

	ok(!DECODE(hcloud_action_decode,
		   "{\"id\": 13, \"command\": \"start_server\", \"status\": \"running\","
		   " \"progress\": 0, \"started\": \"2016-01-30T23:50:00+00:00\","
		   " \"finished\": null, \"resources\": [{\"id\": 42, \"type\": \"server\"}],"
		   " \"error\": {\"code\": \"action_failed\", \"message\": \"Action failed\"}}", &a),
	   "running action sample decodes");
	ok(hcloud_action_running(&a), "running");
	ok(!a.error_code, "error object ignored unless status is error");
	is_int(a.nr_resources, 1, "one resource");
	is_str(a.nr_resources ? a.resources[0].type : NULL, "server", "resource type");
	ok(!a.finished, "finished null");
	hcloud_action_release(&a);
	ok(!DECODE(hcloud_action_decode,
		   "{\"id\": 14, \"command\": \"attach_volume\", \"status\": \"error\","
		   " \"progress\": 250, \"error\": {\"code\": \"action_failed\","
		   " \"message\": \"Action failed\"}}", &a), "failed action decodes");
	ok(!hcloud_action_running(&a), "not running");
	is_str(a.error_code, "action_failed", "error code kept for status error");
	is_int(a.progress, 100, "progress clamped");
	hcloud_action_release(&a);
}

/* Today's shape: a top-level location, no datacenter (gone after 1 July 2026). */
static void test_server_location(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_server s = { 0 };

	ok(!DECODE(hcloud_server_decode,
		   "{\"id\": 5, \"name\": \"x\", \"location\": {\"id\": 3, \"name\": \"hel1\"}}",
		   &s), "server without datacenter decodes");
	is_str(s.location, "hel1", "location from the top-level location.name");
	ok(!s.datacenter, "no datacenter: NULL");
	hcloud_server_release(&s);
	ok(!DECODE(hcloud_server_decode,
		   "{\"id\": 5, \"location\": {\"name\": \"nbg1\"},"
		   " \"datacenter\": {\"name\": \"fsn1-dc14\", \"location\": {\"name\": \"fsn1\"}}}",
		   &s), "server with both decodes");
	is_str(s.location, "nbg1", "the top-level location wins over datacenter.location");
	hcloud_server_release(&s);
	ok(!DECODE(hcloud_server_decode,
		   "{\"id\": 5, \"location\": \"nbg1\", \"datacenter\": {\"location\": 7}}", &s),
	   "server with wrongly typed locations decodes");
	ok(!s.location, "no location from wrong types");
	hcloud_server_release(&s);
	burst_error_release(&err);
}

/* server_type.locations[] and the per-location deprecation. */
static void test_type_locations(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_server_type t = { 0 };
	time_t now = 1790000000; /* 2026-09-21 */

	ok(!DECODE(hcloud_server_type_decode,
		   "{\"id\": 22, \"name\": \"cpx11\", \"deprecated\": null, \"deprecation\": null,"
		   " \"prices\": [{\"location\": \"fsn1\"}, {\"location\": \"nbg1\"},"
		   "  {\"location\": \"hel1\"}, {\"location\": \"ash\"}],"
		   " \"locations\": [{\"id\": 1, \"name\": \"fsn1\", \"deprecation\":"
		   "  {\"announced\": \"2026-01-01T00:00:00Z\", \"unavailable_after\": \"2026-04-01T00:00:00Z\"}},"
		   "  {\"id\": 2, \"name\": \"nbg1\", \"deprecation\": null},"
		   "  {\"id\": 3, \"name\": \"hel1\", \"deprecation\":"
		   "  {\"announced\": \"2026-08-01T00:00:00Z\", \"unavailable_after\": \"2027-01-01T00:00:00Z\"}},"
		   "  {\"id\": 9}, 7, null]}", &t),
	   "server type with locations decodes");
	is_int(t.nr_locations, 3, "three named locations kept (junk entries dropped)");
	is_str(t.nr_locations ? t.locations[0].name : NULL, "fsn1", "first location name");
	ok(t.nr_locations && t.locations[0].deprecated &&
	   t.locations[0].unavailable_after == 1775001600, "fsn1 deprecation decoded");
	ok(!hcloud_server_type_usable_in(&t, "fsn1", now), "not usable where unavailable_after passed");
	ok(hcloud_server_type_usable_in(&t, "nbg1", now), "usable where not deprecated");
	ok(hcloud_server_type_usable_in(&t, "hel1", now), "usable where only announced");
	ok(!hcloud_server_type_usable_in(&t, "hel1", 1800000000), "not usable once that date passed");
	ok(!hcloud_server_type_usable_in(&t, "ash", now),
	   "not usable in a location missing from locations[] (a price alone is not enough)");
	ok(!hcloud_server_type_usable_in(&t, NULL, now) && !hcloud_server_type_usable_in(NULL, "fsn1", now),
	   "NULL type or location: not usable");
	hcloud_server_type_release(&t);

	/* older answers: no locations[], the top-level fields decide */
	ok(!DECODE(hcloud_server_type_decode,
		   "{\"id\": 22, \"name\": \"cpx11\", \"deprecated\": false,"
		   " \"prices\": [{\"location\": \"fsn1\"}]}", &t), "older server type decodes");
	ok(hcloud_server_type_usable_in(&t, "fsn1", now), "older shape: usable where priced");
	ok(!hcloud_server_type_usable_in(&t, "sin", now), "older shape: not where unpriced");
	hcloud_server_type_release(&t);
	ok(!DECODE(hcloud_server_type_decode,
		   "{\"id\": 22, \"deprecation\": {\"unavailable_after\": \"2027-01-01T00:00:00Z\"}}",
		   &t), "announced type decodes");
	ok(hcloud_server_type_usable_in(&t, "fsn1", now), "older shape: announced is still usable");
	ok(!hcloud_server_type_usable_in(&t, "fsn1", 1800000000), "but not after its date");
	hcloud_server_type_release(&t);
	ok(!DECODE(hcloud_server_type_decode, "{\"id\": 22, \"deprecated\": true}", &t),
	   "flagged type decodes");
	ok(!hcloud_server_type_usable_in(&t, "fsn1", now), "older shape: a bare flag is not usable");
	hcloud_server_type_release(&t);
	burst_error_release(&err);
}

static void test_types_pricing(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud_server_type t = { 0 };
	struct hcloud_pricing p = { 0 };
	struct hcloud_datacenter d = { 0 };
	struct hcloud_location l = { 0 };
	const struct hcloud_price *pr;

	ok(!DECODE(hcloud_server_type_decode,
		   "{\"id\": 1, \"name\": \"cpx11\", \"description\": \"CPX11\", \"cores\": 2,"
		   " \"memory\": 2, \"disk\": 40, \"deprecated\": false,"
		   " \"prices\": [{\"location\": \"fsn1\", \"price_hourly\": {\"net\": \"1.0000\","
		   " \"gross\": \"1.1900\"}, \"price_monthly\": {\"net\": \"1.0000000000\","
		   " \"gross\": \"1.1900000000000000\"}}, {\"location\": \"hel1\"}],"
		   " \"cpu_type\": \"shared\", \"architecture\": \"x86\"}", &t),
	   "server type decodes");
	is_int(t.cores, 2, "cores");
	is_str(t.architecture, "x86", "server type architecture x86");
	ok(!t.deprecated, "not deprecated without deprecation key");
	pr = hcloud_server_type_price(&t, "fsn1");
	ok(pr != NULL, "price for fsn1");
	is_str(pr ? pr->hourly_gross : NULL, "1.1900", "hourly gross kept as string");
	ok(pr && pr->hourly_gross_d > 1.1899 && pr->hourly_gross_d < 1.1901, "as double");
	ok(pr && pr->monthly_net_d > 0.9999 && pr->monthly_net_d < 1.0001,
	   "long precision price string");
	pr = hcloud_server_type_price(&t, "hel1");
	ok(pr && !pr->hourly_net && pr->hourly_net_d == 0.0, "price entry without amounts");
	ok(!hcloud_server_type_price(&t, "ash"), "no price for ash");
	hcloud_server_type_release(&t);
	ok(!DECODE(hcloud_server_type_decode,
		   "{\"id\": 95, \"name\": \"cax41\", \"cores\": 16, \"memory\": 32,"
		   " \"disk\": 320, \"cpu_type\": \"shared\", \"architecture\": \"arm\","
		   " \"locations\": [{\"id\": 1, \"name\": \"fsn1\", \"deprecation\": null}]}", &t),
	   "an Ampere server type decodes");
	is_str(t.architecture, "arm", "server type architecture arm");
	ok(t.nr_locations == 1 && hcloud_server_type_usable_in(&t, "fsn1", 0) &&
	   !hcloud_server_type_usable_in(&t, "ash", 0), "offered in fsn1 only, not in ash");
	hcloud_server_type_release(&t);
	ok(!DECODE(hcloud_server_type_decode,
		   "{\"id\": 2, \"deprecation\": {\"unavailable_after\": \"2023-09-01T00:00:00+00:00\"}}",
		   &t), "deprecated type decodes");
	ok(t.deprecated, "deprecation object means deprecated");
	hcloud_server_type_release(&t);

	ok(!DECODE(hcloud_pricing_decode,
		   "{\"currency\": \"EUR\", \"vat_rate\": \"19.00\","
		   " \"server_types\": [{\"id\": 1, \"name\": \"cpx11\", \"prices\": [{\"location\":"
		   " \"fsn1\", \"price_hourly\": {\"net\": \"0.0070\", \"gross\": \"0.0083\"}}]}],"
		   " \"volume\": {\"price_per_gb_month\": {\"net\": \"0.0440\", \"gross\": \"0.0524\"}},"
		   " \"image\": {\"price_per_gb_month\": {\"net\": \"0.0119\", \"gross\": \"0.0142\"}}}",
		   &p), "pricing decodes");
	is_str(p.currency, "EUR", "currency");
	ok(p.vat_rate_d > 18.99 && p.vat_rate_d < 19.01, "vat rate");
	is_int(p.server_types.nr, 1, "one type price");
	pr = p.server_types.nr ? hcloud_server_type_price(&p.server_types.v[0], "fsn1") : NULL;
	is_str(pr ? pr->hourly_net : NULL, "0.0070", "type hourly net");
	is_str(p.volume_gb_month.monthly_gross, "0.0524", "volume per GB-month");
	ok(p.image_gb_month.monthly_net_d > 0.0118, "image per GB-month");
	hcloud_pricing_release(&p);

	ok(!DECODE(hcloud_datacenter_decode,
		   "{\"id\": 42, \"name\": \"fsn1-dc8\", \"location\": {\"name\": \"fsn1\"},"
		   " \"server_types\": {\"supported\": [1,2,3], \"available\": [1,3],"
		   " \"available_for_migration\": [1]}}", &d), "datacenter decodes");
	is_int(d.nr_available, 2, "available ids");
	is_str(d.location, "fsn1", "datacenter location");
	hcloud_datacenter_release(&d);
	ok(!DECODE(hcloud_location_decode,
		   "{\"id\": 42, \"name\": \"fsn1\", \"description\": \"Falkenstein DC Park 1\","
		   " \"country\": \"DE\", \"city\": \"Falkenstein\", \"latitude\": 50.47612,"
		   " \"longitude\": 12.370071, \"network_zone\": \"eu-central\"}", &l),
	   "location decodes");
	is_str(l.network_zone, "eu-central", "network zone");
	hcloud_location_release(&l);
}

static void test_labels(void)
{
	struct hcloud_labels l = HCLOUD_LABELS_INIT, m = HCLOUD_LABELS_INIT;
	char *sel, *enc;

	hcloud_labels_set(&l, "managed-by", "cargo-burst");
	hcloud_labels_set(&l, "role", "server");
	hcloud_labels_set(&l, "example.com/flag", NULL);
	hcloud_labels_set(&l, "role", "volume");
	is_int(l.nr, 3, "set replaces an existing key");
	sel = hcloud_labels_selector(&l);
	is_str(sel, "managed-by==cargo-burst,role==volume,example.com/flag", "selector text");
	enc = hcloud_url_encode(sel);
	is_str(enc, "managed-by%3D%3Dcargo-burst%2Crole%3D%3Dvolume%2Cexample.com%2Fflag",
	       "selector URL-encoded");
	free(enc);
	free(sel);
	enc = hcloud_url_encode("env in (testing,staging)");
	is_str(enc, "env%20in%20%28testing%2Cstaging%29", "spaces and parens encoded");
	free(enc);

	hcloud_labels_set(&m, "role", "volume");
	ok(hcloud_labels_match(&l, &m), "subset matches");
	hcloud_labels_set(&m, "owner", "x");
	ok(!hcloud_labels_match(&l, &m), "missing key does not match");
	hcloud_labels_copy(&m, &l);
	ok(m.nr == 3 && hcloud_labels_match(&m, &l), "copy");
	hcloud_labels_release(&m);
	hcloud_labels_release(&l);
	hcloud_labels_release(&l);

	ok(hcloud_label_valid("managed-by", "cargo-burst"), "valid label");
	ok(hcloud_label_valid("example.com/my", ""), "prefix and empty value");
	ok(!hcloud_label_valid("hetzner.cloud/x", "y"), "reserved prefix");
	ok(!hcloud_label_valid("-bad", "y"), "key must start alphanumeric");
	ok(!hcloud_label_valid("k", "bad value"), "space in value");
	ok(!hcloud_label_valid("k", "0123456789012345678901234567890123456789012345678901234567890123"),
	   "value longer than 63");
}

static void test_errors(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	const char *body =
		"{\"error\": {\"code\": \"invalid_input\","
		" \"message\": \"invalid input in field 'broken_field': is too long\","
		" \"details\": {\"fields\": [{\"name\": \"broken_field\","
		" \"messages\": [\"is too long\"]}]}}}";

	hcloud_error_from_response(422, body, strlen(body), "abc123",
				   "creating server 'cargo-burst-1'", &err);
	is_int(err.exit_code, BURST_EXIT_API, "API exit code");
	is_int(err.http_status, 422, "http status");
	is_str(err.api_code, "invalid_input", "api code");
	is_str(err.correlation_id, "abc123", "correlation id");
	ok(err.message && !strncmp(err.message, "creating server 'cargo-burst-1': ", 33),
	   "message names what failed");
	ok(err.message && strstr(err.message, "broken_field: is too long"),
	   "field messages shown");
	is_str(err.api_details,
	       "{\"fields\":[{\"name\":\"broken_field\",\"messages\":[\"is too long\"]}]}",
	       "details as compact JSON");
	burst_error_release(&err);

	body = "{\"error\": {\"code\": \"resource_unavailable\", \"message\": \"x\"}}";
	hcloud_error_from_response(412, body, strlen(body), NULL, "creating server 'a'", &err);
	ok(err.hint && strstr(err.hint, "another server type"), "sold-out hint");
	ok(err.message && strstr(err.message, "sold out"), "sold-out message");
	ok(!err.api_details, "no details -> NULL");
	burst_error_release(&err);

	hcloud_error_from_response(502, "<html>bad gateway</html>", 24, NULL, "listing servers",
				   &err);
	is_int(err.http_status, 502, "non-JSON error body keeps status");
	ok(!err.api_code && err.message && strstr(err.message, "unavailable"),
	   "no code, plain words from status");
	burst_error_release(&err);
	body = "{\"error\": {\"code\": \"unauthorized\", \"message\": \"unable to authenticate\"}}";
	hcloud_error_from_response(401, body, strlen(body), "c", "listing servers", &err);
	ok(err.hint && strstr(err.hint, "HCLOUD_TOKEN"), "unauthorized hint names HCLOUD_TOKEN");
	burst_error_release(&err);
}

static void test_time(void)
{
	is_int(hcloud_parse_time("1970-01-01T00:00:00Z"), 0, "epoch");
	is_int(hcloud_parse_time("2016-01-30T23:55:00+00:00"), 1454198100, "offset form");
	is_int(hcloud_parse_time("2016-01-31T01:55:00+02:00"), 1454198100, "positive offset");
	is_int(hcloud_parse_time("2016-01-30T23:55:00.123456Z"), 1454198100, "fraction");
	is_int(hcloud_parse_time("2016-13-30T23:55:00Z"), 0, "bad month");
	is_int(hcloud_parse_time("2016-01-30T23:55:00+0"), 0, "truncated offset");
	is_int(hcloud_parse_time(NULL), 0, "NULL");
}

static void test_new(void)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct hcloud *c;

	c = hcloud_new("http://example.com/v1", "secret-token-1", &err);
	ok(!c && err.exit_code == BURST_EXIT_CONFIG, "plain http to a remote host refused");
	burst_error_release(&err);
	c = hcloud_new("http://127.0.0.1.example.com/v1", "secret-token-1", &err);
	ok(!c, "127.0.0.1.example.com is not loopback");
	burst_error_release(&err);
	c = hcloud_new("ftp://127.0.0.1/v1", "secret-token-1", &err);
	ok(!c, "ftp refused");
	burst_error_release(&err);
	c = hcloud_new(NULL, "", &err);
	ok(!c && err.hint && strstr(err.hint, "HCLOUD_TOKEN"), "empty token refused");
	burst_error_release(&err);
	c = hcloud_new("http://127.0.0.1:1/v1/", "secret-token-1", &err);
	ok(c != NULL, "http to loopback accepted");
	hcloud_free(c);
	c = hcloud_new(NULL, "secret-token-1", &err);
	ok(c != NULL, "default https endpoint accepted");
	hcloud_free(c);
	hcloud_free(NULL);
	{
		char *r = burst_redact("x secret-token-1 y");

		is_str(r, "x *** y", "token registered for redaction");
		free(r);
	}
	c = hcloud_new("http://127.0.0.1:1/v1", "secret-token-1", &err);
	if (c) {
		struct hcloud_servers l = { 0 };
		struct hcloud_retry_policy p = { 2, 1, 1, 1000, 10 };

		hcloud_set_retry(c, &p);
		hcloud_set_timeouts(c, 500, 1000);
		ok(hcloud_servers_list(c, NULL, NULL, &l, &err) < 0, "connection refused fails");
		ok(err.message && strstr(err.message, "cannot talk to 127.0.0.1"),
		   "network error names the host");
		ok(err.hint && strstr(err.hint, "HCLOUD_ENDPOINT"), "network hint");
		hcloud_servers_release(&l);
		burst_error_release(&err);
		{
			struct hcloud_stats st;

			hcloud_get_stats(c, &st);
			is_int(st.requests, 2, "connect failure retried up to max_attempts");
		}
	}
	hcloud_free(c);
}

int main(void)
{
	test_server();
	test_server_location();
	test_type_locations();
	test_volume_image_key();
	test_action();
	test_types_pricing();
	test_labels();
	test_errors();
	test_time();
	test_new();
	burst_redact_clear();
	return done_testing();
}

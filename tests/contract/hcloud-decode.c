/*
 * hcloud-decode.c - feed one JSON object (stdin) to a decoder of the
 * client and print what came out as JSON (stdout), for
 * test-contract-examples.py: `hcloud-decode server|volume|image|ssh_key|
 * action|server_type|location|datacenter|pricing < object.json`.
 * Exit 1 when the decoder refuses the text, 2 on bad usage.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burst/hcloud.h"
#include "burst/strbuf.h"

static void add_str(cJSON *o, const char *key, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

static void add_labels(cJSON *o, const struct hcloud_labels *l)
{
	cJSON *j = cJSON_AddObjectToObject(o, "labels");

	for (size_t i = 0; i < l->nr; i++)
		cJSON_AddStringToObject(j, l->v[i].key, l->v[i].value);
}

static void add_prices(cJSON *o, const struct hcloud_price *p, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "prices");

	for (size_t i = 0; i < n; i++) {
		cJSON *j = cJSON_CreateObject();

		add_str(j, "location", p[i].location);
		add_str(j, "hourly_net", p[i].hourly_net);
		add_str(j, "hourly_gross", p[i].hourly_gross);
		add_str(j, "monthly_net", p[i].monthly_net);
		add_str(j, "monthly_gross", p[i].monthly_gross);
		cJSON_AddItemToArray(arr, j);
	}
}

static cJSON *server(const char *s, size_t n, struct burst_error *err)
{
	struct hcloud_server v = { 0 };
	cJSON *o, *arr;

	if (hcloud_server_decode(s, n, &v, err) < 0)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)v.id);
	add_str(o, "name", v.name);
	add_str(o, "status", v.status);
	add_str(o, "ipv4", v.ipv4);
	add_str(o, "location", v.location);
	add_str(o, "datacenter", v.datacenter);
	add_str(o, "server_type", v.server_type);
	add_str(o, "architecture", v.architecture);
	cJSON_AddNumberToObject(o, "image_id", (double)v.image_id);
	add_labels(o, &v.labels);
	arr = cJSON_AddArrayToObject(o, "volumes");
	for (size_t i = 0; i < v.nr_volumes; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)v.volumes[i]));
	cJSON_AddNumberToObject(o, "created", (double)v.created);
	cJSON_AddBoolToObject(o, "locked", v.locked);
	hcloud_server_release(&v);
	return o;
}

static cJSON *volume(const char *s, size_t n, struct burst_error *err)
{
	struct hcloud_volume v = { 0 };
	cJSON *o;

	if (hcloud_volume_decode(s, n, &v, err) < 0)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)v.id);
	add_str(o, "name", v.name);
	add_str(o, "status", v.status);
	cJSON_AddNumberToObject(o, "server", (double)v.server);
	add_str(o, "location", v.location);
	cJSON_AddNumberToObject(o, "size", (double)v.size);
	add_str(o, "linux_device", v.linux_device);
	add_str(o, "format", v.format);
	add_labels(o, &v.labels);
	cJSON_AddNumberToObject(o, "created", (double)v.created);
	hcloud_volume_release(&v);
	return o;
}

static cJSON *image(const char *s, size_t n, struct burst_error *err)
{
	struct hcloud_image v = { 0 };
	cJSON *o;

	if (hcloud_image_decode(s, n, &v, err) < 0)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)v.id);
	add_str(o, "type", v.type);
	add_str(o, "status", v.status);
	add_str(o, "name", v.name);
	add_str(o, "description", v.description);
	add_labels(o, &v.labels);
	cJSON_AddNumberToObject(o, "created", (double)v.created);
	cJSON_AddNumberToObject(o, "image_size", v.image_size);
	cJSON_AddNumberToObject(o, "disk_size", v.disk_size);
	cJSON_AddNumberToObject(o, "created_from", (double)v.created_from);
	add_str(o, "architecture", v.architecture);
	hcloud_image_release(&v);
	return o;
}

static cJSON *ssh_key(const char *s, size_t n, struct burst_error *err)
{
	struct hcloud_ssh_key v = { 0 };
	cJSON *o;

	if (hcloud_ssh_key_decode(s, n, &v, err) < 0)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)v.id);
	add_str(o, "name", v.name);
	add_str(o, "fingerprint", v.fingerprint);
	add_str(o, "public_key", v.public_key);
	add_labels(o, &v.labels);
	hcloud_ssh_key_release(&v);
	return o;
}

static cJSON *action(const char *s, size_t n, struct burst_error *err)
{
	struct hcloud_action v = { 0 };
	cJSON *o, *arr;

	if (hcloud_action_decode(s, n, &v, err) < 0)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)v.id);
	add_str(o, "command", v.command);
	add_str(o, "status", v.status);
	cJSON_AddNumberToObject(o, "progress", v.progress);
	add_str(o, "error_code", v.error_code);
	cJSON_AddNumberToObject(o, "started", (double)v.started);
	cJSON_AddNumberToObject(o, "finished", (double)v.finished);
	arr = cJSON_AddArrayToObject(o, "resources");
	for (size_t i = 0; i < v.nr_resources; i++) {
		cJSON *r = cJSON_CreateObject();

		cJSON_AddNumberToObject(r, "id", (double)v.resources[i].id);
		add_str(r, "type", v.resources[i].type);
		cJSON_AddItemToArray(arr, r);
	}
	hcloud_action_release(&v);
	return o;
}

static cJSON *server_type(const char *s, size_t n, struct burst_error *err)
{
	struct hcloud_server_type v = { 0 };
	cJSON *o, *arr;

	if (hcloud_server_type_decode(s, n, &v, err) < 0)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)v.id);
	add_str(o, "name", v.name);
	cJSON_AddNumberToObject(o, "cores", v.cores);
	cJSON_AddNumberToObject(o, "memory", v.memory);
	cJSON_AddNumberToObject(o, "disk", v.disk);
	add_str(o, "cpu_type", v.cpu_type);
	add_str(o, "architecture", v.architecture);
	cJSON_AddBoolToObject(o, "deprecated", v.deprecated);
	add_prices(o, v.prices, v.nr_prices);
	arr = cJSON_AddArrayToObject(o, "locations");
	for (size_t i = 0; i < v.nr_locations; i++) {
		cJSON *l = cJSON_CreateObject();

		cJSON_AddNumberToObject(l, "id", (double)v.locations[i].id);
		add_str(l, "name", v.locations[i].name);
		cJSON_AddBoolToObject(l, "deprecated", v.locations[i].deprecated);
		cJSON_AddNumberToObject(l, "unavailable_after",
					(double)v.locations[i].unavailable_after);
		cJSON_AddItemToArray(arr, l);
	}
	hcloud_server_type_release(&v);
	return o;
}

static cJSON *location(const char *s, size_t n, struct burst_error *err)
{
	struct hcloud_location v = { 0 };
	cJSON *o;

	if (hcloud_location_decode(s, n, &v, err) < 0)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)v.id);
	add_str(o, "name", v.name);
	add_str(o, "country", v.country);
	add_str(o, "city", v.city);
	add_str(o, "network_zone", v.network_zone);
	hcloud_location_release(&v);
	return o;
}

static cJSON *datacenter(const char *s, size_t n, struct burst_error *err)
{
	struct hcloud_datacenter v = { 0 };
	cJSON *o, *arr;

	if (hcloud_datacenter_decode(s, n, &v, err) < 0)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)v.id);
	add_str(o, "name", v.name);
	add_str(o, "location", v.location);
	arr = cJSON_AddArrayToObject(o, "available");
	for (size_t i = 0; i < v.nr_available; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)v.available[i]));
	hcloud_datacenter_release(&v);
	return o;
}

static cJSON *pricing(const char *s, size_t n, struct burst_error *err)
{
	struct hcloud_pricing v = { 0 };
	cJSON *o, *arr;

	if (hcloud_pricing_decode(s, n, &v, err) < 0)
		return NULL;
	o = cJSON_CreateObject();
	add_str(o, "currency", v.currency);
	add_str(o, "vat_rate", v.vat_rate);
	add_str(o, "volume_monthly_net", v.volume_gb_month.monthly_net);
	add_str(o, "image_monthly_net", v.image_gb_month.monthly_net);
	arr = cJSON_AddArrayToObject(o, "server_types");
	for (size_t i = 0; i < v.server_types.nr; i++) {
		cJSON *t = cJSON_CreateObject();

		add_str(t, "name", v.server_types.v[i].name);
		add_prices(t, v.server_types.v[i].prices, v.server_types.v[i].nr_prices);
		cJSON_AddItemToArray(arr, t);
	}
	hcloud_pricing_release(&v);
	return o;
}

static const struct {
	const char *kind;
	cJSON *(*fn)(const char *, size_t, struct burst_error *);
} kinds[] = {
	{ "server", server }, { "volume", volume }, { "image", image },
	{ "ssh_key", ssh_key }, { "action", action }, { "server_type", server_type },
	{ "location", location }, { "datacenter", datacenter }, { "pricing", pricing },
};

int main(int argc, char **argv)
{
	struct burst_error err = BURST_ERROR_INIT;
	struct strbuf in = STRBUF_INIT;
	char buf[8192];
	size_t n;
	cJSON *out = NULL;
	char *text;
	int found = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: hcloud-decode KIND < object.json\n");
		return 2;
	}
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		strbuf_add(&in, buf, n);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].kind, argv[1]))
			continue;
		found = 1;
		out = kinds[i].fn(in.buf, in.len, &err);
	}
	strbuf_release(&in);
	if (!found) {
		fprintf(stderr, "hcloud-decode: unknown kind '%s'\n", argv[1]);
		return 2;
	}
	if (!out) {
		fprintf(stderr, "hcloud-decode: %s\n", err.message ? err.message : "failed");
		burst_error_release(&err);
		return 1;
	}
	text = cJSON_PrintUnformatted(out);
	printf("%s\n", text);
	free(text);
	cJSON_Delete(out);
	return 0;
}

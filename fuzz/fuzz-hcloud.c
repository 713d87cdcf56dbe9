/*
 * fuzz-hcloud.c - libFuzzer harness for the Hetzner API response decoders:
 * the first byte picks a decoder, the rest is the JSON text.  Build with
 *   CC=clang meson setup build-fuzz -Dfuzz=true
 * and run e.g.  build-fuzz/fuzz/fuzz-hcloud -max_total_time=60 CORPUS_DIR
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "burst/hcloud.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every string so that bad pointers show up under ASan. */
static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

static size_t touch_labels(const struct hcloud_labels *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->nr; i++)
		n += touch(l->v[i].key) + touch(l->v[i].value);
	return n;
}

static size_t touch_price(const struct hcloud_price *p)
{
	return touch(p->location) + touch(p->hourly_net) + touch(p->hourly_gross) +
	       touch(p->monthly_net) + touch(p->monthly_gross);
}

static size_t touch_type(const struct hcloud_server_type *t)
{
	size_t n = touch(t->name) + touch(t->description) + touch(t->cpu_type) +
		   touch(t->architecture);

	for (size_t i = 0; i < t->nr_prices; i++)
		n += touch_price(&t->prices[i]);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct burst_error err = BURST_ERROR_INIT;
	const char *json = (const char *)data + 1;
	size_t len = size ? size - 1 : 0, n = 0;
	char *z;

	if (!size)
		return 0;
	switch (data[0] % 11) {
	case 0: {
		struct hcloud_server s = { 0 };

		if (!hcloud_server_decode(json, len, &s, &err)) {
			n += touch(s.name) + touch(s.status) + touch(s.ipv4) + touch(s.location) +
			     touch(s.datacenter) + touch(s.server_type) + touch_labels(&s.labels);
			for (size_t i = 0; i < s.nr_volumes; i++)
				n += (size_t)s.volumes[i];
		}
		hcloud_server_release(&s);
		break;
	}
	case 1: {
		struct hcloud_volume v = { 0 };

		if (!hcloud_volume_decode(json, len, &v, &err))
			n += touch(v.name) + touch(v.status) + touch(v.location) +
			     touch(v.linux_device) + touch(v.format) + touch_labels(&v.labels);
		hcloud_volume_release(&v);
		break;
	}
	case 2: {
		struct hcloud_image i = { 0 };

		if (!hcloud_image_decode(json, len, &i, &err))
			n += touch(i.type) + touch(i.status) + touch(i.name) +
			     touch(i.description) + touch(i.architecture) + touch_labels(&i.labels);
		hcloud_image_release(&i);
		break;
	}
	case 3: {
		struct hcloud_ssh_key k = { 0 };

		if (!hcloud_ssh_key_decode(json, len, &k, &err))
			n += touch(k.name) + touch(k.fingerprint) + touch(k.public_key) +
			     touch_labels(&k.labels);
		hcloud_ssh_key_release(&k);
		break;
	}
	case 4: {
		struct hcloud_action a = { 0 };

		if (!hcloud_action_decode(json, len, &a, &err)) {
			n += touch(a.command) + touch(a.status) + touch(a.error_code) +
			     touch(a.error_message) + (size_t)hcloud_action_running(&a);
			for (size_t i = 0; i < a.nr_resources; i++)
				n += touch(a.resources[i].type);
		}
		hcloud_action_release(&a);
		break;
	}
	case 5: {
		struct hcloud_server_type t = { 0 };

		if (!hcloud_server_type_decode(json, len, &t, &err)) {
			n += touch_type(&t);
			n += hcloud_server_type_price(&t, "fsn1") != NULL;
		}
		hcloud_server_type_release(&t);
		break;
	}
	case 6: {
		struct hcloud_location l = { 0 };

		if (!hcloud_location_decode(json, len, &l, &err))
			n += touch(l.name) + touch(l.description) + touch(l.country) +
			     touch(l.city) + touch(l.network_zone);
		hcloud_location_release(&l);
		break;
	}
	case 7: {
		struct hcloud_datacenter d = { 0 };

		if (!hcloud_datacenter_decode(json, len, &d, &err)) {
			n += touch(d.name) + touch(d.location);
			for (size_t i = 0; i < d.nr_available; i++)
				n += (size_t)d.available[i];
			for (size_t i = 0; i < d.nr_supported; i++)
				n += (size_t)d.supported[i];
		}
		hcloud_datacenter_release(&d);
		break;
	}
	case 8: {
		struct hcloud_pricing p = { 0 };

		if (!hcloud_pricing_decode(json, len, &p, &err)) {
			n += touch(p.currency) + touch(p.vat_rate) +
			     touch_price(&p.volume_gb_month) + touch_price(&p.image_gb_month);
			for (size_t i = 0; i < p.server_types.nr; i++)
				n += touch_type(&p.server_types.v[i]);
		}
		hcloud_pricing_release(&p);
		break;
	}
	case 9:
		hcloud_error_from_response(422, json, len, "corr", "fuzzing", &err);
		n += touch(err.message) + touch(err.hint) + touch(err.api_code) +
		     touch(err.api_message) + touch(err.api_details);
		break;
	default:
		/* Text helpers on a NUL-terminated copy. */
		z = malloc(len + 1);
		if (!z)
			return 0;
		memcpy(z, json, len);
		z[len] = '\0';
		n += (size_t)hcloud_parse_time(z);
		n += hcloud_label_valid(z, z);
		{
			char *enc = hcloud_url_encode(z);

			n += touch(enc);
			free(enc);
		}
		free(z);
		break;
	}
	burst_error_release(&err);
	return n == (size_t)-1;
}

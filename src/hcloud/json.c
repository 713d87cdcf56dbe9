/*
 * json.c - labels and the defensive JSON decoders of the Hetzner objects.
 *
 * Every decoder tolerates missing keys, nulls and wrong types: a field that
 * is not what we expect stays 0/NULL.  Nothing here trusts the input.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "burst/text.h"
#include "hcloud-internal.h"

/* ---- labels ----------------------------------------------------------- */

void hcloud_labels_init(struct hcloud_labels *l)
{
	l->v = NULL;
	l->nr = l->alloc = 0;
}

void hcloud_labels_release(struct hcloud_labels *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nr; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	hcloud_labels_init(l);
}

void hcloud_labels_set(struct hcloud_labels *l, const char *key, const char *value)
{
	for (size_t i = 0; i < l->nr; i++) {
		if (!strcmp(l->v[i].key, key)) {
			free(l->v[i].value);
			l->v[i].value = xstrdup(value ? value : "");
			return;
		}
	}
	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	l->v[l->nr].key = xstrdup(key);
	l->v[l->nr].value = xstrdup(value ? value : "");
	l->nr++;
}

const char *hcloud_labels_get(const struct hcloud_labels *l, const char *key)
{
	for (size_t i = 0; l && i < l->nr; i++)
		if (!strcmp(l->v[i].key, key))
			return l->v[i].value;
	return NULL;
}

void hcloud_labels_copy(struct hcloud_labels *dst, const struct hcloud_labels *src)
{
	hcloud_labels_release(dst);
	for (size_t i = 0; src && i < src->nr; i++)
		hcloud_labels_set(dst, src->v[i].key, src->v[i].value);
}

bool hcloud_labels_match(const struct hcloud_labels *have, const struct hcloud_labels *want)
{
	for (size_t i = 0; want && i < want->nr; i++) {
		const char *v = hcloud_labels_get(have, want->v[i].key);

		if (!v || strcmp(v, want->v[i].value))
			return false;
	}
	return true;
}

static bool label_name_ok(const char *s, size_t len, bool allow_empty)
{
	if (!len)
		return allow_empty;
	if (len > 63 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
			return false;
	}
	return true;
}

static bool dns_subdomain_ok(const char *s, size_t len)
{
	size_t start = 0;

	if (!len || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			size_t n = i - start;

			if (!n || n > 63 || s[start] == '-' || s[i - 1] == '-')
				return false;
			for (size_t k = start; k < i; k++) {
				unsigned char ch = (unsigned char)s[k];

				if (!isalnum(ch) && ch != '-')
					return false;
			}
			start = i + 1;
		}
	}
	return true;
}

bool hcloud_label_valid(const char *key, const char *value)
{
	const char *slash;
	const char *name = key;

	if (!key)
		return false;
	slash = strchr(key, '/');
	if (slash) {
		if (!dns_subdomain_ok(key, (size_t)(slash - key)))
			return false;
		if (!strncmp(key, "hetzner.cloud/", 14))
			return false;
		name = slash + 1;
	}
	if (!label_name_ok(name, strlen(name), false))
		return false;
	return label_name_ok(value ? value : "", value ? strlen(value) : 0, true);
}

char *hcloud_labels_selector(const struct hcloud_labels *l)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; l && i < l->nr; i++) {
		if (i)
			strbuf_addch(&sb, ',');
		if (*l->v[i].value)
			strbuf_addf(&sb, "%s==%s", l->v[i].key, l->v[i].value);
		else
			strbuf_addstr(&sb, l->v[i].key);
	}
	return strbuf_detach(&sb, NULL);
}

char *hcloud_url_encode(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			strbuf_addch(&sb, ch);
		} else {
			strbuf_addch(&sb, '%');
			strbuf_addch(&sb, hex[ch >> 4]);
			strbuf_addch(&sb, hex[ch & 15]);
		}
	}
	return strbuf_detach(&sb, NULL);
}

/* ---- tolerant access -------------------------------------------------- */

static const cJSON *get(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

const char *hc_str(const cJSON *obj, const char *key)
{
	const cJSON *v = get(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A string of the API, terminal-safe: names and descriptions get printed. */
static char *dup_str(const cJSON *obj, const char *key)
{
	return burst_text_sanitize(hc_str(obj, key), 0);
}

static int64_t num_to_int(const cJSON *v)
{
	double d;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	/* Ids are JSON-double safe (< 2^53); reject anything outside. */
	if (!(d >= -9007199254740991.0 && d <= 9007199254740991.0))
		return 0;
	return (int64_t)d;
}

int64_t hc_int(const cJSON *obj, const char *key)
{
	return num_to_int(get(obj, key));
}

static double num(const cJSON *obj, const char *key)
{
	const cJSON *v = get(obj, key);

	if (cJSON_IsNumber(v))
		return v->valuedouble;
	if (cJSON_IsString(v) && v->valuestring)
		return strtod(v->valuestring, NULL);
	return 0.0;
}

static bool boolean(const cJSON *obj, const char *key)
{
	return cJSON_IsTrue(get(obj, key));
}

static int64_t *int_array(const cJSON *arr, size_t *nr)
{
	int64_t *out = NULL;
	size_t n = 0, alloc = 0;
	const cJSON *it;

	*nr = 0;
	if (!cJSON_IsArray(arr))
		return NULL;
	cJSON_ArrayForEach(it, arr) {
		int64_t id = num_to_int(it);

		/* Tolerate [{"id": 1}] too. */
		if (!id && cJSON_IsObject(it))
			id = hc_int(it, "id");
		if (!id)
			continue;
		ALLOC_GROW(out, n + 1, alloc);
		out[n++] = id;
	}
	*nr = n;
	return out;
}

static void decode_labels(const cJSON *obj, struct hcloud_labels *l)
{
	const cJSON *labels = get(obj, "labels"), *it;

	if (!cJSON_IsObject(labels))
		return;
	cJSON_ArrayForEach(it, labels) {
		if (!it->string)
			continue;
		hcloud_labels_set(l, it->string,
				  cJSON_IsString(it) ? it->valuestring : "");
	}
}

void hc_labels_to_json(cJSON *obj, const struct hcloud_labels *l)
{
	cJSON *labels = cJSON_AddObjectToObject(obj, "labels");

	for (size_t i = 0; l && i < l->nr; i++)
		cJSON_AddStringToObject(labels, l->v[i].key, l->v[i].value);
}

static int two(const char *s)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

time_t hcloud_parse_time(const char *s)
{
	struct tm tm;
	int y1, y2, mo, d, h, mi, sec, off = 0;
	time_t t;

	if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return 0;
	y1 = two(s);
	y2 = two(s + 2);
	mo = two(s + 5);
	d = two(s + 8);
	h = two(s + 11);
	mi = two(s + 14);
	sec = two(s + 17);
	if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return 0;
	s += 19;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int oh = two(s + 1), om;

		if (oh < 0)
			return 0;
		om = s[3] == ':' ? two(s + 4) : two(s + 3);
		if (om < 0)
			return 0;
		off = (oh * 60 + om) * 60 * (*s == '-' ? -1 : 1);
		s += s[3] == ':' ? 6 : 5;
	}
	if (*s)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y1 * 100 + y2 - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return 0;
	return t - off;
}

static time_t get_time(const cJSON *obj, const char *key)
{
	return hcloud_parse_time(hc_str(obj, key));
}

/* A price object {net, gross} into two strings and two doubles. */
static void decode_amount(const cJSON *obj, char **net, char **gross, double *net_d,
			  double *gross_d)
{
	const cJSON *n = get(obj, "net"), *g = get(obj, "gross");

	/* Strings per the docs; tolerate numbers. */
	if (cJSON_IsString(n)) {
		*net = xstrdup(n->valuestring);
		*net_d = strtod(n->valuestring, NULL);
	} else if (cJSON_IsNumber(n)) {
		*net = xstrfmt("%.4f", n->valuedouble);
		*net_d = n->valuedouble;
	}
	if (cJSON_IsString(g)) {
		*gross = xstrdup(g->valuestring);
		*gross_d = strtod(g->valuestring, NULL);
	} else if (cJSON_IsNumber(g)) {
		*gross = xstrfmt("%.4f", g->valuedouble);
		*gross_d = g->valuedouble;
	}
}

static void decode_price(const cJSON *j, struct hcloud_price *p)
{
	p->location = dup_str(j, "location");
	decode_amount(get(j, "price_hourly"), &p->hourly_net, &p->hourly_gross,
		      &p->hourly_net_d, &p->hourly_gross_d);
	decode_amount(get(j, "price_monthly"), &p->monthly_net, &p->monthly_gross,
		      &p->monthly_net_d, &p->monthly_gross_d);
}

static void price_release(struct hcloud_price *p)
{
	free(p->location);
	free(p->hourly_net);
	free(p->hourly_gross);
	free(p->monthly_net);
	free(p->monthly_gross);
	memset(p, 0, sizeof(*p));
}

/* ---- decoders --------------------------------------------------------- */

/*
 * A server's architecture as the API states it (server_type.architecture):
 * "x86" or "arm"; anything else present is "unknown" (never guessed);
 * NULL when absent or null.
 */
static char *decode_arch(const cJSON *a)
{
	if (!a || cJSON_IsNull(a))
		return NULL;
	if (cJSON_IsString(a) && (!strcmp(a->valuestring, "x86") || !strcmp(a->valuestring, "arm")))
		return xstrdup(a->valuestring);
	return xstrdup("unknown");
}

void hc_decode_server(const cJSON *j, struct hcloud_server *s)
{
	const cJSON *dc = get(j, "datacenter");
	const cJSON *loc = get(j, "location");
	const cJSON *ipv4 = get(get(j, "public_net"), "ipv4");
	const cJSON *image = get(j, "image");

	s->id = hc_int(j, "id");
	s->name = dup_str(j, "name");
	s->status = dup_str(j, "status");
	/* validated before it can become a host or a known_hosts line */
	s->ipv4 = dup_str(ipv4, "ip");
	if (s->ipv4 && !burst_ip_valid(s->ipv4, BURST_IP_V4)) {
		FREE_AND_NULL(s->ipv4);
		s->ipv4_invalid = true;
	}
	/* `location` today; `datacenter` is deprecated (gone after 1 July 2026) */
	s->location = dup_str(loc, "name");
	if (!s->location)
		s->location = dup_str(get(dc, "location"), "name");
	s->datacenter = dup_str(dc, "name");
	s->server_type = dup_str(get(j, "server_type"), "name");
	s->architecture = decode_arch(get(get(j, "server_type"), "architecture"));
	s->image_id = cJSON_IsNumber(image) ? num_to_int(image) : hc_int(image, "id");
	decode_labels(j, &s->labels);
	s->volumes = int_array(get(j, "volumes"), &s->nr_volumes);
	s->created = get_time(j, "created");
	s->locked = boolean(j, "locked");
}

void hc_decode_volume(const cJSON *j, struct hcloud_volume *v)
{
	const cJSON *loc = get(j, "location"), *server = get(j, "server");

	v->id = hc_int(j, "id");
	v->name = dup_str(j, "name");
	v->status = dup_str(j, "status");
	v->server = cJSON_IsObject(server) ? hc_int(server, "id") : num_to_int(server);
	v->location = cJSON_IsString(loc) ? burst_text_sanitize(loc->valuestring, 0)
					  : dup_str(loc, "name");
	v->size = hc_int(j, "size");
	v->linux_device = dup_str(j, "linux_device");
	v->format = dup_str(j, "format");
	decode_labels(j, &v->labels);
	v->created = get_time(j, "created");
}

void hc_decode_image(const cJSON *j, struct hcloud_image *i)
{
	const cJSON *from = get(j, "created_from");

	i->id = hc_int(j, "id");
	i->type = dup_str(j, "type");
	i->status = dup_str(j, "status");
	i->name = dup_str(j, "name");
	i->description = dup_str(j, "description");
	decode_labels(j, &i->labels);
	i->created = get_time(j, "created");
	i->image_size = num(j, "image_size");
	i->disk_size = num(j, "disk_size");
	i->created_from = cJSON_IsObject(from) ? hc_int(from, "id") : num_to_int(from);
	i->architecture = dup_str(j, "architecture");
}

void hc_decode_ssh_key(const cJSON *j, struct hcloud_ssh_key *k)
{
	k->id = hc_int(j, "id");
	k->name = dup_str(j, "name");
	k->fingerprint = dup_str(j, "fingerprint");
	k->public_key = dup_str(j, "public_key");
	decode_labels(j, &k->labels);
}

void hc_decode_action(const cJSON *j, struct hcloud_action *a)
{
	const cJSON *res = get(j, "resources"), *it;
	const cJSON *e = get(j, "error");
	size_t alloc = 0;
	int64_t progress = hc_int(j, "progress");

	a->id = hc_int(j, "id");
	a->command = dup_str(j, "command");
	a->status = dup_str(j, "status");
	a->progress = progress < 0 ? 0 : progress > 100 ? 100 : (int)progress;
	/* Samples carry an error object even on success: trust status only. */
	if (a->status && !strcmp(a->status, "error")) {
		a->error_code = dup_str(e, "code");
		a->error_message = dup_str(e, "message");
	}
	a->started = get_time(j, "started");
	a->finished = get_time(j, "finished");
	if (cJSON_IsArray(res)) {
		cJSON_ArrayForEach(it, res) {
			if (!cJSON_IsObject(it))
				continue;
			ALLOC_GROW(a->resources, a->nr_resources + 1, alloc);
			a->resources[a->nr_resources].id = hc_int(it, "id");
			a->resources[a->nr_resources].type = dup_str(it, "type");
			a->nr_resources++;
		}
	}
}

void hc_decode_actions(const cJSON *arr, struct hcloud_actions *l)
{
	const cJSON *it;

	if (!cJSON_IsArray(arr))
		return;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsObject(it))
			continue;
		ALLOC_GROW(l->v, l->nr + 1, l->alloc);
		memset(&l->v[l->nr], 0, sizeof(l->v[l->nr]));
		hc_decode_action(it, &l->v[l->nr]);
		l->nr++;
	}
}

static void decode_prices(const cJSON *arr, struct hcloud_price **out, size_t *nr)
{
	const cJSON *it;
	size_t alloc = 0;

	if (!cJSON_IsArray(arr))
		return;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsObject(it))
			continue;
		ALLOC_GROW(*out, *nr + 1, alloc);
		memset(&(*out)[*nr], 0, sizeof((*out)[*nr]));
		decode_price(it, &(*out)[*nr]);
		(*nr)++;
	}
}

/* server_type.locations[]: {id, name, deprecation: null | {unavailable_after}} */
static void decode_type_locations(const cJSON *arr, struct hcloud_server_type *t)
{
	const cJSON *it;
	size_t alloc = 0;

	if (!cJSON_IsArray(arr))
		return;
	cJSON_ArrayForEach(it, arr) {
		struct hcloud_server_type_location *l;
		const cJSON *dep = get(it, "deprecation");

		if (!cJSON_IsObject(it) || !hc_str(it, "name"))
			continue;
		ALLOC_GROW(t->locations, t->nr_locations + 1, alloc);
		l = &t->locations[t->nr_locations++];
		memset(l, 0, sizeof(*l));
		l->id = hc_int(it, "id");
		l->name = dup_str(it, "name");
		l->deprecated = cJSON_IsObject(dep);
		l->unavailable_after = get_time(dep, "unavailable_after");
	}
}

void hc_decode_server_type(const cJSON *j, struct hcloud_server_type *t)
{
	const cJSON *dep = get(j, "deprecation");
	int64_t cores = hc_int(j, "cores");

	t->id = hc_int(j, "id");
	t->name = dup_str(j, "name");
	t->description = dup_str(j, "description");
	t->cores = cores < 0 || cores > 1000000 ? 0 : (int)cores;
	t->memory = num(j, "memory");
	t->disk = num(j, "disk");
	t->cpu_type = dup_str(j, "cpu_type");
	t->architecture = dup_str(j, "architecture");
	t->deprecated = boolean(j, "deprecated") || cJSON_IsObject(dep);
	t->unavailable_after = get_time(dep, "unavailable_after");
	decode_prices(get(j, "prices"), &t->prices, &t->nr_prices);
	decode_type_locations(get(j, "locations"), t);
}

void hc_decode_location(const cJSON *j, struct hcloud_location *l)
{
	l->id = hc_int(j, "id");
	l->name = dup_str(j, "name");
	l->description = dup_str(j, "description");
	l->country = dup_str(j, "country");
	l->city = dup_str(j, "city");
	l->network_zone = dup_str(j, "network_zone");
	l->latitude = num(j, "latitude");
	l->longitude = num(j, "longitude");
}

void hc_decode_datacenter(const cJSON *j, struct hcloud_datacenter *d)
{
	const cJSON *loc = get(j, "location"), *st = get(j, "server_types");

	d->id = hc_int(j, "id");
	d->name = dup_str(j, "name");
	d->location = cJSON_IsString(loc) ? xstrdup(loc->valuestring) : dup_str(loc, "name");
	d->supported = int_array(get(st, "supported"), &d->nr_supported);
	d->available = int_array(get(st, "available"), &d->nr_available);
}

void hc_decode_pricing(const cJSON *j, struct hcloud_pricing *p)
{
	const cJSON *types = get(j, "server_types"), *it;
	const cJSON *vol = get(get(j, "volume"), "price_per_gb_month");
	const cJSON *img = get(get(j, "image"), "price_per_gb_month");

	p->currency = dup_str(j, "currency");
	p->vat_rate = dup_str(j, "vat_rate");
	p->vat_rate_d = num(j, "vat_rate");
	if (cJSON_IsArray(types)) {
		cJSON_ArrayForEach(it, types) {
			struct hcloud_server_type *t;

			if (!cJSON_IsObject(it))
				continue;
			ALLOC_GROW(p->server_types.v, p->server_types.nr + 1,
				   p->server_types.alloc);
			t = &p->server_types.v[p->server_types.nr++];
			memset(t, 0, sizeof(*t));
			t->id = hc_int(it, "id");
			t->name = dup_str(it, "name");
			decode_prices(get(it, "prices"), &t->prices, &t->nr_prices);
		}
	}
	decode_amount(vol, &p->volume_gb_month.monthly_net,
		      &p->volume_gb_month.monthly_gross,
		      &p->volume_gb_month.monthly_net_d,
		      &p->volume_gb_month.monthly_gross_d);
	decode_amount(img, &p->image_gb_month.monthly_net,
		      &p->image_gb_month.monthly_gross,
		      &p->image_gb_month.monthly_net_d,
		      &p->image_gb_month.monthly_gross_d);
}

/* ---- release ---------------------------------------------------------- */

void hcloud_action_release(struct hcloud_action *a)
{
	if (!a)
		return;
	free(a->command);
	free(a->status);
	free(a->error_code);
	free(a->error_message);
	for (size_t i = 0; i < a->nr_resources; i++)
		free(a->resources[i].type);
	free(a->resources);
	memset(a, 0, sizeof(*a));
}

void hcloud_server_release(struct hcloud_server *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->status);
	free(s->ipv4);
	free(s->location);
	free(s->datacenter);
	free(s->server_type);
	free(s->architecture);
	hcloud_labels_release(&s->labels);
	free(s->volumes);
	memset(s, 0, sizeof(*s));
}

void hcloud_volume_release(struct hcloud_volume *v)
{
	if (!v)
		return;
	free(v->name);
	free(v->status);
	free(v->location);
	free(v->linux_device);
	free(v->format);
	hcloud_labels_release(&v->labels);
	memset(v, 0, sizeof(*v));
}

void hcloud_image_release(struct hcloud_image *i)
{
	if (!i)
		return;
	free(i->type);
	free(i->status);
	free(i->name);
	free(i->description);
	free(i->architecture);
	hcloud_labels_release(&i->labels);
	memset(i, 0, sizeof(*i));
}

void hcloud_ssh_key_release(struct hcloud_ssh_key *k)
{
	if (!k)
		return;
	free(k->name);
	free(k->fingerprint);
	free(k->public_key);
	hcloud_labels_release(&k->labels);
	memset(k, 0, sizeof(*k));
}

void hcloud_server_type_release(struct hcloud_server_type *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->description);
	free(t->cpu_type);
	free(t->architecture);
	for (size_t i = 0; i < t->nr_prices; i++)
		price_release(&t->prices[i]);
	free(t->prices);
	for (size_t i = 0; i < t->nr_locations; i++)
		free(t->locations[i].name);
	free(t->locations);
	memset(t, 0, sizeof(*t));
}

void hcloud_location_release(struct hcloud_location *l)
{
	if (!l)
		return;
	free(l->name);
	free(l->description);
	free(l->country);
	free(l->city);
	free(l->network_zone);
	memset(l, 0, sizeof(*l));
}

void hcloud_datacenter_release(struct hcloud_datacenter *d)
{
	if (!d)
		return;
	free(d->name);
	free(d->location);
	free(d->supported);
	free(d->available);
	memset(d, 0, sizeof(*d));
}

#define LIST_RELEASE(fn, type, elem_release)                               \
	void fn(struct type *l)                                                \
	{                                                                      \
		if (!l)                                                            \
			return;                                                        \
		for (size_t i = 0; i < l->nr; i++)                                 \
			elem_release(&l->v[i]);                                        \
		free(l->v);                                                        \
		l->v = NULL;                                                       \
		l->nr = l->alloc = 0;                                              \
	}

LIST_RELEASE(hcloud_actions_release, hcloud_actions, hcloud_action_release)
LIST_RELEASE(hcloud_servers_release, hcloud_servers, hcloud_server_release)
LIST_RELEASE(hcloud_volumes_release, hcloud_volumes, hcloud_volume_release)
LIST_RELEASE(hcloud_images_release, hcloud_images, hcloud_image_release)
LIST_RELEASE(hcloud_ssh_keys_release, hcloud_ssh_keys, hcloud_ssh_key_release)
LIST_RELEASE(hcloud_server_types_release, hcloud_server_types, hcloud_server_type_release)
LIST_RELEASE(hcloud_locations_release, hcloud_locations, hcloud_location_release)
LIST_RELEASE(hcloud_datacenters_release, hcloud_datacenters, hcloud_datacenter_release)

void hcloud_pricing_release(struct hcloud_pricing *p)
{
	if (!p)
		return;
	free(p->currency);
	free(p->vat_rate);
	hcloud_server_types_release(&p->server_types);
	price_release(&p->volume_gb_month);
	price_release(&p->image_gb_month);
	memset(p, 0, sizeof(*p));
}

void hcloud_server_created_release(struct hcloud_server_created *r)
{
	if (!r)
		return;
	hcloud_server_release(&r->server);
	hcloud_action_release(&r->action);
	hcloud_actions_release(&r->next_actions);
	r->recovered = false;
}

void hcloud_volume_created_release(struct hcloud_volume_created *r)
{
	if (!r)
		return;
	hcloud_volume_release(&r->volume);
	hcloud_action_release(&r->action);
	hcloud_actions_release(&r->next_actions);
	r->recovered = false;
}

const struct hcloud_price *hcloud_server_type_price(const struct hcloud_server_type *t,
						    const char *location)
{
	for (size_t i = 0; t && location && i < t->nr_prices; i++)
		if (t->prices[i].location && !strcmp(t->prices[i].location, location))
			return &t->prices[i];
	return NULL;
}

bool hcloud_server_type_usable_in(const struct hcloud_server_type *t, const char *location,
				  time_t now)
{
	if (!t || !location)
		return false;
	if (t->nr_locations) {
		for (size_t i = 0; i < t->nr_locations; i++) {
			const struct hcloud_server_type_location *l = &t->locations[i];

			if (!l->name || strcmp(l->name, location))
				continue;
			return !l->deprecated || !l->unavailable_after ||
			       l->unavailable_after > now;
		}
		return false;
	}
	/* older answers: the top-level deprecation, the locations of the prices */
	if (t->deprecated && (!t->unavailable_after || t->unavailable_after <= now))
		return false;
	return !t->nr_prices || hcloud_server_type_price(t, location);
}

bool hcloud_action_running(const struct hcloud_action *a)
{
	return !a->status || !strcmp(a->status, "running");
}

/* ---- decoders from text ----------------------------------------------- */

static cJSON *parse_object(const char *json, size_t len, const char *what,
			   struct burst_error *err)
{
	cJSON *j = json ? cJSON_ParseWithLength(json, len) : NULL;

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		burst_error_set(err, BURST_EXIT_API, "decoding %s: not a JSON object", what);
		return NULL;
	}
	return j;
}

#define TEXT_DECODER(fn, type, decoder, what)                              \
	int fn(const char *json, size_t len, struct type *out,                 \
	       struct burst_error *err)                                        \
	{                                                                      \
		cJSON *j = parse_object(json, len, what, err);                     \
                                                                           \
		if (!j)                                                            \
			return -1;                                                     \
		decoder(j, out);                                                   \
		cJSON_Delete(j);                                                   \
		return 0;                                                          \
	}

TEXT_DECODER(hcloud_server_decode, hcloud_server, hc_decode_server, "server")
TEXT_DECODER(hcloud_volume_decode, hcloud_volume, hc_decode_volume, "volume")
TEXT_DECODER(hcloud_image_decode, hcloud_image, hc_decode_image, "image")
TEXT_DECODER(hcloud_ssh_key_decode, hcloud_ssh_key, hc_decode_ssh_key, "ssh key")
TEXT_DECODER(hcloud_action_decode, hcloud_action, hc_decode_action, "action")
TEXT_DECODER(hcloud_server_type_decode, hcloud_server_type, hc_decode_server_type,
	     "server type")
TEXT_DECODER(hcloud_location_decode, hcloud_location, hc_decode_location, "location")
TEXT_DECODER(hcloud_datacenter_decode, hcloud_datacenter, hc_decode_datacenter,
	     "datacenter")
TEXT_DECODER(hcloud_pricing_decode, hcloud_pricing, hc_decode_pricing, "pricing")

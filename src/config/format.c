/* format.c - printing the effective config; see include/burst/config.h. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "burst/config.h"

extern char **environ;

/* Append s as a TOML basic string. */
static void add_quoted(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			strbuf_addf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			strbuf_addf(out, "\\u%04x", c);
		else
			strbuf_addch(out, c);
	}
	strbuf_addch(out, '"');
}

/* The value of an integer key. */
static int64_t int_value(const struct burst_config *cfg, enum config_key_id id)
{
	switch (id) {
	case CONFIG_SNAPSHOT_KEEP: return cfg->snapshot_keep;
	case CONFIG_KEEP_ALIVE_SECS: return cfg->keep_alive_secs;
	case CONFIG_VOLUME_KEEP_ALIVE_SECS: return cfg->volume_keep_alive_secs;
	case CONFIG_VOLUME_GB: return cfg->volume_gb;
	case CONFIG_BILLING_MARGIN_SECS: return cfg->billing_margin_secs;
	case CONFIG_MAX_SERVERS: return cfg->max_servers;
	case CONFIG_MAX_KEEP_ALIVE_SECS: return cfg->max_keep_alive_secs;
	case CONFIG_MAX_VOLUME_KEEP_ALIVE_SECS: return cfg->max_volume_keep_alive_secs;
	case CONFIG_MAX_VOLUME_GB: return cfg->max_volume_gb;
	case CONFIG_SSH_PORT: return cfg->ssh_port;
	case CONFIG_SYNC_VERIFY_SECS: return cfg->sync_verify_secs;
	default: BUG("key %d is not an integer", (int)id);
	}
}

static void add_sources(struct strbuf *out, const enum config_source *src,
			size_t n, enum config_source fallback)
{
	bool seen[CONFIG_SRC_ENV + 1] = { false };
	bool first = true;

	for (size_t i = 0; i < n; i++)
		seen[src[i]] = true;
	if (!n)
		seen[fallback] = true;
	strbuf_addstr(out, " (");
	for (int s = CONFIG_SRC_DEFAULT; s <= CONFIG_SRC_ENV; s++) {
		if (!seen[s])
			continue;
		strbuf_addf(out, "%s%s", first ? "" : ", ",
			    config_source_name((enum config_source)s));
		first = false;
	}
	strbuf_addch(out, ')');
}

static const struct config_list *list_of(const struct burst_config *cfg,
					 enum config_key_id id)
{
	if (id == CONFIG_UNEXCLUDE)
		return &cfg->unexclude;
	if (id == CONFIG_FORWARD_ENV_EXCLUDE)
		return &cfg->forward_env_exclude;
	return &cfg->extra_excludes;
}

/*
 * What a run forwards now, by name, each with where it comes from: the
 * forward_env entries (their layer; "not set here" when there is no value)
 * then the variables of this environment forwarded by default.
 */
static void forwarded_env(const struct burst_config *cfg, struct strvec *names,
			  struct strvec *why)
{
	for (size_t i = 0; i < cfg->forward_env_nr; i++) {
		const struct config_env *e = &cfg->forward_env[i];
		size_t n = strlen(e->name);

		if (n && e->name[n - 1] == '*') {
			/* the local variables this "PREFIX*" entry forwards */
			for (size_t k = 0; environ && environ[k]; k++) {
				char *name = xstrndup(environ[k], strcspn(environ[k], "="));

				if (!strncmp(name, e->name, n - 1) &&
				    config_env_name_valid(name) &&
				    !config_env_name_secret(name) &&
				    strncmp(name, "HCLOUD_", 7) &&
				    !config_env_name_refused(name) &&
				    strvec_find(names, name) < 0) {
					strvec_push(names, name);
					strvec_pushf(why, "%s %s",
						     config_source_name(e->source), e->name);
				}
				free(name);
			}
			continue;
		}
		strvec_push(names, e->name);
		strvec_pushf(why, "%s%s", config_source_name(e->source),
			     e->value || getenv(e->name) ? "" : ", not set here");
	}
	for (size_t i = 0; environ && environ[i]; i++) {
		const char *eq = strchr(environ[i], '=');
		char *name;

		if (!eq || eq == environ[i])
			continue;
		name = xstrndup(environ[i], (size_t)(eq - environ[i]));
		if (strvec_find(names, name) < 0 && config_env_default_forwarded(name) &&
		    !config_env_excluded(cfg, name)) {
			strvec_push(names, name);
			strvec_push(why, "default");
		}
		free(name);
	}
}

static void add_strings(struct strbuf *out, char *const *v, size_t n)
{
	strbuf_addch(out, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addstr(out, ", ");
		add_quoted(out, v[i]);
	}
	strbuf_addch(out, ']');
}

static void format_key(const struct burst_config *cfg, enum config_key_id id,
		       struct strbuf *out)
{
	char name[128];

	strbuf_addf(out, "%s = ", config_key_fullname(id, name, sizeof(name)));
	switch (id) {
	case CONFIG_TOKEN:
		if (cfg->token)
			strbuf_addf(out, "set (from %s)\n", cfg->token_origin);
		else
			strbuf_addstr(out, "not set\n");
		return;
	case CONFIG_FORWARD_ENV: {
		enum config_source *src = xcalloc(cfg->forward_env_nr + 1,
						  sizeof(*src));

		strbuf_addch(out, '[');
		for (size_t i = 0; i < cfg->forward_env_nr; i++) {
			const struct config_env *e = &cfg->forward_env[i];
			char *s = e->value ? xstrfmt("%s=%s", e->name, e->value) :
				xstrdup(e->name);

			strbuf_addstr(out, i ? ", " : "");
			add_quoted(out, s);
			src[i] = e->source;
			free(s);
		}
		strbuf_addch(out, ']');
		add_sources(out, src, cfg->forward_env_nr, CONFIG_SRC_DEFAULT);
		strbuf_addch(out, '\n');
		free(src);
		return;
	}
	case CONFIG_FORWARD_ENV_EXCLUDE:
	case CONFIG_EXTRA_EXCLUDES:
	case CONFIG_UNEXCLUDE: {
		const struct config_list *l = list_of(cfg, id);

		add_strings(out, l->items.v, l->items.nr);
		add_sources(out, l->sources, l->items.nr, CONFIG_SRC_DEFAULT);
		strbuf_addch(out, '\n');
		return;
	}
	case CONFIG_REGIONS:
		add_strings(out, cfg->regions.v, cfg->regions.nr);
		break;
	case CONFIG_ENDPOINT: add_quoted(out, cfg->endpoint); break;
	case CONFIG_SERVER_TYPE: add_quoted(out, cfg->server_type); break;
	case CONFIG_IMAGE_SERVER_TYPE:
		add_quoted(out, cfg->image_server_type);
		break;
	case CONFIG_ARCH: add_quoted(out, cfg->arch); break;
	case CONFIG_ARM_SERVER_TYPE: add_quoted(out, cfg->arm_server_type); break;
	case CONFIG_ARM_IMAGE_SERVER_TYPE:
		add_quoted(out, cfg->arm_image_server_type);
		break;
	case CONFIG_SSH_KEY_PATH: add_quoted(out, cfg->ssh_key_path); break;
	case CONFIG_SSH_USER: add_quoted(out, cfg->ssh_user); break;
	case CONFIG_HOST:
		if (cfg->host)
			add_quoted(out, cfg->host);
		else
			strbuf_addstr(out, "not set");
		break;
	case CONFIG_BILLING_HOUR_HOLD:
		strbuf_addstr(out, cfg->billing_hour_hold ? "true" : "false");
		break;
	case CONFIG_SYNC_GIT:
		strbuf_addstr(out, cfg->sync_git ? "true" : "false");
		break;
	case CONFIG_SNAPSHOT_KEEP:
	case CONFIG_KEEP_ALIVE_SECS:
	case CONFIG_VOLUME_KEEP_ALIVE_SECS:
	case CONFIG_VOLUME_GB:
	case CONFIG_BILLING_MARGIN_SECS:
	case CONFIG_MAX_SERVERS:
	case CONFIG_MAX_KEEP_ALIVE_SECS:
	case CONFIG_MAX_VOLUME_KEEP_ALIVE_SECS:
	case CONFIG_MAX_VOLUME_GB:
	case CONFIG_SSH_PORT:
	case CONFIG_SYNC_VERIFY_SECS:
		strbuf_addf(out, "%lld", (long long)int_value(cfg, id));
		break;
	case CONFIG_KEY_COUNT:
		BUG("no key %d", (int)id);
	}
	strbuf_addf(out, " (%s)\n", config_source_name(cfg->source[id]));
}

void config_format(const struct burst_config *cfg, struct strbuf *out)
{
	strbuf_addf(out, "# global config: %s%s\n",
		    cfg->global_path ? cfg->global_path : "(none)",
		    cfg->global_found ? "" : " (not found)");
	if (cfg->project_path)
		strbuf_addf(out, "# project config: %s%s\n", cfg->project_path,
			    cfg->project_found ? "" : " (not found)");
	else
		strbuf_addstr(out, "# project config: none (not in a cargo "
			      "workspace)\n");
	for (int id = 0; id < CONFIG_KEY_COUNT; id++)
		format_key(cfg, (enum config_key_id)id, out);
	strbuf_addstr(out, "# derived\n");
	strbuf_addstr(out, "ssh_public_key_path = ");
	add_quoted(out, cfg->ssh_pub_key_path);
	strbuf_addch(out, '\n');
	{
		struct strvec names = STRVEC_INIT, why = STRVEC_INIT;

		forwarded_env(cfg, &names, &why);
		strbuf_addstr(out, "forwarded_env = [");
		for (size_t i = 0; i < names.nr; i++) {
			strbuf_addstr(out, i ? ", " : "");
			add_quoted(out, names.v[i]);
			strbuf_addf(out, " (%s)", why.v[i]);
		}
		strbuf_addstr(out, "]\n");
		strvec_clear(&names);
		strvec_clear(&why);
	}
}

/* ---- JSON ------------------------------------------------------------- */

static cJSON *json_strings(char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

static cJSON *json_sources(const enum config_source *src, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(
			config_source_name(src[i])));
	return a;
}

static cJSON *json_key(const struct burst_config *cfg, enum config_key_id id)
{
	cJSON *o = cJSON_CreateObject();

	switch (id) {
	case CONFIG_TOKEN:
		cJSON_AddBoolToObject(o, "set", cfg->token != NULL);
		if (cfg->token)
			cJSON_AddStringToObject(o, "origin", cfg->token_origin);
		break;
	case CONFIG_FORWARD_ENV: {
		cJSON *v = cJSON_AddArrayToObject(o, "value");
		cJSON *s = cJSON_AddArrayToObject(o, "sources");

		for (size_t i = 0; i < cfg->forward_env_nr; i++) {
			const struct config_env *e = &cfg->forward_env[i];
			cJSON *item = cJSON_CreateObject();

			cJSON_AddStringToObject(item, "name", e->name);
			if (e->value)
				cJSON_AddStringToObject(item, "value", e->value);
			else
				cJSON_AddNullToObject(item, "value");
			cJSON_AddItemToArray(v, item);
			cJSON_AddItemToArray(s, cJSON_CreateString(
				config_source_name(e->source)));
		}
		break;
	}
	case CONFIG_FORWARD_ENV_EXCLUDE:
	case CONFIG_EXTRA_EXCLUDES:
	case CONFIG_UNEXCLUDE: {
		const struct config_list *l = list_of(cfg, id);

		cJSON_AddItemToObject(o, "value",
				      json_strings(l->items.v, l->items.nr));
		cJSON_AddItemToObject(o, "sources",
				      json_sources(l->sources, l->items.nr));
		break;
	}
	case CONFIG_REGIONS:
		cJSON_AddItemToObject(o, "value", json_strings(cfg->regions.v,
							       cfg->regions.nr));
		break;
	case CONFIG_ENDPOINT:
		cJSON_AddStringToObject(o, "value", cfg->endpoint);
		break;
	case CONFIG_SERVER_TYPE:
		cJSON_AddStringToObject(o, "value", cfg->server_type);
		break;
	case CONFIG_IMAGE_SERVER_TYPE:
		cJSON_AddStringToObject(o, "value", cfg->image_server_type);
		break;
	case CONFIG_ARCH:
		cJSON_AddStringToObject(o, "value", cfg->arch);
		break;
	case CONFIG_ARM_SERVER_TYPE:
		cJSON_AddStringToObject(o, "value", cfg->arm_server_type);
		break;
	case CONFIG_ARM_IMAGE_SERVER_TYPE:
		cJSON_AddStringToObject(o, "value", cfg->arm_image_server_type);
		break;
	case CONFIG_SSH_KEY_PATH:
		cJSON_AddStringToObject(o, "value", cfg->ssh_key_path);
		break;
	case CONFIG_SSH_USER:
		cJSON_AddStringToObject(o, "value", cfg->ssh_user);
		break;
	case CONFIG_HOST:
		if (cfg->host)
			cJSON_AddStringToObject(o, "value", cfg->host);
		else
			cJSON_AddNullToObject(o, "value");
		break;
	case CONFIG_BILLING_HOUR_HOLD:
		cJSON_AddBoolToObject(o, "value", cfg->billing_hour_hold);
		break;
	case CONFIG_SYNC_GIT:
		cJSON_AddBoolToObject(o, "value", cfg->sync_git);
		break;
	case CONFIG_SNAPSHOT_KEEP:
	case CONFIG_KEEP_ALIVE_SECS:
	case CONFIG_VOLUME_KEEP_ALIVE_SECS:
	case CONFIG_VOLUME_GB:
	case CONFIG_BILLING_MARGIN_SECS:
	case CONFIG_MAX_SERVERS:
	case CONFIG_MAX_KEEP_ALIVE_SECS:
	case CONFIG_MAX_VOLUME_KEEP_ALIVE_SECS:
	case CONFIG_MAX_VOLUME_GB:
	case CONFIG_SSH_PORT:
	case CONFIG_SYNC_VERIFY_SECS:
		cJSON_AddNumberToObject(o, "value", (double)int_value(cfg, id));
		break;
	case CONFIG_KEY_COUNT:
		BUG("no key %d", (int)id);
	}
	cJSON_AddStringToObject(o, "source", config_source_name(cfg->source[id]));
	return o;
}

static cJSON *json_file(const char *path, bool found)
{
	cJSON *o = cJSON_CreateObject();

	if (path)
		cJSON_AddStringToObject(o, "path", path);
	else
		cJSON_AddNullToObject(o, "path");
	cJSON_AddBoolToObject(o, "found", found);
	return o;
}

void config_format_json(const struct burst_config *cfg, struct strbuf *out)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *files;
	cJSON *keys;
	char name[128], *text;

	cJSON_AddNumberToObject(root, "schema", CONFIG_JSON_SCHEMA);
	files = cJSON_AddObjectToObject(root, "files");
	keys = cJSON_AddObjectToObject(root, "keys");

	cJSON_AddItemToObject(files, "global",
			      json_file(cfg->global_path, cfg->global_found));
	cJSON_AddItemToObject(files, "project",
			      json_file(cfg->project_path, cfg->project_found));
	for (int id = 0; id < CONFIG_KEY_COUNT; id++)
		cJSON_AddItemToObject(keys, config_key_fullname(
			(enum config_key_id)id, name, sizeof(name)),
			json_key(cfg, (enum config_key_id)id));
	cJSON_AddStringToObject(root, "ssh_public_key_path",
				cfg->ssh_pub_key_path);
	{
		struct strvec names = STRVEC_INIT, why = STRVEC_INIT;
		cJSON *fw = cJSON_AddArrayToObject(root, "forwarded_env");

		forwarded_env(cfg, &names, &why);
		for (size_t i = 0; i < names.nr; i++) {
			cJSON *item = cJSON_CreateObject();

			cJSON_AddStringToObject(item, "name", names.v[i]);
			cJSON_AddStringToObject(item, "source", why.v[i]);
			cJSON_AddItemToArray(fw, item);
		}
		strvec_clear(&names);
		strvec_clear(&why);
	}
	text = cJSON_Print(root);
	if (!text)
		BUG("cJSON_Print failed");
	strbuf_addstr(out, text);
	strbuf_addch(out, '\n');
	cJSON_free(text);
	cJSON_Delete(root);
}

/* ---- reference -------------------------------------------------------- */

static const char *type_doc(enum config_type t)
{
	switch (t) {
	case CONFIG_T_STRING: return "string";
	case CONFIG_T_PATH: return "path";
	case CONFIG_T_INT: return "integer";
	case CONFIG_T_BOOL: return "boolean";
	case CONFIG_T_STRINGS: return "string or array";
	case CONFIG_T_LIST: return "array (additive)";
	case CONFIG_T_ENVLIST: return "array of names (additive)";
	}
	return "?";
}

void config_format_reference(struct strbuf *out)
{
	strbuf_addstr(out, "| key | type | default | description |\n"
		      "|---|---|---|---|\n");
	for (int id = 0; id < CONFIG_KEY_COUNT; id++) {
		const struct config_key *k = &config_keys[id];
		char name[128];

		strbuf_addf(out, "| `%s`",
			    config_key_fullname(k->id, name, sizeof(name)));
		if (k->alias)
			strbuf_addf(out, " (alias `%s`)", k->alias);
		strbuf_addf(out, " | %s", type_doc(k->type));
		if (k->type == CONFIG_T_INT)
			strbuf_addf(out, " %lld..%lld", (long long)k->min,
				    (long long)k->max);
		strbuf_addf(out, " | %s%s%s | %s%s |\n", k->def ? "`" : "",
			    k->def ? k->def : "unset", k->def ? "`" : "",
			    k->flags & CONFIG_KEY_GLOBAL_ONLY ?
			    "Global file only (refused in the project file). " :
			    "", k->doc);
	}
}

/*
 * hcloud_cli.c - the token of the official hcloud CLI's active context,
 * used when no layer of our own config set one; see
 * config_apply_hcloud_cli() in include/burst/config.h.
 *
 * The hcloud CLI keeps (in ~/.config/hcloud/cli.toml, or $HCLOUD_CONFIG):
 *
 *   active_context = "prod"
 *   [[contexts]]
 *   name = "prod"
 *   token = "..."
 *
 * HCLOUD_CONTEXT selects another context, as it does for the hcloud CLI.
 * Only the token is taken: a context's preferences (endpoint, ...) are not.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "burst/config.h"
#include "burst/log.h"
#include "burst/text.h"
#include "burst/toml.h"

/* The hcloud CLI's file is small; anything larger is not one. */
#define HCLOUD_CLI_FILE_MAX (256 * 1024)
/* Hetzner tokens are 64 characters; leave room, bound the rest. */
#define HCLOUD_CLI_TOKEN_MAX 512

static char *hcloud_cli_path(void)
{
	const char *env = getenv("HCLOUD_CONFIG");
	const char *home = getenv("HOME");

	if (env && *env)
		return xstrdup(env);
	if (!home || !*home)
		return NULL;
	return xstrfmt("%s/.config/hcloud/cli.toml", home);
}

/* The [[contexts]] entry named name, or NULL. */
static const struct toml_value *find_context(const struct toml_value *root,
					     const char *name)
{
	const struct toml_value *list = toml_table_get(root, "contexts");

	if (!list || toml_value_type(list) != TOML_ARRAY)
		return NULL;
	for (size_t i = 0; i < toml_array_count(list); i++) {
		const struct toml_value *c = toml_array_at(list, i);
		const struct toml_value *n = toml_table_get(c, "name");

		if (toml_value_type(c) == TOML_TABLE && n &&
		    toml_value_type(n) == TOML_STRING &&
		    !strcmp(toml_string(n, NULL), name))
			return c;
	}
	return NULL;
}

static bool token_ok(const char *token, size_t len)
{
	if (!len || len > HCLOUD_CLI_TOKEN_MAX || strlen(token) != len)
		return false;
	for (const char *p = token; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

/* The token of the hcloud CLI's active context, when we have none. */
int config_apply_hcloud_cli(struct burst_config *cfg, struct burst_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	struct toml_error terr;
	struct toml_value *root = NULL;
	const struct toml_value *v, *ctx_entry, *tok;
	const char *name, *selector = getenv("HCLOUD_CONTEXT");
	const char *token;
	char *path = hcloud_cli_path(), *shown = NULL;
	size_t len = 0;
	struct stat st;
	int ret = 0;

	if (cfg->token || !path)
		goto out;
	strbuf_set_max(&sb, HCLOUD_CLI_FILE_MAX);
	if (strbuf_read_file(&sb, path) < 0) {
		if (errno != ENOENT)
			strvec_pushf(&cfg->warnings, "not using the hcloud CLI's "
				     "contexts: cannot read %s: %s", path,
				     errno == EFBIG ? "file too large" : strerror(errno));
		else
			log_debug("config", "no hcloud CLI config at %s", path);
		goto out;
	}
	root = toml_parse(sb.buf, sb.len, &terr);
	if (!root) {
		strvec_pushf(&cfg->warnings, "not using the hcloud CLI's contexts: "
			     "%s:%d:%d: %s", path, terr.line, terr.col, terr.msg);
		goto out;
	}
	if (selector && *selector) {
		name = selector;
	} else {
		v = toml_table_get(root, "active_context");
		if (!v || toml_value_type(v) != TOML_STRING ||
		    !*toml_string(v, NULL)) {
			log_debug("config", "%s has no active context", path);
			goto out;
		}
		name = toml_string(v, NULL);
	}
	/* the name is the file's (or the environment's): terminal-safe in messages */
	shown = burst_text_sanitize(name, 128);
	ctx_entry = find_context(root, name);
	tok = ctx_entry ? toml_table_get(ctx_entry, "token") : NULL;
	if (!tok || toml_value_type(tok) != TOML_STRING) {
		strvec_pushf(&cfg->warnings, "the hcloud CLI context '%s' (%s) is "
			     "not in %s or has no token; select one with "
			     "`hcloud context use NAME` or HCLOUD_CONTEXT", shown,
			     selector && *selector ? "HCLOUD_CONTEXT" :
			     "active_context", path);
		goto out;
	}
	token = toml_string(tok, &len);
	if (!token_ok(token, len)) {
		ret = burst_error_set(err, BURST_EXIT_CONFIG,
				      "the API token of the hcloud CLI context "
				      "'%s' in %s is empty, too long or contains "
				      "white space", shown, path);
		burst_error_hint(err, "set it again with `hcloud context create "
				 "%s`, or export HCLOUD_TOKEN", shown);
		goto out;
	}
	burst_redact_register(token);
	cfg->token = xstrdup(token);
	free(cfg->token_origin);
	cfg->token_origin = xstrfmt("hcloud CLI context '%s' in %s", shown, path);
	cfg->source[CONFIG_TOKEN] = CONFIG_SRC_HCLOUD_CLI;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		strvec_pushf(&cfg->warnings,
			     "%s holds the API token and is readable by other users "
			     "(mode %03o); fix it with `chmod 600 %s`", path,
			     (unsigned)(st.st_mode & 0777), path);
out:
	toml_free(root);
	strbuf_release(&sb);
	free(shown);
	free(path);
	return ret;
}

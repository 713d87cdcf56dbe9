/*
 * toml-decoder - the toml-test decoder interface over our parser: TOML on
 * stdin, toml-test's tagged JSON on stdout, exit 1 with "line:col: reason"
 * on stderr for invalid input.
 *
 * The JSON is written by hand rather than with cJSON because TOML keys and
 * strings may contain NUL bytes ("\u0000"), which cJSON's C-string keys
 * cannot represent.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/strbuf.h"
#include "burst/toml.h"

static void json_string(struct strbuf *out, const char *s, size_t len)
{
	size_t i;

	strbuf_addch(out, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"': strbuf_addstr(out, "\\\""); break;
		case '\\': strbuf_addstr(out, "\\\\"); break;
		case '\n': strbuf_addstr(out, "\\n"); break;
		case '\t': strbuf_addstr(out, "\\t"); break;
		case '\r': strbuf_addstr(out, "\\r"); break;
		case '\b': strbuf_addstr(out, "\\b"); break;
		case '\f': strbuf_addstr(out, "\\f"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				strbuf_addf(out, "\\u%04x", c);
			else
				strbuf_addch(out, c);
		}
	}
	strbuf_addch(out, '"');
}

static void json_leaf(struct strbuf *out, const char *type, const char *value,
		      size_t len)
{
	strbuf_addstr(out, "{\"type\":\"");
	strbuf_addstr(out, type);
	strbuf_addstr(out, "\",\"value\":");
	json_string(out, value, len);
	strbuf_addch(out, '}');
}

static void emit(struct strbuf *out, const struct toml_value *v)
{
	char buf[64];
	size_t i, len;
	const char *s;

	switch (toml_value_type(v)) {
	case TOML_STRING:
		s = toml_string(v, &len);
		json_leaf(out, "string", s, len);
		break;
	case TOML_INTEGER:
		snprintf(buf, sizeof(buf), "%lld", (long long)toml_int(v));
		json_leaf(out, "integer", buf, strlen(buf));
		break;
	case TOML_FLOAT: {
		double d = toml_float(v);

		if (isnan(d))
			snprintf(buf, sizeof(buf), "nan");
		else if (isinf(d))
			snprintf(buf, sizeof(buf), "%sinf", d < 0 ? "-" : "");
		else
			snprintf(buf, sizeof(buf), "%.17g", d);
		json_leaf(out, "float", buf, strlen(buf));
		break;
	}
	case TOML_BOOL:
		s = toml_bool(v) ? "true" : "false";
		json_leaf(out, "bool", s, strlen(s));
		break;
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL: {
		const struct toml_datetime *dt = toml_datetime(v);
		enum toml_type t = toml_value_type(v);
		struct strbuf txt = STRBUF_INIT;

		strbuf_addstr(&txt, dt->text);
		for (i = 0; i < txt.len; i++) {
			if (txt.buf[i] == ' ' || txt.buf[i] == 't')
				txt.buf[i] = 'T';
			else if (txt.buf[i] == 'z')
				txt.buf[i] = 'Z';
		}
		json_leaf(out, t == TOML_DATETIME ? "datetime" :
			  t == TOML_DATETIME_LOCAL ? "datetime-local" :
			  t == TOML_DATE_LOCAL ? "date-local" : "time-local",
			  txt.buf, txt.len);
		strbuf_release(&txt);
		break;
	}
	case TOML_ARRAY:
		strbuf_addch(out, '[');
		for (i = 0; i < toml_array_count(v); i++) {
			if (i)
				strbuf_addch(out, ',');
			emit(out, toml_array_at(v, i));
		}
		strbuf_addch(out, ']');
		break;
	case TOML_TABLE:
		strbuf_addch(out, '{');
		for (i = 0; i < toml_table_count(v); i++) {
			const struct toml_entry *e = toml_table_entry(v, i);

			if (i)
				strbuf_addch(out, ',');
			json_string(out, e->key, e->key_len);
			strbuf_addch(out, ':');
			emit(out, e->value);
		}
		strbuf_addch(out, '}');
		break;
	}
}

int main(void)
{
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	struct toml_error err;
	struct toml_value *root;
	int ret = 1;

	strbuf_set_max(&in, 64 << 20);
	if (strbuf_read_fd(&in, 0) < 0) {
		perror("toml-decoder: reading stdin");
		goto out;
	}
	root = toml_parse(in.buf, in.len, &err);
	if (!root) {
		fprintf(stderr, "%d:%d: %s\n", err.line, err.col, err.msg);
		goto out;
	}
	emit(&out, root);
	strbuf_addch(&out, '\n');
	toml_free(root);
	if (fwrite(out.buf, 1, out.len, stdout) != out.len || fflush(stdout)) {
		perror("toml-decoder: writing stdout");
		ret = 2;
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&in);
	strbuf_release(&out);
	return ret;
}

/*
 * fuzz-toml.c - libFuzzer harness for the TOML parser: parse, walk every
 * value through the public accessors, free.  Build with
 *   CC=clang meson setup build-fuzz -Dfuzz=true
 * and run e.g.  build-fuzz/fuzz/fuzz-toml -max_total_time=60 CORPUS_DIR
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "burst/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch everything so that bad pointers or lengths show up under ASan. */
static size_t walk(const struct toml_value *v)
{
	size_t i, n = 0, len = 0;
	const struct toml_datetime *dt;
	const char *s;

	switch (toml_value_type(v)) {
	case TOML_STRING:
		s = toml_string(v, &len);
		for (i = 0; i < len; i++)
			n += (unsigned char)s[i];
		return n + (s[len] == '\0');
	case TOML_ARRAY:
		for (i = 0; i < toml_array_count(v); i++)
			n += walk(toml_array_at(v, i));
		return n;
	case TOML_TABLE:
		for (i = 0; i < toml_table_count(v); i++) {
			const struct toml_entry *e = toml_table_entry(v, i);

			if (toml_table_getn(v, e->key, e->key_len) != e->value)
				__builtin_trap(); /* lookup must find the entry */
			n += e->key_len + (size_t)e->line + walk(e->value);
		}
		return n;
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL:
		dt = toml_datetime(v);
		return strlen(dt->text) + (size_t)dt->year;
	default:
		return (size_t)toml_int(v) + (toml_bool(v) ? 1 : 0) +
		       (size_t)toml_value_col(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_error err;
	struct toml_value *root;
	static volatile size_t sink;

	root = toml_parse((const char *)data, size, &err);
	if (root)
		sink = walk(root);
	else if (err.line < 1 || err.col < 1 || !err.msg[0])
		__builtin_trap(); /* every error has a position and a reason */
	toml_free(root);
	(void)sink;
	return 0;
}

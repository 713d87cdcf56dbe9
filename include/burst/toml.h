/*
 * toml.h - a TOML 1.0.0 parser producing a small read-only DOM.
 *
 *   struct toml_error terr;
 *   struct toml_value *root = toml_parse(text, len, &terr);
 *   if (!root)
 *           ... "%s:%d:%d: %s", path, terr.line, terr.col, terr.msg ...
 *   const struct toml_value *v = toml_table_get(root, "hetzner");
 *   ...
 *   toml_free(root);
 *
 * The root is a table.  Every value knows where it was defined: for a table
 * entry, the line and column (1-based, columns count bytes) of its key (the
 * last key of a dotted key, or of a [table] / [[array]] header); for an array
 * element, where the element starts.  Tables keep insertion order.
 *
 * Strings are UTF-8, NUL-terminated for convenience but carry their length
 * because TOML allows "\u0000".  All pointers returned by the accessors stay
 * valid until toml_free() of the root.  Accessors are NULL-safe and return a
 * zero value (0, NULL, false) when the value has another type, so callers
 * check toml_value_type() first and report toml_type_name() on mismatch.
 *
 * Input must be valid UTF-8; control characters, bad escapes, overflowing
 * integers or floats, redefined keys and tables, and nesting deeper than
 * TOML_MAX_DEPTH are errors.  A leading UTF-8 byte order mark is skipped.
 * Newlines in multi-line strings are returned as LF (CRLF is normalised).
 * The parser never exits or prints.
 */
#ifndef BURST_TOML_H
#define BURST_TOML_H

#include "burst/util.h"

/*
 * Maximum depth of any value below the root (root = 0, its keys = 1), however
 * it is nested: [a.b] headers, dotted keys, arrays, inline tables.  Deeper
 * input is an error, so code walking the tree recursively is safe.
 */
#define TOML_MAX_DEPTH 256

enum toml_type {
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
	TOML_DATETIME_LOCAL, /* local date-time: 1979-05-27T07:32:00 */
	TOML_DATE_LOCAL,     /* local date: 1979-05-27 */
	TOML_TIME_LOCAL,     /* local time: 07:32:00 */
	TOML_ARRAY,
	TOML_TABLE
};

struct toml_datetime {
	int year, month, day;         /* valid when has_date */
	int hour, minute, second;     /* valid when has_time */
	int nanosecond;               /* fractional seconds, truncated to ns */
	int offset_minutes;           /* valid when has_offset; Z is 0 */
	bool has_date, has_time, has_offset;
	const char *text;             /* the original text as written */
};

/* A parse error: where it happened (1-based; col counts bytes) and why. */
struct toml_error {
	int line, col;
	char msg[256]; /* e.g. "expected '=' after key", "duplicate key 'x'" */
};

struct toml_value;

/* One entry of a table, for iteration in insertion order. */
struct toml_entry {
	const char *key;  /* NUL-terminated; key_len excludes the NUL */
	size_t key_len;   /* keys may contain NUL bytes via escapes */
	int line, col;    /* where the key was defined */
	const struct toml_value *value;
};

/*
 * Parse len bytes of TOML text (need not be NUL-terminated).  Returns the
 * root table, or NULL with err filled (err may be NULL).
 */
struct toml_value *toml_parse(const char *text, size_t len,
			      struct toml_error *err);
/* Free a tree returned by toml_parse(); NULL is fine. */
void toml_free(struct toml_value *root);

/* The type of a value (NULL, an absent value, reports TOML_TABLE: test first). */
enum toml_type toml_value_type(const struct toml_value *v);
/* The name of a type for messages: "string", "integer", "table", ... */
const char *toml_type_name(enum toml_type type);
/* Line (1-based) where the value, or its key for table entries, is defined. */
int toml_value_line(const struct toml_value *v);
/* Column (1-based, bytes) matching toml_value_line(). */
int toml_value_col(const struct toml_value *v);

/* The string of a TOML_STRING (NUL-terminated); len may be NULL. */
const char *toml_string(const struct toml_value *v, size_t *len);
/* The integer of a TOML_INTEGER. */
int64_t toml_int(const struct toml_value *v);
/* The number of a TOML_FLOAT (may be inf or nan). */
double toml_float(const struct toml_value *v);
/* The boolean of a TOML_BOOL. */
bool toml_bool(const struct toml_value *v);
/* The fields of any of the four date/time types, else NULL. */
const struct toml_datetime *toml_datetime(const struct toml_value *v);

/* Number of elements of a TOML_ARRAY (0 for other types). */
size_t toml_array_count(const struct toml_value *v);
/* Element i of an array, or NULL when out of range. */
const struct toml_value *toml_array_at(const struct toml_value *v, size_t i);

/* Number of entries of a TOML_TABLE (0 for other types). */
size_t toml_table_count(const struct toml_value *v);
/* Entry i of a table in insertion order, or NULL when out of range. */
const struct toml_entry *toml_table_entry(const struct toml_value *v, size_t i);
/* Look a key up in a table (exact match); NULL when absent. */
const struct toml_value *toml_table_get(const struct toml_value *t,
					const char *key);
/* Look up a key that may contain NUL bytes. */
const struct toml_value *toml_table_getn(const struct toml_value *t,
					 const char *key, size_t key_len);

#endif

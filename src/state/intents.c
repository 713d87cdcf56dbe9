/*
 * intents.c - the intent rows: a create recorded before it is sent, so a
 * crash leaves a name to look up.
 */
#include <stdlib.h>
#include <string.h>

#include "burst/log.h"
#include "state-int.h"

#define MOD "state"

/* ---- intents ---------------------------------------------------------- */

static const char *const intent_kind_names[] = { "server", "volume", "ssh_key", "image" };
static const char *const intent_state_names[] = { "pending", "done", "failed" };

const char *state_intent_kind_name(enum state_intent_kind k)
{
	if ((size_t)k < ARRAY_SIZE(intent_kind_names))
		return intent_kind_names[k];
	return "unknown";
}

void state_intent_release(struct state_intent *in)
{
	FREE_AND_NULL(in->name);
	FREE_AND_NULL(in->labels_json);
	FREE_AND_NULL(in->error);
}

void state_intents_free(struct state_intent *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		state_intent_release(&v[i]);
	free(v);
}

int state_intent_begin(struct burst_state *st, enum state_intent_kind kind, const char *name,
		       const char *labels_json, int64_t *intent_id, struct burst_error *err)
{
	sqlite3_stmt *s;

	if ((size_t)kind >= ARRAY_SIZE(intent_kind_names) || !name)
		return burst_error_set(err, BURST_EXIT_INTERNAL, "bad intent");
	if (st_prepare(st, "INSERT INTO intents(kind, name, labels, created_at)"
			   " VALUES (?,?,?,?)", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, intent_kind_names[kind]);
	st_bind_text(s, 2, name);
	st_bind_text(s, 3, labels_json);
	sqlite3_bind_int64(s, 4, state_now());
	if (st_step_done(st, s, "recording an intent", err) < 0)
		return -1;
	*intent_id = sqlite3_last_insert_rowid(st->db);
	log_debug(MOD, "intent %lld: create %s '%s'", (long long)*intent_id,
		  intent_kind_names[kind], name);
	return 0;
}

static int intent_finish(struct burst_state *st, int64_t id, const char *state, int64_t hcloud,
			 const char *message, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "UPDATE intents SET state=?, done_at=?, hcloud_id=?, error=?"
			   " WHERE id=?", &s, err) < 0)
		return -1;
	st_bind_text(s, 1, state);
	sqlite3_bind_int64(s, 2, state_now());
	if (hcloud)
		sqlite3_bind_int64(s, 3, hcloud);
	st_bind_text(s, 4, message);
	sqlite3_bind_int64(s, 5, id);
	if (st_step_done(st, s, "completing an intent", err) < 0)
		return -1;
	if (!sqlite3_changes(st->db))
		return burst_error_set(err, BURST_EXIT_STATE, "no intent with id %lld",
				       (long long)id);
	return 0;
}

int state_intent_done(struct burst_state *st, int64_t intent_id, int64_t hcloud_id,
		      struct burst_error *err)
{
	return intent_finish(st, intent_id, "done", hcloud_id, NULL, err);
}

int state_intent_failed(struct burst_state *st, int64_t intent_id, const char *message,
			struct burst_error *err)
{
	return intent_finish(st, intent_id, "failed", 0, message, err);
}

int state_intents_pending(struct burst_state *st, struct state_intent **out, size_t *n,
			  struct burst_error *err)
{
	sqlite3_stmt *s;
	size_t alloc = 0, i;
	int rc;

	*out = NULL;
	*n = 0;
	if (st_prepare(st, "SELECT id, kind, name, labels, created_at, done_at, hcloud_id,"
			   " state, error FROM intents WHERE state='pending'"
			   " ORDER BY created_at, id", &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct state_intent *in;
		const char *k = (const char *)sqlite3_column_text(s, 1);
		const char *state = (const char *)sqlite3_column_text(s, 7);

		ALLOC_GROW(*out, *n + 1, alloc);
		in = &(*out)[(*n)++];
		memset(in, 0, sizeof(*in));
		in->id = sqlite3_column_int64(s, 0);
		for (i = 0; k && i < ARRAY_SIZE(intent_kind_names); i++)
			if (!strcmp(k, intent_kind_names[i]))
				in->kind = (enum state_intent_kind)i;
		in->name = st_col_str(s, 2);
		in->labels_json = st_col_str(s, 3);
		in->created_at = sqlite3_column_int64(s, 4);
		in->done_at = sqlite3_column_int64(s, 5);
		in->hcloud_id = sqlite3_column_int64(s, 6);
		for (i = 0; state && i < ARRAY_SIZE(intent_state_names); i++)
			if (!strcmp(state, intent_state_names[i]))
				in->state = (enum state_intent_state)i;
		in->error = st_col_str(s, 8);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		state_intents_free(*out, *n);
		*out = NULL;
		*n = 0;
		return st_dberr(st, err, "listing intents");
	}
	return 0;
}

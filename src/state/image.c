/*
 * image.c - the image row: the snapshot runs boot from.
 */
#include <stdlib.h>
#include <string.h>

#include "state-int.h"

/* ---- image ------------------------------------------------------------ */

void state_image_release(struct state_image *img)
{
	FREE_AND_NULL(img->version);
	FREE_AND_NULL(img->labels_json);
}

static void image_from_row(sqlite3_stmt *s, void *out)
{
	struct state_image *o = out;

	o->hcloud_id = sqlite3_column_int64(s, 0);
	o->created_at = sqlite3_column_int64(s, 1);
	o->version = st_col_str(s, 2);
	o->labels_json = st_col_str(s, 3);
}

int state_image_get(struct burst_state *st, struct state_image *out, struct burst_error *err)
{
	sqlite3_stmt *s;

	memset(out, 0, sizeof(*out));
	if (st_prepare(st, "SELECT hcloud_id, created_at, version, labels FROM image", &s, err) < 0)
		return -1;
	return st_get_one(st, s, image_from_row, out, "reading the image", err);
}

int state_image_set(struct burst_state *st, const struct state_image *img, struct burst_error *err)
{
	sqlite3_stmt *s;

	if (st_prepare(st, "INSERT OR REPLACE INTO image VALUES (1, ?, ?, ?, ?)", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, img->hcloud_id);
	sqlite3_bind_int64(s, 2, img->created_at ? img->created_at : state_now());
	st_bind_text(s, 3, img->version);
	st_bind_text(s, 4, img->labels_json);
	return st_step_done(st, s, "recording the image", err);
}

int state_image_clear(struct burst_state *st, struct burst_error *err)
{
	return st_exec(st, "DELETE FROM image", err);
}

/*
 * rollup.c - engagement of sent messages summed from the events and the
 * correlated replies in the spool database (see rollup.h).
 */
#include <string.h>
#include <sqlite3.h>

#include "rollup.h"

/* Add one aggregate (count, first, last) to c. */
static void
counts_add(rollup_counts *c, guint n, gint64 first, gint64 last)
{
	if (n == 0)
		return;
	if (c->n == 0 || first < c->first)
		c->first = first;
	if (c->n == 0 || last > c->last)
		c->last = last;
	c->n += n;
}

/* Which counts an engagement event of kind and class goes to, or NULL. */
static rollup_counts *
counts_for(rollup *r, const char *kind, const char *cls)
{
	gboolean open = strcmp(kind, "opened") == 0, click = strcmp(kind, "clicked") == 0;

	if (strcmp(kind, "bounced") == 0)
		return &r->bounces;
	if (!open && !click)
		return NULL;            /* delivered, delayed, ...: no rollup */
	if (cls != NULL && strcmp(cls, "human") == 0)
		return open ? &r->opens : &r->clicks;
	if (cls != NULL && strcmp(cls, "privacy_proxy") == 0)
		return open ? &r->proxy_opens : &r->proxy_clicks;
	/* a scanner, or a class this version does not know: never a person */
	return open ? &r->scanner_opens : &r->scanner_clicks;
}

/* Sum the engagement of one message. */
gboolean
rollup_for_message(crm_db *db, const char *message_id, rollup *out, GError **err)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	st = db_prepare(db, "SELECT kind, status, COUNT(*), MIN(at), MAX(at) FROM events "
	    "WHERE message_id = ?1 GROUP BY kind, status", err);
	if (st == NULL)
		return FALSE;
	sqlite3_bind_text(st, 1, message_id, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		rollup_counts *c = kind != NULL ?
		    counts_for(out, kind, (const char *)sqlite3_column_text(st, 1)) : NULL;
		if (c != NULL)
			counts_add(c, (guint)sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
			    sqlite3_column_int64(st, 4));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_set_error(db, err, "summing events");
		return FALSE;
	}
	/* a reply is inbound mail whose correlation found this message */
	st = db_prepare(db, "SELECT COUNT(*), MIN(CASE WHEN date > 0 THEN date ELSE created_at END), "
	    "MAX(CASE WHEN date > 0 THEN date ELSE created_at END) FROM activities "
	    "WHERE corr_message_id = ?1 AND direction = 'inbound'", err);
	if (st == NULL)
		return FALSE;
	sqlite3_bind_text(st, 1, message_id, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		counts_add(&out->replies, (guint)sqlite3_column_int64(st, 0),
		    sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		db_set_error(db, err, "counting replies");
		return FALSE;
	}
	return TRUE;
}

/* A column as a new string, or NULL. */
static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? g_strdup((const char *)t) : NULL;
}

/* Free one row (the array's element destructor). */
static void
row_free(gpointer p)
{
	rollup_row *r = p;

	if (r == NULL)
		return;
	g_free(r->message_id);
	g_free(r->to);
	g_free(r->subject);
	g_free(r);
}

/* Outbound activities with their rollups, newest first. */
GPtrArray *
rollup_sent(crm_db *db, int limit, gint64 since, GError **err)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	sqlite3_stmt *st;
	int rc;

	st = db_prepare(db, "SELECT id, message_id, json_extract(to_addrs, '$[0]'), subject, date "
	    "FROM activities WHERE direction = 'outbound' AND message_id IS NOT NULL "
	    "AND date >= ?1 ORDER BY date DESC, id DESC LIMIT ?2", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rollup_row *r = g_new0(rollup_row, 1);
		r->activity_id = sqlite3_column_int64(st, 0);
		r->message_id = col_dup(st, 1);
		r->to = col_dup(st, 2);
		r->subject = col_dup(st, 3);
		r->date = sqlite3_column_int64(st, 4);
		g_ptr_array_add(rows, r);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_set_error(db, err, "listing sent activities");
		goto fail;
	}
	/* after the listing: db_prepare may hand back the same cached statement */
	for (guint i = 0; i < rows->len; i++) {
		rollup_row *r = g_ptr_array_index(rows, i);
		if (!rollup_for_message(db, r->message_id, &r->r, err))
			goto fail;
	}
	return rows;
fail:
	g_ptr_array_unref(rows);
	return NULL;
}

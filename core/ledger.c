/*
 * ledger.c - activities and their attachments in the local database (the
 * activities and attachments tables of db.c). See ledger.h.
 *
 * ledger_store writes one activity and its attachments in one BEGIN
 * IMMEDIATE transaction; UNIQUE(profile, idem_key) makes a second store of
 * the same activity return the first row's id. To/Cc/Bcc are JSON arrays.
 * ledger_list returns rows newest (most recently stored) first.
 *
 * Ownership: rows and their activities belong to the caller.
 */
#include <string.h>

#include "ledger.h"

#define ACT_COLS "id, job_id, profile, idem_key, direction, from_hdr, from_addr, " \
	"to_addrs, cc_addrs, bcc_addrs, subject, date, message_id, in_reply_to, created_at, " \
	"regarding, category, corr_method, corr_message_id, dropped"

/* Bind a string or NULL (the string outlives the step). */
static void
bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* A JSON array of a GPtrArray of strings (NULL gives "[]"). */
static char *
json_of(GPtrArray *a)
{
	if (a == NULL)
		return db_json_from_strings(NULL, 0);
	return db_json_from_strings((const char *const *)a->pdata, a->len);
}

/* Step a write statement; FALSE with err on failure. */
static gboolean
step_done(crm_db *db, sqlite3_stmt *st, const char *what, GError **err)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_set_error(db, err, what);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

/* Is addr in any of the lists? */
static gboolean
listed(GPtrArray *const *lists, gsize n, const char *addr)
{
	for (gsize l = 0; l < n; l++)
		for (guint i = 0; lists[l] != NULL && i < lists[l]->len; i++)
			if (g_ascii_strcasecmp(g_ptr_array_index(lists[l], i), addr) == 0)
				return TRUE;
	return FALSE;
}

/* Add the envelope recipients of act that the stored activity id does not
 * have yet to its Bcc (one message is one activity, however many
 * transactions delivered it). */
static gboolean
merge_participants(crm_db *db, gint64 id, const activity *act, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT to_addrs, cc_addrs, bcc_addrs FROM activities WHERE id = ?1", err);
	GPtrArray *have[3] = { NULL, NULL, NULL };
	gboolean ok = TRUE, changed = FALSE;

	if (st == NULL)
		return FALSE;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		for (int k = 0; k < 3; k++)
			have[k] = db_json_to_strings((const char *)sqlite3_column_text(st, k), NULL);
	sqlite3_reset(st);
	for (int k = 0; k < 3; k++)
		if (have[k] == NULL)
			have[k] = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; act->bcc != NULL && i < act->bcc->len; i++) {
		const char *a = g_ptr_array_index(act->bcc, i);
		if (!listed(have, 3, a)) {
			g_ptr_array_add(have[2], g_strdup(a));
			changed = TRUE;
		}
	}
	if (changed) {
		char *bcc = json_of(have[2]);
		st = db_prepare(db, "UPDATE activities SET bcc_addrs = ?2 WHERE id = ?1", err);
		ok = st != NULL;
		if (ok) {
			sqlite3_bind_int64(st, 1, id);
			bind_str(st, 2, bcc);
			ok = step_done(db, st, "merging participants", err);
		}
		g_free(bcc);
	}
	for (int k = 0; k < 3; k++)
		g_ptr_array_unref(have[k]);
	return ok;
}

/* The id of the stored (profile, idem_key), or 0. */
static gint64
existing_id(crm_db *db, const char *profile, const char *idem_key)
{
	sqlite3_stmt *st = db_prepare(db,
	    "SELECT id FROM activities WHERE profile = ?1 AND idem_key = ?2", NULL);
	gint64 id = 0;

	if (st == NULL)
		return 0;
	bind_str(st, 1, profile);
	bind_str(st, 2, idem_key);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

/* Insert the attachments of activity id. */
static gboolean
store_attachments(crm_db *db, gint64 id, const activity *act, GError **err)
{
	guint i;

	for (i = 0; act->attachments != NULL && i < act->attachments->len; i++) {
		const activity_attachment *a = g_ptr_array_index(act->attachments, i);
		sqlite3_stmt *st = db_prepare(db, "INSERT INTO attachments "
		    "(activity_id, idx, filename, content_type, size) VALUES (?1, ?2, ?3, ?4, ?5)", err);

		if (st == NULL)
			return FALSE;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, (int)i);
		bind_str(st, 3, a->filename);
		bind_str(st, 4, a->content_type);
		sqlite3_bind_int64(st, 5, a->size);
		if (!step_done(db, st, "storing an attachment", err))
			return FALSE;
	}
	return TRUE;
}

/* Store an activity once per (profile, idem_key). */
gboolean
ledger_store(crm_db *db, const char *profile, const char *idem_key,
    gint64 job_id, const activity *act, gint64 now, gint64 *id, GError **err)
{
	char *to = json_of(act->to), *cc = json_of(act->cc), *bcc = json_of(act->bcc);
	char *dropped = json_of(act->dropped);
	sqlite3_stmt *st;
	gint64 new_id;
	gboolean ok = FALSE;

	if (profile == NULL || idem_key == NULL) {
		g_set_error(err, DB_ERROR, DB_ERROR_SQL, "an activity needs a profile and a key");
		goto out;
	}
	if (!db_begin(db, err))
		goto out;
	st = db_prepare(db, "INSERT INTO activities (job_id, profile, idem_key, direction, "
	    "from_hdr, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, date, message_id, "
	    "in_reply_to, text_body, html_body, created_at, regarding, category, corr_method, "
	    "corr_message_id, dropped) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21) "
	    "ON CONFLICT (profile, idem_key) DO NOTHING", err);
	if (st == NULL)
		goto fail;
	if (job_id > 0)
		sqlite3_bind_int64(st, 1, job_id);
	bind_str(st, 2, profile);
	bind_str(st, 3, idem_key);
	bind_str(st, 4, act->direction);
	bind_str(st, 5, act->from);
	bind_str(st, 6, act->from_addr);
	bind_str(st, 7, to);
	bind_str(st, 8, cc);
	bind_str(st, 9, bcc);
	bind_str(st, 10, act->subject);
	sqlite3_bind_int64(st, 11, act->date);
	bind_str(st, 12, act->message_id);
	bind_str(st, 13, act->in_reply_to);
	bind_str(st, 14, act->text_body);
	bind_str(st, 15, act->html_body);
	sqlite3_bind_int64(st, 16, now);
	bind_str(st, 17, act->regarding);
	bind_str(st, 18, act->category);
	bind_str(st, 19, act->corr_method);
	bind_str(st, 20, act->corr_message_id);
	bind_str(st, 21, dropped);
	if (!step_done(db, st, "storing an activity", err))
		goto fail;
	if (sqlite3_changes(db_handle(db)) == 0) {
		new_id = existing_id(db, profile, idem_key);
		if (new_id == 0) {
			db_rollback(db);
			g_set_error(err, DB_ERROR, DB_ERROR_SQL, "activity %s vanished", idem_key);
			goto out;
		}
		/* the same message again: its new recipients join the activity */
		if (!merge_participants(db, new_id, act, err) || !db_commit(db, err))
			goto fail;
	} else {
		new_id = sqlite3_last_insert_rowid(db_handle(db));
		if (!store_attachments(db, new_id, act, err))
			goto fail;
		if (!db_commit(db, err))
			goto out;
	}
	if (id != NULL)
		*id = new_id;
	ok = TRUE;
	goto out;
fail:
	db_rollback(db);
out:
	g_free(to);
	g_free(cc);
	g_free(bcc);
	g_free(dropped);
	return ok;
}

/* Free a row and its activity. */
ledger_row *
ledger_row_free(ledger_row *row)
{
	if (row == NULL)
		return NULL;
	g_free(row->profile);
	g_free(row->idem_key);
	activity_free(row->act);
	g_free(row);
	return NULL;
}

/* ledger_row_free as a GDestroyNotify. */
static void
row_free_notify(gpointer p)
{
	ledger_row_free(p);
}

/* Column i as a new string or NULL. */
static char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? g_strdup((const char *)s) : NULL;
}

/* Replace *dst with the strings of the JSON in column i. */
static gboolean
col_strings(sqlite3_stmt *st, int i, GPtrArray **dst, GError **err)
{
	GPtrArray *a = db_json_to_strings((const char *)sqlite3_column_text(st, i), err);

	if (a == NULL)
		return FALSE;
	g_ptr_array_unref(*dst);
	*dst = a;
	return TRUE;
}

/* A row from a SELECT of ACT_COLS (without bodies and attachments). */
static ledger_row *
row_from_stmt(sqlite3_stmt *st, GError **err)
{
	ledger_row *r = g_new0(ledger_row, 1);
	activity *a;

	r->id = sqlite3_column_int64(st, 0);
	r->job_id = sqlite3_column_int64(st, 1);
	r->profile = col_str(st, 2);
	r->idem_key = col_str(st, 3);
	r->created_at = sqlite3_column_int64(st, 14);
	r->act = a = activity_new((const char *)sqlite3_column_text(st, 4));
	a->from = col_str(st, 5);
	a->from_addr = col_str(st, 6);
	if (!col_strings(st, 7, &a->to, err) || !col_strings(st, 8, &a->cc, err) ||
	    !col_strings(st, 9, &a->bcc, err)) {
		g_prefix_error(err, "activity %" G_GINT64_FORMAT ": ", r->id);
		return ledger_row_free(r);
	}
	a->subject = col_str(st, 10);
	a->date = sqlite3_column_int64(st, 11);
	a->message_id = col_str(st, 12);
	a->in_reply_to = col_str(st, 13);
	a->regarding = col_str(st, 15);
	a->category = col_str(st, 16);
	a->corr_method = col_str(st, 17);
	a->corr_message_id = col_str(st, 18);
	if (sqlite3_column_type(st, 19) != SQLITE_NULL) {
		GPtrArray *d = db_json_to_strings((const char *)sqlite3_column_text(st, 19), NULL);
		if (d != NULL) {
			g_ptr_array_unref(a->dropped);
			a->dropped = d;
		}
	}
	return r;
}

/* Load the bodies and/or attachments of one row. */
static gboolean
load_details(crm_db *db, ledger_row *r, gboolean with_bodies, GError **err)
{
	sqlite3_stmt *st;
	int rc;

	if (with_bodies) {
		st = db_prepare(db, "SELECT text_body, html_body FROM activities WHERE id = ?1", err);
		if (st == NULL)
			return FALSE;
		sqlite3_bind_int64(st, 1, r->id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			r->act->text_body = col_str(st, 0);
			r->act->html_body = col_str(st, 1);
		}
		sqlite3_reset(st);
	}
	if (r->act->message_id != NULL) {
		st = db_prepare(db, "SELECT kind, recipient, status, detail FROM events "
		    "WHERE message_id = ?1 ORDER BY id", err);
		if (st == NULL)
			return FALSE;
		bind_str(st, 1, r->act->message_id);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			g_ptr_array_add(r->act->events, g_strdup_printf("%s %s %s: %s",
			    sqlite3_column_text(st, 0), sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "-",
			    sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "-",
			    sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : ""));
		sqlite3_reset(st);
	}
	st = db_prepare(db, "SELECT filename, content_type, size FROM attachments "
	    "WHERE activity_id = ?1 ORDER BY idx", err);
	if (st == NULL)
		return FALSE;
	sqlite3_bind_int64(st, 1, r->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		activity_add_attachment(r->act, (const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
	if (rc != SQLITE_DONE)
		db_set_error(db, err, "reading attachments");
	sqlite3_reset(st);
	return rc == SQLITE_DONE;
}

/* Newest first, at most limit rows (limit <= 0: all). */
GPtrArray *
ledger_list(crm_db *db, int limit, gboolean with_bodies, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT " ACT_COLS " FROM activities "
	    "ORDER BY id DESC LIMIT ?1", err);
	GPtrArray *out;
	guint i;
	int rc;

	if (st == NULL)
		return NULL;
	out = g_ptr_array_new_with_free_func(row_free_notify);
	sqlite3_bind_int(st, 1, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ledger_row *r = row_from_stmt(st, err);

		if (r == NULL)
			break;
		g_ptr_array_add(out, r);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_set_error(db, err, "listing activities");
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		goto fail;      /* a bad row (err set by row_from_stmt) or SQL error */
	/* details after the main statement is reset: one query at a time */
	for (i = 0; i < out->len; i++)
		if (!load_details(db, g_ptr_array_index(out, i), with_bodies, err))
			goto fail;
	return out;
fail:
	g_ptr_array_unref(out);
	return NULL;
}

/* Record an engagement event (bounced, ...) on the activity of message_id,
 * once per idem_key. */
gboolean
ledger_add_event(crm_db *db, const char *idem_key, const char *message_id,
    const char *kind, const char *recipient, const char *status,
    const char *detail, gint64 at, GError **err)
{
	sqlite3_stmt *st;

	if (!db_begin(db, err))
		return FALSE;
	st = db_prepare(db, "INSERT INTO events (idem_key, message_id, kind, recipient, status, "
	    "detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (idem_key) DO NOTHING", err);
	if (st == NULL) {
		db_rollback(db);
		return FALSE;
	}
	bind_str(st, 1, idem_key);
	bind_str(st, 2, message_id);
	bind_str(st, 3, kind);
	bind_str(st, 4, recipient);
	bind_str(st, 5, status);
	bind_str(st, 6, detail);
	sqlite3_bind_int64(st, 7, at);
	if (!step_done(db, st, "storing an event", err)) {
		db_rollback(db);
		return FALSE;
	}
	return db_commit(db, err);
}

/*
 * crm/records.c - CRM record ids, cached tokens and sync cursors in the
 * spool database (see records.h).
 */
#include <sqlite3.h>

#include "records.h"

/* Bind a string or NULL. */
static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* A text column as a new string, or NULL. */
static char *
col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? g_strdup((const char *)t) : NULL;
}

/* Run a write; FALSE with err. */
static gboolean
run_write(crm_db *db, sqlite3_stmt *st, const char *what, GError **err)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_set_error(db, err, what);
		return FALSE;
	}
	return TRUE;
}

/* Step a one-row read: TRUE with a row, FALSE without (err on failure). */
static gboolean
read_row(crm_db *db, sqlite3_stmt *st, const char *what, GError **err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return TRUE;
	if (rc != SQLITE_DONE)
		db_set_error(db, err, what);
	sqlite3_reset(st);
	return FALSE;
}

/* The record a job made. */
char *
crm_record_get(crm_db *db, const char *profile, const char *idem_key, char **record_type,
    GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT record_id, record_type FROM crm_records "
	    "WHERE profile = ?1 AND idem_key = ?2", err);
	char *id = NULL;

	if (record_type != NULL)
		*record_type = NULL;
	if (st == NULL)
		return NULL;
	bind_text(st, 1, profile);
	bind_text(st, 2, idem_key);
	if (read_row(db, st, "looking up a CRM record", err)) {
		id = col(st, 0);
		if (record_type != NULL)
			*record_type = col(st, 1);
		sqlite3_reset(st);
	}
	return id;
}

/* Remember the record a job made. */
gboolean
crm_record_put(crm_db *db, const char *profile, const char *idem_key, const char *message_id,
    const char *record_type, const char *record_id, gint64 now, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "INSERT INTO crm_records (profile, idem_key, message_id, "
	    "record_type, record_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT (profile, idem_key) DO NOTHING", err);

	if (st == NULL)
		return FALSE;
	bind_text(st, 1, profile);
	bind_text(st, 2, idem_key);
	bind_text(st, 3, message_id);
	bind_text(st, 4, record_type);
	bind_text(st, 5, record_id);
	sqlite3_bind_int64(st, 6, now);
	return run_write(db, st, "storing a CRM record", err);
}

/* The first activity record of a message. */
char *
crm_record_by_message(crm_db *db, const char *profile, const char *message_id, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT record_id FROM crm_records WHERE profile = ?1 "
	    "AND message_id = ?2 ORDER BY created_at, rowid LIMIT 1", err);
	char *id = NULL;

	if (st == NULL)
		return NULL;
	bind_text(st, 1, profile);
	bind_text(st, 2, message_id);
	if (read_row(db, st, "looking up a message's CRM record", err)) {
		id = col(st, 0);
		sqlite3_reset(st);
	}
	return id;
}

/* A cached token good for margin seconds more. */
char *
crm_token_get(crm_db *db, const char *profile, gint64 now, int margin, char **instance_url,
    gint64 *expires_at, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT access_token, instance_url, expires_at FROM oauth_tokens "
	    "WHERE profile = ?1 AND expires_at > ?2", err);
	char *tok = NULL;

	if (instance_url != NULL)
		*instance_url = NULL;
	if (st == NULL)
		return NULL;
	bind_text(st, 1, profile);
	sqlite3_bind_int64(st, 2, now + margin);
	if (read_row(db, st, "reading a cached token", err)) {
		tok = col(st, 0);
		if (instance_url != NULL)
			*instance_url = col(st, 1);
		if (expires_at != NULL)
			*expires_at = sqlite3_column_int64(st, 2);
		sqlite3_reset(st);
	}
	return tok;
}

/* Cache a token. */
gboolean
crm_token_put(crm_db *db, const char *profile, const char *token, const char *instance_url,
    gint64 expires_at, gint64 now, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "INSERT INTO oauth_tokens (profile, access_token, "
	    "instance_url, expires_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT (profile) DO UPDATE SET access_token = ?2, instance_url = ?3, "
	    "expires_at = ?4, updated_at = ?5", err);

	if (st == NULL)
		return FALSE;
	bind_text(st, 1, profile);
	bind_text(st, 2, token);
	bind_text(st, 3, instance_url);
	sqlite3_bind_int64(st, 4, expires_at);
	sqlite3_bind_int64(st, 5, now);
	return run_write(db, st, "caching a token", err);
}

/* Forget the cached token. */
gboolean
crm_token_forget(crm_db *db, const char *profile, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "DELETE FROM oauth_tokens WHERE profile = ?1", err);

	if (st == NULL)
		return FALSE;
	bind_text(st, 1, profile);
	return run_write(db, st, "forgetting a token", err);
}

/* A sync cursor. */
char *
crm_sync_get(crm_db *db, const char *profile, const char *object, gint64 *synced_at,
    GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT cursor, synced_at FROM sync_state "
	    "WHERE profile = ?1 AND object = ?2", err);
	char *cursor = NULL;

	if (synced_at != NULL)
		*synced_at = 0;
	if (st == NULL)
		return NULL;
	bind_text(st, 1, profile);
	bind_text(st, 2, object);
	if (read_row(db, st, "reading a sync cursor", err)) {
		cursor = col(st, 0);
		if (synced_at != NULL)
			*synced_at = sqlite3_column_int64(st, 1);
		sqlite3_reset(st);
	}
	return cursor;
}

/* Store a sync cursor. */
gboolean
crm_sync_put(crm_db *db, const char *profile, const char *object, const char *cursor,
    gint64 now, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "INSERT INTO sync_state (profile, object, cursor, "
	    "synced_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (profile, object) DO UPDATE SET "
	    "cursor = ?3, synced_at = ?4", err);

	if (st == NULL)
		return FALSE;
	bind_text(st, 1, profile);
	bind_text(st, 2, object);
	bind_text(st, 3, cursor);
	sqlite3_bind_int64(st, 4, now);
	return run_write(db, st, "storing a sync cursor", err);
}

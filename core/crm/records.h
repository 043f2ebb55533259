/*
 * records.h - what the CRM connectors keep in the spool database:
 *   - the CRM record each job made (profile + idempotency key -> record
 *     type and id, with the message's Message-ID): a job retried after a
 *     crash finds it and makes no second record; events find the activity
 *     record their rollups go to;
 *   - cached OAuth2 access tokens per profile (with the instance or API
 *     URL some vendors hand out with them), reused until shortly before
 *     they expire: Zoho limits how often one may be minted, and a token
 *     per job would waste calls everywhere;
 *   - directory sync cursors per profile and object (a delta link, a
 *     timestamp), so syncs are incremental where the API allows.
 * Every function is one statement: safe inside a caller's transaction and
 * from any worker's own connection.
 *
 * Ownership: strings returned are new (g_free); NULL with no error means
 * "none stored".
 *
 * Public: crm_record_get, crm_record_put, crm_record_by_message,
 *         crm_token_get, crm_token_put, crm_token_forget,
 *         crm_sync_get, crm_sync_put.
 */
#ifndef CRM_RECORDS_H
#define CRM_RECORDS_H

#include <glib.h>
#include "../db.h"

/* The record id a job made (and its type, if record_type is not NULL). */
char *crm_record_get(crm_db *db, const char *profile, const char *idem_key,
    char **record_type, GError **err);
/* Remember the record a job made (a second put for the key is ignored). */
gboolean crm_record_put(crm_db *db, const char *profile, const char *idem_key,
    const char *message_id, const char *record_type, const char *record_id,
    gint64 now, GError **err);
/* The record id of the first activity saved for message_id (bare). */
char *crm_record_by_message(crm_db *db, const char *profile, const char *message_id,
    GError **err);

/* A cached token still good at now + margin seconds; *instance_url may be
 * set (or NULL). NULL: none usable. */
char *crm_token_get(crm_db *db, const char *profile, gint64 now, int margin,
    char **instance_url, gint64 *expires_at, GError **err);
gboolean crm_token_put(crm_db *db, const char *profile, const char *token,
    const char *instance_url, gint64 expires_at, gint64 now, GError **err);
/* Drop the cached token (the CRM said 401). */
gboolean crm_token_forget(crm_db *db, const char *profile, GError **err);

char *crm_sync_get(crm_db *db, const char *profile, const char *object, gint64 *synced_at,
    GError **err);
gboolean crm_sync_put(crm_db *db, const char *profile, const char *object,
    const char *cursor, gint64 now, GError **err);

#endif

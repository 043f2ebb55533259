/*
 * ledger.h - the local record of activities: what the `ledger` CRM stores
 * and what `crm-milterctl activities` shows.
 *
 * An activity is stored once per (profile, idempotency key): storing it
 * again returns the existing id, so a retried job never makes a second row.
 *
 * Ownership: lists returned are arrays of ledger_row the caller unrefs.
 *
 * Public: ledger_store, ledger_list, ledger_row_free, ledger_add_event.
 */
#ifndef CRM_LEDGER_H
#define CRM_LEDGER_H

#include <glib.h>
#include "db.h"
#include "activity.h"

typedef struct ledger_row {
	gint64 id;
	gint64 job_id;
	char *profile;
	char *idem_key;
	gint64 created_at;
	activity *act;       /* owned */
} ledger_row;

/* Store an activity; *id gets the new or existing row id. */
gboolean ledger_store(crm_db *db, const char *profile, const char *idem_key,
    gint64 job_id, const activity *act, gint64 now, gint64 *id, GError **err);
/* Newest first, at most limit rows (with attachments, without bodies
 * unless with_bodies). */
GPtrArray *ledger_list(crm_db *db, int limit, gboolean with_bodies, GError **err);
ledger_row *ledger_row_free(ledger_row *row);
/* Record an event (e.g. "bounced") on the activity whose Message-ID is
 * message_id (bare); a second event with the same idem_key is ignored. */
gboolean ledger_add_event(crm_db *db, const char *idem_key, const char *message_id,
    const char *kind, const char *recipient, const char *status,
    const char *detail, gint64 at, GError **err);

#endif

/*
 * jobdata.h - what a spool job carries, in the shape every connector uses:
 *   - a save job: the activity (the queued message parsed with GMime) with
 *     what the milter decided, from the job's metadata: regarding record,
 *     category, correlation, the attachment policy applied (what was
 *     dropped and why), and the message's tracking id when it was tracked;
 *   - an event job: its events, one per recipient of a delivery report, or
 *     the one open or click crm-tracker recorded (its Message-ID found
 *     through the tracking id when the job does not carry it).
 * A job that can never be read gives CONN_PERMANENT with the reason; a
 * database failure gives CONN_RETRY.
 *
 * Ownership: jobdata_activity returns a new activity (activity_free) and
 * *track_id a new string; jobdata_events a new array of job_event (freed
 * with the array).
 *
 * jobdata_keep is the local record of an activity a CRM took (the
 * ledger row, without the bodies, which stay in the CRM): reports and
 * rollups read it whatever the CRM. The flusher keeps every one after the
 * CRM took it; a connector that needs it sooner (a reply counted in the
 * rollup it writes next) calls it itself; the same key makes it one row.
 *
 * Public: jobdata_activity, jobdata_events, jobdata_keep, jobdata_meta_string.
 */
#ifndef CRM_JOBDATA_H
#define CRM_JOBDATA_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "connector.h"
#include "../activity.h"

typedef struct job_event {
	char *idem_key;      /* the job's, plus "/recipient" for reports */
	char *kind;          /* opened, clicked, bounced, delayed, delivered, ... */
	char *message_id;    /* the sent message, bare */
	char *track_id;      /* opens and clicks, else NULL */
	gint64 at;           /* unix seconds */
	char *cls;           /* human, privacy_proxy, scanner; NULL for reports */
	char *reason;        /* why the class */
	gint64 link;         /* clicks: the link's index, else -1 */
	char *target;        /* clicks: the URL */
	char *recipient;     /* reports: the recipient */
	char *status;        /* reports: the DSN status (5.1.1) */
	char *diagnostic;    /* reports: the remote server's words */
} job_event;

/* The activity of a save job; NULL with res set when it cannot be read.
 * db (may be NULL) finds the tracking id (*track_id, may be NULL). */
activity *jobdata_activity(crm_db *db, const spool_job *job, gsize max_body,
    gboolean with_content, char **track_id, conn_result *res);
/* The events of an event job; NULL with res set. */
GPtrArray *jobdata_events(crm_db *db, const spool_job *job, gint64 now, conn_result *res);
/* Keep a (the activity of job) in the local ledger without its bodies. */
gboolean jobdata_keep(crm_db *db, const spool_job *job, const activity *a, gint64 now,
    GError **err);
/* A string member of obj, or NULL. */
const char *jobdata_meta_string(JsonObject *obj, const char *name);

#endif

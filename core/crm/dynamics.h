/*
 * dynamics.h - the `dynamics365` connector's parts (Dataverse Web API,
 * default v9.2; the api_version option overrides), shared by its files:
 *   dynamics.c        open/close, one save, the ops table, the calls
 *                     (token, headers, one refresh after a 401);
 *   dynamics_build.c  request bodies: the email with its activity parties,
 *                     regarding and state, attachments, OData quoting;
 *   dynamics_batch.c  $batch: change sets built per email, answers
 *                     parsed and mapped back to jobs (save_batch);
 *   dynamics_event.c  rollups (mapped columns PATCHed on the email, the
 *                     rest in one note per email) and reply counting;
 *   dynamics_sync.c   directory sync (contacts, leads, accounts, system
 *                     users) with paging and change tracking.
 * Vendor facts: /work/notes/vendor-dynamics-salesforce.md sections 1-2.
 *
 * Ownership: a dyn belongs to one worker (dyn_open / dyn_close). Strings
 * returned are new (g_free) unless said otherwise; responses are the
 * caller's (http_response_clear).
 *
 * Public (inside the connector): dyn_call, dyn_api_url, dyn_entity_id,
 * dyn_vendor_error, dyn_error_code, dyn_guid, dyn_email_id, dyn_same_origin,
 * dyn_is_guid, dyn_odata_string, dyn_messageid, dyn_email_json,
 * dyn_attachment_json, dyn_state_json, dyn_statuscode, dyn_save_one,
 * dyn_lookup, dyn_finish, dyn_after_save, dyn_changeset, dyn_save_batch,
 * dyn_send_event, dyn_reply_rollup, dyn_sync_directory,
 * DYN_DEFAULT_BATCH, DYN_MAX_OPS, DYN_MAX_BATCH_BYTES, DYN_BODY_SLACK,
 * DYN_DUPLICATE_KEY.
 */
#ifndef CRM_DYNAMICS_H
#define CRM_DYNAMICS_H

#include <glib.h>

#include "connector.h"
#include "http.h"
#include "jobdata.h"
#include "oauth.h"

#define DYN_DEFAULT_API "v9.2"
/* Emails per $batch when the profile says 0 (~0.04 calls per activity). */
#define DYN_DEFAULT_BATCH 50
/* Operations one $batch may hold (the vendor's limit). */
#define DYN_MAX_OPS 1000
/* Bytes of one $batch body we build at most (a single big email goes alone). */
#define DYN_MAX_BATCH_BYTES (16 * 1024 * 1024)
/* Bytes parsed past max_body_size (more than one UTF-8 character), so a
 * body that was longer is seen, cut and marked "Truncated body." */
#define DYN_BODY_SLACK 8
/* "Cannot insert duplicate key" (-2147220937): a record with our id exists. */
#define DYN_DUPLICATE_KEY "0x80040237"


typedef struct dyn {
	const crm_profile *profile;
	crm_db *db;              /* borrowed: records, tokens, directory */
	http_client *http;
	oauth_client *oauth;
	char *org;               /* the profile's url without a trailing / */
	char *api;               /* org + "/api/data/" + version */
	gsize max_body;          /* bytes of text/HTML body kept */
	guint batch;             /* emails per $batch */
	guint sent;              /* requests that went out (an attempt counts) */
} dyn;

/* What dyn_email_json puts in: how far the fallbacks went. */
typedef struct dyn_email_opts {
	gboolean no_binds;       /* parties as addressused only, no regarding */
	gboolean truncated;      /* set by dyn_email_json: a body was cut */
} dyn_email_opts;

/* A found email: its id and state. */
typedef struct dyn_found {
	char *id;
	int statecode;           /* -1: not known yet */
} dyn_found;

/* ---- dynamics.c */
/* One Web API call: the token, the OData headers, one new token after a
 * 401. url is absolute; body may be NULL. FALSE with res set when no
 * answer counts (no token, paused, no HTTP answer); TRUE with rs filled
 * and res set from the status (4xx keep the vendor's code and message). */
gboolean dyn_call(dyn *d, const char *method, const char *url, const char *const *headers,
    const char *body, gsize len, gint64 now, const char *what, http_response *rs,
    conn_result *res);
/* d->api + "/" + rest (printf-style). */
char *dyn_api_url(const dyn *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* The GUID inside "...(GUID)" (OData-EntityId, Location), or NULL. */
char *dyn_entity_id(const char *uri);
/* "HTTP 400: message (code)" from a Dataverse error body. */
char *dyn_vendor_error(long status, const char *body, gsize len);
/* The "code" of a Dataverse error body, or NULL. */
char *dyn_error_code(const char *body, gsize len);
/* A GUID derived from the text (SHA-256, RFC 9562 version 8 layout): the
 * primary key we give a record, so a repeated create is refused as a
 * duplicate instead of making a second record. */
char *dyn_guid(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Does url point at the same scheme, host and port as the API (never
 * send the token elsewhere)? */
gboolean dyn_same_origin(const dyn *d, const char *url);
gboolean dyn_is_guid(const char *s);
/* Save one job (records, lookup, create, attachments, state). */
void dyn_save_one(dyn *d, const spool_job *job, activity *a, gint64 now, conn_result *res);
/* Bring a found email to completion (attachments, state); res set. */
void dyn_finish(dyn *d, const spool_job *job, const activity *a, const dyn_found *f,
    gint64 now, conn_result *res);
/* After a save is done: record it, count a reply. res stays OK or turns RETRY. */
void dyn_after_save(dyn *d, const spool_job *job, const activity *a, const char *id,
    gint64 now, conn_result *res);
/* Look up the emails with these Message-IDs (bare) and directions; out[i]
 * for ids[i] (id NULL: none). FALSE with res set when the lookup failed. */
gboolean dyn_lookup(dyn *d, const char *const *ids, const gboolean *outgoing, guint n,
    dyn_found *out, gint64 now, conn_result *res);

/* ---- dynamics_build.c */
/* 'value' as an OData string literal (quotes doubled; not URL-encoded). */
char *dyn_odata_string(const char *value);
/* The POST emails body, with activityid id. */
char *dyn_email_json(dyn *d, const activity *a, const char *id, dyn_email_opts *o);
/* The POST activitymimeattachments body: the attachment's id is derived
 * from the email's (email_id) and index; bind is "/activitypointers(ID)"
 * or "$N". */
char *dyn_attachment_json(const activity_attachment *at, guint index, const char *email_id,
    const char *bind);
/* The email id a job's save gives its email. */
char *dyn_email_id(const dyn *d, const spool_job *job);
/* {"statecode":1,"statuscode":3|4} (+ notifications when not 0). */
char *dyn_state_json(const activity *a, int notifications);
/* 3 (sent) or 4 (received) for an activity's direction. */
int dyn_statuscode(const activity *a);
/* "<id>" cut to the column's 320 characters. */
char *dyn_messageid(const char *bare);

/* ---- dynamics_batch.c */
/* One $batch holding one change set of n operations (methods[i] urls[i]
 * with JSON bodies[i]) on records that exist; TRUE when all succeeded,
 * else res says why (a 4xx part: PERMANENT with the vendor's words). */
gboolean dyn_changeset(dyn *d, guint n, const char *const *methods, const char *const *urls,
    const char *const *bodies, gint64 now, const char *what, conn_result *res);
void dyn_save_batch(void *state, const spool_job *const *jobs, guint n, gint64 now,
    conn_result *results);

/* ---- dynamics_event.c */
void dyn_send_event(void *state, const spool_job *job, gint64 now, conn_result *res);
/* An inbound reply to message_id was saved: update its email's rollups. */
void dyn_reply_rollup(dyn *d, const spool_job *job, const activity *a, gint64 now,
    conn_result *res);

/* ---- dynamics_sync.c */
gboolean dyn_sync_directory(void *state, gint64 now, GError **err);

#endif

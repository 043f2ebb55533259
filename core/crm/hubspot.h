/*
 * hubspot.h - what the files of the `hubspot` connector share (HubSpot CRM
 * v3 with a private app token; the vendor facts are in
 * /work/notes/vendor-hubspot-zoho-webhook.md section 1):
 *   hubspot.c        open/close, the one HTTP call every request goes
 *                    through (errors, 401, 429 policies);
 *   hubspot_save.c   saving activities (batch create with objectWriteTraceId,
 *                    de-duplication);
 *   hubspot_build.c  one email input: properties, hs_email_headers,
 *                    associations from the directory and the regarding record;
 *   hubspot_files.c  attachments uploaded to the file manager (hs_attachment_ids);
 *   hubspot_event.c  engagement rollups: mapped fields PATCHed on the email,
 *                    the rest in one note kept up to date;
 *   hubspot_sync.c   directory sync: contacts (hs_email_optout) and owners.
 * The connector's ops (connector_hubspot_ops) are declared in connector.h.
 *
 * Defaults (all inside HubSpot's published limits for private apps):
 * 8 requests/s for the profile (80 per 10 s; the lowest tier allows 100 per
 * 10 s), 4 workers, batches of HS_BATCH_MAX (100) inputs, at most 4 CRM
 * searches a second per profile (search allows 5): each worker waits
 * workers x 250 ms between its searches.
 *
 * Ownership: a hubspot is made by the connector's open and freed by its
 * close. hs_call returns a new JsonNode (json_node_unref) or NULL; strings
 * returned are new (g_free).
 *
 * Public (inside the connector): hs_call, hs_call_body, hs_search_wait, hs_ms,
 *         hs_email_input, hs_email_timestamp, hs_upload_attachments,
 *         hs_regarding_assoc, hs_save_activity, hs_save_batch, hs_event,
 *         hs_push_rollup, hs_sync_directory, hs_json_string, hs_json_array,
 *         hs_json_object, hs_to_string.
 */
#ifndef CRM_HUBSPOT_H
#define CRM_HUBSPOT_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "connector.h"
#include "http.h"
#include "limiter.h"
#include "../activity.h"
#include "../rollup.h"

#define HS_DEFAULT_URL "https://api.hubapi.com"
#define HS_BATCH_MAX 100          /* inputs per batch create (notes 1.2) */
#define HS_DEFAULT_RATE 8.0       /* requests per second, profile-wide */
#define HS_DEFAULT_WORKERS 4
#define HS_SEARCH_INTERVAL_US 250000   /* 4 searches a second (limit: 5) */
#define HS_PAGE 100               /* list and search page size */
#define HS_TOKEN_MAX 4096

/* Association type ids, HUBSPOT_DEFINED (notes 1.1; 186, 224 and the note
 * ids are UNCONFIRMED there). */
#define HS_EMAIL_TO_CONTACT 198
#define HS_EMAIL_TO_COMPANY 186
#define HS_EMAIL_TO_DEAL 210
#define HS_EMAIL_TO_TICKET 224
#define HS_NOTE_TO_CONTACT 202
#define HS_NOTE_TO_COMPANY 190
#define HS_NOTE_TO_DEAL 214

typedef struct hubspot {
	const crm_profile *profile;
	crm_db *db;               /* borrowed; NULL in some tests */
	crm_limiter *limiter;     /* borrowed; may be NULL */
	http_client *http;
	char *token;
	char *base;               /* API base URL without a trailing slash */
	guint batch;              /* inputs per batch create */
	int workers;              /* the profile's workers (search spacing) */
	gsize max_body;           /* bytes of each body sent */
	gsize max_request;        /* bytes of one batch request */
	gint64 last_search;       /* monotonic us of the last search */
} hubspot;

/* One API call: method, path under the base URL (with its query), a JSON
 * body or NULL. On a 2xx answer (207 included) returns its JSON (an empty
 * object for an empty body) with res OK and *status set; else NULL with
 * res set: 401 dead (after re-reading the token file once), 429/503 retry
 * after Retry-After or the 429 body's policy, 5xx/no answer retry, other
 * 4xx dead with HubSpot's category and message. what names the call. */
JsonNode *hs_call(hubspot *h, const char *method, const char *path, const char *body,
    const char *what, gint64 now, long *status, conn_result *res);
/* The same with a body of len bytes of content_type. */
JsonNode *hs_call_body(hubspot *h, const char *method, const char *path, const char *content_type,
    const void *body, gsize len, const char *what, gint64 now, long *status, conn_result *res);
/* Wait until a CRM search may be sent (HS_SEARCH_INTERVAL_US per worker). */
void hs_search_wait(hubspot *h);
/* Unix seconds as the milliseconds string HubSpot takes. */
char *hs_ms(gint64 secs, int extra_ms);

/* The batch input (JSON text) of one activity: properties, associations,
 * objectWriteTraceId = trace; attachment_ids (or NULL) is hs_attachment_ids.
 * *timestamp gets hs_timestamp. */
char *hs_email_input(hubspot *h, const activity *act, const char *trace, gint64 fallback_date,
    const char *attachment_ids, char **timestamp);
/* hs_timestamp: the Date (else fallback_date) in ms, a fingerprint of trace
 * (0..999) as its milliseconds. */
char *hs_email_timestamp(const activity *act, const char *trace, gint64 fallback_date);
/* Upload the activity's attachments (once per job: their ids are kept
 * with records.h) to the file manager; the ids joined by ';' (new; NULL
 * when none). NULL with res RETRY when an upload must be tried again. */
char *hs_upload_attachments(hubspot *h, const spool_job *job, const activity *act, gint64 now,
    conn_result *res);
/* A regarding record "type:id" as an email association type id, or 0. */
int hs_regarding_assoc(const char *regarding, const char **id);

/* save_activity and save_batch. */
void hs_save_activity(void *state, const spool_job *job, gint64 now, conn_result *res);
void hs_save_batch(void *state, const spool_job *const *jobs, guint n, gint64 now,
    conn_result *results);

/* send_event. */
void hs_event(void *state, const spool_job *job, gint64 now, conn_result *res);
/* Push the rollup of message_id to its email record email_id (mapped
 * fields PATCHed, the rest in a note); a bounce also sets hs_email_status
 * BOUNCED. */
void hs_push_rollup(hubspot *h, const char *email_id, const char *message_id, const rollup *r,
    gint64 now, conn_result *res);

/* sync_directory. */
gboolean hs_sync_directory(void *state, gint64 now, GError **err);

/* JSON helpers: a member as a string (numbers too, new string) / array /
 * object, or NULL. */
char *hs_json_string(JsonObject *o, const char *name);
JsonArray *hs_json_array(JsonObject *o, const char *name);
JsonObject *hs_json_object(JsonObject *o, const char *name);
/* JSON text of a builder's root (the builder is freed). */
char *hs_to_string(JsonBuilder *b);

#endif

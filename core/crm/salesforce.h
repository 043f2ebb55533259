/*
 * salesforce.h - what the files of the `salesforce` connector share (not a
 * public interface: the flusher sees only connector_salesforce_ops).
 *
 *   salesforce.c         open/close, tokens (client credentials or JWT
 *                        bearer), one REST call with its faults mapped,
 *                        SOQL with nextRecordsUrl paging, JSON and sObject
 *                        Collections helpers;
 *   salesforce_save.c    activities: de-dup, EmailMessage by collections;
 *   salesforce_parts.c   EmailMessageRelation and ContentVersion of an email;
 *   salesforce_rollup.c  events: rollups to custom fields or a ContentNote;
 *   salesforce_sync.c    the directory from Contact, Lead and User.
 *
 * Facts and their sources: /work/notes/vendor-dynamics-salesforce.md §3
 * (the "notes" in these files).
 *
 * Ownership: sf_answer_clear frees what sf_call filled in (also after a
 * failed call); strings returned are new (g_free) unless said borrowed.
 * An sf_item borrows its job and result; sf_finish takes the error string.
 *
 * Public (to the connector's files): sf_call, sf_answer_clear,
 *         sf_answer_code, sf_query, sf_query_in, sf_soql_quote, sf_is_id,
 *         sf_json_text, sf_json_fields, sf_created_id, sf_cut_chars,
 *         sf_add_cut, sf_collection_begin, sf_post_collection,
 *         sf_record_result, sf_retryable, sf_finish, sf_wants_lookup,
 *         sf_parts_lookup, sf_parts_create, sf_push_rollup, sf_send_event,
 *         sf_save_batch, sf_sync_directory; SF_* limits.
 */
#ifndef CRM_SALESFORCE_H
#define CRM_SALESFORCE_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "connector.h"
#include "http.h"
#include "oauth.h"
#include "../activity.h"

#define SF_DEFAULT_VERSION "v61.0"
#define SF_COLLECTION_MAX 200      /* records per sObject Collections call (notes §3.6) */
#define SF_LIMIT_PAUSE 300         /* s: REQUEST_LIMIT_EXCEEDED without Retry-After */
#define SF_QUERY_URL_MAX 8000      /* bytes of an encoded q=; URI+headers <= 16,384 (§0) */
#define SF_SESSION_GUESS 900       /* s: token answers have no expires_in (§3.1) */

typedef struct sf {
	const crm_profile *profile;
	crm_db *db;              /* borrowed: records, directory, rollups */
	crm_limiter *limiter;    /* borrowed, may be NULL */
	http_client *http;
	oauth_client *oauth;
	char *version;           /* "v61.0" */
	int max_body_chars;
	guint batch;
} sf;

/* An API answer: status and its JSON (root NULL when none or unreadable). */
typedef struct sf_answer {
	long status;
	JsonParser *parser;
	JsonNode *root;
} sf_answer;

/* Field limits of an EmailMessage, lowered on STRING_TOO_LONG. */
enum { L_TEXT, L_HTML, L_SUBJECT, L_HEADERS, L_TO, L_CC, L_BCC, L_FROMNAME, N_LIMITS };

/* A relation or file made once the EmailMessage exists. */
typedef struct sf_part {
	const char *rel_type;            /* FromAddress...; NULL for a file */
	char *address;                   /* bare, or NULL */
	char *relation_id;               /* or NULL */
	const activity_attachment *att;  /* a file: borrowed from the activity */
	char *path;                      /* its PathOnClient */
	gboolean exists;                 /* already in Salesforce */
} sf_part;

/* One save job on its way. */
typedef struct sf_item {
	const spool_job *job;
	conn_result *res;
	gboolean final;                  /* res is decided */
	activity *act;
	gboolean incoming;
	char *msgid;                     /* "<id>", or NULL */
	char *email_id;
	gboolean fresh;                  /* made here: it has no parts yet */
	GPtrArray *parts;                /* sf_part * */
	GString *addr[3];                /* unresolved To, Cc, Bcc ("; ") */
	char *related_to;
	char *headers;
	int limit[N_LIMITS];
} sf_item;

/* Called for each record of a query; FALSE stops (res says why). */
typedef gboolean (*sf_row_fn)(JsonObject *row, gpointer user, conn_result *res);
/* An item's value for an IN list, or NULL to leave it out. */
typedef const char *(*sf_value_fn)(const sf_item *it);

/* A query row's string field, or NULL. */
#define SF_FIELD(row, name) jobdata_meta_string((row), (name))

/*
 * One REST call: path is "/services/..." (from the instance URL, e.g. a
 * nextRecordsUrl) or relative to /services/data/vXX.X ("/query?q=...").
 * body (JSON) may be NULL. TRUE with a 2xx answer in ans; FALSE with res
 * set (and the answer, if any, in ans): 401 refreshes the token once;
 * 403/429 REQUEST_LIMIT_EXCEEDED pauses the profile (Retry-After, else
 * SF_LIMIT_PAUSE); 503/5xx/timeouts retry; other 4xx are dead with the
 * errorCode and message kept. what names the call in errors.
 */
gboolean sf_call(sf *s, const char *method, const char *path, const char *body, gint64 now,
    const char *what, sf_answer *ans, conn_result *res);
void sf_answer_clear(sf_answer *ans);
/* The first errorCode of a failed call's answer (borrowed), or NULL. */
const char *sf_answer_code(const sf_answer *ans);
/* Run a SOQL query, every page (nextRecordsUrl), each record to fn. */
gboolean sf_query(sf *s, const char *soql, gint64 now, sf_row_fn fn, gpointer user,
    conn_result *res);
/* head + 'v1', 'v2'... + ")" + tail for the items value() gives, in chunks
 * short enough for a URL; rows to fn (user = items); a failed query
 * finishes the items of its chunk. */
void sf_query_in(sf *s, GPtrArray *items, const char *head, const char *tail,
    sf_value_fn value, sf_row_fn fn, gint64 now);
/* text as a SOQL string literal: quoted, with \ ' " and controls escaped. */
char *sf_soql_quote(const char *text);
/* A 15- or 18-character Salesforce Id (letters and digits)? */
gboolean sf_is_id(const char *id);

char *sf_json_text(JsonBuilder *b);
/* {"name": "value", ...} from NULL-terminated name/value string pairs. */
char *sf_json_fields(const char *name, ...) G_GNUC_NULL_TERMINATED;
/* The id of a create answer (borrowed), or NULL. */
const char *sf_created_id(const sf_answer *ans);
/* The first n characters of s (UTF-8). */
char *sf_cut_chars(const char *s, glong n);
/* Add "name": text cut to limit characters, when text is not empty. */
void sf_add_cut(JsonBuilder *b, const char *name, const char *text, int limit);
/* {"allOrNone": false, "records": [ ... left open for the records. */
JsonBuilder *sf_collection_begin(void);
/* Close and POST a collection of n records; the per-record results
 * (borrowed from ans), or NULL with res set. */
JsonArray *sf_post_collection(sf *s, JsonBuilder *records, guint n, gint64 now, const char *what,
    sf_answer *ans, conn_result *res);
/* Record i of a collections answer: its id (borrowed), or NULL with *code,
 * *msg and the fields named appended to fields. */
const char *sf_record_result(JsonArray *a, guint i, const char **code, const char **msg,
    GString *fields);
/* A per-record error code worth another try later? */
gboolean sf_retryable(const char *code);

/* Decide an item's result (takes error). */
void sf_finish(sf_item *it, conn_status st, int retry_after, char *error);
/* In Salesforce from an earlier try: its parts must be looked for. */
gboolean sf_wants_lookup(const sf_item *it);
void sf_parts_lookup(sf *s, GPtrArray *items, gint64 now);
/* Make the parts (relations, files) of items that do not exist yet. */
void sf_parts_create(sf *s, GPtrArray *items, gint64 now);

/* Push the rollups of message_id (bare) to its EmailMessage email_id. */
void sf_push_rollup(sf *s, const char *email_id, const char *message_id, gint64 now,
    conn_result *res);
void sf_send_event(void *state, const spool_job *job, gint64 now, conn_result *res);
void sf_save_batch(void *state, const spool_job *const *jobs, guint n, gint64 now,
    conn_result *results);
gboolean sf_sync_directory(void *state, gint64 now, GError **err);

#endif

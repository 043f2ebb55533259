/*
 * crm/zoho.h - the parts of the `zoho` connector (Zoho CRM API v8), shared
 * by its files; only connector_zoho_ops (connector.h) is seen outside:
 *   zoho.c       open/close, the access token, calls with the one retry
 *                after a 401, save_activity: the message associated to the
 *                lead / contact / deal record (associate_email), the ops;
 *   zoho_body.c  what is sent (the associate_email JSON, the multipart of
 *                the files API) and what comes back (codes, file ids);
 *   zoho_note.c  engagement rollups: one Note per message on the record
 *                its email was associated to, written again as events come;
 *   zoho_sync.c  the directory sync of Contacts and Leads.
 *
 * Access tokens (oauth.h, refresh-token grant): Zoho allows 10 mints per
 * refresh token in 10 minutes, so a token is cached in memory and in the
 * spool (shared by workers and by later crm-flusher runs) and the mint
 * itself is serialised across workers and processes by the profile lock,
 * an flock() on the token_file (each connector has its own descriptor):
 * the first worker mints, the others wait and then read the cached token.
 * A worker whose token is good for a while takes no lock. The same lock
 * serialises the writes of rollup Notes, so the last write holds the
 * latest rollup and two workers never make two Notes. Calls go to profile
 * url when set, else to the api_domain the token endpoint named.
 *
 * Records kept in the spool (records.h), per profile:
 *   job idem_key              -> "Module/ID" of the record the email was
 *                                associated to (with the Message-ID);
 *   idem_key "#file<N>"       -> an uploaded attachment's file id, reused
 *                                when the job is retried;
 *   "zoho-note:<msgid>"       -> the rollup Note's id;
 *   "zoho-note-try:<msgid>"   -> a Note create was tried (a lost answer:
 *                                look for the Note before making another).
 *
 * Ownership: the zoho state is the connector's (zoho_open, zoho_close in
 * zoho.c); strings and arrays returned by the functions below are new and
 * the caller's. http_response values are cleared by the caller.
 *
 * Public (internal to the connector): zoho_lock, zoho_request, zoho_judge,
 * zoho_answer_item, zoho_email_json, zoho_multipart, zoho_file_ids,
 * zoho_note_refresh, zoho_sync_directory, zoho_record_split, ZOHO_*.
 */
#ifndef CRM_ZOHO_H
#define CRM_ZOHO_H

#include <glib.h>

#include "connector.h"
#include "http.h"
#include "oauth.h"
#include "../activity.h"

#define ZOHO_DEFAULT_TOKEN_URL "https://accounts.zoho.com/oauth/v2/token"
#define ZOHO_DEFAULT_VERSION "v8"
#define ZOHO_MAX_CONTENT 32000       /* associate_email content, characters */
#define ZOHO_MAX_SUBJECT 500
#define ZOHO_MAX_ADDRESS 255
#define ZOHO_MAX_PEOPLE 50           /* to, cc, bcc each */
#define ZOHO_MAX_MESSAGE_ID 255
#define ZOHO_MAX_ATTACHMENTS 20      /* per email */
#define ZOHO_FILES_PER_UPLOAD 10     /* files API, per request */
#define ZOHO_MAX_FILE (20 * 1024 * 1024)
#define ZOHO_RETRY_429 60            /* s when a 429 names no wait */
#define ZOHO_PAGE 200                /* records per page (the API's maximum) */

typedef struct zoho {
	const crm_profile *profile;
	crm_db *db;                /* borrowed: this worker's connection */
	http_client *http;
	oauth_client *oauth;
	oauth_params params;       /* to make oauth again; strings below */
	char *client_secret;       /* wiped on close */
	char *refresh_token;       /* wiped on close */
	const char *version;       /* "v8" or the profile's api_version */
	int lock_fd;               /* token_file: the profile lock (flock) */
	int lock_depth;            /* nesting of zoho_lock in this worker */
	gint64 token_until;        /* the token is good until then: no lock */
	gsize max_body;
} zoho;

/* Take (TRUE) or release the profile lock; nests within one worker. */
void zoho_lock(zoho *z, gboolean take);

/* One call to {base}/crm/{version}/{path} with the access token; a 401
 * (INVALID_TOKEN, INVALID_OAUTHTOKEN, AUTHENTICATION_FAILURE) gets a new
 * token and the call once more. FALSE with res set when no call could be
 * made (no token); TRUE with rs the answer (status 0: none came). */
gboolean zoho_request(zoho *z, const char *method, const char *path,
    const char *const *headers, const void *body, gsize body_len, gint64 now,
    http_response *rs, conn_result *res);
/* res from an answer that is not a success: http.h's table, and a 429
 * without Retry-After waits details.retry_after or ZOHO_RETRY_429 s. */
void zoho_judge(const http_response *rs, const char *what, gint64 now, conn_result *res);
/* The Zoho code and message of an answer: its first item (Emails[0],
 * data[0]) or the top level; NULL when absent. *status gets the item's
 * "status" ("success", "error") or NULL. New strings. */
char *zoho_answer_item(const http_response *rs, char **message, char **status);

/* The associate_email body ({"Emails":[{...}]}) of act; names maps bare
 * addresses to display names (may be NULL), file_ids the uploaded
 * attachments (may be NULL), msgid is original_message_id ("<...>"). */
char *zoho_email_json(const activity *a, const char *from_addr, GHashTable *names,
    const GPtrArray *file_ids, const char *msgid, gint64 now);
/* multipart/form-data of n attachments, each a "file" field; *boundary
 * gets the boundary (new string). */
GByteArray *zoho_multipart(activity_attachment *const *atts, guint n, char **boundary);
/* The n file ids of a files API answer, in order; NULL (with *why) when
 * the answer does not hold n successes. */
GPtrArray *zoho_file_ids(const http_response *rs, guint n, char **why);

/* "Module/ID" into its two parts (new strings); FALSE when malformed. */
gboolean zoho_record_split(const char *rec, char **module, char **id);
/* Write the rollup of message_id (bare) into its Note; res as for a job. */
void zoho_note_refresh(zoho *z, const char *message_id, gint64 now, conn_result *res);
/* Contacts and Leads with Email_Opt_Out into the directory. */
gboolean zoho_sync_directory(void *state, gint64 now, GError **err);

#endif

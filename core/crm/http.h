/*
 * http.h - the HTTP client the connectors share (libcurl): one request at
 * a time on a reused connection, TLS always verified (a private CA file
 * may replace the system's), http and https only, redirects never
 * followed, a request other than GET never sent twice by libcurl itself
 * (a reused connection that dies after the send fails the call), every
 * answer bounded (max_response bytes of body, at most
 * HTTP_MAX_HEADERS headers), whole-request and connect timeouts.
 *
 * http_outcome turns an answer into what the flusher does with the job:
 *   2xx                         -> CONN_OK
 *   429, 503                    -> CONN_RETRY after Retry-After (seconds or
 *                                  an HTTP date; capped at a day), the
 *                                  profile paused that long
 *   408, 5xx, no answer         -> CONN_RETRY with the spool's backoff
 *   not sent: profile paused    -> CONN_RETRY, no_attempt (postponed)
 *   other 4xx                   -> CONN_PERMANENT, the vendor's words kept
 *                                  (the first 512 bytes of the body, with
 *                                  control characters replaced)
 * Connectors decide 401 (refresh a token once) and vendor-specific codes
 * themselves before calling it.
 *
 * Ownership: http_client_new returns a client freed with http_client_free
 * (NULL-safe, returns NULL); one thread uses a client at a time.
 * http_response_clear frees what http_perform filled in.
 *
 * Public: http_client_new, http_client_for, http_client_free, http_perform,
 *         http_response_header, http_response_clear, http_outcome,
 *         http_retry_after, HTTP_MAX_HEADERS.
 */
#ifndef CRM_HTTP_H
#define CRM_HTTP_H

#include <glib.h>

#include "connector.h"
#include "limiter.h"

#define HTTP_MAX_HEADERS 100
#define HTTP_ERROR_EXCERPT 512

typedef struct http_client http_client;

typedef struct http_client_opts {
	const char *ca_file;     /* NULL: the system's CAs */
	int timeout;             /* s for a whole request */
	int connect_timeout;     /* s */
	gsize max_response;      /* bytes of body */
	const char *user_agent;
	crm_limiter *limiter;    /* every request waits on it; NULL: none */
} http_client_opts;

typedef struct http_request {
	const char *method;      /* GET, POST, PATCH, PUT, DELETE */
	const char *url;
	const char *const *headers;   /* "Name: value", NULL-terminated, or NULL */
	const void *body;
	gsize body_len;
} http_request;

typedef struct http_response {
	long status;             /* HTTP status; 0: no answer (see error) */
	GByteArray *body;        /* always set after http_perform */
	GPtrArray *headers;      /* char * "name: value", names lower-case */
	char *error;             /* transport failure, or NULL */
	gboolean timed_out;
	int paused;              /* s: not sent, the profile is paused (Retry-After) */
} http_response;

http_client *http_client_new(const http_client_opts *opts, GError **err);
/* The client a connector opens with: its profile's CA file, timeouts and
 * answer limit, the profile's limiter, and our User-Agent. */
http_client *http_client_for(const conn_env *env, GError **err);
http_client *http_client_free(http_client *c);
/* Perform rq; FALSE (rs->error set) when no HTTP answer came. */
gboolean http_perform(http_client *c, const http_request *rq, http_response *rs);
/* The value of the first header called name (case ignored), or NULL. */
const char *http_response_header(const http_response *rs, const char *name);
void http_response_clear(http_response *rs);
/* Seconds Retry-After asks for (now: unix seconds, for HTTP dates), or -1. */
int http_retry_after(const http_response *rs, gint64 now);
/* Set res from rs as the table above says; what names the call in errors. */
void http_outcome(const http_response *rs, const char *what, gint64 now, conn_result *res);

#endif

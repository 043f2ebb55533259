/*
 * crm/http.c - the connectors' HTTP client on libcurl (see http.h).
 */
#include "buildconf.h"
#include <string.h>
#include <curl/curl.h>

#include "http.h"

#define RETRY_AFTER_MAX 86400
#define HEADER_LINE_MAX 8192

/* Longest a request waits for its turn (rate, pause) before giving up. */
#define LIMITER_MAX_WAIT_MS 30000

struct http_client {
	CURL *curl;
	gsize max_response;
	crm_limiter *limiter;
};

/* Where the callbacks write. */
typedef struct sink {
	http_response *rs;
	gsize max;
	gboolean too_big;
	gboolean once;          /* not GET: never sent twice by libcurl itself */
	int sends;
} sink;

/* libcurl sends a request again on its own when a reused connection dies
 * before the answer ("Connection died, retrying a fresh connect"), and the
 * server may have acted on the first one: for anything but GET that second
 * send is refused (the call fails with no answer), so the connector's own
 * idempotency (records, de-dup queries) decides, not a blind re-POST. */
static int
on_prereq(void *user, char *ip, char *local_ip, int remote_port, int local_port)
{
	sink *s = user;

	(void)ip;
	(void)local_ip;
	(void)remote_port;
	(void)local_port;
	return s->once && s->sends++ > 0 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

/* curl_global_init once per process (it is not thread-safe). */
static gpointer
global_init(gpointer data)
{
	(void)data;
	return GINT_TO_POINTER(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
}

/* A client with its own connection cache. */
http_client *
http_client_new(const http_client_opts *opts, GError **err)
{
	static GOnce once = G_ONCE_INIT;
	http_client *c;

	if (!GPOINTER_TO_INT(g_once(&once, global_init, NULL))) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "libcurl failed to initialise");
		return NULL;
	}
	c = g_new0(http_client, 1);
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		g_free(c);
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "libcurl: no handle");
		return NULL;
	}
	c->max_response = opts->max_response;
	c->limiter = opts->limiter;
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (opts->ca_file != NULL)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, opts->ca_file);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)opts->timeout);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, (long)opts->connect_timeout);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, opts->user_agent != NULL ?
	    opts->user_agent : "crm-milter");
	curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
	return c;
}

/* A connector's client, from its profile. */
http_client *
http_client_for(const conn_env *env, GError **err)
{
	const crm_profile *p = env->profile;
	http_client_opts o = {
		.ca_file = p->ca_file,
		.timeout = p->timeout,
		.connect_timeout = p->connect_timeout,
		.max_response = (gsize)p->max_response_size,
		.user_agent = "crm-milter/" PACKAGE_VERSION,
		.limiter = env->limiter,
	};

	return http_client_new(&o, err);
}

/* Free a client. */
http_client *
http_client_free(http_client *c)
{
	if (c == NULL)
		return NULL;
	curl_easy_cleanup(c->curl);
	g_free(c);
	return NULL;
}

/* Body bytes: kept up to the limit, then the transfer is stopped. */
static size_t
on_body(char *data, size_t size, size_t n, void *user)
{
	sink *s = user;
	gsize len = size * n;

	if (s->rs->body->len + len > s->max) {
		s->too_big = TRUE;
		return 0;
	}
	g_byte_array_append(s->rs->body, (const guint8 *)data, (guint)len);
	return len;
}

/* One header line: "name: value" kept (name lower-cased), bounded. */
static size_t
on_header(char *data, size_t size, size_t n, void *user)
{
	sink *s = user;
	gsize len = size * n;
	const char *colon;

	/* a new status line (100 Continue, then the answer) starts afresh */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		g_ptr_array_set_size(s->rs->headers, 0);
		return len;
	}
	colon = memchr(data, ':', len);
	if (colon == NULL || len > HEADER_LINE_MAX)
		return len;
	if (s->rs->headers->len >= HTTP_MAX_HEADERS) {
		s->too_big = TRUE;
		return 0;
	}
	char *name = g_ascii_strdown(data, colon - data);
	char *value = g_strstrip(g_strndup(colon + 1, len - (gsize)(colon + 1 - data)));
	g_ptr_array_add(s->rs->headers, g_strdup_printf("%s: %s", name, value));
	g_free(name);
	g_free(value);
	return len;
}

/* Perform one request. */
gboolean
http_perform(http_client *c, const http_request *rq, http_response *rs)
{
	struct curl_slist *hdrs = NULL;
	sink s = { rs, c->max_response, FALSE, strcmp(rq->method, "GET") != 0, 0 };
	CURLcode rc;

	memset(rs, 0, sizeof(*rs));
	rs->body = g_byte_array_new();
	rs->headers = g_ptr_array_new_with_free_func(g_free);
	if (!limiter_wait(c->limiter, LIMITER_MAX_WAIT_MS, &rs->paused)) {
		rs->error = g_strdup_printf("not sent: the profile is paused for %d s (Retry-After)",
		    rs->paused);
		return FALSE;
	}
	for (const char *const *h = rq->headers; h != NULL && *h != NULL; h++)
		hdrs = curl_slist_append(hdrs, *h);
	/* no "Expect: 100-continue" round trip */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c->curl, CURLOPT_URL, rq->url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, rq->body != NULL ? rq->body : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		if (strcmp(rq->method, "POST") != 0)
			curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &s);
	curl_easy_setopt(c->curl, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(c->curl, CURLOPT_PREREQDATA, &s);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdrs);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	if (rc != CURLE_OK) {
		rs->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
		rs->error = s.too_big ? g_strdup_printf("the answer is larger than %" G_GSIZE_FORMAT
		    " bytes (or has more than %d headers)", s.max, HTTP_MAX_HEADERS) :
		    s.sends > 1 ? g_strdup("the connection died with no answer (not sent again)") :
		    g_strdup(curl_easy_strerror(rc));
		rs->status = 0;
		return FALSE;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &rs->status);
	/* the whole profile waits as long as the CRM asks */
	if (rs->status == 429 || rs->status == 503)
		limiter_pause(c->limiter, http_retry_after(rs, g_get_real_time() / G_USEC_PER_SEC));
	return TRUE;
}

/* The first header called name. */
const char *
http_response_header(const http_response *rs, const char *name)
{
	gsize n = strlen(name);

	for (guint i = 0; rs->headers != NULL && i < rs->headers->len; i++) {
		const char *h = g_ptr_array_index(rs->headers, i);
		if (g_ascii_strncasecmp(h, name, n) == 0 && h[n] == ':')
			return h + n + 2;
	}
	return NULL;
}

/* Free what http_perform filled in. */
void
http_response_clear(http_response *rs)
{
	if (rs->body != NULL)
		g_byte_array_unref(rs->body);
	if (rs->headers != NULL)
		g_ptr_array_unref(rs->headers);
	g_free(rs->error);
	memset(rs, 0, sizeof(*rs));
}

/* Retry-After in seconds from now, or -1. */
int
http_retry_after(const http_response *rs, gint64 now)
{
	const char *v = http_response_header(rs, "retry-after");
	guint64 secs;
	time_t when;

	if (v == NULL || *v == '\0')
		return -1;
	if (g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT64, &secs, NULL))
		return (int)MIN(secs, (guint64)RETRY_AFTER_MAX);
	when = curl_getdate(v, NULL);
	if (when == (time_t)-1)
		return -1;
	return when <= now ? 0 : (int)MIN((gint64)when - now, (gint64)RETRY_AFTER_MAX);
}

/* The body's first bytes, fit for a log line. */
static char *
excerpt(const http_response *rs)
{
	gsize n = MIN(rs->body->len, HTTP_ERROR_EXCERPT);
	char *s = n > 0 ? g_utf8_make_valid((const char *)rs->body->data, (gssize)n) : g_strdup("");

	for (char *p = s; *p != '\0'; p++)
		if ((guchar)*p < 0x20)
			*p = ' ';
	return s;
}

/* What the flusher does after this answer. */
void
http_outcome(const http_response *rs, const char *what, gint64 now, conn_result *res)
{
	char *text;

	g_clear_pointer(&res->error, g_free);
	res->retry_after = -1;
	res->no_attempt = FALSE;
	if (rs->paused > 0) {
		res->status = CONN_RETRY;
		res->retry_after = rs->paused;
		res->no_attempt = TRUE;
		res->error = g_strdup_printf("%s: %s", what, rs->error);
		return;
	}
	if (rs->status == 0) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("%s: %s", what, rs->error != NULL ? rs->error : "no answer");
		return;
	}
	if (rs->status >= 200 && rs->status < 300) {
		res->status = CONN_OK;
		return;
	}
	text = excerpt(rs);
	res->error = g_strdup_printf("%s: HTTP %ld: %s", what, rs->status, text);
	g_free(text);
	if (rs->status == 429 || rs->status == 503) {
		res->status = CONN_RETRY;
		res->retry_after = http_retry_after(rs, now);
	} else if (rs->status == 408 || rs->status >= 500) {
		res->status = CONN_RETRY;
	} else {
		res->status = CONN_PERMANENT;
	}
}

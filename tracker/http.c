/*
 * http.c - crm-tracker's request handling on libmicrohttpd: routing,
 * limits, token verification, the answers, and the events handed to the
 * recorder. See http.h for what each path answers.
 *
 * The fixed answers (pixel, 404, 405, 414, 431, health) are made once and
 * queued by every request (libmicrohttpd responses are reference counted
 * and may be queued from several threads); only a redirect is made per
 * request, for its Location.
 *
 * SECURITY: the request path is verified by token_verify_path alone, on
 * the path libmicrohttpd parsed (no query string); a redirect only ever
 * goes to the target the token's MAC binds.
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>
#include <microhttpd.h>

#include "client_addr.h"
#include "deadline.h"
#include "http.h"
#include "log.h"


/* The 1x1 transparent GIF (GIF89a, one palette entry, transparent). */
static const unsigned char pixel_gif[] = {
	'G', 'I', 'F', '8', '9', 'a', 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00,
	0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00,
	0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
	0x02, 0x02, 0x44, 0x01, 0x00, 0x3b
};

static const char body_404[] = "not found\n";
static const char body_405[] = "method not allowed\n";
static const char body_414[] = "request path too long\n";
static const char body_431[] = "too many header fields\n";
static const char body_ok[] = "ok\n";

struct tracker_http {
	struct MHD_Daemon *daemon;
	snap_holder *snaps;
	recorder *rec;
	deadline *dl;                    /* connection_timeout per request */
	struct MHD_Response *pixel, *not_found, *not_allowed, *too_long, *too_many, *health;
};

/* libmicrohttpd's own messages, into our log. */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char *msg = g_strdup_vprintf(fmt, ap);

	log_msg(CRM_LOG_INFO, NULL, "http: %s", g_strchomp(msg));
	g_free(msg);
}

/* A fixed response: body (static), content type, no caching. */
static struct MHD_Response *
fixed_response(const void *body, size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_PERSISTENT);

	if (r == NULL)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return r;
}

/* The pixel's response: the GIF and every header that stops caching. */
static struct MHD_Response *
pixel_response(void)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(pixel_gif),
	    (void *)pixel_gif, MHD_RESPMEM_PERSISTENT);

	if (r == NULL)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "image/gif");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store, no-cache, must-revalidate, private");
	MHD_add_response_header(r, MHD_HTTP_HEADER_PRAGMA, "no-cache");
	MHD_add_response_header(r, MHD_HTTP_HEADER_EXPIRES, "0");
	return r;
}

/* ------------------------------------------------------------ the client */

/* The textual address of sa (new string), or NULL. */
static char *
sockaddr_text(const struct sockaddr *sa)
{
	char buf[INET6_ADDRSTRLEN];
	const void *bytes;

	if (sa == NULL)
		return NULL;
	if (sa->sa_family == AF_INET)
		bytes = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		bytes = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		return NULL;
	if (inet_ntop(sa->sa_family, bytes, buf, sizeof(buf)) == NULL)
		return NULL;
	/* dual-stack sockets show IPv4 clients as ::ffff:a.b.c.d */
	if (g_str_has_prefix(buf, "::ffff:") && strchr(buf, '.') != NULL)
		return g_strdup(buf + 7);
	return g_strdup(buf);
}

/* Append one X-Forwarded-For field to the GString in cls. */
static enum MHD_Result
add_xff(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	GString *all = cls;

	(void)kind;
	if (key != NULL && value != NULL && g_ascii_strcasecmp(key, "X-Forwarded-For") == 0) {
		if (all->len > 0)
			g_string_append_c(all, ',');
		g_string_append(all, value);
	}
	return MHD_YES;
}

/* The client's address: the peer, or behind a trusted proxy the last
 * X-Forwarded-For hop that is not a trusted proxy (client_addr.h). Every
 * X-Forwarded-For field counts, in order: a proxy may append its own
 * field instead of extending the client's. */
static char *
client_address(struct MHD_Connection *conn, const crm_config *cfg)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char *peer = sockaddr_text(ci != NULL ? ci->client_addr : NULL), *out;
	GString *xff;

	if (cfg->tracker.trusted_proxies->len == 0)
		return peer;
	xff = g_string_new(NULL);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_xff, xff);
	out = client_addr_resolve(peer, xff->len > 0 ? xff->str : NULL, cfg->tracker.trusted_proxies);
	g_string_free(xff, TRUE);
	g_free(peer);
	return out;
}

/* The User-Agent, cut to ENGAGEMENT_UA_MAX bytes and made valid UTF-8 (new), or NULL. */
static char *
user_agent(struct MHD_Connection *conn)
{
	const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_USER_AGENT);

	if (ua == NULL)
		return NULL;
	return g_utf8_make_valid(ua, (gssize)MIN(strlen(ua), ENGAGEMENT_UA_MAX));
}

/* ------------------------------------------------------------ answers */

/* Hand a verified request to the recorder. */
static void
record(tracker_http *h, struct MHD_Connection *conn, const crm_config *cfg,
    token_info *info, gboolean head)
{
	rec_event *ev = g_new0(rec_event, 1);

	ev->kind = info->kind == TOKEN_CLICK ? ENG_CLICKED : ENG_OPENED;
	ev->head = head;
	memcpy(ev->id, info->id, TOKEN_ID_LEN);
	ev->link = info->link;
	ev->target = g_strdup(info->target);
	ev->user_agent = user_agent(conn);
	ev->client_ip = client_address(conn, cfg);
	ev->at_us = g_get_real_time();
	recorder_add(h->rec, ev);
}

/* 302 to target. */
static enum MHD_Result
redirect(struct MHD_Connection *conn, const char *target)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, target) != MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store, private");
	ret = MHD_queue_response(conn, MHD_HTTP_FOUND, r);
	MHD_destroy_response(r);
	return ret;
}

/* A tracking path: verify, record, answer. */
static enum MHD_Result
tracking(tracker_http *h, struct MHD_Connection *conn, const tracker_snap *snap,
    const char *url, gboolean head)
{
	token_info info;
	enum MHD_Result ret;

	memset(&info, 0, sizeof(info));
	if (!token_verify_path(snap->ring, url, &info))
		return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, h->not_found);
	record(h, conn, snap->cfg, &info, head);
	if (info.kind == TOKEN_CLICK)
		ret = redirect(conn, info.target);
	else
		ret = MHD_queue_response(conn, MHD_HTTP_OK, h->pixel);
	token_info_clear(&info);
	return ret;
}

/* libmicrohttpd's access handler: every request comes here. */
static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **req)
{
	static int seen;                 /* marks a request whose headers were seen */
	tracker_http *h = cls;
	gboolean head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	tracker_snap *snap;
	enum MHD_Result ret;

	if (*req == NULL)
		deadline_seen(h->dl, conn);  /* the request is in: its clock stops */
	if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, h->not_allowed);
	if (*req == NULL) {
		*req = &seen;                /* answer once the request is complete */
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;       /* a GET with a body: ignore it */
		return MHD_YES;
	}
	snap = snap_holder_get(h->snaps);
	if (strlen(url) > (size_t)snap->cfg->tracker.max_url_length)
		ret = MHD_queue_response(conn, MHD_HTTP_URI_TOO_LONG, h->too_long);
	else if (MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL) >
	    snap->cfg->tracker.max_headers)
		ret = MHD_queue_response(conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, h->too_many);
	else if (strcmp(url, "/healthz") == 0)
		ret = MHD_queue_response(conn, MHD_HTTP_OK, h->health);
	else if (g_str_has_prefix(url, "/o/") || g_str_has_prefix(url, "/c/"))
		ret = tracking(h, conn, snap, url, head);
	else
		ret = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, h->not_found);
	snap_unref(snap);
	return ret;
}

/* ------------------------------------------------------------ start, stop */

/* Drop the fixed responses. */
static void
free_responses(tracker_http *h)
{
	struct MHD_Response **all[] = { &h->pixel, &h->not_found, &h->not_allowed,
	    &h->too_long, &h->too_many, &h->health };

	for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
		if (*all[i] != NULL) {
			MHD_destroy_response(*all[i]);
			*all[i] = NULL;
		}
}

/* Start serving listen_fd; see http.h. */
tracker_http *
tracker_http_start(int listen_fd, const crm_config *cfg, snap_holder *snaps, recorder *rec,
    GError **err)
{
	tracker_http *h = g_new0(tracker_http, 1);
	const crm_tracker *t = &cfg->tracker;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)deadline_notify, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)deadline_completed, NULL },
		{ MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, t->max_connections, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, t->per_ip_connections, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, t->connection_timeout, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)t->max_request_size, NULL },
		{ MHD_OPTION_THREAD_POOL_SIZE, t->threads > 1 ? t->threads : 1, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};

	h->snaps = snaps;
	h->rec = rec;
	h->dl = deadline_new(t->connection_timeout);
	opts[1].ptr_value = h->dl;
	opts[2].ptr_value = h->dl;
	h->pixel = pixel_response();
	h->not_found = fixed_response(body_404, strlen(body_404), "text/plain");
	h->not_allowed = fixed_response(body_405, strlen(body_405), "text/plain");
	h->too_long = fixed_response(body_414, strlen(body_414), "text/plain");
	h->too_many = fixed_response(body_431, strlen(body_431), "text/plain");
	h->health = fixed_response(body_ok, strlen(body_ok), "text/plain");
	if (h->not_allowed != NULL)
		MHD_add_response_header(h->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (t->threads == 0)
		flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	else
		flags |= MHD_USE_EPOLL;
	if (h->pixel == NULL || h->not_found == NULL || h->not_allowed == NULL ||
	    h->too_long == NULL || h->too_many == NULL || h->health == NULL)
		h->daemon = NULL;
	else
		h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, answer, h,
		    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (h->daemon == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED,
		    "cannot start the HTTP server (libmicrohttpd)");
		free_responses(h);
		deadline_free(h->dl);
		close(listen_fd);
		g_free(h);
		return NULL;
	}
	return h;
}

/* Stop serving and free. */
tracker_http *
tracker_http_stop(tracker_http *h)
{
	if (h == NULL)
		return NULL;
	MHD_stop_daemon(h->daemon);     /* waits for the requests; closes the socket */
	h->dl = deadline_free(h->dl);   /* after: every connection is closed */
	free_responses(h);
	g_free(h);
	return NULL;
}

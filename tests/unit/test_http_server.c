/*
 * test_http_server.c - the connector tests' HTTP server (see
 * test_http_server.h).
 */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include "test_http_server.h"

/* Keep one request header. */
static enum MHD_Result
keep_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	GPtrArray *h = cls;
	char *low = g_ascii_strdown(key, -1);

	(void)kind;
	g_ptr_array_add(h, g_strdup_printf("%s: %s", low, value != NULL ? value : ""));
	g_free(low);
	return MHD_YES;
}

/* Keep one query argument, as name=value&... */
static enum MHD_Result
keep_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	GString *q = cls;

	(void)kind;
	g_string_append_printf(q, "%s%s=%s", q->len > 0 ? "&" : "", key, value != NULL ? value : "");
	return MHD_YES;
}

/* Accumulate the body; answer once it is all in. */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
	test_http *s = cls;
	GString *body = *con_cls, *query;
	struct MHD_Response *r;
	enum MHD_Result ret;
	test_answer a, *queued;
	char **lines;

	(void)version;
	if (body == NULL) {
		*con_cls = g_string_new(NULL);
		return MHD_YES;
	}
	if (*upload_len > 0) {
		g_string_append_len(body, upload, (gssize)*upload_len);
		*upload_len = 0;
		return MHD_YES;
	}
	g_mutex_lock(&s->lock);
	s->requests++;
	g_free(s->method);
	s->method = g_strdup(method);
	g_free(s->path);
	s->path = g_strdup(url);
	query = g_string_new(NULL);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, keep_arg, query);
	g_free(s->query);
	s->query = g_string_free(query, FALSE);
	g_ptr_array_set_size(s->headers, 0);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, keep_header, s->headers);
	g_string_assign(s->body, body->str);
	g_ptr_array_add(s->log, g_strdup_printf("%s %s%s%s\n%s", method, url, s->query[0] != '\0' ? "?" : "",
	    s->query, body->str));
	queued = g_queue_pop_head(s->queue);
	a = queued != NULL ? *queued : s->answer;
	lines = g_strsplit(a.headers != NULL ? a.headers : "", "\n", -1);
	char *text = g_strdup(a.body != NULL ? a.body : "");
	g_mutex_unlock(&s->lock);
	if (a.delay_ms > 0)
		g_usleep(a.delay_ms * 1000);
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	for (char **l = lines; *l != NULL; l++) {
		char *colon = strchr(*l, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		MHD_add_response_header(r, *l, g_strstrip(colon + 1));
	}
	g_strfreev(lines);
	g_free(queued);
	ret = MHD_queue_response(conn, a.status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Free the per-request body. */
static void
done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
	(void)cls; (void)conn; (void)t;
	if (*con_cls != NULL)
		g_string_free(*con_cls, TRUE);
	*con_cls = NULL;
}

/* Start a server on a free port of 127.0.0.1. */
test_http *
test_http_start(void)
{
	test_http *s = g_new0(test_http, 1);
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_mutex_init(&s->lock);
	s->queue = g_queue_new();
	s->headers = g_ptr_array_new_with_free_func(g_free);
	s->body = g_string_new(NULL);
	s->log = g_ptr_array_new_with_free_func(g_free);
	s->answer.status = 200;
	s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
	    0, NULL, NULL, handle, s, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
	    MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
	g_assert(s->daemon != NULL);
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info->port;
	s->base = g_strdup_printf("http://127.0.0.1:%u", s->port);
	return s;
}

/* Stop and free. */
void
test_http_stop(test_http *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->daemon);
	g_queue_free_full(s->queue, g_free);
	g_ptr_array_unref(s->headers);
	g_string_free(s->body, TRUE);
	g_ptr_array_unref(s->log);
	g_free(s->method);
	g_free(s->path);
	g_free(s->query);
	g_free(s->base);
	g_mutex_clear(&s->lock);
	g_free(s);
}

/* A header of the last request. */
const char *
test_http_header(test_http *s, const char *name)
{
	gsize n = strlen(name);

	for (guint i = 0; i < s->headers->len; i++) {
		const char *h = g_ptr_array_index(s->headers, i);
		if (g_ascii_strncasecmp(h, name, n) == 0 && h[n] == ':')
			return h + n + 2;
	}
	return NULL;
}

/* Queue one answer. */
void
test_http_push(test_http *s, const test_answer *a)
{
	g_mutex_lock(&s->lock);
	g_queue_push_tail(s->queue, g_memdup2(a, sizeof(*a)));
	g_mutex_unlock(&s->lock);
}

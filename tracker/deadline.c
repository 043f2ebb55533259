/*
 * deadline.c - close connections that take too long to send a request.
 * See deadline.h.
 */
#include <sys/socket.h>

#include "deadline.h"
#include "log.h"

#define SWEEP_US (G_USEC_PER_SEC / 2)   /* how often the sweeper looks */

/* One connection (its libmicrohttpd socket context). */
typedef struct watch {
	int fd;
	gint64 since;            /* waiting for a request since (monotonic us); 0: not */
} watch;

struct deadline {
	gint64 limit_us;
	GMutex lock;
	GCond wake;
	GHashTable *watches;     /* watch * (owned) */
	gboolean stop;
	GThread *thread;
};

/* Shut down the sockets whose request is overdue. */
static gpointer
sweeper(gpointer data)
{
	deadline *d = data;
	GHashTableIter it;
	gpointer key;

	g_mutex_lock(&d->lock);
	while (!d->stop) {
		gint64 now = g_get_monotonic_time();
		guint closed = 0;

		g_hash_table_iter_init(&it, d->watches);
		while (g_hash_table_iter_next(&it, &key, NULL)) {
			watch *w = key;
			if (w->since > 0 && now - w->since > d->limit_us) {
				/* libmicrohttpd says "closed" (and drops the watch,
				 * under this lock) before it closes the descriptor,
				 * so it is still this connection's */
				(void)shutdown(w->fd, SHUT_RDWR);
				w->since = 0;
				closed++;
			}
		}
		if (closed > 0)
			log_msg(CRM_LOG_INFO, NULL, "http: closed %u connection(s) that took over %" G_GINT64_FORMAT
			    " s to send a request", closed, d->limit_us / G_USEC_PER_SEC);
		g_cond_wait_until(&d->wake, &d->lock, g_get_monotonic_time() + SWEEP_US);
	}
	g_mutex_unlock(&d->lock);
	return NULL;
}

/* Start the sweeper. */
deadline *
deadline_new(int seconds)
{
	deadline *d = g_new0(deadline, 1);

	d->limit_us = (gint64)MAX(seconds, 1) * G_USEC_PER_SEC;
	g_mutex_init(&d->lock);
	g_cond_init(&d->wake);
	d->watches = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_free, NULL);
	d->thread = g_thread_new("deadline", sweeper, d);
	return d;
}

/* Stop the sweeper and free. */
deadline *
deadline_free(deadline *d)
{
	if (d == NULL)
		return NULL;
	g_mutex_lock(&d->lock);
	d->stop = TRUE;
	g_cond_signal(&d->wake);
	g_mutex_unlock(&d->lock);
	g_thread_join(d->thread);
	g_hash_table_unref(d->watches);
	g_cond_clear(&d->wake);
	g_mutex_clear(&d->lock);
	g_free(d);
	return NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION: watch a new connection, drop a closed one. */
void
deadline_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	deadline *d = cls;
	const union MHD_ConnectionInfo *ci;
	watch *w;

	g_mutex_lock(&d->lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED &&
	    (ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL) {
		w = g_new0(watch, 1);
		w->fd = ci->connect_fd;
		w->since = g_get_monotonic_time();
		g_hash_table_add(d->watches, w);
		*socket_context = w;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL) {
		g_hash_table_remove(d->watches, *socket_context);   /* frees it */
		*socket_context = NULL;
	}
	g_mutex_unlock(&d->lock);
}

/* Set conn's clock: since, or 0 to stop it. */
static void
set_since(deadline *d, struct MHD_Connection *conn, gint64 since)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	g_mutex_lock(&d->lock);
	if (ci != NULL && ci->socket_context != NULL &&
	    g_hash_table_contains(d->watches, ci->socket_context))
		((watch *)ci->socket_context)->since = since;
	g_mutex_unlock(&d->lock);
}

/* MHD_OPTION_NOTIFY_COMPLETED: answered; the next request's clock starts. */
void
deadline_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)con_cls;
	(void)toe;
	set_since(cls, conn, g_get_monotonic_time());
}

/* See deadline.h. */
void
deadline_seen(deadline *d, struct MHD_Connection *conn)
{
	set_since(d, conn, 0);
}

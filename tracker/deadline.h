/*
 * deadline.h - the time a connection has to send each request.
 *
 * libmicrohttpd's connection_timeout counts idle time: every byte starts
 * it again, so a client sending a header line every few seconds keeps a
 * connection (and its share of max_connections and per_ip_connections)
 * for as long as it likes. A deadline closes any connection that has
 * been waiting for a complete request line and headers for longer than
 * its limit: from when it was accepted, or from when the previous
 * request on it was answered. A sweeper thread looks twice a second and
 * shuts the socket down (shutdown(2), not close: libmicrohttpd still owns
 * the descriptor and closes it when it sees the end).
 *
 * Hooks, all given the deadline as their cls or argument:
 *   deadline_notify     MHD_OPTION_NOTIFY_CONNECTION (start and close)
 *   deadline_completed  MHD_OPTION_NOTIFY_COMPLETED (a request answered)
 *   deadline_seen       the access handler, on a complete request
 *
 * Ownership: deadline_new starts the thread; deadline_free (NULL-safe,
 * returns NULL) stops it, and must come after MHD_stop_daemon.
 * Thread-safe: one mutex guards the connections.
 *
 * Public: deadline_new, deadline_free, deadline_notify, deadline_completed,
 *         deadline_seen.
 */
#ifndef CRM_TRACKER_DEADLINE_H
#define CRM_TRACKER_DEADLINE_H

#include <glib.h>
#include <microhttpd.h>

typedef struct deadline deadline;

/* A deadline of seconds per request (>= 1). */
deadline *deadline_new(int seconds);
deadline *deadline_free(deadline *d);

void deadline_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe);
void deadline_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe);
/* A complete request arrived on conn: its clock stops until answered. */
void deadline_seen(deadline *d, struct MHD_Connection *conn);

#endif

/*
 * http.h - crm-tracker's HTTP side (libmicrohttpd): the pixel, the signed
 * links, the health check, and the limits on what a client may send.
 *
 *   GET /o/{token}.gif      200, a 1x1 transparent GIF, never cached;
 *                           records an open
 *   GET /c/{token}/{target} 302 to the URL the token binds; records a click
 *   GET /healthz            200 "ok"
 *   anything else, and every token that does not verify (forged,
 *   truncated, unknown key): 404, nothing recorded
 * HEAD is answered as GET without the body; its events are recorded and
 * judged a machine's. Other methods: 405. A path longer than tracker {
 * max_url_length }: 414; more header fields than max_headers: 431;
 * requests that do not fit max_request_size are refused by the library
 * (414 or 431). Connections: max_connections in all, per_ip_connections
 * from one address, connection_timeout seconds idle or to send a request
 * (deadline.h).
 *
 * Threads: tracker { threads } polling threads sharing the connections
 * (epoll), or 0 for a thread per connection. Requests read the reloadable
 * state (key ring, trusted proxies, limits on the path and headers) from
 * the snapshot holder; the connection limits and threads are fixed at
 * start.
 *
 * Ownership: tracker_http_start borrows snaps and rec (they must outlive
 * the server) and takes over listen_fd; tracker_http_stop closes it and
 * frees (NULL-safe, returns NULL) after the last request has finished.
 *
 * SECURITY: runs as milter { user }; the listening socket is made by the
 * caller before privileges are dropped. Never redirects anywhere but to
 * the URL a valid token binds (no open redirect). Does not read request
 * bodies.
 *
 * Public: tracker_http_start, tracker_http_stop.
 */
#ifndef CRM_TRACKER_HTTP_H
#define CRM_TRACKER_HTTP_H

#include <glib.h>
#include "recorder.h"
#include "snap.h"

typedef struct tracker_http tracker_http;

tracker_http *tracker_http_start(int listen_fd, const crm_config *cfg, snap_holder *snaps,
    recorder *rec, GError **err);
tracker_http *tracker_http_stop(tracker_http *h);

#endif

/*
 * client_addr.h - the address of an HTTP client that may be behind
 * trusted reverse proxies (X-Forwarded-For), for crm-tracker. Pure: no
 * I/O, no libmicrohttpd.
 *
 * The client is the connection's peer, unless the peer is in one of the
 * trusted proxy networks: then it is the rightmost X-Forwarded-For hop
 * that is not itself a trusted proxy (each proxy appends the address it
 * saw, so everything left of the last trusted hop could be written by the
 * client). A hop is an IPv4 or IPv6 address, with or without a port
 * ("192.0.2.1:4711", "[2001:db8::1]:443", "[2001:db8::1]"). A hop that is
 * none of these ("unknown", a name, garbage) stops the walk: the client is
 * then the last address accepted, a trusted proxy. So is it when more
 * than CLIENT_ADDR_HOPS hops, from the right, are all trusted.
 *
 * Public: client_addr_trusted, client_addr_resolve.
 * Ownership: strings returned are new (g_free); arguments are borrowed.
 */
#ifndef CRM_CLIENT_ADDR_H
#define CRM_CLIENT_ADDR_H

#include <glib.h>

#define CLIENT_ADDR_HOPS 64

/* Is the textual address in one of proxies (GInetAddressMask *)? */
gboolean client_addr_trusted(const GPtrArray *proxies, const char *addr);

/* The client's address (see above). peer: the connection's textual
 * address (NULL when unknown: NULL back). xff: every X-Forwarded-For
 * field of the request in order, joined with ","; NULL when none. */
char *client_addr_resolve(const char *peer, const char *xff, const GPtrArray *proxies);

#endif

/*
 * url_norm.h - what a browser opens for an http(s) link, as one ASCII URL:
 * the part of the WHATWG URL parser that matters for signing a redirect
 * target (the tracker must send the reader exactly where the browser
 * would have gone).
 *
 * From the decoded attribute value: leading and trailing C0 controls and
 * blanks trimmed, tabs and newlines removed anywhere; scheme http or https
 * in any case (anything else is not ours); any run of '/' or '\' after
 * the scheme; userinfo kept; host percent-decoded, IDNA to punycode and
 * lower-cased, IPv6 literals kept; a port of digits kept (an empty one
 * dropped); '\' in the path read as '/'; controls, blanks, non-ASCII and
 * the characters a browser escapes percent-encoded (path as UTF-8, query
 * in the document's charset as browsers do, UTF-8 when it cannot be
 * represented); existing %XX kept as written; an empty path becomes "/".
 *
 * Ownership: returned strings are new (g_free).
 *
 * Public: url_norm_http, url_norm_host.
 */
#ifndef CRM_URL_NORM_H
#define CRM_URL_NORM_H

#include <glib.h>

#define URL_NORM_MAX (16 * 1024)   /* bytes of input looked at, at most */

/* The URL for an href; NULL when it is not http(s) (*valid TRUE) or is
 * http(s) but unusable: no host, bad port, bad host, too long (*valid
 * FALSE). charset: the document's (for the query); NULL for UTF-8. */
char *url_norm_http(const char *url, const char *charset, gboolean *valid);
/* A host h[0..n) as a browser has it (see above); NULL if it cannot be. */
char *url_norm_host(const char *h, gsize n);

#endif

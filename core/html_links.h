/*
 * html_links.h - the HTML tokenizer seam of link rewriting: given one
 * decoded HTML buffer (UTF-8), find every link a reader could follow, say
 * for each whether it is to be tracked or why not, and where the open
 * pixel goes. It reports byte offsets into the buffer, so the caller edits
 * in place instead of re-serialising the document.
 *
 * This is the only file that includes the tokenizer's headers (myhtml from
 * Modest, a WHATWG-conformant tokenizer that reports raw source offsets and
 * runs with tree building off, see LIBRARY-NOTES.md); swapping it for
 * lexbor means rewriting html_links.c only.
 *
 * What is a link: href of <a> and <area>, and, inside Outlook conditional
 * comments (<!--[if mso]> ... <![endif]-->, any condition that names mso
 * and is not negated), href of <a>, <area> and of VML elements (v:roundrect
 * and every other v:*): the comment's text is tokenized as HTML in a second
 * pass and its offsets shifted back into the buffer. Start tags cut off by
 * the end of the buffer are not links (a browser drops them too).
 * "<![CDATA[" is read as a bogus comment: myhtml crashes on it with tree
 * building off, so it is given a copy where it cannot match (see
 * defuse_cdata); in HTML content a browser reads it the same way.
 *
 * Verdicts, first match wins: not http(s) once parsed (mailto:, tel:,
 * fragments, relative, javascript:, ...), data-crm-notrack present, already
 * a link to our tracker, a List-Unsubscribe target, a domain (or subdomain)
 * in exclude_domains, the URL says unsubscribe, the link's text (text
 * between the start and end tag, img alt inside it, its title) says
 * unsubscribe (English, German, French, Spanish, Dutch, Italian words).
 *
 * Old pixels: the src of every <img> that is an open pixel of our tracker
 * ({tracker}/o/...), found the way links are. In mail that quotes or
 * forwards earlier tracked mail they would count this message's readers
 * as readers of that one.
 *
 * url is the attribute value with character references decoded by the
 * tokenizer (spec rules for attributes: "&copy=" stays). target is what a
 * browser opens (url_norm_http: IDN hosts in punycode, blanks trimmed,
 * percent-encoding as a browser does it, ...).
 *
 * Ownership: a html_links_ctx (the tokenizer, kept to be reused: a fresh
 * one per document halves throughput) is the caller's, freed with
 * html_links_ctx_free (NULL-safe, returns NULL), and used by one thread at
 * a time; pass NULL to html_links_scan for a temporary one.
 * html_links_scan fills a caller-owned html_scan; release it with
 * html_links_clear. Strings returned by the other functions are new
 * (g_free). Nothing is global.
 *
 * Public: html_links_ctx_new, html_links_ctx_free, html_links_scan,
 *         html_links_clear, html_links_find (html_links.c); html_links_attr_value,
 *         html_links_attr_quoted, html_links_pixel, html_links_verdict_name
 *         (html_links_out.c).
 */
#ifndef CRM_HTML_LINKS_H
#define CRM_HTML_LINKS_H

#include <glib.h>

#include "url_norm.h"

#define HTML_LINKS_MAX 10000      /* links in one buffer, at most */
#define HTML_URL_MAX URL_NORM_MAX /* bytes of one attribute value we look at */

typedef enum {
	HTML_TRACK = 0,               /* rewrite it */
	HTML_SKIP_SCHEME,             /* not an http(s) URL */
	HTML_SKIP_INVALID,            /* http(s), but no usable host, or too long */
	HTML_SKIP_NOTRACK,            /* data-crm-notrack */
	HTML_SKIP_TRACKER,            /* already points at our tracker */
	HTML_SKIP_LIST_UNSUBSCRIBE,   /* a target of the List-Unsubscribe header */
	HTML_SKIP_EXCLUDED,           /* domain in exclude_domains */
	HTML_SKIP_UNSUBSCRIBE_URL,    /* the URL says unsubscribe */
	HTML_SKIP_UNSUBSCRIBE_TEXT    /* the link's text says unsubscribe */
} html_verdict;

typedef struct html_links_ctx html_links_ctx;

typedef struct html_link {
	gsize start, end;             /* the attribute value's bytes, no quotes */
	gsize vstart, vend;           /* the same with its quotes, if any */
	char quote;                   /* '"', '\'' or 0 for an unquoted value */
	char *tag;                    /* element name, lower case: "a", "area", "v:roundrect" */
	char *url;                    /* the value, character references decoded */
	char *target;                 /* what a browser opens; NULL unless http(s) and valid */
	gboolean vml;                 /* a VML element (v:*) */
	gboolean mso;                 /* found inside an Outlook conditional comment */
	html_verdict verdict;
} html_link;

typedef struct html_filter {
	const char *const *exclude_domains;   /* NULL-terminated, or NULL */
	const char *const *skip_urls;         /* List-Unsubscribe targets, NULL-terminated, or NULL */
	const char *tracker_url;              /* base URL of our tracker, or NULL */
	const char *charset;                  /* the document's charset (query encoding); NULL: UTF-8 */
} html_filter;

typedef struct html_scan {
	GArray *links;                /* of html_link, by start offset */
	GArray *old_pixels;           /* of html_link (tag "img", verdict HTML_SKIP_TRACKER):
	                               * src values that are open pixels of our tracker,
	                               * quoted from earlier mail; by start offset */
	gssize pixel_at;              /* where the pixel goes: the '<' of the last </body>;
	                               * with none, when the buffer ends in plain text, its
	                               * end before any final CR and LF;
	                               * -1 when it ends inside a tag, comment or script
	                               * (appended markup would not be markup) */
} html_scan;

/* A tokenizer to reuse; NULL with err if myhtml cannot start. */
html_links_ctx *html_links_ctx_new(GError **err);
html_links_ctx *html_links_ctx_free(html_links_ctx *c);
/* Tokenize html[0..len) and fill out (cleared first). ctx may be NULL (a
 * temporary tokenizer), filter too. FALSE with err when the tokenizer
 * fails or there are more than HTML_LINKS_MAX links; out is then empty. */
gboolean html_links_scan(html_links_ctx *ctx, const char *html, gsize len,
    const html_filter *filter, html_scan *out, GError **err);
/* memmem(h, n, nd, nl), faster on HTML: memchr for nd[r], a byte that
 * is rare in markup, then a compare around it. */
const char *html_links_find(const char *h, gsize n, const char *nd, gsize nl, gsize r);
/* Free what html_links_scan put in s (s itself is the caller's). */
void html_links_clear(html_scan *s);
/* The bytes that replace [start, end) of l so its value becomes url:
 * HTML-escaped for the link's quoting, with double quotes added around
 * an unquoted value. */
char *html_links_attr_value(const html_link *l, const char *url);
/* The same for [vstart, vend): always double-quoted. */
char *html_links_attr_quoted(const char *url);
/* The open pixel's markup for a pixel URL. */
char *html_links_pixel(const char *url);
const char *html_links_verdict_name(html_verdict v);

#endif

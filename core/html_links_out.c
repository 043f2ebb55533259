/*
 * html_links_out.c - the output half of html_links.h: the bytes that go
 * into the HTML in place of a link's value (escaped for its quoting),
 * the open pixel's markup, and the verdicts' names. html_links.c finds
 * and judges the links; this file writes what replaces them. No
 * tokenizer here.
 *
 * Each replacement is measured first and written into one allocation of
 * that size: a message makes one per link.
 *
 * Ownership: every string returned is new (g_free).
 *
 * Public: html_links_attr_value, html_links_attr_quoted, html_links_pixel,
 *         html_links_verdict_name.
 */
#include <string.h>
#include <glib.h>

#include "html_links.h"

/* The length of url escaped for an attribute quoted with q ('\0': double
 * quotes), and with out != NULL the escaped bytes written there. Runs
 * with nothing to escape are copied at once. */
static gsize
escape_put(char *out, const char *url, char q)
{
	const char *set = q == '\'' ? "&'" : "&\"", *p = url;
	gsize len = 0;

	for (;;) {
		gsize n = strcspn(p, set);
		const char *esc;
		if (out != NULL)
			memcpy(out + len, p, n);
		len += n;
		p += n;
		if (*p == '\0')
			return len;
		esc = *p == '&' ? "&amp;" : *p == '"' ? "&quot;" : "&#39;";
		if (out != NULL)
			memcpy(out + len, esc, strlen(esc));
		len += strlen(esc);
		p++;
	}
}

/* pre, url escaped for q, then post (pre and post may be ""); a new
 * string. */
static char *
escaped(const char *pre, const char *url, char q, const char *post)
{
	gsize a = strlen(pre), n = escape_put(NULL, url, q), b = strlen(post);
	char *out = g_malloc(a + n + b + 1);

	memcpy(out, pre, a);
	escape_put(out + a, url, q);
	memcpy(out + a + n, post, b + 1);
	return out;
}

/* The replacement for [start, end) of l: an unquoted value gets double
 * quotes. */
char *
html_links_attr_value(const html_link *l, const char *url)
{
	return l->quote == '\0' ? escaped("\"", url, '"', "\"") : escaped("", url, l->quote, "");
}

/* The replacement for [vstart, vend): double-quoted. */
char *
html_links_attr_quoted(const char *url)
{
	return escaped("\"", url, '"', "\"");
}

/* The open pixel: a 1x1 image that takes no room. */
char *
html_links_pixel(const char *url)
{
	return escaped("<img src=\"", url, '"', "\" width=\"1\" height=\"1\" alt=\"\" border=\"0\" "
	    "style=\"display:block;width:1px;height:1px;border:0;margin:0;padding:0\">");
}

/* The verdict as a word, for logs and tests. */
const char *
html_links_verdict_name(html_verdict v)
{
	static const char *const names[] = {
		"track", "scheme", "invalid", "notrack", "tracker", "list-unsubscribe",
		"excluded", "unsubscribe-url", "unsubscribe-text"
	};
	return (guint)v < G_N_ELEMENTS(names) ? names[v] : "?";
}

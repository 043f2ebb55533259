/*
 * url_norm.c - an href as a browser opens it, for http(s). See url_norm.h.
 */
#include <string.h>
#include <gio/gio.h>

#include "url_norm.h"

/* Append s[0..n) to out, percent-encoding controls, blanks, non-ASCII
 * and the bytes of set (runs of plain bytes are copied at once). */
static void
pct_append(GString *out, const char *s, gsize n, const char *set)
{
	static const char hex[] = "0123456789ABCDEF";
	gsize i, run = 0;

	for (i = 0; i < n; i++) {
		guchar c = (guchar)s[i];
		if (c > 0x20 && c < 0x7f && (c == '%' || g_ascii_isalnum(c) || strchr(set, c) == NULL))
			continue;
		g_string_append_len(out, s + run, i - run);
		g_string_append_c(out, '%');
		g_string_append_c(out, hex[c >> 4]);
		g_string_append_c(out, hex[c & 15]);
		run = i + 1;
	}
	g_string_append_len(out, s + run, n - run);
}

/* The host as a browser has it: percent-decoded, IDNA to ASCII, lower case.
 * NULL when it is empty or has a character a host cannot have. */
char *
url_norm_host(const char *h, gsize n)
{
	char *raw = g_strndup(h, n), *dec, *ascii = NULL;
	const char *p;

	if (n > 0 && h[0] == '[') {           /* IPv6 literal: kept, lower-cased */
		dec = g_ascii_strdown(raw, -1);
		g_free(raw);
		if (dec[n - 1] != ']' || strspn(dec + 1, "0123456789abcdef:.") != n - 2) {
			g_free(dec);
			return NULL;
		}
		return dec;
	}
	if (strspn(raw, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n && n > 0) {
		dec = g_ascii_strdown(raw, n);        /* plain ASCII: nothing to decode */
		g_free(raw);
		return dec;
	}
	dec = g_uri_unescape_string(raw, NULL);
	g_free(raw);
	if (dec == NULL || *dec == '\0' || !g_utf8_validate(dec, -1, NULL))
		goto out;
	for (p = dec; *p != '\0'; p++)
		if (strchr(" #%/:<>?@[\\]^|", *p) != NULL || (guchar)*p < 0x20)
			goto out;
	ascii = g_hostname_to_ascii(dec);
	if (ascii != NULL) {
		char *low = g_ascii_strdown(ascii, -1);
		g_free(ascii);
		ascii = low;
		if (*ascii == '\0' || strchr(ascii, ' ') != NULL) {
			g_free(ascii);
			ascii = NULL;
		}
	}
out:
	g_free(dec);
	return ascii;
}

/* The query percent-encoded in the document's charset (UTF-8 when it
 * cannot be represented there). */
static void
query_append(GString *out, const char *q, gsize n, const char *charset)
{
	static const char set[] = "\"#<>'";
	char *conv = NULL;
	gsize clen = 0;

	if (charset != NULL && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
	    g_ascii_strcasecmp(charset, "us-ascii") != 0)
		conv = g_convert(q, n, charset, "UTF-8", NULL, &clen, NULL);
	if (conv != NULL)
		pct_append(out, conv, clen, set);
	else
		pct_append(out, q, n, set);
	g_free(conv);
}

/* What a browser opens for an http(s) href (see url_norm.h). */
char *
url_norm_http(const char *url, const char *charset, gboolean *valid)
{
	GString *in = NULL, *out;
	const char *p, *end, *auth, *aend, *at, *colon, *hp, *q, *f, *scheme;
	char *host = NULL;
	gsize i, n = strlen(url);
	gboolean ok = FALSE;

	*valid = TRUE;
	while (n > 0 && (guchar)url[n - 1] <= 0x20)
		n--;
	while (n > 0 && (guchar)*url <= 0x20)
		url++, n--;
	if (n > URL_NORM_MAX) {
		*valid = FALSE;
		return NULL;
	}
	p = url;
	end = url + n;
	if (*end != '\0' || memchr(url, '\t', n) != NULL || memchr(url, '\n', n) != NULL ||
	    memchr(url, '\r', n) != NULL) {
		in = g_string_sized_new(n);     /* a copy without them, NUL-terminated at end */
		for (i = 0; i < n; i++)
			if (url[i] != '\t' && url[i] != '\n' && url[i] != '\r')
				g_string_append_c(in, url[i]);
		p = in->str;
		end = in->str + in->len;
	}
	for (q = p; q < end && (g_ascii_isalnum(*q) || *q == '+' || *q == '-' || *q == '.'); q++)
		;
	if (q - p == 4 && g_ascii_strncasecmp(p, "http", 4) == 0)
		scheme = "http";
	else if (q - p == 5 && g_ascii_strncasecmp(p, "https", 5) == 0)
		scheme = "https";
	else
		scheme = NULL;
	if (q == end || *q != ':' || scheme == NULL) {
		if (in != NULL)
			g_string_free(in, TRUE);
		return NULL;
	}
	*valid = FALSE;
	out = g_string_sized_new((end - p) + 32);
	for (auth = q + 1; auth < end && (*auth == '/' || *auth == '\\'); auth++)
		;
	aend = auth + strcspn(auth, "/\\?#");
	/* userinfo: up to the last '@' of the authority; then host, port */
	for (at = NULL, hp = auth; hp < aend; hp++)
		if (*hp == '@')
			at = hp;
	hp = at != NULL ? at + 1 : auth;
	if (*hp == '[') {
		const char *rb = memchr(hp, ']', aend - hp);
		if (rb == NULL || (rb + 1 < aend && rb[1] != ':'))
			goto out;
		colon = rb + 1 < aend ? rb + 1 : NULL;
	} else
		colon = memchr(hp, ':', aend - hp);
	if (colon != NULL && strspn(colon + 1, "0123456789") < (gsize)(aend - colon - 1))
		goto out;
	host = url_norm_host(hp, (colon != NULL ? colon : aend) - hp);
	if (host == NULL)
		goto out;
	g_string_append(out, scheme);
	g_string_append(out, "://");
	if (at != NULL) {
		pct_append(out, auth, at - auth, "\"<>`{}^|");
		g_string_append_c(out, '@');
	}
	g_string_append(out, host);
	if (colon != NULL && colon + 1 < aend)
		g_string_append_len(out, colon, aend - colon);
	/* path, with '\' as '/' */
	q = aend + strcspn(aend, "?#");
	if (q == aend)
		g_string_append_c(out, '/');
	for (p = aend; p < q; p++) {
		if (*p == '\\')
			g_string_append_c(out, '/');
		else
			pct_append(out, p, 1, "\"<>`{}");
	}
	f = q + strcspn(q, "#");
	if (*q == '?') {
		g_string_append_c(out, '?');
		query_append(out, q + 1, f - q - 1, charset);
	}
	if (*f == '#') {
		g_string_append_c(out, '#');
		pct_append(out, f + 1, end - f - 1, "\"<>`");
	}
	ok = TRUE;
	*valid = TRUE;
out:
	g_free(host);
	if (in != NULL)
		g_string_free(in, TRUE);
	return g_string_free(out, !ok);
}

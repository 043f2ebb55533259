/*
 * url_norm.c - an href as a browser opens it, for http(s). See url_norm.h.
 */
#include <string.h>
#include <gio/gio.h>

#include "url_norm.h"

/* The bytes each part of a URL percent-encodes: controls, blanks and
 * non-ASCII everywhere, and per part the characters a browser escapes. */
enum { PCT_USERINFO = 1, PCT_PATH = 2, PCT_QUERY = 4, PCT_FRAGMENT = 8, PCT_ALL = 15 };
static const guint8 pct_class[256] = {
	[0 ... 0x20] = PCT_ALL, [0x7f ... 0xff] = PCT_ALL,
	['"'] = PCT_ALL, ['<'] = PCT_ALL, ['>'] = PCT_ALL,
	['`'] = PCT_USERINFO | PCT_PATH | PCT_FRAGMENT,
	['{'] = PCT_USERINFO | PCT_PATH, ['}'] = PCT_USERINFO | PCT_PATH,
	['^'] = PCT_USERINFO, ['|'] = PCT_USERINFO,
	['#'] = PCT_QUERY, ['\''] = PCT_QUERY,
};

/* Write s[0..n) at o, percent-encoding the bytes of class part (see
 * pct_class; runs of plain bytes are copied at once); returns the end. */
static char *
pct_put(char *o, const char *s, gsize n, guint8 part)
{
	static const char hex[] = "0123456789ABCDEF";
	gsize i, run = 0;

	for (i = 0; i < n; i++) {
		guchar c = (guchar)s[i];
		if (!(pct_class[c] & part))
			continue;
		memcpy(o, s + run, i - run);
		o += i - run;
		*o++ = '%';
		*o++ = hex[c >> 4];
		*o++ = hex[c & 15];
		run = i + 1;
	}
	memcpy(o, s + run, n - run);
	return o + (n - run);
}

/* Is h[0..n) a host with nothing to decode (letters, digits, '.', '-', '_')? */
static gboolean
host_plain(const char *h, gsize n)
{
	gsize i;

	for (i = 0; i < n && (g_ascii_isalnum(h[i]) || h[i] == '.' || h[i] == '-' || h[i] == '_'); i++)
		;
	return i == n && n > 0;
}

/* The host as a browser has it: percent-decoded, IDNA to ASCII, lower case.
 * NULL when it is empty or has a character a host cannot have. */
char *
url_norm_host(const char *h, gsize n)
{
	char *raw, *dec, *ascii = NULL;
	const char *p;

	if (host_plain(h, n))                 /* plain ASCII: nothing to decode */
		return g_ascii_strdown(h, n);
	raw = g_strndup(h, n);
	if (n > 0 && h[0] == '[') {           /* IPv6 literal: kept, lower-cased */
		dec = g_ascii_strdown(raw, -1);
		g_free(raw);
		if (dec[n - 1] != ']' || strspn(dec + 1, "0123456789abcdef:.") != n - 2) {
			g_free(dec);
			return NULL;
		}
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

/* What a browser opens for an http(s) href (see url_norm.h). The checks
 * come first; then the URL is written in one buffer of the largest size
 * it can take (every byte percent-encoded). */
char *
url_norm_http(const char *url, const char *charset, gboolean *valid)
{
	GString *in = NULL;
	const char *p, *end, *auth, *aend, *at, *colon, *hp, *he, *q, *f, *scheme;
	char *host = NULL, *conv = NULL, *buf = NULL, *o;
	gsize i, n = strlen(url), hl, clen = 0;

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
	he = colon != NULL ? colon : aend;
	if (!host_plain(hp, he - hp) && (host = url_norm_host(hp, he - hp)) == NULL)
		goto out;
	hl = host != NULL ? strlen(host) : (gsize)(he - hp);
	q = aend + strcspn(aend, "?#");     /* path [aend, q), query, fragment at f */
	f = q + strcspn(q, "#");
	if (*q == '?' && charset != NULL && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
	    g_ascii_strcasecmp(charset, "us-ascii") != 0)
		/* the query in the document's charset (UTF-8 when it cannot be) */
		conv = g_convert(q + 1, f - q - 1, charset, "UTF-8", NULL, &clen, NULL);
	o = buf = g_malloc(16 + hl + 3 * (gsize)(end - p) + 3 * clen);
	memcpy(o, scheme, strlen(scheme));
	o += strlen(scheme);
	memcpy(o, "://", 3);
	o += 3;
	if (at != NULL) {
		o = pct_put(o, auth, at - auth, PCT_USERINFO);
		*o++ = '@';
	}
	if (host != NULL)
		memcpy(o, host, hl);
	else                                  /* plain: lower-cased */
		for (i = 0; i < hl; i++)
			o[i] = hp[i] >= 'A' && hp[i] <= 'Z' ? hp[i] + ('a' - 'A') : hp[i];
	o += hl;
	if (colon != NULL && colon + 1 < aend) {
		memcpy(o, colon, aend - colon);
		o += aend - colon;
	}
	/* path, with '\' as '/' */
	if (q == aend)
		*o++ = '/';
	for (p = aend; p < q; ) {
		const char *bs = memchr(p, '\\', q - p), *e = bs != NULL ? bs : q;
		o = pct_put(o, p, e - p, PCT_PATH);
		if (bs != NULL)
			*o++ = '/';
		p = bs != NULL ? bs + 1 : q;
	}
	if (*q == '?') {
		*o++ = '?';
		o = conv != NULL ? pct_put(o, conv, clen, PCT_QUERY) : pct_put(o, q + 1, f - q - 1, PCT_QUERY);
	}
	if (*f == '#') {
		*o++ = '#';
		o = pct_put(o, f + 1, end - f - 1, PCT_FRAGMENT);
	}
	*o = '\0';
	*valid = TRUE;
out:
	g_free(host);
	g_free(conv);
	if (in != NULL)
		g_string_free(in, TRUE);
	return buf;
}

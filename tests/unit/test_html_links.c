/*
 * test_html_links.c - html_links_scan on HTML shaped like what mail
 * clients and newsletter tools write: which links are found, the exact
 * bytes of each value's span, its quoting, the URL a browser would open
 * and the verdict; where the pixel goes. Also url_norm_http (URL
 * normalisation: IDN, percent-encoding, blanks, backslashes, ports),
 * the replacement values (escaping, quoting) and the link limit.
 *
 * Every table row: a label, the input, and what must come out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <glib.h>

#include "html_links.h"
#include "url_norm.h"

typedef struct want_link {
	const char *tag;
	html_verdict verdict;
	const char *raw;          /* the bytes of [start, end) */
	const char *target;       /* NULL: must be NULL */
	char quote;
	gboolean vml, mso;
} want_link;

typedef struct scan_case {
	const char *label;
	const char *html;
	const char *charset;      /* filter charset */
	const char *pixel_before; /* pixel_at is its last occurrence; PIXEL_END, PIXEL_NONE */
	guint n;
	want_link links[8];
} scan_case;

#define PIXEL_END NULL   /* the end of the buffer */
#define PIXEL_NONE ""    /* -1: no safe place */

static const char *const exclude[] = { "partner.test", ".excluded.example", NULL };
static const char *const skip[] = { "https://Lists.Example.com/unsub?id=1", NULL };

static const scan_case scan_cases[] = {
	{ "plain double-quoted link, pixel before </body>",
	  "<html><body><p>See <a href=\"https://www.example.com/pricing\">pricing</a>.</p></body></html>",
	  NULL, "</body>", 1,
	  { { "a", HTML_TRACK, "https://www.example.com/pricing", "https://www.example.com/pricing", '"', FALSE, FALSE } } },
	{ "upper-case unquoted attribute with &amp; (Outlook 2003 style)",
	  "<BODY><A HREF=http://WWW.Example.COM/a?x=1&amp;y=2>go</A></BODY>",
	  NULL, "</BODY>", 1,
	  { { "a", HTML_TRACK, "http://WWW.Example.COM/a?x=1&amp;y=2", "http://www.example.com/a?x=1&y=2", 0, FALSE, FALSE } } },
	{ "numeric, hex and legacy entities decoded as a browser does",
	  "<a href='https://e.example/p?a=1&#38;b=2&#x26;c=3&copy=4&amp;d=%20'>x</a>",
	  NULL, NULL, 1,
	  { { "a", HTML_TRACK, "https://e.example/p?a=1&#38;b=2&#x26;c=3&copy=4&amp;d=%20",
	      "https://e.example/p?a=1&b=2&c=3&copy=4&d=%20", '\'', FALSE, FALSE } } },
	{ "entity in the scheme still makes an http link",
	  "<a href=\"http&#58;//e.example/\">x</a>", NULL, NULL, 1,
	  { { "a", HTML_TRACK, "http&#58;//e.example/", "http://e.example/", '"', FALSE, FALSE } } },
	{ "mailto, tel, fragment, relative, javascript, ftp are left alone",
	  "<a href=\"mailto:a@example.com\">m</a><a href=\"tel:+441234\">t</a><a href=\"#top\">f</a>"
	  "<a href=\"/rel/x\">r</a><a href=\"javascript:void(0)\">j</a><a href=\"ftp://e.example/\">f</a>",
	  NULL, NULL, 6,
	  { { "a", HTML_SKIP_SCHEME, "mailto:a@example.com", NULL, '"', FALSE, FALSE },
	    { "a", HTML_SKIP_SCHEME, "tel:+441234", NULL, '"', FALSE, FALSE },
	    { "a", HTML_SKIP_SCHEME, "#top", NULL, '"', FALSE, FALSE },
	    { "a", HTML_SKIP_SCHEME, "/rel/x", NULL, '"', FALSE, FALSE },
	    { "a", HTML_SKIP_SCHEME, "javascript:void(0)", NULL, '"', FALSE, FALSE },
	    { "a", HTML_SKIP_SCHEME, "ftp://e.example/", NULL, '"', FALSE, FALSE } } },
	{ "<area> of an image map, single-quoted and unquoted",
	  "<map name=m><AREA SHAPE=rect HREF='https://e.example/emea' ALT=\"EMEA\"><area href=https://e.example/us alt=US></map>",
	  NULL, NULL, 2,
	  { { "area", HTML_TRACK, "https://e.example/emea", "https://e.example/emea", '\'', FALSE, FALSE },
	    { "area", HTML_TRACK, "https://e.example/us", "https://e.example/us", 0, FALSE, FALSE } } },
	{ "VML button in an mso conditional comment, and its fallback",
	  "<td><!--[if mso]>\r\n<v:roundrect xmlns:v=\"urn:schemas-microsoft-com:vml\" href=\"https://e.example/reg?id=3&amp;s=n\" "
	  "style=\"height:44px\"><w:anchorlock/><center>Register</center></v:roundrect>\r\n<![endif]-->"
	  "<a href=\"https://e.example/reg?id=3&amp;s=n\" style=\"mso-hide:all\">Register</a></td>",
	  NULL, NULL, 2,
	  { { "v:roundrect", HTML_TRACK, "https://e.example/reg?id=3&amp;s=n", "https://e.example/reg?id=3&s=n", '"', TRUE, TRUE },
	    { "a", HTML_TRACK, "https://e.example/reg?id=3&amp;s=n", "https://e.example/reg?id=3&s=n", '"', FALSE, FALSE } } },
	{ "gte mso 9 and (gte mso 9)|(IE) conditions are Outlook's too",
	  "<!--[if gte mso 9]><a href=\"https://e.example/a\">a</a><![endif]-->"
	  "<!--[if (gte Mso 9)|(IE)]><v:rect href=\"https://e.example/b\"></v:rect><![endif]-->",
	  NULL, NULL, 2,
	  { { "a", HTML_TRACK, "https://e.example/a", "https://e.example/a", '"', FALSE, TRUE },
	    { "v:rect", HTML_TRACK, "https://e.example/b", "https://e.example/b", '"', TRUE, TRUE } } },
	{ "negated and non-mso conditionals and plain comments are not rendered: no links",
	  "<!--[if !mso]><a href=\"https://e.example/x\">x</a><![endif]--><!--[if IE]><a href=\"https://e.example/y\">y</a><![endif]-->"
	  "<!-- old: <a href=\"https://e.example/z\">z</a> -->",
	  NULL, NULL, 0, { { 0 } } },
	{ "downlevel-revealed content outside the comment is a normal link",
	  "<!--[if !mso]><!--><a href=\"https://e.example/r\">r</a><!--<![endif]-->",
	  NULL, NULL, 1,
	  { { "a", HTML_TRACK, "https://e.example/r", "https://e.example/r", '"', FALSE, FALSE } } },
	{ "links inside style, script, title and textarea are text, not links",
	  "<title><a href=\"https://e.example/1\"></title><style>a[href=\"<a href='https://e.example/2'>\"]{}</style>"
	  "<script>var s='<a href=\"https://e.example/3\">';</script><textarea><a href=\"https://e.example/4\"></textarea>"
	  "<a href=\"https://e.example/5\">real</a>",
	  NULL, NULL, 1,
	  { { "a", HTML_TRACK, "https://e.example/5", "https://e.example/5", '"', FALSE, FALSE } } },
	{ "unsubscribe by text (English, German, French), by img alt and by URL",
	  "<a href=\"https://e.example/u1\">Unsubscribe from this list</a> <a href=\"https://e.example/u2\">Newsletter <b>abmelden</b></a> "
	  "<a href=\"https://e.example/u3\">Se d\xc3\xa9sabonner</a> <a href=\"https://e.example/u4\"><img src=\"x.png\" alt=\"UNSUBSCRIBE\"></a> "
	  "<a href=\"https://e.example/list/unsubscribe?u=9\">here</a> <a href=\"https://e.example/prefs\">update your preferences</a>",
	  NULL, NULL, 6,
	  { { "a", HTML_SKIP_UNSUBSCRIBE_TEXT, "https://e.example/u1", "https://e.example/u1", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_UNSUBSCRIBE_TEXT, "https://e.example/u2", "https://e.example/u2", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_UNSUBSCRIBE_TEXT, "https://e.example/u3", "https://e.example/u3", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_UNSUBSCRIBE_TEXT, "https://e.example/u4", "https://e.example/u4", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_UNSUBSCRIBE_URL, "https://e.example/list/unsubscribe?u=9", "https://e.example/list/unsubscribe?u=9", '"', FALSE, FALSE },
	    { "a", HTML_TRACK, "https://e.example/prefs", "https://e.example/prefs", '"', FALSE, FALSE } } },
	{ "link text split by inline markup reads as rendered",
	  "<a href=\"https://e.example/s1\"><span style=\"color:red\">Un</span>subscribe</a>"
	  "<a href=\"https://e.example/s2\"><b>Opt</b>-<i>out</i></a>",
	  NULL, NULL, 2,
	  { { "a", HTML_SKIP_UNSUBSCRIBE_TEXT, "https://e.example/s1", "https://e.example/s1", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_UNSUBSCRIBE_TEXT, "https://e.example/s2", "https://e.example/s2", '"', FALSE, FALSE } } },
	{ "List-Unsubscribe target (host case differs), notrack, tracker, excluded domains",
	  "<a href=\"https://lists.example.com/unsub?id=1\">here</a><a data-crm-notrack href=\"https://e.example/p\">p</a>"
	  "<a href=\"https://e.example/q\" data-crm-notrack=\"1\">q</a><a href=\"https://t.example.com/c/abc/def\">t</a>"
	  "<a href=\"https://www.partner.test/x\">w</a><a href=\"https://partner.test./y\">d</a><a href=\"https://notpartner.test/z\">n</a>"
	  "<a href=\"https://a.b.excluded.example/\">e</a>",
	  NULL, NULL, 8,
	  { { "a", HTML_SKIP_LIST_UNSUBSCRIBE, "https://lists.example.com/unsub?id=1", "https://lists.example.com/unsub?id=1", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_NOTRACK, "https://e.example/p", "https://e.example/p", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_NOTRACK, "https://e.example/q", "https://e.example/q", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_TRACKER, "https://t.example.com/c/abc/def", "https://t.example.com/c/abc/def", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_EXCLUDED, "https://www.partner.test/x", "https://www.partner.test/x", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_EXCLUDED, "https://partner.test./y", "https://partner.test./y", '"', FALSE, FALSE },
	    { "a", HTML_TRACK, "https://notpartner.test/z", "https://notpartner.test/z", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_EXCLUDED, "https://a.b.excluded.example/", "https://a.b.excluded.example/", '"', FALSE, FALSE } } },
	{ "IDN host and percent-encoding; query in the document's charset",
	  "<a href=\"https://B\xc3\xbc" "cher.example/Stra\xc3\x9f" "e 1/%41?q=caf\xc3\xa9&x=%zz#Kap. 2\">b</a>",
	  "windows-1252", NULL, 1,
	  { { "a", HTML_TRACK, "https://B\xc3\xbc" "cher.example/Stra\xc3\x9f" "e 1/%41?q=caf\xc3\xa9&x=%zz#Kap. 2",
	      "https://xn--bcher-kva.example/Stra%C3%9Fe%201/%41?q=caf%E9&x=%zz#Kap.%202", '"', FALSE, FALSE } } },
	{ "blanks around and newlines inside a value are what the browser drops",
	  "<a href=\"  https://e.example/a\r\n/b\t?c=1  \">x</a>", NULL, NULL, 1,
	  { { "a", HTML_TRACK, "  https://e.example/a\r\n/b\t?c=1  ", "https://e.example/a/b?c=1", '"', FALSE, FALSE } } },
	{ "unusable http links: no host, bad port, blank in host",
	  "<a href=\"https://\">1</a><a href=\"http://e.example:8o/\">2</a><a href=\"https://e x.example/\">3</a>",
	  NULL, NULL, 3,
	  { { "a", HTML_SKIP_INVALID, "https://", NULL, '"', FALSE, FALSE },
	    { "a", HTML_SKIP_INVALID, "http://e.example:8o/", NULL, '"', FALSE, FALSE },
	    { "a", HTML_SKIP_INVALID, "https://e x.example/", NULL, '"', FALSE, FALSE } } },
	{ "first href wins; a tag cut off at the end is no link; href without value is none",
	  "<a href=\"https://e.example/1\" href=\"https://e.example/2\">x</a><a href>y</a><a href=\"https://e.example/3\"",
	  NULL, PIXEL_NONE, 1,
	  { { "a", HTML_TRACK, "https://e.example/1", "https://e.example/1", '"', FALSE, FALSE } } },
	{ "an <a> with no </a>: the next <a> ends its text",
	  "<a href=\"https://e.example/1\">read more <a href=\"https://e.example/2\">unsubscribe</a>",
	  NULL, NULL, 2,
	  { { "a", HTML_TRACK, "https://e.example/1", "https://e.example/1", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_UNSUBSCRIBE_TEXT, "https://e.example/2", "https://e.example/2", '"', FALSE, FALSE } } },
	{ "pixel before the last </body>, not one in a comment; case and blanks",
	  "<body>a</body>\n<div>late</div></BODY ><!--[if mso]></body><![endif]-->", NULL, "</BODY >", 0, { { 0 } } },
	{ "no </body> (Gmail fragment): pixel at the end", "<div dir=\"ltr\">Hi<br></div>", NULL, NULL, 0, { { 0 } } },
	{ "empty input", "", NULL, NULL, 0, { { 0 } } },
	{ "CDATA (crashes myhtml without a tree): a bogus comment, later links still found",
	  "<svg><![CDATA[ <a href=\"https://e.example/in\"> ]]></svg><a href=\"https://e.example/after\">a</a>"
	  "<a href=\"https://e.example/<![CDATA[x\">c</a>",
	  NULL, NULL, 2,
	  { { "a", HTML_TRACK, "https://e.example/after", "https://e.example/after", '"', FALSE, FALSE },
	    { "a", HTML_SKIP_INVALID, "https://e.example/<![CDATA[x", NULL, '"', FALSE, FALSE } } },
	{ "no </body>, ends inside a quoted value: no pixel", "<p>x <a href=\"https://e.example/a b", NULL, PIXEL_NONE, 0, { { 0 } } },
	{ "no </body>, ends inside a comment: no pixel", "<p>x</p><!-- note <b>", NULL, PIXEL_NONE, 0, { { 0 } } },
	{ "no </body>, ends inside a script: no pixel", "<p>x</p><script>var a = 1;", NULL, PIXEL_NONE, 0, { { 0 } } },
	{ "no </body>, ends inside a title: no pixel", "<title>Offer", NULL, PIXEL_NONE, 0, { { 0 } } },
	{ "no </body>, closed script and empty comment: the end", "<script>x()</script><!---->t<!-->", NULL, PIXEL_END, 0, { { 0 } } },
	{ "no </body>, a </body> inside a title is text", "<title></body></title><p>x", NULL, PIXEL_END, 0, { { 0 } } },
	{ "no </body>, ends with a line break: before it", "<p>x</p>\r\n", NULL, "\r\n", 0, { { 0 } } },
	{ "no </body>, ends with blank lines: before them", "<p>x\n\n", NULL, "\n\n", 0, { { 0 } } },
	{ "no </body>, only line breaks after a tag: right after it", "<p>x</p>\n\r\n", NULL, "\n\r\n", 0, { { 0 } } },
};

/* Open pixels of our tracker already in the HTML (quoted earlier mail). */
typedef struct old_pixel_case {
	const char *label;
	const char *html;
	const char *tracker;      /* filter tracker_url */
	guint n;
	const char *raw[3];       /* the bytes of each [start, end) */
	char quote[3];
	gboolean mso[3];
} old_pixel_case;

static const old_pixel_case old_pixel_cases[] = {
	{ "a quoted reply with our pixel; a click link of ours is no pixel",
	  "<p>Thanks</p><blockquote><p>Offer <a href=\"https://t.example.com/c/x/y\">here</a></p>"
	  "<img src=\"https://t.example.com/o/AbC-_1.gif\" width=\"1\" height=\"1\" alt=\"\"></blockquote>",
	  "https://t.example.com", 1, { "https://t.example.com/o/AbC-_1.gif" }, { '"' }, { FALSE } },
	{ "upper case, unquoted, an entity, a trailing slash on base_url; two of them",
	  "<IMG SRC=HTTPS://T.Example.COM/o/a.gif><img src='&#x68;ttps://t.example.com/o/b.gif'>",
	  "https://t.example.com/", 2, { "HTTPS://T.Example.COM/o/a.gif", "&#x68;ttps://t.example.com/o/b.gif" },
	  { 0, '\'' }, { FALSE, FALSE } },
	{ "inside an Outlook conditional comment",
	  "<!--[if mso]><img src=\"https://t.example.com/o/m.gif\"><![endif]--><p>x</p>",
	  "https://t.example.com", 1, { "https://t.example.com/o/m.gif" }, { '"' }, { TRUE } },
	{ "not ours: another host, our host but not /o/, a lookalike host, no src value",
	  "<img src=\"https://other.example/o/a.gif\"><img src=\"https://t.example.com/logo.png\">"
	  "<img src=\"https://t.example.com.evil.test/o/a.gif\"><img src>",
	  "https://t.example.com", 0, { NULL }, { 0 }, { FALSE } },
	{ "no tracker configured: nothing is ours",
	  "<img src=\"https://t.example.com/o/a.gif\">", NULL, 0, { NULL }, { 0 }, { FALSE } },
	{ "a tag cut off by the end loads nothing",
	  "<p>x</p><img src=\"https://t.example.com/o/a.gif\"", "https://t.example.com", 0, { NULL }, { 0 }, { FALSE } },
};

/* Each case finds exactly its pixels, with their value's bytes. */
static void
test_old_pixels(void **state)
{
	html_links_ctx *ctx = html_links_ctx_new(NULL);
	gsize i, k;

	(void)state;
	for (i = 0; i < G_N_ELEMENTS(old_pixel_cases); i++) {
		const old_pixel_case *c = &old_pixel_cases[i];
		html_filter f = { NULL, NULL, c->tracker, NULL };
		html_scan s = { 0 };
		gsize len = strlen(c->html);

		print_message("case: %s\n", c->label);
		assert_true(html_links_scan(ctx, c->html, len, &f, &s, NULL));
		assert_int_equal(s.old_pixels->len, c->n);
		for (k = 0; k < c->n; k++) {
			const html_link *l = &g_array_index(s.old_pixels, html_link, k);
			assert_string_equal(l->tag, "img");
			assert_int_equal(l->end - l->start, strlen(c->raw[k]));
			assert_memory_equal(c->html + l->start, c->raw[k], strlen(c->raw[k]));
			assert_int_equal(l->quote, c->quote[k]);
			assert_int_equal(l->mso, c->mso[k]);
			assert_int_equal(l->vend - l->vstart, l->end - l->start + (c->quote[k] != 0 ? 2 : 0));
		}
		html_links_clear(&s);
		assert_null(s.old_pixels);
	}
	html_links_ctx_free(ctx);
}

/* A tracker base URL with a path: only its /c/ and /o/ links are ours,
 * not the sender's pages that share the prefix. */
static void
test_tracker_with_path(void **state)
{
	const char *html = "<a href=\"https://www.example.com/terms\">t</a><a href=\"https://www.example.com/team\">m</a>"
	    "<a href=\"https://www.example.com/t/c/abc/def\">c</a><a href=\"https://www.example.com/t/o/abc.gif\">o</a>"
	    "<a href=\"https://www.example.com/t\">base</a>";
	const html_verdict want[] = { HTML_TRACK, HTML_TRACK, HTML_SKIP_TRACKER, HTML_SKIP_TRACKER, HTML_TRACK };
	html_filter f = { NULL, NULL, "https://www.example.com/t", NULL };
	html_scan s = { 0 };

	(void)state;
	assert_true(html_links_scan(NULL, html, strlen(html), &f, &s, NULL));
	assert_int_equal(s.links->len, G_N_ELEMENTS(want));
	for (gsize k = 0; k < G_N_ELEMENTS(want); k++)
		assert_string_equal(html_links_verdict_name(g_array_index(s.links, html_link, k).verdict),
		    html_links_verdict_name(want[k]));
	html_links_clear(&s);
}

/* Every scan case, with one tokenizer reused for all of them. */
static void
test_scan(void **state)
{
	html_links_ctx *ctx = html_links_ctx_new(NULL);
	gsize i, k;

	assert_non_null(ctx);
	for (i = 0; i < G_N_ELEMENTS(scan_cases); i++) {
		const scan_case *c = &scan_cases[i];
		html_filter f = { exclude, skip, "https://t.example.com", c->charset };
		html_scan s = { 0 };
		GError *err = NULL;
		gsize len = strlen(c->html);
		gboolean ok = html_links_scan(ctx, c->html, len, &f, &s, &err);

		print_message("case: %s\n", c->label);
		assert_true(ok);
		assert_null(err);
		assert_int_equal(s.links->len, c->n);
		for (k = 0; k < c->n; k++) {
			const html_link *l = &g_array_index(s.links, html_link, k);
			const want_link *w = &c->links[k];
			print_message("  link %zu: %s %s\n", k, l->url, html_links_verdict_name(l->verdict));
			assert_string_equal(l->tag, w->tag);
			assert_string_equal(html_links_verdict_name(l->verdict), html_links_verdict_name(w->verdict));
			assert_true(l->end <= len && l->start < l->end);
			assert_int_equal(l->end - l->start, strlen(w->raw));
			assert_memory_equal(c->html + l->start, w->raw, strlen(w->raw));
			assert_int_equal(l->quote, w->quote);
			if (w->quote != 0) {
				assert_int_equal(l->vstart, l->start - 1);
				assert_int_equal(l->vend, l->end + 1);
				assert_int_equal(c->html[l->vstart], w->quote);
				assert_int_equal(c->html[l->vend - 1], w->quote);
			} else {
				assert_int_equal(l->vstart, l->start);
				assert_int_equal(l->vend, l->end);
			}
			if (w->target == NULL)
				assert_null(l->target);
			else
				assert_string_equal(l->target, w->target);
			assert_int_equal(l->vml, w->vml);
			assert_int_equal(l->mso, w->mso);
		}
		if (c->pixel_before == PIXEL_END)
			assert_int_equal(s.pixel_at, len);
		else if (*c->pixel_before == '\0')
			assert_int_equal(s.pixel_at, -1);
		else
			assert_int_equal(s.pixel_at, g_strrstr(c->html, c->pixel_before) - c->html);
		html_links_clear(&s);
	}
	assert_null(html_links_ctx_free(ctx));
	html_links_ctx_free(NULL);
}

/* What a reused tokenizer sees does not depend on the document before,
 * however that one ended (inside a script, a comment, plaintext, a tag,
 * after many unknown elements). */
static void
test_reuse(void **state)
{
	static const char *const before[] = {
		"<script>var a = '<a href=\"https://e.example/s\">",
		"<!-- unterminated <a href=\"https://e.example/c\">",
		"<plaintext><a href=\"https://e.example/p\">",
		"<a href=\"https://e.example/t",
		"<!--[if mso]><v:roundrect href=\"https://e.example/v\"><v:fill/><o:x/><w:y/>",
		"<svg><foreignObject><math><mi><table><a href=\"https://e.example/m\">",
	};
	const char *doc = "<body><p><a HREF=https://e.example/1>one</a> <area href='https://e.example/2'>"
	    "<!--[if mso]><v:oval href=\"https://e.example/3\"></v:oval><![endif]--></p></body>";
	html_links_ctx *ctx = html_links_ctx_new(NULL);
	html_scan fresh = { 0 }, s = { 0 }, junk = { 0 };
	gsize i, k;

	assert_true(html_links_scan(NULL, doc, strlen(doc), NULL, &fresh, NULL));
	assert_int_equal(fresh.links->len, 3);
	for (i = 0; i < G_N_ELEMENTS(before); i++) {
		print_message("after: %s\n", before[i]);
		assert_true(html_links_scan(ctx, before[i], strlen(before[i]), NULL, &junk, NULL));
		html_links_clear(&junk);
		assert_true(html_links_scan(ctx, doc, strlen(doc), NULL, &s, NULL));
		assert_int_equal(s.links->len, fresh.links->len);
		assert_int_equal(s.pixel_at, fresh.pixel_at);
		for (k = 0; k < s.links->len; k++) {
			const html_link *a = &g_array_index(s.links, html_link, k), *b = &g_array_index(fresh.links, html_link, k);
			assert_int_equal(a->start, b->start);
			assert_int_equal(a->end, b->end);
			assert_string_equal(a->tag, b->tag);
			assert_string_equal(a->target, b->target);
			assert_int_equal(a->verdict, HTML_TRACK);
		}
		html_links_clear(&s);
	}
	html_links_clear(&fresh);
	html_links_ctx_free(ctx);
}

typedef struct target_case {
	const char *label;
	const char *url;
	const char *charset;
	const char *want;          /* NULL: not an http(s) target */
	gboolean valid;            /* for NULL: FALSE = http(s) but unusable */
} target_case;

static const target_case target_cases[] = {
	{ "as written", "https://www.example.com/a/b?c=d#e", NULL, "https://www.example.com/a/b?c=d#e", TRUE },
	{ "scheme and host lower-cased, empty path is /", "HTTPS://WWW.EXAMPLE.COM", NULL, "https://www.example.com/", TRUE },
	{ "IDN to punycode", "http://m\xc3\xbcnchen.example/", NULL, "http://xn--mnchen-3ya.example/", TRUE },
	{ "Japanese IDN", "https://\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88/", NULL,
	  "https://xn--r8jz45g.xn--zckzah/", TRUE },
	{ "percent-encoded host decoded", "https://%65xample.com/", NULL, "https://example.com/", TRUE },
	{ "existing escapes kept, raw ones added", "https://e.example/a%2Fb c\"<>`{}?q=a b'\"#f g", NULL,
	  "https://e.example/a%2Fb%20c%22%3C%3E%60%7B%7D?q=a%20b%27%22#f%20g", TRUE },
	{ "non-ASCII path is UTF-8, query in the charset", "https://e.example/\xc3\xa9?q=\xc3\xa9", "iso-8859-1",
	  "https://e.example/%C3%A9?q=%E9", TRUE },
	{ "query not representable in the charset falls back to UTF-8", "https://e.example/?q=\xe2\x82\xac", "iso-8859-1",
	  "https://e.example/?q=%E2%82%AC", TRUE },
	{ "backslashes and extra slashes", "https:\\\\\\e.example\\a\\b", NULL, "https://e.example/a/b", TRUE },
	{ "port kept, userinfo kept", "http://user:pw@e.example:8080/x", NULL, "http://user:pw@e.example:8080/x", TRUE },
	{ "IPv6 literal with port", "http://[2001:DB8::1]:8443/", NULL, "http://[2001:db8::1]:8443/", TRUE },
	{ "empty port dropped", "http://e.example:/x", NULL, "http://e.example/x", TRUE },
	{ "mailto is not ours", "mailto:x@example.com", NULL, NULL, TRUE },
	{ "relative is not ours", "../x.html", NULL, NULL, TRUE },
	{ "scheme must start with a letter", "1http://e.example/", NULL, NULL, TRUE },
	{ "no host", "http:///", NULL, NULL, FALSE },
	{ "bad port", "http://e.example:99x/", NULL, NULL, FALSE },
	{ "forbidden host character", "http://e<x.example/", NULL, NULL, FALSE },
	{ "unclosed IPv6", "http://[::1/", NULL, NULL, FALSE },
};

/* URL normalisation. */
static void
test_target(void **state)
{
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(target_cases); i++) {
		const target_case *c = &target_cases[i];
		gboolean valid = !c->valid;
		char *t = url_norm_http(c->url, c->charset, &valid);

		print_message("case: %s\n", c->label);
		if (c->want == NULL)
			assert_null(t);
		else
			assert_string_equal(t, c->want);
		assert_int_equal(valid, c->valid);
		g_free(t);
	}
}

typedef struct value_case {
	const char *label;
	char quote;
	const char *url;
	const char *want;
	const char *want_quoted;
} value_case;

static const value_case value_cases[] = {
	{ "double-quoted: & and \" escaped", '"', "https://t.example/c/x?a=1&b=\"2'",
	  "https://t.example/c/x?a=1&amp;b=&quot;2'", "\"https://t.example/c/x?a=1&amp;b=&quot;2'\"" },
	{ "single-quoted: & and ' escaped", '\'', "https://t.example/c/x?a=1&b=\"2'",
	  "https://t.example/c/x?a=1&amp;b=\"2&#39;", "\"https://t.example/c/x?a=1&amp;b=&quot;2'\"" },
	{ "unquoted: quotes added", 0, "https://t.example/c/a&b",
	  "\"https://t.example/c/a&amp;b\"", "\"https://t.example/c/a&amp;b\"" },
};

/* Replacement values and the pixel's markup. */
static void
test_values(void **state)
{
	gsize i;
	char *px;

	for (i = 0; i < G_N_ELEMENTS(value_cases); i++) {
		const value_case *c = &value_cases[i];
		html_link l = { 0 };
		char *v, *q;

		print_message("case: %s\n", c->label);
		l.quote = c->quote;
		v = html_links_attr_value(&l, c->url);
		q = html_links_attr_quoted(c->url);
		assert_string_equal(v, c->want);
		assert_string_equal(q, c->want_quoted);
		g_free(v);
		g_free(q);
	}
	px = html_links_pixel("https://t.example/o/AB&C.gif");
	assert_true(g_str_has_prefix(px, "<img src=\"https://t.example/o/AB&amp;C.gif\" width=\"1\" height=\"1\""));
	assert_true(g_str_has_suffix(px, ">"));
	g_free(px);
}

/* More than HTML_LINKS_MAX links is an error, and leaves nothing behind. */
static void
test_too_many_links(void **state)
{
	GString *h = g_string_new("<body>");
	html_scan s = { 0 };
	GError *err = NULL;
	int i;

	for (i = 0; i <= HTML_LINKS_MAX; i++)
		g_string_append_printf(h, "<a href=\"https://e.example/%d\">%d</a>", i, i);
	assert_false(html_links_scan(NULL, h->str, h->len, NULL, &s, &err));
	assert_non_null(err);
	assert_non_null(strstr(err->message, "links"));
	assert_null(s.links);
	g_error_free(err);
	g_string_truncate(h, h->len - strlen("<a href=\"https://e.example/10000\">10000</a>"));
	assert_true(html_links_scan(NULL, h->str, h->len, NULL, &s, &err));
	assert_int_equal(s.links->len, HTML_LINKS_MAX);
	html_links_clear(&s);
	html_links_clear(&s);      /* twice is fine */
	g_string_free(h, TRUE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_tracker_with_path),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_too_many_links),
		cmocka_unit_test(test_old_pixels),
	};

	return cmocka_run_group_tests_name("html_links", tests, NULL, NULL);
}

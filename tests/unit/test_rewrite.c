/*
 * test_rewrite.c - rewrite_message on real-client shaped mail
 * (tests/data/html: Outlook Word-HTML in windows-1252 quoted-printable,
 * Gmail, a Mailchimp-like newsletter with List-Unsubscribe and VML
 * buttons, Apple Mail multipart/related in base64, ISO-2022-JP) and on
 * inline messages for each edge: soft breaks inside URLs, long 7bit
 * lines, signed, encrypted, DKIM-signed and calendar mail, size caps.
 *
 * Each row names the input, the options and what must come out: status,
 * a piece of the reason, links rewritten, pixel, and (some rows) every
 * target in order. Every DONE row is also checked for what must not
 * change:
 *   - outside the HTML body parts' content, the message is byte-identical
 *     (headers, part headers, boundaries, other parts);
 *   - in each HTML part, decoded: putting the original values back in
 *     place of the new ones and taking the pixel out gives the original
 *     text byte for byte;
 *   - encoded: a 7bit or quoted-printable line without a link or </body>
 *     keeps its bytes; base64 lines before the first change keep theirs;
 *   - each new link verifies (token_verify_path) and binds the original
 *     target, the message's id and its index; the pixel verifies.
 * Refused rows must leave new_body untouched. Quoted pixels and long
 * quoted-printable lines are in test_rewrite_quoted.c; truncated mail and
 * the size bounds in test_rewrite_limits.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "html_links.h"
#include "message.h"
#include "mime_codec.h"
#include "rewrite.h"

#include "test_rewrite.h"

const guint8 track_id[TOKEN_ID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
static const char *const exclude[] = { "partner.test", NULL };

typedef struct rw_case {
	const char *label;
	const char *file;            /* under tests/data, or NULL */
	const char *raw;             /* inline message (LF turned to CRLF unless lf) */
	gboolean opens, clicks;
	gsize max_html;
	rewrite_status want;
	const char *reason;          /* a piece of the reason */
	guint links;
	gboolean pixel;
	gboolean own_line;           /* 7bit values moved to their own line */
	gboolean lf;                 /* keep the inline message's bare LF */
	const char *targets[12];     /* if set: every target, in order */
} rw_case;

#define HDR "From: Ann <ann@example.com>\nTo: bob@customer.test\nSubject: t\nMessage-ID: <t1@example.com>\nMIME-Version: 1.0\n"

/* A 7bit HTML line of links whose targets are n bytes long. */
#define LONG_TARGET "https://www.example.com/very/long/path/segment/segment/segment/segment/segment/" \
	"segment/segment/segment/segment/segment/segment/segment/segment?utm_source=newsletter&amp;utm_medium=email"
#define LONG_LINE "<p>" "<a href=\"" LONG_TARGET "1\">one</a> and <a href=\"" LONG_TARGET "2\">two</a> and " \
	"<a href=\"" LONG_TARGET "3\">three</a> and some text to make the line longer than the others in the file.</p>"
#define HUGE_TARGET LONG_TARGET LONG_TARGET LONG_TARGET LONG_TARGET

static const rw_case cases[] = {
	{ .label = "Outlook Word-HTML, windows-1252 quoted-printable, soft breaks inside URLs",
	  .file = "html/outlook-wordhtml.eml",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "4 links rewritten",
	  .links = 4,
	  .pixel = TRUE,
	  .targets = { "https://www.example.com/proposals/2026/customer-test/rollout-phase-2?ref=outlook&utm_source=email&utm_campaign=q4-proposals",
	    "https://www.example.com/pricing#enterprise", "https://calendly.example.com/j.smith/30min?month=2026-12",
	    "https://www.example.com/" } },
	{ .label = "Gmail fragment: &amp;, IDN host, %20 kept, pixel at the end",
	  .file = "html/gmail.eml",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "pixel added",
	  .links = 4,
	  .pixel = TRUE,
	  .targets = { "https://www.example.com/pricing?utm_source=gmail&utm_medium=email&utm_campaign=follow-up-2026-11&utm_content=pricing-link",
	    "https://www.xn--mnchen-brauerei-zvb.example/fallstudie/bier%20und%20brot?jahr=2026",
	    "https://docs.example.com/integrations/crm/dynamics-365#setup", "https://www.example.com/" } },
	{ .label = "newsletter: VML, <area>, upper-case and unquoted, entities; unsubscribe, notrack, excluded left alone",
	  .file = "html/newsletter.eml",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "4 links left alone",
	  .links = 8,
	  .pixel = TRUE,
	  .targets = { "https://us1.campaign-archive.example.net/?u=7d3f9a1b2c&id=4e5f6a7b8c&e=[UNIQID]",
	    "https://www.example.com/events/emea?src=newsletter&m=11",
	    "https://www.example.com/events/americas?src=newsletter&m=11",
	    "https://www.example.com/blog/2026/11/release-notes?utm_source=newsletter&utm_medium=email&utm_campaign=nov-2026",
	    "https://www.example.com/blog/2026/11/customer-story?utm_source=newsletter&utm_medium=email",
	    "https://www.example.com/webinar/register?id=2026-12-03&src=newsletter",
	    "https://www.example.com/webinar/register?id=2026-12-03&src=newsletter",
	    "https://example.us1.list-manage.example.net/profile?u=7d3f9a1b2c&id=4e5f6a7b8c&e=[UNIQID]" } },
	{ .label = "Apple Mail multipart/related, base64 HTML, inline image untouched",
	  .file = "html/apple-related-base64.eml",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "2 links",
	  .links = 2,
	  .pixel = TRUE,
	  .targets = { "https://www.example.com/projects/harbour-office/floor-plan?rev=7&view=full", "https://quotes.example.com/q/2026-1147" } },
	{ .label = "ISO-2022-JP 7bit, Japanese IDN, query in the document's charset",
	  .file = "html/iso-2022-jp.eml",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "2 links",
	  .links = 2,
	  .pixel = TRUE,
	  .targets = { "https://www.example.com/ja/proposal?id=77&lang=ja",
	    "https://xn--r8jz45g.xn--zckzah/%E8%B3%87%E6%96%99?q=%1B$B8+@Q%1B(B" } },
	{ .label = "Shift_JIS 8bit: ~ in a URL is ASCII, as browsers read it (glibc's SHIFT_JIS reads an overline)",
	  .raw = HDR "Content-Type: text/html; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n"
	    "<html><body><p>\x8e\x91\x97\xbf: <a href=\"https://e.example/~user/index.html\">\x8e\x91\x97\xbf</a>"
	    " <a href=\"https://e.example/q?k=\x8e\x91\x97\xbf\">q</a></p>\n</body></html>\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "rewritten",
	  .links = 2,
	  .pixel = TRUE,
	  .targets = { "https://e.example/~user/index.html", "https://e.example/q?k=%8E%91%97%BF" } },
	{ .label = "ISO-8859-1 label: decoded as windows-1252, as browsers do (0x80 is the euro sign)",
	  .raw = HDR "Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n"
	    "<html><body><p><a href=\"https://e.example/\x80uro/caf\xe9\">Caf\xe9</a></p>\n</body></html>\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "rewritten",
	  .links = 1,
	  .pixel = TRUE,
	  .targets = { "https://e.example/%E2%82%ACuro/caf%C3%A9" } },
	{ .label = "opens only: pixel, links kept",
	  .file = "html/gmail.eml",
	  .opens = TRUE,
	  .clicks = FALSE,
	  .want = REWRITE_DONE,
	  .reason = "0 links rewritten",
	  .pixel = TRUE },
	{ .label = "clicks only: links, no pixel",
	  .file = "html/gmail.eml",
	  .opens = FALSE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "pixel not added",
	  .links = 4 },
	{ .label = "neither opens nor clicks",
	  .file = "html/gmail.eml",
	  .opens = FALSE,
	  .clicks = FALSE,
	  .want = REWRITE_UNCHANGED,
	  .reason = "neither" },
	{ .label = "HTML over max_html_size",
	  .file = "html/newsletter.eml",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .max_html = 1000,
	  .want = REWRITE_UNCHANGED,
	  .reason = "over max_html_size" },
	{ .label = "DKIM-signed: never modified",
	  .file = "mail/inbound/02-gmail-reply.eml",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_REFUSED,
	  .reason = "before the signer" },
	{ .label = "DomainKeys-signed (the older scheme): never modified",
	  .raw = "DomainKey-Signature: a=rsa-sha1; q=dns; c=nofws; s=sel; d=example.com; b=dGVzdA==\n" HDR
	    "Content-Type: text/html; charset=us-ascii\n\n<p><a href=\"https://e.example/\">x</a></p>\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_REFUSED,
	  .reason = "before the signer" },
	{ .label = "S/MIME multipart/signed: never modified",
	  .file = "mail/outbound/10-signed-smime.eml",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_REFUSED,
	  .reason = "multipart/signed" },
	{ .label = "calendar invitation: never modified",
	  .file = "mail/outbound/09-calendar-invite.eml",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_REFUSED,
	  .reason = "text/calendar" },
	{ .label = "base64 with 72-column lines (Thunderbird): lines before the change keep their bytes",
	  .raw = HDR "Content-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"
	    "PGh0bWw+PGJvZHk+DQo8cD5TZWhyIGdlZWhydGUgRGFtZW4gdW5kIEhlcnJlbiw8L3A+DQo8\n"
	    "cD5hbmJlaSBkYXMgQW5nZWJvdC4gV2VpdGVyZSBJbmZvcm1hdGlvbmVuIGZpbmRlbiBTaWUg\n"
	    "YXVmIHVuc2VyZXIgV2Vic2l0ZSwgZGllIHdpciB2b3IgS3VyemVtIGVybmV1ZXJ0IGhhYmVu\n"
	    "LCB1bmQgaW4gdW5zZXJlbSBLYXRhbG9nLjwvcD4NCjxwPkRldGFpbHM6IDxhIGhyZWY9Imh0\n"
	    "dHBzOi8vd3d3LmV4YW1wbGUuY29tL2FuZ2Vib3Q/bnI9NDcxMSZhbXA7dj0yIj5BbmdlYm90\n"
	    "IDQ3MTE8L2E+PC9wPg0KPC9ib2R5PjwvaHRtbD4NCg==\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .reason = "1 links rewritten",
	  .links = 1,
	  .pixel = TRUE,
	  .targets = { "https://www.example.com/angebot?nr=4711&v=2" } },
	{ .label = "QP soft breaks inside a URL and inside =3D and &amp;",
	  .raw = HDR "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
	    "<html><body><p>Read <a href=3D\"ht=\ntps://www.exa=\nmple.com/a?b=3D1&am=\np;c=3D=\n2\">this</a> now.</p>\n"
	    "<p>Unchanged line =E2=80=94 with a dash.</p>\n<p><a href=3D\"https://e.example/t\">trailing blank</a>=20\n"
	    "</body></html>\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "2 links rewritten",
	  .links = 2,
	  .pixel = TRUE,
	  .targets = { "https://www.example.com/a?b=1&c=2", "https://e.example/t" } },
	{ .label = "two HTML parts: links numbered across both, pixel in the first only",
	  .raw = HDR "Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/html; charset=us-ascii\n\n"
	    "<p><a href=\"https://e.example/1\">1</a></p>\n--b1\nContent-Type: image/png; name=\"x.png\"\n"
	    "Content-Disposition: attachment; filename=\"x.png\"\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
	    "--b1\nContent-Type: text/html; charset=us-ascii\n\n<p><a href=\"https://e.example/2\">2</a></p>\n--b1--\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "2 HTML parts",
	  .links = 2,
	  .pixel = TRUE,
	  .targets = { "https://e.example/1", "https://e.example/2" } },
	{ .label = "an HTML attachment and a forwarded message are not body parts",
	  .raw = HDR "Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain\n\nsee attached\n"
	    "--b1\nContent-Type: text/html; name=\"report.html\"\nContent-Disposition: attachment; filename=\"report.html\"\n\n"
	    "<a href=\"https://e.example/r\">r</a>\n--b1\nContent-Type: message/rfc822\n\nSubject: inner\n"
	    "Content-Type: text/html\n\n<a href=\"https://e.example/i\">i</a>\n--b1--\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_UNCHANGED,
	  .reason = "no HTML body part" },
	{ .label = "multipart/related: an HTML part with a Content-ID but disposition attachment is not a body part",
	  .raw = HDR "Content-Type: multipart/related; boundary=\"b1\"\n\n"
	    "--b1\nContent-Type: text/html; charset=us-ascii\n\n<p><a href=\"https://e.example/body\">b</a></p>\n"
	    "--b1\nContent-Type: text/html; charset=us-ascii\nContent-ID: <doc1>\n"
	    "Content-Disposition: attachment; filename=\"invoice.html\"\n\n<a href=\"https://e.example/att\">a</a>\n--b1--\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "in 1 HTML parts",
	  .links = 1,
	  .pixel = TRUE,
	  .targets = { "https://e.example/body" } },
	{ .label = "text/plain only",
	  .raw = HDR "Content-Type: text/plain\n\nhttps://e.example/\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_UNCHANGED,
	  .reason = "no HTML body part" },
	{ .label = "PGP/MIME encrypted: never modified",
	  .raw = HDR "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"p\"\n\n"
	    "--p\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--p\nContent-Type: application/octet-stream\n\n"
	    "-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n--p--\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_REFUSED,
	  .reason = "multipart/encrypted" },
	{ .label = "S/MIME enveloped (application/pkcs7-mime): never modified",
	  .raw = HDR "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n"
	    "Content-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_REFUSED,
	  .reason = "pkcs7-mime" },
	{ .label = "inline PGP signature inside the HTML: never modified",
	  .raw = HDR "Content-Type: text/html\n\n<pre>-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
	    "<a href=\"https://e.example/\">x</a></pre>\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_REFUSED,
	  .reason = "PGP" },
	{ .label = "7bit line that would pass 998 octets: each value on its own line",
	  .raw = HDR "Content-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n<html><body>\n" LONG_LINE
	    "\n<p>Short line.</p>\n</body></html>\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "3 links rewritten",
	  .links = 3,
	  .pixel = TRUE,
	  .own_line = TRUE },
	{ .label = "7bit link whose new URL alone passes 998 octets is left alone",
	  .raw = HDR "Content-Type: text/html; charset=us-ascii\n\n<a href=\"" HUGE_TARGET "\">x</a>\n",
	  .opens = FALSE,
	  .clicks = TRUE,
	  .want = REWRITE_UNCHANGED,
	  .reason = "998" },
	{ .label = "binary transfer encoding has no line limit",
	  .raw = HDR "Content-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: binary\n\n" LONG_LINE "\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "3 links",
	  .links = 3,
	  .pixel = TRUE },
	{ .label = "ISO-2022-JP line written with JIS-Roman does not convert back: left alone",
	  .raw = HDR "Content-Type: text/html; charset=ISO-2022-JP\n\n<p>\x1b(J<a href=\"https://e.example/~x\">x</a>\x1b(B</p>\n",
	  .opens = FALSE,
	  .clicks = TRUE,
	  .want = REWRITE_UNCHANGED,
	  .reason = "convert back" },
	{ .label = "UTF-16 HTML is left alone",
	  .raw = HDR "Content-Type: text/html; charset=utf-16le\nContent-Transfer-Encoding: base64\n\nPABhAD4A\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_UNCHANGED,
	  .reason = "not usable" },
	{ .label = "uuencoded HTML is left alone",
	  .raw = HDR "Content-Type: text/html\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 a.html\n`\nend\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_UNCHANGED,
	  .reason = "transfer encoding" },
	{ .label = "bare LF line ends kept",
	  .raw = HDR "Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
	    "<p>Gr=FC=DFe, <a href=3D\"https://e.example/caf=E9?q=3D=E9\">caf=E9</a></p>\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "1 links",
	  .links = 1,
	  .pixel = TRUE,
	  .lf = TRUE,
	  .targets = { "https://e.example/caf%C3%A9?q=%E9" } },
	{ .label = "regression (fuzz): no </body> and the HTML ends inside a tag: links done, no pixel pasted into the tag",
	  .raw = HDR "Content-Type: text/html; charset=us-ascii\n\n<p><a href=\"https://e.example/1\">1</a></p>\n"
	    "<p>cut <a href=\"https://e.example/2 and the end of the message",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "no pixel",
	  .links = 1,
	  .targets = { "https://e.example/1" } },
	{ .label = "regression (fuzz): an empty HTML part before a boundary gets no pixel (the boundary would move)",
	  .raw = HDR "Content-Type: multipart/alternative; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nx\n"
	    "--b\nContent-Type: text/html\n\n--b--\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_UNCHANGED,
	  .reason = "HTML part 1 is empty" },
	{ .label = "regression (fuzz): <![CDATA[ in the HTML (myhtml without a tree crashed on it)",
	  .raw = HDR "Content-Type: text/html; charset=utf-8\n\n<html><body><svg><![CDATA[ x ]]></svg>"
	    "<a href=\"https://e.example/c\">c</a></body></html>\n",
	  .opens = TRUE,
	  .clicks = TRUE,
	  .want = REWRITE_DONE,
	  .reason = "1 links rewritten",
	  .links = 1,
	  .pixel = TRUE,
	  .targets = { "https://e.example/c" } },
	{ .label = "nothing trackable, opens off",
	  .raw = HDR "Content-Type: text/html\n\n<a href=\"mailto:a@example.com\">m</a> <a href=\"https://e.example/unsubscribe\">u</a>\n",
	  .opens = FALSE,
	  .clicks = TRUE,
	  .want = REWRITE_UNCHANGED,
	  .reason = "1 links left alone" },
};

/* ------------------------------------------------------------- helpers */

typedef struct leaf {
	gsize off, end;              /* content in the raw message */
	gboolean html;               /* an HTML body part */
	char *charset;
	char *utf8;                  /* decoded HTML */
	gsize utf8_len;
	GMimeContentEncoding enc;
} leaf;

/* foreach visitor: the leaves of a message. */
static void
collect(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	GArray *leaves = data;
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	GMimeStream *s;
	leaf l = { 0 };

	if (!GMIME_IS_PART(part))
		return;
	s = g_mime_data_wrapper_get_stream(g_mime_part_get_content(GMIME_PART(part)));
	l.off = s->bound_start;
	l.end = s->bound_end;
	l.enc = g_mime_part_get_content_encoding(GMIME_PART(part));
	l.html = g_mime_content_type_is_type(ct, "text", "html") && !message_part_is_attachment(parent, part);
	if (l.html) {
		GMimeStream *mem = g_mime_stream_mem_new();
		GByteArray *b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		/* decoded as a browser would (the rows' targets check that independently) */
		const char *cs = mime_codec_browser_charset(g_mime_object_get_content_type_parameter(part, "charset"));
		g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(part)), mem);
		l.charset = g_strdup(cs);
		if (cs != NULL && g_ascii_strcasecmp(cs, "utf-8") != 0 && g_ascii_strcasecmp(cs, "us-ascii") != 0)
			l.utf8 = g_convert((const char *)b->data, b->len, "UTF-8", g_mime_charset_iconv_name(cs), NULL, &l.utf8_len, NULL);
		else {
			l.utf8 = g_strndup((const char *)b->data, b->len);
			l.utf8_len = b->len;
		}
		assert_non_null(l.utf8);
		g_object_unref(mem);
	}
	g_array_append_val(leaves, l);
}

/* The leaves of raw. */
static GArray *
leaves_of(const guint8 *raw, gsize len)
{
	GArray *leaves = g_array_new(FALSE, TRUE, sizeof(leaf));
	GMimeStream *st = g_mime_stream_mem_new_with_buffer((const char *)raw, len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);

	assert_non_null(m);
	g_mime_message_foreach(m, collect, leaves);
	g_object_unref(m);
	g_object_unref(p);
	g_object_unref(st);
	return leaves;
}

static void
leaves_free(GArray *leaves)
{
	guint i;

	for (i = 0; i < leaves->len; i++) {
		g_free(g_array_index(leaves, leaf, i).charset);
		g_free(g_array_index(leaves, leaf, i).utf8);
	}
	g_array_unref(leaves);
}

/* The message with the HTML parts' content cut out. */
static GString *
outside_html(const guint8 *raw, gsize len, GArray *leaves)
{
	GString *s = g_string_new(NULL);
	gsize pos = 0;
	guint i;

	for (i = 0; i < leaves->len; i++) {
		const leaf *l = &g_array_index(leaves, leaf, i);
		if (!l->html)
			continue;
		g_string_append_len(s, (const char *)raw + pos, l->off - pos);
		g_string_append(s, "[HTML]");
		pos = l->end;
	}
	g_string_append_len(s, (const char *)raw + pos, len - pos);
	return s;
}

/* Split s[0..n) into lines (with their ends); QP: soft breaks joined. */
static GPtrArray *
lines_of(const char *s, gsize n, gboolean qp)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	GString *cur = g_string_new(NULL);
	gsize p = 0;

	while (p < n) {
		const char *nl = memchr(s + p, '\n', n - p);
		gsize e = nl != NULL ? (gsize)(nl - s) + 1 : n;
		gsize t = e - (nl != NULL) - (nl != NULL && e >= 2 && s[e - 2] == '\r');
		g_string_append_len(cur, s + p, e - p);
		if (!(qp && nl != NULL && t > p && s[t - 1] == '=')) {
			g_ptr_array_add(a, g_strdup(cur->str));
			g_string_truncate(cur, 0);
		}
		p = e;
	}
	if (cur->len > 0)
		g_ptr_array_add(a, g_strdup(cur->str));
	g_string_free(cur, TRUE);
	return a;
}

/* Encoded lines: an unchanged line keeps its bytes; a changed one must
 * have had a link or </body> (or be the last, for a pixel at the end). */
static void
check_encoded_lines(const guint8 *oraw, const leaf *o, const guint8 *nraw, const leaf *n)
{
	const char *oc = (const char *)oraw + o->off, *nc = (const char *)nraw + n->off;
	gboolean qp = o->enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
	GPtrArray *ol, *nl;
	guint i;

	if (o->enc == GMIME_CONTENT_ENCODING_BASE64) {
		/* lines wholly before the first change are the same */
		gsize first = 0, line = strcspn(oc, "\r\n"), per = line / 4 * 3, eol = oc[line] == '\r' ? 2 : 1;
		while (first < o->utf8_len && first < n->utf8_len && o->utf8[first] == n->utf8[first])
			first++;
		assert_true(first / per >= 1);
		assert_memory_equal(oc, nc, (first / per) * (line + eol));
		return;
	}
	ol = lines_of(oc, o->end - o->off, qp);
	nl = lines_of(nc, n->end - n->off, qp);
	assert_true(nl->len == ol->len || nl->len == ol->len + 1);
	for (i = 0; qp && i < nl->len; i++) {
		/* 76 columns at most, and no soft break right before a hard one */
		const char *b = g_ptr_array_index(nl, i);
		gchar **phys = g_strsplit(b, "\n", -1);
		gsize k;
		for (k = 0; phys[k] != NULL; k++)
			assert_true(strlen(phys[k]) <= 77);
		g_strfreev(phys);
		assert_false(strlen(b) > 2 && (g_str_has_suffix(b, "=\r\n\r\n") || g_str_has_suffix(b, "=\n\n")));
	}
	for (i = 0; i < ol->len; i++) {
		const char *a = g_ptr_array_index(ol, i), *b = g_ptr_array_index(nl, i);
		if (strcmp(a, b) != 0)
			assert_true(strstr(a, "href") != NULL || strstr(a, "HREF") != NULL ||
			    g_strstr_len(a, -1, "</body") != NULL || g_strstr_len(a, -1, "</BODY") != NULL ||
			    i + 1 == ol->len);
	}
	g_ptr_array_unref(ol);
	g_ptr_array_unref(nl);
}

/* Decoded check: new text with the old values back and no pixel is the
 * old text; every new link verifies and binds the old target. */
static guint
check_html(const token_ring *ring, const leaf *o, const leaf *n, const rw_case *c, guint *link_no,
    gboolean main_part, gboolean *pixel_seen)
{
	const char *unsub[] = { NULL };
	html_filter f = { exclude, unsub, BASE, o->charset };
	html_scan so = { 0 }, sn = { 0 };
	char *open = token_open_url(ring, BASE, track_id), *px = html_links_pixel(open);
	GString *back = g_string_new(NULL);
	gsize pos = 0;
	guint i, k = 0, done = 0;
	const char *hit;

	assert_true(html_links_scan(NULL, o->utf8, o->utf8_len, &f, &so, NULL));
	assert_true(html_links_scan(NULL, n->utf8, n->utf8_len, &f, &sn, NULL));
	for (i = 0; i < sn.links->len; i++) {
		const html_link *ln = &g_array_index(sn.links, html_link, i), *lo = NULL;
		token_info info = { 0 };
		if (ln->verdict != HTML_SKIP_TRACKER || !g_str_has_prefix(ln->target, BASE "/c/"))
			continue;
		while (k < so.links->len && (lo = &g_array_index(so.links, html_link, k))->verdict != HTML_TRACK)
			k++;
		assert_true(k < so.links->len);
		k++;
		assert_true(token_verify_path(ring, ln->target + strlen(BASE), &info));
		assert_int_equal(info.kind, TOKEN_CLICK);
		assert_memory_equal(info.id, track_id, TOKEN_ID_LEN);
		assert_int_equal(info.link, *link_no);
		assert_string_equal(info.target, lo->target);
		if (c->targets[0] != NULL)
			assert_string_equal(info.target, c->targets[*link_no]);
		token_info_clear(&info);
		g_string_append_len(back, n->utf8 + pos, ln->vstart - pos);
		if (c->own_line && g_str_has_suffix(back->str, "\r\n") &&
		    !(lo->vstart >= 2 && memcmp(o->utf8 + lo->vstart - 2, "\r\n", 2) == 0))
			g_string_truncate(back, back->len - 2);
		g_string_append_len(back, o->utf8 + lo->vstart, lo->vend - lo->vstart);
		pos = ln->vend;
		(*link_no)++;
		done++;
	}
	g_string_append_len(back, n->utf8 + pos, n->utf8_len - pos);
	if ((hit = strstr(back->str, px)) != NULL) {
		gsize at = hit - back->str, pl = strlen(px);
		const char *end_body = g_strrstr(back->str, "</body");
		assert_true(main_part);
		/* right before the last </body>, or at the end before the final
		 * line breaks (a part that ended with one still does) */
		if (end_body != NULL) {
			assert_ptr_equal(hit + pl, end_body);
		} else {
			gsize rest = back->len - (at + pl);
			char last = o->utf8_len > 0 ? o->utf8[o->utf8_len - 1] : 0;
			assert_int_equal(strspn(hit + pl, "\r\n"), rest);
			if (last == '\n' || last == '\r')
				assert_true(rest > 0);
		}
		assert_null(strstr(hit + 1, px));
		*pixel_seen = TRUE;
		g_string_erase(back, at, pl);
		if (c->own_line && at >= 2 && memcmp(back->str + at - 2, "\r\n", 2) == 0 &&
		    !(at + 2 <= o->utf8_len && memcmp(o->utf8 + at - 2, "\r\n", 2) == 0))
			g_string_erase(back, at - 2, 2);
	}
	assert_int_equal(back->len, o->utf8_len);
	assert_memory_equal(back->str, o->utf8, o->utf8_len);
	g_string_free(back, TRUE);
	html_links_clear(&so);
	html_links_clear(&sn);
	g_free(open);
	g_free(px);
	return done;
}

/* The bytes of tests/data/FILE (see test_rewrite.h). */
GByteArray *
tr_data_file(const char *file)
{
	char *path = g_build_filename(TEST_SRCDIR, "tests", "data", file, NULL), *data;
	GByteArray *b = g_byte_array_new();
	gsize len;

	assert_true(g_file_get_contents(path, &data, &len, NULL));
	g_byte_array_append(b, (const guint8 *)data, len);
	g_free(data);
	g_free(path);
	return b;
}

/* The targets of the table row reading FILE (see test_rewrite.h). */
const char *const *
tr_file_targets(const char *file)
{
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		if (g_strcmp0(cases[i].file, file) == 0)
			return cases[i].targets;
	fail_msg("no row reads %s", file);
	return NULL;
}

/* The raw bytes of a case, CRLF unless it says otherwise. */
static GByteArray *
case_raw(const rw_case *c)
{
	GByteArray *b = g_byte_array_new();
	gsize i;

	if (c->file != NULL) {
		g_byte_array_unref(b);
		return tr_data_file(c->file);
	}
	for (i = 0; c->raw[i] != '\0'; i++) {
		if (c->raw[i] == '\n' && !c->lf)
			g_byte_array_append(b, (const guint8 *)"\r", 1);
		g_byte_array_append(b, (const guint8 *)c->raw + i, 1);
	}
	return b;
}

/* ------------------------------------------------------------- tests */

/* Every row of the table, with the invariants above. */
static void
test_cases(void **state)
{
	token_ring *ring = token_ring_from_text(KEYS, "test", NULL);
	html_links_ctx *tok = html_links_ctx_new(NULL);   /* one tokenizer for every row */
	gsize i;

	assert_non_null(ring);
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		const rw_case *c = &cases[i];
		GByteArray *raw = case_raw(c), *body = g_byte_array_new(), *full;
		rewrite_opts o = { .ring = ring, .base_url = BASE, .track_id = track_id, .opens = c->opens, .clicks = c->clicks,
		    .exclude_domains = exclude, .max_html_size = c->max_html, .tokenizer = tok };
		rewrite_stats st = { 0 };
		GError *err = NULL;
		char *reason = NULL;
		rewrite_status s;
		const char *hdr_end;
		GArray *ol, *nl;
		GString *oo, *no;
		guint k, links = 0, link_no = 0, main_seen = 0;
		gboolean pixel = FALSE;

		print_message("case: %s\n", c->label);
		s = rewrite_message(raw->data, raw->len, &o, body, &st, &reason, &err);
		print_message("  %s: %s\n", rewrite_status_name(s), reason);
		assert_null(err);
		assert_string_equal(rewrite_status_name(s), rewrite_status_name(c->want));
		assert_non_null(reason);
		assert_non_null(strstr(reason, c->reason));
		assert_int_equal(st.links, c->links);
		assert_int_equal(st.pixel, c->pixel);
		{
			/* the milter's way: its own parse of the message handed over;
			 * the same status and the same bytes (same tracking id) */
			crm_message *pm = message_parse(raw->data, raw->len, NULL);
			GByteArray *body2 = g_byte_array_new();
			char *reason2 = NULL;
			rewrite_status s2;
			assert_non_null(pm);
			s2 = rewrite_parsed(raw->data, raw->len, message_mime(pm), message_headers_end(pm),
			    &o, body2, NULL, &reason2, NULL);
			assert_int_equal(s2, s);
			assert_int_equal(body2->len, body->len);
			assert_memory_equal(body2->data, body->data, body->len);
			g_free(reason2);
			g_byte_array_unref(body2);
			message_free(pm);
		}
		if (s != REWRITE_DONE) {
			assert_int_equal(body->len, 0);
			goto next;
		}
		/* the new message as it leaves: the original header block, the new body */
		hdr_end = g_strstr_len((const char *)raw->data, raw->len, c->lf ? "\n\n" : "\r\n\r\n");
		assert_non_null(hdr_end);
		full = g_byte_array_new();
		g_byte_array_append(full, raw->data, hdr_end - (const char *)raw->data + (c->lf ? 2 : 4));
		g_byte_array_append(full, body->data, body->len);
		ol = leaves_of(raw->data, raw->len);
		nl = leaves_of(full->data, full->len);
		assert_int_equal(ol->len, nl->len);
		oo = outside_html(raw->data, raw->len, ol);
		no = outside_html(full->data, full->len, nl);
		assert_int_equal(oo->len, no->len);
		assert_memory_equal(oo->str, no->str, oo->len);
		for (k = 0; k < ol->len; k++) {
			const leaf *a = &g_array_index(ol, leaf, k), *b = &g_array_index(nl, leaf, k);
			assert_int_equal(a->html, b->html);
			if (!a->html)
				continue;
			links += check_html(ring, a, b, c, &link_no, main_seen++ == 0, &pixel);
			if (!c->own_line)
				check_encoded_lines(raw->data, a, full->data, b);
		}
		assert_int_equal(links, c->links);
		assert_int_equal(pixel, c->pixel);
		if (c->targets[0] != NULL)
			assert_null(c->targets[links]);
		leaves_free(ol);
		leaves_free(nl);
		g_string_free(oo, TRUE);
		g_string_free(no, TRUE);
		g_byte_array_unref(full);
next:
		g_free(reason);
		g_byte_array_unref(raw);
		g_byte_array_unref(body);
	}
	token_ring_free(ring);
	html_links_ctx_free(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_qp_soft_lines),
		cmocka_unit_test(test_qp_layouts),
		cmocka_unit_test(test_qp_two_links_a_line),
		cmocka_unit_test(test_qp_pixel_after_full_line),
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_old_pixel),
		cmocka_unit_test(test_truncated),
	};

	message_gmime_init();
	return cmocka_run_group_tests_name("rewrite", tests, NULL, NULL);
}

/*
 * fuzz_rewrite.c - libFuzzer target for link rewriting (core/rewrite.c,
 * core/html_links.c, core/url_norm.c, core/mime_codec.c). Each input is
 * used twice:
 *   - as one HTML buffer for html_links_scan: every span it reports lies
 *     inside the buffer, in order, quotes where it says;
 *   - as a raw message for rewrite_message (opens and clicks): no crash,
 *     a reason always, new_body only on REWRITE_DONE; what it returns,
 *     rewritten again with clicks only, has nothing left to rewrite (every
 *     link it wrote is found again as one of the tracker's); and no
 *     quoted-printable or base64 HTML part of it has a line wider than 76
 *     columns or than the widest line of the original body.
 *
 * Built and run by fuzz/run-fuzz.sh (clang, -fsanitize=fuzzer,address,
 * undefined; link -lmodest -lm -lpthread and gmime-3.0). Compiled with
 * -DFUZZ_REWRITE_SEEDS it is instead a small program that writes seed
 * messages (quoted-printable, base64, VML, ISO-2022-JP, multipart, quoted
 * pixels of ours) into the
 * directory given, to start the corpus from real shapes.
 *
 * Public: LLVMFuzzerTestOneInput (and main with FUZZ_REWRITE_SEEDS).
 * The ring and the tokenizer are made once and never freed (harness only;
 * core/ keeps no global state).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "html_links.h"
#include "message.h"
#include "mime_codec.h"
#include "rewrite.h"
#include "token.h"

#define FUZZ_KEYS "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

static const guint8 fuzz_id[TOKEN_ID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
static const char *const fuzz_exclude[] = { "partner.test", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Options with the fixed ring and tokenizer, made on first use. */
static rewrite_opts
fuzz_opts(gboolean opens)
{
	static token_ring *ring;
	static html_links_ctx *ctx;
	rewrite_opts o = { 0 };

	if (ring == NULL) {
		message_gmime_init();
		ring = token_ring_from_text(FUZZ_KEYS, "fuzz", NULL);
		ctx = html_links_ctx_new(NULL);
		if (ring == NULL || ctx == NULL)
			abort();
	}
	o.ring = ring;
	o.base_url = "https://t.example.com";
	o.track_id = fuzz_id;
	o.opens = opens;
	o.clicks = TRUE;
	o.exclude_domains = fuzz_exclude;
	o.max_html_size = 64 * 1024;
	o.tokenizer = ctx;
	return o;
}

/* The spans html_links_scan reports are inside the buffer and consistent. */
static void
check_scan(const char *html, gsize len, html_links_ctx *ctx)
{
	html_scan s;
	gsize prev = 0;
	guint i;

	if (!html_links_scan(ctx, html, len, NULL, &s, NULL))
		return;
	if (s.pixel_at < -1 || s.pixel_at > (gssize)len)
		abort();
	for (i = 0; i < s.links->len; i++) {
		const html_link *l = &g_array_index(s.links, html_link, i);
		if (l->start >= l->end || l->end > len || l->start < prev || l->url == NULL || l->tag == NULL)
			abort();
		if (l->quote != 0 && (l->vstart + 1 != l->start || html[l->vstart] != l->quote))
			abort();
		if ((l->verdict == HTML_TRACK) != (l->target != NULL && l->verdict == HTML_TRACK))
			abort();
		prev = l->end;
	}
	html_links_clear(&s);
}

/* Where GMime says the header block ends (as rewrite_message cuts it):
 * the offset of the body, or 0 when it does not end in CRLF CRLF. */
static gsize
body_offset(const uint8_t *data, size_t size)
{
	crm_message *m = message_parse(data, size, NULL);
	gint64 he = m != NULL ? message_headers_end(m) : -1;
	gsize at = 0;

	if (he >= 2 && (gsize)he + 2 <= size && memcmp(data + he - 2, "\r\n\r\n", 4) == 0)
		at = he + 2;
	message_free(m);
	return at;
}

/* g_mime_message_foreach visitor: collect the quoted-printable and base64
 * text/html leaves (borrowed from the message) into the GPtrArray out,
 * the parts the rewriter walks the same way (core/rewrite.c). */
static void
qp_html_part(GMimeObject *parent, GMimeObject *o, gpointer out)
{
	GMimeContentEncoding enc;

	(void)parent;
	if (!GMIME_IS_PART(o) || !g_mime_content_type_is_type(g_mime_object_get_content_type(o), "text", "html") ||
	    g_mime_part_get_content(GMIME_PART(o)) == NULL)
		return;
	enc = g_mime_part_get_content_encoding(GMIME_PART(o));
	if (enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE || enc == GMIME_CONTENT_ENCODING_BASE64)
		g_ptr_array_add(out, o);
}

/* The widest line of a part's encoded content. */
static gsize
widest_line(GMimeObject *o)
{
	GMimeStream *raw = g_mime_data_wrapper_get_stream(g_mime_part_get_content(GMIME_PART(o)));
	GByteArray *b = g_byte_array_new();
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(b);
	gsize w;

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	g_mime_stream_reset(raw);
	g_mime_stream_write_to_stream(raw, mem);
	w = mime_codec_longest_line((const char *)b->data, b->len);
	g_object_unref(mem);
	g_byte_array_unref(b);
	return w;
}

/* No quoted-printable or base64 HTML part of msg is wider than 76 columns
 * or than the widest line of the original body (orig[body..olen): lines
 * of the sender's that we keep). Not paired part by part: in a mangled
 * message GMime may cut the new body into parts otherwise. */
static void
check_widths(const uint8_t *orig, size_t olen, gsize body, const guint8 *msg, gsize mlen)
{
	crm_message *cm = message_parse(msg, mlen, NULL);
	GMimeMessage *m = cm != NULL ? message_mime(cm) : NULL;
	GPtrArray *parts = g_ptr_array_new();
	gsize limit = MAX(76, mime_codec_longest_line((const char *)orig + body, olen - body));
	guint i;

	if (m != NULL)
		g_mime_message_foreach(m, qp_html_part, parts);
	for (i = 0; i < parts->len; i++) {
		gsize w = widest_line(g_ptr_array_index(parts, i));
		if (w > limit) {
			fprintf(stderr, "part %u: a line of %zu columns, at most %zu before\n", i, w, limit);
			abort();
		}
	}
	g_ptr_array_unref(parts);
	message_free(cm);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rewrite_opts o = fuzz_opts(TRUE), again = fuzz_opts(FALSE);
	GByteArray *body = g_byte_array_new(), *msg, *body2;
	rewrite_stats st = { 0 };
	char *reason = NULL;
	gsize at;
	rewrite_status s;

	check_scan((const char *)data, size, o.tokenizer);
	s = rewrite_message(data, size, &o, body, &st, &reason, NULL);
	if (reason == NULL || (s != REWRITE_DONE && body->len != 0) || (s == REWRITE_DONE && st.parts == 0))
		abort();
	g_free(reason);
	at = s == REWRITE_DONE ? body_offset(data, size) : 0;
	if (at > 0) {
		/* the same header block with the new body, rewritten again */
		msg = g_byte_array_new();
		g_byte_array_append(msg, data, at);
		g_byte_array_append(msg, body->data, body->len);
		check_widths(data, size, at, msg->data, msg->len);
		body2 = g_byte_array_new();
		memset(&st, 0, sizeof(st));
		reason = NULL;
		s = rewrite_message(msg->data, msg->len, &again, body2, &st, &reason, NULL);
		if (st.links != 0) {
			fprintf(stderr, "second pass rewrote %u links: %s\n", st.links, reason);
			abort();
		}
		g_free(reason);
		g_byte_array_unref(body2);
		g_byte_array_unref(msg);
	}
	g_byte_array_unref(body);
	return 0;
}

#ifdef FUZZ_REWRITE_SEEDS
static const char *const seeds[] = {
	"From: a@example.com\r\nTo: b@customer.test\r\nMIME-Version: 1.0\r\n"
	"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	"<html><body><a href=3D\"https://www.exa=\r\nmple.com/a?b=3D1&amp;c=3D2\">x</a> <A HREF=3Dhttp://e.example/u>u</A>\r\n"
	"<area href=3D'https://e.example/m' alt=3D\"m\"><a href=3D\"mailto:x@y\">m</a>\r\n</body></html>\r\n",

	"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
	"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\n"
	"PGJvZHk+PGEgaHJlZj0iaHR0cHM6Ly9lLmV4YW1wbGUvcCI+cDwvYT48L2JvZHk+DQo=\r\n--b--\r\n",

	"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
	"<td><!--[if mso]><v:roundrect xmlns:v=\"urn:schemas-microsoft-com:vml\" href=\"https://e.example/r\">"
	"<center>Go</center></v:roundrect><![endif]--><a href=\"https://e.example/r\">Go</a> "
	"<a href=\"https://e.example/unsubscribe\">Unsubscribe</a></td>\r\n",

	"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=ISO-2022-JP\r\n\r\n"
	"<p>\x1b$B%F%9%H\x1b(B<a href=\"https://e.example/ja?q=1\">\x1b$B%j%s%/\x1b(B</a></p>\r\n",

	"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n"
	"--r\r\nContent-Type: text/html; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	"<p>caf\xe9 <a href=\"https://e.example/caf\xe9\">x</a><img src=\"cid:i1\"></p>\r\n"
	"--r\r\nContent-Type: image/gif\r\nContent-ID: <i1>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	"R0lGODlhAQABAAAAACw=\r\n--r--\r\n",

	/* Outlook: windows-1252 quoted-printable, a link after an escape and one
	 * across a soft break; ISO-2022-JP quoted-printable */
	"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=windows-1252\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	"<p>caf=e9 <a href=3D\"https://e.example/a?b=3D1&amp;c=3D2\">caf=E9</a> =97 <a hr=\r\n"
	"ef=3D'https://e.example/=\r\nlong/path'>x</a></p></body>\r\n",

	"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=ISO-2022-JP\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	"<p>=1B$B%F%9%H=1B(B<a href=3D\"https://e.example/ja?q=3D1\">=1B$B%j%s%/=1B(B</a></p>\r\n",

	/* a reply quoting our pixels (neutralised), one unquoted, one in mso */
	"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	"<p>Yes</p><blockquote><img src=3D\"https://t.example.com/o/AQ=\r\nIDBA.gif\" width=3D1>"
	"<IMG SRC=3Dhttps://T.example.com/o/x.gif><!--[if mso]><img src=3D'https://t.example.com/o/y.gif'>"
	"<![endif]--></blockquote></body>\r\n",
};

/* Write the seeds into argv[1]. */
int
main(int argc, char **argv)
{
	gsize i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (i = 0; i < G_N_ELEMENTS(seeds); i++) {
		char *name = g_strdup_printf("%s/seed-%02" G_GSIZE_FORMAT ".eml", argv[1], i);
		if (!g_file_set_contents(name, seeds[i], -1, NULL))
			abort();
		g_free(name);
	}
	return 0;
}
#endif

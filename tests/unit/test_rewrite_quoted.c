/*
 * test_rewrite_quoted.c - rewriting what quotes or is quoted: our pixels
 * in a reply quoting earlier tracked mail (neutralised), quoted-printable
 * with one long hard line (the bytes around a link's value stay), and
 * links at random places of quoted-printable lines, two links on a line.
 * Run by test_rewrite.c.
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
#include "mime_codec.h"
#include "rewrite.h"
#include "test_rewrite.h"

/* Quoted-printable for test input (see test_rewrite.h). */
void
tr_qp_crlf(const char *text, gsize n, gboolean crlf, GString *out)
{
	guchar *enc = g_malloc(GMIME_QP_ENCODE_LEN(n) + 8);
	int state = -1;
	guint32 save = 0;
	gsize len = g_mime_encoding_quoted_encode_close((const guchar *)text, n, enc, &state, &save), i;

	for (i = 0; i < len; i++) {
		if (crlf && enc[i] == '\n')
			g_string_append_c(out, '\r');
		g_string_append_c(out, (char)enc[i]);
	}
	g_free(enc);
}

/* The header block of a one-part HTML test message in charset and
 * transfer encoding cte, appended to raw. */
static void
html_head(GString *raw, const char *charset, const char *cte)
{
	g_string_append_printf(raw, "From: Ann <ann@example.com>\r\nTo: bob@customer.test\r\nSubject: s\r\n"
	    "Message-ID: <q1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=%s\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n", charset, cte);
}

/* Quoted-printable b[0..n) decoded with GMime's decoder (new string). */
static char *
qp_decoded(const guint8 *b, gsize n)
{
	guchar *dec = g_malloc(n + 1);
	int state = 0;
	guint32 save = 0;
	gsize len = g_mime_encoding_quoted_decode_step(b, n, dec, &state, &save);

	dec[len] = '\0';
	return (char *)dec;
}

/* A reply quoting earlier tracked mail: that mail's pixel loads nothing
 * (src=""), this message gets its own, and nothing else changes: the new
 * body is exactly the old one with those two edits, in 8bit and in
 * quoted-printable. */
void
test_old_pixel(void **state)
{
	static const guint8 old_id[TOKEN_ID_LEN] = { 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9 };
	token_ring *ring = token_ring_from_text(KEYS, "test", NULL);
	char *old_px = token_open_url(ring, BASE, old_id), *new_px = token_open_url(ring, BASE, track_id);
	char *new_img = html_links_pixel(new_px);
	rewrite_opts o = { .ring = ring, .base_url = BASE, .track_id = track_id, .opens = TRUE, .clicks = FALSE,
	    .exclude_domains = NULL, .max_html_size = 0, .tokenizer = NULL };
	char *html = g_strdup_printf("<p>Yes, let's talk.</p><blockquote><p>Dear Bob, our offer.</p>"
	    "<img src=\"%s\" width=\"1\" height=\"1\" alt=\"\"></blockquote></body>", old_px);
	char *want = g_strdup_printf("<p>Yes, let's talk.</p><blockquote><p>Dear Bob, our offer.</p>"
	    "<img src=\"\" width=\"1\" height=\"1\" alt=\"\"></blockquote>%s</body>", new_img);
	int qp;

	(void)state;
	for (qp = 0; qp < 2; qp++) {
		GString *raw = g_string_new(NULL);
		GByteArray *body = g_byte_array_new();
		rewrite_stats st = { 0 };
		char *reason = NULL, *decoded;

		html_head(raw, "utf-8", qp ? "quoted-printable" : "8bit");
		if (qp)
			tr_qp_crlf(html, strlen(html), FALSE, raw);
		else
			g_string_append(raw, html);
		print_message("case: %s\n", qp ? "quoted-printable" : "8bit");
		assert_int_equal(rewrite_message((const guint8 *)raw->str, raw->len, &o, body, &st, &reason, NULL),
		    REWRITE_DONE);
		assert_int_equal(st.old_pixels, 1);
		assert_int_equal(st.links, 0);           /* an old pixel is no link */
		assert_true(st.pixel);
		if (qp)
			decoded = qp_decoded(body->data, body->len);
		else
			decoded = g_strndup((const char *)body->data, body->len);
		assert_string_equal(decoded, want);
		assert_null(strstr(decoded, old_px));
		g_free(decoded);
		g_free(reason);
		g_byte_array_unref(body);
		g_string_free(raw, TRUE);
	}
	g_free(html);
	g_free(want);
	g_free(old_px);
	g_free(new_px);
	g_free(new_img);
	token_ring_free(ring);
}

/* Quoted-printable with one long hard line (as Gmail writes HTML): every
 * byte before the link's value stays, in the soft line holding it too;
 * every byte after it stays (a soft break may end the value's last
 * line); the part decodes to the HTML with only the value replaced; and
 * every line stays within 76. */
void
test_qp_soft_lines(void **state)
{
	token_ring *ring = token_ring_from_text(KEYS, "test", NULL);
	rewrite_opts o = { .ring = ring, .base_url = BASE, .track_id = track_id, .opens = FALSE, .clicks = TRUE,
	    .exclude_domains = NULL, .max_html_size = 0, .tokenizer = NULL };
	GString *html = g_string_new("<div dir=\"ltr\">"), *raw = g_string_new(NULL), *enc = g_string_new(NULL);
	GByteArray *body = g_byte_array_new();
	rewrite_stats st = { 0 };
	char *reason = NULL, **lines, *head, *tail;
	gsize i, first_a = 0, last_a = 0, nl;

	(void)state;
	for (i = 0; i < 12; i++)
		g_string_append(html, "Lorem ipsum dolor sit amet, caf\xc3\xa9 consectetur adipiscing elit. ");
	g_string_append(html, "<a href=\"https://www.example.com/offer?a=1&amp;b=2\">the offer</a>");
	for (i = 0; i < 12; i++)
		g_string_append(html, " More text after the link, to fill a few more soft lines.");
	g_string_append(html, "</div>\n");
	tr_qp_crlf(html->str, html->len, TRUE, enc);
	html_head(raw, "UTF-8", "quoted-printable");
	g_string_append_len(raw, enc->str, enc->len);
	assert_int_equal(rewrite_message((const guint8 *)raw->str, raw->len, &o, body, &st, &reason, NULL),
	    REWRITE_DONE);
	assert_int_equal(st.links, 1);
	/* the soft lines wholly before the one with "<a " and after the one
	 * with "</a>" */
	lines = g_strsplit(enc->str, "\r\n", -1);
	nl = g_strv_length(lines);
	for (i = 0; i < nl; i++) {
		if (first_a == 0 && strstr(lines[i], "<a ") != NULL)
			first_a = i;
		if (strstr(lines[i], "</a>") != NULL)
			last_a = i;
	}
	assert_true(first_a >= 3 && last_a + 4 < nl);
	g_free(lines[first_a]);
	lines[first_a] = NULL;
	head = g_strjoinv("\r\n", lines);
	lines[first_a] = g_strdup("");
	tail = g_strjoinv("\r\n", lines + last_a + 1);
	assert_true(body->len > strlen(head) + strlen(tail));
	assert_memory_equal(body->data, head, strlen(head));
	assert_memory_equal(body->data + body->len - strlen(tail), tail, strlen(tail));
	/* finer: the soft line holding the value keeps its bytes up to it
	 * ("ref=3D\""), and everything from its closing quote on stays */
	{
		const char *va = strstr(enc->str, "ref=3D\"https"), *vz = strstr(enc->str, "\">the offer");
		char *url = token_click_url(ring, BASE, track_id, 0, "https://www.example.com/offer?a=1&b=2");
		char *want, *got;
		gsize keep;

		assert_non_null(va);                     /* the input puts them on one line each */
		assert_non_null(vz);
		assert_true(va > enc->str + strlen(head));   /* "<a h=" ends the line before */
		keep = (gsize)(va - enc->str) + strlen("ref=3D\"");
		assert_memory_equal(body->data, enc->str, keep);
		assert_true(body->len >= strlen(vz));
		assert_memory_equal(body->data + body->len - strlen(vz), vz, strlen(vz));
		got = qp_decoded(body->data, body->len);
		want = g_strdup(html->str);
		want[strlen(want) - 1] = '\0';          /* the input's line end is CRLF */
		{
			char *at = strstr(want, "https://www.example.com/offer?a=1&amp;b=2");
			GString *w = g_string_new_len(want, at - want);
			g_string_append(w, url);
			g_string_append(w, at + strlen("https://www.example.com/offer?a=1&amp;b=2"));
			g_string_append(w, "\r\n");
			g_free(want);
			want = g_string_free(w, FALSE);
		}
		assert_string_equal(got, want);
		g_free(got);
		g_free(want);
		g_free(url);
	}
	/* and no line over 76 columns */
	g_strfreev(lines);
	assert_true(mime_codec_longest_line((const char *)body->data, body->len) <= 76);
	g_free(head);
	g_free(tail);
	g_free(reason);
	g_byte_array_unref(body);
	g_string_free(html, TRUE);
	g_string_free(raw, TRUE);
	g_string_free(enc, TRUE);
	token_ring_free(ring);
}

/* Text of random length for test_qp_layouts: words, non-ASCII in UTF-8
 * or windows-1252 (escaped in quoted-printable), '=' (escaped too), now
 * and then a line end. */
static void
qpl_filler(GRand *rnd, gboolean cp1252, GString *html)
{
	static const char *const utf8[] = { "word ", "caf\xc3\xa9 ", "a=b ", "x", "  ", "\xe2\x80\x94", "\n" };
	static const char *const cp[] = { "word ", "caf\xe9 ", "a=b ", "x", "  ", "\x97", "\n" };
	const char *const *bits = cp1252 ? cp : utf8;
	gint32 n = g_rand_int_range(rnd, 0, 40), k;

	for (k = 0; k < n; k++) {
		gint32 b = g_rand_int_range(rnd, 0, G_N_ELEMENTS(utf8));
		if (b == (gint32)G_N_ELEMENTS(utf8) - 1 && g_rand_int_range(rnd, 0, 4) != 0)
			b = 0;                   /* line ends now and then only */
		g_string_append(html, bits[b]);
	}
}

/* s without its quoted-printable soft breaks ("=" CRLF); a new string. */
static char *
qpl_unfold(const char *s, gsize n)
{
	GString *o = g_string_sized_new(n);
	gsize i;

	for (i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n')
			i += 2;
		else
			g_string_append_c(o, s[i]);
	}
	return g_string_free(o, FALSE);
}

/* Quoted-printable layouts: links at random columns of random soft and
 * hard lines (before, after and between escapes and soft breaks, several
 * on a line) in 300 documents in UTF-8 and 300 in windows-1252 (Outlook). Each part decodes to exactly the HTML with
 * every value replaced by its click URL and the pixel before </body>,
 * no line is longer than 76 (or the input's longest), and every byte
 * outside the values stays:
 * the input's escapes are in lower case (as some encoders write them,
 * GMime writes upper case), and with soft breaks taken out the output is
 * the input with only the values replaced and the pixel added. */
void
test_qp_layouts(void **state)
{
	token_ring *ring = token_ring_from_text(KEYS, "test", NULL);
	rewrite_opts o = { .ring = ring, .base_url = BASE, .track_id = track_id, .opens = TRUE, .clicks = TRUE,
	    .exclude_domains = NULL, .max_html_size = 0, .tokenizer = NULL };
	char *open = token_open_url(ring, BASE, track_id), *px = html_links_pixel(open);
	guint32 seed;

	(void)state;
	for (seed = 1; seed <= 600; seed++) {
		GRand *rnd = g_rand_new_with_seed(seed);
		gboolean cp1252 = seed > 300;
		GString *html = g_string_new("<html><body>"), *want = g_string_new("<html><body>");
		GString *raw = g_string_new(NULL);
		GByteArray *body = g_byte_array_new();
		rewrite_stats st = { 0 };
		char *reason = NULL, *got;
		gint32 i, links = g_rand_int_range(rnd, 1, 7);
		gsize n, in_at = 0;

		for (i = 0; i < links; i++) {
			char *target = g_strdup_printf("https://www.example.com/p/%d?x=1&y=2", i);
			char *url = token_click_url(ring, BASE, track_id, (guint)i, target);
			gsize at = html->len;
			qpl_filler(rnd, cp1252, html);
			g_string_append_len(want, html->str + at, html->len - at);
			g_string_append_printf(html, "<a href=\"https://www.example.com/p/%d?x=1&amp;y=2\">link %d</a>", i, i);
			g_string_append_printf(want, "<a href=\"%s\">link %d</a>", url, i);
			g_free(target);
			g_free(url);
		}
		{
			gsize at = html->len;
			qpl_filler(rnd, cp1252, html);
			g_string_append_len(want, html->str + at, html->len - at);
		}
		g_string_append(html, "</body></html>\n");
		g_string_append_printf(want, "%s</body></html>\n", px);
		html_head(raw, cp1252 ? "windows-1252" : "utf-8", "quoted-printable");
		{
			gsize from = raw->len, k;
			tr_qp_crlf(html->str, html->len, TRUE, raw);
			for (k = from; k + 2 < raw->len; k++)   /* escapes in lower case */
				if (raw->str[k] == '=' && g_ascii_isxdigit(raw->str[k + 1]) &&
				    g_ascii_isxdigit(raw->str[k + 2])) {
					raw->str[k + 1] = g_ascii_tolower(raw->str[k + 1]);
					raw->str[k + 2] = g_ascii_tolower(raw->str[k + 2]);
					k += 2;
				}
			in_at = from;
		}
		if (rewrite_message((const guint8 *)raw->str, raw->len, &o, body, &st, &reason, NULL) != REWRITE_DONE ||
		    st.links != (guint)links)
			print_message("seed %u: %s\n", seed, reason);
		assert_int_equal(st.links, links);
		assert_true(st.pixel);
		got = qp_decoded(body->data, body->len);
		{                                        /* the input's line ends are CRLF */
			char **parts = g_strsplit(want->str, "\n", -1), *crlf = g_strjoinv("\r\n", parts);
			if (strcmp(got, crlf) != 0)
				print_message("seed %u\n", seed);
			assert_string_equal(got, crlf);
			g_strfreev(parts);
			g_free(crlf);
		}
		{                                        /* bytes outside the values */
			char *in = qpl_unfold(raw->str + in_at, raw->len - in_at);
			char *out = qpl_unfold((const char *)body->data, body->len);
			GString *pxq = g_string_new(NULL), *exp = g_string_new(NULL);
			char *pxu, *p = in;
			tr_qp_crlf(px, strlen(px), TRUE, pxq);
			pxu = qpl_unfold(pxq->str, pxq->len);
			for (i = 0; i < links; i++) {
				char *old_v = g_strdup_printf("https://www.example.com/p/%d?x=3d1&amp;y=3d2", i);
				char *target = g_strdup_printf("https://www.example.com/p/%d?x=1&y=2", i);
				char *url = token_click_url(ring, BASE, track_id, (guint)i, target), *at = strstr(p, old_v);
				assert_non_null(at);
				g_string_append_len(exp, p, at - p);
				g_string_append(exp, url);
				p = at + strlen(old_v);
				g_free(old_v);
				g_free(target);
				g_free(url);
			}
			{
				char *b = strstr(p, "</body>");
				assert_non_null(b);
				g_string_append_len(exp, p, b - p);
				g_string_append(exp, pxu);
				g_string_append(exp, b);
			}
			if (strcmp(out, exp->str) != 0)
				print_message("seed %u: bytes outside the values changed\n", seed);
			assert_string_equal(out, exp->str);
			g_free(in);
			g_free(out);
			g_free(pxu);
			g_string_free(pxq, TRUE);
			g_string_free(exp, TRUE);
		}
		/* no line longer than 76 or than the input's longest (GMime, which
		 * wrote the input, puts "=20" at 75 before a line end) */
		n = MAX(76, mime_codec_longest_line(raw->str + in_at, raw->len - in_at));
		if (mime_codec_longest_line((const char *)body->data, body->len) > n)
			print_message("seed %u: a line wider than %zu\n", seed, n);
		assert_true(mime_codec_longest_line((const char *)body->data, body->len) <= n);
		g_free(got);
		g_free(reason);
		g_byte_array_unref(body);
		g_string_free(raw, TRUE);
		g_string_free(want, TRUE);
		g_string_free(html, TRUE);
		g_rand_free(rnd);
	}
	g_free(open);
	g_free(px);
	token_ring_free(ring);
}

/* A quoted-printable HTML part whose first link, to target, has its
 * value's last byte on the next line (after a soft break), then its text:
 * raw ends with "...\">one</a>" for the caller to go on. */
static void
split_link_part(GString *raw, const GString *target)
{
	html_head(raw, "UTF-8", "quoted-printable");
	g_string_append(raw, "<p><a href=3D\"");
	g_string_append_len(raw, target->str, (gssize)target->len - 1);
	g_string_append_printf(raw, "=\r\n%c\">one</a>", target->str[target->len - 1]);
}

/* Two links on one quoted-printable line, the first one's value begun on
 * the line before (a soft break inside it): the second value starts where
 * the first one's new tail and the bytes after it leave it, not where it
 * stood in the original line. For first targets of every length that
 * fits, every line stays within 76 and the part decodes to the HTML with
 * both values replaced. (Found by the rewrite fuzzer: a 79-column line.) */
void
test_qp_two_links_a_line(void **state)
{
	token_ring *ring = token_ring_from_text(KEYS, "test", NULL);
	rewrite_opts o = { .ring = ring, .base_url = BASE, .track_id = track_id, .opens = FALSE, .clicks = TRUE,
	    .exclude_domains = NULL, .max_html_size = 0, .tokenizer = NULL };
	const char *second = "https://e.example/second";
	gsize pad;

	(void)state;
	for (pad = 0; pad <= 36; pad++) {
		GString *t1 = g_string_new("https://www.example.com/p/"), *raw = g_string_new(NULL);
		GString *want = g_string_new(NULL);
		GByteArray *body = g_byte_array_new();
		rewrite_stats st = { 0 };
		char *reason = NULL, *u1, *u2, *got;
		gsize w;

		g_string_append_len(t1, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnop", (gssize)pad);
		split_link_part(raw, t1);
		g_string_append_printf(raw, " and <a href=3D\"%s\">two</a></p>\r\n", second);
		assert_int_equal(rewrite_message((const guint8 *)raw->str, raw->len, &o, body, &st, &reason, NULL),
		    REWRITE_DONE);
		assert_int_equal(st.links, 2);
		if ((w = mime_codec_longest_line((const char *)body->data, body->len)) > 76)
			fail_msg("first target of %zu bytes: a line of %zu columns", t1->len, w);
		u1 = token_click_url(ring, BASE, track_id, 0, t1->str);
		u2 = token_click_url(ring, BASE, track_id, 1, second);
		g_string_printf(want, "<p><a href=\"%s\">one</a> and <a href=\"%s\">two</a></p>\r\n", u1, u2);
		got = qp_decoded(body->data, body->len);
		assert_string_equal(got, want->str);
		g_free(got);
		g_free(u1);
		g_free(u2);
		g_free(reason);
		g_byte_array_unref(body);
		g_string_free(want, TRUE);
		g_string_free(raw, TRUE);
		g_string_free(t1, TRUE);
	}
	token_ring_free(ring);
}

/* The pixel at the end of a part with no </body>, right before its final
 * line break, on a line that a link's new tail and the bytes after it
 * have filled: for every first target length up to a few lines, no line
 * passes 76 columns (no soft break after column 75: "=" would be the
 * 77th) and the part decodes to the HTML with the link replaced and the
 * pixel before the final CRLF. (Found by the rewrite fuzzer.) */
void
test_qp_pixel_after_full_line(void **state)
{
	token_ring *ring = token_ring_from_text(KEYS, "test", NULL);
	rewrite_opts o = { .ring = ring, .base_url = BASE, .track_id = track_id, .opens = TRUE,
	    .clicks = TRUE };
	gsize pad;

	(void)state;
	for (pad = 0; pad <= 120; pad++) {
		GString *t1 = g_string_new("https://www.example.com/p/"), *raw = g_string_new(NULL);
		GString *want = g_string_new(NULL);
		GByteArray *body = g_byte_array_new();
		rewrite_stats st = { 0 };
		char *reason = NULL, *u1, *got;
		gsize w;

		for (gsize i = 0; i < pad; i++)
			g_string_append_c(t1, (char)('a' + i % 26));
		split_link_part(raw, t1);
		g_string_append(raw, "</p>\r\n");
		assert_int_equal(rewrite_message((const guint8 *)raw->str, raw->len, &o, body, &st, &reason, NULL),
		    REWRITE_DONE);
		assert_int_equal(st.links, 1);
		assert_true(st.pixel);
		if ((w = mime_codec_longest_line((const char *)body->data, body->len)) > 76)
			fail_msg("target of %zu bytes: a line of %zu columns", t1->len, w);
		u1 = token_click_url(ring, BASE, track_id, 0, t1->str);
		g_string_printf(want, "<p><a href=\"%s\">one</a></p><img src=\"%s/o/", u1, BASE);
		got = qp_decoded(body->data, body->len);
		if (!g_str_has_prefix(got, want->str) || !g_str_has_suffix(got, "\">\r\n"))
			fail_msg("target of %zu bytes: decoded \"%s\"", t1->len, got);
		g_free(got);
		g_free(u1);
		g_free(reason);
		g_byte_array_unref(body);
		g_string_free(want, TRUE);
		g_string_free(raw, TRUE);
		g_string_free(t1, TRUE);
	}
	token_ring_free(ring);
}

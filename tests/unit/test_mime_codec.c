/*
 * test_mime_codec.c - mime_codec_qp_encode against GMime's own encoder:
 * text of literal bytes (folded without GMime) and text with escapes,
 * blanks and line ends (GMime's path) must come out byte for byte as
 * g_mime_encoding_quoted_encode_close writes it, at every starting
 * column and both line ends; except where GMime writes a line over 76
 * columns (a blank before a line end after column 74, bare CRs), which
 * must come out folded to 76 and still decode to the text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <gmime/gmime.h>

#include "mime_codec.h"

/* GMime's encoding of d[0..n) (no hard line ends in it) starting after col
 * characters, its soft breaks written as eol, without the soft break it
 * adds after a final "=20" (as mime_codec_qp_encode drops it). */
static GByteArray *
reference(const char *d, gsize n, gsize col, const char *eol)
{
	GByteArray *out = g_byte_array_new();
	guint8 *buf = g_malloc(GMIME_QP_ENCODE_LEN(n) + 8);
	int state = -1;
	guint32 save = (guint32)MIN(col, 76);
	gsize len = g_mime_encoding_quoted_encode_close((const guchar *)d, n, buf, &state, &save), k;

	if (len >= 2 && buf[len - 2] == '=' && buf[len - 1] == '\n')
		len -= 2;
	for (k = 0; k < len; k++) {
		if (buf[k] == '\n')
			g_byte_array_append(out, (const guint8 *)eol, (guint)strlen(eol));
		else
			g_byte_array_append(out, buf + k, 1);
	}
	g_free(buf);
	return out;
}

/* The longest line of enc[0..n), the first after col characters. */
static gsize
widest(const guint8 *enc, gsize n, gsize col)
{
	const guint8 *nl = n > 0 ? memchr(enc, '\n', n) : NULL;
	gsize first = nl != NULL ? (gsize)(nl - enc) + 1 : n;   /* with its line end */

	return MAX(col + mime_codec_longest_line((const char *)enc, first),
	    mime_codec_longest_line((const char *)enc + first, n - first));
}

/* enc decodes to exactly d[0..n) (GMime's decoder), every line within 76
 * columns after col. */
static void
valid_encoding(const guint8 *enc, gsize len, const char *d, gsize n, gsize col)
{
	guint8 *back = g_malloc(len + 1);
	int state = 0;
	guint32 save = 0;
	gsize bl = g_mime_encoding_quoted_decode_step(enc, len, back, &state, &save);

	if (widest(enc, len, MIN(col, 76)) > 76 || bl != n || memcmp(back, d, n) != 0)
		fail_msg("col %zu, %zu bytes \"%.*s\": \"%.*s\" is too wide or decodes to \"%.*s\"",
		    col, n, (int)n, d, (int)len, enc, (int)bl, back);
	g_free(back);
}

/* mime_codec_qp_encode of d at col, after a prefix already in out (which
 * it must keep), equals the reference, or where GMime's line is too
 * wide, is a valid encoding within 76 columns. */
static void
same_as_gmime(const char *d, gsize n, gsize col, const char *eol)
{
	GByteArray *got = g_byte_array_new(), *want = reference(d, n, col, eol);

	g_byte_array_append(got, (const guint8 *)"kept", 4);
	mime_codec_qp_encode(d, n, col, eol, got);
	if (widest(want->data, want->len, MIN(col, 76)) > 76)
		valid_encoding(got->data + 4, got->len - 4, d, n, col);
	else if (got->len - 4 != want->len ||
	    (want->len > 0 && memcmp(got->data + 4, want->data, want->len) != 0))
		fail_msg("col %zu, %zu bytes \"%.*s\": got \"%.*s\", GMime \"%.*s\"", col, n,
		    (int)n, d, (int)(got->len - 4), got->data + 4, (int)want->len, want->data);
	assert_memory_equal(got->data, "kept", 4);
	g_byte_array_unref(got);
	g_byte_array_unref(want);
}

/* Literal text (a signed link's bytes) of every length up to three lines,
 * at every column, both line ends. */
static void
test_literal_folds_like_gmime(void **state)
{
	static const char alphabet[] = "ABCXYZabcxyz0189-_/:.?&%#~!*+;@";
	char d[240];
	gsize n, col, i;
	GRand *r = g_rand_new_with_seed(4);

	(void)state;
	for (i = 0; i < sizeof(d); i++)
		d[i] = alphabet[g_rand_int_range(r, 0, (gint32)sizeof(alphabet) - 1)];
	for (col = 0; col <= 75; col++)   /* callers start values at 75 or before */
		for (n = 0; n <= sizeof(d); n += (n < 160 ? 1 : 7)) {
			same_as_gmime(d, n, col, "\r\n");
			same_as_gmime(d, n, col, "\n");
		}
	g_rand_free(r);
}

/* Text GMime must escape ("=", blanks, 8-bit, controls) keeps GMime's
 * output, wherever the escape stands. */
static void
test_escapes_stay_gmime(void **state)
{
	static const char *const specials[] = { "=", " ", "\t", "\xc3\xa9", "\x01", "\x7f" };
	char d[200];
	gsize col, s, at;

	(void)state;
	memset(d, 'a', sizeof(d));
	for (s = 0; s < G_N_ELEMENTS(specials); s++)
		for (at = 0; at < 160; at += 3)
			for (col = 0; col <= 75; col += 5) {
				gsize sl = strlen(specials[s]);
				memset(d, 'a', sizeof(d));
				memcpy(d + at, specials[s], sl);
				same_as_gmime(d, 160, col, "\r\n");
				same_as_gmime(d, at + sl, col, "\n");   /* the special last */
			}
}

/* Text with hard line ends, a blank or a tab at every column before
 * them (where GMime writes 77 columns): every line within 76, and the
 * text decodes back. */
static void
test_blank_before_line_end(void **state)
{
	static const char *const blanks[] = { " ", "\t", "  ", "=" };
	static const char *const ends[] = { "\r\n", "\n" };
	gsize b, e, len, col;

	(void)state;
	for (b = 0; b < G_N_ELEMENTS(blanks); b++)
		for (e = 0; e < G_N_ELEMENTS(ends); e++)
			for (len = 60; len <= 160; len++)
				for (col = 0; col <= 75; col += 15) {
					GString *d = g_string_new(NULL);
					GByteArray *got = g_byte_array_new();
					gsize k;

					for (k = 0; k < len; k++)
						g_string_append_c(d, (char)('a' + k % 26));
					g_string_append(d, blanks[b]);
					g_string_append(d, ends[e]);
					g_string_append(d, "next line");
					mime_codec_qp_encode(d->str, d->len, col, "\r\n", got);
					valid_encoding(got->data, got->len, d->str, d->len, col);
					g_byte_array_unref(got);
					g_string_free(d, TRUE);
				}
}

/* Bare CRs (GMime escapes each and does not fold the line) and other
 * controls among text, in lines of every length up to 300: every line
 * within 76, and the text decodes back. */
static void
test_bare_cr_lines(void **state)
{
	gsize len, col, k;

	(void)state;
	for (len = 1; len <= 300; len += 7)
		for (col = 0; col <= 75; col += 25) {
			GString *d = g_string_new(NULL);
			GByteArray *got = g_byte_array_new();

			for (k = 0; k < len; k++)
				g_string_append_c(d, k % 5 == 0 ? 'x' : k % 3 == 0 ? '\x01' : '\r');
			g_string_append(d, "\r\nend");
			mime_codec_qp_encode(d->str, d->len, col, "\r\n", got);
			valid_encoding(got->data, got->len, d->str, d->len, col);
			g_byte_array_unref(got);
			g_string_free(d, TRUE);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_folds_like_gmime),
		cmocka_unit_test(test_escapes_stay_gmime),
		cmocka_unit_test(test_blank_before_line_end),
		cmocka_unit_test(test_bare_cr_lines),
	};

	g_mime_init();
	return cmocka_run_group_tests_name("mime_codec", tests, NULL, NULL);
}

/*
 * mime_codec.c - line-aware charset and transfer-encoding helpers for
 * in-place edits. See mime_codec.h.
 *
 * Quoted-printable is GMime's encoder and decoder; this cuts the content
 * into hard lines and reuses one scratch buffer for the encoder's output.
 * Text that needs no escape (a signed link) is only folded into lines,
 * at the columns GMime folds at (tests/unit/test_mime_codec.c holds the
 * two to the same bytes); a line GMime lets grow past 76 columns is
 * folded between its atoms.
 */
#include <errno.h>
#include <string.h>
#include <gmime/gmime.h>

#include "mime_codec.h"

/* Convert with iconv, reset before and flushed after. */
gboolean
mime_codec_iconv(iconv_t cd, const char *in, gsize n, GString *out)
{
	char *ip = (char *)in, *op;
	size_t il = n, ol, r;
	gsize used;
	gboolean flushing = FALSE;

	iconv(cd, NULL, NULL, NULL, NULL);
	for (;;) {
		used = out->len;
		ol = il * 4 + 32;
		g_string_set_size(out, used + ol);
		op = out->str + used;
		r = flushing ? iconv(cd, NULL, NULL, &op, &ol) : iconv(cd, &ip, &il, &op, &ol);
		g_string_set_size(out, op - out->str);
		if (r == (size_t)-1 && errno != E2BIG)
			return FALSE;
		if (r != (size_t)-1 && flushing)
			return TRUE;
		if (r != (size_t)-1 && il == 0)
			flushing = TRUE;
	}
}

/* An ASCII superset, where '\n' is always a line end? */
gboolean
mime_codec_charset_line_safe(const char *charset)
{
	char *low = g_ascii_strdown(charset, -1), *p;
	gboolean bad = strstr(low, "ucs") != NULL;

	for (p = low; !bad && (p = strstr(p, "utf")) != NULL; p += 3) {
		const char *q = p + 3 + (p[3] == '-' || p[3] == '_');
		bad = *q == '1' || *q == '3' || *q == '7';
	}
	g_free(low);
	return !bad;
}

/* Labels whose decoder in browsers (the WHATWG Encoding Standard's table
 * of labels) is not glibc's converter of the same name, with the glibc
 * converter that decodes as browsers do. Shift_JIS is the one that breaks
 * links: glibc reads 0x5C and 0x7E as YEN SIGN and OVERLINE, browsers as
 * "\" and "~". Latin-1 and Latin-5 labels are windows-1252 and -1254 in
 * browsers (0x80-0x9F are letters, not controls); GB2312 is GBK, EUC-KR
 * is windows-949, TIS-620 is windows-874. */
static const struct {
	const char *label;
	const char *iconv;
} browser_charsets[] = {
	{ "iso-8859-1", "CP1252" }, { "iso8859-1", "CP1252" }, { "iso_8859-1", "CP1252" },
	{ "iso_8859-1:1987", "CP1252" }, { "latin1", "CP1252" }, { "l1", "CP1252" },
	{ "cp819", "CP1252" }, { "ibm819", "CP1252" }, { "iso-ir-100", "CP1252" },
	{ "csisolatin1", "CP1252" }, { "x-cp1252", "CP1252" },
	{ "iso-8859-9", "CP1254" }, { "iso8859-9", "CP1254" }, { "iso_8859-9", "CP1254" },
	{ "iso_8859-9:1989", "CP1254" }, { "latin5", "CP1254" }, { "l5", "CP1254" },
	{ "iso-ir-148", "CP1254" }, { "csisolatin5", "CP1254" },
	{ "iso-8859-11", "CP874" }, { "iso8859-11", "CP874" }, { "tis-620", "CP874" },
	{ "dos-874", "CP874" },
	{ "shift_jis", "CP932" }, { "shift-jis", "CP932" }, { "sjis", "CP932" },
	{ "ms_kanji", "CP932" }, { "x-sjis", "CP932" }, { "csshiftjis", "CP932" },
	{ "windows-31j", "CP932" }, { "ms932", "CP932" },
	{ "gb2312", "GBK" }, { "gb_2312", "GBK" }, { "gb_2312-80", "GBK" }, { "csgb2312", "GBK" },
	{ "chinese", "GBK" }, { "iso-ir-58", "GBK" }, { "x-gbk", "GBK" },
	{ "euc-kr", "CP949" }, { "cseuckr", "CP949" }, { "ks_c_5601-1987", "CP949" },
	{ "ks_c_5601-1989", "CP949" }, { "ksc5601", "CP949" }, { "ksc_5601", "CP949" },
	{ "korean", "CP949" }, { "iso-ir-149", "CP949" }, { "csksc56011987", "CP949" },
	{ "windows-949", "CP949" },
};

/* The converter that decodes label as browsers do (see mime_codec.h). */
const char *
mime_codec_browser_charset(const char *label)
{
	if (label == NULL)
		return NULL;
	for (gsize i = 0; i < G_N_ELEMENTS(browser_charsets); i++)
		if (g_ascii_strcasecmp(label, browser_charsets[i].label) == 0)
			return browser_charsets[i].iconv;
	return label;
}

/* GMime's quoted-printable decoding from state 0 (see mime_codec.h). */
gsize
mime_codec_qp_decode(const guint8 *in, gsize n, guint8 *out, int *state)
{
	guint32 save = 0;

	*state = 0;
	return g_mime_encoding_quoted_decode_step(in, n, out, state, &save);
}

/* The most characters GMime's encoder puts on a line before its soft
 * break ("=" makes the 76th). */
#define QP_FOLD 75

/* Bytes quoted-printable leaves as they are wherever they stand: printable
 * ASCII but "=" (a blank is escaped before a line end, so not these). */
static gboolean
qp_literal(const char *d, gsize n)
{
	gsize k;

	for (k = 0; k < n; k++)
		if ((guchar)d[k] < 33 || (guchar)d[k] > 126 || d[k] == '=')
			return FALSE;
	return TRUE;
}

/* Encoded line b[0..m) appended to out after col characters, with a soft
 * break (line end le) before each atom ("=XX", or one byte) that would
 * stand past QP_FOLD, as GMime's encoder breaks; a final "=" (a soft break
 * already) stays last. Literal text is its own encoding, so this is also
 * how a signed link is written. */
static void
fold_line(const guint8 *b, gsize m, gsize col, const char *le, GByteArray *out)
{
	gsize end = m > 0 && b[m - 1] == '=' ? m - 1 : m, i = 0, lel = strlen(le), at = out->len;
	guint8 *w;

	/* room for a break before every QP_FOLD bytes, and one at the start */
	g_byte_array_set_size(out, (guint)(at + m + (m / QP_FOLD + 2) * (1 + lel)));
	w = out->data + at;
	while (i < end) {
		const guint8 *eq = memchr(b + i, '=', end - i);
		gsize run = eq != NULL ? (gsize)(eq - b) - i : end - i, a;

		if (run > 0)            /* plain bytes, as many as fit */
			a = MIN(run, col < QP_FOLD ? QP_FOLD - col : 0);
		else                    /* an escape, whole */
			a = i + 2 < end && g_ascii_isxdigit(b[i + 1]) && g_ascii_isxdigit(b[i + 2]) ? 3 : 1;
		if (a == 0 || col + a > QP_FOLD) {
			*w++ = '=';
			memcpy(w, le, lel);
			w += lel;
			col = 0;
			continue;
		}
		memcpy(w, b + i, a);
		w += a;
		i += a;
		col += a;
	}
	if (end < m)
		*w++ = '=';
	g_byte_array_set_size(out, (guint)(w - out->data));
}

/* GMime's encoded lines buf[0..len) ("\n" ends each) appended to out,
 * each line end written as le; the first line goes on after col
 * characters. A line GMime let grow past 76 columns (a blank before a
 * line end after column 74 gives 77; bare CRs give longer ones) is folded
 * between its atoms, so no line passes 76 columns (RFC 2045, 6.7). */
static void
put_lines(const guint8 *buf, gsize len, gsize col, const char *le, GByteArray *out)
{
	gsize k;

	for (k = 0; k < len; col = 0) {
		const guint8 *lf = memchr(buf + k, '\n', len - k);
		gsize m = lf != NULL ? (gsize)(lf - buf) : len;

		if (col + (m - k) > 76)
			fold_line(buf + k, m - k, col, le, out);
		else
			g_byte_array_append(out, buf + k, (guint)(m - k));
		if (lf != NULL)
			g_byte_array_append(out, (const guint8 *)le, (guint)strlen(le));
		k = m + 1;
	}
}

/* Quoted-printable, hard line by hard line: GMime encodes each line (on
 * the stack when it is short), and its "\n" line ends (the soft breaks)
 * become the line's own line end as the pieces are copied into out.
 * Literal bytes alone are folded as GMime folds them, without it. */
gboolean
mime_codec_qp_encode(const char *d, gsize n, gsize col, const char *eol, GByteArray *out)
{
	guint8 small[2048];
	gsize p = 0;
	guint32 first = (guint32)MIN(col, 76);

	if (qp_literal(d, n)) {
		fold_line((const guint8 *)d, n, first, eol, out);
		return TRUE;
	}
	while (p < n) {
		const char *nl = memchr(d + p, '\n', n - p);
		gsize e = nl != NULL ? (gsize)(nl - d) : n, t = e, len, need;
		const char *le = eol;
		guint8 *buf;
		int state = -1;
		guint32 save = p == 0 ? first : 0, save0 = save;

		if (nl != NULL)
			le = t > p && d[t - 1] == '\r' ? (t--, "\r\n") : "\n";
		need = GMIME_QP_ENCODE_LEN(t - p) + 8;
		buf = need <= sizeof(small) ? small : g_malloc(need);
		len = g_mime_encoding_quoted_encode_close((const guchar *)d + p, t - p, buf, &state, &save);
		if (len >= 2 && buf[len - 2] == '=' && buf[len - 1] == '\n')
			len -= 2;                /* the soft break GMime adds after a final "=20" */
		if (nl != NULL)
			buf[len++] = '\n';      /* the hard line end: made le below too */
		put_lines(buf, len, save0, le, out);
		if (buf != small)
			g_free(buf);
		p = nl != NULL ? e + 1 : n;
	}
	return FALSE;
}

/* Does enc decode to exactly d, ending outside an escape? (Decoding
 * never grows: n bytes hold it.) */
gboolean
mime_codec_qp_check(const guint8 *enc, gsize n, const char *d, gsize dn)
{
	guchar small[1024], *buf = n <= sizeof(small) ? small : g_malloc(n);
	int state = 0;
	guint32 save = 0;
	gsize len = g_mime_encoding_quoted_decode_step(enc, n, buf, &state, &save);
	gboolean same = state == 0 && len == dn && memcmp(buf, d, dn) == 0;

	if (buf != small)
		g_free(buf);
	return same;
}

/* Base64 in the layout the part had. */
void
mime_codec_base64_encode(const char *d, gsize n, const char *like, gsize ln,
    const char *eol, GByteArray *out)
{
	const char *nl = memchr(like, '\n', ln);
	gsize first = nl != NULL ? (gsize)(nl - like) : ln, width = 76, p, bn;
	char *b = g_base64_encode((const guchar *)d, n);
	gboolean tail = ln > 0 && like[ln - 1] == '\n';

	if (first > 0 && like[first - 1] == '\r')
		first--;
	if (nl != NULL && first % 4 == 0 && first >= 4 && first <= 76)
		width = first;
	bn = strlen(b);
	for (p = 0; p < bn; p += width) {
		g_byte_array_append(out, (const guint8 *)b + p, MIN(width, bn - p));
		if (p + width < bn || tail)
			g_byte_array_append(out, (const guint8 *)eol, strlen(eol));
	}
	g_free(b);
}

/* The longest line, line end not counted. */
gsize
mime_codec_longest_line(const char *s, gsize n)
{
	gsize p = 0, best = 0;

	while (p < n) {
		const char *nl = memchr(s + p, '\n', n - p);
		gsize e = nl != NULL ? (gsize)(nl - s) : n, l = e - p;
		if (nl != NULL && l > 0 && s[e - 1] == '\r')
			l--;
		best = MAX(best, l);
		p = e + 1;
	}
	return best;
}

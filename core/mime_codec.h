/*
 * mime_codec.h - byte-level helpers for editing a MIME part in place
 * (used by rewrite.c): charset conversion that can be done line by line,
 * quoted-printable by hard lines, base64 in the layout a part already had.
 * The encodings themselves are GMime's and GLib's; these only decide where
 * lines start and end, so unchanged lines can keep their bytes.
 *
 * Ownership: callers own every buffer; output is appended to theirs.
 *
 * Public: mime_codec_iconv, mime_codec_charset_line_safe, mime_codec_browser_charset,
 *         mime_codec_qp_decode, mime_codec_qp_encode,
 *         mime_codec_qp_check, mime_codec_base64_encode, mime_codec_longest_line.
 */
#ifndef CRM_MIME_CODEC_H
#define CRM_MIME_CODEC_H

#include <iconv.h>
#include <glib.h>

/* Convert in[0..n) with cd, appending to out; the shift state is reset
 * before and flushed after, so pieces convert independently. FALSE on
 * bytes the charset cannot take (out then holds a partial result). */
gboolean mime_codec_iconv(iconv_t cd, const char *in, gsize n, GString *out);
/* Is every '\n' byte of text in this charset a line end (an ASCII
 * superset: not UTF-16/32, UCS-2/4 or UTF-7)? */
gboolean mime_codec_charset_line_safe(const char *charset);
/* The charset name (for iconv and g_convert) that decodes text labelled
 * label as browsers do: e.g. "CP932" for Shift_JIS, "CP1252" for
 * ISO-8859-1; label itself when glibc's converter of that name already
 * does (or NULL for NULL). Static, or label. */
const char *mime_codec_browser_charset(const char *label);
/* Quoted-printable decoding of in[0..n) into out (n bytes are enough),
 * with GMime's g_mime_encoding_quoted_decode_step from state 0;
 * *state is where it ends (0, or 1 and 2 inside an escape). Returns the
 * bytes written. */
gsize mime_codec_qp_decode(const guint8 *in, gsize n, guint8 *out, int *state);
/* Encode d[0..n) as quoted-printable with GMime's encoder, hard line by
 * hard line, soft breaks taking each line's own line end (eol for a last
 * line without one); the first line goes on after col characters already
 * on it (at most 75 for lines within 76 columns). A line GMime makes
 * wider than 76 (a blank before a line end, bare CRs) is folded between
 * its atoms. Printable ASCII
 * without "=" is folded as GMime would fold it, without calling it: then
 * TRUE (out decodes to d by construction). Appends to out. */
gboolean mime_codec_qp_encode(const char *d, gsize n, gsize col, const char *eol, GByteArray *out);
/* Does enc[0..n) decode (quoted-printable) to exactly d[0..dn), ending
 * outside an escape? */
gboolean mime_codec_qp_check(const guint8 *enc, gsize n, const char *d, gsize dn);
/* Base64 of d[0..n) laid out like the encoded content like[0..ln): same
 * line length (76 when it had none usable), line end eol, and a final line
 * end only if it had one. Appends to out. */
void mime_codec_base64_encode(const char *d, gsize n, const char *like, gsize ln,
    const char *eol, GByteArray *out);
/* The longest line of s[0..n), line end not counted. */
gsize mime_codec_longest_line(const char *s, gsize n);

#endif

/*
 * rewrite_part.h - what rewrite.c knows of one HTML part while it edits
 * it (see the top of rewrite.c), shared with rewrite_part.c: cutting a
 * part's content into units, and quoted-printable decoding and group
 * re-encoding. Internal to the rewrite.
 *
 * Ownership: a part_job belongs to rewrite.c's rw (job_free); the
 * functions here fill or read it and append to the caller's buffers.
 *
 * Public (to rewrite.c): rewrite_line_units, rewrite_unit_at,
 *         rewrite_qp_decode, rewrite_qp_group.
 */
#ifndef CRM_REWRITE_PART_H
#define CRM_REWRITE_PART_H

#include <iconv.h>
#include <glib.h>
#include <gmime/gmime.h>

typedef struct unit {
	gsize e0, e1;            /* encoded content (identity and QP) */
	gsize d0, d1;            /* transfer-decoded content */
	gsize u0, u1;            /* UTF-8 text */
} unit;

typedef struct edit {
	gsize s, e;              /* UTF-8 range replaced by repl */
	gsize bs, be;            /* the same with its quotes, for the own-line form */
	char *repl;
	char *url;               /* a link's new URL (the own-line form is made from it) */
	gboolean link;           /* a link or an old pixel's src (else the pixel) */
	gboolean old_pixel;      /* an old pixel's src (see html_scan.old_pixels) */
} edit;

typedef struct part_job {
	gsize off, end;          /* content in the raw message */
	GMimeContentEncoding enc;
	const char *charset;     /* as browsers decode the declared one (mime_codec_browser_charset), or NULL */
	iconv_t to_cs;           /* UTF-8 -> charset, or (iconv_t)-1 */
	const char *c;           /* content (raw + off) */
	gsize clen;
	GByteArray *dec;         /* transfer-decoded, when not identity */
	const char *d;
	gsize dlen;
	GString *u8;             /* UTF-8, when not the decoded bytes themselves */
	const char *u;
	gsize ulen;
	GArray *units;
	GArray *softs;           /* quoted-printable: a soft_break after each "=" line end */
	const char *eol;
	gboolean changed;        /* the part has new content, outlen bytes: */
	gsize outlen;
	GByteArray *gbuf;        /* identity and QP: the new bytes of the changed groups, */
	GArray *spans;           /* ... and for each a group_span */
	GByteArray *out;         /* base64: the whole new content */
} part_job;

/* Where a quoted-printable soft line starts, after a soft break: its
 * offset in the content and in the decoded bytes. */
typedef struct soft_break {
	gsize e, d;
} soft_break;

typedef struct group_span {
	guint a, b;              /* first and last unit replaced */
	gsize at, len;           /* the new bytes: gbuf[at, at + len) */
} group_span;

/* One unit per line of the decoded bytes (identity encodings: the
 * encoded range is the same; base64 does not use it). */
void rewrite_line_units(part_job *j);
/* The index of the unit holding UTF-8 offset x (the last starting at or
 * before it; the last one for the end). */
guint rewrite_unit_at(const part_job *j, gsize x);
/* Quoted-printable: decode j's content into j->dec, one unit per hard
 * line, noting each soft line start in j->softs; FALSE when a line ends
 * inside an escape. */
gboolean rewrite_qp_decode(part_job *j);
/* Quoted-printable bytes for units [ua, ub] whose new decoded bytes are d
 * (edits [ei, ej) of ed), appended to gbuf: only the edits' values
 * encoded in place, or when one cannot be placed so, the soft lines
 * holding edits (UTF-8 or ASCII) or the units encoded again; FALSE when
 * the encoded bytes do not decode back to what they replace. */
gboolean rewrite_qp_group(const part_job *j, const unit *ua, const unit *ub, const edit *ed, guint ei,
    guint ej, const GString *d, GByteArray *gbuf);

#endif

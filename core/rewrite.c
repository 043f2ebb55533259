/*
 * rewrite.c - tracking pixel and click links in a message's HTML parts,
 * edited in place in the raw message. See rewrite.h for what stays exact.
 *
 * A part is cut into units: its lines (7bit/8bit/binary, base64 once
 * decoded) or hard lines (quoted-printable). Each unit has its range in the
 * encoded content, in the transfer-decoded content and in the UTF-8 text
 * the tokenizer reads. Edits (UTF-8 offsets) fall into groups of adjacent
 * units; only the units of a group are converted back and re-encoded.
 * In a quoted-printable part even less: only each edit's value is
 * encoded, in place in its line; every other byte of the group stays (a
 * Gmail HTML part is one hard line), a soft break ending a value's last
 * line when the rest of the line does not fit on it. In a charset other
 * than UTF-8 this needs the text up to each value to convert back to the
 * part's own bytes and ASCII replacements (Outlook's windows-1252 does).
 * When an edit cannot be placed so, the group is encoded again (in a
 * UTF-8 or ASCII part only the soft lines from its first edit to its
 * last).
 * The byte-level codecs are in mime_codec.c, the HTML in html_links.c.
 */
#include <string.h>
#include <gio/gio.h>
#include <gmime/gmime.h>

#include "html_links.h"
#include "message.h"
#include "mime_codec.h"
#include "rewrite.h"
#include "rewrite_part.h"

#define SMTP_LINE_MAX 998

typedef struct rw {
	const guint8 *raw;
	gsize len;
	const rewrite_opts *o;
	GPtrArray *unsub;        /* List-Unsubscribe URLs */
	GPtrArray *jobs;
	guint next_link;
	rewrite_stats st;
	GString *notes;          /* parts and groups left alone, for the reason */
	GString *line;           /* apply's buffer, reused group after group */
	token_signer *signer;    /* signs every link of the message (made on the first) */
	gsize origin_len;        /* bytes of base_url before its path */
	guint unsignable;        /* links whose target cannot be signed (too long, not a URL) */
	guint too_long;          /* links whose click URL would be over max_click_path */
	char *refuse;
} rw;

/* The status as a word, for logs and tests. */
const char *
rewrite_status_name(rewrite_status st)
{
	static const char *const names[] = { "done", "unchanged", "refused", "failed" };

	return (guint)st < G_N_ELEMENTS(names) ? names[st] : "?";
}

/* Add a note (part or group left alone) for the log line. */
static void G_GNUC_PRINTF(2, 3)
note(rw *r, const char *fmt, ...)
{
	va_list ap;

	if (r->notes->len > 0)
		g_string_append(r->notes, "; ");
	va_start(ap, fmt);
	g_string_append_vprintf(r->notes, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- checks */

/* foreach visitor: why the message must not be touched, if it must not. */
static void
check_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	static const char *const never[][2] = {
		{ "multipart", "signed" }, { "multipart", "encrypted" },
		{ "application", "pkcs7-mime" }, { "application", "x-pkcs7-mime" },
		{ "application", "pkcs7-signature" }, { "application", "x-pkcs7-signature" },
		{ "application", "pgp-encrypted" }, { "application", "pgp-signature" },
		{ "text", "calendar" }, { "application", "ics" },
	};
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	rw *r = data;
	gsize i;

	for (i = 0; r->refuse == NULL && ct != NULL && i < G_N_ELEMENTS(never); i++)
		if (g_mime_content_type_is_type(ct, never[i][0], never[i][1]))
			r->refuse = g_strdup_printf("%s/%s part: never modified", never[i][0], never[i][1]);
}

/* foreach visitor: collect the HTML body parts. */
static void
find_html(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	GMimeDataWrapper *w;
	GMimeStream *s;
	part_job *j;
	rw *r = data;

	if (!GMIME_IS_PART(part) || ct == NULL || !g_mime_content_type_is_type(ct, "text", "html") ||
	    message_part_is_attachment(parent, part))
		return;
	w = g_mime_part_get_content(GMIME_PART(part));
	s = w != NULL ? g_mime_data_wrapper_get_stream(w) : NULL;
	if (s == NULL)
		return;
	j = g_new0(part_job, 1);
	j->off = s->bound_start;
	j->end = s->bound_end < 0 ? r->len : (gsize)s->bound_end;
	j->enc = g_mime_part_get_content_encoding(GMIME_PART(part));
	/* decoded (and the query of a link encoded) as a browser would */
	j->charset = mime_codec_browser_charset(g_mime_object_get_content_type_parameter(part, "charset"));
	j->to_cs = (iconv_t)-1;
	/* about one unit per 64 bytes of content: grown once or never */
	j->units = g_array_sized_new(FALSE, FALSE, sizeof(unit),
	    j->end > j->off ? MIN(j->end - j->off, 4 << 20) / 64 + 16 : 16);
	g_ptr_array_add(r->jobs, j);
}

static void
job_free(gpointer data)
{
	part_job *j = data;

	g_clear_pointer(&j->dec, g_byte_array_unref);
	g_clear_pointer(&j->out, g_byte_array_unref);
	g_clear_pointer(&j->gbuf, g_byte_array_unref);
	g_clear_pointer(&j->spans, g_array_unref);
	if (j->u8 != NULL)
		g_string_free(j->u8, TRUE);
	if (j->to_cs != (iconv_t)-1)
		g_mime_iconv_close(j->to_cs);
	g_array_unref(j->units);
	if (j->softs != NULL)
		g_array_unref(j->softs);
	g_free(j);
}

/* The URLs of every List-Unsubscribe header ("<url>, <url>"). */
static void
list_unsubscribe(rw *r, GMimeMessage *msg)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	int i, n = g_mime_header_list_get_count(hl);

	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *v = g_mime_header_get_value(h), *lt, *gt;

		if (v == NULL || g_ascii_strcasecmp(g_mime_header_get_name(h), "List-Unsubscribe") != 0)
			continue;
		for (; (lt = strchr(v, '<')) != NULL && (gt = strchr(lt, '>')) != NULL; v = gt + 1)
			g_ptr_array_add(r->unsub, g_strstrip(g_strndup(lt + 1, gt - lt - 1)));
	}
	g_ptr_array_add(r->unsub, NULL);
}

/* ------------------------------------------------------------- decoding */

/* Decode transfer encoding and charset; units and the UTF-8 text. FALSE
 * (with a note) when the part is to be left alone. */
static gboolean
decode_part(rw *r, part_job *j, guint n)
{
	const char *cs = j->charset;
	iconv_t from = (iconv_t)-1;
	guint i;
	gboolean ok = TRUE;

	j->c = (const char *)r->raw + j->off;
	j->clen = j->end - j->off;
	/* line ends as the blank line before the content has them */
	j->eol = j->off >= 2 && r->raw[j->off - 2] == '\r' && r->raw[j->off - 1] == '\n' ? "\r\n" : "\n";
	switch (j->enc) {
	case GMIME_CONTENT_ENCODING_DEFAULT:
	case GMIME_CONTENT_ENCODING_7BIT:
	case GMIME_CONTENT_ENCODING_8BIT:
	case GMIME_CONTENT_ENCODING_BINARY:
		j->d = j->c;
		j->dlen = j->clen;
		rewrite_line_units(j);
		break;
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
		if (!rewrite_qp_decode(j)) {
			note(r, "HTML part %u: quoted-printable line ends inside an escape", n);
			return FALSE;
		}
		break;
	case GMIME_CONTENT_ENCODING_BASE64: {
		int state = 0;
		guint32 save = 0;
		j->dec = g_byte_array_sized_new(j->clen * 3 / 4 + 4);
		g_byte_array_set_size(j->dec, g_mime_encoding_base64_decode_step(
		    (const guchar *)j->c, j->clen, j->dec->data, &state, &save));
		j->d = (const char *)j->dec->data;
		j->dlen = j->dec->len;
		rewrite_line_units(j);
		break;
	}
	default:
		note(r, "HTML part %u: transfer encoding not handled", n);
		return FALSE;
	}
	if (j->d == NULL)                        /* an empty GByteArray has no data */
		j->d = "";
	if (r->o->max_html_size > 0 && j->dlen > r->o->max_html_size) {
		note(r, "HTML part %u: %" G_GSIZE_FORMAT " bytes, over max_html_size", n, j->dlen);
		return FALSE;
	}
	if (html_links_find(j->d, j->dlen, "-----BEGIN PGP", 14, 6) != NULL) {
		r->refuse = g_strdup("inline PGP in the HTML: never modified");
		return FALSE;
	}
	if (cs == NULL || g_ascii_strcasecmp(cs, "utf-8") == 0 || g_ascii_strcasecmp(cs, "utf8") == 0 ||
	    g_ascii_strcasecmp(cs, "us-ascii") == 0 || g_ascii_strcasecmp(cs, "ascii") == 0) {
		j->u = j->d;
		j->ulen = j->dlen;
		for (i = 0; i < j->units->len; i++) {
			unit *u = &g_array_index(j->units, unit, i);
			u->u0 = u->d0;
			u->u1 = u->d1;
		}
		return TRUE;
	}
	if (!mime_codec_charset_line_safe(cs) || (from = g_mime_iconv_open("UTF-8", cs)) == (iconv_t)-1 ||
	    (j->to_cs = g_mime_iconv_open(cs, "UTF-8")) == (iconv_t)-1) {
		if (from != (iconv_t)-1)
			g_mime_iconv_close(from);
		note(r, "HTML part %u: charset %s not usable", n, cs);
		return FALSE;
	}
	j->u8 = g_string_sized_new(j->dlen + j->dlen / 4 + 16);
	for (i = 0; ok && i < j->units->len; i++) {
		unit *u = &g_array_index(j->units, unit, i);
		u->u0 = j->u8->len;
		ok = mime_codec_iconv(from, j->d + u->d0, u->d1 - u->d0, j->u8);
		u->u1 = j->u8->len;
	}
	if (ok && strstr(g_mime_charset_iconv_name(cs), "2022") != NULL) {
		/* stateful: lines must each start in ASCII for the split to hold */
		GString *whole = g_string_sized_new(j->u8->len + 16);
		ok = mime_codec_iconv(from, j->d, j->dlen, whole) && whole->len == j->u8->len &&
		    memcmp(whole->str, j->u8->str, whole->len) == 0;
		g_string_free(whole, TRUE);
	}
	g_mime_iconv_close(from);
	if (!ok) {
		note(r, "HTML part %u: content is not valid %s line by line", n, cs);
		return FALSE;
	}
	j->u = j->u8->str;
	j->ulen = j->u8->len;
	return TRUE;
}

/* ------------------------------------------------------------- editing */

/* The UTF-8 text of units [a, b] with edits [ei, ej) applied, in s. */
static GString *
apply(const part_job *j, guint a, guint b, const edit *ed, guint ei, guint ej, gboolean own_line,
    GString *s)
{
	gsize pos = g_array_index(j->units, unit, a).u0, end = g_array_index(j->units, unit, b).u1;
	guint i;

	g_string_truncate(s, 0);
	for (i = ei; i < ej; i++) {
		gsize es = own_line ? ed[i].bs : ed[i].s, ee = own_line ? ed[i].be : ed[i].e;
		g_string_append_len(s, j->u + pos, es - pos);
		if (own_line) {                  /* "\r\n\"url\"" or "\r\n<img ...>" */
			char *q = ed[i].url != NULL ? html_links_attr_quoted(ed[i].url) : NULL;
			g_string_append(s, j->eol);
			g_string_append(s, q != NULL ? q : ed[i].repl);
			g_free(q);
		} else
			g_string_append(s, ed[i].repl);
		pos = ee;
	}
	g_string_append_len(s, j->u + pos, end - pos);
	return s;
}

/* Append one group's new encoded (or, base64, decoded) bytes to gbuf;
 * FALSE, gbuf as it was, when the group is to be left alone. */
static gboolean
group_bytes(rw *r, part_job *j, guint a, guint b, const edit *ed, guint ei, guint ej, guint n,
    GByteArray *gbuf)
{
	const unit *ua = &g_array_index(j->units, unit, a), *ub = &g_array_index(j->units, unit, b);
	gboolean own_line = FALSE, identity = j->enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
	    j->enc != GMIME_CONTENT_ENCODING_BASE64;
	gsize start = gbuf->len;

	for (;;) {
		GString *u8 = apply(j, a, b, ed, ei, ej, own_line, r->line), *d = u8;
		gboolean fits, encoded = TRUE;

		if (j->u8 != NULL) {             /* back to the charset, exactly */
			GString *old = g_string_new(NULL);
			d = g_string_new(NULL);
			if (!mime_codec_iconv(j->to_cs, j->u + ua->u0, ub->u1 - ua->u0, old) ||
			    old->len != ub->d1 - ua->d0 || memcmp(old->str, j->d + ua->d0, old->len) != 0 ||
			    !mime_codec_iconv(j->to_cs, u8->str, u8->len, d)) {
				note(r, "HTML part %u: a changed line does not convert back to %s exactly", n, j->charset);
				g_string_free(old, TRUE);
				g_string_free(d, TRUE);
				return FALSE;
			}
			g_string_free(old, TRUE);
		}
		fits = !identity || j->enc == GMIME_CONTENT_ENCODING_BINARY ||
		    mime_codec_longest_line(d->str, d->len) <=
		    MAX(SMTP_LINE_MAX, mime_codec_longest_line(j->d + ua->d0, ub->d1 - ua->d0));
		if (j->enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE)
			encoded = rewrite_qp_group(j, ua, ub, ed, ei, ej, d, gbuf);
		else
			g_byte_array_append(gbuf, (const guint8 *)d->str, d->len);
		if (d != u8)
			g_string_free(d, TRUE);
		if (encoded && fits)
			return TRUE;
		g_byte_array_set_size(gbuf, start);
		if (own_line || !encoded) {
			note(r, "HTML part %u: links left alone (%s)", n,
			    own_line ? "lines would pass 998 octets" : "re-encoding check failed");
			return FALSE;
		}
		own_line = TRUE;
	}
}

/* The edits for one part: links and, in the main part, the pixel. */
static GArray *
make_edits(rw *r, part_job *j, const html_scan *sc, gboolean main_part)
{
	GArray *ed = g_array_new(FALSE, TRUE, sizeof(edit));
	guint i;

	for (i = 0; i < sc->links->len; i++) {
		const html_link *l = &g_array_index(sc->links, html_link, i);
		char *url;
		edit e = { 0 };

		if (l->verdict != HTML_TRACK) {
			r->st.skipped += l->verdict != HTML_SKIP_SCHEME;
			continue;
		}
		if (!r->o->clicks)
			continue;
		if (r->signer == NULL)
			r->signer = token_signer_new(r->o->ring);
		url = token_signer_click_url(r->signer, r->o->base_url, r->o->track_id, r->next_link, l->target);
		if (url == NULL || (r->o->max_click_path > 0 &&
		    strlen(url) - r->origin_len > r->o->max_click_path)) {
			/* the tracker would answer 414 (or the target is no URL) */
			r->st.skipped++;
			if (url == NULL)
				r->unsignable++;
			else
				r->too_long++;
			g_free(url);
			continue;
		}
		r->next_link++;
		e.s = l->start;
		e.e = l->end;
		e.bs = l->vstart;
		e.be = l->vend;
		e.repl = html_links_attr_value(l, url);
		e.url = url;
		e.link = TRUE;
		g_array_append_val(ed, e);
	}
	/* our pixels quoted from earlier mail load nothing any more: src="" */
	for (i = 0; i < sc->old_pixels->len; i++) {
		const html_link *l = &g_array_index(sc->old_pixels, html_link, i);
		edit e = { 0 };

		e.s = l->start;
		e.e = l->end;
		e.bs = l->vstart;
		e.be = l->vend;
		e.repl = html_links_attr_value(l, "");
		e.url = g_strdup("");
		e.link = TRUE;
		e.old_pixel = TRUE;
		g_array_append_val(ed, e);
	}
	if (main_part && r->o->opens && sc->pixel_at < 0)
		note(r, "HTML part 1 ends inside a tag, comment or script: no pixel");
	else if (main_part && r->o->opens) {
		char *url = token_open_url(r->o->ring, r->o->base_url, r->o->track_id);
		edit e = { 0 };
		if (url != NULL) {
			e.s = e.e = e.bs = e.be = (gsize)sc->pixel_at;
			e.repl = html_links_pixel(url);
			g_array_append_val(ed, e);
			g_free(url);
		}
	}
	return ed;
}

/* Order edits by position (the pixel after a link ending at the same spot). */
static gint
edit_cmp(gconstpointer a, gconstpointer b)
{
	const edit *x = a, *y = b;

	if (x->bs != y->bs)
		return x->bs < y->bs ? -1 : 1;
	return (int)y->link - (int)x->link;
}

static void
edit_clear(gpointer data)
{
	edit *e = data;

	g_free(e->repl);
	g_free(e->url);
}

/* Apply the edits group by group: the new bytes of each group, one after
 * the other in one buffer (not one allocation each, kept to the end), and
 * for base64 the part's whole new content (write_part puts them together). */
static void
rebuild(rw *r, part_job *j, GArray *eds, guint n)
{
	const edit *ed = (const edit *)(void *)eds->data;
	GByteArray *gbuf = g_byte_array_sized_new(4096);
	GArray *spans = g_array_new(FALSE, FALSE, sizeof(group_span));
	GString *dec = NULL;
	guint i = 0, k, u;
	gsize len = j->clen;

	while (i < eds->len) {
		guint a = rewrite_unit_at(j, ed[i].bs);
		guint b = rewrite_unit_at(j, ed[i].be > ed[i].bs ? ed[i].be - 1 : ed[i].be);
		guint ei = i, nl = 0, no = 0;
		gboolean px = FALSE;
		group_span gs;
		for (i++; i < eds->len && rewrite_unit_at(j, ed[i].bs) <= b; i++)
			b = MAX(b, rewrite_unit_at(j, ed[i].be > ed[i].bs ? ed[i].be - 1 : ed[i].be));
		for (k = ei; k < i; k++) {
			nl += ed[k].link && !ed[k].old_pixel;
			no += ed[k].old_pixel;
			px |= !ed[k].link;
		}
		gs = (group_span){ a, b, gbuf->len, 0 };
		if (!group_bytes(r, j, a, b, ed, ei, i, n, gbuf)) {
			r->st.skipped += nl;
			continue;
		}
		r->st.links += nl;
		r->st.old_pixels += no;
		r->st.pixel |= px;
		gs.len = gbuf->len - gs.at;
		g_array_append_val(spans, gs);
		len = len - (g_array_index(j->units, unit, b).e1 - g_array_index(j->units, unit, a).e0) + gs.len;
	}
	if (spans->len == 0) {
		g_byte_array_unref(gbuf);
		g_array_unref(spans);
		return;
	}
	j->changed = TRUE;
	r->st.parts++;
	if (j->enc != GMIME_CONTENT_ENCODING_BASE64) {
		j->gbuf = gbuf;
		j->spans = spans;
		j->outlen = len;
		return;
	}
	j->out = g_byte_array_sized_new(j->clen + 4096);
	dec = g_string_sized_new(j->dlen + 4096);
	for (u = 0, k = 0; u < j->units->len; u++) {
		const unit *un = &g_array_index(j->units, unit, u);
		const group_span *gs = k < spans->len ? &g_array_index(spans, group_span, k) : NULL;
		if (gs != NULL && gs->a == u) {
			g_string_append_len(dec, (const char *)gbuf->data + gs->at, gs->len);
			u = gs->b;
			k++;
		} else
			g_string_append_len(dec, j->d + un->d0, un->d1 - un->d0);
	}
	mime_codec_base64_encode(dec->str, dec->len, j->c, j->clen, j->eol, j->out);
	g_string_free(dec, TRUE);
	j->outlen = j->out->len;
	g_byte_array_unref(gbuf);
	g_array_unref(spans);
}

/* Write a changed part's new content (j->outlen bytes) at dst: the new
 * groups, and between them the encoded bytes as they were (the units
 * cover the content end to end). */
static void
write_part(const part_job *j, guint8 *dst)
{
	gsize pos = 0;
	guint k;

	if (j->out != NULL) {
		memcpy(dst, j->out->data, j->out->len);
		return;
	}
	for (k = 0; k < j->spans->len; k++) {
		const group_span *gs = &g_array_index(j->spans, group_span, k);
		const unit *ua = &g_array_index(j->units, unit, gs->a);
		const unit *ub = &g_array_index(j->units, unit, gs->b);
		memcpy(dst, j->c + pos, ua->e0 - pos);
		dst += ua->e0 - pos;
		memcpy(dst, j->gbuf->data + gs->at, gs->len);
		dst += gs->len;
		pos = ub->e1;
	}
	memcpy(dst, j->c + pos, j->clen - pos);
}

/* One HTML part: decode, scan, edit, encode. */
static gboolean
do_part(rw *r, part_job *j, guint n, GError **err)
{
	html_filter f = { r->o->exclude_domains, (const char *const *)r->unsub->pdata,
	    r->o->base_url, j->charset };
	html_scan sc = { 0 };
	GArray *eds;

	if (j->end == j->off) {
		/* nothing to rewrite, and no room for a pixel: the line end before
		 * the next boundary is the one ending the part's headers */
		note(r, "HTML part %u is empty", n);
		return TRUE;
	}
	if (!decode_part(r, j, n))
		return TRUE;
	if (j->units->len == 0) {                /* decodes to nothing: one empty unit */
		unit u = { 0 };
		g_array_append_val(j->units, u);
	}
	if (!html_links_scan(r->o->tokenizer, j->u, j->ulen, &f, &sc, err))
		return FALSE;
	eds = make_edits(r, j, &sc, n == 1);
	g_array_set_clear_func(eds, edit_clear);
	g_array_sort(eds, edit_cmp);
	if (eds->len > 0)
		rebuild(r, j, eds, n);
	g_array_unref(eds);
	html_links_clear(&sc);
	/* the decoded text is not needed to write the part out */
	g_clear_pointer(&j->dec, g_byte_array_unref);
	if (j->u8 != NULL)
		g_string_free(j->u8, TRUE);
	j->u8 = NULL;
	j->d = j->u = NULL;
	return TRUE;
}

/* ------------------------------------------------------------- message */

/* Bytes of base_url before its path: what a request path leaves out. */
static gsize
origin_length(const char *base_url)
{
	GUri *u = base_url != NULL ? g_uri_parse(base_url, G_URI_FLAGS_ENCODED, NULL) : NULL;
	gsize n = base_url != NULL ? strlen(base_url) : 0;

	if (u != NULL) {
		n -= MIN(n, strlen(g_uri_get_path(u)));
		g_uri_unref(u);
	}
	return n;
}

/* Offset of the body: after the blank line that ends the header block. */
static gsize
body_start(gint64 he, const guint8 *raw, gsize len)
{
	gsize at = he < 0 ? 0 : MIN((gsize)he, len);

	if (at + 1 < len && raw[at] == '\r' && raw[at + 1] == '\n')
		return at + 2;
	if (at < len && raw[at] == '\n')
		return at + 1;
	return at;
}

/* Rewrite a message (see rewrite.h). */
rewrite_status
rewrite_message(const guint8 *raw, gsize len, const rewrite_opts *opts,
    GByteArray *new_body, rewrite_stats *stats, char **reason, GError **err)
{
	return rewrite_parsed(raw, len, NULL, -1, opts, new_body, stats, reason, err);
}

/* The same on a message already parsed from raw (NULL: parse it here). */
rewrite_status
rewrite_parsed(const guint8 *raw, gsize len, GMimeMessage *given, gint64 headers_end,
    const rewrite_opts *opts, GByteArray *new_body, rewrite_stats *stats, char **reason,
    GError **err)
{
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *msg;
	GMimeHeaderList *hl;
	rewrite_status st = REWRITE_UNCHANGED;
	rw r = { .raw = raw, .len = len, .o = opts };
	GError *e = NULL;
	GByteArray *wrap = NULL;
	gsize body, pos, size, at;
	guint i;

	*reason = NULL;
	message_gmime_init();
	r.unsub = g_ptr_array_new_with_free_func(g_free);
	r.jobs = g_ptr_array_new_with_free_func(job_free);
	r.origin_len = origin_length(opts->base_url);
	r.notes = g_string_new(NULL);
	r.line = g_string_sized_new(4096);
	if (given != NULL) {
		/* parsed once already (the milter's own parse of the same bytes,
		 * so the parts' offsets are offsets into raw) */
		msg = g_object_ref(given);
	} else {
		if (raw != NULL && len > 0) {
			/* GMime reads raw where it is (no 40 KB copy per message):
			 * the array only lends it, and is taken apart again below */
			wrap = g_byte_array_new_take((guint8 *)(void *)raw, len);
			stream = g_mime_stream_mem_new_with_byte_array(wrap);
			g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
		} else
			stream = g_mime_stream_mem_new_with_buffer("", 0);
		parser = g_mime_parser_new_with_stream(stream);
		g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
		msg = g_mime_parser_construct_message(parser, NULL);
		headers_end = g_mime_parser_get_headers_end(parser);
	}
	if (msg == NULL) {
		g_set_error(&e, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "GMime cannot parse the message");
		st = REWRITE_FAILED;
		goto done;
	}
	body = body_start(headers_end, raw, len);
	hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	if (g_mime_header_list_contains(hl, "DKIM-Signature") ||
	    g_mime_header_list_contains(hl, "DomainKey-Signature") ||
	    g_mime_header_list_contains(hl, "ARC-Message-Signature"))
		r.refuse = g_strdup("already DKIM/ARC-signed: crm-milter must be placed before the signer");
	if (r.refuse == NULL)
		g_mime_message_foreach(msg, check_part, &r);
	if (r.refuse != NULL)
		goto done;
	g_mime_message_foreach(msg, find_html, &r);
	list_unsubscribe(&r, msg);
	if (r.jobs->len == 0 || (!opts->opens && !opts->clicks)) {
		*reason = g_strdup(r.jobs->len == 0 ? "no HTML body part" : "neither opens nor clicks tracked");
		goto done;
	}
	for (i = 0, pos = body, size = len - body; i < r.jobs->len; i++) {
		part_job *j = g_ptr_array_index(r.jobs, i);
		if (j->off < pos || j->end < j->off || j->end > len) {
			g_set_error(&e, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			    "HTML part %u is not where the body is (%" G_GSIZE_FORMAT "..%" G_GSIZE_FORMAT ")",
			    i + 1, j->off, j->end);
			st = REWRITE_FAILED;
			goto done;
		}
		pos = j->end;
		if (!do_part(&r, j, i + 1, &e)) {
			st = REWRITE_FAILED;
			goto done;
		}
		if (r.refuse != NULL)
			goto done;
		/* bounded as it grows: every part's new bytes are held until the end */
		if (j->changed)
			size = size - (j->end - j->off) + j->outlen;
		if (opts->max_size > 0 && body + size > opts->max_size) {
			g_set_error(&e, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "the tracked message would be over "
			    "%" G_GSIZE_FORMAT " bytes (max_message_size)", opts->max_size);
			st = REWRITE_FAILED;
			goto done;
		}
	}
	if (r.unsignable > 0)
		note(&r, "%u links with a target that cannot be signed (over %d bytes or not a URL)",
		    r.unsignable, TOKEN_TARGET_MAX);
	if (r.too_long > 0)
		note(&r, "%u links whose click URL would be over tracker max_url_length (%" G_GSIZE_FORMAT ")",
		    r.too_long, opts->max_click_path);
	if (r.st.parts == 0) {
		*reason = g_strdup_printf("nothing to rewrite (%u links left alone%s%s)", r.st.skipped,
		    r.notes->len > 0 ? "; " : "", r.notes->str);
		goto done;
	}
	/* the new body in one allocation (size counted above): raw between
	 * the changed parts */
	g_byte_array_set_size(new_body, size);
	for (i = 0, pos = body, at = 0; i < r.jobs->len; i++) {
		part_job *j = g_ptr_array_index(r.jobs, i);
		if (!j->changed)
			continue;
		memcpy(new_body->data + at, raw + pos, j->off - pos);
		at += j->off - pos;
		write_part(j, new_body->data + at);
		at += j->outlen;
		pos = j->end;
	}
	memcpy(new_body->data + at, raw + pos, len - pos);
	st = REWRITE_DONE;
	*reason = g_strdup_printf("%u links rewritten in %u HTML parts, pixel %s, %u links left alone%s%s",
	    r.st.links, r.st.parts, r.st.pixel ? "added" : "not added", r.st.skipped,
	    r.notes->len > 0 ? "; " : "", r.notes->str);
done:
	if (r.refuse != NULL) {
		st = REWRITE_REFUSED;
		g_free(*reason);
		*reason = g_steal_pointer(&r.refuse);
	}
	if (e != NULL) {
		*reason = g_strdup(e->message);
		g_propagate_error(err, e);
	}
	if (stats != NULL)
		*stats = r.st;
	g_ptr_array_unref(r.jobs);
	g_ptr_array_unref(r.unsub);
	g_string_free(r.notes, TRUE);
	g_string_free(r.line, TRUE);
	token_signer_free(r.signer);
	if (msg != NULL)
		g_object_unref(msg);
	if (parser != NULL)
		g_object_unref(parser);
	if (stream != NULL)
		g_object_unref(stream);
	if (wrap != NULL)
		g_byte_array_free(wrap, FALSE);  /* gives raw back, does not free it */
	return st;
}

/*
 * rewrite_part.c - a part's content as units, and quoted-printable: decoding
 * soft line by soft line, and encoding a changed group: each edit's value
 * in place in its line, or (when a value cannot be placed so) the soft
 * lines holding edits again. See rewrite_part.h. The codecs themselves are
 * GMime's (mime_codec.c): qp_locate only counts a line's escapes to guess
 * where a decoded offset is, and GMime's decoder confirms every guess.
 */
#include <string.h>

#include "rewrite_part.h"
#include "mime_codec.h"

/* One unit per line of the decoded bytes (for identity encodings the
 * encoded range is the same; base64 does not use it). */
void
rewrite_line_units(part_job *j)
{
	gsize p = 0;

	while (p < j->dlen) {
		const char *nl = memchr(j->d + p, '\n', j->dlen - p);
		gsize q = nl != NULL ? (gsize)(nl - j->d) + 1 : j->dlen;
		unit u = { p, q, p, q, 0, 0 };
		g_array_append_val(j->units, u);
		p = q;
	}
}

/* Quoted-printable: decode line by line in one pass, each line from the
 * decoder's first state (a soft break leaves it there), noting where each
 * soft line after a soft break starts; a line not ending in "=" ends a
 * hard line (a unit). FALSE when a hard line leaves the decoder
 * mid-escape. */
gboolean
rewrite_qp_decode(part_job *j)
{
	gsize p = 0, s = 0, have = 0, d0 = 0;
	int state = 0;

	j->dec = g_byte_array_sized_new(j->clen);
	g_byte_array_set_size(j->dec, j->clen);    /* decoding never grows */
	j->softs = g_array_sized_new(FALSE, FALSE, sizeof(soft_break), j->clen / 76 + 16);
	while (s < j->clen) {
		const char *nl = memchr(j->c + s, '\n', j->clen - s);
		gsize t = nl != NULL ? (gsize)(nl - j->c) + 1 : j->clen, e = nl != NULL ? t - 1 : t;

		have += mime_codec_qp_decode((const guint8 *)j->c + s, t - s, j->dec->data + have, &state);
		if (e > s && j->c[e - 1] == '\r')
			e--;
		if (nl != NULL && e > s && j->c[e - 1] == '=' && t < j->clen) {
			g_array_append_val(j->softs, ((soft_break){ t, have }));
			s = t;
			continue;
		}
		if (state != 0) {
			g_byte_array_set_size(j->dec, have);
			return FALSE;
		}
		g_array_append_val(j->units, ((unit){ p, t, d0, have, 0, 0 }));
		p = s = t;
		d0 = have;
	}
	g_byte_array_set_size(j->dec, have);
	j->d = (const char *)j->dec->data;
	j->dlen = j->dec->len;
	return TRUE;
}

/* Quoted-printable: how much of units [ua, ub]'s encoded bytes can stay
 * as they are around edits [first, last) (decoded offsets): whole soft
 * lines before the first edit and after the last. *ep, *pre: where the
 * kept head ends (content offset) and its decoded length; *es, *post:
 * where the kept tail starts and its decoded length. */
static void
qp_keep(const part_job *j, const unit *ua, const unit *ub, gsize first, gsize last,
    gsize *ep, gsize *pre, gsize *es, gsize *post)
{
	const soft_break *sb = (const soft_break *)(void *)j->softs->data;
	guint lo = 0, hi = j->softs->len, k;

	*ep = ua->e0;
	*pre = 0;
	*es = ub->e1;
	*post = 0;
	while (lo < hi) {                /* the first soft line start after ua->e0 */
		guint mid = (lo + hi) / 2;
		if (sb[mid].e <= ua->e0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k < j->softs->len && sb[k].e < ub->e1 && sb[k].d <= first; k++) {
		*ep = sb[k].e;
		*pre = sb[k].d - ua->d0;
	}
	for (; k < j->softs->len && sb[k].e < ub->e1; k++)
		if (sb[k].d >= last) {
			*es = sb[k].e;
			*post = ub->d1 - sb[k].d;
			break;
		}
}

/* The length of the last line of b[0..n) (after its last line end). */
static gsize
last_line(const guint8 *b, gsize n)
{
	gsize k = n;

	while (k > 0 && b[k - 1] != '\n')
		k--;
	return n - k;
}

/* A quoted-printable soft break: "=" and the line end. */
static void
put_soft_break(GByteArray *gbuf, const char *eol)
{
	g_byte_array_append(gbuf, (const guint8 *)"=", 1);
	g_byte_array_append(gbuf, (const guint8 *)eol, (guint)strlen(eol));
}

/* Quoted-printable: where decoded offset x of the original (see
 * edit_offsets) is in the content, and the column there in the original.
 * The line holding x is its hard line (a unit) or the soft line after
 * the last soft break at or before x (a line starting at
 * x wins over the end of the one before); its atoms are counted up to x
 * as GMime's decoder reads them ("=XX" one byte, an "=" it cannot decode
 * three). The count is only a guess until GMime's decoder says the line
 * up to there decodes to exactly the bytes before x, outside an escape.
 * FALSE when x falls inside an escape. */
static gboolean
qp_locate(const part_job *j, gsize x, gsize *pos, gsize *col)
{
	const soft_break *sb = (const soft_break *)(void *)j->softs->data;
	const unit *u;
	guint lo = 0, hi = j->units->len;
	gsize ls, lsd, p, k;

	while (hi - lo > 1) {            /* the last hard line starting at or before x */
		guint mid = (lo + hi) / 2;
		if (g_array_index(j->units, unit, mid).d0 <= x)
			lo = mid;
		else
			hi = mid;
	}
	u = &g_array_index(j->units, unit, lo);
	if (x < u->d0 || x > u->d1)
		return FALSE;
	ls = u->e0;
	lsd = u->d0;
	lo = 0;
	hi = j->softs->len;
	while (lo < hi) {                /* the first soft line start after x */
		guint mid = (lo + hi) / 2;
		if (sb[mid].d <= x && sb[mid].e <= u->e1)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && sb[lo - 1].e > u->e0 && sb[lo - 1].e <= u->e1) {
		ls = sb[lo - 1].e;
		lsd = sb[lo - 1].d;
	}
	for (p = ls, k = x - lsd; k > 0 && p < u->e1; ) {
		const char *eq = memchr(j->c + p, '=', MIN(k, u->e1 - p));
		if (eq == NULL || (gsize)(eq - j->c) > p) {  /* a run of plain bytes */
			gsize run = eq != NULL ? (gsize)(eq - j->c) - p : MIN(k, u->e1 - p);
			p += run;
			k -= run;
		} else if (p + 2 < u->e1 && g_ascii_isxdigit(j->c[p + 1]) && g_ascii_isxdigit(j->c[p + 2])) {
			p += 3;
			k--;
		} else if (p + 2 < u->e1 && j->c[p + 1] != '\n' && !(j->c[p + 1] == '\r' && j->c[p + 2] == '\n') &&
		    k >= 3) {
			p += 3;
			k -= 3;
		} else
			return FALSE;
	}
	if (k > 0 || !mime_codec_qp_check((const guint8 *)j->c + ls, p - ls, j->d + lsd, x - lsd))
		return FALSE;
	*pos = p;
	*col = p > ls && j->c[p - 1] == '\n' ? 0 : p - ls;
	return TRUE;
}

/* The unit holding UTF-8 offset x (the last starting at or before it;
 * the last one for the end). */
guint
rewrite_unit_at(const part_job *j, gsize x)
{
	guint lo = 0, hi = j->units->len;

	while (hi - lo > 1) {
		guint mid = (lo + hi) / 2;
		if (g_array_index(j->units, unit, mid).u0 <= x)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Where edits [ei, ej) start and end in the transfer-decoded bytes, into
 * dx (two per edit). A UTF-8 or ASCII part: their UTF-8 offsets. Another
 * charset: the text of a line up to each offset, piece after piece,
 * converted back must be the part's own bytes there (so a charset with
 * shift states only passes where its text is plain ASCII), and each
 * replacement must be ASCII (the same bytes in the charset). FALSE
 * otherwise. */
static gboolean
edit_offsets(const part_job *j, const edit *ed, guint ei, guint ej, gsize *dx)
{
	GString *piece;
	guint k, ui = G_MAXUINT;
	gsize upos = 0, dpos = 0, i;
	gboolean ok = TRUE;

	if (j->u8 == NULL) {
		for (k = ei; k < ej; k++) {
			dx[2 * (k - ei)] = ed[k].s;
			dx[2 * (k - ei) + 1] = ed[k].e;
		}
		return TRUE;
	}
	for (k = ei; k < ej; k++)
		for (i = 0; ed[k].repl[i] != '\0'; i++)
			if ((guchar)ed[k].repl[i] >= 0x80)
				return FALSE;
	piece = g_string_new(NULL);
	for (i = 0; ok && i < 2 * (gsize)(ej - ei); i++) {
		gsize x = i % 2 == 0 ? ed[ei + i / 2].s : ed[ei + i / 2].e;
		guint ux = rewrite_unit_at(j, x);
		const unit *u = &g_array_index(j->units, unit, ux);

		if (ux != ui) {
			ui = ux;
			upos = u->u0;
			dpos = u->d0;
		}
		g_string_truncate(piece, 0);
		ok = x >= upos && mime_codec_iconv(j->to_cs, j->u + upos, x - upos, piece) &&
		    dpos + piece->len <= u->d1 && memcmp(piece->str, j->d + dpos, piece->len) == 0;
		dpos += piece->len;
		upos = x;
		dx[i] = dpos;
	}
	g_string_free(piece, TRUE);
	return ok;
}

/* Quoted-printable, finest: the group's original bytes with only each
 * edit's value encoded in place (a UTF-8 or ASCII part). Before a value
 * the line keeps its bytes up to the value and the value goes on from the
 * column it has reached in what is written (after a soft break when that
 * is past 75); after it the rest of the line follows on the value's last
 * line when both fit in 76 columns, else after a soft break. Every byte
 * outside the values stays as it was (soft breaks aside). Each encoded
 * value is checked (it decodes to the value), unless it was only folded
 * (mime_codec_qp_encode: then it does by construction). dx: each edit's
 * start and end in the decoded bytes (edit_offsets). FALSE, with gbuf
 * as it was, when an edit cannot be placed so: the caller re-encodes
 * soft lines. */
static gboolean
qp_splice(const part_job *j, const unit *ua, const unit *ub, const edit *ed, guint ei, guint ej,
    const gsize *dx, const GString *d, GByteArray *gbuf)
{
	gsize cur = ua->e0, prev = ua->d0, start = gbuf->len, delta = 0;
	guint k;

	for (k = ei; k < ej; k++) {
		gsize ds = dx[2 * (k - ei)], de = dx[2 * (k - ei) + 1];
		gsize ps, pe, cs, col, ce, at, rl = strlen(ed[k].repl);
		const char *nl;
		gboolean join, literal;

		/* a value past column 75 of an over-long line: encode it again */
		if (ds < prev || de < ds || !qp_locate(j, ds, &ps, &cs) || !qp_locate(j, de, &pe, &ce) ||
		    ps < cur || pe < ps || cs > 75)
			goto fail;
		g_byte_array_append(gbuf, (const guint8 *)j->c + cur, (guint)(ps - cur));
		/* the column the value starts at in what is written, not cs: a
		 * value before it on that line may have changed its length (the
		 * rest of its line joined it). Past 75 no soft break fits ("="
		 * would be column 77): encode the soft lines again */
		if ((col = last_line(gbuf->data, gbuf->len)) > 75)
			goto fail;
		at = gbuf->len;
		literal = mime_codec_qp_encode(ed[k].repl, rl, col, j->eol, gbuf);
		if (ce > 0 && (nl = memchr(j->c + pe, '\n', ub->e1 - pe)) != NULL) {
			/* the rest of pe's line joins the value's last line when both fit */
			gsize rest = (gsize)(nl - j->c) - pe - (nl > j->c + pe && nl[-1] == '\r');
			gsize last = last_line(gbuf->data + at, gbuf->len - at);
			if (last == gbuf->len - at)      /* still on the line of the value's start */
				last += col;
			join = last + rest <= 76;
		} else
			join = pe >= j->clen;    /* the part's end: no line follows */
		if (!join)
			put_soft_break(gbuf, j->eol);
		if (!literal && !mime_codec_qp_check(gbuf->data + at, gbuf->len - at, ed[k].repl, rl))
			goto fail;
		delta += rl - (de - ds);
		cur = pe;
		prev = de;
	}
	if (cur > ub->e1 || ub->d1 - ua->d0 + delta != d->len)
		goto fail;
	g_byte_array_append(gbuf, (const guint8 *)j->c + cur, (guint)(ub->e1 - cur));
	return TRUE;
fail:
	g_byte_array_set_size(gbuf, (guint)start);
	return FALSE;
}


/* Quoted-printable bytes for a group whose new decoded bytes are d:
 * the soft lines before the first edit and after the last kept as they
 * are (UTF-8 and ASCII parts, where edit offsets are decoded offsets),
 * the rest encoded, with a soft break where the kept tail starts. Every
 * piece is checked: the new bytes decode to d. */
gboolean
rewrite_qp_group(const part_job *j, const unit *ua, const unit *ub, const edit *ed, guint ei, guint ej,
    const GString *d, GByteArray *gbuf)
{
	gsize ep = ua->e0, pre = 0, es = ub->e1, post = 0, at, first = G_MAXSIZE, last = 0;
	guint k;

	if (j->softs != NULL) {
		gsize small[16], *dx = 2 * (gsize)(ej - ei) <= G_N_ELEMENTS(small) ? small :
		    g_new(gsize, 2 * (gsize)(ej - ei));
		gboolean done = edit_offsets(j, ed, ei, ej, dx) && qp_splice(j, ua, ub, ed, ei, ej, dx, d, gbuf);
		if (dx != small)
			g_free(dx);
		if (done)
			return TRUE;
	}
	if (j->u8 == NULL && j->softs != NULL) {
		for (k = ei; k < ej; k++) {
			first = MIN(first, ed[k].s);
			last = MAX(last, ed[k].e);
		}
		qp_keep(j, ua, ub, first, last, &ep, &pre, &es, &post);
		if (pre + post > d->len || memcmp(j->d + ua->d0, d->str, pre) != 0 ||
		    memcmp(j->d + ub->d1 - post, d->str + d->len - post, post) != 0)
			ep = ua->e0, pre = 0, es = ub->e1, post = 0;
	}
	g_byte_array_append(gbuf, (const guint8 *)j->c + ua->e0, ep - ua->e0);
	at = gbuf->len;
	mime_codec_qp_encode(d->str + pre, d->len - pre - post, 0, j->eol, gbuf);
	if (post > 0 && last_line(gbuf->data + at, gbuf->len - at) + 1 > 76) {
		/* no room for the soft break: encode the tail too */
		g_byte_array_set_size(gbuf, at);
		es = ub->e1;
		post = 0;
		mime_codec_qp_encode(d->str + pre, d->len - pre, 0, j->eol, gbuf);
	}
	if (post > 0)
		put_soft_break(gbuf, j->eol);
	if (!mime_codec_qp_check(gbuf->data + at, gbuf->len - at, d->str + pre, d->len - pre - post))
		return FALSE;
	g_byte_array_append(gbuf, (const guint8 *)j->c + es, ub->e1 - es);
	return TRUE;
}

/*
 * outgoing.c - the edits crm-milter makes to a message before it leaves
 * (header edits, tracking rewrite) and the message they produce; shared by
 * the milter and the dry run (see outgoing.h).
 */
#include <string.h>

#include "outgoing.h"

/* Free one edit (the array's element destructor). */
static void
hdr_free(gpointer p)
{
	outgoing_hdr *h = p;

	if (h == NULL)
		return;
	g_free(h->name);
	g_free(h->value);
	g_free(h);
}

/* Append a new edit. */
static void
hdr_add(GPtrArray *edits, const char *name, int index, const char *value)
{
	outgoing_hdr *h = g_new0(outgoing_hdr, 1);

	h->name = g_strdup(name);
	h->index = index;
	h->value = g_strdup(value);
	g_ptr_array_add(edits, h);
}

/* Header edits of d, in the order they are applied. */
GPtrArray *
outgoing_header_edits(const crm_decision *d, const char *new_subject)
{
	GPtrArray *edits = g_ptr_array_new_with_free_func(hdr_free);
	GPtrArray *names = g_ptr_array_new();
	guint i, j;

	/* remove_headers holds a name once per copy: count them per name
	 * (case ignored), in first-seen order */
	for (i = 0; d->remove_headers != NULL && i < d->remove_headers->len; i++) {
		const char *name = g_ptr_array_index(d->remove_headers, i);
		gboolean seen = FALSE;
		for (j = 0; j < names->len && !seen; j++)
			seen = g_ascii_strcasecmp(g_ptr_array_index(names, j), name) == 0;
		if (seen)
			continue;
		g_ptr_array_add(names, (gpointer)name);
		int copies = 0;
		for (j = i; j < d->remove_headers->len; j++)
			if (g_ascii_strcasecmp(g_ptr_array_index(d->remove_headers, j), name) == 0)
				copies++;
		for (int k = copies; k >= 1; k--)
			hdr_add(edits, name, k, NULL);
	}
	g_ptr_array_unref(names);
	if (new_subject != NULL)
		hdr_add(edits, "Subject", 1, new_subject);
	return edits;
}

/* The tracking rewrite with cfg's options under a new tracking id. */
rewrite_status
outgoing_track(const crm_config *cfg, const token_ring *ring, html_links_ctx *tokenizer,
    guint track, const guint8 *raw, gsize len, const crm_message *parsed, GByteArray *body,
    rewrite_stats *stats, char **track_hex, char **reason, GError **err)
{
	const GPtrArray *ex = cfg->tracking.exclude_domains;
	const char **exclude = g_new0(const char *, (ex != NULL ? ex->len : 0) + 1);
	guint8 id[TOKEN_ID_LEN];
	rewrite_opts opts;
	rewrite_status st;

	for (guint i = 0; ex != NULL && i < ex->len; i++)
		exclude[i] = g_ptr_array_index(ex, i);      /* NULL-terminated view */
	token_new_id(id);
	memset(&opts, 0, sizeof(opts));
	opts.ring = ring;
	opts.base_url = cfg->tracking.base_url;
	opts.track_id = id;
	opts.opens = (track & TRACK_OPENS) != 0;
	opts.clicks = (track & TRACK_CLICKS) != 0;
	opts.exclude_domains = exclude;
	opts.max_html_size = (gsize)cfg->tracking.max_html_size;
	opts.max_click_path = (gsize)cfg->tracker.max_url_length;
	opts.max_size = (gsize)cfg->max_message_size;
	opts.tokenizer = tokenizer;
	st = rewrite_parsed(raw, len, parsed != NULL ? message_mime(parsed) : NULL,
	    parsed != NULL ? message_headers_end(parsed) : -1, &opts, body, stats, reason, err);
	if (st == REWRITE_DONE && track_hex != NULL) {
		GString *hex = g_string_sized_new(TOKEN_ID_LEN * 2);
		for (int i = 0; i < TOKEN_ID_LEN; i++)
			g_string_append_printf(hex, "%02x", id[i]);
		*track_hex = g_string_free(hex, FALSE);
	}
	g_free(exclude);
	return st;
}

/* One header field of the raw header block. */
typedef struct field {
	gsize start, end;   /* bytes of the field, folded lines and line end included */
	gsize name_len;
	char *text;         /* replacement ("Name: value" + line end), or NULL */
	gboolean deleted;
} field;

/* Split raw's header block into fields; returns the offset of the body
 * (after the empty line) and sets *crlf from the first line end. */
static gsize
split_fields(const guint8 *raw, gsize len, GArray *fields, gboolean *crlf)
{
	gsize pos = 0;

	*crlf = FALSE;
	for (gsize i = 0; i < len; i++)
		if (raw[i] == '\n') {
			*crlf = i > 0 && raw[i - 1] == '\r';
			break;
		}
	while (pos < len) {
		gsize eol = pos;
		while (eol < len && raw[eol] != '\n')
			eol++;
		gsize next = eol < len ? eol + 1 : len;
		gsize content = eol;
		if (content > pos && raw[content - 1] == '\r')
			content--;
		if (content == pos)                       /* the empty line */
			return next;
		if ((raw[pos] == ' ' || raw[pos] == '\t') && fields->len > 0) {
			g_array_index(fields, field, fields->len - 1).end = next;
		} else {
			field f = { pos, next, 0, NULL, FALSE };
			const guint8 *colon = memchr(raw + pos, ':', content - pos);
			f.name_len = colon != NULL ? (gsize)(colon - (raw + pos)) : 0;
			while (f.name_len > 0 && (raw[pos + f.name_len - 1] == ' ' ||
			    raw[pos + f.name_len - 1] == '\t'))
				f.name_len--;
			g_array_append_val(fields, f);
		}
		pos = next;
	}
	return len;     /* headers only, no body */
}

/* "Name: value" and a line end; bare LFs of a folded value follow the
 * message's line ends. */
static char *
field_text(const char *name, const char *value, gboolean crlf)
{
	GString *s = g_string_new(name);

	g_string_append(s, ": ");
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n' && crlf)
			g_string_append_c(s, '\r');
		g_string_append_c(s, *p);
	}
	g_string_append(s, crlf ? "\r\n" : "\n");
	return g_string_free(s, FALSE);
}

/* Apply one edit to the fields; an edit of a missing header adds it
 * (returned, for the end of the block) unless it deletes. */
static char *
apply_edit(const guint8 *raw, GArray *fields, const outgoing_hdr *h, gboolean crlf)
{
	gsize nlen = strlen(h->name);
	int seen = 0;

	for (guint i = 0; i < fields->len; i++) {
		field *f = &g_array_index(fields, field, i);
		if (f->deleted || f->name_len != nlen ||
		    g_ascii_strncasecmp((const char *)raw + f->start, h->name, nlen) != 0)
			continue;
		if (++seen != h->index)
			continue;
		g_free(f->text);
		f->text = NULL;
		if (h->value == NULL)
			f->deleted = TRUE;
		else
			f->text = field_text(h->name, h->value, crlf);
		return NULL;
	}
	return h->value != NULL ? field_text(h->name, h->value, crlf) : NULL;
}

/* The message as the MTA passes it on after the edits. */
void
outgoing_render(const guint8 *raw, gsize len, const GPtrArray *edits,
    const GByteArray *body, GByteArray *out)
{
	GArray *fields = g_array_new(FALSE, FALSE, sizeof(field));
	GPtrArray *added = g_ptr_array_new_with_free_func(g_free);
	gboolean crlf;
	gsize body_at = split_fields(raw, len, fields, &crlf);
	gsize sep_at = fields->len > 0 ? g_array_index(fields, field, fields->len - 1).end : 0;
	guint i;

	for (i = 0; edits != NULL && i < edits->len; i++) {
		char *t = apply_edit(raw, fields, g_ptr_array_index(edits, i), crlf);
		if (t != NULL)
			g_ptr_array_add(added, t);
	}
	for (i = 0; i < fields->len; i++) {
		field *f = &g_array_index(fields, field, i);
		if (f->text != NULL)
			g_byte_array_append(out, (const guint8 *)f->text, (guint)strlen(f->text));
		else if (!f->deleted)
			g_byte_array_append(out, raw + f->start, (guint)(f->end - f->start));
		g_free(f->text);
	}
	for (i = 0; i < added->len; i++) {
		const char *t = g_ptr_array_index(added, i);
		g_byte_array_append(out, (const guint8 *)t, (guint)strlen(t));
	}
	/* the empty line, then the body */
	if (body_at > sep_at)
		g_byte_array_append(out, raw + sep_at, (guint)(body_at - sep_at));
	else if (body != NULL)
		g_byte_array_append(out, (const guint8 *)(crlf ? "\r\n" : "\n"), crlf ? 2 : 1);
	if (body != NULL)
		g_byte_array_append(out, body->data, body->len);
	else if (body_at < len)
		g_byte_array_append(out, raw + body_at, (guint)(len - body_at));
	g_ptr_array_unref(added);
	g_array_unref(fields);
}

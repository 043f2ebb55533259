/*
 * message.c - parse once with GMime, answer questions about the message.
 * See message.h.
 */
#include <string.h>
#include <gio/gio.h>

#include "message.h"

struct crm_message {
	GMimeMessage *mime;
	gint64 headers_end;      /* where the parser saw the header block end */
	gsize size;
	gboolean has_attachments;
};

/* GMime's one-time initialisation. */
static gpointer
gmime_init_once(gpointer data)
{
	g_mime_init();
	return NULL;
}

/* Make GMime ready (once, thread-safe). */
void
message_gmime_init(void)
{
	static GOnce once = G_ONCE_INIT;

	g_once(&once, gmime_init_once, NULL);
}

/* Inline: disposition inline on an image or a part with a Content-ID, or
 * a Content-ID target inside multipart/related, unless its disposition
 * says attachment (a file attached there with a Content-ID). */
gboolean
message_part_is_inline(GMimeObject *parent, GMimeObject *part)
{
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(part);
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	const char *cid = g_mime_object_get_content_id(part);
	gboolean disp_inline = d != NULL && !g_mime_content_disposition_is_attachment(d);

	if (d != NULL && g_mime_content_disposition_is_attachment(d))
		return FALSE;
	if (disp_inline && (cid != NULL || (ct != NULL && g_mime_content_type_is_type(ct, "image", "*"))))
		return TRUE;
	if (cid != NULL && parent != NULL && GMIME_IS_MULTIPART(parent) &&
	    (ct = g_mime_object_get_content_type(parent)) != NULL &&
	    g_mime_content_type_is_type(ct, "multipart", "related"))
		return TRUE;
	return FALSE;
}

/* Is a leaf an attachment (see message.h)? */
gboolean
message_part_is_attachment(GMimeObject *parent, GMimeObject *part)
{
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(part);
	GMimeContentType *ct = g_mime_object_get_content_type(part);

	if (GMIME_IS_MULTIPART(part) || message_part_is_inline(parent, part))
		return FALSE;
	/* signatures are part of signing, whatever their disposition says */
	if (ct != NULL && (g_mime_content_type_is_type(ct, "application", "pkcs7-signature") ||
	    g_mime_content_type_is_type(ct, "application", "x-pkcs7-signature") ||
	    g_mime_content_type_is_type(ct, "application", "pgp-signature")))
		return FALSE;
	if (d != NULL && g_mime_content_disposition_is_attachment(d))
		return TRUE;
	if (GMIME_IS_PART(part) && g_mime_part_get_filename(GMIME_PART(part)) != NULL)
		return TRUE;
	if (GMIME_IS_MESSAGE_PART(part))
		return TRUE;
	/* unnamed text (bodies, alternatives, a calendar invitation's body) is not */
	return ct != NULL && !g_mime_content_type_is_type(ct, "text", "*");
}

/* g_mime_message_foreach visitor: note the first attachment. */
static void
find_attachment(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	gboolean *found = data;

	if (!*found && message_part_is_attachment(parent, part))
		*found = TRUE;
}

/* Parse raw bytes once. */
crm_message *
message_parse(const guint8 *data, gsize len, GError **err)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *mime;
	crm_message *m;

	message_gmime_init();
	stream = g_mime_stream_mem_new_with_buffer((const char *)(data ? data : (const guint8 *)""), len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	mime = g_mime_parser_construct_message(parser, NULL);
	gint64 he = g_mime_parser_get_headers_end(parser);
	g_object_unref(parser);
	g_object_unref(stream);
	if (mime == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		    "GMime cannot parse the message (%" G_GSIZE_FORMAT " bytes)", len);
		return NULL;
	}
	m = g_new0(crm_message, 1);
	m->mime = mime;
	m->headers_end = he;
	m->size = len;
	g_mime_message_foreach(mime, find_attachment, &m->has_attachments);
	return m;
}

/* Free; NULL-safe. */
crm_message *
message_free(crm_message *m)
{
	if (m == NULL)
		return NULL;
	g_object_unref(m->mime);
	g_free(m);
	return NULL;
}

GMimeMessage *
message_mime(const crm_message *m)
{
	return m->mime;
}

/* Where the header block ended, as GMime's parser saw it. */
gint64
message_headers_end(const crm_message *m)
{
	return m->headers_end;
}

gsize
message_size(const crm_message *m)
{
	return m->size;
}

gboolean
message_has_attachments(const crm_message *m)
{
	return m->has_attachments;
}

/* The first value of a header. */
const char *
message_header(const crm_message *m, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m->mime));
	GMimeHeader *h = g_mime_header_list_get_header(hl, name);

	return h != NULL ? g_mime_header_get_value(h) : NULL;
}

/* Every value of a header, in order. */
GPtrArray *
message_headers(const crm_message *m, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m->mime));
	GPtrArray *out = g_ptr_array_new();
	int i, n = g_mime_header_list_get_count(hl);

	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) == 0)
			g_ptr_array_add(out, (gpointer)g_mime_header_get_value(h));
	}
	return out;
}

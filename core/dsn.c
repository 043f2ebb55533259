/*
 * dsn.c - delivery status notifications (RFC 3464, RFC 6533) read with
 * GMime. See dsn.h for what counts as a DSN, the outcomes and the bounds.
 *
 * GMime finds the report's parts. The message/delivery-status body is a
 * series of header blocks separated by blank lines (per-message fields,
 * then one block per recipient); GMime has no parser for it, so each
 * block is read by GMime's own header parser: a GMimeParser on a
 * substream that starts at the block constructs a part whose headers are
 * the block's fields and whose content stream starts at the next block
 * (GMime consumes the blank line). The only bytes looked at by hand are
 * in the recovery step: when GMime cannot start a block (a first line
 * that is not a field, or a block that declares its own MIME type) we
 * skip to the next line and try again. Every substream is a view on the
 * one decoded buffer (no copies) and is cut at DSN_MAX_BLOCK_BYTES, so a
 * block costs at most that much scanning.
 *
 * Ownership: reports and everything in them belong to the caller.
 */
#include <string.h>

#include "activity.h"
#include "dsn.h"

G_DEFINE_QUARK(crm-dsn-error-quark, dsn_error)

/* The fields of one header block that we keep. */
typedef struct block_fields {
	const char *reporting_mta;
	const char *envelope_id;
	const char *original_msgid;
	const char *final_rcpt;
	const char *orig_rcpt;
	const char *action;
	const char *status;
	const char *diagnostic;
	const char *remote_mta;
} block_fields;

/* Free one recipient (GDestroyNotify). */
static void
recipient_free(gpointer p)
{
	dsn_recipient *r = p;

	if (r == NULL)
		return;
	g_free(r->recipient);
	g_free(r->original_recipient);
	g_free(r->action);
	g_free(r->status);
	g_free(r->diagnostic);
	g_free(r->remote_mta);
	g_free(r);
}

/* Free a report and everything in it. */
dsn_report *
dsn_report_free(dsn_report *rep)
{
	if (rep == NULL)
		return NULL;
	g_free(rep->reporting_mta);
	g_free(rep->original_message_id);
	g_free(rep->original_envelope_id);
	if (rep->recipients != NULL)
		g_ptr_array_unref(rep->recipients);
	g_free(rep);
	return NULL;
}

/* TRUE when the recipient failed: action failed or a 5.x.x status. */
gboolean
dsn_is_failure(const dsn_recipient *r)
{
	if (r == NULL)
		return FALSE;
	if (r->action != NULL && g_ascii_strcasecmp(r->action, "failed") == 0)
		return TRUE;
	return r->status != NULL && r->status[0] == '5';
}

/* s cut to at most max bytes on a UTF-8 boundary, in place. */
static void
cut_utf8(char *s, gsize max)
{
	gsize n;

	if (s == NULL || (n = strlen(s)) <= max)
		return;
	n = max;
	while (n > 0 && ((guchar)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

/* A field value as a new string: valid UTF-8, blank runs made one space,
 * trimmed, at most DSN_MAX_FIELD bytes; NULL when nothing is left. */
static char *
field_dup(const char *s)
{
	GString *out;
	char *valid;
	const char *p;
	gboolean blank = FALSE;

	if (s == NULL)
		return NULL;
	valid = g_utf8_make_valid(s, -1);
	out = g_string_new(NULL);
	for (p = valid; *p != '\0' && out->len <= DSN_MAX_FIELD; p++) {
		if (g_ascii_isspace(*p)) {
			blank = out->len > 0;
			continue;
		}
		if (blank)
			g_string_append_c(out, ' ');
		blank = FALSE;
		g_string_append_c(out, *p);
	}
	g_free(valid);
	cut_utf8(out->str, DSN_MAX_FIELD);
	if (out->str[0] == '\0') {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* The part of a typed field ("rfc822; a@b", "dns; mx", "smtp; 550 ...")
 * after its type (one word of letters, digits and '-' before the first
 * ';'); the whole value when it has no type ("550 full; retry"). */
static const char *
after_type(const char *value)
{
	const char *semi = strchr(value, ';');
	const char *p = value;

	const char *tok;

	if (semi == NULL)
		return value;
	while (p < semi && g_ascii_isspace(*p))
		p++;
	for (tok = p; p < semi && (g_ascii_isalnum(*p) || *p == '-'); p++)
		;
	if (p == tok)
		return value;
	while (p < semi && g_ascii_isspace(*p))
		p++;
	return p == semi ? semi + 1 : value;
}

/* A typed field's text after its type, as field_dup makes it. */
static char *
typed_text(const char *value)
{
	return value != NULL ? field_dup(after_type(value)) : NULL;
}

/* The bare lower-case address of a typed recipient field, read by GMime's
 * address parser; NULL when it is not an address (no '@'). */
static char *
typed_address(const char *value)
{
	InternetAddressList *list;
	char *out = NULL;
	int i, n;

	if (value == NULL)
		return NULL;
	list = internet_address_list_parse(NULL, after_type(value));
	if (list == NULL)
		return NULL;
	n = internet_address_list_length(list);
	for (i = 0; i < n && out == NULL; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		const char *addr;
		char *clean;

		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		clean = field_dup(addr);
		if (clean != NULL && strchr(clean, '@') != NULL &&
		    strchr(clean, ' ') == NULL)
			out = g_utf8_strdown(clean, -1);
		g_free(clean);
	}
	g_object_unref(list);
	cut_utf8(out, DSN_MAX_FIELD);
	return out;
}

/* Count 1 to 3 digits at s; 0 when there are none or more than 3. */
static gsize
digits_1_3(const char *s)
{
	gsize n = 0;

	while (n < 4 && g_ascii_isdigit(s[n]))
		n++;
	return n <= 3 ? n : 0;
}

/* The status code ("5.1.1") at the start of a Status value, or NULL when
 * it does not start with class.subject.detail (class 2, 4 or 5). */
static char *
status_code(const char *value)
{
	const char *s = value, *p;
	gsize n;

	if (s == NULL)
		return NULL;
	while (g_ascii_isspace(*s))
		s++;
	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return NULL;
	if (s[1] != '.')
		return NULL;
	p = s + 2;
	if ((n = digits_1_3(p)) == 0 || p[n] != '.')
		return NULL;
	p += n + 1;
	if ((n = digits_1_3(p)) == 0)
		return NULL;
	p += n;
	if (*p != '\0' && !g_ascii_isspace(*p) && *p != '(' && *p != ';')
		return NULL;
	return g_strndup(s, (gsize)(p - s));
}

/* A Message-ID without <> (GMime's msg-id reader), capped; or NULL. */
static char *
msgid_dup(const char *raw)
{
	char *id, *out;

	if (raw == NULL)
		return NULL;
	id = g_mime_utils_decode_message_id(raw);
	out = field_dup(id);
	g_free(id);
	return out;
}

/* Add the recipient a block describes (if it names an address). */
static void
add_recipient(dsn_report *rep, const block_fields *f)
{
	dsn_recipient *r;
	char *addr = typed_address(f->final_rcpt);
	char *orig = typed_address(f->orig_rcpt);
	char *action;

	if (addr == NULL && orig != NULL)
		addr = g_strdup(orig);
	if (addr == NULL) {
		g_free(orig);
		return;
	}
	r = g_new0(dsn_recipient, 1);
	r->recipient = addr;
	r->original_recipient = orig;
	action = field_dup(f->action);
	r->action = action != NULL ? g_ascii_strdown(action, -1) : NULL;
	g_free(action);
	r->status = status_code(f->status);
	r->diagnostic = typed_text(f->diagnostic);
	r->remote_mta = typed_text(f->remote_mta);
	g_ptr_array_add(rep->recipients, r);
}

/* Take one parsed block: per-message fields (first seen wins) and, when
 * it names a recipient, a recipient. FALSE when the recipient cap is hit. */
static gboolean
take_block(dsn_report *rep, char **status_msgid, GMimeObject *block)
{
	block_fields f;

	f.reporting_mta = g_mime_object_get_header(block, "Reporting-MTA");
	f.envelope_id = g_mime_object_get_header(block, "Original-Envelope-Id");
	f.original_msgid = g_mime_object_get_header(block, "X-Original-Message-ID");
	f.final_rcpt = g_mime_object_get_header(block, "Final-Recipient");
	f.orig_rcpt = g_mime_object_get_header(block, "Original-Recipient");
	f.action = g_mime_object_get_header(block, "Action");
	f.status = g_mime_object_get_header(block, "Status");
	f.diagnostic = g_mime_object_get_header(block, "Diagnostic-Code");
	f.remote_mta = g_mime_object_get_header(block, "Remote-MTA");
	if (rep->reporting_mta == NULL)
		rep->reporting_mta = typed_text(f.reporting_mta);
	if (rep->original_envelope_id == NULL)
		rep->original_envelope_id = field_dup(f.envelope_id);
	if (*status_msgid == NULL)
		*status_msgid = msgid_dup(f.original_msgid);
	if (f.final_rcpt == NULL && f.orig_rcpt == NULL)
		return TRUE;
	if (rep->recipients->len >= DSN_MAX_RECIPIENTS) {
		rep->truncated = TRUE;
		return FALSE;
	}
	add_recipient(rep, &f);
	return TRUE;
}

/* The offset just past the next LF at or after off (recovery only). */
static gint64
next_line(const GByteArray *buf, gint64 off)
{
	const guint8 *lf = memchr(buf->data + off, '\n', buf->len - (gsize)off);

	return lf != NULL ? (gint64)(lf - buf->data) + 1 : (gint64)buf->len;
}

/* The decoded content of a leaf part in a new memory stream (position 0),
 * at most cap bytes; *cut is set when there was more. */
static GMimeStream *
decoded_content(GMimePart *part, gsize cap, gboolean *cut)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *buf;

	if (dw != NULL)
		g_mime_data_wrapper_write_to_stream(dw, mem);
	buf = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	if (buf->len > cap) {
		g_byte_array_set_size(buf, (guint)cap);
		if (cut != NULL)
			*cut = TRUE;
	}
	g_mime_stream_reset(mem);
	return mem;
}

/* Read every header block of the delivery-status part into rep. Returns
 * the X-Original-Message-ID it found (new string) or NULL. */
static char *
read_status(dsn_report *rep, GMimePart *part)
{
	GMimeStream *mem = decoded_content(part, DSN_MAX_STATUS_BYTES, &rep->truncated);
	GByteArray *buf = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	gint64 len = (gint64)buf->len, off = 0;
	char *status_msgid = NULL;
	guint blocks;

	for (blocks = 0; off < len && blocks < DSN_MAX_BLOCKS; blocks++) {
		gint64 end = MIN(len, off + DSN_MAX_BLOCK_BYTES), next = off;
		GMimeStream *sub = g_mime_stream_substream(mem, off, end);
		GMimeParser *parser = g_mime_parser_new_with_stream(sub);
		GMimeObject *obj = g_mime_parser_construct_part(parser, NULL);
		gboolean more = TRUE;

		g_object_unref(parser);
		g_object_unref(sub);
		if (obj != NULL && GMIME_IS_PART(obj)) {
			GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(obj));
			GMimeStream *rest = dw != NULL ? g_mime_data_wrapper_get_stream(dw) : NULL;

			next = rest != NULL ? rest->bound_start : end;
			if (next >= end && end < len)
				rep->truncated = TRUE;  /* one block filled the window */
			more = take_block(rep, &status_msgid, obj);
		}
		if (obj != NULL)
			g_object_unref(obj);
		if (!more)
			break;
		/* the content substream shares mem's buffer, so its bound_start is
		 * where the next block begins; when GMime could not start here or
		 * that offset makes no progress, skip one line instead */
		off = next > off && next <= len ? next : next_line(buf, off);
	}
	if (off < len && blocks >= DSN_MAX_BLOCKS)
		rep->truncated = TRUE;
	g_object_unref(mem);
	return status_msgid;
}

/* The Message-ID of a returned original (message or headers), or NULL. */
static char *
returned_msgid(GMimeObject *orig)
{
	GMimeMessage *m = NULL;
	char *id;

	if (GMIME_IS_MESSAGE_PART(orig)) {
		m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(orig));
		return m != NULL ? field_dup(g_mime_message_get_message_id(m)) : NULL;
	}
	if (GMIME_IS_PART(orig)) {
		GMimeStream *mem = decoded_content(GMIME_PART(orig), DSN_MAX_STATUS_BYTES, NULL);
		GMimeParser *parser = g_mime_parser_new_with_stream(mem);

		g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
		m = g_mime_parser_construct_message(parser, NULL);
		g_object_unref(parser);
		g_object_unref(mem);
	}
	if (m == NULL)
		return NULL;
	id = field_dup(g_mime_message_get_message_id(m));
	g_object_unref(m);
	return id;
}

/* The first msg-id of the message's In-Reply-To, or NULL. */
static char *
in_reply_to(GMimeMessage *msg)
{
	const char *irt = g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To");
	GMimeReferences *refs;
	char *id = NULL;

	if (irt == NULL || (refs = g_mime_references_parse(NULL, irt)) == NULL)
		return NULL;
	if (g_mime_references_length(refs) > 0)
		id = field_dup(g_mime_references_get_message_id(refs, 0));
	g_mime_references_free(refs);
	return id;
}

/* TRUE when part's type is type/subtype (case-insensitive). */
static gboolean
is_type(GMimeObject *part, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(part);

	return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

/* Find the delivery-status part and the returned original among the
 * report's direct children (first of each). */
static void
find_parts(GMimeMultipart *report, GMimePart **status, GMimeObject **orig)
{
	int i, n = g_mime_multipart_get_count(report);

	*status = NULL;
	*orig = NULL;
	for (i = 0; i < n; i++) {
		GMimeObject *part = g_mime_multipart_get_part(report, i);

		if (*status == NULL && GMIME_IS_PART(part) &&
		    (is_type(part, "message", "delivery-status") ||
		    is_type(part, "message", "global-delivery-status")))
			*status = GMIME_PART(part);
		else if (*orig == NULL &&
		    (is_type(part, "message", "rfc822") || is_type(part, "message", "global") ||
		    is_type(part, "text", "rfc822-headers") ||
		    is_type(part, "message", "global-headers")))
			*orig = part;
	}
}

/* Read a DSN from a parsed message (see dsn.h). */
dsn_report *
dsn_from_message(GMimeMessage *msg, GError **err)
{
	GMimeObject *top, *orig;
	GMimePart *status;
	const char *rtype;
	dsn_report *rep;
	char *status_msgid;

	if (msg == NULL)
		return NULL;
	top = g_mime_message_get_mime_part(msg);
	if (top == NULL || !GMIME_IS_MULTIPART(top) || !is_type(top, "multipart", "report"))
		return NULL;
	find_parts(GMIME_MULTIPART(top), &status, &orig);
	rtype = g_mime_object_get_content_type_parameter(top, "report-type");
	if (rtype != NULL ? (g_ascii_strcasecmp(rtype, "delivery-status") != 0 &&
	    g_ascii_strcasecmp(rtype, "global-delivery-status") != 0) : status == NULL)
		return NULL;
	if (status == NULL) {
		g_set_error(err, DSN_ERROR, DSN_ERROR_NO_STATUS,
		    "delivery status notification without a message/delivery-status part");
		return NULL;
	}
	rep = g_new0(dsn_report, 1);
	rep->recipients = g_ptr_array_new_with_free_func(recipient_free);
	status_msgid = read_status(rep, status);
	if (rep->recipients->len == 0) {
		g_free(status_msgid);
		g_set_error(err, DSN_ERROR, DSN_ERROR_NO_RECIPIENTS,
		    "delivery status notification names no recipient");
		return dsn_report_free(rep);
	}
	if (orig != NULL)
		rep->original_message_id = returned_msgid(orig);
	if (rep->original_message_id != NULL) {
		rep->original_source = DSN_ORIGINAL_RETURNED;
	} else if (status_msgid != NULL) {
		rep->original_message_id = g_steal_pointer(&status_msgid);
		rep->original_source = DSN_ORIGINAL_STATUS_FIELD;
	} else if ((rep->original_message_id = in_reply_to(msg)) != NULL) {
		rep->original_source = DSN_ORIGINAL_IN_REPLY_TO;
	}
	g_free(status_msgid);
	return rep;
}

/* Parse raw bytes with GMime and read a DSN from them (see dsn.h). */
dsn_report *
dsn_parse(GBytes *raw, GError **err)
{
	gsize len = 0;
	const guint8 *data = raw != NULL ? g_bytes_get_data(raw, &len) : NULL;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;
	dsn_report *rep;

	if (data == NULL || len == 0)
		return NULL;
	activity_gmime_init();
	stream = g_mime_stream_mem_new_with_buffer((const char *)data, len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	if (msg == NULL)
		return NULL;
	rep = dsn_from_message(msg, err);
	g_object_unref(msg);
	return rep;
}

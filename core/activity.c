/*
 * activity.c - turn a raw RFC 5322 message into an activity with GMime 3.
 * See activity.h for what counts as a body and as an attachment.
 *
 * Nothing here parses addresses or MIME by hand: GMime's parser, its
 * InternetAddressList and its filters do it. g_mime_init runs once per
 * process behind a GOnce (GMime's own init is not thread-safe). Text is
 * decoded (transfer encoding, then charset to UTF-8, CRLF to LF) and
 * anything still not UTF-8 goes through g_mime_utils_decode_8bit.
 * Attachment sizes are counted by writing the decoded content into a
 * GMimeStreamNull, so no attachment is held in memory a second time.
 *
 * Ownership: activities and everything in them belong to the caller.
 */
#include <string.h>
#include <gio/gio.h>
#include <gmime/gmime.h>

#include "activity.h"
#include "message.h"

#define GROUP_DEPTH_MAX 8

/* Raw 8-bit text that is not UTF-8 is tried as these, in order. */
static const char *fallback_charsets[] = { "UTF-8", "windows-1252", NULL };

/* State while walking the MIME tree. */
typedef struct walk_ctx {
	activity *act;
	gsize max_body;
	gboolean with_content;
	GMimeParserOptions *opts;
} walk_ctx;

/* Initialize GMime exactly once (one guard for the whole library, in
 * message.c). */
void
activity_gmime_init(void)
{
	message_gmime_init();
}

/* Free one attachment (GDestroyNotify). */
static void
attachment_free(gpointer p)
{
	activity_attachment *a = p;

	if (a == NULL)
		return;
	g_free(a->filename);
	g_free(a->content_type);
	if (a->content != NULL)
		g_bytes_unref(a->content);
	g_free(a);
}

/* An empty activity. */
activity *
activity_new(const char *direction)
{
	activity *act = g_new0(activity, 1);

	act->direction = g_strdup(direction);
	act->to = g_ptr_array_new_with_free_func(g_free);
	act->cc = g_ptr_array_new_with_free_func(g_free);
	act->bcc = g_ptr_array_new_with_free_func(g_free);
	act->attachments = g_ptr_array_new_with_free_func(attachment_free);
	act->dropped = g_ptr_array_new_with_free_func(g_free);
	act->events = g_ptr_array_new_with_free_func(g_free);
	return act;
}

/* Append one attachment record. */
void
activity_add_attachment(activity *act, const char *filename,
    const char *content_type, gint64 size)
{
	activity_attachment *a = g_new0(activity_attachment, 1);

	a->filename = g_strdup(filename);
	a->content_type = g_strdup(content_type);
	a->size = size;
	g_ptr_array_add(act->attachments, a);
}

/* Free an activity and everything it holds. */
activity *
activity_free(activity *act)
{
	if (act == NULL)
		return NULL;
	g_free(act->direction);
	g_free(act->from);
	g_free(act->from_addr);
	if (act->to != NULL)
		g_ptr_array_unref(act->to);
	if (act->cc != NULL)
		g_ptr_array_unref(act->cc);
	if (act->bcc != NULL)
		g_ptr_array_unref(act->bcc);
	g_free(act->subject);
	g_free(act->message_id);
	g_free(act->in_reply_to);
	g_free(act->text_body);
	g_free(act->html_body);
	if (act->attachments != NULL)
		g_ptr_array_unref(act->attachments);
	g_free(act->regarding);
	g_free(act->category);
	g_free(act->corr_method);
	g_free(act->corr_message_id);
	if (act->dropped != NULL)
		g_ptr_array_unref(act->dropped);
	if (act->events != NULL)
		g_ptr_array_unref(act->events);
	g_free(act);
	return NULL;
}

/* len bytes of s as a new valid UTF-8 string (stops at a NUL); NULL for
 * NULL. Bytes that are not UTF-8 are decoded with GMime's fallbacks. */
static char *
utf8_dup_len(GMimeParserOptions *opts, const char *s, gsize len)
{
	char *copy, *out;

	if (s == NULL)
		return NULL;
	copy = g_strndup(s, len);
	if (g_utf8_validate(copy, -1, NULL))
		return copy;
	out = g_mime_utils_decode_8bit(opts, copy, strlen(copy));
	g_free(copy);
	if (out != NULL && !g_utf8_validate(out, -1, NULL)) {
		copy = g_utf8_make_valid(out, -1);
		g_free(out);
		out = copy;
	}
	return out;
}

/* s as a new valid UTF-8 string, or NULL. */
static char *
utf8_dup(GMimeParserOptions *opts, const char *s)
{
	return s != NULL ? utf8_dup_len(opts, s, strlen(s)) : NULL;
}

/* s cut to at most max bytes on a UTF-8 boundary, in place. */
static void
cut_utf8(char *s, gsize max)
{
	gsize n;

	if (s == NULL || max == 0 || (n = strlen(s)) <= max)
		return;
	n = max;
	while (n > 0 && ((guchar)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

/* A bare address: blanks and one pair of <> removed, lower-case; NULL
 * when nothing is left. */
static char *
normalize_addr(GMimeParserOptions *opts, const char *raw)
{
	char *s, *t, *out;
	gsize n;

	if (raw == NULL)
		return NULL;
	s = utf8_dup(opts, raw);
	t = g_strstrip(s);
	n = strlen(t);
	if (n >= 2 && t[0] == '<' && t[n - 1] == '>') {
		t[n - 1] = '\0';
		t = g_strstrip(t + 1);
	}
	out = *t != '\0' ? g_utf8_strdown(t, -1) : NULL;
	g_free(s);
	return out;
}

/* Append the mailboxes of list (walking groups) to out, once each. */
static void
add_addrs(GMimeParserOptions *opts, GPtrArray *out, GHashTable *seen,
    InternetAddressList *list, int depth)
{
	int i, n;

	if (list == NULL || depth > GROUP_DEPTH_MAX)
		return;
	n = internet_address_list_length(list);
	for (i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			add_addrs(opts, out, seen, internet_address_group_get_members(
			    INTERNET_ADDRESS_GROUP(ia)), depth + 1);
		} else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			char *a = normalize_addr(opts, internet_address_mailbox_get_addr(
			    INTERNET_ADDRESS_MAILBOX(ia)));

			if (a == NULL || g_hash_table_contains(seen, a)) {
				g_free(a);
				continue;
			}
			g_hash_table_add(seen, g_strdup(a));
			g_ptr_array_add(out, a);
		}
	}
}

/* Every mailbox of list as a bare lower-case address, once each. */
GPtrArray *
activity_addresses(InternetAddressList *list)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	add_addrs(NULL, out, seen, list, 0);
	g_hash_table_unref(seen);
	return out;
}

/* The first mailbox in list (walking groups), or NULL. */
static InternetAddressMailbox *
first_mailbox(InternetAddressList *list, int depth)
{
	int i, n;

	if (list == NULL || depth > GROUP_DEPTH_MAX)
		return NULL;
	n = internet_address_list_length(list);
	for (i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		InternetAddressMailbox *mb = NULL;

		if (INTERNET_ADDRESS_IS_GROUP(ia))
			mb = first_mailbox(internet_address_group_get_members(
			    INTERNET_ADDRESS_GROUP(ia)), depth + 1);
		else if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			mb = INTERNET_ADDRESS_MAILBOX(ia);
		if (mb != NULL && internet_address_mailbox_get_addr(mb) != NULL &&
		    *internet_address_mailbox_get_addr(mb) != '\0')
			return mb;
	}
	return NULL;
}

/* From, To, Cc and (from the envelope) Bcc. */
static void
fill_addresses(GMimeParserOptions *opts, activity *act, GMimeMessage *msg,
    GPtrArray *rcpts)
{
	GHashTable *seen_to = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTable *seen_cc = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	InternetAddressMailbox *mb = first_mailbox(g_mime_message_get_from(msg), 0);
	guint i;

	if (mb != NULL) {
		char *s = internet_address_to_string(INTERNET_ADDRESS(mb), NULL, FALSE);

		act->from = utf8_dup(opts, s);
		g_free(s);
		act->from_addr = normalize_addr(opts, internet_address_mailbox_get_addr(mb));
	}
	add_addrs(opts, act->to, seen_to,
	    g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_TO), 0);
	add_addrs(opts, act->cc, seen_cc,
	    g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_CC), 0);
	for (i = 0; rcpts != NULL && i < rcpts->len; i++) {
		char *a = normalize_addr(opts, g_ptr_array_index(rcpts, i));

		if (a != NULL && !g_hash_table_contains(seen_to, a) &&
		    !g_hash_table_contains(seen_cc, a)) {
			g_hash_table_add(seen_cc, g_strdup(a));  /* also dedups bcc */
			g_ptr_array_add(act->bcc, a);
		} else {
			g_free(a);
		}
	}
	g_hash_table_unref(seen_to);
	g_hash_table_unref(seen_cc);
}

/* Subject, Date, Message-ID and the first msg-id of In-Reply-To. */
static void
fill_headers(GMimeParserOptions *opts, activity *act, GMimeMessage *msg)
{
	GDateTime *date = g_mime_message_get_date(msg);
	const char *irt = g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To");

	act->subject = utf8_dup(opts, g_mime_message_get_subject(msg));
	act->date = date != NULL ? g_date_time_to_unix(date) : 0;
	act->message_id = utf8_dup(opts, g_mime_message_get_message_id(msg));
	if (irt != NULL) {
		GMimeReferences *refs = g_mime_references_parse(opts, irt);

		if (refs != NULL && g_mime_references_length(refs) > 0)
			act->in_reply_to = utf8_dup(opts, g_mime_references_get_message_id(refs, 0));
		if (refs != NULL)
			g_mime_references_free(refs);
	}
}

/* TRUE for charsets whose bytes need no conversion to UTF-8. */
static gboolean
is_utf8_compatible(const char *charset)
{
	return g_ascii_strcasecmp(charset, "utf-8") == 0 ||
	    g_ascii_strcasecmp(charset, "utf8") == 0 ||
	    g_ascii_strcasecmp(charset, "us-ascii") == 0 ||
	    g_ascii_strcasecmp(charset, "ascii") == 0;
}

/* The decoded text of a text part as UTF-8 with LF line ends, capped. */
static char *
decode_text(GMimeParserOptions *opts, GMimePart *part, gsize max_body)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	GMimeStream *mem, *filtered;
	GMimeFilter *f;
	GByteArray *bytes;
	char *text;

	if (content == NULL)
		return g_strdup("");
	mem = g_mime_stream_mem_new();
	filtered = g_mime_stream_filter_new(mem);
	if (charset != NULL && !is_utf8_compatible(charset) &&
	    (f = g_mime_filter_charset_new(charset, "UTF-8")) != NULL) {
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
		g_object_unref(f);
	}
	f = g_mime_filter_dos2unix_new(FALSE);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
	g_object_unref(f);
	g_mime_data_wrapper_write_to_stream(content, filtered);
	g_mime_stream_flush(filtered);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	text = utf8_dup_len(opts, (const char *)bytes->data, bytes->len);
	g_object_unref(filtered);
	g_object_unref(mem);
	cut_utf8(text, max_body);
	return text;
}

/* Decoded size of a leaf part, counted without keeping the bytes. */
static gint64
decoded_size(GMimeObject *part)
{
	GMimeStream *null = g_mime_stream_null_new();
	gint64 size;

	if (GMIME_IS_PART(part)) {
		GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(part));

		if (dw != NULL)
			g_mime_data_wrapper_write_to_stream(dw, null);
	} else if (GMIME_IS_MESSAGE_PART(part)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));

		/* as on the wire: CRLF line ends */
		if (m != NULL) {
			GMimeFormatOptions *fo = g_mime_format_options_new();

			g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
			g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, null);
			g_mime_format_options_free(fo);
		}
	}
	size = (gint64)GMIME_STREAM_NULL(null)->written;
	g_object_unref(null);
	return size;
}

/* Decoded content of a leaf part (a forwarded message as on the wire). */
static GBytes *
decoded_content(GMimeObject *part)
{
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *arr;

	if (GMIME_IS_PART(part)) {
		GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(part));
		if (dw != NULL)
			g_mime_data_wrapper_write_to_stream(dw, mem);
	} else if (GMIME_IS_MESSAGE_PART(part)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
		if (m != NULL) {
			GMimeFormatOptions *fo = g_mime_format_options_new();
			g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
			g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, mem);
			g_mime_format_options_free(fo);
		}
	}
	arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	GBytes *b = g_bytes_new(arr->data, arr->len);
	g_object_unref(mem);
	return b;
}

/* The filename of any leaf part (Content-Disposition, then type's name). */
static const char *
part_filename(GMimeObject *part)
{
	const char *name;

	if (GMIME_IS_PART(part))
		return g_mime_part_get_filename(GMIME_PART(part));
	name = g_mime_object_get_content_disposition_parameter(part, "filename");
	if (name == NULL)
		name = g_mime_object_get_content_type_parameter(part, "name");
	return name;
}

/* Visit one part: take it as a body, record it as an attachment, or skip. */
static void
walk_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	walk_ctx *ctx = data;
	GMimeContentType *ct;
	GMimeContentDisposition *disp;
	gboolean is_att;
	const char *filename;
	char *type, *lower, *name;

	if (part == NULL || GMIME_IS_MULTIPART(part))
		return;
	ct = g_mime_object_get_content_type(part);
	disp = g_mime_object_get_content_disposition(part);
	is_att = disp != NULL && g_mime_content_disposition_is_attachment(disp);
	filename = part_filename(part);
	if (GMIME_IS_PART(part) && !is_att && filename == NULL && ct != NULL) {
		if (ctx->act->text_body == NULL && g_mime_content_type_is_type(ct, "text", "plain")) {
			ctx->act->text_body = decode_text(ctx->opts, GMIME_PART(part), ctx->max_body);
			return;
		}
		if (ctx->act->html_body == NULL && g_mime_content_type_is_type(ct, "text", "html")) {
			ctx->act->html_body = decode_text(ctx->opts, GMIME_PART(part), ctx->max_body);
			return;
		}
	}
	/* further text versions (alternatives, list footers, a calendar
	 * body), signatures and inline parts are not attachments */
	if (!message_part_is_attachment(parent, part))
		return;
	type = ct != NULL ? g_mime_content_type_get_mime_type(ct) : g_strdup("application/octet-stream");
	lower = g_ascii_strdown(type, -1);
	name = utf8_dup(ctx->opts, filename);
	if (ctx->with_content) {
		GBytes *content = decoded_content(part);
		activity_add_attachment(ctx->act, name, lower, (gint64)g_bytes_get_size(content));
		((activity_attachment *)g_ptr_array_index(ctx->act->attachments,
		    ctx->act->attachments->len - 1))->content = content;
	} else {
		activity_add_attachment(ctx->act, name, lower, decoded_size(part));
	}
	g_free(name);
	g_free(lower);
	g_free(type);
}

/* Parse a raw message into a new activity (attachments without content). */
activity *
activity_parse(GBytes *raw, const char *direction, GPtrArray *rcpts,
    gsize max_body, GError **err)
{
	return activity_parse_full(raw, direction, rcpts, max_body, FALSE, err);
}

/* Parse a raw message; with_content keeps each attachment's bytes. */
activity *
activity_parse_full(GBytes *raw, const char *direction, GPtrArray *rcpts,
    gsize max_body, gboolean with_content, GError **err)
{
	gsize len = 0;
	const guint8 *data = raw != NULL ? g_bytes_get_data(raw, &len) : NULL;
	GMimeParserOptions *opts;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;
	activity *act;
	walk_ctx ctx;

	activity_gmime_init();
	opts = g_mime_parser_options_new();
	g_mime_parser_options_set_fallback_charsets(opts, fallback_charsets);
	stream = g_mime_stream_mem_new_with_buffer((const char *)(data != NULL ? data : (const guint8 *)""), len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, opts);
	g_object_unref(parser);
	g_object_unref(stream);
	if (msg == NULL) {
		g_mime_parser_options_free(opts);
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		    "cannot parse the message (%" G_GSIZE_FORMAT " bytes)", len);
		return NULL;
	}
	act = activity_new(direction);
	fill_addresses(opts, act, msg, rcpts);
	fill_headers(opts, act, msg);
	ctx.act = act;
	ctx.max_body = max_body;
	ctx.with_content = with_content;
	ctx.opts = opts;
	g_mime_message_foreach(msg, walk_part, &ctx);
	g_object_unref(msg);
	g_mime_parser_options_free(opts);
	return act;
}

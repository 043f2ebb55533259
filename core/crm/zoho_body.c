/*
 * crm/zoho_body.c - what the zoho connector sends and reads (see zoho.h):
 *   - the associate_email body, exactly as Zoho CRM v8 documents it
 *     (wrapper "Emails", one email: from, to, cc, bcc as {user_name?,
 *     email}, subject <= 500, content <= 32,000 characters with
 *     mail_format html or text, original_message_id, sent, date_time in
 *     ISO 8601 with an offset, attachments [{id}]); a body over the limit
 *     is cut with a note, never refused;
 *   - the multipart/form-data body of the files API (repeated "file"
 *     fields) and the file ids of its answer;
 *   - the code, message and status of an answer (first item of "Emails"
 *     or "data", else the top level).
 * JSON is json-glib's; addresses are parsed by GMime.
 */
#include <string.h>
#include <gmime/gmime.h>
#include <json-glib/json-glib.h>

#include "zoho.h"

#define CUT_NOTE "\n\n[cut by crm-milter: Zoho takes 32,000 characters]"

/* The answer's JSON root object (parser kept in *parser), or NULL. */
static JsonObject *
answer_object(const http_response *rs, JsonParser **parser)
{
	JsonNode *root;

	*parser = json_parser_new();
	if (rs->body == NULL || rs->body->len == 0 ||
	    !json_parser_load_from_data(*parser, (const char *)rs->body->data, rs->body->len, NULL))
		return NULL;
	root = json_parser_get_root(*parser);
	return root != NULL && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

/* A string member as a new string, or NULL. */
static char *
str_dup_member(JsonObject *o, const char *name)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, name) : NULL;

	return n != NULL && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ?
	    g_strdup(json_node_get_string(n)) : NULL;
}

/* The first object of the array member name, or NULL. */
static JsonObject *
first_item(JsonObject *o, const char *name)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, name) : NULL;
	JsonArray *a;

	if (n == NULL || !JSON_NODE_HOLDS_ARRAY(n))
		return NULL;
	a = json_node_get_array(n);
	if (json_array_get_length(a) == 0 || !JSON_NODE_HOLDS_OBJECT(json_array_get_element(a, 0)))
		return NULL;
	return json_array_get_object_element(a, 0);
}

/* Code, message and status of the answer's first item or top level. */
char *
zoho_answer_item(const http_response *rs, char **message, char **status)
{
	JsonParser *p;
	JsonObject *root = answer_object(rs, &p), *item = first_item(root, "Emails");
	char *code;

	if (item == NULL)
		item = first_item(root, "data");
	if (item == NULL)
		item = root;
	code = str_dup_member(item, "code");
	if (message != NULL)
		*message = str_dup_member(item, "message");
	if (status != NULL)
		*status = str_dup_member(item, "status");
	g_object_unref(p);
	return code;
}

/* At most max characters of s (new string); *cut says whether it was cut. */
static char *
utf8_cut(const char *s, glong max, gboolean *cut)
{
	glong n = g_utf8_strlen(s, -1);

	*cut = n > max;
	if (!*cut)
		return g_strdup(s);
	return g_strndup(s, (gsize)(g_utf8_offset_to_pointer(s, max) - s));
}

/* The content and its mail_format: the HTML when it fits, else the text,
 * else either cut with a note. */
static char *
content_of(const activity *a, const char **format)
{
	const char *html = a->html_body != NULL && *a->html_body != '\0' ? a->html_body : NULL;
	const char *text = a->text_body != NULL && *a->text_body != '\0' ? a->text_body : NULL;
	glong room = ZOHO_MAX_CONTENT - (glong)g_utf8_strlen(CUT_NOTE, -1);
	gboolean cut;
	char *part, *out;

	if (html != NULL && g_utf8_strlen(html, -1) <= ZOHO_MAX_CONTENT) {
		*format = "html";
		return g_strdup(html);
	}
	*format = text != NULL || html == NULL ? "text" : "html";
	if (text == NULL && html == NULL)
		return g_strdup("(no body)");
	part = utf8_cut(text != NULL ? text : html, ZOHO_MAX_CONTENT, &cut);
	if (!cut)
		return part;
	g_free(part);
	part = utf8_cut(text != NULL ? text : html, room, &cut);
	out = g_strconcat(part, CUT_NOTE, NULL);
	g_free(part);
	return out;
}

/* The display name of a From header, or NULL (new string). */
static char *
from_name(const char *from)
{
	InternetAddressList *l;
	InternetAddress *ia;
	char *name = NULL;

	if (from == NULL)
		return NULL;
	activity_gmime_init();
	l = internet_address_list_parse(NULL, from);
	ia = l != NULL && internet_address_list_length(l) > 0 ? internet_address_list_get_address(l, 0) : NULL;
	if (ia != NULL && internet_address_get_name(ia) != NULL && *internet_address_get_name(ia) != '\0')
		name = g_strdup(internet_address_get_name(ia));
	if (l != NULL)
		g_object_unref(l);
	return name;
}

/* One {user_name?, email} object. */
static void
add_person(JsonBuilder *b, const char *addr, const char *name)
{
	gboolean cut;
	char *n;

	json_builder_begin_object(b);
	if (name != NULL && *name != '\0') {
		n = utf8_cut(name, 255, &cut);
		json_builder_set_member_name(b, "user_name");
		json_builder_add_string_value(b, n);
		g_free(n);
	}
	json_builder_set_member_name(b, "email");
	json_builder_add_string_value(b, addr);
	json_builder_end_object(b);
}

/* Does the address fit Zoho's email field (an @, at most 255 bytes)? */
static gboolean
usable(const char *addr)
{
	return addr != NULL && strchr(addr, '@') != NULL && strlen(addr) <= ZOHO_MAX_ADDRESS;
}

/* How many addresses of list fit. */
static guint
count_usable(const GPtrArray *list)
{
	guint n = 0;

	for (guint i = 0; list != NULL && i < list->len; i++)
		n += usable(g_ptr_array_index(list, i));
	return n;
}

/* "name": [people] (at most ZOHO_MAX_PEOPLE), or nothing for an empty list. */
static void
add_people(JsonBuilder *b, const char *member, const GPtrArray *list, GHashTable *names)
{
	guint n = 0;

	if (count_usable(list) == 0)
		return;
	json_builder_set_member_name(b, member);
	json_builder_begin_array(b);
	for (guint i = 0; i < list->len && n < ZOHO_MAX_PEOPLE; i++) {
		const char *addr = g_ptr_array_index(list, i);
		if (!usable(addr))
			continue;
		add_person(b, addr, names != NULL ? g_hash_table_lookup(names, addr) : NULL);
		n++;
	}
	json_builder_end_array(b);
}

/* "member": "value". */
static void
add_str(JsonBuilder *b, const char *member, const char *value)
{
	json_builder_set_member_name(b, member);
	json_builder_add_string_value(b, value);
}

/* ISO 8601 with an offset, UTC. */
static char *
iso_time(gint64 t)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(t);
	char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S+00:00");

	g_date_time_unref(dt);
	return s;
}

/* The associate_email body. */
char *
zoho_email_json(const activity *a, const char *from_addr, GHashTable *names,
    const GPtrArray *file_ids, const char *msgid, gint64 now)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g = json_generator_new();
	const GPtrArray *to = a->to, *cc = a->cc, *bcc = a->bcc;
	const char *format;
	char *content = content_of(a, &format), *name = from_name(a->from), *subject, *when, *out;
	gboolean cut;
	JsonNode *root;

	/* "to" is required: with no usable To, the envelope's (Bcc), else Cc */
	if (count_usable(to) == 0) {
		if (count_usable(bcc) > 0) {
			to = bcc;
			bcc = NULL;
		} else {
			to = cc;
			cc = NULL;
		}
	}
	subject = utf8_cut(a->subject != NULL && *a->subject != '\0' ? a->subject : "(no subject)",
	    ZOHO_MAX_SUBJECT, &cut);
	when = iso_time(a->date > 0 ? a->date : now);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "Emails");
	json_builder_begin_array(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "from");
	add_person(b, from_addr, name);
	add_people(b, "to", to, names);
	add_people(b, "cc", cc, names);
	add_people(b, "bcc", bcc, names);
	add_str(b, "subject", subject);
	add_str(b, "content", content);
	add_str(b, "mail_format", format);
	add_str(b, "original_message_id", msgid);
	json_builder_set_member_name(b, "sent");
	json_builder_add_boolean_value(b, g_strcmp0(a->direction, "outbound") == 0 ||
	    g_strcmp0(a->direction, "internal") == 0);
	add_str(b, "date_time", when);
	if (file_ids != NULL && file_ids->len > 0) {
		json_builder_set_member_name(b, "attachments");
		json_builder_begin_array(b);
		for (guint i = 0; i < file_ids->len; i++) {
			json_builder_begin_object(b);
			add_str(b, "id", g_ptr_array_index(file_ids, i));
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
	}
	json_builder_end_object(b);
	json_builder_end_array(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(g, root);
	json_node_unref(root);
	out = json_generator_to_data(g, NULL);
	g_object_unref(g);
	g_object_unref(b);
	g_free(content);
	g_free(name);
	g_free(subject);
	g_free(when);
	return out;
}

/* A header parameter value: quotes, backslashes and line ends replaced. */
static char *
header_safe(const char *s, const char *fallback)
{
	char *out = g_strdup(s != NULL && *s != '\0' ? s : fallback);

	for (char *p = out; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || *p == '\r' || *p == '\n')
			*p = '_';
	return out;
}

/* Does any attachment hold the boundary? */
static gboolean
boundary_in(activity_attachment *const *atts, guint n, const char *boundary)
{
	for (guint i = 0; i < n; i++) {
		gsize len = 0;
		const void *data = atts[i]->content != NULL ? g_bytes_get_data(atts[i]->content, &len) : NULL;
		if (data != NULL && memmem(data, len, boundary, strlen(boundary)) != NULL)
			return TRUE;
	}
	return FALSE;
}

/* The files API body. */
GByteArray *
zoho_multipart(activity_attachment *const *atts, guint n, char **boundary)
{
	GByteArray *out = g_byte_array_new();
	char *b = NULL;

	do {
		g_free(b);
		b = g_strdup_printf("crm-milter-%08x%08x%08x", g_random_int(), g_random_int(),
		    g_random_int());
	} while (boundary_in(atts, n, b));
	for (guint i = 0; i < n; i++) {
		char *fallback = g_strdup_printf("attachment-%u", i + 1);
		char *fname = header_safe(atts[i]->filename, fallback);
		char *ctype = header_safe(atts[i]->content_type, "application/octet-stream");
		char *head = g_strdup_printf("--%s\r\nContent-Disposition: form-data; name=\"file\"; "
		    "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n", b, fname, ctype);
		gsize len = 0;
		const guint8 *data = atts[i]->content != NULL ?
		    g_bytes_get_data(atts[i]->content, &len) : NULL;

		g_byte_array_append(out, (const guint8 *)head, (guint)strlen(head));
		if (len > 0)
			g_byte_array_append(out, data, (guint)len);
		g_byte_array_append(out, (const guint8 *)"\r\n", 2);
		g_free(head);
		g_free(ctype);
		g_free(fname);
		g_free(fallback);
	}
	char *tail = g_strdup_printf("--%s--\r\n", b);
	g_byte_array_append(out, (const guint8 *)tail, (guint)strlen(tail));
	g_free(tail);
	*boundary = b;
	return out;
}

/* The file ids of a files API answer. */
GPtrArray *
zoho_file_ids(const http_response *rs, guint n, char **why)
{
	JsonParser *p;
	JsonObject *root = answer_object(rs, &p);
	JsonNode *data = root != NULL ? json_object_get_member(root, "data") : NULL;
	JsonArray *arr = data != NULL && JSON_NODE_HOLDS_ARRAY(data) ? json_node_get_array(data) : NULL;
	GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);

	*why = NULL;
	for (guint i = 0; arr != NULL && i < json_array_get_length(arr) && *why == NULL; i++) {
		JsonNode *el = json_array_get_element(arr, i);
		JsonObject *item = JSON_NODE_HOLDS_OBJECT(el) ? json_node_get_object(el) : NULL;
		JsonNode *d = item != NULL ? json_object_get_member(item, "details") : NULL;
		char *status = str_dup_member(item, "status"), *id = NULL;

		if (d != NULL && JSON_NODE_HOLDS_OBJECT(d))
			id = str_dup_member(json_node_get_object(d), "id");
		if (g_strcmp0(status, "success") != 0 || id == NULL || *id == '\0') {
			char *code = str_dup_member(item, "code"), *msg = str_dup_member(item, "message");
			*why = g_strdup_printf("file %u: %s: %s", i + 1, code != NULL ? code : "no id",
			    msg != NULL ? msg : "-");
			g_free(code);
			g_free(msg);
			g_free(id);
		} else {
			g_ptr_array_add(ids, id);
		}
		g_free(status);
	}
	if (*why == NULL && ids->len != n)
		*why = g_strdup_printf("%u file ids for %u files", ids->len, n);
	g_object_unref(p);
	if (*why != NULL)
		g_clear_pointer(&ids, g_ptr_array_unref);
	return ids;
}

/* Split "Module/ID". */
gboolean
zoho_record_split(const char *rec, char **module, char **id)
{
	const char *slash = rec != NULL ? strchr(rec, '/') : NULL;

	if (slash == NULL || slash == rec || slash[1] == '\0')
		return FALSE;
	*module = g_strndup(rec, (gsize)(slash - rec));
	*id = g_strdup(slash + 1);
	return TRUE;
}

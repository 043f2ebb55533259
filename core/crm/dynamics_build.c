/*
 * crm/dynamics_build.c - the JSON bodies of the dynamics365 connector
 * (see dynamics.h): the email (subject, description, directioncode,
 * messageid, actualend, category, regarding bind, and its
 * email_activity_parties resolved through the directory), its
 * activitymimeattachments, and the state change that completes it.
 * Every record gets a primary key derived from what it is (dyn_guid: the
 * email's from the profile and the job's idempotency key, an
 * attachment's from the email's and its index), so a create repeated for
 * any reason (a retry after a lost answer, libcurl re-sending a POST on a
 * reused connection that died) is refused as a duplicate key instead of
 * making a second record (notes: create-entity-web-api "Set the primary
 * key value"; "Cannot insert duplicate key" -2147220937).
 * Column limits are the email table's (notes 2.4, 2.5, 2.7): subject 800,
 * messageid 320, category 250, addressused 320, filename 255, mimetype 256
 * characters (counted as UTF-16 units, as Dataverse counts them).
 */
#include <stdarg.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "dynamics.h"
#include "../directory.h"

#define SUBJECT_MAX 800
#define MESSAGEID_MAX 320
#define CATEGORY_MAX 250
#define ADDRESS_MAX 320
#define ATT_FILENAME_MAX 255
#define MIMETYPE_MAX 256

/* s cut to at most max UTF-16 units, on a character boundary (new string). */
static char *
cut_chars(const char *s, gsize max)
{
	const char *p = s;
	gsize units = 0;

	while (*p != '\0') {
		gunichar c = g_utf8_get_char(p);
		gsize u = c >= 0x10000 ? 2 : 1;
		if (units + u > max)
			break;
		units += u;
		p = g_utf8_next_char(p);
	}
	return g_strndup(s, (gsize)(p - s));
}

/* s cut to at most max bytes on a character boundary (new string); *cut
 * is set when it was cut. */
static char *
cut_bytes(const char *s, gsize max, gboolean *cut)
{
	gsize len = strlen(s);
	const char *end;

	if (max == 0 || len <= max)
		return g_strdup(s);
	*cut = TRUE;
	end = s + max;
	while (end > s && ((guchar)*end & 0xC0) == 0x80)
		end--;
	return g_strndup(s, (gsize)(end - s));
}

/* RFC 3339 UTC of unix seconds (new string). */
static char *
iso_time(gint64 t)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(t);
	char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");

	g_date_time_unref(dt);
	return s;
}

/* Is s a GUID (8-4-4-4-12 hex digits)? */
gboolean
dyn_is_guid(const char *s)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };

	if (s == NULL)
		return FALSE;
	for (gsize g = 0; g < G_N_ELEMENTS(groups); g++) {
		for (int i = 0; i < groups[g]; i++, s++)
			if (!g_ascii_isxdigit(*s))
				return FALSE;
		if (g + 1 < G_N_ELEMENTS(groups) && *s++ != '-')
			return FALSE;
	}
	return *s == '\0';
}

/* A GUID from the SHA-256 of the text: version 8, variant 10 (RFC 9562). */
char *
dyn_guid(const char *fmt, ...)
{
	va_list ap;
	char *text;
	guint8 h[32];
	gsize n = sizeof(h);
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_checksum_update(ck, (const guchar *)text, -1);
	g_checksum_get_digest(ck, h, &n);
	g_checksum_free(ck);
	g_free(text);
	h[6] = (guint8)((h[6] & 0x0f) | 0x80);
	h[8] = (guint8)((h[8] & 0x3f) | 0x80);
	return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13],
	    h[14], h[15]);
}

/* 'value' with ' doubled, as an OData string literal (not URL-encoded). */
char *
dyn_odata_string(const char *value)
{
	GString *out = g_string_new("'");

	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\'')
			g_string_append_c(out, '\'');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '\'');
	return g_string_free(out, FALSE);
}

/* "<bare>" cut to the messageid column. */
char *
dyn_messageid(const char *bare)
{
	char *full = g_strdup_printf("<%s>", bare);
	char *out = cut_chars(full, MESSAGEID_MAX);

	g_free(full);
	return out;
}

/* The entity set of a logical name: account -> accounts, opportunity ->
 * opportunities, address -> addresses. */
static char *
entity_set(const char *logical)
{
	gsize n = strlen(logical);

	if (n > 1 && logical[n - 1] == 'y' && strchr("aeiou", logical[n - 2]) == NULL)
		return g_strdup_printf("%.*sies", (int)(n - 1), logical);
	if (g_str_has_suffix(logical, "s") || g_str_has_suffix(logical, "x") ||
	    g_str_has_suffix(logical, "ch") || g_str_has_suffix(logical, "sh"))
		return g_strdup_printf("%ses", logical);
	return g_strdup_printf("%ss", logical);
}

/* The Dataverse logical name of one of our record types. */
static const char *
logical_name(const char *type)
{
	if (strcmp(type, "user") == 0)
		return "systemuser";
	if (strcmp(type, "case") == 0)
		return "incident";
	return type;
}

/* "name": string */
static void
add_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value);
}

/* The regarding bind of "type:GUID" (property and value), or FALSE. */
static gboolean
regarding_bind(const char *regarding, char **prop, char **value)
{
	const char *colon = regarding != NULL ? strchr(regarding, ':') : NULL;
	char *type, *id, *set;
	gboolean ok;

	if (colon == NULL || colon == regarding)
		return FALSE;
	type = g_strndup(regarding, (gsize)(colon - regarding));
	id = g_strdup(colon + 1);
	if (id[0] == '{' && strlen(id) > 2 && id[strlen(id) - 1] == '}') {
		char *inner = g_strndup(id + 1, strlen(id) - 2);
		g_free(id);
		id = inner;
	}
	ok = dyn_is_guid(id);
	for (const char *p = type; ok && *p != '\0'; p++)
		ok = g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '_';
	if (ok) {
		const char *logical = logical_name(type);
		set = entity_set(logical);
		*prop = g_strdup_printf("regardingobjectid_%s_email@odata.bind", logical);
		*value = g_strdup_printf("/%s(%s)", set, id);
		g_free(set);
	}
	g_free(type);
	g_free(id);
	return ok;
}

/* One activity party: addressused always, the directory's record bound
 * when it resolves to a GUID. */
static void
add_party(dyn *d, JsonBuilder *b, const char *address, int mask, gboolean no_binds)
{
	directory_entry *e = NULL;
	static const char *const nav[] = {
		[DIRREC_CONTACT] = "partyid_contact@odata.bind",
		[DIRREC_LEAD] = "partyid_lead@odata.bind",
		[DIRREC_ACCOUNT] = "partyid_account@odata.bind",
		[DIRREC_USER] = "partyid_systemuser@odata.bind",
	};
	static const char *const sets[] = {
		[DIRREC_CONTACT] = "contacts", [DIRREC_LEAD] = "leads",
		[DIRREC_ACCOUNT] = "accounts", [DIRREC_USER] = "systemusers",
	};

	if (address == NULL || *address == '\0' || g_utf8_strlen(address, -1) > ADDRESS_MAX)
		return;
	if (!no_binds && d->db != NULL)
		e = directory_lookup(d->db, address, NULL);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "participationtypemask");
	json_builder_add_int_value(b, mask);
	if (e != NULL && dyn_is_guid(e->record_id) && (guint)e->type < G_N_ELEMENTS(nav)) {
		char *v = g_strdup_printf("/%s(%s)", sets[e->type], e->record_id);
		add_str(b, nav[e->type], v);
		g_free(v);
	}
	add_str(b, "addressused", address);
	json_builder_end_object(b);
	directory_entry_free(e);
}

/* Every address of list as parties with mask. */
static void
add_parties(dyn *d, JsonBuilder *b, const GPtrArray *list, int mask, gboolean no_binds)
{
	for (guint i = 0; list != NULL && i < list->len; i++)
		add_party(d, b, g_ptr_array_index(list, i), mask, no_binds);
}

/* The builder's root as JSON text (frees the builder). */
static char *
finish(JsonBuilder *b)
{
	JsonGenerator *g = json_generator_new();
	JsonNode *root = json_builder_get_root(b);
	char *out;

	json_generator_set_root(g, root);
	out = json_generator_to_data(g, NULL);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
	return out;
}

/* Plain text as HTML that keeps its lines. */
static char *
text_as_html(const char *text)
{
	char *esc = g_markup_escape_text(text, -1);
	char *out = g_strdup_printf("<div style=\"white-space: pre-wrap\">%s</div>", esc);

	g_free(esc);
	return out;
}

/* 3 (sent) or 4 (received). */
int
dyn_statuscode(const activity *a)
{
	return g_strcmp0(a->direction, "inbound") == 0 ? 4 : 3;
}

/* The POST emails body (see the file comment). */
char *
dyn_email_json(dyn *d, const activity *a, const char *id, dyn_email_opts *o)
{
	JsonBuilder *b = json_builder_new();
	char *prop = NULL, *value = NULL;

	o->truncated = FALSE;
	json_builder_begin_object(b);
	add_str(b, "activityid", id);
	if (a->subject != NULL) {
		char *s = cut_chars(a->subject, SUBJECT_MAX);
		add_str(b, "subject", s);
		g_free(s);
	}
	if (a->html_body != NULL || a->text_body != NULL) {
		char *body = cut_bytes(a->html_body != NULL ? a->html_body : a->text_body,
		    d->max_body, &o->truncated);
		char *html = a->html_body != NULL ? NULL : text_as_html(body);
		add_str(b, "description", html != NULL ? html : body);
		g_free(html);
		g_free(body);
	}
	json_builder_set_member_name(b, "directioncode");
	json_builder_add_boolean_value(b, dyn_statuscode(a) == 3);
	if (a->message_id != NULL) {
		char *mid = dyn_messageid(a->message_id);
		add_str(b, "messageid", mid);
		g_free(mid);
	}
	if (a->date > 0) {
		char *t = iso_time(a->date);
		add_str(b, "actualend", t);
		g_free(t);
	}
	if (a->category != NULL) {
		char *c = cut_chars(a->category, CATEGORY_MAX);
		add_str(b, "category", c);
		g_free(c);
	}
	if (o->truncated) {
		json_builder_set_member_name(b, "notifications");
		json_builder_add_int_value(b, 2);   /* "Truncated body." */
	}
	if (!o->no_binds && regarding_bind(a->regarding, &prop, &value))
		add_str(b, prop, value);
	json_builder_set_member_name(b, "email_activity_parties");
	json_builder_begin_array(b);
	add_party(d, b, a->from_addr, 1, o->no_binds);
	add_parties(d, b, a->to, 2, o->no_binds);
	add_parties(d, b, a->cc, 3, o->no_binds);
	add_parties(d, b, a->bcc, 4, o->no_binds);
	json_builder_end_array(b);
	json_builder_end_object(b);
	g_free(prop);
	g_free(value);
	return finish(b);
}

/* The POST activitymimeattachments body. */
char *
dyn_attachment_json(const activity_attachment *at, guint index, const char *email_id,
    const char *bind)
{
	char *id = dyn_guid("activitymimeattachment/%s/%u", email_id, index);
	JsonBuilder *b = json_builder_new();
	gsize n = 0;
	const guchar *data = at->content != NULL ? g_bytes_get_data(at->content, &n) : NULL;
	char *name = at->filename != NULL && *at->filename != '\0' ?
	    cut_chars(at->filename, ATT_FILENAME_MAX) : g_strdup_printf("attachment-%u", index + 1);
	char *type = cut_chars(at->content_type != NULL ? at->content_type :
	    "application/octet-stream", MIMETYPE_MAX);
	char *b64 = g_base64_encode(data, n);

	json_builder_begin_object(b);
	add_str(b, "activitymimeattachmentid", id);
	add_str(b, "objectid_activitypointer@odata.bind", bind);
	add_str(b, "objecttypecode", "email");
	add_str(b, "filename", name);
	add_str(b, "mimetype", type);
	add_str(b, "body", b64);
	json_builder_end_object(b);
	g_free(name);
	g_free(type);
	g_free(b64);
	g_free(id);
	return finish(b);
}

/* The PATCH that completes the email. */
char *
dyn_state_json(const activity *a, int notifications)
{
	if (notifications > 0)
		return g_strdup_printf("{\"statecode\":1,\"statuscode\":%d,\"notifications\":%d}",
		    dyn_statuscode(a), notifications);
	return g_strdup_printf("{\"statecode\":1,\"statuscode\":%d}", dyn_statuscode(a));
}

/*
 * crm/zoho_sync.c - the zoho connector's directory sync (see zoho.h):
 * Contacts, then Leads, with GET /crm/v8/{module}?fields=Email,
 * Email_Opt_Out,First_Name,Last_Name,Modified_Time&per_page=200, sorted by
 * Modified_Time. Pages follow info.next_page_token when the answer has
 * one, else page=N+1, while info.more_records holds. Incremental: the
 * newest Modified_Time seen is kept per module (records.h, object
 * "zoho:Contacts", "zoho:Leads") and sent as If-Modified-Since next time;
 * 304 or 204 means nothing changed. The cursor moves only after a module
 * was read to its end, so a sync that fails half-way reads it again.
 * Email_Opt_Out is the directory's no_follow. Each page is written in one
 * transaction. Not synced: Accounts (no email field by default) and users.
 */
#include <string.h>
#include <json-glib/json-glib.h>

#include "zoho.h"
#include "records.h"
#include "../directory.h"

#define FIELDS "Email,Email_Opt_Out,First_Name,Last_Name,Modified_Time"
#define MAX_PAGES 10000

/* Unix seconds of an ISO 8601 time, or 0. */
static gint64
iso_seconds(const char *s)
{
	GDateTime *dt = s != NULL ? g_date_time_new_from_iso8601(s, NULL) : NULL;
	gint64 t = dt != NULL ? g_date_time_to_unix(dt) : 0;

	if (dt != NULL)
		g_date_time_unref(dt);
	return t;
}

/* A string member, or NULL. */
static const char *
str_member(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	return n != NULL && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ?
	    json_node_get_string(n) : NULL;
}

/* One record into the directory; FALSE with err on a database failure. */
static gboolean
upsert(zoho *z, JsonObject *rec, dir_record_type type, gint64 now, gint64 *newest, GError **err)
{
	const char *email = str_member(rec, "Email"), *id = str_member(rec, "id");
	const char *first = str_member(rec, "First_Name"), *last = str_member(rec, "Last_Name");
	JsonNode *opt = json_object_get_member(rec, "Email_Opt_Out");
	char *addr = email != NULL ? directory_normalize_address(email) : NULL;
	directory_entry e = { 0 };
	gint64 t = iso_seconds(str_member(rec, "Modified_Time"));
	gboolean ok = TRUE;

	if (t > *newest)
		*newest = t;
	if (addr == NULL || id == NULL || *id == '\0')
		goto out;             /* no address: nothing to match mail with */
	e.address = addr;
	e.type = type;
	e.record_id = (char *)id;
	e.name = g_strstrip(g_strdup_printf("%s %s", first != NULL ? first : "", last != NULL ? last : ""));
	if (*e.name == '\0')
		g_clear_pointer(&e.name, g_free);
	e.no_follow = opt != NULL && JSON_NODE_HOLDS_VALUE(opt) &&
	    json_node_get_value_type(opt) == G_TYPE_BOOLEAN && json_node_get_boolean(opt);
	ok = directory_upsert(z->db, &e, now, err);
	if (!ok && err != NULL && *err != NULL && (*err)->domain == DIRECTORY_ERROR &&
	    (*err)->code == DIRECTORY_ERROR_INVALID) {
		g_clear_error(err);   /* a record the directory cannot take: skipped */
		ok = TRUE;
	}
	g_free(e.name);
out:
	g_free(addr);
	return ok;
}

/* One page's records in one transaction; *more and *next from info. */
static gboolean
take_page(zoho *z, const http_response *rs, dir_record_type type, gint64 now, gint64 *newest,
    gboolean *more, char **next, GError **err)
{
	JsonParser *p = json_parser_new();
	JsonNode *root = NULL, *data, *info;
	JsonArray *arr;
	gboolean ok = TRUE;

	*more = FALSE;
	if (!json_parser_load_from_data(p, (const char *)rs->body->data, rs->body->len, err) ||
	    (root = json_parser_get_root(p)) == NULL || !JSON_NODE_HOLDS_OBJECT(root) ||
	    (data = json_object_get_member(json_node_get_object(root), "data")) == NULL ||
	    !JSON_NODE_HOLDS_ARRAY(data)) {
		if (err != NULL && *err == NULL)
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "a page without data[]");
		g_object_unref(p);
		return FALSE;
	}
	arr = json_node_get_array(data);
	if (!db_begin(z->db, err)) {
		g_object_unref(p);
		return FALSE;
	}
	for (guint i = 0; i < json_array_get_length(arr) && ok; i++)
		if (JSON_NODE_HOLDS_OBJECT(json_array_get_element(arr, i)))
			ok = upsert(z, json_array_get_object_element(arr, i), type, now, newest, err);
	if (ok)
		ok = db_commit(z->db, err);
	else
		db_rollback(z->db);
	info = json_object_get_member(json_node_get_object(root), "info");
	if (ok && info != NULL && JSON_NODE_HOLDS_OBJECT(info)) {
		JsonObject *o = json_node_get_object(info);
		const char *tok = str_member(o, "next_page_token");
		*more = json_object_get_boolean_member_with_default(o, "more_records", FALSE);
		*next = tok != NULL && *tok != '\0' ? g_strdup(tok) : NULL;
	}
	g_object_unref(p);
	return ok;
}

/* Read one module to its end from the stored cursor. */
static gboolean
sync_module(zoho *z, const char *module, dir_record_type type, gint64 now, GError **err)
{
	char *object = g_strdup_printf("zoho:%s", module), *next = NULL;
	char *cursor = crm_sync_get(z->db, z->profile->name, object, NULL, err);
	gint64 since = iso_seconds(cursor), newest = since;
	char *ims = cursor != NULL ? g_strdup_printf("If-Modified-Since: %s", cursor) : NULL;
	const char *headers[] = { ims, NULL };
	gboolean ok = err == NULL || *err == NULL, more = TRUE;

	for (int page = 1; ok && more && page <= MAX_PAGES; page++) {
		char *esc = next != NULL ? g_uri_escape_string(next, NULL, FALSE) : NULL;
		char *path = esc != NULL ?
		    g_strdup_printf("%s?fields=" FIELDS "&per_page=%d&sort_by=Modified_Time&sort_order=asc"
		    "&page_token=%s", module, ZOHO_PAGE, esc) :
		    g_strdup_printf("%s?fields=" FIELDS "&per_page=%d&sort_by=Modified_Time&sort_order=asc"
		    "&page=%d", module, ZOHO_PAGE, page);
		conn_result res = { CONN_OK, -1, NULL, FALSE };
		http_response rs;

		g_clear_pointer(&next, g_free);
		if (!zoho_request(z, "GET", path, ims != NULL ? headers : NULL, NULL, 0, now, &rs, &res)) {
			ok = FALSE;
		} else if (rs.status == 304 || rs.status == 204) {
			more = FALSE;
		} else if (rs.status == 200) {
			ok = take_page(z, &rs, type, now, &newest, &more, &next, err);
		} else {
			zoho_judge(&rs, module, now, &res);
			ok = FALSE;
		}
		if (!ok && res.error != NULL && err != NULL && *err == NULL)
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "zoho %s: %s", module, res.error);
		conn_result_clear(&res);
		http_response_clear(&rs);
		g_free(path);
		g_free(esc);
	}
	if (ok && newest > since) {
		GDateTime *dt = g_date_time_new_from_unix_utc(newest);
		char *stamp = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S+00:00");
		ok = crm_sync_put(z->db, z->profile->name, object, stamp, now, err);
		g_free(stamp);
		g_date_time_unref(dt);
	}
	g_free(next);
	g_free(ims);
	g_free(cursor);
	g_free(object);
	return ok;
}

/* Contacts, then Leads. */
gboolean
zoho_sync_directory(void *state, gint64 now, GError **err)
{
	zoho *z = state;

	return sync_module(z, "Contacts", DIRREC_CONTACT, now, err) &&
	    sync_module(z, "Leads", DIRREC_LEAD, now, err);
}

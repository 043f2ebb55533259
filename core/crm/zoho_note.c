/*
 * crm/zoho_note.c - engagement rollups for the zoho connector (see
 * zoho.h). associate_email makes no record of its own that fields could
 * be written to, so the rollup of a sent message (rollup.h: opens and
 * clicks by people with first and last, replies, bounced recipients, and
 * privacy proxies and scanners apart) goes to ONE Note per message on the
 * record its email was associated to: created with POST /crm/v8/Notes
 * (Parent_Id with the module's api_name) and written again with PUT
 * /crm/v8/Notes/{id} as events come. The rollup is summed and written
 * under the profile lock (zoho_lock), so workers and processes write one
 * at a time: the last write holds the latest rollup, and two never both
 * make a Note. A create whose answer was lost is found again (the
 * record's Notes related list, by the Note's title, which carries a
 * digest of the Message-ID) before another is made.
 *
 * An event of a message that has no association yet waits (retry) while
 * the message's save job is still in the spool; when there is none, the
 * message was never saved to this CRM and the event is done (it is kept
 * locally either way).
 */
#include <string.h>
#include <sqlite3.h>
#include <json-glib/json-glib.h>

#include "zoho.h"
#include "records.h"
#include "../rollup.h"
#include "../spool.h"

#define NOTE_KEY "zoho-note:"
#define TRY_KEY "zoho-note-try:"

/* A result with an error. */
static void
fail(conn_result *res, conn_status status, char *error)
{
	res->status = status;
	res->retry_after = -1;
	g_free(res->error);
	res->error = error;
}

/* Is a save job of this message still waiting in the spool? -1: database error. */
static int
save_pending(zoho *z, const char *mid)
{
	sqlite3_stmt *st = db_prepare(z->db, "SELECT 1 FROM jobs WHERE kind = ?1 AND profile = ?2 "
	    "AND state IN (?3, ?4) AND (message_id = ?5 OR message_id = '<' || ?5 || '>') LIMIT 1", NULL);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int(st, 1, JOB_SAVE);
	sqlite3_bind_text(st, 2, z->profile->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, JOB_PENDING);
	sqlite3_bind_int(st, 4, JOB_LEASED);
	sqlite3_bind_text(st, 5, mid, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* "2026-11-22 12:00 UTC". */
static char *
when(gint64 t)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(t);
	char *s = g_date_time_format(dt, "%Y-%m-%d %H:%M UTC");

	g_date_time_unref(dt);
	return s;
}

/* One line: "Label: N, first ..., last ...". */
static void
line(GString *out, const char *label, const rollup_counts *c)
{
	char *first, *last;

	g_string_append_printf(out, "%s: %u", label, c->n);
	if (c->n > 0) {
		first = when(c->first);
		last = when(c->last);
		g_string_append_printf(out, ", first %s, last %s", first, last);
		g_free(first);
		g_free(last);
	}
	g_string_append_c(out, '\n');
}

/* The Note's text. */
static char *
note_content(const char *mid, const rollup *r, gint64 now)
{
	GString *out = g_string_new(NULL);
	char *at = when(now);

	g_string_append_printf(out, "Engagement of the email <%s>\n", mid);
	line(out, "Opened by people", &r->opens);
	line(out, "Links clicked by people", &r->clicks);
	line(out, "Replies", &r->replies);
	line(out, "Bounced recipients", &r->bounces);
	g_string_append_printf(out, "Not counted as people: %u opens and %u clicks by privacy proxies, "
	    "%u opens and %u clicks by security scanners\n", r->proxy_opens.n, r->proxy_clicks.n,
	    r->scanner_opens.n, r->scanner_clicks.n);
	g_string_append_printf(out, "Updated by crm-milter at %s", at);
	g_free(at);
	return g_string_free(out, FALSE);
}

/* The Note's title: findable again, under Zoho's 120 characters. */
static char *
note_title(const char *mid)
{
	char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, mid, -1);
	char *title = g_strdup_printf("Email engagement [crm-milter %.16s]", digest);

	g_free(digest);
	return title;
}

/* {"data":[{Note_Title, Note_Content[, Parent_Id]}]}. */
static char *
note_json(const char *title, const char *content, const char *module, const char *id)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g = json_generator_new();
	JsonNode *root;
	char *out;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "data");
	json_builder_begin_array(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "Note_Title");
	json_builder_add_string_value(b, title);
	json_builder_set_member_name(b, "Note_Content");
	json_builder_add_string_value(b, content);
	if (module != NULL) {
		json_builder_set_member_name(b, "Parent_Id");
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "module");
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "api_name");
		json_builder_add_string_value(b, module);
		json_builder_end_object(b);
		json_builder_set_member_name(b, "id");
		json_builder_add_string_value(b, id);
		json_builder_end_object(b);
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
	return out;
}

/* The root object of an answer (parser kept in *p), or NULL. */
static JsonObject *
root_of(const http_response *rs, JsonParser **p)
{
	JsonNode *root;

	*p = json_parser_new();
	if (rs->body == NULL || rs->body->len == 0 ||
	    !json_parser_load_from_data(*p, (const char *)rs->body->data, rs->body->len, NULL))
		return NULL;
	root = json_parser_get_root(*p);
	return root != NULL && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

/* The id of data[i] (or of data[i].details), or NULL; new string. */
static char *
data_id(const http_response *rs, const char *title, gboolean details)
{
	JsonParser *p;
	JsonObject *root = root_of(rs, &p);
	JsonNode *n = root != NULL ? json_object_get_member(root, "data") : NULL;
	JsonArray *arr = n != NULL && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
	char *id = NULL;

	for (guint i = 0; arr != NULL && i < json_array_get_length(arr) && id == NULL; i++) {
		JsonNode *el = json_array_get_element(arr, i);
		JsonObject *o = JSON_NODE_HOLDS_OBJECT(el) ? json_node_get_object(el) : NULL;
		if (o != NULL && details)
			o = json_object_has_member(o, "details") &&
			    JSON_NODE_HOLDS_OBJECT(json_object_get_member(o, "details")) ?
			    json_object_get_object_member(o, "details") : NULL;
		if (o == NULL || (title != NULL &&
		    g_strcmp0(json_object_get_string_member_with_default(o, "Note_Title", NULL), title) != 0))
			continue;
		if (json_object_has_member(o, "id") && JSON_NODE_HOLDS_VALUE(json_object_get_member(o, "id")))
			id = json_node_get_value_type(json_object_get_member(o, "id")) == G_TYPE_STRING ?
			    g_strdup(json_object_get_string_member(o, "id")) :
			    g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(o, "id"));
	}
	g_object_unref(p);
	return id;
}

/* A Note made by a try whose answer was lost: the record's Notes, by title.
 * NULL (res untouched) when there is none; NULL with res set on failure. */
static char *
find_note(zoho *z, const char *module, const char *id, const char *title, gint64 now,
    conn_result *res)
{
	char *path = g_strdup_printf("%s/%s/Notes?fields=Note_Title&per_page=%d&sort_by=Modified_Time"
	    "&sort_order=desc", module, id, ZOHO_PAGE);
	http_response rs;
	char *note = NULL;

	if (zoho_request(z, "GET", path, NULL, NULL, 0, now, &rs, res)) {
		if (rs.status == 200)
			note = data_id(&rs, title, FALSE);
		else if (rs.status != 204)
			zoho_judge(&rs, "zoho Notes of the record", now, res);
	}
	http_response_clear(&rs);
	g_free(path);
	return note;
}

/* Store a record id under key. FALSE with res set. */
static gboolean
keep(zoho *z, const char *key, const char *type, const char *id, gint64 now, conn_result *res)
{
	GError *e = NULL;

	if (crm_record_put(z->db, z->profile->name, key, NULL, type, id, now, &e))
		return TRUE;
	fail(res, CONN_RETRY, g_strdup_printf("zoho: %s", e->message));
	g_error_free(e);
	return FALSE;
}

/* Create or write again the Note of a message associated to module/id. */
static void
write_note(zoho *z, const char *mid, const char *module, const char *id, const char *content,
    gint64 now, conn_result *res)
{
	static const char *const json_headers[] = { "Content-Type: application/json", NULL };
	char *key = g_strconcat(NOTE_KEY, mid, NULL), *try_key = g_strconcat(TRY_KEY, mid, NULL);
	char *title = note_title(mid), *note, *tried, *body = NULL, *path = NULL, *code, *msg = NULL,
	    *status = NULL;
	http_response rs = { 0 };
	GError *e = NULL;

	res->status = CONN_OK;
	note = crm_record_get(z->db, z->profile->name, key, NULL, &e);
	tried = e == NULL && note == NULL ? crm_record_get(z->db, z->profile->name, try_key, NULL, &e) : NULL;
	if (e != NULL) {
		fail(res, CONN_RETRY, g_strdup_printf("zoho: %s", e->message));
		g_error_free(e);
		goto out;
	}
	if (tried != NULL && (note = find_note(z, module, id, title, now, res)) == NULL &&
	    res->status != CONN_OK)
		goto out;
	if (note != NULL) {
		body = note_json(title, content, NULL, NULL);
		path = g_strdup_printf("Notes/%s", note);
		if (!zoho_request(z, "PUT", path, json_headers, body, strlen(body), now, &rs, res))
			goto out;
		if (tried != NULL && !keep(z, key, "Notes", note, now, res))
			goto out;
	} else {
		if (!keep(z, try_key, "Notes", "-", now, res))
			goto out;
		body = note_json(title, content, module, id);
		if (!zoho_request(z, "POST", "Notes", json_headers, body, strlen(body), now, &rs, res))
			goto out;
		if (rs.status >= 200 && rs.status < 300 && (note = data_id(&rs, NULL, TRUE)) != NULL &&
		    !keep(z, key, "Notes", note, now, res))
			goto out;
	}
	code = zoho_answer_item(&rs, &msg, &status);
	if (rs.status < 200 || rs.status >= 300)
		zoho_judge(&rs, "zoho rollup Note", now, res);
	else if (g_strcmp0(status, "success") != 0 || note == NULL)
		fail(res, CONN_PERMANENT, g_strdup_printf("zoho rollup Note: %s: %s",
		    code != NULL ? code : "no note id", msg != NULL ? msg : "-"));
	g_free(code);
out:
	http_response_clear(&rs);
	g_free(key);
	g_free(try_key);
	g_free(title);
	g_free(note);
	g_free(tried);
	g_free(body);
	g_free(path);
	g_free(msg);
	g_free(status);
}

/* Write the rollup of a message into its Note. */
void
zoho_note_refresh(zoho *z, const char *mid, gint64 now, conn_result *res)
{
	GError *e = NULL;
	char *rec = crm_record_by_message(z->db, z->profile->name, mid, &e), *module = NULL,
	    *id = NULL, *content;
	rollup r;
	int pending;

	res->status = CONN_OK;
	if (e == NULL && rec == NULL) {
		pending = save_pending(z, mid);
		if (pending != 0)
			fail(res, CONN_RETRY, g_strdup_printf(pending > 0 ? "zoho: the email <%s> is not "
			    "associated yet" : "zoho: cannot read the spool for <%s>", mid));
		return;
	}
	if (e != NULL) {
		fail(res, CONN_RETRY, g_strdup_printf("zoho: %s", e->message));
		g_error_free(e);
		return;
	}
	if (!zoho_record_split(rec, &module, &id)) {
		fail(res, CONN_PERMANENT, g_strdup_printf("zoho: bad stored record \"%s\"", rec));
		g_free(rec);
		return;
	}
	zoho_lock(z, TRUE);
	if (!rollup_for_message(z->db, mid, &r, &e)) {
		fail(res, CONN_RETRY, g_strdup_printf("zoho: %s", e != NULL ? e->message : "?"));
		g_clear_error(&e);
	} else {
		content = note_content(mid, &r, now);
		write_note(z, mid, module, id, content, now, res);
		g_free(content);
	}
	zoho_lock(z, FALSE);
	g_free(rec);
	g_free(module);
	g_free(id);
}

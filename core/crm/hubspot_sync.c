/*
 * crm/hubspot_sync.c - HubSpot's people into the directory (directory.h):
 *   - contacts (type contact, the object id), with hs_email_optout = "true"
 *     (the "Unsubscribed from all email" property, notes 1.5) as no_follow.
 *     The first sync lists them all (GET /crm/v3/objects/contacts, pages of
 *     100 by `after`, notes 1.4) and keeps the newest lastmodifieddate as
 *     the cursor (records.h, object "hubspot:contacts"); later syncs search
 *     lastmodifieddate >= cursor, oldest first (notes 1.3), restarting the
 *     search from the newest date seen before its 10,000-result cap;
 *   - owners (type user, the owner id: what hubspot_owner_id takes), all
 *     of them each time, from GET /crm/v3/owners (HubSpot's owners guide,
 *     https://developers.hubspot.com/docs/api-reference/crm-crm-owners-v3/guide);
 *     an account without the owners scope only logs a warning.
 * Companies carry a domain, not an address, so they are not in the
 * directory; a company reaches an email through its regarding record.
 * Archived (deleted) records are not removed from the directory.
 * Each page is written in one transaction; a page that fails a passing
 * way (429, 5xx) is asked again up to PAGE_TRIES times (the HTTP layer
 * waits out Retry-After).
 */
#include <string.h>

#include "hubspot.h"
#include "records.h"
#include "../directory.h"
#include "../log.h"

#define CURSOR "hubspot:contacts"
#define SEARCH_CAP 10000
#define PAGE_TRIES 3
#define CONTACT_PROPS "email,firstname,lastname,hs_email_optout,lastmodifieddate"

/* Milliseconds of an ISO 8601 date-time or a millisecond number, or 0. */
static gint64
when_ms(const char *s)
{
	GDateTime *dt;
	gint64 ms;

	if (s == NULL || *s == '\0')
		return 0;
	if (g_ascii_isdigit(s[0]) && strchr(s, '-') == NULL)
		return g_ascii_strtoll(s, NULL, 10);
	if ((dt = g_date_time_new_from_iso8601(s, NULL)) == NULL)
		return 0;
	ms = g_date_time_to_unix(dt) * 1000 + g_date_time_get_microsecond(dt) / 1000;
	g_date_time_unref(dt);
	return ms;
}

/* "First Last" from two optional parts, or NULL. */
static char *
full_name(const char *first, const char *last)
{
	char *s = g_strstrip(g_strdup_printf("%s %s", first != NULL ? first : "", last != NULL ? last : ""));

	if (*s == '\0')
		g_clear_pointer(&s, g_free);
	return s;
}

/* Upsert one record; a bad address is skipped. */
static gboolean
upsert(hubspot *h, const char *email, dir_record_type type, const char *id, const char *name,
    gboolean no_follow, gint64 now, GError **err)
{
	char *addr = email != NULL ? directory_normalize_address(email) : NULL;
	directory_entry d = { addr, type, (char *)id, (char *)name, no_follow, 0 };
	gboolean ok = TRUE;

	if (addr != NULL && id != NULL)
		ok = directory_upsert(h->db, &d, now, err);
	g_free(addr);
	return ok;
}

/* One call with a few tries for passing failures; NULL with err. */
static JsonNode *
page_call(hubspot *h, const char *method, const char *path, const char *body, const char *what,
    gint64 now, GError **err)
{
	for (int t = 1;; t++) {
		conn_result r = { CONN_OK, -1, NULL, FALSE };
		JsonNode *root;

		if (body != NULL)
			hs_search_wait(h);
		root = hs_call(h, method, path, body, what, now, NULL, &r);
		if (root != NULL || r.status != CONN_RETRY || t >= PAGE_TRIES) {
			if (root == NULL)
				g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", r.error != NULL ? r.error : what);
			conn_result_clear(&r);
			return root;
		}
		conn_result_clear(&r);
		if (r.retry_after > 0 && !r.no_attempt)
			g_usleep((gulong)MIN(r.retry_after, 30) * G_USEC_PER_SEC);
	}
}

/* Write one page of contacts; *newest gets the newest lastmodifieddate. */
static gboolean
contacts_page(hubspot *h, JsonArray *results, gint64 now, gint64 *newest, guint *n, GError **err)
{
	gboolean ok = db_begin(h->db, err);

	for (guint i = 0; ok && results != NULL && i < json_array_get_length(results); i++) {
		JsonNode *node = json_array_get_element(results, i);
		JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
		JsonObject *p = hs_json_object(o, "properties");
		char *id = hs_json_string(o, "id"), *email = hs_json_string(p, "email");
		char *first = hs_json_string(p, "firstname"), *last = hs_json_string(p, "lastname");
		char *optout = hs_json_string(p, "hs_email_optout");
		char *mod = hs_json_string(p, "lastmodifieddate"), *name = full_name(first, last);

		*newest = MAX(*newest, when_ms(mod));
		ok = upsert(h, email, DIRREC_CONTACT, id, name, g_strcmp0(optout, "true") == 0, now, err);
		(*n)++;
		g_free(id);
		g_free(email);
		g_free(first);
		g_free(last);
		g_free(optout);
		g_free(mod);
		g_free(name);
	}
	if (ok)
		ok = db_commit(h->db, err);
	else
		db_rollback(h->db);
	return ok;
}

/* paging.next.after of an answer (new), or NULL on the last page. */
static char *
next_after(JsonObject *ans)
{
	return hs_json_string(hs_json_object(hs_json_object(ans, "paging"), "next"), "after");
}

/* Every contact, page by page. */
static gboolean
contacts_all(hubspot *h, gint64 now, gint64 *newest, guint *n, GError **err)
{
	char *after = NULL;
	gboolean ok = TRUE;

	do {
		char *esc = after != NULL ? g_uri_escape_string(after, NULL, TRUE) : NULL;
		char *path = g_strdup_printf("/crm/v3/objects/contacts?limit=%d&archived=false&properties="
		    CONTACT_PROPS "%s%s", HS_PAGE, esc != NULL ? "&after=" : "", esc != NULL ? esc : "");
		JsonNode *root = page_call(h, "GET", path, NULL, "hubspot contacts", now, err);

		g_free(esc);
		g_free(path);
		g_clear_pointer(&after, g_free);
		ok = root != NULL && contacts_page(h, hs_json_array(json_node_get_object(root), "results"),
		    now, newest, n, err);
		if (ok)
			after = next_after(json_node_get_object(root));
		if (root != NULL)
			json_node_unref(root);
	} while (ok && after != NULL);
	g_free(after);
	return ok;
}

/* The search body: lastmodifieddate >= since, oldest first. */
static char *
search_body(gint64 since, const char *after)
{
	JsonBuilder *b = json_builder_new();
	char *value = g_strdup_printf("%" G_GINT64_FORMAT, since);
	char **props = g_strsplit(CONTACT_PROPS, ",", -1);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "filterGroups");
	json_builder_begin_array(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "filters");
	json_builder_begin_array(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "propertyName");
	json_builder_add_string_value(b, "lastmodifieddate");
	json_builder_set_member_name(b, "operator");
	json_builder_add_string_value(b, "GTE");
	json_builder_set_member_name(b, "value");
	json_builder_add_string_value(b, value);
	json_builder_end_object(b);
	json_builder_end_array(b);
	json_builder_end_object(b);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "sorts");
	json_builder_begin_array(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "propertyName");
	json_builder_add_string_value(b, "lastmodifieddate");
	json_builder_set_member_name(b, "direction");
	json_builder_add_string_value(b, "ASCENDING");
	json_builder_end_object(b);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "properties");
	json_builder_begin_array(b);
	for (char **p = props; *p != NULL; p++)
		json_builder_add_string_value(b, *p);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "limit");
	json_builder_add_int_value(b, HS_PAGE);
	if (after != NULL) {
		json_builder_set_member_name(b, "after");
		json_builder_add_string_value(b, after);
	}
	json_builder_end_object(b);
	g_strfreev(props);
	g_free(value);
	return hs_to_string(b);
}

/* Contacts changed since the cursor; a search that reaches its cap starts
 * again from the newest date it saw. */
static gboolean
contacts_since(hubspot *h, gint64 since, gint64 now, gint64 *newest, guint *n, GError **err)
{
	gboolean ok = TRUE, again = TRUE;

	*newest = MAX(*newest, since);
	while (ok && again) {
		char *after = NULL;
		guint in_query = 0;

		again = FALSE;
		do {
			char *body = search_body(since, after);
			JsonNode *root = page_call(h, "POST", "/crm/v3/objects/contacts/search", body,
			    "hubspot contacts search", now, err);

			g_free(body);
			g_clear_pointer(&after, g_free);
			ok = root != NULL && contacts_page(h,
			    hs_json_array(json_node_get_object(root), "results"), now, newest, &in_query, err);
			if (ok)
				after = next_after(json_node_get_object(root));
			if (root != NULL)
				json_node_unref(root);
			if (ok && after != NULL && in_query + HS_PAGE > SEARCH_CAP) {
				if (*newest <= since) {
					g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "hubspot contacts search: "
					    "more than %d contacts changed at one instant", SEARCH_CAP);
					ok = FALSE;
				}
				since = *newest;
				again = ok;
				g_clear_pointer(&after, g_free);
			}
		} while (ok && after != NULL);
		*n += in_query;
	}
	return ok;
}

/* Every owner, as a user. */
static gboolean
owners(hubspot *h, gint64 now, guint *n, GError **err)
{
	char *after = NULL;
	gboolean ok = TRUE;

	do {
		char *esc = after != NULL ? g_uri_escape_string(after, NULL, TRUE) : NULL;
		char *path = g_strdup_printf("/crm/v3/owners?limit=%d&archived=false%s%s", HS_PAGE,
		    esc != NULL ? "&after=" : "", esc != NULL ? esc : "");
		JsonNode *root = page_call(h, "GET", path, NULL, "hubspot owners", now, err);
		JsonArray *a = root != NULL ? hs_json_array(json_node_get_object(root), "results") : NULL;

		g_free(esc);
		g_free(path);
		g_clear_pointer(&after, g_free);
		ok = root != NULL && db_begin(h->db, err);
		for (guint i = 0; ok && a != NULL && i < json_array_get_length(a); i++) {
			JsonNode *node = json_array_get_element(a, i);
			JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
			char *id = hs_json_string(o, "id"), *email = hs_json_string(o, "email");
			char *first = hs_json_string(o, "firstName"), *last = hs_json_string(o, "lastName");
			char *name = full_name(first, last);
			ok = upsert(h, email, DIRREC_USER, id, name, FALSE, now, err);
			(*n)++;
			g_free(id);
			g_free(email);
			g_free(first);
			g_free(last);
			g_free(name);
		}
		if (root != NULL && ok)
			ok = db_commit(h->db, err);
		else if (root != NULL)
			db_rollback(h->db);
		if (ok)
			after = next_after(json_node_get_object(root));
		if (root != NULL)
			json_node_unref(root);
	} while (ok && after != NULL);
	g_free(after);
	return ok;
}

/* sync_directory: contacts (incrementally), then owners. */
gboolean
hs_sync_directory(void *state, gint64 now, GError **err)
{
	hubspot *h = state;
	GError *e = NULL;
	char *cursor, *next;
	gint64 since = 0, newest = 0;
	guint nc = 0, no = 0;
	gboolean ok;

	if (h->db == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "hubspot: directory sync needs the database");
		return FALSE;
	}
	cursor = crm_sync_get(h->db, h->profile->name, CURSOR, NULL, &e);
	if (e != NULL) {
		g_propagate_error(err, e);
		return FALSE;
	}
	if (cursor != NULL)
		since = g_ascii_strtoll(cursor, NULL, 10);
	g_free(cursor);
	ok = since > 0 ? contacts_since(h, since, now, &newest, &nc, err) :
	    contacts_all(h, now, &newest, &nc, err);
	if (!ok)
		return FALSE;
	next = g_strdup_printf("%" G_GINT64_FORMAT, newest);
	ok = newest <= 0 || crm_sync_put(h->db, h->profile->name, CURSOR, next, now, err);
	g_free(next);
	if (!ok)
		return FALSE;
	if (!owners(h, now, &no, &e)) {
		log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": owners not synced: %s", h->profile->name,
		    e != NULL ? e->message : "?");
		g_clear_error(&e);
	}
	log_msg(CRM_LOG_INFO, NULL, "crm \"%s\": directory: %u contacts%s, %u owners", h->profile->name,
	    nc, since > 0 ? " changed" : "", no);
	return TRUE;
}

/*
 * crm/salesforce_parts.c - what an EmailMessage gets once it exists (see
 * salesforce.h and salesforce_save.c): its EmailMessageRelation records and
 * its attachments as ContentVersion (FirstPublishLocationId = the email,
 * notes §3.9, §3.10), made with sObject Collections, relations first and
 * then files (one type chunk each, §3.6); a file whose base64 is over
 * INLINE_FILE_MAX is sent on its own (POST /sobjects/ContentVersion/).
 * For an email made by an earlier try, the relations and files it has are
 * queried first, so a retry never makes them twice.
 */
#include <string.h>

#include "salesforce.h"
#include "jobdata.h"
#include "../log.h"

#define INLINE_FILE_MAX (1024 * 1024)       /* base64 bytes of a file sent inside a collection */
#define INLINE_TOTAL_MAX (4 * 1024 * 1024)  /* base64 bytes per collections call */

/* Same Id (15 significant characters)? */
static gboolean
same_id(const char *a, const char *b)
{
	return a != NULL && b != NULL && strncmp(a, b, 15) == 0;
}

/* The EmailMessage id of an item, for the IN list. */
static const char *
email_of(const sf_item *it)
{
	return sf_wants_lookup(it) ? it->email_id : NULL;
}

/* The EmailMessage id of an item with files, for the IN list. */
static const char *
files_of(const sf_item *it)
{
	for (guint k = 0; sf_wants_lookup(it) && k < it->parts->len; k++)
		if (((const sf_part *)g_ptr_array_index(it->parts, k))->att != NULL)
			return it->email_id;
	return NULL;
}

/* A relation that exists: mark the matching part. */
static gboolean
relation_row(JsonObject *row, gpointer user, conn_result *res)
{
	GPtrArray *items = user;
	const char *email = SF_FIELD(row, "EmailMessageId"), *type = SF_FIELD(row, "RelationType");
	const char *addr = SF_FIELD(row, "RelationAddress"), *rid = SF_FIELD(row, "RelationId");

	(void)res;
	for (guint i = 0; i < items->len; i++) {
		sf_item *it = g_ptr_array_index(items, i);
		for (guint k = 0; same_id(it->email_id, email) && k < it->parts->len; k++) {
			sf_part *pt = g_ptr_array_index(it->parts, k);
			if (pt->rel_type != NULL && !pt->exists && g_strcmp0(pt->rel_type, type) == 0 &&
			    ((pt->relation_id != NULL && same_id(pt->relation_id, rid)) ||
			     (pt->relation_id == NULL && addr != NULL && pt->address != NULL &&
			      g_ascii_strcasecmp(pt->address, addr) == 0))) {
				pt->exists = TRUE;
				break;
			}
		}
	}
	return TRUE;
}

/* A file that exists: mark one part with its name. */
static gboolean
file_row(JsonObject *row, gpointer user, conn_result *res)
{
	GPtrArray *items = user;
	const char *email = SF_FIELD(row, "FirstPublishLocationId"), *path = SF_FIELD(row, "PathOnClient");

	(void)res;
	for (guint i = 0; i < items->len; i++) {
		sf_item *it = g_ptr_array_index(items, i);
		for (guint k = 0; same_id(it->email_id, email) && k < it->parts->len; k++) {
			sf_part *pt = g_ptr_array_index(it->parts, k);
			if (pt->att != NULL && !pt->exists && g_strcmp0(pt->path, path) == 0) {
				pt->exists = TRUE;
				break;
			}
		}
	}
	return TRUE;
}

/* Add one part as a collections record. */
static void
add_part(const sf_item *it, const sf_part *pt, JsonBuilder *b)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "attributes");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, pt->att != NULL ? "ContentVersion" : "EmailMessageRelation");
	json_builder_end_object(b);
	if (pt->att != NULL) {
		gsize n;
		const guchar *d = g_bytes_get_data(pt->att->content, &n);
		char *b64 = g_base64_encode(d, n), *title = sf_cut_chars(pt->path, 255);
		sf_add_cut(b, "Title", title, 255);
		sf_add_cut(b, "PathOnClient", pt->path, 500);
		json_builder_set_member_name(b, "VersionData");
		json_builder_add_string_value(b, b64);
		sf_add_cut(b, "FirstPublishLocationId", it->email_id, 18);
		g_free(b64);
		g_free(title);
	} else {
		sf_add_cut(b, "EmailMessageId", it->email_id, 18);
		sf_add_cut(b, "RelationType", pt->rel_type, 40);
		sf_add_cut(b, "RelationId", pt->relation_id, 18);
		sf_add_cut(b, "RelationAddress", pt->address, 255);
	}
	json_builder_end_object(b);
}

/* Base64 bytes of a part (0 for a relation). */
static gsize
part_b64(const sf_part *pt)
{
	return pt->att != NULL ? (g_bytes_get_size(pt->att->content) + 2) / 3 * 4 : 0;
}

/* A part could not be made: retry the item (its email stays recorded), or
 * for a permanent refusal log it and go on without that part. */
static void
part_failed(sf *s, sf_item *it, sf_part *pt, conn_status st, int retry_after, const char *error)
{
	if (st == CONN_PERMANENT) {
		log_msg(CRM_LOG_WARNING, it->job->queue_id, "crm \"%s\": email %s: %s %s left out: %s",
		    s->profile->name, it->email_id, pt->att != NULL ? "file" : "relation",
		    pt->att != NULL ? pt->path : pt->address, error);
		pt->exists = TRUE;
	} else if (!it->final) {
		sf_finish(it, CONN_RETRY, retry_after, g_strdup(error));
	}
}

/* Make the missing parts of items: relations first, then files, in
 * collections; files too big to send inline one POST each. */
void
sf_parts_create(sf *s, GPtrArray *items, gint64 now)
{
	GPtrArray *owner = g_ptr_array_new(), *todo = g_ptr_array_new();

	for (int pass = 0; pass < 2; pass++)
		for (guint i = 0; i < items->len; i++) {
			sf_item *it = g_ptr_array_index(items, i);
			for (guint k = 0; !it->final && it->email_id != NULL && k < it->parts->len; k++) {
				sf_part *pt = g_ptr_array_index(it->parts, k);
				if (!pt->exists && (pass == 0) == (pt->att == NULL)) {
					g_ptr_array_add(owner, it);
					g_ptr_array_add(todo, pt);
				}
			}
		}
	for (guint i = 0; i < todo->len;) {
		JsonBuilder *b = sf_collection_begin();
		conn_result r = { CONN_OK, -1, NULL, FALSE };
		sf_answer ans;
		JsonArray *out;
		guint first = i, n = 0;
		gsize bytes = 0;
		for (; i < todo->len && n < SF_COLLECTION_MAX; i++) {
			sf_part *pt = g_ptr_array_index(todo, i);
			if (part_b64(pt) > INLINE_FILE_MAX)
				continue;            /* sent on its own below */
			if (n > 0 && bytes + part_b64(pt) > INLINE_TOTAL_MAX)
				break;
			bytes += part_b64(pt);
			add_part(g_ptr_array_index(owner, i), pt, b);
			pt->exists = TRUE;       /* answered for below */
			n++;
		}
		out = n > 0 ? sf_post_collection(s, b, n, now, "relations and files create", &ans, &r) : NULL;
		for (guint k = first, j = 0; n > 0 && k < i; k++) {
			sf_part *pt = g_ptr_array_index(todo, k);
			const char *code, *msg;
			GString *fields = g_string_new(NULL);
			char *why;
			if (part_b64(pt) > INLINE_FILE_MAX) {
				g_string_free(fields, TRUE);
				continue;
			}
			if (out == NULL) {
				pt->exists = FALSE;
				part_failed(s, g_ptr_array_index(owner, k), pt, r.status, r.retry_after, r.error);
			} else if (sf_record_result(out, j, &code, &msg, fields) == NULL) {
				pt->exists = FALSE;
				why = g_strdup_printf("salesforce %s create: %s: %s (%s)", pt->att != NULL ?
				    "ContentVersion" : "EmailMessageRelation", code, msg != NULL ? msg : "-", fields->str);
				part_failed(s, g_ptr_array_index(owner, k), pt,
				    sf_retryable(code) ? CONN_RETRY : CONN_PERMANENT, -1, why);
				g_free(why);
			}
			j++;
			g_string_free(fields, TRUE);
		}
		if (n > 0)
			sf_answer_clear(&ans);
		g_free(r.error);
		g_object_unref(b);
	}
	for (guint i = 0; i < todo->len; i++) {
		sf_part *pt = g_ptr_array_index(todo, i);
		sf_item *it = g_ptr_array_index(owner, i);
		if (pt->exists || it->final || part_b64(pt) <= INLINE_FILE_MAX)
			continue;
		JsonBuilder *b = json_builder_new();
		conn_result r = { CONN_OK, -1, NULL, FALSE };
		sf_answer ans;
		char *body;
		add_part(it, pt, b);
		body = sf_json_text(b);
		if (sf_call(s, "POST", "/sobjects/ContentVersion/", body, now, "ContentVersion create", &ans, &r))
			pt->exists = TRUE;
		else
			part_failed(s, it, pt, r.status, r.retry_after, r.error);
		sf_answer_clear(&ans);
		g_free(r.error);
		g_free(body);
		g_object_unref(b);
	}
	g_ptr_array_unref(owner);
	g_ptr_array_unref(todo);
}

/* Mark the parts of emails made by earlier tries that Salesforce has. */
void
sf_parts_lookup(sf *s, GPtrArray *items, gint64 now)
{
	GPtrArray *sel = g_ptr_array_new();

	for (guint i = 0; i < items->len; i++)
		if (sf_wants_lookup(g_ptr_array_index(items, i)))
			g_ptr_array_add(sel, g_ptr_array_index(items, i));
	sf_query_in(s, sel, "SELECT EmailMessageId, RelationType, RelationAddress, RelationId FROM "
	    "EmailMessageRelation WHERE EmailMessageId IN (", "", email_of, relation_row, now);
	sf_query_in(s, sel, "SELECT FirstPublishLocationId, PathOnClient FROM ContentVersion WHERE "
	    "FirstPublishLocationId IN (", "", files_of, file_row, now);
	g_ptr_array_unref(sel);
}

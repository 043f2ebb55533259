/*
 * crm/dynamics_sync.c - directory sync of the dynamics365 connector:
 * contacts, leads and accounts (emailaddress1..3, followemail) and system
 * users (internalemailaddress) into the directory (directory_upsert),
 * each address once per record. "Follow email: do not allow"
 * (followemail = false) is the directory's no_follow; users have no such
 * flag. Notes 2.9, 2.10:
 *   - pages of Prefer: odata.maxpagesize=N (N from max_response_size: a
 *     page of about 1 KB per row, at most 5,000), following
 *     @odata.nextLink unchanged;
 *   - incremental with change tracking (Prefer: odata.track-changes): the
 *     last page's @odata.deltaLink is the object's cursor (records.h);
 *     the next sync GETs it and gets only what changed. $filter is not
 *     allowed with change tracking, so rows without an address are
 *     skipped here. A delta link the server refuses (4xx: too old) starts
 *     a full sync; a table without change tracking (4xx on the first
 *     page) is read in full each time. Deleted rows ($deletedEntity) are
 *     not removed: the directory has no delete.
 *   - links are only followed on the API's own scheme, host and port (the
 *     bearer token goes nowhere else).
 * Each page is written in one transaction.
 */
#include <string.h>
#include <json-glib/json-glib.h>

#include "dynamics.h"
#include "records.h"
#include "../directory.h"

#define MAX_PAGES 100000

typedef struct dir_obj {
	const char *set;         /* entity set, also the cursor's name */
	const char *key;         /* primary key column */
	dir_record_type type;
	const char *name;        /* display name column */
	const char *const *mails;
	gboolean follow;         /* has followemail */
} dir_obj;

static const char *const person_mails[] = { "emailaddress1", "emailaddress2", "emailaddress3", NULL };
static const char *const user_mails[] = { "internalemailaddress", NULL };

static const dir_obj objects[] = {
	{ "contacts", "contactid", DIRREC_CONTACT, "fullname", person_mails, TRUE },
	{ "leads", "leadid", DIRREC_LEAD, "fullname", person_mails, TRUE },
	{ "accounts", "accountid", DIRREC_ACCOUNT, "name", person_mails, TRUE },
	{ "systemusers", "systemuserid", DIRREC_USER, "fullname", user_mails, FALSE },
};

/* The first page's URL of an object. */
static char *
first_url(const dyn *d, const dir_obj *o)
{
	GString *sel = g_string_new(NULL);
	char *url;

	g_string_append_printf(sel, "%s,%s", o->key, o->name);
	for (const char *const *m = o->mails; *m != NULL; m++)
		g_string_append_printf(sel, ",%s", *m);
	if (o->follow)
		g_string_append(sel, ",followemail");
	url = dyn_api_url(d, "%s?$select=%s", o->set, sel->str);
	g_string_free(sel, TRUE);
	return url;
}

/* Upsert the addresses of one row. FALSE with err when the database failed. */
static gboolean
upsert_row(dyn *d, const dir_obj *o, JsonObject *row, gint64 now, GError **err)
{
	const char *id = jobdata_meta_string(row, o->key);
	JsonNode *fn = o->follow ? json_object_get_member(row, "followemail") : NULL;
	directory_entry e = { 0 };

	if (id == NULL || json_object_has_member(row, "reason"))
		return TRUE;             /* a $deletedEntity: the directory keeps it */
	e.type = o->type;
	e.record_id = (char *)id;
	e.name = (char *)jobdata_meta_string(row, o->name);
	e.no_follow = fn != NULL && JSON_NODE_HOLDS_VALUE(fn) &&
	    json_node_get_value_type(fn) == G_TYPE_BOOLEAN && !json_node_get_boolean(fn);
	for (const char *const *m = o->mails; *m != NULL; m++) {
		char *addr = directory_normalize_address(jobdata_meta_string(row, *m));
		GError *ue = NULL;
		gboolean ok;
		if (addr == NULL)
			continue;
		e.address = addr;
		ok = directory_upsert(d->db, &e, now, &ue);
		g_free(addr);
		if (!ok && ue != NULL && ue->domain == DIRECTORY_ERROR) {
			g_error_free(ue);    /* a row we cannot store (too long...): skipped */
		} else if (!ok) {
			g_propagate_error(err, ue);
			return FALSE;
		}
	}
	return TRUE;
}

/* Store one page's rows; *next and *delta get its links (new strings). */
static gboolean
take_page(dyn *d, const dir_obj *o, const http_response *rs, gint64 now, char **next,
    char **delta, GError **err)
{
	JsonParser *jp = json_parser_new();
	JsonNode *root;
	JsonObject *top;
	JsonNode *vn;
	gboolean ok = TRUE;

	*next = *delta = NULL;
	if (!json_parser_load_from_data(jp, (const char *)rs->body->data, (gssize)rs->body->len, err) ||
	    (root = json_parser_get_root(jp)) == NULL || !JSON_NODE_HOLDS_OBJECT(root) ||
	    (vn = json_object_get_member((top = json_node_get_object(root)), "value")) == NULL ||
	    !JSON_NODE_HOLDS_ARRAY(vn)) {
		if (err != NULL && *err == NULL)
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			    "dynamics365 GET %s: an answer without \"value\"", o->set);
		g_object_unref(jp);
		return FALSE;
	}
	if (!db_begin(d->db, err)) {
		g_object_unref(jp);
		return FALSE;
	}
	JsonArray *rows = json_node_get_array(vn);
	for (guint i = 0; ok && i < json_array_get_length(rows); i++) {
		JsonNode *rn = json_array_get_element(rows, i);
		if (JSON_NODE_HOLDS_OBJECT(rn))
			ok = upsert_row(d, o, json_node_get_object(rn), now, err);
	}
	if (ok)
		ok = db_commit(d->db, err);
	else
		db_rollback(d->db);
	*next = g_strdup(jobdata_meta_string(top, "@odata.nextLink"));
	*delta = g_strdup(jobdata_meta_string(top, "@odata.deltaLink"));
	g_object_unref(jp);
	return ok;
}

/* Sync one object from its cursor (or in full). */
static gboolean
sync_object(dyn *d, const dir_obj *o, guint page, gint64 now, GError **err)
{
	GError *e = NULL;
	char *cursor = crm_sync_get(d->db, d->profile->name, o->set, NULL, &e);
	gboolean delta = cursor != NULL && dyn_same_origin(d, cursor), track = TRUE, ok = FALSE;
	gboolean first = TRUE;
	char *url = delta ? g_strdup(cursor) : first_url(d, o);
	conn_result res = { CONN_OK, -1, NULL, FALSE };

	if (e != NULL) {
		g_propagate_error(err, e);
		g_free(cursor);
		g_free(url);
		return FALSE;
	}
	for (guint n = 0; n < MAX_PAGES; n++) {
		char *prefer = g_strdup_printf("Prefer: %sodata.maxpagesize=%u",
		    track ? "odata.track-changes," : "", page);
		const char *hdr[] = { prefer, "If-None-Match: null", NULL };
		char *what = g_strdup_printf("dynamics365 GET %s", o->set), *next = NULL, *dl = NULL;
		http_response rs;
		gboolean answered = dyn_call(d, "GET", url, hdr, NULL, 0, now, what, &rs, &res);
		long st = rs.status;

		g_free(prefer);
		g_free(what);
		if (answered && st >= 400 && st < 500 && st != 401 && st != 429 && (delta || (track && first))) {
			/* a stale delta link: in full; a table without change tracking: plain pages */
			if (delta)
				delta = FALSE;
			else
				track = FALSE;
			first = TRUE;
			g_free(url);
			url = first_url(d, o);
			http_response_clear(&rs);
			continue;
		}
		if (!answered || res.status != CONN_OK) {
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", res.error != NULL ? res.error :
			    "no answer");
			http_response_clear(&rs);
			break;
		}
		first = FALSE;
		ok = take_page(d, o, &rs, now, &next, &dl, err);
		http_response_clear(&rs);
		if (ok && next != NULL && !dyn_same_origin(d, next)) {
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "dynamics365 GET %s: a nextLink to "
			    "another host (%s) is not followed", o->set, next);
			ok = FALSE;
		}
		if (ok && next == NULL)
			/* the last page: its delta link (or none) is where the next sync starts */
			ok = crm_sync_put(d->db, d->profile->name, o->set,
			    dl != NULL && dyn_same_origin(d, dl) ? dl : NULL, now, err);
		g_free(url);
		url = next;
		g_free(dl);
		if (!ok || url == NULL)
			break;
		ok = FALSE;
	}
	if (!ok && err != NULL && *err == NULL)
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "dynamics365 GET %s: more than %d pages",
		    o->set, MAX_PAGES);
	conn_result_clear(&res);
	g_free(cursor);
	g_free(url);
	return ok;
}

/* sync_directory: every object; stops at the first failure. */
gboolean
dyn_sync_directory(void *state, gint64 now, GError **err)
{
	dyn *d = state;
	guint page = (guint)CLAMP(d->profile->max_response_size / 1024, 1, 5000);

	if (d->db == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "dynamics365: no database to sync into");
		return FALSE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(objects); i++)
		if (!sync_object(d, &objects[i], page, now, err))
			return FALSE;
	return TRUE;
}

/*
 * crm/salesforce_sync.c - the directory from Salesforce (see salesforce.h):
 * Contact and Lead (Email, HasOptedOutOfEmail -> no_follow; converted
 * leads left out, they are read-only) and active User records (Email),
 * by SOQL ordered by LastModifiedDate, every page (nextRecordsUrl), into
 * directory_upsert. Incremental: the newest LastModifiedDate seen, less
 * SYNC_OVERLAP s, is each object's cursor (records.h, object "sf/<Object>"),
 * and the next sync asks for LastModifiedDate > cursor (SOQL takes dateTime
 * literals to the second; the overlap also catches a record whose
 * transaction committed after a newer one was read; upserts are idempotent,
 * so reading a record twice costs nothing). Rows are written in
 * transactions of SYNC_CHUNK, never held open across an HTTP call.
 * Account is not read: the standard Account has no email field (the
 * notes list none), so accounts never match an address.
 */
#include <string.h>

#include "salesforce.h"
#include "jobdata.h"
#include "records.h"
#include "../directory.h"
#include "../log.h"

#define SYNC_CHUNK 500
#define SYNC_OVERLAP 60

typedef struct sync_object {
	const char *name;
	dir_record_type type;
	const char *fields;
	const char *where;
	gboolean opt_out;        /* has HasOptedOutOfEmail */
} sync_object;

static const sync_object objects[] = {
	{ "Contact", DIRREC_CONTACT, "Id, Name, Email, HasOptedOutOfEmail, LastModifiedDate",
	  "Email != null", TRUE },
	{ "Lead", DIRREC_LEAD, "Id, Name, Email, HasOptedOutOfEmail, LastModifiedDate",
	  "Email != null AND IsConverted = false", TRUE },
	{ "User", DIRREC_USER, "Id, Name, Email, LastModifiedDate",
	  "Email != null AND IsActive = true", FALSE },
};

/* One object's sync in progress. */
typedef struct sync_run {
	sf *s;
	const sync_object *obj;
	gint64 now;
	gint64 newest;           /* unix seconds of the newest LastModifiedDate */
	GPtrArray *pending;      /* directory_entry * not written yet */
	guint seen, written, skipped, opted_out;
} sync_run;

/* Free a directory entry (a GDestroyNotify). */
static void
entry_free(gpointer p)
{
	directory_entry_free(p);
}

/* Unix seconds of a Salesforce dateTime ("2026-11-22T12:00:00.000+0000"). */
static gint64
unix_of(const char *s)
{
	GDateTime *dt = s != NULL ? g_date_time_new_from_iso8601(s, NULL) : NULL;
	gint64 t = dt != NULL ? g_date_time_to_unix(dt) : 0;

	if (dt != NULL)
		g_date_time_unref(dt);
	return t;
}

/* Write the pending entries in one transaction. */
static gboolean
flush_pending(sync_run *r, conn_result *res)
{
	GError *e = NULL;
	gboolean ok = r->pending->len == 0 || db_begin(r->s->db, &e);

	for (guint i = 0; ok && e == NULL && i < r->pending->len; i++) {
		const directory_entry *d = g_ptr_array_index(r->pending, i);
		if (directory_upsert(r->s->db, d, r->now, &e))
			r->written++;
		else if (e != NULL && e->domain == DIRECTORY_ERROR && e->code == DIRECTORY_ERROR_INVALID) {
			r->skipped++;            /* an address the directory does not take */
			g_clear_error(&e);
		}
	}
	if (ok && r->pending->len > 0 && (e != NULL || !db_commit(r->s->db, &e)))
		db_rollback(r->s->db);
	g_ptr_array_set_size(r->pending, 0);
	if (e != NULL) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("directory: %s", e->message);
		g_error_free(e);
		return FALSE;
	}
	return TRUE;
}

/* One record of a page. */
static gboolean
sync_row(JsonObject *row, gpointer user, conn_result *res)
{
	sync_run *r = user;
	const char *id = SF_FIELD(row, "Id"), *name = SF_FIELD(row, "Name");
	char *addr = directory_normalize_address(SF_FIELD(row, "Email"));
	gint64 t = unix_of(SF_FIELD(row, "LastModifiedDate"));
	directory_entry *d;

	r->seen++;
	r->newest = MAX(r->newest, t);
	if (addr == NULL || !sf_is_id(id)) {
		r->skipped++;
		g_free(addr);
		return TRUE;
	}
	d = g_new0(directory_entry, 1);
	d->address = addr;
	d->type = r->obj->type;
	d->record_id = g_strdup(id);
	d->name = name != NULL && *name != '\0' ? sf_cut_chars(name, DIRECTORY_MAX_NAME / 4) : NULL;
	d->no_follow = r->obj->opt_out &&
	    json_object_get_boolean_member_with_default(row, "HasOptedOutOfEmail", FALSE);
	r->opted_out += d->no_follow;
	g_ptr_array_add(r->pending, d);
	return r->pending->len < SYNC_CHUNK || flush_pending(r, res);
}

/* Sync one object from its cursor; FALSE with res set. */
static gboolean
sync_one(sf *s, const sync_object *obj, gint64 now, conn_result *res)
{
	char *key = g_strdup_printf("sf/%s", obj->name), *since = NULL, *soql, *cursor;
	sync_run r = { s, obj, now, 0, g_ptr_array_new_with_free_func(entry_free),
	    0, 0, 0, 0 };
	GError *e = NULL;
	gboolean ok;

	cursor = crm_sync_get(s->db, s->profile->name, key, NULL, &e);
	if (e == NULL && cursor != NULL && unix_of(cursor) > 0)
		since = g_strdup_printf(" AND LastModifiedDate > %s", cursor);
	soql = g_strdup_printf("SELECT %s FROM %s WHERE %s%s ORDER BY LastModifiedDate", obj->fields,
	    obj->name, obj->where, since != NULL ? since : "");
	ok = e == NULL && sf_query(s, soql, now, sync_row, &r, res) && flush_pending(&r, res);
	if (ok && r.newest > 0) {
		GDateTime *dt = g_date_time_new_from_unix_utc(r.newest - SYNC_OVERLAP);
		char *next = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
		ok = crm_sync_put(s->db, s->profile->name, key, next, now, &e);
		g_free(next);
		g_date_time_unref(dt);
	}
	if (e != NULL) {
		res->status = CONN_RETRY;
		res->error = g_strdup(e->message);
		g_error_free(e);
		ok = FALSE;
	}
	if (ok)
		log_msg(CRM_LOG_INFO, NULL, "crm \"%s\": %s: %u read%s%s, %u written (%u opted out), "
		    "%u skipped", s->profile->name, obj->name, r.seen, since != NULL ? " since " : "",
		    since != NULL ? cursor : "", r.written, r.opted_out, r.skipped);
	g_ptr_array_unref(r.pending);
	g_free(cursor);
	g_free(since);
	g_free(soql);
	g_free(key);
	return ok;
}

/* Pull contacts, leads and users into the directory. */
gboolean
sf_sync_directory(void *state, gint64 now, GError **err)
{
	sf *s = state;

	if (s == NULL || s->db == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no database to sync into");
		return FALSE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(objects); i++) {
		conn_result res = { CONN_OK, -1, NULL, FALSE };
		if (!sync_one(s, &objects[i], now, &res)) {
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", objects[i].name,
			    res.error != NULL ? res.error : "failed");
			g_free(res.error);
			return FALSE;
		}
		g_free(res.error);
	}
	return TRUE;
}

/*
 * crm/jobdata.c - a spool job read into an activity or into events, for
 * every connector (see jobdata.h).
 */
#include <string.h>
#include <sqlite3.h>

#include "jobdata.h"
#include "../attach_policy.h"
#include "../ledger.h"

/* A string member of obj, or NULL. */
const char *
jobdata_meta_string(JsonObject *obj, const char *name)
{
	JsonNode *n = obj != NULL ? json_object_get_member(obj, name) : NULL;

	return (n != NULL && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
	    ? json_node_get_string(n) : NULL;
}

/* An object member of obj, or NULL. */
static JsonObject *
obj_member(JsonObject *obj, const char *name)
{
	JsonNode *n = obj != NULL ? json_object_get_member(obj, name) : NULL;

	return (n != NULL && JSON_NODE_HOLDS_OBJECT(n)) ? json_node_get_object(n) : NULL;
}

/* A string array member of obj as a new GPtrArray (empty when absent). */
static GPtrArray *
strings_member(JsonObject *obj, const char *name)
{
	JsonNode *n = obj != NULL ? json_object_get_member(obj, name) : NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	if (n != NULL && JSON_NODE_HOLDS_ARRAY(n)) {
		JsonArray *arr = json_node_get_array(n);
		for (guint i = 0; i < json_array_get_length(arr); i++) {
			JsonNode *item = json_array_get_element(arr, i);
			if (JSON_NODE_HOLDS_VALUE(item) && json_node_get_value_type(item) == G_TYPE_STRING)
				g_ptr_array_add(out, g_strdup(json_node_get_string(item)));
		}
	}
	return out;
}

/* The attachment policy the milter decided, applied to act. */
static void
apply_policy(activity *act, JsonObject *policy)
{
	crm_attach_policy mode = ATTACH_ALL;
	JsonNode *n = policy != NULL ? json_object_get_member(policy, "max_size") : NULL;
	GPtrArray *types = strings_member(policy, "types");
	GPtrArray *blocked = strings_member(policy, "blocked_extensions");

	(void)attach_policy_parse(jobdata_meta_string(policy, "policy"), &mode);
	attach_policy_apply(mode, types, n != NULL && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_int(n) : -1,
	    blocked, act);
	g_ptr_array_unref(types);
	g_ptr_array_unref(blocked);
}

/* The job's metadata as an object (parser kept alive in *parser). */
static JsonObject *
meta_of(const spool_job *job, JsonParser **parser)
{
	JsonNode *root;

	*parser = json_parser_new();
	if (job->meta == NULL || !json_parser_load_from_data(*parser, job->meta, -1, NULL))
		return NULL;
	root = json_parser_get_root(*parser);
	return root != NULL && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

/* One text column of the first row of sql bound to arg (new string), or
 * NULL; err only when the database failed. */
static char *
lookup(crm_db *db, const char *sql, const char *arg, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, sql, err);
	char *out = NULL;
	int rc;

	if (st == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		out = g_strdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_set_error(db, err, "looking up the tracked-mail index");
	sqlite3_reset(st);
	return out;
}

/* The activity of a save job. */
activity *
jobdata_activity(crm_db *db, const spool_job *job, gsize max_body, gboolean with_content,
    char **track_id, conn_result *res)
{
	GError *e = NULL;
	JsonParser *parser;
	JsonObject *meta;
	activity *act;

	if (track_id != NULL)
		*track_id = NULL;
	if (job->payload == NULL) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup("job has no message");
		return NULL;
	}
	act = activity_parse_full(job->payload, job->direction, job->rcpts, max_body, with_content, &e);
	if (act == NULL) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup_printf("cannot parse message: %s", e ? e->message : "?");
		g_clear_error(&e);
		return NULL;
	}
	meta = meta_of(job, &parser);
	act->regarding = g_strdup(jobdata_meta_string(meta, "regarding"));
	act->category = g_strdup(jobdata_meta_string(meta, "category"));
	act->corr_method = g_strdup(jobdata_meta_string(obj_member(meta, "correlation"), "method"));
	act->corr_message_id = g_strdup(jobdata_meta_string(obj_member(meta, "correlation"), "message_id"));
	apply_policy(act, obj_member(meta, "attachments"));
	g_object_unref(parser);
	if (track_id != NULL && db != NULL && act->message_id != NULL) {
		*track_id = lookup(db, "SELECT track_id FROM tracked WHERE message_id = ?1",
		    act->message_id, &e);
		if (e != NULL) {
			res->status = CONN_RETRY;
			res->error = g_strdup(e->message);
			g_error_free(e);
			activity_free(act);
			return NULL;
		}
	}
	return act;
}

/* Free one event (the array's element destructor). */
static void
event_free(gpointer p)
{
	job_event *ev = p;

	if (ev == NULL)
		return;
	g_free(ev->idem_key);
	g_free(ev->kind);
	g_free(ev->message_id);
	g_free(ev->track_id);
	g_free(ev->cls);
	g_free(ev->reason);
	g_free(ev->target);
	g_free(ev->recipient);
	g_free(ev->status);
	g_free(ev->diagnostic);
	g_free(ev);
}

/* The open or click crm-tracker recorded. */
static job_event *
engagement_event(crm_db *db, const spool_job *job, JsonObject *meta, gint64 now, conn_result *res)
{
	const char *kind = jobdata_meta_string(meta, "kind");
	const char *hex = jobdata_meta_string(meta, "message_track_id");
	job_event *ev;
	GError *e = NULL;
	char *mid = g_strdup(jobdata_meta_string(meta, "message_id"));

	if (kind == NULL || hex == NULL) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup("engagement event without kind and message_track_id");
		g_free(mid);
		return NULL;
	}
	if (mid == NULL && db != NULL)
		mid = lookup(db, "SELECT message_id FROM tracked WHERE track_id = ?1", hex, &e);
	if (mid == NULL) {
		res->status = e != NULL ? CONN_RETRY : CONN_PERMANENT;
		res->error = e != NULL ? g_strdup(e->message) :
		    g_strdup_printf("no tracked message has tracking id %s", hex);
		g_clear_error(&e);
		return NULL;
	}
	ev = g_new0(job_event, 1);
	ev->idem_key = g_strdup(job->idem_key);
	ev->kind = g_strdup(kind);
	ev->message_id = mid;
	ev->track_id = g_strdup(hex);
	ev->at = json_object_get_int_member_with_default(meta, "at", now);
	ev->cls = g_strdup(jobdata_meta_string(meta, "class"));
	ev->reason = g_strdup(jobdata_meta_string(meta, "reason"));
	ev->target = g_strdup(jobdata_meta_string(meta, "target"));
	ev->link = ev->target != NULL ? json_object_get_int_member_with_default(meta, "link", 0) : -1;
	return ev;
}

/* The events of an event job. */
GPtrArray *
jobdata_events(crm_db *db, const spool_job *job, gint64 now, conn_result *res)
{
	JsonParser *parser;
	JsonObject *meta = meta_of(job, &parser);
	const char *kind = jobdata_meta_string(meta, "kind"), *mid = jobdata_meta_string(meta, "message_id");
	JsonNode *n = meta != NULL ? json_object_get_member(meta, "recipients") : NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func(event_free);

	if (n == NULL && jobdata_meta_string(meta, "message_track_id") != NULL) {
		job_event *ev = engagement_event(db, job, meta, now, res);
		if (ev == NULL)
			g_clear_pointer(&out, g_ptr_array_unref);
		else
			g_ptr_array_add(out, ev);
		g_object_unref(parser);
		return out;
	}
	if (kind == NULL || mid == NULL || n == NULL || !JSON_NODE_HOLDS_ARRAY(n)) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup("event job without kind, message_id and recipients");
		g_object_unref(parser);
		g_ptr_array_unref(out);
		return NULL;
	}
	JsonArray *arr = json_node_get_array(n);
	for (guint i = 0; i < json_array_get_length(arr); i++) {
		JsonNode *item = json_array_get_element(arr, i);
		JsonObject *r = JSON_NODE_HOLDS_OBJECT(item) ? json_node_get_object(item) : NULL;
		const char *rcpt = jobdata_meta_string(r, "recipient");
		const char *action = jobdata_meta_string(r, "action");
		gboolean failed = r != NULL && json_object_get_boolean_member_with_default(r, "failed", FALSE);
		job_event *ev = g_new0(job_event, 1);

		ev->idem_key = g_strdup_printf("%s/%s", job->idem_key, rcpt ? rcpt : "-");
		ev->kind = g_strdup(failed ? kind : (action != NULL ? action : "reported"));
		ev->message_id = g_strdup(mid);
		ev->at = now;
		ev->link = -1;
		ev->recipient = g_strdup(rcpt);
		ev->status = g_strdup(jobdata_meta_string(r, "status"));
		ev->diagnostic = g_strdup(jobdata_meta_string(r, "diagnostic"));
		g_ptr_array_add(out, ev);
	}
	g_object_unref(parser);
	return out;
}

/* The local record of an activity, bodies left out. */
gboolean
jobdata_keep(crm_db *db, const spool_job *job, const activity *a, gint64 now, GError **err)
{
	activity bare = *a;        /* a shallow view: nothing in it is freed here */
	gint64 id;

	bare.text_body = bare.html_body = NULL;
	return ledger_store(db, job->profile, job->idem_key, job->id, &bare, now, &id, err);
}

/*
 * crm/ledger.c - the `ledger` connector, the embedded default: parses the
 * queued raw message with GMime and stores the activity in the local
 * database, once per idempotency key, with what the milter decided (the
 * job's metadata): regarding record, category, correlation, and the
 * attachment policy (what was dropped and why is recorded). Events
 * (bounces) are stored against the activity's Message-ID; engagement
 * events from crm-tracker (opened, clicked: meta has "message_track_id"
 * and no "recipients") find that Message-ID through tracked.track_id
 * when their meta does not carry it, and keep their class as the status
 * and their reason (and the link) as the detail.
 */
#include <string.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "connector.h"
#include "../activity.h"
#include "../ledger.h"
#include "../attach_policy.h"

/* The state is just the database handle (borrowed). */
static void *
ledger_open(const crm_profile *profile, crm_db *db, GError **err)
{
	return db;
}

/* A string member of obj, or NULL. */
static const char *
str_member(JsonObject *obj, const char *name)
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
			const char *item = json_array_get_string_element(arr, i);
			if (item != NULL)
				g_ptr_array_add(out, g_strdup(item));
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

	(void)attach_policy_parse(str_member(policy, "policy"), &mode);
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

/* Parse and store one activity. */
static void
ledger_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	crm_db *db = state;
	GError *e = NULL;
	JsonParser *parser;
	JsonObject *meta;
	activity *act;
	gint64 id;

	if (job->payload == NULL) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup("job has no message");
		return;
	}
	act = activity_parse(job->payload, job->direction, job->rcpts, LEDGER_MAX_BODY, &e);
	if (act == NULL) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup_printf("cannot parse message: %s", e ? e->message : "?");
		g_clear_error(&e);
		return;
	}
	meta = meta_of(job, &parser);
	act->regarding = g_strdup(str_member(meta, "regarding"));
	act->category = g_strdup(str_member(meta, "category"));
	act->corr_method = g_strdup(str_member(obj_member(meta, "correlation"), "method"));
	act->corr_message_id = g_strdup(str_member(obj_member(meta, "correlation"), "message_id"));
	apply_policy(act, obj_member(meta, "attachments"));
	g_object_unref(parser);
	if (!ledger_store(db, job->profile, job->idem_key, job->id, act, now, &id, &e)) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("ledger: %s", e ? e->message : "?");
		g_clear_error(&e);
	} else {
		res->status = CONN_OK;
	}
	activity_free(act);
}

/* The Message-ID of the tracked message with track id hex (new string),
 * or NULL (err set only when the database failed). */
static char *
message_of_track(crm_db *db, const char *hex, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT message_id FROM tracked WHERE track_id = ?1", err);
	char *mid = NULL;
	int rc;

	if (st == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		mid = g_strdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_set_error(db, err, "looking up a tracking id");
	sqlite3_reset(st);
	return mid;
}

/* An engagement event (opened, clicked) from crm-tracker. */
static void
engagement_event(crm_db *db, const spool_job *job, JsonObject *meta, gint64 now, conn_result *res)
{
	const char *kind = str_member(meta, "kind"), *hex = str_member(meta, "message_track_id");
	const char *reason = str_member(meta, "reason"), *target = str_member(meta, "target");
	gint64 at = json_object_get_int_member_with_default(meta, "at", now);
	char *mid = g_strdup(str_member(meta, "message_id")), *detail;
	GError *e = NULL;

	if (kind == NULL || hex == NULL) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup("engagement event without kind and message_track_id");
		g_free(mid);
		return;
	}
	if (mid == NULL && (mid = message_of_track(db, hex, &e)) == NULL) {
		res->status = e != NULL ? CONN_RETRY : CONN_PERMANENT;
		res->error = e != NULL ? g_strdup_printf("ledger: %s", e->message) :
		    g_strdup_printf("no tracked message has tracking id %s", hex);
		g_clear_error(&e);
		return;
	}
	if (target != NULL)
		detail = g_strdup_printf("link %" G_GINT64_FORMAT " %s (%s)",
		    json_object_get_int_member_with_default(meta, "link", 0), target,
		    reason != NULL ? reason : "-");
	else
		detail = g_strdup(reason);
	if (!ledger_add_event(db, job->idem_key, mid, kind, NULL, str_member(meta, "class"),
	    detail, at, &e)) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("ledger: %s", e ? e->message : "?");
		g_clear_error(&e);
	} else {
		res->status = CONN_OK;
	}
	g_free(detail);
	g_free(mid);
}

/* Store each recipient of a delivery report as an event, or one
 * engagement event. */
static void
ledger_event(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	crm_db *db = state;
	JsonParser *parser;
	JsonObject *meta = meta_of(job, &parser);
	const char *kind = str_member(meta, "kind"), *mid = str_member(meta, "message_id");
	JsonNode *n = meta != NULL ? json_object_get_member(meta, "recipients") : NULL;
	GError *e = NULL;

	res->status = CONN_OK;
	if (n == NULL && str_member(meta, "message_track_id") != NULL) {
		engagement_event(db, job, meta, now, res);
		g_object_unref(parser);
		return;
	}
	if (kind == NULL || mid == NULL || n == NULL || !JSON_NODE_HOLDS_ARRAY(n)) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup("event job without kind, message_id and recipients");
		g_object_unref(parser);
		return;
	}
	JsonArray *arr = json_node_get_array(n);
	for (guint i = 0; i < json_array_get_length(arr) && res->status == CONN_OK; i++) {
		JsonObject *r = json_array_get_object_element(arr, i);
		const char *rcpt = str_member(r, "recipient"), *action = str_member(r, "action");
		gboolean failed = r != NULL && json_object_get_boolean_member_with_default(r, "failed", FALSE);
		char *key = g_strdup_printf("%s/%s", job->idem_key, rcpt ? rcpt : "-");
		const char *what = failed ? kind : (action != NULL ? action : "reported");

		if (!ledger_add_event(db, key, mid, what, rcpt, str_member(r, "status"),
		    str_member(r, "diagnostic"), now, &e)) {
			res->status = CONN_RETRY;
			res->error = g_strdup_printf("ledger: %s", e ? e->message : "?");
			g_clear_error(&e);
		}
		g_free(key);
	}
	g_object_unref(parser);
}

const connector_ops connector_ledger_ops = {
	.type = "ledger",
	.open = ledger_open,
	.save_activity = ledger_save,
	.send_event = ledger_event,
	.close = NULL,
};

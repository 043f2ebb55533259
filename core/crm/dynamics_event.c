/*
 * crm/dynamics_event.c - engagement rollups of the dynamics365 connector.
 * An event job (a human open or click, a bounce; other events change no
 * rollup and cost no call) and an inbound reply saved to this profile
 * recompute the sent message's rollups from the spool (rollup.h: the
 * flusher stored the event locally first) and write them to the email
 * the message's save job made (records.h):
 *   - rollups the profile maps ("ROLLUP=FIELD" in rollup_fields) are
 *     PATCHed on the email as columns: first_open/last_open as date-times
 *     (null when none), opens/clicks as numbers, replied/bounced as
 *     booleans. A completed email is read-only (notes 2.4), so such a
 *     PATCH is one $batch change set: reopen (statecode 0/1), the
 *     columns, then the state and status it had (SetState, the table's
 *     documented message);
 *   - the rollups left unmapped go to ONE note (annotation, objectid_email)
 *     per email, its primary key derived from the email's, created once
 *     (kept in records.h under "note/<email id>") and PATCHed after that.
 * The values are totals, not increments, so a retried job writes the same.
 * A reply is also kept in the local ledger (no bodies, no attachments)
 * under its job's key, so the rollups count it later.
 */
#include <string.h>
#include <json-glib/json-glib.h>

#include "dynamics.h"
#include "records.h"
#include "../rollup.h"

#define NOTE_SUBJECT "Email engagement (crm-milter)"

static const char *const rollup_names[] = {
	"first_open", "last_open", "opens", "clicks", "replied", "bounced"
};

/* "YYYY-MM-DDTHH:MM:SSZ" of t, or NULL for 0. */
static char *
iso_or_null(gint64 t)
{
	GDateTime *dt = t > 0 ? g_date_time_new_from_unix_utc(t) : NULL;
	char *s = dt != NULL ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;

	if (dt != NULL)
		g_date_time_unref(dt);
	return s;
}

/* The column a rollup is mapped to in the profile, or NULL. */
static const char *
mapped_field(const crm_profile *p, const char *what)
{
	gsize n = strlen(what);

	for (guint i = 0; p->rollup_fields != NULL && i < p->rollup_fields->len; i++) {
		const char *item = g_ptr_array_index(p->rollup_fields, i);
		if (strncmp(item, what, n) == 0 && item[n] == '=')
			return item + n + 1;
	}
	return NULL;
}

/* Add the value of one rollup to b under name. */
static void
add_value(JsonBuilder *b, const char *name, const char *what, const rollup *r)
{
	json_builder_set_member_name(b, name);
	if (strcmp(what, "opens") == 0 || strcmp(what, "clicks") == 0) {
		json_builder_add_int_value(b, what[0] == 'o' ? r->opens.n : r->clicks.n);
	} else if (strcmp(what, "replied") == 0 || strcmp(what, "bounced") == 0) {
		json_builder_add_boolean_value(b, what[0] == 'r' ? r->replies.n > 0 : r->bounces.n > 0);
	} else {
		char *t = iso_or_null(what[0] == 'f' ? r->opens.first : r->opens.last);
		if (t != NULL)
			json_builder_add_string_value(b, t);
		else
			json_builder_add_null_value(b);
		g_free(t);
	}
}

/* The mapped columns as a JSON object, or NULL when none is mapped. */
static char *
mapped_json(const crm_profile *p, const rollup *r)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g;
	JsonNode *root;
	char *out = NULL;
	int n = 0;

	json_builder_begin_object(b);
	for (gsize i = 0; i < G_N_ELEMENTS(rollup_names); i++) {
		const char *field = mapped_field(p, rollup_names[i]);
		if (field != NULL) {
			add_value(b, field, rollup_names[i], r);
			n++;
		}
	}
	json_builder_end_object(b);
	if (n > 0) {
		g = json_generator_new();
		root = json_builder_get_root(b);
		json_generator_set_root(g, root);
		out = json_generator_to_data(g, NULL);
		json_node_unref(root);
		g_object_unref(g);
	}
	g_object_unref(b);
	return out;
}

/* The note's text: the unmapped rollups, or NULL when all are mapped. */
static char *
note_text(const crm_profile *p, const rollup *r)
{
	GString *t = g_string_new("Engagement of this email, counted by crm-milter (people only):\n");
	gboolean any = FALSE;

	for (gsize i = 0; i < G_N_ELEMENTS(rollup_names); i++) {
		const char *name = rollup_names[i];
		char *when;
		if (mapped_field(p, name) != NULL)
			continue;
		any = TRUE;
		switch (name[0]) {
		case 'f':
		case 'l':
			when = iso_or_null(name[0] == 'f' ? r->opens.first : r->opens.last);
			g_string_append_printf(t, "%s open: %s\n", name[0] == 'f' ? "First" : "Last",
			    when != NULL ? when : "-");
			g_free(when);
			break;
		case 'o':
			g_string_append_printf(t, "Opens: %u\n", r->opens.n);
			break;
		case 'c':
			g_string_append_printf(t, "Clicks: %u\n", r->clicks.n);
			break;
		case 'r':
			g_string_append_printf(t, "Replied: %s (%u)\n", r->replies.n > 0 ? "yes" : "no", r->replies.n);
			break;
		default:
			g_string_append_printf(t, "Bounced: %s (%u)\n", r->bounces.n > 0 ? "yes" : "no", r->bounces.n);
			break;
		}
	}
	if (any && r->proxy_opens.n + r->scanner_opens.n + r->scanner_clicks.n + r->proxy_clicks.n > 0)
		g_string_append_printf(t, "Not counted: %u privacy-proxy and %u scanner events\n",
		    r->proxy_opens.n + r->proxy_clicks.n, r->scanner_opens.n + r->scanner_clicks.n);
	return g_string_free(t, !any);
}

/* statecode and statuscode of email id; -2 when it is gone, -1 with res. */
static int
email_status(dyn *d, const char *id, int *statuscode, gint64 now, conn_result *res)
{
	char *url = dyn_api_url(d, "emails(%s)?$select=statecode,statuscode", id);
	const char *hdr[] = { "If-None-Match: null", NULL };
	JsonParser *jp = json_parser_new();
	http_response rs;
	int sc = -1;

	if (dyn_call(d, "GET", url, hdr, NULL, 0, now, "dynamics365 GET email", &rs, res)) {
		if (rs.status == 404) {
			sc = -2;
		} else if (res->status == CONN_OK &&
		    json_parser_load_from_data(jp, (const char *)rs.body->data, (gssize)rs.body->len, NULL) &&
		    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(jp))) {
			JsonObject *o = json_node_get_object(json_parser_get_root(jp));
			sc = (int)json_object_get_int_member_with_default(o, "statecode", 0);
			*statuscode = (int)json_object_get_int_member_with_default(o, "statuscode", 1);
		} else if (res->status == CONN_OK) {
			res->status = CONN_RETRY;
			res->error = g_strdup("dynamics365 GET email: no statecode in the answer");
		}
	}
	g_object_unref(jp);
	http_response_clear(&rs);
	g_free(url);
	return sc;
}

/* PATCH the mapped columns on email id (reopened and closed again in one
 * change set when it is not Open). */
static void
patch_columns(dyn *d, const char *id, const char *json, gint64 now, conn_result *res)
{
	int status = 1, sc = email_status(d, id, &status, now, res);
	char *url = dyn_api_url(d, "emails(%s)", id);

	if (sc == -2) {
		res->status = CONN_OK;        /* deleted in the CRM: nothing to update */
		g_clear_pointer(&res->error, g_free);
	} else if (sc == 0) {
		http_response rs;
		dyn_call(d, "PATCH", url, NULL, json, strlen(json), now, "dynamics365 PATCH email rollups",
		    &rs, res);
		http_response_clear(&rs);
	} else if (sc > 0) {
		char *back = g_strdup_printf("{\"statecode\":%d,\"statuscode\":%d}", sc, status);
		const char *methods[] = { "PATCH", "PATCH", "PATCH" };
		const char *urls[] = { url, url, url };
		const char *bodies[] = { "{\"statecode\":0,\"statuscode\":1}", json, back };
		(void)dyn_changeset(d, 3, methods, urls, bodies, now, "dynamics365 $batch email rollups", res);
		g_free(back);
	}
	g_free(url);
}

/* The note's JSON; email_id (creating) binds it to the email and gives
 * it the primary key note_id. */
static char *
note_json(const char *text, const char *email_id, const char *note_id)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g = json_generator_new();
	JsonNode *root;
	char *out;

	json_builder_begin_object(b);
	if (email_id != NULL) {
		char *bind = g_strdup_printf("/emails(%s)", email_id);
		json_builder_set_member_name(b, "annotationid");
		json_builder_add_string_value(b, note_id);
		json_builder_set_member_name(b, "objectid_email@odata.bind");
		json_builder_add_string_value(b, bind);
		json_builder_set_member_name(b, "objecttypecode");
		json_builder_add_string_value(b, "email");
		g_free(bind);
	}
	json_builder_set_member_name(b, "subject");
	json_builder_add_string_value(b, NOTE_SUBJECT);
	json_builder_set_member_name(b, "notetext");
	json_builder_add_string_value(b, text);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(g, root);
	out = json_generator_to_data(g, NULL);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
	return out;
}

/* PATCH the note's text; FALSE when the note is not there (404). */
static gboolean
patch_note(dyn *d, const char *nid, const char *text, gint64 now, conn_result *res)
{
	char *json = note_json(text, NULL, NULL), *url = dyn_api_url(d, "annotations(%s)", nid);
	http_response rs;
	gboolean there = !(dyn_call(d, "PATCH", url, NULL, json, strlen(json), now,
	    "dynamics365 PATCH annotation", &rs, res) && rs.status == 404);

	http_response_clear(&rs);
	g_free(url);
	g_free(json);
	return there;
}

/* Create or update the one note of email id. Its primary key comes from
 * the email's, so a second create (an answer lost) is a duplicate key:
 * then it is updated. records.h remembers that it exists. */
static void
upsert_note(dyn *d, const char *id, const char *text, gint64 now, conn_result *res)
{
	char *key = g_strdup_printf("note/%s", id), *nid = dyn_guid("annotation/%s", id);
	char *known = NULL, *url, *json;
	http_response rs;
	GError *e = NULL;
	gboolean answered;

	known = d->db != NULL ? crm_record_get(d->db, d->profile->name, key, NULL, &e) : NULL;
	g_clear_error(&e);
	if (known == NULL || !patch_note(d, known, text, now, res)) {
		json = note_json(text, id, nid);
		url = dyn_api_url(d, "annotations");
		answered = dyn_call(d, "POST", url, NULL, json, strlen(json), now,
		    "dynamics365 POST annotation", &rs, res);
		if (answered && rs.status == 404) {
			res->status = CONN_OK;        /* the email was deleted in the CRM */
			g_clear_pointer(&res->error, g_free);
		} else if (answered && rs.status >= 400 && rs.status < 500) {
			char *code = dyn_error_code((const char *)rs.body->data, rs.body->len);
			if (g_strcmp0(code, DYN_DUPLICATE_KEY) == 0)
				(void)patch_note(d, nid, text, now, res);
			g_free(code);
		}
		if (res->status == CONN_OK && d->db != NULL)
			(void)crm_record_put(d->db, d->profile->name, key, NULL, "annotation", nid, now, NULL);
		http_response_clear(&rs);
		g_free(url);
		g_free(json);
	}
	g_free(known);
	g_free(nid);
	g_free(key);
}

/* Recompute and write the rollups of message mid; missing_ok: a message
 * this profile never saved is fine (a reply to someone else's mail). */
static void
update_rollups(dyn *d, const char *mid, gboolean missing_ok, gint64 now, conn_result *res)
{
	GError *e = NULL;
	char *id = crm_record_by_message(d->db, d->profile->name, mid, &e);
	char *json, *text;
	rollup r;

	res->status = CONN_OK;
	g_clear_pointer(&res->error, g_free);
	if (id == NULL || !rollup_for_message(d->db, mid, &r, &e)) {
		if (e != NULL || !missing_ok) {
			res->status = CONN_RETRY;
			res->error = e != NULL ? g_strdup_printf("dynamics365: %s", e->message) :
			    g_strdup_printf("dynamics365: no email saved yet for %s", mid);
		}
		g_clear_error(&e);
		g_free(id);
		return;
	}
	if ((json = mapped_json(d->profile, &r)) != NULL)
		patch_columns(d, id, json, now, res);
	if (res->status == CONN_OK && (text = note_text(d->profile, &r)) != NULL) {
		upsert_note(d, id, text, now, res);
		g_free(text);
	}
	g_free(json);
	g_free(id);
}

/* Does this event move a rollup (people's opens and clicks, bounces)? */
static gboolean
counts(const job_event *ev)
{
	if (g_strcmp0(ev->kind, "bounced") == 0)
		return TRUE;
	return (g_strcmp0(ev->kind, "opened") == 0 || g_strcmp0(ev->kind, "clicked") == 0) &&
	    g_strcmp0(ev->cls, "human") == 0;
}

/* send_event (see the file comment). */
void
dyn_send_event(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	dyn *d = state;
	guint sent = d->sent;
	GPtrArray *events = jobdata_events(d->db, job, now, res);
	GPtrArray *done = g_ptr_array_new();

	if (events == NULL) {
		g_ptr_array_unref(done);
		return;
	}
	res->status = CONN_OK;
	for (guint i = 0; i < events->len && res->status == CONN_OK; i++) {
		const job_event *ev = g_ptr_array_index(events, i);
		gboolean seen = FALSE;
		for (guint k = 0; k < done->len; k++)
			seen = seen || strcmp(g_ptr_array_index(done, k), ev->message_id) == 0;
		if (seen || !counts(ev) || d->db == NULL)
			continue;
		g_ptr_array_add(done, ev->message_id);
		update_rollups(d, ev->message_id, FALSE, now, res);
	}
	if (res->no_attempt && d->sent != sent)
		res->no_attempt = FALSE;
	g_ptr_array_unref(done);
	g_ptr_array_unref(events);
}

/* Keep the reply locally (no bodies), then write the rollups of the
 * message it answers. */
void
dyn_reply_rollup(dyn *d, const spool_job *job, const activity *a, gint64 now, conn_result *res)
{
	GError *e = NULL;

	if (d->db == NULL)
		return;
	if (!jobdata_keep(d->db, job, a, now, &e)) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("dynamics365: keeping the reply locally: %s",
		    e != NULL ? e->message : "?");
		g_clear_error(&e);
		return;
	}
	update_rollups(d, a->corr_message_id, TRUE, now, res);
}

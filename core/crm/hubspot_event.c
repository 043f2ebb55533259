/*
 * crm/hubspot_event.c - engagement on HubSpot emails. An event job
 * (opened, clicked, bounced; the flusher has already stored it locally)
 * pushes the rollup of its message (rollup.h: human opens and clicks,
 * replies, bounces) to the email the message's save job made:
 *   - rollups the profile maps (rollup_fields "ROLLUP=FIELD") are PATCHed
 *     on the email object, every value a string: first_open/last_open in
 *     Unix milliseconds, opens/clicks/replied/bounced as counts; a bounce
 *     also sets hs_email_status to BOUNCED (notes 1.1);
 *   - the others go to ONE note per email (hs_note_body, HTML), made on
 *     the first push and PATCHed afterwards (its id kept with records.h).
 *     HubSpot documents no note-to-email association type, so the note is
 *     associated with the email's own contacts, companies and deals (202,
 *     190, 214: UNCONFIRMED in the notes), read with GET ...?associations=.
 * Other events (delivered, delayed) change no rollup and make no call.
 * An event whose email is not made yet (its save job is still queued) is
 * retried later.
 */
#include <string.h>

#include "hubspot.h"
#include "jobdata.h"
#include "records.h"
#include "../log.h"

#define NOTE_KEY "hubspot-note/"

static const char *const rollup_names[] = {
	"first_open", "last_open", "opens", "clicks", "replied", "bounced"
};

/* The field rollup name is mapped to in the profile, or NULL. */
static const char *
mapped(const crm_profile *p, const char *name)
{
	gsize n = strlen(name);

	for (guint i = 0; p->rollup_fields != NULL && i < p->rollup_fields->len; i++) {
		const char *item = g_ptr_array_index(p->rollup_fields, i);
		if (strncmp(item, name, n) == 0 && item[n] == '=')
			return item + n + 1;
	}
	return NULL;
}

/* Rollup i as a property value (new), or NULL when it has none yet. */
static char *
value_of(const rollup *r, gsize i)
{
	switch (i) {
	case 0: return r->opens.first > 0 ? hs_ms(r->opens.first, 0) : NULL;
	case 1: return r->opens.last > 0 ? hs_ms(r->opens.last, 0) : NULL;
	case 2: return g_strdup_printf("%u", r->opens.n);
	case 3: return g_strdup_printf("%u", r->clicks.n);
	case 4: return g_strdup_printf("%u", r->replies.n);
	default: return g_strdup_printf("%u", r->bounces.n);
	}
}

/* Rollup i as a line of the note (new). */
static char *
note_line(const rollup *r, gsize i)
{
	gint64 t = i == 0 ? r->opens.first : r->opens.last;
	GDateTime *dt;
	char *s;

	if (i >= 2) {
		static const char *const what[] = { "opens", "clicks", "replies", "bounced recipients" };
		const guint n[] = { r->opens.n, r->clicks.n, r->replies.n, r->bounces.n };
		return g_strdup_printf("%s: %u", what[i - 2], n[i - 2]);
	}
	if (t <= 0)
		return g_strdup_printf("%s: none", i == 0 ? "first open" : "last open");
	dt = g_date_time_new_from_unix_utc(t);
	s = g_date_time_format(dt, i == 0 ? "first open: %Y-%m-%d %H:%M:%S UTC" :
	    "last open: %Y-%m-%d %H:%M:%S UTC");
	g_date_time_unref(dt);
	return s;
}

/* The email's contacts, companies and deals as note associations. */
static void
note_associations(hubspot *h, JsonBuilder *b, const char *email_id, gint64 now, conn_result *res)
{
	static const struct { const char *key; int type_id; } kinds[] = {
		{ "contacts", HS_NOTE_TO_CONTACT }, { "companies", HS_NOTE_TO_COMPANY },
		{ "deals", HS_NOTE_TO_DEAL },
	};
	char *path = g_strdup_printf("/crm/v3/objects/emails/%s?associations=contacts,companies,deals"
	    "&properties=hs_timestamp", email_id);
	JsonNode *root = hs_call(h, "GET", path, NULL, "hubspot email", now, NULL, res);
	JsonObject *assoc = root != NULL ? hs_json_object(json_node_get_object(root), "associations") : NULL;

	g_free(path);
	json_builder_set_member_name(b, "associations");
	json_builder_begin_array(b);
	for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++) {
		JsonArray *a = hs_json_array(hs_json_object(assoc, kinds[k].key), "results");
		for (guint i = 0; a != NULL && i < json_array_get_length(a); i++) {
			JsonNode *n = json_array_get_element(a, i);
			char *id = JSON_NODE_HOLDS_OBJECT(n) ? hs_json_string(json_node_get_object(n), "id") : NULL;
			if (id == NULL)
				continue;
			json_builder_begin_object(b);
			json_builder_set_member_name(b, "to");
			json_builder_begin_object(b);
			json_builder_set_member_name(b, "id");
			json_builder_add_string_value(b, id);
			json_builder_end_object(b);
			json_builder_set_member_name(b, "types");
			json_builder_begin_array(b);
			json_builder_begin_object(b);
			json_builder_set_member_name(b, "associationCategory");
			json_builder_add_string_value(b, "HUBSPOT_DEFINED");
			json_builder_set_member_name(b, "associationTypeId");
			json_builder_add_int_value(b, kinds[k].type_id);
			json_builder_end_object(b);
			json_builder_end_array(b);
			json_builder_end_object(b);
			g_free(id);
		}
	}
	json_builder_end_array(b);
	if (root != NULL)
		json_node_unref(root);
}

/* Make the email's note, or PATCH the one made before. */
static void
note_upsert(hubspot *h, const char *email_id, const char *html, gint64 now, conn_result *res)
{
	char *key = g_strconcat(NOTE_KEY, email_id, NULL);
	GError *e = NULL;
	char *note = crm_record_get(h->db, h->profile->name, key, NULL, &e), *body, *path;
	JsonBuilder *b = json_builder_new();
	JsonNode *ans;
	long status = 0;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "properties");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "hs_note_body");
	json_builder_add_string_value(b, html);
	if (note == NULL && e == NULL) {
		char *ts = hs_ms(now, 0);
		json_builder_set_member_name(b, "hs_timestamp");
		json_builder_add_string_value(b, ts);
		g_free(ts);
	}
	json_builder_end_object(b);
	if (note == NULL && e == NULL)
		note_associations(h, b, email_id, now, res);
	json_builder_end_object(b);
	body = hs_to_string(b);
	if (e != NULL) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("hubspot: %s", e->message);
	} else if (note == NULL && res->status == CONN_OK) {
		ans = hs_call(h, "POST", "/crm/v3/objects/notes", body, "hubspot note", now, &status, res);
		char *id = ans != NULL ? hs_json_string(json_node_get_object(ans), "id") : NULL;
		if (id != NULL && !crm_record_put(h->db, h->profile->name, key, NULL, "note", id, now, &e)) {
			res->status = CONN_RETRY;
			res->error = g_strdup_printf("hubspot: note %s made but not recorded: %s", id, e->message);
		}
		g_free(id);
		if (ans != NULL)
			json_node_unref(ans);
	} else if (note != NULL) {
		path = g_strdup_printf("/crm/v3/objects/notes/%s", note);
		ans = hs_call(h, "PATCH", path, body, "hubspot note", now, &status, res);
		if (ans == NULL && status == 404) {
			/* someone deleted the note: the email keeps its mapped fields */
			log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": note %s of email %s is gone; not remade",
			    h->profile->name, note, email_id);
			conn_result_clear(res);
			res->status = CONN_OK;
		}
		if (ans != NULL)
			json_node_unref(ans);
		g_free(path);
	}
	g_clear_error(&e);
	g_free(body);
	g_free(note);
	g_free(key);
}

/* Push a rollup (see hubspot.h). */
void
hs_push_rollup(hubspot *h, const char *email_id, const char *message_id, const rollup *r,
    gint64 now, conn_result *res)
{
	JsonBuilder *b = json_builder_new();
	GString *note = g_string_new(NULL);
	char *esc = g_markup_printf_escaped("<p>Email engagement (crm-milter) of email %s, Message-ID "
	    "&lt;%s&gt;:</p><ul>", email_id, message_id);
	int props = 0, lines = 0;

	res->status = CONN_OK;
	g_string_append(note, esc);
	g_free(esc);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "properties");
	json_builder_begin_object(b);
	for (gsize i = 0; i < G_N_ELEMENTS(rollup_names); i++) {
		const char *field = mapped(h->profile, rollup_names[i]);
		char *v = field != NULL ? value_of(r, i) : note_line(r, i);
		if (v != NULL && field != NULL) {
			json_builder_set_member_name(b, field);
			json_builder_add_string_value(b, v);
			props++;
		} else if (v != NULL) {
			char *li = g_markup_printf_escaped("<li>%s</li>", v);
			g_string_append(note, li);
			g_free(li);
			lines++;
		}
		g_free(v);
	}
	if (r->bounces.n > 0) {
		json_builder_set_member_name(b, "hs_email_status");
		json_builder_add_string_value(b, "BOUNCED");
		props++;
	}
	json_builder_end_object(b);
	json_builder_end_object(b);
	char *body = hs_to_string(b);
	if (props > 0) {
		char *path = g_strdup_printf("/crm/v3/objects/emails/%s", email_id);
		JsonNode *ans = hs_call(h, "PATCH", path, body, "hubspot email update", now, NULL, res);
		if (ans != NULL)
			json_node_unref(ans);
		g_free(path);
	}
	g_string_append(note, "</ul>");
	if (lines > 0 && res->status == CONN_OK && h->db != NULL)
		note_upsert(h, email_id, note->str, now, res);
	g_free(body);
	g_string_free(note, TRUE);
}

/* Does an event of this kind change a rollup? */
static gboolean
rolls_up(const char *kind)
{
	return g_strcmp0(kind, "opened") == 0 || g_strcmp0(kind, "clicked") == 0 ||
	    g_strcmp0(kind, "bounced") == 0;
}

/* send_event: the rollup of each message the job's events concern. */
void
hs_event(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	hubspot *h = state;
	GPtrArray *events;
	GPtrArray *done = g_ptr_array_new();

	if (h->db == NULL) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup("hubspot: events need the spool database");
		g_ptr_array_unref(done);
		return;
	}
	if ((events = jobdata_events(h->db, job, now, res)) == NULL) {
		g_ptr_array_unref(done);
		return;
	}
	res->status = CONN_OK;
	for (guint i = 0; i < events->len && res->status == CONN_OK; i++) {
		const job_event *ev = g_ptr_array_index(events, i);
		GError *e = NULL;
		char *email;
		rollup r;

		if (!rolls_up(ev->kind) || ev->message_id == NULL ||
		    g_ptr_array_find_with_equal_func(done, ev->message_id, g_str_equal, NULL))
			continue;
		g_ptr_array_add(done, ev->message_id);
		email = crm_record_by_message(h->db, h->profile->name, ev->message_id, &e);
		if (email == NULL) {
			res->status = CONN_RETRY;
			res->error = e != NULL ? g_strdup_printf("hubspot: %s", e->message) :
			    g_strdup_printf("hubspot: no email made yet for Message-ID %s (its save job "
			    "may still be queued)", ev->message_id);
		} else if (!rollup_for_message(h->db, ev->message_id, &r, &e)) {
			res->status = CONN_RETRY;
			res->error = g_strdup_printf("hubspot: %s", e->message);
		} else {
			hs_push_rollup(h, email, ev->message_id, &r, now, res);
		}
		g_clear_error(&e);
		g_free(email);
	}
	g_ptr_array_unref(done);
	g_ptr_array_unref(events);
}

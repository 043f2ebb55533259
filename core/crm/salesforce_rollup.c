/*
 * crm/salesforce_rollup.c - engagement rollups onto Salesforce emails (see
 * salesforce.h). rollup_for_message's human counts go to the custom
 * fields rollup_fields maps ("opens=Opens__c"; first_open and last_open as
 * dateTime, opens and clicks as numbers, replied and bounced as booleans)
 * with PATCH /sobjects/EmailMessage/{id}: "update() ... only for Draft
 * records, except the IsExternallyVisible field and custom fields" (notes
 * §3.8). Rollups not mapped go to one ContentNote per email (Title,
 * Content base64; "Only the Content and Title fields can be updated"; "To
 * relate a note to a record, use ContentDocumentLink": Salesforce object
 * reference, ContentNote), made once and linked with ContentDocumentLink
 * (LinkedEntityId the EmailMessage, ShareType V), then updated in place.
 * An event whose email is not in Salesforce yet is tried EVENT_WAITS times
 * (the email's own save pushes what is known by then). Pushes of one
 * email by several workers: see sf_push_rollup; the note is made by the
 * worker that claims it first (records.h), the others retry later and
 * update it then.
 */
#include <string.h>

#include "salesforce.h"
#include "jobdata.h"
#include "records.h"
#include "../log.h"
#include "../rollup.h"

#define EVENT_WAITS 3          /* tries of an event whose email is not saved yet */
#define NOTE_CLAIM_SECONDS 60
#define PUSH_ROUNDS 3          /* pushes while what is known locally keeps changing */

/* The field rollup_fields maps name to, or NULL. */
static const char *
mapped_field(const crm_profile *p, const char *name)
{
	gsize n = strlen(name);

	for (guint i = 0; p->rollup_fields != NULL && i < p->rollup_fields->len; i++) {
		const char *item = g_ptr_array_index(p->rollup_fields, i);
		if (strncmp(item, name, n) == 0 && item[n] == '=')
			return item + n + 1;
	}
	return NULL;
}

/* ISO 8601 UTC of unix seconds (new string). */
static char *
iso_time(gint64 t)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(t);
	char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");

	g_date_time_unref(dt);
	return s;
}

/* Add one rollup: to the PATCH body when mapped, else a line of the note. */
static void
add_rollup(const crm_profile *p, JsonBuilder *b, guint *mapped, GString *note, const char *name,
    const char *label, int kind, gint64 value)
{
	const char *field = mapped_field(p, name);
	char *when = kind == 'd' && value > 0 ? iso_time(value) : NULL;

	if (field != NULL) {
		json_builder_set_member_name(b, field);
		if (kind == 'd' && when != NULL)
			json_builder_add_string_value(b, when);
		else if (kind == 'd')
			json_builder_add_null_value(b);
		else if (kind == 'b')
			json_builder_add_boolean_value(b, value > 0);
		else
			json_builder_add_int_value(b, value);
		(*mapped)++;
	} else if (kind == 'd') {
		g_string_append_printf(note, "<p>%s: %s</p>", label, when != NULL ? when : "-");
	} else if (kind == 'b') {
		g_string_append_printf(note, "<p>%s: %s</p>", label, value > 0 ? "yes" : "no");
	} else {
		g_string_append_printf(note, "<p>%s: %" G_GINT64_FORMAT "</p>", label, value);
	}
	g_free(when);
}

/* Update note n's Content; TRUE when done (or the note is gone: logged). */
static gboolean
update_note(sf *s, const char *note, const char *email_id, const char *b64, gint64 now,
    conn_result *res)
{
	char *body = sf_json_fields("Content", b64, NULL);
	char *path = g_strdup_printf("/sobjects/ContentNote/%s", note);
	sf_answer ans;
	gboolean ok = sf_call(s, "PATCH", path, body, now, "ContentNote update", &ans, res);

	if (!ok && (ans.status == 404 || g_strcmp0(sf_answer_code(&ans), "ENTITY_IS_DELETED") == 0)) {
		log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": the engagement note %s of email %s was "
		    "deleted in Salesforce; not made again", s->profile->name, note, email_id);
		g_clear_pointer(&res->error, g_free);
		ok = TRUE;
	}
	sf_answer_clear(&ans);
	g_free(body);
	g_free(path);
	return ok;
}

/* POST a record; its new id (new string), or NULL with res set. dup_ok:
 * a DUPLICATE_VALUE answer counts as made (the id is then "dup"). */
static char *
create_record(sf *s, const char *type, const char *body, gboolean dup_ok, gint64 now, conn_result *res)
{
	char *path = g_strdup_printf("/sobjects/%s/", type), *what = g_strdup_printf("%s create", type);
	sf_answer ans;
	char *id = NULL;

	if (sf_call(s, "POST", path, body, now, what, &ans, res)) {
		if ((id = g_strdup(sf_created_id(&ans))) == NULL) {
			res->status = CONN_RETRY;
			res->error = g_strdup_printf("salesforce %s: an answer without an id", what);
		}
	} else if (dup_ok && g_strcmp0(sf_answer_code(&ans), "DUPLICATE_VALUE") == 0) {
		g_clear_pointer(&res->error, g_free);
		id = g_strdup("dup");
	}
	sf_answer_clear(&ans);
	g_free(path);
	g_free(what);
	return id;
}

/* Whether this worker may make the email's note: the first to store a
 * claim (per NOTE_CLAIM_SECONDS, so one that failed or died holding it
 * blocks no longer than that) makes it; the others try again later. */
static gboolean
claim_note(sf *s, const char *email_id, gint64 now, GError **err)
{
	char *key = g_strdup_printf("rollup-note-claim/%s/%" G_GINT64_FORMAT, email_id, now / NOTE_CLAIM_SECONDS);
	char *mine = g_uuid_string_random(), *got = NULL;
	gboolean won = crm_record_put(s->db, s->profile->name, key, NULL, "claim", mine, now, err) &&
	    (got = crm_record_get(s->db, s->profile->name, key, NULL, err)) != NULL && strcmp(got, mine) == 0;

	g_free(got);
	g_free(mine);
	g_free(key);
	return won;
}

/* Create the note, or update it; link it to the email once. */
static void
put_note(sf *s, const char *email_id, const char *html, gint64 now, conn_result *res)
{
	const char *prof = s->profile->name;
	char *key = g_strdup_printf("rollup-note/%s", email_id);
	char *link_key = g_strdup_printf("rollup-link/%s", email_id);
	char *b64 = g_base64_encode((const guchar *)html, strlen(html));
	char *note = NULL, *link = NULL, *body;
	GError *e = NULL;
	gboolean ok;

	note = crm_record_get(s->db, prof, key, NULL, &e);
	if (e != NULL)
		ok = FALSE;
	else if (note != NULL)
		ok = update_note(s, note, email_id, b64, now, res);
	else if (!claim_note(s, email_id, now, &e)) {
		/* another worker is making it (or failed to, moments ago): this
		 * job updates it later */
		ok = FALSE;
		if (e == NULL) {
			g_free(res->error);
			res->status = CONN_RETRY;
			res->retry_after = -1;
			res->error = g_strdup_printf("salesforce: the engagement note of email %s is being made "
			    "by another worker; updated later", email_id);
		}
	} else {
		body = sf_json_fields("Title", "Email engagement (crm-milter)", "Content", b64, NULL);
		note = create_record(s, "ContentNote", body, FALSE, now, res);
		g_free(body);
		ok = note != NULL && crm_record_put(s->db, prof, key, NULL, "ContentNote", note, now, &e);
	}
	if (ok && e == NULL && note != NULL &&
	    (link = crm_record_get(s->db, prof, link_key, NULL, &e)) == NULL && e == NULL) {
		body = sf_json_fields("ContentDocumentId", note, "LinkedEntityId", email_id, "ShareType", "V", NULL);
		link = create_record(s, "ContentDocumentLink", body, TRUE, now, res);
		g_free(body);
		ok = link != NULL && crm_record_put(s->db, prof, link_key, NULL, "ContentDocumentLink", link,
		    now, &e);
	}
	if (e != NULL) {
		g_free(res->error);
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("salesforce rollup note: %s", e->message);
		g_error_free(e);
	} else if (ok) {
		res->status = CONN_OK;
		g_clear_pointer(&res->error, g_free);
	}
	g_free(note);
	g_free(link);
	g_free(b64);
	g_free(key);
	g_free(link_key);
}

/* The same counts? */
static gboolean
same_rollup(const rollup *a, const rollup *b)
{
	const rollup_counts *x[] = { &a->opens, &a->clicks, &a->proxy_opens, &a->proxy_clicks,
	    &a->scanner_opens, &a->scanner_clicks, &a->replies, &a->bounces };
	const rollup_counts *y[] = { &b->opens, &b->clicks, &b->proxy_opens, &b->proxy_clicks,
	    &b->scanner_opens, &b->scanner_clicks, &b->replies, &b->bounces };

	for (gsize i = 0; i < G_N_ELEMENTS(x); i++)
		if (x[i]->n != y[i]->n || x[i]->first != y[i]->first || x[i]->last != y[i]->last)
			return FALSE;
	return TRUE;
}

/* Write one rollup: the mapped fields, then the note. */
static gboolean
push_once(sf *s, const char *email_id, const rollup *r, gint64 now, conn_result *res)
{
	JsonBuilder *b = json_builder_new();
	GString *note = g_string_new(NULL);
	guint mapped = 0;
	gboolean ok = TRUE;

	json_builder_begin_object(b);
	add_rollup(s->profile, b, &mapped, note, "first_open", "First opened", 'd', r->opens.first);
	add_rollup(s->profile, b, &mapped, note, "last_open", "Last opened", 'd', r->opens.last);
	add_rollup(s->profile, b, &mapped, note, "opens", "Opens", 'n', r->opens.n);
	add_rollup(s->profile, b, &mapped, note, "clicks", "Clicks", 'n', r->clicks.n);
	add_rollup(s->profile, b, &mapped, note, "replied", "Replied", 'b', r->replies.n);
	add_rollup(s->profile, b, &mapped, note, "bounced", "Bounced", 'b', r->bounces.n);
	json_builder_end_object(b);
	res->status = CONN_OK;
	if (mapped > 0) {
		char *body = sf_json_text(b), *path = g_strdup_printf("/sobjects/EmailMessage/%s", email_id);
		sf_answer ans;
		ok = sf_call(s, "PATCH", path, body, now, "EmailMessage rollup update", &ans, res);
		sf_answer_clear(&ans);
		g_free(body);
		g_free(path);
	}
	if (ok && note->len > 0) {
		guint apart = r->proxy_opens.n + r->proxy_clicks.n + r->scanner_opens.n + r->scanner_clicks.n;
		g_string_prepend(note, "<p><b>Email engagement</b> (people only, counted by crm-milter)</p>");
		if (apart > 0)
			g_string_append_printf(note, "<p>Not counted: %u by privacy proxies and security "
			    "scanners</p>", apart);
		put_note(s, email_id, note->str, now, res);
		ok = res->status == CONN_OK;
	}
	g_string_free(note, TRUE);
	g_object_unref(b);
	return ok;
}

/* Push the rollups of a message to its email. Workers push concurrently
 * (a reply and a bounce of one message): after writing, the counts are
 * read again and written again if they changed meanwhile, so whoever
 * writes last has written what was known after its own write. */
void
sf_push_rollup(sf *s, const char *email_id, const char *message_id, gint64 now, conn_result *res)
{
	rollup r, last;
	GError *e = NULL;

	for (int round = 0; round < PUSH_ROUNDS; round++) {
		if (!rollup_for_message(s->db, message_id, &r, &e)) {
			res->status = CONN_RETRY;
			g_free(res->error);
			res->error = g_strdup_printf("salesforce rollup: %s", e != NULL ? e->message : "?");
			g_clear_error(&e);
			return;
		}
		if (round > 0 && same_rollup(&r, &last))
			return;
		if (!push_once(s, email_id, &r, now, res))
			return;
		last = r;
	}
}

/* Roll the events of a job up onto the email of their message. */
void
sf_send_event(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	sf *s = state;
	GPtrArray *events = jobdata_events(s->db, job, now, res);
	const job_event *ev;
	GError *e = NULL;
	char *email;

	if (events == NULL)
		return;
	ev = events->len > 0 ? g_ptr_array_index(events, 0) : NULL;
	email = ev != NULL && ev->message_id != NULL ?
	    crm_record_by_message(s->db, s->profile->name, ev->message_id, &e) : NULL;
	if (e != NULL) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("salesforce: %s", e->message);
		g_error_free(e);
	} else if (email == NULL && ev != NULL && job->attempts < EVENT_WAITS) {
		/* its save job may not have run yet */
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("salesforce: no EmailMessage of <%s> yet", ev->message_id);
	} else if (email == NULL) {
		res->status = CONN_OK;        /* nothing in Salesforce to roll up onto */
	} else {
		sf_push_rollup(s, email, ev->message_id, now, res);
	}
	g_free(email);
	g_ptr_array_unref(events);
}


/*
 * crm/salesforce_save.c - activities into Salesforce (see salesforce.h):
 *
 *   1. records.h first: a job whose "#done" marker is stored is done; one
 *      whose EmailMessage id is stored only finishes its parts.
 *   2. SOQL on MessageIdentifier (and Incoming: an internal message saved
 *      as a sent and a received copy has two) before creating, for the
 *      crash between a create and its record (notes §3.7).
 *   3. EmailMessage by sObject Collections (POST /composite/sobjects,
 *      allOrNone false, <= 200 records, results in request order, §3.6):
 *      Status '3' ("for emails not sent as part of a case, only the status
 *      3 (Sent) is valid", §3.8), Incoming, MessageIdentifier "<id>",
 *      From/To/Cc/Bcc, Subject, TextBody, HtmlBody, MessageDate,
 *      RelatedToId (the regarding record, never a contact/lead/user),
 *      Headers for incoming mail only ("Doesn't apply to outgoing
 *      emails"). Its id is recorded at once.
 *   4. A second round of collections (salesforce_parts.c): EmailMessageRelation for the sender
 *      (always: "FromAddress ... that exists in EmailMessageRelation") and
 *      for each recipient the directory resolves to a contact, lead or user
 *      (RelationId, RelationType, RelationAddress); recipients that resolve
 *      to nothing stay in ToAddress/CcAddress/BccAddress ("Include only
 *      email addresses that aren't associated with Contact, Lead, or User
 *      records"). Attachments as ContentVersion with FirstPublishLocationId
 *      = the EmailMessage (§3.10): small ones inside the collections,
 *      larger ones one POST each. When the email was found rather than
 *      made here, the relations and files it already has are queried
 *      first and only the missing ones made.
 *   5. A reply (inbound, correlated) is kept locally and the rollups of the
 *      message it answers are pushed; a sent message whose replies, bounces
 *      or opens came before it was saved gets its rollups at once; then
 *      the "#done" marker.
 * Bodies longer than max_body_chars are cut with a note; STRING_TOO_LONG
 * on a record cuts the named fields again (to 32,000, then by half) and
 * sends that record once more.
 */
#include <string.h>

#include "salesforce.h"
#include "jobdata.h"
#include "records.h"
#include "../directory.h"
#include "../log.h"
#include "../rollup.h"

#define SHRINK_ROUNDS 4
#define JSON_BASE64_MAX (37 * 1024 * 1024)  /* "37.5 MB of base64-encoded data" (§3.10) */

static const char *const limit_field[N_LIMITS] = {
	"TextBody", "HtmlBody", "Subject", "Headers", "ToAddress", "CcAddress", "BccAddress", "FromName"
};

/* Free a part. */
static void
part_free(gpointer p)
{
	sf_part *pt = p;

	g_free(pt->address);
	g_free(pt->relation_id);
	g_free(pt->path);
	g_free(pt);
}

/* Free an item (its result stays with the caller). */
static void
item_free(gpointer p)
{
	sf_item *it = p;

	activity_free(it->act);
	g_free(it->msgid);
	g_free(it->email_id);
	if (it->parts != NULL)
		g_ptr_array_unref(it->parts);
	for (int i = 0; i < 3; i++)
		if (it->addr[i] != NULL)
			g_string_free(it->addr[i], TRUE);
	g_free(it->related_to);
	g_free(it->headers);
	g_free(it);
}

/* Decide an item's result. */
void
sf_finish(sf_item *it, conn_status st, int retry_after, char *error)
{
	g_free(it->res->error);
	it->res->status = st;
	it->res->retry_after = retry_after;
	it->res->no_attempt = FALSE;
	it->res->error = error;
	it->final = TRUE;
}

/* A body of at most limit characters: cut, with a note saying so. */
static char *
body_field(const char *body, int limit, gboolean html)
{
	glong n = g_utf8_strlen(body, -1), keep;
	char *note, *head, *out;

	if (n <= limit)
		return g_strdup(body);
	note = g_strdup_printf(html ? "<p>[crm-milter: this body was cut to %d of %ld characters "
	    "(the org's limit)]</p>" : "\n\n[crm-milter: this body was cut to %d of %ld characters "
	    "(the org's limit)]", limit, n);
	keep = MAX(limit - g_utf8_strlen(note, -1), 0);
	head = sf_cut_chars(body, keep);
	if (html) {
		/* never end inside a tag */
		char *lt = strrchr(head, '<');
		if (lt != NULL && strchr(lt, '>') == NULL)
			*lt = '\0';
	}
	out = g_strconcat(head, note, NULL);
	g_free(head);
	g_free(note);
	return out;
}

/* At most limit characters of text, cut after the last sep that fits. */
static char *
cut_at(const char *text, int limit, const char *sep)
{
	char *out = sf_cut_chars(text, limit), *last;

	if (strlen(out) < strlen(text) && (last = g_strrstr(out, sep)) != NULL)
		*last = '\0';
	return out;
}

/* The Id of the best contact, lead or user record of addr (new), or NULL. */
static char *
who_of(sf *s, const char *addr, GError **err)
{
	static const char *const prefix[] = { [DIRREC_CONTACT] = "003", [DIRREC_LEAD] = "00Q",
	    [DIRREC_USER] = "005", [DIRREC_ACCOUNT] = NULL };
	GPtrArray *all = s->db != NULL ? directory_lookup_all(s->db, addr, err) : NULL;
	char *id = NULL;

	for (guint i = 0; all != NULL && i < all->len && id == NULL; i++) {
		const directory_entry *d = g_ptr_array_index(all, i);
		/* the directory may hold other CRMs' ids too: only ours fit */
		if (prefix[d->type] != NULL && sf_is_id(d->record_id) &&
		    g_str_has_prefix(d->record_id, prefix[d->type]))
			id = g_strdup(d->record_id);
	}
	if (all != NULL)
		g_ptr_array_unref(all);
	return id;
}

/* Add a relation part (once per type and address). */
static void
add_relation(sf_item *it, const char *type, const char *addr, const char *id)
{
	sf_part *pt;

	for (guint i = 0; i < it->parts->len; i++) {
		pt = g_ptr_array_index(it->parts, i);
		if (pt->rel_type == type && g_strcmp0(pt->address, addr) == 0 &&
		    g_strcmp0(pt->relation_id, id) == 0)
			return;
	}
	pt = g_new0(sf_part, 1);
	pt->rel_type = type;
	pt->address = g_strdup(addr);
	pt->relation_id = g_strdup(id);
	g_ptr_array_add(it->parts, pt);
}

/* The raw header block of a message, through GMime (new), or NULL. */
static char *
header_block(GBytes *raw)
{
	gsize n = 0, end;
	const char *d = raw != NULL ? g_bytes_get_data(raw, &n) : NULL;
	GMimeStream *st;
	GMimeParser *p;
	GMimeMessage *m;
	char *h = NULL;

	if (d == NULL)
		return NULL;
	for (end = 0; end + 1 < n; end++)
		if (d[end] == '\n' && (d[end + 1] == '\n' || (d[end + 1] == '\r' && end + 2 < n && d[end + 2] == '\n')))
			break;
	activity_gmime_init();
	st = g_mime_stream_mem_new_with_buffer(d, MIN(end + 1, n));
	p = g_mime_parser_new_with_stream(st);
	if ((m = g_mime_parser_construct_message(p, NULL)) != NULL) {
		char *raw_h = g_mime_object_get_headers(GMIME_OBJECT(m), NULL);
		h = raw_h != NULL ? g_utf8_make_valid(raw_h, -1) : NULL;
		g_free(raw_h);
		g_object_unref(m);
	}
	g_object_unref(p);
	g_object_unref(st);
	return h;
}

/* Parse a job and resolve its participants; FALSE: final (res set). */
static gboolean
prepare(sf *s, sf_item *it)
{
	static const char *const types[3] = { "ToAddress", "CcAddress", "BccAddress" };
	activity *a = it->act = jobdata_activity(s->db, it->job, (gsize)s->profile->max_body_size,
	    TRUE, NULL, it->res);
	GError *e = NULL;
	char *id;

	if (a == NULL) {
		it->final = TRUE;
		return FALSE;
	}
	it->incoming = g_strcmp0(a->direction, "inbound") == 0;
	if (a->message_id != NULL && strlen(a->message_id) + 2 <= 765)
		it->msgid = g_strdup_printf("<%s>", a->message_id);
	it->parts = g_ptr_array_new_with_free_func(part_free);
	if (a->from_addr != NULL && strlen(a->from_addr) <= 255) {
		id = who_of(s, a->from_addr, &e);
		add_relation(it, "FromAddress", a->from_addr, id);
		g_free(id);
	}
	const GPtrArray *lists[3] = { a->to, a->cc, a->bcc };
	for (int k = 0; k < 3 && e == NULL; k++) {
		it->addr[k] = g_string_new(NULL);
		for (guint i = 0; lists[k] != NULL && i < lists[k]->len && e == NULL; i++) {
			const char *addr = g_ptr_array_index(lists[k], i);
			if ((id = who_of(s, addr, &e)) != NULL && strlen(addr) <= 255)
				add_relation(it, types[k], addr, id);
			else if (e == NULL)
				g_string_append_printf(it->addr[k], "%s%s", it->addr[k]->len > 0 ? "; " : "", addr);
			g_free(id);
		}
	}
	if (e != NULL) {
		sf_finish(it, CONN_RETRY, -1, g_strdup_printf("salesforce: directory: %s", e->message));
		g_error_free(e);
		return FALSE;
	}
	/* regarding: RelatedToId takes accounts, opportunities, cases...; a
	 * contact, lead or user goes in a relation instead */
	const char *colon = a->regarding != NULL ? strchr(a->regarding, ':') : NULL;
	if (colon != NULL && sf_is_id(colon + 1)) {
		if (g_str_has_prefix(colon + 1, "003") || g_str_has_prefix(colon + 1, "00Q") ||
		    g_str_has_prefix(colon + 1, "005"))
			add_relation(it, "OtherAddress", NULL, colon + 1);
		else
			it->related_to = g_strdup(colon + 1);
	}
	for (guint i = 0; a->attachments != NULL && i < a->attachments->len; i++) {
		activity_attachment *at = g_ptr_array_index(a->attachments, i);
		sf_part *pt;
		if (at->content == NULL || g_bytes_get_size(at->content) == 0 ||
		    g_bytes_get_size(at->content) / 3 * 4 > JSON_BASE64_MAX)
			continue;
		pt = g_new0(sf_part, 1);
		pt->att = at;
		pt->path = at->filename != NULL && *at->filename != '\0' ? g_path_get_basename(at->filename) :
		    g_strdup_printf("attachment-%u.bin", i + 1);
		g_ptr_array_add(it->parts, pt);
	}
	if (it->incoming)
		it->headers = header_block(it->job->payload);
	it->limit[L_TEXT] = it->limit[L_HTML] = s->max_body_chars;
	it->limit[L_SUBJECT] = 3000;
	it->limit[L_HEADERS] = 32000;
	it->limit[L_TO] = it->limit[L_CC] = it->limit[L_BCC] = 4000;
	it->limit[L_FROMNAME] = 1000;
	return TRUE;
}

/* The sender's display name (GMime), or NULL. */
static char *
from_name(const char *from)
{
	InternetAddressList *l = from != NULL ? internet_address_list_parse(NULL, from) : NULL;
	InternetAddress *ia = l != NULL && internet_address_list_length(l) > 0 ?
	    internet_address_list_get_address(l, 0) : NULL;
	const char *name = ia != NULL ? internet_address_get_name(ia) : NULL;
	char *out = name != NULL && *name != '\0' ? g_strdup(name) : NULL;

	if (l != NULL)
		g_object_unref(l);
	return out;
}

/* One EmailMessage record of a collection. */
static void
add_email(sf_item *it, JsonBuilder *b)
{
	const activity *a = it->act;
	char *name = from_name(a->from), *v;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "attributes");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, "EmailMessage");
	json_builder_end_object(b);
	json_builder_set_member_name(b, "Status");
	json_builder_add_string_value(b, "3");
	json_builder_set_member_name(b, "Incoming");
	json_builder_add_boolean_value(b, it->incoming);
	sf_add_cut(b, "MessageIdentifier", it->msgid, 765);
	sf_add_cut(b, "Subject", a->subject, it->limit[L_SUBJECT]);
	sf_add_cut(b, "FromAddress", a->from_addr, 1000);
	sf_add_cut(b, "FromName", name, it->limit[L_FROMNAME]);
	for (int k = 0; k < 3; k++) {
		v = cut_at(it->addr[k]->str, it->limit[L_TO + k], "; ");
		sf_add_cut(b, limit_field[L_TO + k], v, it->limit[L_TO + k]);
		g_free(v);
	}
	for (int k = 0; k < 2; k++) {
		const char *body = k == 0 ? a->text_body : a->html_body;
		if (body == NULL || *body == '\0')
			continue;
		v = body_field(body, it->limit[L_TEXT + k], k == 1);
		json_builder_set_member_name(b, limit_field[L_TEXT + k]);
		json_builder_add_string_value(b, v);
		g_free(v);
	}
	if (it->headers != NULL) {
		v = cut_at(it->headers, it->limit[L_HEADERS], "\n");
		sf_add_cut(b, "Headers", v, it->limit[L_HEADERS]);
		g_free(v);
	}
	GDateTime *dt = g_date_time_new_from_unix_utc(a->date > 0 ? a->date : it->job->created_at);
	v = dt != NULL ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;
	sf_add_cut(b, "MessageDate", v, 64);
	g_free(v);
	if (dt != NULL)
		g_date_time_unref(dt);
	sf_add_cut(b, "RelatedToId", it->related_to, 18);
	json_builder_end_object(b);
	g_free(name);
}

/* Characters the field k of an item holds before any cut (its limit when
 * unknown). */
static int
field_chars(const sf_item *it, int k)
{
	const char *v = k == L_TEXT ? it->act->text_body : k == L_HTML ? it->act->html_body :
	    k == L_SUBJECT ? it->act->subject : k == L_HEADERS ? it->headers :
	    k >= L_TO && k <= L_BCC ? it->addr[k - L_TO]->str : NULL;

	return v != NULL ? (int)MIN(g_utf8_strlen(v, -1), (glong)it->limit[k]) : it->limit[k];
}

/* Lower the limits of the fields STRING_TOO_LONG named (both bodies when
 * it named none we know): to 32,000 when longer, else to half of what was
 * sent. */
static void
shrink(sf_item *it, const char *fields)
{
	gboolean any = FALSE;

	for (int k = 0; k < N_LIMITS; k++) {
		int sent;
		if (strstr(fields, limit_field[k]) == NULL)
			continue;
		sent = field_chars(it, k);
		it->limit[k] = sent > 32000 ? 32000 : MAX(sent / 2, 100);
		any = TRUE;
	}
	for (int k = L_TEXT; !any && k <= L_HTML; k++) {
		int sent = field_chars(it, k);
		it->limit[k] = sent > 32000 ? 32000 : MAX(sent / 2, 100);
	}
}

/* Create the EmailMessages of todo (item *), recording each id at once. */
static void
create_emails(sf *s, GPtrArray *todo, gint64 now)
{
	GError *e = NULL;

	for (int round = 0; round <= SHRINK_ROUNDS && todo->len > 0; round++) {
		GPtrArray *again = g_ptr_array_new();
		for (guint from = 0; from < todo->len; from += SF_COLLECTION_MAX) {
			guint n = MIN(todo->len - from, SF_COLLECTION_MAX);
			JsonBuilder *b = sf_collection_begin();
			conn_result r = { CONN_OK, -1, NULL, FALSE };
			sf_answer ans;
			JsonArray *out;

			for (guint i = 0; i < n; i++)
				add_email(g_ptr_array_index(todo, from + i), b);
			out = sf_post_collection(s, b, n, now, "EmailMessage create", &ans, &r);
			for (guint i = 0; i < n; i++) {
				sf_item *it = g_ptr_array_index(todo, from + i);
				const char *code, *msg, *id;
				GString *fields = g_string_new(NULL);
				if (out == NULL) {
					sf_finish(it, r.status, r.retry_after, g_strdup(r.error));
				} else if ((id = sf_record_result(out, i, &code, &msg, fields)) != NULL) {
					it->email_id = g_strdup(id);
					it->fresh = TRUE;
					if (!crm_record_put(s->db, s->profile->name, it->job->idem_key,
					    it->act->message_id, "EmailMessage", id, now, &e)) {
						sf_finish(it, CONN_RETRY, -1, g_strdup_printf("salesforce: EmailMessage %s "
						    "made but not recorded: %s", id, e->message));
						g_clear_error(&e);
					}
				} else if (strcmp(code, "STRING_TOO_LONG") == 0 && round < SHRINK_ROUNDS) {
					log_msg(CRM_LOG_NOTICE, it->job->queue_id, "crm \"%s\": STRING_TOO_LONG (%s): "
					    "cutting and sending again", s->profile->name, fields->str);
					shrink(it, fields->str);
					g_ptr_array_add(again, it);
				} else {
					sf_finish(it, sf_retryable(code) ? CONN_RETRY : CONN_PERMANENT, -1,
					    g_strdup_printf("salesforce EmailMessage create: %s: %s%s%s%s", code,
					    msg != NULL ? msg : "-", fields->len > 0 ? " (" : "", fields->str,
					    fields->len > 0 ? ")" : ""));
				}
				g_string_free(fields, TRUE);
			}
			sf_answer_clear(&ans);
			g_free(r.error);
			g_object_unref(b);
		}
		g_ptr_array_set_size(todo, 0);
		g_ptr_array_extend_and_steal(todo, again);
	}
}

/* Items of list (item *) that pass keep(), as a new array. */
static GPtrArray *
select_items(GPtrArray *list, gboolean (*keep)(const sf_item *))
{
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; i < list->len; i++)
		if (keep(g_ptr_array_index(list, i)))
			g_ptr_array_add(out, g_ptr_array_index(list, i));
	return out;
}

/* Still open and not in Salesforce, with a Message-ID to look for. */
static gboolean
wants_dedup(const sf_item *it)
{
	return !it->final && it->email_id == NULL && it->msgid != NULL;
}

/* Still open and not in Salesforce. */
static gboolean
wants_create(const sf_item *it)
{
	return !it->final && it->email_id == NULL;
}

/* In Salesforce from before: its parts must be looked for. */
gboolean
sf_wants_lookup(const sf_item *it)
{
	return !it->final && it->email_id != NULL && !it->fresh;
}

/* Run "SELECT ... WHERE column IN (<values of items>)" in chunks that
 * keep the URL short; each row to fn. value(it) gives an item's value, or
 * NULL to leave it out. Failures finish the chunk's items. */
void
sf_query_in(sf *s, GPtrArray *items, const char *head, const char *tail,
    const char *(*value)(const sf_item *), sf_row_fn fn, gint64 now)
{
	guint i = 0;

	while (i < items->len) {
		GString *q = g_string_new(head);
		guint first = i, n = 0;
		conn_result r = { CONN_OK, -1, NULL, FALSE };
		for (; i < items->len; i++) {
			const char *v = value(g_ptr_array_index(items, i));
			char *lit, *enc;
			if (v == NULL)
				continue;
			lit = sf_soql_quote(v);
			enc = g_uri_escape_string(q->str, NULL, FALSE);
			if (n > 0 && strlen(enc) + strlen(lit) * 3 > SF_QUERY_URL_MAX) {
				g_free(enc);
				g_free(lit);
				break;
			}
			g_string_append_printf(q, "%s%s", n++ > 0 ? ", " : "", lit);
			g_free(enc);
			g_free(lit);
		}
		g_string_append_printf(q, ")%s", tail);
		if (n > 0 && !sf_query(s, q->str, now, fn, items, &r))
			for (guint k = first; k < i; k++) {
				sf_item *it = g_ptr_array_index(items, k);
				if (!it->final && value(it) != NULL)
					sf_finish(it, r.status, r.retry_after, g_strdup(r.error));
			}
		g_free(r.error);
		g_string_free(q, TRUE);
	}
}

/* A de-dup row: the EmailMessage of items with its id and direction. */
static gboolean
dedup_row(JsonObject *row, gpointer user, conn_result *res)
{
	GPtrArray *items = user;
	const char *id = SF_FIELD(row, "Id"), *mid = SF_FIELD(row, "MessageIdentifier");
	gboolean incoming = json_object_get_boolean_member_with_default(row, "Incoming", FALSE);

	(void)res;
	for (guint i = 0; sf_is_id(id) && mid != NULL && i < items->len; i++) {
		sf_item *it = g_ptr_array_index(items, i);
		if (!it->final && it->email_id == NULL && it->msgid != NULL && it->incoming == incoming &&
		    g_ascii_strcasecmp(it->msgid, mid) == 0)
			it->email_id = g_strdup(id);
	}
	return TRUE;
}

/* The Message-ID of an item, for the IN list. */
static const char *
msgid_of(const sf_item *it)
{
	return wants_dedup(it) ? it->msgid : NULL;
}

/* Done: a reply pushes the rollups of what it answers; then the marker. */
static void
complete(sf *s, sf_item *it, gint64 now)
{
	activity *a = it->act;
	GError *e = NULL;
	char *key, *corr = NULL;

	if (it->incoming && a->corr_message_id != NULL) {
		/* kept locally now (the flusher would do it after us) so the
		 * rollup counts this reply */
		if (!jobdata_keep(s->db, it->job, a, now, &e))
			g_clear_error(&e);
		corr = crm_record_by_message(s->db, s->profile->name, a->corr_message_id, &e);
		g_clear_error(&e);
	}
	if (!it->incoming && a->message_id != NULL && s->db != NULL) {
		/* replies, bounces or opens that came before the email was saved */
		rollup r;
		if (rollup_for_message(s->db, a->message_id, &r, &e) &&
		    r.opens.n + r.clicks.n + r.replies.n + r.bounces.n > 0) {
			conn_result rr = { CONN_OK, -1, NULL, FALSE };
			sf_push_rollup(s, it->email_id, a->message_id, now, &rr);
			if (rr.status != CONN_OK)
				log_msg(CRM_LOG_WARNING, it->job->queue_id, "crm \"%s\": rollups of %s: %s",
				    s->profile->name, a->message_id, rr.error);
			g_free(rr.error);
		}
		g_clear_error(&e);
	}
	if (corr != NULL) {
		conn_result r = { CONN_OK, -1, NULL, FALSE };
		sf_push_rollup(s, corr, a->corr_message_id, now, &r);
		if (r.status == CONN_RETRY) {
			sf_finish(it, CONN_RETRY, r.retry_after, r.error);
			g_free(corr);
			return;
		}
		if (r.status == CONN_PERMANENT)
			log_msg(CRM_LOG_WARNING, it->job->queue_id, "crm \"%s\": rollups of %s: %s",
			    s->profile->name, a->corr_message_id, r.error);
		g_free(r.error);
		g_free(corr);
	}
	key = g_strdup_printf("%s#done", it->job->idem_key);
	if (crm_record_put(s->db, s->profile->name, key, NULL, "EmailMessage", it->email_id, now, &e))
		sf_finish(it, CONN_OK, -1, NULL);
	else {
		sf_finish(it, CONN_RETRY, -1, g_strdup_printf("salesforce: %s", e->message));
		g_error_free(e);
	}
	g_free(key);
}

/* Save n jobs (see the file comment). */
void
sf_save_batch(void *state, const spool_job *const *jobs, guint n, gint64 now, conn_result *results)
{
	sf *s = state;
	GPtrArray *items = g_ptr_array_new_with_free_func(item_free), *sel;
	GError *e = NULL;

	for (guint i = 0; i < n; i++) {
		sf_item *it = g_new0(sf_item, 1);
		char *key = g_strdup_printf("%s#done", jobs[i]->idem_key), *done;
		it->job = jobs[i];
		it->res = &results[i];
		g_ptr_array_add(items, it);
		if ((done = crm_record_get(s->db, s->profile->name, key, NULL, &e)) != NULL)
			sf_finish(it, CONN_OK, -1, NULL);
		else if (e == NULL)
			it->email_id = crm_record_get(s->db, s->profile->name, jobs[i]->idem_key, NULL, &e);
		if (e != NULL) {
			sf_finish(it, CONN_RETRY, -1, g_strdup_printf("salesforce: %s", e->message));
			g_clear_error(&e);
		}
		g_free(done);
		g_free(key);
		if (!it->final)
			(void)prepare(s, it);
	}
	sel = select_items(items, wants_dedup);
	sf_query_in(s, sel, "SELECT Id, MessageIdentifier, Incoming FROM EmailMessage WHERE MessageIdentifier IN (",
	    " ORDER BY CreatedDate", msgid_of, dedup_row, now);
	for (guint i = 0; i < sel->len; i++) {
		sf_item *it = g_ptr_array_index(sel, i);
		if (!it->final && it->email_id != NULL &&
		    !crm_record_put(s->db, s->profile->name, it->job->idem_key, it->act->message_id,
		    "EmailMessage", it->email_id, now, &e)) {
			sf_finish(it, CONN_RETRY, -1, g_strdup_printf("salesforce: %s", e->message));
			g_clear_error(&e);
		}
	}
	g_ptr_array_unref(sel);
	sel = select_items(items, wants_create);
	create_emails(s, sel, now);
	g_ptr_array_unref(sel);
	sf_parts_lookup(s, items, now);
	sf_parts_create(s, items, now);
	for (guint i = 0; i < items->len; i++) {
		sf_item *it = g_ptr_array_index(items, i);
		if (!it->final)
			complete(s, it, now);
	}
	g_ptr_array_unref(items);
}


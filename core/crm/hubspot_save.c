/*
 * crm/hubspot_save.c - saving activities as HubSpot CRM v3 `emails`: POST
 * /crm/v3/objects/emails/batch/create (also for one job), every input with
 * objectWriteTraceId = the job's idempotency key, so a 207 answer maps
 * results and errors back to their jobs (notes 1.2). A whole batch refused
 * with 400 or 413 is tried again one input per request, so only the bad
 * job dies. Batches stay under HS_BATCH_MAX inputs and half the profile's
 * max_response_size in bytes (HubSpot answers with every object in full).
 *
 * De-duplication. HubSpot has no message-id property on emails, so:
 *   1. the record a job made (records.h) is looked up first, and stored
 *      right after the create answer is read;
 *   2. a job on its second or later attempt (a flusher may have died
 *      between HubSpot's answer and step 1, or the answer was lost in
 *      transit) first searches emails by hs_timestamp, whose milliseconds
 *      carry a fingerprint of the idempotency key (hubspot_build.c), and
 *      direction; a result with the job's subject and sender
 *      (hs_email_headers), or its objectWriteTraceId, is the job's email.
 * What remains: HubSpot's search index lags behind creates (by seconds,
 * UNCONFIRMED); a retry inside that lag after a lost answer makes a second
 * email. First attempts never search, so batching keeps its economy.
 *
 * Attachments are uploaded first (hubspot_files.c). A saved reply (inbound,
 * correlated to a sent message) then pushes the sent message's rollup
 * (replied) to its email, after the whole batch (the sent message may be
 * in it), best effort: a failure is logged, the reply stays saved.
 */
#include <string.h>

#include "hubspot.h"
#include "jobdata.h"
#include "records.h"
#include "../log.h"

#define SEARCH_LIMIT 10
#define INPUTS_OVERHEAD 16     /* {"inputs":[ ]} */

/* A job that needs a create. */
typedef struct pending {
	guint idx;               /* into jobs and results */
	char *input;             /* the batch input, JSON */
	char *message_id;        /* bare, or NULL */
	char *corr;              /* the sent message a reply answers, or NULL */
	gint64 date;
} pending;

/* Free a pending (the array's element destructor). */
static void
pending_free(gpointer p)
{
	pending *q = p;

	if (q == NULL)
		return;
	g_free(q->input);
	g_free(q->message_id);
	g_free(q->corr);
	g_free(q);
}

/* Copy src's outcome into dst (its error duplicated). */
static void
result_copy(conn_result *dst, const conn_result *src)
{
	g_free(dst->error);
	dst->status = src->status;
	dst->retry_after = src->retry_after;
	dst->no_attempt = src->no_attempt;
	dst->error = g_strdup(src->error);
}

/* Set res. */
static void
result_set(conn_result *res, conn_status st, char *error)
{
	g_free(res->error);
	res->status = st;
	res->retry_after = -1;
	res->no_attempt = FALSE;
	res->error = error;
}

/* Does a search result look like the email act would make? */
static gboolean
same_email(JsonObject *obj, const activity *act, const char *trace)
{
	JsonObject *props = hs_json_object(obj, "properties");
	char *t = hs_json_string(obj, "objectWriteTraceId");
	char *subject = hs_json_string(props, "hs_email_subject");
	char *headers = hs_json_string(props, "hs_email_headers");
	JsonParser *p = json_parser_new();
	char *from = NULL;
	gboolean same;

	if (headers != NULL && json_parser_load_from_data(p, headers, -1, NULL) &&
	    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)))
		from = hs_json_string(hs_json_object(json_node_get_object(json_parser_get_root(p)), "from"),
		    "email");
	same = g_strcmp0(t, trace) == 0 ||
	    (g_strcmp0(subject != NULL ? subject : "", act->subject != NULL ? act->subject : "") == 0 &&
	    from != NULL && act->from_addr != NULL && g_ascii_strcasecmp(from, act->from_addr) == 0);
	g_object_unref(p);
	g_free(t);
	g_free(subject);
	g_free(headers);
	g_free(from);
	return same;
}

/* Search for the email an earlier attempt made: 1 found (*id), 0 none
 * (create it), -1 try later (res set). */
static int
find_existing(hubspot *h, const activity *act, const char *direction, const char *trace,
    const char *timestamp, gint64 now, char **id, conn_result *res)
{
	JsonBuilder *b = json_builder_new();
	conn_result r = { CONN_OK, -1, NULL, FALSE };
	JsonNode *root;
	JsonArray *results;
	char *body;
	int found = 0;

	*id = NULL;
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "filterGroups");
	json_builder_begin_array(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "filters");
	json_builder_begin_array(b);
	const char *filters[][2] = { { "hs_timestamp", timestamp }, { "hs_email_direction", direction } };
	for (gsize i = 0; i < G_N_ELEMENTS(filters); i++) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "propertyName");
		json_builder_add_string_value(b, filters[i][0]);
		json_builder_set_member_name(b, "operator");
		json_builder_add_string_value(b, "EQ");
		json_builder_set_member_name(b, "value");
		json_builder_add_string_value(b, filters[i][1]);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "properties");
	json_builder_begin_array(b);
	json_builder_add_string_value(b, "hs_email_subject");
	json_builder_add_string_value(b, "hs_email_headers");
	json_builder_add_string_value(b, "hs_timestamp");
	json_builder_end_array(b);
	json_builder_set_member_name(b, "limit");
	json_builder_add_int_value(b, SEARCH_LIMIT);
	json_builder_end_object(b);
	body = hs_to_string(b);
	hs_search_wait(h);
	root = hs_call(h, "POST", "/crm/v3/objects/emails/search", body, "hubspot email search",
	    now, NULL, &r);
	g_free(body);
	if (root == NULL) {
		if (r.status == CONN_RETRY) {
			result_copy(res, &r);
			found = -1;
		} else {
			/* e.g. no read scope: the ledger is all we have */
			log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": cannot check for an earlier copy: %s",
			    h->profile->name, r.error);
		}
		conn_result_clear(&r);
		return found;
	}
	results = hs_json_array(json_node_get_object(root), "results");
	for (guint i = 0; results != NULL && i < json_array_get_length(results) && !found; i++) {
		JsonNode *n = json_array_get_element(results, i);
		if (JSON_NODE_HOLDS_OBJECT(n) && same_email(json_node_get_object(n), act, trace) &&
		    (*id = hs_json_string(json_node_get_object(n), "id")) != NULL)
			found = 1;
	}
	json_node_unref(root);
	return found;
}

/* The sent message a saved reply answers gets its rollup (replied). */
static void
push_reply(hubspot *h, const pending *p, gint64 now)
{
	conn_result r = { CONN_OK, -1, NULL, FALSE };
	GError *e = NULL;
	char *email;
	rollup ru;

	if (h->db == NULL || p->corr == NULL)
		return;
	email = crm_record_by_message(h->db, h->profile->name, p->corr, &e);
	if (email != NULL && rollup_for_message(h->db, p->corr, &ru, &e)) {
		/* this reply reaches the local ledger only after the job is done */
		ru.replies.n++;
		if (ru.replies.first == 0 || p->date < ru.replies.first)
			ru.replies.first = p->date;
		ru.replies.last = MAX(ru.replies.last, p->date);
		hs_push_rollup(h, email, p->corr, &ru, now, &r);
	}
	if (e != NULL || r.status != CONN_OK)
		log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": the reply to %s is saved, its rollup not: %s",
		    h->profile->name, p->corr, e != NULL ? e->message : r.error);
	g_clear_error(&e);
	conn_result_clear(&r);
	g_free(email);
}

/* The email is made: remember it (a failure to remember retries the job,
 * whose next attempt finds the email by searching). */
static void
made(hubspot *h, const spool_job *job, const pending *p, const char *id, gint64 now,
    conn_result *res)
{
	GError *e = NULL;

	if (h->db != NULL && !crm_record_put(h->db, h->profile->name, job->idem_key, p->message_id,
	    "email", id, now, &e)) {
		result_set(res, CONN_RETRY, g_strdup_printf("hubspot: email %s made but not recorded: %s",
		    id, e != NULL ? e->message : "?"));
		g_clear_error(&e);
		return;
	}
	result_set(res, CONN_OK, NULL);
}

/* A per-input error of a 207 answer. */
static char *
input_error(JsonObject *err)
{
	char *cat = hs_json_string(err, "category"), *msg = hs_json_string(err, "message");
	char *out = g_strdup_printf("hubspot batch create: %s: %s", cat != NULL ? cat : "error",
	    msg != NULL ? msg : "(no message)");

	g_free(cat);
	g_free(msg);
	return out;
}

/* The objectWriteTraceId an error names (context.objectWriteTraceId[0]). */
static char *
error_trace(JsonObject *err)
{
	JsonArray *a = hs_json_array(hs_json_object(err, "context"), "objectWriteTraceId");
	JsonNode *n = a != NULL && json_array_get_length(a) > 0 ? json_array_get_element(a, 0) : NULL;

	return n != NULL && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ?
	    g_strdup(json_node_get_string(n)) : NULL;
}

/* Map a batch answer to the jobs of pend[0..n). */
static void
map_answer(hubspot *h, const spool_job *const *jobs, pending **pend, guint n, JsonObject *ans,
    gint64 now, conn_result *results)
{
	GHashTable *ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	GHashTable *errs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	JsonArray *res = hs_json_array(ans, "results"), *errors = hs_json_array(ans, "errors");
	guint nres = res != NULL ? json_array_get_length(res) : 0;
	guint nerr = errors != NULL ? json_array_get_length(errors) : 0;
	gboolean traced = FALSE;

	for (guint i = 0; i < nres; i++) {
		JsonNode *node = json_array_get_element(res, i);
		JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
		char *trace = hs_json_string(o, "objectWriteTraceId"), *id = hs_json_string(o, "id");
		if (trace != NULL && id != NULL) {
			traced = TRUE;
			g_hash_table_replace(ids, trace, id);
		} else {
			g_free(trace);
			g_free(id);
		}
	}
	/* results without trace ids: in input order when every input succeeded */
	if (!traced && nerr == 0 && nres == n)
		for (guint i = 0; i < n; i++)
			g_hash_table_replace(ids, g_strdup(jobs[pend[i]->idx]->idem_key),
			    hs_json_string(json_array_get_object_element(res, i), "id"));
	for (guint i = 0; i < nerr; i++) {
		JsonNode *node = json_array_get_element(errors, i);
		JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
		char *trace = error_trace(o);
		if (trace != NULL)
			g_hash_table_replace(errs, trace, input_error(o));
	}
	for (guint i = 0; i < n; i++) {
		const spool_job *job = jobs[pend[i]->idx];
		conn_result *r = &results[pend[i]->idx];
		const char *id = g_hash_table_lookup(ids, job->idem_key);
		const char *why = g_hash_table_lookup(errs, job->idem_key);
		if (id != NULL)
			made(h, job, pend[i], id, now, r);
		else if (why != NULL)
			result_set(r, CONN_PERMANENT, g_strdup(why));
		else
			result_set(r, CONN_RETRY, g_strdup("hubspot batch create: no result for this "
			    "input in the answer"));
	}
	g_hash_table_unref(ids);
	g_hash_table_unref(errs);
}

/* One batch create of pend[0..n). */
static void
create(hubspot *h, const spool_job *const *jobs, pending **pend, guint n, gint64 now,
    conn_result *results)
{
	GString *body = g_string_new("{\"inputs\":[");
	conn_result r = { CONN_OK, -1, NULL, FALSE };
	JsonNode *ans;
	long status = 0;

	for (guint i = 0; i < n; i++)
		g_string_append_printf(body, "%s%s", i > 0 ? "," : "", pend[i]->input);
	g_string_append(body, "]}");
	ans = hs_call(h, "POST", "/crm/v3/objects/emails/batch/create", body->str,
	    "hubspot batch create", now, &status, &r);
	g_string_free(body, TRUE);
	if (ans != NULL) {
		map_answer(h, jobs, pend, n, json_node_get_object(ans), now, results);
		json_node_unref(ans);
	} else if ((status == 400 || status == 413) && n > 1) {
		/* without multi-status one bad input fails them all: one by one */
		for (guint i = 0; i < n; i++)
			create(h, jobs, &pend[i], 1, now, results);
	} else {
		for (guint i = 0; i < n; i++)
			result_copy(&results[pend[i]->idx], &r);
	}
	conn_result_clear(&r);
}

/* Ready job i: done already (record or search), or a pending create
 * (attachments uploaded). */
static pending *
prepare(hubspot *h, const spool_job *job, guint i, gint64 now, conn_result *res)
{
	GError *e = NULL;
	char *id = h->db != NULL ? crm_record_get(h->db, h->profile->name, job->idem_key, NULL, &e) : NULL;
	char *ts, *files = NULL;
	activity *act;
	pending *p;

	if (e != NULL || id != NULL) {
		/* made by an earlier attempt, or the database is busy */
		result_set(res, e != NULL ? CONN_RETRY : CONN_OK,
		    e != NULL ? g_strdup_printf("hubspot: %s", e->message) : NULL);
		g_clear_error(&e);
		g_free(id);
		return NULL;
	}
	if ((act = jobdata_activity(h->db, job, h->max_body, TRUE, NULL, res)) == NULL)
		return NULL;
	p = g_new0(pending, 1);
	p->idx = i;
	p->message_id = g_strdup(act->message_id);
	p->date = act->date > 0 ? act->date : job->created_at;
	if (g_strcmp0(act->direction, "inbound") == 0)
		p->corr = g_strdup(act->corr_message_id);
	ts = hs_email_timestamp(act, job->idem_key, job->created_at);
	if (job->attempts > 1) {
		const char *dir = g_strcmp0(act->direction, "inbound") == 0 ? "INCOMING_EMAIL" : "EMAIL";
		int found = find_existing(h, act, dir, job->idem_key, ts, now, &id, res);
		if (found == 1)
			made(h, job, p, id, now, res);
		if (found == 1 && res->status == CONN_OK)
			push_reply(h, p, now);
		if (found != 0)
			g_clear_pointer(&p, pending_free);
		g_free(id);
	}
	if (p != NULL) {
		conn_result r = { CONN_OK, -1, NULL, FALSE };
		files = hs_upload_attachments(h, job, act, now, &r);
		if (r.status != CONN_OK) {
			result_copy(res, &r);
			g_clear_pointer(&p, pending_free);
		} else {
			p->input = hs_email_input(h, act, job->idem_key, job->created_at, files, &id);
			g_free(id);
		}
		conn_result_clear(&r);
	}
	g_free(files);
	g_free(ts);
	activity_free(act);
	return p;
}

/* save_batch: results[i] for jobs[i]. */
void
hs_save_batch(void *state, const spool_job *const *jobs, guint n, gint64 now, conn_result *results)
{
	hubspot *h = state;
	GPtrArray *todo = g_ptr_array_new_with_free_func(pending_free);
	guint start = 0;

	for (guint i = 0; i < n; i++) {
		pending *p = prepare(h, jobs[i], i, now, &results[i]);
		if (p != NULL)
			g_ptr_array_add(todo, p);
	}
	while (start < todo->len) {
		gsize size = INPUTS_OVERHEAD;
		guint count = 0;
		while (start + count < todo->len && count < h->batch) {
			gsize more = strlen(((pending *)g_ptr_array_index(todo, start + count))->input) + 1;
			if (count > 0 && size + more > h->max_request)
				break;
			size += more;
			count++;
		}
		create(h, jobs, (pending **)&todo->pdata[start], count, now, results);
		start += count;
	}
	/* replies last: the sent message may be in this very batch */
	for (guint i = 0; i < todo->len; i++) {
		const pending *p = g_ptr_array_index(todo, i);
		if (results[p->idx].status == CONN_OK)
			push_reply(h, p, now);
	}
	g_ptr_array_unref(todo);
}

/* save_activity: a batch of one. */
void
hs_save_activity(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	const spool_job *jobs[1] = { job };

	hs_save_batch(state, jobs, 1, now, res);
}

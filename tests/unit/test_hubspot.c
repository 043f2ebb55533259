/*
 * test_hubspot.c - the hubspot connector (core/crm/hubspot*.c) against an
 * HTTP server on 127.0.0.1: the exact batch create request (path, bearer
 * token, every property, hs_email_headers, associations from the directory
 * and the regarding record, objectWriteTraceId), direction per activity,
 * de-duplication (the ledger first; a retried job searches before it
 * creates, also after an answer lost in transit), 401 dead without a
 * refresh (unless the token file changed), 429 with Retry-After or the
 * policy in the body, 5xx retried, 4xx dead with HubSpot's message, a 207
 * mapped per job, a refused batch split, batches cut to batch_size,
 * attachments uploaded once each.
 * Rollups, directory sync and the token file: test_hubspot_sync.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "crm/limiter.h"
#include "crm/records.h"
#include "directory.h"
#include "testutil.h"
#include "test_hubspot.h"

#define TS "1795348800269"    /* HS_DATE in ms + fingerprint of HS_IDEM */

static const char message[] =
    "From: Alice Example <alice@example.com>\r\nTo: Bob <bob@customer.test>\r\n"
    "Cc: carol@acme.test, erin@customer.test\r\nSubject: Quote for Q3\r\n"
    "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <q3.1@example.com>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nHello Bob\r\n--b\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello Bob</p>\r\n--b--\r\n";

/* Fixture: server, database, token file, profile, connector. */
int
hs_setup(void **state)
{
	hs_fixture *f = g_new0(hs_fixture, 1);
	char *db_path;

	f->srv = test_http_start();
	f->dir = testutil_tmpdir();
	db_path = g_build_filename(f->dir, "spool.db", NULL);
	f->db = db_open(db_path, 1000, NULL);
	assert_non_null(f->db);
	g_free(db_path);
	f->token_path = g_build_filename(f->dir, "hubspot.token", NULL);
	assert_true(g_file_set_contents(f->token_path, HS_TOKEN "\n", -1, NULL));
	assert_int_equal(chmod(f->token_path, 0600), 0);
	f->lim = limiter_new(0);
	f->rollups = g_ptr_array_new_with_free_func(g_free);
	f->prof.name = "hs";
	f->prof.type = "hubspot";
	f->prof.url = f->srv->base;
	f->prof.token_file = f->token_path;
	f->prof.timeout = 2;
	f->prof.connect_timeout = 2;
	f->prof.max_response_size = 1024 * 1024;
	f->prof.max_body_size = 64 * 1024;
	f->prof.max_concurrent = 1;
	f->prof.rollup_fields = f->rollups;
	f->env.profile = &f->prof;
	f->env.db = f->db;
	f->env.limiter = f->lim;
	f->c = connector_open(&f->env, NULL);
	assert_non_null(f->c);
	*state = f;
	return 0;
}

/* Stop everything. */
int
hs_teardown(void **state)
{
	hs_fixture *f = *state;

	connector_close(f->c);
	test_http_stop(f->srv);
	db_close(f->db);
	limiter_free(f->lim);
	g_ptr_array_unref(f->rollups);
	testutil_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->token_path);
	g_free(f);
	return 0;
}

/* Open the connector again. */
void
hs_reopen(hs_fixture *f)
{
	connector_close(f->c);
	f->c = connector_open(&f->env, NULL);
	assert_non_null(f->c);
}

/* A save job of the test message. */
spool_job *
hs_job(const char *direction, const char *idem, const char *meta, int attempts)
{
	spool_job *j = g_new0(spool_job, 1);

	j->id = 7;
	j->kind = JOB_SAVE;
	j->profile = g_strdup("hs");
	j->idem_key = g_strdup(idem);
	j->direction = g_strdup(direction);
	j->rcpts = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(j->rcpts, g_strdup("bob@customer.test"));
	g_ptr_array_add(j->rcpts, g_strdup("carol@acme.test"));
	g_ptr_array_add(j->rcpts, g_strdup("erin@customer.test"));
	g_ptr_array_add(j->rcpts, g_strdup("dave@other.test"));
	j->payload = g_bytes_new_static(message, sizeof(message) - 1);
	j->meta = g_strdup(meta);
	j->attempts = attempts;
	j->created_at = HS_DATE + 60;
	return j;
}

/* An event job. */
spool_job *
hs_event_job(const char *idem, const char *meta)
{
	spool_job *j = g_new0(spool_job, 1);

	j->id = 9;
	j->kind = JOB_EVENT;
	j->profile = g_strdup("hs");
	j->idem_key = g_strdup(idem);
	j->meta = g_strdup(meta);
	j->attempts = 1;
	return j;
}

/* Free a job made here. */
void
hs_job_free(spool_job *j)
{
	g_free(j->profile);
	g_free(j->idem_key);
	g_free(j->direction);
	if (j->rcpts != NULL)
		g_ptr_array_unref(j->rcpts);
	if (j->payload != NULL)
		g_bytes_unref(j->payload);
	g_free(j->meta);
	g_free(j);
}

/* Queue an answer (strings must outlive the request). */
void
hs_answer(hs_fixture *f, unsigned status, const char *headers, const char *body)
{
	test_answer a = { status, headers, body, 0 };

	test_http_push(f->srv, &a);
}

/* "METHOD PATH[?QUERY]" of request i. */
char *
hs_request_line(hs_fixture *f, guint i)
{
	const char *entry;

	assert_true(i < f->srv->log->len);
	entry = g_ptr_array_index(f->srv->log, i);
	return g_strndup(entry, strcspn(entry, "\n"));
}

/* The JSON body of request i. */
JsonParser *
hs_request(hs_fixture *f, guint i)
{
	JsonParser *p = json_parser_new();
	const char *entry;

	assert_true(i < f->srv->log->len);
	entry = g_ptr_array_index(f->srv->log, i);
	assert_true(json_parser_load_from_data(p, strchr(entry, '\n') + 1, -1, NULL));
	return p;
}

/* The test directory. */
void
hs_seed_directory(hs_fixture *f)
{
	static const directory_entry rows[] = {
		{ "alice@example.com", DIRREC_USER, "55", "Alice Example", FALSE, 0 },
		{ "bob@customer.test", DIRREC_CONTACT, "601", "Bob Builder", FALSE, 0 },
		{ "carol@acme.test", DIRREC_ACCOUNT, "900", "Acme", FALSE, 0 },
		{ "erin@customer.test", DIRREC_CONTACT, "CSV-1", "Erin", FALSE, 0 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++)
		assert_true(directory_upsert(f->db, &rows[i], 1000, NULL));
}

/* The properties object of input 0 of request i's batch. */
static JsonObject *
input0(JsonParser *p)
{
	JsonObject *root = json_node_get_object(json_parser_get_root(p));
	JsonArray *inputs = json_object_get_array_member(root, "inputs");

	assert_int_equal(json_array_get_length(inputs), 1);
	return json_array_get_object_element(inputs, 0);
}

/* Order strings in a GPtrArray. */
static gint
by_text(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* The associations of an input as "typeId:id" joined by spaces, sorted. */
static char *
assoc_text(JsonObject *input)
{
	JsonArray *a = json_object_get_array_member(input, "associations");
	GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
	char *out;

	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		JsonObject *t = json_array_get_object_element(json_object_get_array_member(o, "types"), 0);
		assert_string_equal(json_object_get_string_member(t, "associationCategory"), "HUBSPOT_DEFINED");
		g_ptr_array_add(items, g_strdup_printf("%" G_GINT64_FORMAT ":%s",
		    json_object_get_int_member(t, "associationTypeId"),
		    json_object_get_string_member(json_object_get_object_member(o, "to"), "id")));
	}
	g_ptr_array_sort(items, by_text);
	g_ptr_array_add(items, NULL);
	out = g_strjoinv(" ", (char **)items->pdata);
	g_ptr_array_unref(items);
	return out;
}

/* One created email in a batch answer. */
#define CREATED(id, trace) "{\"status\":\"COMPLETE\",\"results\":[{\"id\":\"" id "\"," \
	"\"objectWriteTraceId\":\"" trace "\",\"properties\":{}}],\"startedAt\":\"x\",\"completedAt\":\"x\"}"

/* The request: path, headers, every property, headers JSON, associations,
 * trace id; the record remembered. */
static void
test_request_shape(void **state)
{
	hs_fixture *f = *state;
	spool_job *j = hs_job("outbound", HS_IDEM, "{\"regarding\":\"deal:77\"}", 1);
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	char *rec, *line, *assoc;

	hs_seed_directory(f);
	hs_answer(f, 201, NULL, CREATED("5001", HS_IDEM));
	connector_save(f->c, j, 2000000000, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 1);
	line = hs_request_line(f, 0);
	assert_string_equal(line, "POST /crm/v3/objects/emails/batch/create");
	assert_string_equal(test_http_header(f->srv, "authorization"), "Bearer " HS_TOKEN);
	assert_string_equal(test_http_header(f->srv, "content-type"), "application/json");
	JsonParser *p = hs_request(f, 0);
	JsonObject *in = input0(p), *props = json_object_get_object_member(in, "properties");
	assert_string_equal(json_object_get_string_member(in, "objectWriteTraceId"), HS_IDEM);
	assert_string_equal(json_object_get_string_member(props, "hs_timestamp"), TS);
	assert_string_equal(json_object_get_string_member(props, "hs_email_direction"), "EMAIL");
	assert_string_equal(json_object_get_string_member(props, "hs_email_status"), "SENT");
	assert_string_equal(json_object_get_string_member(props, "hs_email_subject"), "Quote for Q3");
	assert_string_equal(json_object_get_string_member(props, "hs_email_text"), "Hello Bob");
	assert_string_equal(json_object_get_string_member(props, "hs_email_html"), "<p>Hello Bob</p>");
	assert_string_equal(json_object_get_string_member(props, "hubspot_owner_id"), "55");
	assert_int_equal(json_object_get_size(props), 8);
	/* hs_email_headers: a JSON string; bare addresses, names split */
	JsonParser *hp = json_parser_new();
	assert_true(json_parser_load_from_data(hp, json_object_get_string_member(props, "hs_email_headers"),
	    -1, NULL));
	JsonObject *h = json_node_get_object(json_parser_get_root(hp));
	JsonObject *from = json_object_get_object_member(h, "from");
	assert_string_equal(json_object_get_string_member(from, "email"), "alice@example.com");
	assert_string_equal(json_object_get_string_member(from, "firstName"), "Alice");
	assert_string_equal(json_object_get_string_member(from, "lastName"), "Example");
	JsonObject *to0 = json_array_get_object_element(json_object_get_array_member(h, "to"), 0);
	assert_string_equal(json_object_get_string_member(to0, "email"), "bob@customer.test");
	assert_string_equal(json_object_get_string_member(to0, "firstName"), "Bob");
	assert_string_equal(json_object_get_string_member(to0, "lastName"), "Builder");
	JsonArray *cc = json_object_get_array_member(h, "cc");
	assert_int_equal(json_array_get_length(cc), 2);
	assert_string_equal(json_object_get_string_member(json_array_get_object_element(cc, 0), "email"),
	    "carol@acme.test");
	JsonArray *bcc = json_object_get_array_member(h, "bcc");
	assert_int_equal(json_array_get_length(bcc), 1);
	JsonObject *dave = json_array_get_object_element(bcc, 0);
	assert_string_equal(json_object_get_string_member(dave, "email"), "dave@other.test");
	assert_false(json_object_has_member(dave, "firstName"));   /* unresolved: address only */
	/* contact bob, company carol (account), the regarding deal; erin's id is not HubSpot's */
	assoc = assoc_text(in);
	assert_string_equal(assoc, "186:900 198:601 210:77");
	rec = crm_record_get(f->db, "hs", HS_IDEM, NULL, NULL);
	assert_string_equal(rec, "5001");
	assert_null(crm_record_by_message(f->db, "hs", "other@x", NULL));
	char *by_mid = crm_record_by_message(f->db, "hs", HS_MID, NULL);
	assert_string_equal(by_mid, "5001");
	g_free(by_mid);
	g_free(rec);
	g_free(assoc);
	g_free(line);
	g_object_unref(hp);
	g_object_unref(p);
	conn_result_clear(&res);
	hs_job_free(j);
}

/* Direction, and who the owner is, per activity direction. */
static void
test_direction(void **state)
{
	static const struct {
		const char *direction, *want, *owner;
	} cases[] = {
		{ "outbound", "EMAIL", "55" },          /* the sender is the owner */
		{ "internal", "EMAIL", "55" },
		{ "inbound", "INCOMING_EMAIL", NULL },  /* no owner among the recipients */
	};
	hs_fixture *f = *state;

	hs_seed_directory(f);
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *idem = g_strdup_printf("hs/dir/%zu", i);
		spool_job *j = hs_job(cases[i].direction, idem, NULL, 1);
		conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
		char *answer = g_strdup_printf("{\"results\":[{\"id\":\"%zu\",\"objectWriteTraceId\":\"%s\"}]}",
		    600 + i, idem);

		hs_answer(f, 201, NULL, answer);
		connector_save(f->c, j, 2000000000, &res);
		assert_int_equal(res.status, CONN_OK);
		JsonParser *p = hs_request(f, (guint)i);
		JsonObject *props = json_object_get_object_member(input0(p), "properties");
		assert_string_equal(json_object_get_string_member(props, "hs_email_direction"), cases[i].want);
		if (cases[i].owner != NULL)
			assert_string_equal(json_object_get_string_member(props, "hubspot_owner_id"), cases[i].owner);
		else
			assert_false(json_object_has_member(props, "hubspot_owner_id"));
		g_object_unref(p);
		g_free(answer);
		g_free(idem);
		conn_result_clear(&res);
		hs_job_free(j);
	}
}

/* A job whose record the ledger has makes no request at all. */
static void
test_dedupe_ledger(void **state)
{
	hs_fixture *f = *state;
	spool_job *j = hs_job("outbound", HS_IDEM, NULL, 3);
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };

	assert_true(crm_record_put(f->db, "hs", HS_IDEM, HS_MID, "email", "5001", 100, NULL));
	connector_save(f->c, j, 2000000000, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 0);
	hs_job_free(j);
}

#define FOUND(subject) "{\"total\":1,\"results\":[{\"id\":\"4242\",\"properties\":{\"hs_timestamp\":\"" TS \
	"\",\"hs_email_subject\":\"" subject "\",\"hs_email_headers\":\"{\\\"from\\\":{\\\"email\\\":" \
	"\\\"Alice@Example.com\\\"},\\\"to\\\":[]}\"}}]}"

/* A retried job searches first: found -> no create; another email -> create;
 * the search failing -> try later, nothing created. */
static void
test_dedupe_search(void **state)
{
	static const struct {
		const char *label;
		unsigned search_status;
		const char *search_body;
		conn_status want;
		int requests;
		const char *record;
	} cases[] = {
		{ "the earlier attempt's email", 200, FOUND("Quote for Q3"), CONN_OK, 1, "4242" },
		{ "only another email", 200, FOUND("Something else"), CONN_OK, 2, "5001" },
		{ "nothing", 200, "{\"total\":0,\"results\":[]}", CONN_OK, 2, "5001" },
		{ "search unavailable", 503, "{\"status\":\"error\",\"message\":\"down\"}", CONN_RETRY, 1, NULL },
	};
	hs_fixture *f = *state;

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		spool_job *j = hs_job("outbound", HS_IDEM, NULL, 2);
		conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
		int before = f->srv->requests;
		char *rec, *line;

		assert_true(db_exec(f->db, "DELETE FROM crm_records", NULL));
		hs_answer(f, cases[i].search_status, NULL, cases[i].search_body);
		hs_answer(f, 201, NULL, CREATED("5001", HS_IDEM));
		connector_save(f->c, j, 2000000000, &res);
		print_message("dedupe: %s\n", cases[i].label);
		assert_int_equal(res.status, cases[i].want);
		assert_int_equal(f->srv->requests - before, cases[i].requests);
		line = hs_request_line(f, (guint)before);
		assert_string_equal(line, "POST /crm/v3/objects/emails/search");
		JsonParser *p = hs_request(f, (guint)before);
		JsonObject *root = json_node_get_object(json_parser_get_root(p));
		JsonArray *filters = json_object_get_array_member(json_array_get_object_element(
		    json_object_get_array_member(root, "filterGroups"), 0), "filters");
		JsonObject *f0 = json_array_get_object_element(filters, 0), *f1 = json_array_get_object_element(filters, 1);
		assert_string_equal(json_object_get_string_member(f0, "propertyName"), "hs_timestamp");
		assert_string_equal(json_object_get_string_member(f0, "operator"), "EQ");
		assert_string_equal(json_object_get_string_member(f0, "value"), TS);
		assert_string_equal(json_object_get_string_member(f1, "propertyName"), "hs_email_direction");
		assert_string_equal(json_object_get_string_member(f1, "value"), "EMAIL");
		rec = crm_record_get(f->db, "hs", HS_IDEM, NULL, NULL);
		assert_string_equal(rec != NULL ? rec : "(none)", cases[i].record != NULL ? cases[i].record : "(none)");
		/* drop answers a case left unused */
		while (g_queue_get_length(f->srv->queue) > 0)
			g_free(g_queue_pop_head(f->srv->queue));
		g_free(rec);
		g_free(line);
		g_object_unref(p);
		conn_result_clear(&res);
		hs_job_free(j);
	}
}

/* HubSpot stored the email but the answer was lost (timeout), the flusher
 * retries: the search finds it, no second create. */
static void
test_crash_after_create(void **state)
{
	hs_fixture *f = *state;
	spool_job *j = hs_job("outbound", HS_IDEM, NULL, 1);
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	test_answer slow = { 201, NULL, CREATED("5001", HS_IDEM), 3000 };
	int creates = 0;
	char *rec;

	test_http_push(f->srv, &slow);
	connector_save(f->c, j, 2000000000, &res);
	assert_int_equal(res.status, CONN_RETRY);          /* timed out: the answer is lost */
	assert_null(crm_record_get(f->db, "hs", HS_IDEM, NULL, NULL));
	conn_result_clear(&res);
	j->attempts = 2;
	hs_answer(f, 200, NULL, "{\"total\":1,\"results\":[{\"id\":\"5001\",\"properties\":{\"hs_timestamp\":\""
	    TS "\",\"hs_email_subject\":\"Quote for Q3\",\"hs_email_headers\":\"{\\\"from\\\":{\\\"email\\\":"
	    "\\\"alice@example.com\\\"}}\"}}]}");
	connector_save(f->c, j, 2000000000, &res);
	assert_int_equal(res.status, CONN_OK);
	for (guint i = 0; i < f->srv->log->len; i++)
		creates += g_str_has_prefix(g_ptr_array_index(f->srv->log, i),
		    "POST /crm/v3/objects/emails/batch/create\n");
	assert_int_equal(creates, 1);
	rec = crm_record_get(f->db, "hs", HS_IDEM, NULL, NULL);
	assert_string_equal(rec, "5001");
	g_free(rec);
	hs_job_free(j);
}

#define AUTH_ERR "{\"status\":\"error\",\"message\":\"Authentication credentials not found.\"," \
	"\"correlationId\":\"c0\",\"category\":\"INVALID_AUTHENTICATION\"}"

/* 401: dead with HubSpot's words, no refresh; a token file that changed
 * meanwhile is read once and used. */
static void
test_unauthorized(void **state)
{
	hs_fixture *f = *state;
	spool_job *j = hs_job("outbound", HS_IDEM, NULL, 1);
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };

	hs_answer(f, 401, NULL, AUTH_ERR);
	connector_save(f->c, j, 2000000000, &res);
	assert_int_equal(res.status, CONN_PERMANENT);
	assert_int_equal(f->srv->requests, 1);
	assert_non_null(strstr(res.error, "INVALID_AUTHENTICATION: Authentication credentials not found."));
	assert_non_null(strstr(res.error, f->token_path));
	conn_result_clear(&res);
	assert_true(g_file_set_contents(f->token_path, "pat-na1-rotated\n", -1, NULL));
	assert_int_equal(chmod(f->token_path, 0600), 0);
	hs_answer(f, 401, NULL, AUTH_ERR);
	hs_answer(f, 201, NULL, CREATED("5001", HS_IDEM));
	connector_save(f->c, j, 2000000000, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 3);
	assert_string_equal(test_http_header(f->srv, "authorization"), "Bearer pat-na1-rotated");
	hs_job_free(j);
}

/* Every kind of answer mapped to done / retry (when) / dead. */
static void
test_answers(void **state)
{
	static const struct {
		const char *label;
		unsigned status;
		const char *headers, *body;
		conn_status want;
		int retry_min, retry_max;
		const char *error_has;
		gboolean paused;
	} cases[] = {
		{ "429 Retry-After", 429, "Retry-After: 7\n", "{\"status\":\"error\",\"message\":\"x\"}",
		    CONN_RETRY, 7, 7, "HTTP 429", TRUE },
		{ "429 ten-secondly", 429, NULL, "{\"status\":\"error\",\"message\":\"You have reached your "
		    "ten_secondly_rolling limit.\",\"errorType\":\"RATE_LIMIT\",\"policyName\":\"TEN_SECONDLY_ROLLING\"}",
		    CONN_RETRY, 10, 10, "TEN_SECONDLY_ROLLING", TRUE },
		{ "429 daily", 429, NULL, "{\"status\":\"error\",\"message\":\"You have reached your daily limit.\","
		    "\"policyName\":\"DAILY\"}", CONN_RETRY, 1, 86400, "daily limit", TRUE },
		{ "503", 503, NULL, "{\"status\":\"error\",\"message\":\"Service Unavailable\"}", CONN_RETRY, -1, -1,
		    "HTTP 503", FALSE },
		{ "500", 500, NULL, "{\"status\":\"error\",\"message\":\"internal error\",\"category\":"
		    "\"INTERNAL_ERROR\"}", CONN_RETRY, -1, -1, "INTERNAL_ERROR: internal error", FALSE },
		{ "400", 400, NULL, "{\"status\":\"error\",\"message\":\"Property values were not valid: "
		    "hs_email_status\",\"correlationId\":\"c1\",\"category\":\"VALIDATION_ERROR\"}", CONN_PERMANENT,
		    -1, -1, "HTTP 400 VALIDATION_ERROR: Property values were not valid", FALSE },
		{ "403", 403, NULL, "{\"status\":\"error\",\"message\":\"This app hasn't been granted all required "
		    "scopes\",\"category\":\"MISSING_SCOPES\"}", CONN_PERMANENT, -1, -1, "MISSING_SCOPES", FALSE },
		{ "2xx not JSON", 201, NULL, "<html>", CONN_RETRY, -1, -1, "not a JSON object", FALSE },
	};
	hs_fixture *f = *state;

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		spool_job *j = hs_job("outbound", HS_IDEM, NULL, 1);
		conn_result res = { CONN_OK, -1, NULL, FALSE };
		crm_limiter *lim = limiter_new(0);

		/* a limiter of its own: a pause must not hold up the next case */
		f->env.limiter = lim;
		hs_reopen(f);
		hs_answer(f, cases[i].status, cases[i].headers, cases[i].body);
		connector_save(f->c, j, 2000000000, &res);
		print_message("answer: %s -> %s\n", cases[i].label, res.error != NULL ? res.error : "ok");
		assert_int_equal(res.status, cases[i].want);
		assert_in_range(res.retry_after, cases[i].retry_min, cases[i].retry_max);
		assert_non_null(strstr(res.error, cases[i].error_has));
		assert_int_equal(limiter_paused_for(lim) > 0, cases[i].paused);
		assert_null(crm_record_get(f->db, "hs", HS_IDEM, NULL, NULL));
		connector_close(f->c);
		f->c = NULL;
		f->env.limiter = f->lim;
		hs_reopen(f);
		limiter_free(lim);
		conn_result_clear(&res);
		hs_job_free(j);
	}
}

/* A 207: results and errors mapped to their jobs by objectWriteTraceId; a
 * job the answer forgot is retried. */
static void
test_batch_207(void **state)
{
	hs_fixture *f = *state;
	const char *idem[] = { "hs/b/0", "hs/b/1", "hs/b/2", "hs/b/3" };
	spool_job *jobs[4];
	conn_result res[4];
	char *rec;

	for (int i = 0; i < 4; i++)
		jobs[i] = hs_job("outbound", idem[i], NULL, 1);
	hs_answer(f, 207, NULL, "{\"status\":\"COMPLETE\",\"results\":["
	    "{\"id\":\"7002\",\"objectWriteTraceId\":\"hs/b/2\"},{\"id\":\"7000\",\"objectWriteTraceId\":\"hs/b/0\"}],"
	    "\"numErrors\":1,\"errors\":[{\"status\":\"error\",\"category\":\"VALIDATION_ERROR\",\"message\":"
	    "\"Property values were not valid\",\"context\":{\"objectWriteTraceId\":[\"hs/b/1\"]}}]}");
	connector_save_batch(f->c, (const spool_job *const *)jobs, 4, 2000000000, res);
	assert_int_equal(f->srv->requests, 1);
	JsonParser *p = hs_request(f, 0);
	JsonArray *inputs = json_object_get_array_member(json_node_get_object(json_parser_get_root(p)), "inputs");
	assert_int_equal(json_array_get_length(inputs), 4);
	for (guint i = 0; i < 4; i++)
		assert_string_equal(json_object_get_string_member(json_array_get_object_element(inputs, i),
		    "objectWriteTraceId"), idem[i]);
	assert_int_equal(res[0].status, CONN_OK);
	assert_int_equal(res[1].status, CONN_PERMANENT);
	assert_string_equal(res[1].error, "hubspot batch create: VALIDATION_ERROR: Property values were not valid");
	assert_int_equal(res[2].status, CONN_OK);
	assert_int_equal(res[3].status, CONN_RETRY);
	rec = crm_record_get(f->db, "hs", "hs/b/2", NULL, NULL);
	assert_string_equal(rec, "7002");
	g_free(rec);
	assert_null(crm_record_get(f->db, "hs", "hs/b/1", NULL, NULL));
	g_object_unref(p);
	for (int i = 0; i < 4; i++) {
		conn_result_clear(&res[i]);
		hs_job_free(jobs[i]);
	}
}

/* A whole batch refused (400): one request per job, so only the bad one dies. */
static void
test_batch_split(void **state)
{
	hs_fixture *f = *state;
	spool_job *jobs[2] = { hs_job("outbound", "hs/s/0", NULL, 1), hs_job("outbound", "hs/s/1", NULL, 1) };
	conn_result res[2];

	hs_answer(f, 400, NULL, "{\"status\":\"error\",\"message\":\"bad input\",\"category\":\"VALIDATION_ERROR\"}");
	hs_answer(f, 201, NULL, CREATED("8000", "hs/s/0"));
	hs_answer(f, 400, NULL, "{\"status\":\"error\",\"message\":\"bad input\",\"category\":\"VALIDATION_ERROR\"}");
	connector_save_batch(f->c, (const spool_job *const *)jobs, 2, 2000000000, res);
	assert_int_equal(f->srv->requests, 3);
	assert_int_equal(res[0].status, CONN_OK);
	assert_int_equal(res[1].status, CONN_PERMANENT);
	assert_non_null(strstr(res[1].error, "VALIDATION_ERROR: bad input"));
	for (int i = 0; i < 2; i++) {
		conn_result_clear(&res[i]);
		hs_job_free(jobs[i]);
	}
}

static const char with_pdf[] =
    "From: Alice Example <alice@example.com>\r\nTo: Bob <bob@customer.test>\r\nSubject: Quote\r\n"
    "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <q3.1@example.com>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the quote.\r\n"
    "--b\r\nContent-Type: application/pdf; name=quote.pdf\r\nContent-Disposition: attachment; filename=\"q\\\"uote.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOf\r\n--b\r\n"
    "Content-Type: image/x-weird; name=logo.xyz\r\nContent-Disposition: attachment; filename=logo.xyz\r\n\r\n"
    "LOGO\r\n--b--\r\n";

/* Attachments: uploaded to the file manager (multipart: file, options,
 * folderPath), their ids in hs_attachment_ids; a file HubSpot refuses is
 * left out; a retried job uploads nothing twice. */
static void
test_attachments(void **state)
{
	hs_fixture *f = *state;
	spool_job *j = hs_job("outbound", HS_IDEM, NULL, 1);
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	const char *entry;
	char *line;

	g_bytes_unref(j->payload);
	j->payload = g_bytes_new_static(with_pdf, sizeof(with_pdf) - 1);
	hs_answer(f, 201, NULL, "{\"id\":\"9001\",\"name\":\"quote\",\"extension\":\"pdf\",\"access\":\"PRIVATE\"}");
	hs_answer(f, 415, NULL, "{\"status\":\"error\",\"message\":\"unsupported file type\",\"category\":"
	    "\"VALIDATION_ERROR\"}");
	hs_answer(f, 500, NULL, "{\"status\":\"error\",\"message\":\"internal error\"}");
	connector_save(f->c, j, 2000000000, &res);
	assert_int_equal(res.status, CONN_RETRY);          /* the create failed */
	assert_int_equal(f->srv->requests, 3);
	line = hs_request_line(f, 0);
	assert_string_equal(line, "POST /files/v3/files");
	g_free(line);
	entry = g_ptr_array_index(f->srv->log, 0);
	assert_non_null(strstr(entry, "Content-Disposition: form-data; name=\"file\"; filename=\"q_uote.pdf\"\r\n"
	    "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"));
	assert_non_null(strstr(entry, "name=\"options\"\r\n\r\n{\"access\":\"PRIVATE\"}\r\n"));
	assert_non_null(strstr(entry, "name=\"folderPath\"\r\n\r\n/crm-milter\r\n"));
	conn_result_clear(&res);
	/* the retry: the pdf is known, the refused file is tried again */
	hs_answer(f, 415, NULL, "{\"status\":\"error\",\"message\":\"unsupported file type\"}");
	hs_answer(f, 201, NULL, CREATED("5001", HS_IDEM));
	j->attempts = 1;
	connector_save(f->c, j, 2000000000, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 5);
	line = hs_request_line(f, 3);
	assert_string_equal(line, "POST /files/v3/files");
	g_free(line);
	assert_string_equal(test_http_header(f->srv, "content-type"), "application/json");
	JsonParser *p = hs_request(f, 4);
	JsonObject *props = json_object_get_object_member(input0(p), "properties");
	assert_string_equal(json_object_get_string_member(props, "hs_attachment_ids"), "9001");
	g_object_unref(p);
	hs_job_free(j);
}

/* batch_size cuts batches (and caps at 100); the default is 100. */
static void
test_batch_size(void **state)
{
	hs_fixture *f = *state;
	spool_job *jobs[3];
	conn_result res[3];

	assert_int_equal(connector_batch_size(f->c), 100);
	f->prof.batch_size = 500;
	hs_reopen(f);
	assert_int_equal(connector_batch_size(f->c), 100);
	f->prof.batch_size = 2;
	hs_reopen(f);
	assert_int_equal(connector_batch_size(f->c), 2);
	for (int i = 0; i < 3; i++) {
		char *idem = g_strdup_printf("hs/z/%d", i);
		jobs[i] = hs_job("outbound", idem, NULL, 1);
		g_free(idem);
	}
	hs_answer(f, 201, NULL, "{\"results\":[{\"id\":\"1\",\"objectWriteTraceId\":\"hs/z/0\"},"
	    "{\"id\":\"2\",\"objectWriteTraceId\":\"hs/z/1\"}]}");
	hs_answer(f, 201, NULL, CREATED("3", "hs/z/2"));
	connector_save_batch(f->c, (const spool_job *const *)jobs, 3, 2000000000, res);
	assert_int_equal(f->srv->requests, 2);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(res[i].status, CONN_OK);
		conn_result_clear(&res[i]);
		hs_job_free(jobs[i]);
	}
	int workers;
	double rate;
	f->prof.max_concurrent = 0;
	connector_limits(&f->prof, &workers, &rate);
	assert_int_equal(workers, 4);
	assert_true(rate == 8.0);
}

/* Run every hubspot connector test. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_shape, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_direction, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_dedupe_ledger, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_dedupe_search, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_crash_after_create, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_unauthorized, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_answers, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_batch_207, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_batch_split, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_batch_size, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_attachments, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_rollup_mapped, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_rollup_note, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_bounce_sets_status, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_event_waits_for_email, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_reply_rolls_up, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_sync_full_then_incremental, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_sync_failures, hs_setup, hs_teardown),
		cmocka_unit_test_setup_teardown(test_token_file, hs_setup, hs_teardown),
	};

	return cmocka_run_group_tests_name("hubspot connector", tests, NULL, NULL);
}

/*
 * test_zoho.c - the zoho connector (core/crm/zoho*.c) against an HTTP
 * server on 127.0.0.1 (test_http_server.h): the associate_email request
 * field by field (path, Authorization: Zoho-oauthtoken, the Emails body),
 * the record chosen (regarding, else contact, else lead; none: dead with
 * the reason), no second record after a lost answer (the spool's record,
 * DUPLICATE_DATA), 401 -> one new token, 429 with and without Retry-After,
 * 5xx retried, 4xx dead with Zoho's words, attachments through the files
 * API (multipart; ids kept so a retry uploads nothing again), Zoho's
 * limits (content, subject, recipients, Message-ID), secret files open to
 * others refused, and one mint for two workers and a second run. The
 * rollup Notes, replies and the directory sync are in test_zoho_events.c
 * (its group runs from main here).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "test_zoho.h"
#include "testutil.h"

#define CONTACT_BOB "4150868000000000101"

static const char message[] =
    "From: Alice Example <alice@example.com>\r\nTo: Bob <bob@customer.test>\r\n"
    "Cc: carol@customer.test\r\nSubject: Our pricing\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <pricing.1@example.com>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nHello Bob\r\n--b\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello Bob</p>\r\n--b--\r\n";

static const char with_pdf[] =
    "From: Alice Example <alice@example.com>\r\nTo: Bob <bob@customer.test>\r\n"
    "Subject: The quote\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <quote.1@example.com>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nThe quote\r\n--b\r\n"
    "Content-Type: application/pdf; name=quote.pdf\r\nContent-Disposition: attachment; filename=quote.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOf\r\n--b--\r\n";

#define OK_201 "{\"Emails\":[{\"code\":\"SUCCESS\",\"details\":{\"message_id\":\"<x>\"}," \
	"\"message\":\"Email associated successfully.\",\"status\":\"success\"}]}"
#define TOKEN_OK(tok, dom) "{\"access_token\":\"" tok "\",\"scope\":\"ZohoCRM.modules.ALL\"," \
	"\"api_domain\":\"" dom "\",\"token_type\":\"Bearer\",\"expires_in\":3600}"

/* Emails[0] of the last request (parser in *p). */
static JsonObject *
last_email(zf *f, JsonParser **p)
{
	JsonObject *root;
	JsonArray *arr;

	*p = zf_json(f, &root);
	arr = json_object_get_array_member(root, "Emails");
	assert_int_equal(json_array_get_length(arr), 1);
	return json_array_get_object_element(arr, 0);
}

/* ------------------------------------------------------------ tests */

/* The request, field by field; the record kept; a second save sends nothing. */
static void
test_associate_request(void **state)
{
	zf *f = zf_new();
	spool_job *j = zf_job(JOB_SAVE, "z/pricing.1@example.com", "outbound", message, NULL);
	conn_result res = { 0 };
	JsonParser *p;
	JsonObject *e, *from;
	JsonArray *to, *cc;
	GList *keys;
	GString *names = g_string_new(NULL);
	char *type = NULL, *rec;

	(void)state;
	zf_contact(f, "bob@customer.test", DIRREC_CONTACT, CONTACT_BOB, "Bob Contact");
	zf_cache_token(f, "1000.cached", NULL);
	zf_push(f, 201, NULL, OK_201);
	assert_int_equal(zf_save(f, j, &res), CONN_OK);
	assert_string_equal(f->srv->method, "POST");
	assert_string_equal(f->srv->path, "/crm/v8/Contacts/" CONTACT_BOB "/actions/associate_email");
	assert_string_equal(test_http_header(f->srv, "authorization"), "Zoho-oauthtoken 1000.cached");
	assert_string_equal(test_http_header(f->srv, "content-type"), "application/json");
	e = last_email(f, &p);
	keys = g_list_sort(json_object_get_members(e), (GCompareFunc)strcmp);
	for (GList *k = keys; k != NULL; k = k->next)
		g_string_append_printf(names, "%s ", (char *)k->data);
	g_list_free(keys);
	assert_string_equal(names->str, "cc content date_time from mail_format original_message_id "
	    "sent subject to ");
	from = json_object_get_object_member(e, "from");
	assert_string_equal(json_object_get_string_member(from, "email"), "alice@example.com");
	assert_string_equal(json_object_get_string_member(from, "user_name"), "Alice Example");
	to = json_object_get_array_member(e, "to");
	assert_int_equal(json_array_get_length(to), 1);
	assert_string_equal(json_object_get_string_member(json_array_get_object_element(to, 0), "email"),
	    "bob@customer.test");
	assert_string_equal(json_object_get_string_member(json_array_get_object_element(to, 0), "user_name"),
	    "Bob Contact");
	cc = json_object_get_array_member(e, "cc");
	assert_string_equal(json_object_get_string_member(json_array_get_object_element(cc, 0), "email"),
	    "carol@customer.test");
	assert_false(json_object_has_member(json_array_get_object_element(cc, 0), "user_name"));
	assert_string_equal(json_object_get_string_member(e, "subject"), "Our pricing");
	assert_string_equal(json_object_get_string_member(e, "content"), "<p>Hello Bob</p>");
	assert_string_equal(json_object_get_string_member(e, "mail_format"), "html");
	assert_string_equal(json_object_get_string_member(e, "original_message_id"), "<pricing.1@example.com>");
	assert_true(json_object_get_boolean_member(e, "sent"));
	assert_string_equal(json_object_get_string_member(e, "date_time"), "2026-11-22T12:00:00+00:00");
	g_object_unref(p);
	rec = crm_record_get(f->db, "z", j->idem_key, &type, NULL);
	assert_string_equal(rec, "Contacts/" CONTACT_BOB);
	g_free(rec);
	g_free(type);
	rec = crm_record_by_message(f->db, "z", "pricing.1@example.com", NULL);
	assert_string_equal(rec, "Contacts/" CONTACT_BOB);
	g_free(rec);
	/* the same job again (a flusher died before the ack): nothing sent */
	conn_result_clear(&res);
	assert_int_equal(zf_save(f, j, &res), CONN_OK);
	assert_int_equal(f->srv->requests, 1);
	g_string_free(names, TRUE);
	zf_job_free(j);
	zf_free(f);
}

typedef struct {
	const char *label;
	const char *direction;
	const char *meta;
	const char *bob;          /* bob's directory type: contact, lead or NULL */
	const char *carol;
	const char *want_path;    /* NULL: dead */
	const char *want_error;
} target_case;

static const target_case targets[] = {
	{ "regarding lead wins over a contact", "outbound", "{\"regarding\":\"lead:4150868000000000777\"}",
	  "contact", NULL, "/crm/v8/Leads/4150868000000000777/actions/associate_email", NULL },
	{ "regarding deal", "outbound", "{\"regarding\":\"deal:4150868000000000888\"}", NULL, NULL,
	  "/crm/v8/Deals/4150868000000000888/actions/associate_email", NULL },
	{ "regarding contact", "outbound", "{\"regarding\":\"contact:12\"}", NULL, NULL,
	  "/crm/v8/Contacts/12/actions/associate_email", NULL },
	{ "regarding of another CRM's type is dead", "outbound", "{\"regarding\":\"opportunity:12\"}",
	  "contact", NULL, NULL, "regarding \"opportunity:12\"" },
	{ "regarding id that is no Zoho id is dead", "outbound", "{\"regarding\":\"lead:abc-1\"}",
	  NULL, NULL, NULL, "Zoho record id" },
	{ "recipient contact", "outbound", NULL, "contact", NULL,
	  "/crm/v8/Contacts/bob-id/actions/associate_email", NULL },
	{ "a contact anywhere beats a lead", "outbound", NULL, "lead", "contact",
	  "/crm/v8/Contacts/carol-id/actions/associate_email", NULL },
	{ "only a lead", "outbound", NULL, NULL, "lead", "/crm/v8/Leads/carol-id/actions/associate_email", NULL },
	{ "nobody known: dead with the reason", "outbound", NULL, NULL, NULL, NULL, "no Zoho record" },
};

/* The id a case gives an address ("bob-id" is not digits: made digits). */
static const char *
case_id(const char *who)
{
	return strcmp(who, "bob") == 0 ? "4150868000000000101" : "4150868000000000202";
}

/* The record each case chooses. */
static void
test_targets(void **state)
{
	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(targets); i++) {
		const target_case *c = &targets[i];
		zf *f = zf_new();
		spool_job *j = zf_job(JOB_SAVE, "z/t", c->direction, message, c->meta);
		conn_result res = { 0 };
		char *want = NULL;

		zf_cache_token(f, "1000.cached", NULL);
		if (c->bob != NULL)
			zf_contact(f, "bob@customer.test", strcmp(c->bob, "lead") == 0 ? DIRREC_LEAD : DIRREC_CONTACT,
			    case_id("bob"), NULL);
		if (c->carol != NULL)
			zf_contact(f, "carol@customer.test", strcmp(c->carol, "lead") == 0 ? DIRREC_LEAD :
			    DIRREC_CONTACT, case_id("carol"), NULL);
		zf_push(f, 201, NULL, OK_201);
		(void)zf_save(f, j, &res);
		if (c->want_path != NULL) {
			GString *w = g_string_new(c->want_path);
			g_string_replace(w, "bob-id", case_id("bob"), 0);
			g_string_replace(w, "carol-id", case_id("carol"), 0);
			want = g_string_free(w, FALSE);
			if (res.status != CONN_OK || f->srv->path == NULL || strcmp(f->srv->path, want) != 0)
				fail_msg("%s: status %d path %s error %s", c->label, res.status,
				    f->srv->path ? f->srv->path : "-", res.error ? res.error : "-");
		} else if (res.status != CONN_PERMANENT || f->srv->requests != 0 ||
		    strstr(res.error, c->want_error) == NULL) {
			fail_msg("%s: status %d requests %d error %s", c->label, res.status, f->srv->requests,
			    res.error ? res.error : "-");
		}
		g_free(want);
		conn_result_clear(&res);
		zf_job_free(j);
		zf_free(f);
	}
}

typedef struct {
	const char *label;
	unsigned status;
	const char *headers;
	const char *body;
	conn_status want;
	int want_retry_after;
	const char *want_error;
} answer_case;

static const answer_case answers[] = {
	{ "201 success", 201, NULL, OK_201, CONN_OK, -1, NULL },
	{ "200 success", 200, NULL, OK_201, CONN_OK, -1, NULL },
	{ "DUPLICATE_DATA: Zoho has it already", 400, NULL, "{\"Emails\":[{\"code\":\"DUPLICATE_DATA\","
	  "\"details\":{\"api_name\":\"original_message_id\"},\"message\":\"duplicate data\",\"status\":\"error\"}]}",
	  CONN_OK, -1, NULL },
	{ "429 with Retry-After", 429, "Retry-After: 7", "{\"code\":\"TOO_MANY_REQUESTS\",\"message\":\"x\","
	  "\"status\":\"error\",\"details\":{}}", CONN_RETRY, 7, "HTTP 429" },
	{ "429 with details.retry_after only", 429, NULL, "{\"code\":\"TOO_MANY_REQUESTS\",\"message\":\"x\","
	  "\"status\":\"error\",\"details\":{\"retry_after\":30}}", CONN_RETRY, 30, "TOO_MANY_REQUESTS" },
	{ "429 naming no wait: a minute", 429, NULL, "{\"code\":\"TOO_MANY_REQUESTS\",\"message\":\"x\","
	  "\"status\":\"error\",\"details\":{}}", CONN_RETRY, 60, "TOO_MANY_REQUESTS" },
	{ "500 retries", 500, NULL, "{\"code\":\"INTERNAL_ERROR\",\"message\":\"Internal Server Error\","
	  "\"status\":\"error\",\"details\":{}}", CONN_RETRY, -1, "INTERNAL_ERROR" },
	{ "503 retries", 503, NULL, "", CONN_RETRY, -1, "HTTP 503" },
	{ "bad record: dead with Zoho's words", 400, NULL, "{\"code\":\"INVALID_DATA\",\"message\":"
	  "\"the related id given seems to be invalid\",\"status\":\"error\",\"details\":{}}", CONN_PERMANENT, -1,
	  "the related id given seems to be invalid" },
	{ "bad module is dead", 404, NULL, "{\"code\":\"INVALID_MODULE\",\"details\":{\"resource_path_index\":0},"
	  "\"message\":\"the module name given seems to be invalid\",\"status\":\"error\"}", CONN_PERMANENT, -1,
	  "INVALID_MODULE" },
	{ "no permission is dead", 403, NULL, "{\"code\":\"NO_PERMISSION\",\"message\":\"permission denied\","
	  "\"status\":\"error\",\"details\":{\"permissions\":[\"Crm_Implied_Send_Email\"]}}", CONN_PERMANENT, -1,
	  "NO_PERMISSION" },
	{ "2xx with an error item is dead", 200, NULL, "{\"Emails\":[{\"code\":\"INVALID_DATA\",\"details\":{},"
	  "\"message\":\"invalid data\",\"status\":\"error\"}]}", CONN_PERMANENT, -1, "INVALID_DATA: invalid data" },
	{ "scope mismatch: dead, no new token", 401, NULL, "{\"code\":\"OAUTH_SCOPE_MISMATCH\",\"message\":"
	  "\"invalid oauth scope to access this URL\",\"status\":\"error\",\"details\":{}}", CONN_PERMANENT, -1,
	  "OAUTH_SCOPE_MISMATCH" },
};

/* Each answer to associate_email: done, retry (after how long), dead. */
static void
test_answers(void **state)
{
	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(answers); i++) {
		const answer_case *c = &answers[i];
		zf *f = zf_new();
		spool_job *j = zf_job(JOB_SAVE, "z/answer", "outbound", message, "{\"regarding\":\"lead:1\"}");
		conn_result res = { 0 };
		char *rec;

		zf_cache_token(f, "1000.cached", NULL);
		zf_push(f, c->status, c->headers, c->body);
		(void)zf_save(f, j, &res);
		rec = crm_record_get(f->db, "z", "z/answer", NULL, NULL);
		if (res.status != c->want || res.retry_after != c->want_retry_after ||
		    (c->want_error != NULL && (res.error == NULL || strstr(res.error, c->want_error) == NULL)) ||
		    (rec != NULL) != (c->want == CONN_OK) || f->srv->requests != 1)
			fail_msg("%s: status %d retry_after %d error %s record %s requests %d", c->label, res.status,
			    res.retry_after, res.error ? res.error : "-", rec ? rec : "-", f->srv->requests);
		g_free(rec);
		conn_result_clear(&res);
		zf_job_free(j);
		zf_free(f);
	}
}

/* Zoho stored the email but its answer was lost: the retry's
 * DUPLICATE_DATA is done, and the next try sends nothing. */
static void
test_lost_answer(void **state)
{
	zf *f = zf_new();
	spool_job *j = zf_job(JOB_SAVE, "z/lost", "outbound", message, "{\"regarding\":\"lead:1\"}");
	conn_result res = { 0 };
	char *rec;

	(void)state;
	zf_cache_token(f, "1000.cached", NULL);
	zf_push(f, 504, NULL, "gateway timeout");
	assert_int_equal(zf_save(f, j, &res), CONN_RETRY);
	assert_null(crm_record_get(f->db, "z", "z/lost", NULL, NULL));
	conn_result_clear(&res);
	zf_push(f, 400, NULL, "{\"Emails\":[{\"code\":\"DUPLICATE_DATA\",\"details\":{},\"message\":\"duplicate "
	    "data\",\"status\":\"error\"}]}");
	assert_int_equal(zf_save(f, j, &res), CONN_OK);
	rec = crm_record_get(f->db, "z", "z/lost", NULL, NULL);
	assert_string_equal(rec, "Leads/1");
	g_free(rec);
	assert_int_equal(zf_save(f, j, &res), CONN_OK);
	assert_int_equal(f->srv->requests, 2);
	zf_job_free(j);
	zf_free(f);
}

/* 401: one new token and the call again; a second 401 is dead. */
static void
test_token_refresh(void **state)
{
	zf *f = zf_new();
	spool_job *j = zf_job(JOB_SAVE, "z/401", "outbound", message, "{\"regarding\":\"lead:1\"}");
	spool_job *j2 = zf_job(JOB_SAVE, "z/401b", "outbound", message, "{\"regarding\":\"lead:2\"}");
	conn_result res = { 0 };
	char *cached;
	static const char invalid[] = "{\"code\":\"INVALID_TOKEN\",\"details\":{},\"message\":\"invalid oauth "
	    "token\",\"status\":\"error\"}";

	(void)state;
	zf_cache_token(f, "1000.old", NULL);
	zf_push(f, 401, NULL, invalid);
	zf_push(f, 200, NULL, TOKEN_OK("1000.new", "https://unused.example"));
	zf_push(f, 201, NULL, OK_201);
	assert_int_equal(zf_save(f, j, &res), CONN_OK);
	assert_int_equal(f->srv->requests, 3);
	assert_string_equal(test_http_header(f->srv, "authorization"), "Zoho-oauthtoken 1000.new");
	cached = crm_token_get(f->db, "z", ZF_NOW, 0, NULL, NULL, NULL);
	assert_string_equal(cached, "1000.new");
	g_free(cached);
	/* refused again after the new token: dead, one mint only */
	zf_push(f, 401, NULL, invalid);
	zf_push(f, 200, NULL, TOKEN_OK("1000.newer", "https://unused.example"));
	zf_push(f, 401, NULL, invalid);
	assert_int_equal(zf_save(f, j2, &res), CONN_PERMANENT);
	assert_non_null(strstr(res.error, "INVALID_TOKEN"));
	assert_int_equal(f->srv->requests, 6);
	conn_result_clear(&res);
	zf_job_free(j);
	zf_job_free(j2);
	zf_free(f);
}

/* Attachments: one multipart upload; the ids in the email; a retry
 * uploads nothing again. */
static void
test_attachments(void **state)
{
	zf *f = zf_new();
	spool_job *j = zf_job(JOB_SAVE, "z/quote", "outbound", with_pdf, "{\"regarding\":\"deal:5\"}");
	conn_result res = { 0 };
	const char *ctype;
	JsonParser *p;
	JsonObject *e;
	JsonArray *atts;
	char *fid;

	(void)state;
	zf_cache_token(f, "1000.cached", NULL);
	/* the upload fails first: its request is the last one */
	zf_push(f, 500, NULL, "{\"code\":\"INTERNAL_ERROR\",\"message\":\"x\",\"status\":\"error\"}");
	assert_int_equal(zf_save(f, j, &res), CONN_RETRY);
	conn_result_clear(&res);
	assert_string_equal(f->srv->method, "POST");
	assert_string_equal(f->srv->path, "/crm/v8/files");
	ctype = test_http_header(f->srv, "content-type");
	assert_true(g_str_has_prefix(ctype, "multipart/form-data; boundary=crm-milter-"));
	char *delim = g_strdup_printf("--%s\r\n", strstr(ctype, "boundary=") + 9);
	assert_true(g_str_has_prefix(f->srv->body->str, delim));
	g_free(delim);
	assert_non_null(strstr(f->srv->body->str, "Content-Disposition: form-data; name=\"file\"; "
	    "filename=\"quote.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n"));
	/* uploaded, then the association fails */
	zf_push(f, 200, NULL, "{\"data\":[{\"status\":\"success\",\"code\":\"SUCCESS\",\"message\":\"quote.pdf "
	    "uploaded successfully\",\"details\":{\"name\":\"quote.pdf\",\"id\":\"ae9c6cd994aa55a0fda9\"}}]}");
	zf_push(f, 500, NULL, "{\"code\":\"INTERNAL_ERROR\",\"message\":\"x\",\"status\":\"error\"}");
	assert_int_equal(zf_save(f, j, &res), CONN_RETRY);
	conn_result_clear(&res);
	assert_int_equal(f->srv->requests, 3);
	fid = crm_record_get(f->db, "z", "z/quote#file0", NULL, NULL);
	assert_string_equal(fid, "ae9c6cd994aa55a0fda9");
	g_free(fid);
	/* the retry: the association only, with the same file id */
	zf_push(f, 201, NULL, OK_201);
	assert_int_equal(zf_save(f, j, &res), CONN_OK);
	assert_int_equal(f->srv->requests, 4);
	assert_string_equal(f->srv->path, "/crm/v8/Deals/5/actions/associate_email");
	e = last_email(f, &p);
	atts = json_object_get_array_member(e, "attachments");
	assert_int_equal(json_array_get_length(atts), 1);
	assert_string_equal(json_object_get_string_member(json_array_get_object_element(atts, 0), "id"),
	    "ae9c6cd994aa55a0fda9");
	assert_string_equal(json_object_get_string_member(e, "mail_format"), "text");
	assert_string_equal(json_object_get_string_member(e, "content"), "The quote");
	g_object_unref(p);
	zf_job_free(j);
	zf_free(f);
}

typedef struct {
	const char *label;
	const char *field;        /* member of Emails[0] */
	glong want_len;           /* characters of a string, items of an array; -1: see want */
	const char *want;         /* exact string value, prefix with "^", or NULL */
} limit_case;

/* The message of a limit case, made from words in its label. */
static char *
limit_message(const char *label, const char **direction)
{
	GString *m = g_string_new("From: Alice <alice@example.com>\r\n");
	GString *html = g_string_new(NULL), *text = g_string_new(NULL);

	*direction = strstr(label, "inbound") != NULL ? "inbound" : "outbound";
	if (strstr(label, "long HTML") != NULL)
		for (int i = 0; i < 4000; i++)
			g_string_append(html, "<p>word</p>");
	if (strstr(label, "long text") != NULL)
		for (int i = 0; i < 40000; i++)
			g_string_append_c(text, 'a');
	if (strstr(label, "characters") != NULL)
		for (int i = 0; i < 33000; i++)
			g_string_append(text, "\xc3\xa9");
	if (text->len == 0 && strstr(label, "only") == NULL)
		g_string_append(text, "short text");
	if (strstr(label, "60 To") != NULL) {
		g_string_append(m, "To: bob@customer.test");
		for (int i = 0; i < 59; i++)
			g_string_append_printf(m, ", p%d@customer.test", i);
		g_string_append(m, "\r\n");
	} else if (strstr(label, "no To") == NULL) {
		g_string_append(m, "To: bob@customer.test\r\n");
	}
	if (strstr(label, "subject over") != NULL) {
		g_string_append(m, "Subject: ");
		for (int i = 0; i < 600; i++)
			g_string_append_c(m, 's');
		g_string_append(m, "\r\n");
	} else if (strstr(label, "no subject") == NULL) {
		g_string_append(m, "Subject: Limits\r\n");
	}
	if (strstr(label, "Message-ID over") != NULL) {
		g_string_append(m, "Message-ID: <");
		for (int i = 0; i < 300; i++)
			g_string_append_c(m, 'm');
		g_string_append(m, "@example.com>\r\n");
	} else {
		g_string_append(m, "Message-ID: <limits.1@example.com>\r\n");
	}
	g_string_append(m, "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n");
	if (text->len > 0)
		g_string_append_printf(m, "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", text->str);
	if (html->len > 0)
		g_string_append_printf(m, "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n", html->str);
	g_string_append(m, "--b--\r\n");
	g_string_free(html, TRUE);
	g_string_free(text, TRUE);
	return g_string_free(m, FALSE);
}

static const limit_case limits[] = {
	{ "long HTML, short text: the text", "content", -1, "short text" },
	{ "long HTML: format text", "mail_format", -1, "text" },
	{ "long HTML, long text: the text cut to 32,000 characters", "content", 32000, NULL },
	{ "long text: cut with a note", "content", -1, "$[cut by crm-milter: Zoho takes 32,000 characters]" },
	{ "only long HTML: cut HTML", "mail_format", -1, "html" },
	{ "only long HTML: 32,000 characters", "content", 32000, NULL },
	{ "characters, not bytes", "content", 32000, NULL },
	{ "subject over 500", "subject", 500, NULL },
	{ "no subject", "subject", -1, "(no subject)" },
	{ "60 To: 50 sent", "to", 50, NULL },
	{ "Message-ID over 253: a digest", "original_message_id", -1, "^<" },
	{ "no To: the envelope recipient", "to", 1, NULL },
	{ "inbound: sent false", "sent", -1, "false" },
};

/* Zoho's limits: cut, never refused. */
static void
test_limits(void **state)
{
	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(limits); i++) {
		const limit_case *c = &limits[i];
		const char *direction;
		char *raw = limit_message(c->label, &direction);
		zf *f = zf_new();
		spool_job *j = zf_job(JOB_SAVE, "z/limits", direction, raw, "{\"regarding\":\"lead:1\"}");
		conn_result res = { 0 };
		JsonParser *p;
		JsonObject *e;
		JsonNode *n;
		char *got;

		g_ptr_array_add(j->rcpts, g_strdup("bob@customer.test"));
		zf_cache_token(f, "1000.cached", NULL);
		zf_push(f, 201, NULL, OK_201);
		if (zf_save(f, j, &res) != CONN_OK)
			fail_msg("%s: status %d %s", c->label, res.status, res.error ? res.error : "-");
		e = last_email(f, &p);
		n = json_object_get_member(e, c->field);
		if (n == NULL)
			fail_msg("%s: no %s", c->label, c->field);
		if (JSON_NODE_HOLDS_ARRAY(n))
			got = g_strdup_printf("%u", json_array_get_length(json_node_get_array(n)));
		else if (json_node_get_value_type(n) == G_TYPE_BOOLEAN)
			got = g_strdup(json_node_get_boolean(n) ? "true" : "false");
		else
			got = g_strdup(json_node_get_string(n));
		if (c->want_len >= 0 && (JSON_NODE_HOLDS_ARRAY(n) ? g_ascii_strtoll(got, NULL, 10) :
		    g_utf8_strlen(got, -1)) != c->want_len)
			fail_msg("%s: %s has length %ld", c->label, c->field, g_utf8_strlen(got, -1));
		if (c->want != NULL && !(c->want[0] == '^' ? g_str_has_prefix(got, c->want + 1) :
		    c->want[0] == '$' ? g_str_has_suffix(got, c->want + 1) : strcmp(got, c->want) == 0))
			fail_msg("%s: %s is %.80s", c->label, c->field, got);
		if (strstr(c->label, "Message-ID over") != NULL && (strlen(got) > 255 ||
		    !g_str_has_suffix(got, "@crm-milter.invalid>")))
			fail_msg("%s: %s", c->label, got);
		if (!g_utf8_validate(got, -1, NULL))
			fail_msg("%s: not UTF-8", c->label);
		g_free(got);
		g_object_unref(p);
		zf_job_free(j);
		zf_free(f);
		g_free(raw);
	}
}

/* Secret files other users may read, and rollup_fields, are refused at open. */
static void
test_open_refused(void **state)
{
	zf *f = zf_new();
	GError *e = NULL;
	GPtrArray *fields = g_ptr_array_new();

	(void)state;
	assert_int_equal(chmod(f->secret_path, 0644), 0);
	assert_false(zf_open(f, &e));
	assert_non_null(strstr(e->message, f->secret_path));
	g_clear_error(&e);
	assert_int_equal(chmod(f->secret_path, 0600), 0);
	assert_int_equal(chmod(f->refresh_path, 0604), 0);
	assert_false(zf_open(f, &e));
	assert_non_null(strstr(e->message, f->refresh_path));
	g_clear_error(&e);
	assert_int_equal(chmod(f->refresh_path, 0600), 0);
	g_ptr_array_add(fields, "opens=Opens__c");
	f->prof.rollup_fields = fields;
	assert_false(zf_open(f, &e));
	assert_non_null(strstr(e->message, "rollup_fields"));
	g_clear_error(&e);
	f->prof.rollup_fields = NULL;
	assert_true(zf_open(f, &e));
	g_ptr_array_unref(fields);
	zf_free(f);
}

typedef struct {
	zf *f;
	crm_db *db;
	conn_env env;
	connector *c;
	spool_job *job;
	conn_result res;
} worker_arg;

/* One worker's save. */
static gpointer
worker(gpointer data)
{
	worker_arg *w = data;

	connector_save(w->c, w->job, ZF_NOW, &w->res);
	return NULL;
}

/* Two workers with no token: one mint (the other waits and reads the
 * cache); the API at the api_domain the token named; a second run mints
 * nothing. */
static void
test_one_mint(void **state)
{
	zf *f = zf_new();
	worker_arg w[2] = { { 0 } };
	GThread *t[2];
	char *domain = g_strdup_printf("{\"access_token\":\"1000.minted\",\"api_domain\":\"%s/dc\","
	    "\"token_type\":\"Bearer\",\"expires_in\":3600}", f->srv->base);
	test_answer slow_token = { 200, NULL, domain, 300 };

	(void)state;
	f->prof.url = NULL;           /* calls go to api_domain */
	assert_true(zf_open(f, NULL));
	test_http_push(f->srv, &slow_token);
	zf_push(f, 201, NULL, OK_201);
	zf_push(f, 201, NULL, OK_201);
	for (int i = 0; i < 2; i++) {
		char *path = g_build_filename(f->dir, "spool.db", NULL);
		w[i].f = f;
		w[i].db = db_open(path, 2000, NULL);
		w[i].env = f->env;
		w[i].env.db = w[i].db;
		w[i].c = connector_open(&w[i].env, NULL);
		assert_non_null(w[i].c);
		g_free(path);
		w[i].job = zf_job(JOB_SAVE, i == 0 ? "z/w0" : "z/w1", "outbound", message,
		    i == 0 ? "{\"regarding\":\"lead:1\"}" : "{\"regarding\":\"lead:2\"}");
		t[i] = g_thread_new("w", worker, &w[i]);
	}
	for (int i = 0; i < 2; i++) {
		g_thread_join(t[i]);
		if (w[i].res.status != CONN_OK)
			fail_msg("worker %d: %d %s", i, w[i].res.status, w[i].res.error ? w[i].res.error : "-");
		connector_close(w[i].c);
		db_close(w[i].db);
		conn_result_clear(&w[i].res);
		zf_job_free(w[i].job);
	}
	assert_int_equal(f->srv->requests, 3);
	assert_true(g_str_has_prefix(f->srv->path, "/dc/crm/v8/Leads/"));
	assert_string_equal(test_http_header(f->srv, "authorization"), "Zoho-oauthtoken 1000.minted");
	/* the next crm-flusher run: the cached token */
	assert_true(zf_open(f, NULL));
	spool_job *j = zf_job(JOB_SAVE, "z/run2", "outbound", message, "{\"regarding\":\"lead:3\"}");
	conn_result res = { 0 };
	zf_push(f, 201, NULL, OK_201);
	assert_int_equal(zf_save(f, j, &res), CONN_OK);
	assert_int_equal(f->srv->requests, 4);
	assert_string_equal(f->srv->path, "/dc/crm/v8/Leads/3/actions/associate_email");
	zf_job_free(j);
	g_free(domain);
	zf_free(f);
}

/* Both groups; the number of failed tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_associate_request),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_lost_answer),
		cmocka_unit_test(test_token_refresh),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_open_refused),
		cmocka_unit_test(test_one_mint),
	};
	int failed = cmocka_run_group_tests_name("zoho", tests, NULL, NULL);

	return failed + zoho_event_group();
}

/*
 * test_dynamics.c - the dynamics365 connector (core/crm/dynamics*.c)
 * against a programmable HTTP server on 127.0.0.1: the exact requests of
 * one save, step by step (the de-duplication lookup with its OData
 * quoting, the email with its parties, regarding and bodies, the
 * attachment bound to the email, the state change; headers on each), a
 * save stopped at each step (the record kept from the create on), 401 ->
 * one new token (and dead after a second 401), 429 Retry-After, 5xx
 * retried, 4xx dead with Dataverse's code and message, a create refused
 * as a duplicate key (our own primary key) taken as done, body and
 * subject limits, a $batch answer mapped back to its jobs, the defaults,
 * and a secret file open to others refused.
 * The flows against the Python emulator (de-duplication after a lost
 * answer, batches, rollups, notes, directory sync) are in
 * test_dynamics_emu.c; both groups run from main() here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <json-glib/json-glib.h>

#include "crm/records.h"
#include "crm/dynamics.h"
#include "testutil.h"
#include "test_http_server.h"
#include "test_dynamics.h"

#define TOKEN_TTL 3600
#define ALICE_ID "11111111-aaaa-4aaa-8aaa-000000000001"
#define BOB_ID "22222222-bbbb-4bbb-8bbb-000000000002"
#define ACCOUNT_ID "0a0a0a0a-0000-4000-8000-000000000001"
#define EMAIL_ID "e0000000-0000-4000-8000-00000000000e"
#define EMAIL2_ID "e0000000-0000-4000-8000-00000000002e"

/* ------------------------------------------------------------ shared helpers */

/* A scratch dir, spool, secret file and profile. */
dfix *
dtest_setup_profile(const char *url, const char *token_url)
{
	dfix *f = g_new0(dfix, 1);
	char *path;

	f->dir = testutil_tmpdir();
	path = g_build_filename(f->dir, "spool.db", NULL);
	f->db = db_open(path, 1000, NULL);
	assert_non_null(f->db);
	g_free(path);
	f->secret_path = g_build_filename(f->dir, "dynamics.secret", NULL);
	assert_true(g_file_set_contents(f->secret_path, DTEST_SECRET "\n", -1, NULL));
	assert_int_equal(chmod(f->secret_path, 0600), 0);
	f->url = g_strdup(url);
	f->token_url = g_strdup(token_url);
	f->prof.name = "dyn";
	f->prof.type = "dynamics365";
	f->prof.url = f->url;
	f->prof.token_url = f->token_url;
	f->prof.tenant = "00000000-0000-0000-0000-00000000c0de";
	f->prof.client_id = "11111111-2222-3333-4444-555555555555";
	f->prof.client_secret_file = f->secret_path;
	f->prof.timeout = 5;
	f->prof.connect_timeout = 2;
	f->prof.max_response_size = 1024 * 1024;
	f->prof.max_body_size = 1024 * 1024;
	f->prof.directory_sync = 3600;
	f->env.profile = &f->prof;
	f->env.db = f->db;
	return f;
}

/* Open the connector. */
void
dtest_open(dfix *f)
{
	GError *e = NULL;

	connector_close(f->c);
	f->c = connector_open(&f->env, &e);
	if (f->c == NULL)
		fail_msg("connector_open: %s", e != NULL ? e->message : "?");
}

/* Free a fixture. */
void
dtest_teardown(dfix *f)
{
	connector_close(f->c);
	db_close(f->db);
	testutil_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->secret_path);
	g_free(f->url);
	g_free(f->token_url);
	g_free(f->emu);
	g_free(f);
}

/* A save job. */
spool_job *
dtest_job(const char *idem, const char *direction, const char *raw, const char *rcpts,
    const char *meta)
{
	spool_job *j = g_new0(spool_job, 1);
	char **r = g_strsplit(rcpts != NULL ? rcpts : "", ",", -1);

	j->id = 7;
	j->kind = JOB_SAVE;
	j->profile = g_strdup("dyn");
	j->idem_key = g_strdup(idem);
	j->direction = g_strdup(direction);
	j->rcpts = g_ptr_array_new_with_free_func(g_free);
	for (char **p = r; *p != NULL; p++)
		if (**p != '\0')
			g_ptr_array_add(j->rcpts, g_strdup(*p));
	g_strfreev(r);
	j->payload = g_bytes_new(raw, strlen(raw));
	j->meta = g_strdup(meta);
	j->attempts = 1;
	return j;
}

/* Free a job made by dtest_job. */
void
dtest_job_free(spool_job *j)
{
	g_free(j->profile);
	g_free(j->idem_key);
	g_free(j->direction);
	g_ptr_array_unref(j->rcpts);
	g_bytes_unref(j->payload);
	g_free(j->meta);
	g_free(j->message_id);
	g_free(j);
}

/* Put an address into the directory. */
void
dtest_dir_add(crm_db *db, const char *address, dir_record_type type, const char *id,
    gboolean no_follow)
{
	directory_entry e = { (char *)address, type, (char *)id, NULL, no_follow, 0 };

	assert_true(directory_upsert(db, &e, 1000, NULL));
}

/* ------------------------------------------------------------ HTTP server tests */

static const char msg_out[] =
    "From: Alice Example <alice@example.com>\r\nTo: Bob <bob@customer.test>\r\n"
    "Cc: carol@customer.test\r\nSubject: Quote for Q3\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <q'1@example.com>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello Bob</p>\r\n--b1\r\n"
    "Content-Type: application/pdf; name=quote.pdf\r\nContent-Disposition: attachment; filename=quote.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n";
static const char msg_in[] =
    "From: Bob <bob@customer.test>\r\nTo: alice@example.com\r\nSubject: Re: Quote\r\n"
    "Date: Sun, 22 Nov 2026 13:00:00 +0000\r\nMessage-ID: <r1@customer.test>\r\n\r\n"
    "Thanks & see you\r\n  Bob <b>\r\n";

/* Server, spool with a cached token, directory, connector. */
static int
setup(void **state)
{
	test_http *srv = test_http_start();
	char *url = g_strdup_printf("%s/org", srv->base), *tok = g_strdup_printf("%s/token", srv->base);
	dfix *f = dtest_setup_profile(url, tok);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	f->srv = srv;
	assert_true(crm_token_put(f->db, "dyn", "tok-1", NULL, now + TOKEN_TTL, now, NULL));
	dtest_dir_add(f->db, "alice@example.com", DIRREC_USER, ALICE_ID, FALSE);
	dtest_dir_add(f->db, "bob@customer.test", DIRREC_CONTACT, BOB_ID, FALSE);
	dtest_dir_add(f->db, "dave@customer.test", DIRREC_LEAD, "L-7", FALSE);   /* not a GUID */
	dtest_open(f);
	g_free(url);
	g_free(tok);
	*state = f;
	return 0;
}

/* Stop everything. */
static int
teardown(void **state)
{
	dfix *f = *state;
	test_http *srv = f->srv;

	dtest_teardown(f);
	test_http_stop(srv);
	return 0;
}

/* Queue answers: status, headers, body triples ended by status 0. */
static void
answers(test_http *srv, ...)
{
	va_list ap;
	unsigned st;

	va_start(ap, srv);
	while ((st = va_arg(ap, unsigned)) != 0) {
		test_answer a = { st, va_arg(ap, const char *), va_arg(ap, const char *), 0 };
		test_http_push(srv, &a);
	}
	va_end(ap);
}

#define EMPTY_LOOKUP 200, "Content-Type: application/json\n", "{\"value\":[]}"
#define CREATED 204, "OData-EntityId: http://x/org/api/data/v9.2/emails(" EMAIL_ID ")\n", ""
#define NO_CONTENT 204, NULL, ""
#define FAIL500 500, "Content-Type: application/json\n", \
	"{\"error\":{\"code\":\"0x80040216\",\"message\":\"An unexpected error occurred.\"}}"

typedef struct step_case {
	const char *label;
	const char *direction, *raw, *rcpts, *meta;
	int nanswers;              /* how many of the answers below precede the 500 */
	conn_status want;
	const char *method, *path;
	const char *query;         /* decoded query, or NULL */
	const char *body[6];       /* substrings of the last body */
	gboolean recorded;         /* the email id is in records.h after the stop */
	const char *key;           /* the body starts with this primary key, or NULL */
} step_case;

static const step_case steps[] = {
	{ "lookup: GET emails by messageid, the quote doubled", "outbound", msg_out,
	  "bob@customer.test,carol@customer.test,dave@customer.test", NULL, 0, CONN_RETRY,
	  "GET", "/org/api/data/v9.2/emails",
	  "$select=activityid,messageid,directioncode,statecode&$filter=messageid eq '<q''1@example.com>'",
	  { NULL }, FALSE, NULL },
	{ "create: the email, parties resolved, regarding bound", "outbound", msg_out,
	  "bob@customer.test,carol@customer.test,dave@customer.test",
	  "{\"regarding\":\"account:" ACCOUNT_ID "\",\"category\":\"sales\"}", 1, CONN_RETRY,
	  "POST", "/org/api/data/v9.2/emails", NULL,
	  { "\"subject\":\"Quote for Q3\",\"description\":\"<p>Hello Bob</p>\",\"directioncode\":true,"
	    "\"messageid\":\"<q'1@example.com>\",\"actualend\":\"2026-11-22T12:00:00Z\",\"category\":\"sales\","
	    "\"regardingobjectid_account_email@odata.bind\":\"/accounts(" ACCOUNT_ID ")\","
	    "\"email_activity_parties\":[{\"participationtypemask\":1,\"partyid_systemuser@odata.bind\":"
	    "\"/systemusers(" ALICE_ID ")\",\"addressused\":\"alice@example.com\"},"
	    "{\"participationtypemask\":2,\"partyid_contact@odata.bind\":\"/contacts(" BOB_ID ")\","
	    "\"addressused\":\"bob@customer.test\"},{\"participationtypemask\":3,\"addressused\":"
	    "\"carol@customer.test\"},{\"participationtypemask\":4,\"addressused\":\"dave@customer.test\"}]}",
	    NULL }, FALSE, "activityid" },
	{ "create inbound: directioncode false, text as HTML", "inbound", msg_in, "alice@example.com",
	  NULL, 1, CONN_RETRY, "POST", "/org/api/data/v9.2/emails", NULL,
	  { "\"description\":\"<div style=\\\"white-space: pre-wrap\\\">Thanks &amp; see you\\n  Bob &lt;b&gt;\\n</div>\"",
	    "\"directioncode\":false", "\"messageid\":\"<r1@customer.test>\"",
	    "{\"participationtypemask\":1,\"partyid_contact@odata.bind\":\"/contacts(" BOB_ID ")\"", NULL },
	  FALSE, NULL },
	{ "attachment: bound to the email while it is open", "outbound", msg_out, "bob@customer.test",
	  NULL, 2, CONN_RETRY, "POST", "/org/api/data/v9.2/activitymimeattachments", NULL,
	  { "\"objectid_activitypointer@odata.bind\":\"/activitypointers(" EMAIL_ID ")\","
	    "\"objecttypecode\":\"email\",\"filename\":\"quote.pdf\",\"mimetype\":\"application/pdf\","
	    "\"body\":\"JVBERi0xLjQK\"}", NULL }, TRUE, "activitymimeattachmentid" },
	{ "state: completed, sent", "outbound", msg_out, "bob@customer.test", NULL, 3, CONN_RETRY,
	  "PATCH", "/org/api/data/v9.2/emails(" EMAIL_ID ")", NULL,
	  { "{\"statecode\":1,\"statuscode\":3}", NULL }, TRUE, NULL },
	{ "state: completed, received", "inbound", msg_in, "alice@example.com", NULL, 2, CONN_RETRY,
	  "PATCH", "/org/api/data/v9.2/emails(" EMAIL_ID ")", NULL,
	  { "{\"statecode\":1,\"statuscode\":4}", NULL }, TRUE, NULL },
	{ "all steps answered: done", "outbound", msg_out, "bob@customer.test", NULL, 4, CONN_OK,
	  "PATCH", "/org/api/data/v9.2/emails(" EMAIL_ID ")", NULL, { NULL }, TRUE, NULL },
};

/* Each step of a save, stopped there by a 500: the request it made. */
static void
test_steps(void **state)
{
	dfix *f = *state;
	test_http *srv = f->srv;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	for (gsize i = 0; i < G_N_ELEMENTS(steps); i++) {
		const step_case *c = &steps[i];
		spool_job *j = dtest_job(c->label, c->direction, c->raw, c->rcpts, c->meta);
		conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
		char *rec;
		int before = srv->requests;

		print_message("%s\n", c->label);
		/* lookup, create, attachment, state: the first nanswers succeed */
		if (c->nanswers >= 1)
			answers(srv, EMPTY_LOOKUP, 0);
		if (c->nanswers >= 2)
			answers(srv, CREATED, 0);
		for (int k = 2; k < c->nanswers; k++)
			answers(srv, NO_CONTENT, 0);
		if (c->want != CONN_OK)
			answers(srv, FAIL500, 0);
		connector_save(f->c, j, now, &res);
		assert_int_equal(res.status, c->want);
		assert_int_equal(srv->requests - before, c->nanswers + (c->want != CONN_OK));
		assert_string_equal(srv->method, c->method);
		assert_string_equal(srv->path, c->path);
		if (c->query != NULL)
			assert_string_equal(srv->query, c->query);
		for (int k = 0; c->body[k] != NULL; k++)
			if (strstr(srv->body->str, c->body[k]) == NULL)
				fail_msg("%s: body\n%s\nlacks\n%s", c->label, srv->body->str, c->body[k]);
		if (c->key != NULL) {
			/* our own primary key: the job's for the email, the email's and index for a file */
			char *id = strcmp(c->key, "activityid") == 0 ? dyn_guid("dynamics365/dyn/%s", c->label) :
			    dyn_guid("activitymimeattachment/%s/0", EMAIL_ID);
			char *start = g_strdup_printf("{\"%s\":\"%s\",", c->key, id);
			assert_true(g_str_has_prefix(srv->body->str, start));
			g_free(start);
			g_free(id);
		}
		assert_string_equal(test_http_header(srv, "authorization"), "Bearer tok-1");
		assert_string_equal(test_http_header(srv, "odata-version"), "4.0");
		assert_string_equal(test_http_header(srv, "odata-maxversion"), "4.0");
		assert_string_equal(test_http_header(srv, "accept"), "application/json");
		if (strcmp(c->method, "GET") != 0)
			assert_string_equal(test_http_header(srv, "content-type"), "application/json; charset=utf-8");
		rec = crm_record_get(f->db, "dyn", c->label, NULL, NULL);
		if (c->recorded)
			assert_string_equal(rec, EMAIL_ID);
		else
			assert_null(rec);
		g_free(rec);
		conn_result_clear(&res);
		dtest_job_free(j);
	}
}

typedef struct fault_case {
	const char *label;
	unsigned status;
	const char *headers, *body;
	conn_status want;
	int retry_after;
	const char *error;         /* substring of res.error */
} fault_case;

static const fault_case faults[] = {
	{ "429 with Retry-After: retry after it", 429, "Retry-After: 7\nContent-Type: application/json\n",
	  "{\"error\":{\"code\":\"0x80072322\",\"message\":\"Number of requests exceeded the limit of 6000 "
	  "over time window of 300 seconds.\"}}", CONN_RETRY, 7, "(0x80072322)" },
	{ "503 with Retry-After", 503, "Retry-After: 3\n", "", CONN_RETRY, 3, "HTTP 503" },
	{ "500: retried with backoff", 500, "Content-Type: application/json\n",
	  "{\"error\":{\"code\":\"0x80040216\",\"message\":\"An unexpected error occurred.\"}}",
	  CONN_RETRY, -1, "An unexpected error occurred. (0x80040216)" },
	{ "400: dead, Dataverse's message kept", 400, "Content-Type: application/json\n",
	  "{\"error\":{\"code\":\"0x80044331\",\"message\":\"A validation error occurred.  The length of "
	  "the 'subject' attribute of the 'email' entity exceeded the maximum allowed length of '800'.\"}}",
	  CONN_PERMANENT, -1, "HTTP 400: A validation error occurred.  The length of the 'subject'" },
	{ "403: dead", 403, "Content-Type: application/json\n",
	  "{\"error\":{\"code\":\"0x80040220\",\"message\":\"Principal user is missing prvCreateEmail\"}}",
	  CONN_PERMANENT, -1, "prvCreateEmail (0x80040220)" },
};

/* Faults on the create (a message with no binds: no second try). */
static void
test_faults(void **state)
{
	dfix *f = *state;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	for (gsize i = 0; i < G_N_ELEMENTS(faults); i++) {
		const fault_case *c = &faults[i];
		spool_job *j = dtest_job(c->label, "outbound",
		    "From: x@example.com\r\nTo: y@other.test\r\nSubject: s\r\nMessage-ID: <f@x>\r\n\r\nhi\r\n",
		    "y@other.test", NULL);
		conn_result res = { CONN_OK, -1, NULL, FALSE };
		test_answer a = { c->status, c->headers, c->body, 0 };
		int before = ((test_http *)f->srv)->requests;

		print_message("%s\n", c->label);
		answers(f->srv, EMPTY_LOOKUP, 0);
		test_http_push(f->srv, &a);
		connector_save(f->c, j, now, &res);
		assert_int_equal(res.status, c->want);
		assert_int_equal(res.retry_after, c->retry_after);
		assert_int_equal(((test_http *)f->srv)->requests - before, 2);
		if (res.error == NULL || strstr(res.error, c->error) == NULL)
			fail_msg("%s: error '%s' lacks '%s'", c->label, res.error, c->error);
		conn_result_clear(&res);
		dtest_job_free(j);
	}
}

/* Limits: a body over max_body_size is cut on a character boundary and
 * the email marked "Truncated body." (notifications 2); a subject over
 * 800 characters is cut to 800. */
static void
test_limits(void **state)
{
	dfix *f = *state;
	test_http *srv = f->srv;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	GString *raw = g_string_new("From: x@example.com\r\nTo: y@other.test\r\nMessage-ID: <long@x>\r\nSubject: ");
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	JsonParser *jp = json_parser_new();
	JsonObject *o;
	spool_job *j;

	for (int i = 0; i < 900; i++)
		g_string_append_c(raw, 's');
	g_string_append(raw, "\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>");
	for (int i = 0; i < 1500; i++)
		g_string_append(raw, "\xc3\xa9");          /* é: two bytes each */
	g_string_append(raw, "</p>\r\n");
	f->prof.max_body_size = 1025;
	dtest_open(f);
	j = dtest_job("long", "outbound", raw->str, "y@other.test", NULL);
	answers(srv, EMPTY_LOOKUP, FAIL500, 0);
	connector_save(f->c, j, now, &res);
	assert_int_equal(res.status, CONN_RETRY);
	assert_true(json_parser_load_from_data(jp, srv->body->str, -1, NULL));
	o = json_node_get_object(json_parser_get_root(jp));
	assert_int_equal(g_utf8_strlen(json_object_get_string_member(o, "subject"), -1), 800);
	/* "<p>" and 511 two-byte characters: 1025 bytes, the next one would split */
	assert_int_equal(strlen(json_object_get_string_member(o, "description")), 1025);
	assert_true(g_utf8_validate(json_object_get_string_member(o, "description"), -1, NULL));
	assert_int_equal(json_object_get_int_member(o, "notifications"), 2);
	g_object_unref(jp);
	g_string_free(raw, TRUE);
	conn_result_clear(&res);
	dtest_job_free(j);
}

/* A create refused as a duplicate key: an earlier try made the email (its
 * answer was lost); its state is read and the job is done, no new email. */
static void
test_duplicate_key(void **state)
{
	dfix *f = *state;
	test_http *srv = f->srv;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	spool_job *j = dtest_job("dup", "inbound", msg_in, "alice@example.com", NULL);
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	char *id = dyn_guid("dynamics365/dyn/dup"), *path, *rec;
	int before = srv->requests;

	answers(srv, EMPTY_LOOKUP, 412, "Content-Type: application/json\n",
	    "{\"error\":{\"code\":\"0x80040237\",\"message\":\"Cannot insert duplicate key.\"}}",
	    200, "Content-Type: application/json\n", "{\"activityid\":\"x\",\"statecode\":1}", 0);
	connector_save(f->c, j, now, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(srv->requests - before, 3);
	path = g_strdup_printf("/org/api/data/v9.2/emails(%s)", id);
	assert_string_equal(srv->method, "GET");
	assert_string_equal(srv->path, path);
	rec = crm_record_get(f->db, "dyn", "dup", NULL, NULL);
	assert_string_equal(rec, id);
	g_free(rec);
	g_free(path);
	g_free(id);
	conn_result_clear(&res);
	dtest_job_free(j);
}

/* 401: a new token from the token URL and one more try; a second 401 is dead. */
static void
test_unauthorized(void **state)
{
	dfix *f = *state;
	test_http *srv = f->srv;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC - 3000;
	spool_job *j = dtest_job("auth", "inbound", msg_in, "alice@example.com", NULL);
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	int before = srv->requests;
	const char *unauth = "{\"error\":{\"code\":\"\",\"message\":\"The access token has expired\"}}";

	answers(srv, 401, "WWW-Authenticate: Bearer error=\"invalid_token\"\n", unauth,
	    200, "Content-Type: application/json\n",
	    "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"tok-2\"}",
	    EMPTY_LOOKUP, CREATED, NO_CONTENT, 0);
	connector_save(f->c, j, now, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(srv->requests - before, 5);
	assert_string_equal(test_http_header(srv, "authorization"), "Bearer tok-2");
	/* the token request: the client credentials form, scope <org>/.default */
	const char *tok_req = g_ptr_array_index(srv->log, before + 1);
	assert_true(g_str_has_prefix(tok_req, "POST /token\n"));
	assert_non_null(strstr(tok_req, "grant_type=client_credentials"));
	assert_non_null(strstr(tok_req, "client_secret=" DTEST_SECRET));
	assert_non_null(strstr(tok_req, "%2F.default"));
	conn_result_clear(&res);
	dtest_job_free(j);
	/* refused again after the new token: dead, no third token */
	j = dtest_job("auth-2", "inbound", msg_in, "alice@example.com", NULL);
	before = srv->requests;
	answers(srv, 401, NULL, unauth, 200, "Content-Type: application/json\n",
	    "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"tok-3\"}",
	    401, NULL, unauth, 0);
	connector_save(f->c, j, now + 10, &res);
	assert_int_equal(res.status, CONN_PERMANENT);
	assert_int_equal(srv->requests - before, 3);
	assert_non_null(strstr(res.error, "HTTP 401: The access token has expired"));
	conn_result_clear(&res);
	dtest_job_free(j);
}

/* A $batch: one job found by the lookup, two in change sets (one done,
 * one failed with 500); the body's parts and the per-job results. */
static void
test_batch_mapping(void **state)
{
	dfix *f = *state;
	test_http *srv = f->srv;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	const char *raws[3] = {
	    "From: alice@example.com\r\nTo: bob@customer.test\r\nSubject: one\r\nMessage-ID: <b1@example.com>\r\n\r\n1\r\n",
	    "From: alice@example.com\r\nTo: bob@customer.test\r\nSubject: two\r\nMessage-ID: <b2@example.com>\r\n\r\n2\r\n",
	    msg_out };
	spool_job *jobs[3];
	conn_result res[3];
	char *lookup, *answer, *rec;
	const char *body;

	for (int i = 0; i < 3; i++)
		jobs[i] = dtest_job(i == 0 ? "b1" : i == 1 ? "b2" : "b3", "outbound", raws[i],
		    "bob@customer.test", NULL);
	lookup = g_strdup_printf("{\"value\":[{\"activityid\":\"%s\",\"messageid\":\"<B1@example.com>\","
	    "\"directioncode\":true,\"statecode\":1}]}", EMAIL2_ID);
	answer = g_strdup_printf("--batchresponse_x\r\nContent-Type: multipart/mixed; boundary=changesetresponse_y\r\n\r\n"
	    "--changesetresponse_y\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
	    "Content-ID: 1\r\n\r\nHTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n"
	    "OData-EntityId: http://x/org/api/data/v9.2/emails(%s)\r\n\r\n\r\n"
	    "--changesetresponse_y\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
	    "Content-ID: 2\r\n\r\nHTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n\r\n"
	    "--changesetresponse_y--\r\n"
	    "--batchresponse_x\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
	    "Content-ID: 4\r\n\r\nHTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n\r\n"
	    "{\"error\":{\"code\":\"0x80040216\",\"message\":\"Generic SQL error.\"}}\r\n"
	    "--batchresponse_x--\r\n", EMAIL_ID);
	answers(srv, 200, "Content-Type: application/json\n", lookup,
	    200, "Content-Type: multipart/mixed; boundary=batchresponse_x\n", answer, 0);
	connector_save_batch(f->c, (const spool_job *const *)jobs, 3, now, res);
	assert_int_equal(res[0].status, CONN_OK);
	assert_int_equal(res[1].status, CONN_OK);
	assert_int_equal(res[2].status, CONN_RETRY);
	assert_non_null(strstr(res[2].error, "Generic SQL error. (0x80040216)"));
	rec = crm_record_get(f->db, "dyn", "b1", NULL, NULL);
	assert_string_equal(rec, EMAIL2_ID);        /* found: not made again */
	g_free(rec);
	rec = crm_record_get(f->db, "dyn", "b2", NULL, NULL);
	assert_string_equal(rec, EMAIL_ID);
	g_free(rec);
	assert_null(crm_record_get(f->db, "dyn", "b3", NULL, NULL));
	/* one lookup for the three, then the $batch */
	assert_string_equal(g_ptr_array_index(srv->log, srv->log->len - 2),
	    "GET /org/api/data/v9.2/emails?$select=activityid,messageid,directioncode,statecode&$filter="
	    "messageid eq '<b1@example.com>' or messageid eq '<b2@example.com>' or messageid eq '<q''1@example.com>'\n");
	assert_string_equal(srv->path, "/org/api/data/v9.2/$batch");
	assert_true(g_str_has_prefix(test_http_header(srv, "content-type"), "multipart/mixed; boundary=\"batch_"));
	assert_string_equal(test_http_header(srv, "prefer"), "odata.continue-on-error");
	body = srv->body->str;
	char *api = g_strdup_printf("%s/org/api/data/v9.2", srv->base);
	char *b2 = dyn_guid("dynamics365/dyn/b2"), *b3 = dyn_guid("dynamics365/dyn/b3");
	char *b3att = dyn_guid("activitymimeattachment/%s/0", b3);
	char *want[] = {
	    g_strdup_printf("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
	        "POST %s/emails HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n"
	        "{\"activityid\":\"%s\",\"subject\":\"two\"", api, b2),
	    g_strdup("Content-ID: 2\r\n\r\nPATCH $1 HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
	        "{\"statecode\":1,\"statuscode\":3}\r\n"),
	    g_strdup_printf("Content-ID: 3\r\n\r\nPOST %s/emails HTTP/1.1", api),
	    g_strdup_printf("Content-ID: 4\r\n\r\nPOST %s/activitymimeattachments HTTP/1.1\r\n"
	        "Content-Type: application/json; type=entry\r\n\r\n{\"activitymimeattachmentid\":\"%s\","
	        "\"objectid_activitypointer@odata.bind\":\"$3\"", api, b3att),
	    g_strdup("Content-ID: 5\r\n\r\nPATCH $3 HTTP/1.1"),
	    NULL };
	for (int k = 0; want[k] != NULL; k++) {
		if (strstr(body, want[k]) == NULL)
			fail_msg("batch body lacks\n%s\n---\n%s", want[k], body);
		g_free(want[k]);
	}
	assert_null(strstr(body, "\"subject\":\"one\""));
	assert_true(g_str_has_suffix(body, "--\r\n"));
	g_free(api);
	g_free(b2);
	g_free(b3);
	g_free(b3att);
	for (int i = 0; i < 3; i++) {
		conn_result_clear(&res[i]);
		dtest_job_free(jobs[i]);
	}
	g_free(lookup);
	g_free(answer);
}

/* Our primary keys: SHA-256 laid out as an RFC 9562 version 8 GUID (the
 * golden value computed with Python's hashlib); OData literal quoting;
 * the id in an OData-EntityId. */
static void
test_keys_and_quoting(void **state)
{
	char *g = dyn_guid("dynamics365/%s/%s", "dyn", "golden"), *q;

	(void)state;
	assert_string_equal(g, "7a1de52e-7764-810c-81d4-e9e38c1f61a0");
	assert_true(dyn_is_guid(g));
	assert_false(dyn_is_guid("7a1de52e-7764-810c-81d4-e9e38c1f61a"));
	assert_false(dyn_is_guid("L-7"));
	g_free(g);
	q = dyn_odata_string("<o'brien''s@x>");
	assert_string_equal(q, "'<o''brien''''s@x>'");
	g_free(q);
	q = dyn_entity_id("https://org.crm.dynamics.com/api/data/v9.2/emails(" EMAIL_ID ")");
	assert_string_equal(q, EMAIL_ID);
	g_free(q);
	assert_null(dyn_entity_id("https://org/api/data/v9.2/emails(not-a-guid)"));
}

/* A secret file other users can read: the connector does not open, naming it. */
static void
test_secret_mode(void **state)
{
	dfix *f = *state;
	GError *e = NULL;
	connector *c;

	assert_int_equal(chmod(f->secret_path, 0644), 0);
	c = connector_open(&f->env, &e);
	assert_null(c);
	assert_non_null(e);
	assert_non_null(strstr(e->message, f->secret_path));
	g_clear_error(&e);
	assert_int_equal(chmod(f->secret_path, 0600), 0);
	c = connector_open(&f->env, &e);
	assert_non_null(c);
	connector_close(c);
	/* the defaults: batch of 50, 3 workers, 10 requests per second */
	int workers;
	double rate;
	connector_limits(&f->prof, &workers, &rate);
	assert_int_equal(workers, 3);
	assert_true(rate == 10.0);
	assert_int_equal(connector_batch_size(f->c), 50);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unauthorized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_mode, setup, teardown),
		cmocka_unit_test(test_keys_and_quoting),
	};
	int failed = cmocka_run_group_tests_name("dynamics", tests, NULL, NULL);

	return failed + dtest_emu_group();
}

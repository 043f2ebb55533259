/*
 * test_webhook.c - the webhook connector (core/crm/webhook.c) and the HTTP
 * client under it (core/crm/http.c) against a real HTTP server on
 * 127.0.0.1 (libmicrohttpd in this process): the document and its
 * signature as doc/webhook.md defines them, the same id on a retry, every
 * kind of answer mapped to done / retry (with Retry-After) / dead,
 * timeouts, a secret file open to others refused, rotation (two
 * signatures), and an event job.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <json-glib/json-glib.h>

#include "crm/connector.h"
#include "crm/http.h"
#include "testutil.h"
#include "test_http_server.h"

#define SECRET1 "first-secret-of-at-least-16"
#define SECRET2 "second-secret-of-at-least-16"

typedef struct fixture {
	test_http *srv;
	char *dir, *secret_path, *url;
	crm_profile prof;
	conn_env env;
	connector *c;
} fixture;

/* A secret file with the given text and mode. */
static void
write_secret(fixture *f, const char *text, mode_t mode)
{
	assert_true(g_file_set_contents(f->secret_path, text, -1, NULL));
	assert_int_equal(chmod(f->secret_path, mode), 0);
}

/* Server, secret file, profile, open connector. */
static int
setup(void **state)
{
	fixture *f = g_new0(fixture, 1);

	f->srv = test_http_start();
	f->dir = testutil_tmpdir();
	f->secret_path = g_build_filename(f->dir, "webhook.secret", NULL);
	write_secret(f, SECRET1 "\n", 0600);
	f->url = g_strdup_printf("%s/hook", f->srv->base);
	f->prof.name = "hooks";
	f->prof.type = "webhook";
	f->prof.url = f->url;
	f->prof.secret_file = f->secret_path;
	f->prof.timeout = 2;
	f->prof.connect_timeout = 2;
	f->prof.max_response_size = 64 * 1024;
	f->prof.max_body_size = 1024 * 1024;
	f->env.profile = &f->prof;
	f->c = connector_open(&f->env, NULL);
	assert_non_null(f->c);
	*state = f;
	return 0;
}

/* Stop everything. */
static int
teardown(void **state)
{
	fixture *f = *state;

	connector_close(f->c);
	test_http_stop(f->srv);
	testutil_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->secret_path);
	g_free(f->url);
	g_free(f);
	return 0;
}

static const char message[] =
    "From: Alice Example <alice@example.com>\r\nTo: Bob <bob@customer.test>\r\n"
    "Subject: Our pricing\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <pricing.1@example.com>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nHello Bob\r\n--b\r\n"
    "Content-Type: application/pdf; name=quote.pdf\r\nContent-Disposition: attachment; filename=quote.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOf\r\n--b--\r\n";

/* A save job for the message above. */
static spool_job *
save_job(void)
{
	spool_job *j = g_new0(spool_job, 1);

	j->id = 7;
	j->kind = JOB_SAVE;
	j->profile = g_strdup("hooks");
	j->idem_key = g_strdup("hooks/pricing.1@example.com");
	j->direction = g_strdup("outbound");
	j->rcpts = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(j->rcpts, g_strdup("bob@customer.test"));
	j->payload = g_bytes_new_static(message, sizeof(message) - 1);
	j->meta = g_strdup("{\"regarding\":\"account:0001\",\"category\":\"Sales\"}");
	return j;
}

/* Free a job made here. */
static void
job_free(spool_job *j)
{
	g_free(j->profile);
	g_free(j->idem_key);
	g_free(j->direction);
	g_ptr_array_unref(j->rcpts);
	g_bytes_unref(j->payload);
	g_free(j->meta);
	g_free(j);
}

/* The base64 HMAC-SHA256 of id.ts.body under secret. */
static char *
expected_sig(const char *secret, const char *id, const char *ts, const char *body)
{
	char *msg = g_strdup_printf("%s.%s.%s", id, ts, body);
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret, strlen(secret));
	guint8 d[32];
	gsize n = sizeof(d);
	char *b64, *out;

	g_hmac_update(h, (const guchar *)msg, -1);
	g_hmac_get_digest(h, d, &n);
	g_hmac_unref(h);
	b64 = g_base64_encode(d, n);
	out = g_strdup_printf("v1,%s", b64);
	g_free(b64);
	g_free(msg);
	return out;
}

/* The document, its headers and its signature, as doc/webhook.md says. */
static void
test_activity_document(void **state)
{
	fixture *f = *state;
	spool_job *j = save_job();
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	JsonParser *p = json_parser_new();
	JsonObject *doc, *act;
	char *want_sig, *first_id;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	connector_save(f->c, j, now, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_string_equal(f->srv->method, "POST");
	assert_string_equal(f->srv->path, "/hook");
	assert_string_equal(test_http_header(f->srv, "content-type"), "application/json");
	assert_int_equal(strlen(test_http_header(f->srv, "webhook-id")), 4 + 32);
	assert_true(g_str_has_prefix(test_http_header(f->srv, "webhook-id"), "crm_"));
	char *quoted = g_strdup_printf("\"%s\"", test_http_header(f->srv, "webhook-id"));
	assert_string_equal(test_http_header(f->srv, "idempotency-key"), quoted);
	g_free(quoted);
	char *ts = g_strdup_printf("%" G_GINT64_FORMAT, now);
	assert_string_equal(test_http_header(f->srv, "webhook-timestamp"), ts);
	want_sig = expected_sig(SECRET1, test_http_header(f->srv, "webhook-id"), test_http_header(f->srv, "webhook-timestamp"), f->srv->body->str);
	assert_string_equal(test_http_header(f->srv, "webhook-signature"), want_sig);
	g_free(want_sig);
	g_free(ts);
	assert_true(json_parser_load_from_data(p, f->srv->body->str, -1, NULL));
	doc = json_node_get_object(json_parser_get_root(p));
	assert_int_equal(json_object_get_int_member(doc, "version"), 1);
	assert_string_equal(json_object_get_string_member(doc, "type"), "activity");
	assert_string_equal(json_object_get_string_member(doc, "id"), test_http_header(f->srv, "webhook-id"));
	assert_string_equal(json_object_get_string_member(doc, "profile"), "hooks");
	act = json_object_get_object_member(doc, "activity");
	assert_string_equal(json_object_get_string_member(act, "direction"), "outbound");
	assert_string_equal(json_object_get_string_member(act, "message_id"), "pricing.1@example.com");
	assert_string_equal(json_object_get_string_member(act, "subject"), "Our pricing");
	assert_string_equal(json_object_get_string_member(act, "date"), "2026-11-22T12:00:00Z");
	JsonObject *from = json_object_get_object_member(act, "from");
	assert_string_equal(json_object_get_string_member(from, "address"), "alice@example.com");
	assert_string_equal(json_object_get_string_member(from, "name"), "Alice Example");
	JsonArray *to = json_object_get_array_member(act, "to");
	assert_int_equal(json_array_get_length(to), 1);
	assert_string_equal(json_object_get_string_member(json_array_get_object_element(to, 0), "address"),
	    "bob@customer.test");
	assert_string_equal(json_object_get_string_member(act, "text"), "Hello Bob");
	assert_true(json_object_get_null_member(act, "html"));
	assert_string_equal(json_object_get_string_member(act, "regarding"), "account:0001");
	assert_string_equal(json_object_get_string_member(act, "category"), "Sales");
	JsonArray *att = json_object_get_array_member(act, "attachments");
	assert_int_equal(json_array_get_length(att), 1);
	JsonObject *a0 = json_array_get_object_element(att, 0);
	assert_string_equal(json_object_get_string_member(a0, "filename"), "quote.pdf");
	assert_string_equal(json_object_get_string_member(a0, "content_type"), "application/pdf");
	assert_string_equal(json_object_get_string_member(a0, "content_base64"), "JVBERi0xLjQKJcOkw7zDtsOf");
	assert_int_equal(json_object_get_int_member(a0, "size"), 18);
	/* a retry is the same document */
	first_id = g_strdup(test_http_header(f->srv, "webhook-id"));
	connector_save(f->c, j, now + 60, &res);
	assert_string_equal(test_http_header(f->srv, "webhook-id"), first_id);
	g_free(first_id);
	g_object_unref(p);
	conn_result_clear(&res);
	job_free(j);
}

typedef struct {
	const char *label;
	unsigned status;
	const char *retry_after;
	const char *answer;
	conn_status want;
	int want_retry_after;
	const char *want_error;   /* substring, or NULL */
} answer_case;

static const answer_case answers[] = {
	{ "200 is done", 200, NULL, "{}", CONN_OK, -1, NULL },
	{ "201 is done", 201, NULL, "", CONN_OK, -1, NULL },
	{ "204 is done", 204, NULL, "", CONN_OK, -1, NULL },
	{ "409: the receiver has it already", 409, NULL, "duplicate", CONN_OK, -1, NULL },
	{ "429 with Retry-After seconds", 429, "7", "slow down", CONN_RETRY, 7, "HTTP 429: slow down" },
	{ "503 with Retry-After as an HTTP date in the past", 503, "Wed, 21 Oct 2015 07:28:00 GMT", "",
	  CONN_RETRY, 0, "HTTP 503" },
	{ "429 with a Retry-After of a year is capped at a day", 429, "31536000", "", CONN_RETRY, 86400, NULL },
	{ "429 without Retry-After: the spool's backoff", 429, NULL, "", CONN_RETRY, -1, NULL },
	{ "500 retries", 500, NULL, "oops", CONN_RETRY, -1, "HTTP 500: oops" },
	{ "502 retries", 502, NULL, "", CONN_RETRY, -1, NULL },
	{ "408 retries", 408, NULL, "", CONN_RETRY, -1, NULL },
	{ "400 is dead, the receiver's words kept", 400, NULL, "{\"error\":\"subject missing\"}",
	  CONN_PERMANENT, -1, "HTTP 400: {\"error\":\"subject missing\"}" },
	{ "401 is dead (a shared secret cannot be refreshed)", 401, NULL, "bad signature",
	  CONN_PERMANENT, -1, "HTTP 401" },
	{ "control characters of the answer are not logged", 422, NULL, "a\nb\x01" "c",
	  CONN_PERMANENT, -1, "HTTP 422: a b c" },
};

/* Each answer and what the flusher does with the job. */
static void
test_answers(void **state)
{
	fixture *f = *state;
	spool_job *j = save_job();

	for (size_t i = 0; i < G_N_ELEMENTS(answers); i++) {
		const answer_case *c = &answers[i];
		conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };

		char *hdr = c->retry_after != NULL ? g_strdup_printf("Retry-After: %s", c->retry_after) : NULL;
		f->srv->answer.status = c->status;
		f->srv->answer.headers = hdr;
		f->srv->answer.body = c->answer;
		connector_save(f->c, j, g_get_real_time() / G_USEC_PER_SEC, &res);
		f->srv->answer.headers = NULL;
		g_free(hdr);
		if (res.status != c->want || (c->want == CONN_RETRY && res.retry_after != c->want_retry_after))
			fail_msg("%s: status %d retry_after %d (%s)", c->label, res.status, res.retry_after,
			    res.error ? res.error : "-");
		if (c->want_error != NULL && (res.error == NULL || strstr(res.error, c->want_error) == NULL))
			fail_msg("%s: error \"%s\" lacks \"%s\"", c->label, res.error ? res.error : "", c->want_error);
		conn_result_clear(&res);
	}
	job_free(j);
}

/* A slow receiver and a closed port: retried. */
static void
test_timeout_and_refused(void **state)
{
	fixture *f = *state;
	spool_job *j = save_job();
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	crm_profile p = f->prof;
	connector *c;

	f->srv->answer.delay_ms = 3000;     /* > timeout 2 s */
	connector_save(f->c, j, g_get_real_time() / G_USEC_PER_SEC, &res);
	assert_int_equal(res.status, CONN_RETRY);
	assert_non_null(strstr(res.error, "webhook:"));
	conn_result_clear(&res);
	f->srv->answer.delay_ms = 0;
	p.url = "http://127.0.0.1:1/hook";
	conn_env env = { &p, NULL, NULL };
	c = connector_open(&env, NULL);
	assert_non_null(c);
	connector_save(c, j, g_get_real_time() / G_USEC_PER_SEC, &res);
	assert_int_equal(res.status, CONN_RETRY);
	conn_result_clear(&res);
	connector_close(c);
	job_free(j);
}

/* Secret files: open to others refused (named), too short refused, two
 * secrets give two signatures. */
static void
test_secret_file(void **state)
{
	fixture *f = *state;
	GError *e = NULL;
	connector *c;
	spool_job *j = save_job();
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	char **sigs, *w1, *w2;

	write_secret(f, SECRET1 "\n", 0644);
	assert_null(connector_open(&f->env, &e));
	assert_non_null(strstr(e->message, f->secret_path));
	assert_non_null(strstr(e->message, "other users"));
	g_clear_error(&e);
	write_secret(f, "short\n", 0600);
	assert_null(connector_open(&f->env, &e));
	assert_non_null(strstr(e->message, ":1: a secret must be at least 16 bytes"));
	g_clear_error(&e);
	write_secret(f, SECRET2 "\r\n" SECRET1 "\n", 0640);
	c = connector_open(&f->env, &e);
	assert_non_null(c);
	f->srv->answer.status = 200;
	connector_save(c, j, g_get_real_time() / G_USEC_PER_SEC, &res);
	assert_int_equal(res.status, CONN_OK);
	sigs = g_strsplit(test_http_header(f->srv, "webhook-signature"), " ", -1);
	assert_int_equal(g_strv_length(sigs), 2);
	w1 = expected_sig(SECRET2, test_http_header(f->srv, "webhook-id"), test_http_header(f->srv, "webhook-timestamp"), f->srv->body->str);
	w2 = expected_sig(SECRET1, test_http_header(f->srv, "webhook-id"), test_http_header(f->srv, "webhook-timestamp"), f->srv->body->str);
	assert_string_equal(sigs[0], w1);
	assert_string_equal(sigs[1], w2);
	g_free(w1);
	g_free(w2);
	g_strfreev(sigs);
	connector_close(c);
	job_free(j);
}

/* A delivery report job: one event document per recipient. */
static void
test_event_document(void **state)
{
	fixture *f = *state;
	spool_job *j = g_new0(spool_job, 1);
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	JsonParser *p = json_parser_new();
	JsonObject *ev;

	j->kind = JOB_EVENT;
	j->profile = g_strdup("hooks");
	j->idem_key = g_strdup("dsn/1");
	j->meta = g_strdup("{\"kind\":\"bounced\",\"message_id\":\"pricing.1@example.com\",\"recipients\":"
	    "[{\"recipient\":\"bob@customer.test\",\"failed\":true,\"status\":\"5.1.1\","
	    "\"diagnostic\":\"550 5.1.1 no such user\"}]}");
	f->srv->answer.status = 200;
	connector_event(f->c, j, 1795000000, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 1);
	assert_true(json_parser_load_from_data(p, f->srv->body->str, -1, NULL));
	assert_string_equal(json_object_get_string_member(json_node_get_object(json_parser_get_root(p)),
	    "type"), "event");
	ev = json_object_get_object_member(json_node_get_object(json_parser_get_root(p)), "event");
	assert_string_equal(json_object_get_string_member(ev, "kind"), "bounced");
	assert_string_equal(json_object_get_string_member(ev, "message_id"), "pricing.1@example.com");
	assert_string_equal(json_object_get_string_member(ev, "recipient"), "bob@customer.test");
	assert_string_equal(json_object_get_string_member(ev, "status"), "5.1.1");
	assert_string_equal(json_object_get_string_member(ev, "diagnostic"), "550 5.1.1 no such user");
	assert_true(json_object_get_null_member(ev, "class"));
	assert_true(json_object_get_null_member(ev, "link"));
	assert_string_equal(json_object_get_string_member(ev, "at"), "2026-11-18T11:06:40Z");
	g_object_unref(p);
	g_free(j->profile);
	g_free(j->idem_key);
	g_free(j->meta);
	g_free(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_activity_document, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_and_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_document, setup, teardown),
	};
	return cmocka_run_group_tests_name("webhook", tests, NULL, NULL);
}

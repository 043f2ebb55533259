/*
 * test_salesforce_http.c - the salesforce connector against a scripted
 * HTTP server on 127.0.0.1 (test_http_server.h), for what the emulator
 * cannot script exactly: every kind of answer to an API call mapped to
 * done / retry (with the profile paused as long as asked) / dead with the
 * vendor's errorCode and message; 401 refreshing the token once; the
 * request as documented (path with api_version, headers, JSON body); the
 * JWT audience; secret and key files open to others refused; SOQL string
 * escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "crm/connector.h"
#include "crm/limiter.h"
#include "crm/records.h"
#include "crm/salesforce.h"
#include "testutil.h"
#include "test_http_server.h"
#include "test_sf_lib.h"

#define EMAIL_ID "02sEM0000000001AAA"
#define MID "sent.1@example.com"
#define SF_JSON "Content-Type: application/json\n"

typedef struct fixture {
	test_http *srv;
	char *dir, *secret;
	crm_db *db;
	crm_profile prof;
	conn_env env;
	crm_limiter *lim;
	spool_job *ev;
} fixture;

static gint64
now_s(void)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

/* Server, spool with the email's record and a cached token, profile. */
static int
setup(void **state)
{
	fixture *f = g_new0(fixture, 1);
	char *path;
	static const char *const all[] = { "first_open=First__c", "last_open=Last__c", "opens=Opens__c",
	    "clicks=Clicks__c", "replied=Replied__c", "bounced=Bounced__c", NULL };

	f->srv = test_http_start();
	f->dir = testutil_tmpdir();
	path = g_build_filename(f->dir, "spool.db", NULL);
	f->db = db_open(path, 5000, NULL);
	g_free(path);
	f->secret = g_build_filename(f->dir, "sf.secret", NULL);
	assert_true(sf_write_file(f->secret, "s3cret\n", 0600));
	assert_true(crm_record_put(f->db, "sf", "sf/sent", MID, "EmailMessage", EMAIL_ID, now_s(), NULL));
	sf_profile_init(&f->prof, f->srv->base, f->secret);
	f->prof.timeout = 2;
	f->prof.rollup_fields = g_ptr_array_new_with_free_func(g_free);
	for (const char *const *a = all; *a != NULL; a++)
		g_ptr_array_add(f->prof.rollup_fields, g_strdup(*a));
	f->env.profile = &f->prof;
	f->env.db = f->db;
	f->ev = sf_job_event("sf/bounce/1", MID, "{\"kind\":\"bounced\",\"message_id\":\"" MID "\","
	    "\"recipients\":[{\"recipient\":\"bob@customer.test\",\"failed\":true}]}");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	sf_job_free(f->ev);
	sf_profile_clear(&f->prof);
	db_close(f->db);
	test_http_stop(f->srv);
	limiter_free(f->lim);
	testutil_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->secret);
	g_free(f);
	return 0;
}

/* A token in the spool's cache, as an earlier run left it. */
static void
cache_token(fixture *f, const char *tok)
{
	assert_true(crm_token_put(f->db, "sf", tok, f->srv->base, now_s() + 3600, now_s(), NULL));
}

static const char token_answer[] =
    "{\"access_token\":\"fresh-token\",\"instance_url\":\"%s\",\"id\":\"x\",\"token_type\":\"Bearer\","
    "\"issued_at\":\"1\",\"signature\":\"s\"}";

/* Every kind of answer to the rollup PATCH. */
static void
test_answers(void **state)
{
	fixture *f = *state;
	char *tok = g_strdup_printf(token_answer, f->srv->base);
	static const char e401[] = "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]";
	static const char e403[] = "[{\"message\":\"TotalRequests Limit exceeded.\",\"errorCode\":\"REQUEST_LIMIT_EXCEEDED\"}]";
	const struct {
		const char *label;
		test_answer a[3];
		conn_status want;
		int retry_after, paused_min;
		const char *words;
		int requests;
		const char *bearer;
	} cases[] = {
		{ "204: done", { { 204, NULL, NULL, 0 } }, CONN_OK, -1, 0, NULL, 1, "Bearer cached-token" },
		{ "401: one new token, then done", { { 401, SF_JSON, e401, 0 }, { 200, SF_JSON, tok, 0 },
		  { 204, NULL, NULL, 0 } }, CONN_OK, -1, 0, NULL, 3, "Bearer fresh-token" },
		{ "401 again with the new token: dead", { { 401, SF_JSON, e401, 0 }, { 200, SF_JSON, tok, 0 },
		  { 401, SF_JSON, e401, 0 } }, CONN_PERMANENT, -1, 0, "HTTP 401 INVALID_SESSION_ID: Session expired",
		  3, "Bearer fresh-token" },
		{ "403 REQUEST_LIMIT_EXCEEDED: the profile waits 300 s", { { 403, SF_JSON, e403, 0 } },
		  CONN_RETRY, 300, 290, "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.", 1, NULL },
		{ "403 REQUEST_LIMIT_EXCEEDED with Retry-After", { { 403, SF_JSON "Retry-After: 120\n", e403, 0 } },
		  CONN_RETRY, 120, 110, "REQUEST_LIMIT_EXCEEDED", 1, NULL },
		{ "429 with Retry-After: throttled", { { 429, SF_JSON "Retry-After: 7\n", e403, 0 } },
		  CONN_RETRY, 7, 5, "REQUEST_LIMIT_EXCEEDED", 1, NULL },
		{ "503 with Retry-After", { { 503, SF_JSON "Retry-After: 5\n",
		  "[{\"message\":\"down\",\"errorCode\":\"SERVER_UNAVAILABLE\"}]", 0 } },
		  CONN_RETRY, 5, 3, "SERVER_UNAVAILABLE: down", 1, NULL },
		{ "500: retried with backoff", { { 500, SF_JSON,
		  "[{\"message\":\"An unexpected error occurred.\",\"errorCode\":\"UNKNOWN_EXCEPTION\"}]", 0 } },
		  CONN_RETRY, -1, 0, "UNKNOWN_EXCEPTION", 1, NULL },
		{ "400 INVALID_FIELD: dead, the vendor's words kept", { { 400, SF_JSON,
		  "[{\"message\":\"No such column 'Opens__c' on sobject of type EmailMessage\","
		  "\"errorCode\":\"INVALID_FIELD\",\"fields\":[\"Opens__c\"]}]", 0 } }, CONN_PERMANENT, -1, 0,
		  "HTTP 400 INVALID_FIELD: No such column 'Opens__c' on sobject of type EmailMessage", 1, NULL },
		{ "no answer in time: retried", { { 204, NULL, NULL, 3500 } }, CONN_RETRY, -1, 0, NULL, 1, NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		connector *c;
		conn_result r;
		int before = f->srv->requests;

		limiter_free(f->lim);
		f->env.limiter = f->lim = limiter_new(0);
		cache_token(f, "cached-token");
		for (int k = 0; k < 3 && cases[i].a[k].status != 0; k++)
			test_http_push(f->srv, &cases[i].a[k]);
		c = connector_open(&f->env, NULL);
		connector_event(c, f->ev, now_s(), &r);
		if (r.status != cases[i].want || r.retry_after != cases[i].retry_after ||
		    (cases[i].words != NULL && (r.error == NULL || strstr(r.error, cases[i].words) == NULL)) ||
		    f->srv->requests - before != cases[i].requests ||
		    limiter_paused_for(f->lim) < cases[i].paused_min ||
		    (cases[i].paused_min == 0 && limiter_paused_for(f->lim) > 0))
			fail_msg("%s: status %d retry_after %d paused %d requests %d: %s", cases[i].label, r.status,
			    r.retry_after, limiter_paused_for(f->lim), f->srv->requests - before, r.error);
		if (cases[i].bearer != NULL)
			assert_string_equal(test_http_header(f->srv, "authorization"), cases[i].bearer);
		conn_result_clear(&r);
		connector_close(c);
		g_usleep(cases[i].a[0].delay_ms * 1000);    /* let a slow answer finish */
	}
	g_free(tok);
}

/* The PATCH as documented: path with api_version, headers, the six
 * rollups with their JSON types. */
static void
test_request_shape(void **state)
{
	fixture *f = *state;
	static const test_answer ok = { 204, NULL, NULL, 0 };
	connector *c;
	conn_result r;
	JsonNode *body;
	JsonObject *o;

	f->prof.api_version = g_strdup("62.0");
	cache_token(f, "cached-token");
	test_http_push(f->srv, &ok);
	c = connector_open(&f->env, NULL);
	connector_event(c, f->ev, now_s(), &r);
	assert_int_equal(r.status, CONN_OK);
	assert_string_equal(f->srv->method, "PATCH");
	assert_string_equal(f->srv->path, "/services/data/v62.0/sobjects/EmailMessage/" EMAIL_ID);
	assert_string_equal(test_http_header(f->srv, "content-type"), "application/json");
	assert_string_equal(test_http_header(f->srv, "accept"), "application/json");
	body = json_from_string(f->srv->body->str, NULL);
	assert_non_null(body);
	o = json_node_get_object(body);
	assert_int_equal(json_object_get_size(o), 6);
	assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(o, "First__c")));   /* never opened */
	assert_int_equal(json_object_get_int_member(o, "Opens__c"), 0);
	assert_int_equal(json_object_get_int_member(o, "Clicks__c"), 0);
	assert_false(json_object_get_boolean_member(o, "Replied__c"));
	assert_false(json_object_get_boolean_member(o, "Bounced__c"));    /* not kept locally here */
	json_node_unref(body);
	conn_result_clear(&r);
	connector_close(c);
}

/* The JWT's aud: the login server, test.salesforce.com for a sandbox. */
static void
test_jwt_audience(void **state)
{
	fixture *f = *state;
	static const struct { const char *url, *aud; } cases[] = {
		{ "https://acme.my.salesforce.com", "https://login.salesforce.com" },
		{ "https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com" },
	};
	char *key = g_build_filename(f->dir, "sf.key", NULL), *pub = g_build_filename(f->dir, "sf.pub", NULL);
	static const test_answer refused = { 400, SF_JSON, "{\"error\":\"invalid_grant\",\"error_description\":\"no\"}", 0 };

	assert_true(sf_make_keys(key, pub));
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		connector *c;
		conn_result r;
		char *assertion, **parts, *claims;
		gsize n;
		JsonNode *cl;

		sf_profile_clear(&f->prof);
		sf_profile_init(&f->prof, cases[i].url, NULL);
		f->prof.auth = CRM_AUTH_JWT_BEARER;
		f->prof.username = g_strdup(SF_USER);
		f->prof.private_key_file = g_strdup(key);
		f->prof.token_url = g_strdup_printf("%s/services/oauth2/token", f->srv->base);
		f->prof.rollup_fields = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(f->prof.rollup_fields, g_strdup("opens=Opens__c"));
		test_http_push(f->srv, &refused);
		c = connector_open(&f->env, NULL);
		assert_non_null(c);
		connector_event(c, f->ev, now_s(), &r);
		assert_int_equal(r.status, CONN_PERMANENT);
		assert_non_null(strstr(r.error, "invalid_grant"));
		assertion = strstr(f->srv->body->str, "assertion=");
		assert_non_null(assertion);
		parts = g_strsplit(assertion + strlen("assertion="), ".", 3);
		for (char *p = parts[1]; *p != '\0'; p++)
			*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
		claims = g_strdup_printf("%s%s", parts[1], strlen(parts[1]) % 4 == 2 ? "==" :
		    strlen(parts[1]) % 4 == 3 ? "=" : "");
		guchar *raw = g_base64_decode(claims, &n);
		char *text = g_strndup((const char *)raw, n);
		cl = json_from_string(text, NULL);
		assert_non_null(cl);
		g_free(raw);
		g_free(text);
		assert_string_equal(json_object_get_string_member(json_node_get_object(cl), "aud"), cases[i].aud);
		assert_string_equal(json_object_get_string_member(json_node_get_object(cl), "iss"), SF_CLIENT_ID);
		assert_string_equal(json_object_get_string_member(json_node_get_object(cl), "sub"), SF_USER);
		json_node_unref(cl);
		g_free(claims);
		g_strfreev(parts);
		conn_result_clear(&r);
		connector_close(c);
	}
	g_free(key);
	g_free(pub);
}

/* Secret and key files: one open to others (or not a key) refuses to
 * open, naming the file; so do missing options. */
static void
test_open_refused(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		gboolean jwt;
		const char *text;
		int mode;
		const char *version;
		const char *words;       /* NULL: opens */
	} cases[] = {
		{ "client secret 0600 opens", FALSE, "s3cret\n", 0600, NULL, NULL },
		{ "client secret 0644 refused", FALSE, "s3cret\n", 0644, NULL, "other users" },
		{ "client secret 0606 refused", FALSE, "s3cret\n", 0606, NULL, "other users" },
		{ "key 0600 opens", TRUE, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0600,
		  NULL, NULL },
		{ "key 0644 refused", TRUE, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0644,
		  NULL, "other users" },
		{ "a key file that is no key", TRUE, "hello\n", 0600, NULL, "not a PEM private key" },
		{ "a bad api_version", FALSE, "s3cret\n", 0600, "sixty-one", "api_version" },
	};
	char *path = g_build_filename(f->dir, "secret-or-key", NULL);

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		GError *e = NULL;
		connector *c;

		assert_true(sf_write_file(path, cases[i].text, cases[i].mode));
		sf_profile_clear(&f->prof);
		sf_profile_init(&f->prof, f->srv->base, cases[i].jwt ? NULL : path);
		f->prof.api_version = g_strdup(cases[i].version);
		if (cases[i].jwt) {
			f->prof.auth = CRM_AUTH_JWT_BEARER;
			f->prof.username = g_strdup(SF_USER);
			f->prof.private_key_file = g_strdup(path);
		}
		c = connector_open(&f->env, &e);
		if ((c != NULL) != (cases[i].words == NULL) ||
		    (cases[i].words != NULL && (strstr(e->message, cases[i].words) == NULL ||
		     (strstr(cases[i].label, "api_version") == NULL && strstr(e->message, path) == NULL))))
			fail_msg("%s: %s", cases[i].label, e != NULL ? e->message : "opened");
		g_clear_error(&e);
		connector_close(c);
	}
	/* an option missing */
	sf_profile_clear(&f->prof);
	sf_profile_init(&f->prof, f->srv->base, NULL);
	GError *e = NULL;
	assert_null(connector_open(&f->env, &e));
	assert_non_null(strstr(e->message, "client_secret_file"));
	g_clear_error(&e);
	g_free(path);
}

/* SOQL string literals ("Quoted String Escape Sequences"). */
static void
test_soql_quote(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "<a@b>", "'<a@b>'" },
		{ "<o'brien@x>", "'<o\\'brien@x>'" },
		{ "back\\slash", "'back\\\\slash'" },
		{ "say \"hi\"", "'say \\\"hi\\\"'" },
		{ "line\nbreak\ttab", "'line\\nbreak\\ttab'" },
		{ "bell\a", "'bell '" },
	};

	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *q = sf_soql_quote(cases[i].in);
		if (strcmp(q, cases[i].out) != 0)
			fail_msg("%s: %s, want %s", cases[i].in, q, cases[i].out);
		g_free(q);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwt_audience, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refused, setup, teardown),
		cmocka_unit_test(test_soql_quote),
	};

	return cmocka_run_group_tests_name("salesforce_http", tests, NULL, NULL);
}

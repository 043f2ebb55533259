/*
 * test_oauth.c - OAuth2 tokens (core/crm/oauth.c) against a token
 * endpoint on 127.0.0.1: each grant's form fields, the token cached in
 * memory and in the spool (a second worker mints nothing), refetched after
 * a 401 (invalidate), expiry and the margin, the vendors' answers mapped
 * to done / retry / dead (400 invalid_client, 5xx, Zoho's 200 "Access
 * Denied"), Salesforce's instance_url and missing expires_in, Zoho's
 * api_domain, and the JWT bearer assertion verified with the public key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "crm/oauth.h"
#include "crm/records.h"
#include "testutil.h"
#include "test_http_server.h"

typedef struct fixture {
	test_http *srv;
	char *dir;
	crm_db *db;
	http_client *http;
	char *token_url;
} fixture;

static int
setup(void **state)
{
	fixture *f = g_new0(fixture, 1);
	http_client_opts o = { NULL, 5, 2, 65536, "test", NULL };
	char *path;

	f->srv = test_http_start();
	f->dir = testutil_tmpdir();
	path = g_build_filename(f->dir, "spool.db", NULL);
	f->db = db_open(path, 1000, NULL);
	assert_non_null(f->db);
	g_free(path);
	f->http = http_client_new(&o, NULL);
	f->token_url = g_strdup_printf("%s/oauth2/v2.0/token", f->srv->base);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	http_client_free(f->http);
	db_close(f->db);
	test_http_stop(f->srv);
	testutil_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->token_url);
	g_free(f);
	return 0;
}

/* Client-credentials params for profile "dyn". */
static oauth_params
cc_params(fixture *f)
{
	oauth_params p = { 0 };

	p.grant = OAUTH_CLIENT_CREDENTIALS;
	p.profile = "dyn";
	p.token_url = f->token_url;
	p.client_id = "11111111-2222-3333-4444-555555555555";
	p.client_secret = "s3cret&=+";
	p.scope = "https://org.crm.dynamics.com/.default";
	return p;
}

/* The form field name of the last request, decoded. */
static char *
form_field(fixture *f, const char *name)
{
	char **pairs = g_strsplit(f->srv->body->str, "&", -1);
	char *out = NULL;

	for (char **p = pairs; *p != NULL && out == NULL; p++) {
		char *eq = strchr(*p, '=');
		if (eq != NULL && (gsize)(eq - *p) == strlen(name) && strncmp(*p, name, eq - *p) == 0)
			out = g_uri_unescape_string(eq + 1, NULL);
	}
	g_strfreev(pairs);
	return out;
}

/* Client credentials: the form, the token, the cache in memory and in the
 * spool, a second client reusing it, invalidate -> a new one. */
static void
test_client_credentials(void **state)
{
	fixture *f = *state;
	oauth_params p = cc_params(f);
	oauth_client *o = oauth_new(&p, f->http, f->db, NULL), *o2;
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	const char *tok;
	char *v;

	f->srv->answer.body = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"tok-1\"}";
	tok = oauth_token(o, 1000000, NULL, &res);
	assert_string_equal(tok, "tok-1");
	assert_string_equal(f->srv->method, "POST");
	assert_string_equal(f->srv->path, "/oauth2/v2.0/token");
	assert_string_equal(test_http_header(f->srv, "content-type"), "application/x-www-form-urlencoded");
	v = form_field(f, "grant_type");
	assert_string_equal(v, "client_credentials");
	g_free(v);
	v = form_field(f, "client_secret");
	assert_string_equal(v, "s3cret&=+");
	g_free(v);
	v = form_field(f, "scope");
	assert_string_equal(v, "https://org.crm.dynamics.com/.default");
	g_free(v);
	/* cached: no second request, also not from another worker's client */
	assert_string_equal(oauth_token(o, 1000000 + 3000, NULL, &res), "tok-1");
	o2 = oauth_new(&p, f->http, f->db, NULL);
	assert_string_equal(oauth_token(o2, 1000000 + 3000, NULL, &res), "tok-1");
	assert_int_equal(f->srv->requests, 1);
	/* inside the margin before expiry: a new one */
	f->srv->answer.body = "{\"expires_in\":3599,\"access_token\":\"tok-2\"}";
	assert_string_equal(oauth_token(o, 1000000 + 3599 - OAUTH_MARGIN, NULL, &res), "tok-2");
	assert_int_equal(f->srv->requests, 2);
	/* the CRM refused it: invalidate, the next call mints */
	f->srv->answer.body = "{\"expires_in\":3599,\"access_token\":\"tok-3\"}";
	oauth_invalidate(o2);
	assert_string_equal(oauth_token(o2, 1000000 + 3600, NULL, &res), "tok-3");
	assert_int_equal(f->srv->requests, 3);
	oauth_free(o);
	oauth_free(o2);
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
	{ "Entra invalid_client is dead", 401, NULL,
	  "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret\"}",
	  CONN_PERMANENT, -1, "invalid_client: AADSTS7000215" },
	{ "Salesforce invalid_grant is dead", 400, NULL,
	  "{\"error\":\"invalid_grant\",\"error_description\":\"authentication failure\"}",
	  CONN_PERMANENT, -1, "invalid_grant: authentication failure" },
	{ "Zoho throttled mint: 200 Access Denied, retry in a minute", 200, NULL,
	  "{\"error\":\"Access Denied\",\"error_description\":\"You have made too many requests\","
	  "\"status\":\"failure\"}", CONN_RETRY, 60, "Access Denied" },
	{ "503 with Retry-After retries then", 503, "Retry-After: 12", "", CONN_RETRY, 12, "HTTP 503" },
	{ "500 retries", 500, NULL, "boom", CONN_RETRY, -1, "HTTP 500" },
	{ "200 that is not JSON retries", 200, NULL, "<html>", CONN_RETRY, 60, "no access_token" },
};

/* Each answer of the token endpoint. */
static void
test_answers(void **state)
{
	fixture *f = *state;
	oauth_params p = cc_params(f);

	for (size_t i = 0; i < G_N_ELEMENTS(answers); i++) {
		const answer_case *c = &answers[i];
		oauth_client *o = oauth_new(&p, f->http, NULL, NULL);
		conn_result res = { CONN_OK, -1, NULL, FALSE };

		f->srv->answer = (test_answer){ c->status, c->headers, c->body, 0 };
		if (oauth_token(o, 1000000, NULL, &res) != NULL)
			fail_msg("%s: got a token", c->label);
		if (res.status != c->want || res.retry_after != c->want_retry_after ||
		    res.error == NULL || strstr(res.error, c->want_error) == NULL)
			fail_msg("%s: status %d retry_after %d error %s", c->label, res.status,
			    res.retry_after, res.error ? res.error : "-");
		conn_result_clear(&res);
		oauth_free(o);
	}
}

/* Zoho: refresh grant, api_domain, expires_in as a string, the 300 s margin. */
static void
test_refresh_token(void **state)
{
	fixture *f = *state;
	oauth_params p = cc_params(f);
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	const char *inst = NULL;
	oauth_client *o;
	char *v;

	p.grant = OAUTH_REFRESH_TOKEN;
	p.profile = "zoho";
	p.scope = NULL;
	p.refresh_token = "1000.refresh.token";
	o = oauth_new(&p, f->http, f->db, NULL);
	f->srv->answer.body = "{\"access_token\":\"1000.access\",\"api_domain\":\"https://www.zohoapis.eu\","
	    "\"token_type\":\"Bearer\",\"expires_in\":\"3600\"}";
	assert_string_equal(oauth_token(o, 1000, &inst, &res), "1000.access");
	assert_string_equal(inst, "https://www.zohoapis.eu");
	v = form_field(f, "grant_type");
	assert_string_equal(v, "refresh_token");
	g_free(v);
	v = form_field(f, "refresh_token");
	assert_string_equal(v, "1000.refresh.token");
	g_free(v);
	assert_null(form_field(f, "scope"));
	assert_string_equal(oauth_token(o, 1000 + 3600 - 301, NULL, &res), "1000.access");
	assert_int_equal(f->srv->requests, 1);
	(void)oauth_token(o, 1000 + 3600 - 300, NULL, &res);
	assert_int_equal(f->srv->requests, 2);
	oauth_free(o);
}

/* Salesforce JWT bearer: the assertion's header, claims and RS256
 * signature (checked with the public key), instance_url, no expires_in. */
static void
test_jwt_bearer(void **state)
{
	fixture *f = *state;
	oauth_params p = cc_params(f);
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	EVP_PKEY *key = EVP_RSA_gen(2048);
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem, *assertion, **parts, *input;
	const char *inst = NULL;
	gsize siglen, len;
	guchar *sig, *claims;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	oauth_client *o;

	assert_non_null(key);
	PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	len = (gsize)BIO_pending(bio);
	pem = g_malloc0(len + 1);
	BIO_read(bio, pem, (int)len);
	p.grant = OAUTH_JWT_BEARER;
	p.profile = "sf";
	p.client_secret = NULL;
	p.private_key_pem = pem;
	p.jwt_subject = "integration@example.com";
	p.jwt_audience = "https://login.salesforce.com";
	p.default_lifetime = 1800;
	o = oauth_new(&p, f->http, NULL, NULL);
	f->srv->answer.body = "{\"access_token\":\"00D!sf\",\"instance_url\":\"https://example.my.salesforce.com\","
	    "\"token_type\":\"Bearer\",\"scope\":\"api\"}";
	assert_string_equal(oauth_token(o, 1795000000, &inst, &res), "00D!sf");
	assert_string_equal(inst, "https://example.my.salesforce.com");
	assertion = form_field(f, "assertion");
	parts = g_strsplit(assertion, ".", -1);
	assert_int_equal(g_strv_length(parts), 3);
	/* base64url -> base64 for GLib */
	for (int i = 0; i < 3; i++) {
		g_strdelimit(parts[i], "-", '+');
		g_strdelimit(parts[i], "_", '/');
	}
	char *c64 = g_strdup_printf("%s%s", parts[1], strlen(parts[1]) % 4 == 2 ? "==" :
	    strlen(parts[1]) % 4 == 3 ? "=" : "");
	claims = g_base64_decode(c64, &len);
	char *claims_s = g_strndup((char *)claims, len);
	assert_non_null(strstr(claims_s, "\"iss\":\"11111111-2222-3333-4444-555555555555\""));
	assert_non_null(strstr(claims_s, "\"sub\":\"integration@example.com\""));
	assert_non_null(strstr(claims_s, "\"aud\":\"https://login.salesforce.com\""));
	assert_non_null(strstr(claims_s, "\"exp\":1795000180"));
	char *s64 = g_strdup_printf("%s%s", parts[2], strlen(parts[2]) % 4 == 2 ? "==" :
	    strlen(parts[2]) % 4 == 3 ? "=" : "");
	sig = g_base64_decode(s64, &siglen);
	/* the signed input is the two first parts as sent (base64url) */
	char **sent = g_strsplit(assertion, ".", -1);
	input = g_strdup_printf("%s.%s", sent[0], sent[1]);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, siglen, (guchar *)input, strlen(input)), 1);
	/* a token without expires_in lives default_lifetime */
	assert_string_equal(oauth_token(o, 1795000000 + 1800 - OAUTH_MARGIN - 1, NULL, &res), "00D!sf");
	assert_int_equal(f->srv->requests, 1);
	g_strfreev(sent);
	g_free(input);
	g_free(sig);
	g_free(s64);
	g_free(claims_s);
	g_free(claims);
	g_free(c64);
	g_strfreev(parts);
	g_free(assertion);
	EVP_MD_CTX_free(md);
	oauth_free(o);
	BIO_free(bio);
	EVP_PKEY_free(key);
	g_free(pem);
}

/* A key that is not a key: dead, with the reason. */
static void
test_jwt_bad_key(void **state)
{
	fixture *f = *state;
	oauth_params p = cc_params(f);
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	oauth_client *o;

	p.grant = OAUTH_JWT_BEARER;
	p.client_secret = NULL;
	p.private_key_pem = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
	p.jwt_subject = "u@example.com";
	p.jwt_audience = "https://login.salesforce.com";
	o = oauth_new(&p, f->http, NULL, NULL);
	assert_null(oauth_token(o, 1000, NULL, &res));
	assert_int_equal(res.status, CONN_PERMANENT);
	assert_non_null(strstr(res.error, "cannot sign the JWT"));
	assert_int_equal(f->srv->requests, 0);
	conn_result_clear(&res);
	oauth_free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwt_bearer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwt_bad_key, setup, teardown),
	};
	return cmocka_run_group_tests_name("oauth", tests, NULL, NULL);
}

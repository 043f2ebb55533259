/*
 * test_sf_lib.c - the Salesforce connector tests' emulator, jobs and
 * profiles (see test_sf_lib.h). The emulator is a child process started
 * here and stopped by its pid (and dies with the test process should the
 * test abort); its key pair is made with libcrypto.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "test_sf_lib.h"
#include "testutil.h"

/* Write text to path with mode. */
gboolean
sf_write_file(const char *path, const char *text, int mode)
{
	return g_file_set_contents(path, text, -1, NULL) && chmod(path, (mode_t)mode) == 0;
}

/* An RSA key pair: the private key PEM to priv, the public one to pub. */
gboolean
sf_make_keys(const char *priv, const char *pub)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	BIO *a = BIO_new(BIO_s_mem()), *b = BIO_new(BIO_s_mem());
	char *pa = NULL, *pb = NULL, *ta, *tb;
	long na, nb;
	gboolean ok;

	ok = key != NULL && PEM_write_bio_PrivateKey(a, key, NULL, NULL, 0, NULL, NULL) == 1 &&
	    PEM_write_bio_PUBKEY(b, key) == 1;
	na = BIO_get_mem_data(a, &pa);
	nb = BIO_get_mem_data(b, &pb);
	ta = g_strndup(pa, (gsize)na);
	tb = g_strndup(pb, (gsize)nb);
	ok = ok && sf_write_file(priv, ta, 0600) && sf_write_file(pub, tb, 0644);
	g_free(ta);
	g_free(tb);
	BIO_free(a);
	BIO_free(b);
	EVP_PKEY_free(key);
	return ok;
}

/* The emulator's config: the example's, with our secret and public key. */
static gboolean
write_config(sf_emu *e, const char *path, const char *pub)
{
	char *example = g_build_filename(TEST_SRCDIR, "tests", "crm-emulator", "example-config.json", NULL);
	char *hook = g_build_filename(TEST_SRCDIR, "tests", "crm-emulator", "example-webhook.secret", NULL);
	JsonParser *p = json_parser_new();
	gboolean ok = json_parser_load_from_file(p, example, NULL);
	JsonObject *root = ok ? json_node_get_object(json_parser_get_root(p)) : NULL;
	JsonObject *sfo = root != NULL ? json_object_get_object_member(root, "salesforce") : NULL;

	if (sfo != NULL) {
		JsonGenerator *g = json_generator_new();
		json_object_set_string_member(sfo, "client_id", SF_CLIENT_ID);
		json_object_set_string_member(sfo, "client_secret", SF_SECRET);
		json_object_set_string_member(sfo, "username", SF_USER);
		json_object_set_string_member(sfo, "public_key_file", pub);
		json_object_set_string_member(json_object_get_object_member(root, "webhook"), "secret_file", hook);
		json_generator_set_root(g, json_parser_get_root(p));
		ok = json_generator_to_file(g, path, NULL);
		g_object_unref(g);
	} else {
		ok = FALSE;
	}
	(void)e;
	g_object_unref(p);
	g_free(example);
	g_free(hook);
	return ok;
}

/* In the emulator's process: die with the test (an aborted test skips
 * its teardown). */
static void
die_with_parent(gpointer data)
{
	(void)data;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Start the emulator. */
sf_emu *
sf_emu_start(void)
{
	sf_emu *e = g_new0(sf_emu, 1);
	char *py = g_find_program_in_path("python3"), *ossl = g_find_program_in_path("openssl");
	char *script = g_build_filename(TEST_SRCDIR, "tests", "crm-emulator", "emulator.py", NULL);
	char *cfg, *pub, *portfile, *port = NULL;
	http_client_opts o = { NULL, 10, 5, 64 * 1024 * 1024, "test", NULL };
	gboolean ok = py != NULL && ossl != NULL;

	e->dir = testutil_tmpdir();
	cfg = g_build_filename(e->dir, "emu.json", NULL);
	pub = g_build_filename(e->dir, "sf-public.pem", NULL);
	portfile = g_build_filename(e->dir, "port", NULL);
	e->secret_file = g_build_filename(e->dir, "sf.secret", NULL);
	e->key_file = g_build_filename(e->dir, "sf.key", NULL);
	ok = ok && sf_make_keys(e->key_file, pub) && sf_write_file(e->secret_file, SF_SECRET "\n", 0600) &&
	    write_config(e, cfg, pub);
	if (ok) {
		char *argv[] = { py, script, "--config", cfg, "--port", "0", "--port-file", portfile, NULL };
		ok = g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
		    G_SPAWN_STDERR_TO_DEV_NULL, die_with_parent, NULL, &e->pid, NULL);
	}
	for (int i = 0; ok && i < 200 && port == NULL; i++) {
		if (!g_file_get_contents(portfile, &port, NULL, NULL) || *g_strstrip(port) == '\0') {
			g_clear_pointer(&port, g_free);
			g_usleep(50000);
		}
	}
	if (ok && port != NULL) {
		e->base = g_strdup_printf("http://127.0.0.1:%s", port);
		e->url = g_strdup_printf("%s/salesforce", e->base);
		e->http = http_client_new(&o, NULL);
	}
	g_free(port);
	g_free(py);
	g_free(ossl);
	g_free(script);
	g_free(cfg);
	g_free(pub);
	g_free(portfile);
	if (e->http == NULL)
		e = sf_emu_stop(e);
	return e;
}

/* Stop (by pid) and free. */
sf_emu *
sf_emu_stop(sf_emu *e)
{
	if (e == NULL)
		return NULL;
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		waitpid(e->pid, NULL, 0);
		g_spawn_close_pid(e->pid);
	}
	http_client_free(e->http);
	testutil_rmtree(e->dir);
	g_free(e->dir);
	g_free(e->base);
	g_free(e->url);
	g_free(e->secret_file);
	g_free(e->key_file);
	g_free(e);
	return NULL;
}

/* A control call. */
JsonNode *
sf_emu_json(sf_emu *e, const char *method, const char *path, const char *json)
{
	char *url = g_strdup_printf("%s%s", e->base, path);
	const char *headers[] = { "Content-Type: application/json", NULL };
	http_request rq = { method, url, headers, json, json != NULL ? strlen(json) : 0 };
	http_response rs;
	JsonNode *out = NULL;

	if (http_perform(e->http, &rq, &rs) && rs.body->len > 0) {
		char *text = g_strndup((const char *)rs.body->data, rs.body->len);
		out = json_from_string(text, NULL);
		g_free(text);
	}
	http_response_clear(&rs);
	g_free(url);
	return out;
}

/* The records of a kind. */
JsonNode *
sf_emu_records(sf_emu *e, const char *kind)
{
	char *path = g_strdup_printf("/_emu/records?vendor=salesforce&kind=%s", kind);
	JsonNode *n = sf_emu_json(e, "GET", path, NULL);

	g_free(path);
	assert_non_null(n);
	assert_true(JSON_NODE_HOLDS_ARRAY(n));
	return n;
}

/* How many records of a kind. */
guint
sf_emu_count(sf_emu *e, const char *kind)
{
	JsonNode *n = sf_emu_records(e, kind);
	guint c = json_array_get_length(json_node_get_array(n));

	json_node_unref(n);
	return c;
}

/* The first record whose field is value. */
JsonObject *
sf_emu_find(JsonNode *records, const char *field, const char *value)
{
	JsonArray *a = json_node_get_array(records);

	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		if (json_object_has_member(o, field) &&
		    g_strcmp0(json_object_get_string_member_with_default(o, field, NULL), value) == 0)
			return o;
	}
	return NULL;
}

/* API requests matching method and a path part. */
guint
sf_emu_requests(sf_emu *e, const char *method, const char *part)
{
	JsonNode *n = sf_emu_json(e, "GET", "/_emu/requests?vendor=salesforce", NULL);
	JsonArray *a = n != NULL ? json_node_get_array(n) : NULL;
	guint c = 0;

	for (guint i = 0; a != NULL && i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		if (json_object_get_boolean_member_with_default(o, "token_request", FALSE))
			continue;
		if ((method == NULL || strcmp(json_object_get_string_member(o, "method"), method) == 0) &&
		    (part == NULL || strstr(json_object_get_string_member(o, "path"), part) != NULL))
			c++;
	}
	if (n != NULL)
		json_node_unref(n);
	return c;
}

/* A save job. */
spool_job *
sf_job_save(const char *key, const char *direction, const char *raw, const char *meta, const char *rcpt)
{
	spool_job *j = g_new0(spool_job, 1);

	j->id = 1;
	j->kind = JOB_SAVE;
	j->profile = g_strdup("sf");
	j->idem_key = g_strdup(key);
	j->queue_id = g_strdup("QTEST");
	j->direction = g_strdup(direction);
	j->rcpts = g_ptr_array_new_with_free_func(g_free);
	if (rcpt != NULL) {
		char **list = g_strsplit(rcpt, ",", -1);
		for (char **r = list; *r != NULL; r++)
			g_ptr_array_add(j->rcpts, g_strdup(*r));
		g_strfreev(list);
	}
	j->payload = raw != NULL ? g_bytes_new(raw, strlen(raw)) : NULL;
	j->meta = g_strdup(meta);
	j->created_at = 1795000000;
	return j;
}

/* An event job. */
spool_job *
sf_job_event(const char *key, const char *message_id, const char *meta)
{
	spool_job *j = sf_job_save(key, "outbound", NULL, meta, NULL);

	j->kind = JOB_EVENT;
	j->message_id = g_strdup(message_id);
	return j;
}

/* Free a job made here. */
void
sf_job_free(spool_job *j)
{
	if (j == NULL)
		return;
	g_free(j->profile);
	g_free(j->idem_key);
	g_free(j->queue_id);
	g_free(j->direction);
	g_ptr_array_unref(j->rcpts);
	if (j->payload != NULL)
		g_bytes_unref(j->payload);
	g_free(j->meta);
	g_free(j->message_id);
	g_free(j);
}

/* A client-credentials profile. */
void
sf_profile_init(crm_profile *p, const char *url, const char *secret_file)
{
	memset(p, 0, sizeof(*p));
	p->name = g_strdup("sf");
	p->type = g_strdup("salesforce");
	p->url = g_strdup(url);
	p->client_id = g_strdup(SF_CLIENT_ID);
	p->client_secret_file = g_strdup(secret_file);
	p->auth = CRM_AUTH_CLIENT_CREDENTIALS;
	p->timeout = 10;
	p->connect_timeout = 5;
	p->max_response_size = 4 * 1024 * 1024;
	p->max_body_size = 1024 * 1024;
	p->max_body_chars = 32000;
}

/* Free a profile's strings. */
void
sf_profile_clear(crm_profile *p)
{
	g_free(p->name);
	g_free(p->type);
	g_free(p->url);
	g_free(p->token_url);
	g_free(p->client_id);
	g_free(p->client_secret_file);
	g_free(p->private_key_file);
	g_free(p->username);
	g_free(p->api_version);
	if (p->rollup_fields != NULL)
		g_ptr_array_unref(p->rollup_fields);
	memset(p, 0, sizeof(*p));
}

/* The message the tests send, with a subject, Message-ID and text body:
 * From Alice (a user) to Bob (a contact) and zed (unknown), Cc Carol (a
 * lead), a text and an HTML part and a PDF attachment. */
static const char sent_fmt[] =
    "From: Alice Example <alice@example.com>\r\nTo: Bob <bob@customer.test>, zed@else.test\r\n"
    "Cc: carol@customer.test\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <%s>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--a\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n<p><b>Hello</b> Bob</p>\r\n--a--\r\n--b\r\n"
    "Content-Type: application/pdf; name=quote.pdf\r\nContent-Disposition: attachment; filename=quote.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOf\r\n--b--\r\n";

/* The sent message. */
char *
sf_sent_message(const char *subject, const char *mid, const char *text)
{
	return g_strdup_printf(sent_fmt, subject, mid, text);
}

/* Seed one record; its Id. */
char *
sf_emu_seed(sf_emu *e, const char *kind, const char *record_json)
{
	char *body = g_strdup_printf("{\"vendor\":\"salesforce\",\"kind\":\"%s\",\"records\":[%s]}", kind,
	    record_json);
	JsonNode *n = sf_emu_json(e, "POST", "/_emu/seed", body);
	char *id;

	assert_non_null(n);
	id = g_strdup(json_object_get_string_member(json_array_get_object_element(json_node_get_array(n), 0), "Id"));
	json_node_unref(n);
	g_free(body);
	return id;
}

/* A string member, or NULL. */
const char *
sf_str(JsonObject *o, const char *name)
{
	return json_object_get_string_member_with_default(o, name, NULL);
}

/* The only EmailMessage with a MessageIdentifier. */
JsonObject *
sf_the_email(JsonNode *emails, const char *mid_brackets)
{
	JsonArray *a = json_node_get_array(emails);
	JsonObject *found = NULL;

	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		if (g_strcmp0(sf_str(o, "MessageIdentifier"), mid_brackets) == 0) {
			if (found != NULL)
				fail_msg("two EmailMessages with %s", mid_brackets);
			found = o;
		}
	}
	if (found == NULL)
		fail_msg("no EmailMessage with %s", mid_brackets);
	return found;
}

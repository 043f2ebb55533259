/*
 * test_zoho_fixture.c - the fixture of the zoho connector's tests (see
 * test_zoho.h): the test HTTP server, a spool database, secret files and a
 * `zoho` profile aimed at the server, with helpers for jobs, answers,
 * directory records, a cached token and the last request's JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "test_zoho.h"
#include "testutil.h"

/* A file with text and mode. */
static void
write_file(const char *path, const char *text, mode_t mode)
{
	assert_true(g_file_set_contents(path, text, -1, NULL));
	assert_int_equal(chmod(path, mode), 0);
}

/* Server, database, secret files, profile, open connector. */
zf *
zf_new(void)
{
	zf *f = g_new0(zf, 1);
	char *db_path;

	f->srv = test_http_start();
	f->srv->answer.status = 500;
	f->srv->answer.body = "{\"code\":\"INTERNAL_ERROR\",\"message\":\"no answer queued\",\"status\":\"error\"}";
	f->dir = testutil_tmpdir();
	db_path = g_build_filename(f->dir, "spool.db", NULL);
	f->db = db_open(db_path, 2000, NULL);
	assert_non_null(f->db);
	g_free(db_path);
	f->secret_path = g_build_filename(f->dir, "zoho.secret", NULL);
	f->refresh_path = g_build_filename(f->dir, "zoho.refresh", NULL);
	write_file(f->secret_path, "zoho-secret\n", 0600);
	write_file(f->refresh_path, "1000.refresh.token\n", 0600);
	f->url = g_strdup(f->srv->base);
	f->token_url = g_strdup_printf("%s/oauth/v2/token", f->srv->base);
	f->prof.name = "z";
	f->prof.type = "zoho";
	f->prof.url = f->url;
	f->prof.token_url = f->token_url;
	f->prof.client_id = "1000.CLIENT";
	f->prof.client_secret_file = f->secret_path;
	f->prof.token_file = f->refresh_path;
	f->prof.timeout = 5;
	f->prof.connect_timeout = 2;
	f->prof.max_response_size = 256 * 1024;
	f->prof.max_body_size = 1024 * 1024;
	f->env.profile = &f->prof;
	f->env.db = f->db;
	assert_true(zf_open(f, NULL));
	return f;
}

/* Stop and remove everything; NULL-safe. */
void
zf_free(zf *f)
{
	if (f == NULL)
		return;
	connector_close(f->c);
	db_close(f->db);
	test_http_stop(f->srv);
	testutil_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->secret_path);
	g_free(f->refresh_path);
	g_free(f->url);
	g_free(f->token_url);
	g_free(f);
}

/* (Re)open the connector with the profile as it is now. */
gboolean
zf_open(zf *f, GError **err)
{
	f->c = connector_close(f->c);
	f->c = connector_open(&f->env, err);
	return f->c != NULL;
}

/* A job as the spool hands it over. */
spool_job *
zf_job(job_kind kind, const char *idem, const char *direction, const char *raw, const char *meta)
{
	spool_job *j = g_new0(spool_job, 1);

	j->id = 7;
	j->kind = kind;
	j->profile = g_strdup("z");
	j->idem_key = g_strdup(idem);
	j->queue_id = g_strdup("QID1");
	j->direction = g_strdup(direction);
	j->rcpts = g_ptr_array_new_with_free_func(g_free);
	if (raw != NULL)
		j->payload = g_bytes_new(raw, strlen(raw));
	j->meta = g_strdup(meta);
	return j;
}

/* Free a job of zf_job. */
void
zf_job_free(spool_job *j)
{
	spool_job_free(j);
}

/* Save a job at ZF_NOW. */
conn_status
zf_save(zf *f, const spool_job *j, conn_result *res)
{
	connector_save(f->c, j, ZF_NOW, res);
	return res->status;
}

/* Deliver an event job at ZF_NOW (the connector only). */
conn_status
zf_event(zf *f, const spool_job *j, conn_result *res)
{
	connector_event(f->c, j, ZF_NOW, res);
	return res->status;
}

/* The last request's body parsed. */
JsonParser *
zf_json(zf *f, JsonObject **root)
{
	JsonParser *p = json_parser_new();

	assert_true(json_parser_load_from_data(p, f->srv->body->str, -1, NULL));
	*root = json_node_get_object(json_parser_get_root(p));
	return p;
}

/* Queue one answer of the server. */
void
zf_push(zf *f, unsigned status, const char *headers, const char *body)
{
	test_answer a = { status, headers, body, 0 };

	test_http_push(f->srv, &a);
}

/* One directory record, added before now. */
void
zf_contact(zf *f, const char *addr, dir_record_type type, const char *id, const char *name)
{
	directory_entry e = { (char *)addr, type, (char *)id, (char *)name, FALSE, 0 };

	assert_true(directory_upsert(f->db, &e, ZF_NOW - 100, NULL));
}

/* An access token in the spool's cache (no mint needed). */
void
zf_cache_token(zf *f, const char *token, const char *api_domain)
{
	assert_true(crm_token_put(f->db, "z", token, api_domain, ZF_NOW + 3600, ZF_NOW, NULL));
}

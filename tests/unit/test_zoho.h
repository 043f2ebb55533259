/*
 * test_zoho.h - the fixture the zoho connector's tests share
 * (test_zoho.c: saves, answers, tokens, attachments, limits;
 * test_zoho_events.c: rollup Notes, replies, directory sync): a
 * programmable HTTP server on 127.0.0.1, a spool database, the secret
 * files and a `zoho` profile pointing at the server, and helpers that make
 * jobs and read the last request's JSON.
 *
 * Ownership: zf_new returns a fixture freed with zf_free (it closes the
 * connector and stops the server); jobs from zf_job are freed with
 * zf_job_free; zf_json returns a parser the caller unrefs.
 *
 * Public: zf, zf_new, zf_free, zf_open, zf_job, zf_job_free, zf_save,
 *         zf_event, zf_json, zf_push, zf_contact, zf_cache_token, ZF_NOW,
 *         zoho_event_group.
 */
#ifndef CRM_TEST_ZOHO_H
#define CRM_TEST_ZOHO_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "crm/connector.h"
#include "crm/records.h"
#include "directory.h"
#include "test_http_server.h"

#define ZF_NOW ((gint64)1795000000)

typedef struct zf {
	test_http *srv;
	char *dir, *secret_path, *refresh_path, *url, *token_url;
	crm_db *db;
	crm_profile prof;
	conn_env env;
	connector *c;
} zf;

/* Server, database, secret files (0600), profile (url = the server). */
zf *zf_new(void);
void zf_free(zf *f);
/* (Re)open the connector; FALSE with *err. */
gboolean zf_open(zf *f, GError **err);
/* A job: JOB_SAVE with the raw message, or JOB_EVENT (raw NULL). */
spool_job *zf_job(job_kind kind, const char *idem, const char *direction, const char *raw,
    const char *meta);
void zf_job_free(spool_job *j);
/* Save / deliver an event; the result's status (res filled). */
conn_status zf_save(zf *f, const spool_job *j, conn_result *res);
conn_status zf_event(zf *f, const spool_job *j, conn_result *res);
/* The last request's body as JSON (root object in *root). */
JsonParser *zf_json(zf *f, JsonObject **root);
/* Queue one answer. */
void zf_push(zf *f, unsigned status, const char *headers, const char *body);
/* A directory record. */
void zf_contact(zf *f, const char *addr, dir_record_type type, const char *id, const char *name);
/* A cached access token, so no call mints. */
void zf_cache_token(zf *f, const char *token, const char *api_domain);

/* Run test_zoho_events.c's group; the number of failed tests. */
int zoho_event_group(void);

#endif

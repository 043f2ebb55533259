/*
 * test_sf_lib.h - what the Salesforce connector tests share: the CRM
 * emulator (tests/crm-emulator, Python) started on a free port with a
 * generated RSA key pair and client secret, its control API, and spool
 * jobs and profiles made from text.
 *
 * Ownership: sf_emu_start returns an emulator stopped (by its pid) and
 * freed with sf_emu_stop (NULL-safe). sf_emu_json returns a new JsonNode
 * (json_node_unref), or NULL. Jobs from sf_job_save / sf_job_event are
 * freed with sf_job_free; sf_profile_init fills a profile whose strings
 * belong to the caller's fixture (sf_profile_clear frees them).
 *
 * Public: sf_emu_start, sf_emu_stop, sf_emu_json, sf_emu_records,
 *         sf_emu_count, sf_emu_find, sf_emu_requests, sf_emu_seed, sf_the_email,
 *         sf_str, sf_sent_message, sf_job_save,
 *         sf_job_event, sf_job_free, sf_profile_init, sf_profile_clear,
 *         sf_make_keys, sf_write_file.
 */
#ifndef CRM_TEST_SF_LIB_H
#define CRM_TEST_SF_LIB_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "crm/connector.h"
#include "crm/http.h"

#define SF_CLIENT_ID "3MVG9emulatorConsumerKey"
#define SF_SECRET "salesforce-unit-test-secret"
#define SF_USER "integration@example.test"

typedef struct sf_emu {
	GPid pid;
	char *dir;               /* scratch: config, keys, secret */
	char *base;              /* http://127.0.0.1:PORT */
	char *url;               /* base + /salesforce */
	char *secret_file;       /* mode 0600 */
	char *key_file;          /* PEM private key, mode 0600 */
	http_client *http;
} sf_emu;

/* NULL when python3 or openssl is missing or it does not start. */
sf_emu *sf_emu_start(void);
sf_emu *sf_emu_stop(sf_emu *e);
/* METHOD path [json]; the answer's JSON (new), or NULL. */
JsonNode *sf_emu_json(sf_emu *e, const char *method, const char *path, const char *json);
/* The stored records of a kind (a new node holding an array). */
JsonNode *sf_emu_records(sf_emu *e, const char *kind);
guint sf_emu_count(sf_emu *e, const char *kind);
/* The first record of node (an array) whose field equals value, or NULL. */
JsonObject *sf_emu_find(JsonNode *records, const char *field, const char *value);
/* API requests (not token ones) whose path contains part, or all. */
guint sf_emu_requests(sf_emu *e, const char *method, const char *part);

/* Seed one record of kind (a JSON object's text); its Id (new). */
char *sf_emu_seed(sf_emu *e, const char *kind, const char *record_json);
/* The only EmailMessage of records whose MessageIdentifier is mid_brackets
 * (fails the test when there are none or two); borrowed from emails. */
JsonObject *sf_the_email(JsonNode *emails, const char *mid_brackets);
/* A string member of o, or NULL. */
const char *sf_str(JsonObject *o, const char *name);
/* The test message (see test_sf_lib.c), new. */
char *sf_sent_message(const char *subject, const char *mid, const char *text);

/* A save job of raw (copied) for profile "sf"; meta may be NULL. */
spool_job *sf_job_save(const char *key, const char *direction, const char *raw, const char *meta,
    const char *rcpt);
/* An event job with meta. */
spool_job *sf_job_event(const char *key, const char *message_id, const char *meta);
void sf_job_free(spool_job *j);

/* A client-credentials profile "sf" of url and secret (strings copied
 * into p, freed by sf_profile_clear). */
void sf_profile_init(crm_profile *p, const char *url, const char *secret_file);
void sf_profile_clear(crm_profile *p);
/* An RSA key pair: private PEM (0600) to priv, public PEM to pub. */
gboolean sf_make_keys(const char *priv, const char *pub);
/* Write text to path with mode; FALSE on failure. */
gboolean sf_write_file(const char *path, const char *text, int mode);

#endif

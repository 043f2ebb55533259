/*
 * test_hubspot.h - what the hubspot connector's tests share: a fixture
 * (an HTTP server on 127.0.0.1 standing in for api.hubapi.com, a spool
 * database with a directory, a private app token file, a profile and its
 * open connector) and helpers for jobs, answers and the request log.
 * test_hubspot.c holds the fixture, saving and fault tests and main;
 * test_hubspot_sync.c the rollup, directory sync and token file tests.
 *
 * Ownership: the fixture owns everything in it (hs_teardown frees it);
 * jobs from hs_job are freed with hs_job_free; hs_request returns a
 * parser the caller unrefs.
 *
 * Public: hs_setup, hs_teardown, hs_reopen, hs_job, hs_job_free, hs_answer,
 *         hs_request, hs_request_line, hs_seed_directory, HS_TOKEN,
 *         the test functions of test_hubspot_sync.c.
 */
#ifndef CRM_TEST_HUBSPOT_H
#define CRM_TEST_HUBSPOT_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "crm/connector.h"
#include "test_http_server.h"

#define HS_TOKEN "pat-na1-11111111-test"
#define HS_MID "q3.1@example.com"
#define HS_IDEM "hs/m/q3.1"
#define HS_DATE 1795348800    /* Sun, 22 Nov 2026 12:00:00 +0000 */

typedef struct hs_fixture {
	test_http *srv;
	char *dir, *token_path;
	crm_db *db;
	crm_limiter *lim;
	crm_profile prof;
	GPtrArray *rollups;       /* the profile's rollup_fields */
	conn_env env;
	connector *c;
} hs_fixture;

int hs_setup(void **state);
int hs_teardown(void **state);
/* Close and open the connector again (after changing the profile). */
void hs_reopen(hs_fixture *f);
/* A save job of the test message: direction, idempotency key, meta (or
 * NULL), attempts so far (counted at lease: 1 on the first try). */
spool_job *hs_job(const char *direction, const char *idem, const char *meta, int attempts);
/* An event job with this meta. */
spool_job *hs_event_job(const char *idem, const char *meta);
void hs_job_free(spool_job *j);
/* Queue one answer. */
void hs_answer(hs_fixture *f, unsigned status, const char *headers, const char *body);
/* Request i of the log: "METHOD PATH[?QUERY]" (new string). */
char *hs_request_line(hs_fixture *f, guint i);
/* The JSON body of request i (a parser: json_parser_get_root). */
JsonParser *hs_request(hs_fixture *f, guint i);
/* alice user 55, bob contact 601 "Bob Builder", carol account 900, erin
 * contact with a non-numeric id. */
void hs_seed_directory(hs_fixture *f);

/* test_hubspot_sync.c */
void test_rollup_mapped(void **state);
void test_rollup_note(void **state);
void test_bounce_sets_status(void **state);
void test_event_waits_for_email(void **state);
void test_reply_rolls_up(void **state);
void test_sync_full_then_incremental(void **state);
void test_sync_failures(void **state);
void test_token_file(void **state);

#endif

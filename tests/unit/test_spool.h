/*
 * test_spool.h - what the two halves of the spool test share: the fixture
 * (a fresh database per test in its own g_dir_make_tmp directory), small
 * helpers, and the database/cross-process tests of test_spool_db.c that
 * test_spool.c's main runs.
 *
 * Public (test-only): fixture, default_pol, setup_db, teardown_db,
 * query_int, enqueue, lease_one, lease_count, and the test_* functions
 * below.
 */
#ifndef CRM_TEST_SPOOL_H
#define CRM_TEST_SPOOL_H

#include <glib.h>
#include "db.h"
#include "spool.h"

typedef struct fixture {
	char *dir;
	char *path;
	crm_db *db;
} fixture;


/* max_attempts 3, backoff 60..3600 s, lease 300 s. */
extern const spool_policy default_pol;

int setup_db(void **state);
int teardown_db(void **state);
gint64 query_int(crm_db *db, const char *sql);
gint64 enqueue(crm_db *db, const char *key, gint64 now);
spool_job *lease_one(crm_db *db, const spool_policy *pol, gint64 now);
guint lease_count(crm_db *db, const spool_policy *pol, gint64 now, int max);

/* test_spool_db.c */
void test_migrate_fresh(void **state);
void test_enqueue_batch(void **state);
void test_nested_transactions(void **state);
void test_migrate_reopen(void **state);
void test_migrate_newer_refused(void **state);
void test_open_not_a_database(void **state);
void test_migrate_race(void **state);
void test_lease_atomic(void **state);
void test_concurrent_flushers(void **state);

#endif

/*
 * test_dynamics.h - what the dynamics365 connector tests share: the
 * fixture (a scratch spool, a secret file, a profile, the connector),
 * save and event jobs, and the emulator group (test_dynamics_emu.c).
 *
 * Ownership: dtest_* constructors return new objects freed with their
 * dtest_*_free; fixtures are freed by dtest_teardown.
 *
 * Public: dtest_setup_profile, dtest_open, dtest_teardown, dtest_job,
 *         dtest_job_free, dtest_dir_add, dtest_emu_group, DTEST_SECRET.
 */
#ifndef CRM_TEST_DYNAMICS_H
#define CRM_TEST_DYNAMICS_H

#include <glib.h>

#include "crm/connector.h"
#include "spool.h"
#include "directory.h"

#define DTEST_SECRET "dynamics-emulator-secret"

typedef struct dfix {
	char *dir;
	crm_db *db;
	crm_profile prof;
	conn_env env;
	connector *c;
	char *secret_path;
	char *url, *token_url;
	void *srv;                /* test_http * or NULL */
	char *emu;                /* emulator base URL or NULL */
} dfix;

/* A scratch dir, spool and secret file (mode 0600) and a profile on url. */
dfix *dtest_setup_profile(const char *url, const char *token_url);
/* Open the connector (fails the test if it does not open). */
void dtest_open(dfix *f);
void dtest_teardown(dfix *f);
/* A save job: raw message, direction, envelope recipients "a,b", meta JSON. */
spool_job *dtest_job(const char *idem, const char *direction, const char *raw, const char *rcpts,
    const char *meta);
void dtest_job_free(spool_job *j);
/* Put an address into the directory. */
void dtest_dir_add(crm_db *db, const char *address, dir_record_type type, const char *id,
    gboolean no_follow);
/* Run the tests against the Python emulator (skipped without python3). */
int dtest_emu_group(void);

#endif

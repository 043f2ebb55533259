/*
 * test_flush.c - the flusher's pass over the spool with an injected clock:
 * the ledger connector end to end, and a connector that fails on purpose
 * for retries, Retry-After, dead letters and a flusher that died mid-lease.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "flush.h"
#include "ledger.h"
#include "spool.h"
#include "crm/connector.h"
#include "testutil.h"

typedef struct {
	gint64 t;
} fake_clock;

static gint64
clock_now(void *data)
{
	return ((fake_clock *)data)->t;
}

static guint32
clock_rnd(void *data)
{
	return 0;   /* jitter takes the low end: d/2 */
}

/* The failing connector: what it answers is set by the test. */
static conn_status fail_status;
static int fail_retry_after;
static int fail_calls;

static void
fail_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	fail_calls++;
	res->status = fail_status;
	res->retry_after = fail_retry_after;
	res->error = fail_status == CONN_OK ? NULL : g_strdup("CRM says no (on purpose)");
}

static const connector_ops fail_ops = {
	.type = "failing", .open = NULL, .save_activity = fail_save, .close = NULL
};

static const char raw_message[] =
	"From: Alice <alice@example.com>\r\n"
	"To: bob@customer.test\r\n"
	"Subject: Quote for Q3\r\n"
	"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
	"Message-ID: <q3@example.com>\r\n"
	"\r\n"
	"Hello Bob\r\n";

typedef struct {
	char *dir;
	crm_config *cfg;
	crm_db *db;
	fake_clock clk;
	flush_env env;
} fixture;

static int
setup(void **state)
{
	fixture *f = g_new0(fixture, 1);
	char *path;

	f->dir = testutil_tmpdir();
	path = g_build_filename(f->dir, "spool.db", NULL);
	f->cfg = testutil_config(
	    "spool { path = \"%s\" max_attempts = 3 backoff_base = 10 backoff_max = 100 lease_time = 60 }\n"
	    "crm \"local\" { type = ledger }\n", path);
	/* a second profile of the failing type, added by hand (the config's
	 * type list only knows the real connectors) */
	crm_profile *p = g_new0(crm_profile, 1);
	p->name = g_strdup("flaky");
	p->type = g_strdup("failing");
	g_ptr_array_add(f->cfg->profiles, p);
	connector_register(&fail_ops);
	f->db = db_open(path, 1000, NULL);
	assert_non_null(f->db);
	f->clk.t = 1000000;
	f->env.now = clock_now;
	f->env.rnd = clock_rnd;
	f->env.data = &f->clk;
	fail_status = CONN_RETRY;
	fail_retry_after = -1;
	fail_calls = 0;
	g_free(path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	db_close(f->db);
	config_unref(f->cfg);
	testutil_rmtree(f->dir);
	g_free(f->dir);
	g_free(f);
	return 0;
}

/* Queue one save job for profile. */
static gint64
enqueue(fixture *f, const char *profile, const char *key)
{
	const char *rcpts[] = { "bob@customer.test", "boss@customer.test" };
	spool_new_job j = {
		.kind = JOB_SAVE, .profile = profile, .idem_key = key, .queue_id = "4ABC",
		.direction = "outbound", .reason = "test", .rule = "outbound",
		.mail_from = "alice@example.com", .rcpts = rcpts, .nrcpts = 2,
		.message_id = "<q3@example.com>", .payload = raw_message,
		.payload_len = sizeof(raw_message) - 1,
	};
	gint64 id = 0;

	assert_int_equal(spool_enqueue(f->db, &j, f->clk.t, &id, NULL), SPOOL_OK);
	return id;
}

static job_state
state_of(fixture *f, gint64 id, int *attempts, gint64 *not_before)
{
	spool_job *j = spool_get(f->db, id, FALSE, NULL);
	job_state s;

	assert_non_null(j);
	s = j->state;
	if (attempts)
		*attempts = j->attempts;
	if (not_before)
		*not_before = j->not_before;
	spool_job_free(j);
	return s;
}

/* The ledger connector stores the activity and the job is done. */
static void
test_ledger_end_to_end(void **state)
{
	fixture *f = *state;
	gint64 id = enqueue(f, "local", "local/m/1");
	flush_stats st;
	GPtrArray *rows;
	ledger_row *r;

	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.done, 1);
	assert_int_equal(state_of(f, id, NULL, NULL), JOB_DONE);
	rows = ledger_list(f->db, 10, TRUE, NULL);
	assert_int_equal(rows->len, 1);
	r = g_ptr_array_index(rows, 0);
	assert_string_equal(r->act->direction, "outbound");
	assert_string_equal(r->act->from_addr, "alice@example.com");
	assert_string_equal(r->act->subject, "Quote for Q3");
	assert_string_equal(r->act->message_id, "q3@example.com");
	assert_int_equal(r->act->bcc->len, 1);
	assert_string_equal(g_ptr_array_index(r->act->bcc, 0), "boss@customer.test");
	assert_non_null(strstr(r->act->text_body, "Hello Bob"));
	g_ptr_array_unref(rows);
	/* a second run finds nothing due */
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.leased, 0);
}

/* Passing failures back off exponentially, then the job is dead. */
static void
test_retry_then_dead(void **state)
{
	fixture *f = *state;
	gint64 id = enqueue(f, "flaky", "flaky/m/1"), nb;
	flush_stats st;
	int attempts;
	spool_job *j;

	/* attempt 1 fails: due again after base/2..base = 5 s with rnd 0 */
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.retried, 1);
	assert_int_equal(state_of(f, id, &attempts, &nb), JOB_PENDING);
	assert_int_equal(attempts, 1);
	assert_int_equal(nb, f->clk.t + 5);
	/* not due yet */
	f->clk.t += 4;
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.leased, 0);
	/* attempt 2: backoff doubles (20 -> 10 with rnd 0) */
	f->clk.t += 1;
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(state_of(f, id, &attempts, &nb), JOB_PENDING);
	assert_int_equal(attempts, 2);
	assert_int_equal(nb, f->clk.t + 10);
	/* attempt 3 = max_attempts: dead, with the connector's error */
	f->clk.t = nb;
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.dead, 1);
	j = spool_get(f->db, id, FALSE, NULL);
	assert_int_equal(j->state, JOB_DEAD);
	assert_int_equal(j->attempts, 3);
	assert_non_null(strstr(j->last_error, "on purpose"));
	spool_job_free(j);
	assert_int_equal(fail_calls, 3);
	/* the admin retries it: due now, and this time the CRM takes it */
	assert_true(spool_retry(f->db, id, f->clk.t, NULL));
	fail_status = CONN_OK;
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.done, 1);
	assert_int_equal(state_of(f, id, NULL, NULL), JOB_DONE);
}

/* Retry-After from the CRM wins over the backoff. */
static void
test_retry_after(void **state)
{
	fixture *f = *state;
	gint64 id = enqueue(f, "flaky", "flaky/m/2"), nb;

	fail_retry_after = 120;
	assert_true(flush_run(f->db, f->cfg, &f->env, NULL, NULL));
	assert_int_equal(state_of(f, id, NULL, &nb), JOB_PENDING);
	assert_int_equal(nb, f->clk.t + 120);
}

/* A permanent failure is dead at once. */
static void
test_permanent(void **state)
{
	fixture *f = *state;
	gint64 id = enqueue(f, "flaky", "flaky/m/3");
	int attempts;

	fail_status = CONN_PERMANENT;
	assert_true(flush_run(f->db, f->cfg, &f->env, NULL, NULL));
	assert_int_equal(state_of(f, id, &attempts, NULL), JOB_DEAD);
	assert_int_equal(attempts, 1);
}

/* A job for a profile the config no longer has waits (retry), not lost. */
static void
test_unknown_profile(void **state)
{
	fixture *f = *state;
	gint64 id = enqueue(f, "gone", "gone/m/1");
	spool_job *j;

	assert_true(flush_run(f->db, f->cfg, &f->env, NULL, NULL));
	j = spool_get(f->db, id, FALSE, NULL);
	assert_int_equal(j->state, JOB_PENDING);
	assert_non_null(strstr(j->last_error, "gone"));
	spool_job_free(j);
}

/* A flusher that died holding a lease: the job comes back when the lease
 * expires, and only then. */
static void
test_dead_flusher_lease_expires(void **state)
{
	fixture *f = *state;
	gint64 id = enqueue(f, "local", "local/m/9");
	spool_policy pol = flush_policy(f->cfg);
	GPtrArray *leased = spool_lease(f->db, &pol, f->clk.t, 10, NULL);
	flush_stats st;

	assert_int_equal(leased->len, 1);
	g_ptr_array_unref(leased);          /* ... and the flusher dies */
	f->clk.t += 59;
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.leased, 0);
	assert_int_equal(state_of(f, id, NULL, NULL), JOB_LEASED);
	f->clk.t += 1;
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.done, 1);
	assert_int_equal(state_of(f, id, NULL, NULL), JOB_DONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ledger_end_to_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_then_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permanent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_flusher_lease_expires, setup, teardown),
	};

	return cmocka_run_group_tests_name("flush", tests, NULL, NULL);
}

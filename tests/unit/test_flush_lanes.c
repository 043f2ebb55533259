/*
 * test_flush_lanes.c - the flusher's per-profile lanes (core/flush.c):
 * workers of one profile run at once up to max_concurrent; batching
 * connectors get batches; a Retry-After pauses only its profile (no call
 * inside the window, the jobs postponed without an attempt counted, the
 * pause stored for the next flusher) while another profile carries on;
 * a profile whose connector cannot open keeps its jobs for later; the
 * directory syncs run when their interval has passed, and only then.
 * Fake connectors count what they were asked; the clock is injected.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "flush.h"
#include "spool.h"
#include "spool_profiles.h"
#include "crm/connector.h"
#include "directory.h"
#include "testutil.h"

/* What the fake connectors saw (the workers are threads: atomics). */
static gint now_running, most_running, calls, batches, biggest_batch, throttle_first;

/* Slow: 50 ms per job, counting how many run at once. */
static void
slow_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	int running = g_atomic_int_add(&now_running, 1) + 1, most;

	(void)state; (void)job; (void)now;
	while ((most = g_atomic_int_get(&most_running)) < running &&
	    !g_atomic_int_compare_and_exchange(&most_running, most, running))
		;
	g_usleep(50000);
	g_atomic_int_inc(&calls);
	g_atomic_int_add(&now_running, -1);
	res->status = CONN_OK;
}

/* Batches: records their sizes. */
static void
batch_save(void *state, const spool_job *const *jobs, guint n, gint64 now, conn_result *res)
{
	int big;

	(void)state; (void)jobs; (void)now;
	g_atomic_int_inc(&batches);
	while ((big = g_atomic_int_get(&biggest_batch)) < (int)n &&
	    !g_atomic_int_compare_and_exchange(&biggest_batch, big, (int)n))
		;
	for (guint i = 0; i < n; i++)
		res[i].status = CONN_OK;
}

static guint
batch_of_25(void *state)
{
	(void)state;
	return 25;
}

/* Throttled: the first call gets "429, Retry-After: 1"; later ones count. */
static void
throttled_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	(void)state; (void)job; (void)now;
	if (g_atomic_int_compare_and_exchange(&throttle_first, 1, 0)) {
		res->status = CONN_RETRY;
		res->retry_after = 1;
		res->error = g_strdup("HTTP 429: slow down");
		return;
	}
	g_atomic_int_inc(&calls);
	res->status = CONN_OK;
}

/* Syncer: puts one contact into the directory per sync. */
static gint syncs;

static void *
syncer_open(const conn_env *env, GError **err)
{
	(void)err;
	return env->db;
}

static gboolean
syncer_sync(void *state, gint64 now, GError **err)
{
	directory_entry e = { "carol@customer.test", DIRREC_CONTACT, "C-1", "Carol", TRUE, 0 };

	g_atomic_int_inc(&syncs);
	return directory_upsert(state, &e, now, err);
}

/* Flapping: always "try again at once" (Retry-After: 0). */
static void
flapping_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	(void)state; (void)job; (void)now;
	g_atomic_int_inc(&calls);
	res->status = CONN_RETRY;
	res->retry_after = 0;
	res->error = g_strdup("HTTP 503: try again");
}

/* Broken: cannot open (a secret file gone bad). */
static void *
broken_open(const conn_env *env, GError **err)
{
	(void)env;
	g_set_error(err, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "secret file open to others");
	return NULL;
}

static const connector_ops slow_ops = { .type = "slow", .save_activity = slow_save };
static const connector_ops batch_ops = { .type = "batcher", .save_activity = slow_save,
	.save_batch = batch_save, .batch_size = batch_of_25 };
static const connector_ops throttled_ops = { .type = "throttled", .save_activity = throttled_save };
static const connector_ops syncer_ops = { .type = "syncer", .open = syncer_open,
	.save_activity = slow_save, .sync_directory = syncer_sync };
static const connector_ops flapping_ops = { .type = "flapping", .save_activity = flapping_save };
static const connector_ops broken_ops = { .type = "broken", .open = broken_open,
	.save_activity = slow_save };

static gint64 clock_t0 = 2000000;

static gint64
clock_now(void *data)
{
	return *(gint64 *)data;
}

static guint32
clock_rnd(void *data)
{
	(void)data;
	return 0;
}

typedef struct {
	char *dir;
	crm_config *cfg;
	crm_db *db;
	gint64 t;
	flush_env env;
} fixture;

/* Add a profile of a fake type by hand (the config only knows real ones). */
static void
add_profile(fixture *f, const char *name, const char *type, int workers)
{
	crm_profile *p = g_new0(crm_profile, 1);

	p->name = g_strdup(name);
	p->type = g_strdup(type);
	p->max_concurrent = workers;
	g_ptr_array_add(f->cfg->profiles, p);
}

static int
setup(void **state)
{
	fixture *f = g_new0(fixture, 1);
	char *path;

	f->dir = testutil_tmpdir();
	path = g_build_filename(f->dir, "spool.db", NULL);
	f->cfg = testutil_config("spool { path = \"%s\" max_attempts = 3 lease_time = 60 }\n"
	    "flusher { batch_size = 50 }\ncrm \"local\" { type = ledger }\n", path);
	connector_register(&slow_ops);
	connector_register(&batch_ops);
	connector_register(&throttled_ops);
	connector_register(&broken_ops);
	connector_register(&syncer_ops);
	connector_register(&flapping_ops);
	add_profile(f, "slow4", "slow", 4);
	add_profile(f, "slow1", "slow", 1);
	add_profile(f, "batched", "batcher", 2);
	add_profile(f, "throttled", "throttled", 1);
	add_profile(f, "broken", "broken", 1);
	add_profile(f, "flapping", "flapping", 2);
	add_profile(f, "synced", "syncer", 1);
	((crm_profile *)g_ptr_array_index(f->cfg->profiles, f->cfg->profiles->len - 1))->directory_sync = 3600;
	f->db = db_open(path, 1000, NULL);
	assert_non_null(f->db);
	f->t = clock_t0;
	f->env.now = clock_now;
	f->env.rnd = clock_rnd;
	f->env.data = &f->t;
	now_running = most_running = calls = batches = biggest_batch = 0;
	throttle_first = 1;
	syncs = 0;
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

/* Queue n save jobs for profile. */
static void
enqueue(fixture *f, const char *profile, int n)
{
	static const char raw[] = "From: a@example.com\r\nTo: b@customer.test\r\n"
	    "Subject: s\r\nMessage-ID: <m@example.com>\r\n\r\nbody\r\n";
	const char *rcpts[] = { "b@customer.test" };

	for (int i = 0; i < n; i++) {
		char *key = g_strdup_printf("%s/%d", profile, i);
		spool_new_job j = {
			.kind = JOB_SAVE, .profile = profile, .idem_key = key, .queue_id = "Q",
			.direction = "outbound", .reason = "test", .rule = "r", .mail_from = "a@example.com",
			.rcpts = rcpts, .nrcpts = 1, .message_id = "<m@example.com>",
			.payload = raw, .payload_len = sizeof(raw) - 1,
		};
		assert_int_equal(spool_enqueue(f->db, &j, f->t, NULL, NULL), SPOOL_OK);
		g_free(key);
	}
}

/* Jobs of profile in state. */
static int
count(fixture *f, const char *profile, job_state state)
{
	GPtrArray *rows = spool_profile_summary(f->db, NULL);
	int n = -1;

	for (guint i = 0; i < rows->len; i++) {
		spool_profile_row *r = g_ptr_array_index(rows, i);
		if (strcmp(r->profile, profile) != 0)
			continue;
		n = (int)(state == JOB_PENDING ? r->pending : state == JOB_LEASED ? r->leased :
		    state == JOB_DONE ? r->done : r->dead);
	}
	g_ptr_array_unref(rows);
	return n;
}

typedef struct {
	const char *label;
	const char *profile;
	int jobs;
	int want_most_running;
} lanes_case;

static const lanes_case lanes_cases[] = {
	{ "four workers run four at once", "slow4", 12, 4 },
	{ "one worker runs one at a time", "slow1", 4, 1 },
};

/* Concurrency per profile. */
static void
test_concurrency(void **state)
{
	fixture *f = *state;

	for (size_t i = 0; i < G_N_ELEMENTS(lanes_cases); i++) {
		const lanes_case *c = &lanes_cases[i];
		flush_stats st;

		most_running = calls = 0;
		enqueue(f, c->profile, c->jobs);
		assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
		if (st.done != c->jobs || most_running != c->want_most_running)
			fail_msg("%s: %d done, at most %d at once", c->label, st.done, most_running);
		assert_int_equal(count(f, c->profile, JOB_DONE), c->jobs);
	}
}

/* A batching connector gets batches up to its size. */
static void
test_batches(void **state)
{
	fixture *f = *state;
	flush_stats st;

	enqueue(f, "batched", 60);
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.done, 60);
	assert_true(biggest_batch > 1);
	assert_true(biggest_batch <= 25);
	assert_true(batches >= 3);      /* 60 jobs in batches of at most 25 */
	assert_true(batches < 60);
}

/* Retry-After: no call in the window, jobs postponed without an attempt,
 * the pause stored; the other profile carries on; after the window all go. */
static void
test_retry_after_pauses_one_profile(void **state)
{
	fixture *f = *state;
	flush_stats st;
	GPtrArray *rows, *due;
	spool_policy pol = flush_policy(f->cfg);

	enqueue(f, "throttled", 5);
	enqueue(f, "slow4", 3);
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(calls, 3);            /* slow4's three; throttled: none after the 429 */
	assert_int_equal(count(f, "slow4", JOB_DONE), 3);
	assert_int_equal(count(f, "throttled", JOB_PENDING), 5);
	rows = spool_profile_summary(f->db, NULL);
	for (guint i = 0; i < rows->len; i++) {
		spool_profile_row *r = g_ptr_array_index(rows, i);
		if (strcmp(r->profile, "throttled") == 0) {
			assert_int_equal(r->paused_until, clock_t0 + 2);
			assert_non_null(strstr(r->last_error, "429"));
		}
	}
	g_ptr_array_unref(rows);
	/* only the job that got the 429 used an attempt */
	GPtrArray *all = spool_list(f->db, JOB_PENDING, 0, NULL);
	int attempts = 0;
	for (guint i = 0; i < all->len; i++)
		attempts += ((spool_job *)g_ptr_array_index(all, i))->attempts;
	g_ptr_array_unref(all);
	assert_int_equal(attempts, 1);
	/* inside the window: the profile is not due, another flusher leases nothing */
	f->t = clock_t0 + 1;
	due = spool_due_profiles(f->db, f->t, NULL);
	assert_int_equal(due->len, 0);
	g_ptr_array_unref(due);
	GPtrArray *l = spool_lease_profile(f->db, &pol, f->t, f->t, "slow4", 10, NULL);
	assert_int_equal(l->len, 0);
	g_ptr_array_unref(l);
	/* after it (the shared pause board counts real time): all five go */
	g_usleep(1100000);
	f->t = clock_t0 + 3;
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(count(f, "throttled", JOB_DONE), 5);
	assert_int_equal(calls, 3 + 5);
}

/* A connector that cannot open: the jobs wait (retried, not dead at once)
 * and the reason is the profile's last error. */
static void
test_broken_profile(void **state)
{
	fixture *f = *state;
	flush_stats st;
	GPtrArray *rows;

	enqueue(f, "broken", 2);
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(st.retried, 2);
	assert_int_equal(count(f, "broken", JOB_PENDING), 2);
	rows = spool_profile_summary(f->db, NULL);
	for (guint i = 0; i < rows->len; i++) {
		spool_profile_row *r = g_ptr_array_index(rows, i);
		if (strcmp(r->profile, "broken") == 0)
			assert_non_null(strstr(r->last_error, "secret file open to others"));
	}
	g_ptr_array_unref(rows);
}

/* Directory syncs: the first at once, the next after the interval. */
static void
test_directory_sync(void **state)
{
	fixture *f = *state;
	directory_entry *e;

	assert_int_equal(flush_sync_directories(f->db, f->cfg, f->t), 1);
	assert_int_equal(syncs, 1);
	e = directory_lookup(f->db, "Carol@customer.test", NULL);
	assert_non_null(e);
	assert_string_equal(e->record_id, "C-1");
	assert_true(e->no_follow);
	directory_entry_free(e);
	assert_int_equal(flush_sync_directories(f->db, f->cfg, f->t + 3599), 0);
	assert_int_equal(syncs, 1);
	assert_int_equal(flush_sync_directories(f->db, f->cfg, f->t + 3600), 1);
	assert_int_equal(syncs, 2);
}

/* A job is tried once per drain, however short its backoff: a flapping
 * CRM does not burn every attempt in one run. */
static void
test_once_per_drain(void **state)
{
	fixture *f = *state;
	flush_stats st;

	enqueue(f, "flapping", 3);
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(calls, 3);
	assert_int_equal(st.dead, 0);
	assert_int_equal(count(f, "flapping", JOB_PENDING), 3);
	/* the next drain (a second later, the daemon's poll) tries them again */
	f->t += 1;
	assert_true(flush_run(f->db, f->cfg, &f->env, &st, NULL));
	assert_int_equal(calls, 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_pauses_one_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_once_per_drain, setup, teardown),
	};
	return cmocka_run_group_tests_name("flush_lanes", tests, NULL, NULL);
}

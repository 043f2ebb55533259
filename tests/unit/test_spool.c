/*
 * test_spool.c - the job spool (spool.c): enqueue and duplicates, leases
 * and their expiry, the backoff table, Retry-After, dead-lettering, admin
 * retry/purge, list/get; and main, which also runs the schema and
 * cross-process tests of test_spool_db.c.
 *
 * Time and randomness are parameters of the spool, so every step here is
 * exact. Each test gets a fresh database in its own g_dir_make_tmp
 * directory (setup_db / teardown_db).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"
#include <glib.h>
#include <glib/gstdio.h>

#include "test_spool.h"

const spool_policy default_pol = {
	.max_attempts = 3, .backoff_base = 60, .backoff_max = 3600, .lease_time = 300,
};

/* A fresh database in a new temporary directory. */
int
setup_db(void **state)
{
	fixture *f = g_new0(fixture, 1);
	GError *err = NULL;

	f->dir = g_dir_make_tmp("test_spool-XXXXXX", &err);
	assert_non_null(f->dir);
	f->path = g_build_filename(f->dir, "spool.db", NULL);
	f->db = db_open(f->path, 5000, &err);
	if (f->db == NULL)
		fail_msg("db_open: %s", err->message);
	*state = f;
	return 0;
}

/* Close the database and remove its directory. */
int
teardown_db(void **state)
{
	fixture *f = *state;

	f->db = db_close(f->db);
	testutil_rmtree(f->dir);
	g_free(f->path);
	g_free(f->dir);
	g_free(f);
	return 0;
}

/* One integer from a query (-1 when there is no row). */
gint64
query_int(crm_db *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	gint64 v = -1;

	if (sqlite3_prepare_v2(db_handle(db), sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db_handle(db)));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Enqueue a save job with key and a small payload; returns its id. */
gint64
enqueue(crm_db *db, const char *key, gint64 now)
{
	static const char *const rcpts[] = { "<bob@example.org>" };
	char *payload = g_strdup_printf("Subject: %s\r\n\r\nbody\r\n", key);
	spool_new_job j = {
		.kind = JOB_SAVE, .profile = "local", .idem_key = key,
		.rcpts = rcpts, .nrcpts = 1, .payload = payload, .payload_len = strlen(payload),
	};
	GError *err = NULL;
	gint64 id = 0;

	if (spool_enqueue(db, &j, now, &id, &err) != SPOOL_OK)
		fail_msg("enqueue %s: %s", key, err ? err->message : "duplicate");
	g_free(payload);
	return id;
}

/* Lease exactly one job (fails the test otherwise). */
spool_job *
lease_one(crm_db *db, const spool_policy *pol, gint64 now)
{
	GError *err = NULL;
	GPtrArray *a = spool_lease(db, pol, now, 1, &err);
	spool_job *j;

	if (a == NULL)
		fail_msg("lease: %s", err->message);
	if (a->len != 1)
		fail_msg("lease at %" G_GINT64_FORMAT ": %u jobs, want 1", now, a->len);
	j = g_ptr_array_steal_index(a, 0);
	g_ptr_array_unref(a);
	return j;
}

/* How many jobs a lease at now gives. */
guint
lease_count(crm_db *db, const spool_policy *pol, gint64 now, int max)
{
	GPtrArray *a = spool_lease(db, pol, now, max, NULL);
	guint n;

	assert_non_null(a);
	n = a->len;
	g_ptr_array_unref(a);
	return n;
}
/* --------------------------------------------------------------- enqueue */

/* The idempotency key is unique: a duplicate writes nothing. */
static void
test_enqueue_duplicate(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label, *key;
		spool_status want;
		int same_as;            /* step whose id a duplicate returns */
		gint64 rows_after;
	} steps[] = {
		{ "first", "local/m/a", SPOOL_OK, -1, 1 },
		{ "same key", "local/m/a", SPOOL_DUPLICATE, 0, 1 },
		{ "other key", "local/m/b", SPOOL_OK, -1, 2 },
		{ "first key again", "local/m/a", SPOOL_DUPLICATE, 0, 2 },
		{ "case differs", "local/m/A", SPOOL_OK, -1, 3 },
	};
	gint64 ids[G_N_ELEMENTS(steps)];
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(steps); i++) {
		spool_new_job j = {
			.kind = JOB_SAVE, .profile = "local", .idem_key = steps[i].key,
			.payload = "x", .payload_len = 1,
		};
		GError *err = NULL;
		spool_status st;

		ids[i] = 0;
		st = spool_enqueue(f->db, &j, 100 + (gint64)i, &ids[i], &err);
		if (st != steps[i].want)
			fail_msg("%s: status %d, want %d (%s)", steps[i].label, st, steps[i].want,
			    err ? err->message : "");
		assert_null(err);
		if (steps[i].same_as >= 0)
			assert_int_equal(ids[i], ids[steps[i].same_as]);
		if (query_int(f->db, "SELECT count(*) FROM jobs") != steps[i].rows_after ||
		    query_int(f->db, "SELECT count(*) FROM job_payloads") != steps[i].rows_after)
			fail_msg("%s: wrong row count", steps[i].label);
	}
	/* the duplicate did not touch the first row */
	assert_int_equal(query_int(f->db, "SELECT created_at FROM jobs WHERE idem_key = 'local/m/a'"), 100);
}

/* Bad jobs are refused with an error. */
static void
test_enqueue_invalid(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		job_kind kind;
		const char *key;
	} cases[] = {
		{ "no key", JOB_SAVE, NULL },
		{ "empty key", JOB_SAVE, "" },
		{ "bad kind", (job_kind)9, "k" },
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		spool_new_job j = { .kind = cases[i].kind, .idem_key = cases[i].key };
		GError *err = NULL;

		if (spool_enqueue(f->db, &j, 1, NULL, &err) != SPOOL_ERROR)
			fail_msg("%s: accepted", cases[i].label);
		assert_true(g_error_matches(err, SPOOL_ERROR_DOMAIN, SPOOL_ERROR_INVALID));
		g_clear_error(&err);
	}
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM jobs"), 0);
}

/* Every field survives enqueue + get, the payload byte for byte. */
static void
test_enqueue_roundtrip(void **state)
{
	fixture *f = *state;
	static const char payload[] = "From: a@example.com\r\n\r\n\0binary\xff\r\n";
	static const char *const rcpts[] = { "<b@example.org>", "c\"quote\"@example.org", "<d@example.org>" };
	spool_new_job nj = {
		.kind = JOB_EVENT, .profile = "hub", .idem_key = "hub/m/1", .queue_id = "4XyZ",
		.direction = "outbound", .reason = "auth", .rule = "out", .mail_from = "<a@example.com>",
		.rcpts = rcpts, .nrcpts = 3, .message_id = "m1@example.com",
		.payload = payload, .payload_len = sizeof payload - 1,
	};
	gint64 id = 0;
	spool_job *j;
	gsize n;
	guint i;

	assert_int_equal(spool_enqueue(f->db, &nj, 1234, &id, NULL), SPOOL_OK);
	j = spool_get(f->db, id, TRUE, NULL);
	assert_non_null(j);
	assert_int_equal(j->id, id);
	assert_int_equal(j->kind, JOB_EVENT);
	assert_int_equal(j->state, JOB_PENDING);
	assert_string_equal(j->profile, "hub");
	assert_string_equal(j->idem_key, "hub/m/1");
	assert_string_equal(j->queue_id, "4XyZ");
	assert_string_equal(j->direction, "outbound");
	assert_string_equal(j->reason, "auth");
	assert_string_equal(j->rule, "out");
	assert_string_equal(j->mail_from, "<a@example.com>");
	assert_string_equal(j->message_id, "m1@example.com");
	assert_int_equal(j->rcpts->len, 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(g_ptr_array_index(j->rcpts, i), rcpts[i]);
	assert_int_equal(j->attempts, 0);
	assert_int_equal(j->created_at, 1234);
	assert_int_equal(j->not_before, 1234);
	assert_int_equal(j->updated_at, 1234);
	assert_int_equal(j->payload_len, sizeof payload - 1);
	assert_null(j->last_error);
	assert_non_null(j->payload);
	assert_memory_equal(g_bytes_get_data(j->payload, &n), payload, sizeof payload - 1);
	assert_int_equal(n, sizeof payload - 1);
	spool_job_free(j);
	/* NULL strings and no payload are fine too */
	{
		spool_new_job bare = { .kind = JOB_SAVE, .idem_key = "bare" };

		assert_int_equal(spool_enqueue(f->db, &bare, 1, &id, NULL), SPOOL_OK);
		j = spool_get(f->db, id, TRUE, NULL);
		assert_non_null(j);
		assert_null(j->profile);
		assert_int_equal(j->rcpts->len, 0);
		assert_int_equal(g_bytes_get_size(j->payload), 0);
		spool_job_free(j);
	}
}

/* ---------------------------------------------------------------- leases */

/* Leases take due jobs only, oldest first, at most max, each once. */
static void
test_lease_due_and_max(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		gint64 now;
		int max;
		const char *want;       /* keys leased, in order */
	} steps[] = {
		{ "nothing due yet", 99, 10, "" },
		{ "max 0", 200, 0, "" },
		{ "max 1", 101, 1, "j1" },
		{ "rest of what is due", 101, 10, "j2" },
		{ "later", 200, 10, "j3,j4" },
		{ "all leased", 300, 10, "" },
	};
	GHashTable *lease_ids = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	gsize i;

	enqueue(f->db, "j1", 100);
	enqueue(f->db, "j2", 101);
	enqueue(f->db, "j4", 103);    /* inserted before j3, due after it */
	enqueue(f->db, "j3", 102);
	for (i = 0; i < G_N_ELEMENTS(steps); i++) {
		GError *err = NULL;
		GPtrArray *a = spool_lease(f->db, &default_pol, steps[i].now, steps[i].max, &err);
		GString *got = g_string_new(NULL);
		guint k;

		if (a == NULL)
			fail_msg("%s: %s", steps[i].label, err->message);
		for (k = 0; k < a->len; k++) {
			spool_job *j = g_ptr_array_index(a, k);
			char *want_payload = g_strdup_printf("Subject: %s\r\n\r\nbody\r\n", j->idem_key);

			g_string_append_printf(got, "%s%s", k ? "," : "", j->idem_key);
			assert_int_equal(j->state, JOB_LEASED);
			assert_int_equal(j->attempts, 1);
			assert_int_equal(j->lease_until, steps[i].now + default_pol.lease_time);
			assert_non_null(j->payload);
			assert_int_equal(g_bytes_get_size(j->payload), strlen(want_payload));
			assert_memory_equal(g_bytes_get_data(j->payload, NULL), want_payload, strlen(want_payload));
			if (g_hash_table_contains(lease_ids, &j->lease_id))
				fail_msg("%s: lease id %" G_GINT64_FORMAT " reused", steps[i].label, j->lease_id);
			{
				gint64 *lid = g_new(gint64, 1);

				*lid = j->lease_id;
				g_hash_table_add(lease_ids, lid);
			}
			g_free(want_payload);
		}
		if (strcmp(got->str, steps[i].want) != 0)
			fail_msg("%s: leased [%s], want [%s]", steps[i].label, got->str, steps[i].want);
		g_string_free(got, TRUE);
		g_ptr_array_unref(a);
	}
	g_hash_table_unref(lease_ids);
}

/* A flusher that dies: its lease expires exactly at lease_until, the job
 * is leased again with a new lease id, and the stale holder is refused. */
static void
test_lease_expiry_after_crash(void **state)
{
	fixture *f = *state;
	const gint64 t = 1000;
	GError *err = NULL;
	spool_job *stale, *fresh, *j;

	enqueue(f->db, "k", t);
	stale = lease_one(f->db, &default_pol, t);
	assert_int_equal(stale->lease_until, t + default_pol.lease_time);
	/* nothing acked; not yet expired */
	assert_int_equal(lease_count(f->db, &default_pol, t + default_pol.lease_time - 1, 10), 0);
	fresh = lease_one(f->db, &default_pol, t + default_pol.lease_time);
	assert_int_equal(fresh->id, stale->id);
	assert_true(fresh->lease_id != stale->lease_id);
	assert_int_equal(fresh->attempts, 2);       /* the crashed attempt counts */
	assert_non_null(fresh->payload);
	/* the stale holder: refused, without an error */
	assert_false(spool_ack(f->db, stale, t + 400, &err));
	assert_null(err);
	assert_int_equal(spool_fail(f->db, &default_pol, stale, t + 400, 0, -1, FALSE, "x", &err), -1);
	assert_null(err);
	j = spool_get(f->db, stale->id, FALSE, NULL);
	assert_int_equal(j->state, JOB_LEASED);
	assert_int_equal(j->lease_id, fresh->lease_id);
	spool_job_free(j);
	/* the holder of the current lease acks; the payload goes, the row stays */
	assert_true(spool_ack(f->db, fresh, t + 401, &err));
	assert_null(err);
	j = spool_get(f->db, stale->id, TRUE, NULL);
	assert_int_equal(j->state, JOB_DONE);
	assert_null(j->payload);
	assert_true(j->payload_len > 0);
	assert_int_equal(j->updated_at, t + 401);
	spool_job_free(j);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM job_payloads"), 0);
	/* a second ack of the same lease is refused too */
	assert_false(spool_ack(f->db, fresh, t + 402, &err));
	assert_null(err);
	spool_job_free(stale);
	spool_job_free(fresh);
}

/* A flusher that dies on the last attempt sends the job to dead. */
static void
test_lease_expiry_on_last_attempt(void **state)
{
	fixture *f = *state;
	spool_policy pol = default_pol;
	spool_job *j;
	gint64 id;

	pol.max_attempts = 2;
	id = enqueue(f->db, "k", 0);
	j = lease_one(f->db, &pol, 0);
	assert_int_equal(spool_fail(f->db, &pol, j, 10, 0, 0, FALSE, "first", NULL), JOB_PENDING);
	spool_job_free(j);
	j = lease_one(f->db, &pol, 10);                 /* attempt 2, then it dies */
	assert_int_equal(j->attempts, 2);
	spool_job_free(j);
	assert_int_equal(lease_count(f->db, &pol, 10 + pol.lease_time, 10), 0);
	j = spool_get(f->db, id, TRUE, NULL);
	assert_int_equal(j->state, JOB_DEAD);
	assert_non_null(j->payload);                    /* kept for an admin retry */
	assert_non_null(strstr(j->last_error, "lease expired"));
	spool_job_free(j);
}

/* --------------------------------------------------------------- backoff */

/* base*2^(n-1), capped, jittered into [d/2, d]. */
static void
test_backoff_table(void **state)
{
	static const struct {
		const char *label;
		int base, max, attempts;
		guint32 rnd;
		gint64 want;
	} cases[] = {
		{ "first retry, low jitter", 60, 3600, 1, 0, 30 },
		{ "first retry, top jitter", 60, 3600, 1, 30, 60 },
		{ "first retry, wraps", 60, 3600, 1, 31, 30 },
		{ "second retry", 60, 3600, 2, 0, 60 },
		{ "second retry, top", 60, 3600, 2, 60, 120 },
		{ "sixth retry", 60, 3600, 6, 960, 1920 },
		{ "seventh: capped", 60, 3600, 7, 0, 1800 },
		{ "seventh: capped top", 60, 3600, 7, 1800, 3600 },
		{ "huge attempt count", 60, 3600, 1000000, 1800, 3600 },
		{ "max rnd", 60, 3600, 1, G_MAXUINT32, 30 + G_MAXUINT32 % 31 },
		{ "attempts 0 = first", 60, 3600, 0, 30, 60 },
		{ "base above max", 100, 50, 1, 25, 50 },
		{ "odd delay", 5, 100, 1, 2, 4 },
		{ "zero base", 0, 3600, 5, 7, 0 },
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		spool_policy pol = { 5, cases[i].base, cases[i].max, 300 };
		gint64 got = spool_backoff(&pol, cases[i].attempts, cases[i].rnd);

		if (got != cases[i].want)
			fail_msg("%s: %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT,
			    cases[i].label, got, cases[i].want);
	}
}

/* Retry-After (>= 0) replaces the backoff; -1 uses it. */
static void
test_fail_retry_after(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		int retry_after;
		guint32 rnd;
		gint64 want_delay;
	} cases[] = {
		{ "retry-after 7", 7, 0, 7 },
		{ "retry-after 0", 0, 999, 0 },
		{ "retry-after beats backoff", 86400, 0, 86400 },
		{ "backoff, low jitter", -1, 0, 30 },
		{ "backoff, top jitter", -1, 30, 60 },
	};
	const gint64 now = 5000;
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *key = g_strdup_printf("k%zu", i);
		gint64 id = enqueue(f->db, key, now);
		spool_job *j = lease_one(f->db, &default_pol, now);
		GError *err = NULL;
		int st;

		assert_int_equal(j->id, id);
		st = spool_fail(f->db, &default_pol, j, now, cases[i].rnd, cases[i].retry_after,
		    FALSE, cases[i].label, &err);
		assert_null(err);
		assert_int_equal(st, JOB_PENDING);
		spool_job_free(j);
		j = spool_get(f->db, id, FALSE, NULL);
		if (j->not_before != now + cases[i].want_delay)
			fail_msg("%s: not_before %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT,
			    cases[i].label, j->not_before, now + cases[i].want_delay);
		assert_int_equal(j->state, JOB_PENDING);
		assert_int_equal(j->attempts, 1);
		assert_int_equal(j->lease_until, 0);
		assert_string_equal(j->last_error, cases[i].label);
		spool_job_free(j);
		/* due exactly at not_before, not a second earlier */
		if (cases[i].want_delay > 0)
			assert_int_equal(lease_count(f->db, &default_pol, now + cases[i].want_delay - 1, 10), 0);
		j = lease_one(f->db, &default_pol, now + cases[i].want_delay);
		assert_int_equal(j->id, id);
		assert_int_equal(j->attempts, 2);
		assert_true(spool_ack(f->db, j, now + cases[i].want_delay, NULL));
		spool_job_free(j);
		g_free(key);
	}
}

/* Failures: pending until max_attempts, then dead; permanent is dead at once. */
static void
test_fail_to_dead(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		int max_attempts;
		int permanent_on;        /* attempt number that fails permanently (0: none) */
		int want[4];             /* state after each attempt; -2 = stop */
	} cases[] = {
		{ "max 3", 3, 0, { JOB_PENDING, JOB_PENDING, JOB_DEAD, -2 } },
		{ "max 1", 1, 0, { JOB_DEAD, -2, -2, -2 } },
		{ "permanent first", 5, 1, { JOB_DEAD, -2, -2, -2 } },
		{ "permanent second", 5, 2, { JOB_PENDING, JOB_DEAD, -2, -2 } },
		{ "max 0 acts as 1", 0, 0, { JOB_DEAD, -2, -2, -2 } },
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		spool_policy pol = default_pol;
		char *key = g_strdup_printf("k%zu", i);
		gint64 now = 100000 * ((gint64)i + 1), id = enqueue(f->db, key, now);
		int n;
		spool_job *j;

		pol.max_attempts = cases[i].max_attempts;
		for (n = 0; n < 4 && cases[i].want[n] != -2; n++) {
			char *msg = g_strdup_printf("boom %d", n + 1);
			int st;

			j = lease_one(f->db, &pol, now);
			assert_int_equal(j->attempts, n + 1);
			st = spool_fail(f->db, &pol, j, now, 0, 10, cases[i].permanent_on == n + 1, msg, NULL);
			if (st != cases[i].want[n])
				fail_msg("%s: attempt %d: state %d, want %d", cases[i].label, n + 1, st, cases[i].want[n]);
			spool_job_free(j);
			g_free(msg);
			now += 10;
		}
		/* dead: never leased again */
		assert_int_equal(lease_count(f->db, &pol, now + 1000000, 10), 0);
		j = spool_get(f->db, id, TRUE, NULL);
		assert_int_equal(j->state, JOB_DEAD);
		assert_int_equal(j->attempts, n);
		assert_non_null(j->payload);
		{
			char *want = g_strdup_printf("boom %d", n);

			assert_string_equal(j->last_error, want);
			g_free(want);
		}
		spool_job_free(j);
		g_free(key);
	}
}

/* last_error is cut to 1000 bytes on a UTF-8 boundary. */
static void
test_fail_error_truncated(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label, *prefix, *unit;
		int units;
		gsize want_len;
	} cases[] = {
		{ "short", "", "x", 10, 10 },
		{ "exactly 1000", "", "x", 1000, 1000 },
		{ "ascii 1001", "", "x", 1001, 1000 },
		{ "2-byte chars, even", "", "\xc3\xa9", 600, 1000 },
		{ "2-byte chars, odd", "a", "\xc3\xa9", 600, 999 },
		{ "4-byte chars", "ab", "\xf0\x9f\x98\x80", 300, 998 },
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *key = g_strdup_printf("k%zu", i);
		GString *msg = g_string_new(cases[i].prefix);
		gint64 id = enqueue(f->db, key, 0);
		spool_job *j = lease_one(f->db, &default_pol, 0);
		int k;

		for (k = 0; k < cases[i].units; k++)
			g_string_append(msg, cases[i].unit);
		assert_int_equal(spool_fail(f->db, &default_pol, j, 0, 0, 100, FALSE, msg->str, NULL), JOB_PENDING);
		spool_job_free(j);
		j = spool_get(f->db, id, FALSE, NULL);
		if (strlen(j->last_error) != cases[i].want_len)
			fail_msg("%s: %zu bytes, want %zu", cases[i].label, strlen(j->last_error), cases[i].want_len);
		assert_true(g_utf8_validate(j->last_error, -1, NULL));
		assert_memory_equal(j->last_error, msg->str, cases[i].want_len);
		spool_job_free(j);
		g_string_free(msg, TRUE);
		g_free(key);
	}
}

/* ----------------------------------------------------------------- admin */

/* Admin retry makes dead/leased jobs due now; purge deletes. */
static void
test_admin_retry_purge(void **state)
{
	fixture *f = *state;
	GError *err = NULL;
	spool_job *j, *held;
	gint64 dead_id, leased_id, done_id, id;

	dead_id = enqueue(f->db, "dead", 0);
	j = lease_one(f->db, &default_pol, 0);
	assert_int_equal(spool_fail(f->db, &default_pol, j, 0, 0, -1, TRUE, "gone", NULL), JOB_DEAD);
	spool_job_free(j);
	leased_id = enqueue(f->db, "leased", 1);
	held = lease_one(f->db, &default_pol, 1);
	done_id = enqueue(f->db, "done", 2);
	j = lease_one(f->db, &default_pol, 2);
	assert_true(spool_ack(f->db, j, 2, NULL));
	spool_job_free(j);

	/* dead -> pending, due now, attempts kept */
	assert_true(spool_retry(f->db, dead_id, 5000, &err));
	assert_null(err);
	j = spool_get(f->db, dead_id, FALSE, NULL);
	assert_int_equal(j->state, JOB_PENDING);
	assert_int_equal(j->not_before, 5000);
	assert_int_equal(j->attempts, 1);
	spool_job_free(j);
	/* leased -> pending; the holder's ack is then refused */
	assert_true(spool_retry(f->db, leased_id, 5000, NULL));
	assert_false(spool_ack(f->db, held, 5000, &err));
	assert_null(err);
	spool_job_free(held);
	assert_int_equal(lease_count(f->db, &default_pol, 4999, 10), 0);
	assert_int_equal(lease_count(f->db, &default_pol, 5000, 10), 2);
	/* done jobs have no payload to retry; unknown ids */
	assert_false(spool_retry(f->db, done_id, 5000, &err));
	assert_true(g_error_matches(err, SPOOL_ERROR_DOMAIN, SPOOL_ERROR_STATE));
	g_clear_error(&err);
	assert_false(spool_retry(f->db, 9999, 5000, &err));
	assert_true(g_error_matches(err, SPOOL_ERROR_DOMAIN, SPOOL_ERROR_NOT_FOUND));
	g_clear_error(&err);

	/* purge: the row and its payload go */
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM job_payloads"), 2);
	assert_true(spool_purge(f->db, dead_id, &err));
	assert_null(err);
	assert_null(spool_get(f->db, dead_id, FALSE, &err));
	assert_null(err);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM job_payloads"), 1);
	assert_false(spool_purge(f->db, dead_id, &err));
	assert_true(g_error_matches(err, SPOOL_ERROR_DOMAIN, SPOOL_ERROR_NOT_FOUND));
	g_clear_error(&err);
	/* ids are never reused, even after purging the newest */
	assert_true(spool_purge(f->db, done_id, NULL));
	id = enqueue(f->db, "after", 3);
	assert_true(id > done_id);
}

/* list: newest first, by state, limited, no payloads; get: one job. */
static void
test_list_get(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		int state, limit;
		const char *want;      /* keys */
	} cases[] = {
		{ "all", -1, 0, "c,b,a" },
		{ "limit", -1, 2, "c,b" },
		{ "pending", JOB_PENDING, 0, "c" },
		{ "done", JOB_DONE, 0, "b" },
		{ "dead", JOB_DEAD, 0, "a" },
		{ "leased", JOB_LEASED, 0, "" },
	};
	GError *err = NULL;
	spool_job *j;
	gint64 a_id, b_id;
	gsize i;

	a_id = enqueue(f->db, "a", 1);
	j = lease_one(f->db, &default_pol, 1);
	spool_fail(f->db, &default_pol, j, 1, 0, -1, TRUE, "no", NULL);
	spool_job_free(j);
	b_id = enqueue(f->db, "b", 2);
	j = lease_one(f->db, &default_pol, 2);
	spool_ack(f->db, j, 2, NULL);
	spool_job_free(j);
	enqueue(f->db, "c", 3);

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		GPtrArray *l = spool_list(f->db, cases[i].state, cases[i].limit, &err);
		GString *got = g_string_new(NULL);
		guint k;

		assert_non_null(l);
		for (k = 0; k < l->len; k++) {
			spool_job *x = g_ptr_array_index(l, k);

			assert_null(x->payload);
			g_string_append_printf(got, "%s%s", k ? "," : "", x->idem_key);
		}
		if (strcmp(got->str, cases[i].want) != 0)
			fail_msg("%s: [%s], want [%s]", cases[i].label, got->str, cases[i].want);
		g_string_free(got, TRUE);
		g_ptr_array_unref(l);
	}
	j = spool_get(f->db, a_id, TRUE, NULL);
	assert_int_equal(j->state, JOB_DEAD);
	assert_non_null(j->payload);
	spool_job_free(j);
	j = spool_get(f->db, a_id, FALSE, NULL);
	assert_null(j->payload);
	spool_job_free(j);
	j = spool_get(f->db, b_id, TRUE, NULL);
	assert_int_equal(j->state, JOB_DONE);
	assert_null(j->payload);
	spool_job_free(j);
	assert_null(spool_get(f->db, 424242, TRUE, &err));
	assert_null(err);
	assert_null(spool_job_free(NULL));
}

/* State and kind names, both ways. */
static void
test_names(void **state)
{
	static const struct {
		const char *name;
		gboolean ok;
		job_state state;
	} cases[] = {
		{ "pending", TRUE, JOB_PENDING },
		{ "leased", TRUE, JOB_LEASED },
		{ "done", TRUE, JOB_DONE },
		{ "DEAD", TRUE, JOB_DEAD },
		{ "dying", FALSE, JOB_PENDING },
		{ "", FALSE, JOB_PENDING },
		{ NULL, FALSE, JOB_PENDING },
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		job_state s = (job_state)99;

		assert_int_equal(job_state_parse(cases[i].name, &s), cases[i].ok);
		if (cases[i].ok) {
			assert_int_equal(s, cases[i].state);
			assert_true(g_ascii_strcasecmp(job_state_name(s), cases[i].name) == 0);
		}
	}
	assert_string_equal(job_state_name((job_state)42), "?");
	assert_string_equal(job_kind_name(JOB_SAVE), "save");
	assert_string_equal(job_kind_name(JOB_EVENT), "event");
	assert_string_equal(job_kind_name(JOB_FOLLOWUP), "followup");
	assert_string_equal(job_kind_name((job_kind)0), "?");
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_db, teardown_db)
	const struct CMUnitTest tests[] = {
		T(test_enqueue_batch),
		T(test_nested_transactions),
		T(test_migrate_fresh),
		T(test_migrate_reopen),
		T(test_migrate_newer_refused),
		T(test_open_not_a_database),
		T(test_migrate_race),
		T(test_enqueue_duplicate),
		T(test_enqueue_invalid),
		T(test_enqueue_roundtrip),
		T(test_lease_due_and_max),
		T(test_lease_atomic),
		T(test_lease_expiry_after_crash),
		T(test_lease_expiry_on_last_attempt),
		cmocka_unit_test(test_backoff_table),
		T(test_fail_retry_after),
		T(test_fail_to_dead),
		T(test_fail_error_truncated),
		T(test_admin_retry_purge),
		T(test_list_get),
		cmocka_unit_test(test_names),
		T(test_concurrent_flushers),
	};
#undef T

	return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}

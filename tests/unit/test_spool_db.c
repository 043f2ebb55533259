/*
 * test_spool_db.c - the database under the spool: schema migrations (fresh,
 * reopen, newer file refused, not a database, several processes migrating
 * one fresh file at once), the atomicity of a lease against a second
 * connection, and forked flushers racing for the same jobs.
 *
 * Forked children never call cmocka and never inherit an open connection:
 * they report through their exit status and a pipe, and the parent checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "test_spool.h"

/* ------------------------------------------------------------ migrations */

/* A fresh file gets the whole schema, WAL and the pragmas. */
void
test_migrate_fresh(void **state)
{
	fixture *f = *state;
	static const char *const objects[] = {
		"schema_version", "jobs", "job_payloads", "spool_counters", "activities",
		"attachments", "jobs_due", "activities_message_id",
	};
	gsize i;

	assert_int_equal(db_schema_version(f->db), DB_SCHEMA_VERSION);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM schema_version"), 1);
	assert_int_equal(query_int(f->db, "SELECT version FROM schema_version"), DB_SCHEMA_VERSION);
	for (i = 0; i < G_N_ELEMENTS(objects); i++) {
		char *sql = g_strdup_printf("SELECT count(*) FROM sqlite_master WHERE name = '%s'", objects[i]);

		if (query_int(f->db, sql) != 1)
			fail_msg("%s is missing", objects[i]);
		g_free(sql);
	}
	assert_int_equal(query_int(f->db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(query_int(f->db, "PRAGMA synchronous"), 2);      /* FULL */
	assert_true(g_file_test(f->path, G_FILE_TEST_EXISTS));
	{
		sqlite3_stmt *st = NULL;

		sqlite3_prepare_v2(db_handle(f->db), "PRAGMA journal_mode", -1, &st, NULL);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
	}
}

/* Reopening an up-to-date file changes nothing and keeps the data. */
void
test_migrate_reopen(void **state)
{
	fixture *f = *state;
	GError *err = NULL;
	gint64 id = enqueue(f->db, "k1", 100);
	spool_job *j;

	f->db = db_close(f->db);
	f->db = db_open(f->path, 5000, &err);
	assert_non_null(f->db);
	assert_int_equal(db_schema_version(f->db), DB_SCHEMA_VERSION);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM schema_version"), 1);
	j = spool_get(f->db, id, TRUE, NULL);
	assert_non_null(j);
	assert_string_equal(j->idem_key, "k1");
	spool_job_free(j);
}

/* A file from a newer program is refused and left alone. */
void
test_migrate_newer_refused(void **state)
{
	fixture *f = *state;
	GError *err = NULL;
	char *sql = g_strdup_printf("UPDATE schema_version SET version = %d", DB_SCHEMA_VERSION + 1);
	crm_db *db;

	assert_true(db_exec(f->db, sql, NULL));
	g_free(sql);
	f->db = db_close(f->db);
	db = db_open(f->path, 5000, &err);
	assert_null(db);
	assert_true(g_error_matches(err, DB_ERROR, DB_ERROR_NEWER));
	g_clear_error(&err);
	/* still newer: nothing was migrated down or rewritten */
	{
		sqlite3 *h = NULL;
		sqlite3_stmt *st = NULL;

		assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		sqlite3_prepare_v2(h, "SELECT version FROM schema_version", -1, &st, NULL);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), DB_SCHEMA_VERSION + 1);
		sqlite3_finalize(st);
		sqlite3_close(h);
	}
}

/* A file that is not a database is a clean error. */
void
test_open_not_a_database(void **state)
{
	fixture *f = *state;
	char *path = g_build_filename(f->dir, "junk.db", NULL);
	GError *err = NULL;
	GString *junk = g_string_new(NULL);
	int i;

	for (i = 0; i < 512; i++)
		g_string_append(junk, "this is not sqlite ");
	assert_true(g_file_set_contents(path, junk->str, (gssize)junk->len, NULL));
	assert_null(db_open(path, 100, &err));
	assert_non_null(err);
	g_clear_error(&err);
	g_string_free(junk, TRUE);
	g_free(path);
}

/* Several processes opening one fresh file at once migrate it once. */
void
test_migrate_race(void **state)
{
	fixture *f = *state;
	char *path = g_build_filename(f->dir, "race.db", NULL);
	pid_t pids[4];
	int gate[2], i, status;
	crm_db *db;

	f->db = db_close(f->db);   /* never carry a connection across fork */
	assert_int_equal(pipe(gate), 0);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char c;
			crm_db *cdb;
			int ok;

			close(gate[1]);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
			cdb = db_open(path, 20000, NULL);
			ok = cdb != NULL && db_schema_version(cdb) == DB_SCHEMA_VERSION;
			db_close(cdb);
			_exit(ok ? 0 : 1);
		}
	}
	close(gate[0]);
	close(gate[1]);            /* all children start together */
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	db = db_open(path, 5000, NULL);
	assert_non_null(db);
	assert_int_equal(query_int(db, "SELECT count(*) FROM schema_version"), 1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM spool_counters"), 1);
	db_close(db);
	g_free(path);
}


/* ---------------------------------------------------- atomic leases */

/* What a second connection does in the middle of a lease. */
typedef struct interleave {
	crm_db *other;
	gboolean fired;
	GPtrArray *got;
	GError *err;
} interleave;

/* sqlite3_trace_v2 callback: when the first leased row is about to be
 * written, try to lease from the other connection. */
static int
lease_from_other(unsigned type, void *ctx, void *p, void *x)
{
	interleave *il = ctx;
	const char *sql = sqlite3_sql(p);

	if (!il->fired && sql != NULL && strstr(sql, "UPDATE jobs SET state = 1") != NULL) {
		il->fired = TRUE;
		il->got = spool_lease(il->other, &default_pol, 1000, 10, &il->err);
	}
	return 0;
}

/* A lease is one write transaction from its select to its last update: a
 * second connection cutting in gets the busy error, never the same jobs. */
void
test_lease_atomic(void **state)
{
	fixture *f = *state;
	interleave il = { NULL, FALSE, NULL, NULL };
	GPtrArray *a;

	enqueue(f->db, "a", 1000);
	enqueue(f->db, "b", 1000);
	enqueue(f->db, "c", 1000);
	il.other = db_open(f->path, 50, NULL);
	assert_non_null(il.other);
	sqlite3_trace_v2(db_handle(f->db), SQLITE_TRACE_STMT, lease_from_other, &il);
	a = spool_lease(f->db, &default_pol, 1000, 10, NULL);
	sqlite3_trace_v2(db_handle(f->db), 0, NULL, NULL);
	assert_non_null(a);
	assert_int_equal(a->len, 3);
	assert_true(il.fired);
	if (il.got != NULL) {
		if (il.got->len != 0)
			fail_msg("the other connection leased %u jobs in the middle of a lease", il.got->len);
		g_ptr_array_unref(il.got);
	} else {
		assert_true(g_error_matches(il.err, DB_ERROR, DB_ERROR_BUSY));
		g_clear_error(&il.err);
	}
	/* and afterwards there is nothing left for it */
	assert_int_equal(lease_count(il.other, &default_pol, 1000, 10), 0);
	g_ptr_array_unref(a);
	db_close(il.other);
}

/* ----------------------------------------------------------- concurrency */

#define N_FLUSHERS 3
#define N_JOBS 300

/* A forked flusher: open the spool, wait at the gate, then lease and ack
 * until every job is done. Reports each acked id on wfd; the exit status says what went
 * wrong, if anything. */
static int
flusher_child(const char *path, int gate, int wfd)
{
	spool_policy pol = { 5, 1, 10, 3600 };
	gint64 deadline;
	crm_db *db;
	int rc = 0;
	char c;

	if ((db = db_open(path, 30000, NULL)) == NULL)
		return 10;
	while (read(gate, &c, 1) < 0 && errno == EINTR)
		;
	deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;
	for (;;) {
		GError *err = NULL;
		GPtrArray *jobs = spool_lease(db, &pol, 1000, 10, &err);
		guint i;

		if (jobs == NULL) {
			rc = 11;
			g_clear_error(&err);
			break;
		}
		for (i = 0; i < jobs->len && rc == 0; i++) {
			spool_job *j = g_ptr_array_index(jobs, i);

			if (j->payload == NULL || (gint64)g_bytes_get_size(j->payload) != j->payload_len)
				rc = 12;
			else if (spool_ack(db, j, 1000, &err)) {
				if (write(wfd, &j->id, sizeof j->id) != (ssize_t)sizeof j->id)
					rc = 13;
			} else
				rc = err != NULL ? 14 : 15;   /* 15: a lease was lost */
			g_clear_error(&err);
		}
		if (rc == 0 && jobs->len == 0) {
			sqlite3_stmt *st = NULL;
			gint64 done = -1;

			if (sqlite3_prepare_v2(db_handle(db), "SELECT count(*) FROM jobs WHERE state = 2",
			    -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
				done = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
			if (done == N_JOBS)
				break;
			if (g_get_monotonic_time() > deadline)
				rc = 16;
			g_usleep(2000);
		}
		g_ptr_array_unref(jobs);
		if (rc != 0)
			break;
	}
	db_close(db);
	return rc;
}

/* Three processes lease and ack while this one enqueues: every job is
 * acked exactly once. Half the jobs are queued before the flushers start
 * together (they all race for the same backlog), the rest while they run. */
void
test_concurrent_flushers(void **state)
{
	fixture *f = *state;
	pid_t pids[N_FLUSHERS];
	int acks[2], gate[2], i, status, count[N_JOBS + 1] = { 0 };
	gint64 id, ids[N_JOBS];
	ssize_t n;

	f->db = db_close(f->db);      /* never carry a connection across fork */
	assert_int_equal(pipe(acks), 0);
	assert_int_equal(pipe(gate), 0);
	for (i = 0; i < N_FLUSHERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(acks[0]);
			close(gate[1]);
			_exit(flusher_child(f->path, gate[0], acks[1]));
		}
	}
	close(acks[1]);
	close(gate[0]);
	f->db = db_open(f->path, 30000, NULL);
	assert_non_null(f->db);
	for (i = 0; i < N_JOBS; i++) {
		char *key = g_strdup_printf("job-%d", i);

		if (i == N_JOBS / 2)
			close(gate[1]);   /* start the flushers */
		ids[i] = enqueue(f->db, key, 1000);
		assert_true(ids[i] >= 1 && ids[i] <= N_JOBS);
		g_free(key);
	}
	while ((n = read(acks[0], &id, sizeof id)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		assert_int_equal(n, sizeof id);
		assert_true(id >= 1 && id <= N_JOBS);
		count[id]++;
	}
	close(acks[0]);
	for (i = 0; i < N_FLUSHERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) != 0)
			fail_msg("flusher %d exited %d", i, WEXITSTATUS(status));
	}
	for (i = 0; i < N_JOBS; i++)
		if (count[ids[i]] != 1)
			fail_msg("job %" G_GINT64_FORMAT " acked %d times", ids[i], count[ids[i]]);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM jobs WHERE state = 2"), N_JOBS);
	assert_int_equal(query_int(f->db, "SELECT max(attempts) FROM jobs"), 1);
	assert_int_equal(query_int(f->db, "SELECT count(DISTINCT lease_id) FROM jobs"), N_JOBS);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM job_payloads"), 0);
}

/* Group commit: one transaction, a status per job; duplicates of the
 * spool and of an earlier job in the same batch are reported as such; one
 * bad job fails the whole batch and writes nothing. */
void
test_enqueue_batch(void **state)
{
	fixture *f = *state;
	spool_new_job a = { .kind = JOB_SAVE, .profile = "local", .idem_key = "b/1" };
	spool_new_job b = { .kind = JOB_SAVE, .profile = "local", .idem_key = "b/2" };
	spool_new_job old = { .kind = JOB_SAVE, .profile = "local", .idem_key = "b/old" };
	spool_new_job bad = { .kind = JOB_SAVE, .profile = "local", .idem_key = NULL };
	const spool_new_job *batch[] = { &a, &old, &b, &a };
	const spool_new_job *broken[] = { &b, &bad };
	gint64 ids[4], old_id = enqueue(f->db, "b/old", 5);
	spool_status st[4];
	GError *err = NULL;

	assert_true(spool_enqueue_batch(f->db, batch, 4, 10, ids, st, &err));
	assert_int_equal(st[0], SPOOL_OK);
	assert_int_equal(st[1], SPOOL_DUPLICATE);
	assert_int_equal(ids[1], old_id);
	assert_int_equal(st[2], SPOOL_OK);
	assert_int_equal(st[3], SPOOL_DUPLICATE);
	assert_int_equal(ids[3], ids[0]);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM jobs"), 3);

	b.idem_key = "b/3";
	assert_false(spool_enqueue_batch(f->db, broken, 2, 11, ids, st, &err));
	assert_non_null(err);
	g_clear_error(&err);
	assert_int_equal(st[0], SPOOL_ERROR);
	assert_int_equal(st[1], SPOOL_ERROR);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM jobs WHERE idem_key = 'b/3'"), 0);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM jobs"), 3);
}

/* ------------------------------------------------------------ nesting */

/* Nested db_begin: the inner rollback undoes only the inner writes, the
 * outer commit keeps the rest; a nested commit leaves the transaction
 * open until the outermost commits. */
void
test_nested_transactions(void **state)
{
	fixture *f = *state;

	assert_true(db_exec(f->db, "CREATE TABLE t (v INTEGER)", NULL));
	assert_true(db_begin(f->db, NULL));
	assert_true(db_exec(f->db, "INSERT INTO t VALUES (1)", NULL));
	assert_true(db_begin(f->db, NULL));
	assert_true(db_exec(f->db, "INSERT INTO t VALUES (2)", NULL));
	db_rollback(f->db);                      /* the inner part only */
	assert_true(db_begin(f->db, NULL));
	assert_true(db_exec(f->db, "INSERT INTO t VALUES (3)", NULL));
	assert_true(db_commit(f->db, NULL));     /* RELEASE: still inside */
	assert_false(sqlite3_get_autocommit(db_handle(f->db)));
	assert_true(db_commit(f->db, NULL));
	assert_true(sqlite3_get_autocommit(db_handle(f->db)));
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM t"), 2);
	assert_int_equal(query_int(f->db, "SELECT sum(v) FROM t"), 4);
	/* a rollback of the outermost undoes everything */
	assert_true(db_begin(f->db, NULL));
	assert_true(db_exec(f->db, "INSERT INTO t VALUES (5)", NULL));
	assert_true(db_begin(f->db, NULL));
	assert_true(db_commit(f->db, NULL));
	db_rollback(f->db);
	assert_true(sqlite3_get_autocommit(db_handle(f->db)));
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM t"), 2);
}

/*
 * spool.c - the durable job queue on top of db.c. See spool.h for the
 * state machine and the choices (attempts counted at lease time, lost
 * leases reported without an error, payload deleted on ack).
 *
 * Every write is one BEGIN IMMEDIATE transaction, so a lease is atomic
 * across processes: the select of due jobs and their update happen under
 * the same write lock. Statements come from db_prepare's cache, so an
 * enqueue is four cached statements and one commit.
 */
#include <string.h>

#include "spool.h"
#include "spool_private.h"

#define LAST_ERROR_MAX 1000

#define JOB_COLS "id, kind, state, profile, idem_key, queue_id, direction, reason, rule, " \
	"mail_from, rcpts, message_id, attempts, lease_id, created_at, not_before, " \
	"lease_until, updated_at, last_error, payload_len, meta"

G_DEFINE_QUARK(crm-spool-error-quark, spool_error)

/* Column i as a new string or NULL. */
static char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? g_strdup((const char *)s) : NULL;
}

/* Bind a string or NULL (the caller's string outlives the step). */
int
spool_bind_str(sqlite3_stmt *st, int i, const char *s)
{
	return s != NULL ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* A job from a row selected with JOB_COLS (no payload). */
static spool_job *
job_from_row(sqlite3_stmt *st, GError **err)
{
	spool_job *j = g_new0(spool_job, 1);

	j->id = sqlite3_column_int64(st, 0);
	j->kind = (job_kind)sqlite3_column_int(st, 1);
	j->state = (job_state)sqlite3_column_int(st, 2);
	j->profile = col_str(st, 3);
	j->idem_key = col_str(st, 4);
	j->queue_id = col_str(st, 5);
	j->direction = col_str(st, 6);
	j->reason = col_str(st, 7);
	j->rule = col_str(st, 8);
	j->mail_from = col_str(st, 9);
	j->rcpts = db_json_to_strings((const char *)sqlite3_column_text(st, 10), err);
	j->message_id = col_str(st, 11);
	j->attempts = sqlite3_column_int(st, 12);
	j->lease_id = sqlite3_column_int64(st, 13);
	j->created_at = sqlite3_column_int64(st, 14);
	j->not_before = sqlite3_column_int64(st, 15);
	j->lease_until = sqlite3_column_int64(st, 16);
	j->updated_at = sqlite3_column_int64(st, 17);
	j->last_error = col_str(st, 18);
	j->payload_len = sqlite3_column_int64(st, 19);
	j->meta = col_str(st, 20);
	if (j->rcpts == NULL) {
		g_prefix_error(err, "job %" G_GINT64_FORMAT " rcpts: ", j->id);
		return spool_job_free(j);
	}
	return j;
}

/* Free a job and everything it holds. */
spool_job *
spool_job_free(spool_job *job)
{
	if (job == NULL)
		return NULL;
	g_free(job->profile);
	g_free(job->idem_key);
	g_free(job->queue_id);
	g_free(job->direction);
	g_free(job->reason);
	g_free(job->rule);
	g_free(job->mail_from);
	if (job->rcpts != NULL)
		g_ptr_array_unref(job->rcpts);
	g_free(job->message_id);
	if (job->payload != NULL)
		g_bytes_unref(job->payload);
	g_free(job->last_error);
	g_free(job->meta);
	g_free(job);
	return NULL;
}

/* spool_job_free as a GDestroyNotify. */
static void
job_free_notify(gpointer p)
{
	spool_job_free(p);
}

/* Load the payload of job j (left NULL when there is none). */
static gboolean
load_payload(crm_db *db, spool_job *j, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT body FROM job_payloads WHERE job_id = ?1", err);
	int rc;

	if (st == NULL)
		return FALSE;
	sqlite3_bind_int64(st, 1, j->id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);

		j->payload = g_bytes_new(p, (gsize)n);
	} else if (rc != SQLITE_DONE) {
		db_set_error(db, err, "reading a payload");
		sqlite3_reset(st);
		return FALSE;
	}
	sqlite3_reset(st);
	return TRUE;
}

/* Step a write statement to completion; FALSE with err on failure. */
gboolean
spool_step_done(crm_db *db, sqlite3_stmt *st, const char *what, GError **err)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		db_set_error(db, err, what);
		sqlite3_reset(st);
		return FALSE;
	}
	sqlite3_reset(st);
	return TRUE;
}

/* Append up to max ids from a SELECT id ... with ?1 = now, ?2 = limit. */
static gboolean
collect_ids(crm_db *db, const char *sql, gint64 now, int max, const char *profile,
    GArray *ids, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, sql, err);
	int rc;

	if (st == NULL)
		return FALSE;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, max);
	spool_bind_str(st, 3, profile);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		gint64 id = sqlite3_column_int64(st, 0);

		g_array_append_val(ids, id);
	}
	if (rc != SQLITE_DONE)
		db_set_error(db, err, "selecting due jobs");
	sqlite3_reset(st);
	return rc == SQLITE_DONE;
}

/* Reserve n lease ids; returns the first. 0 with err on failure. */
static gint64
reserve_lease_ids(crm_db *db, int n, GError **err)
{
	sqlite3_stmt *st = db_prepare(db,
	    "UPDATE spool_counters SET value = value + ?1 WHERE name = 'lease' RETURNING value", err);
	gint64 last = 0;

	if (st == NULL)
		return 0;
	sqlite3_bind_int(st, 1, n);
	if (sqlite3_step(st) == SQLITE_ROW)
		last = sqlite3_column_int64(st, 0);
	else
		db_set_error(db, err, "reserving lease ids");
	sqlite3_reset(st);
	return last > 0 ? last - n + 1 : 0;
}

/* Lease one job by id; NULL with err on failure. */
static spool_job *
lease_one(crm_db *db, gint64 id, gint64 lease_id, gint64 now, gint64 until, GError **err)
{
	sqlite3_stmt *st = db_prepare(db,
	    "UPDATE jobs SET state = 1, attempts = attempts + 1, lease_id = ?2, "
	    "lease_until = ?3, updated_at = ?4 WHERE id = ?1 RETURNING " JOB_COLS, err);
	spool_job *j = NULL;

	if (st == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, lease_id);
	sqlite3_bind_int64(st, 3, until);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		j = job_from_row(st, err);
	else
		db_set_error(db, err, "leasing a job");
	sqlite3_reset(st);
	if (j != NULL && !load_payload(db, j, err))
		j = spool_job_free(j);
	return j;
}

/* Lease up to max due jobs, atomically across processes. */
GPtrArray *
spool_lease(crm_db *db, const spool_policy *pol, gint64 now, int max, GError **err)
{
	return spool_lease_profile(db, pol, now, now, NULL, max, err);
}

/* The same for one profile's jobs (NULL: every profile's). */
GPtrArray *
spool_lease_profile(crm_db *db, const spool_policy *pol, gint64 now, gint64 due_at,
    const char *profile, int max, GError **err)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(job_free_notify);
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	int max_attempts = MAX(pol->max_attempts, 1);
	gint64 until = now + MAX(pol->lease_time, 1);
	gint64 first;
	sqlite3_stmt *st;
	guint i;

	if (max <= 0) {
		g_array_unref(ids);
		return out;
	}
	if (!db_begin(db, err))
		goto fail;
	/* a flusher died holding the last attempt: dead, not leased again */
	st = db_prepare(db,
	    "UPDATE jobs SET state = 3, updated_at = ?1, last_error = "
	    "'lease expired after ' || attempts || ' attempts (the flusher died?)' "
	    "WHERE state = 1 AND lease_until <= ?1 AND attempts >= ?2", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, max_attempts);
	if (!spool_step_done(db, st, "expiring leases", err))
		goto fail;
	/* expired leases first (they waited longest), then pending by due time */
	if (!collect_ids(db, "SELECT id FROM jobs WHERE state = 1 AND lease_until <= ?1 "
	    "AND (?3 IS NULL OR profile = ?3) ORDER BY lease_until, id LIMIT ?2", now, max,
	    profile, ids, err))
		goto fail;
	if ((int)ids->len < max &&
	    !collect_ids(db, "SELECT id FROM jobs WHERE state = 0 AND not_before <= ?1 "
	    "AND (?3 IS NULL OR profile = ?3) ORDER BY not_before, id LIMIT ?2", MIN(due_at, now),
	    max - (int)ids->len, profile, ids, err))
		goto fail;
	if (ids->len == 0) {
		/* commit anyway: the expiry above may have changed rows */
		if (!db_commit(db, err))
			goto fail;
		g_array_unref(ids);
		return out;
	}
	if ((first = reserve_lease_ids(db, (int)ids->len, err)) == 0)
		goto fail;
	for (i = 0; i < ids->len; i++) {
		spool_job *j = lease_one(db, g_array_index(ids, gint64, i), first + i, now, until, err);

		if (j == NULL)
			goto fail;
		g_ptr_array_add(out, j);
	}
	if (!db_commit(db, err))
		goto fail;
	g_array_unref(ids);
	return out;
fail:
	db_rollback(db);
	g_array_unref(ids);
	g_ptr_array_unref(out);
	return NULL;
}

/* Mark a leased job done and drop its payload. */
gboolean
spool_ack(crm_db *db, const spool_job *job, gint64 now, GError **err)
{
	sqlite3_stmt *st;

	if (!db_begin(db, err))
		return FALSE;
	st = db_prepare(db, "UPDATE jobs SET state = 2, lease_until = 0, updated_at = ?3 "
	    "WHERE id = ?1 AND state = 1 AND lease_id = ?2", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, job->id);
	sqlite3_bind_int64(st, 2, job->lease_id);
	sqlite3_bind_int64(st, 3, now);
	if (!spool_step_done(db, st, "ack", err))
		goto fail;
	if (sqlite3_changes(db_handle(db)) == 0) {
		db_rollback(db);
		return FALSE;   /* lease lost: no error */
	}
	st = db_prepare(db, "DELETE FROM job_payloads WHERE job_id = ?1", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, job->id);
	if (!spool_step_done(db, st, "ack payload", err))
		goto fail;
	return db_commit(db, err);
fail:
	db_rollback(db);
	return FALSE;
}

/* s cut to at most max bytes, not inside a UTF-8 sequence; new string. */
static char *
cut_utf8(const char *s, gsize max)
{
	gsize n = strlen(s);

	if (n <= max)
		return g_strdup(s);
	n = max;
	while (n > 0 && ((guchar)s[n] & 0xC0) == 0x80)
		n--;
	return g_strndup(s, n);
}

/* Delay before retry number attempts: base*2^(n-1) capped, jittered. */
gint64
spool_backoff(const spool_policy *pol, int attempts, guint32 rnd)
{
	gint64 base = MAX(pol->backoff_base, 0);
	gint64 cap = MAX(pol->backoff_max, 0);
	gint64 d = base;
	int n;

	for (n = 1; n < attempts && d > 0 && d < cap; n++)
		d *= 2;
	if (d > cap)
		d = cap;
	if (d <= 0)
		return 0;
	return d / 2 + (gint64)(rnd % (guint64)(d / 2 + 1));
}

/* Record a failed attempt: back to pending after a delay, or dead. */
int
spool_fail(crm_db *db, const spool_policy *pol, const spool_job *job,
    gint64 now, guint32 rnd, int retry_after, gboolean permanent,
    const char *error, GError **err)
{
	sqlite3_stmt *st;
	int attempts, state, rc;
	gint64 not_before;
	char *msg = NULL;

	if (!db_begin(db, err))
		return -1;
	st = db_prepare(db, "SELECT attempts FROM jobs WHERE id = ?1 AND state = 1 AND lease_id = ?2", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, job->id);
	sqlite3_bind_int64(st, 2, job->lease_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE) {
			db_set_error(db, err, "fail");
			sqlite3_reset(st);
			goto fail;
		}
		sqlite3_reset(st);
		db_rollback(db);
		return -1;      /* lease lost: no error */
	}
	attempts = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	if (permanent || attempts >= MAX(pol->max_attempts, 1)) {
		state = JOB_DEAD;
		not_before = now;
	} else {
		state = JOB_PENDING;
		not_before = now + (retry_after >= 0 ? retry_after : spool_backoff(pol, attempts, rnd));
	}
	msg = error != NULL ? cut_utf8(error, LAST_ERROR_MAX) : NULL;
	st = db_prepare(db, "UPDATE jobs SET state = ?2, not_before = ?3, lease_until = 0, "
	    "updated_at = ?4, last_error = ?5 WHERE id = ?1", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, job->id);
	sqlite3_bind_int(st, 2, state);
	sqlite3_bind_int64(st, 3, not_before);
	sqlite3_bind_int64(st, 4, now);
	spool_bind_str(st, 5, msg);
	if (!spool_step_done(db, st, "fail", err))
		goto fail;
	g_free(msg);
	return db_commit(db, err) ? state : -1;
fail:
	g_free(msg);
	db_rollback(db);
	return -1;
}

/* The state of job id, or -1 when there is none (inside a transaction). */
static int
job_state_of(crm_db *db, gint64 id)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT state FROM jobs WHERE id = ?1", NULL);
	int state = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		state = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return state;
}

/* Admin: make a job due now. */
gboolean
spool_retry(crm_db *db, gint64 id, gint64 now, GError **err)
{
	sqlite3_stmt *st;
	int state;

	if (!db_begin(db, err))
		return FALSE;
	state = job_state_of(db, id);
	if (state < 0 || state == JOB_DONE) {
		g_set_error(err, SPOOL_ERROR_DOMAIN,
		    state < 0 ? SPOOL_ERROR_NOT_FOUND : SPOOL_ERROR_STATE,
		    state < 0 ? "no job %" G_GINT64_FORMAT : "job %" G_GINT64_FORMAT " is done", id);
		goto fail;
	}
	st = db_prepare(db, "UPDATE jobs SET state = 0, not_before = ?2, lease_id = 0, "
	    "lease_until = 0, updated_at = ?2 WHERE id = ?1", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	if (!spool_step_done(db, st, "retry", err))
		goto fail;
	return db_commit(db, err);
fail:
	db_rollback(db);
	return FALSE;
}

/* Admin: delete a job; the payload goes with it (ON DELETE CASCADE). */
gboolean
spool_purge(crm_db *db, gint64 id, GError **err)
{
	sqlite3_stmt *st;

	if (!db_begin(db, err))
		return FALSE;
	st = db_prepare(db, "DELETE FROM jobs WHERE id = ?1", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (!spool_step_done(db, st, "purge", err))
		goto fail;
	if (sqlite3_changes(db_handle(db)) == 0) {
		g_set_error(err, SPOOL_ERROR_DOMAIN, SPOOL_ERROR_NOT_FOUND,
		    "no job %" G_GINT64_FORMAT, id);
		goto fail;
	}
	return db_commit(db, err);
fail:
	db_rollback(db);
	return FALSE;
}

/* Jobs, newest first, optionally of one state. */
GPtrArray *
spool_list(crm_db *db, int state, int limit, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT " JOB_COLS " FROM jobs "
	    "WHERE ?1 < 0 OR state = ?1 ORDER BY id DESC LIMIT ?2", err);
	GPtrArray *out;
	int rc;

	if (st == NULL)
		return NULL;
	out = g_ptr_array_new_with_free_func(job_free_notify);
	sqlite3_bind_int(st, 1, state);
	sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		spool_job *j = job_from_row(st, err);

		if (j == NULL) {
			sqlite3_reset(st);
			g_ptr_array_unref(out);
			return NULL;
		}
		g_ptr_array_add(out, j);
	}
	if (rc != SQLITE_DONE) {
		db_set_error(db, err, "listing jobs");
		g_ptr_array_unref(out);
		out = NULL;
	}
	sqlite3_reset(st);
	return out;
}

/* One job by id, or NULL. */
spool_job *
spool_get(crm_db *db, gint64 id, gboolean with_payload, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1", err);
	spool_job *j = NULL;
	int rc;

	if (st == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		j = job_from_row(st, err);
	else if (rc != SQLITE_DONE)
		db_set_error(db, err, "reading a job");
	sqlite3_reset(st);
	if (j != NULL && with_payload && !load_payload(db, j, err))
		j = spool_job_free(j);
	return j;
}

static const char *const state_names[] = { "pending", "leased", "done", "dead" };

/* "pending", "leased", "done", "dead" (or "?"). */
const char *
job_state_name(job_state state)
{
	if ((int)state < 0 || (gsize)state >= G_N_ELEMENTS(state_names))
		return "?";
	return state_names[state];
}

/* "save", "event", "followup" (or "?"). */
const char *
job_kind_name(job_kind kind)
{
	switch (kind) {
	case JOB_SAVE:
		return "save";
	case JOB_EVENT:
		return "event";
	case JOB_FOLLOWUP:
		return "followup";
	}
	return "?";
}

/* A state from its name; FALSE when unknown. */
gboolean
job_state_parse(const char *name, job_state *state)
{
	gsize i;

	for (i = 0; name != NULL && i < G_N_ELEMENTS(state_names); i++) {
		if (g_ascii_strcasecmp(name, state_names[i]) == 0) {
			*state = (job_state)i;
			return TRUE;
		}
	}
	return FALSE;
}

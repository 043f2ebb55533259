/*
 * spool_enqueue.c - putting jobs into the spool: one job, or a batch in
 * one transaction (group commit); the index of tracked mail written with
 * each save job; recipients merged into a waiting job when the same
 * message comes again. See spool.h.
 */
#include <string.h>

#include "spool.h"
#include "spool_private.h"
#include "idem.h"

/* The id of the job with idem_key (inside the caller's transaction). */
static gint64
existing_id(crm_db *db, const char *idem_key)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT id FROM jobs WHERE idem_key = ?1", NULL);
	gint64 id = 0;

	if (st == NULL)
		return 0;
	spool_bind_str(st, 1, idem_key);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

/* The message's entry in the index of tracked mail (correlation). A
 * Message-ID already indexed (the same message for a second profile) is
 * kept as it was. */
static gboolean
index_tracked(crm_db *db, const spool_new_job *job, gint64 job_id, gint64 now, GError **err)
{
	char *mid = idem_msgid_normalize(job->message_id);
	GPtrArray *parts = g_ptr_array_new();
	char *pjson;
	sqlite3_stmt *st;
	gboolean ok = FALSE;

	if (mid == NULL) {
		g_ptr_array_unref(parts);
		return TRUE;
	}
	if (job->mail_from != NULL && *job->mail_from != '\0')
		g_ptr_array_add(parts, (gpointer)job->mail_from);
	for (gsize i = 0; job->rcpts != NULL && i < job->nrcpts; i++)
		g_ptr_array_add(parts, (gpointer)job->rcpts[i]);
	pjson = db_json_from_strings((const char *const *)parts->pdata, parts->len);
	st = db_prepare(db, "INSERT INTO tracked (message_id, job_id, direction, thread_conv, token, "
	    "regarding, subject_norm, participants, created_at, track_id) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (message_id) DO NOTHING", err);
	if (st != NULL) {
		spool_bind_str(st, 1, mid);
		sqlite3_bind_int64(st, 2, job_id);
		spool_bind_str(st, 3, job->direction);
		spool_bind_str(st, 4, job->thread_conv);
		if (job->want_token)
			sqlite3_bind_int64(st, 5, job_id);
		else
			sqlite3_bind_null(st, 5);
		spool_bind_str(st, 6, job->regarding);
		spool_bind_str(st, 7, job->subject_norm);
		spool_bind_str(st, 8, pjson);
		sqlite3_bind_int64(st, 9, now);
		spool_bind_str(st, 10, job->track_id);
		ok = spool_step_done(db, st, "index tracked message", err);
	}
	g_free(pjson);
	g_free(mid);
	g_ptr_array_unref(parts);
	return ok;
}

/* The same message again (another transaction, another pass): add the new
 * recipients to the job that is still waiting; a job already delivered
 * keeps its recipients (the activity exists; see ledger.c). */
static gboolean
merge_rcpts(crm_db *db, gint64 id, const spool_new_job *job, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT rcpts FROM jobs WHERE id = ?1 AND state IN (0, 3)", err);
	GPtrArray *have = NULL;
	gboolean changed = FALSE, ok = TRUE;

	if (st == NULL)
		return FALSE;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		have = db_json_to_strings((const char *)sqlite3_column_text(st, 0), NULL);
	sqlite3_reset(st);
	if (have == NULL)
		return TRUE;
	for (gsize i = 0; job->rcpts != NULL && i < job->nrcpts; i++) {
		gboolean seen = FALSE;
		for (guint k = 0; k < have->len && !seen; k++)
			seen = g_ascii_strcasecmp(g_ptr_array_index(have, k), job->rcpts[i]) == 0;
		if (!seen) {
			g_ptr_array_add(have, g_strdup(job->rcpts[i]));
			changed = TRUE;
		}
	}
	if (changed) {
		char *json = db_json_from_strings((const char *const *)have->pdata, have->len);
		st = db_prepare(db, "UPDATE jobs SET rcpts = ?2 WHERE id = ?1", err);
		ok = st != NULL;
		if (ok) {
			sqlite3_bind_int64(st, 1, id);
			spool_bind_str(st, 2, json);
			ok = spool_step_done(db, st, "merge recipients", err);
		}
		g_free(json);
	}
	g_ptr_array_unref(have);
	return ok;
}

/* Insert one job inside the caller's transaction. On SPOOL_ERROR the
 * caller rolls back. */
static spool_status
insert_job(crm_db *db, const spool_new_job *job, gint64 now, gint64 *id,
    GError **err)
{
	sqlite3_stmt *st;
	char *rcpts;
	gint64 new_id;
	spool_status rc = SPOOL_ERROR;

	if (job->idem_key == NULL || *job->idem_key == '\0' ||
	    job->kind < JOB_SAVE || job->kind > JOB_FOLLOWUP) {
		g_set_error(err, SPOOL_ERROR_DOMAIN, SPOOL_ERROR_INVALID,
		    "a job needs a valid kind and an idempotency key");
		return SPOOL_ERROR;
	}
	rcpts = db_json_from_strings(job->rcpts, job->rcpts != NULL ? job->nrcpts : 0);
	st = db_prepare(db,
	    "INSERT INTO jobs (kind, state, profile, idem_key, queue_id, direction, reason, "
	    "rule, mail_from, rcpts, message_id, attempts, lease_id, created_at, not_before, "
	    "lease_until, updated_at, payload_len, meta) "
	    "VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0, ?11, ?11, 0, ?11, ?12, ?13) "
	    "ON CONFLICT (idem_key) DO NOTHING", err);
	if (st == NULL)
		goto out;
	sqlite3_bind_int(st, 1, job->kind);
	spool_bind_str(st, 2, job->profile);
	spool_bind_str(st, 3, job->idem_key);
	spool_bind_str(st, 4, job->queue_id);
	spool_bind_str(st, 5, job->direction);
	spool_bind_str(st, 6, job->reason);
	spool_bind_str(st, 7, job->rule);
	spool_bind_str(st, 8, job->mail_from);
	spool_bind_str(st, 9, rcpts);
	spool_bind_str(st, 10, job->message_id);
	sqlite3_bind_int64(st, 11, now);
	sqlite3_bind_int64(st, 12, (gint64)job->payload_len);
	spool_bind_str(st, 13, job->meta);
	if (!spool_step_done(db, st, "enqueue", err))
		goto out;
	if (sqlite3_changes(db_handle(db)) == 0) {
		gint64 old = existing_id(db, job->idem_key);
		if (id != NULL)
			*id = old;
		rc = merge_rcpts(db, old, job, err) ? SPOOL_DUPLICATE : SPOOL_ERROR;
		goto out;
	}
	new_id = sqlite3_last_insert_rowid(db_handle(db));
	st = db_prepare(db, "INSERT INTO job_payloads (job_id, body) VALUES (?1, ?2)", err);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, new_id);
	if (job->payload != NULL && job->payload_len > 0)
		sqlite3_bind_blob64(st, 2, job->payload, job->payload_len, SQLITE_STATIC);
	else
		sqlite3_bind_zeroblob(st, 2, 0);
	if (!spool_step_done(db, st, "enqueue payload", err))
		goto out;
	if (job->kind == JOB_SAVE && job->message_id != NULL && !index_tracked(db, job, new_id, now, err))
		goto out;
	if (id != NULL)
		*id = new_id;
	rc = SPOOL_OK;
out:
	g_free(rcpts);
	return rc;
}

/* Queue one job in its own transaction. */
spool_status
spool_enqueue(crm_db *db, const spool_new_job *job, gint64 now, gint64 *id,
    GError **err)
{
	spool_status rc;

	if (!db_begin(db, err))
		return SPOOL_ERROR;
	rc = insert_job(db, job, now, id, err);
	if (rc != SPOOL_ERROR) {
		/* a duplicate may have added recipients to the waiting job */
		if (!db_commit(db, err))
			return SPOOL_ERROR;
	} else {
		db_rollback(db);
	}
	return rc;
}

/* Queue n jobs in one transaction (group commit). */
gboolean
spool_enqueue_batch(crm_db *db, const spool_new_job *const *jobs, gsize n,
    gint64 now, gint64 *ids, spool_status *status, GError **err)
{
	gsize i;

	for (i = 0; i < n; i++)
		status[i] = SPOOL_ERROR;
	if (!db_begin(db, err))
		return FALSE;
	for (i = 0; i < n; i++) {
		status[i] = insert_job(db, jobs[i], now, &ids[i], err);
		if (status[i] == SPOOL_ERROR)
			break;
	}
	if (i < n || !db_commit(db, err)) {
		db_rollback(db);
		for (i = 0; i < n; i++)
			status[i] = SPOOL_ERROR;
		return FALSE;
	}
	return TRUE;
}


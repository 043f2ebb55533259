/*
 * spool_profiles.c - the spool per CRM profile: due profiles, postponing,
 * pauses and last errors (see spool_profiles.h).
 */
#include <string.h>

#include "spool_profiles.h"
#include "spool_private.h"

#define PROFILE_ERROR_MAX 1024

/* Profiles with due jobs that are not paused. */
GPtrArray *
spool_due_profiles(crm_db *db, gint64 now, GError **err)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	sqlite3_stmt *st = db_prepare(db,
	    "SELECT DISTINCT profile FROM jobs WHERE profile IS NOT NULL AND "
	    "((state = 0 AND not_before <= ?1) OR (state = 1 AND lease_until <= ?1)) "
	    "AND profile NOT IN (SELECT profile FROM profile_state WHERE paused_until > ?1) "
	    "ORDER BY profile", err);
	int rc;

	if (st == NULL) {
		g_ptr_array_unref(out);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		g_ptr_array_add(out, g_strdup((const char *)sqlite3_column_text(st, 0)));
	if (rc != SQLITE_DONE) {
		db_set_error(db, err, "selecting due profiles");
		g_clear_pointer(&out, g_ptr_array_unref);
	}
	sqlite3_reset(st);
	return out;
}

/* Back to pending without counting the attempt. */
gboolean
spool_postpone(crm_db *db, const spool_job *job, gint64 not_before, const char *why,
    GError **err)
{
	sqlite3_stmt *st;

	if (!db_begin(db, err))
		return FALSE;
	st = db_prepare(db, "UPDATE jobs SET state = 0, attempts = MAX(attempts - 1, 0), "
	    "not_before = ?3, lease_until = 0, updated_at = ?3, last_error = ?4 "
	    "WHERE id = ?1 AND state = 1 AND lease_id = ?2", err);
	if (st == NULL) {
		db_rollback(db);
		return FALSE;
	}
	sqlite3_bind_int64(st, 1, job->id);
	sqlite3_bind_int64(st, 2, job->lease_id);
	sqlite3_bind_int64(st, 3, not_before);
	spool_bind_str(st, 4, why);
	if (!spool_step_done(db, st, "postponing a job", err)) {
		db_rollback(db);
		return FALSE;
	}
	return db_commit(db, err);
}

/* Upsert one profile_state column set. */
static gboolean
upsert(crm_db *db, const char *sql, const char *profile, gint64 a, const char *text,
    gint64 now, GError **err)
{
	sqlite3_stmt *st;

	if (!db_begin(db, err))
		return FALSE;
	st = db_prepare(db, sql, err);
	if (st == NULL) {
		db_rollback(db);
		return FALSE;
	}
	spool_bind_str(st, 1, profile);
	sqlite3_bind_int64(st, 2, a);
	spool_bind_str(st, 3, text);
	sqlite3_bind_int64(st, 4, now);
	if (!spool_step_done(db, st, "storing a profile's state", err)) {
		db_rollback(db);
		return FALSE;
	}
	return db_commit(db, err);
}

/* Record the last error. */
gboolean
spool_profile_note(crm_db *db, const char *profile, const char *error, gint64 now, GError **err)
{
	char *cut;
	gboolean ok;

	if (error == NULL)
		return TRUE;
	cut = g_utf8_make_valid(error, MIN((gssize)strlen(error), PROFILE_ERROR_MAX));
	ok = upsert(db, "INSERT INTO profile_state (profile, paused_until, last_error, last_error_at, "
	    "updated_at) VALUES (?1, 0, ?3, ?4, ?4) ON CONFLICT (profile) DO UPDATE SET "
	    "last_error = ?3, last_error_at = ?4, updated_at = ?4", profile, 0, cut, now, err);
	g_free(cut);
	return ok;
}

/* Store a pause. */
gboolean
spool_profile_pause(crm_db *db, const char *profile, gint64 until, gint64 now, GError **err)
{
	return upsert(db, "INSERT INTO profile_state (profile, paused_until, updated_at) "
	    "VALUES (?1, ?2, ?4) ON CONFLICT (profile) DO UPDATE SET "
	    "paused_until = MAX(paused_until, ?2), updated_at = ?4", profile, until, NULL, now, err);
}

/* Free one summary row (the array's element destructor). */
static void
row_free(gpointer p)
{
	spool_profile_row *r = p;

	if (r == NULL)
		return;
	g_free(r->profile);
	g_free(r->last_error);
	g_free(r);
}

/* Backlog and state per profile. */
GPtrArray *
spool_profile_summary(crm_db *db, GError **err)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(row_free);
	sqlite3_stmt *st = db_prepare(db,
	    "WITH names AS (SELECT profile FROM jobs WHERE profile IS NOT NULL "
	    "  UNION SELECT profile FROM profile_state) "
	    "SELECT n.profile, "
	    " (SELECT COUNT(*) FROM jobs j WHERE j.profile = n.profile AND j.state = 0), "
	    " (SELECT COUNT(*) FROM jobs j WHERE j.profile = n.profile AND j.state = 1), "
	    " (SELECT COUNT(*) FROM jobs j WHERE j.profile = n.profile AND j.state = 2), "
	    " (SELECT COUNT(*) FROM jobs j WHERE j.profile = n.profile AND j.state = 3), "
	    " COALESCE(p.paused_until, 0), p.last_error, COALESCE(p.last_error_at, 0) "
	    "FROM names n LEFT JOIN profile_state p ON p.profile = n.profile ORDER BY n.profile", err);
	int rc;

	if (st == NULL) {
		g_ptr_array_unref(out);
		return NULL;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		spool_profile_row *r = g_new0(spool_profile_row, 1);
		r->profile = g_strdup((const char *)sqlite3_column_text(st, 0));
		r->pending = sqlite3_column_int64(st, 1);
		r->leased = sqlite3_column_int64(st, 2);
		r->done = sqlite3_column_int64(st, 3);
		r->dead = sqlite3_column_int64(st, 4);
		r->paused_until = sqlite3_column_int64(st, 5);
		if (sqlite3_column_text(st, 6) != NULL)
			r->last_error = g_strdup((const char *)sqlite3_column_text(st, 6));
		r->last_error_at = sqlite3_column_int64(st, 7);
		g_ptr_array_add(out, r);
	}
	if (rc != SQLITE_DONE) {
		db_set_error(db, err, "summing the spool per profile");
		g_clear_pointer(&out, g_ptr_array_unref);
	}
	sqlite3_reset(st);
	return out;
}

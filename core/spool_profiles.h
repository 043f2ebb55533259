/*
 * spool_profiles.h - the spool seen per CRM profile: which profiles have
 * jobs due (a paused profile has none), postponing a leased job while its
 * profile is paused (no attempt counted), and each profile's state: the
 * pause a Retry-After set, the last error, and the backlog per job state
 * that `crm-milterctl queue` shows. The pause is stored, so a restarted
 * flusher (or a second one) honours it too.
 *
 * Ownership: lists returned are new arrays (g_ptr_array_unref).
 *
 * Public: spool_due_profiles, spool_postpone, spool_profile_note,
 *         spool_profile_pause, spool_profile_summary.
 */
#ifndef CRM_SPOOL_PROFILES_H
#define CRM_SPOOL_PROFILES_H

#include <glib.h>
#include "db.h"
#include "spool.h"

typedef struct spool_profile_row {
	char *profile;
	gint64 pending, leased, done, dead;
	gint64 paused_until;     /* unix s; 0: not paused */
	char *last_error;        /* or NULL */
	gint64 last_error_at;
} spool_profile_row;

/* Profiles with due jobs that are not paused (char *). */
GPtrArray *spool_due_profiles(crm_db *db, gint64 now, GError **err);
/* Hand a leased job back: pending again at not_before, the attempt its
 * lease counted taken back. FALSE (no err) if the lease was lost. */
gboolean spool_postpone(crm_db *db, const spool_job *job, gint64 not_before,
    const char *why, GError **err);
/* Record the profile's last error (NULL: the last call succeeded and the
 * stored error stays as it was). */
gboolean spool_profile_note(crm_db *db, const char *profile, const char *error,
    gint64 now, GError **err);
/* Pause the profile until `until` (a later pause already stored is kept). */
gboolean spool_profile_pause(crm_db *db, const char *profile, gint64 until, gint64 now,
    GError **err);
/* Every profile with jobs or a state, by name (spool_profile_row *). */
GPtrArray *spool_profile_summary(crm_db *db, GError **err);

#endif

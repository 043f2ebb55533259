/*
 * flush.h - one pass of the flusher: lease what is due, hand each job to
 * the connector of its CRM profile, then ack it, schedule a retry, or
 * dead-letter it. Shared by crm-flusher and the tests.
 *
 * The clock and the jitter source are injected (flush_env), so tests can
 * run the state machine exactly.
 *
 * Public: flush_run, flush_policy, flush_check_profiles, flush_sync_directories.
 */
#ifndef CRM_FLUSH_H
#define CRM_FLUSH_H

#include <glib.h>
#include "config.h"
#include "db.h"
#include "spool.h"

typedef struct flush_env {
	gint64 (*now)(void *data);     /* unix seconds */
	guint32 (*rnd)(void *data);    /* jitter */
	void *data;
	volatile int *stop;            /* set non-zero to stop between jobs */
} flush_env;

typedef struct flush_stats {
	int leased;
	int done;
	int retried;
	int dead;
} flush_stats;

/* Open and close every profile's connector once: a profile that cannot
 * work (its secret file open to others, missing, malformed) is an error
 * naming it, so crm-flusher refuses to start (or to reload). */
gboolean flush_check_profiles(crm_db *db, const crm_config *cfg, GError **err);
/* Pull the directory of every profile whose directory_sync interval has
 * passed (its connector's sync_directory; the time of the last good sync
 * is kept in sync_state as object "directory"). Returns how many synced;
 * failures are logged and retried at the next call. */
int flush_sync_directories(crm_db *db, const crm_config *cfg, gint64 now);
/* The spool policy a config asks for. */
spool_policy flush_policy(const crm_config *cfg);
/* Lease and process batches until nothing is due (or *stop). FALSE with
 * err only when the spool itself fails; connector failures are recorded
 * on the jobs. */
gboolean flush_run(crm_db *db, const crm_config *cfg, const flush_env *env,
    flush_stats *stats, GError **err);

#endif

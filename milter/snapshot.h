/*
 * snapshot.h - the reloadable runtime of crm-milter: the config snapshot
 * plus the spool connections opened for it. The current runtime is the
 * program's only global that changes: SIGHUP builds a new one and swaps it
 * in under a lock; each SMTP connection keeps a reference to the one it
 * started with (OpenDKIM's conf_refcnt), so a reload never pulls the
 * config from under a message.
 *
 * Spool connections are pooled per runtime (SQLite handles are used by one
 * thread at a time): runtime_db_get takes an idle one or opens a new one,
 * runtime_db_put gives it back.
 *
 * Ownership: runtime_new takes the config reference it is given;
 * snapshot_get returns a new reference (runtime_unref, NULL-safe, returns
 * NULL); snapshot_set takes the reference it is given.
 *
 * Public: runtime_new, runtime_ref, runtime_unref, runtime_db_get,
 *         runtime_db_put, snapshot_get, snapshot_set.
 */
#ifndef CRM_SNAPSHOT_H
#define CRM_SNAPSHOT_H

#include <glib.h>
#include "config.h"
#include "db.h"

typedef struct milter_runtime {
	gint refcnt;
	crm_config *cfg;          /* owned reference */
	GMutex lock;              /* guards idle */
	GPtrArray *idle;          /* crm_db *, ready for use */
} milter_runtime;

milter_runtime *runtime_new(crm_config *cfg);
milter_runtime *runtime_ref(milter_runtime *rt);
milter_runtime *runtime_unref(milter_runtime *rt);
/* A spool connection for this thread; NULL with err when it cannot open. */
crm_db *runtime_db_get(milter_runtime *rt, GError **err);
/* Give it back; broken = TRUE closes it instead (after an error). */
void runtime_db_put(milter_runtime *rt, crm_db *db, gboolean broken);

/* The current runtime, with a new reference, or NULL before the first set. */
milter_runtime *snapshot_get(void);
/* Install rt as current (takes the reference); drops the old one. */
void snapshot_set(milter_runtime *rt);

#endif

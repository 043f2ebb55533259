/*
 * spool_private.h - helpers shared by the spool's own files (spool.c,
 * spool_enqueue.c, spool_profiles.c); not part of the spool's interface.
 */
#ifndef CRM_SPOOL_PRIVATE_H
#define CRM_SPOOL_PRIVATE_H

#include <sqlite3.h>
#include "db.h"

/* Bind a string or NULL (the caller's string outlives the step). */
int spool_bind_str(sqlite3_stmt *st, int i, const char *s);
/* Step a write statement to completion; FALSE with err on failure. */
gboolean spool_step_done(crm_db *db, sqlite3_stmt *st, const char *what, GError **err);

#endif

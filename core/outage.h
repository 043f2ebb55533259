/*
 * outage.h - when to log a failure that repeats every second (crm-tracker's
 * spool writes): the first failure, then at most once per interval while
 * the outage lasts, and one line when it ends. No I/O: the caller logs,
 * and passes the (monotonic) time so tests choose it.
 *
 * Ownership: an outage is a plain value the caller keeps (zeroed: no
 * outage); nothing to free.
 *
 * Public: outage, outage_fail, outage_ok.
 */
#ifndef CRM_OUTAGE_H
#define CRM_OUTAGE_H

#include <glib.h>

typedef struct outage {
	gboolean on;        /* failing now */
	gint64 since;       /* time of the first failure of this outage */
	gint64 logged;      /* time a failure was last logged */
	guint64 failures;   /* failures in this outage */
	guint64 unlogged;   /* after outage_fail said log: failures not logged before it */
	guint64 quiet;      /* failures not logged since the last logged one */
} outage;

/* A failure at time now: TRUE when the caller should log it (the first of
 * an outage, then the first after every `every`); o->unlogged then says
 * how many were not logged since the last line. */
gboolean outage_fail(outage *o, gint64 now, gint64 every);
/* A success at time now: when it ends an outage, its length (now - since,
 * at least 0) with o->failures still set for the caller's line, and the
 * outage is over; else -1. */
gint64 outage_ok(outage *o, gint64 now);

#endif

/*
 * outage.c - when to log a repeating failure. See outage.h.
 */
#include "outage.h"

/* Count the failure; log the first of an outage and one per interval. */
gboolean
outage_fail(outage *o, gint64 now, gint64 every)
{
	if (!o->on) {
		o->on = TRUE;
		o->since = o->logged = now;
		o->failures = 1;
		o->unlogged = o->quiet = 0;
		return TRUE;
	}
	o->failures++;
	if (now - o->logged >= every) {
		o->logged = now;
		o->unlogged = o->quiet;
		o->quiet = 0;
		return TRUE;
	}
	o->quiet++;
	return FALSE;
}

/* End the outage, if there is one, and say how long it lasted. */
gint64
outage_ok(outage *o, gint64 now)
{
	if (!o->on)
		return -1;
	o->on = FALSE;
	return MAX(now - o->since, 0);
}

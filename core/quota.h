/*
 * quota.h - how many events each key (a tracked message's id) may record
 * per time bucket (an hour in crm-tracker: tracker { max_events_per_message
 * }), so a client that replays a message's URLs cannot fill the spool and
 * the CRM. No I/O, no clock: the caller gives the bucket.
 *
 * Counts are for the current bucket only: a later bucket starts afresh
 * (and forgets the earlier one, so memory is one small entry per key
 * seen in the bucket, at most QUOTA_KEYS_MAX: beyond, the counts start
 * afresh, failing open); an earlier bucket (the clock stepped back)
 * counts in the current one. A count taken for an event that was then not
 * written (the spool failed) is given back.
 *
 * Ownership: quota_new returns a table freed with quota_free (NULL-safe,
 * returns NULL); keys are copied. One thread.
 *
 * Public: quota_new, quota_free, quota_take, quota_give_back.
 */
#ifndef CRM_QUOTA_H
#define CRM_QUOTA_H

#include <glib.h>

typedef struct quota quota;

#define QUOTA_NONE G_MININT64    /* counted in no bucket */
#define QUOTA_KEYS_MAX 200000    /* keys counted at once (~80 bytes each) */

quota *quota_new(void);
quota *quota_free(quota *q);
/* Count one event of key in bucket: TRUE when it is within max (0: no
 * limit), FALSE (not counted) when key has had max in this bucket.
 * *counted_in gets the bucket it was counted in (QUOTA_NONE: not
 * counted), for quota_give_back. */
gboolean quota_take(quota *q, const char *key, gint64 bucket, guint max, gint64 *counted_in);
/* Undo a quota_take of key that was counted in counted_in (nothing when
 * that bucket is over, or for QUOTA_NONE). */
void quota_give_back(quota *q, const char *key, gint64 counted_in);

#endif

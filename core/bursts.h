/*
 * bursts.h - the recent clicks of each tracked message, for crm-tracker's
 * burst check (core/engagement.c: several different links of one message
 * clicked within seconds is a security scanner).
 *
 * Keyed by the message's tracking id (hex). At most BURSTS_MARKS_MAX
 * clicks are kept per message, so a client that replays one click URL in
 * a loop costs bounded memory and bounded work per judged click; when the
 * list is full the oldest click of a link clicked again later goes first
 * (a replay cannot push other links out and hide a burst), else the
 * oldest. The caller prunes old clicks. No I/O, no clock: times
 * are the caller's (real time, microseconds).
 *
 * Ownership: bursts_new returns a table freed with bursts_free (NULL-safe,
 * returns NULL); hex is copied. One thread (crm-tracker's writer).
 *
 * Public: bursts_new, bursts_free, bursts_note, bursts_links,
 *         bursts_prune, bursts_marks, BURSTS_MARKS_MAX.
 */
#ifndef CRM_BURSTS_H
#define CRM_BURSTS_H

#include <glib.h>

#define BURSTS_MARKS_MAX 64      /* clicks kept per message */

typedef struct bursts bursts;

bursts *bursts_new(void);
bursts *bursts_free(bursts *b);
/* Note a click of link of message hex at at_us. */
void bursts_note(bursts *b, const char *hex, gint64 at_us, guint link);
/* Different links of message hex clicked within span_us of at_us (before
 * or after), at least 1 (the click being judged). */
guint bursts_links(const bursts *b, const char *hex, gint64 at_us, gint64 span_us);
/* Forget the clicks before cutoff_us. */
void bursts_prune(bursts *b, gint64 cutoff_us);
/* Clicks kept for message hex (tests, logs). */
guint bursts_marks(const bursts *b, const char *hex);

#endif

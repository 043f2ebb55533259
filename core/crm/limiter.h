/*
 * limiter.h - how fast one CRM profile may be called: a token bucket of
 * requests per second (bursts up to one second's worth) and a pause that
 * a 429/503 Retry-After sets for the whole profile. Every worker of the
 * profile, and every HTTP request a connector makes, waits on the same
 * limiter, so no request leaves inside a Retry-After window and the rate
 * holds across threads.
 *
 * The clock is injectable (tests); the default is the monotonic clock,
 * with pauses given in seconds from now.
 *
 * Ownership: limiter_new returns a limiter freed with limiter_free
 * (NULL-safe, returns NULL); it is thread-safe.
 *
 * A limiter attached to a pause board (pauseboard.h) also stores its
 * pauses there at once and obeys the pauses other flushers of the spool
 * stored: a Retry-After holds across processes and survives a SIGKILL.
 *
 * Public: limiter_new, limiter_free, limiter_wait, limiter_pause,
 *         limiter_paused_for, limiter_attach_board.
 */
#ifndef CRM_LIMITER_H
#define CRM_LIMITER_H

#include <glib.h>

#include "pauseboard.h"

typedef struct crm_limiter crm_limiter;

/* rate: requests per second (0: no rate limit). */
crm_limiter *limiter_new(double rate);
crm_limiter *limiter_free(crm_limiter *l);
/*
 * Wait for the right to send one request. Waits at most max_wait_ms; if
 * the profile is paused longer than that, returns FALSE at once and
 * *paused_s (if not NULL) gets the seconds still to wait. l may be NULL
 * (no limit).
 */
gboolean limiter_wait(crm_limiter *l, gint64 max_wait_ms, int *paused_s);
/* Pause every request of the profile for seconds from now (a longer
 * pause already set is kept). */
void limiter_pause(crm_limiter *l, int seconds);
/* Seconds the profile is still paused (0: not paused). */
int limiter_paused_for(crm_limiter *l);
/* Share pauses through board under the profile's name (both borrowed;
 * board may be NULL). Call before the limiter is used by threads. */
void limiter_attach_board(crm_limiter *l, pauseboard *board, const char *name);

#endif

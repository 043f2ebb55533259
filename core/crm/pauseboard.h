/*
 * pauseboard.h - Retry-After pauses shared by every crm-flusher of a
 * spool, and kept when one is killed: a small file next to the spool
 * (SPOOL.pauses), memory-mapped, one slot per CRM profile. Setting a
 * pause is one atomic store into the shared mapping, made by the worker
 * the moment the 429/503 arrives, before it does anything else: no lock,
 * no fsync. So a flusher started after this one was killed with SIGKILL
 * (the page cache outlives the process) and any other flusher of the same
 * spool see the pause at once. A machine crash loses the file's latest
 * stores, but a reboot outlasts any Retry-After a CRM sends.
 *
 * The database keeps a copy for `crm-milterctl queue profiles`; this is
 * what the flusher obeys.
 *
 * Layout: PAUSEBOARD_SLOTS slots of {name, until} (until: unix time in
 * microseconds). A slot is claimed for a new name under flock(2) (rare);
 * reads and pause stores are lock-free 64-bit atomics. A name longer than
 * PAUSEBOARD_NAME_MAX - 1 bytes, or a full board, falls back to no shared
 * pause (the in-memory limiter and the database still hold it).
 *
 * Ownership: pauseboard_open returns a board freed with pauseboard_close
 * (NULL-safe, returns NULL); it may be shared by threads.
 *
 * Public: pauseboard_open, pauseboard_close, pauseboard_set,
 *         pauseboard_until, PAUSEBOARD_SLOTS, PAUSEBOARD_NAME_MAX.
 */
#ifndef CRM_PAUSEBOARD_H
#define CRM_PAUSEBOARD_H

#include <glib.h>

#define PAUSEBOARD_SLOTS 256
#define PAUSEBOARD_NAME_MAX 120

typedef struct pauseboard pauseboard;

/* Open (creating it, mode 0600) the board of the spool at spool_path. */
pauseboard *pauseboard_open(const char *spool_path, GError **err);
pauseboard *pauseboard_close(pauseboard *b);
/* Pause profile until until_us (unix us); a later pause already set stays. */
void pauseboard_set(pauseboard *b, const char *profile, gint64 until_us);
/* Until when profile is paused (unix us; 0: never paused). b may be NULL. */
gint64 pauseboard_until(pauseboard *b, const char *profile);

#endif

/*
 * recorder.h - crm-tracker's events on their way to the spool.
 *
 * Request threads hand each verified open or click to recorder_add and
 * answer at once; one writer thread, the only user of the spool, judges
 * the events (core/engagement.c) and queues them as JOB_EVENT jobs in
 * batches (one transaction per batch: a group commit).
 *
 * Clicks wait scanner_click_window seconds before they are judged, so
 * that every click of a burst, the first one too, is judged with the
 * clicks of the same message that followed it. Opens are judged at once.
 * For each event the writer looks the tracking id up in the index of
 * tracked mail (tracked.track_id): the sending time (for the timing
 * check), the message's Message-ID and the CRM profile of its save job;
 * an id not found there goes to the first crm profile of the config.
 *
 * Events wait in memory (at most tracker { max_pending_size } of them;
 * beyond that new ones are not recorded): a crash loses the events of the
 * last moments, never a request's answer. The writer runs at a lower
 * priority than the request threads (nice +5), so answers stay fast under
 * load and the writer catches up when requests leave room; the memory
 * bound absorbs bursts of a few seconds at full speed (measured on 2
 * cores: the writer stores about 75,000 events/s when it has a core). At
 * most max_events_per_message events of one message are recorded an hour
 * (core/quota.c; the same event again within a minute is one job and not
 * counted). Events not recorded are counted in one log line, at once and
 * then at most once a minute. When the spool fails the batch is kept and
 * tried again a second later; the log says so at the first failure, then
 * once a minute (core/outage.c), and once when the spool works again.
 * recorder_stop judges and writes everything still waiting before it
 * returns.
 *
 * Ownership: recorder_add takes the event and its strings (freed by the
 * recorder, also when it is dropped). recorder_stop frees the recorder
 * (NULL-safe, returns NULL).
 *
 * Public: recorder_start, recorder_add, recorder_stop, rec_event.
 */
#ifndef CRM_TRACKER_RECORDER_H
#define CRM_TRACKER_RECORDER_H

#include <glib.h>
#include "engagement.h"
#include "snap.h"
#include "token.h"

typedef struct rec_event {
	eng_kind kind;
	gboolean head;             /* a HEAD request */
	guint8 id[TOKEN_ID_LEN];   /* the message's tracking id */
	guint link;                /* clicks */
	char *target;              /* clicks: the bound URL */
	char *user_agent;          /* NULL: none sent */
	char *client_ip;           /* NULL: unknown */
	gint64 at_us;              /* real time of the request, microseconds */
} rec_event;

typedef struct recorder recorder;

/* Start the writer thread; it reads the spool settings and the
 * engagement data from the holder's current snapshot. */
recorder *recorder_start(snap_holder *snaps);
/* Queue one event (moved in); FALSE when it was dropped (queue full). */
gboolean recorder_add(recorder *r, rec_event *ev);
/* Write what waits, stop the thread, free. */
recorder *recorder_stop(recorder *r);

#endif

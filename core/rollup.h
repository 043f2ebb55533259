/*
 * rollup.h - engagement of one sent message, summed from what the spool
 * database holds: opens and clicks (events from crm-tracker), replies
 * (inbound activities correlated to it) and delivery reports (bounced
 * events). What `crm-milterctl report` prints, and what connectors put
 * into the CRM's rollup fields.
 *
 * People first: opens and clicks count human events only (a person, also
 * through Google's image proxy); privacy-proxy prefetches and security
 * scanners are counted apart, per class, never in the human counts. A
 * caller that wants every event adds the apart counts itself.
 *
 * Ownership: rollup_for_message fills a caller-owned struct with no
 * pointers to free; rollup_sent lists a new array of rollup_row (freed
 * with the array).
 *
 * Public: rollup_for_message, rollup_sent.
 */
#ifndef CRM_ROLLUP_H
#define CRM_ROLLUP_H

#include <glib.h>

#include "db.h"

typedef struct rollup_counts {
	guint n;              /* events */
	gint64 first, last;   /* unix seconds; 0: none */
} rollup_counts;

typedef struct rollup {
	rollup_counts opens, clicks;             /* human */
	rollup_counts proxy_opens, proxy_clicks; /* privacy proxies */
	rollup_counts scanner_opens, scanner_clicks;
	rollup_counts replies;                   /* inbound mail correlated to it */
	rollup_counts bounces;                   /* recipients reported failed */
} rollup;

typedef struct rollup_row {
	gint64 activity_id;
	char *message_id;    /* owned */
	char *to;            /* owned: first recipient, or NULL */
	char *subject;       /* owned, or NULL */
	gint64 date;
	rollup r;
} rollup_row;

/* Sum the engagement of the message with Message-ID message_id (bare). */
gboolean rollup_for_message(crm_db *db, const char *message_id, rollup *out, GError **err);
/* Outbound activities in the ledger with their rollups, newest first, at
 * most limit, dated at or after since (0: all). */
GPtrArray *rollup_sent(crm_db *db, int limit, gint64 since, GError **err);

#endif

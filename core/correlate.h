/*
 * correlate.h - which tracked message an inbound message answers, from the
 * ledger's index of tracked mail (table `tracked`, written with each save
 * job by the spool), in this order, the method recorded:
 *   in-reply-to, references (newest first), thread-index (Outlook's
 *   conversation part), token (subject tracking token, when
 *   capture { subject_token = yes }), smart (normalised subject and at
 *   least smart_matching_min_addresses shared addresses within
 *   smart_matching_days, when capture { smart_matching = yes }).
 * A correlated message inherits the regarding record of the thread.
 *
 * Also computes the index facts of a message that is being saved
 * (correlate_facts), so the milter and the ctl dry run agree.
 *
 * Ownership: strings in crm_correlation and correlate_facts are new and
 * freed with decision_clear / correlate_facts_clear.
 *
 * Public: correlate_find, correlate_facts, correlate_facts_clear.
 */
#ifndef CRM_CORRELATE_H
#define CRM_CORRELATE_H

#include <glib.h>
#include "config.h"
#include "db.h"
#include "decide.h"
#include "message.h"

/* The index facts of one message. */
typedef struct correlate_fact {
	char *message_id;     /* normalised, or NULL */
	char *thread_conv;    /* Thread-Index conversation hex, or NULL */
	char *subject_norm;   /* normalised subject, or NULL (computed only with
	                         capture { smart_matching = yes }: mail saved
	                         while it is off is not smart-matched later) */
	guint64 token;        /* subject token number, 0: none */
} correlate_fact;

gboolean correlate_find(crm_db *db, const crm_config *cfg, const crm_message *msg,
    const char *const *addrs, gsize naddrs, gint64 now, crm_correlation *out,
    GError **err);
void correlate_facts(const crm_config *cfg, const crm_message *msg, correlate_fact *f);
void correlate_facts_clear(correlate_fact *f);

#endif

/*
 * lookups.h - the decision's database lookups (decide_lookups) on one
 * spool connection: the sender's and recipients' directory records, and
 * correlation against the ledger's index of tracked mail. Shared by
 * crm-milter (on its read connection, locked for the decision) and the
 * `crm-milterctl test` dry run. A lookup that fails is logged with the
 * queue id and counts as "nothing known".
 *
 * Ownership: everything is borrowed; lc holds the state for one message.
 *
 * Public: lookups_init.
 */
#ifndef CRM_LOOKUPS_H
#define CRM_LOOKUPS_H

#include "decide.h"
#include "db.h"

typedef struct lookup_ctx {
	crm_db *db;          /* may be NULL: nothing is known */
	const char *qid;
	gint64 now;
} lookup_ctx;

/* Fill lk (and lc, its state) for lookups on db at time now. */
void lookups_init(decide_lookups *lk, lookup_ctx *lc, crm_db *db, const char *qid, gint64 now);

#endif

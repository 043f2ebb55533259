/*
 * crm/ledger.c - the `ledger` connector, the embedded default: parses the
 * queued raw message with GMime and stores the activity in the local
 * database, once per idempotency key.
 */
#include <gio/gio.h>

#include "connector.h"
#include "../activity.h"
#include "../ledger.h"

/* The state is just the database handle (borrowed). */
static void *
ledger_open(const crm_profile *profile, crm_db *db, GError **err)
{
	return db;
}

/* Parse and store one activity. */
static void
ledger_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	crm_db *db = state;
	GError *e = NULL;
	activity *act;
	gint64 id;

	if (job->payload == NULL) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup("job has no message");
		return;
	}
	act = activity_parse(job->payload, job->direction, job->rcpts, LEDGER_MAX_BODY, &e);
	if (act == NULL) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup_printf("cannot parse message: %s", e ? e->message : "?");
		g_clear_error(&e);
		return;
	}
	if (!ledger_store(db, job->profile, job->idem_key, job->id, act, now, &id, &e)) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("ledger: %s", e ? e->message : "?");
		g_clear_error(&e);
	} else {
		res->status = CONN_OK;
	}
	activity_free(act);
}

const connector_ops connector_ledger_ops = {
	.type = "ledger",
	.open = ledger_open,
	.save_activity = ledger_save,
	.close = NULL,
};

/*
 * crm/ledger.c - the `ledger` connector, the embedded default: parses the
 * queued raw message with GMime and stores the activity in the local
 * database, once per idempotency key, with what the milter decided (the
 * job's metadata): regarding record, category, correlation, and the
 * attachment policy (what was dropped and why is recorded). Events
 * (bounces) are stored against the activity's Message-ID; engagement
 * events from crm-tracker (opened, clicked: meta has "message_track_id"
 * and no "recipients") find that Message-ID through tracked.track_id
 * when their meta does not carry it, and keep their class as the status
 * and their reason (and the link) as the detail.
 */
#include <string.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "connector.h"
#include "jobdata.h"
#include "../activity.h"
#include "../ledger.h"

/* The state is just the database handle (borrowed). */
static void *
ledger_open(const conn_env *env, GError **err)
{
	(void)err;
	return env->db;
}

/* Parse and store one activity. */
static void
ledger_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	crm_db *db = state;
	GError *e = NULL;
	activity *act = jobdata_activity(db, job, LEDGER_MAX_BODY, FALSE, NULL, res);
	gint64 id;

	if (act == NULL)
		return;
	if (!ledger_store(db, job->profile, job->idem_key, job->id, act, now, &id, &e)) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("ledger: %s", e ? e->message : "?");
		g_clear_error(&e);
	} else {
		res->status = CONN_OK;
	}
	activity_free(act);
}

/* Store each recipient of a delivery report as an event, or one
 * engagement event (its class as the status, the reason and the link as
 * the detail). */
static void
ledger_event(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	crm_db *db = state;
	GPtrArray *events = jobdata_events(db, job, now, res);
	GError *e = NULL;

	if (events == NULL)
		return;
	res->status = CONN_OK;
	for (guint i = 0; i < events->len && res->status == CONN_OK; i++) {
		const job_event *ev = g_ptr_array_index(events, i);
		char *detail;
		if (ev->cls == NULL)
			detail = g_strdup(ev->diagnostic);
		else if (ev->target != NULL)
			detail = g_strdup_printf("link %" G_GINT64_FORMAT " %s (%s)", ev->link, ev->target,
			    ev->reason != NULL ? ev->reason : "-");
		else
			detail = g_strdup(ev->reason);
		if (!ledger_add_event(db, ev->idem_key, ev->message_id, ev->kind, ev->recipient,
		    ev->cls != NULL ? ev->cls : ev->status, detail, ev->at, &e)) {
			res->status = CONN_RETRY;
			res->error = g_strdup_printf("ledger: %s", e ? e->message : "?");
			g_clear_error(&e);
		}
		g_free(detail);
	}
	g_ptr_array_unref(events);
}

const connector_ops connector_ledger_ops = {
	.type = "ledger",
	.open = ledger_open,
	.save_activity = ledger_save,
	.send_event = ledger_event,
	.close = NULL,
	.default_concurrency = 1,
	.default_rate = 0,
};

/*
 * connector.h - the interface every CRM connector implements, and the
 * registry that maps a profile's type to one.
 *
 * A connector is opened per flusher run for one profile and handed one job
 * at a time. It answers with a conn_result: OK (the job is done), RETRY
 * (a passing failure: try again later, optionally after retry_after
 * seconds) or PERMANENT (the job can never succeed: dead-letter it).
 * Connectors must be idempotent on job->idem_key: a job handed over twice
 * (a flusher died after the CRM wrote but before the ack) must not make a
 * second record.
 *
 * Ownership: connector_open returns a connector the caller closes with
 * connector_close (NULL-safe, returns NULL). conn_result.error is owned by
 * the result (conn_result_clear).
 *
 * Public: connector_register, connector_open, connector_save, connector_event,
 *         connector_close, conn_result_clear, connector_ledger_ops,
 *         connector_webhook_ops.
 */
#ifndef CRM_CONNECTOR_H
#define CRM_CONNECTOR_H

#include <glib.h>
#include "config.h"
#include "db.h"
#include "spool.h"

typedef enum { CONN_OK = 0, CONN_RETRY, CONN_PERMANENT } conn_status;

typedef struct conn_result {
	conn_status status;
	int retry_after;       /* s, -1 for the spool's own backoff */
	char *error;           /* why, for last_error; NULL when OK */
} conn_result;

typedef struct connector connector;

typedef struct connector_ops {
	const char *type;      /* the profile's `type` */
	/* Make the per-run state (may be NULL when none is needed). */
	void *(*open)(const crm_profile *profile, crm_db *db, GError **err);
	/* Save one activity job. */
	void (*save_activity)(void *state, const spool_job *job, gint64 now,
	    conn_result *res);
	/* Record an engagement event (job->meta: {"kind", "message_id",
	 * "recipients": [...]}) on the activity of message_id; NULL when the
	 * connector records none (the job is then done). */
	void (*send_event)(void *state, const spool_job *job, gint64 now,
	    conn_result *res);
	void (*close)(void *state);
} connector_ops;

/* The built-in types; tests may add their own ops (e.g. one that fails on
 * purpose) with connector_register before opening. Not thread-safe: call
 * at start-up. */
void connector_register(const connector_ops *ops);
const connector_ops *connector_lookup(const char *type);

connector *connector_open(const crm_profile *profile, crm_db *db, GError **err);
void connector_save(connector *c, const spool_job *job, gint64 now, conn_result *res);
void connector_event(connector *c, const spool_job *job, gint64 now, conn_result *res);
connector *connector_close(connector *c);
void conn_result_clear(conn_result *res);

/* The embedded default: activities into the local database. */
extern const connector_ops connector_ledger_ops;
/* Signed JSON documents POSTed to a URL (doc/webhook.md). */
extern const connector_ops connector_webhook_ops;

/* Body text kept per activity by the ledger connector. */
#define LEDGER_MAX_BODY (1024 * 1024)

#endif

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
 * Public: connector_register, connector_open, connector_save, connector_save_batch,
 *         connector_batch_size, connector_limits, connector_event,
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
	gboolean no_attempt;   /* RETRY without trying (the profile is paused):
	                          the job is postponed, no attempt counted */
} conn_result;

typedef struct crm_limiter crm_limiter;

/* What a connector is opened with; all borrowed for its lifetime. */
typedef struct conn_env {
	const crm_profile *profile;
	crm_db *db;            /* this worker's own connection (may be NULL in tests) */
	crm_limiter *limiter;  /* the profile's rate and pause (may be NULL) */
} conn_env;

typedef struct connector connector;

typedef struct connector_ops {
	const char *type;      /* the profile's `type` */
	/* Make the per-worker state (may be NULL when none is needed). */
	void *(*open)(const conn_env *env, GError **err);
	/* Save one activity job. */
	void (*save_activity)(void *state, const spool_job *job, gint64 now,
	    conn_result *res);
	/* Record an engagement event (job->meta: {"kind", "message_id",
	 * "recipients": [...]}) on the activity of message_id; NULL when the
	 * connector records none (the job is then done). */
	void (*send_event)(void *state, const spool_job *job, gint64 now,
	    conn_result *res);
	void (*close)(void *state);
	/* Optional: save n activity jobs in as few calls as the API allows
	 * (results[i] for jobs[i], each set). NULL: one at a time. */
	void (*save_batch)(void *state, const spool_job *const *jobs, guint n, gint64 now,
	    conn_result *results);
	/* How many jobs save_batch takes at once for this profile (0 or NULL
	 * op: no batching). */
	guint (*batch_size)(void *state);
	/* Optional: pull the CRM's contacts, leads, accounts and users (with
	 * their do-not-track flag) into the directory (directory_upsert),
	 * incrementally where the API allows (cursors: records.h). FALSE with
	 * err: try again at the next sync. */
	gboolean (*sync_directory)(void *state, gint64 now, GError **err);
	/* Defaults inside the vendor's published limits, used when the
	 * profile says 0: workers (0 means 1) and requests per second (0: none). */
	int default_concurrency;
	double default_rate;
} connector_ops;

/* The built-in types; tests may add their own ops (e.g. one that fails on
 * purpose) with connector_register before opening. Not thread-safe: call
 * at start-up. */
void connector_register(const connector_ops *ops);
const connector_ops *connector_lookup(const char *type);

connector *connector_open(const conn_env *env, GError **err);
/* Workers and requests per second for a profile: its own settings, else
 * its connector's defaults (1 worker, no rate for an unknown type). */
void connector_limits(const crm_profile *profile, int *workers, double *rate);
void connector_save(connector *c, const spool_job *job, gint64 now, conn_result *res);
/* Save n jobs (batched when the connector can); results[i] for jobs[i]. */
void connector_save_batch(connector *c, const spool_job *const *jobs, guint n, gint64 now,
    conn_result *results);
/* Jobs connector_save_batch should be given at once (1: no batching). */
guint connector_batch_size(connector *c);
void connector_event(connector *c, const spool_job *job, gint64 now, conn_result *res);
connector *connector_close(connector *c);
void conn_result_clear(conn_result *res);

/* The embedded default: activities into the local database. */
extern const connector_ops connector_ledger_ops;
/* Signed JSON documents POSTed to a URL (doc/webhook.md). */
extern const connector_ops connector_webhook_ops;
/* the CRMs, one line each */
extern const connector_ops connector_zoho_ops;
extern const connector_ops connector_hubspot_ops;
extern const connector_ops connector_dynamics_ops;
extern const connector_ops connector_salesforce_ops;
/* connector ops end */

/* Body text kept per activity by the ledger connector. */
#define LEDGER_MAX_BODY (1024 * 1024)

#endif

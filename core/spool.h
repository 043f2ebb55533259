/*
 * spool.h - durable jobs: enqueue, lease, ack, retry with backoff, dead.
 *
 * States: pending -> leased (until lease_until) -> done; a failed attempt
 * goes back to pending with not_before = now + backoff (exponential with
 * jitter, or the CRM's Retry-After), or to dead after max_attempts. A lease
 * that expires (its flusher died) makes the job due again. Each lease gets
 * a fresh lease_id; ack/fail only act on the job while that lease holds.
 *
 * The idempotency key is unique: enqueueing a job whose key exists returns
 * SPOOL_DUPLICATE and writes nothing.
 *
 * Time ("now", unix seconds) and randomness are passed in, so tests are
 * exact. Every write runs in its own BEGIN IMMEDIATE transaction.
 *
 * Attempts are counted when a job is LEASED, not when it fails, so a
 * flusher that crashes in the middle of a job still uses up one attempt.
 * A job whose lease expired with attempts >= max_attempts is not leased
 * again but goes to dead ("lease expired" in last_error): a message that
 * kills the flusher cannot loop forever. Lease ids come from a counter in
 * the database, so they are unique across processes.
 *
 * A lost lease (the lease expired and another flusher leased the job, or
 * the admin retried/purged it) makes spool_ack return FALSE and spool_fail
 * -1 WITHOUT setting err: err is set only when the database fails.
 *
 * spool_ack deletes the payload (payload_len stays): done jobs keep their
 * row for the admin but not the message. Dead jobs keep the payload so the
 * admin can retry them.
 *
 * Ownership: spool_job values returned here belong to the caller
 * (spool_job_free, NULL-safe); arrays own their jobs.
 *
 * Public: spool_enqueue, spool_enqueue_batch, spool_lease, spool_ack, spool_fail, spool_retry,
 *         spool_purge, spool_list, spool_get, spool_backoff, spool_job_free,
 *         job_state_name, job_kind_name, job_state_parse, spool_error_quark.
 */
#ifndef CRM_SPOOL_H
#define CRM_SPOOL_H

#include <glib.h>
#include "db.h"

typedef enum { JOB_SAVE = 1, JOB_EVENT = 2, JOB_FOLLOWUP = 3 } job_kind;
typedef enum { JOB_PENDING = 0, JOB_LEASED, JOB_DONE, JOB_DEAD } job_state;

typedef enum { SPOOL_OK = 0, SPOOL_DUPLICATE, SPOOL_ERROR } spool_status;

#define SPOOL_ERROR_DOMAIN spool_error_quark()
GQuark spool_error_quark(void);
typedef enum {
	SPOOL_ERROR_INVALID,    /* bad argument (e.g. no idempotency key) */
	SPOOL_ERROR_NOT_FOUND,  /* no job with that id */
	SPOOL_ERROR_STATE       /* the job is in a state that forbids this */
} spool_error_code;

typedef struct spool_policy {
	int max_attempts;   /* attempts before dead */
	int backoff_base;   /* s, first retry delay */
	int backoff_max;    /* s, cap */
	int lease_time;     /* s */
} spool_policy;

/* What the milter knows when it queues a job. Strings may be NULL. */
typedef struct spool_new_job {
	job_kind kind;
	const char *profile;      /* CRM profile name */
	const char *idem_key;     /* unique; see idem.h */
	const char *queue_id;
	const char *direction;
	const char *reason;       /* why that direction */
	const char *rule;
	const char *mail_from;
	const char *const *rcpts;
	gsize nrcpts;
	const char *message_id;
	const void *payload;      /* the raw message */
	gsize payload_len;
	const char *meta;         /* JSON object: the decision's actions and
	                             links (regarding, category, correlation,
	                             attachment policy, follow-ups), or NULL */
	/* the index of tracked mail (correlation): written with the job when
	 * message_id is set */
	const char *thread_conv;  /* Thread-Index conversation, or NULL */
	const char *subject_norm; /* normalised subject, or NULL */
	const char *regarding;    /* "type:id", or NULL */
	gboolean want_token;      /* give the message a subject token: the
	                             job id, stored as its token */
	const char *track_id;     /* hex tracking id of the rewritten links and
	                             pixel (token.h), or NULL */
} spool_new_job;

typedef struct spool_job {
	gint64 id;
	job_kind kind;
	job_state state;
	char *profile;
	char *idem_key;
	char *queue_id;
	char *direction;
	char *reason;
	char *rule;
	char *mail_from;
	GPtrArray *rcpts;         /* char * */
	char *message_id;
	GBytes *payload;          /* NULL unless asked for */
	gint64 payload_len;
	int attempts;
	gint64 lease_id;
	gint64 created_at;
	gint64 not_before;
	gint64 lease_until;
	gint64 updated_at;
	char *last_error;
	char *meta;               /* JSON object, or NULL */
} spool_job;

/* idem_key is required (else SPOOL_ERROR with SPOOL_ERROR_INVALID). *id
 * (may be NULL) gets the new job's id, or the existing job's id on
 * SPOOL_DUPLICATE. rcpts are stored as a JSON array (db.h). */
spool_status spool_enqueue(crm_db *db, const spool_new_job *job, gint64 now,
    gint64 *id, GError **err);
/*
 * Group commit: queue n jobs in one transaction. status[i] and ids[i] say
 * what became of each (OK or DUPLICATE; a duplicate later in the batch of
 * an earlier one is a DUPLICATE). On failure nothing is written, every
 * status is SPOOL_ERROR and FALSE is returned with err.
 */
gboolean spool_enqueue_batch(crm_db *db, const spool_new_job *const *jobs,
    gsize n, gint64 now, gint64 *ids, spool_status *status, GError **err);
/*
 * Lease up to max due jobs (pending with not_before <= now, or leased with
 * lease_until <= now), with payloads. Returns NULL with err on failure.
 */
GPtrArray *spool_lease(crm_db *db, const spool_policy *pol, gint64 now,
    int max, GError **err);
/* The same for one profile's jobs (NULL: every profile's), taking only
 * pending jobs due by due_at (<= now: a drain started at due_at does not
 * take again the jobs it scheduled for a retry meanwhile). */
GPtrArray *spool_lease_profile(crm_db *db, const spool_policy *pol, gint64 now,
    gint64 due_at, const char *profile, int max, GError **err);
/* Mark done. FALSE if the lease was lost (job re-leased meanwhile). */
gboolean spool_ack(crm_db *db, const spool_job *job, gint64 now, GError **err);
/*
 * Record a failed attempt. retry_after >= 0 overrides the backoff (the
 * CRM's Retry-After); permanent sends the job straight to dead. Returns the
 * new state (JOB_PENDING or JOB_DEAD), or -1 on error / lost lease.
 */
int spool_fail(crm_db *db, const spool_policy *pol, const spool_job *job,
    gint64 now, guint32 rnd, int retry_after, gboolean permanent,
    const char *error, GError **err);
/* Admin: make a pending/dead/leased job due now (attempts kept, so a job
 * at max_attempts gets one more try). FALSE with SPOOL_ERROR_NOT_FOUND, or
 * SPOOL_ERROR_STATE for a done job (its payload is gone). */
gboolean spool_retry(crm_db *db, gint64 id, gint64 now, GError **err);
/* Admin: delete a job and its payload. FALSE with SPOOL_ERROR_NOT_FOUND. */
gboolean spool_purge(crm_db *db, gint64 id, GError **err);
/* Jobs without payloads, newest (highest id) first; state < 0 means all,
 * limit <= 0 no limit. */
GPtrArray *spool_list(crm_db *db, int state, int limit, GError **err);
/* One job, or NULL (err unset when it does not exist). A done job has no
 * payload (payload stays NULL). */
spool_job *spool_get(crm_db *db, gint64 id, gboolean with_payload, GError **err);
/* Delay before retry number `attempts` (1-based): base*2^(n-1) capped at
 * max, with jitter taking it uniformly into [d/2, d]. Pure. */
gint64 spool_backoff(const spool_policy *pol, int attempts, guint32 rnd);

spool_job *spool_job_free(spool_job *job);
const char *job_state_name(job_state state);
const char *job_kind_name(job_kind kind);
gboolean job_state_parse(const char *name, job_state *state);

#endif

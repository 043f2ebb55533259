/*
 * flush.c - one drain of the spool: lease what is due, hand each job to a
 * worker of its CRM profile, then ack it, schedule a retry (or postpone it
 * while its profile is paused), or dead-letter it. See flush.h.
 *
 * Threads: the calling thread owns `db`; it alone leases jobs and records
 * outcomes. Each profile with due jobs gets a lane: its workers (the
 * profile's max_concurrent, else its connector's default), each with its
 * own database connection and its own connector (connectors are not
 * thread-safe), all waiting on the profile's limiter (requests per second,
 * Retry-After pause). A lane holds at most workers x batch x 2 leased jobs,
 * so leases do not run out while jobs wait. Jobs go to a lane's queue;
 * outcomes come back on one queue. A 429/503 pauses only its profile: the
 * pause is stored (profile_state) by the worker that got it, at once, so
 * no flusher (this one, or one started after this one was killed) leases
 * that profile's jobs until it ends (stored in whole seconds, so one more
 * than asked: never early), and jobs already handed over are postponed,
 * not tried.
 * Whatever a CRM took is also kept in the local ledger (events, and
 * activities without their bodies), so reports and rollups work the same
 * for every connector. Outcomes that are ready together are recorded in
 * one transaction (nested db_begin), so a fast CRM is not held to one
 * fsync per job.
 */
#include <string.h>

#include "flush.h"
#include "log.h"
#include "spool_profiles.h"
#include "ledger.h"
#include "crm/connector.h"
#include "crm/jobdata.h"
#include "crm/limiter.h"

/* A worker's end-of-work marker in a lane's queue. */
static spool_job sentinel;

typedef struct run run;

/* One profile's workers. */
typedef struct lane {
	char *name;
	const crm_profile *prof;   /* NULL: not in the config */
	crm_limiter *lim;
	GAsyncQueue *todo;         /* spool_job * */
	GPtrArray *threads;        /* GThread * */
	int inflight;              /* handed over, outcome not back (main thread) */
	int cap;
	run *run;
} lane;

/* What a worker did with some jobs. */
typedef struct outcome {
	lane *lane;
	GPtrArray *jobs;           /* spool_job * (owned) */
	conn_result *res;          /* one per job */
} outcome;

struct run {
	pauseboard *board;         /* Retry-After pauses shared across flushers */
	crm_db *db;
	const crm_config *cfg;
	const flush_env *env;
	spool_policy pol;
	GAsyncQueue *results;      /* outcome * */
	GHashTable *lanes;         /* name -> lane * */
	flush_stats st;
	gint64 started;            /* unix s: jobs due by then are this drain's */
	GHashTable *tried;         /* job ids handed over in this drain */
};

/* The spool policy from the config. */
spool_policy
flush_policy(const crm_config *cfg)
{
	spool_policy p = {
		.max_attempts = cfg->max_attempts,
		.backoff_base = cfg->backoff_base,
		.backoff_max = cfg->backoff_max,
		.lease_time = cfg->lease_time,
	};
	return p;
}

/* Every profile's connector opens. */
gboolean
flush_check_profiles(crm_db *db, const crm_config *cfg, GError **err)
{
	for (guint i = 0; cfg->profiles != NULL && i < cfg->profiles->len; i++) {
		const crm_profile *p = g_ptr_array_index(cfg->profiles, i);
		GError *e = NULL;
		conn_env env = { p, db, NULL };
		connector *c = connector_open(&env, &e);

		if (c == NULL) {
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "crm \"%s\": %s", p->name,
			    e != NULL ? e->message : "cannot open its connector");
			g_clear_error(&e);
			return FALSE;
		}
		connector_close(c);
	}
	return TRUE;
}

/* Deliver one event job: kept locally first (rollups, reports), then the
 * CRM; both are idempotent. */
static void
deliver_event(connector *c, crm_db *db, const crm_profile *prof, const spool_job *job,
    gint64 now, conn_result *res)
{
	conn_result local = { CONN_OK, -1, NULL, FALSE };

	if (db != NULL && g_strcmp0(prof->type, "ledger") != 0)
		connector_ledger_ops.send_event(db, job, now, &local);
	if (local.status == CONN_RETRY) {
		*res = local;            /* the database is busy: later */
		return;
	}
	conn_result_clear(&local);
	connector_event(c, job, now, res);
}

/* Keep the local record of an activity a CRM took (reports, replies and
 * rollups read it; the bodies stay in the CRM only). A failure here is
 * logged: the CRM has the activity, which is what counts. */
static void
keep_locally(crm_db *db, const spool_job *job, gint64 now)
{
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	activity *act = db != NULL ? jobdata_activity(db, job, 1, FALSE, NULL, &res) : NULL;
	GError *e = NULL;

	if (act != NULL) {
		if (!jobdata_keep(db, job, act, now, &e))
			log_msg(CRM_LOG_WARNING, job->queue_id, "job %" G_GINT64_FORMAT
			    ": not kept locally: %s", job->id, e != NULL ? e->message : "?");
		g_clear_error(&e);
	}
	conn_result_clear(&res);
	activity_free(act);
}

/* Deliver jobs[0..n): save jobs batched when the connector can. */
static void
deliver(connector *c, crm_db *db, lane *l, spool_job **jobs, guint n, conn_result *res)
{
	const flush_env *env = l->run->env;
	GPtrArray *saves = g_ptr_array_new();
	GArray *where = g_array_new(FALSE, FALSE, sizeof(guint));
	guint i;

	for (i = 0; i < n; i++) {
		res[i] = (conn_result){ CONN_PERMANENT, -1, NULL, FALSE };
		if (jobs[i]->kind == JOB_SAVE) {
			g_ptr_array_add(saves, jobs[i]);
			g_array_append_val(where, i);
		} else if (jobs[i]->kind == JOB_EVENT) {
			deliver_event(c, db, l->prof, jobs[i], env->now(env->data), &res[i]);
		} else {
			res[i].error = g_strdup_printf("job kind %s is not handled yet",
			    job_kind_name(jobs[i]->kind));
		}
	}
	if (saves->len > 0) {
		conn_result *sr = g_new0(conn_result, saves->len);
		connector_save_batch(c, (const spool_job *const *)saves->pdata, saves->len,
		    env->now(env->data), sr);
		for (i = 0; i < saves->len; i++)
			res[g_array_index(where, guint, i)] = sr[i];
		g_free(sr);
	}
	g_ptr_array_unref(saves);
	g_array_unref(where);
}

/* A worker: its own spool connection and connector; jobs until the sentinel. */
static gpointer
worker(gpointer data)
{
	lane *l = data;
	run *r = l->run;
	GError *e = NULL;
	crm_db *db = db_open(r->cfg->spool_path, r->cfg->busy_timeout, &e);
	conn_env env = { l->prof, db, l->lim };
	connector *c = db != NULL ? connector_open(&env, &e) : NULL;
	char *broken = c == NULL ? g_strdup_printf("crm \"%s\": %s", l->name,
	    e != NULL ? e->message : "cannot open its connector") : NULL;
	guint batch = c != NULL ? connector_batch_size(c) : 1;
	gboolean done = FALSE;

	g_clear_error(&e);
	while (!done) {
		spool_job *j = g_async_queue_pop(l->todo);
		outcome *o;
		int paused;

		if (j == &sentinel)
			break;
		o = g_new0(outcome, 1);
		o->lane = l;
		o->jobs = g_ptr_array_new();
		g_ptr_array_add(o->jobs, j);
		/* a batch: what is already waiting, up to the connector's size */
		while (o->jobs->len < batch && (j = g_async_queue_try_pop(l->todo)) != NULL) {
			if (j == &sentinel) {
				done = TRUE;
				break;
			}
			g_ptr_array_add(o->jobs, j);
		}
		o->res = g_new0(conn_result, o->jobs->len);
		paused = limiter_paused_for(l->lim);
		if (paused > 0) {
			/* a Retry-After came meanwhile: not one request in its window */
			for (guint i = 0; i < o->jobs->len; i++)
				o->res[i] = (conn_result){ CONN_RETRY, paused,
				    g_strdup_printf("not sent: the profile is paused for %d s", paused), TRUE };
		} else if (c != NULL) {
			deliver(c, db, l, (spool_job **)o->jobs->pdata, o->jobs->len, o->res);
			for (guint i = 0; i < o->jobs->len; i++)
				if (o->res[i].status == CONN_RETRY && o->res[i].retry_after > 0 &&
				    !o->res[i].no_attempt) {
					gint64 now = r->env->now(r->env->data);
					limiter_pause(l->lim, o->res[i].retry_after);
					/* stored at once: a flusher killed before it records
					 * the outcome must not let its successor call early */
					if (db != NULL)
						(void)spool_profile_pause(db, l->name,
						    now + o->res[i].retry_after + 1, now, NULL);
				}
		} else {
			for (guint i = 0; i < o->jobs->len; i++)
				o->res[i] = (conn_result){ CONN_RETRY, -1, g_strdup(broken), FALSE };
		}
		g_async_queue_push(r->results, o);
	}
	connector_close(c);
	db_close(db);
	g_free(broken);
	return NULL;
}

/* The lane of a profile, started on first use. */
static lane *
lane_for(run *r, const char *name)
{
	lane *l = g_hash_table_lookup(r->lanes, name);
	int workers;
	double rate;

	if (l != NULL)
		return l;
	l = g_new0(lane, 1);
	l->name = g_strdup(name);
	l->run = r;
	l->prof = config_profile(r->cfg, name);
	l->todo = g_async_queue_new();
	l->threads = g_ptr_array_new();
	if (l->prof != NULL) {
		connector_limits(l->prof, &workers, &rate);
		l->lim = limiter_new(rate);
		limiter_attach_board(l->lim, r->board, l->name);
		l->cap = workers * MAX(r->cfg->batch_size, 1) * 2;
		for (int i = 0; i < workers; i++)
			g_ptr_array_add(l->threads, g_thread_new("flush-worker", worker, l));
	}
	g_hash_table_insert(r->lanes, l->name, l);
	return l;
}

/* Stop a lane's workers and free it (its queue must be empty of jobs). */
static void
lane_free(gpointer p)
{
	lane *l = p;

	for (guint i = 0; i < l->threads->len; i++)
		g_async_queue_push(l->todo, &sentinel);
	for (guint i = 0; i < l->threads->len; i++)
		g_thread_join(g_ptr_array_index(l->threads, i));
	g_ptr_array_unref(l->threads);
	g_async_queue_unref(l->todo);
	limiter_free(l->lim);
	g_free(l->name);
	g_free(l);
}

/* Record one job's outcome in the spool. */
static gboolean
record(run *r, lane *l, const spool_job *job, conn_result *res, GError **err)
{
	gint64 now = r->env->now(r->env->data);
	int state;

	/* the CRM's last words; "not sent, paused" is ours, not the CRM's */
	if (res->error != NULL && !res->no_attempt &&
	    !spool_profile_note(r->db, l->name, res->error, now, err))
		return FALSE;
	if (res->status == CONN_OK) {
		if (job->kind == JOB_SAVE && l->prof != NULL && g_strcmp0(l->prof->type, "ledger") != 0)
			keep_locally(r->db, job, now);
		if (spool_ack(r->db, job, now, err))
			r->st.done++;
		else if (err != NULL && *err != NULL)
			return FALSE;
		else
			log_msg(CRM_LOG_WARNING, job->queue_id,
			    "job %" G_GINT64_FORMAT ": lease lost before ack", job->id);
		return TRUE;
	}
	if (res->status == CONN_RETRY && res->retry_after > 0 &&
	    !spool_profile_pause(r->db, l->name, now + res->retry_after + 1, now, err))
		return FALSE;
	if (res->no_attempt) {
		if (!spool_postpone(r->db, job, now + MAX(res->retry_after, 1), res->error, err) &&
		    err != NULL && *err != NULL)
			return FALSE;
		r->st.retried++;
		return TRUE;
	}
	state = spool_fail(r->db, &r->pol, job, now, r->env->rnd(r->env->data), res->retry_after,
	    res->status == CONN_PERMANENT, res->error, err);
	if (state == JOB_DEAD) {
		r->st.dead++;
		log_msg(CRM_LOG_ERR, job->queue_id, "job %" G_GINT64_FORMAT " to %s is dead after %d attempts: %s",
		    job->id, job->profile, job->attempts, res->error ? res->error : "?");
	} else if (state == JOB_PENDING) {
		r->st.retried++;
		log_msg(CRM_LOG_WARNING, job->queue_id, "job %" G_GINT64_FORMAT " to %s will be retried: %s",
		    job->id, job->profile, res->error ? res->error : "?");
	}
	return !(state < 0 && err != NULL && *err != NULL);
}

/* Record an outcome and free it. */
static gboolean
take_outcome(run *r, outcome *o, GError **err)
{
	gboolean ok = TRUE;

	for (guint i = 0; i < o->jobs->len; i++) {
		if (ok)
			ok = record(r, o->lane, g_ptr_array_index(o->jobs, i), &o->res[i], err);
		conn_result_clear(&o->res[i]);
		spool_job_free(g_ptr_array_index(o->jobs, i));
	}
	o->lane->inflight -= (int)o->jobs->len;
	g_ptr_array_unref(o->jobs);
	g_free(o->res);
	g_free(o);
	return ok;
}

/* Jobs of a profile missing from the config: retried until it returns. */
static gboolean
no_profile(run *r, GPtrArray *jobs, GError **err)
{
	gboolean ok = TRUE;

	for (guint i = 0; i < jobs->len && ok; i++) {
		const spool_job *j = g_ptr_array_index(jobs, i);
		conn_result res = { CONN_RETRY, -1, NULL, FALSE };
		lane l = { .name = j->profile };

		res.error = g_strdup_printf("crm profile \"%s\" is not in the config", j->profile);
		ok = record(r, &l, j, &res, err);
		conn_result_clear(&res);
	}
	return ok;
}

/* Lease for every due profile with room; how many jobs were handed over. */
static int
fill(run *r, gboolean *ok, GError **err)
{
	gint64 now = r->env->now(r->env->data);
	/* jobs due by the start of this drain: a job it scheduled for a
	 * retry waits for the next one (the daemon polls again), so a
	 * failing CRM does not burn every attempt in one drain */
	GPtrArray *due = spool_due_profiles(r->db, MIN(now, r->started), err);
	int handed = 0;

	if (due == NULL) {
		*ok = FALSE;
		return 0;
	}
	for (guint i = 0; i < due->len && *ok; i++) {
		lane *l = lane_for(r, g_ptr_array_index(due, i));
		int room = l->prof != NULL ? l->cap - l->inflight : r->cfg->batch_size;
		GPtrArray *jobs;

		if (room <= 0 || limiter_paused_for(l->lim) > 0)
			continue;
		jobs = spool_lease_profile(r->db, &r->pol, now, r->started, l->name, room, err);
		if (jobs == NULL) {
			*ok = FALSE;
			break;
		}
		r->st.leased += (int)jobs->len;
		if (l->prof == NULL) {
			*ok = no_profile(r, jobs, err);
			g_ptr_array_unref(jobs);
			continue;
		}
		for (guint k = 0; k < jobs->len; k++) {
			spool_job *j = g_ptr_array_index(jobs, k);
			/* tried once in this drain already (a backoff shorter than
			 * the drain): the next drain takes it, not this one */
			if (g_hash_table_contains(r->tried, &j->id)) {
				(void)spool_postpone(r->db, j, now + 1, j->last_error, NULL);
				continue;
			}
			g_hash_table_add(r->tried, g_memdup2(&j->id, sizeof(j->id)));
			g_async_queue_push(l->todo, j);
			g_ptr_array_index(jobs, k) = NULL;
			l->inflight++;
			handed++;
		}
		g_ptr_array_unref(jobs);
	}
	g_ptr_array_unref(due);
	return handed;
}

/* Jobs still queued when stopping go back to pending now. */
static void
hand_back(run *r)
{
	GHashTableIter it;
	gpointer key, val;

	g_hash_table_iter_init(&it, r->lanes);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		lane *l = val;
		spool_job *j;
		while ((j = g_async_queue_try_pop(l->todo)) != NULL) {
			if (j == &sentinel)
				continue;
			(void)spool_postpone(r->db, j, r->env->now(r->env->data), "flusher stopping", NULL);
			l->inflight--;
			spool_job_free(j);
		}
	}
}

/* Jobs handed over and not back, over all lanes. */
static int
inflight(run *r)
{
	GHashTableIter it;
	gpointer key, val;
	int n = 0;

	g_hash_table_iter_init(&it, r->lanes);
	while (g_hash_table_iter_next(&it, &key, &val))
		n += ((lane *)val)->inflight;
	return n;
}

/* Drain what is due now. */
gboolean
flush_run(crm_db *db, const crm_config *cfg, const flush_env *env,
    flush_stats *stats, GError **err)
{
	GError *e = NULL;
	run r = { pauseboard_open(cfg->spool_path, &e), db, cfg, env, flush_policy(cfg),
	    g_async_queue_new(), g_hash_table_new_full(g_str_hash, g_str_equal, NULL, lane_free),
	    { 0, 0, 0, 0 }, env->now(env->data),
	    g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL) };
	gboolean ok = TRUE, stopping = FALSE;

	if (r.board == NULL) {
		/* pauses then hold within this flusher and through the database */
		log_msg(CRM_LOG_WARNING, NULL, "no shared pause board: %s", e->message);
		g_clear_error(&e);
	}

	for (;;) {
		int handed = 0;
		outcome *o;

		stopping = stopping || (env->stop != NULL && *env->stop);
		if (ok && !stopping)
			handed = fill(&r, &ok, err);
		if (!ok || stopping)
			hand_back(&r);
		if (inflight(&r) == 0 && (handed == 0 || !ok || stopping))
			break;
		/* wait for an outcome, then take every one that is ready, all in
		 * one transaction (one fsync for the lot) */
		o = g_async_queue_timeout_pop(r.results, 200000);
		if (o != NULL) {
			gboolean group = db_begin(db, NULL);
			while (o != NULL) {
				if (!take_outcome(&r, o, ok ? err : NULL))
					ok = FALSE;
				o = g_async_queue_try_pop(r.results);
			}
			if (group && !db_commit(db, ok ? err : NULL))
				ok = FALSE;
		}
	}
	g_hash_table_unref(r.lanes);      /* stops the workers */
	g_async_queue_unref(r.results);
	g_hash_table_unref(r.tried);
	pauseboard_close(r.board);
	if (stats != NULL)
		*stats = r.st;
	return ok;
}

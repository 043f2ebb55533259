/*
 * flush.c - lease, deliver, ack/retry/dead. See flush.h.
 */
#include "flush.h"
#include "log.h"
#include "crm/connector.h"

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
		connector *c = connector_open(p, db, &e);

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

/* The open connector for a profile, opened on first use; NULL with a
 * reason in *why when the profile or its type is unknown. */
static connector *
connector_for(GHashTable *open, crm_db *db, const crm_config *cfg,
    const char *name, char **why)
{
	const crm_profile *prof;
	connector *c = g_hash_table_lookup(open, name);
	GError *e = NULL;

	if (c != NULL)
		return c;
	prof = config_profile(cfg, name);
	if (prof == NULL) {
		*why = g_strdup_printf("crm profile \"%s\" is not in the config", name);
		return NULL;
	}
	c = connector_open(prof, db, &e);
	if (c == NULL) {
		*why = g_strdup(e != NULL ? e->message : "cannot open connector");
		g_clear_error(&e);
		return NULL;
	}
	g_hash_table_insert(open, g_strdup(name), c);
	return c;
}

/* Deliver one leased job and record the outcome. */
static gboolean
deliver(crm_db *db, const crm_config *cfg, const spool_policy *pol,
    GHashTable *open, const flush_env *env, const spool_job *job,
    flush_stats *st, GError **err)
{
	conn_result res = { CONN_PERMANENT, -1, NULL };
	char *why = NULL;
	connector *c = connector_for(open, db, cfg, job->profile ? job->profile : "", &why);
	gint64 now = env->now(env->data);
	int state;

	if (c == NULL) {
		/* a config that lost the profile: keep retrying until it returns */
		res.status = CONN_RETRY;
		res.error = why;
	} else if (job->kind == JOB_SAVE) {
		connector_save(c, job, now, &res);
	} else if (job->kind == JOB_EVENT) {
		/* every event is kept locally too (rollups, reports): the
		 * ledger first, then the CRM; both are idempotent */
		const crm_profile *prof = config_profile(cfg, job->profile);
		conn_result local = { CONN_OK, -1, NULL };
		if (prof != NULL && g_strcmp0(prof->type, "ledger") != 0)
			connector_ledger_ops.send_event(db, job, now, &local);
		if (local.status == CONN_RETRY)
			res = local;            /* the database is busy: later */
		else {
			conn_result_clear(&local);
			connector_event(c, job, now, &res);
		}
	} else {
		res.status = CONN_PERMANENT;
		res.error = g_strdup_printf("job kind %s is not handled yet", job_kind_name(job->kind));
	}
	now = env->now(env->data);
	if (res.status == CONN_OK) {
		if (spool_ack(db, job, now, err))
			st->done++;
		else if (err != NULL && *err != NULL)
			return FALSE;
		else
			log_msg(CRM_LOG_WARNING, job->queue_id,
			    "job %" G_GINT64_FORMAT ": lease lost before ack", job->id);
		return TRUE;
	}
	state = spool_fail(db, pol, job, now, env->rnd(env->data), res.retry_after,
	    res.status == CONN_PERMANENT, res.error, err);
	if (state == JOB_DEAD) {
		st->dead++;
		log_msg(CRM_LOG_ERR, job->queue_id, "job %" G_GINT64_FORMAT " to %s is dead after %d attempts: %s",
		    job->id, job->profile, job->attempts, res.error ? res.error : "?");
	} else if (state == JOB_PENDING) {
		st->retried++;
		log_msg(CRM_LOG_WARNING, job->queue_id, "job %" G_GINT64_FORMAT " to %s will be retried: %s",
		    job->id, job->profile, res.error ? res.error : "?");
	}
	conn_result_clear(&res);
	return !(state < 0 && err != NULL && *err != NULL);
}

/* GDestroyNotify for the open-connector table. */
static void
close_connector(gpointer c)
{
	connector_close(c);
}

/* Drain what is due now. */
gboolean
flush_run(crm_db *db, const crm_config *cfg, const flush_env *env,
    flush_stats *stats, GError **err)
{
	spool_policy pol = flush_policy(cfg);
	GHashTable *open = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    close_connector);
	flush_stats st = { 0, 0, 0, 0 };
	gboolean ok = TRUE;

	while (ok && (env->stop == NULL || !*env->stop)) {
		GPtrArray *jobs = spool_lease(db, &pol, env->now(env->data), cfg->batch_size, err);
		guint i;

		if (jobs == NULL) {
			ok = FALSE;
			break;
		}
		if (jobs->len == 0) {
			g_ptr_array_unref(jobs);
			break;
		}
		st.leased += (int)jobs->len;
		for (i = 0; i < jobs->len && ok; i++)
			ok = deliver(db, cfg, &pol, open, env, g_ptr_array_index(jobs, i), &st, err);
		g_ptr_array_unref(jobs);
	}
	g_hash_table_unref(open);
	if (stats != NULL)
		*stats = st;
	return ok;
}

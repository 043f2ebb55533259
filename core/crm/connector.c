/*
 * connector.c - the connector registry and the calls the flusher makes.
 * See connector.h.
 */
#include <string.h>

#include "connector.h"

#define MAX_TYPES 16

/* The built-in connectors, one line each. */
#define BUILTINS \
	&connector_ledger_ops, \
	&connector_webhook_ops, \
	&connector_zoho_ops, \
	&connector_hubspot_ops, \
	&connector_dynamics_ops, \
	&connector_salesforce_ops, \
	/* builtin connectors end */

static const connector_ops *registry[MAX_TYPES] = { BUILTINS };
static int nregistry = G_N_ELEMENTS(((const connector_ops *[]){ BUILTINS }));

struct connector {
	const connector_ops *ops;
	void *state;
};

/* Add (or replace) a type. */
void
connector_register(const connector_ops *ops)
{
	int i;

	for (i = 0; i < nregistry; i++)
		if (strcmp(registry[i]->type, ops->type) == 0) {
			registry[i] = ops;
			return;
		}
	g_assert(nregistry < MAX_TYPES);
	registry[nregistry++] = ops;
}

/* The ops for a type, or NULL. */
const connector_ops *
connector_lookup(const char *type)
{
	int i;

	for (i = 0; type != NULL && i < nregistry; i++)
		if (strcmp(registry[i]->type, type) == 0)
			return registry[i];
	return NULL;
}

/* Open the connector for a profile. */
connector *
connector_open(const conn_env *env, GError **err)
{
	const crm_profile *profile = env->profile;
	const connector_ops *ops = connector_lookup(profile->type);
	connector *c;
	GError *e = NULL;
	void *state = NULL;

	if (ops == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
		    "crm \"%s\": no connector for type \"%s\"", profile->name, profile->type);
		return NULL;
	}
	if (ops->open != NULL && (state = ops->open(env, &e)) == NULL && e != NULL) {
		g_propagate_error(err, e);
		return NULL;
	}
	c = g_new0(connector, 1);
	c->ops = ops;
	c->state = state;
	return c;
}

/* Workers and rate for a profile. */
void
connector_limits(const crm_profile *profile, int *workers, double *rate)
{
	const connector_ops *ops = connector_lookup(profile->type);

	*workers = profile->max_concurrent > 0 ? profile->max_concurrent :
	    (ops != NULL && ops->default_concurrency > 0 ? ops->default_concurrency : 1);
	*rate = profile->requests_per_second > 0 ? profile->requests_per_second :
	    (ops != NULL ? ops->default_rate : 0);
}

/* Hand one save job to the connector. */
void
connector_save(connector *c, const spool_job *job, gint64 now, conn_result *res)
{
	res->status = CONN_PERMANENT;
	res->retry_after = -1;
	res->error = NULL;
	res->no_attempt = FALSE;
	c->ops->save_activity(c->state, job, now, res);
}

/* Save n jobs, batched when the connector can. */
void
connector_save_batch(connector *c, const spool_job *const *jobs, guint n, gint64 now,
    conn_result *results)
{
	guint i;

	for (i = 0; i < n; i++) {
		results[i].status = CONN_PERMANENT;
		results[i].retry_after = -1;
		results[i].error = NULL;
		results[i].no_attempt = FALSE;
	}
	if (c->ops->save_batch != NULL && n > 1) {
		c->ops->save_batch(c->state, jobs, n, now, results);
		return;
	}
	for (i = 0; i < n; i++)
		c->ops->save_activity(c->state, jobs[i], now, &results[i]);
}

/* Jobs to give connector_save_batch at once. */
guint
connector_batch_size(connector *c)
{
	guint n = c->ops->save_batch != NULL && c->ops->batch_size != NULL ?
	    c->ops->batch_size(c->state) : 1;

	return n > 0 ? n : 1;
}

/* Hand one event job to the connector. */
void
connector_event(connector *c, const spool_job *job, gint64 now, conn_result *res)
{
	res->status = CONN_OK;
	res->retry_after = -1;
	res->error = NULL;
	res->no_attempt = FALSE;
	if (c->ops->send_event != NULL)
		c->ops->send_event(c->state, job, now, res);
}

/* Close; NULL-safe. */
connector *
connector_close(connector *c)
{
	if (c == NULL)
		return NULL;
	if (c->ops->close != NULL)
		c->ops->close(c->state);
	g_free(c);
	return NULL;
}

/* Free what a result holds. */
void
conn_result_clear(conn_result *res)
{
	g_free(res->error);
	res->error = NULL;
}

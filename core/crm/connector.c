/*
 * connector.c - the connector registry and the calls the flusher makes.
 * See connector.h.
 */
#include <string.h>

#include "connector.h"

#define MAX_TYPES 16

static const connector_ops *registry[MAX_TYPES] = { &connector_ledger_ops, &connector_webhook_ops };
static int nregistry = 2;

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
connector_open(const crm_profile *profile, crm_db *db, GError **err)
{
	const connector_ops *ops = connector_lookup(profile->type);
	connector *c;
	GError *e = NULL;
	void *state = NULL;

	if (ops == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
		    "crm \"%s\": no connector for type \"%s\"", profile->name, profile->type);
		return NULL;
	}
	if (ops->open != NULL && (state = ops->open(profile, db, &e)) == NULL && e != NULL) {
		g_propagate_error(err, e);
		return NULL;
	}
	c = g_new0(connector, 1);
	c->ops = ops;
	c->state = state;
	return c;
}

/* Hand one save job to the connector. */
void
connector_save(connector *c, const spool_job *job, gint64 now, conn_result *res)
{
	res->status = CONN_PERMANENT;
	res->retry_after = -1;
	res->error = NULL;
	c->ops->save_activity(c->state, job, now, res);
}

/* Hand one event job to the connector. */
void
connector_event(connector *c, const spool_job *job, gint64 now, conn_result *res)
{
	res->status = CONN_OK;
	res->retry_after = -1;
	res->error = NULL;
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

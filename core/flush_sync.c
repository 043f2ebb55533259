/*
 * flush_sync.c - the flusher's directory syncs: each profile's connector
 * pulls the CRM's people into the directory when its directory_sync
 * interval has passed (see flush.h). Runs in the flusher's own thread,
 * between drains, with a limiter of the profile's rate.
 */
#include "flush.h"
#include "log.h"
#include "crm/connector.h"
#include "crm/limiter.h"
#include "crm/records.h"

#define SYNC_OBJECT "directory"

/* Sync one profile now. */
static gboolean
sync_one(crm_db *db, const crm_profile *p, const connector_ops *ops, gint64 now)
{
	int workers;
	double rate;
	GError *e = NULL;
	gboolean ok;
	void *state;

	connector_limits(p, &workers, &rate);
	crm_limiter *lim = limiter_new(rate);
	conn_env env = { p, db, lim };
	state = ops->open != NULL ? ops->open(&env, &e) : NULL;
	if (ops->open != NULL && state == NULL) {
		log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": directory sync: %s", p->name,
		    e != NULL ? e->message : "cannot open the connector");
		g_clear_error(&e);
		limiter_free(lim);
		return FALSE;
	}
	ok = ops->sync_directory(state, now, &e);
	if (ok)
		ok = crm_sync_put(db, p->name, SYNC_OBJECT, NULL, now, &e);
	if (!ok)
		log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": directory sync: %s", p->name,
		    e != NULL ? e->message : "failed");
	else
		log_msg(CRM_LOG_INFO, NULL, "crm \"%s\": directory synced", p->name);
	g_clear_error(&e);
	if (ops->close != NULL)
		ops->close(state);
	limiter_free(lim);
	return ok;
}

/* Sync every profile that is due. */
int
flush_sync_directories(crm_db *db, const crm_config *cfg, gint64 now)
{
	int n = 0;

	for (guint i = 0; cfg->profiles != NULL && i < cfg->profiles->len; i++) {
		const crm_profile *p = g_ptr_array_index(cfg->profiles, i);
		const connector_ops *ops = connector_lookup(p->type);
		gint64 last = 0;
		GError *e = NULL;
		char *cursor;

		if (ops == NULL || ops->sync_directory == NULL || p->directory_sync <= 0)
			continue;
		cursor = crm_sync_get(db, p->name, SYNC_OBJECT, &last, &e);
		g_free(cursor);
		if (e != NULL) {
			log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": %s", p->name, e->message);
			g_error_free(e);
			continue;
		}
		if (last > 0 && now - last < p->directory_sync)
			continue;
		n += sync_one(db, p, ops, now);
	}
	return n;
}

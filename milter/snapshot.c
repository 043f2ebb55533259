/*
 * snapshot.c - the current runtime and its spool connection pool.
 * See snapshot.h.
 */
#include "snapshot.h"

/* Idle spool connections kept per runtime; more are closed on put. */
#define POOL_IDLE_MAX 32

static GMutex current_lock;
static milter_runtime *current;

/* Wrap a config (takes its reference). */
milter_runtime *
runtime_new(crm_config *cfg)
{
	milter_runtime *rt = g_new0(milter_runtime, 1);

	rt->refcnt = 1;
	rt->cfg = cfg;
	g_mutex_init(&rt->lock);
	rt->idle = g_ptr_array_new();
	return rt;
}

/* Take another reference. */
milter_runtime *
runtime_ref(milter_runtime *rt)
{
	if (rt != NULL)
		g_atomic_int_inc(&rt->refcnt);
	return rt;
}

/* Drop a reference; the last one closes the pool and the config. */
milter_runtime *
runtime_unref(milter_runtime *rt)
{
	guint i;

	if (rt == NULL || !g_atomic_int_dec_and_test(&rt->refcnt))
		return NULL;
	for (i = 0; i < rt->idle->len; i++)
		db_close(g_ptr_array_index(rt->idle, i));
	g_ptr_array_unref(rt->idle);
	g_mutex_clear(&rt->lock);
	config_unref(rt->cfg);
	g_free(rt);
	return NULL;
}

/* An idle connection, or a new one. */
crm_db *
runtime_db_get(milter_runtime *rt, GError **err)
{
	crm_db *db = NULL;

	g_mutex_lock(&rt->lock);
	if (rt->idle->len > 0)
		db = g_ptr_array_steal_index_fast(rt->idle, rt->idle->len - 1);
	g_mutex_unlock(&rt->lock);
	if (db == NULL)
		db = db_open(rt->cfg->spool_path, rt->cfg->busy_timeout, err);
	return db;
}

/* Back to the pool, or closed. */
void
runtime_db_put(milter_runtime *rt, crm_db *db, gboolean broken)
{
	if (db == NULL)
		return;
	g_mutex_lock(&rt->lock);
	if (!broken && rt->idle->len < POOL_IDLE_MAX) {
		g_ptr_array_add(rt->idle, db);
		db = NULL;
	}
	g_mutex_unlock(&rt->lock);
	db_close(db);
}

/* The current runtime, referenced. */
milter_runtime *
snapshot_get(void)
{
	milter_runtime *rt;

	g_mutex_lock(&current_lock);
	rt = runtime_ref(current);
	g_mutex_unlock(&current_lock);
	return rt;
}

/* Swap in a new runtime. */
void
snapshot_set(milter_runtime *rt)
{
	milter_runtime *old;

	g_mutex_lock(&current_lock);
	old = current;
	current = rt;
	g_mutex_unlock(&current_lock);
	runtime_unref(old);
}

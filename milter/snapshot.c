/*
 * snapshot.c - the current runtime, its spool connection and group commit.
 * See snapshot.h.
 */
#include "snapshot.h"

static GMutex current_lock;
static milter_runtime *current;

/* html_idle's free function. */
static void
html_free(gpointer h)
{
	html_links_ctx_free(h);
}

/* Wrap a config (takes its reference). */
milter_runtime *
runtime_new(crm_config *cfg)
{
	milter_runtime *rt = g_new0(milter_runtime, 1);

	rt->refcnt = 1;
	rt->cfg = cfg;
	g_mutex_init(&rt->lock);
	g_mutex_init(&rt->read_lock);
	g_queue_init(&rt->queue);
	g_mutex_init(&rt->html_lock);
	rt->html_idle = g_ptr_array_new_with_free_func(html_free);
	return rt;
}

/* The tracking keys, when tracking is configured. */
gboolean
runtime_load_keys(milter_runtime *rt, GError **err)
{
	if (rt->cfg->tracking.base_url == NULL || rt->cfg->tracking.key_file == NULL)
		return TRUE;
	rt->ring = token_ring_load(rt->cfg->tracking.key_file, err);
	return rt->ring != NULL;
}

/* Take another reference. */
milter_runtime *
runtime_ref(milter_runtime *rt)
{
	if (rt != NULL)
		g_atomic_int_inc(&rt->refcnt);
	return rt;
}

/* Drop a reference; the last one closes the spool and the config. */
milter_runtime *
runtime_unref(milter_runtime *rt)
{
	if (rt == NULL || !g_atomic_int_dec_and_test(&rt->refcnt))
		return NULL;
	db_close(rt->db);
	db_close(rt->rdb);
	token_ring_free(rt->ring);
	g_ptr_array_unref(rt->html_idle);
	g_mutex_clear(&rt->html_lock);
	g_mutex_clear(&rt->read_lock);
	g_mutex_clear(&rt->lock);
	config_unref(rt->cfg);
	g_free(rt);
	return NULL;
}

/* An idle tokenizer, or a new one. */
html_links_ctx *
runtime_html_take(milter_runtime *rt)
{
	html_links_ctx *h = NULL;

	g_mutex_lock(&rt->html_lock);
	if (rt->html_idle->len > 0)
		h = g_ptr_array_steal_index_fast(rt->html_idle, rt->html_idle->len - 1);
	g_mutex_unlock(&rt->html_lock);
	return h != NULL ? h : html_links_ctx_new(NULL);
}

/* Keep it for the next message, unless enough are idle. */
void
runtime_html_give(milter_runtime *rt, html_links_ctx *h)
{
	if (h == NULL)
		return;
	g_mutex_lock(&rt->html_lock);
	if (rt->html_idle->len < RUNTIME_HTML_IDLE) {
		g_ptr_array_add(rt->html_idle, h);
		h = NULL;
	}
	g_mutex_unlock(&rt->html_lock);
	html_links_ctx_free(h);
}

/* Most jobs one transaction takes. */
#define BATCH_MAX 64

/* One thread's job waiting to be committed (on that thread's stack). */
typedef struct commit_req {
	const spool_new_job *job;
	gint64 id;
	spool_status status;
	GError *error;
	gboolean done;
	gboolean lead;           /* this thread is the writer now */
	GCond wake;              /* done, or made the writer */
} commit_req;

/* Commit reqs in one transaction (the caller is the only writer). */
static void
write_batch(milter_runtime *rt, commit_req **reqs, gsize n)
{
	const spool_new_job *jobs[BATCH_MAX];
	gint64 ids[BATCH_MAX];
	spool_status status[BATCH_MAX];
	GError *e = NULL;
	gsize i;

	if (rt->db == NULL)
		rt->db = db_open(rt->cfg->spool_path, rt->cfg->busy_timeout, &e);
	if (rt->db != NULL) {
		for (i = 0; i < n; i++)
			jobs[i] = reqs[i]->job;
		if (!spool_enqueue_batch(rt->db, jobs, n,
		    g_get_real_time() / G_USEC_PER_SEC, ids, status, &e))
			rt->db = db_close(rt->db);   /* reopen on next use */
	}
	for (i = 0; i < n; i++) {
		reqs[i]->status = e != NULL ? SPOOL_ERROR : status[i];
		reqs[i]->id = e != NULL ? 0 : ids[i];
		if (e != NULL)
			reqs[i]->error = g_error_copy(e);
	}
	g_clear_error(&e);
}

/* Group commit: become the writer, or wait for the one writing. Each
 * waiter sleeps on its own condition and is woken once, when its job is
 * committed or when it is handed the writing (a broadcast woke every
 * waiter after each batch, most of them only to sleep again). */
spool_status
runtime_enqueue(milter_runtime *rt, const spool_new_job *job, gint64 *id, GError **err)
{
	commit_req req = { job, 0, SPOOL_ERROR, NULL, FALSE, FALSE, { 0 } };

	g_cond_init(&req.wake);
	g_mutex_lock(&rt->lock);
	g_queue_push_tail(&rt->queue, &req);
	if (!rt->writing) {
		rt->writing = TRUE;
		req.lead = TRUE;
	}
	while (!req.done) {
		commit_req *batch[BATCH_MAX], *next;
		gsize n = 0, i;

		if (!req.lead) {
			g_cond_wait(&req.wake, &rt->lock);
			continue;
		}
		while (n < BATCH_MAX && !g_queue_is_empty(&rt->queue))
			batch[n++] = g_queue_pop_head(&rt->queue);
		g_mutex_unlock(&rt->lock);
		write_batch(rt, batch, n);
		g_mutex_lock(&rt->lock);
		for (i = 0; i < n; i++) {
			batch[i]->done = TRUE;
			if (batch[i] != &req)
				g_cond_signal(&batch[i]->wake);
		}
		if (!req.done)
			continue;            /* over BATCH_MAX were queued before ours */
		/* hand the writing to the oldest waiter, if any */
		if ((next = g_queue_peek_head(&rt->queue)) != NULL) {
			next->lead = TRUE;
			g_cond_signal(&next->wake);
		} else
			rt->writing = FALSE;
	}
	g_mutex_unlock(&rt->lock);
	g_cond_clear(&req.wake);
	if (id != NULL)
		*id = req.id;
	if (req.error != NULL)
		g_propagate_error(err, req.error);
	return req.status;
}

/* Lock the read connection, opening it on first use. */
crm_db *
runtime_read_begin(milter_runtime *rt, GError **err)
{
	g_mutex_lock(&rt->read_lock);
	if (rt->rdb == NULL)
		rt->rdb = db_open(rt->cfg->spool_path, rt->cfg->busy_timeout, err);
	if (rt->rdb == NULL)
		g_mutex_unlock(&rt->read_lock);
	return rt->rdb;
}

/* Unlock it; close it after an error. */
void
runtime_read_end(milter_runtime *rt, crm_db *db, gboolean broken)
{
	if (db == NULL)
		return;
	if (broken)
		rt->rdb = db_close(rt->rdb);
	g_mutex_unlock(&rt->read_lock);
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

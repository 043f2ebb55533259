/*
 * recorder.c - the writer thread between crm-tracker's request threads
 * and the spool: holds clicks for the burst window, judges each event,
 * queues the JOB_EVENT jobs in batches. See recorder.h.
 *
 * SECURITY: the only code of crm-tracker that writes; it opens the spool
 * as milter { user } (privileges are dropped before it starts).
 */
#include <string.h>

#include "recorder.h"
#include "db.h"
#include "log.h"
#include "prog.h"
#include "spool.h"

#define BATCH_MAX 500              /* events per transaction */
#define RETRY_US G_USEC_PER_SEC    /* wait after a failed write */
#define STOP_TRIES 3               /* writes tried at stop before giving up */

typedef struct {
	gint64 at_us;
	guint link;
} click_mark;

struct recorder {
	snap_holder *snaps;
	GThread *thread;
	GMutex lock;                   /* incoming, stopping */
	GCond cond;
	GQueue incoming;               /* rec_event *, from request threads */
	gboolean stopping;
	gint pending;                  /* events not yet written (atomic) */
	gint dropped;                  /* since the last report (atomic) */
	/* the writer thread's own */
	GQueue ready;                  /* rec_event *, to judge now */
	GQueue waiting;                /* clicks, until at + window */
	GHashTable *recent;            /* hex id -> GArray of click_mark */
	crm_db *db;
	char *db_path;
	gint64 retry_at;               /* monotonic µs: no write before */
};

/* Free an event and its strings. */
static void
event_free(gpointer p)
{
	rec_event *ev = p;

	g_free(ev->target);
	g_free(ev->user_agent);
	g_free(ev->client_ip);
	g_free(ev);
}

/* The tracking id as lower-case hex (buf holds 2 * TOKEN_ID_LEN + 1). */
static void
hex_id(const guint8 *id, char *buf)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < TOKEN_ID_LEN; i++) {
		buf[2 * i] = digits[id[i] >> 4];
		buf[2 * i + 1] = digits[id[i] & 0xf];
	}
	buf[2 * TOKEN_ID_LEN] = '\0';
}

/* Queue one event from a request thread. */
gboolean
recorder_add(recorder *r, rec_event *ev)
{
	if (g_atomic_int_add(&r->pending, 1) >= RECORDER_MAX_PENDING) {
		g_atomic_int_add(&r->pending, -1);
		g_atomic_int_inc(&r->dropped);
		event_free(ev);
		return FALSE;
	}
	g_mutex_lock(&r->lock);
	g_queue_push_tail(&r->incoming, ev);
	g_cond_signal(&r->cond);
	g_mutex_unlock(&r->lock);
	return TRUE;
}

/* ------------------------------------------------------------ bursts */

/* Note a click of message hex in the recent clicks. */
static void
note_click(recorder *r, const char *hex, const rec_event *ev)
{
	GArray *marks = g_hash_table_lookup(r->recent, hex);
	click_mark m = { ev->at_us, ev->link };

	if (marks == NULL) {
		marks = g_array_new(FALSE, FALSE, sizeof(click_mark));
		g_hash_table_insert(r->recent, g_strdup(hex), marks);
	}
	g_array_append_val(marks, m);
}

/* Different links of message hex clicked within window s of ev. */
static guint
burst_links(recorder *r, const char *hex, const rec_event *ev, int window)
{
	GArray *marks = g_hash_table_lookup(r->recent, hex);
	GArray *seen = g_array_new(FALSE, FALSE, sizeof(guint));
	gint64 span = (gint64)window * G_USEC_PER_SEC;
	guint n;

	for (guint i = 0; marks != NULL && i < marks->len; i++) {
		const click_mark *m = &g_array_index(marks, click_mark, i);
		gboolean dup = FALSE;

		if (m->at_us < ev->at_us - span || m->at_us > ev->at_us + span)
			continue;
		for (guint k = 0; k < seen->len && !dup; k++)
			dup = g_array_index(seen, guint, k) == m->link;
		if (!dup)
			g_array_append_val(seen, m->link);
	}
	n = MAX(seen->len, 1);
	g_array_unref(seen);
	return n;
}

/* Forget clicks older than twice the window (none are waiting on them). */
static void
prune_recent(recorder *r, int window)
{
	gint64 cutoff = g_get_real_time() - (2 * (gint64)window + 1) * G_USEC_PER_SEC;
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, r->recent);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		GArray *marks = value;
		guint keep = 0;

		for (guint i = 0; i < marks->len; i++)
			if (g_array_index(marks, click_mark, i).at_us >= cutoff)
				g_array_index(marks, click_mark, keep++) = g_array_index(marks, click_mark, i);
		g_array_set_size(marks, keep);
		if (keep == 0)
			g_hash_table_iter_remove(&it);
	}
}

/* ------------------------------------------------------------ the spool */

/* The spool of the current config, opened (again) when needed. */
static crm_db *
spool_of(recorder *r, const crm_config *cfg)
{
	if (r->db != NULL && g_strcmp0(r->db_path, cfg->spool_path) == 0)
		return r->db;
	r->db = db_close(r->db);
	g_free(r->db_path);
	r->db_path = NULL;
	r->db = prog_open_spool(cfg);
	if (r->db != NULL)
		r->db_path = g_strdup(cfg->spool_path);
	return r->db;
}

/* What the index of tracked mail says about message hex: the sending
 * time (-1), its Message-ID and its save job's profile (new strings or
 * NULL). FALSE when the database failed. */
static gboolean
lookup_tracked(crm_db *db, const char *hex, gint64 *sent_at, char **message_id,
    char **profile, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT t.created_at, t.message_id, j.profile "
	    "FROM tracked t LEFT JOIN jobs j ON j.id = t.job_id WHERE t.track_id = ?1", err);
	int rc;

	*sent_at = -1;
	*message_id = *profile = NULL;
	if (st == NULL)
		return FALSE;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*sent_at = sqlite3_column_int64(st, 0);
		*message_id = g_strdup((const char *)sqlite3_column_text(st, 1));
		*profile = g_strdup((const char *)sqlite3_column_text(st, 2));
	} else if (rc != SQLITE_DONE) {
		db_set_error(db, err, "looking up a tracking id");
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

/* A job being built: the strings spool_new_job points to. */
typedef struct {
	spool_new_job job;
	char *profile, *key, *meta, *message_id;
} built_job;

/* Free what a built job owns. */
static void
built_clear(built_job *b)
{
	g_free(b->profile);
	g_free(b->key);
	g_free(b->meta);
	g_free(b->message_id);
}

/* Judge ev and build its job; FALSE when the database failed. */
static gboolean
build_job(recorder *r, crm_db *db, const tracker_snap *snap, const rec_event *ev,
    built_job *b, GError **err)
{
	char hex[2 * TOKEN_ID_LEN + 1], *reason = NULL;
	gint64 at = ev->at_us / G_USEC_PER_SEC, sent_at;
	eng_event e = { ev->kind, ev->head ? "HEAD" : "GET", ev->user_agent, ev->client_ip, at, -1, 0 };
	eng_class cls;

	memset(b, 0, sizeof(*b));
	hex_id(ev->id, hex);
	if (!lookup_tracked(db, hex, &sent_at, &b->message_id, &b->profile, err))
		return FALSE;
	if (b->profile == NULL) {
		const crm_profile *p = g_ptr_array_index(snap->cfg->profiles, 0);

		b->profile = g_strdup(p->name);
	}
	e.sent_at = sent_at;
	if (ev->kind == ENG_CLICKED)
		e.burst_links = burst_links(r, hex, ev, snap->params.click_window);
	cls = engagement_classify(snap->data, &e, &snap->params, &reason);
	b->key = engagement_idem_key(ev->kind, hex, ev->link, cls, at);
	b->meta = engagement_meta(ev->kind, hex, ev->link, ev->target, cls, reason, ev->user_agent, at);
	log_msg(CRM_LOG_DEBUG, NULL, "%s %s link %u: %s (%s)", engagement_kind_name(ev->kind), hex,
	    ev->link, engagement_class_name(cls), reason);
	g_free(reason);
	b->job.kind = JOB_EVENT;
	b->job.profile = b->profile;
	b->job.idem_key = b->key;
	b->job.message_id = b->message_id;
	b->job.meta = b->meta;
	return TRUE;
}

/* Judge and write up to BATCH_MAX ready events in one transaction; FALSE
 * (events kept) when the spool failed. */
static gboolean
write_batch(recorder *r, const tracker_snap *snap)
{
	guint n = MIN(r->ready.length, BATCH_MAX);
	built_job *built = g_new0(built_job, n);
	const spool_new_job **jobs = g_new0(const spool_new_job *, n);
	gint64 *ids = g_new0(gint64, n);
	spool_status *status = g_new0(spool_status, n);
	crm_db *db = spool_of(r, snap->cfg);
	GError *e = NULL;
	gboolean ok = db != NULL;
	guint i, built_n = 0;

	for (i = 0; ok && i < n; i++) {
		ok = build_job(r, db, snap, g_queue_peek_nth(&r->ready, i), &built[i], &e);
		jobs[i] = &built[i].job;
		built_n = i + 1;
	}
	if (ok)
		ok = spool_enqueue_batch(db, jobs, n, g_get_real_time() / G_USEC_PER_SEC, ids, status, &e);
	if (ok) {
		for (i = 0; i < n; i++)
			event_free(g_queue_pop_head(&r->ready));
		g_atomic_int_add(&r->pending, -(gint)n);
	} else {
		if (db != NULL)
			log_msg(CRM_LOG_WARNING, NULL, "spool %s: %s; %u events wait", snap->cfg->spool_path,
			    e ? e->message : "?", r->ready.length);
		g_clear_error(&e);
		r->db = db_close(r->db);     /* reopen next time */
		r->retry_at = g_get_monotonic_time() + RETRY_US;
	}
	for (i = 0; i < built_n; i++)
		built_clear(&built[i]);
	g_free(built);
	g_free(jobs);
	g_free(ids);
	g_free(status);
	return ok;
}

/* ------------------------------------------------------------ the thread */

/* Sort fresh events: clicks are noted for bursts and wait the window. */
static void
accept_fresh(recorder *r, const tracker_snap *snap, GQueue *fresh)
{
	gboolean hold = snap->params.click_window > 0 && snap->params.burst_links > 0;
	rec_event *ev;

	while ((ev = g_queue_pop_head(fresh)) != NULL) {
		if (ev->kind == ENG_CLICKED && hold) {
			char hex[2 * TOKEN_ID_LEN + 1];

			hex_id(ev->id, hex);
			note_click(r, hex, ev);
			g_queue_push_tail(&r->waiting, ev);
		} else {
			g_queue_push_tail(&r->ready, ev);
		}
	}
}

/* Move the clicks whose window has passed (all when stopping) to ready. */
static void
release_waiting(recorder *r, const tracker_snap *snap, gboolean all)
{
	gint64 now = g_get_real_time(), span = (gint64)snap->params.click_window * G_USEC_PER_SEC;
	rec_event *ev;

	while ((ev = g_queue_peek_head(&r->waiting)) != NULL && (all || ev->at_us + span <= now))
		g_queue_push_tail(&r->ready, g_queue_pop_head(&r->waiting));
}

/* Monotonic time to wake up by: the next waiting click, at most 1 s away. */
static gint64
wake_time(recorder *r, int window)
{
	gint64 now = g_get_monotonic_time(), wait = G_USEC_PER_SEC;
	rec_event *ev = g_queue_peek_head(&r->waiting);

	if (r->ready.length > 0 && r->retry_at <= now)
		return now;
	if (ev != NULL)
		wait = CLAMP(ev->at_us + (gint64)window * G_USEC_PER_SEC - g_get_real_time(), 0, wait);
	return now + wait;
}

/* The writer thread. */
static gpointer
writer(gpointer data)
{
	recorder *r = data;
	int window = 0, stop_tries = 0;

	for (;;) {
		GQueue fresh = G_QUEUE_INIT;
		gboolean stop;
		tracker_snap *snap;
		int dropped;

		g_mutex_lock(&r->lock);
		while (r->incoming.length == 0 && !r->stopping)
			if (!g_cond_wait_until(&r->cond, &r->lock, wake_time(r, window)))
				break;
		fresh = r->incoming;
		g_queue_init(&r->incoming);
		stop = r->stopping;
		g_mutex_unlock(&r->lock);

		snap = snap_holder_get(r->snaps);
		window = snap->params.click_window;
		accept_fresh(r, snap, &fresh);
		release_waiting(r, snap, stop);
		while (r->ready.length > 0 && (stop || r->retry_at <= g_get_monotonic_time()))
			if (!write_batch(r, snap) && (!stop || ++stop_tries >= STOP_TRIES))
				break;
		prune_recent(r, window);
		if ((dropped = g_atomic_int_and(&r->dropped, 0)) > 0)
			log_msg(CRM_LOG_WARNING, NULL, "%d events dropped: more than %d waiting",
			    dropped, RECORDER_MAX_PENDING);
		if (stop && (r->ready.length == 0 || stop_tries >= STOP_TRIES)) {
			if (r->ready.length > 0)
				log_msg(CRM_LOG_ERR, NULL, "%u events lost: the spool failed at shutdown",
				    r->ready.length);
			snap_unref(snap);
			break;
		}
		snap_unref(snap);
		if (stop)
			g_usleep(RETRY_US);
	}
	return NULL;
}

/* Start the writer thread. */
recorder *
recorder_start(snap_holder *snaps)
{
	recorder *r = g_new0(recorder, 1);

	r->snaps = snaps;
	g_mutex_init(&r->lock);
	g_cond_init(&r->cond);
	g_queue_init(&r->incoming);
	g_queue_init(&r->ready);
	g_queue_init(&r->waiting);
	r->recent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    (GDestroyNotify)g_array_unref);
	r->thread = g_thread_new("recorder", writer, r);
	return r;
}

/* Write what waits, stop and free. */
recorder *
recorder_stop(recorder *r)
{
	if (r == NULL)
		return NULL;
	g_mutex_lock(&r->lock);
	r->stopping = TRUE;
	g_cond_signal(&r->cond);
	g_mutex_unlock(&r->lock);
	g_thread_join(r->thread);
	g_queue_clear_full(&r->incoming, event_free);
	g_queue_clear_full(&r->ready, event_free);
	g_queue_clear_full(&r->waiting, event_free);
	g_hash_table_unref(r->recent);
	db_close(r->db);
	g_free(r->db_path);
	g_cond_clear(&r->cond);
	g_mutex_clear(&r->lock);
	g_free(r);
	return NULL;
}

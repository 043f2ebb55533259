/*
 * recorder.c - the writer thread between crm-tracker's request threads
 * and the spool: holds clicks for the burst window, judges each event,
 * queues the JOB_EVENT jobs in batches. See recorder.h.
 *
 * SECURITY: the only code of crm-tracker that writes; it opens the spool
 * as milter { user } (privileges are dropped before it starts).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "recorder.h"
#include "bursts.h"
#include "db.h"
#include "log.h"
#include "outage.h"
#include "quota.h"
#include "spool.h"

#define BATCH_MAX 500              /* events per transaction */
#define RETRY_US G_USEC_PER_SEC    /* wait after a failed write */
#define STOP_TRIES 3               /* writes tried at stop before giving up */
#define LOOKUP_TTL_US (30 * G_USEC_PER_SEC)   /* index lookups cached this long */
#define LOOKUP_MAX 50000           /* cached lookups at most */
#define WRITTEN_MAX 100000         /* keys remembered per bucket at most */
#define WRITER_NICE 5              /* the writer yields to request threads */
#define OUTAGE_LOG_US (60 * G_USEC_PER_SEC)   /* a failing spool: one line a minute */
#define LOSS_LOG_US (60 * G_USEC_PER_SEC)     /* events not recorded: one line a minute */
#define QUOTA_BUCKET 3600                     /* s: max_events_per_message is per hour */

/* What the index of tracked mail says about one tracking id. */
typedef struct {
	gint64 sent_at;                /* -1: unknown */
	char *message_id;              /* NULL: not indexed */
	char *profile;                 /* NULL: no save job */
} tracked_info;

struct recorder {
	snap_holder *snaps;
	GThread *thread;
	GMutex lock;                   /* incoming, stopping */
	GCond cond;
	GQueue incoming;               /* rec_event *, from request threads */
	gboolean stopping;
	gint64 pending_bytes;          /* size of the events waiting (atomic) */
	gint64 max_pending;            /* max_pending_size (atomic: the writer sets it) */
	gint dropped;                  /* over max_pending, since the writer took them (atomic) */
	/* the writer thread's own */
	GQueue ready;                  /* rec_event *, to judge now */
	GQueue waiting;                /* clicks, until at + window */
	bursts *recent;                /* recent clicks per message */
	crm_db *db;
	char *db_path;
	gint64 retry_at;               /* monotonic µs: no write before */
	outage spool_down;             /* failed writes, for the log (monotonic µs) */
	quota *per_message;            /* events recorded per message this hour */
	guint64 lost_full, lost_over;  /* not recorded since the last line: over
	                                  max_pending_size, over max_events_per_message */
	gint64 losses_logged;          /* monotonic µs of that line; 0: none yet */
	GHashTable *lookups;           /* hex id -> tracked_info *, cached */
	gint64 lookups_born;           /* monotonic µs the cache was emptied */
	GHashTable *written[2];        /* idem keys written in this and the
	                                  last time bucket: the same event
	                                  again is no new job */
	gint64 written_bucket;         /* the bucket of written[0] */
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

/* About how much memory an event holds. */
static gint64
event_size(const rec_event *ev)
{
	return (gint64)(sizeof(*ev) + 3 * 16 + (ev->target ? strlen(ev->target) : 0) +
	    (ev->user_agent ? strlen(ev->user_agent) : 0) + (ev->client_ip ? strlen(ev->client_ip) : 0));
}

/* Queue one event from a request thread. */
gboolean
recorder_add(recorder *r, rec_event *ev)
{
	gint64 size = event_size(ev);

	if (__atomic_add_fetch(&r->pending_bytes, size, __ATOMIC_RELAXED) >
	    __atomic_load_n(&r->max_pending, __ATOMIC_RELAXED)) {
		__atomic_sub_fetch(&r->pending_bytes, size, __ATOMIC_RELAXED);
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

/* Forget clicks older than twice the window (none are waiting on them). */
static void
prune_recent(recorder *r, int window)
{
	bursts_prune(r->recent, g_get_real_time() - (2 * (gint64)window + 1) * G_USEC_PER_SEC);
}

/* ------------------------------------------------------------ the spool */

/* The spool of the current config, opened (again) when needed. */
static crm_db *
spool_of(recorder *r, const crm_config *cfg, GError **err)
{
	if (r->db != NULL && g_strcmp0(r->db_path, cfg->spool_path) == 0)
		return r->db;
	r->db = db_close(r->db);
	g_free(r->db_path);
	r->db_path = NULL;
	r->db = db_open(cfg->spool_path, cfg->busy_timeout, err);
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

/* GDestroyNotify for the lookup cache. */
static void
tracked_info_free(gpointer p)
{
	tracked_info *t = p;

	g_free(t->message_id);
	g_free(t->profile);
	g_free(t);
}

/* The index's answer for hex, cached for a while (events of one message
 * come together); NULL when the database failed. */
static const tracked_info *
tracked_of(recorder *r, crm_db *db, const char *hex, GError **err)
{
	gint64 now = g_get_monotonic_time();
	tracked_info *t;

	if (now - r->lookups_born > LOOKUP_TTL_US || g_hash_table_size(r->lookups) >= LOOKUP_MAX) {
		g_hash_table_remove_all(r->lookups);
		r->lookups_born = now;
	}
	t = g_hash_table_lookup(r->lookups, hex);
	if (t != NULL)
		return t;
	t = g_new0(tracked_info, 1);
	if (!lookup_tracked(db, hex, &t->sent_at, &t->message_id, &t->profile, err)) {
		tracked_info_free(t);
		return NULL;
	}
	g_hash_table_insert(r->lookups, g_strdup(hex), t);
	return t;
}

/* Was this idempotency key (of time bucket) written already? Keeps the
 * keys of the newest bucket seen and the one before it. */
static gboolean
written_before(recorder *r, const char *key, gint64 bucket)
{
	if (bucket == r->written_bucket + 1) {
		GHashTable *t = r->written[1];

		r->written[1] = r->written[0];
		r->written[0] = t;
		g_hash_table_remove_all(t);
		r->written_bucket = bucket;
	} else if (bucket > r->written_bucket) {
		g_hash_table_remove_all(r->written[0]);
		g_hash_table_remove_all(r->written[1]);
		r->written_bucket = bucket;
	}
	if (g_hash_table_size(r->written[0]) >= WRITTEN_MAX)
		g_hash_table_remove_all(r->written[0]);   /* only a shortcut: the spool dedupes too */
	return g_hash_table_contains(r->written[0], key) || g_hash_table_contains(r->written[1], key);
}

/* A job being built: the strings spool_new_job points to. */
typedef struct {
	spool_new_job job;
	char *profile, *key, *meta, *message_id;
	char hex[2 * TOKEN_ID_LEN + 1];    /* the message, for its quota */
	gint64 counted_in;                 /* its quota's bucket (quota_take) */
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

typedef enum { BUILD_FAILED, BUILD_OK, BUILD_SEEN, BUILD_OVER } build_status;

/* Judge ev and build its job: BUILD_SEEN when this process wrote the
 * same event already or it is in this batch (batch: the keys built so
 * far, borrowed), BUILD_OVER when its message had max_events_per_message
 * this hour (hour: now's bucket), BUILD_FAILED when the database failed. */
static build_status
build_job(recorder *r, crm_db *db, const tracker_snap *snap, const rec_event *ev,
    gint64 hour, GHashTable *batch, built_job *b, GError **err)
{
	char *hex = b->hex, *reason = NULL;
	gint64 at = ev->at_us / G_USEC_PER_SEC;
	eng_event e = { ev->kind, ev->head ? "HEAD" : "GET", ev->user_agent, ev->client_ip, at, -1, 0 };
	const tracked_info *t;
	eng_class cls;

	memset(b, 0, sizeof(*b));
	hex_id(ev->id, b->hex);
	if ((t = tracked_of(r, db, hex, err)) == NULL)
		return BUILD_FAILED;
	e.sent_at = t->sent_at;
	if (ev->kind == ENG_CLICKED)
		e.burst_links = bursts_links(r->recent, hex, ev->at_us,
		    (gint64)snap->params.click_window * G_USEC_PER_SEC);
	cls = engagement_classify(snap->data, &e, &snap->params, &reason);
	b->key = engagement_idem_key(ev->kind, hex, ev->link, cls, at);
	if (written_before(r, b->key, at / ENGAGEMENT_BUCKET) || g_hash_table_contains(batch, b->key)) {
		g_clear_pointer(&b->key, g_free);
		g_free(reason);
		return BUILD_SEEN;
	}
	if (!quota_take(r->per_message, hex, hour, (guint)snap->cfg->tracker.max_events_per_message,
	    &b->counted_in)) {
		g_clear_pointer(&b->key, g_free);
		g_free(reason);
		return BUILD_OVER;
	}
	g_hash_table_add(batch, b->key);
	b->message_id = g_strdup(t->message_id);
	b->profile = g_strdup(t->profile != NULL ? t->profile :
	    ((const crm_profile *)g_ptr_array_index(snap->cfg->profiles, 0))->name);
	b->meta = engagement_meta(ev->kind, hex, ev->link, ev->target, cls, reason, ev->user_agent, at);
	log_msg(CRM_LOG_DEBUG, NULL, "%s %s link %u: %s (%s)", engagement_kind_name(ev->kind), hex,
	    ev->link, engagement_class_name(cls), reason);
	g_free(reason);
	b->job.kind = JOB_EVENT;
	b->job.profile = b->profile;
	b->job.idem_key = b->key;
	b->job.message_id = b->message_id;
	b->job.meta = b->meta;
	return BUILD_OK;
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
	GError *e = NULL;
	crm_db *db = spool_of(r, snap->cfg, &e);
	gboolean ok = db != NULL;
	gint64 now = g_get_monotonic_time(), down;
	gint64 hour = g_get_real_time() / G_USEC_PER_SEC / QUOTA_BUCKET;
	guint i, built_n = 0, njobs = 0, over = 0;
	GList *l = r->ready.head;
	GHashTable *batch = g_hash_table_new(g_str_hash, g_str_equal);

	for (i = 0; ok && i < n; i++, l = l->next) {
		build_status bs = build_job(r, db, snap, l->data, hour, batch, &built[built_n], &e);

		ok = bs != BUILD_FAILED;
		over += bs == BUILD_OVER;
		if (bs == BUILD_OK || bs == BUILD_FAILED)
			built_n++;
		if (bs == BUILD_OK)
			jobs[njobs++] = &built[built_n - 1].job;
	}
	if (ok && njobs > 0)
		ok = spool_enqueue_batch(db, jobs, njobs, g_get_real_time() / G_USEC_PER_SEC, ids, status, &e);
	if (ok) {
		if ((down = outage_ok(&r->spool_down, now)) >= 0)
			log_msg(CRM_LOG_NOTICE, NULL, "spool %s: writing again after %" G_GINT64_FORMAT
			    " s and %" G_GUINT64_FORMAT " failed writes; %u events written",
			    snap->cfg->spool_path, down / G_USEC_PER_SEC, r->spool_down.failures, n);
		r->lost_over += over;
		/* built[i] is jobs[i] here (no BUILD_FAILED): one already in the
		 * spool (written before a restart) took no room */
		for (i = 0; i < njobs; i++) {
			g_hash_table_add(r->written[0], g_strdup(jobs[i]->idem_key));
			if (status[i] == SPOOL_DUPLICATE)
				quota_give_back(r->per_message, built[i].hex, built[i].counted_in);
		}
		for (i = 0; i < n; i++) {
			rec_event *ev = g_queue_pop_head(&r->ready);

			__atomic_sub_fetch(&r->pending_bytes, event_size(ev), __ATOMIC_RELAXED);
			event_free(ev);
		}
	} else {
		/* tried every RETRY_US: the first failure and one a minute are logged */
		if (outage_fail(&r->spool_down, now, OUTAGE_LOG_US)) {
			if (r->spool_down.failures == 1)
				log_msg(CRM_LOG_WARNING, NULL, "spool %s: %s; %u events wait (retried every "
				    "second, logged once a minute)", snap->cfg->spool_path, e ? e->message : "?",
				    r->ready.length);
			else
				log_msg(CRM_LOG_WARNING, NULL, "spool %s: %s; %u events wait (failing for %"
				    G_GINT64_FORMAT " s, %" G_GUINT64_FORMAT " failed writes)", snap->cfg->spool_path,
				    e ? e->message : "?", r->ready.length,
				    (now - r->spool_down.since) / G_USEC_PER_SEC, r->spool_down.failures);
		}
		g_clear_error(&e);
		/* judged again next time: the quota they took is given back */
		for (i = 0; i < built_n; i++)
			if (built[i].key != NULL)
				quota_give_back(r->per_message, built[i].hex, built[i].counted_in);
		r->db = db_close(r->db);     /* reopen next time */
		r->retry_at = now + RETRY_US;
	}
	for (i = 0; i < built_n; i++)
		built_clear(&built[i]);
	g_free(built);
	g_free(jobs);
	g_free(ids);
	g_free(status);
	g_hash_table_unref(batch);
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
			bursts_note(r->recent, hex, ev->at_us, ev->link);
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

/* Log the events not recorded since the last such line: the first at
 * once, then at most one line a minute (now: monotonic; all: at stop). */
static void
log_losses(recorder *r, const tracker_snap *snap, gint64 now, gboolean all)
{
	r->lost_full += (guint)g_atomic_int_and(&r->dropped, 0);
	if (r->lost_full == 0 && r->lost_over == 0)
		return;
	if (!all && r->losses_logged != 0 && now - r->losses_logged < LOSS_LOG_US)
		return;
	log_msg(CRM_LOG_WARNING, NULL, "events answered but not recorded%s: %" G_GUINT64_FORMAT
	    " over tracker max_pending_size (%" G_GINT64_FORMAT " KB waiting), %" G_GUINT64_FORMAT
	    " over max_events_per_message (%d a message an hour)",
	    r->losses_logged != 0 ? " since the last such line" : "", r->lost_full,
	    snap->cfg->tracker.max_pending_size / 1024, r->lost_over,
	    snap->cfg->tracker.max_events_per_message);
	r->lost_full = r->lost_over = 0;
	r->losses_logged = now;
}

/* The writer thread. */
static gpointer
writer(gpointer data)
{
	recorder *r = data;
	int window = 0, stop_tries = 0;

	/* Linux: a thread's own nice value; answering comes first, writing
	 * catches up when requests leave room (the queue absorbs bursts) */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WRITER_NICE) != 0)
		log_msg(CRM_LOG_DEBUG, NULL, "recorder: cannot lower its priority: %s", g_strerror(errno));
	for (;;) {
		GQueue fresh = G_QUEUE_INIT;
		gboolean stop;
		tracker_snap *snap;

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
		__atomic_store_n(&r->max_pending, snap->cfg->tracker.max_pending_size, __ATOMIC_RELAXED);
		accept_fresh(r, snap, &fresh);
		release_waiting(r, snap, stop);
		while (r->ready.length > 0 && (stop || r->retry_at <= g_get_monotonic_time()))
			if (!write_batch(r, snap) && (!stop || ++stop_tries >= STOP_TRIES))
				break;
		prune_recent(r, window);
		log_losses(r, snap, g_get_monotonic_time(), stop);
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
	tracker_snap *snap;

	r->snaps = snaps;
	g_mutex_init(&r->lock);
	g_cond_init(&r->cond);
	g_queue_init(&r->incoming);
	g_queue_init(&r->ready);
	g_queue_init(&r->waiting);
	r->recent = bursts_new();
	r->per_message = quota_new();
	snap = snap_holder_get(snaps);
	r->max_pending = snap->cfg->tracker.max_pending_size;
	snap_unref(snap);
	r->lookups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, tracked_info_free);
	r->lookups_born = g_get_monotonic_time();
	for (int i = 0; i < 2; i++)
		r->written[i] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
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
	bursts_free(r->recent);
	quota_free(r->per_message);
	g_hash_table_unref(r->lookups);
	for (int i = 0; i < 2; i++)
		g_hash_table_unref(r->written[i]);
	db_close(r->db);
	g_free(r->db_path);
	g_cond_clear(&r->cond);
	g_mutex_clear(&r->lock);
	g_free(r);
	return NULL;
}

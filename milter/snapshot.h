/*
 * snapshot.h - the reloadable runtime of crm-milter: the config snapshot
 * plus the spool connections opened for it. The current runtime is the
 * program's only global that changes: SIGHUP builds a new one and swaps it
 * in under a lock; each SMTP connection keeps a reference to the one it
 * started with (OpenDKIM's conf_refcnt), so a reload never pulls the
 * config from under a message.
 *
 * Each runtime has one spool connection, opened on first use, and writes
 * save jobs with group commit (runtime_enqueue): the thread that finds no
 * write in progress becomes the writer and commits every job queued so far
 * in one transaction while the others wait for their result; when it is
 * done, the oldest waiter becomes the writer. One fsync then covers several
 * messages, and each thread waits on its own condition (woken once)
 * instead of SQLite's busy handler (which sleeps 1, 2, 5, 10... ms between
 * tries).
 *
 * Each runtime also keeps idle HTML tokenizers (runtime_html_take and
 * _give): one costs about 1 MB to set up, and smtp-source, like many
 * clients, sends one message per connection, so a tokenizer per
 * connection meant setting one up, touching its fresh pages and freeing it
 * for every tracked message.
 *
 * Ownership: runtime_new takes the config reference it is given;
 * snapshot_get returns a new reference (runtime_unref, NULL-safe, returns
 * NULL); snapshot_set takes the reference it is given.
 *
 * Public: runtime_new, runtime_load_keys, runtime_ref, runtime_unref, runtime_enqueue,
 *         runtime_html_take, runtime_html_give,
 *         runtime_read_begin, runtime_read_end,
 *         snapshot_get, snapshot_set.
 */
#ifndef CRM_SNAPSHOT_H
#define CRM_SNAPSHOT_H

#include <glib.h>
#include "config.h"
#include "db.h"
#include "spool.h"
#include "token.h"
#include "html_links.h"

typedef struct milter_runtime {
	gint refcnt;
	crm_config *cfg;          /* owned reference */
	GMutex lock;              /* guards queue and writing */
	GQueue queue;             /* commit requests not yet taken */
	gboolean writing;         /* a thread is the writer (committing, or handed it) */
	crm_db *db;               /* used only by the writing thread */
	GMutex read_lock;         /* held from runtime_read_begin to _end */
	crm_db *rdb;              /* the lookups' connection, or NULL */
	token_ring *ring;         /* tracking keys, or NULL: no tracking */
	GMutex html_lock;         /* guards html_idle */
	GPtrArray *html_idle;     /* html_links_ctx *, owned, at most RUNTIME_HTML_IDLE */
} milter_runtime;

/* Most idle tokenizers a runtime keeps (more are freed when given back). */
#define RUNTIME_HTML_IDLE 16

milter_runtime *runtime_new(crm_config *cfg);
/* Load tracking { key_file } when tracking { base_url } is set; FALSE with
 * err when the keys cannot be used (a start or reload then fails). */
gboolean runtime_load_keys(milter_runtime *rt, GError **err);
milter_runtime *runtime_ref(milter_runtime *rt);
milter_runtime *runtime_unref(milter_runtime *rt);
/* Queue one job durably (returns after its transaction committed):
 * SPOOL_OK with *id, SPOOL_DUPLICATE with the existing *id, or
 * SPOOL_ERROR with err. */
spool_status runtime_enqueue(milter_runtime *rt, const spool_new_job *job,
    gint64 *id, GError **err);

/* An HTML tokenizer for one message, idle or new (the caller owns it
 * until runtime_html_give); NULL when none can be made. */
html_links_ctx *runtime_html_take(milter_runtime *rt);
/* Give it back for the next message (NULL-safe; takes ownership). */
void runtime_html_give(milter_runtime *rt, html_links_ctx *h);

/* The read connection for lookups, locked for this thread (opened on
 * first use); NULL with err (and unlocked) when it cannot be opened. */
crm_db *runtime_read_begin(milter_runtime *rt, GError **err);
/* Unlock it (db may be NULL after a failed begin); broken closes it. */
void runtime_read_end(milter_runtime *rt, crm_db *db, gboolean broken);

/* The current runtime, with a new reference, or NULL before the first set. */
milter_runtime *snapshot_get(void);
/* Install rt as current (takes the reference); drops the old one. */
void snapshot_set(milter_runtime *rt);

#endif

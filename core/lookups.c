/*
 * lookups.c - directory and correlation lookups for the decision.
 * See lookups.h.
 */
#include "lookups.h"
#include "correlate.h"
#include "directory.h"
#include "log.h"

/* The KNOWN_* bit of a record type. */
static guint
known_bit(dir_record_type t)
{
	switch (t) {
	case DIRREC_CONTACT: return KNOWN_CONTACT;
	case DIRREC_LEAD: return KNOWN_LEAD;
	case DIRREC_ACCOUNT: return KNOWN_ACCOUNT;
	case DIRREC_USER: return KNOWN_USER;
	}
	return 0;
}

/* decide_lookups.known: the record types of addr. */
static guint
known(void *data, const char *addr)
{
	lookup_ctx *lc = data;
	GError *e = NULL;
	GPtrArray *all;
	guint bits = 0;

	if (lc->db == NULL)
		return 0;
	if ((all = directory_lookup_all(lc->db, addr, &e)) == NULL) {
		log_msg(CRM_LOG_WARNING, lc->qid, "directory lookup of %s failed: %s", addr,
		    e ? e->message : "?");
		g_clear_error(&e);
		return 0;
	}
	for (guint i = 0; i < all->len; i++)
		bits |= known_bit(((directory_entry *)g_ptr_array_index(all, i))->type);
	g_ptr_array_unref(all);
	return bits;
}

/* decide_lookups.correlate: the ledger's tracked messages. */
static gboolean
correlate(void *data, const crm_config *cfg, const crm_message *msg,
    const char *const *addrs, gsize naddrs, crm_correlation *out)
{
	lookup_ctx *lc = data;
	GError *e = NULL;
	gboolean hit;

	if (lc->db == NULL)
		return FALSE;
	hit = correlate_find(lc->db, cfg, msg, addrs, naddrs, lc->now, out, &e);
	if (e != NULL) {
		log_msg(CRM_LOG_WARNING, lc->qid, "correlation lookup failed: %s", e->message);
		g_error_free(e);
	}
	return hit;
}

/* decide_lookups.tracked: the profile of a tracked Message-ID. */
static char *
tracked(void *data, const char *message_id)
{
	lookup_ctx *lc = data;
	GError *e = NULL;
	sqlite3_stmt *st;
	char *profile = NULL;

	if (lc->db == NULL)
		return NULL;
	st = db_prepare(lc->db, "SELECT j.profile FROM tracked t JOIN jobs j ON j.id = t.job_id "
	    "WHERE t.message_id = ?1", &e);
	if (st == NULL) {
		log_msg(CRM_LOG_WARNING, lc->qid, "tracked lookup failed: %s", e->message);
		g_error_free(e);
		return NULL;
	}
	sqlite3_bind_text(st, 1, message_id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		profile = g_strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return profile;
}

/* decide_lookups.no_follow: a directory opt-out among addrs? */
static gboolean
no_follow(void *data, const char *const *addrs, gsize n)
{
	lookup_ctx *lc = data;
	GError *e = NULL;
	gboolean hit;

	if (lc->db == NULL) {
		/* no directory to ask: no tracking on a doubt, as below */
		log_msg(CRM_LOG_WARNING, lc->qid, "directory opt-outs cannot be read (no tracking)");
		return TRUE;
	}
	hit = directory_any_no_follow(lc->db, addrs, n, &e);
	if (e != NULL) {
		/* unknown is treated as opted out: no tracking on a doubt */
		log_msg(CRM_LOG_WARNING, lc->qid, "directory opt-out lookup failed (no tracking): %s", e->message);
		g_error_free(e);
		return TRUE;
	}
	return hit;
}

/* Fill lk for one message. */
void
lookups_init(decide_lookups *lk, lookup_ctx *lc, crm_db *db, const char *qid, gint64 now)
{
	lc->db = db;
	lc->qid = qid;
	lc->now = now;
	lk->known = known;
	lk->correlate = correlate;
	lk->tracked = tracked;
	lk->no_follow = no_follow;
	lk->all_known = FALSE;
	lk->data = lc;
}

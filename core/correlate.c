/*
 * correlate.c - reply and thread correlation against the `tracked` index.
 * See correlate.h.
 */
#include <string.h>

#include "correlate.h"
#include "idem.h"
#include "thread.h"

/* Candidate rows examined by smart matching, newest first. */
#define SMART_CANDIDATES 20

/* Fill out from the current row of st (message_id, regarding). */
static void
take_row(sqlite3_stmt *st, const char *method, crm_correlation *out)
{
	const char *mid = (const char *)sqlite3_column_text(st, 0);
	const char *reg = (const char *)sqlite3_column_text(st, 1);

	out->method = g_strdup(method);
	out->message_id = g_strdup(mid);
	out->regarding = reg != NULL ? config_regarding_parse(reg, NULL) : NULL;
}

/* One lookup by a column; TRUE when a row was found. */
static gboolean
lookup(crm_db *db, const char *sql, const char *value, const char *method,
    crm_correlation *out, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, sql, err);
	gboolean hit = FALSE;
	int rc;

	if (st == NULL)
		return FALSE;
	sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		take_row(st, method, out);
		hit = TRUE;
	} else if (rc != SQLITE_DONE) {
		db_set_error(db, err, "correlation lookup");
	}
	sqlite3_reset(st);
	return hit;
}

/* Try each id in order. */
static gboolean
lookup_ids(crm_db *db, GPtrArray *ids, const char *method, crm_correlation *out, GError **err)
{
	for (guint i = 0; i < ids->len; i++) {
		if (lookup(db, "SELECT message_id, regarding FROM tracked WHERE message_id = ?1",
		    g_ptr_array_index(ids, i), method, out, err))
			return TRUE;
		if (err != NULL && *err != NULL)
			return FALSE;
	}
	return FALSE;
}

/* Smart matching: same normalised subject, recent, enough shared addresses. */
static gboolean
smart(crm_db *db, const crm_config *cfg, const char *subject_norm,
    const char *const *addrs, gsize naddrs, gint64 now, crm_correlation *out, GError **err)
{
	sqlite3_stmt *st = db_prepare(db,
	    "SELECT message_id, regarding, participants FROM tracked "
	    "WHERE subject_norm = ?1 AND created_at >= ?2 ORDER BY created_at DESC LIMIT ?3", err);
	GPtrArray *mine = g_ptr_array_new();
	gboolean hit = FALSE;
	int rc;

	if (st == NULL) {
		g_ptr_array_unref(mine);
		return FALSE;
	}
	for (gsize i = 0; i < naddrs; i++)
		g_ptr_array_add(mine, (gpointer)addrs[i]);
	sqlite3_bind_text(st, 1, subject_norm, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now - (gint64)cfg->capture.smart_matching_days * 86400);
	sqlite3_bind_int(st, 3, SMART_CANDIDATES);
	while (!hit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		GPtrArray *theirs = db_json_to_strings((const char *)sqlite3_column_text(st, 2), NULL);
		if (theirs != NULL && thread_shared_addresses(mine, theirs) >=
		    (guint)cfg->capture.smart_matching_min_addresses) {
			take_row(st, "smart", out);
			hit = TRUE;
		}
		if (theirs != NULL)
			g_ptr_array_unref(theirs);
	}
	sqlite3_reset(st);
	g_ptr_array_unref(mine);
	return hit;
}

/* The index facts of a message. */
void
correlate_facts(const crm_config *cfg, const crm_message *msg, correlate_fact *f)
{
	const char *subject;

	memset(f, 0, sizeof(*f));
	if (msg == NULL)
		return;
	subject = g_mime_message_get_subject(message_mime(msg));
	f->message_id = idem_msgid_normalize(message_header(msg, "Message-ID"));
	f->thread_conv = thread_index_conversation(message_header(msg, "Thread-Index"));
	if (subject != NULL) {
		/* only smart matching reads it: spare the work otherwise */
		if (cfg->capture.smart_matching)
			f->subject_norm = thread_subject_normalize(subject, cfg->capture.subject_tag,
			    cfg->capture.subject_token_prefix);
		if (cfg->capture.subject_token)
			(void)thread_token_find(subject, cfg->capture.subject_token_prefix,
			    cfg->capture.subject_token_digits, &f->token);
	}
}

/* Free the facts' strings. */
void
correlate_facts_clear(correlate_fact *f)
{
	g_free(f->message_id);
	g_free(f->thread_conv);
	g_free(f->subject_norm);
	memset(f, 0, sizeof(*f));
}

/* In-Reply-To, References, Thread-Index, token, smart: the first hit. */
gboolean
correlate_find(crm_db *db, const crm_config *cfg, const crm_message *msg,
    const char *const *addrs, gsize naddrs, gint64 now, crm_correlation *out,
    GError **err)
{
	GPtrArray *irt = thread_reply_ids(message_header(msg, "In-Reply-To"), NULL);
	GPtrArray *refs = thread_reply_ids(NULL, message_header(msg, "References"));
	correlate_fact f;
	gboolean hit;

	correlate_facts(cfg, msg, &f);
	hit = lookup_ids(db, irt, "in-reply-to", out, err) ||
	    lookup_ids(db, refs, "references", out, err);
	if (!hit && f.thread_conv != NULL)
		hit = lookup(db, "SELECT message_id, regarding FROM tracked WHERE thread_conv = ?1 "
		    "AND thread_conv IS NOT NULL ORDER BY created_at DESC LIMIT 1", f.thread_conv, "thread-index", out, err);
	if (!hit && f.token != 0) {
		char *t = g_strdup_printf("%" G_GUINT64_FORMAT, f.token);
		hit = lookup(db, "SELECT message_id, regarding FROM tracked WHERE token = ?1 AND token IS NOT NULL",
		    t, "token", out, err);
		g_free(t);
	}
	if (!hit && cfg->capture.smart_matching && f.subject_norm != NULL && *f.subject_norm != '\0')
		hit = smart(db, cfg, f.subject_norm, addrs, naddrs, now, out, err);
	correlate_facts_clear(&f);
	g_ptr_array_unref(irt);
	g_ptr_array_unref(refs);
	return hit;
}

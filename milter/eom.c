/*
 * eom.c - the end-of-message pipeline. See eom.h.
 *
 * SECURITY: the message is attacker-controlled; GMime parses it within
 * max_message_size. No network: directory and correlation lookups are
 * local SQLite reads (core/lookups.c) on the runtime's read connection,
 * held for the decision.
 */
#include <string.h>

#include "eom.h"
#include "seam.h"
#include "lookups.h"
#include "decide.h"
#include "correlate.h"
#include "idem.h"
#include "log.h"
#include "message.h"
#include "spool.h"
#include "thread.h"
#include "outgoing.h"
#include "rewrite.h"
#include "token.h"

/* Write one save job (copy: NULL, or "sent"/"received" for internal mail
 * saved as two activities); FALSE with err on failure. */
static gboolean
queue_copy(conn_ctx *c, msg_ctx *m, const crm_decision *d, const correlate_fact *f,
    const char *copy, const guint8 *data, gsize len, const char *track_id,
    gint64 *new_id, GError **err)
{
	spool_new_job job;
	char *base = idem_key(d->save, m->message_id, g_checksum_get_string(m->digest));
	char *key = copy != NULL ? g_strdup_printf("%s/%s", base, copy) : g_strdup(base);
	char *meta = decision_meta(c->rt->cfg, d);
	char *regarding = d->regarding != NULL ?
	    g_strdup_printf("%s:%s", d->regarding->type, d->regarding->id) : NULL;
	spool_status st;
	gint64 id = 0;

	memset(&job, 0, sizeof(job));
	job.kind = JOB_SAVE;
	job.profile = d->save;
	job.idem_key = key;
	job.queue_id = m->qid;
	job.direction = copy == NULL ? direction_name(d->direction)
	    : strcmp(copy, "sent") == 0 ? "outbound" : "inbound";
	job.reason = d->reason;
	job.rule = d->rule != NULL ? d->rule->name : "(sender control)";
	job.mail_from = m->mail_from;
	job.rcpts = (const char *const *)d->participants->pdata + (*m->mail_from ? 1 : 0);
	job.nrcpts = d->participants->len - (*m->mail_from ? 1 : 0);
	job.message_id = m->message_id;
	job.payload = data;
	job.payload_len = len;
	job.meta = meta;
	job.thread_conv = f->thread_conv;
	job.subject_norm = f->subject_norm;
	job.regarding = regarding;
	job.want_token = c->rt->cfg->capture.subject_token && d->direction == DIR_OUTBOUND;
	job.track_id = track_id;
	st = runtime_enqueue(c->rt, &job, &id, err);
	*new_id = st == SPOOL_OK ? id : 0;
	if (st == SPOOL_OK)
		log_msg(CRM_LOG_INFO, ctx_qid(m), "queued job %" G_GINT64_FORMAT " for crm %s%s%s (%zu bytes%s)",
		    id, d->save, copy ? ", copy " : "", copy ? copy : "", len,
		    msgbuf_spilled(m->raw) ? ", spilled" : "");
	else if (st == SPOOL_DUPLICATE)
		log_msg(CRM_LOG_INFO, ctx_qid(m), "already queued for crm %s (key %s); not queued again",
		    d->save, key);
	g_free(base);
	g_free(key);
	g_free(meta);
	g_free(regarding);
	return st != SPOOL_ERROR;
}

/* Queue the save job(s): internal mail with internal_as_two_activities
 * makes a sent and a received copy (Dynamics' option). */
static gboolean
queue_save(conn_ctx *c, msg_ctx *m, const crm_decision *d, const crm_message *msg,
    const guint8 *data, gsize len, const char *track_id, gint64 *new_id, GError **err)
{
	correlate_fact f;
	gboolean ok;
	gint64 other;

	correlate_facts(c->rt->cfg, msg, &f);
	if (d->direction == DIR_INTERNAL && c->rt->cfg->capture.internal_as_two_activities)
		ok = queue_copy(c, m, d, &f, "sent", data, len, track_id, new_id, err) &&
		    queue_copy(c, m, d, &f, "received", data, len, NULL, &other, err);
	else
		ok = queue_copy(c, m, d, &f, NULL, data, len, track_id, new_id, err);
	correlate_facts_clear(&f);
	return ok;
}

/* Queue the bounced event of a delivery report about tracked mail. */
static gboolean
queue_bounce(conn_ctx *c, msg_ctx *m, const crm_decision *d, GError **err)
{
	JsonBuilder *b = json_builder_new();
	JsonNode *root;
	spool_new_job job;
	char *meta, *digest, *key;
	spool_status st;
	gint64 id = 0;

	decision_bounce_json(b, d);
	root = json_builder_get_root(b);
	meta = json_to_string(root, FALSE);
	digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, meta, -1);
	key = g_strdup_printf("%s/bounce/%s", d->bounce_profile, digest);
	memset(&job, 0, sizeof(job));
	job.kind = JOB_EVENT;
	job.profile = d->bounce_profile;
	job.idem_key = key;
	job.queue_id = m->qid;
	job.direction = direction_name(d->direction);
	job.reason = d->reason;
	job.rule = "(delivery report)";
	job.mail_from = m->mail_from;
	job.message_id = d->bounce->original_message_id;
	job.meta = meta;
	st = runtime_enqueue(c->rt, &job, &id, err);
	if (st == SPOOL_OK)
		log_msg(CRM_LOG_INFO, ctx_qid(m), "queued bounce event job %" G_GINT64_FORMAT
		    " for tracked message %s", id, d->bounce->original_message_id);
	json_node_unref(root);
	g_object_unref(b);
	g_free(meta);
	g_free(digest);
	g_free(key);
	return st != SPOOL_ERROR;
}

/* The subject with the tracking token of job id (capture { subject_token
 * }), encoded for the header; NULL when there is none to add. */
static char *
token_subject(const crm_config *cfg, const crm_decision *d, const crm_message *msg, gint64 id)
{
	const char *subject = d->new_subject;
	char *token, *with, *enc;

	if (id <= 0 || msg == NULL)
		return NULL;
	if (subject == NULL)
		subject = g_mime_message_get_subject(message_mime(msg));
	token = thread_token_format(cfg->capture.subject_token_prefix,
	    cfg->capture.subject_token_digits, (guint64)id);
	if (token == NULL)
		return NULL;
	with = thread_subject_with_token(subject != NULL ? subject : "", token);
	enc = with != NULL ? g_mime_utils_header_encode_text(NULL, with, NULL) : NULL;
	g_free(token);
	g_free(with);
	return enc;
}

/* Remove control headers, dropbox recipients; rewrite the subject (the
 * tag stripped, or new_subject given: e.g. with a token added). */
static void
apply_edits(SMFICTX *ctx, msg_ctx *m, const crm_decision *d, const char *new_subject)
{
	GPtrArray *edits = outgoing_header_edits(d, new_subject);
	guint i;

	for (i = 0; i < edits->len; i++) {
		const outgoing_hdr *h = g_ptr_array_index(edits, i);
		if (seam_chgheader(ctx, h->name, h->index, h->value) != MI_SUCCESS)
			log_msg(CRM_LOG_WARNING, ctx_qid(m), "could not %s header %s",
			    h->value != NULL ? "change" : "remove", h->name);
	}
	g_ptr_array_unref(edits);
	for (i = 0; i < d->remove_rcpts->len; i++) {
		char *r = g_strdup_printf("<%s>", (char *)g_ptr_array_index(d->remove_rcpts, i));
		if (seam_delrcpt(ctx, r) != MI_SUCCESS)
			log_msg(CRM_LOG_WARNING, ctx_qid(m), "could not remove recipient %s", r);
		else
			log_msg(CRM_LOG_INFO, ctx_qid(m), "removed dropbox recipient %s", r);
		g_free(r);
	}
}

/* Insert the pixel and signed links (tracking); the new body goes to the
 * MTA with smfi_replacebody. Any failure: the original goes out untouched
 * and one line says why. Returns the message's tracking id (hex, new
 * string) when the body was replaced, else NULL. */
static char *
track(SMFICTX *ctx, conn_ctx *c, msg_ctx *m, const crm_decision *d,
    const guint8 *data, gsize len, const crm_message *msg)
{
	rewrite_stats stats;
	GByteArray *body = g_byte_array_new();
	char *reason = NULL, *hex = NULL;
	GError *e = NULL;
	rewrite_status st;
	html_links_ctx *html = runtime_html_take(c->rt);   /* NULL: rewrite makes its own */

	memset(&stats, 0, sizeof(stats));
	st = outgoing_track(c->rt->cfg, c->rt->ring, html, d->track, data, len, msg, body,
	    &stats, &hex, &reason, &e);
	runtime_html_give(c->rt, html);
	if (st == REWRITE_DONE) {
		gsize off = 0;
		gboolean ok = TRUE;
		/* in pieces: libmilter takes at most 64 KB per call */
		while (ok && off < body->len) {
			gsize n = MIN(body->len - off, 65535);
			ok = seam_replacebody(ctx, body->data + off, (int)n) == MI_SUCCESS;
			off += n;
		}
		if (ok) {
			/* the reason also names the parts and links left alone, and why */
			log_msg(CRM_LOG_INFO, ctx_qid(m), "tracking: %s%s", reason != NULL ? reason : "done",
			    stats.old_pixels > 0 ? "; quoted pixels of earlier mail neutralised" : "");
		} else {
			log_msg(CRM_LOG_ERR, ctx_qid(m), "tracking: the MTA refused the new body");
			g_clear_pointer(&hex, g_free);
		}
	} else if (st == REWRITE_FAILED) {
		log_msg(CRM_LOG_WARNING, ctx_qid(m), "tracking failed, original sent untouched: %s",
		    e != NULL ? e->message : "?");
	} else {
		log_msg(CRM_LOG_INFO, ctx_qid(m), "tracking: %s%s%s", rewrite_status_name(st),
		    reason ? ": " : "", reason ? reason : "");
	}
	g_clear_error(&e);
	g_free(reason);
	g_byte_array_unref(body);
	return hex;
}

/* The answer after an internal failure, per on_internal_error. */
static sfsistat
internal_error(SMFICTX *ctx, conn_ctx *c, msg_ctx *m)
{
	if (c->rt->cfg->on_internal_error == ON_ERROR_TEMPFAIL) {
		log_msg(CRM_LOG_ERR, ctx_qid(m), "internal error, message tempfailed: %s", m->error);
		(void)seam_setreply(ctx, "451", "4.3.0", "crm-milter: temporary local problem, try again later");
		return SMFIS_TEMPFAIL;
	}
	log_msg(CRM_LOG_ERR, ctx_qid(m), "internal error, message passed unmodified: %s", m->error);
	return SMFIS_CONTINUE;
}

/* Parse, decide, edit, queue. */
sfsistat
eom_run(SMFICTX *ctx, conn_ctx *c, msg_ctx *m)
{
	const crm_config *cfg = c->rt->cfg;
	const guint8 *data = NULL;
	crm_message *msg = NULL;
	classify_input in;
	decide_lookups lk;
	lookup_ctx lc;
	crm_db *rdb;
	crm_decision d;
	GError *e = NULL;
	gsize len = 0;
	gint64 job_id = 0;
	char *subject = NULL, *track_id = NULL;
	sfsistat r = SMFIS_CONTINUE;

	if (m->error == NULL && m->raw != NULL) {
		data = msgbuf_data(m->raw, &len, &e);
		if (data == NULL)
			ctx_fail(m, "reading the captured message", e);
		else if ((msg = message_parse(data, len, &e)) == NULL)
			log_msg(CRM_LOG_WARNING, ctx_qid(m), "%s; deciding on the envelope only", e->message);
		g_clear_error(&e);
	}
	memset(&in, 0, sizeof(in));
	in.auth_user = m->auth_user;
	in.daemon_name = c->daemon_name;
	in.client_addr = c->client_addr;
	in.local_submission = c->local_submission;
	in.mail_from = m->mail_from;
	in.rcpts = (const char *const *)m->rcpts->pdata;
	in.nrcpts = m->rcpts->len;
	rdb = runtime_read_begin(c->rt, &e);
	if (rdb == NULL) {
		log_msg(CRM_LOG_WARNING, ctx_qid(m), "spool lookups unavailable: %s", e->message);
		g_clear_error(&e);
	}
	lookups_init(&lk, &lc, rdb, ctx_qid(m), g_get_real_time() / G_USEC_PER_SEC);
	decision_make(cfg, &in, msg, &lk, &d);
	runtime_read_end(c->rt, rdb, FALSE);
	log_msg(CRM_LOG_INFO, ctx_qid(m), "direction=%s (%s) rule=%s save=%s%s%s%s%s",
	    direction_name(d.direction), d.reason, d.rule ? d.rule->name : "none",
	    d.save ? d.save : "no", d.corr.method ? " correlated by " : "",
	    d.corr.method ? d.corr.method : "", d.why_not ? "; not saved: " : "",
	    d.why_not ? d.why_not : "");
	if (d.why_no_track != NULL)
		log_msg(CRM_LOG_INFO, ctx_qid(m), "not tracked: %s", d.why_no_track);
	if (d.track != 0 && d.save != NULL && msg != NULL && m->error == NULL &&
	    c->rt->ring != NULL && cfg->tracking.base_url != NULL)
		track_id = track(ctx, c, m, &d, data, len, msg);
	if (d.save != NULL && m->error == NULL) {
		if (data == NULL || msg == NULL)
			log_msg(CRM_LOG_WARNING, ctx_qid(m), "not saved: the message was not captured whole");
		else if (!queue_save(c, m, &d, msg, data, len, track_id, &job_id, &e))
			ctx_fail(m, "queueing save job", e);
		g_clear_error(&e);
	}
	if (job_id > 0 && cfg->capture.subject_token && d.direction == DIR_OUTBOUND)
		subject = token_subject(cfg, &d, msg, job_id);
	else if (d.new_subject != NULL)
		subject = g_mime_utils_header_encode_text(NULL, d.new_subject, NULL);
	apply_edits(ctx, m, &d, subject);
	g_free(subject);
	if (d.bounce != NULL && m->error == NULL && !queue_bounce(c, m, &d, &e))
		ctx_fail(m, "queueing bounce event", e);
	g_clear_error(&e);
	if (m->error != NULL)
		r = internal_error(ctx, c, m);
	g_free(track_id);
	decision_clear(&d);
	message_free(msg);
	return r;
}

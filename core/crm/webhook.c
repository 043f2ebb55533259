/*
 * crm/webhook.c - the `webhook` connector: each activity and each event
 * POSTed as one signed JSON document to the profile's url, in the schema
 * doc/webhook.md defines (version 1). The document's id is derived from
 * the job's idempotency key, so a retried job is the same document to the
 * receiver; every secret of the secret file signs (rotation). Answers are
 * judged by http_outcome, with 409 (the receiver has it already) as done.
 */
#include "buildconf.h"
#include <string.h>
#include <json-glib/json-glib.h>

#include "connector.h"
#include "http.h"
#include "jobdata.h"
#include "../readfile.h"

#define SECRET_FILE_MAX (64 * 1024)
#define SECRET_MIN 16

typedef struct webhook {
	const crm_profile *profile;
	crm_db *db;              /* borrowed: tracking ids of messages */
	http_client *http;
	GPtrArray *secrets;      /* GBytes * */
	gsize max_body;
} webhook;

/* The secrets of the file, one per line; every one at least SECRET_MIN bytes. */
static GPtrArray *
load_secrets(const char *path, GError **err)
{
	char *text = readfile_text(path, SECRET_FILE_MAX, READFILE_SECRET, NULL, NULL, err);
	GPtrArray *out;
	char **lines;
	int n = 0;

	if (text == NULL)
		return NULL;
	out = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		gsize len = strlen(*l);
		n++;
		if (len > 0 && (*l)[len - 1] == '\r')
			(*l)[--len] = '\0';
		if (len == 0)
			continue;
		if (len < SECRET_MIN) {
			g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s:%d: a secret must be at least %d bytes", path, n, SECRET_MIN);
			g_clear_pointer(&out, g_ptr_array_unref);
			break;
		}
		g_ptr_array_add(out, g_bytes_new(*l, len));
	}
	if (out != NULL && out->len == 0) {
		g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: no secret in the file", path);
		g_clear_pointer(&out, g_ptr_array_unref);
	}
	g_strfreev(lines);
	g_free(text);
	return out;
}

/* Open: read the secrets (refusing a file open to others) and make the client. */
static void *
webhook_open(const conn_env *env, GError **err)
{
	const crm_profile *profile = env->profile;
	webhook *w = g_new0(webhook, 1);

	w->db = env->db;
	w->profile = profile;
	w->max_body = (gsize)profile->max_body_size;
	if (profile->url == NULL || profile->secret_file == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		    "crm \"%s\": a webhook needs url and secret_file", profile->name);
		g_free(w);
		return NULL;
	}
	if ((w->secrets = load_secrets(profile->secret_file, err)) == NULL ||
	    (w->http = http_client_for(env, err)) == NULL) {
		if (w->secrets != NULL)
			g_ptr_array_unref(w->secrets);
		g_free(w);
		return NULL;
	}
	return w;
}

/* Close. */
static void
webhook_close(void *state)
{
	webhook *w = state;

	if (w == NULL)
		return;
	http_client_free(w->http);
	g_ptr_array_unref(w->secrets);
	g_free(w);
}

/* "crm_" and 32 hex digits of SHA-256(profile NUL key). */
static char *
document_id(const char *profile, const char *key)
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	char *id;

	g_checksum_update(ck, (const guchar *)profile, (gssize)strlen(profile) + 1);
	g_checksum_update(ck, (const guchar *)key, (gssize)strlen(key));
	id = g_strdup_printf("crm_%.32s", g_checksum_get_string(ck));
	g_checksum_free(ck);
	return id;
}

/* RFC 3339 UTC of unix seconds, or NULL for 0. */
static char *
rfc3339(gint64 t)
{
	GDateTime *dt = t > 0 ? g_date_time_new_from_unix_utc(t) : NULL;
	char *s = dt != NULL ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;

	if (dt != NULL)
		g_date_time_unref(dt);
	return s;
}

/* Add "name": string-or-null. */
static void
add_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

/* Add "name": [{"address", "name": null}...]. */
static void
add_addresses(JsonBuilder *b, const char *name, const GPtrArray *list)
{
	json_builder_set_member_name(b, name);
	json_builder_begin_array(b);
	for (guint i = 0; list != NULL && i < list->len; i++) {
		json_builder_begin_object(b);
		add_str(b, "address", g_ptr_array_index(list, i));
		add_str(b, "name", NULL);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

/* The display name of "Name <addr>", or NULL. */
static char *
display_name(const char *from)
{
	const char *lt = from != NULL ? strrchr(from, '<') : NULL;
	char *name;

	if (lt == NULL || lt == from)
		return NULL;
	name = g_strstrip(g_strndup(from, (gsize)(lt - from)));
	if (name[0] == '"' && strlen(name) >= 2 && name[strlen(name) - 1] == '"') {
		char *inner = g_strndup(name + 1, strlen(name) - 2);
		g_free(name);
		name = inner;
	}
	if (*name == '\0')
		g_clear_pointer(&name, g_free);
	return name;
}

/* The document head: version, type, id, profile. */
static void
begin_document(JsonBuilder *b, const char *type, const char *id, const char *profile)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, 1);
	add_str(b, "type", type);
	add_str(b, "id", id);
	add_str(b, "profile", profile);
}

/* The activity document. */
static char *
activity_json(const char *id, const char *profile, const activity *a, const char *track_id)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g = json_generator_new();
	char *date = rfc3339(a->date), *name = display_name(a->from), *out;

	begin_document(b, "activity", id, profile);
	json_builder_set_member_name(b, "activity");
	json_builder_begin_object(b);
	add_str(b, "direction", a->direction);
	add_str(b, "message_id", a->message_id);
	add_str(b, "in_reply_to", a->in_reply_to);
	add_str(b, "subject", a->subject);
	add_str(b, "date", date);
	json_builder_set_member_name(b, "from");
	json_builder_begin_object(b);
	add_str(b, "address", a->from_addr);
	add_str(b, "name", name);
	json_builder_end_object(b);
	add_addresses(b, "to", a->to);
	add_addresses(b, "cc", a->cc);
	add_addresses(b, "bcc", a->bcc);
	add_str(b, "text", a->text_body);
	add_str(b, "html", a->html_body);
	json_builder_set_member_name(b, "attachments");
	json_builder_begin_array(b);
	for (guint i = 0; a->attachments != NULL && i < a->attachments->len; i++) {
		const activity_attachment *at = g_ptr_array_index(a->attachments, i);
		gsize n = 0;
		const guchar *data = at->content != NULL ? g_bytes_get_data(at->content, &n) : NULL;
		char *b64 = g_base64_encode(data, n);
		json_builder_begin_object(b);
		add_str(b, "filename", at->filename);
		add_str(b, "content_type", at->content_type);
		json_builder_set_member_name(b, "size");
		json_builder_add_int_value(b, at->size);
		add_str(b, "content_base64", b64);
		json_builder_end_object(b);
		g_free(b64);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "attachments_dropped");
	json_builder_begin_array(b);
	for (guint i = 0; a->dropped != NULL && i < a->dropped->len; i++)
		json_builder_add_string_value(b, g_ptr_array_index(a->dropped, i));
	json_builder_end_array(b);
	add_str(b, "regarding", a->regarding);
	add_str(b, "category", a->category);
	json_builder_set_member_name(b, "correlation");
	if (a->corr_method != NULL) {
		json_builder_begin_object(b);
		add_str(b, "method", a->corr_method);
		add_str(b, "message_id", a->corr_message_id);
		json_builder_end_object(b);
	} else {
		json_builder_add_null_value(b);
	}
	add_str(b, "track_id", track_id);
	json_builder_end_object(b);
	json_builder_end_object(b);
	JsonNode *root = json_builder_get_root(b);
	json_generator_set_root(g, root);     /* copies it */
	json_node_unref(root);
	out = json_generator_to_data(g, NULL);
	g_object_unref(g);
	g_object_unref(b);
	g_free(date);
	g_free(name);
	return out;
}

/* The event document. */
static char *
event_json(const char *id, const char *profile, const job_event *ev)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g = json_generator_new();
	char *at = rfc3339(ev->at), *out;

	begin_document(b, "event", id, profile);
	json_builder_set_member_name(b, "event");
	json_builder_begin_object(b);
	add_str(b, "kind", ev->kind);
	add_str(b, "message_id", ev->message_id);
	add_str(b, "track_id", ev->track_id);
	add_str(b, "at", at);
	add_str(b, "class", ev->cls);
	add_str(b, "reason", ev->reason);
	json_builder_set_member_name(b, "link");
	if (ev->link >= 0)
		json_builder_add_int_value(b, ev->link);
	else
		json_builder_add_null_value(b);
	add_str(b, "target", ev->target);
	add_str(b, "recipient", ev->recipient);
	add_str(b, "status", ev->status);
	add_str(b, "diagnostic", ev->diagnostic);
	json_builder_end_object(b);
	json_builder_end_object(b);
	JsonNode *root = json_builder_get_root(b);
	json_generator_set_root(g, root);     /* copies it */
	json_node_unref(root);
	out = json_generator_to_data(g, NULL);
	g_object_unref(g);
	g_object_unref(b);
	g_free(at);
	return out;
}

/* "v1,<base64>" per secret, over id.timestamp.body. */
static char *
signature(const webhook *w, const char *id, gint64 ts, const char *body)
{
	GString *out = g_string_new(NULL);
	char *ts_text = g_strdup_printf("%" G_GINT64_FORMAT, ts);

	for (guint i = 0; i < w->secrets->len; i++) {
		gsize klen, dlen = 32;
		const guchar *key = g_bytes_get_data(g_ptr_array_index(w->secrets, i), &klen);
		GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, key, klen);
		guint8 digest[32];
		char *b64;

		g_hmac_update(h, (const guchar *)id, -1);
		g_hmac_update(h, (const guchar *)".", 1);
		g_hmac_update(h, (const guchar *)ts_text, -1);
		g_hmac_update(h, (const guchar *)".", 1);
		g_hmac_update(h, (const guchar *)body, -1);
		g_hmac_get_digest(h, digest, &dlen);
		g_hmac_unref(h);
		b64 = g_base64_encode(digest, dlen);
		g_string_append_printf(out, "%sv1,%s", i > 0 ? " " : "", b64);
		g_free(b64);
	}
	g_free(ts_text);
	return g_string_free(out, FALSE);
}

/* POST one document and judge the answer. */
static void
post(webhook *w, const char *id, const char *body, gint64 now, conn_result *res)
{
	char *sig = signature(w, id, now, body);
	char *h_id = g_strdup_printf("webhook-id: %s", id);
	char *h_ts = g_strdup_printf("webhook-timestamp: %" G_GINT64_FORMAT, now);
	char *h_sig = g_strdup_printf("webhook-signature: %s", sig);
	char *h_idem = g_strdup_printf("Idempotency-Key: \"%s\"", id);
	const char *headers[] = { "Content-Type: application/json", h_id, h_ts, h_sig, h_idem, NULL };
	http_request rq = { "POST", w->profile->url, headers, body, strlen(body) };
	http_response rs;

	(void)http_perform(w->http, &rq, &rs);
	if (rs.status == 409) {
		res->status = CONN_OK;      /* the receiver has this document */
		g_clear_pointer(&res->error, g_free);
	} else {
		http_outcome(&rs, "webhook", now, res);
	}
	http_response_clear(&rs);
	g_free(sig);
	g_free(h_id);
	g_free(h_ts);
	g_free(h_sig);
	g_free(h_idem);
}

/* One activity. */
static void
webhook_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	webhook *w = state;
	char *track_id = NULL;
	activity *a = jobdata_activity(w->db, job, w->max_body, TRUE, &track_id, res);
	char *id, *body;

	if (a == NULL)
		return;
	id = document_id(w->profile->name, job->idem_key);
	body = activity_json(id, w->profile->name, a, track_id);
	post(w, id, body, now, res);
	g_free(body);
	g_free(id);
	g_free(track_id);
	activity_free(a);
}

/* Each event of the job, in order; stops at the first that is not done. */
static void
webhook_event(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	webhook *w = state;
	GPtrArray *events = jobdata_events(w->db, job, now, res);

	if (events == NULL)
		return;
	res->status = CONN_OK;
	for (guint i = 0; i < events->len && res->status == CONN_OK; i++) {
		const job_event *ev = g_ptr_array_index(events, i);
		char *id = document_id(w->profile->name, ev->idem_key);
		char *body = event_json(id, w->profile->name, ev);
		post(w, id, body, now, res);
		g_free(body);
		g_free(id);
	}
	g_ptr_array_unref(events);
}

const connector_ops connector_webhook_ops = {
	.type = "webhook",
	.open = webhook_open,
	.save_activity = webhook_save,
	.send_event = webhook_event,
	.close = webhook_close,
	.default_concurrency = 4,
	.default_rate = 0,
};

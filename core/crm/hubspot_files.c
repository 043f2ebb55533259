/*
 * crm/hubspot_files.c - attachments of a HubSpot email: each one kept by
 * the milter's attachment policy is uploaded to the file manager, POST
 * /files/v3/files as multipart/form-data with `file`, `options`
 * {"access":"PRIVATE"} and `folderPath` HS_FOLDER (HubSpot's files guide,
 * https://developers.hubspot.com/docs/api-reference/files-files-v3/guide;
 * the answer is 201 with the file's `id`), and the email lists the ids in
 * hs_attachment_ids, separated by ';' (notes 1.1).
 * Each uploaded id is kept (records.h, key "<idempotency key>/file/<n>"),
 * so a job retried after a failure uploads nothing twice. An upload HubSpot
 * refuses for good (a type or size it does not take) leaves that attachment
 * out, with a warning; a passing failure retries the job.
 */
#include <string.h>

#include "hubspot.h"
#include "records.h"
#include "../log.h"

#define HS_FOLDER "/crm-milter"
#define NAME_MAX_BYTES 255

/* A file name fit for a quoted multipart parameter. */
static char *
safe_name(const char *name)
{
	char *s = g_strdup(name != NULL && *name != '\0' ? name : "attachment");

	for (char *p = s; *p != '\0'; p++)
		if ((guchar)*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
			*p = '_';
	if (strlen(s) > NAME_MAX_BYTES) {
		const char *end = s + NAME_MAX_BYTES;
		g_utf8_validate(s, NAME_MAX_BYTES, &end);   /* cut on a character */
		s[end - s] = '\0';
	}
	return s;
}

/* Append one text field to a multipart body. */
static void
add_field(GByteArray *b, const char *boundary, const char *name, const char *value)
{
	char *part = g_strdup_printf("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n",
	    boundary, name, value);

	g_byte_array_append(b, (const guint8 *)part, (guint)strlen(part));
	g_free(part);
}

/* Upload one attachment: its id (new), or NULL with res set. */
static char *
upload(hubspot *h, const activity_attachment *at, gint64 now, conn_result *res)
{
	char *uuid = g_uuid_string_random();
	char *boundary = g_strdup_printf("crm-milter-%s", uuid);
	char *name = safe_name(at->filename);
	char *head = g_strdup_printf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
	    "Content-Type: %s\r\n\r\n", boundary, name,
	    at->content_type != NULL ? at->content_type : "application/octet-stream");
	char *ctype = g_strdup_printf("multipart/form-data; boundary=%s", boundary);
	char *tail = g_strdup_printf("--%s--\r\n", boundary);
	GByteArray *b = g_byte_array_new();
	gsize n = 0;
	const guint8 *data = g_bytes_get_data(at->content, &n);
	JsonNode *ans;
	char *id = NULL;

	g_byte_array_append(b, (const guint8 *)head, (guint)strlen(head));
	if (n > 0)
		g_byte_array_append(b, data, (guint)n);
	g_byte_array_append(b, (const guint8 *)"\r\n", 2);
	add_field(b, boundary, "options", "{\"access\":\"PRIVATE\"}");
	add_field(b, boundary, "folderPath", HS_FOLDER);
	g_byte_array_append(b, (const guint8 *)tail, (guint)strlen(tail));
	ans = hs_call_body(h, "POST", "/files/v3/files", ctype, b->data, b->len, "hubspot file upload",
	    now, NULL, res);
	if (ans != NULL) {
		id = hs_json_string(json_node_get_object(ans), "id");
		if (id == NULL) {
			res->status = CONN_RETRY;
			res->error = g_strdup("hubspot file upload: the answer has no id");
		}
		json_node_unref(ans);
	}
	g_byte_array_unref(b);
	g_free(uuid);
	g_free(boundary);
	g_free(name);
	g_free(head);
	g_free(ctype);
	g_free(tail);
	return id;
}

/* Upload what the job has not uploaded yet (see hubspot.h). */
char *
hs_upload_attachments(hubspot *h, const spool_job *job, const activity *act, gint64 now,
    conn_result *res)
{
	GString *ids = g_string_new(NULL);

	for (guint i = 0; act->attachments != NULL && i < act->attachments->len; i++) {
		const activity_attachment *at = g_ptr_array_index(act->attachments, i);
		char *key = g_strdup_printf("%s/file/%u", job->idem_key, i);
		conn_result r = { CONN_OK, -1, NULL, FALSE };
		GError *e = NULL;
		char *id = h->db != NULL ? crm_record_get(h->db, h->profile->name, key, NULL, &e) : NULL;

		if (e == NULL && id == NULL && at->content != NULL &&
		    (id = upload(h, at, now, &r)) != NULL && h->db != NULL &&
		    !crm_record_put(h->db, h->profile->name, key, NULL, "file", id, now, &e))
			log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": file %s uploaded, not recorded: %s",
			    h->profile->name, id, e->message);
		g_free(key);
		if (e != NULL && id == NULL) {
			r.status = CONN_RETRY;
			r.error = g_strdup_printf("hubspot: %s", e->message);
		}
		g_clear_error(&e);
		if (id == NULL && r.status == CONN_RETRY) {
			g_free(res->error);
			*res = r;
			g_string_free(ids, TRUE);
			return NULL;
		}
		if (id == NULL && r.error != NULL)
			log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": attachment %s left out: %s", h->profile->name,
			    at->filename != NULL ? at->filename : "(no name)", r.error);
		if (id != NULL)
			g_string_append_printf(ids, "%s%s", ids->len > 0 ? ";" : "", id);
		conn_result_clear(&r);
		g_free(id);
	}
	if (ids->len == 0) {
		g_string_free(ids, TRUE);
		return NULL;
	}
	return g_string_free(ids, FALSE);
}

/*
 * json_out.c - JSON views of jobs and activities for crm-milterctl.
 * See json_out.h.
 */
#include <stdio.h>

#include "json_out.h"
#include "jsonb.h"

/* Print and free. */
void
json_out_print(JsonNode *node)
{
	json_out_fprint(stdout, node);
}

/* The same on another stream. */
void
json_out_fprint(FILE *fp, JsonNode *node)
{
	JsonGenerator *g = json_generator_new();
	char *text;

	json_generator_set_pretty(g, TRUE);
	json_generator_set_root(g, node);
	text = json_generator_to_data(g, NULL);
	fprintf(fp, "%s\n", text);
	g_free(text);
	g_object_unref(g);
	json_node_unref(node);
}

/* One job. */
void
json_out_job(JsonBuilder *b, const spool_job *j)
{
	json_builder_begin_object(b);
	jsonb_int(b, "id", j->id);
	jsonb_str(b, "kind", job_kind_name(j->kind));
	jsonb_str(b, "state", job_state_name(j->state));
	jsonb_str(b, "profile", j->profile);
	jsonb_str(b, "queue_id", j->queue_id);
	jsonb_str(b, "direction", j->direction);
	jsonb_str(b, "reason", j->reason);
	jsonb_str(b, "rule", j->rule);
	jsonb_str(b, "mail_from", j->mail_from);
	jsonb_list(b, "rcpts", j->rcpts);
	jsonb_str(b, "message_id", j->message_id);
	jsonb_str(b, "idem_key", j->idem_key);
	jsonb_int(b, "attempts", j->attempts);
	jsonb_int(b, "created_at", j->created_at);
	jsonb_int(b, "not_before", j->not_before);
	jsonb_int(b, "lease_until", j->lease_until);
	jsonb_int(b, "updated_at", j->updated_at);
	jsonb_int(b, "size", j->payload_len);
	jsonb_str(b, "last_error", j->last_error);
	json_builder_end_object(b);
}

/* One activity with its attachments. */
void
json_out_activity(JsonBuilder *b, const ledger_row *row)
{
	const activity *a = row->act;
	guint i;

	json_builder_begin_object(b);
	jsonb_int(b, "id", row->id);
	jsonb_int(b, "job_id", row->job_id);
	jsonb_str(b, "profile", row->profile);
	jsonb_int(b, "created_at", row->created_at);
	jsonb_str(b, "direction", a->direction);
	jsonb_str(b, "from", a->from_addr);
	jsonb_str(b, "from_display", a->from);
	jsonb_list(b, "to", a->to);
	jsonb_list(b, "cc", a->cc);
	jsonb_list(b, "bcc", a->bcc);
	jsonb_str(b, "subject", a->subject);
	jsonb_int(b, "date", a->date);
	jsonb_str(b, "message_id", a->message_id);
	jsonb_str(b, "in_reply_to", a->in_reply_to);
	if (a->text_body != NULL)
		jsonb_str(b, "text_body", a->text_body);
	if (a->html_body != NULL)
		jsonb_str(b, "html_body", a->html_body);
	jsonb_str(b, "regarding", a->regarding);
	jsonb_str(b, "category", a->category);
	json_builder_set_member_name(b, "correlation");
	json_builder_begin_object(b);
	jsonb_str(b, "method", a->corr_method);
	jsonb_str(b, "message_id", a->corr_message_id);
	json_builder_end_object(b);
	jsonb_list(b, "dropped_attachments", a->dropped);
	jsonb_list(b, "events", a->events);
	json_builder_set_member_name(b, "attachments");
	json_builder_begin_array(b);
	for (i = 0; a->attachments != NULL && i < a->attachments->len; i++) {
		const activity_attachment *at = g_ptr_array_index(a->attachments, i);
		json_builder_begin_object(b);
		jsonb_str(b, "filename", at->filename);
		jsonb_str(b, "content_type", at->content_type);
		jsonb_int(b, "size", at->size);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* A unix time as local "YYYY-MM-DD HH:MM:SS", or "-" (new string). */
char *
json_out_time(gint64 t)
{
	GDateTime *dt;
	char *s;

	if (t <= 0)
		return g_strdup("-");
	dt = g_date_time_new_from_unix_local(t);
	s = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
	g_date_time_unref(dt);
	return s;
}

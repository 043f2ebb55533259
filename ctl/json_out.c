/*
 * json_out.c - JSON views of jobs and activities for crm-milterctl.
 * See json_out.h.
 */
#include <stdio.h>

#include "json_out.h"

/* Print and free. */
void
json_out_print(JsonNode *node)
{
	JsonGenerator *g = json_generator_new();
	char *text;

	json_generator_set_pretty(g, TRUE);
	json_generator_set_root(g, node);
	text = json_generator_to_data(g, NULL);
	printf("%s\n", text);
	g_free(text);
	g_object_unref(g);
	json_node_unref(node);
}

/* "name": "value" or null. */
static void
member_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

/* "name": int. */
static void
member_int(JsonBuilder *b, const char *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

/* "name": ["a", "b"]. */
static void
member_list(JsonBuilder *b, const char *name, GPtrArray *list)
{
	guint i;

	json_builder_set_member_name(b, name);
	json_builder_begin_array(b);
	for (i = 0; list != NULL && i < list->len; i++)
		json_builder_add_string_value(b, g_ptr_array_index(list, i));
	json_builder_end_array(b);
}

/* One job. */
void
json_out_job(JsonBuilder *b, const spool_job *j)
{
	json_builder_begin_object(b);
	member_int(b, "id", j->id);
	member_str(b, "kind", job_kind_name(j->kind));
	member_str(b, "state", job_state_name(j->state));
	member_str(b, "profile", j->profile);
	member_str(b, "queue_id", j->queue_id);
	member_str(b, "direction", j->direction);
	member_str(b, "reason", j->reason);
	member_str(b, "rule", j->rule);
	member_str(b, "mail_from", j->mail_from);
	member_list(b, "rcpts", j->rcpts);
	member_str(b, "message_id", j->message_id);
	member_str(b, "idem_key", j->idem_key);
	member_int(b, "attempts", j->attempts);
	member_int(b, "created_at", j->created_at);
	member_int(b, "not_before", j->not_before);
	member_int(b, "lease_until", j->lease_until);
	member_int(b, "updated_at", j->updated_at);
	member_int(b, "size", j->payload_len);
	member_str(b, "last_error", j->last_error);
	json_builder_end_object(b);
}

/* One activity with its attachments. */
void
json_out_activity(JsonBuilder *b, const ledger_row *row)
{
	const activity *a = row->act;
	guint i;

	json_builder_begin_object(b);
	member_int(b, "id", row->id);
	member_int(b, "job_id", row->job_id);
	member_str(b, "profile", row->profile);
	member_int(b, "created_at", row->created_at);
	member_str(b, "direction", a->direction);
	member_str(b, "from", a->from_addr);
	member_str(b, "from_display", a->from);
	member_list(b, "to", a->to);
	member_list(b, "cc", a->cc);
	member_list(b, "bcc", a->bcc);
	member_str(b, "subject", a->subject);
	member_int(b, "date", a->date);
	member_str(b, "message_id", a->message_id);
	member_str(b, "in_reply_to", a->in_reply_to);
	if (a->text_body != NULL)
		member_str(b, "text_body", a->text_body);
	if (a->html_body != NULL)
		member_str(b, "html_body", a->html_body);
	member_str(b, "regarding", a->regarding);
	member_str(b, "category", a->category);
	json_builder_set_member_name(b, "correlation");
	json_builder_begin_object(b);
	member_str(b, "method", a->corr_method);
	member_str(b, "message_id", a->corr_message_id);
	json_builder_end_object(b);
	member_list(b, "dropped_attachments", a->dropped);
	member_list(b, "events", a->events);
	json_builder_set_member_name(b, "attachments");
	json_builder_begin_array(b);
	for (i = 0; a->attachments != NULL && i < a->attachments->len; i++) {
		const activity_attachment *at = g_ptr_array_index(a->attachments, i);
		json_builder_begin_object(b);
		member_str(b, "filename", at->filename);
		member_str(b, "content_type", at->content_type);
		member_int(b, "size", at->size);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

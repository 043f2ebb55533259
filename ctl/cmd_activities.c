/*
 * cmd_activities.c - `crm-milterctl activities [--json] [--limit N]
 * [--bodies]`: what the ledger recorded, newest first.
 */
#include <stdio.h>

#include "ctl.h"
#include "db.h"
#include "json_out.h"
#include "ledger.h"
#include "prog.h"

/* Comma-joined list, or "-". */
static char *
joined(GPtrArray *list)
{
	if (list == NULL || list->len == 0)
		return g_strdup("-");
	g_ptr_array_add(list, NULL);
	char *s = g_strjoinv(",", (char **)list->pdata);
	g_ptr_array_remove_index(list, list->len - 1);
	return s;
}

/* The table view. */
static void
print_table(GPtrArray *rows)
{
	guint i;

	printf("%-5s %-8s %-28s %-32s %s\n", "ID", "DIR", "FROM", "TO", "SUBJECT");
	for (i = 0; i < rows->len; i++) {
		ledger_row *r = g_ptr_array_index(rows, i);
		char *to = joined(r->act->to);
		printf("%-5" G_GINT64_FORMAT " %-8s %-28s %-32s %s\n", r->id,
		    r->act->direction ? r->act->direction : "-",
		    r->act->from_addr ? r->act->from_addr : "-", to,
		    r->act->subject ? r->act->subject : "");
		if (r->act->regarding != NULL || r->act->corr_method != NULL)
			printf("      regarding: %s  correlated: %s %s\n",
			    r->act->regarding ? r->act->regarding : "-",
			    r->act->corr_method ? r->act->corr_method : "-",
			    r->act->corr_message_id ? r->act->corr_message_id : "");
		for (guint k = 0; k < r->act->events->len; k++)
			printf("      event: %s\n", (char *)g_ptr_array_index(r->act->events, k));
		for (guint k = 0; k < r->act->dropped->len; k++)
			printf("      dropped: %s\n", (char *)g_ptr_array_index(r->act->dropped, k));
		if (r->act->attachments != NULL)
			for (guint k = 0; k < r->act->attachments->len; k++) {
				activity_attachment *a = g_ptr_array_index(r->act->attachments, k);
				printf("      attachment: %s (%s, %" G_GINT64_FORMAT " bytes)\n",
				    a->filename ? a->filename : "-", a->content_type, a->size);
			}
		g_free(to);
	}
	printf("%u activities\n", rows->len);
}

int
cmd_activities(const char *config_path, int argc, char **argv)
{
	gboolean json = FALSE, bodies = FALSE;
	int limit = 100;
	GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "print JSON", NULL },
		{ "bodies", 0, 0, G_OPTION_ARG_NONE, &bodies, "include text and HTML bodies", NULL },
		{ "limit", 0, 0, G_OPTION_ARG_INT, &limit, "at most N (default 100)", "N" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *oc = g_option_context_new("- show the ledger's activities");
	GError *e = NULL;
	crm_config *cfg = NULL;
	crm_db *db = NULL;
	GPtrArray *rows;
	int rc = 1;

	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &e) || argc != 1 || limit < 1) {
		fprintf(stderr, "usage: crm-milterctl [-c FILE] activities [--json] [--bodies] [--limit N]\n");
		g_clear_error(&e);
		rc = 2;
		goto out;
	}
	if ((cfg = prog_load_config(config_path)) == NULL || !prog_drop_privileges(cfg))
		goto out;
	if ((db = prog_open_spool(cfg)) == NULL)
		goto out;
	if ((rows = ledger_list(db, limit, bodies, &e)) == NULL) {
		fprintf(stderr, "crm-milterctl: %s\n", e->message);
		g_error_free(e);
		goto out;
	}
	if (json) {
		JsonBuilder *b = json_builder_new();
		json_builder_begin_array(b);
		for (guint i = 0; i < rows->len; i++)
			json_out_activity(b, g_ptr_array_index(rows, i));
		json_builder_end_array(b);
		json_out_print(json_builder_get_root(b));
		g_object_unref(b);
	} else {
		print_table(rows);
	}
	g_ptr_array_unref(rows);
	rc = 0;
out:
	db_close(db);
	config_unref(cfg);
	g_option_context_free(oc);
	return rc;
}

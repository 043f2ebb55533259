/*
 * cmd_report.c - `crm-milterctl report [--json] [--all] [--limit N]
 * [--days N]`: engagement of the sent messages in the ledger, newest
 * first (core/rollup.c). OPENS and CLICKS count people only; what privacy
 * proxies and security scanners fetched is shown apart (NOT PEOPLE), and
 * counted in as well only with --all. The JSON always has every class.
 */
#include <stdio.h>
#include <time.h>

#include "ctl.h"
#include "db.h"
#include "json_out.h"
#include "prog.h"
#include "rollup.h"

/* {"n", "first", "last"} (times as unix seconds, null when none). */
static void
json_counts(JsonBuilder *b, const char *name, const rollup_counts *c)
{
	json_builder_set_member_name(b, name);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "n");
	json_builder_add_int_value(b, c->n);
	json_builder_set_member_name(b, "first");
	if (c->n > 0)
		json_builder_add_int_value(b, c->first);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "last");
	if (c->n > 0)
		json_builder_add_int_value(b, c->last);
	else
		json_builder_add_null_value(b);
	json_builder_end_object(b);
}

/* One row as JSON. */
static void
json_row(JsonBuilder *b, const rollup_row *r)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "activity_id");
	json_builder_add_int_value(b, r->activity_id);
	json_builder_set_member_name(b, "message_id");
	json_builder_add_string_value(b, r->message_id);
	json_builder_set_member_name(b, "to");
	json_builder_add_string_value(b, r->to);
	json_builder_set_member_name(b, "subject");
	json_builder_add_string_value(b, r->subject);
	json_builder_set_member_name(b, "date");
	json_builder_add_int_value(b, r->date);
	json_builder_set_member_name(b, "opens");
	json_builder_begin_object(b);
	json_counts(b, "human", &r->r.opens);
	json_counts(b, "privacy_proxy", &r->r.proxy_opens);
	json_counts(b, "scanner", &r->r.scanner_opens);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "clicks");
	json_builder_begin_object(b);
	json_counts(b, "human", &r->r.clicks);
	json_counts(b, "privacy_proxy", &r->r.proxy_clicks);
	json_counts(b, "scanner", &r->r.scanner_clicks);
	json_builder_end_object(b);
	json_counts(b, "replies", &r->r.replies);
	json_counts(b, "bounces", &r->r.bounces);
	json_builder_end_object(b);
}

/* "YYYY-MM-DD HH:MM" in UTC, or "-". */
static char *
when(gint64 t)
{
	GDateTime *dt = t > 0 ? g_date_time_new_from_unix_utc(t) : NULL;
	char *s = dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M") : g_strdup("-");

	if (dt != NULL)
		g_date_time_unref(dt);
	return s;
}

/* The table, with a line of totals. */
static void
print_table(GPtrArray *rows, gboolean all)
{
	guint sent = rows->len, opened = 0, clicked = 0, replied = 0, bounced = 0, machine = 0;

	printf("%-5s %-16s %-28s %5s %6s %7s %7s  %-24s %s\n", "ID", "DATE (UTC)", "TO",
	    "OPENS", "CLICKS", "REPLIED", "BOUNCED", "NOT PEOPLE", "SUBJECT");
	for (guint i = 0; i < rows->len; i++) {
		const rollup_row *r = g_ptr_array_index(rows, i);
		const rollup *u = &r->r;
		guint proxy = u->proxy_opens.n + u->proxy_clicks.n;
		guint scan = u->scanner_opens.n + u->scanner_clicks.n;
		guint opens = u->opens.n + (all ? u->proxy_opens.n + u->scanner_opens.n : 0);
		guint clicks = u->clicks.n + (all ? u->proxy_clicks.n + u->scanner_clicks.n : 0);
		char *d = when(r->date);
		char *apart = proxy + scan > 0 ?
		    g_strdup_printf("%u (proxy %u, scanner %u)", proxy + scan, proxy, scan) : g_strdup("-");

		printf("%-5" G_GINT64_FORMAT " %-16s %-28s %5u %6u %7u %7u  %-24s %s\n", r->activity_id,
		    d, r->to ? r->to : "-", opens, clicks, u->replies.n, u->bounces.n, apart,
		    r->subject ? r->subject : "");
		opened += opens > 0;
		clicked += clicks > 0;
		replied += u->replies.n > 0;
		bounced += u->bounces.n > 0;
		machine += proxy + scan;
		g_free(d);
		g_free(apart);
	}
	printf("%u sent: opened %u, clicked %u, replied %u, bounced %u%s; "
	    "%u machine events (privacy proxies, scanners) %s\n", sent, opened, clicked, replied,
	    bounced, all ? " (every event counted)" : " (by people)", machine,
	    all ? "counted in" : "not counted: --all counts them");
}

int
cmd_report(const char *config_path, int argc, char **argv)
{
	gboolean json = FALSE, all = FALSE;
	int limit = 100, days = 0;
	GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "print JSON (every class, with times)", NULL },
		{ "all", 0, 0, G_OPTION_ARG_NONE, &all, "count machine events in OPENS and CLICKS too", NULL },
		{ "limit", 0, 0, G_OPTION_ARG_INT, &limit, "at most N messages (default 100)", "N" },
		{ "days", 0, 0, G_OPTION_ARG_INT, &days, "only messages of the last N days", "N" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *oc = g_option_context_new("- engagement of sent messages (people by default)");
	GError *e = NULL;
	crm_config *cfg = NULL;
	crm_db *db = NULL;
	GPtrArray *rows;
	gint64 since = 0;
	int rc = 1;

	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &e) || argc != 1 || limit < 1 ||
	    days < 0 || days > 36500) {
		fprintf(stderr, "usage: crm-milterctl [-c FILE] report [--json] [--all] [--limit N] "
		    "[--days N]\n");
		g_clear_error(&e);
		rc = 2;
		goto out;
	}
	if (days > 0)
		since = g_get_real_time() / G_USEC_PER_SEC - (gint64)days * 86400;
	if ((cfg = prog_load_config(config_path)) == NULL || !prog_drop_privileges(cfg))
		goto out;
	if ((db = prog_open_spool(cfg)) == NULL)
		goto out;
	if ((rows = rollup_sent(db, limit, since, &e)) == NULL) {
		fprintf(stderr, "crm-milterctl: %s\n", e->message);
		g_error_free(e);
		goto out;
	}
	if (json) {
		JsonBuilder *b = json_builder_new();
		json_builder_begin_array(b);
		for (guint i = 0; i < rows->len; i++)
			json_row(b, g_ptr_array_index(rows, i));
		json_builder_end_array(b);
		json_out_print(json_builder_get_root(b));
		g_object_unref(b);
	} else {
		print_table(rows, all);
	}
	g_ptr_array_unref(rows);
	rc = 0;
out:
	db_close(db);
	config_unref(cfg);
	g_option_context_free(oc);
	return rc;
}

/*
 * cmd_queue.c - `crm-milterctl queue list|profiles|show ID|retry ID|purge ID`:
 * inspect and steer the spool's jobs. `--json` prints JSON instead of a
 * table; `list --state S` filters (pending, leased, done, dead);
 * `profiles` is the backlog per CRM profile with its pause (a Retry-After)
 * and last error.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "db.h"
#include "json_out.h"
#include "prog.h"
#include "spool.h"
#include "spool_profiles.h"

/* Parse a job id argument. */
static gboolean
parse_id(const char *s, gint64 *id)
{
	guint64 v;

	if (!g_ascii_string_to_unsigned(s, 10, 1, G_MAXINT64, &v, NULL)) {
		fprintf(stderr, "crm-milterctl: bad job id \"%s\"\n", s);
		return FALSE;
	}
	*id = (gint64)v;
	return TRUE;
}

/* `queue profiles`. */
static int
queue_profiles(crm_db *db, gboolean json)
{
	GError *e = NULL;
	GPtrArray *rows = spool_profile_summary(db, &e);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (rows == NULL) {
		fprintf(stderr, "crm-milterctl: %s\n", e->message);
		g_error_free(e);
		return 1;
	}
	if (json) {
		JsonBuilder *b = json_builder_new();
		json_builder_begin_array(b);
		for (guint i = 0; i < rows->len; i++) {
			spool_profile_row *r = g_ptr_array_index(rows, i);
			json_builder_begin_object(b);
			json_builder_set_member_name(b, "profile");
			json_builder_add_string_value(b, r->profile);
#define NUM(name, v) json_builder_set_member_name(b, name); json_builder_add_int_value(b, v)
			NUM("pending", r->pending);
			NUM("leased", r->leased);
			NUM("done", r->done);
			NUM("dead", r->dead);
			NUM("paused_for", r->paused_until > now ? r->paused_until - now : 0);
			NUM("paused_until", r->paused_until);
			NUM("last_error_at", r->last_error_at);
#undef NUM
			json_builder_set_member_name(b, "last_error");
			if (r->last_error != NULL)
				json_builder_add_string_value(b, r->last_error);
			else
				json_builder_add_null_value(b);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_out_print(json_builder_get_root(b));
		g_object_unref(b);
	} else {
		printf("%-14s %8s %7s %9s %6s %-10s %s\n", "CRM", "PENDING", "LEASED", "DONE",
		    "DEAD", "PAUSED", "LAST-ERROR");
		for (guint i = 0; i < rows->len; i++) {
			spool_profile_row *r = g_ptr_array_index(rows, i);
			char *paused = r->paused_until > now ?
			    g_strdup_printf("%" G_GINT64_FORMAT " s", r->paused_until - now) : g_strdup("-");
			char *when = r->last_error != NULL ? json_out_time(r->last_error_at) : NULL;
			printf("%-14s %8" G_GINT64_FORMAT " %7" G_GINT64_FORMAT " %9" G_GINT64_FORMAT
			    " %6" G_GINT64_FORMAT " %-10s %s%s%s\n", r->profile, r->pending, r->leased,
			    r->done, r->dead, paused, when ? when : "-", when ? " " : "",
			    r->last_error ? r->last_error : "");
			g_free(paused);
			g_free(when);
		}
	}
	g_ptr_array_unref(rows);
	return 0;
}

/* `queue list`. */
static int
queue_list(crm_db *db, int state, gboolean json)
{
	GError *e = NULL;
	GPtrArray *jobs = spool_list(db, state, 1000, &e);
	guint i;

	if (jobs == NULL) {
		fprintf(stderr, "crm-milterctl: %s\n", e->message);
		g_error_free(e);
		return 1;
	}
	if (json) {
		JsonBuilder *b = json_builder_new();
		json_builder_begin_array(b);
		for (i = 0; i < jobs->len; i++)
			json_out_job(b, g_ptr_array_index(jobs, i));
		json_builder_end_array(b);
		json_out_print(json_builder_get_root(b));
		g_object_unref(b);
	} else {
		printf("%-6s %-8s %-7s %-10s %-12s %-3s %-19s %s\n",
		    "ID", "STATE", "KIND", "CRM", "QUEUE-ID", "TRY", "NEXT", "LAST-ERROR");
		for (i = 0; i < jobs->len; i++) {
			spool_job *j = g_ptr_array_index(jobs, i);
			char *next = json_out_time(j->state == JOB_LEASED ? j->lease_until : j->not_before);
			printf("%-6" G_GINT64_FORMAT " %-8s %-7s %-10s %-12s %-3d %-19s %s\n",
			    j->id, job_state_name(j->state), job_kind_name(j->kind),
			    j->profile ? j->profile : "-", j->queue_id ? j->queue_id : "-",
			    j->attempts, j->state == JOB_DONE ? "-" : next,
			    j->last_error ? j->last_error : "");
			g_free(next);
		}
	}
	g_ptr_array_unref(jobs);
	return 0;
}

/* `queue show ID`. */
static int
queue_show(crm_db *db, gint64 id, gboolean json)
{
	GError *e = NULL;
	spool_job *j = spool_get(db, id, FALSE, &e);
	JsonBuilder *b;
	JsonNode *root;

	if (j == NULL) {
		fprintf(stderr, "crm-milterctl: job %" G_GINT64_FORMAT ": %s\n", id,
		    e ? e->message : "no such job");
		g_clear_error(&e);
		return 1;
	}
	b = json_builder_new();
	json_out_job(b, j);
	root = json_builder_get_root(b);
	if (json) {
		json_out_print(root);
	} else {
		JsonObject *o = json_node_get_object(root);
		GList *names = json_object_get_members(o), *l;
		for (l = names; l != NULL; l = l->next) {
			char *v = json_to_string(json_object_get_member(o, l->data), FALSE);
			printf("%-12s %s\n", (const char *)l->data, v);
			g_free(v);
		}
		g_list_free(names);
		json_node_unref(root);
	}
	g_object_unref(b);
	spool_job_free(j);
	return 0;
}

int
cmd_queue(const char *config_path, int argc, char **argv)
{
	gboolean json = FALSE;
	char *state_name = NULL;
	GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "print JSON", NULL },
		{ "state", 0, 0, G_OPTION_ARG_STRING, &state_name, "list only jobs in STATE", "STATE" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *oc = g_option_context_new("list|show ID|retry ID|purge ID");
	GError *e = NULL;
	crm_config *cfg = NULL;
	crm_db *db = NULL;
	job_state st = JOB_PENDING;
	gint64 id = 0;
	int rc = 1;
	const char *verb;

	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &e) || argc < 2 ||
	    (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "profiles") == 0 ? argc != 2 : argc != 3) ||
	    (state_name != NULL && !job_state_parse(state_name, &st))) {
		fprintf(stderr, "usage: crm-milterctl [-c FILE] queue list [--state STATE]|profiles|show ID|retry ID|purge ID [--json]\n");
		g_clear_error(&e);
		rc = 2;
		goto out;
	}
	verb = argv[1];
	if (argc == 3 && !parse_id(argv[2], &id)) {
		rc = 2;
		goto out;
	}
	if ((cfg = prog_load_config(config_path)) == NULL || !prog_drop_privileges(cfg))
		goto out;
	if ((db = prog_open_spool(cfg)) == NULL)
		goto out;
	if (strcmp(verb, "list") == 0) {
		rc = queue_list(db, state_name ? (int)st : -1, json);
	} else if (strcmp(verb, "profiles") == 0) {
		rc = queue_profiles(db, json);
	} else if (strcmp(verb, "show") == 0) {
		rc = queue_show(db, id, json);
	} else if (strcmp(verb, "retry") == 0 || strcmp(verb, "purge") == 0) {
		gboolean retry = strcmp(verb, "retry") == 0;
		gboolean ok = retry ? spool_retry(db, id, g_get_real_time() / G_USEC_PER_SEC, &e)
		    : spool_purge(db, id, &e);
		if (!ok) {
			fprintf(stderr, "crm-milterctl: job %" G_GINT64_FORMAT ": %s\n", id,
			    e ? e->message : "no such job");
			g_clear_error(&e);
		} else {
			printf("job %" G_GINT64_FORMAT " %s\n", id, retry ? "will be retried now" : "purged");
			rc = 0;
		}
	} else {
		fprintf(stderr, "crm-milterctl: unknown queue command \"%s\"\n", verb);
		rc = 2;
	}
out:
	db_close(db);
	config_unref(cfg);
	g_option_context_free(oc);
	g_free(state_name);
	return rc;
}

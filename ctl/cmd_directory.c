/*
 * cmd_directory.c - `crm-milterctl directory ...`: manage the CRM
 * directory (core/directory.h) by hand until the connectors sync it.
 *
 *   directory import FILE.csv [--json]   (FILE "-" reads stdin)
 *       prints "FILE: R rows: A added, U updated, B bad" and every bad
 *       row on stderr as "FILE:LINE: message". The good rows are imported
 *       even when some are bad; the exit status is then 1 so scripts
 *       notice. A file that cannot be used as a whole (unreadable, too
 *       big, no header, broken quoting) imports nothing and exits 1.
 *   directory list [--type T] [--limit N] [--json]
 *       every record (or N), by address, best match first.
 *   directory lookup ADDRESS [--json]
 *       the records of ADDRESS, best match first; exit 1 when unknown.
 *
 * SECURITY: the CSV file is opened before privileges are dropped (so root
 * can import a file only root can read); the spool is opened after.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "ctl.h"
#include "db.h"
#include "directory.h"
#include "json_out.h"
#include "prog.h"

#define USAGE "usage: crm-milterctl [-c FILE] directory import FILE.csv | list [--type T] [--limit N] " \
	"| lookup ADDRESS [--json]\n"

/* One entry as a JSON object. */
static void
json_entry(JsonBuilder *b, const directory_entry *e)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "address");
	json_builder_add_string_value(b, e->address);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, dir_record_type_name(e->type));
	json_builder_set_member_name(b, "id");
	json_builder_add_string_value(b, e->record_id);
	json_builder_set_member_name(b, "name");
	if (e->name != NULL)
		json_builder_add_string_value(b, e->name);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "no_follow");
	json_builder_add_boolean_value(b, e->no_follow);
	json_builder_set_member_name(b, "added_at");
	json_builder_add_int_value(b, e->added_at);
	json_builder_end_object(b);
}

/* Print entries as a table or a JSON array. */
static void
print_entries(GPtrArray *entries, gboolean json)
{
	guint i;

	if (json) {
		JsonBuilder *b = json_builder_new();

		json_builder_begin_array(b);
		for (i = 0; i < entries->len; i++)
			json_entry(b, g_ptr_array_index(entries, i));
		json_builder_end_array(b);
		json_out_print(json_builder_get_root(b));
		g_object_unref(b);
		return;
	}
	printf("%-32s %-7s %-20s %-9s %-19s %s\n", "ADDRESS", "TYPE", "ID", "NO-FOLLOW", "ADDED", "NAME");
	for (i = 0; i < entries->len; i++) {
		directory_entry *e = g_ptr_array_index(entries, i);
		char *added = json_out_time(e->added_at);

		printf("%-32s %-7s %-20s %-9s %-19s %s\n", e->address, dir_record_type_name(e->type),
		    e->record_id, e->no_follow ? "yes" : "-", added, e->name != NULL ? e->name : "");
		g_free(added);
	}
}

/* The import's summary and errors as JSON. */
static void
print_import_json(const char *file, const directory_import_stats *st, const GError *e)
{
	JsonBuilder *b = json_builder_new();
	guint i;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "file");
	json_builder_add_string_value(b, file);
	json_builder_set_member_name(b, "imported");
	json_builder_add_boolean_value(b, e == NULL);
	json_builder_set_member_name(b, "rows");
	json_builder_add_int_value(b, st->rows);
	json_builder_set_member_name(b, "added");
	json_builder_add_int_value(b, st->added);
	json_builder_set_member_name(b, "updated");
	json_builder_add_int_value(b, st->updated);
	json_builder_set_member_name(b, "bad");
	json_builder_add_int_value(b, st->bad);
	json_builder_set_member_name(b, "errors");
	json_builder_begin_array(b);
	for (i = 0; st->errors != NULL && i < st->errors->len; i++) {
		directory_import_error *ie = g_ptr_array_index(st->errors, i);

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "line");
		json_builder_add_int_value(b, ie->line);
		json_builder_set_member_name(b, "message");
		json_builder_add_string_value(b, ie->message);
		json_builder_end_object(b);
	}
	if (e != NULL && e->code != DIRECTORY_ERROR_FORMAT) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "line");
		json_builder_add_null_value(b);
		json_builder_set_member_name(b, "message");
		json_builder_add_string_value(b, e->message);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	json_out_print(json_builder_get_root(b));
	g_object_unref(b);
}

/* `directory import`: fd is the CSV, already open. */
static int
dir_import(crm_db *db, int fd, const char *file, gboolean json)
{
	directory_import_stats st = { 0 };
	GError *e = NULL;
	gboolean ok = directory_import_fd(db, fd, g_get_real_time() / G_USEC_PER_SEC, &st, &e);
	int rc = ok && st.bad == 0 ? 0 : 1;
	guint i;

	if (json) {
		print_import_json(file, &st, e);
	} else {
		for (i = 0; st.errors != NULL && i < st.errors->len; i++) {
			directory_import_error *ie = g_ptr_array_index(st.errors, i);

			fprintf(stderr, "%s:%u: %s\n", file, ie->line, ie->message);
		}
		if (ok && st.bad > st.errors->len)
			fprintf(stderr, "%s: %u more bad rows not shown\n", file, st.bad - st.errors->len);
		if (e != NULL && e->code != DIRECTORY_ERROR_FORMAT)
			fprintf(stderr, "%s: %s\n", file, e->message);
		if (ok)
			printf("%s: %u rows: %u added, %u updated, %u bad\n", file, st.rows, st.added,
			    st.updated, st.bad);
		else
			fprintf(stderr, "crm-milterctl: %s: nothing imported\n", file);
	}
	g_clear_error(&e);
	directory_import_stats_clear(&st);
	return rc;
}

/* `directory list`. */
static int
dir_list(crm_db *db, const char *type, int limit, gboolean json)
{
	GError *e = NULL;
	GPtrArray *entries = directory_list(db, type, limit, &e);

	if (entries == NULL) {
		fprintf(stderr, "crm-milterctl: %s\n", e->message);
		g_error_free(e);
		return 1;
	}
	print_entries(entries, json);
	g_ptr_array_unref(entries);
	return 0;
}

/* `directory lookup ADDRESS`. */
static int
dir_lookup(crm_db *db, const char *address, gboolean json)
{
	GError *e = NULL;
	GPtrArray *entries = directory_lookup_all(db, address, &e);
	int rc;

	if (entries == NULL) {
		fprintf(stderr, "crm-milterctl: %s\n", e->message);
		g_error_free(e);
		return 1;
	}
	rc = entries->len > 0 ? 0 : 1;
	if (json || entries->len > 0)
		print_entries(entries, json);
	if (entries->len == 0)
		fprintf(stderr, "crm-milterctl: %s is not in the directory\n", address);
	g_ptr_array_unref(entries);
	return rc;
}

/* Check the verb and its argument count; FALSE for a usage error. */
static gboolean
usage_ok(int argc, char **argv, const char *type, int limit)
{
	if (argc < 2)
		return FALSE;
	if (strcmp(argv[1], "import") == 0 || strcmp(argv[1], "lookup") == 0)
		return argc == 3 && type == NULL && limit == 0;
	if (strcmp(argv[1], "list") == 0) {
		dir_record_type t;

		return argc == 2 && limit >= 0 && (type == NULL || dir_record_type_parse(type, &t));
	}
	return FALSE;
}

int
cmd_directory(const char *config_path, int argc, char **argv)
{
	gboolean json = FALSE;
	char *type = NULL;
	int limit = 0;
	GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json, "print JSON", NULL },
		{ "type", 0, 0, G_OPTION_ARG_STRING, &type, "list: only records of TYPE (contact, lead, account, user)", "TYPE" },
		{ "limit", 0, 0, G_OPTION_ARG_INT, &limit, "list: at most N records (default all)", "N" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *oc = g_option_context_new("import FILE.csv | list | lookup ADDRESS");
	GError *e = NULL;
	crm_config *cfg = NULL;
	crm_db *db = NULL;
	int fd = -1, rc = 1;

	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &e) || !usage_ok(argc, argv, type, limit)) {
		if (e != NULL)
			fprintf(stderr, "crm-milterctl: %s\n", e->message);
		fputs(USAGE, stderr);
		g_clear_error(&e);
		rc = 2;
		goto out;
	}
	if ((cfg = prog_load_config(config_path)) == NULL)
		goto out;
	if (strcmp(argv[1], "import") == 0) {
		if (strcmp(argv[2], "-") == 0) {
			fd = dup(STDIN_FILENO);
		} else if ((fd = g_open(argv[2], O_RDONLY | O_CLOEXEC | O_NOCTTY, 0)) < 0) {
			fprintf(stderr, "crm-milterctl: %s: %s\n", argv[2], g_strerror(errno));
			goto out;
		}
	}
	if (!prog_drop_privileges(cfg) || (db = prog_open_spool(cfg)) == NULL)
		goto out;
	if (strcmp(argv[1], "import") == 0)
		rc = dir_import(db, fd, argv[2], json);
	else if (strcmp(argv[1], "list") == 0)
		rc = dir_list(db, type, limit, json);
	else
		rc = dir_lookup(db, argv[2], json);
out:
	if (fd >= 0)
		close(fd);
	db_close(db);
	config_unref(cfg);
	g_option_context_free(oc);
	g_free(type);
	return rc;
}

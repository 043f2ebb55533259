/*
 * main.c - crm-milterctl: the admin CLI. Dispatches to one file per
 * sub-command (cmd_*.c, see ctl.h).
 *
 *   crm-milterctl [-c FILE] check-config
 *   crm-milterctl [-c FILE] test [--from A] [--rcpt A]... [--auth U] [--client IP] [--output F] FILE.eml
 *   crm-milterctl [-c FILE] queue list|show ID|retry ID|purge ID [--json]
 *   crm-milterctl [-c FILE] activities [--json] [--limit N]
 *   crm-milterctl [-c FILE] report [--json] [--all] [--limit N] [--days N]
 *   crm-milterctl [-c FILE] directory import FILE.csv|list [--type T] [--limit N]|lookup ADDRESS [--json]
 *   crm-milterctl docs --sample|--man
 *   crm-milterctl keygen [--kid ID]
 *
 * SECURITY: no network. Commands that open the spool become milter { user }
 * first when run as root.
 */
#include "buildconf.h"
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "ctl.h"
#include "log.h"
#include "prog.h"

typedef int (*cmd_fn)(const char *config_path, int argc, char **argv);

static const struct {
	const char *name;
	cmd_fn fn;
	const char *help;
} commands[] = {
	{ "check-config", cmd_check_config, "check the config file; exit 1 with file:line errors" },
	{ "test", cmd_test, "dry-run a message: print the decision as JSON" },
	{ "queue", cmd_queue, "list|show ID|retry ID|purge ID the spool's jobs" },
	{ "activities", cmd_activities, "show what the ledger recorded" },
	{ "report", cmd_report, "engagement of sent messages: people apart from machines" },
	{ "directory", cmd_directory, "import FILE.csv|list [--type T]|lookup ADDRESS: the CRM directory" },
	{ "docs", cmd_docs, "--sample | --man: print the generated sample config or man page" },
	{ "keygen", cmd_keygen, "[--kid ID]: print a new line for the tracking key file" },
};

/* Usage on stderr. */
static int
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: crm-milterctl [-c FILE] COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(stderr, "  %-13s %s\n", commands[i].name, commands[i].help);
	return 2;
}

int
main(int argc, char **argv)
{
	char *config_path = NULL;
	gboolean version = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "config file (default " CRM_DEFAULT_CONFIG ")", "FILE" },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *oc = g_option_context_new("COMMAND [ARGS] - crm-milter admin");
	GError *e = NULL;
	size_t i;
	int rc = -1;

	g_option_context_add_main_entries(oc, entries, NULL);
	g_option_context_set_strict_posix(oc, TRUE);
	g_option_context_set_help_enabled(oc, TRUE);
	if (!g_option_context_parse(oc, &argc, &argv, &e)) {
		fprintf(stderr, "crm-milterctl: %s\n", e->message);
		g_error_free(e);
		g_option_context_free(oc);
		return 2;
	}
	g_option_context_free(oc);
	if (version) {
		printf("crm-milterctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc < 2)
		return usage();
	prog_log_init("crm-milterctl", TRUE, CRM_LOG_WARNING);
	if (config_path == NULL)
		config_path = g_strdup(CRM_DEFAULT_CONFIG);
	for (i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			rc = commands[i].fn(config_path, argc - 1, argv + 1);
	g_free(config_path);
	return rc < 0 ? usage() : rc;
}

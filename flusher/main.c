/*
 * main.c - crm-flusher: drains the spool into the CRMs.
 *
 * `crm-flusher -c FILE` loops: every poll_interval seconds it leases what
 * is due and hands each job to its profile's connector (core/flush.c).
 * `--once` drains what is due now and exits (0, or 1 if the spool failed).
 * SIGHUP reloads the config (a bad one is refused, the old one kept);
 * SIGTERM/SIGINT finish the job in hand and exit.
 *
 * SECURITY: becomes milter { user } before opening the spool. Holds CRM
 * credentials (later connectors); nothing else of ours does.
 */
#include "buildconf.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "config.h"
#include "db.h"
#include "flush.h"
#include "log.h"
#include "prog.h"

/* Wall clock for the spool. */
static gint64
real_now(void *data)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

/* Jitter for backoff. */
static guint32
real_rnd(void *data)
{
	return g_random_int();
}

/* Can every crm profile work? Logs why not. */
static gboolean
profiles_ok(const crm_config *cfg)
{
	GError *e = NULL;
	crm_db *db = prog_open_spool(cfg);
	gboolean ok = db != NULL && flush_check_profiles(db, cfg, &e);

	if (db != NULL && !ok) {
		log_msg(CRM_LOG_ERR, NULL, "%s", e->message);
		g_clear_error(&e);
	}
	db_close(db);
	return ok;
}

/* Replace *cfg with a fresh load when it is good. */
static void
reload(const char *path, crm_config **cfg)
{
	crm_config *n = prog_load_config(path);

	if (n == NULL || !profiles_ok(n)) {
		log_msg(CRM_LOG_ERR, NULL, "reload of %s refused; keeping the current config", path);
		config_unref(n);
		return;
	}
	config_unref(*cfg);
	*cfg = n;
	log_set_level((crm_log_level)n->log_level);
	log_msg(CRM_LOG_NOTICE, NULL, "config %s reloaded", path);
}

/* One drain; FALSE when the spool failed. */
static gboolean
drain(const crm_config *cfg, gboolean verbose)
{
	flush_env env = { real_now, real_rnd, NULL, (volatile int *)&prog_signal_stop };
	flush_stats st;
	GError *e = NULL;
	crm_db *db = prog_open_spool(cfg);
	gboolean ok;

	if (db == NULL)
		return FALSE;
	(void)flush_sync_directories(db, cfg, real_now(NULL));
	ok = flush_run(db, cfg, &env, &st, &e);
	if (!ok) {
		log_msg(CRM_LOG_ERR, NULL, "spool: %s", e ? e->message : "?");
		g_clear_error(&e);
	}
	if (verbose || st.leased > 0)
		log_msg(CRM_LOG_INFO, NULL, "flushed: %d leased, %d done, %d to retry, %d dead",
		    st.leased, st.done, st.retried, st.dead);
	db_close(db);
	return ok;
}

int
main(int argc, char **argv)
{
	char *config_path = NULL;
	gboolean foreground = FALSE, once = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "config file (default " CRM_DEFAULT_CONFIG ")", "FILE" },
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground, "stay in the foreground and log to stderr", NULL },
		{ "once", 0, 0, G_OPTION_ARG_NONE, &once, "drain what is due now and exit", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *oc = g_option_context_new("- drain the crm-milter spool into CRMs");
	GError *e = NULL;
	crm_config *cfg;
	int rc = 0;

	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &e)) {
		fprintf(stderr, "crm-flusher: %s\n", e->message);
		g_error_free(e);
		g_option_context_free(oc);
		return 2;
	}
	g_option_context_free(oc);
	if (config_path == NULL)
		config_path = g_strdup(CRM_DEFAULT_CONFIG);
	prog_log_init("crm-flusher", foreground || once, CRM_LOG_INFO);
	cfg = prog_load_config(config_path);
	if (cfg == NULL || !prog_drop_privileges(cfg)) {
		config_unref(cfg);
		g_free(config_path);
		return 1;
	}
	log_set_level((crm_log_level)cfg->log_level);
	if (!profiles_ok(cfg)) {
		log_msg(CRM_LOG_ERR, NULL, "crm-flusher refuses to start");
		config_unref(cfg);
		g_free(config_path);
		return 1;
	}

	prog_catch_signals();

	if (once) {
		rc = drain(cfg, TRUE) ? 0 : 1;
	} else {
		if (!foreground && daemon(0, 0) != 0) {
			log_msg(CRM_LOG_ERR, NULL, "cannot detach: %s", g_strerror(errno));
			prog_signal_stop = 1;
			rc = 1;
		}
		log_msg(CRM_LOG_NOTICE, NULL, "crm-flusher %s started", PACKAGE_VERSION);
		while (!prog_signal_stop) {
			if (prog_signal_reload) {
				prog_signal_reload = 0;
				reload(config_path, &cfg);
			}
			(void)drain(cfg, FALSE);
			/* sleep in steps so signals are seen promptly */
			for (int i = 0; i < cfg->poll_interval * 10 && !prog_signal_stop && !prog_signal_reload; i++)
				g_usleep(100000);
		}
		log_msg(CRM_LOG_NOTICE, NULL, "crm-flusher stopped");
	}
	config_unref(cfg);
	g_free(config_path);
	return rc;
}

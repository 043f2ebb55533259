/*
 * prog.c - shared program glue: log sink, config load, privilege drop.
 * See prog.h.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "prog.h"
#include "log.h"
#include "privs.h"

/* Map our severities onto syslog's. */
static void
syslog_sink(crm_log_level level, const char *line)
{
	syslog((int)level, "%s", line);
}

/* Pick the sink. */
void
prog_log_init(const char *ident, gboolean to_stderr, int level)
{
	g_set_prgname(ident);
	if (to_stderr) {
		log_set_sink(log_stderr_sink);
	} else {
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_set_sink(syslog_sink);
	}
	log_set_level((crm_log_level)level);
}

/* Load, printing file:line errors. */
crm_config *
prog_load_config(const char *path)
{
	GPtrArray *errors = NULL;
	crm_config *cfg = config_load(path, &errors);
	guint i;

	if (cfg != NULL)
		return cfg;
	for (i = 0; errors != NULL && i < errors->len; i++) {
		fprintf(stderr, "%s\n", (const char *)g_ptr_array_index(errors, i));
		log_msg(CRM_LOG_ERR, NULL, "%s", (const char *)g_ptr_array_index(errors, i));
	}
	if (errors != NULL)
		g_ptr_array_unref(errors);
	return NULL;
}

/* Become milter { user } when root. */
gboolean
prog_drop_privileges(const crm_config *cfg)
{
	char *spool_dir = g_path_get_dirname(cfg->spool_path);
	const char *dirs[] = { spool_dir, cfg->tmp_dir, NULL };
	GError *e = NULL;
	gboolean ok = privs_drop(cfg->user, dirs, &e);

	if (!ok) {
		fprintf(stderr, "%s: %s\n", g_get_prgname(), e->message);
		log_msg(CRM_LOG_ERR, NULL, "%s", e->message);
		g_error_free(e);
	}
	g_free(spool_dir);
	return ok;
}

/* Open the spool, saying why not. */
crm_db *
prog_open_spool(const crm_config *cfg)
{
	GError *e = NULL;
	crm_db *db = db_open(cfg->spool_path, cfg->busy_timeout, &e);

	if (db == NULL) {
		fprintf(stderr, "%s: spool %s: %s\n", g_get_prgname(), cfg->spool_path, e->message);
		log_msg(CRM_LOG_ERR, NULL, "spool %s: %s", cfg->spool_path, e->message);
		g_error_free(e);
	}
	return db;
}

volatile sig_atomic_t prog_signal_stop;
volatile sig_atomic_t prog_signal_reload;

/* SIGTERM/SIGINT. */
static void
on_stop(int sig)
{
	(void)sig;
	prog_signal_stop = 1;
}

/* SIGHUP. */
static void
on_hup(int sig)
{
	(void)sig;
	prog_signal_reload = 1;
}

/* Stop on SIGTERM/SIGINT, reload on SIGHUP. */
void
prog_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
}

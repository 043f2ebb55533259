/*
 * prog.h - the glue every program of ours shares above core/: choosing the
 * log sink (syslog or stderr), loading the config with its errors printed
 * as "file:line: message", and dropping privileges to milter { user }
 * before the spool is touched.
 *
 * This is the only place syslog is called from.
 *
 * Public: prog_log_init, prog_load_config, prog_drop_privileges,
 *         prog_open_spool, prog_catch_signals, prog_signal_stop,
 *         prog_signal_reload.
 */
#ifndef CRM_PROG_H
#define CRM_PROG_H

#include <glib.h>
#include <signal.h>
#include "config.h"
#include "db.h"

/* Log to stderr (foreground) or syslog (mail facility) under ident. */
void prog_log_init(const char *ident, gboolean to_stderr, int level);
/* Load path; on failure print every error on stderr (and log them) and
 * return NULL. */
crm_config *prog_load_config(const char *path);
/* When root, create the spool and temp directories for the configured
 * user and become it; FALSE after printing why. */
gboolean prog_drop_privileges(const crm_config *cfg);
/* Open the configured spool; NULL after printing and logging why. */
crm_db *prog_open_spool(const crm_config *cfg);

/* Set by the handlers prog_catch_signals installs (SIGTERM/SIGINT: stop,
 * SIGHUP: reload); the daemon's loop reads and clears them. The only
 * process-wide state here: signals are process-wide. */
extern volatile sig_atomic_t prog_signal_stop;
extern volatile sig_atomic_t prog_signal_reload;
/* Install those handlers (crm-flusher, crm-tracker; crm-milter leaves
 * SIGTERM to libmilter). */
void prog_catch_signals(void);

#endif

/*
 * log.h - the one logging API of crm-milter's programs.
 *
 * core/ never calls syslog: each program picks a sink at start-up
 * (log_set_sink) and every line goes through log_msg with a severity and,
 * for per-message lines, the MTA queue id (printed as "QID: text").
 * The sink is set once before any thread starts and is not changed after.
 *
 * Public: log_set_sink, log_set_level, log_msg, log_stderr_sink,
 *         log_level_name.
 */
#ifndef CRM_LOG_H
#define CRM_LOG_H

#include <stdarg.h>

typedef enum {
	CRM_LOG_ERR = 3,
	CRM_LOG_WARNING = 4,
	CRM_LOG_NOTICE = 5,
	CRM_LOG_INFO = 6,
	CRM_LOG_DEBUG = 7
} crm_log_level;

/* A sink receives the severity and the finished line (no newline). */
typedef void (*log_sink_fn)(crm_log_level level, const char *line);

/* Choose where lines go; NULL restores the stderr sink. */
void log_set_sink(log_sink_fn sink);
/* Lines less severe than level are dropped (default CRM_LOG_INFO). */
void log_set_level(crm_log_level level);
/* Log one line; qid may be NULL for lines that are not about a message. */
void log_msg(crm_log_level level, const char *qid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The default sink: "crm-milter[pid]: level: line" on stderr. */
void log_stderr_sink(crm_log_level level, const char *line);
const char *log_level_name(crm_log_level level);

#endif

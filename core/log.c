/*
 * log.c - severities, the queue-id prefix, and the sink chosen by the program.
 * See log.h. Lines are bounded: a message longer than LOG_LINE_MAX is cut
 * and marked with "...".
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static log_sink_fn log_sink = log_stderr_sink;
static crm_log_level log_level = CRM_LOG_INFO;

/* Choose the sink (set once, before threads start). */
void
log_set_sink(log_sink_fn sink)
{
	log_sink = sink ? sink : log_stderr_sink;
}

/* Drop lines less severe than level. */
void
log_set_level(crm_log_level level)
{
	log_level = level;
}

/* Human name of a severity. */
const char *
log_level_name(crm_log_level level)
{
	switch (level) {
	case CRM_LOG_ERR: return "error";
	case CRM_LOG_WARNING: return "warning";
	case CRM_LOG_NOTICE: return "notice";
	case CRM_LOG_INFO: return "info";
	case CRM_LOG_DEBUG: return "debug";
	}
	return "unknown";
}

/* Default sink: one line on stderr. */
void
log_stderr_sink(crm_log_level level, const char *line)
{
	fprintf(stderr, "%s[%ld]: %s: %s\n", g_get_prgname() ? g_get_prgname() : "crm",
	    (long)getpid(), log_level_name(level), line);
}

/* Format one line, prefix the queue id, hand it to the sink. */
void
log_msg(crm_log_level level, const char *qid, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int off = 0, n;

	if (level > log_level)
		return;
	if (qid != NULL && *qid != '\0') {
		off = g_snprintf(line, sizeof(line), "%s: ", qid);
		if (off < 0 || (size_t)off >= sizeof(line))
			off = 0;
	}
	va_start(ap, fmt);
	n = g_vsnprintf(line + off, sizeof(line) - off, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)(n + off) >= sizeof(line))
		memcpy(line + sizeof(line) - 4, "...", 4);
	log_sink(level, line);
}

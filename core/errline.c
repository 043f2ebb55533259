/*
 * errline.c - "FILE:LINE: message" errors. See errline.h.
 */
#include "errline.h"

/* Format the message and prefix the place. */
void
errline_set(GError **err, GQuark domain, int code, const char *name,
    guint line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(err, domain, code, "%s:%u: %s", name, line, msg);
	g_free(msg);
}

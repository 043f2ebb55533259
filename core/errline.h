/*
 * errline.h - the "FILE:LINE: message" GError that every parser of ours
 * (key file, engagement data) reports.
 *
 * Public: errline_set.
 */
#ifndef CRM_ERRLINE_H
#define CRM_ERRLINE_H

#include <glib.h>

/* Set err (if not NULL and not set) to "name:line: message". */
void errline_set(GError **err, GQuark domain, int code, const char *name,
    guint line, const char *fmt, ...) G_GNUC_PRINTF(6, 7);

#endif

/*
 * jsonb.h - small helpers over json-glib's JsonBuilder for the JSON this
 * project writes (the dry run, job metadata, crm-milterctl output): one
 * object member per call, NULL strings written as null.
 *
 * Public: jsonb_str, jsonb_int, jsonb_list.
 */
#ifndef CRM_JSONB_H
#define CRM_JSONB_H

#include <json-glib/json-glib.h>

/* "name": "value", or null when value is NULL. */
void jsonb_str(JsonBuilder *b, const char *name, const char *value);
/* "name": value. */
void jsonb_int(JsonBuilder *b, const char *name, gint64 value);
/* "name": ["a", ...]; list (char *) may be NULL: []. */
void jsonb_list(JsonBuilder *b, const char *name, const GPtrArray *list);

#endif

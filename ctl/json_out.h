/*
 * json_out.h - printing JSON from crm-milterctl (json-glib does the
 * encoding; nothing here writes JSON by hand).
 *
 * Public: json_out_print, json_out_fprint, json_out_job, json_out_activity, json_out_time.
 */
#ifndef CRM_JSON_OUT_H
#define CRM_JSON_OUT_H

#include <stdio.h>
#include <json-glib/json-glib.h>
#include "spool.h"
#include "ledger.h"

/* Print node on stdout followed by a newline; takes the node. */
void json_out_print(JsonNode *node);
/* The same on fp. */
void json_out_fprint(FILE *fp, JsonNode *node);
/* Add one job / one ledger row as an object to b. */
void json_out_job(JsonBuilder *b, const spool_job *job);
void json_out_activity(JsonBuilder *b, const ledger_row *row);
/* A unix time for tables: local "YYYY-MM-DD HH:MM:SS", or "-" (g_free). */
char *json_out_time(gint64 t);

#endif

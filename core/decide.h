/*
 * decide.h - the per-message decision shared by crm-milter and the
 * `crm-milterctl test` dry run, so both decide exactly alike:
 * classify -> first matching rule -> actions.
 *
 * Ownership: decision_make fills a caller-owned crm_decision; free its
 * contents with decision_clear. d->rule is borrowed from the config.
 *
 * Public: decision_make, decision_clear, decision_to_json.
 */
#ifndef CRM_DECIDE_H
#define CRM_DECIDE_H

#include <json-glib/json-glib.h>
#include "config.h"
#include "classify.h"

typedef struct crm_decision {
	crm_direction direction;
	char *reason;             /* owned */
	const crm_rule *rule;     /* borrowed; NULL when no rule matched */
	const char *save;         /* profile to save to, or NULL */
	guint track;              /* TRACK_* */
} crm_decision;

void decision_make(const crm_config *cfg, const classify_input *in,
    crm_decision *d);
void decision_clear(crm_decision *d);
/* {"direction":…, "reason":…, "rule":…, "actions":{"save":…, "track":[…]}}
 * as a new JsonNode (json_node_unref). */
JsonNode *decision_to_json(const crm_decision *d);

#endif

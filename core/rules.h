/*
 * rules.h - first-match evaluation of the config's rule sections.
 *
 * Rules are tried in file order; the first whose conditions all hold
 * decides. A message that matches none is not saved. For now the only
 * condition is direction (DIR_ANY matches all); rule_input grows as
 * conditions are added.
 *
 * Ownership: the returned rule is borrowed from the config snapshot and
 * lives as long as the caller's reference to it.
 *
 * Public: rules_match.
 */
#ifndef CRM_RULES_H
#define CRM_RULES_H

#include "config.h"

typedef struct rule_input {
	crm_direction direction;
} rule_input;

/* The first matching rule, or NULL. */
const crm_rule *rules_match(const crm_config *cfg, const rule_input *in);

#endif

/*
 * rules.c - first-match rule evaluation. See rules.h. Pure.
 */
#include "rules.h"

/* Does one rule's every condition hold? */
static gboolean
rule_holds(const crm_rule *r, const rule_input *in)
{
	if (r->direction != DIR_ANY && r->direction != in->direction)
		return FALSE;
	return TRUE;
}

/* The first rule that holds, in file order. */
const crm_rule *
rules_match(const crm_config *cfg, const rule_input *in)
{
	guint i;

	if (cfg->rules == NULL)
		return NULL;
	for (i = 0; i < cfg->rules->len; i++) {
		const crm_rule *r = g_ptr_array_index(cfg->rules, i);
		if (rule_holds(r, in))
			return r;
	}
	return NULL;
}

/*
 * decide.c - classify, pick the rule, derive the actions. See decide.h.
 */
#include "decide.h"
#include "rules.h"

/* Fill d for one message. */
void
decision_make(const crm_config *cfg, const classify_input *in, crm_decision *d)
{
	rule_input ri;

	d->direction = classify(cfg, in, &d->reason);
	ri.direction = d->direction;
	d->rule = rules_match(cfg, &ri);
	d->save = d->rule != NULL ? d->rule->save : NULL;
	d->track = d->rule != NULL ? d->rule->track : 0;
}

/* Free what decision_make allocated. */
void
decision_clear(crm_decision *d)
{
	if (d == NULL)
		return;
	g_free(d->reason);
	d->reason = NULL;
	d->rule = NULL;
	d->save = NULL;
}

/* The dry-run JSON shape. */
JsonNode *
decision_to_json(const crm_decision *d)
{
	JsonBuilder *b = json_builder_new();
	JsonNode *root;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "direction");
	json_builder_add_string_value(b, direction_name(d->direction));
	json_builder_set_member_name(b, "reason");
	json_builder_add_string_value(b, d->reason);
	json_builder_set_member_name(b, "rule");
	if (d->rule != NULL)
		json_builder_add_string_value(b, d->rule->name);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "actions");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "save");
	if (d->save != NULL)
		json_builder_add_string_value(b, d->save);
	else
		json_builder_add_boolean_value(b, FALSE);
	json_builder_set_member_name(b, "track");
	json_builder_begin_array(b);
	if (d->track & TRACK_OPENS)
		json_builder_add_string_value(b, "opens");
	if (d->track & TRACK_CLICKS)
		json_builder_add_string_value(b, "clicks");
	json_builder_end_array(b);
	json_builder_end_object(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g_object_unref(b);
	return root;
}

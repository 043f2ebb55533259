/*
 * test_rules.c - first-match rule evaluation, table-driven.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rules.h"
#include "testutil.h"

typedef struct {
	const char *label;
	crm_direction dir;
	const char *want_rule;   /* NULL: no rule matches */
	const char *want_save;   /* NULL: not saved */
} rule_case;

/* Rules in this order: a "no" for internal, outbound saves to local,
 * inbound saves to other, a catch-all that saves nothing. */
static const char *config_text =
	"crm \"local\" { type = ledger }\n"
	"crm \"other\" { type = ledger }\n"
	"rule \"skip-internal\" { direction = internal save = no }\n"
	"rule \"outbound\" { direction = outbound save = \"local\" track = {opens, clicks} }\n"
	"rule \"inbound\" { direction = inbound save = \"other\" }\n"
	"rule \"rest\" { direction = any }\n";

static const rule_case cases[] = {
	{ "outbound takes the outbound rule", DIR_OUTBOUND, "outbound", "local" },
	{ "inbound takes the inbound rule", DIR_INBOUND, "inbound", "other" },
	{ "the first match decides even when it saves nothing", DIR_INTERNAL, "skip-internal", NULL },
	{ "direction any catches the rest", DIR_EXTERNAL, "rest", NULL },
};

/* Each case picks its rule. */
static void
test_first_match(void **state)
{
	crm_config *cfg = testutil_config("%s", config_text);
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		rule_input in = { .direction = cases[i].dir };
		const crm_rule *r = rules_match(cfg, &in);
		const char *got = r ? r->name : NULL;
		const char *save = r ? r->save : NULL;

		if (g_strcmp0(got, cases[i].want_rule) != 0 || g_strcmp0(save, cases[i].want_save) != 0)
			fail_msg("%s: got rule %s save %s", cases[i].label,
			    got ? got : "(none)", save ? save : "(no)");
	}
	config_unref(cfg);
}

/* Track flags are parsed onto the rule. */
static void
test_track_flags(void **state)
{
	crm_config *cfg = testutil_config("%s", config_text);
	rule_input in = { .direction = DIR_OUTBOUND };
	const crm_rule *r = rules_match(cfg, &in);

	assert_non_null(r);
	assert_int_equal(r->track, TRACK_OPENS | TRACK_CLICKS);
	config_unref(cfg);
}

/* No rules: nothing matches, nothing is saved. */
static void
test_no_rules(void **state)
{
	crm_config *cfg = testutil_config("milter { }\n");
	rule_input in = { .direction = DIR_OUTBOUND };

	assert_null(rules_match(cfg, &in));
	config_unref(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_match),
		cmocka_unit_test(test_track_flags),
		cmocka_unit_test(test_no_rules),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}

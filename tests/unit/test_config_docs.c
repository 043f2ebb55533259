/*
 * test_config_docs.c - the option table and what is generated from it:
 * the sample config loads (as shipped, and with every commented-out
 * setting and section uncommented), every option is documented in the
 * sample and the man page, the table is sound, and each of the commented
 * alternatives (Dynamics 365's five choices for incoming email) loads and
 * says what it should.
 *
 * Table-driven: alternative_cases becomes one cmocka test per row.
 * Files are written to fresh g_dir_make_tmp directories.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "core/config.h"
#include "core/config_table.h"

/* ------------------------------------------------------------ helpers */

/* Load text that must load (the test fails with the errors otherwise). */
static crm_config *
load_text(const char *label, const char *text)
{
	GError *err = NULL;
	char *dir = g_dir_make_tmp("test_config_docs-XXXXXX", &err);
	char *path;
	GPtrArray *errors = NULL;
	crm_config *cfg;
	guint i;

	assert_non_null(dir);
	path = g_build_filename(dir, "crm-milter.conf", NULL);
	assert_true(g_file_set_contents(path, text, -1, &err));
	cfg = config_load(path, &errors);
	if (cfg == NULL) {
		for (i = 0; errors != NULL && i < errors->len; i++)
			print_error("unexpected: %s\n", (char *)g_ptr_array_index(errors, i));
		fail_msg("%s: did not load", label);
	}
	g_unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
	return cfg;
}

/* The rule called name, or NULL. */
static const crm_rule *
rule_named(const crm_config *cfg, const char *name)
{
	guint i;

	for (i = 0; i < cfg->rules->len; i++) {
		const crm_rule *r = g_ptr_array_index(cfg->rules, i);

		if (strcmp(r->name, name) == 0)
			return r;
	}
	return NULL;
}

/* Is the default written in quotes in the sample? */
static gboolean
quoted_type(conf_type t)
{
	return t == CT_STRING || t == CT_PATH || t == CT_SOCKET || t == CT_TEXT ||
	    t == CT_ADDRESS || t == CT_REGEX || t == CT_REGARDING;
}

/* ------------------------------------------------------------ the sample */

/* The sample loads, and holds the issue's crm and rule sections. */
static void
test_sample_loads(void **state)
{
	GString *text = g_string_new(NULL);
	crm_config *cfg;
	const crm_rule *r;

	(void)state;
	config_write_sample(text);
	cfg = load_text("sample", text->str);
	assert_string_equal(cfg->socket, "unix:/run/crm-milter/milter.sock");
	assert_int_equal(cfg->profiles->len, 1);
	assert_string_equal(((crm_profile *)g_ptr_array_index(cfg->profiles, 0))->type, "ledger");
	assert_int_equal(cfg->rules->len, 2);      /* the alternatives are commented out */
	r = g_ptr_array_index(cfg->rules, 0);
	assert_string_equal(r->name, "outbound");
	assert_int_equal(r->direction, DIR_OUTBOUND);
	assert_string_equal(r->save, "local");
	r = g_ptr_array_index(cfg->rules, 1);
	assert_string_equal(r->name, "inbound");
	assert_int_equal(r->direction, DIR_INBOUND);
	assert_string_equal(r->save, "local");
	config_unref(cfg);
	g_string_free(text, TRUE);
}

/*
 * Uncomment every setting ("\t#name = ...") and every commented section
 * ("#rule ..." up to "#}"): the defaults as the sample writes them, the
 * rule "NAME" and crm "NAME" templates and the alternatives all load, and
 * give the same values as an empty file.
 */
static void
test_sample_uncommented_loads(void **state)
{
	GString *text = g_string_new(NULL), *open = g_string_new(NULL);
	char **lines;
	crm_config *cfg, *empty;
	const crm_rule *r;
	gsize i;

	(void)state;
	config_write_sample(text);
	lines = g_strsplit(text->str, "\n", -1);
	for (i = 0; lines[i] != NULL; i++) {
		const char *l = lines[i];

		if (l[0] == '#' && l[1] != ' ')
			l++;                     /* "#rule", "#\t# doc", "#\tname = x", "#}", "#" */
		else if (l[0] == '\t' && l[1] == '#' && l[2] != ' ')
			g_string_append_c(open, '\t'), l += 2;
		g_string_append_printf(open, "%s\n", l);
	}
	g_strfreev(lines);
	cfg = load_text("uncommented sample", open->str);
	empty = load_text("empty", "");
	assert_int_equal(cfg->profiles->len, 2);                 /* local and NAME */
	assert_int_equal(cfg->rules->len, 2 + 1 + 5);            /* NAME and 5 alternatives */
	assert_int_equal(cfg->max_message_size, empty->max_message_size);
	assert_int_equal(cfg->internal_networks->len, empty->internal_networks->len);
	assert_int_equal(cfg->capture.blocked_extensions->len,
	    empty->capture.blocked_extensions->len);
	assert_string_equal(cfg->capture.subject_token_prefix, "CRM:");
	assert_null(cfg->capture.dropbox);
	assert_null(cfg->capture.subject_tag);
	r = rule_named(cfg, "NAME");
	assert_non_null(r);
	assert_int_equal(r->direction, DIR_ANY);
	assert_null(r->subject);
	assert_null(r->regarding);
	assert_null(r->category);
	assert_int_equal(r->min_size, -1);
	assert_int_equal(r->max_size, -1);
	assert_int_equal(r->reply_to_tracked, TRI_UNSET);
	assert_int_equal(r->max_attachment_size, 10 * 1024 * 1024);
	config_unref(cfg);
	config_unref(empty);
	g_string_free(text, TRUE);
	g_string_free(open, TRUE);
}

/* Every option of the table is in the sample (with its default) and in
 * the man page; every section has its man subsection. */
static void
test_docs_cover_table(void **state)
{
	GString *sample = g_string_new(NULL), *man = g_string_new(NULL);
	gsize i;

	(void)state;
	config_write_sample(sample);
	config_write_man(man);
	for (i = 0; i < config_noptions; i++) {
		const conf_option *o = &config_options[i];
		const char *q = quoted_type(o->type) ? "\"" : "";
		char *setting = g_strdup_printf("%s = %s%s%s", o->name, q, o->def, q);
		char *item = g_strdup_printf(".TP\n\\fB%s\\fR = ", o->name);

		if (strstr(sample->str, setting) == NULL)
			fail_msg("sample lacks \"%s\"", setting);
		if (strstr(man->str, item) == NULL)
			fail_msg("man page lacks option %s", o->name);
		g_free(setting);
		g_free(item);
	}
	for (i = 0; i < config_nsections; i++) {
		char *ss = g_strdup_printf(".SS \"%s ", config_sections[i].name);

		assert_non_null(strstr(man->str, ss));
		g_free(ss);
	}
	assert_non_null(strstr(man->str, ".TH CRM\\-MILTER.CONF 5"));
	assert_non_null(strstr(man->str, ".SH RULES\n"));
	assert_non_null(strstr(man->str, ".SH FILES\n"));
	assert_non_null(strstr(man->str, ".BR crm\\-milter (8)"));
	g_string_free(sample, TRUE);
	g_string_free(man, TRUE);
}

/* The table is sound: limits name int/size options of the same section,
 * every default converts, examples name titled sections. */
static void
test_table_sound(void **state)
{
	gsize i;

	(void)state;
	for (i = 0; i < config_nlimits; i++) {
		const conf_option *lo = config_option_find(config_limits[i].section, config_limits[i].low);
		const conf_option *hi = config_option_find(config_limits[i].section, config_limits[i].high);

		assert_non_null(lo);
		assert_non_null(hi);
		assert_int_equal(lo->type, hi->type);
	}
	for (i = 0; i < config_noptions; i++) {
		const conf_option *o = &config_options[i];
		conf_value v;

		assert_ptr_equal(config_option_find(o->section, o->name), o);
		if (config_type_is_list(o->type))
			continue;      /* list defaults are checked by the empty-file cases */
		if (!config_convert(o, o->def, &v, NULL))
			fail_msg("default of %s does not convert", o->name);
		config_value_clear(o, &v);
	}
	for (i = 0; i < config_nexamples; i++)
		assert_int_equal(config_sections[config_examples[i].section].kind, CONF_TITLED);
	assert_int_equal(config_section_index("rule"), CONF_SEC_rule);
	assert_int_equal(config_section_index("capture"), CONF_SEC_capture);
	assert_int_equal(config_section_index("nope"), -1);
}

/* ------------------------------------------------------------ alternatives */

typedef struct {
	const char *label;
	const char *title;         /* of the CONF_ALTERNATIVE */
	const char *doc_has;       /* a phrase its heading must contain */
	crm_tri reply_to_tracked;
	guint sender_known;
	const char *save;          /* NULL: save = no */
} alternative_case;

static const alternative_case alternative_cases[] = {
	{ "Dynamics 365: all email messages", "inbound-all", "\"All email messages\"",
	  TRI_UNSET, 0, "local" },
	{ "Dynamics 365: responses to Dynamics 365 email", "inbound-responses",
	  "\"Email messages in response to Dynamics 365 email\"", TRI_YES, 0, "local" },
	{ "Dynamics 365: from leads, contacts and accounts", "inbound-crm-records",
	  "Leads, Contacts and", TRI_UNSET, KNOWN_LEAD | KNOWN_CONTACT | KNOWN_ACCOUNT, "local" },
	{ "Dynamics 365: from email-enabled records", "inbound-known", "are email",
	  TRI_UNSET, KNOWN_ANY, "local" },
	{ "Dynamics 365: none", "inbound-none", "\"None\"", TRI_UNSET, 0, NULL },
};

/* One alternative: commented out in the sample; uncommented, it loads as an
 * inbound rule with the wanted conditions and action. */
static void
test_alternative(void **state)
{
	const alternative_case *c = *state;
	const conf_example *e = NULL;
	GString *sample = g_string_new(NULL);
	char *text, *head;
	crm_config *cfg;
	const crm_rule *r;
	gsize i;

	for (i = 0; i < config_nexamples; i++)
		if (strcmp(config_examples[i].title, c->title) == 0)
			e = &config_examples[i];
	assert_non_null(e);
	assert_non_null(e->doc);
	assert_non_null(strstr(e->doc, c->doc_has));
	config_write_sample(sample);
	head = g_strdup_printf("\n#rule \"%s\" {\n", c->title);
	assert_non_null(strstr(sample->str, head));

	text = g_strdup_printf("crm \"local\" { }\nrule \"%s\" {\n%s\n}\n", c->title, e->body);
	cfg = load_text(c->label, text);
	assert_int_equal(cfg->rules->len, 1);
	r = g_ptr_array_index(cfg->rules, 0);
	assert_int_equal(r->direction, DIR_INBOUND);
	assert_int_equal(r->reply_to_tracked, c->reply_to_tracked);
	assert_int_equal(r->sender_known, c->sender_known);
	if (c->save == NULL)
		assert_null(r->save);
	else
		assert_string_equal(r->save, c->save);
	config_unref(cfg);
	g_free(text);
	g_free(head);
	g_string_free(sample, TRUE);
}

/* The man page shows each alternative after its heading ('-' is "\\-"). */
static void
test_man_alternatives(void **state)
{
	GString *man = g_string_new(NULL);
	gsize i;

	(void)state;
	config_write_man(man);
	for (i = 0; i < config_nexamples; i++) {
		char **parts;
		char *title, *want;

		if (config_examples[i].doc == NULL)
			continue;
		parts = g_strsplit(config_examples[i].title, "-", -1);
		title = g_strjoinv("\\-", parts);
		want = g_strdup_printf(".nf\nrule \"%s\" {\n\tdirection = inbound\n", title);
		if (strstr(man->str, want) == NULL)
			fail_msg("man page lacks \"%s\"", want);
		g_strfreev(parts);
		g_free(title);
		g_free(want);
	}
	g_string_free(man, TRUE);
}

/* ------------------------------------------------------------ main */

/* The docs tests, then one test per alternative. */
int
main(void)
{
	struct CMUnitTest tests[G_N_ELEMENTS(alternative_cases) + 5];
	gsize i, n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sample_loads);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sample_uncommented_loads);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_docs_cover_table);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_table_sound);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_man_alternatives);
	for (i = 0; i < G_N_ELEMENTS(alternative_cases); i++)
		tests[n++] = (struct CMUnitTest){ .name = alternative_cases[i].label,
			.test_func = test_alternative, .initial_state = (void *)&alternative_cases[i] };
	g_assert(n == G_N_ELEMENTS(tests));
	return cmocka_run_group_tests_name("config_docs", tests, NULL, NULL);
}

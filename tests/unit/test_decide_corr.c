/*
 * test_decide_corr.c - the decision on inbound mail that answers saved
 * mail, on the fixture's database (test_decide_fixture.c): Dynamics 365's
 * five inbound choices, each correlation method alone and in the issue's
 * order (In-Reply-To, References newest first, Thread-Index, subject
 * token, smart matching) with the regarding record inherited from the
 * thread, delivery reports about saved mail, and the dry run's JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <json-glib/json-glib.h>

#include "decide.h"
#include "lookups.h"
#include "message.h"
#include "testutil.h"
#include "test_decide.h"

/* ------------------------------------------------------------ Dynamics 365 */

/* The five inbound choices, as the sample config writes them. */
#define D365_ALL "rule \"inbound-all\" { direction = inbound save = \"local\" }\n"
#define D365_RESPONSES "rule \"inbound-responses\" { direction = inbound reply_to_tracked = yes save = \"local\" }\n"
#define D365_RECORDS "rule \"inbound-crm-records\" { direction = inbound sender_known = {lead, contact, account} save = \"local\" }\n"
#define D365_KNOWN "rule \"inbound-known\" { direction = inbound sender_known = {any} save = \"local\" }\n"
#define D365_NONE "rule \"inbound-none\" { direction = inbound save = no }\n"
/* A reply to saved mail from bob (not in the directory), a new message
 * from carol (a contact), a stranger's message. */
#define D365_REPLY MX("bob@customer.test", "alice@example.com"), .file = "mail/inbound/02-gmail-reply.eml"
#define D365_CONTACT MX("carol@customer.test", "alice@example.com"), \
	.raw = MAIL("Carol Customer <carol@customer.test>", "Alice Example <alice@example.com>", \
	"Delivery dates for January", "")
#define D365_STRANGER MX("zed@nowhere.test", "alice@example.com"), \
	.raw = MAIL("Zed <zed@nowhere.test>", "Alice Example <alice@example.com>", \
	"Partnership opportunity", "")
#define REPLY_CORR CORR("in-reply-to", MID_Q3_NEW, "opportunity:OPP-7"), .regarding = "opportunity:OPP-7"

static const decide_case dynamics_cases[] = {
	{ "all: a reply to saved mail", D365_ALL, D365_REPLY,
	  .want = { .rule = "inbound-all", .save = "local", REPLY_CORR } },
	{ "all: a contact's message", D365_ALL, D365_CONTACT, { .rule = "inbound-all", .save = "local" } },
	{ "all: a stranger's message", D365_ALL, D365_STRANGER, { .rule = "inbound-all", .save = "local" } },
	{ "responses: a reply to saved mail", D365_RESPONSES, D365_REPLY,
	  .want = { .rule = "inbound-responses", .save = "local", REPLY_CORR } },
	{ "responses: a contact's message", D365_RESPONSES, D365_CONTACT, { 0 } },
	{ "responses: a stranger's message", D365_RESPONSES, D365_STRANGER, { 0 } },
	{ "crm records: a reply from an unknown sender", D365_RECORDS, D365_REPLY, .want = { REPLY_CORR } },
	{ "crm records: a contact's message", D365_RECORDS, D365_CONTACT,
	  { .rule = "inbound-crm-records", .save = "local" } },
	{ "crm records: a stranger's message", D365_RECORDS, D365_STRANGER, { 0 } },
	{ "known: a reply from an unknown sender", D365_KNOWN, D365_REPLY, .want = { REPLY_CORR } },
	{ "known: a contact's message", D365_KNOWN, D365_CONTACT,
	  { .rule = "inbound-known", .save = "local" } },
	{ "known: a stranger's message", D365_KNOWN, D365_STRANGER, { 0 } },
	{ "none: a reply to saved mail", D365_NONE, D365_REPLY, .want = { .rule = "inbound-none", REPLY_CORR } },
	{ "none: a contact's message", D365_NONE, D365_CONTACT, { .rule = "inbound-none" } },
	{ "none: a stranger's message", D365_NONE, D365_STRANGER, { .rule = "inbound-none" } },
};

/* Text with every run of blanks made one space, trimmed (new string). */
static char *
squeeze(const char *text)
{
	char **words = g_strsplit_set(text, " \t\r\n", -1);
	GString *out = g_string_new(NULL);

	for (guint i = 0; words[i] != NULL; i++)
		if (*words[i] != '\0')
			g_string_append_printf(out, "%s%s", out->len ? " " : "", words[i]);
	g_strfreev(words);
	return g_string_free(out, FALSE);
}

/* The commented-out rule "name" of the sample config, uncommented and
 * squeezed; NULL when the sample has no such rule. */
static char *
sample_rule(const char *sample, const char *name)
{
	char *head = g_strdup_printf("\n#rule \"%s\" {", name);
	const char *start = strstr(sample, head), *end;
	GString *rule = g_string_new(NULL);
	char **lines, *block, *out;

	g_free(head);
	if (start == NULL || (end = strstr(start, "\n#}")) == NULL) {
		g_string_free(rule, TRUE);
		return NULL;
	}
	block = g_strndup(start + 1, (gsize)(end - start) + 2);
	lines = g_strsplit(block, "\n", -1);
	g_free(block);
	for (guint i = 0; lines[i] != NULL; i++)
		g_string_append_printf(rule, "%s\n", lines[i][0] == '#' ? lines[i] + 1 : lines[i]);
	g_strfreev(lines);
	out = squeeze(rule->str);
	g_string_free(rule, TRUE);
	return out;
}

/* Dynamics 365's five choices for incoming email, each on three messages;
 * the rules are the sample config's. */
void
test_dynamics_choices(void **state)
{
	static const struct { const char *name, *conf; } rules[] = {
		{ "inbound-all", D365_ALL }, { "inbound-responses", D365_RESPONSES },
		{ "inbound-crm-records", D365_RECORDS }, { "inbound-known", D365_KNOWN },
		{ "inbound-none", D365_NONE },
	};
	char *sample = NULL;

	if (!g_file_get_contents(TEST_SRCDIR "/conf/crm-milter.conf.sample", &sample, NULL, NULL))
		fail_msg("cannot read conf/crm-milter.conf.sample");
	for (gsize i = 0; i < G_N_ELEMENTS(rules); i++) {
		char *want = squeeze(rules[i].conf), *got = sample_rule(sample, rules[i].name);
		if (got == NULL || strcmp(got, want) != 0)
			fail_msg("the sample's rule %s is %s, the test's %s", rules[i].name,
			    got ? got : "missing", want);
		g_free(want);
		g_free(got);
	}
	g_free(sample);
	decide_run_table(state, dynamics_cases, G_N_ELEMENTS(dynamics_cases));
}

/* ------------------------------------------------------------ correlation */

#define IN_RULE "rule \"in\" { direction = inbound save = \"local\" }\n"
#define SAVED .rule = "in", .save = "local"
#define TOKEN_CONF "capture { subject_token = yes }\n" IN_RULE
#define SMART_CONF "capture { smart_matching = yes }\n" IN_RULE
/* Regarding records of the tracked mail, as the thread passes them on. */
#define OPP7 "opportunity:OPP-7"
#define Q3 "quote:Q-2026-3"
#define PARTNER "account:A-PARTNER"
#define PILOT "opportunity:OPP-PILOT"
/* A reply from dave (token tests: "CRM:0000004" is job RENEWAL_JOB_ID). */
#define DAVE MX("dave@partner.test", "alice@example.com")
#define DAVE_MAIL(subject, extra) MAIL("Dave Partner <dave@partner.test>", \
	"Alice Example <alice@example.com>", subject, extra)
#define BOB MX("bob@customer.test", "alice@example.com")
#define BOB_MAIL(subject, extra) MAIL("Bob Customer <bob@customer.test>", \
	"Alice Example <alice@example.com>", subject, extra)

static const decide_case correlation_cases[] = {
	{ "in-reply-to: Gmail reply to Outlook", IN_RULE,
	  BOB, .file = "mail/inbound/02-gmail-reply.eml",
	  .want = { SAVED, CORR("in-reply-to", MID_Q3_NEW, OPP7), .regarding = OPP7 } },
	{ "in-reply-to: Apple Mail reply to the Outlook reply", IN_RULE,
	  MX("carol@customer.test", "alice@example.com"), .file = "mail/inbound/04-apple-mail-reply.eml",
	  .want = { SAVED, CORR("in-reply-to", MID_Q3_REPLY, Q3), .regarding = Q3 } },
	{ "references: In-Reply-To not tracked, the newest tracked id wins", IN_RULE,
	  DAVE, .file = "mail/inbound/17-thunderbird-reply.eml",
	  .want = { SAVED, CORR("references", MID_Q3_REPLY, Q3), .regarding = Q3 } },
	{ "references only: newest first", IN_RULE,
	  BOB, .raw = BOB_MAIL("Re: Quote for Q3",
	  "References: <" MID_Q3_NEW ">\r\n <" MID_Q3_GMAIL ">\r\n <not-saved.1@customer.test>\r\n"),
	  { SAVED, CORR("references", MID_Q3_GMAIL, OPP7), .regarding = OPP7 } },
	{ "thread-index: Outlook reply without In-Reply-To/References", IN_RULE,
	  MX("carol@customer.test", "alice@example.com"), .file = "mail/inbound/06-outlook-reply-no-refs.eml",
	  .want = { SAVED, CORR("thread-index", MID_Q3_REPLY, Q3), .regarding = Q3 } },
	{ "token: the subject carries the job's token", TOKEN_CONF,
	  DAVE, .raw = DAVE_MAIL("RE: Renewal for 2027 [CRM:0000004]", ""),
	  { SAVED, CORR("token", MID_RENEWAL, PARTNER), .regarding = PARTNER } },
	{ "token: off by default", IN_RULE,
	  DAVE, .raw = DAVE_MAIL("RE: Renewal for 2027 [CRM:0000004]", ""), { SAVED } },
	{ "token: prefix and digits as configured",
	  "capture { subject_token = yes subject_token_prefix = \"TKT#\" subject_token_digits = 5 }\n" IN_RULE,
	  DAVE, .raw = DAVE_MAIL("AW: Renewal for 2027 [TKT#00004]", ""),
	  { SAVED, CORR("token", MID_RENEWAL, PARTNER), .regarding = PARTNER } },
	{ "token: another digit count is no token", TOKEN_CONF,
	  DAVE, .raw = DAVE_MAIL("RE: Renewal for 2027 [CRM:00004]", ""), { SAVED } },
	{ "token: the number of no saved message", TOKEN_CONF,
	  MX("carol@customer.test", "alice@example.com"), .file = "mail/inbound/07-token-reply.eml", .want = { SAVED } },
	{ "smart: normalised subject and shared addresses", SMART_CONF,
	  BOB, .file = "mail/inbound/08-smart-match.eml",
	  .want = { SAVED, CORR("smart", MID_Q3_REPLY, Q3), .regarding = Q3 } },
	{ "smart: off by default", IN_RULE, BOB, .file = "mail/inbound/08-smart-match.eml", .want = { SAVED } },
	{ "smart: one shared address is not enough", SMART_CONF,
	  MX("zed@nowhere.test", "alice@example.com"),
	  .raw = MAIL("Zed <zed@nowhere.test>", "alice@example.com", "Re: Quote for Q3", ""), { SAVED } },
	{ "smart: older than smart_matching_days",
	  "capture { smart_matching = yes smart_matching_days = 5 }\n" IN_RULE,
	  BOB, .file = "mail/inbound/08-smart-match.eml", .want = { SAVED } },
	{ "smart: the default window is 90 days", SMART_CONF,
	  MX("erin@old.test", "alice@example.com"),
	  .raw = MAIL("Erin Old <erin@old.test>", "alice@example.com", "Re: Pilot results", ""), { SAVED } },
	{ "smart: a wider window finds an older thread",
	  "capture { smart_matching = yes smart_matching_days = 120 }\n" IN_RULE,
	  MX("erin@old.test", "alice@example.com"),
	  .raw = MAIL("Erin Old <erin@old.test>", "alice@example.com", "Re: Pilot results", ""),
	  { SAVED, CORR("smart", MID_PILOT, PILOT), .regarding = PILOT } },
	{ "smart: smart_matching_min_addresses = 3",
	  "capture { smart_matching = yes smart_matching_min_addresses = 3 }\n" IN_RULE,
	  BOB, .file = "mail/inbound/08-smart-match.eml", .want = { SAVED } },
	{ "a forward is not a reply", SMART_CONF,
	  DAVE, .file = "mail/inbound/05-thunderbird-forward.eml", .want = { SAVED } },
	{ "outbound mail is not correlated", "rule \"out\" { direction = outbound save = \"local\" }\n",
	  OUT("bob@customer.test", "carol@customer.test"), .file = "mail/outbound/03-outlook-reply.eml",
	  .want = { .rule = "out", .save = "local" } },
	{ "the rule's regarding beats the thread's",
	  "rule \"in\" { direction = inbound save = \"local\" regarding = \"account:A-ACME\" }\n",
	  BOB, .file = "mail/inbound/02-gmail-reply.eml",
	  .want = { SAVED, CORR("in-reply-to", MID_Q3_NEW, OPP7), .regarding = "account:A-ACME" } },
};

/* Each correlation method alone. */
void
test_correlation(void **state)
{
	decide_run_table(state, correlation_cases, G_N_ELEMENTS(correlation_cases));
}

#define ALL_ON "capture { subject_token = yes smart_matching = yes }\n" IN_RULE

static const decide_case order_cases[] = {
	{ "In-Reply-To before References", ALL_ON,
	  BOB, .raw = BOB_MAIL("Re: Quote for Q3", "In-Reply-To: <" MID_Q3_GMAIL ">\r\n"
	  "References: <" MID_Q3_NEW "> <" MID_Q3_REPLY ">\r\n"),
	  { SAVED, CORR("in-reply-to", MID_Q3_GMAIL, OPP7), .regarding = OPP7 } },
	{ "In-Reply-To before Thread-Index", ALL_ON,
	  DAVE, .raw = DAVE_MAIL("RE: Renewal for 2027", "In-Reply-To: <" MID_RENEWAL ">\r\n"
	  "Thread-Index: " THREAD_INDEX_Q3 "\r\n"),
	  { SAVED, CORR("in-reply-to", MID_RENEWAL, PARTNER), .regarding = PARTNER } },
	{ "References before Thread-Index", ALL_ON,
	  DAVE, .raw = DAVE_MAIL("RE: Renewal for 2027", "References: <" MID_RENEWAL ">\r\n"
	  "Thread-Index: " THREAD_INDEX_Q3 "\r\n"),
	  { SAVED, CORR("references", MID_RENEWAL, PARTNER), .regarding = PARTNER } },
	{ "Thread-Index before the token", ALL_ON,
	  DAVE, .raw = DAVE_MAIL("RE: Renewal for 2027 [CRM:0000004]", "Thread-Index: " THREAD_INDEX_Q3 "\r\n"),
	  { SAVED, CORR("thread-index", MID_Q3_REPLY, Q3), .regarding = Q3 } },
	{ "the token before smart matching", ALL_ON,
	  BOB, .raw = BOB_MAIL("Re: Quote for Q3 [CRM:0000004]", ""),
	  { SAVED, CORR("token", MID_RENEWAL, PARTNER), .regarding = PARTNER } },
	{ "an unknown In-Reply-To falls through to Thread-Index", ALL_ON,
	  DAVE, .raw = DAVE_MAIL("RE: Quote for Q3", "In-Reply-To: <never-saved.77@partner.test>\r\n"
	  "Thread-Index: " THREAD_INDEX_Q3 "\r\n"),
	  { SAVED, CORR("thread-index", MID_Q3_REPLY, Q3), .regarding = Q3 } },
	{ "unknown thread ids fall through to smart matching", ALL_ON,
	  BOB, .raw = BOB_MAIL("Re: Quote for Q3", "In-Reply-To: <never-saved.78@customer.test>\r\n"
	  "References: <never-saved.78@customer.test>\r\n"),
	  { SAVED, CORR("smart", MID_Q3_REPLY, Q3), .regarding = Q3 } },
};

/* The methods in the order: the first that finds one decides. */
void
test_correlation_order(void **state)
{
	decide_run_table(state, order_cases, G_N_ELEMENTS(order_cases));
}

/* ------------------------------------------------------------ bounces */

static const decide_case bounce_cases[] = {
	{ "a DSN about saved mail is a bounce, not an activity", IN_RULE,
	  MX("", "alice@example.com"), .file = "dsn/postfix-bounce.eml",
	  .want = { .dir = "inbound", .rule = "in", .bounce = "archive",
	    .why_not = "delivery report for tracked message " MID_BOUNCED } },
	{ "a DSN about saved mail with no rule", "",
	  MX("", "alice@example.com"), .file = "dsn/postfix-bounce.eml",
	  .want = { .bounce = "archive", .why_not = "delivery report" } },
	{ "a DSN about an unknown message is ordinary mail", IN_RULE,
	  MX("", "dave@example.com"), .file = "dsn/gmail-bounce.eml", .want = { SAVED } },
	{ "a Sendmail DSN about an unknown message", IN_RULE,
	  MX("", "alice@example.com"), .file = "dsn/sendmail-bounce.eml", .want = { SAVED } },
	{ "a read receipt about saved mail is no bounce", IN_RULE,
	  MX("kevin@fabrikam.example", "alice@example.com"), .file = "dsn/mdn-read-receipt.eml", .want = { SAVED } },
};

/* Delivery reports: about saved mail they become a bounced event. */
void
test_bounces(void **state)
{
	decide_run_table(state, bounce_cases, G_N_ELEMENTS(bounce_cases));
}

/* ------------------------------------------------------------ JSON */

/* One member of the dry run's JSON by its dotted path, and what it must
 * serialise to ("*": present and not null). */
typedef struct json_want {
	const char *path;
	const char *json;
} json_want;

typedef struct json_case {
	const char *label;
	decide_case c;
	json_want want[24];
} json_case;

static const json_case json_cases[] = {
	{ "outbound: dropbox plus form, control header, subject tag",
	  { "", "capture { dropbox = \"crm@example.com\" subject_tag = \"[crm]\" }\n"
	    "rule \"out\" { direction = outbound save = \"archive\" track = {opens} }\n",
	    OUT("bob@customer.test", "sam@partner.test", "crm+opportunity-OPP-42@example.com"),
	    .raw = MAIL("alice@example.com", "bob@customer.test", "[crm] Licence terms",
	    "X-CRM-Category: Legal\r\n") },
	  { { "direction", "\"outbound\"" }, { "reason", "*" }, { "rule", "\"out\"" },
	    { "actions.save", "\"archive\"" }, { "actions.track", "[\"opens\"]" },
	    { "actions.regarding", "\"opportunity:OPP-42\"" }, { "actions.category", "\"Legal\"" },
	    { "actions.not_saved_because", "null" },
	    { "correlation.method", "null" }, { "correlation.message_id", "null" },
	    { "correlation.regarding", "null" },
	    { "participants", "[{\"address\":\"alice@example.com\",\"directory\":[\"user\"]},"
	      "{\"address\":\"bob@customer.test\",\"directory\":[]},"
	      "{\"address\":\"sam@partner.test\",\"directory\":[\"contact\",\"lead\"]}]" },
	    { "edits.remove_headers", "[\"X-CRM-Category\"]" },
	    { "edits.remove_recipients", "[\"crm+opportunity-OPP-42@example.com\"]" },
	    { "edits.subject", "\"Licence terms\"" }, { "dropbox", "true" }, { "bounce", "null" } } },
	{ "inbound: a reply to saved mail",
	  { "", IN_RULE, BOB, .file = "mail/inbound/02-gmail-reply.eml" },
	  { { "direction", "\"inbound\"" }, { "rule", "\"in\"" }, { "actions.save", "\"local\"" },
	    { "actions.track", "[]" }, { "actions.regarding", "\"" OPP7 "\"" },
	    { "actions.category", "null" },
	    { "correlation.method", "\"in-reply-to\"" },
	    { "correlation.message_id", "\"" MID_Q3_NEW "\"" },
	    { "correlation.regarding", "\"" OPP7 "\"" },
	    { "participants", "[{\"address\":\"bob@customer.test\",\"directory\":[]},"
	      "{\"address\":\"alice@example.com\",\"directory\":[\"user\"]}]" },
	    { "edits.remove_headers", "[]" }, { "edits.remove_recipients", "[]" },
	    { "edits.subject", "null" }, { "dropbox", "false" }, { "bounce", "null" } } },
	{ "outbound: saved mail passing the MTA again is not tracked again",
	  { "", "rule \"out\" { direction = outbound save = \"local\" track = {opens, clicks} }\n",
	    OUT("bob@customer.test", "carol@customer.test"), .file = "mail/outbound/01-outlook-new.eml" },
	  { { "actions.save", "\"local\"" }, { "actions.track", "[]" },
	    { "actions.not_tracked_because", "\"Message-ID " MID_Q3_NEW " was saved (to local) when it first passed\"" } } },
	{ "outbound: a new message under the same rule is tracked",
	  { "", "rule \"out\" { direction = outbound save = \"local\" track = {opens, clicks} }\n",
	    OUT("bob@customer.test"), .raw = NOTE },
	  { { "actions.save", "\"local\"" }, { "actions.track", "[\"opens\",\"clicks\"]" },
	    { "actions.not_tracked_because", "null" } } },
	{ "inbound: a DSN about saved mail",
	  { "", IN_RULE, MX("", "alice@example.com"), .file = "dsn/postfix-bounce.eml" },
	  { { "direction", "\"inbound\"" }, { "actions.save", "false" },
	    { "actions.not_saved_because", "*" },
	    { "participants", "[{\"address\":\"alice@example.com\",\"directory\":[\"user\"]}]" },
	    { "bounce.kind", "\"bounced\"" }, { "bounce.message_id", "\"" MID_BOUNCED "\"" },
	    { "bounce.profile", "\"archive\"" },
	    { "bounce.recipients", "[{\"recipient\":\"bob.smith@example.net\",\"action\":\"failed\","
	      "\"status\":\"5.1.1\",\"diagnostic\":\"*\",\"failed\":true}]" } } },
};

/* The member at a dotted path, or NULL. */
static JsonNode *
member_at(JsonNode *root, const char *path)
{
	char **parts = g_strsplit(path, ".", -1);
	JsonNode *n = root;

	for (guint i = 0; parts[i] != NULL && n != NULL; i++)
		n = JSON_NODE_HOLDS_OBJECT(n) ? json_object_get_member(json_node_get_object(n), parts[i]) : NULL;
	g_strfreev(parts);
	return n;
}

/* The decision's JSON for the dry run carries every documented key. */
void
test_json(void **state)
{
	static const char *const keys[] = {
		"direction", "reason", "rule", "actions", "actions.save", "actions.track",
		"actions.regarding", "actions.category", "actions.not_saved_because",
		"correlation", "correlation.method", "correlation.message_id",
		"correlation.regarding", "participants", "edits", "edits.remove_headers",
		"edits.remove_recipients", "edits.subject", "dropbox", "bounce",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(json_cases); i++) {
		const json_case *jc = &json_cases[i];
		crm_config *cfg = testutil_config("%s%s", DECIDE_BASE, jc->c.conf);
		crm_message *msg = decide_load_message(jc->c.file, jc->c.raw);
		decide_lookups lk;
		lookup_ctx lc;
		crm_decision d;
		JsonNode *root;

		lookups_init(&lk, &lc, decide_fixture_db(state), "T", DECIDE_NOW);
		lk.all_known = TRUE;    /* as the dry run: every participant's records */
		decision_make(cfg, &jc->c.in, msg, &lk, &d);
		root = decision_to_json(&d);
		for (gsize k = 0; k < G_N_ELEMENTS(keys); k++)
			if (member_at(root, keys[k]) == NULL)
				fail_msg("%s: no key %s", jc->label, keys[k]);
		for (gsize k = 0; k < G_N_ELEMENTS(jc->want) && jc->want[k].path != NULL; k++) {
			JsonNode *n = member_at(root, jc->want[k].path);
			char *got = n != NULL ? json_to_string(n, FALSE) : NULL;
			gboolean ok;

			if (strcmp(jc->want[k].json, "*") == 0)
				ok = n != NULL && !JSON_NODE_HOLDS_NULL(n);
			else
				ok = got != NULL && g_pattern_match_simple(jc->want[k].json, got);
			if (!ok)
				fail_msg("%s: %s is %s, want %s", jc->label, jc->want[k].path,
				    got ? got : "(missing)", jc->want[k].json);
			g_free(got);
		}
		json_node_unref(root);
		decision_clear(&d);
		message_free(msg);
		config_unref(cfg);
	}
}

/*
 * test_config_capture.c - the rule conditions and actions and the
 * capture { } options of the config file (issue 3): each valid value and
 * the field it gives, each bad value with its exact "file:line: message",
 * and the public parsers the milter shares with the loader
 * (config_regarding_parse, config_follow_up_parse).
 *
 * Table-driven: valid_cases, error_cases, regex_cases and parse_cases
 * each become one cmocka test per row. Every file is written to a fresh
 * g_dir_make_tmp directory. The loader's general behaviour (syntax,
 * plain options, docs) is tested in test_config.c.
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

/* ------------------------------------------------------------ scratch files */

typedef struct {
	char *dir;
	char *path;
} scratch;

/* Write text to crm-milter.conf in a new scratch dir. */
static scratch
scratch_write(const char *text)
{
	scratch s;
	GError *err = NULL;

	s.dir = g_dir_make_tmp("test_config_capture-XXXXXX", &err);
	assert_non_null(s.dir);
	s.path = g_build_filename(s.dir, "crm-milter.conf", NULL);
	assert_true(g_file_set_contents(s.path, text, -1, &err));
	return s;
}

/* Remove the scratch file and directory. */
static void
scratch_free(scratch *s)
{
	g_unlink(s->path);
	g_rmdir(s->dir);
	g_free(s->path);
	g_free(s->dir);
}

/* Load text that must load (the test fails with the errors otherwise). */
static crm_config *
load_text(const char *label, const char *text)
{
	scratch s = scratch_write(text);
	GPtrArray *errors = NULL;
	crm_config *cfg = config_load(s.path, &errors);
	guint i;

	if (cfg == NULL) {
		for (i = 0; errors != NULL && i < errors->len; i++)
			print_error("unexpected: %s\n", (char *)g_ptr_array_index(errors, i));
		fail_msg("%s: did not load", label);
	}
	assert_null(errors);
	scratch_free(&s);
	return cfg;
}

/* ------------------------------------------------------------ field values */

/* Join a GPtrArray of strings with commas. */
static char *
join_strings(const GPtrArray *a)
{
	GString *out = g_string_new(NULL);
	guint i;

	for (i = 0; i < a->len; i++)
		g_string_append_printf(out, "%s%s", i ? "," : "", (char *)g_ptr_array_index(a, i));
	return g_string_free(out, FALSE);
}

/* A capture { } field as text, by option name. */
static char *
describe_capture(const crm_capture *c, const char *field)
{
#define STR(k, f) if (strcmp(field, k) == 0) return g_strdup((f) ? (f) : "(null)")
#define NUM(k, f) if (strcmp(field, k) == 0) return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)(f))
	STR("dropbox", c->dropbox);
	STR("subject_tag", c->subject_tag);
	if (strcmp(field, "never_log") == 0)
		return join_strings(c->never_log);
	NUM("internal_as_two_activities", c->internal_as_two_activities);
	if (strcmp(field, "blocked_extensions") == 0)
		return join_strings(c->blocked_extensions);
	NUM("subject_token", c->subject_token);
	STR("subject_token_prefix", c->subject_token_prefix);
	NUM("subject_token_digits", c->subject_token_digits);
	NUM("smart_matching", c->smart_matching);
	NUM("smart_matching_days", c->smart_matching_days);
	NUM("smart_matching_min_addresses", c->smart_matching_min_addresses);
	fail_msg("unknown capture field %s", field);
	return NULL;
}

/* A rule field as text, by option name (headers as Name~pattern, follow-ups
 * as kind:seconds, regarding as type|id). */
static char *
describe_rule(const crm_rule *r, const char *field)
{
	GString *out;
	guint i;

	if (strcmp(field, "from") == 0) return join_strings(r->from);
	if (strcmp(field, "to") == 0) return join_strings(r->to);
	if (strcmp(field, "auth_user") == 0) return join_strings(r->auth_user);
	if (strcmp(field, "attachment_types") == 0) return join_strings(r->attachment_types);
	STR("subject", r->subject ? g_regex_get_pattern(r->subject) : NULL);
	NUM("sender_known", r->sender_known);
	NUM("recipient_known", r->recipient_known);
	NUM("reply_to_tracked", r->reply_to_tracked);
	NUM("dropbox", r->dropbox);
	NUM("has_attachments", r->has_attachments);
	NUM("min_size", r->min_size);
	NUM("max_size", r->max_size);
	STR("save", r->save);
	NUM("track", r->track);
	NUM("attachments", r->attachments);
	NUM("max_attachment_size", r->max_attachment_size);
	STR("category", r->category);
	if (strcmp(field, "regarding") == 0)
		return r->regarding ? g_strdup_printf("%s|%s", r->regarding->type, r->regarding->id) :
		    g_strdup("(null)");
#undef STR
#undef NUM
	out = g_string_new(NULL);
	if (strcmp(field, "header") == 0) {
		for (i = 0; i < r->header->len; i++) {
			const crm_header_cond *h = g_ptr_array_index(r->header, i);

			g_string_append_printf(out, "%s%s~%s", i ? "," : "", h->name,
			    g_regex_get_pattern(h->re));
		}
	} else if (strcmp(field, "follow_up") == 0) {
		for (i = 0; i < r->follow_up->len; i++) {
			const crm_follow_up *f = g_ptr_array_index(r->follow_up, i);

			g_string_append_printf(out, "%s%s:%" G_GINT64_FORMAT, i ? "," : "",
			    follow_up_kind_name(f->kind), f->seconds);
		}
	} else {
		fail_msg("unknown rule field %s", field);
	}
	return g_string_free(out, FALSE);
}

/* "capture.FIELD" or "RULE.FIELD" as text. */
static char *
describe(const crm_config *c, const char *key)
{
	const char *dot = strchr(key, '.');
	char *section;
	guint i;

	assert_non_null(dot);
	section = g_strndup(key, (gsize)(dot - key));
	if (strcmp(section, "capture") == 0) {
		g_free(section);
		return describe_capture(&c->capture, dot + 1);
	}
	for (i = 0; i < c->rules->len; i++) {
		const crm_rule *r = g_ptr_array_index(c->rules, i);

		if (strcmp(r->name, section) == 0) {
			g_free(section);
			return describe_rule(r, dot + 1);
		}
	}
	fail_msg("no rule %s", section);
	return NULL;
}

/* ------------------------------------------------------------ valid files */

typedef struct {
	const char *key;
	const char *value;
} expect;

typedef struct {
	const char *label;
	const char *text;
	expect want[20];       /* ends at key NULL */
} valid_case;

#define DEFAULT_BLOCKED ".exe,.bat,.cmd,.com,.scr,.pif,.js,.vbs,.jar,.msi,.ps1,.hta,.cpl,.dll,.lnk,.iso"

static const valid_case valid_cases[] = {
	{ "rule: every condition left out", "rule \"r\" { }", {
		{ "r.from", "" }, { "r.to", "" }, { "r.auth_user", "" }, { "r.header", "" },
		{ "r.subject", "(null)" }, { "r.sender_known", "0" }, { "r.recipient_known", "0" },
		{ "r.reply_to_tracked", "0" }, { "r.dropbox", "0" }, { "r.has_attachments", "0" },
		{ "r.min_size", "-1" }, { "r.max_size", "-1" },
	} },
	{ "rule: every action left out", "rule \"r\" { }", {
		{ "r.save", "(null)" }, { "r.track", "0" }, { "r.attachments", "0" },
		{ "r.attachment_types", "" }, { "r.max_attachment_size", "10485760" },
		{ "r.regarding", "(null)" }, { "r.category", "(null)" }, { "r.follow_up", "" },
	} },
	{ "rule: every condition set",
	  "rule \"r\" {\n"
	  "  direction = outbound\n"
	  "  from = {\"*@Example.COM\", \"alice@*\", \"Example.org\"}\n"
	  "  to = \"*@customer.example\"\n"
	  "  auth_user = {\"Alice\", \"sales-*\"}\n"
	  "  header = {'List-Id: <sales\\.example\\.com>', \"X-Mailer:Outlook\", \"X-Priority:\"}\n"
	  "  subject = '^(re|fwd): invoice \\d+'\n"
	  "  sender_known = {contact, lead}\n"
	  "  recipient_known = {account, user, any, none}\n"
	  "  reply_to_tracked = yes\n"
	  "  dropbox = no\n"
	  "  has_attachments = yes\n"
	  "  min_size = 10K\n"
	  "  max_size = 25M\n"
	  "}\n", {
		{ "r.from", "*@example.com,alice@*,example.org" },
		{ "r.to", "*@customer.example" },
		{ "r.auth_user", "alice,sales-*" },
		{ "r.header", "List-Id~<sales\\.example\\.com>,X-Mailer~Outlook,X-Priority~" },
		{ "r.subject", "^(re|fwd): invoice \\d+" },
		{ "r.sender_known", "3" },
		{ "r.recipient_known", "60" },
		{ "r.reply_to_tracked", "2" },
		{ "r.dropbox", "1" },
		{ "r.has_attachments", "2" },
		{ "r.min_size", "10240" },
		{ "r.max_size", "26214400" },
	} },
	{ "rule: every action set",
	  "crm \"local\" { }\n"
	  "rule \"r\" {\n"
	  "  save = \"local\"\n"
	  "  track = {opens, clicks}\n"
	  "  attachments = allowed\n"
	  "  attachment_types = {\"application/PDF\", \"image/*\", \".DOCX\", \"application/vnd.ms-*\"}\n"
	  "  max_attachment_size = 5M\n"
	  "  regarding = \"opportunity:7f3c2a10-0b1e-4c55-9d0a-3e1f2b4c5d6e\"\n"
	  "  category = \"Sales call — Q3\"\n"
	  "  follow_up = {\"no-reply 3d\", \"not-opened 2d\"}\n"
	  "}\n", {
		{ "r.save", "local" },
		{ "r.track", "3" },
		{ "r.attachments", "2" },
		{ "r.attachment_types", "application/pdf,image/*,.docx,application/vnd.ms-*" },
		{ "r.max_attachment_size", "5242880" },
		{ "r.regarding", "opportunity|7f3c2a10-0b1e-4c55-9d0a-3e1f2b4c5d6e" },
		{ "r.category", "Sales call — Q3" },
		{ "r.follow_up", "no-reply:259200,not-opened:172800" },
	} },
	{ "attachments none and all", "rule \"a\" { attachments = none }\nrule \"b\" { attachments = all }", {
		{ "a.attachments", "1" }, { "b.attachments", "0" },
	} },
	{ "tri-states take every bool word and any",
	  "rule \"r\" { reply_to_tracked = true dropbox = on has_attachments = any }\n"
	  "rule \"s\" { reply_to_tracked = false dropbox = off has_attachments = no }\n", {
		{ "r.reply_to_tracked", "2" }, { "r.dropbox", "2" }, { "r.has_attachments", "0" },
		{ "s.reply_to_tracked", "1" }, { "s.dropbox", "1" }, { "s.has_attachments", "1" },
	} },
	{ "sizes: none, zero, equal bounds, only one bound",
	  "rule \"a\" { min_size = 0 max_size = none }\n"
	  "rule \"b\" { min_size = 1M max_size = 1M }\n"
	  "rule \"c\" { max_size = 2G }\n"
	  "rule \"d\" { min_size = 3M }\n", {
		{ "a.min_size", "0" }, { "a.max_size", "-1" },
		{ "b.min_size", "1048576" }, { "b.max_size", "1048576" },
		{ "c.min_size", "-1" }, { "c.max_size", "2147483648" },
		{ "d.min_size", "3145728" }, { "d.max_size", "-1" },
	} },
	{ "follow_up units and bounds",
	  "rule \"r\" { follow_up = {\"no-reply 1m\", \"not-opened  3600s\", \"no-reply\t12h\",\n"
	  "  \"not-opened 2w\", \"no-reply 365d\", \" no-reply 52w \"} }", {
		{ "r.follow_up", "no-reply:60,not-opened:3600,no-reply:43200,not-opened:1209600,"
		  "no-reply:31536000,no-reply:31449600" },
	} },
	{ "regarding: custom entity, braces, dots, empty",
	  "rule \"a\" { regarding = \"cr4f2_project:{ABC-123}\" }\n"
	  "rule \"b\" { regarding = \"deal:1234.5\" }\n"
	  "rule \"c\" { regarding = \"\" }\n", {
		{ "a.regarding", "cr4f2_project|{ABC-123}" },
		{ "b.regarding", "deal|1234.5" },
		{ "c.regarding", "(null)" },
	} },
	{ "capture: every default", "", {
		{ "capture.dropbox", "(null)" },
		{ "capture.subject_tag", "(null)" },
		{ "capture.never_log", "" },
		{ "capture.internal_as_two_activities", "0" },
		{ "capture.blocked_extensions", DEFAULT_BLOCKED },
		{ "capture.subject_token", "0" },
		{ "capture.subject_token_prefix", "CRM:" },
		{ "capture.subject_token_digits", "7" },
		{ "capture.smart_matching", "0" },
		{ "capture.smart_matching_days", "90" },
		{ "capture.smart_matching_min_addresses", "2" },
	} },
	{ "capture: every option set",
	  "capture {\n"
	  "  dropbox = \"CRM@Example.com\"\n"
	  "  subject_tag = \"[crm]\"\n"
	  "  never_log = {\"HR.example.com\", \"ceo@Example.com\"}\n"
	  "  internal_as_two_activities = yes\n"
	  "  blocked_extensions = {\".EXE\", \".tar.gz\", \".7z\"}\n"
	  "  subject_token = yes\n"
	  "  subject_token_prefix = \"TRK#\"\n"
	  "  subject_token_digits = 12\n"
	  "  smart_matching = yes\n"
	  "  smart_matching_days = 3650\n"
	  "  smart_matching_min_addresses = 20\n"
	  "}\n", {
		{ "capture.dropbox", "crm@example.com" },
		{ "capture.subject_tag", "[crm]" },
		{ "capture.never_log", "hr.example.com,ceo@example.com" },
		{ "capture.internal_as_two_activities", "1" },
		{ "capture.blocked_extensions", ".exe,.tar.gz,.7z" },
		{ "capture.subject_token", "1" },
		{ "capture.subject_token_prefix", "TRK#" },
		{ "capture.subject_token_digits", "12" },
		{ "capture.smart_matching", "1" },
		{ "capture.smart_matching_days", "3650" },
		{ "capture.smart_matching_min_addresses", "20" },
	} },
	{ "capture: lowest bounds, += on blocked_extensions, empty tag",
	  "capture {\n  subject_token_digits = 3\n  smart_matching_days = 1\n"
	  "  smart_matching_min_addresses = 1\n  blocked_extensions += {\".one\"}\n"
	  "  subject_tag = \"\"\n  dropbox = \"\"\n}\n", {
		{ "capture.subject_token_digits", "3" },
		{ "capture.smart_matching_days", "1" },
		{ "capture.smart_matching_min_addresses", "1" },
		{ "capture.blocked_extensions", DEFAULT_BLOCKED ",.one" },
		{ "capture.subject_tag", "(null)" },
		{ "capture.dropbox", "(null)" },
	} },
	{ "capture: empty blocked_extensions", "capture { blocked_extensions = {} }", {
		{ "capture.blocked_extensions", "" },
	} },
};

/* One valid case: it loads and every expected field has its value. */
static void
test_valid(void **state)
{
	const valid_case *c = *state;
	crm_config *cfg = load_text(c->label, c->text);
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(c->want) && c->want[i].key != NULL; i++) {
		char *got = describe(cfg, c->want[i].key);

		if (strcmp(got, c->want[i].value) != 0)
			fail_msg("%s: %s is \"%s\", want \"%s\"", c->label, c->want[i].key, got,
			    c->want[i].value);
		g_free(got);
	}
	assert_null(config_unref(cfg));
}

/* ------------------------------------------------------------ errors */

typedef struct {
	const char *label;
	const char *text;
	const char *want;      /* the error after the file name: ":LINE: ..." */
} error_case;

#define LONG_129 "0123456789012345678901234567890123456789012345678901234567890123" \
	"45678901234567890123456789012345678901234567890123456789012345678"
#define LONG_65 "[0123456789012345678901234567890123456789012345678901234567890123"

static const error_case error_cases[] = {
	/* regexes and headers */
	{ "subject: regex that does not compile", "rule \"r\" {\n  subject = \"(unclosed\"\n}",
	  ":2: rule \"r\".subject: '(unclosed' is not a valid regex: " },
	{ "header: no colon", "rule \"r\" {\n\n  header = {\"X-Mailer\"}\n}",
	  ":3: rule \"r\".header: 'X-Mailer' is not \"Name: regex\" "
	  "(a header field name, a colon, then a regex)" },
	{ "header: space in the name", "rule \"r\" { header = \"X Mailer: Outlook\" }",
	  ":1: rule \"r\".header: 'X Mailer: Outlook' is not \"Name: regex\"" },
	{ "header: empty name", "rule \"r\" { header = \": Outlook\" }",
	  ":1: rule \"r\".header: ': Outlook' is not \"Name: regex\"" },
	{ "header: regex that does not compile", "rule \"r\" {\n  header = {\"X-Ok: a\",\n"
	  "    \"Subject: [a-\"}\n}",
	  ":3: rule \"r\".header: 'Subject: [a-': '[a-' is not a valid regex: " },
	/* address patterns */
	{ "from: two @", "rule \"r\" { from = {\"alice@@example.com\"} }",
	  ":1: rule \"r\".from: 'alice@@example.com' is not an address or domain glob "
	  "(e.g. \"*@example.com\", \"alice@*\", \"example.com\")" },
	{ "from: domain with a leading dot", "rule \"r\" { from = \".example.com\" }",
	  ":1: rule \"r\".from: '.example.com' is not an address or domain glob" },
	{ "to: space in the pattern", "rule \"r\" {\n  to = {\"bob @example.com\"}\n}",
	  ":2: rule \"r\".to: 'bob @example.com' is not an address or domain glob" },
	{ "to: nothing after @", "rule \"r\" { to = \"bob@\" }",
	  ":1: rule \"r\".to: 'bob@' is not an address or domain glob" },
	{ "auth_user: space in the glob", "rule \"r\" { auth_user = {\"sales *\"} }",
	  ":1: rule \"r\".auth_user: 'sales *' is not a glob (no spaces or control characters)" },
	{ "auth_user: empty", "rule \"r\" { auth_user = \"\" }",
	  ":1: rule \"r\".auth_user: '' is not a glob" },
	/* known words and tri-states */
	{ "sender_known: unknown word", "rule \"r\" {\n  sender_known = {contact, prospect}\n}",
	  ":2: rule \"r\".sender_known: 'prospect' is not one of contact, lead, account, user, "
	  "any, none" },
	{ "recipient_known: plural", "rule \"r\" { recipient_known = contacts }",
	  ":1: rule \"r\".recipient_known: 'contacts' is not one of contact, lead, account, "
	  "user, any, none" },
	{ "reply_to_tracked: not a yes/no word", "rule \"r\" { reply_to_tracked = maybe }",
	  ":1: rule \"r\".reply_to_tracked: 'maybe' is not yes or no (or any)" },
	{ "has_attachments: unset is not a word", "rule \"r\" { has_attachments = unset }",
	  ":1: rule \"r\".has_attachments: 'unset' is not yes or no (or any)" },
	/* sizes */
	{ "min_size: bad suffix", "rule \"r\" {\n  min_size = 10X\n}",
	  ":2: rule \"r\".min_size: '10X' is not a size (a number of bytes with an optional "
	  "K, M or G suffix, or none)" },
	{ "max_size: above 2G", "rule \"r\" { max_size = 3G }",
	  ":1: rule \"r\".max_size: '3G' is out of range (0..2G)" },
	{ "max_size: negative", "rule \"r\" { max_size = -1 }",
	  ":1: rule \"r\".max_size: '-1' is not a size" },
	{ "min_size above max_size", "rule \"r\" {\n  max_size = 1M\n  min_size = 2M\n}",
	  ":3: rule \"r\".min_size: 2M is larger than max_size (1M)" },
	{ "max_attachment_size: not a size", "rule \"r\" { max_attachment_size = none }",
	  ":1: rule \"r\".max_attachment_size: 'none' is not a size (a number of bytes with "
	  "an optional K, M or G suffix)" },
	/* attachments */
	{ "attachments: unknown policy", "rule \"r\" { attachments = some }",
	  ":1: rule \"r\".attachments: 'some' is not one of none, all, allowed" },
	{ "attachment_types: bare word", "rule \"r\" { attachment_types = {\"pdf\"} }",
	  ":1: rule \"r\".attachment_types: 'pdf' is not a MIME type glob or a file extension "
	  "(e.g. \"application/pdf\", \"image/*\", \".docx\")" },
	{ "attachment_types: no subtype", "rule \"r\" { attachment_types = \"application/\" }",
	  ":1: rule \"r\".attachment_types: 'application/' is not a MIME type glob" },
	{ "attachment_types: space in an extension", "rule \"r\" { attachment_types = \".do cx\" }",
	  ":1: rule \"r\".attachment_types: '.do cx' is not a MIME type glob" },
	/* regarding */
	{ "regarding: no colon", "rule \"r\" {\n  regarding = \"account\"\n}",
	  ":2: rule \"r\".regarding: 'account' is not <type>:<id>, e.g. \"account:1234\"" },
	{ "regarding: upper-case type", "rule \"r\" { regarding = \"Account:1\" }",
	  ":1: rule \"r\".regarding: 'Account:1': the type 'Account' is not a lower-case word "
	  "([a-z][a-z0-9_]*, up to 64 bytes), e.g. account, contact, lead, opportunity, case, "
	  "incident, deal" },
	{ "regarding: type starting with a digit", "rule \"r\" { regarding = \"1deal:5\" }",
	  ":1: rule \"r\".regarding: '1deal:5': the type '1deal' is not a lower-case word" },
	{ "regarding: empty id", "rule \"r\" { regarding = \"account:\" }",
	  ":1: rule \"r\".regarding: 'account:': the id '' is not 1 to 128 letters, digits, "
	  "'.', '_', '-', '{' or '}'" },
	{ "regarding: colon in the id", "rule \"r\" { regarding = \"case:CAS-01:x\" }",
	  ":1: rule \"r\".regarding: 'case:CAS-01:x': the id 'CAS-01:x' is not 1 to 128" },
	{ "regarding: id too long", "rule \"r\" { regarding = \"lead:" LONG_129 "\" }",
	  ":1: rule \"r\".regarding: 'lead:" LONG_129 "': the id '" LONG_129 "' is not 1 to 128" },
	/* category */
	{ "category: control character", "rule \"r\" { category = \"a\\tb\" }",
	  ":1: rule \"r\".category: the value contains a control character" },
	{ "category: longer than 250 bytes", "rule \"r\" { category = \"" LONG_129 LONG_129 "\" }",
	  ":1: rule \"r\".category: '" LONG_129 LONG_129 "' is longer than 250 bytes" },
	/* follow-ups */
	{ "follow_up: unknown kind", "rule \"r\" {\n  follow_up = {\"no-reply 3d\",\n"
	  "    \"maybe 3d\"}\n}",
	  ":3: rule \"r\".follow_up: 'maybe 3d': 'maybe' is not one of no-reply, not-opened" },
	{ "follow_up: no delay", "rule \"r\" { follow_up = \"no-reply\" }",
	  ":1: rule \"r\".follow_up: 'no-reply' is not \"KIND DELAY\" (no-reply or not-opened, "
	  "a space, then a number with s, m, h, d or w, e.g. \"no-reply 3d\")" },
	{ "follow_up: three words", "rule \"r\" { follow_up = \"no-reply 3 d\" }",
	  ":1: rule \"r\".follow_up: 'no-reply 3 d' is not \"KIND DELAY\"" },
	{ "follow_up: bad unit", "rule \"r\" { follow_up = \"not-opened 3x\" }",
	  ":1: rule \"r\".follow_up: 'not-opened 3x': '3x' is not a delay (a number with s, m, "
	  "h, d or w)" },
	{ "follow_up: no number", "rule \"r\" { follow_up = \"not-opened d\" }",
	  ":1: rule \"r\".follow_up: 'not-opened d': 'd' is not a delay" },
	{ "follow_up: negative", "rule \"r\" { follow_up = \"not-opened -3d\" }",
	  ":1: rule \"r\".follow_up: 'not-opened -3d': '-3d' is not a delay" },
	{ "follow_up: below a minute", "rule \"r\" { follow_up = \"no-reply 59s\" }",
	  ":1: rule \"r\".follow_up: 'no-reply 59s': '59s' is out of range (1m..365d)" },
	{ "follow_up: above a year", "rule \"r\" { follow_up = \"no-reply 53w\" }",
	  ":1: rule \"r\".follow_up: 'no-reply 53w': '53w' is out of range (1m..365d)" },
	{ "follow_up: huge number", "rule \"r\" { follow_up = \"no-reply 99999999999d\" }",
	  ":1: rule \"r\".follow_up: 'no-reply 99999999999d': '99999999999d' is not a delay" },
	/* capture */
	{ "capture: unknown option", "capture {\n  dropbx = \"crm@example.com\"\n}",
	  ":2: capture: no such option 'dropbx'" },
	{ "dropbox: not an address", "capture { dropbox = \"crm\" }",
	  ":1: capture.dropbox: 'crm' is not an address (local@domain)" },
	{ "dropbox: plus form", "capture {\n  dropbox = \"crm+account-1@example.com\"\n}",
	  ":2: capture.dropbox: 'crm+account-1@example.com' must not contain '+' "
	  "(crm+<type>-<id>@ is derived from the address)" },
	{ "dropbox: bad domain", "capture { dropbox = \"crm@exa mple.com\" }",
	  ":1: capture.dropbox: 'crm@exa mple.com' is not an address (local@domain)" },
	{ "subject_tag: longer than 64 bytes", "capture { subject_tag = \"" LONG_65 "\" }",
	  ":1: capture.subject_tag: '" LONG_65 "' is longer than 64 bytes" },
	{ "subject_tag: newline", "capture { subject_tag = \"[crm]\\n\" }",
	  ":1: capture.subject_tag: the value contains a control character" },
	{ "never_log: not an address or domain", "capture { never_log = {\"ok.example\", \"@example.com\"} }",
	  ":1: capture.never_log: '@example.com' is not an address or a domain" },
	{ "never_log: glob", "capture { never_log = \"*@example.com\" }",
	  ":1: capture.never_log: '*@example.com' is not an address or a domain" },
	{ "internal_as_two_activities: not yes/no", "capture { internal_as_two_activities = 2 }",
	  ":1: capture.internal_as_two_activities: '2' is not yes or no" },
	{ "blocked_extensions: no dot", "capture {\n  blocked_extensions = {\".exe\", \"bat\"}\n}",
	  ":2: capture.blocked_extensions: 'bat' is not a file extension: it must start with '.' "
	  "(\".bat\")" },
	{ "blocked_extensions: only a dot", "capture { blocked_extensions += \".\" }",
	  ":1: capture.blocked_extensions: '.' is not a file extension (a '.' then letters, "
	  "digits, '-' or '_', e.g. \".exe\")" },
	{ "blocked_extensions: space", "capture { blocked_extensions = \".ex e\" }",
	  ":1: capture.blocked_extensions: '.ex e' is not a file extension (" },
	{ "subject_token: not yes/no", "capture { subject_token = maybe }",
	  ":1: capture.subject_token: 'maybe' is not yes or no" },
	{ "subject_token_prefix: empty", "capture { subject_token_prefix = \"\" }",
	  ":1: capture.subject_token_prefix: the value must not be empty" },
	{ "subject_token_prefix: longer than 16 bytes",
	  "capture { subject_token_prefix = \"ABCDEFGHIJKLMNOPQ\" }",
	  ":1: capture.subject_token_prefix: 'ABCDEFGHIJKLMNOPQ' is longer than 16 bytes" },
	{ "subject_token_digits: above 12", "capture {\n  subject_token_digits = 13\n}",
	  ":2: capture.subject_token_digits: '13' is out of range (3..12)" },
	{ "subject_token_digits: below 3", "capture { subject_token_digits = 2 }",
	  ":1: capture.subject_token_digits: '2' is out of range (3..12)" },
	{ "smart_matching: not yes/no", "capture { smart_matching = sometimes }",
	  ":1: capture.smart_matching: 'sometimes' is not yes or no" },
	{ "smart_matching_days: zero", "capture { smart_matching_days = 0 }",
	  ":1: capture.smart_matching_days: '0' is out of range (1..3650)" },
	{ "smart_matching_days: above ten years", "capture { smart_matching_days = 3651 }",
	  ":1: capture.smart_matching_days: '3651' is out of range (1..3650)" },
	{ "smart_matching_min_addresses: above 20", "capture { smart_matching_min_addresses = 21 }",
	  ":1: capture.smart_matching_min_addresses: '21' is out of range (1..20)" },
};

/* One error case: the load fails with exactly one error, as wanted. */
static void
test_error(void **state)
{
	const error_case *c = *state;
	scratch s = scratch_write(c->text);
	GPtrArray *errors = NULL;
	char *want = g_strconcat(s.path, c->want, NULL);
	guint i;

	assert_null(config_load(s.path, &errors));
	assert_non_null(errors);
	if (errors->len != 1 || !g_str_has_prefix(g_ptr_array_index(errors, 0), want)) {
		for (i = 0; i < errors->len; i++)
			print_error("got: %s\n", (char *)g_ptr_array_index(errors, i));
		fail_msg("%s: want one error starting \"%s\"", c->label, want);
	}
	g_ptr_array_unref(errors);
	g_free(want);
	scratch_free(&s);
}

/* ------------------------------------------------------------ regexes */

typedef struct {
	const char *label;
	const char *rule;      /* the options of rule "r" */
	const char *header;    /* the header whose value is matched, or NULL: subject */
	const char *value;
	gboolean match;
} regex_case;

static const regex_case regex_cases[] = {
	{ "subject ignores case", "subject = \"^invoice \\\\d+$\"", NULL, "INVOICE 2024", TRUE },
	{ "subject found anywhere", "subject = 'quote'", NULL, "Re: Your Quote for Q3", TRUE },
	{ "subject (?-i) keeps case", "subject = '(?-i)^Invoice'", NULL, "INVOICE 7", FALSE },
	{ "subject (?-i) still matches", "subject = '(?-i)^Invoice'", NULL, "Invoice 7", TRUE },
	{ "subject anchored", "subject = '^re:'", NULL, "Fwd: re: x", FALSE },
	{ "subject UTF-8 ignores case", "subject = 'ÄNDERUNG'", NULL, "Vertragsänderung", TRUE },
	{ "header value after the blanks", "header = \"List-Id:   ^<sales\"", "List-Id",
	  "<sales.example.com>", TRUE },
	{ "header ignores case", "header = 'X-Mailer: outlook'", "X-Mailer",
	  "Microsoft OUTLOOK 16.0", TRUE },
	{ "header mismatch", "header = 'X-Mailer: ^Thunderbird'", "X-Mailer",
	  "Mozilla Thunderbird", FALSE },
	{ "header empty regex matches any value", "header = 'X-Priority:'", "X-Priority", "1", TRUE },
};

/* The compiled regex of a rule matches (or not) a realistic value. */
static void
test_regex(void **state)
{
	const regex_case *c = *state;
	char *text = g_strdup_printf("rule \"r\" { %s }\n", c->rule);
	crm_config *cfg = load_text(c->label, text);
	const crm_rule *r = g_ptr_array_index(cfg->rules, 0);
	GRegex *re;

	if (c->header == NULL) {
		re = r->subject;
	} else {
		const crm_header_cond *h = g_ptr_array_index(r->header, 0);

		assert_int_equal(r->header->len, 1);
		assert_string_equal(h->name, c->header);
		re = h->re;
	}
	assert_non_null(re);
	if (g_regex_match(re, c->value, 0, NULL) != c->match)
		fail_msg("%s: /%s/ on \"%s\" should %s", c->label, g_regex_get_pattern(re), c->value,
		    c->match ? "match" : "not match");
	config_unref(cfg);
	g_free(text);
}

/* ------------------------------------------------------------ public parsers */

typedef struct {
	const char *label;
	const char *text;
	const char *want;      /* "type|id" or "kind:seconds"; NULL: refused */
	const char *why;       /* start of the reason when refused */
} parse_case;

static const parse_case regarding_cases[] = {
	{ "account with a GUID", "account:7f3c2a10-0b1e-4c55-9d0a-3e1f2b4c5d6e",
	  "account|7f3c2a10-0b1e-4c55-9d0a-3e1f2b4c5d6e", NULL },
	{ "Salesforce id", "opportunity:0065g00000AbCdEAAV", "opportunity|0065g00000AbCdEAAV", NULL },
	{ "HubSpot deal", "deal:12345678901", "deal|12345678901", NULL },
	{ "incident", "incident:CAS-01234-X1Y2Z3", "incident|CAS-01234-X1Y2Z3", NULL },
	{ "empty", "", NULL, "'' is not <type>:<id>" },
	{ "type only", "account:", NULL, "'account:': the id '' is not" },
	{ "id only", ":1234", NULL, "':1234': the type '' is not" },
	{ "space in the id", "account:12 34", NULL, "'account:12 34': the id '12 34' is not" },
	{ "hyphen in the type", "sales-order:1", NULL, "'sales-order:1': the type 'sales-order'" },
};

/* config_regarding_parse: the X-CRM-Regarding and regarding = shape. */
static void
test_regarding_parse(void **state)
{
	const parse_case *c = *state;
	GString *why = g_string_new(NULL);
	crm_regarding *r = config_regarding_parse(c->text, why);

	if (c->want != NULL) {
		char *got;

		assert_non_null(r);
		got = g_strdup_printf("%s|%s", r->type, r->id);
		assert_string_equal(got, c->want);
		assert_int_equal(why->len, 0);
		g_free(got);
	} else {
		assert_null(r);
		if (!g_str_has_prefix(why->str, c->why))
			fail_msg("%s: why is \"%s\", want \"%s...\"", c->label, why->str, c->why);
		assert_null(config_regarding_parse(c->text, NULL));   /* why may be NULL */
	}
	assert_null(config_regarding_free(r));
	g_string_free(why, TRUE);
}

static const parse_case follow_up_cases[] = {
	{ "three days", "no-reply 3d", "no-reply:259200", NULL },
	{ "two weeks", "not-opened 2w", "not-opened:1209600", NULL },
	{ "ninety minutes", "not-opened 90m", "not-opened:5400", NULL },
	{ "upper-case kind", "No-Reply 3d", NULL, "'No-Reply 3d': 'No-Reply' is not one of" },
	{ "upper-case unit", "no-reply 3D", NULL, "'no-reply 3D': '3D' is not a delay" },
	{ "empty", "", NULL, "'' is not \"KIND DELAY\"" },
	{ "plus sign", "no-reply +3d", NULL, "'no-reply +3d': '+3d' is not a delay" },
};

/* config_follow_up_parse: what follow_up = {...} items are. */
static void
test_follow_up_parse(void **state)
{
	const parse_case *c = *state;
	GString *why = g_string_new(NULL);
	crm_follow_up f = { FOLLOW_NO_REPLY, 0 };
	gboolean ok = config_follow_up_parse(c->text, &f, why);

	if (c->want != NULL) {
		char *got = g_strdup_printf("%s:%" G_GINT64_FORMAT, follow_up_kind_name(f.kind),
		    f.seconds);

		assert_true(ok);
		assert_string_equal(got, c->want);
		g_free(got);
	} else {
		assert_false(ok);
		if (!g_str_has_prefix(why->str, c->why))
			fail_msg("%s: why is \"%s\", want \"%s...\"", c->label, why->str, c->why);
		assert_false(config_follow_up_parse(c->text, &f, NULL));
	}
	g_string_free(why, TRUE);
}

/* follow_up_kind_name names both kinds and nothing else. */
static void
test_follow_up_kind_names(void **state)
{
	(void)state;
	assert_string_equal(follow_up_kind_name(FOLLOW_NO_REPLY), "no-reply");
	assert_string_equal(follow_up_kind_name(FOLLOW_NOT_OPENED), "not-opened");
	assert_string_equal(follow_up_kind_name((crm_follow_kind)7), "unknown");
}

/* ------------------------------------------------------------ main */

#define ROWS(cases, fn) \
	for (i = 0; i < G_N_ELEMENTS(cases); i++) \
		tests[n++] = (struct CMUnitTest){ .name = cases[i].label, \
			.test_func = fn, .initial_state = (void *)&cases[i] }

/* One cmocka test per table row, then the other tests. */
int
main(void)
{
	struct CMUnitTest tests[G_N_ELEMENTS(valid_cases) + G_N_ELEMENTS(error_cases) +
	    G_N_ELEMENTS(regex_cases) + G_N_ELEMENTS(regarding_cases) +
	    G_N_ELEMENTS(follow_up_cases) + 1];
	gsize i, n = 0;

	ROWS(valid_cases, test_valid);
	ROWS(error_cases, test_error);
	ROWS(regex_cases, test_regex);
	ROWS(regarding_cases, test_regarding_parse);
	ROWS(follow_up_cases, test_follow_up_parse);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_follow_up_kind_names);
	g_assert(n == G_N_ELEMENTS(tests));
	return cmocka_run_group_tests_name("config_capture", tests, NULL, NULL);
}

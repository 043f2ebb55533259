/*
 * test_config.c - the config loader: valid files and the values they give,
 * every kind of error with its exact "file:line: message", and the
 * snapshot's references. The rule and capture options are tested in
 * test_config_capture.c, the generated sample config and man page in
 * test_config_docs.c.
 *
 * Table-driven: valid_cases and error_cases each become one cmocka test
 * per row. Every file is written to a fresh g_dir_make_tmp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "core/config.h"

/* The issue's example, exactly as written there. */
#define ISSUE_EXAMPLE \
	"milter {\n" \
	"  socket = \"unix:/run/crm-milter/milter.sock\"   # or \"inet:8895@127.0.0.1\"\n" \
	"  internal_domains = {\"example.com\"}\n" \
	"  internal_networks = {\"127.0.0.0/8\", \"::1/128\"}\n" \
	"  on_internal_error = accept                     # or tempfail\n" \
	"  max_message_size = 25M\n" \
	"}\n" \
	"spool { path = \"/var/lib/crm-milter/spool.db\" }\n" \
	"crm \"local\" { type = ledger }\n" \
	"rule \"outbound\" { direction = outbound  save = \"local\" }\n" \
	"rule \"inbound\"  { direction = inbound   save = \"local\" }\n"

/* Four errors on lines 1, 3, 4 and 7, found in another order. */
#define FOUR_ERRORS \
	"rule \"r\" { save = \"nope\" }\nmilter {\n  max_recipients = 0\n  log_level = loud\n}\n" \
	"spool {\n  max_attempts = 1000\n}\n"

/* ------------------------------------------------------------ scratch files */

typedef struct {
	char *dir;
	char *path;
} scratch;

/* Write len bytes of text (-1: a string) to a new scratch dir. */
static scratch
scratch_write(const char *text, gssize len)
{
	scratch s;
	GError *err = NULL;

	s.dir = g_dir_make_tmp("test_config-XXXXXX", &err);
	assert_non_null(s.dir);
	s.path = g_build_filename(s.dir, "crm-milter.conf", NULL);
	assert_true(g_file_set_contents(s.path, text, len, &err));
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

/* Load a config that must load. */
static crm_config *
load_ok(const char *path)
{
	GPtrArray *errors = NULL;
	crm_config *cfg = config_load(path, &errors);
	guint i;

	if (cfg == NULL) {
		for (i = 0; errors != NULL && i < errors->len; i++)
			print_error("unexpected: %s\n", (char *)g_ptr_array_index(errors, i));
		fail_msg("%s did not load", path);
	}
	assert_null(errors);
	return cfg;
}

/* ------------------------------------------------------------ field values */

/* Join a GPtrArray of strings with commas. */
static char *
join_strings(GPtrArray *a)
{
	GString *out = g_string_new(NULL);
	guint i;

	for (i = 0; a != NULL && i < a->len; i++)
		g_string_append_printf(out, "%s%s", i ? "," : "", (char *)g_ptr_array_index(a, i));
	return g_string_free(out, FALSE);
}

/* Join a GPtrArray of GInetAddressMask as ADDRESS/LENGTH with commas. */
static char *
join_masks(GPtrArray *a)
{
	GString *out = g_string_new(NULL);
	guint i;

	for (i = 0; a != NULL && i < a->len; i++) {
		GInetAddressMask *m = g_ptr_array_index(a, i);
		char *addr = g_inet_address_to_string(g_inet_address_mask_get_address(m));

		g_string_append_printf(out, "%s%s/%u", i ? "," : "", addr,
		    g_inet_address_mask_get_length(m));
		g_free(addr);
	}
	return g_string_free(out, FALSE);
}

/* The value of one field as text, by the name the expectations use. */
static char *
describe(const crm_config *c, const char *key)
{
	GString *out;
	guint i;

#define STR(k, f) if (strcmp(key, k) == 0) return g_strdup((f) ? (f) : "(null)")
#define NUM(k, f) if (strcmp(key, k) == 0) return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)(f))
	STR("socket", c->socket);
	STR("user", c->user);
	STR("socket_group", c->socket_group);
	if (strcmp(key, "socket_mode") == 0)
		return g_strdup_printf("%o", c->socket_mode);
	if (strcmp(key, "internal_domains") == 0)
		return join_strings(c->internal_domains);
	if (strcmp(key, "internal_networks") == 0)
		return join_masks(c->internal_networks);
	if (strcmp(key, "outbound_daemons") == 0)
		return join_strings(c->outbound_daemons);
	NUM("on_internal_error", c->on_internal_error);
	NUM("max_message_size", c->max_message_size);
	NUM("body_memory_cap", c->body_memory_cap);
	STR("tmp_dir", c->tmp_dir);
	NUM("max_header_size", c->max_header_size);
	NUM("max_recipients", c->max_recipients);
	NUM("log_level", c->log_level);
	STR("spool.path", c->spool_path);
	NUM("busy_timeout", c->busy_timeout);
	NUM("max_attempts", c->max_attempts);
	NUM("backoff_base", c->backoff_base);
	NUM("backoff_max", c->backoff_max);
	NUM("lease_time", c->lease_time);
	NUM("poll_interval", c->poll_interval);
	NUM("batch_size", c->batch_size);
	STR("tracking.base_url", c->tracking.base_url);
#undef STR
#undef NUM
	out = g_string_new(NULL);
	if (strcmp(key, "profiles") == 0) {
		/* name:type@line, ... */
		for (i = 0; i < c->profiles->len; i++) {
			const crm_profile *p = g_ptr_array_index(c->profiles, i);

			g_string_append_printf(out, "%s%s:%s@%d", i ? "," : "", p->name, p->type, p->line);
		}
	} else if (strcmp(key, "rules") == 0) {
		/* name:direction:save:track@line, ... */
		for (i = 0; i < c->rules->len; i++) {
			const crm_rule *r = g_ptr_array_index(c->rules, i);

			g_string_append_printf(out, "%s%s:%s:%s:%u@%d", i ? "," : "", r->name,
			    direction_name(r->direction), r->save ? r->save : "-", r->track, r->line);
		}
	} else {
		fail_msg("unknown key %s", key);
	}
	return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------ valid files */

typedef struct {
	const char *key;
	const char *value;
} expect;

typedef struct {
	const char *label;
	const char *text;
	expect want[16];       /* ends at key NULL */
} valid_case;

static const valid_case valid_cases[] = {
	{ "the issue's example", ISSUE_EXAMPLE, {
		{ "socket", "unix:/run/crm-milter/milter.sock" },
		{ "internal_domains", "example.com" },
		{ "internal_networks", "127.0.0.0/8,::1/128" },
		{ "on_internal_error", "0" },
		{ "max_message_size", "26214400" },
		{ "spool.path", "/var/lib/crm-milter/spool.db" },
		{ "profiles", "local:ledger@9" },
		{ "rules", "outbound:outbound:local:0@10,inbound:inbound:local:0@11" },
	} },
	{ "empty file: every default and the implicit crm local", "", {
		{ "socket", "unix:/run/crm-milter/milter.sock" },
		{ "user", "crm-milter" },
		{ "socket_group", "postfix" },
		{ "socket_mode", "660" },
		{ "internal_domains", "" },
		{ "internal_networks", "127.0.0.0/8,::1/128" },
		{ "outbound_daemons", "" },
		{ "max_message_size", "26214400" },
		{ "body_memory_cap", "1048576" },
		{ "tmp_dir", "/var/lib/crm-milter/tmp" },
		{ "max_header_size", "1048576" },
		{ "max_recipients", "1000" },
		{ "log_level", "6" },
		{ "profiles", "local:ledger@0" },
		{ "rules", "" },
	} },
	{ "empty file: spool and flusher defaults", "\n\n", {
		{ "spool.path", "/var/lib/crm-milter/spool.db" },
		{ "busy_timeout", "5000" },
		{ "max_attempts", "10" },
		{ "backoff_base", "30" },
		{ "backoff_max", "3600" },
		{ "lease_time", "300" },
		{ "poll_interval", "5" },
		{ "batch_size", "50" },
	} },
	{ "sizes 1G, 512K, plain bytes, 2G", "milter {\n"
	  "  max_message_size = 1G\n  body_memory_cap = 512K\n  max_header_size = 65536\n}\n", {
		{ "max_message_size", "1073741824" },
		{ "body_memory_cap", "524288" },
		{ "max_header_size", "65536" },
	} },
	{ "largest sizes and lower-case suffix", "milter { max_message_size = 2G body_memory_cap = 2g }", {
		{ "max_message_size", "2147483648" },
		{ "body_memory_cap", "2147483648" },
	} },
	{ "quoted size and enum words", "milter { max_message_size = \"25M\" on_internal_error = \"tempfail\" }", {
		{ "max_message_size", "26214400" },
		{ "on_internal_error", "1" },
	} },
	{ "lists, enums and modes",
	  "milter {\n"
	  "  socket = inet:8895@127.0.0.1\n"
	  "  socket_mode = 0600\n"
	  "  internal_domains = {\"Example.COM\", \"sub.Example.org\"}\n"
	  "  internal_networks += {\"10.0.0.0/8\"}\n"
	  "  outbound_daemons = {\"ORIGINATING\", submission}\n"
	  "  on_internal_error = tempfail\n"
	  "  log_level = debug\n"
	  "}\n"
	  "rule \"t\" { track = {opens, clicks} }\n", {
		{ "socket", "inet:8895@127.0.0.1" },
		{ "socket_mode", "600" },
		{ "internal_domains", "example.com,sub.example.org" },
		{ "internal_networks", "127.0.0.0/8,::1/128,10.0.0.0/8" },
		{ "outbound_daemons", "ORIGINATING,submission" },
		{ "on_internal_error", "1" },
		{ "log_level", "7" },
		{ "rules", "t:any:-:3@10" },
	} },
	{ "empty list replaces the default", "milter { internal_networks = {} }", {
		{ "internal_networks", "" },
	} },
	{ "a single value for a list", "milter { internal_domains = \"One.example\" }\n"
	  "rule \"r\" { track = opens }", {
		{ "internal_domains", "one.example" },
		{ "rules", "r:any:-:1@2" },
	} },
	{ "rules keep file order, save = no", "crm \"x\" { }\n"
	  "rule \"z\" { direction = internal save = \"x\" }\n"
	  "rule \"a\" { save = no }\n"
	  "rule \"m\" {\n  direction = inbound\n}\n", {
		{ "profiles", "x:ledger@1" },
		{ "rules", "z:internal:x:0@2,a:any:-:0@3,m:inbound:-:0@4" },
	} },
	{ "several crm sections, no implicit local", "crm \"a\" {}\ncrm \"b\" { type = ledger }\n"
	  "rule \"r\" { save = \"b\" }\n", {
		{ "profiles", "a:ledger@1,b:ledger@2" },
		{ "rules", "r:any:b:0@3" },
	} },
	{ "save to the implicit crm local", "rule \"r\" { save = \"local\" }", {
		{ "profiles", "local:ledger@0" },
		{ "rules", "r:any:local:0@1" },
	} },
	{ "defaults above a set limit are lowered",
	  "milter { max_message_size = 512K }\nspool { backoff_max = 10 }\n", {
		{ "max_message_size", "524288" },
		{ "body_memory_cap", "524288" },
		{ "backoff_base", "10" },
		{ "backoff_max", "10" },
	} },
	{ "tracking base_url: https with a path, trailing slashes dropped",
	  "tracking { base_url = \"https://t.example.com/crm//\" }", {
		{ "tracking.base_url", "https://t.example.com/crm" },
	} },
	{ "tracking base_url: http, IPv6 host and port", "tracking { base_url = \"http://[::1]:8899\" }", {
		{ "tracking.base_url", "http://[::1]:8899" },
	} },
	{ "tracking base_url: empty is off", "tracking { base_url = \"\" }", {
		{ "tracking.base_url", "(null)" },
	} },
	{ "the last setting counts", "milter { max_recipients = 5 max_recipients = 6 }", {
		{ "max_recipients", "6" },
	} },
	{ "comments of every kind, also in lists and strings",
	  "# leading comment\n"
	  "milter { // c++ style\n"
	  "  socket = \"unix:/x#y//z\" /* a block\n"
	  "  comment */ internal_domains = {\"a.example\", # in a list\n"
	  "     'b.example' // too\n"
	  "  }\n"
	  "}\n"
	  "rule \"r\" { }\n", {
		{ "socket", "unix:/x#y//z" },
		{ "internal_domains", "a.example,b.example" },
		{ "rules", "r:any:-:0@8" },
	} },
};

/* One valid case: it loads and every expected field has its value. */
static void
test_valid(void **state)
{
	const valid_case *c = *state;
	scratch s = scratch_write(c->text, -1);
	crm_config *cfg = load_ok(s.path);
	gsize i;

	assert_int_equal(cfg->refcnt, 1);
	assert_string_equal(cfg->path, s.path);
	for (i = 0; i < G_N_ELEMENTS(c->want) && c->want[i].key != NULL; i++) {
		char *got = describe(cfg, c->want[i].key);

		if (strcmp(got, c->want[i].value) != 0)
			fail_msg("%s: %s is \"%s\", want \"%s\"", c->label, c->want[i].key, got,
			    c->want[i].value);
		g_free(got);
	}
	assert_null(config_unref(cfg));
	scratch_free(&s);
}

/* ------------------------------------------------------------ errors */

typedef struct {
	const char *label;
	const char *text;
	const char *want;      /* the error after the file name: ":LINE: ..." */
	guint count;           /* how many errors in all; 0: don't check */
} error_case;

static const error_case error_cases[] = {
	{ "unknown option in milter", "milter {\n  sockt = \"x\"\n}\n",
	  ":2: milter: no such option 'sockt'", 1 },
	{ "unknown option in spool", "spool {\n\n  pth = \"/x\"\n}\n",
	  ":3: spool: no such option 'pth'", 1 },
	{ "unknown option in flusher", "flusher { interval = 5 }",
	  ":1: flusher: no such option 'interval'", 1 },
	{ "unknown option in crm", "crm \"c\" {\n  kind = ledger\n}\n",
	  ":2: crm \"c\": no such option 'kind'", 1 },
	{ "unknown option in rule", "crm \"c\" {}\nrule \"r\" {\n  save = \"c\"\n  sve = \"c\"\n}\n",
	  ":4: rule \"r\": no such option 'sve'", 1 },
	{ "unknown section", "milterr {\n}\n", ":1: no such option 'milterr'", 1 },
	{ "webhook without url and secret_file: both named", "crm \"h\" {\n type = webhook\n}",
	  ":1: crm \"h\": type webhook needs url", 2 },
	{ "webhook secret_file relative", "crm \"h\" { type = webhook url = \"https://h.example\"\n"
	  "  secret_file = \"hook.secret\" }", ":2: crm \"h\".secret_file: 'hook.secret' is not an absolute path", 0 },
	{ "rollup_fields: unknown rollup", "crm \"local\" {\n rollup_fields = {\"opens=crm_opens__c\", \"views=x\"}\n}",
	  ":2: crm \"local\".rollup_fields: 'views=x' is not ROLLUP=FIELD", 1 },
	{ "rollup_fields: a field with a blank", "crm \"local\" { rollup_fields = \"opens=a b\" }",
	  ":1: crm \"local\".rollup_fields: 'opens=a b' is not ROLLUP=FIELD", 1 },
	{ "unknown connector type", "crm \"h\" {\n type = salesforse\n}",
	  ":2: crm \"h\".type: 'salesforse' is not one of ledger, webhook, dynamics365, salesforce, hubspot, zoho", 1 },
	{ "base_url: not http(s)", "tracking {\n base_url = \"ftp://t.example.com\"\n}",
	  ":2: tracking.base_url: 'ftp://t.example.com' must be http or https", 1 },
	{ "base_url: no scheme", "tracking { base_url = \"t.example.com\" }",
	  ":1: tracking.base_url: 't.example.com' is not a URL", 1 },
	{ "base_url: no host", "tracking { base_url = \"https:///x\" }",
	  ":1: tracking.base_url: 'https:///x' has no host", 1 },
	{ "base_url: a query", "tracking { base_url = \"https://t.example.com/?a=1\" }",
	  ":1: tracking.base_url: 'https://t.example.com/?a=1' must not have a query", 1 },
	{ "base_url: a fragment", "tracking { base_url = \"https://t.example.com/#x\" }",
	  ":1: tracking.base_url: 'https://t.example.com/#x' must not have a fragment", 1 },
	{ "base_url: a user", "tracking { base_url = \"https://u:p@t.example.com\" }",
	  ":1: tracking.base_url: 'https://u:p@t.example.com' must not hold a user", 1 },
	{ "base_url: a blank", "tracking { base_url = \"https://t.example.com/a b\" }",
	  ":1: tracking.base_url: 'https://t.example.com/a b'", 1 },
	{ "bad on_internal_error", "milter {\n  on_internal_error = reject\n}\n",
	  ":2: milter.on_internal_error: 'reject' is not one of accept, tempfail", 1 },
	{ "bad log_level", "milter { log_level = loud }",
	  ":1: milter.log_level: 'loud' is not one of error, warning, notice, info, debug", 1 },
	{ "bad rule direction", "rule \"r\" { direction = sideways }",
	  ":1: rule \"r\".direction: 'sideways' is not one of inbound, outbound, internal, any", 1 },
	{ "external is not a rule direction", "rule \"r\" { direction = external }",
	  ":1: rule \"r\".direction: 'external' is not one of", 1 },
	{ "bad crm type", "crm \"c\" { type = sugarcrm }",
	  ":1: crm \"c\".type: 'sugarcrm' is not one of ledger", 1 },
	{ "bad track word", "rule \"r\" {\n track = {opens, views}\n}",
	  ":2: rule \"r\".track: 'views' is not one of opens, clicks", 1 },
	{ "int below range", "spool {\n  max_attempts = 0\n}",
	  ":2: spool.max_attempts: '0' is out of range (1..100)", 1 },
	{ "int above range", "flusher { batch_size = 10001 }",
	  ":1: flusher.batch_size: '10001' is out of range (1..10000)", 1 },
	{ "not a number", "milter { max_recipients = 12abc }",
	  ":1: milter.max_recipients: '12abc' is not a whole number", 1 },
	{ "negative number", "spool { busy_timeout = -1 }",
	  ":1: spool.busy_timeout: '-1' is not a whole number", 1 },
	{ "bad size suffix", "milter {\n  max_message_size = 25X\n}",
	  ":2: milter.max_message_size: '25X' is not a size", 1 },
	{ "size below range", "milter { max_message_size = 10K }",
	  ":1: milter.max_message_size: '10K' is out of range (64K..2G)", 1 },
	{ "size above range", "milter { max_message_size = 3G }",
	  ":1: milter.max_message_size: '3G' is out of range (64K..2G)", 1 },
	{ "size that overflows", "milter { max_message_size = 99999999999999999G }",
	  ":1: milter.max_message_size: '99999999999999999G' is not a size", 1 },
	{ "bad octal mode", "milter { socket_mode = 0999 }",
	  ":1: milter.socket_mode: '0999' is not an octal mode", 1 },
	{ "mode out of range", "milter { socket_mode = 01777 }",
	  ":1: milter.socket_mode: '01777' is out of range (0..0777)", 1 },
	{ "bad CIDR prefix", "milter {\n  internal_networks = {\"127.0.0.0/8\",\n    \"10.0.0.0/33\"}\n}",
	  ":3: milter.internal_networks: '10.0.0.0/33' is not a network ADDRESS/PREFIX", 1 },
	{ "CIDR that is no address", "milter { internal_networks += {nonsense} }",
	  ":1: milter.internal_networks: 'nonsense' is not a network ADDRESS/PREFIX", 1 },
	{ "bad domain", "milter { internal_domains = {\"exa mple.com\"} }",
	  ":1: milter.internal_domains: 'exa mple.com' is not a domain", 1 },
	{ "relative path", "spool { path = \"spool.db\" }",
	  ":1: spool.path: 'spool.db' is not an absolute path", 1 },
	{ "bad socket", "milter { socket = \"tcp:8895\" }",
	  ":1: milter.socket: 'tcp:8895' is not a socket address", 1 },
	{ "socket port out of range", "milter { socket = \"inet:70000@localhost\" }",
	  ":1: milter.socket: 'inet:70000@localhost' is not a socket address", 1 },
	{ "empty string", "milter { user = \"\" }",
	  ":1: milter.user: the value must not be empty", 1 },
	{ "dangling save", "crm \"local\" { }\nrule \"r\" {\n  direction = outbound\n  save = \"remote\"\n}\n",
	  ":4: rule \"r\".save: there is no crm \"remote\"", 1 },
	{ "dangling save with the implicit crm", "rule \"r\" { save = \"local2\" }",
	  ":1: rule \"r\".save: there is no crm \"local2\"", 1 },
	{ "duplicate rule name", "rule \"a\" {}\nrule \"b\" {}\nrule \"a\" {}\n",
	  ":3: duplicate rule \"a\" (first at line 1)", 1 },
	{ "duplicate crm name", "crm \"c\" {}\n\ncrm \"c\" {}\n",
	  ":3: duplicate crm \"c\" (first at line 1)", 1 },
	{ "empty rule name", "rule \"\" {}", ":1: rule \"\": the title must not be empty", 1 },
	{ "syntax: missing equal sign", "milter {\n  socket \"unix:/x\"\n}\n",
	  ":2: milter: missing equal sign after option 'socket'", 1 },
	{ "syntax: stray closing brace", "milter { }\n}\n", ":2: unexpected closing brace", 1 },
	{ "syntax: section never closed", "milter {\n  max_recipients = 5\n",
	  ":1: this '{' is never closed", 1 },
	{ "syntax: unterminated comment", "milter {\n/* no end\n}\n",
	  ":2: unterminated comment", 0 },
	{ "body_memory_cap above max_message_size",
	  "milter {\n  max_message_size = 1M\n  body_memory_cap = 2M\n}\n",
	  ":3: milter.body_memory_cap: 2M is larger than max_message_size (1M)", 1 },
	{ "backoff_base above backoff_max", "spool {\n  backoff_max = 10\n  backoff_base = 11\n}\n",
	  ":3: spool.backoff_base: 11 is larger than backoff_max (10)", 1 },
	{ "lines stay right after comments", "# a\n# b\n// c\n/* d */\n/* e\n f */\nmilter {\n"
	  "  max_recipients = 0 # here\n}\n",
	  ":8: milter.max_recipients: '0' is out of range (1..100000)", 1 },
	{ "every error is reported", FOUR_ERRORS, ":1: rule \"r\".save: there is no crm \"nope\"", 4 },
};

/* One error case: the load fails and one error is exactly as wanted. */
static void
test_error(void **state)
{
	const error_case *c = *state;
	scratch s = scratch_write(c->text, -1);
	GPtrArray *errors = NULL;
	char *want = g_strconcat(s.path, c->want, NULL);
	gboolean found = FALSE;
	guint i;

	assert_null(config_load(s.path, &errors));
	assert_non_null(errors);
	for (i = 0; i < errors->len; i++)
		found = found || g_str_has_prefix(g_ptr_array_index(errors, i), want);
	if (!found || (c->count != 0 && errors->len != c->count)) {
		for (i = 0; i < errors->len; i++)
			print_error("got: %s\n", (char *)g_ptr_array_index(errors, i));
		fail_msg("%s: want %u error(s), one starting \"%s\"", c->label, c->count, want);
	}
	g_ptr_array_unref(errors);
	g_free(want);
	scratch_free(&s);
}

/* All errors of one file come back, each on its line, sorted by line. */
static void
test_all_errors_in_order(void **state)
{
	static const char *const want[] = {
		":1: rule \"r\".save: there is no crm \"nope\"",
		":3: milter.max_recipients: '0' is out of range (1..100000)",
		":4: milter.log_level: 'loud' is not one of",
		":7: spool.max_attempts: '1000' is out of range (1..100)",
	};
	scratch s = scratch_write(FOUR_ERRORS, -1);
	GPtrArray *errors = NULL;
	guint i;

	(void)state;
	assert_null(config_load(s.path, &errors));
	assert_int_equal(errors->len, G_N_ELEMENTS(want));
	for (i = 0; i < G_N_ELEMENTS(want); i++) {
		char *w = g_strconcat(s.path, want[i], NULL);

		assert_true(g_str_has_prefix(g_ptr_array_index(errors, i), w));
		g_free(w);
	}
	g_ptr_array_unref(errors);
	scratch_free(&s);
}

/* A missing file, a directory and a NUL byte are errors naming the file. */
static void
test_file_errors(void **state)
{
	scratch s = scratch_write("milter {\n}\n\0spool {}\n", 21);
	GPtrArray *errors = NULL;
	char *missing = g_build_filename(s.dir, "nope.conf", NULL);
	char *want;

	(void)state;
	assert_null(config_load(missing, &errors));
	want = g_strconcat(missing, ": cannot open: ", NULL);
	assert_int_equal(errors->len, 1);
	assert_true(g_str_has_prefix(g_ptr_array_index(errors, 0), want));
	g_free(want);
	g_clear_pointer(&errors, g_ptr_array_unref);

	assert_null(config_load(s.dir, &errors));
	want = g_strconcat(s.dir, ": not a regular file", NULL);
	assert_string_equal(g_ptr_array_index(errors, 0), want);
	g_free(want);
	g_clear_pointer(&errors, g_ptr_array_unref);

	/* a FIFO is refused at once, not waited on (the alarm: a hang fails) */
	assert_int_equal(mkfifo(missing, 0600), 0);
	alarm(5);
	assert_null(config_load(missing, &errors));
	alarm(0);
	want = g_strconcat(missing, ": not a regular file", NULL);
	assert_string_equal(g_ptr_array_index(errors, 0), want);
	g_free(want);
	g_clear_pointer(&errors, g_ptr_array_unref);
	g_unlink(missing);

	assert_null(config_load(s.path, &errors));
	want = g_strconcat(s.path, ":3: the file contains a NUL byte", NULL);
	assert_string_equal(g_ptr_array_index(errors, 0), want);
	g_free(want);
	g_clear_pointer(&errors, g_ptr_array_unref);

	assert_null(config_load(missing, NULL));   /* errors may be NULL */
	g_free(missing);
	scratch_free(&s);
}

/* ------------------------------------------------------------ the snapshot */

/* ref adds a reference, unref drops one and frees on the last; NULL-safe. */
static void
test_ref_unref(void **state)
{
	scratch s = scratch_write(ISSUE_EXAMPLE, -1);
	crm_config *cfg = load_ok(s.path);

	(void)state;
	assert_int_equal(cfg->refcnt, 1);
	assert_ptr_equal(config_ref(cfg), cfg);
	assert_int_equal(cfg->refcnt, 2);
	assert_null(config_unref(cfg));
	assert_int_equal(cfg->refcnt, 1);
	assert_string_equal(cfg->socket, "unix:/run/crm-milter/milter.sock");  /* still alive */
	assert_null(config_unref(cfg));           /* freed (the sanitizers check) */
	assert_null(config_unref(NULL));
	assert_null(config_ref(NULL));
	scratch_free(&s);
}

/* config_profile finds profiles by name only. */
static void
test_profile_lookup(void **state)
{
	scratch s = scratch_write("crm \"a\" {}\ncrm \"b\" {}\n", -1);
	crm_config *cfg = load_ok(s.path);

	(void)state;
	assert_string_equal(config_profile(cfg, "b")->name, "b");
	assert_int_equal(config_profile(cfg, "b")->line, 2);
	assert_null(config_profile(cfg, "local"));   /* no implicit one beside others */
	assert_null(config_profile(cfg, "B"));
	assert_null(config_profile(cfg, NULL));
	assert_null(config_profile(NULL, "a"));
	config_unref(cfg);
	scratch_free(&s);
}

/* Loads running in several threads at once all succeed (libconfuse is not
 * reentrant; the loader serialises it). */
static gpointer
load_many(gpointer path)
{
	int i, ok = 0;

	for (i = 0; i < 25; i++) {
		crm_config *cfg = config_load(path, NULL);

		ok += cfg != NULL && cfg->rules->len == 2;
		config_unref(cfg);
	}
	return GINT_TO_POINTER(ok);
}

/* Four threads load the same file 25 times each. */
static void
test_concurrent_loads(void **state)
{
	scratch s = scratch_write(ISSUE_EXAMPLE, -1);
	GThread *t[4];
	guint i;

	(void)state;
	for (i = 0; i < G_N_ELEMENTS(t); i++)
		t[i] = g_thread_new("load", load_many, s.path);
	for (i = 0; i < G_N_ELEMENTS(t); i++)
		assert_int_equal(GPOINTER_TO_INT(g_thread_join(t[i])), 25);
	scratch_free(&s);
}

/* direction_name and direction_parse agree on all five names. */
static void
test_directions(void **state)
{
	static const struct { const char *name; crm_direction dir; } cases[] = {
		{ "inbound", DIR_INBOUND }, { "outbound", DIR_OUTBOUND },
		{ "internal", DIR_INTERNAL }, { "external", DIR_EXTERNAL }, { "any", DIR_ANY },
	};
	crm_direction d;
	gsize i;

	(void)state;
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		assert_string_equal(direction_name(cases[i].dir), cases[i].name);
		assert_true(direction_parse(cases[i].name, &d));
		assert_int_equal(d, cases[i].dir);
	}
	assert_false(direction_parse("Inbound", &d));
	assert_false(direction_parse("", &d));
	assert_false(direction_parse(NULL, &d));
	assert_string_equal(direction_name((crm_direction)42), "unknown");
}

/* ------------------------------------------------------------ main */

/* One cmocka test per table row, then the other tests. */
int
main(void)
{
	struct CMUnitTest tests[G_N_ELEMENTS(valid_cases) + G_N_ELEMENTS(error_cases) + 6];
	gsize i, n = 0;

	for (i = 0; i < G_N_ELEMENTS(valid_cases); i++)
		tests[n++] = (struct CMUnitTest){ .name = valid_cases[i].label,
			.test_func = test_valid, .initial_state = (void *)&valid_cases[i] };
	for (i = 0; i < G_N_ELEMENTS(error_cases); i++)
		tests[n++] = (struct CMUnitTest){ .name = error_cases[i].label,
			.test_func = test_error, .initial_state = (void *)&error_cases[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_all_errors_in_order);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_file_errors);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_ref_unref);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_profile_lookup);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_concurrent_loads);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_directions);
	g_assert(n == G_N_ELEMENTS(tests));
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

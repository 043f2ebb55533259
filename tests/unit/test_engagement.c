/*
 * test_engagement.c - engagement_classify over the shipped data file
 * (conf/engagement.data) and over inline data for the file's semantics
 * (longest network, first section wins, IPv6, ranges files, applies);
 * the loader's errors (each names file:line); the event job's
 * idempotency key and metadata.
 *
 * Every table row is a label, an input and the expected result.
 * Requests are shaped like the real clients: Apple Mail Privacy
 * Protection's bare agent, Gmail's image proxy and prefetch agents,
 * desktop browsers, a HEAD link check, scanners from Microsoft's,
 * Proofpoint's and Barracuda's networks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "testutil.h"
#include "engagement.h"

#define UA_CHROME "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
#define UA_APPLE_MAIL "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
#define UA_GIP "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
#define UA_GMAIL_PREFETCH "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
	"Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0"
#define T0 1766400000     /* the event time of every case */
#define NO_SENT G_MININT64 /* sending time unknown */

typedef struct class_case {
	const char *label;
	eng_kind kind;
	const char *method;
	const char *ua;
	const char *ip;
	gint64 sent_ago;           /* seconds before T0 the message was sent; NO_SENT: unknown */
	guint burst;               /* links of the message clicked within the window */
	int window;                /* scanner_click_window */
	guint burst_param;         /* scanner_burst_links */
	eng_class want;
	const char *reason;        /* must appear in the reason */
} class_case;

/* Run one case against data. */
static void
check_case(const eng_data *data, const class_case *c)
{
	eng_event ev = { c->kind, c->method, c->ua, c->ip, T0,
	    c->sent_ago == NO_SENT ? -1 : T0 - c->sent_ago, c->burst };
	eng_params p = { c->window, c->burst_param };
	char *reason = NULL;
	eng_class got = engagement_classify(data, &ev, &p, &reason);

	if (got != c->want || reason == NULL || strstr(reason, c->reason) == NULL)
		fail_msg("%s: got %s (%s), want %s (%s)", c->label, engagement_class_name(got),
		    reason ? reason : "(null)", engagement_class_name(c->want), c->reason);
	g_free(reason);
}

/* ------------------------------------------------------------ the shipped file */

static const class_case shipped_cases[] = {
	{ "Apple MPP prefetch: bare agent", ENG_OPENED, "GET", "Mozilla/5.0", "172.224.226.5",
	  5, 0, 10, 3, ENG_PRIVACY_PROXY, "Apple Mail Privacy Protection: user agent is \"Mozilla/5.0\"" },
	{ "Apple MPP agent with outer blanks", ENG_OPENED, "GET", "  Mozilla/5.0 ", "17.58.1.1",
	  NO_SENT, 0, 10, 3, ENG_PRIVACY_PROXY, "Apple Mail Privacy Protection" },
	{ "Apple MPP agent in another case", ENG_OPENED, "GET", "MOZILLA/5.0", "17.58.1.1",
	  NO_SENT, 0, 10, 3, ENG_PRIVACY_PROXY, "Apple Mail Privacy Protection" },
	{ "Apple Mail without MPP is a person", ENG_OPENED, "GET", UA_APPLE_MAIL, "203.0.113.7",
	  3600, 0, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "bare agent on a click is not MPP (opens only)", ENG_CLICKED, "GET", "Mozilla/5.0", "203.0.113.7",
	  3600, 1, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "Google image proxy is a human open", ENG_OPENED, "GET", UA_GIP, "66.249.84.3",
	  2, 0, 10, 3, ENG_HUMAN, "Google image proxy: user agent contains \"GoogleImageProxy\"" },
	{ "Gmail prefetch agent", ENG_OPENED, "GET", UA_GMAIL_PREFETCH, "66.102.8.1",
	  1, 0, 10, 3, ENG_PRIVACY_PROXY, "Gmail prefetch" },
	{ "HEAD pixel request", ENG_OPENED, "HEAD", UA_CHROME, "203.0.113.7",
	  3600, 0, 10, 3, ENG_SCANNER, "HEAD request" },
	{ "HEAD link check", ENG_CLICKED, "HEAD", UA_CHROME, "203.0.113.7",
	  3600, 1, 10, 3, ENG_SCANNER, "HEAD request" },
	{ "HEAD wins over the image proxy agent", ENG_OPENED, "HEAD", UA_GIP, "66.249.84.3",
	  3600, 0, 10, 3, ENG_SCANNER, "HEAD request" },
	{ "no User-Agent", ENG_CLICKED, "GET", NULL, "203.0.113.7",
	  3600, 1, 10, 3, ENG_SCANNER, "no User-Agent" },
	{ "empty User-Agent", ENG_OPENED, "GET", "", "203.0.113.7",
	  3600, 0, 10, 3, ENG_SCANNER, "no User-Agent" },
	{ "blank User-Agent", ENG_OPENED, "GET", "   ", "203.0.113.7",
	  3600, 0, 10, 3, ENG_SCANNER, "no User-Agent" },
	{ "Safe Links click from Exchange Online", ENG_CLICKED, "GET", UA_CHROME, "40.107.3.4",
	  3600, 1, 10, 3, ENG_SCANNER, "Microsoft Defender for Office 365 (Safe Links): address in 40.107.0.0/16" },
	{ "open from Exchange Online is not judged by it (clicks only)", ENG_OPENED, "GET", UA_CHROME, "40.107.3.4",
	  3600, 0, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "last address of 104.47.0.0/17", ENG_CLICKED, "GET", UA_CHROME, "104.47.127.255",
	  3600, 1, 10, 3, ENG_SCANNER, "address in 104.47.0.0/17" },
	{ "first address after 104.47.0.0/17", ENG_CLICKED, "GET", UA_CHROME, "104.47.128.0",
	  3600, 1, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "IPv4-mapped IPv6 client (dual-stack socket)", ENG_CLICKED, "GET", UA_CHROME, "::ffff:40.92.1.1",
	  3600, 1, 10, 3, ENG_SCANNER, "address in 40.92.0.0/15" },
	{ "Office link check agent", ENG_CLICKED, "GET", "Microsoft Office Existence Discovery", "198.51.100.1",
	  3600, 1, 10, 3, ENG_SCANNER, "user agent contains \"Microsoft Office Existence Discovery\"" },
	{ "Proofpoint network", ENG_CLICKED, "GET", UA_CHROME, "67.231.150.1",
	  3600, 1, 10, 3, ENG_SCANNER, "Proofpoint: address in 67.231.144.0/20" },
	{ "Proofpoint /26", ENG_OPENED, "GET", UA_CHROME, "209.66.100.127",
	  3600, 0, 10, 3, ENG_SCANNER, "address in 209.66.100.64/26" },
	{ "just outside Proofpoint's /26", ENG_OPENED, "GET", UA_CHROME, "209.66.100.128",
	  3600, 0, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "Barracuda agent", ENG_CLICKED, "GET", "Mozilla/5.0 (compatible; Barracuda Link Protection)", "198.51.100.1",
	  3600, 1, 10, 3, ENG_SCANNER, "Barracuda: user agent contains \"Barracuda\"" },
	{ "Barracuda network", ENG_CLICKED, "GET", UA_CHROME, "209.222.87.10",
	  3600, 1, 10, 3, ENG_SCANNER, "Barracuda: address in 209.222.80.0/21" },
	{ "Mimecast agent, case ignored", ENG_CLICKED, "GET", "mimecast-url-protect/2.0", "198.51.100.1",
	  3600, 1, 10, 3, ENG_SCANNER, "Mimecast" },
	{ "click 3 s after sending", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  3, 1, 10, 3, ENG_SCANNER, "clicked 3 s after sending (less than 10 s)" },
	{ "click 9 s after sending", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  9, 1, 10, 3, ENG_SCANNER, "clicked 9 s after sending" },
	{ "click 10 s after sending is a person", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  10, 1, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "click just before the sending time (small clock skew)", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  -5, 1, 10, 3, ENG_SCANNER, "clicked 0 s after sending" },
	{ "click an hour before the sending time: the clocks differ, timing says nothing",
	  ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  -3600, 1, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "click 3 s after sending, window off", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  3, 1, 0, 3, ENG_HUMAN, "no sign of a machine" },
	{ "sending time unknown", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  NO_SENT, 1, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "open 1 s after sending is a person (timing judges clicks)", ENG_OPENED, "GET", UA_CHROME, "198.51.100.1",
	  1, 0, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "three links within the window", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  600, 3, 10, 3, ENG_SCANNER, "3 links of the message clicked within 10 s" },
	{ "five links within the window", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  600, 5, 10, 3, ENG_SCANNER, "5 links" },
	{ "two links is not a burst of three", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  600, 2, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "burst check off", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  600, 9, 10, 0, ENG_HUMAN, "no sign of a machine" },
	{ "burst needs the window", ENG_CLICKED, "GET", UA_CHROME, "198.51.100.1",
	  600, 9, 0, 3, ENG_HUMAN, "no sign of a machine" },
	{ "agent before timing: image proxy right after sending", ENG_OPENED, "GET", UA_GIP, "66.249.84.3",
	  0, 0, 10, 3, ENG_HUMAN, "Google image proxy" },
	{ "no client address", ENG_CLICKED, "GET", UA_CHROME, NULL,
	  3600, 1, 10, 3, ENG_HUMAN, "no sign of a machine" },
	{ "unparsable client address", ENG_CLICKED, "GET", UA_CHROME, "not-an-address",
	  3600, 1, 10, 3, ENG_HUMAN, "no sign of a machine" },
};

/* The shipped data file loads and judges every case as expected. */
static void
test_shipped(void **state)
{
	GError *e = NULL;
	eng_data *d = engagement_data_load(TEST_SRCDIR "/conf/engagement.data", &e);
	guint sections, agents, ranges;

	if (d == NULL)
		fail_msg("conf/engagement.data: %s", e->message);
	engagement_data_counts(d, &sections, &agents, &ranges);
	assert_int_equal(sections, 7);
	assert_true(agents >= 6);
	assert_true(ranges >= 12);
	for (gsize i = 0; i < G_N_ELEMENTS(shipped_cases); i++)
		check_case(d, &shipped_cases[i]);
	engagement_data_free(d);
}

/* Without data only the built-in checks hold. */
static void
test_no_data(void **state)
{
	static const class_case cases[] = {
		{ "bare agent is a person without data", ENG_OPENED, "GET", "Mozilla/5.0", "17.0.0.1",
		  NO_SENT, 0, 10, 3, ENG_HUMAN, "no sign of a machine" },
		{ "HEAD still a scanner", ENG_OPENED, "HEAD", UA_CHROME, NULL,
		  NO_SENT, 0, 10, 3, ENG_SCANNER, "HEAD request" },
		{ "timing still holds", ENG_CLICKED, "GET", UA_CHROME, NULL,
		  2, 1, 10, 3, ENG_SCANNER, "clicked 2 s after sending" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		check_case(NULL, &cases[i]);
}

/* ------------------------------------------------------------ file semantics */

typedef struct data_case {
	const char *label;
	const char *text;          /* "@CSV@" stands for a ranges file in a scratch dir */
	class_case c;
} data_case;

#define GET_OPEN(label, ip, want, reason) { label, ENG_OPENED, "GET", UA_CHROME, ip, 3600, 0, 10, 3, want, reason }
#define GET_CLICK(label, ip, want, reason) { label, ENG_CLICKED, "GET", UA_CHROME, ip, 3600, 1, 10, 3, want, reason }
#define AGENT_OPEN(label, ua, want, reason) { label, ENG_OPENED, "GET", ua, "198.51.100.1", 3600, 0, 10, 3, want, reason }

static const char nested[] =
    "[scanner Wide]\nrange = 10.0.0.0/8\n"
    "[privacy_proxy Narrow]\nrange = 10.1.0.0/16\n";
static const char dup_nets[] =
    "[human First]\nrange = 192.0.2.0/24\n"
    "[scanner Second]\nrange = 192.0.2.0/24\nrange = 198.51.100.0/24\n";
static const char v6[] =
    "# an IPv6 network and a host\n"
    "[scanner V6 Scanner]   # trailing comment\n"
    "range = 2001:db8::/32\n"
    "range = 2001:db9::1\n";
static const char agents[] =
    "[privacy_proxy Exact]\nagent-exact = Fetcher/1.0\n"
    "[scanner Sub]\nagent = fetcher\n"
    "[human Later]\nagent = fetcher/1.0\n";
static const char applies[] =
    "[scanner OpensOnly]\napplies = opens\nrange = 203.0.113.0/24\n"
    "[privacy_proxy ClicksOnly]\napplies = clicks\nrange = 203.0.113.0/24\n";
static const char everything[] = "[scanner All]\nrange = 0.0.0.0/0\nrange = ::/0\n";
static const char no_name[] = "[scanner]\nagent = probe\n";
static const char geofeed[] =
    "[privacy_proxy Relay]\napplies = opens\nranges-file = @CSV@\n";

static const data_case data_cases[] = {
	{ "longest network wins (inner)", nested,
	  GET_OPEN("", "10.1.2.3", ENG_PRIVACY_PROXY, "Narrow: address in 10.1.0.0/16") },
	{ "longest network wins (outer)", nested,
	  GET_OPEN("", "10.2.0.1", ENG_SCANNER, "Wide: address in 10.0.0.0/8") },
	{ "a network listed twice counts for the first section", dup_nets,
	  GET_OPEN("", "192.0.2.77", ENG_HUMAN, "First: address in 192.0.2.0/24") },
	{ "the second section keeps its own networks", dup_nets,
	  GET_OPEN("", "198.51.100.9", ENG_SCANNER, "Second") },
	{ "IPv6 network", v6,
	  GET_CLICK("", "2001:db8:1::1", ENG_SCANNER, "V6 Scanner: address in 2001:db8::/32") },
	{ "IPv6 outside", v6,
	  GET_CLICK("", "2001:db7::1", ENG_HUMAN, "no sign of a machine") },
	{ "IPv6 host", v6,
	  GET_CLICK("", "2001:db9::1", ENG_SCANNER, "address in 2001:db9::1/128") },
	{ "IPv6 host's neighbour", v6,
	  GET_CLICK("", "2001:db9::2", ENG_HUMAN, "no sign of a machine") },
	{ "exact agent first in file order", agents,
	  AGENT_OPEN("", "Fetcher/1.0", ENG_PRIVACY_PROXY, "Exact: user agent is \"Fetcher/1.0\"") },
	{ "exact agent does not match a longer agent", agents,
	  AGENT_OPEN("", "Fetcher/1.0 (x)", ENG_SCANNER, "Sub: user agent contains \"fetcher\"") },
	{ "applies = opens judges opens", applies,
	  GET_OPEN("", "203.0.113.5", ENG_SCANNER, "OpensOnly") },
	{ "applies = clicks judges clicks", applies,
	  GET_CLICK("", "203.0.113.5", ENG_PRIVACY_PROXY, "ClicksOnly") },
	{ "0.0.0.0/0 holds every IPv4 address", everything,
	  GET_OPEN("", "255.255.255.255", ENG_SCANNER, "All: address in 0.0.0.0/0") },
	{ "::/0 holds every IPv6 address", everything,
	  GET_OPEN("", "fe80::1", ENG_SCANNER, "All: address in ::/0") },
	{ "a section without a name is named by its class", no_name,
	  AGENT_OPEN("", "probe", ENG_SCANNER, "scanner: user agent contains \"probe\"") },
	{ "ranges file (RFC 8805 geofeed), IPv4", geofeed,
	  GET_OPEN("", "172.224.226.20", ENG_PRIVACY_PROXY, "Relay: address in 172.224.226.0/27") },
	{ "ranges file, IPv6", geofeed,
	  GET_OPEN("", "2a02:26f7:b3c0:4001::9", ENG_PRIVACY_PROXY, "address in 2a02:26f7:b3c0:4000::/50") },
	{ "ranges file, outside", geofeed,
	  GET_OPEN("", "172.224.226.32", ENG_HUMAN, "no sign of a machine") },
};

/* Write the geofeed-shaped ranges file into dir; returns its name. */
static const char *
write_geofeed(const char *dir)
{
	static const char csv[] =
	    "172.224.226.0/27,GB,GB-EN,London,\n"
	    "\n"
	    "# a comment line\n"
	    "2a02:26f7:b3c0:4000::/50,GB,GB-EN,London,\n";
	char *path = g_build_filename(dir, "egress.csv", NULL);

	assert_true(g_file_set_contents(path, csv, -1, NULL));
	g_free(path);
	return "egress.csv";
}

/* Each inline data text judges its case as expected. */
static void
test_data_semantics(void **state)
{
	char *dir = testutil_tmpdir();
	const char *csv = write_geofeed(dir);

	for (gsize i = 0; i < G_N_ELEMENTS(data_cases); i++) {
		const data_case *dc = &data_cases[i];
		char **parts = g_strsplit(dc->text, "@CSV@", -1);
		char *text = g_strjoinv(csv, parts);
		GError *e = NULL;
		eng_data *d = engagement_data_from_text(text, "inline", dir, &e);
		class_case c = dc->c;

		if (d == NULL)
			fail_msg("%s: %s", dc->label, e->message);
		c.label = dc->label;
		check_case(d, &c);
		engagement_data_free(d);
		g_strfreev(parts);
		g_free(text);
	}
	testutil_rmtree(dir);
	g_free(dir);
}

/* ------------------------------------------------------------ loader errors */

typedef struct error_case {
	const char *label;
	const char *text;
	const char *want;          /* the message must contain it */
} error_case;

static const error_case error_cases[] = {
	{ "key before any section", "# c\nagent = x\n", "t:2: 'agent = x' before any [CLASS NAME] section" },
	{ "unknown class", "[robot Bots]\n", "t:1: 'robot' is not a class" },
	{ "unclosed header", "\n[scanner Bots\n", "t:2: a section header is [CLASS NAME]" },
	{ "host bits set", "[scanner S]\nrange = 10.0.0.1/8\n", "t:2: range: '10.0.0.1/8' has address bits set beyond /8" },
	{ "prefix too long (IPv4)", "[scanner S]\nrange = 10.0.0.0/33\n", "t:2: range: '10.0.0.0/33': the prefix length must be 0 to 32" },
	{ "prefix too long (IPv6)", "[scanner S]\nrange = 2001:db8::/129\n", "t:2: range: '2001:db8::/129': the prefix length must be 0 to 128" },
	{ "prefix not a number", "[scanner S]\nrange = 10.0.0.0/x\n", "t:2: range:" },
	{ "bad address", "[scanner S]\nrange = 300.1.1.0/24\n", "t:2: range: '300.1.1.0/24' is not an address/prefix" },
	{ "IPv4-mapped network", "[scanner S]\nrange = ::ffff:10.0.0.0/104\n", "t:2: range: '::ffff:10.0.0.0/104' is not an address/prefix" },
	{ "bad applies", "[scanner S]\napplies = sometimes\n", "t:2: applies: 'sometimes' is not opens, clicks or both" },
	{ "unknown key", "[scanner S]\ncolour = red\n", "t:2: unknown key 'colour'" },
	{ "empty value", "[scanner S]\nagent =\n", "t:2: agent: the value is empty" },
	{ "value that is only a comment", "[scanner S]\nagent = # none\n", "t:2: agent: the value is empty" },
	{ "no equals sign", "[scanner S]\nagent Proofpoint\n", "t:2: expected KEY = VALUE or [CLASS NAME]" },
	{ "missing ranges file", "[scanner S]\nranges-file = /nonexistent/egress.csv\n",
	  "t:2: ranges-file: /nonexistent/egress.csv: No such file or directory" },
};

/* Every malformed file is refused with file:line and why. */
static void
test_errors(void **state)
{
	for (gsize i = 0; i < G_N_ELEMENTS(error_cases); i++) {
		GError *e = NULL;
		eng_data *d = engagement_data_from_text(error_cases[i].text, "t", NULL, &e);

		if (d != NULL || e == NULL || strstr(e->message, error_cases[i].want) == NULL)
			fail_msg("%s: got %s, want \"%s\"", error_cases[i].label,
			    e ? e->message : "(loaded)", error_cases[i].want);
		g_error_free(e);
	}
}

/* A bad line of a ranges file names that file and its line. */
static void
test_ranges_file_error(void **state)
{
	char *dir = testutil_tmpdir();
	char *csv = g_build_filename(dir, "bad.csv", NULL);
	char *want = g_strdup_printf("t:3: ranges-file: %s:2: '172.224.226.1/27' has address bits set", csv);
	GError *e = NULL;
	eng_data *d;

	assert_true(g_file_set_contents(csv, "172.224.226.0/27,GB\n172.224.226.1/27,GB\n", -1, NULL));
	d = engagement_data_from_text("[privacy_proxy R]\n\nranges-file = bad.csv\n", "t", dir, &e);
	assert_null(d);
	assert_non_null(e);
	if (strstr(e->message, want) == NULL)
		fail_msg("got %s, want %s", e->message, want);
	g_error_free(e);
	g_free(want);
	g_free(csv);
	testutil_rmtree(dir);
	g_free(dir);
}

/* A FIFO in place of the data file is refused at once, not waited on
 * (the alarm turns a hang into a failure). */
static void
test_data_fifo(void **state)
{
	char *dir = testutil_tmpdir();
	char *path = g_build_filename(dir, "engagement.data", NULL);
	GError *e = NULL;

	(void)state;
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5);
	assert_null(engagement_data_load(path, &e));
	alarm(0);
	assert_non_null(strstr(e->message, "not a regular file"));
	g_error_free(e);
	g_free(path);
	testutil_rmtree(dir);
	g_free(dir);
}

/* ------------------------------------------------------------ the job */

typedef struct job_case {
	const char *label;
	eng_kind kind;
	guint link;
	const char *target;
	eng_class cls;
	const char *ua;
	gint64 at;
	const char *key;           /* the idempotency key */
	const char *meta;          /* the metadata, exactly */
} job_case;

#define HEX "00112233445566778899aabb"

static const job_case job_cases[] = {
	{ "open", ENG_OPENED, 0, NULL, ENG_HUMAN, UA_CHROME, T0,
	  "event/opened/" HEX "/-/human/29440000",
	  "{\"kind\":\"opened\",\"message_track_id\":\"" HEX "\",\"class\":\"human\","
	  "\"reason\":\"r\",\"user_agent\":\"" UA_CHROME "\",\"at\":1766400000}" },
	{ "open 59 s later is the same bucket", ENG_OPENED, 0, NULL, ENG_HUMAN, UA_CHROME, T0 + 59,
	  "event/opened/" HEX "/-/human/29440000", NULL },
	{ "open 60 s later is the next bucket", ENG_OPENED, 0, NULL, ENG_HUMAN, UA_CHROME, T0 + 60,
	  "event/opened/" HEX "/-/human/29440001", NULL },
	{ "the scanner's open has its own key", ENG_OPENED, 0, NULL, ENG_SCANNER, NULL, T0,
	  "event/opened/" HEX "/-/scanner/29440000",
	  "{\"kind\":\"opened\",\"message_track_id\":\"" HEX "\",\"class\":\"scanner\","
	  "\"reason\":\"r\",\"user_agent\":null,\"at\":1766400000}" },
	{ "click", ENG_CLICKED, 3, "https://example.com/a?b=1&c=\"d\"", ENG_PRIVACY_PROXY, "", T0,
	  "event/clicked/" HEX "/3/privacy_proxy/29440000",
	  "{\"kind\":\"clicked\",\"message_track_id\":\"" HEX "\",\"link\":3,"
	  "\"target\":\"https://example.com/a?b=1&c=\\\"d\\\"\",\"class\":\"privacy_proxy\","
	  "\"reason\":\"r\",\"user_agent\":null,\"at\":1766400000}" },
	{ "another link of the same message", ENG_CLICKED, 4, "https://example.com/", ENG_HUMAN, UA_CHROME, T0,
	  "event/clicked/" HEX "/4/human/29440000", NULL },
};

/* Keys and metadata of event jobs. */
static void
test_job(void **state)
{
	for (gsize i = 0; i < G_N_ELEMENTS(job_cases); i++) {
		const job_case *c = &job_cases[i];
		char *key = engagement_idem_key(c->kind, HEX, c->link, c->cls, c->at);
		char *meta = engagement_meta(c->kind, HEX, c->link, c->target, c->cls, "r", c->ua, c->at);
		JsonParser *p = json_parser_new();

		if (strcmp(key, c->key) != 0)
			fail_msg("%s: key %s, want %s", c->label, key, c->key);
		if (c->meta != NULL && strcmp(meta, c->meta) != 0)
			fail_msg("%s: meta %s, want %s", c->label, meta, c->meta);
		if (!json_parser_load_from_data(p, meta, -1, NULL))
			fail_msg("%s: meta is not JSON: %s", c->label, meta);
		g_object_unref(p);
		g_free(key);
		g_free(meta);
	}
}

/* Names of the enums. */
static void
test_names(void **state)
{
	static const struct { int v; const char *cls, *kind; } rows[] = {
		{ 0, "human", "opened" }, { 1, "privacy_proxy", "clicked" }, { 2, "scanner", "unknown" },
		{ 9, "unknown", "unknown" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
		assert_string_equal(engagement_class_name((eng_class)rows[i].v), rows[i].cls);
		assert_string_equal(engagement_kind_name((eng_kind)rows[i].v), rows[i].kind);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_no_data),
		cmocka_unit_test(test_data_semantics),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_ranges_file_error),
		cmocka_unit_test(test_data_fifo),
		cmocka_unit_test(test_job),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("engagement", tests, NULL, NULL);
}

/*
 * test_decide.c - decision_make end to end on a real spool database
 * (test_decide_fixture.c), table-driven: every rule condition alone,
 * holding and not; first match; the actions; the sender controls
 * (control headers, dropbox, subject tag, never_log). Dynamics 365's five
 * inbound choices, correlation, bounces and the dry-run JSON are in
 * test_decide_corr.c; this file's main runs them all as one group.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "decide.h"
#include "lookups.h"
#include "message.h"
#include "testutil.h"
#include "test_decide.h"

/* ------------------------------------------------------------ messages */

#define PDF_B64 "JVBERi0xLjQKJSVFT0YK"
#define PNG_B64 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

/* A PDF attached to a plain-text note. */
static const char msg_pdf[] =
	"From: Alice Example <alice@example.com>\r\nTo: Bob Customer <bob@customer.test>\r\n"
	"Subject: Signed order form\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\n"
	"Message-ID: <pdf.1@example.com>\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
	"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThe order form.\r\n"
	"--b1\r\nContent-Type: application/pdf; name=\"order.pdf\"\r\n"
	"Content-Disposition: attachment; filename=\"order.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\n" PDF_B64 "\r\n--b1--\r\n";

/* HTML with a signature logo referenced by cid: (inline, not attached). */
static const char msg_cid[] =
	"From: Alice Example <alice@example.com>\r\nTo: Bob Customer <bob@customer.test>\r\n"
	"Subject: Thanks\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\n"
	"Message-ID: <cid.1@example.com>\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/related; boundary=\"r1\"; type=\"text/html\"\r\n\r\n"
	"--r1\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
	"<p>Thanks!</p><img src=\"cid:logo.png@01DD7A5F\">\r\n"
	"--r1\r\nContent-Type: image/png; name=\"logo.png\"\r\n"
	"Content-Disposition: inline; filename=\"logo.png\"\r\n"
	"Content-ID: <logo.png@01DD7A5F>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	PNG_B64 "\r\n--r1--\r\n";

/* A meeting request: the iCalendar is an alternative, not an attachment. */
static const char msg_calendar[] =
	"From: Alice Example <alice@example.com>\r\nTo: Bob Customer <bob@customer.test>\r\n"
	"Subject: Kick-off\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\n"
	"Message-ID: <cal.1@example.com>\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative; boundary=\"a1\"\r\n\r\n"
	"--a1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nKick-off on Monday.\r\n"
	"--a1\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<p>Kick-off on Monday.</p>\r\n"
	"--a1\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n"
	"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:kickoff-1\r\n"
	"DTSTART:20261207T090000Z\r\nSUMMARY:Kick-off\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	"--a1--\r\n";

/* ------------------------------------------------------------ conditions */

/* A rule "r" that saves to local when its one condition holds. */
#define RULE(cond) "rule \"r\" { " cond " save = \"local\" }\n"
#define HIT .rule = "r", .save = "local"
#define DROPBOX_CONF "capture { dropbox = \"crm@example.com\" }\n"

static const decide_case condition_cases[] = {
	/* direction */
	{ "direction inbound: outside to us", RULE("direction = inbound"),
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INNOTE("zed@nowhere.test"),
	  { .dir = "inbound", HIT } },
	{ "direction inbound: not outbound mail", RULE("direction = inbound"),
	  OUT("zed@nowhere.test"), .raw = NOTE, { .dir = "outbound" } },
	{ "direction outbound: alice to a customer", RULE("direction = outbound"),
	  OUT("bob@customer.test"), .raw = NOTE, { .dir = "outbound", HIT } },
	{ "direction outbound: not inbound mail", RULE("direction = outbound"),
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INNOTE("zed@nowhere.test"),
	  { .dir = "inbound" } },
	{ "direction internal: alice to a colleague", RULE("direction = internal"),
	  OUT("dan@example.com"), .raw = NOTE, { .dir = "internal", HIT } },
	{ "direction internal: not with one outside recipient", RULE("direction = internal"),
	  OUT("dan@example.com", "zed@nowhere.test"), .raw = NOTE, { .dir = "outbound" } },
	{ "direction any: relayed mail too", RULE("direction = any"),
	  MX("zed@nowhere.test", "someone@elsewhere.test"), .raw = INNOTE("zed@nowhere.test"),
	  { .dir = "external", HIT } },
	{ "no condition at all: every message", RULE(""),
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INNOTE("zed@nowhere.test"), { HIT } },
	/* from */
	{ "from glob *@example.com: alice", RULE("from = {\"*@example.com\"}"),
	  OUT("bob@customer.test"), .raw = NOTE, { HIT } },
	{ "from glob *@example.com: not a subdomain", RULE("from = {\"*@example.com\"}"),
	  SUBMIT("ann", "ann@sales.example.com", "bob@customer.test"), .raw = NOTE, { 0 } },
	{ "from glob *@example.com: not a longer domain", RULE("from = {\"*@example.com\"}"),
	  MX("ceo@example.com.evil.test", "alice@example.com"), .raw = INNOTE("ceo@example.com.evil.test"), { 0 } },
	{ "from bare domain: the domain", RULE("from = {\"customer.test\"}"),
	  MX("bob@customer.test", "alice@example.com"), .raw = INNOTE("bob@customer.test"), { HIT } },
	{ "from bare domain: a subdomain", RULE("from = {\"customer.test\"}"),
	  MX("bea@eu.customer.test", "alice@example.com"), .raw = INNOTE("bea@eu.customer.test"), { HIT } },
	{ "from bare domain: not a mere suffix", RULE("from = {\"customer.test\"}"),
	  MX("eve@notcustomer.test", "alice@example.com"), .raw = INNOTE("eve@notcustomer.test"), { 0 } },
	{ "from compares without case", RULE("from = {\"customer.test\"}"),
	  MX("Bob@Customer.TEST", "alice@example.com"), .raw = INNOTE("Bob@Customer.TEST"), { HIT } },
	{ "from: the null sender matches no pattern", RULE("from = {\"*\"}"),
	  MX("", "alice@example.com"), .raw = INNOTE("MAILER-DAEMON@mx.test"), { 0 } },
	/* to */
	{ "to: any recipient may match", RULE("to = {\"customer.test\"}"),
	  OUT("zed@nowhere.test", "bob@customer.test"), .raw = NOTE, { HIT } },
	{ "to: no recipient matches", RULE("to = {\"customer.test\"}"),
	  OUT("zed@nowhere.test", "lena@prospect.test"), .raw = NOTE, { 0 } },
	{ "to: glob over the address", RULE("to = {\"sales-*@example.com\"}"),
	  MX("zed@nowhere.test", "alice@example.com", "sales-emea@example.com"),
	  .raw = INNOTE("zed@nowhere.test"), { HIT } },
	/* auth_user */
	{ "auth_user glob matches", RULE("auth_user = {\"sales-*\"}"),
	  SUBMIT("sales-emea", "alice@example.com", "bob@customer.test"), .raw = NOTE, { HIT } },
	{ "auth_user compares without case", RULE("auth_user = {\"sales-*\"}"),
	  SUBMIT("Sales-EMEA", "alice@example.com", "bob@customer.test"), .raw = NOTE, { HIT } },
	{ "auth_user: another user", RULE("auth_user = {\"sales-*\"}"),
	  OUT("bob@customer.test"), .raw = NOTE, { 0 } },
	{ "auth_user: trusted network, not authenticated", RULE("auth_user = {\"*\"}"),
	  LAN("alice@example.com", "bob@customer.test"), .raw = NOTE, { .dir = "outbound" } },
	/* header */
	{ "header X-Mailer: outlook, any case", RULE("header = {\"X-Mailer: outlook\"}"),
	  OUT("bob@customer.test"), .raw = MAIL("alice@example.com", "bob@customer.test", "Hi",
	  "X-Mailer: Microsoft Outlook 16.0\r\n"), { HIT } },
	{ "header: the field name without case", RULE("header = {\"x-mailer: outlook\"}"),
	  OUT("bob@customer.test"), .raw = MAIL("alice@example.com", "bob@customer.test", "Hi",
	  "X-MAILER: Microsoft OUTLOOK 16.0\r\n"), { HIT } },
	{ "header: another value", RULE("header = {\"X-Mailer: outlook\"}"),
	  OUT("bob@customer.test"), .raw = MAIL("alice@example.com", "bob@customer.test", "Hi",
	  "X-Mailer: Apple Mail (2.3774.200.91.1.1)\r\n"), { 0 } },
	{ "header: the field is missing", RULE("header = {\"X-Mailer: outlook\"}"),
	  OUT("bob@customer.test"), .raw = NOTE, { 0 } },
	{ "header: several items, one missing", RULE("header = {\"X-Mailer: outlook\", \"X-Priority: ^1\"}"),
	  OUT("bob@customer.test"), .raw = MAIL("alice@example.com", "bob@customer.test", "Hi",
	  "X-Mailer: Microsoft Outlook 16.0\r\n"), { 0 } },
	{ "header: several items, all present", RULE("header = {\"X-Mailer: outlook\", \"X-Priority: ^1\"}"),
	  OUT("bob@customer.test"), .raw = MAIL("alice@example.com", "bob@customer.test", "Hi",
	  "X-Priority: 1 (Highest)\r\nX-Mailer: Microsoft Outlook 16.0\r\n"), { HIT } },
	{ "header: any copy of a repeated field", RULE("header = {\"X-Campaign: ^q4-launch$\"}"),
	  OUT("bob@customer.test"), .raw = MAIL("alice@example.com", "bob@customer.test", "Hi",
	  "X-Campaign: newsletter\r\nX-Campaign: Q4-Launch\r\n"), { HIT } },
	{ "header: no message, no header", RULE("header = {\"X-Mailer: outlook\"}"),
	  OUT("bob@customer.test"), NULL, NULL, { 0 } },
	/* subject */
	{ "subject regex matches", RULE("subject = \"^(re|aw): \""),
	  MX("bob@customer.test", "alice@example.com"), .file = "mail/inbound/02-gmail-reply.eml",
	  .want = { HIT, CORR("in-reply-to", MID_Q3_NEW, "opportunity:OPP-7"), .regarding = "opportunity:OPP-7" } },
	{ "subject regex does not match", RULE("subject = \"^(re|aw): \""),
	  OUT("bob@customer.test"), .raw = NOTE, { 0 } },
	{ "subject is decoded (RFC 2047) first", RULE("subject = \"^Rückfrage\""),
	  MX("juergen.mueller@customer.test", "alice@example.com"),
	  .file = "mail/inbound/15-non-ascii-headers.eml", .want = { HIT } },
	{ "subject: a message without one", RULE("subject = \".\""),
	  OUT("bob@customer.test"), .raw = "From: alice@example.com\r\nTo: bob@customer.test\r\n\r\nHi\r\n",
	  { 0 } },
	/* sender_known */
	{ "sender_known contact: a contact", RULE("sender_known = {contact}"),
	  MX("carol@customer.test", "alice@example.com"), .raw = INNOTE("carol@customer.test"), { HIT } },
	{ "sender_known contact: a lead is not", RULE("sender_known = {contact}"),
	  MX("lena@prospect.test", "alice@example.com"), .raw = INNOTE("lena@prospect.test"), { 0 } },
	{ "sender_known lead: a lead", RULE("sender_known = {lead}"),
	  MX("lena@prospect.test", "alice@example.com"), .raw = INNOTE("lena@prospect.test"), { HIT } },
	{ "sender_known lead: a contact is not", RULE("sender_known = {lead}"),
	  MX("carol@customer.test", "alice@example.com"), .raw = INNOTE("carol@customer.test"), { 0 } },
	{ "sender_known account: an account", RULE("sender_known = {account}"),
	  MX("info@acme.test", "alice@example.com"), .raw = INNOTE("info@acme.test"), { HIT } },
	{ "sender_known account: a contact is not", RULE("sender_known = {account}"),
	  MX("carol@customer.test", "alice@example.com"), .raw = INNOTE("carol@customer.test"), { 0 } },
	{ "sender_known user: alice", RULE("sender_known = {user}"),
	  OUT("bob@customer.test"), .raw = NOTE, { HIT } },
	{ "sender_known user: a contact is not", RULE("sender_known = {user}"),
	  MX("carol@customer.test", "alice@example.com"), .raw = INNOTE("carol@customer.test"), { 0 } },
	{ "sender_known any: a lead", RULE("sender_known = {any}"),
	  MX("lena@prospect.test", "alice@example.com"), .raw = INNOTE("lena@prospect.test"), { HIT } },
	{ "sender_known any: a stranger is not", RULE("sender_known = {any}"),
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INNOTE("zed@nowhere.test"), { 0 } },
	{ "sender_known none: a stranger", RULE("sender_known = {none}"),
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INNOTE("zed@nowhere.test"), { HIT } },
	{ "sender_known none: a contact is not", RULE("sender_known = {none}"),
	  MX("carol@customer.test", "alice@example.com"), .raw = INNOTE("carol@customer.test"), { 0 } },
	{ "sender_known: one address, two records", RULE("sender_known = {lead}"),
	  MX("sam@partner.test", "alice@example.com"), .raw = INNOTE("sam@partner.test"), { HIT } },
	{ "sender_known: looked up without case", RULE("sender_known = {contact}"),
	  MX("CAROL@customer.TEST", "alice@example.com"), .raw = INNOTE("CAROL@customer.TEST"), { HIT } },
	/* recipient_known */
	{ "recipient_known contact: one of two recipients", RULE("recipient_known = {contact}"),
	  OUT("zed@nowhere.test", "carol@customer.test"), .raw = NOTE, { HIT } },
	{ "recipient_known contact: none is", RULE("recipient_known = {contact}"),
	  OUT("zed@nowhere.test", "lena@prospect.test"), .raw = NOTE, { 0 } },
	{ "recipient_known user: inbound to alice", RULE("recipient_known = {user}"),
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INNOTE("zed@nowhere.test"), { HIT } },
	{ "recipient_known user: the sender does not count", RULE("recipient_known = {user}"),
	  OUT("zed@nowhere.test"), .raw = NOTE, { 0 } },
	{ "recipient_known any: a lead", RULE("recipient_known = {any}"),
	  OUT("lena@prospect.test"), .raw = NOTE, { HIT } },
	{ "recipient_known none: strangers only", RULE("recipient_known = {none}"),
	  OUT("zed@nowhere.test", "bob@customer.test"), .raw = NOTE, { HIT } },
	{ "recipient_known none: not with a contact", RULE("recipient_known = {none}"),
	  OUT("zed@nowhere.test", "carol@customer.test"), .raw = NOTE, { 0 } },
	/* reply_to_tracked */
	{ "reply_to_tracked yes: a reply to saved mail", RULE("reply_to_tracked = yes"),
	  MX("bob@customer.test", "alice@example.com"), .file = "mail/inbound/02-gmail-reply.eml",
	  .want = { HIT, CORR("in-reply-to", MID_Q3_NEW, "opportunity:OPP-7"), .regarding = "opportunity:OPP-7" } },
	{ "reply_to_tracked yes: a new message", RULE("reply_to_tracked = yes"),
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INNOTE("zed@nowhere.test"), { 0 } },
	{ "reply_to_tracked no: a new message", RULE("reply_to_tracked = no"),
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INNOTE("zed@nowhere.test"), { HIT } },
	{ "reply_to_tracked no: not a reply to saved mail", RULE("reply_to_tracked = no"),
	  MX("bob@customer.test", "alice@example.com"), .file = "mail/inbound/02-gmail-reply.eml",
	  .want = { CORR("in-reply-to", MID_Q3_NEW, "opportunity:OPP-7"), .regarding = "opportunity:OPP-7" } },
	/* dropbox */
	{ "dropbox yes: the dropbox is a recipient",
	  DROPBOX_CONF "rule \"r\" { dropbox = yes save = \"archive\" }\n",
	  OUT("bob@customer.test", "crm@example.com"), .raw = NOTE,
	  { .rule = "r", .save = "archive", .dropbox = TRUE, .rm_rcpts = "crm@example.com" } },
	{ "dropbox yes: no dropbox", DROPBOX_CONF RULE("dropbox = yes"),
	  OUT("bob@customer.test"), .raw = NOTE, { 0 } },
	{ "dropbox no: no dropbox", DROPBOX_CONF RULE("dropbox = no"),
	  OUT("bob@customer.test"), .raw = NOTE, { HIT } },
	{ "dropbox no: the rule fails, the dropbox still saves", DROPBOX_CONF RULE("dropbox = no"),
	  OUT("bob@customer.test", "crm@example.com"), .raw = NOTE,
	  { .save = "local", .dropbox = TRUE, .rm_rcpts = "crm@example.com" } },
	/* has_attachments */
	{ "has_attachments yes: a PDF", RULE("has_attachments = yes"),
	  OUT("bob@customer.test"), .raw = msg_pdf, { HIT } },
	{ "has_attachments no: not with a PDF", RULE("has_attachments = no"),
	  OUT("bob@customer.test"), .raw = msg_pdf, { 0 } },
	{ "has_attachments yes: a cid: logo is inline", RULE("has_attachments = yes"),
	  OUT("bob@customer.test"), .raw = msg_cid, { 0 } },
	{ "has_attachments no: a cid: logo only", RULE("has_attachments = no"),
	  OUT("bob@customer.test"), .raw = msg_cid, { HIT } },
	{ "has_attachments yes: an invitation's calendar part is not one", RULE("has_attachments = yes"),
	  OUT("bob@customer.test"), .raw = msg_calendar, { 0 } },
	{ "has_attachments no: an invitation", RULE("has_attachments = no"),
	  OUT("bob@customer.test"), .raw = msg_calendar, { HIT } },
	{ "has_attachments yes: Outlook logo plus PDF", RULE("has_attachments = yes"),
	  OUT("bob@customer.test", "carol@customer.test"), .file = "mail/outbound/01-outlook-new.eml", .want = { HIT } },
	{ "has_attachments yes: Exchange invite with invite.ics attached", RULE("has_attachments = yes"),
	  OUT("bob@customer.test", "carol@customer.test"), .file = "mail/outbound/09-calendar-invite.eml", .want = { HIT } },
	{ "has_attachments yes: plain text", RULE("has_attachments = yes"),
	  OUT("bob@customer.test"), .raw = NOTE, { 0 } },
	{ "has_attachments no: no message, no attachment condition holds", RULE("has_attachments = no"),
	  OUT("bob@customer.test"), NULL, NULL, { 0 } },
	{ "has_attachments yes: no message", RULE("has_attachments = yes"),
	  OUT("bob@customer.test"), NULL, NULL, { 0 } },
	/* size (NOTE is about 300 bytes) */
	{ "min_size: large enough", RULE("min_size = 100"), OUT("bob@customer.test"), .raw = NOTE, { HIT } },
	{ "min_size: too small", RULE("min_size = 4K"), OUT("bob@customer.test"), .raw = NOTE, { 0 } },
	{ "max_size: small enough", RULE("max_size = 4K"), OUT("bob@customer.test"), .raw = NOTE, { HIT } },
	{ "max_size: too large", RULE("max_size = 100"), OUT("bob@customer.test"), .raw = NOTE, { 0 } },
	{ "min_size and max_size: between", RULE("min_size = 100 max_size = 4K"),
	  OUT("bob@customer.test"), .raw = NOTE, { HIT } },
	{ "min_size: no message, size unknown", RULE("min_size = 1"), OUT("bob@customer.test"), NULL, NULL, { 0 } },
};

/* Every condition alone, holding and not. */
static void
test_conditions(void **state)
{
	decide_run_table(state, condition_cases, G_N_ELEMENTS(condition_cases));
}

/* min_size / max_size at the exact size of the message. */
static void
test_size_bounds(void **state)
{
	static const struct {
		const char *label;
		const char *option;  /* set to the message's size plus delta */
		gssize delta;
		gboolean hit;
	} cases[] = {
		{ "min_size = size", "min_size", 0, TRUE },
		{ "min_size = size + 1", "min_size", 1, FALSE },
		{ "max_size = size", "max_size", 0, TRUE },
		{ "max_size = size - 1", "max_size", -1, FALSE },
	};
	gssize size = (gssize)strlen(NOTE);

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *conf = g_strdup_printf("rule \"r\" { %s = %" G_GSSIZE_FORMAT " save = \"local\" }\n",
		    cases[i].option, size + cases[i].delta);
		decide_case c = { cases[i].label, conf, OUT("bob@customer.test"), .raw = NOTE,
		    { .rule = cases[i].hit ? "r" : NULL, .save = cases[i].hit ? "local" : NULL } };

		decide_run_table(state, &c, 1);
		g_free(conf);
	}
}

/* ------------------------------------------------------------ first match, actions */

static const decide_case rule_cases[] = {
	{ "first match wins",
	  "rule \"a\" { direction = outbound save = \"archive\" }\n"
	  "rule \"b\" { direction = outbound save = \"local\" }\n",
	  OUT("bob@customer.test"), .raw = NOTE, { .rule = "a", .save = "archive" } },
	{ "the first match decides even when it saves nothing",
	  "rule \"skip\" { to = {\"customer.test\"} save = no }\n"
	  "rule \"all\" { save = \"local\" }\n",
	  OUT("bob@customer.test"), .raw = NOTE, { .rule = "skip" } },
	{ "a rule that does not hold is passed over",
	  "rule \"in\" { direction = inbound save = \"archive\" }\n"
	  "rule \"out\" { direction = outbound save = \"local\" }\n",
	  OUT("bob@customer.test"), .raw = NOTE, { .rule = "out", .save = "local" } },
	{ "no rule matches: not saved",
	  "rule \"in\" { direction = inbound save = \"local\" }\n",
	  OUT("bob@customer.test"), .raw = NOTE, { .dir = "outbound" } },
	{ "no rules at all: not saved", "",
	  MX("carol@customer.test", "alice@example.com"), .raw = INNOTE("carol@customer.test"), { 0 } },
	{ "actions: save, track, regarding, category",
	  "rule \"deal\" { direction = outbound save = \"archive\" track = {opens, clicks}\n"
	  "  regarding = \"account:A-ACME\" category = \"Sales\" }\n",
	  OUT("info@acme.test"), .raw = NOTE,
	  { .rule = "deal", .save = "archive", .track = TRACK_OPENS | TRACK_CLICKS,
	    .regarding = "account:A-ACME", .category = "Sales" } },
	{ "actions: track opens only",
	  "rule \"r\" { save = \"local\" track = {opens} }\n",
	  OUT("bob@customer.test"), .raw = NOTE, { .rule = "r", .save = "local", .track = TRACK_OPENS } },
	{ "a recipient's directory record says do not follow: saved, not tracked",
	  "rule \"r\" { save = \"local\" track = {opens, clicks} }\n",
	  OUT("bob@customer.test", "olga@optout.test"), .raw = NOTE,
	  { .rule = "r", .save = "local", .why_no_track = "follow email: do not allow" } },
	{ "a recipient in tracking.never_track: saved, not tracked",
	  "rule \"r\" { save = \"local\" track = {opens, clicks} }\n"
	  "tracking { never_track = {\"customer.test\"} }\n",
	  OUT("bob@customer.test"), .raw = NOTE,
	  { .rule = "r", .save = "local", .why_no_track = "bob@customer.test is in never_track" } },
	{ "actions: save = no still reports regarding and category",
	  "rule \"r\" { save = no regarding = \"case:CAS-01234\" category = \"Support\" }\n",
	  OUT("bob@customer.test"), .raw = NOTE,
	  { .rule = "r", .regarding = "case:CAS-01234", .category = "Support" } },
};

/* First match, no match, and the rule's actions. */
static void
test_rules_and_actions(void **state)
{
	decide_run_table(state, rule_cases, G_N_ELEMENTS(rule_cases));
}

/* With no database to ask (the spool cannot be opened), opt-outs are
 * unknown: the message is saved but not tracked. */
static void
test_opt_out_unknown(void **state)
{
	crm_config *cfg = testutil_config("%s%s", DECIDE_BASE,
	    "rule \"r\" { save = \"local\" track = {opens, clicks} }\n");
	crm_message *msg = decide_load_message(NULL, NOTE);
	classify_input in = OUT("bob@customer.test");
	decide_lookups lk;
	lookup_ctx lc;
	crm_decision d;

	(void)state;
	lookups_init(&lk, &lc, NULL, "T", DECIDE_NOW);
	decision_make(cfg, &in, msg, &lk, &d);
	assert_string_equal(d.save, "local");
	assert_int_equal(d.track, 0);
	assert_non_null(d.why_no_track);
	assert_non_null(strstr(d.why_no_track, "cannot be read"));
	decision_clear(&d);
	message_free(msg);
	config_unref(cfg);
}

/* ------------------------------------------------------------ sender controls */

#define SAVE_OUT "rule \"out\" { direction = outbound save = \"archive\" regarding = \"account:A-ACME\" category = \"Sales\" }\n"
#define SAVE_IN "rule \"in\" { direction = inbound save = \"local\" category = \"Inbound\" }\n"
#define CTL(extra) MAIL("Alice Example <alice@example.com>", "Bob Customer <bob@customer.test>", \
	"Licence terms", extra)
#define INCTL(extra) MAIL("Zed <zed@nowhere.test>", "Alice Example <alice@example.com>", \
	"Licence terms", extra)

static const decide_case control_cases[] = {
	{ "X-CRM-Track: no beats a rule that saves", SAVE_OUT,
	  OUT("bob@customer.test"), .raw = CTL("X-CRM-Track: no\r\n"),
	  { .rule = "out", .regarding = "account:A-ACME", .category = "Sales",
	    .rm_headers = "X-CRM-Track", .why_not = "X-CRM-Track: no" } },
	{ "X-CRM-Track: NO in capitals", SAVE_OUT,
	  OUT("bob@customer.test"), .raw = CTL("X-CRM-Track: NO\r\n"),
	  { .rule = "out", .regarding = "account:A-ACME", .category = "Sales",
	    .rm_headers = "X-CRM-Track", .why_not = "X-CRM-Track: no" } },
	{ "X-CRM-Track: yes with no rule: the first profile", "",
	  OUT("bob@customer.test"), .raw = CTL("X-CRM-Track: yes\r\n"),
	  { .save = "local", .rm_headers = "X-CRM-Track" } },
	{ "X-CRM-Track: yes beats save = no", "rule \"quiet\" { save = no }\n",
	  OUT("bob@customer.test"), .raw = CTL("X-CRM-Track: yes\r\n"),
	  { .rule = "quiet", .save = "local", .rm_headers = "X-CRM-Track" } },
	{ "X-CRM-Track: yes keeps the rule's profile", SAVE_OUT,
	  OUT("bob@customer.test"), .raw = CTL("X-CRM-Track: yes\r\n"),
	  { .rule = "out", .save = "archive", .regarding = "account:A-ACME", .category = "Sales",
	    .rm_headers = "X-CRM-Track" } },
	{ "X-CRM-Regarding and X-CRM-Category beat the rule", SAVE_OUT,
	  OUT("bob@customer.test"),
	  .raw = CTL("X-CRM-Regarding: opportunity:OPP-42\r\nX-CRM-Category: Negotiation\r\n"),
	  { .rule = "out", .save = "archive", .regarding = "opportunity:OPP-42", .category = "Negotiation",
	    .rm_headers = "X-CRM-Regarding,X-CRM-Category" } },
	{ "Outlook message with all three control headers", SAVE_OUT,
	  OUT("bob@customer.test"), .file = "mail/outbound/13-control-headers.eml",
	  .want = { .rule = "out", .regarding = "opportunity:OPP-42", .category = "Negotiation",
	    .rm_headers = "X-CRM-Track,X-CRM-Regarding,X-CRM-Category", .why_not = "X-CRM-Track: no" } },
	{ "every copy is removed, the first one counts", SAVE_OUT,
	  OUT("bob@customer.test"),
	  .raw = CTL("X-CRM-Category: Pricing\r\nX-CRM-Track: yes\r\nX-CRM-Category: Legal\r\n"),
	  { .rule = "out", .save = "archive", .regarding = "account:A-ACME", .category = "Pricing",
	    .rm_headers = "X-CRM-Track,X-CRM-Category,X-CRM-Category" } },
	{ "a malformed X-CRM-Regarding is removed and ignored", SAVE_OUT,
	  OUT("bob@customer.test"), .raw = CTL("X-CRM-Regarding: the Acme deal\r\n"),
	  { .rule = "out", .save = "archive", .regarding = "account:A-ACME", .category = "Sales",
	    .rm_headers = "X-CRM-Regarding" } },
	{ "internal mail is trusted: X-CRM-Track: yes saves", "",
	  OUT("dan@example.com"), .raw = CTL("X-CRM-Track: yes\r\n"),
	  { .dir = "internal", .save = "local", .rm_headers = "X-CRM-Track" } },
	{ "inbound X-CRM-Track: yes is removed, not honoured", "",
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INCTL("X-CRM-Track: yes\r\n"),
	  { .dir = "inbound", .rm_headers = "X-CRM-Track" } },
	{ "inbound X-CRM-Track: no is removed, not honoured", SAVE_IN,
	  MX("zed@nowhere.test", "alice@example.com"), .raw = INCTL("X-CRM-Track: no\r\n"),
	  { .rule = "in", .save = "local", .category = "Inbound", .rm_headers = "X-CRM-Track" } },
	{ "inbound X-CRM-Regarding/Category are removed, not honoured", SAVE_IN,
	  MX("zed@nowhere.test", "alice@example.com"),
	  .raw = INCTL("X-CRM-Regarding: opportunity:OPP-42\r\nX-CRM-Category: Spam\r\n"),
	  { .rule = "in", .save = "local", .category = "Inbound",
	    .rm_headers = "X-CRM-Regarding,X-CRM-Category" } },
};

/* The control headers: honoured from trusted senders, always removed. */
static void
test_control_headers(void **state)
{
	decide_run_table(state, control_cases, G_N_ELEMENTS(control_cases));
}

#define TAG_CONF "capture { subject_tag = \"[crm]\" }\n"
#define NEVER_CONF "capture { never_log = {\"hr.example.com\", \"ceo@example.com\"}\n" \
	"  dropbox = \"crm@example.com\" subject_tag = \"[crm]\" }\n" \
	"rule \"all\" { direction = any save = \"local\" }\n"

static const decide_case dropbox_cases[] = {
	{ "dropbox: saved with no rule, removed, not a participant", DROPBOX_CONF,
	  OUT("bob@customer.test", "crm@example.com"), .raw = NOTE,
	  { .save = "local", .dropbox = TRUE, .rm_rcpts = "crm@example.com",
	    .participants = "alice@example.com,bob@customer.test" } },
	{ "dropbox: compared without case, removed as given", DROPBOX_CONF,
	  OUT("CRM@Example.COM", "bob@customer.test"), .raw = NOTE,
	  { .save = "local", .dropbox = TRUE, .rm_rcpts = "CRM@Example.COM",
	    .participants = "alice@example.com,bob@customer.test" } },
	{ "dropbox plus form sets the regarding record", DROPBOX_CONF,
	  OUT("bob@customer.test", "crm+opportunity-OPP-42@example.com"), .raw = NOTE,
	  { .save = "local", .dropbox = TRUE, .regarding = "opportunity:OPP-42",
	    .rm_rcpts = "crm+opportunity-OPP-42@example.com",
	    .participants = "alice@example.com,bob@customer.test" } },
	{ "dropbox plus form beats the rule's regarding", DROPBOX_CONF SAVE_OUT,
	  OUT("bob@customer.test", "crm+opportunity-OPP-42@example.com"), .raw = NOTE,
	  { .rule = "out", .save = "archive", .dropbox = TRUE, .regarding = "opportunity:OPP-42",
	    .category = "Sales", .rm_rcpts = "crm+opportunity-OPP-42@example.com" } },
	{ "X-CRM-Regarding beats the plus form", DROPBOX_CONF,
	  OUT("bob@customer.test", "crm+opportunity-OPP-42@example.com"),
	  .raw = CTL("X-CRM-Regarding: account:A-ACME\r\n"),
	  { .save = "local", .dropbox = TRUE, .regarding = "account:A-ACME",
	    .rm_headers = "X-CRM-Regarding", .rm_rcpts = "crm+opportunity-OPP-42@example.com" } },
	{ "dropbox plus form without a record: saved, no regarding", DROPBOX_CONF,
	  OUT("bob@customer.test", "crm+hello@example.com"), .raw = NOTE,
	  { .save = "local", .dropbox = TRUE, .rm_rcpts = "crm+hello@example.com" } },
	{ "not the dropbox: other local part or domain", DROPBOX_CONF,
	  OUT("xcrm@example.com", "crm2@example.com", "crm@example.org", "crm@example.com.evil.test"),
	  .raw = NOTE, { .participants = "alice@example.com,xcrm@example.com,crm2@example.com,"
	    "crm@example.org,crm@example.com.evil.test" } },
	{ "the dropbox alone: internal, saved", DROPBOX_CONF,
	  OUT("crm@example.com"), .raw = NOTE,
	  { .dir = "internal", .save = "local", .dropbox = TRUE, .rm_rcpts = "crm@example.com",
	    .participants = "alice@example.com" } },
	{ "Outlook with the dropbox in Bcc", DROPBOX_CONF,
	  OUT("bob@customer.test", "crm@example.com"), .file = "mail/outbound/12-dropbox-bcc.eml",
	  .want = { .save = "local", .dropbox = TRUE, .rm_rcpts = "crm@example.com" } },
	{ "dropbox with X-CRM-Track: no: removed, not saved", DROPBOX_CONF,
	  OUT("bob@customer.test", "crm@example.com"), .raw = CTL("X-CRM-Track: no\r\n"),
	  { .dropbox = TRUE, .rm_rcpts = "crm@example.com", .rm_headers = "X-CRM-Track",
	    .why_not = "X-CRM-Track: no" } },
	{ "inbound to the dropbox: removed, not saved, no regarding", DROPBOX_CONF,
	  MX("zed@nowhere.test", "alice@example.com", "crm+opportunity-OPP-42@example.com"),
	  .raw = INNOTE("zed@nowhere.test"),
	  { .dir = "inbound", .dropbox = TRUE, .rm_rcpts = "crm+opportunity-OPP-42@example.com",
	    .participants = "zed@nowhere.test,alice@example.com" } },
	/* subject tag */
	{ "subject tag: saved, stripped", TAG_CONF,
	  OUT("bob@customer.test"), .file = "mail/outbound/16-subject-tag.eml",
	  .want = { .save = "local", .subject = "Pricing update" } },
	{ "subject tag inside a reply subject, any case", TAG_CONF,
	  OUT("bob@customer.test"), .raw = MAIL("alice@example.com", "bob@customer.test",
	  "RE: [CRM] Pricing update", ""), { .save = "local", .subject = "RE: Pricing update" } },
	{ "subject tag keeps the rule's profile", TAG_CONF SAVE_OUT,
	  OUT("bob@customer.test"), .file = "mail/outbound/16-subject-tag.eml",
	  .want = { .rule = "out", .save = "archive", .regarding = "account:A-ACME", .category = "Sales",
	    .subject = "Pricing update" } },
	{ "no subject tag: nothing", TAG_CONF,
	  OUT("bob@customer.test"), .raw = NOTE, { 0 } },
	{ "inbound subject tag: not honoured", TAG_CONF,
	  MX("zed@nowhere.test", "alice@example.com"), .raw = MAIL("zed@nowhere.test",
	  "alice@example.com", "[crm] Pricing update", ""), { .dir = "inbound" } },
	/* never_log */
	{ "never_log: the sender's address", NEVER_CONF,
	  SUBMIT("ceo", "ceo@example.com", "bob@customer.test"), .raw = NOTE,
	  { .rule = "all", .why_not = "ceo@example.com is in never_log" } },
	{ "never_log: the address without case", NEVER_CONF,
	  SUBMIT("ceo", "CEO@Example.com", "bob@customer.test"), .raw = NOTE,
	  { .rule = "all", .why_not = "ceo@example.com is in never_log" } },
	{ "never_log: a recipient's domain", NEVER_CONF,
	  OUT("bob@customer.test", "jo@hr.example.com"), .raw = NOTE,
	  { .rule = "all", .why_not = "jo@hr.example.com is in never_log" } },
	{ "never_log: a subdomain of a listed domain", NEVER_CONF,
	  OUT("pay@payroll.hr.example.com"), .raw = NOTE,
	  { .rule = "all", .why_not = "pay@payroll.hr.example.com is in never_log" } },
	{ "never_log: inbound from a listed address", NEVER_CONF,
	  MX("zed@nowhere.test", "ceo@example.com"), .raw = INNOTE("zed@nowhere.test"),
	  { .rule = "all", .why_not = "ceo@example.com is in never_log" } },
	{ "never_log: not a similar address or domain", NEVER_CONF,
	  SUBMIT("ceo2", "ceo2@example.com", "jo@nothr.example.com"), .raw = NOTE,
	  { .rule = "all", .save = "local" } },
	{ "never_log beats X-CRM-Track: yes", NEVER_CONF,
	  SUBMIT("ceo", "ceo@example.com", "bob@customer.test"), .raw = CTL("X-CRM-Track: yes\r\n"),
	  { .rule = "all", .rm_headers = "X-CRM-Track", .why_not = "ceo@example.com is in never_log" } },
	{ "never_log beats the dropbox", NEVER_CONF,
	  SUBMIT("ceo", "ceo@example.com", "bob@customer.test", "crm@example.com"), .raw = NOTE,
	  { .rule = "all", .dropbox = TRUE, .rm_rcpts = "crm@example.com",
	    .why_not = "ceo@example.com is in never_log" } },
	{ "never_log beats the subject tag", NEVER_CONF,
	  SUBMIT("ceo", "ceo@example.com", "bob@customer.test"), .file = "mail/outbound/16-subject-tag.eml",
	  .want = { .rule = "all", .subject = "Pricing update", .why_not = "ceo@example.com is in never_log" } },
};

/* The dropbox address, the subject tag and never_log. */
static void
test_dropbox_tag_never_log(void **state)
{
	decide_run_table(state, dropbox_cases, G_N_ELEMENTS(dropbox_cases));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_size_bounds),
		cmocka_unit_test(test_rules_and_actions),
		cmocka_unit_test(test_opt_out_unknown),
		cmocka_unit_test(test_control_headers),
		cmocka_unit_test(test_dropbox_tag_never_log),
		cmocka_unit_test(test_dynamics_choices),
		cmocka_unit_test(test_correlation),
		cmocka_unit_test(test_correlation_order),
		cmocka_unit_test(test_bounces),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests_name("decide", tests, decide_fixture_setup,
	    decide_fixture_teardown);
}

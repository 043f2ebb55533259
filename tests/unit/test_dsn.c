/*
 * test_dsn.c - dsn_parse and dsn_from_message on sample notifications in
 * tests/data/dsn (shaped like Postfix, Exchange Online, Gmail, Sendmail
 * and a generic multi-recipient report, plus an auto-reply, a read
 * receipt and two malformed reports), on inline messages for the edge
 * cases (fallbacks for the original Message-ID, encodings, RFC 6533), and
 * on hostile input: every sample cut short, seeded random bytes inside a
 * report, 10,000 recipients, oversized fields and blocks.
 *
 * Each table row names its input and what must come out: not a DSN, an
 * unusable DSN (the error code), or the report's fields and each
 * recipient's address, action, status and failure verdict. File cases
 * run through both entry points (raw bytes, and a message parsed first).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"
#include <glib.h>

#include "activity.h"
#include "dsn.h"

typedef enum want_kind { NOT_DSN, IS_DSN, UNUSABLE } want_kind;

typedef struct rcpt_want {
	const char *addr;
	const char *action;
	const char *status;
	gboolean failure;
} rcpt_want;

/* What one input must give. Strings are compared exactly (NULL: must be
 * NULL); diagnostic, remote_mta and orig_rcpt are the first recipient's. */
typedef struct dsn_want {
	want_kind kind;
	int error_code;             /* UNUSABLE */
	const char *reporting_mta;
	const char *msgid;
	dsn_original_source source;
	const char *envid;
	const char *diagnostic;
	const char *remote_mta;
	const char *orig_rcpt;
	gboolean truncated;
	guint n_rcpts;
	rcpt_want rcpts[4];
} dsn_want;

typedef struct file_case {
	const char *label;
	const char *file;           /* under tests/data/dsn */
	dsn_want want;
} file_case;

typedef struct inline_case {
	const char *label;
	const char *raw;
	dsn_want want;
} inline_case;

static const file_case file_cases[] = {
	{ "postfix bounce, message/rfc822 original", "postfix-bounce.eml",
	  { IS_DSN, 0, "mail.example.com", "a1b2c3d4-5e6f-4a0b-9c8d-7e6f5a4b3c2d@example.com",
	    DSN_ORIGINAL_RETURNED, NULL,
	    "550 5.1.1 <bob.smith@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
	    "mx1.example.net", "bob.smith@example.net", FALSE, 1,
	    { { "bob.smith@example.net", "failed", "5.1.1", TRUE } } } },
	{ "postfix delay, text/rfc822-headers original", "postfix-delay.eml",
	  { IS_DSN, 0, "mail.example.com", "5f0e9c1a-77b2-4d3e-a8f4-0c2b6d9e1a57@example.com",
	    DSN_ORIGINAL_RETURNED, NULL,
	    "connect to mx.slow.example.org[203.0.113.7]:25: Connection timed out",
	    NULL, "purchasing@slow.example.org", FALSE, 1,
	    { { "purchasing@slow.example.org", "delayed", "4.4.1", FALSE } } } },
	{ "exchange online NDR, CRLF, headers original", "exchange-online-ndr.eml",
	  { IS_DSN, 0, "DM6PR11MB4107.namprd11.prod.outlook.com",
	    "DM6PR11MB41071F2E3D4C5B6A79880A1B2C3D4E5FA@DM6PR11MB4107.namprd11.prod.outlook.com",
	    DSN_ORIGINAL_RETURNED, NULL,
	    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient d.ortiz@fabrikam.example not found by SMTP address lookup",
	    "fabrikam-example.mail.protection.outlook.com", NULL, FALSE, 1,
	    { { "d.ortiz@fabrikam.example", "failed", "5.1.10", TRUE } } } },
	{ "exchange NDR to an external sender, message/rfc822 original", "exchange-external-ndr.eml",
	  { IS_DSN, 0, "AM9PR02MB7410.eurprd02.prod.outlook.com",
	    "0F2B6C1D-7E4A-4C8B-9D3E-5A6F7B8C9D0E@example.com", DSN_ORIGINAL_RETURNED, NULL,
	    "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException",
	    NULL, "f.weber@fabrikam.example", FALSE, 1,
	    { { "f.weber@fabrikam.example", "failed", "5.2.2", TRUE } } } },
	{ "gmail bounce from mailer-daemon@googlemail.com", "gmail-bounce.eml",
	  { IS_DSN, 0, "googlemail.com",
	    "CAH7kPq3vX9eT2mLr8Bw4nZ1sJd6Fg0yUcK5aQp2Ro7iE3tV4Nw@mail.gmail.com",
	    DSN_ORIGINAL_RETURNED, NULL,
	    "550-5.1.1 The mailbox you wrote to does not exist here. Please 550-5.1.1 check the "
	    "address for typos or extra spaces. 550 5.1.1 a640c23a62f3a-9a1b2c3d4e5f.12 - gsmtp",
	    "gmail-smtp-in.l.google.com. (2a00:1450:4025:401::1a, the server for the domain gmail.com.)",
	    NULL, FALSE, 1,
	    { { "nobody.here.2024@gmail.com", "failed", "5.1.1", TRUE } } } },
	{ "sendmail bounce, upper-case types", "sendmail-bounce.eml",
	  { IS_DSN, 0, "smtp.example.org", "000001db3779$5c2a1f80$147e5e80$@example.com",
	    DSN_ORIGINAL_RETURNED, NULL,
	    "550 5.1.1 <henry@lists.example.org>... User unknown", "mailhost.example.org",
	    NULL, FALSE, 1,
	    { { "henry@lists.example.org", "failed", "5.1.1", TRUE } } } },
	{ "three recipients: failed, delayed, relayed (x-local falls back)", "multi-recipient.eml",
	  { IS_DSN, 0, "mx.partner.example", "b7c1e2f0-3a94-4c58-9e1d-6f2a8b3c4d5e@example.com",
	    DSN_ORIGINAL_RETURNED, "7Hq2kR9xLm4v", "552 5.2.2 Mailbox quota exceeded",
	    "store1.partner.example", NULL, FALSE, 3,
	    { { "sales@partner.example", "failed", "5.2.2", TRUE },
	      { "logistics@partner.example", "delayed", "4.4.7", FALSE },
	      { "john.doe@partner.example", "relayed", "2.0.0", FALSE } } } },
	{ "original part missing: envelope id only, no Message-ID", "missing-original.eml",
	  { IS_DSN, 0, "relay.example.net", NULL, DSN_ORIGINAL_NONE, "crm-0d9f3b7a21c4",
	    "552 5.3.4 Message size exceeds fixed limit", "mx.example.net", NULL, FALSE, 1,
	    { { "kim@example.net", "failed", "5.3.4", TRUE } } } },
	{ "out-of-office auto-reply is not a DSN", "autoreply.eml", { .kind = NOT_DSN } },
	{ "read receipt (disposition-notification) is not a DSN", "mdn-read-receipt.eml", { .kind = NOT_DSN } },
	{ "malformed report: garbage lines, missing fields", "malformed-garbage.eml",
	  { IS_DSN, 0, "gw.oddball.example", NULL, DSN_ORIGINAL_NONE, NULL,
	    "550 5.7.1 relaying denied", NULL, NULL, FALSE, 2,
	    { { "grace@example.org", "failed", "5.7.1", TRUE },
	      { "mia@oddball.example", NULL, NULL, FALSE } } } },
	{ "report without a readable recipient is unusable", "malformed-norecipients.eml",
	  { .kind = UNUSABLE, .error_code = DSN_ERROR_NO_RECIPIENTS } },
};

#define HDRS "From: MAILER-DAEMON@mx.example.net\nTo: alice@example.com\n" \
	"Subject: Undelivered Mail\nMIME-Version: 1.0\n"
#define REPORT(rt) "Content-Type: multipart/report; " rt "boundary=\"BB\"\n\n"
#define STATUS(body) "--BB\nContent-Type: message/delivery-status\n\n" body "\n"
#define HEADERS_PART(h) "--BB\nContent-Type: text/rfc822-headers\n\n" h "\n"
#define END "--BB--\n"
#define RCPT_BLOCK "Final-Recipient: rfc822; bob@example.net\nAction: failed\nStatus: 5.1.1\n"
#define BOB { { "bob@example.net", "failed", "5.1.1", TRUE } }

static const inline_case inline_cases[] = {
	{ "no report-type, but a delivery-status child",
	  HDRS REPORT("") STATUS("Reporting-MTA: dns; mx.example.net\n\n" RCPT_BLOCK)
	  HEADERS_PART("Message-ID: <m1@example.com>") END,
	  { IS_DSN, 0, "mx.example.net", "m1@example.com", DSN_ORIGINAL_RETURNED, .n_rcpts = 1, .rcpts = BOB } },
	{ "feedback report is not a DSN",
	  HDRS REPORT("report-type=feedback-report; ") STATUS(RCPT_BLOCK) END, { .kind = NOT_DSN } },
	{ "plain text message is not a DSN",
	  "From: a@example.com\nTo: b@example.net\nSubject: hi\n\nFinal-Recipient: rfc822; b@example.net\n",
	  { .kind = NOT_DSN } },
	{ "DSN forwarded as an attachment is not a DSN",
	  "From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"FW\"\n\n"
	  "--FW\nContent-Type: text/plain\n\nsee below\n--FW\nContent-Type: message/rfc822\n\n"
	  HDRS REPORT("report-type=delivery-status; ") STATUS(RCPT_BLOCK) END "--FW--\n",
	  { .kind = NOT_DSN } },
	{ "no delivery-status part is unusable",
	  HDRS REPORT("report-type=delivery-status; ") "--BB\nContent-Type: text/plain\n\nfailed\n" END,
	  { .kind = UNUSABLE, .error_code = DSN_ERROR_NO_STATUS } },
	{ "no original part: X-Original-Message-ID",
	  HDRS "In-Reply-To: <irt@example.com>\n" REPORT("report-type=delivery-status; ")
	  STATUS("Reporting-MTA: dns; mx.example.net\nX-Original-Message-ID: <xo@example.com>\n\n" RCPT_BLOCK) END,
	  { IS_DSN, 0, "mx.example.net", "xo@example.com", DSN_ORIGINAL_STATUS_FIELD, .n_rcpts = 1, .rcpts = BOB } },
	{ "no original part: the DSN's In-Reply-To",
	  HDRS "In-Reply-To: <irt@example.com> <other@example.com>\n" REPORT("report-type=delivery-status; ")
	  STATUS("Reporting-MTA: dns; mx.example.net\n\n" RCPT_BLOCK) END,
	  { IS_DSN, 0, "mx.example.net", "irt@example.com", DSN_ORIGINAL_IN_REPLY_TO, .n_rcpts = 1, .rcpts = BOB } },
	{ "returned headers without Message-ID: In-Reply-To",
	  HDRS "In-Reply-To: <irt@example.com>\n" REPORT("report-type=delivery-status; ")
	  STATUS(RCPT_BLOCK) HEADERS_PART("Subject: no id here") END,
	  { IS_DSN, 0, NULL, "irt@example.com", DSN_ORIGINAL_IN_REPLY_TO, .n_rcpts = 1, .rcpts = BOB } },
	{ "base64 delivery-status part",
	  HDRS REPORT("report-type=delivery-status; ")
	  "--BB\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
	  "UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlLm5ldAoKRmluYWwtUmVjaXBpZW50OiByZmM4\n"
	  "MjI7IGJvYkBleGFtcGxlLm5ldApBY3Rpb246IGZhaWxlZApTdGF0dXM6IDUuMS4xCg==\n" END,
	  { IS_DSN, 0, "mx.example.net", NULL, DSN_ORIGINAL_NONE, .n_rcpts = 1, .rcpts = BOB } },
	{ "RFC 6533 global report with UTF-8 addresses",
	  HDRS REPORT("report-type=global-delivery-status; ")
	  "--BB\nContent-Type: message/global-delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
	  "Final-Recipient: utf-8; Jos\xc3\xa9@\xc3\xa9xample.example\nAction: failed\nStatus: 5.1.1\n\n"
	  "--BB\nContent-Type: message/global-headers\n\nMessage-ID: <g\xc3\xbcl@example.com>\n" END,
	  { IS_DSN, 0, "mx.example.net", "g\xc3\xbcl@example.com", DSN_ORIGINAL_RETURNED, .n_rcpts = 1,
	    .rcpts = { { "jos\xc3\xa9@\xc3\xa9xample.example", "failed", "5.1.1", TRUE } } } },
	{ "CRLF, no per-message block, runs of blank lines",
	  "From: a@example.net\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; "
	  "report-type=delivery-status; boundary=\"BB\"\r\n\r\n--BB\r\n"
	  "Content-Type: message/delivery-status\r\n\r\n\r\n\r\n"
	  "Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\r\n\r\n"
	  "Final-Recipient: rfc822; carl@example.net\r\nAction: delayed\r\nStatus: 4.2.2\r\n--BB--\r\n",
	  { IS_DSN, 0, NULL, NULL, DSN_ORIGINAL_NONE, .n_rcpts = 2,
	    .rcpts = { { "bob@example.net", "failed", "5.1.1", TRUE },
	               { "carl@example.net", "delayed", "4.2.2", FALSE } } } },
	{ "Original-Recipient only",
	  HDRS REPORT("report-type=delivery-status; ")
	  STATUS("Original-Recipient: rfc822; Bob@Example.NET\nAction: failed\nStatus: 5.1.1") END,
	  { IS_DSN, 0, NULL, NULL, DSN_ORIGINAL_NONE, .orig_rcpt = "bob@example.net", .n_rcpts = 1, .rcpts = BOB } },
	{ "a block declaring its own MIME type does not hide the next one",
	  HDRS REPORT("report-type=delivery-status; ")
	  STATUS("Final-Recipient: rfc822; x@example.net\nContent-Type: multipart/mixed; boundary=zz\n"
	         "Action: failed\n\n--zz\nA: b\n\n" RCPT_BLOCK) END,
	  { IS_DSN, 0, NULL, NULL, DSN_ORIGINAL_NONE, .n_rcpts = 1, .rcpts = BOB } },
	{ "status codes: comment kept out, bad codes dropped, failure from status",
	  HDRS REPORT("report-type=delivery-status; ")
	  STATUS("Final-Recipient: rfc822; a@example.net\nStatus: 5.4.14(loop)\n\n"
	         "Final-Recipient: rfc822; b@example.net\nAction: failed\nStatus: 550\n\n"
	         "Final-Recipient: rfc822; c@example.net\nAction: delivered\nStatus: 2.1234.5\n\n"
	         "Final-Recipient: rfc822; d@example.net\nAction: Delayed\nStatus: 4.0.0\n") END,
	  { IS_DSN, 0, NULL, NULL, DSN_ORIGINAL_NONE, .n_rcpts = 4,
	    .rcpts = { { "a@example.net", NULL, "5.4.14", TRUE }, { "b@example.net", "failed", NULL, TRUE },
	               { "c@example.net", "delivered", NULL, FALSE }, { "d@example.net", "delayed", "4.0.0", FALSE } } } },
	{ "typed fields: only a one-word type is cut off",
	  HDRS REPORT("report-type=delivery-status; ")
	  STATUS("Reporting-MTA: mx.example.net\n\nFinal-Recipient: <bob@example.net>\nAction: failed\n"
	         "Status: 5.1.1\nRemote-MTA: DNS ;mx2.example.net\n"
	         "Diagnostic-Code: 550 mailbox full; try later\n") END,
	  { IS_DSN, 0, "mx.example.net", NULL, DSN_ORIGINAL_NONE, .diagnostic = "550 mailbox full; try later",
	    .remote_mta = "mx2.example.net", .n_rcpts = 1, .rcpts = BOB } },
	{ "blank lines count toward the block cap",
	  NULL /* built in test_inline */, { .kind = UNUSABLE, .error_code = DSN_ERROR_NO_RECIPIENTS } },
};

/* A sample file as bytes (fails the test when missing). */
static GBytes *
load_sample(const char *name)
{
	char *path = g_build_filename(TEST_SRCDIR, "tests", "data", "dsn", name, NULL);
	char *data = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, NULL))
		fail_msg("cannot read %s", path);
	g_free(path);
	return g_bytes_new_take(data, len);
}

/* Parse bytes into a message the way the milter does (caller unrefs). */
static GMimeMessage *
parse_message(GBytes *raw)
{
	gsize len;
	const char *data = g_bytes_get_data(raw, &len);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);

	g_object_unref(p);
	g_object_unref(s);
	return m;
}

/* A string is NULL or valid UTF-8 within the field cap. */
static void
check_field(const char *s)
{
	if (s == NULL)
		return;
	assert_true(g_utf8_validate(s, -1, NULL));
	assert_true(strlen(s) <= DSN_MAX_FIELD);
	assert_true(s[0] != '\0');
}

/* What every report promises, whatever the input. */
static void
check_invariants(const dsn_report *rep)
{
	assert_non_null(rep->recipients);
	assert_true(rep->recipients->len >= 1 && rep->recipients->len <= DSN_MAX_RECIPIENTS);
	check_field(rep->reporting_mta);
	check_field(rep->original_message_id);
	check_field(rep->original_envelope_id);
	assert_true((rep->original_message_id == NULL) == (rep->original_source == DSN_ORIGINAL_NONE));
	for (guint i = 0; i < rep->recipients->len; i++) {
		const dsn_recipient *r = g_ptr_array_index(rep->recipients, i);

		assert_non_null(r->recipient);
		assert_non_null(strchr(r->recipient, '@'));
		check_field(r->recipient);
		check_field(r->original_recipient);
		check_field(r->action);
		check_field(r->status);
		check_field(r->diagnostic);
		check_field(r->remote_mta);
	}
}

/* One result against what it should be. */
static void
check_result(const char *label, const dsn_want *w, dsn_report *rep, GError *err)
{
	print_message("  %s\n", label);
	if (w->kind == NOT_DSN) {
		assert_null(rep);
		assert_null(err);
		return;
	}
	if (w->kind == UNUSABLE) {
		assert_null(rep);
		assert_non_null(err);
		assert_true(err->domain == DSN_ERROR);
		assert_int_equal(err->code, w->error_code);
		return;
	}
	assert_null(err);
	assert_non_null(rep);
	check_invariants(rep);
	assert_string_equal(rep->reporting_mta ? rep->reporting_mta : "(null)",
	    w->reporting_mta ? w->reporting_mta : "(null)");
	assert_string_equal(rep->original_message_id ? rep->original_message_id : "(null)",
	    w->msgid ? w->msgid : "(null)");
	assert_int_equal(rep->original_source, w->source);
	assert_string_equal(rep->original_envelope_id ? rep->original_envelope_id : "(null)",
	    w->envid ? w->envid : "(null)");
	assert_int_equal(rep->truncated, w->truncated);
	assert_int_equal(rep->recipients->len, w->n_rcpts);
	for (guint i = 0; i < w->n_rcpts; i++) {
		const dsn_recipient *r = g_ptr_array_index(rep->recipients, i);
		const rcpt_want *rw = &w->rcpts[i];

		assert_string_equal(r->recipient, rw->addr);
		assert_string_equal(r->action ? r->action : "(null)", rw->action ? rw->action : "(null)");
		assert_string_equal(r->status ? r->status : "(null)", rw->status ? rw->status : "(null)");
		assert_int_equal(dsn_is_failure(r), rw->failure);
	}
	if (w->n_rcpts > 0) {
		const dsn_recipient *r = g_ptr_array_index(rep->recipients, 0);

		if (w->diagnostic != NULL)
			assert_string_equal(r->diagnostic ? r->diagnostic : "(null)", w->diagnostic);
		if (w->remote_mta != NULL)
			assert_string_equal(r->remote_mta ? r->remote_mta : "(null)", w->remote_mta);
		if (w->orig_rcpt != NULL)
			assert_string_equal(r->original_recipient ? r->original_recipient : "(null)",
			    w->orig_rcpt);
	}
}

/* Every sample file, through dsn_parse and through dsn_from_message. */
static void
test_files(void **state)
{
	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(file_cases); i++) {
		const file_case *c = &file_cases[i];
		GBytes *raw = load_sample(c->file);
		GError *err = NULL;
		dsn_report *rep = dsn_parse(raw, &err);
		GMimeMessage *msg;

		check_result(c->label, &c->want, rep, err);
		rep = dsn_report_free(rep);
		g_clear_error(&err);
		msg = parse_message(raw);
		assert_non_null(msg);
		rep = dsn_from_message(msg, &err);
		check_result("  (from a parsed message)", &c->want, rep, err);
		dsn_report_free(rep);
		g_clear_error(&err);
		g_object_unref(msg);
		g_bytes_unref(raw);
	}
}

/* The inline edge cases (the last one is built here: many blank lines). */
static void
test_inline(void **state)
{
	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(inline_cases); i++) {
		const inline_case *c = &inline_cases[i];
		GString *built = NULL;
		GBytes *raw;
		GError *err = NULL;
		dsn_report *rep;

		if (c->raw != NULL) {
			raw = g_bytes_new_static(c->raw, strlen(c->raw));
		} else {
			built = g_string_new(HDRS REPORT("report-type=delivery-status; ")
			    "--BB\nContent-Type: message/delivery-status\n\n");
			for (int n = 0; n < DSN_MAX_BLOCKS + 10; n++)
				g_string_append_c(built, '\n');
			g_string_append(built, RCPT_BLOCK "\n" END);
			raw = g_bytes_new(built->str, built->len);
		}
		rep = dsn_parse(raw, &err);
		check_result(c->label, &c->want, rep, err);
		dsn_report_free(rep);
		g_clear_error(&err);
		g_bytes_unref(raw);
		if (built != NULL)
			g_string_free(built, TRUE);
	}
}

/* Not a DSN: NULL and empty input, random bytes. */
static void
test_not_messages(void **state)
{
	static const char junk[] = "\x00\xff\xfe\x01 <<<>>> \r\n\r\n\xc3\x28 multipart/report";
	GBytes *empty = g_bytes_new_static("", 0);
	GBytes *bytes = g_bytes_new_static(junk, sizeof(junk) - 1);
	GError *err = NULL;

	(void)state;
	assert_null(dsn_parse(NULL, &err));
	assert_null(err);
	assert_null(dsn_parse(empty, &err));
	assert_null(err);
	assert_null(dsn_parse(bytes, &err));
	assert_null(err);
	assert_null(dsn_from_message(NULL, &err));
	assert_null(err);
	g_bytes_unref(empty);
	g_bytes_unref(bytes);
}

/* A report with n recipient blocks (r0@..., r1@...), as a new string. */
static GString *
many_recipients(int n, gsize diag_len)
{
	GString *s = g_string_new(HDRS REPORT("report-type=delivery-status; ")
	    "--BB\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n");

	for (int i = 0; i < n; i++) {
		g_string_append_printf(s, "\nFinal-Recipient: rfc822; r%d@example.net\n"
		    "Action: failed\nStatus: 5.1.1\n", i);
		if (diag_len > 0) {
			g_string_append(s, "Diagnostic-Code: smtp; 550");
			for (gsize k = 0; k < diag_len; k++)
				g_string_append(s, k % 60 == 59 ? "\n \xc3\xa9" : "\xc3\xa9");
			g_string_append_c(s, '\n');
		}
	}
	g_string_append(s, "\n" END);
	return s;
}

/* 10,000 recipients: the first DSN_MAX_RECIPIENTS are kept, truncated. */
static void
test_recipient_cap(void **state)
{
	GString *s = many_recipients(10000, 0);
	GBytes *raw = g_bytes_new(s->str, s->len);
	GError *err = NULL;
	dsn_report *rep = dsn_parse(raw, &err);
	const dsn_recipient *last;

	(void)state;
	assert_null(err);
	assert_non_null(rep);
	check_invariants(rep);
	assert_int_equal(rep->recipients->len, DSN_MAX_RECIPIENTS);
	assert_true(rep->truncated);
	assert_string_equal(((dsn_recipient *)g_ptr_array_index(rep->recipients, 0))->recipient,
	    "r0@example.net");
	last = g_ptr_array_index(rep->recipients, DSN_MAX_RECIPIENTS - 1);
	assert_string_equal(last->recipient, "r63@example.net");
	dsn_report_free(rep);
	g_bytes_unref(raw);
	g_string_free(s, TRUE);

	/* exactly the cap is not truncated */
	s = many_recipients(DSN_MAX_RECIPIENTS, 0);
	raw = g_bytes_new(s->str, s->len);
	rep = dsn_parse(raw, &err);
	assert_non_null(rep);
	assert_int_equal(rep->recipients->len, DSN_MAX_RECIPIENTS);
	assert_false(rep->truncated);
	dsn_report_free(rep);
	g_bytes_unref(raw);
	g_string_free(s, TRUE);
}

/* Long fields are cut to DSN_MAX_FIELD on a UTF-8 boundary; a block
 * bigger than DSN_MAX_BLOCK_BYTES sets truncated. */
static void
test_oversized(void **state)
{
	GString *s = many_recipients(2, 3000);          /* ~6 KB diagnostics */
	GBytes *raw = g_bytes_new(s->str, s->len);
	GError *err = NULL;
	dsn_report *rep = dsn_parse(raw, &err);
	const dsn_recipient *r;

	(void)state;
	assert_non_null(rep);
	check_invariants(rep);
	assert_int_equal(rep->recipients->len, 2);
	assert_false(rep->truncated);
	r = g_ptr_array_index(rep->recipients, 1);
	assert_non_null(r->diagnostic);
	assert_true(strlen(r->diagnostic) >= DSN_MAX_FIELD - 1);
	assert_true(g_str_has_prefix(r->diagnostic, "550\xc3\xa9"));
	dsn_report_free(rep);
	g_bytes_unref(raw);
	g_string_free(s, TRUE);

	s = many_recipients(1, DSN_MAX_BLOCK_BYTES);    /* one 128 KB block */
	raw = g_bytes_new(s->str, s->len);
	rep = dsn_parse(raw, &err);
	assert_non_null(rep);
	check_invariants(rep);
	assert_true(rep->truncated);
	assert_string_equal(((dsn_recipient *)g_ptr_array_index(rep->recipients, 0))->recipient,
	    "r0@example.net");
	dsn_report_free(rep);
	g_bytes_unref(raw);
	g_string_free(s, TRUE);
}

/* Every sample cut short at many points: a report or NULL, never a crash;
 * a report always keeps its promises. */
static void
test_truncated_samples(void **state)
{
	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(file_cases); i++) {
		GBytes *raw = load_sample(file_cases[i].file);
		gsize len;
		const char *data = g_bytes_get_data(raw, &len);

		for (gsize cut = 0; cut < len; cut += 37) {
			GBytes *part = g_bytes_new_static(data, cut);
			GError *err = NULL;
			dsn_report *rep = dsn_parse(part, &err);

			if (rep != NULL)
				check_invariants(rep);
			else if (err != NULL)
				assert_true(err->domain == DSN_ERROR);
			dsn_report_free(rep);
			g_clear_error(&err);
			g_bytes_unref(part);
		}
		g_bytes_unref(raw);
	}
}

/* Seeded random mixes of report fragments and bytes as the
 * delivery-status body (odd rounds) or as a whole message (even rounds):
 * never a crash, reports keep their promises, and some rounds do make
 * reports (so the parser is really exercised). */
static void
test_random_status(void **state)
{
	static const char *const frags[] = {
		"Final-Recipient: rfc822; u@x.example\n", "Original-Recipient: rfc822;<V@X.example>\n",
		"Action: failed\n", "Status: 5.1.1\n", "Status: 4.\n", "Diagnostic-Code: smtp; 550\n",
		"\n", "\r\n", "\n\n", " folded on\n", "not a field\n", "Reporting-MTA: dns;\n",
		"Content-Type: multipart/mixed; boundary=q\n", "--q\n", "--BB\n", "Final-Recipient:",
		"\xc3", "\xff\xfe", ";;;<>@@\"", "\t",
	};
	GRand *rnd = g_rand_new_with_seed(20241122);
	int reports = 0;

	(void)state;
	for (int round = 0; round < 400; round++) {
		GString *s = g_string_new(round % 2 ? HDRS REPORT("report-type=delivery-status; ")
		    "--BB\nContent-Type: message/delivery-status\n\n" : "");
		gint n = g_rand_int_range(rnd, 0, 200);
		GBytes *raw;
		GError *err = NULL;
		dsn_report *rep;

		for (gint k = 0; k < n; k++) {
			if (g_rand_int_range(rnd, 0, 4) == 0)
				g_string_append_c(s, (char)g_rand_int_range(rnd, 0, 256));
			else
				g_string_append(s, frags[g_rand_int_range(rnd, 0, G_N_ELEMENTS(frags))]);
		}
		raw = g_bytes_new(s->str, s->len);
		rep = dsn_parse(raw, &err);
		if (rep != NULL) {
			check_invariants(rep);
			reports++;
		} else if (err != NULL) {
			assert_true(err->domain == DSN_ERROR);
		}
		dsn_report_free(rep);
		g_clear_error(&err);
		g_bytes_unref(raw);
		g_string_free(s, TRUE);
	}
	print_message("  %d of 400 rounds made a report\n", reports);
	assert_true(reports >= 20);
	g_rand_free(rnd);
}

typedef struct failure_case {
	const char *label;
	const char *action;
	const char *status;
	gboolean failure;
} failure_case;

/* dsn_is_failure over action/status combinations. */
static void
test_is_failure(void **state)
{
	static const failure_case cases[] = {
		{ "failed, no status", "failed", NULL, TRUE },
		{ "failed with 4.x (odd, but failed)", "failed", "4.4.7", TRUE },
		{ "no action, 5.x", NULL, "5.1.1", TRUE },
		{ "delayed 4.x", "delayed", "4.4.1", FALSE },
		{ "delivered 2.x", "delivered", "2.0.0", FALSE },
		{ "relayed, no status", "relayed", NULL, FALSE },
		{ "expanded", "expanded", "2.0.0", FALSE },
		{ "nothing", NULL, NULL, FALSE },
	};

	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		dsn_recipient r = { .recipient = (char *)"a@b.c", .action = (char *)cases[i].action,
		    .status = (char *)cases[i].status };

		print_message("  %s\n", cases[i].label);
		assert_int_equal(dsn_is_failure(&r), cases[i].failure);
	}
	assert_false(dsn_is_failure(NULL));
	assert_null(dsn_report_free(NULL));
}

/* Run every test group with GMime ready. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_not_messages),
		cmocka_unit_test(test_recipient_cap),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_truncated_samples),
		cmocka_unit_test(test_random_status),
		cmocka_unit_test(test_is_failure),
	};

	activity_gmime_init();
	return cmocka_run_group_tests_name("dsn", tests, NULL, NULL);
}

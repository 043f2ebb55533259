/*
 * test_outgoing.c - the message as it leaves (core/outgoing.c), table-
 * driven: header edits made from a decision (control headers, Subject) and
 * the rendering that the dry run's --output writes, on header blocks shaped
 * as clients and MTAs write them (folded lines, CRLF and LF, names in any
 * case, several copies, no Subject, no body), plus a tracked message whose
 * rewritten body replaces the original.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "outgoing.h"

#define L(...) { __VA_ARGS__, NULL }

typedef struct {
	const char *label;
	const char *remove[6];      /* decision's remove_headers (one per copy) */
	const char *subject;        /* new Subject, or NULL */
	const char *raw;
	const char *body;           /* replacement body, or NULL */
	const char *want;
} render_case;

static const render_case render_cases[] = {
	{ "no edits: every byte kept", L(NULL), NULL,
	  "From: a@example.com\r\nTo: b@customer.test\r\nSubject: Hi\r\n\r\nBody\r\n", NULL,
	  "From: a@example.com\r\nTo: b@customer.test\r\nSubject: Hi\r\n\r\nBody\r\n" },
	{ "a control header removed with its folded lines", L("X-CRM-Regarding"), NULL,
	  "From: a@example.com\r\nX-CRM-Regarding: account:0001\r\n  continued\r\nSubject: Hi\r\n\r\nB\r\n",
	  NULL, "From: a@example.com\r\nSubject: Hi\r\n\r\nB\r\n" },
	{ "two copies, name case ignored, others of the same prefix kept",
	  L("X-CRM-Category", "x-crm-category"), NULL,
	  "x-crm-category: a\r\nX-CRM-Categoryx: keep\r\nFrom: a@example.com\r\nX-CRM-CATEGORY: b\r\n\r\nB",
	  NULL, "X-CRM-Categoryx: keep\r\nFrom: a@example.com\r\n\r\nB" },
	{ "Subject replaced in place, folded value gone", L(NULL), "Offer [CRM:0001042]",
	  "From: a@example.com\r\nSubject: Offer\r\n and more\r\nTo: b@customer.test\r\n\r\nB\r\n", NULL,
	  "From: a@example.com\r\nSubject: Offer [CRM:0001042]\r\nTo: b@customer.test\r\n\r\nB\r\n" },
	{ "no Subject: added as the last header", L(NULL), "New",
	  "From: a@example.com\r\nTo: b@customer.test\r\n\r\nB\r\n", NULL,
	  "From: a@example.com\r\nTo: b@customer.test\r\nSubject: New\r\n\r\nB\r\n" },
	{ "LF line ends are kept and used for changed lines", L("X-CRM-Track"), "S",
	  "From: a@example.com\nX-CRM-Track: no\nSubject: old\n\nB\n", NULL,
	  "From: a@example.com\nSubject: S\n\nB\n" },
	{ "body replaced, headers edited", L("X-CRM-Track"), NULL,
	  "From: a@example.com\r\nX-CRM-Track: no\r\n\r\nold body\r\n", "new body\r\n",
	  "From: a@example.com\r\n\r\nnew body\r\n" },
	{ "headers only: a body given gets its empty line", L(NULL), NULL,
	  "From: a@example.com\r\n", "B\r\n", "From: a@example.com\r\n\r\nB\r\n" },
	{ "headers only, nothing replaced: no empty line invented", L(NULL), NULL,
	  "From: a@example.com\r\nTo: b@customer.test\r\n", NULL,
	  "From: a@example.com\r\nTo: b@customer.test\r\n" },
	{ "a folded new value follows the message's line ends", L(NULL), "=?UTF-8?Q?a?=\n =?UTF-8?Q?b?=",
	  "Subject: x\r\n\r\nB", NULL, "Subject: =?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=\r\n\r\nB" },
	{ "a header to remove that is missing: nothing added", L("X-CRM-Regarding"), NULL,
	  "From: a@example.com\r\n\r\nB", NULL, "From: a@example.com\r\n\r\nB" },
	{ "empty message", L(NULL), NULL, "", NULL, "" },
};

/* Render each case from a decision holding its edits. */
static void
test_render_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < G_N_ELEMENTS(render_cases); i++) {
		const render_case *c = &render_cases[i];
		crm_decision d;
		GByteArray *out = g_byte_array_new(), *body = NULL;
		GPtrArray *edits;

		memset(&d, 0, sizeof(d));
		d.remove_headers = g_ptr_array_new();
		for (const char *const *r = c->remove; *r != NULL; r++)
			g_ptr_array_add(d.remove_headers, (gpointer)*r);
		if (c->body != NULL) {
			body = g_byte_array_new();
			g_byte_array_append(body, (const guint8 *)c->body, (guint)strlen(c->body));
		}
		edits = outgoing_header_edits(&d, c->subject);
		outgoing_render((const guint8 *)c->raw, strlen(c->raw), edits, body, out);
		g_byte_array_append(out, (const guint8 *)"", 1);
		if (strcmp((const char *)out->data, c->want) != 0)
			fail_msg("%s:\n got  [%s]\n want [%s]", c->label, (char *)out->data, c->want);
		g_ptr_array_unref(edits);
		g_ptr_array_unref(d.remove_headers);
		if (body != NULL)
			g_byte_array_unref(body);
		g_byte_array_unref(out);
	}
}

/* The edit list: each name's copies from the last, then the Subject. */
static void
test_edit_order(void **state)
{
	crm_decision d;
	GPtrArray *edits;
	const outgoing_hdr *h;
	static const struct { const char *name; int index; const char *value; } want[] = {
		{ "X-CRM-Regarding", 2, NULL }, { "X-CRM-Regarding", 1, NULL },
		{ "X-CRM-Track", 1, NULL }, { "Subject", 1, "S" },
	};

	(void)state;
	memset(&d, 0, sizeof(d));
	d.remove_headers = g_ptr_array_new();
	g_ptr_array_add(d.remove_headers, "X-CRM-Regarding");
	g_ptr_array_add(d.remove_headers, "X-CRM-Track");
	g_ptr_array_add(d.remove_headers, "X-CRM-Regarding");
	edits = outgoing_header_edits(&d, "S");
	assert_int_equal(edits->len, G_N_ELEMENTS(want));
	for (guint i = 0; i < edits->len; i++) {
		h = g_ptr_array_index(edits, i);
		assert_string_equal(h->name, want[i].name);
		assert_int_equal(h->index, want[i].index);
		if (want[i].value == NULL)
			assert_null(h->value);
		else
			assert_string_equal(h->value, want[i].value);
	}
	g_ptr_array_unref(edits);
	g_ptr_array_unref(d.remove_headers);
}

/* A tracked message: outgoing_track rewrites the HTML under the config's
 * base_url and keys; the rendered message has the new body after the
 * original headers and a tracking id of 24 hex digits. */
static void
test_track_and_render(void **state)
{
	static const char raw[] =
	    "From: Alice <alice@example.com>\r\nTo: bob@customer.test\r\n"
	    "X-CRM-Track: no\r\nSubject: Pricing\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/html; charset=us-ascii\r\n\r\n"
	    "<html><body><a href=\"https://www.customer.test/p?a=1&amp;b=2\">p</a></body></html>\r\n";
	static const char keys[] = "k1 MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n";
	crm_config cfg;
	crm_decision d;
	token_ring *ring;
	GByteArray *body = g_byte_array_new(), *out = g_byte_array_new();
	GPtrArray *edits;
	rewrite_stats stats = { 0 };
	char *hex = NULL, *reason = NULL;
	GError *e = NULL;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.tracking.base_url = "https://t.example.com";
	cfg.tracking.max_html_size = 1 << 20;
	ring = token_ring_from_text(keys, "keys", &e);
	assert_non_null(ring);
	assert_int_equal(outgoing_track(&cfg, ring, NULL, TRACK_OPENS | TRACK_CLICKS,
	    (const guint8 *)raw, strlen(raw), NULL, body, &stats, &hex, &reason, &e), REWRITE_DONE);
	assert_int_equal(stats.links, 1);
	assert_true(stats.pixel);
	assert_non_null(hex);
	assert_int_equal(strlen(hex), TOKEN_ID_LEN * 2);
	memset(&d, 0, sizeof(d));
	d.remove_headers = g_ptr_array_new();
	g_ptr_array_add(d.remove_headers, "X-CRM-Track");
	edits = outgoing_header_edits(&d, NULL);
	outgoing_render((const guint8 *)raw, strlen(raw), edits, body, out);
	g_byte_array_append(out, (const guint8 *)"", 1);
	assert_non_null(strstr((char *)out->data, "Subject: Pricing\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/html; charset=us-ascii\r\n\r\n<html><body><a href=\"https://t.example.com/c/"));
	assert_null(strstr((char *)out->data, "X-CRM-Track"));
	assert_non_null(strstr((char *)out->data, "https://t.example.com/o/"));
	assert_null(strstr((char *)out->data, "href=\"https://www.customer.test"));
	g_ptr_array_unref(edits);
	g_ptr_array_unref(d.remove_headers);
	g_byte_array_unref(body);
	g_byte_array_unref(out);
	g_free(hex);
	g_free(reason);
	token_ring_free(ring);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_table),
		cmocka_unit_test(test_edit_order),
		cmocka_unit_test(test_track_and_render),
	};
	return cmocka_run_group_tests_name("outgoing", tests, NULL, NULL);
}

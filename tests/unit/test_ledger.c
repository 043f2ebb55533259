/*
 * test_ledger.c - activity_parse on a table of messages (well-formed and
 * malformed) and ledger_store / ledger_list on a fresh database.
 *
 * Each case gives a raw message, the envelope recipients and what every
 * field of the activity must be (ANY: not checked, for malformed input
 * where only "no crash, valid UTF-8" is promised). Every test that needs
 * a database gets a fresh one in its own g_dir_make_tmp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"
#include <glib.h>
#include <glib/gstdio.h>

#include "activity.h"
#include "db.h"
#include "ledger.h"

/* A field that is not checked. */
static const char any_marker[] = "<any>";
#define ANY any_marker
#define ANY_DATE G_MININT64

typedef struct parse_case {
	const char *label;
	const char *raw;
	gsize raw_len;            /* 0: strlen(raw) */
	const char *rcpts;        /* comma-separated envelope recipients */
	gsize max_body;
	gboolean parses;          /* FALSE: NULL with an error */
	const char *from;
	const char *from_addr;
	const char *to;           /* comma-joined */
	const char *cc;
	const char *bcc;
	const char *subject;
	gint64 date;
	const char *message_id;
	const char *in_reply_to;
	const char *text_body;
	const char *html_body;
	const char *attachments;  /* "name|type|size;..." */
} parse_case;

#define B64_300 \
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\n" \
	"OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\r\n" \
	"cnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq\r\n" \
	"q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj\r\n" \
	"5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhsc\r\n" \
	"HR4fICEiIyQlJicoKSor\r\n"

static const char garbage[] = "\x00\xff\xfe\x01 <<<>>> ,,, \"\" \x80\x81\r\n\r\n\xc3\x28\x00zz";

static const parse_case parse_cases[] = {
	{
		.label = "plain",
		.raw = "From: \"Alice Example\" <Alice@Example.COM>\r\n"
		    "To: bob@example.org, \"Carol, C.\" <carol@example.net>\r\n"
		    "Cc: Dave <DAVE@example.org>\r\n"
		    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from Alice\r\n"
		    "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
		    "Message-ID: <m1@example.com>\r\n"
		    "In-Reply-To: <p1@example.com> <p0@example.com>\r\n"
		    "\r\n"
		    "Hello Bob,\r\nsee you.\r\n",
		.rcpts = "<bob@example.org>,<carol@example.net>,<dave@example.org>",
		.parses = TRUE,
		.from = "Alice Example <Alice@Example.COM>", .from_addr = "alice@example.com",
		.to = "bob@example.org,carol@example.net", .cc = "dave@example.org", .bcc = "",
		.subject = "Grüße from Alice", .date = 1796119200,
		.message_id = "m1@example.com", .in_reply_to = "p1@example.com",
		.text_body = "Hello Bob,\nsee you.\n", .html_body = NULL, .attachments = "",
	},
	{
		.label = "alternative, quoted-printable html in iso-8859-1",
		.raw = "From: alice@example.com\r\n"
		    "To: bob@example.org\r\n"
		    "Subject: menu\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
		    "\r\n"
		    "--alt\r\n"
		    "Content-Type: text/plain; charset=us-ascii\r\n"
		    "\r\n"
		    "Cafe creme\r\n"
		    "--alt\r\n"
		    "Content-Type: text/html; charset=iso-8859-1\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n"
		    "\r\n"
		    "<p>Caf=E9 cr=E8me, a very long line that is soft-=\r\n"
		    "wrapped</p>\r\n"
		    "--alt--\r\n",
		.parses = TRUE,
		.from = "alice@example.com", .from_addr = "alice@example.com",
		.to = "bob@example.org", .cc = "", .bcc = "", .subject = "menu", .date = 0,
		.message_id = NULL, .in_reply_to = NULL,
		.text_body = "Cafe creme", .html_body = "<p>Café crème, a very long line that is soft-wrapped</p>",
		.attachments = "",
	},
	{
		.label = "base64 attachment with filename, text attachment is not the body",
		.raw = "From: alice@example.com\r\n"
		    "To: bob@example.org\r\n"
		    "Subject: report\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=\"mix\"\r\n"
		    "\r\n"
		    "--mix\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
		    "\r\n"
		    "not the body\r\n"
		    "--mix\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "\r\n"
		    "the body\r\n"
		    "--mix\r\n"
		    "Content-Type: application/PDF; name=\"ignored.pdf\"\r\n"
		    "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
		    "Content-Transfer-Encoding: base64\r\n"
		    "\r\n"
		    B64_300
		    "--mix--\r\n",
		.parses = TRUE,
		.from = ANY, .from_addr = "alice@example.com", .to = "bob@example.org", .cc = "",
		.bcc = "", .subject = "report", .date = 0, .message_id = NULL, .in_reply_to = NULL,
		.text_body = "the body", .html_body = NULL,
		.attachments = "notes.txt|text/plain|12;résumé.pdf|application/pdf|300",
	},
	{
		.label = "inline images in multipart/related are never attachments",
		.raw = "From: alice@example.com\r\n"
		    "To: bob@example.org\r\n"
		    "Content-Type: multipart/related; boundary=\"rel\"\r\n"
		    "\r\n"
		    "--rel\r\n"
		    "Content-Type: text/html; charset=utf-8\r\n"
		    "\r\n"
		    "<img src=\"cid:logo\"><img src=\"cid:dot\">\r\n"
		    "--rel\r\n"
		    "Content-Type: image/png\r\n"
		    "Content-Disposition: inline; filename=\"logo.png\"\r\n"
		    "Content-ID: <logo>\r\n"
		    "Content-Transfer-Encoding: base64\r\n"
		    "\r\n"
		    "iVBORw0KGgpmYWtlaW1hZ2U=\r\n"
		    "--rel\r\n"
		    "Content-Type: image/gif\r\n"
		    "Content-ID: <dot>\r\n"
		    "\r\n"
		    "GIF89a\r\n"
		    "--rel--\r\n",
		.parses = TRUE,
		.from = ANY, .from_addr = "alice@example.com", .to = "bob@example.org", .cc = "",
		.bcc = "", .subject = NULL, .date = 0, .message_id = NULL, .in_reply_to = NULL,
		.text_body = NULL, .html_body = "<img src=\"cid:logo\"><img src=\"cid:dot\">",
		.attachments = "",
	},
	{
		.label = "bcc from the envelope, groups, duplicates, case",
		.raw = "From: alice@example.com\r\n"
		    "To: Team: A@Example.org, b@example.org;, b@EXAMPLE.org\r\n"
		    "Cc: undisclosed-recipients:;\r\n"
		    "\r\n"
		    "hi\r\n",
		.rcpts = "<a@example.org>,<Z@example.org>, <z@example.org> ,b@example.org,<>,y@example.org",
		.parses = TRUE,
		.from = ANY, .from_addr = "alice@example.com", .to = "a@example.org,b@example.org",
		.cc = "", .bcc = "z@example.org,y@example.org", .subject = NULL, .date = 0,
		.message_id = NULL, .in_reply_to = NULL, .text_body = "hi\n", .html_body = NULL,
		.attachments = "",
	},
	{
		.label = "declared charset koi8-r, 8bit",
		.raw = "From: alice@example.com\r\n"
		    "Content-Type: text/plain; charset=koi8-r\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n"
		    "\r\n"
		    "\xf0\xd2\xc9\xd7\xc5\xd4\r\n",
		.parses = TRUE,
		.from = ANY, .from_addr = "alice@example.com", .to = "", .cc = "", .bcc = "",
		.subject = NULL, .date = 0, .message_id = NULL, .in_reply_to = NULL,
		.text_body = "Привет\n", .html_body = NULL, .attachments = "",
	},
	{
		.label = "later text parts (plain, html, an unnamed calendar) are neither body nor attachment",
		.raw = "From: alice@example.com\r\n"
		    "Content-Type: multipart/mixed; boundary=\"m\"\r\n"
		    "\r\n"
		    "--m\r\n"
		    "Content-Type: text/plain\r\n"
		    "\r\n"
		    "first\r\n"
		    "--m\r\n"
		    "Content-Type: text/plain\r\n"
		    "Content-Disposition: inline\r\n"
		    "\r\n"
		    "-- list footer\r\n"
		    "--m\r\n"
		    "Content-Type: text/html\r\n"
		    "\r\n"
		    "<p>first html</p>\r\n"
		    "--m\r\n"
		    "Content-Type: text/html\r\n"
		    "\r\n"
		    "<p>second html</p>\r\n"
		    "--m\r\n"
		    "Content-Type: text/calendar; method=REQUEST\r\n"
		    "\r\n"
		    "BEGIN:VCALENDAR\r\n"
		    "--m--\r\n",
		.parses = TRUE,
		.from = ANY, .from_addr = "alice@example.com", .to = "", .cc = "", .bcc = "",
		.subject = NULL, .date = 0, .message_id = NULL, .in_reply_to = NULL,
		.text_body = "first", .html_body = "<p>first html</p>",
		.attachments = "",   /* an unnamed text part (calendar body) is no attachment */
	},
	{
		.label = "body capped on a UTF-8 boundary",
		.raw = "From: alice@example.com\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "\r\n"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\r\n",
		.max_body = 5, .parses = TRUE,
		.from = ANY, .from_addr = "alice@example.com", .to = "", .cc = "", .bcc = "",
		.subject = NULL, .date = 0, .message_id = NULL, .in_reply_to = NULL,
		.text_body = "\xc3\xa9\xc3\xa9", .html_body = NULL, .attachments = "",
	},
	{
		.label = "message/rfc822 is one attachment, its body is not ours",
		.raw = "From: alice@example.com\r\n"
		    "Content-Type: multipart/mixed; boundary=\"fw\"\r\n"
		    "\r\n"
		    "--fw\r\n"
		    "Content-Type: text/plain\r\n"
		    "\r\n"
		    "forwarding\r\n"
		    "--fw\r\n"
		    "Content-Type: message/rfc822\r\n"
		    "\r\n"
		    "From: x@example.net\r\n"
		    "Subject: inner\r\n"
		    "Content-Type: text/html\r\n"
		    "\r\n"
		    "<b>inner</b>\r\n"
		    "--fw--\r\n",
		.parses = TRUE,
		.from = ANY, .from_addr = "alice@example.com", .to = "", .cc = "", .bcc = "",
		.subject = NULL, .date = 0, .message_id = NULL, .in_reply_to = NULL,
		.text_body = "forwarding", .html_body = NULL, .attachments = "|message/rfc822|76",
	},
	{
		.label = "truncated: boundary never closed, base64 cut",
		.raw = "From: alice@example.com\r\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
		    "\r\n"
		    "--b1\r\n"
		    "Content-Type: text/plain\r\n"
		    "\r\n"
		    "hi there\r\n"
		    "--b1\r\n"
		    "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
		    "Content-Transfer-Encoding: base64\r\n"
		    "\r\n"
		    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo",
		.parses = TRUE,
		.from = ANY, .from_addr = "alice@example.com", .to = "", .cc = "", .bcc = "",
		.subject = NULL, .date = 0, .message_id = NULL, .in_reply_to = NULL,
		.text_body = "hi there", .html_body = NULL, .attachments = ANY,
	},
	{
		.label = "truncated inside the headers",
		.raw = "From: alice@example.com\r\nTo: bob@exa",
		.parses = TRUE,
		.from = ANY, .from_addr = "alice@example.com", .to = ANY, .cc = ANY, .bcc = ANY,
		.subject = NULL, .date = 0, .message_id = NULL, .in_reply_to = NULL,
		.text_body = ANY, .html_body = NULL, .attachments = "",
	},
	{
		.label = "no headers",
		.raw = "just a body line\r\nsecond\r\n",
		.parses = FALSE,
	},
	{
		.label = "empty",
		.raw = "",
		.parses = FALSE,
	},
	{
		.label = "garbage with NULs",
		.raw = garbage, .raw_len = sizeof garbage - 1,
		.parses = FALSE,
	},
	{
		.label = "unbalanced < and quoted commas",
		.raw = "From: \"Smith, John\" <john@Example.com\r\n"
		    "To: \"a, b\" <ab@example.com>, <<weird@example.org>, c@example.com, \"x, <y\" <xy@example.com>\r\n"
		    "\r\n"
		    "x\r\n",
		.parses = TRUE,
		.from = "\"Smith, John\" <john@Example.com>", .from_addr = "john@example.com",
		.to = "ab@example.com,weird@example.org,c@example.com,xy@example.com",
		.cc = "", .bcc = "", .subject = NULL, .date = 0, .message_id = NULL,
		.in_reply_to = NULL, .text_body = "x\n", .html_body = NULL, .attachments = "",
	},
	{
		.label = "multiple From headers: the first one wins",
		.raw = "From: first@example.com\r\n"
		    "From: Second <second@example.com>\r\n"
		    "\r\n"
		    "x\r\n",
		.parses = TRUE,
		.from = "first@example.com", .from_addr = "first@example.com", .to = "", .cc = "",
		.bcc = "", .subject = NULL, .date = 0, .message_id = NULL, .in_reply_to = NULL,
		.text_body = "x\n", .html_body = NULL, .attachments = "",
	},
	{
		.label = "8-bit headers and body without charset (windows-1252)",
		.raw = "From: J\xfcrgen <j@example.de>\r\n"
		    "Subject: Gr\xfc\xdf" "e \xe9t\xe9\r\n"
		    "Date: not a date\r\n"
		    "Message-ID: <\xe9@example.de>\r\n"
		    "\r\n"
		    "caf\xe9\r\n",
		.parses = TRUE,
		.from = "Jürgen <j@example.de>", .from_addr = "j@example.de", .to = "", .cc = "",
		.bcc = "", .subject = "Grüße été", .date = 0, .message_id = ANY,
		.in_reply_to = NULL, .text_body = "café\n", .html_body = NULL, .attachments = "",
	},
	{
		.label = "unknown charset and bad in-reply-to",
		.raw = "From: a@example.com\r\n"
		    "In-Reply-To: no brackets here\r\n"
		    "Content-Type: text/plain; charset=x-no-such-charset\r\n"
		    "\r\n"
		    "ok \xff\r\n",
		.parses = TRUE,
		.from = ANY, .from_addr = "a@example.com", .to = "", .cc = "", .bcc = "",
		.subject = NULL, .date = 0, .message_id = NULL, .in_reply_to = ANY,
		.text_body = ANY, .html_body = NULL, .attachments = "",
	},
};

/* The strings of a comma-separated list, blanks kept (NULL: none). */
static GPtrArray *
split_rcpts(const char *s)
{
	GPtrArray *a;
	char **v;
	int i;

	if (s == NULL)
		return NULL;
	a = g_ptr_array_new_with_free_func(g_free);
	v = g_strsplit(s, ",", -1);
	for (i = 0; v[i] != NULL; i++)
		g_ptr_array_add(a, g_strdup(v[i]));
	g_strfreev(v);
	return a;
}

/* An array of strings joined with ",". */
static char *
join(GPtrArray *a)
{
	GString *s = g_string_new(NULL);
	guint i;

	for (i = 0; i < a->len; i++)
		g_string_append_printf(s, "%s%s", i ? "," : "", (const char *)g_ptr_array_index(a, i));
	return g_string_free(s, FALSE);
}

/* The attachments as "name|type|size;...". */
static char *
join_attachments(GPtrArray *a)
{
	GString *s = g_string_new(NULL);
	guint i;

	for (i = 0; i < a->len; i++) {
		const activity_attachment *t = g_ptr_array_index(a, i);

		g_string_append_printf(s, "%s%s|%s|%" G_GINT64_FORMAT, i ? ";" : "",
		    t->filename ? t->filename : "", t->content_type ? t->content_type : "", t->size);
	}
	return g_string_free(s, FALSE);
}

/* Check one field (unless ANY) and that it is valid UTF-8. */
static void
check_str(const char *label, const char *field, const char *want, const char *got)
{
	if (got != NULL && !g_utf8_validate(got, -1, NULL))
		fail_msg("%s: %s is not UTF-8", label, field);
	if (want == ANY)
		return;
	if (want == NULL && got == NULL)
		return;
	if (want == NULL || got == NULL || strcmp(want, got) != 0)
		fail_msg("%s: %s: want [%s], got [%s]", label, field,
		    want ? want : "(null)", got ? got : "(null)");
}

/* Check a joined array field. */
static void
check_list(const char *label, const char *field, const char *want, char *got)
{
	check_str(label, field, want, got);
	g_free(got);
}

/* Every case of parse_cases. */
static void
test_parse_table(void **state)
{
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(parse_cases); i++) {
		const parse_case *c = &parse_cases[i];
		gsize len = c->raw_len ? c->raw_len : strlen(c->raw);
		GBytes *raw = g_bytes_new_static(c->raw, len);
		GPtrArray *rcpts = split_rcpts(c->rcpts);
		GError *err = NULL;
		activity *a = activity_parse(raw, "outbound", rcpts, c->max_body, &err);

		if (!c->parses) {
			if (a != NULL)
				fail_msg("%s: parsed, want an error", c->label);
			if (err == NULL)
				fail_msg("%s: NULL without an error", c->label);
			g_clear_error(&err);
		} else {
			if (a == NULL)
				fail_msg("%s: %s", c->label, err ? err->message : "NULL");
			check_str(c->label, "direction", "outbound", a->direction);
			check_str(c->label, "from", c->from, a->from);
			check_str(c->label, "from_addr", c->from_addr, a->from_addr);
			check_list(c->label, "to", c->to, join(a->to));
			check_list(c->label, "cc", c->cc, join(a->cc));
			check_list(c->label, "bcc", c->bcc, join(a->bcc));
			check_str(c->label, "subject", c->subject, a->subject);
			if (c->date != ANY_DATE && c->date != a->date)
				fail_msg("%s: date: want %" G_GINT64_FORMAT ", got %" G_GINT64_FORMAT,
				    c->label, c->date, a->date);
			check_str(c->label, "message_id", c->message_id, a->message_id);
			check_str(c->label, "in_reply_to", c->in_reply_to, a->in_reply_to);
			check_str(c->label, "text_body", c->text_body, a->text_body);
			check_str(c->label, "html_body", c->html_body, a->html_body);
			check_list(c->label, "attachments", c->attachments, join_attachments(a->attachments));
		}
		activity_free(a);
		if (rcpts != NULL)
			g_ptr_array_unref(rcpts);
		g_bytes_unref(raw);
	}
}

/* A forwarded message counts once, as message/rfc822, with its full size. */
static void
test_parse_forward_size(void **state)
{
	const char *inner = "From: x@example.net\r\nSubject: inner\r\nContent-Type: text/html\r\n\r\n<b>inner</b>\r\n";
	char *raw = g_strdup_printf("From: alice@example.com\r\n"
	    "Content-Type: multipart/mixed; boundary=\"fw\"\r\n\r\n"
	    "--fw\r\nContent-Type: text/plain\r\n\r\nforwarding\r\n"
	    "--fw\r\nContent-Type: message/rfc822\r\n"
	    "Content-Disposition: attachment; filename=\"fw.eml\"\r\n\r\n%s--fw--\r\n", inner);
	GBytes *b = g_bytes_new_take(raw, strlen(raw));
	activity *a = activity_parse(b, "inbound", NULL, 0, NULL);
	const activity_attachment *t;

	assert_non_null(a);
	assert_null(a->html_body);
	assert_int_equal(a->attachments->len, 1);
	t = g_ptr_array_index(a->attachments, 0);
	assert_string_equal(t->filename, "fw.eml");
	assert_string_equal(t->content_type, "message/rfc822");
	/* the inner message with CRLF line ends, less the CRLF that belongs
	 * to the closing boundary */
	assert_int_equal(t->size, strlen(inner) - 2);
	activity_free(a);
	g_bytes_unref(b);
}

/* A big base64 attachment: the decoded size is exact. */
static void
test_parse_big_attachment(void **state)
{
	gsize n = 3 * 1024 * 1024 + 7, i, len;
	guchar *bin = g_malloc(n);
	char *b64, *raw;
	GString *wrapped = g_string_new(NULL);
	GBytes *b;
	activity *a;

	for (i = 0; i < n; i++)
		bin[i] = (guchar)(i * 31 + 7);
	b64 = g_base64_encode(bin, n);
	for (i = 0, len = strlen(b64); i < len; i += 76)
		g_string_append_printf(wrapped, "%.76s\r\n", b64 + i);
	raw = g_strdup_printf("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
	    "--x\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
	    "--x\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s--x--\r\n", wrapped->str);
	b = g_bytes_new_take(raw, strlen(raw));
	a = activity_parse(b, "outbound", NULL, 0, NULL);
	assert_non_null(a);
	assert_int_equal(a->attachments->len, 1);
	assert_int_equal(((activity_attachment *)g_ptr_array_index(a->attachments, 0))->size, n);
	activity_free(a);
	g_bytes_unref(b);
	g_string_free(wrapped, TRUE);
	g_free(b64);
	g_free(bin);
}

/* ------------------------------------------------------------------ ledger */

typedef struct fixture {
	char *dir;
	char *path;
	crm_db *db;
} fixture;

/* A fresh database in a new temporary directory. */
static int
setup_db(void **state)
{
	fixture *f = g_new0(fixture, 1);
	GError *err = NULL;

	f->dir = g_dir_make_tmp("test_ledger-XXXXXX", &err);
	assert_non_null(f->dir);
	f->path = g_build_filename(f->dir, "spool.db", NULL);
	f->db = db_open(f->path, 5000, &err);
	if (f->db == NULL)
		fail_msg("db_open: %s", err->message);
	*state = f;
	return 0;
}

/* Close the database and remove its directory. */
static int
teardown_db(void **state)
{
	fixture *f = *state;

	db_close(f->db);
	testutil_rmtree(f->dir);
	g_free(f->path);
	g_free(f->dir);
	g_free(f);
	return 0;
}

/* One integer from a query. */
static gint64
query_int(crm_db *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	gint64 v = -1;

	assert_int_equal(sqlite3_prepare_v2(db_handle(db), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A parsed sample activity with two attachments. */
static activity *
sample_activity(const char *subject)
{
	char *raw = g_strdup_printf("From: \"Alice\" <alice@example.com>\r\n"
	    "To: bob@example.org\r\nCc: carol@example.org\r\nSubject: %s\r\n"
	    "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@example.com>\r\n"
	    "In-Reply-To: <parent@example.com>\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\ntext of %s\r\n"
	    "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\n12345\r\n"
	    "--b\r\nContent-Type: image/png; name=b.png\r\n\r\n123\r\n"
	    "--b--\r\n", subject, subject, subject);
	GBytes *b = g_bytes_new_take(raw, strlen(raw));
	GPtrArray *rcpts = split_rcpts("<bob@example.org>,<dan@example.org>");
	activity *a = activity_parse(b, "outbound", rcpts, 0, NULL);

	assert_non_null(a);
	g_ptr_array_unref(rcpts);
	g_bytes_unref(b);
	return a;
}

/* Storing the same (profile, key) twice gives one row and the same id. */
static void
test_store_idempotent(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label, *profile, *key;
		int same_as;        /* index of an earlier step with the same id, or -1 */
		gint64 rows_after;
	} steps[] = {
		{ "first", "local", "local/m/1", -1, 1 },
		{ "again", "local", "local/m/1", 0, 1 },
		{ "other key", "local", "local/m/2", -1, 2 },
		{ "other profile", "hub", "local/m/1", -1, 3 },
		{ "again later", "local", "local/m/2", 2, 3 },
	};
	gint64 ids[G_N_ELEMENTS(steps)];
	activity *a = sample_activity("s1");
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(steps); i++) {
		GError *err = NULL;

		ids[i] = 0;
		if (!ledger_store(f->db, steps[i].profile, steps[i].key, 7, a, 100 + (gint64)i, &ids[i], &err))
			fail_msg("%s: %s", steps[i].label, err ? err->message : "?");
		assert_true(ids[i] > 0);
		if (steps[i].same_as >= 0 && ids[i] != ids[steps[i].same_as])
			fail_msg("%s: id %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT,
			    steps[i].label, ids[i], ids[steps[i].same_as]);
		if (steps[i].same_as < 0 && i > 0 && ids[i] == ids[i - 1])
			fail_msg("%s: reused an id", steps[i].label);
		if (query_int(f->db, "SELECT count(*) FROM activities") != steps[i].rows_after)
			fail_msg("%s: wrong row count", steps[i].label);
		/* attachments are stored once per row */
		assert_int_equal(query_int(f->db, "SELECT count(*) FROM attachments"),
		    2 * steps[i].rows_after);
	}
	activity_free(a);
}

/* ledger_list: newest first, limit, bodies only when asked, round trip. */
static void
test_list(void **state)
{
	fixture *f = *state;
	const char *subjects[] = { "one", "two", "three" };
	GPtrArray *rows;
	ledger_row *r;
	activity_attachment *t;
	gsize i;
	char *s;

	for (i = 0; i < G_N_ELEMENTS(subjects); i++) {
		activity *a = sample_activity(subjects[i]);
		char *key = g_strdup_printf("local/m/%s", subjects[i]);

		assert_true(ledger_store(f->db, "local", key, (gint64)i + 1, a, 1000 + (gint64)i, NULL, NULL));
		g_free(key);
		activity_free(a);
	}
	rows = ledger_list(f->db, 0, FALSE, NULL);
	assert_non_null(rows);
	assert_int_equal(rows->len, 3);
	for (i = 0; i < 3; i++) {
		r = g_ptr_array_index(rows, i);
		assert_string_equal(r->act->subject, subjects[2 - i]);
		assert_null(r->act->text_body);
		assert_int_equal(r->act->attachments->len, 2);
	}
	r = g_ptr_array_index(rows, 0);
	assert_int_equal(r->job_id, 3);
	assert_int_equal(r->created_at, 1002);
	assert_string_equal(r->profile, "local");
	assert_string_equal(r->idem_key, "local/m/three");
	assert_string_equal(r->act->direction, "outbound");
	assert_string_equal(r->act->from, "Alice <alice@example.com>");
	assert_string_equal(r->act->from_addr, "alice@example.com");
	s = join(r->act->to);
	assert_string_equal(s, "bob@example.org");
	g_free(s);
	s = join(r->act->cc);
	assert_string_equal(s, "carol@example.org");
	g_free(s);
	s = join(r->act->bcc);
	assert_string_equal(s, "dan@example.org");
	g_free(s);
	assert_int_equal(r->act->date, 1796119200);
	assert_string_equal(r->act->message_id, "three@example.com");
	assert_string_equal(r->act->in_reply_to, "parent@example.com");
	t = g_ptr_array_index(r->act->attachments, 0);
	assert_string_equal(t->filename, "a.pdf");
	assert_string_equal(t->content_type, "application/pdf");
	assert_int_equal(t->size, 5);
	t = g_ptr_array_index(r->act->attachments, 1);
	assert_string_equal(t->filename, "b.png");
	assert_string_equal(t->content_type, "image/png");
	assert_int_equal(t->size, 3);
	g_ptr_array_unref(rows);

	rows = ledger_list(f->db, 2, TRUE, NULL);
	assert_non_null(rows);
	assert_int_equal(rows->len, 2);
	r = g_ptr_array_index(rows, 1);
	assert_string_equal(r->act->subject, "two");
	assert_string_equal(r->act->text_body, "text of two");
	assert_null(r->act->html_body);
	g_ptr_array_unref(rows);
}

/* An empty ledger lists as an empty array, and NULL rows free safely. */
static void
test_list_empty(void **state)
{
	fixture *f = *state;
	GPtrArray *rows = ledger_list(f->db, 10, TRUE, NULL);

	assert_non_null(rows);
	assert_int_equal(rows->len, 0);
	g_ptr_array_unref(rows);
	assert_null(ledger_row_free(NULL));
	assert_null(activity_free(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_forward_size),
		cmocka_unit_test(test_parse_big_attachment),
		cmocka_unit_test_setup_teardown(test_store_idempotent, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_list, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_list_empty, setup_db, teardown_db),
	};

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}

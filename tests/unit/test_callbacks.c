/*
 * test_callbacks.c - crm-milter's mlfi_* callbacks driven through the fake
 * seam (no MTA): what each kind of message puts in the spool, the raw
 * message kept byte for byte (in memory and spilled), duplicates, size
 * limits, and internal failures per on_internal_error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "milter/callbacks.h"
#include "fake_seam.h"
#include "milter/snapshot.h"
#include "spool.h"
#include "testutil.h"
#include "token.h"
#include <glib/gstdio.h>

typedef struct {
	const char *label;
	const char *client_ip;      /* NULL: no address (Sendmail local) */
	int port;
	const char *hostname;
	const char *auth;
	const char *daemon;
	const char *from;
	const char *rcpts[4];
	const char *want_direction; /* NULL: no job */
	const char *want_rule;
} cb_case;

static const cb_case cases[] = {
	{ "authenticated sender: outbound job", "198.51.100.7", 40000, "client.test", "alice", NULL,
	  "<alice@example.com>", { "<bob@customer.test>" }, "outbound", "outbound" },
	{ "internal network: outbound job", "10.9.8.7", 40001, "ws.example.com", NULL, NULL,
	  "<alice@example.com>", { "<bob@customer.test>", "<carol@customer.test>" }, "outbound", "outbound" },
	{ "outbound daemon: outbound job", "203.0.113.50", 40002, "x.test", NULL, "ORIGINATING",
	  "<alice@example.com>", { "<bob@customer.test>" }, "outbound", "outbound" },
	{ "Postfix non-SMTP submission: outbound job", "127.0.0.1", 0, "localhost", NULL, NULL,
	  "<root@example.com>", { "<bob@customer.test>" }, "outbound", "outbound" },
	{ "Sendmail local submission (no address): outbound job", NULL, 0, "localhost", NULL, NULL,
	  "<root@example.com>", { "<bob@customer.test>" }, "outbound", "outbound" },
	{ "from outside to us: inbound job", "203.0.113.9", 50000, "mx.customer.test", NULL, "MX",
	  "<bob@customer.test>", { "<alice@example.com>" }, "inbound", "inbound" },
	{ "internal mail: no rule, no job", "10.9.8.7", 40003, "ws.example.com", NULL, NULL,
	  "<alice@example.com>", { "<dan@example.com>" }, NULL, NULL },
	{ "outside to outside: no job", "203.0.113.9", 50001, "mx.customer.test", NULL, NULL,
	  "<bob@customer.test>", { "<eve@elsewhere.test>" }, NULL, NULL },
};

static const char *headers[][2] = {
	{ "From", "Alice <alice@example.com>" },
	{ "To", "bob@customer.test" },
	{ "Subject", "Quote" },
	{ "Message-ID", NULL },     /* <msgid@example.com> */
};

typedef struct {
	char *dir;
	char *spool;
	crm_db *db;
} fixture;

/* Install a runtime for this config text (spool path substituted). */
static void
install(fixture *f, const char *extra_milter, const char *spool_path)
{
	crm_config *cfg = testutil_config(
	    "milter { internal_domains = {\"example.com\"} internal_networks = {\"10.0.0.0/8\"}\n"
	    "         outbound_daemons = {\"ORIGINATING\"} tmp_dir = \"%s\" %s }\n"
	    "spool { path = \"%s\" }\n"
	    "crm \"local\" { type = ledger }\n"
	    "rule \"outbound\" { direction = outbound save = \"local\" }\n"
	    "rule \"inbound\" { direction = inbound save = \"local\" }\n",
	    f->dir, extra_milter, spool_path);
	snapshot_set(runtime_new(cfg));
}

static int
setup(void **state)
{
	fixture *f = g_new0(fixture, 1);

	f->dir = testutil_tmpdir();
	f->spool = g_build_filename(f->dir, "spool.db", NULL);
	install(f, "", f->spool);
	f->db = db_open(f->spool, 1000, NULL);
	assert_non_null(f->db);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	snapshot_set(NULL);
	db_close(f->db);
	testutil_rmtree(f->dir);
	g_free(f->spool);
	g_free(f->dir);
	g_free(f);
	return 0;
}

/* connect + helo for one case. */
static SMFICTX *
connect_as(const cb_case *c)
{
	SMFICTX *ctx = fake_ctx_new();
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)c->port);
	if (c->client_ip != NULL)
		inet_pton(AF_INET, c->client_ip, &sin.sin_addr);
	if (c->daemon)
		fake_set_macro(ctx, "{daemon_name}", c->daemon);
	assert_int_equal(mlfi_connect(ctx, (char *)c->hostname,
	    c->client_ip ? (struct sockaddr *)&sin : NULL), SMFIS_CONTINUE);
	assert_int_equal(mlfi_helo(ctx, "client.test"), SMFIS_CONTINUE);
	return ctx;
}

/* One transaction; returns eom's answer. body is sent in chunks. */
static sfsistat
send_message(SMFICTX *ctx, const cb_case *c, const char *qid, const char *msgid,
    const char *body, gsize body_len, GString *expect)
{
	char *argv[2] = { (char *)c->from, NULL };

	fake_set_macro(ctx, "{auth_authen}", c->auth);
	fake_set_macro(ctx, "{i}", NULL);
	assert_int_equal(mlfi_envfrom(ctx, argv), SMFIS_CONTINUE);
	for (int i = 0; c->rcpts[i] != NULL; i++) {
		char *rv[2] = { (char *)c->rcpts[i], NULL };
		assert_int_equal(mlfi_envrcpt(ctx, rv), SMFIS_CONTINUE);
	}
	fake_set_macro(ctx, "{i}", qid);
	assert_int_equal(mlfi_data(ctx), SMFIS_CONTINUE);
	for (size_t i = 0; i < G_N_ELEMENTS(headers); i++) {
		char *v = headers[i][1] != NULL ? g_strdup(headers[i][1])
		    : g_strdup_printf("<%s@example.com>", msgid);
		assert_int_equal(mlfi_header(ctx, (char *)headers[i][0], v), SMFIS_CONTINUE);
		if (expect)
			g_string_append_printf(expect, "%s: %s\r\n", headers[i][0], v);
		g_free(v);
	}
	assert_int_equal(mlfi_eoh(ctx), SMFIS_CONTINUE);
	if (expect)
		g_string_append(expect, "\r\n");
	for (gsize off = 0; off < body_len; off += 4000) {
		gsize n = MIN(4000, body_len - off);
		assert_int_equal(mlfi_body(ctx, (unsigned char *)body + off, n), SMFIS_CONTINUE);
		if (expect)
			g_string_append_len(expect, body + off, (gssize)n);
	}
	return mlfi_eom(ctx);
}

/* All jobs, oldest first. */
static GPtrArray *
jobs(fixture *f)
{
	GPtrArray *l = spool_list(f->db, -1, 100, NULL);

	assert_non_null(l);
	return l;
}

/* Each case queues the job it should, with envelope and decision. */
static void
test_cases(void **state)
{
	fixture *f = *state;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const cb_case *c = &cases[i];
		SMFICTX *ctx = connect_as(c);
		char *qid = g_strdup_printf("Q%zu", i), *mid = g_strdup_printf("case%zu", i);
		GPtrArray *before = jobs(f), *after;
		guint n0 = before->len;

		assert_int_equal(send_message(ctx, c, qid, mid, "Hi\r\n", 4, NULL), SMFIS_CONTINUE);
		after = jobs(f);
		if (c->want_direction == NULL) {
			if (after->len != n0)
				fail_msg("%s: a job was queued", c->label);
		} else {
			spool_job *j;
			if (after->len != n0 + 1)
				fail_msg("%s: %u jobs, want %u", c->label, after->len, n0 + 1);
			j = g_ptr_array_index(after, 0);   /* newest first */
			if (g_strcmp0(j->direction, c->want_direction) != 0 ||
			    g_strcmp0(j->rule, c->want_rule) != 0 || g_strcmp0(j->queue_id, qid) != 0)
				fail_msg("%s: job %s/%s/%s", c->label, j->direction, j->rule, j->queue_id);
			assert_string_equal(j->profile, "local");
			assert_int_equal(j->rcpts->len, c->rcpts[1] ? 2 : 1);
			assert_null(strchr(j->mail_from, '<'));
		}
		g_ptr_array_unref(before);
		g_ptr_array_unref(after);
		assert_int_equal(mlfi_close(ctx), SMFIS_CONTINUE);
		assert_null(ctx->priv);
		fake_ctx_free(ctx);
		g_free(qid);
		g_free(mid);
	}
}

/* The raw message is kept exactly: in memory, and spilled to a file. */
static void
test_payload_exact(void **state)
{
	fixture *f = *state;
	const char *sizes_label[] = { "small", "spilled" };
	gsize sizes[] = { 300, 300000 };

	install(f, "body_memory_cap = 64K", f->spool);
	for (int k = 0; k < 2; k++) {
		SMFICTX *ctx = connect_as(&cases[0]);
		GString *expect = g_string_new(NULL);
		char *body = g_malloc(sizes[k]);
		char *mid = g_strdup_printf("exact%d", k);
		GPtrArray *l;
		spool_job *j;

		for (gsize i = 0; i < sizes[k]; i++)
			body[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : (char)('a' + i % 26);
		assert_int_equal(send_message(ctx, &cases[0], "QX", mid, body, sizes[k], expect), SMFIS_CONTINUE);
		l = jobs(f);
		j = spool_get(f->db, ((spool_job *)g_ptr_array_index(l, 0))->id, TRUE, NULL);
		assert_non_null(j->payload);
		if (g_bytes_get_size(j->payload) != expect->len ||
		    memcmp(g_bytes_get_data(j->payload, NULL), expect->str, expect->len) != 0)
			fail_msg("%s: payload differs (%zu vs %zu bytes)", sizes_label[k],
			    g_bytes_get_size(j->payload), expect->len);
		spool_job_free(j);
		g_ptr_array_unref(l);
		g_string_free(expect, TRUE);
		g_free(body);
		g_free(mid);
		mlfi_close(ctx);
		fake_ctx_free(ctx);
	}
	/* nothing left in tmp_dir but the spool's own files */
	GDir *d = g_dir_open(f->dir, 0, NULL);
	const char *name;
	while ((name = g_dir_read_name(d)) != NULL)
		assert_true(g_str_has_prefix(name, "spool.db"));
	g_dir_close(d);
}

/* The same message twice (submitted then relayed, or re-sent) makes one
 * job; a message without Message-ID is keyed by its content. */
static void
test_duplicates(void **state)
{
	fixture *f = *state;
	SMFICTX *ctx = connect_as(&cases[0]);
	GPtrArray *l;

	assert_int_equal(send_message(ctx, &cases[0], "Q1", "dup", "Hi\r\n", 4, NULL), SMFIS_CONTINUE);
	assert_int_equal(send_message(ctx, &cases[0], "Q2", "dup", "Hi\r\n", 4, NULL), SMFIS_CONTINUE);
	l = jobs(f);
	assert_int_equal(l->len, 1);
	g_ptr_array_unref(l);
	assert_int_equal(send_message(ctx, &cases[0], "Q3", "other", "Hi\r\n", 4, NULL), SMFIS_CONTINUE);
	l = jobs(f);
	assert_int_equal(l->len, 2);
	g_ptr_array_unref(l);
	mlfi_close(ctx);
	fake_ctx_free(ctx);
}

/* Over max_message_size: the message goes on, nothing is queued. */
static void
test_too_big(void **state)
{
	fixture *f = *state;
	SMFICTX *ctx;
	gsize n = 70 * 1024;
	char *body = g_malloc0(n);
	GPtrArray *l;

	install(f, "max_message_size = 64K body_memory_cap = 16K", f->spool);
	ctx = connect_as(&cases[0]);
	memset(body, 'x', n);
	assert_int_equal(send_message(ctx, &cases[0], "QB", "big", body, n, NULL), SMFIS_CONTINUE);
	l = jobs(f);
	assert_int_equal(l->len, 0);
	g_ptr_array_unref(l);
	mlfi_close(ctx);
	fake_ctx_free(ctx);
	g_free(body);
}

/* The spool cannot be written: accept passes the message, tempfail
 * answers 451 with a reply. */
static void
test_internal_error(void **state)
{
	fixture *f = *state;
	char *bad = g_build_filename(f->dir, "missing-dir", "spool.db", NULL);
	SMFICTX *ctx;

	install(f, "on_internal_error = accept", bad);
	ctx = connect_as(&cases[0]);
	assert_int_equal(send_message(ctx, &cases[0], "QE1", "e1", "Hi\r\n", 4, NULL), SMFIS_CONTINUE);
	assert_null(ctx->reply);
	mlfi_close(ctx);
	fake_ctx_free(ctx);

	install(f, "on_internal_error = tempfail", bad);
	ctx = connect_as(&cases[0]);
	assert_int_equal(send_message(ctx, &cases[0], "QE2", "e2", "Hi\r\n", 4, NULL), SMFIS_TEMPFAIL);
	assert_non_null(ctx->reply);
	assert_true(g_str_has_prefix(ctx->reply, "451 4.3.0"));
	mlfi_close(ctx);
	fake_ctx_free(ctx);
	g_free(bad);
}

/* Abort mid-message, then a full message on the same connection; a
 * reload between messages does not affect the open connection. */
static void
test_abort_and_reload(void **state)
{
	fixture *f = *state;
	SMFICTX *ctx = connect_as(&cases[0]);
	char *argv[2] = { "<alice@example.com>", NULL };
	GPtrArray *l;

	assert_int_equal(mlfi_envfrom(ctx, argv), SMFIS_CONTINUE);
	assert_int_equal(mlfi_header(ctx, "Subject", "half"), SMFIS_CONTINUE);
	assert_int_equal(mlfi_abort(ctx), SMFIS_CONTINUE);
	/* a reload that drops every rule: this connection keeps its snapshot */
	snapshot_set(runtime_new(testutil_config("spool { path = \"%s\" }\n", f->spool)));
	assert_int_equal(send_message(ctx, &cases[0], "QA", "after-abort", "Hi\r\n", 4, NULL), SMFIS_CONTINUE);
	l = jobs(f);
	assert_int_equal(l->len, 1);
	g_ptr_array_unref(l);
	mlfi_close(ctx);
	fake_ctx_free(ctx);
	/* a new connection sees the new config: no rule, no job */
	ctx = connect_as(&cases[0]);
	assert_int_equal(send_message(ctx, &cases[0], "QB", "new-conn", "Hi\r\n", 4, NULL), SMFIS_CONTINUE);
	l = jobs(f);
	assert_int_equal(l->len, 1);
	g_ptr_array_unref(l);
	mlfi_close(ctx);
	fake_ctx_free(ctx);
}

#define CONC_THREADS 8
#define CONC_MESSAGES 40

/* One SMTP session sending CONC_MESSAGES distinct messages. */
static gpointer
session_thread(gpointer data)
{
	int t = GPOINTER_TO_INT(data);
	SMFICTX *ctx = connect_as(&cases[0]);

	for (int i = 0; i < CONC_MESSAGES; i++) {
		char *qid = g_strdup_printf("T%dM%d", t, i), *mid = g_strdup_printf("conc-%d-%d", t, i);
		if (send_message(ctx, &cases[0], qid, mid, "Hi\r\n", 4, NULL) != SMFIS_CONTINUE)
			fail_msg("session %d message %d not continued", t, i);
		g_free(qid);
		g_free(mid);
	}
	mlfi_close(ctx);
	fake_ctx_free(ctx);
	return NULL;
}

/* Many sessions at once (group commit): every message is one job, none is
 * lost or doubled. */
static void
test_concurrent_sessions(void **state)
{
	fixture *f = *state;
	GThread *th[CONC_THREADS];
	GPtrArray *l;

	for (int t = 0; t < CONC_THREADS; t++)
		th[t] = g_thread_new("session", session_thread, GINT_TO_POINTER(t));
	for (int t = 0; t < CONC_THREADS; t++)
		g_thread_join(th[t]);
	l = spool_list(f->db, -1, 0, NULL);
	assert_int_equal(l->len, CONC_THREADS * CONC_MESSAGES);
	g_ptr_array_unref(l);
}

/* What a step that always continues should answer: nothing when its
 * "no reply" bit was negotiated. */
static sfsistat
go(unsigned long pf1, unsigned long bit)
{
	return (pf1 & bit) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* One message after negotiation with offered actions f0 and steps f1 (we
 * must ask for want_pf1): the steps that always continue answer
 * SMFIS_NOREPLY when the MTA let us skip the answer; connect, MAIL and
 * end of message answer as before. When the MTA offers SMFIF_SETSYMLIST
 * we name our macros for connect, MAIL, DATA, end of headers and end of
 * message, and read no macro we did not name; otherwise we name none. */
static void
negotiated_message(fixture *f, unsigned long f0, unsigned long f1, unsigned long want_pf1, const char *mid)
{
	const cb_case *c = &cases[0];
	SMFICTX *ctx = fake_ctx_new();
	struct sockaddr_in sin;
	unsigned long pf[4] = { 0 };
	char *from[2] = { (char *)c->from, NULL }, *to[2] = { (char *)c->rcpts[0], NULL };
	char *msgid = g_strdup_printf("<%s@example.com>", mid);
	GPtrArray *before = jobs(f), *after;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, c->client_ip, &sin.sin_addr);
	assert_int_equal(mlfi_negotiate(ctx, f0, f1, 0, 0, &pf[0], &pf[1], &pf[2], &pf[3]), SMFIS_CONTINUE);
	assert_int_equal(pf[0], (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_CHGBODY | SMFIF_SETSYMLIST) & f0);
	if (f0 & SMFIF_SETSYMLIST) {
		assert_string_equal(ctx->symlist[SMFIM_CONNECT], "{daemon_name} {client_addr}");
		assert_string_equal(ctx->symlist[SMFIM_ENVFROM], "{i} {auth_authen} {daemon_name}");
		assert_string_equal(ctx->symlist[SMFIM_DATA], "{i}");
		assert_string_equal(ctx->symlist[SMFIM_EOH], "{i}");
		assert_string_equal(ctx->symlist[SMFIM_EOM], "{i}");
		assert_null(ctx->symlist[SMFIM_HELO]);
		assert_null(ctx->symlist[SMFIM_ENVRCPT]);
	} else
		for (int i = 0; i <= SMFIM_LAST; i++)
			assert_null(ctx->symlist[i]);
	assert_int_equal(pf[1], want_pf1);
	assert_int_equal(pf[2], 0);
	assert_int_equal(pf[3], 0);
	assert_int_equal(mlfi_connect(ctx, (char *)c->hostname, (struct sockaddr *)&sin), SMFIS_CONTINUE);
	fake_set_macro(ctx, "{auth_authen}", c->auth);
	assert_int_equal(mlfi_envfrom(ctx, from), SMFIS_CONTINUE);
	assert_int_equal(mlfi_envrcpt(ctx, to), go(want_pf1, SMFIP_NR_RCPT));
	fake_set_macro(ctx, "{i}", "QN");
	assert_int_equal(mlfi_data(ctx), go(want_pf1, SMFIP_NR_DATA));
	assert_int_equal(mlfi_header(ctx, "From", "alice@example.com"), go(want_pf1, SMFIP_NR_HDR));
	assert_int_equal(mlfi_header(ctx, "Message-ID", msgid), go(want_pf1, SMFIP_NR_HDR));
	assert_int_equal(mlfi_eoh(ctx), go(want_pf1, SMFIP_NR_EOH));
	assert_int_equal(mlfi_body(ctx, (unsigned char *)"Hi\r\n", 4), go(want_pf1, SMFIP_NR_BODY));
	assert_int_equal(mlfi_eom(ctx), SMFIS_CONTINUE);
	after = jobs(f);
	assert_int_equal(after->len, before->len + 1);
	assert_int_equal(mlfi_close(ctx), SMFIS_CONTINUE);
	assert_null(ctx->priv);
	if (ctx->unasked->len > 0)
		fail_msg("read macro %s, not asked for", (char *)g_ptr_array_index(ctx->unasked, 0));
	fake_ctx_free(ctx);
	g_ptr_array_unref(before);
	g_ptr_array_unref(after);
	g_free(msgid);
}

/* Negotiation: no answers to RCPT, DATA, headers, end of headers and body
 * chunks when the MTA offers that (fewer round trips), every answer when
 * it does not or when the milter socket is TCP; no HELO or unknown
 * commands asked for. Connecting with no runtime after negotiating
 * accepts and frees the context. */
static void
test_negotiate(void **state)
{
	fixture *f = *state;
	const unsigned long nr = SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;
	SMFICTX *ctx;
	unsigned long pf[4];

	/* Postfix 3.7 offers every action and step (milter protocol 6) */
	negotiated_message(f, 0x1ff, 0x1fffff, nr | SMFIP_NOHELO | SMFIP_NOUNKNOWN, "neg1");
	/* an MTA of protocol version 2 (no "no reply" steps, no NOUNKNOWN,
	 * no macro lists) */
	negotiated_message(f, 0x3f, 0x7f, SMFIP_NOHELO, "neg2");
	/* only some offered: only those are skipped */
	negotiated_message(f, 0x1ff, SMFIP_NR_HDR | SMFIP_NOHELO, SMFIP_NR_HDR | SMFIP_NOHELO, "neg3");

	/* on a TCP socket every step is answered (Nagle and delayed ACKs) */
	install(f, "socket = \"inet:8891@127.0.0.1\"", f->spool);
	negotiated_message(f, 0x1ff, 0x1fffff, SMFIP_NOUNKNOWN, "neg4");
	install(f, "", f->spool);

	ctx = fake_ctx_new();
	assert_int_equal(mlfi_negotiate(ctx, 0x1ff, 0x1fffff, 0, 0, &pf[0], &pf[1], &pf[2], &pf[3]), SMFIS_CONTINUE);
	assert_non_null(ctx->priv);
	snapshot_set(NULL);
	assert_int_equal(mlfi_connect(ctx, "x.test", NULL), SMFIS_ACCEPT);
	assert_null(ctx->priv);
	assert_int_equal(mlfi_close(ctx), SMFIS_CONTINUE);
	fake_ctx_free(ctx);
}

/* Tracking through the callbacks: the new body reaches the MTA with
 * replacebody in pieces of at most 64 KB, with the pixel and signed links
 * in place of the original ones, and the message's tracking id is
 * indexed. When the MTA refuses the body, the job is still queued, with
 * no tracking id (nothing it could be looked up by went out). */
static void
test_tracking(void **state)
{
	fixture *f = *state;
	char *keys = g_build_filename(f->dir, "tracking.keys", NULL);
	guint8 secret[32];
	char *b64, *line;
	crm_config *cfg;
	milter_runtime *rt;
	GError *e = NULL;
	GString *html = g_string_new("<html><body>\r\n");

	memset(secret, 7, sizeof(secret));
	b64 = g_base64_encode(secret, sizeof(secret));
	line = g_strdup_printf("k1 %s\n", b64);
	assert_true(g_file_set_contents(keys, line, -1, NULL));
	assert_int_equal(g_chmod(keys, 0600), 0);
	cfg = testutil_config(
	    "milter { internal_domains = {\"example.com\"} tmp_dir = \"%s\" }\n"
	    "spool { path = \"%s\" }\n"
	    "crm \"local\" { type = ledger }\n"
	    "rule \"outbound\" { direction = outbound save = \"local\" track = {opens, clicks} }\n"
	    "tracking { base_url = \"https://t.example.com\" key_file = \"%s\" }\n",
	    f->dir, f->spool, keys);
	rt = runtime_new(cfg);
	assert_true(runtime_load_keys(rt, &e));
	snapshot_set(rt);
	/* about 70 KB of HTML: the new body goes in two pieces */
	for (int i = 0; i < 1000; i++)
		g_string_append_printf(html, "<p>Paragraph %d of the proposal, with words to fill the line.</p>\r\n", i);
	g_string_append(html, "<p><a href=\"https://www.example.com/p\">the offer</a></p>\r\n</body></html>\r\n");

	for (int refuse = 0; refuse <= 1; refuse++) {
		SMFICTX *ctx = connect_as(&cases[0]);
		char *from[2] = { "<alice@example.com>", NULL }, *to[2] = { "<bob@customer.test>", NULL };
		char *mid = g_strdup_printf("<track%d@example.com>", refuse);
		char *sql = g_strdup_printf("SELECT track_id FROM tracked WHERE message_id = 'track%d@example.com'", refuse);
		sqlite3_stmt *st;
		guint pieces = 0;

		ctx->refuse_body = refuse;
		fake_set_macro(ctx, "{auth_authen}", "alice");
		assert_int_equal(mlfi_envfrom(ctx, from), SMFIS_CONTINUE);
		assert_int_equal(mlfi_envrcpt(ctx, to), SMFIS_CONTINUE);
		fake_set_macro(ctx, "{i}", refuse ? "QT1" : "QT0");
		assert_int_equal(mlfi_data(ctx), SMFIS_CONTINUE);
		assert_int_equal(mlfi_header(ctx, "From", "Alice <alice@example.com>"), SMFIS_CONTINUE);
		assert_int_equal(mlfi_header(ctx, "To", "bob@customer.test"), SMFIS_CONTINUE);
		assert_int_equal(mlfi_header(ctx, "Subject", "Offer"), SMFIS_CONTINUE);
		assert_int_equal(mlfi_header(ctx, "Message-ID", mid), SMFIS_CONTINUE);
		assert_int_equal(mlfi_header(ctx, "MIME-Version", "1.0"), SMFIS_CONTINUE);
		assert_int_equal(mlfi_header(ctx, "Content-Type", "text/html; charset=utf-8"), SMFIS_CONTINUE);
		assert_int_equal(mlfi_eoh(ctx), SMFIS_CONTINUE);
		assert_int_equal(mlfi_body(ctx, (unsigned char *)html->str, html->len), SMFIS_CONTINUE);
		assert_int_equal(mlfi_eom(ctx), SMFIS_CONTINUE);
		for (guint i = 0; i < ctx->edits->len; i++)
			pieces += g_str_has_prefix(g_ptr_array_index(ctx->edits, i), "replacebody ");
		if (!refuse) {
			g_byte_array_append(ctx->body, (const guint8 *)"", 1);
			assert_int_equal(pieces, 2);
			assert_true(ctx->body->len > 65535);
			assert_non_null(strstr((char *)ctx->body->data, "src=\"https://t.example.com/o/"));
			assert_non_null(strstr((char *)ctx->body->data, "href=\"https://t.example.com/c/"));
			assert_null(strstr((char *)ctx->body->data, "href=\"https://www.example.com/p\""));
			assert_non_null(strstr((char *)ctx->body->data, "<p>Paragraph 999 of the proposal"));
		} else
			assert_int_equal(pieces, 1);     /* the first piece was refused */
		st = db_prepare(f->db, sql, NULL);
		assert_non_null(st);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		if (refuse)
			assert_int_equal(sqlite3_column_type(st, 0), SQLITE_NULL);
		else
			assert_int_equal(strlen((const char *)sqlite3_column_text(st, 0)), 2 * TOKEN_ID_LEN);
		sqlite3_reset(st);
		assert_int_equal(mlfi_close(ctx), SMFIS_CONTINUE);
		fake_ctx_free(ctx);
		g_free(mid);
		g_free(sql);
	}
	install(f, "", f->spool);
	g_string_free(html, TRUE);
	g_free(line);
	g_free(b64);
	g_free(keys);
}

/* Close without any message, and callbacks with no context. */
static void
test_no_context(void **state)
{
	SMFICTX *ctx = fake_ctx_new();
	char *argv[2] = { "<a@b.test>", NULL };

	assert_int_equal(mlfi_body(ctx, (unsigned char *)"x", 1), SMFIS_CONTINUE);
	assert_int_equal(mlfi_eom(ctx), SMFIS_CONTINUE);
	assert_int_equal(mlfi_envfrom(ctx, argv), SMFIS_ACCEPT);
	assert_int_equal(mlfi_close(ctx), SMFIS_CONTINUE);
	fake_ctx_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_internal_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_and_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negotiate, setup, teardown),
	};

	return cmocka_run_group_tests_name("callbacks", tests, NULL, NULL);
}

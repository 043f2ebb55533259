/*
 * test_zoho_events.c - the zoho connector's rollups and directory sync
 * (core/crm/zoho_note.c, zoho_sync.c) against the test HTTP server: one
 * Note per message on the associated record (created, then written again
 * with PUT as events come; found again after a lost answer instead of a
 * second one; two workers at once make one), events waiting for their
 * message's association, a reply
 * counted in the sent message's Note, and the sync of Contacts and Leads
 * (page_token paging, page numbers, If-Modified-Since, 304, Email_Opt_Out
 * as no_follow, the cursor moved only after a whole module). The fixture
 * is test_zoho.c's; main there runs this group.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "test_zoho.h"
#include "rollup.h"
#include "spool.h"

#define MID "pricing.1@example.com"

#define BOUNCED_META "{\"kind\":\"bounced\",\"message_id\":\"" MID "\",\"recipients\":[{\"recipient\":" \
	"\"carol@customer.test\",\"action\":\"failed\",\"failed\":true,\"status\":\"5.1.1\"," \
	"\"diagnostic\":\"550 5.1.1 no such user\"}]}"
#define OPENED_META "{\"kind\":\"opened\",\"message_track_id\":\"00ff\",\"message_id\":\"" MID "\"," \
	"\"class\":\"human\",\"reason\":\"browser\",\"at\":1795000100}"
#define NOTE_201 "{\"data\":[{\"code\":\"SUCCESS\",\"details\":{\"Modified_Time\":\"2026-11-22T12:00:00+00:00\"," \
	"\"Modified_By\":{\"name\":\"A\",\"id\":\"1\"},\"Created_Time\":\"2026-11-22T12:00:00+00:00\"," \
	"\"id\":\"4150868000000900001\",\"Created_By\":{\"name\":\"A\",\"id\":\"1\"}},\"message\":\"record added\"," \
	"\"status\":\"success\"}]}"
#define NOTE_200 "{\"data\":[{\"code\":\"SUCCESS\",\"details\":{\"id\":\"x\"},\"message\":\"record updated\"," \
	"\"status\":\"success\"}]}"

/* The title the connector gives the Note of MID. */
static char *
title_of(const char *mid)
{
	char *d = g_compute_checksum_for_string(G_CHECKSUM_SHA256, mid, -1);
	char *t = g_strdup_printf("Email engagement [crm-milter %.16s]", d);

	g_free(d);
	return t;
}

/* data[0] of the last request (parser in *p). */
static JsonObject *
last_note(zf *f, JsonParser **p)
{
	JsonObject *root;

	*p = zf_json(f, &root);
	return json_array_get_object_element(json_object_get_array_member(root, "data"), 0);
}

/* The event kept locally first (as the flusher does), then the connector's. */
static conn_status
deliver(zf *f, const spool_job *j, conn_result *res)
{
	conn_result local = { 0 };

	connector_ledger_ops.send_event(f->db, j, ZF_NOW, &local);
	assert_int_equal(local.status, CONN_OK);
	conn_result_clear(&local);
	return zf_event(f, j, res);
}

/* A fixture where MID was associated to contact 101. */
static zf *
associated(void)
{
	zf *f = zf_new();

	zf_cache_token(f, "1000.cached", NULL);
	assert_true(crm_record_put(f->db, "z", "z/" MID, MID, "associate_email", "Contacts/101", ZF_NOW, NULL));
	return f;
}

/* The first event makes the Note; the next writes it again; a delivery
 * report that counts nothing sends nothing. */
static void
test_note_create_update(void **state)
{
	zf *f = associated();
	spool_job *bounce = zf_job(JOB_EVENT, "z/dsn.1", NULL, NULL, BOUNCED_META);
	spool_job *open = zf_job(JOB_EVENT, "z/open.1", NULL, NULL, OPENED_META);
	spool_job *delivered = zf_job(JOB_EVENT, "z/dsn.2", NULL, NULL, "{\"kind\":\"delivered\",\"message_id\":\""
	    MID "\",\"recipients\":[{\"recipient\":\"bob@customer.test\",\"action\":\"delivered\"}]}");
	conn_result res = { 0 };
	JsonParser *p;
	JsonObject *n, *parent;
	char *title = title_of(MID), *id;

	(void)state;
	zf_push(f, 201, NULL, NOTE_201);
	assert_int_equal(deliver(f, bounce, &res), CONN_OK);
	assert_string_equal(f->srv->method, "POST");
	assert_string_equal(f->srv->path, "/crm/v8/Notes");
	assert_string_equal(test_http_header(f->srv, "content-type"), "application/json");
	n = last_note(f, &p);
	assert_string_equal(json_object_get_string_member(n, "Note_Title"), title);
	assert_true(strlen(title) <= 120);
	parent = json_object_get_object_member(n, "Parent_Id");
	assert_string_equal(json_object_get_string_member(json_object_get_object_member(parent, "module"),
	    "api_name"), "Contacts");
	assert_string_equal(json_object_get_string_member(parent, "id"), "101");
	assert_non_null(strstr(json_object_get_string_member(n, "Note_Content"), "<" MID ">"));
	assert_non_null(strstr(json_object_get_string_member(n, "Note_Content"), "Bounced recipients: 1, first"));
	assert_non_null(strstr(json_object_get_string_member(n, "Note_Content"), "Opened by people: 0\n"));
	g_object_unref(p);
	id = crm_record_get(f->db, "z", "zoho-note:" MID, NULL, NULL);
	assert_string_equal(id, "4150868000000900001");
	g_free(id);
	zf_push(f, 200, NULL, NOTE_200);
	assert_int_equal(deliver(f, open, &res), CONN_OK);
	assert_string_equal(f->srv->method, "PUT");
	assert_string_equal(f->srv->path, "/crm/v8/Notes/4150868000000900001");
	n = last_note(f, &p);
	assert_false(json_object_has_member(n, "Parent_Id"));
	assert_non_null(strstr(json_object_get_string_member(n, "Note_Content"), "Opened by people: 1, first"));
	assert_non_null(strstr(json_object_get_string_member(n, "Note_Content"), "Bounced recipients: 1"));
	g_object_unref(p);
	assert_int_equal(deliver(f, delivered, &res), CONN_OK);
	assert_int_equal(f->srv->requests, 2);
	g_free(title);
	zf_job_free(bounce);
	zf_job_free(open);
	zf_job_free(delivered);
	zf_free(f);
}

/* A create whose answer was lost: found by its title, written with PUT;
 * not found: created (once). */
static void
test_note_lost_answer(void **state)
{
	zf *f = associated();
	spool_job *bounce = zf_job(JOB_EVENT, "z/dsn.1", NULL, NULL, BOUNCED_META);
	conn_result res = { 0 };
	char *title = title_of(MID), *list, *id;

	(void)state;
	zf_push(f, 500, NULL, "{\"code\":\"INTERNAL_ERROR\",\"message\":\"x\",\"status\":\"error\",\"details\":{}}");
	assert_int_equal(deliver(f, bounce, &res), CONN_RETRY);
	conn_result_clear(&res);
	list = g_strdup_printf("{\"data\":[{\"id\":\"4150868000000900007\",\"Note_Title\":\"Call notes\"},"
	    "{\"id\":\"4150868000000900009\",\"Note_Title\":\"%s\"}],\"info\":{\"per_page\":200,\"count\":2,"
	    "\"page\":1,\"more_records\":false}}", title);
	zf_push(f, 200, NULL, list);
	zf_push(f, 200, NULL, NOTE_200);
	assert_int_equal(zf_event(f, bounce, &res), CONN_OK);
	assert_int_equal(f->srv->requests, 3);
	assert_string_equal(f->srv->method, "PUT");
	assert_string_equal(f->srv->path, "/crm/v8/Notes/4150868000000900009");
	id = crm_record_get(f->db, "z", "zoho-note:" MID, NULL, NULL);
	assert_string_equal(id, "4150868000000900009");
	g_free(id);
	zf_free(f);
	/* the lost create never happened: the list is empty, one create */
	f = associated();
	zf_push(f, 500, NULL, "{\"code\":\"INTERNAL_ERROR\",\"message\":\"x\",\"status\":\"error\",\"details\":{}}");
	assert_int_equal(deliver(f, bounce, &res), CONN_RETRY);
	conn_result_clear(&res);
	zf_push(f, 204, NULL, "");
	zf_push(f, 201, NULL, NOTE_201);
	assert_int_equal(zf_event(f, bounce, &res), CONN_OK);
	assert_int_equal(f->srv->requests, 3);
	assert_string_equal(f->srv->method, "POST");
	assert_string_equal(f->srv->path, "/crm/v8/Notes");
	g_free(list);
	g_free(title);
	zf_job_free(bounce);
	zf_free(f);
}

typedef struct {
	crm_db *db;
	conn_env env;
	connector *c;
	spool_job *job;
	conn_result res;
} note_worker;

/* One worker's event. */
static gpointer
note_work(gpointer data)
{
	note_worker *w = data;

	connector_event(w->c, w->job, ZF_NOW, &w->res);
	return NULL;
}

/* Two workers with events of one message at once: one makes the Note
 * (its answer slow), the other waits for the lock and writes it again. */
static void
test_note_two_workers(void **state)
{
	zf *f = associated();
	note_worker w[2] = { { 0 } };
	GThread *t[2];
	test_answer slow = { 201, NULL, NOTE_201, 300 };
	char *path = g_build_filename(f->dir, "spool.db", NULL);

	(void)state;
	test_http_push(f->srv, &slow);
	zf_push(f, 200, NULL, NOTE_200);
	for (int i = 0; i < 2; i++) {
		conn_result local = { 0 };
		w[i].job = zf_job(JOB_EVENT, i == 0 ? "z/dsn.1" : "z/open.1", NULL, NULL,
		    i == 0 ? BOUNCED_META : OPENED_META);
		connector_ledger_ops.send_event(f->db, w[i].job, ZF_NOW, &local);
		w[i].db = db_open(path, 2000, NULL);
		w[i].env = f->env;
		w[i].env.db = w[i].db;
		w[i].c = connector_open(&w[i].env, NULL);
		assert_non_null(w[i].c);
	}
	for (int i = 0; i < 2; i++)
		t[i] = g_thread_new("w", note_work, &w[i]);
	for (int i = 0; i < 2; i++) {
		g_thread_join(t[i]);
		if (w[i].res.status != CONN_OK)
			fail_msg("worker %d: %d %s", i, w[i].res.status, w[i].res.error ? w[i].res.error : "-");
		connector_close(w[i].c);
		db_close(w[i].db);
		zf_job_free(w[i].job);
	}
	assert_int_equal(f->srv->requests, 2);
	assert_string_equal(f->srv->method, "PUT");
	assert_string_equal(f->srv->path, "/crm/v8/Notes/4150868000000900001");
	g_free(path);
	zf_free(f);
}

/* An event of a message not associated yet waits while its save job is in
 * the spool; with none, there is nothing to roll up into. */
static void
test_event_waits(void **state)
{
	zf *f = zf_new();
	spool_job *bounce = zf_job(JOB_EVENT, "z/dsn.1", NULL, NULL, BOUNCED_META);
	const char *rcpts[] = { "bob@customer.test" };
	spool_new_job nj = { .kind = JOB_SAVE, .profile = "z", .idem_key = "z/" MID, .direction = "outbound",
		.rcpts = rcpts, .nrcpts = 1, .message_id = "<" MID ">", .payload = "x", .payload_len = 1 };
	conn_result res = { 0 };

	(void)state;
	zf_cache_token(f, "1000.cached", NULL);
	assert_int_equal(deliver(f, bounce, &res), CONN_OK);
	assert_int_equal(spool_enqueue(f->db, &nj, ZF_NOW, NULL, NULL), SPOOL_OK);
	assert_int_equal(zf_event(f, bounce, &res), CONN_RETRY);
	assert_non_null(strstr(res.error, "not associated yet"));
	conn_result_clear(&res);
	assert_int_equal(f->srv->requests, 0);
	zf_job_free(bounce);
	zf_free(f);
}

/* A reply: associated (sent false, the sender's record), kept locally, and
 * the sent message's Note counts it. */
static void
test_reply_rollup(void **state)
{
	zf *f = associated();
	static const char reply[] = "From: Bob <bob@customer.test>\r\nTo: Alice <alice@example.com>\r\n"
	    "Subject: Re: Our pricing\r\nDate: Sun, 22 Nov 2026 13:00:00 +0000\r\n"
	    "Message-ID: <reply.1@customer.test>\r\nIn-Reply-To: <" MID ">\r\n\r\nThanks\r\n";
	spool_job *j = zf_job(JOB_SAVE, "z/reply.1@customer.test", "inbound", reply,
	    "{\"correlation\":{\"method\":\"in-reply-to\",\"message_id\":\"" MID "\"}}");
	conn_result res = { 0 };
	JsonParser *p;
	JsonObject *n;
	rollup r;

	(void)state;
	zf_contact(f, "bob@customer.test", DIRREC_LEAD, "4150868000000000303", "Bob Lead");
	assert_true(crm_record_put(f->db, "z", "zoho-note:" MID, NULL, "Notes", "4150868000000900001", ZF_NOW, NULL));
	zf_push(f, 201, NULL, "{\"Emails\":[{\"code\":\"SUCCESS\",\"details\":{},\"message\":\"ok\",\"status\":\"success\"}]}");
	zf_push(f, 200, NULL, NOTE_200);
	assert_int_equal(zf_save(f, j, &res), CONN_OK);
	assert_int_equal(f->srv->requests, 2);
	assert_string_equal(f->srv->path, "/crm/v8/Notes/4150868000000900001");
	n = last_note(f, &p);
	assert_non_null(strstr(json_object_get_string_member(n, "Note_Content"), "Replies: 1, first 2026-11-22 13:00 UTC"));
	g_object_unref(p);
	assert_true(rollup_for_message(f->db, MID, &r, NULL));
	assert_int_equal(r.replies.n, 1);
	zf_job_free(j);
	zf_free(f);
}

/* Sync one run; its result. */
static gboolean
sync_run(zf *f, GError **err)
{
	void *state = connector_zoho_ops.open(&f->env, err);
	gboolean ok;

	assert_non_null(state);
	ok = connector_zoho_ops.sync_directory(state, ZF_NOW, err);
	connector_zoho_ops.close(state);
	return ok;
}

#define PAGE1 "{\"data\":[{\"id\":\"4150868000000001001\",\"Email\":\"Ann@Customer.test\",\"Email_Opt_Out\":false," \
	"\"First_Name\":\"Ann\",\"Last_Name\":\"Lee\",\"Modified_Time\":\"2026-11-20T10:00:00+05:30\"}," \
	"{\"id\":\"4150868000000001002\",\"Email\":null,\"Email_Opt_Out\":false,\"First_Name\":null," \
	"\"Last_Name\":\"No Mail\",\"Modified_Time\":\"2026-11-20T09:00:00+05:30\"}]," \
	"\"info\":{\"per_page\":200,\"count\":2,\"page\":1,\"more_records\":true,\"next_page_token\":\"tok2\"}}"
#define PAGE2 "{\"data\":[{\"id\":\"4150868000000001003\",\"Email\":\"optout@customer.test\"," \
	"\"Email_Opt_Out\":true,\"First_Name\":null,\"Last_Name\":\"Out\",\"Modified_Time\":" \
	"\"2026-11-21T08:00:00+00:00\"}],\"info\":{\"per_page\":200,\"count\":1,\"more_records\":false}}"
#define LEADS "{\"data\":[{\"id\":\"4150868000000002001\",\"Email\":\"lead@customer.test\",\"Email_Opt_Out\":false," \
	"\"First_Name\":\"Lea\",\"Last_Name\":null,\"Modified_Time\":\"2026-11-19T00:00:00+00:00\"}]," \
	"\"info\":{\"per_page\":200,\"count\":1,\"page\":1,\"more_records\":false}}"

/* The directory entry of an address (must exist). */
static directory_entry *
entry(zf *f, const char *addr)
{
	directory_entry *e = directory_lookup(f->db, addr, NULL);

	assert_non_null(e);
	return e;
}

/* Paging, opt-out, incremental, the cursor only after a whole module. */
static void
test_sync(void **state)
{
	zf *f = zf_new();
	GError *err = NULL;
	directory_entry *e;
	char *cursor;

	(void)state;
	zf_cache_token(f, "1000.cached", NULL);
	/* page 2 fails: nothing moves the cursor */
	zf_push(f, 200, NULL, PAGE1);
	zf_push(f, 500, NULL, "{\"code\":\"INTERNAL_ERROR\",\"message\":\"x\",\"status\":\"error\",\"details\":{}}");
	assert_false(sync_run(f, &err));
	assert_non_null(strstr(err->message, "INTERNAL_ERROR"));
	g_clear_error(&err);
	assert_string_equal(f->srv->path, "/crm/v8/Contacts");
	assert_non_null(strstr(f->srv->query, "page_token=tok2"));
	assert_null(crm_sync_get(f->db, "z", "zoho:Contacts", NULL, NULL));
	/* the whole run */
	zf_push(f, 200, NULL, PAGE1);
	zf_push(f, 200, NULL, PAGE2);
	zf_push(f, 200, NULL, LEADS);
	assert_true(sync_run(f, &err));
	assert_int_equal(f->srv->requests, 5);
	assert_string_equal(f->srv->path, "/crm/v8/Leads");
	assert_non_null(strstr(f->srv->query, "fields=Email,Email_Opt_Out,First_Name,Last_Name,Modified_Time"));
	assert_non_null(strstr(f->srv->query, "per_page=200"));
	assert_non_null(strstr(f->srv->query, "page=1"));
	assert_non_null(strstr(f->srv->query, "sort_by=Modified_Time"));
	assert_null(test_http_header(f->srv, "if-modified-since"));
	e = entry(f, "ann@customer.test");
	assert_int_equal(e->type, DIRREC_CONTACT);
	assert_string_equal(e->record_id, "4150868000000001001");
	assert_string_equal(e->name, "Ann Lee");
	assert_false(e->no_follow);
	directory_entry_free(e);
	e = entry(f, "optout@customer.test");
	assert_true(e->no_follow);
	assert_string_equal(e->name, "Out");
	directory_entry_free(e);
	e = entry(f, "lead@customer.test");
	assert_int_equal(e->type, DIRREC_LEAD);
	assert_string_equal(e->name, "Lea");
	directory_entry_free(e);
	cursor = crm_sync_get(f->db, "z", "zoho:Contacts", NULL, NULL);
	assert_string_equal(cursor, "2026-11-21T08:00:00+00:00");
	g_free(cursor);
	cursor = crm_sync_get(f->db, "z", "zoho:Leads", NULL, NULL);
	assert_string_equal(cursor, "2026-11-19T00:00:00+00:00");
	g_free(cursor);
	/* nothing changed since: 304 each */
	zf_push(f, 304, NULL, "");
	zf_push(f, 304, NULL, "");
	assert_true(sync_run(f, &err));
	assert_int_equal(f->srv->requests, 7);
	assert_string_equal(test_http_header(f->srv, "if-modified-since"), "2026-11-19T00:00:00+00:00");
	/* no next_page_token: the next page by number */
	zf_push(f, 200, NULL, "{\"data\":[],\"info\":{\"more_records\":true,\"page\":1}}");
	zf_push(f, 500, NULL, "{}");
	assert_false(sync_run(f, &err));
	g_clear_error(&err);
	assert_non_null(strstr(f->srv->query, "page=2"));
	assert_string_equal(test_http_header(f->srv, "if-modified-since"), "2026-11-21T08:00:00+00:00");
	zf_free(f);
}

/* Run the group. */
int
zoho_event_group(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_note_create_update),
		cmocka_unit_test(test_note_lost_answer),
		cmocka_unit_test(test_note_two_workers),
		cmocka_unit_test(test_event_waits),
		cmocka_unit_test(test_reply_rollup),
		cmocka_unit_test(test_sync),
	};

	return cmocka_run_group_tests_name("zoho events and sync", tests, NULL, NULL);
}

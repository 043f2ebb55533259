/*
 * test_dynamics_emu.c - the dynamics365 connector against the Python CRM
 * emulator (tests/crm-emulator, which checks every Dataverse request
 * field by field and stores what it creates): a save with parties
 * resolved from a synced directory, regarding and attachment; the answer
 * of the create (then of an attachment) lost after the server stored it,
 * and the retry making no second email or attachment; a $batch whose
 * change set fails on a stale directory entry (saved again without
 * binds) next to an email that exists already; rollups to mapped columns
 * on the completed email and the rest in one note, a reply counted;
 * directory sync paged, then incremental (delta link), opt-out flags,
 * a stale or foreign delta link. Skipped when python3 is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-glib/json-glib.h>

#include "crm/http.h"
#include "crm/records.h"
#include "rollup.h"
#include "testutil.h"
#include "test_dynamics.h"

#define TENANT "00000000-0000-0000-0000-00000000c0de"

typedef struct emu {
	GPid pid;
	char *dir;
	char *base;
	http_client *http;
} emu;

static emu E;

/* One control or API call to the emulator; the body (new string). */
static char *
emu_call(const char *method, const char *path, const char *json)
{
	char *url = g_strdup_printf("%s%s", E.base, path), *out;
	const char *hdr[] = { "Content-Type: application/json", NULL };
	http_request rq = { method, url, hdr, json, json != NULL ? strlen(json) : 0 };
	http_response rs;

	assert_true(http_perform(E.http, &rq, &rs));
	if (rs.status != 200)
		fail_msg("%s %s: %ld %.*s", method, path, rs.status, (int)rs.body->len, rs.body->data);
	out = g_strndup((const char *)rs.body->data, rs.body->len);
	http_response_clear(&rs);
	g_free(url);
	return out;
}

/* The JSON answer of a GET (parser returned for freeing). */
static JsonNode *
emu_json(const char *path, JsonParser **jp)
{
	char *body = emu_call("GET", path, NULL);

	*jp = json_parser_new();
	assert_true(json_parser_load_from_data(*jp, body, -1, NULL));
	g_free(body);
	return json_parser_get_root(*jp);
}

/* The stored records of one kind. */
static JsonArray *
records(const char *kind, JsonParser **jp)
{
	char *path = g_strdup_printf("/_emu/records?vendor=dynamics&kind=%s", kind);
	JsonNode *n = emu_json(path, jp);

	g_free(path);
	return json_node_get_array(n);
}

/* How many records of a kind. */
static guint
count(const char *kind)
{
	JsonParser *jp;
	guint n = json_array_get_length(records(kind, &jp));

	g_object_unref(jp);
	return n;
}

/* A stats number (top level). */
static gint64
emu_stat(const char *name)
{
	JsonParser *jp;
	JsonObject *o = json_node_get_object(emu_json("/_emu/stats", &jp));
	gint64 v = json_object_get_int_member(o, name);

	g_object_unref(jp);
	return v;
}

/* Requests logged since seq whose "METHOD path" contains what. */
static int
requests_like(gint64 since, const char *what)
{
	char *path = g_strdup_printf("/_emu/requests?vendor=dynamics&since=%" G_GINT64_FORMAT, since);
	JsonParser *jp;
	JsonArray *a = json_node_get_array(emu_json(path, &jp));
	int n = 0;

	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		char *line = g_strdup_printf("%s %s", json_object_get_string_member(o, "method"),
		    json_object_get_string_member(o, "path"));
		n += strstr(line, what) != NULL;
		g_free(line);
	}
	g_object_unref(jp);
	g_free(path);
	return n;
}

/* The last request's seq. */
static gint64
last_seq(void)
{
	return emu_stat("requests");
}

/* Start the emulator once for the group. */
static int
group_setup(void **state)
{
	http_client_opts o = { NULL, 10, 2, 4 * 1024 * 1024, "test", NULL };
	char *cfg = g_build_filename(TEST_SRCDIR, "tests", "crm-emulator", "example-config.json", NULL);
	char *script = g_build_filename(TEST_SRCDIR, "tests", "crm-emulator", "emulator.py", NULL);
	char *portfile, *port = NULL;
	char *argv[] = { "python3", script, "--config", cfg, "--port", "0", "--port-file", NULL, NULL };

	(void)state;
	E.dir = testutil_tmpdir();
	portfile = g_build_filename(E.dir, "port", NULL);
	argv[7] = portfile;
	if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
	    G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &E.pid, NULL)) {
		print_message("python3 not found: emulator tests skipped\n");
		E.pid = 0;
	}
	for (int i = 0; E.pid != 0 && i < 200 && !g_file_get_contents(portfile, &port, NULL, NULL); i++)
		g_usleep(50 * 1000);
	if (E.pid != 0 && port == NULL)
		fail_msg("the emulator did not start");
	if (port != NULL)
		E.base = g_strdup_printf("http://127.0.0.1:%s", g_strstrip(port));
	E.http = http_client_new(&o, NULL);
	g_free(port);
	g_free(portfile);
	g_free(cfg);
	g_free(script);
	return 0;
}

/* Stop the emulator (by its pid). */
static int
group_teardown(void **state)
{
	(void)state;
	if (E.pid != 0) {
		kill(E.pid, SIGTERM);
		waitpid(E.pid, NULL, 0);
		g_spawn_close_pid(E.pid);
	}
	http_client_free(E.http);
	testutil_rmtree(E.dir);
	g_free(E.dir);
	g_free(E.base);
	return 0;
}

/* A fresh emulator state, spool and connector. */
static int
setup(void **state)
{
	char *url, *tok;
	dfix *f;

	if (E.base == NULL)
		skip();
	g_free(emu_call("POST", "/_emu/reset", "{}"));
	url = g_strdup_printf("%s/dynamics", E.base);
	tok = g_strdup_printf("%s/dynamics/login/%s/oauth2/v2.0/token", E.base, TENANT);
	f = dtest_setup_profile(url, tok);
	f->emu = g_strdup(E.base);
	dtest_open(f);
	g_free(url);
	g_free(tok);
	*state = f;
	return 0;
}

/* Free the fixture. */
static int
teardown(void **state)
{
	if (*state != NULL)
		dtest_teardown(*state);
	return 0;
}

/* Run the directory sync with a fresh connector state. */
static void
sync_dir(dfix *f, gint64 now)
{
	const connector_ops *ops = connector_lookup("dynamics365");
	GError *e = NULL;
	void *st = ops->open(&f->env, &e);

	assert_non_null(st);
	if (!ops->sync_directory(st, now, &e))
		fail_msg("sync: %s", e != NULL ? e->message : "?");
	ops->close(st);
}

/* The directory record of an address (or NULL). */
static directory_entry *
dir_of(dfix *f, const char *address)
{
	return directory_lookup(f->db, address, NULL);
}

static const char msg_full[] =
    "From: Alice Example <alice@example.com>\r\nTo: Bob <bob@customer.test>\r\n"
    "Cc: carol@customer.test\r\nSubject: Quote for Q3\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <emu.1@example.com>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nHello Bob\r\n--b1\r\n"
    "Content-Type: application/pdf; name=quote.pdf\r\nContent-Disposition: attachment; filename=quote.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n";

/* A message with Message-ID mid and subject subj (new string). */
static char *
simple_msg(const char *mid, const char *subj, const char *from, const char *to)
{
	return g_strdup_printf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
	    "Message-ID: <%s>\r\n\r\nbody of %s\r\n", from, to, subj, mid, subj);
}

/* The first stored record of kind with field == value. */
static JsonObject *
find(JsonArray *a, const char *field, const char *value)
{
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		if (g_strcmp0(json_object_get_string_member_with_default(o, field, NULL), value) == 0)
			return o;
	}
	return NULL;
}

/* Seed the emulator's people; the directory synced from them. */
static void
seed_people(dfix *f, gint64 now)
{
	g_free(emu_call("POST", "/_emu/seed",
	    "[{\"vendor\":\"dynamics\",\"kind\":\"systemusers\",\"records\":[{\"systemuserid\":"
	    "\"11111111-aaaa-4aaa-8aaa-000000000001\",\"internalemailaddress\":\"alice@example.com\","
	    "\"fullname\":\"Alice Example\"}]},"
	    "{\"vendor\":\"dynamics\",\"kind\":\"contacts\",\"records\":[{\"contactid\":"
	    "\"22222222-bbbb-4bbb-8bbb-000000000002\",\"emailaddress1\":\"bob@customer.test\","
	    "\"fullname\":\"Bob\"}]},"
	    "{\"vendor\":\"dynamics\",\"kind\":\"accounts\",\"records\":[{\"accountid\":"
	    "\"0a0a0a0a-0000-4000-8000-000000000001\",\"name\":\"Customer Ltd\","
	    "\"emailaddress1\":\"info@customer.test\"}]}]"));
	sync_dir(f, now);
}

/* One save: the email, its parties, regarding, attachment and state as stored. */
static void
test_emu_save(void **state)
{
	dfix *f = *state;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	spool_job *j;
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	JsonParser *jp;
	JsonArray *a;
	JsonObject *o;

	seed_people(f, now);
	j = dtest_job("emu-1", "outbound", msg_full, "bob@customer.test,carol@customer.test,dave@customer.test",
	    "{\"regarding\":\"account:0a0a0a0a-0000-4000-8000-000000000001\"}");
	connector_save(f->c, j, now, &res);
	if (res.status != CONN_OK)
		fail_msg("save: %s", res.error);
	a = records("emails", &jp);
	assert_int_equal(json_array_get_length(a), 1);
	o = json_array_get_object_element(a, 0);
	assert_string_equal(json_object_get_string_member(o, "subject"), "Quote for Q3");
	assert_string_equal(json_object_get_string_member(o, "messageid"), "<emu.1@example.com>");
	assert_true(json_object_get_boolean_member(o, "directioncode"));
	assert_int_equal(json_object_get_int_member(o, "statecode"), 1);
	assert_int_equal(json_object_get_int_member(o, "statuscode"), 3);
	assert_string_equal(json_object_get_string_member(o, "regardingobjecttypecode"), "account");
	assert_string_equal(json_object_get_string_member(o, "_regardingobjectid_value"),
	    "0a0a0a0a-0000-4000-8000-000000000001");
	assert_non_null(strstr(json_object_get_string_member(o, "description"), "Hello Bob"));
	char *id = g_strdup(json_object_get_string_member(o, "activityid")), *rec;
	g_object_unref(jp);
	rec = crm_record_get(f->db, "dyn", "emu-1", NULL, NULL);
	assert_string_equal(rec, id);
	g_free(rec);
	/* parties: alice a user, bob a contact, carol and dave addresses */
	a = records("activityparties", &jp);
	assert_int_equal(json_array_get_length(a), 4);
	o = find(a, "addressused", "alice@example.com");
	assert_int_equal(json_object_get_int_member(o, "participationtypemask"), 1);
	assert_string_equal(json_object_get_string_member(o, "partyid_type"), "systemuser");
	o = find(a, "addressused", "bob@customer.test");
	assert_int_equal(json_object_get_int_member(o, "participationtypemask"), 2);
	assert_string_equal(json_object_get_string_member(o, "partyid_type"), "contact");
	o = find(a, "addressused", "carol@customer.test");
	assert_int_equal(json_object_get_int_member(o, "participationtypemask"), 3);
	assert_false(json_object_has_member(o, "partyid_type"));
	o = find(a, "addressused", "dave@customer.test");
	assert_int_equal(json_object_get_int_member(o, "participationtypemask"), 4);
	g_object_unref(jp);
	a = records("activitymimeattachments", &jp);
	assert_int_equal(json_array_get_length(a), 1);
	o = json_array_get_object_element(a, 0);
	assert_string_equal(json_object_get_string_member(o, "filename"), "quote.pdf");
	assert_string_equal(json_object_get_string_member(o, "mimetype"), "application/pdf");
	assert_string_equal(json_object_get_string_member(o, "body"), "JVBERi0xLjQK");
	assert_string_equal(json_object_get_string_member(o, "_objectid_value"), id);
	g_object_unref(jp);
	assert_int_equal(emu_stat("warnings"), 0);
	assert_int_equal(emu_stat("internal_errors"), 0);
	g_free(id);
	conn_result_clear(&res);
	dtest_job_free(j);
}

/* Save j; once more (a later attempt) if the first try asked for a retry. */
static void
save_until_done(dfix *f, spool_job *j, gint64 now)
{
	conn_result res = { CONN_OK, -1, NULL, FALSE };

	connector_save(f->c, j, now, &res);
	if (res.status == CONN_RETRY) {
		conn_result_clear(&res);
		j->attempts++;
		connector_save(f->c, j, now + 60, &res);
	}
	if (res.status != CONN_OK)
		fail_msg("%s: %s", j->idem_key, res.error);
	conn_result_clear(&res);
}

/* Answers lost after the server stored the record: the connection
 * dropped (libcurl may send the POST again on a new connection: the
 * email's own primary key makes that a duplicate key, not a second
 * email), or a 500 in place of the answer (the retry finds the open email
 * by messageid and finishes it); a job acked late is found in records.h. */
static void
test_emu_lost_answers(void **state)
{
	dfix *f = *state;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC, seq;
	spool_job *j = dtest_job("lost-1", "outbound", msg_full, "bob@customer.test", NULL);
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	char *raw, *rec;
	JsonParser *jp;
	JsonArray *a;

	g_free(emu_call("POST", "/_emu/faults", "{\"vendor\":\"dynamics\",\"method\":\"POST\","
	    "\"path_regex\":\"/emails$\",\"kind\":\"drop\",\"phase\":\"after\",\"count\":1}"));
	save_until_done(f, j, now);
	a = records("emails", &jp);
	assert_int_equal(json_array_get_length(a), 1);
	assert_int_equal(json_object_get_int_member(json_array_get_object_element(a, 0), "statecode"), 1);
	g_object_unref(jp);
	assert_int_equal(count("activitymimeattachments"), 1);
	/* the flusher died before the ack: records.h has it, nothing but a GET */
	seq = last_seq();
	connector_save(f->c, j, now + 120, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(requests_like(seq, "POST "), 0);
	assert_int_equal(requests_like(seq, "PATCH "), 0);
	assert_int_equal(count("emails"), 1);
	conn_result_clear(&res);
	dtest_job_free(j);

	/* a 500 in place of the create's answer: retried, found, finished */
	raw = simple_msg("lost.2@example.com", "lost two", "alice@example.com", "bob@customer.test");
	j = dtest_job("lost-2", "outbound", raw, "bob@customer.test", NULL);
	g_free(emu_call("POST", "/_emu/faults", "{\"vendor\":\"dynamics\",\"method\":\"POST\","
	    "\"path_regex\":\"/emails$\",\"kind\":\"500\",\"phase\":\"after\",\"count\":1}"));
	connector_save(f->c, j, now, &res);
	assert_int_equal(res.status, CONN_RETRY);
	assert_null(crm_record_get(f->db, "dyn", "lost-2", NULL, NULL));
	a = records("emails", &jp);
	assert_int_equal(json_array_get_length(a), 2);           /* stored, still open */
	assert_int_equal(json_object_get_int_member(json_array_get_object_element(a, 1), "statecode"), 0);
	g_object_unref(jp);
	conn_result_clear(&res);
	j->attempts = 2;
	seq = last_seq();
	connector_save(f->c, j, now + 60, &res);
	if (res.status != CONN_OK)
		fail_msg("retry: %s", res.error);
	assert_int_equal(requests_like(seq, "POST /dynamics/api/data/v9.2/emails"), 0);
	a = records("emails", &jp);
	assert_int_equal(json_array_get_length(a), 2);
	assert_int_equal(json_object_get_int_member(json_array_get_object_element(a, 1), "statecode"), 1);
	rec = crm_record_get(f->db, "dyn", "lost-2", NULL, NULL);
	assert_string_equal(rec, json_object_get_string_member(json_array_get_object_element(a, 1), "activityid"));
	g_free(rec);
	g_object_unref(jp);
	conn_result_clear(&res);
	dtest_job_free(j);
	g_free(raw);

	/* attachments' answers lost: each stored once */
	j = dtest_job("lost-3", "outbound", "From: alice@example.com\r\nTo: bob@customer.test\r\n"
	    "Subject: two files\r\nMessage-ID: <lost.3@example.com>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
	    "--b\r\nContent-Type: text/csv; name=a.csv\r\nContent-Disposition: attachment; filename=a.csv\r\n\r\n"
	    "a,b\r\n--b\r\nContent-Type: text/csv; name=b.csv\r\nContent-Disposition: attachment; filename=b.csv\r\n"
	    "\r\nc,d\r\n--b--\r\n", "bob@customer.test", NULL);
	g_free(emu_call("POST", "/_emu/faults", "[{\"vendor\":\"dynamics\",\"method\":\"POST\","
	    "\"path_regex\":\"activitymimeattachments\",\"kind\":\"500\",\"phase\":\"after\",\"count\":1},"
	    "{\"vendor\":\"dynamics\",\"method\":\"POST\",\"path_regex\":\"activitymimeattachments\","
	    "\"kind\":\"drop\",\"phase\":\"after\",\"count\":1}]"));
	connector_save(f->c, j, now, &res);
	assert_int_equal(res.status, CONN_RETRY);
	assert_int_equal(count("activitymimeattachments"), 2);   /* quote.pdf, a.csv */
	conn_result_clear(&res);
	j->attempts = 2;
	save_until_done(f, j, now + 60);
	a = records("activitymimeattachments", &jp);
	assert_int_equal(json_array_get_length(a), 3);           /* a.csv once, b.csv once */
	assert_non_null(find(a, "filename", "a.csv"));
	assert_non_null(find(a, "filename", "b.csv"));
	g_object_unref(jp);
	assert_int_equal(count("emails"), 3);
	assert_int_equal(emu_stat("duplicates"), 0);
	assert_int_equal(emu_stat("warnings"), 0);
	dtest_job_free(j);
}

/* Five jobs in one save_batch: one exists already (not made again), one
 * binds a contact the CRM no longer has (its change set fails, it is
 * saved alone without binds); one lookup, one $batch. */
static void
test_emu_batch(void **state)
{
	dfix *f = *state;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	spool_job *jobs[5];
	conn_result res[5];
	char *raw;
	gint64 seq;
	JsonParser *jp;
	JsonArray *a;

	dtest_dir_add(f->db, "gone@customer.test", DIRREC_CONTACT, "99999999-9999-4999-8999-999999999999", FALSE);
	raw = simple_msg("batch.0@example.com", "batch 0", "alice@example.com", "bob@customer.test");
	jobs[0] = dtest_job("batch-0-first", "outbound", raw, "bob@customer.test", NULL);
	connector_save(f->c, jobs[0], now, &res[0]);
	assert_int_equal(res[0].status, CONN_OK);
	conn_result_clear(&res[0]);
	dtest_job_free(jobs[0]);
	jobs[0] = dtest_job("batch-0-again", "outbound", raw, "bob@customer.test", NULL);
	g_free(raw);
	for (int i = 1; i < 5; i++) {
		char *mid = g_strdup_printf("batch.%d@example.com", i), *subj = g_strdup_printf("batch %d", i);
		char *key = g_strdup_printf("batch-%d", i);
		raw = simple_msg(mid, subj, "alice@example.com", i == 3 ? "gone@customer.test" : "bob@customer.test");
		jobs[i] = dtest_job(key, "outbound", raw, i == 3 ? "gone@customer.test" : "bob@customer.test", NULL);
		g_free(raw);
		g_free(mid);
		g_free(subj);
		g_free(key);
	}
	seq = last_seq();
	connector_save_batch(f->c, (const spool_job *const *)jobs, 5, now, res);
	for (int i = 0; i < 5; i++)
		if (res[i].status != CONN_OK)
			fail_msg("job %d: %s", i, res[i].error);
	assert_int_equal(requests_like(seq, "POST /dynamics/api/data/v9.2/$batch"), 1);
	/* the batch's lookup, and the stale job's own lookup */
	assert_int_equal(requests_like(seq, "GET /dynamics/api/data/v9.2/emails?"), 2);
	a = records("emails", &jp);
	assert_int_equal(json_array_get_length(a), 5);
	for (guint i = 0; i < json_array_get_length(a); i++)
		assert_int_equal(json_object_get_int_member(json_array_get_object_element(a, i), "statecode"), 1);
	g_object_unref(jp);
	a = records("activityparties", &jp);
	assert_non_null(find(a, "addressused", "gone@customer.test"));
	assert_false(json_object_has_member(find(a, "addressused", "gone@customer.test"), "partyid_type"));
	g_object_unref(jp);
	assert_int_equal(emu_stat("duplicates"), 0);
	char *r0 = crm_record_get(f->db, "dyn", "batch-0-first", NULL, NULL);
	char *r1 = crm_record_get(f->db, "dyn", "batch-0-again", NULL, NULL);
	assert_string_equal(r0, r1);
	g_free(r0);
	g_free(r1);
	for (int i = 0; i < 5; i++) {
		conn_result_clear(&res[i]);
		dtest_job_free(jobs[i]);
	}
}

/* An engagement event job for message mid, stored locally first (as the
 * flusher does), then handed to the connector. */
static conn_status
event(dfix *f, const char *key, const char *kind, const char *cls, const char *mid, gint64 at)
{
	spool_job j = { 0 };
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	conn_status st;

	j.id = 9;
	j.kind = JOB_EVENT;
	j.profile = "dyn";
	j.idem_key = (char *)key;
	j.meta = g_strdup_printf("{\"kind\":\"%s\",\"message_track_id\":\"00ff\",\"message_id\":\"%s\","
	    "\"class\":\"%s\",\"reason\":\"test\",\"at\":%" G_GINT64_FORMAT "%s}", kind, mid, cls, at,
	    strcmp(kind, "clicked") == 0 ? ",\"target\":\"https://x.test/\",\"link\":0" : "");
	connector_ledger_ops.send_event(f->db, &j, at, &res);
	assert_int_equal(res.status, CONN_OK);
	connector_event(f->c, &j, at, &res);
	if (res.status != CONN_OK)
		print_message("event %s: %s\n", key, res.error);
	st = res.status;
	conn_result_clear(&res);
	g_free(j.meta);
	return st;
}

/* Rollups: mapped ones PATCHed on the completed email (reopened and
 * closed again in one change set), the rest in one note; a reply counts. */
static void
test_emu_rollups(void **state)
{
	dfix *f = *state;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC, seq;
	GPtrArray *map = g_ptr_array_new();
	char *raw = simple_msg("roll.1@example.com", "rollups", "alice@example.com", "bob@customer.test");
	spool_job *j = dtest_job("roll-1", "outbound", raw, "bob@customer.test", NULL);
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	JsonParser *jp;
	JsonArray *a;
	JsonObject *o;

	g_ptr_array_add(map, "opens=new_opens");
	g_ptr_array_add(map, "replied=new_replied");
	g_ptr_array_add(map, "last_open=new_lastopen");
	f->prof.rollup_fields = map;
	g_free(emu_call("POST", "/_emu/config", "{\"vendor\":\"dynamics\",\"set\":{\"custom_fields\":"
	    "{\"emails\":[\"new_opens\",\"new_replied\",\"new_lastopen\"]}}}"));
	connector_save(f->c, j, now, &res);
	assert_int_equal(res.status, CONN_OK);
	conn_result_clear(&res);
	assert_int_equal(event(f, "ev-1", "opened", "human", "roll.1@example.com", now + 10), CONN_OK);
	a = records("emails", &jp);
	o = json_array_get_object_element(a, 0);
	assert_int_equal(json_object_get_int_member(o, "new_opens"), 1);
	assert_non_null(json_object_get_string_member(o, "new_lastopen"));
	assert_int_equal(json_object_get_int_member(o, "statecode"), 1);
	assert_int_equal(json_object_get_int_member(o, "statuscode"), 3);
	char *id = g_strdup(json_object_get_string_member(o, "activityid"));
	g_object_unref(jp);
	a = records("annotations", &jp);
	assert_int_equal(json_array_get_length(a), 1);
	o = json_array_get_object_element(a, 0);
	assert_string_equal(json_object_get_string_member(o, "_objectid_value"), id);
	assert_string_equal(json_object_get_string_member(o, "subject"), "Email engagement (crm-milter)");
	assert_non_null(strstr(json_object_get_string_member(o, "notetext"), "Clicks: 0\n"));
	assert_non_null(strstr(json_object_get_string_member(o, "notetext"), "Bounced: no (0)\n"));
	assert_null(strstr(json_object_get_string_member(o, "notetext"), "Opens:"));    /* mapped */
	g_object_unref(jp);
	/* a click: the same note, updated */
	assert_int_equal(event(f, "ev-2", "clicked", "human", "roll.1@example.com", now + 20), CONN_OK);
	a = records("annotations", &jp);
	assert_int_equal(json_array_get_length(a), 1);
	assert_non_null(strstr(json_object_get_string_member(json_array_get_object_element(a, 0), "notetext"),
	    "Clicks: 1\n"));
	g_object_unref(jp);
	/* a scanner's open moves nothing: no call */
	seq = last_seq();
	assert_int_equal(event(f, "ev-3", "opened", "scanner", "roll.1@example.com", now + 30), CONN_OK);
	assert_int_equal(requests_like(seq, " "), 0);
	/* the reply: saved, and the sent email's replied column set */
	dtest_job_free(j);
	g_free(raw);
	raw = g_strdup("From: bob@customer.test\r\nTo: alice@example.com\r\nSubject: Re: rollups\r\n"
	    "Message-ID: <reply.1@customer.test>\r\nIn-Reply-To: <roll.1@example.com>\r\n\r\nyes\r\n");
	j = dtest_job("reply-1", "inbound", raw, "alice@example.com",
	    "{\"correlation\":{\"method\":\"in-reply-to\",\"message_id\":\"roll.1@example.com\"}}");
	connector_save(f->c, j, now + 40, &res);
	if (res.status != CONN_OK)
		fail_msg("reply: %s", res.error);
	a = records("emails", &jp);
	o = find(a, "messageid", "<roll.1@example.com>");
	assert_true(json_object_get_boolean_member(o, "new_replied"));
	assert_int_equal(json_object_get_int_member(o, "new_opens"), 1);
	o = find(a, "messageid", "<reply.1@customer.test>");
	assert_false(json_object_get_boolean_member(o, "directioncode"));
	assert_int_equal(json_object_get_int_member(o, "statuscode"), 4);
	g_object_unref(jp);
	rollup r;
	assert_true(rollup_for_message(f->db, "roll.1@example.com", &r, NULL));
	assert_int_equal(r.replies.n, 1);
	assert_int_equal(r.opens.n, 1);
	assert_int_equal(r.clicks.n, 1);
	/* an event for a message never saved here: retried later */
	assert_int_equal(event(f, "ev-4", "opened", "human", "unknown@example.com", now + 50), CONN_RETRY);
	assert_int_equal(emu_stat("warnings"), 0);
	f->prof.rollup_fields = NULL;
	g_ptr_array_unref(map);
	conn_result_clear(&res);
	dtest_job_free(j);
	g_free(raw);
	g_free(id);
}

/* Directory sync: pages, opt-out flags, then only the changes (delta
 * link); a stale delta link starts over, a foreign one is not followed. */
static void
test_emu_sync(void **state)
{
	dfix *f = *state;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC, seq;
	directory_entry *e;
	char *cursor, *bad;
	JsonParser *jp;
	JsonArray *a;

	f->prof.max_response_size = 4096;                     /* pages of 4 rows */
	g_free(emu_call("POST", "/_emu/seed",
	    "[{\"vendor\":\"dynamics\",\"kind\":\"contacts\",\"generate\":6,\"domain\":\"customer.test\",\"opt_out_every\":3},"
	    "{\"vendor\":\"dynamics\",\"kind\":\"leads\",\"generate\":2,\"domain\":\"lead.test\"},"
	    "{\"vendor\":\"dynamics\",\"kind\":\"accounts\",\"generate\":2,\"domain\":\"acct.test\"},"
	    "{\"vendor\":\"dynamics\",\"kind\":\"systemusers\",\"generate\":2,\"domain\":\"example.com\"}]"));
	seq = last_seq();
	sync_dir(f, now);
	assert_int_equal(requests_like(seq, "GET /dynamics/api/data/v9.2/contacts?"), 2);
	assert_int_equal(requests_like(seq, "$skiptoken="), 1);
	e = dir_of(f, "contact0000@customer.test");         /* opted out (every 3rd) */
	assert_non_null(e);
	assert_int_equal(e->type, DIRREC_CONTACT);
	assert_true(e->no_follow);
	assert_string_equal(e->name, "First0 Last0");
	directory_entry_free(e);
	e = dir_of(f, "contact0001@customer.test");
	assert_false(e->no_follow);
	directory_entry_free(e);
	e = dir_of(f, "contact0005@customer.test");
	assert_non_null(e);
	directory_entry_free(e);
	e = dir_of(f, "lead0001@lead.test");
	assert_int_equal(e->type, DIRREC_LEAD);
	directory_entry_free(e);
	e = dir_of(f, "account0000@acct.test");
	assert_int_equal(e->type, DIRREC_ACCOUNT);
	assert_false(e->no_follow);
	directory_entry_free(e);
	e = dir_of(f, "systemus0001@example.com");
	assert_non_null(e);
	assert_int_equal(e->type, DIRREC_USER);
	assert_false(e->no_follow);
	directory_entry_free(e);
	cursor = crm_sync_get(f->db, "dyn", "contacts", NULL, NULL);
	assert_non_null(strstr(cursor, "$deltatoken="));
	g_free(cursor);
	/* one contact opts out, one is new: the next sync fetches only those */
	a = records("contacts", &jp);
	const char *cid = json_object_get_string_member(json_array_get_object_element(a, 1), "contactid");
	char *seed = g_strdup_printf("{\"vendor\":\"dynamics\",\"kind\":\"contacts\",\"records\":["
	    "{\"contactid\":\"%s\",\"emailaddress1\":\"contact0001@customer.test\",\"followemail\":false},"
	    "{\"emailaddress1\":\"new@customer.test\",\"emailaddress2\":\"NEW.2@Customer.test\",\"fullname\":\"New\"}]}", cid);
	g_object_unref(jp);
	g_free(emu_call("POST", "/_emu/seed", seed));
	g_free(seed);
	seq = last_seq();
	sync_dir(f, now + 60);
	assert_int_equal(requests_like(seq, "$deltatoken="), 4);
	assert_int_equal(requests_like(seq, "$skiptoken="), 0);
	e = dir_of(f, "contact0001@customer.test");
	assert_true(e->no_follow);
	directory_entry_free(e);
	e = dir_of(f, "new.2@customer.test");
	assert_non_null(e);
	assert_string_equal(e->name, "New");
	directory_entry_free(e);
	/* a stale delta token: a full sync, then a new delta link */
	bad = g_strdup_printf("%s/dynamics/api/data/v9.2/contacts?$select=contactid&$deltatoken=stale", E.base);
	assert_true(crm_sync_put(f->db, "dyn", "contacts", bad, now, NULL));
	seq = last_seq();
	sync_dir(f, now + 120);
	assert_int_equal(requests_like(seq, "deltatoken=stale"), 1);
	assert_int_equal(requests_like(seq, "GET /dynamics/api/data/v9.2/contacts?$select=contactid,fullname"), 2);
	cursor = crm_sync_get(f->db, "dyn", "contacts", NULL, NULL);
	assert_null(strstr(cursor, "stale"));
	g_free(cursor);
	g_free(bad);
	/* a delta link on another host is never followed (the token stays home) */
	assert_true(crm_sync_put(f->db, "dyn", "leads", "https://elsewhere.example/api/data/v9.2/leads?$deltatoken=1",
	    now, NULL));
	seq = last_seq();
	sync_dir(f, now + 180);
	assert_int_equal(requests_like(seq, "GET /dynamics/api/data/v9.2/leads?$select=leadid"), 1);
	assert_int_equal(emu_stat("warnings"), 0);
}

/* Run the group. */
int
dtest_emu_group(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_emu_save, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emu_lost_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emu_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emu_rollups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emu_sync, setup, teardown),
	};

	return cmocka_run_group_tests_name("dynamics_emulator", tests, group_setup, group_teardown);
}

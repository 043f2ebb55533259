/*
 * test_hubspot_sync.c - the hubspot connector's rollups, directory sync
 * and token file (the fixture is in test_hubspot.c): mapped rollups
 * PATCHed on the email, unmapped ones in one note made once and PATCHed
 * after, a bounce setting hs_email_status, an event waiting for its email,
 * a saved reply rolling up to the sent message; the first sync listing
 * contacts page by page (opt-out flags, owners as users), the next one
 * searching what changed since the cursor; a token file open to others
 * refused with its name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <glib/gstdio.h>

#include "crm/records.h"
#include "directory.h"
#include "testutil.h"
#include "test_hubspot.h"

#define NOW 1795400000
#define OPEN_META(at, kind) "{\"kind\":\"" kind "\",\"message_track_id\":\"t1\",\"message_id\":\"" HS_MID \
	"\",\"class\":\"human\",\"at\":" at ",\"target\":\"https://x.test/\",\"link\":0}"

/* Keep the event locally (as the flusher does), then hand it over. */
static void
deliver(hs_fixture *f, const char *idem, const char *meta, conn_result *res)
{
	spool_job *j = hs_event_job(idem, meta);
	conn_result local = { CONN_OK, -1, NULL, FALSE };

	connector_ledger_ops.send_event(f->db, j, NOW, &local);
	assert_int_equal(local.status, CONN_OK);
	connector_event(f->c, j, NOW, res);
	hs_job_free(j);
}

/* The properties object of request i (a PATCH or a create). */
static JsonObject *
props_of(JsonParser *p)
{
	return json_object_get_object_member(json_node_get_object(json_parser_get_root(p)), "properties");
}

/* Map every rollup to a field. */
static void
map_all(hs_fixture *f)
{
	static const char *const items[] = {
		"first_open=crm_first_open", "last_open=crm_last_open", "opens=crm_opens",
		"clicks=crm_clicks", "replied=crm_replied", "bounced=crm_bounced",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(items); i++)
		g_ptr_array_add(f->rollups, g_strdup(items[i]));
}

/* Mapped rollups: one PATCH of the email with every field, no note. */
void
test_rollup_mapped(void **state)
{
	hs_fixture *f = *state;
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	char *line;

	map_all(f);
	assert_true(crm_record_put(f->db, "hs", HS_IDEM, HS_MID, "email", "5001", 100, NULL));
	deliver(f, "ev/1", OPEN_META("1795350000", "opened"), &res);
	assert_int_equal(res.status, CONN_OK);
	hs_answer(f, 200, NULL, "{\"id\":\"5001\",\"properties\":{}}");
	deliver(f, "ev/2", OPEN_META("1795353600", "opened"), &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 2);
	line = hs_request_line(f, 1);
	assert_string_equal(line, "PATCH /crm/v3/objects/emails/5001");
	JsonParser *p = hs_request(f, 1);
	JsonObject *pr = props_of(p);
	assert_string_equal(json_object_get_string_member(pr, "crm_first_open"), "1795350000000");
	assert_string_equal(json_object_get_string_member(pr, "crm_last_open"), "1795353600000");
	assert_string_equal(json_object_get_string_member(pr, "crm_opens"), "2");
	assert_string_equal(json_object_get_string_member(pr, "crm_clicks"), "0");
	assert_string_equal(json_object_get_string_member(pr, "crm_replied"), "0");
	assert_string_equal(json_object_get_string_member(pr, "crm_bounced"), "0");
	assert_int_equal(json_object_get_size(pr), 6);
	g_object_unref(p);
	g_free(line);
}

/* Unmapped rollups: a note associated with the email's records, made
 * once, then PATCHed; a mapped one leaves the note. */
void
test_rollup_note(void **state)
{
	hs_fixture *f = *state;
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	char *line, *note;

	assert_true(crm_record_put(f->db, "hs", HS_IDEM, HS_MID, "email", "5001", 100, NULL));
	hs_answer(f, 200, NULL, "{\"id\":\"5001\",\"properties\":{},\"associations\":{\"contacts\":{\"results\":"
	    "[{\"id\":\"601\",\"type\":\"email_to_contact\"}]},\"deals\":{\"results\":[{\"id\":77,"
	    "\"type\":\"email_to_deal\"}]}}}");
	hs_answer(f, 201, NULL, "{\"id\":\"7001\",\"properties\":{}}");
	deliver(f, "ev/1", OPEN_META("1795350000", "opened"), &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 2);
	line = hs_request_line(f, 0);
	assert_string_equal(line, "GET /crm/v3/objects/emails/5001?associations=contacts,companies,deals"
	    "&properties=hs_timestamp");
	g_free(line);
	line = hs_request_line(f, 1);
	assert_string_equal(line, "POST /crm/v3/objects/notes");
	JsonParser *p = hs_request(f, 1);
	JsonObject *root = json_node_get_object(json_parser_get_root(p));
	const char *body = json_object_get_string_member(props_of(p), "hs_note_body");
	assert_non_null(strstr(body, "Message-ID &lt;" HS_MID "&gt;"));
	assert_non_null(strstr(body, "<li>first open: 2026-11-22 12:20:00 UTC</li>"));
	assert_non_null(strstr(body, "<li>opens: 1</li><li>clicks: 0</li><li>replies: 0</li>"));
	assert_string_equal(json_object_get_string_member(props_of(p), "hs_timestamp"), "1795400000000");
	JsonArray *a = json_object_get_array_member(root, "associations");
	assert_int_equal(json_array_get_length(a), 2);
	JsonObject *a0 = json_array_get_object_element(a, 0), *a1 = json_array_get_object_element(a, 1);
	assert_string_equal(json_object_get_string_member(json_object_get_object_member(a0, "to"), "id"), "601");
	assert_int_equal(json_object_get_int_member(json_array_get_object_element(
	    json_object_get_array_member(a0, "types"), 0), "associationTypeId"), 202);
	assert_string_equal(json_object_get_string_member(json_object_get_object_member(a1, "to"), "id"), "77");
	assert_int_equal(json_object_get_int_member(json_array_get_object_element(
	    json_object_get_array_member(a1, "types"), 0), "associationTypeId"), 214);
	note = crm_record_get(f->db, "hs", "hubspot-note/5001", NULL, NULL);
	assert_string_equal(note, "7001");
	g_free(note);
	g_object_unref(p);
	g_free(line);
	/* the next event updates the same note */
	hs_answer(f, 200, NULL, "{\"id\":\"7001\",\"properties\":{}}");
	deliver(f, "ev/2", OPEN_META("1795350100", "clicked"), &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 3);
	line = hs_request_line(f, 2);
	assert_string_equal(line, "PATCH /crm/v3/objects/notes/7001");
	p = hs_request(f, 2);
	assert_non_null(strstr(json_object_get_string_member(props_of(p), "hs_note_body"), "<li>clicks: 1</li>"));
	assert_false(json_object_has_member(props_of(p), "hs_timestamp"));
	g_object_unref(p);
	g_free(line);
	/* opens mapped now: the email gets it, the note no longer lists it */
	g_ptr_array_add(f->rollups, g_strdup("opens=crm_opens"));
	hs_answer(f, 200, NULL, "{\"id\":\"5001\",\"properties\":{}}");
	hs_answer(f, 200, NULL, "{\"id\":\"7001\",\"properties\":{}}");
	deliver(f, "ev/3", OPEN_META("1795350200", "opened"), &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 5);
	p = hs_request(f, 3);
	assert_string_equal(json_object_get_string_member(props_of(p), "crm_opens"), "2");
	g_object_unref(p);
	p = hs_request(f, 4);
	assert_null(strstr(json_object_get_string_member(props_of(p), "hs_note_body"), "<li>opens:"));
	g_object_unref(p);
}

/* A delivery report: hs_email_status BOUNCED with the mapped count. */
void
test_bounce_sets_status(void **state)
{
	hs_fixture *f = *state;
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	char *line;

	map_all(f);
	assert_true(crm_record_put(f->db, "hs", HS_IDEM, HS_MID, "email", "5001", 100, NULL));
	hs_answer(f, 200, NULL, "{\"id\":\"5001\",\"properties\":{}}");
	deliver(f, "dsn/1", "{\"kind\":\"bounced\",\"message_id\":\"" HS_MID "\",\"recipients\":[{\"recipient\":"
	    "\"carol@acme.test\",\"action\":\"failed\",\"failed\":true,\"status\":\"5.1.1\"}]}", &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 1);
	line = hs_request_line(f, 0);
	assert_string_equal(line, "PATCH /crm/v3/objects/emails/5001");
	JsonParser *p = hs_request(f, 0);
	assert_string_equal(json_object_get_string_member(props_of(p), "hs_email_status"), "BOUNCED");
	assert_string_equal(json_object_get_string_member(props_of(p), "crm_bounced"), "1");
	g_object_unref(p);
	g_free(line);
}

/* An event before its email exists is retried; one that changes no rollup
 * (delivered) makes no call. */
void
test_event_waits_for_email(void **state)
{
	hs_fixture *f = *state;
	conn_result res = { CONN_OK, -1, NULL, FALSE };

	deliver(f, "ev/1", OPEN_META("1795350000", "opened"), &res);
	assert_int_equal(res.status, CONN_RETRY);
	assert_non_null(strstr(res.error, "no email made yet for Message-ID " HS_MID));
	conn_result_clear(&res);
	deliver(f, "dsn/2", "{\"kind\":\"bounced\",\"message_id\":\"" HS_MID "\",\"recipients\":[{\"recipient\":"
	    "\"bob@customer.test\",\"action\":\"delivered\",\"failed\":false}]}", &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 0);
}

static const char reply[] =
    "From: Bob <bob@customer.test>\r\nTo: Alice Example <alice@example.com>\r\nSubject: Re: Quote for Q3\r\n"
    "Date: Sun, 22 Nov 2026 13:00:00 +0000\r\nMessage-ID: <reply.1@customer.test>\r\n"
    "In-Reply-To: <" HS_MID ">\r\n\r\nThanks, looks good.\r\n";

/* A saved reply: its own email, then the sent message's replied rollup. */
void
test_reply_rolls_up(void **state)
{
	hs_fixture *f = *state;
	spool_job *j = hs_job("inbound", "hs/m/reply.1",
	    "{\"correlation\":{\"method\":\"in-reply-to\",\"message_id\":\"" HS_MID "\"}}", 1);
	conn_result res = { CONN_PERMANENT, -1, NULL, FALSE };
	char *line;

	g_bytes_unref(j->payload);
	j->payload = g_bytes_new_static(reply, sizeof(reply) - 1);
	map_all(f);
	assert_true(crm_record_put(f->db, "hs", HS_IDEM, HS_MID, "email", "5001", 100, NULL));
	hs_answer(f, 201, NULL, "{\"results\":[{\"id\":\"5002\",\"objectWriteTraceId\":\"hs/m/reply.1\"}]}");
	hs_answer(f, 200, NULL, "{\"id\":\"5001\",\"properties\":{}}");
	connector_save(f->c, j, NOW, &res);
	assert_int_equal(res.status, CONN_OK);
	assert_int_equal(f->srv->requests, 2);
	JsonParser *p = hs_request(f, 0);
	JsonObject *in = json_array_get_object_element(json_object_get_array_member(
	    json_node_get_object(json_parser_get_root(p)), "inputs"), 0);
	assert_string_equal(json_object_get_string_member(json_object_get_object_member(in, "properties"),
	    "hs_email_direction"), "INCOMING_EMAIL");
	g_object_unref(p);
	line = hs_request_line(f, 1);
	assert_string_equal(line, "PATCH /crm/v3/objects/emails/5001");
	p = hs_request(f, 1);
	assert_string_equal(json_object_get_string_member(props_of(p), "crm_replied"), "1");
	g_object_unref(p);
	g_free(line);
	hs_job_free(j);
}

/* Run the connector's directory sync once. */
static gboolean
sync_once(hs_fixture *f, GError **err)
{
	const connector_ops *ops = connector_lookup("hubspot");
	void *st = ops->open(&f->env, err);
	gboolean ok;

	assert_non_null(st);
	ok = ops->sync_directory(st, NOW, err);
	ops->close(st);
	return ok;
}

/* The directory record of an address: "type id name no_follow" (new). */
static char *
dir_text(hs_fixture *f, const char *addr)
{
	directory_entry *d = directory_lookup(f->db, addr, NULL);
	char *s = d != NULL ? g_strdup_printf("%s %s %s %d", dir_record_type_name(d->type), d->record_id,
	    d->name != NULL ? d->name : "-", d->no_follow) : g_strdup("(none)");

	directory_entry_free(d);
	return s;
}

#define CONTACT_PROPS "properties=email,firstname,lastname,hs_email_optout,lastmodifieddate"

/* First sync: every contact page by page and the owners; the next one:
 * a search for what changed since the cursor. */
void
test_sync_full_then_incremental(void **state)
{
	static const struct { const char *addr, *want; } first[] = {
		{ "bob@customer.test", "contact 601 Bob Builder 0" },
		{ "olive@customer.test", "contact 603 Olive 1" },          /* hs_email_optout */
		{ "alice@example.com", "user 55 Alice Example 0" },        /* an owner */
		{ "not-an-address", "(none)" },
	};
	hs_fixture *f = *state;
	GError *e = NULL;
	char *cur, *line, *t;

	hs_answer(f, 200, NULL, "{\"results\":[{\"id\":\"601\",\"properties\":{\"email\":\"Bob@Customer.test\","
	    "\"firstname\":\"Bob\",\"lastname\":\"Builder\",\"hs_email_optout\":\"false\",\"lastmodifieddate\":"
	    "\"2026-11-20T10:00:00.000Z\"}},{\"id\":\"602\",\"properties\":{\"email\":\"not-an-address\","
	    "\"lastmodifieddate\":\"2026-11-20T11:00:00Z\"}}],\"paging\":{\"next\":{\"after\":\"603\",\"link\":\"x\"}}}");
	hs_answer(f, 200, NULL, "{\"results\":[{\"id\":\"603\",\"properties\":{\"email\":\"olive@customer.test\","
	    "\"firstname\":\"Olive\",\"hs_email_optout\":\"true\",\"lastmodifieddate\":\"2026-11-21T08:30:00.500Z\"}}]}");
	hs_answer(f, 200, NULL, "{\"results\":[{\"id\":\"55\",\"email\":\"alice@example.com\",\"type\":\"PERSON\","
	    "\"firstName\":\"Alice\",\"lastName\":\"Example\",\"userId\":9,\"archived\":false}]}");
	assert_true(sync_once(f, &e));
	assert_int_equal(f->srv->requests, 3);
	line = hs_request_line(f, 0);
	assert_string_equal(line, "GET /crm/v3/objects/contacts?limit=100&archived=false&" CONTACT_PROPS);
	g_free(line);
	line = hs_request_line(f, 1);
	assert_string_equal(line, "GET /crm/v3/objects/contacts?limit=100&archived=false&" CONTACT_PROPS "&after=603");
	g_free(line);
	line = hs_request_line(f, 2);
	assert_string_equal(line, "GET /crm/v3/owners?limit=100&archived=false");
	g_free(line);
	assert_string_equal(test_http_header(f->srv, "authorization"), "Bearer " HS_TOKEN);
	for (gsize i = 0; i < G_N_ELEMENTS(first); i++) {
		t = dir_text(f, first[i].addr);
		assert_string_equal(t, first[i].want);
		g_free(t);
	}
	cur = crm_sync_get(f->db, "hs", "hubspot:contacts", NULL, NULL);
	assert_string_equal(cur, "1795249800500");
	g_free(cur);

	/* bob opts out later: the next sync searches from the cursor */
	hs_answer(f, 200, NULL, "{\"total\":1,\"results\":[{\"id\":\"601\",\"properties\":{\"email\":"
	    "\"bob@customer.test\",\"firstname\":\"Bob\",\"lastname\":\"Builder\",\"hs_email_optout\":\"true\","
	    "\"lastmodifieddate\":\"2026-11-22T09:00:00Z\"}}]}");
	hs_answer(f, 200, NULL, "{\"results\":[]}");
	assert_true(sync_once(f, &e));
	assert_int_equal(f->srv->requests, 5);
	line = hs_request_line(f, 3);
	assert_string_equal(line, "POST /crm/v3/objects/contacts/search");
	g_free(line);
	JsonParser *p = hs_request(f, 3);
	JsonObject *root = json_node_get_object(json_parser_get_root(p));
	JsonObject *flt = json_array_get_object_element(json_object_get_array_member(json_array_get_object_element(
	    json_object_get_array_member(root, "filterGroups"), 0), "filters"), 0);
	assert_string_equal(json_object_get_string_member(flt, "propertyName"), "lastmodifieddate");
	assert_string_equal(json_object_get_string_member(flt, "operator"), "GTE");
	assert_string_equal(json_object_get_string_member(flt, "value"), "1795249800500");
	JsonObject *sort = json_array_get_object_element(json_object_get_array_member(root, "sorts"), 0);
	assert_string_equal(json_object_get_string_member(sort, "propertyName"), "lastmodifieddate");
	assert_string_equal(json_object_get_string_member(sort, "direction"), "ASCENDING");
	assert_int_equal(json_object_get_int_member(root, "limit"), 100);
	assert_false(json_object_has_member(root, "after"));
	g_object_unref(p);
	t = dir_text(f, "bob@customer.test");
	assert_string_equal(t, "contact 601 Bob Builder 1");
	g_free(t);
	cur = crm_sync_get(f->db, "hs", "hubspot:contacts", NULL, NULL);
	assert_string_equal(cur, "1795338000000");
	g_free(cur);
}

/* Contacts failing (5xx, asked 3 times): the sync fails, no cursor; owners
 * refused (no scope): the sync still counts. */
void
test_sync_failures(void **state)
{
	hs_fixture *f = *state;
	GError *e = NULL;
	char *cur;

	for (int i = 0; i < 3; i++)
		hs_answer(f, 500, NULL, "{\"status\":\"error\",\"message\":\"internal error\",\"category\":\"INTERNAL\"}");
	assert_false(sync_once(f, &e));
	assert_non_null(e);
	assert_non_null(strstr(e->message, "HTTP 500"));
	g_clear_error(&e);
	assert_int_equal(f->srv->requests, 3);
	assert_null(crm_sync_get(f->db, "hs", "hubspot:contacts", NULL, NULL));
	hs_answer(f, 200, NULL, "{\"results\":[{\"id\":\"601\",\"properties\":{\"email\":\"bob@customer.test\","
	    "\"lastmodifieddate\":\"2026-11-20T10:00:00Z\"}}]}");
	hs_answer(f, 403, NULL, "{\"status\":\"error\",\"message\":\"This app hasn't been granted all required "
	    "scopes\",\"category\":\"MISSING_SCOPES\"}");
	assert_true(sync_once(f, &e));
	assert_int_equal(f->srv->requests, 5);
	cur = crm_sync_get(f->db, "hs", "hubspot:contacts", NULL, NULL);
	assert_string_equal(cur, "1795168800000");
	g_free(cur);
}

/* The token file: open to others, empty or missing -> the connector does
 * not open and the error names the file. */
void
test_token_file(void **state)
{
	static const struct {
		const char *text;     /* NULL: no file */
		mode_t mode;
		gboolean opens;
	} cases[] = {
		{ HS_TOKEN "\n", 0600, TRUE },
		{ HS_TOKEN "\n", 0640, TRUE },        /* the group may read it */
		{ HS_TOKEN "\n", 0644, FALSE },       /* other users may read it */
		{ HS_TOKEN "\n", 0602, FALSE },
		{ "\n", 0600, FALSE },
		{ NULL, 0, FALSE },
	};
	hs_fixture *f = *state;
	const connector_ops *ops = connector_lookup("hubspot");

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		GError *e = NULL;
		void *st;

		(void)g_remove(f->token_path);
		if (cases[i].text != NULL) {
			assert_true(g_file_set_contents(f->token_path, cases[i].text, -1, NULL));
			assert_int_equal(chmod(f->token_path, cases[i].mode), 0);
		}
		st = ops->open(&f->env, &e);
		assert_int_equal(st != NULL, cases[i].opens);
		if (st == NULL) {
			assert_non_null(e);
			assert_non_null(strstr(e->message, f->token_path));
		}
		if (cases[i].mode == 0644)
			assert_non_null(strstr(e->message, "other users"));
		g_clear_error(&e);
		ops->close(st);
	}
}

/*
 * test_salesforce.c - the salesforce connector (core/crm/salesforce*.c)
 * against the CRM emulator (tests/crm-emulator, which checks every field
 * of every request as the vendor documents it): the EmailMessage, its
 * relations (participants resolved through the directory) and files, field
 * by field; inbound Headers; de-duplication after lost answers (no second
 * record); batches with per-record results mapped to their jobs; bodies
 * cut with a note and cut again on STRING_TOO_LONG; rollups to mapped
 * fields and to a ContentNote (made by one worker only), events that come
 * before their email (rolled up when it is saved); the directory sync
 * (paging, incremental, opt-out); JWT bearer. Faults on a scripted server: test_salesforce_http.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "crm/connector.h"
#include "crm/records.h"
#include "crm/salesforce.h"
#include "directory.h"
#include "ledger.h"
#include "testutil.h"
#include "test_sf_lib.h"

typedef struct fixture {
	sf_emu *emu;             /* the group's */
	char *dir;
	crm_db *db;
	crm_profile prof;
	conn_env env;
	connector *c;
	char *alice, *bob, *carol, *acme;   /* seeded record ids */
} fixture;

#define SENT_MID "pricing.1@example.com"
#define SENT_RCPTS "bob@customer.test,zed@else.test,carol@customer.test,hidden@customer.test"
static const char reply_raw[] =
    "From: Bob <bob@customer.test>\r\nTo: Alice Example <alice@example.com>\r\nSubject: Re: Our pricing\r\n"
    "Date: Sun, 22 Nov 2026 13:00:00 +0000\r\nMessage-ID: <reply.1@customer.test>\r\n"
    "In-Reply-To: <" SENT_MID ">\r\nX-Custom: kept\r\n\r\nThanks, looks good.\r\n";

static gint64
now_s(void)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

static int
group_setup(void **state)
{
	*state = sf_emu_start();
	return 0;
}

static int
group_teardown(void **state)
{
	sf_emu_stop(*state);
	return 0;
}

/* Put a seeded person in the directory. */
static void
know(fixture *f, const char *addr, dir_record_type type, const char *id)
{
	directory_entry d = { (char *)addr, type, (char *)id, NULL, FALSE, 0 };

	assert_true(directory_upsert(f->db, &d, now_s(), NULL));
}

/* Emulator reset and seeded, a fresh spool, the connector open. */
static int
setup(void **state)
{
	fixture *f = g_new0(fixture, 1);
	char *path;

	f->emu = *state;
	if (f->emu == NULL) {
		g_free(f);
		skip();
	}
	json_node_unref(sf_emu_json(f->emu, "POST", "/_emu/reset", "{}"));
	json_node_unref(sf_emu_json(f->emu, "POST", "/_emu/config",
	    "{\"vendor\":\"salesforce\",\"set\":{\"max_body_chars\":32000,\"query_batch_size\":2000}}"));
	f->dir = testutil_tmpdir();
	path = g_build_filename(f->dir, "spool.db", NULL);
	f->db = db_open(path, 5000, NULL);
	assert_non_null(f->db);
	g_free(path);
	f->alice = sf_emu_seed(f->emu, "User", "{\"Email\":\"alice@example.com\",\"FirstName\":\"Alice\",\"LastName\":\"Example\"}");
	f->bob = sf_emu_seed(f->emu, "Contact", "{\"Email\":\"bob@customer.test\",\"LastName\":\"Bob\"}");
	f->carol = sf_emu_seed(f->emu, "Lead", "{\"Email\":\"carol@customer.test\",\"LastName\":\"Carol\"}");
	f->acme = sf_emu_seed(f->emu, "Account", "{\"Name\":\"Acme\"}");
	know(f, "alice@example.com", DIRREC_USER, f->alice);
	know(f, "bob@customer.test", DIRREC_CONTACT, f->bob);
	know(f, "carol@customer.test", DIRREC_LEAD, f->carol);
	sf_profile_init(&f->prof, f->emu->url, f->emu->secret_file);
	f->prof.requests_per_second = 0;
	f->env.profile = &f->prof;
	f->env.db = f->db;
	f->c = connector_open(&f->env, NULL);
	assert_non_null(f->c);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	connector_close(f->c);
	db_close(f->db);
	testutil_rmtree(f->dir);
	g_free(f->dir);
	sf_profile_clear(&f->prof);
	g_free(f->alice);
	g_free(f->bob);
	g_free(f->carol);
	g_free(f->acme);
	*state = f->emu;
	g_free(f);
	return 0;
}

/* Reopen the connector (after the profile changed). */
static void
reopen(fixture *f)
{
	GError *e = NULL;

	connector_close(f->c);
	f->c = connector_open(&f->env, &e);
	if (f->c == NULL)
		fail_msg("open: %s", e->message);
}

/* Save one job; its status (the error, if any, printed on failure). */
static conn_status
save(fixture *f, spool_job *j, char **error)
{
	conn_result r;
	conn_status st;

	connector_save(f->c, j, now_s(), &r);
	st = r.status;
	if (error != NULL)
		*error = g_strdup(r.error);
	else if (st != CONN_OK && r.error != NULL)
		print_message("save %s: %s\n", j->idem_key, r.error);
	conn_result_clear(&r);
	return st;
}

/* Every field of the EmailMessage, its relations and its file, as sent. */
static void
test_save_fields(void **state)
{
	fixture *f = *state;
	char *raw = sf_sent_message("Our pricing", SENT_MID, "Hello Bob"), *meta, *rec;
	spool_job *j;
	JsonNode *emails, *rels, *files;
	JsonObject *em;
	const char *id;
	struct { const char *field, *want; gboolean prefix; } fields[] = {
		{ "Status", "3", FALSE },
		{ "MessageIdentifier", "<" SENT_MID ">", FALSE },
		{ "Subject", "Our pricing", FALSE },
		{ "FromAddress", "alice@example.com", FALSE },
		{ "FromName", "Alice Example", FALSE },
		{ "ToAddress", "zed@else.test", FALSE },          /* bob is a contact: a relation */
		{ "CcAddress", NULL, FALSE },                      /* carol is a lead: a relation */
		{ "BccAddress", "hidden@customer.test", FALSE },
		{ "TextBody", "Hello Bob", TRUE },
		{ "HtmlBody", "<p><b>Hello</b> Bob</p>", TRUE },
		{ "MessageDate", "2026-11-22T12:00:00Z", FALSE },
		{ "RelatedToId", f->acme, FALSE },
		{ "Headers", NULL, FALSE },                        /* outgoing: never */
	};
	struct { const char *type, *address, *id; } relations[] = {
		{ "FromAddress", "alice@example.com", f->alice },
		{ "ToAddress", "bob@customer.test", f->bob },
		{ "CcAddress", "carol@customer.test", f->carol },
	};

	meta = g_strdup_printf("{\"regarding\":\"account:%s\"}", f->acme);
	j = sf_job_save("sf/pricing", "outbound", raw, meta, SENT_RCPTS);
	assert_int_equal(save(f, j, NULL), CONN_OK);
	emails = sf_emu_records(f->emu, "EmailMessage");
	em = sf_the_email(emails, "<" SENT_MID ">");
	id = sf_str(em, "Id");
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
		const char *got = sf_str(em, fields[i].field);
		gboolean ok = fields[i].want == NULL ? got == NULL : got != NULL &&
		    (fields[i].prefix ? g_str_has_prefix(got, fields[i].want) : strcmp(got, fields[i].want) == 0);
		if (!ok)
			fail_msg("EmailMessage.%s is %s, want %s", fields[i].field, got ? got : "(none)",
			    fields[i].want ? fields[i].want : "(none)");
	}
	assert_false(json_object_get_boolean_member(em, "Incoming"));
	rels = sf_emu_records(f->emu, "EmailMessageRelation");
	assert_int_equal(json_array_get_length(json_node_get_array(rels)), G_N_ELEMENTS(relations));
	for (gsize i = 0; i < G_N_ELEMENTS(relations); i++) {
		JsonObject *r = sf_emu_find(rels, "RelationType", relations[i].type);
		if (r == NULL || g_strcmp0(sf_str(r, "RelationAddress"), relations[i].address) != 0 ||
		    g_strcmp0(sf_str(r, "RelationId"), relations[i].id) != 0 ||
		    g_strcmp0(sf_str(r, "EmailMessageId"), id) != 0)
			fail_msg("relation %s %s missing or wrong", relations[i].type, relations[i].address);
	}
	files = sf_emu_records(f->emu, "ContentVersion");
	assert_int_equal(json_array_get_length(json_node_get_array(files)), 1);
	JsonObject *cv = json_array_get_object_element(json_node_get_array(files), 0);
	assert_string_equal(sf_str(cv, "PathOnClient"), "quote.pdf");
	assert_string_equal(sf_str(cv, "FirstPublishLocationId"), id);
	assert_int_equal(json_object_get_int_member(cv, "ContentSize"), 18);   /* %PDF-1.4 ... bytes */
	/* one token, the de-dup query, the emails, the relations and files */
	assert_int_equal(sf_emu_requests(f->emu, "GET", "/query"), 1);
	assert_int_equal(sf_emu_requests(f->emu, "POST", "/composite/sobjects"), 2);
	assert_int_equal(sf_emu_requests(f->emu, NULL, NULL), 3);
	rec = crm_record_get(f->db, "sf", "sf/pricing", NULL, NULL);
	assert_string_equal(rec, id);
	g_free(rec);
	/* the same job again: records.h answers, no request */
	assert_int_equal(save(f, j, NULL), CONN_OK);
	assert_int_equal(sf_emu_requests(f->emu, NULL, NULL), 3);
	JsonNode *stats = sf_emu_json(f->emu, "GET", "/_emu/stats", NULL);
	assert_int_equal(json_object_get_int_member(json_node_get_object(stats), "warnings"), 0);
	json_node_unref(stats);
	json_node_unref(emails);
	json_node_unref(rels);
	json_node_unref(files);
	sf_job_free(j);
	g_free(raw);
	g_free(meta);
}

/* An inbound reply: Incoming, Headers, relations the other way, and the
 * rollup of the sent message (replied) in a ContentNote linked to it. */
static void
test_inbound_reply(void **state)
{
	fixture *f = *state;
	char *raw = sf_sent_message("Our pricing", SENT_MID, "Hello Bob");
	spool_job *sent = sf_job_save("sf/pricing", "outbound", raw, NULL, SENT_RCPTS);
	spool_job *reply = sf_job_save("sf/reply", "inbound", reply_raw,
	    "{\"correlation\":{\"method\":\"in-reply-to\",\"message_id\":\"" SENT_MID "\"}}", "alice@example.com");
	JsonNode *emails, *rels, *notes, *links;
	JsonObject *em, *orig;
	char *content;
	gsize n;

	assert_int_equal(save(f, sent, NULL), CONN_OK);
	assert_int_equal(save(f, reply, NULL), CONN_OK);
	emails = sf_emu_records(f->emu, "EmailMessage");
	em = sf_the_email(emails, "<reply.1@customer.test>");
	orig = sf_the_email(emails, "<" SENT_MID ">");
	assert_true(json_object_get_boolean_member(em, "Incoming"));
	assert_string_equal(sf_str(em, "Status"), "3");
	assert_string_equal(sf_str(em, "FromAddress"), "bob@customer.test");
	assert_null(sf_str(em, "ToAddress"));                /* alice is a user */
	assert_non_null(strstr(sf_str(em, "Headers"), "Message-ID: <reply.1@customer.test>"));
	assert_non_null(strstr(sf_str(em, "Headers"), "X-Custom: kept"));
	rels = sf_emu_records(f->emu, "EmailMessageRelation");
	guint mine = 0;
	for (guint i = 0; i < json_array_get_length(json_node_get_array(rels)); i++) {
		JsonObject *r = json_array_get_object_element(json_node_get_array(rels), i);
		if (g_strcmp0(sf_str(r, "EmailMessageId"), sf_str(em, "Id")) != 0)
			continue;
		mine++;
		if (strcmp(sf_str(r, "RelationType"), "FromAddress") == 0)
			assert_string_equal(sf_str(r, "RelationId"), f->bob);
		else
			assert_string_equal(sf_str(r, "RelationId"), f->alice);
	}
	assert_int_equal(mine, 2);
	/* the reply reached the rollup of what it answers: a note on it */
	notes = sf_emu_records(f->emu, "ContentNote");
	assert_int_equal(json_array_get_length(json_node_get_array(notes)), 1);
	content = (char *)g_base64_decode(sf_str(json_array_get_object_element(json_node_get_array(notes), 0),
	    "Content"), &n);
	content = g_realloc(content, n + 1);
	content[n] = '\0';
	assert_non_null(strstr(content, "Replied: yes"));
	assert_non_null(strstr(content, "Bounced: no"));
	links = sf_emu_records(f->emu, "ContentDocumentLink");
	assert_non_null(sf_emu_find(links, "LinkedEntityId", sf_str(orig, "Id")));
	g_free(content);
	json_node_unref(emails);
	json_node_unref(rels);
	json_node_unref(notes);
	json_node_unref(links);
	sf_job_free(sent);
	sf_job_free(reply);
	g_free(raw);
}

/* Answers lost after Salesforce stored the records: the retries make no
 * second EmailMessage, relation or file. */
static void
test_lost_answers(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label, *mid;
		int lost;                /* composite calls whose answer is lost */
		int tries;               /* save calls until done */
	} cases[] = {
		{ "answer to the EmailMessage create lost", "lost.1@example.com", 1, 2 },
		{ "answers to the email and to its relations lost", "lost.2@example.com", 2, 3 },
		{ "a quote in the Message-ID (SOQL escaping)", "o'brien.3@example.com", 1, 2 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *raw = sf_sent_message("Lost", cases[i].mid, "body"), *key = g_strdup_printf("sf/lost/%zu", i);
		char *fault = g_strdup_printf("{\"vendor\":\"salesforce\",\"path_regex\":\"composite/sobjects\","
		    "\"kind\":\"drop\",\"phase\":\"after\",\"count\":%d}", cases[i].lost);
		char *want = g_strdup_printf("<%s>", cases[i].mid);
		spool_job *j = sf_job_save(key, "outbound", raw, NULL, SENT_RCPTS);
		int tries = 0;
		conn_status st;
		guint rels0 = sf_emu_count(f->emu, "EmailMessageRelation");
		guint files0 = sf_emu_count(f->emu, "ContentVersion");

		json_node_unref(sf_emu_json(f->emu, "POST", "/_emu/faults", fault));
		do {
			st = save(f, j, NULL);
			tries++;
		} while (st == CONN_RETRY && tries < 5);
		if (st != CONN_OK || tries != cases[i].tries)
			fail_msg("%s: status %d after %d tries, want done after %d", cases[i].label, st, tries,
			    cases[i].tries);
		JsonNode *emails = sf_emu_records(f->emu, "EmailMessage");
		(void)sf_the_email(emails, want);
		json_node_unref(emails);
		if (sf_emu_count(f->emu, "EmailMessageRelation") != rels0 + 3 ||
		    sf_emu_count(f->emu, "ContentVersion") != files0 + 1)
			fail_msg("%s: relations or files made twice", cases[i].label);
		JsonNode *stats = sf_emu_json(f->emu, "GET", "/_emu/stats", NULL);
		assert_int_equal(json_object_get_int_member(json_node_get_object(stats), "duplicates"), 0);
		json_node_unref(stats);
		sf_job_free(j);
		g_free(raw);
		g_free(key);
		g_free(fault);
		g_free(want);
	}
}

/* Four jobs in one batch: each gets its own result; three calls in all. */
static void
test_batch(void **state)
{
	fixture *f = *state;
	char *ok1 = sf_sent_message("One", "batch.1@example.com", "one");
	char *bad = sf_sent_message("Two", "batch.2@example.com", "two");
	char *ok3 = sf_sent_message("Three", "batch.3@example.com", "three");
	spool_job *jobs[4] = {
		sf_job_save("sf/b1", "outbound", ok1, NULL, SENT_RCPTS),
		sf_job_save("sf/b3", "outbound", ok3, NULL, SENT_RCPTS),
		/* a regarding record Salesforce does not have */
		sf_job_save("sf/b2", "outbound", bad, "{\"regarding\":\"account:001EM0000009999\"}", SENT_RCPTS),
		sf_job_save("sf/b4", "outbound", NULL, NULL, NULL),      /* no message */
	};
	static const char *const mids[4] = { "<batch.1@example.com>", "<batch.3@example.com>", NULL, NULL };
	conn_result res[4];
	static const conn_status want[4] = { CONN_OK, CONN_OK, CONN_PERMANENT, CONN_PERMANENT };
	JsonNode *emails;

	assert_int_equal(connector_batch_size(f->c), 200);
	connector_save_batch(f->c, (const spool_job *const *)jobs, 4, now_s(), res);
	for (int i = 0; i < 4; i++)
		if (res[i].status != want[i])
			fail_msg("job %d: status %d (%s), want %d", i, res[i].status, res[i].error, want[i]);
	assert_non_null(strstr(res[2].error, "INVALID_CROSS_REFERENCE_KEY"));
	assert_non_null(strstr(res[3].error, "no message"));
	assert_int_equal(sf_emu_count(f->emu, "EmailMessage"), 2);
	/* each job recorded its own email, and its relations hang on it */
	emails = sf_emu_records(f->emu, "EmailMessage");
	for (int i = 0; i < 2; i++) {
		char *rec = crm_record_get(f->db, "sf", jobs[i]->idem_key, NULL, NULL);
		assert_string_equal(rec, sf_str(sf_the_email(emails, mids[i]), "Id"));
		g_free(rec);
	}
	json_node_unref(emails);
	assert_int_equal(sf_emu_requests(f->emu, "GET", "/query"), 1);
	assert_int_equal(sf_emu_requests(f->emu, "POST", "/composite/sobjects"), 2);
	for (int i = 0; i < 4; i++) {
		conn_result_clear(&res[i]);
		sf_job_free(jobs[i]);
	}
	g_free(ok1);
	g_free(bad);
	g_free(ok3);
}

/* Bodies over the profile's limit are cut with a note; STRING_TOO_LONG
 * from the org cuts them again. */
static void
test_body_limits(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		int profile_max, org_max, chars;
		int want_max;            /* TextBody at most */
		gboolean note;
		guint creates;           /* EmailMessage collections calls */
	} cases[] = {
		{ "short body sent whole", 32000, 32000, 500, 500, FALSE, 1 },
		{ "over max_body_chars: cut with a note", 1000, 32000, 3000, 1000, TRUE, 1 },
		{ "the org says STRING_TOO_LONG: cut again", 32000, 2000, 3000, 1500, TRUE, 2 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = g_strnfill((gsize)cases[i].chars, 'x'), *mid = g_strdup_printf("long.%zu@example.com", i);
		char *raw = sf_sent_message("Long", mid, text), *key = g_strdup_printf("sf/long/%zu", i);
		char *cfg = g_strdup_printf("{\"vendor\":\"salesforce\",\"set\":{\"max_body_chars\":%d}}", cases[i].org_max);
		char *want = g_strdup_printf("<%s>", mid);
		spool_job *j = sf_job_save(key, "outbound", raw, NULL, SENT_RCPTS);
		guint before = sf_emu_requests(f->emu, "POST", "/composite/sobjects");

		json_node_unref(sf_emu_json(f->emu, "POST", "/_emu/config", cfg));
		f->prof.max_body_chars = cases[i].profile_max;
		reopen(f);
		assert_int_equal(save(f, j, NULL), CONN_OK);
		JsonNode *emails = sf_emu_records(f->emu, "EmailMessage");
		const char *body = sf_str(sf_the_email(emails, want), "TextBody");
		glong len = g_utf8_strlen(body, -1);
		if (len > cases[i].want_max || (strstr(body, "[crm-milter: this body was cut") != NULL) != cases[i].note ||
		    (!cases[i].note && len != cases[i].chars))
			fail_msg("%s: TextBody of %ld characters, note %s", cases[i].label, len,
			    strstr(body, "[crm-milter") ? "yes" : "no");
		/* one collections call per try of the emails, one for the parts */
		assert_int_equal(sf_emu_requests(f->emu, "POST", "/composite/sobjects") - before, cases[i].creates + 1);
		json_node_unref(emails);
		sf_job_free(j);
		g_free(text);
		g_free(mid);
		g_free(raw);
		g_free(key);
		g_free(cfg);
		g_free(want);
	}
}

/* A bounce job and two human opens rolled up: mapped rollups PATCHed as
 * custom fields, the rest in one ContentNote, updated in place. */
static void
test_rollups(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		const char *fields[7];
		const char *note_has, *note_lacks;   /* NULL note_has: no note at all */
	} cases[] = {
		{ "opens and bounced mapped", { "opens=Opens__c", "bounced=Bounced__c", NULL },
		  "First opened", "Opens:" },
		{ "all six mapped: no note", { "first_open=First__c", "last_open=Last__c", "opens=Opens__c",
		  "clicks=Clicks__c", "replied=Replied__c", "bounced=Bounced__c", NULL }, NULL, NULL },
		{ "nothing mapped: all in the note", { NULL }, "Opens: 2", "Opens__c" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *mid = g_strdup_printf("roll.%zu@example.com", i), *raw = sf_sent_message("Rollup", mid, "hi");
		char *key = g_strdup_printf("sf/roll/%zu", i), *want = g_strdup_printf("<%s>", mid);
		char *meta = g_strdup_printf("{\"kind\":\"bounced\",\"message_id\":\"%s\",\"recipients\":"
		    "[{\"recipient\":\"bob@customer.test\",\"action\":\"failed\",\"failed\":true,\"status\":\"5.1.1\"}]}", mid);
		spool_job *j = sf_job_save(key, "outbound", raw, NULL, SENT_RCPTS);
		char *evkey = g_strdup_printf("bounce/%zu", i);
		spool_job *ev = sf_job_event(evkey, mid, meta);
		guint notes0 = sf_emu_count(f->emu, "ContentNote");
		conn_result r;

		if (f->prof.rollup_fields != NULL)
			g_ptr_array_unref(f->prof.rollup_fields);
		f->prof.rollup_fields = g_ptr_array_new_with_free_func(g_free);
		for (int k = 0; cases[i].fields[k] != NULL; k++)
			g_ptr_array_add(f->prof.rollup_fields, g_strdup(cases[i].fields[k]));
		reopen(f);
		assert_int_equal(save(f, j, NULL), CONN_OK);
		for (int k = 0; k < 2; k++) {
			char *ek = g_strdup_printf("open/%zu/%d", i, k);
			assert_true(ledger_add_event(f->db, ek, mid, "opened", NULL, "human", NULL, 1795000100 + k, NULL));
			g_free(ek);
		}
		/* the flusher keeps the event locally first, then the CRM */
		r = (conn_result){ CONN_OK, -1, NULL, FALSE };
		connector_ledger_ops.send_event(f->db, ev, now_s(), &r);
		conn_result_clear(&r);
		for (int round = 0; round < 2; round++) {
			connector_event(f->c, ev, now_s(), &r);
			if (r.status != CONN_OK)
				fail_msg("%s: event: %s", cases[i].label, r.error);
			conn_result_clear(&r);
		}
		JsonNode *emails = sf_emu_records(f->emu, "EmailMessage");
		JsonObject *em = sf_the_email(emails, want);
		for (int k = 0; cases[i].fields[k] != NULL; k++) {
			const char *field = strchr(cases[i].fields[k], '=') + 1;
			if (!json_object_has_member(em, field))
				fail_msg("%s: %s not set", cases[i].label, field);
		}
		if (json_object_has_member(em, "Opens__c"))
			assert_int_equal(json_object_get_int_member(em, "Opens__c"), 2);
		if (json_object_has_member(em, "Bounced__c"))
			assert_true(json_object_get_boolean_member(em, "Bounced__c"));
		if (json_object_has_member(em, "First__c"))
			assert_string_equal(sf_str(em, "First__c"), "2026-11-18T11:08:20Z");
		JsonNode *notes = sf_emu_records(f->emu, "ContentNote");
		guint made = json_array_get_length(json_node_get_array(notes)) - notes0;
		assert_int_equal(made, cases[i].note_has != NULL ? 1 : 0);    /* twice pushed, one note */
		if (cases[i].note_has != NULL) {
			JsonObject *note = json_array_get_object_element(json_node_get_array(notes), notes0);
			gsize n;
			char *html = (char *)g_base64_decode(sf_str(note, "Content"), &n);
			char *text = g_strndup(html, n);
			if (strstr(text, cases[i].note_has) == NULL || strstr(text, cases[i].note_lacks) != NULL)
				fail_msg("%s: note %s", cases[i].label, text);
			JsonNode *links = sf_emu_records(f->emu, "ContentDocumentLink");
			JsonObject *link = sf_emu_find(links, "ContentDocumentId", sf_str(note, "Id"));
			assert_non_null(link);
			assert_string_equal(sf_str(link, "LinkedEntityId"), sf_str(em, "Id"));
			json_node_unref(links);
			g_free(html);
			g_free(text);
		}
		json_node_unref(notes);
		json_node_unref(emails);
		sf_job_free(j);
		sf_job_free(ev);
		g_free(evkey);
		g_free(mid);
		g_free(raw);
		g_free(key);
		g_free(want);
		g_free(meta);
	}
}

/* An event for a message not (yet) in Salesforce waits a few tries; when
 * the message is saved at last, its rollups go with it. */
static void
test_event_waits(void **state)
{
	fixture *f = *state;
	static const struct { int attempts; conn_status want; } cases[] = {
		{ 0, CONN_RETRY }, { 2, CONN_RETRY }, { 3, CONN_OK },
	};
	static const char meta[] = "{\"kind\":\"bounced\",\"message_id\":\"early.1@example.com\","
	    "\"recipients\":[{\"recipient\":\"bob@customer.test\",\"failed\":true}]}";
	spool_job *ev = sf_job_event("bounce/early", "early.1@example.com", meta);
	char *raw = sf_sent_message("Early", "early.1@example.com", "hi");
	spool_job *j = sf_job_save("sf/early", "outbound", raw, NULL, SENT_RCPTS);
	conn_result r = { CONN_OK, -1, NULL, FALSE };

	f->prof.rollup_fields = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(f->prof.rollup_fields, g_strdup("bounced=Bounced__c"));
	g_ptr_array_add(f->prof.rollup_fields, g_strdup("replied=Replied__c"));
	reopen(f);
	connector_ledger_ops.send_event(f->db, ev, now_s(), &r);     /* kept locally first */
	conn_result_clear(&r);
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		ev->attempts = cases[i].attempts;
		connector_event(f->c, ev, now_s(), &r);
		assert_int_equal(r.status, cases[i].want);
		conn_result_clear(&r);
	}
	assert_int_equal(sf_emu_requests(f->emu, NULL, NULL), 0);
	assert_int_equal(save(f, j, NULL), CONN_OK);
	JsonNode *emails = sf_emu_records(f->emu, "EmailMessage");
	JsonObject *em = sf_the_email(emails, "<early.1@example.com>");
	assert_true(json_object_get_boolean_member(em, "Bounced__c"));
	assert_false(json_object_get_boolean_member(em, "Replied__c"));
	assert_int_equal(sf_emu_count(f->emu, "ContentNote"), 1);     /* the unmapped four */
	json_node_unref(emails);
	sf_job_free(ev);
	sf_job_free(j);
	g_free(raw);
}

/* Two workers push one email's rollups: only the one that claims the note
 * makes it; the other still writes the mapped fields, and retries later
 * for the note. */
static void
test_note_claimed(void **state)
{
	fixture *f = *state;
	char *raw = sf_sent_message("Claimed", "claimed.1@example.com", "hi"), *email, *key;
	spool_job *j = sf_job_save("sf/claimed", "outbound", raw, NULL, SENT_RCPTS);
	conn_result r = { CONN_OK, -1, NULL, FALSE };
	sf *s;

	f->prof.rollup_fields = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(f->prof.rollup_fields, g_strdup("opens=Opens__c"));
	reopen(f);
	assert_int_equal(save(f, j, NULL), CONN_OK);
	email = crm_record_get(f->db, "sf", "sf/claimed", NULL, NULL);
	key = g_strdup_printf("rollup-note-claim/%s/%" G_GINT64_FORMAT, email, now_s() / 60);
	assert_true(crm_record_put(f->db, "sf", key, NULL, "claim", "another-worker", now_s(), NULL));
	assert_true(ledger_add_event(f->db, "open/claimed", "claimed.1@example.com", "opened", NULL, "human",
	    NULL, 1795000100, NULL));
	s = connector_salesforce_ops.open(&f->env, NULL);
	sf_push_rollup(s, email, "claimed.1@example.com", now_s(), &r);
	assert_int_equal(r.status, CONN_RETRY);
	assert_non_null(strstr(r.error, "being made by another worker"));
	assert_int_equal(sf_emu_count(f->emu, "ContentNote"), 0);
	JsonNode *emails = sf_emu_records(f->emu, "EmailMessage");
	assert_int_equal(json_object_get_int_member(sf_the_email(emails, "<claimed.1@example.com>"), "Opens__c"), 1);
	json_node_unref(emails);
	conn_result_clear(&r);
	connector_salesforce_ops.close(s);
	sf_job_free(j);
	g_free(raw);
	g_free(email);
	g_free(key);
}

/* The directory from Contact, Lead and User: every page, opt-out flags,
 * converted leads and inactive users left out; then only what changed. */
static void
test_sync(void **state)
{
	fixture *f = *state;
	const connector_ops *ops = connector_lookup("salesforce");
	GString *many = g_string_new(NULL);
	GDateTime *now = g_date_time_new_now_utc(), *h3 = g_date_time_add_hours(now, -3),
	    *h2 = g_date_time_add_hours(now, -2);
	char *old3 = g_date_time_format(h3, "%Y-%m-%dT%H:%M:%S.000Z"), *tmp;
	char *old2 = g_date_time_format(h2, "%Y-%m-%dT%H:%M:%S.000Z");
	char *now_iso = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.000Z");
	void *st;
	GError *e = NULL;
	directory_entry *d;

	for (int i = 0; i < 450; i++)
		g_string_append_printf(many, "%s{\"Email\":\"c%03d@many.test\",\"LastName\":\"C%d\","
		    "\"HasOptedOutOfEmail\":%s,\"LastModifiedDate\":\"%s\"}", i > 0 ? "," : "", i, i,
		    i % 10 == 0 ? "true" : "false", i < 449 ? old3 : old2);
	tmp = g_strdup_printf("{\"vendor\":\"salesforce\",\"kind\":\"Contact\",\"records\":[%s]}", many->str);
	json_node_unref(sf_emu_json(f->emu, "POST", "/_emu/seed", tmp));
	g_free(tmp);
	g_free(sf_emu_seed(f->emu, "Lead", "{\"Email\":\"conv@lead.test\",\"LastName\":\"Conv\",\"IsConverted\":true}"));
	g_free(sf_emu_seed(f->emu, "User", "{\"Email\":\"gone@example.com\",\"LastName\":\"Gone\",\"IsActive\":false}"));
	json_node_unref(sf_emu_json(f->emu, "POST", "/_emu/config",
	    "{\"vendor\":\"salesforce\",\"set\":{\"query_batch_size\":200}}"));
	st = ops->open(&f->env, NULL);
	assert_true(ops->sync_directory(st, now_s(), &e));
	/* 451 contacts in pages of 200, one page each for leads and users */
	assert_int_equal(sf_emu_requests(f->emu, "GET", "/query"), 5);
	struct { const char *addr; dir_record_type type; gboolean no_follow; gboolean present; } want[] = {
		{ "c000@many.test", DIRREC_CONTACT, TRUE, TRUE },
		{ "c001@many.test", DIRREC_CONTACT, FALSE, TRUE },
		{ "c449@many.test", DIRREC_CONTACT, FALSE, TRUE },
		{ "carol@customer.test", DIRREC_LEAD, FALSE, TRUE },
		{ "alice@example.com", DIRREC_USER, FALSE, TRUE },
		{ "conv@lead.test", DIRREC_LEAD, FALSE, FALSE },
		{ "gone@example.com", DIRREC_USER, FALSE, FALSE },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(want); i++) {
		d = directory_lookup(f->db, want[i].addr, NULL);
		if ((d != NULL) != want[i].present || (d != NULL && (d->type != want[i].type ||
		    d->no_follow != want[i].no_follow)))
			fail_msg("directory %s: %s", want[i].addr, d ? "wrong" : "missing");
		directory_entry_free(d);
	}
	/* incremental: c001 opts out now; only it and the last minute before
	 * the newest record seen (c449) are read again: one page */
	char *c1 = NULL;
	d = directory_lookup(f->db, "c001@many.test", NULL);
	c1 = g_strdup(d->record_id);
	directory_entry_free(d);
	tmp = g_strdup_printf("{\"Id\":\"%s\",\"Email\":\"c001@many.test\",\"LastName\":\"C1\","
	    "\"HasOptedOutOfEmail\":true,\"LastModifiedDate\":\"%s\"}", c1, now_iso);
	g_free(sf_emu_seed(f->emu, "Contact", tmp));
	g_free(tmp);
	guint before = sf_emu_requests(f->emu, "GET", "/query");
	assert_true(ops->sync_directory(st, now_s(), &e));
	assert_int_equal(sf_emu_requests(f->emu, "GET", "/query") - before, 3);   /* one page each */
	d = directory_lookup(f->db, "c001@many.test", NULL);
	assert_true(d->no_follow);
	directory_entry_free(d);
	tmp = crm_sync_get(f->db, "sf", "sf/Contact", NULL, NULL);
	assert_non_null(tmp);
	g_free(tmp);
	ops->close(st);
	g_free(c1);
	g_free(old3);
	g_free(old2);
	g_free(now_iso);
	g_date_time_unref(now);
	g_date_time_unref(h3);
	g_date_time_unref(h2);
	g_string_free(many, TRUE);
}

/* JWT bearer: the emulator verifies the RS256 assertion with the public
 * key; a user the app does not know is refused (dead, the vendor's words). */
static void
test_jwt(void **state)
{
	fixture *f = *state;
	static const struct { const char *user; conn_status want; const char *words; } cases[] = {
		{ SF_USER, CONN_OK, NULL },
		{ "someone@else.test", CONN_PERMANENT, "invalid_grant" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *mid = g_strdup_printf("jwt.%zu@example.com", i), *raw = sf_sent_message("JWT", mid, "hi");
		char *key = g_strdup_printf("sf/jwt/%zu", i), *err = NULL;
		spool_job *j = sf_job_save(key, "outbound", raw, NULL, SENT_RCPTS);
		JsonNode *stats = sf_emu_json(f->emu, "GET", "/_emu/stats", NULL);
		gint64 grants0 = json_object_get_int_member(json_object_get_object_member(json_object_get_object_member(
		    json_node_get_object(stats), "vendors"), "salesforce"), "jwt_grants");

		json_node_unref(stats);
		g_free(f->prof.client_secret_file);
		f->prof.client_secret_file = NULL;
		g_free(f->prof.username);
		f->prof.username = g_strdup(cases[i].user);
		g_free(f->prof.private_key_file);
		f->prof.private_key_file = g_strdup(f->emu->key_file);
		f->prof.auth = CRM_AUTH_JWT_BEARER;
		assert_true(crm_token_forget(f->db, "sf", NULL));
		reopen(f);
		assert_int_equal(save(f, j, &err), cases[i].want);
		if (cases[i].words != NULL && (err == NULL || strstr(err, cases[i].words) == NULL))
			fail_msg("JWT %s: %s", cases[i].user, err);
		stats = sf_emu_json(f->emu, "GET", "/_emu/stats", NULL);
		JsonObject *v = json_object_get_object_member(json_object_get_object_member(
		    json_node_get_object(stats), "vendors"), "salesforce");
		assert_int_equal(json_object_get_int_member(v, "jwt_grants"), grants0 + (cases[i].want == CONN_OK));
		json_node_unref(stats);
		sf_job_free(j);
		g_free(mid);
		g_free(raw);
		g_free(key);
		g_free(err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_save_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbound_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_note_claimed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwt, setup, teardown),
	};

	return cmocka_run_group_tests_name("salesforce", tests, group_setup, group_teardown);
}

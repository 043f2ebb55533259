/*
 * test_decide_fixture.c - the decision test's fixture and table runner
 * (see test_decide.h).
 *
 * The fixture is one database for the test group (decisions only read
 * it): the CRM directory (directory_upsert) and six saved messages queued
 * with spool_enqueue with the index fields crm-milter writes
 * (correlate_facts, regarding, want_token) under a config with smart
 * matching on (the subject is indexed only then). Nothing of ours is mocked:
 * every case decides with lookups_init on that database.
 *
 * Directory: alice@ and dan@example.com are users, carol@customer.test a
 * contact, lena@prospect.test a lead, info@acme.test an account,
 * sam@partner.test both a contact and a lead, olga@optout.test a contact
 * whose record says "follow email: do not allow"; bob@customer.test and
 * zed@nowhere.test are unknown.
 *
 * Tracked mail (job id, Message-ID, age, regarding):
 *   1 MID_Q3_NEW   12 d opportunity:OPP-7     corpus outbound/01 (Thread-Index q3)
 *   2 MID_Q3_GMAIL 11 d opportunity:OPP-7     corpus inbound/02, saved inbound
 *   3 MID_Q3_REPLY 10 d quote:Q-2026-3        corpus outbound/03 (Thread-Index q3)
 *   4 MID_RENEWAL   5 d account:A-PARTNER     alice -> dave@partner.test, token
 *   5 MID_PILOT   100 d opportunity:OPP-PILOT alice -> erin@, frank@old.test
 *   6 MID_BOUNCED   2 d (none), profile archive: the original of a DSN
 * The three q3 messages share the normalised subject "quote for q3" and
 * the addresses alice@example.com and bob@customer.test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "correlate.h"
#include "db.h"
#include "decide.h"
#include "directory.h"
#include "idem.h"
#include "lookups.h"
#include "message.h"
#include "spool.h"
#include "testutil.h"
#include "test_decide.h"

#define DAY 86400

typedef struct fixture {
	char *dir;
	crm_db *db;
} fixture;

/* ------------------------------------------------------------ fixture data */

static const struct {
	const char *address;
	dir_record_type type;
	const char *id;
	const char *name;
	gboolean no_follow;
} directory_rows[] = {
	{ "alice@example.com", DIRREC_USER, "U-ALICE", "Alice Example", FALSE },
	{ "dan@example.com", DIRREC_USER, "U-DAN", "Dan Colleague", FALSE },
	{ "Carol@Customer.test", DIRREC_CONTACT, "C-CAROL", "Carol Customer", FALSE },
	{ "lena@prospect.test", DIRREC_LEAD, "L-LENA", "Lena Prospect", FALSE },
	{ "info@acme.test", DIRREC_ACCOUNT, "A-ACME", "Acme Corp", FALSE },
	{ "sam@partner.test", DIRREC_CONTACT, "C-SAM", "Sam Partner", FALSE },
	{ "sam@partner.test", DIRREC_LEAD, "L-SAM", "Sam Partner", FALSE },
	{ "olga@optout.test", DIRREC_CONTACT, "C-OLGA", "Olga Optout", TRUE },
};

#define PLAIN_HEAD "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"

static const char renewal_raw[] =
	"From: Alice Example <alice@example.com>\r\n"
	"To: Dave Partner <dave@partner.test>\r\n"
	"Subject: Renewal for 2027\r\n"
	"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
	"Message-ID: <" MID_RENEWAL ">\r\n" PLAIN_HEAD
	"Hi Dave,\r\n\r\nhere are the renewal terms for 2027.\r\n";

static const char pilot_raw[] =
	"From: Alice Example <alice@example.com>\r\n"
	"To: Erin Old <erin@old.test>, Frank Old <frank@old.test>\r\n"
	"Subject: Pilot results\r\n"
	"Date: Wed, 26 Aug 2026 10:00:00 +0000\r\n"
	"Message-ID: <" MID_PILOT ">\r\n" PLAIN_HEAD
	"Hi both,\r\n\r\nthe pilot results are in.\r\n";

static const char bounced_raw[] =
	"From: Alice Example <alice@example.com>\r\n"
	"To: Bob Smith <bob.smith@example.net>\r\n"
	"Subject: Proposal for the Q1 rollout\r\n"
	"Date: Tue, 03 Dec 2026 09:15:00 +0000\r\n"
	"Message-ID: <" MID_BOUNCED ">\r\n" PLAIN_HEAD
	"Hi Bob,\r\n\r\nour proposal for the Q1 rollout.\r\n";

/* The saved messages, in the order they are queued (job ids 1..6). */
static const struct {
	const char *mid;          /* what its Message-ID must be */
	const char *file;         /* under tests/data/, or NULL */
	const char *raw;
	const char *direction;
	const char *profile;
	const char *from;
	const char *const *rcpts;
	gsize nrcpts;
	const char *regarding;
	int age_days;
	gboolean want_token;
} tracked_rows[] = {
	{ MID_Q3_NEW, "mail/outbound/01-outlook-new.eml", NULL, "outbound", "local",
	  "alice@example.com", RCPTS("bob@customer.test", "carol@customer.test"),
	  "opportunity:OPP-7", 12, FALSE },
	{ MID_Q3_GMAIL, "mail/inbound/02-gmail-reply.eml", NULL, "inbound", "local",
	  "bob@customer.test", RCPTS("alice@example.com"), "opportunity:OPP-7", 11, FALSE },
	{ MID_Q3_REPLY, "mail/outbound/03-outlook-reply.eml", NULL, "outbound", "local",
	  "alice@example.com", RCPTS("bob@customer.test", "carol@customer.test"),
	  "quote:Q-2026-3", 10, FALSE },
	{ MID_RENEWAL, NULL, renewal_raw, "outbound", "local",
	  "alice@example.com", RCPTS("dave@partner.test"), "account:A-PARTNER", 5, TRUE },
	{ MID_PILOT, NULL, pilot_raw, "outbound", "local",
	  "alice@example.com", RCPTS("erin@old.test", "frank@old.test"),
	  "opportunity:OPP-PILOT", 100, FALSE },
	{ MID_BOUNCED, NULL, bounced_raw, "outbound", "archive",
	  "alice@example.com", RCPTS("bob.smith@example.net"), NULL, 2, FALSE },
};

/* ------------------------------------------------------------ fixture */

/* The message of a case or tracked row: a corpus file or inline text. */
crm_message *
decide_load_message(const char *file, const char *raw)
{
	crm_message *m;
	GError *e = NULL;
	char *text = NULL;
	gsize len = 0;

	if (file != NULL) {
		char *path = g_build_filename(TEST_SRCDIR, "tests", "data", file, NULL);
		if (!g_file_get_contents(path, &text, &len, &e))
			fail_msg("%s: %s", path, e->message);
		g_free(path);
	} else if (raw != NULL) {
		text = g_strdup(raw);
		len = strlen(raw);
	} else {
		return NULL;
	}
	m = message_parse((const guint8 *)text, len, &e);
	if (m == NULL)
		fail_msg("%s: %s", file ? file : "inline message", e->message);
	g_free(text);
	return m;
}

/* Queue one saved message the way crm-milter's end of message does. */
static void
track(crm_db *db, const crm_config *cfg, gsize i)
{
	crm_message *m = decide_load_message(tracked_rows[i].file, tracked_rows[i].raw);
	const char *mid = message_header(m, "Message-ID");
	char *key = idem_key(tracked_rows[i].profile, mid, NULL);
	char *raw = g_mime_object_to_string(GMIME_OBJECT(message_mime(m)), NULL);
	correlate_fact f;
	spool_new_job job;
	GError *e = NULL;
	gint64 id = 0;

	correlate_facts(cfg, m, &f);
	assert_string_equal(f.message_id, tracked_rows[i].mid);
	memset(&job, 0, sizeof(job));
	job.kind = JOB_SAVE;
	job.profile = tracked_rows[i].profile;
	job.idem_key = key;
	job.queue_id = "4XkQ2B0vZfz9tK1";
	job.direction = tracked_rows[i].direction;
	job.reason = "fixture";
	job.rule = "fixture";
	job.mail_from = tracked_rows[i].from;
	job.rcpts = tracked_rows[i].rcpts;
	job.nrcpts = tracked_rows[i].nrcpts;
	job.message_id = mid;
	job.payload = raw;
	job.payload_len = strlen(raw);
	job.thread_conv = f.thread_conv;
	job.subject_norm = f.subject_norm;
	job.regarding = tracked_rows[i].regarding;
	job.want_token = tracked_rows[i].want_token;
	if (spool_enqueue(db, &job, DECIDE_NOW - (gint64)tracked_rows[i].age_days * DAY, &id, &e) != SPOOL_OK)
		fail_msg("tracking %s: %s", tracked_rows[i].mid, e ? e->message : "duplicate");
	/* the subject tokens of the tables are written for these ids */
	assert_int_equal(id, (gint64)i + 1);
	if (strcmp(tracked_rows[i].mid, MID_RENEWAL) == 0)
		assert_int_equal(id, RENEWAL_JOB_ID);
	correlate_facts_clear(&f);
	g_free(raw);
	g_free(key);
	message_free(m);
}

/* A fresh database with the directory and the tracked mail. */
int
decide_fixture_setup(void **state)
{
	fixture *fx = g_new0(fixture, 1);
	/* smart matching on: normalised subjects are indexed only then */
	crm_config *cfg = testutil_config(DECIDE_BASE "capture { smart_matching = yes }\n");
	GError *e = NULL;
	char *path;

	fx->dir = testutil_tmpdir();
	path = g_build_filename(fx->dir, "spool.db", NULL);
	fx->db = db_open(path, 1000, &e);
	if (fx->db == NULL)
		fail_msg("db_open: %s", e->message);
	for (gsize i = 0; i < G_N_ELEMENTS(directory_rows); i++) {
		directory_entry de = { .address = (char *)directory_rows[i].address,
		    .type = directory_rows[i].type, .record_id = (char *)directory_rows[i].id,
		    .name = (char *)directory_rows[i].name, .no_follow = directory_rows[i].no_follow };
		if (!directory_upsert(fx->db, &de, DECIDE_NOW - 30 * DAY, &e))
			fail_msg("directory_upsert %s: %s", de.address, e->message);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(tracked_rows); i++)
		track(fx->db, cfg, i);
	config_unref(cfg);
	g_free(path);
	*state = fx;
	return 0;
}

/* The fixture's database. */
crm_db *
decide_fixture_db(void **state)
{
	return ((fixture *)*state)->db;
}

/* Close and remove the database. */
int
decide_fixture_teardown(void **state)
{
	fixture *fx = *state;

	db_close(fx->db);
	testutil_rmtree(fx->dir);
	g_free(fx->dir);
	g_free(fx);
	return 0;
}

/* ------------------------------------------------------------ the runner */

/* The strings of a, joined with ','; NULL when a is empty. */
static char *
joined(const GPtrArray *a)
{
	GString *s;

	if (a == NULL || a->len == 0)
		return NULL;
	s = g_string_new(NULL);
	for (guint i = 0; i < a->len; i++)
		g_string_append_printf(s, "%s%s", i ? "," : "", (const char *)g_ptr_array_index(a, i));
	return g_string_free(s, FALSE);
}

/* Note a field that differs. */
static void
differs(GString *bad, const char *what, const char *got, const char *want)
{
	g_string_append_printf(bad, "\n    %s: got %s%s%s, want %s%s%s", what,
	    got ? "\"" : "", got ? got : "none", got ? "\"" : "",
	    want ? "\"" : "", want ? want : "none", want ? "\"" : "");
}

/* Compare one string field exactly. */
static void
check_str(GString *bad, const char *what, const char *got, const char *want)
{
	if (g_strcmp0(got, want) != 0)
		differs(bad, what, got, want);
}

/* Compare a regarding record with "type:id". */
static void
check_regarding(GString *bad, const char *what, const crm_regarding *r, const char *want)
{
	char *got = r != NULL ? g_strdup_printf("%s:%s", r->type, r->id) : NULL;

	check_str(bad, what, got, want);
	g_free(got);
}

/* Every field of want against d; the differences go to bad. */
static void
check_decision(GString *bad, const crm_decision *d, const decide_want *w)
{
	char *s;

	if (w->dir != NULL)
		check_str(bad, "direction", direction_name(d->direction), w->dir);
	check_str(bad, "rule", d->rule != NULL ? d->rule->name : NULL, w->rule);
	check_str(bad, "save", d->save, w->save);
	if (d->track != w->track)
		g_string_append_printf(bad, "\n    track: got %#x, want %#x", d->track, w->track);
	check_regarding(bad, "regarding", d->regarding, w->regarding);
	check_str(bad, "category", d->category, w->category);
	check_str(bad, "correlation method", d->corr.method, w->method);
	check_str(bad, "correlation message_id", d->corr.message_id, w->corr_id);
	check_regarding(bad, "correlation regarding", d->corr.regarding, w->corr_reg);
	if (d->dropbox != w->dropbox)
		g_string_append_printf(bad, "\n    dropbox: got %d, want %d", d->dropbox, w->dropbox);
	s = joined(d->remove_headers);
	check_str(bad, "remove_headers", s, w->rm_headers);
	g_free(s);
	s = joined(d->remove_rcpts);
	check_str(bad, "remove_rcpts", s, w->rm_rcpts);
	g_free(s);
	check_str(bad, "new_subject", d->new_subject, w->subject);
	if (w->why_not == NULL ? d->why_not != NULL
	    : d->why_not == NULL || strstr(d->why_not, w->why_not) == NULL)
		differs(bad, "why_not (~)", d->why_not, w->why_not);
	if (w->why_no_track == NULL ? d->why_no_track != NULL
	    : d->why_no_track == NULL || strstr(d->why_no_track, w->why_no_track) == NULL)
		differs(bad, "why_no_track (~)", d->why_no_track, w->why_no_track);
	if ((d->bounce != NULL) != (w->bounce != NULL))
		differs(bad, "bounce", d->bounce ? "a report" : NULL, w->bounce);
	else if (d->bounce != NULL)
		check_str(bad, "bounce profile", d->bounce_profile, w->bounce);
	if (w->participants != NULL) {
		s = joined(d->participants);
		check_str(bad, "participants", s, w->participants);
		g_free(s);
	}
}

/* Decide every case on the fixture's database. */
void
decide_run_table(void **state, const decide_case *cases, gsize n)
{
	fixture *fx = *state;
	GString *report = g_string_new(NULL);
	guint failed = 0;

	for (gsize i = 0; i < n; i++) {
		const decide_case *c = &cases[i];
		crm_config *cfg = testutil_config("%s%s", DECIDE_BASE, c->conf ? c->conf : "");
		crm_message *msg = decide_load_message(c->file, c->raw);
		GString *bad = g_string_new(NULL);
		decide_lookups lk;
		lookup_ctx lc;
		crm_decision d;

		lookups_init(&lk, &lc, fx->db, "T", DECIDE_NOW);
		decision_make(cfg, &c->in, msg, &lk, &d);
		check_decision(bad, &d, &c->want);
		if (bad->len > 0) {
			failed++;
			g_string_append_printf(report, "\n  %s (reason: %s):%s", c->label,
			    d.reason ? d.reason : "-", bad->str);
		}
		g_string_free(bad, TRUE);
		decision_clear(&d);
		message_free(msg);
		config_unref(cfg);
	}
	if (failed > 0)
		fail_msg("%u of %zu cases differ:%s", failed, n, report->str);
	g_string_free(report, TRUE);
}


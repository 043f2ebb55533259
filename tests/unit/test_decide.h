/*
 * test_decide.h - what the three files of the decision test share
 * (test_decide.c, test_decide_corr.c, test_decide_fixture.c): the case and
 * expectation types, the macros that write envelopes and inline messages,
 * the fixture's tracked mail, and the table runner.
 *
 * The fixture (test_decide_fixture.c) is one real spool database per test
 * group: CRM directory rows written with directory_upsert and tracked mail
 * queued with spool_enqueue with the index fields set, the way crm-milter
 * records saved mail. Each case loads its own config (the common preamble
 * DECIDE_BASE plus its rules and capture section), parses its message and
 * decides with lookups_init on that database at DECIDE_NOW.
 *
 * Public (test-only): decide_case, decide_want, decide_run_table,
 * decide_fixture_setup, decide_fixture_teardown, decide_fixture_db,
 * decide_load_message (test_decide_fixture.c),
 * the test_* functions of test_decide_corr.c, and the Message-ID and
 * token constants below.
 */
#ifndef CRM_TEST_DECIDE_H
#define CRM_TEST_DECIDE_H

#include <glib.h>
#include "classify.h"
#include "db.h"
#include "message.h"

/* 2026-12-05 00:00:00 UTC: the clock of every decision. */
#define DECIDE_NOW G_GINT64_CONSTANT(1796428800)

/* Every config starts with this; cases add rules and capture { }. */
#define DECIDE_BASE \
	"milter {\n" \
	"  internal_domains = {\"example.com\"}\n" \
	"  internal_networks = {\"10.0.0.0/8\"}\n" \
	"}\n" \
	"crm \"local\" { type = ledger }\n" \
	"crm \"archive\" { type = ledger }\n"

/* The tracked mail of the fixture (see test_decide_fixture.c for who sent what). */
#define MID_Q3_NEW    "a3f0c9d27e5b4c18b6f1e20d94c7a85e@EXCH01.corp.example.com"
#define MID_Q3_GMAIL  "CAHk2v7QmR9sL0xT4e+bW3nJpYd8u_Zf6gKcA1oVt5NqE=s2hXw@mail.gmail.com"
#define MID_Q3_REPLY  "5d82b1e6c04f4a97a3e8f71b2c6d09a4@EXCH01.corp.example.com"
#define MID_RENEWAL   "renewal-2027.4711@example.com"
#define MID_PILOT     "pilot-results.0815@example.com"
#define MID_BOUNCED   "a1b2c3d4-5e6f-4a0b-9c8d-7e6f5a4b3c2d@example.com"
/* The renewal mail is the fourth job queued: its subject token number,
 * written "[CRM:0000004]" in the tables. */
#define RENEWAL_JOB_ID 4
/* Outlook's Thread-Index of the "Quote for Q3" conversation (a reply). */
#define THREAD_INDEX_Q3 "Ad16X+HQbxwqnjt9TFih4J89K3xuFQADKeA6ADHZNHw="

/* Envelopes: a compound-literal recipient list and its length. */
#define R(...) ((const char *const[]){ __VA_ARGS__ })
#define RCPTS(...) .rcpts = R(__VA_ARGS__), .nrcpts = G_N_ELEMENTS(R(__VA_ARGS__))
/* Authenticated submission (trusted: outbound or internal). */
#define SUBMIT(user, from, ...) \
	{ .auth_user = (user), .client_addr = "192.0.2.15", .mail_from = (from), RCPTS(__VA_ARGS__) }
#define OUT(...) SUBMIT("alice", "alice@example.com", __VA_ARGS__)
/* From the internal network without authentication (trusted). */
#define LAN(from, ...) { .client_addr = "10.1.2.3", .mail_from = (from), RCPTS(__VA_ARGS__) }
/* From an outside MTA (untrusted: inbound when a recipient is ours). */
#define MX(from, ...) { .client_addr = "203.0.113.9", .mail_from = (from), RCPTS(__VA_ARGS__) }

/* A plain-text message; extra is more header lines, each ending in CRLF. */
#define MAIL(from, to, subject, extra) \
	"From: " from "\r\nTo: " to "\r\nSubject: " subject "\r\n" \
	"Date: Thu, 03 Dec 2026 09:00:00 +0000\r\n" \
	"Message-ID: <inline.20261203090000@mail.test>\r\n" extra \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: text/plain; charset=us-ascii\r\n" \
	"\r\n" \
	"Hello,\r\n\r\nplease see my notes below.\r\n\r\nRegards\r\n"

/* An outbound note from alice to bob, and an inbound one to alice. */
#define NOTE MAIL("Alice Example <alice@example.com>", "Bob Customer <bob@customer.test>", \
	"Quote for Q4", "")
#define INNOTE(from) MAIL(from, "Alice Example <alice@example.com>", "Question", "")

/* The correlation part of a decide_want. */
#define CORR(m, id, reg) .method = (m), .corr_id = (id), .corr_reg = (reg)

/* What one decision must give. Every field is checked: NULL/0/FALSE
 * means "none", except dir and participants (NULL: not checked). */
typedef struct decide_want {
	const char *dir;          /* direction name */
	const char *rule;         /* the matching rule's name */
	const char *save;         /* the profile saved to */
	guint track;              /* TRACK_* */
	const char *regarding;    /* "type:id" */
	const char *category;
	const char *method;       /* correlation method */
	const char *corr_id;      /* the tracked Message-ID it answers */
	const char *corr_reg;     /* the thread's regarding, "type:id" */
	gboolean dropbox;
	const char *rm_headers;   /* remove_headers joined with ',' */
	const char *rm_rcpts;     /* remove_rcpts joined with ',' */
	const char *subject;      /* new_subject */
	const char *why_not;      /* a substring of why_not */
	const char *why_no_track; /* a substring of why_no_track */
	const char *bounce;       /* profile of the bounced tracked message */
	const char *participants; /* joined with ',' */
} decide_want;

typedef struct decide_case {
	const char *label;
	const char *conf;         /* after DECIDE_BASE */
	classify_input in;
	const char *file;         /* under tests/data/, or NULL */
	const char *raw;          /* inline message; with file NULL too: no message */
	decide_want want;
} decide_case;

int decide_fixture_setup(void **state);
int decide_fixture_teardown(void **state);
crm_db *decide_fixture_db(void **state);
/* A corpus file under tests/data/ or inline text, parsed (NULL when both
 * are NULL); the test fails when it cannot be read or parsed. */
crm_message *decide_load_message(const char *file, const char *raw);
/* Decide every case on the fixture's database; fail listing every row
 * that differs. */
void decide_run_table(void **state, const decide_case *cases, gsize n);

/* test_decide_corr.c */
void test_dynamics_choices(void **state);
void test_correlation(void **state);
void test_correlation_order(void **state);
void test_bounces(void **state);
void test_json(void **state);

#endif

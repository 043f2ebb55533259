/*
 * test_rollup.c - engagement rollups of sent messages (core/rollup.c) over
 * a real spool database, table-driven: each case stores events as the
 * ledger does (kind, class as status, time) and replies as correlated
 * inbound activities, then checks the human counts, first and last, and
 * the classes kept apart. Ends with the listing of sent messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "activity.h"
#include "db.h"
#include "ledger.h"
#include "rollup.h"
#include "testutil.h"

#define MID "sent.1@example.com"

typedef struct {
	const char *kind;      /* opened, clicked, bounced, delivered; NULL ends */
	const char *cls;       /* status: human, privacy_proxy, scanner, DSN status */
	gint64 at;
	const char *message_id;
} ev;

typedef struct {
	guint n;
	gint64 first, last;
} want_counts;

typedef struct {
	const char *label;
	ev events[10];
	gint64 reply_dates[4]; /* dates of correlated inbound replies; 0 ends */
	want_counts opens, clicks, proxy_opens, scanner_opens, scanner_clicks, replies, bounces;
} rollup_case;

static const rollup_case cases[] = {
	{ "nothing happened", { { NULL } }, { 0 },
	  { 0 }, { 0 }, { 0 }, { 0 }, { 0 }, { 0 }, { 0 } },
	{ "Apple prefetch then a person reads twice: only the person counts as opens",
	  { { "opened", "privacy_proxy", 100, MID }, { "opened", "human", 500, MID },
	    { "opened", "human", 900, MID }, { NULL } }, { 0 },
	  { 2, 500, 900 }, { 0 }, { 1, 100, 100 }, { 0 }, { 0 }, { 0 }, { 0 } },
	{ "Safe Links follows every link at once, then the person clicks one",
	  { { "clicked", "scanner", 10, MID }, { "clicked", "scanner", 11, MID },
	    { "opened", "scanner", 10, MID }, { "clicked", "human", 3600, MID }, { NULL } }, { 0 },
	  { 0 }, { 1, 3600, 3600 }, { 0 }, { 1, 10, 10 }, { 2, 10, 11 }, { 0 }, { 0 } },
	{ "an unknown class is never a person", { { "opened", "robot", 50, MID }, { NULL } }, { 0 },
	  { 0 }, { 0 }, { 0 }, { 1, 50, 50 }, { 0 }, { 0 }, { 0 } },
	{ "replies and a bounce; delivered reports and other messages' events ignored",
	  { { "bounced", "5.1.1", 300, MID }, { "delivered", "2.0.0", 200, MID },
	    { "opened", "human", 400, "other@example.com" }, { NULL } }, { 2000, 1000, 0 },
	  { 0 }, { 0 }, { 0 }, { 0 }, { 0 }, { 2, 1000, 2000 }, { 1, 300, 300 } },
};

/* Compare one set of counts. */
static void
check(const char *label, const char *what, const rollup_counts *got, const want_counts *want)
{
	if (got->n != want->n || (want->n > 0 && (got->first != want->first || got->last != want->last)))
		fail_msg("%s: %s is %u (%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT "), want %u (%"
		    G_GINT64_FORMAT "..%" G_GINT64_FORMAT ")", label, what, got->n, got->first,
		    got->last, want->n, want->first, want->last);
}

/* Store an activity as the ledger does; *id gets its row. */
static void
store(crm_db *db, const char *key, const char *direction, const char *mid,
    const char *corr_mid, gint64 date)
{
	activity *a = activity_new(direction);
	gint64 id = 0;
	GError *e = NULL;

	a->from_addr = g_strdup(strcmp(direction, "outbound") == 0 ? "alice@example.com" : "bob@customer.test");
	g_ptr_array_add(a->to, g_strdup(strcmp(direction, "outbound") == 0 ? "bob@customer.test" : "alice@example.com"));
	a->subject = g_strdup("Our pricing");
	a->message_id = g_strdup(mid);
	a->date = date;
	a->corr_method = corr_mid != NULL ? g_strdup("in-reply-to") : NULL;
	a->corr_message_id = g_strdup(corr_mid);
	if (!ledger_store(db, "local", key, 1, a, date, &id, &e))
		fail_msg("storing %s: %s", key, e->message);
	activity_free(a);
}

/* Every case on a fresh database. */
static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const rollup_case *c = &cases[i];
		char *dir = testutil_tmpdir(), *path = g_build_filename(dir, "spool.db", NULL);
		GError *e = NULL;
		crm_db *db = db_open(path, 1000, &e);
		rollup r;

		assert_non_null(db);
		store(db, "sent", "outbound", MID, NULL, 1);
		for (guint k = 0; c->events[k].kind != NULL; k++) {
			char *key = g_strdup_printf("ev/%zu/%u", i, k);
			assert_true(ledger_add_event(db, key, c->events[k].message_id, c->events[k].kind,
			    NULL, c->events[k].cls, NULL, c->events[k].at, &e));
			g_free(key);
		}
		for (guint k = 0; c->reply_dates[k] != 0; k++) {
			char *key = g_strdup_printf("reply/%u", k), *mid = g_strdup_printf("reply.%u@customer.test", k);
			store(db, key, "inbound", mid, MID, c->reply_dates[k]);
			g_free(key);
			g_free(mid);
		}
		if (!rollup_for_message(db, MID, &r, &e))
			fail_msg("%s: %s", c->label, e->message);
		check(c->label, "human opens", &r.opens, &c->opens);
		check(c->label, "human clicks", &r.clicks, &c->clicks);
		check(c->label, "proxy opens", &r.proxy_opens, &c->proxy_opens);
		check(c->label, "scanner opens", &r.scanner_opens, &c->scanner_opens);
		check(c->label, "scanner clicks", &r.scanner_clicks, &c->scanner_clicks);
		check(c->label, "replies", &r.replies, &c->replies);
		check(c->label, "bounces", &r.bounces, &c->bounces);
		assert_int_equal(r.proxy_clicks.n, 0);
		db_close(db);
		testutil_rmtree(dir);
		g_free(path);
		g_free(dir);
	}
}

/* The listing: outbound only, newest first, limit and since honoured. */
static void
test_sent_listing(void **state)
{
	char *dir = testutil_tmpdir(), *path = g_build_filename(dir, "spool.db", NULL);
	GError *e = NULL;
	crm_db *db = db_open(path, 1000, &e);
	GPtrArray *rows;

	(void)state;
	assert_non_null(db);
	store(db, "a", "outbound", "a@example.com", NULL, 1000);
	store(db, "b", "outbound", "b@example.com", NULL, 3000);
	store(db, "c", "inbound", "c@customer.test", "a@example.com", 2000);
	assert_true(ledger_add_event(db, "o1", "a@example.com", "opened", NULL, "human", NULL, 1500, &e));
	rows = rollup_sent(db, 10, 0, &e);
	assert_non_null(rows);
	assert_int_equal(rows->len, 2);
	assert_string_equal(((rollup_row *)g_ptr_array_index(rows, 0))->message_id, "b@example.com");
	rollup_row *a = g_ptr_array_index(rows, 1);
	assert_string_equal(a->message_id, "a@example.com");
	assert_string_equal(a->to, "bob@customer.test");
	assert_int_equal(a->r.opens.n, 1);
	assert_int_equal(a->r.replies.n, 1);
	g_ptr_array_unref(rows);
	rows = rollup_sent(db, 1, 0, &e);
	assert_int_equal(rows->len, 1);
	g_ptr_array_unref(rows);
	rows = rollup_sent(db, 10, 2000, &e);
	assert_int_equal(rows->len, 1);
	g_ptr_array_unref(rows);
	db_close(db);
	testutil_rmtree(dir);
	g_free(path);
	g_free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_sent_listing),
	};
	return cmocka_run_group_tests_name("rollup", tests, NULL, NULL);
}

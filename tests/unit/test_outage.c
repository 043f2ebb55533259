/*
 * test_outage.c - when a repeating failure is logged (core/outage.c):
 * a timeline of failures and successes, each step with what the caller
 * must do.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>

#include "../../core/outage.h"

#define EVERY 60

typedef struct step {
	gint64 at;              /* time (the test's unit: seconds) */
	gboolean ok;            /* a success, else a failure */
	gint64 want;            /* failure: 1 log, 0 quiet; success: the outage's length, -1 none */
	guint64 unlogged;       /* failure logged: failures not logged before it */
	guint64 failures;       /* after the step */
} step;

/* failing from 10 to 190, working at 191, failing again at 300 */
static const step timeline[] = {
	{ 0, TRUE, -1, 0, 0 },               /* no outage: nothing to say */
	{ 10, FALSE, 1, 0, 1 },              /* the first failure is logged */
	{ 11, FALSE, 0, 0, 2 },
	{ 69, FALSE, 0, 0, 3 },              /* 59 s later: still quiet */
	{ 70, FALSE, 1, 2, 4 },              /* a minute on: logged, the 2 before not */
	{ 71, FALSE, 0, 0, 5 },
	{ 130, FALSE, 1, 1, 6 },             /* one quiet failure in that minute */
	{ 190, FALSE, 1, 0, 7 },             /* none in this one */
	{ 191, TRUE, 181, 0, 7 },            /* ends: it lasted 181 s, 7 failures */
	{ 192, TRUE, -1, 0, 7 },             /* over: nothing more */
	{ 300, FALSE, 1, 0, 1 },             /* a new outage starts afresh */
	{ 300, TRUE, 0, 0, 1 },              /* and may end at once */
};

static void
test_timeline(void **state)
{
	outage o = { 0 };

	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(timeline); i++) {
		const step *s = &timeline[i];

		if (s->ok) {
			assert_int_equal(outage_ok(&o, s->at), s->want);
		} else {
			assert_int_equal(outage_fail(&o, s->at, EVERY), s->want);
			if (s->want)
				assert_int_equal(o.unlogged, s->unlogged);
		}
		assert_int_equal(o.failures, s->failures);
	}
}

/* A clock that steps back cannot make a negative length. */
static void
test_clock_back(void **state)
{
	outage o = { 0 };

	(void)state;
	assert_true(outage_fail(&o, 100, EVERY));
	assert_int_equal(outage_ok(&o, 50), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeline),
		cmocka_unit_test(test_clock_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

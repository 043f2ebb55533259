/*
 * test_bursts.c - recent clicks per message for the burst check
 * (core/bursts.c): counting different links within the window, pruning,
 * and the bound on what one message can make it keep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>

#include "../../core/bursts.h"

#define S G_USEC_PER_SEC
#define T0 ((gint64)1795000000 * S)

/* Different links within the span, both sides; other messages apart. */
static void
test_count(void **state)
{
	bursts *b = bursts_new();

	(void)state;
	assert_int_equal(bursts_links(b, "aa", T0, 10 * S), 1);    /* none noted: the click itself */
	bursts_note(b, "aa", T0, 1);
	bursts_note(b, "aa", T0 + 1 * S, 2);
	bursts_note(b, "aa", T0 + 2 * S, 2);                      /* the same link again */
	bursts_note(b, "aa", T0 + 9 * S, 3);
	bursts_note(b, "bb", T0, 7);
	assert_int_equal(bursts_links(b, "aa", T0, 10 * S), 3);
	assert_int_equal(bursts_links(b, "aa", T0, 5 * S), 2);     /* link 3 is 9 s later */
	assert_int_equal(bursts_links(b, "aa", T0 + 9 * S, 5 * S), 1);
	assert_int_equal(bursts_links(b, "bb", T0, 10 * S), 1);
	assert_int_equal(bursts_marks(b, "aa"), 4);
	bursts_free(b);
	assert_null(bursts_free(NULL));
}

/* Old clicks go, and a message with none is forgotten. */
static void
test_prune(void **state)
{
	bursts *b = bursts_new();

	(void)state;
	bursts_note(b, "aa", T0, 1);
	bursts_note(b, "aa", T0 + 5 * S, 2);
	bursts_note(b, "bb", T0, 1);
	bursts_prune(b, T0 + 1 * S);
	assert_int_equal(bursts_marks(b, "aa"), 1);
	assert_int_equal(bursts_marks(b, "bb"), 0);
	assert_int_equal(bursts_links(b, "aa", T0 + 5 * S, 10 * S), 1);
	bursts_free(b);
}

/* One click URL replayed in a loop keeps at most BURSTS_MARKS_MAX marks;
 * the newest are kept, so a real burst right after it still counts. */
static void
test_replay_bounded(void **state)
{
	bursts *b = bursts_new();

	(void)state;
	for (gint64 i = 0; i < 100000; i++)
		bursts_note(b, "aa", T0 + i, 1);
	assert_int_equal(bursts_marks(b, "aa"), BURSTS_MARKS_MAX);
	bursts_note(b, "aa", T0 + 1 * S, 2);
	bursts_note(b, "aa", T0 + 1 * S, 3);
	assert_int_equal(bursts_marks(b, "aa"), BURSTS_MARKS_MAX);
	assert_int_equal(bursts_links(b, "aa", T0 + 1 * S, 2 * S), 3);
	/* a burst, then one of its links replayed past the bound: the
	 * burst's other links are kept */
	bursts_note(b, "bb", T0, 1);
	bursts_note(b, "bb", T0, 2);
	bursts_note(b, "bb", T0, 3);
	for (gint64 i = 0; i < 1000; i++)
		bursts_note(b, "bb", T0 + 1 + i, 1);
	assert_int_equal(bursts_marks(b, "bb"), BURSTS_MARKS_MAX);
	assert_int_equal(bursts_links(b, "bb", T0, 10 * S), 3);
	/* every mark a different link: still counted right at the bound */
	for (guint i = 0; i < 2 * BURSTS_MARKS_MAX; i++)
		bursts_note(b, "cc", T0, i);
	assert_int_equal(bursts_links(b, "cc", T0, S), BURSTS_MARKS_MAX);
	bursts_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_replay_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

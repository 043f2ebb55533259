/*
 * test_quota.c - events per key per time bucket (core/quota.c): the
 * bound, a new bucket, giving back, keys apart, no limit, the clock
 * stepping back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>

#include "../../core/quota.h"

static void
test_bound(void **state)
{
	quota *q = quota_new();
	gint64 in;

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_true(quota_take(q, "aa", 10, 3, &in));
		assert_int_equal(in, 10);
	}
	assert_false(quota_take(q, "aa", 10, 3, &in));     /* the fourth in the hour */
	assert_int_equal(in, QUOTA_NONE);
	assert_false(quota_take(q, "aa", 10, 3, &in));
	assert_true(quota_take(q, "bb", 10, 3, &in));      /* another message */
	assert_true(quota_take(q, "aa", 10, 0, &in));      /* 0: no limit, nothing counted */
	assert_int_equal(in, QUOTA_NONE);
	assert_true(quota_take(q, "aa", 11, 3, &in));      /* the next hour starts afresh */
	assert_true(quota_take(q, "aa", 11, 3, &in));
	assert_true(quota_take(q, "aa", 10, 3, &in));      /* clock back: counts in hour 11 */
	assert_int_equal(in, 11);
	assert_false(quota_take(q, "aa", 11, 3, &in));
	quota_free(q);
	assert_null(quota_free(NULL));
}

static void
test_give_back(void **state)
{
	quota *q = quota_new();
	gint64 in, back_in;

	(void)state;
	assert_true(quota_take(q, "aa", 10, 2, &in));
	assert_true(quota_take(q, "aa", 10, 2, &in));
	assert_false(quota_take(q, "aa", 10, 2, &back_in));
	quota_give_back(q, "aa", back_in);                 /* not counted: nothing to give */
	assert_false(quota_take(q, "aa", 10, 2, &back_in));
	quota_give_back(q, "aa", in);                      /* not written: its count back */
	assert_true(quota_take(q, "aa", 10, 2, &in));
	assert_false(quota_take(q, "aa", 10, 2, &back_in));
	quota_give_back(q, "aa", 9);                       /* an hour that is over: nothing */
	assert_false(quota_take(q, "aa", 10, 2, &back_in));
	quota_give_back(q, "zz", 10);                      /* never taken: nothing */
	assert_true(quota_take(q, "zz", 10, 1, &in));
	assert_false(quota_take(q, "zz", 10, 1, &back_in));
	/* the clock steps back: what was counted in hour 10 is given back there */
	assert_true(quota_take(q, "cc", 9, 1, &in));
	assert_int_equal(in, 10);
	quota_give_back(q, "cc", in);
	assert_true(quota_take(q, "cc", 9, 1, &in));
	/* taken in hour 10, given back in hour 11: nothing (11 starts afresh) */
	assert_true(quota_take(q, "dd", 11, 1, &back_in));
	quota_give_back(q, "cc", in);
	assert_false(quota_take(q, "dd", 11, 1, &back_in));
	quota_free(q);
}

/* At most QUOTA_KEYS_MAX keys are counted: one more starts afresh. */
static void
test_keys_bounded(void **state)
{
	quota *q = quota_new();
	gint64 in;
	char key[32];

	(void)state;
	assert_true(quota_take(q, "first", 10, 1, &in));
	assert_false(quota_take(q, "first", 10, 1, &in));
	for (guint i = 1; i < QUOTA_KEYS_MAX; i++) {
		g_snprintf(key, sizeof(key), "k%u", i);
		assert_true(quota_take(q, key, 10, 1, &in));
	}
	assert_false(quota_take(q, "first", 10, 1, &in));      /* still counted */
	assert_true(quota_take(q, "one-more", 10, 1, &in));    /* the table was full */
	assert_true(quota_take(q, "first", 10, 1, &in));       /* counts started afresh */
	quota_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_give_back),
		cmocka_unit_test(test_keys_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

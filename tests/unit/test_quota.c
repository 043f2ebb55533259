/*
 * test_quota.c - events per key per time bucket (core/quota.c): the
 * bound, a new bucket, giving back, keys apart, no limit.
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

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(quota_take(q, "aa", 10, 3));
	assert_false(quota_take(q, "aa", 10, 3));       /* the fourth in the hour */
	assert_false(quota_take(q, "aa", 10, 3));
	assert_true(quota_take(q, "bb", 10, 3));        /* another message */
	assert_true(quota_take(q, "aa", 10, 0));        /* 0: no limit */
	assert_true(quota_take(q, "aa", 11, 3));        /* the next hour starts afresh */
	assert_true(quota_take(q, "aa", 11, 3));
	assert_true(quota_take(q, "aa", 10, 3));        /* clock back: counts in hour 11 */
	assert_false(quota_take(q, "aa", 11, 3));
	quota_free(q);
	assert_null(quota_free(NULL));
}

static void
test_give_back(void **state)
{
	quota *q = quota_new();

	(void)state;
	assert_true(quota_take(q, "aa", 10, 2));
	assert_true(quota_take(q, "aa", 10, 2));
	assert_false(quota_take(q, "aa", 10, 2));
	quota_give_back(q, "aa", 10);                   /* not written: its count back */
	assert_true(quota_take(q, "aa", 10, 2));
	assert_false(quota_take(q, "aa", 10, 2));
	quota_give_back(q, "aa", 9);                    /* an hour that is over: nothing */
	assert_false(quota_take(q, "aa", 10, 2));
	quota_give_back(q, "zz", 10);                   /* never taken: nothing */
	assert_true(quota_take(q, "zz", 10, 1));
	assert_false(quota_take(q, "zz", 10, 1));
	quota_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_give_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

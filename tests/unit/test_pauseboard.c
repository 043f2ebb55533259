/*
 * test_pauseboard.c - Retry-After pauses shared through the spool's pause
 * board (core/crm/pauseboard.c): seen by a second opener (another
 * flusher), kept when the process that set it is killed with SIGKILL right
 * after, a later pause kept over an earlier one, names too long or a full
 * board falling back to no shared pause, and a limiter attached to the
 * board obeying a pause set elsewhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "crm/limiter.h"
#include "crm/pauseboard.h"
#include "testutil.h"

typedef struct fixture {
	char *dir, *spool;
} fixture;

static int
setup(void **state)
{
	fixture *f = g_new0(fixture, 1);

	f->dir = testutil_tmpdir();
	f->spool = g_build_filename(f->dir, "spool.db", NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	testutil_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->spool);
	g_free(f);
	return 0;
}

/* Two openers share pauses; the later one wins; unknown names are 0. */
static void
test_shared(void **state)
{
	fixture *f = *state;
	pauseboard *a = pauseboard_open(f->spool, NULL), *b = pauseboard_open(f->spool, NULL);
	char *path = g_strdup_printf("%s.pauses", f->spool);
	struct stat st;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(pauseboard_until(a, "hubspot"), 0);
	pauseboard_set(a, "hubspot", 5000000);
	assert_int_equal(pauseboard_until(b, "hubspot"), 5000000);
	pauseboard_set(b, "hubspot", 4000000);           /* earlier: ignored */
	assert_int_equal(pauseboard_until(a, "hubspot"), 5000000);
	pauseboard_set(b, "hubspot", 9000000);
	assert_int_equal(pauseboard_until(a, "hubspot"), 9000000);
	assert_int_equal(pauseboard_until(a, "zoho"), 0);
	assert_int_equal(pauseboard_until(NULL, "zoho"), 0);
	pauseboard_close(a);
	pauseboard_close(b);
	g_free(path);
}

/* A process that pauses and is killed at once: the pause is there. */
static void
test_survives_sigkill(void **state)
{
	fixture *f = *state;
	pauseboard *b;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		pauseboard *c = pauseboard_open(f->spool, NULL);
		if (c == NULL)
			_exit(3);
		pauseboard_set(c, "dynamics", 123456789);
		raise(SIGKILL);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	b = pauseboard_open(f->spool, NULL);
	assert_int_equal(pauseboard_until(b, "dynamics"), 123456789);
	pauseboard_close(b);
}

/* Names that do not fit, a full board: no shared pause, no harm. */
static void
test_limits(void **state)
{
	fixture *f = *state;
	pauseboard *b = pauseboard_open(f->spool, NULL);
	char longname[PAUSEBOARD_NAME_MAX + 10];

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	pauseboard_set(b, longname, 42);
	assert_int_equal(pauseboard_until(b, longname), 0);
	for (int i = 0; i < PAUSEBOARD_SLOTS + 5; i++) {
		char *n = g_strdup_printf("profile-%d", i);
		pauseboard_set(b, n, 1000 + i);
		if (i < PAUSEBOARD_SLOTS)
			assert_int_equal(pauseboard_until(b, n), 1000 + i);
		else
			assert_int_equal(pauseboard_until(b, n), 0);
		g_free(n);
	}
	pauseboard_close(b);
}

/* A limiter on the board obeys a pause another flusher set, and stores its own. */
static void
test_limiter(void **state)
{
	fixture *f = *state;
	pauseboard *mine = pauseboard_open(f->spool, NULL), *other = pauseboard_open(f->spool, NULL);
	crm_limiter *l = limiter_new(0);
	int paused = 0;

	limiter_attach_board(l, mine, "crm");
	assert_true(limiter_wait(l, 0, &paused));
	pauseboard_set(other, "crm", g_get_real_time() + 5 * G_USEC_PER_SEC);
	assert_false(limiter_wait(l, 100, &paused));
	assert_true(paused >= 4 && paused <= 5);
	assert_true(limiter_paused_for(l) >= 4);
	limiter_free(l);
	l = limiter_new(0);
	limiter_attach_board(l, mine, "other");
	limiter_pause(l, 7);
	assert_true(pauseboard_until(other, "other") >= g_get_real_time() + 6 * G_USEC_PER_SEC);
	limiter_free(l);
	pauseboard_close(mine);
	pauseboard_close(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_survives_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limiter, setup, teardown),
	};
	return cmocka_run_group_tests_name("pauseboard", tests, NULL, NULL);
}

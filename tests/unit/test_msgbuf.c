/*
 * test_msgbuf.c - the message buffer: memory up to the cap, spill to an
 * unlinked temp file beyond it, refusal past the maximum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "msgbuf.h"
#include "testutil.h"

typedef struct {
	const char *label;
	gsize mem_cap, max_size;
	gsize chunk, nchunks;
	msgbuf_status want_last;
	gboolean want_spilled;
	gsize want_len;
} buf_case;

static const buf_case cases[] = {
	{ "small message stays in memory", 1024, 4096, 100, 5, MSGBUF_OK, FALSE, 500 },
	{ "exactly the cap stays in memory", 1000, 4096, 100, 10, MSGBUF_OK, FALSE, 1000 },
	{ "one byte over the cap spills", 1000, 4096, 1001, 1, MSGBUF_OK, TRUE, 1001 },
	{ "many chunks spill part way", 1000, 100000, 300, 20, MSGBUF_OK, TRUE, 6000 },
	{ "exactly the maximum is kept", 100, 1000, 100, 10, MSGBUF_OK, TRUE, 1000 },
	{ "past the maximum is refused", 100, 1000, 100, 11, MSGBUF_TOO_BIG, TRUE, 1000 },
};

/* Fill with a byte pattern that depends on the offset. */
static void
pattern(guint8 *p, gsize off, gsize n)
{
	for (gsize i = 0; i < n; i++)
		p[i] = (guint8)((off + i) * 7 + 3);
}

/* Each case ends in the right place and the content reads back intact. */
static void
test_table(void **state)
{
	char *dir = testutil_tmpdir();

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const buf_case *c = &cases[i];
		msgbuf *mb = msgbuf_new(c->mem_cap, c->max_size, dir);
		guint8 *chunk = g_malloc(c->chunk);
		msgbuf_status st = MSGBUF_OK;
		const guint8 *data;
		gsize len, off = 0;

		for (gsize k = 0; k < c->nchunks; k++) {
			pattern(chunk, off, c->chunk);
			st = msgbuf_append(mb, chunk, c->chunk, NULL);
			if (st == MSGBUF_OK)
				off += c->chunk;
		}
		if (st != c->want_last || msgbuf_spilled(mb) != c->want_spilled ||
		    msgbuf_len(mb) != c->want_len)
			fail_msg("%s: status %d spilled %d len %zu", c->label, st,
			    msgbuf_spilled(mb), msgbuf_len(mb));
		data = msgbuf_data(mb, &len, NULL);
		assert_non_null(data);
		assert_int_equal(len, c->want_len);
		guint8 *want = g_malloc(len + 1);
		pattern(want, 0, len);
		if (memcmp(data, want, len) != 0)
			fail_msg("%s: content differs", c->label);
		g_free(want);
		g_free(chunk);
		msgbuf_free(mb);
	}
	/* spill files are unlinked at once: the directory stays empty */
	GDir *d = g_dir_open(dir, 0, NULL);
	assert_null(g_dir_read_name(d));
	g_dir_close(d);
	testutil_rmtree(dir);
	g_free(dir);
}

/* Once too big, it stays too big. */
static void
test_too_big_sticks(void **state)
{
	msgbuf *mb = msgbuf_new(10, 20, NULL);

	assert_int_equal(msgbuf_append(mb, "0123456789012345678901", 21, NULL), MSGBUF_TOO_BIG);
	assert_int_equal(msgbuf_append(mb, "x", 1, NULL), MSGBUF_TOO_BIG);
	assert_int_equal(msgbuf_len(mb), 0);
	msgbuf_free(mb);
}

/* A spill directory that does not exist is an error, not a crash. */
static void
test_spill_error(void **state)
{
	msgbuf *mb = msgbuf_new(4, 100, "/nonexistent/crm-test-dir");
	GError *e = NULL;

	assert_int_equal(msgbuf_append(mb, "0123456789", 10, &e), MSGBUF_ERROR);
	assert_non_null(e);
	assert_non_null(strstr(e->message, "/nonexistent/crm-test-dir"));
	g_error_free(e);
	msgbuf_free(mb);
	assert_null(msgbuf_free(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_too_big_sticks),
		cmocka_unit_test(test_spill_error),
	};

	return cmocka_run_group_tests_name("msgbuf", tests, NULL, NULL);
}

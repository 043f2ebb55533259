/*
 * testutil.c - shared test helpers. See testutil.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "testutil.h"

/* Write text to a temp file and load it; the test fails on errors. */
crm_config *
testutil_config(const char *fmt, ...)
{
	va_list ap;
	char *text, *path = NULL;
	GPtrArray *errors = NULL;
	crm_config *cfg;
	int fd;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fd = g_file_open_tmp("crm-test-XXXXXX.conf", &path, NULL);
	assert_true(fd >= 0);
	close(fd);
	assert_true(g_file_set_contents(path, text, -1, NULL));
	cfg = config_load(path, &errors);
	if (cfg == NULL) {
		for (guint i = 0; errors != NULL && i < errors->len; i++)
			print_error("%s\n", (char *)g_ptr_array_index(errors, i));
		fail_msg("config did not load:\n%s", text);
	}
	g_unlink(path);
	g_free(path);
	g_free(text);
	return cfg;
}

/* A scratch directory. */
char *
testutil_tmpdir(void)
{
	char *d = g_dir_make_tmp("crm-test-XXXXXX", NULL);

	assert_non_null(d);
	return d;
}

/* rm -r dir (one level of subdirectories is enough for our tests). */
void
testutil_rmtree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, name, NULL);
		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			testutil_rmtree(p);
		else
			g_unlink(p);
		g_free(p);
	}
	g_dir_close(d);
	g_rmdir(dir);
}

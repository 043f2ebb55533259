/*
 * test_token_keys.c - the tracking key file (token_ring_from_text and
 * token_ring_load: errors as "file:line: message", permissions), keygen
 * lines and tracking ids. See test_token.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <glib/gstdio.h>

#include "testutil.h"
#include "test_token.h"

/* ------------------------------------------------------------ key file */

typedef struct {
	const char *label;
	const char *text;
	const char *want;           /* error prefix; NULL: loads */
	const char *first_kid;      /* when it loads: the kid that signs */
} keyfile_case;

static const keyfile_case keyfile_cases[] = {
	{ "one key", "k1 " S1 "\n", NULL, "k1" },
	{ "comments, blanks, CRLF, tabs, no final newline",
	  "# tracking keys\r\n\r\n  # rotated 2026-11\r\n\tnew-key_2\t " S2 " \r\nk1 " S1,
	  NULL, "new-key_2" },
	{ "16-character key id", "abcdefghijklmnop " S1 "\n", NULL, "abcdefghijklmnop" },
	{ "48-byte secret", "k1 yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6err7O3u7/Dx8vP09fb3\n", NULL, "k1" },
	{ "empty file", "", "keys: no keys", NULL },
	{ "only comments", "# none yet\n\n", "keys: no keys", NULL },
	{ "key id alone", "k1\n", "keys:1: expected \"<key id> <base64 secret>\"", NULL },
	{ "third field", "k1 " S1 " extra\n", "keys:1: unexpected text after the secret", NULL },
	{ "trailing comment", "k1 " S1 " # main\n", "keys:1: unexpected text after the secret", NULL },
	{ "key id with a dot", "\nk.1 " S1 "\n", "keys:2: key id \"k.1\" must be 1 to 16", NULL },
	{ "key id of 17 characters", "abcdefghijklmnopq " S1 "\n",
	  "keys:1: key id \"abcdefghijklmnopq\" must be 1 to 16", NULL },
	{ "secret of 31 bytes", "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",
	  "keys:1: secret is 31 bytes, at least 32 are needed", NULL },
	{ "secret in the url alphabet", "k1 " S1 "\nk2 ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoM=\n",
	  "keys:2: secret is not valid base64", NULL },
	{ "secret without its padding", "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
	  "keys:1: secret is not valid base64", NULL },
	{ "secret with stray bits", "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n",
	  "keys:1: secret is not valid base64", NULL },
	{ "duplicate key id", "k1 " S1 "\n# old\nk1 " S2 "\n", "keys:3: duplicate key id \"k1\"", NULL },
	{ "error after good lines names its line", "k1 " S1 "\nk2 " S2 "\n\n\nk3 short\n",
	  "keys:5: secret is not valid base64", NULL },
};

/* Key-file text loads, or fails with "NAME:LINE: message". */
void
test_keyfile(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < G_N_ELEMENTS(keyfile_cases); i++) {
		const keyfile_case *c = &keyfile_cases[i];
		GError *e = NULL;
		token_ring *r = token_ring_from_text(c->text, "keys", &e);

		print_message("key file: %s\n", c->label);
		if (c->want != NULL) {
			assert_null(r);
			assert_non_null(e);
			if (!g_str_has_prefix(e->message, c->want))
				fail_msg("got \"%s\", want \"%s...\"", e->message, c->want);
			g_error_free(e);
		} else {
			token_info info;
			char *url;

			assert_non_null(r);
			assert_null(e);
			url = token_open_url(r, BASE, ID1);
			assert_true(token_verify_path(r, tt_path_of(url), &info));
			assert_string_equal(info.kid, c->first_kid);
			token_info_clear(&info);
			g_free(url);
			token_ring_free(r);
		}
	}
	assert_null(token_ring_free(NULL));
}

typedef struct {
	const char *label;
	mode_t mode;
	const char *want;           /* substring of the error; NULL: loads */
} perm_case;

static const perm_case perm_cases[] = {
	{ "owner only", 0600, NULL },
	{ "owner and group (milter and tracker share a group)", 0640, NULL },
	{ "owner read-only", 0400, NULL },
	{ "world-readable", 0644, "open to others (mode 0644)" },
	{ "world-writable only", 0602, "open to others (mode 0602)" },
	{ "world-executable only", 0601, "open to others (mode 0601)" },
	{ "group-writable", 0660, "writable by its group (mode 0660)" },
};

/* token_ring_load refuses a key file others may use. */
void
test_keyfile_perms(void **state)
{
	char *dir = testutil_tmpdir(), *path = g_build_filename(dir, "tracking.keys", NULL);
	char *big;
	GError *e = NULL;
	token_ring *r;
	size_t i;

	(void)state;
	assert_true(g_file_set_contents(path, "# keys\nk1 " S1 "\n", -1, NULL));
	for (i = 0; i < G_N_ELEMENTS(perm_cases); i++) {
		const perm_case *c = &perm_cases[i];

		print_message("permissions: %s\n", c->label);
		assert_int_equal(g_chmod(path, (int)c->mode), 0);
		r = token_ring_load(path, &e);
		if (c->want == NULL) {
			assert_non_null(r);
			token_ring_free(r);
		} else {
			assert_null(r);
			assert_true(g_str_has_prefix(e->message, path));
			if (strstr(e->message, c->want) == NULL)
				fail_msg("got \"%s\", want \"%s\"", e->message, c->want);
			g_clear_error(&e);
		}
	}
	/* line numbers carry the file name */
	assert_true(g_file_set_contents(path, "k1 " S1 "\nk1 " S2 "\n", -1, NULL));
	assert_int_equal(g_chmod(path, 0600), 0);
	assert_null(token_ring_load(path, &e));
	assert_true(g_str_has_prefix(e->message, path));
	assert_true(g_str_has_prefix(e->message + strlen(path), ":2: duplicate key id"));
	g_clear_error(&e);
	/* too large, a directory, missing */
	big = g_strnfill(70000, '#');
	assert_true(g_file_set_contents(path, big, -1, NULL));
	assert_int_equal(g_chmod(path, 0600), 0);
	assert_null(token_ring_load(path, &e));
	assert_non_null(strstr(e->message, "larger than"));
	g_clear_error(&e);
	assert_int_equal(g_chmod(dir, 0700), 0);
	assert_null(token_ring_load(dir, &e));
	assert_non_null(strstr(e->message, "not a regular file"));
	g_clear_error(&e);
	/* a FIFO in the file's place is refused at once, not waited on (the
	 * alarm turns a hang into a failure) */
	g_unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5);
	assert_null(token_ring_load(path, &e));
	alarm(0);
	assert_non_null(strstr(e->message, "not a regular file"));
	g_clear_error(&e);
	g_unlink(path);
	assert_null(token_ring_load(path, &e));
	assert_true(g_str_has_prefix(e->message, path));
	g_clear_error(&e);
	g_free(big);
	testutil_rmtree(dir);
	g_free(path);
	g_free(dir);
}

/* ------------------------------------------------------ keygen and ids */

typedef struct {
	const char *label;
	const char *kid;
	gboolean want;
} keygen_case;

static const keygen_case keygen_cases[] = {
	{ "random key id", NULL, TRUE },
	{ "dated key id", "2026-11", TRUE },
	{ "16 characters", "abcdefghij_-0123", TRUE },
	{ "17 characters", "abcdefghij_-01234", FALSE },
	{ "empty", "", FALSE },
	{ "space", "k 1", FALSE },
	{ "slash", "k/1", FALSE },
};

/* keygen prints a line the key file accepts, with 32 fresh bytes. */
void
test_keygen(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < G_N_ELEMENTS(keygen_cases); i++) {
		const keygen_case *c = &keygen_cases[i];
		char *line = token_keygen_line(c->kid), *again, **f;
		guint8 *secret;
		gsize n;
		token_ring *r;

		print_message("keygen: %s\n", c->label);
		assert_int_equal(line != NULL, c->want);
		if (line == NULL)
			continue;
		f = g_strsplit(line, " ", -1);
		assert_int_equal(g_strv_length(f), 2);
		if (c->kid != NULL)
			assert_string_equal(f[0], c->kid);
		else
			assert_int_equal(strlen(f[0]), 6);
		secret = g_base64_decode(f[1], &n);
		assert_int_equal(n, TOKEN_KEY_MIN);
		r = tt_ring(line);
		again = token_keygen_line(c->kid);
		assert_string_not_equal(line, again);
		token_ring_free(r);
		g_free(secret);
		g_strfreev(f);
		g_free(again);
		g_free(line);
	}
}

/* Ids are TOKEN_ID_LEN fresh bytes. */
void
test_new_id(void **state)
{
	guint8 a[TOKEN_ID_LEN], b[TOKEN_ID_LEN], zero[TOKEN_ID_LEN] = { 0 };

	(void)state;
	token_new_id(a);
	token_new_id(b);
	assert_memory_not_equal(a, b, TOKEN_ID_LEN);
	assert_memory_not_equal(a, zero, TOKEN_ID_LEN);
}


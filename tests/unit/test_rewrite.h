/*
 * test_rewrite.h - what the rewrite test files share: the tracker base
 * URL, the key, the message's tracking id, quoted-printable input, and the
 * test data files, and the test functions of test_rewrite_quoted.c and
 * test_rewrite_limits.c.
 *
 * Ownership: tr_data_file returns a new array (g_byte_array_unref);
 * tr_file_targets points into the test table.
 *
 * Public: BASE, KEYS, track_id, tr_qp_crlf, tr_data_file, tr_file_targets,
 *         test_old_pixel, test_qp_soft_lines, test_qp_layouts,
 *         test_qp_two_links_a_line, test_qp_pixel_after_full_line,
 *         test_truncated, test_limits.
 */
#ifndef CRM_TEST_REWRITE_H
#define CRM_TEST_REWRITE_H

#include <glib.h>

#include "token.h"

#define BASE "https://t.example.com"
#define KEYS "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

extern const guint8 track_id[TOKEN_ID_LEN];

/* text[0..n) as GMime's quoted-printable, appended to out; crlf: line ends
 * as CRLF (GMime writes LF). */
void tr_qp_crlf(const char *text, gsize n, gboolean crlf, GString *out);

/* The bytes of tests/data/FILE (the test fails when it cannot be read). */
GByteArray *tr_data_file(const char *file);
/* The link targets, in document order, of the test_rewrite.c row that
 * reads tests/data/FILE (the test fails when there is none). */
const char *const *tr_file_targets(const char *file);

void test_old_pixel(void **state);
void test_qp_soft_lines(void **state);
void test_qp_layouts(void **state);
void test_qp_two_links_a_line(void **state);
void test_qp_pixel_after_full_line(void **state);
void test_truncated(void **state);
void test_limits(void **state);

#endif

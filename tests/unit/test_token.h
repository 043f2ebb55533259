/*
 * test_token.h - what the token test files share: fixed secrets and ids,
 * helpers that take tokens apart and put them back together (base64url
 * done here independently of core/token.c), and the test functions.
 *
 * Public: tt_ring, tt_path_of, tt_enc, tt_dec, tt_split, tt_join, ID1, ID2,
 *         the test_* functions.
 */
#ifndef CRM_TEST_TOKEN_H
#define CRM_TEST_TOKEN_H

#include <glib.h>

#include "token.h"

/* bytes 0..31, 100..131, 0xa5 x 32 (standard base64) */
#define S1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define S2 "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="
#define S3 "paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU="
#define BASE "https://t.example.com"

extern const guint8 ID1[TOKEN_ID_LEN];
extern const guint8 ID2[TOKEN_ID_LEN];

/* A ring from text; the test fails when it does not load. */
token_ring *tt_ring(const char *text);
/* The path part of a URL made with BASE. */
const char *tt_path_of(const char *url);
/* base64url without padding, and back (new buffers). */
char *tt_enc(const guint8 *data, gsize n);
guint8 *tt_dec(const char *s, gsize n, gsize *out_len);
/* A path's token and (clicks) target segment, as new strings. */
void tt_split(const char *path, char **tok, char **tgt);
/* "/o/{tok}.gif" or "/c/{tok}/{tgt}" from raw token bytes. */
char *tt_join(char kind, const guint8 *raw, gsize n, const char *tgt);

/* test_token.c */
void test_round_trip(void **state);
void test_hand_made(void **state);
void test_rotation(void **state);
void test_targets(void **state);
/* test_token_forge.c */
void test_paths(void **state);
void test_bit_flips(void **state);
void test_truncate_extend(void **state);
void test_non_canonical(void **state);
void test_splices(void **state);
/* test_token_keys.c */
void test_keyfile(void **state);
void test_keyfile_perms(void **state);
void test_keygen(void **state);
void test_new_id(void **state);

#endif

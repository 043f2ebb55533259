/*
 * test_token.c - tracking tokens (core/token.c), table-driven; this file:
 * open and click round trips (targets with &, IDN hosts, percent-encoding
 * and unicode survive byte for byte), tokens built here by hand from the
 * documented format with this file's own HMAC (so the format is pinned,
 * and rejections behind a valid MAC are reached), key rotation, and which
 * click targets are signed. test_token_forge.c: every path shape the
 * tracker must refuse, a flipped bit in every byte, every truncation and
 * extension, spliced MACs and targets. test_token_keys.c: the key file's
 * errors (file:line) and permissions, keygen, ids.
 *
 * Secrets are fixed bytes, so every case is exact; only keygen and
 * token_new_id use the random source, and their tests check shape.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "test_token.h"

const guint8 ID1[TOKEN_ID_LEN] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb };
const guint8 ID2[TOKEN_ID_LEN] = { 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa,
    0x99, 0x88, 0x77, 0x66, 0x55, 0x44 };

/* A ring from text; the test fails when it does not load. */
token_ring *
tt_ring(const char *text)
{
	GError *e = NULL;
	token_ring *r = token_ring_from_text(text, "keys", &e);

	if (r == NULL)
		fail_msg("ring did not load: %s", e->message);
	return r;
}

/* The path part of a URL made with BASE. */
const char *
tt_path_of(const char *url)
{
	assert_true(g_str_has_prefix(url, BASE "/"));
	return url + strlen(BASE);
}

/* base64url without padding (test's own, from GLib's standard one). */
char *
tt_enc(const guint8 *data, gsize n)
{
	GString *s = g_string_new(NULL);
	char *b = g_base64_encode(data, n), *p;

	for (p = b; *p != '\0' && *p != '='; p++)
		g_string_append_c(s, *p == '+' ? '-' : *p == '/' ? '_' : *p);
	g_free(b);
	return g_string_free(s, FALSE);
}

/* Decode base64url s[0..n) (assumed valid here). */
guint8 *
tt_dec(const char *s, gsize n, gsize *out_len)
{
	GString *t = g_string_new_len(s, (gssize)n);
	guint8 *out;
	gsize i;

	for (i = 0; i < t->len; i++)
		t->str[i] = t->str[i] == '-' ? '+' : t->str[i] == '_' ? '/' : t->str[i];
	while (t->len % 4 != 0)
		g_string_append_c(t, '=');
	out = g_base64_decode(t->str, out_len);
	g_string_free(t, TRUE);
	return out;
}

/* Split a path into its kind letter, token and (clicks) target segment. */
void
tt_split(const char *path, char **tok, char **tgt)
{
	const char *t = path + 3, *slash = strchr(t, '/');

	if (path[1] == 'o') {
		*tok = g_strndup(t, strlen(t) - 4);
		*tgt = NULL;
	} else {
		*tok = g_strndup(t, (gsize)(slash - t));
		*tgt = g_strdup(slash + 1);
	}
}

/* Rebuild a path from raw token bytes and an optional target segment. */
char *
tt_join(char kind, const guint8 *raw, gsize n, const char *tgt)
{
	char *tok = tt_enc(raw, n), *p;

	p = kind == 'o' ? g_strdup_printf("/o/%s.gif", tok) : g_strdup_printf("/c/%s/%s", tok, tgt);
	g_free(tok);
	return p;
}

/* ------------------------------------------------------------ round trips */

typedef struct {
	const char *label;
	token_kind kind;
	const char *base;
	guint link;
	const char *target;
	gsize token_chars;          /* length of the token segment */
} trip_case;

static const trip_case trip_cases[] = {
	{ "open pixel", TOKEN_OPEN, BASE, 0, NULL, 44 },
	{ "open, base_url with trailing slash", TOKEN_OPEN, BASE "//", 0, NULL, 44 },
	{ "click with query and &", TOKEN_CLICK, BASE, 0,
	  "https://shop.example.com/cart?item=42&qty=1&utm_source=crm#top", 46 },
	{ "click on an IDN host with a unicode path", TOKEN_CLICK, BASE, 3,
	  "https://bücher.example/straße/日本語?q=größe", 46 },
	{ "click with percent-encoding kept as written", TOKEN_CLICK, BASE, 127,
	  "https://example.com/%E2%82%AC/a%2Fb?x=%20&y=%252F", 46 },
	{ "click, punycode host and upper-case scheme", TOKEN_CLICK, BASE, 128,
	  "HTTP://XN--BCHER-KVA.EXAMPLE/Index.HTML", 47 },
	{ "click, link index 16383 (2-byte varint)", TOKEN_CLICK, BASE, 16383,
	  "http://example.org/", 47 },
	{ "click, link index 16384 (3-byte varint)", TOKEN_CLICK, BASE, 16384,
	  "http://example.org/", 48 },
	{ "click, largest link index", TOKEN_CLICK, BASE, G_MAXUINT,
	  "https://example.org/x", 51 },
	{ "click, HTML entities already decoded", TOKEN_CLICK, BASE, 9,
	  "https://example.com/?a=1&b=<2>&c=\"3\"&d='4'", 46 },
};

/* Each case signs, verifies, and gets back exactly what it signed. */
void
test_round_trip(void **state)
{
	token_ring *r = tt_ring("k1 " S1 "\nk2 " S2 "\n");
	size_t i;

	(void)state;
	for (i = 0; i < G_N_ELEMENTS(trip_cases); i++) {
		const trip_case *c = &trip_cases[i];
		token_info info;
		char *url, *tok, *tgt;

		print_message("round trip: %s\n", c->label);
		url = c->kind == TOKEN_OPEN ? token_open_url(r, c->base, ID1)
		    : token_click_url(r, c->base, ID1, c->link, c->target);
		assert_non_null(url);
		assert_true(g_str_has_prefix(url, c->kind == TOKEN_OPEN ? BASE "/o/" : BASE "/c/"));
		tt_split(tt_path_of(url), &tok, &tgt);
		assert_int_equal(strlen(tok), c->token_chars);
		assert_true(token_verify_path(r, tt_path_of(url), &info));
		assert_int_equal(info.kind, c->kind);
		assert_string_equal(info.kid, "k1");
		assert_memory_equal(info.id, ID1, TOKEN_ID_LEN);
		assert_int_equal(info.link, c->link);
		if (c->target == NULL)
			assert_null(info.target);
		else
			assert_string_equal(info.target, c->target);
		token_info_clear(&info);
		assert_null(info.target);
		assert_true(token_verify_path(r, tt_path_of(url), NULL));
		g_free(tok);
		g_free(tgt);
		g_free(url);
	}
	token_ring_free(r);
}

/* --------------------------------------- tokens built here from the format */

typedef struct {
	const char *label;
	char path_kind;             /* 'o' or 'c' */
	guint8 version, kind;
	const char *kid;
	const char *secret_b64;     /* signing secret */
	guint8 link[6];
	gsize link_len;
	const char *target;         /* NULL: open; "" + tlen: generated */
	gsize tlen;                 /* > 0: target "https://e.com/" + 'a' up to tlen */
	gboolean want;
	guint want_link;
} hand_case;

static const hand_case hand_cases[] = {
	{ "open exactly as documented", 'o', 1, 'o', "k1", S1, {0}, 0, NULL, 0, TRUE, 0 },
	{ "click exactly as documented", 'c', 1, 'c', "k1", S1, {0x96, 0x01}, 2,
	  "https://example.com/p?a=1&b=2", 0, TRUE, 150 },
	{ "click signed by the second key", 'c', 1, 'c', "k2", S2, {0x05}, 1,
	  "https://example.com/", 0, TRUE, 5 },
	{ "version 2", 'o', 2, 'o', "k1", S1, {0}, 0, NULL, 0, FALSE, 0 },
	{ "version 0", 'c', 0, 'c', "k1", S1, {0x00}, 1, "https://example.com/", 0, FALSE, 0 },
	{ "open token on the click path", 'c', 1, 'o', "k1", S1, {0}, 0,
	  "https://example.com/", 0, FALSE, 0 },
	{ "click token on the open path", 'o', 1, 'c', "k1", S1, {0x00}, 1, NULL, 0, FALSE, 0 },
	{ "kind letter unknown", 'o', 1, 'x', "k1", S1, {0}, 0, NULL, 0, FALSE, 0 },
	{ "unknown key id, right secret", 'o', 1, 'o', "k9", S1, {0}, 0, NULL, 0, FALSE, 0 },
	{ "known key id, wrong secret", 'o', 1, 'o', "k1", S3, {0}, 0, NULL, 0, FALSE, 0 },
	{ "key id with a bad character", 'o', 1, 'o', "k.", S1, {0}, 0, NULL, 0, FALSE, 0 },
	{ "link varint not shortest (0x80 0x00)", 'c', 1, 'c', "k1", S1, {0x80, 0x00}, 2,
	  "https://example.com/", 0, FALSE, 0 },
	{ "link varint over 32 bits", 'c', 1, 'c', "k1", S1, {0xff, 0xff, 0xff, 0xff, 0x1f}, 5,
	  "https://example.com/", 0, FALSE, 0 },
	{ "link varint of 6 bytes", 'c', 1, 'c', "k1", S1, {0x81, 0x80, 0x80, 0x80, 0x80, 0x00}, 6,
	  "https://example.com/", 0, FALSE, 0 },
	{ "link varint never ends", 'c', 1, 'c', "k1", S1, {0x81}, 1,
	  "https://example.com/", 0, FALSE, 0 },
	{ "largest link varint", 'c', 1, 'c', "k1", S1, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5,
	  "https://example.com/", 0, TRUE, G_MAXUINT },
	{ "signed javascript: target", 'c', 1, 'c', "k1", S1, {0x00}, 1,
	  "javascript:alert(document.cookie)", 0, FALSE, 0 },
	{ "signed ftp target", 'c', 1, 'c', "k1", S1, {0x00}, 1, "ftp://example.com/f", 0, FALSE, 0 },
	{ "signed protocol-relative target", 'c', 1, 'c', "k1", S1, {0x00}, 1, "//evil.example/", 0, FALSE, 0 },
	{ "signed target with no host", 'c', 1, 'c', "k1", S1, {0x00}, 1, "https:///etc/passwd", 0, FALSE, 0 },
	{ "signed target with CRLF (header injection)", 'c', 1, 'c', "k1", S1, {0x00}, 1,
	  "https://example.com/\r\nSet-Cookie: a=b", 0, FALSE, 0 },
	{ "signed target with a space", 'c', 1, 'c', "k1", S1, {0x00}, 1, "https://example.com/a b", 0, FALSE, 0 },
	{ "signed target with invalid UTF-8", 'c', 1, 'c', "k1", S1, {0x00}, 1, "https://example.com/\xff", 0, FALSE, 0 },
	{ "signed target of TOKEN_TARGET_MAX bytes", 'c', 1, 'c', "k1", S1, {0x00}, 1, "", TOKEN_TARGET_MAX, TRUE, 0 },
	{ "signed target one byte too long", 'c', 1, 'c', "k1", S1, {0x00}, 1, "", TOKEN_TARGET_MAX + 1, FALSE, 0 },
};

/* Build a path from a hand_case with this file's own HMAC. */
static char *
hand_path(const hand_case *c, char **target_out)
{
	GByteArray *raw = g_byte_array_new();
	guint8 kl = (guint8)strlen(c->kid), digest[32];
	gsize klen = 0, dlen = sizeof(digest);
	guint8 *key = g_base64_decode(c->secret_b64, &klen);
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, key, klen);
	char *target = NULL, *tgt = NULL, *path;

	if (c->tlen > 0) {
		target = g_malloc(c->tlen + 1);
		memcpy(target, "https://e.com/", 14);
		memset(target + 14, 'a', c->tlen - 14);
		target[c->tlen] = '\0';
	} else if (c->target != NULL)
		target = g_strdup(c->target);
	g_byte_array_append(raw, &c->version, 1);
	g_byte_array_append(raw, &c->kind, 1);
	g_byte_array_append(raw, &kl, 1);
	g_byte_array_append(raw, (const guint8 *)c->kid, kl);
	g_byte_array_append(raw, ID2, TOKEN_ID_LEN);
	g_byte_array_append(raw, c->link, (guint)c->link_len);
	g_hmac_update(h, raw->data, raw->len);
	if (target != NULL)
		g_hmac_update(h, (const guchar *)target, (gssize)strlen(target));
	g_hmac_get_digest(h, digest, &dlen);
	g_byte_array_append(raw, digest, 16);
	if (target != NULL)
		tgt = tt_enc((const guint8 *)target, strlen(target));
	path = tt_join(c->path_kind, raw->data, raw->len, tgt);
	g_hmac_unref(h);
	g_free(key);
	g_free(tgt);
	g_byte_array_free(raw, TRUE);
	*target_out = target;
	return path;
}

/* The documented format verifies; each defect behind a valid MAC fails. */
void
test_hand_made(void **state)
{
	token_ring *r = tt_ring("k1 " S1 "\nk2 " S2 "\n");
	size_t i;

	(void)state;
	for (i = 0; i < G_N_ELEMENTS(hand_cases); i++) {
		const hand_case *c = &hand_cases[i];
		token_info info;
		char *target, *path = hand_path(c, &target);
		gboolean got;

		print_message("hand-made: %s\n", c->label);
		got = token_verify_path(r, path, &info);
		assert_int_equal(got, c->want);
		if (got) {
			assert_string_equal(info.kid, c->kid);
			assert_memory_equal(info.id, ID2, TOKEN_ID_LEN);
			assert_int_equal(info.link, c->want_link);
			if (target != NULL)
				assert_string_equal(info.target, target);
		} else {
			assert_null(info.target);
			assert_int_equal(info.kid[0], '\0');
		}
		token_info_clear(&info);
		g_free(target);
		g_free(path);
	}
	token_ring_free(r);
}

/* ------------------------------------------------------------- rotation */

typedef struct {
	const char *label;
	const char *signer;         /* ring that signs */
	const char *verifier;       /* ring that verifies */
	const char *want_kid;       /* NULL: refused */
} rotate_case;

static const rotate_case rotate_cases[] = {
	{ "same ring", "k1 " S1, "k1 " S1, "k1" },
	{ "new first key added: old tokens still verify", "k1 " S1, "k2 " S2 "\nk1 " S1, "k1" },
	{ "new first key signs", "k2 " S2 "\nk1 " S1, "k2 " S2 "\nk1 " S1, "k2" },
	{ "new tokens verify where only the new key is left", "k2 " S2 "\nk1 " S1, "k2 " S2, "k2" },
	{ "old key removed: old tokens stop verifying", "k1 " S1, "k2 " S2, NULL },
	{ "unknown key id", "k1 " S1, "k9 " S1, NULL },
	{ "same key id, another secret", "k1 " S1, "k1 " S3, NULL },
};

/* Keys rotate by adding a first line and later removing the old one. */
void
test_rotation(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < G_N_ELEMENTS(rotate_cases); i++) {
		const rotate_case *c = &rotate_cases[i];
		token_ring *s = tt_ring(c->signer), *v = tt_ring(c->verifier);
		char *urls[2];
		size_t u;

		print_message("rotation: %s\n", c->label);
		urls[0] = token_open_url(s, BASE, ID1);
		urls[1] = token_click_url(s, BASE, ID1, 4, "https://example.com/");
		for (u = 0; u < 2; u++) {
			token_info info;
			gboolean ok = token_verify_path(v, tt_path_of(urls[u]), &info);

			assert_int_equal(ok, c->want_kid != NULL);
			if (ok)
				assert_string_equal(info.kid, c->want_kid);
			token_info_clear(&info);
			g_free(urls[u]);
		}
		token_ring_free(s);
		token_ring_free(v);
	}
}

/* ------------------------------------------------------ click targets */

typedef struct {
	const char *label;
	const char *target;
	gsize gen_len;              /* > 0: "https://e.com/" + 'a' up to this length */
	gboolean want;
} target_case;

static const target_case target_cases[] = {
	{ "https", "https://example.com/", 0, TRUE },
	{ "http with port and userinfo", "http://user@example.com:8080/x", 0, TRUE },
	{ "exactly TOKEN_TARGET_MAX bytes", NULL, TOKEN_TARGET_MAX, TRUE },
	{ "one byte over TOKEN_TARGET_MAX", NULL, TOKEN_TARGET_MAX + 1, FALSE },
	{ "javascript:", "javascript:alert(1)", 0, FALSE },
	{ "mailto:", "mailto:sales@example.com", 0, FALSE },
	{ "tel:", "tel:+15551234567", 0, FALSE },
	{ "ftp", "ftp://example.com/file", 0, FALSE },
	{ "fragment", "#section", 0, FALSE },
	{ "relative", "/pricing", 0, FALSE },
	{ "protocol-relative", "//example.com/", 0, FALSE },
	{ "scheme only", "https://", 0, FALSE },
	{ "no host", "http:///x", 0, FALSE },
	{ "leading space", " https://example.com/", 0, FALSE },
	{ "tab inside", "https://exa\tmple.com/", 0, FALSE },
	{ "CRLF inside", "https://example.com/\r\nLocation: https://evil.example/", 0, FALSE },
	{ "invalid UTF-8", "https://example.com/\xc3\x28", 0, FALSE },
	{ "empty", "", 0, FALSE },
};

/* token_click_url signs only http(s) targets within the limit. */
void
test_targets(void **state)
{
	token_ring *r = tt_ring("k1 " S1 "\n");
	size_t i;

	(void)state;
	for (i = 0; i < G_N_ELEMENTS(target_cases); i++) {
		const target_case *c = &target_cases[i];
		char *t = c->target != NULL ? g_strdup(c->target) : g_malloc0(c->gen_len + 1);
		token_info info;
		char *url;

		print_message("target: %s\n", c->label);
		if (c->target == NULL) {
			memcpy(t, "https://e.com/", 14);
			memset(t + 14, 'a', c->gen_len - 14);
		}
		url = token_click_url(r, BASE, ID1, 0, t);
		assert_int_equal(url != NULL, c->want);
		if (url != NULL) {
			assert_true(token_verify_path(r, tt_path_of(url), &info));
			assert_string_equal(info.target, t);
			token_info_clear(&info);
		}
		g_free(url);
		g_free(t);
	}
	assert_null(token_click_url(NULL, BASE, ID1, 0, "https://example.com/"));
	assert_null(token_click_url(r, BASE, ID1, 0, NULL));
	assert_null(token_open_url(NULL, BASE, ID1));
	token_ring_free(r);
}

/* A signer (one working copy of the key, reset per MAC) makes exactly
 * the URLs token_click_url makes, link after link, and they verify; it
 * signs with the first key of a rotated ring. */
static void
test_signer(void **state)
{
	token_ring *r = tt_ring("k2 " S2 "\nk1 " S1 "\n");
	token_signer *sg = token_signer_new(r);
	guint link;
	size_t i;

	(void)state;
	assert_non_null(sg);
	for (link = 0; link < 300; link++) {
		for (i = 0; i < G_N_ELEMENTS(target_cases); i++) {
			const char *t = target_cases[i].target;
			char *a, *b;
			token_info info;

			if (t == NULL)
				continue;
			a = token_click_url(r, BASE, ID1, link, t);
			b = token_signer_click_url(sg, BASE, ID1, link, t);
			assert_string_equal(a != NULL ? a : "(null)", b != NULL ? b : "(null)");
			if (b != NULL) {
				assert_true(token_verify_path(r, tt_path_of(b), &info));
				assert_string_equal(info.kid, "k2");
				assert_int_equal(info.link, link);
				token_info_clear(&info);
			}
			g_free(a);
			g_free(b);
		}
	}
	token_signer_free(sg);
	assert_null(token_signer_new(NULL));
	assert_null(token_signer_click_url(NULL, BASE, ID1, 0, "https://example.com/"));
	assert_null(token_signer_free(NULL));
	token_ring_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hand_made),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_truncate_extend),
		cmocka_unit_test(test_non_canonical),
		cmocka_unit_test(test_splices),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_signer),
		cmocka_unit_test(test_keyfile),
		cmocka_unit_test(test_keyfile_perms),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_new_id),
	};

	return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}


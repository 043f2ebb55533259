/*
 * test_token_forge.c - what a forger or a broken client could send to
 * the tracker, table-driven: malformed path shapes around genuine tokens,
 * a flipped bit in every byte of token and target, every truncation and
 * extension, non-canonical base64, and pieces of genuine tokens spliced
 * together. Every one must be refused. See test_token.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "test_token.h"

/* ----------------------------------------------------- path shapes refused */

typedef struct {
	const char *label;
	const char *shape;          /* {o} open token, {c} click token, {t} target segment */
} path_case;

static const path_case path_cases[] = {
	{ "control: the open path", NULL },
	{ "query string on the open path", "/o/{o}.gif?utm=1" },
	{ "query string on the click path", "/c/{c}/{t}?utm=1" },
	{ "empty query", "/c/{c}/{t}?" },
	{ "fragment", "/c/{c}/{t}#x" },
	{ "extra segment after the target", "/c/{c}/{t}/x" },
	{ "trailing slash on a click", "/c/{c}/{t}/" },
	{ "trailing slash on an open", "/o/{o}.gif/" },
	{ "segment inside the open path", "/o/{o}/x.gif" },
	{ "click without a target", "/c/{c}" },
	{ "click with an empty target", "/c/{c}/" },
	{ "open token on the click path", "/c/{o}/{t}" },
	{ "click token on the open path", "/o/{c}.gif" },
	{ "open without .gif", "/o/{o}" },
	{ "open with .GIF", "/o/{o}.GIF" },
	{ "open with .png", "/o/{o}.png" },
	{ "upper-case kind", "/O/{o}.gif" },
	{ "double leading slash", "//o/{o}.gif" },
	{ "base path kept", "/t/o/{o}.gif" },
	{ "no leading slash", "o/{o}.gif" },
	{ "padding on the token", "/o/{o}=.gif" },
	{ "padding on the target", "/c/{c}/{t}==" },
	{ "standard-alphabet character", "/o/+{o}.gif" },
	{ "percent-escape inside the token", "/o/%41{o}.gif" },
	{ "space inside the token", "/o/ {o}.gif" },
	{ "empty token", "/o/.gif" },
	{ "bare prefix", "/o/" },
	{ "health check path", "/healthz" },
	{ "empty path", "" },
	{ "root", "/" },
};

/* A path_case shape with its placeholders filled in. */
static char *
expand(const char *shape, const char *o, const char *c, const char *t)
{
	GString *s = g_string_new(NULL);

	while (*shape != '\0') {
		if (g_str_has_prefix(shape, "{o}") || g_str_has_prefix(shape, "{c}") ||
		    g_str_has_prefix(shape, "{t}")) {
			g_string_append(s, shape[1] == 'o' ? o : shape[1] == 'c' ? c : t);
			shape += 3;
		} else
			g_string_append_c(s, *shape++);
	}
	return g_string_free(s, FALSE);
}

/* Each malformed shape around valid tokens is refused. */
void
test_paths(void **state)
{
	token_ring *r = tt_ring("k1 " S1 "\n");
	char *o = token_open_url(r, BASE, ID1);
	char *c = token_click_url(r, BASE, ID1, 1, "https://example.com/x?y=1");
	char *otok, *ctok, *ctgt, *none;
	size_t i;

	(void)state;
	tt_split(tt_path_of(o), &otok, &none);
	tt_split(tt_path_of(c), &ctok, &ctgt);
	for (i = 0; i < G_N_ELEMENTS(path_cases); i++) {
		const path_case *pc = &path_cases[i];
		token_info info;
		char *path;

		print_message("path: %s\n", pc->label);
		if (pc->shape == NULL) {
			assert_true(token_verify_path(r, tt_path_of(o), NULL));
			assert_true(token_verify_path(r, tt_path_of(c), NULL));
			continue;
		}
		path = expand(pc->shape, otok, ctok, ctgt);
		assert_false(token_verify_path(r, path, &info));
		assert_null(info.target);
		g_free(path);
	}
	assert_false(token_verify_path(r, NULL, NULL));
	assert_false(token_verify_path(NULL, tt_path_of(o), NULL));
	g_free(otok);
	g_free(ctok);
	g_free(ctgt);
	g_free(o);
	g_free(c);
	token_ring_free(r);
}

/* ------------------------------------------- bit flips, cuts, splices */

/* A flipped bit anywhere in the token or target never verifies. */
void
test_bit_flips(void **state)
{
	token_ring *r = tt_ring("k1 " S1 "\nk3 " S3 "\n");
	char *urls[2], *tok, *tgt;
	size_t u;

	(void)state;
	urls[0] = token_open_url(r, BASE, ID1);
	urls[1] = token_click_url(r, BASE, ID1, 200, "https://example.com/a?b=c&d=%20");
	for (u = 0; u < 2; u++) {
		const char *path = tt_path_of(urls[u]);
		char kind = path[1];
		gsize n, tn = 0, i;
		guint8 *raw, *traw = NULL;
		int bit;

		tt_split(path, &tok, &tgt);
		raw = tt_dec(tok, strlen(tok), &n);
		if (tgt != NULL)
			traw = tt_dec(tgt, strlen(tgt), &tn);
		for (i = 0; i < n; i++)
			for (bit = 0; bit < 8; bit++) {
				char *p;

				raw[i] ^= (guint8)(1u << bit);
				p = tt_join(kind, raw, n, tgt);
				if (token_verify_path(r, p, NULL))
					fail_msg("%c token verified with bit %d of byte %zu flipped", kind, bit, i);
				g_free(p);
				raw[i] ^= (guint8)(1u << bit);
			}
		for (i = 0; i < tn; i++)
			for (bit = 0; bit < 8; bit++) {
				char *t, *p;

				traw[i] ^= (guint8)(1u << bit);
				t = tt_enc(traw, tn);
				p = tt_join(kind, raw, n, t);
				if (token_verify_path(r, p, NULL))
					fail_msg("target verified with bit %d of byte %zu flipped", bit, i);
				g_free(p);
				g_free(t);
				traw[i] ^= (guint8)(1u << bit);
			}
		g_free(raw);
		g_free(traw);
		g_free(tok);
		g_free(tgt);
		g_free(urls[u]);
	}
	token_ring_free(r);
}

/* Every truncation (raw bytes and base64 characters) and extension fails. */
void
test_truncate_extend(void **state)
{
	static const guint8 tails[][4] = { { 0x00 }, { 0xff }, { 0x00, 0x00 }, { 0x41, 0x42, 0x43, 0x44 } };
	static const gsize tail_len[] = { 1, 1, 2, 4 };
	token_ring *r = tt_ring("k1 " S1 "\n");
	char *urls[2], *tok, *tgt;
	size_t u, i;

	(void)state;
	urls[0] = token_open_url(r, BASE, ID1);
	urls[1] = token_click_url(r, BASE, ID1, 7, "https://example.com/landing?id=7");
	for (u = 0; u < 2; u++) {
		const char *path = tt_path_of(urls[u]);
		char kind = path[1], *p;
		gsize n, k, tlen;
		guint8 *raw, *ext;

		tt_split(path, &tok, &tgt);
		raw = tt_dec(tok, strlen(tok), &n);
		for (k = 1; k < n; k++) {        /* cut k raw bytes */
			p = tt_join(kind, raw, n - k, tgt);
			if (token_verify_path(r, p, NULL))
				fail_msg("%c token verified cut by %zu bytes", kind, k);
			g_free(p);
		}
		for (k = 1; k < strlen(tok); k++) {  /* cut k characters */
			char *cut = g_strndup(tok, strlen(tok) - k);

			p = kind == 'o' ? g_strdup_printf("/o/%s.gif", cut) : g_strdup_printf("/c/%s/%s", cut, tgt);
			if (token_verify_path(r, p, NULL))
				fail_msg("%c token verified cut by %zu characters", kind, k);
			g_free(p);
			g_free(cut);
		}
		for (i = 0; i < G_N_ELEMENTS(tails); i++) {  /* extended */
			ext = g_malloc(n + 4);
			memcpy(ext, raw, n);
			memcpy(ext + n, tails[i], tail_len[i]);
			p = tt_join(kind, ext, n + tail_len[i], tgt);
			if (token_verify_path(r, p, NULL))
				fail_msg("%c token verified extended by %zu bytes", kind, tail_len[i]);
			g_free(p);
			g_free(ext);
		}
		if (tgt != NULL) {               /* target cut or extended */
			guint8 *traw = tt_dec(tgt, strlen(tgt), &tlen);
			char *t;

			for (k = 1; k < tlen; k++) {
				t = tt_enc(traw, tlen - k);
				p = tt_join(kind, raw, n, t);
				assert_false(token_verify_path(r, p, NULL));
				g_free(p);
				g_free(t);
			}
			p = g_strdup_printf("/c/%s/%sAA", tok, tgt);
			assert_false(token_verify_path(r, p, NULL));
			g_free(p);
			g_free(traw);
		}
		g_free(raw);
		g_free(tok);
		g_free(tgt);
		g_free(urls[u]);
	}
	token_ring_free(r);
}

/* A token whose last character carries nonzero unused bits decodes to
 * the same bytes in a lax decoder: it must still be refused. */
void
test_non_canonical(void **state)
{
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	token_ring *r = tt_ring("k1 " S1 "\n");
	/* 34 raw bytes and a 22-byte target: each ends in one byte alone
	 * in its group, so the last character holds 4 unused bits */
	char *c = token_click_url(r, BASE, ID1, 1, "https://example.com/ab");
	char *tok, *tgt, *p;
	const char *at;
	gsize tl, gl;

	(void)state;
	tt_split(tt_path_of(c), &tok, &tgt);
	tl = strlen(tok);
	gl = strlen(tgt);
	assert_int_equal(tl % 4, 2);
	assert_int_equal(gl % 4, 2);
	assert_true(token_verify_path(r, tt_path_of(c), NULL));
	at = strchr(b64url, tok[tl - 1]);
	assert_int_equal((at - b64url) & 0x0f, 0);
	tok[tl - 1] = at[1];            /* same leading bits, low bit set */
	p = g_strdup_printf("/c/%s/%s", tok, tgt);
	assert_false(token_verify_path(r, p, NULL));
	g_free(p);
	tok[tl - 1] = at[0];
	at = strchr(b64url, tgt[gl - 1]);
	assert_int_equal((at - b64url) & 0x0f, 0);
	tgt[gl - 1] = at[1];
	p = g_strdup_printf("/c/%s/%s", tok, tgt);
	assert_false(token_verify_path(r, p, NULL));
	g_free(p);
	g_free(tok);
	g_free(tgt);
	g_free(c);
	token_ring_free(r);
}

typedef struct {
	const char *label;
	int what;                   /* see test_splices */
} splice_case;

enum { ZERO_MAC, MAC_OF_OTHER_ID, TARGET_OF_OTHER_LINK, LINK_OF_OTHER, OPEN_MAC_ON_CLICK };

static const splice_case splice_cases[] = {
	{ "MAC zeroed", ZERO_MAC },
	{ "MAC copied from another message's token", MAC_OF_OTHER_ID },
	{ "target swapped with another link's", TARGET_OF_OTHER_LINK },
	{ "link index swapped, MAC kept", LINK_OF_OTHER },
	{ "open token's MAC on a click", OPEN_MAC_ON_CLICK },
};

/* Pieces of two genuine tokens put together never verify. */
void
test_splices(void **state)
{
	token_ring *r = tt_ring("k1 " S1 "\n");
	char *a = token_click_url(r, BASE, ID1, 1, "https://example.com/one");
	char *b = token_click_url(r, BASE, ID2, 2, "https://evil.example/two");
	char *o = token_open_url(r, BASE, ID1);
	char *atok, *atgt, *btok, *btgt, *otok, *none;
	guint8 *araw, *braw, *oraw;
	gsize an, bn, on;
	size_t i;

	(void)state;
	tt_split(tt_path_of(a), &atok, &atgt);
	tt_split(tt_path_of(b), &btok, &btgt);
	tt_split(tt_path_of(o), &otok, &none);
	araw = tt_dec(atok, strlen(atok), &an);
	braw = tt_dec(btok, strlen(btok), &bn);
	oraw = tt_dec(otok, strlen(otok), &on);
	assert_int_equal(an, bn);
	for (i = 0; i < G_N_ELEMENTS(splice_cases); i++) {
		guint8 *raw = g_memdup2(araw, an);
		const char *tgt = atgt;
		char *p;

		print_message("splice: %s\n", splice_cases[i].label);
		switch (splice_cases[i].what) {
		case ZERO_MAC:
			memset(raw + an - 16, 0, 16);
			break;
		case MAC_OF_OTHER_ID:
			memcpy(raw + an - 16, braw + bn - 16, 16);
			break;
		case TARGET_OF_OTHER_LINK:
			tgt = btgt;
			break;
		case LINK_OF_OTHER:
			raw[an - 17] = braw[bn - 17];
			break;
		case OPEN_MAC_ON_CLICK:
			memcpy(raw + an - 16, oraw + on - 16, 16);
			break;
		}
		p = tt_join('c', raw, an, tgt);
		assert_false(token_verify_path(r, p, NULL));
		g_free(p);
		g_free(raw);
	}
	g_free(araw);
	g_free(braw);
	g_free(oraw);
	g_free(atok);
	g_free(atgt);
	g_free(btok);
	g_free(btgt);
	g_free(otok);
	g_free(a);
	g_free(b);
	g_free(o);
	token_ring_free(r);
}


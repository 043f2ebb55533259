/*
 * fuzz_token.c - libFuzzer target for tracking-token verification
 * (core/token.c): every input, as a NUL-terminated request path, goes to
 * token_verify_path against a fixed two-key ring. What verifies must be
 * the one canonical spelling: signing the fields it returned again gives
 * back the same path. The same bytes, used as a click target, must either
 * be refused by token_click_url or come back exactly through verification.
 *
 * Built and run by fuzz/run-fuzz.sh (clang, -fsanitize=fuzzer,address,
 * undefined). Compiled with -DFUZZ_TOKEN_SEEDS it is instead a small
 * program that writes valid paths (the seed corpus) into a directory,
 * because a fuzzer cannot find a valid MAC by itself.
 *
 * Public: LLVMFuzzerTestOneInput (and main with FUZZ_TOKEN_SEEDS).
 * The ring is built once and never freed (harness only; core/ keeps no
 * global state).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "token.h"

/* the ring signs with k1; k2 only verifies */
#define FUZZ_KEYS \
	"k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n" \
	"k2 ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=\n"
#define FUZZ_KEYS_K2_FIRST \
	"k2 ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=\n"

static const guint8 fuzz_id[TOKEN_ID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed ring, loaded on first use. */
static const token_ring *
fixed_ring(void)
{
	static token_ring *ring;

	if (ring == NULL)
		ring = token_ring_from_text(FUZZ_KEYS, "fuzz", NULL);
	if (ring == NULL)
		abort();
	return ring;
}

/* A verified k1 path must be exactly what signing its fields gives. */
static void
check_canonical(const token_ring *ring, const char *path, const token_info *info)
{
	char *again;

	if (strcmp(info->kid, "k1") != 0)
		return;
	again = info->kind == TOKEN_OPEN ? token_open_url(ring, "", info->id)
	    : token_click_url(ring, "", info->id, info->link, info->target);
	if (again == NULL || strcmp(again, path) != 0) {
		fprintf(stderr, "verified path is not canonical:\n  %s\n  %s\n", path,
		    again != NULL ? again : "(not signable)");
		abort();
	}
	g_free(again);
}

/* One input: verify it as a path, then sign it as a target. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const token_ring *ring = fixed_ring();
	char *s = g_malloc(size + 1), *url;
	token_info info;

	memcpy(s, data, size);
	s[size] = '\0';
	if (token_verify_path(ring, s, &info)) {
		if ((info.kind == TOKEN_OPEN) != (s[1] == 'o') ||
		    (info.kind == TOKEN_CLICK) != (info.target != NULL))
			abort();
		check_canonical(ring, s, &info);
	} else if (info.target != NULL || info.kid[0] != '\0')
		abort();         /* a refusal fills in nothing */
	token_info_clear(&info);
	url = token_click_url(ring, "https://t.example.com", fuzz_id, (guint)size, s);
	if (url != NULL) {
		if (!token_verify_path(ring, url + strlen("https://t.example.com"), &info) ||
		    strcmp(info.target, s) != 0 || info.link != (guint)size)
			abort();
		token_info_clear(&info);
		g_free(url);
	}
	g_free(s);
	return 0;
}

#ifdef FUZZ_TOKEN_SEEDS
/* Write one seed file DIR/NAME holding the path part of url. */
static void
write_seed(const char *dir, const char *name, const char *url)
{
	char *file = g_build_filename(dir, name, NULL);
	const char *path = strstr(url, "://");

	path = path != NULL ? strchr(path + 3, '/') : url;
	if (!g_file_set_contents(file, path, -1, NULL))
		abort();
	g_free(file);
}

/* fuzz_token_seeds DIR: write valid open and click paths into DIR. */
int
main(int argc, char **argv)
{
	static const char *const targets[] = {
		"https://shop.example.com/cart?item=42&qty=1#top",
		"https://bücher.example/straße?q=日本",
		"http://example.com/%E2%82%AC/a%2Fb?x=%20",
		"HTTPS://XN--BCHER-KVA.EXAMPLE/",
	};
	token_ring *k2 = token_ring_from_text(FUZZ_KEYS_K2_FIRST, "fuzz", NULL);
	char name[32], *url;
	size_t i;

	if (argc != 2 || k2 == NULL)
		return 2;
	url = token_open_url(fixed_ring(), "https://t.example.com", fuzz_id);
	write_seed(argv[1], "open-k1", url);
	g_free(url);
	url = token_open_url(k2, "https://t.example.com", fuzz_id);
	write_seed(argv[1], "open-k2", url);
	g_free(url);
	for (i = 0; i < G_N_ELEMENTS(targets); i++) {
		g_snprintf(name, sizeof(name), "click-k1-%zu", i);
		url = token_click_url(fixed_ring(), "https://t.example.com", fuzz_id,
		    (guint)(i * 300), targets[i]);
		write_seed(argv[1], name, url);
		g_free(url);
		g_snprintf(name, sizeof(name), "click-k2-%zu", i);
		url = token_click_url(k2, "https://t.example.com", fuzz_id, (guint)i, targets[i]);
		write_seed(argv[1], name, url);
		g_free(url);
	}
	token_ring_free(k2);
	return 0;
}
#endif

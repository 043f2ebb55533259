/*
 * mktoken.c - prints tracking URLs for tests/integration/tracker.sh (a
 * test helper, never installed):
 *
 *   mktoken KEYFILE BASE_URL open HEXID
 *   mktoken KEYFILE BASE_URL click HEXID LINK TARGET
 *   mktoken KEYFILE BASE_URL opens COUNT    (ids 1..COUNT, for benchmarks)
 *
 * HEXID is the message's tracking id as 2 * TOKEN_ID_LEN hex digits. The
 * URL is printed on one line (one line each for opens); exit 1 (with why on stderr) when the key
 * file, the id or the target is refused, 2 on a usage error.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "token.h"

/* Parse HEXID into id; FALSE when it is not 2 * TOKEN_ID_LEN hex digits. */
static gboolean
parse_hex(const char *hex, guint8 id[TOKEN_ID_LEN])
{
	if (strlen(hex) != 2 * TOKEN_ID_LEN)
		return FALSE;
	for (int i = 0; i < TOKEN_ID_LEN; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]), lo = g_ascii_xdigit_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return FALSE;
		id[i] = (guint8)(hi << 4 | lo);
	}
	return TRUE;
}

/* Print the open URLs of ids 1..count (big-endian in the last bytes). */
static int
many_opens(const token_ring *ring, const char *base, const char *count_text)
{
	guint64 count;

	if (!g_ascii_string_to_unsigned(count_text, 10, 1, G_MAXUINT32, &count, NULL)) {
		fprintf(stderr, "mktoken: '%s' is not a count\n", count_text);
		return 1;
	}
	for (guint64 n = 1; n <= count; n++) {
		guint8 id[TOKEN_ID_LEN] = { 0 };
		char *url;

		for (int i = 0; i < 8; i++)
			id[TOKEN_ID_LEN - 1 - i] = (guint8)(n >> (8 * i));
		url = token_open_url(ring, base, id);
		printf("%s\n", url);
		g_free(url);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	guint8 id[TOKEN_ID_LEN];
	GError *e = NULL;
	token_ring *ring;
	guint64 link = 0;
	char *url = NULL;

	if (argc < 5 || (strcmp(argv[3], "open") == 0 || strcmp(argv[3], "opens") == 0 ? argc != 5 :
	    strcmp(argv[3], "click") != 0 || argc != 7)) {
		fprintf(stderr, "usage: mktoken KEYFILE BASE_URL open HEXID\n"
		    "       mktoken KEYFILE BASE_URL click HEXID LINK TARGET\n"
		    "       mktoken KEYFILE BASE_URL opens COUNT\n");
		return 2;
	}
	if (strcmp(argv[3], "opens") == 0) {
		int rc;

		if ((ring = token_ring_load(argv[1], &e)) == NULL) {
			fprintf(stderr, "mktoken: %s\n", e->message);
			g_error_free(e);
			return 1;
		}
		rc = many_opens(ring, argv[2], argv[4]);
		token_ring_free(ring);
		return rc;
	}
	if (!parse_hex(argv[4], id)) {
		fprintf(stderr, "mktoken: '%s' is not %d hex digits\n", argv[4], 2 * TOKEN_ID_LEN);
		return 1;
	}
	if ((ring = token_ring_load(argv[1], &e)) == NULL) {
		fprintf(stderr, "mktoken: %s\n", e->message);
		g_error_free(e);
		return 1;
	}
	if (strcmp(argv[3], "open") == 0)
		url = token_open_url(ring, argv[2], id);
	else if (g_ascii_string_to_unsigned(argv[5], 10, 0, G_MAXUINT32, &link, NULL))
		url = token_click_url(ring, argv[2], id, (guint)link, argv[6]);
	token_ring_free(ring);
	if (url == NULL) {
		fprintf(stderr, "mktoken: refused (link or target)\n");
		return 1;
	}
	printf("%s\n", url);
	g_free(url);
	return 0;
}

/*
 * mktoken.c - prints tracking URLs for tests/integration/tracker.sh (a
 * test helper, never installed):
 *
 *   mktoken KEYFILE BASE_URL open HEXID
 *   mktoken KEYFILE BASE_URL click HEXID LINK TARGET
 *
 * HEXID is the message's tracking id as 2 * TOKEN_ID_LEN hex digits. The
 * URL is printed on one line; exit 1 (with why on stderr) when the key
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

int
main(int argc, char **argv)
{
	guint8 id[TOKEN_ID_LEN];
	GError *e = NULL;
	token_ring *ring;
	guint64 link = 0;
	char *url = NULL;

	if (argc < 5 || (strcmp(argv[3], "open") == 0 ? argc != 5 :
	    strcmp(argv[3], "click") != 0 || argc != 7)) {
		fprintf(stderr, "usage: mktoken KEYFILE BASE_URL open HEXID\n"
		    "       mktoken KEYFILE BASE_URL click HEXID LINK TARGET\n");
		return 2;
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

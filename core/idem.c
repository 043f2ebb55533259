/*
 * idem.c - idempotency keys. See idem.h.
 */
#include <string.h>

#include "idem.h"

/* Trim blanks and one pair of angle brackets. */
char *
idem_msgid_normalize(const char *raw)
{
	char *s, *p;
	size_t n;

	if (raw == NULL)
		return NULL;
	s = g_strstrip(g_strdup(raw));
	p = s;
	n = strlen(p);
	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p[n - 1] = '\0';
		p++;
	}
	if (*p == '\0') {
		g_free(s);
		return NULL;
	}
	p = g_strdup(p);
	g_free(s);
	return p;
}

/* The key for one message and profile. */
char *
idem_key(const char *profile, const char *message_id, const char *content_digest)
{
	char *id = idem_msgid_normalize(message_id);
	char *key;

	if (id != NULL) {
		char *h = g_compute_checksum_for_string(G_CHECKSUM_SHA256, id, -1);
		key = g_strdup_printf("%s/m/%s", profile, h);
		g_free(h);
		g_free(id);
	} else {
		key = g_strdup_printf("%s/c/%s", profile,
		    content_digest != NULL ? content_digest : "none");
	}
	return key;
}

/* Fields an MTA adds on the way. */
gboolean
idem_is_trace_header(const char *name)
{
	static const char *const trace[] = {
		"Received", "Return-Path", "Delivered-To", "X-Original-To", NULL
	};
	int i;

	for (i = 0; trace[i] != NULL; i++)
		if (g_ascii_strcasecmp(name, trace[i]) == 0)
			return TRUE;
	return FALSE;
}

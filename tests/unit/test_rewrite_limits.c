/*
 * test_rewrite_limits.c - rewrite_message at its bounds: every prefix of
 * real messages (truncated mail), the click URL against the tracker's
 * max_url_length, and the tracked message against max_message_size.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <gio/gio.h>

#include "rewrite.h"
#include "test_rewrite.h"

/* Every prefix of a real message: never a crash, and a DONE result still
 * parses. (A cut can fall inside a header, a boundary or an escape.) */
void
test_truncated(void **state)
{
	token_ring *ring = token_ring_from_text(KEYS, "test", NULL);
	rewrite_opts o = { .ring = ring, .base_url = BASE, .track_id = track_id, .opens = TRUE, .clicks = TRUE,
	    .exclude_domains = NULL, .max_html_size = 0, .tokenizer = NULL };
	const char *files[] = { "html/newsletter.eml", "html/apple-related-base64.eml", "html/iso-2022-jp.eml" };
	gsize f, n;

	for (f = 0; f < G_N_ELEMENTS(files); f++) {
		GByteArray *raw = tr_data_file(files[f]);
		for (n = 0; n <= raw->len; n += 1 + n / 64) {
			GByteArray *body = g_byte_array_new();
			char *reason = NULL;
			GError *err = NULL;
			rewrite_status s = rewrite_message(raw->data, n, &o, body, NULL, &reason, &err);
			assert_non_null(reason);
			if (s == REWRITE_DONE)
				assert_true(body->len > 0);
			else
				assert_int_equal(body->len, 0);
			g_clear_error(&err);
			g_free(reason);
			g_byte_array_unref(body);
		}
		g_byte_array_unref(raw);
	}
	token_ring_free(ring);
}

/* Rewrite raw with o: the status, the links rewritten and whether the
 * reason holds note (NULL: not checked); *out_len gets the new body's
 * length (0 when not DONE). */
static rewrite_status
limits_run(const GByteArray *raw, const rewrite_opts *o, guint *links, const char *note,
    gsize *out_len)
{
	GByteArray *body = g_byte_array_new();
	rewrite_stats st;
	char *reason = NULL;
	GError *err = NULL;
	rewrite_status r = rewrite_message(raw->data, raw->len, o, body, &st, &reason, &err);

	*links = st.links;
	*out_len = body->len;
	if (r == REWRITE_FAILED)
		assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NO_SPACE));
	if (note != NULL && strstr(reason, note) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", reason, note);
	g_clear_error(&err);
	g_free(reason);
	g_byte_array_unref(body);
	return r;
}

/* The click URL of a target is bounded by the tracker's max_url_length,
 * which counts the request path (base_url's own path included; a longer
 * one would answer 414: the link is left alone and the reason says why),
 * and the tracked message by max_message_size (over it: FAILED, the
 * original goes out). Both at their exact bounds. */
void
test_limits(void **state)
{
	token_ring *ring = token_ring_from_text(KEYS, "test", NULL);
	const char *const *targets = tr_file_targets("html/gmail.eml");
	GByteArray *raw;
	const char *bases[] = { BASE, "https://t.example.com:8443/track/t" };
	const char *origins[] = { BASE, "https://t.example.com:8443" };
	gsize path[4], i, b, out_len, tracked_len;
	guint links;
	rewrite_opts o = { .ring = ring, .track_id = track_id, .opens = TRUE, .clicks = TRUE };

	(void)state;
	raw = tr_data_file("html/gmail.eml");
	for (b = 0; b < G_N_ELEMENTS(bases); b++) {
		o.base_url = bases[b];
		/* the request path of each link's click URL, in document order */
		for (i = 0; i < G_N_ELEMENTS(path); i++) {
			char *url = token_click_url(ring, bases[b], track_id, (guint)i, targets[i]);
			assert_non_null(url);
			assert_true(g_str_has_prefix(url, origins[b]));
			path[i] = strlen(url) - strlen(origins[b]);
			g_free(url);
		}
		/* the last (short) link exactly at the bound is tracked, the
		 * long first one is not; one byte less and neither is */
		assert_true(path[0] > path[3]);
		o.max_click_path = path[3];
		assert_int_equal(limits_run(raw, &o, &links, "would be over tracker max_url_length", &out_len),
		    REWRITE_DONE);
		for (i = 0, out_len = 0; i < G_N_ELEMENTS(path); i++)
			out_len += path[i] <= path[3];
		assert_int_equal(links, out_len);
		assert_true(links >= 1 && links < G_N_ELEMENTS(path));
		o.max_click_path = path[3] - 1;
		assert_int_equal(limits_run(raw, &o, &links, NULL, &out_len), REWRITE_DONE);
		for (i = 0, out_len = 0; i < G_N_ELEMENTS(path); i++)
			out_len += path[i] <= path[3] - 1;
		assert_int_equal(links, out_len);
		o.max_click_path = 1;                  /* no link fits: only the pixel */
		assert_int_equal(limits_run(raw, &o, &links, "4 links whose click URL", &out_len), REWRITE_DONE);
		assert_int_equal(links, 0);
		o.max_click_path = 0;
	}

	/* the whole tracked message (headers and new body) against max_size */
	o.base_url = BASE;
	assert_int_equal(limits_run(raw, &o, &links, NULL, &tracked_len), REWRITE_DONE);
	assert_int_equal(links, 4);
	for (i = 0; i + 1 < raw->len && memcmp(raw->data + i, "\n\r\n", 3) != 0 &&
	    memcmp(raw->data + i, "\n\n", 2) != 0; i++)
		;
	i += raw->data[i + 1] == '\r' ? 3 : 2;  /* i: the headers' length, blank line included */
	o.max_size = i + tracked_len;
	assert_int_equal(limits_run(raw, &o, &links, NULL, &out_len), REWRITE_DONE);
	assert_int_equal(out_len, tracked_len);
	o.max_size = i + tracked_len - 1;
	assert_int_equal(limits_run(raw, &o, &links, NULL, &out_len), REWRITE_FAILED);
	assert_int_equal(out_len, 0);
	o.max_size = raw->len;                  /* the message as it came fits; tracked, not */
	assert_int_equal(limits_run(raw, &o, &links, NULL, &out_len), REWRITE_FAILED);
	g_byte_array_unref(raw);
	token_ring_free(ring);
}

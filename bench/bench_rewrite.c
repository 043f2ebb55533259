/*
 * bench_rewrite.c - throughput of link rewriting on one core, in MB/s of
 * HTML: html_links_scan alone (the tokenizer and the link rules), the same
 * plus signing every link (token_click_url, to show what tokens cost),
 * then rewrite_message on the same HTML as a whole message (8bit, and
 * quoted-printable as Outlook and Gmail send it).
 *
 *   bench/bench_rewrite [FILE.html|-] [SECONDS] [ROW]
 *
 * ROW (scan, sign, 8bit or qp) runs that row alone, e.g. under perf.
 * Without FILE it builds a 40 KB newsletter-shaped document (nested
 * tables, inline styles, 120 links with &amp; in their queries, an Outlook
 * conditional comment with a VML button). Each row runs in five slices of
 * equal time and shows the median slice and the range. Not a test: it
 * prints a table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "html_links.h"
#include "message.h"
#include "rewrite.h"
#include "token.h"

/* A deterministic e-mail-shaped HTML document of about 40 KB. */
static GString *
sample_html(void)
{
	GString *h = g_string_new("<!doctype html>\r\n<html><head><meta charset=\"utf-8\"><title>News</title>\r\n"
	    "<style>td{font-family:Arial,sans-serif;font-size:14px;color:#333}</style></head>\r\n"
	    "<body style=\"margin:0;padding:0;background:#f4f4f4\">\r\n<center><table width=\"600\" "
	    "cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"width:600px\">\r\n");
	int i;

	for (i = 0; i < 120; i++)
		g_string_append_printf(h,
		    "<tr><td style=\"padding:12px 24px;border-bottom:1px solid #e5e5e5\">"
		    "<table width=\"100%%\"><tr><td><h3 style=\"margin:0\">Item %d &ndash; caf&eacute;</h3>\r\n"
		    "<p style=\"margin:6px 0\">Short text about item %d, with a few words so the line looks real.</p>\r\n"
		    "<a href=\"https://www.example.com/item/%d?utm_source=news&amp;utm_medium=email&amp;utm_campaign=nov\" "
		    "style=\"color:#0563c1\">Read more</a></td></tr></table></td></tr>\r\n", i, i, i);
	g_string_append(h, "<tr><td><!--[if mso]><v:roundrect xmlns:v=\"urn:schemas-microsoft-com:vml\" "
	    "href=\"https://www.example.com/register\" style=\"height:40px;width:200px\" fill=\"t\">"
	    "<center>Register</center></v:roundrect><![endif]--></td></tr>\r\n"
	    "<tr><td><a href=\"https://www.example.com/unsubscribe?u=1\">Unsubscribe</a></td></tr>\r\n"
	    "</table></center>\r\n</body></html>\r\n");
	return h;
}

#define SLICES 5

static int
cmp_double(gconstpointer a, gconstpointer b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Seconds of CPU-bound repetitions of fn, in SLICES slices of equal time;
 * returns the median slice's MB/s (a neighbour's burst on this shared
 * machine slows one slice, not the row), the slowest and fastest in
 * *lo and *hi. */
static double
measure(double seconds, gsize bytes, void (*fn)(gpointer), gpointer data, guint *runs,
    double *lo, double *hi)
{
	double mbs[SLICES];
	guint k, total = 0;

	for (k = 0; k < SLICES; k++) {
		gint64 t0 = g_get_monotonic_time(), t;
		guint n = 0;

		do {
			fn(data);
			n++;
			t = g_get_monotonic_time();
		} while (t - t0 < (gint64)(seconds / SLICES * G_USEC_PER_SEC));
		mbs[k] = (double)bytes * n / ((t - t0) / 1e6) / 1e6;
		total += n;
	}
	qsort(mbs, SLICES, sizeof(double), cmp_double);
	*runs = total;
	*lo = mbs[0];
	*hi = mbs[SLICES - 1];
	return mbs[SLICES / 2];
}

typedef struct job {
	const char *html;
	gsize len;
	GByteArray *msg;
	const rewrite_opts *o;
} job;

static void
run_scan(gpointer data)
{
	job *j = data;
	html_scan s;

	if (!html_links_scan(j->o->tokenizer, j->html, j->len, NULL, &s, NULL))
		g_error("scan failed");
	html_links_clear(&s);
}

/* Sign every link of the document (what rewrite_message spends on tokens). */
static void
run_sign(gpointer data)
{
	job *j = data;
	html_scan s;
	guint i;

	if (!html_links_scan(j->o->tokenizer, j->html, j->len, NULL, &s, NULL))
		g_error("scan failed");
	for (i = 0; i < s.links->len; i++) {
		const html_link *l = &g_array_index(s.links, html_link, i);
		if (l->verdict == HTML_TRACK)
			g_free(token_click_url(j->o->ring, j->o->base_url, j->o->track_id, i, l->target));
	}
	html_links_clear(&s);
}

static void
run_rewrite(gpointer data)
{
	job *j = data;
	GByteArray *body = g_byte_array_new();
	char *reason = NULL;

	if (rewrite_message(j->msg->data, j->msg->len, j->o, body, NULL, &reason, NULL) != REWRITE_DONE)
		g_error("rewrite: %s", reason);
	g_free(reason);
	g_byte_array_unref(body);
}

/* A message around the HTML, as 8bit or quoted-printable. */
static GByteArray *
wrap(const GString *html, gboolean qp)
{
	GByteArray *m = g_byte_array_new();
	const char *hdr = qp ? "Content-Transfer-Encoding: quoted-printable\r\n\r\n" : "Content-Transfer-Encoding: 8bit\r\n\r\n";
	const char *top = "From: a@example.com\r\nTo: b@customer.test\r\nSubject: bench\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n";

	g_byte_array_append(m, (const guint8 *)top, strlen(top));
	g_byte_array_append(m, (const guint8 *)hdr, strlen(hdr));
	if (qp) {
		char **lines = g_strsplit(html->str, "\r\n", -1), *lf = g_strjoinv("\n", lines);
		guchar *out = g_malloc(GMIME_QP_ENCODE_LEN(html->len) + 16);
		int state = -1;
		guint32 save = 0;
		gsize n = g_mime_encoding_quoted_encode_close((const guchar *)lf, strlen(lf), out, &state, &save), i;
		g_strfreev(lines);
		g_free(lf);
		for (i = 0; i < n; i++) {            /* GMime writes LF; the wire has CRLF */
			if (out[i] == '\n')
				g_byte_array_append(m, (const guint8 *)"\r", 1);
			g_byte_array_append(m, out + i, 1);
		}
		g_free(out);
	} else
		g_byte_array_append(m, (const guint8 *)html->str, html->len);
	return m;
}

/* The rows: ROW's name, what the table calls it, what runs, and the
 * message around the HTML (-1 none, else wrap's qp). */
static const struct {
	const char *key, *what;
	void (*fn)(gpointer);
	int wrap;
} rows[] = {
	{ "scan", "html_links_scan (myhtml tokenizer + link rules)", run_scan, -1 },
	{ "sign", "html_links_scan + token_click_url for every link", run_sign, -1 },
	{ "8bit", "rewrite_message, 8bit part (parse, scan, sign, splice)", run_rewrite, FALSE },
	{ "qp", "rewrite_message, quoted-printable part", run_rewrite, TRUE },
};

int
main(int argc, char **argv)
{
	token_ring *ring = token_ring_from_text("bench AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "bench", NULL);
	guint8 id[TOKEN_ID_LEN] = { 0 };
	rewrite_opts o = { .ring = ring, .base_url = "https://t.example.com", .track_id = id, .opens = TRUE, .clicks = TRUE,
	    .exclude_domains = NULL, .max_html_size = 0, .tokenizer = html_links_ctx_new(NULL) };
	double secs = argc > 2 ? g_ascii_strtod(argv[2], NULL) : 3.0;
	GString *html;
	job j = { 0 };
	guint runs, r;
	double mbs, lo, hi;

	message_gmime_init();
	const char *only = argc > 3 ? argv[3] : NULL;

	if (argc > 1 && strcmp(argv[1], "-") != 0) {
		char *data;
		gsize len;
		if (!g_file_get_contents(argv[1], &data, &len, NULL)) {
			fprintf(stderr, "cannot read %s\n", argv[1]);
			return 1;
		}
		html = g_string_new_len(data, len);
		g_free(data);
	} else
		html = sample_html();
	j.html = html->str;
	j.len = html->len;
	j.o = &o;
	printf("HTML: %" G_GSIZE_FORMAT " bytes, %.1f s per row, one thread\n\n", html->len, secs);
	printf("| what | runs | MB/s of HTML (median slice) | slowest .. fastest slice |\n|---|---|---|---|\n");
	for (r = 0; r < G_N_ELEMENTS(rows); r++) {
		if (only != NULL && strcmp(only, rows[r].key) != 0)
			continue;
		j.msg = rows[r].wrap >= 0 ? wrap(html, rows[r].wrap) : NULL;
		mbs = measure(secs, html->len, rows[r].fn, &j, &runs, &lo, &hi);
		printf("| %s | %u | %.1f | %.1f .. %.1f |\n", rows[r].what, runs, mbs, lo, hi);
		if (j.msg != NULL)
			g_byte_array_unref(j.msg);
	}
	g_string_free(html, TRUE);
	token_ring_free(ring);
	html_links_ctx_free(o.tokenizer);
	return 0;
}

/*
 * spool-fill.c - put a backlog into a spool for the flusher benchmarks:
 * N save jobs for one CRM profile, each a copy of one message with its
 * own Message-ID (so every job is a different activity), queued in group
 * commits of 500. Not a test.
 *
 *   bench/spool-fill SPOOL.db PROFILE N [MESSAGE.eml]
 *
 * Without MESSAGE a 4 KB sales e-mail (text and HTML, to two customers)
 * is used. The database is created (migrated) if it does not exist.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "db.h"
#include "spool.h"

#define GROUP 500

/* A sales e-mail of about 4 KB; @@N@@ takes the Message-ID's number. */
static char *
default_message(void)
{
	GString *s = g_string_new("From: Alice Example <alice@example.com>\r\n"
	    "To: Bob <bob@customer.test>, carol@customer.test\r\n"
	    "Subject: Proposal for the Q3 roll-out\r\n"
	    "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
	    "Message-ID: <bench.@@N@@@example.com>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
	    "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
	for (int i = 0; i < 20; i++)
		g_string_append(s, "Thanks for the call today. As discussed, here is the plan.\r\n");
	g_string_append(s, "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>");
	for (int i = 0; i < 20; i++)
		g_string_append(s, "<p>Thanks for the call today. As <b>discussed</b>, here is the plan.</p>\r\n");
	g_string_append(s, "</body></html>\r\n--alt--\r\n");
	return g_string_free(s, FALSE);
}

int
main(int argc, char **argv)
{
	GError *e = NULL;
	crm_db *db;
	char *tmpl, *text = NULL;
	guint64 n;
	const char *rcpts[] = { "bob@customer.test", "carol@customer.test" };
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (argc < 4 || argc > 5 || !g_ascii_string_to_unsigned(argv[3], 10, 1, 10000000, &n, NULL)) {
		fprintf(stderr, "usage: spool-fill SPOOL.db PROFILE N [MESSAGE.eml]\n");
		return 2;
	}
	if (argc == 5) {
		if (!g_file_get_contents(argv[4], &text, NULL, &e)) {
			fprintf(stderr, "spool-fill: %s\n", e->message);
			return 1;
		}
		/* make the Message-ID line a template */
		GRegex *re = g_regex_new("^Message-ID:.*$", G_REGEX_MULTILINE | G_REGEX_CASELESS, 0, NULL);
		tmpl = g_regex_replace_literal(re, text, -1, 0, "Message-ID: <bench.@@N@@@example.com>\r", 0, NULL);
		g_regex_unref(re);
		g_free(text);
	} else {
		tmpl = default_message();
	}
	if ((db = db_open(argv[1], 5000, &e)) == NULL) {
		fprintf(stderr, "spool-fill: %s\n", e->message);
		return 1;
	}
	for (guint64 done = 0; done < n;) {
		guint k = (guint)MIN((guint64)GROUP, n - done);
		spool_new_job *jobs = g_new0(spool_new_job, k);
		const spool_new_job **ptrs = g_new0(const spool_new_job *, k);
		char **keep = g_new0(char *, 3 * k + 1);
		gint64 *ids = g_new0(gint64, k);
		spool_status *st = g_new0(spool_status, k);

		for (guint i = 0; i < k; i++) {
			char *num = g_strdup_printf("%" G_GUINT64_FORMAT "-%" G_GINT64_FORMAT, done + i, now);
			char **cut = g_strsplit(tmpl, "@@N@@", -1);
			char *raw = g_strjoinv(num, cut);
			g_strfreev(cut);
			char *mid = g_strdup_printf("bench.%s@example.com", num);
			keep[3 * i] = raw;
			keep[3 * i + 1] = mid;
			keep[3 * i + 2] = g_strdup_printf("%s/%s", argv[2], mid);
			jobs[i] = (spool_new_job){ .kind = JOB_SAVE, .profile = argv[2],
			    .idem_key = keep[3 * i + 2], .queue_id = "BENCH", .direction = "outbound",
			    .reason = "benchmark", .rule = "bench", .mail_from = "alice@example.com",
			    .rcpts = rcpts, .nrcpts = 2, .message_id = mid, .payload = raw,
			    .payload_len = strlen(raw) };
			ptrs[i] = &jobs[i];
			g_free(num);
		}
		if (!spool_enqueue_batch(db, ptrs, k, now, ids, st, &e)) {
			fprintf(stderr, "spool-fill: %s\n", e->message);
			return 1;
		}
		done += k;
		g_strfreev(keep);
		g_free(jobs);
		g_free(ptrs);
		g_free(ids);
		g_free(st);
	}
	printf("%" G_GUINT64_FORMAT " jobs queued for %s\n", n, argv[2]);
	db_close(db);
	g_free(tmpl);
	return 0;
}

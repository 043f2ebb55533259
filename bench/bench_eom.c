/*
 * bench_eom.c - crm-milter's own CPU per message, without an MTA: the
 * mlfi_* callbacks driven through the fake seam (tests/unit/fake_seam.c),
 * one connection per message as smtp-source makes them, on a real config
 * and spool. Prints microseconds per message for the steps up to end of
 * message and for end of message (decision, rewrite, spool commit) in
 * wall time, and the CPU time (user + system) of the whole run, so a
 * profiler can be pointed at one process that does only our work.
 *
 *   bench/bench_eom CONFIG MESSAGE [COUNT]
 *
 * CONFIG is a crm-milter config (its spool is written to: use a scratch
 * one); MESSAGE a message file (LF or CRLF), e.g. from
 * "bench/html-message.py make -l 20480 FILE". The envelope is
 * alice@example.com to bob@external.test from 127.0.0.1 on the
 * ORIGINATING daemon, as bench/bench.sh sends it, with a Message-ID of
 * its own for each message (else all but the first are duplicates). Not a
 * test: it prints.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <glib.h>

#include "milter/callbacks.h"
#include "milter/snapshot.h"
#include "tests/unit/fake_seam.h"
#include "config.h"
#include "message.h"

/* CPU time this process has used (user + system), microseconds. */
static gint64
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (gint64)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC +
	    ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* The header fields of raw (unfolded as an MTA hands them over: name and
 * value, continuation lines kept with their line ends), and where the
 * body starts. */
static GPtrArray *
split_headers(const char *raw, gsize len, gsize *body)
{
	GPtrArray *h = g_ptr_array_new_with_free_func(g_free);
	gsize p = 0;

	while (p < len && raw[p] != '\r' && raw[p] != '\n') {
		gsize q = p, colon;
		/* one field: up to a line end not followed by a blank */
		for (;;) {
			const char *nl = memchr(raw + q, '\n', len - q);
			q = nl != NULL ? (gsize)(nl - raw) + 1 : len;
			if (q >= len || (raw[q] != ' ' && raw[q] != '\t'))
				break;
		}
		colon = p;
		while (colon < q && raw[colon] != ':')
			colon++;
		if (colon < q) {
			gsize v = colon + 1, e = q;
			while (v < e && (raw[v] == ' ' || raw[v] == '\t'))
				v++;
			while (e > v && (raw[e - 1] == '\n' || raw[e - 1] == '\r'))
				e--;
			g_ptr_array_add(h, g_strndup(raw + p, colon - p));
			g_ptr_array_add(h, g_strndup(raw + v, e - v));
		}
		p = q;
	}
	if (p < len && raw[p] == '\r')
		p++;
	if (p < len && raw[p] == '\n')
		p++;
	*body = p;
	return h;
}

int
main(int argc, char **argv)
{
	GPtrArray *errors = NULL, *hdrs;
	crm_config *cfg;
	milter_runtime *rt;
	GError *e = NULL;
	char *raw, *crlf;
	gsize len, body;
	guint count = argc > 3 ? (guint)g_ascii_strtoull(argv[3], NULL, 10) : 2000, i, k;
	gint64 t_pre = 0, t_eom = 0, t0, t1, t2, c0, c1;
	struct sockaddr_in sin;
	char *from[] = { "<alice@example.com>", NULL }, *to[] = { "<bob@external.test>", NULL };
	char qid[32], msgid[80];
	gint64 run = g_get_real_time();
	guint tempfail = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s CONFIG MESSAGE [COUNT]\n", argv[0]);
		return 2;
	}
	message_gmime_init();
	if ((cfg = config_load(argv[1], &errors)) == NULL) {
		for (i = 0; errors != NULL && i < errors->len; i++)
			fprintf(stderr, "%s\n", (char *)g_ptr_array_index(errors, i));
		return 1;
	}
	rt = runtime_new(cfg);
	if (!runtime_load_keys(rt, &e)) {
		fprintf(stderr, "%s\n", e->message);
		return 1;
	}
	snapshot_set(rt);
	if (!g_file_get_contents(argv[2], &raw, &len, NULL)) {
		fprintf(stderr, "cannot read %s\n", argv[2]);
		return 1;
	}
	/* the MTA hands the body over with CRLF line ends */
	if (memchr(raw, '\r', len) == NULL) {
		char **lines = g_strsplit(raw, "\n", -1);
		crlf = g_strjoinv("\r\n", lines);
		g_strfreev(lines);
		g_free(raw);
		raw = crlf;
		len = strlen(raw);
	}
	hdrs = split_headers(raw, len, &body);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);

	c0 = cpu_us();
	for (i = 0; i < count; i++) {
		SMFICTX *ctx = fake_ctx_new();
		unsigned long pf[4];

		g_snprintf(qid, sizeof(qid), "B%08u", i);
		fake_set_macro(ctx, "{daemon_name}", "ORIGINATING");
		t0 = g_get_monotonic_time();
		mlfi_negotiate(ctx, ~0UL, ~0UL, 0, 0, &pf[0], &pf[1], &pf[2], &pf[3]);
		mlfi_connect(ctx, "localhost", (struct sockaddr *)&sin);
		mlfi_envfrom(ctx, from);
		mlfi_envrcpt(ctx, to);
		fake_set_macro(ctx, "{i}", qid);
		mlfi_data(ctx);
		g_snprintf(msgid, sizeof(msgid), "<bench.%u.%" G_GINT64_FORMAT "@example.com>", i, run);
		mlfi_header(ctx, "Message-ID", msgid);
		for (k = 0; k + 1 < hdrs->len; k += 2)
			mlfi_header(ctx, g_ptr_array_index(hdrs, k), g_ptr_array_index(hdrs, k + 1));
		mlfi_eoh(ctx);
		for (k = body; k < len; k += 65535)   /* Postfix's chunk size */
			mlfi_body(ctx, (unsigned char *)raw + k, MIN(65535, len - k));
		t1 = g_get_monotonic_time();
		tempfail += mlfi_eom(ctx) != SMFIS_CONTINUE;
		t2 = g_get_monotonic_time();
		mlfi_close(ctx);
		fake_ctx_free(ctx);
		t_pre += t1 - t0;
		t_eom += t2 - t1;
	}
	c1 = cpu_us();
	printf("%u messages of %" G_GSIZE_FORMAT " bytes, one thread\n", count, len);
	printf("  connect .. body    %8.1f us/message\n", (double)t_pre / count);
	printf("  end of message     %8.1f us/message\n", (double)t_eom / count);
	printf("  cpu (user+system)  %8.1f us/message\n", (double)(c1 - c0) / count);
	printf("  not continued      %8u\n", tempfail);
	snapshot_set(NULL);
	g_ptr_array_unref(hdrs);
	g_free(raw);
	return tempfail != 0;
}

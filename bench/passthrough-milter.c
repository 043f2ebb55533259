/*
 * passthrough-milter.c - a libmilter milter that does nothing but continue.
 *
 * The benchmark's baseline (bench/bench.sh) and a test fixture for the MTA
 * harness (tests/lib/mta.sh). It registers every callback, DATA included
 * (MTA-NOTES: without a DATA callback each message stalls ~40 ms on TCP),
 * and negotiates exactly what crm-milter negotiates (milter/steps.h, used
 * by both): on a unix socket no reply to RCPT, DATA, each header,
 * end of headers and body chunks, and no HELO or unknown-command events;
 * on TCP every step answered, unknown commands skipped; and the same
 * macros. So the two differ only in the work crm-milter does, not in how
 * much the MTA waits for answers or sends. It continues at every step (SMFIS_ACCEPT is never used, so the
 * MTA streams the whole message as it would to a real filter).
 *
 * With -b it is the "replace" baseline of bench.sh --html: every
 * message's body is replaced (smfi_replacebody, in 64 KB pieces as
 * crm-milter sends it) by the same prepared body, crm-milter's tracked
 * output for the benchmark message. That is the work any tracking milter
 * makes Postfix do (a second, larger body to store, queue and send),
 * without crm-milter's own work (parse, rewrite, sign, spool).
 *
 * Usage: passthrough-milter -p SOCKET [-f] [-t TIMEOUT] [-b BODYFILE]
 *   -p SOCKET  unix:/path or inet:PORT@127.0.0.1
 *   -f         stay in the foreground (otherwise daemonize)
 *   -t SECS    libmilter's MTA I/O timeout (default 7210)
 *   -b FILE    replace each body by FILE's bytes (CRLF lines, at most
 *              BODY_MAX bytes), sent as they are
 *
 * No public functions. Per connection: the steps negotiated without a
 * reply (an unsigned long, made at negotiation, freed at close). The
 * body of -b is read in main before any connection and only read after.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "milter/steps.h"

#define BODY_MAX (16 * 1024 * 1024)   /* bytes of a -b body */
#define PIECE_MAX 65535                 /* bytes per smfi_replacebody call */

/* Set once in main, before any connection: is the socket a unix one? */
static int pt_unix_socket;
/* Set once in main, before any connection: the -b body (NULL: none). */
static unsigned char *pt_body_data;
static size_t pt_body_len;

/* The answer to a step that continues: no answer when it was negotiated
 * without one on this connection. */
static sfsistat go_on(SMFICTX *ctx, unsigned long step)
{
	const unsigned long *nr = smfi_getpriv(ctx);

	return nr != NULL && (*nr & step) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* Connection opened: nothing to remember. */
static sfsistat pt_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx; (void)host; (void)addr;
	return SMFIS_CONTINUE;
}

/* HELO/EHLO: continue. */
static sfsistat pt_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx; (void)helo;
	return SMFIS_CONTINUE;
}

/* MAIL FROM: continue. */
static sfsistat pt_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx; (void)argv;
	return SMFIS_CONTINUE;
}

/* RCPT TO: continue. */
static sfsistat pt_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)argv;
	return go_on(ctx, SMFIP_NR_RCPT);
}

/* DATA command: continue (registered on purpose, see the file header). */
static sfsistat pt_data(SMFICTX *ctx)
{
	return go_on(ctx, SMFIP_NR_DATA);
}

/* One header: continue. */
static sfsistat pt_header(SMFICTX *ctx, char *name, char *value)
{
	(void)name; (void)value;
	return go_on(ctx, SMFIP_NR_HDR);
}

/* End of headers: continue. */
static sfsistat pt_eoh(SMFICTX *ctx)
{
	return go_on(ctx, SMFIP_NR_EOH);
}

/* A body chunk: continue. */
static sfsistat pt_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)chunk; (void)len;
	return go_on(ctx, SMFIP_NR_BODY);
}

/* End of message: let it go unchanged, or with the -b body. A refused
 * piece tempfails the message: a baseline that silently did less work
 * would flatter the comparison. */
static sfsistat pt_eom(SMFICTX *ctx)
{
	size_t off = 0;

	while (pt_body_data != NULL && off < pt_body_len) {
		size_t n = pt_body_len - off < PIECE_MAX ? pt_body_len - off : PIECE_MAX;
		if (smfi_replacebody(ctx, pt_body_data + off, (int)n) != MI_SUCCESS) {
			fprintf(stderr, "passthrough-milter: smfi_replacebody refused\n");
			return SMFIS_TEMPFAIL;
		}
		off += n;
	}
	return SMFIS_CONTINUE;
}

/* Message aborted: nothing to free. */
static sfsistat pt_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* Connection closed: nothing to free. */
static sfsistat pt_close(SMFICTX *ctx)
{
	free(smfi_getpriv(ctx));
	(void)smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

/* Unknown SMTP command: continue. */
static sfsistat pt_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx; (void)cmd;
	return SMFIS_CONTINUE;
}

/* Option negotiation: no modifications (with -b: body replacement only);
 * the steps and macros crm-milter asks for, of those the MTA offers (see
 * the file header). */
static sfsistat pt_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3,
			     unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	unsigned long *nr;

	(void)f2; (void)f3;
	*pf0 = (SMFIF_SETSYMLIST | (pt_body_data != NULL ? SMFIF_CHGBODY : 0)) & f0;
	if (pt_body_data != NULL && (*pf0 & SMFIF_CHGBODY) == 0)
		return SMFIS_REJECT;	/* cannot do what -b asks: refuse the connection */
	nr = malloc(sizeof *nr);
	*pf1 = (pt_unix_socket ? STEPS_NO_REPLY | STEPS_SKIPPED : STEPS_SKIPPED_TCP) & f1;
	*pf2 = 0;
	*pf3 = 0;
	if ((*pf0 & SMFIF_SETSYMLIST) != 0) {
#define ASK(stage, names) (void)smfi_setsymlist(ctx, stage, (char *)names);
		STEPS_MACROS(ASK)
#undef ASK
	}
	if (nr == NULL)
		return SMFIS_ALL_OPTS;	/* libmilter's defaults: every step answered */
	*nr = *pf1 & STEPS_NO_REPLY;
	free(smfi_getpriv(ctx));
	if (smfi_setpriv(ctx, nr) == MI_FAILURE) {
		free(nr);
		return SMFIS_ALL_OPTS;
	}
	return SMFIS_CONTINUE;
}

/* Print how to call us and exit with status 2. */
static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s -p SOCKET [-f] [-t TIMEOUT] [-b BODYFILE]\n"
		"  SOCKET: unix:/path or inet:PORT@127.0.0.1\n", prog);
	exit(2);
}

/* Read the -b body into pt_body_data; 0, or -1 with a message printed. */
static int load_body(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "passthrough-milter: %s: %s\n", path, strerror(errno));
		return -1;
	}
	pt_body_data = malloc(BODY_MAX + 1);
	n = pt_body_data != NULL ? fread(pt_body_data, 1, BODY_MAX + 1, f) : 0;
	if (pt_body_data == NULL || ferror(f) || n == 0 || n > BODY_MAX) {
		fprintf(stderr, "passthrough-milter: %s: unreadable, empty or over %d bytes\n",
			path, BODY_MAX);
		fclose(f);
		free(pt_body_data);
		pt_body_data = NULL;
		return -1;
	}
	fclose(f);
	pt_body_len = n;
	return 0;
}

/* Parse flags, register, open the socket and run libmilter's loop. */
int main(int argc, char **argv)
{
	struct smfiDesc desc;
	const char *sock = NULL;
	int foreground = 0;
	int timeout = 7210;
	int opt;

	while ((opt = getopt(argc, argv, "p:ft:b:")) != -1) {
		switch (opt) {
		case 'b':
			if (pt_body_data != NULL || load_body(optarg) != 0)
				usage(argv[0]);
			break;
		case 'p':
			sock = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't': {
			char *end = NULL;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v <= 0 || v > 86400)
				usage(argv[0]);
			timeout = (int)v;
			break;
		}
		default:
			usage(argv[0]);
		}
	}
	if (sock == NULL || optind != argc)
		usage(argv[0]);
	pt_unix_socket = strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0 ||
	    sock[0] == '/';

	memset(&desc, 0, sizeof desc);
	desc.xxfi_name = (char *)"passthrough";
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = pt_body_data != NULL ? SMFIF_CHGBODY : 0;
	desc.xxfi_connect = pt_connect;
	desc.xxfi_helo = pt_helo;
	desc.xxfi_envfrom = pt_envfrom;
	desc.xxfi_envrcpt = pt_envrcpt;
	desc.xxfi_header = pt_header;
	desc.xxfi_eoh = pt_eoh;
	desc.xxfi_body = pt_body;
	desc.xxfi_eom = pt_eom;
	desc.xxfi_abort = pt_abort;
	desc.xxfi_close = pt_close;
	desc.xxfi_unknown = pt_unknown;
	desc.xxfi_data = pt_data;
	desc.xxfi_negotiate = pt_negotiate;

	if (smfi_setconn((char *)sock) == MI_FAILURE) {
		fprintf(stderr, "passthrough-milter: bad socket %s\n", sock);
		return 1;
	}
	if (smfi_settimeout(timeout) == MI_FAILURE)
		return 1;
	if (smfi_register(desc) == MI_FAILURE) {
		fprintf(stderr, "passthrough-milter: smfi_register failed\n");
		return 1;
	}
	/* remove a stale socket and create it; */
	umask(0);	/* the MTA runs as another user: the socket must be 0777 */
	if (smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "passthrough-milter: cannot open %s: %s\n", sock,
			strerror(errno));
		return 1;
	}
	if (!foreground && daemon(0, 0) != 0) {
		perror("passthrough-milter: daemon");
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}

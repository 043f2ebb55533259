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
 * Usage: passthrough-milter -p SOCKET [-f] [-t TIMEOUT]
 *   -p SOCKET  unix:/path or inet:PORT@127.0.0.1
 *   -f         stay in the foreground (otherwise daemonize)
 *   -t SECS    libmilter's MTA I/O timeout (default 7210)
 *
 * No public functions. Per connection: the steps negotiated without a
 * reply (an unsigned long, made at negotiation, freed at close).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "milter/steps.h"

/* Set once in main, before any connection: is the socket a unix one? */
static int pt_unix_socket;

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

/* End of message: let it go unchanged. */
static sfsistat pt_eom(SMFICTX *ctx)
{
	(void)ctx;
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

/* Option negotiation: no modifications; the steps and macros crm-milter
 * asks for, of those the MTA offers (see the file header). */
static sfsistat pt_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3,
			     unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	unsigned long *nr = malloc(sizeof *nr);

	(void)f2; (void)f3;
	*pf0 = SMFIF_SETSYMLIST & f0;
	*pf1 = (pt_unix_socket ? STEPS_NO_REPLY | STEPS_SKIPPED : STEPS_SKIPPED_TCP) & f1;
	*pf2 = 0;
	*pf3 = 0;
	if (*pf0 != 0) {
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
	fprintf(stderr, "usage: %s -p SOCKET [-f] [-t TIMEOUT]\n"
		"  SOCKET: unix:/path or inet:PORT@127.0.0.1\n", prog);
	exit(2);
}

/* Parse flags, register, open the socket and run libmilter's loop. */
int main(int argc, char **argv)
{
	struct smfiDesc desc;
	const char *sock = NULL;
	int foreground = 0;
	int timeout = 7210;
	int opt;

	while ((opt = getopt(argc, argv, "p:ft:")) != -1) {
		switch (opt) {
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
	desc.xxfi_flags = 0;
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

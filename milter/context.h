/*
 * context.h - crm-milter's connection and message contexts (STYLE.md: a
 * connection context made at connect, a message context made at MAIL
 * FROM and freed from abort, close and the next MAIL FROM), shared by the
 * callbacks (callbacks.c) and the end-of-message pipeline (eom.c).
 *
 * Ownership: a conn_ctx owns its msg_ctx and a runtime reference; both are
 * freed by callbacks.c.
 *
 * Public: ctx_qid, ctx_fail.
 */
#ifndef CRM_CONTEXT_H
#define CRM_CONTEXT_H

#include <glib.h>
#include "msgbuf.h"
#include "snapshot.h"

/* One message, from MAIL FROM to end of message or abort. */
typedef struct msg_ctx {
	char *qid;               /* {i}, known from DATA on (Postfix) */
	char *mail_from;         /* bare envelope sender, "" for <> */
	char *auth_user;         /* {auth_authen} */
	GPtrArray *rcpts;        /* char *, bare */
	gboolean rcpts_capped;
	GString *headers;        /* the header block as received, CRLF */
	gboolean headers_capped;
	char *message_id;
	GChecksum *digest;       /* non-trace headers + body, for idem keys */
	msgbuf *raw;             /* header block + body, up to max_message_size */
	char *error;             /* first internal error, if any */
} msg_ctx;

/* One SMTP connection (or one non-SMTP submission). Made in
 * mlfi_negotiate (or mlfi_connect when the MTA did not negotiate). */
typedef struct conn_ctx {
	milter_runtime *rt;      /* reference taken at connect */
	char *client_addr;
	char *daemon_name;
	gboolean local_submission;
	unsigned long no_reply;  /* SMFIP_NR_* steps negotiated (mlfi_negotiate):
	                            their callbacks answer SMFIS_NOREPLY */
	msg_ctx *msg;
} conn_ctx;

/* The queue id for log lines ("NOQUEUE" before the MTA has one). */
const char *ctx_qid(const msg_ctx *m);
/* Remember the first internal error of a message. */
void ctx_fail(msg_ctx *m, const char *what, const GError *e);

#endif

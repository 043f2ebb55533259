/*
 * callbacks.c - crm-milter's mlfi_* callbacks. See callbacks.h.
 *
 * SECURITY: everything here is attacker-controlled input (envelope,
 * headers, body); every buffer is bounded by the config's limits. No
 * network, no sleeping: the only blocking call is the spool's one
 * transaction at end of message.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "callbacks.h"
#include "context.h"
#include "eom.h"
#include "seam.h"
#include "snapshot.h"
#include "steps.h"
#include "idem.h"
#include "log.h"
#include "msgbuf.h"

/* Free a message context; NULL-safe, returns NULL. */
static msg_ctx *
msg_free(msg_ctx *m)
{
	if (m == NULL)
		return NULL;
	g_free(m->qid);
	g_free(m->mail_from);
	g_free(m->auth_user);
	g_ptr_array_unref(m->rcpts);
	g_string_free(m->headers, TRUE);
	g_free(m->message_id);
	g_checksum_free(m->digest);
	msgbuf_free(m->raw);
	g_free(m->error);
	g_free(m);
	return NULL;
}

/* Free a connection context; NULL-safe, returns NULL. */
static conn_ctx *
conn_free(conn_ctx *c)
{
	if (c == NULL)
		return NULL;
	msg_free(c->msg);
	g_free(c->client_addr);
	g_free(c->daemon_name);
	runtime_unref(c->rt);
	g_free(c);
	return NULL;
}

/* Our connection context, or NULL (e.g. no runtime at connect). */
static conn_ctx *
conn_get(SMFICTX *ctx)
{
	return seam_getpriv(ctx);
}

/* A copy of a macro's value, or NULL. */
static char *
macro_dup(SMFICTX *ctx, const char *name)
{
	const char *v = seam_getsymval(ctx, name);

	return (v != NULL && *v != '\0') ? g_strdup(v) : NULL;
}

/* The queue id for log lines ("NOQUEUE" before the MTA has one). */
const char *
ctx_qid(const msg_ctx *m)
{
	return (m != NULL && m->qid != NULL) ? m->qid : "NOQUEUE";
}

/* Read {i} if we do not have it yet. */
static void
update_qid(SMFICTX *ctx, msg_ctx *m)
{
	if (m->qid == NULL)
		m->qid = macro_dup(ctx, "{i}");
}

/* Remember the first internal error of a message. */
void
ctx_fail(msg_ctx *m, const char *what, const GError *e)
{
	if (m->error == NULL)
		m->error = g_strdup_printf("%s: %s", what, e != NULL ? e->message : "failed");
}

/* An envelope address without its angle brackets and blanks. */
static char *
bare_address(const char *arg)
{
	char *s = g_strstrip(g_strdup(arg != NULL ? arg : ""));
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
	return s;
}

/* Text form of the client address, and whether this is Postfix's
 * emulated connect for non-SMTP mail (localhost, 127.0.0.1, port 0). */
static char *
client_text(const char *hostname, const _SOCK_ADDR *sa, gboolean *local)
{
	char buf[INET6_ADDRSTRLEN];

	*local = FALSE;
	if (sa == NULL) {
		*local = TRUE;          /* Sendmail: locally submitted */
		return NULL;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)) == NULL)
			return NULL;
		*local = in->sin_port == 0 && hostname != NULL &&
		    strcmp(hostname, "localhost") == 0 && strcmp(buf, "127.0.0.1") == 0;
		return g_strdup(buf);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf)) == NULL)
			return NULL;
		return g_strdup(buf);
	}
	if (sa->sa_family == AF_UNIX)
		*local = TRUE;
	return NULL;
}

/* What we may do at end of message. */
#define CB_ACTIONS (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_CHGBODY)

/* What a step that always continues answers on this connection. */
static sfsistat
go_on(const conn_ctx *c, unsigned long step)
{
	return c != NULL && (c->no_reply & step) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* Ask for the macros the callbacks read (STEPS_MACROS in steps.h). */
static void
ask_macros(SMFICTX *ctx)
{
#define ASK(stage, names) \
	if (seam_setsymlist(ctx, stage, names) != MI_SUCCESS) \
		log_msg(CRM_LOG_WARNING, NULL, "cannot ask the MTA for macros %s; its own list applies", names);
	STEPS_MACROS(ASK)
#undef ASK
}

/* Option negotiation, before connect: our actions, and of the steps above
 * only those the MTA offers (Postfix >= 2.6 and Sendmail >= 8.14 offer
 * all), and the macros we read when the MTA lets us name them. The
 * connection context is made here to remember the steps. */
sfsistat
mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
    unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	conn_ctx *c;
	milter_runtime *rt = snapshot_get();
	gboolean local = rt != NULL && config_socket_path(rt->cfg->socket) != NULL;

	(void)f2;
	(void)f3;
	runtime_unref(rt);
	*pf0 = (CB_ACTIONS | SMFIF_SETSYMLIST) & f0;
	*pf1 = (local ? STEPS_NO_REPLY | STEPS_SKIPPED : STEPS_SKIPPED_TCP) & f1;
	*pf2 = 0;
	*pf3 = 0;
	if ((*pf0 & SMFIF_CHGBODY) == 0)
		log_msg(CRM_LOG_WARNING, NULL, "the MTA does not offer body replacement: tracking cannot rewrite");
	if ((*pf0 & SMFIF_SETSYMLIST) != 0)
		ask_macros(ctx);
	c = g_new0(conn_ctx, 1);
	c->no_reply = *pf1 & STEPS_NO_REPLY;
	conn_free(seam_getpriv(ctx));
	if (seam_setpriv(ctx, c) != MI_SUCCESS) {
		conn_free(c);
		return SMFIS_ALL_OPTS;   /* libmilter's defaults: every step answered */
	}
	return SMFIS_CONTINUE;
}

/* New connection: take the current runtime. */
sfsistat
mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	conn_ctx *c = conn_get(ctx);
	milter_runtime *rt = snapshot_get();

	if (rt == NULL) {
		if (c != NULL) {
			(void)seam_setpriv(ctx, NULL);
			conn_free(c);
		}
		return SMFIS_ACCEPT;
	}
	if (c == NULL)
		c = g_new0(conn_ctx, 1);
	runtime_unref(c->rt);
	c->rt = rt;
	c->client_addr = macro_dup(ctx, "{client_addr}");
	if (c->client_addr == NULL) {
		c->client_addr = client_text(hostname, hostaddr, &c->local_submission);
	} else {
		g_free(client_text(hostname, hostaddr, &c->local_submission));
	}
	c->daemon_name = macro_dup(ctx, "{daemon_name}");
	if (seam_setpriv(ctx, c) != MI_SUCCESS) {
		log_msg(CRM_LOG_ERR, NULL, "cannot attach connection context; passing connection");
		conn_free(c);
		return SMFIS_ACCEPT;
	}
	return SMFIS_CONTINUE;
}

/* HELO: nothing to keep (not asked for when the MTA negotiates). */
sfsistat
mlfi_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return SMFIS_CONTINUE;
}

/* MAIL FROM: a fresh message context. */
sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	conn_ctx *c = conn_get(ctx);
	msg_ctx *m;

	if (c == NULL)
		return SMFIS_ACCEPT;
	c->msg = msg_free(c->msg);
	m = g_new0(msg_ctx, 1);
	m->mail_from = bare_address(argv != NULL ? argv[0] : NULL);
	m->auth_user = macro_dup(ctx, "{auth_authen}");
	m->rcpts = g_ptr_array_new_with_free_func(g_free);
	m->headers = g_string_sized_new(2048);
	m->digest = g_checksum_new(G_CHECKSUM_SHA256);
	m->qid = macro_dup(ctx, "{i}");
	if (c->daemon_name == NULL)
		c->daemon_name = macro_dup(ctx, "{daemon_name}");
	c->msg = m;
	return SMFIS_CONTINUE;
}

/* RCPT TO: keep up to max_recipients. */
sfsistat
mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	conn_ctx *c = conn_get(ctx);
	msg_ctx *m = c != NULL ? c->msg : NULL;

	if (m == NULL)
		return go_on(c, SMFIP_NR_RCPT);
	if ((int)m->rcpts->len >= c->rt->cfg->max_recipients) {
		m->rcpts_capped = TRUE;
		return go_on(c, SMFIP_NR_RCPT);
	}
	g_ptr_array_add(m->rcpts, bare_address(argv != NULL ? argv[0] : NULL));
	return go_on(c, SMFIP_NR_RCPT);
}

/* DATA: the queue id exists now. */
sfsistat
mlfi_data(SMFICTX *ctx)
{
	conn_ctx *c = conn_get(ctx);

	if (c != NULL && c->msg != NULL)
		update_qid(ctx, c->msg);
	return go_on(c, SMFIP_NR_DATA);
}

/* One header: keep it (bounded), note Message-ID, feed the digest. */
sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	conn_ctx *c = conn_get(ctx);
	msg_ctx *m = c != NULL ? c->msg : NULL;
	gsize need;

	if (m == NULL || name == NULL)
		return go_on(c, SMFIP_NR_HDR);
	if (value == NULL)
		value = "";
	need = strlen(name) + strlen(value) + 4;
	if (m->headers_capped || m->headers->len + need > (gsize)c->rt->cfg->max_header_size) {
		m->headers_capped = TRUE;
		return go_on(c, SMFIP_NR_HDR);
	}
	g_string_append(m->headers, name);
	g_string_append(m->headers, ": ");
	g_string_append(m->headers, value);
	g_string_append(m->headers, "\r\n");
	if (m->message_id == NULL && g_ascii_strcasecmp(name, "Message-ID") == 0)
		m->message_id = g_strdup(value);
	if (!idem_is_trace_header(name)) {
		g_checksum_update(m->digest, (const guchar *)name, -1);
		g_checksum_update(m->digest, (const guchar *)value, -1);
	}
	return go_on(c, SMFIP_NR_HDR);
}

/* End of headers: start capturing the message (the decision needs the
 * parsed message, so it is made at end of message). */
sfsistat
mlfi_eoh(SMFICTX *ctx)
{
	conn_ctx *c = conn_get(ctx);
	msg_ctx *m = c != NULL ? c->msg : NULL;
	const crm_config *cfg;
	GError *e = NULL;

	if (m == NULL)
		return go_on(c, SMFIP_NR_EOH);
	cfg = c->rt->cfg;
	update_qid(ctx, m);
	if (m->headers_capped) {
		log_msg(CRM_LOG_WARNING, ctx_qid(m),
		    "headers exceed max_header_size (%" G_GINT64_FORMAT "); decided on the envelope only, not saved",
		    cfg->max_header_size);
		return go_on(c, SMFIP_NR_EOH);
	}
	if (m->rcpts_capped)
		log_msg(CRM_LOG_WARNING, ctx_qid(m), "more than %d recipients; only the first are recorded",
		    cfg->max_recipients);
	m->raw = msgbuf_new((gsize)cfg->body_memory_cap, (gsize)cfg->max_message_size, cfg->tmp_dir);
	if (msgbuf_append(m->raw, m->headers->str, m->headers->len, &e) != MSGBUF_OK ||
	    msgbuf_append(m->raw, "\r\n", 2, &e) != MSGBUF_OK) {
		if (e != NULL)
			ctx_fail(m, "capturing headers", e);
		else
			log_msg(CRM_LOG_WARNING, ctx_qid(m), "message exceeds max_message_size; not saved");
		g_clear_error(&e);
		m->raw = msgbuf_free(m->raw);
	}
	return go_on(c, SMFIP_NR_EOH);
}

/* A body chunk: keep it (bounded). */
sfsistat
mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	conn_ctx *c = conn_get(ctx);
	msg_ctx *m = c != NULL ? c->msg : NULL;
	GError *e = NULL;

	if (m == NULL || m->raw == NULL)
		return go_on(c, SMFIP_NR_BODY);
	switch (msgbuf_append(m->raw, chunk, len, &e)) {
	case MSGBUF_OK:
		if (m->message_id == NULL)
			g_checksum_update(m->digest, chunk, (gssize)len);
		break;
	case MSGBUF_TOO_BIG:
		log_msg(CRM_LOG_WARNING, ctx_qid(m),
		    "message exceeds max_message_size (%" G_GINT64_FORMAT "); not saved",
		    c->rt->cfg->max_message_size);
		m->raw = msgbuf_free(m->raw);
		break;
	case MSGBUF_ERROR:
		ctx_fail(m, "capturing body", e);
		m->raw = msgbuf_free(m->raw);
		break;
	}
	g_clear_error(&e);
	return go_on(c, SMFIP_NR_BODY);
}

/* End of message: the pipeline in eom.c, then a fresh message context. */
sfsistat
mlfi_eom(SMFICTX *ctx)
{
	conn_ctx *c = conn_get(ctx);
	msg_ctx *m = c != NULL ? c->msg : NULL;
	sfsistat r;

	if (m == NULL)
		return SMFIS_CONTINUE;
	update_qid(ctx, m);
	r = eom_run(ctx, c, m);
	c->msg = msg_free(c->msg);
	return r;
}

/* The MTA dropped the message. */
sfsistat
mlfi_abort(SMFICTX *ctx)
{
	conn_ctx *c = conn_get(ctx);

	if (c != NULL)
		c->msg = msg_free(c->msg);
	return SMFIS_CONTINUE;
}

/* End of connection. */
sfsistat
mlfi_close(SMFICTX *ctx)
{
	conn_ctx *c = conn_get(ctx);

	if (c != NULL) {
		(void)seam_setpriv(ctx, NULL);
		conn_free(c);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "crm-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = CB_ACTIONS,
	.xxfi_connect = mlfi_connect,
	.xxfi_helo = mlfi_helo,
	.xxfi_envfrom = mlfi_envfrom,
	.xxfi_envrcpt = mlfi_envrcpt,
	.xxfi_header = mlfi_header,
	.xxfi_eoh = mlfi_eoh,
	.xxfi_body = mlfi_body,
	.xxfi_eom = mlfi_eom,
	.xxfi_abort = mlfi_abort,
	.xxfi_close = mlfi_close,
	.xxfi_unknown = NULL,
	.xxfi_data = mlfi_data,
	.xxfi_negotiate = mlfi_negotiate,
};

/* The description to register. */
struct smfiDesc *
callbacks_desc(void)
{
	return &desc;
}

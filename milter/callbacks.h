/*
 * callbacks.h - crm-milter's libmilter callbacks (mlfi_*) and the filter
 * description that registers them.
 *
 * Protocol: mlfi_negotiate asks the MTA not to wait for answers to RCPT,
 * DATA, each header, end of headers and body chunks (those callbacks then
 * answer SMFIS_NOREPLY), and not to send HELO or unknown commands: fewer
 * round trips per message. That is on a unix socket only: over TCP, and
 * with an MTA that does not negotiate, every step is answered.
 *
 * Contexts (STYLE.md): a connection context made in mlfi_negotiate (or
 * mlfi_connect), holding a reference to the runtime (config snapshot +
 * spool pool) current at connect; a message context made in mlfi_envfrom and freed by one function from
 * mlfi_abort, mlfi_close and the next mlfi_envfrom. All MTA access goes
 * through milter/seam.h.
 *
 * Per message: envelope and macros are kept; headers are kept up to
 * max_header_size; at end of headers the decision is made (classify, rule)
 * and only a message that will be saved has its body captured (memory up
 * to body_memory_cap, then a temp file, up to max_message_size). At end of
 * message a save job goes to the spool in one transaction and the message
 * continues unmodified. Any internal failure: one log line with the queue
 * id, and the message continues (or tempfails, per on_internal_error).
 *
 * Public: callbacks_desc, mlfi_* (for the tests).
 */
#ifndef CRM_CALLBACKS_H
#define CRM_CALLBACKS_H

#include <libmilter/mfapi.h>

/* The filter description for smfi_register (name and every callback). */
struct smfiDesc *callbacks_desc(void);

sfsistat mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
    unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3);
sfsistat mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr);
sfsistat mlfi_helo(SMFICTX *ctx, char *helo);
sfsistat mlfi_envfrom(SMFICTX *ctx, char **argv);
sfsistat mlfi_envrcpt(SMFICTX *ctx, char **argv);
sfsistat mlfi_data(SMFICTX *ctx);
sfsistat mlfi_header(SMFICTX *ctx, char *name, char *value);
sfsistat mlfi_eoh(SMFICTX *ctx);
sfsistat mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len);
sfsistat mlfi_eom(SMFICTX *ctx);
sfsistat mlfi_abort(SMFICTX *ctx);
sfsistat mlfi_close(SMFICTX *ctx);

#endif

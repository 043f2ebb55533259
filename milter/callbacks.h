/*
 * callbacks.h - crm-milter's libmilter callbacks (mlfi_*) and the filter
 * description that registers them.
 *
 * Contexts (STYLE.md): a connection context made in mlfi_connect, holding
 * a reference to the runtime (config snapshot + spool pool) current then;
 * a message context made in mlfi_envfrom and freed by one function from
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

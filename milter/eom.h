/*
 * eom.h - crm-milter's end-of-message pipeline: parse once, decide
 * (classify, sender controls, correlation, rule), apply the edits the
 * decision asks for (control headers, dropbox recipients, subject) through
 * the seam, queue the save job in one group-committed transaction.
 *
 * Public: eom_run.
 */
#ifndef CRM_EOM_H
#define CRM_EOM_H

#include <libmilter/mfapi.h>
#include "context.h"

/* The whole end of message; returns the answer for the MTA. */
sfsistat eom_run(SMFICTX *ctx, conn_ctx *c, msg_ctx *m);

#endif

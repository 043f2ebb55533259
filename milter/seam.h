/*
 * seam.h - the one seam between crm-milter's callbacks and libmilter.
 *
 * Every smfi_* call the callbacks make goes through these functions.
 * milter/seam.c forwards them to libmilter; the unit tests link
 * tests/unit/fake_seam.c instead and drive the mlfi_* callbacks with no
 * MTA (as OpenDKIM's -t mode does).
 *
 * Public: seam_getpriv, seam_setpriv, seam_getsymval, seam_setsymlist, seam_setreply,
 *         seam_chgheader, seam_addheader, seam_delrcpt, seam_replacebody.
 */
#ifndef CRM_SEAM_H
#define CRM_SEAM_H

#include <libmilter/mfapi.h>

void *seam_getpriv(SMFICTX *ctx);
int seam_setpriv(SMFICTX *ctx, void *priv);
/* A macro's value, or NULL when the MTA did not send it. Borrowed. */
const char *seam_getsymval(SMFICTX *ctx, const char *name);
/* Ask for these macros (space-separated) at stage (SMFIM_*); only in
 * negotiation, once per stage. */
int seam_setsymlist(SMFICTX *ctx, int stage, const char *macros);
int seam_setreply(SMFICTX *ctx, const char *rcode, const char *xcode, const char *msg);
int seam_chgheader(SMFICTX *ctx, const char *name, int idx, const char *value);
int seam_addheader(SMFICTX *ctx, const char *name, const char *value);
int seam_delrcpt(SMFICTX *ctx, const char *rcpt);
int seam_replacebody(SMFICTX *ctx, const unsigned char *body, int len);

#endif

/*
 * seam.c - libmilter behind the seam. See seam.h. The only file of ours
 * that calls smfi_* on a message.
 */
#include "seam.h"

/* Our per-connection state. */
void *
seam_getpriv(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* Set our per-connection state. */
int
seam_setpriv(SMFICTX *ctx, void *priv)
{
	return smfi_setpriv(ctx, priv);
}

/* A macro the MTA sent. */
const char *
seam_getsymval(SMFICTX *ctx, const char *name)
{
	return smfi_getsymval(ctx, (char *)name);
}

/* The macros we want at one stage (negotiation only). */
int
seam_setsymlist(SMFICTX *ctx, int stage, const char *macros)
{
	return smfi_setsymlist(ctx, stage, (char *)macros);
}

/* The SMTP reply for a tempfail/reject. */
int
seam_setreply(SMFICTX *ctx, const char *rcode, const char *xcode, const char *msg)
{
	return smfi_setreply(ctx, (char *)rcode, (char *)xcode, (char *)msg);
}

/* Change (or, value NULL, delete) the idx-th header called name. */
int
seam_chgheader(SMFICTX *ctx, const char *name, int idx, const char *value)
{
	return smfi_chgheader(ctx, (char *)name, idx, (char *)value);
}

/* Append a header. */
int
seam_addheader(SMFICTX *ctx, const char *name, const char *value)
{
	return smfi_addheader(ctx, (char *)name, (char *)value);
}

/* Remove an envelope recipient. */
int
seam_delrcpt(SMFICTX *ctx, const char *rcpt)
{
	return smfi_delrcpt(ctx, (char *)rcpt);
}

/* Replace the body (may be called several times to send it in pieces). */
int
seam_replacebody(SMFICTX *ctx, const unsigned char *body, int len)
{
	return smfi_replacebody(ctx, (unsigned char *)body, len);
}

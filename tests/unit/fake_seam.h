/*
 * fake_seam.h - a stand-in for libmilter behind milter/seam.h, so the unit
 * tests can drive the mlfi_* callbacks with no MTA. A fake context holds
 * the macros the "MTA" sent, our private pointer, and what we asked the
 * MTA to do (reply codes, header and recipient edits, macro lists). Once
 * a macro list is asked for, every macro read that no list names is
 * noted in unasked (an MTA honouring the lists would not send it).
 *
 * Public: fake_ctx_new, fake_ctx_free, fake_set_macro.
 */
#ifndef CRM_FAKE_SEAM_H
#define CRM_FAKE_SEAM_H

#include <glib.h>
#include <libmilter/mfapi.h>

struct smfi_str {
	void *priv;
	GHashTable *macros;      /* name -> value */
	char *reply;             /* "rcode xcode msg" of the last setreply */
	GPtrArray *edits;        /* "chgheader Name idx value", "delrcpt x", ... */
	char *symlist[SMFIM_LAST + 1]; /* macros asked for per stage (setsymlist) */
	GPtrArray *unasked;      /* macros read that no symlist names, once any is set */
	GByteArray *body;        /* every replacebody piece, in order */
	gboolean refuse_body;    /* replacebody answers MI_FAILURE */
};

SMFICTX *fake_ctx_new(void);
void fake_ctx_free(SMFICTX *ctx);
/* value NULL removes the macro. */
void fake_set_macro(SMFICTX *ctx, const char *name, const char *value);

#endif

/*
 * outgoing.h - what crm-milter changes in a message before it leaves, in
 * one place for the milter (which hands the edits to the MTA) and for the
 * dry run (`crm-milterctl test --output`, which writes the message as the
 * MTA would pass it on).
 *
 *   outgoing_header_edits  the header changes of a decision, in the order
 *                          the milter applies them: every copy of each
 *                          control header removed (from the last copy, so
 *                          the indexes stay valid), then the Subject
 *                          replaced (or added when there is none);
 *   outgoing_track         the tracking rewrite (pixel, signed links) with
 *                          the options of the config, under a new
 *                          tracking id;
 *   outgoing_render        the raw message with the header edits applied
 *                          and the body replaced, as smfi_chgheader and
 *                          smfi_replacebody leave it: "Name: value" lines,
 *                          a removed header goes with its folded lines, a
 *                          changed one keeps its place, an added one goes
 *                          last; every other byte as it was.
 *
 * Ownership: outgoing_header_edits returns a new array of outgoing_hdr
 * (freed with the array); the caller owns everything it passes in.
 * *track_hex from outgoing_track is new (g_free).
 *
 * Public: outgoing_header_edits, outgoing_track, outgoing_render.
 */
#ifndef CRM_OUTGOING_H
#define CRM_OUTGOING_H

#include <glib.h>

#include "config.h"
#include "decide.h"
#include "message.h"
#include "html_links.h"
#include "rewrite.h"
#include "token.h"

typedef struct outgoing_hdr {
	char *name;     /* owned */
	int index;      /* 1-based among the headers of that name */
	char *value;    /* owned; NULL: delete */
} outgoing_hdr;

/* The header edits of d; new_subject (encoded, or NULL) replaces Subject. */
GPtrArray *outgoing_header_edits(const crm_decision *d, const char *new_subject);

/*
 * Rewrite raw for tracking with cfg's tracking options and ring; the
 * tokenizer may be NULL; parsed (may be NULL) is raw already parsed, so it
 * is not parsed again. On REWRITE_DONE body holds the new body and
 * *track_hex (if not NULL) the new message's tracking id in hex. *reason
 * and err as rewrite_message.
 */
rewrite_status outgoing_track(const crm_config *cfg, const token_ring *ring,
    html_links_ctx *tokenizer, guint track, const guint8 *raw, gsize len,
    const crm_message *parsed, GByteArray *body, rewrite_stats *stats,
    char **track_hex, char **reason, GError **err);

/* raw with edits (may be NULL) applied and the body replaced by body (NULL:
 * kept), appended to out. Line ends of added lines follow the message's. */
void outgoing_render(const guint8 *raw, gsize len, const GPtrArray *edits,
    const GByteArray *body, GByteArray *out);

#endif

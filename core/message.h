/*
 * message.h - one message parsed once (GMime) at end of message, and the
 * facts the rules, the sender controls and correlation read from it.
 *
 * Parts are sorted into body text, inline parts and attachments:
 * an inline part is one with Content-Disposition inline that is an image or
 * has a Content-ID, or any part with a Content-ID inside multipart/related
 * (a cid: reference target) whose disposition is not attachment; those are
 * never attachments, and neither are
 * signatures (S/MIME, PGP) nor unnamed text parts (bodies, alternatives, a
 * calendar invitation's text/calendar). An attachment is any other leaf
 * with Content-Disposition attachment or a filename, or a non-text leaf
 * (message/rfc822 counts as one attachment).
 *
 * Ownership: message_parse returns a new crm_message (message_free,
 * NULL-safe, returns NULL); strings it returns are borrowed from it.
 *
 * Public: message_parse, message_free, message_header, message_headers,
 *         message_mime, message_headers_end, message_size, message_has_attachments,
 *         message_part_is_inline, message_part_is_attachment,
 *         message_gmime_init.
 */
#ifndef CRM_MESSAGE_H
#define CRM_MESSAGE_H

#include <glib.h>
#include <gmime/gmime.h>

typedef struct crm_message crm_message;

/* Make GMime ready (once, thread-safe). */
void message_gmime_init(void);
/* Parse raw bytes (borrowed for the call only). NULL with err when GMime
 * cannot make a message of them. */
crm_message *message_parse(const guint8 *data, gsize len, GError **err);
crm_message *message_free(crm_message *m);

GMimeMessage *message_mime(const crm_message *m);
/* Where the header block ended (GMime's parser offset; the rewrite reuses
 * the parse with it). */
gint64 message_headers_end(const crm_message *m);
gsize message_size(const crm_message *m);
/* The first value of a header (unfolded, RFC 2047 decoded), or NULL. */
const char *message_header(const crm_message *m, const char *name);
/* Every value of a header, in order (new array of borrowed strings). */
GPtrArray *message_headers(const crm_message *m, const char *name);
gboolean message_has_attachments(const crm_message *m);
/* Is this leaf (with its parent) an inline part (see above)? */
gboolean message_part_is_inline(GMimeObject *parent, GMimeObject *part);
/* Is this leaf an attachment (see above)? The one definition, shared with
 * activity.c. */
gboolean message_part_is_attachment(GMimeObject *parent, GMimeObject *part);

#endif

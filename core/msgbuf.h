/*
 * msgbuf.h - a bounded buffer for one raw message: held in memory up to
 * mem_cap bytes, spilled to an anonymous temp file in spill_dir beyond it,
 * refused past max_size.
 *
 * The temp file is unlinked as soon as it is made, so a crash leaves
 * nothing behind. msgbuf_data maps it back read-only when the whole
 * message is wanted (no second copy in memory).
 *
 * Ownership: the caller owns the msgbuf (msgbuf_free, NULL-safe, returns
 * NULL); the pointer from msgbuf_data is borrowed until the next append or
 * the free.
 *
 * Public: msgbuf_new, msgbuf_append, msgbuf_len, msgbuf_spilled,
 *         msgbuf_data, msgbuf_free.
 */
#ifndef CRM_MSGBUF_H
#define CRM_MSGBUF_H

#include <glib.h>

typedef enum { MSGBUF_OK = 0, MSGBUF_TOO_BIG, MSGBUF_ERROR } msgbuf_status;

typedef struct msgbuf msgbuf;

msgbuf *msgbuf_new(gsize mem_cap, gsize max_size, const char *spill_dir);
/* Append; past max_size nothing more is kept and MSGBUF_TOO_BIG is
 * returned (then and for every later append). */
msgbuf_status msgbuf_append(msgbuf *mb, const void *data, gsize len, GError **err);
gsize msgbuf_len(const msgbuf *mb);
gboolean msgbuf_spilled(const msgbuf *mb);
/* The whole content; NULL with err on I/O failure. */
const guint8 *msgbuf_data(msgbuf *mb, gsize *len, GError **err);
msgbuf *msgbuf_free(msgbuf *mb);

#endif

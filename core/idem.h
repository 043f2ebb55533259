/*
 * idem.h - idempotency keys: one message makes at most one job per CRM
 * profile, however often it passes the milter (submitted then relayed,
 * re-sent after a tempfail).
 *
 * The key is "<profile>/m/<sha256 of the Message-ID>" when the message has
 * one, else "<profile>/c/<content digest>" where the digest covers the
 * header fields that do not change in transit and the body.
 *
 * Ownership: idem_key returns a new string (g_free).
 *
 * Public: idem_key, idem_msgid_normalize, idem_is_trace_header.
 */
#ifndef CRM_IDEM_H
#define CRM_IDEM_H

#include <glib.h>

/* message_id may be NULL/empty, then content_digest (hex) is used. */
char *idem_key(const char *profile, const char *message_id,
    const char *content_digest);
/* Message-ID without surrounding blanks and <>, as a new string, or NULL
 * when nothing is left. */
char *idem_msgid_normalize(const char *raw);
/* Header fields that MTAs add or change in transit (Received, Return-Path,
 * Delivered-To, X-Original-To): left out of the content digest. */
gboolean idem_is_trace_header(const char *name);

#endif

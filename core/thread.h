/*
 * thread.h - pure helpers for reply/thread correlation: no database, no
 * logging, no configuration. The caller looks the results up in the ledger,
 * in this order: the reply ids (In-Reply-To, then References newest first),
 * the Outlook Thread-Index conversation, the subject tracking token, and
 * for smart matching the normalised subject plus shared addresses.
 *
 * Every input may be hostile: header values are bounded before parsing
 * (THREAD_HEADER_MAX), subjects are analysed on their first
 * THREAD_SUBJECT_MAX bytes only, invalid UTF-8 is repaired (U+FFFD) before
 * any Unicode processing, and NULL is accepted everywhere.
 *
 * Subjects are expected already decoded from RFC 2047 (GMime's
 * g_mime_message_get_subject); raw values still work, but an encoded word
 * hides a tag or token inside it.
 *
 * Public: thread_reply_ids, thread_index_conversation, thread_token_format,
 * thread_token_find, thread_subject_with_token, thread_subject_normalize,
 * thread_subject_tag_strip, thread_shared_addresses.
 *
 * Ownership: every returned string and array is new and belongs to the
 * caller (g_free, g_ptr_array_unref). Nothing keeps a reference to inputs.
 * Thread safety: all functions are reentrant; the subject-prefix regex is
 * compiled once per process (g_once) and never freed.
 */
#ifndef CRM_THREAD_H
#define CRM_THREAD_H

#include <glib.h>

/* In-Reply-To / References values longer than this are cut (References
 * keeps its newest end, In-Reply-To its start). */
#define THREAD_HEADER_MAX 65536
/* At most this many reply ids are returned. */
#define THREAD_IDS_MAX 50
/* Message-ids longer than this (the RFC 5322 line limit) are dropped. */
#define THREAD_MSGID_MAX 998
/* Subjects are analysed on their first THREAD_SUBJECT_MAX bytes. */
#define THREAD_SUBJECT_MAX 4096
/* Thread-Index values longer than this (after unfolding) are refused. */
#define THREAD_INDEX_MAX 8192
/* Decoded Thread-Index: the conversation block and each reply's block. */
#define THREAD_INDEX_CONV_BYTES 22
#define THREAD_INDEX_CHILD_BYTES 5
/* Token prefixes and subject tags: longest accepted. */
#define THREAD_PREFIX_MAX 32
#define THREAD_TAG_MAX 64

/* The message-ids a reply points at, normalised (no <> or blanks):
 * In-Reply-To's in document order first, then References newest first
 * (reverse document order), each once, at most THREAD_IDS_MAX. Parsed with
 * g_mime_references_parse; an In-Reply-To that is one bare id without <>
 * (broken clients) is taken whole. Ids with blanks, control characters or
 * invalid UTF-8, ids without '@' and ids over THREAD_MSGID_MAX are
 * dropped. GMime stops at an id it cannot read to its '>' ("<a b@c>",
 * "<no-at>"): ids after it in that header are lost (about 1 us a call).
 * Either argument may be NULL. Always returns an array (maybe empty) of
 * char * owned by it; the caller unrefs it. */
GPtrArray *thread_reply_ids(const char *in_reply_to, const char *references);

/* The conversation part of an Outlook Thread-Index header: the first 22
 * decoded bytes (reserved byte, 5 bytes of FILETIME, 16-byte GUID) as 44
 * lower-case hex digits. Folding whitespace is ignored and missing '='
 * padding tolerated. NULL when the value is not base64, decodes to fewer
 * than 22 bytes or to a length that is not 22 + 5n, or is over
 * THREAD_INDEX_MAX. */
char *thread_index_conversation(const char *thread_index);

/* A subject tracking token: prefix followed by exactly digits digits,
 * zero-padded ("CRM:" 7 1001 -> "CRM:0001001"). NULL when number does not
 * fit, digits is not 1..20, or the prefix is unusable (empty, longer than
 * THREAD_PREFIX_MAX, not printable ASCII without blanks and brackets, or
 * ending in a digit). */
char *thread_token_format(const char *prefix, int digits, guint64 number);

/* Find the first token with this prefix (ASCII case-insensitive) and
 * exactly digits digits, not followed by another digit, anywhere in the
 * subject ("Re: Quote [CRM:0001001]", "RE: Quote crm:0001001"). A prefix
 * that starts with a letter or digit must not follow one ("XCRM:..." is
 * not a token). Stores the number in *number (may be NULL). */
gboolean thread_token_find(const char *subject, const char *prefix, int digits,
    guint64 *number);

/* The subject with " [token]" appended (right blanks trimmed first), or an
 * unchanged copy when the token is already in it (ASCII case-insensitive).
 * A NULL or blank subject gives "[token]". NULL when the token is empty,
 * longer than THREAD_TAG_MAX or holds blanks, controls or brackets (it
 * goes into a header). The subject's own bytes are never altered. */
char *thread_subject_with_token(const char *subject, const char *token);

/* The subject reduced for smart matching: NFKC-normalised and case-folded,
 * tracking tokens with token_prefix (any number of digits, with their
 * brackets) and every strip_tag removed, whitespace collapsed to single
 * spaces, then reply/forward prefixes in many languages (re, aw, sv, vs,
 * tr, rv, r, antw, odp, fwd, fw, wg, enc, res, 回复, 转发, 答复, 轉寄, ...;
 * with counters like "Re[2]:", "Re^2:", "Re(2):") and leading list tags
 * ("[list-name]") removed repeatedly, and a trailing "(fwd)". strip_tag and
 * token_prefix may be NULL. Returns "" (never NULL) when nothing is left:
 * the caller must not match on an empty subject. Cost: one GRegex match
 * per stripped prefix plus linear passes over at most THREAD_SUBJECT_MAX
 * bytes (about 5 us for a usual subject on the 2-core test machine; the
 * regex itself is compiled once per process). */
char *thread_subject_normalize(const char *subject, const char *strip_tag,
    const char *token_prefix);

/* Whether the subject contains tag (ASCII case-insensitive; a tag starting
 * or ending with a letter or digit must stand as a word). If stripped is
 * not NULL it gets a new string: the subject with every occurrence removed
 * and the blanks around it tidied (one blank kept between words, none at
 * the ends), or an unchanged copy when the tag is absent. Subjects over
 * THREAD_HEADER_MAX and unusable tags (empty, over THREAD_TAG_MAX, control
 * characters) count as absent. */
gboolean thread_subject_tag_strip(const char *subject, const char *tag,
    char **stripped);

/* How many distinct addresses of a also occur in b (char * elements;
 * blanks and <> trimmed, compared lower-cased; NULL and empty elements
 * ignored). Either array may be NULL. Linear in the two sizes. */
guint thread_shared_addresses(GPtrArray *a, GPtrArray *b);

#endif

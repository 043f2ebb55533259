/*
 * rewrite.h - engagement tracking at end of message: put the open pixel and
 * signed click links into a message's HTML, editing in place, and hand back
 * the new body for smfi_replacebody.
 *
 * rewrite_message parses the raw message (headers + body, as the milter
 * collected it) with GMime and takes every text/html leaf that is not an
 * attachment (message_part_is_attachment). For each: its content bytes are
 * located in the raw message (GMime's parser keeps them as offsets into its
 * stream), the transfer encoding and then the charset are decoded, links
 * and the </body> position come from html_links_scan, the new values are
 * spliced in, and the part is encoded back with its own charset and
 * transfer encoding. The result is the raw body with only those content
 * ranges replaced: headers (of the message and of every part), preambles,
 * boundaries and every other part keep their bytes.
 *
 * Inside a changed part, what stays byte-for-byte:
 *   - 7bit/8bit/binary: every byte outside the changed attribute values and
 *     the pixel. Only when a changed line would pass 998 octets (7bit/8bit)
 *     is the new value moved to a line of its own ("href=\r\n\"...\"",
 *     whitespace HTML allows there); if even that is too long, the links of
 *     that line are left alone.
 *   - quoted-printable: the part is handled as its hard lines (a hard line
 *     and its soft breaks): lines without a change keep their encoded
 *     bytes. In a changed line of a UTF-8 or ASCII part, the soft lines
 *     before the first edit and after the last keep theirs too; the soft
 *     lines between are decoded, edited and re-encoded with GMime's QP
 *     encoder (76 columns, the part's line ends), and a soft break joins
 *     them to the kept tail. In other charsets the changed hard line is
 *     re-encoded whole. So a URL cut by soft breaks is found and replaced
 *     whole, and only the soft breaks near an edit may fall elsewhere than
 *     before. Every re-encoded piece is decoded again and compared: any
 *     difference leaves the links of that line alone.
 *   - base64: the decoded content outside the changes is exact; the part is
 *     re-encoded whole (line length and line ends as found), so encoded
 *     lines after the first change differ, as they must.
 *   - charset: lines are converted to UTF-8 for the tokenizer and only the
 *     changed lines are converted back; a changed line whose round trip is
 *     not exact (ISO-2022-JP written with JIS-Roman, odd CP932 bytes, ...)
 *     is left alone. UTF-16/32 and UTF-7 parts are left alone.
 *
 * Never modified (REWRITE_REFUSED, with a reason): multipart/signed,
 * multipart/encrypted, application/(x-)pkcs7-mime and -signature,
 * application/pgp-*, an inline PGP armour in the HTML, a DKIM-Signature or
 * ARC-Message-Signature header (crm-milter must run before the signer),
 * text/calendar or application/ics anywhere (an invitation, or an .ics
 * attachment: both are refused, to be safe). Nested message/rfc822 parts
 * (forwarded mail) are never looked into.
 * Left alone per part (the others are still done): HTML over
 * max_html_size once decoded, uuencoded parts, unusable charsets. Left
 * alone per link: a target that cannot be signed (over TOKEN_TARGET_MAX
 * or not a URL) and one whose click URL's path would be over
 * max_click_path. A message over max_size once tracked (headers and new
 * body) fails the whole rewrite.
 *
 * Links: numbered in document order across the message, from 0; the pixel
 * goes into the first HTML part (the main one) before its last </body>, or
 * at its end, before the final line breaks, when it has none and ends in
 * plain text (not when it ends inside a tag, comment or script: the pixel
 * would not be markup there; not in an empty part: its boundary would
 * move). Targets of the List-Unsubscribe header are not rewritten. Open
 * pixels of our tracker already in the HTML (a reply or forward quoting
 * earlier tracked mail) get src="": whoever opens this message has not
 * opened that one.
 *
 * Ownership: the caller owns raw, opts (and its tokenizer, which one
 * thread uses at a time: crm-milter keeps idle ones in its runtime) and
 * new_body;
 * *reason is new (g_free) and set for every status (a line for the log).
 *
 * Public: rewrite_message, rewrite_parsed, rewrite_status_name.
 */
#ifndef CRM_REWRITE_H
#define CRM_REWRITE_H

#include <glib.h>
#include <gmime/gmime.h>

#include "html_links.h"
#include "token.h"

typedef struct rewrite_opts {
	const token_ring *ring;
	const char *base_url;                 /* tracking { base_url } */
	const guint8 *track_id;               /* TOKEN_ID_LEN bytes */
	gboolean opens, clicks;
	const char *const *exclude_domains;   /* NULL-terminated, or NULL */
	gsize max_html_size;                  /* decoded bytes of one HTML part; 0: no limit */
	gsize max_click_path;                 /* bytes of a click URL's path (the tracker's
	                                         max_url_length); longer: left alone; 0: no limit */
	gsize max_size;                       /* bytes of the tracked message, headers and
	                                         new body; over: REWRITE_FAILED
	                                         (max_message_size); 0: no limit */
	html_links_ctx *tokenizer;            /* reused across calls by one thread; NULL: one per call */
} rewrite_opts;

typedef enum {
	REWRITE_DONE,       /* new_body holds the new body */
	REWRITE_UNCHANGED,  /* nothing to do (no HTML, no link, parts left alone) */
	REWRITE_REFUSED,    /* must not be modified (see above) */
	REWRITE_FAILED      /* an error (err set): send the original */
} rewrite_status;

typedef struct rewrite_stats {
	guint parts;        /* HTML parts changed */
	guint links;        /* links rewritten */
	guint skipped;      /* links seen and left alone (any reason) */
	gboolean pixel;     /* the pixel was inserted */
	guint old_pixels;   /* our pixels quoted from earlier mail, neutralised */
} rewrite_stats;

/* Rewrite raw (headers and body, CRLF or LF). On REWRITE_DONE new_body
 * holds the body after the header block; otherwise it is left as it was.
 * stats may be NULL. */
rewrite_status rewrite_message(const guint8 *raw, gsize len, const rewrite_opts *opts,
    GByteArray *new_body, rewrite_stats *stats, char **reason, GError **err);
/* The same, reusing a parse of raw (GMimeMessage *msg, not changed, and
 * the parser's headers_end); msg NULL parses here. The milter parses each
 * message once (core/message.c) and hands that parse over. */
rewrite_status rewrite_parsed(const guint8 *raw, gsize len, GMimeMessage *msg,
    gint64 headers_end, const rewrite_opts *opts, GByteArray *new_body,
    rewrite_stats *stats, char **reason, GError **err);
const char *rewrite_status_name(rewrite_status st);

#endif

/*
 * activity.h - one e-mail activity as a CRM sees it, parsed from the raw
 * message with GMime (never by hand).
 *
 * Ownership: activity_parse and activity_new return a new activity the
 * caller frees with activity_free (NULL-safe, returns NULL). All strings
 * are UTF-8 (invalid bytes are replaced).
 *
 * What counts: text_body/html_body are the first text/plain and text/html
 * leaf parts that are not attachments, with line ends as LF. Every other
 * leaf part that has Content-Disposition: attachment, or a filename, or is
 * neither text/plain nor text/html (an inline image or a text/calendar
 * without a name), is an attachment; a message/rfc822 part is one
 * attachment (its insides are not walked).
 *
 * Public: activity_parse, activity_parse_full, activity_new, activity_add_attachment,
 *         activity_free, activity_addresses, activity_gmime_init.
 */
#ifndef CRM_ACTIVITY_H
#define CRM_ACTIVITY_H

#include <glib.h>
#include <gmime/gmime.h>

typedef struct activity_attachment {
	char *filename;
	char *content_type;  /* "type/subtype" */
	gint64 size;         /* decoded bytes */
	GBytes *content;     /* decoded bytes (activity_parse_full), or NULL */
} activity_attachment;

typedef struct activity {
	char *direction;
	char *from;          /* "Name <addr>" as GMime formats it */
	char *from_addr;     /* bare address, lower-case */
	GPtrArray *to;       /* char * bare addresses */
	GPtrArray *cc;
	GPtrArray *bcc;      /* envelope recipients in neither To nor Cc */
	char *subject;
	gint64 date;         /* unix time from Date:, 0 when absent/bad */
	char *message_id;    /* without <> */
	char *in_reply_to;   /* without <> */
	char *text_body;     /* first text/plain part, decoded to UTF-8 */
	char *html_body;     /* first text/html part, decoded to UTF-8 */
	GPtrArray *attachments; /* activity_attachment * */
	/* set from the save job's metadata, not from the message */
	char *regarding;     /* "type:id", or NULL */
	char *category;
	char *corr_method;   /* how it was correlated, or NULL */
	char *corr_message_id; /* the tracked message it answers */
	GPtrArray *dropped;  /* char *: "name (type, size): why", never NULL */
	GPtrArray *events;   /* char *: "bounced rcpt status: detail", never NULL */
} activity;

/*
 * Parse a raw message. rcpts (may be NULL) are the envelope recipients
 * ("<a@b>" or "a@b"), used to find Bcc. Body text is capped at max_body
 * bytes each (cut on a UTF-8 boundary; 0 means no cap). Malformed input
 * gives whatever GMime could make of it; NULL with err only when GMime
 * cannot build a message at all.
 */
activity *activity_parse(GBytes *raw, const char *direction,
    GPtrArray *rcpts, gsize max_body, GError **err);
/* The same; with_content also keeps each attachment's decoded bytes. */
activity *activity_parse_full(GBytes *raw, const char *direction,
    GPtrArray *rcpts, gsize max_body, gboolean with_content, GError **err);
/* An empty activity (arrays allocated, strings NULL, date 0). */
activity *activity_new(const char *direction);
/* Append an attachment (strings copied, may be NULL). */
void activity_add_attachment(activity *act, const char *filename,
    const char *content_type, gint64 size);
activity *activity_free(activity *act);
/* Every mailbox of an address list (walking groups) as a bare lower-case
 * address; a new array of char * (g_ptr_array_unref). list may be NULL. */
GPtrArray *activity_addresses(InternetAddressList *list);
/* Run g_mime_init once per process (thread-safe); activity_parse calls it,
 * other GMime users in core call it before their first GMime call. */
void activity_gmime_init(void);

#endif

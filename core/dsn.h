/*
 * dsn.h - read a delivery status notification (RFC 3464: multipart/report;
 * report-type=delivery-status, or RFC 6533's global-delivery-status) into
 * the facts a bounce event needs: which message it is about and what
 * happened to each recipient. Pure: no I/O, no logging, no global state.
 *
 * What is a DSN: the top-level part is multipart/report and its
 * report-type is delivery-status or global-delivery-status (or it has no
 * report-type and a direct child is message/delivery-status). Anything
 * else (an auto-reply, a read receipt, a feedback report, a DSN forwarded
 * as an attachment) is not one.
 *
 * Results of dsn_parse / dsn_from_message:
 *   - not a DSN (or bytes GMime cannot make a message of): NULL, err unset;
 *   - a DSN we cannot use: NULL with err (DSN_ERROR): it has no
 *     message/delivery-status part (DSN_ERROR_NO_STATUS), or no recipient
 *     block with a usable address (DSN_ERROR_NO_RECIPIENTS). The caller
 *     knows it is a bounce and should not treat it as ordinary mail;
 *   - otherwise a report with at least one recipient.
 *
 * The original Message-ID (without <>) is taken, in this order, from
 *   1. the returned original: the first message/rfc822, message/global,
 *      text/rfc822-headers or message/global-headers child of the report
 *      (DSN_ORIGINAL_RETURNED);
 *   2. an X-Original-Message-ID field of the delivery-status part (Gmail
 *      writes one; DSN_ORIGINAL_STATUS_FIELD);
 *   3. the first msg-id of the DSN's own In-Reply-To (Exchange and Gmail
 *      set it to the bounced message; DSN_ORIGINAL_IN_REPLY_TO);
 * else it is NULL (DSN_ORIGINAL_NONE). Original-Envelope-Id is never used
 * as a Message-ID: it is the ENVID the submitting client chose, reported
 * as is in original_envelope_id. The text parts are never mined.
 *
 * Per recipient: recipient is the bare lower-case address of
 * Final-Recipient, or of Original-Recipient when Final-Recipient is
 * missing or not an address (x-local; jdoe); blocks with neither are
 * skipped. Typed fields ("rfc822; a@b", "dns; mx", "smtp; 550 ...") lose
 * their type. action is lower-case; status is the bare code ("5.1.1"),
 * NULL when absent or not a status code; diagnostic has blank runs
 * collapsed.
 *
 * Bounds: every string is at most DSN_MAX_FIELD bytes (cut on a UTF-8
 * boundary, silently). At most DSN_MAX_RECIPIENTS recipients are kept,
 * DSN_MAX_STATUS_BYTES of the decoded delivery-status part are read, in
 * at most DSN_MAX_BLOCKS header blocks (blank lines count) of at most
 * DSN_MAX_BLOCK_BYTES each; hitting one of these sets truncated and keeps
 * what was read before. The caller caps the whole message's size. All
 * strings are valid UTF-8.
 *
 * Ownership: a report and everything in it belong to the caller
 * (dsn_report_free, NULL-safe, returns NULL). dsn_from_message borrows
 * the message for the call only.
 *
 * Public: dsn_parse, dsn_from_message, dsn_is_failure, dsn_report_free,
 *         dsn_error_quark.
 */
#ifndef CRM_DSN_H
#define CRM_DSN_H

#include <glib.h>
#include <gmime/gmime.h>

#define DSN_MAX_RECIPIENTS 64
#define DSN_MAX_FIELD 1000
#define DSN_MAX_STATUS_BYTES (256 * 1024)
#define DSN_MAX_BLOCKS 256
#define DSN_MAX_BLOCK_BYTES (64 * 1024)

#define DSN_ERROR dsn_error_quark()
GQuark dsn_error_quark(void);

typedef enum dsn_error_code {
	DSN_ERROR_NO_STATUS,      /* no message/delivery-status part */
	DSN_ERROR_NO_RECIPIENTS   /* no recipient block with an address */
} dsn_error_code;

/* Where original_message_id came from. */
typedef enum dsn_original_source {
	DSN_ORIGINAL_NONE,
	DSN_ORIGINAL_RETURNED,     /* the returned message or its headers */
	DSN_ORIGINAL_STATUS_FIELD, /* X-Original-Message-ID in the report */
	DSN_ORIGINAL_IN_REPLY_TO   /* the DSN's own In-Reply-To */
} dsn_original_source;

typedef struct dsn_recipient {
	char *recipient;          /* bare lower-case address (never NULL) */
	char *original_recipient; /* Original-Recipient's address, or NULL */
	char *action;             /* failed, delayed, delivered, relayed, expanded, or NULL */
	char *status;             /* "5.1.1", or NULL */
	char *diagnostic;         /* Diagnostic-Code text after its type, or NULL */
	char *remote_mta;         /* Remote-MTA name after its type, or NULL */
} dsn_recipient;

typedef struct dsn_report {
	char *reporting_mta;        /* Reporting-MTA name after its type, or NULL */
	char *original_message_id;  /* without <>, or NULL (see above) */
	dsn_original_source original_source;
	char *original_envelope_id; /* Original-Envelope-Id as written, or NULL */
	GPtrArray *recipients;      /* dsn_recipient *, 1..DSN_MAX_RECIPIENTS */
	gboolean truncated;         /* a bound was hit; what was read is kept */
} dsn_report;

/* Parse raw message bytes (borrowed for the call); see above for the
 * three outcomes. raw may be NULL (not a DSN). */
dsn_report *dsn_parse(GBytes *raw, GError **err);
/* The same on a message the caller already parsed (the milter's). */
dsn_report *dsn_from_message(GMimeMessage *msg, GError **err);
/* TRUE when the recipient failed: action "failed" or a 5.x.x status. */
gboolean dsn_is_failure(const dsn_recipient *r);
dsn_report *dsn_report_free(dsn_report *rep);

#endif

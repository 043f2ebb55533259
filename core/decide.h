/*
 * decide.h - the per-message decision shared by crm-milter and the
 * `crm-milterctl test` dry run, so both decide exactly alike:
 * classify -> never_log -> sender controls (control headers, dropbox,
 * subject tag) -> correlation -> first matching rule -> actions and the
 * edits the message needs before it leaves.
 *
 * Lookups that need the database (directory, correlation) come through
 * decide_lookups, so the decision itself is pure and testable; a NULL
 * callback means "nothing known".
 *
 * An inbound delivery status notification whose original Message-ID is
 * tracked becomes d->bounce (an event on that activity) and is not saved.
 *
 * Control headers (X-CRM-Track, X-CRM-Regarding, X-CRM-Category) are
 * honoured only from trusted submitters (outbound and internal mail) and
 * are removed from every message.
 *
 * Ownership: decision_make fills a caller-owned crm_decision; free its
 * contents with decision_clear. d->rule is borrowed from the config.
 *
 * Public: decision_make, decision_clear, decision_to_json, decision_meta,
 *         decision_bounce_json.
 */
#ifndef CRM_DECIDE_H
#define CRM_DECIDE_H

#include <json-glib/json-glib.h>
#include "config.h"
#include "classify.h"
#include "message.h"
#include "dsn.h"

/* What correlation found (all strings owned by the decision). */
typedef struct crm_correlation {
	char *method;             /* "in-reply-to", "references", "thread-index",
	                             "token", "smart"; NULL: not correlated */
	char *message_id;         /* the tracked message it answers */
	crm_regarding *regarding; /* inherited from the thread, or NULL */
} crm_correlation;

typedef struct decide_lookups {
	/* KNOWN_* bits of the directory records of addr (0: unknown). */
	guint (*known)(void *data, const char *addr);
	/* Correlate an inbound message against the ledger; fill out and
	 * return TRUE when it answers tracked mail. */
	gboolean (*correlate)(void *data, const crm_config *cfg,
	    const crm_message *msg, const char *const *addrs, gsize naddrs,
	    crm_correlation *out);
	/* The CRM profile of the saved message with this Message-ID (new
	 * string), or NULL when it is not tracked. */
	char *(*tracked)(void *data, const char *message_id);
	/* Does any of the addresses have "follow email: do not allow" in the
	 * directory? */
	gboolean (*no_follow)(void *data, const char *const *addrs, gsize n);
	void *data;
	/* look up every participant's directory records, even when no rule
	 * reads them (the dry run shows them; the milter skips the work) */
	gboolean all_known;
} decide_lookups;

typedef struct crm_decision {
	crm_direction direction;
	char *reason;             /* owned */
	const crm_rule *rule;     /* borrowed; NULL when no rule matched */
	const char *save;         /* profile to save to, or NULL */
	char *why_not;            /* why nothing is saved despite a rule (owned) */
	guint track;              /* TRACK_* */
	char *why_no_track;       /* why tracking was turned off (owned), or NULL */
	crm_regarding *regarding; /* owned; control header, dropbox, rule or thread */
	char *category;           /* owned */
	gboolean dropbox;         /* a recipient is the dropbox address */
	crm_correlation corr;
	GPtrArray *participants;  /* char *: sender and recipients, bare */
	GPtrArray *known;         /* guint (GUINT_TO_POINTER) per participant */
	/* edits before the message leaves */
	GPtrArray *remove_headers;/* char *: control header names, one per copy */
	GPtrArray *remove_rcpts;  /* char *: dropbox recipients as the MTA gave them */
	char *new_subject;        /* owned; NULL: Subject unchanged */
	/* an inbound delivery report about a tracked message: recorded as a
	 * bounced event on it, not saved as an activity */
	dsn_report *bounce;       /* owned, or NULL */
	char *bounce_profile;     /* owned: the tracked message's profile */
} crm_decision;

/*
 * Decide one message. msg may be NULL (headers and body unknown): then
 * only envelope conditions are evaluated. lookups may be NULL.
 */
void decision_make(const crm_config *cfg, const classify_input *in,
    const crm_message *msg, const decide_lookups *lookups, crm_decision *d);
void decision_clear(crm_decision *d);
/* {"direction":…, "reason":…, "rule":…, "actions":{…}, "correlation":{…},
 *  "participants":[…], "edits":{…}} as a new JsonNode (json_node_unref). */
JsonNode *decision_to_json(const crm_decision *d);
/* What a save job carries besides the message, for the connector: a new
 * JSON string {"regarding", "category", "correlation": {"method",
 * "message_id"}, "attachments": {"policy", "types", "max_size"},
 * "follow_up": [{"kind", "seconds"}], "track": [..], "dropbox"}. */
char *decision_meta(const crm_config *cfg, const crm_decision *d);
/* d->bounce as a JSON object into b (the event job's metadata). */
void decision_bounce_json(JsonBuilder *b, const crm_decision *d);

#endif

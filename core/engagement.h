/*
 * engagement.h - is an open or a click a person, a privacy proxy or a
 * security scanner? Pure classification over a data file of address
 * ranges and user agents, plus the idempotency key and the metadata of
 * the spool job that records the event.
 *
 * Classes:
 *   human          a person (also Google's image proxy, which fetches when
 *                  the reader opens the message: a human open seen
 *                  through a proxy, the reader's address unknown);
 *   privacy_proxy  a prefetch on the reader's behalf that says nothing of
 *                  reading (Apple Mail Privacy Protection, Gmail's
 *                  prefetch when a message arrives);
 *   scanner        a security product following links or fetching images
 *                  (Safe Links, Proofpoint, Mimecast, Barracuda...), HEAD
 *                  requests, requests without a User-Agent, clicks right
 *                  after sending, bursts of links of one message.
 *
 * Order of the checks (the first that holds decides, its reason is kept):
 *   1. HEAD request -> scanner;  2. no User-Agent -> scanner;
 *   3. a user agent rule of the data file, in file order;
 *   4. an address range of the data file, longest prefix first;
 *   5. clicks: sooner than click_window s after sending -> scanner (a
 *      click more than click_window s before the recorded sending time
 *      means the milter's and the tracker's clocks differ: not judged);
 *   6. clicks: burst_links different links of the message (this one
 *      included) within click_window s of each other -> scanner;
 *   7. human.
 *
 * The data file (conf/engagement.data documents it for the admin):
 *   # comment                         (also after a value: " # ...")
 *   [CLASS NAME]                      CLASS: human, privacy_proxy, scanner;
 *                                     NAME (free text) goes into reasons
 *   applies = opens | clicks | both   which events the section judges
 *   agent = TEXT                      User-Agent contains TEXT (ASCII case
 *                                     ignored)
 *   agent-exact = TEXT                User-Agent is TEXT (case ignored,
 *                                     outer blanks trimmed)
 *   range = ADDRESS/PREFIX            IPv4 or IPv6 network
 *   ranges-file = PATH                networks from the first column of a
 *                                     CSV file (RFC 8805 geofeed, e.g.
 *                                     Apple's egress-ip-ranges.csv); a
 *                                     relative PATH is taken from the data
 *                                     file's directory
 * Errors name "file:line: what". A network listed twice for one kind of
 * event keeps the section that listed it first.
 *
 * Ownership: engagement_data_* return data freed with engagement_data_free
 * (NULL-safe, returns NULL); it is never changed after loading, so threads
 * may classify with one at once. *reason and the key and meta strings are
 * new (g_free).
 *
 * Public: engagement_data_load, engagement_data_from_text,
 *         engagement_data_free, engagement_data_counts,
 *         engagement_classify, engagement_class_name,
 *         engagement_kind_name, engagement_idem_key, engagement_meta,
 *         ENGAGEMENT_BUCKET.
 */
#ifndef CRM_ENGAGEMENT_H
#define CRM_ENGAGEMENT_H

#include <glib.h>

typedef enum { ENG_HUMAN = 0, ENG_PRIVACY_PROXY, ENG_SCANNER } eng_class;
typedef enum { ENG_OPENED = 0, ENG_CLICKED } eng_kind;

/* Seconds per time bucket of the idempotency key: the same event again
 * (kind, message, link, class) within one bucket is one event. */
#define ENGAGEMENT_BUCKET 60
#define ENGAGEMENT_UA_MAX 512     /* bytes of a User-Agent kept and looked at */

typedef struct eng_data eng_data;

typedef struct eng_event {
	eng_kind kind;
	const char *method;        /* "GET" or "HEAD" */
	const char *user_agent;    /* NULL or blank: none was sent */
	const char *client_ip;     /* textual address; NULL: unknown */
	gint64 at;                 /* unix seconds */
	gint64 sent_at;            /* unix seconds the message was sent; < 0: unknown */
	guint burst_links;         /* clicks: different links of the message,
	                              this one included, clicked within
	                              click_window s of this click */
} eng_event;

typedef struct eng_params {
	int click_window;          /* s; 0: no timing or burst check */
	guint burst_links;         /* 0: no burst check */
} eng_params;

/* Read and check a data file (and the ranges files it names). */
eng_data *engagement_data_load(const char *path, GError **err);
/* The same from text; name labels errors, dir resolves ranges-file
 * (NULL: the current directory). */
eng_data *engagement_data_from_text(const char *text, const char *name,
    const char *dir, GError **err);
eng_data *engagement_data_free(eng_data *data);
/* How many sections, agent rules and networks were loaded (any may be NULL). */
void engagement_data_counts(const eng_data *data, guint *sections, guint *agents,
    guint *ranges);
/* Classify ev (data may be NULL: no agent or range rules); *reason (if
 * not NULL) gets why. */
eng_class engagement_classify(const eng_data *data, const eng_event *ev,
    const eng_params *params, char **reason);
/* "human", "privacy_proxy", "scanner" ("unknown" out of the enum). */
const char *engagement_class_name(eng_class cls);
/* "opened", "clicked" ("unknown" out of the enum). */
const char *engagement_kind_name(eng_kind kind);
/*
 * The spool job's idempotency key:
 *   event/<kind>/<track id hex>/<link, or - for opens>/<class>/<at / ENGAGEMENT_BUCKET>
 * The class is part of it so that a scanner's click never hides the
 * person's click of the same link in the same minute.
 */
char *engagement_idem_key(eng_kind kind, const char *track_hex, guint link,
    eng_class cls, gint64 at);
/*
 * The job's metadata, a JSON object: {"kind", "message_track_id", "link"
 * and "target" (clicks), "class", "reason", "user_agent" (null when none),
 * "at"}. The client address is not kept.
 */
char *engagement_meta(eng_kind kind, const char *track_hex, guint link,
    const char *target, eng_class cls, const char *reason,
    const char *user_agent, gint64 at);

#endif

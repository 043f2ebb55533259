/*
 * config.h - the admin config file: one option table, the loader, and the
 * refcounted snapshot that programs share and SIGHUP replaces.
 *
 * Every option is declared once, in conf/options.def (section, name, type,
 * default, limits, doc, field). The loader (libconfuse), the sample config
 * and the man page are all produced from that table.
 *
 * Ownership: config_load returns a snapshot with one reference; holders
 * take more with config_ref and drop them with config_unref (NULL-safe,
 * returns NULL). A snapshot is immutable once loaded, so threads may read
 * it without locks while they hold a reference.
 *
 * Rules and capture: every list field of a crm_rule and of crm_capture is
 * a GPtrArray that is never NULL (empty: no condition, nothing listed);
 * the compiled GRegex objects, crm_header_cond, crm_follow_up and
 * crm_regarding values belong to the snapshot too (never unref or free
 * them; take a g_regex_ref to keep one beyond the snapshot). GRegex is
 * immutable, so threads may match with the same one at once.
 *
 * Public: config_load, config_ref, config_unref, config_profile,
 *         config_write_sample, config_write_man, direction_name,
 *         direction_parse, config_regarding_new, config_regarding_parse,
 *         config_regarding_free, config_follow_up_parse, follow_up_kind_name,
 *         config_socket_path.
 */
#ifndef CRM_CONFIG_H
#define CRM_CONFIG_H

#include <glib.h>
#include <gio/gio.h>

/* Direction of a message (and the direction condition of a rule). */
typedef enum {
	DIR_INBOUND = 0,   /* from outside to an internal domain */
	DIR_OUTBOUND,      /* from a trusted submitter to the outside */
	DIR_INTERNAL,      /* every party in internal_domains */
	DIR_EXTERNAL,      /* neither: outside to outside (relay) */
	DIR_ANY            /* rules only: matches every direction */
} crm_direction;

typedef enum {
	ON_ERROR_ACCEPT = 0,
	ON_ERROR_TEMPFAIL
} crm_on_error;

/* crm { auth }: how a connector gets OAuth2 tokens (salesforce). */
typedef enum {
	CRM_AUTH_CLIENT_CREDENTIALS = 0,
	CRM_AUTH_JWT_BEARER
} crm_auth;

#define TRACK_OPENS  0x1u
#define TRACK_CLICKS 0x2u

/* sender_known / recipient_known: the record types wanted (OR of bits). */
#define KNOWN_CONTACT 0x01u
#define KNOWN_LEAD    0x02u
#define KNOWN_ACCOUNT 0x04u
#define KNOWN_USER    0x08u
#define KNOWN_ANY     0x10u   /* in the directory, whatever the record type */
#define KNOWN_NONE    0x20u   /* not in the directory */

/* A yes/no condition that may be left out (written "any", the default). */
typedef enum {
	TRI_UNSET = 0,     /* no condition */
	TRI_NO,
	TRI_YES
} crm_tri;

/* attachments = none | all | allowed */
typedef enum {
	ATTACH_ALL = 0,    /* keep every attachment up to max_attachment_size */
	ATTACH_NONE,       /* keep none */
	ATTACH_ALLOWED     /* keep those attachment_types lists, up to the size */
} crm_attach_policy;

/* follow_up = {"no-reply 3d", "not-opened 2d"} */
typedef enum {
	FOLLOW_NO_REPLY = 0,
	FOLLOW_NOT_OPENED
} crm_follow_kind;

typedef struct crm_follow_up {
	crm_follow_kind kind;
	gint64 seconds;      /* after sending: 60 (1m) .. 31536000 (365d) */
} crm_follow_up;

/* header = {"Name: regex"}: one item */
typedef struct crm_header_cond {
	char *name;          /* the field name as written (compare without case) */
	GRegex *re;          /* the value's pattern, compiled */
} crm_header_cond;

/* regarding = "<type>:<id>" (also X-CRM-Regarding, crm+<type>-<id>@) */
typedef struct crm_regarding {
	char *type;          /* [a-z][a-z0-9_]*, up to 64 bytes: account, deal, ... */
	char *id;            /* [A-Za-z0-9._{}-]+, up to 128 bytes */
} crm_regarding;

/* crm "NAME" { type = ... } */
typedef struct crm_profile {
	char *name;
	char *type;          /* "ledger", "webhook" */
	int line;            /* where the section starts, for messages */
	char *url;           /* endpoint or API base URL, or NULL */
	char *secret_file;   /* webhook signing secrets, or NULL */
	char *ca_file;       /* private CA bundle, or NULL */
	int timeout;         /* s per request */
	int connect_timeout; /* s */
	gint64 max_response_size;
	gint64 max_body_size;
	char *token_url;     /* OAuth2 token endpoint, or NULL: the vendor's */
	char *tenant;        /* dynamics365 */
	char *client_id;
	char *client_secret_file;
	char *token_file;    /* hubspot token, zoho refresh token */
	char *private_key_file; /* salesforce jwt_bearer */
	char *username;      /* salesforce jwt_bearer subject */
	int auth;            /* crm_auth */
	char *api_version;   /* or NULL: the connector's */
	int max_body_chars;  /* salesforce */
	int directory_sync;  /* s; 0: never */
	GPtrArray *rollup_fields; /* char * "ROLLUP=FIELD" */
	int max_concurrent;  /* 0: the connector's default */
	int requests_per_second; /* 0: the connector's default */
	int batch_size;      /* 0: the connector's default */
} crm_profile;

/*
 * rule "NAME" { ... }. Conditions left out hold for every message: lists
 * are empty, sender_known/recipient_known 0, tri-states TRI_UNSET,
 * subject NULL, sizes -1. from, to, auth_user and attachment_types are
 * stored lower-case (ASCII); header names and regexes as written.
 */
typedef struct crm_rule {
	char *name;
	int line;
	/* conditions */
	crm_direction direction;
	GPtrArray *from;             /* char *, address or domain globs */
	GPtrArray *to;               /* char *, the same; any recipient */
	GPtrArray *auth_user;        /* char *, globs */
	GPtrArray *header;           /* crm_header_cond * */
	GRegex *subject;             /* NULL: no condition */
	guint sender_known;          /* KNOWN_* bits, 0: no condition */
	guint recipient_known;       /* KNOWN_* bits, 0: no condition */
	crm_tri reply_to_tracked;
	crm_tri dropbox;             /* a recipient is the dropbox address */
	crm_tri has_attachments;
	gint64 min_size;             /* bytes, -1: no limit */
	gint64 max_size;             /* bytes, -1: no limit */
	/* actions */
	char *save;                  /* profile name, or NULL for "save = no" */
	guint track;                 /* TRACK_* bits */
	crm_attach_policy attachments;
	GPtrArray *attachment_types; /* char *, "type/sub" globs or ".ext", lower-case */
	gint64 max_attachment_size;  /* bytes */
	crm_regarding *regarding;    /* NULL: none */
	char *category;              /* NULL: none */
	GPtrArray *follow_up;        /* crm_follow_up *, in file order */
} crm_rule;

/* capture { ... }: the message-wide capture options */
typedef struct crm_capture {
	char *dropbox;                  /* lower-case address, NULL: none */
	char *subject_tag;              /* NULL: off */
	GPtrArray *never_log;           /* char *, lower-case domains and addresses */
	gboolean internal_as_two_activities;
	GPtrArray *blocked_extensions;  /* char *, lower-case, ".exe" */
	gboolean subject_token;
	char *subject_token_prefix;     /* never NULL */
	int subject_token_digits;
	gboolean smart_matching;
	int smart_matching_days;
	int smart_matching_min_addresses;
} crm_capture;

/* tracking { ... }: what the milter writes into outbound HTML */
typedef struct crm_tracking {
	char *base_url;                 /* NULL: tracking off */
	char *key_file;
	GPtrArray *exclude_domains;     /* char *, lower-case */
	GPtrArray *never_track;         /* char *, lower-case addresses and domains */
	gint64 max_html_size;           /* bytes, decoded */
} crm_tracking;

/* tracker { ... }: crm-tracker */
typedef struct crm_tracker {
	char *listen;                   /* "ADDRESS:PORT", "[V6]:PORT", "*:PORT" */
	int threads;                    /* 0: a thread per connection */
	int max_connections;
	int per_ip_connections;         /* 0: no limit */
	int connection_timeout;         /* s */
	gint64 max_request_size;        /* bytes per connection */
	int max_url_length;             /* bytes of the path */
	int max_headers;
	GPtrArray *trusted_proxies;     /* GInetAddressMask * */
	char *engagement_data;
	int scanner_click_window;       /* s, 0: off */
	int scanner_burst_links;        /* 0: off */
	int max_events_per_message;     /* per hour, 0: no limit */
	gint64 max_pending_size;        /* bytes of events waiting in memory */
} crm_tracker;

typedef struct crm_config {
	gint refcnt;
	char *path;

	/* milter { } */
	char *socket;
	char *user;
	char *socket_group;
	guint socket_mode;
	GPtrArray *internal_domains;   /* char *, lower-case */
	GPtrArray *internal_networks;  /* GInetAddressMask * */
	GPtrArray *outbound_daemons;   /* char *, {daemon_name} values */
	crm_on_error on_internal_error;
	gint64 max_message_size;       /* bytes */
	gint64 body_memory_cap;        /* bytes kept in memory before spilling */
	char *tmp_dir;                 /* where bodies spill */
	gint64 max_header_size;        /* bytes of all headers together */
	int max_recipients;
	int log_level;                 /* crm_log_level */

	/* spool { } */
	char *spool_path;
	int busy_timeout;              /* ms */
	int max_attempts;
	int backoff_base;              /* s */
	int backoff_max;               /* s */
	int lease_time;                /* s */

	/* flusher { } */
	int poll_interval;             /* s */
	int batch_size;

	/* capture { } */
	crm_capture capture;

	/* tracking { }, tracker { } */
	crm_tracking tracking;
	crm_tracker tracker;

	GPtrArray *profiles;           /* crm_profile *, in file order */
	GPtrArray *rules;              /* crm_rule *, in file order */
} crm_config;

/*
 * Load and check a config file. On failure returns NULL and, if errors is
 * not NULL, sets *errors to a new array of "file:line: message" strings
 * (caller frees with g_ptr_array_unref).
 */
crm_config *config_load(const char *path, GPtrArray **errors);
crm_config *config_ref(crm_config *cfg);
/* Drop a reference; frees on the last one. NULL-safe; returns NULL. */
crm_config *config_unref(crm_config *cfg);
/* The profile called name, or NULL. */
const crm_profile *config_profile(const crm_config *cfg, const char *name);
/* The path of a unix socket spec (unix:/PATH, local:/PATH or /PATH), or
 * NULL for an inet socket. Borrowed from spec. */
const char *config_socket_path(const char *spec);

/* The sample config and the man page, generated from the option table. */
void config_write_sample(GString *out);
void config_write_man(GString *out);

const char *direction_name(crm_direction dir);
/* Returns FALSE for an unknown name. */
gboolean direction_parse(const char *name, crm_direction *dir);

/*
 * A regarding record from its type and id, or from "<type>:<id>" (split at
 * the first ':'). NULL when either is malformed; then why (if not NULL)
 * gets the reason. Free with config_regarding_free (NULL-safe, returns NULL).
 */
crm_regarding *config_regarding_new(const char *type, const char *id, GString *why);
crm_regarding *config_regarding_parse(const char *text, GString *why);
crm_regarding *config_regarding_free(crm_regarding *r);
/* Parse "no-reply 3d" into *out; FALSE (and why) when malformed. */
gboolean config_follow_up_parse(const char *text, crm_follow_up *out, GString *why);
/* "no-reply", "not-opened"; "unknown" for a value out of the enum. */
const char *follow_up_kind_name(crm_follow_kind kind);

#endif

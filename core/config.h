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
 * Public: config_load, config_ref, config_unref, config_profile,
 *         config_write_sample, config_write_man, direction_name,
 *         direction_parse.
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

#define TRACK_OPENS  0x1u
#define TRACK_CLICKS 0x2u

/* crm "NAME" { type = ... } */
typedef struct crm_profile {
	char *name;
	char *type;          /* "ledger", later "webhook", "dynamics365", ... */
	int line;            /* where the section starts, for messages */
} crm_profile;

/* rule "NAME" { ... } */
typedef struct crm_rule {
	char *name;
	int line;
	crm_direction direction;
	char *save;          /* profile name, or NULL for "save = no" */
	guint track;         /* TRACK_* bits */
} crm_rule;

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

/* The sample config and the man page, generated from the option table. */
void config_write_sample(GString *out);
void config_write_man(GString *out);

const char *direction_name(crm_direction dir);
/* Returns FALSE for an unknown name. */
gboolean direction_parse(const char *name, crm_direction *dir);

#endif

/*
 * config_table.h - the option table of conf/options.def as C data, shared
 * by the loader (config.c), the doc writers (config_docs.c) and the tests.
 * Not for the programs: they use config.h.
 *
 * Every array is constant and built at compile time from options.def
 * (config_table.c). The value conversion is there too; reading the file
 * is in config_read.c and the doc helpers in config_docs.c.
 *
 * Public: config_sections, config_options, config_enums, config_limits,
 *         config_examples (and their counts), config_section_index,
 *         config_option_find, config_type_is_list, config_convert,
 *         config_value_clear, config_value_free_func, config_domain_ok,
 *         config_convert_capture, config_read_text, config_prescan,
 *         config_type_text, config_size_text, config_enum_words,
 *         config_range_text.
 * Ownership: config_convert fills v with new memory (config_value_clear);
 *         config_read_text returns and *why is a new string (g_free).
 */
#ifndef CRM_CONFIG_TABLE_H
#define CRM_CONFIG_TABLE_H

#include <glib.h>
#include <gio/gio.h>

typedef enum {
	CONF_PLAIN,      /* milter { ... }, at most once */
	CONF_TITLED      /* rule "NAME" { ... }, repeatable, unique titles */
} conf_kind;

/* Value types. Lists take {"a", "b"} or a single value. */
typedef enum {
	CT_STRING,       /* non-empty string -> char * */
	CT_PATH,         /* absolute path -> char * */
	CT_SOCKET,       /* libmilter socket address -> char * */
	CT_STRLIST,      /* non-empty strings -> GPtrArray of char * */
	CT_DOMAINS,      /* domains -> GPtrArray of lower-case char * */
	CT_CIDRS,        /* ADDRESS/PREFIX -> GPtrArray of GInetAddressMask * */
	CT_INT,          /* decimal, min..max -> int */
	CT_SIZE,         /* bytes with optional K/M/G suffix, min..max -> gint64 */
	CT_MODE,         /* octal permissions, min..max -> guint */
	CT_BOOL,         /* yes/no, true/false, on/off -> gboolean */
	CT_ENUM,         /* one word of a set -> int (the word's value) */
	CT_KEYWORD,      /* one word of a set -> char * (the word) */
	CT_FLAGS,        /* list of words of a set -> guint (OR of values) */
	CT_SAVE,         /* a crm title, or no -> char * or NULL */
	/* the rule and capture types (conversion in config_values.c) */
	CT_TRI,          /* yes/no (as CT_BOOL) or any -> int (crm_tri) */
	CT_OPTSIZE,      /* a size, min..max, or none -> gint64 (none: -1) */
	CT_TEXT,         /* min..max bytes of UTF-8, no control characters ->
	                    char * ("" gives NULL when min is 0) */
	CT_ADDRESS,      /* local@domain -> lower-case char * ("" gives NULL) */
	CT_ADDRGLOBS,    /* address or domain globs -> GPtrArray of lower-case char * */
	CT_GLOBS,        /* globs -> GPtrArray of lower-case char * */
	CT_ADDRDOMAINS,  /* addresses and domains -> GPtrArray of lower-case char * */
	CT_EXTS,         /* ".ext" -> GPtrArray of lower-case char * */
	CT_MIMETYPES,    /* "type/sub" globs or ".ext" -> GPtrArray of lower-case char * */
	CT_REGEX,        /* a regex -> GRegex * ("" gives NULL) */
	CT_HEADERS,      /* "Name: regex" -> GPtrArray of crm_header_cond * */
	CT_REGARDING,    /* "type:id" -> crm_regarding * ("" gives NULL) */
	CT_FOLLOWUPS,    /* "KIND DELAY" -> GPtrArray of crm_follow_up * */
	CT_URL,          /* an http(s) URL with a host, no user, query or fragment,
	                    up to max bytes -> char * without trailing '/'
	                    ("" gives NULL) */
	CT_OPTPATH       /* absolute path, or "" for none -> char * or NULL */
} conf_type;

/* Enum sets, generated from CONF_ENUMSET lines; CONF_SET_none is 0. */
typedef enum {
	CONF_SET_none = 0,
#define CONF_ENUMSET(set) CONF_SET_##set,
#include "conf/options.def"
	CONF_SET_COUNT
} conf_set;

/* Sections, generated from CONF_SECTION lines, in file order. */
enum {
#define CONF_SECTION(id, kind, st, implicit, doc) CONF_SEC_##id,
#include "conf/options.def"
	CONF_SEC_COUNT
};

typedef struct {
	const char *name;
	conf_kind kind;
	const char *implicit;    /* title of the implicit section, or NULL */
	const char *doc;
} conf_section;

typedef struct {
	conf_set set;
	const char *word;
	int value;
} conf_enum;

typedef struct {
	int section;             /* index into config_sections */
	const char *name;
	conf_type type;
	conf_set set;
	const char *def;         /* default, as written in the file */
	gint64 min, max;         /* inclusive; both 0 when unbounded */
	gsize offset;            /* of the field in the section's struct */
	const char *doc;
} conf_option;

/* low must not exceed high, both options of one plain section */
typedef struct {
	int section;
	const char *low;
	const char *high;
} conf_limit;

typedef struct {
	int section;
	const char *title;
	const char *body;        /* option lines, '\n'-separated */
	const char *doc;         /* NULL: a live example; else shown commented out */
} conf_example;

/* One converted value, or one item of a list (see conf_type). */
typedef union {
	char *s;
	gint64 n;
	GInetAddressMask *mask;
	gpointer p;              /* GRegex *, crm_header_cond *, ... */
} conf_value;

extern const conf_section config_sections[];
extern const gsize config_nsections;
extern const conf_option config_options[];
extern const gsize config_noptions;
extern const conf_enum config_enums[];
extern const gsize config_nenums;
extern const conf_limit config_limits[];
extern const gsize config_nlimits;
extern const conf_example config_examples[];
extern const gsize config_nexamples;

/* Index of the section called name, or -1. */
int config_section_index(const char *name);
/* The option name in section, or NULL. */
const conf_option *config_option_find(int section, const char *name);
/* Is the type written as a list in the file? */
gboolean config_type_is_list(conf_type t);
/*
 * Convert one value (or list item) of o as written in the file into v.
 * FALSE when it is bad; then why (if not NULL) gets the reason.
 */
gboolean config_convert(const conf_option *o, const char *text, conf_value *v,
    GString *why);
/* Free what config_convert put in v. */
void config_value_clear(const conf_option *o, conf_value *v);
/* How to free a value or list item of type t; NULL for numbers. */
GDestroyNotify config_value_free_func(conf_type t);
/* Is s a plausible domain: labels of letters, digits, '-', '_' or UTF-8? */
gboolean config_domain_ok(const char *s);
/* config_convert for CT_TEXT .. CT_FOLLOWUPS (config_values.c). */
gboolean config_convert_capture(const conf_option *o, const char *text, conf_value *v,
    GString *why);

/* Read a whole regular file; NULL with *line (0: the file) and *why. */
char *config_read_text(const char *path, int *line, char **why);
/* Blank the comments of text in place; FALSE with *line and *why for an
 * unterminated comment or a '{' never closed. */
gboolean config_prescan(char *text, int *line, char **why);

/* Append the type as the docs name it ("size", "accept | tempfail", ...). */
void config_type_text(GString *out, const conf_option *o);
/* Append a byte count the way a config writes it: 25M, 512K, 1000. */
void config_size_text(GString *out, gint64 bytes);
/* Append the words of an enum set joined by sep. */
void config_enum_words(GString *out, conf_set set, const char *sep);
/* Append an int, size or mode option's "min..max" (64K..2G, 1..100). */
void config_range_text(GString *out, const conf_option *o);

#endif

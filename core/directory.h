/*
 * directory.h - the CRM directory: the addresses the CRM knows, each with
 * its record type (contact, lead, account, user), record id, display name,
 * the CRM's "follow email: do not allow" flag (no_follow: the person opted
 * out of tracking) and when it was first added. It lives in the shared
 * database (db.h, table "directory", schema version 2). The connectors fill
 * it from CRMs later; for now `crm-milterctl directory import FILE.csv`
 * does, and the rules' sender_known / recipient_known read it.
 *
 * Addresses are stored and looked up lower-cased (g_utf8_strdown, after
 * trimming blanks and one pair of <>), so lookups ignore case. One address
 * may belong to several records; (address, type, record id) is unique.
 * When several records share an address the best match is a contact, then
 * a lead, then a user, then an account; among records of one type the
 * oldest (smallest added_at, then first inserted) comes first.
 *
 * CSV import (directory_import_csv / directory_import_fd), parsed with
 * libcsv in strict mode:
 *   - the first non-blank record is a header naming the columns, in any
 *     order, case-insensitive: address, type and id are required, name and
 *     no_follow optional; other columns are ignored; a column named twice
 *     is an error. A UTF-8 byte order mark is skipped. LF or CRLF line
 *     ends; quoted fields may hold commas, doubled quotes and line breaks.
 *   - address: one mailbox as GMime's internet_address_list_parse reads it
 *     ("a@example.com" or "Name <a@example.com>"), with an @ that has text
 *     on both sides; type: contact, lead, account or user (any case); id:
 *     not empty; name: a run of blanks holding a line break or tab becomes
 *     one space; no_follow: yes, no, true, false, 1, 0 or empty (= no), any
 *     case. A row short of fields has them empty; a missing name or
 *     no_follow column means no name and no.
 *   - a row that breaks any of these is skipped and reported, with the line
 *     it starts on (lines are counted at LF), in st->errors; the good rows
 *     are still imported. That is not a failure: the caller looks at
 *     st->bad.
 *   - the import fails as a whole (FALSE, nothing written) when the file
 *     cannot be read, is larger than DIRECTORY_CSV_MAX_BYTES, has no header
 *     or a bad one, breaks CSV quoting (a quote inside an unquoted field,
 *     text after a closing quote, a quote never closed) or has a record
 *     longer than DIRECTORY_CSV_MAX_RECORD (libcsv holds a field in memory,
 *     and a longer record is most likely a quote never closed). Those
 *     errors (err is DIRECTORY_ERROR_FORMAT) are appended to st->errors with
 *     their line, after the row errors found before them.
 *   - every good row is written in ONE transaction after the whole file has
 *     been parsed (so the write lock is held only for the writes). A row
 *     whose (address, type, id) is known replaces its name and no_follow
 *     (as directory_upsert); a row repeated in the file counts once as
 *     added, then as updated.
 *   Limits, in bytes: the file DIRECTORY_CSV_MAX_BYTES; one record
 *   DIRECTORY_CSV_MAX_RECORD; the address field as written, and once
 *   normalised, DIRECTORY_MAX_ADDRESS; id DIRECTORY_MAX_ID; name
 *   DIRECTORY_MAX_NAME. At most DIRECTORY_CSV_MAX_COLUMNS fields per record
 *   and DIRECTORY_CSV_MAX_ERRORS row errors kept (st->bad counts them all).
 *
 * Time ("now", unix seconds) is passed in. directory_upsert is one
 * statement (so it may run inside a caller's transaction); an import
 * opens its own transaction, so call it outside db_begin.
 *
 * Ownership: entries, arrays of entries (they own their entries) and the
 * errors in directory_import_stats belong to the caller:
 * directory_entry_free (NULL-safe, returns NULL), g_ptr_array_unref,
 * directory_import_stats_clear.
 *
 * The CSV import lives in directory_csv.c, the rest in directory.c.
 *
 * Public: directory_lookup, directory_lookup_all, directory_upsert,
 *         directory_list, directory_any_no_follow, directory_import_csv,
 *         directory_import_fd, directory_import_stats_clear,
 *         directory_normalize_address, directory_entry_free,
 *         dir_record_type_name, dir_record_type_parse,
 *         directory_error_quark.
 */
#ifndef CRM_DIRECTORY_H
#define CRM_DIRECTORY_H

#include <glib.h>
#include "db.h"

/* Stored by name, so these numbers never reach the database; the match
 * order is contact, lead, user, account (see above). */
typedef enum {
	DIRREC_CONTACT = 0,
	DIRREC_LEAD,
	DIRREC_ACCOUNT,
	DIRREC_USER
} dir_record_type;

#define DIRECTORY_ERROR directory_error_quark()
GQuark directory_error_quark(void);
typedef enum {
	DIRECTORY_ERROR_INVALID,   /* bad argument (entry, type filter) */
	DIRECTORY_ERROR_IO,        /* the CSV file cannot be read */
	DIRECTORY_ERROR_TOO_BIG,   /* the CSV file is over the limit */
	DIRECTORY_ERROR_FORMAT     /* no or bad header, broken CSV quoting */
} directory_error_code;

#define DIRECTORY_CSV_MAX_BYTES   (32 * 1024 * 1024)
#define DIRECTORY_MAX_ADDRESS     320
#define DIRECTORY_MAX_ID          256
#define DIRECTORY_MAX_NAME        512
#define DIRECTORY_CSV_MAX_RECORD  (64 * 1024)
#define DIRECTORY_CSV_MAX_COLUMNS 64
#define DIRECTORY_CSV_MAX_ERRORS  100

typedef struct directory_entry {
	char *address;          /* lower-cased */
	dir_record_type type;
	char *record_id;        /* the CRM's id, e.g. a GUID */
	char *name;             /* display name, or NULL */
	gboolean no_follow;     /* "follow email: do not allow" */
	gint64 added_at;        /* unix seconds, first upsert */
} directory_entry;

typedef struct directory_import_error {
	guint line;             /* 1-based line the record starts on */
	char *message;
} directory_import_error;

typedef struct directory_import_stats {
	guint rows;             /* data records read (header excluded) */
	guint added;            /* new (address, type, id) */
	guint updated;          /* already known: name and no_follow replaced */
	guint bad;              /* rows skipped */
	GPtrArray *errors;      /* directory_import_error *, at most
	                         * DIRECTORY_CSV_MAX_ERRORS (+1 fatal) */
} directory_import_stats;

/* Free e and its strings; NULL-safe, returns NULL. */
directory_entry *directory_entry_free(directory_entry *e);
/* "contact", "lead", "account", "user" (or "?"). */
const char *dir_record_type_name(dir_record_type t);
/* Case-insensitive; FALSE for anything else. */
gboolean dir_record_type_parse(const char *name, dir_record_type *t);

/* The lower-cased address of text when it is exactly one mailbox whose
 * address has an @ between non-empty parts, no blanks, <, > or commas,
 * and at most DIRECTORY_MAX_ADDRESS bytes; else NULL. New string. */
char *directory_normalize_address(const char *text);

/* The best match for address (see the order above); NULL with err unset
 * when the address is unknown, NULL with err set when the database fails. */
directory_entry *directory_lookup(crm_db *db, const char *address, GError **err);
/* Every record of address, best first; an empty array when none; NULL
 * with err on failure. */
GPtrArray *directory_lookup_all(crm_db *db, const char *address, GError **err);
/* Insert e, or when (address, type, record_id) exists replace its name and
 * no_follow and keep its added_at (e->added_at is ignored: now is used for
 * a new record). e->address is a bare address (it is trimmed, one pair of
 * <> removed and lower-cased; it must pass the checks of
 * directory_normalize_address). FALSE with err (DIRECTORY_ERROR_INVALID
 * for a bad entry). */
gboolean directory_upsert(crm_db *db, const directory_entry *e, gint64 now, GError **err);
/* Up to limit entries (limit <= 0: all) ordered by address, then best
 * match first; type_filter is a type name or NULL for all. NULL with err
 * (DIRECTORY_ERROR_INVALID for an unknown type). */
GPtrArray *directory_list(crm_db *db, const char *type_filter, int limit, GError **err);
/* TRUE when any record of any of the n addresses has no_follow set. FALSE
 * with err set when the database fails: to tell that from "none", pass
 * err and check it. */
gboolean directory_any_no_follow(crm_db *db, const char *const *addrs, gsize n, GError **err);

/* Import the CSV file at path (see above). st is overwritten (pass a
 * zeroed or cleared one), also on failure; clear it with
 * directory_import_stats_clear. */
gboolean directory_import_csv(crm_db *db, const char *path, gint64 now,
    directory_import_stats *st, GError **err);
/* The same from an open descriptor (not closed here), e.g. a file opened
 * before privileges were dropped, or a pipe. */
gboolean directory_import_fd(crm_db *db, int fd, gint64 now,
    directory_import_stats *st, GError **err);
/* Free st's errors and zero it. */
void directory_import_stats_clear(directory_import_stats *st);

#endif

/*
 * db.h - the one SQLite database per host that the spool, the ledger and
 * the CRM directory live in.
 *
 * db_open sets WAL, synchronous=FULL, foreign_keys and a busy timeout, then
 * brings the schema up to date (schema_version table, numbered migrations
 * applied in order inside BEGIN IMMEDIATE). Every write transaction goes
 * through db_begin (BEGIN IMMEDIATE) / db_commit / db_rollback. They nest:
 * an inner db_begin is a SAVEPOINT, its db_commit a RELEASE and its
 * db_rollback undoes only the inner part, so a caller can group many
 * writes (each in its own db_begin/db_commit) into one transaction and
 * one fsync.
 *
 * A crm_db is one connection: use it from one thread at a time. Several
 * processes (milter, flusher, CLI) may open the same file at once.
 *
 * Ownership: db_open returns a handle the caller closes with db_close
 * (NULL-safe, returns NULL).
 *
 * Statements: db_prepare hands out prepared statements cached on the handle
 * (SQLITE_PREPARE_PERSISTENT), keyed by their SQL text; the caller steps
 * it and calls sqlite3_reset when done, never sqlite3_finalize.
 *
 * Lists of strings (envelope recipients, To/Cc/Bcc) are stored as JSON
 * arrays of strings: db_json_from_strings / db_json_to_strings.
 *
 * Public: db_open, db_close, db_handle, db_begin, db_commit, db_rollback,
 *         db_schema_version, db_prepare, db_exec, db_set_error,
 *         db_json_from_strings, db_json_to_strings, DB_SCHEMA_VERSION,
 *         db_error_quark.
 */
#ifndef CRM_DB_H
#define CRM_DB_H

#include <glib.h>
#include <sqlite3.h>

#define DB_ERROR db_error_quark()
GQuark db_error_quark(void);

typedef enum {
	DB_ERROR_OPEN,       /* cannot open or set up the file */
	DB_ERROR_SQL,        /* a statement failed */
	DB_ERROR_BUSY,       /* still locked when the busy timeout ran out */
	DB_ERROR_NEWER,      /* the file's schema is newer than this program */
	DB_ERROR_CORRUPT     /* bad stored data (e.g. unparsable JSON) */
} db_error_code;

/* The version db_open migrates to. */
#define DB_SCHEMA_VERSION 7

typedef struct crm_db crm_db;

crm_db *db_open(const char *path, int busy_timeout_ms, GError **err);
crm_db *db_close(crm_db *db);
sqlite3 *db_handle(crm_db *db);
/* BEGIN IMMEDIATE; FALSE with err set on failure (e.g. busy past timeout). */
gboolean db_begin(crm_db *db, GError **err);
gboolean db_commit(crm_db *db, GError **err);
/* Never fails loudly: safe to call after any error. */
void db_rollback(crm_db *db);
int db_schema_version(crm_db *db);

/* The cached statement for sql, reset and unbound; NULL with err. The
 * handle owns it: sqlite3_reset it after use, do not finalize it. */
sqlite3_stmt *db_prepare(crm_db *db, const char *sql, GError **err);
/* Run SQL that returns no rows (may hold several statements). */
gboolean db_exec(crm_db *db, const char *sql, GError **err);
/* Set err from the connection's last error: "what: sqlite message". */
void db_set_error(crm_db *db, GError **err, const char *what);
/* A JSON array of the n strings in v (NULLs skipped); new string. */
char *db_json_from_strings(const char *const *v, gsize n);
/* The strings of a JSON array as a new GPtrArray (g_free elements); NULL
 * or "" gives an empty array; NULL with err when json is not an array of
 * strings. */
GPtrArray *db_json_to_strings(const char *json, GError **err);

#endif

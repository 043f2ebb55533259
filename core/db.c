/*
 * db.c - opening the shared SQLite database, its schema migrations, the
 * transaction helpers and the per-handle statement cache. See db.h.
 *
 * Schema (version 1):
 *   schema_version(version)        one row: the version migrated to
 *   jobs(...)                      the spool; kind and state are the enum
 *                                  values of spool.h; rcpts is a JSON array
 *   job_payloads(job_id, body)     the raw message, deleted on ack
 *   spool_counters(name, value)    "lease": the last lease id handed out
 *   activities(...)                the ledger; to/cc/bcc are JSON arrays;
 *                                  job_id is informational (no foreign
 *                                  key: an activity outlives its job)
 *   attachments(activity_id, idx, filename, content_type, size)
 * Version 2 adds:
 *   directory(id, address, type, record_id, name, no_follow, added_at,
 *             updated_at)          the CRM directory (directory.h); address
 *                                  is stored lower-cased and indexed;
 *                                  (type, record_id, address) is unique
 * Version 4 adds:
 *   tracked.track_id               the message's tracking id (token.h), 24
 *                                  lower-case hex digits, indexed
 *
 * Migrations: migrations[i] takes the schema from version i to i + 1. They
 * run in one BEGIN IMMEDIATE transaction in which the version is read
 * again, so two processes opening a fresh file at once migrate it once.
 * A file whose version is newer than DB_SCHEMA_VERSION is refused.
 *
 * Ownership: the handle owns its sqlite3 connection and every cached
 * statement; db_close finalizes them all.
 */
#include <string.h>
#include <json-glib/json-glib.h>

#include "db.h"

struct crm_db {
	sqlite3 *h;
	GHashTable *stmts;      /* SQL text -> sqlite3_stmt * */
	int version;
	int depth;              /* open db_begin calls (nesting) */
};

static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 3),"
	"  state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),"
	"  profile TEXT,"
	"  idem_key TEXT UNIQUE NOT NULL,"
	"  queue_id TEXT,"
	"  direction TEXT,"
	"  reason TEXT,"
	"  rule TEXT,"
	"  mail_from TEXT,"
	"  rcpts TEXT NOT NULL DEFAULT '[]',"
	"  message_id TEXT,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  lease_id INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  not_before INTEGER NOT NULL,"
	"  lease_until INTEGER NOT NULL DEFAULT 0,"
	"  updated_at INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  payload_len INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX jobs_due ON jobs(state, not_before);"
	"CREATE TABLE job_payloads ("
	"  job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,"
	"  body BLOB NOT NULL"
	");"
	"CREATE TABLE spool_counters ("
	"  name TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL"
	");"
	"INSERT INTO spool_counters(name, value) VALUES ('lease', 0);"
	"CREATE TABLE activities ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  job_id INTEGER,"
	"  profile TEXT NOT NULL,"
	"  idem_key TEXT NOT NULL,"
	"  direction TEXT,"
	"  from_hdr TEXT,"
	"  from_addr TEXT,"
	"  to_addrs TEXT NOT NULL DEFAULT '[]',"
	"  cc_addrs TEXT NOT NULL DEFAULT '[]',"
	"  bcc_addrs TEXT NOT NULL DEFAULT '[]',"
	"  subject TEXT,"
	"  date INTEGER NOT NULL DEFAULT 0,"
	"  message_id TEXT,"
	"  in_reply_to TEXT,"
	"  text_body TEXT,"
	"  html_body TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (profile, idem_key)"
	");"
	"CREATE INDEX activities_message_id ON activities(message_id);"
	"CREATE TABLE attachments ("
	"  activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  filename TEXT,"
	"  content_type TEXT,"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (activity_id, idx)"
	");",
	/* 1 -> 2 */
	"CREATE TABLE directory ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  address TEXT NOT NULL CHECK (address <> '' AND address = lower(address)),"
	"  type TEXT NOT NULL CHECK (type IN ('contact', 'lead', 'account', 'user')),"
	"  record_id TEXT NOT NULL CHECK (record_id <> ''),"
	"  name TEXT,"
	"  no_follow INTEGER NOT NULL DEFAULT 0 CHECK (no_follow IN (0, 1)),"
	"  added_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (type, record_id, address)"
	");"
	"CREATE INDEX directory_address ON directory(address);",
	/* 2 -> 3: capture: job metadata, the index of tracked mail that
	 * correlation reads, the activity's links, engagement events */
	"ALTER TABLE jobs ADD COLUMN meta TEXT;"
	"CREATE TABLE tracked ("
	"  message_id TEXT PRIMARY KEY,"
	"  job_id INTEGER NOT NULL,"
	"  direction TEXT,"
	"  thread_conv TEXT,"
	"  token INTEGER,"
	"  regarding TEXT,"
	"  subject_norm TEXT,"
	"  participants TEXT,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX tracked_conv ON tracked(thread_conv, created_at) WHERE thread_conv IS NOT NULL;"
	"CREATE INDEX tracked_token ON tracked(token) WHERE token IS NOT NULL;"
	"CREATE INDEX tracked_subject ON tracked(subject_norm, created_at);"
	"ALTER TABLE activities ADD COLUMN regarding TEXT;"
	"ALTER TABLE activities ADD COLUMN category TEXT;"
	"ALTER TABLE activities ADD COLUMN corr_method TEXT;"
	"ALTER TABLE activities ADD COLUMN corr_message_id TEXT;"
	"ALTER TABLE activities ADD COLUMN dropped TEXT;"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  idem_key TEXT UNIQUE NOT NULL,"
	"  message_id TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  recipient TEXT,"
	"  status TEXT,"
	"  detail TEXT,"
	"  at INTEGER NOT NULL"
	");"
	"CREATE INDEX events_message ON events(message_id);",
	/* 3 -> 4: engagement tracking: the message's tracking id (the
	 * TOKEN_ID_LEN bytes its pixel and links carry, as lower-case hex),
	 * which crm-tracker and the ledger look events up by */
	"ALTER TABLE tracked ADD COLUMN track_id TEXT;"
	"CREATE INDEX tracked_track_id ON tracked(track_id) WHERE track_id IS NOT NULL;",
	/* 4 -> 5: rollups count the replies correlated to a sent message */
	"CREATE INDEX activities_corr ON activities(corr_message_id) WHERE corr_message_id IS NOT NULL;",
	/* 5 -> 6: per-profile state for the flusher: Retry-After pauses (kept
	 * across restarts and shared by flushers) and the last error */
	"CREATE TABLE profile_state ("
	"  profile TEXT PRIMARY KEY,"
	"  paused_until INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  last_error_at INTEGER,"
	"  updated_at INTEGER NOT NULL"
	");"
	"CREATE INDEX jobs_profile_due ON jobs(profile, state, not_before);",
	/* 6 -> 7: what the CRM connectors keep: the CRM record made for each
	 * job (de-duplication, rollups), cached access tokens (Zoho limits how
	 * often one may be minted), directory sync cursors */
	"CREATE TABLE crm_records ("
	"  profile TEXT NOT NULL,"
	"  idem_key TEXT NOT NULL,"
	"  message_id TEXT,"
	"  record_type TEXT NOT NULL,"
	"  record_id TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (profile, idem_key)"
	");"
	"CREATE INDEX crm_records_message ON crm_records(profile, message_id);"
	"CREATE TABLE oauth_tokens ("
	"  profile TEXT PRIMARY KEY,"
	"  access_token TEXT NOT NULL,"
	"  instance_url TEXT,"
	"  expires_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");"
	"CREATE TABLE sync_state ("
	"  profile TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  cursor TEXT,"
	"  synced_at INTEGER NOT NULL,"
	"  PRIMARY KEY (profile, object)"
	");",
};

G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == DB_SCHEMA_VERSION);

G_DEFINE_QUARK(crm-db-error-quark, db_error)

/* The error code for an SQLite result code. */
static int
code_for(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_ERROR_BUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return DB_ERROR_CORRUPT;
	default:
		return DB_ERROR_SQL;
	}
}

/* Set err from the connection's last error. */
void
db_set_error(crm_db *db, GError **err, const char *what)
{
	int rc = sqlite3_extended_errcode(db->h);

	g_set_error(err, DB_ERROR, code_for(rc), "%s: %s", what, sqlite3_errmsg(db->h));
}

/* Finalize one cached statement (hash table value destructor). */
static void
stmt_finalize(gpointer p)
{
	sqlite3_finalize(p);
}

/* Close the connection and everything cached on it. */
crm_db *
db_close(crm_db *db)
{
	if (db == NULL)
		return NULL;
	if (db->stmts != NULL)
		g_hash_table_destroy(db->stmts);
	if (db->h != NULL)
		sqlite3_close_v2(db->h);
	g_free(db);
	return NULL;
}

/* The raw connection, for callers with their own queries. */
sqlite3 *
db_handle(crm_db *db)
{
	return db->h;
}

/* The schema version this handle migrated to (or found). */
int
db_schema_version(crm_db *db)
{
	return db->version;
}

/* The cached statement for sql, reset and with its bindings cleared. */
sqlite3_stmt *
db_prepare(crm_db *db, const char *sql, GError **err)
{
	sqlite3_stmt *st = g_hash_table_lookup(db->stmts, sql);

	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		db_set_error(db, err, "prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	g_hash_table_insert(db->stmts, g_strdup(sql), st);
	return st;
}

/* Run one cached statement that returns no rows. */
static gboolean
run_cached(crm_db *db, const char *sql, GError **err)
{
	sqlite3_stmt *st = db_prepare(db, sql, err);
	int rc;

	if (st == NULL)
		return FALSE;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_set_error(db, err, sql);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

/* Run SQL without result rows. */
gboolean
db_exec(crm_db *db, const char *sql, GError **err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		g_set_error(err, DB_ERROR, code_for(rc), "%s", msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return FALSE;
	}
	return TRUE;
}

/* BEGIN IMMEDIATE: take the write lock now, waiting up to the busy timeout. */
gboolean
db_begin(crm_db *db, GError **err)
{
	if (!run_cached(db, db->depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT crm_nest", err))
		return FALSE;
	db->depth++;
	return TRUE;
}

/* COMMIT (the outermost) or RELEASE (a nested one); on failure the
 * transaction (or the nested part) is rolled back. */
gboolean
db_commit(crm_db *db, GError **err)
{
	if (db->depth > 1) {
		if (run_cached(db, "RELEASE crm_nest", err)) {
			db->depth--;
			return TRUE;
		}
		db_rollback(db);
		return FALSE;
	}
	if (run_cached(db, "COMMIT", err)) {
		db->depth = 0;
		return TRUE;
	}
	db_rollback(db);
	return FALSE;
}

/* ROLLBACK if a transaction is open: a nested one back to where it began,
 * the outermost whole. */
void
db_rollback(crm_db *db)
{
	if (db == NULL || db->h == NULL)
		return;
	if (db->depth > 1) {
		sqlite3_exec(db->h, "ROLLBACK TO crm_nest; RELEASE crm_nest", NULL, NULL, NULL);
		db->depth--;
		return;
	}
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->depth = 0;
}

/* Read the stored schema version (0 for a fresh file); -1 with err. */
static int
read_version(crm_db *db, GError **err)
{
	sqlite3_stmt *st = NULL;
	int rc, v = 0;

	rc = sqlite3_prepare_v2(db->h,
	    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
	    -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		db_set_error(db, err, "reading the schema");
		sqlite3_finalize(st);
		return -1;
	}
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v == 0)
		return 0;
	rc = sqlite3_prepare_v2(db->h, "SELECT coalesce(max(version), 0) FROM schema_version",
	    -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		db_set_error(db, err, "reading the schema version");
		sqlite3_finalize(st);
		return -1;
	}
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* FALSE with err when the file is newer than this program. */
static gboolean
check_not_newer(int v, const char *path, GError **err)
{
	if (v <= DB_SCHEMA_VERSION)
		return TRUE;
	g_set_error(err, DB_ERROR, DB_ERROR_NEWER,
	    "%s: schema version %d is newer than this program's %d", path, v,
	    DB_SCHEMA_VERSION);
	return FALSE;
}

/* Bring the schema up to DB_SCHEMA_VERSION. */
static gboolean
migrate(crm_db *db, const char *path, GError **err)
{
	char *sql;
	int v = read_version(db, err);

	if (v < 0 || !check_not_newer(v, path, err))
		return FALSE;
	if (v == DB_SCHEMA_VERSION) {
		db->version = v;
		return TRUE;
	}
	if (!db_begin(db, err))
		return FALSE;
	/* again under the write lock: another process may have migrated */
	v = read_version(db, err);
	if (v < 0 || !check_not_newer(v, path, err))
		goto fail;
	if (v == 0 && !db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", err))
		goto fail;
	for (; v < DB_SCHEMA_VERSION; v++) {
		if (!db_exec(db, migrations[v], err)) {
			g_prefix_error(err, "%s: migration to version %d: ", path, v + 1);
			goto fail;
		}
	}
	sql = g_strdup_printf("DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", v);
	if (!db_exec(db, sql, err)) {
		g_free(sql);
		goto fail;
	}
	g_free(sql);
	if (!db_commit(db, err))
		return FALSE;
	db->version = v;
	return TRUE;
fail:
	db_rollback(db);
	return FALSE;
}

/* Switch to WAL. Changing the journal mode can report SQLITE_BUSY without
 * calling the busy handler while another process sets up the same fresh
 * file, so retry until the busy timeout runs out. */
static gboolean
set_wal(crm_db *db, int busy_timeout_ms, GError **err)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)busy_timeout_ms * 1000;

	for (;;) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode=WAL", -1, &st, NULL);

		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *mode = (const char *)sqlite3_column_text(st, 0);
			gboolean ok = mode != NULL &&
			    (g_ascii_strcasecmp(mode, "wal") == 0 || g_ascii_strcasecmp(mode, "memory") == 0);

			if (!ok)
				g_set_error(err, DB_ERROR, DB_ERROR_OPEN,
				    "cannot use WAL (journal mode is %s)", mode ? mode : "?");
			sqlite3_finalize(st);
			return ok;
		}
		sqlite3_finalize(st);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
			db_set_error(db, err, "setting WAL mode");
			return FALSE;
		}
		if (g_get_monotonic_time() >= deadline) {
			db_set_error(db, err, "setting WAL mode");
			return FALSE;
		}
		g_usleep(5000);
	}
}

/* Open (creating if needed) and migrate the database at path. */
crm_db *
db_open(const char *path, int busy_timeout_ms, GError **err)
{
	crm_db *db = g_new0(crm_db, 1);
	int rc;

	db->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, stmt_finalize);
	rc = sqlite3_open_v2(path, &db->h,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		g_set_error(err, DB_ERROR, DB_ERROR_OPEN, "%s: %s", path,
		    db->h != NULL ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		return db_close(db);
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, busy_timeout_ms);
	if (!set_wal(db, busy_timeout_ms, err) ||
	    !db_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", err)) {
		g_prefix_error(err, "%s: ", path);
		if (err != NULL && *err != NULL && (*err)->code != DB_ERROR_BUSY)
			(*err)->code = DB_ERROR_OPEN;
		return db_close(db);
	}
	if (!migrate(db, path, err))
		return db_close(db);
	return db;
}

/* A JSON array of strings. */
char *
db_json_from_strings(const char *const *v, gsize n)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *gen = json_generator_new();
	JsonNode *root;
	char *out;
	gsize i;

	json_builder_begin_array(b);
	for (i = 0; i < n; i++)
		if (v[i] != NULL)
			json_builder_add_string_value(b, v[i]);
	json_builder_end_array(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	out = json_generator_to_data(gen, NULL);
	json_node_unref(root);
	g_object_unref(gen);
	g_object_unref(b);
	return out;
}

/* The strings of a stored JSON array. */
GPtrArray *
db_json_to_strings(const char *json, GError **err)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	JsonParser *p;
	JsonNode *root;
	JsonArray *arr;
	guint i;

	if (json == NULL || *json == '\0')
		return out;
	p = json_parser_new();
	if (!json_parser_load_from_data(p, json, -1, NULL) ||
	    (root = json_parser_get_root(p)) == NULL || !JSON_NODE_HOLDS_ARRAY(root))
		goto bad;
	arr = json_node_get_array(root);
	for (i = 0; i < json_array_get_length(arr); i++) {
		JsonNode *el = json_array_get_element(arr, i);

		if (!JSON_NODE_HOLDS_VALUE(el) || json_node_get_value_type(el) != G_TYPE_STRING)
			goto bad;
		g_ptr_array_add(out, g_strdup(json_node_get_string(el)));
	}
	g_object_unref(p);
	return out;
bad:
	g_set_error(err, DB_ERROR, DB_ERROR_CORRUPT, "not a JSON array of strings: %.80s", json);
	g_object_unref(p);
	g_ptr_array_unref(out);
	return NULL;
}

/*
 * directory.c - the CRM directory table: lookups in best-match order,
 * upserts, listing and the opt-out check. See directory.h; the CSV import
 * is in directory_csv.c.
 *
 * Table (db.c, migration 2):
 *   directory(id, address, type, record_id, name, no_follow, added_at,
 *             updated_at)   UNIQUE (type, record_id, address),
 *   index directory_address on address (stored lower-cased).
 * type is stored as its name; the best-match order is one SQL expression
 * (RANK_SQL) so every query sorts the same way.
 *
 * Ownership: returned entries and arrays belong to the caller.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "directory.h"

/* contact, lead, user, account: the order of directory_lookup. */
#define RANK_SQL \
	"CASE type WHEN 'contact' THEN 0 WHEN 'lead' THEN 1 WHEN 'user' THEN 2 ELSE 3 END"
#define COLUMNS_SQL "address, type, record_id, name, no_follow, added_at"

static const char *const type_names[] = {
	[DIRREC_CONTACT] = "contact",
	[DIRREC_LEAD] = "lead",
	[DIRREC_ACCOUNT] = "account",
	[DIRREC_USER] = "user",
};

G_DEFINE_QUARK(crm-directory-error-quark, directory_error)

/* Run g_mime_init (GOnce callback). */
static gpointer
gmime_init_once(gpointer data)
{
	g_mime_init();
	return NULL;
}

/* Initialize GMime once per process (its init is not thread-safe). */
static void
ensure_gmime(void)
{
	static GOnce once = G_ONCE_INIT;

	g_once(&once, gmime_init_once, NULL);
}

/* Free one entry. */
directory_entry *
directory_entry_free(directory_entry *e)
{
	if (e == NULL)
		return NULL;
	g_free(e->address);
	g_free(e->record_id);
	g_free(e->name);
	g_free(e);
	return NULL;
}

/* GDestroyNotify for arrays of entries. */
static void
entry_free_notify(gpointer p)
{
	directory_entry_free(p);
}

/* The name of a record type. */
const char *
dir_record_type_name(dir_record_type t)
{
	if ((int)t < 0 || (gsize)t >= G_N_ELEMENTS(type_names))
		return "?";
	return type_names[t];
}

/* A record type from its name, any case. */
gboolean
dir_record_type_parse(const char *name, dir_record_type *t)
{
	gsize i;

	for (i = 0; name != NULL && i < G_N_ELEMENTS(type_names); i++) {
		if (g_ascii_strcasecmp(name, type_names[i]) == 0) {
			*t = (dir_record_type)i;
			return TRUE;
		}
	}
	return FALSE;
}

/* TRUE when s holds a C0 control character or DEL. */
static gboolean
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return TRUE;
	return FALSE;
}

/* The lookup key of an address: trimmed, one pair of <> removed,
 * lower-cased; NULL when empty or not UTF-8. New string. */
static char *
address_key(const char *address)
{
	char *copy, *s, *key;
	gsize len;

	if (address == NULL || !g_utf8_validate(address, -1, NULL))
		return NULL;
	copy = g_strstrip(g_strdup(address));
	s = copy;
	len = strlen(s);
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s[len - 1] = '\0';
		s++;
	}
	key = *s != '\0' ? g_utf8_strdown(s, -1) : NULL;
	g_free(copy);
	return key;
}

/* TRUE when key has an @ with text on both sides, no blanks, <, > or
 * commas (so no display name or list slipped through), and fits. */
static gboolean
plausible_address(const char *key)
{
	const char *at = key != NULL ? strrchr(key, '@') : NULL;

	return at != NULL && at != key && at[1] != '\0' && strpbrk(key, " <>,") == NULL &&
	    strlen(key) <= DIRECTORY_MAX_ADDRESS && !has_control(key);
}

/* The lower-cased address of one mailbox, or NULL. */
char *
directory_normalize_address(const char *text)
{
	InternetAddressList *list;
	InternetAddress *ia;
	char *key = NULL;

	if (text == NULL || !g_utf8_validate(text, -1, NULL))
		return NULL;
	ensure_gmime();
	list = internet_address_list_parse(NULL, text);
	if (list == NULL)
		return NULL;
	if (internet_address_list_length(list) == 1) {
		ia = internet_address_list_get_address(list, 0);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			key = address_key(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
	}
	g_object_unref(list);
	if (key != NULL && !plausible_address(key))
		key = (g_free(key), NULL);
	return key;
}

/* The entry in the current row of st (columns COLUMNS_SQL); NULL with err
 * for a type the table should never hold. */
static directory_entry *
row_entry(sqlite3_stmt *st, GError **err)
{
	directory_entry *e = g_new0(directory_entry, 1);
	const char *type = (const char *)sqlite3_column_text(st, 1);
	const char *name = (const char *)sqlite3_column_text(st, 3);

	e->address = g_strdup((const char *)sqlite3_column_text(st, 0));
	e->record_id = g_strdup((const char *)sqlite3_column_text(st, 2));
	e->name = name != NULL ? g_strdup(name) : NULL;
	e->no_follow = sqlite3_column_int(st, 4) != 0;
	e->added_at = sqlite3_column_int64(st, 5);
	if (!dir_record_type_parse(type, &e->type)) {
		g_set_error(err, DB_ERROR, DB_ERROR_CORRUPT, "directory: unknown record type \"%s\"",
		    type != NULL ? type : "(null)");
		return directory_entry_free(e);
	}
	return e;
}

/* Step st to the end, collecting entries; NULL with err. Resets st. */
static GPtrArray *
collect(crm_db *db, sqlite3_stmt *st, GError **err)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(entry_free_notify);
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		directory_entry *e = row_entry(st, err);

		if (e == NULL)
			goto fail;
		g_ptr_array_add(out, e);
	}
	if (rc != SQLITE_DONE) {
		db_set_error(db, err, "reading the directory");
		goto fail;
	}
	sqlite3_reset(st);
	return out;
fail:
	sqlite3_reset(st);
	g_ptr_array_unref(out);
	return NULL;
}

/* Every record of address, best first. */
GPtrArray *
directory_lookup_all(crm_db *db, const char *address, GError **err)
{
	char *key = address_key(address);
	sqlite3_stmt *st;
	GPtrArray *out;

	if (key == NULL)
		return g_ptr_array_new_with_free_func(entry_free_notify);
	st = db_prepare(db, "SELECT " COLUMNS_SQL " FROM directory WHERE address = ?1"
	    " ORDER BY " RANK_SQL ", added_at, id", err);
	if (st == NULL) {
		g_free(key);
		return NULL;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	out = collect(db, st, err);
	g_free(key);
	return out;
}

/* The best record of address, or NULL. */
directory_entry *
directory_lookup(crm_db *db, const char *address, GError **err)
{
	GPtrArray *all = directory_lookup_all(db, address, err);
	directory_entry *best = NULL;

	if (all == NULL)
		return NULL;
	if (all->len > 0)
		best = g_ptr_array_steal_index(all, 0);
	g_ptr_array_unref(all);
	return best;
}

/* FALSE with err when e cannot be stored; *key gets the address key. */
static gboolean
check_entry(const directory_entry *e, char **key, GError **err)
{
	const char *why = NULL;

	*key = e != NULL ? address_key(e->address) : NULL;
	if (e == NULL)
		why = "no entry";
	else if (!plausible_address(*key))
		why = "not an email address (or longer than 320 bytes)";
	else if ((int)e->type < 0 || (gsize)e->type >= G_N_ELEMENTS(type_names))
		why = "unknown record type";
	else if (e->record_id == NULL || *e->record_id == '\0')
		why = "no record id";
	else if (strlen(e->record_id) > DIRECTORY_MAX_ID || !g_utf8_validate(e->record_id, -1, NULL) ||
	    has_control(e->record_id))
		why = "record id too long, not UTF-8 or with control characters";
	else if (e->name != NULL && (strlen(e->name) > DIRECTORY_MAX_NAME ||
	    !g_utf8_validate(e->name, -1, NULL) || has_control(e->name)))
		why = "name too long, not UTF-8 or with control characters";
	if (why == NULL)
		return TRUE;
	g_set_error(err, DIRECTORY_ERROR, DIRECTORY_ERROR_INVALID, "directory entry: %s", why);
	g_free(*key);
	*key = NULL;
	return FALSE;
}

/* Insert or update one record, keeping added_at. */
gboolean
directory_upsert(crm_db *db, const directory_entry *e, gint64 now, GError **err)
{
	sqlite3_stmt *st;
	char *key;
	int rc;

	if (!check_entry(e, &key, err))
		return FALSE;
	st = db_prepare(db,
	    "INSERT INTO directory (address, type, record_id, name, no_follow, added_at, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
	    " ON CONFLICT (type, record_id, address) DO UPDATE SET name = excluded.name,"
	    " no_follow = excluded.no_follow, updated_at = excluded.updated_at", err);
	if (st == NULL) {
		g_free(key);
		return FALSE;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, dir_record_type_name(e->type), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->record_id, -1, SQLITE_TRANSIENT);
	if (e->name != NULL && *e->name != '\0')
		sqlite3_bind_text(st, 4, e->name, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int(st, 5, e->no_follow ? 1 : 0);
	sqlite3_bind_int64(st, 6, now);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		db_set_error(db, err, "directory upsert");
	sqlite3_reset(st);
	g_free(key);
	return rc == SQLITE_DONE;
}

/* Entries ordered by address then best match, optionally of one type. */
GPtrArray *
directory_list(crm_db *db, const char *type_filter, int limit, GError **err)
{
	dir_record_type t;
	sqlite3_stmt *st;

	if (type_filter != NULL && !dir_record_type_parse(type_filter, &t)) {
		g_set_error(err, DIRECTORY_ERROR, DIRECTORY_ERROR_INVALID,
		    "unknown record type \"%s\" (contact, lead, account or user)", type_filter);
		return NULL;
	}
	st = db_prepare(db, "SELECT " COLUMNS_SQL " FROM directory WHERE ?1 IS NULL OR type = ?1"
	    " ORDER BY address, " RANK_SQL ", added_at, id LIMIT ?2", err);
	if (st == NULL)
		return NULL;
	if (type_filter != NULL)
		sqlite3_bind_text(st, 1, dir_record_type_name(t), -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
	return collect(db, st, err);
}

/* TRUE when one of the addresses has a record with no_follow set. */
gboolean
directory_any_no_follow(crm_db *db, const char *const *addrs, gsize n, GError **err)
{
	gboolean found = FALSE;
	gsize i;

	for (i = 0; i < n && !found; i++) {
		char *key = address_key(addrs[i]);
		sqlite3_stmt *st;
		int rc;

		if (key == NULL)
			continue;
		st = db_prepare(db, "SELECT 1 FROM directory WHERE address = ?1 AND no_follow = 1 LIMIT 1", err);
		if (st == NULL) {
			g_free(key);
			return FALSE;
		}
		sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			db_set_error(db, err, "directory opt-out check");
		sqlite3_reset(st);
		g_free(key);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return FALSE;
		found = rc == SQLITE_ROW;
	}
	return found;
}

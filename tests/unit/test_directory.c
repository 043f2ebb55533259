/*
 * test_directory.c - the CRM directory (core/directory.h): record type
 * names, address normalisation, lookups in best-match order, upserts,
 * listing, the opt-out check, the CSV import (header, quoting, CRLF, BOM,
 * bad rows with their line numbers, fatal errors, limits) and the schema
 * migration that adds the table. The CSV import's tests are in
 * test_directory_csv.c.
 *
 * Every case runs on a fresh database in its own scratch directory; time
 * is a parameter (each seed's own time for upserts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "testutil.h"
#include "test_directory.h"

typedef struct seed {
	const char *address;
	const char *type;
	const char *id;
	const char *name;
	gboolean no_follow;
	gint64 at;
} seed;

/* A fresh database. */
int
setup_db(void **state)
{
	fixture *f = g_new0(fixture, 1);
	GError *e = NULL;

	f->dir = testutil_tmpdir();
	f->path = g_build_filename(f->dir, "spool.db", NULL);
	f->db = db_open(f->path, 2000, &e);
	if (f->db == NULL)
		fail_msg("db_open: %s", e->message);
	*state = f;
	return 0;
}

/* Close and remove it. */
int
teardown_db(void **state)
{
	fixture *f = *state;

	db_close(f->db);
	testutil_rmtree(f->dir);
	g_free(f->path);
	g_free(f->dir);
	g_free(f);
	return 0;
}

/* Upsert each seed (up to the first without an address). */
static void
plant(crm_db *db, const seed *seeds, gsize n)
{
	gsize i;

	for (i = 0; i < n && seeds[i].address != NULL; i++) {
		directory_entry e = {
			.address = (char *)seeds[i].address, .record_id = (char *)seeds[i].id,
			.name = (char *)seeds[i].name, .no_follow = seeds[i].no_follow,
		};
		GError *err = NULL;

		assert_true(dir_record_type_parse(seeds[i].type, &e.type));
		if (!directory_upsert(db, &e, seeds[i].at, &err))
			fail_msg("seed %s: %s", seeds[i].address, err->message);
	}
}

/* "type:id,type:id" of entries. */
static char *
ids(GPtrArray *entries)
{
	GString *s = g_string_new(NULL);
	guint i;

	for (i = 0; i < entries->len; i++) {
		directory_entry *e = g_ptr_array_index(entries, i);
		g_string_append_printf(s, "%s%s:%s", i ? "," : "", dir_record_type_name(e->type), e->record_id);
	}
	return g_string_free(s, FALSE);
}

/* The whole directory, see test_directory.h. */
char *
directory_dump(crm_db *db)
{
	GError *e = NULL;
	GPtrArray *all = directory_list(db, NULL, 0, &e);
	GString *s = g_string_new(NULL);
	guint i;

	if (all == NULL)
		fail_msg("directory_list: %s", e->message);
	for (i = 0; i < all->len; i++) {
		directory_entry *d = g_ptr_array_index(all, i);
		g_string_append_printf(s, "%s%s|%s|%s|%s|%d|%" G_GINT64_FORMAT, i ? ";" : "", d->address,
		    dir_record_type_name(d->type), d->record_id, d->name ? d->name : "-", d->no_follow,
		    d->added_at);
	}
	g_ptr_array_unref(all);
	return g_string_free(s, FALSE);
}

/* ------------------------------------------------------------ names */

static const struct {
	const char *label, *name;
	gboolean ok;
	dir_record_type type;
	const char *canonical;
} type_cases[] = {
	{ "contact", "contact", TRUE, DIRREC_CONTACT, "contact" },
	{ "any case", "Lead", TRUE, DIRREC_LEAD, "lead" },
	{ "account", "ACCOUNT", TRUE, DIRREC_ACCOUNT, "account" },
	{ "user", "user", TRUE, DIRREC_USER, "user" },
	{ "unknown", "prospect", FALSE, 0, NULL },
	{ "empty", "", FALSE, 0, NULL },
	{ "NULL", NULL, FALSE, 0, NULL },
};

/* dir_record_type_parse / _name. */
static void
test_type_names(void **state)
{
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(type_cases); i++) {
		dir_record_type t = (dir_record_type)99;
		gboolean ok = dir_record_type_parse(type_cases[i].name, &t);

		print_message("type: %s\n", type_cases[i].label);
		assert_int_equal(ok, type_cases[i].ok);
		if (ok) {
			assert_int_equal(t, type_cases[i].type);
			assert_string_equal(dir_record_type_name(t), type_cases[i].canonical);
		}
	}
	assert_string_equal(dir_record_type_name((dir_record_type)99), "?");
}

static const struct {
	const char *label, *in, *out;
} norm_cases[] = {
	{ "lower-cased", "Alice@Example.COM", "alice@example.com" },
	{ "display name", "Alice Doe <Alice@Example.com>", "alice@example.com" },
	{ "quoted name with a comma", "\"Doe, Alice\" <alice@example.com>", "alice@example.com" },
	{ "blanks around", "  bob@example.org  ", "bob@example.org" },
	{ "unicode", "J\xc3\x96RG@Example.de", "j\xc3\xb6rg@example.de" },
	{ "two addresses", "a@example.com, b@example.com", NULL },
	{ "no @", "alice", NULL },
	{ "no local part", "@example.com", NULL },
	{ "no domain", "alice@", NULL },
	{ "group", "team: a@example.com;", NULL },
	{ "empty", "", NULL },
	{ "not UTF-8", "\xff@example.com", NULL },
	{ "longer than 320 bytes", X256 X64 "@example.com", NULL },
};

/* directory_normalize_address. */
static void
test_normalize(void **state)
{
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(norm_cases); i++) {
		char *got = directory_normalize_address(norm_cases[i].in);

		print_message("normalize: %s\n", norm_cases[i].label);
		if (norm_cases[i].out == NULL)
			assert_null(got);
		else
			assert_string_equal(got, norm_cases[i].out);
		g_free(got);
	}
}

/* ------------------------------------------------------------ lookups */

static const struct {
	const char *label;
	seed seeds[6];
	const char *query;
	const char *expect;      /* lookup_all, best first; "" none */
} lookup_cases[] = {
	{ "contact, lead, user, then account, whatever the insertion order",
	  { { "pat@example.com", "account", "A1", NULL, FALSE, 100 },
	    { "pat@example.com", "user", "U1", NULL, FALSE, 200 },
	    { "pat@example.com", "lead", "L1", NULL, FALSE, 300 },
	    { "pat@example.com", "contact", "C1", NULL, FALSE, 400 } },
	  "pat@example.com", "contact:C1,lead:L1,user:U1,account:A1" },
	{ "the oldest first within a type",
	  { { "pat@example.com", "lead", "L9", NULL, FALSE, 50 },
	    { "pat@example.com", "contact", "C2", NULL, FALSE, 500 },
	    { "pat@example.com", "contact", "C1", NULL, FALSE, 100 },
	    { "pat@example.com", "contact", "C3", NULL, FALSE, 300 } },
	  "pat@example.com", "contact:C1,contact:C3,contact:C2,lead:L9" },
	{ "same time: the first inserted first",
	  { { "pat@example.com", "contact", "Cb", NULL, FALSE, 100 },
	    { "pat@example.com", "contact", "Ca", NULL, FALSE, 100 } },
	  "pat@example.com", "contact:Cb,contact:Ca" },
	{ "the query ignores case",
	  { { "alice@example.com", "contact", "C1", NULL, FALSE, 100 } },
	  "Alice@EXAMPLE.com", "contact:C1" },
	{ "a stored address is lower-cased",
	  { { "Bob@Example.ORG", "lead", "L1", NULL, FALSE, 100 } },
	  "bob@example.org", "lead:L1" },
	{ "angle brackets and blanks around the query",
	  { { "alice@example.com", "user", "U1", NULL, FALSE, 100 } },
	  " <Alice@example.com> ", "user:U1" },
	{ "non-ASCII letters ignore case too",
	  { { "J\xc3\x96rg@Example.de", "contact", "C1", NULL, FALSE, 100 } },
	  "j\xc3\xb6RG@example.DE", "contact:C1" },
	{ "other addresses do not match",
	  { { "alice@example.com", "contact", "C1", NULL, FALSE, 100 },
	    { "alice@example.co", "contact", "C2", NULL, FALSE, 100 },
	    { "xalice@example.com", "contact", "C3", NULL, FALSE, 100 } },
	  "alice@example.com", "contact:C1" },
	{ "unknown address", { { "alice@example.com", "contact", "C1", NULL, FALSE, 100 } },
	  "bob@example.com", "" },
	{ "a query that is not UTF-8", { { "alice@example.com", "contact", "C1", NULL, FALSE, 100 } },
	  "\xff" "alice@example.com", "" },
};

/* directory_lookup_all's order and directory_lookup's best match. */
static void
test_lookup(void **state)
{
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(lookup_cases); i++) {
		fixture *f;
		GError *e = NULL;
		GPtrArray *all;
		directory_entry *best;
		char *got;

		print_message("lookup: %s\n", lookup_cases[i].label);
		setup_db((void **)&f);
		plant(f->db, lookup_cases[i].seeds, G_N_ELEMENTS(lookup_cases[i].seeds));
		all = directory_lookup_all(f->db, lookup_cases[i].query, &e);
		assert_non_null(all);
		got = ids(all);
		assert_string_equal(got, lookup_cases[i].expect);
		best = directory_lookup(f->db, lookup_cases[i].query, &e);
		assert_null(e);
		if (all->len == 0) {
			assert_null(best);
		} else {
			directory_entry *first = g_ptr_array_index(all, 0);
			assert_non_null(best);
			assert_string_equal(best->record_id, first->record_id);
			assert_int_equal(best->type, first->type);
			assert_int_equal(best->added_at, first->added_at);
		}
		directory_entry_free(best);
		g_free(got);
		g_ptr_array_unref(all);
		teardown_db((void **)&f);
	}
	assert_null(directory_entry_free(NULL));
}

/* ------------------------------------------------------------ upsert */

static const struct {
	const char *label;
	seed first, second;
	gboolean second_ok;
	const char *expect;      /* dump after both */
} upsert_cases[] = {
	{ "an update keeps added_at and replaces name and no_follow",
	  { "alice@example.com", "contact", "C1", "A.", FALSE, 100 },
	  { "ALICE@example.com", "contact", "C1", "Alice", TRUE, 200 }, TRUE,
	  "alice@example.com|contact|C1|Alice|1|100" },
	{ "a name can be cleared",
	  { "alice@example.com", "contact", "C1", "Alice", TRUE, 100 },
	  { "alice@example.com", "contact", "C1", NULL, FALSE, 200 }, TRUE,
	  "alice@example.com|contact|C1|-|0|100" },
	{ "another type is another record",
	  { "alice@example.com", "contact", "C1", "Alice", FALSE, 100 },
	  { "alice@example.com", "lead", "C1", "Alice", FALSE, 200 }, TRUE,
	  "alice@example.com|contact|C1|Alice|0|100;alice@example.com|lead|C1|Alice|0|200" },
	{ "another id is another record",
	  { "alice@example.com", "contact", "C1", NULL, FALSE, 100 },
	  { "alice@example.com", "contact", "C2", NULL, FALSE, 200 }, TRUE,
	  "alice@example.com|contact|C1|-|0|100;alice@example.com|contact|C2|-|0|200" },
	{ "an id of 256 bytes fits",
	  { "alice@example.com", "contact", "C1", NULL, FALSE, 100 },
	  { "alice@example.com", "user", X256, NULL, FALSE, 200 }, TRUE,
	  "alice@example.com|contact|C1|-|0|100;alice@example.com|user|" X256 "|-|0|200" },
	{ "not an address is refused",
	  { "alice@example.com", "contact", "C1", NULL, FALSE, 100 },
	  { "alice.example.com", "contact", "C2", NULL, FALSE, 200 }, FALSE,
	  "alice@example.com|contact|C1|-|0|100" },
	{ "a display name is refused (upsert takes a bare address)",
	  { "alice@example.com", "contact", "C1", NULL, FALSE, 100 },
	  { "Bob <bob@example.com>", "contact", "C2", NULL, FALSE, 200 }, FALSE,
	  "alice@example.com|contact|C1|-|0|100" },
	{ "an empty id is refused",
	  { "alice@example.com", "contact", "C1", NULL, FALSE, 100 },
	  { "bob@example.com", "contact", "", NULL, FALSE, 200 }, FALSE,
	  "alice@example.com|contact|C1|-|0|100" },
	{ "an id of 257 bytes is refused",
	  { "alice@example.com", "contact", "C1", NULL, FALSE, 100 },
	  { "bob@example.com", "contact", X256 "x", NULL, FALSE, 200 }, FALSE,
	  "alice@example.com|contact|C1|-|0|100" },
	{ "a control character in the name is refused",
	  { "alice@example.com", "contact", "C1", NULL, FALSE, 100 },
	  { "alice@example.com", "contact", "C1", "A\nB", FALSE, 200 }, FALSE,
	  "alice@example.com|contact|C1|-|0|100" },
};

/* directory_upsert: the unique key, added_at kept, bad entries refused. */
static void
test_upsert(void **state)
{
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(upsert_cases); i++) {
		fixture *f;
		directory_entry e = { 0 };
		GError *err = NULL;
		char *got;

		print_message("upsert: %s\n", upsert_cases[i].label);
		setup_db((void **)&f);
		plant(f->db, &upsert_cases[i].first, 1);
		e.address = (char *)upsert_cases[i].second.address;
		e.record_id = (char *)upsert_cases[i].second.id;
		e.name = (char *)upsert_cases[i].second.name;
		e.no_follow = upsert_cases[i].second.no_follow;
		e.added_at = 1;  /* ignored */
		assert_true(dir_record_type_parse(upsert_cases[i].second.type, &e.type));
		assert_int_equal(directory_upsert(f->db, &e, upsert_cases[i].second.at, &err),
		    upsert_cases[i].second_ok);
		if (!upsert_cases[i].second_ok) {
			assert_non_null(err);
			assert_true(g_error_matches(err, DIRECTORY_ERROR, DIRECTORY_ERROR_INVALID));
			g_clear_error(&err);
		}
		got = directory_dump(f->db);
		assert_string_equal(got, upsert_cases[i].expect);
		g_free(got);
		teardown_db((void **)&f);
	}
}

/* ------------------------------------------------------------ list, opt-out */

static const seed list_seeds[] = {
	{ "carol@example.net", "user", "U1", "Carol", FALSE, 100 },
	{ "alice@example.com", "lead", "L1", "Alice", FALSE, 100 },
	{ "alice@example.com", "contact", "C1", "Alice", TRUE, 200 },
	{ "bob@example.org", "lead", "L2", "Bob", FALSE, 50 },
	{ "bob@example.org", "account", "A1", "Bob Inc", FALSE, 10 },
	{ "dave@example.com", "contact", "C2", NULL, FALSE, 100 },
};

static const struct {
	const char *label, *type;
	int limit;
	const char *expect;      /* NULL: refused */
} list_cases[] = {
	{ "all: by address, then best match", NULL, 0,
	  "contact:C1,lead:L1,lead:L2,account:A1,user:U1,contact:C2" },
	{ "a limit", NULL, 2, "contact:C1,lead:L1" },
	{ "leads", "lead", 0, "lead:L1,lead:L2" },
	{ "type names ignore case", "Contact", 0, "contact:C1,contact:C2" },
	{ "no users but one", "user", 5, "user:U1" },
	{ "unknown type", "prospect", 0, NULL },
};

/* directory_list. */
static void
test_list(void **state)
{
	fixture *f = *state;
	gsize i;

	plant(f->db, list_seeds, G_N_ELEMENTS(list_seeds));
	for (i = 0; i < G_N_ELEMENTS(list_cases); i++) {
		GError *e = NULL;
		GPtrArray *got = directory_list(f->db, list_cases[i].type, list_cases[i].limit, &e);

		print_message("list: %s\n", list_cases[i].label);
		if (list_cases[i].expect == NULL) {
			assert_null(got);
			assert_true(g_error_matches(e, DIRECTORY_ERROR, DIRECTORY_ERROR_INVALID));
			g_clear_error(&e);
		} else {
			char *s;
			assert_non_null(got);
			s = ids(got);
			assert_string_equal(s, list_cases[i].expect);
			g_free(s);
			g_ptr_array_unref(got);
		}
	}
}

static const seed opt_seeds[] = {
	{ "alice@example.com", "contact", "C1", NULL, TRUE, 100 },
	{ "bob@example.org", "contact", "C2", NULL, FALSE, 100 },
	{ "bob@example.org", "lead", "L2", NULL, TRUE, 200 },
	{ "carol@example.net", "lead", "L3", NULL, FALSE, 100 },
};

static const struct {
	const char *label;
	const char *addrs[4];    /* up to the first NULL */
	gboolean expect;
} opt_cases[] = {
	{ "nobody known", { "x@example.com", "y@example.com" }, FALSE },
	{ "known but following", { "carol@example.net" }, FALSE },
	{ "one opted-out recipient among others", { "x@example.com", "carol@example.net", "alice@example.com" }, TRUE },
	{ "any record of the address counts", { "bob@example.org" }, TRUE },
	{ "case and brackets ignored", { "<ALICE@Example.com>" }, TRUE },
	{ "no addresses", { NULL }, FALSE },
};

/* directory_any_no_follow. */
static void
test_no_follow(void **state)
{
	fixture *f = *state;
	gsize i;

	plant(f->db, opt_seeds, G_N_ELEMENTS(opt_seeds));
	for (i = 0; i < G_N_ELEMENTS(opt_cases); i++) {
		GError *e = NULL;
		gsize n = 0;

		while (n < G_N_ELEMENTS(opt_cases[i].addrs) && opt_cases[i].addrs[n] != NULL)
			n++;
		print_message("no_follow: %s\n", opt_cases[i].label);
		assert_int_equal(directory_any_no_follow(f->db, opt_cases[i].addrs, n, &e), opt_cases[i].expect);
		assert_null(e);
	}
}

/* ------------------------------------------------------------ migration */

/* The migration that adds the table (version 2) ran: the columns, the
 * index on the address, which lookups use, and the checks that keep
 * addresses lower-case and types known. (Migrating in general is tested
 * in test_spool_db.c.) */
static void
test_migration(void **state)
{
	fixture *f = *state;
	sqlite3 *h = db_handle(f->db);
	sqlite3_stmt *st = NULL;

	assert_true(DB_SCHEMA_VERSION >= 2);
	assert_int_equal(db_schema_version(f->db), DB_SCHEMA_VERSION);
	assert_int_equal(sqlite3_exec(h, "SELECT address, type, record_id, name, no_follow, added_at,"
	    " updated_at FROM directory", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_prepare_v2(h, "EXPLAIN QUERY PLAN SELECT * FROM directory WHERE address = 'a@b.c'",
	    -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "directory_address"));
	sqlite3_finalize(st);
	assert_int_not_equal(sqlite3_exec(h, "INSERT INTO directory (address, type, record_id, added_at,"
	    " updated_at) VALUES ('Upper@example.com', 'contact', 'C1', 1, 1)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(h, "INSERT INTO directory (address, type, record_id, added_at,"
	    " updated_at) VALUES ('a@example.com', 'prospect', 'P1', 1, 1)", NULL, NULL, NULL), SQLITE_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_upsert),
		cmocka_unit_test_setup_teardown(test_list, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_no_follow, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_migration, setup_db, teardown_db),
		cmocka_unit_test(test_csv),
		cmocka_unit_test_setup_teardown(test_csv_size_limit, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_csv_pipe_limit, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_csv_error_cap, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_csv_path, setup_db, teardown_db),
	};

	return cmocka_run_group_tests_name("directory", tests, NULL, NULL);
}

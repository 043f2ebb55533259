/*
 * test_directory.h - what the two halves of the directory test share: the
 * fixture (a fresh database per test in its own scratch directory), the
 * dump of a whole directory, and the CSV import tests of
 * test_directory_csv.c that test_directory.c's main runs.
 *
 * Public (test-only): fixture, NOW, X16..X512, setup_db, teardown_db,
 * directory_dump, and the test_csv* functions below.
 */
#ifndef CRM_TEST_DIRECTORY_H
#define CRM_TEST_DIRECTORY_H

#include <glib.h>
#include "db.h"
#include "directory.h"

/* "now" of every import */
#define NOW 1000
#define X16 "xxxxxxxxxxxxxxxx"
#define X64 X16 X16 X16 X16
#define X256 X64 X64 X64 X64
#define X512 X256 X256

typedef struct fixture {
	char *dir;
	char *path;
	crm_db *db;
} fixture;

int setup_db(void **state);
int teardown_db(void **state);
/* "address|type|id|name|no_follow|added_at;..." in directory_list order,
 * name "-" when NULL. New string. */
char *directory_dump(crm_db *db);

/* test_directory_csv.c */
void test_csv(void **state);
void test_csv_size_limit(void **state);
void test_csv_pipe_limit(void **state);
void test_csv_error_cap(void **state);
void test_csv_path(void **state);

#endif

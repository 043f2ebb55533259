/*
 * test_directory_csv.c - directory_import_fd / directory_import_csv on a
 * table of CSV files: header in any order, quoting, CRLF, a byte order
 * mark, bad rows skipped and reported with the line they start on, fatal
 * errors that import nothing, field limits; then the file size limit (a
 * regular file and a pipe), the cap on kept errors, and paths.
 *
 * Each case gets a fresh database; expected errors are "LINE:text|..."
 * where text must occur in the message; dumps as in test_directory.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "test_directory.h"

#define PRE_NOW 500
#define C10 ",,,,,,,,,,"
/* a literal with its exact length (it may hold NUL bytes) */
#define LIT(s) .csv = s, .len = sizeof(s) - 1
#define X4K X512 X512 X512 X512 X512 X512 X512 X512
#define X32K X4K X4K X4K X4K X4K X4K X4K X4K
/* pads "a@example.com,contact,C1,\"PAD\"\n" (28 bytes + pad) to 64 KiB */
#define X_PAD X32K X4K X4K X4K X4K X4K X4K X4K X2K X1K X512 X256 X128 X64 X32 "xxxx"
#define X2K X512 X512 X512 X512
#define X1K X512 X512
#define X128 X64 X64
#define X32 X16 X16
/* 70 KiB of lines "b@example.com,contact,C2\n" (25 bytes) */
#define L1 "b@example.com,contact,C2\n"
#define L10 L1 L1 L1 L1 L1 L1 L1 L1 L1 L1
#define L100 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10
#define X_LINES L100 L100 L100 L100 L100 L100 L100 L100 L100 L100 L100 L100 L100 L100 L100 L100 \
	L100 L100 L100 L100 L100 L100 L100 L100 L100 L100 L100 L100

typedef struct csv_case {
	const char *label;
	const char *pre;          /* imported first, at PRE_NOW; or NULL */
	const char *csv;
	gsize len;
	gboolean ok;
	int code;                 /* the error code when !ok */
	guint rows, added, updated, bad;
	const char *errors;       /* "LINE:text|..." ("" none) */
	const char *dump;         /* the directory afterwards */
} csv_case;

static const csv_case csv_cases[] = {
	{ .label = "plain, LF",
	  LIT("address,type,id,name,no_follow\n"
	      "alice@example.com,contact,C1,Alice,no\n"
	      "bob@example.org,lead,L1,Bob,yes\n"),
	  .ok = TRUE, .rows = 2, .added = 2, .errors = "",
	  .dump = "alice@example.com|contact|C1|Alice|0|1000;bob@example.org|lead|L1|Bob|1|1000" },
	{ .label = "CRLF and a byte order mark, type in any case",
	  LIT("\xef\xbb\xbf" "address,type,id\r\n"
	      "Alice@Example.com,Contact,C1\r\n"
	      "carol@example.net,USER,U1\r\n"),
	  .ok = TRUE, .rows = 2, .added = 2, .errors = "",
	  .dump = "alice@example.com|contact|C1|-|0|1000;carol@example.net|user|U1|-|0|1000" },
	{ .label = "a byte order mark before a quoted header",
	  LIT("\xef\xbb\xbf\"address\",\"type\",\"id\"\nalice@example.com,contact,C1\n"),
	  .ok = TRUE, .rows = 1, .added = 1, .errors = "",
	  .dump = "alice@example.com|contact|C1|-|0|1000" },
	{ .label = "columns in any order, extra ones ignored, header in any case",
	  LIT("ID,Extra,Type,Address,Name\r\n"
	      "C1,\"zzz, zz\",contact,alice@example.com,\"Doe, Alice\"\r\n"),
	  .ok = TRUE, .rows = 1, .added = 1, .errors = "",
	  .dump = "alice@example.com|contact|C1|Doe, Alice|0|1000" },
	{ .label = "doubled quotes, a display name with a comma, blanks trimmed",
	  LIT("address,type,id,name\n"
	      "\"\"\"Doe, Alice\"\" <Alice@Example.com>\",contact,C1,\"Alice \"\"Al\"\" Doe\"\n"
	      "  bob@example.org , lead , L1 ,  Bob  \n"),
	  .ok = TRUE, .rows = 2, .added = 2, .errors = "",
	  .dump = "alice@example.com|contact|C1|Alice \"Al\" Doe|0|1000;bob@example.org|lead|L1|Bob|0|1000" },
	{ .label = "bad rows are skipped and reported with the line they start on",
	  LIT("address,type,id,name\n"                     /* 1 */
	      "alice@example.com,contact,C1,\"Alice\n"      /* 2 */
	      "Example\"\n"                                 /* 3 */
	      "bob@example.org,prospect,P1,Bob\n"           /* 4 */
	      "\n"                                          /* 5 */
	      ",contact,C2,Nobody\n"                        /* 6 */
	      "carol@example.net,user,,Carol\n"             /* 7 */
	      "dave@example.com,account,A1,\"Dave\r\n"      /* 8 */
	      "and Sons\"\r\n"                              /* 9 */
	      "erin,contact,C3,Erin\n"                      /* 10 */
	      "frank@example.com,lead\n"                    /* 11 */
	      "gina@example.com,lead,L7,Gina\n"),           /* 12 */
	  .ok = TRUE, .rows = 8, .added = 3, .bad = 5,
	  .errors = "4:unknown type \"prospect\"|6:missing address|7:missing id|"
	      "10:not one email address: \"erin\"|11:missing id",
	  .dump = "alice@example.com|contact|C1|Alice Example|0|1000;"
	      "dave@example.com|account|A1|Dave and Sons|0|1000;gina@example.com|lead|L7|Gina|0|1000" },
	{ .label = "addresses: loose, but one mailbox with text on both sides of the @",
	  LIT("address,type,id\n"
	      "\"a@example.com, b@example.com\",contact,C1\n"
	      "@example.com,contact,C2\n"
	      "alice@,contact,C3\n"
	      "<Alice@Example.com>,contact,C4\n"
	      "Team: a@example.com;,contact,C5\n"),
	  .ok = TRUE, .rows = 5, .added = 1, .bad = 4,
	  .errors = "2:not one email address|3:not one email address|4:not one email address|"
	      "6:not one email address",
	  .dump = "alice@example.com|contact|C4|-|0|1000" },
	{ .label = "no_follow: yes, no, true, false, 1, 0, empty, missing; anything else is bad",
	  LIT("address,type,id,no_follow\n"
	      "a1@example.com,contact,1,yes\n"
	      "a2@example.com,contact,2,No\n"
	      "a3@example.com,contact,3,TRUE\n"
	      "a4@example.com,contact,4,false\n"
	      "a5@example.com,contact,5,1\n"
	      "a6@example.com,contact,6,0\n"
	      "a7@example.com,contact,7,\n"
	      "a8@example.com,contact,8\n"
	      "a9@example.com,contact,9,maybe\n"),
	  .ok = TRUE, .rows = 9, .added = 8, .bad = 1, .errors = "10:bad no_follow \"maybe\"",
	  .dump = "a1@example.com|contact|1|-|1|1000;a2@example.com|contact|2|-|0|1000;"
	      "a3@example.com|contact|3|-|1|1000;a4@example.com|contact|4|-|0|1000;"
	      "a5@example.com|contact|5|-|1|1000;a6@example.com|contact|6|-|0|1000;"
	      "a7@example.com|contact|7|-|0|1000;a8@example.com|contact|8|-|0|1000" },
	{ .label = "field limits: id 256, name 512, address field 320 bytes",
	  LIT("address,type,id,name\n"
	      "a@example.com,contact," X256 ",n\n"
	      "b@example.com,contact," X256 "x,n\n"
	      "c@example.com,contact,C3," X512 "\n"
	      "d@example.com,contact,C4," X512 "y\n"
	      "\"" X256 X64 " <e@example.com>\",contact,C5\n"),
	  .ok = TRUE, .rows = 5, .added = 2, .bad = 3,
	  .errors = "3:id longer than 256 bytes|5:name longer than 512 bytes|6:address longer than 320 bytes",
	  .dump = "a@example.com|contact|" X256 "|n|0|1000;c@example.com|contact|C3|" X512 "|0|1000" },
	{ .label = "at most 64 fields in a row",
	  LIT("address,type,id\n"
	      "a@example.com,contact,C1" C10 C10 C10 C10 C10 C10 ",," "\n"
	      "b@example.com,contact,C2" C10 C10 C10 C10 C10 C10 "," "\n"),
	  .ok = TRUE, .rows = 2, .added = 1, .bad = 1, .errors = "2:more than 64 fields",
	  .dump = "b@example.com|contact|C2|-|0|1000" },
	{ .label = "a NUL byte, bad UTF-8, a control character in an id",
	  LIT("address,type,id,name\n"
	      "a@example.com,contact,C1,A\0B\n"
	      "b@example.com,contact,C2,\xff\xfe\n"
	      "c@example.com,contact,C\x01,C\n"
	      "d@example.com,contact,C4,D\n"),
	  .ok = TRUE, .rows = 4, .added = 1, .bad = 3,
	  .errors = "2:NUL byte|3:name is not UTF-8|4:id is not UTF-8 text: \"C?\"",
	  .dump = "d@example.com|contact|C4|D|0|1000" },
	{ .label = "a row repeated in the file is added, then updated",
	  LIT("address,type,id,name\n"
	      "a@example.com,contact,C1,First\n"
	      "A@example.com,contact,C1,Second\n"),
	  .ok = TRUE, .rows = 2, .added = 1, .updated = 1, .errors = "",
	  .dump = "a@example.com|contact|C1|Second|0|1000" },
	{ .label = "known rows are updated and keep added_at",
	  .pre = "address,type,id,name,no_follow\na@example.com,contact,C1,Old,no\n",
	  LIT("address,type,id,name,no_follow\n"
	      "a@example.com,contact,C1,New,yes\n"
	      "b@example.com,lead,L1,,\n"),
	  .ok = TRUE, .rows = 2, .added = 1, .updated = 1, .errors = "",
	  .dump = "a@example.com|contact|C1|New|1|500;b@example.com|lead|L1|-|0|1000" },
	{ .label = "a header and nothing else",
	  LIT("address,type,id\n"), .ok = TRUE, .errors = "", .dump = "" },
	{ .label = "blank lines before the header and between rows are counted",
	  LIT("\n\r\n  \naddress,type,id\n\nnot-an-address,contact,C1\n"),
	  .ok = TRUE, .rows = 1, .bad = 1, .errors = "6:not one email address", .dump = "" },
	{ .label = "no line break at the end",
	  LIT("address,type,id\na@example.com,contact,C1"),
	  .ok = TRUE, .rows = 1, .added = 1, .errors = "", .dump = "a@example.com|contact|C1|-|0|1000" },
	/* fatal: nothing is imported */
	{ .label = "no header: the first row is data",
	  LIT("alice@example.com,contact,C1\nbob@example.org,lead,L1\n"),
	  .code = DIRECTORY_ERROR_FORMAT, .errors = "1:missing: address, type, id", .dump = "" },
	{ .label = "a header without id",
	  LIT("address,type,name\na@example.com,contact,A\n"),
	  .code = DIRECTORY_ERROR_FORMAT, .errors = "1:missing: id", .dump = "" },
	{ .label = "a column named twice",
	  LIT("address,type,id,Address\na@example.com,contact,C1,b@example.com\n"),
	  .code = DIRECTORY_ERROR_FORMAT, .errors = "1:names the column \"address\" twice", .dump = "" },
	{ .label = "a header with more than 64 columns",
	  LIT("address,type,id" C10 C10 C10 C10 C10 C10 C10 "\n"),
	  .code = DIRECTORY_ERROR_FORMAT, .errors = "1:more than 64 columns", .dump = "" },
	{ .label = "an empty file", LIT(""),
	  .code = DIRECTORY_ERROR_FORMAT, .errors = "1:empty file", .dump = "" },
	{ .label = "only blank lines", LIT("\r\n \r\n"),
	  .code = DIRECTORY_ERROR_FORMAT, .errors = "1:empty file", .dump = "" },
	{ .label = "a quote inside an unquoted field",
	  LIT("address,type,id\na@example.com,contact,C1\nbo\"b@example.org,lead,L1\nc@example.com,contact,C3\n"),
	  .code = DIRECTORY_ERROR_FORMAT, .rows = 1, .errors = "3:bad CSV quoting", .dump = "" },
	{ .label = "text after a closing quote, after a bad row",
	  LIT("address,type,id\nx,contact,C1\n\"a@example.com\"x,contact,C2\n"),
	  .code = DIRECTORY_ERROR_FORMAT, .rows = 1, .bad = 1,
	  .errors = "2:not one email address|3:bad CSV quoting", .dump = "" },
	{ .label = "a record of 64 KiB",
	  LIT("address,type,id,pad\na@example.com,contact,C1,\"" X_PAD "\"\n"),
	  .ok = TRUE, .rows = 1, .added = 1, .errors = "", .dump = "a@example.com|contact|C1|-|0|1000" },
	{ .label = "a record over 64 KiB",
	  LIT("address,type,id,pad\na@example.com,contact,C1\nb@example.com,contact,C2,\"" X_PAD "x\"\n"),
	  .code = DIRECTORY_ERROR_FORMAT, .rows = 1, .errors = "3:a record longer than 65536 bytes", .dump = "" },
	{ .label = "a quote never closed, long before the end",
	  LIT("address,type,id,name\na@example.com,contact,C1,\"Alice\n" X_LINES),
	  .code = DIRECTORY_ERROR_FORMAT, .errors = "2:a record longer than 65536 bytes", .dump = "" },
	{ .label = "a quote never closed",
	  LIT("address,type,id,name\na@example.com,contact,C1,\"Alice\nb@example.com,contact,C2,Bob\n"),
	  .code = DIRECTORY_ERROR_FORMAT, .errors = "2:never closed", .dump = "" },
};

/* Write len bytes of data to a new file in dir; new path. */
static char *
write_file(const char *dir, const char *name, const char *data, gsize len)
{
	char *path = g_build_filename(dir, name, NULL);

	assert_true(g_file_set_contents(path, data, (gssize)len, NULL));
	return path;
}

/* Import path at now through an fd; the test fails if it cannot open. */
static gboolean
import_path(crm_db *db, const char *path, gint64 now, directory_import_stats *st, GError **err)
{
	int fd = g_open(path, O_RDONLY, 0);
	gboolean ok;

	assert_true(fd >= 0);
	ok = directory_import_fd(db, fd, now, st, err);
	close(fd);
	return ok;
}

/* Compare st->errors with "LINE:text|...". */
static void
check_errors(const directory_import_stats *st, const char *expect)
{
	char **want = *expect != '\0' ? g_strsplit(expect, "|", -1) : g_new0(char *, 1);
	guint i;

	for (i = 0; i < st->errors->len; i++) {
		directory_import_error *e = g_ptr_array_index(st->errors, i);
		print_message("    %u: %s\n", e->line, e->message);
	}
	assert_int_equal(st->errors->len, g_strv_length(want));
	for (i = 0; want[i] != NULL; i++) {
		directory_import_error *e = g_ptr_array_index(st->errors, i);
		char *colon = strchr(want[i], ':');

		assert_non_null(colon);
		*colon = '\0';
		assert_int_equal(e->line, (guint)g_ascii_strtoull(want[i], NULL, 10));
		if (strstr(e->message, colon + 1) == NULL)
			fail_msg("error %u: \"%s\" does not contain \"%s\"", i, e->message, colon + 1);
	}
	g_strfreev(want);
}

/* The table above. */
void
test_csv(void **state)
{
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(csv_cases); i++) {
		const csv_case *c = &csv_cases[i];
		directory_import_stats st = { 0 };
		GError *e = NULL;
		fixture *f;
		char *path, *got;
		gboolean ok;

		print_message("csv: %s\n", c->label);
		setup_db((void **)&f);
		if (c->pre != NULL) {
			path = write_file(f->dir, "pre.csv", c->pre, strlen(c->pre));
			assert_true(import_path(f->db, path, PRE_NOW, &st, &e));
			assert_int_equal(st.bad, 0);
			directory_import_stats_clear(&st);
			g_free(path);
		}
		path = write_file(f->dir, "in.csv", c->csv, c->len);
		ok = import_path(f->db, path, NOW, &st, &e);
		if (!ok)
			print_message("    error: %s\n", e->message);
		assert_int_equal(ok, c->ok);
		if (!c->ok) {
			assert_true(g_error_matches(e, DIRECTORY_ERROR, c->code));
			g_clear_error(&e);
		}
		assert_null(e);
		assert_int_equal(st.rows, c->rows);
		assert_int_equal(st.added, c->added);
		assert_int_equal(st.updated, c->updated);
		assert_int_equal(st.bad, c->bad);
		check_errors(&st, c->errors);
		got = directory_dump(f->db);
		assert_string_equal(got, c->dump);
		g_free(got);
		directory_import_stats_clear(&st);
		assert_null(st.errors);
		g_free(path);
		teardown_db((void **)&f);
	}
}

/* A header, one row, then one blank line (skipped between records, and
 * never buffered) that pads the file to exactly size bytes. */
static GString *
padded_csv(gsize size)
{
	static const char head[] = "address,type,id\nalice@example.com,contact,C1\n";
	GString *s = g_string_sized_new(size);

	g_string_append(s, head);
	g_string_set_size(s, size);
	memset(s->str + sizeof(head) - 1, ' ', size - sizeof(head));
	s->str[size - 1] = '\n';
	assert_int_equal(s->len, size);
	return s;
}

/* A regular file of exactly the limit imports; one byte more imports
 * nothing. */
void
test_csv_size_limit(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		gsize size;
		gboolean ok;
		const char *dump;
	} cases[] = {
		{ "exactly the limit", DIRECTORY_CSV_MAX_BYTES, TRUE, "alice@example.com|contact|C1|-|0|1000" },
		{ "one byte over", DIRECTORY_CSV_MAX_BYTES + 1, FALSE, "" },
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		GString *csv = padded_csv(cases[i].size);
		directory_import_stats st = { 0 };
		GError *e = NULL;
		char *path = write_file(f->dir, "big.csv", csv->str, csv->len), *got;

		print_message("size: %s\n", cases[i].label);
		db_exec(f->db, "DELETE FROM directory", NULL);
		assert_int_equal(import_path(f->db, path, NOW, &st, &e), cases[i].ok);
		if (!cases[i].ok) {
			assert_true(g_error_matches(e, DIRECTORY_ERROR, DIRECTORY_ERROR_TOO_BIG));
			g_clear_error(&e);
		}
		got = directory_dump(f->db);
		assert_string_equal(got, cases[i].dump);
		g_free(got);
		directory_import_stats_clear(&st);
		g_string_free(csv, TRUE);
		g_free(path);
	}
}

typedef struct writer {
	int fd;
	const GString *data;
	gsize first;              /* bytes of the first write (then the rest) */
} writer;

/* Thread: write the data into the pipe in two writes, then close it. */
static gpointer
write_pipe(gpointer p)
{
	writer *w = p;
	gsize off = 0;

	while (off < w->data->len) {
		gsize want = off == 0 && w->first > 0 ? w->first : w->data->len - off;
		ssize_t n = write(w->fd, w->data->str + off, want);

		if (n <= 0)
			break;      /* the reader stopped (EPIPE) */
		off += (gsize)n;
		if (off == w->first)
			g_usleep(20000);
	}
	close(w->fd);
	return NULL;
}

/* Through a pipe (no size to check up front): the limit still holds, and
 * a byte order mark split across reads is still skipped. */
void
test_csv_pipe_limit(void **state)
{
	fixture *f = *state;
	GString *small = g_string_new("\xef\xbb\xbf" "address,type,id\r\nbob@example.org,lead,L1\r\n");
	GString *big = padded_csv(DIRECTORY_CSV_MAX_BYTES + 1);
	const struct {
		const char *label;
		const GString *data;
		gsize first;
		gboolean ok;
		const char *dump;
	} cases[] = {
		{ "a byte order mark split over two reads", small, 1, TRUE, "bob@example.org|lead|L1|-|0|1000" },
		{ "one byte over the limit", big, 0, FALSE, "" },
	};
	gsize i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		directory_import_stats st = { 0 };
		GError *e = NULL;
		int fds[2];
		writer w;
		GThread *t;
		gboolean ok;
		char *got;

		print_message("pipe: %s\n", cases[i].label);
		db_exec(f->db, "DELETE FROM directory", NULL);
		assert_int_equal(pipe(fds), 0);
		w.fd = fds[1];
		w.data = cases[i].data;
		w.first = cases[i].first;
		t = g_thread_new("writer", write_pipe, &w);
		ok = directory_import_fd(f->db, fds[0], NOW, &st, &e);
		close(fds[0]);
		g_thread_join(t);
		assert_int_equal(ok, cases[i].ok);
		if (!ok) {
			assert_true(g_error_matches(e, DIRECTORY_ERROR, DIRECTORY_ERROR_TOO_BIG));
			g_clear_error(&e);
		}
		got = directory_dump(f->db);
		assert_string_equal(got, cases[i].dump);
		g_free(got);
		directory_import_stats_clear(&st);
	}
	g_string_free(small, TRUE);
	g_string_free(big, TRUE);
}

/* 150 bad rows: all counted, the first DIRECTORY_CSV_MAX_ERRORS kept, the
 * good row still imported. */
void
test_csv_error_cap(void **state)
{
	fixture *f = *state;
	GString *csv = g_string_new("address,type,id\n");
	directory_import_stats st = { 0 };
	directory_import_error *last;
	GError *e = NULL;
	char *path;
	int i;

	for (i = 0; i < 150; i++)
		g_string_append_printf(csv, "user%d@example.com,prospect,P%d\n", i, i);
	g_string_append(csv, "ok@example.com,user,U1\n");
	path = write_file(f->dir, "many.csv", csv->str, csv->len);
	assert_true(import_path(f->db, path, NOW, &st, &e));
	assert_int_equal(st.rows, 151);
	assert_int_equal(st.bad, 150);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.errors->len, DIRECTORY_CSV_MAX_ERRORS);
	last = g_ptr_array_index(st.errors, st.errors->len - 1);
	assert_int_equal(last->line, DIRECTORY_CSV_MAX_ERRORS + 1);
	directory_import_stats_clear(&st);
	g_string_free(csv, TRUE);
	g_free(path);
}

/* directory_import_csv: a good path, a missing one, a directory. */
void
test_csv_path(void **state)
{
	fixture *f = *state;
	static const char csv[] = "address,type,id\na@example.com,user,U1\n";
	char *good = write_file(f->dir, "good.csv", csv, strlen(csv));
	char *missing = g_build_filename(f->dir, "missing.csv", NULL);
	const struct {
		const char *label, *path;
		gboolean ok;
		const char *message;      /* contained in the error */
	} cases[] = {
		{ "a good file", good, TRUE, NULL },
		{ "a missing file", missing, FALSE, "missing.csv: " },
		{ "a directory", f->dir, FALSE, "is a directory" },
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		directory_import_stats st = { 0 };
		GError *e = NULL;

		print_message("path: %s\n", cases[i].label);
		assert_int_equal(directory_import_csv(f->db, cases[i].path, NOW, &st, &e), cases[i].ok);
		if (!cases[i].ok) {
			assert_true(g_error_matches(e, DIRECTORY_ERROR, DIRECTORY_ERROR_IO));
			assert_non_null(strstr(e->message, cases[i].message));
			g_clear_error(&e);
		} else {
			assert_int_equal(st.added, 1);
		}
		directory_import_stats_clear(&st);
	}
	g_free(good);
	g_free(missing);
}

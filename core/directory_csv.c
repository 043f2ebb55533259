/*
 * directory_csv.c - importing the CRM directory from a CSV file. libcsv
 * (strict mode) splits records and fields; this file only maps the header
 * to columns, checks each row and writes the good ones in one transaction.
 * See directory.h for the format, the limits and which errors are fatal.
 *
 * Line numbers: libcsv does not count lines, so the input is handed to it
 * one line at a time (up to and including each LF, a line split across
 * two reads being two pieces of the same line). A record starts at the
 * first piece that holds something other than blanks, CR or LF while no
 * record is open (libcsv skips exactly those between records); the record
 * ends when libcsv reports it. A record whose quoted field spans lines
 * keeps the line it started on. Lines are counted at LF only.
 *
 * The whole file is read and checked before the database is touched, so
 * the write lock is held only while the good rows are written, and a fatal
 * error writes nothing.
 *
 * Ownership: the stats' errors belong to the caller
 * (directory_import_stats_clear); everything else is freed here.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <csv.h>
#include <glib/gstdio.h>

#include "directory.h"

enum { COL_ADDRESS, COL_TYPE, COL_ID, COL_NAME, COL_NO_FOLLOW, N_COLS };
static const char *const col_names[N_COLS] = { "address", "type", "id", "name", "no_follow" };

#define READ_CHUNK 65536
#define SHOWN_MAX 60          /* characters of a bad value quoted in a message */
static const char bom[3] = { '\xef', '\xbb', '\xbf' };

typedef struct import_ctx {
	guint line;               /* the line being handed to libcsv */
	guint rec_line;           /* the line the open record started on */
	gsize rec_bytes;          /* bytes handed over since it started */
	gboolean in_record;
	GPtrArray *fields;        /* char *, the open record's first fields */
	guint nfields;            /* its fields, also those not kept */
	gboolean nul;             /* one of its fields held a NUL byte */
	gboolean have_header;
	int col[N_COLS];          /* field index of each column, or -1 */
	guint ncols;              /* 1 + the largest of col[] */
	GPtrArray *entries;       /* directory_entry *, the good rows */
	directory_import_stats *st;
	GError *fatal;            /* set: ignore the rest of the input */
} import_ctx;

/* Free one error (GDestroyNotify). */
static void
error_free(gpointer p)
{
	directory_import_error *e = p;

	g_free(e->message);
	g_free(e);
}

/* Free one entry (GDestroyNotify). */
static void
entry_free_notify(gpointer p)
{
	directory_entry_free(p);
}

/* Free the stats' errors and zero them. */
void
directory_import_stats_clear(directory_import_stats *st)
{
	if (st == NULL)
		return;
	if (st->errors != NULL)
		g_ptr_array_unref(st->errors);
	memset(st, 0, sizeof(*st));
}

/* Append an error (taking message) if there is room or it is fatal. */
static void
add_error(import_ctx *x, guint line, char *message, gboolean force)
{
	directory_import_error *e;

	if (!force && x->st->errors->len >= DIRECTORY_CSV_MAX_ERRORS) {
		g_free(message);
		return;
	}
	e = g_new0(directory_import_error, 1);
	e->line = line;
	e->message = message;
	g_ptr_array_add(x->st->errors, e);
}

/* Stop the import: set x->fatal and list the error under line. */
static void G_GNUC_PRINTF(4, 5)
set_fatal(import_ctx *x, int code, guint line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (x->fatal != NULL)
		return;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(&x->fatal, DIRECTORY_ERROR, code, "line %u: %s", line, msg);
	add_error(x, line, msg, TRUE);
}

/* A value fit to quote in a message: valid UTF-8, no control characters,
 * at most SHOWN_MAX characters. New string. */
static char *
shown(const char *s)
{
	char *v = g_utf8_make_valid(s, -1);
	GString *out = g_string_new(NULL);
	const char *p = v;
	int n;

	for (n = 0; *p != '\0' && n < SHOWN_MAX; n++, p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (c < 0x20 || c == 0x7f)
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
	}
	if (*p != '\0')
		g_string_append(out, "...");
	g_free(v);
	return g_string_free(out, FALSE);
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

/* yes/no/true/false/1/0/empty, any case. */
static gboolean
parse_flag(const char *s, gboolean *v)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0", "" };
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(yes); i++)
		if (g_ascii_strcasecmp(s, yes[i]) == 0)
			return (*v = TRUE);
	for (i = 0; i < G_N_ELEMENTS(no); i++)
		if (g_ascii_strcasecmp(s, no[i]) == 0)
			return !(*v = FALSE);
	return FALSE;
}

/* The trimmed value of column c in the open record (read_row pads short
 * records), NULL when the header has no such column. */
static char *
field(import_ctx *x, int c)
{
	if (x->col[c] < 0)
		return NULL;
	return g_strstrip((char *)g_ptr_array_index(x->fields, x->col[c]));
}

/* Map the header's names to columns; fatal when it is not usable. */
static void
read_header(import_ctx *x)
{
	GString *missing = g_string_new(NULL);
	guint i;
	int c;

	for (c = 0; c < N_COLS; c++)
		x->col[c] = -1;
	if (x->nfields > DIRECTORY_CSV_MAX_COLUMNS) {
		set_fatal(x, DIRECTORY_ERROR_FORMAT, x->rec_line, "the header has more than %d columns",
		    DIRECTORY_CSV_MAX_COLUMNS);
		goto out;
	}
	for (i = 0; i < x->fields->len; i++) {
		char *h = g_strstrip((char *)g_ptr_array_index(x->fields, i));

		for (c = 0; c < N_COLS; c++) {
			if (g_ascii_strcasecmp(h, col_names[c]) != 0)
				continue;
			if (x->col[c] >= 0) {
				set_fatal(x, DIRECTORY_ERROR_FORMAT, x->rec_line,
				    "the header names the column \"%s\" twice", col_names[c]);
				goto out;
			}
			x->col[c] = (int)i;
			x->ncols = MAX(x->ncols, i + 1);
		}
	}
	for (c = COL_ADDRESS; c <= COL_ID; c++)
		if (x->col[c] < 0)
			g_string_append_printf(missing, "%s%s", missing->len ? ", " : "", col_names[c]);
	if (missing->len > 0) {
		char *first = shown(x->fields->len > 0 ? (char *)g_ptr_array_index(x->fields, 0) : "");

		set_fatal(x, DIRECTORY_ERROR_FORMAT, x->rec_line,
		    "the first row must be a header naming the columns address, type, id (and optionally "
		    "name, no_follow); missing: %s (first field \"%s\")", missing->str, first);
		g_free(first);
		goto out;
	}
	x->have_header = TRUE;
out:
	g_string_free(missing, TRUE);
}

/* In place: each run of blanks that holds a CR, LF or tab becomes one
 * space (a quoted name may span lines); then trim. */
static void
fold_breaks(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		gsize run = strspn(r, " \t\r\n");

		if (run == 0) {
			*w++ = *r++;
		} else if (strcspn(r, "\t\r\n") < run) {
			*w++ = ' ';
			r += run;
		} else {
			memmove(w, r, run);
			w += run;
			r += run;
		}
	}
	*w = '\0';
	g_strstrip(s);
}

/* The entry of the open record, or NULL with *msg saying why not. */
static directory_entry *
row_to_entry(import_ctx *x, char **msg)
{
	const char *addr = field(x, COL_ADDRESS), *type = field(x, COL_TYPE), *id = field(x, COL_ID);
	char *name = field(x, COL_NAME), *flag = field(x, COL_NO_FOLLOW), *key = NULL, *v = NULL;
	directory_entry *e;
	dir_record_type t = DIRREC_CONTACT;
	gboolean no_follow = FALSE;

	*msg = NULL;
	if (name != NULL)
		fold_breaks(name);
	if (x->nfields > DIRECTORY_CSV_MAX_COLUMNS)
		*msg = g_strdup_printf("more than %d fields", DIRECTORY_CSV_MAX_COLUMNS);
	else if (x->nul)
		*msg = g_strdup("a field holds a NUL byte");
	else if (*addr == '\0')
		*msg = g_strdup("missing address");
	else if (strlen(addr) > DIRECTORY_MAX_ADDRESS)
		*msg = g_strdup_printf("address longer than %d bytes", DIRECTORY_MAX_ADDRESS);
	else if ((key = directory_normalize_address(addr)) == NULL)
		*msg = g_strdup_printf("not one email address: \"%s\"", (v = shown(addr)));
	else if (*type == '\0')
		*msg = g_strdup("missing type");
	else if (!dir_record_type_parse(type, &t))
		*msg = g_strdup_printf("unknown type \"%s\" (contact, lead, account or user)", (v = shown(type)));
	else if (*id == '\0')
		*msg = g_strdup("missing id");
	else if (strlen(id) > DIRECTORY_MAX_ID)
		*msg = g_strdup_printf("id longer than %d bytes", DIRECTORY_MAX_ID);
	else if (!g_utf8_validate(id, -1, NULL) || has_control(id))
		*msg = g_strdup_printf("id is not UTF-8 text: \"%s\"", (v = shown(id)));
	else if (name != NULL && !g_utf8_validate(name, -1, NULL))
		*msg = g_strdup_printf("name is not UTF-8: \"%s\"", (v = shown(name)));
	else if (name != NULL && strlen(name) > DIRECTORY_MAX_NAME)
		*msg = g_strdup_printf("name longer than %d bytes", DIRECTORY_MAX_NAME);
	else if (name != NULL && has_control(name))
		*msg = g_strdup_printf("control character in name \"%s\"", (v = shown(name)));
	else if (flag != NULL && !parse_flag(flag, &no_follow))
		*msg = g_strdup_printf("bad no_follow \"%s\" (yes, no, true, false, 1, 0 or empty)",
		    (v = shown(flag)));
	g_free(v);
	if (*msg != NULL) {
		g_free(key);
		return NULL;
	}
	e = g_new0(directory_entry, 1);
	e->address = key;
	e->type = t;
	e->record_id = g_strdup(id);
	e->name = name != NULL && *name != '\0' ? g_strdup(name) : NULL;
	e->no_follow = no_follow;
	return e;
}

/* One data record: keep it or report it. */
static void
read_row(import_ctx *x)
{
	char *msg = NULL;
	directory_entry *e;

	x->st->rows++;
	while (x->fields->len < x->ncols)
		g_ptr_array_add(x->fields, g_strdup(""));
	e = row_to_entry(x, &msg);
	if (e != NULL) {
		g_ptr_array_add(x->entries, e);
		return;
	}
	x->st->bad++;
	add_error(x, x->rec_line, msg, FALSE);
}

/* libcsv: one field of the open record. */
static void
on_field(void *s, size_t len, void *data)
{
	import_ctx *x = data;

	if (x->fatal != NULL)
		return;
	if (!x->in_record) {
		/* a record after a lone CR on the same line */
		x->in_record = TRUE;
		x->rec_line = x->line;
	}
	x->nfields++;
	if (x->fields->len >= DIRECTORY_CSV_MAX_COLUMNS + 1)
		return;
	if (len > 0 && memchr(s, '\0', len) != NULL)
		x->nul = TRUE;
	g_ptr_array_add(x->fields, len > 0 ? g_strndup(s, len) : g_strdup(""));
}

/* libcsv: the open record ended. */
static void
on_row(int c, void *data)
{
	import_ctx *x = data;

	if (x->fatal == NULL) {
		if (!x->have_header)
			read_header(x);
		else
			read_row(x);
	}
	g_ptr_array_set_size(x->fields, 0);
	x->rec_bytes = 0;
	x->nfields = 0;
	x->nul = FALSE;
	x->in_record = FALSE;
}

/* TRUE when s[0..n) holds only what libcsv skips between records. */
static gboolean
blank(const char *s, gsize n)
{
	gsize i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return FALSE;
	return TRUE;
}

/* Hand buf to libcsv one line piece at a time, counting lines. */
static void
feed(import_ctx *x, struct csv_parser *p, const char *buf, gsize len)
{
	gsize i = 0;

	while (i < len && x->fatal == NULL) {
		const char *nl = memchr(buf + i, '\n', len - i);
		gsize n = nl != NULL ? (gsize)(nl - (buf + i)) + 1 : len - i;

		if (!x->in_record && !blank(buf + i, n)) {
			x->in_record = TRUE;
			x->rec_line = x->line;
			x->rec_bytes = 0;
		}
		if (x->in_record)
			x->rec_bytes += n;
		/* libcsv holds a whole field in memory: bound the record */
		if (x->rec_bytes > DIRECTORY_CSV_MAX_RECORD) {
			set_fatal(x, DIRECTORY_ERROR_FORMAT, x->rec_line, "a record longer than %d bytes "
			    "(a quote never closed?)", DIRECTORY_CSV_MAX_RECORD);
			break;
		}
		if (csv_parse(p, buf + i, n, on_field, on_row, x) != n) {
			if (csv_error(p) == CSV_EPARSE)
				set_fatal(x, DIRECTORY_ERROR_FORMAT, x->line, "bad CSV quoting (a quote "
				    "inside an unquoted field, or text after a closing quote)");
			else
				set_fatal(x, DIRECTORY_ERROR_FORMAT, x->line, "%s", csv_strerror(csv_error(p)));
		}
		i += n;
		if (nl != NULL)
			x->line++;
	}
}

/* Read fd to the end (at most DIRECTORY_CSV_MAX_BYTES) through libcsv,
 * skipping a leading byte order mark. FALSE with err for I/O and size. */
static gboolean
parse_fd(import_ctx *x, struct csv_parser *p, int fd, GError **err)
{
	char *buf = g_malloc(READ_CHUNK), head[3];
	gsize total = 0, head_len = 0;
	gboolean ok = FALSE, head_done = FALSE;

	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		gsize off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_set_error(err, DIRECTORY_ERROR, DIRECTORY_ERROR_IO, "cannot read: %s", g_strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += (gsize)n;
		if (total > DIRECTORY_CSV_MAX_BYTES)
			goto too_big;
		/* the first three bytes decide about the byte order mark */
		if (!head_done) {
			while (head_len < 3 && off < (gsize)n)
				head[head_len++] = buf[off++];
			if (head_len < 3)
				continue;
			head_done = TRUE;
			if (memcmp(head, bom, 3) != 0)
				feed(x, p, head, 3);
		}
		feed(x, p, buf + off, (gsize)n - off);
		if (x->fatal != NULL)
			break;
	}
	if (!head_done)
		feed(x, p, head, head_len);
	ok = TRUE;
	goto out;
too_big:
	g_set_error(err, DIRECTORY_ERROR, DIRECTORY_ERROR_TOO_BIG,
	    "larger than %d bytes (%d MiB): split it", DIRECTORY_CSV_MAX_BYTES,
	    DIRECTORY_CSV_MAX_BYTES / (1024 * 1024));
out:
	g_free(buf);
	return ok;
}

/* Is (type, record_id, address) of e already stored? -1 with err. */
static int
exists(crm_db *db, const directory_entry *e, GError **err)
{
	sqlite3_stmt *st = db_prepare(db,
	    "SELECT 1 FROM directory WHERE type = ?1 AND record_id = ?2 AND address = ?3", err);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, dir_record_type_name(e->type), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->record_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, e->address, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_set_error(db, err, "directory import");
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Write every good row in one transaction, counting added and updated. */
static gboolean
store(crm_db *db, GPtrArray *entries, gint64 now, directory_import_stats *st, GError **err)
{
	guint i;

	if (entries->len == 0)
		return TRUE;
	if (!db_begin(db, err))
		return FALSE;
	for (i = 0; i < entries->len; i++) {
		directory_entry *e = g_ptr_array_index(entries, i);
		int known = exists(db, e, err);

		if (known < 0 || !directory_upsert(db, e, now, err))
			goto fail;
		if (known)
			st->updated++;
		else
			st->added++;
	}
	if (db_commit(db, err))
		return TRUE;
fail:
	db_rollback(db);
	st->added = st->updated = 0;
	return FALSE;
}

/* Import the CSV read from fd. */
gboolean
directory_import_fd(crm_db *db, int fd, gint64 now, directory_import_stats *st, GError **err)
{
	import_ctx x = { .line = 1, .st = st };
	struct csv_parser p;
	struct stat sb;
	gboolean ok = FALSE;

	memset(st, 0, sizeof(*st));
	st->errors = g_ptr_array_new_with_free_func(error_free);
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		g_set_error(err, DIRECTORY_ERROR, DIRECTORY_ERROR_IO, "is a directory");
		return FALSE;
	}
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > DIRECTORY_CSV_MAX_BYTES) {
		g_set_error(err, DIRECTORY_ERROR, DIRECTORY_ERROR_TOO_BIG,
		    "larger than %d bytes (%d MiB): split it", DIRECTORY_CSV_MAX_BYTES,
		    DIRECTORY_CSV_MAX_BYTES / (1024 * 1024));
		return FALSE;
	}
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		g_set_error(err, DIRECTORY_ERROR, DIRECTORY_ERROR_IO, "cannot set up the CSV parser");
		return FALSE;
	}
	csv_set_blk_size(&p, 4096);
	x.fields = g_ptr_array_new_with_free_func(g_free);
	x.entries = g_ptr_array_new_with_free_func(entry_free_notify);
	if (!parse_fd(&x, &p, fd, err))
		goto out;
	if (x.fatal == NULL && csv_fini(&p, on_field, on_row, &x) != 0)
		set_fatal(&x, DIRECTORY_ERROR_FORMAT, x.rec_line, "a quoted field is never closed");
	if (x.fatal == NULL && !x.have_header)
		set_fatal(&x, DIRECTORY_ERROR_FORMAT, 1,
		    "empty file: the first row must be a header (address,type,id,name,no_follow)");
	if (x.fatal != NULL) {
		g_propagate_error(err, x.fatal);
		x.fatal = NULL;
		goto out;
	}
	ok = store(db, x.entries, now, st, err);
out:
	csv_free(&p);
	g_clear_error(&x.fatal);
	g_ptr_array_unref(x.fields);
	g_ptr_array_unref(x.entries);
	return ok;
}

/* Import the CSV file at path. */
gboolean
directory_import_csv(crm_db *db, const char *path, gint64 now, directory_import_stats *st, GError **err)
{
	int fd = g_open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
	gboolean ok;

	if (fd < 0) {
		int saved = errno;

		memset(st, 0, sizeof(*st));
		st->errors = g_ptr_array_new_with_free_func(error_free);
		g_set_error(err, DIRECTORY_ERROR, DIRECTORY_ERROR_IO, "%s: %s", path, g_strerror(saved));
		return FALSE;
	}
	ok = directory_import_fd(db, fd, now, st, err);
	if (!ok)
		g_prefix_error(err, "%s: ", path);
	close(fd);
	return ok;
}

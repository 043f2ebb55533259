/*
 * test_corpus.c - the real-client shaped mail corpus in tests/data/mail
 * stays true to its MANIFEST.json (the table: one case per message,
 * labelled by its file). Each file is listed, CRLF throughout, parsed by
 * GMime with exactly the expected warnings; activity_parse finds its
 * addresses, subject, ids, bodies and attachments; References,
 * Thread-Index, X-CRM-* and named headers are as recorded; the thread link
 * each entry claims holds by the rule of its correlation_hint.
 *
 * Inline parts (cid: images, an invitation's text/calendar) are compared
 * for information only: how activity_parse counts them is printed, never
 * failed. Every other difference fails, all of them listed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <gmime/gmime.h>
#include <json-glib/json-glib.h>

#include "activity.h"
#include "testutil.h"

#define CORPUS_DIR TEST_SRCDIR "/tests/data/mail"
#define WIRE_LINE_MAX 998          /* RFC 5322 2.1.1, without the CRLF */
#define THREAD_INDEX_HEADER 22     /* bytes of the conversation part */
#define THREAD_INDEX_CHILD 5       /* bytes each reply adds */

/* The manifest, parsed once for the group. */
typedef struct corpus {
	JsonParser *parser;
	JsonArray *entries;
	GHashTable *by_file;    /* "dir/name.eml" -> JsonObject * (borrowed) */
} corpus;

/* Problems found over one test, reported together at its end. */
typedef guint problems;

/* Record one problem with the file it is about. */
static void G_GNUC_PRINTF(3, 4)
problem(problems *p, const char *file, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	print_error("%s: %s\n", file, msg);
	g_free(msg);
	(*p)++;
}

/* Fail the test when anything was recorded. */
static void
report(const problems *p, const char *what)
{
	if (*p > 0)
		fail_msg("%u %s problem(s), listed above", *p, what);
}

/* A member of the given JSON type, or NULL (missing, null, other type). */
static JsonNode *
jmember(JsonObject *o, const char *name, JsonNodeType type)
{
	JsonNode *n = json_object_get_member(o, name);

	return n != NULL && JSON_NODE_TYPE(n) == type ? n : NULL;
}

/* A string member; NULL when missing or null. */
static const char *
jstr(JsonObject *o, const char *name)
{
	JsonNode *n = jmember(o, name, JSON_NODE_VALUE);

	return n != NULL ? json_node_get_string(n) : NULL;
}

/* An array member; NULL when missing or null. */
static JsonArray *
jarr(JsonObject *o, const char *name)
{
	JsonNode *n = jmember(o, name, JSON_NODE_ARRAY);

	return n != NULL ? json_node_get_array(n) : NULL;
}

/* An object member; NULL when missing or null. */
static JsonObject *
jobj(JsonObject *o, const char *name)
{
	JsonNode *n = jmember(o, name, JSON_NODE_OBJECT);

	return n != NULL ? json_node_get_object(n) : NULL;
}

/* A boolean member; FALSE when missing. */
static gboolean
jbool(JsonObject *o, const char *name)
{
	JsonNode *n = jmember(o, name, JSON_NODE_VALUE);

	return n != NULL && json_node_get_boolean(n);
}

/* TRUE when the string array holds s. */
static gboolean
jarr_has(JsonArray *a, const char *s)
{
	for (guint i = 0; a != NULL && s != NULL && i < json_array_get_length(a); i++)
		if (g_strcmp0(json_array_get_string_element(a, i), s) == 0)
			return TRUE;
	return FALSE;
}

/* Entry i of the manifest. */
static JsonObject *
entry_at(corpus *c, guint i)
{
	return json_array_get_object_element(c->entries, i);
}

/* The raw bytes of a corpus file (fails the test when unreadable). */
static GBytes *
read_raw(const char *file)
{
	char *path = g_build_filename(CORPUS_DIR, file, NULL);
	char *data = NULL;
	gsize len = 0;
	GError *err = NULL;

	if (!g_file_get_contents(path, &data, &len, &err))
		fail_msg("%s: %s", path, err->message);
	g_free(path);
	return g_bytes_new_take(data, len);
}

/* Load MANIFEST.json (group setup). */
static int
setup(void **state)
{
	corpus *c = g_new0(corpus, 1);
	char *path = g_build_filename(CORPUS_DIR, "MANIFEST.json", NULL);
	GError *err = NULL;
	JsonNode *root;

	g_mime_init();
	c->parser = json_parser_new();
	if (!json_parser_load_from_file(c->parser, path, &err))
		fail_msg("%s: %s", path, err->message);
	root = json_parser_get_root(c->parser);
	if (root == NULL || !JSON_NODE_HOLDS_ARRAY(root))
		fail_msg("%s: the top level is not an array", path);
	c->entries = json_node_get_array(root);
	c->by_file = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < json_array_get_length(c->entries); i++) {
		JsonObject *e = entry_at(c, i);
		const char *file = e != NULL ? jstr(e, "file") : NULL;

		if (file == NULL || g_hash_table_contains(c->by_file, file))
			fail_msg("%s: entry %u has no file or a repeated one", path, i);
		g_hash_table_insert(c->by_file, (gpointer)file, e);
	}
	g_free(path);
	*state = c;
	return 0;
}

/* Free the manifest (group teardown). */
static int
teardown(void **state)
{
	corpus *c = *state;

	if (c != NULL) {
		g_hash_table_unref(c->by_file);
		g_object_unref(c->parser);
		g_free(c);
	}
	return 0;
}

/* A check of one manifest entry (file is its "file"). */
typedef void (*entry_check)(corpus *c, JsonObject *e, const char *file, problems *p);

/* Run check on every entry of the manifest, then fail on what it found. */
static void
each_entry(void **state, entry_check check, const char *what)
{
	corpus *c = *state;
	problems p = 0;

	for (guint i = 0; i < json_array_get_length(c->entries); i++)
		check(c, entry_at(c, i), jstr(entry_at(c, i), "file"), &p);
	report(&p, what);
}

/* Every .eml under inbound/ and outbound/ is in the manifest and back. */
static void
test_every_file_listed(void **state)
{
	corpus *c = *state;
	static const char *const dirs[] = { "inbound", "outbound" };
	problems p = 0;

	for (guint d = 0; d < G_N_ELEMENTS(dirs); d++) {
		char *path = g_build_filename(CORPUS_DIR, dirs[d], NULL);
		GDir *dir = g_dir_open(path, 0, NULL);
		const char *name;

		assert_non_null(dir);
		while ((name = g_dir_read_name(dir)) != NULL) {
			char *file = g_strdup_printf("%s/%s", dirs[d], name);

			if (g_str_has_suffix(name, ".eml") && !g_hash_table_contains(c->by_file, file))
				problem(&p, file, "not in MANIFEST.json");
			g_free(file);
		}
		g_dir_close(dir);
		g_free(path);
	}
	for (guint i = 0; i < json_array_get_length(c->entries); i++) {
		JsonObject *e = entry_at(c, i);
		const char *file = jstr(e, "file"), *dir = jstr(e, "direction");
		char *path = g_build_filename(CORPUS_DIR, file, NULL);

		if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
			problem(&p, file, "listed but there is no such file");
		g_free(path);
		if (dir == NULL || !g_str_has_prefix(file, dir) || file[strlen(dir)] != '/')
			problem(&p, file, "direction %s does not match its directory", dir ? dir : "(null)");
	}
	assert_true(json_array_get_length(c->entries) > 0);
	report(&p, "listing");
}

/* GMime's warning codes by the names the manifest uses. */
static const struct {
	GMimeParserWarning code;
	const char *name;
} warning_names[] = {
	{ GMIME_WARN_DUPLICATED_HEADER, "duplicated-header" }, { GMIME_WARN_DUPLICATED_PARAMETER, "duplicated-parameter" },
	{ GMIME_WARN_UNENCODED_8BIT_HEADER, "unencoded-8bit-header" }, { GMIME_WARN_INVALID_PARAMETER, "invalid-parameter" },
	{ GMIME_WARN_INVALID_CONTENT_TYPE, "invalid-content-type" }, { GMIME_WARN_MALFORMED_MESSAGE, "malformed-message" },
	{ GMIME_WARN_INVALID_RFC2047_HEADER_VALUE, "invalid-rfc2047-header-value" },
	{ GMIME_WARN_MALFORMED_MULTIPART, "malformed-multipart" }, { GMIME_WARN_TRUNCATED_MESSAGE, "truncated-message" },
	{ GMIME_WARN_INVALID_ADDRESS_LIST, "invalid-address-list" },
	{ GMIME_WARN_PART_WITHOUT_CONTENT, "part-without-content" },
};

/* Collect one GMime parser warning by name (GMimeParserWarningFunc). */
static void
on_warning(gint64 offset G_GNUC_UNUSED, GMimeParserWarning code, const gchar *item G_GNUC_UNUSED, gpointer data)
{
	GPtrArray *names = data;
	const char *name = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(warning_names); i++)
		if (warning_names[i].code == code)
			name = warning_names[i].name;
	g_ptr_array_add(names, name != NULL ? g_strdup(name) : g_strdup_printf("critical-%d", (int)code));
}

/* Parse raw with GMime directly; warnings (names) go to warnings. */
static GMimeMessage *
gmime_parse(GBytes *raw, GMimeParserOptions *opts, GPtrArray *warnings)
{
	gsize len;
	const char *data = g_bytes_get_data(raw, &len);
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *msg;

	g_mime_parser_options_set_warning_callback(opts, on_warning, warnings);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, opts);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg;
}

/* TRUE when the string array holds s. */
static gboolean
ptr_has(GPtrArray *a, const char *s)
{
	for (guint i = 0; i < a->len; i++)
		if (g_strcmp0(g_ptr_array_index(a, i), s) == 0)
			return TRUE;
	return FALSE;
}

/* CRLF everywhere, lines within 998 octets, GMime parses it with the
 * warnings the manifest lists (parser_warnings) and no others. */
static void
check_wire(corpus *c G_GNUC_UNUSED, JsonObject *e, const char *file, problems *p)
{
	GBytes *raw = read_raw(file);
	gsize len, line = 0;
	const char *d = g_bytes_get_data(raw, &len);
	GMimeParserOptions *opts = g_mime_parser_options_new();
	GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
	JsonArray *want = jarr(e, "parser_warnings");
	GMimeMessage *msg;

	for (gsize k = 0; k < len; k++) {
		if ((d[k] == '\n' && (k == 0 || d[k - 1] != '\r')) ||
		    (d[k] == '\r' && (k + 1 == len || d[k + 1] != '\n')) || d[k] == '\0')
			problem(p, file, "bare LF, bare CR or NUL at byte %" G_GSIZE_FORMAT, k);
		line = d[k] == '\n' ? 0 : line + 1;
		if (line == WIRE_LINE_MAX + 2)
			problem(p, file, "a line longer than %d octets at byte %" G_GSIZE_FORMAT, WIRE_LINE_MAX, k);
	}
	if (len < 2 || d[len - 2] != '\r' || d[len - 1] != '\n')
		problem(p, file, "does not end with CRLF");
	msg = gmime_parse(raw, opts, warnings);
	if (msg == NULL || g_mime_message_get_mime_part(msg) == NULL)
		problem(p, file, "GMime cannot build the message");
	for (guint k = 0; k < warnings->len; k++)
		if (!jarr_has(want, g_ptr_array_index(warnings, k)))
			problem(p, file, "unexpected GMime warning %s", (char *)g_ptr_array_index(warnings, k));
	for (guint k = 0; want != NULL && k < json_array_get_length(want); k++)
		if (!ptr_has(warnings, json_array_get_string_element(want, k)))
			problem(p, file, "expected GMime warning %s did not come", json_array_get_string_element(want, k));
	g_clear_object(&msg);
	g_ptr_array_unref(warnings);
	g_mime_parser_options_free(opts);
	g_bytes_unref(raw);
}

/* Each file is CRLF, within line limits and parses as the manifest says. */
static void
test_wire_format(void **state)
{
	each_entry(state, check_wire, "wire format");
}

/* The manifest's string array, or NULL, against got (in order). */
static void
check_list(problems *p, const char *file, const char *what, JsonArray *want, GPtrArray *got)
{
	guint n = want != NULL ? json_array_get_length(want) : 0;

	if (n != got->len) {
		problem(p, file, "%s: %u ids or addresses, manifest says %u", what, got->len, n);
		return;
	}
	for (guint i = 0; i < n; i++)
		if (g_strcmp0(json_array_get_string_element(want, i), g_ptr_array_index(got, i)) != 0)
			problem(p, file, "%s[%u]: got %s, manifest says %s", what, i,
			    (char *)g_ptr_array_index(got, i), json_array_get_string_element(want, i));
}

/* One string field: equal, NULL matching NULL. */
static void
check_str(problems *p, const char *file, const char *what, const char *want, const char *got)
{
	if (g_strcmp0(want, got) != 0)
		problem(p, file, "%s: got \"%s\", manifest says \"%s\"", what,
		    got ? got : "(null)", want ? want : "(null)");
}

/* want (if any) occurs in got. */
static void
check_contains(problems *p, const char *file, const char *what, const char *want, const char *got)
{
	if (want != NULL && (got == NULL || strstr(got, want) == NULL))
		problem(p, file, "%s does not contain \"%s\"", what, want);
}

/* Parse a corpus entry with activity_parse, envelope from the manifest. */
static activity *
parse_entry(JsonObject *e)
{
	GBytes *raw = read_raw(jstr(e, "file"));
	JsonArray *env = jarr(e, "envelope_rcpts");
	GPtrArray *rcpts = g_ptr_array_new();
	GError *err = NULL;
	activity *act;

	for (guint i = 0; env != NULL && i < json_array_get_length(env); i++)
		g_ptr_array_add(rcpts, (gpointer)json_array_get_string_element(env, i));
	act = activity_parse(raw, jstr(e, "direction"), rcpts, 0, &err);
	if (act == NULL)
		fail_msg("%s: activity_parse: %s", jstr(e, "file"), err ? err->message : "?");
	g_ptr_array_unref(rcpts);
	g_bytes_unref(raw);
	return act;
}

/* From, To, Cc, Bcc, Subject, Message-ID, In-Reply-To and the bodies. */
static void
check_fields(corpus *c G_GNUC_UNUSED, JsonObject *e, const char *file, problems *p)
{
	activity *act = parse_entry(e);

	check_str(p, file, "from", jstr(e, "from"), act->from_addr);
	check_contains(p, file, "from (formatted)", jstr(e, "from_name"), act->from);
	check_list(p, file, "to", jarr(e, "to"), act->to);
	check_list(p, file, "cc", jarr(e, "cc"), act->cc);
	check_list(p, file, "bcc", jarr(e, "bcc"), act->bcc);
	check_str(p, file, "subject", jstr(e, "subject"), act->subject);
	check_str(p, file, "message_id", jstr(e, "message_id"), act->message_id);
	check_str(p, file, "in_reply_to", jstr(e, "in_reply_to"), act->in_reply_to);
	check_contains(p, file, "text body", jstr(e, "text_contains"), act->text_body);
	check_contains(p, file, "html body", jstr(e, "html_contains"), act->html_body);
	if (act->date <= 0)
		problem(p, file, "no usable Date");
	activity_free(act);
}

/* activity_parse agrees with the manifest on every message's fields. */
static void
test_activity_fields(void **state)
{
	each_entry(state, check_fields, "activity field");
}

/* The parser's first unused attachment with this name and type, now
 * marked used; NULL when there is none. */
static activity_attachment *
find_attachment(activity *act, gboolean *used, const char *name, const char *type)
{
	for (guint i = 0; i < act->attachments->len; i++) {
		activity_attachment *a = g_ptr_array_index(act->attachments, i);

		if (!used[i] && g_strcmp0(a->filename, name) == 0 && g_strcmp0(a->content_type, type) == 0) {
			used[i] = TRUE;
			return a;
		}
	}
	return NULL;
}

/* Attachments: every real one (inline false) is found with its size;
 * inline parts are only reported; the parser finds nothing unlisted. */
static void
check_attachments(corpus *c G_GNUC_UNUSED, JsonObject *e, const char *file, problems *p)
{
	JsonArray *want = jarr(e, "attachments");
	activity *act = parse_entry(e);
	gboolean *used = g_new0(gboolean, act->attachments->len + 1);

	for (guint k = 0; want != NULL && k < json_array_get_length(want); k++) {
		JsonObject *w = json_array_get_object_element(want, k);
		const char *name = jstr(w, "filename"), *type = jstr(w, "content_type");
		activity_attachment *a = find_attachment(act, used, name, type);

		if (jbool(w, "inline"))
			print_message("note: %s: inline part %s (%s) %s counted as an attachment by activity_parse\n",
			    file, name ? name : "(no name)", type, a != NULL ? "IS" : "is not");
		else if (a == NULL)
			problem(p, file, "attachment \"%s\" (%s) not found by activity_parse",
			    name ? name : "(no name)", type);
		else if (a->size != json_object_get_int_member(w, "size"))
			problem(p, file, "attachment \"%s\": %" G_GINT64_FORMAT " bytes, manifest says %"
			    G_GINT64_FORMAT, name, a->size, json_object_get_int_member(w, "size"));
	}
	for (guint k = 0; k < act->attachments->len; k++) {
		activity_attachment *a = g_ptr_array_index(act->attachments, k);

		if (!used[k])
			problem(p, file, "activity_parse found an attachment the manifest does not list: "
			    "\"%s\" (%s)", a->filename ? a->filename : "(no name)", a->content_type);
	}
	g_free(used);
	activity_free(act);
}

/* activity_parse finds the manifest's attachments and no others. */
static void
test_attachments(void **state)
{
	each_entry(state, check_attachments, "attachment");
}

/* TRUE when part (or anything inside it) is text/calendar. */
static void
find_calendar(GMimeObject *parent G_GNUC_UNUSED, GMimeObject *part, gpointer data)
{
	GMimeContentType *ct = g_mime_object_get_content_type(part);

	if (ct != NULL && g_mime_content_type_is_type(ct, "text", "calendar"))
		*(gboolean *)data = TRUE;
}

/* References, in order, against the manifest. */
static void
check_references(problems *p, const char *file, GMimeParserOptions *opts, GMimeMessage *msg, JsonArray *want)
{
	const char *raw = g_mime_object_get_header(GMIME_OBJECT(msg), "References");
	GMimeReferences *refs = raw != NULL ? g_mime_references_parse(opts, raw) : NULL;
	GPtrArray *got = g_ptr_array_new();

	for (int i = 0; refs != NULL && i < g_mime_references_length(refs); i++)
		g_ptr_array_add(got, (gpointer)g_mime_references_get_message_id(refs, i));
	check_list(p, file, "references", want, got);
	g_ptr_array_unref(got);
	g_clear_pointer(&refs, g_mime_references_free);
}

/* Thread-Index: valid base64 of 22 + 5n bytes whose first 22 are the
 * manifest's conversation (hex); absent when the manifest says null. */
static void
check_thread_index(problems *p, const char *file, GMimeMessage *msg, const char *want)
{
	const char *ti = g_mime_object_get_header(GMIME_OBJECT(msg), "Thread-Index");
	guchar *bin;
	gsize len = 0;
	GString *hex;

	if (ti == NULL || want == NULL) {
		if (ti != NULL || want != NULL)
			problem(p, file, "Thread-Index %s, manifest conversation %s",
			    ti ? ti : "absent", want ? want : "null");
		return;
	}
	bin = g_base64_decode(ti, &len);
	if (len < THREAD_INDEX_HEADER || (len - THREAD_INDEX_HEADER) % THREAD_INDEX_CHILD != 0 || bin[0] != 0x01)
		problem(p, file, "Thread-Index is %" G_GSIZE_FORMAT " bytes, not 22 + 5n starting 0x01", len);
	hex = g_string_new(NULL);
	for (gsize i = 0; i < len && i < THREAD_INDEX_HEADER; i++)
		g_string_append_printf(hex, "%02x", bin[i]);
	check_str(p, file, "thread_index_conversation", want, hex->str);
	g_string_free(hex, TRUE);
	g_free(bin);
}

/* X-CRM-* headers: exactly those of control_headers, with their values. */
static void
check_control_headers(problems *p, const char *file, GMimeMessage *msg, JsonObject *want)
{
	GMimeHeaderList *list = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	int n = g_mime_header_list_get_count(list);
	guint found = 0;

	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		const char *name = g_mime_header_get_name(h);

		if (g_ascii_strncasecmp(name, "X-CRM-", 6) != 0)
			continue;
		found++;
		if (want == NULL || !json_object_has_member(want, name))
			problem(p, file, "control header %s is not in the manifest", name);
		else
			check_str(p, file, name, json_object_get_string_member(want, name), g_mime_header_get_value(h));
	}
	if (found != (want != NULL ? json_object_get_size(want) : 0))
		problem(p, file, "%u X-CRM-* headers, manifest lists %u", found,
		    want != NULL ? json_object_get_size(want) : 0);
}

/* The headers capture reads, straight from GMime. */
static void
check_headers(corpus *c G_GNUC_UNUSED, JsonObject *e, const char *file, problems *p)
{
	GBytes *raw = read_raw(file);
	GMimeParserOptions *opts = g_mime_parser_options_new();
	GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
	GMimeMessage *msg = gmime_parse(raw, opts, warnings);
	JsonObject *hdrs = jobj(e, "headers");
	gboolean cal = FALSE, is_signed;
	GList *names = hdrs != NULL ? json_object_get_members(hdrs) : NULL;

	assert_non_null(msg);
	check_references(p, file, opts, msg, jarr(e, "references"));
	check_thread_index(p, file, msg, jstr(e, "thread_index_conversation"));
	check_control_headers(p, file, msg, jobj(e, "control_headers"));
	is_signed = GMIME_IS_MULTIPART_SIGNED(g_mime_message_get_mime_part(msg));
	if (is_signed != jbool(e, "is_signed"))
		problem(p, file, "multipart/signed is %d, manifest is_signed %d", is_signed, jbool(e, "is_signed"));
	g_mime_message_foreach(msg, find_calendar, &cal);
	if (cal != jbool(e, "is_calendar"))
		problem(p, file, "text/calendar part %d, manifest is_calendar %d", cal, jbool(e, "is_calendar"));
	for (GList *l = names; l != NULL; l = l->next)
		check_str(p, file, l->data, json_object_get_string_member(hdrs, l->data),
		    g_mime_object_get_header(GMIME_OBJECT(msg), l->data));
	g_list_free(names);
	g_object_unref(msg);
	g_ptr_array_unref(warnings);
	g_mime_parser_options_free(opts);
	g_bytes_unref(raw);
}

/* References, Thread-Index, X-CRM-*, signed, calendar and named headers. */
static void
test_headers(void **state)
{
	each_entry(state, check_headers, "header");
}

/* The subject without Re:/RE:/Fwd:/FW: prefixes, lower-case. */
static char *
normalized_subject(const char *s)
{
	static const char *const prefixes[] = { "re:", "fwd:", "fw:", "aw:", "wg:" };
	gboolean again = TRUE;

	while (s != NULL && again) {
		again = FALSE;
		while (*s == ' ')
			s++;
		for (guint i = 0; i < G_N_ELEMENTS(prefixes); i++)
			if (g_ascii_strncasecmp(s, prefixes[i], strlen(prefixes[i])) == 0) {
				s += strlen(prefixes[i]);
				again = TRUE;
			}
	}
	return s != NULL ? g_utf8_strdown(s, -1) : NULL;
}

/* Every address of an entry: from, to, cc (borrowed strings). */
static GPtrArray *
participants(JsonObject *e)
{
	GPtrArray *out = g_ptr_array_new();
	JsonArray *lists[] = { jarr(e, "to"), jarr(e, "cc") };

	g_ptr_array_add(out, (gpointer)jstr(e, "from"));
	for (guint l = 0; l < G_N_ELEMENTS(lists); l++)
		for (guint i = 0; lists[l] != NULL && i < json_array_get_length(lists[l]); i++)
			g_ptr_array_add(out, (gpointer)json_array_get_string_element(lists[l], i));
	return out;
}

/* TRUE when the entry carries no header link at all. */
static gboolean
no_header_link(JsonObject *e)
{
	JsonArray *refs = jarr(e, "references");

	return jstr(e, "in_reply_to") == NULL && (refs == NULL || json_array_get_length(refs) == 0);
}

/* In-Reply-To names the target. */
static const char *
link_in_reply_to(corpus *c G_GNUC_UNUSED, JsonObject *e, JsonObject *t)
{
	return g_strcmp0(jstr(e, "in_reply_to"), jstr(t, "message_id")) == 0 ? NULL
	    : "in_reply_to is not the target's message_id";
}

/* In-Reply-To is unknown here; References, newest first, reach the target
 * before any other outbound message of the corpus. */
static const char *
link_references(corpus *c, JsonObject *e, JsonObject *t)
{
	JsonArray *refs = jarr(e, "references");

	for (guint i = 0; i < json_array_get_length(c->entries); i++)
		if (g_strcmp0(jstr(entry_at(c, i), "message_id"), jstr(e, "in_reply_to")) == 0)
			return "in_reply_to names a corpus message: the hint would be in-reply-to";
	for (guint i = refs != NULL ? json_array_get_length(refs) : 0; i > 0; i--) {
		const char *id = json_array_get_string_element(refs, i - 1);

		if (g_strcmp0(id, jstr(t, "message_id")) == 0)
			return NULL;
		for (guint k = 0; k < json_array_get_length(c->entries); k++)
			if (g_strcmp0(jstr(entry_at(c, k), "message_id"), id) == 0 &&
			    g_strcmp0(jstr(entry_at(c, k), "direction"), "outbound") == 0)
				return "a newer outbound message comes first in References";
	}
	return "References do not name the target";
}

/* No header link; the Thread-Index conversation is the target's. */
static const char *
link_thread_index(corpus *c G_GNUC_UNUSED, JsonObject *e, JsonObject *t)
{
	if (!no_header_link(e))
		return "has In-Reply-To or References";
	if (jstr(e, "thread_index_conversation") == NULL ||
	    g_strcmp0(jstr(e, "thread_index_conversation"), jstr(t, "thread_index_conversation")) != 0)
		return "conversation differs from the target's";
	return NULL;
}

/* Only the "[token]" in the subject links it. */
static const char *
link_token(corpus *c G_GNUC_UNUSED, JsonObject *e, JsonObject *t G_GNUC_UNUSED)
{
	const char *token = jstr(e, "token"), *at = token ? strstr(jstr(e, "subject"), token) : NULL;

	if (!no_header_link(e) || jstr(e, "thread_index_conversation") != NULL)
		return "has a header link as well";
	return at != NULL && at > jstr(e, "subject") && at[-1] == '[' && at[strlen(token)] == ']' ? NULL
	    : "subject lacks [token]";
}

/* No link at all; same normalised subject and two shared addresses. */
static const char *
link_smart(corpus *c G_GNUC_UNUSED, JsonObject *e, JsonObject *t)
{
	char *a = normalized_subject(jstr(e, "subject")), *b = normalized_subject(jstr(t, "subject"));
	GPtrArray *mine = participants(e), *theirs = participants(t);
	guint shared = 0;
	const char *why = NULL;

	for (guint i = 0; i < mine->len; i++)
		shared += ptr_has(theirs, g_ptr_array_index(mine, i)) ? 1 : 0;
	if (!no_header_link(e) || jstr(e, "thread_index_conversation") != NULL || jstr(e, "token") != NULL)
		why = "has a stronger link";
	else if (g_strcmp0(a, b) != 0)
		why = "normalised subjects differ";
	else if (shared < 2)
		why = "fewer than two shared addresses";
	g_ptr_array_unref(mine);
	g_ptr_array_unref(theirs);
	g_free(a);
	g_free(b);
	return why;
}

/* How each correlation_hint must be borne out by the manifest itself. */
static const struct {
	const char *hint;
	const char *(*check)(corpus *c, JsonObject *e, JsonObject *target);
} link_rules[] = {
	{ "in-reply-to", link_in_reply_to },
	{ "references", link_references },
	{ "thread-index", link_thread_index },
	{ "token", link_token },
	{ "smart", link_smart },
};

/* Message-IDs unique; each reply_to_file exists and its hint holds; the
 * q3 thread shares one Thread-Index conversation. */
static void
test_thread_links(void **state)
{
	corpus *c = *state;
	problems p = 0;
	GHashTable *ids = g_hash_table_new(g_str_hash, g_str_equal);
	const char *q3_conv = NULL;
	guint uses[G_N_ELEMENTS(link_rules)] = { 0 };

	for (guint i = 0; i < json_array_get_length(c->entries); i++) {
		JsonObject *e = entry_at(c, i), *t;
		const char *file = jstr(e, "file"), *hint = jstr(e, "correlation_hint");
		const char *to = jstr(e, "reply_to_file"), *conv = jstr(e, "thread_index_conversation");
		gboolean known = FALSE;

		if (jstr(e, "message_id") == NULL || g_hash_table_contains(ids, jstr(e, "message_id")))
			problem(&p, file, "message_id missing or repeated");
		else
			g_hash_table_add(ids, (gpointer)jstr(e, "message_id"));
		if (g_strcmp0(jstr(e, "thread"), "q3") == 0 && conv != NULL) {
			if (q3_conv == NULL)
				q3_conv = conv;
			else if (g_strcmp0(q3_conv, conv) != 0)
				problem(&p, file, "q3 message with another Thread-Index conversation");
		}
		if ((hint == NULL) != (to == NULL))
			problem(&p, file, "correlation_hint and reply_to_file must be both set or both null");
		if (hint == NULL || to == NULL)
			continue;
		t = g_hash_table_lookup(c->by_file, to);
		if (t == NULL) {
			problem(&p, file, "reply_to_file %s is not in the manifest", to);
			continue;
		}
		for (guint r = 0; r < G_N_ELEMENTS(link_rules); r++) {
			const char *why;

			if (strcmp(hint, link_rules[r].hint) != 0)
				continue;
			known = TRUE;
			uses[r]++;
			if ((why = link_rules[r].check(c, e, t)) != NULL)
				problem(&p, file, "correlation_hint %s to %s: %s", hint, to, why);
		}
		if (!known)
			problem(&p, file, "unknown correlation_hint %s", hint);
	}
	for (guint r = 0; r < G_N_ELEMENTS(link_rules); r++)
		if (uses[r] == 0)
			problem(&p, "MANIFEST.json", "no message is material for %s", link_rules[r].hint);
	g_hash_table_unref(ids);
	report(&p, "thread link");
}

/* Run the corpus checks. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_file_listed),
		cmocka_unit_test(test_wire_format),
		cmocka_unit_test(test_activity_fields),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_thread_links),
	};

	return cmocka_run_group_tests_name("corpus", tests, setup, teardown);
}

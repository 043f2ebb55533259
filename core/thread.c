/*
 * thread.c - reply/thread correlation helpers. See thread.h.
 *
 * Message-ids come from GMime's References parser only; nothing here splits
 * an id list by hand. Subject work happens on a bounded, valid UTF-8 copy.
 * The one process-wide object is the compiled subject-prefix regex, made
 * once under g_once and immutable afterwards (GRegex matching is
 * thread-safe).
 */
#include <string.h>
#include <gmime/gmime.h>

#include "idem.h"
#include "thread.h"

/* Reply/forward prefixes as clients write them, matched on the case-folded,
 * NFKC-normalised, space-collapsed subject: English re/fw/fwd, German
 * aw/wg, Nordic sv/vs/vl, French tr, Spanish rv, Italian r/rif, Portuguese
 * res/enc, Dutch antw/doorst, Polish odp/pd, Turkish ynt, Greek απ/σχετ/πρθ,
 * Chinese 回复/回覆/答复/答覆/转发/轉寄/轉發; an optional counter ("[2]",
 * "^2", "(2)") and a colon (full-width colons become ':' under NFKC). */
static const char prefix_pattern[] =
    "^(?:re|aw|sv|vs|vl|tr|rv|r|rif|res|antw|odp|ynt|fwd|fw|wg|enc|pd|doorst"
    "|απ|σχετ|πρθ|回复|回覆|答复|答覆|转发|轉寄|轉發)"
    " ?(?:\\[[0-9]{1,4}\\]|\\^[0-9]{1,4}|\\([0-9]{1,4}\\))? ?: ?";

/* A leading list tag "[name]" is at most this long (inside the brackets). */
#define LIST_TAG_MAX 64

/* Compile the prefix regex (GOnce callback). */
static gpointer
prefix_regex_compile(gpointer data)
{
	GError *err = NULL;
	GRegex *re = g_regex_new(prefix_pattern, 0, 0, &err);

	/* the pattern is a constant: failing to compile it is a bug */
	if (re == NULL)
		g_error("thread: prefix regex: %s", err->message);
	return re;
}

/* The compiled prefix regex, shared by all threads. */
static GRegex *
prefix_regex(void)
{
	static GOnce once = G_ONCE_INIT;

	return g_once(&once, prefix_regex_compile, NULL);
}

/* ------------------------------------------------------------ reply ids */

/* Whether a parsed id is worth looking up. */
static gboolean
msgid_ok(const char *id)
{
	size_t n = strlen(id);
	const unsigned char *p;

	if (n < 3 || n > THREAD_MSGID_MAX || id[0] == '@' || id[n - 1] == '@' ||
	    strchr(id, '@') == NULL)
		return FALSE;
	if (!g_utf8_validate(id, (gssize)n, NULL))
		return FALSE;
	for (p = (const unsigned char *)id; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return FALSE;
	return TRUE;
}

/* Append id to out unless seen, invalid or out is full. */
static void
add_id(GPtrArray *out, GHashTable *seen, const char *id)
{
	char *copy;

	if (out->len >= THREAD_IDS_MAX || !msgid_ok(id) ||
	    g_hash_table_contains(seen, id))
		return;
	copy = g_strdup(id);
	g_ptr_array_add(out, copy);
	g_hash_table_add(seen, copy);
}

/* A bounded copy of a header value: the head up to the last '>' within
 * THREAD_HEADER_MAX, or (keep_tail) the tail from the first '<' after a
 * blank, so that the parser starts on a whole id. NULL if nothing usable. */
static char *
bounded_ids_text(const char *text, gboolean keep_tail)
{
	size_t n = strlen(text);
	const char *p, *end;

	if (n <= THREAD_HEADER_MAX)
		return g_strdup(text);
	if (keep_tail) {
		for (p = text + n - THREAD_HEADER_MAX; *p != '\0'; p++)
			if (*p == '<' && g_ascii_isspace(p[-1]))
				return g_strdup(p);
		return NULL;
	}
	for (end = text + THREAD_HEADER_MAX; end > text; end--)
		if (end[-1] == '>')
			return g_strndup(text, (gsize)(end - text));
	return NULL;
}

/* Parse one header value and add its ids, in order or newest first. */
static void
add_header_ids(GPtrArray *out, GHashTable *seen, const char *text,
    gboolean newest_first)
{
	GMimeReferences *refs;
	char *bounded;
	int i, n;

	if (text == NULL || (bounded = bounded_ids_text(text, newest_first)) == NULL)
		return;
	refs = g_mime_references_parse(NULL, bounded);
	n = refs != NULL ? g_mime_references_length(refs) : 0;
	for (i = 0; i < n; i++)
		add_id(out, seen, g_mime_references_get_message_id(refs,
		    newest_first ? n - 1 - i : i));
	if (n == 0 && !newest_first && strchr(bounded, '<') == NULL &&
	    strchr(bounded, '@') != NULL) {
		/* a bare id without brackets, as some broken clients write */
		char *bare = idem_msgid_normalize(bounded);

		if (bare != NULL)
			add_id(out, seen, bare);
		g_free(bare);
	}
	if (refs != NULL)
		g_mime_references_free(refs);
	g_free(bounded);
}

/* In-Reply-To ids, then References newest first. */
GPtrArray *
thread_reply_ids(const char *in_reply_to, const char *references)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

	add_header_ids(out, seen, in_reply_to, FALSE);
	add_header_ids(out, seen, references, TRUE);
	g_hash_table_destroy(seen);
	return out;
}

/* ---------------------------------------------------------- Thread-Index */

/* Whether c is in the base64 alphabet (without '='). */
static gboolean
is_b64(char c)
{
	return g_ascii_isalnum(c) || c == '+' || c == '/';
}

/* The value without folding whitespace, padded to a multiple of 4, if it
 * is strict base64; else NULL. */
static char *
b64_clean(const char *text)
{
	GString *s = g_string_new(NULL);
	const char *p;
	gsize i, pad = 0;

	for (p = text; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			continue;
		if (s->len >= THREAD_INDEX_MAX)
			goto bad;
		g_string_append_c(s, *p);
	}
	while (pad < 2 && s->len > pad && s->str[s->len - 1 - pad] == '=')
		pad++;
	for (i = 0; i + pad < s->len; i++)
		if (!is_b64(s->str[i]))
			goto bad;
	if (pad > 0 && s->len % 4 != 0)
		goto bad;		/* '=' only as padding of a full quantum */
	if (s->len % 4 == 1 || s->len == pad)
		goto bad;
	while (s->len % 4 != 0)
		g_string_append_c(s, '=');
	return g_string_free(s, FALSE);
bad:
	g_string_free(s, TRUE);
	return NULL;
}

/* The conversation block of a Thread-Index as lower-case hex. */
char *
thread_index_conversation(const char *thread_index)
{
	static const char hex[] = "0123456789abcdef";
	char *clean, *out;
	guchar *raw;
	gsize n, i;

	if (thread_index == NULL || (clean = b64_clean(thread_index)) == NULL)
		return NULL;
	raw = g_base64_decode(clean, &n);
	g_free(clean);
	if (raw == NULL || n < THREAD_INDEX_CONV_BYTES ||
	    (n - THREAD_INDEX_CONV_BYTES) % THREAD_INDEX_CHILD_BYTES != 0) {
		g_free(raw);
		return NULL;
	}
	out = g_malloc(THREAD_INDEX_CONV_BYTES * 2 + 1);
	for (i = 0; i < THREAD_INDEX_CONV_BYTES; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	out[THREAD_INDEX_CONV_BYTES * 2] = '\0';
	g_free(raw);
	return out;
}

/* ---------------------------------------------------------------- tokens */

/* Whether prefix can start a token. */
static gboolean
prefix_ok(const char *prefix)
{
	size_t n, i;

	if (prefix == NULL || (n = strlen(prefix)) == 0 || n > THREAD_PREFIX_MAX ||
	    g_ascii_isdigit(prefix[n - 1]))
		return FALSE;
	for (i = 0; i < n; i++)
		if (prefix[i] <= 0x20 || prefix[i] >= 0x7f || prefix[i] == '[' ||
		    prefix[i] == ']')
			return FALSE;
	return TRUE;
}

/* First ASCII case-insensitive occurrence of needle in hay[0..len) at or
 * after from, where a needle starting (ending) with a letter or digit does
 * not touch one before (after). -1 when absent. */
static gssize
find_word_ci(const char *hay, gsize len, gsize from, const char *needle,
    gboolean check_after)
{
	gsize m = strlen(needle), i;
	gboolean word_start = g_ascii_isalnum(needle[0]);
	gboolean word_end = check_after && g_ascii_isalnum(needle[m - 1]);

	for (i = from; m > 0 && i + m <= len; i++) {
		if (g_ascii_strncasecmp(hay + i, needle, m) != 0)
			continue;
		if (word_start && i > 0 && g_ascii_isalnum(hay[i - 1]))
			continue;
		if (word_end && i + m < len && g_ascii_isalnum(hay[i + m]))
			continue;
		return (gssize)i;
	}
	return -1;
}

/* The length of s, but at most max (s need not be terminated beyond). */
static gsize
bounded_len(const char *s, gsize max)
{
	return strnlen(s, max);
}

/* A token string: prefix and exactly digits zero-padded digits. */
char *
thread_token_format(const char *prefix, int digits, guint64 number)
{
	guint64 limit = 1;
	int i;

	if (!prefix_ok(prefix) || digits < 1 || digits > 20)
		return NULL;
	if (digits < 20) {
		for (i = 0; i < digits; i++)
			limit *= 10;
		if (number >= limit)
			return NULL;
	}
	return g_strdup_printf("%s%0*" G_GUINT64_FORMAT, prefix, digits, number);
}

/* Find a token with this prefix and exactly digits digits. */
gboolean
thread_token_find(const char *subject, const char *prefix, int digits,
    guint64 *number)
{
	gsize len, plen, from = 0;
	gssize at;

	if (subject == NULL || !prefix_ok(prefix) || digits < 1 || digits > 20)
		return FALSE;
	len = bounded_len(subject, THREAD_SUBJECT_MAX);
	plen = strlen(prefix);
	while ((at = find_word_ci(subject, len, from, prefix, FALSE)) >= 0) {
		gsize d = (gsize)at + plen, n = 0;

		while (d + n < len && n <= (gsize)digits && g_ascii_isdigit(subject[d + n]))
			n++;
		if (n == (gsize)digits) {
			char buf[21];
			guint64 v;

			memcpy(buf, subject + d, n);
			buf[n] = '\0';
			if (g_ascii_string_to_unsigned(buf, 10, 0, G_MAXUINT64, &v, NULL)) {
				if (number != NULL)
					*number = v;
				return TRUE;
			}
		}
		from = (gsize)at + 1;
	}
	return FALSE;
}

/* Whether a token or tag may be written into a header: no blanks,
 * controls or brackets (for tokens), bounded. */
static gboolean
token_ok(const char *token)
{
	size_t n, i;

	if (token == NULL || (n = strlen(token)) == 0 || n > THREAD_TAG_MAX)
		return FALSE;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)token[i];

		if (c <= 0x20 || c == 0x7f || c == '[' || c == ']')
			return FALSE;
	}
	return TRUE;
}

/* The subject with " [token]" appended unless present. */
char *
thread_subject_with_token(const char *subject, const char *token)
{
	gsize len;

	if (!token_ok(token))
		return NULL;
	if (subject == NULL)
		subject = "";
	len = strlen(subject);
	if (find_word_ci(subject, len, 0, token, TRUE) >= 0)
		return g_strdup(subject);
	while (len > 0 && g_ascii_isspace(subject[len - 1]))
		len--;
	if (len == 0)
		return g_strdup_printf("[%s]", token);
	return g_strdup_printf("%.*s [%s]", (int)len, subject, token);
}

/* ---------------------------------------------------------- subject tag */

/* Whether c is a blank the tag stripper tidies (including folding). */
static gboolean
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether a tag is usable: bounded, no control characters. */
static gboolean
tag_ok(const char *tag)
{
	size_t n, i;

	if (tag == NULL || (n = strlen(tag)) == 0 || n > THREAD_TAG_MAX)
		return FALSE;
	for (i = 0; i < n; i++)
		if ((unsigned char)tag[i] < 0x20 || tag[i] == 0x7f)
			return FALSE;
	return !is_blank(tag[0]) && !is_blank(tag[n - 1]);
}

/* Whether the subject carries the tag; the subject without it. */
gboolean
thread_subject_tag_strip(const char *subject, const char *tag, char **stripped)
{
	GString *out;
	gsize len, m, from = 0;
	gssize at;
	gboolean found = FALSE;

	if (stripped != NULL)
		*stripped = NULL;
	if (subject == NULL || !tag_ok(tag) ||
	    (len = bounded_len(subject, THREAD_HEADER_MAX + 1)) > THREAD_HEADER_MAX) {
		if (stripped != NULL && subject != NULL)
			*stripped = g_strdup(subject);
		return FALSE;
	}
	m = strlen(tag);
	out = g_string_sized_new(len);
	while ((at = find_word_ci(subject, len, from, tag, TRUE)) >= 0) {
		found = TRUE;
		g_string_append_len(out, subject + from, at - (gssize)from);
		from = (gsize)at + m;
		/* one blank between the words around the tag, none at the start */
		if (out->len == 0 || is_blank(out->str[out->len - 1]))
			while (from < len && is_blank(subject[from]))
				from++;
		else if (from < len && !is_blank(subject[from]))
			g_string_append_c(out, ' ');	/* "Re:[crm]Quote" */
	}
	if (stripped != NULL) {
		if (found) {
			gsize lead = 0;

			g_string_append_len(out, subject + from, (gssize)(len - from));
			while (out->len > 0 && is_blank(out->str[out->len - 1]))
				g_string_truncate(out, out->len - 1);
			while (lead < out->len && is_blank(out->str[lead]))
				lead++;
			g_string_erase(out, 0, (gssize)lead);
			*stripped = g_string_free(out, FALSE);
			out = NULL;
		} else {
			*stripped = g_strdup(subject);
		}
	}
	if (out != NULL)
		g_string_free(out, TRUE);
	return found;
}

/* ---------------------------------------------------- subject normalising */

/* A valid UTF-8 copy of at most THREAD_SUBJECT_MAX bytes of s, cut on a
 * character boundary when the input is UTF-8. */
static char *
subject_view(const char *s)
{
	gsize n = bounded_len(s, THREAD_SUBJECT_MAX);
	int back = 0;

	if (s[n] != '\0')
		while (back < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
			n--;
			back++;
		}
	return g_utf8_make_valid(s, (gssize)n);
}

/* NFKC, case folding, NFKC again (GLib's case folding can decompose,
 * e.g. Greek U+03AC to alpha + U+0301); s must be valid UTF-8. */
static char *
fold(const char *s)
{
	char *nfkc = g_utf8_normalize(s, -1, G_NORMALIZE_ALL_COMPOSE);
	char *folded, *out;

	if (nfkc == NULL)
		return g_strdup("");
	folded = g_utf8_casefold(nfkc, -1);
	out = g_utf8_normalize(folded, -1, G_NORMALIZE_ALL_COMPOSE);
	g_free(folded);
	g_free(nfkc);
	return out != NULL ? out : g_strdup("");
}

/* s (folded) without tokens "prefix<digits>", brackets around them too. */
static char *
remove_tokens(const char *s, const char *prefix)
{
	GString *out = g_string_new(NULL);
	gsize len = strlen(s), plen = strlen(prefix), from = 0;
	gssize at;

	while ((at = find_word_ci(s, len, from, prefix, FALSE)) >= 0) {
		gsize start = (gsize)at, end = start + plen, n = 0;

		while (end + n < len && n <= 20 && g_ascii_isdigit(s[end + n]))
			n++;
		if (n == 0 || n > 20) {
			g_string_append_len(out, s + from, (gssize)(end - from));
			from = end;
			continue;
		}
		end += n;
		if (start > from && s[start - 1] == '[' && end < len && s[end] == ']') {
			start--;
			end++;
		}
		g_string_append_len(out, s + from, (gssize)(start - from));
		g_string_append_c(out, ' ');
		from = end;
	}
	g_string_append(out, s + from);
	return g_string_free(out, FALSE);
}

/* s (folded) with every occurrence of tag (folded) replaced by a blank. */
static char *
remove_tag(const char *s, const char *tag)
{
	GString *out = g_string_new(NULL);
	gsize len = strlen(s), m = strlen(tag), from = 0;
	gssize at;

	while ((at = find_word_ci(s, len, from, tag, TRUE)) >= 0) {
		g_string_append_len(out, s + from, at - (gssize)from);
		g_string_append_c(out, ' ');
		from = (gsize)at + m;
	}
	g_string_append(out, s + from);
	return g_string_free(out, FALSE);
}

/* Whitespace and controls to single spaces, format characters (zero
 * width spaces, BOM) dropped, no blank at either end. */
static char *
collapse_ws(const char *s)
{
	GString *out = g_string_new(NULL);
	gboolean space = FALSE;
	const char *p;

	for (p = s; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		GUnicodeType t = g_unichar_type(c);

		if (g_unichar_isspace(c) || t == G_UNICODE_CONTROL ||
		    t == G_UNICODE_LINE_SEPARATOR || t == G_UNICODE_PARAGRAPH_SEPARATOR) {
			space = TRUE;
			continue;
		}
		if (t == G_UNICODE_FORMAT)
			continue;
		if (space && out->len > 0)
			g_string_append_c(out, ' ');
		space = FALSE;
		g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

/* Length of a leading "[list tag] " in s, 0 if none or if nothing would be
 * left after it. */
static gsize
list_tag_len(const char *s)
{
	const char *close;
	gsize n;

	if (s[0] != '[')
		return 0;
	close = strchr(s + 1, ']');
	if (close == NULL || close == s + 1 || (gsize)(close - s - 1) > LIST_TAG_MAX ||
	    memchr(s + 1, '[', (gsize)(close - s - 1)) != NULL)
		return 0;
	n = (gsize)(close - s) + 1;
	while (s[n] == ' ')
		n++;
	return s[n] != '\0' ? n : 0;
}

/* Length of a leading reply/forward prefix in s, 0 if none. */
static gsize
reply_prefix_len(const char *s)
{
	GMatchInfo *mi = NULL;
	gint start = 0, end = 0;

	if (g_regex_match(prefix_regex(), s, 0, &mi))
		g_match_info_fetch_pos(mi, 0, &start, &end);
	g_match_info_free(mi);
	return end > 0 ? (gsize)end : 0;
}

/* Strip prefixes, list tags, "[fwd: ...]" wrappers and "(fwd)" in place
 * (s is collapsed: single spaces, no blank at the ends). */
static void
strip_prefixes(char *s)
{
	gboolean changed = TRUE;
	gsize len, n;

	while (changed && s[0] != '\0') {
		changed = FALSE;
		len = strlen(s);
		if ((n = reply_prefix_len(s)) > 0 || (n = list_tag_len(s)) > 0) {
			memmove(s, s + n, len - n + 1);
			changed = TRUE;
		} else if (s[0] == '[' && len > 2 && s[len - 1] == ']' &&
		    reply_prefix_len(s + 1) > 0) {
			/* old Mozilla forward: "[Fwd: subject]" */
			s[len - 1] = '\0';
			memmove(s, s + 1, len - 1);
			changed = TRUE;
		} else if (len >= 5 && strcmp(s + len - 5, "(fwd)") == 0) {
			s[len - 5] = '\0';
			changed = TRUE;
		}
		if (changed)
			g_strstrip(s);
	}
}

/* The subject reduced for smart matching. */
char *
thread_subject_normalize(const char *subject, const char *strip_tag,
    const char *token_prefix)
{
	char *view, *s, *t;

	if (subject == NULL)
		return g_strdup("");
	view = subject_view(subject);
	s = fold(view);
	g_free(view);
	if (prefix_ok(token_prefix)) {
		char *fp = fold(token_prefix);

		t = remove_tokens(s, fp);
		g_free(fp);
		g_free(s);
		s = t;
	}
	if (tag_ok(strip_tag) && g_utf8_validate(strip_tag, -1, NULL)) {
		char *ft = fold(strip_tag);

		if (*ft != '\0') {
			t = remove_tag(s, ft);
			g_free(s);
			s = t;
		}
		g_free(ft);
	}
	t = collapse_ws(s);
	g_free(s);
	strip_prefixes(t);
	return t;
}

/* ------------------------------------------------------------ addresses */

/* One address trimmed of blanks and <>, lower-cased; NULL if empty. */
static char *
addr_key(const char *raw)
{
	char *s, *t, *out;
	gsize n;

	if (raw == NULL)
		return NULL;
	s = g_utf8_make_valid(raw, (gssize)bounded_len(raw, THREAD_MSGID_MAX));
	t = g_strstrip(s);
	n = strlen(t);
	if (n >= 2 && t[0] == '<' && t[n - 1] == '>') {
		t[n - 1] = '\0';
		t = g_strstrip(t + 1);
	}
	out = *t != '\0' ? g_utf8_strdown(t, -1) : NULL;
	g_free(s);
	return out;
}

/* Distinct addresses of a that b also has. */
guint
thread_shared_addresses(GPtrArray *a, GPtrArray *b)
{
	GHashTable *inb, *counted;
	guint i, shared = 0;

	if (a == NULL || b == NULL || a->len == 0 || b->len == 0)
		return 0;
	inb = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	counted = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (i = 0; i < b->len; i++) {
		char *k = addr_key(g_ptr_array_index(b, i));

		if (k != NULL)
			g_hash_table_add(inb, k);
	}
	for (i = 0; i < a->len; i++) {
		char *k = addr_key(g_ptr_array_index(a, i));

		if (k == NULL)
			continue;
		if (g_hash_table_contains(inb, k) && !g_hash_table_contains(counted, k)) {
			shared++;
			g_hash_table_add(counted, k);
		} else {
			g_free(k);
		}
	}
	g_hash_table_destroy(inb);
	g_hash_table_destroy(counted);
	return shared;
}

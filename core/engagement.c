/*
 * engagement.c - classification of opens and clicks (person, privacy
 * proxy, security scanner) over the admin's data file of user agents and
 * address ranges, and the spool job an event becomes. See engagement.h
 * for the checks, their order and the file format.
 *
 * Address ranges: one hash table per kind of event (opens, clicks) keyed
 * by (family, prefix length, masked address), plus per family the set of
 * prefix lengths in use; a lookup masks the client address at each length
 * in use, longest first, so it costs at most 33 (IPv4) or 129 (IPv6)
 * probes however many networks are loaded (Apple's egress list has
 * hundreds of thousands).
 *
 * Ownership: eng_data owns every string and table in it; nothing changes
 * after loading.
 */
#include <string.h>
#include <arpa/inet.h>
#include <json-glib/json-glib.h>

#include "engagement.h"
#include "errline.h"
#include "jsonb.h"
#include "readfile.h"

#define APPLIES_OPENS  0x1u
#define APPLIES_CLICKS 0x2u
#define DATA_MAX   (1024 * 1024)           /* bytes of the data file */
#define RANGES_MAX (256 * 1024 * 1024)     /* bytes of one ranges file */

typedef struct {
	guint8 family;          /* 4 or 6 */
	guint8 plen;
	guint8 addr[16];        /* masked to plen; IPv4 in the first 4 */
} range_key;

typedef struct {
	range_key key;
	guint section;
} pending_range;

typedef struct {
	eng_class cls;
	char *name;
	guint applies;          /* APPLIES_* */
	GArray *ranges;         /* pending_range, while loading */
} eng_section;

typedef struct {
	char *text;             /* as written */
	char *lower;            /* ASCII lower-case, trimmed for exact rules */
	gboolean exact;
	guint section;
} agent_rule;

typedef struct {
	GHashTable *table;      /* range_key * -> section index + 1 */
	gboolean used[2][129];  /* [v4, v6][prefix length] */
} range_set;

struct eng_data {
	GPtrArray *sections;    /* eng_section * */
	GArray *agents;         /* agent_rule, file order */
	range_set ranges[2];    /* [ENG_OPENED, ENG_CLICKED] */
	guint nranges;          /* networks listed (ranges files included) */
};

static const char *const class_names[] = {
	[ENG_HUMAN] = "human",
	[ENG_PRIVACY_PROXY] = "privacy_proxy",
	[ENG_SCANNER] = "scanner",
};

/* The error domain of this module (callers only read messages). */
static GQuark
eng_error(void)
{
	return g_quark_from_static_string("crm-engagement-error-quark");
}

/* ------------------------------------------------------------ range keys */

/* Hash of a range key (FNV-1a over the bytes in use). */
static guint
key_hash(gconstpointer p)
{
	const range_key *k = p;
	guint h = 2166136261u;
	gsize n = k->family == 4 ? 4 : 16;

	h = (h ^ k->family) * 16777619u;
	h = (h ^ k->plen) * 16777619u;
	for (gsize i = 0; i < n; i++)
		h = (h ^ k->addr[i]) * 16777619u;
	return h;
}

/* Equality of two range keys. */
static gboolean
key_equal(gconstpointer a, gconstpointer b)
{
	const range_key *x = a, *y = b;

	return x->family == y->family && x->plen == y->plen &&
	    memcmp(x->addr, y->addr, sizeof(x->addr)) == 0;
}

/* Zero the bits of addr beyond plen (nbytes long). */
static void
mask_bits(guint8 *addr, gsize nbytes, guint plen)
{
	for (gsize i = 0; i < nbytes; i++) {
		guint bit = (guint)i * 8;

		if (bit >= plen)
			addr[i] = 0;
		else if (plen - bit < 8)
			addr[i] &= (guint8)(0xff << (8 - (plen - bit)));
	}
}

/* Parse a textual address into key (family, bytes; plen full). IPv4-mapped
 * IPv6 addresses become IPv4. */
static gboolean
parse_address(const char *text, range_key *key)
{
	guint8 buf[16];

	memset(key, 0, sizeof(*key));
	if (inet_pton(AF_INET, text, buf) == 1) {
		key->family = 4;
		key->plen = 32;
		memcpy(key->addr, buf, 4);
		return TRUE;
	}
	if (inet_pton(AF_INET6, text, buf) != 1)
		return FALSE;
	if (memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		key->family = 4;
		key->plen = 32;
		memcpy(key->addr, buf + 12, 4);
	} else {
		key->family = 6;
		key->plen = 128;
		memcpy(key->addr, buf, 16);
	}
	return TRUE;
}

/* Parse "ADDRESS/PREFIX" (or a bare address) into key; FALSE with why. */
static gboolean
parse_cidr(const char *text, range_key *key, char **why)
{
	const char *slash = strchr(text, '/');
	char *addr = slash ? g_strndup(text, (gsize)(slash - text)) : g_strdup(text);
	guint8 copy[16];
	guint64 plen;
	gboolean ok = parse_address(addr, key) &&
	    memcmp(addr, "::ffff:", 7) != 0;   /* say IPv4 networks as IPv4 */

	g_free(addr);
	if (!ok) {
		*why = g_strdup_printf("'%s' is not an address/prefix", text);
		return FALSE;
	}
	if (slash != NULL) {
		if (!g_ascii_string_to_unsigned(slash + 1, 10, 0, key->plen, &plen, NULL)) {
			*why = g_strdup_printf("'%s': the prefix length must be 0 to %u", text, key->plen);
			return FALSE;
		}
		key->plen = (guint8)plen;
	}
	memcpy(copy, key->addr, sizeof(copy));
	mask_bits(key->addr, key->family == 4 ? 4 : 16, key->plen);
	if (memcmp(copy, key->addr, sizeof(copy)) != 0) {
		*why = g_strdup_printf("'%s' has address bits set beyond /%u", text, key->plen);
		return FALSE;
	}
	return TRUE;
}

/* "ADDRESS/PREFIX" of a key (new string). */
static char *
key_text(const range_key *k)
{
	char buf[INET6_ADDRSTRLEN];

	if (inet_ntop(k->family == 4 ? AF_INET : AF_INET6, k->addr, buf, sizeof(buf)) == NULL)
		return g_strdup("?");
	return g_strdup_printf("%s/%u", buf, k->plen);
}

/* Add a network to a set unless it is there already (first wins). */
static void
range_set_add(range_set *set, const range_key *k, guint section)
{
	if (g_hash_table_contains(set->table, k))
		return;
	g_hash_table_insert(set->table, g_memdup2(k, sizeof(*k)), GUINT_TO_POINTER(section + 1));
	set->used[k->family == 4 ? 0 : 1][k->plen] = TRUE;
}

/* The longest network of set holding addr: its section + 1 (0: none),
 * and the matching key in *hit. */
static guint
range_set_find(const range_set *set, const range_key *addr, range_key *hit)
{
	int fam = addr->family == 4 ? 0 : 1;
	int max = addr->family == 4 ? 32 : 128;

	for (int len = max; len >= 0; len--) {
		gpointer v;

		if (!set->used[fam][len])
			continue;
		*hit = *addr;
		hit->plen = (guint8)len;
		mask_bits(hit->addr, fam == 0 ? 4 : 16, (guint)len);
		v = g_hash_table_lookup(set->table, hit);
		if (v != NULL)
			return GPOINTER_TO_UINT(v);
	}
	return 0;
}

/* ------------------------------------------------------------ loading */

/* GDestroyNotify for data->sections. */
static void
section_free(gpointer p)
{
	eng_section *s = p;

	g_free(s->name);
	if (s->ranges != NULL)
		g_array_unref(s->ranges);
	g_free(s);
}

/* Clear one agent rule (GArray clear func). */
static void
agent_clear(gpointer p)
{
	agent_rule *a = p;

	g_free(a->text);
	g_free(a->lower);
}

/* An empty data set. */
static eng_data *
data_new(void)
{
	eng_data *d = g_new0(eng_data, 1);

	d->sections = g_ptr_array_new_with_free_func(section_free);
	d->agents = g_array_new(FALSE, TRUE, sizeof(agent_rule));
	g_array_set_clear_func(d->agents, agent_clear);
	for (int i = 0; i < 2; i++)
		d->ranges[i].table = g_hash_table_new_full(key_hash, key_equal, g_free, NULL);
	return d;
}

/* Free data; NULL-safe, returns NULL. */
eng_data *
engagement_data_free(eng_data *data)
{
	if (data == NULL)
		return NULL;
	g_ptr_array_unref(data->sections);
	g_array_unref(data->agents);
	for (int i = 0; i < 2; i++)
		g_hash_table_unref(data->ranges[i].table);
	g_free(data);
	return NULL;
}

/* "name:line: message" in this file's error domain. */
#define line_error(err, name, line, ...) \
	errline_set(err, eng_error(), 0, name, line, __VA_ARGS__)

/* Networks of a ranges file (first CSV column) into section s. */
static gboolean
load_ranges_file(eng_section *s, guint section, const char *path, GError **err)
{
	char *text = readfile_text(path, RANGES_MAX, 0, NULL, NULL, err);
	char **lines;
	gboolean ok = TRUE;

	if (text == NULL)
		return FALSE;
	lines = g_strsplit(text, "\n", -1);
	g_free(text);
	for (guint i = 0; ok && lines[i] != NULL; i++) {
		char *field = lines[i], *comma = strchr(field, ',');
		pending_range pr = { .section = section };
		char *why = NULL;

		if (comma != NULL)
			*comma = '\0';
		g_strstrip(field);
		if (*field == '\0' || *field == '#')
			continue;
		if (!parse_cidr(field, &pr.key, &why)) {
			line_error(err, path, i + 1, "%s", why);
			g_free(why);
			ok = FALSE;
		} else {
			g_array_append_val(s->ranges, pr);
		}
	}
	g_strfreev(lines);
	return ok;
}

/* Parse "[CLASS NAME]" into a new section. */
static eng_section *
parse_header(const char *line, const char *name, guint lineno, GError **err)
{
	gsize n = strlen(line);
	char *inner, *title;
	eng_section *s;
	int cls = -1;

	if (n < 2 || line[n - 1] != ']') {
		line_error(err, name, lineno, "a section header is [CLASS NAME]");
		return NULL;
	}
	inner = g_strstrip(g_strndup(line + 1, n - 2));
	title = inner + strcspn(inner, " \t");
	if (*title != '\0')
		*title++ = '\0';
	for (guint i = 0; i < G_N_ELEMENTS(class_names); i++)
		if (strcmp(inner, class_names[i]) == 0)
			cls = (int)i;
	if (cls < 0) {
		line_error(err, name, lineno, "'%s' is not a class (human, privacy_proxy, scanner)", inner);
		g_free(inner);
		return NULL;
	}
	s = g_new0(eng_section, 1);
	s->cls = (eng_class)cls;
	s->name = g_strdup(*g_strstrip(title) != '\0' ? title : inner);
	s->applies = APPLIES_OPENS | APPLIES_CLICKS;
	s->ranges = g_array_new(FALSE, FALSE, sizeof(pending_range));
	g_free(inner);
	return s;
}

/* One "key = value" line of section s (index section). */
static gboolean
parse_entry(eng_data *d, eng_section *s, guint section, const char *key, const char *value,
    const char *name, const char *dir, guint lineno, GError **err)
{
	char *why = NULL;

	if (*value == '\0') {
		line_error(err, name, lineno, "%s: the value is empty", key);
		return FALSE;
	}
	if (strcmp(key, "applies") == 0) {
		if (strcmp(value, "opens") == 0)
			s->applies = APPLIES_OPENS;
		else if (strcmp(value, "clicks") == 0)
			s->applies = APPLIES_CLICKS;
		else if (strcmp(value, "both") == 0)
			s->applies = APPLIES_OPENS | APPLIES_CLICKS;
		else {
			line_error(err, name, lineno, "applies: '%s' is not opens, clicks or both", value);
			return FALSE;
		}
	} else if (strcmp(key, "agent") == 0 || strcmp(key, "agent-exact") == 0) {
		agent_rule a = { g_strdup(value), g_ascii_strdown(value, -1),
		    strcmp(key, "agent-exact") == 0, section };

		g_array_append_val(d->agents, a);
	} else if (strcmp(key, "range") == 0) {
		pending_range pr = { .section = section };

		if (!parse_cidr(value, &pr.key, &why)) {
			line_error(err, name, lineno, "range: %s", why);
			g_free(why);
			return FALSE;
		}
		g_array_append_val(s->ranges, pr);
	} else if (strcmp(key, "ranges-file") == 0) {
		char *path = g_path_is_absolute(value) ? g_strdup(value) :
		    g_build_filename(dir != NULL ? dir : ".", value, NULL);
		GError *e = NULL;
		gboolean ok = load_ranges_file(s, section, path, &e);

		if (!ok) {
			line_error(err, name, lineno, "ranges-file: %s", e->message);
			g_error_free(e);
		}
		g_free(path);
		return ok;
	} else {
		line_error(err, name, lineno, "unknown key '%s' (applies, agent, agent-exact, "
		    "range, ranges-file)", key);
		return FALSE;
	}
	return TRUE;
}

/* Blank a trailing comment (a '#' after a blank) of line in place. */
static void
strip_comment(char *line)
{
	for (char *p = line; *p != '\0'; p++)
		if (*p == '#' && (p == line || *(p - 1) == ' ' || *(p - 1) == '\t')) {
			*p = '\0';
			return;
		}
}

/* Move each section's networks into the per-kind tables, in file order. */
static void
index_ranges(eng_data *d)
{
	for (guint i = 0; i < d->sections->len; i++) {
		eng_section *s = g_ptr_array_index(d->sections, i);

		d->nranges += s->ranges->len;
		for (guint k = 0; k < s->ranges->len; k++) {
			pending_range *pr = &g_array_index(s->ranges, pending_range, k);

			if (s->applies & APPLIES_OPENS)
				range_set_add(&d->ranges[ENG_OPENED], &pr->key, pr->section);
			if (s->applies & APPLIES_CLICKS)
				range_set_add(&d->ranges[ENG_CLICKED], &pr->key, pr->section);
		}
		g_clear_pointer(&s->ranges, g_array_unref);
	}
}

/* Parse data file text; see engagement.h. */
eng_data *
engagement_data_from_text(const char *text, const char *name, const char *dir, GError **err)
{
	eng_data *d = data_new();
	char **lines = g_strsplit(text, "\n", -1);
	eng_section *cur = NULL;
	gboolean ok = TRUE;

	for (guint i = 0; ok && lines[i] != NULL; i++) {
		char *line = lines[i], *eq;

		strip_comment(line);
		g_strstrip(line);
		if (*line == '\0')
			continue;
		if (*line == '[') {
			cur = parse_header(line, name, i + 1, err);
			ok = cur != NULL;
			if (ok)
				g_ptr_array_add(d->sections, cur);
			continue;
		}
		eq = strchr(line, '=');
		if (eq == NULL) {
			line_error(err, name, i + 1, "expected KEY = VALUE or [CLASS NAME]");
			ok = FALSE;
		} else if (cur == NULL) {
			line_error(err, name, i + 1, "'%s' before any [CLASS NAME] section", line);
			ok = FALSE;
		} else {
			*eq = '\0';
			ok = parse_entry(d, cur, d->sections->len - 1, g_strstrip(line),
			    g_strstrip(eq + 1), name, dir, i + 1, err);
		}
	}
	g_strfreev(lines);
	if (!ok)
		return engagement_data_free(d);
	index_ranges(d);
	return d;
}

/* Read and check a data file; see engagement.h. */
eng_data *
engagement_data_load(const char *path, GError **err)
{
	char *text = readfile_text(path, DATA_MAX, 0, NULL, NULL, err);
	char *dir;
	eng_data *d;

	if (text == NULL)
		return NULL;
	dir = g_path_get_dirname(path);
	d = engagement_data_from_text(text, path, dir, err);
	g_free(dir);
	g_free(text);
	return d;
}

/* How many sections, agent rules and networks were loaded. */
void
engagement_data_counts(const eng_data *data, guint *sections, guint *agents, guint *ranges)
{
	if (sections != NULL)
		*sections = data != NULL ? data->sections->len : 0;
	if (agents != NULL)
		*agents = data != NULL ? data->agents->len : 0;
	if (ranges != NULL)
		*ranges = data != NULL ? data->nranges : 0;
}

/* ------------------------------------------------------------ classifying */

/* The first agent rule for kind that ua (lower-case, trimmed) matches. */
static const agent_rule *
match_agent(const eng_data *d, eng_kind kind, const char *ua)
{
	guint want = kind == ENG_OPENED ? APPLIES_OPENS : APPLIES_CLICKS;

	for (guint i = 0; i < d->agents->len; i++) {
		const agent_rule *a = &g_array_index(d->agents, agent_rule, i);
		const eng_section *s = g_ptr_array_index(d->sections, a->section);

		if (!(s->applies & want))
			continue;
		if (a->exact ? strcmp(ua, a->lower) == 0 : strstr(ua, a->lower) != NULL)
			return a;
	}
	return NULL;
}

/* Classify one event; see engagement.h for the order of the checks. */
eng_class
engagement_classify(const eng_data *data, const eng_event *ev, const eng_params *params,
    char **reason)
{
	char *why = NULL, *ua = NULL;
	eng_class cls = ENG_HUMAN;
	range_key addr, hit;
	const agent_rule *a;
	guint sec;

	if (ev->user_agent != NULL)
		ua = g_strstrip(g_ascii_strdown(ev->user_agent, MIN(strlen(ev->user_agent), ENGAGEMENT_UA_MAX)));
	if (ev->method != NULL && g_ascii_strcasecmp(ev->method, "HEAD") == 0) {
		cls = ENG_SCANNER;
		why = g_strdup("HEAD request");
	} else if (ua == NULL || *ua == '\0') {
		cls = ENG_SCANNER;
		why = g_strdup("no User-Agent");
	} else if (data != NULL && (a = match_agent(data, ev->kind, ua)) != NULL) {
		const eng_section *s = g_ptr_array_index(data->sections, a->section);

		cls = s->cls;
		why = g_strdup_printf("%s: user agent %s \"%s\"", s->name,
		    a->exact ? "is" : "contains", a->text);
	} else if (data != NULL && ev->client_ip != NULL && parse_address(ev->client_ip, &addr) &&
	    (sec = range_set_find(&data->ranges[ev->kind == ENG_OPENED ? 0 : 1], &addr, &hit)) > 0) {
		const eng_section *s = g_ptr_array_index(data->sections, sec - 1);
		char *net = key_text(&hit);

		cls = s->cls;
		why = g_strdup_printf("%s: address in %s", s->name, net);
		g_free(net);
	} else if (ev->kind == ENG_CLICKED && params != NULL && params->click_window > 0 &&
	    ev->sent_at >= 0 && ev->at - ev->sent_at < params->click_window &&
	    ev->at - ev->sent_at > -(gint64)params->click_window) {
		/* (a click long before the recorded sending time says the
		 * milter's and the tracker's clocks disagree: no timing then) */
		cls = ENG_SCANNER;
		why = g_strdup_printf("clicked %" G_GINT64_FORMAT " s after sending (less than %d s)",
		    MAX(ev->at - ev->sent_at, 0), params->click_window);
	} else if (ev->kind == ENG_CLICKED && params != NULL && params->click_window > 0 &&
	    params->burst_links > 0 && ev->burst_links >= params->burst_links) {
		cls = ENG_SCANNER;
		why = g_strdup_printf("%u links of the message clicked within %d s",
		    ev->burst_links, params->click_window);
	} else {
		why = g_strdup("no sign of a machine");
	}
	g_free(ua);
	if (reason != NULL)
		*reason = why;
	else
		g_free(why);
	return cls;
}

/* "human", "privacy_proxy", "scanner". */
const char *
engagement_class_name(eng_class cls)
{
	return (guint)cls < G_N_ELEMENTS(class_names) ? class_names[cls] : "unknown";
}

/* "opened", "clicked". */
const char *
engagement_kind_name(eng_kind kind)
{
	return kind == ENG_OPENED ? "opened" : kind == ENG_CLICKED ? "clicked" : "unknown";
}

/* ------------------------------------------------------------ the job */

/* The idempotency key of an event job; see engagement.h. */
char *
engagement_idem_key(eng_kind kind, const char *track_hex, guint link, eng_class cls, gint64 at)
{
	char linkbuf[16];

	if (kind == ENG_CLICKED)
		g_snprintf(linkbuf, sizeof(linkbuf), "%u", link);
	else
		g_strlcpy(linkbuf, "-", sizeof(linkbuf));
	return g_strdup_printf("event/%s/%s/%s/%s/%" G_GINT64_FORMAT, engagement_kind_name(kind),
	    track_hex, linkbuf, engagement_class_name(cls), at / ENGAGEMENT_BUCKET);
}

/* The metadata of an event job; see engagement.h. */
char *
engagement_meta(eng_kind kind, const char *track_hex, guint link, const char *target,
    eng_class cls, const char *reason, const char *user_agent, gint64 at)
{
	JsonBuilder *b = json_builder_new();
	JsonNode *root;
	char *out;

	json_builder_begin_object(b);
	jsonb_str(b, "kind", engagement_kind_name(kind));
	jsonb_str(b, "message_track_id", track_hex);
	if (kind == ENG_CLICKED) {
		jsonb_int(b, "link", link);
		jsonb_str(b, "target", target);
	}
	jsonb_str(b, "class", engagement_class_name(cls));
	jsonb_str(b, "reason", reason);
	jsonb_str(b, "user_agent", user_agent != NULL && *user_agent != '\0' ? user_agent : NULL);
	jsonb_int(b, "at", at);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	out = json_to_string(root, FALSE);
	json_node_unref(root);
	g_object_unref(b);
	return out;
}

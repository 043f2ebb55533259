/*
 * config_values.c - the value types of the rule and capture options:
 * bounded text, addresses, address and domain globs, file extensions,
 * MIME type globs, regexes, header conditions, regarding records and
 * follow-ups. Each is checked and converted here, once, for the loader
 * (config_convert hands these types over) and for the code that reads the
 * same shapes from a message (X-CRM-Regarding, crm+<type>-<id>@).
 *
 * Public: config_convert_capture, config_value_free_func (config_table.h);
 *         config_regarding_new,
 *         config_regarding_parse, config_regarding_free,
 *         config_follow_up_parse, follow_up_kind_name (config.h).
 * Ownership: converted values are new memory for the caller (free them
 *         with config_value_free_func of their type); a crm_regarding is
 *         freed with config_regarding_free.
 */
#include <string.h>
#include <glib.h>

#include "config.h"
#include "config_table.h"

#define REGARDING_TYPE_MAX 64      /* bytes of a regarding record's type */
#define REGARDING_ID_MAX 128       /* bytes of its id */
#define EXTENSION_MAX 16           /* bytes of ".ext", the dot included */
#define FOLLOW_UP_MIN 60           /* s: 1m */
#define FOLLOW_UP_MAX (365 * 86400)   /* s: 365d */

/* Characters that never appear in an address or a glob of one. */
#define ADDR_SPECIALS "<>()[],;:\\\""

/* ------------------------------------------------------------ small checks */

/* Is c an ASCII control character, a space or DEL? */
static gboolean
is_blank_or_control(char c)
{
	return (guchar)c <= 0x20 || (guchar)c == 0x7f;
}

/* Is the local part of an address plain (no specials, blanks or '@')? */
static gboolean
local_part_ok(const char *s, gsize len)
{
	gsize i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return FALSE;
	for (i = 0; i < len; i++)
		if (is_blank_or_control(s[i]) || s[i] == '@' || strchr(ADDR_SPECIALS, s[i]) != NULL)
			return FALSE;
	return TRUE;
}

/* Is s local@domain with a plain local part and a plausible domain? */
static gboolean
address_ok(const char *s)
{
	const char *at = strchr(s, '@');

	return at != NULL && local_part_ok(s, (gsize)(at - s)) && config_domain_ok(at + 1);
}

/* Is s a glob of an address ("*@example.com", "alice@*") or a domain? */
static gboolean
addr_glob_ok(const char *s)
{
	const char *at = strchr(s, '@'), *p;

	for (p = s; *p != '\0'; p++)
		if (is_blank_or_control(*p) || strchr(ADDR_SPECIALS, *p) != NULL)
			return FALSE;
	if (at != NULL)
		return at != s && at[1] != '\0' && strchr(at + 1, '@') == NULL;
	return *s != '\0' && *s != '.' && !g_str_has_suffix(s, ".") && strstr(s, "..") == NULL;
}

/* Is s (lower-case) a file extension: '.' then [a-z0-9_-], inner dots allowed? */
static gboolean
extension_ok(const char *s)
{
	const char *p;

	if (s[0] != '.' || s[1] == '\0' || strlen(s) > EXTENSION_MAX ||
	    g_str_has_suffix(s, ".") || strstr(s, "..") != NULL)
		return FALSE;
	for (p = s + 1; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return FALSE;
	return TRUE;
}

/* Is [s, s+len) a MIME token (RFC 2045) in which '*' may stand for a glob? */
static gboolean
mime_token_ok(const char *s, gsize len)
{
	gsize i;

	if (len == 0)
		return FALSE;
	for (i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && strchr("!#$&-^_.+*", s[i]) == NULL)
			return FALSE;
	return TRUE;
}

/* Is s (lower-case) "type/subtype" with optional '*' globs? */
static gboolean
mime_glob_ok(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash != NULL && mime_token_ok(s, (gsize)(slash - s)) &&
	    mime_token_ok(slash + 1, strlen(slash + 1));
}

/* Is s a header field name (RFC 5322: printable ASCII but ':')? */
static gboolean
field_name_ok(const char *s, gsize len)
{
	gsize i;

	if (len == 0)
		return FALSE;
	for (i = 0; i < len; i++)
		if ((guchar)s[i] < 33 || (guchar)s[i] > 126 || s[i] == ':')
			return FALSE;
	return TRUE;
}

/* ------------------------------------------------------------ compound values */

/* Compile a caseless regex; NULL with why. */
static GRegex *
regex_compile(const char *pattern, GString *why)
{
	GError *err = NULL;
	GRegex *re = g_regex_new(pattern, G_REGEX_CASELESS, 0, &err);

	if (re == NULL) {
		if (why) g_string_append_printf(why, "'%s' is not a valid regex: %s", pattern,
		    err->message);
		g_error_free(err);
	}
	return re;
}

/* GDestroyNotify for a crm_header_cond. */
static void
header_cond_free(gpointer p)
{
	crm_header_cond *h = p;

	if (h == NULL)
		return;
	g_free(h->name);
	if (h->re != NULL)
		g_regex_unref(h->re);
	g_free(h);
}

/* Parse "Name: regex"; NULL with why. */
static crm_header_cond *
header_cond_parse(const char *text, GString *why)
{
	const char *colon = strchr(text, ':'), *pattern;
	crm_header_cond *h;
	GString *sub;
	GRegex *re;

	if (colon == NULL || !field_name_ok(text, (gsize)(colon - text))) {
		if (why) g_string_append_printf(why, "'%s' is not \"Name: regex\" "
		    "(a header field name, a colon, then a regex)", text);
		return NULL;
	}
	for (pattern = colon + 1; *pattern == ' ' || *pattern == '\t'; pattern++)
		;
	sub = why != NULL ? g_string_new(NULL) : NULL;
	re = regex_compile(pattern, sub);
	if (re == NULL) {
		if (why) g_string_append_printf(why, "'%s': %s", text, sub->str);
		if (sub) g_string_free(sub, TRUE);
		return NULL;
	}
	if (sub) g_string_free(sub, TRUE);
	h = g_new0(crm_header_cond, 1);
	h->name = g_strndup(text, (gsize)(colon - text));
	h->re = re;
	return h;
}

/* A regarding record from type and id; NULL with why. */
crm_regarding *
config_regarding_new(const char *type, const char *id, GString *why)
{
	crm_regarding *r;
	gsize i, tlen = strlen(type), ilen = strlen(id);
	gboolean ok = tlen > 0 && tlen <= REGARDING_TYPE_MAX && g_ascii_islower(type[0]);

	for (i = 1; ok && i < tlen; i++)
		ok = g_ascii_islower(type[i]) || g_ascii_isdigit(type[i]) || type[i] == '_';
	if (!ok) {
		if (why) g_string_append_printf(why, "the type '%s' is not a lower-case word "
		    "([a-z][a-z0-9_]*, up to %d bytes), e.g. account, contact, lead, "
		    "opportunity, case, incident, deal", type, REGARDING_TYPE_MAX);
		return NULL;
	}
	ok = ilen > 0 && ilen <= REGARDING_ID_MAX;
	for (i = 0; ok && i < ilen; i++)
		ok = g_ascii_isalnum(id[i]) || strchr("._{}-", id[i]) != NULL;
	if (!ok) {
		if (why) g_string_append_printf(why, "the id '%s' is not 1 to %d letters, "
		    "digits, '.', '_', '-', '{' or '}'", id, REGARDING_ID_MAX);
		return NULL;
	}
	r = g_new0(crm_regarding, 1);
	r->type = g_strdup(type);
	r->id = g_strdup(id);
	return r;
}

/* "<type>:<id>", split at the first ':'; NULL with why. */
crm_regarding *
config_regarding_parse(const char *text, GString *why)
{
	const char *colon = strchr(text, ':');
	crm_regarding *r;
	GString *sub;
	char *type;

	if (colon == NULL) {
		if (why) g_string_append_printf(why, "'%s' is not <type>:<id>, e.g. "
		    "\"account:1234\"", text);
		return NULL;
	}
	type = g_strndup(text, (gsize)(colon - text));
	sub = why != NULL ? g_string_new(NULL) : NULL;
	r = config_regarding_new(type, colon + 1, sub);
	if (r == NULL && why != NULL)
		g_string_append_printf(why, "'%s': %s", text, sub->str);
	if (sub) g_string_free(sub, TRUE);
	g_free(type);
	return r;
}

/* Free a regarding record; NULL-safe, returns NULL. */
crm_regarding *
config_regarding_free(crm_regarding *r)
{
	if (r != NULL) {
		g_free(r->type);
		g_free(r->id);
		g_free(r);
	}
	return NULL;
}

/* GDestroyNotify for a crm_regarding. */
static void
regarding_destroy(gpointer p)
{
	config_regarding_free(p);
}

static const char *const follow_kind_names[] = {
	[FOLLOW_NO_REPLY] = "no-reply",
	[FOLLOW_NOT_OPENED] = "not-opened",
};

/* "no-reply", "not-opened"; "unknown" for a value out of the enum. */
const char *
follow_up_kind_name(crm_follow_kind kind)
{
	if ((guint)kind < G_N_ELEMENTS(follow_kind_names))
		return follow_kind_names[kind];
	return "unknown";
}

/* Seconds of "3d", "12h", "90m", "45s", "2w"; FALSE unless that shape. */
static gboolean
delay_parse(const char *s, gint64 *out)
{
	static const struct { char unit; gint64 secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
	};
	gsize len = strlen(s), i;
	guint64 n;
	char *digits;
	gboolean ok = FALSE;

	if (len < 2)
		return FALSE;
	digits = g_strndup(s, len - 1);
	for (i = 0; i < G_N_ELEMENTS(units); i++)
		if (s[len - 1] == units[i].unit &&
		    g_ascii_string_to_unsigned(digits, 10, 0, G_MAXINT32, &n, NULL)) {
			*out = (gint64)n * units[i].secs;
			ok = TRUE;
		}
	g_free(digits);
	return ok;
}

/* Parse "no-reply 3d" into *out; FALSE (and why) when malformed. */
gboolean
config_follow_up_parse(const char *text, crm_follow_up *out, GString *why)
{
	char **parts = g_strsplit_set(text, " \t", -1);
	const char *words[3] = { NULL, NULL, NULL };
	gsize i, n = 0;
	gint64 secs = 0;
	guint k;
	gboolean ok = FALSE;

	for (i = 0; parts[i] != NULL; i++)
		if (parts[i][0] != '\0' && n < G_N_ELEMENTS(words))
			words[n++] = parts[i];
	if (n != 2) {
		if (why) g_string_append_printf(why, "'%s' is not \"KIND DELAY\" (no-reply or "
		    "not-opened, a space, then a number with s, m, h, d or w, e.g. \"no-reply 3d\")",
		    text);
		goto out;
	}
	for (k = 0; k < G_N_ELEMENTS(follow_kind_names); k++)
		if (strcmp(words[0], follow_kind_names[k]) == 0)
			break;
	if (k == G_N_ELEMENTS(follow_kind_names)) {
		if (why) g_string_append_printf(why, "'%s': '%s' is not one of no-reply, not-opened",
		    text, words[0]);
		goto out;
	}
	if (!delay_parse(words[1], &secs)) {
		if (why) g_string_append_printf(why, "'%s': '%s' is not a delay (a number with "
		    "s, m, h, d or w)", text, words[1]);
		goto out;
	}
	if (secs < FOLLOW_UP_MIN || secs > FOLLOW_UP_MAX) {
		if (why) g_string_append_printf(why, "'%s': '%s' is out of range (1m..365d)",
		    text, words[1]);
		goto out;
	}
	out->kind = (crm_follow_kind)k;
	out->seconds = secs;
	ok = TRUE;
out:
	g_strfreev(parts);
	return ok;
}

/* ------------------------------------------------------------ conversion */

/* CT_TEXT: min..max bytes of UTF-8 without control characters. */
static gboolean
text_convert(const conf_option *o, const char *text, conf_value *v, GString *why)
{
	gsize len = strlen(text), i;

	if (len == 0 && o->min == 0)
		return TRUE;                /* v->s stays NULL: off */
	if (len < (gsize)o->min) {
		if (why) g_string_append(why, "the value must not be empty");
		return FALSE;
	}
	if (len > (gsize)o->max) {
		if (why) g_string_append_printf(why, "'%s' is longer than %" G_GINT64_FORMAT
		    " bytes", text, o->max);
		return FALSE;
	}
	if (!g_utf8_validate(text, -1, NULL)) {
		if (why) g_string_append(why, "the value is not UTF-8");
		return FALSE;
	}
	for (i = 0; i < len; i++)
		if ((guchar)text[i] < 0x20 || (guchar)text[i] == 0x7f) {
			if (why) g_string_append(why, "the value contains a control character");
			return FALSE;
		}
	v->s = g_strdup(text);
	return TRUE;
}

/* CT_URL: http or https, a host, no user, query or fragment; kept
 * without trailing slashes (paths are appended to it). */
static gboolean
url_convert(const conf_option *o, const char *text, conf_value *v, GString *why)
{
	GError *err = NULL;
	GUri *u;
	const char *scheme, *problem = NULL;
	gsize len = strlen(text);

	if (len == 0)
		return TRUE;                /* v->s stays NULL: off */
	if (o->max != 0 && len > (gsize)o->max) {
		if (why) g_string_append_printf(why, "the URL is longer than %" G_GINT64_FORMAT
		    " bytes", o->max);
		return FALSE;
	}
	if ((u = g_uri_parse(text, G_URI_FLAGS_NONE, &err)) == NULL) {
		if (why) g_string_append_printf(why, "'%s' is not a URL: %s", text, err->message);
		g_error_free(err);
		return FALSE;
	}
	scheme = g_uri_get_scheme(u);
	if (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0)
		problem = "must be http or https";
	else if (g_uri_get_host(u) == NULL || *g_uri_get_host(u) == '\0')
		problem = "has no host";
	else if (g_uri_get_userinfo(u) != NULL)
		problem = "must not hold a user or password";
	else if (g_uri_get_query(u) != NULL)
		problem = "must not have a query ('?')";
	else if (g_uri_get_fragment(u) != NULL)
		problem = "must not have a fragment ('#')";
	else if (strpbrk(text, " \t\"<>\\") != NULL)
		problem = "must not contain blanks, quotes, '<', '>' or '\\'";
	g_uri_unref(u);
	if (problem != NULL) {
		if (why) g_string_append_printf(why, "'%s' %s", text, problem);
		return FALSE;
	}
	while (len > 0 && text[len - 1] == '/')
		len--;
	v->s = g_strndup(text, len);
	return TRUE;
}

/* The lower-case copy of text when check accepts it; else why gets msg. */
static gboolean
lower_checked(const char *text, gboolean (*check)(const char *), conf_value *v,
    GString *why, const char *msg)
{
	char *low = g_ascii_strdown(text, -1);

	if (check(low)) {
		v->s = low;
		return TRUE;
	}
	g_free(low);
	if (why) g_string_append_printf(why, "'%s' %s", text, msg);
	return FALSE;
}

/* Is s an address or a domain, without glob characters? */
static gboolean
addr_or_domain_ok(const char *s)
{
	if (strpbrk(s, "*?") != NULL)
		return FALSE;
	return strchr(s, '@') != NULL ? address_ok(s) : config_domain_ok(s);
}

/* Is s a glob without blanks or control characters? */
static gboolean
glob_ok(const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if (is_blank_or_control(*p))
			return FALSE;
	return *s != '\0';
}

/* Is s an extension or a MIME type glob? */
static gboolean
attachment_type_ok(const char *s)
{
	return s[0] == '.' ? extension_ok(s) : mime_glob_ok(s);
}

/* config_convert for the rule and capture types (CT_TEXT .. CT_OPTPATH). */
gboolean
config_convert_capture(const conf_option *o, const char *text, conf_value *v, GString *why)
{
	crm_follow_up f;

	switch (o->type) {
	case CT_TEXT:
		return text_convert(o, text, v, why);
	case CT_URL:
		return url_convert(o, text, v, why);
	case CT_OPTPATH:
		if (*text == '\0')
			return TRUE;            /* none */
		if (text[0] == '/') {
			v->s = g_strdup(text);
			return TRUE;
		}
		if (why) g_string_append_printf(why, "'%s' is not an absolute path", text);
		return FALSE;
	case CT_ADDRESS:
		if (*text == '\0')
			return TRUE;            /* none */
		if (strchr(text, '+') != NULL && address_ok(text)) {
			if (why) g_string_append_printf(why, "'%s' must not contain '+' "
			    "(crm+<type>-<id>@ is derived from the address)", text);
			return FALSE;
		}
		return lower_checked(text, address_ok, v, why, "is not an address (local@domain)");
	case CT_ADDRGLOBS:
		return lower_checked(text, addr_glob_ok, v, why, "is not an address or domain "
		    "glob (e.g. \"*@example.com\", \"alice@*\", \"example.com\")");
	case CT_GLOBS:
		return lower_checked(text, glob_ok, v, why,
		    "is not a glob (no spaces or control characters)");
	case CT_ADDRDOMAINS:
		return lower_checked(text, addr_or_domain_ok, v, why,
		    "is not an address or a domain (no globs: a domain covers its addresses)");
	case CT_EXTS:
		if (text[0] != '.') {
			if (why) g_string_append_printf(why, "'%s' is not a file extension: it must "
			    "start with '.' (\".%s\")", text, text);
			return FALSE;
		}
		return lower_checked(text, extension_ok, v, why, "is not a file extension "
		    "(a '.' then letters, digits, '-' or '_', e.g. \".exe\")");
	case CT_MIMETYPES:
		return lower_checked(text, attachment_type_ok, v, why, "is not a MIME type glob "
		    "or a file extension (e.g. \"application/pdf\", \"image/*\", \".docx\")");
	case CT_REGEX:
		if (*text == '\0')
			return TRUE;            /* no condition */
		v->p = regex_compile(text, why);
		return v->p != NULL;
	case CT_HEADERS:
		v->p = header_cond_parse(text, why);
		return v->p != NULL;
	case CT_REGARDING:
		if (*text == '\0')
			return TRUE;            /* none */
		v->p = config_regarding_parse(text, why);
		return v->p != NULL;
	case CT_FOLLOWUPS:
		if (!config_follow_up_parse(text, &f, why))
			return FALSE;
		v->p = g_memdup2(&f, sizeof(f));
		return TRUE;
	default:
		break;
	}
	g_return_val_if_reached(FALSE);
}

/* How to free a value or list item of type t; NULL for numbers. */
GDestroyNotify
config_value_free_func(conf_type t)
{
	switch (t) {
	case CT_INT: case CT_SIZE: case CT_MODE: case CT_BOOL: case CT_ENUM:
	case CT_FLAGS: case CT_TRI: case CT_OPTSIZE:
		return NULL;
	case CT_CIDRS:
		return g_object_unref;
	case CT_REGEX:
		return (GDestroyNotify)g_regex_unref;
	case CT_HEADERS:
		return header_cond_free;
	case CT_REGARDING:
		return regarding_destroy;
	default:
		return g_free;
	}
}

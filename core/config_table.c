/*
 * config_table.c - the option table of conf/options.def as C data, and the
 * conversion of one value of the file into what its struct field holds.
 * See config_table.h. Everything here is constant or pure.
 *
 * Public: config_sections, config_options, config_enums, config_limits,
 *         config_examples, config_section_index, config_option_find,
 *         config_type_is_list, config_convert, config_value_clear,
 *         config_domain_ok. The rule and capture types are converted in
 *         config_values.c.
 * Ownership: config_convert allocates into a conf_value; free it with
 *         config_value_clear (or hand its pointer on).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include <gio/gio.h>

#include "config.h"
#include "config_table.h"
#include "log.h"

/* ------------------------------------------------------------ the table */

#define CONF_SECTION(id, kind, st, implicit, doc) typedef st conf_struct_##id;
#include "conf/options.def"

const conf_section config_sections[] = {
#define CONF_SECTION(id, kind, st, implicit, doc) { #id, kind, implicit, doc },
#include "conf/options.def"
};
const gsize config_nsections = G_N_ELEMENTS(config_sections);

const conf_enum config_enums[] = {
#define CONF_ENUM(set, word, value) { CONF_SET_##set, word, value },
#include "conf/options.def"
};
const gsize config_nenums = G_N_ELEMENTS(config_enums);

const conf_option config_options[] = {
#define CONF_OPTION(sec, name, type, set, def, min, max, field, doc) \
	{ CONF_SEC_##sec, #name, type, CONF_SET_##set, def, min, max, \
	  offsetof(conf_struct_##sec, field), doc },
#include "conf/options.def"
};
const gsize config_noptions = G_N_ELEMENTS(config_options);

const conf_limit config_limits[] = {
#define CONF_NOT_ABOVE(sec, low, high) { CONF_SEC_##sec, #low, #high },
#include "conf/options.def"
};
const gsize config_nlimits = G_N_ELEMENTS(config_limits);

const conf_example config_examples[] = {
#define CONF_EXAMPLE(sec, title, body) { CONF_SEC_##sec, title, body, NULL },
#define CONF_ALTERNATIVE(sec, title, doc, body) { CONF_SEC_##sec, title, body, doc },
#include "conf/options.def"
};
const gsize config_nexamples = G_N_ELEMENTS(config_examples);

/* Each field must have the size its type stores (checked at compile time). */
#define CT_SIZEOF_CT_STRING sizeof(char *)
#define CT_SIZEOF_CT_PATH sizeof(char *)
#define CT_SIZEOF_CT_SOCKET sizeof(char *)
#define CT_SIZEOF_CT_STRLIST sizeof(GPtrArray *)
#define CT_SIZEOF_CT_DOMAINS sizeof(GPtrArray *)
#define CT_SIZEOF_CT_CIDRS sizeof(GPtrArray *)
#define CT_SIZEOF_CT_INT sizeof(int)
#define CT_SIZEOF_CT_SIZE sizeof(gint64)
#define CT_SIZEOF_CT_MODE sizeof(guint)
#define CT_SIZEOF_CT_BOOL sizeof(gboolean)
#define CT_SIZEOF_CT_ENUM sizeof(int)
#define CT_SIZEOF_CT_KEYWORD sizeof(char *)
#define CT_SIZEOF_CT_FLAGS sizeof(guint)
#define CT_SIZEOF_CT_SAVE sizeof(char *)
#define CT_SIZEOF_CT_TRI sizeof(int)
#define CT_SIZEOF_CT_OPTSIZE sizeof(gint64)
#define CT_SIZEOF_CT_TEXT sizeof(char *)
#define CT_SIZEOF_CT_ADDRESS sizeof(char *)
#define CT_SIZEOF_CT_ADDRGLOBS sizeof(GPtrArray *)
#define CT_SIZEOF_CT_GLOBS sizeof(GPtrArray *)
#define CT_SIZEOF_CT_ADDRDOMAINS sizeof(GPtrArray *)
#define CT_SIZEOF_CT_EXTS sizeof(GPtrArray *)
#define CT_SIZEOF_CT_MIMETYPES sizeof(GPtrArray *)
#define CT_SIZEOF_CT_REGEX sizeof(GRegex *)
#define CT_SIZEOF_CT_HEADERS sizeof(GPtrArray *)
#define CT_SIZEOF_CT_REGARDING sizeof(crm_regarding *)
#define CT_SIZEOF_CT_FOLLOWUPS sizeof(GPtrArray *)
#define CT_SIZEOF_CT_URL sizeof(char *)
#define CT_SIZEOF_CT_OPTPATH sizeof(char *)
#define CONF_OPTION(sec, name, type, set, def, min, max, field, doc) \
	_Static_assert(sizeof(((conf_struct_##sec *)0)->field) == CT_SIZEOF_##type, \
	    #sec "." #name ": the field does not fit the type");
#include "conf/options.def"

/* Index of the section called name, or -1. */
int
config_section_index(const char *name)
{
	gsize i;

	for (i = 0; name != NULL && i < config_nsections; i++)
		if (strcmp(config_sections[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The option name in section, or NULL. */
const conf_option *
config_option_find(int section, const char *name)
{
	gsize i;

	for (i = 0; name != NULL && i < config_noptions; i++)
		if (config_options[i].section == section &&
		    strcmp(config_options[i].name, name) == 0)
			return &config_options[i];
	return NULL;
}

/* ------------------------------------------------------------ values */

/* Is the type written as a list in the file? */
gboolean
config_type_is_list(conf_type t)
{
	return t == CT_STRLIST || t == CT_DOMAINS || t == CT_CIDRS || t == CT_FLAGS ||
	    t == CT_ADDRGLOBS || t == CT_GLOBS || t == CT_ADDRDOMAINS || t == CT_EXTS ||
	    t == CT_MIMETYPES || t == CT_HEADERS || t == CT_FOLLOWUPS;
}

/* Parse a plain unsigned number in base; FALSE unless all of s is digits. */
static gboolean
parse_unsigned(const char *s, guint base, guint64 *out)
{
	return g_ascii_string_to_unsigned(s, base, 0, G_MAXUINT64, out, NULL);
}

/* Parse 25M, 512K, 1G or plain bytes. */
static gboolean
parse_size(const char *s, gint64 *out)
{
	gsize len = strlen(s);
	guint64 mult = 1, n;
	char *digits;
	gboolean ok;

	if (len > 0) {
		switch (g_ascii_toupper(s[len - 1])) {
		case 'K': mult = 1024; len--; break;
		case 'M': mult = 1024 * 1024; len--; break;
		case 'G': mult = 1024 * 1024 * 1024; len--; break;
		}
	}
	digits = g_strndup(s, len);
	ok = parse_unsigned(digits, 10, &n) && n <= (guint64)G_MAXINT64 / mult;
	g_free(digits);
	if (ok)
		*out = (gint64)(n * mult);
	return ok;
}

/* The value of word in set, or -1 when it is not one. */
static int
enum_lookup(conf_set set, const char *word, int *value)
{
	gsize i;

	for (i = 0; i < config_nenums; i++)
		if (config_enums[i].set == set && strcmp(config_enums[i].word, word) == 0) {
			*value = config_enums[i].value;
			return (int)i;
		}
	return -1;
}

/* The path of a unix socket spec (unix:/PATH, local:/PATH or /PATH), or
 * NULL for an inet socket. */
const char *
config_socket_path(const char *spec)
{
	if (g_str_has_prefix(spec, "unix:"))
		return spec + 5;
	if (g_str_has_prefix(spec, "local:"))
		return spec + 6;
	if (spec[0] == '/')
		return spec;
	return NULL;
}

/* Does s name a libmilter socket: unix:/PATH, local:/PATH, inet[6]:PORT[@HOST]? */
static gboolean
socket_ok(const char *s)
{
	const char *rest, *at;
	char *port;
	guint64 n;
	gboolean ok;

	if ((rest = g_str_has_prefix(s, "unix:") ? s + 5 : NULL) != NULL ||
	    (rest = g_str_has_prefix(s, "local:") ? s + 6 : NULL) != NULL)
		return rest[0] == '/' && rest[1] != '\0';
	if ((rest = g_str_has_prefix(s, "inet:") ? s + 5 : NULL) == NULL &&
	    (rest = g_str_has_prefix(s, "inet6:") ? s + 6 : NULL) == NULL)
		return FALSE;
	at = strchr(rest, '@');
	if (at != NULL && at[1] == '\0')
		return FALSE;
	port = g_strndup(rest, at != NULL ? (gsize)(at - rest) : strlen(rest));
	ok = g_ascii_string_to_unsigned(port, 10, 1, 65535, &n, NULL);
	g_free(port);
	return ok;
}

/* Is s a plausible domain: labels of letters, digits, '-', '_' or UTF-8? */
gboolean
config_domain_ok(const char *s)
{
	const char *p;

	if (*s == '\0' || *s == '.' || g_str_has_suffix(s, ".") || strstr(s, "..") != NULL)
		return FALSE;
	for (p = s; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_' &&
		    (guchar)*p < 0x80)
			return FALSE;
	return TRUE;
}

/* Convert one value (or one list item) of o; on failure say why (if why). */
gboolean
config_convert(const conf_option *o, const char *text, conf_value *v, GString *why)
{
	guint64 u;
	int iv;
	GError *err = NULL;

	memset(v, 0, sizeof(*v));
	switch (o->type) {
	case CT_STRING:
	case CT_STRLIST:
		if (*text != '\0') {
			v->s = g_strdup(text);
			return TRUE;
		}
		if (why) g_string_append(why, "the value must not be empty");
		return FALSE;
	case CT_PATH:
		if (text[0] == '/') {
			v->s = g_strdup(text);
			return TRUE;
		}
		if (why) g_string_append_printf(why, "'%s' is not an absolute path", text);
		return FALSE;
	case CT_SOCKET:
		if (socket_ok(text)) {
			v->s = g_strdup(text);
			return TRUE;
		}
		if (why) g_string_append_printf(why, "'%s' is not a socket address "
		    "(unix:/PATH, local:/PATH, inet:PORT@HOST or inet6:PORT@HOST)", text);
		return FALSE;
	case CT_DOMAINS:
		if (config_domain_ok(text)) {
			v->s = g_ascii_strdown(text, -1);
			return TRUE;
		}
		if (why) g_string_append_printf(why, "'%s' is not a domain", text);
		return FALSE;
	case CT_CIDRS:
		v->mask = g_inet_address_mask_new_from_string(text, &err);
		if (v->mask != NULL)
			return TRUE;
		if (why) g_string_append_printf(why, "'%s' is not a network ADDRESS/PREFIX: %s",
		    text, err->message);
		g_error_free(err);
		return FALSE;
	case CT_INT:
	case CT_MODE:
		if (!parse_unsigned(text, o->type == CT_MODE ? 8 : 10, &u) || u > G_MAXINT64) {
			if (why) g_string_append_printf(why, o->type == CT_MODE ?
			    "'%s' is not an octal mode" : "'%s' is not a whole number", text);
			return FALSE;
		}
		v->n = (gint64)u;
		goto range;
	case CT_SIZE:
	case CT_OPTSIZE:
		if (o->type == CT_OPTSIZE && strcmp(text, "none") == 0) {
			v->n = -1;
			return TRUE;
		}
		if (!parse_size(text, &v->n)) {
			if (why) g_string_append_printf(why, "'%s' is not a size "
			    "(a number of bytes with an optional K, M or G suffix%s)", text,
			    o->type == CT_OPTSIZE ? ", or none" : "");
			return FALSE;
		}
		goto range;
	case CT_BOOL:
	case CT_TRI:
		if (g_strv_contains((const char *const[]){ "yes", "true", "on", NULL }, text))
			v->n = o->type == CT_TRI ? TRI_YES : TRUE;
		else if (g_strv_contains((const char *const[]){ "no", "false", "off", NULL }, text))
			v->n = o->type == CT_TRI ? TRI_NO : FALSE;
		else if (o->type == CT_TRI && strcmp(text, "any") == 0)
			v->n = TRI_UNSET;
		else {
			if (why) g_string_append_printf(why, "'%s' is not yes or no%s", text,
			    o->type == CT_TRI ? " (or any)" : "");
			return FALSE;
		}
		return TRUE;
	case CT_ENUM:
	case CT_KEYWORD:
	case CT_FLAGS:
		if (enum_lookup(o->set, text, &iv) < 0) {
			if (why) {
				g_string_append_printf(why, "'%s' is not one of ", text);
				config_enum_words(why, o->set, ", ");
			}
			return FALSE;
		}
		if (o->type == CT_KEYWORD)
			v->s = g_strdup(text);
		else
			v->n = iv;
		return TRUE;
	case CT_SAVE:
		if (strcmp(text, "no") == 0)
			return TRUE;            /* v->s stays NULL */
		if (*text != '\0') {
			v->s = g_strdup(text);
			return TRUE;
		}
		if (why) g_string_append(why, "the value must be the title of a crm section or no");
		return FALSE;
	default:
		return config_convert_capture(o, text, v, why);
	}

range:
	if (v->n >= o->min && v->n <= o->max)
		return TRUE;
	if (why) {
		g_string_append_printf(why, "'%s' is out of range (", text);
		config_range_text(why, o);
		g_string_append_c(why, ')');
	}
	return FALSE;
}

/* Free what convert allocated. */
void
config_value_clear(const conf_option *o, conf_value *v)
{
	GDestroyNotify destroy = config_value_free_func(o->type);

	if (destroy != NULL && v->p != NULL)
		destroy(v->p);
	if (destroy != NULL)
		v->p = NULL;
}

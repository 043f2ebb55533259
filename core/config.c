/*
 * config.c - the loader (libconfuse glue, filling the structs, the checks
 * across options) and the refcounted snapshot. See config.h for the
 * interface, conf/options.def for the options, config_table.c for the
 * table and the value types, config_read.c for reading the file.
 *
 * The loader builds libconfuse's cfg_opt_t arrays from the table (every
 * leaf option is a libconfuse string or string list whose parse callback
 * checks the value with the table's type and limits), parses, then fills
 * the structs generically through the table's offsets. Each problem is
 * recorded as "file:line: message" and parsing goes on where libconfuse
 * allows, so one run reports as many errors as it can.
 *
 * libconfuse 3.3's lexer keeps global state and its callbacks carry no
 * user pointer, so loads are serialised by one lock and the callbacks find
 * the load in progress through a pointer that is only set while the lock
 * is held (the one piece of mutable static state here). Its comment
 * handling is worked around in config_read.c.
 *
 * The start line of each titled section is caught by a hidden option
 * ("|line", unreachable from a file) whose default is parsed by
 * libconfuse when the section opens; its callback also reports
 * duplicate titles.
 *
 * Ownership: a crm_config and everything in it belongs to the snapshot
 * and is freed by the last config_unref.
 */
#include <stddef.h>
#include <string.h>

#include <confuse.h>
#include <glib.h>
#include <gio/gio.h>

#include "config.h"
#include "config_table.h"

#define CONF_LINE_OPT "|line"         /* cfg_getopt cannot reach a name with '|' */

/* Where the titled sections go in crm_config, and their name and line. */
typedef struct {
	int section;
	gsize list;          /* offset of the GPtrArray in crm_config */
	gsize size;          /* of the struct */
	gsize name, line;    /* offsets of char *name and int line */
} conf_titled;

static const conf_titled titled_glue[] = {
	{ CONF_SEC_crm, offsetof(crm_config, profiles), sizeof(crm_profile),
	  offsetof(crm_profile, name), offsetof(crm_profile, line) },
	{ CONF_SEC_rule, offsetof(crm_config, rules), sizeof(crm_rule),
	  offsetof(crm_rule, name), offsetof(crm_rule, line) },
};

/* ------------------------------------------------------------ the load in progress */

typedef struct {
	const char *path;
	GArray *errors;         /* conf_error, sorted by line at the end */
	GHashTable *lines;      /* "section\x1ftitle[\x1foption]" -> line */
	gboolean in_file;       /* FALSE while libconfuse applies defaults */
} load_ctx;

G_LOCK_DEFINE_STATIC(confuse);
static load_ctx *loading;       /* set only while the confuse lock is held */

/* One error found while loading. */
typedef struct {
	int line;               /* 0: the file as a whole */
	guint seq;              /* order found, to keep the sort stable */
	char *text;             /* "file:line: message" */
} conf_error;

static void add_error(load_ctx *ctx, int line, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Record one error; line 0 means the file as a whole. */
static void
add_error(load_ctx *ctx, int line, const char *fmt, ...)
{
	conf_error e = { line, ctx->errors->len, NULL };
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (line > 0)
		e.text = g_strdup_printf("%s:%d: %s", ctx->path, line, msg);
	else
		e.text = g_strdup_printf("%s: %s", ctx->path, msg);
	g_array_append_val(ctx->errors, e);
	g_free(msg);
}

/* Order errors by line, then by the order they were found. */
static gint
error_cmp(gconstpointer a, gconstpointer b)
{
	const conf_error *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hand the errors over as the caller's array of strings (or free them). */
static void
take_errors(load_ctx *ctx, GPtrArray **out)
{
	GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
	guint i;

	g_array_sort(ctx->errors, error_cmp);
	for (i = 0; i < ctx->errors->len; i++)
		g_ptr_array_add(texts, g_array_index(ctx->errors, conf_error, i).text);
	g_array_unref(ctx->errors);
	if (out != NULL)
		*out = texts;
	else
		g_ptr_array_unref(texts);
}

/* The key under which a section (option NULL) or an option's line is kept. */
static char *
line_key(const char *section, const char *title, const char *option)
{
	return g_strdup_printf("%s\x1f%s\x1f%s", section, title ? title : "",
	    option ? option : "");
}

/* The line recorded for key parts, or 0 when it was not in the file. */
static int
line_of(load_ctx *ctx, const char *section, const char *title, const char *option)
{
	char *key = line_key(section, title, option);
	int line = GPOINTER_TO_INT(g_hash_table_lookup(ctx->lines, key));

	g_free(key);
	return line;
}

/* Append how messages name a section: milter, rule "x". */
static void
section_label(GString *out, const char *name, const char *title)
{
	g_string_append(out, name);
	if (title != NULL)
		g_string_append_printf(out, " \"%s\"", title);
}

/* libconfuse's errors (syntax, unknown options), with file, line and section. */
static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	GString *where = g_string_new(NULL);
	char *msg = g_strdup_vprintf(fmt, ap);

	if (cfg != NULL && cfg->name != NULL && strcmp(cfg->name, "root") != 0) {
		section_label(where, cfg->name, cfg->title);
		g_string_append(where, ": ");
	}
	add_error(loading, cfg != NULL ? cfg->line : 0, "%s%s", where->str, msg);
	g_free(msg);
	g_string_free(where, TRUE);
}

/* Parse callback of every leaf option: check the value against the table. */
static int
conf_value_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	load_ctx *ctx = loading;
	const conf_option *o = config_option_find(config_section_index(cfg->name), opt->name);
	GString *why;
	conf_value v;

	*(const char **)result = value;
	if (o == NULL)
		return 0;
	if (ctx->in_file)
		g_hash_table_replace(ctx->lines, line_key(cfg->name, cfg->title, o->name),
		    GINT_TO_POINTER(cfg->line));
	why = g_string_new(NULL);
	if (config_convert(o, value, &v, why)) {
		config_value_clear(o, &v);
	} else {
		GString *label = g_string_new(NULL);

		section_label(label, cfg->name, cfg->title);
		add_error(ctx, ctx->in_file ? cfg->line : 0, "%s.%s: %s%s", label->str, o->name,
		    ctx->in_file ? "" : "built-in default: ", why->str);
		g_string_free(label, TRUE);
		/* keep parsing with a value the fill step can use */
		if (!config_type_is_list(o->type))
			*(const char **)result = o->def;
	}
	g_string_free(why, TRUE);
	return 0;
}

/* Parse callback of the hidden line option: a titled section opens here. */
static int
conf_line_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	load_ctx *ctx = loading;
	char *key;
	int first;

	*(long *)result = cfg->line;
	if (!ctx->in_file)
		return 0;
	if (cfg->title == NULL || cfg->title[0] == '\0') {
		add_error(ctx, cfg->line, "%s \"\": the title must not be empty", cfg->name);
		return 0;
	}
	key = line_key(cfg->name, cfg->title, NULL);
	first = GPOINTER_TO_INT(g_hash_table_lookup(ctx->lines, key));
	if (first > 0) {
		add_error(ctx, cfg->line, "duplicate %s \"%s\" (first at line %d)",
		    cfg->name, cfg->title, first);
		g_free(key);
	} else {
		g_hash_table_insert(ctx->lines, key, GINT_TO_POINTER(cfg->line));
	}
	return 0;
}

/* ------------------------------------------------------------ libconfuse options */

/* The cfg_opt_t of one table option (strings are the table's, cfg_init copies). */
static void
leaf_opt(cfg_opt_t *co, const conf_option *o)
{
	co->name = o->name;
	co->type = CFGT_STR;
	co->parsecb = conf_value_cb;
	if (config_type_is_list(o->type)) {
		co->flags = CFGF_LIST;
		if (strcmp(o->def, "{}") != 0)
			co->def.parsed = (char *)o->def;
	} else {
		co->def.string = o->def;
	}
}

/* Build the root option array from the table; free with free_opts. */
static cfg_opt_t *
build_opts(void)
{
	cfg_opt_t *root = g_new0(cfg_opt_t, config_nsections + 1);
	gsize s, i, n;

	for (s = 0; s < config_nsections; s++) {
		cfg_opt_t *sub = g_new0(cfg_opt_t, config_noptions + 2);

		for (i = 0, n = 0; i < config_noptions; i++)
			if (config_options[i].section == (int)s)
				leaf_opt(&sub[n++], &config_options[i]);
		root[s].name = config_sections[s].name;
		root[s].type = CFGT_SEC;
		root[s].subopts = sub;
		if (config_sections[s].kind == CONF_TITLED) {
			root[s].flags = CFGF_MULTI | CFGF_TITLE;
			sub[n].name = CONF_LINE_OPT;
			sub[n].type = CFGT_INT;
			sub[n].def.parsed = (char *)"0";
			sub[n].parsecb = conf_line_cb;
		}
	}
	return root;
}

/* Free what build_opts made. */
static void
free_opts(cfg_opt_t *root)
{
	gsize s;

	for (s = 0; root[s].name != NULL; s++)
		g_free(root[s].subopts);
	g_free(root);
}

/* ------------------------------------------------------------ filling the structs */

/* Set one field from libconfuse's value(s); bad values were reported already. */
static void
store(const conf_option *o, char *field, cfg_opt_t *opt)
{
	guint i, n = cfg_opt_size(opt);
	conf_value v;

	if (o->type == CT_FLAGS) {
		guint bits = 0;

		for (i = 0; i < n; i++)
			if (config_convert(o, cfg_opt_getnstr(opt, i), &v, NULL))
				bits |= (guint)v.n;
		*(guint *)field = bits;
		return;
	}
	if (config_type_is_list(o->type)) {
		GPtrArray *a = g_ptr_array_new_with_free_func(config_value_free_func(o->type));

		for (i = 0; i < n; i++)
			if (config_convert(o, cfg_opt_getnstr(opt, i), &v, NULL))
				g_ptr_array_add(a, v.p);
		*(GPtrArray **)field = a;
		return;
	}
	if (n == 0 || !config_convert(o, cfg_opt_getnstr(opt, 0), &v, NULL))
		config_convert(o, o->def, &v, NULL);
	switch (o->type) {
	case CT_INT:
	case CT_ENUM:
	case CT_TRI:
		*(int *)field = (int)v.n;
		break;
	case CT_SIZE:
	case CT_OPTSIZE:
		*(gint64 *)field = v.n;
		break;
	case CT_MODE:
		*(guint *)field = (guint)v.n;
		break;
	case CT_BOOL:
		*(gboolean *)field = (gboolean)v.n;
		break;
	default:
		*(gpointer *)field = v.p;    /* char *, GRegex *, crm_regarding * */
		break;
	}
}

/* Free the fields of one section's struct (not the struct). */
static void
clear_fields(int section, char *base)
{
	gsize i;

	for (i = 0; i < config_noptions; i++) {
		const conf_option *o = &config_options[i];
		char *field = base + o->offset;

		if (o->section != section)
			continue;
		if (config_type_is_list(o->type) && o->type != CT_FLAGS)
			g_clear_pointer((GPtrArray **)field, g_ptr_array_unref);
		else if (config_value_free_func(o->type) != NULL)
			g_clear_pointer((gpointer *)field, config_value_free_func(o->type));
	}
}

/* Fill base from the libconfuse section sec of table section s. */
static void
fill_section(int s, char *base, cfg_t *sec)
{
	gsize i;

	for (i = 0; i < config_noptions; i++)
		if (config_options[i].section == s)
			store(&config_options[i], base + config_options[i].offset,
			    cfg_getopt(sec, config_options[i].name));
}

/* Free one titled struct (crm_profile, crm_rule) given its glue entry. */
static void
titled_free(const conf_titled *g, char *item)
{
	if (item == NULL)
		return;
	clear_fields(g->section, item);
	g_free(*(char **)(item + g->name));
	g_free(item);
}

/* The glue entry of a titled section. */
static const conf_titled *
glue_of(int section)
{
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(titled_glue); i++)
		if (titled_glue[i].section == section)
			return &titled_glue[i];
	g_assert_not_reached();
}

/* GDestroyNotify for config->profiles. */
static void
profile_free(gpointer p)
{
	titled_free(glue_of(CONF_SEC_crm), p);
}

/* GDestroyNotify for config->rules. */
static void
rule_free(gpointer p)
{
	titled_free(glue_of(CONF_SEC_rule), p);
}

/* Read a numeric (int or size) field of a section's struct. */
static gint64
number_get(const char *base, const conf_option *o)
{
	const char *field = base + o->offset;

	return o->type == CT_SIZE || o->type == CT_OPTSIZE ? *(const gint64 *)field :
	    *(const int *)field;
}

/* Append a numeric value the way the file writes it. */
static void
number_text(GString *out, const conf_option *o, gint64 n)
{
	if (o->type == CT_SIZE || o->type == CT_OPTSIZE)
		config_size_text(out, n);
	else
		g_string_append_printf(out, "%" G_GINT64_FORMAT, n);
}

/*
 * One CONF_NOT_ABOVE on one struct (title NULL: a plain section): report
 * low > high, or lower low when it was not set. Unset optional sizes (-1)
 * are no limit.
 */
static void
check_limit(load_ctx *ctx, const conf_limit *l, char *base, const char *title)
{
	const char *sec = config_sections[l->section].name;
	const conf_option *lo = config_option_find(l->section, l->low);
	const conf_option *hi = config_option_find(l->section, l->high);
	gint64 low = number_get(base, lo), high = number_get(base, hi);
	int line = line_of(ctx, sec, title, lo->name);
	GString *msg;

	if (low <= high || (lo->type == CT_OPTSIZE && (low < 0 || high < 0)))
		return;
	if (line == 0) {
		if (lo->type == CT_SIZE || lo->type == CT_OPTSIZE)
			*(gint64 *)(base + lo->offset) = high;
		else
			*(int *)(base + lo->offset) = (int)high;
		return;
	}
	msg = g_string_new(NULL);
	section_label(msg, sec, title);
	g_string_append_printf(msg, ".%s: ", lo->name);
	number_text(msg, lo, low);
	g_string_append_printf(msg, " is larger than %s (", hi->name);
	number_text(msg, hi, high);
	g_string_append(msg, ")");
	add_error(ctx, line, "%s", msg->str);
	g_string_free(msg, TRUE);
}

/* CONF_NOT_ABOVE over the plain sections and every titled one. */
static void
check_limits(load_ctx *ctx, crm_config *conf)
{
	gsize i;
	guint k;

	for (i = 0; i < config_nlimits; i++) {
		const conf_limit *l = &config_limits[i];
		const conf_titled *g;
		GPtrArray *items;

		if (config_sections[l->section].kind == CONF_PLAIN) {
			check_limit(ctx, l, (char *)conf, NULL);
			continue;
		}
		g = glue_of(l->section);
		items = *(GPtrArray **)((char *)conf + g->list);
		for (k = 0; k < items->len; k++) {
			char *item = g_ptr_array_index(items, k);

			check_limit(ctx, l, item, *(char **)(item + g->name));
		}
	}
}

/* Every CT_SAVE value must be the title of a crm section. */
static void
check_saves(load_ctx *ctx, crm_config *conf)
{
	gsize g, i, k;

	for (g = 0; g < G_N_ELEMENTS(titled_glue); g++) {
		GPtrArray *items = *(GPtrArray **)((char *)conf + titled_glue[g].list);
		const char *sec = config_sections[titled_glue[g].section].name;

		for (k = 0; k < config_noptions; k++) {
			const conf_option *o = &config_options[k];

			if (o->section != titled_glue[g].section || o->type != CT_SAVE)
				continue;
			for (i = 0; i < items->len; i++) {
				char *item = g_ptr_array_index(items, i);
				const char *title = *(char **)(item + titled_glue[g].name);
				const char *want = *(char **)(item + o->offset);
				int line = line_of(ctx, sec, title, o->name);

				if (want == NULL || config_profile(conf, want) != NULL)
					continue;
				add_error(ctx, line > 0 ? line : *(int *)(item + titled_glue[g].line),
				    "%s \"%s\".%s: there is no crm \"%s\"", sec, title, o->name, want);
			}
		}
	}
}

/* The options each connector type cannot do without. */
static const struct {
	const char *type;
	const char *needs[6];
} profile_needs[] = {
	{ "webhook", { "url", "secret_file", NULL } },
	{ "dynamics365", { "url", "tenant", "client_id", "client_secret_file" } },
	{ "salesforce", { "url", "client_id", NULL } },
	{ "hubspot", { "token_file", NULL } },
	{ "zoho", { "client_id", "client_secret_file", "token_file", NULL } },
};

/* Is s "ROLLUP=FIELD" with a known rollup and an API-name field? */
static gboolean
rollup_field_ok(const char *s)
{
	static const char *const rollups[] = {
		"first_open", "last_open", "opens", "clicks", "replied", "bounced", NULL
	};
	const char *eq = strchr(s, '=');
	gboolean known = FALSE;

	if (eq == NULL || eq[1] == '\0' || strlen(eq + 1) > 128)
		return FALSE;
	for (const char *const *r = rollups; *r != NULL; r++)
		known = known || (strlen(*r) == (gsize)(eq - s) && strncmp(s, *r, eq - s) == 0);
	for (const char *f = eq + 1; known && *f != '\0'; f++)
		known = g_ascii_isalnum(*f) || *f == '_';
	return known;
}

/* Every crm section has what its type needs. */
static void
check_profiles(load_ctx *ctx, crm_config *conf)
{
	for (guint i = 0; i < conf->profiles->len; i++) {
		const crm_profile *p = g_ptr_array_index(conf->profiles, i);
		for (guint k = 0; p->rollup_fields != NULL && k < p->rollup_fields->len; k++) {
			const char *item = g_ptr_array_index(p->rollup_fields, k);
			if (!rollup_field_ok(item))
				add_error(ctx, line_of(ctx, "crm", p->name, "rollup_fields") > 0 ?
				    line_of(ctx, "crm", p->name, "rollup_fields") : p->line,
				    "crm \"%s\".rollup_fields: '%s' is not ROLLUP=FIELD (ROLLUP: first_open, "
				    "last_open, opens, clicks, replied, bounced; FIELD: letters, digits, _)",
				    p->name, item);
		}
		for (gsize t = 0; t < G_N_ELEMENTS(profile_needs); t++) {
			if (g_strcmp0(p->type, profile_needs[t].type) != 0)
				continue;
			for (const char *const *need = profile_needs[t].needs; *need != NULL; need++) {
				for (gsize k = 0; k < config_noptions; k++) {
					const conf_option *o = &config_options[k];
					if (o->section != CONF_SEC_crm || strcmp(o->name, *need) != 0)
						continue;
					if (*(char **)((char *)p + o->offset) == NULL)
						add_error(ctx, p->line, "crm \"%s\": type %s needs %s",
						    p->name, p->type, *need);
				}
			}
		}
	}
}

/* Build the snapshot from a parsed cfg_t and run the checks across options. */
static crm_config *
build_config(load_ctx *ctx, cfg_t *cfg)
{
	crm_config *conf = g_new0(crm_config, 1);
	gsize s, g;
	guint i;

	conf->refcnt = 1;
	conf->path = g_strdup(ctx->path);
	conf->profiles = g_ptr_array_new_with_free_func(profile_free);
	conf->rules = g_ptr_array_new_with_free_func(rule_free);
	for (s = 0; s < config_nsections; s++)
		if (config_sections[s].kind == CONF_PLAIN)
			fill_section((int)s, (char *)conf, cfg_getsec(cfg, config_sections[s].name));
	for (g = 0; g < G_N_ELEMENTS(titled_glue); g++) {
		const conf_titled *glue = &titled_glue[g];
		const conf_section *sd = &config_sections[glue->section];
		GPtrArray *items = *(GPtrArray **)((char *)conf + glue->list);

		/* the implicit section is made by libconfuse, so it gets the defaults */
		if (cfg_size(cfg, sd->name) == 0 && sd->implicit != NULL)
			cfg_addtsec(cfg, sd->name, sd->implicit);
		for (i = 0; i < cfg_size(cfg, sd->name); i++) {
			cfg_t *sec = cfg_getnsec(cfg, sd->name, i);
			char *item = g_malloc0(glue->size);

			*(char **)(item + glue->name) = g_strdup(cfg_title(sec));
			*(int *)(item + glue->line) = line_of(ctx, sd->name, cfg_title(sec), NULL);
			fill_section(glue->section, item, sec);
			g_ptr_array_add(items, item);
		}
	}
	check_limits(ctx, conf);
	check_saves(ctx, conf);
	check_profiles(ctx, conf);
	return conf;
}

/* ------------------------------------------------------------ public */

/* Load and check a config file; see config.h. */
crm_config *
config_load(const char *path, GPtrArray **errors)
{
	load_ctx ctx = { 0 };
	crm_config *conf = NULL;
	char *text, *why = NULL;
	int line = 0;

	g_return_val_if_fail(path != NULL, NULL);
	ctx.path = path;
	ctx.errors = g_array_new(FALSE, FALSE, sizeof(conf_error));
	ctx.lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	text = config_read_text(path, &line, &why);
	if (text != NULL && !config_prescan(text, &line, &why))
		add_error(&ctx, line, "%s", why);   /* and go on: there may be more */
	if (text == NULL)
		add_error(&ctx, line, "%s", why);
	if (text != NULL) {
		cfg_opt_t *opts;
		cfg_t *cfg;
		int rc;

		G_LOCK(confuse);
		loading = &ctx;
		opts = build_opts();
		cfg = cfg_init(opts, CFGF_NONE);
		free_opts(opts);
		if (cfg != NULL) {
			cfg_set_error_function(cfg, conf_errfunc);
			ctx.in_file = TRUE;
			rc = cfg_parse_buf(cfg, text);
			ctx.in_file = FALSE;
			if (rc == CFG_SUCCESS)
				conf = build_config(&ctx, cfg);
			else if (ctx.errors->len == 0)
				add_error(&ctx, 0, "cannot parse");
			cfg_free(cfg);
		} else {
			add_error(&ctx, 0, "out of memory");
		}
		loading = NULL;
		G_UNLOCK(confuse);
	}
	g_free(text);
	g_free(why);
	g_hash_table_unref(ctx.lines);

	if (ctx.errors->len > 0) {
		conf = config_unref(conf);
		take_errors(&ctx, errors);
	} else {
		take_errors(&ctx, NULL);
	}
	return conf;
}

/* Take one more reference. */
crm_config *
config_ref(crm_config *cfg)
{
	if (cfg != NULL)
		g_atomic_int_inc(&cfg->refcnt);
	return cfg;
}

/* Drop one reference; the last frees everything. */
crm_config *
config_unref(crm_config *cfg)
{
	gsize s;

	if (cfg == NULL || !g_atomic_int_dec_and_test(&cfg->refcnt))
		return NULL;
	for (s = 0; s < config_nsections; s++)
		if (config_sections[s].kind == CONF_PLAIN)
			clear_fields((int)s, (char *)cfg);
	g_clear_pointer(&cfg->profiles, g_ptr_array_unref);
	g_clear_pointer(&cfg->rules, g_ptr_array_unref);
	g_free(cfg->path);
	g_free(cfg);
	return NULL;
}

/* The profile called name, or NULL. */
const crm_profile *
config_profile(const crm_config *cfg, const char *name)
{
	guint i;

	if (cfg == NULL || cfg->profiles == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->profiles->len; i++) {
		const crm_profile *p = g_ptr_array_index(cfg->profiles, i);

		if (strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

static const char *const direction_names[] = {
	[DIR_INBOUND] = "inbound",
	[DIR_OUTBOUND] = "outbound",
	[DIR_INTERNAL] = "internal",
	[DIR_EXTERNAL] = "external",
	[DIR_ANY] = "any",
};

/* "inbound", "outbound", ...; "unknown" for a value out of the enum. */
const char *
direction_name(crm_direction dir)
{
	if ((guint)dir < G_N_ELEMENTS(direction_names))
		return direction_names[dir];
	return "unknown";
}

/* The direction called name; FALSE for an unknown name. */
gboolean
direction_parse(const char *name, crm_direction *dir)
{
	guint i;

	for (i = 0; name != NULL && i < G_N_ELEMENTS(direction_names); i++)
		if (strcmp(direction_names[i], name) == 0) {
			if (dir != NULL)
				*dir = (crm_direction)i;
			return TRUE;
		}
	return FALSE;
}

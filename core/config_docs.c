/*
 * config_docs.c - the sample config and the crm-milter.conf(5) man page,
 * both written from the option table (conf/options.def), and the small
 * text helpers the loader's messages share with them.
 *
 * conf/crm-milter.conf.sample and conf/crm-milter.conf.5 are committed
 * copies of this output; tests/unit/test_docs.sh checks they still agree.
 * The output depends on the table only (no dates, no build paths).
 *
 * Public: config_write_sample, config_write_man (config.h);
 *         config_type_text, config_size_text, config_enum_words,
 *         config_range_text (config_table.h).
 * Ownership: the writers append to the caller's GString.
 */
#include <string.h>
#include <glib.h>

#include "config.h"
#include "config_table.h"

#define SAMPLE_WIDTH 76

/* ------------------------------------------------------------ helpers */

/* Append a byte count the way a config writes it: 25M, 512K, 1000. */
void
config_size_text(GString *out, gint64 bytes)
{
	static const struct { gint64 mult; char suffix; } units[] = {
		{ G_GINT64_CONSTANT(1) << 30, 'G' },
		{ G_GINT64_CONSTANT(1) << 20, 'M' },
		{ G_GINT64_CONSTANT(1) << 10, 'K' },
	};
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(units); i++)
		if (bytes != 0 && bytes % units[i].mult == 0) {
			g_string_append_printf(out, "%" G_GINT64_FORMAT "%c",
			    bytes / units[i].mult, units[i].suffix);
			return;
		}
	g_string_append_printf(out, "%" G_GINT64_FORMAT, bytes);
}

/* Append the words of an enum set joined by sep. */
void
config_enum_words(GString *out, conf_set set, const char *sep)
{
	gboolean first = TRUE;
	gsize i;

	for (i = 0; i < config_nenums; i++) {
		if (config_enums[i].set != set)
			continue;
		if (!first)
			g_string_append(out, sep);
		g_string_append(out, config_enums[i].word);
		first = FALSE;
	}
}

/* Append the type as the docs name it. */
void
config_type_text(GString *out, const conf_option *o)
{
	switch (o->type) {
	case CT_STRING: g_string_append(out, "string"); break;
	case CT_PATH: g_string_append(out, "absolute path"); break;
	case CT_SOCKET: g_string_append(out, "socket address"); break;
	case CT_STRLIST: g_string_append(out, "list of strings"); break;
	case CT_DOMAINS: g_string_append(out, "list of domains"); break;
	case CT_CIDRS: g_string_append(out, "list of networks"); break;
	case CT_INT: g_string_append(out, "integer"); break;
	case CT_SIZE: g_string_append(out, "size"); break;
	case CT_MODE: g_string_append(out, "octal mode"); break;
	case CT_BOOL: g_string_append(out, "yes | no"); break;
	case CT_ENUM:
	case CT_KEYWORD:
		config_enum_words(out, o->set, " | ");
		break;
	case CT_FLAGS:
		g_string_append(out, "list of ");
		config_enum_words(out, o->set, ", ");
		break;
	case CT_SAVE: g_string_append(out, "crm title | no"); break;
	case CT_TRI: g_string_append(out, "yes | no | any"); break;
	case CT_OPTSIZE: g_string_append(out, "size | none"); break;
	case CT_TEXT: g_string_append(out, "string"); break;
	case CT_ADDRESS: g_string_append(out, "address"); break;
	case CT_ADDRGLOBS: g_string_append(out, "list of address or domain patterns"); break;
	case CT_GLOBS: g_string_append(out, "list of globs"); break;
	case CT_ADDRDOMAINS: g_string_append(out, "list of addresses and domains"); break;
	case CT_EXTS: g_string_append(out, "list of file extensions"); break;
	case CT_MIMETYPES: g_string_append(out, "list of MIME types and extensions"); break;
	case CT_REGEX: g_string_append(out, "regex"); break;
	case CT_HEADERS: g_string_append(out, "list of \"Name: regex\""); break;
	case CT_REGARDING: g_string_append(out, "\"type:id\""); break;
	case CT_FOLLOWUPS: g_string_append(out, "list of \"KIND DELAY\""); break;
	case CT_URL: g_string_append(out, "http(s) URL"); break;
	case CT_OPTPATH: g_string_append(out, "absolute path | \"\""); break;
	}
}

/* Does the option have a min..max range? */
static gboolean
has_range(const conf_option *o)
{
	return (o->type == CT_INT || o->type == CT_SIZE || o->type == CT_MODE ||
	    o->type == CT_OPTSIZE || o->type == CT_TEXT || o->type == CT_URL) &&
	    (o->min != 0 || o->max != 0);
}

/* Append "min..max" in the option's own notation ("up to N bytes" for text). */
void
config_range_text(GString *out, const conf_option *o)
{
	if ((o->type == CT_TEXT || o->type == CT_URL) && o->min == 0) {
		g_string_append_printf(out, "up to %" G_GINT64_FORMAT " bytes", o->max);
	} else if (o->type == CT_TEXT) {
		g_string_append_printf(out, "%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT " bytes",
		    o->min, o->max);
	} else if (o->type == CT_SIZE || o->type == CT_OPTSIZE) {
		config_size_text(out, o->min);
		g_string_append(out, "..");
		config_size_text(out, o->max);
	} else if (o->type == CT_MODE) {
		g_string_append_printf(out, "%s%" G_GINT64_MODIFIER "o..%s%" G_GINT64_MODIFIER "o",
		    o->min != 0 ? "0" : "", o->min, o->max != 0 ? "0" : "", o->max);
	} else {
		g_string_append_printf(out, "%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
		    o->min, o->max);
	}
}

/* Append the default as it is written in a file (strings quoted). */
static void
default_text(GString *out, const conf_option *o)
{
	if (o->type == CT_STRING || o->type == CT_PATH || o->type == CT_SOCKET ||
	    o->type == CT_TEXT || o->type == CT_ADDRESS || o->type == CT_REGEX || o->type == CT_URL ||
	    o->type == CT_OPTPATH ||
	    o->type == CT_REGARDING)
		g_string_append_printf(out, "\"%s\"", o->def);
	else
		g_string_append(out, o->def);
}

/* The option's doc plus what the cross-checks add ("At most ..."). */
static char *
full_doc(const conf_option *o)
{
	GString *doc = g_string_new(o->doc);
	gsize i;

	for (i = 0; i < config_nlimits; i++)
		if (config_limits[i].section == o->section &&
		    strcmp(config_limits[i].low, o->name) == 0)
			g_string_append_printf(doc, " At most %s.", config_limits[i].high);
	return g_string_free(doc, FALSE);
}

/* ------------------------------------------------------------ sample */

/* Append text as comment lines starting with prefix, wrapped at SAMPLE_WIDTH. */
static void
comment_wrap(GString *out, const char *prefix, const char *text)
{
	char **words = g_strsplit(text, " ", -1);
	gsize col = 0, i;

	for (i = 0; words[i] != NULL; i++) {
		gsize len = strlen(words[i]);

		if (len == 0)
			continue;
		if (col > 0 && col + 1 + len > SAMPLE_WIDTH) {
			g_string_append_c(out, '\n');
			col = 0;
		}
		if (col == 0) {
			g_string_append(out, prefix);
			col = strlen(prefix) + 7;   /* a tab counts as up to 8 columns */
		} else {
			g_string_append_c(out, ' ');
			col++;
		}
		g_string_append(out, words[i]);
		col += len;
	}
	if (col > 0)
		g_string_append_c(out, '\n');
	g_strfreev(words);
}

/*
 * Append one option with its doc, type, range and default; the setting is
 * commented out with "#" unless the whole section already is (titled).
 */
static void
sample_option(GString *out, const conf_option *o, const char *indent, gboolean titled)
{
	GString *line = g_string_new(NULL);
	char *prefix = g_strdup_printf("%s# ", indent);
	char *doc = full_doc(o);

	comment_wrap(out, prefix, doc);
	g_string_append(line, "(");
	config_type_text(line, o);
	if (has_range(o)) {
		g_string_append(line, ", ");
		config_range_text(line, o);
	}
	g_string_append(line, ", default ");
	default_text(line, o);
	g_string_append(line, ")");
	comment_wrap(out, prefix, line->str);
	g_string_append_printf(out, "%s%s%s = ", indent, titled ? "" : "#", o->name);
	default_text(out, o);
	g_string_append_c(out, '\n');
	g_string_free(line, TRUE);
	g_free(prefix);
	g_free(doc);
}

/* Append text for troff (defined with the man page below). */
static void man_text(GString *out, const char *text);

/* Append one example section, each line after prefix; for troff if man. */
static void
example_text(GString *out, const conf_example *e, const char *prefix, gboolean man)
{
	char **lines = g_strsplit(e->body, "\n", -1);
	char *head = g_strdup_printf("%s \"%s\" {", config_sections[e->section].name, e->title);
	gsize k;

	g_string_append(out, prefix);
	if (man)
		man_text(out, head);
	else
		g_string_append(out, head);
	g_string_append_c(out, '\n');
	for (k = 0; lines[k] != NULL; k++) {
		g_string_append_printf(out, "%s\t", prefix);
		if (man)
			man_text(out, lines[k]);
		else
			g_string_append(out, lines[k]);
		g_string_append_c(out, '\n');
	}
	g_string_append_printf(out, "%s}\n", prefix);
	g_strfreev(lines);
	g_free(head);
}

/* Write a commented sample config with every option at its default. */
void
config_write_sample(GString *out)
{
	gboolean first;
	gsize s, i;

	g_string_append(out,
	    "# crm-milter.conf - the configuration of crm-milter, crm-flusher and\n"
	    "# crm-milterctl. Generated from the option table by\n"
	    "# \"crm-milterctl docs --sample\"; the manual is crm-milter.conf(5).\n"
	    "#\n"
	    "# Every option is shown commented out, at its default. Syntax:\n"
	    "# name = value; strings in double quotes; lists as {\"a\", \"b\"};\n"
	    "# sizes as 25M, 512K, 1G or bytes; comments start with #.\n");
	for (s = 0; s < config_nsections; s++) {
		const conf_section *sec = &config_sections[s];
		gboolean titled = sec->kind == CONF_TITLED;

		g_string_append_c(out, '\n');
		comment_wrap(out, "# ", sec->doc);
		g_string_append_printf(out, titled ? "#%s \"NAME\" {\n" : "%s {\n", sec->name);
		for (i = 0, first = TRUE; i < config_noptions; i++) {
			if (config_options[i].section != (int)s)
				continue;
			if (!first)
				g_string_append(out, titled ? "#\n" : "\n");
			sample_option(out, &config_options[i], titled ? "#\t" : "\t", titled);
			first = FALSE;
		}
		g_string_append(out, titled ? "#}\n" : "}\n");
		for (i = 0; i < config_nexamples; i++)
			if (config_examples[i].section == (int)s && config_examples[i].doc == NULL)
				example_text(out, &config_examples[i], "", FALSE);
		for (i = 0, first = TRUE; i < config_nexamples; i++) {
			if (config_examples[i].section != (int)s || config_examples[i].doc == NULL)
				continue;
			if (first)
				g_string_append(out, "\n# Alternatives, commented out: uncomment one to "
				    "use it (in place of\n# the rules above that do the same).\n");
			g_string_append_c(out, '\n');
			comment_wrap(out, "# ", config_examples[i].doc);
			example_text(out, &config_examples[i], "#", FALSE);
			first = FALSE;
		}
	}
}

/* ------------------------------------------------------------ man page */

/* Append text for troff: escape backslashes and hyphens, guard line starts. */
static void
man_text(GString *out, const char *text)
{
	const char *p;

	for (p = text; *p != '\0'; p++) {
		gboolean bol = out->len == 0 || out->str[out->len - 1] == '\n';

		if (bol && (*p == '.' || *p == '\''))
			g_string_append(out, "\\&");
		if (*p == '\\')
			g_string_append(out, "\\e");
		else if (*p == '-')
			g_string_append(out, "\\-");
		else
			g_string_append_c(out, *p);
	}
}

/* Append one option as a .TP item: name, type, default, range, doc. */
static void
man_option(GString *out, const conf_option *o)
{
	GString *t = g_string_new(NULL);
	char *doc = full_doc(o);

	g_string_append(out, ".TP\n\\fB");
	man_text(out, o->name);
	g_string_append(out, "\\fR = \\fI");
	config_type_text(t, o);
	man_text(out, t->str);
	g_string_append(out, "\\fR\n");
	man_text(out, doc);
	g_string_append(out, "\nDefault: \\fB");
	g_string_truncate(t, 0);
	default_text(t, o);
	man_text(out, t->str);
	g_string_append(out, "\\fR");
	if (has_range(o)) {
		g_string_truncate(t, 0);
		config_range_text(t, o);
		g_string_append(out, ".\nRange: ");
		man_text(out, t->str);
	}
	g_string_append(out, ".\n");
	g_string_free(t, TRUE);
	g_free(doc);
}

/* Write the troff man page crm-milter.conf(5). */
void
config_write_man(GString *out)
{
	gboolean first;
	gsize s, i;

	g_string_append(out,
	    ".\\\" crm-milter.conf(5), generated from the option table by\n"
	    ".\\\" \"crm-milterctl docs --man\"; do not edit.\n"
	    ".TH CRM\\-MILTER.CONF 5 \"\" \"crm\\-milter\" \"File Formats Manual\"\n"
	    ".nh\n"
	    ".SH NAME\n"
	    "crm\\-milter.conf \\- configuration file of crm\\-milter\n"
	    ".SH SYNOPSIS\n"
	    ".I /etc/crm\\-milter/crm\\-milter.conf\n"
	    ".SH DESCRIPTION\n"
	    "crm\\-milter, crm\\-flusher and crm\\-milterctl read this file (or the one\n"
	    "named with \\fB\\-c\\fR \\fIFILE\\fR).\n"
	    "It holds sections; each section holds options written\n"
	    "\\fIname\\fR = \\fIvalue\\fR, separated by newlines or spaces.\n"
	    "Strings are written in double quotes (words without special\n"
	    "characters may go without); lists as {\"a\", \"b\"} or a single value;\n"
	    "\\fIname\\fR += {...} adds to a list's default instead of replacing it.\n"
	    "A size is a number of bytes, or a number with a K, M or G suffix\n"
	    "(powers of 1024).\n"
	    "A mode is octal.\n"
	    "Comments start with # or // and end with the line, or are written\n"
	    "between /* and */.\n"
	    "An option left out has its default; set twice, the last one counts.\n"
	    ".PP\n"
	    "Unknown sections and options, bad values, values out of range and\n"
	    "rules that save to an undefined crm section are errors, each reported\n"
	    "as \\fIfile\\fR:\\fIline\\fR: \\fImessage\\fR; a program refuses to start\n"
	    "with such a file, and crm\\-milter keeps its old configuration when\n"
	    "reloaded (SIGHUP) with one.\n"
	    "\\fBcrm\\-milterctl check\\-config\\fR checks a file.\n"
	    ".SH SECTIONS\n");
	for (s = 0; s < config_nsections; s++) {
		const conf_section *sec = &config_sections[s];

		g_string_append(out, ".SS \"");
		man_text(out, sec->name);
		g_string_append(out, sec->kind == CONF_TITLED ? " \\(dqNAME\\(dq { }\"\n" : " { }\"\n");
		man_text(out, sec->doc);
		g_string_append_c(out, '\n');
		for (i = 0; i < config_noptions; i++)
			if (config_options[i].section == (int)s)
				man_option(out, &config_options[i]);
	}
	g_string_append(out,
	    ".SH RULES\n"
	    "Each message gets a direction.\n"
	    "It is \\fBoutbound\\fR when the sender authenticated, the client is in\n"
	    "\\fBinternal_networks\\fR, it was submitted locally (not over SMTP) or the\n"
	    "MTA service that received it is in \\fBoutbound_daemons\\fR; then it is\n"
	    "\\fBinternal\\fR instead when every address is in \\fBinternal_domains\\fR.\n"
	    "Mail from elsewhere to an internal domain is \\fBinbound\\fR; anything else\n"
	    "is \\fBexternal\\fR (relayed), which only direction = any matches.\n"
	    ".PP\n"
	    "The rule sections are tried in the order of the file and the first one\n"
	    "whose conditions all hold decides.\n"
	    "The options marked Condition are the conditions; one left out holds for\n"
	    "every message.\n"
	    "The options marked Action say what happens to a message the rule decides.\n"
	    "With save = \\(dq\\fINAME\\fR\\(dq the message is queued in the spool for\n"
	    "the crm section of that title, and crm\\-flusher hands it to that\n"
	    "connector; save = no saves nothing.\n"
	    "A message that no rule matches passes without being saved, and so does\n"
	    "one from or to an address of \\fBcapture\\fR { \\fBnever_log\\fR }.\n"
	    "Either way the message goes on as it came, except that the dropbox\n"
	    "recipient, the subject tag and the X\\-CRM\\- control headers are removed.\n"
	    ".PP\n"
	    "A file without crm sections has an implicit crm \\(dqlocal\\(dq { type =\n"
	    "ledger }, which stores activities in the local database, where\n"
	    "\\fBcrm\\-milterctl activities\\fR shows them.\n"
	    ".SH EXAMPLE\n"
	    ".nf\n"
	    "milter {\n"
	    "\tinternal_domains = {\"example.com\"}\n"
	    "\tmax_message_size = 25M\n"
	    "}\n");
	for (i = 0; i < config_nexamples; i++)
		if (config_examples[i].doc == NULL)
			example_text(out, &config_examples[i], "", TRUE);
	g_string_append(out, ".fi\n");
	for (i = 0, first = TRUE; i < config_nexamples; i++) {
		if (config_examples[i].doc == NULL)
			continue;
		if (first)
			g_string_append(out, ".PP\nThe sample configuration also holds these "
			    "alternatives, commented out;\nuse one in place of the rules above "
			    "that do the same.\n");
		first = FALSE;
		g_string_append(out, ".PP\n");
		man_text(out, config_examples[i].doc);
		g_string_append(out, "\n.nf\n");
		example_text(out, &config_examples[i], "", TRUE);
		g_string_append(out, ".fi\n");
	}
	g_string_append(out,
	    ".SH FILES\n"
	    ".TP\n"
	    ".I /etc/crm\\-milter/crm\\-milter.conf\n"
	    "The default configuration file (chosen at build time with\n"
	    "\\fBconfigure \\-\\-with\\-config\\fR).\n"
	    "\\fBcrm\\-milterctl docs \\-\\-sample\\fR prints a sample with every option.\n"
	    ".SH SEE ALSO\n"
	    ".BR crm\\-milter (8)\n");
}

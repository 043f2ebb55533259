/*
 * html_links.c - find the links of one HTML buffer with myhtml's tokenizer
 * (token callbacks, tree building off) and judge each. See html_links.h;
 * what replaces a link is written by html_links_out.c.
 *
 * A html_links_ctx holds one myhtml instance and one tree, cleaned before
 * each pass (the main pass, then one per Outlook conditional comment).
 * Making them costs only ~6 us, but a fresh tree allocates and faults in
 * its pools on every document: reusing one roughly doubles throughput on
 * a 40 KB message (82 -> 140+ MB/s of tokenizing here).
 *
 * Token processing is off too (MyHTML_TREE_PARSE_FLAGS_WITHOUT_PROCESS_TOKEN):
 * myhtml still finds every token, tag id and raw position, but no longer
 * decodes the text and attributes of each (that was half its time). The
 * few we read (href, title and alt of links, text inside a link) are
 * decoded on demand with the calls its parser worker makes (decode_raw),
 * or read from the buffer when decoding cannot change them. That needs
 * myhtml's own headers (myhtml.h, parser.h, token.h, tree.h: the token's
 * type and raw range, the tree's encoding) instead of api.h alone.
 * Attribute names are compared on their raw bytes (attr_is).
 */
#include <string.h>
#include <gio/gio.h>
#include <myhtml/myhtml.h>
#include <myhtml/parser.h>
#include <myhtml/token.h>
#include <myhtml/tree.h>

#include "html_links.h"
#include "url_norm.h"
#include "html_links_filter.h"

#define LINK_TEXT_MAX 1024       /* bytes of link text kept for the unsubscribe test */


struct html_links_ctx {
	myhtml_t *mh;
	myhtml_tree_t *tree;
};



/* State of one call, shared by its passes. */
typedef struct scan_state {
	const char *html;
	gsize len;
	const html_prepared *pf;
	html_scan *out;
	GArray *comments;        /* gsize pairs: start, length of mso comment text */
	gssize open;             /* index of the link collecting text, or -1 */
	myhtml_tag_id_t open_id; /* its element (ids of custom tags hold for one pass) */
	gboolean notrack;        /* of the open link */
	GString *text;
	gboolean raw_open;       /* inside script, style, title, textarea, ... */
	gboolean tail_ok;        /* the main pass's last token ends in plain text */
	gsize last_end;          /* where the main pass's last token ends */
	gssize body_end;         /* '<' of the last </body>, or -1 */
	gboolean patched;        /* html is a defused copy (defuse_cdata) */
	char *error;
} scan_state;

/* One tokenizer pass over html[shift .. shift + len). */
typedef struct pass {
	scan_state *s;
	myhtml_tree_t *tree;
	const char *buf;
	gsize len;
	gsize shift;
	gboolean mso;
} pass;

/* ------------------------------------------------------------- tokens */

/* The tokenizer runs with token processing off (see run_pass): it still
 * finds tokens, tags and raw positions, but leaves text and attribute
 * values undecoded. The few we read are decoded here with the calls
 * myhtml's parser worker makes when processing is on (its
 * myhtml_parser_worker), so they come out the same. */

/* Decode raw bytes [begin, begin + length) of the pass's buffer into str
 * (new, in the tree's memory: mycore_string_destroy it). kind: 'a' an
 * attribute value, 'd' text in the data state, 'r' RCDATA or CDATA, 't'
 * other text (no character references). */
static void
decode_raw(myhtml_tree_t *tree, size_t begin, size_t length, char kind, mycore_string_t *str)
{
	myhtml_data_process_entry_t pe;

	mycore_string_init(myhtml_tree_get_mchar(tree), myhtml_tree_get_mchar_node_id(tree), str, length + 1);
	myhtml_data_process_entry_clean(&pe);
	pe.encoding = tree->encoding;
	pe.is_attributes = kind == 'a';
	pe.emit_null_char = kind == 'd';
	if (kind == 't')
		myhtml_parser_token_data_to_string(tree, str, &pe, begin, length);
	else
		myhtml_parser_token_data_to_string_charef(tree, str, &pe, begin, length);
}

/* A token's element range and closing flags, read as myhtml's accessors
 * do (they run for every token: no call for each). */
#define tok_element(t) ((myhtml_position_t){ (t)->element_begin, (t)->element_length })
#define tok_is_close(t) (((t)->type & MyHTML_TOKEN_TYPE_CLOSE) != 0)
#define tok_is_close_self(t) (((t)->type & MyHTML_TOKEN_TYPE_CLOSE_SELF) != 0)

/* Does decoding leave raw[0..n) as it is? Only character references
 * ('&') and the input stream's CR and NUL handling change bytes. */
static inline gboolean
plain_raw(const char *raw, gsize n)
{
	gsize i;

	for (i = 0; i < n; i++)
		if (raw[i] == '&' || raw[i] == '\r' || raw[i] == '\0')
			return FALSE;
	return TRUE;
}

/* An attribute value whose only references are "&amp;" (query strings
 * as every mail tool writes them) decodes to itself with each one read
 * as '&': a reference ending in ';' is taken whole, whatever follows.
 * The decoded value (new) and its length, or NULL when the value has
 * anything else (another reference, a CR or a NUL). */
static char *
amp_only_value(const char *raw, gsize n, gsize *len)
{
	const char *p = raw, *end = raw + n, *amp;
	char *v, *o;

	if (memchr(raw, '\r', n) != NULL || memchr(raw, '\0', n) != NULL)
		return NULL;
	v = o = g_malloc(n + 1);
	for (; (amp = memchr(p, '&', end - p)) != NULL; p = amp + 5) {
		if (end - amp < 5 || memcmp(amp + 1, "amp;", 4) != 0) {
			g_free(v);
			return NULL;
		}
		memcpy(o, p, amp + 1 - p);       /* up to the '&', then past "amp;" */
		o += amp + 1 - p;
	}
	memcpy(o, p, end - p);
	o += end - p;
	*o = '\0';
	*len = o - v;
	return v;
}

/* Is the attribute's name (lower-cased by the tokenizer) key[0..n)? Read
 * from its raw bytes: a name matching an ASCII key only changes case. */
static gboolean
attr_is(const pass *p, myhtml_tree_attr_t *a, const char *key, gsize n)
{
	myhtml_position_t kp = myhtml_attribute_key_raw_position(a);

	return kp.length == n && kp.begin + n <= p->len && g_ascii_strncasecmp(p->buf + kp.begin, key, n) == 0;
}

/* Keep some link text (bounded). Pieces join as rendered: nothing
 * between two pieces split only by inline markup ("<b>Un</b>subscribe"
 * reads "Unsubscribe"), a blank where a block or line break falls
 * (text_break). */
static void
text_add(scan_state *s, const char *t, gsize n)
{
	if (s->text->len >= LINK_TEXT_MAX)
		return;
	g_string_append_len(s->text, t, MIN(n, LINK_TEXT_MAX - s->text->len));
}

/* A word boundary in the link text, unless there is one already. */
static void
text_break(scan_state *s)
{
	if (s->text->len > 0 && s->text->len < LINK_TEXT_MAX && s->text->str[s->text->len - 1] != ' ')
		g_string_append_c(s->text, ' ');
}

/* Does a tag (open or close) separate words when rendered? Blocks, table
 * cells, line breaks, images (their alt is a word of its own). */
static gboolean
breaks_text(myhtml_tag_id_t id)
{
	switch (id) {
	case MyHTML_TAG_BR: case MyHTML_TAG_P: case MyHTML_TAG_DIV: case MyHTML_TAG_TD:
	case MyHTML_TAG_TH: case MyHTML_TAG_TR: case MyHTML_TAG_TBODY: case MyHTML_TAG_TABLE:
	case MyHTML_TAG_LI: case MyHTML_TAG_UL: case MyHTML_TAG_OL: case MyHTML_TAG_DL:
	case MyHTML_TAG_DT: case MyHTML_TAG_DD: case MyHTML_TAG_BLOCKQUOTE: case MyHTML_TAG_HR:
	case MyHTML_TAG_CENTER: case MyHTML_TAG_SECTION: case MyHTML_TAG_HEADER:
	case MyHTML_TAG_FOOTER: case MyHTML_TAG_ARTICLE: case MyHTML_TAG_IMG:
	case MyHTML_TAG_H1: case MyHTML_TAG_H2: case MyHTML_TAG_H3: case MyHTML_TAG_H4:
	case MyHTML_TAG_H5: case MyHTML_TAG_H6:
		return TRUE;
	default:
		return FALSE;
	}
}

/* Keep raw bytes [begin, begin + n) as link text, decoded as kind (see
 * decode_raw). */
static void
text_add_raw(pass *p, gsize begin, gsize n, char kind)
{
	mycore_string_t str;

	if (p->s->text->len >= LINK_TEXT_MAX)
		return;
	if (begin + n <= p->len && plain_raw(p->buf + begin, n)) {
		text_add(p->s, p->buf + begin, n);
		return;
	}
	decode_raw(p->tree, begin, n, kind, &str);
	text_add(p->s, str.data, str.length);
	mycore_string_destroy(&str, false);
}

/* Keep an attribute's value as link text (title, alt); an empty value
 * has no string, so none. */
static void
text_add_attr(pass *p, myhtml_tree_attr_t *a)
{
	myhtml_position_t vp = myhtml_attribute_value_raw_position(a);

	if (vp.length > 0) {
		text_break(p->s);
		text_add_raw(p, vp.begin, vp.length, 'a');
		text_break(p->s);
	}
}

/* The open link is complete: judge it. */
static void
finish_link(scan_state *s)
{
	html_link *l;

	if (s->open < 0)
		return;
	l = &g_array_index(s->out->links, html_link, s->open);
	l->verdict = html_filter_judge(s->pf, l, s->notrack, s->text);
	s->open = -1;
	g_string_truncate(s->text, 0);
}

/* Where attribute a's value is, into l (start, end, and with its quotes
 * vstart, vend, quote); FALSE for an empty value (it has no string) or
 * one outside the buffer. */
static gboolean
value_range(const pass *p, myhtml_tree_attr_t *a, html_link *l)
{
	myhtml_position_t vp = myhtml_attribute_value_raw_position(a);

	if (vp.length == 0 || vp.begin == 0 || vp.begin + vp.length > p->len)
		return FALSE;
	l->start = vp.begin + p->shift;
	l->end = l->start + vp.length;
	l->vstart = l->start;
	l->vend = l->end;
	l->quote = 0;
	if (p->buf[vp.begin - 1] == '"' || p->buf[vp.begin - 1] == '\'') {
		l->quote = p->buf[vp.begin - 1];
		l->vstart--;
		if (vp.begin + vp.length < p->len && p->buf[vp.begin + vp.length] == l->quote)
			l->vend++;
	}
	return TRUE;
}

/* Attribute a's value with character references decoded (new), and its
 * length in *n. */
static char *
value_decoded(const pass *p, myhtml_tree_attr_t *a, gsize *n)
{
	myhtml_position_t vp = myhtml_attribute_value_raw_position(a);
	mycore_string_t str;
	char *v;

	if ((v = amp_only_value(p->buf + vp.begin, vp.length, n)) != NULL)
		return v;
	decode_raw(p->tree, vp.begin, vp.length, 'a', &str);
	*n = str.length;
	v = g_strndup(str.data, str.length);
	mycore_string_destroy(&str, false);
	return v;
}

/* An <img>: its alt is link text inside a link; a src that is one of our
 * open pixels (in a quote of earlier tracked mail) is noted, so the
 * rewrite can neutralise it: opening this message must not count as
 * opening that one. */
static void
image(pass *p, myhtml_token_node_t *tok)
{
	scan_state *s = p->s;
	myhtml_tree_attr_t *a;
	myhtml_position_t ep = tok_element(tok);
	/* a tag cut off by the end is dropped: it loads nothing */
	gboolean whole = ep.length > 0 && ep.begin + ep.length <= p->len && p->buf[ep.begin + ep.length - 1] == '>';
	gboolean valid;

	for (a = myhtml_token_node_attribute_first(tok); a != NULL; a = myhtml_attribute_next(a)) {
		html_link l;
		gsize vl;

		if (s->open >= 0 && attr_is(p, a, "alt", 3))
			text_add_attr(p, a);
		if (!whole || s->pf->tracker_open == NULL || !attr_is(p, a, "src", 3))
			continue;
		memset(&l, 0, sizeof(l));
		if (!value_range(p, a, &l) || s->out->old_pixels->len >= HTML_LINKS_MAX)
			continue;
		l.url = value_decoded(p, a, &vl);
		if (vl <= HTML_URL_MAX && (l.target = url_norm_http(l.url, s->pf->charset, &valid)) != NULL &&
		    g_str_has_prefix(l.target, s->pf->tracker_open)) {
			l.tag = g_strdup("img");
			l.mso = p->mso;
			l.verdict = HTML_SKIP_TRACKER;
			g_array_append_val(s->out->old_pixels, l);
		} else {
			g_free(l.url);
			g_free(l.target);
		}
	}
}

/* A start tag that may be a link: record its href and open it. */
static void
start_link(pass *p, myhtml_token_node_t *tok, myhtml_tag_id_t id, const char *name, gsize nl, gboolean closes)
{
	scan_state *s = p->s;
	myhtml_tree_attr_t *a, *href = NULL;
	myhtml_position_t vp, ep = tok_element(tok);
	html_link l;
	gboolean notrack = FALSE, valid;
	gsize vl;

	if (ep.length == 0 || ep.begin + ep.length > p->len || p->buf[ep.begin + ep.length - 1] != '>')
		return;                          /* cut off by the end: no element */
	finish_link(s);
	for (a = myhtml_token_node_attribute_first(tok); a != NULL; a = myhtml_attribute_next(a)) {
		if (href == NULL && attr_is(p, a, "href", 4))
			href = a;
		else if (attr_is(p, a, "data-crm-notrack", 16))
			notrack = TRUE;
		else if (attr_is(p, a, "title", 5) || attr_is(p, a, "alt", 3))
			text_add_attr(p, a);
	}
	memset(&l, 0, sizeof(l));
	/* an empty value has no string: not a link */
	if (href == NULL || !value_range(p, href, &l)) {
		g_string_truncate(s->text, 0);
		return;
	}
	if (s->out->links->len >= HTML_LINKS_MAX) {
		if (s->error == NULL)
			s->error = g_strdup_printf("more than %d links", HTML_LINKS_MAX);
		return;
	}
	vp = myhtml_attribute_value_raw_position(href);
	l.tag = g_strndup(name, nl);
	l.url = value_decoded(p, href, &vl);
	l.vml = g_str_has_prefix(name, "v:");
	l.mso = p->mso;
	if (s->patched && memmem(p->buf + vp.begin, vp.length, "<!_CDATA[", 9) != NULL)
		l.verdict = HTML_SKIP_INVALID;      /* its value was defused above: not the original */
	else if (vl > HTML_URL_MAX)
		l.verdict = g_ascii_strncasecmp(l.url, "http", 4) == 0 ? HTML_SKIP_INVALID : HTML_SKIP_SCHEME;
	else if ((l.target = url_norm_http(l.url, s->pf->charset, &valid)) == NULL)
		l.verdict = valid ? HTML_SKIP_SCHEME : HTML_SKIP_INVALID;
	g_array_append_val(s->out->links, l);
	s->open = s->out->links->len - 1;
	s->notrack = notrack;
	s->open_id = id;
	if (closes)
		finish_link(s);
}

/* A comment: note it for a second pass when it is an mso conditional. */
static void
comment(pass *p, myhtml_token_node_t *tok)
{
	myhtml_position_t rp = myhtml_token_node_raw_position(tok);
	const char *t = p->buf + rp.begin, *e = t + rp.length, *c, *m;
	gsize pair[2];

	if (rp.begin + rp.length > p->len)
		return;
	while (t < e && g_ascii_isspace(*t))
		t++;
	if (e - t < 4 || g_ascii_strncasecmp(t, "[if", 3) != 0 ||
	    (c = memchr(t, ']', e - t)) == NULL || memchr(t, '!', c - t) != NULL)
		return;
	for (m = t + 3; m + 3 <= c && g_ascii_strncasecmp(m, "mso", 3) != 0; m++)
		;
	if (m + 3 > c)
		return;                          /* a condition without mso: not Outlook's */
	pair[0] = rp.begin + p->shift;
	pair[1] = rp.length;
	g_array_append_vals(p->s->comments, pair, 2);
}

/* Does this token leave the tokenizer in plain text (so markup appended
 * after it is markup)? Tracks the elements whose content is text. */
static gboolean
clean_end(const pass *p, myhtml_token_node_t *tok, myhtml_tag_id_t id, scan_state *s)
{
	myhtml_position_t ep = tok_element(tok);
	const char *b = p->buf + ep.begin;
	gsize n = ep.length;

	if (ep.begin + n > p->len)
		return FALSE;
	s->last_end = ep.begin + n;
	switch (id) {
	case MyHTML_TAG__TEXT:
		return !s->raw_open;
	case MyHTML_TAG__COMMENT:
		if (n >= 4 && memcmp(b, "<!--", 4) == 0)
			return (n >= 7 && memcmp(b + n - 3, "-->", 3) == 0) || (n == 5 && b[4] == '>') ||
			    (n == 6 && memcmp(b + 4, "->", 2) == 0);
		return n > 0 && b[n - 1] == '>';
	case MyHTML_TAG_SCRIPT: case MyHTML_TAG_STYLE: case MyHTML_TAG_TITLE: case MyHTML_TAG_TEXTAREA:
	case MyHTML_TAG_XMP: case MyHTML_TAG_IFRAME: case MyHTML_TAG_NOEMBED: case MyHTML_TAG_NOFRAMES:
	case MyHTML_TAG_PLAINTEXT:
		s->raw_open = !tok_is_close(tok) && !tok_is_close_self(tok);
		return n > 0 && b[n - 1] == '>' && !s->raw_open;
	default:
		return n > 0 && b[n - 1] == '>' && !s->raw_open;
	}
}

/* myhtml's callback after each token. */
static void *
on_token(myhtml_tree_t *tree, myhtml_token_node_t *tok, void *ctx)
{
	pass *p = ctx;
	scan_state *s = p->s;
	myhtml_tag_id_t id = tok->tag_id;
	const char *name = NULL;
	gsize nl = 0;

	if (s->error != NULL)
		return ctx;
	if (!p->mso && id != MyHTML_TAG__END_OF_FILE)
		s->tail_ok = clean_end(p, tok, id, s);
	switch (id) {
	case MyHTML_TAG__TEXT:
		if (s->open >= 0)
			text_add_raw(p, tok->raw_begin, tok->raw_length, tok->type & MyHTML_TOKEN_TYPE_DATA ? 'd' :
			    tok->type & (MyHTML_TOKEN_TYPE_RCDATA | MyHTML_TOKEN_TYPE_CDATA) ? 'r' : 't');
		return ctx;
	case MyHTML_TAG__COMMENT:
		if (!p->mso)
			comment(p, tok);
		return ctx;
	case MyHTML_TAG__UNDEF:
	case MyHTML_TAG__DOCTYPE:
	case MyHTML_TAG__END_OF_FILE:
		return ctx;
	default:
		break;
	}
	if (s->open >= 0 && breaks_text(id))
		text_break(s);
	if (tok_is_close(tok)) {
		if (id == MyHTML_TAG_BODY && !p->mso)
			s->body_end = tok_element(tok).begin + p->shift;
		if (s->open >= 0 && id == s->open_id)
			finish_link(s);
		return ctx;
	}
	/* names are looked up only for tags myhtml does not know (v:*) */
	if (p->mso && id >= MyHTML_TAG_LAST_ENTRY)
		name = myhtml_tag_name_by_id(tree, id, &nl);
	if (id == MyHTML_TAG_A)
		start_link(p, tok, id, "a", 1, FALSE);
	else if (id == MyHTML_TAG_AREA)
		start_link(p, tok, id, "area", 4, TRUE);
	else if (name != NULL && nl > 2 && name[0] == 'v' && name[1] == ':')
		start_link(p, tok, id, name, nl, FALSE);
	else if (id == MyHTML_TAG_IMG)
		image(p, tok);
	return ctx;
}

/* memmem, faster on HTML (see html_links.h). */
const char *
html_links_find(const char *h, gsize n, const char *nd, gsize nl, gsize r)
{
	const char *p = h + r, *end;

	if (n < nl)
		return NULL;
	end = h + n - (nl - r - 1);      /* past the last place nd[r] can be */
	for (; p < end && (p = memchr(p, nd[r], end - p)) != NULL; p++)
		if (memcmp(p - r, nd, nl) == 0)
			return p - r;
	return NULL;
}

/* myhtml (0.0~git20210803) with tree building off dereferences NULL at
 * "<![CDATA[" (it asks the tree for the current node's namespace). Give
 * it a copy where each one reads "<!_CDATA[": outside SVG and MathML both
 * are the same bogus comment up to the next '>', and offsets do not move.
 * Returns html itself when there is none. */
static const char *
defuse_cdata(const char *html, gsize len, char **copy)
{
	const char *hit = html_links_find(html, len, "<![CDATA[", 9, 2);
	char *c, *p;

	*copy = NULL;
	if (hit == NULL)
		return html;
	c = *copy = g_malloc(len + 1);
	memcpy(c, html, len);
	c[len] = '\0';
	for (p = c + (hit - html); p != NULL; p = (char *)html_links_find(p + 9, len - (p + 9 - c), "<![CDATA[", 9, 2))
		p[2] = '_';
	return c;
}

/* Tokenize one slice with the tree (cleaned first). */
static gboolean
run_pass(myhtml_tree_t *tree, pass *p)
{
	mystatus_t st;

	myhtml_tree_clean(tree);
	/* no tree, and no decoding of every token's text and attributes:
	 * only the few we read are decoded (decode_raw), which more than
	 * doubles the tokenizer's speed */
	myhtml_tree_parse_flags_set(tree, MyHTML_TREE_PARSE_FLAGS_WITHOUT_PROCESS_TOKEN);
	myhtml_callback_after_token_done_set(tree, on_token, p);
	st = myhtml_parse(tree, MyENCODING_UTF_8, p->buf, p->len);
	finish_link(p->s);
	if (st != MyHTML_STATUS_OK && p->s->error == NULL)
		p->s->error = g_strdup_printf("myhtml status %#x", (unsigned)st);
	return p->s->error == NULL;
}

/* Order links by where they start. */
static gint
by_start(gconstpointer a, gconstpointer b)
{
	const html_link *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Free one link's strings (GArray clear function). */
static void
link_clear(gpointer data)
{
	html_link *l = data;

	g_free(l->tag);
	g_free(l->url);
	g_free(l->target);
}

/* A tokenizer to reuse (one thread at a time). */
html_links_ctx *
html_links_ctx_new(GError **err)
{
	html_links_ctx *c = g_new0(html_links_ctx, 1);

	c->mh = myhtml_create();
	if (c->mh == NULL || myhtml_init(c->mh, MyHTML_OPTIONS_PARSE_MODE_SINGLE, 1, 0) != MyHTML_STATUS_OK ||
	    (c->tree = myhtml_tree_create()) == NULL || myhtml_tree_init(c->tree, c->mh) != MyHTML_STATUS_OK) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "HTML: cannot start the tokenizer");
		return html_links_ctx_free(c);
	}
	return c;
}

/* Free; NULL-safe. */
html_links_ctx *
html_links_ctx_free(html_links_ctx *c)
{
	if (c == NULL)
		return NULL;
	if (c->tree != NULL)
		myhtml_tree_destroy(c->tree);
	if (c->mh != NULL)
		myhtml_destroy(c->mh);
	g_free(c);
	return NULL;
}

/* Tokenize and judge (see html_links.h). */
gboolean
html_links_scan(html_links_ctx *ctx, const char *html, gsize len, const html_filter *filter,
    html_scan *out, GError **err)
{
	html_links_ctx *own = NULL;
	myhtml_tree_t *tree;
	char *copy;
	html_prepared pf;
	scan_state s;
	pass p;
	guint i;

	out->links = g_array_sized_new(FALSE, TRUE, sizeof(html_link), MIN(len / 512, 1024) + 16);
	g_array_set_clear_func(out->links, link_clear);
	out->old_pixels = g_array_new(FALSE, TRUE, sizeof(html_link));
	g_array_set_clear_func(out->old_pixels, link_clear);
	out->pixel_at = -1;
	html_filter_prepare(&pf, filter);
	html = defuse_cdata(html, len, &copy);
	memset(&s, 0, sizeof(s));
	s.html = html;
	s.len = len;
	s.patched = copy != NULL;
	s.pf = &pf;
	s.out = out;
	s.open = -1;
	s.tail_ok = TRUE;
	s.body_end = -1;
	s.text = g_string_sized_new(LINK_TEXT_MAX + 16);
	s.comments = g_array_new(FALSE, FALSE, sizeof(gsize));
	if (ctx == NULL && (ctx = own = html_links_ctx_new(NULL)) == NULL) {
		s.error = g_strdup("cannot start the tokenizer");
		goto done;
	}
	tree = ctx->tree;
	p = (pass){ &s, tree, html, len, 0, FALSE };
	if (len > 0 && !run_pass(tree, &p))
		goto done;
	for (i = 0; i + 1 < s.comments->len; i += 2) {
		gsize at = g_array_index(s.comments, gsize, i);
		p = (pass){ &s, tree, html + at, g_array_index(s.comments, gsize, i + 1), at, TRUE };
		if (!run_pass(tree, &p))
			goto done;
	}
	if (s.comments->len > 0) {
		g_array_sort(out->links, by_start);
		g_array_sort(out->old_pixels, by_start);
	}
	/* bytes after the last token were dropped by the tokenizer (a tag cut
	 * off by the end): appending there is not safe either. At the end, the
	 * pixel goes before the final line breaks (plain text: the same state),
	 * so a part that ended with one still does. */
	if (s.body_end >= 0) {
		out->pixel_at = s.body_end;
	} else if (s.tail_ok && s.last_end == len) {
		gsize at = len;
		while (at > 0 && (html[at - 1] == '\n' || html[at - 1] == '\r'))
			at--;
		out->pixel_at = (gssize)at;
	}
done:
	html_links_ctx_free(own);
	if (s.error != NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "HTML: %s", s.error);
		html_links_clear(out);
	}
	g_free(s.error);
	g_free(copy);
	g_string_free(s.text, TRUE);
	g_array_unref(s.comments);
	html_filter_clear(&pf);
	return out->links != NULL;
}

/* Free the scan's links; NULL-safe. */
void
html_links_clear(html_scan *s)
{
	if (s == NULL)
		return;
	if (s->links != NULL)
		g_array_unref(s->links);
	if (s->old_pixels != NULL)
		g_array_unref(s->old_pixels);
	s->links = NULL;
	s->old_pixels = NULL;
	s->pixel_at = -1;
}

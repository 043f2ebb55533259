/*
 * html_links.c - find the links of one HTML buffer with myhtml's tokenizer
 * (token callbacks, tree building off) and judge each. See html_links.h.
 *
 * A html_links_ctx holds one myhtml instance and one tree, cleaned before
 * each pass (the main pass, then one per Outlook conditional comment).
 * Making them costs only ~6 us, but a fresh tree allocates and faults in
 * its pools on every document: reusing one roughly doubles throughput on
 * a 40 KB message (82 -> 140+ MB/s of tokenizing here).
 */
#include <string.h>
#include <gio/gio.h>
#include <myhtml/api.h>

#include "html_links.h"
#include "url_norm.h"

#define LINK_TEXT_MAX 1024       /* bytes of link text kept for the unsubscribe test */

/* Casefolded words that make a link's text an unsubscribe link. */
static const char *const unsub_text[] = {
	"unsubscribe", "opt out", "opt-out", "optout", "abmelden", "abbestellen",
	"désabonner", "desabonner", "désinscri", "desinscri", "darse de baja",
	"darte de baja", "uitschrijven", "afmelden", "disiscriviti", NULL
};
/* The same for URLs (lower-cased ASCII). */
static const char *const unsub_url[] = {
	"unsub", "optout", "opt-out", "opt_out", "abmelden", "abbestellen",
	"desinscri", "desabonn", "uitschrijven", "afmelden", NULL
};

struct html_links_ctx {
	myhtml_t *mh;
	myhtml_tree_t *tree;
};

/* The filter with its URLs and domains in the form links are compared in. */
typedef struct prepared {
	GPtrArray *domains;
	GPtrArray *skip;
	char *tracker;
	const char *charset;
} prepared;

/* State of one call, shared by its passes. */
typedef struct scan_state {
	const char *html;
	gsize len;
	const prepared *pf;
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
	const char *buf;
	gsize len;
	gsize shift;
	gboolean mso;
} pass;

const char *
html_links_verdict_name(html_verdict v)
{
	static const char *const names[] = {
		"track", "scheme", "invalid", "notrack", "tracker", "list-unsubscribe",
		"excluded", "unsubscribe-url", "unsubscribe-text"
	};
	return (guint)v < G_N_ELEMENTS(names) ? names[v] : "?";
}

/* ------------------------------------------------------------- filter */

/* Normalise the filter's lists once per call. */
static void
prepare(prepared *pf, const html_filter *f)
{
	gboolean valid;
	gsize i;

	memset(pf, 0, sizeof(*pf));
	pf->domains = g_ptr_array_new_with_free_func(g_free);
	pf->skip = g_ptr_array_new_with_free_func(g_free);
	if (f == NULL)
		return;
	pf->charset = f->charset;
	for (i = 0; f->exclude_domains != NULL && f->exclude_domains[i] != NULL; i++) {
		const char *d = f->exclude_domains[i];
		char *h = url_norm_host(d + (*d == '.'), strlen(d) - (*d == '.'));
		if (h != NULL)
			g_ptr_array_add(pf->domains, h);
	}
	for (i = 0; f->skip_urls != NULL && f->skip_urls[i] != NULL; i++) {
		char *t = url_norm_http(f->skip_urls[i], NULL, &valid);
		if (t != NULL)
			g_ptr_array_add(pf->skip, t);
	}
	if (f->tracker_url != NULL)
		pf->tracker = url_norm_http(f->tracker_url, NULL, &valid);
}

static void
prepared_clear(prepared *pf)
{
	g_ptr_array_unref(pf->domains);
	g_ptr_array_unref(pf->skip);
	g_free(pf->tracker);
}

/* Is host one of the domains, or under one? */
static gboolean
host_excluded(const prepared *pf, const char *target)
{
	const char *h = strstr(target, "://") + 3, *e;
	gsize hl, i;

	if (strchr(h, '@') != NULL && strchr(h, '@') < h + strcspn(h, "/?#"))
		h = strchr(h, '@') + 1;
	e = h + strcspn(h, ":/?#");
	if (*h == '[')
		e = h + strcspn(h, "]") + 1;
	hl = e - h;
	while (hl > 0 && h[hl - 1] == '.')
		hl--;
	for (i = 0; i < pf->domains->len; i++) {
		const char *d = g_ptr_array_index(pf->domains, i);
		gsize dl = strlen(d);
		if (hl == dl && memcmp(h, d, dl) == 0)
			return TRUE;
		if (hl > dl && h[hl - dl - 1] == '.' && memcmp(h + hl - dl, d, dl) == 0)
			return TRUE;
	}
	return FALSE;
}

/* ASCII lower case, inline (the unsubscribe test runs over every link). */
static inline guchar
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (guchar)(c + ('a' - 'A')) : (guchar)c;
}

/* Does text[0..n) contain one of the (lower-case) words, in any case?
 * Non-ASCII text is casefolded first; ASCII is compared as it is. */
static gboolean
says_unsubscribe(const char *text, gsize n, const char *const *words)
{
	guint8 first[256] = { 0 };
	char *folded = NULL;
	gboolean hit = FALSE;
	gsize i, k;

	for (k = 0; k < n && (guchar)text[k] < 0x80; k++)
		;
	if (k < n && g_utf8_validate(text, n, NULL)) {
		text = folded = g_utf8_casefold(text, n);
		n = strlen(folded);
	}
	for (i = 0; words[i] != NULL; i++)
		first[(guchar)words[i][0]] = 1;
	for (k = 0; !hit && k < n; k++) {
		guchar c = lower(text[k]);
		if (!first[c])
			continue;
		for (i = 0; !hit && words[i] != NULL; i++) {
			const char *w = words[i];
			gsize j;
			if ((guchar)w[0] != c)
				continue;
			for (j = 1; w[j] != '\0' && k + j < n && lower(text[k + j]) == (guchar)w[j]; j++)
				;
			hit = w[j] == '\0';
		}
	}
	g_free(folded);
	return hit;
}

/* The verdict for a link, once its text is known. */
static html_verdict
judge(const prepared *pf, const html_link *l, gboolean notrack, const GString *text)
{
	gsize i;

	if (l->verdict != HTML_TRACK)
		return l->verdict;
	if (notrack)
		return HTML_SKIP_NOTRACK;
	if (pf->tracker != NULL && g_str_has_prefix(l->target, pf->tracker))
		return HTML_SKIP_TRACKER;
	for (i = 0; i < pf->skip->len; i++)
		if (strcmp(l->target, g_ptr_array_index(pf->skip, i)) == 0)
			return HTML_SKIP_LIST_UNSUBSCRIBE;
	if (host_excluded(pf, l->target))
		return HTML_SKIP_EXCLUDED;
	if (says_unsubscribe(l->target, strlen(l->target), unsub_url))
		return HTML_SKIP_UNSUBSCRIBE_URL;
	if (text->len > 0 && says_unsubscribe(text->str, text->len, unsub_text))
		return HTML_SKIP_UNSUBSCRIBE_TEXT;
	return HTML_TRACK;
}

/* ------------------------------------------------------------- tokens */

/* Keep some link text (bounded). */
static void
text_add(scan_state *s, const char *t, gsize n)
{
	if (s->text->len >= LINK_TEXT_MAX)
		return;
	g_string_append_len(s->text, t, MIN(n, LINK_TEXT_MAX - s->text->len));
	g_string_append_c(s->text, ' ');
}

/* The open link is complete: judge it. */
static void
finish_link(scan_state *s)
{
	html_link *l;

	if (s->open < 0)
		return;
	l = &g_array_index(s->out->links, html_link, s->open);
	l->verdict = judge(s->pf, l, s->notrack, s->text);
	s->open = -1;
	g_string_truncate(s->text, 0);
}

/* A start tag that may be a link: record its href and open it. */
static void
start_link(pass *p, myhtml_token_node_t *tok, myhtml_tag_id_t id, const char *name, gsize nl, gboolean closes)
{
	scan_state *s = p->s;
	myhtml_tree_attr_t *a, *href = NULL;
	myhtml_position_t vp, ep = myhtml_token_node_element_position(tok);
	html_link l;
	gboolean notrack = FALSE, valid;
	const char *v;
	gsize vl, kl;

	if (ep.length == 0 || ep.begin + ep.length > p->len || p->buf[ep.begin + ep.length - 1] != '>')
		return;                          /* cut off by the end: no element */
	finish_link(s);
	for (a = myhtml_token_node_attribute_first(tok); a != NULL; a = myhtml_attribute_next(a)) {
		const char *k = myhtml_attribute_key(a, &kl);
		if (k == NULL)
			continue;
		if (kl == 4 && memcmp(k, "href", 4) == 0 && href == NULL)
			href = a;
		else if (kl == 16 && memcmp(k, "data-crm-notrack", 16) == 0)
			notrack = TRUE;
		else if ((kl == 5 && memcmp(k, "title", 5) == 0) || (kl == 3 && memcmp(k, "alt", 3) == 0))
			if ((v = myhtml_attribute_value(a, &vl)) != NULL)
				text_add(s, v, vl);
	}
	vp = href != NULL ? myhtml_attribute_value_raw_position(href) : (myhtml_position_t){ 0, 0 };
	v = href != NULL ? myhtml_attribute_value(href, &vl) : NULL;
	if (v == NULL || vp.length == 0 || vp.begin == 0 || vp.begin + vp.length > p->len) {
		g_string_truncate(s->text, 0);
		return;
	}
	if (s->out->links->len >= HTML_LINKS_MAX) {
		if (s->error == NULL)
			s->error = g_strdup_printf("more than %d links", HTML_LINKS_MAX);
		return;
	}
	memset(&l, 0, sizeof(l));
	l.start = vp.begin + p->shift;
	l.end = l.start + vp.length;
	l.vstart = l.start;
	l.vend = l.end;
	if (p->buf[vp.begin - 1] == '"' || p->buf[vp.begin - 1] == '\'') {
		l.quote = p->buf[vp.begin - 1];
		l.vstart--;
		if (vp.begin + vp.length < p->len && p->buf[vp.begin + vp.length] == l.quote)
			l.vend++;
	}
	l.tag = g_strndup(name, nl);
	l.url = g_strndup(v, vl);
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
	myhtml_position_t ep = myhtml_token_node_element_position(tok);
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
		s->raw_open = !myhtml_token_node_is_close(tok) && !myhtml_token_node_is_close_self(tok);
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
	myhtml_tag_id_t id = myhtml_token_node_tag_id(tok);
	const char *name = NULL, *t;
	gsize nl = 0, tl;

	if (s->error != NULL)
		return ctx;
	if (!p->mso && id != MyHTML_TAG__END_OF_FILE)
		s->tail_ok = clean_end(p, tok, id, s);
	switch (id) {
	case MyHTML_TAG__TEXT:
		if (s->open >= 0 && (t = myhtml_token_node_text(tok, &tl)) != NULL)
			text_add(s, t, tl);
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
	if (myhtml_token_node_is_close(tok)) {
		if (id == MyHTML_TAG_BODY && !p->mso)
			s->body_end = myhtml_token_node_element_position(tok).begin + p->shift;
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
	else if (id == MyHTML_TAG_IMG && s->open >= 0) {
		myhtml_tree_attr_t *a = myhtml_token_node_attribute_first(tok);
		for (; a != NULL; a = myhtml_attribute_next(a)) {
			const char *k = myhtml_attribute_key(a, &nl);
			if (k != NULL && nl == 3 && memcmp(k, "alt", 3) == 0 &&
			    (t = myhtml_attribute_value(a, &tl)) != NULL)
				text_add(s, t, tl);
		}
	}
	return ctx;
}

/* myhtml (0.0~git20210803) with tree building off dereferences NULL at
 * "<![CDATA[" (it asks the tree for the current node's namespace). Give
 * it a copy where each one reads "<!_CDATA[": outside SVG and MathML both
 * are the same bogus comment up to the next '>', and offsets do not move.
 * Returns html itself when there is none. */
static const char *
defuse_cdata(const char *html, gsize len, char **copy)
{
	const char *hit = memmem(html, len, "<![CDATA[", 9);
	char *c, *p;

	*copy = NULL;
	if (hit == NULL)
		return html;
	c = *copy = g_malloc(len + 1);
	memcpy(c, html, len);
	c[len] = '\0';
	for (p = c + (hit - html); p != NULL; p = memmem(p + 9, len - (p + 9 - c), "<![CDATA[", 9))
		p[2] = '_';
	return c;
}

/* Tokenize one slice with the tree (cleaned first). */
static gboolean
run_pass(myhtml_tree_t *tree, pass *p)
{
	mystatus_t st;

	myhtml_tree_clean(tree);
	myhtml_tree_parse_flags_set(tree, MyHTML_TREE_PARSE_FLAGS_WITHOUT_BUILD_TREE);
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
	prepared pf;
	scan_state s;
	pass p;
	guint i;

	out->links = g_array_new(FALSE, TRUE, sizeof(html_link));
	g_array_set_clear_func(out->links, link_clear);
	out->pixel_at = -1;
	prepare(&pf, filter);
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
	p = (pass){ &s, html, len, 0, FALSE };
	if (len > 0 && !run_pass(tree, &p))
		goto done;
	for (i = 0; i + 1 < s.comments->len; i += 2) {
		gsize at = g_array_index(s.comments, gsize, i);
		p = (pass){ &s, html + at, g_array_index(s.comments, gsize, i + 1), at, TRUE };
		if (!run_pass(tree, &p))
			goto done;
	}
	if (s.comments->len > 0)
		g_array_sort(out->links, by_start);
	/* bytes after the last token were dropped by the tokenizer (a tag cut
	 * off by the end): appending there is not safe either */
	out->pixel_at = s.body_end >= 0 ? s.body_end : s.tail_ok && s.last_end == len ? (gssize)len : -1;
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
	prepared_clear(&pf);
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
	s->links = NULL;
	s->pixel_at = -1;
}

/* ------------------------------------------------------------- output */

/* url escaped for an attribute quoted with q ('\0': double quotes); runs
 * with nothing to escape are copied at once. */
static void
escape_append(GString *out, const char *url, char q)
{
	const char *p, *run = url;

	for (p = url; *p != '\0'; p++) {
		const char *esc = *p == '&' ? "&amp;" : *p == '"' && q != '\'' ? "&quot;" :
		    *p == '\'' && q == '\'' ? "&#39;" : NULL;
		if (esc == NULL)
			continue;
		g_string_append_len(out, run, p - run);
		g_string_append(out, esc);
		run = p + 1;
	}
	g_string_append_len(out, run, p - run);
}

/* The replacement for [start, end) of l. */
char *
html_links_attr_value(const html_link *l, const char *url)
{
	GString *out = g_string_sized_new(strlen(url) + 8);

	if (l->quote == '\0')
		g_string_append_c(out, '"');
	escape_append(out, url, l->quote);
	if (l->quote == '\0')
		g_string_append_c(out, '"');
	return g_string_free(out, FALSE);
}

/* The replacement for [vstart, vend): double-quoted. */
char *
html_links_attr_quoted(const char *url)
{
	GString *out = g_string_sized_new(strlen(url) + 8);

	g_string_append_c(out, '"');
	escape_append(out, url, '"');
	g_string_append_c(out, '"');
	return g_string_free(out, FALSE);
}

/* The open pixel: a 1x1 image that takes no room. */
char *
html_links_pixel(const char *url)
{
	GString *out = g_string_new("<img src=\"");

	escape_append(out, url, '"');
	g_string_append(out, "\" width=\"1\" height=\"1\" alt=\"\" border=\"0\" "
	    "style=\"display:block;width:1px;height:1px;border:0;margin:0;padding:0\">");
	return g_string_free(out, FALSE);
}

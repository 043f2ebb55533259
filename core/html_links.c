/*
 * html_links.c - find the links of one HTML buffer with myhtml's tokenizer
 * (token callbacks, tree building off) and judge each. See html_links.h.
 *
 * One myhtml instance per call (about 6 us to make, so no cache and no
 * global state); one tree, cleaned between the main pass and the second
 * passes over Outlook conditional comments.
 */
#include <string.h>
#include <gio/gio.h>
#include <myhtml/api.h>

#include "html_links.h"

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
	char *open_tag;
	gboolean notrack;        /* of the open link */
	GString *text;
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

/* ------------------------------------------------------------- URLs */

/* Append s[0..n) to out, percent-encoding the bytes in the set. */
static void
pct_append(GString *out, const char *s, gsize n, const char *set)
{
	gsize i;

	for (i = 0; i < n; i++) {
		guchar c = (guchar)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr(set, c) != NULL)
			g_string_append_printf(out, "%%%02X", c);
		else
			g_string_append_c(out, (char)c);
	}
}

/* The host as a browser has it: percent-decoded, IDNA to ASCII, lower case.
 * NULL when it is empty or has a character a host cannot have. */
static char *
normal_host(const char *h, gsize n)
{
	char *raw = g_strndup(h, n), *dec, *ascii = NULL;
	const char *p;

	if (n > 0 && h[0] == '[') {           /* IPv6 literal: kept, lower-cased */
		dec = g_ascii_strdown(raw, -1);
		g_free(raw);
		if (dec[n - 1] != ']' || strspn(dec + 1, "0123456789abcdef:.") != n - 2) {
			g_free(dec);
			return NULL;
		}
		return dec;
	}
	dec = g_uri_unescape_string(raw, NULL);
	g_free(raw);
	if (dec == NULL || *dec == '\0' || !g_utf8_validate(dec, -1, NULL))
		goto out;
	for (p = dec; *p != '\0'; p++)
		if (strchr(" #%/:<>?@[\\]^|", *p) != NULL || (guchar)*p < 0x20)
			goto out;
	ascii = g_hostname_to_ascii(dec);
	if (ascii != NULL) {
		char *low = g_ascii_strdown(ascii, -1);
		g_free(ascii);
		ascii = low;
		if (*ascii == '\0' || strchr(ascii, ' ') != NULL) {
			g_free(ascii);
			ascii = NULL;
		}
	}
out:
	g_free(dec);
	return ascii;
}

/* The query percent-encoded in the document's charset (UTF-8 when it
 * cannot be represented there). */
static void
query_append(GString *out, const char *q, gsize n, const char *charset)
{
	static const char set[] = "\"#<>'";
	char *conv = NULL;
	gsize clen = 0;

	if (charset != NULL && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
	    g_ascii_strcasecmp(charset, "us-ascii") != 0)
		conv = g_convert(q, n, charset, "UTF-8", NULL, &clen, NULL);
	if (conv != NULL)
		pct_append(out, conv, clen, set);
	else
		pct_append(out, q, n, set);
	g_free(conv);
}

/* What a browser opens for an href (see html_links.h). */
char *
html_links_target(const char *url, const char *charset, gboolean *valid)
{
	GString *in, *out;
	const char *p, *end, *auth, *aend, *at, *colon, *hp, *q, *f;
	char *scheme, *host = NULL;
	gsize i, n = strlen(url);
	gboolean ok = FALSE;

	*valid = TRUE;
	while (n > 0 && (guchar)url[n - 1] <= 0x20)
		n--;
	while (n > 0 && (guchar)*url <= 0x20)
		url++, n--;
	if (n > HTML_URL_MAX) {
		*valid = FALSE;
		return NULL;
	}
	in = g_string_sized_new(n);
	for (i = 0; i < n; i++)
		if (url[i] != '\t' && url[i] != '\n' && url[i] != '\r')
			g_string_append_c(in, url[i]);
	p = in->str;
	end = in->str + in->len;
	for (q = p; q < end && (g_ascii_isalnum(*q) || *q == '+' || *q == '-' || *q == '.'); q++)
		;
	if (q == end || *q != ':' || !g_ascii_isalpha(*p)) {
		g_string_free(in, TRUE);
		return NULL;
	}
	scheme = g_ascii_strdown(p, q - p);
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		g_free(scheme);
		g_string_free(in, TRUE);
		return NULL;
	}
	*valid = FALSE;
	out = g_string_sized_new(in->len + 16);
	for (auth = q + 1; auth < end && (*auth == '/' || *auth == '\\'); auth++)
		;
	aend = auth + strcspn(auth, "/\\?#");
	/* userinfo: up to the last '@' of the authority; then host, port */
	for (at = NULL, hp = auth; hp < aend; hp++)
		if (*hp == '@')
			at = hp;
	hp = at != NULL ? at + 1 : auth;
	if (*hp == '[') {
		const char *rb = memchr(hp, ']', aend - hp);
		if (rb == NULL || (rb + 1 < aend && rb[1] != ':'))
			goto out;
		colon = rb + 1 < aend ? rb + 1 : NULL;
	} else
		colon = memchr(hp, ':', aend - hp);
	if (colon != NULL && strspn(colon + 1, "0123456789") < (gsize)(aend - colon - 1))
		goto out;
	host = normal_host(hp, (colon != NULL ? colon : aend) - hp);
	if (host == NULL)
		goto out;
	g_string_append_printf(out, "%s://", scheme);
	if (at != NULL) {
		pct_append(out, auth, at - auth, "\"<>`{}^|");
		g_string_append_c(out, '@');
	}
	g_string_append(out, host);
	if (colon != NULL && colon + 1 < aend)
		g_string_append_len(out, colon, aend - colon);
	/* path, with '\' as '/' */
	q = aend + strcspn(aend, "?#");
	if (q == aend)
		g_string_append_c(out, '/');
	for (p = aend; p < q; p++) {
		if (*p == '\\')
			g_string_append_c(out, '/');
		else
			pct_append(out, p, 1, "\"<>`{}");
	}
	f = q + strcspn(q, "#");
	if (*q == '?') {
		g_string_append_c(out, '?');
		query_append(out, q + 1, f - q - 1, charset);
	}
	if (*f == '#') {
		g_string_append_c(out, '#');
		pct_append(out, f + 1, end - f - 1, "\"<>`");
	}
	ok = TRUE;
	*valid = TRUE;
out:
	g_free(host);
	g_free(scheme);
	g_string_free(in, TRUE);
	return g_string_free(out, !ok);
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
		char *h = normal_host(d + (*d == '.'), strlen(d) - (*d == '.'));
		if (h != NULL)
			g_ptr_array_add(pf->domains, h);
	}
	for (i = 0; f->skip_urls != NULL && f->skip_urls[i] != NULL; i++) {
		char *t = html_links_target(f->skip_urls[i], NULL, &valid);
		if (t != NULL)
			g_ptr_array_add(pf->skip, t);
	}
	if (f->tracker_url != NULL)
		pf->tracker = html_links_target(f->tracker_url, NULL, &valid);
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

/* Does text contain one of the words (text casefolded here)? */
static gboolean
says_unsubscribe(const char *text, gssize len, const char *const *words, gboolean fold)
{
	char *t = fold ? g_utf8_casefold(text, len) : g_ascii_strdown(text, len);
	gboolean hit = FALSE;
	gsize i;

	for (i = 0; !hit && words[i] != NULL; i++)
		hit = strstr(t, words[i]) != NULL;
	g_free(t);
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
	if (says_unsubscribe(l->target, -1, unsub_url, FALSE))
		return HTML_SKIP_UNSUBSCRIBE_URL;
	if (text->len > 0 && g_utf8_validate(text->str, text->len, NULL) &&
	    says_unsubscribe(text->str, text->len, unsub_text, TRUE))
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
	g_clear_pointer(&s->open_tag, g_free);
	g_string_truncate(s->text, 0);
}

/* A start tag that may be a link: record its href and open it. */
static void
start_link(pass *p, myhtml_token_node_t *tok, const char *name, gboolean closes)
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
	l.tag = g_strdup(name);
	l.url = g_strndup(v, vl);
	l.vml = g_str_has_prefix(name, "v:");
	l.mso = p->mso;
	if (vl > HTML_URL_MAX)
		l.verdict = g_ascii_strncasecmp(l.url, "http", 4) == 0 ? HTML_SKIP_INVALID : HTML_SKIP_SCHEME;
	else if ((l.target = html_links_target(l.url, s->pf->charset, &valid)) == NULL)
		l.verdict = valid ? HTML_SKIP_SCHEME : HTML_SKIP_INVALID;
	g_array_append_val(s->out->links, l);
	s->open = s->out->links->len - 1;
	s->notrack = notrack;
	s->open_tag = g_strdup(name);
	if (closes)
		finish_link(s);
}

/* A comment: note it for a second pass when it is an mso conditional. */
static void
comment(pass *p, myhtml_token_node_t *tok)
{
	myhtml_position_t rp = myhtml_token_node_raw_position(tok);
	const char *t = p->buf + rp.begin, *e = t + rp.length, *c;
	gsize pair[2];

	while (t < e && g_ascii_isspace(*t))
		t++;
	if (e - t < 4 || g_ascii_strncasecmp(t, "[if", 3) != 0 ||
	    (c = memchr(t, ']', e - t)) == NULL || memchr(t, '!', c - t) != NULL)
		return;
	if (g_strstr_len(t, c - t, "mso") == NULL && g_strstr_len(t, c - t, "MSO") == NULL)
		return;
	pair[0] = rp.begin + p->shift;
	pair[1] = rp.length;
	g_array_append_vals(p->s->comments, pair, 2);
}

/* myhtml's callback after each token. */
static void *
on_token(myhtml_tree_t *tree, myhtml_token_node_t *tok, void *ctx)
{
	pass *p = ctx;
	scan_state *s = p->s;
	myhtml_tag_id_t id = myhtml_token_node_tag_id(tok);
	const char *name, *t;
	gsize nl, tl;

	if (s->error != NULL)
		return ctx;
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
	name = myhtml_tag_name_by_id(tree, id, &nl);
	if (name == NULL)
		return ctx;
	if (myhtml_token_node_is_close(tok)) {
		if (id == MyHTML_TAG_BODY && !p->mso)
			s->out->pixel_at = myhtml_token_node_element_position(tok).begin + p->shift;
		if (s->open >= 0 && strcmp(name, s->open_tag) == 0)
			finish_link(s);
		return ctx;
	}
	if (id == MyHTML_TAG_A)
		start_link(p, tok, name, FALSE);
	else if (id == MyHTML_TAG_AREA)
		start_link(p, tok, name, TRUE);
	else if (p->mso && nl > 2 && name[0] == 'v' && name[1] == ':')
		start_link(p, tok, name, FALSE);
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

/* Tokenize and judge (see html_links.h). */
gboolean
html_links_scan(const char *html, gsize len, const html_filter *filter,
    html_scan *out, GError **err)
{
	myhtml_t *mh = NULL;
	myhtml_tree_t *tree = NULL;
	prepared pf;
	scan_state s;
	pass p;
	guint i;

	out->links = g_array_new(FALSE, TRUE, sizeof(html_link));
	g_array_set_clear_func(out->links, link_clear);
	out->pixel_at = -1;
	prepare(&pf, filter);
	memset(&s, 0, sizeof(s));
	s.html = html;
	s.len = len;
	s.pf = &pf;
	s.out = out;
	s.open = -1;
	s.text = g_string_sized_new(LINK_TEXT_MAX + 16);
	s.comments = g_array_new(FALSE, FALSE, sizeof(gsize));
	mh = myhtml_create();
	if (mh == NULL || myhtml_init(mh, MyHTML_OPTIONS_PARSE_MODE_SINGLE, 1, 0) != MyHTML_STATUS_OK ||
	    (tree = myhtml_tree_create()) == NULL || myhtml_tree_init(tree, mh) != MyHTML_STATUS_OK) {
		s.error = g_strdup("cannot start the HTML tokenizer");
		goto done;
	}
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
done:
	if (tree != NULL)
		myhtml_tree_destroy(tree);
	if (mh != NULL)
		myhtml_destroy(mh);
	if (s.error != NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "HTML: %s", s.error);
		html_links_clear(out);
	}
	g_free(s.error);
	g_free(s.open_tag);
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

/* url escaped for an attribute quoted with q ('\0': double quotes). */
static void
escape_append(GString *out, const char *url, char q)
{
	const char *p;

	for (p = url; *p != '\0'; p++) {
		if (*p == '&')
			g_string_append(out, "&amp;");
		else if (*p == '"' && q != '\'')
			g_string_append(out, "&quot;");
		else if (*p == '\'' && q == '\'')
			g_string_append(out, "&#39;");
		else
			g_string_append_c(out, *p);
	}
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

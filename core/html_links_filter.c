/*
 * html_links_filter.c - which links are tracked: the filter's lists
 * normalised once per scan, the unsubscribe words of link texts and URLs,
 * and the verdict for a link. See html_links_filter.h and html_links.h.
 */
#include <string.h>

#include "html_links_filter.h"
#include "url_norm.h"

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

G_STATIC_ASSERT(G_N_ELEMENTS(unsub_text) <= 33 && G_N_ELEMENTS(unsub_url) <= 33);




/* Index a word list (every word has two bytes or more). */
static void
index_words(word_index *ix, const char *const *words)
{
	guint i, k;

	for (i = 0; words[i] != NULL; i++)
		for (k = 0; k < 2; k++) {
			guchar c = (guchar)words[i][k];
			guint32 *t = k == 0 ? ix->first : ix->second;
			t[c] |= 1u << i;
			t[(guchar)g_ascii_toupper((gchar)c)] |= 1u << i;
		}
}

/* Normalise the filter's lists once per call. */
void
html_filter_prepare(html_prepared *pf, const html_filter *f)
{
	gboolean valid;
	char *tracker;
	gsize i;

	memset(pf, 0, sizeof(*pf));
	index_words(&pf->text_words, unsub_text);
	index_words(&pf->url_words, unsub_url);
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
	tracker = f->tracker_url != NULL ? url_norm_http(f->tracker_url, NULL, &valid) : NULL;
	if (tracker != NULL) {
		const char *slash = g_str_has_suffix(tracker, "/") ? "" : "/";
		pf->tracker_open = g_strconcat(tracker, slash, "o/", NULL);
		pf->tracker_click = g_strconcat(tracker, slash, "c/", NULL);
		g_free(tracker);
	}
}

void
html_filter_clear(html_prepared *pf)
{
	g_ptr_array_unref(pf->domains);
	g_ptr_array_unref(pf->skip);
	g_free(pf->tracker_open);
	g_free(pf->tracker_click);
}

/* Is host one of the domains, or under one? */
static gboolean
host_excluded(const html_prepared *pf, const char *target)
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
 * ix: the words indexed (see word_index). Non-ASCII text is casefolded
 * first; ASCII is compared as it is. */
static gboolean
says_unsubscribe(const char *text, gsize n, const char *const *words, const word_index *ix)
{
	char *folded = NULL;
	gboolean hit = FALSE;
	guchar high = 0;
	gsize k;

	for (k = 0; k < n; k++)
		high |= (guchar)text[k];
	if (high >= 0x80 && g_utf8_validate(text, n, NULL)) {
		text = folded = g_utf8_casefold(text, n);
		n = strlen(folded);
	}
	for (k = 0; !hit && k + 1 < n; k++) {
		guint32 m = ix->first[(guchar)text[k]] & ix->second[(guchar)text[k + 1]];
		while (!hit && m != 0) {
			const char *w = words[__builtin_ctz(m)];
			gsize j;
			m &= m - 1;
			for (j = 1; w[j] != '\0' && k + j < n && lower(text[k + j]) == (guchar)w[j]; j++)
				;
			hit = w[j] == '\0';
		}
	}
	g_free(folded);
	return hit;
}

/* The verdict for a link, once its text is known. */
html_verdict
html_filter_judge(const html_prepared *pf, const html_link *l, gboolean notrack, const GString *text)
{
	gsize i;

	if (l->verdict != HTML_TRACK)
		return l->verdict;
	if (notrack)
		return HTML_SKIP_NOTRACK;
	/* our own links only: with base_url https://example.com/t, a link to
	 * https://example.com/terms is the sender's */
	if (pf->tracker_click != NULL && (g_str_has_prefix(l->target, pf->tracker_click) ||
	    g_str_has_prefix(l->target, pf->tracker_open)))
		return HTML_SKIP_TRACKER;
	for (i = 0; i < pf->skip->len; i++)
		if (strcmp(l->target, g_ptr_array_index(pf->skip, i)) == 0)
			return HTML_SKIP_LIST_UNSUBSCRIBE;
	if (host_excluded(pf, l->target))
		return HTML_SKIP_EXCLUDED;
	if (says_unsubscribe(l->target, strlen(l->target), unsub_url, &pf->url_words))
		return HTML_SKIP_UNSUBSCRIBE_URL;
	if (text->len > 0 && says_unsubscribe(text->str, text->len, unsub_text, &pf->text_words))
		return HTML_SKIP_UNSUBSCRIBE_TEXT;
	return HTML_TRACK;
}

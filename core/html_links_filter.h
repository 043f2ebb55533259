/*
 * html_links_filter.h - the link rules of html_links.c, in their own file
 * (html_links_filter.c): the filter's lists normalised once per scan, the
 * unsubscribe words, and the verdict for a link once its text is known.
 * Internal to html_links.c; the rules are described in html_links.h.
 *
 * Ownership: a html_prepared is the caller's (on its stack), filled by
 * html_filter_prepare and emptied by html_filter_clear.
 *
 * Public (to html_links.c): html_filter_prepare, html_filter_clear,
 *         html_filter_judge.
 */
#ifndef CRM_HTML_LINKS_FILTER_H
#define CRM_HTML_LINKS_FILTER_H

#include <glib.h>
#include "html_links.h"

/* The words of one list by their first and by their second byte, in
 * either case (bit i: word i), so the unsubscribe test only compares
 * where a word can start. */
typedef struct word_index {
	guint32 first[256];
	guint32 second[256];
} word_index;

/* The filter with its URLs and domains in the form links are compared in,
 * and the two word lists indexed. */
typedef struct html_prepared {
	GPtrArray *domains;
	GPtrArray *skip;
	char *tracker_open;      /* base URL + "/o/": where our open pixels are; NULL: no tracker */
	char *tracker_click;     /* base URL + "/c/": where our click links are */
	const char *charset;
	word_index text_words;
	word_index url_words;
} html_prepared;

/* Normalise filter f (may be NULL) into pf. */
void html_filter_prepare(html_prepared *pf, const html_filter *f);
/* Free what html_filter_prepare put in pf. */
void html_filter_clear(html_prepared *pf);
/* The verdict for link l (its own verdict when that is not HTML_TRACK),
 * given data-crm-notrack and the link's text. */
html_verdict html_filter_judge(const html_prepared *pf, const html_link *l, gboolean notrack,
    const GString *text);

#endif

/*
 * rules.c - first-match rule evaluation. See rules.h. Pure: reads the
 * snapshot and the facts the caller gathered.
 */
#include <string.h>

#include "rules.h"
#include "classify.h"

/* Does addr match one address/domain pattern? */
gboolean
rules_addr_matches(const char *pattern, const char *addr)
{
	char *lower;
	gboolean hit;

	if (addr == NULL || *addr == '\0')
		return FALSE;
	lower = g_ascii_strdown(addr, -1);
	if (strpbrk(pattern, "@*?") != NULL) {
		hit = g_pattern_match_simple(pattern, lower);
	} else {
		const char *domain = classify_addr_domain(lower);
		size_t dl = domain ? strlen(domain) : 0, pl = strlen(pattern);
		hit = domain != NULL && (strcmp(domain, pattern) == 0 ||
		    (dl > pl && domain[dl - pl - 1] == '.' && strcmp(domain + dl - pl, pattern) == 0));
	}
	g_free(lower);
	return hit;
}

/* Does addr match any pattern of the list? */
static gboolean
any_pattern(const GPtrArray *patterns, const char *addr)
{
	for (guint i = 0; i < patterns->len; i++)
		if (rules_addr_matches(g_ptr_array_index(patterns, i), addr))
			return TRUE;
	return FALSE;
}

/* to = {...}: does any recipient match? */
static gboolean
any_rcpt(const GPtrArray *patterns, const rule_input *in)
{
	for (gsize i = 0; i < in->nrcpts; i++)
		if (any_pattern(patterns, in->rcpts[i]))
			return TRUE;
	return FALSE;
}

/* auth_user = {globs}. */
static gboolean
auth_matches(const GPtrArray *globs, const char *user)
{
	char *lower;
	gboolean hit = FALSE;

	if (user == NULL || *user == '\0')
		return FALSE;
	lower = g_ascii_strdown(user, -1);
	for (guint i = 0; i < globs->len && !hit; i++)
		hit = g_pattern_match_simple(g_ptr_array_index(globs, i), lower);
	g_free(lower);
	return hit;
}

/* header = {"Name: regex"}: every item must match some header of that name. */
static gboolean
headers_match(const GPtrArray *conds, const crm_message *msg)
{
	for (guint i = 0; i < conds->len; i++) {
		const crm_header_cond *hc = g_ptr_array_index(conds, i);
		GPtrArray *values;
		gboolean hit = FALSE;

		if (msg == NULL)
			return FALSE;
		values = message_headers(msg, hc->name);
		for (guint k = 0; k < values->len && !hit; k++)
			hit = g_regex_match(hc->re, g_ptr_array_index(values, k), 0, NULL);
		g_ptr_array_unref(values);
		if (!hit)
			return FALSE;
	}
	return TRUE;
}

/* sender_known / recipient_known: wanted bits vs the record types found. */
static gboolean
known_matches(guint wanted, guint found)
{
	if (wanted == 0)
		return TRUE;
	if ((wanted & KNOWN_ANY) && found != 0)
		return TRUE;
	if ((wanted & KNOWN_NONE) && found == 0)
		return TRUE;
	return (wanted & found & (KNOWN_CONTACT | KNOWN_LEAD | KNOWN_ACCOUNT | KNOWN_USER)) != 0;
}

/* A yes/no condition against a fact. */
static gboolean
tri_holds(crm_tri want, gboolean fact)
{
	return want == TRI_UNSET || (want == TRI_YES) == (fact != FALSE);
}

/* Does one rule's every condition hold? */
static gboolean
rule_holds(const crm_rule *r, const rule_input *in)
{
	const char *subject;

	if (r->direction != DIR_ANY && r->direction != in->direction)
		return FALSE;
	if (r->from->len > 0 && !any_pattern(r->from, in->mail_from))
		return FALSE;
	if (r->to->len > 0 && !any_rcpt(r->to, in))
		return FALSE;
	if (r->auth_user->len > 0 && !auth_matches(r->auth_user, in->auth_user))
		return FALSE;
	if (!headers_match(r->header, in->msg))
		return FALSE;
	if (r->subject != NULL) {
		subject = in->msg ? g_mime_message_get_subject(message_mime(in->msg)) : NULL;
		if (subject == NULL || !g_regex_match(r->subject, subject, 0, NULL))
			return FALSE;
	}
	if (!known_matches(r->sender_known, in->sender_known) ||
	    !known_matches(r->recipient_known, in->recipient_known))
		return FALSE;
	/* without the message neither has_attachments = yes nor = no holds */
	if (!tri_holds(r->reply_to_tracked, in->reply_to_tracked) ||
	    !tri_holds(r->dropbox, in->dropbox) ||
	    (r->has_attachments != TRI_UNSET && in->msg == NULL) ||
	    !tri_holds(r->has_attachments, in->msg != NULL && message_has_attachments(in->msg)))
		return FALSE;
	if (r->min_size >= 0 && (gint64)in->size < r->min_size)
		return FALSE;
	if (r->max_size >= 0 && (gint64)in->size > r->max_size)
		return FALSE;
	return TRUE;
}

/* The first rule that holds, in file order. */
const crm_rule *
rules_match(const crm_config *cfg, const rule_input *in)
{
	guint i;

	if (cfg->rules == NULL)
		return NULL;
	for (i = 0; i < cfg->rules->len; i++) {
		const crm_rule *r = g_ptr_array_index(cfg->rules, i);
		if (rule_holds(r, in))
			return r;
	}
	return NULL;
}

/*
 * rules.h - first-match evaluation of the config's rule sections.
 *
 * Rules are tried in file order; the first whose conditions all hold
 * decides. A message that matches none is not saved. The caller gathers
 * the facts (rule_input) once per message: envelope, the parsed message,
 * the directory matches of the sender and recipients, whether it replies
 * to tracked mail, whether a recipient is the dropbox address.
 *
 * Address patterns (from, to): a pattern with '@', '*' or '?' is a glob
 * over the whole lower-cased address (GPatternSpec); a bare domain matches
 * that domain and its subdomains.
 *
 * Ownership: the returned rule is borrowed from the config snapshot and
 * lives as long as the caller's reference to it.
 *
 * Public: rules_match, rules_addr_matches.
 */
#ifndef CRM_RULES_H
#define CRM_RULES_H

#include "config.h"
#include "message.h"

typedef struct rule_input {
	crm_direction direction;
	const char *mail_from;          /* envelope sender, bare */
	const char *const *rcpts;       /* envelope recipients, bare */
	gsize nrcpts;
	const char *auth_user;          /* NULL when not authenticated */
	const crm_message *msg;         /* NULL: header, subject and attachment
	                                   conditions do not hold */
	gsize size;                     /* bytes of the whole message */
	guint sender_known;             /* KNOWN_CONTACT.. bits of the sender's
	                                   directory records; 0 when unknown */
	guint recipient_known;          /* the same, over all recipients */
	gboolean reply_to_tracked;
	gboolean dropbox;
} rule_input;

/* The first matching rule, or NULL. */
const crm_rule *rules_match(const crm_config *cfg, const rule_input *in);
/* Does addr match one address/domain pattern (see above)? */
gboolean rules_addr_matches(const char *pattern, const char *addr);

#endif

/*
 * classify.h - the direction of a message (inbound, outbound, internal,
 * external) and the reason for it, from the envelope and MTA macros only.
 *
 * Order (SPEC "Direction"): a trusted submitter (authenticated, client in
 * internal_networks, local non-SMTP submission, or a {daemon_name} listed
 * in outbound_daemons) sends outbound mail, or internal mail when every
 * party is in internal_domains. An untrusted client sending to an internal
 * domain is inbound; anything else is external (relayed, never tracked
 * unless a rule says direction = any).
 *
 * Ownership: classify returns the reason as a new string (g_free).
 *
 * Public: classify, classify_domain_internal, classify_addr_domain.
 */
#ifndef CRM_CLASSIFY_H
#define CRM_CLASSIFY_H

#include <glib.h>
#include "config.h"

typedef struct classify_input {
	const char *auth_user;      /* {auth_authen}; NULL or "" if none */
	const char *daemon_name;    /* {daemon_name}; may be NULL */
	const char *client_addr;    /* textual IP; NULL when unknown */
	gboolean local_submission;  /* non-SMTP (Postfix sendmail/pickup) */
	const char *mail_from;      /* envelope sender, bare; "" for <> */
	const char *const *rcpts;   /* envelope recipients, bare */
	gsize nrcpts;
} classify_input;

crm_direction classify(const crm_config *cfg, const classify_input *in,
    char **reason);
/* TRUE when the domain of addr (or addr itself, if it has no @) is one of
 * internal_domains or a subdomain of one. */
gboolean classify_domain_internal(const crm_config *cfg, const char *addr);
/* The domain part of an address (after the last '@'), or NULL. Borrowed. */
const char *classify_addr_domain(const char *addr);

#endif

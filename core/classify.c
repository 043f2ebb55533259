/*
 * classify.c - direction and its reason. See classify.h.
 * Pure: reads the config snapshot and the input, touches nothing else.
 */
#include <string.h>
#include <gio/gio.h>

#include "classify.h"

/* The domain part of an address, or NULL when there is none. */
const char *
classify_addr_domain(const char *addr)
{
	const char *at;

	if (addr == NULL)
		return NULL;
	at = strrchr(addr, '@');
	return (at != NULL && at[1] != '\0') ? at + 1 : NULL;
}

/* Is domain equal to pattern, or a subdomain of it (case-insensitive)? */
static gboolean
domain_matches(const char *domain, const char *pattern)
{
	size_t dl = strlen(domain), pl = strlen(pattern);

	if (dl == pl)
		return g_ascii_strcasecmp(domain, pattern) == 0;
	if (dl > pl && domain[dl - pl - 1] == '.')
		return g_ascii_strcasecmp(domain + dl - pl, pattern) == 0;
	return FALSE;
}

/* Is the address (or bare domain) in one of internal_domains? */
gboolean
classify_domain_internal(const crm_config *cfg, const char *addr)
{
	const char *domain = classify_addr_domain(addr);
	guint i;

	if (domain == NULL)
		domain = (addr != NULL && strchr(addr, '@') == NULL) ? addr : NULL;
	if (domain == NULL || *domain == '\0' || cfg->internal_domains == NULL)
		return FALSE;
	for (i = 0; i < cfg->internal_domains->len; i++)
		if (domain_matches(domain, g_ptr_array_index(cfg->internal_domains, i)))
			return TRUE;
	return FALSE;
}

/* The internal network holding addr, as text, or NULL. */
static char *
internal_network(const crm_config *cfg, const char *addr)
{
	GInetAddress *ia;
	char *hit = NULL;
	guint i;

	if (addr == NULL || cfg->internal_networks == NULL)
		return NULL;
	/* Postfix writes IPv6 clients as "IPv6:..." in some macros */
	if (g_ascii_strncasecmp(addr, "IPv6:", 5) == 0)
		addr += 5;
	ia = g_inet_address_new_from_string(addr);
	if (ia == NULL)
		return NULL;
	for (i = 0; i < cfg->internal_networks->len && hit == NULL; i++) {
		GInetAddressMask *m = g_ptr_array_index(cfg->internal_networks, i);
		if (g_inet_address_mask_matches(m, ia))
			hit = g_inet_address_mask_to_string(m);
	}
	g_object_unref(ia);
	return hit;
}

/* Is daemon one of outbound_daemons? */
static gboolean
outbound_daemon(const crm_config *cfg, const char *daemon)
{
	guint i;

	if (daemon == NULL || *daemon == '\0' || cfg->outbound_daemons == NULL)
		return FALSE;
	for (i = 0; i < cfg->outbound_daemons->len; i++)
		if (strcmp(daemon, g_ptr_array_index(cfg->outbound_daemons, i)) == 0)
			return TRUE;
	return FALSE;
}

/* Why the submitter is trusted, as a new string, or NULL if it is not. */
static char *
trusted_submitter(const crm_config *cfg, const classify_input *in)
{
	char *net;

	if (in->auth_user != NULL && *in->auth_user != '\0')
		return g_strdup_printf("authenticated as %s", in->auth_user);
	if (in->local_submission)
		return g_strdup("local submission");
	if (outbound_daemon(cfg, in->daemon_name))
		return g_strdup_printf("daemon %s is in outbound_daemons", in->daemon_name);
	if ((net = internal_network(cfg, in->client_addr)) != NULL) {
		char *r = g_strdup_printf("client %s is in internal network %s",
		    in->client_addr, net);
		g_free(net);
		return r;
	}
	return NULL;
}

/* Are the sender and every recipient in internal_domains? */
static gboolean
all_internal(const crm_config *cfg, const classify_input *in)
{
	gsize i;

	if (in->nrcpts == 0 || !classify_domain_internal(cfg, in->mail_from))
		return FALSE;
	for (i = 0; i < in->nrcpts; i++)
		if (!classify_domain_internal(cfg, in->rcpts[i]))
			return FALSE;
	return TRUE;
}

/* The first recipient in an internal domain, or NULL. */
static const char *
internal_rcpt(const crm_config *cfg, const classify_input *in)
{
	gsize i;

	for (i = 0; i < in->nrcpts; i++)
		if (classify_domain_internal(cfg, in->rcpts[i]))
			return in->rcpts[i];
	return NULL;
}

/* Decide the direction; *reason gets a new string saying why. */
crm_direction
classify(const crm_config *cfg, const classify_input *in, char **reason)
{
	char *trust = trusted_submitter(cfg, in);
	const char *rcpt;
	crm_direction dir;
	char *why;

	if (trust != NULL && all_internal(cfg, in)) {
		dir = DIR_INTERNAL;
		why = g_strdup_printf("%s; sender and all recipients in internal domains", trust);
	} else if (trust != NULL) {
		dir = DIR_OUTBOUND;
		why = g_strdup(trust);
	} else if ((rcpt = internal_rcpt(cfg, in)) != NULL) {
		dir = DIR_INBOUND;
		why = g_strdup_printf("untrusted client; recipient %s in internal domain", rcpt);
	} else {
		dir = DIR_EXTERNAL;
		why = g_strdup("untrusted client; no recipient in internal domains");
	}
	g_free(trust);
	if (reason != NULL)
		*reason = why;
	else
		g_free(why);
	return dir;
}

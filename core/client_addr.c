/*
 * client_addr.c - the client's address behind trusted proxies
 * (X-Forwarded-For). See client_addr.h.
 */
#include <string.h>
#include <gio/gio.h>

#include "client_addr.h"

/* Is the textual address in one of the trusted proxy networks? */
gboolean
client_addr_trusted(const GPtrArray *proxies, const char *addr)
{
	GInetAddress *a = addr != NULL ? g_inet_address_new_from_string(addr) : NULL;
	gboolean yes = FALSE;

	for (guint i = 0; a != NULL && proxies != NULL && i < proxies->len && !yes; i++) {
		GInetAddressMask *m = g_ptr_array_index(proxies, i);

		yes = g_inet_address_get_family(a) == g_inet_address_mask_get_family(m) &&
		    g_inet_address_mask_matches(m, a);
	}
	if (a != NULL)
		g_object_unref(a);
	return yes;
}

/* One hop's address without its port, as GLib writes it (new), or NULL
 * when the hop is not an IP address (a name, "unknown", garbage). */
static char *
hop_address(const char *hop)
{
	GSocketConnectable *c = g_network_address_parse(hop, 0, NULL);
	GInetAddress *a = c != NULL ?
	    g_inet_address_new_from_string(g_network_address_get_hostname(G_NETWORK_ADDRESS(c))) : NULL;
	char *text = a != NULL ? g_inet_address_to_string(a) : NULL;

	if (a != NULL)
		g_object_unref(a);
	if (c != NULL)
		g_object_unref(c);
	return text;
}

/* See client_addr.h. */
char *
client_addr_resolve(const char *peer, const char *xff, const GPtrArray *proxies)
{
	char **hops;
	char *out;
	int n;

	if (peer == NULL)
		return NULL;
	out = g_strdup(peer);
	if (xff == NULL || !client_addr_trusted(proxies, peer))
		return out;
	hops = g_strsplit(xff, ",", -1);
	n = (int)g_strv_length(hops);
	for (int i = n - 1; i >= 0 && i >= n - CLIENT_ADDR_HOPS; i--) {
		char *a = hop_address(g_strstrip(hops[i]));

		if (a == NULL)
			break;                   /* garbage: keep what we trust */
		g_free(out);
		out = a;
		if (!client_addr_trusted(proxies, out))
			break;
	}
	g_strfreev(hops);
	return out;
}

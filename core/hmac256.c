/*
 * hmac256.c - HMAC-SHA256 with a key prepared once, on OpenSSL's EVP_MAC
 * (see hmac256.h).
 */
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "hmac256.h"

/* Key k with secret. */
gboolean
hmac256_key_init(hmac256_key *k, const guint8 *secret, gsize len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};

	k->ctx = NULL;
	if (ctx != NULL && EVP_MAC_init(ctx, secret, len, params) == 1)
		k->ctx = ctx;
	else
		EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);                 /* the context keeps its own reference */
	return k->ctx != NULL;
}

/* Free the keyed context. */
void
hmac256_key_clear(hmac256_key *k)
{
	if (k == NULL)
		return;
	EVP_MAC_CTX_free(k->ctx);
	k->ctx = NULL;
}

/* a then b into the keyed context c, and the MAC out (zeroed on failure). */
static gboolean
run_mac(EVP_MAC_CTX *c, const guint8 *a, gsize an, const guint8 *b, gsize bn, guint8 out[HMAC256_LEN])
{
	size_t outl = 0;
	gboolean ok = c != NULL && EVP_MAC_update(c, a, an) == 1 &&
	    (bn == 0 || EVP_MAC_update(c, b, bn) == 1) &&
	    EVP_MAC_final(c, out, &outl, HMAC256_LEN) == 1 && outl == HMAC256_LEN;

	if (!ok)
		memset(out, 0, HMAC256_LEN);
	return ok;
}

/* One MAC from a copy of the keyed context. */
gboolean
hmac256_mac(const hmac256_key *k, const guint8 *a, gsize an, const guint8 *b, gsize bn,
    guint8 out[HMAC256_LEN])
{
	EVP_MAC_CTX *c = k->ctx != NULL ? EVP_MAC_CTX_dup(k->ctx) : NULL;
	gboolean ok = run_mac(c, a, an, b, bn, out);

	EVP_MAC_CTX_free(c);
	return ok;
}

/* One working copy of the keyed context. */
gboolean
hmac256_state_init(hmac256_state *s, const hmac256_key *k)
{
	s->ctx = k->ctx != NULL ? EVP_MAC_CTX_dup(k->ctx) : NULL;
	return s->ctx != NULL;
}

/* Free the working copy. */
void
hmac256_state_clear(hmac256_state *s)
{
	if (s == NULL)
		return;
	EVP_MAC_CTX_free(s->ctx);
	s->ctx = NULL;
}

/* One MAC from the working copy: EVP_MAC_init with no key starts again
 * from the key it already has (OpenSSL 3's HMAC keeps it). */
gboolean
hmac256_state_mac(hmac256_state *s, const guint8 *a, gsize an, const guint8 *b, gsize bn,
    guint8 out[HMAC256_LEN])
{
	if (s->ctx == NULL || EVP_MAC_init(s->ctx, NULL, 0, NULL) != 1) {
		memset(out, 0, HMAC256_LEN);
		return FALSE;
	}
	return run_mac(s->ctx, a, an, b, bn, out);
}

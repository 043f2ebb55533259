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

/* One MAC from a copy of the keyed context. */
gboolean
hmac256_mac(const hmac256_key *k, const guint8 *a, gsize an, const guint8 *b, gsize bn,
    guint8 out[HMAC256_LEN])
{
	EVP_MAC_CTX *c = k->ctx != NULL ? EVP_MAC_CTX_dup(k->ctx) : NULL;
	size_t outl = 0;
	gboolean ok = c != NULL && EVP_MAC_update(c, a, an) == 1 &&
	    (bn == 0 || EVP_MAC_update(c, b, bn) == 1) &&
	    EVP_MAC_final(c, out, &outl, HMAC256_LEN) == 1 && outl == HMAC256_LEN;

	EVP_MAC_CTX_free(c);
	if (!ok)
		memset(out, 0, HMAC256_LEN);
	return ok;
}

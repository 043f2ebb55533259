/*
 * hmac256.h - HMAC-SHA256 for the tracking tokens (core/token.c), made for
 * many short messages under one key: the key is set up once in an
 * OpenSSL (libcrypto) MAC context, and each MAC starts from a copy of it,
 * so no MAC pays for keying again. OpenSSL's SHA-256 uses the CPU's SHA
 * instructions where there are any.
 *
 * Why not GLib's GHmac: per MAC it copies two GChecksums and formats both
 * digests as hex strings it never returns, and its SHA-256 is portable C;
 * signing every link of a newsletter was a third of rewriting it.
 *
 * For many MACs in a row on one thread (every link of a message), a
 * hmac256_state is one working copy of the key that each MAC resets,
 * instead of a fresh copy (several allocations) per MAC: about half the
 * cost per MAC.
 *
 * Ownership: a hmac256_key belongs to its holder; hmac256_key_clear frees
 * and wipes it (NULL-safe). A prepared key is only read (copied) by
 * hmac256_mac and hmac256_state_init, so threads may share it. A
 * hmac256_state belongs to one thread at a time and must not outlive its
 * key; hmac256_state_clear frees it (NULL-safe).
 *
 * Public: hmac256_key_init, hmac256_key_clear, hmac256_mac,
 *         hmac256_state_init, hmac256_state_clear, hmac256_state_mac, HMAC256_LEN.
 */
#ifndef CRM_HMAC256_H
#define CRM_HMAC256_H

#include <glib.h>

#define HMAC256_LEN 32           /* bytes of a MAC */

typedef struct hmac256_key {
	void *ctx;                   /* EVP_MAC_CTX *, keyed; NULL: not usable */
} hmac256_key;

/* Prepare k for secret[0..len); FALSE if libcrypto could not. */
gboolean hmac256_key_init(hmac256_key *k, const guint8 *secret, gsize len);
/* Free k's context (NULL-safe). */
void hmac256_key_clear(hmac256_key *k);
/* HMAC of a[0..an) followed by b[0..bn) (b may be NULL when bn is 0);
 * FALSE (out zeroed) if libcrypto failed. */
gboolean hmac256_mac(const hmac256_key *k, const guint8 *a, gsize an, const guint8 *b, gsize bn,
    guint8 out[HMAC256_LEN]);

typedef struct hmac256_state {
	void *ctx;                   /* EVP_MAC_CTX *, a copy of the key's; NULL: not usable */
} hmac256_state;

/* A working copy of k; FALSE (s not usable) if libcrypto could not. */
gboolean hmac256_state_init(hmac256_state *s, const hmac256_key *k);
/* Free s's context (NULL-safe). */
void hmac256_state_clear(hmac256_state *s);
/* The same MAC as hmac256_mac, from s (reset to the bare key first). */
gboolean hmac256_state_mac(hmac256_state *s, const guint8 *a, gsize an, const guint8 *b, gsize bn,
    guint8 out[HMAC256_LEN]);

#endif

/*
 * token.h - engagement tracking tokens: opaque, HMAC-SHA256 signed under a
 * key id, verifiable with no database, with no address or name inside.
 *
 * Key file (tracking { key_file }): one key per line, "<key id> <base64
 * secret of at least 32 bytes>"; the first line signs, every line
 * verifies (a new key goes in second until every tracker has it, then
 * first: see key_file in conf/options.def). `crm-milterctl keygen`
 * prints a new line.
 *
 * URLs (the shape is ours; the issue fixes the prefixes):
 *   open:  {base_url}/o/{token}.gif
 *   click: {base_url}/c/{token}/{target}   where {target} is the exact
 *          target URL in base64url; the token's MAC binds it, so a changed
 *          target does not verify (no open redirect).
 * A token carries: version, kind (open/click), key id, the message's
 * tracking id (TOKEN_ID_LEN random bytes the milter assigns and stores in
 * the ledger), the link's index in the message (clicks), and a truncated
 * HMAC-SHA256 over all of it plus the target.
 *
 * A token_signer signs many links on one thread with one working copy of
 * the signing key (token_click_url copies the key for each link).
 *
 * Ownership: token_ring_load returns a ring freed with token_ring_free
 * (NULL-safe, returns NULL); a token_signer borrows its ring (free the
 * signer first, token_signer_free is NULL-safe); strings returned are new
 * (g_free);
 * token_info_clear frees what token_verify_path filled in.
 *
 * Public: token_ring_load, token_ring_from_text, token_ring_free,
 *         token_keygen_line, token_new_id, token_open_url,
 *         token_click_url, token_signer_new, token_signer_free,
 *         token_signer_click_url, token_verify_path, token_info_clear.
 */
#ifndef CRM_TOKEN_H
#define CRM_TOKEN_H

#include <glib.h>

#define TOKEN_ID_LEN 12          /* bytes of a message's tracking id */
#define TOKEN_KEY_MIN 32         /* bytes of a secret, at least */
#define TOKEN_KID_MAX 16         /* bytes of a key id: [A-Za-z0-9_-]+ */
#define TOKEN_TARGET_MAX 4096    /* bytes of a click target URL */

typedef enum { TOKEN_OPEN = 'o', TOKEN_CLICK = 'c' } token_kind;

typedef struct token_ring token_ring;
typedef struct token_signer token_signer;

typedef struct token_info {
	token_kind kind;
	char kid[TOKEN_KID_MAX + 1];
	guint8 id[TOKEN_ID_LEN];
	guint link;              /* clicks: index of the link in the message */
	char *target;            /* clicks: the bound URL (new string) */
} token_info;

/* Load a key file; errors name the file and line. */
token_ring *token_ring_load(const char *path, GError **err);
/* The same from text (tests). */
token_ring *token_ring_from_text(const char *text, const char *name, GError **err);
token_ring *token_ring_free(token_ring *ring);
/* "<kid> <base64 of 32 random bytes>" */
char *token_keygen_line(const char *kid);
/* TOKEN_ID_LEN random bytes. */
void token_new_id(guint8 id[TOKEN_ID_LEN]);
char *token_open_url(const token_ring *ring, const char *base_url, const guint8 id[TOKEN_ID_LEN]);
/* NULL when target is not an http(s) URL or longer than TOKEN_TARGET_MAX. */
char *token_click_url(const token_ring *ring, const char *base_url,
    const guint8 id[TOKEN_ID_LEN], guint link, const char *target);
/* A signer for ring's signing key (NULL without keys or if libcrypto
 * failed); the ring must outlive it. */
token_signer *token_signer_new(const token_ring *ring);
token_signer *token_signer_free(token_signer *s);
/* The same URL as token_click_url, signed with s (NULL when s is NULL). */
char *token_signer_click_url(token_signer *s, const char *base_url,
    const guint8 id[TOKEN_ID_LEN], guint link, const char *target);
/* Verify a request path ("/o/....gif" or "/c/.../..."); FALSE for
 * anything forged, truncated, malformed or signed by an unknown key. */
gboolean token_verify_path(const token_ring *ring, const char *path, token_info *out);
void token_info_clear(token_info *info);

#endif

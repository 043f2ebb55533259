/*
 * token.c - engagement tracking tokens: the key ring, signing, and strict
 * verification of tracker request paths. See token.h.
 *
 * Token bytes (then base64url without padding):
 *   version(1) = 1 | kind(1) = 'o' or 'c' | kid length(1) | kid |
 *   id(TOKEN_ID_LEN) | clicks only: link index (LEB128 varint, 1-5 bytes,
 *   shortest form) | MAC(16)
 * MAC = HMAC-SHA256(secret of kid, every byte before the MAC, then for
 * clicks the exact target bytes), truncated to 16 bytes. Each field has a
 * fixed or self-delimiting length, so appending the target is unambiguous.
 *
 * Paths (what token_verify_path takes: the request path only, no scheme,
 * host, base_url prefix or query string; a '?' anywhere is a rejection,
 * so the tracker must pass the path its HTTP library parsed, which for
 * libmicrohttpd already excludes the query):
 *   /o/{token}.gif
 *   /c/{token}/{base64url(target)}
 * Every base64url string must be canonical (alphabet A-Za-z0-9-_, no '=',
 * unused trailing bits zero), so each token has exactly one spelling.
 *
 * Targets: http:// or https:// (scheme in any case) with a non-empty
 * host, at most TOKEN_TARGET_MAX bytes, valid UTF-8, no space or control
 * character (percent-encode them first); the same rule applies when
 * signing and when verifying.
 *
 * Public: token_ring_load, token_ring_from_text, token_ring_free,
 *         token_keygen_line, token_new_id, token_open_url,
 *         token_click_url, token_verify_path, token_info_clear.
 * Ownership: a ring owns copies of its secrets and wipes them when freed;
 * it is never changed after loading, so threads may share it.
 * Randomness comes from getrandom(2); a failing getrandom is a panic.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token.h"
#include "errline.h"
#include "hmac256.h"

#define TOKEN_VERSION 1
#define MAC_LEN 16
#define LINK_MAX_BYTES 5                 /* LEB128 of a 32-bit value */
#define SECRET_MAX 1024                  /* bytes of a decoded secret */
#define KEYFILE_MAX (64 * 1024)          /* bytes of a key file */
#define RAW_MAX (3 + TOKEN_KID_MAX + TOKEN_ID_LEN + LINK_MAX_BYTES + MAC_LEN)
#define B64_LEN(n) (((n) * 4 + 2) / 3)   /* unpadded base64 length */
#define PATH_MAX_LEN (3 + B64_LEN(RAW_MAX) + 1 + B64_LEN(TOKEN_TARGET_MAX))
#define RANDOM_KID_LEN 6

typedef struct token_key {
	char kid[TOKEN_KID_MAX + 1];
	guint8 *secret;
	gsize len;
	hmac256_key hk;                  /* prepared once (hmac256.c) */
} token_key;

struct token_ring {
	guint n;                         /* at least 1 */
	token_key *keys;                 /* keys[0] signs */
};

/* The error domain of this module (callers only read messages). */
static GQuark
token_error(void)
{
	return g_quark_from_static_string("crm-token-error-quark");
}

/* Value of one base64 character (url or standard alphabet), or -1. */
static int
b64_value(unsigned char c, gboolean url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Strict base64 decoding of s[0..n) into out (at most max bytes).
 * url: base64url with no padding; otherwise standard with its padding.
 * Rejects foreign characters, impossible lengths, nonzero unused bits. */
static gboolean
b64_decode(const char *s, gsize n, gboolean url, guint8 *out, gsize max, gsize *out_len)
{
	gsize i, o = 0, tail, need;
	guint32 acc = 0;
	int bits = 0, v;

	if (!url) {
		if (n == 0 || n % 4 != 0)
			return FALSE;
		if (s[n - 1] == '=')
			n--;
		if (s[n - 1] == '=')
			n--;
	}
	tail = n % 4;
	if (n == 0 || tail == 1)
		return FALSE;
	need = n / 4 * 3 + (tail == 2 ? 1 : tail == 3 ? 2 : 0);
	if (need > max)
		return FALSE;
	for (i = 0; i < n; i++) {
		v = b64_value((unsigned char)s[i], url);
		if (v < 0)
			return FALSE;
		acc = (acc << 6) | (guint32)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (guint8)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)                    /* leftover bits must be zero */
		return FALSE;
	*out_len = o;
	return TRUE;
}

/* base64url of data without padding, written at out (B64_LEN(n) bytes,
 * no NUL); returns the end. */
static char *
b64url_put(const guint8 *data, gsize n, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	gsize i;

	for (i = 0; i + 3 <= n; i += 3) {
		guint32 v = (guint32)data[i] << 16 | (guint32)data[i + 1] << 8 | data[i + 2];
		*out++ = abc[v >> 18];
		*out++ = abc[(v >> 12) & 63];
		*out++ = abc[(v >> 6) & 63];
		*out++ = abc[v & 63];
	}
	if (n - i == 1) {
		*out++ = abc[data[i] >> 2];
		*out++ = abc[(data[i] & 3) << 4];
	} else if (n - i == 2) {
		guint32 v = (guint32)data[i] << 8 | data[i + 1];
		*out++ = abc[v >> 10];
		*out++ = abc[(v >> 4) & 63];
		*out++ = abc[(v & 15) << 2];
	}
	return out;
}

/* Fill buf with n bytes from the kernel's CSPRNG. */
static void
random_bytes(guint8 *buf, gsize n)
{
	gsize got = 0;
	ssize_t r;

	while (got < n) {
		r = getrandom(buf + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			g_error("token: getrandom failed: %s", g_strerror(errno));
		}
		got += (gsize)r;
	}
}

/* TRUE when s[0..n) is a valid key id. */
static gboolean
kid_valid(const char *s, gsize n)
{
	gsize i;

	if (n < 1 || n > TOKEN_KID_MAX)
		return FALSE;
	for (i = 0; i < n; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '_' && s[i] != '-')
			return FALSE;
	return TRUE;
}

/* TRUE when t[0..n) is a target we sign and redirect to. */
static gboolean
target_valid(const char *t, gsize n)
{
	gsize i, skip;
	unsigned char high = 0;

	if (n == 0 || n > TOKEN_TARGET_MAX)
		return FALSE;
	if (n > 7 && g_ascii_strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (n > 8 && g_ascii_strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	else
		return FALSE;
	if (t[skip] == '/' || t[skip] == '?' || t[skip] == '#')
		return FALSE;            /* no host */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c <= 0x20 || c == 0x7f)
			return FALSE;
		high |= c;
	}
	return high < 0x80 || g_utf8_validate_len(t, n, NULL);   /* ASCII is UTF-8 */
}

/* The key named kid[0..n), or NULL. */
static const token_key *
ring_find(const token_ring *ring, const char *kid, gsize n)
{
	guint i;

	for (i = 0; i < ring->n; i++)
		if (strlen(ring->keys[i].kid) == n && memcmp(ring->keys[i].kid, kid, n) == 0)
			return &ring->keys[i];
	return NULL;
}

/* Truncated HMAC-SHA256 of body (and target) under key; FALSE if
 * libcrypto failed (then nothing may be signed or verified). */
static gboolean
compute_mac(const token_key *key, hmac256_state *st, const guint8 *body, gsize n,
    const char *target, gsize tlen, guint8 mac[MAC_LEN])
{
	guint8 digest[HMAC256_LEN];
	gboolean ok = st != NULL ?
	    hmac256_state_mac(st, body, n, (const guint8 *)target, target != NULL ? tlen : 0, digest) :
	    hmac256_mac(&key->hk, body, n, (const guint8 *)target, target != NULL ? tlen : 0, digest);

	memcpy(mac, digest, MAC_LEN);
	explicit_bzero(digest, sizeof(digest));
	return ok;
}

/* Compare two MACs in time independent of where they differ. */
static gboolean
mac_equal(const guint8 *a, const guint8 *b)
{
	volatile guint8 diff = 0;
	gsize i;

	for (i = 0; i < MAC_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* Signed token bytes for kind under the ring's first key (st: a working
 * copy of it, or NULL), in raw (RAW_MAX bytes); returns their length, 0
 * if signing failed. */
static gsize
make_token(const token_ring *ring, hmac256_state *st, token_kind kind, const guint8 id[TOKEN_ID_LEN],
    guint link, const char *target, gsize tlen, guint8 raw[RAW_MAX])
{
	const token_key *key = &ring->keys[0];
	gsize n = 0, kl = strlen(key->kid);

	raw[n++] = TOKEN_VERSION;
	raw[n++] = (guint8)kind;
	raw[n++] = (guint8)kl;
	memcpy(raw + n, key->kid, kl);
	n += kl;
	memcpy(raw + n, id, TOKEN_ID_LEN);
	n += TOKEN_ID_LEN;
	if (kind == TOKEN_CLICK) {
		do {
			raw[n++] = (guint8)((link & 0x7f) | (link > 0x7f ? 0x80 : 0));
			link >>= 7;
		} while (link != 0);
	}
	if (!compute_mac(key, st, raw, n, target, tlen, raw + n))
		return 0;
	return n + MAC_LEN;
}

/* base_url without its trailing slashes. */
static gsize
base_len(const char *base_url)
{
	gsize n = strlen(base_url);

	while (n > 0 && base_url[n - 1] == '/')
		n--;
	return n;
}

/* "{base_url}/o/{token}.gif" for the message's tracking id. */
char *
token_open_url(const token_ring *ring, const char *base_url, const guint8 id[TOKEN_ID_LEN])
{
	guint8 raw[RAW_MAX];
	gsize n, bl;
	char *url, *p;

	if (ring == NULL || base_url == NULL || id == NULL)
		return NULL;
	if ((n = make_token(ring, NULL, TOKEN_OPEN, id, 0, NULL, 0, raw)) == 0)
		return NULL;
	bl = base_len(base_url);
	url = p = g_malloc(bl + 3 + B64_LEN(n) + 5);
	memcpy(p, base_url, bl);
	memcpy(p + bl, "/o/", 3);
	p = b64url_put(raw, n, p + bl + 3);
	memcpy(p, ".gif", 5);
	return url;
}

/* "{base_url}/c/{token}/{base64url(target)}", or NULL for a bad target,
 * signed with st (or a copy of the key when NULL). Made in one
 * allocation: a message signs every one of its links. */
static char *
click_url(const token_ring *ring, hmac256_state *st, const char *base_url,
    const guint8 id[TOKEN_ID_LEN], guint link, const char *target)
{
	guint8 raw[RAW_MAX];
	gsize tlen, n, bl;
	char *url, *p;

	if (ring == NULL || base_url == NULL || id == NULL || target == NULL)
		return NULL;
	tlen = strlen(target);
	if (!target_valid(target, tlen))
		return NULL;
	if ((n = make_token(ring, st, TOKEN_CLICK, id, link, target, tlen, raw)) == 0)
		return NULL;
	bl = base_len(base_url);
	url = p = g_malloc(bl + 3 + B64_LEN(n) + 1 + B64_LEN(tlen) + 1);
	memcpy(p, base_url, bl);
	memcpy(p + bl, "/c/", 3);
	p = b64url_put(raw, n, p + bl + 3);
	*p++ = '/';
	p = b64url_put((const guint8 *)target, tlen, p);
	*p = '\0';
	return url;
}

/* One click URL (see click_url). */
char *
token_click_url(const token_ring *ring, const char *base_url,
    const guint8 id[TOKEN_ID_LEN], guint link, const char *target)
{
	return click_url(ring, NULL, base_url, id, link, target);
}

/* The signing key's working copy, for one thread. */
struct token_signer {
	const token_ring *ring;          /* borrowed */
	hmac256_state st;
};

/* A signer for the ring's first key, or NULL. */
token_signer *
token_signer_new(const token_ring *ring)
{
	token_signer *s;

	if (ring == NULL || ring->n == 0)
		return NULL;
	s = g_new0(token_signer, 1);
	s->ring = ring;
	if (!hmac256_state_init(&s->st, &ring->keys[0].hk))
		return token_signer_free(s);
	return s;
}

/* Free; NULL-safe, returns NULL. */
token_signer *
token_signer_free(token_signer *s)
{
	if (s == NULL)
		return NULL;
	hmac256_state_clear(&s->st);
	g_free(s);
	return NULL;
}

/* token_click_url with the signer's working copy of the key. */
char *
token_signer_click_url(token_signer *s, const char *base_url,
    const guint8 id[TOKEN_ID_LEN], guint link, const char *target)
{
	if (s == NULL)
		return NULL;
	return click_url(s->ring, &s->st, base_url, id, link, target);
}

/* Parse raw token bytes of the wanted kind; on success the key, the
 * fields and where the MAC starts. */
static const token_key *
parse_raw(const token_ring *ring, const guint8 *raw, gsize n, token_kind kind,
    token_info *info, gsize *mac_at)
{
	gsize p, kl, i;
	guint32 link = 0;
	const token_key *key;

	if (n < 3 || raw[0] != TOKEN_VERSION || raw[1] != (guint8)kind)
		return NULL;
	kl = raw[2];
	p = 3;
	if (kl > n - p || !kid_valid((const char *)raw + p, kl))
		return NULL;
	key = ring_find(ring, (const char *)raw + p, kl);
	if (key == NULL)
		return NULL;
	memcpy(info->kid, raw + p, kl);
	info->kid[kl] = '\0';
	p += kl;
	if (n - p < TOKEN_ID_LEN)
		return NULL;
	memcpy(info->id, raw + p, TOKEN_ID_LEN);
	p += TOKEN_ID_LEN;
	if (kind == TOKEN_CLICK) {
		for (i = 0;; i++) {
			if (p >= n || i >= LINK_MAX_BYTES)
				return NULL;
			if (i == LINK_MAX_BYTES - 1 && raw[p] > 0x0f)
				return NULL;     /* over 32 bits */
			link |= (guint32)(raw[p] & 0x7f) << (7 * i);
			if ((raw[p++] & 0x80) == 0)
				break;
		}
		if (i > 0 && raw[p - 1] == 0)
			return NULL;     /* not the shortest form */
	}
	if (n - p != MAC_LEN)
		return NULL;
	info->kind = kind;
	info->link = link;
	*mac_at = p;
	return key;
}

/* Check a tracker request path; see the file comment for the shapes. */
gboolean
token_verify_path(const token_ring *ring, const char *path, token_info *out)
{
	guint8 raw[RAW_MAX], mac[MAC_LEN];
	char *target = NULL;
	const char *tok, *tgt = NULL;
	gsize len, tok_len, tgt_len = 0, raw_len, mac_at, tlen = 0;
	token_kind kind;
	const token_key *key;
	token_info info;
	gboolean ok;

	memset(&info, 0, sizeof(info));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (ring == NULL || path == NULL)
		return FALSE;
	len = strnlen(path, PATH_MAX_LEN + 1);
	if (len > PATH_MAX_LEN || len < 4 || path[0] != '/' || path[2] != '/')
		return FALSE;
	tok = path + 3;
	if (path[1] == 'o') {
		kind = TOKEN_OPEN;
		if (len < 3 + 4 || memcmp(path + len - 4, ".gif", 4) != 0)
			return FALSE;
		tok_len = len - 3 - 4;
	} else if (path[1] == 'c') {
		kind = TOKEN_CLICK;
		tgt = memchr(tok, '/', len - 3);
		if (tgt == NULL)
			return FALSE;
		tok_len = (gsize)(tgt - tok);
		tgt++;
		tgt_len = len - (gsize)(tgt - path);
	} else
		return FALSE;
	if (!b64_decode(tok, tok_len, TRUE, raw, sizeof(raw), &raw_len))
		return FALSE;
	key = parse_raw(ring, raw, raw_len, kind, &info, &mac_at);
	if (key == NULL)
		return FALSE;
	if (kind == TOKEN_CLICK) {
		target = g_malloc(TOKEN_TARGET_MAX + 1);
		if (!b64_decode(tgt, tgt_len, TRUE, (guint8 *)target, TOKEN_TARGET_MAX, &tlen)) {
			g_free(target);
			return FALSE;
		}
		target[tlen] = '\0';
	}
	ok = compute_mac(key, NULL, raw, mac_at, target, tlen, mac) && mac_equal(mac, raw + mac_at);
	if (ok && target != NULL)
		ok = target_valid(target, tlen);
	if (!ok) {
		g_free(target);
		return FALSE;
	}
	info.target = target;
	if (out != NULL)
		*out = info;
	else
		g_free(target);
	return TRUE;
}

/* Free what token_verify_path filled in and zero the struct. */
void
token_info_clear(token_info *info)
{
	if (info == NULL)
		return;
	g_free(info->target);
	memset(info, 0, sizeof(*info));
}

/* Wipe and free a ring's secrets and the ring. */
token_ring *
token_ring_free(token_ring *ring)
{
	guint i;

	if (ring == NULL)
		return NULL;
	for (i = 0; i < ring->n; i++) {
		explicit_bzero(ring->keys[i].secret, ring->keys[i].len);
		g_free(ring->keys[i].secret);
		hmac256_key_clear(&ring->keys[i].hk);
	}
	g_free(ring->keys);
	g_free(ring);
	return NULL;
}

/* "name:line: message" in this file's error domain. */
#define line_error(err, name, line, ...) \
	errline_set(err, token_error(), 1, name, line, __VA_ARGS__)

/* Parse one non-blank, non-comment line (already trimmed) and append
 * its key; FALSE with err set. */
static gboolean
parse_line(const char *s, const char *name, guint line, GArray *keys, GError **err)
{
	const char *sp = s + strcspn(s, " \t"), *sec, *end;
	guint8 *secret;
	gsize kl = (gsize)(sp - s), slen, len = 0;
	token_key key;
	gboolean ok;
	guint i;

	sec = sp + strspn(sp, " \t");
	if (*sp == '\0' || *sec == '\0') {
		line_error(err, name, line, "expected \"<key id> <base64 secret>\"");
		return FALSE;
	}
	end = sec + strcspn(sec, " \t");
	if (*end != '\0') {
		line_error(err, name, line, "unexpected text after the secret");
		return FALSE;
	}
	if (!kid_valid(s, kl)) {
		line_error(err, name, line,
		    "key id \"%.*s\" must be 1 to %d characters of A-Z a-z 0-9 _ -",
		    (int)MIN(kl, 40), s, TOKEN_KID_MAX);
		return FALSE;
	}
	for (i = 0; i < keys->len; i++)
		if (strlen(g_array_index(keys, token_key, i).kid) == kl &&
		    memcmp(g_array_index(keys, token_key, i).kid, s, kl) == 0) {
			line_error(err, name, line, "duplicate key id \"%.*s\"", (int)kl, s);
			return FALSE;
		}
	slen = (gsize)(end - sec);
	secret = g_malloc(SECRET_MAX + 3);
	ok = b64_decode(sec, slen, FALSE, secret, SECRET_MAX + 3, &len);
	if (!ok && slen > (SECRET_MAX + 2) / 3 * 4)
		line_error(err, name, line, "secret is longer than %d bytes", SECRET_MAX);
	else if (!ok)
		line_error(err, name, line, "secret is not valid base64");
	else if (len > SECRET_MAX)
		line_error(err, name, line, "secret is longer than %d bytes", SECRET_MAX);
	else if (len < TOKEN_KEY_MIN)
		line_error(err, name, line, "secret is %zu bytes, at least %d are needed",
		    len, TOKEN_KEY_MIN);
	if (!ok || len > SECRET_MAX || len < TOKEN_KEY_MIN) {
		explicit_bzero(secret, SECRET_MAX + 3);
		g_free(secret);
		return FALSE;
	}
	memset(&key, 0, sizeof(key));
	memcpy(key.kid, s, kl);
	key.secret = g_memdup2(secret, len);
	key.len = len;
	if (!hmac256_key_init(&key.hk, key.secret, key.len)) {
		explicit_bzero(key.secret, key.len);
		g_free(key.secret);
		explicit_bzero(secret, SECRET_MAX + 3);
		g_free(secret);
		return FALSE;
	}
	explicit_bzero(secret, SECRET_MAX + 3);
	g_free(secret);
	g_array_append_val(keys, key);
	return TRUE;
}

/* Parse key-file text; name labels errors ("NAME:LINE: message"). */
token_ring *
token_ring_from_text(const char *text, const char *name, GError **err)
{
	GArray *keys = g_array_new(FALSE, TRUE, sizeof(token_key));
	char **lines, *s;
	token_ring *ring;
	gboolean ok = TRUE;
	guint i;

	if (name == NULL)
		name = "key file";
	lines = g_strsplit(text != NULL ? text : "", "\n", -1);
	for (i = 0; ok && lines[i] != NULL; i++) {
		s = g_strstrip(lines[i]);        /* also drops a CR */
		if (*s == '\0' || *s == '#')
			continue;
		ok = parse_line(s, name, i + 1, keys, err);
	}
	for (i = 0; lines[i] != NULL; i++)
		explicit_bzero(lines[i], strlen(lines[i]));
	g_strfreev(lines);
	ring = g_new0(token_ring, 1);
	ring->n = keys->len;
	ring->keys = (token_key *)(void *)g_array_free(keys, FALSE);
	if (ok && ring->n == 0) {
		g_set_error(err, token_error(), 2, "%s: no keys (add a line \"<key id> <base64 secret>\","
		    " e.g. from crm-milterctl keygen)", name);
		ok = FALSE;
	}
	return ok ? ring : token_ring_free(ring);
}

/* Read a key file that only its owner and group may read. */
token_ring *
token_ring_load(const char *path, GError **err)
{
	struct stat st;
	char *buf = NULL;
	gsize got = 0;
	ssize_t r;
	token_ring *ring = NULL;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);   /* a FIFO: refused below, not waited on */
	if (fd < 0) {
		e = errno;
		g_set_error(err, token_error(), 3, "%s: %s", path, g_strerror(e));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		g_set_error(err, token_error(), 3, "%s: not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 0007) != 0) {
		g_set_error(err, token_error(), 4,
		    "%s: key file is open to others (mode %04o); only crm-milter and "
		    "crm-tracker may read it: chmod o-rwx %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((st.st_mode & 0020) != 0) {
		/* the group reads it (crm-milter); it must not replace the keys */
		g_set_error(err, token_error(), 4,
		    "%s: key file is writable by its group (mode %04o): chmod g-w %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size > KEYFILE_MAX) {
		g_set_error(err, token_error(), 3, "%s: larger than %d bytes", path, KEYFILE_MAX);
		goto out;
	}
	buf = g_malloc(KEYFILE_MAX + 1);
	while (got < KEYFILE_MAX + 1) {
		r = read(fd, buf + got, KEYFILE_MAX + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			g_set_error(err, token_error(), 3, "%s: %s", path, g_strerror(e));
			goto out;
		}
		if (r == 0)
			break;
		got += (gsize)r;
	}
	if (got > KEYFILE_MAX)
		g_set_error(err, token_error(), 3, "%s: larger than %d bytes", path, KEYFILE_MAX);
	else if (memchr(buf, '\0', got) != NULL)
		g_set_error(err, token_error(), 3, "%s: contains a NUL byte", path);
	else {
		buf[got] = '\0';
		ring = token_ring_from_text(buf, path, err);
	}
out:
	if (buf != NULL) {
		explicit_bzero(buf, KEYFILE_MAX + 1);
		g_free(buf);
	}
	close(fd);
	return ring;
}

/* "<kid> <base64 of 32 random bytes>"; kid NULL picks a random one;
 * NULL when kid is not a valid key id. */
char *
token_keygen_line(const char *kid)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char rkid[RANDOM_KID_LEN + 1];
	guint8 secret[TOKEN_KEY_MIN], b;
	char *b64, *line;
	gsize n = 0;

	if (kid != NULL && !kid_valid(kid, strlen(kid)))
		return NULL;
	if (kid == NULL) {
		while (n < RANDOM_KID_LEN) {     /* unbiased: drop bytes >= 248 */
			random_bytes(&b, 1);
			if (b < 248)
				rkid[n++] = alnum[b % 62];
		}
		rkid[n] = '\0';
		kid = rkid;
	}
	random_bytes(secret, sizeof(secret));
	b64 = g_base64_encode(secret, sizeof(secret));
	line = g_strdup_printf("%s %s", kid, b64);
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(b64, strlen(b64));
	g_free(b64);
	return line;
}

/* A new message tracking id from the kernel's CSPRNG. */
void
token_new_id(guint8 id[TOKEN_ID_LEN])
{
	random_bytes(id, TOKEN_ID_LEN);
}

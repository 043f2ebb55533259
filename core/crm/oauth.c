/*
 * crm/oauth.c - OAuth2 access tokens for the connectors: client
 * credentials, refresh token and JWT bearer grants, cached in memory and
 * in the spool database (see oauth.h). The RS256 assertion of the JWT
 * bearer grant is signed with OpenSSL (libcrypto); JSON is json-glib's.
 */
#include <string.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/err.h>

#include "oauth.h"
#include "records.h"

/* A refused token right after a mint is not fixed by minting again. */
#define FRESH_MINT_SECONDS 60

struct oauth_client {
	oauth_params p;            /* strings owned (copied) */
	http_client *http;         /* borrowed */
	crm_db *db;                /* borrowed, may be NULL */
	char *token;
	char *instance_url;
	gint64 expires_at;
	gint64 minted_at;
	gboolean refused_fresh;    /* a token minted moments ago was refused */
};

/* Copy params into o. */
static void
copy_params(oauth_client *o, const oauth_params *p)
{
	o->p = *p;
	o->p.profile = g_strdup(p->profile);
	o->p.token_url = g_strdup(p->token_url);
	o->p.client_id = g_strdup(p->client_id);
	o->p.client_secret = g_strdup(p->client_secret);
	o->p.scope = g_strdup(p->scope);
	o->p.refresh_token = g_strdup(p->refresh_token);
	o->p.private_key_pem = g_strdup(p->private_key_pem);
	o->p.jwt_subject = g_strdup(p->jwt_subject);
	o->p.jwt_audience = g_strdup(p->jwt_audience);
}

/* A client for one profile's tokens. */
oauth_client *
oauth_new(const oauth_params *params, http_client *http, crm_db *db, GError **err)
{
	oauth_client *o;

	if (params->token_url == NULL || params->client_id == NULL || params->profile == NULL ||
	    (params->grant == OAUTH_JWT_BEARER ? params->private_key_pem == NULL ||
	     params->jwt_subject == NULL || params->jwt_audience == NULL :
	     params->client_secret == NULL) ||
	    (params->grant == OAUTH_REFRESH_TOKEN && params->refresh_token == NULL)) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		    "OAuth2: the token URL, client id and the grant's secrets are needed");
		return NULL;
	}
	o = g_new0(oauth_client, 1);
	copy_params(o, params);
	o->http = http;
	o->db = db;
	return o;
}

/* Free a string that held a secret. */
static void
wipe(const char *s)
{
	if (s != NULL) {
		memset((char *)s, 0, strlen(s));
		g_free((char *)s);
	}
}

/* Free. */
oauth_client *
oauth_free(oauth_client *o)
{
	if (o == NULL)
		return NULL;
	g_free((char *)o->p.profile);
	g_free((char *)o->p.token_url);
	g_free((char *)o->p.client_id);
	wipe(o->p.client_secret);
	g_free((char *)o->p.scope);
	wipe(o->p.refresh_token);
	wipe(o->p.private_key_pem);
	g_free((char *)o->p.jwt_subject);
	g_free((char *)o->p.jwt_audience);
	wipe(o->token);
	g_free(o->instance_url);
	g_free(o);
	return NULL;
}

/* base64url without padding. */
static char *
b64url(const guchar *data, gsize len)
{
	char *s = g_base64_encode(data, len);
	char *p;

	for (p = s; *p != '\0'; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=') {
			*p = '\0';
			break;
		}
	}
	return s;
}

/* The RS256-signed assertion, or NULL with res set (a bad key is permanent). */
static char *
jwt_assertion(const oauth_client *o, gint64 now, conn_result *res)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g = json_generator_new();
	JsonNode *root;
	char *claims, *head, *body, *input, *sig64 = NULL, *out = NULL;
	BIO *bio = BIO_new_mem_buf(o->p.private_key_pem, -1);
	EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	guchar *sig = NULL;
	size_t siglen = 0;
	static const char header[] = "{\"alg\":\"RS256\"}";

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "iss");
	json_builder_add_string_value(b, o->p.client_id);
	json_builder_set_member_name(b, "sub");
	json_builder_add_string_value(b, o->p.jwt_subject);
	json_builder_set_member_name(b, "aud");
	json_builder_add_string_value(b, o->p.jwt_audience);
	json_builder_set_member_name(b, "exp");
	json_builder_add_int_value(b, now + 180);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(g, root);
	json_node_unref(root);
	claims = json_generator_to_data(g, NULL);
	head = b64url((const guchar *)header, sizeof(header) - 1);
	body = b64url((const guchar *)claims, strlen(claims));
	input = g_strdup_printf("%s.%s", head, body);
	if (key == NULL || md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const guchar *)input, strlen(input)) != 1 ||
	    (sig = g_malloc(siglen)) == NULL ||
	    EVP_DigestSign(md, sig, &siglen, (const guchar *)input, strlen(input)) != 1) {
		unsigned long e = ERR_get_error();
		res->status = CONN_PERMANENT;
		res->error = g_strdup_printf("OAuth2: cannot sign the JWT with the private key: %s",
		    e != 0 ? ERR_reason_error_string(e) : "not an RSA private key in PEM");
	} else {
		sig64 = b64url(sig, siglen);
		out = g_strdup_printf("%s.%s", input, sig64);
	}
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(bio);
	g_free(sig);
	g_free(sig64);
	g_free(input);
	g_free(head);
	g_free(body);
	g_free(claims);
	g_object_unref(g);
	g_object_unref(b);
	return out;
}

/* Append "&name=value" (form-encoded). */
static void
form_add(GString *f, const char *name, const char *value)
{
	char *v = g_uri_escape_string(value, NULL, FALSE);

	g_string_append_printf(f, "%s%s=%s", f->len > 0 ? "&" : "", name, v);
	g_free(v);
}

/* The request body of the grant, or NULL with res set. */
static GString *
grant_body(const oauth_client *o, gint64 now, conn_result *res)
{
	GString *f = g_string_new(NULL);
	char *jwt;

	switch (o->p.grant) {
	case OAUTH_CLIENT_CREDENTIALS:
		form_add(f, "grant_type", "client_credentials");
		form_add(f, "client_id", o->p.client_id);
		form_add(f, "client_secret", o->p.client_secret);
		if (o->p.scope != NULL)
			form_add(f, "scope", o->p.scope);
		break;
	case OAUTH_REFRESH_TOKEN:
		form_add(f, "grant_type", "refresh_token");
		form_add(f, "client_id", o->p.client_id);
		form_add(f, "client_secret", o->p.client_secret);
		form_add(f, "refresh_token", o->p.refresh_token);
		break;
	case OAUTH_JWT_BEARER:
		if ((jwt = jwt_assertion(o, now, res)) == NULL) {
			g_string_free(f, TRUE);
			return NULL;
		}
		form_add(f, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
		form_add(f, "assertion", jwt);
		g_free(jwt);
		break;
	}
	return f;
}

/* A string member, or NULL. */
static const char *
member(JsonObject *obj, const char *name)
{
	JsonNode *n = obj != NULL ? json_object_get_member(obj, name) : NULL;

	return n != NULL && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ?
	    json_node_get_string(n) : NULL;
}

/* expires_in as seconds (a number or a numeric string), or -1. */
static gint64
expires_in(JsonObject *obj)
{
	JsonNode *n = obj != NULL ? json_object_get_member(obj, "expires_in") : NULL;
	guint64 v;

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n))
		return -1;
	if (json_node_get_value_type(n) == G_TYPE_INT64)
		return json_node_get_int(n);
	if (json_node_get_value_type(n) == G_TYPE_STRING &&
	    g_ascii_string_to_unsigned(json_node_get_string(n), 10, 0, G_MAXINT32, &v, NULL))
		return (gint64)v;
	return -1;
}

/* Ask the token endpoint; TRUE with the token in o. */
static gboolean
fetch(oauth_client *o, gint64 now, conn_result *res)
{
	static const char *const headers[] = {
		"Content-Type: application/x-www-form-urlencoded", "Accept: application/json", NULL
	};
	GString *form = grant_body(o, now, res);
	http_request rq = { "POST", o->p.token_url, headers, NULL, 0 };
	http_response rs;
	JsonParser *parser = json_parser_new();
	JsonObject *obj = NULL;
	const char *tok, *error, *desc, *inst;
	gint64 life;
	gboolean ok = FALSE;

	if (form == NULL) {
		g_object_unref(parser);
		return FALSE;
	}
	rq.body = form->str;
	rq.body_len = form->len;
	(void)http_perform(o->http, &rq, &rs);
	memset(form->str, 0, form->len);
	g_string_free(form, TRUE);
	if (rs.status != 0 && rs.body->len > 0 &&
	    json_parser_load_from_data(parser, (const char *)rs.body->data, rs.body->len, NULL) &&
	    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
		obj = json_node_get_object(json_parser_get_root(parser));
	tok = member(obj, "access_token");
	error = member(obj, "error");
	desc = member(obj, "error_description");
	if (rs.status >= 200 && rs.status < 300 && tok != NULL && *tok != '\0') {
		life = expires_in(obj);
		if (life <= 0)
			life = o->p.default_lifetime > 0 ? o->p.default_lifetime : 3600;
		inst = member(obj, "instance_url");
		if (inst == NULL)
			inst = member(obj, "api_domain");
		wipe(o->token);
		g_free(o->instance_url);
		o->token = g_strdup(tok);
		o->instance_url = g_strdup(inst);
		o->expires_at = now + life;
		o->minted_at = now;
		ok = TRUE;
	} else if (rs.status >= 200 && rs.status < 300) {
		/* Zoho answers a throttled mint with 200 and "Access Denied" */
		res->status = CONN_RETRY;
		res->retry_after = 60;
		res->error = g_strdup_printf("OAuth2 token endpoint: no token (%s%s%s)",
		    error != NULL ? error : "no access_token", desc != NULL ? ": " : "",
		    desc != NULL ? desc : "");
	} else if (error != NULL && (rs.status == 400 || rs.status == 401)) {
		res->status = CONN_PERMANENT;
		res->error = g_strdup_printf("OAuth2 token endpoint: HTTP %ld %s%s%s", rs.status, error,
		    desc != NULL ? ": " : "", desc != NULL ? desc : "");
	} else {
		http_outcome(&rs, "OAuth2 token endpoint", now, res);
		if (res->status == CONN_OK) {          /* 2xx already handled above */
			res->status = CONN_RETRY;
			res->error = g_strdup("OAuth2 token endpoint: unreadable answer");
		}
	}
	http_response_clear(&rs);
	g_object_unref(parser);
	return ok;
}

/* A usable token. */
const char *
oauth_token(oauth_client *o, gint64 now, const char **instance_url, conn_result *res)
{
	int margin = OAUTH_MARGIN;
	GError *e = NULL;

	if (o->p.grant == OAUTH_REFRESH_TOKEN)
		margin = 300;            /* Zoho: mint rarely, well before expiry */
	if (o->token == NULL || o->expires_at <= now + margin) {
		gint64 until = 0;
		char *inst = NULL, *cached = o->db != NULL ?
		    crm_token_get(o->db, o->p.profile, now, margin, &inst, &until, &e) : NULL;
		g_clear_error(&e);      /* a cache we cannot read: fetch */
		if (cached != NULL) {
			wipe(o->token);
			g_free(o->instance_url);
			o->token = cached;
			o->instance_url = inst;
			o->expires_at = until;
		} else if (o->refused_fresh) {
			res->status = CONN_PERMANENT;
			res->error = g_strdup("OAuth2: a token minted moments ago was refused (check "
			    "the client's permissions and scope)");
			return NULL;
		} else {
			if (!fetch(o, now, res))
				return NULL;
			if (o->db != NULL && !crm_token_put(o->db, o->p.profile, o->token,
			    o->instance_url, o->expires_at, now, &e))
				g_clear_error(&e);     /* only the cache is lost */
		}
	}
	if (instance_url != NULL)
		*instance_url = o->instance_url;
	return o->token;
}

/* Forget the token the CRM refused. */
void
oauth_invalidate(oauth_client *o)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (o->minted_at > 0 && now - o->minted_at < FRESH_MINT_SECONDS)
		o->refused_fresh = TRUE;
	wipe(o->token);
	o->token = NULL;
	o->expires_at = 0;
	if (o->db != NULL)
		(void)crm_token_forget(o->db, o->p.profile, NULL);
}

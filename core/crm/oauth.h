/*
 * oauth.h - OAuth2 access tokens for the CRM connectors, fetched with
 * the profile's HTTP client (so the profile's rate limit and pauses hold)
 * and cached in memory and in the spool database (records.h), reused
 * until OAUTH_MARGIN seconds before they expire:
 *   OAUTH_CLIENT_CREDENTIALS  Entra ID (Dataverse, scope "<org>/.default"),
 *                             Salesforce client credentials flow;
 *   OAUTH_REFRESH_TOKEN       Zoho (a refresh token from token_file; Zoho
 *                             limits how often one may be minted, hence
 *                             the database cache shared by all workers);
 *   OAUTH_JWT_BEARER          Salesforce JWT bearer flow (RS256 assertion
 *                             signed with the private key: iss client_id,
 *                             sub username, aud the login URL, exp +3 min).
 * A connector that gets 401 calls oauth_invalidate and retries once.
 * Token endpoint answers: 2xx with access_token -> the token; 400/401
 * (invalid_client, invalid_grant...) -> CONN_PERMANENT with the vendor's
 * error and error_description; 429/5xx/no answer -> CONN_RETRY.
 *
 * Ownership: oauth_new copies params (strings included) and borrows http
 * and db; oauth_free (NULL-safe, returns NULL). The token and instance
 * URL returned are borrowed until the next call. One worker uses a client
 * at a time.
 *
 * Public: oauth_new, oauth_free, oauth_token, oauth_invalidate, OAUTH_MARGIN.
 */
#ifndef CRM_OAUTH_H
#define CRM_OAUTH_H

#include <glib.h>

#include "connector.h"
#include "http.h"

#define OAUTH_MARGIN 60

typedef enum {
	OAUTH_CLIENT_CREDENTIALS,
	OAUTH_REFRESH_TOKEN,
	OAUTH_JWT_BEARER
} oauth_grant;

typedef struct oauth_params {
	oauth_grant grant;
	const char *profile;          /* cache key */
	const char *token_url;
	const char *client_id;
	const char *client_secret;    /* client credentials, refresh token */
	const char *scope;            /* or NULL */
	const char *refresh_token;    /* OAUTH_REFRESH_TOKEN */
	const char *private_key_pem;  /* OAUTH_JWT_BEARER */
	const char *jwt_subject;
	const char *jwt_audience;
	int default_lifetime;         /* s when the answer has no expires_in */
} oauth_params;

typedef struct oauth_client oauth_client;

oauth_client *oauth_new(const oauth_params *params, http_client *http, crm_db *db,
    GError **err);
oauth_client *oauth_free(oauth_client *o);
/* A usable token; NULL with res set. *instance_url (if not NULL) gets the
 * URL the token endpoint named (Salesforce instance_url, Zoho api_domain),
 * or NULL. */
const char *oauth_token(oauth_client *o, gint64 now, const char **instance_url,
    conn_result *res);
/* The CRM refused the token: fetch a new one next time. */
void oauth_invalidate(oauth_client *o);

#endif

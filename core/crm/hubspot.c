/*
 * crm/hubspot.c - the `hubspot` connector's ops, its state (the private
 * app token of token_file, the HTTP client) and the one function every
 * request goes through. Saving is in hubspot_save.c; see hubspot.h for
 * the other files and the defaults.
 *
 * Answers: 401 is dead (a private app token cannot be refreshed; the token
 * file is re-read once in case it was replaced), 429 pauses the profile for
 * Retry-After or the policy in the body (TEN_SECONDLY_ROLLING 10 s,
 * secondly 1 s, DAILY until local midnight), 5xx and no answer retry, other
 * 4xx are dead with HubSpot's category and message.
 */
#include "buildconf.h"
#include <string.h>

#include "hubspot.h"
#include "../readfile.h"

#define ERROR_MAX 1024

/* A string member (a number as text too), or NULL. */
char *
hs_json_string(JsonObject *o, const char *name)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, name) : NULL;

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n))
		return NULL;
	if (json_node_get_value_type(n) == G_TYPE_STRING)
		return g_strdup(json_node_get_string(n));
	if (json_node_get_value_type(n) == G_TYPE_INT64)
		return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
	return NULL;
}

/* An array member, or NULL. */
JsonArray *
hs_json_array(JsonObject *o, const char *name)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, name) : NULL;

	return n != NULL && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

/* An object member, or NULL. */
JsonObject *
hs_json_object(JsonObject *o, const char *name)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, name) : NULL;

	return n != NULL && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* The builder's root as JSON text; frees the builder. */
char *
hs_to_string(JsonBuilder *b)
{
	JsonGenerator *g = json_generator_new();
	JsonNode *root = json_builder_get_root(b);
	char *out;

	json_generator_set_root(g, root);
	out = json_generator_to_data(g, NULL);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
	return out;
}

/* Milliseconds since the epoch as text. */
char *
hs_ms(gint64 secs, int extra_ms)
{
	return g_strdup_printf("%" G_GINT64_FORMAT, secs * 1000 + extra_ms);
}

/* Wait for this worker's turn to search (CRM search: 5 a second per account). */
void
hs_search_wait(hubspot *h)
{
	gint64 gap = (gint64)HS_SEARCH_INTERVAL_US * MAX(h->workers, 1);
	gint64 now = g_get_monotonic_time();

	if (h->last_search > 0 && now < h->last_search + gap)
		g_usleep((gulong)(h->last_search + gap - now));
	h->last_search = g_get_monotonic_time();
}

/* Re-read the token file: TRUE when it now holds another token. */
static gboolean
token_changed(hubspot *h)
{
	GError *e = NULL;
	char *tok = readfile_secret_line(h->profile->token_file, HS_TOKEN_MAX, &e);

	g_clear_error(&e);
	if (tok == NULL || strcmp(tok, h->token) == 0) {
		g_free(tok);
		return FALSE;
	}
	g_free(h->token);
	h->token = tok;
	return TRUE;
}

/* Seconds from now (unix) to the next local midnight. */
static int
until_midnight(gint64 now)
{
	GDateTime *t = g_date_time_new_from_unix_local(now);
	GDateTime *day = g_date_time_new_local(g_date_time_get_year(t), g_date_time_get_month(t),
	    g_date_time_get_day_of_month(t), 0, 0, 0);
	GDateTime *next = g_date_time_add_days(day, 1);
	int secs = (int)(g_date_time_to_unix(next) - now);

	g_date_time_unref(t);
	g_date_time_unref(day);
	g_date_time_unref(next);
	return CLAMP(secs, 1, 86400);
}

/* Keep HubSpot's own words for an answer that is not 2xx. */
static void
vendor_error(hubspot *h, const http_response *rs, const char *what, gint64 now, conn_result *res)
{
	JsonParser *p = json_parser_new();
	JsonObject *o = NULL;
	char *msg = NULL, *cat = NULL, *policy = NULL;

	if (rs->body->len > 0 && json_parser_load_from_data(p, (const char *)rs->body->data,
	    (gssize)rs->body->len, NULL) && JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)))
		o = json_node_get_object(json_parser_get_root(p));
	msg = hs_json_string(o, "message");
	cat = hs_json_string(o, "category");
	policy = hs_json_string(o, "policyName");
	if (rs->status == 429 && res->retry_after < 0) {
		/* no Retry-After: the policy says how long (notes 1.8) */
		int secs = 10;
		if (g_strcmp0(policy, "DAILY") == 0)
			secs = until_midnight(now);
		else if (policy == NULL && msg != NULL && strstr(msg, "secondly") != NULL)
			secs = 1;
		limiter_pause(h->limiter, secs);
		res->retry_after = secs;
	}
	if (msg != NULL) {
		g_free(res->error);
		res->error = g_strdup_printf("%s: HTTP %ld %s: %s", what, rs->status,
		    cat != NULL ? cat : (policy != NULL ? policy : "error"), msg);
	}
	if (rs->status == 401) {
		char *more = g_strdup_printf("%s (the private app token in %s was refused; a new one "
		    "must be put there)", res->error, h->profile->token_file);
		g_free(res->error);
		res->error = more;
		res->status = CONN_PERMANENT;
	}
	if (res->error != NULL && strlen(res->error) > ERROR_MAX)
		res->error[ERROR_MAX] = '\0';
	g_free(msg);
	g_free(cat);
	g_free(policy);
	g_object_unref(p);
}

/* One API call with a body of any type (see hubspot.h). */
JsonNode *
hs_call_body(hubspot *h, const char *method, const char *path, const char *content_type,
    const void *body, gsize len, const char *what, gint64 now, long *status, conn_result *res)
{
	char *url = g_strconcat(h->base, path, NULL);
	char *ctype = g_strdup_printf("Content-Type: %s", content_type);
	JsonNode *out = NULL;
	http_response rs;

	for (int attempt = 0;; attempt++) {
		char *auth = g_strdup_printf("Authorization: Bearer %s", h->token);
		const char *headers[] = { auth, ctype, "Accept: application/json", NULL };
		http_request rq = { method, url, headers, body, len };

		(void)http_perform(h->http, &rq, &rs);
		g_free(auth);
		if (rs.status == 401 && attempt == 0 && token_changed(h)) {
			http_response_clear(&rs);
			continue;
		}
		break;
	}
	if (status != NULL)
		*status = rs.status;
	http_outcome(&rs, what, now, res);
	if (res->status == CONN_OK) {
		JsonParser *p = json_parser_new();
		if (rs.body->len == 0)
			out = json_node_init_object(json_node_alloc(), json_object_new());
		else if (json_parser_load_from_data(p, (const char *)rs.body->data, (gssize)rs.body->len,
		    NULL) && JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)))
			out = json_node_copy(json_parser_get_root(p));
		else {
			res->status = CONN_RETRY;
			res->error = g_strdup_printf("%s: HTTP %ld with an answer that is not a JSON object",
			    what, rs.status);
		}
		g_object_unref(p);
	} else if (rs.status != 0 && rs.paused == 0) {
		vendor_error(h, &rs, what, now, res);
	}
	http_response_clear(&rs);
	g_free(url);
	g_free(ctype);
	return out;
}

/* One API call with a JSON body or none (see hubspot.h). */
JsonNode *
hs_call(hubspot *h, const char *method, const char *path, const char *body,
    const char *what, gint64 now, long *status, conn_result *res)
{
	return hs_call_body(h, method, path, "application/json", body, body != NULL ? strlen(body) : 0,
	    what, now, status, res);
}

/* Open: the token (refusing a file open to others) and the HTTP client. */
static void *
hubspot_open(const conn_env *env, GError **err)
{
	const crm_profile *p = env->profile;
	hubspot *h;
	char *token;
	double rate;

	if (p->token_file == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		    "crm \"%s\": hubspot needs token_file (the private app's access token)", p->name);
		return NULL;
	}
	if ((token = readfile_secret_line(p->token_file, HS_TOKEN_MAX, err)) == NULL)
		return NULL;
	h = g_new0(hubspot, 1);
	h->profile = p;
	h->db = env->db;
	h->limiter = env->limiter;
	h->token = token;
	h->base = g_strdup(p->url != NULL && *p->url != '\0' ? p->url : HS_DEFAULT_URL);
	while (g_str_has_suffix(h->base, "/"))
		h->base[strlen(h->base) - 1] = '\0';
	h->batch = p->batch_size > 0 ? (guint)MIN(p->batch_size, HS_BATCH_MAX) : HS_BATCH_MAX;
	connector_limits(p, &h->workers, &rate);
	/* HubSpot answers a create with the whole object: it must fit */
	h->max_body = MIN((gsize)p->max_body_size, (gsize)p->max_response_size / 4);
	h->max_request = MAX((gsize)p->max_response_size / 2, 4096);
	if ((h->http = http_client_for(env, err)) == NULL) {
		g_free(h->token);
		g_free(h->base);
		g_free(h);
		return NULL;
	}
	return h;
}

/* Close. */
static void
hubspot_close(void *state)
{
	hubspot *h = state;

	if (h == NULL)
		return;
	http_client_free(h->http);
	g_free(h->token);
	g_free(h->base);
	g_free(h);
}

/* Inputs per batch create. */
static guint
hubspot_batch_size(void *state)
{
	return ((hubspot *)state)->batch;
}

const connector_ops connector_hubspot_ops = {
	.type = "hubspot",
	.open = hubspot_open,
	.save_activity = hs_save_activity,
	.send_event = hs_event,
	.close = hubspot_close,
	.save_batch = hs_save_batch,
	.batch_size = hubspot_batch_size,
	.sync_directory = hs_sync_directory,
	.default_concurrency = HS_DEFAULT_WORKERS,
	.default_rate = HS_DEFAULT_RATE,
};

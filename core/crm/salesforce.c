/*
 * crm/salesforce.c - the `salesforce` connector: Salesforce REST API
 * (api_version, default v61.0) through the instance URL the token answer
 * names. This file: open/close, one REST call with its faults mapped,
 * SOQL with nextRecordsUrl paging, the JSON and sObject Collections
 * helpers the other files share. Activities: salesforce_save.c and
 * salesforce_parts.c; rollups: salesforce_rollup.c; the directory:
 * salesforce_sync.c (salesforce.h says what is where).
 *
 * Auth (notes §3.1, §3.2): OAuth2 client credentials (client_id,
 * client_secret_file) or JWT bearer (auth = jwt_bearer: client_id,
 * username, private_key_file; aud https://login.salesforce.com, or
 * https://test.salesforce.com for a sandbox My Domain or a
 * test.salesforce.com token_url); token_url defaults to url +
 * /services/oauth2/token. Token answers carry no expires_in: a token is
 * reused for SF_SESSION_GUESS s (the shortest session timeout an org can
 * set) and refreshed once on 401 INVALID_SESSION_ID.
 *
 * Faults: 403 (or 429) REQUEST_LIMIT_EXCEEDED is the org's rolling 24-hour
 * API allocation used up (§0, §3.4): the profile pauses Retry-After, else
 * SF_LIMIT_PAUSE s, since calls sent sooner would fail the same way and
 * count; 503/5xx/timeouts retry with backoff; other 4xx are dead with the
 * errorCode and message kept.
 *
 * Defaults (inside the published limits, notes §0): 2 workers (Developer
 * and trial orgs allow 5 concurrent long-running requests, production 25;
 * short requests are not limited) and 1 request per second (86,400 calls a
 * day at most, under the smallest Enterprise allocation of 100,000 a day;
 * with collections of 200 that is still about 50 activities a second);
 * 200 activities per collections call, the API's maximum.
 */
#include "buildconf.h"
#include <stdarg.h>
#include <string.h>

#include "salesforce.h"
#include "jobdata.h"
#include "records.h"
#include "../log.h"
#include "../readfile.h"

#define SECRET_MAX 4096
#define KEY_MAX (64 * 1024)

/* ------------------------------------------------------------ helpers */

/* A 15- or 18-character Id. */
gboolean
sf_is_id(const char *id)
{
	gsize n = id != NULL ? strlen(id) : 0;

	if (n != 15 && n != 18)
		return FALSE;
	for (gsize i = 0; i < n; i++)
		if (!g_ascii_isalnum(id[i]))
			return FALSE;
	return TRUE;
}

/* A SOQL string literal ("Quoted String Escape Sequences"). */
char *
sf_soql_quote(const char *text)
{
	GString *q = g_string_new("'");

	for (const char *p = text; *p != '\0'; p++) {
		switch (*p) {
		case '\'': g_string_append(q, "\\'"); break;
		case '"': g_string_append(q, "\\\""); break;
		case '\\': g_string_append(q, "\\\\"); break;
		case '\n': g_string_append(q, "\\n"); break;
		case '\r': g_string_append(q, "\\r"); break;
		case '\t': g_string_append(q, "\\t"); break;
		case '\b': g_string_append(q, "\\b"); break;
		case '\f': g_string_append(q, "\\f"); break;
		default:
			g_string_append_c(q, (guchar)*p < 0x20 ? ' ' : *p);
		}
	}
	g_string_append_c(q, '\'');
	return g_string_free(q, FALSE);
}

/* Free what sf_call filled in. */
void
sf_answer_clear(sf_answer *ans)
{
	if (ans->parser != NULL)
		g_object_unref(ans->parser);
	memset(ans, 0, sizeof(*ans));
}

/* The first errorCode and message of a REST error body (a JSON array). */
static void
error_of(JsonNode *root, const char **code, const char **msg)
{
	JsonArray *a = root != NULL && JSON_NODE_HOLDS_ARRAY(root) ? json_node_get_array(root) : NULL;
	JsonNode *first = a != NULL && json_array_get_length(a) > 0 ? json_array_get_element(a, 0) : NULL;
	JsonObject *o = first != NULL && JSON_NODE_HOLDS_OBJECT(first) ? json_node_get_object(first) : NULL;

	*code = jobdata_meta_string(o, "errorCode");
	*msg = jobdata_meta_string(o, "message");
}

/* Set res for an answer that is not 2xx. */
static void
map_error(sf *s, const http_response *rs, JsonNode *root, const char *what, gint64 now,
    conn_result *res)
{
	const char *code = NULL, *msg = NULL;
	char *where = g_strdup_printf("salesforce %s", what);

	error_of(root, &code, &msg);
	if (rs->status == 429 || (rs->status == 403 && g_strcmp0(code, "REQUEST_LIMIT_EXCEEDED") == 0)) {
		/* the org's rolling 24-hour allocation is used up (or, never
		 * documented, a 429): no call helps before calls age out, so the
		 * whole profile waits, as a Retry-After would make it */
		int wait = http_retry_after(rs, now);
		if (wait <= 0)
			wait = SF_LIMIT_PAUSE;
		limiter_pause(s->limiter, wait);
		g_clear_pointer(&res->error, g_free);
		res->status = CONN_RETRY;
		res->retry_after = wait;
		res->no_attempt = FALSE;
		res->error = g_strdup_printf("%s: HTTP %ld %s: %s (the org's API request limit; "
		    "profile paused %d s)", where, rs->status, code != NULL ? code : "REQUEST_LIMIT_EXCEEDED",
		    msg != NULL ? msg : "-", wait);
	} else {
		http_outcome(rs, where, now, res);
		if (code != NULL && rs->status != 0) {
			g_free(res->error);
			res->error = g_strdup_printf("%s: HTTP %ld %s: %s", where, rs->status, code,
			    msg != NULL ? msg : "-");
		}
	}
	g_free(where);
}

/* The full URL of path: from the instance, or from the versioned data base. */
static char *
url_of(sf *s, const char *instance, const char *path)
{
	const char *base = instance != NULL && *instance != '\0' ? instance : s->profile->url;
	gsize n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (g_str_has_prefix(path, "/services/"))
		return g_strdup_printf("%.*s%s", (int)n, base, path);
	return g_strdup_printf("%.*s/services/data/%s%s", (int)n, base, s->version, path);
}

/* One REST call (see salesforce.h). */
gboolean
sf_call(sf *s, const char *method, const char *path, const char *body, gint64 now,
    const char *what, sf_answer *ans, conn_result *res)
{
	memset(ans, 0, sizeof(*ans));
	for (int attempt = 0; attempt < 2; attempt++) {
		const char *instance = NULL, *tok;
		conn_result tr = { CONN_OK, -1, NULL, FALSE };
		http_response rs;

		if ((tok = oauth_token(s->oauth, now, &instance, &tr)) == NULL) {
			g_free(res->error);
			*res = tr;
			return FALSE;
		}
		char *url = url_of(s, instance, path);
		char *auth = g_strdup_printf("Authorization: Bearer %s", tok);
		const char *headers[] = { auth, "Accept: application/json",
		    body != NULL ? "Content-Type: application/json" : NULL, NULL };
		http_request rq = { method, url, headers, body, body != NULL ? strlen(body) : 0 };

		(void)http_perform(s->http, &rq, &rs);
		memset(auth, 0, strlen(auth));
		g_free(auth);
		g_free(url);
		if (rs.status == 401 && attempt == 0) {
			/* INVALID_SESSION_ID: the session ended; one new token */
			oauth_invalidate(s->oauth);
			http_response_clear(&rs);
			continue;
		}
		ans->status = rs.status;
		ans->parser = json_parser_new();
		if (rs.status != 0 && rs.body->len > 0 &&
		    json_parser_load_from_data(ans->parser, (const char *)rs.body->data,
		    (gssize)rs.body->len, NULL))
			ans->root = json_parser_get_root(ans->parser);
		if (rs.status >= 200 && rs.status < 300) {
			http_response_clear(&rs);
			return TRUE;
		}
		map_error(s, &rs, ans->root, what, now, res);
		http_response_clear(&rs);
		return FALSE;
	}
	return FALSE;                   /* not reached */
}

/* The errorCode of a failed call's answer, or NULL. */
const char *
sf_answer_code(const sf_answer *ans)
{
	const char *code = NULL, *msg = NULL;

	error_of(ans->root, &code, &msg);
	return code;
}

/* A SOQL query, every page. */
gboolean
sf_query(sf *s, const char *soql, gint64 now, sf_row_fn fn, gpointer user, conn_result *res)
{
	char *q = g_uri_escape_string(soql, NULL, FALSE);
	char *path = g_strdup_printf("/query?q=%s", q);
	gboolean ok = TRUE, more = TRUE;

	g_free(q);
	while (ok && more) {
		sf_answer ans;
		JsonObject *o;
		JsonNode *recs;
		const char *next;

		if (!sf_call(s, "GET", path, NULL, now, "query", &ans, res)) {
			sf_answer_clear(&ans);
			ok = FALSE;
			break;
		}
		o = ans.root != NULL && JSON_NODE_HOLDS_OBJECT(ans.root) ? json_node_get_object(ans.root) : NULL;
		recs = o != NULL ? json_object_get_member(o, "records") : NULL;
		if (recs == NULL || !JSON_NODE_HOLDS_ARRAY(recs)) {
			res->status = CONN_RETRY;
			res->error = g_strdup("salesforce query: an answer without records");
			sf_answer_clear(&ans);
			ok = FALSE;
			break;
		}
		JsonArray *a = json_node_get_array(recs);
		for (guint i = 0; ok && i < json_array_get_length(a); i++) {
			JsonNode *r = json_array_get_element(a, i);
			if (JSON_NODE_HOLDS_OBJECT(r))
				ok = fn(json_node_get_object(r), user, res);
		}
		next = jobdata_meta_string(o, "nextRecordsUrl");
		more = !json_object_get_boolean_member_with_default(o, "done", TRUE) && next != NULL;
		if (ok && more && (!g_str_has_prefix(next, "/services/data/") || strcmp(next, path) == 0)) {
			res->status = CONN_RETRY;
			res->error = g_strdup_printf("salesforce query: unusable nextRecordsUrl %s", next);
			ok = FALSE;
		}
		if (ok && more) {
			g_free(path);
			path = g_strdup(next);
		}
		sf_answer_clear(&ans);
	}
	g_free(path);
	return ok;
}

/* A JSON text of a builder's root. */
char *
sf_json_text(JsonBuilder *b)
{
	JsonGenerator *g = json_generator_new();
	JsonNode *root = json_builder_get_root(b);
	char *out;

	json_generator_set_root(g, root);
	out = json_generator_to_data(g, NULL);
	json_node_unref(root);
	g_object_unref(g);
	return out;
}

/* {"name": value, ...} from NULL-terminated name/value pairs. */
char *
sf_json_fields(const char *name, ...)
{
	JsonBuilder *b = json_builder_new();
	va_list ap;
	char *out;

	json_builder_begin_object(b);
	va_start(ap, name);
	for (const char *n = name; n != NULL; n = va_arg(ap, const char *)) {
		json_builder_set_member_name(b, n);
		json_builder_add_string_value(b, va_arg(ap, const char *));
	}
	va_end(ap);
	json_builder_end_object(b);
	out = sf_json_text(b);
	g_object_unref(b);
	return out;
}

/* The id of a 201 create answer, or NULL. */
const char *
sf_created_id(const sf_answer *ans)
{
	JsonObject *o = ans->root != NULL && JSON_NODE_HOLDS_OBJECT(ans->root) ?
	    json_node_get_object(ans->root) : NULL;
	const char *id = jobdata_meta_string(o, "id");

	return sf_is_id(id) ? id : NULL;
}

/* The first n characters of s (UTF-8), as a new string. */
char *
sf_cut_chars(const char *s, glong n)
{
	return g_utf8_strlen(s, -1) <= n ? g_strdup(s) :
	    g_strndup(s, (gsize)(g_utf8_offset_to_pointer(s, n) - s));
}

/* Add "name": text cut to limit characters (when text is set). */
void
sf_add_cut(JsonBuilder *b, const char *name, const char *text, int limit)
{
	char *v;

	if (text == NULL || *text == '\0')
		return;
	v = sf_cut_chars(text, limit);
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, v);
	g_free(v);
}

/* A per-record error code worth another try later. */
gboolean
sf_retryable(const char *code)
{
	static const char *const codes[] = { "UNABLE_TO_LOCK_ROW", "UNKNOWN_EXCEPTION",
	    "SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "QUERY_TIMEOUT",
	    "ALL_OR_NONE_OPERATION_ROLLED_BACK", NULL };

	for (const char *const *c = codes; *c != NULL; c++)
		if (g_strcmp0(code, *c) == 0)
			return TRUE;
	return FALSE;
}

/* The outcome of one record of a collections answer: its id (borrowed),
 * else *code, *msg and the fields named (a new ", "-joined string). */
const char *
sf_record_result(JsonArray *a, guint i, const char **code, const char **msg, GString *fields)
{
	JsonNode *n = i < json_array_get_length(a) ? json_array_get_element(a, i) : NULL;
	JsonObject *o = n != NULL && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
	JsonNode *errs = o != NULL ? json_object_get_member(o, "errors") : NULL;
	JsonArray *ea = errs != NULL && JSON_NODE_HOLDS_ARRAY(errs) ? json_node_get_array(errs) : NULL;
	JsonNode *e0 = ea != NULL && json_array_get_length(ea) > 0 ? json_array_get_element(ea, 0) : NULL;
	JsonObject *eo = e0 != NULL && JSON_NODE_HOLDS_OBJECT(e0) ? json_node_get_object(e0) : NULL;
	JsonNode *f = eo != NULL ? json_object_get_member(eo, "fields") : NULL;

	*code = jobdata_meta_string(eo, "statusCode");
	*msg = jobdata_meta_string(eo, "message");
	for (guint k = 0; f != NULL && JSON_NODE_HOLDS_ARRAY(f) && k < json_array_get_length(json_node_get_array(f)); k++) {
		JsonNode *fk = json_array_get_element(json_node_get_array(f), k);
		if (JSON_NODE_HOLDS_VALUE(fk) && json_node_get_value_type(fk) == G_TYPE_STRING)
			g_string_append_printf(fields, "%s%s", fields->len > 0 ? ", " : "", json_node_get_string(fk));
	}
	if (o != NULL && json_object_get_boolean_member_with_default(o, "success", FALSE) &&
	    sf_is_id(jobdata_meta_string(o, "id")))
		return jobdata_meta_string(o, "id");
	if (*code == NULL)
		*code = "NO_RESULT";
	return NULL;
}

/* POST a collection; the per-record results (an array of n), or NULL with
 * res set. */
JsonArray *
sf_post_collection(sf *s, JsonBuilder *records, guint n, gint64 now, const char *what,
    sf_answer *ans, conn_result *res)
{
	char *body;
	gboolean ok;

	json_builder_end_array(records);
	json_builder_end_object(records);
	body = sf_json_text(records);
	ok = sf_call(s, "POST", "/composite/sobjects", body, now, what, ans, res);
	g_free(body);
	if (ok && (ans->root == NULL || !JSON_NODE_HOLDS_ARRAY(ans->root) ||
	    json_array_get_length(json_node_get_array(ans->root)) != n)) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("salesforce %s: the answer does not have %u results", what, n);
		ok = FALSE;
	}
	return ok ? json_node_get_array(ans->root) : NULL;
}

/* A new collections body, its records array open. */
JsonBuilder *
sf_collection_begin(void)
{
	JsonBuilder *b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "allOrNone");
	json_builder_add_boolean_value(b, FALSE);
	json_builder_set_member_name(b, "records");
	json_builder_begin_array(b);
	return b;
}

/* ------------------------------------------------------------ open */

/* "v61.0" from "v61.0" or "61.0"; NULL if it is neither. */
static char *
version_of(const char *v)
{
	const char *digits = v != NULL && (v[0] == 'v' || v[0] == 'V') ? v + 1 : v;
	const char *dot = digits != NULL ? strchr(digits, '.') : NULL;

	if (v == NULL || *v == '\0')
		return g_strdup(SF_DEFAULT_VERSION);
	if (dot == NULL || dot == digits || dot[1] == '\0')
		return NULL;
	for (const char *p = digits; *p != '\0'; p++)
		if (!g_ascii_isdigit(*p) && p != dot)
			return NULL;
	return g_strdup_printf("v%s", digits);
}

/* The JWT audience: the login server (notes §3.2). */
static char *
jwt_audience(const crm_profile *p)
{
	GUri *t = p->token_url != NULL ? g_uri_parse(p->token_url, G_URI_FLAGS_NONE, NULL) : NULL;
	GUri *u = g_uri_parse(p->url, G_URI_FLAGS_NONE, NULL);
	const char *th = t != NULL ? g_uri_get_host(t) : NULL, *uh = u != NULL ? g_uri_get_host(u) : NULL;
	char *aud;

	if (g_strcmp0(th, "login.salesforce.com") == 0 || g_strcmp0(th, "test.salesforce.com") == 0)
		aud = g_strdup_printf("https://%s", th);
	else if (uh != NULL && (g_str_has_suffix(uh, ".sandbox.my.salesforce.com") ||
	    strcmp(uh, "test.salesforce.com") == 0))
		aud = g_strdup("https://test.salesforce.com");
	else
		aud = g_strdup("https://login.salesforce.com");
	if (t != NULL)
		g_uri_unref(t);
	if (u != NULL)
		g_uri_unref(u);
	return aud;
}

/* Close; NULL-safe. */
static void
sf_close(void *state)
{
	sf *s = state;

	if (s == NULL)
		return;
	oauth_free(s->oauth);
	http_client_free(s->http);
	g_free(s->version);
	g_free(s);
}

/* Fail open with a message naming the profile. */
static void *
open_fail(sf *s, GError **err, const char *what)
{
	g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "crm \"%s\": %s",
	    s->profile->name, what);
	sf_close(s);
	return NULL;
}

/* Open: read the secret or key (refusing a file open to others), make the
 * HTTP and OAuth2 clients. No network. */
static void *
sf_open(const conn_env *env, GError **err)
{
	const crm_profile *p = env->profile;
	oauth_params op = { 0 };
	sf *s = g_new0(sf, 1);
	char *secret = NULL, *token_url, *aud = NULL;
	gboolean jwt = p->auth == CRM_AUTH_JWT_BEARER;

	s->profile = p;
	s->db = env->db;
	s->limiter = env->limiter;
	s->max_body_chars = p->max_body_chars > 0 ? p->max_body_chars : 32000;
	s->batch = p->batch_size > 0 ? MIN((guint)p->batch_size, SF_COLLECTION_MAX) : SF_COLLECTION_MAX;
	if (p->url == NULL || p->client_id == NULL)
		return open_fail(s, err, "salesforce needs url and client_id");
	if ((s->version = version_of(p->api_version)) == NULL)
		return open_fail(s, err, "api_version must look like v61.0");
	if (jwt && (p->username == NULL || p->private_key_file == NULL))
		return open_fail(s, err, "auth = jwt_bearer needs username and private_key_file");
	if (!jwt && p->client_secret_file == NULL)
		return open_fail(s, err, "auth = client_credentials needs client_secret_file");
	secret = jwt ? readfile_text(p->private_key_file, KEY_MAX, READFILE_SECRET, NULL, NULL, err) :
	    readfile_secret_line(p->client_secret_file, SECRET_MAX, err);
	if (secret == NULL) {
		sf_close(s);
		return NULL;
	}
	if (jwt && strstr(secret, "PRIVATE KEY-----") == NULL) {
		memset(secret, 0, strlen(secret));
		g_free(secret);
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a PEM private key",
		    p->private_key_file);
		sf_close(s);
		return NULL;
	}
	token_url = p->token_url != NULL ? g_strdup(p->token_url) :
	    g_strdup_printf("%s/services/oauth2/token", p->url);
	op.grant = jwt ? OAUTH_JWT_BEARER : OAUTH_CLIENT_CREDENTIALS;
	op.profile = p->name;
	op.token_url = token_url;
	op.client_id = p->client_id;
	op.default_lifetime = SF_SESSION_GUESS;
	if (jwt) {
		aud = jwt_audience(p);
		op.private_key_pem = secret;
		op.jwt_subject = p->username;
		op.jwt_audience = aud;
	} else {
		op.client_secret = secret;
	}
	if ((s->http = http_client_for(env, err)) != NULL)
		s->oauth = oauth_new(&op, s->http, s->db, err);
	memset(secret, 0, strlen(secret));
	g_free(secret);
	g_free(token_url);
	g_free(aud);
	if (s->oauth == NULL) {
		sf_close(s);
		return NULL;
	}
	return s;
}

/* One activity: a batch of one. */
static void
sf_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	const spool_job *jobs[1] = { job };

	sf_save_batch(state, jobs, 1, now, res);
}

/* Activities per sObject Collections call. */
static guint
sf_batch_size(void *state)
{
	sf *s = state;

	return s != NULL ? s->batch : 1;
}

const connector_ops connector_salesforce_ops = {
	.type = "salesforce",
	.open = sf_open,
	.save_activity = sf_save,
	.send_event = sf_send_event,
	.close = sf_close,
	.save_batch = sf_save_batch,
	.batch_size = sf_batch_size,
	.sync_directory = sf_sync_directory,
	.default_concurrency = 2,
	.default_rate = 1.0,
};


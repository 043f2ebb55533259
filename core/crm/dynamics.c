/*
 * crm/dynamics.c - the `dynamics365` connector (Dataverse Web API v9.2,
 * OAuth2 client credentials against Entra ID): opening (the secret file
 * must not be open to other users), the Web API call with its OData
 * headers and one new token after a 401, the de-duplication lookup, and
 * one email saved step by step:
 *   1. records.h: a record this job made already -> finish it;
 *   2. GET emails?$filter=messageid eq '<id>' (its direction must match):
 *      found -> record it, finish it if it is still Open;
 *   3. POST emails (parties deep-inserted, regarding bound), record it at
 *      once; a 4xx with binds (a directory entry or regarding that no
 *      longer exists) is tried once more without binds;
 *   4. POST activitymimeattachments while the email is Open (one the org
 *      refuses is skipped and the email marked "attachments not saved");
 *   5. PATCH statecode 1, statuscode 3 (sent) / 4 (received).
 * A job retried after a crash at any step resumes there: records.h or
 * the lookup finds the email, and while it is Open the rest is done. The
 * email and each attachment carry a primary key derived from the job
 * (dynamics_build.c), so a create sent twice (the answer lost, or libcurl
 * re-sending a POST when a reused connection died) is refused as a
 * duplicate key (0x80040237) and taken as done: never a second record.
 * Batches: dynamics_batch.c.
 *
 * Defaults, inside Dataverse's service protection limits (per user, per
 * 5 minutes: 6,000 requests, 1,200,000 ms of execution time, 52
 * concurrent requests): 3 workers (at most 3 requests in flight, so at
 * most 900,000 ms of execution time per 300 s) and 10 requests per
 * second (3,000 per 5 minutes); $batch of 50 emails (at most 1000
 * operations each).
 */
#include "buildconf.h"
#include <string.h>
#include <json-glib/json-glib.h>

#include "dynamics.h"
#include "records.h"
#include "../readfile.h"

#define SECRET_MAX 4096
#define LOOKUP_URL_MAX 8000   /* bytes of one lookup URL's filter */

/* Open: the client secret, the HTTP client, the token client. */
static void *
dyn_open(const conn_env *env, GError **err)
{
	const crm_profile *p = env->profile;
	oauth_params op = { 0 };
	char *secret, *tenant, *token_url, *scope;
	dyn *d;

	if (p->url == NULL || p->tenant == NULL || p->client_id == NULL ||
	    p->client_secret_file == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "crm \"%s\": dynamics365 "
		    "needs url, tenant, client_id and client_secret_file", p->name);
		return NULL;
	}
	if ((secret = readfile_secret_line(p->client_secret_file, SECRET_MAX, err)) == NULL)
		return NULL;
	d = g_new0(dyn, 1);
	d->profile = p;
	d->db = env->db;
	d->org = g_strdup(p->url);
	while (g_str_has_suffix(d->org, "/"))
		d->org[strlen(d->org) - 1] = '\0';
	d->api = g_strdup_printf("%s/api/data/%s", d->org,
	    p->api_version != NULL ? p->api_version : DYN_DEFAULT_API);
	d->max_body = (gsize)p->max_body_size;
	d->batch = p->batch_size > 0 ? (guint)MIN(p->batch_size, DYN_MAX_OPS / 2) : DYN_DEFAULT_BATCH;
	tenant = g_uri_escape_string(p->tenant, NULL, FALSE);
	token_url = p->token_url != NULL ? g_strdup(p->token_url) :
	    g_strdup_printf("https://login.microsoftonline.com/%s/oauth2/v2.0/token", tenant);
	scope = g_strdup_printf("%s/.default", d->org);
	op.grant = OAUTH_CLIENT_CREDENTIALS;
	op.profile = p->name;
	op.token_url = token_url;
	op.client_id = p->client_id;
	op.client_secret = secret;
	op.scope = scope;
	op.default_lifetime = 3599;
	if ((d->http = http_client_for(env, err)) == NULL ||
	    (d->oauth = oauth_new(&op, d->http, env->db, err)) == NULL) {
		http_client_free(d->http);
		g_free(d->org);
		g_free(d->api);
		g_clear_pointer(&d, g_free);
	}
	memset(secret, 0, strlen(secret));
	g_free(secret);
	g_free(tenant);
	g_free(token_url);
	g_free(scope);
	return d;
}

/* Close. */
static void
dyn_close(void *state)
{
	dyn *d = state;

	if (d == NULL)
		return;
	oauth_free(d->oauth);
	http_client_free(d->http);
	g_free(d->org);
	g_free(d->api);
	g_free(d);
}

/* Emails per $batch. */
static guint
dyn_batch_size(void *state)
{
	return ((dyn *)state)->batch;
}

/* d->api + "/" + rest. */
char *
dyn_api_url(const dyn *d, const char *fmt, ...)
{
	va_list ap;
	char *rest, *out;

	va_start(ap, fmt);
	rest = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	out = g_strdup_printf("%s/%s", d->api, rest);
	g_free(rest);
	return out;
}

/* The GUID between the last '(' and the ')' after it. */
char *
dyn_entity_id(const char *uri)
{
	const char *open = uri != NULL ? strrchr(uri, '(') : NULL;
	const char *close = open != NULL ? strchr(open, ')') : NULL;
	char *id;

	if (close == NULL)
		return NULL;
	id = g_strndup(open + 1, (gsize)(close - open - 1));
	if (!dyn_is_guid(id))
		g_clear_pointer(&id, g_free);
	return id;
}

/* The "code" of {"error":{"code","message"}}, or NULL. */
char *
dyn_error_code(const char *body, gsize len)
{
	JsonParser *jp = json_parser_new();
	char *out = NULL;

	if (len > 0 && json_parser_load_from_data(jp, body, (gssize)len, NULL)) {
		JsonNode *root = json_parser_get_root(jp);
		JsonObject *o = root != NULL && JSON_NODE_HOLDS_OBJECT(root) ?
		    json_node_get_object(root) : NULL;
		JsonNode *en = o != NULL ? json_object_get_member(o, "error") : NULL;
		out = g_strdup(jobdata_meta_string(en != NULL && JSON_NODE_HOLDS_OBJECT(en) ?
		    json_node_get_object(en) : NULL, "code"));
	}
	g_object_unref(jp);
	return out;
}

/* Did rs refuse a create because the record exists (our primary key)? */
static gboolean
duplicate_key(const http_response *rs)
{
	char *code = rs->status >= 400 && rs->status < 500 ?
	    dyn_error_code((const char *)rs->body->data, rs->body->len) : NULL;
	gboolean dup = code != NULL && g_ascii_strcasecmp(code, DYN_DUPLICATE_KEY) == 0;

	g_free(code);
	return dup;
}

/* The id of the email a job makes: from the profile and its key. */
char *
dyn_email_id(const dyn *d, const spool_job *job)
{
	return dyn_guid("dynamics365/%s/%s", d->profile->name, job->idem_key);
}

/* "HTTP N: message (code)" from {"error":{"code","message"}}, else the
 * body's first bytes. */
char *
dyn_vendor_error(long status, const char *body, gsize len)
{
	JsonParser *jp = json_parser_new();
	char *out = NULL;

	if (len > 0 && json_parser_load_from_data(jp, body, (gssize)len, NULL)) {
		JsonNode *root = json_parser_get_root(jp);
		JsonObject *o = root != NULL && JSON_NODE_HOLDS_OBJECT(root) ?
		    json_node_get_object(root) : NULL;
		JsonNode *en = o != NULL ? json_object_get_member(o, "error") : NULL;
		JsonObject *eo = en != NULL && JSON_NODE_HOLDS_OBJECT(en) ? json_node_get_object(en) : NULL;
		const char *msg = jobdata_meta_string(eo, "message");
		const char *code = jobdata_meta_string(eo, "code");
		if (msg != NULL)
			out = code != NULL && *code != '\0' ?
			    g_strdup_printf("HTTP %ld: %s (%s)", status, msg, code) :
			    g_strdup_printf("HTTP %ld: %s", status, msg);
	}
	g_object_unref(jp);
	if (out == NULL) {
		char *text = g_utf8_make_valid(body != NULL ? body : "", (gssize)MIN(len, HTTP_ERROR_EXCERPT));
		for (char *p = text; *p != '\0'; p++)
			if ((guchar)*p < 0x20)
				*p = ' ';
		out = g_strdup_printf("HTTP %ld: %s", status, text);
		g_free(text);
	}
	return out;
}

/* Same scheme, host and port as the API? */
gboolean
dyn_same_origin(const dyn *d, const char *url)
{
	GUri *a = g_uri_parse(d->api, G_URI_FLAGS_NONE, NULL);
	GUri *b = url != NULL ? g_uri_parse(url, G_URI_FLAGS_NONE, NULL) : NULL;
	gboolean same = a != NULL && b != NULL &&
	    g_ascii_strcasecmp(g_uri_get_scheme(a), g_uri_get_scheme(b)) == 0 &&
	    g_uri_get_host(a) != NULL && g_uri_get_host(b) != NULL &&
	    g_ascii_strcasecmp(g_uri_get_host(a), g_uri_get_host(b)) == 0 &&
	    g_uri_get_port(a) == g_uri_get_port(b);

	if (a != NULL)
		g_uri_unref(a);
	if (b != NULL)
		g_uri_unref(b);
	return same;
}

/* One Web API call (see dynamics.h). */
gboolean
dyn_call(dyn *d, const char *method, const char *url, const char *const *headers,
    const char *body, gsize len, gint64 now, const char *what, http_response *rs,
    conn_result *res)
{
	gboolean typed = FALSE;

	memset(rs, 0, sizeof(*rs));
	for (const char *const *h = headers; h != NULL && *h != NULL; h++)
		typed = typed || g_ascii_strncasecmp(*h, "Content-Type:", 13) == 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		GPtrArray *hv = g_ptr_array_new_with_free_func(g_free);
		const char *tok;
		http_request rq = { method, url, NULL, body, body != NULL ? len : 0 };

		g_clear_pointer(&res->error, g_free);
		if ((tok = oauth_token(d->oauth, now, NULL, res)) == NULL) {
			g_ptr_array_unref(hv);
			return FALSE;
		}
		g_ptr_array_add(hv, g_strdup_printf("Authorization: Bearer %s", tok));
		g_ptr_array_add(hv, g_strdup("Accept: application/json"));
		g_ptr_array_add(hv, g_strdup("OData-MaxVersion: 4.0"));
		g_ptr_array_add(hv, g_strdup("OData-Version: 4.0"));
		if (body != NULL && !typed)
			g_ptr_array_add(hv, g_strdup("Content-Type: application/json; charset=utf-8"));
		for (const char *const *h = headers; h != NULL && *h != NULL; h++)
			g_ptr_array_add(hv, g_strdup(*h));
		g_ptr_array_add(hv, NULL);
		rq.headers = (const char *const *)hv->pdata;
		(void)http_perform(d->http, &rq, rs);
		memset(g_ptr_array_index(hv, 0), 0, strlen(g_ptr_array_index(hv, 0)));
		g_ptr_array_unref(hv);
		if (rs->paused == 0)
			d->sent++;
		if (rs->status != 401 || attempt > 0)
			break;
		oauth_invalidate(d->oauth);    /* refused: one new token, one more try */
		http_response_clear(rs);
	}
	http_outcome(rs, what, now, res);
	if (rs->status == 0)
		return FALSE;
	if (rs->status >= 400) {
		char *v = dyn_vendor_error(rs->status, (const char *)rs->body->data, rs->body->len);
		g_free(res->error);
		res->error = g_strdup_printf("%s: %s", what, v);
		g_free(v);
	}
	return TRUE;
}

/* An int member, or def. */
static gint64
int_member(JsonObject *o, const char *name, gint64 def)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, name) : NULL;

	return n != NULL && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64 ?
	    json_node_get_int(n) : def;
}

/* The rows ("value") of a JSON answer (parser kept in *jp), or NULL. */
static JsonArray *
rows_of(const http_response *rs, JsonParser **jp)
{
	JsonNode *root, *v;

	*jp = json_parser_new();
	if (!json_parser_load_from_data(*jp, (const char *)rs->body->data, (gssize)rs->body->len, NULL))
		return NULL;
	root = json_parser_get_root(*jp);
	v = root != NULL && JSON_NODE_HOLDS_OBJECT(root) ?
	    json_object_get_member(json_node_get_object(root), "value") : NULL;
	return v != NULL && JSON_NODE_HOLDS_ARRAY(v) ? json_node_get_array(v) : NULL;
}

/* Match the rows of one lookup answer to the wanted ids. */
static void
match_rows(JsonArray *rows, const char *const *ids, const gboolean *outgoing, guint n,
    dyn_found *out)
{
	for (guint r = 0; r < json_array_get_length(rows); r++) {
		JsonNode *rn = json_array_get_element(rows, r);
		JsonObject *o = JSON_NODE_HOLDS_OBJECT(rn) ? json_node_get_object(rn) : NULL;
		const char *mid = jobdata_meta_string(o, "messageid");
		const char *aid = jobdata_meta_string(o, "activityid");
		JsonNode *dn = o != NULL ? json_object_get_member(o, "directioncode") : NULL;
		gboolean out_dir = dn == NULL || !JSON_NODE_HOLDS_VALUE(dn) || json_node_get_boolean(dn);
		int sc = (int)int_member(o, "statecode", 0);

		if (mid == NULL || !dyn_is_guid(aid))
			continue;
		for (guint i = 0; i < n; i++) {
			char *want;
			if (ids[i] == NULL || outgoing[i] != out_dir)
				continue;
			want = dyn_messageid(ids[i]);
			/* prefer a completed email to an open one */
			if (g_ascii_strcasecmp(want, mid) == 0 &&
			    (out[i].id == NULL || (out[i].statecode == 0 && sc != 0))) {
				g_free(out[i].id);
				out[i].id = g_ascii_strdown(aid, -1);
				out[i].statecode = sc;
			}
			g_free(want);
		}
	}
}

/* One lookup GET for ids[from..to). */
static gboolean
lookup_chunk(dyn *d, const char *const *ids, const gboolean *outgoing, guint n, GString *filter,
    dyn_found *out, gint64 now, conn_result *res)
{
	char *enc = g_uri_escape_string(filter->str, "'()", FALSE);
	char *url = dyn_api_url(d, "emails?$select=activityid,messageid,directioncode,statecode"
	    "&$filter=%s", enc);
	const char *hdr[] = { "If-None-Match: null", NULL };
	http_response rs;
	JsonParser *jp = NULL;
	JsonArray *rows;
	gboolean ok = dyn_call(d, "GET", url, hdr, NULL, 0, now, "dynamics365 GET emails (lookup)",
	    &rs, res) && res->status == CONN_OK;

	if (ok && (rows = rows_of(&rs, &jp)) != NULL) {
		match_rows(rows, ids, outgoing, n, out);
	} else if (ok) {
		res->status = CONN_RETRY;
		res->error = g_strdup("dynamics365 GET emails (lookup): an answer without \"value\"");
		ok = FALSE;
	}
	if (jp != NULL)
		g_object_unref(jp);
	http_response_clear(&rs);
	g_free(url);
	g_free(enc);
	return ok;
}

/* Look up emails by Message-ID (see dynamics.h): a filter of
 * "messageid eq '<id>' or ..." per request, as long as the URL allows. */
gboolean
dyn_lookup(dyn *d, const char *const *ids, const gboolean *outgoing, guint n,
    dyn_found *out, gint64 now, conn_result *res)
{
	GString *filter = g_string_new(NULL);
	gboolean ok = TRUE;

	for (guint i = 0; i < n; i++)
		out[i] = (dyn_found){ NULL, -1 };
	for (guint i = 0; i < n && ok; i++) {
		char *mid, *lit;
		if (ids[i] == NULL)
			continue;
		mid = dyn_messageid(ids[i]);
		lit = dyn_odata_string(mid);
		if (filter->len > 0 && filter->len + strlen(lit) * 3 > LOOKUP_URL_MAX) {
			ok = lookup_chunk(d, ids, outgoing, n, filter, out, now, res);
			g_string_truncate(filter, 0);
		}
		g_string_append_printf(filter, "%smessageid eq %s", filter->len > 0 ? " or " : "", lit);
		g_free(mid);
		g_free(lit);
	}
	if (ok && filter->len > 0)
		ok = lookup_chunk(d, ids, outgoing, n, filter, out, now, res);
	g_string_free(filter, TRUE);
	if (ok) {
		res->status = CONN_OK;
		g_clear_pointer(&res->error, g_free);
	}
	return ok;
}

/* The statecode of email id: 0/1/2, -2 when it is gone (404), -1 with
 * res set on failure. */
static int
email_state(dyn *d, const char *id, gint64 now, conn_result *res)
{
	char *url = dyn_api_url(d, "emails(%s)?$select=statecode", id);
	const char *hdr[] = { "If-None-Match: null", NULL };
	http_response rs;
	JsonParser *jp = json_parser_new();
	int sc = -1;

	if (dyn_call(d, "GET", url, hdr, NULL, 0, now, "dynamics365 GET email", &rs, res)) {
		if (rs.status == 404) {
			sc = -2;
		} else if (res->status == CONN_OK &&
		    json_parser_load_from_data(jp, (const char *)rs.body->data, (gssize)rs.body->len, NULL) &&
		    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(jp))) {
			sc = (int)int_member(json_node_get_object(json_parser_get_root(jp)), "statecode", 0);
		} else if (res->status == CONN_OK) {
			res->status = CONN_RETRY;
			res->error = g_strdup("dynamics365 GET email: no statecode in the answer");
		}
	}
	g_object_unref(jp);
	http_response_clear(&rs);
	g_free(url);
	return sc;
}

/* Record the email and count a reply (see dynamics.h). */
void
dyn_after_save(dyn *d, const spool_job *job, const activity *a, const char *id,
    gint64 now, conn_result *res)
{
	GError *e = NULL;

	g_clear_pointer(&res->error, g_free);
	res->status = CONN_OK;
	res->retry_after = -1;
	res->no_attempt = FALSE;
	if (d->db != NULL && !crm_record_put(d->db, d->profile->name, job->idem_key, a->message_id,
	    "email", id, now, &e)) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("dynamics365: the email %s is saved, its record is not: %s",
		    id, e->message);
		g_error_free(e);
		return;
	}
	if (g_strcmp0(a->direction, "inbound") == 0 && a->corr_message_id != NULL)
		dyn_reply_rollup(d, job, a, now, res);
}

/* Bring a found email to completion (see dynamics.h). */
void
dyn_finish(dyn *d, const spool_job *job, const activity *a, const dyn_found *f,
    gint64 now, conn_result *res)
{
	int state = f->statecode, refused = 0;
	guint n = a->attachments != NULL ? a->attachments->len : 0;
	char *bind, *body, *url;
	http_response rs;

	if (state < 0 && (state = email_state(d, f->id, now, res)) == -1)
		return;
	if (state == -2) {
		/* deleted in the CRM since: not made again */
		dyn_after_save(d, job, a, f->id, now, res);
		return;
	}
	if (state != 0) {
		dyn_after_save(d, job, a, f->id, now, res);
		return;
	}
	bind = g_strdup_printf("/activitypointers(%s)", f->id);
	url = dyn_api_url(d, "activitymimeattachments");
	for (guint i = 0; i < n; i++) {
		const activity_attachment *at = g_ptr_array_index(a->attachments, i);
		char *json = dyn_attachment_json(at, i, f->id, bind);
		gboolean answered = dyn_call(d, "POST", url, NULL, json, strlen(json), now,
		    "dynamics365 POST activitymimeattachments", &rs, res);
		g_free(json);
		if (answered && duplicate_key(&rs)) {
			res->status = CONN_OK;   /* stored by an earlier try */
		} else if (answered && (rs.status == 400 || rs.status == 413)) {
			refused++;      /* too big or refused by the org: the email goes without it */
			res->status = CONN_OK;
		}
		http_response_clear(&rs);
		if (res->status != CONN_OK)
			break;
	}
	g_free(bind);
	g_free(url);
	if (res->status != CONN_OK)
		return;
	body = dyn_state_json(a, refused > 0 ? 1 : 0);
	url = dyn_api_url(d, "emails(%s)", f->id);
	dyn_call(d, "PATCH", url, NULL, body, strlen(body), now, "dynamics365 PATCH email state", &rs, res);
	http_response_clear(&rs);
	g_free(body);
	g_free(url);
	if (res->status == CONN_OK)
		dyn_after_save(d, job, a, f->id, now, res);
}

/* POST the email with its own id (a second time without binds after a
 * 4xx); its id, or NULL with res. A duplicate key: an earlier try made it. */
static char *
create_email(dyn *d, const spool_job *job, const activity *a, gint64 now, gboolean *existed,
    conn_result *res)
{
	dyn_email_opts o = { FALSE, FALSE };
	char *url = dyn_api_url(d, "emails"), *id = NULL, *mine = dyn_email_id(d, job);

	for (int pass = 0; pass < 2 && id == NULL; pass++) {
		char *json = dyn_email_json(d, a, mine, &o);
		http_response rs;
		gboolean answered = dyn_call(d, "POST", url, NULL, json, strlen(json), now,
		    "dynamics365 POST emails", &rs, res);
		gboolean had_binds = strstr(json, "@odata.bind") != NULL;

		long status = rs.status;

		g_free(json);
		if (answered && res->status == CONN_OK) {
			id = dyn_entity_id(http_response_header(&rs, "odata-entityid"));
			if (id == NULL)
				id = g_strdup(mine);
		} else if (answered && duplicate_key(&rs)) {
			id = g_strdup(mine);
			*existed = TRUE;
			res->status = CONN_OK;
			g_clear_pointer(&res->error, g_free);
		}
		http_response_clear(&rs);
		if (id != NULL || !(answered && res->status == CONN_PERMANENT && had_binds && !o.no_binds &&
		    status != 401))
			break;
		o.no_binds = TRUE;      /* a bound record no longer exists: addresses only */
	}
	g_free(url);
	g_free(mine);
	return id;
}

/* Save one job (see the file comment). */
void
dyn_save_one(dyn *d, const spool_job *job, activity *a, gint64 now, conn_result *res)
{
	GError *e = NULL;
	gboolean outgoing = dyn_statuscode(a) == 3;
	dyn_found f = { NULL, -1 };
	gboolean existed = FALSE;

	f.id = d->db != NULL ? crm_record_get(d->db, d->profile->name, job->idem_key, NULL, &e) : NULL;
	if (e != NULL) {
		res->status = CONN_RETRY;
		res->error = g_strdup_printf("dynamics365: %s", e->message);
		g_error_free(e);
		return;
	}
	if (f.id == NULL && a->message_id != NULL &&
	    !dyn_lookup(d, (const char *const *)&a->message_id, &outgoing, 1, &f, now, res))
		return;
	if (f.id == NULL) {
		if ((f.id = create_email(d, job, a, now, &existed, res)) == NULL)
			return;
		f.statecode = existed ? -1 : 0;
		/* recorded at once: a crash from here on resumes, never recreates */
		if (d->db != NULL)
			(void)crm_record_put(d->db, d->profile->name, job->idem_key, a->message_id,
			    "email", f.id, now, NULL);
	}
	dyn_finish(d, job, a, &f, now, res);
	g_free(f.id);
}

/* save_activity: parse the job, save it. */
static void
dyn_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	dyn *d = state;
	guint sent = d->sent;
	activity *a = jobdata_activity(d->db, job, d->max_body + DYN_BODY_SLACK, TRUE, NULL, res);

	if (a == NULL)
		return;
	dyn_save_one(d, job, a, now, res);
	/* something went out: the attempt counts even if a pause stopped the rest */
	if (res->no_attempt && d->sent != sent)
		res->no_attempt = FALSE;
	activity_free(a);
}

const connector_ops connector_dynamics_ops = {
	.type = "dynamics365",
	.open = dyn_open,
	.save_activity = dyn_save,
	.send_event = dyn_send_event,
	.close = dyn_close,
	.save_batch = dyn_save_batch,
	.batch_size = dyn_batch_size,
	.sync_directory = dyn_sync_directory,
	.default_concurrency = 3,
	.default_rate = 10,
};

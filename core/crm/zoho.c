/*
 * crm/zoho.c - the `zoho` connector (Zoho CRM API v8; see zoho.h for its
 * parts): each saved message becomes an email associated to one record
 * with POST /crm/v8/{module}/{id}/actions/associate_email, one email per
 * call. The record is the job's regarding ("lead:ID", "contact:ID",
 * "deal:ID", "account:ID"), else the participants' directory records: the
 * first contact, else the first lead (the other party first: recipients of
 * sent mail, the sender of received mail). A message with no such record
 * is dead with the reason (CONN_PERMANENT), so the admin sees it.
 *
 * Once only: the spool's record of the job first; Zoho refuses a second
 * association of the same original_message_id with DUPLICATE_DATA, which
 * counts as done (the answer of the first was lost). Attachments go up
 * through the files API first (at most 10 per call, 20 MB each, 20 per
 * email); their ids are kept so a retry uploads nothing twice.
 *
 * A reply (inbound mail correlated to a sent message) is also kept in the
 * local ledger so the sent message's rollup counts it, and that rollup's
 * Note is written again (zoho_note.c). Events write the Note too.
 *
 * Defaults: 4 workers (Zoho's smallest per-app concurrency limit is 5, on
 * the Free edition; mail APIs have a sub-concurrency of 10) and 5 requests
 * per second; Zoho publishes daily credits, not a per-second rate, so a
 * profile on a small edition should set requests_per_second lower.
 */
#include "buildconf.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <json-glib/json-glib.h>

#include "zoho.h"
#include "jobdata.h"
#include "records.h"
#include "../directory.h"
#include "../log.h"
#include "../readfile.h"

#define SECRET_MAX 4096
/* oauth.c mints a refresh-grant token 300 s before it expires: a token
 * good for longer than this cannot be minted, so it needs no lock */
#define TOKEN_NO_LOCK 360

/* Free a string that held a secret. */
static void
wipe(char *s)
{
	if (s != NULL) {
		memset(s, 0, strlen(s));
		g_free(s);
	}
}

/* Close; NULL-safe. */
static void
zoho_close(void *state)
{
	zoho *z = state;

	if (z == NULL)
		return;
	oauth_free(z->oauth);
	http_client_free(z->http);
	if (z->lock_fd >= 0)
		close(z->lock_fd);
	wipe(z->client_secret);
	wipe(z->refresh_token);
	g_free((char *)z->params.token_url);
	g_free(z);
}

/* Open: the secrets (files open to others are refused, naming them), the
 * HTTP client and the token client. */
static void *
zoho_open(const conn_env *env, GError **err)
{
	const crm_profile *p = env->profile;
	zoho *z;

	if (p->client_id == NULL || p->client_secret_file == NULL || p->token_file == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		    "crm \"%s\": zoho needs client_id, client_secret_file and token_file", p->name);
		return NULL;
	}
	if (p->rollup_fields != NULL && p->rollup_fields->len > 0) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		    "crm \"%s\": zoho takes no rollup_fields (an associated email is no record with "
		    "fields); rollups go to a Note on the lead, contact or deal", p->name);
		return NULL;
	}
	if (env->db == NULL) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		    "crm \"%s\": zoho needs the spool database", p->name);
		return NULL;
	}
	z = g_new0(zoho, 1);
	z->profile = p;
	z->db = env->db;
	z->lock_fd = -1;
	z->max_body = (gsize)p->max_body_size;
	z->version = p->api_version != NULL ? p->api_version : ZOHO_DEFAULT_VERSION;
	if ((z->client_secret = readfile_secret_line(p->client_secret_file, SECRET_MAX, err)) == NULL ||
	    (z->refresh_token = readfile_secret_line(p->token_file, SECRET_MAX, err)) == NULL ||
	    (z->http = http_client_for(env, err)) == NULL) {
		zoho_close(z);
		return NULL;
	}
	z->lock_fd = open(p->token_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	z->params.grant = OAUTH_REFRESH_TOKEN;
	z->params.profile = p->name;
	z->params.token_url = g_strdup(p->token_url != NULL ? p->token_url : ZOHO_DEFAULT_TOKEN_URL);
	z->params.client_id = p->client_id;
	z->params.client_secret = z->client_secret;
	z->params.refresh_token = z->refresh_token;
	z->params.default_lifetime = 3600;
	if ((z->oauth = oauth_new(&z->params, z->http, z->db, err)) == NULL) {
		zoho_close(z);
		return NULL;
	}
	return z;
}

/* Take or release the profile lock shared by workers and processes. */
void
zoho_lock(zoho *z, gboolean take)
{
	if (take ? z->lock_depth++ > 0 : --z->lock_depth > 0)
		return;
	if (z->lock_fd < 0)
		return;
	while (flock(z->lock_fd, take ? LOCK_EX : LOCK_UN) != 0 && errno == EINTR)
		;
}

/* A usable access token: a token good for a while more is used as is;
 * otherwise it is got (from the cache, or minted) under the lock. */
static const char *
access_token(zoho *z, gint64 now, const char **api_domain, conn_result *res)
{
	const char *tok;
	char *cached;

	if (z->token_until > now + TOKEN_NO_LOCK)
		return oauth_token(z->oauth, now, api_domain, res);
	zoho_lock(z, TRUE);
	tok = oauth_token(z->oauth, now, api_domain, res);
	z->token_until = 0;
	cached = tok != NULL ? crm_token_get(z->db, z->profile->name, now, 0, NULL, &z->token_until, NULL) : NULL;
	if (cached == NULL || strcmp(cached, tok) != 0)
		z->token_until = 0;    /* not the cached one: ask again next time */
	wipe(cached);
	zoho_lock(z, FALSE);
	return tok;
}

/* Zoho refused the token `used`: when another worker has cached a newer
 * one, take that; else forget it so the next call mints. */
static void
token_refused(zoho *z, const char *used, gint64 now)
{
	char *cached;

	zoho_lock(z, TRUE);
	z->token_until = 0;
	cached = crm_token_get(z->db, z->profile->name, now, 0, NULL, NULL, NULL);
	if (cached != NULL && strcmp(cached, used) != 0) {
		oauth_free(z->oauth);
		z->oauth = oauth_new(&z->params, z->http, z->db, NULL);
	} else {
		oauth_invalidate(z->oauth);
	}
	wipe(cached);
	zoho_lock(z, FALSE);
}

/* Does a 401 ask for a new token (not a scope or permission refusal)? */
static gboolean
wants_new_token(const http_response *rs)
{
	char *code = zoho_answer_item(rs, NULL, NULL);
	gboolean yes = code == NULL || strcmp(code, "INVALID_TOKEN") == 0 ||
	    strcmp(code, "INVALID_OAUTHTOKEN") == 0 || strcmp(code, "AUTHENTICATION_FAILURE") == 0;

	g_free(code);
	return yes;
}

/* One API call, with one more after a refused token. */
gboolean
zoho_request(zoho *z, const char *method, const char *path, const char *const *headers,
    const void *body, gsize body_len, gint64 now, http_response *rs, conn_result *res)
{
	memset(rs, 0, sizeof(*rs));
	for (int attempt = 0; attempt < 2; attempt++) {
		const char *domain = NULL, *tok = access_token(z, now, &domain, res);
		const char *base = z->profile->url != NULL ? z->profile->url : domain;
		const char *all[16];
		char *used, *auth, *url, *trimmed;
		int n = 0;

		if (tok == NULL)
			return FALSE;
		if (base == NULL) {
			res->status = CONN_PERMANENT;
			res->error = g_strdup("zoho: the token endpoint named no api_domain and url is not set");
			return FALSE;
		}
		used = g_strdup(tok);
		trimmed = g_strdup(base);
		while (*trimmed != '\0' && trimmed[strlen(trimmed) - 1] == '/')
			trimmed[strlen(trimmed) - 1] = '\0';
		url = g_strdup_printf("%s/crm/%s/%s", trimmed, z->version, path);
		auth = g_strdup_printf("Authorization: Zoho-oauthtoken %s", used);
		all[n++] = auth;
		all[n++] = "Accept: application/json";
		for (const char *const *h = headers; h != NULL && *h != NULL && n < 15; h++)
			all[n++] = *h;
		all[n] = NULL;
		http_request rq = { method, url, all, body, body_len };
		(void)http_perform(z->http, &rq, rs);
		wipe(auth);
		g_free(url);
		g_free(trimmed);
		if (rs->status == 401 && attempt == 0 && wants_new_token(rs)) {
			token_refused(z, used, now);
			wipe(used);
			http_response_clear(rs);
			continue;
		}
		wipe(used);
		break;
	}
	return TRUE;
}

/* retry_after of a 429's details, or -1. */
static int
details_retry_after(const http_response *rs)
{
	JsonParser *p = json_parser_new();
	JsonNode *root, *d, *v;
	int out = -1;

	if (rs->body != NULL && rs->body->len > 0 &&
	    json_parser_load_from_data(p, (const char *)rs->body->data, rs->body->len, NULL) &&
	    (root = json_parser_get_root(p)) != NULL && JSON_NODE_HOLDS_OBJECT(root) &&
	    (d = json_object_get_member(json_node_get_object(root), "details")) != NULL &&
	    JSON_NODE_HOLDS_OBJECT(d) &&
	    (v = json_object_get_member(json_node_get_object(d), "retry_after")) != NULL &&
	    JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_INT64)
		out = (int)CLAMP(json_node_get_int(v), 1, 86400);
	g_object_unref(p);
	return out;
}

/* Judge an answer that is not a success. */
void
zoho_judge(const http_response *rs, const char *what, gint64 now, conn_result *res)
{
	http_outcome(rs, what, now, res);
	if (rs->status == 429 && res->status == CONN_RETRY && !res->no_attempt && res->retry_after < 0) {
		res->retry_after = details_retry_after(rs);
		if (res->retry_after < 0)
			res->retry_after = ZOHO_RETRY_429;
	}
}

/* A result with an error. */
static void
fail(conn_result *res, conn_status status, char *error)
{
	res->status = status;
	res->retry_after = -1;
	g_free(res->error);
	res->error = error;
}

/* The module of a regarding type, or NULL. */
static const char *
module_of(const char *type)
{
	static const char *const map[][2] = {
		{ "lead", "Leads" }, { "contact", "Contacts" }, { "deal", "Deals" },
		{ "account", "Accounts" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(map); i++)
		if (g_ascii_strcasecmp(type, map[i][0]) == 0 || g_ascii_strcasecmp(type, map[i][1]) == 0)
			return map[i][1];
	return NULL;
}

/* Is s a Zoho record id (digits)? */
static gboolean
record_id_ok(const char *s)
{
	gsize n = strlen(s);

	if (n == 0 || n > 20)
		return FALSE;
	for (const char *p = s; *p != '\0'; p++)
		if (!g_ascii_isdigit(*p))
			return FALSE;
	return TRUE;
}

/* The people of the message, the other party first. */
static GPtrArray *
participants(const activity *a)
{
	GPtrArray *out = g_ptr_array_new();
	gboolean inbound = g_strcmp0(a->direction, "inbound") == 0 ||
	    g_strcmp0(a->direction, "external") == 0;
	const GPtrArray *lists[] = { a->to, a->cc, a->bcc };

	if (inbound && a->from_addr != NULL)
		g_ptr_array_add(out, a->from_addr);
	for (gsize l = 0; l < G_N_ELEMENTS(lists); l++)
		for (guint i = 0; lists[l] != NULL && i < lists[l]->len; i++)
			g_ptr_array_add(out, g_ptr_array_index(lists[l], i));
	if (!inbound && a->from_addr != NULL)
		g_ptr_array_add(out, a->from_addr);
	return out;
}

/* The record the email goes to ("Module/ID"), and the directory's names
 * of the people; NULL with res set (dead: no record; retry: database). */
static char *
target_of(zoho *z, const activity *a, GHashTable *names, conn_result *res)
{
	GPtrArray *people = participants(a);
	char *contact = NULL, *lead = NULL, *out = NULL;
	GError *e = NULL;

	for (guint i = 0; i < people->len && e == NULL; i++) {
		const char *addr = g_ptr_array_index(people, i);
		GPtrArray *recs = directory_lookup_all(z->db, addr, &e);
		for (guint k = 0; recs != NULL && k < recs->len; k++) {
			const directory_entry *d = g_ptr_array_index(recs, k);
			if (d->name != NULL && !g_hash_table_contains(names, addr))
				g_hash_table_insert(names, g_strdup(addr), g_strdup(d->name));
			if (d->type == DIRREC_CONTACT && contact == NULL && record_id_ok(d->record_id))
				contact = g_strdup_printf("Contacts/%s", d->record_id);
			else if (d->type == DIRREC_LEAD && lead == NULL && record_id_ok(d->record_id))
				lead = g_strdup_printf("Leads/%s", d->record_id);
		}
		if (recs != NULL)
			g_ptr_array_unref(recs);
	}
	g_ptr_array_unref(people);
	if (e != NULL) {
		fail(res, CONN_RETRY, g_strdup_printf("zoho: directory: %s", e->message));
		g_error_free(e);
	} else if (a->regarding != NULL) {
		const char *colon = strchr(a->regarding, ':');
		char *type = colon != NULL ? g_strndup(a->regarding, (gsize)(colon - a->regarding)) : NULL;
		const char *module = type != NULL ? module_of(type) : NULL;
		if (module == NULL || !record_id_ok(colon + 1))
			fail(res, CONN_PERMANENT, g_strdup_printf("zoho: not saved: regarding \"%s\" is "
			    "not lead:ID, contact:ID, deal:ID or account:ID with a Zoho record id",
			    a->regarding));
		else
			out = g_strdup_printf("%s/%s", module, colon + 1);
		g_free(type);
	} else if (contact != NULL || lead != NULL) {
		out = g_strdup(contact != NULL ? contact : lead);
	} else {
		fail(res, CONN_PERMANENT, g_strdup("zoho: not saved: no Zoho record (no regarding "
		    "record, and no participant is a Zoho contact or lead in the directory)"));
	}
	g_free(contact);
	g_free(lead);
	return out;
}

/* Upload up to ZOHO_FILES_PER_UPLOAD attachments; their ids appended to
 * ids and kept under key "#file<N>". FALSE with res set. */
static gboolean
upload(zoho *z, const spool_job *job, activity_attachment **atts, const guint *index, guint n,
    GPtrArray *ids, gint64 now, conn_result *res)
{
	char *boundary = NULL, *ctype, *why = NULL;
	GByteArray *body = zoho_multipart(atts, n, &boundary);
	const char *headers[2];
	http_response rs;
	GPtrArray *got = NULL;
	gboolean ok = FALSE;

	ctype = g_strdup_printf("Content-Type: multipart/form-data; boundary=%s", boundary);
	headers[0] = ctype;
	headers[1] = NULL;
	if (!zoho_request(z, "POST", "files", headers, body->data, body->len, now, &rs, res))
		goto out;
	if (rs.status < 200 || rs.status >= 300) {
		zoho_judge(&rs, "zoho files upload", now, res);
		if (res->status == CONN_PERMANENT && rs.status != 401 && rs.status != 403) {
			/* the file itself is refused: the email goes without it */
			log_msg(CRM_LOG_WARNING, job->queue_id, "job %" G_GINT64_FORMAT ": %u attachment(s) "
			    "not sent to Zoho: %s", job->id, n, res->error);
			ok = TRUE;
		}
	} else if ((got = zoho_file_ids(&rs, n, &why)) == NULL) {
		fail(res, CONN_PERMANENT, g_strdup_printf("zoho files upload: %s", why));
	} else {
		ok = TRUE;
		for (guint i = 0; i < got->len && ok; i++) {
			char *key = g_strdup_printf("%s#file%u", job->idem_key, index[i]);
			GError *e = NULL;
			ok = crm_record_put(z->db, z->profile->name, key, NULL, "files",
			    g_ptr_array_index(got, i), now, &e);
			if (!ok)
				fail(res, CONN_RETRY, g_strdup_printf("zoho: %s", e->message));
			g_clear_error(&e);
			g_ptr_array_add(ids, g_strdup(g_ptr_array_index(got, i)));
			g_free(key);
		}
		g_ptr_array_unref(got);
	}
	http_response_clear(&rs);
out:
	if (ok) {
		g_clear_pointer(&res->error, g_free);
		res->status = CONN_OK;
	}
	g_free(why);
	g_free(ctype);
	g_free(boundary);
	g_byte_array_unref(body);
	return ok;
}

/* The file ids of the message's attachments (uploaded now or on an
 * earlier try); NULL with res set. */
static GPtrArray *
attachments(zoho *z, const spool_job *job, const activity *a, gint64 now, conn_result *res)
{
	GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
	activity_attachment *batch[ZOHO_FILES_PER_UPLOAD];
	guint index[ZOHO_FILES_PER_UPLOAD], n = 0, taken = 0;
	gsize bytes = 0;
	gboolean ok = TRUE;

	for (guint i = 0; ok && a->attachments != NULL && i <= a->attachments->len; i++) {
		activity_attachment *at = i < a->attachments->len ? g_ptr_array_index(a->attachments, i) : NULL;
		gsize size = at != NULL && at->content != NULL ? g_bytes_get_size(at->content) : 0;
		char *key, *have;
		GError *e = NULL;

		/* send what is gathered when full, or at the end */
		if (n > 0 && (at == NULL || n == ZOHO_FILES_PER_UPLOAD || bytes + size > ZOHO_MAX_FILE)) {
			ok = upload(z, job, batch, index, n, ids, now, res);
			n = 0;
			bytes = 0;
		}
		if (at == NULL || !ok)
			continue;
		if (at->content == NULL || size > ZOHO_MAX_FILE || taken >= ZOHO_MAX_ATTACHMENTS) {
			log_msg(CRM_LOG_WARNING, job->queue_id, "job %" G_GINT64_FORMAT ": attachment %s "
			    "not sent to Zoho (%s)", job->id, at->filename != NULL ? at->filename : "-",
			    taken >= ZOHO_MAX_ATTACHMENTS ? "more than 20" : "over 20 MB");
			continue;
		}
		taken++;
		key = g_strdup_printf("%s#file%u", job->idem_key, i);
		have = crm_record_get(z->db, z->profile->name, key, NULL, &e);
		if (e != NULL) {
			fail(res, CONN_RETRY, g_strdup_printf("zoho: %s", e->message));
			g_error_free(e);
			ok = FALSE;
		} else if (have != NULL) {
			g_ptr_array_add(ids, have);
		} else {
			batch[n] = at;
			index[n++] = i;
			bytes += size;
		}
		g_free(key);
	}
	if (!ok)
		g_clear_pointer(&ids, g_ptr_array_unref);
	return ids;
}

/* original_message_id: "<Message-ID>", or one made from the job's key. */
static char *
original_id(const activity *a, const spool_job *job)
{
	char *digest;

	if (a->message_id != NULL && strlen(a->message_id) + 2 <= ZOHO_MAX_MESSAGE_ID)
		return g_strdup_printf("<%s>", a->message_id);
	digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
	    a->message_id != NULL ? a->message_id : job->idem_key, -1);
	char *out = g_strdup_printf("<%.40s@crm-milter.invalid>", digest);
	g_free(digest);
	return out;
}

/* Associate the email; TRUE when Zoho has it (now or before). */
static gboolean
associate(zoho *z, const spool_job *job, const activity *a, gint64 now, conn_result *res)
{
	static const char *const json_headers[] = { "Content-Type: application/json", NULL };
	GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	char *target = NULL, *path = NULL, *body = NULL, *msgid = NULL, *code = NULL, *msg = NULL,
	    *status = NULL;
	const char *from = a->from_addr != NULL ? a->from_addr : job->mail_from;
	GPtrArray *ids = NULL;
	http_response rs = { 0 };
	gboolean ok = FALSE;
	GError *e = NULL;

	if (from == NULL || *from == '\0') {
		fail(res, CONN_PERMANENT, g_strdup("zoho: not saved: the message has no sender address"));
		goto out;
	}
	if ((target = target_of(z, a, names, res)) == NULL ||
	    (ids = attachments(z, job, a, now, res)) == NULL)
		goto out;
	msgid = original_id(a, job);
	body = zoho_email_json(a, from, names, ids, msgid, now);
	path = g_strdup_printf("%s/actions/associate_email", target);
	if (!zoho_request(z, "POST", path, json_headers, body, strlen(body), now, &rs, res))
		goto out;
	code = zoho_answer_item(&rs, &msg, &status);
	if (g_strcmp0(code, "DUPLICATE_DATA") == 0 ||
	    (rs.status >= 200 && rs.status < 300 && g_strcmp0(status, "error") != 0)) {
		ok = crm_record_put(z->db, z->profile->name, job->idem_key, a->message_id, "associate_email",
		    target, now, &e);
		if (!ok) {
			fail(res, CONN_RETRY, g_strdup_printf("zoho: %s", e->message));
			g_error_free(e);
		}
	} else if (rs.status >= 200 && rs.status < 300) {
		fail(res, CONN_PERMANENT, g_strdup_printf("zoho associate_email %s: %s: %s", target,
		    code != NULL ? code : "error", msg != NULL ? msg : "-"));
	} else {
		char *what = g_strdup_printf("zoho associate_email %s", target);
		zoho_judge(&rs, what, now, res);
		g_free(what);
	}
out:
	http_response_clear(&rs);
	if (ids != NULL)
		g_ptr_array_unref(ids);
	g_hash_table_unref(names);
	g_free(target);
	g_free(path);
	g_free(body);
	g_free(msgid);
	g_free(code);
	g_free(msg);
	g_free(status);
	return ok;
}

/* One save job. */
static void
zoho_save(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	zoho *z = state;
	GError *e = NULL;
	char *done = crm_record_get(z->db, z->profile->name, job->idem_key, NULL, &e);
	activity *a;

	if (e != NULL) {
		fail(res, CONN_RETRY, g_strdup_printf("zoho: %s", e->message));
		g_error_free(e);
		return;
	}
	if ((a = jobdata_activity(z->db, job, z->max_body, done == NULL, NULL, res)) == NULL) {
		g_free(done);
		return;
	}
	if (done != NULL || associate(z, job, a, now, res)) {
		res->status = CONN_OK;
		g_clear_pointer(&res->error, g_free);
		/* a reply: kept locally (the rollup counts it), the sent one's Note rewritten */
		if (a->corr_message_id != NULL && g_strcmp0(a->direction, "inbound") == 0) {
			if (!jobdata_keep(z->db, job, a, now, &e)) {
				fail(res, CONN_RETRY, g_strdup_printf("zoho: ledger: %s", e->message));
				g_error_free(e);
			} else {
				zoho_note_refresh(z, a->corr_message_id, now, res);
			}
		}
	}
	g_free(done);
	activity_free(a);
}

/* An event job: the rollup Note of its message written again. */
static void
zoho_event(void *state, const spool_job *job, gint64 now, conn_result *res)
{
	zoho *z = state;
	GPtrArray *events = jobdata_events(z->db, job, now, res);
	gboolean counts = FALSE;

	if (events == NULL)
		return;
	for (guint i = 0; i < events->len; i++) {
		const job_event *ev = g_ptr_array_index(events, i);
		counts = counts || g_strcmp0(ev->kind, "opened") == 0 ||
		    g_strcmp0(ev->kind, "clicked") == 0 || g_strcmp0(ev->kind, "bounced") == 0;
	}
	res->status = CONN_OK;
	if (counts && events->len > 0)
		zoho_note_refresh(z, ((const job_event *)g_ptr_array_index(events, 0))->message_id, now, res);
	g_ptr_array_unref(events);
}

const connector_ops connector_zoho_ops = {
	.type = "zoho",
	.open = zoho_open,
	.save_activity = zoho_save,
	.send_event = zoho_event,
	.close = zoho_close,
	.sync_directory = zoho_sync_directory,
	.default_concurrency = 4,
	.default_rate = 5,
};

/*
 * crm/dynamics_batch.c - save_batch of the dynamics365 connector: many
 * emails in one Dataverse $batch (notes 2.8), one change set per email
 * (atomic: the email, its attachments bound to "$<create>", then
 * "PATCH $<create>" with its state), sent with Prefer:
 * odata.continue-on-error so each change set answers for itself.
 *
 * Before that, per job: the record this job made (records.h), then ONE
 * lookup GET for the Message-IDs of all the others (dyn_lookup); what is
 * found is finished one by one, the rest goes into the $batch (split so a
 * request holds at most 1000 operations and about 16 MB). Answers are
 * mapped to jobs by Content-ID (each job owns a range), else by order. A
 * change set refused with a 4xx is saved again on its own (dyn_save_one:
 * the fallbacks for stale binds and refused attachments live there); a
 * 5xx/429 or no answer is a retry, and the next try's lookup finds what
 * the server did commit.
 *
 * Ownership: everything here is freed before returning; results[i] is
 * the caller's (conn_result_clear).
 */
#include <string.h>

#include "dynamics.h"
#include "records.h"

/* One part of a multipart body: its MIME headers and content. */
typedef struct mpart {
	GPtrArray *headers;      /* char * "name: value" */
	const char *body;
	gsize len;
} mpart;

/* One job in a $batch. */
typedef struct bjob {
	guint index;             /* into jobs/results */
	guint first_cid, last_cid;
	gboolean answered;
} bjob;

/* Free a part. */
static void
mpart_free(gpointer p)
{
	mpart *m = p;

	g_ptr_array_unref(m->headers);
	g_free(m);
}

/* A header of headers (name case ignored), or NULL. */
static const char *
header_of(GPtrArray *headers, const char *name)
{
	gsize n = strlen(name);

	for (guint i = 0; i < headers->len; i++) {
		const char *h = g_ptr_array_index(headers, i);
		if (g_ascii_strncasecmp(h, name, n) == 0 && h[n] == ':')
			return h + n + 1 + strspn(h + n + 1, " \t");
	}
	return NULL;
}

/* Split "Name: v LF ... LF LF body" (CRLF or LF) into headers; returns the body. */
static const char *
split_headers(const char *p, const char *end, GPtrArray *headers)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (gsize)(end - p));
		const char *le = nl != NULL ? nl : end;
		gsize len = (gsize)(le - p);

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0)
			return nl != NULL ? nl + 1 : end;
		if (memchr(p, ':', len) != NULL)
			g_ptr_array_add(headers, g_strndup(p, len));
		p = nl != NULL ? nl + 1 : end;
	}
	return end;
}

/* Find "--boundary" at the start of a line in [p, end), or NULL. */
static const char *
find_delim(const char *p, const char *end, const char *delim, gsize dlen, const char *start)
{
	while (p != NULL && p + dlen <= end) {
		const char *hit = g_strstr_len(p, end - p, delim);
		if (hit == NULL)
			return NULL;
		if (hit == start || hit[-1] == '\n')
			return hit;
		p = hit + 1;
	}
	return NULL;
}

/* The parts of a multipart body with boundary (NULL when malformed). */
static GPtrArray *
split_multipart(const char *body, gsize len, const char *boundary)
{
	char *delim = g_strdup_printf("--%s", boundary);
	gsize dlen = strlen(delim);
	const char *end = body + len, *p = find_delim(body, end, delim, dlen, body);
	GPtrArray *parts = g_ptr_array_new_with_free_func(mpart_free);

	while (p != NULL) {
		const char *start = p + dlen, *next;
		mpart *m;

		if (end - start >= 2 && start[0] == '-' && start[1] == '-')
			break;              /* the closing delimiter */
		start = memchr(start, '\n', (gsize)(end - start));
		if (start == NULL)
			break;
		start++;
		next = find_delim(start, end, delim, dlen, body);
		m = g_new0(mpart, 1);
		m->headers = g_ptr_array_new_with_free_func(g_free);
		m->body = split_headers(start, next != NULL ? next : end, m->headers);
		m->len = (gsize)((next != NULL ? next : end) - m->body);
		/* the line end before the next delimiter belongs to it */
		if (m->len > 0 && m->body[m->len - 1] == '\n')
			m->len--;
		if (m->len > 0 && m->body[m->len - 1] == '\r')
			m->len--;
		g_ptr_array_add(parts, m);
		p = next;
	}
	g_free(delim);
	if (p == NULL) {
		g_ptr_array_unref(parts);
		return NULL;
	}
	return parts;
}

/* The boundary parameter of a Content-Type (new string), or NULL. */
static char *
boundary_of(const char *ctype)
{
	const char *b = ctype != NULL ? strstr(ctype, "boundary=") : NULL;
	gsize n;

	if (b == NULL)
		return NULL;
	b += strlen("boundary=");
	if (*b == '"') {
		const char *q = strchr(b + 1, '"');
		return q != NULL ? g_strndup(b + 1, (gsize)(q - b - 1)) : NULL;
	}
	n = strcspn(b, "; \t\r\n");
	return n > 0 ? g_strndup(b, n) : NULL;
}

/* An embedded HTTP answer: status, its headers into headers, its body. */
static long
http_part(const mpart *m, GPtrArray *headers, const char **body, gsize *len)
{
	const char *end = m->body + m->len, *sp;
	guint64 status = 0;

	*body = end;
	*len = 0;
	if (m->len < 12 || strncmp(m->body, "HTTP/", 5) != 0 ||
	    (sp = memchr(m->body, ' ', m->len)) == NULL || end - sp < 4)
		return 0;
	char digits[4] = { sp[1], sp[2], sp[3], '\0' };
	if (!g_ascii_string_to_unsigned(digits, 10, 100, 599, &status, NULL))
		return 0;
	sp = memchr(sp, '\n', (gsize)(end - sp));
	*body = sp != NULL ? split_headers(sp + 1, end, headers) : end;
	*len = (gsize)(end - *body);
	return (long)status;
}

/* The job owning Content-ID cid, else the one at position pos. */
static bjob *
job_for(GArray *bj, const char *cid, guint pos)
{
	guint64 c;

	if (cid != NULL && g_ascii_string_to_unsigned(cid, 10, 1, G_MAXUINT, &c, NULL))
		for (guint i = 0; i < bj->len; i++) {
			bjob *b = &g_array_index(bj, bjob, i);
			if (c >= b->first_cid && c <= b->last_cid)
				return b;
		}
	return pos < bj->len ? &g_array_index(bj, bjob, pos) : NULL;
}

/* Append one application/http part to out. */
static void
add_op(GString *out, const char *boundary, guint cid, const char *line, const char *ctype,
    const char *json)
{
	g_string_append_printf(out, "--%s\r\nContent-Type: application/http\r\n"
	    "Content-Transfer-Encoding: binary\r\nContent-ID: %u\r\n\r\n%s HTTP/1.1\r\n"
	    "Content-Type: %s\r\n\r\n%s\r\n", boundary, cid, line, ctype, json);
}

/* Append the change set of one email; its Content-IDs from *cid on. */
static void
add_changeset(dyn *d, GString *out, const char *batch, guint k, const spool_job *job,
    const activity *a, guint *cid, bjob *b)
{
	char *cs = g_strdup_printf("changeset_%s_%u", batch + strlen("batch_"), k);
	dyn_email_opts o = { FALSE, FALSE };
	char *id = dyn_email_id(d, job);
	char *json = dyn_email_json(d, a, id, &o), *line, *ref;
	guint create = (*cid)++;

	b->first_cid = create;
	g_string_append_printf(out, "--%s\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n",
	    batch, cs);
	line = g_strdup_printf("POST %s/emails", d->api);
	add_op(out, cs, create, line, "application/json; type=entry", json);
	g_free(line);
	g_free(json);
	ref = g_strdup_printf("$%u", create);
	line = g_strdup_printf("POST %s/activitymimeattachments", d->api);
	for (guint i = 0; a->attachments != NULL && i < a->attachments->len; i++) {
		json = dyn_attachment_json(g_ptr_array_index(a->attachments, i), i, id, ref);
		add_op(out, cs, (*cid)++, line, "application/json; type=entry", json);
		g_free(json);
	}
	g_free(line);
	line = g_strdup_printf("PATCH %s", ref);
	json = dyn_state_json(a, 0);
	b->last_cid = *cid;
	add_op(out, cs, (*cid)++, line, "application/json", json);
	g_string_append_printf(out, "--%s--\r\n", cs);
	g_free(json);
	g_free(line);
	g_free(ref);
	g_free(cs);
	g_free(id);
}

/* Copy a result into another. */
static void
copy_result(conn_result *to, const conn_result *from)
{
	g_free(to->error);
	*to = *from;
	to->error = g_strdup(from->error);
}

/* The answer to one change set of job b: a nested multipart (done) or
 * one error part. */
static void
take_changeset(dyn *d, const spool_job *job, activity *a, bjob *b, const mpart *m,
    gint64 now, conn_result *res)
{
	char *inner_b = boundary_of(header_of(m->headers, "content-type"));
	GPtrArray *inner = inner_b != NULL ? split_multipart(m->body, m->len, inner_b) : NULL;
	char *id = NULL;
	char *cid = g_strdup_printf("%u", b->first_cid);
	gboolean all_ok = inner != NULL && inner->len > 0;

	res->status = CONN_RETRY;
	for (guint i = 0; inner != NULL && i < inner->len; i++) {
		mpart *p = g_ptr_array_index(inner, i);
		GPtrArray *h = g_ptr_array_new_with_free_func(g_free);
		const char *body;
		gsize len;
		long st = http_part(p, h, &body, &len);
		all_ok = all_ok && st >= 200 && st < 300;
		if (st >= 200 && st < 300 && id == NULL &&
		    g_strcmp0(header_of(p->headers, "content-id"), cid) == 0)
			id = dyn_entity_id(header_of(h, "odata-entityid"));
		g_ptr_array_unref(h);
	}
	/* every part done: the email has the id we gave it */
	if (id == NULL && all_ok)
		id = dyn_email_id(d, job);
	if (id != NULL) {
		dyn_after_save(d, job, a, id, now, res);
	} else {
		g_free(res->error);
		res->error = g_strdup("dynamics365 $batch: a change set answered without the email's id");
	}
	if (inner != NULL)
		g_ptr_array_unref(inner);
	g_free(inner_b);
	g_free(cid);
	g_free(id);
}

/* Map the parts of a $batch answer to the jobs of bj. */
static void
take_answer(dyn *d, const spool_job *const *jobs, activity **acts, GArray *bj,
    const http_response *rs, gint64 now, conn_result *results)
{
	char *bnd = boundary_of(http_response_header(rs, "content-type"));
	GPtrArray *parts = bnd != NULL ?
	    split_multipart((const char *)rs->body->data, rs->body->len, bnd) : NULL;

	for (guint i = 0; parts != NULL && i < parts->len; i++) {
		mpart *m = g_ptr_array_index(parts, i);
		const char *ct = header_of(m->headers, "content-type");
		GPtrArray *h = g_ptr_array_new_with_free_func(g_free);
		const char *body;
		gsize len;
		bjob *b;
		long st;

		if (ct != NULL && g_ascii_strncasecmp(ct, "multipart/mixed", 15) == 0) {
			GPtrArray *inner;
			char *ib = boundary_of(ct);
			inner = ib != NULL ? split_multipart(m->body, m->len, ib) : NULL;
			b = job_for(bj, inner != NULL && inner->len > 0 ?
			    header_of(((mpart *)g_ptr_array_index(inner, 0))->headers, "content-id") : NULL, i);
			if (b != NULL && !b->answered) {
				b->answered = TRUE;
				take_changeset(d, jobs[b->index], acts[b->index], b, m, now,
				    &results[b->index]);
			}
			if (inner != NULL)
				g_ptr_array_unref(inner);
			g_free(ib);
		} else if ((b = job_for(bj, header_of(m->headers, "content-id"), i)) != NULL &&
		    !b->answered && (st = http_part(m, h, &body, &len)) > 0) {
			conn_result *r = &results[b->index];
			b->answered = TRUE;
			g_free(r->error);
			r->error = NULL;
			r->retry_after = -1;
			r->no_attempt = FALSE;
			if (st >= 400 && st < 500 && st != 429) {
				/* refused as a whole: on its own, with the fallbacks */
				dyn_save_one(d, jobs[b->index], acts[b->index], now, r);
			} else {
				char *v = dyn_vendor_error(st, body, len);
				r->status = CONN_RETRY;
				r->error = g_strdup_printf("dynamics365 $batch: %s", v);
				g_free(v);
			}
		}
		g_ptr_array_unref(h);
	}
	for (guint i = 0; i < bj->len; i++) {
		bjob *b = &g_array_index(bj, bjob, i);
		if (!b->answered) {
			conn_result *r = &results[b->index];
			g_free(r->error);
			*r = (conn_result){ CONN_RETRY, -1,
			    g_strdup("dynamics365 $batch: no answer for this email in the batch"), FALSE };
		}
	}
	if (parts != NULL)
		g_ptr_array_unref(parts);
	g_free(bnd);
}

/* POST one $batch of the jobs in idx (indexes into jobs). */
static void
post_batch(dyn *d, const spool_job *const *jobs, activity **acts, const GArray *idx,
    gint64 now, conn_result *results)
{
	char *batch = g_strdup_printf("batch_%08x%08x", g_random_int(), g_random_int());
	char *ctype = g_strdup_printf("Content-Type: multipart/mixed; boundary=\"%s\"", batch);
	const char *hdr[] = { ctype, "Prefer: odata.continue-on-error", "If-None-Match: null", NULL };
	GString *body = g_string_new(NULL);
	GArray *bj = g_array_new(FALSE, TRUE, sizeof(bjob));
	char *url = dyn_api_url(d, "$batch");
	conn_result res = { CONN_OK, -1, NULL, FALSE };
	http_response rs;
	guint cid = 1;

	for (guint k = 0; k < idx->len; k++) {
		bjob b = { g_array_index(idx, guint, k), 0, 0, FALSE };
		add_changeset(d, body, batch, k, jobs[b.index], acts[b.index], &cid, &b);
		g_array_append_val(bj, b);
	}
	g_string_append_printf(body, "--%s--\r\n", batch);
	if (dyn_call(d, "POST", url, hdr, body->str, body->len, now, "dynamics365 POST $batch", &rs, &res) &&
	    rs.status == 200) {
		take_answer(d, jobs, acts, bj, &rs, now, results);
	} else if (rs.status >= 400 && rs.status < 500 && rs.status != 429 && rs.status != 401) {
		/* the batch itself was refused: each email on its own */
		for (guint k = 0; k < idx->len; k++) {
			guint i = g_array_index(idx, guint, k);
			dyn_save_one(d, jobs[i], acts[i], now, &results[i]);
		}
	} else {
		for (guint k = 0; k < idx->len; k++)
			copy_result(&results[g_array_index(idx, guint, k)], &res);
	}
	http_response_clear(&rs);
	conn_result_clear(&res);
	g_array_unref(bj);
	g_string_free(body, TRUE);
	g_free(url);
	g_free(ctype);
	g_free(batch);
}

/* One change set of n operations on existing records (see dynamics.h). */
gboolean
dyn_changeset(dyn *d, guint n, const char *const *methods, const char *const *urls,
    const char *const *bodies, gint64 now, const char *what, conn_result *res)
{
	char *batch = g_strdup_printf("batch_%08x%08x", g_random_int(), g_random_int());
	char *cs = g_strdup_printf("changeset_%s", batch + strlen("batch_"));
	char *ctype = g_strdup_printf("Content-Type: multipart/mixed; boundary=\"%s\"", batch);
	const char *hdr[] = { ctype, "If-None-Match: null", NULL };
	GString *body = g_string_new(NULL);
	char *url = dyn_api_url(d, "$batch");
	http_response rs;
	gboolean ok;

	g_string_append_printf(body, "--%s\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n",
	    batch, cs);
	for (guint i = 0; i < n; i++) {
		char *line = g_strdup_printf("%s %s", methods[i], urls[i]);
		add_op(body, cs, i + 1, line, "application/json", bodies[i]);
		g_free(line);
	}
	g_string_append_printf(body, "--%s--\r\n--%s--\r\n", cs, batch);
	ok = dyn_call(d, "POST", url, hdr, body->str, body->len, now, what, &rs, res) &&
	    res->status == CONN_OK;
	if (ok) {
		/* a change set that failed answers one application/http error part */
		char *bnd = boundary_of(http_response_header(&rs, "content-type"));
		GPtrArray *parts = bnd != NULL ?
		    split_multipart((const char *)rs.body->data, rs.body->len, bnd) : NULL;
		mpart *m = parts != NULL && parts->len > 0 ? g_ptr_array_index(parts, 0) : NULL;
		const char *ct = m != NULL ? header_of(m->headers, "content-type") : NULL;
		if (ct == NULL || g_ascii_strncasecmp(ct, "multipart/mixed", 15) != 0) {
			GPtrArray *h = g_ptr_array_new_with_free_func(g_free);
			const char *eb = NULL;
			gsize elen = 0;
			long st = m != NULL ? http_part(m, h, &eb, &elen) : 0;
			char *v = dyn_vendor_error(st, eb, elen);
			res->status = st >= 400 && st < 500 && st != 429 ? CONN_PERMANENT : CONN_RETRY;
			res->error = g_strdup_printf("%s: %s", what, v);
			g_free(v);
			g_ptr_array_unref(h);
			ok = FALSE;
		}
		if (parts != NULL)
			g_ptr_array_unref(parts);
		g_free(bnd);
	}
	http_response_clear(&rs);
	g_string_free(body, TRUE);
	g_free(url);
	g_free(ctype);
	g_free(cs);
	g_free(batch);
	return ok;
}

/* Operations and rough bytes of one email's change set. */
static void
cost_of(const activity *a, guint *ops, gsize *bytes)
{
	guint n = a->attachments != NULL ? a->attachments->len : 0;

	*ops = 2 + n;
	*bytes = 4096 + (a->text_body != NULL ? strlen(a->text_body) : 0) +
	    (a->html_body != NULL ? strlen(a->html_body) : 0);
	for (guint i = 0; i < n; i++)
		*bytes += (gsize)((activity_attachment *)g_ptr_array_index(a->attachments, i))->size * 4 / 3 + 512;
}

/* Send the emails of idx in $batch requests within the limits. */
static void
create_all(dyn *d, const spool_job *const *jobs, activity **acts, GArray *idx, gint64 now,
    conn_result *results)
{
	GArray *chunk = g_array_new(FALSE, FALSE, sizeof(guint));
	guint ops = 0;
	gsize bytes = 0;

	for (guint k = 0; k <= idx->len; k++) {
		guint i = k < idx->len ? g_array_index(idx, guint, k) : 0, o = 0;
		gsize by = 0;

		if (k < idx->len)
			cost_of(acts[i], &o, &by);
		if (chunk->len > 0 && (k == idx->len || ops + o > DYN_MAX_OPS ||
		    bytes + by > DYN_MAX_BATCH_BYTES)) {
			if (chunk->len == 1) {
				guint j = g_array_index(chunk, guint, 0);
				dyn_save_one(d, jobs[j], acts[j], now, &results[j]);
			} else {
				post_batch(d, jobs, acts, chunk, now, results);
			}
			g_array_set_size(chunk, 0);
			ops = 0;
			bytes = 0;
		}
		if (k < idx->len) {
			g_array_append_val(chunk, i);
			ops += o;
			bytes += by;
		}
	}
	g_array_unref(chunk);
}

/* save_batch (see the file comment). */
void
dyn_save_batch(void *state, const spool_job *const *jobs, guint n, gint64 now,
    conn_result *results)
{
	dyn *d = state;
	guint sent = d->sent;
	activity **acts = g_new0(activity *, n);
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(guint));
	GArray *create = g_array_new(FALSE, FALSE, sizeof(guint));
	const char **ids = g_new0(const char *, n);
	gboolean *outgoing = g_new0(gboolean, n);
	dyn_found *found = g_new0(dyn_found, n);
	conn_result lr = { CONN_OK, -1, NULL, FALSE };

	for (guint i = 0; i < n; i++) {
		GError *e = NULL;
		char *rid;
		if ((acts[i] = jobdata_activity(d->db, jobs[i], d->max_body + DYN_BODY_SLACK, TRUE, NULL,
		    &results[i])) == NULL)
			continue;
		rid = d->db != NULL ? crm_record_get(d->db, d->profile->name, jobs[i]->idem_key,
		    NULL, &e) : NULL;
		g_clear_error(&e);
		if (rid != NULL)
			dyn_save_one(d, jobs[i], acts[i], now, &results[i]);   /* finishes it */
		else
			g_array_append_val(todo, i);
		g_free(rid);
	}
	for (guint k = 0; k < todo->len; k++) {
		guint i = g_array_index(todo, guint, k);
		ids[k] = acts[i]->message_id;
		outgoing[k] = dyn_statuscode(acts[i]) == 3;
	}
	if (todo->len > 0 && !dyn_lookup(d, ids, outgoing, todo->len, found, now, &lr)) {
		for (guint k = 0; k < todo->len; k++)
			copy_result(&results[g_array_index(todo, guint, k)], &lr);
	} else {
		for (guint k = 0; k < todo->len; k++) {
			guint i = g_array_index(todo, guint, k);
			if (found[k].id != NULL)
				dyn_finish(d, jobs[i], acts[i], &found[k], now, &results[i]);
			else
				g_array_append_val(create, i);
		}
		create_all(d, jobs, acts, create, now, results);
	}
	for (guint i = 0; i < n; i++) {
		if (results[i].no_attempt && d->sent != sent)
			results[i].no_attempt = FALSE;
		g_free(found[i].id);
		activity_free(acts[i]);
	}
	conn_result_clear(&lr);
	g_free(found);
	g_free(outgoing);
	g_free(ids);
	g_free(acts);
	g_array_unref(todo);
	g_array_unref(create);
}

/*
 * cmd_test.c - `crm-milterctl test`: a dry run that decides a message
 * exactly as crm-milter would (core/decide.c) and prints the decision as
 * one JSON object. Writes nothing.
 *
 * The envelope comes from the options; without --from the From: address
 * is used, without --rcpt the To/Cc/Bcc addresses. The client is trusted
 * only as the options say (--auth, --client IP, --daemon NAME, --local).
 *
 * --output FILE ("-": standard output) also writes the message as it would
 * leave the MTA (core/outgoing.c, the milter's own edits): control headers
 * removed, the Subject changed, the HTML rewritten for tracking with the
 * configured keys under a new tracking id. The one thing it cannot show is
 * a subject token: that is the id of the save job, known once queued.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "activity.h"
#include "attach_policy.h"
#include "decide.h"
#include "lookups.h"
#include "message.h"
#include "outgoing.h"
#include "json_out.h"
#include "prog.h"

/* Read and parse the whole message, as the milter does at end of message;
 * *raw keeps the bytes. */
static crm_message *
load_message(const char *path, GBytes **raw)
{
	GError *e = NULL;
	char *data = NULL;
	gsize len = 0;
	crm_message *m;

	if (!g_file_get_contents(path, &data, &len, &e)) {
		fprintf(stderr, "crm-milterctl: %s\n", e->message);
		g_error_free(e);
		return NULL;
	}
	m = message_parse((const guint8 *)data, len, &e);
	if (m == NULL) {
		fprintf(stderr, "crm-milterctl: %s: %s\n", path, e->message);
		g_error_free(e);
		g_free(data);
		return NULL;
	}
	*raw = g_bytes_new_take(data, len);
	return m;
}

/* "attachments": {"kept": [...], "dropped": [...]} as the CRM would get
 * them (the rule's policy and blocked_extensions), added to the JSON. */
static void
add_attachments(JsonNode *root, const crm_config *cfg, const crm_decision *d, GBytes *raw)
{
	activity *act = activity_parse(raw, direction_name(d->direction), NULL, 1, NULL);
	JsonObject *att = json_object_new();
	JsonArray *kept = json_array_new(), *dropped = json_array_new();

	if (act != NULL) {
		if (d->rule != NULL)
			attach_policy_apply(d->rule->attachments, d->rule->attachment_types,
			    d->rule->max_attachment_size, cfg->capture.blocked_extensions, act);
		else
			attach_policy_apply(ATTACH_ALL, NULL, -1, cfg->capture.blocked_extensions, act);
		for (guint i = 0; i < act->attachments->len; i++) {
			activity_attachment *a = g_ptr_array_index(act->attachments, i);
			char *s = g_strdup_printf("%s (%s, %" G_GINT64_FORMAT " bytes)",
			    a->filename ? a->filename : "(no name)", a->content_type, a->size);
			json_array_add_string_element(kept, s);
			g_free(s);
		}
		for (guint i = 0; i < act->dropped->len; i++)
			json_array_add_string_element(dropped, g_ptr_array_index(act->dropped, i));
	}
	json_object_set_array_member(att, "kept", kept);
	json_object_set_array_member(att, "dropped", dropped);
	json_object_set_object_member(json_node_get_object(root), "attachments", att);
	activity_free(act);
}

/* Write what leaves the MTA to fp (opened as path before privileges were
 * dropped) and describe it in the JSON as "output": {...}. FALSE: nothing
 * usable was written. */
static gboolean
write_output(JsonNode *root, const crm_config *cfg, const crm_decision *d,
    GBytes *raw, FILE *fp, const char *path)
{
	gsize len;
	const guint8 *data = g_bytes_get_data(raw, &len);
	JsonObject *o = json_object_new();
	GByteArray *body = g_byte_array_new(), *out = g_byte_array_new();
	GPtrArray *edits;
	token_ring *ring = NULL;
	rewrite_status st = REWRITE_UNCHANGED;
	rewrite_stats stats = { 0 };
	char *hex = NULL, *reason = NULL, *subject = NULL;
	GError *e = NULL;
	gboolean ok = FALSE;

	if (d->track != 0 && d->save != NULL && cfg->tracking.base_url != NULL &&
	    cfg->tracking.key_file != NULL) {
		if ((ring = token_ring_load(cfg->tracking.key_file, &e)) == NULL) {
			fprintf(stderr, "crm-milterctl: %s\n", e->message);
			goto out;
		}
		st = outgoing_track(cfg, ring, NULL, d->track, data, len, NULL, body, &stats, &hex,
		    &reason, &e);
		json_object_set_string_member(o, "tracking", rewrite_status_name(st));
		if (reason != NULL)
			json_object_set_string_member(o, "tracking_reason", reason);
		if (e != NULL)
			json_object_set_string_member(o, "tracking_error", e->message);
		g_clear_error(&e);
	} else {
		json_object_set_string_member(o, "tracking", d->track != 0 && d->save != NULL ?
		    "not configured (tracking { base_url key_file })" : "not asked");
	}
	json_object_set_string_member(o, "tracking_id", hex);
	json_object_set_int_member(o, "links", stats.links);
	json_object_set_boolean_member(o, "pixel", stats.pixel);
	if (d->save != NULL && cfg->capture.subject_token && d->direction == DIR_OUTBOUND)
		json_object_set_string_member(o, "subject_token",
		    "added by crm-milter once the save is queued (it is the job id): not shown");
	if (d->new_subject != NULL)
		subject = g_mime_utils_header_encode_text(NULL, d->new_subject, NULL);
	edits = outgoing_header_edits(d, subject);
	outgoing_render(data, len, edits, st == REWRITE_DONE ? body : NULL, out);
	g_ptr_array_unref(edits);
	ok = fwrite(out->data, 1, out->len, fp) == out->len && fflush(fp) == 0;
	if (!ok)
		fprintf(stderr, "crm-milterctl: writing %s: %s\n", path, g_strerror(errno));
	json_object_set_string_member(o, "file", path);
	json_object_set_int_member(o, "bytes", out->len);
	json_object_set_object_member(json_node_get_object(root), "output", o);
	o = NULL;
out:
	if (o != NULL)
		json_object_unref(o);
	g_clear_error(&e);
	token_ring_free(ring);
	g_free(hex);
	g_free(reason);
	g_free(subject);
	g_byte_array_unref(body);
	g_byte_array_unref(out);
	return ok;
}

int
cmd_test(const char *config_path, int argc, char **argv)
{
	char *from = NULL, *auth = NULL, *client = NULL, *daemon = NULL, *output = NULL;
	char **rcpts = NULL;
	gboolean local = FALSE;
	GOptionEntry entries[] = {
		{ "from", 0, 0, G_OPTION_ARG_STRING, &from, "envelope sender", "ADDR" },
		{ "rcpt", 0, 0, G_OPTION_ARG_STRING_ARRAY, &rcpts, "envelope recipient (repeat)", "ADDR" },
		{ "auth", 0, 0, G_OPTION_ARG_STRING, &auth, "authenticated user ({auth_authen})", "USER" },
		{ "client", 0, 0, G_OPTION_ARG_STRING, &client, "client IP address", "IP" },
		{ "daemon", 0, 0, G_OPTION_ARG_STRING, &daemon, "{daemon_name} of the receiving service", "NAME" },
		{ "local", 0, 0, G_OPTION_ARG_NONE, &local, "submitted locally (sendmail command)", NULL },
		{ "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
		  "also write the message as it would leave the MTA (- for stdout)", "FILE" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *oc = g_option_context_new("FILE.eml - dry-run one message");
	GError *e = NULL;
	GPtrArray *env_rcpts = g_ptr_array_new_with_free_func(g_free);
	crm_config *cfg = NULL;
	crm_message *msg = NULL;
	GBytes *raw = NULL;
	JsonNode *out;
	crm_db *db = NULL;
	decide_lookups lk;
	lookup_ctx lc;
	classify_input in = { 0 };
	crm_decision d = { 0 };
	char *hdr_from = NULL;
	FILE *out_fp = NULL;
	int rc = 1;

	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &e) || argc != 2) {
		fprintf(stderr, "usage: crm-milterctl [-c FILE] test [--from ADDR] [--rcpt ADDR]... "
		    "[--auth USER] [--client IP] [--daemon NAME] [--local] [--output FILE] FILE.eml\n");
		g_clear_error(&e);
		rc = 2;
		goto out;
	}
	if ((cfg = prog_load_config(config_path)) == NULL)
		goto out;
	if ((msg = load_message(argv[1], &raw)) == NULL)
		goto out;
	/* opened as the caller, before privileges are dropped */
	if (output != NULL && strcmp(output, "-") == 0) {
		out_fp = stdout;
	} else if (output != NULL && (out_fp = fopen(output, "wb")) == NULL) {
		fprintf(stderr, "crm-milterctl: %s: %s\n", output, g_strerror(errno));
		goto out;
	}
	if (from == NULL) {
		GPtrArray *f = activity_addresses(g_mime_message_get_from(message_mime(msg)));
		if (f->len > 0)
			hdr_from = g_strdup(g_ptr_array_index(f, 0));
		g_ptr_array_unref(f);
	}
	if (rcpts != NULL) {
		for (char **r = rcpts; *r != NULL; r++)
			g_ptr_array_add(env_rcpts, g_strdup(*r));
	} else {
		static const GMimeAddressType types[] = {
			GMIME_ADDRESS_TYPE_TO, GMIME_ADDRESS_TYPE_CC, GMIME_ADDRESS_TYPE_BCC
		};
		for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
			GPtrArray *a = activity_addresses(g_mime_message_get_addresses(message_mime(msg), types[i]));
			for (guint j = 0; j < a->len; j++)
				g_ptr_array_add(env_rcpts, g_strdup(g_ptr_array_index(a, j)));
			g_ptr_array_unref(a);
		}
	}
	in.auth_user = auth;
	in.client_addr = client;
	in.daemon_name = daemon;
	in.local_submission = local;
	in.mail_from = from != NULL ? from : (hdr_from != NULL ? hdr_from : "");
	in.rcpts = (const char *const *)env_rcpts->pdata;
	in.nrcpts = env_rcpts->len;
	/* the directory and the ledger, when the spool can be read */
	if (prog_drop_privileges(cfg))
		db = prog_open_spool(cfg);
	if (db == NULL)
		fprintf(stderr, "crm-milterctl: deciding without directory and correlation lookups\n");
	lookups_init(&lk, &lc, db, "dry-run", g_get_real_time() / G_USEC_PER_SEC);
	lk.all_known = TRUE;     /* show every participant's records */
	if (db == NULL)
		lk.no_follow = NULL; /* the milter, with its spool, would ask; we cannot */
	decision_make(cfg, &in, msg, &lk, &d);
	out = decision_to_json(&d);
	add_attachments(out, cfg, &d, raw);
	rc = out_fp != NULL && !write_output(out, cfg, &d, raw, out_fp, output) ? 1 : 0;
	/* with --output -, the message is on stdout: the decision goes to stderr */
	if (output != NULL && strcmp(output, "-") == 0)
		json_out_fprint(stderr, out);
	else
		json_out_print(out);
	decision_clear(&d);
out:
	if (out_fp != NULL && out_fp != stdout && fclose(out_fp) != 0 && rc == 0) {
		fprintf(stderr, "crm-milterctl: %s: %s\n", output, g_strerror(errno));
		rc = 1;
	}
	message_free(msg);
	if (raw != NULL)
		g_bytes_unref(raw);
	db_close(db);
	g_option_context_free(oc);
	g_ptr_array_unref(env_rcpts);
	config_unref(cfg);
	g_free(from);
	g_free(hdr_from);
	g_free(auth);
	g_free(client);
	g_free(daemon);
	g_free(output);
	g_strfreev(rcpts);
	return rc;
}

/*
 * cmd_test.c - `crm-milterctl test`: a dry run that decides a message
 * exactly as crm-milter would (core/decide.c) and prints the decision as
 * one JSON object. Writes nothing.
 *
 * The envelope comes from the options; without --from the From: address
 * is used, without --rcpt the To/Cc/Bcc addresses. The client is trusted
 * only as the options say (--auth, --client IP, --daemon NAME, --local).
 */
#include <fcntl.h>
#include <stdio.h>

#include "ctl.h"
#include "activity.h"
#include "attach_policy.h"
#include "decide.h"
#include "lookups.h"
#include "message.h"
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

int
cmd_test(const char *config_path, int argc, char **argv)
{
	char *from = NULL, *auth = NULL, *client = NULL, *daemon = NULL;
	char **rcpts = NULL;
	gboolean local = FALSE;
	GOptionEntry entries[] = {
		{ "from", 0, 0, G_OPTION_ARG_STRING, &from, "envelope sender", "ADDR" },
		{ "rcpt", 0, 0, G_OPTION_ARG_STRING_ARRAY, &rcpts, "envelope recipient (repeat)", "ADDR" },
		{ "auth", 0, 0, G_OPTION_ARG_STRING, &auth, "authenticated user ({auth_authen})", "USER" },
		{ "client", 0, 0, G_OPTION_ARG_STRING, &client, "client IP address", "IP" },
		{ "daemon", 0, 0, G_OPTION_ARG_STRING, &daemon, "{daemon_name} of the receiving service", "NAME" },
		{ "local", 0, 0, G_OPTION_ARG_NONE, &local, "submitted locally (sendmail command)", NULL },
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
	int rc = 1;

	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &e) || argc != 2) {
		fprintf(stderr, "usage: crm-milterctl [-c FILE] test [--from ADDR] [--rcpt ADDR]... "
		    "[--auth USER] [--client IP] [--daemon NAME] [--local] FILE.eml\n");
		g_clear_error(&e);
		rc = 2;
		goto out;
	}
	if ((cfg = prog_load_config(config_path)) == NULL)
		goto out;
	if ((msg = load_message(argv[1], &raw)) == NULL)
		goto out;
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
	decision_make(cfg, &in, msg, &lk, &d);
	out = decision_to_json(&d);
	add_attachments(out, cfg, &d, raw);
	json_out_print(out);
	decision_clear(&d);
	rc = 0;
out:
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
	g_strfreev(rcpts);
	return rc;
}

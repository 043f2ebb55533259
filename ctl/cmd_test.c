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
#include <gmime/gmime.h>

#include "ctl.h"
#include "activity.h"
#include "decide.h"
#include "json_out.h"
#include "prog.h"

/* Read the message's headers with GMime. */
static GMimeMessage *
load_message(const char *path)
{
	GError *e = NULL;
	GMimeStream *s = g_mime_stream_fs_open(path, O_RDONLY, 0, &e);
	GMimeParser *p;
	GMimeMessage *m;

	if (s == NULL) {
		fprintf(stderr, "crm-milterctl: %s: %s\n", path, e->message);
		g_error_free(e);
		return NULL;
	}
	p = g_mime_parser_new_with_stream(s);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	if (m == NULL)
		fprintf(stderr, "crm-milterctl: %s: not a message\n", path);
	return m;
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
	GMimeMessage *msg = NULL;
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
	g_mime_init();
	if ((msg = load_message(argv[1])) == NULL)
		goto out;
	if (from == NULL) {
		GPtrArray *f = activity_addresses(g_mime_message_get_from(msg));
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
			GPtrArray *a = activity_addresses(g_mime_message_get_addresses(msg, types[i]));
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
	decision_make(cfg, &in, &d);
	json_out_print(decision_to_json(&d));
	decision_clear(&d);
	rc = 0;
out:
	if (msg != NULL)
		g_object_unref(msg);
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

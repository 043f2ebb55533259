/*
 * main.c - crm-tracker: answers the tracking pixel and the signed links
 * that crm-milter writes into outbound HTML, and records opens and clicks
 * (judged human, privacy proxy or scanner) as events in the spool.
 *
 * `crm-tracker -c FILE` listens on tracker { listen } and detaches; `-f`
 * stays in the foreground and logs to stderr; `--check` loads the config,
 * the key file and the engagement data, says what it found and exits (0,
 * or 1 naming what is wrong). SIGHUP reloads the config, the key ring and
 * the engagement data together (anything bad: refused, the old kept; the
 * listening address, threads and connection limits need a restart).
 * SIGTERM/SIGINT stop: requests in progress finish, events waiting are
 * written.
 *
 * SECURITY: started as root it makes the listening socket (so a port
 * below 1024 works), then becomes milter { user } before it reads the
 * key file or touches the spool. The key file must be readable by that
 * user only. No request body is ever read.
 */
#include "buildconf.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <glib.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "prog.h"
#include "recorder.h"
#include "snap.h"

/* Parse tracker { listen } ("ADDRESS:PORT", "[V6]:PORT", "*:PORT") into ss. */
static gboolean
parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char **why)
{
	const char *colon = strrchr(spec, ':');
	char *host;
	guint64 port;
	gboolean ok = TRUE;

	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL)) {
		*why = g_strdup_printf("tracker.listen: '%s' is not ADDRESS:PORT, [IPv6]:PORT or *:PORT "
		    "(port 1 to 65535)", spec);
		return FALSE;
	}
	host = g_strndup(spec, (gsize)(colon - spec));
	if (strcmp(host, "*") == 0 || (host[0] == '[' && g_str_has_suffix(host, "]"))) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		char *inner = strcmp(host, "*") == 0 ? g_strdup("::") : g_strndup(host + 1, strlen(host) - 2);

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((guint16)port);
		ok = inet_pton(AF_INET6, inner, &s6->sin6_addr) == 1;
		*len = sizeof(*s6);
		g_free(inner);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((guint16)port);
		ok = inet_pton(AF_INET, host, &s4->sin_addr) == 1;
		*len = sizeof(*s4);
	}
	if (!ok)
		*why = g_strdup_printf("tracker.listen: '%s' is not an IP address (names are not "
		    "resolved; IPv6 goes in brackets)", host);
	g_free(host);
	return ok;
}

/* The listening socket for spec (a wildcard also takes IPv4); -1 after
 * printing why. */
static int
open_listener(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char *why = NULL;
	int fd, one = 1, zero = 0;

	if (!parse_listen(spec, &ss, &len, &why)) {
		fprintf(stderr, "crm-tracker: %s\n", why);
		log_msg(CRM_LOG_ERR, NULL, "%s", why);
		g_free(why);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
		int e = errno;

		fprintf(stderr, "crm-tracker: cannot listen on %s: %s\n", spec, g_strerror(e));
		log_msg(CRM_LOG_ERR, NULL, "cannot listen on %s: %s", spec, g_strerror(e));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Load the key ring and engagement data for cfg; NULL after saying why. */
static tracker_snap *
load_snap(crm_config *cfg)
{
	GError *e = NULL;
	tracker_snap *s = snap_load(cfg, &e);

	if (s == NULL) {
		fprintf(stderr, "crm-tracker: %s\n", e->message);
		log_msg(CRM_LOG_ERR, NULL, "%s", e->message);
		g_error_free(e);
	}
	return s;
}

/* Say what a snapshot holds. */
static void
describe(const tracker_snap *s, gboolean to_stdout)
{
	guint sections, agents, ranges;

	engagement_data_counts(s->data, &sections, &agents, &ranges);
	if (to_stdout)
		printf("key file %s: ok\nengagement data %s: %u sections, %u agents, %u networks\n",
		    s->cfg->tracking.key_file, s->cfg->tracker.engagement_data, sections, agents, ranges);
	else
		log_msg(CRM_LOG_INFO, NULL, "engagement data %s: %u sections, %u agents, %u networks",
		    s->cfg->tracker.engagement_data, sections, agents, ranges);
}

/* SIGHUP: a new config, key ring and engagement data, or keep the old. */
static void
reload(const char *path, snap_holder *holder)
{
	crm_config *cfg = prog_load_config(path);
	tracker_snap *s = cfg != NULL ? load_snap(cfg) : NULL;
	tracker_snap *old = snap_holder_get(holder);

	config_unref(cfg);
	if (s == NULL) {
		log_msg(CRM_LOG_ERR, NULL, "reload of %s refused; keeping the current config", path);
		snap_unref(old);
		return;
	}
	if (g_strcmp0(s->cfg->tracker.listen, old->cfg->tracker.listen) != 0 ||
	    s->cfg->tracker.threads != old->cfg->tracker.threads ||
	    s->cfg->tracker.max_connections != old->cfg->tracker.max_connections ||
	    s->cfg->tracker.per_ip_connections != old->cfg->tracker.per_ip_connections ||
	    s->cfg->tracker.connection_timeout != old->cfg->tracker.connection_timeout ||
	    s->cfg->tracker.max_request_size != old->cfg->tracker.max_request_size)
		log_msg(CRM_LOG_WARNING, NULL, "tracker listen, threads and connection limits "
		    "change only when crm-tracker restarts");
	log_set_level((crm_log_level)s->cfg->log_level);
	describe(s, FALSE);
	snap_holder_set(holder, s);
	snap_unref(old);
	log_msg(CRM_LOG_NOTICE, NULL, "config %s reloaded", path);
}

/* Serve until told to stop. */
static int
serve(const char *config_path, tracker_snap *first, int fd, gboolean foreground)
{
	snap_holder holder;
	recorder *rec;
	tracker_http *http;
	GError *e = NULL;

	if (!foreground && daemon(0, 0) != 0) {
		log_msg(CRM_LOG_ERR, NULL, "cannot detach: %s", g_strerror(errno));
		close(fd);
		snap_unref(first);
		return 1;
	}
	snap_holder_init(&holder);
	snap_holder_set(&holder, first);
	rec = recorder_start(&holder);
	http = tracker_http_start(fd, first->cfg, &holder, rec, &e);
	if (http == NULL) {
		log_msg(CRM_LOG_ERR, NULL, "%s", e->message);
		g_error_free(e);
		recorder_stop(rec);
		snap_holder_clear(&holder);
		return 1;
	}
	log_msg(CRM_LOG_NOTICE, NULL, "crm-tracker %s listening on %s", PACKAGE_VERSION,
	    first->cfg->tracker.listen);
	while (!prog_signal_stop) {
		if (prog_signal_reload) {
			prog_signal_reload = 0;
			reload(config_path, &holder);
		}
		g_usleep(100000);
	}
	tracker_http_stop(http);
	recorder_stop(rec);
	snap_holder_clear(&holder);
	log_msg(CRM_LOG_NOTICE, NULL, "crm-tracker stopped");
	return 0;
}

int
main(int argc, char **argv)
{
	char *config_path = NULL;
	gboolean foreground = FALSE, check = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "config file (default " CRM_DEFAULT_CONFIG ")", "FILE" },
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground, "stay in the foreground and log to stderr", NULL },
		{ "check", 0, 0, G_OPTION_ARG_NONE, &check, "check the config, key file and engagement data, then exit", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *oc = g_option_context_new("- answer tracking pixels and links, record opens and clicks");
	GError *e = NULL;
	crm_config *cfg;
	tracker_snap *snap;
	int fd = -1, rc;

	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &e)) {
		fprintf(stderr, "crm-tracker: %s\n", e->message);
		g_error_free(e);
		g_option_context_free(oc);
		return 2;
	}
	g_option_context_free(oc);
	if (config_path == NULL)
		config_path = g_strdup(CRM_DEFAULT_CONFIG);
	if (!g_path_is_absolute(config_path)) {
		char *abs = g_canonicalize_filename(config_path, NULL);   /* daemon() goes to / */

		g_free(config_path);
		config_path = abs;
	}
	prog_log_init("crm-tracker", foreground || check, CRM_LOG_INFO);
	cfg = prog_load_config(config_path);
	if (cfg != NULL && !check)
		fd = open_listener(cfg->tracker.listen);
	if (cfg == NULL || (!check && fd < 0) || !prog_drop_privileges(cfg)) {
		if (fd >= 0)
			close(fd);
		config_unref(cfg);
		g_free(config_path);
		return 1;
	}
	log_set_level((crm_log_level)cfg->log_level);
	snap = load_snap(cfg);
	config_unref(cfg);
	if (snap == NULL) {
		if (fd >= 0)
			close(fd);
		g_free(config_path);
		return 1;
	}
	if (check) {
		describe(snap, TRUE);
		snap_unref(snap);
		g_free(config_path);
		return 0;
	}
	describe(snap, FALSE);

	prog_catch_signals();
	signal(SIGPIPE, SIG_IGN);

	rc = serve(config_path, snap, fd, foreground);
	g_free(config_path);
	return rc;
}

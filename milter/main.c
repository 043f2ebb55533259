/*
 * main.c - crm-milter start-up: options, config, socket, privileges,
 * libmilter's loop, SIGHUP reload.
 *
 * SECURITY: started as root, it creates the socket and our directories,
 * hands the socket to the MTA's group (milter { socket_group,
 * socket_mode }), then becomes milter { user } before it opens the spool.
 * It never touches the network beyond its milter socket.
 *
 * Threads: libmilter's loop runs in its own thread (its signal thread
 * takes SIGTERM/SIGINT and makes it return). The main thread keeps SIGHUP
 * (and SIGUSR1) unblocked and alone, so a reload builds a new runtime and
 * swaps it in while mail flows; a bad new config is refused and the old one
 * kept.
 */
#include "buildconf.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include <libmilter/mfapi.h>

#include "config.h"
#include "callbacks.h"
#include "snapshot.h"
#include "prog.h"
#include "log.h"
#include "db.h"
#include "privs.h"

/* Self-pipe: the signal handler and the milter thread wake the main loop. */
static int wake_pipe[2] = { -1, -1 };

/* SIGHUP/SIGUSR1: ask the main loop for a reload. */
static void
on_reload_signal(int sig)
{
	int saved = errno;
	char c = 'r';

	(void)sig;
	if (write(wake_pipe[1], &c, 1) < 0) {
		/* the pipe is full: a reload is already pending */
	}
	errno = saved;
}

/* The libmilter loop, in its own thread. */
static gpointer
milter_thread(gpointer data)
{
	char c = 'q';
	int rc = smfi_main();

	*(int *)data = rc;
	if (write(wake_pipe[1], &c, 1) < 0)
		log_msg(CRM_LOG_ERR, NULL, "cannot wake main thread: %s", g_strerror(errno));
	return NULL;
}

/* Create the listening socket and hand it to the MTA's group. */
static gboolean
open_socket(const crm_config *cfg)
{
	const char *path = config_socket_path(cfg->socket);
	GError *e = NULL;

	if (path != NULL) {
		char *dir = g_path_get_dirname(path);
		uid_t uid = getuid();
		gid_t gid = getgid();
		gboolean ok = (geteuid() != 0 || privs_lookup(cfg->user, &uid, &gid, &e)) &&
		    privs_prepare_dir(dir, uid, gid, 0755, &e);
		g_free(dir);
		if (!ok) {
			log_msg(CRM_LOG_ERR, NULL, "socket %s: %s", cfg->socket, e->message);
			g_error_free(e);
			return FALSE;
		}
	}
	if (smfi_setconn((char *)cfg->socket) != MI_SUCCESS ||
	    smfi_register(*callbacks_desc()) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		log_msg(CRM_LOG_ERR, NULL, "cannot open milter socket %s", cfg->socket);
		return FALSE;
	}
	if (path != NULL) {
		struct group *gr = cfg->socket_group && *cfg->socket_group ?
		    getgrnam(cfg->socket_group) : NULL;
		uid_t uid = (uid_t)-1;
		gid_t ugid;

		if (geteuid() == 0)
			(void)privs_lookup(cfg->user, &uid, &ugid, NULL);
		if (cfg->socket_group && *cfg->socket_group && gr == NULL)
			log_msg(CRM_LOG_WARNING, NULL, "socket_group %s does not exist; socket keeps its group",
			    cfg->socket_group);
		if (chown(path, uid, gr ? gr->gr_gid : (gid_t)-1) != 0)
			log_msg(CRM_LOG_WARNING, NULL, "chown %s: %s", path, g_strerror(errno));
		if (chmod(path, cfg->socket_mode) != 0) {
			log_msg(CRM_LOG_ERR, NULL, "chmod %s: %s", path, g_strerror(errno));
			return FALSE;
		}
	}
	return TRUE;
}

/* Open the spool once so a bad path or schema is fatal at start. */
static gboolean
check_spool(const crm_config *cfg)
{
	crm_db *db = prog_open_spool(cfg);
	gboolean ok = db != NULL;

	db_close(db);
	return ok;
}

/* SIGHUP: load the file again; keep the old config when it is bad. */
static void
reload(const char *path)
{
	milter_runtime *cur = snapshot_get(), *next;
	crm_config *cfg = prog_load_config(path);
	GError *e = NULL;

	if (cfg == NULL) {
		log_msg(CRM_LOG_ERR, NULL, "reload of %s refused; keeping the current config", path);
		goto out;
	}
	if (!check_spool(cfg)) {
		log_msg(CRM_LOG_ERR, NULL, "reload of %s refused: spool unusable; keeping the current config", path);
		config_unref(cfg);
		goto out;
	}
	next = runtime_new(cfg);        /* takes cfg */
	if (!runtime_load_keys(next, &e)) {
		log_msg(CRM_LOG_ERR, NULL, "reload of %s refused: %s; keeping the current config",
		    path, e->message);
		g_error_free(e);
		runtime_unref(next);
		goto out;
	}
	if (strcmp(next->cfg->socket, cur->cfg->socket) != 0 || strcmp(next->cfg->user, cur->cfg->user) != 0)
		log_msg(CRM_LOG_WARNING, NULL, "socket and user changes take effect at restart");
	log_set_level((crm_log_level)next->cfg->log_level);
	snapshot_set(next);
	log_msg(CRM_LOG_NOTICE, NULL, "config %s reloaded", path);
out:
	runtime_unref(cur);
}

/* Signals: TERM/INT for libmilter's thread, HUP/USR1 for ours. */
static void
setup_signals(sigset_t *milter_mask, sigset_t *main_mask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_reload_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	sigemptyset(main_mask);
	sigaddset(main_mask, SIGTERM);
	sigaddset(main_mask, SIGINT);
	*milter_mask = *main_mask;
	sigaddset(milter_mask, SIGHUP);
	sigaddset(milter_mask, SIGUSR1);
}

/* Wait for reloads until the milter thread ends. */
static void
main_loop(const char *path)
{
	for (;;) {
		struct pollfd p = { .fd = wake_pipe[0], .events = POLLIN };
		char c;

		if (poll(&p, 1, -1) < 0)
			continue;
		if (read(wake_pipe[0], &c, 1) != 1)
			continue;
		if (c == 'q')
			return;
		reload(path);
	}
}

int
main(int argc, char **argv)
{
	char *config_path = NULL;
	gboolean foreground = FALSE, version = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "config file (default " CRM_DEFAULT_CONFIG ")", "FILE" },
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground, "stay in the foreground and log to stderr", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &version, "print the version", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *oc = g_option_context_new("- CRM tracking mail filter");
	GError *e = NULL;
	sigset_t milter_mask, main_mask;
	crm_config *cfg = NULL;
	milter_runtime *rt;
	GThread *th;
	int rc = 0;

	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &e)) {
		fprintf(stderr, "crm-milter: %s\n", e->message);
		g_error_free(e);
		g_option_context_free(oc);
		return 2;
	}
	g_option_context_free(oc);
	if (version) {
		printf("crm-milter %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (config_path == NULL)
		config_path = g_strdup(CRM_DEFAULT_CONFIG);
	prog_log_init("crm-milter", foreground, CRM_LOG_INFO);
	cfg = prog_load_config(config_path);
	if (cfg == NULL)
		goto fail;
	log_set_level((crm_log_level)cfg->log_level);
	if (!open_socket(cfg) || !prog_drop_privileges(cfg) || !check_spool(cfg))
		goto fail;
	if (!foreground && daemon(0, 0) != 0) {
		log_msg(CRM_LOG_ERR, NULL, "cannot detach: %s", g_strerror(errno));
		goto fail;
	}
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_msg(CRM_LOG_ERR, NULL, "pipe: %s", g_strerror(errno));
		goto fail;
	}
	rt = runtime_new(cfg);           /* takes cfg */
	cfg = NULL;
	if (!runtime_load_keys(rt, &e)) {
		log_msg(CRM_LOG_ERR, NULL, "tracking keys: %s", e->message);
		fprintf(stderr, "crm-milter: tracking keys: %s\n", e->message);
		g_error_free(e);
		runtime_unref(rt);
		goto fail;
	}
	snapshot_set(rt);
	setup_signals(&milter_mask, &main_mask);
	pthread_sigmask(SIG_BLOCK, &milter_mask, NULL);
	th = g_thread_new("milter", milter_thread, &rc);
	pthread_sigmask(SIG_SETMASK, &main_mask, NULL);
	log_msg(CRM_LOG_NOTICE, NULL, "crm-milter %s listening on %s", PACKAGE_VERSION, rt->cfg->socket);
	main_loop(config_path);
	g_thread_join(th);
	snapshot_set(NULL);
	log_msg(CRM_LOG_NOTICE, NULL, "crm-milter stopped");
	g_free(config_path);
	return rc == MI_SUCCESS ? 0 : 1;
fail:
	config_unref(cfg);
	g_free(config_path);
	return 1;
}

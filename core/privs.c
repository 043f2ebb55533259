/*
 * privs.c - privilege drop shared by all programs. See privs.h.
 * SECURITY: after privs_drop returns TRUE as root, the process can no
 * longer regain root (checked with setuid(0)).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privs.h"

G_DEFINE_QUARK(crm-privs-error-quark, privs_error)

/* Find user in the password database. */
gboolean
privs_lookup(const char *user, uid_t *uid, gid_t *gid, GError **err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc;

	rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (rc != 0 || res == NULL) {
		g_set_error(err, PRIVS_ERROR, 1,
		    "user \"%s\" does not exist (create it, or set milter { user } in the config)",
		    user);
		return FALSE;
	}
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return TRUE;
}

/* mkdir -p and, as root, hand the directory to uid:gid. */
gboolean
privs_prepare_dir(const char *dir, uid_t uid, gid_t gid, mode_t mode, GError **err)
{
	if (g_mkdir_with_parents(dir, (int)mode) != 0) {
		int e = errno;
		g_set_error(err, PRIVS_ERROR, 2, "cannot create %s: %s", dir, g_strerror(e));
		return FALSE;
	}
	if (geteuid() == 0 && chown(dir, uid, gid) != 0) {
		int e = errno;
		g_set_error(err, PRIVS_ERROR, 2, "cannot chown %s: %s", dir, g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

/* Become user (when root), after preparing dirs for it. */
gboolean
privs_drop(const char *user, const char *const *dirs, GError **err)
{
	uid_t uid;
	gid_t gid;
	int i;

	if (geteuid() != 0)
		return TRUE;
	if (!privs_lookup(user, &uid, &gid, err))
		return FALSE;
	for (i = 0; dirs != NULL && dirs[i] != NULL; i++)
		if (!privs_prepare_dir(dirs[i], uid, gid, 0750, err))
			return FALSE;
	if (setgid(gid) != 0 || initgroups(user, gid) != 0 || setuid(uid) != 0) {
		int e = errno;
		g_set_error(err, PRIVS_ERROR, 3, "cannot become %s: %s", user, g_strerror(e));
		return FALSE;
	}
	if (uid != 0 && setuid(0) == 0) {
		g_set_error(err, PRIVS_ERROR, 3, "could regain root after dropping to %s", user);
		return FALSE;
	}
	return TRUE;
}

/*
 * privs.h - start as root, prepare our directories, become the unprivileged
 * user (milter { user }) before touching the spool. Every program of ours
 * does this, so the spool's files always belong to that user. Started as
 * another user, nothing changes.
 *
 * Public: privs_drop, privs_prepare_dir, privs_lookup.
 */
#ifndef CRM_PRIVS_H
#define CRM_PRIVS_H

#include <glib.h>
#include <sys/types.h>

#define PRIVS_ERROR privs_error_quark()
GQuark privs_error_quark(void);

/* uid/gid of user; FALSE with a clear error when there is no such user. */
gboolean privs_lookup(const char *user, uid_t *uid, gid_t *gid, GError **err);
/* mkdir -p dir with mode; when we are root also chown it to uid:gid. */
gboolean privs_prepare_dir(const char *dir, uid_t uid, gid_t gid, mode_t mode,
    GError **err);
/* When root: create the spool's and tmp_dir's directories for user, then
 * setgid/initgroups/setuid to user and check it cannot be undone. When not
 * root: do nothing. */
gboolean privs_drop(const char *user, const char *const *dirs, GError **err);

#endif

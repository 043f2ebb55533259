/*
 * readfile.h - read a whole small file we do not trust: a regular file,
 * at most max bytes (checked while reading, not only by stat, so a file
 * that grows is still cut off), no NUL byte (the text is handed to text
 * parsers). READFILE_SECRET also refuses a file other users may read or
 * write (mode & 0007): keys, secrets and tokens.
 *
 * Errors are "PATH: what" (G_FILE_ERROR domain); for a NUL byte *nul_line
 * (if not NULL) gets its 1-based line.
 *
 * Ownership: the returned text is new (g_free), NUL-terminated; *len (if
 * not NULL) gets its length.
 *
 * readfile_secret_line reads a secret file (READFILE_SECRET) holding one
 * value on its first line: the line without its line end and outer blanks;
 * an empty value is an error.
 *
 * Public: readfile_text, readfile_secret_line.
 */
#ifndef CRM_READFILE_H
#define CRM_READFILE_H

#include <glib.h>

enum { READFILE_SECRET = 1 };

char *readfile_text(const char *path, gsize max, int flags, gsize *len, int *nul_line,
    GError **err);
char *readfile_secret_line(const char *path, gsize max, GError **err);

#endif

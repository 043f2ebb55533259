/*
 * readfile.c - bounded, checked reads of small text files (see readfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readfile.h"

/* Set err to "path: text" with code. */
static void
fail(GError **err, GFileError code, const char *path, const char *text)
{
	g_set_error(err, G_FILE_ERROR, code, "%s: %s", path, text);
}

/* Read path whole; see readfile.h. */
char *
readfile_text(const char *path, gsize max, int flags, gsize *len, int *nul_line, GError **err)
{
	struct stat st;
	GByteArray *buf;
	guint8 chunk[8192];
	const guint8 *nul;
	ssize_t n;
	int fd;

	if (nul_line != NULL)
		*nul_line = 0;
	/* O_NONBLOCK: a FIFO (or a device) put in a file's place must not
	 * block the open; it is refused as not regular just below */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		fail(err, g_file_error_from_errno(e), path, g_strerror(e));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fail(err, G_FILE_ERROR_INVAL, path, "not a regular file");
		close(fd);
		return NULL;
	}
	if ((flags & READFILE_SECRET) && (st.st_mode & 0007) != 0) {
		char *why = g_strdup_printf("other users may read or write it (mode %04o): "
		    "chmod o-rwx %s", (unsigned)(st.st_mode & 07777), path);
		fail(err, G_FILE_ERROR_PERM, path, why);
		g_free(why);
		close(fd);
		return NULL;
	}
	buf = g_byte_array_new();
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf->len + (gsize)n > max) {
			char *why = n < 0 ? g_strdup_printf("cannot read: %s", g_strerror(errno)) :
			    g_strdup_printf("larger than %" G_GSIZE_FORMAT " bytes", max);
			fail(err, n < 0 ? G_FILE_ERROR_IO : G_FILE_ERROR_FAILED, path, why);
			g_free(why);
			g_byte_array_unref(buf);
			close(fd);
			return NULL;
		}
		g_byte_array_append(buf, chunk, (guint)n);
	}
	close(fd);
	if ((nul = memchr(buf->data, '\0', buf->len)) != NULL) {
		if (nul_line != NULL) {
			*nul_line = 1;
			for (const guint8 *p = buf->data; p < nul; p++)
				*nul_line += *p == '\n';
		}
		fail(err, G_FILE_ERROR_INVAL, path, "contains a NUL byte");
		g_byte_array_unref(buf);
		return NULL;
	}
	if (len != NULL)
		*len = buf->len;
	g_byte_array_append(buf, (const guint8 *)"", 1);
	return (char *)g_byte_array_free(buf, FALSE);
}

/* The first line of a secret file, trimmed. */
char *
readfile_secret_line(const char *path, gsize max, GError **err)
{
	char *text = readfile_text(path, max, READFILE_SECRET, NULL, NULL, err);
	char *nl, *value;

	if (text == NULL)
		return NULL;
	if ((nl = strchr(text, '\n')) != NULL)
		*nl = '\0';
	value = g_strdup(g_strstrip(text));
	memset(text, 0, strlen(text));
	g_free(text);
	if (*value == '\0') {
		fail(err, G_FILE_ERROR_INVAL, path, "the first line is empty");
		g_free(value);
		return NULL;
	}
	return value;
}

/*
 * config_read.c - reading the config file, and the pre-pass that blanks
 * its comments before libconfuse sees the text.
 *
 * libconfuse 3.3 counts extra lines for every comment (two per # or //
 * comment, one per slash-star comment) and rejects a comment inside a
 * list, so comments are replaced by spaces here, newlines kept. The same
 * pass notices a '{' that is never closed, which libconfuse accepts at the
 * end of the file. Quoted strings are skipped as libconfuse's lexer does
 * (a backslash escapes the next character).
 *
 * Public: config_read_text, config_prescan (config_table.h).
 * Ownership: config_read_text returns a new string (g_free); *why is a new
 *         string (g_free).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>

#include "config_table.h"

#define CONF_FILE_MAX (1024 * 1024)   /* bytes; a config is far smaller */

/* Read a whole regular file of up to CONF_FILE_MAX bytes; NULL and why if not. */
char *
config_read_text(const char *path, int *line, char **why)
{
	GByteArray *buf;
	struct stat st;
	guint8 chunk[8192];
	const char *nul, *p;
	ssize_t n;
	int fd;

	*line = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);   /* a FIFO: refused, not waited on */
	if (fd < 0) {
		*why = g_strdup_printf("cannot open: %s", g_strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = g_strdup("not a regular file");
		close(fd);
		return NULL;
	}
	buf = g_byte_array_new();
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf->len + (gsize)n > CONF_FILE_MAX) {
			*why = n < 0 ? g_strdup_printf("cannot read: %s", g_strerror(errno)) :
			    g_strdup_printf("larger than %d bytes", CONF_FILE_MAX);
			g_byte_array_unref(buf);
			close(fd);
			return NULL;
		}
		g_byte_array_append(buf, chunk, (guint)n);
	}
	close(fd);
	g_byte_array_append(buf, (const guint8 *)"", 1);
	nul = memchr(buf->data, '\0', buf->len - 1);
	if (nul != NULL) {
		*line = 1;
		for (p = (const char *)buf->data; p < nul; p++)
			*line += *p == '\n';
		*why = g_strdup("the file contains a NUL byte");
		g_byte_array_unref(buf);
		return NULL;
	}
	return (char *)g_byte_array_free(buf, FALSE);
}

/*
 * The pre-pass over the text, outside quoted strings: replace every
 * comment (#..., //..., slash-star ... star-slash) with spaces, keeping
 * newlines, so libconfuse counts lines right and takes comments inside
 * lists; and report a '{' never closed, which libconfuse accepts at the
 * end of the file. Returns FALSE with the first such problem; the
 * comments are blanked either way.
 */
gboolean
config_prescan(char *s, int *line_out, char **why)
{
	enum { NORMAL, DQUOTE, SQUOTE, LINE, BLOCK } st = NORMAL;
	GArray *open = g_array_new(FALSE, FALSE, sizeof(int));  /* lines of '{' */
	int line = 1, block_line = 0, unclosed;
	char *p;

	for (p = s; *p != '\0'; p++) {
		switch (st) {
		case NORMAL:
			if (*p == '"')
				st = DQUOTE;
			else if (*p == '\'')
				st = SQUOTE;
			else if (*p == '{')
				g_array_append_val(open, line);
			else if (*p == '}' && open->len > 0)
				g_array_set_size(open, open->len - 1);
			else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
				st = LINE;
				*p = ' ';
			} else if (p[0] == '/' && p[1] == '*') {
				st = BLOCK;
				block_line = line;
				p[0] = p[1] = ' ';
				p++;
			}
			break;
		case DQUOTE:
		case SQUOTE:
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == (st == DQUOTE ? '"' : '\''))
				st = NORMAL;
			break;
		case LINE:
			if (*p == '\n')
				st = NORMAL;
			else
				*p = ' ';
			break;
		case BLOCK:
			if (p[0] == '*' && p[1] == '/') {
				p[0] = p[1] = ' ';
				p++;
				st = NORMAL;
			} else if (*p != '\n') {
				*p = ' ';
			}
			break;
		}
		if (*p == '\n')
			line++;
	}
	unclosed = open->len > 0 ? g_array_index(open, int, open->len - 1) : 0;
	g_array_unref(open);
	if (st == BLOCK) {
		*line_out = block_line;
		*why = g_strdup("unterminated comment");
		return FALSE;
	}
	if (unclosed > 0 && st == NORMAL) {
		*line_out = unclosed;
		*why = g_strdup("this '{' is never closed");
		return FALSE;
	}
	return TRUE;
}

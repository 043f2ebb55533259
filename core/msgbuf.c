/*
 * msgbuf.c - memory-then-file message buffer. See msgbuf.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <gio/gio.h>

#include "msgbuf.h"

struct msgbuf {
	gsize mem_cap;
	gsize max_size;
	char *spill_dir;
	GByteArray *mem;       /* content while not spilled */
	int fd;                /* spill file, -1 until spilled */
	gsize len;             /* total bytes kept */
	gboolean too_big;
	void *map;             /* mapping of the spill file, or NULL */
	gsize map_len;
};

/* A new empty buffer. */
msgbuf *
msgbuf_new(gsize mem_cap, gsize max_size, const char *spill_dir)
{
	msgbuf *mb = g_new0(msgbuf, 1);

	mb->mem_cap = mem_cap;
	mb->max_size = max_size;
	mb->spill_dir = g_strdup(spill_dir != NULL ? spill_dir : g_get_tmp_dir());
	mb->mem = g_byte_array_sized_new(MIN(mem_cap, 64 * 1024));
	mb->fd = -1;
	return mb;
}

/* Write all of buf to fd. */
static gboolean
write_all(int fd, const guint8 *buf, gsize len, GError **err)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			g_set_error(err, G_IO_ERROR, g_io_error_from_errno(e),
			    "writing spill file: %s", g_strerror(e));
			return FALSE;
		}
		buf += n;
		len -= (gsize)n;
	}
	return TRUE;
}

/* Move the in-memory content to a new unlinked temp file. */
static gboolean
spill(msgbuf *mb, GError **err)
{
	char *tmpl = g_build_filename(mb->spill_dir, "crm-body-XXXXXX", NULL);
	int fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		int e = errno;
		g_set_error(err, G_IO_ERROR, g_io_error_from_errno(e),
		    "cannot create spill file in %s: %s", mb->spill_dir, g_strerror(e));
		g_free(tmpl);
		return FALSE;
	}
	(void)unlink(tmpl);
	g_free(tmpl);
	if (!write_all(fd, mb->mem->data, mb->mem->len, err)) {
		close(fd);
		return FALSE;
	}
	mb->fd = fd;
	g_byte_array_set_size(mb->mem, 0);
	return TRUE;
}

/* Drop a mapping made by msgbuf_data (content is about to change). */
static void
unmap(msgbuf *mb)
{
	if (mb->map != NULL)
		munmap(mb->map, mb->map_len);
	mb->map = NULL;
	mb->map_len = 0;
}

/* Append data, spilling past mem_cap and refusing past max_size. */
msgbuf_status
msgbuf_append(msgbuf *mb, const void *data, gsize len, GError **err)
{
	if (mb->too_big)
		return MSGBUF_TOO_BIG;
	if (len > mb->max_size - mb->len) {
		mb->too_big = TRUE;
		return MSGBUF_TOO_BIG;
	}
	unmap(mb);
	if (mb->fd < 0 && mb->len + len > mb->mem_cap && !spill(mb, err))
		return MSGBUF_ERROR;
	if (mb->fd >= 0) {
		if (!write_all(mb->fd, data, len, err))
			return MSGBUF_ERROR;
	} else {
		g_byte_array_append(mb->mem, data, (guint)len);
	}
	mb->len += len;
	return MSGBUF_OK;
}

/* Bytes kept so far. */
gsize
msgbuf_len(const msgbuf *mb)
{
	return mb->len;
}

/* Has the content gone to a file? */
gboolean
msgbuf_spilled(const msgbuf *mb)
{
	return mb->fd >= 0;
}

/* The whole content, from memory or mapped from the spill file. */
const guint8 *
msgbuf_data(msgbuf *mb, gsize *len, GError **err)
{
	*len = mb->len;
	if (mb->fd < 0)
		return mb->mem->data;
	if (mb->map == NULL) {
		void *p = mmap(NULL, mb->len, PROT_READ, MAP_PRIVATE, mb->fd, 0);
		if (p == MAP_FAILED) {
			int e = errno;
			g_set_error(err, G_IO_ERROR, g_io_error_from_errno(e),
			    "mapping spill file: %s", g_strerror(e));
			return NULL;
		}
		mb->map = p;
		mb->map_len = mb->len;
	}
	return mb->map;
}

/* Free the buffer and close (and so remove) its spill file. */
msgbuf *
msgbuf_free(msgbuf *mb)
{
	if (mb == NULL)
		return NULL;
	unmap(mb);
	if (mb->fd >= 0)
		close(mb->fd);
	g_byte_array_unref(mb->mem);
	g_free(mb->spill_dir);
	g_free(mb);
	return NULL;
}

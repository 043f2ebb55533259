/*
 * crm/pauseboard.c - Retry-After pauses in a shared memory-mapped file
 * (see pauseboard.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pauseboard.h"

typedef struct slot {
	char name[PAUSEBOARD_NAME_MAX];
	gint64 until;                  /* unix us; only through __atomic builtins
	                                  (lock-free for 8 bytes on our targets) */
} slot;

struct pauseboard {
	int fd;
	slot *slots;                   /* PAUSEBOARD_SLOTS, shared mapping */
};

/* Open or create the board. */
pauseboard *
pauseboard_open(const char *spool_path, GError **err)
{
	char *path = g_strdup_printf("%s.pauses", spool_path);
	gsize size = sizeof(slot) * PAUSEBOARD_SLOTS;
	struct stat st;
	pauseboard *b;
	void *map;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600), e;

	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    ((gsize)st.st_size < size && ftruncate(fd, (off_t)size) != 0)) {
		e = errno;
		g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", path,
		    fd >= 0 && !S_ISREG(st.st_mode) ? "not a regular file" : g_strerror(e));
		if (fd >= 0)
			close(fd);
		g_free(path);
		return NULL;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		e = errno;
		g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e), "%s: mmap: %s", path,
		    g_strerror(e));
		close(fd);
		g_free(path);
		return NULL;
	}
	g_free(path);
	b = g_new0(pauseboard, 1);
	b->fd = fd;
	b->slots = map;
	return b;
}

/* Close. */
pauseboard *
pauseboard_close(pauseboard *b)
{
	if (b == NULL)
		return NULL;
	munmap(b->slots, sizeof(slot) * PAUSEBOARD_SLOTS);
	close(b->fd);
	g_free(b);
	return NULL;
}

/* The slot of name, or NULL; claim selects a free one (under flock). */
static slot *
find(pauseboard *b, const char *name, gboolean claim)
{
	gsize len = strlen(name);
	guint start = g_str_hash(name) % PAUSEBOARD_SLOTS;
	slot *found = NULL;

	if (len == 0 || len >= PAUSEBOARD_NAME_MAX)
		return NULL;
	for (guint k = 0; k < PAUSEBOARD_SLOTS && found == NULL; k++) {
		slot *s = &b->slots[(start + k) % PAUSEBOARD_SLOTS];
		if (strncmp(s->name, name, PAUSEBOARD_NAME_MAX) == 0)
			found = s;
		else if (s->name[0] == '\0')
			break;                 /* names are never removed: not here */
	}
	if (found != NULL || !claim)
		return found;
	if (flock(b->fd, LOCK_EX) != 0)
		return NULL;
	for (guint k = 0; k < PAUSEBOARD_SLOTS && found == NULL; k++) {
		slot *s = &b->slots[(start + k) % PAUSEBOARD_SLOTS];
		if (strncmp(s->name, name, PAUSEBOARD_NAME_MAX) == 0) {
			found = s;             /* another flusher claimed it meanwhile */
		} else if (s->name[0] == '\0') {
			__atomic_store_n(&s->until, 0, __ATOMIC_RELEASE);
			memcpy(s->name, name, len + 1);
			found = s;
		}
	}
	(void)flock(b->fd, LOCK_UN);
	return found;
}

/* Pause profile until until_us (a later pause stays). */
void
pauseboard_set(pauseboard *b, const char *profile, gint64 until_us)
{
	slot *s = b != NULL ? find(b, profile, TRUE) : NULL;
	gint64 old;

	if (s == NULL)
		return;
	old = __atomic_load_n(&s->until, __ATOMIC_ACQUIRE);
	while (old < until_us && !__atomic_compare_exchange_n(&s->until, &old, until_us, FALSE,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;                              /* old now holds the newer value */
}

/* Until when profile is paused. */
gint64
pauseboard_until(pauseboard *b, const char *profile)
{
	slot *s = b != NULL ? find(b, profile, FALSE) : NULL;

	return s != NULL ? __atomic_load_n(&s->until, __ATOMIC_ACQUIRE) : 0;
}

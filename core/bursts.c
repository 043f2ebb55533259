/*
 * bursts.c - recent clicks per tracked message, bounded. See bursts.h.
 */
#include "bursts.h"

typedef struct {
	gint64 at_us;
	guint link;
} click_mark;

struct bursts {
	GHashTable *recent;      /* hex id -> GArray of click_mark, oldest first */
};

bursts *
bursts_new(void)
{
	bursts *b = g_new0(bursts, 1);

	b->recent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    (GDestroyNotify)g_array_unref);
	return b;
}

bursts *
bursts_free(bursts *b)
{
	if (b != NULL) {
		g_hash_table_unref(b->recent);
		g_free(b);
	}
	return NULL;
}

/* The mark to drop from a full list: the oldest whose link has a newer
 * mark (so a replayed link cannot push other links out), else the oldest. */
static guint
evictee(const GArray *marks)
{
	for (guint i = 0; i < marks->len; i++)
		for (guint k = i + 1; k < marks->len; k++)
			if (g_array_index(marks, click_mark, k).link == g_array_index(marks, click_mark, i).link)
				return i;
	return 0;
}

/* Append the click; when the message has BURSTS_MARKS_MAX, one goes. */
void
bursts_note(bursts *b, const char *hex, gint64 at_us, guint link)
{
	GArray *marks = g_hash_table_lookup(b->recent, hex);
	click_mark m = { at_us, link };

	if (marks == NULL) {
		marks = g_array_sized_new(FALSE, FALSE, sizeof(click_mark), 4);
		g_hash_table_insert(b->recent, g_strdup(hex), marks);
	}
	if (marks->len >= BURSTS_MARKS_MAX)
		g_array_remove_index(marks, evictee(marks));
	g_array_append_val(marks, m);
}

/* Count the different links among the marks within the span. */
guint
bursts_links(const bursts *b, const char *hex, gint64 at_us, gint64 span_us)
{
	GArray *marks = g_hash_table_lookup(b->recent, hex);
	guint seen[BURSTS_MARKS_MAX], n = 0;

	for (guint i = 0; marks != NULL && i < marks->len; i++) {
		const click_mark *m = &g_array_index(marks, click_mark, i);
		gboolean dup = FALSE;

		if (m->at_us < at_us - span_us || m->at_us > at_us + span_us)
			continue;
		for (guint k = 0; k < n && !dup; k++)
			dup = seen[k] == m->link;
		if (!dup && n < BURSTS_MARKS_MAX)
			seen[n++] = m->link;
	}
	return MAX(n, 1);
}

/* Drop old marks, and messages left with none. */
void
bursts_prune(bursts *b, gint64 cutoff_us)
{
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, b->recent);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		GArray *marks = value;
		guint keep = 0;

		for (guint i = 0; i < marks->len; i++)
			if (g_array_index(marks, click_mark, i).at_us >= cutoff_us)
				g_array_index(marks, click_mark, keep++) = g_array_index(marks, click_mark, i);
		g_array_set_size(marks, keep);
		if (keep == 0)
			g_hash_table_iter_remove(&it);
	}
}

guint
bursts_marks(const bursts *b, const char *hex)
{
	GArray *marks = g_hash_table_lookup(b->recent, hex);

	return marks != NULL ? marks->len : 0;
}

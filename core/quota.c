/*
 * quota.c - events per key per time bucket. See quota.h.
 */
#include "quota.h"

struct quota {
	GHashTable *counts;      /* key -> count (GUINT_TO_POINTER) in bucket */
	gint64 bucket;
};

quota *
quota_new(void)
{
	quota *q = g_new0(quota, 1);

	q->counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return q;
}

quota *
quota_free(quota *q)
{
	if (q != NULL) {
		g_hash_table_unref(q->counts);
		g_free(q);
	}
	return NULL;
}

/* A later bucket forgets the counts of the last one; an earlier one (the
 * clock stepped back) counts in the current one. */
static void
enter(quota *q, gint64 bucket)
{
	if (bucket > q->bucket) {
		g_hash_table_remove_all(q->counts);
		q->bucket = bucket;
	}
}

gboolean
quota_take(quota *q, const char *key, gint64 bucket, guint max, gint64 *counted_in)
{
	guint n;

	*counted_in = QUOTA_NONE;
	if (max == 0)
		return TRUE;
	enter(q, bucket);
	n = GPOINTER_TO_UINT(g_hash_table_lookup(q->counts, key));
	if (n >= max)
		return FALSE;
	if (n == 0 && g_hash_table_size(q->counts) >= QUOTA_KEYS_MAX)
		g_hash_table_remove_all(q->counts);     /* bounded memory: start afresh */
	g_hash_table_insert(q->counts, g_strdup(key), GUINT_TO_POINTER(n + 1));
	*counted_in = q->bucket;
	return TRUE;
}

void
quota_give_back(quota *q, const char *key, gint64 counted_in)
{
	guint n;

	if (counted_in == QUOTA_NONE || counted_in != q->bucket)
		return;
	n = GPOINTER_TO_UINT(g_hash_table_lookup(q->counts, key));
	if (n > 1)
		g_hash_table_insert(q->counts, g_strdup(key), GUINT_TO_POINTER(n - 1));
	else if (n == 1)
		g_hash_table_remove(q->counts, key);
}

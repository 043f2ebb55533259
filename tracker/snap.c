/*
 * snap.c - crm-tracker's reloadable state (config, key ring, engagement
 * data) and the holder threads read it from. See snap.h.
 */
#include "snap.h"

/* Load the ring and data for cfg; see snap.h. */
tracker_snap *
snap_load(crm_config *cfg, GError **err)
{
	token_ring *ring;
	eng_data *data;
	tracker_snap *s;

	ring = token_ring_load(cfg->tracking.key_file, err);
	if (ring == NULL)
		return NULL;
	data = engagement_data_load(cfg->tracker.engagement_data, err);
	if (data == NULL) {
		token_ring_free(ring);
		return NULL;
	}
	s = g_new0(tracker_snap, 1);
	s->refcnt = 1;
	s->cfg = config_ref(cfg);
	s->ring = ring;
	s->data = data;
	s->params.click_window = cfg->tracker.scanner_click_window;
	s->params.burst_links = (guint)cfg->tracker.scanner_burst_links;
	return s;
}

/* One more reference. */
tracker_snap *
snap_ref(tracker_snap *s)
{
	if (s != NULL)
		g_atomic_int_inc(&s->refcnt);
	return s;
}

/* Drop a reference; the last frees everything. */
tracker_snap *
snap_unref(tracker_snap *s)
{
	if (s == NULL || !g_atomic_int_dec_and_test(&s->refcnt))
		return NULL;
	config_unref(s->cfg);
	token_ring_free(s->ring);
	engagement_data_free(s->data);
	g_free(s);
	return NULL;
}

/* An empty holder. */
void
snap_holder_init(snap_holder *h)
{
	g_mutex_init(&h->lock);
	h->cur = NULL;
}

/* Drop the holder's snapshot and its lock. */
void
snap_holder_clear(snap_holder *h)
{
	h->cur = snap_unref(h->cur);
	g_mutex_clear(&h->lock);
}

/* The current snapshot, referenced. */
tracker_snap *
snap_holder_get(snap_holder *h)
{
	tracker_snap *s;

	g_mutex_lock(&h->lock);
	s = snap_ref(h->cur);
	g_mutex_unlock(&h->lock);
	return s;
}

/* Swap in s; the old one goes when its last reader lets go. */
void
snap_holder_set(snap_holder *h, tracker_snap *s)
{
	tracker_snap *old;

	g_mutex_lock(&h->lock);
	old = h->cur;
	h->cur = s;
	g_mutex_unlock(&h->lock);
	snap_unref(old);
}

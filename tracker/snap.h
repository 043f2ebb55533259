/*
 * snap.h - crm-tracker's reloadable state: the config, the key ring and
 * the engagement data, loaded together and swapped as one on SIGHUP.
 *
 * A snapshot is immutable once loaded. Request threads and the recorder
 * take a reference for as long as they use one (snap_holder_get), so a
 * reload never frees what a request is reading. Only the holder's
 * pointer changes, under its lock.
 *
 * Ownership: snap_load returns one reference; snap_unref drops one
 * (NULL-safe, returns NULL); snap_holder_get returns a new reference;
 * snap_holder_set takes over the caller's reference.
 *
 * Public: snap_load, snap_ref, snap_unref, snap_holder_init,
 *         snap_holder_clear, snap_holder_get, snap_holder_set.
 */
#ifndef CRM_TRACKER_SNAP_H
#define CRM_TRACKER_SNAP_H

#include <glib.h>
#include "config.h"
#include "engagement.h"
#include "token.h"

typedef struct tracker_snap {
	gint refcnt;
	crm_config *cfg;           /* one reference, owned */
	token_ring *ring;          /* owned */
	eng_data *data;            /* owned */
	eng_params params;         /* from cfg->tracker */
} tracker_snap;

typedef struct snap_holder {
	GMutex lock;
	tracker_snap *cur;         /* one reference */
} snap_holder;

/* Load the key ring (tracking { key_file }) and the engagement data
 * (tracker { engagement_data }) for cfg (a reference is taken). NULL
 * with err naming the file when either fails. */
tracker_snap *snap_load(crm_config *cfg, GError **err);
tracker_snap *snap_ref(tracker_snap *s);
tracker_snap *snap_unref(tracker_snap *s);

/* An empty holder / free its snapshot. */
void snap_holder_init(snap_holder *h);
void snap_holder_clear(snap_holder *h);
/* The current snapshot, with a new reference (NULL when none is set). */
tracker_snap *snap_holder_get(snap_holder *h);
/* Replace the current snapshot with s (the caller's reference moves in). */
void snap_holder_set(snap_holder *h, tracker_snap *s);

#endif

/*
 * crm/limiter.c - per-profile request rate and Retry-After pauses (see
 * limiter.h).
 */
#include "limiter.h"

struct crm_limiter {
	GMutex lock;
	double rate;          /* tokens per second; 0: none */
	double tokens;        /* available now, at most max(rate, 1) */
	gint64 refilled;      /* monotonic us of the last refill */
	gint64 paused_until;  /* monotonic us; 0: not paused */
	pauseboard *board;    /* borrowed, or NULL */
	const char *name;     /* borrowed: the profile */
};

/* The pause the board holds, as monotonic us (0: none). */
static gint64
board_until(crm_limiter *l, gint64 mono_now)
{
	gint64 until = l->board != NULL ? pauseboard_until(l->board, l->name) : 0;
	gint64 real_now = g_get_real_time();

	return until > real_now ? mono_now + (until - real_now) : 0;
}

/* Share pauses through a board. */
void
limiter_attach_board(crm_limiter *l, pauseboard *board, const char *name)
{
	if (l == NULL)
		return;
	l->board = board;
	l->name = name;
}

/* A limiter for rate requests per second. */
crm_limiter *
limiter_new(double rate)
{
	crm_limiter *l = g_new0(crm_limiter, 1);

	g_mutex_init(&l->lock);
	l->rate = rate > 0 ? rate : 0;
	l->tokens = l->rate > 1 ? l->rate : 1;
	l->refilled = g_get_monotonic_time();
	return l;
}

/* Free. */
crm_limiter *
limiter_free(crm_limiter *l)
{
	if (l == NULL)
		return NULL;
	g_mutex_clear(&l->lock);
	g_free(l);
	return NULL;
}

/* Add the tokens earned since the last refill (lock held). */
static void
refill(crm_limiter *l, gint64 now)
{
	double cap = l->rate > 1 ? l->rate : 1;

	l->tokens += (double)(now - l->refilled) * l->rate / G_USEC_PER_SEC;
	if (l->tokens > cap)
		l->tokens = cap;
	l->refilled = now;
}

/* Wait for one request's turn. */
gboolean
limiter_wait(crm_limiter *l, gint64 max_wait_ms, int *paused_s)
{
	gint64 deadline = g_get_monotonic_time() + max_wait_ms * 1000;

	if (paused_s != NULL)
		*paused_s = 0;
	if (l == NULL)
		return TRUE;
	for (;;) {
		gint64 now = g_get_monotonic_time(), wait_us = 0;

		gint64 shared = board_until(l, now);

		g_mutex_lock(&l->lock);
		if (shared > l->paused_until)
			l->paused_until = shared;
		if (l->paused_until > now) {
			wait_us = l->paused_until - now;
			if (now + wait_us > deadline) {
				if (paused_s != NULL)
					*paused_s = (int)((wait_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
				g_mutex_unlock(&l->lock);
				return FALSE;
			}
		} else if (l->rate > 0) {
			refill(l, now);
			if (l->tokens >= 1) {
				l->tokens -= 1;
				g_mutex_unlock(&l->lock);
				return TRUE;
			}
			wait_us = (gint64)((1 - l->tokens) * G_USEC_PER_SEC / l->rate) + 1;
		} else {
			g_mutex_unlock(&l->lock);
			return TRUE;
		}
		g_mutex_unlock(&l->lock);
		g_usleep((gulong)MIN(wait_us, 200000));
	}
}

/* Pause the profile. */
void
limiter_pause(crm_limiter *l, int seconds)
{
	gint64 until;

	if (l == NULL || seconds <= 0)
		return;
	/* shared first: this is what a successor obeys if we die now */
	if (l->board != NULL)
		pauseboard_set(l->board, l->name, g_get_real_time() + (gint64)seconds * G_USEC_PER_SEC);
	until = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
	g_mutex_lock(&l->lock);
	if (until > l->paused_until)
		l->paused_until = until;
	g_mutex_unlock(&l->lock);
}

/* Seconds still paused. */
int
limiter_paused_for(crm_limiter *l)
{
	gint64 now = g_get_monotonic_time(), left;

	if (l == NULL)
		return 0;
	gint64 shared = board_until(l, now);
	g_mutex_lock(&l->lock);
	if (shared > l->paused_until)
		l->paused_until = shared;
	left = l->paused_until - now;
	g_mutex_unlock(&l->lock);
	return left > 0 ? (int)((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC) : 0;
}

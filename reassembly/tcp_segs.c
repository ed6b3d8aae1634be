/* Out-of-order store: sorted, non-overlapping runs of queued bytes.
 *
 * Cost bounds against hostile segment puzzles: the list length is capped by
 * config.ooo_max_runs (checked by the caller from the plan), a run's buffer
 * grows by doubling with slack on the side that grows, and when a hole
 * between two runs fills, the smaller run is copied into the larger one, so
 * a byte is copied O(log n) times however the segments are ordered. */
#include <stdlib.h>
#include <string.h>

#include "tcp_priv.h"

#define RUN_MIN		64u		/* smallest run buffer */
#define RUN_LIMIT	(1u << 30)

static uint64_t run_mem(const struct sl_tcp_seg *r)
{
	return sizeof(*r) + r->cap;
}

uint64_t sl_tcp_ooo_mem(const struct sl_tcp_half *h)
{
	uint64_t n = 0;

	for (const struct sl_tcp_seg *r = sl_tcp_ooo_first(h); r; r = sl_tcp_ooo_next(h, r))
		n += run_mem(r);
	return n;
}

static void run_free(struct sl_tcp_ctx *ctx, struct sl_tcp_seg *r)
{
	sl_tcp_uncharge(ctx, run_mem(r));
	free(r->data);
	free(r);
}

static struct sl_tcp_seg *run_new(struct sl_tcp_ctx *ctx, uint64_t off, const uint8_t *p,
				  uint32_t n)
{
	uint32_t cap = sl_tcp_pow2(n, RUN_MIN);
	struct sl_tcp_seg *r;

	if (!sl_tcp_charge(ctx, sizeof(*r) + cap))
		return NULL;
	r = malloc(sizeof(*r));
	if (r)
		r->data = malloc(cap);
	if (!r || !r->data) {
		free(r);
		sl_tcp_uncharge(ctx, sizeof(*r) + cap);
		return NULL;
	}
	r->next = NULL;
	r->off = off;
	r->head = 0;
	r->len = n;
	r->cap = cap;
	memcpy(r->data, p, n);
	return r;
}

/* Re-places the live bytes so that `front` bytes fit before them and `back`
 * after, growing the buffer when needed.  The spare room goes to the side
 * that grows: runs usually grow in one direction. */
static bool run_grow(struct sl_tcp_ctx *ctx, struct sl_tcp_seg *r, uint32_t front, uint32_t back)
{
	uint64_t need = (uint64_t)r->len + front + back;
	uint32_t cap = r->cap, head;
	uint8_t *d = r->data;

	if (need > RUN_LIMIT)
		return false;
	if (need > cap) {
		cap = sl_tcp_pow2(need * 2, RUN_MIN);
		if (!sl_tcp_charge(ctx, cap - r->cap))
			return false;
		d = malloc(cap);
		if (!d) {
			sl_tcp_uncharge(ctx, cap - r->cap);
			return false;
		}
	}
	head = front ? cap - r->len - back : 0;
	memmove(d + head, r->data + r->head, r->len);
	if (d != r->data) {
		free(r->data);
		r->data = d;
		r->cap = cap;
	}
	r->head = head;
	return true;
}

static bool run_append(struct sl_tcp_ctx *ctx, struct sl_tcp_seg *r, const uint8_t *p, uint32_t n)
{
	if ((uint64_t)r->head + r->len + n > r->cap && !run_grow(ctx, r, 0, n))
		return false;
	memcpy(r->data + r->head + r->len, p, n);
	r->len += n;
	return true;
}

static bool run_prepend(struct sl_tcp_ctx *ctx, struct sl_tcp_seg *r, const uint8_t *p, uint32_t n)
{
	if (r->head < n && !run_grow(ctx, r, n, 0))
		return false;
	r->head -= n;
	r->off -= n;
	r->len += n;
	memcpy(r->data + r->head, p, n);
	return true;
}

/* a and a->next are adjacent: make them one run under a's header (the
 * header of the first run is what callers hold on to). */
static bool run_join(struct sl_tcp_ctx *ctx, struct sl_tcp_half *h, struct sl_tcp_seg *a)
{
	struct sl_tcp_seg *b = a->next;

	/* On a memcap refusal the two runs stay adjacent: still correct. */
	if (a->len >= b->len) {
		if (!run_append(ctx, a, b->data + b->head, b->len))
			return false;
	} else {
		if (!run_prepend(ctx, b, a->data + a->head, a->len))
			return false;
		/* b's buffer now holds both: move it under a's header. */
		sl_tcp_uncharge(ctx, a->cap);
		free(a->data);
		a->data = b->data;
		a->head = b->head;
		a->len = b->len;
		a->cap = b->cap;
		b->data = NULL;
		b->cap = 0;
	}
	a->next = b->next;
	if (h->ooo == b)
		h->ooo = a;
	run_free(ctx, b);
	h->ooo_runs--;
	return true;
}

void sl_tcp_ooo_plan(const struct sl_tcp_half *h, uint64_t off, const uint8_t *p, uint32_t len,
		     struct sl_tcp_ooo_plan *pl)
{
	uint64_t end = off + len, cur = off;
	bool touch_prev = false;

	pl->queued = 0;
	pl->runs_delta = 0;
	pl->conflict = false;
	if (h->ooo && sl_tcp_seg_end(h->ooo) <= off) {
		/* behind everything queued */
		pl->runs_delta = sl_tcp_seg_end(h->ooo) == off ? 0 : 1;
		return;
	}
	for (const struct sl_tcp_seg *r = sl_tcp_ooo_first(h); r; r = sl_tcp_ooo_next(h, r)) {
		if (sl_tcp_seg_end(r) < cur)
			continue;
		if (r->off > end)
			break;
		if (r->off > cur && touch_prev)
			pl->runs_delta--;	/* the uncovered part joins two runs */
		uint64_t lo = SL_MAX(cur, r->off), hi = SL_MIN(end, sl_tcp_seg_end(r));
		if (hi > lo) {
			if (memcmp(sl_tcp_seg_at(r, lo), p + (lo - off), hi - lo) != 0)
				pl->conflict = true;
			pl->queued += (uint32_t)(hi - lo);
		}
		touch_prev = true;
		cur = SL_MAX(cur, sl_tcp_seg_end(r));
		if (cur >= end)
			break;
	}
	if (cur < end && !touch_prev)
		pl->runs_delta++;
}

static void link_after(struct sl_tcp_half *h, struct sl_tcp_seg *pred, struct sl_tcp_seg *r)
{
	if (!h->ooo) {
		r->next = r;
		h->ooo = r;
	} else if (!pred) {
		r->next = h->ooo->next;
		h->ooo->next = r;
	} else {
		r->next = pred->next;
		pred->next = r;
		if (pred == h->ooo)
			h->ooo = r;
	}
	h->ooo_runs++;
}

bool sl_tcp_ooo_insert(struct sl_tcp_ctx *ctx, struct sl_tcp_half *h, uint64_t off,
		       const uint8_t *p, uint32_t len)
{
	uint64_t end = off + len, cur = off;
	struct sl_tcp_seg *prev = NULL, *pred = NULL, *r;

	if (h->ooo && sl_tcp_seg_end(h->ooo) <= off) {
		pred = h->ooo;
		if (sl_tcp_seg_end(pred) == off)
			prev = pred;
		r = NULL;
	} else {
		r = sl_tcp_ooo_first(h);
	}
	while (r) {
		if (sl_tcp_seg_end(r) < cur) {
			pred = r;
			r = sl_tcp_ooo_next(h, r);
			continue;
		}
		if (r->off > end)
			break;
		if (r->off > cur) {
			uint32_t n = (uint32_t)(r->off - cur);
			const uint8_t *q = p + (cur - off);

			if (prev) {
				if (!run_append(ctx, prev, q, n))
					return false;
				h->ooo_bytes += n;
				if (run_join(ctx, h, prev))
					r = prev;	/* r was merged into prev */
			} else {
				if (!run_prepend(ctx, r, q, n))
					return false;
				h->ooo_bytes += n;
			}
		}
		prev = r;
		cur = SL_MAX(cur, sl_tcp_seg_end(r));
		if (cur >= end)
			return true;
		r = sl_tcp_ooo_next(h, r);
	}
	if (cur >= end)
		return true;
	uint32_t n = (uint32_t)(end - cur);
	const uint8_t *q = p + (cur - off);

	if (prev) {
		if (!run_append(ctx, prev, q, n))
			return false;
	} else {
		struct sl_tcp_seg *nr = run_new(ctx, cur, q, n);

		if (!nr)
			return false;
		link_after(h, pred, nr);
	}
	h->ooo_bytes += n;
	return true;
}

void sl_tcp_ooo_overwrite(struct sl_tcp_half *h, uint64_t off, const uint8_t *p, uint32_t len)
{
	uint64_t end = off + len;

	for (struct sl_tcp_seg *r = h->ooo ? h->ooo->next : NULL; r && r->off < end;
	     r = r == h->ooo ? NULL : r->next) {
		uint64_t lo = SL_MAX(off, r->off), hi = SL_MIN(end, sl_tcp_seg_end(r));

		if (lo < hi)
			memcpy(r->data + r->head + (lo - r->off), p + (lo - off), hi - lo);
	}
}

static void unlink_first(struct sl_tcp_half *h, struct sl_tcp_seg *f)
{
	if (f == h->ooo)
		h->ooo = NULL;
	else
		h->ooo->next = f->next;
	h->ooo_runs--;
}

void sl_tcp_ooo_drop_below(struct sl_tcp_ctx *ctx, struct sl_tcp_half *h, uint64_t off)
{
	struct sl_tcp_seg *r;

	while ((r = sl_tcp_ooo_first(h)) && sl_tcp_seg_end(r) <= off) {
		unlink_first(h, r);
		h->ooo_bytes -= r->len;
		run_free(ctx, r);
	}
	if (r && r->off < off) {
		uint32_t k = (uint32_t)(off - r->off);

		r->head += k;
		r->len -= k;
		r->off = off;
		h->ooo_bytes -= k;
	}
}

uint64_t sl_tcp_ooo_drop_from(struct sl_tcp_ctx *ctx, struct sl_tcp_half *h, uint64_t off)
{
	struct sl_tcp_seg *first = sl_tcp_ooo_first(h), *keep = NULL, *r;
	uint64_t dropped = 0;

	for (r = first; r && r->off < off; r = sl_tcp_ooo_next(h, r))
		keep = r;
	if (keep && sl_tcp_seg_end(keep) > off) {
		uint32_t cut = (uint32_t)(sl_tcp_seg_end(keep) - off);

		keep->len -= cut;
		h->ooo_bytes -= cut;
		dropped += cut;
	}
	while (r) {
		struct sl_tcp_seg *nx = sl_tcp_ooo_next(h, r);

		dropped += r->len;
		h->ooo_bytes -= r->len;
		h->ooo_runs--;
		run_free(ctx, r);
		r = nx;
	}
	if (keep) {
		keep->next = first;
		h->ooo = keep;
	} else {
		h->ooo = NULL;
	}
	return dropped;
}

void sl_tcp_ooo_free(struct sl_tcp_ctx *ctx, struct sl_tcp_half *h)
{
	sl_tcp_ooo_drop_from(ctx, h, 0);
	h->ooo_bytes = 0;
	h->ooo_runs = 0;
}

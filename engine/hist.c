#include "hist.h"

#include <string.h>

unsigned sl_hist_bucket(uint64_t v)
{
	if (v < 16)
		return (unsigned)v;
	unsigned lg = 63u - (unsigned)__builtin_clzll(v);	/* 2^lg <= v < 2^(lg+1), lg >= 4 */
	if (lg >= SL_HIST_MAX_LOG)
		return SL_HIST_BUCKETS - 1;
	unsigned sub = (unsigned)((v >> (lg - 3)) & (SL_HIST_SUB - 1));
	return 16 + (lg - 4) * SL_HIST_SUB + sub;
}

void sl_hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
	if (i < 16) {
		*lo = *hi = i;
		return;
	}
	if (i >= SL_HIST_BUCKETS - 1) {
		*lo = (uint64_t)(SL_HIST_SUB + SL_HIST_SUB - 1) << (SL_HIST_MAX_LOG - 1 - 3);
		*hi = UINT64_MAX;
		return;
	}
	unsigned lg = 4 + (i - 16) / SL_HIST_SUB, sub = (i - 16) % SL_HIST_SUB;
	uint64_t w = 1ull << (lg - 3);
	*lo = (1ull << lg) + sub * w;
	*hi = *lo + w - 1;
}

void sl_hist_add_n(struct sl_hist *h, uint64_t v, uint64_t count)
{
	h->b[sl_hist_bucket(v)] += count;
	h->n += count;
	h->sum += v * count;
	if (v > h->max)
		h->max = v;
}

void sl_hist_add(struct sl_hist *h, uint64_t v)
{
	sl_hist_add_n(h, v, 1);
}

void sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src)
{
	for (unsigned i = 0; i < SL_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->n += src->n;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t sl_hist_quantile(const struct sl_hist *h, double q)
{
	if (h->n == 0)
		return 0;
	/* The rank of the sample wanted, 1-based, rounded up. */
	double r = q * (double)h->n;
	uint64_t rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < SL_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t lo, hi;
			sl_hist_bounds(i, &lo, &hi);
			return hi < h->max ? hi : h->max;
		}
	}
	return h->max;
}

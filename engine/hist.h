/* A latency histogram with bounded relative error, cheap enough for the
 * packet path (one clz and an increment per sample, no allocation).
 *
 * Buckets are log-linear: values below 16 have a bucket each; every power
 * of two above is split into 8 equal sub-buckets, so a bucket's width is at
 * most 1/8 of its lower bound and a quantile read back is within 12.5% of
 * the true sample.  Values at or above 2^40 share the last bucket.
 *
 *   v:      0 1 ... 15 | 16 18 20 ... 30 | 32 36 ... 60 | 64 ...
 *   bucket: 0 1 ... 15 | 16 17 18 ... 23 | 24 25 ... 31 | 32 ...
 *
 * One histogram belongs to one thread; sl_hist_merge() adds snapshots. */
#ifndef SL_HIST_H
#define SL_HIST_H

#include <stdint.h>

#define SL_HIST_SUB 8			/* sub-buckets per power of two (a power of two) */
#define SL_HIST_MAX_LOG 40		/* 2^40 us = 12.7 days: everything above is clamped */
#define SL_HIST_BUCKETS (16 + (SL_HIST_MAX_LOG - 4) * SL_HIST_SUB)

struct sl_hist {
	uint64_t n, sum, max;
	uint64_t b[SL_HIST_BUCKETS];
};

void sl_hist_add(struct sl_hist *h, uint64_t v);
void sl_hist_add_n(struct sl_hist *h, uint64_t v, uint64_t count);
void sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src);
/* The q-quantile (0 < q <= 1): the upper bound of the bucket holding it,
 * capped at the largest sample.  0 when empty. */
uint64_t sl_hist_quantile(const struct sl_hist *h, double q);
/* Bucket i covers [lo, hi] (inclusive). */
void sl_hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi);
unsigned sl_hist_bucket(uint64_t v);

#endif

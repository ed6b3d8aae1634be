/* Per-direction stream buffer: a ring holding the history of delivered
 * bytes and the unconsumed tail (see tcp_priv.h). */
#include <stdlib.h>
#include <string.h>

#include "tcp_priv.h"

#define BUF_MIN		4096u		/* smallest allocation: a couple of segments */
#define BUF_LIMIT	(1u << 30)	/* never hold more (configs are clamped far below) */
#define BUF_SHRINK	(256u << 10)	/* give memory back above this when mostly empty */

uint64_t sl_tcp_buf_mem(const struct sl_tcp_buf *b)
{
	return b ? sizeof(*b) + b->cap : 0;
}

void sl_tcp_buf_free(struct sl_tcp_ctx *ctx, struct sl_tcp_buf **bp)
{
	if (!*bp)
		return;
	sl_tcp_uncharge(ctx, sl_tcp_buf_mem(*bp));
	free(*bp);
	*bp = NULL;
}

/* Copies the n ring bytes from index i out to dst, across the end. */
static void ring_read(const struct sl_tcp_buf *b, uint32_t i, uint8_t *dst, uint32_t n)
{
	uint32_t first = SL_MIN(n, b->cap - i);

	memcpy(dst, b->data + i, first);
	memcpy(dst + first, b->data, n - first);
}

/* Moves the live bytes into a new allocation of cap bytes, laid out from
 * index 0 (so the whole content is contiguous). */
static bool buf_realloc(struct sl_tcp_ctx *ctx, struct sl_tcp_buf **bp, uint32_t cap)
{
	struct sl_tcp_buf *b = *bp, *nb;
	size_t old = sl_tcp_buf_mem(b), want = sizeof(*nb) + cap;

	if (!sl_tcp_charge(ctx, want))
		return false;
	nb = malloc(want);
	if (!nb) {
		sl_tcp_uncharge(ctx, want);
		return false;
	}
	nb->head = 0;
	nb->cap = cap;
	if (b) {
		nb->base = b->base;
		nb->len = b->len;
		nb->unc = b->unc;
		ring_read(b, b->head, nb->data, b->len);
		free(b);
		sl_tcp_uncharge(ctx, old);
	} else {
		nb->base = 0;
		nb->len = nb->unc = 0;
	}
	*bp = nb;
	return true;
}

bool sl_tcp_buf_room(struct sl_tcp_ctx *ctx, struct sl_tcp_buf **bp, uint64_t end, uint64_t n,
		     uint64_t contig)
{
	struct sl_tcp_buf *b = *bp;
	uint64_t need = (b ? b->len : 0) + n;

	if (need > BUF_LIMIT)
		return false;
	if (!b && !buf_realloc(ctx, bp, sl_tcp_pow2(need + need / 2, BUF_MIN)))
		return false;
	b = *bp;
	if (b->len == 0) {
		b->base = end;
		b->head = 0;
		b->unc = 0;
	}
	if (need > b->cap)
		return buf_realloc(ctx, bp, sl_tcp_pow2(need + need / 2, BUF_MIN));
	if (contig && ((b->head + need - contig) & (b->cap - 1)) + contig > b->cap)
		return buf_realloc(ctx, bp, b->cap);	/* would straddle the end */
	return true;
}

void sl_tcp_buf_append(struct sl_tcp_buf *b, const uint8_t *p, uint32_t n)
{
	uint32_t tail = (b->head + b->len) & (b->cap - 1), first = SL_MIN(n, b->cap - tail);

	memcpy(b->data + tail, p, first);
	memcpy(b->data, p + first, n - first);
	b->len += n;
}

const uint8_t *sl_tcp_buf_at(const struct sl_tcp_buf *b, uint64_t off)
{
	return b->data + ((b->head + (off - b->base)) & (b->cap - 1));
}

bool sl_tcp_buf_equal(const struct sl_tcp_buf *b, uint64_t off, const uint8_t *p, uint32_t n)
{
	uint32_t i = (b->head + (uint32_t)(off - b->base)) & (b->cap - 1);
	uint32_t first = SL_MIN(n, b->cap - i);

	return memcmp(b->data + i, p, first) == 0 && memcmp(b->data, p + first, n - first) == 0;
}

void sl_tcp_buf_trim(struct sl_tcp_buf *b, uint64_t lo)
{
	if (!b || lo <= b->base)
		return;
	uint64_t k = SL_MIN(lo - b->base, (uint64_t)b->len);

	b->head = (b->head + (uint32_t)k) & (b->cap - 1);
	b->len -= (uint32_t)k;
	b->base += k;
	if (b->unc > b->len)
		b->unc = b->len;
}

void sl_tcp_buf_release(struct sl_tcp_ctx *ctx, struct sl_tcp_buf **bp)
{
	struct sl_tcp_buf *b = *bp;

	if (!b)
		return;
	if (b->len == 0) {
		sl_tcp_buf_free(ctx, bp);
		return;
	}
	/* A burst (a big hole filled, a lazy consumer) may have grown the
	 * buffer far beyond what it now holds: give the memory back. */
	if (b->cap > BUF_SHRINK && b->len < b->cap / 8)
		buf_realloc(ctx, bp, sl_tcp_pow2((uint64_t)b->len * 4, BUF_MIN));
}

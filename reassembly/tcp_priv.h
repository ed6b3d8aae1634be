/* Internals shared by tcp.c (tracking, delivery), tcp_segs.c (out-of-order
 * runs) and tcp_buf.c (stream buffer).  Not for use outside reassembly/. */
#ifndef SL_TCP_PRIV_H
#define SL_TCP_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "bytes.h"
#include "tcp.h"

struct sl_tcp_ctx {
	struct sl_tcp_config cfg;
	struct sl_memcap *mc;		/* NULL = unlimited */
	struct sl_counters *ctr;	/* NULL = not counted */
};

static inline bool sl_tcp_charge(struct sl_tcp_ctx *ctx, size_t n)
{
	return !ctx->mc || sl_memcap_take(ctx->mc, n);
}

static inline void sl_tcp_uncharge(struct sl_tcp_ctx *ctx, size_t n)
{
	if (ctx->mc)
		sl_memcap_give(ctx->mc, n);
}

/* Smallest power of two >= n (n <= 2^31), at least min. */
static inline uint32_t sl_tcp_pow2(uint64_t n, uint32_t min)
{
	uint32_t c = min;

	while (c < n)
		c <<= 1;
	return c;
}

/* ---- out-of-order runs (tcp_segs.c) ----
 *
 * A run is a maximal stretch of queued bytes.  Runs are kept sorted by
 * offset and never overlap (new bytes are trimmed to what is not queued yet);
 * adjacent runs are joined, so the list length is the number of holes.  The
 * list is circular and half->ooo points at the LAST run, so both ends are
 * O(1): most out-of-order traffic appends behind the last run.
 *
 *   half->ooo --> [last] --next--> [first] --> ... --> [last]
 *
 * The header never moves (data grows in a separate buffer with slack at both
 * ends), so pointers to it stay valid across appends and prepends. */
struct sl_tcp_seg {
	struct sl_tcp_seg *next;
	uint64_t off;			/* stream offset of data[head] */
	uint32_t head, len, cap;
	uint8_t *data;
};

static inline struct sl_tcp_seg *sl_tcp_ooo_first(const struct sl_tcp_half *h)
{
	return h->ooo ? h->ooo->next : NULL;
}

static inline struct sl_tcp_seg *sl_tcp_ooo_next(const struct sl_tcp_half *h,
						 const struct sl_tcp_seg *r)
{
	return r == h->ooo ? NULL : r->next;
}

static inline uint64_t sl_tcp_seg_end(const struct sl_tcp_seg *r)
{
	return r->off + r->len;
}

static inline const uint8_t *sl_tcp_seg_at(const struct sl_tcp_seg *r, uint64_t off)
{
	return r->data + r->head + (off - r->off);
}

/* What queuing [off, off+len) would do, computed without changing anything. */
struct sl_tcp_ooo_plan {
	uint32_t queued;		/* bytes of the segment already queued (and identical) */
	int32_t runs_delta;		/* change in the number of runs */
	bool conflict;			/* some already queued byte differs */
};

void sl_tcp_ooo_plan(const struct sl_tcp_half *h, uint64_t off, const uint8_t *p, uint32_t len,
		     struct sl_tcp_ooo_plan *pl);
/* Queues the bytes of [off, off+len) that are not queued yet: queued bytes
 * are never overwritten, so after a plan with a conflict it fills only the
 * holes (used to let verified bytes win over unverified ones).  Returns false
 * when the memcap refused (part of the bytes may be queued: they are correct,
 * the caller treats the segment as not stored). */
bool sl_tcp_ooo_insert(struct sl_tcp_ctx *ctx, struct sl_tcp_half *h, uint64_t off,
		       const uint8_t *p, uint32_t len);
/* Overwrites the queued bytes within [off, off+len) with p's (bytes not
 * queued stay unqueued). */
void sl_tcp_ooo_overwrite(struct sl_tcp_half *h, uint64_t off, const uint8_t *p, uint32_t len);
/* Forgets queued bytes below off (delivered or skipped). */
void sl_tcp_ooo_drop_below(struct sl_tcp_ctx *ctx, struct sl_tcp_half *h, uint64_t off);
/* Forgets queued bytes at or beyond off (past the FIN); returns how many. */
uint64_t sl_tcp_ooo_drop_from(struct sl_tcp_ctx *ctx, struct sl_tcp_half *h, uint64_t off);
void sl_tcp_ooo_free(struct sl_tcp_ctx *ctx, struct sl_tcp_half *h);
uint64_t sl_tcp_ooo_mem(const struct sl_tcp_half *h);

/* ---- bytes kept aside unverified (tcp.c; replay only) ----
 *
 * Per direction and per reason, the new bytes of segments the receiver
 * should have dropped: a bad TCP checksum, beyond its advertised window, or
 * data on a SYN (accepted only with TCP Fast Open).
 * Each set is a run list like the out-of-order runs, held in the run fields
 * (ooo, ooo_bytes, ooo_runs) of a private struct sl_tcp_half so that the
 * functions above serve both; no other field of these halves is used.  The
 * latest unverified copy of a byte replaces earlier unverified ones (like a
 * retransmission; acceptable bytes are never touched by this).  Bounded by config.unverified_depth per direction and config.ooo_max_runs
 * per set, charged to the memcap, freed when empty. */
enum { SL_TCP_UNV_CSUM, SL_TCP_UNV_WINDOW, SL_TCP_UNV_SYN, SL_TCP_UNV_KINDS };

struct sl_tcp_unv {
	struct sl_tcp_half set[2][SL_TCP_UNV_KINDS];	/* [sender dir][reason] */
};

/* ---- stream buffer (tcp_buf.c) ----
 *
 * One ring buffer per direction holding the newest delivered bytes: the
 * history (unacknowledged bytes kept to verify retransmissions) and, at its
 * end, the bytes the consumer left unconsumed.  Both end at the stream's
 * delivered offset, so one region serves both:
 *
 *   base                              base+len == half->delivered
 *    |<--------- history --------->|
 *    |                   |<-- unc -->|   (unconsumed: offered again)
 *
 * A ring, because the history is appended to on every in-order segment and
 * a linear buffer would have to be compacted (each byte moved again); only
 * the bytes offered to the consumer must be contiguous, and sl_tcp_buf_room()
 * re-lays the ring out on the rare occasion they would straddle its end. */
struct sl_tcp_buf {
	uint64_t base;			/* stream offset of the oldest byte */
	uint32_t head;			/* its index in data[] */
	uint32_t len, cap;		/* cap: a power of two */
	uint32_t unc;			/* trailing bytes the consumer has not consumed */
	uint8_t data[];
};

/* Ensures room for n more bytes at the end (an empty buffer is rebased at
 * end) and that, once they are appended, the last `contig` bytes are
 * contiguous in memory.  False when the memcap refused. */
bool sl_tcp_buf_room(struct sl_tcp_ctx *ctx, struct sl_tcp_buf **bp, uint64_t end, uint64_t n,
		     uint64_t contig);
/* Appends n bytes (room must have been made). */
void sl_tcp_buf_append(struct sl_tcp_buf *b, const uint8_t *p, uint32_t n);
/* Pointer to the byte at offset off; what follows is contiguous as far as
 * sl_tcp_buf_room() promised. */
const uint8_t *sl_tcp_buf_at(const struct sl_tcp_buf *b, uint64_t off);
/* Whether the n bytes at offset off (all held) equal p. */
bool sl_tcp_buf_equal(const struct sl_tcp_buf *b, uint64_t off, const uint8_t *p, uint32_t n);
/* Drops bytes below offset lo (keeps the allocation for a refill). */
void sl_tcp_buf_trim(struct sl_tcp_buf *b, uint64_t lo);
/* Frees an empty buffer, shrinks an oversized one. */
void sl_tcp_buf_release(struct sl_tcp_ctx *ctx, struct sl_tcp_buf **bp);
void sl_tcp_buf_free(struct sl_tcp_ctx *ctx, struct sl_tcp_buf **bp);
uint64_t sl_tcp_buf_mem(const struct sl_tcp_buf *b);

#endif

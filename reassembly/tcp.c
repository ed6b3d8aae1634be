/* TCP session tracking and per-direction stream reassembly (see tcp.h).
 *
 * Sequence numbers are 32-bit and wrap; every comparison goes through
 * sl_seq_*.  Stream positions are 64-bit offsets: a half's `delivered` is the
 * offset of its next_seq, and any sequence number within 2^31 of next_seq
 * maps to delivered + (int32_t)(seq - next_seq).
 *
 * Per segment: checksum, RST, SYN, midstream pickup, then the data part
 * (window check, comparison with the history and the out-of-order runs,
 * delivery or queuing), then the ACK part, which only counts when the segment
 * is one the receiver accepts (RFC 793: an unacceptable segment is dropped
 * whole, its ACK field unread). */
#include <stdlib.h>
#include <string.h>

#include "tcp_priv.h"

/* half->flags */
#define H_SYN	0x01		/* SYN (or SYN/ACK) seen: isn is the SYN's */
#define H_SEQ	0x02		/* sequence tracking started (SYN or midstream data) */
#define H_FIN	0x04		/* fin_seq valid */
#define H_EOF	0x08		/* half closed: EOF delivered (or flushed), no more data */
#define H_STOP	0x10		/* consumer stopped: track sequence numbers only */
#define H_ACK	0x20		/* last_ack and window valid */
#define H_WSOPT	0x40		/* the SYN carried a window scale option */
#define H_AHOLE	0x80		/* the receiver ACKed bytes not seen yet (ack_unseen) */

/* session->flags */
#define S_WSCALE	0x01	/* both SYNs carried window scale: windows are scaled */
#define S_RST		0x02	/* closed by an accepted RST */
#define S_MIDSTREAM	0x04	/* picked up without a handshake (reported once) */
#define S_NOHIST	0x08	/* not inspected any more: keep no delivered-bytes history */

#define MAX_WSCALE	14u			/* RFC 7323 2.3 */
#define MAX_WIN		(65535u << MAX_WSCALE)	/* largest window there is */
/* Accepted beyond the receiver's right edge: one full segment (zero-window
 * probes, a window update lost from the capture) plus the rounding of a
 * scaled window.  Accepting a little too much is safe: if the receiver
 * dropped those bytes, the retransmission is compared with them and a
 * difference is a conflict. */
#define WIN_SLACK	1500u
#define MAX_PIECES	8u		/* pieces gathered into one delivery */
#define CFG_MAX		(256u << 20)	/* byte limits clamp: sums stay << 2^32 */

enum data_res {
	D_ACCEPT,		/* acceptable, forwarded */
	D_DUP,			/* acceptable, nothing new: IGNORED, ACK still counts */
	D_BAD,			/* unacceptable (window, checksum...): IGNORED, ACK unread */
	D_DROP,			/* must not reach the receiver */
};

/* What one call works with. */
struct op {
	struct sl_tcp_ctx *ctx;
	struct sl_tcp_session *s;
	const struct sl_packet *pkt;	/* names the slices; NULL at flush */
	const struct sl_tcp_io *io;
};

struct piece {
	const uint8_t *p;
	uint32_t n;
};

void sl_tcp_config_default(struct sl_tcp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ooo_depth = 1u << 20;
	c->ooo_max_runs = 256;
	c->max_unconsumed = 256u << 10;
	c->history = 64u << 10;
	c->midstream = true;
	c->unverified_depth = 256u << 10;
	c->inline_mode = false;
}

struct sl_tcp_ctx *sl_tcp_ctx_new(const struct sl_tcp_config *cfg, struct sl_memcap *mc,
				  struct sl_counters *ctr)
{
	struct sl_tcp_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	if (cfg)
		ctx->cfg = *cfg;
	else
		sl_tcp_config_default(&ctx->cfg);
	ctx->cfg.ooo_depth = SL_MIN(ctx->cfg.ooo_depth, CFG_MAX);
	ctx->cfg.max_unconsumed = SL_MIN(ctx->cfg.max_unconsumed, CFG_MAX);
	ctx->cfg.history = SL_MIN(ctx->cfg.history, CFG_MAX);
	/* Inline the receiver gets exactly what we forward: it drops these
	 * segments itself, so only a forged ACK could ever cover them. */
	ctx->cfg.unverified_depth = ctx->cfg.inline_mode ? 0 :
				    SL_MIN(ctx->cfg.unverified_depth, CFG_MAX);
	ctx->cfg.ooo_max_runs = SL_MIN(ctx->cfg.ooo_max_runs, 65535u);
	ctx->mc = mc;
	ctx->ctr = ctr;
	return ctx;
}

void sl_tcp_ctx_free(struct sl_tcp_ctx *ctx)
{
	free(ctx);
}

void sl_tcp_session_init(struct sl_tcp_session *s)
{
	memset(s, 0, sizeof(*s));
}

static void anom(const struct op *o, enum sl_anomaly a, const char *detail)
{
	if (o->io && o->io->anomaly)
		o->io->anomaly(o->io->anomaly_u, a, o->pkt, detail);
}

static void count(const struct op *o, enum sl_counter c)
{
	sl_ctr_inc(o->ctx->ctr, c);
}

/* Stream offset of a sequence number within 2^31 of next_seq (may be < 0
 * for bytes before the stream start). */
static int64_t seq_off(const struct sl_tcp_half *h, uint32_t seq)
{
	return (int64_t)h->delivered + (int32_t)(seq - h->next_seq);
}

/* ---- retention: what the stream buffer must keep ---- */

/* Lowest offset of h's delivered bytes still kept as history: the receiver
 * has not acknowledged them, so a retransmission may still be what it keeps
 * and must be compared; bounded by config.history.  Bytes the receiver has
 * ACKed need no history: a retransmission of them is below its rcv_nxt and
 * discarded (RFC 793), whatever it carries. */
static uint64_t hist_lo(const struct op *o, enum sl_dir dir, uint64_t end)
{
	const struct sl_tcp_half *h = &o->s->half[dir], *r = &o->s->half[!dir];
	uint64_t k = o->s->flags & S_NOHIST ? 0 : o->ctx->cfg.history, lo = end > k ? end - k : 0;

	if (r->flags & H_ACK) {
		int64_t a = seq_off(h, r->last_ack);

		if (a > (int64_t)lo)
			lo = (uint64_t)a < end ? (uint64_t)a : end;
	}
	return lo;
}

/* Trims the buffer to what history and the consumer still need; frees it
 * when nothing is left (idle flows hold no heap memory). */
static void settle(const struct op *o, enum sl_dir dir)
{
	struct sl_tcp_half *h = &o->s->half[dir];
	struct sl_tcp_buf *b = h->pending;

	if (!b)
		return;
	sl_tcp_buf_trim(b, SL_MIN(h->delivered - b->unc, hist_lo(o, dir, h->delivered)));
	sl_tcp_buf_release(o->ctx, &h->pending);
}

static void limit_hit(const struct op *o, bool memcap)
{
	count(o, memcap ? SL_CTR_TCP_MEMCAP_HITS : SL_CTR_TCP_DEPTH_HITS);
	anom(o, memcap ? SL_ANOM_STREAM_MEMCAP : SL_ANOM_STREAM_DEPTH, NULL);
}

/* ---- bytes kept aside unverified (replay; layout in tcp_priv.h) ---- */

static bool unv_empty(const struct sl_tcp_unv *u, enum sl_dir dir)
{
	for (int k = 0; k < SL_TCP_UNV_KINDS; k++)
		if (u->set[dir][k].ooo)
			return false;
	return true;
}

/* Frees the store once nothing is kept (idle flows hold no heap memory). */
static void unv_release(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s)
{
	if (s->unv && unv_empty(s->unv, SL_TO_SERVER) && unv_empty(s->unv, SL_TO_CLIENT)) {
		free(s->unv);
		sl_tcp_uncharge(ctx, sizeof(*s->unv));
		s->unv = NULL;
	}
}

/* Forgets dir's kept bytes at or beyond off (0: all of them). */
static void unv_drop_from(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, enum sl_dir dir,
			  uint64_t off)
{
	for (int k = 0; s->unv && k < SL_TCP_UNV_KINDS; k++)
		sl_tcp_ooo_drop_from(ctx, &s->unv->set[dir][k], off);
	unv_release(ctx, s);
}

/* Forgets dir's kept bytes below off: delivered (acceptable bytes won) or
 * moved to the queue by promote(). */
static void unv_drop_below(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, enum sl_dir dir,
			   uint64_t off)
{
	for (int k = 0; s->unv && k < SL_TCP_UNV_KINDS; k++)
		sl_tcp_ooo_drop_below(ctx, &s->unv->set[dir][k], off);
	unv_release(ctx, s);
}

/* Keeps the new bytes of a segment the receiver should have dropped (kind:
 * why), in case its ACK later shows that it accepted them (tcp.h).  Only
 * bytes between the delivered end and config.unverified_depth beyond it, and
 * never beyond the FIN, are kept. */
static void set_aside(const struct op *o, enum sl_dir dir, int kind, uint32_t seq,
		      const uint8_t *p, uint32_t len)
{
	struct sl_tcp_ctx *ctx = o->ctx;
	struct sl_tcp_session *s = o->s;
	struct sl_tcp_half *h = &s->half[dir];
	uint64_t depth = ctx->cfg.unverified_depth, kept = 0;
	struct sl_tcp_ooo_plan pl;
	int64_t so = seq_off(h, seq), lo, hi;

	if (!depth || !len || !(h->flags & H_SEQ) || (h->flags & (H_EOF | H_STOP)) ||
	    (s->flags & S_RST))
		return;
	lo = SL_MAX(so, (int64_t)h->delivered);
	hi = SL_MIN(so + len, (int64_t)(h->delivered + depth));
	if (h->flags & H_FIN)
		hi = SL_MIN(hi, seq_off(h, h->fin_seq));
	if (lo >= hi)
		return;
	if (!s->unv) {
		if (!sl_tcp_charge(ctx, sizeof(*s->unv)))
			return;
		s->unv = calloc(1, sizeof(*s->unv));
		if (!s->unv) {
			sl_tcp_uncharge(ctx, sizeof(*s->unv));
			return;
		}
	}
	const uint8_t *q = p + (lo - so);
	uint32_t n = (uint32_t)(hi - lo);
	struct sl_tcp_half *u = &s->unv->set[dir][kind];

	for (int k = 0; k < SL_TCP_UNV_KINDS; k++)
		kept += s->unv->set[dir][k].ooo_bytes;
	sl_tcp_ooo_plan(u, (uint64_t)lo, q, n, &pl);
	if (kept + n - pl.queued <= depth &&
	    (int64_t)u->ooo_runs + pl.runs_delta <= (int64_t)ctx->cfg.ooo_max_runs)
		sl_tcp_ooo_insert(ctx, u, (uint64_t)lo, q, n);	/* a refusal keeps less */
	/* the sender's latest unverified word on these bytes */
	for (int k = 0; k < SL_TCP_UNV_KINDS; k++)
		sl_tcp_ooo_overwrite(&s->unv->set[dir][k], (uint64_t)lo, q, n);
	unv_release(ctx, s);
}

/* End of the bytes contiguous from dir's delivered end among the queued runs
 * and the kept bytes: how far a receiver's ACK is explained by what the
 * sender was seen to send.  One pass over each sorted list. */
static uint64_t held_end(const struct sl_tcp_session *s, enum sl_dir dir)
{
	const struct sl_tcp_half *set[1 + SL_TCP_UNV_KINDS];
	const struct sl_tcp_seg *it[1 + SL_TCP_UNV_KINDS];
	uint64_t pos = s->half[dir].delivered;
	unsigned n = 0;
	bool moved = true;

	set[n++] = &s->half[dir];
	for (int k = 0; s->unv && k < SL_TCP_UNV_KINDS; k++)
		set[n++] = &s->unv->set[dir][k];
	for (unsigned i = 0; i < n; i++)
		it[i] = sl_tcp_ooo_first(set[i]);
	while (moved) {
		moved = false;
		for (unsigned i = 0; i < n; i++) {
			while (it[i] && sl_tcp_seg_end(it[i]) <= pos)
				it[i] = sl_tcp_ooo_next(set[i], it[i]);
			if (it[i] && it[i]->off <= pos) {
				pos = sl_tcp_seg_end(it[i]);
				moved = true;
			}
		}
	}
	return pos;
}

/* The receiver ACKed dir's stream up to offset `to`: the kept bytes below it
 * that no acceptable segment supplied, it evidently accepted.  They go into
 * the out-of-order queue, where they fill only the holes (queued acceptable
 * bytes win), for the caller to deliver. */
static void promote(const struct op *o, enum sl_dir dir, uint64_t to)
{
	static const enum sl_counter ctr[SL_TCP_UNV_KINDS] = {
		SL_CTR_TCP_CSUM_BAD_ACKED, SL_CTR_TCP_OUT_OF_WINDOW_ACKED, SL_CTR_TCP_SYN_DATA_ACKED,
	};
	static const char *const why[SL_TCP_UNV_KINDS] = {
		"bad checksum", "beyond the window", "data on a SYN",
	};
	struct sl_tcp_session *s = o->s;
	struct sl_tcp_half *h = &s->half[dir];

	for (int k = 0; s->unv && k < SL_TCP_UNV_KINDS; k++) {
		const struct sl_tcp_half *u = &s->unv->set[dir][k];
		uint32_t before = h->ooo_bytes;
		bool ok = true;

		for (const struct sl_tcp_seg *r = sl_tcp_ooo_first(u); ok && r && r->off < to;
		     r = sl_tcp_ooo_next(u, r)) {
			uint64_t lo = SL_MAX(r->off, h->delivered), hi = SL_MIN(sl_tcp_seg_end(r), to);

			if (lo < hi)
				ok = sl_tcp_ooo_insert(o->ctx, h, lo, sl_tcp_seg_at(r, lo),
						       (uint32_t)(hi - lo));
		}
		if (h->ooo_bytes != before) {
			sl_ctr_add(o->ctx->ctr, ctr[k], h->ooo_bytes - before);
			anom(o, SL_ANOM_STREAM_UNVERIFIED_ACKED, why[k]);
		}
	}
	unv_drop_below(o->ctx, s, dir, to);
}

/* Whether an ACK of dir's stream up to `ack` is covered by bytes we hold
 * (queued or kept aside), the FIN aside. */
static bool ack_held(const struct sl_tcp_session *s, enum sl_dir dir, uint32_t ack)
{
	const struct sl_tcp_half *a = &s->half[dir];
	int64_t want = seq_off(a, ack);

	if (!s->unv)
		return false;
	if (a->flags & H_FIN)
		want = SL_MIN(want, seq_off(a, a->fin_seq));
	return want <= (int64_t)held_end(s, dir);
}

/* ---- delivery ---- */

static void stop_half(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, enum sl_dir dir)
{
	struct sl_tcp_half *h = &s->half[dir];

	h->flags |= H_STOP;
	sl_tcp_buf_free(ctx, &h->pending);
	sl_tcp_ooo_free(ctx, h);
	unv_drop_from(ctx, s, dir, 0);
}

void sl_tcp_stop(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, enum sl_dir dir)
{
	stop_half(ctx, s, dir);
}

/* Offers one slice.  After SL_CONSUME_STOP the half is stopped (buffers
 * freed), so callers must not touch buffer or run memory afterwards. */
static size_t call(const struct op *o, enum sl_dir dir, const uint8_t *p, size_t n,
		   uint64_t off, uint64_t gap_len, uint32_t flags)
{
	static const uint8_t none[1];	/* data is never NULL, even when empty */
	struct sl_slice sl = {
		.data = p ? p : none, .len = n, .offset = off, .gap_len = gap_len, .dir = dir,
		.flags = flags | (gap_len ? SL_SLICE_GAP : 0) |
			 (o->s->flags & S_MIDSTREAM ? SL_SLICE_MIDSTREAM : 0),
		.pkt = o->pkt,
	};
	struct sl_consume c;

	if (!o->io || !o->io->consume)
		return n;
	c = o->io->consume(o->io->consume_u, &sl);
	if (c.status == SL_CONSUME_STOP) {
		stop_half(o->ctx, o->s, dir);
		return n;
	}
	return SL_MIN(c.consumed, n);
}

static void advance(struct sl_tcp_half *h, uint64_t n)
{
	h->delivered += n;
	h->next_seq += (uint32_t)n;
}

/* The consumer left b->unc bytes at the end of the buffer, and `lost` more
 * before them could not be kept.  Enforce max_unconsumed, and if anything
 * was thrown away tell the consumer at once (a GAP slice re-offering what is
 * kept) rather than remembering a pending gap in the session. */
static void keep_unconsumed(const struct op *o, enum sl_dir dir, uint64_t lost)
{
	struct sl_tcp_half *h = &o->s->half[dir];
	struct sl_tcp_buf *b = h->pending;
	uint32_t unc = b ? b->unc : 0, max = o->ctx->cfg.max_unconsumed;

	if (unc > max) {
		count(o, SL_CTR_TCP_UNCONSUMED);
		anom(o, SL_ANOM_STREAM_UNCONSUMED, NULL);
		lost += unc - max;
		b->unc = unc = max;
	}
	if (lost && !(h->flags & H_STOP)) {
		size_t c;

		if (unc && !sl_tcp_buf_room(o->ctx, &h->pending, h->delivered, 0, unc)) {
			limit_hit(o, true);	/* cannot even lay them out: lost too */
			lost += unc;
			h->pending->unc = unc = 0;
		}
		b = h->pending;
		c = call(o, dir, unc ? sl_tcp_buf_at(b, h->delivered - unc) : NULL, unc,
			 h->delivered - unc, lost, 0);

		if (h->flags & H_STOP)
			return;
		if (h->pending)
			h->pending->unc = (uint32_t)(unc - c);
	}
	settle(o, dir);
}

/* Delivery straight from the pieces' memory (the packet payload or a run):
 * the zero-copy path.  Only the tail that history or the consumer needs is
 * copied, after the call.  Nothing may be pending (unc == 0).
 *
 * When the memcap refuses room for the history, the bytes go out without
 * it, in both modes: refusing in-order data inline would let anyone who
 * fills the memcap stall every flow, while the cost of going on is only that
 * a conflicting retransmission of these bytes cannot be detected (counted
 * as tcp.retransmit_unverified when it comes). */
static void offer_direct(const struct op *o, enum sl_dir dir, const uint8_t *p, uint32_t n,
			 uint64_t gap_len, bool eof)
{
	struct sl_tcp_half *h = &o->s->half[dir];
	uint64_t start = h->delivered, end = start + n, lo, from;
	bool hist = o->ctx->cfg.history > 0 && !(o->s->flags & S_NOHIST);
	size_t c, unc;

	if (hist && n) {
		lo = hist_lo(o, dir, end);
		/* what the new bytes push out of the history goes first */
		sl_tcp_buf_trim(h->pending, SL_MIN(lo, start));
		lo = SL_MAX(lo, start);
		if (lo < end && !sl_tcp_buf_room(o->ctx, &h->pending, start, end - lo, 0)) {
			limit_hit(o, true);
			sl_tcp_buf_free(o->ctx, &h->pending);
			hist = false;
		}
	}
	advance(h, n);
	if (!gap_len && !n && !eof)
		return;
	c = call(o, dir, p, n, start, gap_len, eof ? SL_SLICE_EOF : 0);
	if (h->flags & H_STOP)
		return;
	unc = eof ? 0 : n - c;
	lo = end - unc;
	if (hist)
		lo = SL_MIN(lo, hist_lo(o, dir, end));
	from = SL_MAX(lo, start);
	sl_tcp_buf_trim(h->pending, lo);
	if (from < end && !sl_tcp_buf_room(o->ctx, &h->pending, from, end - from, 0)) {
		/* keep at least what the consumer left */
		sl_tcp_buf_free(o->ctx, &h->pending);
		from = end - unc;
		if (unc && !sl_tcp_buf_room(o->ctx, &h->pending, from, unc, 0)) {
			limit_hit(o, true);
			keep_unconsumed(o, dir, unc);
			return;
		}
	}
	if (from < end) {
		sl_tcp_buf_append(h->pending, p + (from - start), (uint32_t)(end - from));
		h->pending->unc = (uint32_t)unc;
	}
	keep_unconsumed(o, dir, 0);
}

/* Appends `gap` unseen bytes and then the pieces to dir's stream and offers
 * them, in one call whenever the bytes can be made contiguous.  Consumes the
 * FIN when its position is reached.  Returns false, having changed nothing,
 * only when `refuse` is set and the bytes had to be joined to bytes the
 * consumer left but the memcap refused the room: inline, the segment is then
 * dropped and will be retransmitted. */
static bool deliver(const struct op *o, enum sl_dir dir, const struct piece *pc, unsigned npc,
		    uint64_t gap, bool force_eof, bool refuse)
{
	struct sl_tcp_half *h = &o->s->half[dir];
	uint64_t total = 0, gap_len = 0, end;
	uint32_t unc = h->pending ? h->pending->unc : 0;
	bool eof;

	for (unsigned i = 0; i < npc; i++)
		total += pc[i].n;
	end = h->delivered + gap + total;
	eof = force_eof || ((h->flags & H_FIN) && seq_off(h, h->fin_seq) == (int64_t)end);
	if (!total && !gap && !eof)
		return true;
	if (h->flags & H_STOP) {
		advance(h, gap + total);
		goto done;
	}
	if (gap) {
		/* The bytes before the hole are done with: what the consumer
		 * left of them is lost too, and history across a hole is
		 * useless (a retransmission into the hole is unverifiable). */
		count(o, SL_CTR_TCP_GAPS);
		sl_ctr_add(o->ctx->ctr, SL_CTR_TCP_GAP_BYTES, gap);
		anom(o, SL_ANOM_STREAM_GAP, NULL);
		gap_len = gap + unc;
		unc = 0;
		sl_tcp_buf_free(o->ctx, &h->pending);
		advance(h, gap);
		refuse = false;
	}
	if (!unc && npc <= 1) {
		offer_direct(o, dir, npc ? pc[0].p : NULL, npc ? pc[0].n : 0, gap_len, eof);
		goto done;
	}
	if (!sl_tcp_buf_room(o->ctx, &h->pending, h->delivered, total, unc + total)) {
		if (refuse && unc)
			return false;
		/* Deliver piece by piece; what the consumer had left (replay
		 * only: inline refused above) cannot be joined and is lost. */
		limit_hit(o, true);
		gap_len += unc;
		sl_tcp_buf_free(o->ctx, &h->pending);
		for (unsigned i = 0; i < npc; i++)
			offer_direct(o, dir, pc[i].p, pc[i].n, i ? 0 : gap_len,
				     eof && i + 1 == npc);
		if (!npc)
			offer_direct(o, dir, NULL, 0, gap_len, eof);
		goto done;
	}
	for (unsigned i = 0; i < npc; i++)
		sl_tcp_buf_append(h->pending, pc[i].p, pc[i].n);
	advance(h, total);
	{
		struct sl_tcp_buf *b = h->pending;
		uint64_t n = unc + total, off = h->delivered - n;
		size_t c = call(o, dir, sl_tcp_buf_at(b, off), n, off, gap_len,
				eof ? SL_SLICE_EOF : 0);

		if (!(h->flags & H_STOP)) {
			b->unc = eof ? 0 : (uint32_t)(n - c);
			keep_unconsumed(o, dir, 0);
		}
	}
done:
	if (eof)
		h->flags |= H_EOF;
	sl_tcp_ooo_drop_below(o->ctx, h, h->delivered);
	unv_drop_below(o->ctx, o->s, dir, h->delivered);
	return true;
}

/* Collects the queued runs contiguous from offset `from`. */
static unsigned run_pieces(const struct sl_tcp_half *h, uint64_t from, struct piece *pc,
			   unsigned npc)
{
	for (const struct sl_tcp_seg *r = sl_tcp_ooo_first(h); r && npc < MAX_PIECES;
	     r = sl_tcp_ooo_next(h, r)) {
		if (r->off > from)
			break;
		if (sl_tcp_seg_end(r) <= from)
			continue;
		pc[npc].p = sl_tcp_seg_at(r, from);
		pc[npc].n = (uint32_t)(sl_tcp_seg_end(r) - from);
		from = sl_tcp_seg_end(r);
		npc++;
	}
	return npc;
}

/* Delivers queued runs that became contiguous (beyond MAX_PIECES of them). */
static void drain_runs(const struct op *o, enum sl_dir dir)
{
	struct sl_tcp_half *h = &o->s->half[dir];
	struct piece pc[MAX_PIECES];
	unsigned npc;

	while (!(h->flags & H_EOF) && (npc = run_pieces(h, h->delivered, pc, 0)))
		deliver(o, dir, pc, npc, 0, false, false);
}

/* Replay only: gives up on the stream bytes before offset `target` (they
 * will never be seen), delivering queued runs on the way with gaps. */
static void skip_to(const struct op *o, enum sl_dir dir, uint64_t target)
{
	struct sl_tcp_half *h = &o->s->half[dir];

	while (h->delivered < target && !(h->flags & H_EOF)) {
		const struct sl_tcp_seg *f = sl_tcp_ooo_first(h);
		uint64_t stop = target, gap;
		struct piece pc[MAX_PIECES];
		unsigned npc = 0;

		if (h->flags & H_FIN)
			stop = SL_MIN(stop, (uint64_t)seq_off(h, h->fin_seq));
		if (f && f->off <= stop) {
			gap = f->off - h->delivered;
			npc = run_pieces(h, f->off, pc, 0);
		} else {
			gap = stop - h->delivered;
		}
		deliver(o, dir, pc, npc, gap, false, false);
	}
	drain_runs(o, dir);
}

/* ---- the parts of a segment ---- */

/* Sequence number at and beyond which dir's data lies outside the
 * receiver's window.  Without both SYNs the window scale is unknown, so any
 * window check would be a guess: then only the largest possible window
 * bounds it. */
static uint32_t rcv_edge(const struct sl_tcp_session *s, enum sl_dir dir)
{
	const struct sl_tcp_half *h = &s->half[dir], *r = &s->half[!dir];

	if ((s->half[0].flags & s->half[1].flags & H_SYN) && (r->flags & H_ACK))
		return r->last_ack + r->window + WIN_SLACK +
		       ((s->flags & S_WSCALE) ? 1u << r->wscale : 0);
	return h->next_seq + MAX_WIN;
}

static bool in_window(const struct sl_tcp_session *s, enum sl_dir dir, uint32_t seq, uint32_t len)
{
	const struct sl_tcp_half *h = &s->half[dir];

	return sl_seq_lt(seq, rcv_edge(s, dir)) &&
	       sl_seq_geq(seq + len, h->next_seq - MAX_WIN);
}

/* Records the FIN at sequence number fs.  Bytes queued beyond it will
 * never be part of the stream. */
static void record_fin(const struct op *o, enum sl_dir dir, uint32_t fs)
{
	struct sl_tcp_half *h = &o->s->half[dir];

	if (h->flags & H_FIN)
		return;
	if (seq_off(h, fs) < (int64_t)h->delivered) {
		/* bytes past this FIN were already delivered */
		count(o, SL_CTR_TCP_DATA_AFTER_FIN);
		anom(o, SL_ANOM_STREAM_DATA_AFTER_FIN, "FIN below delivered data");
		return;
	}
	h->flags |= H_FIN;
	h->fin_seq = fs;
	if (sl_tcp_ooo_drop_from(o->ctx, h, (uint64_t)seq_off(h, fs))) {
		count(o, SL_CTR_TCP_DATA_AFTER_FIN);
		anom(o, SL_ANOM_STREAM_DATA_AFTER_FIN, "queued data beyond the FIN");
	}
	unv_drop_from(o->ctx, o->s, dir, (uint64_t)seq_off(h, fs));
}

/* Compares the part of [so, so+len) below the delivered end with the
 * history.  Returns false on a conflict. */
static bool check_history(const struct op *o, enum sl_dir dir, int64_t so, const uint8_t *p,
			  uint32_t len)
{
	struct sl_tcp_half *h = &o->s->half[dir];
	const struct sl_tcp_buf *b = h->pending;
	int64_t hi = SL_MIN(so + len, (int64_t)h->delivered);
	int64_t vlo = b ? SL_MAX(so, (int64_t)b->base) : hi;

	if (vlo < hi && !sl_tcp_buf_equal(b, (uint64_t)vlo, p + (vlo - so), (uint32_t)(hi - vlo)))
		return false;
	/* Bytes below the history were not compared.  Either the receiver
	 * ACKed them (it discards the retransmission, RFC 793: harmless) or
	 * more than config.history bytes are unacknowledged, the memcap
	 * refused the history, or a gap intervened: then a receiver that lost
	 * the original downstream of us could keep different bytes.  Counted. */
	if (so < SL_MIN(vlo, hi))
		count(o, SL_CTR_TCP_UNVERIFIED);
	return true;
}

static enum data_res conflict(const struct op *o, const char *against)
{
	count(o, SL_CTR_TCP_OVERLAP_CONFLICT);
	anom(o, SL_ANOM_STREAM_OVERLAP_CONFLICT, against);
	return D_DROP;
}

/* Track-only data handling for a stopped half: no storage, next_seq is the
 * highest in-window sequence number seen. */
static enum data_res data_stopped(const struct op *o, enum sl_dir dir, uint32_t seq,
				  uint32_t len, bool fin)
{
	struct sl_tcp_half *h = &o->s->half[dir];
	uint32_t e = seq + len;
	enum data_res res = D_DUP;

	if (sl_seq_gt(e, h->next_seq)) {
		advance(h, e - h->next_seq);
		res = D_ACCEPT;
	}
	if (fin && !(h->flags & H_FIN)) {
		h->flags |= H_FIN;
		h->fin_seq = e;
		res = D_ACCEPT;
	}
	if ((h->flags & H_FIN) && h->next_seq == h->fin_seq)
		h->flags |= H_EOF;
	if (res == D_DUP)
		count(o, SL_CTR_TCP_DUPLICATES);
	return res;
}

static enum data_res data_in(const struct op *o, enum sl_dir dir, uint32_t seq, const uint8_t *p,
			     uint32_t len, bool fin)
{
	const struct sl_tcp_config *cfg = &o->ctx->cfg;
	struct sl_tcp_half *h = &o->s->half[dir];
	struct sl_tcp_ooo_plan pl;
	struct piece pc[MAX_PIECES];
	int64_t so, eo, end;
	bool clash = false;

	if (!in_window(o->s, dir, seq, len)) {
		count(o, SL_CTR_TCP_OUT_OF_WINDOW);
		anom(o, SL_ANOM_STREAM_OUT_OF_WINDOW, NULL);
		set_aside(o, dir, SL_TCP_UNV_WINDOW, seq, p, len);
		return D_BAD;
	}
	if (!len && !fin)
		return D_ACCEPT;
	if (h->flags & H_FIN) {
		int64_t fo = seq_off(h, h->fin_seq);

		if (seq_off(h, seq) + len > fo) {
			/* the receiver ignores text beyond the FIN (RFC 793 CLOSE-WAIT) */
			count(o, SL_CTR_TCP_DATA_AFTER_FIN);
			anom(o, SL_ANOM_STREAM_DATA_AFTER_FIN, NULL);
			if (seq_off(h, seq) >= fo)
				return D_BAD;
			len = (uint32_t)(fo - seq_off(h, seq));
		}
		fin = false;		/* the first FIN stands */
	}
	if (h->flags & H_STOP)
		return data_stopped(o, dir, seq, len, fin);
again:
	so = seq_off(h, seq);
	eo = so + len;
	end = (int64_t)h->delivered;
	/* A conflict drops the segment inline: the receiver never gets it.
	 * In replay it did get it; which copy it kept of the conflicting bytes
	 * depends on its stack (Linux lets a later out-of-order segment that
	 * covers queued ones replace them), so we keep the first copy as
	 * everywhere and take from the segment only the bytes nothing else
	 * supplied, rather than leave holes where all receivers agree. */
	if (so < end && len && !check_history(o, dir, so, p, len)) {
		conflict(o, "delivered");
		if (cfg->inline_mode)
			return D_DROP;
		clash = true;
	}
	if (eo < end || (eo == end && !fin)) {
		if (clash)
			return D_DROP;
		count(o, SL_CTR_TCP_DUPLICATES);
		return D_DUP;
	}
	/* New bytes: [a, eo), possibly empty when only a FIN is new. */
	uint64_t a = (uint64_t)SL_MAX(so, end);
	const uint8_t *pa = p + (a - so);
	uint32_t la = (uint32_t)(eo - (int64_t)a);

	sl_tcp_ooo_plan(h, a, pa, la, &pl);
	if (pl.conflict) {
		conflict(o, "queued");
		if (cfg->inline_mode)
			return D_DROP;
		clash = true;
	}
	if (a > (uint64_t)end) {
		/* Out of order: queue what is new (insert fills only holes). */
		if (pl.queued == la && !fin) {
			if (clash)
				return D_DROP;
			count(o, SL_CTR_TCP_DUPLICATES);
			return D_DUP;
		}
		bool depth = h->ooo_bytes + (uint64_t)(la - pl.queued) > cfg->ooo_depth ||
			     (int64_t)h->ooo_runs + pl.runs_delta > (int64_t)cfg->ooo_max_runs;
		if (!depth && sl_tcp_ooo_insert(o->ctx, h, a, pa, la)) {
			if (fin)
				record_fin(o, dir, seq + len);
			return clash ? D_DROP : D_ACCEPT;
		}
		limit_hit(o, !depth);
		if (cfg->inline_mode)
			return D_DROP;	/* the sender retransmits; no gap */
		/* Replay: the hole before the queued bytes can never be
		 * filled; give up on it and try again. */
		const struct sl_tcp_seg *f = sl_tcp_ooo_first(h);

		if (f && f->off < a) {
			skip_to(o, dir, f->off);
			if (h->flags & H_EOF)
				return D_ACCEPT;
			goto again;
		}
	}
	/* In order (possibly after a gap): deliver with what it makes
	 * contiguous, in one call where possible. */
	uint64_t gap = a - (uint64_t)end;
	unsigned npc = 0;

	if (fin)
		record_fin(o, dir, seq + len);
	if (pl.conflict) {
		/* replay: the queued first copy wins; fill the holes around it */
		if (!sl_tcp_ooo_insert(o->ctx, h, a, pa, la))
			limit_hit(o, true);
		skip_to(o, dir, a);
		return D_DROP;
	}
	if (la) {
		pc[0].p = pa;
		pc[0].n = la;
		npc = 1;
	}
	npc = run_pieces(h, a + la, pc, npc);
	if (!deliver(o, dir, pc, npc, gap, false, cfg->inline_mode)) {
		limit_hit(o, true);
		return D_DROP;
	}
	drain_runs(o, dir);
	return clash ? D_DROP : D_ACCEPT;
}

/* A receiver ACKed bytes of dir's stream beyond what could be delivered:
 * replay only (inline never gets here, see ack_in).  When bytes kept aside
 * cover that range, they are delivered at once.  Otherwise the bytes were
 * lost from the capture -- or are still to come: a capture taken on more
 * than one queue or interface can record an ACK just before the data it
 * acknowledges -- so the hole is given up only when the conversation moves
 * on (give_up_hole). */
static void ack_unseen(const struct op *o, enum sl_dir dir, uint32_t ack, bool held)
{
	struct sl_tcp_half *a = &o->s->half[dir];

	if (!held)
		count(o, SL_CTR_TCP_ACK_UNSEEN);
	if (a->flags & H_STOP) {
		advance(a, ack - a->next_seq);
		if ((a->flags & H_FIN) && sl_seq_geq(a->next_seq, a->fin_seq)) {
			a->next_seq = a->fin_seq;
			a->flags |= H_EOF;
		}
		return;
	}
	if (!held) {
		a->flags |= H_AHOLE;
		return;
	}
	promote(o, dir, (uint64_t)seq_off(a, ack));
	skip_to(o, dir, (uint64_t)seq_off(a, ack));
}

/* Gives up the part of dir's stream that its receiver ACKed but that never
 * reached us (ack_unseen): what was queued or kept aside below the ACK is
 * delivered, the holes as gaps. */
static void give_up_hole(const struct op *o, enum sl_dir dir)
{
	struct sl_tcp_half *a = &o->s->half[dir];
	const struct sl_tcp_half *r = &o->s->half[!dir];

	if (!(a->flags & H_AHOLE))
		return;
	a->flags &= (uint8_t)~H_AHOLE;
	if ((a->flags & (H_EOF | H_STOP)) || !sl_seq_gt(r->last_ack, a->next_seq))
		return;
	promote(o, dir, (uint64_t)seq_off(a, r->last_ack));
	skip_to(o, dir, (uint64_t)seq_off(a, r->last_ack));
}

static void ack_in(const struct op *o, enum sl_dir dir)
{
	const struct sl_packet *pkt = o->pkt;
	struct sl_tcp_session *s = o->s;
	struct sl_tcp_half *h = &s->half[dir], *a = &s->half[!dir];
	uint32_t ack = pkt->ack, win = pkt->win;
	bool unseen, held = false;

	if (!(pkt->tcp_flags & SL_TH_ACK))
		return;
	if ((h->flags & H_ACK) && sl_seq_lt(ack, h->last_ack))
		return;			/* older than what we have: reordered */
	/* RFC 7323 2.2: the window of a SYN is never scaled. */
	if (!(pkt->tcp_flags & SL_TH_SYN) && (s->flags & S_WSCALE))
		win <<= h->wscale;
	unseen = (a->flags & H_SEQ) && !(a->flags & H_EOF) && sl_seq_gt(ack, a->next_seq);
	if (unseen) {
		/* The receiver cannot acknowledge more than its window beyond
		 * its previous ACK: anything further is forged or garbage. */
		uint32_t lim = a->next_seq + MAX_WIN;

		if ((h->flags & H_ACK) && (s->half[0].flags & s->half[1].flags & H_SYN))
			lim = h->last_ack + h->window + WIN_SLACK;
		/* ... unless it covers exactly bytes the sender was seen to
		 * send, refused as beyond the window (window updates lost
		 * from the capture, or a receiver that did take them). */
		held = ack_held(s, !dir, ack);
		if ((!held && sl_seq_gt(ack, lim)) ||
		    (o->ctx->cfg.inline_mode && !(a->flags & H_STOP))) {
			/* Inline everything passes through us, so the receiver
			 * cannot hold bytes we did not see: asymmetric routing,
			 * a forged ACK, or bytes we wrongly called out of
			 * window.  Skipping would let a forger blind us, and
			 * believing the ACK would end the history early: the
			 * ACK is not taken, the stream waits (and if the bytes
			 * never come, the flow stalls: fail closed). */
			count(o, SL_CTR_TCP_ACK_UNSEEN);
			anom(o, SL_ANOM_STREAM_ACK_UNSEEN, NULL);
			return;
		}
	}
	h->last_ack = ack;
	h->window = win;
	h->flags |= H_ACK;
	if (unseen)
		ack_unseen(o, !dir, ack, held);
	if (s->state == SL_TCP_SYN_RECV && !(pkt->tcp_flags & SL_TH_SYN))
		s->state = SL_TCP_ESTABLISHED;
	settle(o, !dir);
}

static void start_half(struct sl_tcp_half *h, uint32_t isn)
{
	h->isn = isn;
	h->next_seq = isn + 1;
	h->delivered = 0;
	h->flags |= H_SEQ;
}

static enum data_res syn_changed(const struct op *o, const char *detail)
{
	count(o, SL_CTR_TCP_SYN_CHANGED);
	anom(o, SL_ANOM_STREAM_SYN_RESEND_DIFF, detail);
	return D_BAD;
}

/* Nothing of h's stream seen beyond its SYN: its ISN may still be replaced. */
static bool half_virgin(const struct sl_tcp_half *h)
{
	return h->delivered == 0 && !h->ooo && h->next_seq == h->isn + 1 && !h->pending &&
	       !(h->flags & (H_FIN | H_EOF | H_STOP));
}

static enum data_res syn_in(const struct op *o, enum sl_dir dir)
{
	const struct sl_packet *pkt = o->pkt;
	struct sl_tcp_session *s = o->s;
	struct sl_tcp_half *h = &s->half[dir], *r = &s->half[!dir];
	bool synack = pkt->tcp_flags & SL_TH_ACK;

	if (h->flags & H_SYN) {
		if (pkt->seq != h->isn) {
			/* Before the peer answered, the latest SYN is the one
			 * the connection will use; afterwards the peer has
			 * chosen, and a different SYN is noise (or an attempt
			 * to desynchronise us). */
			if ((r->flags & H_SYN) || !half_virgin(h))
				return syn_changed(o, "ignored");
			syn_changed(o, "replaces the first");
			start_half(h, pkt->seq);
			unv_drop_from(o->ctx, s, dir, 0);	/* kept in the old space */
		}
	} else if (h->flags & H_SEQ) {
		return syn_changed(o, "SYN after data");
	} else {
		start_half(h, pkt->seq);
		h->flags |= H_SYN;
		if (pkt->opts.has_wscale) {
			h->flags |= H_WSOPT;
			h->wscale = SL_MIN(pkt->opts.wscale, MAX_WSCALE);
		}
	}
	if (synack && (r->flags & H_SYN) && pkt->ack != r->isn + 1 && half_virgin(r) &&
	    !ack_held(s, !dir, pkt->ack)) {
		/* The responder acknowledged another ISN than the SYN we kept:
		 * the receiver is the judge. */
		syn_changed(o, "SYN/ACK acknowledges another ISN");
		start_half(r, pkt->ack - 1);
		unv_drop_from(o->ctx, s, !dir, 0);
	}
	/* RFC 7323 2.2: scaling only when both SYNs carried the option. */
	if ((h->flags & r->flags & H_SYN) && (h->flags & r->flags & H_WSOPT))
		s->flags |= S_WSCALE;
	if (synack && s->state < SL_TCP_SYN_RECV)
		s->state = SL_TCP_SYN_RECV;
	else if (s->state == SL_TCP_NONE)
		s->state = SL_TCP_SYN_SENT;
	return D_ACCEPT;
}

/* Ends both halves: what is queued is delivered (holes as gaps), then EOF. */
static void flush_half(const struct op *o, enum sl_dir dir)
{
	struct sl_tcp_half *h = &o->s->half[dir];

	give_up_hole(o, dir);
	if (!(h->flags & (H_EOF | H_STOP))) {
		const struct sl_tcp_seg *f;

		while (!(h->flags & H_EOF) && (f = sl_tcp_ooo_first(h))) {
			struct piece pc[MAX_PIECES];
			unsigned npc = run_pieces(h, f->off, pc, 0);

			deliver(o, dir, pc, npc, f->off - h->delivered, false, false);
		}
		if (!(h->flags & H_EOF)) {
			uint64_t gap = 0;

			if ((h->flags & H_FIN) && seq_off(h, h->fin_seq) > (int64_t)h->delivered)
				gap = (uint64_t)seq_off(h, h->fin_seq) - h->delivered;
			deliver(o, dir, NULL, 0, gap, true, false);
		}
	}
	h->flags |= H_EOF;
	sl_tcp_buf_free(o->ctx, &h->pending);
	sl_tcp_ooo_free(o->ctx, h);
	unv_drop_from(o->ctx, o->s, dir, 0);
}

static enum sl_tcp_verdict rst_in(const struct op *o, enum sl_dir dir)
{
	const struct sl_packet *pkt = o->pkt;
	struct sl_tcp_session *s = o->s;
	struct sl_tcp_half *h = &s->half[dir], *r = &s->half[!dir];
	bool ok;

	/* RFC 5961 3.2 style: the RST's sequence number must fall in the
	 * receiver's window, i.e. from what the receiver expects next up to
	 * its right edge.  We close on any in-window RST, not only the exact
	 * match an RFC 5961 receiver insists on; the risk that such a
	 * receiver stays open is covered by dropping later data inline. */
	if (h->flags & H_SEQ) {
		uint32_t lo = h->next_seq;

		if ((r->flags & H_ACK) && sl_seq_lt(r->last_ack, lo))
			lo = r->last_ack;
		ok = pkt->seq == lo ||
		     (sl_seq_geq(pkt->seq, lo) && sl_seq_lt(pkt->seq, rcv_edge(s, dir)));
	} else if (r->flags & H_SEQ) {
		/* Answer to a SYN or to data (RFC 793 SYN-SENT): its ACK must
		 * acknowledge something r sent. */
		ok = (pkt->tcp_flags & SL_TH_ACK) && sl_seq_gt(pkt->ack, r->isn) &&
		     sl_seq_leq(pkt->ack, r->next_seq + ((r->flags & H_FIN) ? 1 : 0));
	} else {
		ok = true;		/* nothing to protect */
	}
	if (!ok) {
		count(o, SL_CTR_TCP_RST_IGNORED);
		anom(o, SL_ANOM_STREAM_RST_OUT_OF_WINDOW, NULL);
		return SL_TCP_IGNORED;
	}
	/* A RST carrying an ACK (an abort: its ACK is the stack's rcv_nxt)
	 * also says what the receiver accepted of the other direction. */
	if ((pkt->tcp_flags & SL_TH_ACK) && (r->flags & H_SEQ) &&
	    !(r->flags & (H_EOF | H_STOP)) && sl_seq_gt(pkt->ack, r->next_seq) &&
	    ack_held(s, !dir, pkt->ack))
		promote(o, !dir, (uint64_t)seq_off(r, pkt->ack));
	s->flags |= S_RST;
	s->state = SL_TCP_CLOSED;
	flush_half(o, SL_TO_SERVER);
	flush_half(o, SL_TO_CLIENT);
	return SL_TCP_ACCEPT;
}

static void update_state(struct sl_tcp_session *s)
{
	const struct sl_tcp_half *c = &s->half[0], *v = &s->half[1];

	if (s->state == SL_TCP_CLOSED)
		return;
	if (c->flags & v->flags & H_EOF)
		s->state = SL_TCP_CLOSED;
	else if ((c->flags | v->flags) & H_FIN)
		s->state = SL_TCP_FIN_WAIT;
}

enum sl_tcp_verdict sl_tcp_segment(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s,
				   const struct sl_packet *pkt, enum sl_dir dir,
				   const struct sl_tcp_io *io)
{
	const struct op o = { .ctx = ctx, .s = s, .pkt = pkt, .io = io };
	struct sl_tcp_half *h = &s->half[dir];
	uint8_t fl = pkt->tcp_flags;
	uint32_t seq = pkt->seq, len = pkt->payload_len;
	bool fin = fl & SL_TH_FIN;
	enum data_res res = D_ACCEPT;

	count(&o, SL_CTR_TCP_SEGMENTS);
	if ((pkt->flags & SL_PKT_L4_CSUM_BAD) && !(pkt->flags & SL_PKT_L4_CSUM_SKIP)) {
		count(&o, SL_CTR_TCP_BAD_CSUM);
		anom(&o, SL_ANOM_STREAM_BAD_CSUM, NULL);
		if (!(fl & (SL_TH_SYN | SL_TH_RST)))
			set_aside(&o, dir, SL_TCP_UNV_CSUM, seq, pkt->payload, len);
		return SL_TCP_IGNORED;
	}
	if (s->flags & S_RST) {
		if (!len)
			return SL_TCP_IGNORED;
		count(&o, SL_CTR_TCP_DATA_AFTER_RST);
		anom(&o, SL_ANOM_STREAM_DATA_AFTER_RST, NULL);
		return ctx->cfg.inline_mode ? SL_TCP_DROP : SL_TCP_IGNORED;
	}
	if (fl & SL_TH_RST)
		return rst_in(&o, dir);
	/* The conversation moved on: a hole the receiver ACKed (ack_unseen)
	 * will not be filled by a late copy any more.  Its receiver sent
	 * something, or its sender sent beyond it. */
	if ((s->half[!dir].flags & H_AHOLE) && (len || fin))
		give_up_hole(&o, !dir);
	if ((h->flags & H_AHOLE) && (len || fin) && sl_seq_geq(seq, s->half[!dir].last_ack))
		give_up_hole(&o, dir);
	if (fl & SL_TH_SYN) {
		res = syn_in(&o, dir);
		if (res == D_BAD)
			return SL_TCP_IGNORED;
		seq++;			/* data follows the SYN's own number */
		if (len)
			anom(&o, SL_ANOM_STREAM_SYN_DATA, NULL);
		/* A receiver takes SYN data only with TCP Fast Open, and then its
		 * SYN/ACK acknowledges it: until an ACK shows that, keep it aside
		 * (replay).  Inline it is inspected: the receiver may take it. */
		if (len && ctx->cfg.unverified_depth) {
			set_aside(&o, dir, SL_TCP_UNV_SYN, seq, pkt->payload, len);
			len = 0;
		}
	}
	if (!(h->flags & H_SEQ) && (len || fin)) {
		if (!ctx->cfg.midstream) {
			count(&o, SL_CTR_TCP_NO_HANDSHAKE);
			return SL_TCP_IGNORED;
		}
		/* Midstream: the stream starts at the first data we see. */
		start_half(h, seq - 1);
		count(&o, SL_CTR_TCP_MIDSTREAM);
		if (!(s->flags & S_MIDSTREAM)) {
			s->flags |= S_MIDSTREAM;
			anom(&o, SL_ANOM_STREAM_MIDSTREAM, NULL);
		}
		if (s->state < SL_TCP_ESTABLISHED)
			s->state = SL_TCP_ESTABLISHED;
	}
	if (h->flags & H_SEQ)
		res = data_in(&o, dir, seq, pkt->payload, len, fin);
	if (res == D_ACCEPT || res == D_DUP)
		ack_in(&o, dir);
	update_state(s);
	switch (res) {
	case D_ACCEPT:
		return SL_TCP_ACCEPT;
	case D_DROP:
		return SL_TCP_DROP;
	default:
		return SL_TCP_IGNORED;
	}
}

void sl_tcp_flush(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, const struct sl_tcp_io *io)
{
	const struct op o = { .ctx = ctx, .s = s, .pkt = NULL, .io = io };

	flush_half(&o, SL_TO_SERVER);
	flush_half(&o, SL_TO_CLIENT);
	update_state(s);
}

enum sl_tcp_end sl_tcp_end_reason(const struct sl_tcp_session *s)
{
	if (s->flags & S_RST)
		return SL_TCP_END_RST;
	if ((s->half[0].flags & s->half[1].flags & H_FIN) && s->state == SL_TCP_CLOSED)
		return SL_TCP_END_FIN;
	return SL_TCP_END_NONE;
}

bool sl_tcp_closed(const struct sl_tcp_session *s)
{
	return s->state == SL_TCP_CLOSED;
}

bool sl_tcp_next_seq(const struct sl_tcp_session *s, enum sl_dir dir, uint32_t *v)
{
	const struct sl_tcp_half *h = &s->half[dir];

	if (!(h->flags & H_SEQ))
		return false;
	/* once the FIN is reached, the sender's next number is past it */
	*v = h->next_seq + ((h->flags & H_FIN) && h->next_seq == h->fin_seq &&
			    (h->flags & H_EOF));
	return true;
}

bool sl_tcp_last_ack(const struct sl_tcp_session *s, enum sl_dir dir, uint32_t *v)
{
	if (!(s->half[dir].flags & H_ACK))
		return false;
	*v = s->half[dir].last_ack;
	return true;
}

bool sl_tcp_window(const struct sl_tcp_session *s, enum sl_dir dir, uint32_t *v)
{
	if (!(s->half[dir].flags & H_ACK))
		return false;
	*v = s->half[dir].window;
	return true;
}

uint64_t sl_tcp_session_mem(const struct sl_tcp_session *s)
{
	uint64_t n = 0;

	for (int d = 0; d < 2; d++) {
		n += sl_tcp_buf_mem(s->half[d].pending) + sl_tcp_ooo_mem(&s->half[d]);
		for (int k = 0; s->unv && k < SL_TCP_UNV_KINDS; k++)
			n += sl_tcp_ooo_mem(&s->unv->set[d][k]);
	}
	return n + (s->unv ? sizeof(*s->unv) : 0);
}

/* A parser may leave bytes because it waits for the other direction (SMTP
 * body bytes before the server's 354, an IMAP literal before the server's
 * continuation).  After the other direction progressed, the worker offers
 * those bytes again, without new ones.  pkt is the packet being processed
 * (of the other direction): it is what made them decidable. */
bool sl_tcp_reoffer(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, enum sl_dir dir,
		    const struct sl_packet *pkt, const struct sl_tcp_io *io)
{
	const struct op o = { .ctx = ctx, .s = s, .pkt = pkt, .io = io };
	struct sl_tcp_half *h = &s->half[dir];
	uint32_t unc = h->pending ? h->pending->unc : 0;
	size_t c;

	if (!unc || (h->flags & H_STOP))
		return false;
	c = call(&o, dir, sl_tcp_buf_at(h->pending, h->delivered - unc), unc,
		 h->delivered - unc, 0, 0);
	if (h->flags & H_STOP)
		return true;
	if (h->pending)
		h->pending->unc = (uint32_t)(unc - c);
	settle(&o, dir);
	return c > 0;
}

void sl_tcp_no_history(struct sl_tcp_session *s)
{
	s->flags |= S_NOHIST;
}

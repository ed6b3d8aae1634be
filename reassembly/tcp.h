/* TCP session tracking and per-direction stream reassembly.
 *
 * The flow table embeds one struct sl_tcp_session per TCP flow; this module
 * owns everything inside it.  For each segment the worker calls
 * sl_tcp_segment() with the direction the flow table assigned; in-order bytes
 * reach the consumer (io->consume) as slices that name the packet which made
 * them available (see engine/core/slice.h).  What the consumer leaves
 * unconsumed stays in the stream buffer and is offered again with newer bytes.
 *
 * Evasion stance (the receiver is the judge):
 *  - bytes that overlap bytes already seen and DIFFER: keep the first-seen
 *    bytes, raise stream.overlap_conflict, and tell the caller to drop the
 *    segment (inline it never reaches the receiver; in replay it did, so its
 *    other bytes, which conflict with nothing, fill the holes around the
 *    first copy).  "Already seen" covers queued out-of-order bytes and the
 *    delivered bytes still in the history
 *    (config.history: the receiver has not acknowledged them yet, so a
 *    retransmission of them may still be what the receiver keeps);
 *  - bad TCP checksum (unless the packet says it was not verified) or outside
 *    the receive window: never enters the stream as such, counted.  Replay
 *    only (config.unverified_depth), the bytes are kept aside, unverified:
 *    when the receiver later ACKs their range and no acceptable segment
 *    supplied those bytes, the receiver evidently accepted them (a capture
 *    edited without fixing checksums, window updates lost from the capture),
 *    so they are delivered (stream.unverified_acked, tcp.csum_bad_acked /
 *    tcp.out_of_window_acked) instead of a gap.  Acceptable bytes for the same
 *    range always win, so chaff among real segments is still ignored.
 *    Inline the store is off: the receiver drops such a segment, so only a
 *    forged ACK could cover it;
 *  - data on a SYN: a receiver keeps it only with TCP Fast Open, and then
 *    its SYN/ACK acknowledges it.  Replay: kept aside the same way, delivered
 *    when ACKed (tcp.syn_data_acked), else the real stream that starts at
 *    ISN+1 wins.  Inline: delivered (inspected: the receiver may take it);
 *  - out-of-order data waits for the hole to fill, bounded per flow
 *    (reassembly depth) and globally (memcap);
 *  - after an accepted RST the flow is closed: later data is dropped inline
 *    (a receiver that challenged the RST per RFC 5961 must not get bytes we
 *    no longer inspect), ignored and flagged in replay.
 *
 * What happens at each limit:
 *  - ooo_depth / ooo_max_runs / memcap refuse an out-of-order segment:
 *      inline: SL_TCP_DROP, nothing stored, the sender retransmits later;
 *      replay: the hole can never be filled, so the stream skips ahead to the
 *      first queued bytes (or to the segment) and delivers them with
 *      SL_SLICE_GAP, then stores or delivers the segment.
 *  - the receiver ACKs bytes we never saw (capture loss):
 *      replay: a late copy may still come (a capture taken on several
 *      queues can hold the ACK before the data), so the stream waits until
 *      the conversation moves on (the receiver sends data, the sender sends
 *      beyond the ACK, RST, flush), then skips ahead to the ACK, delivering
 *      queued (and kept-aside, see above) bytes on the way with SL_SLICE_GAP.
 *      An ACK covering exactly bytes kept aside is taken at once, even beyond
 *      the receiver's last advertised window.  Inline (cannot happen unless
 *      routing is asymmetric or the ACK is forged): counted, the ACK is not
 *      believed (no gap) and the stream waits for the bytes; if they never
 *      come the flow stalls (fail closed).
 *  - memcap refuses the stream buffer: the history of those bytes is given
 *    up (a retransmission of them is then counted as unverified, not
 *    compared: refusing in-order data would let whoever fills the memcap
 *    stall every flow); inline, a segment whose bytes must be joined to bytes
 *    the consumer left is dropped (SL_TCP_DROP) before anything is
 *    delivered; otherwise bytes the consumer left are lost to it
 *    (SL_SLICE_GAP).
 *  - the consumer leaves more than max_unconsumed bytes: the oldest are
 *    discarded and the rest is offered again at once with SL_SLICE_GAP, so a
 *    consumer can never wedge a flow or hold more than max_unconsumed.
 *
 * Consumer contract, per direction: let pos be the offset of the first byte
 * the consumer has not consumed (slice.offset + consumed of its last call).
 * The next slice has offset == pos, or, with SL_SLICE_GAP, offset == pos +
 * gap_len: gap_len counts every byte the consumer will never see, including
 * bytes it had left unconsumed before the hole.  A slice may have len 0 (a
 * gap with nothing after it yet, or EOF).  After a slice with SL_SLICE_EOF or
 * a SL_CONSUME_STOP answer the direction gets no more calls.  slice.data is
 * never NULL.  The consumer must not call back into this module for the same
 * session.
 *
 * A session closed by RST stays closed: a new SYN on the same 5-tuple (port
 * reuse) is the flow table's call to start a new session.
 *
 * Memory: the session is small and fixed (idle flows cost only this);
 * out-of-order segments, the stream buffer (unconsumed bytes plus the
 * unacknowledged history) and the bytes kept aside unverified are
 * heap-allocated on demand, charged to the stream memcap, and freed as soon
 * as they are empty (everything acknowledged and consumed), at sl_tcp_stop()
 * and at sl_tcp_flush().  A direction whose
 * receiver is never seen ACKing (one-sided capture) keeps up to
 * config.history bytes until the flow is flushed. */
#ifndef SL_TCP_H
#define SL_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "anomaly.h"
#include "counters.h"
#include "memcap.h"
#include "packet.h"
#include "slice.h"

struct sl_tcp_config {
	/* max out-of-order bytes queued per direction (default 1 MiB) */
	uint32_t ooo_depth;
	/* max disjoint out-of-order runs per direction (default 256): bounds
	 * the per-segment list walk against puzzles of 1-byte segments */
	uint32_t ooo_max_runs;
	/* max bytes a consumer may leave pending per direction (default 256 KiB) */
	uint32_t max_unconsumed;
	/* delivered but unacknowledged bytes kept per direction to verify
	 * retransmissions (default 64 KiB; 0 = none: faster, but a conflicting
	 * retransmission of delivered bytes goes unnoticed) */
	uint32_t history;
	/* track flows whose handshake was not seen (default true) */
	bool midstream;
	/* replay: bytes per direction of refused segments (bad checksum,
	 * beyond the window) and of SYN data kept aside in case the receiver
	 * ACKs them (default 256 KiB; 0 = off: refused bytes are lost, SYN
	 * data is delivered at once; always off with inline_mode) */
	uint32_t unverified_depth;
	/* refuse (drop) segments that cannot be stored instead of turning
	 * them into gaps: the sender will retransmit (default false) */
	bool inline_mode;
};

void sl_tcp_config_default(struct sl_tcp_config *c);

/* Per-worker context: config, memcap, counters.  mc and ctr may be NULL
 * (unlimited, uncounted). */
struct sl_tcp_ctx;
struct sl_tcp_ctx *sl_tcp_ctx_new(const struct sl_tcp_config *cfg, struct sl_memcap *mc,
				  struct sl_counters *ctr);
void sl_tcp_ctx_free(struct sl_tcp_ctx *ctx);

struct sl_tcp_seg;			/* out-of-order run (private) */
struct sl_tcp_buf;			/* stream buffer: history + unconsumed bytes (private) */

/* One direction: what its sender has sent, as the receiver will see it. */
struct sl_tcp_half {
	uint32_t isn;			/* initial sequence number (SYN's; midstream:
					   first data - 1) */
	uint32_t next_seq;		/* next in-order sequence number expected (the FIN's own
					   number once all data before it was delivered) */
	uint32_t fin_seq;		/* sequence number of the FIN, when seen */
	uint32_t last_ack;		/* latest ACK this sender sent (for the other half) */
	uint32_t window;		/* this sender's advertised receive window, scaled */
	uint32_t ooo_bytes;		/* bytes queued out of order */
	uint64_t delivered;		/* absolute stream offset of next_seq */
	struct sl_tcp_seg *ooo;		/* out-of-order runs, sorted (private layout) */
	struct sl_tcp_buf *pending;	/* stream buffer, NULL when empty */
	uint16_t ooo_runs;
	uint8_t wscale;			/* window scale this sender announced (0..14) */
	uint8_t flags;			/* private state bits */
};

struct sl_tcp_unv;			/* bytes kept aside unverified (private) */

struct sl_tcp_session {
	struct sl_tcp_half half[2];	/* indexed by enum sl_dir of the SENDER */
	struct sl_tcp_unv *unv;		/* NULL unless something is kept aside */
	uint8_t state;			/* enum sl_tcp_state */
	uint8_t flags;			/* private */
};

enum sl_tcp_state {
	SL_TCP_NONE = 0,
	SL_TCP_SYN_SENT,
	SL_TCP_SYN_RECV,
	SL_TCP_ESTABLISHED,
	SL_TCP_FIN_WAIT,		/* one side sent FIN */
	SL_TCP_CLOSED,			/* both FINs, or RST */
};

/* How the flow ended, for the flow event. */
enum sl_tcp_end {
	SL_TCP_END_NONE = 0,		/* still open */
	SL_TCP_END_FIN,
	SL_TCP_END_RST,
};

enum sl_tcp_verdict {
	SL_TCP_ACCEPT = 0,		/* forward the packet */
	SL_TCP_IGNORED,			/* not part of the stream (bad checksum, out of
					   window, duplicate): the receiver discards it
					   too; forwarding is harmless */
	SL_TCP_DROP,			/* must not reach the receiver: conflicting overlap, or
					   (inline) could not be stored under the limits */
};

struct sl_tcp_io {
	sl_stream_fn consume;		/* may be NULL: bytes are tracked and discarded */
	void *consume_u;
	sl_anomaly_fn anomaly;		/* may be NULL */
	void *anomaly_u;
};

void sl_tcp_session_init(struct sl_tcp_session *s);
enum sl_tcp_verdict sl_tcp_segment(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s,
				   const struct sl_packet *pkt, enum sl_dir dir,
				   const struct sl_tcp_io *io);
/* Stop delivering dir to the consumer (it answered SL_CONSUME_STOP, or the
 * flow is bypassed); tracking continues, buffers are freed. */
void sl_tcp_stop(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, enum sl_dir dir);
/* The flow is no longer inspected (bypassed) but still delivered (stream
 * files): keep no history of delivered bytes, which only serves to verify
 * retransmissions of inspected data. */
void sl_tcp_no_history(struct sl_tcp_session *s);
/* Offers dir's unconsumed bytes again (nothing new), after the other
 * direction made progress a parser was waiting for.  True when the consumer
 * took some; pkt is the packet being processed (either direction). */
bool sl_tcp_reoffer(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, enum sl_dir dir,
		    const struct sl_packet *pkt, const struct sl_tcp_io *io);
/* Flow end: deliver what can be delivered (holes as gaps) and EOF, both
 * directions, then free every buffer.  The session stays valid (empty). */
void sl_tcp_flush(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, const struct sl_tcp_io *io);
enum sl_tcp_end sl_tcp_end_reason(const struct sl_tcp_session *s);
bool sl_tcp_closed(const struct sl_tcp_session *s);

/* Current sequence state of dir's sender, for injecting RSTs or replies.
 * Each returns false (and leaves *v alone) while the value is unknown.
 * next_seq: the sequence number dir's sender will use next (counts the FIN);
 * last_ack: the last ACK dir's sender sent; window: its scaled window. */
bool sl_tcp_next_seq(const struct sl_tcp_session *s, enum sl_dir dir, uint32_t *v);
bool sl_tcp_last_ack(const struct sl_tcp_session *s, enum sl_dir dir, uint32_t *v);
bool sl_tcp_window(const struct sl_tcp_session *s, enum sl_dir dir, uint32_t *v);
/* Heap bytes this session holds (0 for an idle flow). */
uint64_t sl_tcp_session_mem(const struct sl_tcp_session *s);

#endif

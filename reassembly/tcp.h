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
 *    segment (inline it never reaches the receiver);
 *  - bad TCP checksum (unless the packet says it was not verified) or outside
 *    the receive window: never enters the stream, counted;
 *  - out-of-order data waits for the hole to fill, bounded per flow
 *    (reassembly depth) and globally (memcap).
 *
 * Memory: the session is small and fixed (idle flows cost only this);
 * out-of-order segments and unconsumed bytes are heap-allocated on demand and
 * charged to the stream memcap. */
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
	uint32_t ooo_depth;		/* max out-of-order bytes queued per direction (default 1 MiB) */
	uint32_t max_unconsumed;	/* max bytes a consumer may leave pending per direction (default 256 KiB) */
	bool midstream;			/* track flows whose handshake was not seen (default true) */
	bool inline_mode;		/* refuse (drop) segments that cannot be stored instead of
					   turning them into gaps: the sender will retransmit */
};

void sl_tcp_config_default(struct sl_tcp_config *c);

/* Per-worker context: config, memcap, counters, segment allocator. */
struct sl_tcp_ctx;
struct sl_tcp_ctx *sl_tcp_ctx_new(const struct sl_tcp_config *cfg, struct sl_memcap *mc,
				  struct sl_counters *ctr);
void sl_tcp_ctx_free(struct sl_tcp_ctx *ctx);

struct sl_tcp_seg;			/* out-of-order queue entry (private) */
struct sl_tcp_buf;			/* unconsumed-bytes buffer (private) */

/* One direction: what its sender has sent, as the receiver will see it. */
struct sl_tcp_half {
	uint32_t isn;			/* initial sequence number (SYN's seq, or first seen midstream) */
	uint32_t next_seq;		/* next in-order sequence number expected */
	uint32_t fin_seq;		/* sequence number of the FIN, when fin_seen */
	uint32_t last_ack;		/* latest ACK this sender sent (acknowledging the other half) */
	uint32_t window;		/* this sender's advertised receive window, scaled */
	uint64_t delivered;		/* absolute stream offset of next_seq */
	struct sl_tcp_seg *ooo;		/* out-of-order segments, sorted */
	struct sl_tcp_buf *pending;	/* bytes left unconsumed by the consumer */
	uint32_t ooo_bytes;
	uint8_t wscale;			/* window scale this sender announced (0..14) */
	uint8_t flags;			/* private state bits */
};

struct sl_tcp_session {
	struct sl_tcp_half half[2];	/* indexed by enum sl_dir of the SENDER */
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
	SL_TCP_IGNORED,			/* not part of the stream (bad checksum, out of window,
					   duplicate): the receiver discards it too; forwarding is harmless */
	SL_TCP_DROP,			/* must not reach the receiver: conflicting overlap, or
					   (inline) could not be stored under the limits */
};

struct sl_tcp_io {
	sl_stream_fn consume;		/* may be NULL: bytes are tracked and discarded */
	void *consume_u;
	sl_anomaly_fn anomaly;
	void *anomaly_u;
};

void sl_tcp_session_init(struct sl_tcp_session *s);
enum sl_tcp_verdict sl_tcp_segment(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s,
				   const struct sl_packet *pkt, enum sl_dir dir,
				   const struct sl_tcp_io *io);
/* Stop delivering dir to the consumer (it answered SL_CONSUME_STOP, or the
 * flow is bypassed); tracking continues, buffers are freed. */
void sl_tcp_stop(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, enum sl_dir dir);
/* Flow end: deliver what can be delivered (holes as gaps) and EOF, both
 * directions, then free every buffer.  The session stays valid (empty). */
void sl_tcp_flush(struct sl_tcp_ctx *ctx, struct sl_tcp_session *s, const struct sl_tcp_io *io);
enum sl_tcp_end sl_tcp_end_reason(const struct sl_tcp_session *s);
bool sl_tcp_closed(const struct sl_tcp_session *s);

#endif

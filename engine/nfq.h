/* The NFQUEUE source: one netlink socket bound to one queue, owned by one
 * worker thread.
 *
 * Queue set-up (sl_nfq_open), and why:
 *  - copy mode PACKET, range 0xffff: the whole IP packet, GSO ones included;
 *  - NFQA_CFG_F_GSO (inline.gso, default on): without it the kernel segments
 *    every GSO/GRO super-packet before queueing (measured: 4x less bulk
 *    throughput); with it a packet may exceed the MTU and may carry a
 *    checksum the kernel has not computed yet (NFQA_SKB_CSUMNOTREADY, so
 *    decode must not verify it: sl_nfq_pkt.csum_not_ready);
 *  - NFQA_CFG_F_FAIL_OPEN (inline.fail_open, default on): when the queue or
 *    the socket buffer is full the kernel accepts instead of dropping.
 *    Such packets pass uninspected and the kernel does not count them;
 *    sluice sees the packet ids they used up (ids_skipped) and the
 *    ENOBUFS the socket reports;
 *  - queue maxlen (inline.queue_maxlen) and a large receive buffer
 *    (SO_RCVBUFFORCE as root, else SO_RCVBUF capped by rmem_max);
 *  - NETLINK_NO_ENOBUFS is NOT set: an overrun must be seen, counted and
 *    logged (rate-limited); it is never fatal.
 *
 * Verdicts.  Every packet gets exactly one.  Accepts are gathered into one
 * NFQNL_MSG_VERDICT_BATCH ("every queued id <= N: accept") while no held
 * packet is queued - a batch would release a held packet below its id;
 * otherwise each verdict is its own message.  Messages are packed into one
 * sendmsg per receive burst (sl_nfq_flush) and reach the kernel in the
 * order they were given, so a flow's packets keep their order.  A verdict
 * that replaces the packet (NFQA_PAYLOAD: the held packet rewritten as an
 * RST) is sent at once with NLM_F_ACK; when the kernel refuses the new
 * payload (it drops the packet then), on_error hears of it so the caller can
 * send its reset another way. */
#ifndef SL_NFQ_H
#define SL_NFQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"

struct sl_nfq_config {
	uint16_t queue;
	uint32_t maxlen;		/* kernel queue length */
	bool fail_open;
	bool gso;
	uint32_t rcvbuf;		/* socket receive buffer bytes */
	unsigned burst;			/* packets per receive call (default 32) */
};

/* One queued packet as NFQUEUE describes it.  payload points into the
 * receive buffer: valid until the next sl_nfq_receive(). */
struct sl_nfq_pkt {
	uint32_t id;
	uint16_t hw_protocol;		/* ETH_P_IP / ETH_P_IPV6 */
	uint8_t hook;
	bool csum_not_ready;		/* NFQA_SKB_CSUMNOTREADY */
	bool gso;			/* NFQA_SKB_GSO */
	const uint8_t *payload;		/* the IP packet */
	uint32_t len;			/* bytes at payload */
	uint32_t orig_len;		/* length before the copy range cut it (>= len) */
	uint32_t mark;			/* skb mark (0 when absent) */
	uint32_t indev, outdev, physindev, physoutdev;	/* ifindex, 0 = absent */
	uint8_t hwaddr[8];		/* source link-layer address */
	uint8_t hwlen;			/* 0 = absent */
};

struct sl_nfq_stats {
	uint64_t packets, bytes;	/* received */
	uint64_t truncated;		/* longer than the copy range */
	uint64_t enobufs;		/* receive overruns the socket reported */
	uint64_t recv_errors;		/* other receive errors */
	uint64_t ids_skipped;		/* ids the kernel used that never reached us:
					   fail-open or dropped on a full socket */
	uint64_t verdicts;		/* packets given a verdict */
	uint64_t batch_msgs;		/* NFQNL_MSG_VERDICT_BATCH messages sent */
	uint64_t single_msgs;		/* NFQNL_MSG_VERDICT messages sent */
	uint64_t sends;			/* sendmsg calls */
	uint64_t send_errors;
	uint64_t verdict_errors;	/* errors the kernel returned for verdicts */
	uint64_t by_verdict[5];		/* NF_DROP, NF_ACCEPT, -, NF_QUEUE, NF_REPEAT */
	struct sl_hist latency_us;	/* receive to verdict sent, packets not held */
};

/* The batching decision, kept apart from the socket so it can be tested.
 * Accepts extend an open range while no held packet is queued; any other
 * verdict, or an accept while something is held, closes the range first. */
struct sl_vbatch {
	uint32_t max_id;		/* open range: every queued id <= max_id: accept */
	uint32_t n;			/* packets in the open range */
	uint32_t held;			/* held packets still queued in the kernel */
};

enum sl_vbatch_op {
	SL_VB_EXTEND = 0,		/* the accept joined the open range */
	SL_VB_SINGLE,			/* close the range (if open), then send it alone */
};

enum sl_vbatch_op sl_vbatch_accept(struct sl_vbatch *b, uint32_t id);
/* Closes the open range: true with its last id when one was open. */
bool sl_vbatch_close(struct sl_vbatch *b, uint32_t *max_id);

typedef void (*sl_nfq_packet_fn)(void *u, const struct sl_nfq_pkt *p);
/* A verdict sent with a replacement payload was refused (errno). */
typedef void (*sl_nfq_error_fn)(void *u, uint32_t id, int err);

struct sl_nfq;
/* Binds the queue and configures it.  NULL with err set ("queue 3: bind:
 * Device or resource busy (another program owns this queue)"). */
struct sl_nfq *sl_nfq_open(const struct sl_nfq_config *cfg, char *err, size_t errlen);
void sl_nfq_set_error_fn(struct sl_nfq *q, sl_nfq_error_fn fn, void *u);
int sl_nfq_fd(const struct sl_nfq *q);
uint16_t sl_nfq_queue(const struct sl_nfq *q);
/* Reads what waits (one burst, never blocks), calls fn per packet, then
 * sends the verdicts given meanwhile.  Returns packets read, or -1 when
 * nothing could be read (EAGAIN: nothing waiting). */
int sl_nfq_receive(struct sl_nfq *q, sl_nfq_packet_fn fn, void *u);

/* Verdicts.  'held': the packet was held (its wait is in the hold time
 * histogram, not in latency_us; and it no longer blocks batching).  mark:
 * 0 = leave the packet's mark alone.  payload: replacement packet or NULL.
 * Queued until sl_nfq_flush() except replacements, which go at once. */
void sl_nfq_verdict(struct sl_nfq *q, uint32_t id, int verdict, uint32_t mark,
		    const uint8_t *payload, uint32_t len, bool held);
/* The packet stays queued in the kernel until a later sl_nfq_verdict(..., held). */
void sl_nfq_hold(struct sl_nfq *q, uint32_t id);
/* Sends what is queued. */
void sl_nfq_flush(struct sl_nfq *q);
const struct sl_nfq_stats *sl_nfq_stats(const struct sl_nfq *q);
/* Unbinds (the kernel drops what is still queued) and frees. */
void sl_nfq_close(struct sl_nfq *q);

/* One line of /proc/net/netfilter/nfnetlink_queue. */
struct sl_nfq_proc {
	uint16_t queue;
	uint32_t portid;
	uint32_t queue_total;		/* packets waiting now */
	uint32_t copy_mode, copy_range;
	uint64_t queue_dropped;		/* queue full, fail-open off */
	uint64_t user_dropped;		/* socket full, fail-open off */
	uint32_t id_sequence;		/* last id used */
};
/* The /proc file opened once (path NULL = /proc/net/netfilter/nfnetlink_queue):
 * it is readable by root only, and sluice reads it after dropping
 * privileges.  NULL when missing (no queue bound yet in this namespace is
 * fine: the kernel creates it with the module). */
FILE *sl_nfq_proc_open(const char *path);
/* Reads the line of 'queue' from the start of f.  0, or -1 when the queue
 * has no line.  The kernel keeps no count of the packets fail-open let
 * through (see ids_skipped above). */
int sl_nfq_proc_read(FILE *f, uint16_t queue, struct sl_nfq_proc *out);

#endif

/* Held packets (inline): packets whose verdict waits, per flow direction,
 * in arrival order, each with a deadline.
 *
 * Why a packet waits (any combination, see the worker's inline path):
 *   GATE   - it completes a message whose verdict is still pending (ClamAV
 *            on the scan pool): 'gates' counts the unsettled messages;
 *   WAIT   - the parser left bytes of it unconsumed while it waits for the
 *            other direction (SMTP body pipelined before 354, an IMAP
 *            synchronizing literal before "+"): the receiver must not get
 *            bytes that may later complete a message nobody judged; it
 *            waits until the consumer passed 'stream_end';
 *   BEHIND - an earlier packet of the same direction is held: TCP order.
 *
 *   queue (one flow direction):  head -> p1 -> p2 -> ... -> tail
 *                                 ^ released first, only when nothing
 *                                   holds it; everything after waits
 *
 *   set (one worker):  every non-empty queue, sorted by its head's
 *                      deadline, so expiry looks at the list head only.
 *
 * Each held packet is a private copy (the source's receive buffer is
 * reused at once); copies are bounded by the set's byte cap.  No locks:
 * a set belongs to one worker thread.  Times are the caller's clock
 * (monotonic microseconds). */
#ifndef SL_HOLD_H
#define SL_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"

enum sl_hold_why {
	SL_HOLD_GATE   = 1u << 0,
	SL_HOLD_WAIT   = 1u << 1,
	SL_HOLD_BEHIND = 1u << 2,
	SL_HOLD_DISCARD = 1u << 3,	/* dropped, not accepted, when its turn comes */
};

/* What the caller knows about the packet it holds. */
struct sl_held_info {
	uint32_t src_id;		/* the source's handle (NFQUEUE packet id) */
	uint32_t seq, ack;		/* TCP header fields */
	uint32_t seg_len;		/* sequence space used: payload + SYN + FIN */
	uint16_t l4_off;		/* TCP header offset in the copy; 0 = not in it
					   (a defragmented datagram: cannot be rewritten) */
	uint8_t tcp_flags;
	uint8_t why;			/* enum sl_hold_why */
	uint64_t stream_end;		/* WAIT: consumer offset that releases it */
};

struct sl_held {
	struct sl_held *next;
	uint64_t hid;			/* unique in the set, from 1 */
	uint64_t t_in_us;
	uint64_t deadline_us;
	struct sl_held_info info;
	uint16_t gates;			/* unsettled messages this packet completes */
	uint32_t len;
	uint8_t data[];			/* the packet as the source gave it (IP first) */
};

struct sl_hold_q {
	struct sl_held *head, *tail;
	uint32_t n;
	struct sl_hold_q *dprev, *dnext;	/* the set's deadline list (non-empty queues) */
	void *owner;			/* the caller's (flow state); set once */
	uint8_t dir;			/* the caller's direction index */
};

struct sl_hold_set {
	struct sl_hold_q *dhead, *dtail;	/* ascending head deadline */
	uint64_t next_hid;
	uint64_t bytes, bytes_cap;	/* copies held now / allowed (0 = no cap) */
	uint64_t pkts;			/* packets held now */
	uint64_t refused;		/* pushes refused by the cap */
	struct sl_hist hold_us;		/* time each released or dropped packet was held */
};

void sl_hold_set_init(struct sl_hold_set *s, uint64_t bytes_cap);
void sl_hold_q_init(struct sl_hold_q *q, void *owner, uint8_t dir);

/* Appends a copy of pkt[0..len).  Returns the entry, or NULL when the byte
 * cap (or malloc) refuses it: the caller must then neither accept nor
 * forget the packet silently (the inline path applies its hold policy). */
struct sl_held *sl_hold_push(struct sl_hold_set *s, struct sl_hold_q *q, const uint8_t *pkt,
			     uint32_t len, const struct sl_held_info *info, uint64_t now_us,
			     uint64_t deadline_us);
/* Takes the head out (NULL when empty); the caller verdicts it and frees it
 * with sl_hold_free().  The hold time is recorded in s->hold_us. */
struct sl_held *sl_hold_pop(struct sl_hold_set *s, struct sl_hold_q *q, uint64_t now_us);
void sl_hold_free(struct sl_held *h);

/* The head may go: no message gates it, and a WAIT is satisfied by the
 * consumer offset 'consumed' of its direction. */
bool sl_hold_head_ready(const struct sl_hold_q *q, uint64_t consumed);
/* A segment [seq, seq+seg_len) whose sequence space lies entirely inside
 * what the queue holds: a retransmission of held bytes (drop it, do not
 * queue it twice).  Zero-length segments are never covered. */
bool sl_hold_covers(const struct sl_hold_q *q, uint32_t seq, uint32_t seg_len);
struct sl_held *sl_hold_find(const struct sl_hold_q *q, uint64_t hid);
/* The queue whose head's deadline passed (earliest first), or NULL. */
struct sl_hold_q *sl_hold_expired(const struct sl_hold_set *s, uint64_t now_us);
/* Earliest head deadline of the set, or UINT64_MAX when nothing is held. */
uint64_t sl_hold_next_deadline(const struct sl_hold_set *s);

#endif

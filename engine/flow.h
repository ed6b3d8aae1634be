/* The flow table: one entry per bidirectional 5-tuple (+ outer VLAN), owned
 * by one worker thread (no locks).
 *
 * Bounded three ways: a hard cap on flows, a memory cap on what the table
 * itself allocates, and idle timeouts.  When the table is full, the least
 * recently used flow of the least valuable class is evicted (closed flows
 * first, then embryonic ones, then established ones); every eviction is
 * counted and reported to the owner, never silent.
 *
 * Timeouts are kept in O(1) with one LRU list per timeout class: a flow moves
 * to the tail of its class's list on every packet, so each list is ordered by
 * last activity and expiry only ever looks at list heads.
 *
 * Time is whatever the caller says it is: packet timestamps in replay, a
 * monotonic clock inline. */
#ifndef SL_FLOW_H
#define SL_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "anomaly.h"
#include "counters.h"
#include "packet.h"
#include "slice.h"
#include "tcp.h"

struct sl_flow_key {
	struct sl_addr addr[2];		/* addr[0]:port[0] sorts before addr[1]:port[1] */
	uint16_t port[2];
	uint16_t vlan;			/* outermost VLAN id, 0 if none */
	uint8_t proto;			/* IPPROTO_TCP ... */
	uint8_t pad;
};

enum sl_flow_class {			/* timeout classes, least valuable first */
	SL_FLOW_CLOSED = 0,		/* FIN both ways or RST: short timeout */
	SL_FLOW_EMBRYONIC,		/* handshake not complete, or no payload yet */
	SL_FLOW_ESTABLISHED,
	SL_FLOW_CLASSES
};

enum sl_flow_end {
	SL_FLOW_END_NONE = 0,
	SL_FLOW_END_FIN,
	SL_FLOW_END_RST,
	SL_FLOW_END_TIMEOUT,
	SL_FLOW_END_EVICTED,
	SL_FLOW_END_CAPTURE,		/* end of the capture file / shutdown */
};

const char *sl_flow_end_name(enum sl_flow_end e);

struct sl_flow_app;			/* the worker's per-flow extras (opaque here) */

struct sl_flow {
	struct sl_flow *hnext;		/* hash chain */
	struct sl_flow *prev, *next;	/* LRU list of its class */
	struct sl_flow_key key;
	uint32_t hash;
	uint8_t client;			/* key side (0/1) that is the client */
	uint8_t klass;			/* enum sl_flow_class */
	uint8_t end;			/* enum sl_flow_end once ending */
	uint8_t flags;			/* enum sl_flow_flag */
	uint64_t id;			/* run-wide sequence */
	uint64_t first_us, last_us;
	uint64_t first_pkt, last_pkt;	/* packet indices */
	uint64_t pkts[2], bytes[2];	/* per enum sl_dir (of the sender) */
	struct sl_anomaly_set anomalies;
	struct sl_tcp_session tcp;
	struct sl_flow_app *app;	/* NULL until the flow carries payload */
};

enum sl_flow_flag {
	SL_FLOWF_MIDSTREAM = 1u << 0,	/* direction guessed, no SYN seen */
	SL_FLOWF_BYPASS    = 1u << 1,	/* uninspectable (TLS, not mail): pass the rest */
	SL_FLOWF_REPORTED  = 1u << 2,	/* flow event written */
	SL_FLOWF_APP_REFUSED = 1u << 3,	/* app memcap refused, policy block: every packet of
					   the flow is dropped from then on */
};

struct sl_flow_config {
	uint32_t max_flows;		/* hard cap (default 1,000,000) */
	uint64_t memcap;		/* bytes for flow entries + hash buckets (default 512 MiB) */
	uint32_t timeout_closed_s;	/* default 10 */
	uint32_t timeout_embryonic_s;	/* default 30 */
	uint32_t timeout_established_s;	/* default 600 */
	const uint16_t *server_ports;	/* 0-terminated: well-known server ports used to
					   orient midstream flows (the mail ports) */
	uint32_t id_base, id_step;	/* ids base + 1, base + 1 + step, ... (step 0 = 1):
					   several tables (workers) keep ids disjoint */
};

void sl_flow_config_default(struct sl_flow_config *c);

/* Called for every flow that leaves the table (timeout, eviction, close,
 * flush) BEFORE its memory is reused: the owner flushes reassembly, writes
 * the flow event and frees its extras. */
typedef void (*sl_flow_release_fn)(void *u, struct sl_flow *f, enum sl_flow_end why);

struct sl_flow_table;
struct sl_flow_table *sl_flow_table_new(const struct sl_flow_config *cfg,
					struct sl_counters *ctr,
					sl_flow_release_fn release, void *u);
void sl_flow_table_free(struct sl_flow_table *t);	/* releases every flow (CAPTURE) */

/* Finds or creates the flow of a decoded packet and says in which direction
 * the packet travels.  NULL when the flow cannot be created (cap reached and
 * nothing evictable, or memcap): counted, the caller applies its policy. */
struct sl_flow *sl_flow_get(struct sl_flow_table *t, const struct sl_packet *p,
			    uint64_t now_us, enum sl_dir *dir);
/* Moves the flow to the class matching its state (after TCP processing). */
void sl_flow_set_class(struct sl_flow_table *t, struct sl_flow *f, enum sl_flow_class c);
/* Releases flows idle longer than their class's timeout. */
void sl_flow_expire(struct sl_flow_table *t, uint64_t now_us);
/* Releases one flow now (e.g. both FINs and nothing pending). */
void sl_flow_remove(struct sl_flow_table *t, struct sl_flow *f, enum sl_flow_end why);
uint32_t sl_flow_count(const struct sl_flow_table *t);

/* The sender and receiver of direction d, as addresses and ports. */
void sl_flow_endpoint(const struct sl_flow *f, enum sl_dir d, const struct sl_addr **src,
		      uint16_t *sport, const struct sl_addr **dst, uint16_t *dport);

#endif

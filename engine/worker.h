/* A worker: one thread's whole pipeline, from a decoded packet to a packet
 * verdict.  It owns its flow table, reassembly context, message builders,
 * sinks and counters; nothing in it is shared with other workers except
 * immutable, reference-counted inspection state inside the sinks.
 *
 * Sources (pcap replay, NFQUEUE) feed it packets and act on the returned
 * action; it never knows which source it serves. */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "counters.h"
#include "decode.h"
#include "defrag.h"
#include "eve.h"
#include "flow.h"
#include "hist.h"
#include "inject.h"
#include "mime.h"
#include "packet.h"
#include "sink.h"
#include "tcp.h"

/* What the source must do with a packet. */
enum sl_pkt_action {
	SL_PKT_ACCEPT = 0,
	SL_PKT_HOLD,			/* completes a message under judgement: keep it */
	SL_PKT_DROP,			/* must not reach the receiver */
	SL_PKT_BYPASS,			/* accept, and let the kernel pass the rest of the flow */
};

const char *sl_pkt_action_name(enum sl_pkt_action a);

struct sl_worker_config {
	struct sl_decode_config decode;
	struct sl_defrag_config defrag;
	struct sl_flow_config flow;
	struct sl_tcp_config tcp;
	struct sl_app_config app;
	struct sl_mime_limits mime;
	uint64_t stream_memcap;		/* default 1 GiB */
	enum sl_action anomaly_action[SL_ANOM_MAX];	/* default: the .def tables */
	enum sl_action flow_table_full;	/* packets of untrackable flows: pass (fail-open, default) or block */
	uint64_t app_memcap;		/* parser and message state (default 1 GiB) */
	enum sl_action on_app_memcap;	/* app_memcap refused a flow's state: tempfail/block
					   (default block) drop the flow's packets from then
					   on; pass/alert bypass the flow uninspected */
	bool inline_mode;		/* NFQUEUE: hold/drop for real */
	bool settle_sync;		/* replay: wait for pending scans at message end */
	const char *write_streams_dir;	/* NULL = off */
	const char *extract_dir;	/* NULL = off */
	const char *quarantine_dir;	/* NULL = off */
	uint32_t max_anomaly_events;	/* per anomaly kind without a flow (default 100) */

	/* inline_mode only */
	uint32_t hold_timeout_ms;	/* a held packet's deadline (default 30000) */
	enum sl_action on_hold_timeout;	/* deadline passed, hold refused, flow gone,
					   shutdown (default tempfail) */
	uint64_t hold_memcap;		/* bytes of held packet copies (default 64 MiB) */
	uint32_t id_base, id_step;	/* flow and message ids: base + 1, base + 1 + step
					   ... (several workers: disjoint; default 0, 1) */
};

void sl_worker_config_default(struct sl_worker_config *c);

struct sl_worker;
struct sl_worker *sl_worker_new(const struct sl_worker_config *cfg, struct sl_eve *eve);
/* The inspectors' sinks for this worker (their counters are the worker's:
 * create them with sl_worker_counters()).  Before the first packet. */
void sl_worker_set_sinks(struct sl_worker *w, const struct sl_sink *sinks, unsigned n);
void sl_worker_free(struct sl_worker *w);

/* Runs one packet through the pipeline.  now_us drives timeouts (packet time
 * in replay, a monotonic clock inline). */
enum sl_pkt_action sl_worker_packet(struct sl_worker *w, struct sl_packet *p, uint64_t now_us);
/* Times out idle flows and fragments. */
void sl_worker_tick(struct sl_worker *w, uint64_t now_us);
/* Ends every flow and drops the fragments of incomplete datagrams (end of a
 * capture file, shutdown). */
void sl_worker_flush(struct sl_worker *w);
/* End of a capture file: per-source checksum evidence is forgotten
 * (sl_decoder_forget_sources). */
void sl_worker_forget_sources(struct sl_worker *w);

/* ---- inline (NFQUEUE) ----
 *
 * sl_worker_packet() answers ACCEPT, DROP or BYPASS for packets it decides
 * at once.  HOLD means the worker keeps the packet (a copy): it called
 * ops->hold() for it and will call ops->verdict() exactly once later, in
 * the order the direction's packets arrived.  See worker_inline.c. */

/* How an inline packet reached the box; the source points p->src_ctx at
 * one (or leaves it NULL).  Injection toward a host uses the port its
 * packets came in by and their MAC addresses (bridged), else routing. */
struct sl_pkt_link {
	uint32_t physindev;		/* bridge port (0: routed) */
	uint8_t hwsrc[6];		/* sender's MAC */
	bool has_hwsrc;
	bool gso;			/* a GSO super-packet: the kernel drops it when a
					   verdict shrinks it to an RST, so it is dropped
					   and the RST is sent by the injector instead */
};

struct sl_inline_ops {
	void (*hold)(void *u, uint32_t src_id);
	/* payload: the packet replaced (an RST rewritten from it), or NULL. */
	void (*verdict)(void *u, uint32_t src_id, enum sl_pkt_action a, const uint8_t *payload,
			uint32_t len);
	/* Sends a packet sluice made; l2 NULL: let the kernel route it.
	 * Returns 0 or -1 (errno). */
	int (*inject)(void *u, const uint8_t *pkt, uint32_t len, const struct sl_l2_path *l2);
};

void sl_worker_set_inline(struct sl_worker *w, const struct sl_inline_ops *ops, void *u);
/* Held packets whose deadline passed meet the hold policy (call from a
 * timer, monotonic microseconds). */
void sl_worker_hold_tick(struct sl_worker *w, uint64_t mono_us);
/* Shutdown: ends every flow (sl_worker_flush); held packets meet the hold
 * policy with the reason "shutdown". */
void sl_worker_drain(struct sl_worker *w);
/* A verdict carrying a rewritten packet was refused by the source: the
 * receiver must be reset another way. */
void sl_worker_rewrite_failed(struct sl_worker *w, uint32_t src_id);

struct sl_worker_inline_stats {
	uint64_t held;			/* packets held */
	uint64_t released;		/* held packets accepted */
	uint64_t dropped;		/* held packets dropped (refused flows, policy) */
	uint64_t retrans_dropped;	/* retransmissions of held bytes dropped */
	uint64_t killed_dropped;	/* packets of refused flows dropped */
	uint64_t wait_holds;		/* packets held for bytes a parser left waiting */
	uint64_t refusals[SL_ACTION_BLOCK + 1];	/* flows refused, by action */
	uint64_t smtp_replies;		/* 554/451 replies injected */
	uint64_t resets;		/* RSTs sent (rewritten or injected) */
	uint64_t inject_errors;
	uint64_t hold_timeouts;		/* holds that met the hold policy */
	uint64_t hold_refused;		/* packets the hold cap refused */
	uint64_t unheld_completions;	/* a message completed by bytes already passed */
	uint64_t held_now, held_bytes_now;
	struct sl_hist hold_us;		/* time held, per packet */
	struct sl_hist settle_us;	/* message end to verdict, messages that waited */
};
/* SIGHUP: takes the settings a running worker can change (hold timeout and
 * policy, anomaly policies, flow_table_full).  On the worker's thread. */
void sl_worker_reconfigure(struct sl_worker *w, const struct sl_worker_config *c);
uint32_t sl_worker_flow_count(const struct sl_worker *w);
/* Refreshes held_now / hold_us and returns the figures. */
const struct sl_worker_inline_stats *sl_worker_inline_stats(struct sl_worker *w);

struct sl_counters *sl_worker_counters(struct sl_worker *w);
const struct sl_decoder *sl_worker_decoder(const struct sl_worker *w);

/* Message totals for summaries. */
struct sl_worker_totals {
	uint64_t messages;
	uint64_t by_action[SL_ACTION_BLOCK + 1];
	uint64_t incomplete;
	uint64_t anomalies[SL_ANOM_MAX];
	uint64_t alerts;
};
const struct sl_worker_totals *sl_worker_totals(const struct sl_worker *w);

#endif

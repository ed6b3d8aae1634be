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
	bool inline_mode;		/* NFQUEUE: hold/drop for real */
	bool settle_sync;		/* replay: wait for pending scans at message end */
	const char *write_streams_dir;	/* NULL = off */
	const char *extract_dir;	/* NULL = off */
	const char *quarantine_dir;	/* NULL = off */
	uint32_t max_anomaly_events;	/* per anomaly kind without a flow (default 100) */
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
/* Ends every flow (end of a capture file, shutdown). */
void sl_worker_flush(struct sl_worker *w);

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
